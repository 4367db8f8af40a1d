package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCmd(deps Deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the stack as swdeploy reads it: files merged, variables filled in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.loadStack(cmd.Context(), deps)
			if err != nil {
				return err
			}
			out, err := st.Project.MarshalYAML()
			if err != nil {
				return err
			}
			fmt.Fprintf(deps.Streams.Out, "# source: %s\n%s", st.Source, out)
			return nil
		},
	}
}
