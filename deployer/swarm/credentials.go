package swarm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/registry"
)

// DockerConfigDir is where the docker CLI keeps config.json: $DOCKER_CONFIG,
// else ~/.docker.
func DockerConfigDir() string {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".docker"
	}
	return filepath.Join(home, ".docker")
}

// Credentials returns the credentials for a registry host (host[:port], as
// RegistryHost gives it) as the docker CLI finds them after `docker login`:
// from the credential helper that config.json names for the host
// (credHelpers) or for every host (credsStore), else from its auths.
// Nothing stored for the host is anonymous access: the zero AuthConfig and
// no error. A config that cannot be read, or a helper that fails other
// than by not knowing the host, is an error. Encode the result for the
// Engine API with registry.EncodeAuthConfig.
func Credentials(ctx context.Context, host string) (registry.AuthConfig, error) {
	path := filepath.Join(DockerConfigDir(), "config.json")
	cfg, err := readDockerConfig(path)
	if err != nil {
		return registry.AuthConfig{}, err
	}
	helper := cfg.CredsStore
	if h, ok := cfg.CredHelpers[host]; ok {
		helper = h
	}
	if helper != "" {
		return helperCredentials(ctx, helper, host)
	}
	return cfg.fileCredentials(path, host)
}

// dockerConfig is the part of the docker CLI's config.json about registries.
type dockerConfig struct {
	Auths       map[string]authEntry `json:"auths"`
	CredsStore  string               `json:"credsStore"`
	CredHelpers map[string]string    `json:"credHelpers"`
}

type authEntry struct {
	Auth          string `json:"auth"` // base64 of user:password
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

func readDockerConfig(path string) (dockerConfig, error) {
	var cfg dockerConfig
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("docker config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("docker config %s: %w", path, err)
	}
	return cfg, nil
}

// fileCredentials is the auths entry for the host: by its exact key, else
// by a key that is a URL of the host, as older logins wrote
// (https://host/v1/).
func (c dockerConfig) fileCredentials(path, host string) (registry.AuthConfig, error) {
	e, ok := c.Auths[host]
	if !ok {
		keys := make([]string, 0, len(c.Auths))
		for k := range c.Auths {
			keys = append(keys, k)
		}
		slices.Sort(keys) // the same answer every time if two keys match
		for _, k := range keys {
			if hostOf(k) == host {
				e, ok = c.Auths[k], true
				break
			}
		}
	}
	if !ok {
		return registry.AuthConfig{}, nil
	}
	auth := registry.AuthConfig{
		Username:      e.Username,
		Password:      e.Password,
		IdentityToken: e.IdentityToken,
		RegistryToken: e.RegistryToken,
	}
	if e.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return registry.AuthConfig{}, fmt.Errorf("docker config %s: auths[%s].auth: %w", path, host, err)
		}
		user, pass, found := strings.Cut(string(b), ":")
		if !found {
			return registry.AuthConfig{}, fmt.Errorf("docker config %s: auths[%s].auth is not base64 of user:password", path, host)
		}
		auth.Username, auth.Password = user, strings.Trim(pass, "\x00")
	}
	if auth == (registry.AuthConfig{}) {
		return auth, nil // an empty entry, as a login through a helper leaves
	}
	auth.ServerAddress = host
	return auth, nil
}

// hostOf is the host[:port] of an auths key that may be a URL.
func hostOf(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil && u.Host != "" {
			return u.Host
		}
	}
	host, _, _ := strings.Cut(key, "/")
	return host
}

// helperNotFound is what docker-credential-* helpers print for a host
// they hold nothing for.
const helperNotFound = "credentials not found in native keychain"

// helperCredentials asks docker-credential-<helper> for the host's
// credentials: `get` with the server on stdin, JSON on stdout. A Username
// of "<token>" means the secret is an identity token.
func helperCredentials(ctx context.Context, helper, host string) (registry.AuthConfig, error) {
	program := "docker-credential-" + helper
	cmd := exec.CommandContext(ctx, program, "get")
	cmd.Stdin = strings.NewReader(host)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(string(out) + " " + stderr.String())
		if strings.Contains(msg, helperNotFound) {
			return registry.AuthConfig{}, nil
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return registry.AuthConfig{}, fmt.Errorf("credentials for %s from %s: %w", host, program, err)
	}
	var creds struct{ Username, Secret string }
	if err := json.Unmarshal(out, &creds); err != nil {
		return registry.AuthConfig{}, fmt.Errorf("credentials for %s from %s: %w", host, program, err)
	}
	auth := registry.AuthConfig{ServerAddress: host}
	if creds.Username == "<token>" {
		auth.IdentityToken = creds.Secret
	} else {
		auth.Username, auth.Password = creds.Username, creds.Secret
	}
	return auth, nil
}
