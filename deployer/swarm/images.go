package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Copy is what Distribute did for one node.
type Copy struct {
	Node   string // the node's hostname
	NodeID string
	Copied bool // false: the node had the image already
}

// Distribute copies an image, named by its ID, from the manager's engine
// to every reachable node (but the manager's own) that lacks it: the image
// is saved on the manager and streamed into a load on the node, with no
// file in between, to all nodes at once. Without a registry this is how a
// built image reaches the nodes that may run it; services then name it by
// ID, so every node runs the same bytes. Copies are tagless: the ID is the
// reference. The copies made so far are returned with any errors, each
// naming its node.
func Distribute(ctx context.Context, m Manager, nodes *Nodes, imageID string) ([]Copy, error) {
	return DistributeTo(ctx, m, nodes, imageID, nil)
}

// DistributeTo is Distribute to the nodes (by hostname) in only; nil is
// every node.
func DistributeTo(ctx context.Context, m Manager, nodes *Nodes, imageID string, only map[string]bool) ([]Copy, error) {
	if _, err := m.ImageInspect(ctx, imageID); err != nil {
		return nil, fmt.Errorf("image %s on the manager's engine: %w", shortID(imageID), err)
	}
	var targets []Node
	for _, n := range nodes.Nodes {
		if !n.Self && nodes.Engine(n.ID) != nil && (only == nil || only[n.Hostname]) {
			targets = append(targets, n)
		}
	}
	copies := make([]Copy, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, n := range targets {
		wg.Go(func() {
			copies[i] = Copy{Node: n.Hostname, NodeID: n.ID}
			copied, err := copyImage(ctx, m, nodes.Engine(n.ID), imageID)
			copies[i].Copied = copied
			if err != nil {
				errs[i] = fmt.Errorf("copy image %s to node %s (%s): %w", shortID(imageID), n.Hostname, n.Engine, err)
			}
		})
	}
	wg.Wait()
	return copies, errors.Join(errs...)
}

// copyImage loads the image into the node unless it has it already.
func copyImage(ctx context.Context, m Manager, node NodeEngine, imageID string) (bool, error) {
	if _, err := node.ImageInspect(ctx, imageID); err == nil {
		return false, nil
	} else if !errdefs.IsNotFound(err) {
		return false, fmt.Errorf("inspect: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the save when the load fails
	pr, pw := io.Pipe()
	go func() {
		rc, err := m.ImageSave(ctx, []string{imageID})
		if err != nil {
			pw.CloseWithError(fmt.Errorf("save on the manager: %w", err))
			return
		}
		_, err = io.Copy(pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	resp, err := node.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return false, fmt.Errorf("load: %w", err)
	}
	err = jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil)
	resp.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the save if the load stopped reading early
	if err != nil {
		return false, fmt.Errorf("load: %w", err)
	}
	// A load that read a broken stream may report nothing: the image
	// itself is the proof.
	if _, err := node.ImageInspect(ctx, imageID); err != nil {
		return false, fmt.Errorf("not there after load: %w", err)
	}
	return true, nil
}

func shortID(id string) string {
	const prefix = "sha256:"
	if len(id) > len(prefix)+12 && id[:len(prefix)] == prefix {
		return id[len(prefix) : len(prefix)+12]
	}
	return id
}
