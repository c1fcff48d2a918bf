#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lockdep: the controller calls no card with one of its locks held. The
# test card takes a lock of its own in every callback, and took it once,
# when it loaded, around nitro_ctrl::lockdep_probe() (every controller
# lock); so a controller lock held across a callback makes lockdep report a
# circular dependency. This test reaches every callback the test card has
# (objects, request, metrics, totals, host_info) and reads the kernel log.
source "$(dirname "$0")/../lib.sh"

ktap_header 3
N=$NITROCTL
testcard=$top/selftests/nitro_testcard/nitro-testcard.ko
lockdep_log() { new_log | grep -E 'possible circular locking|possible recursive locking|inconsistent lock state|lock held when returning|suspicious RCU usage'; }

mark_log
loaded nitro_testcard && rmmod nitro_testcard
# Only the test card: the real cards would take the requests.
unload_all && load nitro_ctrl && load nitro_sec && insmod "$testcard" && open_gate
ok '[ -r /proc/lockdep_stats ] && grep -q "nitro_testcard::probe" /proc/lockdep 2>/dev/null' \
	"lockdep runs and knows the test card's probe lock"

v=$($N volume create --kind ebs --size 1G --name lockdep | awk '{print $1}')
e=$($N eni create --vpc 9 --ip 10.9.0.1 | awk '{print $1}')
$N volume attach "$v" sdf >/dev/null && $N eni attach "$e" >/dev/null
$N status >/dev/null                      # objects
$N metrics >/dev/null                     # metrics (each object), totals (each card)
$N host show 1 >/dev/null 2>&1            # host_info (no hosts on the test card)
$N volume detach "$v" >/dev/null && $N volume delete "$v" >/dev/null
$N eni detach "$e" >/dev/null && $N eni delete "$e" >/dev/null
ok '$N audit --json | python3 -c "import json,sys; ops={a[\"op\"] for a in json.load(sys.stdin)}; sys.exit(0 if {\"volume-create\",\"volume-attach\",\"volume-detach\",\"volume-delete\",\"eni-create\",\"eni-attach\",\"eni-detach\",\"eni-delete\"} <= ops else 1)"' \
	"every request kind reached the test card (create, attach, detach, delete of volumes and ENIs)"
out=$(lockdep_log)
ok '[ -z "$out" ]' "no lockdep report after every callback ran${out:+: $out}"
[ -n "$out" ] && new_log | sed 's/^/# /'

rmmod nitro_testcard
load_all && open_gate
ktap_done
