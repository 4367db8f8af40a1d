package deployer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"
	"golang.org/x/sync/errgroup"
)

// ApplyOptions change how a plan is executed.
type ApplyOptions struct {
	Reporter Reporter
	// WaitTimeout bounds each wait for a dependency's condition and the
	// final wait for health.
	WaitTimeout time.Duration
	// Wait makes Apply return only when every container it started is
	// running and, where it has a healthcheck, healthy. Each is waited for
	// from its start, alongside the rest of the plan.
	Wait bool
}

// Apply executes a plan: every action starts as soon as the actions it
// needs are done and its depends_on conditions hold, so independent work
// runs in parallel. The first failure cancels what has not started and is
// returned once running actions stop; since every object is labelled as it
// is created, the next plan starts from whatever was done.
func Apply(ctx context.Context, eng Engine, p *Plan, opts ApplyOptions) error {
	if len(p.Problems) > 0 {
		return fmt.Errorf("the plan has problems: %s", p.Problems[0])
	}
	if opts.Reporter == nil {
		opts.Reporter = Discard
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = 5 * time.Minute
	}
	x := &executor{eng: eng, plan: p, opts: opts, rep: opts.Reporter, done: map[string]chan struct{}{}}
	for _, a := range p.Actions {
		x.done[a.ID] = make(chan struct{})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, a := range p.Actions {
		g.Go(func() error {
			if err := x.run(gctx, a); err != nil {
				return err
			}
			if opts.Wait {
				// at once, so that health is seen when it comes
				return x.waitReady(gctx, a)
			}
			return nil
		})
	}
	return g.Wait()
}

type executor struct {
	eng      Engine
	plan     *Plan
	opts     ApplyOptions
	rep      Reporter
	done     map[string]chan struct{}
	keepOnce sync.Once
	keepErr  error
}

func (x *executor) run(ctx context.Context, a Action) error {
	if err := x.after(ctx, a.Needs); err != nil {
		return err
	}
	on := Event{Action: a.ID, Kind: a.Kind, Name: a.Name, Op: a.Op}
	fail := func(err error) error {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = ctx.Err()
		}
		emit(x.rep, on.failed(err))
		return fmt.Errorf("%s %s %s: %w", a.Op, a.Kind, a.Name, err)
	}
	for _, w := range a.Waits {
		emit(x.rep, on.waiting(w.Service, w.Condition))
		if err := x.waitFor(ctx, w, true); err != nil {
			return fail(err)
		}
		x.reportMet(w)
	}
	emit(x.rep, on.working(a.Reason))
	if a.Kind == KindContainer && a.Op == OpCreate && a.Service != "" {
		// A new container is made while what its start needs finishes.
		svc := x.plan.desired.Service(a.Service)
		id, err := x.createContainer(ctx, svc, a.Name, false)
		if err != nil {
			return fail(err)
		}
		emit(x.rep, on.created())
		if err := x.after(ctx, a.StartNeeds); err != nil {
			return fail(err)
		}
		if err := x.startContainer(ctx, id); err != nil {
			return fail(err)
		}
		emit(x.rep, on.started())
		if err := x.pruneSecrets(ctx, a.Service); err != nil {
			return fail(err)
		}
	} else {
		if err := x.do(ctx, a); err != nil {
			return fail(err)
		}
		if a.Kind == KindContainer && a.Service != "" && a.Op != OpRemove {
			emit(x.rep, on.started())
		}
	}
	emit(x.rep, on.done())
	close(x.done[a.ID])
	return nil
}

// reportMet reports a dependency's container of the plan healthy or
// running once a wait saw it so: its own wait for health may see it later.
func (x *executor) reportMet(w Wait) {
	health := map[string]string{"service_healthy": "healthy", "service_started": "running"}[w.Condition]
	if dep, ok := x.plan.Action("container:" + w.Service); ok && health != "" {
		emit(x.rep, Event{Kind: KindContainer, Name: dep.Name}.health(health))
	}
}

// after blocks until the actions with the given ids are done.
func (x *executor) after(ctx context.Context, ids []string) error {
	for _, id := range ids {
		select {
		case <-x.done[id]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (x *executor) do(ctx context.Context, a Action) error {
	d := x.plan.desired
	switch a.Kind {
	case KindSecret:
		// One write keeps every value: all secret actions share it.
		x.keepOnce.Do(func() { x.keepErr = writeKept(ctx, x.eng, d.Project.Name, x.plan.secrets, x.plan.salt) })
		return x.keepErr
	case KindImage:
		svc := d.Service(a.Service)
		if a.Op == OpBuild {
			return buildImage(ctx, x.eng, d.Project.Name, svc, a.ID, x.rep)
		}
		return pullImage(ctx, x.eng, svc.Image, a.ID, x.rep)
	case KindNetwork:
		return x.createNetwork(ctx, a)
	case KindVolume:
		return x.createVolume(ctx, a)
	case KindContainer:
		switch a.Op {
		case OpCreate: // a service's new container is made by run
			if a.ID == stateActionID {
				return ensureStateHolder(ctx, x.eng, d.Project.Name)
			}
		case OpRecreate:
			if err := x.recreateContainer(ctx, a); err != nil {
				return err
			}
			return x.pruneSecrets(ctx, a.Service)
		case OpStart:
			return x.startContainer(ctx, a.Target)
		case OpRestart:
			if err := x.stopContainer(ctx, a.Target, d.Service(a.Service)); err != nil {
				return err
			}
			return x.startContainer(ctx, a.Target)
		case OpRemove:
			if err := x.removeContainer(ctx, a.Target, d.Service(a.Service)); err != nil {
				return err
			}
			return x.pruneSecrets(ctx, a.Service)
		}
	}
	return fmt.Errorf("no way to %s a %s", a.Op, a.Kind)
}

// pruneSecrets removes the volumes of a service's earlier sets of secrets
// once its container changed.
func (x *executor) pruneSecrets(ctx context.Context, service string) error {
	var keep string
	if svc := x.plan.desired.Service(service); svc != nil && len(svc.Config.Secrets) > 0 {
		keep = serviceSecretsVolume(x.plan.desired.Project.Name, svc.Name, effectiveParts(svc, x.plan.secrets))
	}
	return pruneSecretVolumes(ctx, x.eng, x.plan.desired.Project.Name, service, keep)
}

func (x *executor) createNetwork(ctx context.Context, a Action) error {
	var n *Network
	for _, dn := range x.plan.desired.Networks {
		if "network:"+dn.Key == a.ID {
			n = dn
		}
	}
	opts := networkCreateOptions(x.plan.desired.Project.Name, n, x.plan.observed.Engine)
	_, err := x.eng.NetworkCreate(ctx, n.Name, opts)
	if errdefs.IsConflict(err) {
		return nil // created meanwhile by a concurrent run: fine
	}
	return err
}

// networkCreateOptions is how swdeploy creates a declared network. An
// internal bridge network also loses its address on the host, so that its
// containers cannot reach services listening on the host either.
func networkCreateOptions(project string, n *Network, info EngineInfo) network.CreateOptions {
	cfg := n.Config
	opts := network.CreateOptions{
		Driver: cfg.Driver, Internal: cfg.Internal, Attachable: cfg.Attachable, EnableIPv6: cfg.EnableIPv6,
		Options: map[string]string{},
		Labels:  map[string]string{LabelProject: project, LabelNetwork: n.Key, LabelNetworkHash: n.Hash, LabelVersion: composeVersion},
	}
	for k, v := range cfg.DriverOpts {
		opts.Options[k] = v
	}
	for k, v := range cfg.Labels {
		opts.Labels[k] = v
	}
	if cfg.Internal && (cfg.Driver == "" || cfg.Driver == "bridge") {
		if info.IsolatedGateway() {
			opts.Options["com.docker.network.bridge.gateway_mode_ipv4"] = "isolated"
		} else {
			opts.Options["com.docker.network.bridge.inhibit_ipv4"] = "true"
		}
	}
	if cfg.Ipam.Driver != "" || len(cfg.Ipam.Config) > 0 {
		opts.IPAM = &network.IPAM{Driver: cfg.Ipam.Driver}
		for _, pool := range cfg.Ipam.Config {
			opts.IPAM.Config = append(opts.IPAM.Config, network.IPAMConfig{Subnet: pool.Subnet, IPRange: pool.IPRange, Gateway: pool.Gateway, AuxAddress: pool.AuxiliaryAddresses})
		}
	}
	return opts
}

func (x *executor) createVolume(ctx context.Context, a Action) error {
	for _, v := range x.plan.desired.Volumes {
		if "volume:"+v.Key != a.ID {
			continue
		}
		labels := map[string]string{LabelProject: x.plan.desired.Project.Name, LabelVolume: v.Key, LabelVersion: composeVersion}
		for k, val := range v.Config.Labels {
			labels[k] = val
		}
		_, err := x.eng.VolumeCreate(ctx, volume.CreateOptions{Name: v.Name, Driver: v.Config.Driver, DriverOpts: v.Config.DriverOpts, Labels: labels})
		return err
	}
	return fmt.Errorf("volume %s is not declared", a.Name)
}

// createContainer delivers the service's secrets, creates its container
// under name, connects the networks it could not be created with and, if
// start is set, starts it.
func (x *executor) createContainer(ctx context.Context, svc *Service, name string, start bool) (string, error) {
	d := x.plan.desired
	if len(svc.Config.Secrets) > 0 {
		if err := deliverSecrets(ctx, x.eng, d.Project.Name, svc, x.plan.secrets); err != nil {
			return "", err
		}
	}
	parts := effectiveParts(svc, x.plan.secrets)
	spec, err := buildContainerSpec(d.Project, svc, 1, configHash(parts), parts, x.plan.observed.Engine)
	if err != nil {
		return "", err
	}
	created, err := x.eng.ContainerCreate(ctx, spec.config, spec.host, spec.network, nil, name)
	if err != nil {
		return "", err
	}
	for _, netName := range sortedKeys(spec.extra) {
		if err := x.eng.NetworkConnect(ctx, netName, created.ID, spec.extra[netName]); err != nil {
			return created.ID, fmt.Errorf("connect to network %s: %w", netName, err)
		}
	}
	if start {
		return created.ID, x.startContainer(ctx, created.ID)
	}
	return created.ID, nil
}

// recreateContainer creates the replacement first, under a temporary name,
// so that a configuration the engine rejects leaves the old one running.
// A start-first service's replacement also runs and becomes healthy before
// the old container stops; if it does not, it is removed and the old one
// keeps serving.
func (x *executor) recreateContainer(ctx context.Context, a Action) error {
	svc := x.plan.desired.Service(a.Service)
	tmp := a.Target[:12] + "_" + a.Name
	rolling := startFirst(svc)
	id, err := x.createContainer(ctx, svc, tmp, rolling)
	if err != nil {
		x.discard(ctx, id)
		return err
	}
	if rolling {
		emit(x.rep, Event{Action: a.ID, Kind: KindContainer, Name: a.Name, Op: a.Op, Status: StatusWaiting, Replacement: true, Condition: readyCondition(svc)})
		if err := x.waitID(ctx, id, svc.Name, readyCondition(svc)); err != nil {
			x.discard(ctx, id)
			return fmt.Errorf("rolled back, the old container keeps serving: the replacement %w", err)
		}
	}
	if err := x.removeContainer(ctx, a.Target, svc); err != nil {
		x.discard(ctx, id)
		return err
	}
	if err := x.eng.ContainerRename(ctx, id, a.Name); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if rolling {
		return nil
	}
	return x.startContainer(ctx, id)
}

// discard removes a replacement that will not be used, even when ctx was
// cancelled: an interrupted up must not leave it behind.
func (x *executor) discard(ctx context.Context, id string) {
	if id == "" {
		return
	}
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = x.eng.ContainerRemove(rmCtx, id, container.RemoveOptions{Force: true})
}

// startFirst reports whether a service's containers are replaced by
// starting the new one before stopping the old (deploy.update_config.order:
// start-first). Two containers cannot publish one host port, so a service
// that publishes ports is replaced stop-first: put a proxy in front of it.
func startFirst(svc *Service) bool {
	d := svc.Config.Deploy
	return d != nil && d.UpdateConfig != nil && d.UpdateConfig.Order == "start-first" && len(svc.Config.Ports) == 0
}

// readyCondition is what "started" means for a service: healthy when it has
// a healthcheck, running otherwise.
func readyCondition(svc *Service) string {
	if h := svc.Config.HealthCheck; h != nil && !h.Disable {
		return "service_healthy"
	}
	return "service_started"
}

func (x *executor) startContainer(ctx context.Context, id string) error {
	return x.eng.ContainerStart(ctx, id, container.StartOptions{})
}

func (x *executor) stopContainer(ctx context.Context, id string, svc *Service) error {
	opts := container.StopOptions{}
	if svc != nil && svc.Config.StopGracePeriod != nil {
		secs := int(time.Duration(*svc.Config.StopGracePeriod).Seconds())
		opts.Timeout = &secs
	}
	return x.eng.ContainerStop(ctx, id, opts)
}

func (x *executor) removeContainer(ctx context.Context, id string, svc *Service) error {
	if err := x.stopContainer(ctx, id, svc); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop: %w", err)
	}
	err := x.eng.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// waitReady waits until a container the action created, recreated or
// started is running, and healthy where it has a healthcheck.
func (x *executor) waitReady(ctx context.Context, a Action) error {
	if a.Kind != KindContainer || a.Op == OpRemove || a.Service == "" {
		return nil // the state holder is never started
	}
	svc := x.plan.desired.Service(a.Service)
	cond := readyCondition(svc)
	if cond == "service_started" && (svc.Config.Restart == "" || svc.Config.Restart == "no") {
		return nil // may be a one-shot job: nothing to wait for
	}
	on := Event{Kind: KindContainer, Name: a.Name}
	emit(x.rep, on.waiting("", cond))
	if err := x.waitFor(ctx, Wait{Service: a.Service, Condition: cond, Required: true}, false); err != nil {
		return err
	}
	emit(x.rep, on.health(map[string]string{"service_healthy": "healthy", "service_started": "running"}[cond]))
	return nil
}
