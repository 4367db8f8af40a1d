package deployer

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fathat101/swdeploy/deployer/buildcontext"
)

// Desired is what a Compose project asks the engine to run, in the shape
// the reconciler compares with what it observes.
type Desired struct {
	Project  *types.Project
	Services []*Service // dependencies before dependents, ties by name
	Networks []*Network // by key
	Volumes  []*Volume  // by key
	Secrets  []*Secret  // by key; only those some service uses
}

// Service is one Compose service with what swdeploy derived from it.
type Service struct {
	Name   string
	Config types.ServiceConfig
	Image  string // the reference its containers run
	Build  *Build // nil when the image is pulled
	// Parts maps each part of the configuration (environment, ports, ...)
	// to a short digest; together they make the config hash.
	Parts map[string]string
}

// Build is how an image is made from a context.
type Build struct {
	Context    fs.FS
	Dockerfile string
	Args       map[string]*string
	Digest     string // of context, Dockerfile and args: unchanged means no build
}

// Network is a Compose network as the engine will hold it.
type Network struct {
	Key    string // the name in the Compose file
	Name   string // the engine's name
	Config types.NetworkConfig
	Hash   string
}

// Volume is a Compose volume as the engine will hold it.
type Volume struct {
	Key    string
	Name   string
	Config types.VolumeConfig
}

// Secret is a Compose secret some service uses.
type Secret struct {
	Key    string
	Config types.SecretConfig
}

// ContextSource gives a service's build context as a file system: a
// directory on disk, or the tree built into the binary.
type ContextSource interface {
	ContextFS(service string) (fs.FS, error)
}

// NewDesired derives the desired state from a loaded project. It reads
// build contexts to digest them, and nothing else.
func NewDesired(project *types.Project, contexts ContextSource) (*Desired, error) {
	d := &Desired{Project: project}
	order, err := dependencyOrder(project)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, name := range order {
		cfg := project.Services[name]
		svc := &Service{Name: name, Config: cfg, Image: imageRef(project.Name, cfg)}
		if cfg.Build != nil {
			b, err := newBuild(name, cfg, contexts)
			if err != nil {
				return nil, err
			}
			svc.Build = b
		}
		svc.Parts, err = configParts(cfg)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		for _, s := range cfg.Secrets {
			used[s.Source] = true
		}
		d.Services = append(d.Services, svc)
	}
	for _, key := range sortedKeys(project.Networks) {
		cfg := project.Networks[key]
		h, err := digestJSON(cfg)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", key, err)
		}
		d.Networks = append(d.Networks, &Network{Key: key, Name: cfg.Name, Config: cfg, Hash: h})
	}
	for _, key := range sortedKeys(project.Volumes) {
		cfg := project.Volumes[key]
		d.Volumes = append(d.Volumes, &Volume{Key: key, Name: cfg.Name, Config: cfg})
	}
	for _, key := range sortedKeys(project.Secrets) {
		if used[key] {
			d.Secrets = append(d.Secrets, &Secret{Key: key, Config: project.Secrets[key]})
		}
	}
	return d, nil
}

// Service returns the named service, or nil.
func (d *Desired) Service(name string) *Service {
	for _, s := range d.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// containerName is the name of a service's n-th container, as docker
// compose v2 names it.
func containerName(project, service string, n int) string {
	return fmt.Sprintf("%s-%s-%d", project, service, n)
}

// imageRef is the image a service runs: its `image:`, or the name compose
// gives a built image without one.
func imageRef(project string, cfg types.ServiceConfig) string {
	if cfg.Image != "" {
		return cfg.Image
	}
	return project + "-" + cfg.Name
}

func newBuild(name string, cfg types.ServiceConfig, contexts ContextSource) (*Build, error) {
	if contexts == nil {
		return nil, fmt.Errorf("service %s: has a build section but no build context is available", name)
	}
	fsys, err := contexts.ContextFS(name)
	if err != nil {
		return nil, fmt.Errorf("service %s: build context: %w", name, err)
	}
	dockerfile := cfg.Build.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	args := map[string]*string(cfg.Build.Args)
	// files unchanged since the last run are not read again (the tree
	// built into the binary has no stat to key on and is always read)
	cache := buildcontext.OpenCache(buildcontext.DefaultCacheDir(), cfg.Build.Context)
	digest, err := buildcontext.DigestCached(fsys, dockerfile, args, cache)
	if err != nil {
		return nil, fmt.Errorf("service %s: digest build context: %w", name, err)
	}
	_ = cache.Save() // a cache that cannot be written costs only the reads
	return &Build{Context: fsys, Dockerfile: dockerfile, Args: args, Digest: digest}, nil
}

// dependencyOrder sorts services so that each comes after what it depends
// on, breaking ties by name so that plans are deterministic.
func dependencyOrder(project *types.Project) ([]string, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []string
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(path, name), " -> "))
		}
		state[name] = visiting
		svc, ok := project.Services[name]
		if !ok {
			return fmt.Errorf("service %s depends on undefined service %s", path[len(path)-1], name)
		}
		for _, dep := range sortedKeys(svc.DependsOn) {
			if err := visit(dep, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, name := range sortedKeys(project.Services) {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
