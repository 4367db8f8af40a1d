package swarm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/fathat101/swdeploy/deployer"
)

// ServiceStatus is one of the project's swarm services as `status` shows
// it, with its tasks.
type ServiceStatus struct {
	Service     string       `json:"service"`
	Name        string       `json:"name"`
	Replicas    string       `json:"replicas"` // running/wanted
	Image       string       `json:"image"`
	UpdateState string       `json:"update_state,omitempty"`
	Tasks       []TaskStatus `json:"tasks"`
}

// TaskStatus is one task that runs or is meant to, or the newest that
// failed.
type TaskStatus struct {
	ID      string    `json:"id"`
	Slot    int       `json:"slot,omitempty"`
	Node    string    `json:"node"`
	State   string    `json:"state"`
	Desired string    `json:"desired_state"`
	Health  string    `json:"health,omitempty"` // healthy, starting or empty without a test
	Error   string    `json:"error,omitempty"`
	Since   time.Time `json:"since"`
}

// Status lists the project's services and, per node, their tasks that run
// or are meant to, with the newest failure of each slot.
func (t *Target) Status(ctx context.Context, project string) ([]ServiceStatus, error) {
	services, err := ObserveServices(ctx, t.Client, project)
	if err != nil {
		return nil, err
	}
	out := []ServiceStatus{}
	for _, o := range services {
		s := ServiceStatus{Service: o.Service, Name: o.Name, Image: o.Image, UpdateState: o.UpdateState}
		want := o.Summary.Replicas
		s.Replicas = fmt.Sprintf("%d/%s", len(o.Current()), want)
		for _, tk := range o.Tasks {
			if tk.DesiredState != string(swarm.TaskStateRunning) && !(tk.Error != "" && tk.Updated.After(time.Now().Add(-10*time.Minute))) {
				continue
			}
			ts := TaskStatus{ID: tk.ID, Slot: tk.Slot, Node: t.hostname(tk.NodeID), State: tk.State, Desired: tk.DesiredState, Error: tk.Error, Since: tk.Updated}
			if o.Healthcheck {
				switch tk.State {
				case string(swarm.TaskStateRunning):
					ts.Health = "healthy"
				case string(swarm.TaskStateStarting):
					ts.Health = "starting"
				}
			}
			s.Tasks = append(s.Tasks, ts)
		}
		out = append(out, s)
	}
	return out, nil
}

// Logs streams the selected services' logs, line by line, to fn, which is
// never called concurrently; the manager gathers them from every node.
func (t *Target) Logs(ctx context.Context, project string, opts deployer.LogsOptions, fn func(deployer.LogLine)) error {
	services, err := ObserveServices(ctx, t.Client, project)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(services))
	for i, o := range services {
		if len(opts.Services) > 0 && !slices.Contains(opts.Services, o.Service) {
			continue
		}
		wg.Go(func() {
			rc, err := t.Client.ServiceLogs(ctx, o.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true,
				Follow: opts.Follow, Tail: opts.Tail, Timestamps: opts.Timestamps, Since: opts.Since})
			if err != nil {
				errs[i] = fmt.Errorf("logs of %s: %w", o.Name, err)
				return
			}
			defer rc.Close()
			pr, pw := io.Pipe()
			go func() { _, err := stdcopy.StdCopy(pw, pw, rc); pw.CloseWithError(err) }()
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64*1024), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fn(deployer.LogLine{Service: o.Service, Text: sc.Text()})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

// DownReport is what down did and could not do.
type DownReport struct {
	Services, Networks, Secrets, Volumes []string
	// Unreached are the nodes whose volumes could not be looked at.
	Unreached []string
}

// Down removes the project's services, then its networks and secrets,
// and with volumes the project's volumes on every node swdeploy reaches
// and the nodes' pin labels.
func (t *Target) Down(ctx context.Context, project string, volumes bool, rep deployer.Reporter) (DownReport, error) {
	if rep == nil {
		rep = deployer.Discard
	}
	var r DownReport
	services, err := t.Client.ServiceList(ctx, swarm.ServiceListOptions{Filters: projectFilter(project)})
	if err != nil {
		return r, fmt.Errorf("list services: %w", err)
	}
	for _, s := range services {
		if err := ignoreNotFound(t.Client.ServiceRemove(ctx, s.ID)); err != nil {
			return r, fmt.Errorf("remove service %s: %w", s.Spec.Name, err)
		}
		r.Services = append(r.Services, s.Spec.Name)
		emit(rep, deployer.Event{Kind: deployer.KindService, Name: s.Spec.Name, Op: deployer.OpRemove, Status: deployer.StatusDone})
	}
	// Networks and volumes are free once the tasks' containers are gone.
	if err := t.waitNoTasks(ctx, services, 2*time.Minute); err != nil {
		return r, err
	}
	nets, err := t.Client.NetworkList(ctx, network.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return r, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets {
		if err := retryInUse(ctx, func() error { return ignoreNotFound(t.Client.NetworkRemove(ctx, n.ID)) }); err != nil {
			return r, fmt.Errorf("remove network %s: %w", n.Name, err)
		}
		r.Networks = append(r.Networks, n.Name)
		emit(rep, deployer.Event{Kind: deployer.KindNetwork, Name: n.Name, Op: deployer.OpRemove, Status: deployer.StatusDone})
	}
	versions, err := ListSecrets(ctx, t.Client, project)
	if err != nil {
		return r, err
	}
	for _, v := range versions {
		if err := retryInUse(ctx, func() error { return ignoreNotFound(t.Client.SecretRemove(ctx, v.ID)) }); err != nil {
			return r, fmt.Errorf("remove secret %s: %w", v.Name, err)
		}
		r.Secrets = append(r.Secrets, v.Name)
		emit(rep, deployer.Event{Kind: deployer.KindSecret, Name: v.Name, Op: deployer.OpRemove, Status: deployer.StatusDone})
	}
	if !volumes {
		return r, nil
	}
	var errs []error
	for _, n := range t.Nodes.Nodes {
		e := t.engine(n)
		if e == nil {
			r.Unreached = append(r.Unreached, n.Hostname)
			continue
		}
		list, err := e.VolumeList(ctx, volume.ListOptions{Filters: projectFilter(project)})
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: list volumes: %w", n.Hostname, err))
			continue
		}
		for _, v := range list.Volumes {
			if err := retryInUse(ctx, func() error { return ignoreNotFound(e.VolumeRemove(ctx, v.Name, false)) }); err != nil {
				errs = append(errs, fmt.Errorf("node %s: remove volume %s: %w", n.Hostname, v.Name, err))
				continue
			}
			r.Volumes = append(r.Volumes, n.Hostname+":"+v.Name)
			emit(rep, deployer.Event{Kind: deployer.KindVolume, Name: v.Name + " on " + n.Hostname, Op: deployer.OpRemove, Status: deployer.StatusDone})
		}
	}
	// The data is gone: so is the reason to pin a service to a node.
	for _, n := range t.Nodes.Nodes {
		for label := range n.Labels {
			if strings.HasPrefix(label, project+".") {
				if err := t.setNodeLabel(ctx, n.ID, label, false); err != nil {
					errs = append(errs, fmt.Errorf("node %s: remove label %s: %w", n.Hostname, label, err))
				}
			}
		}
	}
	return r, errors.Join(errs...)
}

// waitNoTasks waits until the removed services' containers are gone from
// every node the manager knows of.
func (t *Target) waitNoTasks(ctx context.Context, services []swarm.Service, timeout time.Duration) error {
	if len(services) == 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		for _, n := range t.Nodes.Nodes {
			e := t.engine(n)
			if e == nil || n.State != string(swarm.NodeStateReady) {
				continue
			}
			for _, s := range services {
				cs, err := e.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.id="+s.ID))})
				if err != nil {
					return fmt.Errorf("node %s: list containers: %w", n.Hostname, err)
				}
				left += len(cs)
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d task container(s) of the removed services still exist after %s", left, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// retryInUse retries a removal the swarm refuses while something still
// uses the object (a task's endpoint, a container stopping).
func retryInUse(ctx context.Context, fn func() error) error {
	var err error
	for range 60 {
		if err = fn(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	return err
}
