package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want config
		err  string
	}{
		{name: "defaults", want: config{addr: "127.0.0.1:8000"}},
		{name: "env", env: map[string]string{
			"SWAPI_LOCAL_ADDR": "0.0.0.0:8000", "SWAPI_LOCAL_DATA": "/data", "SWAPI_LOCAL_LATENCY": "50ms",
			"SWAPI_LOCAL_FAIL_RATE": "0.1", "SWAPI_LOCAL_BASE_URL": "http://swapi:8000/api/",
		}, want: config{addr: "0.0.0.0:8000", data: "/data", latency: 50 * time.Millisecond, failRate: 0.1, baseURL: "http://swapi:8000/api/"}},
		{name: "flags win", args: []string{"-addr", ":9000", "-latency", "1s", "-fail-rate", "1"},
			env:  map[string]string{"SWAPI_LOCAL_ADDR": "0.0.0.0:8000", "SWAPI_LOCAL_LATENCY": "50ms"},
			want: config{addr: ":9000", latency: time.Second, failRate: 1}},
		{name: "healthcheck", args: []string{"-healthcheck"}, want: config{addr: "127.0.0.1:8000", healthcheck: true}},
		{name: "bad rate", args: []string{"-fail-rate", "2"}, err: "fail-rate"},
		{name: "bad env latency", env: map[string]string{"SWAPI_LOCAL_LATENCY": "soon"}, err: "SWAPI_LOCAL_LATENCY"},
		{name: "negative latency", args: []string{"-latency", "-1s"}, err: "negative"},
		{name: "stray argument", args: []string{"serve"}, err: "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, env(tt.env), io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one about %s", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestServeAndHealthcheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", addr}, env(nil), io.Discard) // no -data: the built-in set
	}()
	var last error
	for range 50 {
		if last = healthcheck(t.Context(), addr); last == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last != nil {
		t.Errorf("healthcheck: %v", last)
	}
	resp, err := http.Get("http://" + addr + "/api/films/")
	if err != nil {
		t.Fatal(err)
	}
	var films struct{ Count int }
	err = json.NewDecoder(resp.Body).Decode(&films)
	resp.Body.Close()
	if err != nil || films.Count != 6 {
		t.Errorf("GET /api/films/: count %d, %v; want the 6 built-in films", films.Count, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	if err := healthcheck(t.Context(), addr); err == nil {
		t.Error("healthcheck passed with the server stopped")
	}
}

func TestMissingData(t *testing.T) {
	err := run(t.Context(), []string{"-data", t.TempDir()}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "data") {
		t.Errorf("error %v", err)
	}
}
