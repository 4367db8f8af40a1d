package deployer

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"
	"golang.org/x/sync/errgroup"
)

// Observed is what the engine holds for a project, found by labels.
type Observed struct {
	Engine     EngineInfo
	Containers []Container                // the project's service containers, by service then number
	Networks   map[string]ObservedNetwork // by engine name
	Volumes    map[string]ObservedVolume  // by engine name
	Images     map[string]ObservedImage   // by the reference services use; absent when missing
	// State is the project's kept state: its holder and volume.
	State ObservedState
	// Kept holds the secret values kept on the engine for the project.
	Kept KeptSecrets
}

// EngineInfo describes the engine and what it can do.
type EngineInfo struct {
	Host       string `json:"host"`
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// IsolatedGateway reports whether the engine can give an internal network
// no address on the host (bridge gateway mode "isolated", API 1.48, Docker
// 28). Older engines get the same effect from inhibit_ipv4.
func (e EngineInfo) IsolatedGateway() bool {
	return versions.GreaterThanOrEqualTo(e.APIVersion, "1.48")
}

// MultiNetworkCreate reports whether a container can be created attached to
// several networks at once (API 1.44).
func (e EngineInfo) MultiNetworkCreate() bool {
	return versions.GreaterThanOrEqualTo(e.APIVersion, "1.44")
}

// Container is one of the project's containers.
type Container struct {
	ID       string
	Name     string
	Service  string
	Number   int
	State    string // created, running, paused, restarting, removing, exited, dead
	Health   string // healthy, unhealthy, starting, or "" without a healthcheck
	Hash     string
	Parts    map[string]string
	Image    string // the reference it was created from
	ImageID  string
	Networks []string // engine network names it is attached to
	Created  time.Time
	Status   string // the engine's human summary ("Up 2 minutes (healthy)")
	Ports    []container.Port
	Labels   map[string]string
	// Leftover marks a replacement left under its temporary name by an
	// interrupted up.
	Leftover bool
}

// leftoverName matches the temporary name a replacement has until the
// container it replaces is gone: "<12 hex digits>_<name>".
var leftoverName = regexp.MustCompile(`^[0-9a-f]{12}_`)

// ObservedNetwork is a project network on the engine.
type ObservedNetwork struct {
	ID       string
	Name     string
	Key      string
	Hash     string
	Internal bool
	Options  map[string]string
}

// ObservedVolume is a project volume on the engine.
type ObservedVolume struct {
	Name   string
	Key    string
	Driver string
	Role   string
}

// ObservedImage is an image present on the engine.
type ObservedImage struct {
	ID          string
	BuildDigest string
	Size        int64
}

// Observe lists what the engine holds for the project: containers,
// networks and volumes by label, and the images the project's services use.
// It makes one call per kind of object plus one per image, and reads the
// kept state through its holder (an inspect and an archive read). It
// changes nothing on the engine.
func Observe(ctx context.Context, eng Engine, d *Desired) (*Observed, error) {
	project := d.Project.Name
	o := &Observed{Networks: map[string]ObservedNetwork{}, Volumes: map[string]ObservedVolume{}, Images: map[string]ObservedImage{}}
	byProject := filters.NewArgs(filters.Arg("label", LabelProject+"="+project))

	// The calls are independent: made at once, a no-op up waits for the
	// slowest of them instead of their sum (it matters most over ssh).
	// Each goroutine writes only its own field; the images share a lock.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		o.Engine, err = engineInfo(gctx, eng)
		return err
	})
	g.Go(func() (err error) {
		o.Containers, err = listContainers(gctx, eng, project)
		return err
	})
	g.Go(func() error {
		nets, err := eng.NetworkList(gctx, network.ListOptions{Filters: byProject})
		if err != nil {
			return fmt.Errorf("list networks: %w", err)
		}
		for _, n := range nets {
			o.Networks[n.Name] = ObservedNetwork{ID: n.ID, Name: n.Name, Key: n.Labels[LabelNetwork], Hash: n.Labels[LabelNetworkHash], Internal: n.Internal, Options: n.Options}
		}
		return nil
	})
	g.Go(func() error {
		vols, err := eng.VolumeList(gctx, volume.ListOptions{Filters: byProject})
		if err != nil {
			return fmt.Errorf("list volumes: %w", err)
		}
		for _, v := range vols.Volumes {
			o.Volumes[v.Name] = ObservedVolume{Name: v.Name, Key: v.Labels[LabelVolume], Driver: v.Driver, Role: v.Labels[LabelRole]}
		}
		return nil
	})
	var imagesMu sync.Mutex
	for _, ref := range serviceImages(d) {
		g.Go(func() error {
			img, err := eng.ImageInspect(gctx, ref)
			if errdefs.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("inspect image %s: %w", ref, err)
			}
			var digest string
			if img.Config != nil {
				digest = img.Config.Labels[LabelBuildDigest]
			}
			imagesMu.Lock()
			o.Images[ref] = ObservedImage{ID: img.ID, BuildDigest: digest, Size: img.Size}
			imagesMu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var err error
	if o.State, o.Kept, err = observeState(ctx, eng, project, o.Volumes); err != nil {
		return nil, err
	}
	return o, nil
}

// serviceImages are the images the services use, each once, in service
// order.
func serviceImages(d *Desired) []string {
	var refs []string
	for _, svc := range d.Services {
		if !slices.Contains(refs, svc.Image) {
			refs = append(refs, svc.Image)
		}
	}
	return refs
}

// listContainers returns the project's service containers (not one-off
// runs), sorted by service and number.
func listContainers(ctx context.Context, eng Engine, project string) ([]Container, error) {
	list, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelProject+"="+project))})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []Container
	for _, c := range list {
		if c.Labels[LabelOneOff] == "True" || c.Labels[LabelService] == "" {
			continue
		}
		n, _ := strconv.Atoi(c.Labels[LabelContainerNumber])
		ct := Container{
			ID: c.ID, Service: c.Labels[LabelService], Number: n, State: c.State,
			Health: healthFromStatus(c.Status), Hash: c.Labels[LabelConfigHash],
			Parts: decodeParts(c.Labels[LabelConfigParts]), Image: c.Image, ImageID: c.ImageID,
			Created: time.Unix(c.Created, 0), Status: c.Status, Ports: c.Ports, Labels: c.Labels,
		}
		if len(c.Names) > 0 {
			ct.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		ct.Leftover = leftoverName.MatchString(ct.Name)
		if c.NetworkSettings != nil {
			for name := range c.NetworkSettings.Networks {
				ct.Networks = append(ct.Networks, name)
			}
		}
		out = append(out, ct)
	}
	sortContainers(out)
	return out, nil
}

func sortContainers(cs []Container) {
	slices.SortStableFunc(cs, func(a, b Container) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Number, b.Number), cmp.Compare(a.Name, b.Name))
	})
}

// healthFromStatus reads the health out of the list API's status text,
// which API 1.41 gives instead of a health field; it saves an inspect per
// container.
func healthFromStatus(status string) string {
	switch {
	case strings.Contains(status, "(healthy)"):
		return "healthy"
	case strings.Contains(status, "(unhealthy)"):
		return "unhealthy"
	case strings.Contains(status, "(health: starting)"):
		return "starting"
	}
	return ""
}

func engineInfo(ctx context.Context, eng Engine) (EngineInfo, error) {
	v, err := eng.ServerVersion(ctx)
	if err != nil {
		return EngineInfo{}, fmt.Errorf("engine version: %w", err)
	}
	info := EngineInfo{Version: v.Version, APIVersion: eng.ClientVersion(), OS: v.Os, Arch: v.Arch}
	if h, ok := eng.(interface{ DaemonHost() string }); ok {
		info.Host = h.DaemonHost()
	}
	if info.APIVersion == "" {
		info.APIVersion = v.APIVersion
	}
	return info, nil
}
