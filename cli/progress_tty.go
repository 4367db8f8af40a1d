package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/moby/term"

	"github.com/fathat101/swdeploy/deployer"
)

// liveView redraws a block of lines in place, one per object, as docker
// compose does: what each object is doing, its health, how long it took,
// and under a busy one its latest build or pull line.
//
// It redraws on every change of state and, while something is busy, ten
// times a second for the spinners and clocks. The clock stops by itself
// when nothing is busy, and Stop ends the view for good, so nothing is
// drawn over what the command prints next.
type liveView struct {
	mu      sync.Mutex
	w       io.Writer
	color   bool
	size    func() (width, height int)
	now     func() time.Time
	rows    []*liveRow
	byObj   map[objectKey]*liveRow
	drawn   int // lines of the last frame, to move back over
	frame   int
	ticking bool
	stopped bool
	quit    chan struct{}
}

type liveRow struct {
	kind, name string
	status     deployer.Status
	word       string // "Creating", "Healthy", "Error"...
	sub        string // the latest build or pull line
	errLine    string
	started    time.Time
	ended      time.Time
}

func newLiveView(w io.Writer, color bool) *liveView {
	return &liveView{w: w, color: color, size: terminalSize(w), now: time.Now, byObj: map[objectKey]*liveRow{}, quit: make(chan struct{})}
}

func terminalSize(w io.Writer) func() (int, int) {
	return func() (int, int) {
		if f, ok := w.(*os.File); ok {
			if ws, err := term.GetWinsize(f.Fd()); err == nil && ws.Width > 0 && ws.Height > 0 {
				return int(ws.Width), int(ws.Height)
			}
		}
		return 80, 24
	}
}

func (v *liveView) Report(e deployer.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	k := objectKey{e.Kind, e.Name}
	r := v.byObj[k]
	if r == nil {
		r = &liveRow{kind: capitalize(string(e.Kind)), name: e.Name, started: e.Time}
		v.byObj[k] = r
		v.rows = append(v.rows, r)
	}
	if !r.apply(e) {
		return // a build or pull line: the clock shows it soon enough
	}
	v.draw()
	if v.busy() && !v.ticking {
		v.ticking = true
		go v.tick()
	}
}

// apply updates the row and reports whether its state changed.
func (r *liveRow) apply(e deployer.Event) bool {
	switch e.Status {
	case deployer.StatusProgress:
		r.sub = firstLine(e.Line)
		return false
	case deployer.StatusWorking:
		r.word = opWord(e.Op, false)
		r.ended = time.Time{}
	case deployer.StatusWaiting:
		r.word = waitWord(e)
		r.ended = time.Time{}
	case deployer.StatusCreated, deployer.StatusStarted:
		r.word, r.ended = capitalize(string(e.Status)), time.Time{}
	case deployer.StatusDone:
		r.word, r.sub, r.ended = opWord(e.Op, true), "", e.Time
	case deployer.StatusFailed:
		r.word, r.sub, r.ended, r.errLine = "Error", "", e.Time, firstLine(e.Err)
	case deployer.StatusHealth:
		r.word, r.sub, r.ended = capitalize(e.Health), "", e.Time
		if e.Health == "starting" {
			r.word, r.ended = "Starting (health)", time.Time{}
		}
	}
	r.status = e.Status
	return true
}

func (r *liveRow) busy() bool { return r.ended.IsZero() }

func (v *liveView) busy() bool {
	for _, r := range v.rows {
		if r.busy() {
			return true
		}
	}
	return false
}

func (v *liveView) tick() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-v.quit:
			return
		case <-t.C:
		}
		v.mu.Lock()
		if v.stopped {
			v.mu.Unlock()
			return
		}
		v.frame++
		v.draw()
		if !v.busy() {
			v.ticking = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
	}
}

// Stop draws the final frame and gives the terminal back.
func (v *liveView) Stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	if len(v.rows) > 0 {
		v.draw()
		io.WriteString(v.w, showCursor)
	}
	v.stopped = true
	close(v.quit)
}

const (
	hideCursor = "\x1b[?25l"
	showCursor = "\x1b[?25h"
	clearLine  = "\r\x1b[2K"
	clearBelow = "\x1b[J"
)

// draw moves back over the last frame and writes the new one. Lines are
// cut to the terminal's width: a wrapped line would throw the count off.
func (v *liveView) draw() {
	width, height := v.size()
	lines := v.lines(v.now(), width, height-1)
	var b strings.Builder
	if v.drawn == 0 {
		b.WriteString(hideCursor)
	} else {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	for _, l := range lines {
		b.WriteString(clearLine)
		b.WriteString(l)
		b.WriteString("\n")
	}
	b.WriteString(clearBelow)
	io.WriteString(v.w, b.String())
	v.drawn = len(lines)
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

const (
	green = "\x1b[32m"
	red   = "\x1b[31m"
	blue  = "\x1b[34m"
	dim   = "\x1b[2m"
	reset = "\x1b[0m"
)

// lines renders the frame: a header, then a line per object (and one more
// under a busy object with build or pull output), at most maxLines, the
// finished objects that do not fit left out first.
func (v *liveView) lines(now time.Time, width, maxLines int) []string {
	done := 0
	nameWidth := 0
	for _, r := range v.rows {
		if !r.busy() {
			done++
		}
		nameWidth = max(nameWidth, utf8.RuneCountInString(r.kind)+1+utf8.RuneCountInString(r.name))
	}
	nameWidth = min(nameWidth, max(width/2, 20))
	rows := v.rows
	hidden := 0
	if need := v.lineCount(rows); maxLines > 1 && need > maxLines-1 {
		rows, hidden = fit(rows, maxLines-1, v.lineCount)
	}
	header := fmt.Sprintf("[+] Running %d/%d", done, len(v.rows))
	if hidden > 0 {
		header += fmt.Sprintf(" (%d finished not shown)", hidden)
	}
	out := []string{v.paint(blue, truncate(header, width))}
	for _, r := range rows {
		out = append(out, v.row(r, now, width, nameWidth))
		if r.sub != "" && r.busy() {
			out = append(out, v.paint(dim, truncate("   => "+r.sub, width)))
		}
	}
	return out
}

func (v *liveView) lineCount(rows []*liveRow) int {
	n := 0
	for _, r := range rows {
		n++
		if r.sub != "" && r.busy() {
			n++
		}
	}
	return n
}

// fit drops the oldest finished rows until the rest fit in n lines.
func fit(rows []*liveRow, n int, count func([]*liveRow) int) ([]*liveRow, int) {
	kept := append([]*liveRow{}, rows...)
	hidden := 0
	for count(kept) > n {
		i := -1
		for j, r := range kept {
			if !r.busy() && r.status != deployer.StatusFailed {
				i = j
				break
			}
		}
		if i < 0 {
			break
		}
		kept = append(kept[:i], kept[i+1:]...)
		hidden++
	}
	return kept, hidden
}

func (v *liveView) row(r *liveRow, now time.Time, width, nameWidth int) string {
	icon, color := spinner[v.frame%len(spinner)], blue
	switch {
	case r.status == deployer.StatusFailed || r.word == "Unhealthy":
		icon, color = "✘", red
	case !r.busy():
		icon, color = "✔", green
	}
	end := now
	if !r.ended.IsZero() {
		end = r.ended
	}
	clock := fmt.Sprintf("%.1fs", end.Sub(r.started).Seconds())
	name := truncate(strings.TrimSpace(r.kind+" "+r.name), nameWidth)
	word := r.word
	if r.errLine != "" {
		word += ": " + r.errLine
	}
	// " ✔ Container starwars-api-1   Healthy      12.3s"
	room := width - (1 + 1 + 1 + nameWidth + 2) - len(clock) - 1
	if room < 1 {
		return truncate(" "+icon+" "+name, width)
	}
	word = truncate(word, room)
	pad := strings.Repeat(" ", room-utf8.RuneCountInString(word)+1)
	return " " + v.paint(color, icon) + " " + fmt.Sprintf("%-*s", nameWidth, name) + "  " + v.paint(color, word) + pad + v.paint(dim, clock)
}

func (v *liveView) paint(color, s string) string {
	if !v.color {
		return s
	}
	return color + s + reset
}

var opWords = map[deployer.Op][2]string{
	deployer.OpBuild: {"Building", "Built"}, deployer.OpPull: {"Pulling", "Pulled"},
	deployer.OpCreate: {"Creating", "Created"}, deployer.OpRecreate: {"Recreating", "Recreated"},
	deployer.OpStart: {"Starting", "Started"}, deployer.OpRestart: {"Restarting", "Restarted"},
	deployer.OpRemove:   {"Removing", "Removed"},
	deployer.OpGenerate: {"Generating", "Generated"}, deployer.OpUpdate: {"Updating", "Updated"},
}

func opWord(op deployer.Op, done bool) string {
	w, ok := opWords[op]
	switch {
	case ok && done:
		return w[1]
	case ok:
		return w[0]
	case done:
		return "Done"
	}
	return "Working"
}

// waitWord says what an object waits for: a dependency's depends_on
// condition, its replacement's readiness, or its own for the final wait.
func waitWord(e deployer.Event) string {
	c := map[string]string{"service_healthy": "healthy", "service_started": "running", "service_completed_successfully": "completed"}[e.Condition]
	switch {
	case c == "":
		return "Waiting"
	case e.Replacement:
		return "Waiting for the replacement to be " + c
	case e.Service != "":
		return "Waiting for " + e.Service + " to be " + c
	}
	return "Waiting to be " + c
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

// truncate cuts s to n runes, marking the cut.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n == 1 {
		return string(r[:1])
	}
	return string(r[:n-1]) + "…"
}
