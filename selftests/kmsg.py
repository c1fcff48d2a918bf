#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel log, by sequence number, for the selftests.

The kernel's log is a ring: once it is full, old records go as new ones
come, so reading it (dmesg) at the end of a run may miss what was logged at
the start. A reader of /dev/kmsg started first keeps every record in a file
instead, and knows when it missed some: each record has a sequence number,
and /dev/kmsg fails a read with EPIPE when the records the reader was about
to get were overwritten (the next read then gives a later number).

  kmsg.py capture FILE   append every record, from the oldest the ring still
                         holds, to FILE, until killed; a missed range is a
                         line "#lost FIRST COUNT" (records FIRST..FIRST+COUNT-1)
  kmsg.py mark           log a marker record; print its sequence number
  kmsg.py since SEQ      print the records after SEQ, up to now (a new mark),
                         as dmesg does ("[seconds] text"); exit 3, after
                         printing, if any of them was lost
  kmsg.py lost [SEQ]     print the ranges lost after SEQ (default: from boot);
                         exit 3 if there is any

With $NITRO_KMSG set to a capture's FILE, `since` and `lost` read it (after
waiting until the capture has the new mark); without, they read /dev/kmsg
itself, which holds only what the ring still has (a record older than that
counts as lost). Markers ("nitro-kmsg: mark ...") are left out of `since`.
"""
import errno
import os
import select
import sys
import time

MARK = "nitro-kmsg: mark "
LOST = "#lost "


def parse(rec):
    """(seq, usec, text) of a /dev/kmsg record (bytes, or a capture line)."""
    if isinstance(rec, bytes):
        rec = rec.decode("utf-8", "replace")
    line = rec.split("\n", 1)[0]
    head, _, text = line.partition(";")
    f = head.split(",")
    return int(f[1]), int(f[2]), text, line


def capture(path):
    fd = os.open("/dev/kmsg", os.O_RDONLY)
    out = open(path, "a", buffering=1, encoding="utf-8")
    expect = 0
    while True:
        try:
            rec = os.read(fd, 16384)
        except OSError as e:
            # EPIPE: overwritten before we read them; the next record's
            # number says how many.
            if e.errno in (errno.EPIPE, errno.EINTR):
                continue
            raise
        seq, _, _, line = parse(rec)
        if seq != expect:
            out.write(f"{LOST}{expect} {seq - expect}\n")
        out.write(line + "\n")
        expect = seq + 1


def mark():
    """Logs a marker and gives its sequence number."""
    fd = os.open("/dev/kmsg", os.O_RDWR | os.O_NONBLOCK)
    os.lseek(fd, 0, os.SEEK_END)
    token = f"{MARK}{os.getpid()}.{time.monotonic_ns()}"
    # With its newline: a record without one is a line still being
    # continued, which readers see only once the next record ends it.
    os.write(fd, (token + "\n").encode())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        select.select([fd], [], [], 1)
        try:
            rec = os.read(fd, 16384)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EPIPE, errno.EINTR):
                continue
            raise
        seq, _, text, _ = parse(rec)
        if text == token:
            os.close(fd)
            return seq
    sys.exit("kmsg: the marker did not come back from /dev/kmsg")


def records_from_capture(path, upto):
    """Waits until the capture holds record `upto`; yields its lines up to it."""
    deadline = time.monotonic() + 60
    while True:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            tail = f.read().decode("utf-8", "replace").splitlines()
        last = [ln for ln in tail if ln and not ln.startswith("#")]
        if last and parse(last[-1])[0] >= upto:
            break
        if time.monotonic() > deadline:
            sys.exit(f"kmsg: the capture {path} stopped (no record {upto} after 60 s)")
        time.sleep(0.02)
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln in f:
            ln = ln.rstrip("\n")
            if ln.startswith(LOST):
                yield ln
                continue
            if parse(ln)[0] > upto:
                return
            yield ln


def records_from_ring(upto):
    """The records the ring still holds, up to `upto`, with a "#lost" line
    for the ones before the oldest."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    expect = 0
    while True:
        try:
            rec = os.read(fd, 16384)
        except OSError as e:
            if e.errno in (errno.EPIPE, errno.EINTR):
                continue
            if e.errno == errno.EAGAIN:
                break
            raise
        seq, _, _, line = parse(rec)
        if seq != expect:
            yield f"{LOST}{expect} {seq - expect}"
        yield line
        expect = seq + 1
        if seq >= upto:
            break
    os.close(fd)


def records(upto):
    path = os.environ.get("NITRO_KMSG")
    if path and os.path.exists(path):
        return records_from_capture(path, upto)
    return records_from_ring(upto)


def lost_range(line):
    """(first, count) of a "#lost" line."""
    first, count = (int(x) for x in line[len(LOST):].split())
    return first, count


def lost_between(line, after, upto):
    """Whether the range of a "#lost" line has records in (after, upto)."""
    first, count = lost_range(line)
    return first < upto and first + count - 1 > after


def since(after):
    upto = mark()
    lost = False
    for ln in records(upto):
        if ln.startswith(LOST):
            lost = lost or lost_between(ln, after, upto)
            continue
        seq, usec, text, _ = parse(ln)
        if after < seq < upto and not text.startswith(MARK):
            print(f"[{usec // 1000000:5d}.{usec % 1000000:06d}] {text}")
    if lost:
        print(f"kmsg: kernel log records after {after} were lost", file=sys.stderr)
        return 3
    return 0


def lost(after):
    upto = mark()
    n = 0
    for ln in records(upto):
        if ln.startswith(LOST) and lost_between(ln, after, upto):
            first, count = lost_range(ln)
            print(f"records {first} to {first + count - 1} ({count}) lost")
            n += count
    return 3 if n else 0


def main(argv):
    try:
        if len(argv) == 3 and argv[1] == "capture":
            capture(argv[2])
        elif len(argv) == 2 and argv[1] == "mark":
            print(mark())
        elif len(argv) == 3 and argv[1] == "since":
            return since(int(argv[2]))
        elif len(argv) in (2, 3) and argv[1] == "lost":
            return lost(int(argv[2]) if len(argv) == 3 else -1)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except BrokenPipeError:
        # `since ... | grep -q` closes the pipe at the first match.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


sys.exit(main(sys.argv))
