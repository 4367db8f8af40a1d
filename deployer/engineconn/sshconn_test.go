package engineconn

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSSHURL(t *testing.T) {
	for raw, want := range map[string]sshSpec{
		"ssh://host":                         {Host: "host"},
		"ssh://me@host:2222":                 {User: "me", Host: "host", Port: "2222"},
		"ssh://me@host/run/user/docker.sock": {User: "me", Host: "host", Socket: "/run/user/docker.sock"},
		"ssh://[::1]:22":                     {Host: "::1", Port: "22"},
	} {
		got, err := parseSSHURL(raw)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"ssh://", "ssh://u:p@h", "ssh://h?x=1", "tcp://h", "ssh://-oProxyCommand=x", "ssh://-h:22", "ssh://-l@h"} {
		if _, err := parseSSHURL(raw); err == nil {
			t.Errorf("%s: accepted", raw)
		}
	}
}

// TestSSHArgs checks the command line: the user's options first (ssh keeps
// the first value of each), a bounded connect, no prompts, multiplexing,
// and the remote dial-stdio, with a socket path quoted for the shell.
func TestSSHArgs(t *testing.T) {
	spec, _ := parseSSHURL("ssh://deploy@engine:2222/var/run/my docker.sock")
	d, err := newSSHDialer(spec, 5*time.Second, newConnectEnv([]string{SSHOptsEnv + `=-i "/keys/my key" -o ControlPath=none`}), &dialRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(d.args, " ")
	for _, want := range []string{"-i /keys/my key -o ControlPath=none -o ConnectTimeout=6 -o BatchMode=yes", "-T -l deploy -p 2222 -- engine"} {
		if !strings.Contains(line, want) {
			t.Errorf("args %q lack %q", line, want)
		}
	}
	if controlDir() != "" && !slices.Contains(d.args, "ControlMaster=auto") {
		t.Errorf("no multiplexing: %q", line)
	}
	if d.remote != `docker '--host=unix:///var/run/my docker.sock' system dial-stdio` {
		t.Errorf("remote command %q", d.remote)
	}
	if _, err := newSSHDialer(spec, time.Second, newConnectEnv([]string{SSHOptsEnv + `=-i "unclosed`}), &dialRecorder{}); err == nil {
		t.Error("an unparsable " + SSHOptsEnv + " was accepted")
	}
}

// fakeSSH is a dialer whose "ssh" is a shell script.
func fakeSSH(t *testing.T, script string) *sshDialer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &sshDialer{binary: path, remote: "docker system dial-stdio", rec: &dialRecorder{}}
}

func TestCommandConnCarriesBytes(t *testing.T) {
	d := fakeSSH(t, "exec cat")
	c, err := d.DialContext(context.Background(), "tcp", "ignored:80")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("GET /_ping HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "GET /_ping HTTP/1.1\r\n" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	c.Close()
	cc := c.(*commandConn)
	select {
	case <-cc.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the command still runs after Close")
	}
	if dials, peak := d.stats(); dials != 1 || peak != 1 {
		t.Errorf("dials %d, peak %d", dials, peak)
	}
}

// TestCommandConnReportsSSHFailure: when ssh gives up, the reader gets
// ssh's own message, and so does the recorder Connect explains from.
func TestCommandConnReportsSSHFailure(t *testing.T) {
	d := fakeSSH(t, `echo "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts." >&2
echo "deploy@engine: Permission denied (publickey)." >&2
exit 255`)
	c, err := d.DialContext(context.Background(), "tcp", "x:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(c)
	var se *SSHError
	if !errors.As(err, &se) || se.Status != 255 || se.Stderr != "deploy@engine: Permission denied (publickey)." {
		t.Fatalf("read: %v", err)
	}
	if !errors.As(d.rec.get(), &se) {
		t.Errorf("recorder: %v", d.rec.get())
	}
	want := "ssh: deploy@engine: Permission denied (publickey). (the key was refused: check ssh-agent, ~/.ssh/config or -i in SWDEPLOY_SSH_OPTS)"
	if got := explain(errors.New("EOF"), d.rec.get(), context.Background(), time.Second); got != want {
		t.Errorf("explain: %q\nwant       %q", got, want)
	}
}

func TestSSHCauses(t *testing.T) {
	for stderr, want := range map[string]string{
		"Host key verification failed.":                                      "ssh: Host key verification failed. (the host is not in known_hosts: connect once with ssh to add it)",
		"bash: line 1: docker: command not found":                            "ssh: the remote host has no docker CLI on PATH, which `docker system dial-stdio` needs (bash: line 1: docker: command not found)",
		"ssh: Could not resolve hostname nowhere: Name or service not known": "ssh: Could not resolve hostname nowhere: Name or service not known",
	} {
		if got := sshCause(&SSHError{Status: 255, Stderr: sshMessage(stderr)}); got != want {
			t.Errorf("%q:\ngot  %q\nwant %q", stderr, got, want)
		}
	}
}
