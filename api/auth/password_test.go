package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// cheap keeps hashing fast where the hash itself is not under test.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestArgon2ProductionParameters(t *testing.T) {
	// OWASP: m=19456 KiB, t=2, p=1 at least (or an equivalent trade).
	p := OWASPParams
	if p.Memory < 19456 || p.Time < 2 || p.Threads < 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Fatalf("production parameters below OWASP guidance: %+v", p)
	}
	h := NewArgon2(p, 1)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "Secret123")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("PHC string %q", enc)
	}
	ok, err := h.Verify(ctx, "Secret123", enc)
	if err != nil || !ok {
		t.Errorf("Verify(right) = %v, %v", ok, err)
	}
	ok, err = h.Verify(ctx, "Secret124", enc)
	if err != nil || ok {
		t.Errorf("Verify(wrong) = %v, %v", ok, err)
	}
}

func TestArgon2SaltsDiffer(t *testing.T) {
	h := NewArgon2(cheap, 2)
	a, _ := h.Hash(context.Background(), "Secret123")
	b, _ := h.Hash(context.Background(), "Secret123")
	if a == b {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestArgon2VerifiesWithStoredParameters(t *testing.T) {
	// A hash made with other parameters (older or newer settings) still
	// verifies: the PHC string carries its own.
	enc, _ := NewArgon2(Argon2Params{Memory: 128, Time: 3, Threads: 2, SaltLen: 8, KeyLen: 16}, 1).Hash(context.Background(), "Secret123")
	ok, err := NewArgon2(cheap, 1).Verify(context.Background(), "Secret123", enc)
	if err != nil || !ok {
		t.Errorf("Verify = %v, %v", ok, err)
	}
}

func TestArgon2Malformed(t *testing.T) {
	h := NewArgon2(cheap, 1)
	good, _ := h.Hash(context.Background(), "Secret123")
	parts := strings.Split(good, "$")
	bad := []string{
		"",
		"plain-text-password",
		"$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1x$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=0,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		good + "$extra",
	}
	for _, enc := range bad {
		if ok, err := h.Verify(context.Background(), "Secret123", enc); err == nil || ok {
			t.Errorf("Verify(%q) = %v, %v; want an error", enc, ok, err)
		}
	}
}

func TestArgon2BoundsConcurrency(t *testing.T) {
	h := NewArgon2(cheap, 1)
	h.slots <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "Secret123"); err == nil {
		t.Fatal("hashed without a free slot")
	}
	<-h.slots
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "Secret123"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
