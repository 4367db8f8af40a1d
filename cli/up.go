package cli

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
)

type upOptions struct {
	plan        planFlags
	wait        bool
	waitTimeout time.Duration
	lockTimeout time.Duration
	yes         bool
	format      string
	timings     bool
}

// planFlags are shared by plan and up: they change the plan itself.
type planFlags struct {
	removeOrphans bool
	pull          string
	forceRecreate bool
}

func (f *planFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.removeOrphans, "remove-orphans", false, "remove containers of services not in the file")
	cmd.Flags().StringVar(&f.pull, "pull", "", "pull policy for every pulled image: missing, always or never (default: the file's)")
	cmd.Flags().BoolVar(&f.forceRecreate, "force-recreate", false, "recreate every container even if nothing changed")
}

func (f *planFlags) options() (deployer.Options, error) {
	switch f.pull {
	case "", "missing", "always", "never":
	default:
		return deployer.Options{}, usage(fmt.Errorf("--pull %q: want missing, always or never", f.pull))
	}
	return deployer.Options{RemoveOrphans: f.removeOrphans, Pull: f.pull, ForceRecreate: f.forceRecreate}, nil
}

func newUpCmd(deps Deps, g *globalOptions) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update the stack so that it matches the file",
		Long: `up builds what changed, creates missing networks, volumes and secrets, and
(re)creates only the containers whose configuration or image changed, in
dependency order, waiting for health where depends_on asks for it. An
up-to-date stack is left untouched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return upRun(cmd, deps, g, o) },
	}
	o.plan.register(cmd)
	cmd.Flags().BoolVar(&o.wait, "wait", true, "wait until every started container is running and healthy")
	cmd.Flags().DurationVar(&o.waitTimeout, "wait-timeout", 5*time.Minute, "how long each health wait may take")
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask before actions that cause downtime")
	cmd.Flags().DurationVar(&o.lockTimeout, "lock-timeout", 0, "wait this long for another run's deploy lock (default: fail at once)")
	cmd.Flags().Var(newChoiceFlag(&o.format, "text", "text", "json"), "format", "output format: text, or json: a summary of the run on standard output")
	cmd.Flags().BoolVar(&o.timings, "timings", false, "after the run, print when each container was created, started and healthy, and the critical path (in the JSON summary with --format json)")
	return cmd
}

func upRun(cmd *cobra.Command, deps Deps, g *globalOptions, o *upOptions) (err error) {
	ctx := cmd.Context()
	rep, err := newReporter(g.progress, deps.Streams)
	if err != nil {
		return err
	}
	opts, err := o.plan.options()
	if err != nil {
		return err
	}
	if g.swarm() {
		return swarmUpRun(ctx, deps, g, o, rep, opts)
	}
	d, eng, err := g.open(ctx, deps)
	if err != nil {
		return err
	}
	// Plan first, without the lock: an up with nothing to do writes
	// nothing to the engine, not even the lock.
	p, err := deployer.MakePlan(ctx, eng, d, deps.Secrets, opts)
	if err != nil {
		return err
	}
	if len(p.Problems) == 0 && !p.Empty() {
		locked, unlock, err := lock(ctx, eng, d.Project.Name, o.lockTimeout)
		if err != nil {
			return err
		}
		defer unlock()
		ctx = locked
		// Another run may have changed the engine before the lock was
		// ours: what is applied is planned under the lock.
		if p, err = deployer.PlanLocked(ctx, eng, d, deps.Secrets, opts); err != nil {
			return lockLost(ctx, err)
		}
	}
	// The closing line must come after the live view has ended, or its
	// last redraw would cover it: deferred first, it runs last.
	var closing string
	defer func() {
		if err == nil && closing != "" {
			fmt.Fprintln(deps.Streams.ErrOut, closing)
		}
	}()
	// Ends the live view before any error is printed, and writes the JSON
	// summary whatever the outcome.
	defer finishUp(deps, o.format, o.timings, p, rep, time.Now(), &err)
	for _, w := range p.Warnings {
		fmt.Fprintln(deps.Streams.ErrOut, "warning:", w)
	}
	if len(p.Problems) > 0 {
		return usage(fmt.Errorf("cannot apply the plan: %s", strings.Join(p.Problems, "; ")))
	}
	if p.Empty() {
		fmt.Fprintf(deps.Streams.ErrOut, "Project %s is up to date.\n", p.Project)
		return nil
	}
	if err := confirmDowntime(deps, p, o.yes); err != nil {
		return err
	}
	start := time.Now()
	err = deployer.Apply(ctx, eng, p, deployer.ApplyOptions{Reporter: rep, Wait: o.wait, WaitTimeout: o.waitTimeout})
	if err != nil {
		return lockLost(ctx, err)
	}
	closing = fmt.Sprintf("Project %s is up (%d action(s) in %.1fs).", p.Project, len(p.Actions), time.Since(start).Seconds())
	return nil
}

// confirmDowntime asks on a terminal before actions that stop a running
// service, unless --yes. Without a terminal (CI) nobody can answer: it says
// what will stop and goes on, as the plan already announced it.
func confirmDowntime(deps Deps, p *deployer.Plan, yes bool) error {
	var down []string
	for _, a := range p.Actions {
		if a.Downtime {
			down = append(down, fmt.Sprintf("%s %s (%s)", a.Op, a.Service, a.Reason))
		}
	}
	if len(down) == 0 || yes {
		return nil
	}
	if !deps.Streams.ErrTTY {
		fmt.Fprintf(deps.Streams.ErrOut, "notice: with downtime: %s\n", strings.Join(down, "; "))
		return nil
	}
	fmt.Fprintf(deps.Streams.ErrOut, "These actions stop a running service:\n  %s\nContinue? [y/N] ", strings.Join(down, "\n  "))
	answer, _ := bufio.NewReader(deps.Streams.In).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return fmt.Errorf("cancelled")
	}
	return nil
}
