package deployer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/errdefs"
)

// The deploy lock is a container that is created and never started: the
// engine creates a named container atomically, so exactly one of two
// concurrent runs gets it, from whichever machine they come. Its labels say
// who holds it, since when and for how long without a heartbeat.
//
// Labels cannot change, so the holder renews the lock by writing the time
// into a heartbeat file in the container (the archive API, which works on a
// created container) every TTL/4. A lock whose last heartbeat (or, before
// the first one, its creation) is older than its TTL belongs to a run that
// is gone: the next run removes that very container, by its ID, and tries
// again. Removing by ID matters: two runs that both saw it expired remove
// the same container, and the one whose create then fails sees the other's
// fresh lock. Times are the engine's (Info), so clients with skewed clocks
// agree on what expired.
const (
	labelLockOf     = "io.swdeploy.lock-of"
	labelLockHolder = "io.swdeploy.lock-holder"
	labelLockSince  = "io.swdeploy.lock-since"
	labelLockToken  = "io.swdeploy.lock-token"
	labelLockTTL    = "io.swdeploy.lock-ttl"
	// labelLockExpires is read by swdeploy versions without heartbeats: it
	// keeps them from taking over a live lock within its first hour.
	labelLockExpires = "io.swdeploy.lock-expires"
	roleLock         = "lock"
	heartbeatFile    = "heartbeat"
	// LockTTL is how long a lock lives after its holder's last heartbeat.
	LockTTL = time.Minute
)

// ErrLockLost is the cause of a locked run's cancellation when its lock was
// broken (swdeploy unlock) or taken over after missed heartbeats.
var ErrLockLost = errors.New("the deploy lock was lost: another run broke it or took it over after missed heartbeats")

// LockName is the name of a project's lock container.
func LockName(project string) string { return project + "-swdeploy-lock" }

// LockOptions change how Lock waits and how long the lock lives.
type LockOptions struct {
	// Wait is how long to wait for another holder to let go (0: fail at
	// once).
	Wait time.Duration
	// TTL is how long the lock outlives a missed heartbeat (default
	// LockTTL); it is written in the lock, so that others judge by it.
	TTL time.Duration
}

// LockedError says who holds a project's lock.
type LockedError struct {
	Project string
	Holder  string
	Since   time.Time
	Expires time.Time // if no heartbeat comes before
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("project %s is locked by %s since %s (renewed while that run lives; it expires at %s without a heartbeat); wait with --lock-timeout, or break it with `swdeploy unlock` if that run is gone",
		e.Project, e.Holder, e.Since.Format(time.RFC3339), e.Expires.Format(time.RFC3339))
}

// Lock takes the project's lock, waiting up to opts.Wait for a holder to
// let go, and renews it until released. The returned context is ctx,
// cancelled with cause ErrLockLost if the lock is lost meanwhile. The
// returned function releases the lock if it is still this run's; it works
// even after ctx is cancelled, so an interrupted run still releases it.
func Lock(ctx context.Context, eng Engine, project string, opts LockOptions) (context.Context, func(), error) {
	if opts.TTL <= 0 {
		opts.TTL = LockTTL
	}
	if err := ensureKeeperImage(ctx, eng); err != nil {
		return nil, nil, err
	}
	b := make([]byte, 8)
	rand.Read(b)
	token := hex.EncodeToString(b)
	deadline := time.Now().Add(opts.Wait)
	for {
		now := time.Now().UTC()
		labels := map[string]string{
			LabelRole: roleLock, labelLockOf: project, labelLockHolder: holder(), labelLockToken: token,
			labelLockSince: now.Format(time.RFC3339), labelLockTTL: opts.TTL.String(),
			labelLockExpires: now.Add(time.Hour).Format(time.RFC3339),
		}
		created, err := eng.ContainerCreate(ctx, &container.Config{Image: keeperImage, Cmd: []string{"/none"}, Labels: labels, NetworkDisabled: true},
			&container.HostConfig{NetworkMode: "none"}, nil, nil, LockName(project))
		if err == nil {
			return hold(ctx, eng, created.ID, token, opts.TTL)
		}
		if !errdefs.IsConflict(err) {
			return nil, nil, fmt.Errorf("take the deploy lock: %w", err)
		}
		held, err := readLock(ctx, eng, project)
		if err != nil {
			return nil, nil, err
		}
		if held == nil {
			// Released meanwhile, or being removed: try again shortly.
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return nil, nil, err
			}
			continue
		}
		if held.expired {
			// By ID: if another run took it over meanwhile, its lock has
			// another ID and stays. Not found or a removal in progress
			// (conflict) means another run got there first.
			err := eng.ContainerRemove(ctx, held.id, container.RemoveOptions{Force: true})
			if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
				return nil, nil, fmt.Errorf("take over the expired deploy lock: %w", err)
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, nil, &held.LockedError
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil, nil, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// hold renews the lock id until the returned function releases it.
func hold(ctx context.Context, eng Engine, id, token string, ttl time.Duration) (context.Context, func(), error) {
	// Heartbeats carry the engine's time, counted on from one reading with
	// the local monotonic clock.
	base, err := engineNow(ctx, eng)
	if err != nil {
		_ = eng.ContainerRemove(context.WithoutCancel(ctx), id, container.RemoveOptions{Force: true})
		return nil, nil, err
	}
	start := time.Now()
	locked, cancel := context.WithCancelCause(ctx)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 4)
		defer tick.Stop()
		bctx := context.WithoutCancel(ctx)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// A failed write is retried at the next tick: the lock
			// expires only after a whole TTL without one.
			err := writeHeartbeat(bctx, eng, id, base.Add(time.Since(start)), ttl/4)
			if errdefs.IsNotFound(err) {
				cancel(ErrLockLost)
				return
			}
		}
	}()
	var once sync.Once
	release := func() {
		once.Do(func() {
			close(stop)
			<-done
			rmCtx, cancelRm := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancelRm()
			defer cancel(context.Canceled)
			c, err := eng.ContainerInspect(rmCtx, id)
			if err != nil || c.Config == nil || c.Config.Labels[labelLockToken] != token {
				return // gone, or (impossibly, by ID) not ours: leave it
			}
			_ = eng.ContainerRemove(rmCtx, id, container.RemoveOptions{Force: true})
		})
	}
	return locked, release, nil
}

func writeHeartbeat(ctx context.Context, eng Engine, id string, at time.Time, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tarball, err := tarFiles([]secretFile{{name: heartbeatFile, data: []byte(at.UTC().Format(time.RFC3339Nano)), mode: 0o644}})
	if err != nil {
		return err
	}
	return eng.CopyToContainer(ctx, id, stateDir, tarball, container.CopyToContainerOptions{})
}

// heldLock is a lock as another run finds it.
type heldLock struct {
	LockedError
	id      string
	expired bool
}

// readLock reads who holds the lock and whether it expired, or nil when
// nobody holds it.
func readLock(ctx context.Context, eng Engine, project string) (*heldLock, error) {
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
	h := &heldLock{LockedError: LockedError{Project: project, Holder: l[labelLockHolder]}, id: c.ID}
	h.Since, _ = time.Parse(time.RFC3339, l[labelLockSince])
	ttl, err := time.ParseDuration(l[labelLockTTL])
	if err != nil {
		ttl = time.Hour // a lock of a swdeploy without heartbeats
	}
	last, _ := time.Parse(time.RFC3339Nano, c.Created)
	rc, _, err := eng.CopyFromContainer(ctx, c.ID, stateDir+"/"+heartbeatFile)
	switch {
	case errdefs.IsNotFound(err):
		// No heartbeat yet (or gone with its lock): creation counts.
	case err != nil:
		// The engine cannot read a container it is removing.
		if c2, ierr := eng.ContainerInspect(ctx, c.ID); errdefs.IsNotFound(ierr) || (ierr == nil && c2.State != nil && (c2.State.Status == "removing" || c2.State.Dead)) {
			return nil, nil
		}
		return nil, fmt.Errorf("read the deploy lock's heartbeat: %w", err)
	default:
		files, err := untarFiles(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read the deploy lock's heartbeat: %w", err)
		}
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(files[heartbeatFile]))); err == nil {
			last = t
		}
	}
	now, err := engineNow(ctx, eng)
	if err != nil {
		return nil, err
	}
	h.Expires = last.Add(ttl).UTC()
	h.expired = now.After(h.Expires)
	return h, nil
}

// engineNow is the engine's clock.
func engineNow(ctx context.Context, eng Engine) (time.Time, error) {
	info, err := eng.Info(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the engine's clock: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the engine's clock: %q: %w", info.SystemTime, err)
	}
	return t, nil
}

// Unlock breaks the project's lock, whoever holds it.
func Unlock(ctx context.Context, eng Engine, project string) error {
	c, err := eng.ContainerInspect(ctx, LockName(project))
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the deploy lock: %w", err)
	}
	if c.Config == nil || c.Config.Labels[labelLockOf] != project {
		return fmt.Errorf("container %s exists but is not swdeploy's lock for %s; remove or rename it", LockName(project), project)
	}
	err = eng.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
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
