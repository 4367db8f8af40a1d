package mail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLogWritesOneLineWithAddressAndLink(t *testing.T) {
	var buf bytes.Buffer
	m := Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	link := "/users/v1/email_verification?token=abc.def.ghi"
	if err := m.SendVerification(context.Background(), "luke@tatooine.org", link); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "email verification link" || rec["email"] != "luke@tatooine.org" || rec["link"] != link {
		t.Errorf("log record %v", rec)
	}
}

// fakeSMTP is just enough of an SMTP server on loopback to receive one
// message; it returns what it received.
func fakeSMTP(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		var transcript strings.Builder
		say := func(s string) { _, _ = conn.Write([]byte(s + "\r\n")) }
		say("220 fake ESMTP")
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				out <- transcript.String()
				return
			}
			transcript.WriteString(line)
			cmd := strings.ToUpper(strings.TrimSpace(line))
			switch {
			case inData:
				if strings.TrimRight(line, "\r\n") == "." {
					inData = false
					say("250 queued")
				}
			case strings.HasPrefix(cmd, "EHLO"):
				say("250-fake")
				say("250 8BITMIME")
			case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"):
				say("250 ok")
			case cmd == "DATA":
				inData = true
				say("354 go ahead")
			case cmd == "QUIT":
				say("221 bye")
				out <- transcript.String()
				return
			default:
				say("502 not implemented")
			}
		}
	}()
	return ln.Addr().String(), out
}

func TestSMTPSendsTheLink(t *testing.T) {
	addr, got := fakeSMTP(t)
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	m := &SMTP{Host: host, Port: p, From: "api@starwars.local", Timeout: 5 * time.Second}
	link := "https://api.example.org/users/v1/email_verification?token=abc"
	if err := m.SendVerification(context.Background(), "leia@alderaan.org", link); err != nil {
		t.Fatal(err)
	}
	transcript := <-got
	for _, want := range []string{"MAIL FROM:<api@starwars.local>", "RCPT TO:<leia@alderaan.org>", "To: leia@alderaan.org", link} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
}

func TestSMTPRefusesHeaderInjection(t *testing.T) {
	m := &SMTP{Host: "127.0.0.1", Port: 1, From: "api@starwars.local"}
	err := m.SendVerification(context.Background(), "a@b.org\r\nBcc: victim@c.org", "/x")
	if err == nil || !strings.Contains(err.Error(), "line break") {
		t.Errorf("header injection: %v", err)
	}
}

func TestSMTPServerDown(t *testing.T) {
	m := &SMTP{Host: "127.0.0.1", Port: 1, From: "api@starwars.local", Timeout: time.Second}
	if err := m.SendVerification(context.Background(), "a@b.org", "/x"); err == nil {
		t.Error("sent to a closed port")
	}
}
