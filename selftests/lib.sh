# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the shell selftests: KTAP output and module handling.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NITROCTL=${NITROCTL:-$top/tools/nitroctl/target/release/nitroctl}
NITRO_HV=${NITRO_HV:-$top/tools/nitro-hv/target/release/nitro-hv}
# Load order: the controller owns the bus, the cards import its symbols.
MODULES=(nitro_ctrl nitro_sec nitro_nvme nitro_net)

ktap_n=0
ktap_fail=0

ktap_header() { echo "TAP version 13"; echo "1..$1"; }

# ok COND DESCRIPTION: one test result; COND is a shell command.
ok() {
	local desc=$2
	ktap_n=$((ktap_n + 1))
	if eval "$1"; then
		echo "ok $ktap_n $desc"
	else
		echo "not ok $ktap_n $desc"
		ktap_fail=$((ktap_fail + 1))
	fi
}

ktap_done() {
	echo "# $((ktap_n - ktap_fail)) passed, $ktap_fail failed"
	[ "$ktap_fail" = 0 ]
}

# run_test T: runs selftest T (a path from selftests/, as in tests.list) and
# prints its output indented, as a KTAP subtest. Sets test_out (the
# output), test_passed, test_skipped and test_failed (its results), and
# test_broken if it crashed, hung (2400 s: a guard, not a speed limit), or
# ran fewer results than it planned. NITRO_TEST_TIMEOUT moves the guard
# (make soak: 3600).
run_test() {
	local out rc p s f plan
	out=$(cd "$top/selftests" && timeout "${NITRO_TEST_TIMEOUT:-2400}" "./$1" 2>&1)
	rc=$?
	test_out=$out
	echo "$out" | sed 's/^/    /'
	p=$(grep -Ec '^ok [0-9]+' <<<"$out")
	s=$(grep -Ec '^ok [0-9]+.*# SKIP' <<<"$out")
	f=$(grep -Ec '^not ok [0-9]+' <<<"$out")
	plan=$(grep -Eo '^1\.\.[0-9]+' <<<"$out" | head -1 | cut -c4-)
	test_passed=$((p - s)) test_skipped=$s test_failed=$f test_broken=
	if [ "$rc" != 0 ] && [ "$f" = 0 ] || [ -z "$plan" ] || [ "$plan" != $((p + f)) ]; then
		echo "# $1: exit $rc, plan ${plan:-none}, ran $((p + f))"
		test_broken=1
	fi
}

# What the kernel log must not contain: oopses, KASAN and UBSAN reports,
# lockdep splats, warnings, Rust panics.
KLOG_BAD='BUG:|WARNING:|Oops|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|Call Trace:|general protection fault|kernel panic|rust_panic|panicked at'

# memcg_oom_filter: the kernel log on stdin without the OOM reports of
# instances' cgroups (nitro_hv/jail.sh makes one on purpose: an instance's
# memory limit holds). A report runs from "<comm> invoked oom-killer:" to its
# "Memory cgroup out of memory: Killed process" line and is dropped only if
# its constraint line says CONSTRAINT_MEMCG with oom_memcg=/nitro/...; even
# then a line of it that matches $KLOG_BAD for another reason than its stack
# dump ("Call Trace:") stays. A global OOM, or a report with no kill line
# within 400 records, stays whole.
memcg_oom_filter() {
	awk -v other="${KLOG_BAD//|Call Trace:/}" '
	function flush() { printf "%s", buf; inrep = 0; buf = "" }
	/ invoked oom-killer: / { if (inrep) flush(); buf = $0 "\n"; n = 0; inrep = 1; memcg = 0; next }
	inrep {
		buf = buf $0 "\n"; n++
		if ($0 ~ /oom-kill:constraint=CONSTRAINT_MEMCG,.*oom_memcg=\/nitro\//) memcg = 1
		if ($0 ~ /Killed process/) {
			if (memcg && $0 ~ /Memory cgroup out of memory: Killed process/) {
				m = split(buf, l, "\n")
				for (i = 1; i < m; i++) if (l[i] ~ other) print l[i]
				inrep = 0; buf = ""
			} else flush()
		} else if (n > 400) flush()
		next
	}
	{ print }
	END { if (inrep) flush() }'
}

# The .ko file of module $1 (nitro_ctrl, ..., nitro_testcard): in the tree,
# or all in $NITRO_KO_DIR if that is set (make mutants: a mutant's modules).
ko_path() {
	local d=${1#nitro_}
	if [ -n "${NITRO_KO_DIR:-}" ]; then
		echo "$NITRO_KO_DIR/nitro-$d.ko"
	elif [ "$d" = testcard ]; then
		echo "$top/selftests/nitro_testcard/nitro-testcard.ko"
	else
		echo "$top/drivers/nitro_$d/nitro-$d.ko"
	fi
}

loaded() { [ -d "/sys/module/$1" ]; }

# The VPC card's socket comes from the kernel's UDP tunnel helpers (a module
# in the dev kernel, as for geneve): insmod does not resolve that, modprobe does.
load() {
	loaded "$1" && return 0
	if [ "$1" = nitro_net ]; then kmod udp_tunnel || return 1; fi
	insmod "$(ko_path "$1")"
}

unload_all() {
	local i
	for ((i = ${#MODULES[@]} - 1; i >= 0; i--)); do
		if loaded "${MODULES[i]}"; then rmmod "${MODULES[i]}" || return 1; fi
	done
}

load_all() {
	local m
	for m in "${MODULES[@]}"; do load "$m" || return 1; done
}

# Loads a module of the test kernel itself (dm-crypt, brd, null_blk), with
# parameters. tools/vm.sh shares the kernel tree at /tmp/nitro-kernel; on
# another machine, modprobe as usual.
kmod() {
	local mods=/tmp/nitro-kernel/.virtme_mods
	if [ -d "$mods/lib/modules" ]; then
		modprobe -d "$mods" -S "$(ls "$mods/lib/modules" | head -1)" "$@"
	else
		modprobe "$@"
	fi
}

# The kernel log by sequence number (selftests/kmsg.py). A capture started
# first (kmsg_capture: tools/guest.sh, selftests/run.sh) keeps every record in
# $NITRO_KMSG, so what a test looks for is there even after the ring wrapped;
# without one, kmsg.py reads the ring itself.
# -S: the standard library only (kmsg.py needs nothing else), without the
# site packages' start-up.
kmsg() { python3 -S "$top/selftests/kmsg.py" "$@"; }
kmsg_capture() {
	[ -n "${NITRO_KMSG:-}" ] && return 0
	export NITRO_KMSG=/tmp/nitro-kmsg.log
	kmsg capture "$NITRO_KMSG" </dev/null >/dev/null 2>&1 &
	kmsg_capture_pid=$!
}
# mark_log, then new_log: the records logged since the mark (exit 3, after
# them, if some of those were lost). klog: the whole log, from boot.
mark_log() { log_mark=$(kmsg mark); }
new_log() { kmsg since "$log_mark"; }
klog() { kmsg since -1; }

# Attaches volume $1 as device $2 with nitroctl; prints the disk's name
# (the card logs it) once its node exists.
vol_attach() {
	local disk m
	m=$(kmsg mark)
	"$NITROCTL" volume attach "$1" "$2" >/dev/null || return 1
	disk=$(kmsg since "$m" | sed -n "s/.*$1 attached as \(nitro[0-9]*n1\) .*/\1/p" | tail -1)
	udevadm settle 2>/dev/null
	[ -b "/dev/$disk" ] && echo "$disk"
}

# frags NS: IpFragCreates + IpReasmReqds of namespace NS (the counters nstat
# shows, from /proc/net/snmp): IPv4 fragments made or reassembled there.
frags() {
	timeout 20 ip netns exec "$1" awk '/^Ip:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 1; i <= NF; i++) if (n[i] == "FragCreates" || n[i] == "ReasmReqds") s += $i } END { print s + 0 }' /proc/net/snmp
}

# Opens the boot gate by vouching for the current measurements (trust on
# first use: the firmware selftests check the measurements themselves).
open_gate() {
	"$NITROCTL" firmware show --allowlist >/tmp/nitro-allow &&
		"$NITROCTL" firmware allow /tmp/nitro-allow >/dev/null
}

# --- what exists: the controller's lists against the kernel's objects -----

# snap: what the controller lists (volume list, eni list, status; instance
# list if need_insts is set) and what exists (hosts, as fuzz -l reads them
# from the controller; nitro disks in /sys/block; netdevs and UDP sockets on
# port 6081 in the namespaces $SNAP_NS, but lo and $SNAP_IGNORE), checked
# against each other by one python run: why says what disagrees (empty if
# nothing): attached volumes against disks, attached ENIs against netdevs,
# objects in transition or card-lost, each card's count of objects against
# the controller's, hosts against sockets. Sets vols, enis, status, insts
# (JSON), hosts, disks, links, socks; st[ID] is each object's state,
# named[NAME] the id of the live object of that name.
# (selftests/nitro_ctrl/faults.sh, races.sh)
declare -A st named
snap() {
	local d v line n
	local ctl=(timeout 60 "$NITROCTL")
	vols=$("${ctl[@]}" volume list --json) || vols=ERR
	enis=$("${ctl[@]}" eni list --json) || enis=ERR
	status=$("${ctl[@]}" status --json) || status=ERR
	insts='[]'
	[ -n "${need_insts:-}" ] && { insts=$("${ctl[@]}" instance list --json) || insts=ERR; }
	hosts=$("$top/selftests/nitro_ctrl/fuzz" -l 2>/dev/null | while read -r a b; do [ "$a" = host ] && echo "$b"; done | xargs)
	disks=
	for d in /sys/block/nitro*; do
		[ -e "$d/nitro/volume" ] && read -r v <"$d/nitro/volume" && disks+="${d##*/} $v"$'\n'
	done
	links= socks=0
	for n in ${SNAP_NS:-}; do
		links+=" $(ip -n "$n" -o link show | awk -F': ' -v skip=" lo ${SNAP_IGNORE:-} " '{ sub(/@.*/, "", $2); if (index(skip, " " $2 " ") == 0) print $2 }' | xargs)"
		socks=$((socks + $(nsenter --net="/run/netns/$n" awk '$2 ~ /:17C1$/' /proc/net/udp | wc -l)))
	done
	links=$(xargs <<<"$links")
	why=
	st=() named=()
	while IFS= read -r line; do
		case $line in
		"why "*) why=${line#why } ;;
		"obj "*)
			read -r _ v d name <<<"$line"
			st[$v]=$d
			[ "$name" != - ] && named[$name]=$v
			;;
		esac
	done < <(python3 -S - "$vols" "$enis" "$status" "$insts" "$hosts" "$disks" "$links" "$socks" <<-'EOF'
	import json, sys
	a = sys.argv[1:]
	bad = []
	try:
	    vols, enis, status, insts = (json.loads(x) for x in a[0:4])
	except ValueError:
	    print("why a nitroctl list failed")
	    sys.exit()
	for o in vols + enis + insts:
	    live = o["state"] != "terminated"
	    print("obj", o["id"], o["state"], o["name"] if o["name"] and live else "-")
	hosts = a[4].split()
	disks = {v for l in a[5].splitlines() for v in l.split()[1:2]}
	links = set(a[6].split())
	socks = int(a[7])
	att = {v["id"] for v in vols if v["state"] == "attached"}
	if att != disks:
	    bad.append("attached volumes %s, disks of %s" % (sorted(att), sorted(disks)))
	devs = {e["device"] for e in enis if e["state"] == "attached"}
	if devs != links:
	    bad.append("ENIs attached as %s, netdevs %s" % (sorted(devs), sorted(links)))
	odd = [o["id"] + " " + o["state"] for o in vols + enis if o["state"] not in ("available", "attached")]
	odd += [i["id"] + " " + i["state"] for i in insts if i["state"] not in ("stopped", "terminated")]
	if odd:
	    bad.append("in transition or lost: %s" % odd)
	cards = {c["name"]: c["objects"] for c in status["cards"]}
	want = {
	    "nitro_nvme.ebs0": sum(v["kind"] == "ebs" for v in vols),
	    "nitro_nvme.instance0": sum(v["kind"] == "instance" for v in vols),
	    "nitro_net.vpc0": len(hosts) + len(enis),
	}
	for k, n in want.items():
	    if cards.get(k) != n:
	        bad.append("card %s holds %s objects, the controller knows %d" % (k, cards.get(k), n))
	if socks != len(hosts):
	    bad.append("%d hosts (%s), %d sockets on port 6081" % (len(hosts), " ".join(hosts), socks))
	if bad:
	    print("why " + "; ".join(bad))
	EOF
	)
}
consistent() { [ -z "$why" ]; }

# eni_plug ENI HOSTNS GUESTNS ADDR IFNAME: attaches the ENI as IFNAME (in
# its host's namespace), moves the netdev into the guest's, gives it
# ADDR/24, brings it up and waits (5 s at most) for the carrier.
eni_plug() {
	timeout 60 "$NITROCTL" eni attach "$1" "$5" >/dev/null &&
		timeout 30 ip -n "$2" link set dev "$5" netns "$3" &&
		timeout 30 ip -n "$3" addr add "$4/24" dev "$5" &&
		timeout 30 ip -n "$3" link set dev "$5" up || return 1
	for _ in $(seq 50); do
		[ "$(ip netns exec "$3" cat "/sys/class/net/$5/carrier" 2>/dev/null)" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# kmemleak_start: kmemleak=1 if kmemleak runs (NITRO_KMEMLEAK=1), its older
# reports forgotten. "stack=on" (already the default) is refused (EPERM)
# when kmemleak is off; "clear" is not, so it cannot tell.
kmemleak_start() {
	local k=/sys/kernel/debug/kmemleak
	kmemleak=
	if echo stack=on >$k 2>/dev/null; then
		echo scan >$k && echo clear >$k && kmemleak=1
	fi
	return 0
}

# ktap_end_checks: four results ending a test that made and removed
# objects: kmemleak (SKIP when off) reports nothing that nitroctl made or
# whose backtrace has our code; the kernel log since mark_log has no oops,
# KASAN, lockdep report or warning; the modules unload (nothing left holds
# them); and they load again, the gate opened.
# The conditions given to ok are strings it evaluates later (SC2016).
# shellcheck disable=SC2016
ktap_end_checks() {
	local k=/sys/kernel/debug/kmemleak leaks bad out rc
	if [ -n "$kmemleak" ]; then
		echo scan >$k
		sleep 5
		echo scan >$k
		# A report is ours if nitroctl made it or our code is in its backtrace.
		leaks=$(awk '/^unreferenced object/ { if (r != "" && r ~ /comm "nitroctl"|nitro_/) printf "%s", r; r = "" } { r = r $0 "\n" } END { if (r ~ /comm "nitroctl"|nitro_/) printf "%s", r }' $k)
		ok '[ -z "$leaks" ]' "kmemleak: nothing leaked by nitroctl's calls or the nitro modules"
		[ -n "$leaks" ] && head -60 <<<"$leaks" | sed 's/^/# /'
	else
		ktap_n=$((ktap_n + 1))
		echo "ok $ktap_n kmemleak: nothing leaked # SKIP kmemleak is off (boot with NITRO_KMEMLEAK=1)"
	fi
	bad=$(new_log | grep -E "$KLOG_BAD")
	ok '[ -z "$bad" ]' "the kernel log since the start: no oops, KASAN, lockdep report or warning"
	[ -n "$bad" ] && new_log | grep -E -B 5 -A 30 "$KLOG_BAD" | head -80 | sed 's/^/# /'
	out=$(unload_all 2>&1); rc=$?
	ok '[ $rc = 0 ]' "the modules unload (nothing left holds them)${out:+: $out}"
	ok 'load_all && open_gate && "$NITROCTL" status >/dev/null' "and load again, the gate opened"
}
