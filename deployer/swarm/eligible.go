package swarm

import "strings"

// eligible reports whether a service's placement constraints allow a
// node. Constraints it cannot judge (engine labels, platform) allow it:
// the worst an unjudged node costs is an image copied there in vain.
func eligible(constraints []string, n Node) bool {
	for _, c := range constraints {
		key, want, neg := "", "", false
		if k, v, ok := strings.Cut(c, "!="); ok {
			key, want, neg = k, v, true
		} else if k, v, ok := strings.Cut(c, "=="); ok {
			key, want = k, v
		} else {
			continue
		}
		key, want = strings.TrimSpace(key), strings.TrimSpace(want)
		var have string
		switch {
		case key == "node.role":
			have = n.Role
		case key == "node.hostname":
			have = n.Hostname
		case key == "node.id":
			have = n.ID
		case strings.HasPrefix(key, "node.labels."):
			have = n.Labels[strings.TrimPrefix(key, "node.labels.")]
		default:
			continue
		}
		if (have == want) == neg {
			return false
		}
	}
	return true
}

// mayRun lists the hostnames of the nodes a service may run on, with the
// stateful services' pins in place.
func mayRun(s Service, nodes []Node, pin *Pin) map[string]bool {
	out := map[string]bool{}
	for _, n := range nodes {
		if pin != nil && s.Stateful {
			if n.ID == pin.Node.ID {
				out[n.Hostname] = true
			}
			continue
		}
		if eligible(s.Constraints, n) {
			out[n.Hostname] = true
		}
	}
	return out
}
