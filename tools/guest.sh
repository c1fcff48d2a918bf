#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the virtme-ng guest (tools/vm.sh starts it): starts the kernel
# log capture, loads the nitro-rs modules, then gives a shell, runs one
# command, or runs the selftests.
source "$(dirname "$0")/../selftests/lib.sh"
cd "$top" || exit 1
# First, before the modules load: every kernel log record from boot into
# $NITRO_KMSG, for the tests (mark_log, new_log) and run.sh's log check.
kmsg_capture

case "${1:-}" in
shell)
	load_all || echo "guest: loading the modules failed (see dmesg)" >&2
	"$NITROCTL" status || true
	exec bash -i
	;;
run)
	load_all || { echo "guest: loading the modules failed" >&2; dmesg | tail -20 >&2; exit 1; }
	exec bash -c "$2"
	;;
check)
	# The kernel must come up clean before any code of ours runs. A report
	# it logged while booting (CI saw one before tools/vm.sh passed no5lvl:
	# KASAN in an interrupt taken during identify_cpu) is not ours; its taint
	# turns lockdep off for the whole run: say so and run nothing, and
	# tools/vm.sh boots again.
	boot_log=$(klog)
	if grep -Eq "$KLOG_BAD" <<<"$boot_log"; then
		echo "guest: boot not clean: the kernel logged this before any module of ours loaded:"
		grep -E -B 10 -A 80 "$KLOG_BAD" <<<"$boot_log" | head -n 300 | sed 's/^/# /'
		echo "0 passed, 1 failed"
		exit 1
	fi
	exec "$top/selftests/run.sh"
	;;
*)
	echo "usage: $0 shell|run CMD|check" >&2
	exit 2
	;;
esac
