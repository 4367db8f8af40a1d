package swarm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"
)

// pollEvery is how often a rollout is looked at.
const pollEvery = 500 * time.Millisecond

// RolloutError is a service whose new tasks did not get healthy: the
// swarm rolled it back (or paused it), and the previous tasks serve on.
type RolloutError struct {
	Service string
	State   string // rollback_completed, paused, ...
	Message string // the swarm's word on it
	Task    string // the failed task's error and node
	Logs    []string
}

func (e *RolloutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %s: rollout failed (%s: %s)", e.Service, e.State, e.Message)
	if e.State == string(swarm.UpdateStateRollbackCompleted) {
		b.WriteString("; rolled back, the previous tasks keep serving")
	}
	if e.Task != "" {
		b.WriteString("; failed task: " + e.Task)
	}
	if len(e.Logs) > 0 {
		b.WriteString("\nlast log lines of the failed task:\n  " + strings.Join(e.Logs, "\n  "))
	}
	return b.String()
}

// converge waits for a service's rollout to end: every replica running
// (healthy, when the service has a health test: the swarm starts a task's
// life as running only then) on the current spec and no older task still
// meant to run. A rollout the swarm rolls back or pauses is a *RolloutError.
func (t *Target) converge(ctx context.Context, id, service string, since time.Time, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		svc, _, err := t.Client.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("service %s: %w", service, err)
		}
		tasks, err := t.Client.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", id))})
		if err != nil {
			return fmt.Errorf("service %s: list tasks: %w", service, err)
		}
		o := collect(svc.Spec.Labels[LabelProject], []swarm.Service{svc}, tasks)[0]
		if u := svc.UpdateStatus; u != nil && u.StartedAt != nil && !u.StartedAt.Before(since.Add(-time.Second)) {
			switch u.State {
			case swarm.UpdateStateRollbackCompleted, swarm.UpdateStateRollbackPaused:
				// Rolled back: the spec is the old one again, and the
				// previous spec the one whose tasks failed.
				failed := ""
				if svc.PreviousSpec != nil {
					failed = taskSpecDigest(svc.PreviousSpec.TaskTemplate)
				}
				return t.rolloutError(ctx, service, string(u.State), u.Message, o, failed, since)
			case swarm.UpdateStatePaused:
				return t.rolloutError(ctx, service, string(u.State), u.Message, o, o.Spec, since)
			}
		}
		if converged(o) {
			return nil
		}
		if failing(o, since) {
			return t.rolloutError(ctx, service, "failing", "tasks keep failing", o, o.Spec, since)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("service %s: not converged after %s: %d of %s task(s) running%s", service, timeout, len(o.Current()), o.Summary.Replicas, lastErr(o))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func lastErr(o ObservedService) string {
	if e := o.LastError(); e != "" {
		return "; last task error: " + e
	}
	return ""
}

// converged: the update (if any) completed, the wanted replicas run the
// current spec, and no task of another spec is meant to run.
func converged(o ObservedService) bool {
	if o.UpdateState == string(swarm.UpdateStateUpdating) || o.UpdateState == string(swarm.UpdateStateRollbackStarted) {
		return false
	}
	current := len(o.Current())
	for _, t := range o.Tasks {
		if t.DesiredState == string(swarm.TaskStateRunning) && t.Spec != o.Spec {
			return false
		}
	}
	if o.Replicas == nil {
		return current > 0
	}
	return uint64(current) == *o.Replicas
}

// failing: a service with no running task of its spec whose tasks failed
// three times since the rollout began (a create has no rollback to wait
// for).
func failing(o ObservedService, since time.Time) bool {
	if len(o.Current()) > 0 || o.UpdateState == string(swarm.UpdateStateUpdating) || o.UpdateState == string(swarm.UpdateStateRollbackStarted) {
		return false
	}
	n := 0
	for _, t := range o.Tasks {
		if t.Spec == o.Spec && t.Created.After(since) && (t.State == string(swarm.TaskStateFailed) || t.State == string(swarm.TaskStateRejected)) {
			n++
		}
	}
	return n >= 3
}

// rolloutError describes the newest failed task of the given spec, with
// its last log lines.
func (t *Target) rolloutError(ctx context.Context, service, state, msg string, o ObservedService, spec string, since time.Time) error {
	e := &RolloutError{Service: service, State: state, Message: msg}
	var bad *ObservedTask
	for i := range o.Tasks {
		tk := &o.Tasks[i]
		if (spec != "" && tk.Spec != spec) || tk.Created.Before(since) {
			continue
		}
		if tk.Error == "" && tk.State != string(swarm.TaskStateFailed) {
			continue
		}
		if bad == nil || tk.Created.After(bad.Created) {
			bad = tk
		}
	}
	if bad != nil {
		e.Task = fmt.Sprintf("%s on node %s (%s): %s", bad.ID[:min(12, len(bad.ID))], t.hostname(bad.NodeID), bad.State, bad.Error)
		e.Logs = t.taskLogs(ctx, bad.ID, 20)
	}
	return e
}

func (t *Target) hostname(nodeID string) string {
	for _, n := range t.Nodes.Nodes {
		if n.ID == nodeID {
			return n.Hostname
		}
	}
	return nodeID
}

// taskLogs is a task's last lines, or none if its node cannot give them.
func (t *Target) taskLogs(ctx context.Context, id string, n int) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := t.Client.TaskLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)})
	if err != nil {
		return nil
	}
	defer rc.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, io.LimitReader(rc, 1<<20))
	text := strings.TrimRight(out.String(), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// waitCondition waits until a service meets a depends_on condition:
// service_started, one task running; service_healthy (and
// service_completed_successfully, which a long-running service never
// meets), every replica running, and so healthy where it has a test.
func (t *Target) waitCondition(ctx context.Context, name, condition string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		list, err := t.Client.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
		if err != nil {
			return err
		}
		for _, s := range list {
			if s.Spec.Name != name {
				continue
			}
			tasks, err := t.Client.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", s.ID))})
			if err != nil {
				return err
			}
			o := collect(s.Spec.Labels[LabelProject], []swarm.Service{s}, tasks)[0]
			if condition == "service_started" && len(o.Running()) > 0 || condition != "service_started" && converged(o) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %s task(s) running%s", len(o.Current()), o.Summary.Replicas, lastErr(o))
			}
		}
		if len(list) == 0 && time.Now().After(deadline) {
			return fmt.Errorf("no service %s", name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}
