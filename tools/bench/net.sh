#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, in the guest (non-debug kernel): the VPC card's data path
# against the kernel's own, side by side in one VM, as ratios (the VM runs
# under TCG: absolute numbers mean nothing). Each path joins two network
# namespaces (the guests) and is measured with iperf3 (TCP, one stream,
# Mbit/s) and a TCP request/response rate (rr.py: 1-byte request, 1-byte
# response, TCP_NODELAY, transactions/s). Every path runs over the same
# underlay, a veth of MTU U between two namespaces, once for each U of
# BENCH_NET_MTUS (default 1500 and 9001); the guests' MTU is U less what the
# path adds, so that no path sends an IP fragment:
#   veth      the guests on the veth itself: MTU U, nothing added
#   geneve    stock geneve (VNI 42), no crypto: MTU U - 50
#   esp       xfrm ESP transport mode, rfc4106(gcm(aes)) with a 256-bit key
#             and a 128-bit tag: MTU U (transport mode: the stack takes ESP's
#             overhead off the route's MTU, TCP's segments come out smaller)
#   wg        WireGuard (needs `wg`, from wireguard-tools): MTU U - 60
#   ours      nitro_net: two Nitro hosts (namespaces hA, hB on the veth), one
#             ENI on each moved into guest namespaces gA, gB, a shared key,
#             --nitro mappings: the sealed cross-host path, ENI MTU U - 94
#             (80 of the card's, 14 of the inner Ethernet header)
# Every guest sends TSO/GSO super-packets; each path cuts them into packets
# of its MTU before it seals them (ESP and WireGuard in software GSO, ours in
# the card, into datagrams that fit the route, DF set).
# And the crypto limit: the kernel's AES-256-GCM on one CPU (tcrypt,
# CONFIG_CRYPTO_BENCHMARK in the bench kernel) at the size our path seals at
# that MTU (U - 80 bytes, the inner frame: 1420 at 1500; at 9001, 8921, of
# which tcrypt's nearest size is 8192), measured before and after the paths;
# each direction counts its faster reading. The table says how many CPUs a
# path can seal one flow on: ESP one each way (the sender's context, the
# receiver's softirq; cryptd's when the FPU is taken), ours one each way (the sending host's transmit
# worker, the receiving host's receive worker), WireGuard all of them (its
# per-CPU crypt workers, one flow's packets put back in order): the limit
# is the one-CPU rate, the rate of the CPUs our path can use.
# Targets (issue 19): ours >= 1.2x xfrm ESP, and ours >= 60% of the crypto
# limit (in Mbit/s), at every MTU.
# Tables at scale, over the first MTU of BENCH_NET_MTUS (BENCH_NET_SCALE=0
# skips it): the sealed path measured again once both hosts hold 1,000,000
# mapping entries (999,999 more, in the ENIs' VPC, imported with `nitroctl
# map import`) and 65,536 keyed peers (65,535 more, by ctrl_bench peers);
# the import rate (entries/s through nitroctl and NITRO_IOC_MAP_BATCH), the
# key install rate, and the time of `nitroctl map list` of a whole table.
# Targets: throughput and RR rate with the full tables within 5% of those
# with one entry; >= 100,000 entries/s imported.
#
# Standalone in the guest: tools/bench/net.sh (BENCH_RUNTIME=seconds per
# measurement, default 5; BENCH_NET_PATHS="veth esp ours" for a subset;
# BENCH_NET_MTUS="1500" for one underlay MTU;
# BENCH_RPS=1 spreads every veth's receive over all CPUs, on every path;
# BENCH_PERF=1 profiles the sealed path's iperf3 run with `perf record -a
# -g` and prints its top symbols and its split by CPU and task after the
# table: where the time goes, and how much of it is idle).
# shellcheck disable=SC2317 # path_* (called by name) and cleanup (a trap)
source "$(dirname "$0")/../../selftests/lib.sh"

RUNTIME=${BENCH_RUNTIME:-5}
read -r -a paths <<<"${BENCH_NET_PATHS:-veth geneve esp wg ours}"
read -r -a mtus <<<"${BENCH_NET_MTUS:-1500 9001}"
N=$NITROCTL
here=$top/tools/bench
VPC=42
IPERF_PORT=5201
RR_PORT=5301
NAMESPACES=(sA sB hA hB gA gB)

tmp=$(mktemp -d /tmp/netbench.XXXXXX)
srv=      # the background server we started, while it runs
enis=()   # ENIs we created
hosts=()  # VPC card hosts we created
declare -A tput rr note # by PATH/MTU
declare -A scale         # the tables-at-scale figures
# calc EXPR: python's value of EXPR (the measurements use it too).
calc() { python3 -c "print($1)"; }
ours_counters=()        # what the card counted, a line per MTU

cleanup() {
	local e h
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	for e in "${enis[@]}"; do
		timeout 20 "$N" eni detach "$e" >/dev/null 2>&1
		timeout 20 "$N" eni delete "$e" >/dev/null 2>&1
	done
	for h in "${hosts[@]}"; do timeout 20 "$N" host delete "$h" >/dev/null 2>&1; done
	delns "${NAMESPACES[@]}"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# step CMD...: one setup step, with a timeout; its stdout passes through;
# on failure says which step and why (stderr) and returns non-zero.
step() {
	local rc
	timeout 20 "$@" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 0 ]; then
		echo "net.sh: exit $rc: $*: $(head -c 400 "$tmp/err" | tr '\n' ' ')" >&2
		return 1
	fi
}

delns() {
	local n
	for n in "$@"; do
		[ -e "/run/netns/$n" ] && timeout 20 ip netns del "$n"
	done
	return 0
}

mkns() {
	local n
	for n in "$@"; do
		step ip netns add "$n" && step ip -n "$n" link set lo up || return 1
	done
}

# veth A NSA ADDRA B NSB ADDRB MTU: a veth pair between two namespaces, up,
# with a /24 address on each end.
veth() {
	step ip link add name "$1" mtu "$7" netns "$2" type veth peer name "$4" mtu "$7" netns "$5" &&
		step ip -n "$2" addr add "$3/24" dev "$1" && step ip -n "$2" link set "$1" up &&
		step ip -n "$5" addr add "$6/24" dev "$4" && step ip -n "$5" link set "$4" up &&
		rps "$2" "$1" && rps "$5" "$4"
}

# rps NS DEV: with BENCH_RPS=1, received packets of DEV are spread over all
# CPUs (receive packet steering), on every path alike.
rps() {
	[ "${BENCH_RPS:-0}" = 1 ] || return 0
	local mask
	mask=$(printf '%x' $(((1 << $(nproc)) - 1)))
	ip netns exec "$1" sh -c "for q in /sys/class/net/$2/queues/rx-*; do echo $mask > \$q/rps_cpus; done"
}

# pair MTU: the two stock guests, sA and sB, joined by veth vA-vB of that MTU,
# 10.98.0.1 and 10.98.0.2.
pair() {
	delns sA sB
	mkns sA sB && veth vA sA 10.98.0.1 vB sB 10.98.0.2 "$1"
}

# Loads modules of the kernel itself; on failure, notes it for $1 (PATH/MTU).
need() {
	local p=$1 m
	shift
	for m in "$@"; do
		if ! kmod "$m" 2>"$tmp/err"; then
			note[$p]="n/a (module $m not loadable: $(head -1 "$tmp/err"))"
			return 1
		fi
	done
}

# Waits (5 s at most) for a TCP listener on port $2 in namespace $1.
listening() {
	local i
	for i in $(seq 50); do
		timeout 5 ip netns exec "$1" ss -ltnH "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# Ends the server we started (if it has not ended by itself).
stop() {
	kill "$srv" 2>/dev/null
	wait "$srv" 2>/dev/null
	srv=
}

# measure PATH CLIENT_NS SERVER_NS SERVER_ADDR: iperf3 TCP throughput in
# Mbit/s, then the request/response rate, from the client namespace to the
# server's address. Sets tput[PATH] and rr[PATH] ("failed" if they could not
# be measured).
measure() {
	local p=$1 c=$2 s=$3 a=$4 out prof=()
	timeout $((RUNTIME + 60)) ip netns exec "$s" iperf3 -s -1 -p "$IPERF_PORT" >/dev/null 2>&1 &
	srv=$!
	if listening "$s" "$IPERF_PORT"; then
		# The profile spans exactly the client's run: perf starts it once
		# it records (perf takes seconds to start under TCG).
		[ "${p%/*}" = ours ] && [ "${BENCH_PERF:-0}" = 1 ] &&
			prof=(perf record -q -a -g -o "$tmp/perf.${p#*/}.data" --)
		out=$(timeout $((RUNTIME + 60)) "${prof[@]}" ip netns exec "$c" \
			iperf3 -c "$a" -p "$IPERF_PORT" -t "$RUNTIME" -f m -J --connect-timeout 5000 \
			2>"$tmp/perf.err")
		tput[$p]=$(python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
if "error" in j:
    sys.exit(j["error"])
print(round(j["end"]["sum_received"]["bits_per_second"] / 1e6, 1))
' <<<"$out" 2>"$tmp/err") || {
			tput[$p]=failed
			echo "net.sh: $p: iperf3: $(head -c 300 "$tmp/err")" >&2
		}
	else
		tput[$p]=failed
		echo "net.sh: $p: the iperf3 server did not start" >&2
	fi
	stop

	timeout $((RUNTIME + 60)) ip netns exec "$s" python3 "$here/rr.py" server 0.0.0.0 "$RR_PORT" \
		>/dev/null 2>&1 &
	srv=$!
	if listening "$s" "$RR_PORT"; then
		rr[$p]=$(timeout $((RUNTIME + 30)) ip netns exec "$c" \
			python3 "$here/rr.py" client "$a" "$RR_PORT" "$RUNTIME" 2>"$tmp/err") || {
			rr[$p]=failed
			echo "net.sh: $p: rr.py: $(tail -1 "$tmp/err")" >&2
		}
	else
		rr[$p]=failed
		echo "net.sh: $p: the rr.py server did not start" >&2
	fi
	stop
}

# --- the paths ---------------------------------------------------------------

# path_NAME U: sets up path NAME over an underlay of MTU U, measures it as
# NAME/U, takes it down.
path_veth() {
	need "veth/$1" veth && pair "$1" || return 1
	measure "veth/$1" sA sB 10.98.0.2
	delns sA sB
}

path_geneve() {
	need "geneve/$1" veth geneve && pair "$1" || return 1
	step ip -n sA link add gnv0 mtu $(($1 - 50)) type geneve id "$VPC" remote 10.98.0.2 &&
		step ip -n sB link add gnv0 mtu $(($1 - 50)) type geneve id "$VPC" remote 10.98.0.1 &&
		step ip -n sA addr add 10.2.0.1/24 dev gnv0 && step ip -n sA link set gnv0 up &&
		step ip -n sB addr add 10.2.0.2/24 dev gnv0 && step ip -n sB link set gnv0 up || return 1
	measure "geneve/$1" sA sB 10.2.0.2
	delns sA sB
}

# esp_policy NS SRC DST DIR REQID: transport-mode ESP required from SRC to DST.
esp_policy() {
	step ip -n "$1" xfrm policy add src "$2/32" dst "$3/32" dir "$4" \
		tmpl src "$2" dst "$3" proto esp reqid "$5" mode transport
}

path_esp() {
	local k1 k2 ns
	need "esp/$1" veth xfrm_user esp4 && pair "$1" || return 1
	# 36 bytes: the AES-256 key, then the 4-byte salt of rfc4106.
	k1=$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')
	k2=$(od -An -tx1 -N36 /dev/urandom | tr -d ' \n')
	for ns in sA sB; do
		step ip -n "$ns" xfrm state add src 10.98.0.1 dst 10.98.0.2 proto esp spi 0x1001 reqid 1 \
			mode transport replay-window 32 aead 'rfc4106(gcm(aes))' "0x$k1" 128 &&
			step ip -n "$ns" xfrm state add src 10.98.0.2 dst 10.98.0.1 proto esp spi 0x1002 reqid 2 \
				mode transport replay-window 32 aead 'rfc4106(gcm(aes))' "0x$k2" 128 || return 1
	done
	esp_policy sA 10.98.0.1 10.98.0.2 out 1 && esp_policy sA 10.98.0.2 10.98.0.1 in 2 &&
		esp_policy sB 10.98.0.2 10.98.0.1 out 2 && esp_policy sB 10.98.0.1 10.98.0.2 in 1 || return 1
	measure "esp/$1" sA sB 10.98.0.2
	delns sA sB
}

path_wg() {
	local u=$1 ns peer addr i
	if ! command -v wg >/dev/null; then
		note[wg/$u]="n/a (wireguard-tools not in the dev root)"
		return 1
	fi
	need "wg/$u" veth wireguard && pair "$u" || return 1
	for ns in sA sB; do
		wg genkey >"$tmp/wg-$ns" && wg pubkey <"$tmp/wg-$ns" >"$tmp/wg-$ns.pub" || return 1
	done
	for i in 1 2; do
		if [ "$i" = 1 ]; then ns=sA peer=sB addr=10.98.0.2; else ns=sB peer=sA addr=10.98.0.1; fi
		step ip -n "$ns" link add wg0 mtu $((u - 60)) type wireguard &&
			step ip netns exec "$ns" wg set wg0 listen-port 51820 private-key "$tmp/wg-$ns" \
				peer "$(cat "$tmp/wg-$peer.pub")" allowed-ips "10.4.0.$((3 - i))/32" \
				endpoint "$addr:51820" &&
			step ip -n "$ns" addr add "10.4.0.$i/24" dev wg0 && step ip -n "$ns" link set wg0 up || return 1
	done
	measure "wg/$u" sA sB 10.4.0.2
	delns sA sB
}

# The number `nitroctl host create` prints (the first number that is not
# part of an IPv4 address).
host_number() { sed -E 's/[0-9]+(\.[0-9]+){3}//g' | grep -oE '[0-9]+' | head -1; }

# ours_side X UNDERLAY ENI_IP MAC: host X on UNDERLAY in namespace hX, and
# an ENI of VPC $VPC with ENI_IP and MAC on it. Sets host_X and eni_X.
ours_side() {
	local x=$1 out h e
	out=$(step "$N" host create --underlay "$2" --netns "h$x") || return 1
	h=$(host_number <<<"$out")
	[ -n "$h" ] || { echo "net.sh: host create printed no host number: $out" >&2; return 1; }
	hosts+=("$h")
	out=$(step "$N" eni create --vpc "$VPC" --ip "$3" --mac "$4" --host "$h") || return 1
	e=$(awk '{print $1}' <<<"$out")
	enis+=("$e")
	printf -v "host_$x" %s "$h"
	printf -v "eni_$x" %s "$e"
}

# ours_guest X ENI_IP MTU: attaches ENI X as nbX (made in hX) and moves it
# into guest gX, up with ENI_IP/24 and that MTU. No IPv6 in the guest: the
# card carries only
# IPv4 and ARP, router solicitations would only count as drops.
ours_guest() {
	local x=$1 e=eni_$1
	timeout 20 ip netns exec "g$x" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
	step "$N" eni attach "${!e}" "nb$x" >/dev/null &&
		step ip -n "h$x" link set "nb$x" netns "g$x" &&
		step ip -n "g$x" addr add "$2/24" dev "nb$x" && step ip -n "g$x" link set "nb$x" mtu "$3" up
}

# gen_maps N: N mapping lines for `nitroctl map import`: VPC $VPC,
# 10.128.0.1 on, MACs 02:02:..., each to one of the peers ctrl_bench keys.
gen_maps() {
	python3 -c '
import sys
n, vpc = int(sys.argv[1]), int(sys.argv[2])
w = sys.stdout.write
for i in range(n):
    a = 0x0A800000 + i + 1
    m = 0x020200000000 + i
    p = i % 65535
    w("%d %d.%d.%d.%d %s 198.%d.%d.%d nitro\n" % (
        vpc, a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
        ":".join("%02x" % ((m >> s) & 255) for s in range(40, -8, -8)),
        18 + ((p // 255) >> 8), (p // 255) & 255, p % 255 + 1))
' "$1" "$VPC"
}

# scale_fill H: fills host H's tables to 1,000,000 mapping entries and
# 65,536 keyed peers (it holds one of each); records the rates.
scale_fill() {
	local h=$1 t0 t1 n
	[ -s "$tmp/maps" ] || gen_maps 999999 >"$tmp/maps"
	t0=$(date +%s%N)
	timeout 600 "$N" map import --host "$h" "$tmp/maps" >/dev/null || return 1
	t1=$(date +%s%N)
	scale[import_$h]=$(calc "round(999999 / (($t1 - $t0) / 1e9))")
	scale[keys_$h]=$(timeout 600 "$here/ctrl_bench" peers "$h" 65535) || return 1
	t0=$(date +%s%N)
	n=$(timeout 600 "$N" map list --host "$h" | wc -l)
	t1=$(date +%s%N)
	scale[list_$h]=$(calc "round(($t1 - $t0) / 1e9, 2)")
	scale[listed_$h]=$n
}

path_ours() {
	local u=$1 p=ours/$1 key=$tmp/pair.key drv sealed e h c
	if ! loaded nitro_net; then
		note[$p]="failed (nitro_net is not loaded)"
		return 1
	fi
	need "$p" veth || return 1
	delns hA hB gA gB
	mkns hA hB gA gB && veth uA hA 10.99.0.1 uB hB 10.99.0.2 "$u" || return 1
	ours_side A 10.99.0.1 10.1.0.1 02:00:00:00:01:01 &&
		ours_side B 10.99.0.2 10.1.0.2 02:00:00:00:01:02 || return 1
	head -c 32 /dev/urandom >"$key"
	# shellcheck disable=SC2154 # host_A, host_B: set by ours_side
	step "$N" host key "$host_A" --peer 10.99.0.2 --epoch 1 --key-file "$key" >/dev/null &&
		step "$N" host key "$host_B" --peer 10.99.0.1 --epoch 1 --key-file "$key" >/dev/null &&
		step "$N" map set --host "$host_A" --vpc "$VPC" --ip 10.1.0.2 --mac 02:00:00:00:01:02 \
			--underlay 10.99.0.2 --nitro >/dev/null &&
		step "$N" map set --host "$host_B" --vpc "$VPC" --ip 10.1.0.1 --mac 02:00:00:00:01:01 \
			--underlay 10.99.0.1 --nitro >/dev/null || return 1
	ours_guest A 10.1.0.1 $((u - 94)) && ours_guest B 10.1.0.2 $((u - 94)) || return 1
	drv=$(timeout 20 ip netns exec gA ethtool -i nbA 2>/dev/null | awk '$1 == "driver:" {print $2}')
	measure "$p" gA gB 10.1.0.2
	if [ "${BENCH_NET_SCALE:-1}" = 1 ] && [ "$u" = "${mtus[0]}" ]; then
		if scale_fill "$host_A" && scale_fill "$host_B"; then
			measure "ours-full/$u" gA gB 10.1.0.2
			scale[maps]=$(timeout 20 "$N" host show "$host_A" 2>/dev/null |
				awk '$1 == "maps" || $1 == "maps:" {print $2}')
			scale[mtu]=$u
		else
			note[ours-full/$u]="failed (filling the tables)"
		fi
	fi
	timeout 20 ip netns exec gA ethtool -S nbA >"$tmp/eth" 2>/dev/null
	timeout 20 "$N" host show "$host_A" >"$tmp/host" 2>/dev/null
	c="underlay $u, nbA: driver ${drv:-?}; ethtool -S nbA:"
	c+=$(awk '$2 != 0 && $1 ~ /:$/ {printf " %s %s", $1, $2}' "$tmp/eth")
	c+="; nitroctl host show $host_A:"
	c+=$(awk '$1 ~ /^(tx|rx)_/ && $2 != 0 {printf " %s %s", $1, $2}' "$tmp/host")
	# The underlay's fragment counters (IpFragCreates, IpReasmReqds): 0 if
	# every datagram fitted.
	c+="; fragments: hA $(frags hA), hB $(frags hB)"
	ours_counters+=("$c")
	sealed=$(awk '$1 == "tx_sealed:" {print $2}' "$tmp/eth")
	[ -n "$sealed" ] || sealed=$(awk '$1 == "tx_sealed" {print $2}' "$tmp/host")
	# Only the sealed path counts: a figure with nothing sealed is not ours.
	if [ -z "$sealed" ]; then
		echo "net.sh: ours: neither ethtool -S nor host show gives tx_sealed: cannot check the path was sealed" >&2
	elif [ "$sealed" = 0 ]; then
		note[$p]="failed (tx_sealed 0 after the run: not the sealed path)"
		tput[$p]="" rr[$p]=""
	fi
	for e in "${enis[@]}"; do
		timeout 20 "$N" eni detach "$e" >/dev/null 2>&1
		timeout 20 "$N" eni delete "$e" >/dev/null 2>&1
	done
	enis=()
	for h in "${hosts[@]}"; do timeout 20 "$N" host delete "$h" >/dev/null 2>&1; done
	hosts=()
	delns hA hB gA gB
}

# --- run ---------------------------------------------------------------------

load_all 2>/dev/null || echo "net.sh: loading the nitro-rs modules failed (see dmesg)" >&2
open_gate >/dev/null 2>&1 || echo "net.sh: could not open the boot gate" >&2

# The crypto limit: the kernel's own AES-256-GCM ("gcm(aes)", the
# implementation xfrm and nitro_net get), one CPU, no syscalls: tcrypt's
# AEAD speed test (mode 211; the module always refuses to stay loaded, by
# design). Measured twice, before and after the paths: a busy host only ever
# slows a reading down, so each direction's faster reading is the cipher's
# speed (and the stricter limit for the ratio).
# gcm_run N: one tcrypt run, its log in $tmp/gcm.N.
gcm_run() {
	mark_log
	timeout 300 modprobe -d /tmp/nitro-kernel/.virtme_mods -S "$(ls /tmp/nitro-kernel/.virtme_mods/lib/modules 2>/dev/null | head -1)" \
		tcrypt mode=211 sec=1 2>/dev/null || timeout 300 modprobe tcrypt mode=211 sec=1 2>/dev/null
	new_log | sed 's/^\[[ 0-9.]*\] //' >"$tmp/gcm.$1"
}
# seal_size U: the tcrypt size for an underlay of MTU U: the largest size
# tcrypt measured (its aead_sizes, in its log) not above what our path seals
# per datagram there (U - 80: the inner frame).
seal_size() {
	sed -n 's/.*256 bit key, \([0-9]*\) byte blocks.*/\1/p' "$tmp/gcm.1" |
		awk -v max=$(($1 - 80)) '$1 <= max && $1 > best {best = $1} END {if (best) print best}'
}
# gcm_rate DIRECTION N SIZE: Mbit/s of run N at SIZE, from "testing speed of
# gcm(aes) (DRIVER) encryption" then "test K (256 bit key, SIZE byte
# blocks): OPS operations in 1 seconds (BYTES bytes)".
gcm_rate() {
	awk -v dir="$1" -v size="$3" '
		/testing speed of/ {cur = ($0 ~ "of gcm\\(aes\\) " && $0 ~ dir)}
		cur && $0 ~ "256 bit key, " size " byte blocks" {
			for (i = 1; i <= NF; i++) if ($i == "operations") ops = $(i - 1)
			for (i = 1; i <= NF; i++) if ($i == "seconds") secs = $(i - 1)
		}
		END {if (ops) printf "%.1f\n", ops * size * 8 / 1e6 / secs}' "$tmp/gcm.$2"
}
gcm_run 1

for u in "${mtus[@]}"; do
	if ! [[ $u =~ ^[0-9]+$ ]] || [ "$u" -lt 1280 ] || [ "$u" -gt 9095 ]; then
		echo "net.sh: underlay MTU $u: not in 1280..9095 (an ENI's MTU is at most 9001)" >&2
		continue
	fi
	for p in "${paths[@]}"; do
		case "$p" in
		veth | geneve | esp | wg | ours)
			"path_$p" "$u" || [ -n "${note[$p/$u]}" ] || note[$p/$u]="failed (setup; see above)"
			;;
		*) echo "net.sh: unknown path $p (veth geneve esp wg ours)" >&2 ;;
		esac
	done
done

gcm_run 2
gcm_drv=$(sed -n 's/.*testing speed of gcm(aes) (\([^)]*\)) encryption.*/\1/p' "$tmp/gcm.1" | head -1)
faster() { python3 -c "v = [x for x in (${1:-0}, ${2:-0}) if x]; print(max(v) if v else '')"; }

# --- report ------------------------------------------------------------------

num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
declare -A label=(
	[veth]="veth"
	[geneve]="geneve (plain)"
	[esp]="xfrm ESP rfc4106(gcm(aes)) 256"
	[wg]="WireGuard"
	[ours]="nitro_net, 2 hosts (sealed)"
)
# Guest MTU over an underlay of U, and the CPUs a path seals one flow on.
guest_mtu() {
	case "$1" in
	veth | esp) echo "$2" ;;
	geneve) echo $(($2 - 50)) ;;
	wg) echo $(($2 - 60)) ;;
	ours) echo $(($2 - 94)) ;;
	esac
}
declare -A cpus=([veth]=- [geneve]=- [esp]="1 each way" [wg]="all ($(nproc))" [ours]="1 each way")

fail=0
# verdict NAME VALUE SHOWN GOAL COND
verdict() {
	local v
	if [ -z "$2" ]; then
		v="FAIL (not measured)"
	elif python3 -c "import sys; sys.exit(0 if $5 else 1)"; then
		v=PASS
	else
		v=FAIL
	fi
	[ "$v" = PASS ] || fail=1
	printf '%-32s %10s %10s   %s\n' "$1" "$3" "$4" "$v"
}

echo
echo "== VPC card vs the kernel's tunnels: $(nproc) vCPUs, $(uname -r)"
echo "   iperf3 TCP, 1 stream, ${RUNTIME}s; RR: 1-byte TCP request/response (TCP_NODELAY), ${RUNTIME}s"
echo "   two network namespaces per path on one veth underlay of MTU U; each guest's MTU is U less its path's overhead"
declare -A limit
for u in "${mtus[@]}"; do
	[ -n "${tput[veth/$u]}${tput[ours/$u]}${note[ours/$u]}${tput[esp/$u]}" ] || continue
	size=$(seal_size "$u")
	# Without tcrypt's readings, the size it would have been measured at.
	shown=${size:-$((u - 80))}
	enc1=$(gcm_rate encryption 1 "$size") dec1=$(gcm_rate decryption 1 "$size")
	enc2=$(gcm_rate encryption 2 "$size") dec2=$(gcm_rate decryption 2 "$size")
	enc=$(faster "$enc1" "$enc2") dec=$(faster "$dec1" "$dec2")
	limit[$u]=$(python3 -c "print(min($enc, $dec))" 2>/dev/null)
	echo
	echo "-- underlay MTU $u"
	printf '%-32s %6s %10s %8s %12s  %s\n' path MTU Mbit/s "% veth" "RR trans/s" "crypto CPUs"
	for p in "${paths[@]}"; do
		[ -n "${label[$p]}" ] || continue
		k=$p/$u
		if ! num "${tput[$k]}" && ! num "${rr[$k]}"; then
			printf '%-32s %6s %s\n' "${label[$p]}" "$(guest_mtu "$p" "$u")" "${note[$k]:-failed (see above)}"
			continue
		fi
		pct=-
		if num "${tput[$k]}" && num "${tput[veth/$u]}"; then
			pct="$(calc "round(100 * ${tput[$k]} / ${tput[veth/$u]})")%"
		fi
		printf '%-32s %6s %10s %8s %12s  %s\n' "${label[$p]}" "$(guest_mtu "$p" "$u")" "${tput[$k]:-failed}" \
			"$pct" "${rr[$k]:-failed}" "${cpus[$p]}"
	done
	if num "${limit[$u]}"; then
		printf '%-32s %6s %10s %8s %12s  %s\n' "crypto limit, $shown-byte packets" - "${limit[$u]}" - - 1
	else
		printf '%-32s %6s %s\n' "crypto limit, $shown-byte packets" - "failed (tcrypt)"
	fi
	echo "   (gcm(aes) ${gcm_drv:-driver unknown}, $shown bytes: encryption ${enc1:-?} then ${enc2:-?} Mbit/s, decryption ${dec1:-?} then ${dec2:-?}, before and after the paths; the limit is the slower direction's faster reading)"
done
for c in "${ours_counters[@]}"; do echo "($c)"; done
# smallest PREFIX: the smallest of scale[PREFIX_<host>] (the slower host).
smallest() {
	local key
	for key in "${!scale[@]}"; do [[ $key == "${1}_"* ]] && echo "${scale[$key]}"; done |
		sort -n | head -1
}
if [ -n "${scale[mtu]}${note[ours-full/${mtus[0]}]}" ]; then
	u=${mtus[0]} k=ours-full/${mtus[0]}
	echo
	echo "-- tables at scale, underlay MTU $u: both hosts with 1,000,000 mapping entries and 65,536 keyed peers (host A reports ${scale[maps]:-?} maps)"
	if [ -n "${note[$k]}" ]; then
		echo "   ${note[$k]}"
	else
		printf '%-46s %12s %12s %8s\n' "" "1 entry" "full tables" ratio
		r=-
		num "${tput[ours/$u]}" && num "${tput[$k]}" && r=$(calc "round(${tput[$k]} / ${tput[ours/$u]}, 3)")
		scale[ratio_tput]=$r
		printf '%-46s %12s %12s %8s\n' "sealed path, Mbit/s" "${tput[ours/$u]:-failed}" "${tput[$k]:-failed}" "$r"
		r=-
		num "${rr[ours/$u]}" && num "${rr[$k]}" && r=$(calc "round(${rr[$k]} / ${rr[ours/$u]}, 3)")
		scale[ratio_rr]=$r
		printf '%-46s %12s %12s %8s\n' "sealed path, RR trans/s" "${rr[ours/$u]:-failed}" "${rr[$k]:-failed}" "$r"
		printf '%-46s %12s\n' "map import (nitroctl), entries/s, slower host" "$(smallest import)"
		printf '%-46s %12s\n' "peer keys (NITRO_IOC_PEER_KEY), keys/s" "$(smallest keys)"
		printf '%-46s %12s\n' "nitroctl map list of a full table, s" "$(smallest list)"
		echo "   (map list printed $(smallest listed) lines)"
	fi
fi
if [ "${BENCH_PERF:-0}" = 1 ]; then
	for u in "${mtus[@]}"; do
		echo
		if [ -s "$tmp/perf.$u.data" ]; then
			echo "== profile of the sealed path's iperf3 run over MTU $u (perf record -a -g, all vCPUs; default_idle is idle time)"
			perf report -i "$tmp/perf.$u.data" --no-children --sort sym -g none --stdio 2>/dev/null |
				grep -v -e '^#' -e '^$' | head -25
			echo "-- by task and CPU"
			perf report -i "$tmp/perf.$u.data" --no-children --sort comm,cpu -g none --stdio 2>/dev/null |
				grep -v -e '^#' -e '^$' | head -12
		else
			echo "== no profile over MTU $u: perf record failed ($(head -c 200 "$tmp/perf.err" 2>/dev/null | tr '\n' ' '); perf is linux-perf in the dev root)"
		fi
	done
fi
echo
echo "== targets"
for u in "${mtus[@]}"; do
	x='' y=''
	if num "${tput[ours/$u]}" && num "${tput[esp/$u]}"; then x=$(calc "round(${tput[ours/$u]} / ${tput[esp/$u]}, 2)"); fi
	verdict "ours / xfrm ESP, MTU $u" "$x" "${x:+${x}x}" ">= 1.2x" "${x:-0} >= 1.2"
	if num "${tput[ours/$u]}" && num "${limit[$u]}"; then y=$(calc "round(100 * ${tput[ours/$u]} / ${limit[$u]})"); fi
	verdict "ours / crypto limit, MTU $u" "$y" "${y:+$y%}" ">= 60%" "${y:-0} >= 60"
done
if [ -n "${scale[mtu]}${note[ours-full/${mtus[0]}]}" ]; then
	x=${scale[ratio_tput]}
	num "$x" || x=''
	verdict "full tables / one entry, Mbit/s" "$x" "${x:-}" ">= 0.95" "${x:-0} >= 0.95"
	x=${scale[ratio_rr]}
	num "$x" || x=''
	verdict "full tables / one entry, RR" "$x" "${x:-}" ">= 0.95" "${x:-0} >= 0.95"
	x=$(smallest import)
	num "$x" || x=''
	verdict "map import, entries/s" "$x" "${x:-}" ">= 100000" "${x:-0} >= 100000"
fi
echo "(crypto limit: Mbit/s through gcm(aes) on one CPU at the size our path seals, the slower of encryption and decryption)"
[ $fail = 0 ] && echo "net targets: all met" || echo "net targets: NOT all met"
exit 0
