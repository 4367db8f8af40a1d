package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fathat101/swdeploy/deployer"
	"github.com/fathat101/swdeploy/deployer/swarm"
)

// The swarm target: the same commands, through swarm.Target instead of
// the deployer's engine functions. Each run* function here is the swarm
// branch of its command.

// swarm reports whether --target (or SWDEPLOY_TARGET) names the swarm.
func (g *globalOptions) swarm() bool { return g.target == deployer.TargetSwarm }

func (g *globalOptions) checkTarget() error {
	switch g.target {
	case deployer.TargetEngine, deployer.TargetSwarm:
		return nil
	}
	return usage(fmt.Errorf("--target %q: want engine or swarm", g.target))
}

// openSwarm loads the stack and opens the swarm: the manager is the engine
// -H (or DOCKER_HOST, the context) names; the node hosts are the other
// nodes' engines.
func (g *globalOptions) openSwarm(ctx context.Context, deps Deps) (*deployer.Desired, *swarm.Target, error) {
	d, err := g.desired(ctx, deps)
	if err != nil {
		return nil, nil, err
	}
	t, err := g.connectSwarm(ctx, deps)
	return d, t, err
}

func (g *globalOptions) connectSwarm(ctx context.Context, deps Deps) (*swarm.Target, error) {
	eng, err := g.connect(ctx, deps)
	if err != nil {
		return nil, err
	}
	c, ok := eng.(swarm.Client)
	if !ok {
		return nil, fmt.Errorf("the engine connection cannot speak the swarm API")
	}
	address := g.host
	if h, ok := eng.(interface{ DaemonHost() string }); ok {
		address = h.DaemonHost()
	}
	return swarm.Open(ctx, c, address, g.nodeHosts, swarm.EngineConnector(g.connectTimeout))
}

func swarmPlanRun(ctx context.Context, deps Deps, g *globalOptions, o *planOptions, opts deployer.Options) error {
	d, t, err := g.openSwarm(ctx, deps)
	if err != nil {
		return err
	}
	defer t.Close()
	fmt.Fprintln(deps.Streams.ErrOut, "Target:", t.Describe())
	pl, err := t.Plan(ctx, d, deps.Secrets, opts)
	if err != nil {
		return err
	}
	return writePlan(deps, pl.Plan, o)
}

func swarmUpRun(ctx context.Context, deps Deps, g *globalOptions, o *upOptions, rep deployer.Reporter, opts deployer.Options) (err error) {
	d, t, err := g.openSwarm(ctx, deps)
	if err != nil {
		endProgress(rep)
		return err
	}
	defer t.Close()
	fmt.Fprintln(deps.Streams.ErrOut, "Target:", t.Describe())
	pl, err := t.Plan(ctx, d, deps.Secrets, opts)
	if err != nil {
		endProgress(rep)
		return err
	}
	if len(pl.Plan.Problems) == 0 && !pl.Plan.Empty() {
		locked, unlock, err := lock(ctx, t.Client, d.Project.Name, o.lockTimeout)
		if err != nil {
			endProgress(rep)
			return err
		}
		defer unlock()
		ctx = locked
		if pl, err = t.Plan(ctx, d, deps.Secrets, opts); err != nil {
			endProgress(rep)
			return lockLost(ctx, err)
		}
	}
	var closing string
	defer func() {
		if err == nil && closing != "" {
			fmt.Fprintln(deps.Streams.ErrOut, closing)
		}
	}()
	defer finishUp(deps, o.format, false, pl.Plan, rep, time.Now(), &err)
	for _, w := range pl.Plan.Warnings {
		fmt.Fprintln(deps.Streams.ErrOut, "warning:", w)
	}
	for _, n := range pl.Plan.Notes {
		fmt.Fprintln(deps.Streams.ErrOut, "note:", n)
	}
	if len(pl.Plan.Problems) > 0 {
		return usage(fmt.Errorf("cannot apply the plan: %s", strings.Join(pl.Plan.Problems, "; ")))
	}
	if pl.Plan.Empty() {
		fmt.Fprintf(deps.Streams.ErrOut, "Project %s is up to date.\n", pl.Plan.Project)
		return nil
	}
	if err := confirmDowntime(deps, pl.Plan, o.yes); err != nil {
		return err
	}
	start := time.Now()
	err = t.Apply(ctx, pl, swarm.ApplyOptions{Reporter: rep, Wait: o.wait, WaitTimeout: o.waitTimeout})
	if err != nil {
		return lockLost(ctx, err)
	}
	closing = fmt.Sprintf("Project %s is up on the swarm (%d action(s) in %.1fs).", pl.Plan.Project, len(pl.Plan.Actions), time.Since(start).Seconds())
	return nil
}

func swarmStatusRun(ctx context.Context, deps Deps, g *globalOptions, project, format string) error {
	t, err := g.connectSwarm(ctx, deps)
	if err != nil {
		return err
	}
	defer t.Close()
	list, err := t.Status(ctx, project)
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(deps.Streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"schema_version": 1, "project": project, "target": deployer.TargetSwarm, "nodes": t.Nodes.Nodes, "services": list})
	}
	fmt.Fprintln(deps.Streams.ErrOut, "Target:", t.Describe())
	tw := tabwriter.NewWriter(deps.Streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tTASK\tNODE\tSTATE\tHEALTH\tREPLICAS\tIMAGE\tERROR")
	for _, s := range list {
		if len(s.Tasks) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\t%s\t-\n", s.Service, s.Replicas, shortImage(s.Image))
		}
		for _, tk := range s.Tasks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Service, tk.ID[:min(12, len(tk.ID))], tk.Node, tk.State, dash(tk.Health), s.Replicas, shortImage(s.Image), dash(tk.Error))
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortImage keeps an image ID or digest readable in a table.
func shortImage(ref string) string {
	if i := strings.Index(ref, "sha256:"); i >= 0 && len(ref) > i+19 {
		return ref[:i+19]
	}
	return ref
}

func swarmLogsRun(ctx context.Context, deps Deps, g *globalOptions, project string, o deployer.LogsOptions, fn func(deployer.LogLine)) error {
	t, err := g.connectSwarm(ctx, deps)
	if err != nil {
		return err
	}
	defer t.Close()
	return t.Logs(ctx, project, o, fn)
}

func swarmDownRun(ctx context.Context, deps Deps, g *globalOptions, o *downOptions, rep deployer.Reporter) error {
	defer endProgress(rep)
	d, t, err := g.openSwarm(ctx, deps)
	if err != nil {
		return err
	}
	defer t.Close()
	locked, unlock, err := lock(ctx, t.Client, d.Project.Name, o.lockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := t.Down(locked, d.Project.Name, o.volumes, rep)
	if err != nil {
		return lockLost(locked, err)
	}
	endProgress(rep)
	if len(r.Unreached) > 0 {
		fmt.Fprintf(deps.Streams.ErrOut, "warning: the volumes on %s were not removed: swdeploy does not reach their engines (give them with --node-host)\n", strings.Join(r.Unreached, ", "))
	}
	fmt.Fprintf(deps.Streams.ErrOut, "Project %s is down: %d service(s), %d network(s), %d secret(s), %d volume(s) removed.\n",
		d.Project.Name, len(r.Services), len(r.Networks), len(r.Secrets), len(r.Volumes))
	return nil
}

// swarmSecrets lists the secrets' sources on the swarm: kept values are
// swarm secrets, which nothing can read back.
func swarmSecretRows(ctx context.Context, deps Deps, g *globalOptions) ([]secretRow, error) {
	d, t, err := g.openSwarm(ctx, deps)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	pl, err := t.Plan(ctx, d, deps.Secrets, deployer.Options{})
	if err != nil {
		return nil, err
	}
	var rows []secretRow
	for _, s := range d.Secrets {
		c := pl.Secrets[s.Key]
		src := c.Source + " (" + c.Version.Name + ")"
		if c.Create && c.Source == "generated" {
			src = "not kept yet: up will generate it"
		}
		rows = append(rows, secretRow{Name: s.Key, Source: src, Env: deployer.SecretEnvName(s.Key), value: c.Value})
	}
	return rows, nil
}
