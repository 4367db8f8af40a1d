package deployer

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Op is what an action does to its object.
type Op string

const (
	OpBuild    Op = "build"
	OpPull     Op = "pull"
	OpCreate   Op = "create"
	OpRecreate Op = "recreate"
	OpStart    Op = "start"
	OpRestart  Op = "restart"
	OpRemove   Op = "remove"
	OpGenerate Op = "generate" // a secret swdeploy makes up and keeps
	OpUpdate   Op = "update"   // a kept secret replaced by the operator's value, or a swarm service changed
	OpPin      Op = "pin"      // a node labelled to hold a stateful service (swarm)
	OpCopy     Op = "copy"     // an image copied to the nodes that lack it (swarm)
	OpPush     Op = "push"     // an image pushed to its registry (swarm)
)

// Kind is the sort of engine object an action works on.
type Kind string

const (
	KindImage     Kind = "image"
	KindNetwork   Kind = "network"
	KindVolume    Kind = "volume"
	KindSecret    Kind = "secret"
	KindContainer Kind = "container"
	KindService   Kind = "service" // a swarm service
	KindNode      Kind = "node"    // a swarm node
)

// Wait is a depends_on condition to hold before an action may run.
type Wait struct {
	Service   string `json:"service"`
	Condition string `json:"condition"` // service_started | service_healthy | service_completed_successfully
	Required  bool   `json:"required"`
}

// Action is one step of a plan. Actions carry their cause and what they
// wait for, so that a plan can be read, compared in a test and executed
// without further decisions.
type Action struct {
	ID      string   `json:"id"` // "<kind>:<name>", unique in a plan
	Op      Op       `json:"op"`
	Kind    Kind     `json:"kind"`
	Name    string   `json:"name"`              // the engine object's name
	Service string   `json:"service,omitempty"` // the Compose service it belongs to
	Reason  string   `json:"reason"`
	Needs   []string `json:"needs,omitempty"` // ids of actions that must finish first
	// StartNeeds are ids of actions that must finish before a new
	// container starts: it is created once its Needs are done and its
	// Waits hold, while these run.
	StartNeeds []string `json:"start_needs,omitempty"`
	Waits      []Wait   `json:"waits,omitempty"`
	// Downtime is set when the action stops a running container of a
	// service before its replacement is ready.
	Downtime bool `json:"downtime,omitempty"`
	// StartFirst is set when the replacement starts and becomes healthy
	// before the old container stops, and is removed if it does not.
	StartFirst bool `json:"start_first,omitempty"`

	// Target is the existing engine object the action replaces, starts or
	// removes (a container or network id).
	Target string `json:"target,omitempty"`
}

// Plan is the ordered difference between a project and an engine.
type Plan struct {
	Project string `json:"project"`
	// Target is where the plan applies: TargetEngine or TargetSwarm.
	Target   string   `json:"target"`
	Actions  []Action `json:"actions"`
	Warnings []string `json:"warnings,omitempty"`
	// Notes say where things run that the actions do not show: the node a
	// stateful swarm service is pinned to.
	Notes []string `json:"notes,omitempty"`
	// Problems stop `up`: the file asks for something this engine cannot do
	// or that would need a manual step.
	Problems []string `json:"problems,omitempty"`

	desired  *Desired
	observed *Observed
	secrets  map[string]ResolvedSecret
	salt     []byte
}

// Empty reports whether applying the plan would change nothing.
func (p *Plan) Empty() bool { return len(p.Actions) == 0 }

// Action returns the action with the given id.
func (p *Plan) Action(id string) (Action, bool) {
	for _, a := range p.Actions {
		if a.ID == id {
			return a, true
		}
	}
	return Action{}, false
}

var opSymbols = map[Op]string{
	OpBuild: "*", OpPull: "*", OpCreate: "+", OpRecreate: "~", OpStart: ">",
	OpRestart: "~", OpRemove: "-", OpGenerate: "+", OpUpdate: "~",
	OpPin: "+", OpCopy: "*", OpPush: "*",
}

// The targets a plan can be for.
const (
	TargetEngine = "engine" // one Docker engine: containers
	TargetSwarm  = "swarm"  // a swarm through its manager: services
)

// WriteText prints the plan as terraform-like lines, one per action:
//
//   - create container starwars-api-1 (missing) after: image:api; waits: mysql healthy
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	if p.Empty() {
		fmt.Fprintf(&b, "Project %s is up to date: nothing to do.\n", p.Project)
	} else {
		fmt.Fprintf(&b, "Project %s: %d action(s)\n", p.Project, len(p.Actions))
		for _, a := range p.Actions {
			fmt.Fprintf(&b, "  %s %s %s %s (%s)", opSymbols[a.Op], a.Op, a.Kind, a.Name, a.Reason)
			if a.Downtime {
				b.WriteString(" [downtime]")
			}
			if a.StartFirst {
				b.WriteString(" [start-first]")
			}
			if len(a.Waits) > 0 {
				var ws []string
				for _, wt := range a.Waits {
					ws = append(ws, wt.Service+" "+strings.TrimPrefix(wt.Condition, "service_"))
				}
				fmt.Fprintf(&b, " waits for %s", strings.Join(ws, ", "))
			}
			b.WriteString("\n")
		}
	}
	for _, note := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", note)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	for _, prob := range p.Problems {
		fmt.Fprintf(&b, "problem: %s\n", prob)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// planSchemaVersion is the version of the JSON form of a plan. It changes
// only when a field changes meaning or disappears.
const planSchemaVersion = 1

// MarshalJSON adds the schema version to the plan's JSON form.
func (p *Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	actions := p.Actions
	if actions == nil {
		actions = []Action{}
	}
	return json.Marshal(struct {
		SchemaVersion int `json:"schema_version"`
		*plain
		Actions []Action `json:"actions"`
	}{planSchemaVersion, (*plain)(p), actions})
}
