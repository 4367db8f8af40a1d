#!/usr/bin/env bash
# Checks that the stand-in images behave like the images they replace, the
# way the stack uses them (stack/compose.yaml), and that the API's Dockerfile
# builds on the Go stand-in with no network at all. Run `make offline-images`
# first. Everything it creates is named swdeploy-imgtest-<pid>-* and removed
# on exit; the swdeploy-offline/* images are left in place.
# Containers talk only to each other, on an internal network.
#
# Usage: images/verify.sh [mysql] [redis] [api]   (default: all)
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_DIR
readonly MYSQL_IMAGE=swdeploy-offline/mysql:8.4
readonly REDIS_IMAGE=swdeploy-offline/redis:7
readonly GO_IMAGE=swdeploy-offline/golang:1.26
readonly MAX_API_IMAGE_BYTES=$((20 * 1024 * 1024))
readonly P="swdeploy-imgtest-$$"
readonly NET="$P-net"

WORK="$(mktemp -d /tmp/swdeploy-imgtest-XXXXXX)"
readonly WORK
passed=0 failed=0

pass() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
check() { # check DESCRIPTION COMMAND...
	local what="$1"
	shift
	if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
section() { printf '== %s\n' "$*"; }

cleanup() {
	docker ps -aq --filter "name=^$P-" | xargs -r docker rm -fv >/dev/null 2>&1 || true
	docker volume ls -q --filter "name=^$P-" | xargs -r docker volume rm >/dev/null 2>&1 || true
	docker network rm "$NET" >/dev/null 2>&1 || true
	# By tag: a cached build may share its image with someone else's build.
	docker image ls --format '{{.Repository}}:{{.Tag}}' "$P-api" | xargs -r docker image rm >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# wait_until SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

health_is() { [[ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" == "$2" ]]; }
pid1_uid() { docker exec "$1" awk '/^Uid:/ { print $2 }' /proc/1/status; }

# A client container on the same internal network.
client() { docker run --rm --network "$NET" --entrypoint "$1" "$2" "${@:3}"; }

# ---------------------------------------------------------------------------

verify_mysql() {
	section "$MYSQL_IMAGE"
	local c="$P-mysql" root_pw app_pw="app pw 'quoted'"
	# Quotes and backslashes must survive the entrypoint's SQL.
	root_pw="r00t'pw\\with\"quotes"
	mkdir -p "$WORK/mysql-secrets"
	printf '%s' "$root_pw" >"$WORK/mysql-secrets/mysql_root_password"
	printf '%s\n' "$app_pw" >"$WORK/mysql-secrets/mysql_password"
	# Root-only, as a file secret may be: the entrypoint reads it before dropping to mysql.
	chmod 0400 "$WORK/mysql-secrets"/*

	docker volume create "$P-mysql-data" >/dev/null
	docker create --name "$c" --hostname starwars-mysql --network "$NET" \
		-v "$P-mysql-data:/var/lib/mysql" \
		-e MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql_root_password \
		-e MYSQL_DATABASE=fathat101users -e MYSQL_USER=starwars \
		-e MYSQL_PASSWORD_FILE=/run/secrets/mysql_password \
		--health-cmd 'mysqladmin ping -h 127.0.0.1 --silent' \
		--health-interval 1s --health-retries 120 \
		"$MYSQL_IMAGE" >/dev/null
	docker cp -a "$WORK/mysql-secrets/." "$c:/run/secrets/"
	docker start "$c" >/dev/null

	# The stack's health check must not pass while the temporary (socket
	# only) server runs: whenever ping succeeds, initialisation is done.
	local deadline=$((SECONDS + 120)) saw_temp=0 early=0 logs
	while ((SECONDS < deadline)); do
		if docker exec "$c" mysqladmin ping -h 127.0.0.1 --silent >/dev/null 2>&1; then
			docker logs "$c" 2>&1 | grep -q 'init process done' || early=1
			break
		fi
		logs="$(docker logs "$c" 2>&1)"
		[[ "$logs" == *"Temporary server started"* && "$logs" != *"init process done"* ]] && saw_temp=1
		[[ "$(docker inspect -f '{{.State.Running}}' "$c")" == true ]] || break
		sleep 0.2
	done
	check "first start initialises the data directory" sh -c "docker logs '$c' 2>&1 | grep -q 'init process done'"
	check "mysqladmin ping -h 127.0.0.1 fails during initialisation" test "$early" = 0 -a "$saw_temp" = 1
	check "health check passes once the server runs" wait_until 60 health_is "$c" healthy
	check "server runs as uid 999 (mysql), as PID 1" test "$(pid1_uid "$c")" = 999

	# MYSQL_PWD keeps the passwords off the client's command line.
	local app=(docker run --rm --network "$NET" -e MYSQL_PWD="$app_pw" --entrypoint mariadb "$MYSQL_IMAGE" -h "$c" -u starwars)
	check "app user works in MYSQL_DATABASE from another container" \
		"${app[@]}" fathat101users -e "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'kept')"
	check "app user cannot create other databases" not "${app[@]}" -e "CREATE DATABASE other"
	local root=(docker run --rm --network "$NET" -e MYSQL_PWD="$root_pw" --entrypoint mariadb "$MYSQL_IMAGE" -h "$c" -u root)
	check "root@'%' logs in with the password from MYSQL_ROOT_PASSWORD_FILE" "${root[@]}" -e "SELECT 1"
	check "root without a password is refused" not client mariadb "$MYSQL_IMAGE" -h "$c" -u root -e "SELECT 1"
	check "no password-less root accounts left by mariadb-install-db" test \
		"$("${root[@]}" -N -e "SELECT COUNT(*) FROM mysql.user WHERE user='root' AND host NOT IN ('%','localhost')")" = 0

	docker stop -t 30 "$c" >/dev/null
	check "docker stop: SIGTERM shuts the server down cleanly (exit 0)" \
		test "$(docker inspect -f '{{.State.ExitCode}}' "$c")" = 0
	docker start "$c" >/dev/null
	check "restart on the initialised volume becomes healthy" wait_until 60 health_is "$c" healthy
	check "restart skips initialisation" sh -c "docker logs '$c' 2>&1 | grep -q 'already initialised'"
	check "data survives the restart" test \
		"$("${app[@]}" -N fathat101users -e "SELECT v FROM t WHERE id = 1" 2>/dev/null)" = kept
}

not() { ! "$@"; }

# ---------------------------------------------------------------------------

verify_redis() {
	section "$REDIS_IMAGE"
	local c="$P-redis" pw=redis-s3cret
	mkdir -p "$WORK/redis-secrets"
	printf '%s' "$pw" >"$WORK/redis-secrets/redis_password"
	chmod 0444 "$WORK/redis-secrets/redis_password"

	# The command and health check of stack/compose.yaml, after Compose's
	# interpolation ($$ -> $); the container's shell expands them.
	local cmd hc
	# shellcheck disable=SC2016
	cmd='exec redis-server - <<EOF
requirepass $(cat /run/secrets/redis_password)
appendonly yes
dir /data
EOF
'
	# shellcheck disable=SC2016
	hc='REDISCLI_AUTH="$(cat /run/secrets/redis_password)" redis-cli ping | grep -q PONG'

	docker volume create "$P-redis-data" >/dev/null
	docker create --name "$c" --hostname starwars-redis --network "$NET" --user redis \
		-v "$P-redis-data:/data" \
		--health-cmd "$hc" --health-interval 1s --health-timeout 3s --health-retries 10 \
		"$REDIS_IMAGE" sh -c "$cmd" >/dev/null
	docker cp -a "$WORK/redis-secrets/." "$c:/run/secrets/"
	docker start "$c" >/dev/null

	check "health check (compose.yaml's) passes" wait_until 60 health_is "$c" healthy
	check "runs as uid 999 (redis)" test "$(pid1_uid "$c")" = 999
	local cli=(docker run --rm --network "$NET" --entrypoint redis-cli "$REDIS_IMAGE" -h "$c")
	check "REDISCLI_AUTH=<password> redis-cli ping answers PONG" \
		test "$(docker run --rm --network "$NET" -e REDISCLI_AUTH="$pw" --entrypoint redis-cli "$REDIS_IMAGE" -h "$c" ping)" = PONG
	check "a wrong password is refused" \
		not sh -c "docker run --rm --network '$NET' -e REDISCLI_AUTH=wrong --entrypoint redis-cli '$REDIS_IMAGE' -h '$c' ping 2>&1 | grep -qx PONG"
	check "no password is refused" not sh -c "$(printf '%q ' "${cli[@]}") ping 2>&1 | grep -qx PONG"
	docker run --rm --network "$NET" -e REDISCLI_AUTH="$pw" --entrypoint redis-cli "$REDIS_IMAGE" -h "$c" set k kept >/dev/null

	docker stop -t 30 "$c" >/dev/null
	check "docker stop: SIGTERM shuts redis down cleanly (exit 0)" \
		test "$(docker inspect -f '{{.State.ExitCode}}' "$c")" = 0
	docker start "$c" >/dev/null
	wait_until 60 health_is "$c" healthy || true
	check "data survives the restart (appendonly)" test \
		"$(docker run --rm --network "$NET" -e REDISCLI_AUTH="$pw" --entrypoint redis-cli "$REDIS_IMAGE" -h "$c" get k)" = kept

	# The image's own default command, as the official image runs it.
	docker run -d --name "$P-redis-default" --network "$NET" "$REDIS_IMAGE" >/dev/null
	check "default command: reachable from another container, as uid 999" \
		wait_until 30 sh -c "test \"\$(docker run --rm --network '$NET' --entrypoint redis-cli '$REDIS_IMAGE' -h '$P-redis-default' ping)\" = PONG && test \"\$(docker exec '$P-redis-default' awk '/^Uid:/ { print \$2 }' /proc/1/status)\" = 999"
}

# ---------------------------------------------------------------------------

verify_api() {
	section "Dockerfile on $GO_IMAGE (no network)"
	# A stand-in main package that supports `healthcheck` and uses a module
	# from go.mod, so that the offline module cache is exercised.
	local ctx="$WORK/api-context" img="$P-api"
	mkdir -p "$ctx/api/cmd/starwars-api"
	cp "$REPO_DIR/Dockerfile" "$REPO_DIR/.dockerignore" "$REPO_DIR/go.mod" "$REPO_DIR/go.sum" "$ctx/"
	cat >"$ctx/api/cmd/starwars-api/main.go" <<-'EOF'
		package main

		import (
			"net/http"
			"os"
			"time"

			"github.com/go-chi/chi/v5"
		)

		func main() {
			if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
				c := http.Client{Timeout: 2 * time.Second}
				resp, err := c.Get("http://127.0.0.1:5003/healthz")
				if err != nil || resp.StatusCode != http.StatusOK {
					os.Exit(1)
				}
				return
			}
			r := chi.NewRouter()
			r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
			if err := http.ListenAndServe(":5003", r); err != nil {
				os.Exit(1)
			}
		}
	EOF
	# Files the .dockerignore must keep out of the context.
	mkdir -p "$ctx/.git" "$ctx/secrets" "$ctx/bench"
	printf 'secret' >"$ctx/secrets/mysql_password"
	head -c 5000000 /dev/zero >"$ctx/bench/result.out"

	local out
	if out="$(docker build --network none --build-arg "GO_IMAGE=$GO_IMAGE" -t "$img" "$ctx" 2>&1)"; then
		pass "docker build --network none --build-arg GO_IMAGE=$GO_IMAGE"
	else
		fail "docker build --network none --build-arg GO_IMAGE=$GO_IMAGE"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/        /'
		return
	fi
	local ctx_size
	# The classic builder redraws this line with carriage returns.
	ctx_size="$(printf '%s\n' "$out" | tr '\r' '\n' | sed -n 's/^Sending build context to Docker daemon *//p' | tail -n 1)"
	check ".dockerignore keeps .git, secrets and bench output out (context $ctx_size)" \
		grep -Eqx '[0-9.]+ ?kB' <<<"$ctx_size"
	local size user
	size="$(docker image inspect -f '{{.Size}}' "$img")"
	user="$(docker image inspect -f '{{.Config.User}}' "$img")"
	check "image size $(numfmt --to=iec "$size") <= 20M" test "$size" -le "$MAX_API_IMAGE_BYTES"
	check "runs as non-root numeric user ($user)" sh -c "printf '%s' '$user' | grep -Eq '^[1-9][0-9]*(:[0-9]+)?$'"
	docker run -d --name "$P-api" --network "$NET" --read-only --cap-drop ALL \
		--security-opt no-new-privileges:true --health-interval 1s "$img" >/dev/null
	check "HEALTHCHECK (/starwars-api healthcheck) passes" wait_until 30 health_is "$P-api" healthy
	check "CA bundle is in the image" docker cp "$P-api:/etc/ssl/certs/ca-certificates.crt" "$WORK/ca.crt"

	# The real server, when it exists: its modules must all come from the
	# stand-in's cache. Its size is reported, not judged here.
	if [[ -f "$REPO_DIR/api/cmd/starwars-api/main.go" ]]; then
		if out="$(docker build --network none --build-arg "GO_IMAGE=$GO_IMAGE" -t "$img:real" "$REPO_DIR" 2>&1)"; then
			pass "the repository's API builds offline"
			size="$(docker image inspect -f '{{.Size}}' "$img:real")"
			if ((size > MAX_API_IMAGE_BYTES)); then
				printf '  WARN  the repository API image is %s, over the 20M budget\n' "$(numfmt --to=iec "$size")"
			else
				printf '  info  the repository API image is %s\n' "$(numfmt --to=iec "$size")"
			fi
		else
			fail "the repository's API builds offline"
			printf '%s\n' "$out" | tail -n 20 | sed 's/^/        /'
		fi
	fi
}

main() {
	local targets=("$@") t
	((${#targets[@]})) || targets=(mysql redis api)
	for t in "$MYSQL_IMAGE" "$REDIS_IMAGE" "$GO_IMAGE"; do
		docker image inspect "$t" >/dev/null 2>&1 || { echo "verify: $t is missing; run make offline-images" >&2; exit 1; }
	done
	docker network create --internal "$NET" >/dev/null
	for t in "${targets[@]}"; do
		case "$t" in
		mysql) verify_mysql ;;
		redis) verify_redis ;;
		api) verify_api ;;
		*) echo "verify: unknown check '$t'" >&2; exit 2 ;;
		esac
	done
	printf '%d passed, %d failed\n' "$passed" "$failed"
	((failed == 0))
}

main "$@"
