package subscribe

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-go/vigil/internal/store"
)

// Link lifetimes and key rotation.
const (
	// LinkLifetime is how long a confirmation link works.
	LinkLifetime = 24 * time.Hour
	// RotateEvery is how long one key signs links before a new one takes
	// over. The old key still verifies the links it signed, for
	// LinkLifetime, and is deleted after that.
	RotateEvery = 7 * 24 * time.Hour
)

// Errors of Verify.
var (
	ErrLinkExpired = errors.New("the link has expired")
	ErrBadLink     = errors.New("the link is not valid")
)

// keyStore is the part of the store that keeps the signing keys.
type keyStore interface {
	SigningKeys(ctx context.Context) ([]store.SigningKey, error)
	AddSigningKey(ctx context.Context, k store.SigningKey) error
	DeleteSigningKeys(ctx context.Context, before time.Time) (int64, error)
}

// signer signs and verifies links with HMAC-SHA256 under keys kept in the
// store, so that every cluster member and every restart verifies what any
// of them signed. A link is "<id>.<expiry unix>.<key id>.<mac>": the key
// id says which key to check it with, so that a rotation breaks no link.
type signer struct {
	st  keyStore
	now func() time.Time

	mu   sync.Mutex
	keys []store.SigningKey // newest first, as last read
	// missRead is when an unknown key id last made key read the store:
	// made-up ids in forged links cost one read a second at most.
	missRead time.Time
}

// missReadEvery spaces the store reads of key for unknown key ids.
const missReadEvery = time.Second

// sign returns a link token for purpose ("confirm") and id, expiring at
// expires. It makes a new key when there is none or the newest is older
// than RotateEvery.
func (s *signer) sign(ctx context.Context, purpose, id string, expires time.Time) (string, error) {
	k, err := s.current(ctx)
	if err != nil {
		return "", err
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	return id + "." + exp + "." + k.ID + "." + mac(k.Secret, purpose, id, exp), nil
}

func mac(secret []byte, purpose, id, exp string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(purpose + "\x00" + id + "\x00" + exp))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// current returns the key that signs now.
func (s *signer) current(ctx context.Context) (store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	fresh := func() bool { return len(s.keys) > 0 && now.Sub(s.keys[0].Created) < RotateEvery }
	if !fresh() {
		if err := s.reload(ctx); err != nil {
			return store.SigningKey{}, err
		}
	}
	if !fresh() {
		var b [32]byte
		rand.Read(b[:]) // never fails; see crypto/rand.Read
		var id [4]byte
		rand.Read(id[:])
		k := store.SigningKey{ID: hex.EncodeToString(id[:]), Secret: b[:], Created: now}
		if err := s.st.AddSigningKey(ctx, k); err != nil {
			return store.SigningKey{}, fmt.Errorf("new signing key: %w", err)
		}
		if err := s.reload(ctx); err != nil {
			return store.SigningKey{}, err
		}
		if len(s.keys) == 0 {
			return store.SigningKey{}, errors.New("new signing key: not read back")
		}
	}
	return s.keys[0], nil
}

func (s *signer) reload(ctx context.Context) error {
	keys, err := s.st.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	s.keys = keys
	return nil
}

// verify checks a token signed for purpose and returns the id it names.
// A token past its expiry is ErrLinkExpired; anything else wrong with it
// is ErrBadLink.
func (s *signer) verify(ctx context.Context, purpose, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 {
		return "", ErrBadLink
	}
	id, exp, kid, sum := parts[0], parts[1], parts[2], parts[3]
	expUnix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", ErrBadLink
	}
	k, ok, err := s.key(ctx, kid)
	if err != nil {
		return "", err
	}
	if !ok || !hmac.Equal([]byte(sum), []byte(mac(k.Secret, purpose, id, exp))) {
		return "", ErrBadLink
	}
	if !s.now().Before(time.Unix(expUnix, 0)) {
		return "", ErrLinkExpired
	}
	return id, nil
}

// key finds a key by id, reading the store again when it is unknown: a
// key another cluster member made since.
func (s *signer) key(ctx context.Context, id string) (store.SigningKey, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	find := func() (store.SigningKey, bool) {
		for _, k := range s.keys {
			if k.ID == id {
				return k, true
			}
		}
		return store.SigningKey{}, false
	}
	if k, ok := find(); ok {
		return k, true, nil
	}
	now := s.now()
	if now.Sub(s.missRead) < missReadEvery {
		return store.SigningKey{}, false, nil
	}
	s.missRead = now
	if err := s.reload(ctx); err != nil {
		return store.SigningKey{}, false, err
	}
	k, ok := find()
	return k, ok, nil
}

// prune deletes the keys that can have signed no link still valid: those
// created more than RotateEvery + LinkLifetime ago.
func (s *signer) prune(ctx context.Context) error {
	_, err := s.st.DeleteSigningKeys(ctx, s.now().Add(-RotateEvery-LinkLifetime))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reload(ctx)
}
