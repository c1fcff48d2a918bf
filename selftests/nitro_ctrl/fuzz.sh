#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz: runs the random-ioctl fuzzer (fuzz.c: every controller command and
# the NVMe passthrough, random sizes, bytes and pointers, as root and as
# uid 65534) twice: NITRO_FUZZ_CALLS (default 20000) calls with a fixed seed,
# the same every run, then NITRO_FUZZ_RANDOM (default 3000) with a seed from
# the clock, printed ("# seed N (replay: ...)"). It gets a disk to fuzz (an
# instance-storage volume, /dev/nitroNn1 and /dev/nitroN), a network
# namespace with an underlay address and a backing file, so that random
# creates can succeed (fuzz.c says which calls it leaves out so that the
# gate stays open and the suite goes on). The fuzzer deletes what it made;
# then what nitroctl lists (volumes, ENIs, live instances), the hosts and
# security groups (fuzz -l), the nitro disks and the boot gate must be as
# they were before
# (anything new is deleted, and reported), and the modules must unload and
# load again (nothing the fuzzer did holds a reference). selftests/run.sh
# checks the kernel log after. Each part says how long it took: under TCG
# every nitroctl run costs about a second and a half, the fuzz itself about
# 1,500 calls a second.
source "$(dirname "$0")/../lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
N=$NITROCTL
calls=${NITRO_FUZZ_CALLS:-20000}
random_calls=${NITRO_FUZZ_RANDOM:-3000}
fuzz_plan=8	# results of one fuzz run (fuzz.c's ksft_set_plan)
ns=nitrofz
addr=192.0.2.81
backing=/tmp/nitro-fuzz-backing.img

ktap_header $((2 * fuzz_plan + 7))

# run_fuzz ARGS: runs fuzz, its results renumbered into this test's; a run
# that ended early gets its missing results as failures.
run_fuzz() {
	local out rc line got=0
	out=$(cd "$here" && timeout 2300 ./fuzz "$@" 2>&1)
	rc=$?
	while IFS= read -r line; do
		case "$line" in
		"TAP version"* | 1..*) ;;
		"ok "* | "not ok "*)
			ktap_n=$((ktap_n + 1)) got=$((got + 1))
			[[ $line == "not ok "* ]] && ktap_fail=$((ktap_fail + 1))
			sed -E "s/^(not )?ok [0-9]+/\1ok $ktap_n/" <<<"$line"
			;;
		*) echo "$line" ;;
		esac
	done <<<"$out"
	while [ "$got" -lt "$fuzz_plan" ]; do
		got=$((got + 1))
		ok false "fuzz $*: result $got missing (exit $rc)"
	done
}

# What the control plane holds, one object a line, sorted: volumes, ENIs,
# live instances (terminated ones stay listed a while: instances.rst), hosts,
# security groups, nitro disks, the gate.
snapshot() {
	{
		python3 -S -c '
import json, sys
for kind, text in zip(("volume", "eni", "instance"), sys.argv[1:4]):
    for o in json.loads(text):
        if o["state"] != "terminated":
            print(kind, o["id"], o["state"])
print("gate", json.loads(sys.argv[4])["gate"])
' "$("$N" volume list --json)" "$("$N" eni list --json)" "$("$N" instance list --json)" \
			"$("$N" firmware show --json)"
		"$here/fuzz" -l
		ls /sys/block | sed -n 's/^nitro/disk nitro/p'
	} 2>&1 | sort
}

# Deletes what is there now and not in snapshot $1: instances first (they
# hold devices), then volumes, ENIs, security groups and hosts (which must
# have no ENI left).
remove_new() {
	local rank kind id
	while read -r rank kind id _; do
		case $kind in
		instance) "$N" instance terminate "$id" --wait ;;
		volume) "$N" volume detach "$id"; "$N" volume delete "$id" ;;
		eni) "$N" eni detach "$id"; "$N" eni delete "$id" ;;
		host) "$N" host delete "$id" ;;
		group) "$here/fuzz" -G "$id" ;;
		esac >/dev/null 2>&1
	done < <(comm -13 <(echo "$1") <(snapshot) |
		awk '{ r = ($1 == "instance") ? 1 : ($1 == "volume") ? 2 : ($1 == "eni") ? 3 : 4; print r, $0 }' | sort -n)
}

# step WHAT: says how long the part of this test since the last step took.
t_step=$SECONDS
step() { echo "# $1: $((SECONDS - t_step)) s"; t_step=$SECONDS; }

loaded nitro_testcard && rmmod nitro_testcard
kmod veth
load_all && open_gate
before=$(snapshot)

# The fuzzer's world: a disk, a namespace with an address, a backing file.
ip netns del "$ns" 2>/dev/null
ip netns add "$ns" &&
	ip -n "$ns" link add u0 type veth peer name u1 &&
	ip -n "$ns" addr add "$addr/24" dev u0 &&
	ip -n "$ns" link set u0 up && ip -n "$ns" link set u1 up
truncate -s 16M "$backing"
vol=$("$N" volume create --kind instance --size 64M --name fuzz-disk | awk '{print $1}')
disk=$(vol_attach "$vol" sdz)
ok '[ -n "$disk" ] && [ -b /dev/$disk ] && [ -c /dev/${disk%n1} ] && [ -e /run/netns/$ns ]' \
	"a disk to fuzz (${disk:-none} of $vol), namespace $ns with $addr"
step "setup"
args=(-u -N "/run/netns/$ns" -A "$addr" -b "$backing")
[ -n "$disk" ] && args+=(-d "/dev/$disk" -d "/dev/${disk%n1}")

run_fuzz -s 1 -n "$calls" "${args[@]}"
step "fuzz, $calls calls (seed 1)"
run_fuzz -n "$random_calls" "${args[@]}"
step "fuzz, $random_calls calls (random seed)"

# The fuzzer deletes what it made; anything else new (made by a call whose
# answer it could not read) goes here, and is reported.
"$N" volume detach "$vol" >/dev/null 2>&1
"$N" volume delete "$vol" >/dev/null 2>&1
mid=$(snapshot)
ok '[ "$mid" = "$before" ]' "the fuzzer left nothing behind (what nitroctl lists is as before)"
after=$mid
if [ "$mid" != "$before" ]; then
	diff <(echo "$before") <(echo "$mid") | sed 's/^/# /'
	remove_new "$before"
	after=$(snapshot)
fi
ok '[ "$after" = "$before" ]' "after the cleanup, volumes, ENIs, live instances, hosts, disks and the gate are as before"
[ "$after" != "$before" ] && diff <(echo "$before") <(echo "$after") | sed 's/^/# /'
ok 'grep -qx "gate open" <<<"$after"' "the boot gate is still open"
ip netns del "$ns"
rm -f "$backing"
step "state checks and cleanup"

# Nothing holds a reference: the modules unload, and load again.
out=$(unload_all 2>&1); rc=$?
ok '[ $rc = 0 ]' "the modules unload after the fuzz (no reference left)${out:+: $out}"
ok 'load_all && open_gate' "and load again, the gate opened"
ok '"$N" status >/dev/null' "the controller answers"
step "module reload"
ktap_done
