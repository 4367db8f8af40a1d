package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// required are the secrets without which the server does not start.
var required = map[string]string{
	"STARWARS_MYSQL_PASSWORD":      "mysql-pw",
	"STARWARS_JWT_ACCESS_SECRET":   "access-secret-value",
	"STARWARS_JWT_REFRESH_SECRET":  "refresh-secret-value",
	"STARWARS_JWT_EMAIL_SECRET":    "email-secret-value",
	"STARWARS_JWT_PASSWORD_SECRET": "password-secret-value",
}

func env(extra map[string]string) func(string) (string, bool) {
	m := map[string]string{}
	for k, v := range required {
		m[k] = v
	}
	for k, v := range extra {
		if v == "<unset>" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noFiles(string) ([]byte, error) { return nil, errors.New("no files here") }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.HTTP.Addr(), "127.0.0.1:5003"},
		{"mysql", c.MySQL.Addr(), "localhost:3306"},
		{"mysql db", c.MySQL.Database, "fathat101users"},
		{"redis", c.Redis.Addr(), "localhost:6379"},
		{"redis password", c.Redis.Password.Reveal(), ""},
		{"swapi", c.SwapiURL, "https://swapi.dev/api/"},
		{"access", c.JWT.AccessLifetime, 10 * time.Hour},
		{"refresh", c.JWT.RefreshLifetime, 24 * time.Hour},
		{"email", c.JWT.EmailLifetime, time.Hour},
		{"session max age", c.JWT.SessionMaxAge, 7 * 24 * time.Hour},
		{"mysql password", c.MySQL.Password.Reveal(), "mysql-pw"},
		{"smtp port", c.SMTP.Port, 587},
		{"admin", c.Admin.Email, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestOverrides(t *testing.T) {
	c, err := Load(env(map[string]string{
		"STARWARS_API_HOST":            "0.0.0.0",
		"STARWARS_API_PORT":            "8080",
		"STARWARS_MYSQL_HOST":          "db",
		"STARWARS_MYSQL_PORT":          "3307",
		"STARWARS_MYSQL_USER":          "u",
		"STARWARS_MYSQL_DATABASE":      "d",
		"STARWARS_REDIS_HOST":          "cache",
		"STARWARS_REDIS_PORT":          "6380",
		"STARWARS_REDIS_PASSWORD":      "rpw",
		"STARWARS_SWAPI_URL":           "http://127.0.0.1:9000/api/",
		"STARWARS_JWT_ACCESS_LIFETIME": "15m",
		"STARWARS_JWT_EMAIL_LIFETIME":  "600",
		"STARWARS_ADMIN_EMAIL":         "admin@example.org",
		"STARWARS_ADMIN_PASSWORD":      "Admin-pass1",
		"STARWARS_SMTP_HOST":           "mail",
		"STARWARS_SMTP_FROM":           "api@example.org",
		"STARWARS_PUBLIC_URL":          "https://api.example.org/",
	}), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr() != "0.0.0.0:8080" || c.MySQL.Addr() != "db:3307" || c.MySQL.User != "u" ||
		c.MySQL.Database != "d" || c.Redis.Addr() != "cache:6380" || c.Redis.Password.Reveal() != "rpw" ||
		c.SwapiURL != "http://127.0.0.1:9000/api/" || c.JWT.AccessLifetime != 15*time.Minute ||
		c.JWT.EmailLifetime != 10*time.Minute || c.Admin.Password.Reveal() != "Admin-pass1" ||
		c.SMTP.Host != "mail" || c.HTTP.PublicURL != "https://api.example.org" {
		t.Errorf("overrides not applied: %+v", c)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"STARWARS_MYSQL_PASSWORD", "STARWARS_REDIS_PASSWORD",
		"STARWARS_JWT_ACCESS_SECRET", "STARWARS_JWT_REFRESH_SECRET",
		"STARWARS_JWT_EMAIL_SECRET", "STARWARS_JWT_PASSWORD_SECRET",
		"STARWARS_ADMIN_PASSWORD", "STARWARS_SMTP_PASSWORD",
	}
	extra := map[string]string{"STARWARS_ADMIN_EMAIL": "admin@example.org"}
	for _, n := range names {
		p := filepath.Join(dir, n)
		// A trailing newline, as `echo` writes, is not part of the secret.
		if err := os.WriteFile(p, []byte("from-file-"+n+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		extra[n] = "<unset>"
		extra[n+"_FILE"] = p
	}
	c, err := Load(env(extra), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Secret{
		"STARWARS_MYSQL_PASSWORD":      c.MySQL.Password,
		"STARWARS_REDIS_PASSWORD":      c.Redis.Password,
		"STARWARS_JWT_ACCESS_SECRET":   c.JWT.AccessSecret,
		"STARWARS_JWT_REFRESH_SECRET":  c.JWT.RefreshSecret,
		"STARWARS_JWT_EMAIL_SECRET":    c.JWT.EmailSecret,
		"STARWARS_JWT_PASSWORD_SECRET": c.JWT.PasswordSecret,
		"STARWARS_ADMIN_PASSWORD":      c.Admin.Password,
		"STARWARS_SMTP_PASSWORD":       c.SMTP.Password,
	}
	for n, s := range got {
		if s.Reveal() != "from-file-"+n {
			t.Errorf("%s = %q", n, s.Reveal())
		}
	}
}

func TestMissingSecretNamesIt(t *testing.T) {
	for name := range required {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(map[string]string{name: "<unset>"}), noFiles)
			if err == nil {
				t.Fatal("loaded without a required secret")
			}
			msg := err.Error()
			if !strings.Contains(msg, name) || strings.Contains(msg, "\n") {
				t.Errorf("error %q should name %s on one line", msg, name)
			}
		})
	}
	_, err := Load(env(map[string]string{"STARWARS_ADMIN_EMAIL": "admin@example.org"}), noFiles)
	if err == nil || !strings.Contains(err.Error(), "STARWARS_ADMIN_PASSWORD") {
		t.Errorf("admin email without password: %v", err)
	}
}

func TestInvalid(t *testing.T) {
	tests := map[string]string{
		"STARWARS_API_PORT":            "70000",
		"STARWARS_MYSQL_PORT":          "x",
		"STARWARS_SWAPI_URL":           "swapi.dev/api",
		"STARWARS_JWT_ACCESS_LIFETIME": "soon",
		"STARWARS_JWT_EMAIL_LIFETIME":  "-1h",
		"STARWARS_LOG_LEVEL":           "chatty",
		"STARWARS_SMTP_HOST":           "mail", // without SMTP_FROM
		"STARWARS_ADMIN_PASSWORD":      "x",    // without ADMIN_EMAIL
		"STARWARS_REDIS_DB":            "16",
		"STARWARS_JWT_EMAIL_SECRET":    "too-short",
	}
	for name, value := range tests {
		_, err := Load(env(map[string]string{name: value}), noFiles)
		if err == nil {
			t.Errorf("%s=%q accepted", name, value)
		}
	}
	// Both a value and a file is ambiguous.
	_, err := Load(env(map[string]string{"STARWARS_MYSQL_PASSWORD_FILE": "/x"}), noFiles)
	if err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("value and file: %v", err)
	}
	_, err = Load(env(map[string]string{"STARWARS_MYSQL_PASSWORD": "<unset>", "STARWARS_MYSQL_PASSWORD_FILE": "/nonexistent"}), noFiles)
	if err == nil || !strings.Contains(err.Error(), "STARWARS_MYSQL_PASSWORD_FILE") {
		t.Errorf("unreadable file: %v", err)
	}
}

func TestJWTSecretsDiffer(t *testing.T) {
	_, err := Load(env(map[string]string{"STARWARS_JWT_PASSWORD_SECRET": required["STARWARS_JWT_REFRESH_SECRET"]}), noFiles)
	if err == nil || !strings.Contains(err.Error(), "STARWARS_JWT_REFRESH_SECRET") || !strings.Contains(err.Error(), "STARWARS_JWT_PASSWORD_SECRET") {
		t.Errorf("equal refresh and password secrets: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), required["STARWARS_JWT_REFRESH_SECRET"]) {
		t.Errorf("error shows the secret: %v", err)
	}
}

// TestLifetimesBounded: revocations are kept api.MaxTokenAge (720h).
func TestLifetimesBounded(t *testing.T) {
	for _, name := range []string{"STARWARS_SESSION_MAX_AGE", "STARWARS_JWT_REFRESH_LIFETIME", "STARWARS_JWT_EMAIL_LIFETIME"} {
		if _, err := Load(env(map[string]string{name: "721h"}), noFiles); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=721h: %v", name, err)
		}
	}
	if c, err := Load(env(map[string]string{"STARWARS_SESSION_MAX_AGE": "720h"}), noFiles); err != nil || c.JWT.SessionMaxAge != 720*time.Hour {
		t.Errorf("STARWARS_SESSION_MAX_AGE=720h: %v", err)
	}
}

func TestSecretsMaskedInLogs(t *testing.T) {
	c, err := Load(env(map[string]string{
		"STARWARS_ADMIN_EMAIL":    "admin@example.org",
		"STARWARS_ADMIN_PASSWORD": "admin-secret-value",
		"STARWARS_REDIS_PASSWORD": "redis-secret-value",
		"STARWARS_SMTP_PASSWORD":  "smtp-secret-value",
	}), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", c)
	fmt.Fprintf(&buf, "%v %+v %#v %s", c, c, c, c.MySQL.Password)
	out := buf.String()
	for _, secret := range []string{"mysql-pw", "access-secret-value", "refresh-secret-value", "email-secret-value",
		"password-secret-value", "admin-secret-value", "redis-secret-value", "smtp-secret-value"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q appears in log output", secret)
		}
	}
	if !strings.Contains(out, `"mysql_password":"***"`) || !strings.Contains(out, "admin@example.org") {
		t.Errorf("log output lacks masked secrets or plain settings:\n%s", out)
	}
}

func TestLoginHardening(t *testing.T) {
	c, err := Load(env(nil), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	want := Login{AccountFailures: 5, AddressFailures: 20, Window: 15 * time.Minute, Delay: time.Second, MaxDelay: 15 * time.Minute}
	if c.Login != want {
		t.Errorf("login defaults %+v, want %+v", c.Login, want)
	}
	if c.Hashing.Concurrency != 2*runtime.NumCPU() || c.Hashing.Queue != 32 {
		t.Errorf("hashing defaults %+v", c.Hashing)
	}
	if len(c.HTTP.TrustedProxies) != 0 {
		t.Errorf("trusted proxies by default: %v", c.HTTP.TrustedProxies)
	}

	c, err = Load(env(map[string]string{
		"STARWARS_LOGIN_FAILURES":         "3",
		"STARWARS_LOGIN_ADDRESS_FAILURES": "50",
		"STARWARS_LOGIN_WINDOW":           "1h",
		"STARWARS_LOGIN_DELAY":            "2s",
		"STARWARS_LOGIN_MAX_DELAY":        "300",
		"STARWARS_HASH_CONCURRENCY":       "3",
		"STARWARS_HASH_QUEUE":             "0",
		"STARWARS_TRUSTED_PROXIES":        " starwars-edge, 10.0.0.0/8 ,192.168.1.7,",
	}), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	want = Login{AccountFailures: 3, AddressFailures: 50, Window: time.Hour, Delay: 2 * time.Second, MaxDelay: 5 * time.Minute}
	if c.Login != want || c.Hashing != (Hashing{Concurrency: 3, Queue: 0}) ||
		!slices.Equal(c.HTTP.TrustedProxies, []string{"starwars-edge", "10.0.0.0/8", "192.168.1.7"}) {
		t.Errorf("overrides not applied: %+v %+v %q", c.Login, c.Hashing, c.HTTP.TrustedProxies)
	}

	for name, value := range map[string]string{
		"STARWARS_LOGIN_FAILURES":         "0",
		"STARWARS_LOGIN_ADDRESS_FAILURES": "-1",
		"STARWARS_LOGIN_WINDOW":           "0s",
		"STARWARS_LOGIN_DELAY":            "500ms", // Retry-After counts whole seconds
		"STARWARS_LOGIN_MAX_DELAY":        "10ms",  // below the first delay
		"STARWARS_HASH_CONCURRENCY":       "0",
		"STARWARS_HASH_QUEUE":             "-1",
		"STARWARS_TRUSTED_PROXIES":        "10.0.0.0/33",
	} {
		if _, err := Load(env(map[string]string{name: value}), noFiles); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v, want an error naming it", name, value, err)
		}
	}
	for _, bad := range []string{"edge proxy", "-edge", "http://edge", "edge:5003"} {
		if _, err := Load(env(map[string]string{"STARWARS_TRUSTED_PROXIES": bad}), noFiles); err == nil {
			t.Errorf("STARWARS_TRUSTED_PROXIES=%q accepted", bad)
		}
	}
}
func TestCacheRedis(t *testing.T) {
	// Unset: the cache shares the revocations' Redis.
	c, err := Load(env(map[string]string{
		"STARWARS_REDIS_HOST": "redis", "STARWARS_REDIS_PORT": "6380", "STARWARS_REDIS_PASSWORD": "rpw", "STARWARS_REDIS_DB": "3",
	}), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheRedis != c.Redis || !c.CacheShared() {
		t.Errorf("unset: cache redis %+v, want the revocations' %+v, shared", c.CacheRedis, c.Redis)
	}

	// Set: a Redis of its own; a setting left unset still takes Redis's.
	file := filepath.Join(t.TempDir(), "cache_password")
	if err := os.WriteFile(file, []byte("cpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(env(map[string]string{
		"STARWARS_REDIS_HOST": "redis", "STARWARS_REDIS_PASSWORD": "rpw",
		"STARWARS_CACHE_REDIS_HOST": "cache", "STARWARS_CACHE_REDIS_PASSWORD_FILE": file,
	}), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheRedis.Addr() != "cache:6379" || c.CacheRedis.Password.Reveal() != "cpw" || c.CacheShared() {
		t.Errorf("set: cache redis %+v shared=%v", c.CacheRedis, c.CacheShared())
	}
	if c.Redis.Addr() != "redis:6379" || c.Redis.Password.Reveal() != "rpw" {
		t.Errorf("the revocations' redis changed: %+v", c.Redis)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", c)
	if strings.Contains(buf.String(), "cpw") || !strings.Contains(buf.String(), `"cache_redis":"cache:6379"`) {
		t.Errorf("start-up log: %s", buf.String())
	}
	c, err = Load(env(map[string]string{"STARWARS_REDIS_PASSWORD": "rpw", "STARWARS_CACHE_REDIS_PORT": "6390"}), noFiles)
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheRedis.Addr() != "localhost:6390" || c.CacheRedis.Password.Reveal() != "rpw" || c.CacheShared() {
		t.Errorf("port only: cache redis %+v shared=%v", c.CacheRedis, c.CacheShared())
	}

	if _, err := Load(env(map[string]string{"STARWARS_CACHE_REDIS_PORT": "0"}), noFiles); err == nil {
		t.Error("STARWARS_CACHE_REDIS_PORT=0 accepted")
	}
}
