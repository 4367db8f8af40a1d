package deployer

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Options change how a plan is made.
type Options struct {
	// RemoveOrphans removes containers of services no longer in the file.
	RemoveOrphans bool
	// Pull overrides every pulled service's pull_policy: missing, always or
	// never. Empty keeps the file's policy.
	Pull string
	// ForceRecreate recreates every container even when nothing changed.
	ForceRecreate bool
}

// reconcile compares the desired with the observed state and returns the
// actions that make the engine match the file. It is a pure function: the
// same inputs give the same plan, so tests can compare whole plans as text.
func reconcile(d *Desired, o *Observed, secrets map[string]ResolvedSecret, opts Options) *Plan {
	r := reconciler{d: d, o: o, secrets: secrets, opts: opts, plan: &Plan{Project: d.Project.Name, Target: TargetEngine, desired: d, observed: o, secrets: secrets}}
	r.stateActions()
	r.secretActions()
	r.imageActions()
	r.networkActions()
	r.volumeActions()
	r.containerActions()
	r.orphanActions()
	r.plan.Problems = append(r.plan.Problems, bindMountProblems(d, o.Engine)...)
	return r.plan
}

type reconciler struct {
	d       *Desired
	o       *Observed
	secrets map[string]ResolvedSecret
	opts    Options
	plan    *Plan
	// byService maps a service to the id of its container action, if any.
	byService map[string]Action
}

func (r *reconciler) add(a Action) { r.plan.Actions = append(r.plan.Actions, a) }

func (r *reconciler) has(id string) bool {
	_, ok := r.plan.Action(id)
	return ok
}

func (r *reconciler) problem(format string, args ...any) {
	r.plan.Problems = append(r.plan.Problems, fmt.Sprintf(format, args...))
}

func (r *reconciler) warn(format string, args ...any) {
	r.plan.Warnings = append(r.plan.Warnings, fmt.Sprintf(format, args...))
}

// stateActions creates the state holder when the stack has secrets to keep
// and the holder is missing.
func (r *reconciler) stateActions() {
	if len(r.d.Secrets) == 0 || r.o.State.HolderID != "" {
		return
	}
	project := r.d.Project.Name
	reason := "missing: it keeps the generated secrets"
	if r.o.State.Volume {
		reason = "missing: it reads the secrets kept in " + keeperVolume(project)
		r.warn("the secrets kept in volume %s are read once up recreates %s; until then this plan treats them as not kept", keeperVolume(project), StateHolderName(project))
	}
	r.add(Action{ID: stateActionID, Op: OpCreate, Kind: KindContainer, Name: StateHolderName(project), Reason: reason})
}

func (r *reconciler) secretActions() {
	var needs []string
	if r.has(stateActionID) {
		needs = []string{stateActionID}
	}
	for _, s := range r.d.Secrets {
		res := r.secrets[s.Key]
		switch res.Op {
		case OpGenerate:
			reason := "not provided, not kept"
			if res.Source != "generated" {
				reason = "kept from " + res.Source
			}
			r.add(Action{ID: "secret:" + s.Key, Op: OpGenerate, Kind: KindSecret, Name: s.Key, Reason: reason, Needs: needs})
		case OpUpdate:
			reason := "value from " + res.Source + " differs from the kept one"
			if res.Source == "rotated" {
				reason = "rotated: a new random value"
			}
			r.add(Action{ID: "secret:" + s.Key, Op: OpUpdate, Kind: KindSecret, Name: s.Key, Reason: reason, Needs: needs})
			r.warnStateful(s.Key)
		}
	}
}

// warnStateful warns when a changed secret reaches a service that keeps
// data in a volume: such a service (MySQL) may read it only when it
// initialises its data, so the new value would not take effect there.
func (r *reconciler) warnStateful(secret string) {
	for _, svc := range r.d.Services {
		uses := false
		for _, ref := range svc.Config.Secrets {
			uses = uses || ref.Source == secret
		}
		for _, v := range svc.Config.Volumes {
			if uses && v.Type == "volume" && v.Source != "" {
				r.warn("secret %s changes for service %s, which keeps data in volume %s: if %s reads it only when it initialises that data (as MySQL does), change it inside %s too", secret, svc.Name, v.Source, svc.Name, svc.Name)
				break
			}
		}
	}
}

func imageID(ref string) string { return "image:" + ref }

func (r *reconciler) imageActions() {
	for _, svc := range r.d.Services {
		id := imageID(svc.Image)
		if r.has(id) {
			continue
		}
		obs, present := r.o.Images[svc.Image]
		if svc.Build != nil {
			var reason string
			switch {
			case svc.Config.PullPolicy == "build":
				reason = "pull_policy: build"
			case !present:
				reason = "missing"
			case obs.BuildDigest == "":
				reason = "image was not built by swdeploy"
			case obs.BuildDigest != svc.Build.Digest:
				reason = "build context changed"
			}
			if reason != "" {
				r.add(Action{ID: id, Op: OpBuild, Kind: KindImage, Name: svc.Image, Service: svc.Name, Reason: reason})
			}
			continue
		}
		policy := r.opts.Pull
		if policy == "" {
			policy = svc.Config.PullPolicy
		}
		switch policy {
		case "always":
			r.add(Action{ID: id, Op: OpPull, Kind: KindImage, Name: svc.Image, Service: svc.Name, Reason: "pull policy: always"})
		case "never":
			if !present {
				r.problem("image %s of service %s is not on the engine and the pull policy is never", svc.Image, svc.Name)
			}
		default: // missing, if_not_present, or unset
			if !present {
				r.add(Action{ID: id, Op: OpPull, Kind: KindImage, Name: svc.Image, Service: svc.Name, Reason: "missing"})
			}
		}
	}
}

func (r *reconciler) networkActions() {
	for _, n := range r.d.Networks {
		if bool(n.Config.External) {
			continue
		}
		obs, ok := r.o.Networks[n.Name]
		if !ok {
			r.add(Action{ID: "network:" + n.Key, Op: OpCreate, Kind: KindNetwork, Name: n.Name, Reason: "missing"})
			if n.Config.Internal && !r.o.Engine.IsolatedGateway() {
				r.warn("network %s: engine API %s has no isolated gateway mode; the host's address on this network is removed instead (inhibit_ipv4)", n.Name, r.o.Engine.APIVersion)
			}
			continue
		}
		if obs.Hash != "" && obs.Hash != n.Hash {
			r.problem("network %s differs from the file; run `swdeploy down` and `up` again to recreate it", n.Name)
		}
		if obs.Hash == "" {
			r.warn("network %s was not created by swdeploy; it is used as it is", n.Name)
		}
	}
}

func (r *reconciler) volumeActions() {
	for _, v := range r.d.Volumes {
		if bool(v.Config.External) {
			continue
		}
		if _, ok := r.o.Volumes[v.Name]; !ok {
			r.add(Action{ID: "volume:" + v.Key, Op: OpCreate, Kind: KindVolume, Name: v.Name, Reason: "missing"})
		}
	}
}

// effectiveParts is a service's config parts plus its secrets' versions,
// so that a changed secret value recreates the containers using it.
func effectiveParts(svc *Service, secrets map[string]ResolvedSecret) map[string]string {
	parts := maps.Clone(svc.Parts)
	if parts == nil {
		parts = map[string]string{}
	}
	if len(svc.Config.Secrets) > 0 {
		var versions []string
		for _, ref := range svc.Config.Secrets {
			versions = append(versions, ref.Source+"="+secrets[ref.Source].Version)
		}
		slices.Sort(versions)
		parts["secret-values"] = shortDigest([]byte(strings.Join(versions, ",")))
	}
	return parts
}

func (r *reconciler) containerActions() {
	r.byService = map[string]Action{}
	project := r.d.Project.Name
	for _, svc := range r.d.Services {
		if scale := svc.Config.Scale; scale != nil && *scale != 1 {
			r.problem("service %s: scale %d: swdeploy runs one container per service on a single engine", svc.Name, *scale)
		}
		if d := svc.Config.Deploy; d != nil && d.UpdateConfig != nil && d.UpdateConfig.Order == "start-first" && !startFirst(svc) {
			r.warn("service %s asks for start-first updates but publishes ports, which two containers cannot share: it is replaced stop-first", svc.Name)
		}
		parts := effectiveParts(svc, r.secrets)
		hash := configHash(parts)
		a := Action{ID: "container:" + svc.Name, Kind: KindContainer, Service: svc.Name, Name: containerName(project, svc.Name, 1)}
		made, secrets, deps, waits := r.prerequisites(svc)
		a.Waits = waits

		var current *Container
		for i, c := range r.o.Containers {
			if c.Service != svc.Name {
				continue
			}
			if c.Leftover {
				r.add(Action{ID: "container:" + c.Name, Op: OpRemove, Kind: KindContainer, Service: svc.Name, Name: c.Name, Target: c.ID, Reason: "replacement left over by an interrupted up"})
				continue
			}
			if current == nil {
				current = &r.o.Containers[i]
				continue
			}
			r.add(Action{ID: "container:" + c.Name, Op: OpRemove, Kind: KindContainer, Service: svc.Name, Name: c.Name, Target: c.ID, Reason: "extra container of a single-container service"})
		}

		switch {
		case current == nil:
			a.Op, a.Reason = OpCreate, "missing"
		default:
			a.Name, a.Target = current.Name, current.ID
			if reason := r.recreateReason(svc, current, parts, hash); reason != "" {
				a.Op, a.Reason = OpRecreate, reason
				a.Downtime = current.State == "running" && !startFirst(svc)
				a.StartFirst = startFirst(svc)
			} else {
				switch current.State {
				case "running", "restarting":
				case "paused":
					r.warn("container %s is paused; swdeploy leaves it so", current.Name)
				case "created", "exited":
					a.Op, a.Reason = OpStart, "not running: "+current.State
				default:
					a.Op, a.Reason = OpRecreate, "container is "+current.State
				}
			}
		}
		if a.Op == "" {
			a.Op, a.Reason = r.restartForDependency(svc)
			if a.Op == "" {
				continue
			}
			a.Downtime = true
		}
		if a.Op == OpCreate {
			// The secrets volume is written from the resolved values, so a
			// new container is made while they are kept; it starts after.
			a.Needs, a.StartNeeds = append(made, deps...), secrets
		} else {
			a.Needs = slices.Concat(made, secrets, deps)
		}
		r.byService[svc.Name] = a
		r.add(a)
	}
}

// prerequisites are the actions a service's container action needs: those
// of its image, networks and volumes, those keeping the secrets it reads
// and its dependencies' container actions; and the depends_on conditions
// it waits for.
func (r *reconciler) prerequisites(svc *Service) (made, secrets, deps []string, waits []Wait) {
	var needs []string
	if id := imageID(svc.Image); r.has(id) {
		needs = append(needs, id)
	}
	for _, key := range sortedKeys(svc.Config.Networks) {
		if id := "network:" + key; r.has(id) {
			needs = append(needs, id)
		}
	}
	for _, v := range svc.Config.Volumes {
		if id := "volume:" + v.Source; v.Type == "volume" && r.has(id) && !slices.Contains(needs, id) {
			needs = append(needs, id)
		}
	}
	for _, s := range svc.Config.Secrets {
		// Kept before the container starts, so that a value the service
		// may store (a database password) is never lost.
		if id := "secret:" + s.Source; r.has(id) && !slices.Contains(secrets, id) {
			secrets = append(secrets, id)
		}
	}
	for _, dep := range sortedKeys(svc.Config.DependsOn) {
		cond := svc.Config.DependsOn[dep]
		if a, ok := r.byService[dep]; ok {
			deps = append(deps, a.ID)
		}
		c := cond.Condition
		if c == "" {
			c = "service_started"
		}
		waits = append(waits, Wait{Service: dep, Condition: c, Required: cond.Required})
	}
	return needs, secrets, deps, waits
}

// recreateReason says why an existing container no longer fits, or "".
func (r *reconciler) recreateReason(svc *Service, c *Container, parts map[string]string, hash string) string {
	if r.opts.ForceRecreate {
		return "--force-recreate"
	}
	if c.Hash != hash {
		if changed := changedParts(c.Parts, parts); len(c.Parts) > 0 && len(changed) > 0 {
			return "config changed: " + strings.Join(changed, ", ")
		}
		return "config changed"
	}
	if a, ok := r.plan.Action(imageID(svc.Image)); ok && a.Op == OpBuild {
		return "image rebuilt"
	}
	if img, ok := r.o.Images[svc.Image]; ok && img.ID != c.ImageID {
		return "image changed"
	}
	for _, key := range sortedKeys(svc.Config.Networks) {
		n := r.d.Project.Networks[key]
		if !slices.Contains(c.Networks, n.Name) {
			return "not attached to network " + n.Name
		}
		if r.has("network:" + key) {
			return "network " + n.Name + " recreated"
		}
	}
	return ""
}

// restartForDependency restarts a service whose depends_on asks for it
// (`restart: true`) when that dependency is being replaced.
func (r *reconciler) restartForDependency(svc *Service) (Op, string) {
	for _, dep := range sortedKeys(svc.Config.DependsOn) {
		if !svc.Config.DependsOn[dep].Restart {
			continue
		}
		if a, ok := r.byService[dep]; ok && (a.Op == OpRecreate || a.Op == OpRestart) {
			return OpRestart, "dependency " + dep + " replaced"
		}
	}
	return "", ""
}

func (r *reconciler) orphanActions() {
	for _, c := range r.o.Containers {
		if r.d.Service(c.Service) != nil {
			continue
		}
		if r.opts.RemoveOrphans {
			r.add(Action{ID: "container:" + c.Name, Op: OpRemove, Kind: KindContainer, Service: c.Service, Name: c.Name, Target: c.ID, Reason: "orphan: service " + c.Service + " is not in the file"})
		} else {
			r.warn("orphan container %s (service %s is not in the file); --remove-orphans removes it", c.Name, c.Service)
		}
	}
}
