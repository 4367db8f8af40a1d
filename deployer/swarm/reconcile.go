package swarm

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/swarm"

	"github.com/fathat101/swdeploy/deployer"
)

// ChosenSecret is a secret's version for this run and where its value
// comes from. Value is nil for a kept version: the swarm never gives it
// back, and nothing needs it but the services that mount it.
type ChosenSecret struct {
	Key     string
	Version SecretVersion
	Value   []byte
	Source  string // "environment X", "file F", "kept on the swarm", "generated", "rotated", "external"
	Create  bool   // the version does not exist yet
}

// Pin is the node a stateful service runs on.
type Pin struct {
	Service string
	Node    Node
	Label   bool   // the node must be labelled first
	Why     string // why this node
}

// Planned is a plan for the swarm with what apply needs to carry it out.
type Planned struct {
	Plan     *deployer.Plan
	Desired  *deployer.Desired
	State    *State
	Secrets  map[string]ChosenSecret
	Pins     map[string]Pin
	Services []Service // translated with what is known before apply
	// CopyTo maps an image reference to the nodes (hostnames) that may run
	// a service of it: only those get a copy.
	CopyTo map[string]map[string]bool
}

// placeholderImage stands for an image that apply builds or pulls first:
// its ID is not known before.
func placeholderImage(svc string) string { return "<" + svc + " image, made by up>" }

// Reconcile is the swarm's plan: the difference between the desired
// services and the swarm's state, as the shared deployer.Plan. It is a
// pure function of its inputs.
func Reconcile(d *deployer.Desired, st *State, secrets map[string]ChosenSecret, opts deployer.Options) (*Planned, error) {
	project := d.Project.Name
	p := &deployer.Plan{Project: project, Target: deployer.TargetSwarm}
	out := &Planned{Plan: p, Desired: d, State: st, Secrets: secrets, Pins: map[string]Pin{}}
	add := func(a deployer.Action) { p.Actions = append(p.Actions, a) }

	versions := map[string]SecretVersion{}
	for k, c := range secrets {
		versions[k] = c.Version
	}
	images, imageNeeds := planImages(d, st, opts, p)
	services, warnings, err := Translate(d, Inputs{Images: images, Secrets: versions})
	if err != nil {
		return nil, err
	}
	out.Services = services
	p.Warnings = append(p.Warnings, warnings...)
	for i := range services {
		services[i].constrainPublished()
	}

	// Stateful services: pinned to the node that holds their data.
	pinNeeds := map[string]string{}
	for _, s := range services {
		if !s.Stateful {
			continue
		}
		pin, ok := choosePin(project, s, st)
		if !ok {
			p.Problems = append(p.Problems, fmt.Sprintf("service %s keeps its data on a node, and no node is ready to hold it", s.Service))
			continue
		}
		out.Pins[s.Service] = pin
		label := PinLabel(project, s.Service)
		if pin.Label {
			id := "node:" + s.Service
			add(deployer.Action{ID: id, Op: deployer.OpPin, Kind: deployer.KindNode, Name: pin.Node.Hostname, Service: s.Service,
				Reason: fmt.Sprintf("label %s=true: %s runs there (%s)", label, s.Service, pin.Why)})
			pinNeeds[s.Service] = id
		} else {
			p.Notes = append(p.Notes, fmt.Sprintf("%s runs on node %s (node label %s)", s.Service, pin.Node.Hostname, label))
		}
		if pin.Node.State != string(swarm.NodeStateReady) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("node %s, which holds %s's data, is %s: %s cannot run until it is back", pin.Node.Hostname, s.Service, pin.Node.State, s.Service))
		}
	}

	out.CopyTo = copyTargets(d, services, out.Pins, st.Nodes)
	imageNeeds.dropNeedless(out.CopyTo, st)

	// Networks: overlays the project makes; a changed one is not replaced
	// under running services.
	netNeeds := map[string]string{}
	for _, n := range d.Networks {
		if bool(n.Config.External) {
			continue
		}
		have, ok := st.Networks[n.Name]
		switch {
		case !ok:
			id := "network:" + n.Key
			reason := "missing"
			if n.Config.Internal {
				reason = "missing (internal: no route in or out)"
			}
			add(deployer.Action{ID: id, Op: deployer.OpCreate, Kind: deployer.KindNetwork, Name: n.Name, Reason: reason})
			netNeeds[n.Name] = id
		case have.Hash != n.Hash:
			p.Problems = append(p.Problems, fmt.Sprintf("network %s changed in the file: services use it, so run `swdeploy --target swarm down` and then up to recreate it", n.Key))
		}
	}

	for _, a := range imageNeeds.actions {
		add(a)
	}

	secretNeeds := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(secrets)) {
		c := secrets[key]
		if !c.Create {
			continue
		}
		id := "secret:" + key
		op, reason := deployer.OpCreate, "version "+c.Version.Version+": value from "+c.Source
		switch c.Source {
		case "generated":
			op, reason = deployer.OpGenerate, "not provided, not kept: a new random value"
		case "rotated":
			op, reason = deployer.OpUpdate, "rotated: a new random value"
		}
		add(deployer.Action{ID: id, Op: op, Kind: deployer.KindSecret, Name: c.Version.Name, Reason: reason})
		secretNeeds[key] = id
	}

	observed := map[string]ObservedService{}
	for _, o := range st.Services {
		observed[o.Name] = o
	}
	for _, s := range services {
		svc := d.Service(s.Service)
		a := deployer.Action{ID: "service:" + s.Service, Kind: deployer.KindService, Name: s.Name, Service: s.Service}
		o, exists := observed[s.Name]
		switch {
		case !exists:
			a.Op, a.Reason = deployer.OpCreate, "missing"
		default:
			a.Op, a.Target = deployer.OpUpdate, o.ID
			a.Reason = serviceChange(s, o, images[s.Service] == placeholderImage(s.Service))
			if a.Reason == "" {
				continue
			}
			if s.Update.Order == StartFirst {
				a.StartFirst = true
			} else if s.Replicas != nil && *s.Replicas <= 1 {
				a.Downtime = true
			}
		}
		for _, dep := range slices.Sorted(maps.Keys(svc.Config.DependsOn)) {
			c := svc.Config.DependsOn[dep]
			a.Waits = append(a.Waits, deployer.Wait{Service: dep, Condition: c.Condition, Required: c.Required})
		}
		var needs []string
		needs = append(needs, imageNeeds.byService[s.Service]...)
		if id, ok := pinNeeds[s.Service]; ok {
			needs = append(needs, id)
		}
		for _, ref := range s.Secrets {
			if id, ok := secretNeeds[ref.Secret]; ok {
				needs = append(needs, id)
			}
		}
		for _, n := range s.Networks {
			if id, ok := netNeeds[n.Network]; ok {
				needs = append(needs, id)
			}
		}
		slices.Sort(needs)
		a.Needs = slices.Compact(needs)
		add(a)
	}

	// Services of the project that the file no longer has.
	for _, o := range st.Services {
		if d.Service(o.Service) != nil && o.Name == project+"_"+o.Service {
			continue
		}
		if opts.RemoveOrphans {
			add(deployer.Action{ID: "service:" + o.Name, Op: deployer.OpRemove, Kind: deployer.KindService, Name: o.Name, Service: o.Service, Target: o.ID, Reason: "not in the file (--remove-orphans)"})
		} else {
			p.Warnings = append(p.Warnings, fmt.Sprintf("service %s is not in the file: up --remove-orphans removes it", o.Name))
		}
	}

	// Versions no one wants any more go once the services have moved.
	wanted := map[string]bool{}
	for _, c := range secrets {
		wanted[c.Version.Name] = true
	}
	for _, v := range st.Secrets {
		if !wanted[v.Name] {
			add(deployer.Action{ID: "secret-version:" + v.Name, Op: deployer.OpRemove, Kind: deployer.KindSecret, Name: v.Name, Target: v.ID,
				Reason: "an older version of " + v.Secret + ": removed once no service uses it"})
		}
	}
	return out, nil
}

// imagePlan is the image actions and, per service, the ids its service
// action needs.
type imagePlan struct {
	actions   []deployer.Action
	byService map[string][]string
}

// planImages decides where each service's image comes from: built or
// pulled on the manager, pushed to its registry when its name has one,
// else copied to the nodes that lack it; and what each service runs: an
// image ID, a digest reference, or a placeholder until apply knows.
func planImages(d *deployer.Desired, st *State, opts deployer.Options, p *deployer.Plan) (map[string]string, imagePlan) {
	images := map[string]string{}
	ip := imagePlan{byService: map[string][]string{}}
	made := map[string]string{}   // reference -> the action that makes it
	copied := map[string]string{} // reference -> the action that copies or pushes it
	for _, svc := range d.Services {
		img := st.Images[svc.Name]
		ref := svc.Image
		var make string
		switch {
		case made[ref] != "":
			make = made[ref]
		case svc.Build != nil && (img.ID == "" || img.BuildDigest != svc.Build.Digest):
			why := "missing"
			if img.ID != "" {
				why = "its build context changed"
			}
			make = "image:" + svc.Name
			ip.actions = append(ip.actions, deployer.Action{ID: make, Op: deployer.OpBuild, Kind: deployer.KindImage, Name: ref, Service: svc.Name, Reason: why + ": built on the manager's engine"})
		case svc.Build == nil && img.ID == "" && pullPolicy(svc, opts) == "never":
			p.Problems = append(p.Problems, fmt.Sprintf("service %s: image %s is not on the manager's engine and its pull policy is never", svc.Name, ref))
		case svc.Build == nil && (img.ID == "" || pullPolicy(svc, opts) == "always"):
			make = "image:" + svc.Name
			ip.actions = append(ip.actions, deployer.Action{ID: make, Op: deployer.OpPull, Kind: deployer.KindImage, Name: ref, Service: svc.Name, Reason: "missing on the manager's engine"})
		}
		if make != "" {
			made[ref] = make
			ip.byService[svc.Name] = append(ip.byService[svc.Name], make)
		}
		host, registry := RegistryHost(ref)
		if id, ok := copied[ref]; ok {
			ip.byService[svc.Name] = append(ip.byService[svc.Name], id)
			images[svc.Name] = img.ID
			if registry || make != "" {
				images[svc.Name] = placeholderImage(svc.Name)
			}
			continue
		}
		switch {
		case registry:
			digestRef := pushedDigest(ref, img.RepoDigests)
			if make == "" && digestRef != "" {
				images[svc.Name] = digestRef
				continue
			}
			id := "push:" + svc.Name
			ip.actions = append(ip.actions, deployer.Action{ID: id, Op: deployer.OpPush, Kind: deployer.KindImage, Name: ref, Service: svc.Name,
				Reason: "to " + host + ": the nodes pull it by digest", Needs: nonEmpty(make)})
			ip.byService[svc.Name] = append(ip.byService[svc.Name], id)
			images[svc.Name] = placeholderImage(svc.Name)
			copied[ref] = id
		case make != "":
			images[svc.Name] = placeholderImage(svc.Name)
			id := "copy:" + svc.Name
			ip.actions = append(ip.actions, deployer.Action{ID: id, Op: deployer.OpCopy, Kind: deployer.KindImage, Name: ref, Service: svc.Name,
				Reason: "to the nodes that lack it, once made", Needs: []string{make}})
			ip.byService[svc.Name] = append(ip.byService[svc.Name], id)
			copied[ref] = id
		default:
			images[svc.Name] = img.ID
			if len(img.Lacking) > 0 {
				id := "copy:" + svc.Name
				ip.actions = append(ip.actions, deployer.Action{ID: id, Op: deployer.OpCopy, Kind: deployer.KindImage, Name: ref + " (" + shortID(img.ID) + ")", Service: svc.Name,
					Reason: "missing on " + strings.Join(img.Lacking, ", ")})
				ip.byService[svc.Name] = append(ip.byService[svc.Name], id)
				copied[ref] = id
			}
		}
	}
	return images, ip
}

// copyTargets is, per image reference, the nodes that may run it.
func copyTargets(d *deployer.Desired, services []Service, pins map[string]Pin, nodes []Node) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, s := range services {
		ref := d.Service(s.Service).Image
		if out[ref] == nil {
			out[ref] = map[string]bool{}
		}
		var pin *Pin
		if p, ok := pins[s.Service]; ok {
			pin = &p
		}
		for h := range mayRun(s, nodes, pin) {
			out[ref][h] = true
		}
	}
	return out
}

// dropNeedless narrows each copy of an image that exists to the nodes that
// may run it, and drops the copies no such node needs.
func (ip *imagePlan) dropNeedless(copyTo map[string]map[string]bool, st *State) {
	dropped := map[string]bool{}
	var kept []deployer.Action
	for _, a := range ip.actions {
		if a.Op != deployer.OpCopy || len(a.Needs) > 0 {
			kept = append(kept, a)
			continue
		}
		img := st.Images[a.Service]
		var need []string
		for _, h := range img.Lacking {
			if copyTo[img.Ref][h] {
				need = append(need, h)
			}
		}
		if len(need) == 0 {
			dropped[a.ID] = true
			continue
		}
		a.Reason = "missing on " + strings.Join(need, ", ")
		kept = append(kept, a)
	}
	ip.actions = kept
	for svc, ids := range ip.byService {
		ip.byService[svc] = slices.DeleteFunc(ids, func(id string) bool { return dropped[id] })
	}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func pullPolicy(svc *deployer.Service, opts deployer.Options) string {
	return cmp.Or(opts.Pull, svc.Config.PullPolicy, "missing")
}

// pushedDigest is the image's digest reference in ref's repository, if it
// has been pushed there.
func pushedDigest(ref string, digests []string) string {
	repo := ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo = ref[:i]
	}
	for _, d := range digests {
		if strings.HasPrefix(d, repo+"@") {
			return d
		}
	}
	return ""
}

// constrainPublished keeps a service that publishes ports on the
// managers unless the file places it: a host-mode port is reached on the
// node that runs the task, so it must be a node clients know.
func (s *Service) constrainPublished() {
	if len(s.Ports) == 0 || len(s.Constraints) > 0 {
		return
	}
	s.Constraints = []string{"node.role==manager"}
	s.rehash()
}

// choosePin is the node a stateful service runs on: the node labelled for
// it, else the node that holds its volume, else the manager.
func choosePin(project string, s Service, st *State) (Pin, bool) {
	label := PinLabel(project, s.Service)
	for _, n := range st.Nodes {
		if n.Labels[label] == "true" {
			return Pin{Service: s.Service, Node: n, Why: "labelled"}, true
		}
	}
	for _, m := range s.Mounts {
		for _, host := range st.Volumes[m.Source] {
			for _, n := range st.Nodes {
				if n.Hostname == host && n.State == string(swarm.NodeStateReady) {
					return Pin{Service: s.Service, Node: n, Label: true, Why: "it holds volume " + m.Source}, true
				}
			}
		}
	}
	for _, n := range st.Nodes {
		if n.Self {
			return Pin{Service: s.Service, Node: n, Label: true, Why: "first deploy: the manager, whose engine swdeploy reaches"}, true
		}
	}
	return Pin{}, false
}

// serviceChange is why a service must be updated, or "" when it matches
// the file: the config hash, then changes made by hand, then tasks that
// do not run.
func serviceChange(s Service, o ObservedService, imagePending bool) string {
	want := summarize(s.ToSwarm())
	if o.ConfigHash != s.ConfigHash() || imagePending {
		diff := want.diff(o.Summary)
		if imagePending {
			diff = append(slices.DeleteFunc(diff, func(f string) bool { return f == "image" }), "image")
		}
		if len(diff) == 0 {
			return "configuration changed"
		}
		return "changed: " + strings.Join(diff, ", ")
	}
	if diff := want.diff(o.Summary); len(diff) > 0 {
		return "changed outside swdeploy: " + strings.Join(diff, ", ")
	}
	if o.UpdateState == string(swarm.UpdateStatePaused) || o.UpdateState == string(swarm.UpdateStateRollbackPaused) {
		return "its last rollout is paused: " + o.UpdateMessage
	}
	if s.Replicas != nil && o.UpdateState != string(swarm.UpdateStateUpdating) && o.UpdateState != string(swarm.UpdateStateRollbackStarted) {
		running := len(o.Running())
		if uint64(running) < *s.Replicas {
			why := fmt.Sprintf("%d of %d task(s) running", running, *s.Replicas)
			if e := o.LastError(); e != "" {
				why += ": " + e
			}
			return why
		}
	}
	return ""
}
