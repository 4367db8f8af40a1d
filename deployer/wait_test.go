package deployer

import (
	"slices"
	"testing"

	"github.com/docker/docker/api/types/container"
)

func TestProbeCommand(t *testing.T) {
	tests := []struct {
		name     string
		test     []string
		shell    []string
		platform string
		want     []string
	}{
		{name: "CMD", test: []string{"CMD", "/edge", "-healthcheck"}, want: []string{"/edge", "-healthcheck"}},
		{name: "CMD-SHELL", test: []string{"CMD-SHELL", "redis-cli ping | grep -q PONG"}, want: []string{"/bin/sh", "-c", "redis-cli ping | grep -q PONG"}},
		{name: "CMD-SHELL with the image's shell", test: []string{"CMD-SHELL", "true"}, shell: []string{"/bin/bash", "-o", "pipefail", "-c"}, want: []string{"/bin/bash", "-o", "pipefail", "-c", "true"}},
		{name: "NONE", test: []string{"NONE"}},
		{name: "none at all"},
		{name: "CMD without a command", test: []string{"CMD"}},
		{name: "unknown kind", test: []string{"HTTP", "/health"}},
		{name: "Windows", test: []string{"CMD", "check.exe"}, platform: "windows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := container.InspectResponse{
				ContainerJSONBase: &container.ContainerJSONBase{Platform: tt.platform},
				Config:            &container.Config{Shell: tt.shell},
			}
			if tt.test != nil {
				c.Config.Healthcheck = &container.HealthConfig{Test: tt.test}
			}
			if got := probeCommand(c); !slices.Equal(got, tt.want) {
				t.Errorf("probeCommand = %q, want %q", got, tt.want)
			}
		})
	}
}
