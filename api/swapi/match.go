package swapi

import (
	"cmp"
	"math"
	"strconv"
	"strings"

	"github.com/fathat101/swdeploy/api"
)

type op uint8

const (
	opEq op = iota
	opLt
	opLte
	opGt
	opGte
	opIn
)

func parseOp(s string) (op, bool) {
	switch s {
	case "eq":
		return opEq, true
	case "lt":
		return opLt, true
	case "lte":
		return opLte, true
	case "gt":
		return opGt, true
	case "gte":
		return opGte, true
	case "in":
		return opIn, true
	}
	return 0, false
}

// value is a field or filter value with its numeric reading, if any.
type value struct {
	s   string
	n   float64
	num bool
}

func newValue(s string) value {
	n, ok := parseNumber(s)
	return value{s: s, n: n, num: ok}
}

// parseNumber reads SWAPI's numbers: an optional sign, digits that may be
// grouped with commas ("1,358"), and an optional fraction. Anything else
// ("unknown", "19BBY", "NaN", "1e3", "") is not a number, so that
// strconv.ParseFloat's wider syntax cannot let words like "Inf" through.
func parseNumber(s string) (float64, bool) {
	unsigned := strings.TrimLeft(s, "+-")
	if len(s)-len(unsigned) > 1 {
		return 0, false
	}
	whole, frac, hasFrac := strings.Cut(unsigned, ".")
	for group := range strings.SplitSeq(whole, ",") {
		if !allDigits(group) {
			return 0, false
		}
	}
	if hasFrac && !allDigits(frac) {
		return 0, false
	}
	n, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil && !math.IsInf(n, 0) { // out of range still orders correctly
		return 0, false
	}
	return n, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// filter is one validated field:op:value condition.
type filter struct {
	raw   string
	field string
	op    op
	want  []value // one value, or the alternatives of "in"
}

// parseFilter splits raw at its first two colons, so the value may hold
// colons itself.
func parseFilter(k *kind, raw string) (filter, error) {
	parts := strings.SplitN(raw, ":", 3)
	if len(parts) != 3 {
		return filter{}, api.BadParameter(paramFilters, "filter %q is not field:op:value", raw)
	}
	f := filter{raw: raw, field: parts[0]}
	if err := checkField(k, paramFilters, f.field); err != nil {
		return filter{}, err
	}
	var ok bool
	if f.op, ok = parseOp(parts[1]); !ok {
		return filter{}, api.BadParameter(paramFilters, "unknown filter op %q", parts[1])
	}
	switch f.op {
	case opIn:
		for _, s := range strings.Split(parts[2], ",") {
			f.want = append(f.want, newValue(s))
		}
	case opEq:
		f.want = []value{newValue(parts[2])}
	default:
		v := newValue(parts[2])
		if !v.num {
			return filter{}, api.BadParameter(paramFilters, "filter %q compares with a non-number", raw)
		}
		f.want = []value{v}
	}
	return f, nil
}

func (f filter) match(v value) bool {
	switch f.op {
	case opEq, opIn:
		for _, w := range f.want {
			if equal(v, w) {
				return true
			}
		}
		return false
	}
	if !v.num { // "unknown" is neither taller nor shorter than anything
		return false
	}
	w := f.want[0].n
	switch f.op {
	case opLt:
		return v.n < w
	case opLte:
		return v.n <= w
	case opGt:
		return v.n > w
	default:
		return v.n >= w
	}
}

func equal(a, b value) bool {
	if a.num && b.num {
		return a.n == b.n
	}
	return a.s == b.s
}

// compareValues orders numbers numerically before every other value, in
// both directions; the others compare as strings in the requested order.
func compareValues(a, b value, desc bool) int {
	switch {
	case a.num && b.num:
		if desc {
			return cmp.Compare(b.n, a.n)
		}
		return cmp.Compare(a.n, b.n)
	case a.num:
		return -1
	case b.num:
		return 1
	case desc:
		return strings.Compare(b.s, a.s)
	default:
		return strings.Compare(a.s, b.s)
	}
}
