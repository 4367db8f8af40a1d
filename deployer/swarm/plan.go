package swarm

import (
	"context"
	"fmt"
	"slices"

	"github.com/fathat101/swdeploy/deployer"
)

// Plan observes the swarm and reconciles it with the desired state. It
// writes nothing: generated values live in the returned plan only, until
// Apply creates their secrets.
func (t *Target) Plan(ctx context.Context, d *deployer.Desired, src deployer.SecretSources, opts deployer.Options) (*Planned, error) {
	st, err := t.Observe(ctx, d)
	if err != nil {
		return nil, err
	}
	secrets, err := ChooseSecrets(d, st, src)
	if err != nil {
		return nil, err
	}
	return Reconcile(d, st, secrets, opts)
}

// ChooseSecrets decides each secret's version: the operator's value wins
// (environment, then the file's source); else the generated version the
// project's services use, or the newest one kept; else a new random
// value. Rotation makes a new random value whatever is kept.
func ChooseSecrets(d *deployer.Desired, st *State, src deployer.SecretSources) (map[string]ChosenSecret, error) {
	project := d.Project.Name
	for _, name := range src.Rotate {
		if !slices.ContainsFunc(d.Secrets, func(s *deployer.Secret) bool { return s.Key == name }) {
			return nil, fmt.Errorf("no secret %s in the stack", name)
		}
	}
	have := map[string]bool{}
	for _, v := range st.Secrets {
		have[v.Name] = true
	}
	inUse := map[string]bool{}
	for _, o := range st.Services {
		for _, name := range o.Summary.Secrets {
			inUse[name] = true
		}
	}
	out := map[string]ChosenSecret{}
	for _, s := range d.Secrets {
		rotate := slices.Contains(src.Rotate, s.Key)
		if s.Config.External {
			if rotate {
				return nil, fmt.Errorf("secret %s is external: rotate it where it is made", s.Key)
			}
			if !st.OtherSecrets[s.Config.Name] {
				return nil, fmt.Errorf("secret %s is external, and the swarm has no secret %s: create it with `docker secret create`", s.Key, s.Config.Name)
			}
			out[s.Key] = ChosenSecret{Key: s.Key, Version: SecretVersion{Name: s.Config.Name}, Source: "external"}
			continue
		}
		value, source, err := deployer.ProvidedSecret(s, deployer.SecretSources{LookupEnv: src.LookupEnv, ReadFile: src.ReadFile})
		if err != nil {
			return nil, err
		}
		if rotate && value != nil {
			return nil, fmt.Errorf("secret %s is given by the operator (%s): change it there instead of rotating it", s.Key, source)
		}
		if value == nil && !rotate {
			if kept, ok := keptVersion(st.Secrets, s.Key, inUse); ok {
				out[s.Key] = ChosenSecret{Key: s.Key, Version: kept, Source: "kept on the swarm"}
				continue
			}
		}
		generated := value == nil
		if generated {
			if value, err = deployer.GenerateSecret(src.Random); err != nil {
				return nil, fmt.Errorf("generate secret %s: %w", s.Key, err)
			}
			source = "generated"
			if rotate {
				source = "rotated"
			}
		}
		v, err := NewSecretVersion(project, s.Key, value)
		if err != nil {
			return nil, err
		}
		v.Generated = generated
		for _, h := range st.Secrets {
			if h.Name == v.Name {
				v = h
			}
		}
		out[s.Key] = ChosenSecret{Key: s.Key, Version: v, Value: value, Source: source, Create: !have[v.Name]}
	}
	return out, nil
}

// keptVersion is the generated version of a secret to use again: the one
// the services mount, else the newest.
func keptVersion(versions []SecretVersion, key string, inUse map[string]bool) (SecretVersion, bool) {
	var best SecretVersion
	found := false
	for _, v := range versions {
		if v.Secret != key || !v.Generated {
			continue
		}
		switch {
		case !found, inUse[v.Name] && !inUse[best.Name], inUse[v.Name] == inUse[best.Name] && v.Created.After(best.Created):
			best, found = v, true
		}
	}
	return best, found
}
