// Command swdeploy deploys the Star Wars API stack to a Docker engine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
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
	stopProfile := startProfile(os.Getenv("SWDEPLOY_CPUPROFILE"))
	code := cli.Main(ctx, cli.Default(sources), os.Args[1:])
	stopProfile()
	os.Exit(code)
}

// startProfile writes a CPU profile of the run to the file named, for `go
// tool pprof` (README, Figures); "" profiles nothing.
func startProfile(name string) (stop func()) {
	if name == "" {
		return func() {}
	}
	f, err := os.Create(name)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "swdeploy: cpu profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
