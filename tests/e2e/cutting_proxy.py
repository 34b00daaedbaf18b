#!/usr/bin/env python3
"""A TCP proxy in front of a registry that can fail in the middle of a pull.

usage: cutting_proxy.py LISTEN_PORT UPSTREAM_HOST:PORT CONTROL_DIR

Relays every connection to the registry. While CONTROL_DIR/cut exists, the
next blob download (GET .../blobs/...) is cut: the client gets the headers
and half of the body, then the connection closes; the proxy removes `cut`,
creates CONTROL_DIR/down and, while `down` exists, closes every new
connection at once, as a registry that went away would. The e2e test
removes `down` to bring the registry back.
"""
import os
import socket
import sys
import threading


def relay(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def read_headers(sock):
    """Reads up to the end of the HTTP headers; returns (headers, rest)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head + b"\r\n\r\n", rest


def cut_blob(client, upstream, request, control):
    """Forwards the request, then half of the response body, then closes."""
    upstream.sendall(request)
    head, rest = read_headers(upstream)
    if head is None:
        return
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    half = length // 2
    while len(rest) < half:
        data = upstream.recv(65536)
        if not data:
            break
        rest += data
    open(os.path.join(control, "down"), "w").close()
    client.sendall(head + rest[:half])
    print(f"cutting_proxy: cut a {length}-byte blob after {half} bytes; registry down",
          file=sys.stderr, flush=True)


CUT_LOCK = threading.Lock()


def claim_cut(control):
    """True for the one download that gets cut."""
    with CUT_LOCK:
        try:
            os.remove(os.path.join(control, "cut"))
            return True
        except FileNotFoundError:
            return False


def serve(client, upstream_addr, control):
    with client:
        if os.path.exists(os.path.join(control, "down")):
            return
        request = b""
        try:
            head, rest = read_headers(client)
        except OSError:
            return
        if head is None:
            return
        request = head + rest
        line = head.split(b"\r\n", 1)[0]
        with socket.create_connection(upstream_addr) as upstream:
            if line.startswith(b"GET ") and b"/blobs/" in line and claim_cut(control):
                cut_blob(client, upstream, request, control)
                return
            upstream.sendall(request)
            back = threading.Thread(target=relay, args=(upstream, client), daemon=True)
            back.start()
            relay(client, upstream)
            back.join()


def main():
    port, upstream, control = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    host, _, up_port = upstream.rpartition(":")
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, (host, int(up_port)), control),
                         daemon=True).start()


if __name__ == "__main__":
    main()
