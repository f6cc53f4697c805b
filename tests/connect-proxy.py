#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A minimal HTTP CONNECT proxy on loopback for the tests: tunnels TLS, logs each request line.

Usage: connect-proxy.py --port-file FILE --log FILE
Writes the port it listens on to --port-file (tmp + rename) once listening; appends one line a
request to --log ("CONNECT host:port", or the method and target of anything else, answered
405). SIGTERM: exit 0.
"""

import argparse
import os
import select
import signal
import socket
import socketserver
import sys
import threading


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            data = sock.recv(4096)
            if not data:
                return
            head += data
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        with self.server.lock:
            self.server.log.write(line.rsplit(" ", 1)[0] + "\n")
            self.server.log.flush()
        words = line.split()
        if len(words) != 3 or words[0] != "CONNECT":
            sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = words[1].rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except (OSError, ValueError):
            sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
        self.pipe(sock, upstream)

    @staticmethod
    def pipe(a, b):
        socks = [a, b]
        try:
            while True:
                ready, _, _ = select.select(socks, [], [], 60)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            b.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    opts = ap.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.lock = threading.Lock()
    server.log = open(opts.log, "a", encoding="utf-8")
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(tmp, opts.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
