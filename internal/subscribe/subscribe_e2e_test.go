package subscribe_test

import (
	"encoding/json"
	"html"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const wait = 10 * time.Second

// TestSubscribeConfirmNotifyUnsubscribe is a visitor's whole journey:
// the form, the confirmation mail read from a real SMTP server, the link,
// an incident opened through the manager API and its mail with the
// RFC 8058 headers, the one-click unsubscribe, and nothing more after it.
func TestSubscribeConfirmNotifyUnsubscribe(t *testing.T) {
	r := newRig(t, rigOptions{timeZone: "Asia/Shanghai"})

	if a := r.subscribe("alice@example.com"); a.code != http.StatusOK || !strings.Contains(a.body, "confirmation link is on its way") {
		t.Fatalf("subscribe = %d:\n%s", a.code, a.body)
	}
	confirmation := r.mail.Wait(t, "alice@example.com", 1, wait)[0]
	if got := confirmation.Subject(); got != "Confirm your subscription to Acme Status" {
		t.Errorf("confirmation subject = %q", got)
	}
	if confirmation.Header.Get("List-Unsubscribe") != "" {
		t.Errorf("the confirmation mail has a List-Unsubscribe header: there is nothing to unsubscribe from yet")
	}
	if !strings.Contains(confirmation.HTML, "Confirm my subscription") {
		t.Errorf("the confirmation has no HTML part with the button:\n%s", confirmation.HTML)
	}
	link := confirmLinkIn(t, confirmation)

	// Bob, added through the manager API (pre-confirmed), is the witness
	// that the dispatcher has run.
	if a := r.manager(http.MethodPost, "manager/subscriber", `{"address":"bob@example.com"}`); a.code != http.StatusOK {
		t.Fatalf("add bob = %d %s", a.code, a.body)
	}
	// Carol hears about the database only.
	if a := r.manager(http.MethodPost, "manager/subscriber", `{"address":"carol@example.com","services":["db"]}`); a.code != http.StatusOK {
		t.Fatalf("add carol = %d %s", a.code, a.body)
	}
	// Before confirming, alice gets nothing.
	r.clock.Advance(time.Minute)
	if a := r.manager(http.MethodPost, "manager/incident", `{"title":"Early outage","nodes":["web:api"]}`); a.code != http.StatusOK {
		t.Fatalf("open incident = %d %s", a.code, a.body)
	}
	r.clock.Advance(time.Minute)
	var inc struct {
		ID int64 `json:"id"`
	}
	a := r.manager(http.MethodPost, "manager/incident", `{"title":"API errors","nodes":["web:api"],"text":"We are looking into it."}`)
	if err := json.Unmarshal([]byte(a.body), &inc); a.code != http.StatusOK || err != nil {
		t.Fatalf("open incident = %d %s", a.code, a.body)
	}
	r.mail.Wait(t, "bob@example.com", 2, wait)
	if got := r.mail.To("alice@example.com"); len(got) != 1 {
		t.Fatalf("alice got %d mails before confirming, want only the confirmation", len(got))
	}

	if a := r.confirm(link); a.code != http.StatusOK || !strings.Contains(a.body, "Subscription confirmed") {
		t.Fatalf("confirm = %d:\n%s", a.code, a.body)
	}
	r.clock.Advance(time.Minute)
	if a := r.manager(http.MethodPost, "manager/incident/"+itoa(inc.ID)+"/updates", `{"status":"identified","text":"A bad deploy; rolling back."}`); a.code != http.StatusOK {
		t.Fatalf("update = %d %s", a.code, a.body)
	}
	m := r.mail.Wait(t, "alice@example.com", 2, wait)[1]
	if got, want := m.Subject(), "[Acme Status] Update on the incident: API errors"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	for _, want := range []string{"Status: identified", "A bad deploy; rolling back.", "Affected: Website: Public API", "UTC+08:00"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(html.UnescapeString(m.HTML), want) {
			t.Errorf("the mail lacks %q in its text or HTML part:\n%s\n%s", want, m.Text, m.HTML)
		}
	}
	for _, leak := range []string{"secret-replica", "10.0.0.9", "replica"} {
		if strings.Contains(string(m.Raw), leak) {
			t.Errorf("the mail names a replica (%q):\n%s", leak, m.Raw)
		}
	}
	unsubscribe := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(unsubscribe, r.url+"subscriptions/unsubscribe?token=") {
		t.Fatalf("List-Unsubscribe = %q", m.Header.Get("List-Unsubscribe"))
	}
	if got := m.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	if !strings.Contains(m.Text, unsubscribe) || !strings.Contains(html.UnescapeString(m.HTML), unsubscribe) {
		t.Errorf("the unsubscribe link is not in both parts")
	}
	if got := r.mail.To("carol@example.com"); len(got) != 0 {
		t.Errorf("carol, subscribed to the database only, got mail about the website: %q", got[0].Subject())
	}

	// A link scanner's GET unsubscribes nobody.
	if a := r.do(http.MethodGet, unsubscribe, "", "", false); a.code != http.StatusOK || !strings.Contains(a.body, "<button") {
		t.Fatalf("GET unsubscribe = %d:\n%s", a.code, a.body)
	}
	if n := countSubscribers(t, r, "alice@example.com"); n != 1 {
		t.Fatalf("after a GET of the unsubscribe link alice is listed %d times, want still 1", n)
	}
	// The mail client's one-click POST (RFC 8058).
	if a := r.do(http.MethodPost, unsubscribe, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", false); a.code != http.StatusOK {
		t.Fatalf("one-click unsubscribe = %d:\n%s", a.code, a.body)
	}
	if n := countSubscribers(t, r, "alice@example.com"); n != 0 {
		t.Fatalf("after the one-click unsubscribe alice is still listed")
	}

	r.clock.Advance(time.Minute)
	if a := r.manager(http.MethodPost, "manager/incident/"+itoa(inc.ID)+"/resolve", `{"text":"Rolled back."}`); a.code != http.StatusOK {
		t.Fatalf("resolve = %d %s", a.code, a.body)
	}
	// Bob's mail about the resolution is queued after alice's would be.
	bob := r.mail.Wait(t, "bob@example.com", 4, wait)
	if got := bob[3].Subject(); got != "[Acme Status] Resolved: API errors" {
		t.Errorf("bob's last subject = %q", got)
	}
	if got := r.mail.To("alice@example.com"); len(got) != 2 {
		t.Errorf("alice got %d mails, want 2: nothing after unsubscribing", len(got))
	}
}

func countSubscribers(t *testing.T, r *rig, address string) int {
	t.Helper()
	a := r.manager(http.MethodGet, "manager/subscribers", "")
	var list []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(a.body), &list); a.code != http.StatusOK || err != nil {
		t.Fatalf("list subscribers = %d %s", a.code, a.body)
	}
	n := 0
	for _, s := range list {
		if s.Address == address {
			n++
		}
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
