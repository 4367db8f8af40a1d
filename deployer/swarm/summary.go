package swarm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/docker/docker/api/types/swarm"
)

// specSummary is the part of a service spec an operator changes by hand
// (`docker service scale`, `update --env-add`, `--image`, ...): compared
// between the spec swdeploy would write and the one the swarm holds, it
// shows drift that the config hash label, which such a change keeps,
// cannot.
type specSummary struct {
	Image       string
	Env         []string
	Command     []string
	Args        []string
	Secrets     []string // secret names
	Replicas    string   // "global" or a count
	Constraints []string
	Ports       []string
}

func summarize(spec swarm.ServiceSpec) specSummary {
	var s specSummary
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		s.Image, s.Env, s.Command, s.Args = cs.Image, cs.Env, cs.Command, cs.Args
		for _, r := range cs.Secrets {
			s.Secrets = append(s.Secrets, r.SecretName)
		}
	}
	slices.Sort(s.Secrets)
	s.Replicas = "global"
	if r := spec.Mode.Replicated; r != nil && r.Replicas != nil {
		s.Replicas = fmt.Sprint(*r.Replicas)
	}
	if p := spec.TaskTemplate.Placement; p != nil {
		s.Constraints = slices.Sorted(slices.Values(p.Constraints))
	}
	if e := spec.EndpointSpec; e != nil {
		for _, p := range e.Ports {
			s.Ports = append(s.Ports, fmt.Sprintf("%d:%d/%s/%s", p.PublishedPort, p.TargetPort, p.Protocol, p.PublishMode))
		}
	}
	return s
}

// diff names the fields that differ, in a fixed order.
func (s specSummary) diff(o specSummary) []string {
	var out []string
	add := func(differ bool, name string) {
		if differ {
			out = append(out, name)
		}
	}
	add(s.Image != o.Image, "image")
	add(!slices.Equal(s.Env, o.Env), "environment")
	add(!slices.Equal(s.Command, o.Command) || !slices.Equal(s.Args, o.Args), "command")
	add(!slices.Equal(s.Secrets, o.Secrets), "secrets")
	add(s.Replicas != o.Replicas, "replicas "+o.Replicas+" (file: "+s.Replicas+")")
	add(!slices.Equal(s.Constraints, o.Constraints), "placement")
	add(!slices.Equal(s.Ports, o.Ports), "ports")
	return out
}

// taskSpecDigest identifies a task template: a task runs the service's
// current spec when its own template has the same digest.
func taskSpecDigest(t swarm.TaskSpec) string {
	// Networks and the force counter aside, a task's spec is the service's
	// template as it was when the task was made.
	raw, _ := json.Marshal(struct {
		C     *swarm.ContainerSpec
		Force uint64
	}{t.ContainerSpec, t.ForceUpdate})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}
