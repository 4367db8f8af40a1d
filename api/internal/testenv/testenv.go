// Package testenv gives integration tests their own MariaDB database and
// Redis key space on the loopback services that scripts/services.sh
// starts. A test whose service does not answer fails (never skips).
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	goredis "github.com/redis/go-redis/v9"
)

// RedisDB is the Redis database the API's tests use, apart from DB 0 that
// other packages' tests may use; keys also carry a per-test prefix.
const RedisDB = 7

const hint = "start the test services with scripts/services.sh"

// Suffix returns a random lowercase hex string of 2n characters.
func Suffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MySQLServerDSN is the server DSN without a database, from SWTEST_MYSQL_DSN.
func MySQLServerDSN() string {
	if v := os.Getenv("SWTEST_MYSQL_DSN"); v != "" {
		return v
	}
	return "swtest:swtest@tcp(127.0.0.1:3306)/"
}

// MySQL creates a fresh database, dropped when the test ends, and returns a
// DSN for it.
func MySQL(t testing.TB) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(MySQLServerDSN())
	if err != nil {
		t.Fatalf("SWTEST_MYSQL_DSN: %v", err)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("MariaDB at %s does not answer (%v): %s", cfg.Addr, err, hint)
	}
	name := "swtest_" + Suffix(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// RedisAddr is the test Redis, from SWTEST_REDIS_ADDR.
func RedisAddr() string {
	if v := os.Getenv("SWTEST_REDIS_ADDR"); v != "" {
		return v
	}
	return "127.0.0.1:6379"
}

// Redis returns a client on RedisDB and a key prefix of the test's own;
// the prefix's keys are deleted when the test ends.
func Redis(t testing.TB) (*goredis.Client, string) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: RedisAddr(), DB: RedisDB})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		t.Fatalf("Redis at %s does not answer (%v): %s", RedisAddr(), err, hint)
	}
	prefix := "swtest:" + Suffix(6) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}
