package deployer

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"
	"golang.org/x/sync/errgroup"
)

// DownOptions change what Down removes.
type DownOptions struct {
	Volumes bool // also the project's volumes, kept secrets included
	// Images is "" (none), "local" (images the project built) or "all"
	// (also the images its services pulled).
	Images   string
	Reporter Reporter
}

// Down removes the project's containers and networks, and on request its
// volumes and images. It finds everything by the project label, so it needs
// no file and never touches another project's objects.
func Down(ctx context.Context, eng Engine, project string, d *Desired, opts DownOptions) error {
	rep := opts.Reporter
	if rep == nil {
		rep = Discard
	}
	byProject := filters.NewArgs(filters.Arg("label", LabelProject+"="+project))
	list, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: byProject})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range list {
		if c.Labels[LabelRole] == roleState && !opts.Volumes {
			continue // it holds the kept secrets, which stay with the volumes
		}
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = c.Names[0][1:]
		}
		g.Go(func() error {
			on := Event{Kind: KindContainer, Name: name, Op: OpRemove}
			emit(rep, on.working(""))
			if err := eng.ContainerStop(gctx, c.ID, container.StopOptions{}); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("stop %s: %w", name, err)
			}
			if err := eng.ContainerRemove(gctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("remove %s: %w", name, err)
			}
			emit(rep, on.done())
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	nets, err := eng.NetworkList(ctx, network.ListOptions{Filters: byProject})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets {
		if err := eng.NetworkRemove(ctx, n.ID); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove network %s: %w", n.Name, err)
		}
		emit(rep, Event{Kind: KindNetwork, Name: n.Name, Op: OpRemove, Status: StatusDone})
	}

	if opts.Volumes {
		vols, err := eng.VolumeList(ctx, volume.ListOptions{Filters: byProject})
		if err != nil {
			return fmt.Errorf("list volumes: %w", err)
		}
		for _, v := range vols.Volumes {
			if err := eng.VolumeRemove(ctx, v.Name, false); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("remove volume %s: %w", v.Name, err)
			}
			emit(rep, Event{Kind: KindVolume, Name: v.Name, Op: OpRemove, Status: StatusDone})
		}
	}

	if opts.Images != "" && d != nil {
		seen := map[string]bool{}
		for _, svc := range d.Services {
			if seen[svc.Image] || (svc.Build == nil && opts.Images != "all") {
				continue
			}
			seen[svc.Image] = true
			if _, err := eng.ImageRemove(ctx, svc.Image, image.RemoveOptions{PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("remove image %s: %w", svc.Image, err)
			}
			emit(rep, Event{Kind: KindImage, Name: svc.Image, Op: OpRemove, Status: StatusDone})
		}
	}
	return nil
}
