package cli

import (
	"slices"
	"testing"
)

func TestFollowShorthand(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"logs", "-f", "api"}, []string{"logs", "--follow", "api"}},
		{[]string{"-f", "x.yaml", "logs", "-f"}, []string{"-f", "x.yaml", "logs", "--follow"}},
		{[]string{"-p", "logs", "up", "-f", "x.yaml"}, []string{"-p", "logs", "up", "-f", "x.yaml"}},
		{[]string{"up", "-f", "x.yaml"}, []string{"up", "-f", "x.yaml"}},
	}
	for _, tt := range tests {
		if got := followShorthand(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("followShorthand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
