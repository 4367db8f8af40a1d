package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// source is one Compose file as handed to compose-go, kept with its parsed
// YAML documents so that errors compose-go reports by field path can be
// pinned to a line.
type source struct {
	path    string // absolute path given to compose-go (under BuiltinRoot for the built-in file)
	display string // the name shown to the user
	content []byte
	docs    []*yaml.Node // one per YAML document, in file order
}

// parse decodes the file's documents the way compose-go does (same YAML
// library, same multi-document loop), so a file that passes here fails in
// compose-go only for reasons compose-go can name by field.
func (s *source) parse() error {
	dec := yaml.NewDecoder(bytes.NewReader(s.content))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.syntaxError(err)
		}
		if alias := selfAlias(&doc, map[*yaml.Node]bool{}); alias != nil {
			return &FileError{File: s.display, Line: alias.Line, Msg: fmt.Sprintf("invalid YAML: alias *%s is inside the node it stands for", alias.Value)}
		}
		s.docs = append(s.docs, &doc)
	}
}

// selfAlias finds an alias to one of its own ancestors. compose-go rejects
// such a file too, but only after a walk that takes seconds; this takes one
// pass. Anchors come before their aliases in YAML, so no other cycle exists.
func selfAlias(n *yaml.Node, ancestors map[*yaml.Node]bool) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		if ancestors[n.Alias] {
			return n
		}
		return nil
	}
	ancestors[n] = true
	defer delete(ancestors, n)
	for _, c := range n.Content {
		if a := selfAlias(c, ancestors); a != nil {
			return a
		}
	}
	return nil
}

// yamlMarks splits go.yaml.in/yaml/v4's error text
// "yaml: [CONTEXT at MARK: ][MARK: ]PROBLEM" where MARK is "line N[, column M]".
// A mark on the parser's 0-based line 0 prints as "<unknown position>".
var yamlMarks = regexp.MustCompile(`(?s)^yaml: (?:(.*?) at (?:line (\d+)(?:, column \d+)?|(<unknown position>)): )?(?:(?:line (\d+)(?:, column \d+)?|(<unknown position>)): )?(.*)$`)

// syntaxError turns a YAML parse error into a FileError with the line of
// the problem and, where the parser gave one, the construct it was in.
func (s *source) syntaxError(err error) *FileError {
	fe := &FileError{File: s.display, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
	var le *yaml.LoadErrors
	if errors.As(err, &le) && len(le.Errors) > 0 {
		return constructError(s, le.Errors[0], err)
	}
	m := yamlMarks.FindStringSubmatch(err.Error())
	if m == nil {
		return fe
	}
	// v4.0.0-rc.4 numbers lines from 0 in the parser's own errors (a value
	// of type libyaml.ParserError) and from 1 everywhere else: the scanner's
	// errors and the composer's (a *libyaml.ParserError).
	// TestSyntaxErrorLines pins this, so a fixed library fails that test.
	parser := fmt.Sprintf("%T", err) == "libyaml.ParserError"
	mark := func(line, unknown string) int {
		switch {
		case parser && unknown != "":
			return 1
		case parser && line != "":
			return atoi(line) + 1
		}
		return atoi(line) // 0 when unknown
	}
	context, contextLine, problem := m[1], mark(m[2], m[3]), m[6]
	fe.Line = mark(m[4], m[5])
	if fe.Line == 0 && m[4] == "" && m[5] == "" {
		fe.Line = contextLine // one mark is printed when both are the same
	}
	fe.Msg = "invalid YAML: " + problem
	if context != "" && contextLine > 0 && contextLine != fe.Line {
		fe.Msg += fmt.Sprintf(" (%s at line %d)", context, contextLine)
	}
	return fe
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
