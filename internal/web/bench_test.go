package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
)

// BenchmarkIndex measures the hot path of an outage: the page served from
// its cache, in full (plain and gzip) and as a 304.
func BenchmarkIndex(b *testing.B) {
	src := &source{}
	src.set(sampleServices(status.Dead), testNow)
	cfg := testConfig(b)
	s, err := New(Options{Config: cfg, Source: src, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	first := httptest.NewRecorder()
	s.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/", nil))
	etag := first.Header().Get("ETag")

	for _, bc := range []struct {
		name    string
		headers map[string]string
	}{
		{"plain", nil},
		{"gzip", map[string]string{"Accept-Encoding": "gzip, deflate, br"}},
		{"not-modified", map[string]string{"If-None-Match": etag}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range bc.headers {
				req.Header.Set(k, v)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := &discardWriter{header: http.Header{}}
				s.ServeHTTP(w, req)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the server rather than a recorder.
type discardWriter struct {
	header http.Header
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (w *discardWriter) WriteHeader(int)             {}
