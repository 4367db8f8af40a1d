package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
)

func newUnlockCmd(deps Deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock",
		Short: "Break the project's deploy lock, left by a run that was killed",
		Long: `up and down hold a lock on the engine while they change it, so that two runs
never change a project at once. The holder renews the lock every 15 seconds;
the lock of a run that was killed expires a minute after its last renewal,
or unlock breaks it now. Only use it when the holder it names is really gone:
a live holder that finds its lock broken stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.loadStack(ctx, deps)
			if err != nil {
				return err
			}
			eng, err := g.connect(ctx, deps)
			if err != nil {
				return err
			}
			if err := deployer.Unlock(ctx, eng, st.Project.Name); err != nil {
				return err
			}
			fmt.Fprintf(deps.Streams.ErrOut, "Project %s is unlocked.\n", st.Project.Name)
			return nil
		},
	}
}
