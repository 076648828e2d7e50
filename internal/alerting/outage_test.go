package alerting

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/alertpolicy"
	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestIncidentKeySurvivesFailoverAndRestart follows one outage through
// PagerDuty and Opsgenie: leader A queues the announcement and dies before
// saving the state; leader B, on the same store, decides it again (queuing
// nothing new) and saves it; after a restart the reminder and the recovery
// are sent. Every event of the outage must carry one key, so that the
// recovery closes the incident the announcement opened.
func TestIncidentKeySurvivesFailoverAndRestart(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []string // "path body"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, r.URL.RequestURI()+" "+string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	chs, err := notify.Build([]notify.Section{
		&notify.PagerDuty{RoutingKey: "routing", APIURL: srv.URL + "/v2/enqueue"},
		&notify.Opsgenie{APIKey: "key", APIURL: srv.URL, Priority: "P3"},
	}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seconds := config.Seconds(60)
	p := alertpolicy.New(&config.Notify{ReminderInterval: &seconds})
	path, c := dbPath(t), testkit.NewClock(t0)

	// deliver sends what h queued anew, as the outbox worker would.
	deliver := func(h *harness) {
		t.Helper()
		for _, q := range h.out.all() {
			if q.added == 0 {
				continue
			}
			for _, it := range q.items {
				target, ok := notify.Find(chs, it.Channel, it.Target)
				if !ok {
					t.Fatalf("no target %s/%q", it.Channel, it.Target)
				}
				if err := target.Notifier.Notify(ctx, it.Message); err != nil {
					t.Fatalf("%s: %v", it.Channel, err)
				}
			}
		}
	}

	a := newHarness(t, path, c, p, chs, func(s Store) Store { return failingPut{s} })
	a.run(10*time.Second, "web:core:a")
	deliver(a)

	c.Advance(20 * time.Second)
	b := newHarness(t, path, c, p, chs, nil)
	b.run(10*time.Second, "web:core:a")
	if calls := b.out.all(); len(calls) != 1 || calls[0].added != 0 {
		t.Fatalf("new leader: %+v, want the announcement decided again, adding nothing", calls)
	}

	restarted := newHarness(t, path, c, p, chs, nil)
	restarted.run(70*time.Second, "web:core:a")
	restarted.run(10 * time.Second)
	deliver(restarted)

	var pd []struct {
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
	}
	var aliases []string
	mu.Lock()
	defer mu.Unlock()
	for _, r := range reqs {
		uri, body, _ := strings.Cut(r, " ")
		switch {
		case uri == "/v2/enqueue":
			var ev struct {
				EventAction string `json:"event_action"`
				DedupKey    string `json:"dedup_key"`
			}
			if err := json.Unmarshal([]byte(body), &ev); err != nil {
				t.Fatal(err)
			}
			pd = append(pd, ev)
		case uri == "/v2/alerts":
			var al struct{ Alias string }
			if err := json.Unmarshal([]byte(body), &al); err != nil {
				t.Fatal(err)
			}
			aliases = append(aliases, "create "+al.Alias)
		case strings.HasSuffix(uri, "/close?identifierType=alias"):
			aliases = append(aliases, "close "+strings.TrimSuffix(strings.TrimPrefix(uri, "/v2/alerts/"), "/close?identifierType=alias"))
		default:
			t.Errorf("unexpected request %s", r)
		}
	}
	if len(pd) != 3 || pd[0].EventAction != "trigger" || pd[1].EventAction != "trigger" || pd[2].EventAction != "resolve" {
		t.Fatalf("PagerDuty events = %+v, want trigger, trigger (reminder), resolve", pd)
	}
	if pd[0].DedupKey == "" || pd[1].DedupKey != pd[0].DedupKey || pd[2].DedupKey != pd[0].DedupKey {
		t.Errorf("PagerDuty dedup keys = %q, %q, %q; want one key", pd[0].DedupKey, pd[1].DedupKey, pd[2].DedupKey)
	}
	key := pd[0].DedupKey
	want := []string{"create " + key, "create " + key, "close " + key}
	if strings.Join(aliases, "|") != strings.Join(want, "|") {
		t.Errorf("Opsgenie = %q, want %q", aliases, want)
	}
}
