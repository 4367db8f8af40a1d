package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/fathat101/swdeploy/api"
)

// Request payloads. Pointers tell a missing field from an empty one.
type credentials struct {
	Email      string  `json:"email"`
	Password   string  `json:"password"`
	AccessRole *string `json:"access_role,omitempty"`
}

type loginCredentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type userChange struct {
	Email      *string `json:"email"`
	AccessRole *string `json:"access_role"`
	Disabled   *bool   `json:"disabled"`
}

// Response payloads.
type userBody struct {
	UserID        int64  `json:"user_id"`
	Email         string `json:"email"`
	AccessRole    string `json:"access_role"`
	EmailVerified bool   `json:"email_verified"`
	Disabled      bool   `json:"disabled"`
	Created       string `json:"created"`
}

func userJSON(u api.User) userBody {
	return userBody{
		UserID: u.ID, Email: u.Email, AccessRole: string(u.Role),
		EmailVerified: u.EmailVerified, Disabled: u.Disabled,
		Created: u.Created.UTC().Format(time.RFC3339),
	}
}

type loginBody struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
	UserID       int64  `json:"user_id"`
	Email        string `json:"email"`
}

type tokensBody struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
	UserID       int64  `json:"user_id"`
}

type deletedBody struct {
	ID int64 `json:"id"`
}

// noStore keeps tokens and user data out of shared caches.
func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

func (s *server) signup(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	release, err := s.hashing.Admit()
	if err != nil {
		return err
	}
	defer release()
	if err := s.accounts.Signup(r.Context(), in.Email, in.Password, in.AccessRole); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (s *server) verifyEmail(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if token == "" {
		return api.Errorf(api.CodeTokenInvalid, "no token")
	}
	if err := s.accounts.VerifyEmail(r.Context(), token); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (s *server) login(w http.ResponseWriter, r *http.Request) error {
	var in loginCredentials
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	sess, err := s.throttledLogin(w, r, in)
	if err != nil {
		return err
	}
	noStore(w)
	writeJSON(w, http.StatusOK, loginBody{Token: sess.Access, RefreshToken: sess.Refresh, UserID: sess.User.ID, Email: sess.User.Email})
	return nil
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.accounts.Logout(r.Context(), claimsFrom(r.Context())); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (s *server) generateTokens(w http.ResponseWriter, r *http.Request) error {
	refresh, err := bearer(r)
	if err != nil {
		return err
	}
	sess, err := s.accounts.Rotate(r.Context(), refresh, r.URL.Query().Get("old_access_token"))
	if err != nil {
		return err
	}
	noStore(w)
	writeJSON(w, http.StatusOK, tokensBody{Token: sess.Access, RefreshToken: sess.Refresh, UserID: sess.User.ID})
	return nil
}

// userID reads {user_id}. Ids start at 1, so 0 stands for "no such user":
// a basic user asking for it is still forbidden, an admin gets not-found.
func userID(r *http.Request) int64 {
	id, err := strconv.ParseInt(chi.URLParam(r, "user_id"), 10, 64)
	if err != nil || id < 1 {
		return 0
	}
	return id
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.accounts.GetUser(r.Context(), userFrom(r.Context()), userID(r))
	if err != nil {
		return err
	}
	noStore(w)
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

func (s *server) updateUser(w http.ResponseWriter, r *http.Request) error {
	actor := userFrom(r.Context())
	// Role first: a basic user learns nothing from how the body fares.
	if !actor.Role.AtLeast(api.RoleAdmin) {
		return api.Errorf(api.CodeForbidden, "user %d is not an admin", actor.ID)
	}
	var in userChange
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	upd := api.UserUpdate{Email: in.Email, Disabled: in.Disabled}
	if in.AccessRole != nil {
		role := api.Role(*in.AccessRole)
		upd.Role = &role
	}
	id := userID(r)
	if id == 0 {
		return &api.Error{Code: api.CodeNotFound}
	}
	u, err := s.accounts.UpdateUser(r.Context(), actor, id, upd)
	if err != nil {
		return err
	}
	noStore(w)
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	actor := userFrom(r.Context())
	if !actor.Role.AtLeast(api.RoleAdmin) {
		return api.Errorf(api.CodeForbidden, "user %d is not an admin", actor.ID)
	}
	id := userID(r)
	if id == 0 {
		return &api.Error{Code: api.CodeNotFound}
	}
	if err := s.accounts.DeleteUser(r.Context(), actor, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deletedBody{ID: id})
	return nil
}
