#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every selftest in tests.list (in the VM, as root), as KTAP: each test
# is a subtest whose own results are indented. Then checks the kernel log for
# oopses, KASAN reports, lockdep splats and warnings since the start. Ends
# with one line "N passed, N failed" counting every individual result.
source "$(dirname "$0")/lib.sh"
cd "$top/selftests" || exit 1

mapfile -t tests < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' tests.list)
log_start=$(dmesg | wc -l)
passed=0 failed=0 skipped=0

echo "KTAP version 1"
echo "1..$(( ${#tests[@]} + 2 ))"
n=0

# 1: load the modules (every test expects them loaded and leaves them so).
n=$((n + 1))
if out=$(load_all 2>&1); then
	echo "ok $n load modules"; passed=$((passed + 1))
else
	echo "$out" | sed 's/^/# /'
	echo "not ok $n load modules"; failed=$((failed + 1))
fi

for t in "${tests[@]}"; do
	n=$((n + 1))
	out=$(timeout 2400 "./$t" 2>&1); rc=$?
	echo "$out" | sed 's/^/    /'
	p=$(grep -Ec '^ok [0-9]+' <<<"$out")
	s=$(grep -Ec '^ok [0-9]+.*# SKIP' <<<"$out")
	f=$(grep -Ec '^not ok [0-9]+' <<<"$out")
	plan=$(grep -Eo '^1\.\.[0-9]+' <<<"$out" | head -1 | cut -c4-)
	p=$((p - s))
	passed=$((passed + p)) skipped=$((skipped + s)) failed=$((failed + f))
	# A test that crashed, hung, or ran fewer results than it planned fails
	# as a whole, once, on top of its own results.
	if [ "$rc" != 0 ] && [ "$f" = 0 ] || [ -z "$plan" ] || [ "$plan" != $((p + s + f)) ]; then
		echo "# $t: exit $rc, plan ${plan:-none}, ran $((p + s + f))"
		failed=$((failed + 1))
		echo "not ok $n $t"
	elif [ "$f" != 0 ]; then
		echo "not ok $n $t"
	else
		echo "ok $n $t"
	fi
done

# Last: the kernel log since the start must be clean.
n=$((n + 1))
bad=$(dmesg | tail -n +"$((log_start + 1))" | grep -E \
	'BUG:|WARNING:|Oops|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|Call Trace:|general protection fault|kernel panic|rust_panic|panicked at' || true)
if [ -z "$bad" ]; then
	echo "ok $n kernel log clean (no oops, KASAN, lockdep or warning)"
	passed=$((passed + 1))
else
	echo "# kernel log:"
	dmesg | tail -n +"$((log_start + 1))" | sed 's/^/# /'
	echo "not ok $n kernel log clean"
	failed=$((failed + 1))
fi

if [ "$skipped" != 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
