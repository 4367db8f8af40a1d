package mysql

import (
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate brings the schema up to date. It takes migrate's advisory lock,
// so that several servers starting at once apply each step once; re-running
// on an up-to-date schema changes nothing.
func Migrate(dsn string) error {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return err
	}
	// migrate needs multiStatements, and closes the *sql.DB it is given:
	// it gets a connection pool of its own.
	cfg.MultiStatements = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return fmt.Errorf("open migration connection: %w", err)
	}
	driver, err := migratemysql.WithInstance(db, &migratemysql.Config{})
	if err != nil {
		db.Close()
		return fmt.Errorf("migration driver: %w", err)
	}
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		driver.Close()
		return fmt.Errorf("migration source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "mysql", driver)
	if err != nil {
		src.Close()
		driver.Close()
		return fmt.Errorf("migrator: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}
