package swapi

// kind describes one upstream resource as this API exposes it.
type kind struct {
	path     string              // upstream collection, e.g. "people"
	notFound string              // error code for an empty list
	scalars  map[string]bool     // fields that can be filtered and sorted on
	lists    map[string]bool     // list fields: never filtered or sorted on
	groups   map[string][]string // options[group] -> keys it removes
	order    []string            // group names in a fixed order (cache keys, bitmask)
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func newKind(path, notFound string, scalars, lists []string, order []string, groups map[string][]string) *kind {
	return &kind{path: path, notFound: notFound, scalars: set(scalars...), lists: set(lists...), groups: groups, order: order}
}

// The person and film vocabularies follow SWAPI's schema. They are built by
// functions rather than held in package variables so that no package-level
// state exists.
func peopleKind() *kind {
	return newKind("people", "characters-not-found",
		[]string{"name", "height", "mass", "hair_color", "skin_color", "eye_color",
			"birth_year", "gender", "homeworld", "created", "edited", "url"},
		[]string{"films", "species", "vehicles", "starships"},
		[]string{"attributes", "films", "starships", "vehicles"},
		map[string][]string{
			"attributes": {"height", "mass", "hair_color", "skin_color", "eye_color", "birth_year"},
			"films":      {"films"},
			"starships":  {"starships"},
			"vehicles":   {"vehicles"},
		})
}

func filmsKind() *kind {
	return newKind("films", "films-not-found",
		[]string{"title", "episode_id", "opening_crawl", "director", "producer",
			"release_date", "created", "edited", "url"},
		[]string{"characters", "planets", "starships", "vehicles", "species"},
		[]string{"characters", "planets", "species", "starships", "vehicles"},
		map[string][]string{
			"characters": {"characters"},
			"planets":    {"planets"},
			"species":    {"species"},
			"starships":  {"starships"},
			"vehicles":   {"vehicles"},
		})
}
