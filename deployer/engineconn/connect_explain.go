package engineconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// UnreachableError says which engine could not be reached and why, in one
// line a person can act on.
type UnreachableError struct {
	Host    string
	Context string // the docker context the host came from, if any
	Cause   string
}

func (e *UnreachableError) Error() string {
	at := e.Host
	if e.Context != "" {
		at += fmt.Sprintf(" (context %q)", e.Context)
	}
	return fmt.Sprintf("cannot reach the Docker engine at %s: %s", at, e.Cause)
}

// explain turns a failed first exchange into a short cause. dialErr is the
// last connection failure seen below the SDK, which keeps the details the
// SDK's own message drops.
func explain(err, dialErr error, ctx context.Context, timeout time.Duration) string {
	var sshErr *SSHError
	if errors.As(dialErr, &sshErr) || errors.As(err, &sshErr) {
		return sshCause(sshErr)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s (timeout)", timeout)
	}
	for _, e := range []error{dialErr, err} {
		if c := netCause(e); c != "" {
			return c
		}
	}
	if c := tlsCause(err); c != "" {
		return c
	}
	return oneLineCause(err.Error())
}

func netCause(err error) string {
	if err == nil {
		return ""
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the engine running and listening there?)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the engine's side"
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT):
		return "no such socket (is the engine running?)"
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES):
		return "permission denied on the socket (is this user in the docker group?)"
	case errors.As(err, &dnsErr):
		return "unknown host " + dnsErr.Name
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	}
	return ""
}

func tlsCause(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return "TLS: the engine's certificate is not signed by a CA this client trusts (check ca.pem in DOCKER_CERT_PATH or the context)"
	case errors.As(err, &hostErr):
		return "TLS: the engine's certificate is not valid for " + hostErr.Host
	case errors.As(err, &invalid):
		return "TLS: the engine's certificate is invalid: " + invalid.Error()
	case errors.As(err, &record), strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "TLS: the engine does not speak TLS at this address (unset DOCKER_TLS_VERIFY, or use its TLS port)"
	case strings.Contains(msg, "certificate required"):
		// Also what a client whose certificate is from another CA gets:
		// it only offers one the engine's CA signed.
		return "TLS: the engine requires a client certificate signed by its CA, and none was sent (check cert.pem and key.pem in DOCKER_CERT_PATH or the context)"
	case strings.Contains(msg, "bad certificate"), strings.Contains(msg, "unknown certificate authority"):
		return "TLS: the engine rejected the client certificate (not signed by a CA it trusts)"
	case strings.Contains(msg, "malformed HTTP response"), strings.Contains(msg, "Client sent an HTTP request to an HTTPS server"):
		return "the engine expects TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or use a context with TLS"
	}
	return ""
}

func sshCause(e *SSHError) string {
	msg := e.Stderr
	switch {
	case strings.Contains(msg, "Permission denied (publickey"):
		return "ssh: " + msg + " (the key was refused: check ssh-agent, ~/.ssh/config or -i in " + SSHOptsEnv + ")"
	case strings.Contains(msg, "Host key verification failed"):
		return "ssh: " + msg + " (the host is not in known_hosts: connect once with ssh to add it)"
	case strings.Contains(msg, "docker: command not found"), strings.Contains(msg, "docker: not found"):
		return "ssh: the remote host has no docker CLI on PATH, which `docker system dial-stdio` needs (" + msg + ")"
	case strings.Contains(msg, "permission denied while trying to connect to the Docker daemon"):
		return "ssh: the remote user may not use the engine's socket (add it to the docker group)"
	case msg == "" && e.Status > 0:
		return fmt.Sprintf("ssh: the session ended with status %d and no message", e.Status)
	}
	return oneLineCause(e.Error())
}

// oneLineCause keeps an error on one line, dropping the SDK's "error during
// connect: Get ...:" preamble.
func oneLineCause(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if strings.Contains(msg, "error during connect") {
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	if strings.HasPrefix(msg, "Cannot connect to the Docker daemon") {
		return "the engine did not answer"
	}
	return msg
}
