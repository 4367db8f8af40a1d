package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Machine is what the report says about where it ran.
type Machine struct {
	Date, Commit, CPU, Kernel, Engine, Compose, Wrk, HAProxy, Go, Swdeploy string
	Cores                                                                  int
	MemGiB                                                                 float64
}

func machineInfo(ctx context.Context, h *Harness) Machine {
	m := Machine{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), Cores: runtime.NumCPU(), Go: runtime.Version()}
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = h.cfg.Repo
		out, _ := cmd.Output()
		return strings.TrimSpace(string(out))
	}
	m.Commit = git("rev-parse", "--short=12", "HEAD")
	if git("status", "--porcelain", "--untracked-files=no") != "" {
		m.Commit += " (with uncommitted changes)"
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				m.CPU = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%f", &kb)
		m.MemGiB = kb / (1 << 20)
	}
	if v, err := h.engine.ServerVersion(ctx); err == nil {
		m.Engine = "Docker Engine " + v.Version + " (API " + v.APIVersion + ")"
	}
	m.Compose = h.compose.String() + ": " + h.compose.Version
	if c := h.composeV1; c != nil {
		m.Compose += "; second column " + c.String() + ": " + c.Version
	}
	if out, _ := exec.CommandContext(ctx, "haproxy", "-v").CombinedOutput(); len(out) > 0 {
		m.HAProxy = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	if out, _ := exec.CommandContext(ctx, "wrk", "-v").CombinedOutput(); len(out) > 0 {
		m.Wrk = strings.Fields(string(out))[1]
	}
	if out, err := exec.CommandContext(ctx, h.swd, "version").CombinedOutput(); err == nil {
		m.Swdeploy = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return m
}

// Table is one Markdown table.
type Table struct {
	Head []string
	Rows [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

func (t *Table) markdown() string {
	var b strings.Builder
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteString("\n")
	}
	line(t.Head)
	sep := make([]string, len(t.Head))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range t.Rows {
		line(r)
	}
	return b.String()
}

// Section is a heading, text and tables.
type Section struct {
	Title  string
	Text   []string // paragraphs before the tables
	Tables []*Table
	After  []string // paragraphs after the tables
}

// Report is one Markdown file.
type Report struct {
	Title    string
	Intro    []string
	Sections []*Section
}

// Section adds a section and returns it.
func (r *Report) Section(title string, text ...string) *Section {
	s := &Section{Title: title, Text: text}
	r.Sections = append(r.Sections, s)
	return s
}

// Table adds a table to the section.
func (s *Section) Table(head ...string) *Table {
	t := &Table{Head: head}
	s.Tables = append(s.Tables, t)
	return t
}

// Markdown renders the report, its numbered sections in order.
func (r *Report) Markdown() string {
	rank := func(s *Section) int {
		if s.Title != "" && s.Title[0] >= '0' && s.Title[0] <= '9' {
			return int(s.Title[0] - '0')
		}
		return 0
	}
	sort.SliceStable(r.Sections, func(i, j int) bool { return rank(r.Sections[i]) < rank(r.Sections[j]) })
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	for _, p := range r.Intro {
		b.WriteString(p + "\n\n")
	}
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "## %s\n\n", s.Title)
		for _, p := range s.Text {
			b.WriteString(p + "\n\n")
		}
		for _, t := range s.Tables {
			b.WriteString(t.markdown() + "\n")
		}
		for _, p := range s.After {
			b.WriteString(p + "\n\n")
		}
	}
	return b.String()
}

// WriteFile writes the report into dir.
func (r *Report) WriteFile(dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(r.Markdown()), 0o644)
}

// machineTable is the table every report starts with.
func (h *Harness) machineTable(s *Section, extra ...[2]string) {
	m := h.Machine
	t := s.Table("what", "value")
	mode := "full"
	if h.cfg.Smoke {
		mode = "smoke (CI: one short run of everything; the numbers mean nothing)"
	}
	t.Add("date", m.Date)
	t.Add("commit", m.Commit)
	t.Add("mode", mode)
	t.Add("cores", fmt.Sprintf("%d (%s)", m.Cores, m.CPU))
	t.Add("memory", fmt.Sprintf("%.0f GiB", m.MemGiB))
	t.Add("kernel", m.Kernel)
	t.Add("engine", m.Engine)
	t.Add("swdeploy", m.Swdeploy)
	t.Add("compose", m.Compose)
	t.Add("wrk", m.Wrk)
	t.Add("HAProxy", m.HAProxy)
	t.Add("Go", m.Go)
	for _, e := range extra {
		t.Add(e[0], e[1])
	}
}

// Samples are repeated measurements of one quantity.
type Samples []float64

func (s Samples) sorted() []float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	return c
}

// Min is the smallest sample (NaN when empty).
func (s Samples) Min() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return s.sorted()[0]
}

// Median is the middle sample (mean of the two middle ones when even).
func (s Samples) Median() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	c := s.sorted()
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// Max is the largest sample.
func (s Samples) Max() float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	c := s.sorted()
	return c[len(c)-1]
}

func fnum(v float64, prec int) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func secs(d time.Duration) float64 { return d.Seconds() }
