package engineconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-shellwords"
)

// sshSpec is an ssh://[user@]host[:port][/socket] engine address.
type sshSpec struct {
	User, Host, Port string
	Socket           string // the engine's socket on the remote host, when not the default
}

func parseSSHURL(raw string) (sshSpec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return sshSpec{}, err
	}
	if u.Scheme != "ssh" {
		return sshSpec{}, fmt.Errorf("not an ssh:// address")
	}
	var s sshSpec
	if u.User != nil {
		s.User = u.User.Username()
		if _, ok := u.User.Password(); ok {
			return sshSpec{}, fmt.Errorf("passwords in the address are not supported: use a key (ssh-agent or ~/.ssh/config)")
		}
	}
	s.Host, s.Port = u.Hostname(), u.Port()
	if s.Host == "" {
		return sshSpec{}, fmt.Errorf("no host name")
	}
	// ssh would read a host or user name that starts with "-" as an option
	// (-oProxyCommand=... runs a command on this machine).
	if strings.HasPrefix(s.Host, "-") {
		return sshSpec{}, fmt.Errorf("host name %q starts with \"-\"", s.Host)
	}
	if strings.HasPrefix(s.User, "-") {
		return sshSpec{}, fmt.Errorf("user name %q starts with \"-\"", s.User)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return sshSpec{}, fmt.Errorf("query and fragment are not allowed")
	}
	if strings.Trim(u.Path, "/") != "" {
		s.Socket = u.Path
	}
	return s, nil
}

// SSHOptsEnv names the variable with extra ssh arguments (a key, a config
// file, known-hosts settings), split as a shell would. They come before
// swdeploy's own options, and ssh keeps the first value it sees of each
// option, so they win: SWDEPLOY_SSH_OPTS="-o ControlPath=none" turns
// multiplexing off (ControlMaster=no would still join a running master).
const SSHOptsEnv = "SWDEPLOY_SSH_OPTS"

// sshDialer opens engine connections by running `docker system dial-stdio`
// on the remote host through the ssh client, as the docker CLI does. Every
// connection costs an ssh session, so two things keep their number small:
// the HTTP transport above keeps connections alive and reuses them, and
// ssh multiplexes the sessions of one run over a single authenticated
// connection (ControlMaster), which sshd's MaxStartups never sees as a burst.
type sshDialer struct {
	binary string
	args   []string // everything but the remote command
	remote string   // the remote command
	env    []string
	rec    *dialRecorder

	mu          sync.Mutex
	dials, open int
	peak        int // most connections open at once
}

func newSSHDialer(spec sshSpec, timeout time.Duration, env connectEnv, rec *dialRecorder) (*sshDialer, error) {
	user, err := shellwords.Parse(env.get(SSHOptsEnv))
	if err != nil {
		return nil, configErrorf("%s: %v", SSHOptsEnv, err)
	}
	args := append([]string{}, user...)
	// ssh's own connect timeout outlasts ours by a second, so that a hang is
	// always reported as our timeout, the same way for every transport.
	args = append(args,
		"-o", "ConnectTimeout="+strconv.Itoa(int(timeout.Seconds())+1),
		// No prompt can be answered: keys come from the agent or files.
		"-o", "BatchMode=yes",
		"-o", "ServerAliveInterval=30",
	)
	if dir := controlDir(); dir != "" {
		args = append(args,
			"-o", "ControlMaster=auto",
			"-o", "ControlPath="+filepath.Join(dir, "%C"),
			// The master outlives one command briefly, so that the commands
			// of a CI job (plan, up, status) share one connection.
			"-o", "ControlPersist=30s",
		)
	}
	args = append(args, "-T")
	if spec.User != "" {
		args = append(args, "-l", spec.User)
	}
	if spec.Port != "" {
		args = append(args, "-p", spec.Port)
	}
	args = append(args, "--", spec.Host)
	remote := "docker system dial-stdio"
	if spec.Socket != "" {
		remote = "docker " + shellQuote("--host=unix://"+spec.Socket) + " system dial-stdio"
	}
	return &sshDialer{binary: "ssh", args: args, remote: remote, env: env.list(), rec: rec}, nil
}

// DialContext starts one ssh session; addr is ignored, the session is the
// connection.
func (d *sshDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := startCommandConn(d.binary, append(append([]string{}, d.args...), d.remote), d.env, func(err error) {
		d.rec.set(err)
		d.mu.Lock()
		d.open--
		d.mu.Unlock()
	})
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			err = &SSHError{Status: -1, Stderr: "no ssh client on PATH (install OpenSSH's client)"}
		}
		d.rec.set(err)
		return nil, err
	}
	d.mu.Lock()
	d.dials++
	d.open++
	d.peak = max(d.peak, d.open)
	d.mu.Unlock()
	return c, nil
}

// stats returns how many sessions were started and the most open at once.
func (d *sshDialer) stats() (dials, peak int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials, d.peak
}

// SSHError is ssh's own account of a session that ended badly: its exit
// status and what it wrote on standard error.
type SSHError struct {
	Status int
	Stderr string
}

func (e *SSHError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("ssh exited with status %d", e.Status)
	}
	return "ssh: " + e.Stderr
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commandConn is a net.Conn over a command's standard input and output.
// The pipes are made here rather than by os/exec, so that the process can
// be reaped as soon as it exits without losing output not yet read.
type commandConn struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end
	stdout *os.File // our end
	stderr *tailBuffer
	exited chan struct{}
	status int
	once   sync.Once
}

// startCommandConn starts name with args; onExit gets nil, or the
// *SSHError of a failed exit, once the process is gone.
func startCommandConn(name string, args, env []string, onExit func(error)) (*commandConn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout = inR, outW
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	c := &commandConn{cmd: cmd, stdin: inW, stdout: outR, stderr: stderr, exited: make(chan struct{})}
	go func() {
		werr := cmd.Wait()
		c.status = cmd.ProcessState.ExitCode()
		close(c.exited)
		if werr != nil && c.status > 0 {
			onExit(c.failure())
			return
		}
		onExit(nil)
	}()
	return c, nil
}

func (c *commandConn) failure() error {
	return &SSHError{Status: c.status, Stderr: sshMessage(c.stderr.String())}
}

func (c *commandConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if errors.Is(err, io.EOF) {
		// The session is over: if ssh failed, say why rather than EOF.
		select {
		case <-c.exited:
			if c.status > 0 {
				return n, c.failure()
			}
		case <-time.After(2 * time.Second):
		}
	}
	return n, err
}

func (c *commandConn) Write(p []byte) (int, error) {
	n, err := c.stdin.Write(p)
	if err != nil {
		select {
		case <-c.exited:
			if c.status > 0 {
				return n, c.failure()
			}
		case <-time.After(2 * time.Second):
		}
	}
	return n, err
}

// Close ends the session: the remote dial-stdio sees the end of its input
// and stops; ssh is asked to stop too. It does not wait: the process is
// reaped in the background.
func (c *commandConn) Close() error {
	c.once.Do(func() {
		c.stdin.Close()
		c.stdout.Close()
		select {
		case <-c.exited:
		default:
			terminate(c.cmd.Process)
		}
	})
	return nil
}

func (c *commandConn) LocalAddr() net.Addr  { return cmdAddr{} }
func (c *commandConn) RemoteAddr() net.Addr { return cmdAddr{} }

// Deadlines work because the pipes are pollable files.
func (c *commandConn) SetDeadline(t time.Time) error {
	return errors.Join(c.stdout.SetReadDeadline(t), c.stdin.SetWriteDeadline(t))
}
func (c *commandConn) SetReadDeadline(t time.Time) error  { return c.stdout.SetReadDeadline(t) }
func (c *commandConn) SetWriteDeadline(t time.Time) error { return c.stdin.SetWriteDeadline(t) }

type cmdAddr struct{}

func (cmdAddr) Network() string { return "ssh" }
func (cmdAddr) String() string  { return "ssh" }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// sshMessage picks what ssh said that matters: its last line that is not a
// routine warning.
func sshMessage(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "ssh: "))
		if l == "" || strings.HasPrefix(l, "Warning: Permanently added") {
			continue
		}
		return l
	}
	return ""
}
