// Command edge is the reverse proxy in front of the Star Wars API, so that
// the API can be replaced with no failed request. It publishes the stack's
// port and forwards every request to the API containers it finds by DNS:
// each container carries the backend name (EDGE_BACKEND) as a network
// alias, so during a rollout the name resolves to the old and the new
// container at once.
//
// Every EDGE_REFRESH the edge resolves the name and checks each address's
// health path. A new address gets traffic only once its check passes; one
// whose check fails (the API answers 503 while it drains before shutdown)
// or that leaves DNS gets no new request, while its in-flight ones finish.
// A request the chosen backend did not answer (connection refused, or a
// kept-alive connection closed under it) is retried on another backend, at
// most twice, when its body (up to 64 KiB) can be sent again. With no
// backend answering the client gets the API's 503 service-unavailable.
//
// /metrics and /readyz (in any spelling) are not forwarded: they answer
// the API's not-found here and stay on the API's own port, for the
// operator on the service network. X-Forwarded-For is set to the client's
// own address, replacing whatever the client sent, so that the API can
// budget logins by client.
//
// `edge -healthcheck` asks a running edge's /edge/healthz and exits 0 when
// it has a healthy backend, 1 otherwise (for the image's HEALTHCHECK, in an
// image with no shell). The /edge/ path prefix belongs to the edge.
//
// Configuration, from the environment:
//
//	EDGE_LISTEN            address to serve on (:5003)
//	EDGE_BACKEND           API host:port, the host resolved to every container (starwars-api:5003)
//	EDGE_REFRESH           how often to resolve and health-check (500ms)
//	EDGE_HEALTH_PATH       the API's liveness path (/healthz)
//	EDGE_HEALTH_TIMEOUT    bound of one health check (1s)
//	EDGE_DIAL_TIMEOUT      bound of connecting to one backend (1s)
//	EDGE_RESPONSE_TIMEOUT  bound of the wait for a backend's response headers (60s)
//	EDGE_SHUTDOWN_TIMEOUT  how long in-flight requests may finish after SIGTERM (30s)
//	EDGE_LOG_LEVEL         debug, info, warn or error (info); debug logs every failed request
//
// It uses the standard library only, so that its image builds with no
// module download.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(cli(os.Args[1:], os.LookupEnv, os.Stderr))
}

// cli parses the flags and turns the outcome into an exit code.
func cli(args []string, lookup func(string) (string, bool), stderr io.Writer) int {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	probe := fs.Bool("healthcheck", false, "ask the running edge's "+edgeHealthPath+" and exit 0 if it has a healthy backend, else 1")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: edge [-healthcheck]")
		return 2
	}
	cfg, err := loadConfig(lookup)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *probe {
		if err := healthcheck(cfg.probeURL(), 3*time.Second); err != nil {
			fmt.Fprintln(stderr, "unhealthy:", err)
			return 1
		}
		return 0
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger, nil, net.DefaultResolver.LookupHost); err != nil {
		logger.Error("edge stopped", "err", err)
		return 1
	}
	return 0
}

// healthcheck asks url and wants 200.
func healthcheck(url string, timeout time.Duration) error {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", edgeHealthPath, resp.Status)
	}
	return nil
}

// run serves until ctx ends, then lets in-flight requests finish. ln, when
// not nil, replaces listening on cfg.Listen; resolve finds the backends.
func run(ctx context.Context, cfg config, logger *slog.Logger, ln net.Listener, resolve resolver) error {
	logger.Info("starting", "config", cfg)
	p := newPool(cfg, resolve, logger)
	defer p.close()
	// One round before serving, so that the first requests find the
	// backends already checked (bounded by the lookup and check timeouts).
	p.refresh(ctx)()
	poolCtx, stopPool := context.WithCancel(context.WithoutCancel(ctx))
	pooled := make(chan struct{})
	go func() { p.run(poolCtx, cfg.Refresh); close(pooled) }()
	defer func() { stopPool(); <-pooled }()

	srv := &http.Server{
		Addr:    cfg.Listen,
		Handler: newEdge(p, logger),
		// No WriteTimeout: responses may stream; the API bounds its own.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // above the API's, so the API's answer wins
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "healthy_backends", p.healthyCount())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: letting in-flight requests finish", "timeout", cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	// The pool keeps running meanwhile: in-flight requests may still retry.
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
