package swapi

import (
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/fathat101/swdeploy/api"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"172", 172, true},
		{"1,358", 1358, true},
		{"1,000,000", 1e6, true},
		{"78.2", 78.2, true},
		{"-5", -5, true},
		{"+5", 5, true},
		{"0", 0, true},
		{"unknown", 0, false},
		{"n/a", 0, false},
		{"19BBY", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{".5", 0, false},
		{"5.", 0, false},
		{"1,", 0, false},
		{",1", 0, false},
		{"1,,2", 0, false},
		{"1.2,3", 0, false},
		{"--1", 0, false},
		{"1e3", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"0x10", 0, false},
		{" 1", 0, false},
		{"1_000", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseNumber(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseNumber(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if n, ok := parseNumber(strings.Repeat("9", 400)); !ok || !math.IsInf(n, 1) {
		t.Errorf("a huge number should still compare as a number: %v %v", n, ok)
	}
}

func TestFilterMatch(t *testing.T) {
	k := peopleKind()
	tests := []struct {
		filter string
		value  string
		want   bool
	}{
		{"height:gte:180", "180", true},
		{"height:gte:180", "179", false},
		{"height:gte:180", "unknown", false},
		{"height:lt:180", "unknown", false},
		{"height:lte:180", "180.0", true},
		{"height:gt:180", "1,358", true},
		{"mass:lt:1,400", "1,358", true},
		{"height:eq:180", "180.00", true},
		{"height:eq:unknown", "unknown", true},
		{"name:eq:Luke", "luke", false},
		{"name:eq:", "", true},
		{"url:eq:http://x/1/", "http://x/1/", true},
		{"hair_color:in:blond,brown", "brown", true},
		{"hair_color:in:blond,brown", "blond, brown", false},
		{"hair_color:eq:blond, brown", "blond, brown", true},
		{"height:in:172,96", "96.0", true},
		{"gender:in:male", "female", false},
	}
	for _, tt := range tests {
		f, err := parseFilter(k, tt.filter)
		if err != nil {
			t.Errorf("%s: %v", tt.filter, err)
			continue
		}
		if got := f.match(newValue(tt.value)); got != tt.want {
			t.Errorf("%s on %q = %v, want %v", tt.filter, tt.value, got, tt.want)
		}
	}
}

func TestParseListQuery(t *testing.T) {
	k := peopleKind()
	tests := []struct {
		query     string
		parameter string // "" when valid
		check     func(listQuery) bool
	}{
		{"", "", func(q listQuery) bool { return q.maxItems == 10 && q.batchSize == 10 && !q.desc && !q.needsAll() }},
		{"max_items=5", "", func(q listQuery) bool { return q.maxItems == 5 }},
		{"max_items=5&max_items=3", "", func(q listQuery) bool { return q.maxItems == 5 }},
		{"max_items=4", "max_items", nil},
		{"max_items=", "max_items", nil},
		{"max_items=1.5", "max_items", nil},
		{"max_items=99999999999999999999", "max_items", nil},
		{"batch_size=10", "", func(q listQuery) bool { return q.batchSize == 10 }},
		{"batch_size=9", "batch_size", nil},
		{"batch_size=x", "batch_size", nil},
		{"sort_by=height", "", func(q listQuery) bool { return q.sortBy == "height" && q.needsAll() }},
		{"sort_by=height&sort_order=desc", "", func(q listQuery) bool { return q.desc }},
		{"sort_order=desc", "", func(q listQuery) bool { return q.desc && !q.needsAll() }},
		{"sort_order=DESC", "sort_order", nil},
		{"sort_order=", "sort_order", nil},
		{"sort_by=", "sort_by", nil},
		{"sort_by=vehicles", "sort_by", nil},
		{"sort_by=Height", "sort_by", nil},
		{"filters=name:eq:a:b:c", "", func(q listQuery) bool { return q.filters[0].want[0].s == "a:b:c" }},
		{"filters=height:gte:1,000", "", func(q listQuery) bool { return q.filters[0].want[0].n == 1000 }},
		{"filters=height:in:1,000", "", func(q listQuery) bool { return len(q.filters[0].want) == 2 }},
		{"filters=height:gte:", "filters", nil},
		{"filters=height::1", "filters", nil},
		{"filters=:eq:1", "filters", nil},
		{"filters=height:EQ:1", "filters", nil},
		{"filters=starships:in:x", "filters", nil},
		{"filters=height:lt:unknown", "filters", nil},
		{"filters=name:eq:x&filters=bad", "filters", nil},
		{"options[attributes]=false", "", func(q listQuery) bool { return q.opts == 1 }},
		{"options[films]=false&options[vehicles]=False", "", func(q listQuery) bool { return q.opts == 2|8 }},
		{"options[films]=true", "", func(q listQuery) bool { return q.opts == 0 }},
		{"options[films]=0", "options", nil},
		{"options[characters]=false", "options", nil},
		{"options[films=false", "options", nil},
		{"options=false", "options", nil},
		{"optionsfoo=1&other=2", "", func(q listQuery) bool { return q.opts == 0 }},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		lq, err := parseListQuery(k, q)
		if tt.parameter != "" {
			e, ok := err.(*api.Error)
			if !ok || e.Code != api.CodeBadRequest || e.Parameter != tt.parameter {
				t.Errorf("%q: got %v, want bad-request (%s)", tt.query, err, tt.parameter)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.query, err)
			continue
		}
		if !tt.check(lq) {
			t.Errorf("%q: unexpected %+v", tt.query, lq)
		}
	}
}

func TestCacheKey(t *testing.T) {
	k := peopleKind()
	key := func(raw string) string {
		q, _ := url.ParseQuery(raw)
		lq, err := parseListQuery(k, q)
		if err != nil {
			t.Fatal(err)
		}
		return lq.cacheKey(k)
	}
	same := [][2]string{
		{"", "max_items=10&batch_size=30&sort_order=asc"},
		{"filters=name:eq:1&filters=mass:eq:2", "filters=mass:eq:2&filters=name:eq:1"},
		{"filters=name:eq:x", "filters=name:eq:x&filters=name:eq:x"},
		{"options[films]=false&options[vehicles]=false", "options[vehicles]=false&options[films]=false&options[starships]=true"},
		{"sort_order=desc", ""}, // no sort: the order does not matter
	}
	for _, p := range same {
		if a, b := key(p[0]), key(p[1]); a != b {
			t.Errorf("%q and %q: %s != %s", p[0], p[1], a, b)
		}
	}
	differ := [][2]string{
		{"max_items=10", "max_items=11"},
		{"sort_by=name", "sort_by=name&sort_order=desc"},
		{"filters=name:eq:a|f=\"b\"", "filters=name:eq:a&filters=name:eq:b"},
		{"options[films]=false", "options[vehicles]=false"},
	}
	for _, p := range differ {
		if a, b := key(p[0]), key(p[1]); a == b {
			t.Errorf("%q and %q share the key %s", p[0], p[1], a)
		}
	}
}

func TestCompareValues(t *testing.T) {
	in := []string{"b", "10", "unknown", "9", "1,358", "a", "78.2"}
	sortWith := func(desc bool) []string {
		vs := make([]value, len(in))
		for i, s := range in {
			vs[i] = newValue(s)
		}
		for i := range vs { // insertion sort keeps the test independent of slices
			for j := i; j > 0 && compareValues(vs[j-1], vs[j], desc) > 0; j-- {
				vs[j-1], vs[j] = vs[j], vs[j-1]
			}
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = v.s
		}
		return out
	}
	if got, want := sortWith(false), []string{"9", "10", "78.2", "1,358", "a", "b", "unknown"}; !equalStrings(got, want) {
		t.Errorf("asc: %q, want %q", got, want)
	}
	if got, want := sortWith(true), []string{"1,358", "78.2", "10", "9", "unknown", "b", "a"}; !equalStrings(got, want) {
		t.Errorf("desc: %q, want %q", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFetchPlan(t *testing.T) {
	tests := []struct {
		name                   string
		want, known, spec, max int
		first                  int
	}{
		{"cold 82", 82, 0, 10, 100, 9},
		{"cold 10", 10, 0, 10, 100, 1},
		{"cold 5", 5, 0, 10, 100, 1},
		{"cold all", all, 0, 10, 100, 1},
		{"cold too many to guess", 500, 0, 10, 100, 1},
		{"known all", all, 82, 10, 100, 9},
		{"known 500", 500, 82, 10, 100, 9},
		{"known 25", 25, 82, 10, 100, 3},
		{"known empty", all, 0, 10, 100, 1},
		{"capped", all, 5000, 10, 100, 100},
	}
	for _, tt := range tests {
		if got := firstRound(tt.want, tt.known, tt.spec, tt.max); got != tt.first {
			t.Errorf("%s: firstRound = %d, want %d", tt.name, got, tt.first)
		}
	}
	for _, tt := range []struct{ count, want, pages int }{
		{82, all, 9}, {82, 5, 1}, {82, 82, 9}, {82, 1000, 9}, {0, all, 0}, {10, all, 1}, {11, 10, 1},
	} {
		if got := pagesFor(tt.count, tt.want); got != tt.pages {
			t.Errorf("pagesFor(%d, %d) = %d, want %d", tt.count, tt.want, got, tt.pages)
		}
	}
}
