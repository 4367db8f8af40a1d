package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// config is the whole edge configuration, read from the environment.
type config struct {
	// Listen is the address the edge serves on (EDGE_LISTEN).
	Listen string
	// Backend is host:port of the API; host is resolved to every API
	// container's IP (EDGE_BACKEND).
	Backend string
	// Refresh is how often the backend host is resolved and every
	// backend health-checked (EDGE_REFRESH).
	Refresh time.Duration
	// HealthPath is the API's liveness path (EDGE_HEALTH_PATH).
	HealthPath string
	// HealthTimeout bounds one health check (EDGE_HEALTH_TIMEOUT).
	HealthTimeout time.Duration
	// DialTimeout bounds connecting to one backend (EDGE_DIAL_TIMEOUT).
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for a backend's response headers
	// after the request was sent (EDGE_RESPONSE_TIMEOUT).
	ResponseTimeout time.Duration
	// ShutdownTimeout bounds how long in-flight requests may finish
	// after SIGTERM (EDGE_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error (EDGE_LOG_LEVEL).
	LogLevel slog.Level
}

func defaultConfig() config {
	return config{
		Listen:          ":5003",
		Backend:         "starwars-api:5003",
		Refresh:         500 * time.Millisecond,
		HealthPath:      "/healthz",
		HealthTimeout:   time.Second,
		DialTimeout:     time.Second,
		ResponseTimeout: 60 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		LogLevel:        slog.LevelInfo,
	}
}

// loadConfig applies the EDGE_* variables found by lookup over the
// defaults and reports every invalid one at once.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	c := defaultConfig()
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	dur := func(name string, dst *time.Duration) {
		v, ok := lookup(name)
		if !ok || v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive duration such as 500ms, got %q", name, v))
			return
		}
		*dst = d
	}
	str("EDGE_LISTEN", &c.Listen)
	str("EDGE_BACKEND", &c.Backend)
	str("EDGE_HEALTH_PATH", &c.HealthPath)
	dur("EDGE_REFRESH", &c.Refresh)
	dur("EDGE_HEALTH_TIMEOUT", &c.HealthTimeout)
	dur("EDGE_DIAL_TIMEOUT", &c.DialTimeout)
	dur("EDGE_RESPONSE_TIMEOUT", &c.ResponseTimeout)
	dur("EDGE_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	if v, ok := lookup("EDGE_LOG_LEVEL"); ok && v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("EDGE_LOG_LEVEL: want debug, info, warn or error, got %q", v))
		}
	}

	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("EDGE_LISTEN: want [host]:port, got %q", c.Listen))
	}
	if host, port, err := net.SplitHostPort(c.Backend); err != nil || host == "" || port == "" {
		errs = append(errs, fmt.Errorf("EDGE_BACKEND: want host:port, got %q", c.Backend))
	}
	if !strings.HasPrefix(c.HealthPath, "/") {
		errs = append(errs, fmt.Errorf("EDGE_HEALTH_PATH: want a path starting with /, got %q", c.HealthPath))
	}
	return c, errors.Join(errs...)
}

// LogValue lists the configuration in the start-up log line. Nothing in
// it is secret.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("backend", c.Backend),
		slog.String("refresh", c.Refresh.String()),
		slog.String("health_path", c.HealthPath),
		slog.String("health_timeout", c.HealthTimeout.String()),
		slog.String("dial_timeout", c.DialTimeout.String()),
		slog.String("response_timeout", c.ResponseTimeout.String()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("log_level", c.LogLevel.String()),
	)
}

// probeURL is where `edge -healthcheck` asks: loopback unless the edge
// listens on one specific address.
func (c config) probeURL() string {
	host, port, _ := net.SplitHostPort(c.Listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + edgeHealthPath
}
