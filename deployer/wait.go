package deployer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"
)

// pollInterval is how often a wait asks the engine again. While it waits
// for health it also runs the service's healthcheck itself at this pace
// (see probe): the engine runs it only once per interval.
const pollInterval = 250 * time.Millisecond

// waitID blocks until one container meets the condition, can no longer
// meet it, or the wait times out. Only the engine's own health counts: a
// replacement's old container is stopped on it, and `status` shows it.
func (x *executor) waitID(ctx context.Context, id, service, cond string) error {
	ctx, cancel := context.WithTimeout(ctx, x.opts.WaitTimeout)
	defer cancel()
	w := Wait{Service: service, Condition: cond, Required: true}
	p := &probe{eng: x.eng, off: true}
	for {
		ok, err := x.check(ctx, id, w, p)
		if err == nil && !ok {
			err = p.sleep(ctx)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("did not become %s within %s%s", conditionWord(cond), x.opts.WaitTimeout, x.lastLogs(id))
		}
		if err != nil || ok {
			return err
		}
	}
}

// waitFor blocks until the service's container meets the condition, the
// container can no longer meet it, or the wait times out. A dependency gate
// (gate true) may open on swdeploy's own probe of the healthcheck; the wait
// that ends `up` counts only the engine's health, so that `status` right
// after `up` agrees with it.
func (x *executor) waitFor(ctx context.Context, w Wait, gate bool) error {
	ctx, cancel := context.WithTimeout(ctx, x.opts.WaitTimeout)
	defer cancel()
	project := x.plan.desired.Project.Name
	p := &probe{eng: x.eng, off: !gate}
	for {
		id, err := serviceContainer(ctx, x.eng, project, w.Service)
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s did not become %s within %s", w.Service, conditionWord(w.Condition), x.opts.WaitTimeout)
		}
		if err != nil {
			return err
		}
		if id == "" && !w.Required {
			return nil
		}
		ok := false
		if id != "" {
			ok, err = x.check(ctx, id, w, p)
		}
		if err == nil && !ok {
			err = p.sleep(ctx)
		}
		// the deadline may fall during a call as well as between them
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s did not become %s within %s%s", w.Service, conditionWord(w.Condition), x.opts.WaitTimeout, x.lastLogs(id))
		}
		if err != nil || ok {
			return err
		}
	}
}

func (x *executor) check(ctx context.Context, id string, w Wait, p *probe) (bool, error) {
	c, err := x.eng.ContainerInspect(ctx, id)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", w.Service, err)
	}
	st := c.State
	switch w.Condition {
	case "service_completed_successfully":
		if st.Running || st.Status == "created" {
			return false, nil
		}
		if st.ExitCode != 0 {
			return false, fmt.Errorf("%s exited with code %d%s", w.Service, st.ExitCode, x.lastLogs(id))
		}
		return true, nil
	case "service_healthy":
		if !st.Running && !st.Restarting {
			return false, fmt.Errorf("%s is %s (exit code %d)%s", w.Service, st.Status, st.ExitCode, x.lastLogs(id))
		}
		if st.Health == nil {
			return false, fmt.Errorf("%s has no healthcheck, so it can never be healthy", w.Service)
		}
		switch st.Health.Status {
		case "healthy":
			return true, nil
		case "unhealthy":
			return false, fmt.Errorf("%s is unhealthy%s%s", w.Service, lastProbe(st.Health), x.lastLogs(id))
		}
		// starting: the engine has not run a check that passed yet; ours
		// may have, on this very container
		if p.off {
			return false, nil
		}
		if p.passed == c.ID {
			return true, nil
		}
		p.start(ctx, c)
		return false, nil
	default: // service_started
		if st.Status == "exited" || st.Status == "dead" {
			return false, fmt.Errorf("%s stopped (exit code %d)%s", w.Service, st.ExitCode, x.lastLogs(id))
		}
		return st.Running, nil
	}
}

func conditionWord(c string) string {
	switch c {
	case "service_healthy":
		return "healthy"
	case "service_completed_successfully":
		return "completed"
	}
	return "running"
}

func lastProbe(h *container.Health) string {
	if h == nil || len(h.Log) == 0 {
		return ""
	}
	out := strings.TrimSpace(h.Log[len(h.Log)-1].Output)
	if out == "" {
		return ""
	}
	return " (last probe: " + out + ")"
}

// lastLogs returns the container's last log lines, to print beside a
// failure: the reason is nearly always there.
func (x *executor) lastLogs(id string) string {
	if id == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lines, err := lastLogLines(ctx, x.eng, id, 20)
	if err != nil || lines == "" {
		return ""
	}
	return "\nlast log lines:\n" + lines
}

// lastLogLines returns up to n of a container's last log lines, stdout and
// stderr together.
func lastLogLines(ctx context.Context, eng Engine, id string, n int) (string, error) {
	rc, err := eng.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return "", err
	}
	return strings.TrimRight(buf.String(), "\n"), nil
}

// serviceContainer finds the id of a service's container, or "".
func serviceContainer(ctx context.Context, eng Engine, project, service string) (string, error) {
	list, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", LabelProject+"="+project),
		filters.Arg("label", LabelService+"="+service),
		filters.Arg("label", LabelOneOff+"=False"),
	)})
	if err != nil {
		return "", fmt.Errorf("find container of %s: %w", service, err)
	}
	for _, c := range list {
		// A replacement waiting under its temporary name is not yet the
		// service's container.
		if len(c.Names) > 0 && strings.Contains(c.Names[0], "_"+project+"-") {
			continue
		}
		return c.ID, nil
	}
	return "", nil
}

// probe runs a container's own healthcheck command through the exec API
// while a wait is on its health. The engine runs the check first one whole
// interval after the start (start_interval, which shortens that, needs API
// 1.44 and would change the container's configuration, so recreate every
// container deployed without it): a service that is up in a second would
// hold its dependents for the interval. A probe that passes counts as
// healthy for the wait only; one that fails or times out counts for
// nothing, and the engine's verdict stands either way.
type probe struct {
	off    bool // only the engine's own health counts
	eng    Engine
	id     string      // the container probed
	result <-chan bool // of the probe in flight; nil when none
	passed string      // the container a probe passed on
}

// probesRunning holds a slot per container with a probe running, so that
// two waits on one container never run two at once. The value is "" while
// a wait's probe owns it, or the exec id of a probe that outlived its
// timeout, whose command may still run in the container.
var probesRunning sync.Map // container id -> exec id

// probeCommand is what the engine would run for the container's
// healthcheck (CMD and CMD-SHELL), or nil: NONE, none at all, or a
// Windows container.
func probeCommand(c container.InspectResponse) []string {
	if c.Config == nil || c.Config.Healthcheck == nil || (c.Platform != "" && c.Platform != "linux") {
		return nil
	}
	test := c.Config.Healthcheck.Test
	if len(test) < 2 {
		return nil
	}
	switch test[0] {
	case "CMD":
		return test[1:]
	case "CMD-SHELL":
		shell := []string(c.Config.Shell)
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(slices.Clone(shell), test[1:]...)
	}
	return nil
}

// start runs one probe on c in the background unless one is in flight.
func (p *probe) start(ctx context.Context, c container.InspectResponse) {
	if p.result != nil && p.id == c.ID {
		return
	}
	cmd := probeCommand(c)
	if cmd == nil || !c.State.Running {
		return
	}
	if held, taken := probesRunning.LoadOrStore(c.ID, ""); taken {
		left := held.(string)
		if left == "" || !execEnded(ctx, p.eng, left) || !probesRunning.CompareAndSwap(c.ID, left, "") {
			return
		}
	}
	timeout := c.Config.Healthcheck.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second // the engine's default
	}
	result := make(chan bool, 1)
	p.id, p.result = c.ID, result
	go func() {
		ok, left := runProbe(ctx, p.eng, c, cmd, timeout)
		if left != "" {
			probesRunning.Store(c.ID, left)
		} else {
			probesRunning.Delete(c.ID)
		}
		result <- ok
	}()
}

// sleep waits for the next poll, returning early when a probe passes.
func (p *probe) sleep(ctx context.Context) error {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case ok := <-p.result:
			p.result = nil
			if ok {
				p.passed = p.id
				return nil
			}
		}
	}
}

// runProbe runs cmd in c as the engine runs a healthcheck (the container's
// user and working directory) and reports whether it exited 0. left is the
// exec id when the command may still be running.
func runProbe(ctx context.Context, eng Engine, c container.InspectResponse, cmd []string, timeout time.Duration) (ok bool, left string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ex, err := eng.ContainerExecCreate(ctx, c.ID, container.ExecOptions{Cmd: cmd, User: c.Config.User, WorkingDir: c.Config.WorkingDir})
	if err != nil {
		return false, ""
	}
	if err := eng.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{Detach: true}); err != nil {
		if ctx.Err() != nil {
			return false, ex.ID // it may have started all the same
		}
		return false, ""
	}
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, pollInterval) {
		st, err := eng.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			if ctx.Err() != nil {
				return false, ex.ID
			}
			return false, ""
		}
		// the SDK reads a missing exit code as 0: only a process that
		// started (a pid) and stopped has a real one
		if !st.Running && st.Pid != 0 {
			return st.ExitCode == 0, ""
		}
		select {
		case <-ctx.Done():
			return false, ex.ID
		case <-time.After(wait):
		}
	}
}

// execEnded reports whether a probe left running has ended since.
func execEnded(ctx context.Context, eng Engine, execID string) bool {
	ctx, cancel := context.WithTimeout(ctx, pollInterval)
	defer cancel()
	st, err := eng.ContainerExecInspect(ctx, execID)
	if errdefs.IsNotFound(err) {
		return true
	}
	return err == nil && !st.Running
}
