package subscribe_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/subscribe"
	"github.com/vigil-go/vigil/internal/testkit"
	"github.com/vigil-go/vigil/internal/testkit/mailbox"
)

// receiver is a partner's webhook endpoint that checks every delivery's
// signature as the README tells partners to, and fails the first n.
type receiver struct {
	secret string
	now    func() time.Time

	mu       sync.Mutex
	failNext int
	got      []delivery
}

type delivery struct {
	event     string
	body      []byte
	verifyErr error
	header    http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := delivery{event: r.Header.Get(subscribe.HeaderEvent), body: body, header: r.Header.Clone(),
		verifyErr: subscribe.Verify(rc.secret, r.Header.Get(subscribe.HeaderSignature), r.Header.Get(subscribe.HeaderTimestamp), body, rc.now(), 5*time.Minute)}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.failNext > 0 {
		rc.failNext--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	rc.got = append(rc.got, d)
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhookSubscriber: a partner's webhook, added through the manager
// API, gets signed JSON payloads, retried through the outbox when it
// fails; a tampered or replayed payload does not verify.
func TestWebhookSubscriber(t *testing.T) {
	r := newRig(t, rigOptions{})
	const secret = "partner-shared-secret-1234"
	rc := &receiver{secret: secret, now: r.clock.Now, failNext: 1}
	partner := httptest.NewServer(rc)
	defer partner.Close()

	for _, bad := range []struct{ body, want string }{
		{`{"kind":"webhook","url":"` + partner.URL + `","secret":"short"}`, "secret must be at least 16 bytes"},
		{`{"kind":"webhook","url":"ftp://x/","secret":"` + secret + `"}`, "absolute http or https URL"},
		{`{"kind":"sms","address":"+33"}`, `unknown kind \"sms\"`},
		{`{"address":"a@example.com","colour":"red"}`, "unknown key"},
	} {
		if a := r.manager(http.MethodPost, "manager/subscriber", bad.body); a.code != http.StatusBadRequest || !strings.Contains(a.body, bad.want) {
			t.Errorf("POST %s = %d %s, want 400 with %q", bad.body, a.code, a.body, bad.want)
		}
	}
	a := r.manager(http.MethodPost, "manager/subscriber", `{"kind":"webhook","url":"`+partner.URL+`","secret":"`+secret+`","services":["web"]}`)
	if a.code != http.StatusOK || strings.Contains(a.body, secret) {
		t.Fatalf("add webhook = %d %s (the secret must not be echoed)", a.code, a.body)
	}
	if a := r.manager(http.MethodPost, "manager/subscriber", `{"kind":"webhook","url":"`+partner.URL+`","secret":"`+secret+`"}`); a.code != http.StatusConflict {
		t.Errorf("adding the same webhook again = %d, want 409", a.code)
	}
	// The page's form cannot add a webhook: it takes e-mail addresses only.
	if a := r.subscribe(partner.URL); a.code != http.StatusBadRequest {
		t.Errorf("a URL through the form = %d, want 400", a.code)
	}

	r.clock.Advance(time.Minute)
	if a := r.manager(http.MethodPost, "manager/incident", `{"title":"Checkout down","nodes":["web:api"],"text":"Investigating."}`); a.code != http.StatusOK {
		t.Fatalf("open incident = %d %s", a.code, a.body)
	}
	// The first attempt gets a 503: the outbox retries after its backoff.
	waitFor(t, "the failed first attempt", func() bool {
		return r.log.Count("will retry", "channel="+subscribe.ChannelWebhook, "status 503") == 1
	})
	r.clock.Advance(time.Second)
	waitFor(t, "the webhook delivery", func() bool { return len(rc.deliveries()) == 1 })
	d := rc.deliveries()[0]
	if d.verifyErr != nil {
		t.Fatalf("the receiver could not verify the delivery: %v", d.verifyErr)
	}
	if d.event != subscribe.IncidentOpened {
		t.Errorf("%s = %q", subscribe.HeaderEvent, d.event)
	}
	var p struct {
		PageTitle string          `json:"page_title"`
		Event     subscribe.Event `json:"event"`
	}
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.PageTitle != "Acme Status" || p.Event.Title != "Checkout down" || p.Event.Text != "Investigating." ||
		strings.Join(p.Event.Services, ",") != "web" || strings.Join(p.Event.Affected, ",") != "Website: Public API" {
		t.Errorf("payload = %s", d.body)
	}
	if strings.Contains(string(d.body), "secret-replica") {
		t.Errorf("the payload names a replica: %s", d.body)
	}
	ts := d.header.Get(subscribe.HeaderTimestamp)
	sig := d.header.Get(subscribe.HeaderSignature)
	tampered := []byte(strings.Replace(string(d.body), "Checkout down", "All good", 1))
	if err := subscribe.Verify(secret, sig, ts, tampered, r.clock.Now(), 5*time.Minute); err == nil {
		t.Error("a tampered body verified")
	}
	if err := subscribe.Verify("another-secret-entirely", sig, ts, d.body, r.clock.Now(), 5*time.Minute); err == nil {
		t.Error("another secret verified")
	}
	if err := subscribe.Verify(secret, sig, ts, d.body, r.clock.Now().Add(10*time.Minute), 5*time.Minute); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Errorf("a delivery replayed 10 minutes later = %v, want refused", err)
	}

	// A database incident concerns neither this webhook's services.
	r.clock.Advance(time.Minute)
	r.manager(http.MethodPost, "manager/incident", `{"title":"DB slow","nodes":["db:primary"]}`)
	if a := r.manager(http.MethodPost, "manager/subscriber", `{"address":"witness@example.com","services":["db"]}`); a.code != http.StatusOK {
		t.Fatal(a.body)
	}
	r.clock.Advance(time.Minute)
	r.manager(http.MethodPost, "manager/incident", `{"title":"DB down","nodes":["db:primary"]}`)
	r.mail.Wait(t, "witness@example.com", 1, wait)
	time.Sleep(100 * time.Millisecond)
	if n := len(rc.deliveries()); n != 1 {
		t.Errorf("the webhook for web got %d deliveries, want 1: database incidents are not its", n)
	}
}

// TestRestartBetweenSubscribeAndConfirm: the signing keys and the pending
// subscriber are in the database, so a link sent before a restart works
// after it, and the confirmed address then gets the next incident.
func TestRestartBetweenSubscribeAndConfirm(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vigil.db")
	clock := testkit.NewClock(t0)
	mail := mailbox.Start(t)
	first := newRig(t, rigOptions{dbPath: db, clock: clock, mail: mail})
	first.subscribe("restart@example.com")
	link := confirmLinkIn(t, mail.Wait(t, "restart@example.com", 1, wait)[0])
	first.settle()
	first.stop()

	clock.Advance(time.Hour)
	second := newRig(t, rigOptions{dbPath: db, clock: clock, mail: mail})
	// The link names the first server's address; the second listens
	// elsewhere: follow the same path and token there.
	link = second.url + link[strings.Index(link, "subscriptions/"):]
	if a := second.confirm(link); a.code != http.StatusOK {
		t.Fatalf("confirm after a restart = %d:\n%s", a.code, a.body)
	}
	clock.Advance(time.Minute)
	second.manager(http.MethodPost, "manager/incident", `{"title":"After the restart","nodes":["web:api"]}`)
	if got := mail.Wait(t, "restart@example.com", 2, wait)[1].Subject(); got != "[Acme Status] Incident: After the restart" {
		t.Errorf("subject = %q", got)
	}
}

// TestMaintenanceAndAnnouncements: a window scheduled ahead is announced,
// then its start and its end as the clock reaches them; a new
// announcement is sent to every subscriber; times are in [branding]
// time_zone; and nothing is sent twice, across a restart either.
func TestMaintenanceAndAnnouncements(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vigil.db")
	clock := testkit.NewClock(t0)
	mail := mailbox.Start(t)
	r := newRig(t, rigOptions{dbPath: db, clock: clock, mail: mail, timeZone: "Europe/Paris"})
	r.manager(http.MethodPost, "manager/subscriber", `{"address":"ops@example.com","services":["db"]}`)
	r.manager(http.MethodPost, "manager/subscriber", `{"address":"web@example.com","services":["web"]}`)
	clock.Advance(time.Minute)
	start, end := t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	body := `{"start":"` + start.Format(time.RFC3339) + `","end":"` + end.Format(time.RFC3339) + `","targets":["db"],"message":"Database upgrade"}`
	if a := r.manager(http.MethodPost, "manager/maintenance", body); a.code != http.StatusOK {
		t.Fatalf("maintenance = %d %s", a.code, a.body)
	}
	if a := r.manager(http.MethodPost, "manager/announcement", `{"title":"New region","text":"We now serve Asia."}`); a.code != http.StatusOK {
		t.Fatalf("announcement = %d %s", a.code, a.body)
	}
	got := mail.Wait(t, "ops@example.com", 2, wait)
	subjects := []string{got[0].Subject(), got[1].Subject()}
	want := map[string]bool{"[Acme Status] Maintenance scheduled: Database upgrade": true, "[Acme Status] New region": true}
	for _, s := range subjects {
		if !want[s] {
			t.Errorf("unexpected subject %q (want %v)", s, want)
		}
	}
	for _, m := range got {
		if strings.Contains(m.Subject(), "Maintenance") && !strings.Contains(m.Text, "From Thu 3 Dec 2026, 13:00 UTC+01:00 to Thu 3 Dec 2026, 14:00 UTC+01:00") {
			t.Errorf("the window's times are not in Europe/Paris:\n%s", m.Text)
		}
	}
	mail.Wait(t, "web@example.com", 1, wait) // the announcement only

	r.settle()
	r.stop() // a restart: what was sent stays sent
	clock.Set(start.Add(time.Minute))
	r = newRig(t, rigOptions{dbPath: db, clock: clock, mail: mail, timeZone: "Europe/Paris"})
	if s := mail.Wait(t, "ops@example.com", 3, wait)[2].Subject(); s != "[Acme Status] Maintenance started: Database upgrade" {
		t.Errorf("third subject = %q", s)
	}
	clock.Set(end)
	if s := mail.Wait(t, "ops@example.com", 4, wait)[3].Subject(); s != "[Acme Status] Maintenance ended: Database upgrade" {
		t.Errorf("fourth subject = %q", s)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(mail.To("ops@example.com")); n != 4 {
		t.Errorf("ops got %d mails, want 4: each event once", n)
	}
	if n := len(mail.To("web@example.com")); n != 1 {
		t.Errorf("web got %d mails, want 1: the window was the database's", n)
	}
	_ = r
}

// TestOnlyTheLeaderSends: a cluster member that does not lead fans
// nothing out and delivers nothing, though it serves the form; once it
// leads, everything goes out, once.
func TestOnlyTheLeaderSends(t *testing.T) {
	var leader atomic.Bool
	r := newRig(t, rigOptions{leader: leader.Load})
	r.manager(http.MethodPost, "manager/subscriber", `{"address":"follower@example.com"}`)
	if a := r.subscribe("visitor@example.com"); a.code != http.StatusOK {
		t.Fatalf("a member that does not lead still serves the form: %d", a.code)
	}
	r.clock.Advance(time.Minute)
	r.manager(http.MethodPost, "manager/incident", `{"title":"Seen by a follower","nodes":["web:api"]}`)
	time.Sleep(200 * time.Millisecond) // ten dispatch and delivery rounds
	if n := len(r.mail.Mails()); n != 0 {
		t.Fatalf("a member that does not lead sent %d mails", n)
	}
	if n, _ := r.store.PendingCount(context.Background(), subscribe.ChannelEmail); n != 1 {
		t.Fatalf("%d messages queued by a member that does not lead, want 1 (the confirmation, queued where the form was posted)", n)
	}
	leader.Store(true)
	r.mail.Wait(t, "follower@example.com", 1, wait)
	r.mail.Wait(t, "visitor@example.com", 1, wait)
	r.settle()
	if n := len(r.mail.Mails()); n != 2 {
		t.Errorf("%d mails once leading, want 2", n)
	}
}
