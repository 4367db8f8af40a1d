package swarm

import (
	"maps"
	"os"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// ToSwarm is the SDK's spec of the service, for ServiceCreate and
// ServiceUpdate. Endpoints resolve by DNS round robin (dnsrr) and ports
// are published in host mode: no VIP, no routing mesh.
func (s Service) ToSwarm() swarm.ServiceSpec {
	cs := &swarm.ContainerSpec{
		Image: s.Image, Labels: maps.Clone(s.ContainerLabels), Command: s.Entrypoint, Args: s.Command,
		Hostname: s.Hostname, Env: s.Env, Dir: s.WorkingDir, User: s.User, Groups: s.Groups,
		Init: s.Init, StopSignal: s.StopSignal, ReadOnly: s.ReadOnly, StopGracePeriod: s.StopGracePeriod,
		Hosts: s.Hosts, Sysctls: s.Sysctls, CapabilityAdd: s.CapAdd, CapabilityDrop: s.CapDrop,
	}
	if s.NoNewPrivileges {
		cs.Privileges = &swarm.Privileges{NoNewPrivileges: true}
	}
	if h := s.Healthcheck; h != nil {
		cs.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	if d := s.DNS; d != nil {
		cs.DNSConfig = &swarm.DNSConfig{Nameservers: d.Nameservers, Search: d.Search, Options: d.Options}
	}
	for _, u := range s.Ulimits {
		cs.Ulimits = append(cs.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, m := range s.Mounts {
		cs.Mounts = append(cs.Mounts, sdkMount(m))
	}
	for _, r := range s.Secrets {
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{
			File:     &swarm.SecretReferenceFileTarget{Name: r.File, UID: r.UID, GID: r.GID, Mode: os.FileMode(r.Mode)},
			SecretID: r.ID, SecretName: r.Name,
		})
	}

	task := swarm.TaskSpec{
		ContainerSpec: cs,
		Resources: &swarm.ResourceRequirements{
			Limits:       &swarm.Limit{NanoCPUs: s.Resources.LimitNanoCPUs, MemoryBytes: s.Resources.LimitMemory, Pids: s.Resources.LimitPids},
			Reservations: &swarm.Resources{NanoCPUs: s.Resources.ReserveNanoCPUs, MemoryBytes: s.Resources.ReserveMemory},
		},
		RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(s.Restart.Condition),
			Delay: s.Restart.Delay, MaxAttempts: s.Restart.MaxAttempts, Window: s.Restart.Window},
		Placement: &swarm.Placement{Constraints: s.Constraints, MaxReplicas: s.MaxReplicasPerNode},
	}
	for _, spread := range s.Spread {
		task.Placement.Preferences = append(task.Placement.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: spread}})
	}
	if s.Logging != nil {
		task.LogDriver = &swarm.Driver{Name: s.Logging.Driver, Options: s.Logging.Options}
	}
	for _, n := range s.Networks {
		task.Networks = append(task.Networks, swarm.NetworkAttachmentConfig{Target: n.Network, Aliases: n.Aliases})
	}

	spec := swarm.ServiceSpec{
		Annotations:    swarm.Annotations{Name: s.Name, Labels: maps.Clone(s.Labels)},
		TaskTemplate:   task,
		UpdateConfig:   sdkUpdate(s.Update),
		RollbackConfig: sdkUpdate(s.Rollback),
		EndpointSpec:   &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
	if s.Replicas != nil {
		n := *s.Replicas
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	} else {
		spec.Mode.Global = &swarm.GlobalService{}
	}
	for _, p := range s.Ports {
		spec.EndpointSpec.Ports = append(spec.EndpointSpec.Ports, swarm.PortConfig{
			Protocol: swarm.PortConfigProtocol(p.Protocol), TargetPort: p.Target, PublishedPort: p.Published,
			PublishMode: swarm.PortConfigPublishModeHost,
		})
	}
	return spec
}

func sdkMount(m Mount) mount.Mount {
	out := mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	switch m.Type {
	case MountVolume:
		if m.NoCopy || m.Driver != "" || len(m.Labels) > 0 {
			out.VolumeOptions = &mount.VolumeOptions{NoCopy: m.NoCopy, Labels: maps.Clone(m.Labels)}
			if m.Driver != "" {
				out.VolumeOptions.DriverConfig = &mount.Driver{Name: m.Driver}
			}
		}
	case MountTmpfs:
		if m.Size != 0 {
			out.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.Size}
		}
	}
	return out
}

func sdkUpdate(p UpdatePolicy) *swarm.UpdateConfig {
	return &swarm.UpdateConfig{
		Parallelism: p.Parallelism, Delay: p.Delay, FailureAction: p.FailureAction,
		Monitor: p.Monitor, MaxFailureRatio: p.MaxFailureRatio, Order: p.Order,
	}
}
