package stack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// validate holds the checks swdeploy needs beyond compose-go's schema: what
// it must know to deploy (an image or a build from a local directory, a
// restart policy the engine accepts, health checks it can wait on), what
// must exist for the plan to be ordered (depends_on targets, no cycle) and
// what would only fail half-way through an apply (an undefined network,
// volume or secret, two services publishing the same host port).
//
// compose-go checks some of these too, but names neither file nor line and
// reports whichever it meets first in a map; these run in name order and
// return the first problem, located.
func validate(p *types.Project, srcs []*source) *FileError {
	fail := func(field, hint, format string, args ...any) *FileError {
		return at(srcs, field, hint, true, fmt.Sprintf(format, args...), nil)
	}
	published := map[string]string{} // host ip/port/protocol -> service
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		svc := "services." + name
		if s.Image == "" && s.Build == nil && s.Provider == nil {
			return fail(svc, "", "needs an image or a build section")
		}
		if s.Build != nil && remoteContext(s.Build.Context) {
			return fail(svc+".build", "", "swdeploy builds from a local directory only, not %s", s.Build.Context)
		}
		if !validRestart(s.Restart) {
			return fail(svc+".restart", "", "unknown restart policy %q (want no, always, on-failure[:N] or unless-stopped)", s.Restart)
		}
		if h := s.HealthCheck; h != nil && len(h.Test) > 0 && !slices.Contains([]string{"CMD", "CMD-SHELL", "NONE"}, h.Test[0]) {
			return fail(svc+".healthcheck.test", "", "must start with CMD, CMD-SHELL or NONE, not %q", h.Test[0])
		}
		for _, dep := range sortedKeys(s.DependsOn) {
			if _, ok := p.Services[dep]; ok {
				continue
			}
			if d, off := p.DisabledServices[dep]; off {
				if !s.DependsOn[dep].Required {
					continue
				}
				return fail(svc+".depends_on."+dep, "", "depends on %q, which is in no enabled profile (it needs one of: %s)", dep, strings.Join(d.Profiles, ", "))
			}
			return fail(svc+".depends_on."+dep, "", "depends on undefined service %q", dep)
		}
		for _, n := range sortedKeys(s.Networks) {
			if _, ok := p.Networks[n]; !ok {
				return fail(svc+".networks."+n, "", "undefined network %q: declare it under networks:", n)
			}
		}
		for _, v := range s.Volumes {
			if _, ok := p.Volumes[v.Source]; v.Type == types.VolumeTypeVolume && v.Source != "" && !ok {
				return fail(svc+".volumes."+v.Source, "", "undefined volume %q: declare it under volumes:", v.Source)
			}
		}
		for _, r := range s.Secrets {
			if _, ok := p.Secrets[r.Source]; !ok {
				return fail(svc+".secrets."+r.Source, "", "undefined secret %q: declare it under secrets:", r.Source)
			}
		}
		for _, r := range s.Configs {
			if _, ok := p.Configs[r.Source]; !ok {
				return fail(svc+".configs."+r.Source, "", "undefined config %q: declare it under configs:", r.Source)
			}
		}
		for _, port := range s.Ports {
			if port.Published == "" {
				continue
			}
			key := port.HostIP + ":" + port.Published + "/" + port.Protocol
			if other, ok := published[key]; ok {
				return fail(svc+".ports."+anyItem, port.Published, "host port %s/%s is already published by service %q", port.Published, port.Protocol, other)
			}
			published[key] = name
		}
	}
	if cycle := dependencyCycle(p); cycle != nil {
		return fail("services."+cycle[0]+".depends_on."+cycle[1], "", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	for _, name := range sortedKeys(p.Secrets) {
		if s := p.Secrets[name]; !s.External && s.File == "" && s.Environment == "" && s.Content == "" {
			return fail("secrets."+name, "", "needs file: or environment:")
		}
	}
	return nil
}

// validRestart accepts the policies the engine knows.
func validRestart(r string) bool {
	switch r {
	case "", "no", "always", "unless-stopped", "on-failure":
		return true
	}
	n, ok := strings.CutPrefix(r, "on-failure:")
	if !ok {
		return false
	}
	i, err := strconv.Atoi(n)
	return err == nil && i >= 0
}

// dependencyCycle returns the first cycle in name order, as the path that
// closes it ("a", "b", "a"), or nil.
func dependencyCycle(p *types.Project) []string {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var stack []string
	var visit func(string) []string
	visit = func(name string) []string {
		switch state[name] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, name)
			return append(slices.Clone(stack[i:]), name)
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, dep := range sortedKeys(p.Services[name].DependsOn) {
			if _, ok := p.Services[dep]; !ok {
				continue
			}
			if c := visit(dep); c != nil {
				return c
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		return nil
	}
	for _, name := range sortedKeys(p.Services) {
		if c := visit(name); c != nil {
			return c
		}
	}
	return nil
}

// remoteContext reports a build context that is a URL or a git reference
// rather than a directory: compose-go leaves those unresolved.
func remoteContext(c string) bool {
	if strings.Contains(c, "://") || strings.HasPrefix(c, types.ServicePrefix) {
		return true
	}
	for _, prefix := range []string{"github.com/", "git@"} {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
