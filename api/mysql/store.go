package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/fathat101/swdeploy/api"
)

// Store implements api.UserStore.
type Store struct {
	db *sql.DB
}

var _ api.UserStore = (*Store)(nil)

// DSN builds a driver DSN for a TCP server. Times are read and written in
// UTC.
func DSN(user, password, addr, database string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", addr, database
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Timeout = 5 * time.Second
	return cfg.FormatDSN()
}

func parseDSN(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New("malformed mysql dsn") // the driver's text may hold the password
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	return cfg, nil
}

// Open connects to dsn, waiting until the server answers or ctx ends: at
// start-up the database may still be coming up.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxLifetime(5 * time.Minute)
	for {
		err = db.PingContext(ctx)
		if err == nil {
			return &Store{db: db}, nil
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, fmt.Errorf("connect to mysql at %s: %w", cfg.Addr, err)
		case <-time.After(time.Second):
		}
	}
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the server answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	return translate(s.db.PingContext(ctx), "ping")
}

const userColumns = "id, email, password_hash, access_role, email_verified, disabled, created"

func scanUser(row interface{ Scan(...any) error }) (api.User, error) {
	var u api.User
	var role string
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &role, &u.EmailVerified, &u.Disabled, &u.Created); err != nil {
		return api.User{}, err
	}
	u.Role = api.Role(role)
	return u, nil
}

// CreateUser inserts u and returns it with its id. A duplicate email is
// user-already-exists: the unique index decides concurrent signups.
func (s *Store) CreateUser(ctx context.Context, u api.User) (api.User, error) {
	u.Created = u.Created.UTC().Truncate(time.Microsecond) // what DATETIME(6) keeps
	res, err := s.db.ExecContext(ctx,
		"INSERT INTO users (email, password_hash, access_role, email_verified, disabled, created) VALUES (?, ?, ?, ?, ?, ?)",
		u.Email, u.PasswordHash, string(u.Role), u.EmailVerified, u.Disabled, u.Created)
	if err != nil {
		return api.User{}, translate(err, "insert user")
	}
	id, err := res.LastInsertId()
	if err != nil {
		return api.User{}, translate(err, "insert user id")
	}
	u.ID = id
	return u, nil
}

// UserByID returns the user with id, or not-found.
func (s *Store) UserByID(ctx context.Context, id int64) (api.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	return u, translate(err, "select user by id")
}

// UserByEmail returns the user with email (already normalised), or
// not-found.
func (s *Store) UserByEmail(ctx context.Context, email string) (api.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ?", email))
	return u, translate(err, "select user by email")
}

// UpdateUser changes the fields set in upd in one transaction, the row
// locked meanwhile, and returns the user as stored.
func (s *Store) UpdateUser(ctx context.Context, id int64, upd api.UserUpdate) (api.User, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return api.User{}, translate(err, "begin update")
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ? FOR UPDATE", id))
	if err != nil {
		return api.User{}, translate(err, "lock user")
	}
	if upd.Email != nil {
		u.Email = *upd.Email
	}
	if upd.Role != nil {
		u.Role = *upd.Role
	}
	if upd.Disabled != nil {
		u.Disabled = *upd.Disabled
	}
	if upd.EmailVerified != nil {
		u.EmailVerified = *upd.EmailVerified
	}
	if upd.PasswordHash != nil {
		u.PasswordHash = *upd.PasswordHash
	}
	_, err = tx.ExecContext(ctx,
		"UPDATE users SET email = ?, password_hash = ?, access_role = ?, email_verified = ?, disabled = ? WHERE id = ?",
		u.Email, u.PasswordHash, string(u.Role), u.EmailVerified, u.Disabled, id)
	if err != nil {
		return api.User{}, translate(err, "update user")
	}
	if err := tx.Commit(); err != nil {
		return api.User{}, translate(err, "commit update")
	}
	return u, nil
}

// DeleteUser removes the user with id, or returns not-found.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
	if err != nil {
		return translate(err, "delete user")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, "delete user")
	}
	if n == 0 {
		return &api.Error{Code: api.CodeNotFound}
	}
	return nil
}

// MySQL error numbers this adapter gives a meaning.
const errDuplicateEntry = 1062

// translate turns driver errors into api errors: the HTTP layer shows
// codes only, and the cause stays in the chain for the log.
func translate(err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &api.Error{Code: api.CodeNotFound}
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && myErr.Number == errDuplicateEntry {
		return &api.Error{Code: api.CodeUserAlreadyExists, Err: err}
	}
	var netErr net.Error
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &netErr) {
		return &api.Error{Code: api.CodeUnavailable, Message: "mysql " + op, Err: err}
	}
	return fmt.Errorf("mysql %s: %w", op, err)
}
