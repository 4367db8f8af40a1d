package engineconn

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"
)

// ConnectOptions say which engine to talk to.
type ConnectOptions struct {
	// Host is the engine address (-H): unix://, tcp:// or ssh://. Empty
	// means the docker CLI's choice: DOCKER_HOST, DOCKER_CONTEXT, the
	// current context, the local socket.
	Host string
	// Context names a docker context (--context).
	Context string
	// Timeout bounds connecting and the first exchange with the engine.
	Timeout time.Duration
	// Environ is the environment to read DOCKER_* and SWDEPLOY_SSH_OPTS
	// from, and to run ssh with; nil means the process's.
	Environ []string
}

// Client is the Docker SDK client with what swdeploy knows of the
// connection. It satisfies Engine.
type Client struct {
	*client.Client
	host string
}

// DaemonHost is the address as the user gave it (ssh://user@host), not the
// placeholder the SDK speaks HTTP to over an ssh session.
func (c *Client) DaemonHost() string { return c.host }

// Remote reports whether the engine may be on another machine, with a
// file system of its own (see IsRemoteHost).
func (c *Client) Remote() bool { return IsRemoteHost(c.host) }

// Connect resolves the engine with the docker CLI's rules, connects, and
// negotiates the API version. Bad settings give a *ConfigError; an engine
// that does not answer within opts.Timeout an *UnreachableError naming the
// host and the cause.
func Connect(ctx context.Context, opts ConnectOptions) (*Client, error) {
	env := newConnectEnv(opts.Environ)
	ep, err := resolveEndpoint(opts, env)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	rec := &dialRecorder{}
	tr, sdkHost, err := engineTransport(ep, timeout, env, rec)
	if err != nil {
		return nil, err
	}
	// WithHost resets the dialer and proxy: ours are put back after it.
	dial, proxy, noCompress := tr.DialContext, tr.Proxy, tr.DisableCompression
	cli, err := client.NewClientWithOpts(
		client.WithHTTPClient(&http.Client{Transport: tr, CheckRedirect: client.CheckRedirect}),
		client.WithHost(sdkHost),
		func(*client.Client) error {
			tr.DialContext, tr.Proxy, tr.DisableCompression = dial, proxy, noCompress
			return nil
		},
		client.WithVersion(env.get("DOCKER_API_VERSION")),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, configErrorf("engine address %s: %v", ep.Host, err)
	}
	c := &Client{Client: cli, host: ep.Host}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ping, err := cli.Ping(pingCtx)
	if err != nil {
		cli.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{Host: ep.Host, Context: ep.Context, Cause: explain(err, rec.get(), pingCtx, timeout)}
	}
	cli.NegotiateAPIVersionPing(ping)
	return c, nil
}

// engineTransport builds the HTTP transport for an endpoint and the address the
// SDK is given. Connections are kept alive and reused generously: on ssh
// each new one is a new session.
func engineTransport(ep endpoint, timeout time.Duration, env connectEnv, rec *dialRecorder) (*http.Transport, string, error) {
	tr := &http.Transport{
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     2 * time.Minute,
		TLSHandshakeTimeout: timeout,
	}
	scheme, addr, _ := strings.Cut(ep.Host, "://")
	switch scheme {
	case "ssh":
		spec, err := parseSSHURL(ep.Host)
		if err != nil {
			return nil, "", configErrorf("engine address %s: %v", ep.Host, err)
		}
		d, err := newSSHDialer(spec, timeout, env, rec)
		if err != nil {
			return nil, "", err
		}
		tr.DialContext = d.DialContext
		tr.DisableCompression = true
		// A long build leaves the connections opened for the first burst
		// idle for minutes; closing them would cost new sessions later.
		tr.IdleConnTimeout = 10 * time.Minute
		// The session is the connection: no proxy, and the name below is
		// only what the SDK writes into its requests.
		return tr, "http://docker", nil
	case "unix":
		dialer := &net.Dialer{Timeout: timeout}
		tr.DialContext = rec.wrap(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", addr)
		})
		tr.DisableCompression = true
	default:
		dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		tr.DialContext = rec.wrap(dialer.DialContext)
		// As with the docker CLI, tcp:// honours HTTPS_PROXY and NO_PROXY.
		tr.Proxy = http.ProxyFromEnvironment
		tr.TLSClientConfig = ep.TLS
	}
	return tr, ep.Host, nil
}

// dialRecorder keeps the last connection failure, which the SDK reduces to
// "Cannot connect to the Docker daemon" before it reaches us.
type dialRecorder struct {
	mu  sync.Mutex
	err error
}

func (r *dialRecorder) set(err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

func (r *dialRecorder) get() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *dialRecorder) wrap(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		r.set(err)
		return c, err
	}
}
