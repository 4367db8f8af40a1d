package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// cheap keeps hashing fast where the hash itself is not under test.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestArgon2ProductionParameters(t *testing.T) {
	// OWASP: m=19456 KiB, t=2, p=1 at least (or an equivalent trade).
	p := OWASPParams
	if p.Memory < 19456 || p.Time < 2 || p.Threads < 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Fatalf("production parameters below OWASP guidance: %+v", p)
	}
	h := NewArgon2(p, 1, 0)
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
	h := NewArgon2(cheap, 2, 0)
	a, _ := h.Hash(context.Background(), "Secret123")
	b, _ := h.Hash(context.Background(), "Secret123")
	if a == b {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestArgon2VerifiesWithStoredParameters(t *testing.T) {
	// A hash made with other parameters (older or newer settings) still
	// verifies: the PHC string carries its own.
	enc, _ := NewArgon2(Argon2Params{Memory: 128, Time: 3, Threads: 2, SaltLen: 8, KeyLen: 16}, 1, 0).Hash(context.Background(), "Secret123")
	ok, err := NewArgon2(cheap, 1, 0).Verify(context.Background(), "Secret123", enc)
	if err != nil || !ok {
		t.Errorf("Verify = %v, %v", ok, err)
	}
}

func TestArgon2Malformed(t *testing.T) {
	h := NewArgon2(cheap, 1, 0)
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
	h := NewArgon2(cheap, 1, 0)
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

// TestArgon2AdmitRefusesWhenQueueIsFull: with every slot busy and the
// queue full of real waiters, Admit refuses at once with
// service-unavailable; once the slot frees, the waiters finish and Admit
// admits again.
func TestArgon2AdmitRefusesWhenQueueIsFull(t *testing.T) {
	h := NewArgon2(cheap, 1, 2)
	h.slots <- struct{}{} // a hash in progress holds the only slot
	var wg sync.WaitGroup
	for range 3 { // one admitted request per place (the slot's and two queued)
		release, err := h.Admit()
		if err != nil {
			t.Fatalf("Admit with room left: %v", err)
		}
		wg.Go(func() {
			defer release()
			if _, err := h.Hash(context.Background(), "Secret123"); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := h.Admit(); api.ErrorCode(err) != api.CodeUnavailable {
		t.Fatalf("Admit with the queue full: %v, want %s", err, api.CodeUnavailable)
	}
	<-h.slots
	wg.Wait()
	release, err := h.Admit()
	if err != nil {
		t.Fatalf("Admit after the queue drained: %v", err)
	}
	release()
	release() // a second call is harmless
	for range 3 {
		if _, err := h.Admit(); err != nil {
			t.Fatalf("release did not return the place: %v", err)
		}
	}
}
