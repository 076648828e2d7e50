package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xmppo/go-xmpp"
)

// TestXMPPProsody sends a notification through a real Prosody and reads it
// back as the recipient.
func TestXMPPProsody(t *testing.T) {
	srv := startProsody(t, map[string]string{"vigil": "vigil-xmpp-secret", "ops": "ops-password"})

	// The recipient is online first, so that Prosody delivers to it directly.
	tc := srv.cert.clientConfig()
	tc.ServerName = srv.domain
	recipient, err := xmpp.Options{
		Host: srv.addr, User: "ops@" + srv.domain, Password: "ops-password",
		NoTLS: true, StartTLS: true, TLSConfig: tc, DialTimeout: 10 * time.Second,
	}.NewClient()
	if err != nil {
		t.Fatalf("recipient connect: %v", err)
	}
	// The library does not allow Close while Recv runs, so the reader stops
	// by itself once the message came, and Close happens after it. If
	// nothing comes, stopping Prosody at cleanup ends the reader.
	chats := make(chan xmpp.Chat, 1)
	go func() {
		defer close(chats)
		for {
			st, err := recipient.Recv()
			if err != nil {
				return
			}
			if c, ok := st.(xmpp.Chat); ok && c.Text != "" {
				chats <- c
				return
			}
		}
	}()

	o := testOptions()
	o.XMPPAddr = srv.addr
	o.TLS = srv.cert.clientConfig()
	ch := buildOne(t, &XMPP{
		To: "ops@" + srv.domain, From: "vigil@" + srv.domain, XMPPPassword: "vigil-xmpp-secret",
	}, o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ch.Targets[0].Notifier.Notify(ctx, msgReminder); err != nil {
		t.Fatalf("Notify = %v, want nil", err)
	}

	select {
	case c, ok := <-chats:
		if !ok {
			t.Fatal("the recipient's connection ended before a message came")
		}
		_ = recipient.Close()
		if c.Text != xmppText(msgReminder) {
			t.Errorf("received body %q, want %q", c.Text, xmppText(msgReminder))
		}
		if c.Type != "chat" {
			t.Errorf("received type %q, want chat", c.Type)
		}
		if !strings.HasPrefix(c.Remote, "vigil@"+srv.domain) {
			t.Errorf("received from %q, want vigil@%s", c.Remote, srv.domain)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the recipient received nothing within 30 s")
	}

	// A wrong password fails without showing it.
	bad := buildOne(t, &XMPP{
		To: "ops@" + srv.domain, From: "vigil@" + srv.domain, XMPPPassword: "wrong-xmpp-password",
	}, o)
	err = bad.Targets[0].Notifier.Notify(ctx, msgDead)
	if err == nil {
		t.Fatal("Notify with a wrong password = nil, want an error")
	}
	if strings.Contains(err.Error(), "wrong-xmpp-password") {
		t.Errorf("error %q contains the password", err)
	}
}

// TestXMPPRequiresTLS: without a certificate the client trusts, nothing is
// sent in the clear.
func TestXMPPRequiresTLS(t *testing.T) {
	srv := startProsody(t, map[string]string{"vigil": "vigil-xmpp-secret"})
	o := testOptions()
	o.XMPPAddr = srv.addr // no o.TLS: the test certificate is not trusted
	ch := buildOne(t, &XMPP{
		To: "ops@" + srv.domain, From: "vigil@" + srv.domain, XMPPPassword: "vigil-xmpp-secret",
	}, o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := ch.Targets[0].Notifier.Notify(ctx, msgDead)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Notify with an untrusted certificate = %v, want a certificate error", err)
	}
}

func TestXMPPStanza(t *testing.T) {
	got := xmppStanza(`ops@example.org`, "vigil-1790000000", "P & Q <x>\n\"quoted\"")
	want := `<message type="chat" id="vigil-1790000000" to="ops@example.org"><body>P &amp; Q &lt;x&gt;&#xA;&#34;quoted&#34;</body></message>`
	if got != want {
		t.Errorf("xmppStanza = %s, want %s", got, want)
	}
}

func TestXMPPText(t *testing.T) {
	want := "Reminder for: Crisp Status\n\nStatus: Dead\nNodes: web:core:tcp://edge-3.pool.net.crisp.chat:80\nTime: 09:08:28 UTC+00:00\nURL: https://status.crisp.chat/\nRecovered: db:main:icmp://10.0.0.3"
	if got := xmppText(msgReminder); got != want {
		t.Errorf("xmppText = %q, want %q", got, want)
	}
	want = "Startup alert for: Crisp Status\n\nStatus: Healthy\nNodes: \nTime: 08:58:28 UTC+00:00\nURL: https://status.crisp.chat/"
	if got := xmppText(msgStartup); got != want {
		t.Errorf("xmppText = %q, want %q", got, want)
	}
}
