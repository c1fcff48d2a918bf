#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every selftest in tests.list (in the VM, as root), as KTAP: each test
# is a subtest whose own results are indented. Then checks the kernel log,
# every record of it from boot (kept by a capture of /dev/kmsg started
# before anything else: the ring may wrap during a run), twice: that no
# record was lost, and that there is no oops, KASAN report, lockdep splat or
# warning. Ends with one line "N passed, N failed" counting every individual
# result. NITRO_TESTS="a b" runs those tests (paths from selftests/) instead.
source "$(dirname "$0")/lib.sh"
kmsg_capture
cd "$top/selftests" || exit 1

if [ -n "${NITRO_TESTS:-}" ]; then
	read -ra tests <<<"$NITRO_TESTS"
else
	mapfile -t tests < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' tests.list)
fi
passed=0 failed=0 skipped=0

echo "KTAP version 1"
echo "1..$(( ${#tests[@]} + 3 ))"
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
	t0=$SECONDS
	run_test "$t"
	echo "# $t took $((SECONDS - t0)) s"
	passed=$((passed + test_passed)) skipped=$((skipped + test_skipped))
	failed=$((failed + test_failed))
	# A test that crashed, hung, or ran fewer results than it planned fails
	# as a whole, once, on top of its own results.
	if [ -n "$test_broken" ]; then
		failed=$((failed + 1))
		echo "not ok $n $t"
	elif [ "$test_failed" != 0 ]; then
		echo "not ok $n $t"
	else
		echo "ok $n $t"
	fi
done

# Last: the kernel log from boot must be whole...
n=$((n + 1))
if out=$(kmsg lost); then
	echo "ok $n kernel log complete (every record from boot captured)"
	passed=$((passed + 1))
else
	echo "$out" | sed 's/^/# /'
	echo "not ok $n kernel log lost records (the capture fell behind the ring)"
	failed=$((failed + 1))
fi
# ... and clean.
n=$((n + 1))
# An instance OOM-killed in its own cgroup is no kernel failure: its report
# is left out (memcg_oom_filter keeps any other bad line inside it).
log=$(klog | memcg_oom_filter)
if ! grep -Eq "$KLOG_BAD" <<<"$log"; then
	echo "ok $n kernel log clean (no oops, KASAN, lockdep or warning)"
	passed=$((passed + 1))
else
	echo "# kernel log, what matched and the lines after it:"
	grep -E -A 40 "$KLOG_BAD" <<<"$log" | head -n 1000 | sed 's/^/# /'
	echo "not ok $n kernel log clean"
	failed=$((failed + 1))
fi
[ -n "${kmsg_capture_pid:-}" ] && kill "$kmsg_capture_pid" 2>/dev/null

if [ "$skipped" != 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
