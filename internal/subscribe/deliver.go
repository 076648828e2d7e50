package subscribe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	netmail "net/mail"
	"slices"

	gomail "github.com/wneessen/go-mail"

	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/store"
)

// Channels returns the outbox channels of subscribers' messages. Their
// targets are looked up in the store when a message is sent, by
// subscriber id: a subscriber who unsubscribed meanwhile is sent nothing.
func (s *Service) Channels() []notify.Channel {
	out := make([]notify.Channel, 0, len(channelOf))
	for _, kind := range slices.Sorted(maps.Keys(channelOf)) {
		name := channelOf[kind]
		out = append(out, notify.Channel{Name: name, Lookup: func(id string) (notify.Target, bool) {
			return notify.Target{Channel: name, Key: id, Notifier: recipient{s: s, id: id, kind: kind}}, true
		}})
	}
	return out
}

// errGone is why a message is not sent to a subscriber who left: no retry
// can help, and the outbox gives it up.
var errGone = &notify.Error{Err: errors.New("the subscriber has unsubscribed, or was deleted")}

// recipient sends the outbox's messages to one subscriber.
type recipient struct {
	s    *Service
	id   string
	kind string
}

func (r recipient) Notify(ctx context.Context, m notify.Message) error {
	var c content
	if err := json.Unmarshal(m.Content, &c); err != nil {
		return &notify.Error{Err: fmt.Errorf("unreadable subscriber message: %w", err)}
	}
	sub, err := r.s.st.Subscriber(ctx, r.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errGone
	case err != nil:
		return &notify.Error{Retryable: true, Err: err}
	case sub.Kind != r.kind:
		return &notify.Error{Err: fmt.Errorf("subscriber %s is a %s subscriber, not %s", sub.ID, sub.Kind, r.kind)}
	case c.Kind == kindBulletin && !sub.Confirmed:
		// Never reached through the dispatcher, which reads confirmed
		// subscribers only; kept so that nothing but the confirmation
		// ever goes to an unconfirmed address.
		return &notify.Error{Err: errors.New("the address is not confirmed")}
	}
	if r.kind == store.SubscriberWebhook {
		if c.Event == nil {
			return &notify.Error{Err: errors.New("a webhook takes events only")}
		}
		return r.s.postWebhook(ctx, sub, *c.Event)
	}
	var ml mail
	unsubscribe := ""
	switch c.Kind {
	case kindConfirm:
		ml = r.s.renderConfirm(c.Link)
	case kindBulletin:
		if c.Event == nil {
			return &notify.Error{Err: errors.New("a bulletin without its event")}
		}
		unsubscribe = r.s.UnsubscribeURL(sub.Token)
		ml = r.s.renderBulletin(*c.Event, unsubscribe)
	default:
		return &notify.Error{Err: fmt.Errorf("unknown subscriber message %q", c.Kind)}
	}
	msg, err := r.s.compose(sub.Address, ml, unsubscribe)
	if err != nil {
		return &notify.Error{Err: err}
	}
	srv, _ := r.s.cfg.MailServer()
	return notify.SendMail(ctx, srv, r.s.mail, msg)
}

// UnsubscribeURL is the one-click unsubscribe link of a subscriber's token.
func (s *Service) UnsubscribeURL(token string) string {
	return s.look.Load().pageURL + "subscriptions/unsubscribe?token=" + token
}

// compose builds the mail: From the page title at [subscriptions] from, a
// plain text part and an HTML part, and, when unsubscribe is set, the
// List-Unsubscribe and List-Unsubscribe-Post headers of RFC 8058, so that
// mail clients offer a one-click unsubscribe button that POSTs to it.
func (s *Service) compose(to string, ml mail, unsubscribe string) (*gomail.Msg, error) {
	from, err := netmail.ParseAddress(s.cfg.Subscriptions.From)
	if err != nil {
		return nil, fmt.Errorf("subscriptions.from: %w", err)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(&netmail.Address{Name: s.look.Load().title, Address: from.Address})
	if err := msg.To(to); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(ml.Subject)
	version := s.mail.Version
	if version == "" {
		version = "dev"
	}
	msg.SetUserAgent("vigil/" + version)
	msg.SetDate()
	msg.SetMessageID()
	if unsubscribe != "" {
		msg.SetListUnsubscribe(unsubscribe)
		msg.SetListUnsubscribePost()
	}
	msg.SetBodyString(gomail.TypeTextPlain, ml.Text)
	if ml.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, ml.HTML)
	}
	return msg, nil
}
