package deployer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/fathat101/swdeploy/deployer/buildcontext"
)

// buildImage builds a service's image from its context, streamed as a tar,
// and labels it with the context digest so that the next plan can skip the
// build when nothing changed.
func buildImage(ctx context.Context, eng Engine, project string, svc *Service, action string, rep Reporter) error {
	b := svc.Build
	tarball, err := buildcontext.Tar(b.Context, b.Dockerfile)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer tarball.Close()
	labels := map[string]string{LabelBuildDigest: b.Digest, LabelProject: project, LabelService: svc.Name}
	for k, v := range svc.Config.Build.Labels {
		labels[k] = v
	}
	resp, err := eng.ImageBuild(ctx, tarball, build.ImageBuildOptions{
		Tags: []string{svc.Image}, Dockerfile: b.Dockerfile, BuildArgs: b.Args, Labels: labels,
		Target: svc.Config.Build.Target, NoCache: svc.Config.Build.NoCache, Remove: true, ForceRemove: true,
		Version: build.BuilderV1,
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return streamMessages(resp.Body, Event{Action: action, Kind: KindImage, Name: svc.Image, Op: OpBuild}, rep)
}

// pullImage pulls a reference, reporting progress.
func pullImage(ctx context.Context, eng Engine, ref, action string, rep Reporter) error {
	rc, err := eng.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	return streamMessages(rc, Event{Action: action, Kind: KindImage, Name: ref, Op: OpPull}, rep)
}

// streamMessages turns the engine's JSON message stream (build output or
// pull progress) into events and returns the first error it reports.
func streamMessages(r io.Reader, on Event, rep Reporter) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read engine output: %w", err)
		}
		if m.Error != nil {
			return errors.New(strings.TrimSpace(m.Error.Message))
		}
		var line string
		switch {
		case m.Stream != "":
			line = strings.TrimRight(m.Stream, "\n")
		case m.Status != "":
			line = m.Status
			if m.ID != "" {
				line = m.ID + ": " + line
			}
			if m.Progress != nil && m.Progress.Total > 0 {
				line += fmt.Sprintf(" %d/%d", m.Progress.Current, m.Progress.Total)
			}
		}
		if line != "" {
			emit(rep, on.progress(line))
		}
	}
}

// BuildImage builds a service's image on eng as `up` does: the swarm
// target builds on the manager's engine.
func BuildImage(ctx context.Context, eng Engine, project string, svc *Service, action string, rep Reporter) error {
	return buildImage(ctx, eng, project, svc, action, rep)
}

// PullImage pulls a reference on eng, reporting progress.
func PullImage(ctx context.Context, eng Engine, ref, action string, rep Reporter) error {
	return pullImage(ctx, eng, ref, action, rep)
}
