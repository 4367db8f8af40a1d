package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLiveViewInTerminal runs `up` in a real terminal (a tmux pane) and
// reads the screen as a person would see it at the end: every service on
// its own line with its final state, the header counting all of them done,
// no spinner left, and the closing line below the view.
func TestLiveViewInTerminal(t *testing.T) {
	needTool(t, "tmux")
	d := newSmallDeployment(t)
	socket := fmt.Sprintf("swdeploy-e2e-%d", os.Getpid())
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-L", socket}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { tmux("kill-server") })

	var cmd strings.Builder
	fmt.Fprintf(&cmd, "cd %s && env", shellQuote(d.dir))
	for _, e := range d.env {
		cmd.WriteString(" " + shellQuote(e))
	}
	cmd.WriteString(" " + shellQuote(binary))
	for _, a := range d.args("up") {
		cmd.WriteString(" " + shellQuote(a))
	}
	cmd.WriteString("; echo EXIT=$?; sleep 600")
	if out, err := tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", "up", cmd.String()); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	var screen string
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(screen, "EXIT=") {
		if time.Now().After(deadline) {
			t.Fatalf("up did not finish; the screen:\n%s", screen)
		}
		time.Sleep(250 * time.Millisecond)
		screen, _ = tmux("capture-pane", "-p", "-t", "up")
	}
	t.Logf("the screen at the end:\n%s", screen)
	if !strings.Contains(screen, "EXIT=0") {
		t.Fatalf("up failed")
	}
	for service, state := range map[string]string{"cache": "Healthy", "worker": "Running"} {
		line := regexp.MustCompile(`(?m)^ ✔ Container ` + d.project + `-` + service + `-1 +` + state + ` +\d+\.\ds$`)
		if !line.MatchString(screen) {
			t.Errorf("no line for %s showing %s", service, state)
		}
	}
	for _, obj := range []string{"Network " + d.project + "_backend", "Volume " + d.project + "_cache-data", "Secret cache_password"} {
		if !regexp.MustCompile(`(?m)^ ✔ ` + regexp.QuoteMeta(obj) + ` +\w+ +\d+\.\ds$`).MatchString(screen) {
			t.Errorf("no finished line for %s", obj)
		}
	}
	if m := regexp.MustCompile(`\[\+\] Running (\d+)/(\d+)`).FindStringSubmatch(screen); m == nil || m[1] != m[2] {
		t.Errorf("header does not count everything done: %v", m)
	}
	if strings.ContainsAny(screen, "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") {
		t.Error("a spinner is left on the final screen")
	}
	if !regexp.MustCompile(`(?s)Running \d+/\d+.*Container.*\nProject ` + d.project + ` is up`).MatchString(screen) {
		t.Error("the closing line is not below the live view")
	}
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
