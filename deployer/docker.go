package deployer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/client"
)

// ConnectOptions say which engine to talk to.
type ConnectOptions struct {
	// Host is the engine address (-H); empty means DOCKER_HOST, then the
	// local socket.
	Host string
	// Timeout bounds connecting and the first exchange with the engine.
	Timeout time.Duration
}

// Connect returns a client for the engine, with the API version negotiated,
// or an error naming the host and the cause.
func Connect(ctx context.Context, opts ConnectOptions) (*client.Client, error) {
	clientOpts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if opts.Host != "" {
		clientOpts = append(clientOpts, client.WithHost(opts.Host))
	}
	cli, err := client.NewClientWithOpts(clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("docker engine %s: %w", describeHost(opts.Host), err)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := cli.Ping(pingCtx); err != nil {
		cli.Close()
		return nil, &UnreachableError{Host: cli.DaemonHost(), Cause: explain(err, pingCtx, timeout)}
	}
	cli.NegotiateAPIVersion(ctx)
	return cli, nil
}

// UnreachableError says which engine could not be reached and why.
type UnreachableError struct {
	Host  string
	Cause string
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the Docker engine at %s: %s", e.Host, e.Cause)
}

func describeHost(h string) string {
	if h == "" {
		if env := os.Getenv("DOCKER_HOST"); env != "" {
			return env
		}
		return client.DefaultDockerHost
	}
	return h
}

// explain turns a dial error into a short cause a person can act on.
func explain(err error, ctx context.Context, timeout time.Duration) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s (timeout)", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the engine running and listening there?)"
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT):
		return "no such socket (is the engine running?)"
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES):
		return "permission denied on the socket (is this user in the docker group?)"
	case errors.As(err, &dnsErr):
		return "unknown host " + dnsErr.Name
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "Cannot connect") {
		msg = msg[i+2:]
	}
	return msg
}
