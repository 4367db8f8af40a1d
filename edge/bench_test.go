package main

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxy compares a request sent straight to a backend with the
// same request through the edge; the difference is the edge's overhead
// (one more loopback hop, the body buffered, the pick).
//
//	go test -run '^$' -bench Proxy -benchmem ./edge/
func BenchmarkProxy(b *testing.B) {
	addrs := backendAddrs(b, 1)
	answer := []byte(`{"status":"ok","name":"Luke Skywalker","height":"172"}`)
	a := startAPI(b, &fakeAPI{name: "A", addr: addrs[0], handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})})
	cfg := testConfig(portOf(a.addr), 0)
	_, edgeURL := startEdge(b, cfg, newFakeDNS(a.addr).resolve, false)
	body := bytes.Repeat([]byte("x"), 1<<10)

	for _, target := range []struct{ name, base string }{{"direct", "http://" + a.addr}, {"edge", edgeURL}} {
		for _, req := range []struct {
			name, method string
			body         []byte
		}{{"GET", "GET", nil}, {"POST-1KiB", "POST", body}} {
			send := func(b *testing.B, c *http.Client) {
				r, _ := http.NewRequest(req.method, target.base+"/api/people/1", bytes.NewReader(req.body))
				resp, err := c.Do(r)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatal(resp.Status)
				}
			}
			b.Run(target.name+"/"+req.name+"/serial", func(b *testing.B) {
				c := newClient()
				b.ReportAllocs()
				for b.Loop() {
					send(b, c)
				}
			})
			b.Run(target.name+"/"+req.name+"/parallel", func(b *testing.B) {
				c := newClient()
				b.ReportAllocs()
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						send(b, c)
					}
				})
			})
		}
	}
}
