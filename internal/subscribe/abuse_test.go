package subscribe_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignUpAnswersTellNothing: a new, a pending and a subscribed address
// get byte-identical answers, so the form cannot be used to learn who
// subscribed; the pending one gets its link again, the subscribed one
// nothing.
func TestSignUpAnswersTellNothing(t *testing.T) {
	r := newRig(t, rigOptions{})
	if a := r.subscribe("pending@example.com"); a.code != http.StatusOK {
		t.Fatalf("first sign-up = %d %s", a.code, a.body)
	}
	r.mail.Wait(t, "pending@example.com", 1, wait)
	if a := r.manager(http.MethodPost, "manager/subscriber", `{"address":"subscribed@example.com"}`); a.code != http.StatusOK {
		t.Fatalf("add = %d %s", a.code, a.body)
	}
	answers := map[string]answer{}
	for _, addr := range []string{"new@example.com", "pending@example.com", "subscribed@example.com"} {
		answers[addr] = r.subscribe(addr)
	}
	first := answers["new@example.com"]
	if first.code != http.StatusOK {
		t.Fatalf("new address = %d %s", first.code, first.body)
	}
	for addr, a := range answers {
		if a.code != first.code || a.body != first.body || a.header.Get("Content-Type") != first.header.Get("Content-Type") ||
			a.header.Get("Content-Length") != first.header.Get("Content-Length") {
			t.Errorf("the answer for %s differs from a new address's:\n%d %q\nvs\n%d %q", addr, a.code, a.body, first.code, first.body)
		}
		if strings.Contains(a.body, addr) {
			t.Errorf("the answer names the address %s", addr)
		}
	}
	r.mail.Wait(t, "new@example.com", 1, wait)
	r.mail.Wait(t, "pending@example.com", 2, wait)
	// Let the outbox run a few more rounds: the subscribed address must
	// get no confirmation.
	time.Sleep(200 * time.Millisecond)
	if got := r.mail.To("subscribed@example.com"); len(got) != 0 {
		t.Errorf("a subscribed address was sent %d mails on a second sign-up: %q", len(got), got[0].Subject())
	}
}

// TestConfirmationLinkExpires: a link works for 24 hours, not a second
// more, and a link altered in any part is refused.
func TestConfirmationLinkExpires(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.subscribe("late@example.com")
	r.subscribe("tamper@example.com")
	late := confirmLinkIn(t, r.mail.Wait(t, "late@example.com", 1, wait)[0])
	tamper := confirmLinkIn(t, r.mail.Wait(t, "tamper@example.com", 1, wait)[0])

	for name, bad := range map[string]string{
		"signature": tamper[:len(tamper)-2] + "xx",
		"id":        strings.Replace(tamper, "token=", "token=0", 1),
		"truncated": tamper[:strings.LastIndex(tamper, ".")],
	} {
		if a := r.confirm(bad); a.code != http.StatusBadRequest || !strings.Contains(a.body, "not valid") {
			t.Errorf("%s altered: confirm = %d, want 400 not valid:\n%s", name, a.code, a.body)
		}
	}

	r.clock.Advance(24*time.Hour - time.Second)
	if a := r.confirm(tamper); a.code != http.StatusOK {
		t.Fatalf("a link 1 s before its expiry = %d:\n%s", a.code, a.body)
	}
	r.clock.Advance(time.Second)
	if a := r.confirm(late); a.code != http.StatusGone || !strings.Contains(a.body, "expired") {
		t.Fatalf("a link at its expiry = %d, want 410:\n%s", a.code, a.body)
	}
	// Signing up again sends a fresh link that works.
	r.subscribe("late@example.com")
	fresh := confirmLinkIn(t, r.mail.Wait(t, "late@example.com", 2, wait)[1])
	if a := r.confirm(fresh); a.code != http.StatusOK {
		t.Fatalf("the fresh link = %d:\n%s", a.code, a.body)
	}
}

// TestSignUpRateLimits: per client address, and per e-mail address
// whoever asks; and a bound on addresses awaiting confirmation.
func TestSignUpRateLimits(t *testing.T) {
	t.Run("per client", func(t *testing.T) {
		r := newRig(t, rigOptions{extra: "client_rate = 3\naddress_rate = 10\n"})
		for i, addr := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			if a := r.subscribe(addr); a.code != http.StatusOK {
				t.Fatalf("sign-up %d = %d %s", i+1, a.code, a.body)
			}
		}
		a := r.subscribe("d@example.com")
		if a.code != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
			t.Fatalf("a fourth sign-up from one client within the hour = %d (Retry-After %q), want 429 with Retry-After", a.code, a.header.Get("Retry-After"))
		}
		r.clock.Advance(time.Hour)
		if a := r.subscribe("d@example.com"); a.code != http.StatusOK {
			t.Fatalf("an hour later = %d, want 200", a.code)
		}
	})
	t.Run("per address", func(t *testing.T) {
		r := newRig(t, rigOptions{extra: "client_rate = 100\naddress_rate = 2\n"})
		r.subscribe("victim@example.com")
		r.subscribe("VICTIM@example.com")
		if a := r.subscribe("victim@EXAMPLE.com"); a.code != http.StatusTooManyRequests {
			t.Fatalf("a third confirmation for one address within the day = %d, want 429", a.code)
		}
		if a := r.subscribe("other@example.com"); a.code != http.StatusOK {
			t.Fatalf("another address = %d, want 200", a.code)
		}
		r.mail.Wait(t, "other@example.com", 1, wait)
		time.Sleep(100 * time.Millisecond)
		if got := len(r.mail.To("victim@example.com")); got != 2 {
			t.Errorf("the victim got %d mails, want 2", got)
		}
	})
	t.Run("pending bound", func(t *testing.T) {
		r := newRig(t, rigOptions{extra: "max_pending = 2\n"})
		r.subscribe("one@example.com")
		r.subscribe("two@example.com")
		for _, addr := range []string{"three@example.com", "one@example.com"} {
			// Full: the same answer for a pending address as for a new
			// one, so that it tells nothing either.
			if a := r.subscribe(addr); a.code != http.StatusServiceUnavailable {
				t.Fatalf("%s with 2 pending of 2 = %d, want 503", addr, a.code)
			}
		}
		link := confirmLinkIn(t, r.mail.Wait(t, "one@example.com", 1, wait)[0])
		if a := r.confirm(link); a.code != http.StatusOK {
			t.Fatal(a.body)
		}
		if a := r.subscribe("three@example.com"); a.code != http.StatusOK {
			t.Fatalf("after a confirmation frees a place = %d, want 200", a.code)
		}
	})
}

// TestSignUpValidation: bad input is a 400 that says what is wrong, and
// nothing is stored or sent.
func TestSignUpValidation(t *testing.T) {
	r := newRig(t, rigOptions{extra: "client_rate = 100\n"})
	tests := []struct {
		address  string
		services []string
		want     string
	}{
		{"", nil, "an e-mail address is required"},
		{"not-an-address", nil, "is not an e-mail address"},
		{"Alice <alice@example.com>", nil, "is not an e-mail address"},
		{"root@localhost", nil, "with a domain name"},
		{strings.Repeat("a", 250) + "@example.com", nil, "longer than 254 bytes"},
		{"ok@example.com", []string{"nosuch"}, `unknown service &#34;nosuch&#34;`},
	}
	for _, tt := range tests {
		a := r.subscribe(tt.address, tt.services...)
		if a.code != http.StatusBadRequest || !strings.Contains(a.body, tt.want) {
			t.Errorf("subscribe(%q, %v) = %d, want 400 with %q:\n%s", tt.address, tt.services, a.code, tt.want, a.body)
		}
	}
	if n := len(r.manager(http.MethodGet, "manager/subscribers", "").body); n != 2 { // "[]"
		t.Errorf("bad sign-ups were stored: %s", r.manager(http.MethodGet, "manager/subscribers", "").body)
	}
}
