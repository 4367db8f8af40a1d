package swarm

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/fathat101/swdeploy/deployer"
)

// ServiceReader is what observing a project's services needs of the
// manager's engine; *client.Client satisfies it.
type ServiceReader interface {
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
}

var _ ServiceReader = (*client.Client)(nil)

// ObservedService is one of the project's swarm services as the manager
// has it.
type ObservedService struct {
	ID      string
	Name    string // <project>_<service>
	Service string // the service label: its name in the Compose file
	// Version is the spec's version index; an update must name it, and
	// every update, even one with an unchanged spec, raises it.
	Version    uint64
	ConfigHash string  // the config hash label
	Replicas   *uint64 // wanted; nil for a global service
	Image      string
	// UpdateState is the last rollout's state (updating, completed,
	// paused, rollback_started, rollback_completed, ...), empty before any.
	UpdateState   string
	UpdateMessage string
	Tasks         []ObservedTask // by slot, newest first within one
	// Summary is the hand-changeable part of the spec, for drift; Spec
	// the digest of its task template, which current tasks share.
	Summary specSummary
	Spec    string
	// Healthcheck is set when the tasks have a health test: running then
	// means healthy.
	Healthcheck bool
}

// Current lists the tasks of the service's current spec that run and are
// meant to.
func (s ObservedService) Current() []ObservedTask {
	var out []ObservedTask
	for _, t := range s.Running() {
		if t.Spec == s.Spec {
			out = append(out, t)
		}
	}
	return out
}

// LastError is the error of the newest failed or rejected task.
func (s ObservedService) LastError() string {
	var last ObservedTask
	for _, t := range s.Tasks {
		if t.Error != "" && t.Created.After(last.Created) {
			last = t
		}
	}
	return last.Error
}

// ObservedTask is one task of a service, current or kept in its history.
type ObservedTask struct {
	ID           string
	Slot         int // 0 for a global service's tasks
	NodeID       string
	State        string // new ... starting, running, complete, failed, rejected, ...
	DesiredState string // running, shutdown, ...
	// Error is why the task failed or was rejected; Message the swarm's
	// last word on it ("started", "preparing", ...).
	Error       string
	Message     string
	ContainerID string
	Spec        string // digest of the task's template
	Created     time.Time
	Updated     time.Time
}

// Running lists the tasks that run and are meant to.
func (s ObservedService) Running() []ObservedTask {
	var out []ObservedTask
	for _, t := range s.Tasks {
		if t.State == string(swarm.TaskStateRunning) && t.DesiredState == string(swarm.TaskStateRunning) {
			out = append(out, t)
		}
	}
	return out
}

// ObserveServices lists the project's services, by name, each with its
// tasks. Services without the project's label are not listed. The swarm
// API gives no health verdict per task: that is for the nodes' engines.
func ObserveServices(ctx context.Context, r ServiceReader, project string) ([]ObservedService, error) {
	list, err := r.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelProject+"="+project))})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	taskFilter := filters.NewArgs()
	for _, s := range list {
		if s.Spec.Labels[LabelProject] == project {
			taskFilter.Add("service", s.ID)
		}
	}
	if taskFilter.Len() == 0 {
		return nil, nil
	}
	tasks, err := r.TaskList(ctx, swarm.TaskListOptions{Filters: taskFilter})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return collect(project, list, tasks), nil
}

// collect reads the project's services and their tasks back.
func collect(project string, services []swarm.Service, tasks []swarm.Task) []ObservedService {
	var out []ObservedService
	for _, s := range services {
		if s.Spec.Labels[LabelProject] == project {
			out = append(out, observedService(s))
		}
	}
	slices.SortFunc(out, func(a, b ObservedService) int { return cmp.Compare(a.Name, b.Name) })
	byID := map[string]int{}
	for i, s := range out {
		byID[s.ID] = i
	}
	tasks = slices.Clone(tasks)
	slices.SortFunc(tasks, func(a, b swarm.Task) int {
		return cmp.Or(cmp.Compare(a.Slot, b.Slot), b.Meta.CreatedAt.Compare(a.Meta.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	for _, t := range tasks {
		if i, ok := byID[t.ServiceID]; ok {
			out[i].Tasks = append(out[i].Tasks, observedTask(t))
		}
	}
	return out
}

func observedService(s swarm.Service) ObservedService {
	o := ObservedService{
		ID: s.ID, Name: s.Spec.Name, Service: s.Spec.Labels[deployer.LabelService], Version: s.Version.Index,
		ConfigHash: s.Spec.Labels[deployer.LabelConfigHash],
	}
	if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		n := *r.Replicas
		o.Replicas = &n
	}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		o.Image = cs.Image
	}
	if u := s.UpdateStatus; u != nil {
		o.UpdateState, o.UpdateMessage = string(u.State), u.Message
	}
	o.Summary, o.Spec = summarize(s.Spec), taskSpecDigest(s.Spec.TaskTemplate)
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil && cs.Healthcheck != nil && len(cs.Healthcheck.Test) > 0 && cs.Healthcheck.Test[0] != "NONE" {
		o.Healthcheck = true
	}
	return o
}

func observedTask(t swarm.Task) ObservedTask {
	o := ObservedTask{
		ID: t.ID, Slot: t.Slot, NodeID: t.NodeID, State: string(t.Status.State), DesiredState: string(t.DesiredState),
		Error: t.Status.Err, Message: t.Status.Message, Spec: taskSpecDigest(t.Spec), Created: t.Meta.CreatedAt, Updated: t.Status.Timestamp,
	}
	if c := t.Status.ContainerStatus; c != nil {
		o.ContainerID = c.ContainerID
	}
	return o
}
