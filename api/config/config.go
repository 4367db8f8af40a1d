// Package config reads the server's configuration from the environment:
// defaults for everything that has a safe one, NAME_FILE for every secret
// (as Docker secrets are mounted), and no default for any secret.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// Secret is a string that prints masked, so that logging a Config cannot
// leak it. Reveal returns the value.
type Secret string

const mask = "***"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return mask
}

// GoString masks %#v too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText masks the secret in JSON and other encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Config is the whole server configuration.
type Config struct {
	HTTP  HTTP
	MySQL MySQL
	Redis Redis
	// CacheRedis holds the upstream cache: see CacheShared.
	CacheRedis Redis
	// SwapiURL is the upstream SWAPI-compatible service.
	SwapiURL string
	JWT      JWT
	Admin    Admin
	SMTP     SMTP
	LogLevel slog.Level
	Login    Login
	Hashing  Hashing
}

// HTTP is the listener.
type HTTP struct {
	Host string
	Port int
	// PublicURL prefixes links sent to users (the email verification
	// link); empty leaves them relative.
	PublicURL string
	// ShutdownTimeout bounds how long in-flight requests may finish.
	ShutdownTimeout time.Duration
	// ShutdownDrain is how long the server keeps serving after SIGTERM
	// while /healthz answers 503, so that a proxy in front stops sending
	// it new requests before it stops accepting them.
	ShutdownDrain time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (the stack's edge): CIDRs, addresses or host names, the names
	// resolved again from time to time. Empty trusts no peer.
	TrustedProxies []string
}

// Addr is host:port.
func (h HTTP) Addr() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// MySQL is the user store's server.
type MySQL struct {
	Host     string
	Port     int
	User     string
	Password Secret
	Database string
}

// Addr is host:port.
func (m MySQL) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// Redis is a Redis server: Config.Redis holds the revocations,
// Config.CacheRedis the upstream cache.
type Redis struct {
	Host     string
	Port     int
	Password Secret // optional: a local Redis may have none
	DB       int
	// Prefix starts every key the server writes, so that deployments can
	// share a Redis.
	Prefix string
}

// Addr is host:port.
func (r Redis) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// CacheShared reports whether the upstream cache lives in the revocations'
// Redis. Each STARWARS_CACHE_REDIS_* setting left unset takes the
// STARWARS_REDIS_* one, so a deployment with one Redis still works; but
// Redis evicts per instance, so the cache then has no memory bound that
// could not also evict a revocation. Only a cache Redis of its own can run
// with maxmemory and LRU eviction while the revocations' runs noeviction.
func (c Config) CacheShared() bool {
	return c.CacheRedis.Addr() == c.Redis.Addr() && c.CacheRedis.DB == c.Redis.DB
}

// JWT holds one secret and lifetime per token type.
type JWT struct {
	Issuer           string
	AccessSecret     Secret
	RefreshSecret    Secret
	EmailSecret      Secret
	PasswordSecret   Secret
	AccessLifetime   time.Duration
	RefreshLifetime  time.Duration
	EmailLifetime    time.Duration
	PasswordLifetime time.Duration
	// SessionMaxAge is how long after login a session's tokens are
	// accepted and rotated; no token of a session outlives it.
	SessionMaxAge time.Duration
}

// Admin is the first admin, created at start-up when Email is set.
type Admin struct {
	Email    string
	Password Secret
}

// SMTP sends the verification mail when Host is set; otherwise the link
// goes to the server log.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password Secret
	From     string
}

// Login is the failed-login budget. Beyond AccountFailures failures for
// one account, or AddressFailures from one client address, each further
// attempt waits Delay, doubled per further failure, at most MaxDelay. A
// count is forgotten Window after its last failure (and delay), and a
// successful login resets its account's.
type Login struct {
	AccountFailures int
	AddressFailures int
	Window          time.Duration
	Delay           time.Duration
	MaxDelay        time.Duration
}

// Hashing bounds password hashing: Concurrency hashes at once, Queue more
// requests waiting; beyond that login and signup answer 503 at once.
type Hashing struct {
	Concurrency int
	Queue       int
}

// MinJWTSecretLen is the shortest signing secret accepted (as in api/auth).
const MinJWTSecretLen = 16

// FromEnv reads the process environment.
func FromEnv() (Config, error) { return Load(os.LookupEnv, os.ReadFile) }

// Load reads the configuration through lookup (os.LookupEnv's shape) and
// readFile (for NAME_FILE). All problems are reported at once, on one line.
func Load(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (Config, error) {
	r := reader{lookup: lookup, readFile: readFile}
	var c Config

	c.HTTP.Host = r.str("STARWARS_API_HOST", "127.0.0.1")
	c.HTTP.Port = r.port("STARWARS_API_PORT", 5003)
	c.HTTP.PublicURL = strings.TrimRight(r.str("STARWARS_PUBLIC_URL", ""), "/")
	c.HTTP.ShutdownTimeout = r.duration("STARWARS_SHUTDOWN_TIMEOUT", 20*time.Second)
	c.HTTP.ShutdownDrain = r.duration("STARWARS_SHUTDOWN_DRAIN", 0)
	c.HTTP.TrustedProxies = r.proxies("STARWARS_TRUSTED_PROXIES")

	c.MySQL.Host = r.str("STARWARS_MYSQL_HOST", "localhost")
	c.MySQL.Port = r.port("STARWARS_MYSQL_PORT", 3306)
	c.MySQL.User = r.str("STARWARS_MYSQL_USER", "starwars")
	c.MySQL.Password = r.secret("STARWARS_MYSQL_PASSWORD", true)
	c.MySQL.Database = r.str("STARWARS_MYSQL_DATABASE", "fathat101users")

	c.Redis.Host = r.str("STARWARS_REDIS_HOST", "localhost")
	c.Redis.Port = r.port("STARWARS_REDIS_PORT", 6379)
	c.Redis.Password = r.secret("STARWARS_REDIS_PASSWORD", false)
	c.Redis.DB = r.integer("STARWARS_REDIS_DB", 0, 0, 15)
	c.Redis.Prefix = r.str("STARWARS_REDIS_PREFIX", "starwars:")

	c.CacheRedis = c.Redis
	c.CacheRedis.Host = r.str("STARWARS_CACHE_REDIS_HOST", c.Redis.Host)
	c.CacheRedis.Port = r.port("STARWARS_CACHE_REDIS_PORT", c.Redis.Port)
	if pw := r.secret("STARWARS_CACHE_REDIS_PASSWORD", false); pw != "" {
		c.CacheRedis.Password = pw
	}

	c.SwapiURL = r.str("STARWARS_SWAPI_URL", "https://swapi.dev/api/")
	if u, err := url.Parse(c.SwapiURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail("STARWARS_SWAPI_URL must be an absolute http(s) URL")
	}

	c.JWT.Issuer = r.str("STARWARS_JWT_ISSUER", "starwars-api")
	c.JWT.AccessSecret = r.secret("STARWARS_JWT_ACCESS_SECRET", true)
	c.JWT.RefreshSecret = r.secret("STARWARS_JWT_REFRESH_SECRET", true)
	c.JWT.EmailSecret = r.secret("STARWARS_JWT_EMAIL_SECRET", true)
	c.JWT.PasswordSecret = r.secret("STARWARS_JWT_PASSWORD_SECRET", true)
	secrets := []struct {
		name  string
		value Secret
	}{
		{"STARWARS_JWT_ACCESS_SECRET", c.JWT.AccessSecret}, {"STARWARS_JWT_REFRESH_SECRET", c.JWT.RefreshSecret},
		{"STARWARS_JWT_EMAIL_SECRET", c.JWT.EmailSecret}, {"STARWARS_JWT_PASSWORD_SECRET", c.JWT.PasswordSecret},
	}
	for i, s := range secrets {
		// A short HMAC key can be guessed offline from any one token.
		if s.value != "" && len(s.value) < MinJWTSecretLen {
			r.fail("%s must be at least %d bytes", s.name, MinJWTSecretLen)
		}
		// One secret per token type keeps a token of one type from passing
		// as another.
		for _, earlier := range secrets[:i] {
			if s.value != "" && s.value == earlier.value {
				r.fail("%s and %s must differ", earlier.name, s.name)
			}
		}
	}
	c.JWT.AccessLifetime = r.duration("STARWARS_JWT_ACCESS_LIFETIME", 10*time.Hour)
	c.JWT.RefreshLifetime = r.duration("STARWARS_JWT_REFRESH_LIFETIME", 24*time.Hour)
	c.JWT.EmailLifetime = r.duration("STARWARS_JWT_EMAIL_LIFETIME", time.Hour)
	c.JWT.PasswordLifetime = r.duration("STARWARS_JWT_PASSWORD_LIFETIME", time.Hour)
	c.JWT.SessionMaxAge = r.duration("STARWARS_SESSION_MAX_AGE", api.DefaultSessionMaxAge)
	// Revocations are kept no longer than api.MaxTokenAge.
	for _, l := range []struct {
		name string
		d    time.Duration
	}{
		{"STARWARS_JWT_ACCESS_LIFETIME", c.JWT.AccessLifetime}, {"STARWARS_JWT_REFRESH_LIFETIME", c.JWT.RefreshLifetime},
		{"STARWARS_JWT_EMAIL_LIFETIME", c.JWT.EmailLifetime}, {"STARWARS_JWT_PASSWORD_LIFETIME", c.JWT.PasswordLifetime},
		{"STARWARS_SESSION_MAX_AGE", c.JWT.SessionMaxAge},
	} {
		if l.d > api.MaxTokenAge {
			r.fail("%s must be at most %v", l.name, api.MaxTokenAge)
		}
	}

	c.Admin.Email = r.str("STARWARS_ADMIN_EMAIL", "")
	c.Admin.Password = r.secret("STARWARS_ADMIN_PASSWORD", c.Admin.Email != "")
	if c.Admin.Email == "" && c.Admin.Password != "" {
		r.fail("STARWARS_ADMIN_PASSWORD is set but STARWARS_ADMIN_EMAIL is not")
	}

	c.SMTP.Host = r.str("STARWARS_SMTP_HOST", "")
	c.SMTP.Port = r.port("STARWARS_SMTP_PORT", 587)
	c.SMTP.Username = r.str("STARWARS_SMTP_USERNAME", "")
	c.SMTP.Password = r.secret("STARWARS_SMTP_PASSWORD", false)
	c.SMTP.From = r.str("STARWARS_SMTP_FROM", "")
	if c.SMTP.Host != "" && c.SMTP.From == "" {
		r.fail("STARWARS_SMTP_FROM is required when STARWARS_SMTP_HOST is set")
	}

	c.Login.AccountFailures = r.integer("STARWARS_LOGIN_FAILURES", 5, 1, 1000)
	c.Login.AddressFailures = r.integer("STARWARS_LOGIN_ADDRESS_FAILURES", 20, 1, 100000)
	c.Login.Window = r.duration("STARWARS_LOGIN_WINDOW", 15*time.Minute)
	c.Login.Delay = r.duration("STARWARS_LOGIN_DELAY", time.Second)
	c.Login.MaxDelay = r.duration("STARWARS_LOGIN_MAX_DELAY", 15*time.Minute)
	if c.Login.Delay < time.Second {
		// Retry-After counts whole seconds.
		r.fail("STARWARS_LOGIN_DELAY must be at least 1s")
	}
	if c.Login.MaxDelay < c.Login.Delay {
		r.fail("STARWARS_LOGIN_MAX_DELAY must not be below STARWARS_LOGIN_DELAY")
	}
	c.Hashing.Concurrency = r.integer("STARWARS_HASH_CONCURRENCY", 2*runtime.NumCPU(), 1, 1024)
	c.Hashing.Queue = r.integer("STARWARS_HASH_QUEUE", 32, 0, 100000)

	switch lvl := strings.ToLower(r.str("STARWARS_LOG_LEVEL", "info")); lvl {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		r.fail("STARWARS_LOG_LEVEL must be debug, info, warn or error")
	}

	if len(r.problems) > 0 {
		return Config{}, errors.New("config: " + strings.Join(r.problems, "; "))
	}
	return c, nil
}

// LogValue lists the configuration with secrets masked, for the start-up log.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.HTTP.Addr()),
		slog.String("public_url", c.HTTP.PublicURL),
		slog.String("mysql", c.MySQL.User+"@"+c.MySQL.Addr()+"/"+c.MySQL.Database),
		slog.Any("mysql_password", c.MySQL.Password),
		slog.String("redis", c.Redis.Addr()),
		slog.Int("redis_db", c.Redis.DB),
		slog.String("redis_prefix", c.Redis.Prefix),
		slog.Any("redis_password", c.Redis.Password),
		slog.String("cache_redis", c.CacheRedis.Addr()),
		slog.Any("cache_redis_password", c.CacheRedis.Password),
		slog.String("swapi_url", c.SwapiURL),
		slog.String("jwt_issuer", c.JWT.Issuer),
		slog.Any("jwt_access_secret", c.JWT.AccessSecret),
		slog.Any("jwt_refresh_secret", c.JWT.RefreshSecret),
		slog.Any("jwt_email_secret", c.JWT.EmailSecret),
		slog.Any("jwt_password_secret", c.JWT.PasswordSecret),
		slog.String("access_lifetime", c.JWT.AccessLifetime.String()),
		slog.String("refresh_lifetime", c.JWT.RefreshLifetime.String()),
		slog.String("email_lifetime", c.JWT.EmailLifetime.String()),
		slog.String("password_lifetime", c.JWT.PasswordLifetime.String()),
		slog.String("session_max_age", c.JWT.SessionMaxAge.String()),
		slog.String("admin_email", c.Admin.Email),
		slog.Any("admin_password", c.Admin.Password),
		slog.String("smtp", c.SMTP.Host),
		slog.Int("smtp_port", c.SMTP.Port),
		slog.String("smtp_username", c.SMTP.Username),
		slog.Any("smtp_password", c.SMTP.Password),
		slog.String("smtp_from", c.SMTP.From),
		slog.String("log_level", c.LogLevel.String()),
		slog.Any("trusted_proxies", c.HTTP.TrustedProxies),
		slog.Int("login_failures", c.Login.AccountFailures),
		slog.Int("login_address_failures", c.Login.AddressFailures),
		slog.String("login_window", c.Login.Window.String()),
		slog.String("login_delay", c.Login.Delay.String()),
		slog.String("login_max_delay", c.Login.MaxDelay.String()),
		slog.Int("hash_concurrency", c.Hashing.Concurrency),
		slog.Int("hash_queue", c.Hashing.Queue),
	)
}

// reader collects problems instead of stopping at the first, so that an
// operator fixes them all in one go.
type reader struct {
	lookup   func(string) (string, bool)
	readFile func(string) ([]byte, error)
	problems []string
}

func (r *reader) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *reader) str(name, def string) string {
	if v, ok := r.lookup(name); ok && v != "" {
		return v
	}
	return def
}

// secret reads name or the file named by name_FILE (not both). A file's
// trailing newline is dropped: editors and `echo` add one.
func (r *reader) secret(name string, required bool) Secret {
	v, hasValue := r.lookup(name)
	hasValue = hasValue && v != ""
	path, hasFile := r.lookup(name + "_FILE")
	hasFile = hasFile && path != ""
	switch {
	case hasValue && hasFile:
		r.fail("both %s and %s_FILE are set", name, name)
		return ""
	case hasFile:
		b, err := r.readFile(path)
		if err != nil {
			r.fail("%s_FILE: cannot read %s", name, path)
			return ""
		}
		v = strings.TrimRight(string(b), "\r\n")
		if v == "" && required {
			r.fail("%s_FILE names an empty file", name)
		}
		return Secret(v)
	case hasValue:
		return Secret(v)
	}
	if required {
		r.fail("%s is required (set it, or %s_FILE to a file holding it)", name, name)
	}
	return ""
}

func (r *reader) integer(name string, def, min, max int) int {
	v, ok := r.lookup(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.fail("%s must be an integer from %d to %d", name, min, max)
		return def
	}
	return n
}

func (r *reader) port(name string, def int) int { return r.integer(name, def, 1, 65535) }

// duration accepts Go durations ("10h", "90m") or whole seconds ("3600").
func (r *reader) duration(name string, def time.Duration) time.Duration {
	v, ok := r.lookup(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, aerr := strconv.Atoi(v)
		if aerr != nil {
			r.fail("%s must be a duration such as 10h or a number of seconds", name)
			return def
		}
		d = time.Duration(secs) * time.Second
	}
	if d <= 0 {
		r.fail("%s must be positive", name)
		return def
	}
	return d
}

// proxies reads a comma-separated list of CIDRs, addresses and host names.
func (r *reader) proxies(name string) []string {
	var out []string
	for _, p := range strings.Split(r.str(name, ""), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		_, cidrErr := netip.ParsePrefix(p)
		_, addrErr := netip.ParseAddr(p)
		if cidrErr != nil && addrErr != nil && !hostName(p) {
			r.fail("%s: %q is neither a CIDR, an address nor a host name", name, p)
			continue
		}
		out = append(out, p)
	}
	return out
}

// hostName reports whether s is a plain DNS name: dot-separated labels of
// letters, digits and inner hyphens, and not all digits and dots (which
// would be a malformed address).
func hostName(s string) bool {
	if len(s) > 253 || strings.Trim(s, "0123456789.") == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
