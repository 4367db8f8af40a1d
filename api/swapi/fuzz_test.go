package swapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/fathat101/swdeploy/api"
)

func FuzzParseListQuery(f *testing.F) {
	for _, seed := range []string{
		"",
		"max_items=82",
		"filters=height:gte:180&filters=gender:eq:male",
		"sort_by=height&sort_order=desc&max_items=5",
		"filters=name:in:Luke Skywalker,Leia Organa&options[attributes]=false",
		"filters=url:eq:https://swapi.dev/api/people/1/",
		"options[films]=false&options[starships]=true&batch_size=20",
		"filters=mass:lt:1,358&sort_by=mass",
		"max_items=3", "sort_order=sideways", "filters=height:like:1", "options[x]=y",
		"filters=%3A%3A&options%5B%5D=",
	} {
		f.Add(seed)
	}
	params := map[string]bool{"max_items": true, "batch_size": true, "sort_by": true,
		"sort_order": true, "filters": true, "options": true}
	people := peopleKind()
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // what parsed, as net/http would hand it over
		lq, err := parseListQuery(people, q)
		if err != nil {
			var e *api.Error
			if !errors.As(err, &e) || e.Code != api.CodeBadRequest || !params[e.Parameter] {
				t.Fatalf("%q: error %v is not a bad-request naming a parameter", raw, err)
			}
			return
		}
		if lq.maxItems < minMaxItems || lq.batchSize < minBatchSize {
			t.Fatalf("%q: accepted %+v", raw, lq)
		}
		if lq.sortBy != "" && !people.scalars[lq.sortBy] {
			t.Fatalf("%q: sorts on %q", raw, lq.sortBy)
		}
		for _, fl := range lq.filters {
			if !people.scalars[fl.field] || len(fl.want) == 0 {
				t.Fatalf("%q: accepted filter %+v", raw, fl)
			}
			if fl.op != opEq && fl.op != opIn && !fl.want[0].num {
				t.Fatalf("%q: ordered comparison with a non-number %+v", raw, fl)
			}
			if !strings.HasPrefix(fl.raw, fl.field+":") {
				t.Fatalf("%q: filter %q lost its field", raw, fl.raw)
			}
			fl.match(newValue(fl.raw)) // must not panic
		}
		again, err := parseListQuery(people, q)
		if err != nil || again.cacheKey(people) != lq.cacheKey(people) {
			t.Fatalf("%q: parsing is not deterministic", raw)
		}
		if _, err := parseOptions(filmsKind(), q); err != nil && api.ErrorCode(err) != api.CodeBadRequest {
			t.Fatalf("%q: film options: %v", raw, err)
		}
	})
}

func FuzzParseNumber(f *testing.F) {
	for _, seed := range []string{"172", "1,358", "78.2", "-1", "unknown", "1e3", "NaN", ",", "1,,2", "+.5"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseNumber(s)
		if !ok {
			return
		}
		if math.IsNaN(n) {
			t.Fatalf("%q reads as NaN", s)
		}
		want, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
		if (err != nil && !math.IsInf(want, 0)) || want != n {
			t.Fatalf("%q reads as %v; ParseFloat says %v, %v", s, n, want, err)
		}
		if strings.ContainsAny(s, "eExXnNiI_ ") {
			t.Fatalf("%q accepted", s)
		}
	})
}

func FuzzDecodeObject(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Luke","height":"172","films":["a","b"]}`,
		`{ "a" : { "b" : [ 1, 2 ] }, "c": null, "d": 1.5e3 }`,
		`{"a":1,"a":2}`, `{"\u00e9<>":"x"}`, `{}`, `[]`, `{"a":}`, `{"a":1} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := decodeObject(data)
		trimmed := bytes.TrimSpace(data)
		if err != nil {
			if json.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{' {
				t.Fatalf("%q: valid object refused: %v", data, err)
			}
			return
		}
		out := obj.appendJSON(nil, nil)
		if !json.Valid(out) {
			t.Fatalf("%q renders invalid JSON %q", data, out)
		}
		if !json.Valid(data) {
			return // trailing data after the object is not the decoder's business
		}
		var a, b any
		if json.Unmarshal(data, &a) != nil || json.Unmarshal(out, &b) != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q renders as different JSON %q", data, out)
		}
		for _, fl := range obj {
			obj.scalar(fl.name) // must not panic
		}
		if len(obj) > 0 {
			if got := obj.appendJSON(nil, []string{obj[0].name}); !json.Valid(got) {
				t.Fatalf("%q without %q renders invalid JSON %q", data, obj[0].name, got)
			}
		}
	})
}
