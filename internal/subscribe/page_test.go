package subscribe_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-go/vigil/internal/status"
	"github.com/vigil-go/vigil/internal/store/storetest"
	"github.com/vigil-go/vigil/internal/testkit"
	"github.com/vigil-go/vigil/internal/testkit/mailbox"
	"github.com/vigil-go/vigil/internal/web"
)

// TestPageForm: with subscriptions on, the page has the form, posting to
// a route that exists, with one checkbox per service; its stylesheet is
// served.
func TestPageForm(t *testing.T) {
	r := newRig(t, rigOptions{})
	page := r.do(http.MethodGet, "", "", "", false)
	for _, want := range []string{
		`<form class="subscribe-form" method="post" action="subscriptions">`,
		`name="address" type="email" required`,
		`<input type="checkbox" name="service" value="web"> Website`,
		`<input type="checkbox" name="service" value="db"> Database`,
		`assets/stylesheets/subscribe.css?v=`,
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if css := r.do(http.MethodGet, "assets/stylesheets/subscribe.css", "", "", false); css.code != http.StatusOK || !strings.Contains(css.body, ".subscribe-address") {
		t.Errorf("subscribe.css = %d", css.code)
	}
	// Ticking every service is the same as ticking none: all of them.
	r.subscribe("all@example.com", "web", "db")
	r.subscribe("some@example.com", "db")
	var list []struct {
		Address  string   `json:"address"`
		Services []string `json:"services"`
	}
	a := r.manager(http.MethodGet, "manager/subscribers", "")
	if err := json.Unmarshal([]byte(a.body), &list); err != nil || len(list) != 2 {
		t.Fatalf("list = %s", a.body)
	}
	if len(list[0].Services) != 0 || strings.Join(list[1].Services, ",") != "db" {
		t.Errorf("services = %v and %v, want [] (all) and [db]", list[0].Services, list[1].Services)
	}
}

// TestSubscriptionsOff: without [subscriptions] enabled there is no form
// and every subscription route is Vigil's empty 404, the manager's too.
func TestSubscriptionsOff(t *testing.T) {
	mail := mailbox.Start(t)
	text := strings.Replace(configText("http://127.0.0.1/", mail, rigOptions{}), "enabled = true", "enabled = false", 1)
	cfg := testkit.Config(t, text)
	site, err := web.New(context.Background(), web.Options{Config: cfg, Source: testkit.SourceOf(&status.Snapshot{}), Store: storetest.Open(t, storetest.SQLite(t))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	defer srv.Close()
	r := &rig{t: t, url: srv.URL + "/"}
	if page := r.do(http.MethodGet, "", "", "", false); strings.Contains(page.body, "subscribe") {
		t.Errorf("the page has the form while subscriptions are off")
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "subscriptions"}, {http.MethodGet, "subscriptions/confirm?token=x"},
		{http.MethodPost, "subscriptions/unsubscribe?token=x"}, {http.MethodGet, "manager/subscribers"},
	} {
		if a := r.do(c.method, c.path, "application/x-www-form-urlencoded", "address=a@example.com", true); a.code != http.StatusNotFound || a.body != "" {
			t.Errorf("%s /%s = %d %q, want an empty 404", c.method, c.path, a.code, a.body)
		}
	}
}

// TestManagerExportAndDelete: the export as CSV and JSON, the guard, and
// delete.
func TestManagerExportAndDelete(t *testing.T) {
	r := newRig(t, rigOptions{})
	if a := r.do(http.MethodGet, "manager/subscribers", "", "", false); a.code != http.StatusUnauthorized {
		t.Errorf("without the manager token = %d, want 401", a.code)
	}
	r.manager(http.MethodPost, "manager/subscriber", `{"address":"=cmd@example.com","services":["web"]}`)
	r.subscribe("pending@example.com")
	a := r.manager(http.MethodGet, "manager/subscribers?format=csv", "")
	if a.code != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV export = %d %s", a.code, a.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV = %v, %v:\n%s", rows, err, a.body)
	}
	if got := strings.Join(rows[1][1:], "|"); !strings.HasPrefix(got, "email|'=cmd@example.com|web|true|") {
		t.Errorf("first row = %q (a leading = must be defused for spreadsheets)", got)
	}
	if got := strings.Join(rows[2][1:5], "|"); got != "email|pending@example.com||false" {
		t.Errorf("second row = %q", got)
	}
	if strings.Contains(a.body, "token") && strings.Contains(a.body, "secret") {
		t.Errorf("the export holds tokens or secrets")
	}
	// Adding an address that waits for its confirmation confirms it.
	if a := r.manager(http.MethodPost, "manager/subscriber", `{"address":"pending@example.com"}`); a.code != http.StatusOK || !strings.Contains(a.body, `"confirmed":true`) {
		t.Errorf("adding a pending address = %d %s, want 200 and confirmed", a.code, a.body)
	}
	if a := r.manager(http.MethodPost, "manager/subscriber", `{"address":"pending@example.com"}`); a.code != http.StatusConflict {
		t.Errorf("adding it again = %d %s, want 409", a.code, a.body)
	}
	if a := r.manager(http.MethodGet, "manager/subscribers?format=xml", ""); a.code != http.StatusBadRequest {
		t.Errorf("format=xml = %d, want 400", a.code)
	}
	if a := r.manager(http.MethodDelete, "manager/subscriber/"+rows[1][0], ""); a.code != http.StatusOK {
		t.Errorf("delete = %d %s", a.code, a.body)
	}
	if a := r.manager(http.MethodDelete, "manager/subscriber/"+rows[1][0], ""); a.code != http.StatusNotFound {
		t.Errorf("delete again = %d, want 404", a.code)
	}
	if n := countSubscribers(t, r, "=cmd@example.com"); n != 0 {
		t.Errorf("still listed after delete")
	}
}
