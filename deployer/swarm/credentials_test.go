package swarm

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/registry"
)

// withDockerConfig makes DOCKER_CONFIG a temporary directory holding
// config.json, and PATH a directory with a fake credential helper,
// docker-credential-fake, which answers from the helper's own table.
func withDockerConfig(t *testing.T, configJSON string) string {
	t.Helper()
	dir := t.TempDir()
	if configJSON != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(configJSON), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DOCKER_CONFIG", dir)
	bin := t.TempDir()
	// The helper protocol: the action as the argument, the server URL on
	// stdin, JSON on stdout; "credentials not found in native keychain" on
	// stdout and a non-zero exit for a host it does not know. It records
	// what it was asked in asked.log.
	script := `#!/bin/sh
[ "$1" = get ] || { echo "unknown action $1"; exit 1; }
read -r url
echo "$url" >>"` + filepath.Join(dir, "asked.log") + `"
case "$url" in
helped.example:5000) echo '{"ServerURL":"helped.example:5000","Username":"helper-user","Secret":"helper-pass"}' ;;
token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"an-identity-token"}' ;;
broken.example) echo "the keychain is locked"; exit 1 ;;
*) echo "credentials not found in native keychain"; exit 1 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func TestCredentialsFromAuths(t *testing.T) {
	withDockerConfig(t, `{
	"auths": {
		"10.213.0.12:5000": {"auth": "`+basicAuth("alice", "s3cr:et")+`"},
		"plain.example": {"username": "bob", "password": "pw"},
		"https://legacy.example:443/v1/": {"auth": "`+basicAuth("carol", "pw2")+`"},
		"idtoken.example": {"identitytoken": "tok"},
		"https://index.docker.io/v1/": {"auth": "`+basicAuth("hub", "hubpw")+`"}
	}
}`)
	for host, want := range map[string]registry.AuthConfig{
		"10.213.0.12:5000":    {Username: "alice", Password: "s3cr:et", ServerAddress: "10.213.0.12:5000"},
		"plain.example":       {Username: "bob", Password: "pw", ServerAddress: "plain.example"},
		"legacy.example:443":  {Username: "carol", Password: "pw2", ServerAddress: "legacy.example:443"},
		"idtoken.example":     {IdentityToken: "tok", ServerAddress: "idtoken.example"},
		"unknown.example:443": {}, // anonymous
		"legacy.example":      {}, // another port is another registry
	} {
		got, err := Credentials(context.Background(), host)
		if err != nil {
			t.Errorf("%s: %v", host, err)
		} else if got != want {
			t.Errorf("%s: %+v, want %+v", host, got, want)
		}
	}
}

func TestCredentialsFromHelpers(t *testing.T) {
	dir := withDockerConfig(t, `{
	"auths": {"helped.example:5000": {}, "filed.example": {"auth": "`+basicAuth("file", "pw")+`"}},
	"credHelpers": {"token.example": "fake", "missing.example": "no-such-helper-swdeploy"},
	"credsStore": "fake"
}`)
	for host, want := range map[string]registry.AuthConfig{
		"helped.example:5000": {Username: "helper-user", Password: "helper-pass", ServerAddress: "helped.example:5000"},
		"token.example":       {IdentityToken: "an-identity-token", ServerAddress: "token.example"},
		// With a store, the store answers, as the docker CLI does: what
		// auths holds for the host is not used.
		"filed.example": {},
		"other.example": {},
	} {
		got, err := Credentials(context.Background(), host)
		if err != nil {
			t.Errorf("%s: %v", host, err)
		} else if got != want {
			t.Errorf("%s: %+v, want %+v", host, got, want)
		}
	}
	asked, _ := os.ReadFile(filepath.Join(dir, "asked.log"))
	if got, want := string(asked), "helped.example:5000\ntoken.example\nfiled.example\nother.example\n"; !sameLines(got, want) {
		t.Errorf("the helper was asked for\n%s\nwant\n%s", got, want)
	}

	// A helper that fails otherwise, or is not there, is an error naming it.
	for host, want := range map[string]string{
		"broken.example":  "docker-credential-fake",
		"missing.example": "docker-credential-no-such-helper-swdeploy",
	} {
		_, err := Credentials(context.Background(), host)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), host) {
			t.Errorf("%s: %v, want an error naming %s and the host", host, err, want)
		}
	}
	if _, err := Credentials(context.Background(), "broken.example"); err == nil || !strings.Contains(err.Error(), "the keychain is locked") {
		t.Errorf("broken.example: %v, want the helper's message", err)
	}
}

func TestCredentialsWithoutConfig(t *testing.T) {
	withDockerConfig(t, "") // an empty DOCKER_CONFIG directory
	if got, err := Credentials(context.Background(), "10.213.0.12:5000"); err != nil || got != (registry.AuthConfig{}) {
		t.Errorf("no config.json: %+v, %v; want anonymous", got, err)
	}

	// Without DOCKER_CONFIG, ~/.docker.
	home := t.TempDir()
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("HOME", home)
	os.Mkdir(filepath.Join(home, ".docker"), 0o700)
	os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(`{"auths":{"home.example":{"auth":"`+basicAuth("h", "p")+`"}}}`), 0o600)
	if got, err := Credentials(context.Background(), "home.example"); err != nil || got.Username != "h" || got.Password != "p" {
		t.Errorf("from ~/.docker: %+v, %v", got, err)
	}
	if dir := DockerConfigDir(); dir != filepath.Join(home, ".docker") {
		t.Errorf("config dir %s, want ~/.docker", dir)
	}
}

func TestCredentialsFromABrokenConfig(t *testing.T) {
	for name, config := range map[string]string{
		"not JSON":             `{"auths": `,
		"auth not base64":      `{"auths": {"bad.example": {"auth": "%%%"}}}`,
		"auth without a colon": `{"auths": {"bad.example": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := withDockerConfig(t, config)
			_, err := Credentials(context.Background(), "bad.example")
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "config.json")) {
				t.Errorf("%v, want an error naming the file", err)
			}
		})
	}
}

func sameLines(a, b string) bool {
	as, bs := strings.Fields(a), strings.Fields(b)
	if len(as) != len(bs) {
		return false
	}
	seen := map[string]int{}
	for _, s := range as {
		seen[s]++
	}
	for _, s := range bs {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
