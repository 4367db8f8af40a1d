#!/usr/bin/env bash
# Builds the local stand-in images that replace registry images on machines
# that cannot pull (see DESIGN.md, "Test environment"):
#
#   swdeploy-offline/debian:bookworm  minbase root filesystem from debootstrap
#   swdeploy-offline/mysql:8.4        MariaDB behind a mysql-compatible entrypoint
#   swdeploy-offline/redis:7          Debian's redis-server
#   swdeploy-offline/golang:1.26      the host's Go toolchain plus a module
#                                     cache for this repository's go.mod
#
# Idempotent: every image carries a label with a digest of its inputs and is
# rebuilt only when that digest changes. Package sources are read from this
# machine at run time (apt sources under /etc/apt/, `go env GOPROXY`); no
# mirror or proxy name is written anywhere in the repository.
#
# Usage: images/build.sh [debian|mysql|redis|golang ...]   (default: all)
# Environment:
#   SWDEPLOY_OFFLINE_CACHE  cache directory (debootstrap tarball, .debs, module cache)
#   SWDEPLOY_DEBIAN_SUITE   Debian suite to bootstrap (default bookworm)
#   SWDEPLOY_DEBIAN_MIRROR  override the mirror found in the apt sources
#   SWDEPLOY_OFFLINE_FORCE  set to 1 to rebuild even when the digests match
#   SWDEPLOY_OFFLINE_PREFIX image name prefix (default swdeploy-offline), for
#                           trying changes without replacing the images in use
set -euo pipefail

IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$IMAGES_DIR/.." && pwd)"
readonly IMAGES_DIR REPO_DIR
readonly SUITE="${SWDEPLOY_DEBIAN_SUITE:-bookworm}"
readonly LABEL_INPUTS="io.swdeploy.offline.inputs"
readonly LABEL_GOMOD="io.swdeploy.offline.gomod"
readonly FORCE="${SWDEPLOY_OFFLINE_FORCE:-0}"

readonly PREFIX="${SWDEPLOY_OFFLINE_PREFIX:-swdeploy-offline}"
readonly BASE_IMAGE="$PREFIX/debian:$SUITE"
readonly MYSQL_IMAGE="$PREFIX/mysql:8.4"
readonly REDIS_IMAGE="$PREFIX/redis:7"
readonly GOLANG_IMAGE="$PREFIX/golang:1.26"

if [[ -n "${SWDEPLOY_OFFLINE_CACHE:-}" ]]; then
	CACHE_DIR="$SWDEPLOY_OFFLINE_CACHE"
elif [[ "$(id -u)" == 0 ]]; then
	CACHE_DIR=/var/cache/swdeploy-offline
else
	CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/swdeploy-offline"
fi
readonly CACHE_DIR

log() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'images/build.sh: %s\n' "$*" >&2; exit 1; }

# sha256 of a directory's file names, modes and contents, so that editing,
# adding, renaming or chmod-ing any file under it changes the digest.
dir_digest() {
	local dir="$1"
	(
		cd "$dir"
		find . -type f -printf '%m %p\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	) | sha256sum | cut -d' ' -f1
}

str_digest() { printf '%s' "$*" | sha256sum | cut -d' ' -f1; }

image_label() {
	docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

image_id() {
	docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true
}

# up_to_date IMAGE DIGEST: true when IMAGE exists with the given input digest.
up_to_date() {
	[[ "$FORCE" != 1 && "$(image_label "$1" "$LABEL_INPUTS")" == "$2" ]]
}

# After a rebuild the old image loses its tag; remove it unless a container
# still uses it, so repeated rebuilds do not fill the disk.
drop_old_image() {
	local old="$1" name="$2"
	if [[ -n "$old" && "$old" != "$(image_id "$name")" ]]; then
		if docker image rm "$old" >/dev/null 2>&1; then
			note "removed previous image ${old:7:12}"
		fi
	fi
}

# ---------------------------------------------------------------------------
# Debian mirror discovery
# ---------------------------------------------------------------------------

# Prints "URI KEYRING" for the first enabled `deb` source of SUITE with the
# main component, from deb822 *.sources files and one-line *.list files.
# KEYRING is the source's Signed-By file, or "-" when it names none.
find_debian_mirror() {
	local suite="$1" files=()
	[[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
	local f
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f "$f" ]] && files+=("$f")
	done
	((${#files[@]})) || return 1
	local file out
	out="$(for file in "${files[@]}"; do
		if [[ "$file" == *.sources ]]; then
			# deb822: stanzas separated by blank lines; fields may be
			# continued on lines starting with whitespace (ignored here,
			# apart from comments).
			awk -v want="$suite" '
				function flush() {
					if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" &&
					    (" " suites " ") ~ (" " want " ") &&
					    (" " comps " ") ~ / main /) {
						n = split(uris, u, " ")
						for (i = 1; i <= n; i++)
							if (u[i] ~ /^(https?|file):/) { print u[i], (signed == "" ? "-" : signed); found = 1; exit }
					}
					types = uris = suites = comps = signed = enabled = ""
				}
				/^[ \t]*#/ { next }
				/^[ \t]*$/ { flush(); next }
				/^[A-Za-z-]+:/ {
					key = tolower($1); sub(/:$/, "", key)
					val = $0; sub(/^[^:]*:[ \t]*/, "", val)
					if (key == "types") types = val
					else if (key == "uris") uris = val
					else if (key == "suites") suites = val
					else if (key == "components") comps = val
					else if (key == "signed-by") signed = val
					else if (key == "enabled") enabled = tolower(val)
				}
				END { if (!found) flush() }
			' "$file"
		else
			# One-line format: deb [options] URI SUITE COMPONENT...
			awk -v want="$suite" '
				/^[ \t]*deb[ \t]/ {
					line = $0; signed = "-"
					if (match(line, /\[[^]]*\]/)) {
						opts = substr(line, RSTART + 1, RLENGTH - 2)
						line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH)
						if (match(opts, /signed-by=[^ \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
					}
					n = split(line, w, /[ \t]+/)
					# w[1] may be empty when the line starts with blanks
					i = (w[1] == "" ? 2 : 1)
					uri = w[i + 1]; s = w[i + 2]
					if (s != want || uri !~ /^(https?|file):/) next
					for (j = i + 3; j <= n; j++) if (w[j] == "main") { print uri, signed; exit }
				}
			' "$file"
		fi
	done)"
	[[ -n "$out" ]] || return 1
	printf '%s\n' "${out%%$'\n'*}"
}

# ---------------------------------------------------------------------------
# swdeploy-offline/debian
# ---------------------------------------------------------------------------

build_base() {
	local arch packages digest tarball
	arch="$(dpkg --print-architecture)"
	packages="$(grep -v '^[[:space:]]*\(#\|$\)' "$IMAGES_DIR/debian/packages" | LC_ALL=C sort | paste -sd, -)"
	# The mirror is not an input: any mirror serving the suite gives the same image.
	digest="$(str_digest "suite=$SUITE arch=$arch variant=minbase $(dir_digest "$IMAGES_DIR/debian")")"

	if up_to_date "$BASE_IMAGE" "$digest"; then
		log "$BASE_IMAGE: up to date (inputs ${digest:0:12})"
		return
	fi

	tarball="$CACHE_DIR/debian-$SUITE-$arch-${digest:0:16}.tar"
	if [[ -f "$tarball" ]]; then
		log "$BASE_IMAGE: importing cached root filesystem $tarball"
	else
		debootstrap_tarball "$arch" "$packages" "$tarball"
	fi

	local old
	old="$(image_id "$BASE_IMAGE")"
	docker import \
		--change "LABEL $LABEL_INPUTS=$digest" \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'CMD ["bash"]' \
		--message "debootstrap --variant=minbase $SUITE with $packages" \
		"$tarball" "$BASE_IMAGE" >/dev/null
	drop_old_image "$old" "$BASE_IMAGE"
	note "imported $BASE_IMAGE ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | numfmt --to=iec))"
}

debootstrap_tarball() {
	local arch="$1" packages="$2" tarball="$3" mirror keyring source
	[[ "$(id -u)" == 0 ]] || die "debootstrap needs root (or a cached tarball in $CACHE_DIR)"
	command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/ci-deps.sh installs it)"

	if [[ -n "${SWDEPLOY_DEBIAN_MIRROR:-}" ]]; then
		mirror="$SWDEPLOY_DEBIAN_MIRROR" keyring=-
	elif source="$(find_debian_mirror "$SUITE")"; then
		read -r mirror keyring <<<"$source"
	else
		die "no 'deb' source for suite $SUITE with component main under /etc/apt/; set SWDEPLOY_DEBIAN_MIRROR"
	fi
	# Verify the Release file with the source's own keyring, falling back to
	# Debian's archive keyring; never bootstrap unverified.
	if [[ "$keyring" == - || ! -f "$keyring" ]]; then
		keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
	[[ -f "$keyring" ]] || die "no keyring to verify $SUITE (install debian-archive-keyring)"

	local rootfs="$CACHE_DIR/rootfs.tmp"
	cleanup_rootfs "$rootfs"
	mkdir -p "$CACHE_DIR/debs"
	log "$BASE_IMAGE: debootstrap $SUITE ($arch, minbase + $packages) from the apt sources' mirror; takes a few minutes"
	local start=$SECONDS
	# --cache-dir keeps the downloaded .debs, so a change to the package list
	# only downloads what is new.
	if ! debootstrap --variant=minbase --arch="$arch" --components=main \
		--include="$packages" --keyring="$keyring" --cache-dir="$CACHE_DIR/debs" \
		"$SUITE" "$rootfs" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1; then
		tail -n 30 "$CACHE_DIR/debootstrap.log" >&2
		[[ -f "$rootfs/debootstrap/debootstrap.log" ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
		cleanup_rootfs "$rootfs"
		die "debootstrap failed (full log: $CACHE_DIR/debootstrap.log)"
	fi
	note "debootstrap done in $((SECONDS - start))s"
	unmount_under "$rootfs"
	"$IMAGES_DIR/debian/prepare-rootfs.sh" "$rootfs"

	# Docker provides /dev, /proc and /sys; device nodes in a layer only get in the way.
	rm -f "$CACHE_DIR"/debian-"$SUITE"-"$arch"-*.tar
	tar --numeric-owner -C "$rootfs" \
		--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	cleanup_rootfs "$rootfs"
	note "cached root filesystem $tarball ($(du -h "$tarball" | cut -f1))"
}

# debootstrap mounts proc and sys in the target; never rm -rf across a mount.
unmount_under() {
	local dir="$1" mnt
	[[ -d "$dir" ]] || return 0
	while read -r mnt; do
		umount -l "$mnt" 2>/dev/null || true
	done < <(awk -v d="$(realpath "$dir")" 'index($2, d "/") == 1 { print $2 }' /proc/self/mounts | LC_ALL=C sort -r)
}

cleanup_rootfs() {
	local dir="$1"
	[[ -e "$dir" ]] || return 0
	unmount_under "$dir"
	if awk -v d="$(realpath "$dir")" 'index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		die "$dir still has mounts under it; not removing it"
	fi
	rm -rf "$dir"
}

# ---------------------------------------------------------------------------
# Images built with `docker build` on top of the base
# ---------------------------------------------------------------------------

# docker_build NAME CONTEXT DIGEST [extra docker build args...]
docker_build() {
	local name="$1" context="$2" digest="$3" old
	shift 3
	old="$(image_id "$name")"
	# The classic builder's step output (and its deprecation notice) goes to a
	# log, shown only when the build fails.
	local buildlog="$CACHE_DIR/build-${name//[\/:]/-}.log"
	if ! docker build --label "$LABEL_INPUTS=$digest" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
		"$@" -t "$name" "$context" >"$buildlog" 2>&1; then
		tail -n 40 "$buildlog" >&2
		die "docker build of $name failed (full log: $buildlog)"
	fi
	drop_old_image "$old" "$name"
	note "built $name ($(docker image inspect -f '{{.Size}}' "$name" | numfmt --to=iec))"
}

build_simple() {
	local name="$1" dir="$2" digest
	digest="$(str_digest "base=$(image_id "$BASE_IMAGE") $(dir_digest "$dir")")"
	if up_to_date "$name" "$digest"; then
		log "$name: up to date (inputs ${digest:0:12})"
		return
	fi
	log "$name: building from ${dir#"$REPO_DIR/"}"
	docker_build "$name" "$dir" "$digest"
}

build_golang() {
	command -v go >/dev/null || die "go is not on PATH"
	local goroot goversion gomod_digest ca digest
	goroot="$(go env GOROOT)"
	goversion="$(go env GOVERSION)"
	ca=/etc/ssl/certs/ca-certificates.crt
	[[ -f "$ca" ]] || die "$ca is missing (install ca-certificates)"
	gomod_digest="$(cat "$REPO_DIR/go.mod" "$REPO_DIR/go.sum" | sha256sum | cut -d' ' -f1)"
	digest="$(str_digest "base=$(image_id "$BASE_IMAGE") go=$goversion goroot=$goroot gomod=$gomod_digest ca=$(sha256sum <"$ca") $(dir_digest "$IMAGES_DIR/golang")")"

	if up_to_date "$GOLANG_IMAGE" "$digest"; then
		log "$GOLANG_IMAGE: up to date (inputs ${digest:0:12}, go.mod+go.sum ${gomod_digest:0:12})"
		return
	fi
	local was
	was="$(image_label "$GOLANG_IMAGE" "$LABEL_GOMOD")"
	if [[ -n "$was" && "$was" != "$gomod_digest" ]]; then
		log "$GOLANG_IMAGE: go.mod/go.sum changed, rebuilding"
	else
		log "$GOLANG_IMAGE: building ($goversion from $goroot)"
	fi

	local modcache
	modcache="$(fill_module_cache "$gomod_digest")"

	# A throwaway context: the toolchain and module cache live outside the
	# repository. Hard links make staging instant when the cache dir and
	# GOROOT share a file system.
	local ctx="$CACHE_DIR/golang-context"
	rm -rf "$ctx"
	mkdir -p "$ctx"
	cp "$IMAGES_DIR/golang/Dockerfile" "$ctx/"
	cp "$ca" "$ctx/ca-certificates.crt"
	link_or_copy "$goroot" "$ctx/goroot"
	# Go's own test suite is never used to build anything.
	rm -rf "$ctx/goroot/test"
	link_or_copy "$modcache/cache/download" "$ctx/moddownload"
	# Only what the go command reads offline: .mod, .zip, .ziphash, .info and
	# version lists. Lock files and partial downloads are not needed.
	find "$ctx/moddownload" \( -name '*.lock' -o -name '*.tmp' -o -name '*.partial' \) -delete
	note "module cache: $(du -sh "$ctx/moddownload" | cut -f1) for go.mod ${gomod_digest:0:12}"

	docker_build "$GOLANG_IMAGE" "$ctx" "$digest" \
		--label "$LABEL_GOMOD=$gomod_digest" --build-arg "GOVERSION=$goversion"
	rm -rf "$ctx"
}

link_or_copy() {
	cp -al "$1" "$2" 2>/dev/null || { rm -rf "$2"; cp -a "$1" "$2"; }
}

# Downloads the modules that go.mod requires into a module cache of their
# own, so the image carries this repository's modules and nothing else from
# the host's cache. The host's cache is tried first as a file:// proxy, then
# the proxy that `go env GOPROXY` names. Prints the cache directory.
fill_module_cache() {
	local gomod_digest="$1" dir work proxy hostcache
	dir="$CACHE_DIR/gomodcache-${gomod_digest:0:16}"
	if [[ -f "$dir/.complete" ]]; then
		printf '%s\n' "$dir"
		return
	fi
	rm -rf "$CACHE_DIR"/gomodcache-*
	# go mod download may rewrite go.sum; work on a copy so the repository
	# (which others are editing) is never touched.
	work="$(mktemp -d)"
	cp "$REPO_DIR/go.mod" "$REPO_DIR/go.sum" "$work/"
	hostcache="$(go env GOMODCACHE)/cache/download"
	proxy="$(go env GOPROXY)"
	[[ -d "$hostcache" ]] && proxy="file://$hostcache,$proxy"
	note "go mod download (GOPROXY from go env, host module cache first)" >&2
	(
		cd "$work"
		GOMODCACHE="$dir" GOPROXY="$proxy" GOFLAGS="-mod=mod -modcacherw" GOTOOLCHAIN=local \
			go mod download
	) >&2 || { rm -rf "$work"; die "go mod download failed"; }
	rm -rf "$work"
	# Only cache/download goes into the image; the unpacked module trees
	# beside it would be most of the disk used.
	find "$dir" -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf '{}' +
	touch "$dir/.complete"
	printf '%s\n' "$dir"
}

# ---------------------------------------------------------------------------

main() {
	local targets=("$@")
	((${#targets[@]})) || targets=(debian mysql redis golang)
	command -v docker >/dev/null || die "docker CLI not found"
	docker info >/dev/null 2>&1 || die "the Docker engine does not answer (docker info)"
	mkdir -p "$CACHE_DIR"

	# Two runs at once would debootstrap into the same directory.
	exec 9>"$CACHE_DIR/.lock"
	flock 9

	local start=$SECONDS target
	# The derived images need the base even when only they are asked for.
	build_base
	for target in "${targets[@]}"; do
		case "$target" in
		debian) ;;
		mysql) build_simple "$MYSQL_IMAGE" "$IMAGES_DIR/mysql" ;;
		redis) build_simple "$REDIS_IMAGE" "$IMAGES_DIR/redis" ;;
		golang) build_golang ;;
		*) die "unknown image '$target' (want debian, mysql, redis or golang)" ;;
		esac
	done
	log "offline images ready in $((SECONDS - start))s"
}

main "$@"
