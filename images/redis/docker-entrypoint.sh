#!/bin/sh
# Entrypoint of swdeploy-offline/redis, after the official redis image's:
# `redis-server` with no configuration file listens on all interfaces with
# protected mode off (the network around the container is the protection),
# and a container started as root drops to the redis user. Any other command
# (the stack's `sh -c 'exec redis-server - <<EOF ...'`) runs as given.
set -eu

# `docker run IMAGE --appendonly yes` passes options to the server.
case "${1:-}" in -*) set -- redis-server "$@" ;; esac

if [ "${1:-}" = redis-server ]; then
	# Without a configuration file redis-server refuses remote clients
	# unless protected mode is off; with one (a path, or - for stdin), the
	# file decides.
	if [ "${2:-}" != - ] && [ ! -f "${2:-}" ]; then
		set -- "$@" --protected-mode no
	fi
	if [ "$(id -u)" = 0 ]; then
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$@"
	fi
fi

exec "$@"
