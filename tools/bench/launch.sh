#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, in the guest (non-debug kernel): how long an instance takes to
# launch ("nitroctl instance run" until it returns: the controller says
# running, the image exec'd in its jail) and to stop ("instance stop --force
# --wait": stopped, every process gone, the cgroup removed), p50 and p99 over
# BENCH_LAUNCHES (default 100), next to the floor: the same isolation set up
# by hand with util-linux, in the same guest, one after the other:
#   a cgroup under /sys/fs/cgroup/nitro-floor with the type's cpu.max,
#   memory.max, memory.swap.max and pids.max; unshare of the mount, UTS, IPC,
#   network, PID and cgroup namespaces; a tmpfs root with /usr bound
#   read-only and /proc; chroot and setuid to 20000, exec of the image
#   (its "running" is the moment it is about to exec); stop is cgroup.kill
#   until cgroup.events says empty, then rmdir.
# What the floor leaves out and ours does: the controller's ioctls (create,
# start, wait), the /dev of the jail, the privilege check, pivot_root.
# Target (issue 17): ours within 1.5x of the floor at p50, both ways.
source "$(dirname "$0")/../../selftests/lib.sh"
set -e

N=$NITROCTL
HV=${NITRO_HV:?}
LAUNCHES=${BENCH_LAUNCHES:-100}
TYPE=nitro.micro
IMAGE=(/usr/bin/sleep infinity)
w=$(mktemp -d)

load_all
open_gate >/dev/null
# A VPC card host needs its underlay address in its namespace.
kmod veth
ip netns add lbench 2>/dev/null || true
ip -n lbench link add ul type veth peer name ulp
ip -n lbench addr add 192.0.2.71/24 dev ul
ip -n lbench link set ul up
ip -n lbench link set ulp up
host=$($N host create --underlay 192.0.2.71 --netns lbench | sed -En '1s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p')
[ -n "$host" ] || { echo "launch.sh: no VPC host" >&2; exit 1; }
m=$(kmsg mark)
"$HV" --host "$host" 2>"$w/hv.log" &
hv=$!
cleanup() {
	kill -TERM "$hv" 2>/dev/null && wait "$hv" 2>/dev/null
	$N host delete "$host" >/dev/null 2>&1 || true
	ip netns del lbench 2>/dev/null || true
	rmdir /sys/fs/cgroup/nitro-floor/* /sys/fs/cgroup/nitro-floor 2>/dev/null || true
	rm -rf "$w"
}
trap cleanup EXIT
for _ in $(seq 100); do kmsg since "$m" | grep -q "hypervisor of host $host registered" && break; sleep 0.1; done
# The type's limits, from the controller (the same table nitro-hv applies).
read -r vcpus mem pids < <($N instance types --json | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin) if t["type"] == sys.argv[1]][0]
print(t["vcpus"], t["memory_bytes"], t["pids"])' "$TYPE")

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

# Ours: one launch and one stop, as "launch_ms stop_ms".
ours_once() {
	local t0 t1 t2 id
	t0=$(now)
	id=$($N instance run --type "$TYPE" --host "$host" -- "${IMAGE[@]}")
	t1=$(now)
	$N instance stop "$id" --force --wait >/dev/null
	t2=$(now)
	$N instance terminate "$id" --wait >/dev/null
	echo "$(ms "$t0" "$t1") $(ms "$t1" "$t2")"
}

# The floor: the same isolation by hand.
floor_once() {
	local t0 t1 t2 cg=/sys/fs/cgroup/nitro-floor/f$1 fifo=$w/up pid
	t0=$(now)
	mkdir "$cg"
	echo "$((vcpus * 100000)) 100000" >"$cg/cpu.max"
	echo "$mem" >"$cg/memory.max"
	echo 0 >"$cg/memory.swap.max"
	echo "$pids" >"$cg/pids.max"
	mkfifo "$fifo"
	sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$cg" \
		unshare --mount --uts --ipc --net --pid --cgroup --fork --propagation private \
		sh -c 'r=$(mktemp -d) && mount -t tmpfs -o mode=0755 none "$r" &&
			mkdir "$r/usr" "$r/proc" && mount --bind -o ro /usr "$r/usr" &&
			mount -o remount,bind,ro "$r/usr" && ln -s usr/bin "$r/bin" &&
			ln -s usr/lib "$r/lib" && ln -s usr/lib64 "$r/lib64" &&
			mount -t proc proc "$r/proc" && hostname floor &&
			echo up > "$1" && shift &&
			exec chroot --userspec=20000:20000 "$r" "$@"' sh "$fifo" "${IMAGE[@]}" &
	pid=$!
	read -r _ <"$fifo"
	t1=$(now)
	echo 1 >"$cg/cgroup.kill"
	until grep -qx 'populated 0' "$cg/cgroup.events"; do sleep 0.001; done
	rmdir "$cg"
	t2=$(now)
	wait "$pid" 2>/dev/null || true
	rm -f "$fifo"
	echo "$(ms "$t0" "$t1") $(ms "$t1" "$t2")"
}

mkdir -p /sys/fs/cgroup/nitro-floor
echo "+cpu +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
echo "+cpu +memory +pids" >/sys/fs/cgroup/nitro-floor/cgroup.subtree_control
: >"$w/ours"
: >"$w/floor"
for i in $(seq "$LAUNCHES"); do
	ours_once >>"$w/ours"
	floor_once "$i" >>"$w/floor"
done

# pct FILE COLUMN P: the P-th percentile (nearest rank) of COLUMN.
pct() {
	local n
	n=$(wc -l <"$1")
	cut -d' ' -f"$2" "$1" | sort -n | sed -n "$(( (n * $3 + 99) / 100 ))p"
}
echo
echo "== instance launch and stop: $TYPE, ${IMAGE[*]}, $LAUNCHES each, alternating (ms)"
printf '%-34s %8s %8s %8s %8s\n' "" "launch50" "launch99" "stop50" "stop99"
for f in ours floor; do
	printf '%-34s %8s %8s %8s %8s\n' \
		"$([ $f = ours ] && echo "nitroctl instance run / stop" || echo "floor: unshare + cgroup by hand")" \
		"$(pct "$w/$f" 1 50)" "$(pct "$w/$f" 1 99)" "$(pct "$w/$f" 2 50)" "$(pct "$w/$f" 2 99)"
done
verdict() {
	local o f
	o=$(pct "$w/ours" "$2" 50) f=$(pct "$w/floor" "$2" 50)
	[ "$f" -gt 0 ] || f=1
	if [ $((o * 10)) -le $((f * 15)) ]; then r=PASS; else r=FAIL; fi
	echo "target: $1 p50 within 1.5x of the floor: $o ms vs $f ms ($(awk -v o="$o" -v f="$f" 'BEGIN { printf "%.2f", o / f }')x) $r"
}
verdict launch 1
verdict stop 2
