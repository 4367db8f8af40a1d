package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// probeStack is a service whose healthcheck the engine runs only after an
// hour, and a second that waits for it to be healthy.
func probeStack(t *testing.T, check string) *deployment {
	t.Helper()
	dir := t.TempDir() // before the deployment: its cleanup runs first
	d := newDeployment(t)
	d.dir, d.files = dir, []string{filepath.Join(dir, "compose.yaml")}
	yaml := fmt.Sprintf(`services:
  gate:
    image: swdeploy-offline/redis:7
    entrypoint: ["sleep", "infinity"]
    init: true
    healthcheck:
      test: %s
      interval: 1h
      timeout: 10s
      start_period: 1h
  after:
    image: swdeploy-offline/redis:7
    entrypoint: ["sleep", "infinity"]
    init: true
    depends_on:
      gate:
        condition: service_healthy
`, check)
	if err := os.WriteFile(d.files[0], []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// gateHealth is the engine's own view of the gate's health: its status
// and how many checks it has run.
func gateHealth(t *testing.T, d *deployment) (string, int) {
	t.Helper()
	c, err := engine.ContainerInspect(context.Background(), d.project+"-gate-1")
	if err != nil {
		t.Fatal(err)
	}
	return c.State.Health.Status, len(c.State.Health.Log)
}

// While a dependent waits, swdeploy runs the service's own healthcheck
// itself: a check that passes opens the gate long before the engine's
// first run of it, and one that fails never does.
func TestHealthProbe(t *testing.T) {
	t.Run("passing check opens the gate", func(t *testing.T) {
		d := probeStack(t, `["CMD-SHELL", "test -d /proc/1"]`)
		// --wait=false: the gate is the only wait (the one that ends up
		// counts the engine's health alone, which comes after an hour).
		d.must("up", "--wait=false", "--wait-timeout", "2m")
		if status, runs := gateHealth(t, d); status != "starting" || runs != 0 {
			t.Errorf("gate: engine health %s after %d checks; want starting, none run (the gate opened on the probe)", status, runs)
		}
		if _, ok := d.containers()["after"]; !ok {
			t.Error("after was not created")
		}
	})
	t.Run("failing check never does", func(t *testing.T) {
		d := probeStack(t, `["CMD", "false"]`)
		_, errOut, code := d.swd("up", "--wait=false", "--wait-timeout", "10s")
		if code != 1 || !strings.Contains(errOut, "gate did not become healthy within 10s") {
			t.Fatalf("up: exit %d, want 1 and the gate's timeout\n%s", code, errOut)
		}
		if status, runs := gateHealth(t, d); status != "starting" || runs != 0 {
			t.Errorf("gate: engine health %s after %d checks; want starting, none run", status, runs)
		}
		if _, ok := d.containers()["after"]; ok {
			t.Error("after was created behind a gate whose check fails")
		}
	})
}
