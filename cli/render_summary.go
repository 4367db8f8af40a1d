package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fathat101/swdeploy/deployer"
)

// UpSummarySchemaVersion is the version of `up --format json`'s output. It
// changes only when a field changes meaning or disappears; new fields may
// appear within a version. docs/json-schema.md describes it.
const UpSummarySchemaVersion = 1

// upSummary is what `up --format json` prints on standard output when it
// is over, whatever the outcome: the plan it applied and what became of
// each action.
type upSummary struct {
	SchemaVersion   int                 `json:"schema_version"`
	Project         string              `json:"project"`
	Result          string              `json:"result"` // up-to-date, applied, failed, refused
	Error           string              `json:"error,omitempty"`
	Engine          deployer.EngineInfo `json:"engine"`
	StartedAt       time.Time           `json:"started_at"`
	DurationSeconds float64             `json:"duration_seconds"`
	Actions         []actionResult      `json:"actions"`
	Warnings        []string            `json:"warnings,omitempty"`
	Problems        []string            `json:"problems,omitempty"`
	// CriticalPath (with --timings) is the chain of actions that ended
	// last, first to last.
	CriticalPath []pathResult `json:"critical_path,omitempty"`
}

// pathResult is one action of the critical path: the step of it that let
// the next go on, in seconds since the run began.
type pathResult struct {
	Action  string  `json:"action"`
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
}

// actionResult is a plan action with its outcome.
type actionResult struct {
	deployer.Action
	Result          string  `json:"result"`           // done, failed, interrupted, not-started
	Health          string  `json:"health,omitempty"` // a container's last state seen: healthy, running, unhealthy
	Error           string  `json:"error,omitempty"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	// With --timings, a container's timeline in seconds since the run
	// began; a step it did not reach is absent.
	CreatedSeconds *float64 `json:"created_seconds,omitempty"`
	StartedSeconds *float64 `json:"started_seconds,omitempty"`
	HealthySeconds *float64 `json:"healthy_seconds,omitempty"`
}

// finishUp ends up's progress output and, with --format json, prints the
// summary, or with --timings in text the timings table. It is meant to be
// deferred once the plan exists, with a pointer to up's returned error,
// which it reads (and sets only if the output cannot be written).
func finishUp(deps Deps, format string, withTimings bool, p *deployer.Plan, rep deployer.Reporter, start time.Time, errp *error) {
	endProgress(rep)
	if p == nil {
		return
	}
	var err error
	if errp != nil {
		err = *errp
	}
	rec, _ := rep.(*progress)
	var werr error
	switch {
	case format == "json":
		s := summarize(p, rep, start, time.Now(), err)
		if withTimings && rec != nil {
			s.addTimings(timings(p, rec, start))
		}
		enc := json.NewEncoder(deps.Streams.Out)
		enc.SetIndent("", "  ")
		werr = enc.Encode(s)
	case withTimings && rec != nil && !p.Empty() && len(p.Problems) == 0:
		werr = writeTimings(deps.Streams.Out, timings(p, rec, start))
	}
	if werr != nil && errp != nil && *errp == nil {
		*errp = fmt.Errorf("write summary: %w", werr)
	}
}

// addTimings adds each container's timeline and the critical path.
func (s *upSummary) addTimings(t runTimings) {
	for _, c := range t.containers {
		for i := range s.Actions {
			if r := &s.Actions[i]; r.ID == c.action.ID {
				r.CreatedSeconds, r.StartedSeconds, r.HealthySeconds = t.since(c.created), t.since(c.started), t.since(c.healthy)
			}
		}
	}
	for _, step := range t.path {
		s.CriticalPath = append(s.CriticalPath, pathResult{Action: step.action.ID, Step: step.step, Seconds: *t.since(step.at)})
	}
}

func summarize(p *deployer.Plan, rep deployer.Reporter, start, end time.Time, err error) upSummary {
	s := upSummary{
		SchemaVersion: UpSummarySchemaVersion, Project: p.Project, Engine: p.Engine(),
		StartedAt: start.UTC(), DurationSeconds: seconds(end.Sub(start)),
		Actions: []actionResult{}, Warnings: p.Warnings, Problems: p.Problems,
	}
	switch {
	case err != nil && len(p.Problems) > 0:
		s.Result = "refused"
	case err != nil:
		s.Result = "failed"
	case p.Empty():
		s.Result = "up-to-date"
	default:
		s.Result = "applied"
	}
	if err != nil {
		s.Error = err.Error()
	}
	rec, _ := rep.(*progress)
	for _, a := range p.Actions {
		r := actionResult{Action: a, Result: "not-started"}
		if rec != nil {
			if o, ok := rec.outcome(a.Kind, a.Name); ok {
				r.Result, r.Health = resultWord(o.Status), o.Health
				if o.Status == deployer.StatusFailed {
					r.Error = strings.TrimSpace(o.Err)
				}
				if !o.Ended.IsZero() {
					r.DurationSeconds = seconds(o.Ended.Sub(o.Started))
				}
			}
		}
		s.Actions = append(s.Actions, r)
	}
	return s
}

func resultWord(st deployer.Status) string {
	switch st {
	case deployer.StatusDone:
		return "done"
	case deployer.StatusFailed:
		return "failed"
	}
	return "interrupted"
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// choiceFlag is a string flag that takes only the listed values, so that a
// typo fails while the flags are parsed, with the usage exit code.
type choiceFlag struct {
	p       *string
	choices []string
}

// newChoiceFlag sets *p to def and returns the flag.Value for it.
func newChoiceFlag(p *string, def string, choices ...string) *choiceFlag {
	*p = def
	return &choiceFlag{p: p, choices: choices}
}

func (f *choiceFlag) String() string { return *f.p }
func (f *choiceFlag) Type() string   { return "string" }

func (f *choiceFlag) Set(v string) error {
	for _, c := range f.choices {
		if v == c {
			*f.p = v
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(f.choices, " or "))
}
