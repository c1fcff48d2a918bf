#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The wire side of net.sh (Documentation/vpc.rst, "Wire format").

Reads tcpdump's pcap files of the underlay, checks the sealed and plain
Geneve formats, sends crafted datagrams to a host's port 6081 (plain Geneve,
malformed, replayed or altered sealed packets) and raw Ethernet frames on a
guest's ENI. Run inside the namespace that should send (ip netns exec).
Diagnostics go to stderr as KTAP comments.

  wire.py marker PCAP                          exit 0 if the ping -p 5a marker is in it
  wire.py check-sealed PCAP SRC DST EPOCH LEN MIN
  wire.py check-plain PCAP SRC DST VNI LEN MIN INNER_DST_MAC INNER_SRC_MAC
  wire.py last-epoch PCAP SRC DST               epoch of the last sealed SRC->DST packet
  wire.py plain SRC DST VNI IN_SRC_MAC IN_DST_MAC IN_SRC_IP IN_DST_IP
  wire.py garbage SRC DST                       3 datagrams in neither format
  wire.py replay PCAP PSRC PDST SRC DST N      resend N captured sealed PSRC->PDST payloads
  wire.py tamper PCAP PSRC PDST SRC DST        2 altered copies under fresh counters
  wire.py epoch PCAP PSRC PDST SRC DST EPOCH   a captured packet naming another epoch
  wire.py frame DEV ipv4 DST_MAC SRC_MAC SRC_IP DST_IP
  wire.py frame DEV ipv6 DST_MAC SRC_MAC
  wire.py frame DEV arp ETH_SRC SENDER_MAC SENDER_IP TARGET_IP
  wire.py frame DEV bcast SRC_MAC SRC_IP
  wire.py fits PCAP SRC DST MTU [after-icmp]   exit 0 if 100 or more SRC->DST datagrams, all
                                               with DF and at most MTU long, and no fragment
                                               (after-icmp: those sent after an ICMP
                                               "fragmentation needed" in the capture)
  wire.py frag-needed SRC DST QUOTED_DST MTU [on-cue]
                                               ICMP "fragmentation needed" to DST about
                                               a datagram DST sent to QUOTED_DST

The sending commands print how many datagrams or frames they sent.
"""
import socket
import struct
import sys

PORT = 6081
MARKER = b"Z" * 64  # ping -p 5a -s 1000: the payload is 0x5a bytes
SEALED = 0xC1


def note(msg):
    print("# " + msg, file=sys.stderr)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac(s):
    b = bytes.fromhex(s.replace(":", ""))
    if len(b) != 6:
        raise SystemExit("bad MAC " + s)
    return b


def ipv4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x4E52, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def icmp_echo(data=b"nitro-rs net.sh injected echo"):
    m = struct.pack("!BBHHH", 8, 0, 0, 0x4E52, 1) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(dst, src, etype, payload):
    return mac(dst) + mac(src) + struct.pack("!H", etype) + payload


def arp_request(sha, spa, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(sha), socket.inet_aton(spa),
                       b"\0" * 6, socket.inet_aton(tpa))


def geneve(vni, frame):
    return struct.pack("!BBHI", 0, 0, 0x6558, vni << 8) + frame


def packets(path, fragments=None, frag_needed=None):
    """UDP/IPv4 packets of a pcap file (Ethernet or Linux cooked), as dicts;
    the lengths of IPv4 fragments go to the list `fragments` if given, the
    times of ICMP "fragmentation needed" messages to `frag_needed`."""
    with open(path, "rb") as f:
        d = f.read()
    if len(d) < 24:
        return
    if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif d[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit(path + ": not a pcap file (tcpdump -w writes pcap)")
    link = struct.unpack(e + "I", d[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(d):
        sec, usec, incl = struct.unpack(e + "III", d[off:off + 12])
        ts = sec + usec / 1e6
        pkt = d[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:  # Ethernet
            etype, ip = pkt[12:14], pkt[14:]
        elif link == 113:  # Linux cooked
            etype, ip = pkt[14:16], pkt[16:]
        else:
            continue
        if etype == b"\x08\x00" and len(ip) >= 22 and ip[9] == 1 and frag_needed is not None:
            ihl = (ip[0] & 15) * 4
            if ip[ihl:ihl + 2] == b"\x03\x04":
                frag_needed.append(ts)
        if etype != b"\x08\x00" or len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        total, frag = struct.unpack("!HH", ip[2:4] + ip[6:8])
        if frag & 0x1FFF or frag & 0x2000:
            if fragments is not None:
                fragments.append(total)
            continue  # a fragment: not what the card sends
        end = min(total, len(ip)) if total else len(ip)
        u = ip[ihl:end]
        if len(u) < 8:
            continue
        sport, dport, _, uc = struct.unpack("!HHHH", u[:8])
        yield {
            "src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
            "ttl": ip[8], "df": bool(frag & 0x4000), "sport": sport, "dport": dport,
            "csum": uc, "payload": u[8:], "len": total, "ts": ts,
        }


def geneve_packets(path, src, dst):
    return [p for p in packets(path)
            if p["src"] == src and p["dst"] == dst and p["dport"] == PORT]


def sealed(path, src, dst):
    return [p for p in geneve_packets(path, src, dst) if p["payload"][:1] == bytes([SEALED])]


def check_common(p, bad):
    if p["ttl"] != 64:
        bad.add("outer TTL %d, not 64" % p["ttl"])
    if not p["df"]:
        bad.add("outer DF clear (the card's datagrams are never fragmented)")
    if p["csum"] != 0:
        bad.add("UDP checksum %#x, not 0 (the card sends none)" % p["csum"])


def check_sealed(path, src, dst, epoch, length, minimum):
    ps = geneve_packets(path, src, dst)
    bad, counters = set(), []
    for p in ps:
        pl = p["payload"]
        if len(pl) < 16 + 8 + 14 + 16:
            bad.add("a %d-byte payload: shorter than a sealed frame" % len(pl))
            continue
        if pl[0] != SEALED:
            bad.add("first byte %#x, not 0xc1" % pl[0])
        if pl[1:4] != b"\0\0\0":
            bad.add("bytes 1-3 not zero")
        e, c = struct.unpack("!IQ", pl[4:16])
        if e != epoch:
            bad.add("epoch %d, not %d" % (e, epoch))
        if c == 0:
            bad.add("counter 0")
        counters.append((e, c))
        check_common(p, bad)
    if len(set(counters)) != len(counters):
        bad.add("a (epoch, counter) pair used twice")
    n = sum(1 for p in ps if len(p["payload"]) == length)
    if n < minimum:
        bad.add("%d sealed %s->%s packets of %d bytes, expected at least %d (of %d)"
                % (n, src, dst, length, minimum, len(ps)))
    for b in sorted(bad):
        note("%s->%s: %s" % (src, dst, b))
    return not bad


def check_plain(path, src, dst, vni, length, minimum, in_dst, in_src):
    ps = geneve_packets(path, src, dst)
    bad = set()
    for p in ps:
        pl = p["payload"]
        if len(pl) < 8 + 14:
            bad.add("a %d-byte payload" % len(pl))
            continue
        if pl[0] != 0:
            bad.add("first byte %#x: not version 0 without options" % pl[0])
        if pl[1] & 0xC0:
            bad.add("O or C bit set")
        if pl[2:4] != b"\x65\x58":
            bad.add("protocol %s, not 6558" % pl[2:4].hex())
        if struct.unpack("!I", pl[4:8])[0] != vni << 8:
            bad.add("VNI/reserved %s, not VNI %d" % (pl[4:8].hex(), vni))
        if pl[8:14] != mac(in_dst) or pl[14:20] != mac(in_src):
            bad.add("inner MACs %s > %s" % (pl[14:20].hex(":"), pl[8:14].hex(":")))
        check_common(p, bad)
    n = sum(1 for p in ps if len(p["payload"]) == length)
    if n < minimum:
        bad.add("%d plain %s->%s packets of %d bytes, expected at least %d (of %d)"
                % (n, src, dst, length, minimum, len(ps)))
    for b in sorted(bad):
        note("%s->%s: %s" % (src, dst, b))
    return not bad


def sizes(path, src, dst, after_icmp=False):
    """What the datagrams src -> dst of a capture (snap length 64 is enough)
    say of fragmentation: how many, the largest IPv4 length, how many
    without DF, and how many IPv4 fragments of any kind were seen. With
    after_icmp, only the datagrams sent 0.1 s or more after the first ICMP
    "fragmentation needed" of the capture count (none if there is none)."""
    frags, icmp = [], []
    ps = [p for p in packets(path, frags, icmp) if p["src"] == src and p["dst"] == dst]
    if ps and icmp:
        note("the first ICMP came %.1f s into %.1f s of datagrams"
             % (icmp[0] - ps[0]["ts"], ps[-1]["ts"] - ps[0]["ts"]))
    if after_icmp:
        ps = [p for p in ps if icmp and p["ts"] >= icmp[0] + 0.1]
    note("%s -> %s: %d datagrams%s, largest %d, %d without DF, %d fragments, %d ICMP fragmentation needed"
         % (src, dst, len(ps), " after the ICMP" if after_icmp else "",
            max([p["len"] for p in ps] or [0]), sum(not p["df"] for p in ps), len(frags), len(icmp)))
    return ps, frags


def frag_needed(src, dst, quoted_dst, mtu):
    """An ICMP "fragmentation needed" (RFC 1191), from src (a router of the
    underlay) to dst, about a Geneve datagram dst sent to quoted_dst: its
    IPv4 header (DF) and UDP header, as a router quotes them."""
    q = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 9000, 0, 0x4000, 63, 17, 0,
                    socket.inet_aton(dst), socket.inet_aton(quoted_dst))
    q = q[:10] + struct.pack("!H", csum(q)) + q[12:] + struct.pack("!HHHH", 40000, PORT, 8980, 0)
    m = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + q
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.bind((src, 0))
    s.sendto(m, (dst, 0))
    print(1)


def send(src, dst, payloads):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for p in payloads:
        s.sendto(p, (dst, PORT))
    print(len(payloads))


def captured(path, psrc, pdst):
    ps = sealed(path, psrc, pdst)
    if not ps:
        raise SystemExit("no sealed %s->%s packet in %s" % (psrc, pdst, path))
    return [p["payload"] for p in ps]


def frame(dev, kind, args):
    if kind == "ipv4":
        dst, src, sip, dip = args
        f = eth(dst, src, 0x0800, ipv4(sip, dip, 1, icmp_echo()))
    elif kind == "ipv6":
        dst, src = args
        # An ICMPv6 echo request header, enough for the card to see IPv6.
        body = struct.pack("!IHBB", 6 << 28, 8, 58, 64) + b"\xfe\x80" + b"\0" * 13 + b"\x01" \
            + b"\xfe\x80" + b"\0" * 13 + b"\x02" + struct.pack("!BBHHH", 128, 0, 0, 1, 1)
        f = eth(dst, src, 0x86DD, body)
    elif kind == "arp":
        src, sha, spa, tpa = args
        f = eth("ff:ff:ff:ff:ff:ff", src, 0x0806, arp_request(sha, spa, tpa))
    elif kind == "bcast":
        src, sip = args
        f = eth("ff:ff:ff:ff:ff:ff", src, 0x0800,
                ipv4(sip, "255.255.255.255", 17, udp(4242, 4242, b"nitro-rs broadcast")))
    else:
        raise SystemExit("unknown frame kind " + kind)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    s.send(f + b"\0" * max(0, 60 - len(f)))
    print(1)


def main(a):
    cmd = a[0] if a else ""
    if cmd == "marker":
        with open(a[1], "rb") as f:
            sys.exit(0 if MARKER in f.read() else 1)
    elif cmd == "check-sealed":
        sys.exit(0 if check_sealed(a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6])) else 1)
    elif cmd == "check-plain":
        sys.exit(0 if check_plain(a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]),
                                  a[7], a[8]) else 1)
    elif cmd == "last-epoch":
        ps = sealed(a[1], a[2], a[3])
        print(struct.unpack("!I", ps[-1]["payload"][4:8])[0] if ps else "none")
    elif cmd == "plain":
        src, dst, vni, ismac, idmac, isip, idip = a[1:8]
        send(src, dst, [geneve(int(vni), eth(idmac, ismac, 0x0800, ipv4(isip, idip, 1, icmp_echo())))])
    elif cmd == "garbage":
        # Geneve version 2, version 1 with a frame, version 3 but not format 1.
        send(a[1], a[2], [b"\x80", b"\x41\x00\x65\x58\x00\x00\x2a\x00" + b"\x11" * 60,
                          b"\xff" * 100])
    elif cmd == "replay":
        pls = captured(a[1], a[2], a[3])
        send(a[4], a[5], pls[:int(a[6])])
    elif cmd == "tamper":
        pl = captured(a[1], a[2], a[3])[-1]
        e, c = struct.unpack("!IQ", pl[4:16])
        # Counters never seen (far above what the peer sent), so neither
        # copy can be taken for a replay: they fail only authentication.
        flipped = bytearray(pl[:4] + struct.pack("!IQ", e, c + (1 << 32)) + pl[16:])
        i = 16 + 8 + 20 if len(pl) > 16 + 8 + 20 + 16 else 16
        flipped[i] ^= 0x01
        aad_only = pl[:4] + struct.pack("!IQ", e, c + (1 << 32) + 1) + pl[16:]
        send(a[4], a[5], [bytes(flipped), aad_only])
    elif cmd == "epoch":
        pl = captured(a[1], a[2], a[3])[-1]
        send(a[4], a[5], [pl[:4] + struct.pack("!I", int(a[6])) + pl[8:]])
    elif cmd == "frame":
        frame(a[1], a[2], a[3:])
    elif cmd == "fits":
        # fits PCAP SRC DST MTU [after-icmp]: at least 100 datagrams src -> dst
        # seen (sent after the ICMP), none above MTU, all with DF, and no
        # fragment at all.
        ps, frags = sizes(a[1], a[2], a[3], a[5:6] == ["after-icmp"])
        sys.exit(0 if len(ps) >= 100 and not frags and all(p["df"] and p["len"] <= int(a[4]) for p in ps) else 1)
    elif cmd == "frag-needed":
        if a[5:6] == ["on-cue"]:
            # Started ahead (Python starts slowly under TCG): says it is
            # ready, then sends when a line comes on stdin.
            print("ready", flush=True)
            sys.stdin.readline()
        frag_needed(a[1], a[2], a[3], int(a[4]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
