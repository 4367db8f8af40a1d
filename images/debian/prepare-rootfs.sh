#!/usr/bin/env bash
# Trims a freshly debootstrapped root filesystem before it is archived and
# imported as swdeploy-offline/debian:bookworm.
# Usage: prepare-rootfs.sh ROOTFS
set -euo pipefail

rootfs="${1:?usage: prepare-rootfs.sh ROOTFS}"
if [[ ! -x "$rootfs/usr/bin/dpkg" ]]; then
	echo "prepare-rootfs: $rootfs does not look like a Debian root filesystem" >&2
	exit 1
fi

# The mariadb-server package initialises /var/lib/mysql in its postinst (root
# via unix_socket only). The stand-in's entrypoint must see an empty data
# directory on first start, as the official image does.
find "$rootfs/var/lib/mysql" -mindepth 1 -delete 2>/dev/null || true

# Package caches and indexes: the images never run apt-get, and a container
# that wants to can run `apt-get update` itself.
find "$rootfs/var/cache/apt" -type f -delete
find "$rootfs/var/lib/apt/lists" -type f -delete

# Documentation and message translations are a sixth of this install and
# nothing reads them here (MariaDB's own messages are in /usr/share/mysql).
# Keep the directories so that later package installs do not trip over them.
for dir in usr/share/doc usr/share/man usr/share/info usr/share/locale; do
	find "$rootfs/$dir" -mindepth 1 \( -type f -o -type l \) ! -name locale.alias -delete 2>/dev/null || true
done

# Logs written while the packages were configured belong to the build, not the image.
find "$rootfs/var/log" -type f -delete

# The host's resolver and hostname must not leak into the image; Docker
# mounts its own /etc/resolv.conf, /etc/hostname and /etc/hosts.
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"
