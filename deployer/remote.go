package deployer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fathat101/swdeploy/deployer/engineconn"
)

// bindMountProblems returns a problem for each bind mount of a path on this
// machine when the engine is remote: the engine would mount a path of its
// own host, empty or different, and the service would run without the
// files the operator meant. A path counts as this machine's when Compose
// resolved it here: relative to the project directory or a Compose file
// (./data), or in the user's home (~/data). Other absolute paths name the
// engine host's files (/var/run/docker.sock, /etc/localtime) and pass.
// The plan refuses to go on while there are problems.
func bindMountProblems(d *Desired, info EngineInfo) []string {
	if !engineconn.IsRemoteHost(info.Host) {
		return nil
	}
	home, _ := os.UserHomeDir()
	return remoteBindMounts(d, info.Host, clientDirs(d, home))
}

func clientDirs(d *Desired, home string) []string {
	var dirs []string
	if d.Project.WorkingDir != "" {
		dirs = append(dirs, d.Project.WorkingDir)
	}
	for _, f := range d.Project.ComposeFiles {
		if filepath.IsAbs(f) {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	if home != "" && home != "/" {
		dirs = append(dirs, home)
	}
	return dirs
}

func remoteBindMounts(d *Desired, host string, dirs []string) []string {
	var problems []string
	for _, svc := range d.Services {
		for _, v := range svc.Config.Volumes {
			if v.Type != types.VolumeTypeBind || !underAny(v.Source, dirs) {
				continue
			}
			problems = append(problems, fmt.Sprintf(
				"service %s: bind mount %s -> %s is a path on this machine, but the engine at %s is remote and would mount its own %s: use a named volume, a secret or config, or build the files into the image",
				svc.Name, v.Source, v.Target, host, v.Source))
		}
	}
	return problems
}

func underAny(p string, dirs []string) bool {
	for _, dir := range dirs {
		if _, ok := pathInside(dir, p); ok || filepath.Clean(p) == filepath.Clean(dir) {
			return true
		}
	}
	return false
}

// pathInside reports whether p lies strictly inside dir, and p relative to it.
func pathInside(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}
