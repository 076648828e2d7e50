package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestProblemPositions pins line:col for each kind of problem: a problem
// with a written value points at the value, whoever found it (validation, a
// channel's check, the decoder); a problem with a key's name at the key; a
// missing key at its table's header; an unknown section at its header.
func TestProblemPositions(t *testing.T) {
	base := readTestdata(t, "minimal.cfg")
	edit := func(t *testing.T, old, new string) string {
		t.Helper()
		if !strings.Contains(base, old) {
			t.Fatalf("minimal.cfg lacks %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	for _, tt := range []struct {
		name string
		text func(t *testing.T) string
		env  map[string]string
		want string // the first problem, error or warning
	}{
		{"string value", func(t *testing.T) string { return edit(t, `mode = "poll"`, `mode = "pull"`) }, nil,
			`test.cfg:24:8: probe.service[0].node[0].mode: unknown mode "pull" (want poll, push, script or local)`},
		{"integer value", func(t *testing.T) string {
			return edit(t, "[probe]", "[metrics]\npoll_parallelism   =   0\n\n[probe]")
		}, nil, `test.cfg:16:24: metrics.poll_parallelism: must be at least 1, got 0 (with 0 no poll probe would ever run)`},
		{"array element", func(t *testing.T) string {
			return edit(t, `replicas = ["https://example.com/"]`, `replicas = ["https://example.com/", "udp://x:1"]`)
		}, nil, `test.cfg:25:37: probe.service[0].node[0].replicas[1]: unsupported scheme "udp" (want http, https, tcp, ssh, icmp, tls or dns)`},
		{"a channel's key", func(t *testing.T) string {
			return base + "\n[notify.email]\nto = \"undisclosed-recipients:;\"\nfrom = \"v@example.com\"\nsmtp_host = \"smtp.example.com\"\n"
		}, nil, `test.cfg:28:6: notify.email.to: invalid address list "undisclosed-recipients:;": no recipient in it`},
		{"wrong type, from the decoder", func(t *testing.T) string {
			return edit(t, "[probe]", "[metrics]\npoll_interval = \"2m\"\n\n[probe]")
		}, nil, `test.cfg:16:17: metrics.poll_interval: wrong type: got a string, want an integer`},
		{"value from a variable", func(t *testing.T) string { return edit(t, `mode = "poll"`, `mode = "${MODE}"`) },
			map[string]string{"MODE": "pull"},
			`test.cfg:24:8: probe.service[0].node[0].mode: unknown mode "pull" (want poll, push, script or local)`},
		{"a key's own name", func(t *testing.T) string {
			return edit(t, `mode = "poll"`, "mode = \"poll\"\nhttp_headers = { \"X Bad\" = \"v\" }")
		}, nil, "test.cfg:25:18: probe.service[0].node[0].http_headers.\"X Bad\": invalid header name \"X Bad\" (want letters, digits and !#$%&'*+-.^_`|~ only)"},
		{"missing key", func(t *testing.T) string { return edit(t, `reporter_token = "reporter"`+"\n", "") }, nil,
			`test.cfg:1:1: server.reporter_token: missing required key`},
		{"unknown section", func(t *testing.T) string { return edit(t, "[probe]", "[metrcis]\npoll_interval = 5\n\n[probe]") }, nil,
			`test.cfg:15:1: metrcis: unknown section, its keys would all be ignored (did you mean [metrics]?)`},
		{"unknown key, a warning at the key", func(t *testing.T) string {
			return edit(t, `reporter_token = "reporter"`, "reporter_token = \"reporter\"\n  listen = \"[::1]:80\"")
		}, nil, `test.cfg:4:3: server.listen: unknown key, ignored`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := noEnv
			if tt.env != nil {
				env = envMap(tt.env)
			}
			_, warns, err := Parse("test.cfg", []byte(tt.text(t)), env)
			var got []string
			if es, ok := err.(Errors); ok {
				for _, e := range es {
					got = append(got, e.String())
				}
			} else if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, w := range warns {
				got = append(got, w.String())
			}
			if len(got) == 0 || got[0] != tt.want {
				t.Errorf("problems:\n%s\nwant first:\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// TestErrorsPointAtValues: across the whole invalid corpus, no error of a
// key written with a value points at the key's name (column 1 of
// "key = value"), so nothing drifts back when a check is added.
func TestErrorsPointAtValues(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	atKey := regexp.MustCompile(`^[A-Za-z0-9_-]+\s*=`)
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		_, _, err = Parse(f, data, nil)
		es, ok := err.(Errors)
		if !ok {
			continue // a syntax error: the decoder's own position
		}
		for _, e := range es {
			if e.Line == 0 || e.Column == 0 || e.Line > len(lines) {
				continue
			}
			at := lines[e.Line-1][e.Column-1:]
			if strings.Contains(e.Msg, "header name") || strings.Contains(e.Msg, "already defined") {
				continue // about the key itself: its name, or its second definition
			}
			checked++
			if atKey.MatchString(at) {
				t.Errorf("%s points at the key, not its value (%q)", e, at)
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d positioned errors checked; the corpus shrank?", checked)
	}
}
