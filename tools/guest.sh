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
	exec "$top/selftests/run.sh"
	;;
*)
	echo "usage: $0 shell|run CMD|check" >&2
	exit 2
	;;
esac
