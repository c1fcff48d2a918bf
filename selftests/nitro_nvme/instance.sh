#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# instance: instance-storage volumes on the real block card. Attach gives a
# blk-mq disk (size, block size, one queue per CPU) that reads back what was
# written, carries a filesystem, keeps its data across detach and reattach,
# survives a detach under I/O, and is counted in the metrics; deprovision
# frees the pages (the card says it destroyed the key) and a new volume in
# its place starts empty; 512-byte blocks work; unloading the card removes
# its disks. Blocks never written read as zeros into a buffer that held other
# bytes (a fresh buffer is zeros already). That the old data cannot be read
# after deprovision, whatever happens to the pages, needs the medium itself
# (a test to come: Documentation/security.rst).
source "$(dirname "$0")/../lib.sh"

ktap_header 13
N=$NITROCTL
js() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
MiB=1048576

loaded nitro_testcard && rmmod nitro_testcard
load_all
open_gate

# Creates an instance volume of $1 MiB (block size $2), attaches it as $3;
# prints "<vol> <disk>".
new_disk() {
	local vol disk
	vol=$($N volume create --kind instance --size "$1M" --block-size "$2" | awk '{print $1}') || return 1
	attach "$vol" "$3"
}
# zeros DEV OFFSET LEN: LEN bytes at OFFSET of DEV, read with O_DIRECT into
# a buffer filled with 0xaa first, are all zeros.
zeros() {
	python3 - "$@" <<'EOF'
import mmap, os, sys
dev, off, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, n)
buf.write(b"\xaa" * n)
sys.exit(0 if os.preadv(fd, [buf], off) == n and buf[:] == bytes(n) else 1)
EOF
}
# Attaches $1 as $2; prints "<vol> <disk>".
attach() {
	local disk
	disk=$(vol_attach "$1" "$2") || return 1
	echo "$1 $disk"
}

read -r vol disk < <(new_disk 64 4096 sdf)
ok '[ -b "/dev/$disk" ] && [ "$(blockdev --getsize64 /dev/$disk)" = $((64 * MiB)) ] && [ "$(blockdev --getss /dev/$disk)" = 4096 ] && [ "$(ls /sys/block/$disk/mq | wc -l)" = "$(nproc)" ]' \
	"attach: /dev/$disk, 64 MiB, 4096-byte blocks, one hardware queue per CPU"

head -c $MiB /dev/urandom >/tmp/data
dd if=/tmp/data of=/dev/$disk bs=64k seek=80 oflag=direct status=none
ok 'cmp -s /tmp/data <(dd if=/dev/$disk bs=64k skip=80 count=16 iflag=direct status=none) && zeros /dev/$disk 0 $MiB' \
	"reads back what was written; blocks never written read as zeros"

out=$(dd if=/tmp/data of=/dev/$disk bs=4096 seek=$((64 * 256)) count=1 oflag=direct 2>&1); rc=$?
ok '[ $rc != 0 ]' "a write past the end is refused"

mkdir -p /tmp/mnt
ok 'mkfs.ext4 -q -F /dev/$disk && mount /dev/$disk /tmp/mnt && cp /tmp/data /tmp/mnt/f && umount /tmp/mnt && fsck.ext4 -n -f /dev/$disk >/dev/null 2>&1 && mount /dev/$disk /tmp/mnt && cmp -s /tmp/data /tmp/mnt/f && umount /tmp/mnt' \
	"ext4: made, written, clean on fsck, read back after remount"

ok '$N metrics --json | js "any(v[\"what\"] == \"$vol\" and v[\"write_bytes\"] >= $MiB and v[\"read_bytes\"] >= $MiB and v[\"write_ops\"] > 0 and v[\"write_ns\"] > 0 for v in d[\"volumes\"])"' \
	"the card reports the volume's reads and writes (ops, bytes, time)"

$N volume detach "$vol" >/dev/null
ok '[ ! -e /sys/block/$disk ]' "detach removes the disk"
read -r vol disk < <(attach "$vol" sdg)
ok '[ -n "$disk" ] && mount /dev/$disk /tmp/mnt && cmp -s /tmp/data /tmp/mnt/f && umount /tmp/mnt' \
	"reattached (as $disk), the volume still holds its filesystem and data"

# Detach with I/O in flight: requests complete or fail, nothing hangs.
dd if=/dev/urandom of=/dev/$disk bs=64k count=100000 oflag=direct status=none 2>/dev/null &
ddpid=$!
sleep 1
$N volume detach "$vol" >/dev/null; rc=$?
timeout 60 tail --pid=$ddpid -f /dev/null; waited=$?
ok '[ $rc = 0 ] && [ $waited = 0 ] && [ ! -e /sys/block/$disk ] && $N volume show "$vol" --json | js "d[\"state\"] == \"available\""' \
	"detach under I/O: the writer ends, the disk is gone, the volume is available"

mark_log
$N volume delete "$vol" >/dev/null
ok 'new_log | grep -Eq "$vol deprovisioned: key destroyed, [1-9][0-9]* pages freed"' \
	"deprovision destroys the key and frees the pages"
read -r vol disk < <(new_disk 64 4096 sdf)
ok 'zeros /dev/$disk 0 $((16 * MiB))' \
	"a new volume in its place starts empty: none of the old one's blocks, all read as zeros"
$N volume detach "$vol" >/dev/null && $N volume delete "$vol" >/dev/null

read -r vol disk < <(new_disk 8 512 sdh)
head -c 2560 /dev/urandom >/tmp/small
dd if=/tmp/small of=/dev/$disk bs=512 seek=3 oflag=direct status=none
ok '[ "$(blockdev --getss /dev/$disk)" = 512 ] && cmp -s /tmp/small <(dd if=/dev/$disk bs=512 skip=3 count=5 iflag=direct status=none) && zeros /dev/$disk 0 1536' \
	"512-byte blocks: odd sectors read back; their neighbours in the same page read zeros"

mark_log
rmmod nitro_nvme; rc=$?
ok '[ $rc = 0 ] && [ ! -e /sys/block/$disk ] && $N volume show "$vol" --json | js "d[\"state\"] == \"card-lost\""' \
	"unloading the card removes its disks; the controller marks the volume card-lost"
$N volume delete "$vol" >/dev/null
load_all
ok '$N volume list --json | js "d == []"' "the card-lost volume is deleted; the card is back"

ktap_done
