package notify

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEListsEveryChannel keeps the README's channel list (in the
// [notify] row of the configuration table) equal to the registry, in order.
func TestREADMEListsEveryChannel(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, "| `[notify]` |") {
			row = line
		}
	}
	_, list, ok := strings.Cut(row, "and the channels ")
	if !ok {
		t.Fatalf("README has no [notify] row listing \"the channels …\": %q", row)
	}
	list, _, _ = strings.Cut(list, " with ")
	var names []string
	for _, m := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(list, -1) {
		names = append(names, m[1])
	}
	if !slices.Equal(names, Names()) {
		t.Errorf("README lists the channels %v, registry has %v", names, Names())
	}
}

// TestRegistry checks each registered channel: a unique name and a section
// type that NameOf finds.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Registry() {
		if seen[d.Name] {
			t.Errorf("channel %q registered twice", d.Name)
		}
		seen[d.Name] = true
		s := d.New()
		if got := NameOf(s); got != d.Name {
			t.Errorf("NameOf(%T) = %q, want %q", s, got, d.Name)
		}
	}
	if got := NameOf(nil); got != "" {
		t.Errorf("NameOf(nil) = %q, want \"\"", got)
	}
}

type unregistered struct{ Common }

func (*unregistered) Check(Checker) {}
func (*unregistered) targets(Options) ([]Target, []string, error) {
	return single(nil, nil)
}

// TestBuildRejectsUnregistered checks that a section of no registered
// channel is an error rather than a channel that silently never sends.
func TestBuildRejectsUnregistered(t *testing.T) {
	chs, err := Build([]Section{&unregistered{}, &Webhook{HookURL: "https://example.com/h"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "not a registered channel") {
		t.Errorf("Build(unregistered) error = %v, want not a registered channel", err)
	}
	if len(chs) != 1 || chs[0].Name != "webhook" {
		t.Errorf("Build(unregistered, webhook) = %v, want the webhook only", chs)
	}
}
