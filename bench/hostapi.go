package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// The loopback MariaDB and Redis that scripts/services.sh starts.
const (
	hostMySQL = "127.0.0.1:3306"
	hostUser  = "swtest"
	hostPass  = "swtest"
	hostRedis = "127.0.0.1:6379"
)

// proc is a process the harness started and stops.
type proc struct {
	cmd *exec.Cmd
	log string
}

func (h *Harness) start(ctx context.Context, name string, env []string, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(h.tmp, name+"-"+randHex(3)+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, log: logPath}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	h.onClose(func() {
		select {
		case <-done:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return p, nil
}

// Stop ends the process (SIGTERM, then SIGKILL).
func (p *proc) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for p.cmd.ProcessState == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
	}
}

// StartSwapi runs swapi-local on loopback with the given per-request latency.
func (h *Harness) StartSwapi(ctx context.Context, latency time.Duration) (string, *proc, error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-addr", addr, "-latency", latency.String()}
	if h.cfg.SwapiData != "" {
		args = append(args, "-data", h.cfg.SwapiData)
	}
	p, err := h.start(ctx, "swapi-local", nil, h.swapi, args...)
	if err != nil {
		return "", nil, err
	}
	url := "http://" + addr + "/api/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := (API{Base: "http://" + addr}).Do(ctx, "GET", "/api/", "", nil); err == nil {
			return url, p, nil
		}
		if time.Now().After(deadline) {
			p.Stop()
			return "", nil, fmt.Errorf("swapi-local on %s did not answer", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// HostAPI is the API binary running on the host against the loopback
// MariaDB and Redis, in a database and under a Redis key prefix of its own.
type HostAPI struct {
	API
	proc   *proc
	DB     string
	Prefix string
}

var hostSeq int

// StartHostAPI runs the API server on loopback with upstream swapiURL.
// Each call uses a fresh Redis prefix, so its upstream cache starts cold;
// db is the MariaDB database (created when missing, dropped at Close).
func (h *Harness) StartHostAPI(ctx context.Context, db, swapiURL string) (*HostAPI, error) {
	if err := h.hostDatabase(ctx, db); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	hostSeq++
	prefix := fmt.Sprintf("swbench:%s:%d:", h.id, hostSeq)
	h.mu.Unlock()
	h.onClose(func() { h.dropRedisPrefix(prefix) })
	env := []string{
		"STARWARS_API_HOST=127.0.0.1", "STARWARS_API_PORT=" + strconv.Itoa(port),
		"STARWARS_MYSQL_HOST=127.0.0.1", "STARWARS_MYSQL_PORT=3306",
		"STARWARS_MYSQL_USER=" + hostUser, "STARWARS_MYSQL_PASSWORD=" + hostPass, "STARWARS_MYSQL_DATABASE=" + db,
		"STARWARS_REDIS_HOST=127.0.0.1", "STARWARS_REDIS_PORT=6379", "STARWARS_REDIS_PREFIX=" + prefix,
		"STARWARS_SWAPI_URL=" + swapiURL,
		"STARWARS_JWT_ACCESS_SECRET=" + h.Secret("jwt_access_secret"),
		"STARWARS_JWT_REFRESH_SECRET=" + h.Secret("jwt_refresh_secret"),
		"STARWARS_JWT_EMAIL_SECRET=" + h.Secret("jwt_email_secret"),
		"STARWARS_JWT_PASSWORD_SECRET=" + h.Secret("jwt_password_secret"),
		"STARWARS_ADMIN_EMAIL=admin@swbench.local", "STARWARS_ADMIN_PASSWORD=" + h.Secret("admin_password"),
	}
	p, err := h.start(ctx, "starwars-api", env, h.apiBin)
	if err != nil {
		return nil, err
	}
	a := &HostAPI{proc: p, DB: db, Prefix: prefix}
	a.API = API{Base: fmt.Sprintf("http://127.0.0.1:%d", port), Logs: func(context.Context) (string, error) {
		b, err := os.ReadFile(p.log)
		return string(b), err
	}}
	if err := a.WaitReady(ctx, 90*time.Second); err != nil {
		logs, _ := a.Logs(ctx)
		p.Stop()
		return nil, fmt.Errorf("api on the host: %w\n%s", err, tail(logs, 20))
	}
	return a, nil
}

// Stop ends the server.
func (a *HostAPI) Stop() { a.proc.Stop() }

func (h *Harness) hostDatabase(ctx context.Context, db string) error {
	conn, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/", hostUser, hostPass, hostMySQL))
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+db+"`"); err != nil {
		return fmt.Errorf("loopback MariaDB (run scripts/services.sh): %w", err)
	}
	h.onClose(func() {
		c, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/", hostUser, hostPass, hostMySQL))
		if err == nil {
			c.Exec("DROP DATABASE IF EXISTS `" + db + "`")
			c.Close()
		}
	})
	return nil
}

// hostPasswordHash reads the stored hash of email from a loopback database.
func hostPasswordHash(ctx context.Context, db, email string) (string, error) {
	conn, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/%s", hostUser, hostPass, hostMySQL, db))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "SELECT * FROM users WHERE email = ?", email)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return "", fmt.Errorf("no user %s", email)
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", err
	}
	for _, v := range vals {
		if s := string(v); len(s) > 10 && s[:10] == "$argon2id$" {
			return s, nil
		}
	}
	return "", fmt.Errorf("no argon2id hash in the users row of %s", email)
}

func (h *Harness) dropRedisPrefix(prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: hostRedis})
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		rdb.Del(ctx, keys[:n]...)
		keys = keys[n:]
	}
}
