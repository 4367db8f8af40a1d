package bench

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"
)

// stackFiles is the stack as `docker stack deploy` can take it: Main is
// stack/compose.yaml rewritten for the version 3 schema its loader reads,
// Override what a swarm of these nodes needs on top, and Changes names
// every difference from what swdeploy deploys, one sentence each.
type stackFiles struct {
	Main, Override []byte
	Changes        []string
}

// dockerStackFiles rewrites main and writes the override for main and the
// other files (their services get DNS round robin too).
func dockerStackFiles(main []byte, others ...[]byte) (stackFiles, error) {
	var sf stackFiles
	var doc yaml.Node
	if err := yaml.Unmarshal(main, &doc); err != nil {
		return sf, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return sf, errors.New("the Compose file is not a mapping")
	}
	root := doc.Content[0]
	if v := mapDelete(root, "name"); v != nil {
		sf.Changes = append(sf.Changes, fmt.Sprintf("top-level `name: %s` removed: the version 3 schema that `docker stack deploy` reads does not allow it (the stack's name is its argument)", v.Value))
	}
	services := mapGet(root, "services")
	if services == nil || services.Kind != yaml.MappingNode {
		return sf, errors.New("the Compose file has no services")
	}
	var deps []string
	for i := 0; i+1 < len(services.Content); {
		name, svc := services.Content[i].Value, services.Content[i+1]
		if p := mapGet(svc, "profiles"); p != nil {
			services.Content = append(services.Content[:i], services.Content[i+2:]...)
			sf.Changes = append(sf.Changes, fmt.Sprintf("service %s removed: its `profiles:` key is not allowed by the version 3 schema (no profile is enabled, so no tool deploys it anyway)", name))
			continue
		}
		if d := mapGet(svc, "depends_on"); d != nil && d.Kind == yaml.MappingNode {
			var list, conds []string
			for j := 0; j+1 < len(d.Content); j += 2 {
				dep := d.Content[j].Value
				list = append(list, dep)
				if c := mapGet(d.Content[j+1], "condition"); c != nil {
					dep += ": " + c.Value
				}
				conds = append(conds, dep)
			}
			seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, dep := range list {
				seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: dep})
			}
			*d = *seq
			deps = append(deps, fmt.Sprintf("%s (%s)", name, strings.Join(conds, ", ")))
		}
		i += 2
	}
	if len(deps) > 0 {
		sf.Changes = append(sf.Changes, "depends_on of "+strings.Join(deps, ", ")+" made a plain list: the version 3 schema takes no conditions. `docker stack deploy` ignores depends_on altogether: every service starts at once, and one that needs another restarts until it is there")
	}
	out, err := marshalIndent2(&doc)
	if err != nil {
		return sf, err
	}
	sf.Main = out

	override, changes, err := swarmOverride(append([][]byte{out}, others...))
	if err != nil {
		return sf, err
	}
	sf.Override, sf.Changes = override, append(sf.Changes, changes...)
	return sf, nil
}

// swarmOverride gives every service of the files DNS round robin and
// publishes every port in host mode, the publishing services placed on the
// managers: with no IPVS in these kernels a service cannot have a virtual
// IP, and without one there is no ingress routing mesh.
func swarmOverride(files [][]byte) ([]byte, []string, error) {
	type port struct {
		Target    int    `yaml:"target"`
		Published string `yaml:"published"`
		Protocol  string `yaml:"protocol"`
		Mode      string `yaml:"mode"`
	}
	services := map[string]map[string]any{}
	var published []string
	for _, f := range files {
		var doc struct {
			Services map[string]struct {
				Ports  []any `yaml:"ports"`
				Deploy struct {
					Placement struct {
						Constraints []string `yaml:"constraints"`
					} `yaml:"placement"`
				} `yaml:"deploy"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(f, &doc); err != nil {
			return nil, nil, err
		}
		for name, svc := range doc.Services {
			o := services[name]
			if o == nil {
				o = map[string]any{"deploy": map[string]any{"endpoint_mode": "dnsrr"}}
				services[name] = o
			}
			var ports []port
			for _, p := range svc.Ports {
				s, ok := p.(string)
				if !ok {
					return nil, nil, fmt.Errorf("service %s: only the short port syntax is rewritten, not %v", name, p)
				}
				pub, target, proto, err := splitPort(s)
				if err != nil {
					return nil, nil, fmt.Errorf("service %s: %w", name, err)
				}
				ports = append(ports, port{Target: target, Published: pub, Protocol: proto, Mode: "host"})
				published = append(published, fmt.Sprintf("%s (`%s`)", name, s))
			}
			if len(ports) > 0 {
				o["ports"] = ports
				if len(svc.Deploy.Placement.Constraints) == 0 {
					o["deploy"].(map[string]any)["placement"] = map[string]any{"constraints": []string{"node.role == manager"}}
				}
			}
		}
	}
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	body, err := marshalIndent2(map[string]any{"services": services})
	if err != nil {
		return nil, nil, err
	}
	head := "# Written by swbench for `docker stack deploy` on a swarm whose kernels\n# have no IPVS: DNS round robin, and host-mode ports on the managers.\n"
	changes := []string{
		"every service (" + strings.Join(names, ", ") + "): `deploy.endpoint_mode: dnsrr`: the default virtual IP needs IPVS, which these kernels lack (swdeploy makes every swarm service dnsrr)",
	}
	if len(published) > 0 {
		sort.Strings(published)
		changes = append(changes, "the published port of "+strings.Join(published, ", ")+" in host mode, the long syntax, with `placement.constraints: [node.role == manager]` so that it is on the manager's address: the ingress routing mesh needs a virtual IP (swdeploy does the same)")
	}
	return append([]byte(head), body...), changes, nil
}

// splitPort reads the short syntax [HOST:]CONTAINER[/PROTOCOL], whose host
// part may be a ${VARIABLE:-default}.
func splitPort(s string) (published string, target int, proto string, err error) {
	proto = "tcp"
	if i := strings.LastIndex(s, "/"); i > strings.LastIndex(s, "}") {
		s, proto = s[:i], s[i+1:]
	}
	i := strings.LastIndex(s, ":")
	if i < 0 || i < strings.LastIndex(s, "}") {
		return "", 0, "", fmt.Errorf("port %q publishes no host port", s)
	}
	published = s[:i]
	if _, err := fmt.Sscanf(s[i+1:], "%d", &target); err != nil || fmt.Sprint(target) != s[i+1:] {
		return "", 0, "", fmt.Errorf("port %q: container port %q is not a number", s, s[i+1:])
	}
	if strings.Contains(published, ":") && !strings.HasPrefix(published, "${") {
		return "", 0, "", fmt.Errorf("port %q: a host address is not rewritten", s)
	}
	return published, target, proto, nil
}

// mapGet is the value of key in a mapping node, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// mapDelete removes key from a mapping node and returns its value.
func mapDelete(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return v
		}
	}
	return nil
}

// marshalIndent2 writes YAML indented as the project's Compose files are.
func marshalIndent2(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
