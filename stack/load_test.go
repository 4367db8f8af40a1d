package stack

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultFileInCheckout(t *testing.T) {
	dir := checkout(t, nil)
	s := mustLoad(t, Options{WorkDir: dir, Embedded: builtinTree(t)})
	if s.Builtin || s.Source != "stack/compose.yaml" {
		t.Errorf("Source = %q, Builtin = %v; want the checkout's stack/compose.yaml", s.Source, s.Builtin)
	}
	api := s.Project.Services["api"]
	if api.Build.Context != dir {
		t.Errorf("api build context = %q, want the checkout root %q", api.Build.Context, dir)
	}
	if got := s.Project.Secrets["mysql_password"].File; got != filepath.Join(dir, "stack", "secrets", "mysql_password") {
		t.Errorf("secret file = %q, want it beside the compose file", got)
	}
	assertDockerfile(t, s, "FROM scratch # on disk\n")
}

func TestDefaultFileBuiltin(t *testing.T) {
	dir := writeFiles(t, map[string]string{".env": "STARWARS_PUBLISHED_PORT=6000\n"})
	s := mustLoad(t, Options{WorkDir: dir, Embedded: builtinTree(t)})
	if !s.Builtin || s.Source != "built-in stack" {
		t.Errorf("Source = %q, Builtin = %v; want the built-in stack", s.Source, s.Builtin)
	}
	if got := s.Project.Services["api"].Build.Context; got != BuiltinRoot {
		t.Errorf("api build context = %q, want %q", got, BuiltinRoot)
	}
	if s.Project.WorkingDir != dir {
		t.Errorf("WorkingDir = %q, want the caller's %q", s.Project.WorkingDir, dir)
	}
	// operator files come from the caller's directory, as .env does
	if got := s.Project.Secrets["admin_password"].File; got != filepath.Join(dir, "secrets", "admin_password") {
		t.Errorf("secret file = %q, want it under the working dir", got)
	}
	if got := s.Project.Services["edge"].Ports[0].Published; got != "6000" {
		t.Errorf("published port = %q, want 6000 from WorkDir/.env", got)
	}
	assertDockerfile(t, s, "FROM scratch # built-in\n")
	fsys, err := s.ContextFS("api")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(fsys, "api/main.go"); err != nil {
		t.Errorf("built-in context lacks api/main.go: %v", err)
	}
}

func assertDockerfile(t *testing.T, s *Stack, want string) {
	t.Helper()
	fsys, err := s.ContextFS("api")
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(fsys, s.Project.Services["api"].Build.Dockerfile)
	if err != nil || string(got) != want {
		t.Errorf("Dockerfile from ContextFS = %q, %v; want %q", got, err, want)
	}
}

func TestContextFSErrors(t *testing.T) {
	s := mustLoad(t, Options{WorkDir: checkout(t, nil)})
	for service, want := range map[string]string{
		"mysql": "service mysql: has no build section",
		"nope":  "service nope: not in the stack",
	} {
		if _, err := s.ContextFS(service); err == nil || err.Error() != want {
			t.Errorf("ContextFS(%s) = %v, want %q", service, err, want)
		}
	}
}

func TestNoStackAnywhere(t *testing.T) {
	_, err := Load(context.Background(), Options{WorkDir: t.TempDir()})
	want := "stack/compose.yaml: no such file, and this binary has no built-in stack"
	if err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want %q wrapping fs.ErrNotExist", err, want)
	}
}

func TestMissingFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(context.Background(), Options{WorkDir: dir, Files: []string{"nope.yaml"}})
	var fe *FileError
	if !errors.As(err, &fe) || err.Error() != "nope.yaml: no such file" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want a FileError %q", err, "nope.yaml: no such file")
	}
}

// The real file's defaults are the upstream images; offline.env switches
// them to the locally built stand-ins.
func TestInterpolationDefaults(t *testing.T) {
	dir := checkout(t, map[string]string{"stack/offline.env": readFile(t, "offline.env")})
	tests := []struct {
		name                     string
		opts                     Options
		mysql, redis, goImg, pub string
	}{
		{"defaults", Options{}, "mysql:8.4", "redis:7-alpine", "golang:1.26", "5003"},
		{"offline.env", Options{EnvFiles: []string{"stack/offline.env"}},
			"swdeploy-offline/mysql:8.4", "swdeploy-offline/redis:7", "swdeploy-offline/golang:1.26", "5003"},
		{"environment beats env file", Options{EnvFiles: []string{"stack/offline.env"}, Environ: []string{"MYSQL_IMAGE=mine:1", "STARWARS_PUBLISHED_PORT=8080"}},
			"mine:1", "swdeploy-offline/redis:7", "swdeploy-offline/golang:1.26", "8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.WorkDir = dir
			p := mustLoad(t, tt.opts).Project
			if p.Name != "starwars" {
				t.Errorf("project name = %q, want starwars", p.Name)
			}
			api := p.Services["api"]
			got := []string{p.Services["mysql"].Image, p.Services["redis"].Image, deref(api.Build.Args["GO_IMAGE"]), p.Services["edge"].Ports[0].Published}
			want := []string{tt.mysql, tt.redis, tt.goImg, tt.pub}
			if !slices.Equal(got, want) {
				t.Errorf("mysql, redis, GO_IMAGE, port = %q, want %q", got, want)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestProjectName(t *testing.T) {
	named := "name: fromfile\nservices:\n  web:\n    image: x\n"
	unnamed := "services:\n  web:\n    image: x\n"
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  string
	}{
		{"from file", map[string]string{"c.yaml": named}, Options{}, "fromfile"},
		{"-p wins", map[string]string{"c.yaml": named}, Options{ProjectName: "flag", Environ: []string{"COMPOSE_PROJECT_NAME=env"}}, "flag"},
		{"environment beats file", map[string]string{"c.yaml": named}, Options{Environ: []string{"COMPOSE_PROJECT_NAME=env"}}, "env"},
		{".env counts as environment", map[string]string{"c.yaml": named, ".env": "COMPOSE_PROJECT_NAME=dotenv\n"}, Options{}, "dotenv"},
		{"directory name", map[string]string{"My Proj/c.yaml": unnamed}, Options{Files: []string{"My Proj/c.yaml"}}, "myproj"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.WorkDir = writeFiles(t, tt.files)
			if tt.opts.Files == nil {
				tt.opts.Files = []string{"c.yaml"}
			}
			if got := mustLoad(t, tt.opts).Project.Name; got != tt.want {
				t.Errorf("name = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	dir := checkout(t, nil)
	tests := []struct {
		opts Options
		want string
	}{
		{Options{ProjectName: "Bad Name"}, `project name "Bad Name": bad option: use lowercase letters, digits, '-' and '_', starting with a letter or digit`},
		{Options{Environ: []string{"COMPOSE_PROJECT_NAME=-x"}}, `COMPOSE_PROJECT_NAME "-x": bad option: use lowercase letters, digits, '-' and '_', starting with a letter or digit`},
		{Options{Files: []string{"-"}}, "compose file on standard input: bad option: no standard input"},
	}
	for _, tt := range tests {
		tt.opts.WorkDir = dir
		_, err := Load(context.Background(), tt.opts)
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrBadOption) {
			t.Errorf("err = %v, want %q wrapping ErrBadOption", err, tt.want)
		}
	}
}

func TestEnvFiles(t *testing.T) {
	base := map[string]string{
		"stack/compose.yaml": "services:\n  web:\n    image: ${IMG:-default}\n",
		".env":               "IMG=from-workdir\n",
		"other.env":          "IMG=from-other\n",
		"bad.env":            "A=1\nB C=2\n",
	}
	tests := []struct {
		name     string
		stackEnv string // stack/.env, the project directory's
		opts     Options
		want     string // image, or the error
	}{
		{"no .env in the project dir", "", Options{}, "default"},
		{"project dir .env", "IMG=from-project\n", Options{}, "from-project"},
		{"--env-file replaces .env", "IMG=from-project\n", Options{EnvFiles: []string{"other.env"}}, "from-other"},
		{"later env file wins", "", Options{EnvFiles: []string{"other.env", "stack/.env"}}, "from-stack-later"},
		{"COMPOSE_DISABLE_ENV_FILE", "IMG=from-project\n", Options{Environ: []string{"COMPOSE_DISABLE_ENV_FILE=1"}}, "default"},
		{"missing env file", "", Options{EnvFiles: []string{"nope.env"}}, "nope.env: no such env file"},
		{"broken env file", "", Options{EnvFiles: []string{"bad.env"}}, "bad.env:2: key cannot contain a space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			if tt.stackEnv != "" {
				files["stack/.env"] = tt.stackEnv
			}
			if strings.Contains(tt.name, "later") {
				files["stack/.env"] = "IMG=from-stack-later\n"
			}
			tt.opts.WorkDir = writeFiles(t, files)
			s, err := Load(context.Background(), tt.opts)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = s.Project.Services["web"].Image
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	compose := "services:\n  web:\n    image: x\n  tester:\n    image: y\n    profiles: [test]\n    depends_on: [web]\n"
	dir := writeFiles(t, map[string]string{"stack/compose.yaml": compose})
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"default", Options{}, []string{"web"}},
		{"--profile", Options{Profiles: []string{"test"}}, []string{"tester", "web"}},
		{"COMPOSE_PROFILES", Options{Environ: []string{"COMPOSE_PROFILES=other, test"}}, []string{"tester", "web"}},
		{"--profile beats COMPOSE_PROFILES", Options{Profiles: []string{"other"}, Environ: []string{"COMPOSE_PROFILES=test"}}, []string{"web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.WorkDir = dir
			got := sortedKeys(mustLoad(t, tt.opts).Project.Services)
			if !slices.Equal(got, tt.want) {
				t.Errorf("services = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	override := "services:\n  api:\n    image: starwars-api:dev\n  edge:\n    ports: [\"9000:9000\"]\n"
	t.Run("-f in order", func(t *testing.T) {
		dir := checkout(t, map[string]string{"dev.yaml": override})
		s := mustLoad(t, Options{WorkDir: dir, Files: []string{"stack/compose.yaml", "dev.yaml"}})
		assertOverridden(t, s, "stack/compose.yaml, dev.yaml")
		// relative paths resolve against the first file's directory
		if got := s.Project.Services["api"].Build.Context; got != dir {
			t.Errorf("build context = %q, want %q", got, dir)
		}
	})
	t.Run("compose.override.yaml beside the default file", func(t *testing.T) {
		dir := checkout(t, map[string]string{"stack/compose.override.yaml": override})
		assertOverridden(t, mustLoad(t, Options{WorkDir: dir}), "stack/compose.yaml, stack/compose.override.yaml")
	})
}

func assertOverridden(t *testing.T, s *Stack, source string) {
	t.Helper()
	api := s.Project.Services["api"]
	var published []string
	for _, p := range s.Project.Services["edge"].Ports {
		published = append(published, p.Published)
	}
	if s.Source != source || api.Image != "starwars-api:dev" || !slices.Equal(published, []string{"5003", "9000"}) {
		t.Errorf("Source %q, image %q, ports %q; want %q, starwars-api:dev, [5003 9000]", s.Source, api.Image, published, source)
	}
}

// swdeploy generates missing secrets itself: a secret file that is not
// there yet must not fail the load.
func TestMissingSecretFileLoads(t *testing.T) {
	dir := checkout(t, nil)
	s := mustLoad(t, Options{WorkDir: dir, Environ: []string{"SWDEPLOY_SECRETS_DIR=/does/not/exist"}})
	if got := s.Project.Secrets["jwt_access_secret"].File; got != "/does/not/exist/jwt_access_secret" {
		t.Errorf("secret file = %q", got)
	}
}

func TestStdin(t *testing.T) {
	dir := t.TempDir()
	s := mustLoad(t, Options{WorkDir: dir, Files: []string{"-"}, Stdin: strings.NewReader("name: piped\nservices:\n  web:\n    build: .\n")})
	if s.Project.Name != "piped" || s.Project.Services["web"].Build.Context != dir || s.Source != "<stdin>" {
		t.Errorf("name %q, context %q, source %q", s.Project.Name, s.Project.Services["web"].Build.Context, s.Source)
	}
}

// TestAPITrustsOnlyTheEdge: the API takes X-Forwarded-For (the login
// budget's client address) only from the proxies it is told to trust;
// the stack names the edge's own alias there, and no other service on the
// API's networks carries that name.
func TestAPITrustsOnlyTheEdge(t *testing.T) {
	s := mustLoad(t, Options{WorkDir: checkout(t, nil), Embedded: builtinTree(t)})
	api := s.Project.Services["api"]
	v := api.Environment["STARWARS_TRUSTED_PROXIES"]
	if v == nil || *v == "" {
		t.Fatal("api: STARWARS_TRUSTED_PROXIES not set: the edge's X-Forwarded-For is ignored")
	}
	trusted := strings.Split(*v, ",")
	for _, name := range trusted {
		name = strings.TrimSpace(name)
		var holders []string
		for svcName, svc := range s.Project.Services {
			for _, n := range svc.Networks {
				if n != nil && slices.Contains(n.Aliases, name) {
					holders = append(holders, svcName)
				}
			}
		}
		if !slices.Equal(holders, []string{"edge"}) {
			t.Errorf("trusted proxy %q is an alias of %v, want the edge's alone", name, holders)
		}
	}
}
