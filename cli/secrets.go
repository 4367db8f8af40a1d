package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
)

func newSecretsCmd(deps Deps, g *globalOptions) *cobra.Command {
	var reveal bool
	var format string
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "List the stack's secrets and where each value comes from",
		Long: `secrets lists each secret the stack uses and the source of its value: the
environment (SWDEPLOY_SECRET_<NAME>), a file, the value kept on the engine, or
one that the next up will generate. Values are shown only with --reveal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var rows []secretRow
			var err error
			if g.swarm() {
				rows, err = swarmSecretRows(ctx, deps, g)
			} else {
				rows, err = engineSecretRows(ctx, deps, g)
			}
			if err != nil {
				return err
			}
			for i := range rows {
				if reveal {
					rows[i].Value = string(rows[i].value)
					if rows[i].value == nil && g.swarm() {
						rows[i].Value = "(kept in a swarm secret: not readable back)"
					}
				}
			}
			if format == "json" {
				return json.NewEncoder(deps.Streams.Out).Encode(rows)
			}
			tw := tabwriter.NewWriter(deps.Streams.Out, 0, 4, 2, ' ', 0)
			header := "NAME\tSOURCE\tOVERRIDE WITH"
			if reveal {
				header += "\tVALUE"
			}
			fmt.Fprintln(tw, header)
			for _, r := range rows {
				line := r.Name + "\t" + r.Source + "\t" + r.Env
				if reveal {
					line += "\t" + r.Value
				}
				fmt.Fprintln(tw, line)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(newRotateCmd(deps, g))
	cmd.Flags().BoolVar(&reveal, "reveal", false, "also print the values")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// secretRow is one line of `secrets`.
type secretRow struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Env    string `json:"env"`
	Value  string `json:"value,omitempty"`
	value  []byte
}

func engineSecretRows(ctx context.Context, deps Deps, g *globalOptions) ([]secretRow, error) {
	d, eng, err := g.open(ctx, deps)
	if err != nil {
		return nil, err
	}
	p, err := deployer.MakePlan(ctx, eng, d, deps.Secrets, deployer.Options{})
	if err != nil {
		return nil, err
	}
	var rows []secretRow
	for _, s := range p.Secrets() {
		r := secretRow{Name: s.Key, Source: s.Source, Env: deployer.SecretEnvName(s.Key), value: s.Value}
		if s.Op == deployer.OpGenerate && s.Source == "generated" {
			r.Source = "not kept yet: up will generate it"
		}
		rows = append(rows, r)
	}
	return rows, nil
}
