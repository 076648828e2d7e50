package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/status"
)

// TestClusterReload: each member reloads its own file. A node added to
// every member's file is probed by all three after their SIGHUP and
// decided by the cluster with the new node's settings: its target refuses
// connections, and every member's page shows it dead.
func TestClusterReload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three vigil processes")
	}
	_, _, _, members := startThreeMembers(t, clusterConfig)
	eventually(t, 20*time.Second, "three healthy members with a leader", func() bool {
		s, err := members[0].status()
		return err == nil && s.Leader != "" && pageStatus(members) == "healthy,healthy,healthy"
	})

	extra := "\n[[probe.service]]\nid = \"extra\"\nlabel = \"Extra\"\n\n[[probe.service.node]]\nid = \"db\"\nlabel = \"DB\"\nmode = \"poll\"\n" +
		"replicas = [\"tcp://" + closedPort(t) + "\"]\nfailure_threshold = 2\n"
	for _, m := range members {
		path := m.cmd.Args[slices.Index(m.cmd.Args, "-c")+1]
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+".new", append(text, extra...), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
		m.hup(t, 1)
		if out := m.output(); !strings.Contains(out, "nodes_added=[extra:db]") || strings.Contains(out, "needs a restart") {
			t.Fatalf("%s: reload did not add extra:db alone:\n%s", m.id, out)
		}
	}
	eventually(t, 20*time.Second, "extra:db decided dead on every member", func() bool {
		for _, m := range members {
			if n := m.getReport(t).node("DB"); n.Status != status.Dead {
				return false
			}
		}
		return true
	})
	if got := pageStatus(members); got != "dead,dead,dead" {
		t.Errorf("page status after the reload = %s, want dead everywhere", got)
	}
	for _, m := range members {
		m.noRace(t)
	}
}
