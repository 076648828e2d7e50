package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at build time by scripts/release (and by anyone building a release):
//
//	go build -ldflags "-X main.version=1.2.0 -X main.commit=$(git rev-parse HEAD) -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// Left empty, they are read from what the Go toolchain records in the
// binary (see buildInfo).
var (
	version string
	commit  string
	date    string
)

// devVersion names a build that says nothing of its version.
const devVersion = "0.1.0-dev"

// build is what `vigil version` prints.
type build struct {
	Version, Commit, Date string
	Modified              bool // built from a work tree with uncommitted changes
	Go                    string
}

// currentBuild returns this binary's build: the -ldflags values where set,
// and otherwise the module version and the VCS stamp the toolchain records
// (`go install …@v1.2.0` gives the version; `go build` in a git checkout
// gives the commit and its time).
func currentBuild() build {
	info, _ := debug.ReadBuildInfo()
	return resolveBuild(version, commit, date, info)
}

func resolveBuild(version, commit, date string, info *debug.BuildInfo) build {
	b := build{Version: version, Commit: commit, Date: date, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if info != nil {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
					// Only a commit read here can be known to be modified:
					// one set with -ldflags is what the builder said.
					b.Modified = modified(info)
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = devVersion
	}
	return b
}

func modified(info *debug.BuildInfo) bool {
	for _, s := range info.Settings {
		if s.Key == "vcs.modified" {
			return s.Value == "true"
		}
	}
	return false
}

// printVersion writes the build, one fact a line; unknown facts say so.
func printVersion(w io.Writer, b build) {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	c := unknown(b.Commit)
	if b.Modified {
		c += " (modified)"
	}
	fmt.Fprintf(w, "vigil %s\ncommit: %s\nbuilt: %s\ngo: %s\n", b.Version, c, unknown(b.Date), b.Go)
}
