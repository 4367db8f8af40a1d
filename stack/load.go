package stack

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/errdefs"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Stack is a loaded, checked stack.
type Stack struct {
	// Project is normalised, interpolated, with profiles applied. For the
	// built-in stack, Project.WorkingDir is the caller's directory (where
	// .env and relative secret files are read from), while build contexts
	// lie under BuiltinRoot and are served by ContextFS.
	Project *types.Project
	Source  string // for humans: "stack/compose.yaml", several joined with ", ", or "built-in stack"
	Builtin bool   // the stack is the copy built into the binary

	embedded fs.FS
}

// Load reads, interpolates and checks the stack. Every error in a file is
// a *FileError; an error in opts wraps ErrBadOption.
//
// With no Files, it loads WorkDir/stack/compose.yaml (and a
// compose.override.yaml beside it) when that exists, else the built-in
// stack/compose.yaml from opts.Embedded.
func Load(ctx context.Context, opts Options) (*Stack, error) {
	if opts.WorkDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		opts.WorkDir = wd
	}
	opts.WorkDir = filepath.Clean(opts.WorkDir)
	srcs, projectDir, builtin, err := opts.sources()
	if err != nil {
		return nil, err
	}
	envDir := projectDir
	if builtin {
		envDir = opts.WorkDir
	}
	env, err := opts.environment(envDir)
	if err != nil {
		return nil, err
	}
	name, explicit, err := opts.projectName(env, projectDir)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		if err := src.parse(); err != nil {
			return nil, err
		}
	}
	l := &load{srcs: srcs, projectDir: projectDir, env: env, name: name, explicit: explicit, profiles: opts.profiles(env)}
	project, err := l.project(ctx, false)
	if err != nil {
		return nil, l.explain(ctx, err)
	}
	if builtin {
		rebaseOperatorFiles(project, opts.WorkDir)
	}
	if fe := validate(project, srcs); fe != nil {
		return nil, fe
	}
	s := &Stack{Project: project, Builtin: builtin}
	if builtin {
		s.Source, s.embedded = "built-in stack", opts.Embedded
	} else {
		names := make([]string, len(srcs))
		for i, src := range srcs {
			names[i] = src.display
		}
		s.Source = strings.Join(names, ", ")
	}
	return s, nil
}

// load is one Load call's state, for loading twice when explaining an error.
type load struct {
	srcs       []*source
	projectDir string
	env        map[string]string
	name       string
	explicit   bool
	profiles   []string
}

// project runs compose-go. A panic in it on a hostile file becomes an error:
// Load must not take the CLI down with it.
func (l *load) project(ctx context.Context, skipConsistency bool) (p *types.Project, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("compose-go failed on this file: %v", r)
		}
	}()
	files := make([]types.ConfigFile, len(l.srcs))
	for i, src := range l.srcs {
		files[i] = types.ConfigFile{Filename: src.path, Content: src.content}
	}
	env := make(types.Mapping, len(l.env))
	for k, v := range l.env {
		env[k] = v // compose-go writes COMPOSE_PROJECT_NAME into it
	}
	details := types.ConfigDetails{WorkingDir: l.projectDir, ConfigFiles: files, Environment: env}
	p, err = loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(l.name, l.explicit)
		o.Profiles = l.profiles
		o.SkipConsistencyCheck = skipConsistency
	})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		p.ComposeFiles = append(p.ComposeFiles, f.Filename)
	}
	return p, nil
}

// compose-go names the service in its consistency errors, quoted or not.
var quotedService = regexp.MustCompile(`^service "?([^"\s]+)"? `)

// explain finds the file, line and field of a compose-go error. Its
// consistency checks (an undefined network, a service without image or
// build...) name no path: then the stack is loaded again without them, and
// swdeploy's own checks, which cover the common ones, say where.
func (l *load) explain(ctx context.Context, err error) error {
	if fe := explain(err, l.srcs); fe != nil {
		return fe
	}
	if fe := badPort(l.srcs, l.env); fe != nil {
		return fe
	}
	if p, err2 := l.project(ctx, true); err2 == nil {
		if fe := validate(p, l.srcs); fe != nil {
			return fe
		}
	}
	msg := strings.TrimSuffix(err.Error(), ": "+errdefs.ErrInvalid.Error())
	if m := quotedService.FindStringSubmatch(msg); m != nil {
		fe := at(l.srcs, "services."+m[1], "", true, msg, err)
		fe.Field = ""
		return fe
	}
	fe := &FileError{File: l.srcs[0].display, Msg: msg, Err: err}
	if len(l.srcs) == 1 && len(l.srcs[0].docs) > 0 && msg == "top-level object must be a mapping" {
		fe.Line = root(l.srcs[0].docs[0]).Line
	}
	return fe
}

// rebaseOperatorFiles makes the built-in stack's relative secret and config
// files relative to the caller's directory, as its .env is: the operator's
// files live there, not in the binary.
func rebaseOperatorFiles(p *types.Project, workDir string) {
	stackDir := path.Join(BuiltinRoot, path.Dir(defaultFile))
	rebase := func(file string) string {
		if rel, ok := within(stackDir, file); ok {
			return filepath.Join(workDir, filepath.FromSlash(rel))
		}
		return file
	}
	for k, s := range p.Secrets {
		s.File = rebase(s.File)
		p.Secrets[k] = s
	}
	for k, c := range p.Configs {
		c.File = rebase(c.File)
		p.Configs[k] = c
	}
	p.WorkingDir = workDir
}

// within reports whether p lies in dir, and p relative to it (slash-separated).
func within(dir, p string) (string, bool) {
	if p == "" {
		return "", false
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// ContextFS returns a service's build context: the directory on disk, or,
// for the built-in stack, the matching sub-tree of the built-in files.
func (s *Stack) ContextFS(service string) (fs.FS, error) {
	svc, ok := s.Project.Services[service]
	if !ok {
		return nil, fmt.Errorf("service %s: not in the stack", service)
	}
	if svc.Build == nil {
		return nil, fmt.Errorf("service %s: has no build section", service)
	}
	dir := svc.Build.Context
	if remoteContext(dir) {
		return nil, fmt.Errorf("service %s: build context %s: only a local directory can be built", service, dir)
	}
	if s.embedded != nil {
		if rel, ok := within(BuiltinRoot, dir); ok {
			sub, err := fs.Sub(s.embedded, rel)
			if err != nil {
				return nil, fmt.Errorf("service %s: built-in build context %s: %w", service, rel, err)
			}
			if _, err := fs.Stat(sub, "."); err != nil {
				return nil, fmt.Errorf("service %s: built-in build context %s: %w", service, rel, err)
			}
			return sub, nil
		}
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("service %s: build context: %w", service, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("service %s: build context %s: not a directory", service, dir)
	}
	return os.DirFS(dir), nil
}
