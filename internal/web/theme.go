package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// embedded holds the default theme: templates/index.html, stylesheets/,
// javascripts/, images/ and public/.
//
//go:embed assets
var embedded embed.FS

// A theme is where the page template and the static files come from.
//
// The embedded theme is always there. When the assets directory holds
// templates/index.html (Go html/template syntax), that directory is a custom
// theme: its templates/*.html replace the embedded template, and every
// static file is looked up there first, then in the embedded theme, so a
// theme only needs the files it changes. Vigil's own assets directory holds
// templates/index.tera, a Tera template that Go cannot execute: then, as
// when the directory is missing, the embedded theme alone is served.
//
// Templates are read once, at start; static files of a custom theme are
// read from disk on each request.
type theme struct {
	tmpl    *template.Template
	disk    fs.FS // the custom theme, or nil
	files   map[string]embeddedFile
	version string // the ?v= cache buster of the theme's static files
}

type embeddedFile struct {
	data []byte
	etag string
}

// templateFuncs returns the functions a page template may call besides the
// html/template built-ins.
func templateFuncs() template.FuncMap {
	return template.FuncMap{"linebreaks": linebreaks, "replicaBoxes": replicaBoxesHTML}
}

// loadTheme picks and loads the theme for the assets directory dir, and
// logs one line saying which theme is served and why.
func loadTheme(dir, version string, log *slog.Logger) (*theme, error) {
	builtin, err := fs.Sub(embedded, "assets")
	if err != nil {
		return nil, fmt.Errorf("embedded assets: %w", err)
	}
	t := &theme{files: map[string]embeddedFile{}, version: version}
	err = fs.WalkDir(builtin, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(name, "templates/") {
			return err
		}
		data, err := fs.ReadFile(builtin, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		t.files[name] = embeddedFile{data: data, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded assets: %w", err)
	}

	custom, why, level := inspectAssetsDir(dir)
	if !custom {
		if t.tmpl, err = template.New("").Funcs(templateFuncs()).ParseFS(builtin, "templates/*.html"); err != nil {
			return nil, fmt.Errorf("embedded templates: %w", err)
		}
		log.Log(context.Background(), level, "serving the embedded theme", "reason", why, "path", dir)
		return t, nil
	}
	disk := os.DirFS(dir)
	if t.tmpl, err = template.New("").Funcs(templateFuncs()).ParseFS(disk, "templates/*.html"); err != nil {
		return nil, fmt.Errorf("assets path %s: parse templates: %w", dir, err)
	}
	stamp, err := themeStamp(disk)
	if err != nil {
		return nil, fmt.Errorf("assets path %s: %w", dir, err)
	}
	t.disk = disk
	// The files on disk are not part of the binary's version: a new theme
	// must bust caches too.
	t.version = version + "-" + stamp
	if t.tmpl.Lookup("index.html") == nil {
		return nil, fmt.Errorf("assets path %s: no index.html template", dir)
	}
	log.Info("serving the custom theme; files it lacks come from the embedded theme", "path", dir)
	return t, nil
}

// inspectAssetsDir reports whether dir holds a custom theme and, when it does
// not, why, with the level worth logging it at.
func inspectAssetsDir(dir string) (custom bool, why string, level slog.Level) {
	if dir == "" {
		return false, "no assets path configured", slog.LevelInfo
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, "the assets directory does not exist", slog.LevelInfo
	case err != nil:
		return false, fmt.Sprintf("the assets directory cannot be read (%v)", err), slog.LevelWarn
	case !info.IsDir():
		return false, "the assets path is not a directory", slog.LevelWarn
	}
	if isFile(filepath.Join(dir, "templates", "index.html")) {
		return true, "", slog.LevelInfo
	}
	if isFile(filepath.Join(dir, "templates", "index.tera")) {
		const why = "the assets directory holds Vigil's Tera template (templates/index.tera), which Go cannot execute; " +
			"write templates/index.html in Go html/template syntax to customise the page"
		return false, why, slog.LevelWarn
	}
	return false, "the assets directory has no templates/index.html", slog.LevelInfo
}

func isFile(name string) bool {
	info, err := os.Stat(name)
	return err == nil && info.Mode().IsRegular()
}

// themeStamp summarises the names, sizes and modification times of a custom
// theme's static files into a short cache buster.
func themeStamp(disk fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(disk, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name == "templates" {
				return fs.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var num [16]byte
		binary.BigEndian.PutUint64(num[:8], uint64(info.Size()))
		binary.BigEndian.PutUint64(num[8:], uint64(info.ModTime().UnixNano()))
		h.Write([]byte(name))
		h.Write(num[:])
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read theme files: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:6]), nil
}

// errNoAsset means the theme has no such static file.
var errNoAsset = errors.New("no such asset")

// asset is one static file ready to serve.
type asset struct {
	content io.ReadSeeker
	modTime time.Time // zero for embedded files
	etag    string
	close   func() error
}

// open finds the static file name (slash-separated, relative to the theme
// root) in the custom theme, then in the embedded one. It never serves a
// template, a directory or a hidden file.
func (t *theme) open(name string) (*asset, error) {
	if !fs.ValidPath(name) || strings.HasPrefix(name, "templates/") {
		return nil, errNoAsset
	}
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") || strings.ContainsAny(seg, "\\\x00") {
			return nil, errNoAsset
		}
	}
	if t.disk != nil {
		a, err := openDisk(t.disk, name)
		if err == nil || !errors.Is(err, errNoAsset) {
			return a, err
		}
	}
	f, ok := t.files[name]
	if !ok {
		return nil, errNoAsset
	}
	return &asset{content: bytes.NewReader(f.data), etag: f.etag, close: func() error { return nil }}, nil
}

func openDisk(disk fs.FS, name string) (*asset, error) {
	f, err := disk.Open(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return nil, errNoAsset
	}
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		_ = f.Close()
		return nil, errNoAsset
	}
	// Size and modification time make a strong enough validator for files
	// an operator edits by hand, without reading them.
	etag := `"` + strconv.FormatInt(info.Size(), 36) + "-" + strconv.FormatInt(info.ModTime().UnixNano(), 36) + `"`
	if rs, ok := f.(io.ReadSeeker); ok {
		return &asset{content: rs, modTime: info.ModTime(), etag: etag, close: f.Close}, nil
	}
	data, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	return &asset{content: bytes.NewReader(data), modTime: info.ModTime(), etag: etag, close: func() error { return nil }}, nil
}

// contentType returns the media type of a file from its extension. The
// types a theme usually holds are fixed here, so they do not depend on the
// host's MIME tables.
func contentType(name string) string {
	switch ext := strings.ToLower(path.Ext(name)); ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	case ".avif":
		return "image/avif"
	case ".ico":
		return "image/x-icon"
	case ".woff":
		return "font/woff"
	case ".woff2":
		return "font/woff2"
	case ".ttf":
		return "font/ttf"
	case ".otf":
		return "font/otf"
	case ".eot":
		return "application/vnd.ms-fontobject"
	default:
		if ct := mime.TypeByExtension(ext); ct != "" {
			return ct
		}
		return "application/octet-stream"
	}
}

// Cache lifetimes of static files. A URL carrying the current ?v= never
// changes content (a new binary or theme changes the v), so it may be kept
// for a year; without it, an hour.
const (
	cacheVersioned   = "public, max-age=31536000, immutable"
	cacheUnversioned = "public, max-age=3600"
)

// handleAsset serves /assets/<dir>/<file> and /assets/<dir>/<folder>/<file>.
func (s *Server) handleAsset(dir string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Wildcards are decoded segments: "%2F" would smuggle a "/" into one.
		name := dir
		for _, key := range []string{"folder", "file"} {
			seg := r.PathValue(key)
			if seg == "" && key == "folder" {
				continue
			}
			if seg == "" || strings.ContainsAny(seg, "/\\\x00") {
				notFound(w, r)
				return
			}
			name += "/" + seg
		}
		cache := cacheUnversioned
		if v := r.URL.Query().Get("v"); v != "" && v == s.theme.version {
			cache = cacheVersioned
		}
		s.serveAsset(w, r, name, cache, true)
	}
}

// handleRobots serves public/robots.txt.
func (s *Server) handleRobots(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, r, "public/robots.txt", cacheUnversioned, true)
}

// serveAsset serves one static file with its ETag; Range, If-None-Match and
// If-Modified-Since are handled by http.ServeContent. lastModified false
// leaves Last-Modified out (badges: Vigil sends none).
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, name, cacheControl string, lastModified bool) {
	a, err := s.theme.open(name)
	if errors.Is(err, errNoAsset) {
		notFound(w, r)
		return
	}
	if err != nil {
		s.log.Error("read asset", "name", name, "err", err)
		http.Error(w, "cannot read asset", http.StatusInternalServerError)
		return
	}
	defer func() {
		if err := a.close(); err != nil {
			s.log.Warn("close asset", "name", name, "err", err)
		}
	}()
	h := w.Header()
	h.Set("Content-Type", contentType(name))
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	modTime := a.modTime
	if !lastModified {
		modTime = time.Time{}
	}
	http.ServeContent(w, r, path.Base(name), modTime, a.content)
}
