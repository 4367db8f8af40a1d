package swapi

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fathat101/swdeploy/api"
)

// Query parameter names, also the Parameter of a bad-request error.
const (
	paramMaxItems  = "max_items"
	paramBatchSize = "batch_size"
	paramSortBy    = "sort_by"
	paramSortOrder = "sort_order"
	paramFilters   = "filters"
	paramOptions   = "options"
)

const (
	defaultMaxItems  = 10
	minMaxItems      = 5
	defaultBatchSize = 10
	minBatchSize     = 10
)

// options is the set of groups turned off, a bitmask over kind.order.
type options uint32

// parseOptions reads options[<group>]=true|false. An unknown group or a
// value other than true or false (any case) is a bad request: silently
// ignoring a misspelt group would return keys the client asked to drop.
// When a group repeats, every value must be valid and the first one counts.
func parseOptions(k *kind, q url.Values) (options, error) {
	var off options
	for key, vals := range q {
		if key == paramOptions {
			return 0, api.BadParameter(paramOptions, "options needs a group: options[<group>]")
		}
		name, ok := strings.CutPrefix(key, paramOptions+"[")
		if !ok {
			continue
		}
		name, ok = strings.CutSuffix(name, "]")
		idx := slices.Index(k.order, name)
		if !ok || idx < 0 {
			return 0, api.BadParameter(paramOptions, "unknown option %q", key)
		}
		for i, v := range vals {
			include, err := parseBool(v)
			if err != nil {
				return 0, api.BadParameter(paramOptions, "%s=%q is not true or false", key, v)
			}
			if i == 0 && !include {
				off |= 1 << idx
			}
		}
	}
	return off, nil
}

func parseBool(s string) (bool, error) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, nil
	case strings.EqualFold(s, "false"):
		return false, nil
	}
	return false, strconv.ErrSyntax
}

// dropped lists the keys that the turned-off groups remove.
func (o options) dropped(k *kind) []string {
	if o == 0 {
		return nil
	}
	var keys []string
	for i, g := range k.order {
		if o&(1<<i) != 0 {
			keys = append(keys, k.groups[g]...)
		}
	}
	return keys
}

// listQuery is a validated /characters/v1/ query.
type listQuery struct {
	maxItems  int
	batchSize int // validated for compatibility; not used
	sortBy    string
	desc      bool
	filters   []filter
	opts      options
}

// parseListQuery validates every list parameter before anything is fetched.
// Parameters other than these are ignored; a repeated scalar parameter takes
// its first value.
func parseListQuery(k *kind, q url.Values) (listQuery, error) {
	lq := listQuery{maxItems: defaultMaxItems, batchSize: defaultBatchSize}
	var err error
	if lq.maxItems, err = intParam(q, paramMaxItems, defaultMaxItems, minMaxItems); err != nil {
		return lq, err
	}
	if lq.batchSize, err = intParam(q, paramBatchSize, defaultBatchSize, minBatchSize); err != nil {
		return lq, err
	}
	if vals, ok := q[paramSortBy]; ok {
		lq.sortBy = vals[0]
		if err := checkField(k, paramSortBy, lq.sortBy); err != nil {
			return lq, err
		}
	}
	if vals, ok := q[paramSortOrder]; ok {
		switch vals[0] {
		case "asc":
		case "desc":
			lq.desc = true
		default:
			return lq, api.BadParameter(paramSortOrder, "sort_order %q is not asc or desc", vals[0])
		}
	}
	for _, raw := range q[paramFilters] {
		f, err := parseFilter(k, raw)
		if err != nil {
			return lq, err
		}
		lq.filters = append(lq.filters, f)
	}
	if lq.opts, err = parseOptions(k, q); err != nil {
		return lq, err
	}
	return lq, nil
}

func intParam(q url.Values, name string, def, minimum int) (int, error) {
	vals, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil {
		return 0, api.BadParameter(name, "%s %q is not an integer", name, vals[0])
	}
	if n < minimum {
		return 0, api.BadParameter(name, "%s %d is below the minimum %d", name, n, minimum)
	}
	return n, nil
}

func checkField(k *kind, param, field string) error {
	switch {
	case k.scalars[field]:
		return nil
	case k.lists[field]:
		return api.BadParameter(param, "%q is a list field", field)
	default:
		return api.BadParameter(param, "unknown field %q", field)
	}
}

// needsAll tells whether the answer depends on the whole collection.
func (lq listQuery) needsAll() bool {
	return lq.sortBy != "" || len(lq.filters) > 0
}

// cacheKey normalises the query: equal keys give equal answers. Filters are
// sorted (they all must hold, so their order does not matter) and quoted so
// that no value can forge a separator; batch_size does not change the
// answer and is left out.
func (lq listQuery) cacheKey(k *kind) string {
	var b strings.Builder
	b.WriteString(k.path)
	b.WriteString("|n=")
	b.WriteString(strconv.Itoa(lq.maxItems))
	b.WriteString("|o=")
	b.WriteString(strconv.FormatUint(uint64(lq.opts), 10))
	if lq.sortBy != "" {
		b.WriteString("|s=")
		b.WriteString(lq.sortBy)
		if lq.desc {
			b.WriteString("|desc")
		}
	}
	raws := make([]string, len(lq.filters))
	for i, f := range lq.filters {
		raws[i] = f.raw
	}
	slices.Sort(raws)
	raws = slices.Compact(raws)
	for _, r := range raws {
		b.WriteString("|f=")
		b.WriteString(strconv.Quote(r))
	}
	return b.String()
}
