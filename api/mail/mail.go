// Package mail sends the email verification link: by SMTP when a server is
// configured, otherwise into the server log so that a fresh deployment is
// usable without one.
package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// Log writes the link to the server log, on one line with the address.
type Log struct {
	Logger *slog.Logger
}

var _ api.Mailer = Log{}

// SendVerification logs the link.
func (l Log) SendVerification(ctx context.Context, email, link string) error {
	l.Logger.InfoContext(ctx, "email verification link", "email", email, "link", link)
	return nil
}

// SMTP sends mail through a submission server. Port 465 speaks TLS from
// the start; any other port upgrades with STARTTLS when the server offers
// it. Authentication is used when Username is set.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	Timeout  time.Duration // per message; 30 s when zero
	// TLSConfig overrides the TLS settings (tests trust their own CA).
	TLSConfig *tls.Config
}

var _ api.Mailer = (*SMTP)(nil)

// SendVerification mails the link to email.
func (s *SMTP) SendVerification(ctx context.Context, email, link string) error {
	body := "To verify your email address for the Star Wars API, open this link:\r\n\r\n" +
		link + "\r\n\r\nIf you did not sign up, ignore this message.\r\n"
	return s.send(ctx, email, "Verify your email address", body)
}

func (s *SMTP) send(ctx context.Context, to, subject, body string) error {
	// The address was validated at signup, but a header must never carry a
	// line break whatever its source.
	for _, v := range []string{to, s.From, subject} {
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("smtp: line break in header value")
		}
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	tlsCfg := s.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if s.Port == 465 {
		conn = tls.Client(conn, tlsCfg)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && s.Port != 465 {
		if err := c.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if s.Username != "" {
		// PlainAuth refuses to send credentials over an unencrypted
		// connection to anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	msg := "From: " + s.From + "\r\n" +
		"To: " + to + "\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" + body
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp end data: %w", err)
	}
	return c.Quit()
}
