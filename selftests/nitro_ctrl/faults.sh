#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# faults: the controller's operations with an allocation failure injected at
# each call site in turn (the fault-injection framework: failslab,
# fail_page_alloc and, for the creates, fail_usercopy).
#
# How a site is aimed at: every fault attribute has probability 0 (it fails
# nothing by itself) and a stack filter (require-start/-end) spanning the
# nitro modules' code; the subshell that becomes nitroctl writes N to
# /proc/self/fail-nth, so in that one task the Nth allocation (or user copy)
# made with our code on the stack fails, and only that one. N is stepped
# 1, 2, ... 12, then geometrically (x1.25), until a run injects nothing
# (N is past the last site) or NITRO_FAULT_STEPS runs (default 20) were made;
# then the sites just before the end are found by bisection and failed too
# (the bookkeeping after the card's answer, the answer's write-back). So a
# path of S sites gets its first 12, a spread and its last 3: not every
# site of a long path (an attach builds a disk or a netdev: hundreds).
# Each fault attribute's `times` counts the failures injected.
#
# After each injected run: nitroctl exited 0, or 1 naming ENOMEM (EFAULT for
# a failed user copy); then, with injection off, what the controller lists
# is what the answer said (created or not, attached or not, ...), what
# exists matches it (nitro disks in /sys/block, netdevs and UDP sockets in
# the hosts' namespace, each card's count of objects), a retry of the same
# operation succeeds, and the cleanup works. Covered: volume create, attach,
# detach, delete (instance storage and EBS), host create and delete, ENI
# create, attach (card-named), detach, delete, map set, delete and import,
# peer key set and rotation, firmware allow, metrics, instance create and
# terminate (nitrod.large, whose instance store is made and attached with
# it; start and stop need a hypervisor and are left to nitro_hv/); with
# user-copy faults, the three creates (whose answer, if it cannot be
# written back, must undo them) and a map import. At the end everything
# made is gone, kmemleak (when the VM runs it: NITRO_KMEMLEAK=1) finds
# nothing allocated by nitroctl's calls or by the nitro modules, the kernel
# log since the start has no oops, KASAN, lockdep report or warning (the
# attributes are verbose 0: an injected failure logs nothing), and the
# modules unload and load again.
# The conditions given to ok are strings it evaluates later (SC2016).
# shellcheck disable=SC2016
source "$(dirname "$0")/../lib.sh"

N=$NITROCTL
D=/sys/kernel/debug
STEPS=${NITRO_FAULT_STEPS:-1}
ONLY=${NITRO_FAULT_ONLY:-}
ATTRS=(failslab fail_page_alloc fail_usercopy)
ns=nitrofi
declare -A st named
need_insts=
# snap (lib.sh): the netdevs and sockets of the host namespace.
SNAP_NS=$ns SNAP_IGNORE="u0 u1"
addr=192.0.2.91 addr2=192.0.2.92
w=$(mktemp -d /tmp/nitro-faults.XXXXXX)
fw=/tmp/nitro-fw
keyfile=$fw/nitro-rs/ebs-card.key

nctl() { timeout 60 "$N" "$@"; }
# jq-like: python3 EXPR over the JSON on stdin as d; prints the result.
jx() { python3 -S -c "import json,sys; d=json.load(sys.stdin); r=($1); print(r if r is not None else '')"; }

# 26 sweeps of two results each, and seven more.
ktap_header 59

t_step=$SECONDS
step() { echo "# $1: $((SECONDS - t_step)) s"; t_step=$SECONDS; }

# --- the fault attributes -----------------------------------------------

mountpoint -q $D || mount -t debugfs none $D
# The nitro modules' code: from their lowest text symbol to a page past
# their highest (other modules' code between them runs in nitroctl's task
# only when ours calls it).
text_range() {
	awk '$2 ~ /^[tT]$/ && $4 ~ /^\[nitro_(ctrl|sec|nvme|net)\]$/ { print $1 }' /proc/kallsyms | sort | sed -n '1p;$p'
}
# aim MODE: alloc (failslab, fail_page_alloc) or copy (fail_usercopy): the
# others count no call (a filter nothing matches: [1, 1)).
aim() {
	local a lo hi
	read -r lo hi < <(text_range | xargs)
	for a in "${ATTRS[@]}"; do
		case "$1:$a" in
		alloc:fail_usercopy | copy:failslab | copy:fail_page_alloc)
			echo 1 >$D/$a/require-start
			echo 1 >$D/$a/require-end
			;;
		*)
			echo "0x$lo" >$D/$a/require-start
			printf '0x%x\n' $((0x$hi + 4096)) >$D/$a/require-end
			;;
		esac
	done
}
fault_setup() {
	local a
	for a in "${ATTRS[@]}"; do
		echo 0 >$D/$a/probability
		echo 0 >$D/$a/verbose
		echo 1000000000 >$D/$a/times
		echo 0 >$D/$a/space
		echo 1 >$D/$a/interval
		echo 32 >$D/$a/stacktrace-depth
	done
	echo N >$D/failslab/ignore-gfp-wait
	echo N >$D/fail_page_alloc/ignore-gfp-wait
	echo N >$D/fail_page_alloc/ignore-gfp-highmem
	echo 0 >$D/fail_page_alloc/min-order
	aim alloc
}
fault_reset() {
	local a
	for a in "${ATTRS[@]}"; do
		echo 0 >$D/$a/probability
		echo 0 >$D/$a/require-start
		printf '0x%x\n' -1 >$D/$a/require-end
		echo 1 >$D/$a/times
	done
	echo Y >$D/failslab/ignore-gfp-wait
	echo Y >$D/fail_page_alloc/ignore-gfp-wait
	echo Y >$D/fail_page_alloc/ignore-gfp-highmem
	echo 1 >$D/fail_page_alloc/min-order
}
faults_left() {
	local a t s=0
	for a in "${ATTRS[@]}"; do
		read -r t <"$D/$a/times"
		s=$((s + t))
	done
	echo $s
}

# inject NTH ARGS...: nitroctl ARGS with the NTH aimed-at call failing (the
# subshell writes fail-nth, then becomes nitroctl: a fork would clear it;
# a watchdog kills it after 60 s). Sets out, rc, and hit (faults injected:
# 0 once NTH is past the last site).
inject() {
	local n=$1 t0 pid wd
	shift
	t0=$(faults_left)
	(echo "$n" >/proc/self/fail-nth && exec "$N" "$@") >"$w/out" 2>&1 &
	pid=$!
	(read -rt 60 <>"$w/fifo"; kill -KILL $pid 2>/dev/null) &
	wd=$!
	wait $pid
	rc=$?
	kill $wd 2>/dev/null
	wait $wd 2>/dev/null
	out=$(<"$w/out")
	hit=$((t0 - $(faults_left)))
}

# What the answer may be: success, or exit 1 naming the injected error
# (exit 3 if the failure was in opening /dev/nitro_ctrl); a run with no
# fault left must succeed.
errno_ok() {
	if [ "$hit" = 0 ]; then
		[ "$rc" = 0 ]
	else
		[ "$rc" = 0 ] || { [ "$rc" = 1 ] && grep -Eq "\((ENOMEM|EFAULT)\)" <<<"$out"; } ||
			{ [ "$rc" = 3 ] && grep -q "cannot open /dev/nitro_ctrl: Cannot allocate memory" <<<"$out"; }
	fi
}

# --- what exists ------------------------------------------------------

# vol_by NAME, eni_by NAME, inst_by NAME: the id of the live object of that
# name in the last snap (empty if none); state_of ID: its state ("gone").
vol_by() { echo "${named[$1]}"; }
eni_by() { echo "${named[$1]}"; }
inst_by() { echo "${named[$1]}"; }
state_of() { echo "${st[$1]:-gone}"; }
# fail WHY: a post or redo hook's verdict.
fail() { why=$1; return 1; }

# --- the sweep --------------------------------------------------------

# The steps: 2..12 (site 1, the open of /dev/nitro_ctrl, is the probe's),
# then x1.25, at most $STEPS.
steps() {
	local n=2 i=0
	while [ $i -lt "$STEPS" ]; do
		echo $n
		i=$((i + 1))
		if [ $n -lt 12 ]; then n=$((n + 1)); else n=$((n * 5 / 4)); fi
	done
}

# one OP NTH: one injected run of OP and its checks.
one() {
	local op=$1 n=$2
	why=
	pre_$op || { bad_state=${bad_state:-"step $n: setup failed: $why"}; return 1; }
	inject "$n" "${args[@]}"
	runs=$((runs + 1))
	[ "$rc" != 0 ] && refused=$((refused + 1))
	errno_ok || bad_errno=${bad_errno:-"step $n: exit $rc, $hit injected: $(head -c 400 <<<"$out")"}
	snap
	if ! consistent; then
		bad_state=${bad_state:-"step $n (exit $rc): $why"}
	elif ! post_$op; then
		bad_state=${bad_state:-"step $n (exit $rc): $why"}
	fi
	why=
	redo_$op || bad_state=${bad_state:-"step $n (exit $rc): retry or cleanup: $why"}
	return 0
}

# sweep OP DESC: pre_OP sets up (args: the command), post_OP checks what the
# answer says against the snap, redo_OP retries and cleans up.
sweep() {
	local op=$1 desc=$2 n last=0 past= lo hi mid
	bad_errno= bad_state= runs=0 refused=0
	if [ -n "$ONLY" ] && [[ " $ONLY " != *" $op "* ]]; then
		ktap_n=$((ktap_n + 2))
		echo "ok $((ktap_n - 1)) $desc: errnos # SKIP not in NITRO_FAULT_ONLY"
		echo "ok $ktap_n $desc: state # SKIP not in NITRO_FAULT_ONLY"
		return
	fi
	for n in $(steps); do
		one "$op" "$n" || break
		if [ "$hit" = 0 ]; then past=$n; break; fi
		last=$n
	done
	# The last sites: bisect between the last step that hit and the first
	# that did not, then fail the last three.
	if [ -n "$past" ] && [ $((past - last)) -gt 1 ]; then
		lo=$last hi=$past
		while [ $((hi - lo)) -gt 1 ]; do
			mid=$(((lo + hi) / 2))
			one "$op" "$mid" || break
			if [ "$hit" = 0 ]; then hi=$mid; else lo=$mid; fi
		done
		for n in $((lo - 1)) $((lo - 2)); do
			[ "$n" -gt "$last" ] && one "$op" "$n"
		done
		last=$lo
	fi
	if [ -n "$past" ]; then
		echo "# $op: $runs injected runs, $refused refused; its last site: $last"
	else
		echo "# $op: $runs injected runs, $refused refused; stopped at step $last (NITRO_FAULT_STEPS)"
	fi
	ok '[ -z "$bad_errno" ]' "$desc: each run succeeded or failed with ENOMEM/EFAULT${bad_errno:+: $bad_errno}"
	ok '[ -z "$bad_state" ]' "$desc: then the state is what the answer said, consistent; retry and cleanup work${bad_state:+: $bad_state}"
	step "$op"
}

# --- the operations ---------------------------------------------------

# Volumes, of kind $kind: create (named fi-v), attach, detach, delete.
vol_create_args() {
	args=(volume create --kind "$kind" --size 16M --name "$1")
	[ "$kind" = ebs ] && args+=(--backing "$w/ebs.img" --wrapped-key "$w/wrapped")
	return 0
}
pre_vcreate() { vol_create_args fi-v; }
post_vcreate() {
	local id
	id=$(vol_by fi-v)
	if [ "$rc" = 0 ]; then
		[ -n "$id" ] && grep -q "^$id created" <<<"$out" || fail "exit 0, but no volume fi-v listed ($out)"
	else
		[ -z "$id" ] || fail "refused, but $id is listed"
	fi
}
redo_vcreate() {
	local id
	id=$(vol_by fi-v)
	if [ -z "$id" ]; then
		vol_create_args fi-v
		id=$(nctl "${args[@]}" | awk '{ print $1 }')
		[ -n "$id" ] || fail "the retry of create failed"
	fi
	nctl volume delete "$id" >/dev/null || fail "delete of $id failed"
}
pre_vattach() { args=(volume attach "$vol" fisdf); }
post_vattach() {
	local s
	s=$(state_of "$vol")
	if [ "$rc" = 0 ]; then [ "$s" = attached ] || fail "exit 0, but $vol is $s"; else [ "$s" = available ] || fail "refused, but $vol is $s"; fi
}
redo_vattach() {
	if [ "$(state_of "$vol")" != attached ]; then
		nctl volume attach "$vol" fisdf >/dev/null || fail "the retry of attach failed"
	fi
	nctl volume detach "$vol" >/dev/null || fail "detach failed"
}
pre_vdetach() { args=(volume detach "$vol"); nctl volume attach "$vol" fisdf >/dev/null || fail "attach failed"; }
post_vdetach() {
	local s
	s=$(state_of "$vol")
	if [ "$rc" = 0 ]; then [ "$s" = available ] || fail "exit 0, but $vol is $s"; else [ "$s" = attached ] || fail "refused, but $vol is $s"; fi
}
redo_vdetach() {
	[ "$(state_of "$vol")" = available ] || nctl volume detach "$vol" >/dev/null || fail "the retry of detach failed"
}
pre_vdelete() {
	vol_create_args fi-d
	v2=$(nctl "${args[@]}" | awk '{ print $1 }')
	args=(volume delete "$v2")
	[ -n "$v2" ] || fail "create failed"
}
post_vdelete() {
	local s
	s=$(state_of "$v2")
	if [ "$rc" = 0 ]; then [ "$s" = gone ] || fail "exit 0, but $v2 is $s"; else [ "$s" = available ] || fail "refused, but $v2 is $s"; fi
}
redo_vdelete() {
	[ "$(state_of "$v2")" = gone ] || nctl volume delete "$v2" >/dev/null || fail "the retry of delete failed"
}

# Hosts: create on $addr2, delete.
pre_hcreate() { args=(host create --underlay $addr2 --netns $ns); }
post_hcreate() {
	local h
	h=$(sed -En '1s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p' <<<"$out")
	if [ "$rc" = 0 ]; then
		[ -n "$h" ] && [ "$hosts" = "$H $h" ] || fail "exit 0 ($out), but the hosts are: $hosts"
	else
		[ "$hosts" = "$H" ] || fail "refused, but the hosts are: $hosts"
	fi
}
redo_hcreate() {
	local h
	h=$(sed -En '1s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p' <<<"$out")
	if [ "$rc" != 0 ]; then
		h=$(nctl host create --underlay $addr2 --netns $ns | sed -En '1s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p')
		[ -n "$h" ] || fail "the retry of create failed"
	fi
	nctl host delete "$h" >/dev/null || fail "delete of host $h failed"
}
pre_hdelete() {
	h2=$(nctl host create --underlay $addr2 --netns $ns | sed -En '1s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p')
	args=(host delete "$h2")
	[ -n "$h2" ] || fail "create failed"
}
post_hdelete() {
	if [ "$rc" = 0 ]; then
		[ "$hosts" = "$H" ] || fail "exit 0, but the hosts are: $hosts"
	else
		[ "$hosts" = "$H $h2" ] || fail "refused, but the hosts are: $hosts"
	fi
}
redo_hdelete() { [ "$rc" = 0 ] || nctl host delete "$h2" >/dev/null || fail "the retry of delete failed"; }

# ENIs on host $H: create (named fi-e), attach (the card names it),
# detach, delete.
pre_ecreate() { args=(eni create --host "$H" --vpc 7 --ip 10.7.0.5 --name fi-e); }
post_ecreate() {
	local id
	id=$(eni_by fi-e)
	if [ "$rc" = 0 ]; then
		[ -n "$id" ] && grep -q "^$id" <<<"$out" || fail "exit 0, but no ENI fi-e listed ($out)"
	else
		[ -z "$id" ] || fail "refused, but $id is listed"
	fi
}
redo_ecreate() {
	local id
	id=$(eni_by fi-e)
	if [ -z "$id" ]; then
		id=$(nctl "${args[@]}" | awk '/^eni-/ { print $1 }')
		[ -n "$id" ] || fail "the retry of create failed"
	fi
	nctl eni delete "$id" >/dev/null || fail "delete of $id failed"
}
pre_eattach() { args=(eni attach "$eni"); }
post_eattach() {
	local s
	s=$(state_of "$eni")
	if [ "$rc" = 0 ]; then [ "$s" = attached ] || fail "exit 0, but $eni is $s"; else [ "$s" = available ] || fail "refused, but $eni is $s"; fi
}
redo_eattach() {
	if [ "$(state_of "$eni")" != attached ]; then
		nctl eni attach "$eni" >/dev/null || fail "the retry of attach failed"
	fi
	nctl eni detach "$eni" >/dev/null || fail "detach failed"
}
pre_edetach() { args=(eni detach "$eni"); nctl eni attach "$eni" fieth0 >/dev/null || fail "attach failed"; }
post_edetach() {
	local s
	s=$(state_of "$eni")
	if [ "$rc" = 0 ]; then [ "$s" = available ] || fail "exit 0, but $eni is $s"; else [ "$s" = attached ] || fail "refused, but $eni is $s"; fi
}
redo_edetach() {
	[ "$(state_of "$eni")" = available ] || nctl eni detach "$eni" >/dev/null || fail "the retry of detach failed"
}
pre_edelete() {
	e2=$(nctl eni create --host "$H" --vpc 7 --ip 10.7.0.6 | awk '/^eni-/ { print $1 }')
	args=(eni delete "$e2")
	[ -n "$e2" ] || fail "create failed"
}
post_edelete() {
	local s
	s=$(state_of "$e2")
	if [ "$rc" = 0 ]; then [ "$s" = gone ] || fail "exit 0, but $e2 is $s"; else [ "$s" = available ] || fail "refused, but $e2 is $s"; fi
}
redo_edelete() {
	[ "$(state_of "$e2")" = gone ] || nctl eni delete "$e2" >/dev/null || fail "the retry of delete failed"
}

# Mappings on host $H: map list, one entry a line.
maps() { nctl map list --host "$H" | grep -c '^7 '; }
pre_mset() { args=(map set --host "$H" --vpc 7 --ip 10.7.0.50 --mac 02:00:00:07:00:50 --underlay 192.0.2.99 --nitro); }
post_mset() {
	local m
	m=$(maps)
	if [ "$rc" = 0 ]; then [ "$m" = 1 ] || fail "exit 0, but $m entries"; else [ "$m" = 0 ] || fail "refused, but $m entries"; fi
}
redo_mset() {
	pre_mset
	nctl "${args[@]}" >/dev/null || fail "the retry of map set failed"
	nctl map delete --host "$H" --vpc 7 --ip 10.7.0.50 >/dev/null || fail "map delete failed"
}
pre_mdel() {
	pre_mset
	nctl "${args[@]}" >/dev/null || fail "map set failed"
	args=(map delete --host "$H" --vpc 7 --ip 10.7.0.50)
}
post_mdel() {
	local m
	m=$(maps)
	if [ "$rc" = 0 ]; then [ "$m" = 0 ] || fail "exit 0, but $m entries"; else [ "$m" = 1 ] || fail "refused, but $m entries"; fi
}
redo_mdel() { [ "$rc" = 0 ] || nctl map delete --host "$H" --vpc 7 --ip 10.7.0.50 >/dev/null || fail "the retry of map delete failed"; }
# An import of 40 entries: refused part-way, the entries before the one
# that failed are applied (nitroctl says how many), the rest not.
pre_mimport() { args=(map import --host "$H" "$w/maps.txt"); }
post_mimport() {
	local m k
	m=$(maps)
	if [ "$rc" = 0 ]; then
		[ "$m" = 40 ] || fail "exit 0, but $m entries"
	else
		k=$(grep -Eo 'the [0-9]+ entries before it applied' <<<"$out" | grep -Eo '[0-9]+')
		grep -q 'none applied' <<<"$out" && k=0
		[ -n "$k" ] && [ "$m" = "$k" ] || fail "refused after ${k:-?} entries ($out), $m listed"
	fi
}
redo_mimport() {
	nctl map import --host "$H" "$w/maps.txt" >/dev/null || fail "the retry of import failed"
	[ "$(maps)" = 40 ] || fail "after the retry, not 40 entries"
	nctl map import --host "$H" --delete "$w/unmaps.txt" >/dev/null || fail "import --delete failed"
}

# Peer keys on host $H: each run a new peer (keys are never deleted).
peer() { echo "192.0.2.$((100 + runs))"; }
pre_kset() { args=(host key "$H" --peer "$(peer)" --epoch 1 --key-file "$w/k1"); peers0=$(peers); }
peers() { nctl host show "$H" --json | jx 'd["peers"]'; }
post_kset() {
	local p
	p=$(peers)
	if [ "$rc" = 0 ]; then [ "$p" = $((peers0 + 1)) ] || fail "exit 0, but $p peers (was $peers0)"; else [ "$p" = "$peers0" ] || fail "refused, but $p peers (was $peers0)"; fi
}
# The retry with the same epoch: a refused set must not have taken it.
redo_kset() { [ "$rc" = 0 ] || nctl "${args[@]}" >/dev/null || fail "the retry with epoch 1 failed"; }
pre_krot() {
	nctl host key "$H" --peer "$(peer)" --epoch 1 --key-file "$w/k1" >/dev/null || fail "key set failed"
	args=(host key "$H" --peer "$(peer)" --epoch 2 --key-file "$w/k2")
}
post_krot() { return 0; }
redo_krot() { [ "$rc" = 0 ] || nctl "${args[@]}" >/dev/null || fail "the retry with epoch 2 failed (a refused rotation took the epoch?)"; }

# The allowlist again (the same): the gate must stay open.
gate() { nctl firmware show --json | jx 'd["gate"]'; }
pre_fallow() { args=(firmware allow "$w/allow"); }
post_fallow() {
	local g
	g=$(gate)
	[ "$g" = open ] && return 0
	why="the gate is $g"
	# Quarantine is sticky: a fresh chip for the next steps.
	rmmod nitro_sec && load nitro_sec && open_gate
	return 1
}
redo_fallow() { nctl firmware allow "$w/allow" >/dev/null || fail "the retry failed"; }

# Metrics with a volume and an ENI attached (each object is asked).
pre_metrics() { args=(metrics); }
post_metrics() { return 0; }
redo_metrics() { nctl metrics >/dev/null || fail "the retry failed"; }

# Instances (nitrod.large: an instance store volume comes with them).
pre_icreate() { args=(instance create --type nitrod.large --host "$H" --name fi-i -- /bin/true); }
post_icreate() {
	local id
	id=$(inst_by fi-i)
	if [ "$rc" = 0 ]; then
		[ -n "$id" ] && grep -q "^$id" <<<"$out" && [ "$(state_of "$id")" = stopped ] || fail "exit 0 ($out), but no stopped instance fi-i listed"
		[ "$(jx "sum(v.get('instance') == '$id' for v in d)" <<<"$vols")" = 1 ] || fail "$id has no instance store"
	else
		[ -z "$id" ] || fail "refused, but $id is listed"
		[ "$vols" = "$vols0" ] || fail "refused, but the volumes changed: $vols"
	fi
}
redo_icreate() {
	local id
	id=$(inst_by fi-i)
	if [ -z "$id" ]; then
		id=$(nctl "${args[@]}" | awk '/^i-/ { print $1 }')
		[ -n "$id" ] || fail "the retry of create failed"
	fi
	nctl instance terminate "$id" >/dev/null || fail "terminate of $id failed"
	[ "$(nctl volume list --json)" = "$vols0" ] || fail "its instance store is left after terminate"
}
pre_iterm() {
	i2=$(nctl instance create --type nitrod.large --host "$H" --name fi-t -- /bin/true | awk '/^i-/ { print $1 }')
	args=(instance terminate "$i2")
	[ -n "$i2" ] || fail "create failed"
}
post_iterm() {
	local s
	s=$(state_of "$i2")
	if [ "$rc" = 0 ]; then
		[ "$s" = terminated ] && [ "$vols" = "$vols0" ] || fail "exit 0, but $i2 is $s; volumes: $vols"
	else
		[ "$s" = stopped ] || fail "refused, but $i2 is $s"
	fi
}
redo_iterm() {
	[ "$(state_of "$i2")" = terminated ] || nctl instance terminate "$i2" >/dev/null || fail "the retry of terminate failed"
	[ "$(nctl volume list --json)" = "$vols0" ] || fail "the instance store is left after terminate"
}

# --- setup -------------------------------------------------------------

loaded nitro_testcard && rmmod nitro_testcard
# nitroctl runs from the guest's /tmp (RAM), not from the checkout over
# 9p: each run costs a page-in of the binary otherwise.
cp "$N" "$w/nitroctl" && N=$w/nitroctl && NITROCTL=$N
kmod veth
load_all && open_gate
mark_log
# The EBS card's key, as ebs.sh (the firmware loader looks here first).
mkdir -p "$fw/nitro-rs"
head -c 32 /dev/urandom >"$w/card.key"
cp "$w/card.key" "$keyfile"
echo -n "$fw" >/sys/module/firmware_class/parameters/path
rmmod nitro_nvme && load nitro_nvme
"$N" key wrap --card-key "$w/card.key" -o "$w/wrapped"
truncate -s 16M "$w/ebs.img"
head -c 32 /dev/urandom >"$w/k1"
head -c 32 /dev/urandom >"$w/k2"
"$N" firmware show --allowlist >"$w/allow"
for i in $(seq 1 40); do echo "7 10.7.1.$i 02:00:00:07:01:$(printf %02x "$i") 192.0.2.99 nitro"; done >"$w/maps.txt"
for i in $(seq 1 40); do echo "7 10.7.1.$i"; done >"$w/unmaps.txt"
ip netns del $ns 2>/dev/null
ip netns add $ns &&
	ip -n $ns link add u0 type veth peer name u1 &&
	ip -n $ns addr add $addr/24 dev u0 &&
	ip -n $ns addr add $addr2/24 dev u0 &&
	ip -n $ns link set u0 up && ip -n $ns link set u1 up
H=$(nctl host create --underlay $addr --netns $ns | sed -En '1s/^[[:space:]]*([0-9]+)[[:space:]]*$/\1/p')
snap
start_hosts=$hosts
kmemleak_start
mkfifo "$w/fifo"
fault_setup
ok '[ -n "$H" ] && [ "$hosts" = "$H" ] && consistent && [ "$vols" = "[]" ] && [ "$(faults_left)" = 3000000000 ] && [ -n "$(text_range)" ]' \
	"setup: host $H in $ns, the EBS card's key, fault attributes aimed at the nitro modules${why:+: $why}"
vols0=$vols
step "setup"

# A probe of the aim: the first site is the controller's open (its file's
# state), and nitroctl says so.
inject 1 volume create --kind instance --size 16M --name fi-probe
snap
ok '[ "$hit" = 1 ] && [ "$rc" = 3 ] && grep -q "cannot open /dev/nitro_ctrl: Cannot allocate memory" <<<"$out" && [ "$vols" = "$vols0" ]' \
	"the first aimed-at site is the open of /dev/nitro_ctrl: nitroctl exits 3, out of memory, nothing made (exit $rc, $hit injected: $out)"

# --- the sweeps ----------------------------------------------------------

for kind in instance ebs; do
	sweep vcreate "$kind volume create"
	vol_create_args fi-a
	vol=$(nctl "${args[@]}" | awk '{ print $1 }')
	sweep vattach "$kind volume attach"
	sweep vdetach "$kind volume detach"
	nctl volume delete "$vol" >/dev/null
	sweep vdelete "$kind volume delete"
done
sweep hcreate "host create"
sweep hdelete "host delete"
sweep ecreate "ENI create"
eni=$(nctl eni create --host "$H" --vpc 7 --ip 10.7.0.7 --name fi-a | awk '/^eni-/ { print $1 }')
sweep eattach "ENI attach (card-named)"
sweep edetach "ENI detach"
sweep edelete "ENI delete"
sweep mset "map set"
sweep mdel "map delete"
sweep mimport "map import (40 entries, one batch)"
sweep kset "peer key set"
sweep krot "peer key rotation"
sweep fallow "firmware allow"
kind=instance
vol_create_args fi-m
vol=$(nctl "${args[@]}" | awk '{ print $1 }')
nctl volume attach "$vol" fisdm >/dev/null
nctl eni attach "$eni" >/dev/null
sweep metrics "metrics (a volume and an ENI attached)"
nctl volume detach "$vol" >/dev/null && nctl volume delete "$vol" >/dev/null
nctl eni detach "$eni" >/dev/null
snap
vols0=$vols
need_insts=1
sweep icreate "instance create (nitrod.large)"
sweep iterm "instance terminate"

# User copies: the answer of a create cannot be written back.
aim copy
kind=instance
sweep vcreate "volume create, user-copy faults"
sweep ecreate "ENI create, user-copy faults"
sweep hcreate "host create, user-copy faults"
aim alloc

# --- the end -------------------------------------------------------------

fault_reset
nctl eni delete "$eni" >/dev/null
nctl host delete "$H" >/dev/null
snap
ok '[ "$vols" = "[]" ] && [ "$enis" = "[]" ] && [ -z "$hosts" ] && [ -z "$disks" ] && [ -z "$links" ] && [ "$socks" = 0 ] && consistent' \
	"everything made is gone: no volume, ENI, host, disk, netdev or socket left${why:+: $why}"
# Fails if a path frees less than it allocates (kmemleak), on an oops,
# KASAN report, lockdep splat or warning, or if something still holds a
# module (a reference a detach did not drop).
ktap_end_checks
rm -f "$keyfile"
echo -n "" >/sys/module/firmware_class/parameters/path
ip netns del $ns
rm -rf "$w"
step "end"
ktap_done
