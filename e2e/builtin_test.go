package e2e

import (
	"context"
	"strings"
	"testing"
)

// TestBuiltinStack runs the binary outside any checkout: it must bring the
// stack up from the Compose file and build context built into it, while
// inside a checkout it uses the checkout's files.
func TestBuiltinStack(t *testing.T) {
	d := newDeployment(t)
	d.files = nil // no -f: the default choice is under test
	inCheckout := d.must("config")
	if !strings.HasPrefix(inCheckout, "# source: stack/compose.yaml") {
		t.Fatalf("in a checkout: want the checkout's file, got %.80q", inCheckout)
	}

	d.dir = t.TempDir() // nothing on disk
	d.env = append(d.env, "STARWARS_SWAPI_URL=http://127.0.0.1:9/api/")
	builtin := d.must("config")
	if !strings.HasPrefix(builtin, "# source: built-in stack") {
		t.Fatalf("outside a checkout: want the built-in stack, got %.80q", builtin)
	}
	d.must("up")
	if line := d.readyz(); !ready(line) {
		t.Fatalf("readyz: %s", line)
	}
	// The built-in context is the same tree as the checkout: same digest,
	// so the image one built serves the other without a rebuild.
	plan := d.must("plan")
	if !strings.Contains(plan, "up to date") {
		t.Fatalf("second plan from the built-in stack is not empty:\n%s", plan)
	}

	img, err := engine.ImageInspect(context.Background(), "starwars-api:latest")
	if err != nil {
		t.Fatal(err)
	}
	if img.Size > 20<<20 {
		t.Errorf("API image is %d bytes, want at most 20 MB", img.Size)
	}
	if u := img.Config.User; u == "" || u == "0" || strings.HasPrefix(u, "root") || strings.HasPrefix(u, "0:") {
		t.Errorf("API image runs as %q, want a non-root user", u)
	}
	if img.Config.Healthcheck == nil || len(img.Config.Healthcheck.Test) == 0 {
		t.Error("API image has no HEALTHCHECK")
	}
}
