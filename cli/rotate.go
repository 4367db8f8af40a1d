package cli

import (
	"github.com/spf13/cobra"
)

func newRotateCmd(deps Deps, g *globalOptions) *cobra.Command {
	o := &upOptions{wait: true, format: "text"}
	cmd := &cobra.Command{
		Use:   "rotate SECRET...",
		Short: "Replace kept secrets with new random values and restart what uses them",
		Long: `rotate generates a new value for each named secret, keeps it, and recreates
the containers that read it: rotating jwt_access_secret makes every access
token signed with the old value invalid; rotating redis_password restarts
Redis and the API with the new password. A secret the operator provides
(SWDEPLOY_SECRET_<NAME> or its file) is changed there instead.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := deps
			d.Secrets.Rotate = args
			return upRun(cmd, d, g, o)
		},
	}
	o.plan.register(cmd)
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "do not ask before actions that cause downtime")
	cmd.Flags().DurationVar(&o.waitTimeout, "wait-timeout", 0, "how long each health wait may take (default 5m)")
	return cmd
}
