package swarm

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"

	"github.com/fathat101/swdeploy/deployer"
)

// State is what the swarm holds of a project, read without writing
// anything: the input of the pure reconcile, in this package's terms.
type State struct {
	Nodes    []Node
	Services []ObservedService
	Networks map[string]ObservedNetwork // by the engine's name
	Secrets  []SecretVersion            // the project's versions
	// OtherSecrets are names of secrets that are not the project's, for
	// external secrets.
	OtherSecrets map[string]bool
	// Images by service: what the manager has and which nodes lack it.
	Images map[string]ImageState
	// Volumes maps a volume's engine name to the hostnames of the nodes
	// that hold it (among those swdeploy reaches).
	Volumes map[string][]string
}

// ObservedNetwork is one of the project's overlay networks.
type ObservedNetwork struct {
	ID       string
	Name     string
	Hash     string // the network hash label
	Internal bool
}

// ImageState is a service's image on the manager's engine.
type ImageState struct {
	Ref string // the file's reference
	// ID is the image the manager has under Ref; empty when it has none.
	ID string
	// BuildDigest is the build digest label of that image.
	BuildDigest string
	// Lacking are the reachable nodes (hostnames) without the image ID.
	Lacking []string
	// RepoDigests of the image, for images pushed to a registry.
	RepoDigests []string
}

// Observe reads the project's state from the manager and the reachable
// node engines, the reads running at once.
func (t *Target) Observe(ctx context.Context, d *deployer.Desired) (*State, error) {
	project := d.Project.Name
	s := &State{Nodes: t.Nodes.Nodes, Networks: map[string]ObservedNetwork{}, Images: map[string]ImageState{}, Volumes: map[string][]string{}, OtherSecrets: map[string]bool{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() {
		var err error
		s.Services, err = ObserveServices(ctx, t.Client, project)
		errs[0] = err
	})
	wg.Go(func() { errs[1] = t.observeNetworks(ctx, project, s) })
	wg.Go(func() {
		all, err := t.Client.SecretList(ctx, swarm.SecretListOptions{})
		if err != nil {
			errs[2] = fmt.Errorf("list secrets: %w", err)
			return
		}
		for _, sec := range all {
			if v, ok := secretVersionFrom(sec); ok && v.Project == project {
				s.Secrets = append(s.Secrets, v)
			} else {
				s.OtherSecrets[sec.Spec.Name] = true
			}
		}
		slices.SortFunc(s.Secrets, func(a, b SecretVersion) int { return cmp.Compare(a.Name, b.Name) })
	})
	wg.Go(func() { errs[3] = t.observeVolumes(ctx, d, s, &mu) })
	imgErrs := make([]error, len(d.Services))
	for i, svc := range d.Services {
		wg.Go(func() {
			img, err := t.observeImage(ctx, svc.Image)
			imgErrs[i] = err
			mu.Lock()
			s.Images[svc.Name] = img
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range append(errs, imgErrs...) {
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (t *Target) observeNetworks(ctx context.Context, project string, s *State) error {
	list, err := t.Client.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelProject+"="+project), filters.Arg("driver", "overlay"))})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range list {
		if n.Labels[LabelProject] != project {
			continue
		}
		s.Networks[n.Name] = ObservedNetwork{ID: n.ID, Name: n.Name, Hash: n.Labels[deployer.LabelNetworkHash], Internal: n.Internal}
	}
	return nil
}

// observeImage inspects a reference on the manager and asks each reachable
// node whether it has that image.
func (t *Target) observeImage(ctx context.Context, ref string) (ImageState, error) {
	st := ImageState{Ref: ref}
	img, err := t.Client.ImageInspect(ctx, ref)
	if errdefs.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("inspect image %s on the manager: %w", ref, err)
	}
	st.ID, st.RepoDigests = img.ID, img.RepoDigests
	if img.Config != nil {
		st.BuildDigest = img.Config.Labels[deployer.LabelBuildDigest]
	}
	lacking, err := t.lacking(ctx, st.ID)
	st.Lacking = lacking
	return st, err
}

// lacking lists the reachable nodes, but the manager's, without an image.
func (t *Target) lacking(ctx context.Context, id string) ([]string, error) {
	var out []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range t.Nodes.Nodes {
		e := t.Nodes.Engine(n.ID)
		if n.Self || e == nil {
			continue
		}
		wg.Go(func() {
			if _, err := e.ImageInspect(ctx, id); err != nil {
				mu.Lock()
				out = append(out, n.Hostname)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(out)
	return out, nil
}

// observeVolumes finds, on every reachable node, the project's named
// volumes: a stateful service is pinned to the node that holds its data.
func (t *Target) observeVolumes(ctx context.Context, d *deployer.Desired, s *State, mu *sync.Mutex) error {
	var wg sync.WaitGroup
	errs := make([]error, len(t.Nodes.Nodes))
	for i, n := range t.Nodes.Nodes {
		e := t.engine(n)
		if e == nil {
			continue
		}
		wg.Go(func() {
			list, err := e.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelProject+"="+d.Project.Name))})
			if err != nil {
				errs[i] = fmt.Errorf("list volumes on node %s: %w", n.Hostname, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, v := range list.Volumes {
				s.Volumes[v.Name] = append(s.Volumes[v.Name], n.Hostname)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, hosts := range s.Volumes {
		slices.Sort(hosts)
	}
	return nil
}
