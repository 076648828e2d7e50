package subscribe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-go/vigil/internal/config"
	"github.com/vigil-go/vigil/internal/notify"
	"github.com/vigil-go/vigil/internal/outbox"
	"github.com/vigil-go/vigil/internal/store"
)

// Store is the part of *store.Store subscriptions use.
type Store interface {
	keyStore
	eventStore
	AddSubscriber(ctx context.Context, sub store.Subscriber, maxPending int) (store.Subscriber, bool, error)
	Subscriber(ctx context.Context, id string) (store.Subscriber, error)
	Subscribers(ctx context.Context, confirmedOnly bool) ([]store.Subscriber, error)
	ConfirmSubscriber(ctx context.Context, id string, t time.Time) error
	DeleteSubscriber(ctx context.Context, id string) error
	Unsubscribe(ctx context.Context, token string) error
	PrunePending(ctx context.Context, olderThan time.Time) (int64, error)
	SubscriptionsStart(ctx context.Context, now time.Time) (time.Time, error)
	SentEvents(ctx context.Context, since time.Time) (map[string]bool, error)
	MarkEventsSent(ctx context.Context, events []store.SubscriptionEvent) error
	PruneSentEvents(ctx context.Context, before time.Time) error
}

// Options configures a Service. Config, Store and Delivery.Store are
// required.
type Options struct {
	Config *config.Config
	Store  Store
	// Delivery configures the outbox worker that sends subscribers'
	// messages; New sets its channels (ChannelEmail, ChannelWebhook).
	// Its Active makes only the cluster leader deliver.
	Delivery outbox.Options
	Logger   *slog.Logger
	Now      func() time.Time
	// Mail carries the SMTP timeout and TLS settings; Version goes into
	// the mail's User-Agent.
	Mail notify.Options
	// Client posts to webhooks; nil means a client with a 10 s timeout.
	Client *http.Client
	// Active, when set, says whether this process fans events out now:
	// in a cluster, the leader. (The outbox's idempotency keys would make
	// a second fan-out harmless; this saves its work.)
	Active func() bool
	// DispatchEvery is how often Run looks for new events (10 s).
	DispatchEvery time.Duration
}

// Service is the subscriptions' logic, for the page's form, the manager
// API and the dispatcher. Its methods are safe for concurrent use.
type Service struct {
	cfg    *config.Config
	st     Store
	out    *outbox.Worker
	log    *slog.Logger
	now    func() time.Time
	mail   notify.Options
	client *http.Client
	active func() bool
	every  time.Duration
	signer *signer
	look   atomic.Pointer[look]

	perClient  *limiter
	perAddress *limiter
}

// Apply takes the page's title, address, time zone and labels from a
// reloaded config, for the messages and form from now on.
func (s *Service) Apply(cfg *config.Config) { s.look.Store(newLook(cfg)) }

// New returns the service for cfg's [subscriptions].
func New(o Options) *Service {
	s := &Service{cfg: o.Config, st: o.Store, log: o.Logger, now: o.Now, mail: o.Mail,
		client: o.Client, active: o.Active, every: o.DispatchEvery}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.active == nil {
		s.active = func() bool { return true }
	}
	if s.every <= 0 {
		s.every = 10 * time.Second
	}
	s.signer = &signer{st: o.Store, now: s.now}
	s.look.Store(newLook(o.Config))
	d := o.Delivery
	d.Channels = s.Channels()
	if d.Now == nil {
		d.Now = s.now
	}
	if d.Logger == nil {
		d.Logger = s.log
	}
	s.out = outbox.New(d)
	sc := o.Config.Subscriptions
	s.perClient = newLimiter(sc.ClientRate, time.Hour)
	s.perAddress = newLimiter(sc.AddressRate, 24*time.Hour)
	return s
}

// Errors of Subscribe. An *InputError says what is wrong with the input.
var (
	// ErrRateLimited: too many sign-ups from this client, or for this
	// address; the same for every address, new or not.
	ErrRateLimited = errors.New("too many requests: try again later")
	// ErrBusy: too many addresses wait for their confirmation.
	ErrBusy = errors.New("too many sign-ups are waiting for their confirmation: try again later")
)

// InputError is bad input, with the reason to show.
type InputError struct{ Reason string }

func (e *InputError) Error() string { return e.Reason }

// Choice is a service a visitor may subscribe to.
type Choice struct{ ID, Label string }

// Choices returns the services of the page, in page order.
func (s *Service) Choices() []Choice { return s.look.Load().labels.choices }

// SignUp is what the page's form sends.
type SignUp struct {
	Address  string
	Services []string // ids; empty: every service
	Client   string   // the client's IP address, for the rate limit
}

// maxAddressBytes is RFC 5321's limit on a forward path.
const maxAddressBytes = 254

// normalizeAddress validates an e-mail address and returns its bare form
// in lower case: mail providers ignore the case of the local part too, so
// that "Ann@x.org" and "ann@x.org" are one subscriber, not two mailings.
func normalizeAddress(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", &InputError{"an e-mail address is required"}
	}
	if len(raw) > maxAddressBytes {
		return "", &InputError{fmt.Sprintf("the e-mail address is longer than %d bytes", maxAddressBytes)}
	}
	a, err := netmail.ParseAddress(raw)
	if err != nil || a.Name != "" || a.Address != raw {
		return "", &InputError{fmt.Sprintf("%q is not an e-mail address (want name@example.com)", raw)}
	}
	local, domain, _ := strings.Cut(a.Address, "@")
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return "", &InputError{fmt.Sprintf("%q is not an e-mail address with a domain name (want name@example.com)", raw)}
	}
	return strings.ToLower(local + "@" + domain), nil
}

// checkServices checks service ids against the config and returns them
// in page order; all of them, or none, means every service.
func (s *Service) checkServices(ids []string) ([]string, error) {
	labels := s.look.Load().labels // one config throughout, whatever a reload does meanwhile
	var out []string
	for _, c := range labels.choices {
		if slices.Contains(ids, c.ID) {
			out = append(out, c.ID)
		}
	}
	for _, id := range ids {
		if _, ok := labels.services[id]; !ok {
			return nil, &InputError{fmt.Sprintf("unknown service %q", id)}
		}
	}
	if len(out) == len(labels.choices) {
		return []string{}, nil
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// Subscribe handles a sign-up from the page. Whether the address was new,
// pending or subscribed already, the outcome is the same nil (the caller
// answers "check your mail"), so that the form tells nobody who
// subscribed; a pending address gets its confirmation mail again, within
// the per-address rate. Errors: *InputError, ErrRateLimited, ErrBusy, or a
// failure of the store.
func (s *Service) Subscribe(ctx context.Context, in SignUp) error {
	now := s.now()
	if !s.perClient.allow(in.Client, now) {
		return ErrRateLimited
	}
	addr, err := normalizeAddress(in.Address)
	if err != nil {
		return err
	}
	services, err := s.checkServices(in.Services)
	if err != nil {
		return err
	}
	if !s.perAddress.allow(addr, now) {
		return ErrRateLimited
	}
	add := func() (store.Subscriber, bool, error) {
		return s.st.AddSubscriber(ctx, store.Subscriber{Kind: store.SubscriberEmail, Address: addr,
			Services: services, Created: now}, s.cfg.Subscriptions.MaxPending)
	}
	sub, existed, err := add()
	if err == nil && existed && !sub.Confirmed && now.Sub(sub.Created) >= LinkLifetime {
		// Its link has expired and the dispatcher has not pruned it yet: a
		// new link would outlive the pending subscriber, so start over.
		if err := s.st.DeleteSubscriber(ctx, sub.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		sub, existed, err = add()
	}
	switch {
	case errors.Is(err, store.ErrFull):
		return ErrBusy
	case err != nil:
		return err
	case existed && sub.Confirmed:
		// Subscribed already: nothing to send, and nothing to tell.
		s.log.Info("subscription: sign-up for an address already subscribed", "subscriber", sub.ID)
		return nil
	}
	return s.sendConfirmation(ctx, sub, now)
}

// sendConfirmation queues the confirmation mail of a pending subscriber:
// its link expires LinkLifetime after the subscriber was added, so that
// it never outlives the pending entry.
func (s *Service) sendConfirmation(ctx context.Context, sub store.Subscriber, now time.Time) error {
	token, err := s.signer.sign(ctx, "confirm", sub.ID, sub.Created.Add(LinkLifetime))
	if err != nil {
		return err
	}
	c := content{Kind: kindConfirm, Link: s.look.Load().pageURL + "subscriptions/confirm?token=" + token}
	// Each sign-up sends its own mail (within the per-address rate): a
	// random part keeps the outbox from taking it for the previous one.
	item, err := s.item(fmt.Sprintf("subscription:confirm:%s:%d:%s", sub.ID, now.Unix(), randomID()), ChannelEmail, sub.ID, c)
	if err != nil {
		return err
	}
	_, err = s.out.Enqueue(ctx, []outbox.Item{item})
	return err
}

// Confirm confirms the subscriber a confirmation link names. Errors:
// ErrLinkExpired (also when the pending subscriber was pruned),
// ErrBadLink, or a failure of the store.
func (s *Service) Confirm(ctx context.Context, token string) error {
	id, err := s.signer.verify(ctx, "confirm", token)
	if err != nil {
		return err
	}
	if err := s.st.ConfirmSubscriber(ctx, id, s.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrLinkExpired
		}
		return err
	}
	return nil
}

// Unsubscribe removes the subscriber holding an unsubscribe token, at
// once. An unknown token (unsubscribed already) is no error: the visitor
// is unsubscribed either way.
func (s *Service) Unsubscribe(ctx context.Context, token string) error {
	if err := s.st.Unsubscribe(ctx, token); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// randomID is 16 random hex digits.
func randomID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b[:])
}
