package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WrkResult is one wrk run, as its Lua done() hook reports it.
type WrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // non-2xx/3xx answers
	Timeout    int64   `json:"timeout"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	MaxUS      float64 `json:"max_us"`
}

// RPS is requests per second.
func (w WrkResult) RPS() float64 { return float64(w.Requests) / (float64(w.DurationUS) / 1e6) }

// SocketErrors adds up wrk's socket errors.
func (w WrkResult) SocketErrors() int64 { return w.Connect + w.Read + w.Write + w.Timeout }

// wrkScript sets the Authorization header (when a token is given) and
// prints a machine-readable summary; it has no per-response hook, which
// would slow wrk down.
const wrkScript = `
local token = os.getenv("SWBENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SWBENCH {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50.0), latency:percentile(99.0), latency.max))
end
`

// Wrk runs wrk against url with the harness's connections and threads.
func (h *Harness) Wrk(ctx context.Context, url, token string, d time.Duration) (WrkResult, error) {
	script := filepath.Join(h.tmp, "swbench.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return WrkResult{}, err
	}
	args := []string{"-t", strconv.Itoa(h.cfg.Threads), "-c", strconv.Itoa(h.cfg.Connections),
		"-d", fmt.Sprintf("%ds", int(d.Seconds())), "--timeout", "5s", "-s", script, url}
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", args...)
	cmd.Env = append(os.Environ(), "SWBENCH_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return WrkResult{}, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "SWBENCH "); ok {
			var r WrkResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return WrkResult{}, fmt.Errorf("wrk summary %q: %w", rest, err)
			}
			return r, nil
		}
	}
	return WrkResult{}, fmt.Errorf("wrk printed no summary:\n%s", out)
}

// Ceiling serves fixed answers on a loopback port with a bare net/http
// handler: the most this machine can serve those bytes, for comparison.
type Ceiling struct {
	URL string
	srv *http.Server
}

// StartCeiling serves body (with contentType) for every path.
func StartCeiling(bodies map[string][]byte, contentType string) (*Ceiling, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for path, body := range bodies {
		b := body
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write(b)
		})
	}
	c := &Ceiling{URL: "http://" + l.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go c.srv.Serve(l)
	return c, nil
}

// Close stops the server.
func (c *Ceiling) Close() { c.srv.Close() }
