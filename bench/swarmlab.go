package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// DefaultLabLock is the machine-wide lock of the one swarm lab: whoever
// uses the lab holds it (flock) for as long as they do.
const DefaultLabLock = "/tmp/swlab.lock"

// lockLab takes the lab's lock, waiting for another holder (and saying
// so) until ctx ends. path "" takes none: the caller holds it.
func (h *Harness) lockLab(ctx context.Context, path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	for said := false; ; said = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !said {
			h.logf("the swarm lab is in use: waiting for %s", path)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// swarmLab is the lab of scripts/swarm-lab.sh: a dockerd per node in
// network namespaces on this machine, node1 the manager.
type swarmLab struct {
	h       *Harness
	script  string
	manager string   // the manager's engine (a DOCKER_HOST value)
	nodes   []string // every node's engine, node1 first
	addr    string   // the manager's address on the lab's bridge
}

// startLab brings up a lab of n nodes, replacing whatever an earlier run
// left; Close takes it down (so does the next run).
func (h *Harness) startLab(ctx context.Context, n int) (*swarmLab, error) {
	l := &swarmLab{h: h, script: filepath.Join(h.cfg.Repo, "scripts", "swarm-lab.sh")}
	h.onClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := l.run(ctx, "down"); err != nil {
			h.logf("swarm lab down: %v", err)
		}
	})
	if _, err := l.run(ctx, "up", fmt.Sprint(n)); err != nil {
		return nil, err
	}
	env, err := l.run(ctx, "env")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(env, "\n") {
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		switch k {
		case "DOCKER_HOST":
			l.manager = v
		case "SWDEPLOY_NODE_HOSTS":
			l.nodes = strings.Split(v, ",")
		}
	}
	if l.manager == "" || len(l.nodes) != n {
		return nil, fmt.Errorf("swarm-lab.sh env: manager %q, nodes %q", l.manager, l.nodes)
	}
	// Node K is at .(10+K) of the lab's /24 (scripts/swarm-lab.sh).
	subnet := os.Getenv("SWLAB_SUBNET")
	if subnet == "" {
		subnet = "10.213.0.0/24"
	}
	l.addr = strings.TrimSuffix(subnet, "0/24") + "11"
	bridge := os.Getenv("SWLAB_BRIDGE")
	if bridge == "" {
		bridge = "swlab0"
	}
	if !routeVia(ctx, l.addr, bridge) {
		return nil, fmt.Errorf("the manager's address %s is not reached through the lab's bridge %s (`ip route get`): not dialled", l.addr, bridge)
	}
	return l, nil
}

// routeVia tells whether the host reaches addr through dev.
func routeVia(ctx context.Context, addr, dev string) bool {
	out, err := exec.CommandContext(ctx, "ip", "route", "get", addr).Output()
	if err != nil {
		return false
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1] == dev
		}
	}
	return false
}

// run runs scripts/swarm-lab.sh and returns its standard output.
func (l *swarmLab) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.script, args...)
	cmd.Dir = l.h.cfg.Repo
	cmd.WaitDelay = 5 * time.Second
	var errOut strings.Builder
	cmd.Stderr = &errOut
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("swarm-lab.sh %s: %v\n%s", strings.Join(args, " "), err, tail(errOut.String(), 20))
	}
	l.h.logf("swarm-lab.sh %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
	return string(out), nil
}

// engine connects to node i's engine (0 is node1, the manager).
func (l *swarmLab) engine(i int) (*client.Client, error) {
	return client.NewClientWithOpts(client.WithHost(l.nodes[i]), client.WithAPIVersionNegotiation())
}

// copyTagged copies images, by their tags, from the manager's engine into
// every other node's: one save on the manager, one load per node at once.
// (swdeploy copies images by ID, without tags; `docker stack deploy` names
// them by tag.)
func (l *swarmLab) copyTagged(ctx context.Context, refs []string) error {
	m, err := l.engine(0)
	if err != nil {
		return err
	}
	defer m.Close()
	tarPath := filepath.Join(l.h.tmp, "images.tar")
	defer os.Remove(tarPath)
	rc, err := m.ImageSave(ctx, refs)
	if err != nil {
		return fmt.Errorf("save %v on the manager: %w", refs, err)
	}
	f, err := os.Create(tarPath)
	if err != nil {
		rc.Close()
		return err
	}
	_, err = io.Copy(f, rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save %v on the manager: %w", refs, err)
	}
	errs := make([]error, len(l.nodes))
	var wg sync.WaitGroup
	for i := 1; i < len(l.nodes); i++ {
		wg.Go(func() { errs[i] = l.load(ctx, i, tarPath) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *swarmLab) load(ctx context.Context, i int, tarPath string) error {
	c, err := l.engine(i)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	resp, err := c.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load into %s: %w", l.nodes[i], err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("load into %s: %w", l.nodes[i], err)
	}
	return nil
}
