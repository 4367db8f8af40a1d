package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
)

func newStatusCmd(deps Deps, g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "status",
		Aliases: []string{"ps"},
		Short:   "Show the stack's containers: state, health, ports, image, uptime",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if format != "table" && format != "json" {
				return usage(fmt.Errorf("--format %q: want table or json", format))
			}
			st, err := g.loadStack(ctx, deps)
			if err != nil {
				return err
			}
			if g.swarm() {
				return swarmStatusRun(ctx, deps, g, st.Project.Name, format)
			}
			eng, err := g.connect(ctx, deps)
			if err != nil {
				return err
			}
			list, err := deployer.ListStatus(ctx, eng, st.Project.Name)
			if err != nil {
				return err
			}
			if format == "json" {
				if list == nil {
					list = []deployer.ServiceStatus{}
				}
				enc := json.NewEncoder(deps.Streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"schema_version": 1, "project": st.Project.Name, "target": deployer.TargetEngine, "containers": list})
			}
			fmt.Fprintln(deps.Streams.ErrOut, "Target:", engineTarget(eng))
			return writeStatusTable(deps, list, time.Now())
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func writeStatusTable(deps Deps, list []deployer.ServiceStatus, now time.Time) error {
	tw := tabwriter.NewWriter(deps.Streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tCONTAINER\tSTATE\tHEALTH\tPORTS\tIMAGE\tUPTIME")
	for _, s := range list {
		health, uptime := s.Health, "-"
		if health == "" {
			health = "-"
		}
		if u := s.Uptime(now); u > 0 {
			uptime = u.String()
		}
		ports := strings.Join(s.Ports, ",")
		if ports == "" {
			ports = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Service, s.Container, s.State, health, ports, s.Image, uptime)
	}
	return tw.Flush()
}
