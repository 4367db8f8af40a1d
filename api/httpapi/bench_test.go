package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkCachedFilmList is the hot path: an access token checked
// (signature, claims, one Redis round trip for revocations) and a film
// list answered from a cache (the fake returns fixed bytes), through the
// whole router and its middleware, without the network.
func BenchmarkCachedFilmList(b *testing.B) {
	e := newBenchEnv(b)
	s := e.user("bench")
	router := e.srv.Config.Handler
	req := httptest.NewRequest("GET", "/films/v1/", nil)
	req.Header.Set("Authorization", "Bearer "+s.access)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		router.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkCachedFilmListParallel is the same with concurrent requests, as
// a server sees them.
func BenchmarkCachedFilmListParallel(b *testing.B) {
	e := newBenchEnv(b)
	s := e.user("bench")
	router := e.srv.Config.Handler
	b.SetParallelism(32) // 64 in-flight requests on two cores, as in the load test
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/films/v1/", nil)
		req.Header.Set("Authorization", "Bearer "+s.access)
		for pb.Next() {
			w := httptest.NewRecorder()
			router.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
}
