package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fathat101/swdeploy/deployer"
	"github.com/fathat101/swdeploy/deployer/engineconn"
	"github.com/fathat101/swdeploy/stack"
)

// Deps are what the commands need from the outside world.
type Deps struct {
	Streams  IOStreams
	Embedded fs.FS    // the repository's files built into the binary
	Environ  []string // the process environment
	WorkDir  string
	// Connect opens the engine; tests may point it elsewhere.
	Connect func(ctx context.Context, opts engineconn.ConnectOptions) (deployer.Engine, error)
	Secrets deployer.SecretSources
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	files          []string
	projectName    string
	envFiles       []string
	profiles       []string
	host           string
	context        string
	connectTimeout time.Duration
	progress       string
	target         string   // engine or swarm
	nodeHosts      []string // the other swarm nodes' engines
}

// Main runs swdeploy with args and returns the exit code.
func Main(ctx context.Context, deps Deps, args []string) int {
	cmd := NewRootCmd(deps)
	cmd.SetArgs(followShorthand(args))
	err := cmd.ExecuteContext(ctx)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(deps.Streams.ErrOut, "swdeploy: interrupted; the next up goes on from where this one stopped")
		return ExitInterrupted
	}
	if err != nil {
		var ee *exitError
		if msg := err.Error(); msg != "" && !asExit(err, &ee) {
			fmt.Fprintln(deps.Streams.ErrOut, "swdeploy:", msg)
		}
	}
	return ExitCode(err)
}

func asExit(err error, target **exitError) bool {
	e, ok := err.(*exitError)
	if ok {
		*target = e
	}
	return ok
}

// NewRootCmd builds the command tree.
func NewRootCmd(deps Deps) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "swdeploy",
		Short: "Deploy the Star Wars API stack to a Docker engine",
		Long: `swdeploy deploys the Star Wars API stack (API, MySQL, Redis), declared in a
Compose file, to a Docker engine: local, remote, or in CI. It plans the
difference between the file and the engine, then applies it.

Without -f it uses stack/compose.yaml of the checkout it runs in, or the
stack built into the binary.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(deps.Streams.Out)
	root.SetErr(deps.Streams.ErrOut)
	root.SetIn(deps.Streams.In)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(err) })

	f := root.PersistentFlags()
	f.StringArrayVarP(&g.files, "file", "f", nil, "Compose file (repeatable; later files override earlier ones)")
	f.StringVarP(&g.projectName, "project-name", "p", "", "project name (default: the file's name:, else COMPOSE_PROJECT_NAME)")
	f.StringArrayVar(&g.envFiles, "env-file", nil, "environment file for interpolation (repeatable; replaces .env)")
	f.StringArrayVar(&g.profiles, "profile", nil, "enable a Compose profile (repeatable)")
	f.StringVarP(&g.host, "host", "H", "", "Docker engine address: unix://, tcp:// or ssh://user@host (default: DOCKER_HOST, then the docker context)")
	f.StringVar(&g.context, "context", "", "docker context to use (default: DOCKER_CONTEXT, then the docker CLI's current context)")
	f.DurationVar(&g.connectTimeout, "connect-timeout", 10*time.Second, "how long to try reaching the engine")
	f.StringVar(&g.progress, "progress", "auto", "progress output: auto (live on a terminal, plain otherwise), tty, plain, json or quiet")
	f.StringVar(&g.target, "target", envOr(deps.Environ, "SWDEPLOY_TARGET", deployer.TargetEngine), "where the stack runs: engine (containers on one engine) or swarm (services on the swarm whose manager -H names) (env SWDEPLOY_TARGET)")
	f.StringArrayVar(&g.nodeHosts, "node-host", envList(deps.Environ, "SWDEPLOY_NODE_HOSTS"), "with --target swarm: the engine of another node, any address -H takes (repeatable; env SWDEPLOY_NODE_HOSTS, comma-separated)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if err := g.checkTarget(); err != nil {
			return err
		}
		if !g.swarm() && len(g.nodeHosts) > 0 && envOr(deps.Environ, "SWDEPLOY_NODE_HOSTS", "") == "" {
			fmt.Fprintln(deps.Streams.ErrOut, "warning: --node-host applies to --target swarm only: ignored")
		}
		return nil
	}

	root.AddCommand(
		newUpCmd(deps, g),
		newPlanCmd(deps, g),
		newDownCmd(deps, g),
		newStatusCmd(deps, g),
		newLogsCmd(deps, g),
		newSecretsCmd(deps, g),
		newConfigCmd(deps, g),
		newUnlockCmd(deps, g),
		newVersionCmd(deps, g),
	)
	usageArgs(root)
	return root
}

// usageArgs makes an unknown command or wrong arguments a usage error
// (exit 2), as a bad flag is. The root command checks its arguments itself:
// cobra's own check of a command without Args returns an untyped error.
func usageArgs(root *cobra.Command) {
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	var wrap func(*cobra.Command)
	wrap = func(c *cobra.Command) {
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error { return usage(check(cmd, args)) }
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
}

// loadStack reads the Compose file(s) the flags name.
func (g *globalOptions) loadStack(ctx context.Context, deps Deps) (*stack.Stack, error) {
	st, err := stack.Load(ctx, stack.Options{
		Files: g.files, ProjectName: g.projectName, EnvFiles: g.envFiles, Profiles: g.profiles,
		WorkDir: deps.WorkDir, Environ: deps.Environ, Embedded: deps.Embedded, Stdin: deps.Streams.In,
	})
	if err != nil {
		return nil, usage(err)
	}
	return st, nil
}

// desired loads the stack and derives the deployer's desired state.
func (g *globalOptions) desired(ctx context.Context, deps Deps) (*deployer.Desired, error) {
	st, err := g.loadStack(ctx, deps)
	if err != nil {
		return nil, err
	}
	d, err := deployer.NewDesired(st.Project, st)
	if err != nil {
		return nil, usage(err)
	}
	return d, nil
}

// open loads the stack and connects to its engine.
func (g *globalOptions) open(ctx context.Context, deps Deps) (*deployer.Desired, deployer.Engine, error) {
	d, err := g.desired(ctx, deps)
	if err != nil {
		return nil, nil, err
	}
	eng, err := g.connect(ctx, deps)
	if err != nil {
		return nil, nil, err
	}
	return d, eng, nil
}

// lock takes the project's deploy lock, waiting up to wait for another run
// to let go. The returned context is cancelled if the lock is lost; the
// caller must call unlock.
func lock(ctx context.Context, eng deployer.Engine, project string, wait time.Duration) (context.Context, func(), error) {
	return deployer.Lock(ctx, eng, project, deployer.LockOptions{Wait: wait})
}

// lockLost names the lost lock as the cause of a run that stopped because
// of it, rather than reporting an interrupt.
func lockLost(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), deployer.ErrLockLost) {
		return deployer.ErrLockLost
	}
	return err
}

func (g *globalOptions) connect(ctx context.Context, deps Deps) (deployer.Engine, error) {
	eng, err := deps.Connect(ctx, engineconn.ConnectOptions{Host: g.host, Context: g.context, Timeout: g.connectTimeout, Environ: deps.Environ})
	var ce *engineconn.ConfigError
	if errors.As(err, &ce) {
		return nil, usage(err)
	}
	return eng, err
}

// DefaultConnect opens the engine with the Docker SDK.
func DefaultConnect(ctx context.Context, opts engineconn.ConnectOptions) (deployer.Engine, error) {
	cli, err := engineconn.Connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	return cli, nil
}

// Default returns the dependencies of a real run.
func Default(embedded fs.FS) Deps {
	wd, _ := os.Getwd()
	return Deps{
		Streams: System(), Embedded: embedded, Environ: os.Environ(), WorkDir: wd,
		Connect: DefaultConnect, Secrets: deployer.OSSecretSources(),
	}
}

// followShorthand lets `logs -f` mean --follow, as in docker compose, while
// -f before the verb (or anywhere else) names a Compose file.
func followShorthand(args []string) []string {
	valued := []string{"-f", "--file", "-p", "--project-name", "--env-file", "--profile", "-H", "--host", "--context", "--connect-timeout", "--progress", "--target", "--node-host"}
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if slices.Contains(valued, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) || args[i] != "logs" {
		return args
	}
	out := slices.Clone(args)
	for j := i + 1; j < len(out); j++ {
		if out[j] == "--" {
			break
		}
		if out[j] == "-f" {
			out[j] = "--follow"
		}
	}
	return out
}

// envOr is an environment variable's value, or def when unset or empty.
func envOr(environ []string, key, def string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key && v != "" {
			return v
		}
	}
	return def
}

// envList is a comma-separated environment variable's items.
func envList(environ []string, key string) []string {
	var out []string
	for _, item := range strings.Split(envOr(environ, key, ""), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
