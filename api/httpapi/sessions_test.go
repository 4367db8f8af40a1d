package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// faultyRevocations makes RevokeUser fail on demand, as a Redis fault
// would; everything else goes to the real Redis.
type faultyRevocations struct {
	api.Revocations
	failUser atomic.Bool
}

func (f *faultyRevocations) RevokeUser(ctx context.Context, userID int64, at time.Time) error {
	if f.failUser.Load() {
		return errors.New("redis: connection reset by peer")
	}
	return f.Revocations.RevokeUser(ctx, userID, at)
}

// expired mints an expired token of a session opened two days ago.
func (e *env) expired(typ api.TokenType, userID int64) string {
	e.t.Helper()
	login := time.Now().Add(-48 * time.Hour)
	tok, _, err := e.past.Issue(api.Claims{Type: typ, UserID: userID, Role: api.RoleBasic,
		Family: e.tokens.NewID(), AuthTime: login, SessionEnd: login.Add(api.DefaultSessionMaxAge)})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func TestAdminPasswordChangeRevokesAdminTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.admin()
	// A restart with the same password leaves sessions alone...
	if err := e.accounts.EnsureAdmin(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	expect(t, "same password", e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 200, "")
	// ...a new one ends them: whoever knew the old password is out.
	if err := e.accounts.EnsureAdmin(ctx, adminEmail, "New-admin-pass2"); err != nil {
		t.Fatal(err)
	}
	expect(t, "old access token", e.do(req{method: "GET", path: "/films/v1/", token: s.access}), 401, api.CodeTokenInvalid)
	expect(t, "old refresh token", e.rotate(s, s.access), 401, api.CodeTokenInvalid)
	fresh := e.login(adminEmail, "New-admin-pass2")
	expect(t, "new login", e.do(req{method: "GET", path: "/films/v1/", token: fresh.access}), 200, "")
}

// TestRotationRaceLeavesNoTokenOfTheRound: of concurrent rotations of one
// refresh token one wins and the others are reuse; the reuse must also
// end the winner's new pair, whichever finished first.
func TestRotationRaceLeavesNoTokenOfTheRound(t *testing.T) {
	e := newEnv(t)
	e.user("racer")
	const rounds, racers = 10, 20
	for round := range rounds {
		s := e.login("racer@rebels.org", "Secret123")
		answers := make([]response, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { answers[i] = e.rotate(s, s.access) })
		}
		wg.Wait()
		issued := []session{s}
		for _, r := range answers {
			switch r.status {
			case 200:
				issued = append(issued, session{access: r.str("token"), refresh: r.str("refresh_token")})
			case 401:
			default:
				t.Errorf("round %d: answer %d %s", round, r.status, r.raw)
			}
		}
		if len(issued) > 2 {
			t.Errorf("round %d: %d rotations of one refresh token succeeded", round, len(issued)-1)
		}
		// Access tokens first: presenting a refresh token revokes them anyway.
		for i, tok := range issued {
			expect(t, fmt.Sprintf("round %d access %d", round, i), e.do(req{method: "GET", path: "/films/v1/", token: tok.access}), 401, api.CodeTokenInvalid)
		}
		for i, tok := range issued {
			expect(t, fmt.Sprintf("round %d refresh %d", round, i), e.rotate(tok, tok.access), 401, api.CodeTokenInvalid)
		}
	}
}

// TestRevocationFailureChangesNothing: deleting or disabling a user whose
// tokens cannot be revoked (Redis down) answers 503 and leaves the user as
// it was, rather than a deleted user whose tokens still work.
func TestRevocationFailureChangesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.admin()
	doomed := e.user("doomed")
	rogue := e.user("rogue")
	doomedPath := fmt.Sprintf("/users/v1/%d", doomed.userID)
	roguePath := fmt.Sprintf("/users/v1/%d", rogue.userID)

	e.revocations.failUser.Store(true)
	expect(t, "delete while Redis fails", e.do(req{method: "DELETE", path: doomedPath, token: admin.access}), 503, api.CodeUnavailable)
	if _, err := e.store.UserByID(ctx, doomed.userID); err != nil {
		t.Errorf("user deleted although its tokens were not revoked: %v", err)
	}
	expect(t, "disable while Redis fails", e.do(req{method: "PUT", path: roguePath, token: admin.access, body: `{"disabled":true}`}), 503, api.CodeUnavailable)
	if u, err := e.store.UserByID(ctx, rogue.userID); err != nil || u.Disabled {
		t.Errorf("user disabled although its tokens were not revoked: %+v %v", u, err)
	}
	if logs := e.logs.String(); strings.Count(logs, `"status":503`) < 2 || !strings.Contains(logs, "connection reset by peer") {
		t.Errorf("failures not logged:\n%s", logs)
	}

	e.revocations.failUser.Store(false)
	expect(t, "delete", e.do(req{method: "DELETE", path: doomedPath, token: admin.access}), 200, "")
	expect(t, "deleted user's token", e.do(req{method: "GET", path: "/films/v1/", token: doomed.access}), 401, api.CodeTokenInvalid)
	expect(t, "disable", e.do(req{method: "PUT", path: roguePath, token: admin.access, body: `{"disabled":true}`}), 200, "")
	expect(t, "disabled user's token", e.do(req{method: "GET", path: "/films/v1/", token: rogue.access}), 401, api.CodeTokenInvalid)
}
