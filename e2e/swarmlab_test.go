package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
)

// swarmLab is a multi-node swarm on this machine, from scripts/swarm-lab.sh:
// Docker daemons in network namespaces, node1 the manager. There is one lab
// per machine, so tests that use it must not run in parallel.
type swarmLab struct {
	manager string   // the manager's engine, a DOCKER_HOST value
	nodes   []string // every node's engine, node1 first
}

func swarmLabScript(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "scripts", "swarm-lab.sh"), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("swarm-lab.sh %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	t.Logf("swarm-lab.sh %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
	return out.String()
}

// startSwarmLab brings up a lab of n Ready nodes, replacing any earlier
// one, and tears it down when the test ends.
func startSwarmLab(t *testing.T, n int) *swarmLab {
	t.Helper()
	t.Cleanup(func() { swarmLabScript(t, "down") })
	swarmLabScript(t, "up", strconv.Itoa(n))
	lab := &swarmLab{}
	for _, line := range strings.Split(swarmLabScript(t, "env"), "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		switch k {
		case "DOCKER_HOST":
			lab.manager = v
		case "SWDEPLOY_NODE_HOSTS":
			lab.nodes = strings.Split(v, ",")
		}
	}
	if lab.manager == "" || len(lab.nodes) != n {
		t.Fatalf("swarm-lab.sh env: manager %q, nodes %q", lab.manager, lab.nodes)
	}
	return lab
}

// load copies images from the host engine into every node: the nodes
// cannot pull.
func (l *swarmLab) load(t *testing.T, refs ...string) {
	t.Helper()
	swarmLabScript(t, append([]string{"load"}, refs...)...)
}

// docker runs the docker CLI against one node's engine.
func (l *swarmLab) docker(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"-H", host}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("docker -H %s %s: %v\n%s%s", host, strings.Join(args, " "), err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

// TestSwarmLab: two Ready nodes, and a dnsrr service with one replica on
// each whose tasks find each other by `tasks.<service>` DNS and answer
// across nodes over an overlay network; a killed node takes its task with
// it and comes back Ready; down leaves nothing behind.
func TestSwarmLab(t *testing.T) {
	lab := startSwarmLab(t, 2)

	nodes := lab.docker(t, lab.manager, "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
	if want := "swlab-node1 Ready\nswlab-node2 Ready"; sortedLines(nodes) != want {
		t.Fatalf("node ls:\n%s\nwant:\n%s", nodes, want)
	}

	probe := buildProbeImage(t)
	lab.load(t, probe)
	const service, network = "swlabprobe", "swlabnet"
	lab.docker(t, lab.manager, "network", "create", "--driver", "overlay", network)
	// One task per node, so the probe from node1 must cross to node2; each
	// task answers with the name of the node it runs on.
	lab.docker(t, lab.manager, "service", "create", "--detach", "--name", service,
		"--endpoint-mode", "dnsrr", "--replicas", "2", "--replicas-max-per-node", "1",
		"--network", network, "--env", "NODE={{.Node.Hostname}}", probe, "serve", "8080")

	var tasks []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		out := lab.docker(t, lab.manager, "service", "ps", "--filter", "desired-state=running",
			"--format", "{{.ID}} {{.CurrentState}}", service)
		tasks = nil
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[1] == "Running" {
				tasks = append(tasks, f[0])
			}
		}
		if len(tasks) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not running:\n%s", out)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// The tasks' overlay addresses, as the manager assigned them.
	var want []string
	for _, id := range tasks {
		addrs := lab.docker(t, lab.manager, "inspect", "--format",
			`{{range .NetworksAttachments}}{{if eq .Network.Spec.Name "`+network+`"}}{{range .Addresses}}{{.}} {{end}}{{end}}{{end}}`, id)
		for _, a := range strings.Fields(addrs) {
			addr, _, _ := strings.Cut(a, "/")
			want = append(want, addr)
		}
	}

	// From node1's task: DNS names both tasks, and both answer, one per node.
	ctr := lab.docker(t, lab.nodes[0], "ps", "--quiet", "--filter", "label=com.docker.swarm.service.name="+service)
	if strings.Contains(ctr, "\n") || ctr == "" {
		t.Fatalf("want one task container on node1, have %q", ctr)
	}
	out := lab.docker(t, lab.nodes[0], "exec", ctr, "/swarmprobe", "probe", "tasks."+service, "8080")
	var addrs, answers []string
	for _, line := range strings.Split(out, "\n") {
		addr, answer, _ := strings.Cut(line, " ")
		addrs, answers = append(addrs, addr), append(answers, answer)
	}
	slices.Sort(addrs)
	slices.Sort(want)
	slices.Sort(answers)
	if !slices.Equal(addrs, want) {
		t.Errorf("tasks.%s answers %v, the tasks have %v", service, addrs, want)
	}
	if !slices.Equal(answers, []string{"swlab-node1", "swlab-node2"}) {
		t.Errorf("tasks answered from %v, want one from each node\n%s", answers, out)
	}

	// A node failure takes the node's containers with it, not only its
	// daemon: node2's task stops answering. Started again, node2 is Ready.
	swarmLabScript(t, "kill", "node2")
	if out, err := exec.Command("docker", "-H", lab.nodes[0], "exec", ctr,
		"/swarmprobe", "probe", "tasks."+service, "8080").CombinedOutput(); err == nil {
		t.Errorf("every task still answers after kill node2:\n%s", out)
	}
	swarmLabScript(t, "start", "node2")
	nodes = lab.docker(t, lab.manager, "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
	if want := "swlab-node1 Ready\nswlab-node2 Ready"; sortedLines(nodes) != want {
		t.Errorf("node ls after start node2:\n%s\nwant:\n%s", nodes, want)
	}
	// Started right after a kill, while the dead containerd may not be
	// reaped yet: the new daemon must not wait for it.
	for range 2 {
		swarmLabScript(t, "kill", "node2")
		swarmLabScript(t, "start", "node2")
	}

	swarmLabScript(t, "down")
	assertNoSwarmLab(t)
}

// assertNoSwarmLab fails the test if anything of a lab is left on the
// machine: namespaces, links, firewall rules, state, daemons.
func assertNoSwarmLab(t *testing.T) {
	t.Helper()
	for _, probe := range [][]string{
		{"ip", "netns", "list"},
		{"ip", "-o", "link", "show"},
		{"iptables", "-S"},
		{"findmnt", "-rn", "-o", "TARGET"},
		{"pgrep", "-a", "-f", "/run/swarm-lab/"},
	} {
		out, _ := exec.Command(probe[0], probe[1:]...).Output() // pgrep exits 1 when nothing matches
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "swlab") || strings.Contains(line, "swarm-lab") {
				t.Errorf("left after down (%s): %s", strings.Join(probe, " "), line)
			}
		}
	}
	for _, path := range []string{"/var/lib/swarm-lab", "/run/swarm-lab", "/run/swlab-node1.sock"} {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("left after down: %s", path)
		}
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// buildProbeImage imports e2e/testdata/swarmprobe, built static, as an
// image of one file on the host engine, removed again when the test ends.
func buildProbeImage(t *testing.T) string {
	t.Helper()
	const ref = "swdeploy-test/swarmprobe:latest"
	bin := filepath.Join(t.TempDir(), "swarmprobe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./e2e/testdata/swarmprobe")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build swarmprobe: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "swarmprobe", Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(b)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rc, err := engine.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref,
		image.ImportOptions{Changes: []string{`ENTRYPOINT ["/swarmprobe"]`}})
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	t.Cleanup(func() { engine.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}) })
	return ref
}
