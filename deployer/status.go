package deployer

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ServiceStatus is one container of the project as `status` shows it.
type ServiceStatus struct {
	Service   string    `json:"service"`
	Container string    `json:"container"`
	State     string    `json:"state"`
	Health    string    `json:"health,omitempty"`
	Image     string    `json:"image"`
	Ports     []string  `json:"ports,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	Status    string    `json:"status"`
}

// Uptime is how long the container has been running, or 0.
func (s ServiceStatus) Uptime(now time.Time) time.Duration {
	if s.State != "running" || s.StartedAt.IsZero() {
		return 0
	}
	return now.Sub(s.StartedAt).Truncate(time.Second)
}

// ListStatus lists the project's containers with their state and health.
func ListStatus(ctx context.Context, eng Engine, project string) ([]ServiceStatus, error) {
	cs, err := listContainers(ctx, eng, project)
	if err != nil {
		return nil, err
	}
	var out []ServiceStatus
	for _, c := range cs {
		s := ServiceStatus{Service: c.Service, Container: c.Name, State: c.State, Health: c.Health, Image: c.Image, Status: c.Status}
		for _, p := range c.Ports {
			if p.PublicPort == 0 {
				continue
			}
			s.Ports = append(s.Ports, fmt.Sprintf("%s:%d->%d/%s", hostIP(p.IP), p.PublicPort, p.PrivatePort, p.Type))
		}
		slices.Sort(s.Ports)
		s.Ports = slices.Compact(s.Ports)
		if c.State == "running" {
			if inspect, err := eng.ContainerInspect(ctx, c.ID); err == nil && inspect.State != nil {
				s.StartedAt, _ = time.Parse(time.RFC3339Nano, inspect.State.StartedAt)
				if inspect.State.Health != nil {
					s.Health = inspect.State.Health.Status
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func hostIP(ip string) string {
	if ip == "" || ip == "::" {
		return "0.0.0.0"
	}
	return ip
}
