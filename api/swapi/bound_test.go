package swapi

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/swapi/local"
)

// paths lists the upstream paths of calls.
func paths(calls []testenv.Served) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Path
	}
	slices.Sort(out)
	return out
}

func TestIDsAboveTheCollectionSkipUpstream(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	// No response cache: every call reaches the fetcher unless skipped.
	s, rec := newRecordingService(t, up.URL, Config{ResponseTTL: -1})
	ctx := t.Context()
	// Lists that read whole collections show their largest ids.
	if _, err := s.People(ctx, query(t, "sort_by=name")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Films(ctx, nil); err != nil {
		t.Fatal(err)
	}
	before := len(rec.calls())
	for id := 84; id < 184; id++ {
		if _, err := s.Person(ctx, strconv.Itoa(id), nil); api.ErrorCode(err) != api.CodeNotFound {
			t.Fatalf("person %d: %v, want not-found", id, err)
		}
	}
	if _, err := s.Film(ctx, "7", nil); api.ErrorCode(err) != api.CodeNotFound {
		t.Fatalf("film 7: %v, want not-found", err)
	}
	if extra := rec.calls()[before:]; len(extra) != 0 {
		t.Errorf("%d upstream calls for ids above the collections, want none: %v", len(extra), paths(extra))
	}

	// Ids are not dense: 17 is a gap, and the 82 people end at 83. Both are
	// within the collection's range, so both are asked.
	before = len(rec.calls())
	if _, err := s.Person(ctx, "17", nil); api.ErrorCode(err) != api.CodeNotFound {
		t.Fatalf("person 17: %v, want not-found", err)
	}
	if body, err := s.Person(ctx, "83", nil); err != nil || len(body) == 0 {
		t.Fatalf("person 83: %v", err)
	}
	if got := paths(rec.calls()[before:]); !slices.Equal(got, []string{"people/17/", "people/83/"}) {
		t.Errorf("upstream calls %v, want people/17/ and people/83/", got)
	}
}

func TestUnknownIDTeachesTheBound(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	s, rec := newRecordingService(t, up.URL, Config{ResponseTTL: -1})
	ctx := t.Context()
	// Cold: the first unknown id is asked, and its 404 makes the Service
	// read the collection once to learn where it ends.
	if _, err := s.Person(ctx, "1000", nil); api.ErrorCode(err) != api.CodeNotFound {
		t.Fatalf("person 1000: %v, want not-found", err)
	}
	want := []string{"people/1000/"}
	for p := 1; p <= 9; p++ {
		want = append(want, "people/?page="+strconv.Itoa(p))
	}
	slices.Sort(want)
	if got := paths(rec.calls()); !slices.Equal(got, want) {
		t.Errorf("cold unknown id: upstream calls %v, want %v", got, want)
	}
	before := len(rec.calls())
	for id := 1001; id < 1100; id++ {
		if _, err := s.Person(ctx, strconv.Itoa(id), nil); api.ErrorCode(err) != api.CodeNotFound {
			t.Fatalf("person %d: %v, want not-found", id, err)
		}
	}
	if n := len(rec.calls()) - before; n != 0 {
		t.Errorf("%d upstream calls for 99 more unknown ids, want none", n)
	}
	// A 404 below the bound (a gap) does not read the collection again.
	before = len(rec.calls())
	if _, err := s.Person(ctx, "17", nil); api.ErrorCode(err) != api.CodeNotFound {
		t.Fatalf("person 17: %v", err)
	}
	if got := paths(rec.calls()[before:]); !slices.Equal(got, []string{"people/17/"}) {
		t.Errorf("gap: upstream calls %v, want people/17/ alone", got)
	}
}

func TestIDBoundExpires(t *testing.T) {
	up := testenv.StartUpstream(t, dataDir, local.Options{})
	// A bound trusted for 1ns is always expired: ids above it are asked
	// again, so that a collection that grew is seen.
	s, rec := newRecordingService(t, up.URL, Config{ResponseTTL: -1, IDBoundTTL: time.Nanosecond})
	ctx := t.Context()
	if _, err := s.Films(ctx, nil); err != nil {
		t.Fatal(err)
	}
	before := len(rec.calls())
	if _, err := s.Film(ctx, "7", nil); api.ErrorCode(err) != api.CodeNotFound {
		t.Fatalf("film 7: %v, want not-found", err)
	}
	if got := paths(rec.calls()[before:]); !slices.Contains(got, "films/7/") {
		t.Errorf("expired bound: upstream calls %v, want films/7/ among them", got)
	}
}
