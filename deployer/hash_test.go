package deployer

import (
	"slices"
	"strings"
	"testing"
)

const hashStack = `
name: demo
services:
  app:
    image: app:1
    build: {context: ., args: {V: "1"}}
    environment: {MODE: prod}
    ports: ["8080:80"]
    secrets: [token]
    depends_on: {db: {condition: service_started}}
    read_only: true
  db:
    image: db:1
secrets:
  token: {file: ./token}
`

// TestRecreateTriggers says which edits to a service recreate its
// container (its config hash changes, naming the part) and which do not
// (how the image is made, ordering, scaling and rollout settings).
func TestRecreateTriggers(t *testing.T) {
	parts := func(yaml string, tokenVersion string) map[string]string {
		t.Helper()
		d := testDesired(t, yaml, "package main")
		return effectiveParts(d.Service("app"), map[string]ResolvedSecret{"token": {Key: "token", Version: tokenVersion}})
	}
	base := parts(hashStack, "v1")
	for _, tc := range []struct {
		name, from, to string
		version        string
		changed        []string // nil: no recreate
	}{
		{name: "environment", from: "MODE: prod", to: "MODE: debug", changed: []string{"environment"}},
		{name: "image", from: "image: app:1", to: "image: app:2", changed: []string{"image"}},
		{name: "ports", from: `"8080:80"`, to: `"8081:80"`, changed: []string{"ports"}},
		{name: "read_only", from: "read_only: true", to: "read_only: false", changed: []string{"read_only"}},
		{name: "user", from: "read_only: true", to: "read_only: true\n    user: nobody", changed: []string{"user"}},
		{name: "cap_drop", from: "read_only: true", to: "read_only: true\n    cap_drop: [ALL]", changed: []string{"cap_drop"}},
		{name: "secret value", version: "v2", changed: []string{"secret-values"}},
		{name: "build args", from: `V: "1"`, to: `V: "2"`},
		{name: "depends_on", from: "condition: service_started", to: "condition: service_healthy"},
		{name: "pull_policy", from: "read_only: true", to: "read_only: true\n    pull_policy: always"},
		{name: "deploy", from: "read_only: true", to: "read_only: true\n    deploy: {update_config: {order: start-first}}"},
		{name: "scale", from: "read_only: true", to: "read_only: true\n    scale: 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := hashStack
			if tc.from != "" {
				if !strings.Contains(yaml, tc.from) {
					t.Fatalf("no %q in the stack", tc.from)
				}
				yaml = strings.Replace(yaml, tc.from, tc.to, 1)
			}
			version := "v1"
			if tc.version != "" {
				version = tc.version
			}
			got := parts(yaml, version)
			changed := changedParts(base, got)
			if !slices.Equal(changed, tc.changed) {
				t.Errorf("changed parts %v, want %v", changed, tc.changed)
			}
			if recreate := configHash(got) != configHash(base); recreate != (tc.changed != nil) {
				t.Errorf("hash changed: %v, want %v", recreate, tc.changed != nil)
			}
		})
	}
}

func TestPartsLabelRoundTrip(t *testing.T) {
	d := testDesired(t, hashStack, "package main")
	parts := effectiveParts(d.Service("app"), nil)
	if got := decodeParts(encodeParts(parts)); !slices.Equal(sortedKeys(got), sortedKeys(parts)) || changedParts(parts, got) != nil {
		t.Errorf("decode(encode(parts)) = %v, want %v", got, parts)
	}
}

func TestEngineFeatureGates(t *testing.T) {
	for _, tc := range []struct {
		api            string
		multi, isolate bool
	}{
		{"", false, false},
		{"1.41", false, false},
		{"1.44", true, false},
		{"1.48", true, true},
		{"1.100", true, true},
		{"2.0", true, true},
	} {
		e := EngineInfo{APIVersion: tc.api}
		if e.MultiNetworkCreate() != tc.multi || e.IsolatedGateway() != tc.isolate {
			t.Errorf("API %q: multi-network create %v, isolated gateway %v; want %v, %v", tc.api, e.MultiNetworkCreate(), e.IsolatedGateway(), tc.multi, tc.isolate)
		}
	}
}
