package deployer

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/errdefs"
)

// The project's kept state (the secret values swdeploy generated and the
// salt of their versions) lives in the volume <project>_swdeploy-secrets.
// One container per project, the state holder, mounts it: it is created
// and never started, and the archive API reads and writes a created
// container's mounts without starting it. So plan, status, secrets and an
// up with nothing to do read the state without making any engine object;
// the first up that keeps a value creates the holder, and down --volumes
// removes it with the volume.

const (
	roleState = "state"
	// stateDir is where the holder mounts the state volume.
	stateDir = "/v"
	// stateActionID is the plan's action that creates a missing holder.
	stateActionID = "container:swdeploy-state"
)

// StateHolderName is the name of a project's state holder container.
func StateHolderName(project string) string { return project + "-swdeploy-state" }

// ObservedState is what the engine holds of the project's kept state.
type ObservedState struct {
	HolderID string // the state holder, "" when there is none
	Volume   bool   // the state volume exists
}

// observeState finds the holder and reads the kept values through it. A
// state volume without a holder (made by an older swdeploy, or the holder
// removed by hand) cannot be read without a throw-away container: the plan
// says so and up recreates the holder first (PlanLocked).
func observeState(ctx context.Context, eng Engine, project string, vols map[string]ObservedVolume) (ObservedState, KeptSecrets, error) {
	var st ObservedState
	kept := KeptSecrets{Values: map[string][]byte{}}
	if _, st.Volume = vols[keeperVolume(project)]; !st.Volume {
		return st, kept, nil // the holder cannot outlive its volume's removal
	}
	c, err := eng.ContainerInspect(ctx, StateHolderName(project))
	if errdefs.IsNotFound(err) {
		return st, kept, nil
	}
	if err != nil {
		return st, kept, fmt.Errorf("find the state holder: %w", err)
	}
	if c.Config == nil || c.Config.Labels[LabelProject] != project || c.Config.Labels[LabelRole] != roleState {
		return st, kept, fmt.Errorf("container %s exists but is not swdeploy's state holder for %s; remove or rename it", StateHolderName(project), project)
	}
	st.HolderID = c.ID
	files, err := readStateFiles(ctx, eng, c.ID)
	if err != nil {
		return st, kept, fmt.Errorf("read kept secrets: %w", err)
	}
	for name, b := range files {
		if name == saltFile {
			kept.Salt = b
		} else {
			kept.Values[name] = b
		}
	}
	return st, kept, nil
}

// readStateFiles returns the regular files at the root of the state volume.
func readStateFiles(ctx context.Context, eng Engine, holder string) (map[string][]byte, error) {
	rc, _, err := eng.CopyFromContainer(ctx, holder, stateDir+"/.")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return untarFiles(rc)
}

// untarFiles reads the regular files of an archive by base name.
func untarFiles(r io.Reader) (map[string][]byte, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return nil, err
		}
		files[path.Base(hdr.Name)] = b
	}
}

// ensureStateHolder creates the state volume and its holder if missing.
func ensureStateHolder(ctx context.Context, eng Engine, project string) error {
	if err := ensureVolume(ctx, eng, keeperVolume(project), project, map[string]string{LabelRole: roleKeeper}); err != nil {
		return err
	}
	if err := ensureKeeperImage(ctx, eng); err != nil {
		return err
	}
	_, err := eng.ContainerCreate(ctx,
		&container.Config{Image: keeperImage, Cmd: []string{"/none"}, Labels: map[string]string{LabelProject: project, LabelRole: roleState}, NetworkDisabled: true},
		&container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: keeperVolume(project), Target: stateDir}}, NetworkMode: "none"},
		nil, nil, StateHolderName(project))
	if err != nil && !errdefs.IsConflict(err) {
		return fmt.Errorf("create the state holder: %w", err)
	}
	return nil
}

// writeKept stores all values and the salt through the state holder.
func writeKept(ctx context.Context, eng Engine, project string, secrets map[string]ResolvedSecret, salt []byte) error {
	files := []secretFile{{name: saltFile, data: salt, mode: 0o400}}
	for _, k := range sortedKeys(secrets) {
		files = append(files, secretFile{name: k, data: secrets[k].Value, mode: 0o400})
	}
	tarball, err := tarFiles(files)
	if err != nil {
		return err
	}
	if err := eng.CopyToContainer(ctx, StateHolderName(project), stateDir, tarball, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("keep secrets: %w", err)
	}
	return nil
}
