#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Misbehaving network peers for tests/integration/079-networks.sh, 081-proxies.sh (issue 14).

Usage:
  net-faults.py blackhole --bind ADDR --port N --ready FILE
      A TCP listener on ADDR:N (backlog 0) whose accept queue is filled by connections of
      its own that nobody accepts: the kernel then drops every further SYN, so a connect
      to ADDR:N hangs (no RST, no answer). FILE is written once a probe connection was
      seen to hang.
  net-faults.py dns-blackhole --bind ADDR [--port 53] --ready FILE --log FILE
      A UDP socket that reads DNS queries and never answers; one line a query in --log.
  net-faults.py continue --cert PEM --key PEM --port-file FILE --log FILE [--interval S]
      TLS server: reads a request head, then sends "HTTP/1.1 100 Continue" heads, one
      every S seconds (0.02), until the client goes away; --log gets the request line,
      then "sent N" when the connection ends.
  net-faults.py close-delimited --cert PEM --key PEM --body FILE [--port N]
                --port-file FILE --log FILE
      TLS server: GET .../cacerts is answered "200 OK", Content-Type
      application/pkcs7-mime, neither Content-Length nor chunking, FILE as the body, then
      the TCP connection is shut down without a TLS close_notify; anything else 404.
      --log gets the request line.
  net-faults.py proxy [--auth USER:PASSWORD] --port-file FILE --log FILE
                [--cert PEM --key PEM [--client-ca PEM]]
      HTTP CONNECT proxy. With --auth it wants "Proxy-Authorization: Basic
      base64(USER:PASSWORD)": otherwise 407 with Proxy-Authenticate: Basic realm="x" (the
      connection stays open for another try); then it tunnels. Without --auth it tunnels
      at once. --log gets "CONNECT host:port CODE ok|none|wrong" (never the credentials).
      With --cert/--key it is an https:// proxy: TLS (that certificate) from the client's
      first byte, CONNECT inside; --client-ca makes it ask for a client certificate
      (optional; one that chains to a certificate of that file is accepted). --log then
      also gets, for each TLS connection, "tls VERSION client-cert none" or
      "tls VERSION client-cert SUBJECT", or "tls error REASON" for a failed handshake.
  net-faults.py socks5 --auth USER:PASSWORD --port-file FILE --log FILE
                [--resolve NAME=ADDR]...
      SOCKS5 proxy (RFC 1928) that takes only username/password authentication (RFC 1929,
      method 0x02): a client offering no such method gets 0xFF. Then CONNECT to an IPv4
      address, an IPv6 address or a domain name (resolved by the proxy: --resolve first,
      then the system's), and it tunnels. --log gets "methods HEX...", "auth ok|wrong",
      "CONNECT domain|ipv4|ipv6 ADDR:PORT CODE" (never the credentials).
Port files are written tmp + rename once listening; SIGTERM: exit 0.
"""

import argparse
import base64
import os
import select
import signal
import socket
import ssl
import sys
import threading
import time

LOCK = threading.Lock()


def log(path, line):
    with LOCK, open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def announce(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def listener(host, port, backlog=16):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


def read_head(sock, limit=16384):
    head = b""
    while b"\r\n\r\n" not in head:
        if len(head) > limit:
            return None, b""
        data = sock.recv(4096)
        if not data:
            return None, b""
        head += data
    head, rest = head.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def serve(sock, handler):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def tls_context(opts):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.cert, opts.key)
    return ctx


def cmd_blackhole(opts):
    family = socket.AF_INET6 if ":" in opts.bind else socket.AF_INET
    lst = listener(opts.bind, opts.port, backlog=0)
    fillers = []
    # Fill the accept queue until a probe connection no longer completes.
    for n in range(8):
        c = socket.socket(family, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex((opts.bind, opts.port))
        fillers.append(c)
        _, ready, _ = select.select([], [c], [], 0.5 if n else 5)
        if not ready and n:
            announce(opts.ready, "blackhole")
            break
    else:
        sys.exit("blackhole: the accept queue never filled")
    while lst:
        signal.pause()


def cmd_dns_blackhole(opts):
    s = socket.socket(socket.AF_INET6 if ":" in opts.bind else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.bind((opts.bind, opts.port))
    announce(opts.ready, "dns-blackhole")
    while True:
        data, _ = s.recvfrom(4096)
        # the question's name, for the log: labels after the 12-byte header
        name, i = [], 12
        while i < len(data) and data[i]:
            name.append(data[i + 1:i + 1 + data[i]].decode("latin-1"))
            i += 1 + data[i]
        qtype = int.from_bytes(data[i + 1:i + 3], "big") if i + 3 <= len(data) else 0
        log(opts.log, f"query {'.'.join(name)} type {qtype}")


def cmd_continue(opts):
    ctx = tls_context(opts)
    lst = listener("127.0.0.1", 0)

    def handle(conn):
        sent = 0
        try:
            conn.settimeout(30)
            tls = ctx.wrap_socket(conn, server_side=True)
            head, _ = read_head(tls)
            log(opts.log, (head or "").split("\r\n", 1)[0])
            while True:
                tls.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                sent += 1
                time.sleep(opts.interval)
        except (OSError, ssl.SSLError):
            pass
        finally:
            log(opts.log, f"sent {sent}")
            conn.close()

    announce(opts.port_file, str(lst.getsockname()[1]))
    serve(lst, handle)


def cmd_close_delimited(opts):
    ctx = tls_context(opts)
    with open(opts.body, "rb") as f:
        body = f.read()
    lst = listener("127.0.0.1", opts.port)

    def handle(conn):
        try:
            conn.settimeout(30)
            tls = ctx.wrap_socket(conn, server_side=True)
            head, _ = read_head(tls)
            line = (head or "").split("\r\n", 1)[0]
            log(opts.log, line)
            words = line.split()
            if len(words) == 3 and words[0] == "GET" and words[1].endswith("/cacerts"):
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime\r\n"
                            b"Content-Transfer-Encoding: base64\r\n\r\n" + body)
            else:
                tls.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            # The end of the body is the end of the TCP stream: a FIN, no close_notify
            # (SSLSocket.unwrap() would send one; the raw socket is shut down instead).
            raw = socket.socket(fileno=tls.detach())
            raw.shutdown(socket.SHUT_RDWR)
            raw.close()
        except (OSError, ssl.SSLError):
            conn.close()

    announce(opts.port_file, str(lst.getsockname()[1]))
    serve(lst, handle)


def pipe(a, b):
    try:
        while True:
            ready, _, _ = select.select([a, b], [], [], 60)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        pass


def pipe_tls(a, b):
    """pipe() for an SSLSocket a: what it already decrypted is not seen by select()."""
    try:
        while True:
            if not a.pending():
                ready, _, _ = select.select([a, b], [], [], 60)
                if not ready:
                    return
            else:
                ready = [a]
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except (OSError, ssl.SSLError):
        pass


SHORT = {"commonName": "CN", "organizationName": "O", "countryName": "C"}


def subject_of(cert):
    """The subject of a getpeercert() dict, RFC 4514 order (most specific first)."""
    parts = [f"{SHORT.get(k, k)}={v}" for rdn in reversed(cert.get("subject", ()))
             for k, v in rdn]
    return ",".join(parts) or "(no subject)"


def cmd_proxy(opts):
    want = "Basic " + base64.b64encode(opts.auth.encode()).decode() if opts.auth else None
    lst = listener("127.0.0.1", 0)
    ctx = None
    if opts.cert:
        ctx = tls_context(opts)
        if opts.client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cafile=opts.client_ca)

    def handle(conn):
        upstream = None
        try:
            conn.settimeout(30)
            if ctx is not None:
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    log(opts.log, f"tls error {getattr(e, 'reason', None) or e}")
                    return
                cert = conn.getpeercert()
                log(opts.log, f"tls {conn.version()} client-cert "
                    f"{subject_of(cert) if cert else 'none'}")
            rest = b""
            while True:
                head, rest = read_head(conn)
                if head is None:
                    return
                lines = head.split("\r\n")
                words = lines[0].split()
                auth = None
                for h in lines[1:]:
                    k, _, v = h.partition(":")
                    if k.strip().lower() == "proxy-authorization":
                        auth = v.strip()
                seen = "none" if auth is None else ("ok" if auth == want else "wrong")
                if len(words) != 3 or words[0] != "CONNECT":
                    log(opts.log, f"{words[0] if words else '?'} 405 {seen}")
                    conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                if want is not None and seen != "ok":
                    log(opts.log, f"CONNECT {words[1]} 407 {seen}")
                    conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Proxy-Authenticate: Basic realm=\"x\"\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                    continue
                host, _, port = words[1].rpartition(":")
                try:
                    upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                except (OSError, ValueError):
                    log(opts.log, f"CONNECT {words[1]} 502 {seen}")
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                log(opts.log, f"CONNECT {words[1]} 200 {seen}")
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                (pipe_tls if ctx is not None else pipe)(conn, upstream)
                return
        except (OSError, ssl.SSLError):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            conn.close()

    announce(opts.port_file, str(lst.getsockname()[1]))
    serve(lst, handle)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def cmd_socks5(opts):
    user, _, password = opts.auth.partition(":")
    names = dict(r.split("=", 1) for r in opts.resolve)
    lst = listener("127.0.0.1", 0)

    def handle(conn):
        upstream = None
        try:
            conn.settimeout(30)
            ver, n = recv_exact(conn, 2)
            methods = recv_exact(conn, n)
            log(opts.log, "methods " + " ".join(f"{m:02x}" for m in methods))
            if ver != 5 or 2 not in methods:
                conn.sendall(b"\x05\xff")
                return
            conn.sendall(b"\x05\x02")
            ver, ulen = recv_exact(conn, 2)
            u = recv_exact(conn, ulen)
            plen = recv_exact(conn, 1)[0]
            p = recv_exact(conn, plen)
            if ver != 1 or u != user.encode() or p != password.encode():
                log(opts.log, "auth wrong")
                conn.sendall(b"\x01\x01")
                return
            log(opts.log, "auth ok")
            conn.sendall(b"\x01\x00")
            ver, cmd, _, atyp = recv_exact(conn, 4)
            if atyp == 1:
                kind, host = "ipv4", socket.inet_ntop(socket.AF_INET, recv_exact(conn, 4))
            elif atyp == 4:
                kind, host = "ipv6", socket.inet_ntop(socket.AF_INET6, recv_exact(conn, 16))
            elif atyp == 3:
                kind = "domain"
                host = recv_exact(conn, recv_exact(conn, 1)[0]).decode("latin-1")
            else:
                log(opts.log, f"request atyp {atyp} 08")
                conn.sendall(b"\x05\x08\x00\x01" + bytes(6))
                return
            port = int.from_bytes(recv_exact(conn, 2), "big")
            where = f"{kind} {host}:{port}"
            if ver != 5 or cmd != 1:
                log(opts.log, f"CMD {cmd} {where} 07")
                conn.sendall(b"\x05\x07\x00\x01" + bytes(6))
                return
            try:
                upstream = socket.create_connection((names.get(host, host), port), timeout=10)
            except OSError:
                log(opts.log, f"CONNECT {where} 05")
                conn.sendall(b"\x05\x05\x00\x01" + bytes(6))
                return
            log(opts.log, f"CONNECT {where} 00")
            conn.sendall(b"\x05\x00\x00\x01" + bytes(6))
            pipe(conn, upstream)
        except (OSError, ValueError):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            conn.close()

    announce(opts.port_file, str(lst.getsockname()[1]))
    serve(lst, handle)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("blackhole")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ready", required=True)
    p = sub.add_parser("dns-blackhole")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--ready", required=True)
    p.add_argument("--log", required=True)
    for name in ("continue", "close-delimited"):
        p = sub.add_parser(name)
        p.add_argument("--cert", required=True)
        p.add_argument("--key", required=True)
        p.add_argument("--port-file", required=True)
        p.add_argument("--log", required=True)
        if name == "continue":
            p.add_argument("--interval", type=float, default=0.02)
        else:
            p.add_argument("--body", required=True)
            p.add_argument("--port", type=int, default=0)
    p = sub.add_parser("proxy")
    p.add_argument("--auth")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p = sub.add_parser("socks5")
    p.add_argument("--auth", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--resolve", action="append", default=[], metavar="NAME=ADDR")
    opts = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    {"blackhole": cmd_blackhole, "dns-blackhole": cmd_dns_blackhole,
     "continue": cmd_continue, "close-delimited": cmd_close_delimited,
     "proxy": cmd_proxy, "socks5": cmd_socks5}[opts.cmd](opts)


if __name__ == "__main__":
    main()
