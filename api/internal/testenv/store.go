package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/fathat101/swdeploy/api/mysql"
)

// Store opens a migrated store on a fresh database of MySQL's, closed when
// the test ends, and returns it with the database's DSN.
func Store(t testing.TB) (*mysql.Store, string) {
	t.Helper()
	dsn := MySQL(t)
	if err := mysql.Migrate(dsn); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := mysql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}
