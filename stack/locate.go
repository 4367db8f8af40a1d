package stack

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// anyItem in a field path stands for "some element of this sequence":
// compose-go's interpolation errors say "ports.[]" without an index.
const anyItem = "[]"

// match is where a field path led in one file.
type match struct {
	src      *source
	line     int
	segments []string // the part of the path that was found, with concrete indexes
	full     bool     // the whole path was found
	hinted   bool     // the node found contains the hint
}

// locate finds the line of a dotted field path (as compose-go prints it) in
// the files. Keys may themselves contain dots (labels do), so the path is
// matched against the keys that exist rather than split blindly.
//
// A whole match beats a partial one, then a match whose node contains hint
// (the offending value, when the error names it), then file order: lastFirst
// for errors found after the files were merged (a later file overrides),
// else first file first. With no whole match, the deepest partial one is
// used, so an error still points at its service.
func locate(srcs []*source, field, hint string, lastFirst bool) match {
	var best match
	for i := range srcs {
		src := srcs[i]
		if lastFirst {
			src = srcs[len(srcs)-1-i]
		}
		for j := len(src.docs) - 1; j >= 0; j-- {
			m := walk(src.docs[j], field, hint)
			m.src = src
			if better(m, best) {
				best = m
			}
		}
	}
	return best
}

func better(a, b match) bool {
	switch {
	case a.line == 0:
		return false
	case b.line == 0:
		return true
	case a.full != b.full:
		return a.full
	case a.full:
		return a.hinted && !b.hinted
	}
	return len(a.segments) > len(b.segments)
}

// maxVisits bounds one walk: a hostile file can make aliases and merge keys
// fan out far beyond its size.
const maxVisits = 100000

type walker struct {
	hint   string
	visits int
}

// walk follows rest from node n; line is that of the key or item that led to n.
func walk(n *yaml.Node, rest, hint string) match {
	w := &walker{hint: hint}
	return w.walk(n, rest, nil, 0)
}

func (w *walker) walk(n *yaml.Node, rest string, segs []string, line int) match {
	if w.visits++; w.visits > maxVisits {
		return match{}
	}
	for n != nil && (n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			n = nil
		}
	}
	best := match{line: line, segments: segs, full: rest == ""}
	if n == nil || rest == "" {
		best.hinted = best.full && w.hint != "" && contains(n, w.hint, 0)
		return best
	}
	try := func(child *yaml.Node, tail string, at int, seg ...string) {
		m := w.walk(child, tail, append(segs[:len(segs):len(segs)], seg...), at)
		if better(m, best) {
			best = m
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key: the merged mappings' keys count as ours
				try(v, rest, line)
			} else if tail, ok := cutKey(rest, k.Value); ok {
				try(v, tail, k.Line, k.Value)
			}
		}
	case yaml.SequenceNode:
		seg, tail, _ := strings.Cut(rest, ".")
		for i, item := range n.Content {
			if seg == anyItem || seg == strconv.Itoa(i) || names(item, seg) {
				try(item, tail, item.Line, strconv.Itoa(i))
			}
		}
	}
	return best
}

// cutKey reports whether path starts with key as a whole segment, and what follows.
func cutKey(path, key string) (string, bool) {
	if key == "" || !strings.HasPrefix(path, key) {
		return "", false
	}
	switch rest := path[len(key):]; {
	case rest == "":
		return "", true
	case rest[0] == '.':
		return rest[1:], true
	}
	return "", false
}

// names reports whether a list item is the one called name: "db" in
// depends_on: [db], "data:/var/lib" in volumes, {source: name} in secrets.
func names(item *yaml.Node, name string) bool {
	if item.Kind == yaml.AliasNode {
		item = item.Alias
	}
	switch {
	case item == nil:
		return false
	case item.Kind == yaml.ScalarNode:
		return item.Value == name || strings.HasPrefix(item.Value, name+":")
	case item.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(item.Content); i += 2 {
			if item.Content[i].Value == "source" && item.Content[i+1].Value == name {
				return true
			}
		}
	}
	return false
}

// contains reports whether a scalar under n contains s (depth-limited: a
// hostile file may alias itself in loops).
func contains(n *yaml.Node, s string, depth int) bool {
	if n == nil || depth > 32 {
		return false
	}
	if n.Kind == yaml.AliasNode {
		return contains(n.Alias, s, depth+1)
	}
	if n.Kind == yaml.ScalarNode {
		return strings.Contains(n.Value, s)
	}
	for _, c := range n.Content {
		if contains(c, s, depth+1) {
			return true
		}
	}
	return false
}
