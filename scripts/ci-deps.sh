#!/usr/bin/env bash
# Installs the Debian packages that the whole test suite needs, and only the
# missing ones: a machine that has them all is left alone (and no apt-get
# update is run). Non-interactive; safe to run again.
#
# Usage: scripts/ci-deps.sh [EXTRA-PACKAGE...]
set -euo pipefail

packages=(
	ca-certificates
	git
	make
	iproute2              # ip netns / veth for the isolation and network tests
	debootstrap           # images/build.sh: base root filesystem of the stand-in images
	debian-archive-keyring
	mariadb-server        # the API's integration tests (scripts/services.sh)
	mariadb-client
	redis-server
	redis-tools
	openssh-server        # deploying to a remote engine over ssh://
	tmux                  # the live progress view in a real terminal (e2e)
	chromium              # looking at Swagger UI as a person would
	wrk                   # API throughput benchmark
	haproxy               # the edge proxy against HAProxy (bench)
	hyperfine             # swdeploy up against docker compose up
	iptables              # scripts/swarm-lab.sh: the lab bridge's forward and reject rules
	fuse-overlayfs        # scripts/swarm-lab.sh: the lab daemons' storage driver
)
# The Docker CLI may come from elsewhere than Debian; only when there is
# none, take Debian's (the engine itself is started by the machine).
command -v docker >/dev/null || packages+=(docker.io)
# Compose, for the benchmarks against `docker compose up`: the v1 binary from
# Debian unless some Compose is already there.
if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
	packages+=(docker-compose)
fi
packages+=("$@")

log() { printf 'ci-deps: %s\n' "$*"; }

if [[ "$(id -u)" != 0 ]]; then
	command -v sudo >/dev/null || { log "run as root" >&2; exit 1; }
	exec sudo -- "$0" "$@"
fi

missing=()
for pkg in "${packages[@]}"; do
	[[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
	log "all ${#packages[@]} packages present"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# A new machine has no package lists, and old ones may name versions the
# mirror has dropped: update first unless the lists are less than a day old.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 -print -quit 2>/dev/null)" ]]; then
	log "apt-get update"
	apt-get update -q
fi
log "installing ${missing[*]}"
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
