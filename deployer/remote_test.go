package deployer

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestRemoteBindMounts(t *testing.T) {
	d := &Desired{
		Project: &types.Project{WorkingDir: "/work/proj", ComposeFiles: []string{"/work/proj/compose.yaml", "/etc/swdeploy/override.yaml"}},
		Services: []*Service{{Name: "web", Config: types.ServiceConfig{ContainerSpec: types.ContainerSpec{Volumes: []types.ServiceVolumeConfig{
			{Type: types.VolumeTypeBind, Source: "/work/proj/html", Target: "/usr/share/html"},           // ./html
			{Type: types.VolumeTypeBind, Source: "/etc/swdeploy/certs", Target: "/certs"},                // next to an override file
			{Type: types.VolumeTypeBind, Source: "/home/me/.config/app", Target: "/config"},              // ~/.config/app
			{Type: types.VolumeTypeBind, Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}, // the engine host's
			{Type: types.VolumeTypeVolume, Source: "data", Target: "/data"},
		}}}}},
	}
	got := remoteBindMounts(d, "ssh://deploy@engine", clientDirs(d, "/home/me"))
	if len(got) != 3 {
		t.Fatalf("got %d problems, want 3:\n%s", len(got), strings.Join(got, "\n"))
	}
	want := "service web: bind mount /work/proj/html -> /usr/share/html is a path on this machine, but the engine at ssh://deploy@engine is remote and would mount its own /work/proj/html: use a named volume, a secret or config, or build the files into the image"
	if got[0] != want {
		t.Errorf("got  %s\nwant %s", got[0], want)
	}
	if p := bindMountProblems(d, EngineInfo{Host: "unix:///var/run/docker.sock"}); p != nil {
		t.Errorf("local engine: %v", p)
	}
	if p := bindMountProblems(d, EngineInfo{Host: "tcp://engine.example:2376"}); len(p) < 2 {
		t.Errorf("remote engine: %v", p)
	}
}
