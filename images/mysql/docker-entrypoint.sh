#!/usr/bin/env bash
# Entrypoint of swdeploy-offline/mysql: Debian's MariaDB behind the official
# `mysql` image's environment contract, for machines that cannot pull mysql:8.4.
#
#   MYSQL_ROOT_PASSWORD[_FILE]   root password, for 'root'@'localhost' and 'root'@MYSQL_ROOT_HOST
#   MYSQL_ALLOW_EMPTY_PASSWORD   any non-empty value: root gets no password
#   MYSQL_RANDOM_ROOT_PASSWORD   any non-empty value: a random root password, printed once
#   MYSQL_ROOT_HOST[_FILE]       host part of the remote root account (default '%')
#   MYSQL_DATABASE[_FILE]        database created on first start
#   MYSQL_USER[_FILE], MYSQL_PASSWORD[_FILE]
#                                account created on first start, with ALL on MYSQL_DATABASE only
#   MYSQL_INITDB_SKIP_TZINFO     any non-empty value: do not load the time zone tables
#   /docker-entrypoint-initdb.d  *.sql, *.sql.gz and *.sh run once, after the above
#
# Only an empty data directory is initialised, by a temporary server that
# listens on the socket alone (--skip-networking): a TCP health check such as
# `mysqladmin ping -h 127.0.0.1` succeeds only once the real server is up.
# The real server then replaces this script as PID 1, so SIGTERM from
# `docker stop` reaches mariadbd directly and it shuts down cleanly.
set -euo pipefail
shopt -s nullglob

readonly DATADIR=/var/lib/mysql
readonly SOCKET=/run/mysqld/mysqld.sock

note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
error() {
	printf '%s [ERROR] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2
	exit 1
}

# file_env VAR [DEFAULT]: VAR from the environment or from the file named by
# VAR_FILE (Docker secrets), never both.
file_env() {
	local var="$1" file_var="${1}_FILE" def="${2:-}" val
	if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
		error "both $var and $file_var are set (but are exclusive)"
	fi
	val="$def"
	if [[ -n "${!var:-}" ]]; then
		val="${!var}"
	elif [[ -n "${!file_var:-}" ]]; then
		[[ -r "${!file_var}" ]] || error "$file_var: cannot read ${!file_var}"
		val="$(<"${!file_var}")"
	fi
	export "$var=$val"
	unset "$file_var"
}

# Escapes a value for a single-quoted SQL string literal.
sql_string() {
	local s="${1//\\/\\\\}"
	s="${s//$'\n'/\\n}"
	printf '%s' "${s//\'/\\\'}"
}

# Escapes an identifier for backquotes.
sql_ident() { printf '%s' "${1//\`/\`\`}"; }

wants_help() {
	local arg
	for arg; do
		case "$arg" in -'?' | --help | --print-defaults | -V | --version) return 0 ;; esac
	done
	return 1
}

# Runs SQL from stdin as root over the socket. Before the root password is
# set, root@localhost has none; MYSQL_PWD keeps the password off the command line.
process_sql() {
	MYSQL_PWD="${ROOT_PW_SET:+${MYSQL_ROOT_PASSWORD:-}}" \
		mariadb --protocol=socket --socket="$SOCKET" -uroot --binary-mode "$@"
}

temp_server_start() {
	"$@" --skip-networking --socket="$SOCKET" --default-time-zone=SYSTEM \
		--skip-log-bin --loose-innodb_buffer_pool_load_at_startup=0 &
	TEMP_PID=$!
	local _
	for _ in $(seq 60); do
		if process_sql <<<'SELECT 1' >/dev/null 2>&1; then
			return
		fi
		kill -0 "$TEMP_PID" 2>/dev/null || error "temporary server exited during start-up"
		sleep 0.5
	done
	error "temporary server did not answer on $SOCKET within 30s"
}

temp_server_stop() {
	kill -TERM "$TEMP_PID"
	wait "$TEMP_PID" || true
	TEMP_PID=
}

init_database() {
	if [[ -z "$MYSQL_ROOT_PASSWORD" && -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" && -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
		error "database is uninitialized and password option is not specified
    You need to specify one of the following as an environment variable:
    - MYSQL_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD_FILE)
    - MYSQL_ALLOW_EMPTY_PASSWORD
    - MYSQL_RANDOM_ROOT_PASSWORD"
	fi
	if [[ "$MYSQL_USER" == root ]]; then
		error 'MYSQL_USER="root": MYSQL_USER and MYSQL_PASSWORD are for a regular user; use MYSQL_ROOT_PASSWORD for root'
	fi
	if [[ -n "$MYSQL_USER" && -z "$MYSQL_PASSWORD" ]]; then
		note "MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created"
	elif [[ -z "$MYSQL_USER" && -n "$MYSQL_PASSWORD" ]]; then
		note "MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored"
	fi

	# A failed init leaves a half-made data directory that the next start
	# would take as initialised; start over instead.
	trap 'on_init_failure' EXIT
	# PID 1 ignores signals it has no handler for: stop cleanly on docker stop.
	trap 'note "interrupted during initialisation"; exit 143' TERM INT

	note "Initializing database files"
	mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --default-time-zone=SYSTEM --skip-log-bin \
		--loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0 \
		"${@:2}" >/dev/null
	note "Database files initialized"

	note "Starting temporary server"
	temp_server_start "$@"
	note "Temporary server started."

	if [[ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" && -d /usr/share/zoneinfo ]]; then
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null | process_sql --database=mysql
	fi

	if [[ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
		MYSQL_ROOT_PASSWORD="$(head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=' | cut -c1-32)"
		note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
	fi
	local root_pw root_host db user pw
	root_pw="$(sql_string "$MYSQL_ROOT_PASSWORD")"
	root_host="$(sql_string "$MYSQL_ROOT_HOST")"

	{
		echo "SET @@SESSION.SQL_LOG_BIN = 0;"
		# Backslash escapes in the literals below need the default SQL mode.
		echo "SET @@SESSION.SQL_MODE = REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
		# mariadb-install-db also makes password-less root accounts for the
		# loopback addresses and the host name; the official image has none.
		echo "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';"
		printf '%s\n' "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
		echo "GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION;"
		if [[ -n "$MYSQL_ROOT_HOST" && "$MYSQL_ROOT_HOST" != localhost ]]; then
			echo "CREATE USER 'root'@'$root_host' IDENTIFIED BY '$root_pw';"
			echo "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
		fi
		echo "DROP DATABASE IF EXISTS test;"
		if [[ -n "$MYSQL_DATABASE" ]]; then
			db="$(sql_ident "$MYSQL_DATABASE")"
			echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"
		fi
		if [[ -n "$MYSQL_USER" && -n "$MYSQL_PASSWORD" ]]; then
			user="$(sql_string "$MYSQL_USER")"
			pw="$(sql_string "$MYSQL_PASSWORD")"
			echo "CREATE USER '$user'@'%' IDENTIFIED BY '$pw';"
			if [[ -n "$MYSQL_DATABASE" ]]; then
				# In a GRANT, _ and % in the database name are wildcards: escape
				# them so the user gets this database only.
				db="${db//_/\\_}"
				echo "GRANT ALL ON \`${db//%/\\%}\`.* TO '$user'@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | process_sql --database=mysql
	ROOT_PW_SET=1
	[[ -n "$MYSQL_DATABASE" ]] && note "Created database $MYSQL_DATABASE"
	[[ -n "$MYSQL_USER" && -n "$MYSQL_PASSWORD" ]] && note "Created user $MYSQL_USER"

	local f
	for f in /docker-entrypoint-initdb.d/*; do
		# shellcheck disable=SC1090 # the operator's init scripts
		case "$f" in
		*.sh) note "running $f"; if [[ -x "$f" ]]; then "$f"; else . "$f"; fi ;;
		*.sql) note "running $f"; process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} <"$f" ;;
		*.sql.gz) note "running $f"; gunzip -c "$f" | process_sql ${MYSQL_DATABASE:+--database="$MYSQL_DATABASE"} ;;
		*) note "ignoring $f" ;;
		esac
	done

	note "Stopping temporary server"
	temp_server_stop
	trap - EXIT TERM INT
	note "MySQL init process done. Ready for start up."
}

on_init_failure() {
	local rc=$?
	[[ -n "${TEMP_PID:-}" ]] && { kill -TERM "$TEMP_PID" 2>/dev/null; wait "$TEMP_PID" 2>/dev/null || true; }
	if ((rc != 0)); then
		note "initialisation failed; emptying $DATADIR so the next start retries"
		find "$DATADIR" -mindepth 1 -delete 2>/dev/null || true
	fi
}

main() {
	# `docker run IMAGE --some-option` passes options to the server.
	if [[ "${1:-}" == -* ]]; then
		set -- mariadbd "$@"
	fi
	if [[ "${1:-}" != mariadbd && "${1:-}" != mysqld ]] || wants_help "$@"; then
		exec "$@"
	fi

	file_env MYSQL_ROOT_HOST '%'
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	file_env MYSQL_ROOT_PASSWORD

	if [[ "$(id -u)" == 0 ]]; then
		# Secrets were read as root above (they may be root-only files); now
		# make the directories the server writes its own and drop to mysql.
		mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
		find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown --no-dereference mysql:mysql '{}' +
		exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	if [[ ! -d "$DATADIR/mysql" ]]; then
		init_database "$@"
	else
		note "$DATADIR is already initialised; skipping initialisation"
	fi

	# The server does not need the secrets; keep them out of /proc/1/environ.
	unset MYSQL_ROOT_PASSWORD MYSQL_PASSWORD
	exec "$@"
}

main "$@"
