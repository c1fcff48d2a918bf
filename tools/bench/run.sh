#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, in the guest (non-debug kernel): the controller's control-plane
# throughput and latency, and the time of `nitroctl volume list` with 10,000
# volumes. Uses nitro_testcard to answer the bus, as the selftests do. Then
# block.sh: the block card's data path against brd, dm-crypt and null_blk;
# net.sh: the VPC card's sealed path against veth, geneve, ESP and WireGuard;
# launch.sh: instance launch and stop against the same isolation by hand.
source "$(dirname "$0")/../../selftests/lib.sh"
set -e

for m in nitro_net nitro_nvme; do loaded "$m" && rmmod "$m"; done
load nitro_ctrl; load nitro_sec
loaded nitro_testcard || insmod "$top/selftests/nitro_testcard/nitro-testcard.ko"
open_gate
bench=$top/tools/bench/ctrl_bench

echo "== control plane: $(nproc) vCPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
"$bench"

"$bench" fill 10000
# Median wall time of a command, in ms, over 5 runs on CPU 0.
median_ms() {
	local i s e
	for i in 1 2 3 4 5; do
		s=$(date +%s%N)
		taskset -c 0 "$@" >/dev/null
		e=$(date +%s%N)
		echo $(( (e - s) / 1000000 ))
	done | sort -n | sed -n 3p
}
ioctl_ms=$(for i in 1 2 3 4 5; do "$bench" list | cut -d' ' -f2; done | sort -n | sed -n 3p)
n=$("$NITROCTL" volume list | tail -n +2 | wc -l)
echo
echo "== listing 10,000 volumes (median of 5; process start-up shown for scale)"
printf '%-44s %10s\n' "what" "ms"
printf '%-44s %10s\n' "NITRO_IOC_VOLUME_LIST, pages of 4096" "$ioctl_ms"
printf '%-44s %10s\n' "nitroctl volume list (whole process, table)" "$(median_ms "$NITROCTL" volume list)"
printf '%-44s %10s\n' "nitroctl volume list --json" "$(median_ms "$NITROCTL" volume list --json)"
printf '%-44s %10s\n' "nitroctl version (start-up, one ioctl)" "$(median_ms "$NITROCTL" version)"
printf '%-44s %10s\n' "/bin/true (process spawn)" "$(median_ms /bin/true)"
echo "(nitroctl listed $n volumes)"
"$bench" clean
rmmod nitro_testcard
load_all

"$(dirname "$0")/block.sh"
"$(dirname "$0")/net.sh"
"$(dirname "$0")/launch.sh"
