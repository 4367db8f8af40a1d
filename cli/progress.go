package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fathat101/swdeploy/deployer"
)

// newReporter picks how progress is shown. Progress goes to standard error
// so that standard output carries only results (a plan, JSON). "auto" is a
// live view on a terminal and one line per event anywhere else (CI logs).
// The reporter also keeps each object's outcome, for up's JSON summary;
// endProgress must be called once the work is over.
func newReporter(mode string, s IOStreams) (deployer.Reporter, error) {
	var out deployer.Reporter
	var stop func()
	switch mode {
	case "quiet":
		out = deployer.Discard
	case "json":
		out = &jsonReporter{w: s.ErrOut}
	case "plain":
		out = &plainReporter{w: s.ErrOut, start: time.Now()}
	case "auto", "tty", "":
		if mode == "tty" || s.ErrTTY {
			v := newLiveView(s.ErrOut, useColor(s.ErrTTY))
			out, stop = v, v.Stop
		} else {
			out = &plainReporter{w: s.ErrOut, start: time.Now()}
		}
	default:
		return nil, usage(fmt.Errorf("--progress %q: want auto, tty, plain, json or quiet", mode))
	}
	return &progress{out: out, stop: stop, objects: map[objectKey]*outcome{}}, nil
}

// endProgress ends a live view with its final frame, so that what is
// printed next (a summary, an error) lands below it. It is safe to call on
// any reporter, and more than once.
func endProgress(rep deployer.Reporter) {
	if p, ok := rep.(*progress); ok && p.stop != nil {
		p.stop()
	}
}

// useColor reports whether to colour a terminal's output: never with
// NO_COLOR set (https://no-color.org) or on a dumb terminal.
func useColor(tty bool) bool {
	return tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// progress passes events to a renderer and remembers what became of each
// object.
type progress struct {
	out     deployer.Reporter
	stop    func()
	mu      sync.Mutex
	objects map[objectKey]*outcome
}

// objectKey names an engine object, as an action or an event does.
type objectKey struct {
	kind deployer.Kind
	name string
}

// outcome is the last word on one object.
type outcome struct {
	Status  deployer.Status
	Err     string // why it failed
	Health  string
	Started time.Time // its first event
	Ended   time.Time
	// A container's timeline: when it was first seen created, started
	// and healthy.
	CreatedAt, StartedAt, HealthyAt time.Time
}

func (p *progress) Report(e deployer.Event) {
	p.mu.Lock()
	k := objectKey{e.Kind, e.Name}
	o := p.objects[k]
	if o == nil {
		o = &outcome{Started: e.Time}
		p.objects[k] = o
	}
	switch {
	case e.Status == deployer.StatusCreated && o.CreatedAt.IsZero():
		o.CreatedAt = e.Time
	case e.Status == deployer.StatusStarted && o.StartedAt.IsZero():
		o.StartedAt = e.Time
	case e.Status == deployer.StatusHealth && e.Health == "healthy" && o.HealthyAt.IsZero():
		o.HealthyAt = e.Time
	}
	switch {
	case e.Status == deployer.StatusHealth:
		o.Health = e.Health
	case e.Status == deployer.StatusProgress:
	case e.Action != "" || e.Status != deployer.StatusWaiting:
		// The final wait for health after an action is done names no
		// action: it must not make the action look unfinished.
		o.Status, o.Err = e.Status, e.Err
		if e.Status == deployer.StatusDone || e.Status == deployer.StatusFailed {
			o.Ended = e.Time
		}
	}
	p.mu.Unlock()
	p.out.Report(e)
}

// outcome returns a copy of what became of an object, and whether any
// event named it.
func (p *progress) outcome(kind deployer.Kind, name string) (outcome, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.objects[objectKey{kind, name}]
	if !ok {
		return outcome{}, false
	}
	return *o, true
}

// plainReporter writes one line per event, fit for logs and CI:
//
//	6.8s container starwars-cache-1 health healthy
type plainReporter struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (r *plainReporter) Report(e deployer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	detail := strings.TrimSpace(e.Detail())
	if detail != "" {
		// A multi-line detail (a failure with the container's last log
		// lines) stays readable and grep-able: one event, indented lines.
		detail = " " + strings.ReplaceAll(detail, "\n", "\n        ")
	}
	fmt.Fprintf(r.w, "%6.1fs %s %s%s\n", e.Time.Sub(r.start).Seconds(), e.Object(), e.Status, detail)
}

// jsonReporter writes one JSON object per event (JSON Lines); the fields
// are documented in docs/json-schema.md.
type jsonReporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (r *jsonReporter) Report(e deployer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := json.Marshal(e)
	r.w.Write(append(b, '\n'))
}
