package swarm

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"
)

// Swarm secrets are immutable, so each value of a secret is a swarm secret
// of its own, named for its content: a changed value is a new name, which
// services move to in their rolling update; versions nothing uses any more
// are pruned. Labels say whose version it is, never what it holds.
const (
	// LabelProject is the project label the engine target puts on its
	// objects too; objects without it are never touched.
	LabelProject = "com.docker.compose.project"
	// LabelSecret is the secret's name in the Compose file.
	LabelSecret = "io.swdeploy.secret"
	// LabelSecretVersion is the content hash prefix that ends the name.
	LabelSecretVersion = "io.swdeploy.secret-version"
	// LabelSecretGenerated marks a value swdeploy generated: it is kept and
	// used again by later runs, from any client, without being read back.
	LabelSecretGenerated = "io.swdeploy.secret-generated"
)

// maxNameLen is the longest name the swarm accepts for a secret.
const maxNameLen = 64

// SecretVersion is one value of a project's secret as a swarm secret.
type SecretVersion struct {
	ID      string // the swarm's ID; empty until created
	Name    string // <project>_<secret>_<version>
	Project string
	Secret  string
	Version string // the first 12 hex digits of the value's SHA-256
	// Generated is set on values swdeploy made up; Created orders them.
	Generated bool
	Created   time.Time `json:"-"`
}

// NewSecretVersion names the swarm secret that holds value. The unsalted
// hash in the name tells nothing to those who can list secrets that they
// could not read anyway: a service of theirs can mount any secret.
func NewSecretVersion(project, secret string, value []byte) (SecretVersion, error) {
	sum := sha256.Sum256(value)
	v := SecretVersion{Project: project, Secret: secret, Version: hex.EncodeToString(sum[:6])}
	v.Name = project + "_" + secret + "_" + v.Version
	if len(v.Name) > maxNameLen {
		return SecretVersion{}, fmt.Errorf("secret %s: swarm secret name %s is longer than %d characters: use a shorter project or secret name", secret, v.Name, maxNameLen)
	}
	return v, nil
}

// Labels are the swarm secret's labels: whose version it is, not its value.
func (v SecretVersion) Labels() map[string]string {
	l := map[string]string{LabelProject: v.Project, LabelSecret: v.Secret, LabelSecretVersion: v.Version}
	if v.Generated {
		l[LabelSecretGenerated] = "true"
	}
	return l
}

// secretVersionFrom reads a swarm secret back; false when it is not one
// of swdeploy's versions.
func secretVersionFrom(s swarm.Secret) (SecretVersion, bool) {
	l := s.Spec.Labels
	v := SecretVersion{ID: s.ID, Name: s.Spec.Name, Project: l[LabelProject], Secret: l[LabelSecret], Version: l[LabelSecretVersion],
		Generated: l[LabelSecretGenerated] == "true", Created: s.CreatedAt}
	return v, v.Project != "" && v.Secret != "" && v.Version != ""
}

// Prunable lists the project's versions that are neither in use nor
// wanted (keep holds names), by name. Versions of other projects are
// never prunable.
func Prunable(project string, have []SecretVersion, keep map[string]bool) []SecretVersion {
	var out []SecretVersion
	for _, v := range have {
		if v.Project == project && !keep[v.Name] {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b SecretVersion) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ListSecrets returns the project's secret versions on the swarm, by name.
func ListSecrets(ctx context.Context, m Manager, project string) ([]SecretVersion, error) {
	list, err := m.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelProject+"="+project))})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	var out []SecretVersion
	for _, s := range list {
		if v, ok := secretVersionFrom(s); ok && v.Project == project {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b SecretVersion) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// SecretValue is a version with the value it names.
type SecretValue struct {
	Version SecretVersion
	Value   []byte
}

// CreateSecrets makes sure every wanted version exists on the swarm. It
// returns all of them with their IDs, and the names of those it created.
func CreateSecrets(ctx context.Context, m Manager, project string, want []SecretValue) ([]SecretVersion, []string, error) {
	have, err := ListSecrets(ctx, m, project)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]SecretVersion{}
	for _, v := range have {
		byName[v.Name] = v
	}
	var out []SecretVersion
	var created []string
	for _, w := range want {
		v := w.Version
		if v.Project != project {
			return nil, nil, fmt.Errorf("secret %s belongs to project %s, not %s", v.Name, v.Project, project)
		}
		if got, ok := byName[v.Name]; ok {
			out = append(out, got)
			continue
		}
		resp, err := m.SecretCreate(ctx, swarm.SecretSpec{
			Annotations: swarm.Annotations{Name: v.Name, Labels: v.Labels()},
			Data:        w.Value,
		})
		if errdefs.IsConflict(err) {
			return nil, nil, fmt.Errorf("create secret %s: a secret of that name exists without the project's labels; it is not swdeploy's to replace", v.Name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("create secret %s: %w", v.Name, err)
		}
		v.ID = resp.ID
		byName[v.Name] = v
		out = append(out, v)
		created = append(created, v.Name)
	}
	return out, created, nil
}

// SecretsInUse returns the names of the secrets any service of the swarm
// references, in its spec or in the previous one it would roll back to.
func SecretsInUse(ctx context.Context, m Manager) (map[string]bool, error) {
	services, err := m.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	used := map[string]bool{}
	for _, s := range services {
		for _, spec := range []*swarm.ServiceSpec{&s.Spec, s.PreviousSpec} {
			if spec == nil || spec.TaskTemplate.ContainerSpec == nil {
				continue
			}
			for _, ref := range spec.TaskTemplate.ContainerSpec.Secrets {
				used[ref.SecretName] = true
			}
		}
	}
	return used, nil
}

// PruneSecrets removes the project's versions that no service uses and
// that are not in keep (the versions the project wants now, which a
// service may not reference yet). It returns those removed.
func PruneSecrets(ctx context.Context, m Manager, project string, keep map[string]bool) ([]SecretVersion, error) {
	have, err := ListSecrets(ctx, m, project)
	if err != nil {
		return nil, err
	}
	used, err := SecretsInUse(ctx, m)
	if err != nil {
		return nil, err
	}
	for name := range keep {
		used[name] = true
	}
	var removed []SecretVersion
	var errs []error
	for _, v := range Prunable(project, have, used) {
		if err := m.SecretRemove(ctx, v.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove secret %s: %w", v.Name, err))
			continue
		}
		removed = append(removed, v)
	}
	return removed, errors.Join(errs...)
}
