#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# nvme: an instance-storage disk speaks NVMe through the passthrough ioctls,
# to stock tools. nvme-cli's id-ctrl, id-ns and smart-log read EC2-like
# fields (vendor, model, serial from the volume id, the device name in the
# vendor-specific areas), ebsnvme-id reads them and says it is not EBS,
# passthrough read/write share the block device's data, discard and write
# zeroes free the medium, and bad commands get NVMe status codes or errnos.
# The disk's sysfs attributes feed our udev rule: /dev/disk/by-id links that
# appear on attach and go on detach.
source "$(dirname "$0")/../lib.sh"

ktap_header 16
N=$NITROCTL
js() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }

loaded nitro_testcard && rmmod nitro_testcard
load_all
open_gate
# Install the rule as a package would (here in /run, the guest's scratch).
mkdir -p /run/udev/rules.d && cp "$top/udev/70-nitro-nvme.rules" /run/udev/rules.d/ &&
	udevadm control --reload

vol=$($N volume create --kind instance --size 64M | awk '{print $1}')
disk=$(vol_attach "$vol" sdf)
dev=/dev/$disk
serial=vol${vol#vol-}
link=/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_$serial

attrs=$(cd /sys/block/$disk/nitro && echo "$(cat serial)|$(cat model)|$(cat device)|$(cat volume)")
ok '[ "$attrs" = "$serial|Amazon EC2 NVMe Instance Storage|sdf|$vol" ]' "sysfs: /sys/block/$disk/nitro/{serial,model,device,volume}"
ok '[ "$(readlink -f $link)" = "$dev" ]' "udev: $link -> $dev"

ok 'nvme id-ctrl $dev -o json | js "d[\"vid\"] == 0x1d0f and d[\"ssvid\"] == 0x1d0f and d[\"sn\"].strip() == \"$serial\" and d[\"mn\"].strip() == \"Amazon EC2 NVMe Instance Storage\" and d[\"fr\"].strip() == \"1.0\" and d[\"mdts\"] == 8 and d[\"nn\"] == 1 and d[\"vwc\"] & 1 == 0"' \
	"nvme id-ctrl: Amazon vendor, instance-storage model, serial $serial, firmware, MDTS, one namespace, no volatile write cache"
ok '[ "$(nvme id-ctrl $dev -b | dd bs=1 skip=3072 count=32 status=none | tr -d "\0")" = sdf ] && [ "$(nvme id-ns $dev -n 1 -b | dd bs=1 skip=384 count=32 status=none | tr -d "\0")" = sdf ]' \
	"the device name given at attach is in the vendor-specific areas (controller 3072, namespace 384)"
ok 'nvme id-ns $dev -n 1 -o json | js "d[\"nsze\"] == 16384 and d[\"ncap\"] == 16384 and d[\"nuse\"] == 0 and d[\"flbas\"] == 0 and d[\"lbafs\"][0][\"ds\"] == 12"' \
	"nvme id-ns: 16384 blocks of 4096 bytes, none in use yet"
out=$(ebsnvme-id "$dev" 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "Not an EBS device" <<<"$out"' "ebsnvme-id reads the controller and says it is not EBS (instance storage)"

head -c 8192 /dev/urandom >/tmp/blk
nvme write "$dev" -n 1 -s 100 -c 1 -z 8192 -d /tmp/blk >/dev/null 2>&1
ok 'nvme read $dev -n 1 -s 100 -c 1 -z 8192 -d /tmp/blk2 >/dev/null 2>&1 && cmp -s /tmp/blk /tmp/blk2 && cmp -s /tmp/blk <(dd if=$dev bs=4096 skip=100 count=2 iflag=direct status=none)' \
	"NVMe Write then Read through the passthrough return the data, and the block device sees it"
ok 'nvme smart-log $dev -o json | js "d[\"host_write_commands\"] >= 1 and d[\"data_units_written\"] >= 1 and d[\"avail_spare\"] == 100" && nvme id-ns $dev -n 1 -o json | js "d[\"nuse\"] >= 1"' \
	"smart-log counts the write; id-ns shows blocks in use"

# The statistics log page (0xd0), read by nvme-cli's Amazon plugin, before
# and after 16 direct reads of 64 KiB timed from here. Expected values come
# from what this test did and measured, not from the card's other counters:
# the reads' count and bytes; their time, in microseconds, more than nothing
# and at most the wall-clock time they took; each in one latency bin, bin i
# holding [2^(i-1), 2^i) us, so that the bins' bounds bracket that time.
stats0=$(nvme amzn stats "$dev" -o json)
t0=$(date +%s%N)
dd if=/dev/$disk of=/dev/null bs=64k count=16 iflag=direct status=none
t1=$(date +%s%N)
stats=$(nvme amzn stats "$dev" -o json)
m=$($N metrics --json)
ok 'python3 -c "
import json, sys
s0, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
m = [v for v in json.loads(sys.argv[3])[\"volumes\"] if v[\"what\"] == \"$vol\"][0]
wall_us = int(sys.argv[4])
r0, r, w = s0[\"read_io_latency_histogram\"], s[\"read_io_latency_histogram\"], s[\"write_io_latency_histogram\"]
bounds = [(0 if i == 0 else 1 << (i - 1), (1 << i) if i < 27 else 2**64 - 1) for i in range(28)]
layout = all([(b[\"lower\"], b[\"upper\"]) for b in h[\"bins\"]] == bounds and h[\"num_bins\"] == 28 for h in (r, w))
dc = [b[\"count\"] - b0[\"count\"] for b, b0 in zip(r[\"bins\"], r0[\"bins\"])]
dt = s[\"total_read_time\"] - s0[\"total_read_time\"]
lo = sum(c * b[0] for c, b in zip(dc, bounds))
hi = sum(c * b[1] for c, b in zip(dc, bounds))
print(f\"# 16 reads: {dt} us in the log page, {wall_us} us wall clock, bins {lo}..{hi} us\")
ok = (layout and s[\"total_read_ops\"] - s0[\"total_read_ops\"] == 16 and sum(dc) == 16
      and s[\"total_read_bytes\"] - s0[\"total_read_bytes\"] == 16 * 65536
      and 0 < dt <= wall_us and lo <= dt + 1 and dt <= hi
      and s[\"total_read_ops\"] == m[\"read_ops\"] and s[\"total_write_bytes\"] == m[\"write_bytes\"] >= 8192
      and sum(b[\"count\"] for b in w[\"bins\"]) == s[\"total_write_ops\"] == m[\"write_ops\"]
      and s[\"volume_queue_length\"] == 0)
sys.exit(0 if ok else 1)" "$stats0" "$stats" "$m" $(( (t1 - t0) / 1000 ))' \
	"nvme amzn stats reads the 0xd0 log: 16 reads counted, their bytes, their time (at most the wall clock's), each in the latency bin of its time"

ok 'nvme dsm $dev -n 1 --ad -s 100 -b 1 >/dev/null 2>&1 && cmp -s <(head -c 4096 /dev/zero) <(dd if=$dev bs=4096 skip=100 count=1 iflag=direct status=none) && cmp -s <(tail -c 4096 /tmp/blk) <(dd if=$dev bs=4096 skip=101 count=1 iflag=direct status=none)' \
	"Dataset Management deallocate: that block reads zeros, its neighbour keeps its data"
dd if=/tmp/blk of=$dev bs=4096 seek=200 count=2 oflag=direct status=none
ok 'blkdiscard -z -o $((200 * 4096)) -l 4096 $dev && cmp -s <(head -c 4096 /dev/zero) <(dd if=$dev bs=4096 skip=200 count=1 iflag=direct status=none) && blkdiscard $dev && nvme id-ns $dev -n 1 -o json | js "d[\"nuse\"] == 0" && cmp -s <(head -c 8192 /dev/zero) <(dd if=$dev bs=4096 skip=100 count=2 iflag=direct status=none)' \
	"write zeroes and discard through the block layer: zeros read back, every page freed"

st() { "$@" 2>&1 | grep -o "(0x[0-9a-f]*)" | tail -1; }
ok '[ "$(st nvme read $dev -n 1 -s 16384 -c 0 -z 4096 -d /tmp/x)" = "(0x80)" ] && [ "$(st nvme read $dev -n 1 -s 16383 -c 1 -z 8192 -d /tmp/x)" = "(0x80)" ] && [ "$(st nvme read $dev -n 2 -s 0 -c 0 -z 4096 -d /tmp/x)" = "(0xb)" ]' \
	"out-of-range LBAs get LBA Out of Range (0x80), another namespace Invalid Namespace (0xb)"
ok '[ "$(st nvme io-passthru $dev --opcode=0x7f --namespace-id=1)" = "(0x1)" ] && [ "$(st nvme admin-passthru $dev --opcode=0x7f)" = "(0x1)" ] && [ "$(st nvme get-log $dev --log-id=0x55 --log-len=512)" = "(0x109)" ]' \
	"unknown I/O and admin opcodes get Invalid Opcode (0x1), an unknown log page Invalid Log Page (0x109)"
# Raw ioctls: a bad data pointer and a bad argument pointer give EFAULT.
efault=$(python3 - "$dev" <<'EOF'
import errno, fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
ADMIN = 0xC0484E41
def cmd(addr, length):  # struct nvme_passthru_cmd: Identify Controller
    return bytearray(struct.pack("<BBHIIIQQIIIIIIIIII", 0x06, 0, 0, 0, 0, 0, 0, addr, 0, length, 1, 0, 0, 0, 0, 0, 0, 0))
out = []
for arg in (cmd(16, 4096),):
    try:
        fcntl.ioctl(fd, ADMIN, arg)
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ioctl(fd, ctypes.c_ulong(ADMIN), ctypes.c_void_p(16))
out.append(errno.errorcode[ctypes.get_errno()] if r < 0 else "ok")
print(" ".join(out))
EOF
)
ok '[ "$efault" = "EFAULT EFAULT" ]' "a bad data pointer and a bad command pointer get EFAULT ($efault)"
out=$(setpriv --bounding-set=-sys_admin nvme id-ctrl "$dev" 2>&1); rc=$?
ok '[ $rc != 0 ] && grep -q "Permission denied" <<<"$out"' "without CAP_SYS_ADMIN the passthrough is refused (EACCES)"

# A descriptor kept open across detach: the disk's data lives until it is
# closed (free_disk), and the open disk pins the module.
exec 3<"$dev"
$N volume detach "$vol" >/dev/null
id=$(python3 -c 'import fcntl; print(fcntl.ioctl(3, 0x4e40))' 2>&1)
out=$(rmmod nitro_nvme 2>&1); rc=$?
exec 3<&-
echo "# NVME_IOCTL_ID after detach: $id; rmmod: $out"
udevadm settle
ok '[ "$id" = 1 ] && [ $rc != 0 ] && loaded nitro_nvme && [ ! -e $link ]' \
	"after detach the by-id link is gone; a descriptor kept open still answers safely and pins the module"
$N volume delete "$vol" >/dev/null
ktap_done
