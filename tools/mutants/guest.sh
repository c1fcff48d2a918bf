#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make mutants, inside the VM (tools/mutants/run.sh starts it): for each
# line "NAME KO-DIR NITROCTL TESTS" of PLAN (tab-separated; the host adds
# them as it builds, then a line "end"), from mutant FROM on if given: unloads everything, loads the mutant's modules
# (selftests/lib.sh's ko_path honours NITRO_KO_DIR), runs its tests in order
# and stops at the first failed result (the test is stopped there: its EXIT
# trap cleans up, and whatever it left running is killed), and prints one
# line
#   mutant-result<TAB>NAME<TAB>caught by TEST (its first failed result)
# or SURVIVED if every test passed and the kernel log since the mutant
# loaded is clean. Exits 3 after "mutant-restart<TAB>NAME" if the modules of
# the mutant before cannot be unloaded (the VM must start again).
#
#   tools/mutants/guest.sh PLAN [FROM]
source "$(dirname "$0")/../../selftests/lib.sh"
plan=${1:?usage: $0 PLAN [FROM]}
from=${2:-}
tree_nitroctl=$NITROCTL

# Back to a freshly booted machine, as far as the tests can tell: no module
# of ours, and nothing a test may leave behind that a later one would trip
# on (a mount, dm devices, namespaces, a card key in the firmware path).
reset() {
	local i
	umount /tmp/mnt 2>/dev/null
	cryptsetup close nitro_x 2>/dev/null
	cryptsetup close nitro_s 2>/dev/null
	for i in 1 2 3 4 5; do
		if loaded nitro_testcard; then rmmod nitro_testcard 2>/dev/null; fi
		unload_all 2>/dev/null && ! loaded nitro_testcard && break
		sleep 1
	done
	loaded nitro_ctrl && return 1
	ip -all netns delete 2>/dev/null
	rm -rf /tmp/nitro-fw
	return 0
}

# try TEST: runs it (in its own session) as run_test would, but stops it
# at its first failed result. Sets failed_result to that line, or to a note
# if it crashed, hung or ran short of its plan; empty if it passed.
try() {
	local out=/tmp/mutant-test.out pid line plan n rc
	failed_result=
	(cd "$top/selftests" && exec setsid timeout 2400 "./$1") </dev/null >"$out" 2>&1 &
	pid=$!
	while IFS= read -r line; do
		echo "    $line"
		case "$line" in
		"not ok "[0-9]*)
			failed_result=$line
			kill -TERM -- -"$pid" 2>/dev/null
			break
			;;
		esac
	done < <(tail --pid="$pid" -n +1 -f "$out")
	wait "$pid"
	rc=$?
	# Whatever it started and left running (the session is its own).
	kill -KILL -- -"$pid" 2>/dev/null
	[ -n "$failed_result" ] && return
	plan=$(grep -Eo '^1\.\.[0-9]+' "$out" | head -1 | cut -c4-)
	n=$(grep -Ec '^(not )?ok [0-9]+' "$out")
	if [ "$rc" != 0 ] || [ -z "$plan" ] || [ "$plan" != "$n" ]; then
		failed_result="exit $rc, plan ${plan:-none}, ran $n"
	fi
}

# The plan grows while the host builds: take complete lines only, until
# the line "end".
lineno=0
while :; do
	if [ "$(wc -l <"$plan")" -le "$lineno" ]; then
		sleep 2
		continue
	fi
	lineno=$((lineno + 1))
	entry=$(sed -n "${lineno}p" "$plan")
	[ "$entry" = end ] && break
	IFS=$'\t' read -r name ko ctl tests <<<"$entry"
	if [ -n "$from" ]; then
		[ "$name" = "$from" ] || continue
		from=
	fi
	printf 'mutant-start\t%s\n' "$name"
	if ! reset; then
		printf 'mutant-restart\t%s\n' "$name"
		exit 3
	fi
	mark=$(kmsg mark)
	export NITRO_KO_DIR=$ko NITROCTL=$ctl
	verdict=
	if ! out=$(load_all 2>&1); then
		verdict="caught: its modules do not load ($(head -1 <<<"$out"))"
	fi
	for t in $tests; do
		[ -n "$verdict" ] && break
		echo "# mutant $name: $t"
		try "$t"
		[ -n "$failed_result" ] && verdict="caught by $t ($failed_result)"
	done
	if [ -z "$verdict" ]; then
		bad=$(kmsg since "$mark" | grep -Em1 "$KLOG_BAD")
		[ -n "$bad" ] && verdict="caught by the kernel log ($bad)"
	fi
	printf 'mutant-result\t%s\t%s\n' "$name" "${verdict:-SURVIVED}"
	export NITRO_KO_DIR= NITROCTL=$tree_nitroctl
done
reset
