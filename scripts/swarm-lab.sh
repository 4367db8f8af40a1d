#!/usr/bin/env bash
# A real multi-node Docker Swarm on one machine, for tests and people:
# every node is a dockerd of its own in a network namespace, joined to the
# others through a host bridge that leads nowhere else.
#
#   swarm-lab.sh up N        remove any earlier lab, start N nodes, form a swarm
#                            (node1 is the manager) and wait until all are Ready
#   swarm-lab.sh down        kill the lab's processes, remove its mounts,
#                            namespaces, links, firewall rules and state
#   swarm-lab.sh status      the nodes' daemons and the manager's `node ls`
#   swarm-lab.sh env         export lines: DOCKER_HOST (the manager) and
#                            SWDEPLOY_NODE_HOSTS (every node, comma-separated)
#   swarm-lab.sh load [--node NODE] IMAGE...   copy images from the host engine
#                            into every node, or into NODE only (the nodes cannot pull)
#   swarm-lab.sh kill NODE   node failure: kill every process of NODE (node3)
#   swarm-lab.sh start NODE  bring a killed node back; waits until it is Ready
#                            again (when the manager runs)
#
# Node K is network namespace and hostname swlab-nodeK, address .(10+K) of
# SWLAB_SUBNET, engine unix:///run/swlab-nodeK.sock. Its data root lives under
# /var/lib/swarm-lab, its exec root (with its own containerd) under
# /run/swarm-lab. Nothing of the host's own engine is touched.
#
# Configuration (environment):
#   SWLAB_SUBNET      the lab bridge's /24 (default 10.213.0.0/24); must not
#                     collide with a network the host routes
#   SWLAB_BRIDGE      the host bridge's name (default swlab0)
#   SWLAB_STORAGE_DRIVER  the nodes' storage driver (default: the host engine's)
#   SWLAB_WAIT_SECONDS    how long to wait for daemons and nodes (default 90)
set -euo pipefail

readonly TAG=swarm-lab # comment on every iptables rule of the lab
readonly BRIDGE="${SWLAB_BRIDGE:-swlab0}"
readonly SUBNET="${SWLAB_SUBNET:-10.213.0.0/24}"
readonly WAIT_SECONDS="${SWLAB_WAIT_SECONDS:-90}"
readonly STATE=/var/lib/swarm-lab # data roots, daemon configs, logs
readonly RUN=/run/swarm-lab       # exec roots, pidfiles, the node count
readonly MAX_NODES=16             # one /20 of the nodes' local address pool each

log() { printf 'swarm-lab: %s\n' "$*" >&2; }
die() { printf 'swarm-lab: %s\n' "$*" >&2; exit 1; }

if [[ "$(id -u)" != 0 ]]; then
	command -v sudo >/dev/null || die "run as root (creates namespaces, links and daemons)"
	exec sudo --preserve-env=SWLAB_SUBNET,SWLAB_BRIDGE,SWLAB_STORAGE_DRIVER,SWLAB_WAIT_SECONDS -- "$0" "$@"
fi

for tool in dockerd docker ip iptables nsenter unshare setsid findmnt sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done

[[ "$SUBNET" =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.0/24$ ]] || die "SWLAB_SUBNET must be a /24 like 10.213.0.0/24, not $SUBNET"
readonly PREFIX="${BASH_REMATCH[1]}"
readonly BRIDGE_ADDR="$PREFIX.1"

# Per-node names. Everything a node owns is derived from its number, so that
# `down` and a later `up` find the leftovers of an interrupted run by name.
node_name() { printf 'swlab-node%d' "$1"; }
node_addr() { printf '%s.%d' "$PREFIX" $((10 + $1)); }
node_sock() { printf '/run/swlab-node%d.sock' "$1"; }
node_host() { printf 'unix://%s' "$(node_sock "$1")"; }
node_veth() { printf 'swlab-v%d' "$1"; } # host side; at most 15 characters
ndocker() {
	local k="$1"
	shift
	docker -H "$(node_host "$k")" "$@"
}

# node_number NODE: 3 for "node3", "swlab-node3" or "3".
node_number() {
	[[ "$1" =~ ^(swlab-)?(node)?([0-9]+)$ ]] || die "no such node: $1 (say node1, node2, ...)"
	local k="${BASH_REMATCH[3]}"
	[[ -d "$STATE/node$k" ]] || die "node$k is not part of the lab"
	printf '%d' "$k"
}

# The nodes of the current lab, from their state directories.
lab_nodes() {
	local d
	for d in "$STATE"/node*/; do
		[[ -d "$d" ]] || continue
		d="${d%/}"
		printf '%s\n' "${d##*/node}"
	done | sort -n
}

# Every process of a node runs in one cgroup subtree: the daemon (and so its
# containerd, shims and fuse-overlayfs) in swlab-nodeK/daemon, the containers
# in swlab-nodeK/<id> through --cgroup-parent. Killing dockerd alone would
# leave the node's containers serving, which is no node failure.
cgroup_root() {
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
		printf '/sys/fs/cgroup' # cgroup v2
	else
		printf '/sys/fs/cgroup/pids'
	fi
}

cgroup_nodes() {
	local dir
	for dir in "$(cgroup_root)"/swlab-node*; do
		[[ -d "$dir" && "$dir" =~ swlab-node([0-9]+)$ ]] && printf '%s\n' "${BASH_REMATCH[1]}"
	done
	return 0
}

node_pids() {
	local dir
	dir="$(cgroup_root)/$(node_name "$1")"
	[[ -d "$dir" ]] || return 0
	find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null
}

# kill_node K: SIGKILL every process of node K until none is left; the
# daemon gets no chance to stop its containers, like a machine losing power.
kill_node() {
	local k="$1" deadline=$((SECONDS + 30)) pids pidfile="$RUN/node$1.pid"
	while pids="$(node_pids "$k")" && [[ -n "$pids" ]]; do
		# shellcheck disable=SC2086 # one PID per word
		kill -9 $pids 2>/dev/null || true
		((SECONDS < deadline)) || die "processes of node$k survive SIGKILL: $pids"
		sleep 0.1
	done
	# A daemon moved out of its cgroup is still found by its pidfile, if the
	# process of that PID is the node's dockerd.
	if [[ -f "$pidfile" ]]; then
		local pid
		pid="$(<"$pidfile")"
		if [[ "$pid" =~ ^[0-9]+$ ]] && grep -qa -- "--pidfile=$pidfile" "/proc/$pid/cmdline" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$pidfile"
	fi
	# A restarted dockerd trusts its containerd's pidfile: while that PID is
	# not yet reaped (or already reused) it waits for that containerd, then
	# gives up ("timeout waiting for containerd to start").
	rm -f "$RUN/node$k/containerd/containerd.pid"
	remove_shim_sockets "$k"
	unmount_under "$STATE/node$k"
	unmount_under "$RUN/node$k"
}

# remove_shim_sockets K: a containerd shim listens on a socket in the
# machine-wide /run/containerd/s, named by the sha256 of its containerd's
# address, namespace and container id, and removes it when it exits
# cleanly; a killed shim leaves it behind. Only node K's names are removed.
remove_shim_sockets() {
	local k="$1" dir sock
	for dir in "$STATE/node$k/data/containers"/*/; do
		[[ -d "$dir" ]] || continue
		dir="${dir%/}"
		sock="$(printf '%s' "$RUN/node$k/containerd/containerd.sock/moby/${dir##*/}" | sha256sum)"
		rm -f "/run/containerd/s/${sock%% *}"
	done
}

# unmount_under DIR: every mount below DIR, deepest first. Lazily, because
# a killed fuse-overlayfs leaves its mount dead ("transport endpoint is not
# connected") and a stale netns mount may still be held open.
unmount_under() {
	local dir="$1" target
	findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0, d) == 1' | sort -r |
		while read -r target; do
			umount -l "$(printf '%b' "$target")" 2>/dev/null || true
		done
}

# remove_cgroups: the empty cgroups of killed nodes, in every hierarchy.
remove_cgroups() {
	local dir
	for dir in /sys/fs/cgroup/swlab-node* /sys/fs/cgroup/*/swlab-node*; do
		[[ -d "$dir" ]] || continue
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}

remove_iptables_rules() {
	local rule
	# The lab adds rules to the filter table only. (-S warns on stderr when
	# legacy tables exist; they are not ours.)
	{ iptables -S 2>/dev/null | grep -- "--comment $TAG" || true; } | sed 's/^-A /-D /' |
		while read -r -a rule; do
			iptables "${rule[@]}"
		done
}

# cleanup removes every trace of a lab, complete or interrupted: processes
# (only the lab's, found by cgroup and pidfile), mounts, namespaces, links,
# firewall rules and state. Nothing is kept for the next run.
cleanup() {
	local k ns link
	# The nodes with state, and any whose state is gone but not its processes.
	for k in $(lab_nodes) $(cgroup_nodes); do
		kill_node "$k"
	done
	unmount_under "$STATE"
	unmount_under "$RUN"
	remove_cgroups
	# The links first: deleting a veth removes its peer at once, whereas a
	# deleted namespace takes its devices down in the background, and a new
	# `up` would race with them for the names.
	for link in $(ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^swlab-v[0-9]+$' || true); do
		ip link delete "$link"
	done
	for ns in $(ip netns list | awk '$1 ~ /^swlab-node[0-9]+$/ {print $1}'); do
		ip netns delete "$ns"
	done
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link delete "$BRIDGE"
	fi
	remove_iptables_rules
	rm -rf "$STATE" "$RUN" /run/swlab-node*.sock
}

# ip4 A.B.C.D: the address as an integer, for overlap checks.
ip4() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	printf '%d' $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
}

# check_subnet fails when the host already routes a network that overlaps
# the lab's /24 (Docker's bridges, the uplink, a VPN): the lab would hide it.
check_subnet() {
	local lo hi dst net len nlo nhi
	[[ "$PREFIX" != 10.21[456].* ]] || die "SWLAB_SUBNET $SUBNET lies in the nodes' own ranges (10.214-10.216.0.0/16)"
	lo="$(ip4 "$PREFIX.0")"
	hi=$((lo + 255))
	while read -r dst _; do
		[[ "$dst" == default ]] && continue
		net="${dst%/*}"
		len=32
		[[ "$dst" == */* ]] && len="${dst#*/}"
		nlo=$(($(ip4 "$net") & ~((1 << (32 - len)) - 1) & 0xffffffff))
		nhi=$((nlo + (1 << (32 - len)) - 1))
		if ((nlo <= hi && lo <= nhi)); then
			die "SWLAB_SUBNET $SUBNET overlaps the host's route to $dst; choose another (SWLAB_SUBNET=10.x.y.0/24)"
		fi
	done < <(ip -4 route show table all type unicast | grep -v "dev $BRIDGE ")
}

# setup_network: the bridge, one namespace per node with a veth into it,
# and the firewall that keeps the lab on the machine.
setup_network() {
	local n="$1" k ns
	ip link add "$BRIDGE" type bridge
	ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	for ((k = 1; k <= n; k++)); do
		ns="$(node_name "$k")"
		ip netns add "$ns"
		ip link add "$(node_veth "$k")" type veth peer name eth0 netns "$ns"
		ip link set "$(node_veth "$k")" master "$BRIDGE" up
		ip -n "$ns" addr add "$(node_addr "$k")/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" link set lo up
		# No default route: a node's registry or DNS lookup fails at once
		# ("network is unreachable") instead of leaving the machine.
	done
	# Docker's FORWARD policy drops bridged traffic (br_netfilter); let the
	# nodes talk to each other, and reject, rather than route, anything
	# from the lab for elsewhere. Inserted in reverse: ACCEPT ends up first.
	iptables -I FORWARD -i "$BRIDGE" ! -o "$BRIDGE" -m comment --comment "$TAG" -j REJECT --reject-with icmp-net-unreachable
	iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$TAG" -j ACCEPT
}

storage_driver() {
	if [[ -n "${SWLAB_STORAGE_DRIVER:-}" ]]; then
		printf '%s' "$SWLAB_STORAGE_DRIVER"
	else
		docker info --format '{{.Driver}}' ||
			die "the host engine does not answer: set SWLAB_STORAGE_DRIVER (overlay2, fuse-overlayfs, vfs)"
	fi
}

# start_node K: node K's dockerd, in its namespace, with a hostname, cgroup,
# data root, exec root (so its own containerd) and config of its own. The
# host's daemon.json names the host's data root: each node reads an empty
# config instead. Node-local networks (--bip, the address pool) are only
# seen inside the node, but distinct ranges keep addresses unambiguous.
start_node() {
	local k="$1" ns cg
	ns="$(node_name "$k")"
	cg="$(cgroup_root)/$ns/daemon"
	mkdir -p "$STATE/node$k" "$RUN" "$cg"
	[[ -f "$STATE/node$k.json" ]] || printf '{}\n' >"$STATE/node$k.json"
	rm -f "$(node_sock "$k")" "$RUN/node$k.pid"
	# nsenter keeps the host's mount namespace (`ip netns exec` would remount
	# /sys and hide the cgroup mounts: "Devices cgroup isn't mounted").
	# setsid: the node outlives the shell or test that started it; its
	# output goes to a log, so that no caller waits on an inherited pipe.
	# shellcheck disable=SC2016 # $$, $1 and $2 are the inner shell's
	setsid unshare --uts -- nsenter --net="/var/run/netns/$ns" -- sh -c '
		echo $$ >"$1/cgroup.procs" && hostname "$2" && shift 2 && exec "$@"' sh "$cg" "$ns" \
		dockerd \
		--config-file="$STATE/node$k.json" \
		--data-root="$STATE/node$k/data" \
		--exec-root="$RUN/node$k" \
		--pidfile="$RUN/node$k.pid" \
		-H "$(node_host "$k")" \
		--storage-driver="$DRIVER" \
		--cgroup-parent="/$ns" \
		--bip="10.214.$k.1/24" \
		--default-address-pool="base=10.215.$((16 * (k - 1))).0/20,size=24" \
		</dev/null >>"$STATE/node$k.log" 2>&1 &
}

wait_for() {
	local what="$1" deadline=$((SECONDS + WAIT_SECONDS))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "$what: not within ${WAIT_SECONDS}s"
		sleep 0.2
	done
}

ready_count() {
	ndocker 1 node ls --format '{{.Status}} {{.Availability}}' | grep -c '^Ready Active$' || true
}
all_ready() { [[ "$(ready_count)" == "$1" ]]; }
node_ready() { ndocker 1 node ls --format '{{.Hostname}} {{.Status}}' | grep -qx "$(node_name "$1") Ready"; }

up() {
	local n="${1:-}" k token pid joins=()
	if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 1 || n > MAX_NODES)); then
		die "usage: swarm-lab.sh up N (1 to $MAX_NODES nodes)"
	fi
	cleanup
	check_subnet
	DRIVER="$(storage_driver)"
	log "starting $n nodes on $BRIDGE ($SUBNET), storage driver $DRIVER"
	setup_network "$n"
	for ((k = 1; k <= n; k++)); do
		start_node "$k"
	done
	for ((k = 1; k <= n; k++)); do
		wait_for "node$k's engine ($STATE/node$k.log)" ndocker "$k" version
	done
	# Overlays from a pool of the lab's own, not 10.0.0.0/8 which holds the
	# lab's bridge. A short heartbeat: a killed node is Down in seconds.
	ndocker 1 swarm init --advertise-addr "$(node_addr 1)" --listen-addr "$(node_addr 1):2377" \
		--default-addr-pool 10.216.0.0/16 --dispatcher-heartbeat 2s >/dev/null
	token="$(ndocker 1 swarm join-token -q worker)"
	for ((k = 2; k <= n; k++)); do
		ndocker "$k" swarm join --token "$token" --advertise-addr "$(node_addr "$k")" \
			--listen-addr "$(node_addr "$k"):2377" "$(node_addr 1):2377" >/dev/null &
		joins+=($!)
	done
	for pid in "${joins[@]}"; do
		wait "$pid" || die "a node failed to join the swarm"
	done
	wait_for "$n nodes Ready" all_ready "$n"
	log "up: $n nodes Ready; the manager is $(node_host 1)"
}

status() {
	local k pid state
	[[ -n "$(lab_nodes)" ]] || die "no lab (swarm-lab.sh up N)"
	for k in $(lab_nodes); do
		pid="$(cat "$RUN/node$k.pid" 2>/dev/null || true)"
		state=down
		[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && state="running (dockerd $pid)"
		printf '%s\t%s\t%s\t%s\n' "$(node_name "$k")" "$(node_addr "$k")" "$(node_host "$k")" "$state"
	done
	ndocker 1 node ls
}

print_env() {
	local k hosts=()
	[[ -n "$(lab_nodes)" ]] || die "no lab (swarm-lab.sh up N)"
	for k in $(lab_nodes); do
		hosts+=("$(node_host "$k")")
	done
	printf 'export DOCKER_HOST=%s\n' "$(node_host 1)"
	printf 'export SWDEPLOY_NODE_HOSTS=%s\n' "$(IFS=,; printf '%s' "${hosts[*]}")"
}

# load IMAGE...: one `docker save` from the host engine, loaded into every
# node at once.
load() {
	local only=""
	if [[ "${1:-}" == --node ]]; then
		only="$(node_number "${2:-}")"
		shift 2
	fi
	(($#)) || die "usage: swarm-lab.sh load [--node NODE] IMAGE..."
	local k tar="$STATE/load.tar" failed=0 pids=()
	[[ -n "$(lab_nodes)" ]] || die "no lab (swarm-lab.sh up N)"
	docker save -o "$tar" "$@"
	for k in $(lab_nodes); do
		[[ -z "$only" || "$k" == "$only" ]] || continue
		ndocker "$k" load -q -i "$tar" >/dev/null &
		pids+=($!)
	done
	for k in "${pids[@]}"; do
		wait "$k" || failed=1
	done
	rm -f "$tar"
	((!failed)) || die "loading $* into a node failed"
	log "loaded $* into ${only:+node$only of }$(lab_nodes | wc -l) nodes"
}

case "${1:-}" in
up) up "${2:-}" ;;
down)
	cleanup
	log "down: nothing of the lab is left"
	;;
status) status ;;
env) print_env ;;
load)
	shift
	load "$@"
	;;
kill)
	k="$(node_number "${2:-}")"
	kill_node "$k"
	log "node$k killed"
	;;
start)
	k="$(node_number "${2:-}")"
	kill_node "$k" # whatever is left of it
	DRIVER="$(storage_driver)"
	start_node "$k"
	wait_for "node$k's engine ($STATE/node$k.log)" ndocker "$k" version
	# It rejoins the swarm by itself; the manager says when.
	if ((k == 1)) || ndocker 1 version >/dev/null 2>&1; then
		wait_for "node$k Ready" node_ready "$k"
		log "node$k started and Ready"
	else
		log "node$k started; it rejoins the swarm when the manager (node1) is back"
	fi
	;;
*) die "usage: swarm-lab.sh up N | down | status | env | load [--node NODE] IMAGE... | kill NODE | start NODE" ;;
esac
