package deployer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/errdefs"
)

// The deploy lock is a container that is created and never started: the
// engine creates a named container atomically, so exactly one of two
// concurrent runs gets it, from whichever machine they come. Its labels say
// who holds it and since when.
const (
	labelLockOf      = "io.swdeploy.lock-of"
	labelLockHolder  = "io.swdeploy.lock-holder"
	labelLockSince   = "io.swdeploy.lock-since"
	labelLockToken   = "io.swdeploy.lock-token"
	labelLockExpires = "io.swdeploy.lock-expires"
	roleLock         = "lock"
	// LockTTL is how long a lock lives if its holder never releases it (a
	// killed process): after that the next run takes it over.
	LockTTL = time.Hour
)

// LockName is the name of a project's lock container.
func LockName(project string) string { return project + "-swdeploy-lock" }

// LockedError says who holds a project's lock.
type LockedError struct {
	Project string
	Holder  string
	Since   time.Time
	Expires time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("project %s is locked by %s since %s (the lock expires at %s); wait with --lock-timeout, or break it with `swdeploy unlock` if that run is gone",
		e.Project, e.Holder, e.Since.Format(time.RFC3339), e.Expires.Format(time.RFC3339))
}

// Lock takes the project's lock, waiting up to wait for a holder to let go
// (0: fail at once). The returned function releases it; it works even after
// ctx is cancelled, so an interrupted run still releases its lock.
func Lock(ctx context.Context, eng Engine, project string, wait time.Duration) (func(), error) {
	if err := ensureKeeperImage(ctx, eng); err != nil {
		return nil, err
	}
	token := make([]byte, 8)
	rand.Read(token)
	deadline := time.Now().Add(wait)
	for {
		now := time.Now().UTC()
		labels := map[string]string{
			LabelRole: roleLock, labelLockOf: project, labelLockHolder: holder(),
			labelLockSince: now.Format(time.RFC3339), labelLockExpires: now.Add(LockTTL).Format(time.RFC3339),
			labelLockToken: hex.EncodeToString(token),
		}
		created, err := eng.ContainerCreate(ctx, &container.Config{Image: keeperImage, Cmd: []string{"/none"}, Labels: labels, NetworkDisabled: true},
			&container.HostConfig{NetworkMode: "none"}, nil, nil, LockName(project))
		if err == nil {
			id := created.ID
			return func() {
				rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_ = eng.ContainerRemove(rmCtx, id, container.RemoveOptions{Force: true})
			}, nil
		}
		if !errdefs.IsConflict(err) {
			return nil, fmt.Errorf("take the deploy lock: %w", err)
		}
		held, err := lockHolder(ctx, eng, project)
		if err != nil {
			return nil, err
		}
		if held == nil {
			continue // released meanwhile
		}
		if now.After(held.Expires) {
			if err := Unlock(ctx, eng, project); err != nil {
				return nil, err
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, held
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// lockHolder reads who holds the lock, or nil when nobody does.
func lockHolder(ctx context.Context, eng Engine, project string) (*LockedError, error) {
	c, err := eng.ContainerInspect(ctx, LockName(project))
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the deploy lock: %w", err)
	}
	if c.Config == nil || c.Config.Labels[labelLockOf] != project {
		return nil, fmt.Errorf("container %s exists but is not swdeploy's lock for %s; remove or rename it", LockName(project), project)
	}
	l := c.Config.Labels
	e := &LockedError{Project: project, Holder: l[labelLockHolder]}
	e.Since, _ = time.Parse(time.RFC3339, l[labelLockSince])
	e.Expires, _ = time.Parse(time.RFC3339, l[labelLockExpires])
	return e, nil
}

// Unlock breaks the project's lock, whoever holds it.
func Unlock(ctx context.Context, eng Engine, project string) error {
	held, err := lockHolder(ctx, eng, project)
	if err != nil || held == nil {
		return err
	}
	err = eng.ContainerRemove(ctx, LockName(project), container.RemoveOptions{Force: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("break the deploy lock: %w", err)
	}
	return nil
}

// holder names this run for whoever finds the lock taken.
func holder() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host + " (pid " + strconv.Itoa(os.Getpid()) + ")"
}
