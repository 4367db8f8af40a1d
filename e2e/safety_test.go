package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/fathat101/swdeploy/deployer"
)

// TestSafeChanges changes a running stack the ways an operator does and
// checks that each change is boring: no failed request during an API
// rollout, a broken API rolled back, secrets out of sight and rotatable,
// one deploy at a time, drift shown and repaired.
func TestSafeChanges(t *testing.T) {
	d := newDeployment(t)
	pinImages(t, d) // no other run's rebuild may change them mid-test
	d.must("up")
	email, password := "leia@example.com", "Alderaan1977"
	signUpAndVerify(t, d, email, password)

	t.Run("api rollout drops no request", func(t *testing.T) {
		token := login(t, d, email, password)
		before := d.containers()
		d.env = append(d.env, "STARWARS_SMTP_FROM=rollout-1@example.com")
		stop, results := requestLoop(d, token)
		time.Sleep(time.Second)
		out := d.must("up", "--yes")
		time.Sleep(time.Second)
		ok, failed, samples := stop()
		t.Logf("during the rollout: %d requests, %d failed %v", ok+failed, failed, samples)
		if failed != 0 || ok < 50 {
			t.Fatalf("want zero failed requests of many, got %d failed, %d ok\n%s", failed, ok, out)
		}
		after := d.containers()
		if after["api"] == before["api"] || after["mysql"] != before["mysql"] || after["edge"] != before["edge"] {
			t.Fatalf("want only api replaced:\nbefore %v\nafter  %v", before, after)
		}
		_ = results
	})

	t.Run("an api that never gets healthy is rolled back", func(t *testing.T) {
		before := d.containers()
		d.env = append(d.env, "STARWARS_REDIS_PORT=not-a-port")
		_, errOut, code := d.swd("up", "--yes", "--wait-timeout", "40s")
		d.env = d.env[:len(d.env)-1]
		if code != 1 || !strings.Contains(errOut, "rolled back, the old container keeps serving") || !strings.Contains(errOut, "last log lines") {
			t.Fatalf("want exit 1 with a rollback and the new container's logs, got %d:\n%s", code, errOut)
		}
		if after := d.containers(); after["api"] != before["api"] {
			t.Fatalf("the old api container was replaced: %v -> %v", before["api"], after["api"])
		}
		if code, _ := call(t, "GET", d.url("/healthz"), "", nil); code != 200 {
			t.Fatalf("old api not serving after rollback: %d", code)
		}
		if leftovers := projectContainers(t, d); len(leftovers) != 6 {
			t.Fatalf("want the 6 service containers only, got %v", leftovers)
		}
	})

	t.Run("no secret in inspect output", func(t *testing.T) {
		out := d.must("secrets", "--reveal", "--format", "json")
		var secrets []struct{ Name, Source, Value string }
		if err := json.Unmarshal([]byte(out), &secrets); err != nil || len(secrets) != 8 {
			t.Fatalf("secrets: %v %s", err, out)
		}
		plain := d.must("secrets")
		var inspected strings.Builder
		for _, id := range projectContainers(t, d) {
			b, err := exec.Command("docker", "inspect", id).Output()
			if err != nil {
				t.Fatal(err)
			}
			inspected.Write(b)
			var c []struct{ Image string }
			json.Unmarshal(b, &c)
			img, err := exec.Command("docker", "image", "inspect", c[0].Image).Output()
			if err != nil {
				t.Fatal(err)
			}
			inspected.Write(img)
			hist, _ := exec.Command("docker", "history", "--no-trunc", c[0].Image).Output()
			inspected.Write(hist)
		}
		for _, s := range secrets {
			if s.Value == "" || strings.Contains(inspected.String(), s.Value) {
				t.Errorf("secret %s shows in docker inspect (or is empty)", s.Name)
			}
			if strings.Contains(plain, s.Value) {
				t.Errorf("swdeploy secrets without --reveal shows %s", s.Name)
			}
		}
	})

	t.Run("rotating the jwt access secret invalidates tokens", func(t *testing.T) {
		old := login(t, d, email, password)
		d.must("secrets", "rotate", "jwt_access_secret", "--yes")
		if code, _ := call(t, "GET", d.url("/films/v1/"), old, nil); code != 401 {
			t.Fatalf("token signed with the old secret: want 401, got %d", code)
		}
		fresh := login(t, d, email, password)
		if code, _ := call(t, "GET", d.url("/films/v1/"), fresh, nil); code != 200 {
			t.Fatalf("new token: %d", code)
		}
	})

	t.Run("rotating the redis password", func(t *testing.T) {
		d.must("secrets", "rotate", "redis_password", "--yes")
		token := login(t, d, email, password)
		if code, body := call(t, "POST", d.url("/users/v1/logout"), token, nil); code != 200 {
			t.Fatalf("logout after rotation: %d %v", code, body)
		}
		if code, _ := call(t, "GET", d.url("/films/v1/"), token, nil); code != 401 {
			t.Fatalf("revocation lost after rotation: %d", code)
		}
	})

	t.Run("one deploy at a time", func(t *testing.T) {
		ctx := context.Background()
		_, unlock, err := deployer.Lock(ctx, engine, d.project, deployer.LockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.must("up") // nothing to do: no lock needed
		d.env = append(d.env, "STARWARS_SMTP_FROM=locked@example.com")
		_, errOut, code := d.swd("up")
		if code != 1 || !strings.Contains(errOut, "is locked by") || !strings.Contains(errOut, "since") {
			t.Fatalf("second up: want exit 1 naming the holder, got %d: %s", code, errOut)
		}
		go func() { time.Sleep(2 * time.Second); unlock() }()
		d.must("up", "--lock-timeout", "30s")
		if _, _, err := deployer.Lock(ctx, engine, d.project, deployer.LockOptions{}); err != nil {
			t.Fatal(err) // a lock left by a killed process...
		}
		d.must("unlock") // ...is broken explicitly
		d.must("up")
	})

	t.Run("drift is shown and repaired", func(t *testing.T) {
		p := d.project
		docker(t, "rm", "-f", p+"-redis-1")
		docker(t, "stop", p+"-swapi-1")
		docker(t, "network", "disconnect", p+"_service-network", p+"-api-1")
		out, _, code := d.swd("plan", "--detailed-exitcode")
		for _, want := range []string{
			"create container " + p + "-redis-1 (missing)",
			"start container " + p + "-swapi-1 (not running: exited)",
			"recreate container " + p + "-api-1 (not attached to network " + p + "_service-network)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("plan lacks %q:\n%s", want, out)
			}
		}
		if code != 2 {
			t.Errorf("plan --detailed-exitcode: want 2, got %d", code)
		}
		d.must("up", "--yes")
		assertHealthy(t, d, 5)
		if out, _, code := d.swd("plan", "--detailed-exitcode"); code != 0 {
			t.Fatalf("after repair: exit %d\n%s", code, out)
		}
		// A container recreated by hand with other settings is replaced.
		docker(t, "rm", "-f", p+"-redis-1")
		docker(t, "run", "-d", "--name", p+"-redis-1", "--label", "com.docker.compose.project="+p,
			"--label", "com.docker.compose.service=redis", "--label", "com.docker.compose.oneoff=False",
			"--network", p+"_internal-network", "swdeploy-offline/redis:7", "sleep", "600")
		out, _, _ = d.swd("plan")
		if !strings.Contains(out, "recreate container "+p+"-redis-1 (config changed") {
			t.Errorf("plan does not replace the hand-made redis:\n%s", out)
		}
		d.must("up", "--yes")
		// A volume removed by hand comes back.
		d.must("down")
		docker(t, "volume", "rm", p+"_redis-data")
		out, _, _ = d.swd("plan")
		if !strings.Contains(out, "create volume "+p+"_redis-data (missing)") {
			t.Errorf("plan does not recreate the volume:\n%s", out)
		}
		d.must("up")
		assertHealthy(t, d, 5)
	})
}

// TestInterrupts stops up with SIGINT at three moments and checks that the
// lock is released, every object left is labelled, and the next up
// converges.
func TestInterrupts(t *testing.T) {
	for _, tt := range []struct{ name, when string }{
		{"after network creation", "network %s_service-network done"},
		{"during the build", "image swdeploy-test/slowbuild:latest progress Step"},
		{"during a health wait", "waiting mysql service_healthy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeployment(t)
			d.files = append(d.files, "e2e/testdata/slowbuild.yaml")
			d.env = append(d.env, fmt.Sprintf("NONCE=%d", time.Now().UnixNano()))
			code, seen := interruptWhen(t, d, strings.ReplaceAll(tt.when, "%s", d.project))
			if !seen {
				t.Fatalf("the moment %q never came", tt.when)
			}
			if code != 130 {
				t.Errorf("interrupted up: want exit 130, got %d", code)
			}
			assertAllLabelled(t, d)
			d.env[len(d.env)-1] = "NONCE=0"
			d.must("up")
			assertHealthy(t, d, 5)
		})
	}
}

// interruptWhen runs up, sends SIGINT when a progress line contains marker,
// and returns the exit code and whether the marker was seen.
func interruptWhen(t *testing.T, d *deployment, marker string) (int, bool) {
	cmd := exec.Command(binary, d.args("--progress", "plain", "up")...)
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), d.env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := false
	var lines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !seen && strings.Contains(sc.Text(), marker) {
			seen = true
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	io.Copy(io.Discard, stderr)
	cmd.Wait()
	if !seen || cmd.ProcessState.ExitCode() != 130 {
		t.Logf("up's output:\n%s", strings.Join(lines, "\n"))
	}
	return cmd.ProcessState.ExitCode(), seen
}

func assertAllLabelled(t *testing.T, d *deployment) {
	t.Helper()
	ctx := context.Background()
	byName := filters.NewArgs(filters.Arg("name", d.project))
	cs, _ := engine.ContainerList(ctx, container.ListOptions{All: true, Filters: byName})
	for _, c := range cs {
		if c.Labels["com.docker.compose.project"] != d.project && c.Labels["io.swdeploy.lock-of"] != d.project {
			t.Errorf("container %v has no project label", c.Names)
		}
		if c.Labels["io.swdeploy.lock-of"] == d.project {
			t.Errorf("the lock was not released: %v", c.Names)
		}
	}
	ns, _ := engine.NetworkList(ctx, network.ListOptions{Filters: byName})
	for _, n := range ns {
		if n.Labels["com.docker.compose.project"] != d.project {
			t.Errorf("network %s has no project label", n.Name)
		}
	}
	vs, _ := engine.VolumeList(ctx, volume.ListOptions{Filters: byName})
	for _, v := range vs.Volumes {
		if v.Labels["com.docker.compose.project"] != d.project {
			t.Errorf("volume %s has no project label", v.Name)
		}
	}
}

func assertHealthy(t *testing.T, d *deployment, n int) {
	t.Helper()
	containers, out := d.status(t)
	if len(containers) < n {
		t.Fatalf("want %d containers, got %s", n, out)
	}
	for _, c := range containers {
		if c.State != "running" || (c.Health != "healthy" && c.Health != "") {
			t.Errorf("%s: %s/%s", c.Service, c.State, c.Health)
		}
	}
}

// projectContainers lists the ids of the project's service containers.
func projectContainers(t *testing.T, d *deployment) []string {
	t.Helper()
	cs, err := engine.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+d.project))})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		if c.Labels["com.docker.compose.service"] != "" { // not the state holder
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func docker(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
}

// requestLoop sends requests from 8 clients until stopped: half health
// checks, half authenticated reads. stop returns the counts and a few
// failures.
func requestLoop(d *deployment, token string) (stop func() (ok, failed int64, samples []string), _ struct{}) {
	var okN, failN atomic.Int64
	var mu sync.Mutex
	var samples []string
	done := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				req, _ := http.NewRequest("GET", d.url("/healthz"), nil)
				if i%2 == 1 {
					req, _ = http.NewRequest("GET", d.url("/films/v1/1"), nil)
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failN.Add(1)
					mu.Lock()
					if len(samples) < 5 {
						if err != nil {
							samples = append(samples, err.Error())
						} else {
							samples = append(samples, resp.Status)
						}
					}
					mu.Unlock()
					continue
				}
				okN.Add(1)
			}
		}(i)
	}
	return func() (int64, int64, []string) {
		close(done)
		wg.Wait()
		return okN.Load(), failN.Load(), samples
	}, struct{}{}
}
