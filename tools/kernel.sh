#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The nitro-rs dev kernel: linux-source-7.3 from the dev root, configured as
# `tinyconfig` + selftests/config + selftests/config.<flavour>, built with
# LLVM=-19. Run inside the dev root (tools/devroot.sh run tools/kernel.sh ...).
#
#   tools/kernel.sh path [debug|bench]    build if needed, print the build dir
#   tools/kernel.sh config [debug|bench]  configure only, print the build dir
#
# The build dir lives in the cache ($NITRO_CACHE), keyed on the source
# version, the fragments and a format number in this script: a change to
# any of them gives a new build dir (seeded from the previous one of the same
# source, so only what changed is rebuilt), an unchanged key reuses the
# finished build. An interrupted build resumes incrementally in the same dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${NITRO_CACHE:-/var/cache/nitro-rs}
llvm=${LLVM:--19}

log() { printf 'kernel: %s\n' "$*" >&2; }

cmd=${1:-path}
flavour=${2:-debug}
case "$flavour" in debug|bench) ;; *) log "unknown flavour $flavour"; exit 2 ;; esac

version=$(dpkg-query -W -f='${Version}' linux-source-7.3)
src=$cache/src-$version
frags=("$top/selftests/config" "$top/selftests/config.$flavour")
# Bump when the way the kernel is configured or built changes.
format=1
key=$( { echo "format $format $version $llvm"; cat "${frags[@]}"; } | sha256sum | cut -c1-16)
out=$cache/kernel-$flavour-$key

extract() {
	[ -e "$src/.nitro-complete" ] && return 0
	log "extracting linux-source-7.3 $version"
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	tar -C "$src.tmp" --strip-components=1 -xf /usr/src/linux-source-7.3.tar.xz
	touch "$src.tmp/.nitro-complete"
	rm -rf "$src"
	mv "$src.tmp" "$src"
}

kmake() { make -C "$src" O="$out" LLVM="$llvm" "$@"; }

# A new key (a changed fragment) starts from the last finished build of the
# same flavour when there is one: kbuild then recompiles only what the
# changed options touch (a 2-option change: under 4 min instead of ~15).
seed() {
	[ -e "$out" ] && return 0
	local prev
	prev=$(find "$cache" -maxdepth 1 -name "kernel-$flavour-*" ! -name "kernel-$flavour-$key" \
		-exec test -e {}/.nitro-complete \; -print | head -n 1)
	[ -n "$prev" ] || return 0
	# Only from the same kernel source: a new version builds from nothing.
	[ "$(readlink "$prev/source")" = "$src" ] || return 0
	log "seeding $out from $prev"
	rm -rf "$out.tmp"
	cp -a "$prev" "$out.tmp"
	rm -f "$out.tmp/.nitro-complete" "$out.tmp/.nitro-configured"
	mv "$out.tmp" "$out"
}

configure() {
	[ -e "$out/.config" ] && [ -e "$out/.nitro-configured" ] && return 0
	seed
	mkdir -p "$out"
	kmake -s tinyconfig >&2
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >&2
	kmake -s olddefconfig >&2
	# Every option we asked for must have survived olddefconfig: a silently
	# dropped dependency would otherwise surface as a baffling test failure.
	local bad=0 line opt want got
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		opt=${line%%=*}
		want=${line#*=}
		got=$(grep -E "^$opt=|^# $opt is not set" "$out/.config" || true)
		if [ "$want" = n ]; then
			case "$got" in "$opt="[ym]*) log "$opt: wanted n, got ${got#*=}"; bad=1 ;; esac
		elif [ "$got" != "$opt=$want" ]; then
			log "$opt: wanted $want, got '${got:-<absent>}'"
			bad=1
		fi
	done < <(cat "${frags[@]}")
	[ $bad = 0 ] || { log "config fragment not applied; fix selftests/config*"; exit 1; }
	touch "$out/.nitro-configured"
}

build() {
	[ -e "$out/.nitro-complete" ] && return 0
	local start
	start=$(date +%s)
	log "building $flavour kernel in $out (about 15-25 min on 2 cores)"
	kmake -j"$(nproc)" bzImage modules >&2
	touch "$out/.nitro-complete"
	log "built in $(( $(date +%s) - start )) s"
	# Keep one build per flavour.
	find "$cache" -maxdepth 1 -name "kernel-$flavour-*" ! -name "kernel-$flavour-$key" \
		-exec rm -rf {} + 2>/dev/null || true
}

extract
case "$cmd" in
config) configure ;;
path) configure; build ;;
*) log "usage: $0 path|config [debug|bench]"; exit 2 ;;
esac
echo "$out"
