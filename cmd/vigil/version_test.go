package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildFallback: without -ldflags, the version comes from the module
// (go install …@v1.2.0) and the commit and date from the VCS stamp; what
// -ldflags sets always wins; nothing known prints "unknown", not blanks.
func TestBuildFallback(t *testing.T) {
	stamped := &debug.BuildInfo{
		Main: debug.Module{Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"},
			{Key: "vcs.time", Value: "2031-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tt := range []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo
		want                  string
	}{
		{"ldflags", "1.2.0", "fff", "2031-05-05T00:00:00Z", stamped,
			"vigil 1.2.0\ncommit: fff\nbuilt: 2031-05-05T00:00:00Z\n"},
		{"stamped by the toolchain", "", "", "", stamped,
			"vigil v1.4.0\ncommit: abc123 (modified)\nbuilt: 2031-01-02T03:04:05Z\n"},
		{"only the version set", "1.2.0", "", "", stamped,
			"vigil 1.2.0\ncommit: abc123 (modified)\nbuilt: 2031-01-02T03:04:05Z\n"},
		{"a devel build without VCS", "", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"vigil " + devVersion + "\ncommit: unknown\nbuilt: unknown\n"},
		{"no build info", "", "", "", nil,
			"vigil " + devVersion + "\ncommit: unknown\nbuilt: unknown\n"},
	} {
		var out bytes.Buffer
		printVersion(&out, resolveBuild(tt.version, tt.commit, tt.date, tt.info))
		if got := out.String(); !strings.HasPrefix(got, tt.want) || !strings.Contains(got, "\ngo: go") {
			t.Errorf("%s: printed\n%s\nwant it to start with\n%s", tt.name, got, tt.want)
		}
	}
}
