#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The traffic of sg.sh (security groups, Documentation/vpc.rst): servers and
probes, run inside a guest's namespace (ip netns exec). One process does what
a check needs, so that its packets are counted exactly.

  sg.py serve ADDR TCP_PORTS UDP_PORTS   serve on ADDR until killed: each TCP
                                        connection gets "ok\\n" and is closed,
                                        each UDP datagram is echoed; prints
                                        "ready" once every port is bound
                                        (ports: 5201,5202 or 7000-7002)
  sg.py tcp ADDR PORT                   one connection attempt, given up after
                                        1.5 s; prints open ("ok" read),
                                        refused (a RST came back) or "timeout
                                        N": nothing answered the N SYNs sent
                                        (the first and the retransmissions
                                        TCP_INFO counts)
  sg.py udp ADDR PORT COUNT [SIZE]      COUNT datagrams of SIZE bytes (default
                                        32) from one connected socket, then
                                        waits for echoes until 1 s of
                                        silence; prints "replies N" or
                                        "refused" (an ICMP port unreachable
                                        came back)
  sg.py table ADDR PORT FIRST N         the full-table check: a flow to
                                        ADDR:PORT gets its echo ("first"); then
                                        one datagram to each of the N ports
                                        FIRST.. (new flows, from another
                                        socket); then the first flow again
                                        ("again": it is tracked, it passes)
                                        and a new flow to PORT+1 ("new");
                                        prints "first A again B new C sent N"
  sg.py icmp-error TO FROM SPORT DPORT one ICMP port unreachable from FROM
                                        (this namespace's address) to TO, about
                                        a UDP datagram TO:SPORT -> FROM:DPORT
                                        (raw socket); prints "sent 1"
"""
import select
import socket
import struct
import sys
import time


def ports(spec):
    out = []
    for part in spec.split(","):
        if not part or part == "-":
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def serve(addr, tcp, udp):
    socks = {}
    for p in ports(tcp):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, p))
        s.listen(64)
        socks[s.fileno()] = ("tcp", s)
    for p in ports(udp):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, p))
        socks[s.fileno()] = ("udp", s)
    print("ready", flush=True)
    poll = select.poll()
    for fd in socks:
        poll.register(fd, select.POLLIN)
    while True:
        for fd, _ in poll.poll():
            kind, s = socks[fd]
            try:
                if kind == "tcp":
                    c, _ = s.accept()
                    c.settimeout(2)
                    c.sendall(b"ok\n")
                    c.close()
                else:
                    data, peer = s.recvfrom(65535)
                    s.sendto(data, peer)
            except OSError:
                pass


def syns_sent(s):
    """SYNs a connecting socket sent: 1 + tcpi_total_retrans (struct tcp_info)."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return 1 + struct.unpack_from("=I", info, 100)[0]


def tcp(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.5)
    try:
        s.connect((addr, port))
        got = b""
        while not got.endswith(b"\n"):
            b = s.recv(16)
            if not b:
                break
            got += b
        print("open" if got == b"ok\n" else "closed")
    except ConnectionRefusedError:
        print("refused")
    except (socket.timeout, TimeoutError):
        print("timeout %d" % syns_sent(s))
    except OSError as e:
        print("error", e.errno)
    # A socket still connecting is closed without sending anything.
    s.close()


def drain(s, quiet=1.0):
    """Echoes received until `quiet` seconds without one; -1: refused."""
    n = 0
    while True:
        r, _, _ = select.select([s], [], [], quiet)
        if not r:
            return n
        try:
            s.recv(65535)
            n += 1
        except ConnectionRefusedError:
            return -1


def udp(addr, port, count, size=32):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    try:
        for i in range(count):
            s.send(bytes([65 + i % 26]) * size)
            time.sleep(0.02)
        n = drain(s)
    except ConnectionRefusedError:
        n = -1
    print("refused" if n < 0 else "replies %d" % n)


def table(addr, port, first, n):
    one = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    one.connect((addr, port))
    one.send(b"first")
    got_first = drain(one, 1.0)
    fill = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    for p in range(first, first + n):
        try:
            fill.sendto(b"f", (addr, p))
            sent += 1
        except OSError:
            pass
        # Paced a little: the host's queues never overflow.
        if sent % 64 == 0:
            time.sleep(0.005)
    time.sleep(0.5)
    one.send(b"again")
    got_again = drain(one, 1.0)
    new = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    new.connect((addr, port + 1))
    new.send(b"new")
    got_new = drain(new, 1.0)
    print("first %d again %d new %d sent %d" % (got_first, got_again, got_new, sent))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def icmp_error(to, frm, sport, dport):
    # The quoted datagram: IPv4 header (TO -> FROM, UDP) and 8 bytes of UDP.
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 4, 1, 0, 64, 17, 0,
                      socket.inet_aton(to), socket.inet_aton(frm))
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    quoted = iph + struct.pack("!HHHH", sport, dport, 12, 0)
    msg = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(msg, (to, 0))
    print("sent 1")


def main(a):
    cmd = a[0] if a else ""
    if cmd == "serve" and len(a) == 4:
        serve(a[1], a[2], a[3])
    elif cmd == "tcp" and len(a) == 3:
        tcp(a[1], int(a[2]))
    elif cmd == "udp" and len(a) in (4, 5):
        udp(a[1], int(a[2]), int(a[3]), int(a[4]) if len(a) == 5 else 32)
    elif cmd == "table" and len(a) == 5:
        table(a[1], int(a[2]), int(a[3]), int(a[4]))
    elif cmd == "icmp-error" and len(a) == 5:
        icmp_error(a[1], a[2], int(a[3]), int(a[4]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
