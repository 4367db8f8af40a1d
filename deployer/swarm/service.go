package swarm

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"

	"github.com/fathat101/swdeploy/deployer"
)

// Service is a swarm service as swdeploy wants it: one Compose service
// translated, in this package's terms. ToSwarm makes the SDK's spec of it.
type Service struct {
	Name    string // <project>_<service>
	Project string
	Service string // the name in the Compose file
	// Labels go on the service: deploy.labels, the project, the service and
	// the config hash. ContainerLabels are the file's labels: for tasks.
	Labels          map[string]string `json:",omitempty"`
	ContainerLabels map[string]string `json:",omitempty"`

	Image           string   // an image ID when one was given, else the file's reference
	Entrypoint      []string `json:",omitempty"` // the swarm's Command
	Command         []string `json:",omitempty"` // the swarm's Args
	Env             []string `json:",omitempty"` // KEY=value, by key
	Hostname        string   `json:",omitempty"`
	WorkingDir      string   `json:",omitempty"`
	User            string   `json:",omitempty"`
	Groups          []string `json:",omitempty"`
	ReadOnly        bool     `json:",omitempty"`
	CapAdd          []string `json:",omitempty"`
	CapDrop         []string `json:",omitempty"`
	NoNewPrivileges bool     `json:",omitempty"`
	Init            *bool    `json:",omitempty"`
	StopSignal      string   `json:",omitempty"`
	StopGracePeriod *time.Duration
	Healthcheck     *Healthcheck      `json:",omitempty"`
	DNS             *DNS              `json:",omitempty"`
	Hosts           []string          `json:",omitempty"` // "IP name", as /etc/hosts
	Sysctls         map[string]string `json:",omitempty"`
	Ulimits         []Ulimit          `json:",omitempty"`
	Logging         *Logging          `json:",omitempty"`

	Mounts   []Mount             `json:",omitempty"`
	Secrets  []SecretRef         `json:",omitempty"`
	Networks []NetworkAttachment `json:",omitempty"`
	// Ports are published in host mode on the node that runs the task:
	// dnsrr services have no ingress routing mesh.
	Ports []Port `json:",omitempty"`

	// Replicas is nil for a global service.
	Replicas *uint64
	// Stateful services keep their state in a local volume: one replica,
	// pinned to the node labelled for it, replaced stop-first.
	Stateful           bool     `json:",omitempty"`
	Constraints        []string `json:",omitempty"`
	Spread             []string `json:",omitempty"` // placement preferences
	MaxReplicasPerNode uint64   `json:",omitempty"`
	Resources          Resources
	Update             UpdatePolicy
	Rollback           UpdatePolicy
	Restart            RestartPolicy
}

// Healthcheck is the task's health test; swarm counts a task as running
// only once it passes.
type Healthcheck struct {
	Test          []string
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// DNS is the task's resolver configuration.
type DNS struct {
	Nameservers []string `json:",omitempty"`
	Search      []string `json:",omitempty"`
	Options     []string `json:",omitempty"`
}

// Ulimit is one resource limit of the task's processes.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// Logging is the task's log driver.
type Logging struct {
	Driver  string
	Options map[string]string `json:",omitempty"`
}

// Mount kinds.
const (
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// Mount is a named (or anonymous) volume of the node's local driver, or a
// tmpfs.
type Mount struct {
	Type     string // MountVolume or MountTmpfs
	Source   string `json:",omitempty"` // the volume's name; empty for anonymous volumes and tmpfs
	Target   string
	ReadOnly bool              `json:",omitempty"`
	NoCopy   bool              `json:",omitempty"`
	Driver   string            `json:",omitempty"` // for volumes: local
	Labels   map[string]string `json:",omitempty"` // for a volume the task creates
	Size     int64             `json:",omitempty"` // tmpfs bytes; 0 for no limit
}

// SecretRef is a secret version given to the task as a file under
// /run/secrets/.
type SecretRef struct {
	Secret string // the secret's name in the Compose file
	Name   string // the versioned swarm secret
	ID     string `json:",omitempty"` // the swarm's ID, once created
	File   string // the file name under /run/secrets/
	UID    string
	GID    string
	Mode   uint32
}

// NetworkAttachment is an overlay network the task joins, and the names it
// answers to there.
type NetworkAttachment struct {
	Network string // the engine's name of the network
	Aliases []string
}

// Port is a host-mode published port.
type Port struct {
	Target    uint32
	Published uint32 // 0: the engine picks one
	Protocol  string
}

// Resources are the task's limits and reservations; zero means none.
type Resources struct {
	LimitNanoCPUs   int64 `json:",omitempty"`
	LimitMemory     int64 `json:",omitempty"`
	LimitPids       int64 `json:",omitempty"`
	ReserveNanoCPUs int64 `json:",omitempty"`
	ReserveMemory   int64 `json:",omitempty"`
}

// Update orders.
const (
	StartFirst = "start-first"
	StopFirst  = "stop-first"
)

// UpdatePolicy is how swarm rolls tasks over to a new spec, or back.
type UpdatePolicy struct {
	Parallelism     uint64
	Delay           time.Duration
	FailureAction   string // rollback, pause or continue
	Monitor         time.Duration
	MaxFailureRatio float32 `json:",omitempty"`
	Order           string  // StartFirst or StopFirst
}

// RestartPolicy is when swarm replaces a task that ended.
type RestartPolicy struct {
	Condition   string         // none, on-failure or any
	Delay       *time.Duration `json:",omitempty"`
	MaxAttempts *uint64        `json:",omitempty"`
	Window      *time.Duration `json:",omitempty"`
}

// Inputs are what a translation needs beyond the Compose project: what
// apply has settled before it makes services.
type Inputs struct {
	// Images maps a service to the image ID its tasks run; a service not
	// in it runs its Compose image reference.
	Images map[string]string
	// Secrets maps each Compose secret a service uses to its version.
	Secrets map[string]SecretVersion
}

// Defaults of the update policy where the file says nothing: one task at a
// time, watched for a while once running, rolled back if it fails.
const (
	defaultMonitor       = 10 * time.Second
	defaultFailureAction = "rollback"
	secretsDir           = "/run/secrets/"
)

// Translate makes the swarm services of a desired state, in its order. The
// warnings say where the file asks for something the swarm target does not
// do as asked (and what it does instead).
func Translate(d *deployer.Desired, in Inputs) ([]Service, []string, error) {
	var out []Service
	var warnings []string
	for _, svc := range d.Services {
		s, w, err := translate(d, svc, in)
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		out = append(out, s)
		for _, msg := range w {
			warnings = append(warnings, "service "+svc.Name+": "+msg)
		}
	}
	return out, warnings, nil
}

// PinLabel is the node label whose node holds a stateful service's volume;
// its constraint is node.labels.<PinLabel>==true.
func PinLabel(project, service string) string { return project + "." + service }

func translate(d *deployer.Desired, svc *deployer.Service, in Inputs) (Service, []string, error) {
	cfg := svc.Config
	project := d.Project.Name
	if keys := unsupported(cfg); len(keys) > 0 {
		return Service{}, nil, fmt.Errorf("uses %s, which the swarm target does not support", strings.Join(keys, ", "))
	}
	var warnings []string
	s := Service{
		Name: project + "_" + svc.Name, Project: project, Service: svc.Name,
		Image: cmp.Or(in.Images[svc.Name], svc.Image), Hostname: cfg.Hostname, WorkingDir: cfg.WorkingDir, User: cfg.User,
		Groups: cfg.GroupAdd, ReadOnly: cfg.ReadOnly, CapAdd: cfg.CapAdd, CapDrop: cfg.CapDrop,
		NoNewPrivileges: slices.Contains(cfg.SecurityOpt, "no-new-privileges:true") || slices.Contains(cfg.SecurityOpt, "no-new-privileges"),
		Init:            cfg.Init, StopSignal: cfg.StopSignal, Hosts: hosts(cfg.ExtraHosts),
		Sysctls: map[string]string(cfg.Sysctls), Ulimits: ulimits(cfg.Ulimits), Logging: logging(cfg),
		Healthcheck: healthcheck(cfg.HealthCheck), Env: environment(cfg),
	}
	if len(cfg.Labels) > 0 {
		s.ContainerLabels = maps.Clone(map[string]string(cfg.Labels))
	}
	if cfg.Entrypoint != nil {
		s.Entrypoint = []string(cfg.Entrypoint)
	}
	if cfg.Command != nil {
		s.Command = []string(cfg.Command)
	}
	if cfg.StopGracePeriod != nil {
		g := time.Duration(*cfg.StopGracePeriod)
		s.StopGracePeriod = &g
	}
	if len(cfg.DNS)+len(cfg.DNSSearch)+len(cfg.DNSOpts) > 0 {
		s.DNS = &DNS{Nameservers: cfg.DNS, Search: cfg.DNSSearch, Options: cfg.DNSOpts}
	}

	var err error
	if s.Mounts, err = mounts(d.Project, cfg); err != nil {
		return Service{}, nil, err
	}
	for _, m := range s.Mounts {
		if m.Type == MountVolume && m.Source != "" {
			s.Stateful = true
		}
	}
	if s.Secrets, err = secretRefs(cfg, in.Secrets); err != nil {
		return Service{}, nil, err
	}
	if s.Networks, err = networks(d.Project, svc.Name, cfg); err != nil {
		return Service{}, nil, err
	}
	if s.Ports, err = ports(cfg); err != nil {
		return Service{}, nil, err
	}

	var deploy types.DeployConfig
	if cfg.Deploy != nil {
		deploy = *cfg.Deploy
	}
	if deploy.EndpointMode != "" && deploy.EndpointMode != "dnsrr" {
		return Service{}, nil, fmt.Errorf("endpoint_mode %s: swarm services of swdeploy resolve by DNS round robin (dnsrr), which needs no IPVS", deploy.EndpointMode)
	}
	w, err := s.schedule(cfg, deploy)
	if err != nil {
		return Service{}, nil, err
	}
	warnings = append(warnings, w...)
	s.Resources = resources(cfg, deploy.Resources)
	s.Update, s.Rollback, w = policies(s, deploy)
	warnings = append(warnings, w...)
	s.Restart = restartPolicy(cfg.Restart, deploy.RestartPolicy)

	s.Labels = map[string]string{}
	maps.Copy(s.Labels, deploy.Labels)
	maps.Copy(s.Labels, map[string]string{LabelProject: project, deployer.LabelService: svc.Name})
	hash, err := s.hash()
	if err != nil {
		return Service{}, nil, err
	}
	s.Labels[deployer.LabelConfigHash] = hash
	return s, warnings, nil
}

// ConfigHash is the service's config hash label: the digest of all of its
// spec but the label itself. Secret values are not in it, only their
// versions' names.
func (s Service) ConfigHash() string { return s.Labels[deployer.LabelConfigHash] }

func (s Service) hash() (string, error) {
	s.Labels = maps.Clone(s.Labels)
	delete(s.Labels, deployer.LabelConfigHash)
	raw, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("config hash: %w", err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8]), nil
}

// unsupported lists the Compose keys the swarm target does not carry to
// the swarm; a service that sets one gets an error, not a service that
// silently differs from the file.
func unsupported(cfg types.ServiceConfig) []string {
	var keys []string
	add := func(set bool, key string) {
		if set {
			keys = append(keys, key)
		}
	}
	add(cfg.Privileged, "privileged")
	add(len(cfg.Devices) > 0, "devices")
	add(len(cfg.Configs) > 0, "configs")
	add(len(cfg.VolumesFrom) > 0, "volumes_from")
	add(len(cfg.Links) > 0, "links")
	add(cfg.NetworkMode != "", "network_mode")
	add(len(cfg.Gpus) > 0, "gpus")
	add(len(cfg.PostStart)+len(cfg.PreStop) > 0, "post_start/pre_stop hooks")
	add(cfg.Pid != "", "pid")
	add(cfg.Ipc != "", "ipc")
	add(cfg.UserNSMode != "", "userns_mode")
	add(cfg.Runtime != "", "runtime")
	add(cfg.ShmSize != 0, "shm_size")
	for _, opt := range cfg.SecurityOpt {
		add(opt != "no-new-privileges:true" && opt != "no-new-privileges", "security_opt "+opt)
	}
	return keys
}

// schedule sets replicas and placement. Replicas come from deploy.replicas,
// else scale, else 1; a stateful service runs at most one, on the node
// labelled for it.
func (s *Service) schedule(cfg types.ServiceConfig, deploy types.DeployConfig) ([]string, error) {
	var warnings []string
	p := deploy.Placement
	s.Constraints = slices.Clone(p.Constraints)
	for _, pref := range p.Preferences {
		s.Spread = append(s.Spread, pref.Spread)
	}
	s.MaxReplicasPerNode = p.MaxReplicas

	switch deploy.Mode {
	case "global":
		if s.Stateful {
			return nil, fmt.Errorf("mode global: the service keeps its state in a local volume, which one task on one node can hold")
		}
		return warnings, nil
	case "", "replicated":
	default:
		return nil, fmt.Errorf("deploy mode %s is not supported", deploy.Mode)
	}
	n := 1
	switch {
	case deploy.Replicas != nil && cfg.Scale != nil && *deploy.Replicas != *cfg.Scale:
		return nil, fmt.Errorf("deploy.replicas %d and scale %d disagree", *deploy.Replicas, *cfg.Scale)
	case deploy.Replicas != nil:
		n = *deploy.Replicas
	case cfg.Scale != nil:
		n = *cfg.Scale
	}
	if n < 0 {
		return nil, fmt.Errorf("replicas %d", n)
	}
	if s.Stateful {
		if n > 1 {
			warnings = append(warnings, fmt.Sprintf("%d replicas asked, 1 run: its state is in a local volume, which one task can hold", n))
			n = 1
		}
		pin := "node.labels." + PinLabel(s.Project, s.Service) + "==true"
		if !slices.Contains(s.Constraints, pin) {
			s.Constraints = append(s.Constraints, pin)
		}
	}
	slices.Sort(s.Constraints)
	r := uint64(n)
	s.Replicas = &r
	return warnings, nil
}

// policies are the update and rollback policies: the file's, with one task
// at a time, a rollback on failure and a monitor window by default.
// Stateful services and services with published ports are replaced
// stop-first: two tasks cannot share a volume's state or a host port.
func policies(s Service, deploy types.DeployConfig) (update, rollback UpdatePolicy, warnings []string) {
	update = policy(deploy.UpdateConfig, defaultFailureAction)
	if update.Order == StartFirst && (s.Stateful || len(s.Ports) > 0) {
		why := "publishes ports, which two tasks on one node cannot share"
		if s.Stateful {
			why = "keeps its state in a local volume, which two tasks must not share"
		}
		warnings = append(warnings, "asks for start-first updates but "+why+": it is replaced stop-first")
		update.Order = StopFirst
	}
	rollback = policy(deploy.RollbackConfig, "pause")
	if deploy.RollbackConfig == nil {
		rollback.Parallelism, rollback.Monitor, rollback.Order = update.Parallelism, update.Monitor, update.Order
	} else if rollback.Order == StartFirst && update.Order == StopFirst {
		rollback.Order = StopFirst
	}
	return update, rollback, warnings
}

func policy(c *types.UpdateConfig, failureAction string) UpdatePolicy {
	p := UpdatePolicy{Parallelism: 1, FailureAction: failureAction, Monitor: defaultMonitor, Order: StopFirst}
	if c == nil {
		return p
	}
	if c.Parallelism != nil {
		p.Parallelism = *c.Parallelism
	}
	p.Delay = time.Duration(c.Delay)
	p.FailureAction = cmp.Or(c.FailureAction, p.FailureAction)
	if c.Monitor != 0 {
		p.Monitor = time.Duration(c.Monitor)
	}
	p.MaxFailureRatio = c.MaxFailureRatio
	p.Order = cmp.Or(c.Order, p.Order)
	return p
}

// restartPolicy takes deploy.restart_policy, else the service's restart:
// swarm restarts a task that ended unless told not to.
func restartPolicy(restart string, rp *types.RestartPolicy) RestartPolicy {
	if rp != nil {
		out := RestartPolicy{Condition: cmp.Or(rp.Condition, "any"), MaxAttempts: rp.MaxAttempts}
		if rp.Delay != nil {
			d := time.Duration(*rp.Delay)
			out.Delay = &d
		}
		if rp.Window != nil {
			w := time.Duration(*rp.Window)
			out.Window = &w
		}
		return out
	}
	name, count, _ := strings.Cut(restart, ":")
	switch name {
	case "no":
		return RestartPolicy{Condition: "none"}
	case "on-failure":
		out := RestartPolicy{Condition: "on-failure"}
		if n, err := strconv.ParseUint(count, 10, 64); err == nil {
			out.MaxAttempts = &n
		}
		return out
	}
	return RestartPolicy{Condition: "any"}
}

// resources takes deploy.resources, else the service-level limits.
func resources(cfg types.ServiceConfig, r types.Resources) Resources {
	out := Resources{
		LimitNanoCPUs: int64(cfg.CPUS * 1e9), LimitMemory: int64(cfg.MemLimit), LimitPids: cfg.PidsLimit,
		ReserveMemory: int64(cfg.MemReservation),
	}
	if l := r.Limits; l != nil {
		out.LimitNanoCPUs = cmp.Or(int64(float64(l.NanoCPUs)*1e9), out.LimitNanoCPUs)
		out.LimitMemory = cmp.Or(int64(l.MemoryBytes), out.LimitMemory)
		out.LimitPids = cmp.Or(l.Pids, out.LimitPids)
	}
	if rs := r.Reservations; rs != nil {
		out.ReserveNanoCPUs = int64(float64(rs.NanoCPUs) * 1e9)
		out.ReserveMemory = cmp.Or(int64(rs.MemoryBytes), out.ReserveMemory)
	}
	return out
}

func environment(cfg types.ServiceConfig) []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(cfg.Environment)) {
		if v := cfg.Environment[k]; v != nil {
			env = append(env, k+"="+*v)
		}
	}
	return env
}

func healthcheck(h *types.HealthCheckConfig) *Healthcheck {
	if h == nil {
		return nil
	}
	if h.Disable {
		return &Healthcheck{Test: []string{"NONE"}}
	}
	out := &Healthcheck{Test: h.Test}
	for _, f := range []struct {
		from *types.Duration
		to   *time.Duration
	}{{h.Interval, &out.Interval}, {h.Timeout, &out.Timeout}, {h.StartPeriod, &out.StartPeriod}, {h.StartInterval, &out.StartInterval}} {
		if f.from != nil {
			*f.to = time.Duration(*f.from)
		}
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	return out
}

func hosts(h types.HostsList) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, ip := range h[name] {
			out = append(out, ip+" "+name)
		}
	}
	return out
}

func ulimits(u map[string]*types.UlimitsConfig) []Ulimit {
	var out []Ulimit
	for _, name := range slices.Sorted(maps.Keys(u)) {
		l := u[name]
		if l.Single != 0 {
			out = append(out, Ulimit{Name: name, Soft: int64(l.Single), Hard: int64(l.Single)})
		} else {
			out = append(out, Ulimit{Name: name, Soft: int64(l.Soft), Hard: int64(l.Hard)})
		}
	}
	return out
}

func logging(cfg types.ServiceConfig) *Logging {
	switch {
	case cfg.Logging != nil:
		return &Logging{Driver: cfg.Logging.Driver, Options: cfg.Logging.Options}
	case cfg.LogDriver != "":
		return &Logging{Driver: cfg.LogDriver, Options: cfg.LogOpt}
	}
	return nil
}

// mounts are the service's volumes and tmpfs. Bind mounts are refused: the
// node a task lands on decides what the path holds.
func mounts(p *types.Project, cfg types.ServiceConfig) ([]Mount, error) {
	var out []Mount
	for _, v := range cfg.Volumes {
		m := Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			m.Type = MountVolume
			if v.Volume != nil {
				m.NoCopy = v.Volume.NoCopy
			}
			if v.Source == "" {
				break
			}
			vol, ok := p.Volumes[v.Source]
			if !ok {
				return nil, fmt.Errorf("volume %s is not declared", v.Source)
			}
			m.Source = vol.Name
			if bool(vol.External) {
				break
			}
			if vol.Driver != "" && vol.Driver != "local" {
				return nil, fmt.Errorf("volume %s: driver %s: the swarm target uses the nodes' local volumes", v.Source, vol.Driver)
			}
			m.Driver = "local"
			m.Labels = map[string]string{LabelProject: p.Name, deployer.LabelVolume: v.Source}
		case types.VolumeTypeTmpfs:
			m.Type = MountTmpfs
			if v.Tmpfs != nil {
				m.Size = int64(v.Tmpfs.Size)
			}
		default:
			return nil, fmt.Errorf("volume %s of type %s: the swarm target mounts named volumes and tmpfs only", v.Target, v.Type)
		}
		out = append(out, m)
	}
	for _, t := range cfg.Tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		m := Mount{Type: MountTmpfs, Target: target}
		for _, opt := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(opt, "=")
			switch k {
			case "":
			case "size":
				size, err := units.RAMInBytes(v)
				if err != nil {
					return nil, fmt.Errorf("tmpfs %s: size %s: %w", target, v, err)
				}
				m.Size = size
			default:
				return nil, fmt.Errorf("tmpfs %s: option %s is not supported on a swarm", target, k)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// secretRefs names each secret's version for the task. The file is
// /run/secrets/<target>, readable by all but writable by none unless the
// file says otherwise.
func secretRefs(cfg types.ServiceConfig, versions map[string]SecretVersion) ([]SecretRef, error) {
	var out []SecretRef
	for _, ref := range cfg.Secrets {
		v, ok := versions[ref.Source]
		if !ok {
			return nil, fmt.Errorf("secret %s has no version", ref.Source)
		}
		file := strings.TrimPrefix(cmp.Or(ref.Target, ref.Source), secretsDir)
		if strings.Contains(file, "/") {
			return nil, fmt.Errorf("secret %s: target %s: a swarm puts secrets in %s", ref.Source, ref.Target, secretsDir)
		}
		r := SecretRef{Secret: ref.Source, Name: v.Name, ID: v.ID, File: file, UID: cmp.Or(ref.UID, "0"), GID: cmp.Or(ref.GID, "0"), Mode: 0o444}
		if ref.Mode != nil {
			r.Mode = uint32(*ref.Mode)
		}
		out = append(out, r)
	}
	return out, nil
}

// networks are the service's overlays by priority, then name, each with
// the service's name and the file's aliases.
func networks(p *types.Project, service string, cfg types.ServiceConfig) ([]NetworkAttachment, error) {
	keys := slices.Sorted(maps.Keys(cfg.Networks))
	priority := func(key string) int {
		if n := cfg.Networks[key]; n != nil {
			return n.Priority
		}
		return 0
	}
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(priority(b), priority(a)) })
	var out []NetworkAttachment
	for _, key := range keys {
		n, ok := p.Networks[key]
		if !ok {
			return nil, fmt.Errorf("network %s is not declared", key)
		}
		a := NetworkAttachment{Network: n.Name, Aliases: []string{service}}
		if c := cfg.Networks[key]; c != nil {
			if c.Ipv4Address != "" || c.Ipv6Address != "" {
				return nil, fmt.Errorf("network %s: fixed addresses are not supported on a swarm", key)
			}
			for _, alias := range c.Aliases {
				if !slices.Contains(a.Aliases, alias) {
					a.Aliases = append(a.Aliases, alias)
				}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// ports publishes each port in host mode: dnsrr services have no routing
// mesh, and these kernels no IPVS for one.
func ports(cfg types.ServiceConfig) ([]Port, error) {
	var out []Port
	for _, pc := range cfg.Ports {
		if pc.HostIP != "" {
			return nil, fmt.Errorf("port %d: host_ip %s: a swarm publishes on every address of the node", pc.Target, pc.HostIP)
		}
		p := Port{Target: pc.Target, Protocol: cmp.Or(pc.Protocol, "tcp")}
		if pc.Published != "" {
			n, err := strconv.ParseUint(pc.Published, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("port %d: published %s: one port, not a range", pc.Target, pc.Published)
			}
			p.Published = uint32(n)
		}
		out = append(out, p)
	}
	return out, nil
}

// rehash sets the config hash label again after a change to the service.
func (s *Service) rehash() {
	if h, err := s.hash(); err == nil {
		s.Labels[deployer.LabelConfigHash] = h
	}
}
