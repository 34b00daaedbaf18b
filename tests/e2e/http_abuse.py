#!/usr/bin/env python3
"""Misbehaving HTTP clients for the end-to-end tests.

  http_abuse.py slow HOST PORT CONNECTIONS SECONDS
      Opens CONNECTIONS connections and sends a request one byte every 2 s,
      for up to SECONDS. Prints how many connections the server cut off and
      the longest one lasted; exits 0 only if the server cut off every one.
  http_abuse.py reset HOST PORT COUNT
      COUNT times: sends a whole GET /metrics with a small receive buffer,
      waits for the first bytes of the answer, then resets the connection
      (SO_LINGER 0) while the rest is on its way.
"""
import select
import socket
import struct
import sys
import time

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: gantry\r\nUser-Agent: slow\r\n\r\n"


def slow(host, port, connections, seconds):
    socks = []
    for _ in range(connections):
        s = socket.create_connection((host, port), timeout=5)
        s.setblocking(False)
        socks.append(s)
    began = time.monotonic()
    cut = {}
    sent = 0
    while len(cut) < len(socks) and time.monotonic() - began < seconds:
        for i, s in enumerate(socks):
            if i in cut:
                continue
            try:
                s.send(REQUEST[sent % len(REQUEST):sent % len(REQUEST) + 1])
            except OSError:
                cut[i] = time.monotonic() - began
        sent += 1
        # Wait 2 s, noticing connections the server closes meanwhile.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            live = [s for i, s in enumerate(socks) if i not in cut]
            if not live:
                break
            readable, _, _ = select.select(live, [], [], max(0, deadline - time.monotonic()))
            for s in readable:
                i = socks.index(s)
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    cut[i] = time.monotonic() - began
    for s in socks:
        s.close()
    longest = max(cut.values()) if cut else 0
    print(f"slow: {len(cut)} of {connections} connections cut off by the server; "
          f"the longest lasted {longest:.1f}s ({sent} bytes sent each)")
    return 0 if len(cut) == connections else 1


def reset(host, port, count):
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(REQUEST)
        s.recv(64)  # the answer has begun
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    print(f"reset: {count} connections reset mid-response")
    return 0


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "slow":
        return slow(host, port, int(sys.argv[4]), float(sys.argv[5]))
    if mode == "reset":
        return reset(host, port, int(sys.argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
