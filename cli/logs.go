package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
)

func newLogsCmd(deps Deps, g *globalOptions) *cobra.Command {
	o := deployer.LogsOptions{}
	var noPrefix bool
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show the output of the stack's containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := g.loadStack(ctx, deps)
			if err != nil {
				return err
			}
			for _, s := range args {
				if _, ok := st.Project.Services[s]; !ok {
					return usage(fmt.Errorf("no such service: %s", s))
				}
			}
			o.Services = args
			width := 0
			for name := range st.Project.Services {
				width = max(width, len(name))
			}
			print := func(l deployer.LogLine) {
				if noPrefix {
					fmt.Fprintln(deps.Streams.Out, l.Text)
					return
				}
				fmt.Fprintf(deps.Streams.Out, "%-*s | %s\n", width, l.Service, l.Text)
			}
			if g.swarm() {
				return swarmLogsRun(ctx, deps, g, st.Project.Name, o, print)
			}
			eng, err := g.connect(ctx, deps)
			if err != nil {
				return err
			}
			return deployer.Logs(ctx, eng, st.Project.Name, o, print)
		},
	}
	cmd.Flags().BoolVar(&o.Follow, "follow", false, "keep streaming new output (-f after logs)")
	cmd.Flags().StringVarP(&o.Tail, "tail", "n", "all", "number of lines to show from the end of each log")
	cmd.Flags().BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	cmd.Flags().StringVar(&o.Since, "since", "", "show logs since a timestamp or relative time (e.g. 10m)")
	cmd.Flags().BoolVar(&noPrefix, "no-log-prefix", false, "do not print the service name before each line")
	return cmd
}
