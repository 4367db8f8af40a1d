package stack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// environment builds the interpolation environment as docker compose v2
// does: the process environment, plus the env files' values for variables
// the process does not set. The default .env is the project directory's
// (the caller's directory for the built-in stack); --env-file replaces it.
func (o *Options) environment(envDir string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range o.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	files := make([]string, 0, len(o.EnvFiles))
	for _, f := range o.EnvFiles {
		files = append(files, o.abs(f))
	}
	if len(files) == 0 && !disabled(env["COMPOSE_DISABLE_ENV_FILE"]) {
		dotEnv := filepath.Join(envDir, ".env")
		if info, err := os.Stat(dotEnv); err == nil && info.Mode().IsRegular() {
			files = append(files, dotEnv)
		}
	}
	// one file at a time, so an error names its file; a later file's value
	// wins over an earlier one's, and the process environment over both
	fromFiles := map[string]string{}
	for _, f := range files {
		display := o.display(f)
		info, err := os.Stat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &FileError{File: display, Msg: "no such env file", Err: err}
		case err != nil:
			return nil, &FileError{File: display, Msg: err.Error(), Err: err}
		case info.IsDir():
			return nil, &FileError{File: display, Msg: "is a directory, not an env file"}
		}
		lookup := map[string]string{}
		for k, v := range fromFiles {
			lookup[k] = v
		}
		for k, v := range env {
			lookup[k] = v
		}
		values, err := dotenv.GetEnvFromFile(lookup, []string{f})
		if err != nil {
			return nil, envFileError(display, f, err)
		}
		for k, v := range values {
			fromFiles[k] = v
		}
	}
	for k, v := range fromFiles {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	return env, nil
}

// envFileError turns dotenv's "failed to read /abs/.env: line 3: ..." into
// a FileError with the line.
func envFileError(display, abs string, err error) *FileError {
	msg := strings.TrimPrefix(err.Error(), "failed to read "+abs+": ")
	fe := &FileError{File: display, Msg: msg, Err: err}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				fe.Line, fe.Msg = line, tail
			}
		}
	}
	return fe
}

func disabled(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}
