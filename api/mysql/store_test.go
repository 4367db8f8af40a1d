package mysql_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api"
	"github.com/fathat101/swdeploy/api/internal/testenv"
	"github.com/fathat101/swdeploy/api/mysql"
)

func TestMigrateTwiceIsNoOp(t *testing.T) {
	dsn := testenv.MySQL(t)
	for i := range 3 {
		if err := mysql.Migrate(dsn); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	var dirty bool
	if err := db.QueryRow("SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil {
		t.Fatal(err)
	}
	if version != 1 || dirty {
		t.Errorf("schema version %d dirty=%v", version, dirty)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		t.Fatalf("users table: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	// Several servers starting at once: migrate's lock makes it one run.
	dsn := testenv.MySQL(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := mysql.Migrate(dsn); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestUserLifecycle(t *testing.T) {
	s, _ := testenv.Store(t)
	ctx := context.Background()
	created := time.Now()
	u, err := s.CreateUser(ctx, api.User{Email: "luke@tatooine.org", PasswordHash: "h1", Role: api.RoleBasic, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID < 1 {
		t.Fatalf("id %d", u.ID)
	}
	byID, err := s.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	byEmail, err := s.UserByEmail(ctx, "luke@tatooine.org")
	if err != nil {
		t.Fatal(err)
	}
	if byID != byEmail || byID.Email != u.Email || byID.PasswordHash != "h1" || byID.Role != api.RoleBasic ||
		byID.EmailVerified || byID.Disabled || !byID.Created.Equal(u.Created) {
		t.Errorf("stored %+v, by email %+v, created %+v", byID, byEmail, u)
	}

	email, role, yes, hash := "leia@alderaan.org", api.RoleAdmin, true, "h2"
	up, err := s.UpdateUser(ctx, u.ID, api.UserUpdate{Email: &email, Role: &role, Disabled: &yes, EmailVerified: &yes, PasswordHash: &hash})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.UserByID(ctx, u.ID)
	if up != again || again.Email != email || again.Role != api.RoleAdmin || !again.Disabled || !again.EmailVerified || again.PasswordHash != "h2" {
		t.Errorf("after update: returned %+v, stored %+v", up, again)
	}
	if _, err := s.UserByEmail(ctx, "luke@tatooine.org"); api.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("old email still found: %v", err)
	}

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByID(ctx, u.ID); api.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("deleted user: %v", err)
	}
	if err := s.DeleteUser(ctx, u.ID); api.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("delete twice: %v", err)
	}
	if _, err := s.UpdateUser(ctx, u.ID, api.UserUpdate{Disabled: &yes}); api.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("update missing: %v", err)
	}
}

func TestDuplicateEmail(t *testing.T) {
	s, _ := testenv.Store(t)
	ctx := context.Background()
	a, err := s.CreateUser(ctx, api.User{Email: "han@falcon.org", PasswordHash: "h", Role: api.RoleBasic, Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateUser(ctx, api.User{Email: "han@falcon.org", PasswordHash: "h", Role: api.RoleBasic, Created: time.Now()})
	if api.ErrorCode(err) != api.CodeUserAlreadyExists {
		t.Errorf("duplicate create: %v", err)
	}
	b, err := s.CreateUser(ctx, api.User{Email: "chewie@falcon.org", PasswordHash: "h", Role: api.RoleBasic, Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	taken := a.Email
	if _, err := s.UpdateUser(ctx, b.ID, api.UserUpdate{Email: &taken}); api.ErrorCode(err) != api.CodeUserAlreadyExists {
		t.Errorf("update to a taken email: %v", err)
	}
}

func TestConcurrentCreatesOfOneEmail(t *testing.T) {
	s, dsn := testenv.Store(t)
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateUser(ctx, api.User{Email: "rey@jakku.org", PasswordHash: "h", Role: api.RoleBasic, Created: time.Now()})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch api.ErrorCode(err) {
		case api.CodeInternal:
			if err == nil {
				ok++
				continue
			}
			t.Errorf("unexpected error: %v", err)
		case api.CodeUserAlreadyExists:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creates succeeded, want 1", ok)
	}
	db, _ := sql.Open("mysql", dsn)
	defer db.Close()
	var count int
	if err := db.QueryRow("SELECT COUNT(*) FROM users WHERE email = 'rey@jakku.org'").Scan(&count); err != nil || count != 1 {
		t.Errorf("%d rows, %v", count, err)
	}
}

func TestSQLMetacharactersAreData(t *testing.T) {
	s, dsn := testenv.Store(t)
	ctx := context.Background()
	hostile := []string{
		"o'brien@example.org",
		"x'); DROP TABLE users; --@example.org",
		`back\slash@example.org`,
		"percent%_@example.org",
		"quote\"@example.org",
		"semi;colon@example.org",
	}
	for _, e := range hostile {
		u, err := s.CreateUser(ctx, api.User{Email: e, PasswordHash: "' OR '1'='1", Role: api.Role("basic'--"), Created: time.Now()})
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		got, err := s.UserByEmail(ctx, e)
		if err != nil || got.ID != u.ID || got.Email != e || got.PasswordHash != "' OR '1'='1" {
			t.Errorf("%q round trip: %+v, %v", e, got, err)
		}
	}
	// A LIKE pattern or an OR trick matches nothing.
	for _, probe := range []string{"%", "' OR '1'='1", "o'brien@example.org' --"} {
		if _, err := s.UserByEmail(ctx, probe); api.ErrorCode(err) != api.CodeNotFound {
			t.Errorf("probe %q: %v", probe, err)
		}
	}
	db, _ := sql.Open("mysql", dsn)
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM users").Scan(&n); err != nil || n != len(hostile) {
		t.Errorf("users table: %d rows, %v", n, err)
	}
}

func TestEmailsAreCaseSensitiveInStore(t *testing.T) {
	// The store keeps what it is given: normalising to lower case is the
	// domain's job, and the binary collation must not merge or confuse.
	s, _ := testenv.Store(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, api.User{Email: "finn@fo.org", PasswordHash: "h", Role: api.RoleBasic, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByEmail(ctx, "FINN@fo.org"); api.ErrorCode(err) != api.CodeNotFound {
		t.Errorf("case-folded lookup: %v", err)
	}
}

func TestUnreachableServer(t *testing.T) {
	dsn := mysql.DSN("swtest", "very-secret-pw", "127.0.0.1:1", "nothing")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := mysql.Open(ctx, dsn)
	if err == nil {
		t.Fatal("opened an unreachable server")
	}
	if strings.Contains(err.Error(), "very-secret-pw") {
		t.Errorf("error leaks the password: %v", err)
	}
	if err := mysql.Migrate("not a dsn"); err == nil || strings.Contains(err.Error(), "not a dsn") {
		t.Errorf("malformed dsn: %v", err)
	}
}

func TestPingAndUnavailable(t *testing.T) {
	s, _ := testenv.Store(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.UserByID(context.Background(), 1); err == nil {
		t.Error("query on a closed store succeeded")
	}
}
