package bench

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
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/fathat101/swdeploy/api/swapi/local"
)

// Config is what a run measures and for how long.
type Config struct {
	Repo      string // repository root (holds go.mod and stack/)
	SwapiData string // a SWAPI data set folder (default: the one built into swapi-local)
	Out       string // folder for the Markdown files
	Smoke     bool   // one short run of everything: for CI, numbers mean nothing

	Runs          int           // repetitions of each compared operation (cold up, no-op up, rollout, down)
	NoopPerRun    int           // no-op ups per run and tool
	WrkRuns       int           // repetitions of each wrk measurement
	WrkDuration   time.Duration // one wrk measurement (benchmark item 5)
	Connections   int           // wrk connections
	Threads       int           // wrk threads
	LoginDuration time.Duration // logins/s measurement
	LoadDuration  time.Duration // reliability item 1
	FuzzTime      time.Duration // each fuzz target
	Compose       string        // compose command; "" picks the `docker compose` v2+ plugin, else `docker-compose`
	ComposeV1     string        // docker-compose v1 as a second column beside a v2+ first; "" finds it, "none" for none
	LabLock       string        // the swarm lab's lock file (swarm figures); "" takes none: the caller holds it

	Log io.Writer // progress; os.Stderr when nil
}

// Defaults fills what c leaves zero: the full run, or the smoke run.
func (c *Config) Defaults() {
	full := Config{Runs: 5, NoopPerRun: 3, WrkRuns: 3, WrkDuration: 30 * time.Second, Connections: 64, Threads: 2,
		LoginDuration: 15 * time.Second, LoadDuration: 60 * time.Second, FuzzTime: 60 * time.Second}
	if c.Smoke {
		full = Config{Runs: 1, NoopPerRun: 1, WrkRuns: 1, WrkDuration: 3 * time.Second, Connections: 64, Threads: 2,
			LoginDuration: 3 * time.Second, LoadDuration: 5 * time.Second, FuzzTime: 2 * time.Second}
	}
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.Runs, full.Runs)
	set(&c.NoopPerRun, full.NoopPerRun)
	set(&c.WrkRuns, full.WrkRuns)
	set(&c.Connections, full.Connections)
	set(&c.Threads, full.Threads)
	setD(&c.WrkDuration, full.WrkDuration)
	setD(&c.LoginDuration, full.LoginDuration)
	setD(&c.LoadDuration, full.LoadDuration)
	setD(&c.FuzzTime, full.FuzzTime)
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if c.Out == "" {
		c.Out = filepath.Join(c.Repo, "bench", "results")
	}
}

// secretNames are the secrets stack/compose.yaml declares; the harness
// provides all of them as files, the same values for both tools.
var secretNames = []string{
	"mysql_root_password", "mysql_password", "redis_password",
	"jwt_access_secret", "jwt_refresh_secret", "jwt_email_secret", "jwt_password_secret",
	"admin_password",
}

const (
	swapiImage  = "swbench/swapi-local:latest"
	labelBench  = "swbench"
	labelDigest = "swbench.content"
)

// Harness holds what every measurement shares: the engine, the built
// binaries, the secrets, the compose command, and every project it created
// (so that Close can remove them whatever happened).
type Harness struct {
	cfg       Config
	engine    *client.Client
	tmp       string
	id        string // random, in every name this run creates
	swd       string // the swdeploy binary
	apiBin    string // the API server, for runs on the host
	swapi     string // swapi-local, for runs on the host
	secrets   map[string]string
	secDir    string
	compose   Compose  // the first compose command
	composeV1 *Compose // docker-compose v1 beside a v2+ first, or nil
	v1File    string   // stack/.compose-v1-<id>.yaml while a run uses it
	Machine   Machine

	mu       sync.Mutex
	projects []*Project
	cleanups []func()
	shared   *Project
}

// New builds the binaries, imports the swapi-local image and writes the
// secrets. Close undoes all of it.
func New(ctx context.Context, cfg Config) (*Harness, error) { return newHarness(ctx, cfg, true) }

// newHarness is New; compare also finds what the comparisons with compose
// and the host-side measurements need (compose, wrk, HAProxy), which the
// swarm figures do not.
func newHarness(ctx context.Context, cfg Config, compare bool) (*Harness, error) {
	cfg.Defaults()
	if cfg.Repo == "" {
		return nil, errors.New("no repository root")
	}
	h := &Harness{cfg: cfg, id: randHex(3)}
	var err error
	if h.engine, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err != nil {
		return nil, err
	}
	if _, err := h.engine.Ping(ctx); err != nil {
		return nil, fmt.Errorf("docker engine: %w", err)
	}
	for _, ref := range []string{"swdeploy-offline/mysql:8.4", "swdeploy-offline/redis:7", "swdeploy-offline/golang:1.26"} {
		if _, err := h.engine.ImageInspect(ctx, ref); err != nil {
			return nil, fmt.Errorf("image %s is missing: run `make offline-images` first", ref)
		}
	}
	for _, tool := range []string{"wrk", "haproxy"} {
		if _, err := exec.LookPath(tool); compare && err != nil {
			return nil, fmt.Errorf("%s is not installed (scripts/ci-deps.sh installs it)", tool)
		}
	}
	if h.tmp, err = os.MkdirTemp("", "swbench-"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			h.Close()
		}
	}()
	if err := os.Chmod(h.tmp, 0o755); err != nil {
		return nil, err
	}
	if compare {
		if h.compose, h.composeV1, err = DetectCompose(ctx, cfg.Compose, cfg.ComposeV1, cfg.Repo); err != nil {
			return nil, err
		}
		h.logf("compose command: %s (%s)", h.compose, h.compose.Version)
		if h.compose.V1 {
			h.logf("no compose v2+ plugin answers `docker compose version`: comparing with compose v1")
		}
		if h.composeV1 != nil {
			h.logf("second compose column: %s (%s)", h.composeV1, h.composeV1.Version)
		}
	}
	if err := h.build(ctx); err != nil {
		return nil, err
	}
	if err := h.importSwapi(ctx); err != nil {
		return nil, err
	}
	if err := h.writeSecrets(); err != nil {
		return nil, err
	}
	h.Machine = machineInfo(ctx, h)
	ok = true
	return h, nil
}

// Close removes every project, image tag, file and process the run made.
func (h *Harness) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h.mu.Lock()
	projects := append([]*Project(nil), h.projects...)
	cleanups := h.cleanups
	h.cleanups = nil
	h.mu.Unlock()
	for _, p := range projects {
		p.Destroy(ctx)
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if h.engine != nil {
		if _, err := h.engine.ImageRemove(ctx, swapiImage, image.RemoveOptions{PruneChildren: true}); err != nil && !client.IsErrNotFound(err) {
			h.logf("remove %s: %v", swapiImage, err)
		}
		h.engine.Close()
	}
	if h.tmp != "" {
		os.RemoveAll(h.tmp)
	}
}

func (h *Harness) onClose(f func()) {
	h.mu.Lock()
	h.cleanups = append(h.cleanups, f)
	h.mu.Unlock()
}

func (h *Harness) logf(format string, args ...any) {
	fmt.Fprintf(h.cfg.Log, "swbench %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (h *Harness) build(ctx context.Context) error {
	h.swd = filepath.Join(h.tmp, "swdeploy")
	h.apiBin = filepath.Join(h.tmp, "starwars-api")
	h.swapi = filepath.Join(h.tmp, "swapi-local")
	for _, b := range []struct{ out, pkg string }{{h.swd, "."}, {h.apiBin, "./api/cmd/starwars-api"}, {h.swapi, "./api/cmd/swapi-local"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", b.out, b.pkg)
		cmd.Dir = h.cfg.Repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// importSwapi packs swapi-local and the data set (Config.SwapiData, else
// the built-in one) into an image, as the e2e tests do, under a name of the
// harness's own. The image carries a digest of its content and is imported
// again only when that changes, so that a run never recreates a swapi
// container for nothing.
func (h *Harness) importSwapi(ctx context.Context) error {
	data, dataName := local.Data, "the built-in data set"
	if h.cfg.SwapiData != "" {
		data, dataName = os.DirFS(h.cfg.SwapiData), h.cfg.SwapiData
	}
	files, err := fs.Glob(data, "*.json")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no SWAPI data set in %s", dataName)
	}
	sort.Strings(files)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	sum := sha256.New()
	add := func(name string, fsys fs.FS, src string, mode int64) error {
		b, err := fs.ReadFile(fsys, src)
		if err != nil {
			return err
		}
		fmt.Fprintf(sum, "%s %d\n", name, len(b))
		sum.Write(b)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}
	if err := add("swapi-local", os.DirFS(filepath.Dir(h.swapi)), filepath.Base(h.swapi), 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := add("data/"+f, data, f, 0o644); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	digest := hex.EncodeToString(sum.Sum(nil))[:32]
	if insp, err := h.engine.ImageInspect(ctx, swapiImage); err == nil && insp.Config != nil && insp.Config.Labels[labelDigest] == digest {
		return nil
	}
	h.logf("importing %s", swapiImage)
	rc, err := h.engine.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, swapiImage,
		image.ImportOptions{Changes: []string{`ENTRYPOINT ["/swapi-local"]`, "USER 65534", "EXPOSE 8000",
			"LABEL " + labelBench + "=1 " + labelDigest + "=" + digest}})
	if err != nil {
		return fmt.Errorf("import %s: %w", swapiImage, err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// writeSecrets generates every secret once per run and writes it where the
// Compose file's `file:` sources point (SWDEPLOY_SECRETS_DIR): docker
// compose bind-mounts these files, swdeploy takes them as the operator's.
func (h *Harness) writeSecrets() error {
	h.secDir = filepath.Join(h.tmp, "secrets")
	if err := os.Mkdir(h.secDir, 0o755); err != nil {
		return err
	}
	h.secrets = map[string]string{}
	for _, n := range secretNames {
		v := randHex(24)
		if n == "admin_password" {
			v = "Adm1n" + randHex(10) // the API's password rules: upper, lower, digit
		}
		h.secrets[n] = v
		// Readable by the containers' users (redis, uid 10001): the
		// folder itself is private to this run's temporary folder.
		if err := os.WriteFile(filepath.Join(h.secDir, n), []byte(v), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Secret returns a generated secret's value.
func (h *Harness) Secret(name string) string { return h.secrets[name] }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run runs a command in the repository and returns its combined output.
func (h *Harness) run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = h.cfg.Repo
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 40))
	}
	return string(out), nil
}

// runSplit is run with standard output apart from standard error.
func (h *Harness) runSplit(ctx context.Context, env []string, name string, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = h.cfg.Repo
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		return string(out), errOut.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(errOut.String(), 40))
	}
	return string(out), errOut.String(), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
