// Command starwars-api serves the Star Wars API. Run with no arguments it
// serves; `starwars-api healthcheck` probes a running server's /healthz
// and exits 0 or 1 (for container health checks in an image without a
// shell or curl). Configuration comes from the environment: see
// api/config.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/auth"
	"github.com/fathat101/swdeploy/api/config"
	"github.com/fathat101/swdeploy/api/httpapi"
	"github.com/fathat101/swdeploy/api/mail"
	"github.com/fathat101/swdeploy/api/mysql"
	"github.com/fathat101/swdeploy/api/redis"
)

func main() {
	os.Exit(cli(os.Args[1:], os.LookupEnv, os.Stderr))
}

// cli picks the subcommand and turns its outcome into an exit code.
func cli(args []string, lookup func(string) (string, bool), stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "healthcheck" && len(args) == 1 {
			if err := healthcheck(lookup, 3*time.Second); err != nil {
				fmt.Fprintln(stderr, "unhealthy:", err)
				return 1
			}
			return 0
		}
		fmt.Fprintln(stderr, "usage: starwars-api [healthcheck]")
		return 2
	}
	cfg, err := config.Load(lookup, os.ReadFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger, nil); err != nil {
		logger.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

// healthcheck asks /healthz on the configured port, on loopback unless the
// server listens on one specific address.
func healthcheck(lookup func(string) (string, bool), timeout time.Duration) error {
	port, ok := lookup("STARWARS_API_PORT")
	if !ok || port == "" {
		port = "5003"
	}
	host := "127.0.0.1"
	if h, ok := lookup("STARWARS_API_HOST"); ok {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
			host = h
		}
	}
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", resp.Status)
	}
	return nil
}

// run wires the server from cfg and serves until ctx ends, then lets
// in-flight requests finish. ln, when not nil, replaces listening on
// cfg.HTTP.Addr() (tests pass a loopback listener on a free port).
func run(ctx context.Context, cfg config.Config, logger *slog.Logger, ln net.Listener) error {
	logger.Info("starting", "config", cfg)

	// Dependencies may still be starting: wait for them, for a while.
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	dsn := mysql.DSN(cfg.MySQL.User, cfg.MySQL.Password.Reveal(), cfg.MySQL.Addr(), cfg.MySQL.Database)
	store, err := mysql.Open(waitCtx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := mysql.Migrate(dsn); err != nil {
		return err
	}

	redisOpts := redis.Options{Addr: cfg.Redis.Addr(), Password: cfg.Redis.Password.Reveal(), DB: cfg.Redis.DB}
	rdb, err := redis.Connect(waitCtx, redisOpts)
	if err != nil {
		return err
	}
	defer rdb.Close()

	j := cfg.JWT
	tokens, err := auth.NewTokens(auth.TokensConfig{
		Issuer: j.Issuer,
		Keys: map[api.TokenType]auth.Key{
			api.TokenAccess:   {Secret: []byte(j.AccessSecret.Reveal()), Lifetime: j.AccessLifetime},
			api.TokenRefresh:  {Secret: []byte(j.RefreshSecret.Reveal()), Lifetime: j.RefreshLifetime},
			api.TokenEmail:    {Secret: []byte(j.EmailSecret.Reveal()), Lifetime: j.EmailLifetime},
			api.TokenPassword: {Secret: []byte(j.PasswordSecret.Reveal()), Lifetime: j.PasswordLifetime},
		},
	})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	revocations := redis.NewRevocations(rdb, cfg.Redis.Prefix+"revoked:")
	// Checks answered from memory, kept current by Redis (client tracking).
	revocations.Track(ctx, redisOpts)

	var mailer api.Mailer = mail.Log{Logger: logger}
	if cfg.SMTP.Host != "" {
		mailer = &mail.SMTP{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password.Reveal(), From: cfg.SMTP.From}
	}

	hasher := auth.NewArgon2(auth.OWASPParams, cfg.Hashing.Concurrency, cfg.Hashing.Queue)
	accounts := api.NewAccounts(api.AccountsDeps{
		Store:       store,
		Tokens:      tokens,
		Revocations: revocations,
		Hasher:      hasher,
		Mailer:      mailer,
		Logger:      logger,
		VerifyURL:   cfg.HTTP.PublicURL + "/users/v1/email_verification",
		// Sessions end this long after login, however often rotated.
		SessionMaxAge: j.SessionMaxAge,
	})
	if cfg.Admin.Email != "" {
		if err := accounts.EnsureAdmin(waitCtx, cfg.Admin.Email, cfg.Admin.Password.Reveal()); err != nil {
			return fmt.Errorf("first admin: %w", err)
		}
	} else {
		logger.Warn("STARWARS_ADMIN_EMAIL is not set: no admin is created at start-up")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	cacheRDB, own := cacheRedis(waitCtx, cfg, rdb, logger)
	if own {
		defer cacheRDB.Close()
	}
	starWars, err := newStarWars(cfg, cacheRDB, reg)
	if err != nil {
		return fmt.Errorf("star wars data: %w", err)
	}

	l := cfg.Login
	throttle := redis.NewLoginThrottle(rdb, cfg.Redis.Prefix+"login:", redis.LoginLimits{
		AccountFailures: l.AccountFailures, AddressFailures: l.AddressFailures,
		Window: l.Window, Delay: l.Delay, MaxDelay: l.MaxDelay,
	})
	proxies, err := httpapi.NewTrustedProxies(cfg.HTTP.TrustedProxies, nil)
	if err != nil {
		return err
	}

	var draining atomic.Bool
	router, err := httpapi.NewRouter(httpapi.Deps{
		Accounts: accounts,
		StarWars: starWars,
		Throttle: throttle,
		Hashing:  hasher,
		Proxies:  proxies,
		Logger:   logger,
		Ready: []httpapi.Check{
			{Name: "mysql", Ping: store.Ping},
			{Name: "redis", Ping: revocations.Ping},
		},
		Registerer: reg,
		Gatherer:   reg,
		Draining:   draining.Load,
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              cfg.HTTP.Addr(),
		Handler:           router,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if ln == nil {
		ln, err = net.Listen("tcp", srv.Addr)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if cfg.HTTP.ShutdownDrain > 0 {
		// Keep serving while /healthz says 503, so that a proxy in front
		// stops routing here before the listener closes.
		draining.Store(true)
		logger.Info("draining before shutdown", "drain", cfg.HTTP.ShutdownDrain)
		time.Sleep(cfg.HTTP.ShutdownDrain)
	}
	logger.Info("shutting down: letting in-flight requests finish", "timeout", cfg.HTTP.ShutdownTimeout)
	shutCtx, cancelShut := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
