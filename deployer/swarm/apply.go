package swarm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"

	"github.com/fathat101/swdeploy/deployer"
)

// ApplyOptions shape a run of Apply.
type ApplyOptions struct {
	Reporter deployer.Reporter
	// Wait for the last services' rollouts too, not only for those others
	// depend on.
	Wait bool
	// WaitTimeout bounds each service's rollout.
	WaitTimeout time.Duration
}

// Apply carries out a plan: nodes labelled, networks, images made and
// copied or pushed, secrets created, then the services in dependency
// order, each waiting for what it depends on to be healthy, then the
// orphans and the secret versions no service uses any more. A service
// whose rollout fails is rolled back by the swarm (failure_action
// rollback) and Apply returns a *RolloutError.
func (t *Target) Apply(ctx context.Context, pl *Planned, opts ApplyOptions) error {
	if opts.Reporter == nil {
		opts.Reporter = deployer.Discard
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = 5 * time.Minute
	}
	x := &applier{t: t, pl: pl, opts: opts, images: map[string]string{}, versions: map[string]SecretVersion{}}
	for _, s := range pl.Services {
		x.images[s.Service] = s.Image
	}
	for k, c := range pl.Secrets {
		x.versions[k] = c.Version
	}
	var services, prep []deployer.Action
	for _, a := range pl.Plan.Actions {
		switch {
		case a.Kind == deployer.KindService && a.Op != deployer.OpRemove:
			services = append(services, a)
		case a.Kind == deployer.KindService || (a.Kind == deployer.KindSecret && a.Op == deployer.OpRemove):
			// after the services
		default:
			prep = append(prep, a)
		}
	}
	if err := x.prepareAll(ctx, prep); err != nil {
		return err
	}
	if err := x.services(ctx, services); err != nil {
		return err
	}
	for _, a := range pl.Plan.Actions {
		if a.Kind == deployer.KindService && a.Op == deployer.OpRemove {
			if err := x.step(ctx, a, func() error { return ignoreNotFound(t.Client.ServiceRemove(ctx, a.Target)) }); err != nil {
				return err
			}
		}
	}
	keep := map[string]bool{}
	for _, v := range x.versions {
		keep[v.Name] = true
	}
	removed, err := t.pruneSecrets(ctx, pl.Desired.Project.Name, keep)
	for _, v := range removed {
		emit(opts.Reporter, deployer.Event{Action: "secret-version:" + v.Name, Kind: deployer.KindSecret, Name: v.Name, Op: deployer.OpRemove, Status: deployer.StatusDone})
	}
	return err
}

type applier struct {
	t    *Target
	pl   *Planned
	opts ApplyOptions
	mu   sync.Mutex
	// images maps a service to what its tasks run, once made; versions a
	// secret to its version, with its ID once created.
	images   map[string]string
	versions map[string]SecretVersion
}

func emit(r deployer.Reporter, e deployer.Event) {
	e.Time = time.Now()
	r.Report(e)
}

// step reports an action's start and end around fn.
func (x *applier) step(ctx context.Context, a deployer.Action, fn func() error) error {
	ev := deployer.Event{Action: a.ID, Kind: a.Kind, Name: a.Name, Op: a.Op}
	w := ev
	w.Status, w.Reason = deployer.StatusWorking, a.Reason
	emit(x.opts.Reporter, w)
	if err := fn(); err != nil {
		f := ev
		f.Status, f.Err = deployer.StatusFailed, err.Error()
		emit(x.opts.Reporter, f)
		return fmt.Errorf("%s %s %s: %w", a.Op, a.Kind, a.Name, err)
	}
	ev.Status = deployer.StatusDone
	emit(x.opts.Reporter, ev)
	return nil
}

// prepareAll runs the actions that come before the services, each once
// the actions it needs are done: builds, copies and secrets at once.
func (x *applier) prepareAll(ctx context.Context, actions []deployer.Action) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := map[string]chan struct{}{}
	for _, a := range actions {
		done[a.ID] = make(chan struct{})
	}
	errs := make([]error, len(actions))
	var wg sync.WaitGroup
	for i, a := range actions {
		wg.Go(func() {
			for _, need := range a.Needs {
				ch, ok := done[need]
				if !ok {
					continue // not an action of this stage
				}
				select {
				case <-ch:
				case <-ctx.Done():
					errs[i] = context.Cause(ctx)
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			if err := x.step(ctx, a, func() error { return x.prepare(ctx, a) }); err != nil {
				errs[i] = err
				cancel(err)
				return
			}
			close(done[a.ID])
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// prepare does one action that comes before the services.
func (x *applier) prepare(ctx context.Context, a deployer.Action) error {
	c, d := x.t.Client, x.pl.Desired
	project := d.Project.Name
	switch {
	case a.Kind == deployer.KindNode:
		return x.t.pin(ctx, x.pl.Pins[a.Service].Node.ID, PinLabel(project, a.Service))
	case a.Kind == deployer.KindNetwork:
		for _, n := range d.Networks {
			if n.Name == a.Name {
				return createNetwork(ctx, c, project, n)
			}
		}
	case a.Op == deployer.OpBuild:
		svc := d.Service(a.Service)
		if err := deployer.BuildImage(ctx, c, project, svc, a.ID, x.opts.Reporter); err != nil {
			return err
		}
		return x.madeImage(ctx, svc.Image)
	case a.Op == deployer.OpPull:
		if err := deployer.PullImage(ctx, c, a.Name, a.ID, x.opts.Reporter); err != nil {
			return err
		}
		return x.madeImage(ctx, a.Name)
	case a.Op == deployer.OpPush:
		ref, err := x.t.push(ctx, a.Name)
		if err != nil {
			return err
		}
		x.setImage(a.Name, ref)
		return nil
	case a.Op == deployer.OpCopy:
		id := x.imageOf(a.Service)
		copies, err := DistributeTo(ctx, c, x.t.Nodes, id, x.pl.CopyTo[d.Service(a.Service).Image])
		for _, cp := range copies {
			if cp.Copied {
				emit(x.opts.Reporter, deployer.Event{Action: a.ID, Kind: deployer.KindImage, Name: a.Name, Status: deployer.StatusProgress, Line: "copied to " + cp.Node})
			}
		}
		return err
	case a.Kind == deployer.KindSecret:
		ch := x.pl.Secrets[trimID(a.ID, "secret:")]
		got, _, err := CreateSecrets(ctx, c, project, []SecretValue{{Version: ch.Version, Value: ch.Value}})
		if err != nil {
			return err
		}
		x.mu.Lock()
		x.versions[ch.Key] = got[0]
		x.mu.Unlock()
		return nil
	}
	return fmt.Errorf("no way to apply action %s", a.ID)
}

func trimID(id, prefix string) string { return id[len(prefix):] }

// madeImage records the ID of a built or pulled image for the services
// that run that reference.
func (x *applier) madeImage(ctx context.Context, ref string) error {
	img, err := x.t.Client.ImageInspect(ctx, ref)
	if err != nil {
		return fmt.Errorf("inspect %s after making it: %w", ref, err)
	}
	x.setImage(ref, img.ID)
	return nil
}

func (x *applier) setImage(ref, image string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, svc := range x.pl.Desired.Services {
		if svc.Image == ref {
			x.images[svc.Name] = image
		}
	}
}

func (x *applier) imageOf(service string) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.images[service]
}

func createNetwork(ctx context.Context, c Client, project string, n *deployer.Network) error {
	labels := map[string]string{}
	maps.Copy(labels, n.Config.Labels)
	maps.Copy(labels, map[string]string{LabelProject: project, deployer.LabelNetwork: n.Key, deployer.LabelNetworkHash: n.Hash})
	_, err := c.NetworkCreate(ctx, n.Name, network.CreateOptions{
		Driver: "overlay", Scope: "swarm", Internal: n.Config.Internal, Attachable: n.Config.Attachable,
		Options: n.Config.DriverOpts, Labels: labels,
	})
	if errdefs.IsConflict(err) {
		return nil // made meanwhile by a concurrent run
	}
	return err
}

// pin labels a node to hold a stateful service.
func (t *Target) pin(ctx context.Context, nodeID, label string) error {
	return t.setNodeLabel(ctx, nodeID, label, true)
}

func (t *Target) setNodeLabel(ctx context.Context, nodeID, label string, set bool) error {
	// One update of a node's spec at a time: each names the version it
	// read, and a second one in flight would be out of sequence.
	t.nodeMu.Lock()
	defer t.nodeMu.Unlock()
	for range 5 { // another client may update the node meanwhile: read again and retry
		n, _, err := t.Client.NodeInspectWithRaw(ctx, nodeID)
		if err != nil {
			return err
		}
		spec := n.Spec
		spec.Labels = maps.Clone(spec.Labels)
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		if set {
			spec.Labels[label] = "true"
		} else {
			delete(spec.Labels, label)
		}
		err = t.Client.NodeUpdate(ctx, nodeID, n.Version, spec)
		if err == nil || !strings.Contains(err.Error(), "out of sequence") && !errdefs.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("node %s kept changing while its labels were updated", nodeID)
}

// services creates or updates the services, each once what it waits for
// holds; services that nothing orders run at once.
func (x *applier) services(ctx context.Context, actions []deployer.Action) error {
	done := map[string]chan struct{}{}
	for _, a := range actions {
		done[a.Service] = make(chan struct{})
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errs := make([]error, len(actions))
	var wg sync.WaitGroup
	for i, a := range actions {
		wg.Go(func() {
			defer close(done[a.Service])
			err := x.service(ctx, a, done)
			if err != nil {
				errs[i] = err
				if !errors.As(err, new(*RolloutError)) {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// service rolls out one service once its dependencies hold.
func (x *applier) service(ctx context.Context, a deployer.Action, done map[string]chan struct{}) error {
	ev := deployer.Event{Action: a.ID, Kind: deployer.KindService, Name: a.Name, Op: a.Op}
	for _, w := range a.Waits {
		if ch, ok := done[w.Service]; ok {
			select {
			case <-ch:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		wait := ev
		wait.Status, wait.Service, wait.Condition = deployer.StatusWaiting, w.Service, w.Condition
		emit(x.opts.Reporter, wait)
		if err := x.t.waitCondition(ctx, x.pl.Desired.Project.Name+"_"+w.Service, w.Condition, x.opts.WaitTimeout); err != nil {
			if !w.Required {
				continue
			}
			fail := ev
			fail.Status, fail.Err = deployer.StatusFailed, err.Error()
			emit(x.opts.Reporter, fail)
			return fmt.Errorf("service %s waits for %s %s: %w", a.Service, w.Service, w.Condition, err)
		}
	}
	spec, err := x.spec(a.Service)
	if err != nil {
		return err
	}
	working := ev
	working.Status, working.Reason = deployer.StatusWorking, a.Reason
	emit(x.opts.Reporter, working)
	since := time.Now()
	id, err := x.t.deploy(ctx, a, spec)
	if err != nil {
		fail := ev
		fail.Status, fail.Err = deployer.StatusFailed, err.Error()
		emit(x.opts.Reporter, fail)
		return fmt.Errorf("%s service %s: %w", a.Op, a.Name, err)
	}
	if x.opts.Wait || x.dependedOn(a.Service) {
		if err := x.t.converge(ctx, id, a.Service, since, x.opts.WaitTimeout); err != nil {
			fail := ev
			fail.Status, fail.Err = deployer.StatusFailed, err.Error()
			emit(x.opts.Reporter, fail)
			return err
		}
	}
	ev.Status = deployer.StatusDone
	emit(x.opts.Reporter, ev)
	return nil
}

func (x *applier) dependedOn(service string) bool {
	for _, s := range x.pl.Desired.Services {
		if _, ok := s.Config.DependsOn[service]; ok {
			return true
		}
	}
	return false
}

// spec translates the service again with the images and secret versions
// apply has settled.
func (x *applier) spec(service string) (swarm.ServiceSpec, error) {
	x.mu.Lock()
	images, versions := maps.Clone(x.images), maps.Clone(x.versions)
	x.mu.Unlock()
	s, _, err := translate(x.pl.Desired, x.pl.Desired.Service(service), Inputs{Images: images, Secrets: versions})
	if err != nil {
		return swarm.ServiceSpec{}, err
	}
	s.constrainPublished()
	return s.ToSwarm(), nil
}

// deploy creates or updates a service and returns its ID. An update whose
// spec equals the swarm's forces new tasks: the plan asked for it because
// tasks do not run.
func (t *Target) deploy(ctx context.Context, a deployer.Action, spec swarm.ServiceSpec) (string, error) {
	auth, err := pullAuth(ctx, spec.TaskTemplate.ContainerSpec.Image)
	if err != nil {
		return "", err
	}
	if a.Op == deployer.OpCreate {
		resp, err := t.Client.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{EncodedRegistryAuth: auth})
		if err != nil {
			return "", err
		}
		return resp.ID, nil
	}
	cur, _, err := t.Client.ServiceInspectWithRaw(ctx, a.Target, swarm.ServiceInspectOptions{})
	if err != nil {
		return "", err
	}
	spec.TaskTemplate.ForceUpdate = cur.Spec.TaskTemplate.ForceUpdate
	if summarize(spec).diff(summarize(cur.Spec)) == nil && cur.Spec.Labels[deployer.LabelConfigHash] == spec.Labels[deployer.LabelConfigHash] {
		spec.TaskTemplate.ForceUpdate++
	}
	_, err = t.Client.ServiceUpdate(ctx, cur.ID, cur.Version, spec, swarm.ServiceUpdateOptions{EncodedRegistryAuth: auth})
	return cur.ID, err
}

// pruneSecrets removes the project's versions that are not wanted and
// that no service's current spec uses: once every service has moved, the
// old value of a rotated secret is gone, even from the rollback spec.
func (t *Target) pruneSecrets(ctx context.Context, project string, keep map[string]bool) ([]SecretVersion, error) {
	have, err := ListSecrets(ctx, t.Client, project)
	if err != nil {
		return nil, err
	}
	services, err := t.Client.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	used := maps.Clone(keep)
	for _, s := range services {
		if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, ref := range cs.Secrets {
				used[ref.SecretName] = true
			}
		}
	}
	var removed []SecretVersion
	var errs []error
	for _, v := range Prunable(project, have, used) {
		if err := t.Client.SecretRemove(ctx, v.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove secret %s: %w", v.Name, err))
			continue
		}
		removed = append(removed, v)
	}
	return removed, errors.Join(errs...)
}

func ignoreNotFound(err error) error {
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// projectFilter selects the project's objects.
func projectFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelProject+"="+project))
}
