package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
)

// Version is set at link time (-X); otherwise the module version is used.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		return v
	}
	return "unknown"
}

func newVersionCmd(deps Deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print swdeploy's version and, if reachable, the engine's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(deps.Streams.Out, "swdeploy %s %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			eng, err := g.connect(ctx, deps)
			if err != nil {
				fmt.Fprintf(deps.Streams.Out, "engine: %v\n", err)
				return nil
			}
			v, err := eng.ServerVersion(ctx)
			if err == nil {
				fmt.Fprintf(deps.Streams.Out, "engine: Docker %s (API %s, negotiated %s)\n", v.Version, v.APIVersion, eng.ClientVersion())
			}
			return nil
		},
	}
}
