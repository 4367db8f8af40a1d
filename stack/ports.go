package stack

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

// badPort finds the port that compose-go failed to parse: its error ("Invalid
// containerPort: abc") names neither the service nor the file. Each short
// syntax entry under services.*.ports is interpolated and parsed the way
// compose-go does, in file order (compose-go parses ports file by file).
func badPort(srcs []*source, env map[string]string) *FileError {
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, src := range srcs {
		for _, doc := range src.docs {
			services := child(root(doc), "services")
			if services == nil || services.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(services.Content); i += 2 {
				name := services.Content[i].Value
				ports := child(resolve(services.Content[i+1]), "ports")
				if ports == nil || ports.Kind != yaml.SequenceNode {
					continue
				}
				for j, item := range ports.Content {
					item = resolve(item)
					if item == nil || item.Kind != yaml.ScalarNode {
						continue
					}
					value, err := template.Substitute(item.Value, lookup)
					if err != nil {
						continue // an interpolation error is reported as such
					}
					if _, err := types.ParsePortConfig(value); err != nil {
						return &FileError{
							File: src.display, Line: item.Line,
							Field: "services." + name + ".ports." + strconv.Itoa(j),
							Msg:   fmt.Sprintf("invalid port %q: %s", value, lowerFirst(err.Error())),
							Err:   err,
						}
					}
				}
			}
		}
	}
	return nil
}

func root(doc *yaml.Node) *yaml.Node {
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return resolve(doc.Content[0])
	}
	return resolve(doc)
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	return n
}

// child returns the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
