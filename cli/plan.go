package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
)

type planOptions struct {
	plan             planFlags
	format           string
	detailedExitCode bool
}

func newPlanCmd(deps Deps, g *globalOptions) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what up would change, without changing anything",
		Long: `plan compares the file with the engine and prints the actions up would take,
each with its reason. With --detailed-exitcode it exits 0 when there is
nothing to do, 2 when there are changes and 1 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return planRun(cmd, deps, g, o) },
	}
	o.plan.register(cmd)
	cmd.Flags().StringVar(&o.format, "format", "text", "output format: text or json")
	cmd.Flags().BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 2 when the plan has changes")
	return cmd
}

func planRun(cmd *cobra.Command, deps Deps, g *globalOptions, o *planOptions) error {
	ctx := cmd.Context()
	if o.format != "text" && o.format != "json" {
		return usage(fmt.Errorf("--format %q: want text or json", o.format))
	}
	opts, err := o.plan.options()
	if err != nil {
		return err
	}
	if g.swarm() {
		return swarmPlanRun(ctx, deps, g, o, opts)
	}
	d, eng, err := g.open(ctx, deps)
	if err != nil {
		return err
	}
	p, err := deployer.MakePlan(ctx, eng, d, deps.Secrets, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(deps.Streams.ErrOut, "Target:", engineTarget(eng))
	return writePlan(deps, p, o)
}

// writePlan prints a plan as text or JSON; with --detailed-exitcode a
// plan with changes exits 2.
func writePlan(deps Deps, p *deployer.Plan, o *planOptions) error {
	if o.format == "json" {
		enc := json.NewEncoder(deps.Streams.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			return err
		}
	} else if err := p.WriteText(deps.Streams.Out); err != nil {
		return err
	}
	if o.detailedExitCode && !p.Empty() {
		return &exitError{code: 2}
	}
	return nil
}

// engineTarget is the Target line of the engine target.
func engineTarget(eng deployer.Engine) string {
	if h, ok := eng.(interface{ DaemonHost() string }); ok {
		return "engine " + h.DaemonHost()
	}
	return "engine"
}
