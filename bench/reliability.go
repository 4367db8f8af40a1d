package bench

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
)

// dataSet is what must survive every fault: users that can log in and
// revoked tokens that stay revoked.
type dataSet struct {
	live    *User   // its access token drives the load
	users   []*User // every user made for the checks (live included)
	revoked []*User // logged-out sessions: their tokens must stay refused
}

func (h *Harness) makeDataSet(ctx context.Context, api API) (*dataSet, error) {
	n := 5
	if h.cfg.Smoke {
		n = 3
	}
	users, err := api.NewUsers(ctx, "rel", n)
	if err != nil {
		return nil, err
	}
	ds := &dataSet{live: users[0], users: users}
	for _, u := range users[1:] {
		s := &User{Email: u.Email, Password: u.Password}
		if err := api.Login(ctx, s); err != nil {
			return nil, err
		}
		r, err := api.Do(ctx, "POST", "/users/v1/logout", s.Access, nil)
		if err != nil || r.Status != 200 {
			return nil, fmt.Errorf("logout: %v %d %s", err, r.Status, r.Body)
		}
		ds.revoked = append(ds.revoked, s)
	}
	return ds, nil
}

// dataCheck is the outcome of checking a dataSet.
type dataCheck struct {
	loggedIn, accessRefused, refreshRefused int
	users, revoked                          int
	problems                                []string
}

func (c dataCheck) ok() bool {
	return c.loggedIn == c.users && c.accessRefused == c.revoked && c.refreshRefused == c.revoked
}

func (c dataCheck) usersCell() string { return fmt.Sprintf("%d / %d log in", c.loggedIn, c.users) }
func (c dataCheck) revokedCell() string {
	return fmt.Sprintf("%d / %d access, %d / %d refresh refused", c.accessRefused, c.revoked, c.refreshRefused, c.revoked)
}

// check logs every user in (with a fresh session, not the live one) and
// presents every revoked token. Presenting a revoked refresh token revokes
// all of that user's tokens, which only the check users hold.
func (h *Harness) check(ctx context.Context, api API, ds *dataSet) dataCheck {
	c := dataCheck{users: len(ds.users), revoked: len(ds.revoked)}
	for _, u := range ds.users {
		s := &User{Email: u.Email, Password: u.Password}
		if err := api.Login(ctx, s); err != nil {
			c.problems = append(c.problems, err.Error())
			continue
		}
		c.loggedIn++
	}
	for _, u := range ds.revoked {
		r, err := api.Do(ctx, "GET", "/films/v1/", u.Access, nil)
		if err == nil && r.Status == 401 {
			c.accessRefused++
		} else {
			c.problems = append(c.problems, fmt.Sprintf("revoked access token: %v %d %s", err, r.Status, r.Body))
		}
		r, err = api.Do(ctx, "GET", "/users/v1/generate_tokens?old_access_token="+u.Access, u.Refresh, nil)
		if err == nil && r.Status == 401 {
			c.refreshRefused++
		} else {
			c.problems = append(c.problems, fmt.Sprintf("revoked refresh token: %v %d %s", err, r.Status, r.Body))
		}
	}
	return c
}

// Reliability runs the reliability checks on the shared deployment and
// returns the report.
func (h *Harness) Reliability(ctx context.Context) (*Report, error) {
	p, err := h.Shared(ctx)
	if err != nil {
		return nil, err
	}
	api := p.API()
	if err := waitOperatorReady(ctx, p); err != nil {
		return nil, err
	}
	rep := &Report{Title: "swdeploy reliability report"}
	rep.Intro = []string{"Produced by `go run ./bench/cmd/swbench reliability` (`make reliability`); do not edit by hand. " +
		"The stack was deployed with swdeploy on this engine (stack/compose.yaml, the local SWAPI stand-in of bench/testdata/stack.yaml, the stand-in images of stack/offline.env); all traffic stayed on this machine."}
	h.machineTable(rep.Section("Machine and run"),
		[2]string{"durations", fmt.Sprintf("load %s at %d connections, %d threads; each fuzz target %s", h.cfg.LoadDuration, h.cfg.Connections, h.cfg.Threads, h.cfg.FuzzTime)},
		[2]string{"project", p.Name})

	ds, err := h.makeDataSet(ctx, api)
	if err != nil {
		return nil, err
	}
	// Warm the cache so that the load is on cached reads.
	if r, err := api.Do(ctx, "GET", "/films/v1/", ds.live.Access, nil); err != nil || r.Status != 200 {
		return nil, fmt.Errorf("GET /films/v1/: %v %d", err, r.Status)
	}

	// 1. Load.
	h.logf("reliability: load")
	s := rep.Section("1. Load", fmt.Sprintf("wrk for %s with %d connections and %d threads on an authenticated `GET /films/v1/` through the published port. Goal: no non-2xx answer and no socket error.",
		h.cfg.LoadDuration, h.cfg.Connections, h.cfg.Threads))
	w, err := h.Wrk(ctx, p.URL()+"/films/v1/", ds.live.Access, h.cfg.LoadDuration)
	if err != nil {
		return nil, err
	}
	t := s.Table("requests", "requests/s", "p50 (ms)", "p99 (ms)", "max (ms)", "non-2xx", "socket errors (connect / read / write / timeout)", "goal met")
	t.Add(fmt.Sprint(w.Requests), fnum(w.RPS(), 0), fnum(w.P50US/1000, 2), fnum(w.P99US/1000, 2), fnum(w.MaxUS/1000, 1), fmt.Sprint(w.Status),
		fmt.Sprintf("%d (%d / %d / %d / %d)", w.SocketErrors(), w.Connect, w.Read, w.Write, w.Timeout), yesNo(w.Status == 0 && w.SocketErrors() == 0))

	// 5. Isolation (before the faults: it needs nothing of them).
	h.logf("reliability: isolation")
	iso, err := h.isolation(ctx, p)
	if err != nil {
		return nil, err
	}

	// 3b. Hostile requests.
	h.logf("reliability: hostile input")
	hostile, err := h.hostile(ctx, p, api)
	if err != nil {
		return nil, err
	}

	// 2. Faults under load, with the data checks of 4.
	h.logf("reliability: faults")
	s2 := rep.Section("2. Faults under load")
	s2.Text = append(s2.Text, "While 4 clients read `GET /films/v1/` (authenticated: the revocation check needs Redis) as fast as they can and probes ask `GET /users/v1/{id}` (needs MySQL) and `GET /readyz` (at the API container's own port: the edge does not forward it) every 50 ms, "+
		"a fault is injected: `docker restart` of the MySQL container, `docker restart` of the Redis container, and SIGKILL to the API container's process "+
		"(sent from the host to the container's main process: `docker kill` would mark the container as stopped by hand, and Docker would not restart it). "+
		"Recovery: from the fault until the first success after the last failed request of any probe. A hang would show as a request near the clients' 10 s timeout.")
	t2 := s2.Table("fault", "probe", "requests", "failed", "failed answers", "all failures 503 + contract JSON", "slowest request (s)", "seconds to recovery")
	s4 := rep.Section("4. Data safety",
		fmt.Sprintf("%d verified users, %d of them with a logged-out session (its access and refresh tokens revoked). After each event every user logs in again, and every revoked access token (`GET /films/v1/`) and refresh token (`GET /users/v1/generate_tokens`) must still get 401.", len(ds.users), len(ds.revoked)))
	t4 := s4.Table("event", "users", "revoked tokens", "nothing lost")
	before := h.check(ctx, api, ds)
	t4.Add("before any fault", before.usersCell(), before.revokedCell(), yesNo(before.ok()))

	faults := []struct {
		name    string
		service string
		inject  func(ctx context.Context, c Container) error
	}{
		{"MySQL container restarted (`docker restart`)", "mysql", func(ctx context.Context, c Container) error {
			return h.engine.ContainerRestart(ctx, c.ID, container.StopOptions{})
		}},
		{"Redis container restarted (`docker restart`)", "redis", func(ctx context.Context, c Container) error {
			return h.engine.ContainerRestart(ctx, c.ID, container.StopOptions{})
		}},
		{"API container's process killed (SIGKILL)", "api", func(ctx context.Context, c Container) error {
			if c.Pid <= 0 {
				return fmt.Errorf("api container has no process")
			}
			return syscall.Kill(c.Pid, syscall.SIGKILL)
		}},
	}
	for _, f := range faults {
		h.logf("reliability: fault: %s", f.name)
		rows, rec, err := h.fault(ctx, p, api, ds, f.service, f.inject)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		for i, r := range rows {
			name := ""
			if i == 0 {
				name = f.name
			}
			t2.Add(append([]string{name}, append(r, "")...)...)
		}
		t2.Rows[len(t2.Rows)-len(rows)][7] = rec
		c := h.check(ctx, api, ds)
		t4.Add("after: "+f.name, c.usersCell(), c.revokedCell(), yesNo(c.ok()))
	}

	h.logf("reliability: down and up")
	dd, err := p.Down(ctx, false)
	if err != nil {
		return nil, err
	}
	du, out, err := p.UpHealthy(ctx)
	if err != nil {
		return nil, fmt.Errorf("up after down: %w\n%s", err, out)
	}
	h.logf("down %.1fs, up %.1fs", dd.Seconds(), du.Seconds())
	if err := waitOperatorReady(ctx, p); err != nil {
		return nil, err
	}
	c := h.check(ctx, api, ds)
	t4.Add("after `swdeploy down` then `swdeploy up`", c.usersCell(), c.revokedCell(), yesNo(c.ok()))
	var problems []string
	for _, row := range t4.Rows {
		if row[3] != "yes" {
			problems = append(problems, row[0])
		}
	}
	if len(problems) > 0 {
		s4.After = append(s4.After, "Lost after: "+strings.Join(problems, "; ")+".")
	}

	// 3a. Fuzzing (no deployment needed; CPU-bound, so last).
	h.logf("reliability: fuzzing")
	s3 := rep.Section("3. Bad input")
	fz, err := h.fuzz(ctx)
	if err != nil {
		return nil, err
	}
	s3.Text = append(s3.Text, fmt.Sprintf("Every `func Fuzz...` target of the repository, `go test -run '^$' -fuzz '^NAME$' -fuzztime %s` each (GOMAXPROCS workers), then hostile requests against the deployed API and hostile Compose files given to `swdeploy config`.", h.cfg.FuzzTime))
	s3.Tables = append(s3.Tables, fz, hostile)
	s3.After = append(s3.After, "Tokens for the algorithm and expiry cases were signed with the deployment's real access secret (the harness provided it), so only the algorithm or the expiry is wrong.")

	s5 := rep.Section("5. Isolation", "Only this machine's addresses are used: container addresses on local bridges, and the host's own bridge addresses. "+
		"From outside the internal network: the host and a container on the public network try MySQL and Redis at their addresses, and read what answers (MySQL greets, Redis is sent PING), "+
		"but only where a packet can stay on this machine: when the host has no address on the internal network, the only route to it leads off the machine, so nothing is sent and the row says so. "+
		"From inside: MySQL and Redis try a listener on every bridge address the host holds, and the containers on the public network. Controls show that each probe connects where it should.")
	s5.Tables = append(s5.Tables, iso)
	return rep, nil
}

// waitOperatorReady waits for /readyz on the API's own port (the edge does
// not forward it).
func waitOperatorReady(ctx context.Context, p *Project) error {
	op, err := p.Operator(ctx)
	if err != nil {
		return err
	}
	return op.WaitReady(ctx, 2*time.Minute)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// fault injects one fault under load and returns a table row per probe
// and the recovery time.
func (h *Harness) fault(ctx context.Context, p *Project, api API, ds *dataSet, service string, inject func(context.Context, Container) error) ([][]string, string, error) {
	if err := p.WaitHealthy(ctx, 3*time.Minute); err != nil {
		return nil, "", err
	}
	cs, err := p.Containers(ctx)
	if err != nil {
		return nil, "", err
	}
	c, ok := cs[service]
	if !ok {
		return nil, "", fmt.Errorf("no %s container", service)
	}
	tok := ds.live.Access
	op, err := p.Operator(ctx)
	if err != nil {
		return nil, "", err
	}
	pr := StartProbes(ctx, p.URL(),
		ProbeSpec{Name: "load: GET /films/v1/ (4 clients)", Path: "/films/v1/", Token: tok, Workers: 4, KeepAlive: true},
		ProbeSpec{Name: fmt.Sprintf("GET /users/v1/%d", ds.live.ID), Path: fmt.Sprintf("/users/v1/%d", ds.live.ID), Token: tok, Pace: 50 * time.Millisecond, KeepAlive: true, Keep: true},
		ProbeSpec{Name: "GET /readyz", Path: "/readyz", Pace: 50 * time.Millisecond, KeepAlive: true, Keep: true, Base: op.Base})
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	if err := inject(ctx, c); err != nil {
		pr.Stop()
		return nil, "", err
	}
	// Wait for the stack to be healthy again, then for 3 s without a failure.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if time.Now().After(deadline) {
			break
		}
		if err := p.WaitHealthy(ctx, time.Until(deadline)); err != nil {
			break
		}
		pr.mu.Lock()
		lastFail := time.Time{}
		for _, s := range pr.samples {
			if !s.OK() && s.At.After(lastFail) {
				lastFail = s.At
			}
		}
		pr.mu.Unlock()
		if time.Since(t0) > 5*time.Second && time.Since(lastFail) > 3*time.Second {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	samples, counts := pr.Stop()

	var lastFail time.Time
	for _, s := range samples {
		if !s.OK() && !s.At.Before(t0) && s.At.After(lastFail) {
			lastFail = s.At
		}
	}
	recovery := "no failed request"
	if !lastFail.IsZero() {
		recovery = "not recovered"
		for _, s := range samples {
			if s.OK() && s.At.After(lastFail) {
				recovery = fnum(s.At.Add(s.Latency).Sub(t0).Seconds(), 1)
				break
			}
		}
	}
	var rows [][]string
	names := []string{"load: GET /films/v1/ (4 clients)", fmt.Sprintf("GET /users/v1/%d", ds.live.ID), "GET /readyz"}
	for _, name := range names {
		failed, kinds := failureSummary(samples, name)
		contract := failed > 0
		var slowest time.Duration
		for _, s := range samples {
			if s.Probe != name {
				continue
			}
			if !s.OK() && !(s.Status == 503 && s.Contract) {
				contract = false
			}
			slowest = max(slowest, s.Latency)
		}
		cell := "no failure"
		if failed > 0 {
			cell = yesNo(contract)
		}
		slow := fnum(slowest.Seconds(), 2)
		if name == names[0] {
			slow += " (failures only)"
		}
		rows = append(rows, []string{name, fmt.Sprint(counts[name]), fmt.Sprint(failed), kinds, cell, slow})
	}
	return rows, recovery, nil
}
