// Package mysql stores users in MySQL (or MariaDB) through database/sql.
// Its schema is versioned by embedded migrations applied at start-up, and
// driver errors are translated into api errors here, so that none reaches
// a client.
package mysql
