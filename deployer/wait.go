package deployer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"
)

// pollInterval is how often a wait asks the engine again. Health is only
// re-evaluated at the container's own interval, so polling faster buys
// nothing.
const pollInterval = 250 * time.Millisecond

// waitID blocks until one container meets the condition, can no longer
// meet it, or the wait times out.
func (x *executor) waitID(ctx context.Context, id, service, cond string) error {
	ctx, cancel := context.WithTimeout(ctx, x.opts.WaitTimeout)
	defer cancel()
	w := Wait{Service: service, Condition: cond, Required: true}
	for {
		ok, err := x.check(ctx, id, w)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("did not become %s within %s%s", conditionWord(cond), x.opts.WaitTimeout, x.lastLogs(id))
			}
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// waitFor blocks until the service's container meets the condition, the
// container can no longer meet it, or the wait times out.
func (x *executor) waitFor(ctx context.Context, w Wait) error {
	ctx, cancel := context.WithTimeout(ctx, x.opts.WaitTimeout)
	defer cancel()
	project := x.plan.desired.Project.Name
	for {
		id, err := serviceContainer(ctx, x.eng, project, w.Service)
		if err != nil {
			return err
		}
		if id == "" && !w.Required {
			return nil
		}
		if id != "" {
			ok, err := x.check(ctx, id, w)
			if err != nil || ok {
				return err
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s did not become %s within %s%s", w.Service, conditionWord(w.Condition), x.opts.WaitTimeout, x.lastLogs(id))
			}
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

func (x *executor) check(ctx context.Context, id string, w Wait) (bool, error) {
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
