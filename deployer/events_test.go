package deployer

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestEventWire checks the text of events as plain lines and JSON show
// them (docs/json-schema.md): done names the op, whichever op it is.
func TestEventWire(t *testing.T) {
	api := Event{Action: "container:api", Kind: KindContainer, Name: "p-api-1", Op: OpRecreate}
	gone := Event{Kind: KindNetwork, Name: "p_backend", Op: OpRemove}
	for _, tc := range []struct {
		e      Event
		detail string
	}{
		{api.working("config changed: environment"), "recreate: config changed: environment"},
		{api.waiting("cache", "service_healthy"), "cache service_healthy"},
		{api.waiting("", "service_started"), "service_started"},
		{Event{Kind: KindContainer, Name: "p-api-1", Status: StatusWaiting, Replacement: true, Condition: "service_healthy"}, "replacement service_healthy"},
		{api.done(), "recreate"},
		{api.failed(errors.New("start: boom")), "start: boom"},
		{api.health("healthy"), "healthy"},
		{api.progress("Step 1/3"), "Step 1/3"},
		{gone.working(""), "remove"},
		{gone.done(), "remove"},
	} {
		if got := tc.e.Detail(); got != tc.detail {
			t.Errorf("%s %s: detail %q, want %q", tc.e.Object(), tc.e.Status, got, tc.detail)
		}
	}
	e := api.done()
	e.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-01-02T03:04:05Z","action":"container:api","object":"container p-api-1","status":"done","detail":"recreate"}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}
