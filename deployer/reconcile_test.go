package deployer

import (
	"bytes"
	"context"
	"flag"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testStack is a small stack of the real one's shape: a built api that
// waits for a healthy database and a cache, on a public and an internal
// network.
const testStack = `
name: demo
services:
  api:
    build: {context: ., args: {GO_IMAGE: "golang:1.26"}}
    image: demo-api:latest
    ports: ["5003:5003"]
    environment: {MODE: prod}
    networks: [public, internal]
    secrets: [jwt]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_healthy}
    restart: unless-stopped
    healthcheck: {test: ["CMD", "/api", "healthcheck"], interval: 5s}
  db:
    image: mysql:8.4
    environment: {MYSQL_DATABASE: app}
    volumes: ["db-data:/var/lib/mysql"]
    networks: [internal]
    secrets: [db_root]
    healthcheck: {test: ["CMD", "mysqladmin", "ping"], interval: 5s}
  cache:
    image: redis:7-alpine
    networks: [internal]
    healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 5s}
networks:
  public: {}
  internal: {internal: true}
volumes:
  db-data: {}
secrets:
  jwt: {file: ./secrets/jwt}
  db_root: {file: ./secrets/db_root}
`

type mapContexts struct{ fs fstest.MapFS }

func (m mapContexts) ContextFS(string) (iofs.FS, error) { return m.fs, nil }

func testContext(main string) fstest.MapFS {
	return fstest.MapFS{
		"Dockerfile": {Data: []byte("FROM scratch\nCOPY api /api\n")},
		"main.go":    {Data: []byte(main)},
	}
}

func loadTestProject(t *testing.T, yaml string) *types.Project {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  "/work/demo",
		ConfigFiles: []types.ConfigFile{{Filename: "/work/demo/compose.yaml", Content: []byte(yaml)}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("demo", true) })
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

func testDesired(t *testing.T, yaml, main string) *Desired {
	t.Helper()
	d, err := NewDesired(loadTestProject(t, yaml), mapContexts{testContext(main)})
	if err != nil {
		t.Fatalf("desired: %v", err)
	}
	return d
}

var newEngine = EngineInfo{Version: "28.3.0", APIVersion: "1.51"}

// fixedSecrets resolves every secret to a fixed value, as kept.
func fixedSecrets(d *Desired, op Op) map[string]ResolvedSecret {
	out := map[string]ResolvedSecret{}
	for _, s := range d.Secrets {
		source := "kept on the engine"
		if op == OpGenerate {
			source = "generated"
		}
		out[s.Key] = ResolvedSecret{Key: s.Key, Source: source, Version: "v-" + s.Key, Op: op, Value: []byte("x")}
	}
	return out
}

// upToDate is the engine state that an `up` of d leaves behind.
func upToDate(d *Desired, secrets map[string]ResolvedSecret, info EngineInfo) *Observed {
	o := &Observed{Engine: info, Networks: map[string]ObservedNetwork{}, Volumes: map[string]ObservedVolume{}, Images: map[string]ObservedImage{},
		State: ObservedState{HolderID: "holder", Volume: true}}
	for _, n := range d.Networks {
		o.Networks[n.Name] = ObservedNetwork{ID: "net-" + n.Key, Name: n.Name, Key: n.Key, Hash: n.Hash, Internal: n.Config.Internal}
	}
	for _, v := range d.Volumes {
		o.Volumes[v.Name] = ObservedVolume{Name: v.Name, Key: v.Key}
	}
	for _, svc := range d.Services {
		img := ObservedImage{ID: "sha256:" + svc.Name}
		if svc.Build != nil {
			img.BuildDigest = svc.Build.Digest
		}
		o.Images[svc.Image] = img
		parts := effectiveParts(svc, secrets)
		c := Container{
			ID: strings.Repeat(svc.Name[:1], 64), Name: containerName(d.Project.Name, svc.Name, 1), Service: svc.Name, Number: 1,
			State: "running", Health: "healthy", Hash: configHash(parts), Parts: parts, Image: svc.Image, ImageID: img.ID,
		}
		for key := range svc.Config.Networks {
			c.Networks = append(c.Networks, d.Project.Networks[key].Name)
		}
		o.Containers = append(o.Containers, c)
	}
	sortContainers(o.Containers)
	return o
}

func planText(p *Plan) string {
	var b bytes.Buffer
	p.WriteText(&b)
	for _, a := range p.Actions {
		if len(a.Needs) > 0 {
			b.WriteString("needs " + a.ID + ": " + strings.Join(a.Needs, ", ") + "\n")
		}
		if len(a.StartNeeds) > 0 {
			b.WriteString("starts after " + a.ID + ": " + strings.Join(a.StartNeeds, ", ") + "\n")
		}
	}
	return b.String()
}

func observedContainer(o *Observed, service string) *Container {
	for i := range o.Containers {
		if o.Containers[i].Service == service {
			return &o.Containers[i]
		}
	}
	return nil
}

func TestReconcile(t *testing.T) {
	base := testDesired(t, testStack, "package main")
	kept := fixedSecrets(base, "")
	tests := []struct {
		name    string
		desired *Desired
		secrets map[string]ResolvedSecret
		observe func(*Observed)
		opts    Options
	}{
		{name: "from-nothing", secrets: fixedSecrets(base, OpGenerate), observe: func(o *Observed) {
			*o = Observed{Engine: newEngine, Networks: map[string]ObservedNetwork{}, Volumes: map[string]ObservedVolume{}, Images: map[string]ObservedImage{}}
		}},
		{name: "up-to-date"},
		{name: "api-environment-changed", desired: testDesired(t, strings.Replace(testStack, "MODE: prod", "MODE: debug", 1), "package main")},
		{name: "api-source-changed", desired: testDesired(t, testStack, "package main // v2")},
		{name: "db-config-changed", desired: testDesired(t, strings.Replace(testStack, "MYSQL_DATABASE: app", "MYSQL_DATABASE: other", 1), "package main")},
		{name: "secret-changed", secrets: func() map[string]ResolvedSecret {
			s := fixedSecrets(base, "")
			s["jwt"] = ResolvedSecret{Key: "jwt", Source: "environment SWDEPLOY_SECRET_JWT", Version: "v-new", Op: OpUpdate}
			return s
		}()},
		{name: "stopped-and-removed", observe: func(o *Observed) {
			observedContainer(o, "cache").State = "exited"
			var kept []Container
			for _, c := range o.Containers {
				if c.Service != "db" {
					kept = append(kept, c)
				}
			}
			o.Containers = kept
		}},
		{name: "network-disconnected", observe: func(o *Observed) { observedContainer(o, "api").Networks = []string{"demo_internal"} }},
		{name: "orphan-kept", observe: func(o *Observed) {
			o.Containers = append(o.Containers, Container{ID: "o", Name: "demo-worker-1", Service: "worker", State: "running"})
		}},
		{name: "orphan-removed", opts: Options{RemoveOrphans: true}, observe: func(o *Observed) {
			o.Containers = append(o.Containers, Container{ID: "o", Name: "demo-worker-1", Service: "worker", State: "running"})
		}},
		{name: "image-missing-pull-never", opts: Options{Pull: "never"}, observe: func(o *Observed) { delete(o.Images, "redis:7-alpine") }},
		{name: "image-replaced-by-hand", observe: func(o *Observed) { o.Images["redis:7-alpine"] = ObservedImage{ID: "sha256:other"} }},
		{name: "old-engine-from-nothing", secrets: fixedSecrets(base, OpGenerate), observe: func(o *Observed) {
			*o = Observed{Engine: EngineInfo{Version: "20.10.24", APIVersion: "1.41"}, Networks: map[string]ObservedNetwork{}, Volumes: map[string]ObservedVolume{}, Images: map[string]ObservedImage{"mysql:8.4": {ID: "m"}, "redis:7-alpine": {ID: "r"}}}
		}},
		{name: "api-start-first", desired: testDesired(t, strings.Replace(strings.Replace(testStack, `    ports: ["5003:5003"]`, `    deploy: {update_config: {order: start-first}}`, 1), "MODE: prod", "MODE: debug", 1), "package main")},
		{name: "start-first-with-ports-is-stop-first", desired: testDesired(t, strings.Replace(strings.Replace(testStack, `    ports: ["5003:5003"]`, `    ports: ["5003:5003"]
    deploy: {update_config: {order: start-first}}`, 1), "MODE: prod", "MODE: debug", 1), "package main")},
		{name: "leftover-replacement", observe: func(o *Observed) {
			o.Containers = append(o.Containers, Container{ID: "l", Name: "0123456789ab_demo-api-1", Service: "api", State: "created", Leftover: true})
			sortContainers(o.Containers)
		}},
		{name: "state-holder-removed", secrets: fixedSecrets(base, OpGenerate), observe: func(o *Observed) { o.State.HolderID = "" }},
		{name: "network-changed", observe: func(o *Observed) {
			n := o.Networks["demo_internal"]
			n.Hash = "0000"
			o.Networks["demo_internal"] = n
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.desired
			if d == nil {
				d = base
			}
			secrets := tt.secrets
			if secrets == nil {
				secrets = kept
			}
			o := upToDate(base, kept, newEngine)
			if tt.observe != nil {
				tt.observe(o)
			}
			got := planText(reconcile(d, o, secrets, tt.opts))
			golden := filepath.Join("testdata", "plan-"+tt.name+".txt")
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("plan differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestReconcileIsDeterministic(t *testing.T) {
	d := testDesired(t, testStack, "package main")
	s := fixedSecrets(d, OpGenerate)
	empty := &Observed{Engine: newEngine, Networks: map[string]ObservedNetwork{}, Volumes: map[string]ObservedVolume{}, Images: map[string]ObservedImage{}}
	first := planText(reconcile(d, empty, s, Options{}))
	for i := 0; i < 20; i++ {
		if got := planText(reconcile(testDesired(t, testStack, "package main"), empty, s, Options{})); got != first {
			t.Fatalf("plan %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}

func TestDependencyCycle(t *testing.T) {
	// compose-go rejects cycles in files; the deployer checks again for
	// projects built in code.
	p := loadTestProject(t, `
services:
  a: {image: x, depends_on: [b]}
  b: {image: x}
`)
	b := p.Services["b"]
	b.DependsOn = types.DependsOnConfig{"a": {Condition: "service_started"}}
	p.Services["b"] = b
	_, err := NewDesired(p, nil)
	if err == nil || !strings.Contains(err.Error(), "dependency cycle: a -> b -> a") {
		t.Fatalf("want a cycle error, got %v", err)
	}
}

// TestCreateEdges checks a cold up's dependency edges: a new container is
// created once its image, networks, volumes and dependencies are there,
// while its secrets are kept; only its start waits for those.
func TestCreateEdges(t *testing.T) {
	d := testDesired(t, testStack, "package main")
	empty := &Observed{Engine: newEngine, Networks: map[string]ObservedNetwork{}, Volumes: map[string]ObservedVolume{}, Images: map[string]ObservedImage{}}
	p := reconcile(d, empty, fixedSecrets(d, OpGenerate), Options{})
	tests := []struct {
		id                string
		needs, startNeeds []string
	}{
		{"container:cache", []string{"image:redis:7-alpine", "network:internal"}, nil},
		{"container:db", []string{"image:mysql:8.4", "network:internal", "volume:db-data"}, []string{"secret:db_root"}},
		{"container:api", []string{"image:demo-api:latest", "network:internal", "network:public", "container:cache", "container:db"}, []string{"secret:jwt"}},
	}
	for _, tt := range tests {
		a, ok := p.Action(tt.id)
		if !ok {
			t.Fatalf("no action %s", tt.id)
		}
		if !slices.Equal(a.Needs, tt.needs) || !slices.Equal(a.StartNeeds, tt.startNeeds) {
			t.Errorf("%s: needs %v, start needs %v; want %v, %v", tt.id, a.Needs, a.StartNeeds, tt.needs, tt.startNeeds)
		}
	}
	// A recreate stops a running container: all of it waits, as before.
	o := upToDate(d, fixedSecrets(d, ""), newEngine)
	p = reconcile(testDesired(t, strings.Replace(testStack, "MODE: prod", "MODE: debug", 1), "package main"), o, fixedSecrets(d, ""), Options{ForceRecreate: true})
	a, _ := p.Action("container:api")
	if want := []string{"container:cache", "container:db"}; a.Op != OpRecreate || !slices.Equal(a.Needs, want) || a.StartNeeds != nil {
		t.Errorf("recreate api: %s needs %v, start needs %v; want recreate needs %v", a.Op, a.Needs, a.StartNeeds, want)
	}
}
