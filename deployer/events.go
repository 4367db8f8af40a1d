package deployer

import "time"

// Event is one step of progress. The deployer emits them; the CLI renders
// them as a live view, plain lines or JSON.
type Event struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action,omitempty"` // the plan action's id, when there is one
	Object string    `json:"object"`           // "container starwars-api-1", "image starwars-api:latest"
	Status Status    `json:"status"`
	Detail string    `json:"detail,omitempty"` // a build line, pull progress, an error
}

// Status of an Event.
type Status string

const (
	StatusWorking  Status = "working"  // started, or a progress update
	StatusWaiting  Status = "waiting"  // blocked on a dependency's condition
	StatusDone     Status = "done"     // finished
	StatusFailed   Status = "failed"   // gave up; Detail says why
	StatusProgress Status = "progress" // a line of build or pull output
	StatusHealth   Status = "health"   // a container's health changed; Detail holds it
)

// Reporter receives events. It must be safe for concurrent use: independent
// actions run in parallel.
type Reporter interface {
	Report(Event)
}

// Discard is a Reporter that drops every event.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Report(Event) {}

func emit(r Reporter, action, object string, status Status, detail string) {
	r.Report(Event{Time: time.Now(), Action: action, Object: object, Status: status, Detail: detail})
}
