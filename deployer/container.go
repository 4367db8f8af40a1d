package deployer

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/go-connections/nat"
)

// containerSpec is everything ContainerCreate needs for one container.
type containerSpec struct {
	config  *container.Config
	host    *container.HostConfig
	network *network.NetworkingConfig
	// extra are networks to connect after create, on engines that take
	// only one at create time (API < 1.44).
	extra map[string]*network.EndpointSettings
}

// unsupported lists Compose keys this translation does not carry to the
// engine; a service that sets one gets a clear error rather than a
// container that silently differs from the file.
func unsupported(cfg types.ServiceConfig) []string {
	var keys []string
	if len(cfg.Devices) > 0 {
		keys = append(keys, "devices")
	}
	if len(cfg.Configs) > 0 {
		keys = append(keys, "configs")
	}
	if len(cfg.VolumesFrom) > 0 {
		keys = append(keys, "volumes_from")
	}
	if len(cfg.Links) > 0 {
		keys = append(keys, "links")
	}
	if cfg.NetworkMode != "" && !strings.HasPrefix(cfg.NetworkMode, "container:") && cfg.NetworkMode != "host" && cfg.NetworkMode != "none" && cfg.NetworkMode != "bridge" {
		keys = append(keys, "network_mode "+cfg.NetworkMode)
	}
	if len(cfg.Gpus) > 0 {
		keys = append(keys, "gpus")
	}
	if len(cfg.PostStart)+len(cfg.PreStop) > 0 {
		keys = append(keys, "post_start/pre_stop hooks")
	}
	return keys
}

// buildContainerSpec translates a service into engine configuration.
// Labels carry the project, service, number and config hash; secrets come
// from the volume of the service's current set of secrets, mounted
// read-only.
func buildContainerSpec(p *types.Project, svc *Service, number int, hash string, parts map[string]string, info EngineInfo) (*containerSpec, error) {
	cfg := svc.Config
	if keys := unsupported(cfg); len(keys) > 0 {
		return nil, fmt.Errorf("service %s uses %s, which swdeploy does not support yet", svc.Name, strings.Join(keys, ", "))
	}
	labels := maps.Clone(map[string]string(cfg.Labels))
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{
		LabelProject: p.Name, LabelService: svc.Name, LabelContainerNumber: strconv.Itoa(number),
		LabelOneOff: "False", LabelConfigHash: hash, LabelConfigParts: encodeParts(parts),
		LabelVersion: composeVersion, LabelWorkingDir: p.WorkingDir, LabelConfigFiles: strings.Join(p.ComposeFiles, ","),
		LabelImage: svc.Image, LabelDependsOn: dependsOnLabel(cfg),
	})

	exposed, bindings, err := ports(cfg)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	cc := &container.Config{
		Hostname: cfg.Hostname, Domainname: cfg.DomainName, User: cfg.User, WorkingDir: cfg.WorkingDir,
		Image: svc.Image, Labels: labels, Env: environment(cfg), ExposedPorts: exposed,
		Tty: cfg.Tty, OpenStdin: cfg.StdinOpen, StopSignal: cfg.StopSignal,
		Healthcheck: healthcheck(cfg.HealthCheck, info),
	}
	if cfg.Command != nil {
		cc.Cmd = []string(cfg.Command)
	}
	if cfg.Entrypoint != nil {
		cc.Entrypoint = []string(cfg.Entrypoint)
	}
	if cfg.StopGracePeriod != nil {
		secs := int(time.Duration(*cfg.StopGracePeriod).Seconds())
		cc.StopTimeout = &secs
	}

	hc := &container.HostConfig{
		PortBindings: bindings, RestartPolicy: restartPolicy(cfg.Restart),
		ReadonlyRootfs: cfg.ReadOnly, CapAdd: cfg.CapAdd, CapDrop: cfg.CapDrop, SecurityOpt: cfg.SecurityOpt,
		Privileged: cfg.Privileged, Init: cfg.Init, ExtraHosts: cfg.ExtraHosts.AsList(":"),
		DNS: cfg.DNS, DNSSearch: cfg.DNSSearch, DNSOptions: cfg.DNSOpts, GroupAdd: cfg.GroupAdd,
		Sysctls: map[string]string(cfg.Sysctls), ShmSize: int64(cfg.ShmSize), Runtime: cfg.Runtime,
		IpcMode: container.IpcMode(cfg.Ipc), PidMode: container.PidMode(cfg.Pid), UsernsMode: container.UsernsMode(cfg.UserNSMode),
		LogConfig: logConfig(cfg),
	}
	hc.Resources = container.Resources{
		Memory: int64(cfg.MemLimit), MemoryReservation: int64(cfg.MemReservation), NanoCPUs: int64(cfg.CPUS * 1e9),
		CPUShares: cfg.CPUShares, PidsLimit: pidsLimit(cfg.PidsLimit), Ulimits: ulimits(cfg.Ulimits),
	}
	if cfg.NetworkMode != "" {
		hc.NetworkMode = container.NetworkMode(cfg.NetworkMode)
	}
	for _, t := range cfg.Tmpfs {
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		target, opts, _ := strings.Cut(t, ":")
		hc.Tmpfs[target] = opts
	}
	hc.Mounts, err = mounts(p, cfg)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	if len(cfg.Secrets) > 0 {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: serviceSecretsVolume(p.Name, svc.Name, parts), Target: SecretsDir, ReadOnly: true})
	}

	spec := &containerSpec{config: cc, host: hc, network: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}}
	if cfg.NetworkMode != "" {
		return spec, nil
	}
	first := true
	for _, key := range networkOrder(cfg) {
		n, ok := p.Networks[key]
		if !ok {
			return nil, fmt.Errorf("service %s: network %s is not declared", svc.Name, key)
		}
		ep := endpointSettings(svc.Name, cfg.Networks[key])
		switch {
		case first:
			hc.NetworkMode = container.NetworkMode(n.Name)
			spec.network.EndpointsConfig[n.Name] = ep
		case info.MultiNetworkCreate():
			spec.network.EndpointsConfig[n.Name] = ep
		default:
			if spec.extra == nil {
				spec.extra = map[string]*network.EndpointSettings{}
			}
			spec.extra[n.Name] = ep
		}
		first = false
	}
	return spec, nil
}

// networkOrder sorts a service's networks by priority, then name, as
// compose does: the first one is the container's primary network.
func networkOrder(cfg types.ServiceConfig) []string {
	priority := func(key string) int {
		if n := cfg.Networks[key]; n != nil {
			return n.Priority
		}
		return 0
	}
	keys := sortedKeys(cfg.Networks)
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(priority(b), priority(a)) })
	return keys
}

func endpointSettings(service string, cfg *types.ServiceNetworkConfig) *network.EndpointSettings {
	ep := &network.EndpointSettings{Aliases: []string{service}}
	if cfg == nil {
		return ep
	}
	ep.Aliases = append(ep.Aliases, cfg.Aliases...)
	if cfg.Ipv4Address != "" || cfg.Ipv6Address != "" {
		ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: cfg.Ipv4Address, IPv6Address: cfg.Ipv6Address}
	}
	return ep
}

func environment(cfg types.ServiceConfig) []string {
	var env []string
	for _, k := range sortedKeys(cfg.Environment) {
		if v := cfg.Environment[k]; v != nil {
			env = append(env, k+"="+*v)
		}
	}
	return env
}

func ports(cfg types.ServiceConfig) (nat.PortSet, nat.PortMap, error) {
	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	for _, e := range cfg.Expose {
		p, err := nat.NewPort("tcp", e)
		if err != nil {
			return nil, nil, fmt.Errorf("expose %s: %w", e, err)
		}
		exposed[p] = struct{}{}
	}
	for _, pc := range cfg.Ports {
		proto := pc.Protocol
		if proto == "" {
			proto = "tcp"
		}
		p, err := nat.NewPort(proto, strconv.Itoa(int(pc.Target)))
		if err != nil {
			return nil, nil, fmt.Errorf("port %d: %w", pc.Target, err)
		}
		exposed[p] = struct{}{}
		bindings[p] = append(bindings[p], nat.PortBinding{HostIP: pc.HostIP, HostPort: pc.Published})
	}
	return exposed, bindings, nil
}

func healthcheck(h *types.HealthCheckConfig, info EngineInfo) *container.HealthConfig {
	if h == nil {
		return nil
	}
	if h.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	hc := &container.HealthConfig{Test: h.Test}
	if h.Interval != nil {
		hc.Interval = time.Duration(*h.Interval)
	}
	if h.Timeout != nil {
		hc.Timeout = time.Duration(*h.Timeout)
	}
	if h.StartPeriod != nil {
		hc.StartPeriod = time.Duration(*h.StartPeriod)
	}
	// start_interval needs API 1.44; older engines reject the field.
	if h.StartInterval != nil && versions.GreaterThanOrEqualTo(info.APIVersion, "1.44") {
		hc.StartInterval = time.Duration(*h.StartInterval)
	}
	if h.Retries != nil {
		hc.Retries = int(*h.Retries)
	}
	return hc
}

func restartPolicy(s string) container.RestartPolicy {
	name, count, _ := strings.Cut(s, ":")
	rp := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if name == "" {
		rp.Name = container.RestartPolicyDisabled
	}
	if n, err := strconv.Atoi(count); err == nil {
		rp.MaximumRetryCount = n
	}
	return rp
}

func mounts(p *types.Project, cfg types.ServiceConfig) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, v := range cfg.Volumes {
		m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			m.Type = mount.TypeVolume
			if v.Source != "" {
				vol, ok := p.Volumes[v.Source]
				if !ok {
					return nil, fmt.Errorf("volume %s is not declared", v.Source)
				}
				m.Source = vol.Name
			}
			if v.Volume != nil && v.Volume.NoCopy {
				m.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
			}
		case types.VolumeTypeBind:
			m.Type, m.Source = mount.TypeBind, v.Source
		case types.VolumeTypeTmpfs:
			m.Type = mount.TypeTmpfs
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
			}
		default:
			return nil, fmt.Errorf("volume type %q is not supported", v.Type)
		}
		out = append(out, m)
	}
	return out, nil
}

func logConfig(cfg types.ServiceConfig) container.LogConfig {
	if cfg.Logging != nil {
		return container.LogConfig{Type: cfg.Logging.Driver, Config: cfg.Logging.Options}
	}
	return container.LogConfig{Type: cfg.LogDriver, Config: cfg.LogOpt}
}

func pidsLimit(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func ulimits(u map[string]*types.UlimitsConfig) []*container.Ulimit {
	var out []*container.Ulimit
	for _, name := range sortedKeys(u) {
		l := u[name]
		if l.Single != 0 {
			out = append(out, &container.Ulimit{Name: name, Soft: int64(l.Single), Hard: int64(l.Single)})
		} else {
			out = append(out, &container.Ulimit{Name: name, Soft: int64(l.Soft), Hard: int64(l.Hard)})
		}
	}
	return out
}

// dependsOnLabel writes depends_on as compose does: service:condition:restart.
func dependsOnLabel(cfg types.ServiceConfig) string {
	var deps []string
	for _, name := range sortedKeys(cfg.DependsOn) {
		d := cfg.DependsOn[name]
		deps = append(deps, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	return strings.Join(deps, ",")
}
