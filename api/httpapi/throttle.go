package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fathat101/swdeploy/api"
)

// throttledLogin runs a login under the failed-login budget and the
// hashing admission. A refused attempt costs one Redis round trip and no
// password hash; it answers too-many-requests with Retry-After.
func (s *server) throttledLogin(w http.ResponseWriter, r *http.Request, in loginCredentials) (api.Session, error) {
	ctx := r.Context()
	account := loginAccount(in.Email)
	address := s.proxies.ClientAddr(r)
	wait, err := s.throttle.Begin(ctx, account, address)
	if err != nil {
		return api.Session{}, err
	}
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
		return api.Session{}, api.Errorf(api.CodeTooManyRequests, "login budget spent (client %s)", address)
	}
	// The attempt is counted: settle it whatever happens next, even when
	// the client has gone.
	outcome := api.LoginVoid
	defer func() {
		if err := s.throttle.Settle(context.WithoutCancel(ctx), account, address, outcome); err != nil {
			s.log.ErrorContext(ctx, "settle login attempt", "request_id", RequestID(ctx), "err", err)
		}
	}()
	release, err := s.hashing.Admit()
	if err != nil {
		return api.Session{}, err
	}
	defer release()
	sess, err := s.accounts.Login(ctx, in.Email, in.Password)
	switch {
	case err == nil:
		outcome = api.LoginSucceeded
	case api.ErrorCode(err) == api.CodeNotFound:
		outcome = api.LoginFailed
	}
	return sess, err
}

// loginAccount is the budget key of a login's email: normalised as
// accounts are, or, for a string no account can have, lower-cased.
func loginAccount(email string) string {
	if norm, err := api.NormaliseEmail(email); err == nil {
		return norm
	}
	return strings.ToLower(strings.TrimSpace(email))
}
