package stack

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSwapiProfile: the local SWAPI stand-in of compose.yaml is in the stack
// only when the swapi profile is enabled, by --profile or COMPOSE_PROFILES
// (from the environment or an env file), and it is built from the
// repository like the API.
func TestSwapiProfile(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want bool
	}{
		{"default", Options{}, false},
		{"another profile", Options{Profiles: []string{"other"}}, false},
		{"--profile", Options{Profiles: []string{"swapi"}}, true},
		{"COMPOSE_PROFILES", Options{Environ: []string{"COMPOSE_PROFILES=other, swapi"}}, true},
		{"env file", Options{EnvFiles: []string{"swapi.env"}}, true},
		{"--profile wins", Options{Profiles: []string{"other"}, Environ: []string{"COMPOSE_PROFILES=swapi"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := checkout(t, map[string]string{"swapi.env": "COMPOSE_PROFILES=swapi\n"})
			tt.opts.WorkDir = dir
			s := mustLoad(t, tt.opts)
			var names []string
			for name := range s.Project.Services {
				names = append(names, name)
			}
			slices.Sort(names)
			want := []string{"api", "cache", "edge", "mysql", "redis"}
			if tt.want {
				want = append(want, "swapi-local")
			}
			if !slices.Equal(names, want) {
				t.Fatalf("services %v, want %v", names, want)
			}
			if !tt.want {
				if _, off := s.Project.DisabledServices["swapi-local"]; !off {
					t.Error("swapi-local is not among the disabled services")
				}
				return
			}
			svc := s.Project.Services["swapi-local"]
			if svc.Build == nil || svc.Build.Context != dir || svc.Build.Dockerfile != "api/cmd/swapi-local/Dockerfile" {
				t.Errorf("build %+v, want the repository root and api/cmd/swapi-local/Dockerfile", svc.Build)
			} else if arg := svc.Build.Args["GO_IMAGE"]; arg == nil || *arg != "golang:1.26" {
				t.Errorf("GO_IMAGE build arg %v, want golang:1.26", arg)
			}
			if net, ok := svc.Networks["service-network"]; !ok || net == nil || !slices.Contains(net.Aliases, "swapi-local") || len(svc.Networks) != 1 {
				t.Errorf("networks %v, want service-network only, with the alias swapi-local", svc.Networks)
			}
			if !svc.ReadOnly || !slices.Equal(svc.CapDrop, []string{"ALL"}) || svc.HealthCheck == nil {
				t.Errorf("read_only %v, cap_drop %v, healthcheck %v; want read-only, no capability, a healthcheck", svc.ReadOnly, svc.CapDrop, svc.HealthCheck)
			}
			// the default upstream stays swapi.dev: the profile only adds the stand-in
			if url := s.Project.Services["api"].Environment["STARWARS_SWAPI_URL"]; url == nil || *url != "https://swapi.dev/api/" {
				t.Errorf("STARWARS_SWAPI_URL %v, want swapi.dev", url)
			}
		})
	}
	// the Dockerfile the service names is the repository's
	if _, err := os.Stat(filepath.Join("..", "api", "cmd", "swapi-local", "Dockerfile")); err != nil {
		t.Error(err)
	}
}
