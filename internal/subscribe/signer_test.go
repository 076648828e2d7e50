package subscribe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-go/vigil/internal/store"
	"github.com/vigil-go/vigil/internal/store/storetest"
	"github.com/vigil-go/vigil/internal/testkit"
)

// TestKeyRotationKeepsLinksValid: a new key takes over after RotateEvery,
// and the old one still verifies its links for their lifetime; it is
// deleted only once no link it signed can be valid.
func TestKeyRotationKeepsLinksValid(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, storetest.SQLite(t))
	clock := testkit.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	s := &signer{st: st, now: clock.Now}

	if _, err := s.sign(ctx, "confirm", "sub0", clock.Now().Add(LinkLifetime)); err != nil { // makes the first key
		t.Fatal(err)
	}
	clock.Advance(RotateEvery - time.Hour)
	old, err := s.sign(ctx, "confirm", "sub1", clock.Now().Add(LinkLifetime))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour) // the first key is now past RotateEvery
	fresh, err := s.sign(ctx, "confirm", "sub2", clock.Now().Add(LinkLifetime))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := st.SigningKeys(ctx)
	if len(keys) != 2 {
		t.Fatalf("%d keys after a rotation, want 2", len(keys))
	}
	// Another process (a restart) verifies both, from the store alone.
	other := &signer{st: st, now: clock.Now}
	for link, id := range map[string]string{old: "sub1", fresh: "sub2"} {
		if got, err := other.verify(ctx, "confirm", link); err != nil || got != id {
			t.Errorf("verify(%s) = %q, %v; want %s", link, got, err, id)
		}
	}
	if _, err := other.verify(ctx, "unsubscribe", fresh); !errors.Is(err, ErrBadLink) {
		t.Errorf("a link signed for another purpose = %v, want ErrBadLink", err)
	}
	if err := other.prune(ctx); err != nil {
		t.Fatal(err)
	}
	if keys, _ := st.SigningKeys(ctx); len(keys) != 2 {
		t.Fatalf("prune removed a key whose links may still be valid: %d left", len(keys))
	}
	clock.Advance(LinkLifetime)
	if _, err := other.verify(ctx, "confirm", old); !errors.Is(err, ErrLinkExpired) {
		t.Errorf("the old link after its lifetime = %v, want ErrLinkExpired", err)
	}
	if err := other.prune(ctx); err != nil {
		t.Fatal(err)
	}
	if keys, _ := st.SigningKeys(ctx); len(keys) != 1 || keys[0].ID == keyID(old) {
		t.Fatalf("after the old key's links expired, keys = %v; want the new one only", keys)
	}
	if _, err := other.verify(ctx, "confirm", old); !errors.Is(err, ErrBadLink) {
		t.Errorf("a link of a deleted key = %v, want ErrBadLink", err)
	}
}

func keyID(link string) string { return strings.Split(link, ".")[2] }

// countingKeys counts the store reads of the signing keys.
type countingKeys struct {
	keyStore
	reads int
}

func (c *countingKeys) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	c.reads++
	return c.keyStore.SigningKeys(ctx)
}

// TestForgedKeyIDsReadTheStoreOnceASecond: a link naming a key this
// process does not know reads the store again (another member may have
// made it), but made-up key ids cost one read a second at most.
func TestForgedKeyIDsReadTheStoreOnceASecond(t *testing.T) {
	ctx := context.Background()
	st := &countingKeys{keyStore: storetest.Open(t, storetest.SQLite(t))}
	clock := testkit.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	s := &signer{st: st, now: clock.Now}
	link, err := s.sign(ctx, "confirm", "sub", clock.Now().Add(LinkLifetime))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(link, ".")
	before := st.reads
	for i := range 100 {
		parts[2] = fmt.Sprintf("%08x", i)
		if _, err := s.verify(ctx, "confirm", strings.Join(parts, ".")); !errors.Is(err, ErrBadLink) {
			t.Fatalf("forged key id: %v, want ErrBadLink", err)
		}
	}
	if got := st.reads - before; got != 1 {
		t.Errorf("100 forged key ids within a second read the keys %d times, want 1", got)
	}
	clock.Advance(missReadEvery)
	parts[2] = "ffffffff"
	_, _ = s.verify(ctx, "confirm", strings.Join(parts, "."))
	if got := st.reads - before; got != 2 {
		t.Errorf("a second later: %d reads, want 2", got)
	}
}
