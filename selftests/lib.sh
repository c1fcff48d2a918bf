# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the shell selftests: KTAP output and module handling.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NITROCTL=${NITROCTL:-$top/tools/nitroctl/target/release/nitroctl}
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

ko_path() { local d=${1#nitro_}; echo "$top/drivers/nitro_$d/nitro-$d.ko"; }

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

# Kernel log lines printed since mark_log. The mark is the last line
# itself (its timestamp makes it unique), not a count of lines: once the
# ring buffer is full, old lines go as new ones come and the count stays.
# A mark that has left the ring gives every line still in it.
mark_log() { log_mark=$(dmesg | tail -n 1); }
new_log() {
	dmesg | LOG_MARK="$log_mark" awk '
		{ line[NR] = $0; if ($0 == ENVIRON["LOG_MARK"]) at = NR }
		END { for (i = at + 1; i <= NR; i++) print line[i] }'
}

# Attaches volume $1 as device $2 with nitroctl; prints the disk's name
# (the card logs it) once its node exists.
vol_attach() {
	local disk
	"$NITROCTL" volume attach "$1" "$2" >/dev/null || return 1
	disk=$(dmesg | sed -n "s/.*$1 attached as \(nitro[0-9]*n1\) .*/\1/p" | tail -1)
	udevadm settle 2>/dev/null
	[ -b "/dev/$disk" ] && echo "$disk"
}

# Opens the boot gate by vouching for the current measurements (trust on
# first use: the firmware selftests check the measurements themselves).
open_gate() {
	"$NITROCTL" firmware show --allowlist >/tmp/nitro-allow &&
		"$NITROCTL" firmware allow /tmp/nitro-allow >/dev/null
}
