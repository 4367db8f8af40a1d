package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
)

type downOptions struct {
	volumes     bool
	rmi         string
	lockTimeout time.Duration
}

func newDownCmd(deps Deps, g *globalOptions) *cobra.Command {
	o := &downOptions{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the stack's containers and networks",
		Long: `down removes the project's containers and networks. Volumes (and with them
the data and the kept secrets) only go with --volumes; built images only with
--rmi local, pulled ones too with --rmi all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if o.rmi != "" && o.rmi != "local" && o.rmi != "all" {
				return usage(fmt.Errorf("--rmi %q: want local or all", o.rmi))
			}
			rep, err := newReporter(g.progress, deps.Streams)
			if err != nil {
				return err
			}
			if g.swarm() {
				return swarmDownRun(ctx, deps, g, o, rep)
			}
			defer endProgress(rep)
			d, eng, err := g.open(ctx, deps)
			if err != nil {
				return err
			}
			locked, unlock, err := lock(ctx, eng, d.Project.Name, o.lockTimeout)
			if err != nil {
				return err
			}
			defer unlock()
			err = deployer.Down(locked, eng, d.Project.Name, d, deployer.DownOptions{Volumes: o.volumes, Images: o.rmi, Reporter: rep})
			if err != nil {
				return lockLost(locked, err)
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Project %s is down.\n", d.Project.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&o.volumes, "volumes", "v", false, "also remove the project's volumes (data and kept secrets)")
	cmd.Flags().StringVar(&o.rmi, "rmi", "", "also remove images: local (built) or all")
	cmd.Flags().DurationVar(&o.lockTimeout, "lock-timeout", 0, "wait this long for another run's deploy lock (default: fail at once)")
	return cmd
}
