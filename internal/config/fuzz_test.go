package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that every problem
// it reports names the file.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.cfg"))
	more, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.cfg"))
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[probe.service]\nid = 1\n"))
	f.Add([]byte("probe = 1\nserver = { manager_token = \"${X}\" }\n"))
	f.Add([]byte("[probe]\nservice = [{ id = \"a\", label = \"b\", node = [{ id = \"n\", label = \"l\", mode = \"poll\", replicas = [[1]] }] }]\n"))
	env := envMap(map[string]string{"X": "a\n[x]\n\"", "Y": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := Parse("f.cfg", data, env)
		if err != nil && cfg != nil {
			t.Fatal("config returned along with an error")
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.cfg") {
					t.Fatalf("problem %q does not start with the file name", line)
				}
			}
		}
		for _, w := range warns {
			if w.File != "f.cfg" {
				t.Fatalf("warning %q does not name the file", w)
			}
		}
	})
}
