package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rendition is a response body rendered once and served many times: the
// plain bytes, a gzip copy when that is smaller, and their strong ETags.
//
// The ETag is a hash of the plain body, so it changes exactly when the bytes
// do: a new monitor state that renders the same report keeps its ETag and
// clients keep getting 304s. The gzip copy is another representation and so
// has its own tag (the plain one plus "-gzip"); If-None-Match accepts both.
type rendition struct {
	contentType string
	body        []byte
	etag        string
	gzipped     []byte // nil when gzip would not be smaller
	gzipETag    string
	err         error // a rendering error, served as a 500
}

// newRendition hashes and compresses body.
func newRendition(contentType string, body []byte) *rendition {
	sum := sha256.Sum256(body)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	r := &rendition{contentType: contentType, body: body, etag: `"` + tag + `"`}
	if z := compress(body); z != nil {
		r.gzipped = z
		r.gzipETag = `"` + tag + `-gzip"`
	}
	return r
}

// gzipLevel trades a little size for speed: on a 3.7 MB page of 5000
// replicas, level 3 takes 4 ms where the default level (6) takes 19 ms,
// for a body 5 % bigger (85 KB against 81 KB). A rendition is compressed
// once per state change, on the way to the page's first viewer.
const gzipLevel = 3

// gzipWriters keeps compressors between renditions: each holds about a
// megabyte of tables that would otherwise be allocated and cleared again.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzipLevel) // the level is valid
	return zw
}}

// compress returns body gzipped, or nil when that is not smaller.
func compress(body []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil || buf.Len() >= len(body) {
		return nil
	}
	return bytes.Clone(buf.Bytes()) // without the buffer's spare capacity: renditions stay in memory
}

// serve writes the rendition, honouring Accept-Encoding and If-None-Match,
// a big body within b's write slots (writeBounded). Clients must revalidate
// (no-cache), which costs a 304 while the state holds.
func (rd *rendition) serve(w http.ResponseWriter, r *http.Request, b *bound) {
	h := w.Header()
	if rd.err != nil {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(rd.err.Error()))
		return
	}
	body, etag := rd.body, rd.etag
	gz := rd.gzipped != nil && acceptsGzip(r.Header.Values("Accept-Encoding"))
	if gz {
		body, etag = rd.gzipped, rd.gzipETag
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	h.Set("Vary", "Accept-Encoding")
	if noneMatch(r.Header.Values("If-None-Match"), rd.etag, rd.gzipETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", rd.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_ = b.writeBounded(w, body)
	}
}

// acceptsGzip reports whether Accept-Encoding values allow gzip: listed with
// a non-zero q, or covered by "*" without being refused by name.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			ok := qualityPositive(params)
			if coding == "gzip" {
				return ok
			}
			star = ok
		}
	}
	return star
}

// qualityPositive reports whether the ";q=…" parameters of an
// Accept-Encoding item leave it acceptable (no q means q=1).
func qualityPositive(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, value, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		return err == nil && q > 0
	}
	return true
}

// noneMatch reports whether an If-None-Match header lists one of tags (or
// "*"). It uses the weak comparison RFC 9110 prescribes for If-None-Match.
func noneMatch(values []string, tags ...string) bool {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimPrefix(strings.TrimSpace(item), "W/")
			if item == "" {
				continue
			}
			if item == "*" {
				return true
			}
			for _, t := range tags {
				if t != "" && item == t {
					return true
				}
			}
		}
	}
	return false
}

// memo keeps the rendition of the latest input. When the input changes, the
// first request renders the new rendition; requests that arrive while it
// renders are served the previous one at once rather than queueing behind
// the render (during an outage, a big page under a crowd would otherwise
// stall every reader once per change). A request that finds no rendition at
// all waits for the first one.
//
// Renders are also bounded so that visitors never take the CPU the checks
// need: a big document (spacedAbove bytes or more: hundreds of nodes) is
// rendered again at most once per renderSpacing times its last render, the
// previous rendition being served meanwhile, and the renders of every
// document of a server share its render slots (bound.go), so that they
// never occupy more CPUs than the checks can spare. The monitor publishes a
// new state up to four times a second while checks complete; a page of 5000
// nodes would otherwise be rendered, hashed and gzipped that often for as
// long as it is viewed.
type memo[K any] struct {
	mu  sync.Mutex
	cur atomic.Pointer[memoEntry[K]]
	// bound holds the render slots this memo shares with the server's
	// other documents (defaultBound when nil); now is time.Now when nil.
	bound *bound
	now   func() time.Time
}

// newMemo makes a memo whose renders share b's render slots. Every memo of
// a Server is made here, with the server's bound (TestEveryMemoIsBounded).
func newMemo[K any](b *bound) *memo[K] { return &memo[K]{bound: b} }

type memoEntry[K any] struct {
	key  K
	r    *rendition
	done time.Time     // when the render ended
	cost time.Duration // how long it took
}

const (
	// spacedAbove is decided on the size rather than on the render time so
	// that a small page follows every change at once however busy the
	// machine: a page of 200 nodes is about 300 KB.
	spacedAbove   = 256 << 10
	renderSpacing = 9 // a big document's renders take at most a tenth of the time of one CPU
)

func (m *memo[K]) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

// get returns the rendition for the current input, or the previous one
// while another request renders the current one, while the renders are
// spaced out or while every render slot is taken. load reads the input
// (cheaply: it runs on every request), same compares two inputs and render
// builds the rendition of one.
func (m *memo[K]) get(load func() K, same func(a, b K) bool, render func(K) *rendition) *rendition {
	key := load()
	e := m.cur.Load()
	if e != nil && same(e.key, key) {
		return e.r
	}
	b := m.bound
	if b == nil {
		b = defaultBound
	}
	if e != nil {
		if len(e.r.body) >= spacedAbove && m.clock().Sub(e.done) < renderSpacing*e.cost {
			return e.r // spaced out: the previous state is at most renderSpacing renders old
		}
		if !m.mu.TryLock() {
			return e.r // being rendered: the previous state is at most one render old
		}
		if !b.tryAcquire(b.render) {
			m.mu.Unlock()
			return e.r // other documents are rendering: this one will be next time
		}
	} else {
		m.mu.Lock()
		b.acquire(b.render)
	}
	defer m.mu.Unlock()
	defer b.render.release()
	// Read the input again: it may have moved on while this request waited,
	// and the newest state is the one worth rendering.
	key = load()
	if e := m.cur.Load(); e != nil && same(e.key, key) {
		return e.r
	}
	start := m.clock()
	r := render(key)
	done := m.clock()
	m.cur.Store(&memoEntry[K]{key: key, r: r, done: done, cost: done.Sub(start)})
	return r
}
