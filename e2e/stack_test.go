package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"

	"github.com/fathat101/swdeploy/bench"
)

// TestStackLifecycle takes one project through the life a user gives it:
// up from nothing, use, re-run, change, down and up, down with volumes.
// It is one test because a cold up costs minutes on this machine.
func TestStackLifecycle(t *testing.T) {
	d := newDeployment(t)

	d.must("up")
	assertAllHealthy(t, d)

	email := "Luke.Skywalker@example.com"
	password := "UseTheF0rce"
	signUpAndVerify(t, d, email, password)
	token := login(t, d, email, password)
	code, films := call(t, "GET", d.url("/films/v1/"), token, nil)
	if code != 200 || films["count"] != float64(6) {
		t.Fatalf("films: %d %v", code, films)
	}
	if code, body := call(t, "POST", d.url("/users/v1/logout"), token, nil); code != 200 {
		t.Fatalf("logout: %d %v", code, body)
	}
	if code, _ := call(t, "GET", d.url("/films/v1/"), token, nil); code != 401 {
		t.Fatalf("films after logout: want 401, got %d", code)
	}

	t.Run("cache apart from revocations", func(t *testing.T) { checkCacheRedis(t, d) })

	t.Run("second up changes nothing", func(t *testing.T) {
		before := d.containers()
		_, errOut, code := d.swd("up")
		if code != 0 || !strings.Contains(errOut, "up to date") {
			t.Fatalf("up: exit %d: %s", code, errOut)
		}
		if after := d.containers(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("containers changed:\nbefore %v\nafter  %v", before, after)
		}
		if _, _, code := d.swd("plan", "--detailed-exitcode"); code != 0 {
			t.Fatalf("plan --detailed-exitcode: want 0, got %d", code)
		}
	})

	t.Run("isolation", func(t *testing.T) { checkIsolation(t, d) })

	t.Run("changing the api environment recreates only api", func(t *testing.T) {
		before := d.containers()
		d.env = append(d.env, "STARWARS_SMTP_FROM=deploy@example.com")
		out, _, code := d.swd("plan", "--detailed-exitcode")
		if code != 2 || !strings.Contains(out, "recreate container "+d.project+"-api-1 (config changed: environment)") || strings.Count(out, "\n  ") != 1 {
			t.Fatalf("plan: exit %d:\n%s", code, out)
		}
		d.must("up")
		after := d.containers()
		for svc, id := range before {
			if changed := after[svc] != id; changed != (svc == "api") {
				t.Errorf("service %s: changed=%v (before %s, after %s)", svc, changed, id, after[svc])
			}
		}
		assertAllHealthy(t, d)
	})

	t.Run("down then up keeps the user", func(t *testing.T) {
		d.must("down")
		if c := d.containers(); len(c) != 0 {
			t.Fatalf("containers left after down: %v", c)
		}
		d.must("up")
		login(t, d, email, password)
	})

	t.Run("down --volumes removes the user", func(t *testing.T) {
		d.must("down", "--volumes")
		d.must("up")
		code, body := call(t, "POST", d.url("/users/v1/login"), "", map[string]string{"email": email, "password": password})
		if code != 404 {
			t.Fatalf("login after down --volumes: want 404, got %d %v", code, body)
		}
	})
}

func assertAllHealthy(t *testing.T, d *deployment) {
	t.Helper()
	containers, out := d.status(t)
	if len(containers) != 6 {
		t.Fatalf("want 6 containers (edge, api, mysql, redis, cache, swapi), got %s", out)
	}
	for _, c := range containers {
		if c.State != "running" || c.Health != "healthy" {
			t.Errorf("%s: %s/%s", c.Service, c.State, c.Health)
		}
	}
}

var linkRe = regexp.MustCompile(`email_verification\?token=([A-Za-z0-9_.\-]+)`)

// signUpAndVerify signs up and follows the verification link, which a
// stack without SMTP writes to the API's log.
func signUpAndVerify(t *testing.T, d *deployment, email, password string) {
	t.Helper()
	if code, body := call(t, "POST", d.url("/users/v1/signup"), "", map[string]string{"email": email, "password": password}); code != 200 {
		t.Fatalf("signup: %d %v", code, body)
	}
	logs := d.must("logs", "api", "--no-log-prefix")
	var token string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, strings.ToLower(email)) {
			if m := linkRe.FindStringSubmatch(line); m != nil {
				token = m[1]
			}
		}
	}
	if token == "" {
		t.Fatalf("no verification link for %s in the api's log:\n%s", email, logs)
	}
	if code, body := call(t, "GET", d.url("/users/v1/email_verification?token="+token), "", nil); code != 200 {
		t.Fatalf("verify: %d %v", code, body)
	}
}

func login(t *testing.T, d *deployment, email, password string) string {
	t.Helper()
	code, body := call(t, "POST", d.url("/users/v1/login"), "", map[string]string{"email": email, "password": password})
	if code != 200 {
		t.Fatalf("login: %d %v", code, body)
	}
	return body["token"].(string)
}

// redisCLI runs redis-cli in a service's container, with the password
// from its secret.
func redisCLI(t *testing.T, d *deployment, svc string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"exec", d.project + "-" + svc + "-1", "sh", "-c",
		`REDISCLI_AUTH="$(cat /run/secrets/redis_password)" exec redis-cli "$@"`, "redis-cli"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v in %s: %v %s", args, svc, err, out)
	}
	return strings.TrimSpace(string(out))
}

// checkCacheRedis: the upstream answers went to the cache Redis, bounded
// and evicting; the revocation (from the logout) to redis, which never
// evicts and holds no cache entry.
func checkCacheRedis(t *testing.T, d *deployment) {
	for svc, want := range map[string]map[string]string{
		"cache": {"maxmemory": "67108864", "maxmemory-policy": "allkeys-lru", "appendonly": "no"},
		"redis": {"maxmemory-policy": "noeviction", "appendonly": "yes"},
	} {
		for key, value := range want {
			if got := strings.Fields(redisCLI(t, d, svc, "config", "get", key)); len(got) != 2 || got[1] != value {
				t.Errorf("%s: config %s = %v, want %s", svc, key, got, value)
			}
		}
	}
	if keys := redisCLI(t, d, "cache", "--scan", "--pattern", "*swapi:films/*"); keys == "" {
		t.Error("no films page in the cache Redis")
	}
	if keys := redisCLI(t, d, "redis", "--scan", "--pattern", "*swapi:*"); keys != "" {
		t.Errorf("cache entries in the revocations' Redis: %s", keys)
	}
	if keys := redisCLI(t, d, "redis", "--scan", "--pattern", "*revoked:*"); keys == "" {
		t.Error("no revocation in redis after the logout")
	}
}

// checkIsolation listens on every address the host has on a Docker bridge
// and checks that mysql, redis and cache reach none of them, while a container on
// the public network does (so the check can tell), and the api reaches
// both databases.
func checkIsolation(t *testing.T, d *deployment) {
	ctx := context.Background()
	l, err := bench.ListenCounting()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Port()

	var hostAddrs []string
	nets, err := engine.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if c.Gateway != "" && !strings.Contains(c.Gateway, ":") {
				hostAddrs = append(hostAddrs, c.Gateway)
			}
		}
	}
	if len(hostAddrs) == 0 {
		t.Fatal("no bridge gateway addresses found")
	}
	publicGateway := ""
	internalNet, err := engine.NetworkInspect(ctx, d.project+"_internal-network", network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !internalNet.Internal {
		t.Fatal("internal-network is not internal")
	}
	publicNet, err := engine.NetworkInspect(ctx, d.project+"_service-network", network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publicGateway = publicNet.IPAM.Config[0].Gateway

	// Control: from the public network the listener is reachable.
	ctl := exec.Command("docker", "run", "--rm", "--network", publicNet.Name, "--entrypoint", "bash", "swdeploy-offline/mysql:8.4",
		"-c", fmt.Sprintf("timeout 3 bash -c 'echo > /dev/tcp/%s/%d'", publicGateway, port))
	if out, err := ctl.CombinedOutput(); err != nil {
		t.Fatalf("control container on the public network cannot reach %s:%d: %v %s", publicGateway, port, err, out)
	}
	controlHits := l.Accepted()

	for _, svc := range []string{"mysql", "redis", "cache"} {
		name := d.project + "-" + svc + "-1"
		for _, addr := range hostAddrs {
			cmd := exec.Command("docker", "exec", name, "bash", "-c", fmt.Sprintf("timeout 3 bash -c 'echo > /dev/tcp/%s/%d' 2>/dev/null", addr, port))
			if err := cmd.Run(); err == nil {
				t.Errorf("%s reached the host at %s:%d", svc, addr, port)
			}
		}
	}
	if got := l.Accepted(); got != controlHits {
		t.Errorf("the listener accepted %d connection(s) from the internal network", got-controlHits)
	}
	if line := d.readyz(); !ready(line) {
		t.Errorf("api cannot reach mysql and redis: readyz %s", line)
	}
}
