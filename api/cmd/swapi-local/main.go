// Command swapi-local serves the SWAPI data set built into it (see
// api/swapi/local/data) as a SWAPI-compatible API, standing in for swapi.dev
// in tests and deployments.
//
// Flags (each also read from the environment variable named in brackets;
// a flag given on the command line wins):
//
//	-addr        listen address [SWAPI_LOCAL_ADDR] (127.0.0.1:8000; 0.0.0.0:8000 in a container)
//	-data        serve this data set folder instead [SWAPI_LOCAL_DATA]
//	             (default: the built-in data set)
//	-latency     delay per request, e.g. 50ms [SWAPI_LOCAL_LATENCY]
//	-fail-rate   share of requests answered 500, 0 to 1 [SWAPI_LOCAL_FAIL_RATE]
//	-base-url    API root for next/previous links [SWAPI_LOCAL_BASE_URL]
//	             (default: the request's host)
//	-healthcheck GET /api/ on -addr and exit 0 when it answers 200, for a
//	             container HEALTHCHECK in an image without a shell
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/fathat101/swdeploy/api/swapi/local"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "swapi-local:", err)
		os.Exit(1)
	}
}

type config struct {
	addr        string
	data        string
	latency     time.Duration
	failRate    float64
	baseURL     string
	healthcheck bool
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("swapi-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", envOr(getenv, "SWAPI_LOCAL_ADDR", "127.0.0.1:8000"), "listen address")
	fs.StringVar(&c.data, "data", getenv("SWAPI_LOCAL_DATA"), "data set folder (default: the built-in data set)")
	fs.StringVar(&c.baseURL, "base-url", getenv("SWAPI_LOCAL_BASE_URL"), "API root for next/previous links (default: request host)")
	fs.BoolVar(&c.healthcheck, "healthcheck", false, "check a running server on -addr and exit")
	latency, err := time.ParseDuration(envOr(getenv, "SWAPI_LOCAL_LATENCY", "0s"))
	if err != nil {
		return c, fmt.Errorf("SWAPI_LOCAL_LATENCY: %w", err)
	}
	fs.DurationVar(&c.latency, "latency", latency, "delay per request")
	failRate, err := strconv.ParseFloat(envOr(getenv, "SWAPI_LOCAL_FAIL_RATE", "0"), 64)
	if err != nil {
		return c, fmt.Errorf("SWAPI_LOCAL_FAIL_RATE: %w", err)
	}
	fs.Float64Var(&c.failRate, "fail-rate", failRate, "share of requests answered 500 (0 to 1)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.failRate < 0 || c.failRate > 1 || c.failRate != c.failRate {
		return c, fmt.Errorf("fail-rate %v is not between 0 and 1", c.failRate)
	}
	if c.latency < 0 {
		return c, fmt.Errorf("latency %v is negative", c.latency)
	}
	return c, nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if c.healthcheck {
		return healthcheck(ctx, c.addr)
	}
	var ds *local.Dataset
	source := "the built-in data set"
	if c.data == "" {
		ds, err = local.Embedded()
	} else {
		source = c.data
		ds, err = local.Load(c.data)
	}
	if err != nil {
		return fmt.Errorf("load data set: %w", err)
	}
	srv := &http.Server{
		Addr: c.addr,
		Handler: local.NewHandler(ds, local.Options{
			Latency: c.latency, FailRate: c.failRate, BaseURL: c.baseURL,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stderr, "swapi-local: serving %s on http://%s/api/ (latency %v, fail rate %v)\n",
		source, ln.Addr(), c.latency, c.failRate)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("shutdown: %w", err)
		}
		return nil
	}
}

// healthcheck asks the server on addr for its root; a wildcard listen
// address is checked on loopback.
func healthcheck(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/api/", nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: status %d", resp.StatusCode)
	}
	return nil
}
