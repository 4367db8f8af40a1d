package deployer

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/mount"
)

// realStack is the repository's own stack, so that these tests check the
// hardening it actually ships with.
func realStack(t *testing.T) *Desired {
	t.Helper()
	b, err := os.ReadFile("../stack/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return testDesired(t, string(b), "package main")
}

// TestContainerSpecHardening builds every service's container as up
// would and checks what the file asks for reaches the engine: user,
// read-only root, dropped capabilities, no-new-privileges, the secrets
// volume mounted read-only, and no secret value in the environment or a
// label.
func TestContainerSpecHardening(t *testing.T) {
	d := realStack(t)
	secrets := map[string]ResolvedSecret{}
	for _, s := range d.Secrets {
		secrets[s.Key] = ResolvedSecret{Key: s.Key, Value: []byte("VALUE-of-" + s.Key), Version: secretVersion([]byte("salt"), s.Key, []byte("VALUE-of-"+s.Key))}
	}
	hardened := map[string]bool{"api": true, "edge": true}
	for _, svc := range d.Services {
		t.Run(svc.Name, func(t *testing.T) {
			parts := effectiveParts(svc, secrets)
			spec, err := buildContainerSpec(d.Project, svc, 1, configHash(parts), parts, newEngine)
			if err != nil {
				t.Fatal(err)
			}
			cc, hc := spec.config, spec.host
			if svc.Name == "redis" && cc.User != "redis" {
				t.Errorf("user %q, want redis", cc.User)
			}
			if hardened[svc.Name] {
				if !hc.ReadonlyRootfs {
					t.Error("root file system is writable")
				}
				if !slices.Equal(hc.CapDrop, []string{"ALL"}) {
					t.Errorf("cap_drop %v, want [ALL]", hc.CapDrop)
				}
				if !slices.Contains(hc.SecurityOpt, "no-new-privileges:true") {
					t.Errorf("security_opt %v lacks no-new-privileges", hc.SecurityOpt)
				}
			}
			if hc.Privileged || len(hc.CapAdd) > 0 {
				t.Errorf("privileged %v, cap_add %v", hc.Privileged, hc.CapAdd)
			}

			var secretMounts []mount.Mount
			for _, m := range hc.Mounts {
				if m.Target == SecretsDir {
					secretMounts = append(secretMounts, m)
				}
				if m.Type == mount.TypeBind {
					t.Errorf("bind mount %s: the stack must not need the engine's disk", m.Source)
				}
			}
			switch {
			case len(svc.Config.Secrets) == 0 && len(secretMounts) > 0:
				t.Errorf("no secrets, but %v mounted", secretMounts)
			case len(svc.Config.Secrets) > 0:
				want := mount.Mount{Type: mount.TypeVolume, Source: serviceSecretsVolume(d.Project.Name, svc.Name, parts), Target: SecretsDir, ReadOnly: true}
				if len(secretMounts) != 1 || secretMounts[0] != want {
					t.Errorf("secrets mounts %+v, want %+v", secretMounts, want)
				}
			}

			var exposed []string
			exposed = append(exposed, cc.Env...)
			exposed = append(exposed, cc.Cmd...)
			exposed = append(exposed, cc.Entrypoint...)
			for k, v := range cc.Labels {
				exposed = append(exposed, k+"="+v)
			}
			if cc.Healthcheck != nil {
				exposed = append(exposed, cc.Healthcheck.Test...)
			}
			for _, s := range exposed {
				if strings.Contains(s, "VALUE-of-") {
					t.Errorf("a secret value is visible in the container's configuration: %q", s)
				}
			}
		})
	}
}
