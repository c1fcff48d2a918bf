#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The nitro-rs dev root: a Debian trixie (+ trixie-backports) tree with the
# Rust-for-Linux toolchain, the kernel 7.3 source, qemu, virtme-ng and the
# test tools. It is made once with mmdebstrap and cached outside the checkout,
# keyed on tools/devroot.packages and this script, so a second run (or a
# second CI run on the same machine) reuses it.
#
#   tools/devroot.sh path          make the root if needed, print its path
#   tools/devroot.sh run CMD...    run CMD inside the root, in the checkout
#
# Commands run in a private mount namespace (unshare -m): /proc, /sys, /dev,
# the checkout (at the same path; a checkout below /tmp at /srv/nitro-rs,
# since the root's /tmp is its own) and the cache are bound into the root
# there, and every one of
# those mounts disappears with the namespace when CMD exits, also on failure
# or on a signal. Nothing is left mounted on the host.
#
# Environment: NITRO_CACHE (default /var/cache/nitro-rs) holds the cache.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${NITRO_CACHE:-/var/cache/nitro-rs}
pkgfile=$here/devroot.packages
mirror=${NITRO_MIRROR:-http://deb.debian.org/debian}

# Where a checkout below /tmp appears inside the root (see run_in_root).
alias=/srv/nitro-rs

log() { printf 'devroot: %s\n' "$*" >&2; }

packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$pkgfile" | tr -d ' ' ; }

# Bump when the way the root is made changes (mmdebstrap options, hooks):
# it is part of the cache key with the package list.
format=1

key() { { echo "format $format"; cat "$pkgfile"; } | sha256sum | cut -c1-16; }

root_path() { echo "$cache/root-$(key)"; }

make_root() {
	local root tmp start
	root=$(root_path)
	[ -e "$root/.nitro-complete" ] && return 0
	mkdir -p "$cache"
	if ! command -v mmdebstrap >/dev/null; then
		log "installing mmdebstrap on the host"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
	fi
	tmp=$root.tmp.$$
	rm -rf "$tmp"
	start=$(date +%s)
	log "creating $root (this takes a few minutes)"
	# The root keeps its apt lists (no cleanup hook) so that a developer can
	# apt-get install more inside it.
	mmdebstrap --variant=apt --components=main \
		--include="$(packages | paste -sd, -)" \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--aptopt='APT::Install-Recommends "false"' \
		--skip=cleanup/apt/lists \
		trixie "$tmp" \
		"deb $mirror trixie main" \
		"deb $mirror trixie-backports main" >&2
	touch "$tmp/.nitro-complete"
	mv "$tmp" "$root"
	# Drop older roots, but never one that a command is running in: each
	# `run` holds a shared lock on its root's lock file.
	local old
	for old in "$cache"/root-*; do
		case "$old" in "$root"|"$root".lock|*.lock|*.tmp.*) continue ;; esac
		flock -n -x "$old.lock" rm -rf "$old" "$old.lock" || true
	done
	log "created in $(( $(date +%s) - start )) s"
}

# run_in_root CMD...: the private-namespace part, called through unshare.
run_in_root() {
	local root=$1; shift
	local cwd=$1; shift
	mount --make-rprivate /
	for d in proc sys dev; do
		mount --rbind "/$d" "$root/$d"
	done
	# The checkout appears at the same path, except below /tmp: the root and
	# the test VM mount their own /tmp over it, so such a checkout (a CI
	# clone in a mktemp dir) appears at $alias instead, and the command runs
	# in the matching directory there.
	local inside=$top
	case "$top/" in /tmp/*) inside=$alias ;; esac
	case "$cwd/" in "$top"/*) cwd=$inside${cwd#"$top"} ;; esac
	mkdir -p "$root$inside" "$root$cache" "$root/run/shm"
	mount --bind "$top" "$root$inside"
	mount --bind "$cache" "$root$cache"
	mount -t tmpfs -o size=4g tmpfs "$root/tmp"
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	# The host's CA bundle: registries may be reached through a proxy whose
	# CA only the host trusts (cargo fetches crates inside the root).
	if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
		mkdir -p "$root/etc/ssl/certs"
		cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/nitro-host-ca.crt"
	fi
	exec chroot "$root" /usr/bin/env -i \
		HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		NITRO_CACHE="$cache" NITRO_IN_DEVROOT=1 CI="${CI:-}" \
		CARGO_HOME="$cache/cargo" \
		CARGO_HTTP_CAINFO=/etc/ssl/certs/nitro-host-ca.crt \
		SSL_CERT_FILE=/etc/ssl/certs/nitro-host-ca.crt \
		/bin/bash -c 'cd "$0" && exec "$@"' "$cwd" "$@"
}

case "${1:-}" in
path)
	make_root
	root_path
	;;
run)
	shift
	[ $# -gt 0 ] || { log "usage: $0 run CMD..."; exit 2; }
	make_root
	root=$(root_path)
	mkdir -p "$cache/cargo"
	exec flock -s "$root.lock" unshare --mount --propagation private \
		"$here/devroot.sh" __inner "$root" "$PWD" "$@"
	;;
__inner)
	shift
	run_in_root "$@"
	;;
*)
	echo "usage: $0 path | run CMD..." >&2
	exit 2
	;;
esac
