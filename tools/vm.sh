#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots a kernel build tree in virtme-ng, with the nitro-rs modules loaded.
# Runs inside the dev root (the guest's root file system is the dev root, the
# checkout is visible at the same path).
#
#   tools/vm.sh KDIR shell         interactive shell
#   tools/vm.sh KDIR run 'CMD'     run CMD, exit with its status
#   tools/vm.sh KDIR check         run selftests/run.sh; fail unless it ends
#                                  with "N passed, 0 failed"
#
#   NITRO_KMEMLEAK=1 boots with kmemleak tracking on (off by default).
#
# KVM is used only where a probe boot proves it works (cached per machine and
# kernel); otherwise TCG with `-cpu max` (AES-NI, AVX2 in the guest).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${NITRO_CACHE:-/var/cache/nitro-rs}
kdir=${1:?usage: $0 KDIR shell|run CMD|check}
mode=${2:-shell}
timeout_s=${NITRO_VM_TIMEOUT:-4800}

log() { printf 'vm: %s\n' "$*" >&2; }

# The guest's root (the dev root, with the checkout) is read-only 9p; /tmp
# is a writable overlay: the scratch space of tests and of `make vm`.
# The kernel tree, read-only at /tmp/nitro-kernel: its modules (dm-crypt,
# brd, null_blk, for the tests and benchmarks) are loaded from there by
# kmod in selftests/lib.sh (virtme-ng's own /lib/modules link points to the
# host path, which the guest hides under a tmpfs).
base_opts=(--run "$kdir" --user root --cpus 2 --memory 2G --rodir="/tmp/nitro-kernel=$kdir")
# 4-level paging: with 5-level (LA57, which `-cpu max` offers) an interrupt
# taken while identify_cpu() has cleared the CPU's feature bits makes KASAN
# compute its shadow for 47-bit addresses and report a "wild-memory-access"
# on the irq_desc lock (pgtable_l5_enabled() is cpu_feature_enabled(LA57)):
# a false report, about 1 boot in 40, that taints the kernel and turns
# lockdep off before any module of ours loads. no5lvl closes that window.
base_opts+=(--append no5lvl)
# The debug kernel has kmemleak built in (the fault and leak suites need it),
# but its tracking of every allocation triples boot and test time under TCG
# (boot 81 s against 29 s measured side by side): it is off unless asked for.
if [ -z "${NITRO_KMEMLEAK:-}" ]; then
	base_opts+=(--append kmemleak=off)
fi
mkdir -p "$top/build"

# Decide between KVM and TCG once per kernel build and machine: KVM only if
# a probe boot finishes (on some machines /dev/kvm opens but guests hang).
probe="$cache/kvm-probe-$(basename "$kdir")-$(hostname)"
if [ ! -e "$probe" ]; then
	if [ -c /dev/kvm ] && [ -z "${NITRO_NO_KVM:-}" ] &&
		timeout 120 vng "${base_opts[@]}" --exec true </dev/null >/dev/null 2>&1; then
		echo kvm >"$probe"
	else
		echo tcg >"$probe"
	fi
fi
if [ "$(cat "$probe")" = kvm ]; then
	log "using KVM (a probe boot worked)"
	opts=("${base_opts[@]}" --qemu-opts="-cpu host")
else
	log "using TCG with -cpu max (no KVM, or a probe boot with it failed)"
	opts=("${base_opts[@]}" --disable-kvm --qemu-opts="-cpu max")
fi
guest="$top/tools/guest.sh"

case "$mode" in
shell)
	exec vng "${opts[@]}" --exec "$guest shell"
	;;
run)
	cmd=${3:?usage: $0 KDIR run CMD}
	timeout "$timeout_s" vng "${opts[@]}" --exec "$guest run $(printf '%q' "$cmd")" </dev/null
	exit $?
	;;
check)
	logf="$top/build/check.log"
	start=$(date +%s)
	# A kernel that logged a report while booting, before any module of ours
	# loaded, says so (tools/guest.sh: "guest: boot not clean") and runs
	# nothing: that boot is the kernel's failure, not a test of ours, and its
	# taint has turned lockdep off. Boot once more; a second one fails.
	for boot in 1 2; do
		# A pipe, not a file redirect: qemu reopens the guest's stdout and
		# stderr and two offsets into one file overwrite each other.
		timeout "$timeout_s" vng "${opts[@]}" --exec "$guest check" </dev/null 2>&1 | tee "$logf"
		rc=${PIPESTATUS[0]}
		grep -q '^guest: boot not clean' "$logf" || break
		if [ "$boot" = 1 ]; then
			cp "$logf" "$top/build/check-boot1.log"
			log "the kernel was not clean after boot (report above, kept in build/check-boot1.log): booting again"
		fi
	done
	log "VM run took $(( $(date +%s) - start )) s (exit $rc)"
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logf" | tail -1)
	if [ -z "$summary" ]; then
		log "no summary line: the guest did not finish (crash, hang or timeout)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	case "$summary" in
	*" 0 failed"*) [ "$rc" = 0 ] || { log "guest exit $rc despite '$summary'"; exit 1; } ;;
	*) exit 1 ;;
	esac
	;;
*)
	log "unknown mode $mode"
	exit 2
	;;
esac
