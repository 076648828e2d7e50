package notify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// recordingChecker records what CheckSection reports, as the config reader
// would place it; no key is written in the file.
type recordingChecker struct{ problems []string }

func (r *recordingChecker) Has(string) bool { return false }
func (r *recordingChecker) Required(key, val string) bool {
	if val == "" {
		r.problems = append(r.problems, key+": missing")
	}
	return val != ""
}
func (r *recordingChecker) RequiredList(key string, vals []string) {
	if len(vals) == 0 {
		r.problems = append(r.problems, key+": missing")
	}
}
func (r *recordingChecker) URL(key, val string) bool {
	if val != "" && !strings.Contains(val, "://") {
		r.problems = append(r.problems, key+": not a URL")
		return false
	}
	return val != ""
}
func (r *recordingChecker) Secret(key, val string, required bool) bool {
	if val == "" && required {
		r.problems = append(r.problems, key+": missing")
	}
	return val != ""
}
func (r *recordingChecker) PageTitle() string { return "Status" }
func (r *recordingChecker) Errorf(key, format string, args ...any) {
	r.problems = append(r.problems, key+": "+fmt.Sprintf(format, args...))
}
func (r *recordingChecker) Warnf(string, string, ...any) {}

// TestCheckTags checks an empty section of every registered channel: each
// tag names a known check (none reports "cannot check"), and the keys it
// reports missing are exactly those its tags mark required, so the
// declaration next to each key is what is enforced.
func TestCheckTags(t *testing.T) {
	for _, d := range Registry() {
		s := d.New()
		rc := &recordingChecker{}
		CheckSection(s, rc)
		var required []string
		for f := range d.Type.Fields() {
			if rule := f.Tag.Get("check"); rule != "" && rule != "optional-url" {
				key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
				required = append(required, key+": missing")
			}
		}
		var hook []string // Hook's embedded hook_url
		if _, ok := s.(interface {
			single(Options, func(poster) Notifier) ([]Target, []string, error)
		}); ok {
			hook = []string{"hook_url: missing"}
		}
		for _, p := range rc.problems {
			if strings.Contains(p, "cannot check") {
				t.Errorf("%s: %s", d.Name, p)
			}
		}
		for _, want := range append(required, hook...) {
			if !slices.Contains(rc.problems, want) {
				t.Errorf("%s: an empty section does not report %q (got %q)", d.Name, want, rc.problems)
			}
		}
	}
}
