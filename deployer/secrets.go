package deployer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"
)

// Secrets never travel as environment values, labels, build args or image
// layers. Their values are kept on the engine, in a labelled volume of the
// project (see state.go), so that every `up` from any machine pointed at the
// engine uses the same ones; each service gets exactly its own secrets in a
// volume of its own, mounted read-only at /run/secrets. Both volumes are
// written through the engine API (containers that never start, plus the
// archive endpoint), so nothing depends on sharing a file system with the
// engine.

const (
	// keeperImage is a one-directory image that swdeploy imports itself,
	// since nothing can be assumed pullable: its containers are only ever
	// created to reach volumes through the archive API, never started.
	keeperImage = "swdeploy-keeper:1"
	roleKeeper  = "secrets-keeper"
	roleSecrets = "secrets"
	saltFile    = ".salt"
	// SecretsDir is where containers find their secrets.
	SecretsDir = "/run/secrets"
)

// KeptSecrets are the values kept on the engine for a project.
type KeptSecrets struct {
	Values map[string][]byte
	Salt   []byte
}

// ResolvedSecret is a secret's value for this run and where it came from.
type ResolvedSecret struct {
	Key     string `json:"name"`
	Source  string `json:"source"`  // environment, file, kept or generated
	Version string `json:"version"` // a salted digest: equal values, equal versions
	Op      Op     `json:"-"`       // OpGenerate or OpUpdate when the kept value must change
	Value   []byte `json:"-"`
}

// keeperVolume is the volume that keeps a project's secret values.
func keeperVolume(project string) string { return project + "_swdeploy-secrets" }

// SecretEnvName is the environment variable that gives a secret's value,
// for CI: SWDEPLOY_SECRET_JWT_ACCESS_SECRET for jwt_access_secret.
func SecretEnvName(key string) string {
	return "SWDEPLOY_SECRET_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(key))
}

// ResolveSecrets decides each secret's value: the operator's (environment,
// then the Compose file's environment or file source) wins, then the kept
// value, and otherwise a new random one.
func ResolveSecrets(d *Desired, kept KeptSecrets, src SecretSources) (map[string]ResolvedSecret, []byte, error) {
	lookupEnv, readFile, random := src.LookupEnv, src.ReadFile, src.Random
	for _, name := range src.Rotate {
		found := false
		for _, s := range d.Secrets {
			found = found || s.Key == name
		}
		if !found {
			return nil, nil, fmt.Errorf("no secret %s in the stack", name)
		}
	}
	salt := kept.Salt
	if len(salt) == 0 {
		salt = make([]byte, 32)
		if _, err := io.ReadFull(random, salt); err != nil {
			return nil, nil, fmt.Errorf("generate salt: %w", err)
		}
	}
	out := map[string]ResolvedSecret{}
	for _, s := range d.Secrets {
		r := ResolvedSecret{Key: s.Key}
		value, source, err := providedSecret(s, lookupEnv, readFile)
		if err != nil {
			return nil, nil, err
		}
		old, isKept := kept.Values[s.Key]
		rotate := slices.Contains(src.Rotate, s.Key)
		if rotate && value != nil {
			return nil, nil, fmt.Errorf("secret %s is given by the operator (%s): change it there instead of rotating it", s.Key, source)
		}
		switch {
		case rotate:
			v, err := generateSecret(random)
			if err != nil {
				return nil, nil, fmt.Errorf("generate secret %s: %w", s.Key, err)
			}
			r.Value, r.Source, r.Op = v, "rotated", OpUpdate
		case value != nil:
			r.Value, r.Source = value, source
			if !isKept || !bytes.Equal(old, value) {
				r.Op = OpUpdate
			}
		case isKept:
			r.Value, r.Source = old, "kept on the engine"
		default:
			v, err := generateSecret(random)
			if err != nil {
				return nil, nil, fmt.Errorf("generate secret %s: %w", s.Key, err)
			}
			r.Value, r.Source, r.Op = v, "generated", OpGenerate
		}
		if r.Op == OpUpdate && !isKept && !rotate {
			r.Op = OpGenerate // first time kept: nothing is replaced
		}
		r.Version = secretVersion(salt, s.Key, r.Value)
		out[s.Key] = r
	}
	return out, salt, nil
}

func providedSecret(s *Secret, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) ([]byte, string, error) {
	name := SecretEnvName(s.Key)
	if v, ok := lookupEnv(name); ok && v != "" {
		return []byte(v), "environment " + name, nil
	}
	cfg := s.Config
	if cfg.External {
		return nil, "", fmt.Errorf("secret %s: external secrets need Docker Swarm; give its value in %s instead", s.Key, name)
	}
	if cfg.Environment != "" {
		if v, ok := lookupEnv(cfg.Environment); ok && v != "" {
			return []byte(v), "environment " + cfg.Environment, nil
		}
	}
	if cfg.Content != "" {
		return []byte(cfg.Content), "compose file", nil
	}
	if cfg.File != "" {
		b, err := readFile(cfg.File)
		if err == nil {
			return b, "file " + cfg.File, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("secret %s: %w", s.Key, err)
		}
	}
	return nil, "", nil
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// generateSecret makes 32 random alphanumerics (about 190 bits) with at
// least one upper-case letter, one lower-case letter and one digit, so a
// generated value also passes password rules like the API's.
func generateSecret(random io.Reader) ([]byte, error) {
	max := big.NewInt(int64(len(secretAlphabet)))
	for {
		b := make([]byte, 32)
		for i := range b {
			n, err := rand.Int(random, max)
			if err != nil {
				return nil, err
			}
			b[i] = secretAlphabet[n.Int64()]
		}
		s := string(b)
		if strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(s, "0123456789") {
			return b, nil
		}
	}
}

// secretVersion is a digest of a value keyed by the project's salt: labels
// may show it without making a weak operator password guessable offline.
func secretVersion(salt []byte, key string, value []byte) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(value)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// deliverSecrets writes a service's secrets, with the names, owners and
// modes the Compose file gives, into a volume that holds exactly them. The
// volume's name carries a digest of the set (each secret's target, mode,
// owner and value version): a changed set gets a fresh volume rather than
// new files beside the old ones, so a secret removed from the service is
// gone from its /run/secrets, and a container being replaced keeps reading
// its own set until it stops. pruneSecretVolumes removes the sets no
// container mounts any more.
func deliverSecrets(ctx context.Context, eng Engine, project string, svc *Service, secrets map[string]ResolvedSecret) error {
	vol := serviceSecretsVolume(project, svc.Name, effectiveParts(svc, secrets))
	if err := ensureVolume(ctx, eng, vol, project, map[string]string{LabelRole: roleSecrets, LabelSecretsOf: svc.Name}); err != nil {
		return err
	}
	var files []secretFile
	for _, ref := range svc.Config.Secrets {
		r, ok := secrets[ref.Source]
		if !ok {
			return fmt.Errorf("secret %s has no value", ref.Source)
		}
		f := secretFile{name: secretTarget(ref.Source, ref.Target), data: r.Value, mode: 0o444}
		if ref.Mode != nil {
			f.mode = int64(*ref.Mode)
		}
		f.uid, _ = strconv.Atoi(ref.UID)
		f.gid, _ = strconv.Atoi(ref.GID)
		files = append(files, f)
	}
	return writeVolume(ctx, eng, project, vol, files)
}

// serviceSecretsVolume is the volume of one set of a service's secrets.
func serviceSecretsVolume(project, service string, parts map[string]string) string {
	return project + "_" + service + "_secrets-" + shortDigest([]byte(parts["secrets"] + "," + parts["secret-values"]))[:12]
}

// pruneSecretVolumes removes a service's secrets volumes other than keep
// that no container uses any more (the engine refuses those in use).
func pruneSecretVolumes(ctx context.Context, eng Engine, project, service, keep string) error {
	list, err := eng.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelProject+"="+project), filters.Arg("label", LabelRole+"="+roleSecrets), filters.Arg("label", LabelSecretsOf+"="+service))})
	if err != nil {
		return fmt.Errorf("list secrets volumes: %w", err)
	}
	for _, v := range list.Volumes {
		if v.Name == keep {
			continue
		}
		if err := eng.VolumeRemove(ctx, v.Name, false); err != nil && !errdefs.IsConflict(err) && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove volume %s: %w", v.Name, err)
		}
	}
	return nil
}

// secretTarget is the file name of a secret inside /run/secrets.
func secretTarget(source, target string) string {
	if target == "" {
		return source
	}
	return path.Base(strings.TrimPrefix(target, SecretsDir+"/"))
}

type secretFile struct {
	name     string
	data     []byte
	mode     int64
	uid, gid int
}

func ensureVolume(ctx context.Context, eng Engine, name, project string, labels map[string]string) error {
	all := map[string]string{LabelProject: project}
	for k, v := range labels {
		all[k] = v
	}
	if _, err := eng.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: all}); err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return nil
}

// writeVolume copies files into the root of a volume through a container
// that is created for the purpose and never started.
func writeVolume(ctx context.Context, eng Engine, project, vol string, files []secretFile) error {
	tarball, err := tarFiles(files)
	if err != nil {
		return err
	}
	return withVolume(ctx, eng, project, vol, func(id string) error {
		if err := eng.CopyToContainer(ctx, id, "/v", tarball, container.CopyToContainerOptions{}); err != nil {
			return fmt.Errorf("write volume %s: %w", vol, err)
		}
		return nil
	})
}

// tarFiles packs files for the archive API.
func tarFiles(files []secretFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Uid: f.uid, Gid: f.gid, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// withVolume runs fn with the id of a stopped container that has vol
// mounted at /v, and removes the container afterwards. The container
// carries the project's label, so that `down` removes it even if this
// process is killed before it can.
func withVolume(ctx context.Context, eng Engine, project, vol string, fn func(id string) error) error {
	if err := ensureKeeperImage(ctx, eng); err != nil {
		return err
	}
	created, err := eng.ContainerCreate(ctx,
		&container.Config{Image: keeperImage, Cmd: []string{"/none"}, Labels: map[string]string{LabelRole: roleKeeper, LabelProject: project}, NetworkDisabled: true},
		&container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: "/v"}}, NetworkMode: "none"},
		nil, nil, "")
	if err != nil {
		return fmt.Errorf("create helper container for volume %s: %w", vol, err)
	}
	defer func() {
		// Removal must happen even when ctx was cancelled mid-way.
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = eng.ContainerRemove(rmCtx, created.ID, container.RemoveOptions{Force: true})
	}()
	return fn(created.ID)
}

// ensureKeeperImage imports the helper image when the engine lacks it.
func ensureKeeperImage(ctx context.Context, eng Engine) error {
	if _, err := eng.ImageInspect(ctx, keeperImage); err == nil {
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("inspect %s: %w", keeperImage, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"v/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	rc, err := eng.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, keeperImage,
		image.ImportOptions{Changes: []string{`CMD ["/none"]`, "LABEL " + LabelRole + "=" + roleKeeper}})
	if err != nil {
		return fmt.Errorf("import %s: %w", keeperImage, err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// secretsSummary lists the resolved secrets in name order.
func secretsSummary(secrets map[string]ResolvedSecret) []ResolvedSecret {
	out := make([]ResolvedSecret, 0, len(secrets))
	for _, k := range sortedKeys(secrets) {
		out = append(out, secrets[k])
	}
	return out
}

// ProvidedSecret is the operator's value of a secret and where it came
// from, or nil when the operator gives none.
func ProvidedSecret(s *Secret, src SecretSources) ([]byte, string, error) {
	return providedSecret(s, src.LookupEnv, src.ReadFile)
}

// GenerateSecret makes a new random secret value.
func GenerateSecret(random io.Reader) ([]byte, error) { return generateSecret(random) }
