#!/usr/bin/env bash
# Starts MariaDB and Redis on loopback for the API's integration tests:
#   MariaDB  127.0.0.1:3306  user swtest / password swtest, all privileges
#   Redis    127.0.0.1:6379  no password
# Installs the Debian packages when they are missing. Safe to run again and
# while the servers are already running: nothing is restarted then, and the
# test account is only created or reset to its documented password.
# There is no systemd on these machines: the packages' init scripts start the
# daemons, or the daemons are started directly when no init script exists.
set -euo pipefail

readonly MYSQL_ADDR=127.0.0.1 MYSQL_PORT=3306
readonly REDIS_ADDR=127.0.0.1 REDIS_PORT=6379
readonly TEST_USER=swtest TEST_PASSWORD=swtest
readonly WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

log() { printf 'services: %s\n' "$*"; }
die() { printf 'services: %s\n' "$*" >&2; exit 1; }

if [[ "$(id -u)" != 0 ]]; then
	command -v sudo >/dev/null || die "run as root (installs packages and starts daemons)"
	exec sudo -- "$0" "$@"
fi

installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		installed "$pkg" || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# A fresh machine has no package lists; a stale one may name versions the
	# mirror no longer has. Try as is, then once more after an update.
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		apt-get update -q
		apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
}

# wait_for NAME COMMAND...: polls until COMMAND succeeds or WAIT_SECONDS pass.
wait_for() {
	local name="$1" deadline=$((SECONDS + WAIT_SECONDS))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "$name did not answer within ${WAIT_SECONDS}s"
		sleep 0.5
	done
}

# start_service NAME INITSCRIPT FALLBACK...: the init script when there is
# one, else the daemon command in the background.
start_service() {
	local name="$1" script="$2"
	shift 2
	if [[ -x "/etc/init.d/$script" ]]; then
		log "starting $name (/etc/init.d/$script start)"
		"/etc/init.d/$script" start >/dev/null
	else
		log "starting $name ($*)"
		nohup "$@" >"/var/log/swdeploy-$script.log" 2>&1 &
	fi
}

mysql_answers() { mysqladmin --protocol=tcp -h "$MYSQL_ADDR" -P "$MYSQL_PORT" ping --silent; }
# mysqladmin ping also exits 0 on "access denied", so this proves only that a
# server listens; the login check below proves the account.
mysql_login() {
	MYSQL_PWD="$TEST_PASSWORD" mariadb --protocol=tcp -h "$MYSQL_ADDR" -P "$MYSQL_PORT" \
		-u "$TEST_USER" -N -e 'SELECT 1' >/dev/null 2>&1
}

start_mariadb() {
	ensure_packages mariadb-server mariadb-client
	if mysql_answers; then
		log "MariaDB already answers on $MYSQL_ADDR:$MYSQL_PORT"
	else
		mkdir -p /run/mysqld
		chown mysql:mysql /run/mysqld
		start_service MariaDB mariadb mysqld_safe
		wait_for "MariaDB on $MYSQL_ADDR:$MYSQL_PORT" mysql_answers
	fi

	if mysql_login; then
		log "MariaDB account $TEST_USER ready"
		return
	fi
	# Debian's root@localhost logs in over the socket as the system root.
	log "creating MariaDB account $TEST_USER"
	mariadb --protocol=socket -uroot <<-SQL
		CREATE USER IF NOT EXISTS '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
		CREATE USER IF NOT EXISTS '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
		ALTER USER '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
		ALTER USER '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
		GRANT ALL PRIVILEGES ON *.* TO '$TEST_USER'@'127.0.0.1';
		GRANT ALL PRIVILEGES ON *.* TO '$TEST_USER'@'localhost';
		FLUSH PRIVILEGES;
	SQL
	mysql_login || die "cannot log in to MariaDB as $TEST_USER after creating the account"
}

redis_answers() {
	[[ "$(redis-cli -h "$REDIS_ADDR" -p "$REDIS_PORT" ping 2>&1)" == PONG ]]
}

start_redis() {
	ensure_packages redis-server redis-tools
	if redis_answers; then
		log "Redis already answers on $REDIS_ADDR:$REDIS_PORT"
		return
	fi
	if redis-cli -h "$REDIS_ADDR" -p "$REDIS_PORT" ping 2>&1 | grep -q NOAUTH; then
		die "the Redis on $REDIS_ADDR:$REDIS_PORT asks for a password; the tests expect none"
	fi
	# Without the init script, drop to the package's redis user ourselves.
	start_service Redis redis-server \
		setpriv --reuid=redis --regid=redis --init-groups \
		redis-server --bind "$REDIS_ADDR" --port "$REDIS_PORT" --protected-mode yes --dir /var/lib/redis
	wait_for "Redis on $REDIS_ADDR:$REDIS_PORT" redis_answers
}

start_mariadb
start_redis
log "ready: MariaDB $MYSQL_ADDR:$MYSQL_PORT ($TEST_USER/$TEST_PASSWORD), Redis $REDIS_ADDR:$REDIS_PORT"
