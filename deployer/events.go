package deployer

import (
	"encoding/json"
	"time"
)

// Event is one step of progress. The deployer emits them; the CLI renders
// them as a live view, plain lines or JSON. Which fields are set depends on
// Status.
type Event struct {
	Time   time.Time
	Action string // the plan action's id, when there is one
	Kind   Kind   // the object's kind
	Name   string // the object's engine name: "starwars-api-1", "starwars-api:latest"
	Status Status

	Op     Op     // working, done: what is done to the object
	Reason string // working: why

	// waiting: the depends_on condition ("service_healthy"...) waited for,
	// and whose: Service's, the object's replacement's (a start-first
	// rollout), or with neither the object's own.
	Condition   string
	Service     string
	Replacement bool

	Health string // health: "healthy" or "running"
	Line   string // progress: a line of build output or pull progress
	Err    string // failed: why, possibly with the container's last log lines
}

// Status of an Event.
type Status string

const (
	StatusWorking  Status = "working"  // started, or a progress update
	StatusWaiting  Status = "waiting"  // blocked on a condition
	StatusDone     Status = "done"     // finished
	StatusFailed   Status = "failed"   // gave up; Err says why
	StatusProgress Status = "progress" // a line of build or pull output
	StatusHealth   Status = "health"   // a container's health changed
	StatusCreated  Status = "created"  // a new container exists; its start may still wait
	StatusStarted  Status = "started"  // a container was started
)

// Object names the object the event is about: "container starwars-api-1".
func (e Event) Object() string { return string(e.Kind) + " " + e.Name }

// Detail is the event's text for plain lines and JSON, as documented in
// docs/json-schema.md.
func (e Event) Detail() string {
	switch e.Status {
	case StatusWorking:
		if e.Reason == "" {
			return string(e.Op)
		}
		return string(e.Op) + ": " + e.Reason
	case StatusDone:
		return string(e.Op)
	case StatusWaiting:
		switch {
		case e.Replacement:
			return "replacement " + e.Condition
		case e.Service != "":
			return e.Service + " " + e.Condition
		}
		return e.Condition
	case StatusHealth:
		return e.Health
	case StatusProgress:
		return e.Line
	case StatusFailed:
		return e.Err
	}
	return ""
}

// MarshalJSON writes the event as one line of `--progress json`.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Time   time.Time `json:"time"`
		Action string    `json:"action,omitempty"`
		Object string    `json:"object"`
		Status Status    `json:"status"`
		Detail string    `json:"detail,omitempty"`
	}{e.Time, e.Action, e.Object(), e.Status, e.Detail()})
}

// Reporter receives events. It must be safe for concurrent use: independent
// actions run in parallel.
type Reporter interface {
	Report(Event)
}

// Discard is a Reporter that drops every event.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Report(Event) {}

// emit stamps the event with the time and reports it.
func emit(r Reporter, e Event) {
	e.Time = time.Now()
	r.Report(e)
}

// The event constructors below start from an event naming the action or
// object and fill in what one status needs.

func (e Event) working(reason string) Event {
	e.Status, e.Reason = StatusWorking, reason
	return e
}

func (e Event) created() Event {
	e.Status = StatusCreated
	return e
}

func (e Event) started() Event {
	e.Status = StatusStarted
	return e
}

func (e Event) done() Event {
	e.Status = StatusDone
	return e
}

func (e Event) failed(err error) Event {
	e.Status, e.Err = StatusFailed, err.Error()
	return e
}

func (e Event) waiting(service, condition string) Event {
	e.Status, e.Service, e.Condition = StatusWaiting, service, condition
	return e
}

func (e Event) progress(line string) Event {
	e.Status, e.Line = StatusProgress, line
	return e
}

func (e Event) health(h string) Event {
	e.Status, e.Health = StatusHealth, h
	return e
}
