package subscribe

import (
	"context"
	"fmt"
	"net/url"

	"github.com/vigil-go/vigil/internal/store"
)

// Addition is a subscriber the manager API adds, confirmed already: an
// address moved from another service, or a partner's webhook.
type Addition struct {
	Kind     string   // store.SubscriberEmail or store.SubscriberWebhook
	Address  string   // the e-mail address, or the webhook's URL
	Services []string // ids; empty: every service
	Secret   string   // a webhook's signing secret, at least 16 bytes
}

// minSecretBytes is the shortest webhook secret accepted: HMAC with a
// guessable key proves nothing.
const minSecretBytes = 16

// Add adds a confirmed subscriber, or confirms one that was waiting for
// its confirmation. Errors: *InputError, or the store's
// (store.ErrConflict when the address is subscribed already).
func (s *Service) Add(ctx context.Context, a Addition) (store.Subscriber, error) {
	services, err := s.checkServices(a.Services)
	if err != nil {
		return store.Subscriber{}, err
	}
	sub := store.Subscriber{Kind: a.Kind, Services: services, Confirmed: true, Created: s.now()}
	switch a.Kind {
	case store.SubscriberEmail:
		if a.Secret != "" {
			return store.Subscriber{}, &InputError{"secret is for webhooks only"}
		}
		if sub.Address, err = normalizeAddress(a.Address); err != nil {
			return store.Subscriber{}, err
		}
	case store.SubscriberWebhook:
		u, err := url.Parse(a.Address)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return store.Subscriber{}, &InputError{"url must be an absolute http or https URL"}
		}
		if len(a.Secret) < minSecretBytes {
			return store.Subscriber{}, &InputError{fmt.Sprintf("secret must be at least %d bytes: it signs every payload", minSecretBytes)}
		}
		sub.Address, sub.Secret = a.Address, a.Secret
	default:
		return store.Subscriber{}, &InputError{fmt.Sprintf("unknown kind %q (want email or webhook)", a.Kind)}
	}
	got, existed, err := s.st.AddSubscriber(ctx, sub, 0)
	if err != nil {
		return store.Subscriber{}, err
	}
	if existed && !got.Confirmed {
		// Waiting for its confirmation: the operator vouches for it.
		if err := s.st.ConfirmSubscriber(ctx, got.ID, sub.Created); err != nil {
			return store.Subscriber{}, err
		}
		return s.st.Subscriber(ctx, got.ID)
	}
	if existed {
		return got, fmt.Errorf("%s %s is subscribed already (id %s): %w", got.Kind, got.Address, got.ID, store.ErrConflict)
	}
	return got, nil
}

// List returns every subscriber, pending ones included, in the order
// they were added.
func (s *Service) List(ctx context.Context) ([]store.Subscriber, error) {
	return s.st.Subscribers(ctx, false)
}

// Delete removes a subscriber by id (store.ErrNotFound if unknown).
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.st.DeleteSubscriber(ctx, id)
}
