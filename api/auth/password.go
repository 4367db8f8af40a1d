package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"

	"github.com/fathat101/swdeploy/api"
)

// Argon2Params are argon2id's cost parameters. Memory is in KiB.
type Argon2Params struct {
	Memory  uint32
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// OWASPParams is OWASP's password storage guidance for argon2id
// (19 MiB, 2 passes, 1 lane): the production setting.
var OWASPParams = Argon2Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Argon2 implements api.PasswordHasher with argon2id and PHC strings:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
type Argon2 struct {
	params Argon2Params
	// slots bounds concurrent hashes: each costs Memory KiB, and a burst of
	// signups must not exhaust the host's memory.
	slots chan struct{}
	// admitted bounds the requests that may hash at once, running or
	// waiting for a slot: the slots plus the queue. A burst beyond it is
	// refused at once rather than left to wait.
	admitted chan struct{}
}

var _ api.PasswordHasher = (*Argon2)(nil)

// NewArgon2 returns a hasher with params, running at most maxConcurrent
// hashes at once (at least one) and admitting maxQueue more requests to
// wait for a slot.
func NewArgon2(params Argon2Params, maxConcurrent, maxQueue int) *Argon2 {
	maxConcurrent = max(maxConcurrent, 1)
	maxQueue = max(maxQueue, 0)
	return &Argon2{params: params, slots: make(chan struct{}, maxConcurrent),
		admitted: make(chan struct{}, maxConcurrent+maxQueue)}
}

// Admit reserves a place for one request that will hash (login, signup):
// a slot or a place in the queue. When none is left it fails at once with
// service-unavailable. release returns the place; calling it again does
// nothing. Hash and Verify themselves only wait for a slot, so that
// start-up work needs no admission.
func (a *Argon2) Admit() (release func(), err error) {
	select {
	case a.admitted <- struct{}{}:
	default:
		return nil, api.Errorf(api.CodeUnavailable, "password hashing queue full")
	}
	var once sync.Once
	return func() { once.Do(func() { <-a.admitted }) }, nil
}

func (a *Argon2) acquire(ctx context.Context) error {
	select {
	case a.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
}

func (a *Argon2) release() { <-a.slots }

// Hash returns the PHC string of password with a fresh random salt.
func (a *Argon2) Hash(ctx context.Context, password string) (string, error) {
	p := a.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	if err := a.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	a.release()
	return encodePHC(p, salt, key), nil
}

// Verify recomputes the hash with the parameters stored in encoded and
// compares in constant time.
func (a *Argon2) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	if err := a.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	a.release()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func encodePHC(p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadPHC = errors.New("malformed argon2id hash")

// Limits on stored parameters, so that a corrupted row cannot make one
// login allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	maxKeyLen  = 1024
	minKeyLen  = 16
	minSaltLen = 8
)

func decodePHC(s string) (Argon2Params, []byte, []byte, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Argon2Params{}, nil, nil, errBadPHC
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version || parts[2] != fmt.Sprintf("v=%d", version) {
		return Argon2Params{}, nil, nil, errBadPHC
	}
	var p Argon2Params
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || n != 3 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) {
		return Argon2Params{}, nil, nil, errBadPHC
	}
	if p.Memory == 0 || p.Memory > maxMemory || p.Time == 0 || p.Time > maxTime || p.Threads == 0 {
		return Argon2Params{}, nil, nil, errBadPHC
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen {
		return Argon2Params{}, nil, nil, errBadPHC
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Argon2Params{}, nil, nil, errBadPHC
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
