package stack

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
)

// Options says which stack to load and with what environment; the CLI fills
// it from its flags and the process.
type Options struct {
	Files       []string  // -f, in order; later files override earlier ones; "-" reads Stdin
	ProjectName string    // -p; else COMPOSE_PROJECT_NAME; else the file's name:; else the project dir's name
	EnvFiles    []string  // --env-file, relative to WorkDir; replaces the default .env
	Profiles    []string  // --profile; else COMPOSE_PROFILES
	WorkDir     string    // the caller's current directory; os.Getwd when empty
	Environ     []string  // the process environment (os.Environ()); nothing else is read
	Embedded    fs.FS     // the repository's files built into the binary, root at the repository root
	Stdin       io.Reader // read when Files holds "-"
}

// BuiltinRoot is the directory the built-in tree appears at to compose-go,
// so that the built-in compose file's `context: ..` resolves to it.
// Stack.ContextFS maps paths under it back to Options.Embedded; nothing is
// ever read from this path on disk.
const BuiltinRoot = "/swdeploy-builtin"

// The default stack's file, in a checkout and in the built-in tree.
const defaultFile = "stack/compose.yaml"

// Override files picked up beside the default file, as docker compose does.
var overrideFiles = []string{"compose.override.yaml", "compose.override.yml"}

// sources reads the Compose files, returning them with the project
// directory (where relative paths in them resolve) and whether they are the
// built-in stack.
func (o *Options) sources() (srcs []*source, projectDir string, builtin bool, err error) {
	if len(o.Files) > 0 {
		for _, f := range o.Files {
			src, err := o.readFile(f)
			if err != nil {
				return nil, "", false, err
			}
			srcs = append(srcs, src)
			if projectDir == "" && f != "-" {
				projectDir = filepath.Dir(src.path)
			}
		}
		if projectDir == "" {
			projectDir = o.WorkDir // only stdin: as docker compose, the current directory
		}
		return srcs, projectDir, false, nil
	}
	disk := filepath.Join(o.WorkDir, filepath.FromSlash(defaultFile))
	if info, err := os.Stat(disk); err == nil && info.Mode().IsRegular() {
		// inside a checkout: its files, its build context on disk
		src, err := o.readFile(disk)
		if err != nil {
			return nil, "", false, err
		}
		srcs = append(srcs, src)
		for _, name := range overrideFiles {
			override := filepath.Join(filepath.Dir(disk), name)
			if info, err := os.Stat(override); err == nil && info.Mode().IsRegular() {
				src, err := o.readFile(override)
				if err != nil {
					return nil, "", false, err
				}
				srcs = append(srcs, src)
				break
			}
		}
		return srcs, filepath.Dir(disk), false, nil
	}
	if o.Embedded == nil {
		return nil, "", false, &FileError{File: defaultFile, Msg: "no such file, and this binary has no built-in stack", Err: fs.ErrNotExist}
	}
	content, err := fs.ReadFile(o.Embedded, defaultFile)
	if err != nil {
		return nil, "", false, fmt.Errorf("read built-in %s: %w", defaultFile, err)
	}
	src := &source{path: path.Join(BuiltinRoot, defaultFile), display: "built-in " + defaultFile, content: content}
	return []*source{src}, path.Join(BuiltinRoot, path.Dir(defaultFile)), true, nil
}

func (o *Options) readFile(name string) (*source, error) {
	if name == "-" {
		if o.Stdin == nil {
			return nil, fmt.Errorf("compose file on standard input: %w: no standard input", ErrBadOption)
		}
		content, err := io.ReadAll(o.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return &source{path: "-", display: "<stdin>", content: content}, nil
	}
	abs := o.abs(name)
	src := &source{path: abs, display: o.display(abs)}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &FileError{File: src.display, Msg: "no such file", Err: err}
	case err != nil:
		return nil, &FileError{File: src.display, Msg: err.Error(), Err: err}
	case info.IsDir():
		return nil, &FileError{File: src.display, Msg: "is a directory, not a Compose file"}
	}
	if src.content, err = os.ReadFile(abs); err != nil {
		return nil, &FileError{File: src.display, Msg: err.Error(), Err: err}
	}
	return src, nil
}

func (o *Options) abs(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(o.WorkDir, name)
}

// display names a file the way the user would: relative to the working
// directory when it lies below it.
func (o *Options) display(abs string) string {
	rel, err := filepath.Rel(o.WorkDir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return abs
	}
	return rel
}

// projectName applies docker compose's precedence: -p, then
// COMPOSE_PROJECT_NAME, then (explicit == false) the files' name:, which
// compose-go reads itself, falling back to the project directory's name.
func (o *Options) projectName(env map[string]string, projectDir string) (name string, explicit bool, err error) {
	name, from := o.ProjectName, "project name"
	if name == "" {
		name, from = env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME"
	}
	if name == "" {
		return loader.NormalizeProjectName(filepath.Base(projectDir)), false, nil
	}
	if loader.NormalizeProjectName(name) != name {
		return "", false, fmt.Errorf("%s %q: %w: use lowercase letters, digits, '-' and '_', starting with a letter or digit", from, name, ErrBadOption)
	}
	return name, true, nil
}

// profiles are --profile, else COMPOSE_PROFILES (comma-separated).
func (o *Options) profiles(env map[string]string) []string {
	if len(o.Profiles) > 0 {
		return o.Profiles
	}
	var out []string
	for _, p := range strings.Split(env["COMPOSE_PROFILES"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
