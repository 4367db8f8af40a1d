package buildcontext

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

const dockerignore = ".dockerignore"

// entry is one file, directory or symlink that the context holds, with the
// metadata the tar carries once normalised.
type entry struct {
	name     string      // slash-separated, relative to the context root
	mode     fs.FileMode // the type bits and the normalised permissions
	size     int64       // of a regular file
	linkname string      // of a symlink
	info     fs.FileInfo // of a regular file, for the digest's cache
}

// tree is a build context ready to be walked: its Dockerfile found and
// its .dockerignore parsed, so that both Tar and Digest fail early on those.
type tree struct {
	fsys       fs.FS
	dockerfile string
	ignore     *patternmatcher.PatternMatcher // nil: nothing ignored
}

func open(fsys fs.FS, dockerfile string) (*tree, error) {
	name, err := cleanDockerfile(dockerfile)
	if err != nil {
		return nil, err
	}
	if info, err := fs.Stat(fsys, name); err != nil {
		return nil, fmt.Errorf("dockerfile %s: %w", name, err)
	} else if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("dockerfile %s: not a regular file", name)
	}
	c := &tree{fsys: fsys, dockerfile: name}
	data, err := fs.ReadFile(fsys, dockerignore)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dockerignore, err)
	}
	patterns, err := ignorefile.ReadAll(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dockerignore, err)
	}
	if len(patterns) == 0 {
		return c, nil
	}
	// docker sends the Dockerfile and .dockerignore whatever the patterns
	// say: exceptions added last win over every pattern before them
	patterns = append(patterns, "!"+dockerignore, "!"+name)
	if c.ignore, err = patternmatcher.New(patterns); err != nil {
		return nil, fmt.Errorf("parse %s: %w", dockerignore, err)
	}
	return c, nil
}

// cleanDockerfile makes the Dockerfile path a path inside the context.
func cleanDockerfile(dockerfile string) (string, error) {
	name := path.Clean(strings.ReplaceAll(dockerfile, `\`, "/"))
	if dockerfile == "" {
		name = "Dockerfile"
	}
	if !fs.ValidPath(name) || name == "." {
		return "", fmt.Errorf("dockerfile %q: must be a path inside the build context", dockerfile)
	}
	return name, nil
}

// walk calls fn for every entry docker would send, in lexical order, the
// same order on every file system.
func (c *tree) walk(fn func(entry) error) error {
	// match results of the directories above the current entry, as moby's
	// own archiver keeps them, so each pattern is tried once per level
	type parent struct {
		dir  string
		info patternmatcher.MatchInfo
	}
	var parents []parent
	return fs.WalkDir(c.fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", name, err)
		}
		if name == "." {
			return nil
		}
		if c.ignore != nil {
			for len(parents) > 0 && !strings.HasPrefix(name, parents[len(parents)-1].dir+"/") {
				parents = parents[:len(parents)-1]
			}
			var above patternmatcher.MatchInfo
			if len(parents) > 0 {
				above = parents[len(parents)-1].info
			}
			skip, info, err := c.ignore.MatchesUsingParentResults(name, above)
			if err != nil {
				return fmt.Errorf("match %s against %s: %w", name, dockerignore, err)
			}
			if d.IsDir() {
				parents = append(parents, parent{name, info})
			}
			if skip {
				if d.IsDir() && !c.exceptionBelow(name) {
					return fs.SkipDir
				}
				// an ignored directory with exceptions inside is walked, but
				// not sent itself: the engine creates it for what it holds
				return nil
			}
		}
		e, ok, err := c.entry(name, d)
		if err != nil || !ok {
			return err
		}
		return fn(e)
	})
}

// exceptionBelow reports whether an exception ("!dir/keep") may re-include
// something under an ignored directory, which must then still be walked.
func (c *tree) exceptionBelow(dir string) bool {
	for _, p := range c.ignore.Patterns() {
		if p.Exclusion() && strings.HasPrefix(p.String()+"/", dir+"/") {
			return true
		}
	}
	return false
}

// entry describes name with normalised metadata: disk and embed.FS report
// different permissions for the same tree (embed.FS says 0444 and 0555), so
// only "directory", "executable" and "not executable" survive.
func (c *tree) entry(name string, d fs.DirEntry) (entry, bool, error) {
	e := entry{name: name}
	switch t := d.Type(); {
	case t.IsDir():
		e.mode = fs.ModeDir | 0o755
	case t&fs.ModeSymlink != 0:
		target, err := fs.ReadLink(c.fsys, name)
		if err != nil {
			return e, false, fmt.Errorf("read link %s: %w", name, err)
		}
		e.mode, e.linkname = fs.ModeSymlink|0o777, target
	case t.IsRegular():
		info, err := d.Info()
		if err != nil {
			return e, false, fmt.Errorf("stat %s: %w", name, err)
		}
		e.mode, e.size, e.info = 0o644, info.Size(), info
		if info.Mode().Perm()&0o111 != 0 {
			e.mode = 0o755
		}
	default:
		// sockets, pipes and devices have no content to build from; docker
		// leaves them out too
		return e, false, nil
	}
	return e, true, nil
}
