#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ebs: EBS volumes on the real block card. The card key is loaded at module
# init as a firmware file; without it EBS volumes are refused. A volume's
# data key is wrapped by nitroctl (an independent AES-GCM) and opened by the
# card at attach. The disk looks like EBS to nvme-cli and ebsnvme-id, udev
# gives it /dev/sdf, the backing file holds only ciphertext (no plaintext
# marker, and a stock dm-crypt aes-xts-plain64 with the data key reads what
# our disk wrote, for 4096- and 512-byte blocks), ext4 works on it, fio
# --verify data survives detach/reattach and a module reload, a wrong card
# key or a tampered wrapped key is refused at attach, detach under a running
# fio is clean, and several volumes work at once. Leaves nitro_nvme loaded
# with the card key (ebs_abi runs next).
source "$(dirname "$0")/../lib.sh"

ktap_header 19
N=$NITROCTL
js() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
MiB=1048576
fw=/tmp/nitro-fw
keyfile=$fw/nitro-rs/ebs-card.key
w=/tmp/ebs
mkdir -p "$w" "$fw/nitro-rs" /tmp/mnt

loaded nitro_testcard && rmmod nitro_testcard
load_all
open_gate
kmod dm-crypt
mkdir -p /run/udev/rules.d && cp "$top/udev/70-nitro-nvme.rules" /run/udev/rules.d/ &&
	udevadm control --reload

# The firmware loader looks in this directory first.
echo -n "$fw" >/sys/module/firmware_class/parameters/path
reload_card() { rmmod nitro_nvme && insmod "$(ko_path nitro_nvme)"; }

# Creates an EBS volume of $1 MiB with block size $2 on backing file $3
# (made if missing) with wrapped key $4; prints its id.
create() {
	[ -e "$3" ] || truncate -s "$1M" "$3"
	$N volume create --kind ebs --size "$1M" --block-size "$2" --backing "$3" --wrapped-key "$4" |
		awk '{print $1}'
}
attach() { vol_attach "$@"; }
# Layout of the 64 MiB volume: ext4 in the first 32 MiB, fio's checksummed
# blocks at 40-48 MiB, raw data at 56 MiB.
fio_job() { # disk, extra options: 8 MiB of 4k random writes, checksummed
	fio --name=v --filename="/dev/$1" --rw=randwrite --bs=4k --size=8M --offset=40M \
		--ioengine=psync --direct=1 --verify=crc32c --randrepeat=1 \
		--verify_state_save=0 --allow_file_create=0 --output=/dev/null "${@:2}"
}

# 1: no card key, no EBS.
rm -f "$keyfile"
mark_log
reload_card
head -c 64 /dev/urandom >$w/data.key
head -c 32 /dev/urandom >$w/card.key
$N key wrap --card-key $w/card.key --data-key $w/data.key -o $w/wrapped
truncate -s 64M $w/vol.img
out=$($N volume create --kind ebs --size 64M --backing $w/vol.img --wrapped-key $w/wrapped 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "the EBS card has no card key" <<<"$out" && new_log | grep -q "no EBS card key (firmware nitro-rs/ebs-card.key)" && $N volume list --json | js "d == []"' \
	"without a card key the card refuses EBS volumes (ENOKEY), and says which file it wants"

# 2: with the card key.
cp $w/card.key "$keyfile"
mark_log
reload_card
vol=$(create 64 4096 $w/vol.img $w/wrapped)
disk=$(attach "$vol" sdf)
n=${disk%n1}; n=${n#nitro}
ok '[ -n "$disk" ] && ! new_log | grep -q "no EBS card key" && [ "$(blockdev --getsize64 /dev/$disk)" = $((64 * MiB)) ] && [ "$(blockdev --getss /dev/$disk)" = 4096 ] && [ "$(cat /sys/block/$disk/nitro/model)" = "Amazon Elastic Block Store" ] && [ -c /dev/nitro$n ]' \
	"card key loaded; attach: /dev/$disk (64 MiB, 4096-byte blocks, EBS model) and its controller /dev/nitro$n"
serial=vol${vol#vol-}
ok '[ "$(readlink -f /dev/sdf)" = /dev/$disk ] && [ "$(readlink -f /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial)" = /dev/$disk ]' \
	"udev: /dev/sdf and /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial"
ok '[ "$(ebsnvme-id -v /dev/$disk)" = "Volume ID: $vol" ] && [ "$(ebsnvme-id -b /dev/$disk)" = sdf ] && [ "$(ebsnvme-id -v /dev/nitro$n)" = "Volume ID: $vol" ]' \
	"ebsnvme-id on the disk and on /dev/nitro$n: volume $vol, device sdf"
ok 'nvme id-ctrl /dev/nitro$n -o json | js "d[\"vid\"] == 0x1d0f and d[\"mn\"].strip() == \"Amazon Elastic Block Store\" and d[\"sn\"].strip() == \"$serial\" and d[\"vwc\"] & 1 == 1" && [ "$(nvme get-ns-id /dev/$disk 2>&1 | grep -o "namespace-id:[0-9]*")" = namespace-id:1 ] && ! nvme get-ns-id /dev/nitro$n >/dev/null 2>&1' \
	"nvme id-ctrl on the controller device (a volatile write cache: VWC 1); NVME_IOCTL_ID only on the namespace (ENOTTY on /dev/nitro$n)"

# Data, a filesystem, and what the storage server sees.
head -c $MiB /dev/urandom >/tmp/data
dd if=/tmp/data of=/dev/$disk bs=64k seek=896 oflag=direct status=none
ok 'cmp -s /tmp/data <(dd if=/dev/$disk bs=64k skip=896 count=16 iflag=direct status=none)' \
	"reads back what was written"
marker=NITRO-PLAINTEXT-MARKER-7f3a9c
yes "$marker" | head -c $((2 * MiB)) >/tmp/marker
ok 'mkfs.ext4 -q -F -E nodiscard /dev/$disk 32M && mount /dev/$disk /tmp/mnt && cp /tmp/marker /tmp/mnt/m && umount /tmp/mnt && fsck.ext4 -n -f /dev/$disk >/dev/null 2>&1 && mount /dev/$disk /tmp/mnt && cmp -s /tmp/marker /tmp/mnt/m && umount /tmp/mnt' \
	"ext4: made, written, clean on fsck, read back after remount"
ok '! grep -q "$marker" $w/vol.img && [ "$(grep -c "$marker" /dev/$disk)" -gt 0 ]' \
	"the backing file holds no plaintext (marker on the disk, not in the backing)"

# 9: fio --verify data across detach and reattach.
fio_job "$disk" --do_verify=1; frc=$?
$N volume detach "$vol" >/dev/null
ok '[ ! -e /dev/sdf ] && [ ! -e /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial ] && [ ! -e /dev/nitro$n ] && [ ! -e /sys/block/$disk ]' \
	"detach removes the disk, its controller device and its links"
# A stock dm-crypt over the backing file, given the data key.
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --sector-size 4096 \
	--key-file $w/data.key $w/vol.img nitro_x
ok 'cmp -s /tmp/data <(dd if=/dev/mapper/nitro_x bs=64k skip=896 count=16 status=none) && mount -o ro /dev/mapper/nitro_x /tmp/mnt && cmp -s /tmp/marker /tmp/mnt/m && umount /tmp/mnt' \
	"cryptsetup plain aes-xts-plain64 (4096-byte sectors) with the data key reads what our disk wrote"
cryptsetup close nitro_x
disk=$(attach "$vol" sdf)
ok '[ $frc = 0 ] && [ -n "$disk" ] && fio_job "$disk" --verify_only' \
	"fio --verify: written, detached, reattached as $disk, verified"

# 11: the data lives on the storage server: across a module reload.
reload_card
ok '$N volume show "$vol" --json | js "d[\"state\"] == \"card-lost\""' \
	"unloading the card removes the disk; the controller marks the volume card-lost"
$N volume delete "$vol" >/dev/null
vol=$(create 64 4096 $w/vol.img $w/wrapped)
disk=$(attach "$vol" sdf)
ok '[ -n "$disk" ] && fio_job "$disk" --verify_only && mount /dev/$disk /tmp/mnt && cmp -s /tmp/marker /tmp/mnt/m && umount /tmp/mnt' \
	"after a module reload, a volume over the same backing and wrapped key has the data (fio verify, ext4)"
$N volume detach "$vol" >/dev/null

# 13: a card with another key cannot open the wrapped key.
head -c 32 /dev/urandom >"$keyfile"
reload_card
$N volume delete "$vol" >/dev/null
vol=$(create 64 4096 $w/vol.img $w/wrapped)
mark_log
out=$($N volume attach "$vol" sdf 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "does not open under this card.s key" <<<"$out" && new_log | grep -q "$vol: wrapped key refused (does not authenticate" && $N volume show "$vol" --json | js "d[\"state\"] == \"available\"" && [ ! -e /dev/sdf ]' \
	"another card key: attach refused (EKEYREJECTED), logged, the volume stays available"
$N volume delete "$vol" >/dev/null
cp $w/card.key "$keyfile"
reload_card
cp $w/wrapped $w/tampered
printf '\x01' | dd of=$w/tampered bs=1 seek=40 conv=notrunc status=none
vol=$(create 64 4096 $w/vol.img $w/tampered)
out=$($N volume attach "$vol" sdf 2>&1); rc=$?
ok '[ $rc = 1 ] && grep -q "does not open under this card.s key" <<<"$out" && $N volume show "$vol" --json | js "d[\"state\"] == \"available\""' \
	"a wrapped key with one bit changed: attach refused, never a wrong key"
$N volume delete "$vol" >/dev/null

# 15: detach under a running fio. fio runs for 600 s unless its I/O fails,
# so ending within 60 s of the detach is the detach's doing; the detach
# comes only once the disk has written (udev's probe only reads), so fio is
# known to have it open
# (started later, fio would find no device and, without
# allow_file_create=0, lay out a regular file of that name in /dev).
vol=$(create 64 4096 $w/vol.img $w/wrapped)
disk=$(attach "$vol" sdf)
fio --name=load --filename=/dev/$disk --rw=randrw --bs=16k --size=32M --time_based --runtime=600 \
	--ioengine=libaio --iodepth=16 --direct=1 --allow_file_create=0 --output=$w/fio.out >/dev/null 2>&1 &
fiopid=$!
writes() { awk '{ print $5 }' "/sys/block/$disk/stat" 2>/dev/null || echo 0; }
for _ in $(seq 600); do [ "$(writes)" -gt 0 ] && break; sleep 0.1; done
busy=$(writes)
$N volume detach "$vol" >/dev/null; rc=$?
timeout 60 tail --pid=$fiopid -f /dev/null; waited=$?
pkill -KILL -P $fiopid 2>/dev/null; kill -KILL $fiopid 2>/dev/null
wait $fiopid 2>/dev/null
state=$($N volume show "$vol" --json | python3 -S -c 'import json,sys; print(json.load(sys.stdin)["state"])')
echo "# $busy writes before the detach; detach exit $rc, fio ended: $([ $waited = 0 ] && echo yes || echo no), disk present: $([ -e /sys/block/$disk ] && echo yes || echo no), state $state"
[ $waited = 0 ] || sed 's/^/#   fio: /' $w/fio.out | head -20
ok '[ "$busy" -gt 0 ] && [ $rc = 0 ] && [ $waited = 0 ] && [ ! -e /sys/block/$disk ] && [ "$state" = available ]' \
	"detach under a running fio: fio ends, the disk is gone, the volume is available"
$N volume delete "$vol" >/dev/null

# 16: 512-byte blocks, checked against dm-crypt with 512-byte sectors.
vol=$(create 16 512 $w/small.img $w/wrapped)
disk=$(attach "$vol" sdg)
head -c 2560 /dev/urandom >/tmp/small
dd if=/tmp/small of=/dev/$disk bs=512 seek=3 oflag=direct status=none
$N volume detach "$vol" >/dev/null
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --sector-size 512 \
	--key-file $w/data.key $w/small.img nitro_s
ok '[ "$(blockdev --getss /dev/mapper/nitro_s)" = 512 ] && cmp -s /tmp/small <(dd if=/dev/mapper/nitro_s bs=512 skip=3 count=5 status=none)' \
	"512-byte blocks: dm-crypt with 512-byte sectors reads what our disk wrote"
cryptsetup close nitro_s
$N volume delete "$vol" >/dev/null

# 17: several volumes at once, each with its own data key.
vols=() disks=()
for i in 1 2 3; do
	$N key wrap --card-key $w/card.key -o $w/wrapped$i
	v=$(create 32 4096 $w/multi$i.img $w/wrapped$i)
	vols+=("$v") disks+=("$(attach "$v" sd$((i + 9)) | tr -d ' ')")
done
ivol=$($N volume create --kind instance --size 32M | awk '{print $1}')
disks+=("$(attach "$ivol" sdz)")
pids=()
for d in "${disks[@]}"; do
	fio --name=c --filename=/dev/$d --rw=randwrite --bs=4k --size=4M --ioengine=libaio --iodepth=8 --allow_file_create=0 \
		--direct=1 --verify=crc32c --do_verify=1 --verify_state_save=0 --output=/dev/null &
	pids+=($!)
done
frc=0
for p in "${pids[@]}"; do wait "$p" || frc=1; done
ok '[ $frc = 0 ] && [ ${#disks[@]} = 4 ] && [ "$(printf "%s\n" "${disks[@]}" | sort -u | wc -l)" = 4 ]' \
	"four volumes (three EBS, one instance) written and verified by fio at once"
ok '$N metrics --json | js "all(sum(v[\"write_hist\"]) == v[\"write_ops\"] and v[\"write_ops\"] > 0 and sum(v[\"read_hist\"]) == v[\"read_ops\"] and v[\"queue_depth\"] == 0 for v in d[\"volumes\"])"' \
	"the controller's metrics: every read and write in the latency histograms, queue depth 0 at rest"
for v in "${vols[@]}" "$ivol"; do $N volume detach "$v" >/dev/null && $N volume delete "$v" >/dev/null; done
rm -rf "$w"/*.img

ktap_done
