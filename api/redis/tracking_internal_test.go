//go:build unix

package redis

import (
	"errors"
	"net"
	"testing"
	"time"
)

var splitMsg = []byte(">2\r\n$10\r\ninvalidate\r\n*2\r\n$7\r\np:jti:1\r\n$8\r\np:fam:ab\r\n")

func TestParseRESPIncomplete(t *testing.T) {
	for i := range len(splitMsg) {
		if _, _, err := parseRESP(splitMsg[:i]); !errors.Is(err, errIncomplete) {
			t.Fatalf("first %d bytes: %v, want incomplete", i, err)
		}
	}
	v, n, err := parseRESP(splitMsg)
	if err != nil || n != len(splitMsg) || v.kind != '>' || len(v.elems) != 2 || v.elems[0].str != "invalidate" ||
		len(v.elems[1].elems) != 2 || v.elems[1].elems[0].str != "p:jti:1" || v.elems[1].elems[1].str != "p:fam:ab" {
		t.Fatalf("parsed %+v, %d, %v", v, n, err)
	}
}

// An invalidation that arrives in pieces: until it is whole, memory is
// not trusted; once whole, it is applied.
func TestTrackerSplitInvalidation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	raw, err := newNowReader(client.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(Options{}, "p:")
	tr.conn, tr.raw, tr.rbuf, tr.alive = client.(*net.TCPConn), raw, make([]byte, 4096), time.Now()
	tr.vals["p:jti:1"] = kept{}
	tr.vals["p:jti:2"] = kept{}
	vals := make([]any, 1)
	lookup := func(key string) bool {
		_, hit := tr.lookup([]string{key}, vals)
		return hit
	}
	if !lookup("p:jti:1") {
		t.Fatal("kept key missed")
	}
	// send writes b and looks up until the tracker has read it (done).
	send := func(b []byte, done func() bool) {
		if _, err := server.Write(b); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); !done(); {
			if time.Now().After(deadline) {
				t.Fatal("tracker did not read what was sent")
			}
			lookup("p:jti:2")
		}
	}
	send(splitMsg[:30], func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return len(tr.in) > 0 })
	if lookup("p:jti:1") || lookup("p:jti:2") {
		t.Error("memory trusted with part of a message unread")
	}
	send(splitMsg[30:], func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return len(tr.in) == 0 })
	if lookup("p:jti:1") {
		t.Error("invalidated key still kept")
	}
	if !lookup("p:jti:2") {
		t.Error("key not invalidated missed")
	}
}
