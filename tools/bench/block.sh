#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, in the guest (non-debug kernel): the block card's data path
# against the kernel's own, side by side in one VM, as ratios (the VM runs
# under TCG: absolute numbers mean nothing). fio 4k random read and write at
# queue depth 1 and 32, and 128k sequential read and write, on:
#   nitro     an instance-storage volume (AES-256-XTS in the card)
#   brd       a RAM disk, no crypto
#   dmc       dm-crypt aes-xts-plain64 over brd, default (work queues)
#   dmc-nowq  the same with no_read_workqueue,no_write_workqueue
#   null_blk  no data at all (the ceiling), and rnull (its Rust twin)
# Every device with data is written full first, so that reads decrypt real
# ciphertext (a block never written reads as zeros without any work).
# Targets (issue 4): nitro >= 1.2x the better dm-crypt on every workload,
# and >= 70% of brd on 4k random reads.
source "$(dirname "$0")/../../selftests/lib.sh"
set -e

RUNTIME=${BENCH_RUNTIME:-5}
MB=128
N=$NITROCTL
load_all
open_gate >/dev/null
kmod brd rd_nr=3 rd_size=$((MB * 1024))
kmod dm-crypt
kmod null_blk nr_devices=1 gb=1 bs=4096
kmod rnull_mod || true

head -c 64 /dev/urandom >/tmp/bench.key
crypt() {
	cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --sector-size 4096 \
		--key-file /tmp/bench.key "$@"
}
crypt /dev/ram1 dmc
crypt --perf-no_read_workqueue --perf-no_write_workqueue /dev/ram2 dmcnowq
vol=$($N volume create --kind instance --size ${MB}M | awk '{print $1}')
$N volume attach "$vol" sdb >/dev/null
nitro=$(dmesg | sed -n "s/.*$vol attached as \(nitro[0-9]*n1\) .*/\1/p" | tail -1)
rnull=
if [ -d /sys/kernel/config ] && { mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config; } &&
	[ -d /sys/kernel/config/rnull ]; then
	before=$(ls /sys/block)
	mkdir /sys/kernel/config/rnull/bench &&
		echo 4096 >/sys/kernel/config/rnull/bench/blocksize &&
		echo 1 >/sys/kernel/config/rnull/bench/power
	rnull=$(comm -13 <(echo "$before") <(ls /sys/block) | head -1)
fi

names=(nitro brd dmc dmc-nowq null_blk)
devs=(/dev/$nitro /dev/ram0 /dev/mapper/dmc /dev/mapper/dmcnowq /dev/nullb0)
if [ -n "$rnull" ]; then names+=(rnull); devs+=("/dev/$rnull"); fi

for d in "${devs[@]:0:4}"; do
	fio --name=fill --filename="$d" --rw=write --bs=1M --size=${MB}M --direct=1 \
		--ioengine=libaio --iodepth=4 --output=/dev/null
done

# name rw bs qd: one workload; prints IOPS (4k) or MiB/s (128k).
run() {
	fio --name=b --filename="$1" --rw="$2" --bs="$3" --iodepth="$4" --size=${MB}M \
		--direct=1 --ioengine=libaio --time_based --runtime="$RUNTIME" --ramp_time=1 \
		--norandommap --randrepeat=0 --output-format=json 2>/dev/null |
		python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
side = j["read"] if j["read"]["io_bytes"] else j["write"]
print(round(side["iops"]) if sys.argv[1] == "4k" else round(side["bw_bytes"] / 2**20, 1))
' "$3"
}

workloads=("randread 4k 1" "randread 4k 32" "randwrite 4k 1" "randwrite 4k 32" "read 128k 8" "write 128k 8")
declare -A r
for w in "${workloads[@]}"; do
	for i in "${!devs[@]}"; do
		# shellcheck disable=SC2086
		r["$w|${names[i]}"]=$(run "${devs[i]}" $w)
	done
done

echo
echo "== block card vs the kernel's block devices: $(nproc) vCPUs, $(uname -r), fio ${RUNTIME}s each"
echo "   each device as % of brd (same VM, same run); last columns: the targets"
printf '%-16s' workload
for n in "${names[@]}"; do printf '%10s' "$n"; done
printf '%14s %10s\n' "nitro/dm-crypt" "verdict"
fail=0
for w in "${workloads[@]}"; do
	printf '%-16s' "${w// /-}"
	b=${r["$w|brd"]}
	for n in "${names[@]}"; do
		printf '%9s%%' "$(python3 -c "print(round(100 * $(echo "${r["$w|$n"]}") / $b))")"
	done
	best=$(python3 -c "print(max(${r["$w|dmc"]}, ${r["$w|dmc-nowq"]}))")
	x=$(python3 -c "print(round(${r["$w|nitro"]} / $best, 2))")
	verdict=ok
	python3 -c "import sys; sys.exit(0 if $x >= 1.2 else 1)" || verdict="MISS(1.2x)"
	if [ "$w" = "randread 4k 1" ] || [ "$w" = "randread 4k 32" ]; then
		python3 -c "import sys; sys.exit(0 if ${r["$w|nitro"]} >= 0.7 * $b else 1)" ||
			verdict="$verdict MISS(70% brd)"
	fi
	[ "$verdict" = ok ] || fail=1
	printf '%13sx %10s\n' "$x" "$verdict"
done
echo "(4k workloads compare IOPS, 128k workloads MiB/s; null_blk and rnull carry no data: the ceiling)"
[ $fail = 0 ] && echo "block targets: all met" || echo "block targets: NOT all met"

cryptsetup close dmc
cryptsetup close dmcnowq
$N volume detach "$vol" >/dev/null && $N volume delete "$vol" >/dev/null
if [ -n "$rnull" ]; then echo 0 >/sys/kernel/config/rnull/bench/power; rmdir /sys/kernel/config/rnull/bench; fi
rmmod null_blk brd 2>/dev/null || true
