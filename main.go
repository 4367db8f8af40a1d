// Command swdeploy deploys the Star Wars API stack to a Docker engine.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fathat101/swdeploy/cli"
)

func main() {
	// The first signal cancels the context, so that work in flight stops
	// cleanly; a second one ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(cli.Main(ctx, cli.Default(sources), os.Args[1:]))
}
