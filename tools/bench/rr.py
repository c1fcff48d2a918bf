#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# TCP request/response rate (netperf TCP_RR's job; there is no netperf in the
# dev root): one connection, TCP_NODELAY, a 1-byte request answered by a
# 1-byte response, one transaction in flight, for N seconds.
#
#   rr.py server ADDR [PORT]             answer one client, then exit
#   rr.py client ADDR [PORT] [SECONDS]   print transactions per second
#
# The client retries the connection for 10 s (the server may still be
# starting); every blocking call has a timeout, so a path that stops
# carrying packets ends the run with an error instead of a hang.
import socket
import sys
import time

PORT = 5301
TIMEOUT = 5.0


def server(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    ls.settimeout(60)
    c, _ = ls.accept()
    ls.close()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.settimeout(TIMEOUT)
    recv, send = c.recv, c.send
    while True:
        b = recv(1)
        if not b:
            break
        send(b)
    c.close()


def connect(addr, port):
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect((addr, port))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def client(addr, port, seconds):
    s = connect(addr, port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(TIMEOUT)
    recv, send, clock = s.recv, s.send, time.monotonic
    msg = b"x"
    # Warm-up (ARP, slow start, caches): not counted.
    end = clock() + 0.5
    while clock() < end:
        send(msg)
        if not recv(1):
            raise OSError("server closed the connection")
    n = 0
    start = clock()
    end = start + seconds
    while True:
        # 64 transactions between clock reads: the clock is not free either.
        for _ in range(64):
            send(msg)
            if not recv(1):
                raise OSError("server closed the connection")
        n += 64
        t = clock()
        if t >= end:
            break
    s.close()
    print(round(n / (t - start)))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("server", "client"):
        sys.stderr.write("usage: rr.py server ADDR [PORT] | client ADDR [PORT] [SECONDS]\n")
        return 2
    port = int(argv[3]) if len(argv) > 3 else PORT
    if argv[1] == "server":
        server(argv[2], port)
    else:
        client(argv[2], port, float(argv[4]) if len(argv) > 4 else 5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
