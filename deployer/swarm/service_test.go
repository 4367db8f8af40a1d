package swarm

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fathat101/swdeploy/deployer"
	"github.com/fathat101/swdeploy/stack"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testContexts serves every build context as one small tree: the
// translation never reads it, but the desired state digests it.
type testContexts struct{}

func (testContexts) ContextFS(string) (fs.FS, error) {
	return fstest.MapFS{"Dockerfile": {Data: []byte("FROM scratch\n")}}, nil
}

// realDesired is the repository's stack/compose.yaml, loaded as the CLI
// loads it, for the project starwars, with no environment.
func realDesired(t *testing.T) *deployer.Desired {
	t.Helper()
	file, err := filepath.Abs("../../stack/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := stack.Load(context.Background(), stack.Options{Files: []string{file}, WorkDir: t.TempDir(), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := deployer.NewDesired(st.Project, testContexts{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func desiredFrom(t *testing.T, yaml string) *deployer.Desired {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  "/work/demo",
		ConfigFiles: []types.ConfigFile{{Filename: "/work/demo/compose.yaml", Content: []byte(yaml)}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("demo", true) })
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	d, err := deployer.NewDesired(p, testContexts{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// secretValue is the stand-in value of a secret: the tests look for it
// everywhere it must not be.
func secretValue(key string) []byte { return []byte("VALUE-of-" + key) }

func testInputs(t *testing.T, d *deployer.Desired, images map[string]string) Inputs {
	t.Helper()
	in := Inputs{Images: images, Secrets: map[string]SecretVersion{}}
	for _, s := range d.Secrets {
		v, err := NewSecretVersion(d.Project.Name, s.Key, secretValue(s.Key))
		if err != nil {
			t.Fatal(err)
		}
		in.Secrets[s.Key] = v
	}
	return in
}

func translateAll(t *testing.T, d *deployer.Desired, in Inputs) ([]Service, []string) {
	t.Helper()
	services, warnings, err := Translate(d, in)
	if err != nil {
		t.Fatal(err)
	}
	return services, warnings
}

// describe prints a value as "path: value" lines, map keys sorted, so
// that a golden file shows every field and a diff names what moved.
func describe(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(path+"."+k, v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		default:
			raw, _ := json.Marshal(v)
			fmt.Fprintf(&b, "%s: %s\n", strings.TrimPrefix(path, "."), raw)
		}
	}
	walk("", tree)
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update and check the diff):\n%s", path, got)
	}
}

const apiImageID = "sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"

// TestTranslateRealStack translates the repository's stack and compares
// each service, and the SDK spec made of it, with golden files.
func TestTranslateRealStack(t *testing.T) {
	d := realDesired(t)
	services, warnings := translateAll(t, d, testInputs(t, d, map[string]string{"api": apiImageID}))
	var names []string
	for _, s := range services {
		names = append(names, s.Service)
		golden(t, "service-"+s.Service+".txt", describe(t, s))
		golden(t, "swarmspec-"+s.Service+".txt", describe(t, s.ToSwarm()))
	}
	if want := []string{"cache", "mysql", "redis", "api", "edge"}; !slices.Equal(names, want) {
		t.Errorf("services %v, want %v (dependencies first)", names, want)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings for the repository's stack: %q", warnings)
	}
}

// TestTranslateNoSecretValue: the values of the secrets are nowhere in a
// service's spec, as the SDK gets it: not in env, labels, args, health
// test; only the versions' names are.
func TestTranslateNoSecretValue(t *testing.T) {
	d := realDesired(t)
	in := testInputs(t, d, nil)
	services, _ := translateAll(t, d, in)
	for _, s := range services {
		raw, err := json.Marshal(s.ToSwarm())
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range d.Secrets {
			if strings.Contains(string(raw), string(secretValue(sec.Key))) {
				t.Errorf("service %s: the value of secret %s is in its spec", s.Service, sec.Key)
			}
		}
		spec := s.ToSwarm()
		cs := spec.TaskTemplate.ContainerSpec
		var seen []string
		seen = append(seen, cs.Env...)
		seen = append(seen, cs.Args...)
		seen = append(seen, cs.Command...)
		for k, v := range spec.Labels {
			seen = append(seen, k+"="+v)
		}
		for k, v := range cs.Labels {
			seen = append(seen, k+"="+v)
		}
		for _, x := range seen {
			if strings.Contains(x, "VALUE-of-") {
				t.Errorf("service %s: %q", s.Service, x)
			}
		}
		for _, ref := range cs.Secrets {
			if want := in.Secrets[ref.File.Name].Name; ref.SecretName != want {
				t.Errorf("service %s: secret file %s from %s, want %s", s.Service, ref.File.Name, ref.SecretName, want)
			}
		}
	}

	// A changed value is a new version, and so a new config hash.
	api := func(in Inputs) Service {
		for _, s := range mustTranslate(t, d, in) {
			if s.Service == "api" {
				return s
			}
		}
		t.Fatal("no api")
		return Service{}
	}
	before := api(in)
	changed := testInputs(t, d, nil)
	changed.Secrets["jwt_access_secret"], _ = NewSecretVersion("starwars", "jwt_access_secret", []byte("another value"))
	after := api(changed)
	if before.ConfigHash() == "" || before.ConfigHash() == after.ConfigHash() {
		t.Errorf("config hash %q before, %q after a secret's value changed", before.ConfigHash(), after.ConfigHash())
	}
	if again := api(testInputs(t, d, nil)); again.ConfigHash() != before.ConfigHash() {
		t.Errorf("config hash %q, then %q for the same input", before.ConfigHash(), again.ConfigHash())
	}
}

func mustTranslate(t *testing.T, d *deployer.Desired, in Inputs) []Service {
	t.Helper()
	s, _ := translateAll(t, d, in)
	return s
}

func one(t *testing.T, yaml string) (Service, []string, error) {
	t.Helper()
	d := desiredFrom(t, yaml)
	services, warnings, err := Translate(d, testInputs(t, d, nil))
	if err != nil {
		return Service{}, nil, err
	}
	return services[0], warnings, nil
}

// TestTranslateReplicas: deploy.replicas, else scale, else 1; a service
// with a named volume runs at most one task; global has no count.
func TestTranslateReplicas(t *testing.T) {
	const volume = "    volumes: [data:/data]\nvolumes:\n  data: {}\n"
	for _, tc := range []struct {
		name, svc string
		want      string // replicas, "global", or "error: ..."
		warning   string
	}{
		{"default", "", "1", ""},
		{"deploy replicas", "    deploy: {replicas: 3}\n", "3", ""},
		{"scale", "    scale: 2\n", "2", ""},
		{"zero", "    deploy: {replicas: 0}\n", "0", ""},
		{"global", "    deploy: {mode: global}\n", "global", ""},
		{"stateful forced to one", "    deploy: {replicas: 3}\n" + volume, "1", "3 replicas asked, 1 run"},
		{"stateful scale", "    scale: 2\n" + volume, "1", "2 replicas asked, 1 run"},
		{"stateful stopped", "    deploy: {replicas: 0}\n" + volume, "0", ""},
		{"stateful global", "    deploy: {mode: global}\n" + volume, "error: service db: mode global", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, warnings, err := one(t, "services:\n  db:\n    image: db:1\n"+tc.svc)
			got := "global"
			switch {
			case err != nil:
				got = "error: " + err.Error()
			case s.Replicas != nil:
				got = fmt.Sprint(*s.Replicas)
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("replicas %s, want %s", got, tc.want)
			}
			if w := strings.Join(warnings, "\n"); (tc.warning == "") != (w == "") || !strings.Contains(w, tc.warning) {
				t.Errorf("warnings %q, want %q", w, tc.warning)
			}
		})
	}
}

// TestTranslatePlacement: the operator's constraints are kept, and a
// stateful service is pinned to the node labelled for it.
func TestTranslatePlacement(t *testing.T) {
	for _, tc := range []struct {
		name, svc string
		want      []string
	}{
		{"none", "", nil},
		{"operator's", "    deploy: {placement: {constraints: [node.role==worker, node.labels.zone==b]}}\n", []string{"node.labels.zone==b", "node.role==worker"}},
		{"stateful", "    volumes: [data:/data]\n", []string{"node.labels.demo.db==true"}},
		{"stateful and operator's", "    volumes: [data:/data]\n    deploy: {placement: {constraints: [node.role==worker]}}\n", []string{"node.labels.demo.db==true", "node.role==worker"}},
		{"tmpfs is no state", "    tmpfs: [/data:size=1m]\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := one(t, "services:\n  db:\n    image: db:1\n"+tc.svc+"volumes:\n  data: {}\n")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Constraints, tc.want) {
				t.Errorf("constraints %q, want %q", s.Constraints, tc.want)
			}
			if got := s.ToSwarm().TaskTemplate.Placement.Constraints; !slices.Equal(got, tc.want) {
				t.Errorf("SDK constraints %q, want %q", got, tc.want)
			}
		})
	}
	if got := PinLabel("starwars", "mysql"); got != "starwars.mysql" {
		t.Errorf("pin label %s", got)
	}
}

// TestTranslateUpdateOrder: the file's order, except that a service that
// publishes ports or keeps state is replaced stop-first; a rollback on
// failure by default.
func TestTranslateUpdateOrder(t *testing.T) {
	startFirst := "    deploy: {update_config: {order: start-first}}\n"
	for _, tc := range []struct {
		name, svc       string
		order, rollback string
		warning         string
	}{
		{"default", "", StopFirst, StopFirst, ""},
		{"start-first", startFirst, StartFirst, StartFirst, ""},
		{"start-first with ports", startFirst + "    ports: [\"8080:80\"]\n", StopFirst, StopFirst, "publishes ports"},
		{"start-first with a volume", startFirst + "    volumes: [data:/data]\n", StopFirst, StopFirst, "local volume"},
		{"rollback order of its own", "    deploy: {update_config: {order: start-first}, rollback_config: {order: stop-first, parallelism: 2}}\n", StartFirst, StopFirst, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, warnings, err := one(t, "services:\n  svc:\n    image: svc:1\n"+tc.svc+"volumes:\n  data: {}\n")
			if err != nil {
				t.Fatal(err)
			}
			if s.Update.Order != tc.order || s.Rollback.Order != tc.rollback {
				t.Errorf("update %s, rollback %s; want %s, %s", s.Update.Order, s.Rollback.Order, tc.order, tc.rollback)
			}
			if s.Update.FailureAction != "rollback" || s.Update.Parallelism != 1 || s.Update.Monitor != defaultMonitor {
				t.Errorf("update policy %+v", s.Update)
			}
			spec := s.ToSwarm()
			if spec.UpdateConfig.Order != tc.order || spec.RollbackConfig.Order != tc.rollback || spec.UpdateConfig.FailureAction != "rollback" {
				t.Errorf("SDK update %+v, rollback %+v", spec.UpdateConfig, spec.RollbackConfig)
			}
			if w := strings.Join(warnings, "\n"); (tc.warning == "") != (w == "") || !strings.Contains(w, tc.warning) {
				t.Errorf("warnings %q, want %q", w, tc.warning)
			}
		})
	}
}

// TestTranslateRefuses: what the swarm target cannot carry is an error
// naming it, not a service that differs from the file.
func TestTranslateRefuses(t *testing.T) {
	for _, tc := range []struct{ svc, want string }{
		{"    privileged: true\n", "privileged"},
		{"    volumes: [/srv:/srv]\n", "named volumes and tmpfs only"},
		{"    ports: [\"127.0.0.1:8080:80\"]\n", "host_ip 127.0.0.1"},
		{"    deploy: {endpoint_mode: vip}\n", "endpoint_mode vip"},
		{"    security_opt: [seccomp=unconfined]\n", "security_opt seccomp=unconfined"},
		{"    secrets: [token]\nsecrets:\n  token: {environment: TOKEN}\n", ""},
	} {
		_, _, err := one(t, "services:\n  svc:\n    image: svc:1\n"+tc.svc)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.svc, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", strings.TrimSpace(tc.svc), err, tc.want)
		}
	}
	d := desiredFrom(t, "services:\n  svc:\n    image: svc:1\n    secrets: [token]\nsecrets:\n  token: {environment: TOKEN}\n")
	if _, _, err := Translate(d, Inputs{}); err == nil || !strings.Contains(err.Error(), "secret token has no version") {
		t.Errorf("a secret without a version: %v", err)
	}
}
