#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# races: the control plane under concurrent load, with the data paths
# running, and cards unloaded under calls in flight. Two phases of worker
# processes (background subshells), each counting what it did and every
# error by errno, then checks.
#
# Phase 1, six workers while fio --verify runs on an attached disk and
# iperf3 between two ENIs on two Nitro hosts keyed to each other:
#   vol-i, vol-e  create, attach, detach, delete an instance-storage / an
#                 EBS volume (its own backing file each round)
#   eni           create, attach (card-named), detach, delete an ENI on a
#                 host of its own
#   mapkey        map set and delete; a new peer's key set and rotated;
#                 the key of the pair carrying iperf3 rotated on both sides
#   reader        metrics, volume list, eni list, status, host show
#   chaos         detaches or deletes a random object of the others (rw-*)
# Then a disk held open by fio (writing) is detached: the detach returns,
# fio gets I/O errors and ends (EIO, or ENOSPC: del_gendisk sets the dead
# disk's capacity to 0, so a write is past its end), the disk is gone.
# Phase 2, without the data paths: vol-i, vol-e, eni, reader and chaos
# again while a seventh worker unloads nitro_nvme, loads it, unloads
# nitro_net, loads it (in turn, until the phase ends).
#
# The errors a worker may meet, per operation (anything else fails):
#   create                none; in phase 2 ENODEV (no card of the kind on
#                         the bus) and, for an ENI, ENOENT (its host went
#                         with nitro_net: the worker makes a new one)
#   attach                EBUSY (chaos is detaching or deleting it), ENOENT
#                         (chaos deleted it); phase 2: ENODEV (card-lost)
#   detach                EBUSY, ENOENT, EINVAL (chaos detached it first);
#                         phase 2: ENODEV
#   delete                EBUSY (chaos is detaching it), ENOENT; phase 2:
#                         ENODEV (its card is gone, or its host)
#   chaos detach, delete  EBUSY, ENOENT, EINVAL (detach of one not
#                         attached); phase 2: ENODEV
#   map, key, reads       none (phase 1: no card leaves); phase 2 host show:
#                         ENODEV (the host went with nitro_net: "no such
#                         host on the VPC card"), and none for metrics
#                         (a card or object that leaves is skipped)
#   rmmod                 "in use" is retried (udev may hold a new disk
#                         open a moment); load must succeed
# fio and iperf3 runs must all succeed (fio verifies every block).
#
# Rounds: NITRO_RACE_ROUNDS (default 3) per worker in phase 1, and one
# unload of each card in phase 2; with NITRO_RACE_SECONDS=S each phase runs
# S/2 seconds instead (make soak: 1800). At the end: the state is consistent
# (snap, lib.sh: what nitroctl lists is what exists: disks, netdevs,
# sockets, each card's count), what is left is deleted and then nothing is,
# kmemleak (NITRO_KMEMLEAK=1) reports nothing of nitroctl's or the nitro
# modules', the kernel log since the start is clean, and the modules unload
# and load again. Prints the operations done and the errors seen, and
# MemAvailable and Slab before and after.
#
# Each check says (after "Fails if") which breakage it catches.
# The conditions given to ok are strings it evaluates later (SC2016), and
# the variables they use are set for them (SC2034).
# shellcheck disable=SC2016,SC2034
source "$(dirname "$0")/../lib.sh"

ktap_header 13
w=$(mktemp -d /tmp/nitro-races.XXXXXX)
# nitroctl from the guest's /tmp (RAM), not over 9p (faults.sh).
cp "$NITROCTL" "$w/nitroctl" && NITROCTL=$w/nitroctl
N=$NITROCTL
ROUNDS=${NITRO_RACE_ROUNDS:-3}
SECS=${NITRO_RACE_SECONDS:-0}
fw=/tmp/nitro-fw
keyfile=$fw/nitro-rs/ebs-card.key
VPC=61
NSS=(rcA rcB rcA1 rcB1)
SNAP_NS="${NSS[*]}" SNAP_IGNORE="rculA rculB"

nctl() { timeout 120 "$N" "$@"; }
gx() { timeout 60 ip netns exec "$@"; }
hostnum() { sed -En '1{s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p}'; }
mem() { awk '/^(MemAvailable|Slab):/ { printf "%s %s kB  ", $1, $2 }' /proc/meminfo; }
t_step=$SECONDS
step() { echo "# $1: $((SECONDS - t_step)) s"; t_step=$SECONDS; }

cleanup() {
	local p pids
	pids=$(jobs -p)
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null; done
	for p in "${NSS[@]}"; do ip netns del "$p" 2>/dev/null; done
	rm -rf "$w"
}
trap cleanup EXIT

# --- the workers --------------------------------------------------------

# op WHAT ALLOWED ARGS...: one nitroctl call of a worker, its outcome a line
# of the worker's file $sf: "ok WHAT", "err WHAT ERRNO" (an allowed errno),
# or "bad WHAT ..." (any other failure). Its output is in $last.
op() {
	local what=$1 allow=$2 rc e
	shift 2
	last=$(nctl "$@" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then
		echo "ok $what" >>"$sf"
		return 0
	fi
	e=$(grep -Eo '\(E[A-Z0-9]+\)' <<<"$last" | tail -1 | tr -d '()')
	if [ $rc = 1 ] && [ -n "$e" ] && [[ " $allow " == *" $e "* ]]; then
		echo "err $what $e" >>"$sf"
	else
		echo "bad $what (exit $rc): $(head -c 300 <<<"$last" | tr '\n' ' ')" >>"$sf"
	fi
	return 1
}
# more: whether a worker goes on: until $w/stop, and for ROUNDS rounds (or
# until the phase's time is up, with NITRO_RACE_SECONDS).
more() {
	[ -e "$w/stop" ] && return 1
	if [ "$SECS" -gt 0 ]; then [ $SECONDS -lt "$until" ]; else [ "$round" -lt "$rounds" ]; fi
}
first() { awk -v p="$1" '$1 ~ p { print $1; exit }' <<<"$last"; }

# w_vol KIND TAG
w_vol() {
	local kind=$1 tag=$2 id b args
	while more; do
		round=$((round + 1))
		args=(volume create --kind "$kind" --size 16M --name "rw-$tag-$round")
		b=$w/backing.$tag.$round
		if [ "$kind" = ebs ]; then
			truncate -s 16M "$b"
			args+=(--backing "$b" --wrapped-key "$w/wrapped")
		fi
		op create "$X" "${args[@]}" || continue
		id=$(first '^vol-')
		op attach "EBUSY ENOENT $X" volume attach "$id" "rw$tag$((round % 100))"
		op detach "EBUSY ENOENT EINVAL $X" volume detach "$id"
		op delete "EBUSY ENOENT $X" volume delete "$id" ||
			{ sleep 1; op delete "EBUSY ENOENT $X" volume delete "$id"; }
	done
}
# w_eni: ENIs on host $hW (made again if it went with nitro_net).
w_eni() {
	local id h=$hW
	while more; do
		round=$((round + 1))
		if ! op create "$X" eni create --host "$h" --vpc $VPC --ip "10.3.1.$((round % 250 + 1))" --name "rw-e-$round"; then
			if [ -n "$X" ] && ! nctl host show "$h" >/dev/null 2>&1; then
				op hcreate "ENODEV" host create --underlay 192.0.2.3 --netns rcA && h=$(hostnum <<<"$last")
			fi
			continue
		fi
		id=$(first '^eni-')
		op attach "EBUSY ENOENT $X" eni attach "$id"
		op detach "EBUSY ENOENT EINVAL $X" eni detach "$id"
		op delete "EBUSY ENOENT $X" eni delete "$id" ||
			{ sleep 1; op delete "EBUSY ENOENT $X" eni delete "$id"; }
	done
}
# w_mapkey: map set/delete and peer keys on host $hA (phase 1 only).
w_mapkey() {
	local i c
	while more; do
		round=$((round + 1))
		i=$((round % 200 + 1)) c=$((round / 200))
		op mapset "" map set --host "$hA" --vpc $VPC --ip "10.3.9.$i" --mac "02:00:00:3d:09:$(printf %02x $i)" --underlay 192.0.2.2 --nitro
		op mapdel "" map delete --host "$hA" --vpc $VPC --ip "10.3.9.$i"
		op keyset "" host key "$hA" --peer "192.0.2.$((20 + i))" --epoch $((2 * c + 1)) --key-file "$w/k1"
		op keyrot "" host key "$hA" --peer "192.0.2.$((20 + i))" --epoch $((2 * c + 2)) --key-file "$w/k2"
		# The pair iperf3 runs over: both sides, the new epoch.
		op pairkey "" host key "$hA" --peer 192.0.2.2 --epoch $((round + 1)) --key-file "$w/k$((round % 2 + 1))"
		op pairkey "" host key "$hB" --peer 192.0.2.1 --epoch $((round + 1)) --key-file "$w/k$((round % 2 + 1))"
	done
}
w_reader() {
	while more; do
		round=$((round + 1))
		op metrics "" metrics
		op vlist "" volume list
		op elist "" eni list
		op status "" status
		op hshow "$X" host show "$hA"
	done
}
# w_chaos: detaches or deletes one of the others' objects (named rw-*).
w_chaos() {
	local kind id verb
	while more; do
		round=$((round + 1))
		for kind in volume eni; do
			id=$(nctl "$kind" list --json 2>/dev/null | python3 -S -c 'import json, random, sys
o = [x for x in json.load(sys.stdin) if x["name"].startswith("rw-")]
print(random.choice(o)["id"] if o else "")' 2>/dev/null)
			[ -n "$id" ] || continue
			verb=detach
			[ $((RANDOM % 2)) = 0 ] && verb=delete
			op "chaos-$verb" "EBUSY ENOENT EINVAL $X" "$kind" "$verb" "$id"
		done
		sleep 0.$((RANDOM % 10))
	done
}
# w_unload: unloads a card, then loads it again, in turn nitro_nvme and
# nitro_net, while the others call; one of each (or until the time is up).
w_unload() {
	local mod i n=0
	while [ "$SECS" -gt 0 ] && [ $SECONDS -lt "$until" ] || { [ "$SECS" = 0 ] && [ $n -lt 2 ]; }; do
		mod=nitro_nvme
		[ $((n % 2)) = 1 ] && mod=nitro_net
		n=$((n + 1))
		sleep 3
		for i in $(seq 40); do
			if rmmod "$mod" 2>"$w/rmmod.err"; then
				echo "ok unload-$mod" >>"$sf"
				break
			fi
			grep -q "in use" "$w/rmmod.err" || { echo "bad unload-$mod: $(cat "$w/rmmod.err")" >>"$sf"; break; }
			echo "err unload-$mod in-use" >>"$sf"
			sleep 0.3
		done
		loaded "$mod" && [ "$i" = 40 ] && echo "bad unload-$mod: still in use after 40 tries" >>"$sf"
		sleep 2
		if load "$mod" 2>"$w/load.err"; then echo "ok load-$mod" >>"$sf"; else echo "bad load-$mod: $(cat "$w/load.err")" >>"$sf"; fi
	done
	touch "$w/stop"
}
# start NAME FUNC ARGS...: a worker in the background, its file $w/s.NAME.
start() {
	local name=$1
	shift
	(sf=$w/s.$name round=0; "$@") &
	pids+=($!)
}
# finish: waits for the workers.
finish() {
	local p
	for p in "${pids[@]}"; do wait "$p"; done
	pids=()
}
# bad FILES: the failures the workers saw; count WHAT FILES: lines of that kind.
bad() { cat "$@" 2>/dev/null | grep '^bad ' | sort | uniq -c | head -20; }
count() { cat "${@:2}" 2>/dev/null | grep -c "^$1 "; }
# report FILES: ops done and errors by errno, per operation.
report() {
	cat "$@" 2>/dev/null | awk '{ if ($1 == "ok") ok[$2]++; else if ($1 == "err") e[$2 " " $3]++; else b[$2]++ }
	END {
		for (k in ok) printf "#   %-14s %6d done\n", k, ok[k]
		for (k in e) { split(k, p, " "); printf "#   %-14s %6d %s\n", p[1], e[k], p[2] }
		for (k in b) printf "#   %-14s %6d UNEXPECTED\n", k, b[k]
	}' | sort
}

# --- setup ----------------------------------------------------------------

loaded nitro_testcard && rmmod nitro_testcard
kmod veth
load_all && open_gate
mem_before=$(mem)
mark_log
# The EBS card's key (as faults.sh, ebs.sh), then the card loaded with it.
mkdir -p "$fw/nitro-rs"
[ -s "$keyfile" ] || head -c 32 /dev/urandom >"$keyfile"
echo -n "$fw" >/sys/module/firmware_class/parameters/path
rmmod nitro_nvme && load nitro_nvme
"$N" key wrap --card-key "$keyfile" -o "$w/wrapped"
head -c 32 /dev/urandom >"$w/k1"
head -c 32 /dev/urandom >"$w/k2"
kmemleak_start
# Two Nitro hosts (192.0.2.1 in rcA, 192.0.2.2 in rcB) over a veth, an ENI
# on each in a guest namespace (a1 10.3.0.1 in rcA1, b1 10.3.0.2 in rcB1),
# mapped and keyed; the eni worker's host on 192.0.2.3 in rcA.
for ns in "${NSS[@]}"; do
	ip netns del "$ns" 2>/dev/null
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	gx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n rcA link add rculA type veth peer name rculB
ip -n rcA link set rculB netns rcB
ip -n rcA addr add 192.0.2.1/24 dev rculA
ip -n rcA addr add 192.0.2.3/24 dev rculA
ip -n rcB addr add 192.0.2.2/24 dev rculB
ip -n rcA link set rculA mtu 9001 up
ip -n rcB link set rculB mtu 9001 up
MA=02:00:00:3d:00:01 MB=02:00:00:3d:00:02
hA=$(nctl host create --underlay 192.0.2.1 --netns rcA | hostnum)
hB=$(nctl host create --underlay 192.0.2.2 --netns rcB | hostnum)
hW=$(nctl host create --underlay 192.0.2.3 --netns rcA | hostnum)
a1=$(nctl eni create --host "$hA" --vpc $VPC --ip 10.3.0.1 --mac $MA --name data-a1 | awk '/^eni-/ { print $1 }')
b1=$(nctl eni create --host "$hB" --vpc $VPC --ip 10.3.0.2 --mac $MB --name data-b1 | awk '/^eni-/ { print $1 }')
s=0
eni_plug "$a1" rcA rcA1 10.3.0.1 rca1 || s=1
eni_plug "$b1" rcB rcB1 10.3.0.2 rcb1 || s=2
nctl map set --host "$hA" --vpc $VPC --ip 10.3.0.2 --mac $MB --underlay 192.0.2.2 --nitro >/dev/null || s=3
nctl map set --host "$hB" --vpc $VPC --ip 10.3.0.1 --mac $MA --underlay 192.0.2.1 --nitro >/dev/null || s=4
nctl host key "$hA" --peer 192.0.2.2 --epoch 1 --key-file "$w/k1" >/dev/null || s=5
nctl host key "$hB" --peer 192.0.2.1 --epoch 1 --key-file "$w/k1" >/dev/null || s=6
dv=$(nctl volume create --kind instance --size 32M --name data-disk | awk '{ print $1 }')
disk=$(vol_attach "$dv" rcdata)
sent=$(gx rcA1 ping -c 3 -i 0.2 -W 2 10.3.0.2 2>/dev/null | sed -En 's/.* ([0-9]+) received.*/\1/p')
echo "# hosts $hA, $hB (data) and $hW; ENIs $a1, $b1; $dv as ${disk:-none}; $mem_before"
# Fails if the data paths cannot be set up at all (nothing below means much then).
ok '[ -n "$hA" ] && [ -n "$hB" ] && [ -n "$hW" ] && [ $s = 0 ] && [ -n "$disk" ] && [ "$sent" = 3 ]' \
	"setup: two Nitro hosts keyed to each other, an ENI on each in a guest, ping a1 -> b1 (${sent:-0}/3), a disk for fio (${disk:-none}), the EBS card's key (stage $s)"
step setup

# --- phase 1: control-plane races with the data paths running ----------------

# fio --verify on the data disk and iperf3 a1 -> b1, again and again until
# the control workers are done; each run is a line of $w/s.data.
data_fio() {
	local sf=$w/s.fio
	while [ ! -e "$w/stopdata" ]; do
		if timeout 300 fio --name=v --filename="/dev/$disk" --rw=randwrite --bs=4k --size=8M \
			--direct=1 --ioengine=psync --verify=crc32c --do_verify=1 --verify_fatal=1 \
			--verify_state_save=0 --allow_file_create=0 --output="$w/fio.out" >/dev/null 2>"$w/fio.err"; then
			echo "ok fio" >>"$sf"
		else
			echo "bad fio: $(grep -m3 -iE 'error|verify' "$w/fio.out" "$w/fio.err" | tr '\n' ' ')" >>"$sf"
		fi
	done
}
data_iperf() {
	local sf=$w/s.iperf by
	while [ ! -e "$w/stopdata" ]; do
		if gx rcA1 iperf3 -c 10.3.0.2 -t 4 -J >"$w/iperf.json" 2>/dev/null; then
			by=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"])' "$w/iperf.json" 2>/dev/null)
			if [ "${by:-0}" -gt 0 ]; then echo "ok iperf $by" >>"$sf"; else echo "bad iperf: no bytes" >>"$sf"; fi
		else
			echo "bad iperf: $(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error", "?"))' "$w/iperf.json" 2>/dev/null)" >>"$sf"
			sleep 1
		fi
	done
}
timeout 900 ip netns exec rcB1 iperf3 -s -B 10.3.0.2 >/dev/null 2>&1 &
srv=$!
sleep 1
data_fio &
dpids=($!)
data_iperf &
dpids+=($!)
X='' rounds=$ROUNDS until=$((SECONDS + SECS / 2)) pids=()
start vol-i w_vol instance i
start vol-e w_vol ebs e
start eni w_eni
start mapkey w_mapkey
start reader w_reader
start chaos w_chaos
finish
touch "$w/stopdata"
for p in "${dpids[@]}"; do wait "$p"; done
kill $srv 2>/dev/null
wait $srv 2>/dev/null
w1=("$w"/s.vol-i "$w"/s.vol-e "$w"/s.eni "$w"/s.mapkey "$w"/s.reader "$w"/s.chaos)
echo "# phase 1 ($((SECONDS - t_step)) s): the operations, and the errors seen:"
report "${w1[@]}" "$w/s.fio" "$w/s.iperf"
b1bad=$(bad "${w1[@]}")
[ -n "$b1bad" ] && sed 's/^/#   /' <<<"$b1bad"
ops1=$(cat "${w1[@]}" | wc -l)
# Fails if a concurrent request gets an errno other than the expected ones
# (a lock let go too early: ENOMEM, EIO, EINVAL from a card in a state it
# should not see, a nitroctl timeout from a deadlock).
ok '[ -z "$b1bad" ] && [ "$(count ok "$w/s.vol-i")" -gt 0 ] && [ "$(count ok "$w/s.vol-e")" -gt 0 ] && [ "$(count ok "$w/s.eni")" -gt 0 ] && [ "$(count ok "$w/s.mapkey")" -gt 0 ] && [ -s "$w/s.chaos" ]' \
	"phase 1: six workers, $ops1 nitroctl calls, only the expected errors"
fbad=$(bad "$w/s.fio") ibad=$(bad "$w/s.iperf")
[ -n "$fbad$ibad" ] && sed 's/^/#   /' <<<"$fbad$ibad"
# Fails if a block of the disk is read back wrong (or an I/O fails) while
# other volumes come and go on the card.
ok '[ -z "$fbad" ] && [ "$(count ok "$w/s.fio")" -gt 0 ]' \
	"phase 1: fio --verify=crc32c on $disk: $(count ok "$w/s.fio") runs, every block verified"
# Fails if traffic between the Nitro hosts breaks while ENIs, mappings and
# keys change (a table entry freed under a reader, a rotation that loses
# the pair's key).
ok '[ -z "$ibad" ] && [ "$(count ok "$w/s.iperf")" -gt 0 ]' \
	"phase 1: iperf3 a1 -> b1 over the sealed pair: $(count ok "$w/s.iperf") runs, each moved data"
snap
echo "# volumes $(python3 -S -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$vols" 2>/dev/null), hosts $hosts, disks: $(xargs <<<"$disks"), netdevs: $links, sockets $socks"
# Fails if what the controller lists is not what exists after the races: a
# disk or netdev left by a detach (or missing after an attach), a card's
# count of objects off, an object stuck in transition.
ok 'consistent' "after phase 1 the state is consistent: attached volumes are the nitro disks, attached ENIs the netdevs, hosts the sockets, the cards count what the controller lists${why:+: $why}"
step "phase 1"

# --- a disk held open by a writer, detached ---------------------------------

hv=$(nctl volume create --kind instance --size 16M --name data-hold | awk '{ print $1 }')
hd=$(vol_attach "$hv" rchold)
timeout 300 fio --name=hold --filename="/dev/$hd" --rw=randwrite --bs=4k --size=16M --direct=1 \
	--ioengine=psync --time_based --runtime=200 --output="$w/hold.out" >/dev/null 2>"$w/hold.err" &
fp=$!
sleep 3
alive=$(kill -0 $fp 2>/dev/null && echo yes)
t0=$SECONDS
nctl volume detach "$hv" >"$w/hold.detach" 2>&1
drc=$? dt=$((SECONDS - t0))
timeout 30 tail --pid=$fp -f /dev/null
wait $fp
frc=$?
hstate=$(nctl volume show "$hv" --json | python3 -S -c 'import json,sys; print(json.load(sys.stdin)["state"])')
echo "# detach of $hd held by fio: exit $drc in $dt s; fio exit $frc: $(grep -m1 -iE 'error' "$w/hold.err" "$w/hold.out")"
# Fails if the detach waits for the holder (a disk's removal that waits
# for its last close: it never comes), or is refused, or leaves the disk.
ok '[ -n "$hd" ] && [ "$alive" = yes ] && [ $drc = 0 ] && [ $dt -lt 60 ] && [ ! -e /sys/block/$hd ] && [ "$hstate" = available ]' \
	"detach of a disk held open by a writing fio returns (exit $drc, $dt s), the disk is gone, the volume available"
# Fails if the holder's I/O goes on after the detach (served by a card
# that no longer has the volume) or hangs.
ok '[ $frc != 0 ] && [ $frc != 124 ] && grep -qiE "Input/output error|No such device|No space left on device" "$w/hold.err" "$w/hold.out" && nctl volume delete "$hv" >/dev/null' \
	"the holder gets I/O errors and ends (fio exit $frc), then the volume deletes"
step "held-open detach"

# --- phase 2: cards unloaded under calls in flight ----------------------------

X="ENODEV ENOENT" rounds=1000000 until=$((SECONDS + SECS / 2)) pids=()
[ "$SECS" = 0 ] && rounds=$ROUNDS
rm -f "$w/stop"
start vol-i2 w_vol instance j
start vol-e2 w_vol ebs f
start eni2 w_eni
start reader2 w_reader
start chaos2 w_chaos
(sf=$w/s.unload; w_unload) &
up=$!
wait $up
finish
w2=("$w"/s.vol-i2 "$w"/s.vol-e2 "$w"/s.eni2 "$w"/s.reader2 "$w"/s.chaos2)
echo "# phase 2 ($((SECONDS - t_step)) s): the operations, and the errors seen:"
report "${w2[@]}" "$w/s.unload"
b2bad=$(bad "${w2[@]}" "$w/s.unload")
[ -n "$b2bad" ] && sed 's/^/#   /' <<<"$b2bad"
ops2=$(cat "${w2[@]}" | wc -l)
# Fails if an unload under calls fails or hangs (a card request that pins
# the card past its unregistration), a reload fails, or a call in flight
# gets anything but ENODEV/ENOENT for the card that left.
ok '[ -z "$b2bad" ] && [ "$(grep -c "^ok unload-nitro_nvme" "$w/s.unload")" -ge 1 ] && [ "$(grep -c "^ok unload-nitro_net" "$w/s.unload")" -ge 1 ] && [ "$(grep -c "^ok load-" "$w/s.unload")" = "$(grep -c "^ok unload-" "$w/s.unload")" ] && loaded nitro_nvme && loaded nitro_net' \
	"phase 2: cards unloaded and loaded again $(grep -c "^ok unload-" "$w/s.unload") times (nitro_nvme, nitro_net in turn) under $ops2 calls from five workers, only the expected errors"
step "phase 2"

# --- the end ---------------------------------------------------------------------

# What is left (card-lost objects, the data ENIs, volumes chaos made
# available): detached and deleted, then nothing must be left.
for id in $(nctl volume list --json | python3 -S -c 'import json,sys; print(" ".join(v["id"] for v in json.load(sys.stdin)))'); do
	nctl volume detach "$id" >/dev/null 2>&1
	nctl volume delete "$id" >/dev/null 2>&1
done
for id in $(nctl eni list --json | python3 -S -c 'import json,sys; print(" ".join(v["id"] for v in json.load(sys.stdin)))'); do
	nctl eni detach "$id" >/dev/null 2>&1
	nctl eni delete "$id" >/dev/null 2>&1
done
for h in $("$top/selftests/nitro_ctrl/fuzz" -l 2>/dev/null | awk '$1 == "host" { print $2 }'); do
	nctl host delete "$h" >/dev/null 2>&1
done
snap
# Fails if a delete leaves something behind: a disk, a netdev, a socket, an
# object the controller still lists or a card still counts.
ok '[ "$vols" = "[]" ] && [ "$enis" = "[]" ] && [ -z "$hosts" ] && [ -z "$disks" ] && [ -z "$links" ] && [ "$socks" = 0 ] && consistent' \
	"everything deleted: no volume, ENI, host, disk, netdev or socket left, the cards count nothing${why:+: $why}"
# Fails if a path frees less than it allocates (kmemleak), on an oops,
# KASAN report, lockdep splat or warning, or if something still holds a
# module (a reference a detach did not drop).
ktap_end_checks
step end
echo "# memory before: $mem_before"
echo "# memory after:  $(mem)"
echo "# operations: $((ops1 + ops2)) nitroctl calls ($ops1 in phase 1, $ops2 in phase 2), $(count err "${w1[@]}" "${w2[@]}") refused with an expected errno"
echo -n "" >/sys/module/firmware_class/parameters/path
ktap_done
