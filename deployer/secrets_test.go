package deployer

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
)

// secretSources builds sources from an environment and files given as
// maps, with a seeded random stream so that generated values repeat.
func secretSources(env map[string]string, files map[string]string, rotate ...string) SecretSources {
	return SecretSources{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile: func(name string) ([]byte, error) {
			if v, ok := files[name]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		},
		Random: rand.NewChaCha8([32]byte{1}),
		Rotate: rotate,
	}
}

// TestResolveSecretsPrecedence: the operator's environment variable wins
// over the file the Compose file names, which wins over the kept value,
// which wins over a new random one. An empty variable gives no value.
func TestResolveSecretsPrecedence(t *testing.T) {
	d := testDesired(t, testStack, "package main")
	const jwtFile = "/work/demo/secrets/jwt"
	kept := KeptSecrets{Values: map[string][]byte{"jwt": []byte("kept-jwt"), "db_root": []byte("kept-root")}, Salt: []byte("salt")}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		files  map[string]string
		kept   KeptSecrets
		value  string // "" for a generated one
		source string
		op     Op
	}{
		{"environment over file and kept", map[string]string{"SWDEPLOY_SECRET_JWT": "from-env"}, map[string]string{jwtFile: "from-file"}, kept, "from-env", "environment SWDEPLOY_SECRET_JWT", OpUpdate},
		{"file over kept", nil, map[string]string{jwtFile: "from-file"}, kept, "from-file", "file " + jwtFile, OpUpdate},
		{"empty variable ignored", map[string]string{"SWDEPLOY_SECRET_JWT": ""}, map[string]string{jwtFile: "from-file"}, kept, "from-file", "file " + jwtFile, OpUpdate},
		{"operator value equal to kept: nothing to do", map[string]string{"SWDEPLOY_SECRET_JWT": "kept-jwt"}, nil, kept, "kept-jwt", "environment SWDEPLOY_SECRET_JWT", ""},
		{"operator value, nothing kept yet", map[string]string{"SWDEPLOY_SECRET_JWT": "from-env"}, nil, KeptSecrets{}, "from-env", "environment SWDEPLOY_SECRET_JWT", OpGenerate},
		{"kept", nil, nil, kept, "kept-jwt", "kept on the engine", ""},
		{"generated", nil, nil, KeptSecrets{}, "", "generated", OpGenerate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, salt, err := ResolveSecrets(d, tc.kept, secretSources(tc.env, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			r := got["jwt"]
			if r.Source != tc.source || r.Op != tc.op {
				t.Errorf("source %q op %q, want %q %q", r.Source, r.Op, tc.source, tc.op)
			}
			if tc.value != "" && string(r.Value) != tc.value {
				t.Errorf("value %q, want %q", r.Value, tc.value)
			}
			if tc.value == "" && !generatedShape(r.Value) {
				t.Errorf("generated value %q: want 32 alphanumerics with upper, lower and digit", r.Value)
			}
			if r.Version != secretVersion(salt, "jwt", r.Value) || bytes.Contains([]byte(r.Version), r.Value) {
				t.Errorf("version %q does not digest the value with the salt", r.Version)
			}
			if len(tc.kept.Salt) > 0 && !bytes.Equal(salt, tc.kept.Salt) {
				t.Errorf("salt %q, want the kept one", salt)
			}
		})
	}
}

func generatedShape(v []byte) bool {
	s := string(v)
	return len(s) == 32 && strings.Trim(s, secretAlphabet) == "" &&
		strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(s, "0123456789")
}

// TestResolveSecretsRotate: rotating replaces a kept value with a new
// random one and leaves the others; it refuses a name the stack does not
// have and a secret the operator gives.
func TestResolveSecretsRotate(t *testing.T) {
	d := testDesired(t, testStack, "package main")
	kept := KeptSecrets{Values: map[string][]byte{"jwt": []byte("kept-jwt"), "db_root": []byte("kept-root")}, Salt: []byte("salt")}

	got, _, err := ResolveSecrets(d, kept, secretSources(nil, nil, "jwt"))
	if err != nil {
		t.Fatal(err)
	}
	if r := got["jwt"]; r.Op != OpUpdate || r.Source != "rotated" || string(r.Value) == "kept-jwt" || !generatedShape(r.Value) {
		t.Errorf("rotated jwt: op %q source %q value %q", r.Op, r.Source, r.Value)
	}
	if r := got["db_root"]; r.Op != "" || string(r.Value) != "kept-root" {
		t.Errorf("db_root changed by rotating jwt: op %q value %q", r.Op, r.Value)
	}
	before, _, _ := ResolveSecrets(d, kept, secretSources(nil, nil))
	if got["jwt"].Version == before["jwt"].Version {
		t.Error("rotation kept the version: the containers reading it would not be recreated")
	}

	if _, _, err := ResolveSecrets(d, kept, secretSources(nil, nil, "nope")); err == nil || !strings.Contains(err.Error(), "no secret nope") {
		t.Errorf("rotate an unknown secret: %v", err)
	}
	_, _, err = ResolveSecrets(d, kept, secretSources(map[string]string{"SWDEPLOY_SECRET_JWT": "x"}, nil, "jwt"))
	if err == nil || !strings.Contains(err.Error(), "given by the operator") {
		t.Errorf("rotate an operator's secret: %v", err)
	}
}

func TestResolveSecretsErrors(t *testing.T) {
	d := testDesired(t, testStack, "package main")
	src := secretSources(nil, nil)
	src.ReadFile = func(string) ([]byte, error) { return nil, fs.ErrPermission }
	if _, _, err := ResolveSecrets(d, KeptSecrets{}, src); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("unreadable secret file: %v, want the read error rather than a generated value", err)
	}
	ext := testDesired(t, strings.Replace(testStack, "jwt: {file: ./secrets/jwt}", "jwt: {external: true}", 1), "package main")
	if _, _, err := ResolveSecrets(ext, KeptSecrets{}, secretSources(nil, nil)); err == nil || !strings.Contains(err.Error(), "SWDEPLOY_SECRET_JWT") {
		t.Errorf("external secret without a value: %v", err)
	}
	got, _, err := ResolveSecrets(ext, KeptSecrets{}, secretSources(map[string]string{"SWDEPLOY_SECRET_JWT": "v"}, nil))
	if err != nil || string(got["jwt"].Value) != "v" {
		t.Errorf("external secret given in the environment: %v", err)
	}
}

func TestSecretEnvName(t *testing.T) {
	for in, want := range map[string]string{"jwt_access_secret": "SWDEPLOY_SECRET_JWT_ACCESS_SECRET", "db-root.pw": "SWDEPLOY_SECRET_DB_ROOT_PW"} {
		if got := SecretEnvName(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
