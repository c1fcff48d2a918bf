#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# media: an EBS volume whose backing is a block device that fails: a loop
# device under device-mapper, switched between linear, error (the whole
# device, or a range of it) and flakey tables, and failed beneath dm with
# fail_make_request (make-it-fail on the loop device). What must hold:
# reads and writes that fail reach the caller as EIO, never as wrong data; a
# write acknowledged by a flush (fdatasync, O_DSYNC) before the failure
# survives it; when the medium heals (a linear table again) the same disk
# works again, no detach and reattach; fio --verify over a flakey medium
# (up 1 s, down 1 s) finds no block that is wrong without an I/O error to
# explain it, and data written while healthy verifies after the heal; the
# kernel log stays clean, and the volume detaches and deletes, releasing its
# backing.
#
# Reads are made to reach the medium by dropping the backing's page cache
# (blockdev --flushbufs; the card reads and writes the backing through it);
# otherwise a read would be served from memory and no failure seen. Tables
# are switched with --nolockfs, so dm does not sync the backing's page cache
# to the old table first: what a flush acknowledged must already be on the
# medium, not in memory.
#
# Instance storage has no medium to fail: its blocks are RAM in the card
# (store.rs), not a device, so it is not covered here.
source "$(dirname "$0")/../lib.sh"

ktap_header 15
N=$NITROCTL
js() { python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
MiB=1048576
fw=/tmp/nitro-fw
keyfile=$fw/nitro-rs/ebs-card.key
w=/tmp/media
dm=nitro_media
dev=/dev/mapper/$dm
rm -rf "$w"
mkdir -p "$w" "$fw/nitro-rs"

# Block I/O on the disk, 4 KiB blocks with O_DIRECT, with the errno of each
# call kept. Block i written under seed s holds sha256("s:i") 128 times, so
# a block misplaced, stale, zeroed or garbled is seen.
#   write DEV FIRST COUNT SEED dsync|fsync FAILED
#     dsync: each block written O_DSYNC (a FUA write): "acked=A eio=E other=O"
#     fsync: the blocks written, then one fdatasync: "acked=COUNT" or
#            "failed=ERRNO" (the first call that failed)
#     FAILED is rewritten with the blocks not acknowledged.
#   check DEV FIRST COUNT NEW OLD FAILED: reads each block and counts it as
#     new (seed NEW), stale (seed OLD though its write of NEW was
#     acknowledged), unacked_new/unacked_old (NEW or OLD, its write listed in
#     FAILED), wrong (anything else), eio, or other (another errno).
cat >"$w/pio.py" <<'EOF'
import errno, hashlib, mmap, os, sys

BS = 4096


def block(seed, i):
    return hashlib.sha256(f"{seed}:{i}".encode()).digest() * (BS // 32)


def failed_set(path):
    try:
        with open(path) as f:
            return {int(x) for x in f.read().split()}
    except FileNotFoundError:
        return set()


def write(dev, first, count, seed, mode, failed):
    flags = os.O_WRONLY | os.O_DIRECT | (os.O_DSYNC if mode == "dsync" else 0)
    fd = os.open(dev, flags)
    buf = mmap.mmap(-1, BS)
    acked, eio, other, bad = 0, 0, 0, []
    err = None
    for i in range(first, first + count):
        buf[:] = block(seed, i)
        try:
            if os.pwrite(fd, buf, i * BS) != BS:
                raise OSError(errno.EIO, "short write")
            acked += 1
        except OSError as e:
            bad.append(i)
            if mode == "fsync":
                err = e.errno
                bad.extend(range(i + 1, first + count))
                break
            if e.errno == errno.EIO:
                eio += 1
            else:
                other += 1
    if mode == "fsync" and err is None:
        try:
            os.fdatasync(fd)
        except OSError as e:
            err = e.errno
    os.close(fd)
    if mode == "fsync":
        if err is None:
            print(f"acked={count}")
        else:
            bad = list(range(first, first + count))
            print(f"failed={errno.errorcode.get(err, err)}")
    else:
        print(f"acked={acked} eio={eio} other={other}")
    with open(failed, "w") as f:
        f.write("".join(f"{i}\n" for i in bad))


def check(dev, first, count, new, old, failed):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    unacked = failed_set(failed)
    n = dict.fromkeys(("new", "stale", "unacked_new", "unacked_old", "wrong", "eio", "other"), 0)
    for i in range(first, first + count):
        try:
            got = os.preadv(fd, [buf], i * BS)
        except OSError as e:
            n["eio" if e.errno == errno.EIO else "other"] += 1
            continue
        if got != BS:
            n["other"] += 1
        elif buf[:] == block(new, i):
            n["unacked_new" if i in unacked else "new"] += 1
        elif buf[:] == block(old, i):
            n["unacked_old" if i in unacked else "stale"] += 1
        else:
            n["wrong"] += 1
    os.close(fd)
    print(" ".join(f"{k}={v}" for k, v in n.items()))


cmd, dev, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if cmd == "write":
    write(dev, first, count, sys.argv[5], sys.argv[6], sys.argv[7])
else:
    check(dev, first, count, sys.argv[5], sys.argv[6], sys.argv[7])
EOF
pio() { timeout 300 python3 -S "$w/pio.py" "$@"; }
# wr FIRST COUNT SEED MODE, ck FIRST COUNT NEW OLD: on the disk, with the
# region's list of unacknowledged blocks ($w/failed.FIRST).
wr() { pio write "/dev/$disk" "$1" "$2" "$3" "$4" "$w/failed.$1"; }
ck() { pio check "/dev/$disk" "$1" "$2" "$3" "$4" "$w/failed.$1"; }
# What ck prints when all COUNT blocks are in one class.
all() {
	local k out=
	for k in new stale unacked_new unacked_old wrong eio other; do
		out+="$k=$([ "$k" = "$1" ] && echo "$2" || echo 0) "
	done
	echo "${out% }"
}
# The medium: tables of the dm device over the loop device (resumed even if
# the load fails, on the old table: a device left suspended hangs the card).
table() {
	dmsetup suspend --nolockfs $dm
	printf '%s\n' "$1" | dmsetup load $dm
	dmsetup resume $dm
	dmsetup table $dm | sed 's/^/#   table: /'
}
heal() { table "$lin"; }
# The backing's page cache dropped: the next reads reach the medium.
uncache() { blockdev --flushbufs $dev 2>/dev/null; true; }

loaded nitro_testcard && rmmod nitro_testcard
load_all
open_gate
kmod dm-flakey
# The EBS card key (the one an earlier test left, or a new one), loaded by
# the card when it loads.
[ -s "$keyfile" ] || head -c 32 /dev/urandom >"$keyfile"
echo -n "$fw" >/sys/module/firmware_class/parameters/path
rmmod nitro_nvme && load nitro_nvme || echo "# the block card did not reload with the EBS card key"
mark_log

# Layout, in 4 KiB blocks of the 32 MiB volume (and of the medium), n of
# them per region: A from 0 acknowledged data, B from 1024 under the error
# range (4-9 MiB), G 2048-2303 the error range's tail (dd), C 3072-3583 fio
# while healthy, D 4096-4351 fio over flakey, E from 5120 fail_make_request,
# F from 6144 flakey writes.
n=256
S=$((32 * MiB / 512))
truncate -s 32M "$w/medium.img"
loop=$(losetup -f --show "$w/medium.img")
lin="0 $S linear $loop 0"
dmsetup create $dm --table "$lin"
udevadm settle 2>/dev/null
# No readahead on the backing (the card's descriptor takes the device's
# setting when opened, at create): each block a read misses in the page
# cache is read from the medium, so a failing medium fails that very read.
blockdev --setra 0 $dev
$N key wrap --card-key "$keyfile" -o "$w/wrapped"
vol=$($N volume create --kind ebs --size 32M --backing $dev --wrapped-key "$w/wrapped" | awk '{print $1}')
disk=$(vol_attach "$vol" sdm)
echo "# $vol over $dev (dm over $loop) attached as $disk"

# 1: healthy. A written and flushed once (fdatasync), the others prefilled.
a=$(wr 0 $n a fsync)
pre="$(wr 1024 $n b0 fsync) $(wr 5120 $n e0 fsync) $(wr 6144 $n f0 fsync)"
ok '[ -n "$disk" ] && [ "$a" = acked=$n ] && [ "$pre" = "acked=$n acked=$n acked=$n" ]' \
	"healthy medium: $n blocks written with O_DIRECT and acknowledged by fdatasync, $((3 * n)) more"

# 2, 3: the whole medium fails (dm error table), what was left in memory is
# written out to it and lost, then it heals.
table "0 $S error"
uncache
out=$(ck 0 $n a -)
echo "# whole medium failed, reading A: $out"
ok '[ "$out" = "$(all eio $n)" ]' \
	"dm-error (whole medium): every read ($n blocks) fails with EIO, none returns data"
heal
uncache
out=$(ck 0 $n a -)
echo "# healed, reading A: $out"
ok '[ "$out" = "$(all new $n)" ]' \
	"data acknowledged by fdatasync before the failure survives it (read from the medium after the heal)"

# 4-6: a range fails (linear + error + linear): B and G, blocks 1024-2303.
table "0 8192 linear $loop 0
8192 10240 error
18432 $((S - 18432)) linear $loop 18432"
uncache
outb=$(ck 1024 $n b0 -)
outa=$(ck 0 $n a -)
echo "# error range, reading B: $outb; reading A: $outa"
ok '[ "$outb" = "$(all eio $n)" ] && [ "$outa" = "$(all new $n)" ]' \
	"dm-error (a range): reads in the range fail with EIO ($n of $n), reads outside it return the data"
out=$(wr 1024 $n b1 dsync)
echo "# error range, O_DSYNC writes to B: $out"
ok '[ "$out" = "acked=0 eio=$n other=0" ]' \
	"dm-error: every O_DSYNC write in the range ($n) fails with EIO"
head -c $MiB /dev/urandom >"$w/rand"
out=$(dd if="$w/rand" of="/dev/$disk" bs=64k seek=128 count=16 oflag=direct conv=fdatasync 2>&1); rc=$?
echo "# [$SECONDS s] dd into the range: exit $rc, $(tail -1 <<<"$out")"
ok '[ $rc != 0 ] && grep -q "Input/output error" <<<"$out"' \
	"dm-error: dd oflag=direct conv=fdatasync into the range fails with EIO"

# 7: the range heals: the same disk works again.
heal
uncache
out1=$(ck 1024 $n b1 b0)
out2=$(wr 1024 $n b2 dsync)
uncache
out3=$(ck 1024 $n b2 b1)
echo "# healed: B after the failed writes: $out1; rewritten: $out2; read: $out3"
ok '[ "$out1" = "$(all unacked_old $n)" ] && [ "$out2" = "acked=$n eio=0 other=0" ] && [ "$out3" = "$(all new $n)" ] && [ -b /dev/$disk ] && $N volume show "$vol" --json | js "d[\"state\"] == \"attached\""' \
	"healed: the failed writes changed nothing, the same $disk (no reattach) writes and reads again"

# 8, 9: dm-flakey, always down (up 0 s, down 1 s): with error_writes, then
# failing all I/O.
table "0 $S flakey $loop 0 0 1 1 error_writes"
uncache
outa=$(ck 0 $n a -)
outf=$(wr 6144 $n f1 dsync)
echo "# [$SECONDS s] flakey error_writes: reading A: $outa; O_DSYNC writes to F: $outf"
ok '[ "$outa" = "$(all new $n)" ] && [ "$outf" = "acked=0 eio=$n other=0" ]' \
	"dm-flakey error_writes: reads return the data, every O_DSYNC write ($n) fails with EIO"
table "0 $S flakey $loop 0 0 1"
uncache
outa=$(ck 0 $n a -)
outf=$(ck 6144 $n f1 f0)
echo "# flakey, all I/O failing: reading A: $outa; reading F: $outf"
ok '[ "$outa" = "$(all eio $n)" ] && [ "$outf" = "$(all eio $n)" ]' \
	"dm-flakey down: every read ($((2 * n)) blocks) fails with EIO"

# 10, 11: fio --verify=crc32c over a flakey medium (up 1 s, down 1 s, all
# I/O failing while down), the backing's page cache dropped every 0.3 s so
# that reads reach it: random O_SYNC writes verified (D), and a verify-only
# pass over blocks written while healthy (C). Errors are not fatal to fio,
# and each is logged. Then healed: C verifies whole.
cjob=(--name=c --filename="/dev/$disk" --rw=randwrite --bs=4k --size=2M --offset=12M
	--ioengine=psync --direct=1 --verify=crc32c --randrepeat=1 --end_fsync=1
	--verify_state_save=0 --allow_file_create=0)
flaky=(--continue_on_error=all --error_dump=1 --verify_fatal=0)
# fio_errors FILE: from fio's log, the I/O errors (EIO) of reads and of
# writes, errors other than EIO and EILSEQ (fio's code for a verify
# failure), verify failures, and verify failures at an offset where fio saw
# no I/O error.
fio_errors() {
	python3 -S - "$1" <<'EOF'
import re, sys
io, rd, wr, other, bad = set(), 0, 0, 0, []
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"io_u error on file \S+: (.*): (read|write) offset=(\d+)", line)
    if m:
        if m.group(1) == "Input/output error":
            io.add(int(m.group(3)))
            rd += m.group(2) == "read"
            wr += m.group(2) == "write"
        elif "multibyte" not in m.group(1):
            other += 1
        continue
    m = re.search(r"verify.* at file \S+ offset (\d+)", line)
    if m:
        bad.append(int(m.group(1)))
print(rd, wr, other, len(bad), len([o for o in bad if o not in io]))
EOF
}
heal
fio "${cjob[@]}" --do_verify=0 --output=/dev/null; crc=$?
uncache
table "0 $S flakey $loop 0 1 1"
# The verify pass starts down (1.2 s after the table: its second second).
sleep 1.2
(while :; do uncache; sleep 0.3; done) &
unc=$!
timeout 300 fio "${cjob[@]}" --verify_only "${flaky[@]}" --output="$w/c.out" >"$w/c.err" 2>&1
vrc=$?
timeout 300 fio --name=d --filename="/dev/$disk" --rw=randwrite --bs=4k --size=1M --offset=16M \
	--ioengine=psync --direct=1 --sync=1 --verify=crc32c --do_verify=1 --randrepeat=1 \
	--verify_state_save=0 --allow_file_create=0 "${flaky[@]}" --output="$w/d.out" >"$w/d.err" 2>&1
drc=$?
kill $unc; wait $unc 2>/dev/null
read -r drd dwr doth dver dunx < <(fio_errors "$w/d.err")
read -r crd cwr coth cver cunx < <(fio_errors "$w/c.err")
echo "# [$SECONDS s] fio writing D over flakey: exit $drc; EIO on $dwr writes, $drd reads; $doth other errors; verify failures $dver, unexplained $dunx"
echo "# fio verifying C over flakey: exit $vrc; EIO on $crd reads, $cwr writes; $coth other errors; verify failures $cver, unexplained $cunx"
[ "${dunx:-1}${cunx:-1}" = 00 ] || grep -ih "verify" "$w/d.err" "$w/c.err" | head -10 | sed 's/^/#   /'
ok '[ $drc != 124 ] && [ $vrc != 124 ] && [ "${dwr:-0}" -gt 0 ] && [ "${crd:-0}" -gt 0 ] && [ "$doth$coth" = 00 ] && [ "$dunx$cunx" = 00 ]' \
	"fio --verify=crc32c over dm-flakey (1 s up, 1 s down): writes and reads failed with EIO, no block wrong without an I/O error"
heal
uncache
out=$(ck 6144 $n f1 f0)
echo "# healed: F after the flakey writes: $out"
ok '[ $crc = 0 ] && fio "${cjob[@]}" --verify_only --output=/dev/null && [ "$out" = "$(all unacked_old $n)" ]' \
	"healed: fio verifies what it wrote while healthy, the writes flakey failed changed nothing"

# 12, 13: fail_make_request on the loop device under dm: every bio to it fails.
dbg=/sys/kernel/debug/fail_make_request
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
saved=$(for f in probability interval times verbose; do echo "$f=$(cat $dbg/$f)"; done)
echo 0 >$dbg/verbose # no stack dump (a "Call Trace:" in the log) per failure
echo 100 >$dbg/probability
echo 1 >$dbg/interval
echo -1 >$dbg/times
echo 1 >"/sys/block/${loop#/dev/}/make-it-fail"
uncache
outa=$(ck 0 $n a -)
oute=$(wr 5120 $n e1 dsync)
echo "# make-it-fail on ${loop#/dev/}: reading A: $outa; O_DSYNC writes to E: $oute"
ok '[ "$outa" = "$(all eio $n)" ] && [ "$oute" = "acked=0 eio=$n other=0" ]' \
	"fail_make_request on ${loop#/dev/}: every read and O_DSYNC write ($((2 * n))) fails with EIO"
echo 0 >"/sys/block/${loop#/dev/}/make-it-fail"
for kv in $saved; do echo "${kv#*=}" >"$dbg/${kv%%=*}"; done
uncache
out1=$(ck 5120 $n e1 e0)
out2=$(wr 5120 $n e2 dsync)
uncache
out3=$(ck 5120 $n e2 e1)
outa=$(ck 0 $n a -)
echo "# [$SECONDS s] make-it-fail off: E after the failed writes: $out1; rewritten: $out2; read: $out3; A: $outa"
ok '[ "$out1" = "$(all unacked_old $n)" ] && [ "$out2" = "acked=$n eio=0 other=0" ] && [ "$out3" = "$(all new $n)" ] && [ "$outa" = "$(all new $n)" ]' \
	"make-it-fail off: the failed writes changed nothing, the disk writes and reads again, A intact"

# 14, 15: the kernel log, and the volume goes cleanly.
bad=$(new_log | grep -E "$KLOG_BAD")
[ -z "$bad" ] || sed 's/^/#   /' <<<"$bad" | head -40
ok '[ -z "$bad" ]' \
	"kernel log: no oops, KASAN, lockdep splat or warning"
$N volume detach "$vol" >/dev/null; drc=$?
$N volume delete "$vol" >/dev/null; xrc=$?
# udev probes the dm device after each table change (its opens count
# too), and the last reference to the backing's file can go in a worker,
# whose close is deferred: the count must reach 0 within 5 s, not at once.
# A card that keeps the backing open never gets there.
udevadm settle 2>/dev/null
for _ in $(seq 50); do
	opens=$(dmsetup info -c --noheadings -o open $dm | tr -d ' ')
	[ "$opens" = 0 ] && break
	sleep 0.1
done
dmsetup remove --retry $dm; rrc=$?
losetup -d "$loop"
ok '[ $drc = 0 ] && [ $xrc = 0 ] && [ ! -e /sys/block/$disk ] && ! $N volume list | grep -q "$vol" && [ "$opens" = 0 ] && [ $rrc = 0 ]' \
	"detach and delete succeed, the disk is gone, the card holds the backing no more (open count $opens within 5 s; dm remove $rrc)"
rm -rf "$w"

ktap_done
