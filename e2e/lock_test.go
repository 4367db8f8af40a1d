package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/fathat101/swdeploy/deployer"
)

// expiredLock makes the lock a killed run leaves behind: its holder stopped
// renewing it two hours ago.
func expiredLock(t *testing.T, project string) string {
	t.Helper()
	ctx := context.Background()
	old := time.Now().UTC().Add(-2 * time.Hour)
	c, err := engine.ContainerCreate(ctx, &container.Config{Image: "swdeploy-keeper:1", Cmd: []string{"/none"}, NetworkDisabled: true,
		Labels: map[string]string{
			"io.swdeploy.role": "lock", "io.swdeploy.lock-of": project, "io.swdeploy.lock-holder": "a killed run",
			"io.swdeploy.lock-since": old.Format(time.RFC3339), "io.swdeploy.lock-expires": old.Add(time.Hour).Format(time.RFC3339),
			"io.swdeploy.lock-token": "dead", "io.swdeploy.lock-ttl": "1m0s",
		}}, &container.HostConfig{NetworkMode: "none"}, nil, nil, deployer.LockName(project))
	if err != nil {
		t.Fatal(err)
	}
	beat := []byte(old.Format(time.RFC3339Nano))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "heartbeat", Mode: 0o644, Size: int64(len(beat)), Typeflag: tar.TypeReg, ModTime: old})
	tw.Write(beat)
	tw.Close()
	if err := engine.CopyToContainer(ctx, c.ID, "/v", &buf, container.CopyToContainerOptions{}); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// TestLockTakeoverRace lets several runs find the same expired lock at
// once: exactly one may take it over, the others must see it held.
func TestLockTakeoverRace(t *testing.T) {
	b := make([]byte, 3)
	rand.Read(b)
	project := "swlock" + hex.EncodeToString(b)
	ctx := context.Background()
	t.Cleanup(func() { engine.ContainerRemove(ctx, deployer.LockName(project), container.RemoveOptions{Force: true}) })
	if _, release, err := deployer.Lock(ctx, engine, project, deployer.LockOptions{}); err != nil { // imports the helper image if needed
		t.Fatal(err)
	} else {
		release()
	}
	const contenders = 6
	for round := 0; round < 5; round++ {
		dead := expiredLock(t, project)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var releases []func()
		var lockedErrs int
		start := make(chan struct{})
		for i := 0; i < contenders; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, release, err := deployer.Lock(ctx, engine, project, deployer.LockOptions{})
				mu.Lock()
				defer mu.Unlock()
				var held *deployer.LockedError
				switch {
				case err == nil:
					releases = append(releases, release)
				case errors.As(err, &held):
					lockedErrs++
				default:
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(releases) != 1 || lockedErrs != contenders-1 {
			t.Fatalf("round %d: %d runs took the lock over, %d found it held; want exactly 1 and %d", round, len(releases), lockedErrs, contenders-1)
		}
		if _, err := engine.ContainerInspect(ctx, dead); err == nil {
			t.Fatalf("round %d: the expired lock is still there", round)
		}
		releases[0]()
		if _, err := engine.ContainerInspect(ctx, deployer.LockName(project)); err == nil {
			t.Fatalf("round %d: release left the lock", round)
		}
	}
}

// TestLockRenewAndRelease checks that a held lock is renewed (it does not
// expire while its holder lives), that a run whose lock was broken is told
// so, and that it does not remove the next holder's lock when it releases.
func TestLockRenewAndRelease(t *testing.T) {
	b := make([]byte, 3)
	rand.Read(b)
	project := "swlock" + hex.EncodeToString(b)
	ctx := context.Background()
	t.Cleanup(func() { engine.ContainerRemove(ctx, deployer.LockName(project), container.RemoveOptions{Force: true}) })

	const ttl = 4 * time.Second
	lockedA, releaseA, err := deployer.Lock(ctx, engine, project, deployer.LockOptions{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * ttl) // without heartbeats it would have expired twice over
	var held *deployer.LockedError
	if _, _, err := deployer.Lock(ctx, engine, project, deployer.LockOptions{TTL: ttl}); !errors.As(err, &held) {
		t.Fatalf("a renewed lock was taken over: %v", err)
	}

	if err := deployer.Unlock(ctx, engine, project); err != nil {
		t.Fatal(err)
	}
	_, releaseB, err := deployer.Lock(ctx, engine, project, deployer.LockOptions{TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-lockedA.Done():
		if !errors.Is(context.Cause(lockedA), deployer.ErrLockLost) {
			t.Fatalf("cancelled for %v, want the lost lock", context.Cause(lockedA))
		}
	case <-time.After(time.Minute):
		t.Fatal("the run whose lock was broken was not told")
	}
	releaseA()
	c, err := engine.ContainerInspect(ctx, deployer.LockName(project))
	if err != nil {
		t.Fatalf("releasing a broken lock removed the next holder's: %v", err)
	}
	releaseB()
	if _, err := engine.ContainerInspect(ctx, c.ID); err == nil {
		t.Fatal("release left the lock")
	}
}
