#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Local EST (RFC 7030) test server: real TLS on loopback, really signs CSRs.

Only the standard library and python3-cryptography (Debian's 38.x) are used.

Usage:
  est-server.py --dir DIR [--port-file FILE] [--bind 127.0.0.1|::1]
                [--tls 1.2|1.3|any] [--auth none|basic|digest|cert]
                [--user U --password P] [--intermediate] [--pop] [--no-wrap]
                [--cte add|drop] [--log FILE] [--cert-days N | --cert-seconds N]
                [--pidfile FILE] [--server-cert-untrusted] [--behaviour LINE]
                [--csrattrs-file DER] [--enroll-chain] [--crlf] [--reuse-ca]
                [--no-client-cert] [--expired-client-cert-ok] [--verbose]
Defaults: 127.0.0.1, --tls any, --auth none, user estuser / password estpwd,
365-day certs, base64 wrapped at 64 columns with "\n", CTE header sent.
--cte drop also drops it from the serverkeygen parts.

At start it writes into DIR (created 0700 if missing; keys 0600):
  root.pem, root.key           root CA (EC P-256, CA:TRUE); the client's ca_root
  intermediate.pem/.key        with --intermediate: the issuing CA
  ca-chain.pem                 issuing CA chain, issuing CA first, root last
  server.pem, server.key       TLS cert CN=localhost, SAN DNS:localhost,
                               IP:127.0.0.1, IP:::1 (+ chain in server.pem)
  untrusted-ca.pem             with --server-cert-untrusted: the unrelated CA
                               that signed server.pem instead of root.pem
  client-auth.pem              client key + cert (CN=client, clientAuth) issued
                               by the issuing CA, for TLS client-cert tests
  requests.log                 request log (unless --log)
Then it listens on port 0 and writes the port ("NNNNN\\n") to --port-file
(tmp + rename) once listening. SIGTERM/SIGINT: exit 0.

Endpoints, under /.well-known/est/ and /.well-known/est/LABEL/:
  GET  cacerts        200 application/pkcs7-mime, certs-only PKCS#7 of the
                      issuing chain; never needs authentication
  GET  csrattrs       204, or 200 application/csrattrs with --csrattrs-file;
                      never needs authentication
  POST simpleenroll   base64 DER PKCS#10 in, 200 application/pkcs7-mime;
  POST simplereenroll smime-type=certs-only out (issued cert; + chain with
                      --enroll-chain)
  POST serverkeygen   200 multipart/mixed: application/pkcs8 + certs-only
Anything else: 404; wrong method: 405. Bad CSR, bad signature, PoP failure,
re-enroll subject mismatch: 400 with a one-line text/plain reason.

Authentication for the three POST operations:
  none    nothing needed
  basic   Basic realm="est", 401 when missing or wrong
  digest  RFC 7616 Digest realm="est", qop=auth, MD5 (SHA-256 accepted)
  cert    a TLS client certificate issued by the issuing CA
The server asks for a TLS client certificate (optional; not with
--no-client-cert); one that does not verify against ca-chain.pem (unknown
CA, expired) fails the TLS handshake (with --expired-client-cert-ok an
expired one gets through and is then treated as absent). simplereenroll
needs a valid client cert issued by the issuing CA (CSR subject must equal
the cert subject, else 400) or, with basic/digest, right credentials;
otherwise 401. With basic/digest, simpleenroll and serverkeygen need the
credentials even when a client cert is presented. With --pop,
simpleenroll/simplereenroll need the CSR challengePassword to be
base64(tls-unique); under TLS 1.3 (no tls-unique) they get 400.

Behaviour file DIR/behaviour, re-read on every request (absent = normal).
Each non-empty line not starting with '#' is a rule; the first live rule
that matches the operation applies:
  [times N] [OP-]KIND [ARGS]
OP- limits the rule to one operation: cacerts-, csrattrs-, simpleenroll-,
simplereenroll-, serverkeygen-; without it the rule applies to the three
POST operations. "times N" applies it to the next N matching requests
(the file is rewritten with the count decremented; 0 = spent). Kinds:
  status CODE [RETRY]  answer CODE with a short text/plain body (and
                       Retry-After: RETRY if given; 401 adds the challenge)
  202 N SECONDS        next N requests: 202 + Retry-After: SECONDS, then
                       normal (N counted down in the file)
  202date N SECONDS    same, Retry-After as an HTTP-date SECONDS ahead
  garbage              200, right Content-Type, body not base64
  wrong-content-type   200, Content-Type: text/plain, valid body
  other-key            200, valid cert for a fresh, different key
                       (cacerts: an unrelated CA)
  bad-pkcs7            200, valid base64 of random bytes instead of PKCS#7
  empty-pkcs7          200, certs-only PKCS#7 with no certificates
  huge [MIB]           200, 20 MiB (or MIB) base64-looking body, streamed
  slow [SECONDS]       200, headers at once, then the body 1 byte/SECONDS (1)
  delay SECONDS        sleep, then answer normally
  close                close the connection without answering
Examples: "status 503", "202 2 1", "cacerts-garbage", "times 1 status 500".
--behaviour LINE writes LINE to DIR/behaviour at start.

Request log (DIR/requests.log or --log): one JSON object per line, flushed,
written when a request has been read (before it is answered):
  {"time": ISO-8601 UTC, "conn": N (same for one TLS connection, +1 per new
   connection), "method", "path" (as sent), "label": str|null,
   "op": str|null, "headers": {lower-case name: value}, "body": text|null,
   "body_base64": str (only when the body is not UTF-8), "tls_version":
   "TLSv1.2"|"TLSv1.3", "client_cert_subject": RFC 4514 str|null,
   "tls_unique": base64 (TLS 1.2) | null}
"""

import argparse
import base64
import binascii
import datetime
import email.utils
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID, ExtendedKeyUsageOID, ExtensionOID, NameOID

PREFIX = "/.well-known/est/"
ENROLL_OPS = ("simpleenroll", "simplereenroll", "serverkeygen")
OPEN_OPS = ("cacerts", "csrattrs")
OPS = ENROLL_OPS + OPEN_OPS
MAX_BODY = 1 << 20
X509_V_FLAG_NO_CHECK_TIME = 0x200000
HANDSHAKE_TIMEOUT = 10
REALM = "est"
PKCS7_CERTS = "application/pkcs7-mime; smime-type=certs-only"
CONTENT_TYPES = {"cacerts": "application/pkcs7-mime", "csrattrs": "application/csrattrs",
                 "simpleenroll": PKCS7_CERTS, "simplereenroll": PKCS7_CERTS}

conn_local = threading.local()


def die(msg):
    print(f"est-server: {msg}", file=sys.stderr)
    sys.exit(1)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def write_file(path, data, mode=0o644):
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def key_usage(**on):
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def certs_only(certs):
    if not certs:
        # SEQUENCE { signedData, [0] { SignedData v1, {}, {data}, {} } }: no certificates
        return binascii.unhexlify("302306092a864886f70d010702a016301402010131"
                                  "00300b06092a864886f70d0107013100")
    return pkcs7.serialize_certificates(certs, serialization.Encoding.DER)


def tls_unique(sock):
    """RFC 5929 tls-unique; None under TLS 1.3, where it is not defined."""
    if sock.version() != "TLSv1.2":
        return None
    return sock.get_channel_binding("tls-unique")


class CA:
    """A CA certificate and its key; issues CA and end-entity certificates."""

    def __init__(self, cert, key, parent=None):
        self.cert, self.key, self.parent = cert, key, parent

    @property
    def chain(self):
        return [self.cert] + (self.parent.chain if self.parent else [])

    @classmethod
    def create(cls, cn, parent=None, days=3650):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = cls._builder(subject, parent.cert.subject if parent else subject, key.public_key(),
                         days * 86400, parent.cert if parent else None)
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True),
                            critical=True)
        return cls(b.sign(parent.key if parent else key, hashes.SHA256()), key, parent)

    @classmethod
    def load(cls, dirname, name, parent=None):
        with open(os.path.join(dirname, name + ".pem"), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(dirname, name + ".key"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        return cls(cert, key, parent)

    def save(self, dirname, name):
        write_file(os.path.join(dirname, name + ".key"), key_pem(self.key), 0o600)
        write_file(os.path.join(dirname, name + ".pem"), pem(self.cert))

    @staticmethod
    def _builder(subject, issuer, pub, seconds, issuer_cert):
        now = utcnow()
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(seconds=60))
             .not_valid_after(now + datetime.timedelta(seconds=seconds))
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
        if issuer_cert is not None:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())
            b = b.add_extension(aki, critical=False)
        return b

    def issue(self, subject, pub, seconds, extensions=()):
        """End-entity cert: extensions copied, except the ones the CA decides."""
        own = (ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
               ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        b = self._builder(subject, self.cert.subject, pub, seconds, self.cert)
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        for ext in extensions:
            if ext.oid not in own:
                b = b.add_extension(ext.value, ext.critical)
        return b.sign(self.key, hashes.SHA256())


def setup_pki(opts):
    d = opts.dir
    have = all(os.path.exists(os.path.join(d, n)) for n in ("root.pem", "root.key"))
    if opts.reuse_ca and have:
        root = CA.load(d, "root")
    else:
        root = CA.create(f"EST Test Root CA {secrets.token_hex(3)}")
        root.save(d, "root")
    issuing = root
    if opts.intermediate:
        have = all(os.path.exists(os.path.join(d, n)) for n in ("intermediate.pem",
                                                              "intermediate.key"))
        if opts.reuse_ca and have:
            issuing = CA.load(d, "intermediate", root)
        else:
            issuing = CA.create(f"EST Test Intermediate CA {secrets.token_hex(3)}", root)
            issuing.save(d, "intermediate")
    write_file(os.path.join(d, "ca-chain.pem"), b"".join(pem(c) for c in issuing.chain))

    server_ca = issuing
    if opts.server_cert_untrusted:
        server_ca = CA.create(f"EST Untrusted CA {secrets.token_hex(3)}")
        write_file(os.path.join(d, "untrusted-ca.pem"), pem(server_ca.cert))
    skey = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1"))])
    exts = [x509.Extension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, False, san),
            x509.Extension(ExtensionOID.KEY_USAGE, True, key_usage(digital_signature=True)),
            x509.Extension(ExtensionOID.EXTENDED_KEY_USAGE, False,
                           x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]))]
    scert = server_ca.issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
                            skey.public_key(), 365 * 86400, exts)
    server_chain = [scert] + server_ca.chain[:-1]
    write_file(os.path.join(d, "server.pem"), b"".join(pem(c) for c in server_chain))
    write_file(os.path.join(d, "server.key"), key_pem(skey), 0o600)

    ckey = ec.generate_private_key(ec.SECP256R1())
    exts = [x509.Extension(ExtensionOID.KEY_USAGE, True, key_usage(digital_signature=True)),
            x509.Extension(ExtensionOID.EXTENDED_KEY_USAGE, False,
                           x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]))]
    ccert = issuing.issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")]),
                          ckey.public_key(), 365 * 86400, exts)
    write_file(os.path.join(d, "client-auth.pem"), key_pem(ckey) + pem(ccert), 0o600)
    return issuing


class Behaviour:
    """The per-test behaviour file: parsed on every request, counts rewritten."""

    KINDS = {"status": (1, 2), "202": (2, 2), "202date": (2, 2), "garbage": (0, 0),
             "wrong-content-type": (0, 0), "other-key": (0, 0), "bad-pkcs7": (0, 0),
             "empty-pkcs7": (0, 0), "huge": (0, 1), "slow": (0, 1), "delay": (1, 1),
             "close": (0, 0)}

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    @classmethod
    def parse(cls, line):
        """-> (op or None, kind, int args, words, index of the count word or None)"""
        words = line.split()
        count_at = None
        skip = 0
        if words and words[0] == "times":
            if len(words) < 3:
                raise ValueError("times needs N and a rule")
            count_at, skip = 1, 2
        if len(words) <= skip:
            raise ValueError("empty rule")
        head = words[skip]
        op = None
        for o in OPS:
            if head.startswith(o + "-"):
                op, head = o, head[len(o) + 1:]
        if head not in cls.KINDS:
            raise ValueError(f"unknown behaviour {head!r}")
        args = [int(a) for a in words[skip + 1:]]
        lo, hi = cls.KINDS[head]
        if not lo <= len(args) <= hi:
            raise ValueError(f"{head}: wrong number of arguments")
        if head in ("202", "202date"):
            count_at = skip + 1
        if count_at is not None:
            int(words[count_at])
        return op, head, args, words, count_at

    def take(self, op):
        """The rule for this request as (kind, args), or None; spends one count."""
        with self.lock:
            try:
                with open(self.path) as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                return None
            for i, line in enumerate(lines):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                try:
                    rop, kind, args, words, count_at = self.parse(line)
                except (ValueError, IndexError) as e:
                    print(f"est-server: {self.path}:{i + 1}: {e}", file=sys.stderr)
                    continue
                if rop != op and not (rop is None and op in ENROLL_OPS):
                    continue
                if count_at is not None:
                    left = int(words[count_at])
                    if left <= 0:
                        continue
                    words[count_at] = str(left - 1)
                    lines[i] = " ".join(words)
                    write_file(self.path, ("\n".join(lines) + "\n").encode())
                if kind in ("202", "202date"):
                    args = args[1:]
                return kind, args
        return None


class Digest:
    """RFC 7616 server side: qop=auth, MD5 offered, nonces remembered 10 min."""

    LIFETIME = 600

    def __init__(self, user, password):
        self.user, self.password = user, password
        self.opaque = secrets.token_hex(16)
        self.nonces = {}
        self.lock = threading.Lock()

    def challenge(self, stale=False):
        nonce = secrets.token_hex(16)
        now = time.monotonic()
        with self.lock:
            self.nonces = {n: t for n, t in self.nonces.items() if now - t < self.LIFETIME}
            self.nonces[nonce] = now
        return (f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
                f'opaque="{self.opaque}", algorithm=MD5' + (", stale=true" if stale else ""))

    @staticmethod
    def params(text):
        p = {}
        for k, quoted, token in re.findall(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))', text):
            p[k.lower()] = re.sub(r"\\(.)", r"\1", quoted) if token == "" else token
        return p

    def check(self, header, method, path):
        """-> "ok", "stale" (right password, unknown nonce) or "bad"."""
        if header[:7].lower() != "digest ":
            return "bad"
        p = self.params(header[7:])
        alg = p.get("algorithm", "MD5").upper()
        hfn = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}.get(alg.removesuffix("-SESS"))
        need = ("username", "realm", "nonce", "uri", "response")
        if hfn is None or any(k not in p for k in need):
            return "bad"
        if p["username"] != self.user or p["realm"] != REALM or p["uri"] != path:
            return "bad"
        if "opaque" in p and p["opaque"] != self.opaque:
            return "bad"

        def h(s):
            return hfn(s.encode()).hexdigest()
        ha1 = h(f"{self.user}:{REALM}:{self.password}")
        if alg.endswith("-SESS"):
            ha1 = h(f"{ha1}:{p['nonce']}:{p.get('cnonce', '')}")
        ha2 = h(f"{method}:{p['uri']}")
        qop = p.get("qop")
        if qop == "auth":
            want = h(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
        elif qop is None:
            want = h(f"{ha1}:{p['nonce']}:{ha2}")
        else:
            return "bad"
        if not hmac.compare_digest(want, p["response"].lower()):
            return "bad"
        with self.lock:
            known = p["nonce"] in self.nonces
        return "ok" if known else "stale"


class ClientGone(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "est-test-server/1"
    timeout = 120

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write(f"est-server: conn {conn_local.conn_id}: {fmt % args}\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # --- plumbing -------------------------------------------------------

    def dispatch(self, method):
        self.sent = False
        self.rule_args = []
        try:
            body = self.read_body()
            if body is None:
                return
            label, op = self.parse_path()
            self.server.record(self, method, body, label, op)
            if op is None:
                return self.reply(404, "text/plain", b"not found\n")
            want = "GET" if op in OPEN_OPS else "POST"
            if method != want:
                return self.reply(405, "text/plain", b"method not allowed\n", {"Allow": want})
            if op in ENROLL_OPS and not self.authorized(op):
                return
            rule = self.server.behaviour.take(op)
            if rule and self.early(op, *rule):
                return
            getattr(self, "op_" + op)(body, rule or (None, []))
        except (ClientGone, ConnectionError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            if not self.sent:
                try:
                    self.reply(500, "text/plain", b"internal error\n", {"Connection": "close"})
                except Exception:
                    pass

    def read_body(self):
        n = MAX_BODY + 1
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline(100).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1000).strip():
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline(10)
                if len(body) > MAX_BODY:
                    break
        else:
            try:
                n = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                n = -1
            if 0 <= n <= MAX_BODY:
                body = self.rfile.read(n)
                if len(body) != n:
                    raise ClientGone()
                return body
        self.reply(413 if n > MAX_BODY else 400, "text/plain", b"bad request body\n",
                   {"Connection": "close"})
        return None

    def parse_path(self):
        path = self.path.split("?", 1)[0]
        if not path.startswith(PREFIX):
            return None, None
        parts = path[len(PREFIX):].split("/")
        if len(parts) == 1 and parts[0] in OPS:
            return None, parts[0]
        if len(parts) == 2 and parts[0] and parts[1] in OPS:
            return parts[0], parts[1]
        return None, None

    def reply(self, code, ctype, body, extra=None):
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.sent = True
        self.wfile.write(body)
        self.wfile.flush()

    def fail(self, code, reason):
        self.reply(code, "text/plain", reason.encode() + b"\n")

    def b64(self, der):
        text = base64.b64encode(der).decode()
        if self.server.opts.no_wrap:
            return text.encode()
        eol = "\r\n" if self.server.opts.crlf else "\n"
        return "".join(text[i:i + 64] + eol for i in range(0, len(text), 64)).encode()

    def send_b64(self, ctype, body, kind, code=200):
        """A base64 answer, honouring --cte and the late behaviours."""
        extra = {}
        if self.server.opts.cte == "add":
            extra["Content-Transfer-Encoding"] = "base64"
        if kind == "wrong-content-type":
            ctype = "text/plain"
        if kind != "slow":
            return self.reply(code, ctype, body, extra)
        interval = (self.rule_args or [1])[0]
        self.send_response(code)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.sent = True
        self.wfile.flush()
        for i in range(len(body)):
            time.sleep(interval)
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()

    def peer_cert(self):
        """The TLS client certificate, if one was presented (it verified)."""
        if not hasattr(conn_local, "peer"):
            der = self.connection.getpeercert(binary_form=True)
            conn_local.peer = x509.load_der_x509_certificate(der) if der else None
        return conn_local.peer

    def our_client_cert(self):
        """The client cert if issued by the issuing CA and in its validity."""
        cert = self.peer_cert()
        if cert is None or cert.issuer != self.server.ca.cert.subject:
            return None
        now = utcnow().replace(tzinfo=None)
        if not cert.not_valid_before <= now <= cert.not_valid_after:
            return None
        return cert

    def authorized(self, op):
        opts = self.server.opts
        cert = self.our_client_cert()
        if op == "simplereenroll" and cert is not None:
            return True
        if opts.auth == "none" and op != "simplereenroll":
            return True
        if opts.auth == "cert" and cert is not None:
            return True
        stale = False
        header = self.headers.get("Authorization", "")
        if opts.auth == "basic" and header[:6].lower() == "basic ":
            try:
                got = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                got = ""
            want = f"{opts.user}:{opts.password}"
            if hmac.compare_digest(got.encode(), want.encode()):
                return True
        elif opts.auth == "digest":
            verdict = self.server.digest.check(header, self.command, self.path)
            if verdict == "ok":
                return True
            stale = verdict == "stale"
        self.reply(401, "text/plain", b"unauthorized\n", self.challenge(stale))
        return False

    def challenge(self, stale=False):
        if self.server.opts.auth == "basic":
            return {"WWW-Authenticate": f'Basic realm="{REALM}"'}
        if self.server.opts.auth == "digest":
            return {"WWW-Authenticate": self.server.digest.challenge(stale)}
        return {}

    # --- behaviours -----------------------------------------------------

    def early(self, op, kind, args):
        """Behaviours that replace the answer; True when answered."""
        self.rule_args = args
        ctype = CONTENT_TYPES.get(op, "multipart/mixed; boundary=est-boundary")
        if kind == "status":
            code = args[0]
            extra = self.challenge() if code == 401 else {}
            if len(args) > 1:
                extra["Retry-After"] = str(args[1])
            body = b"" if code in (204, 304) or code < 200 else f"status {code}\n".encode()
            self.reply(code, "text/plain" if body else None, body, extra)
        elif kind in ("202", "202date"):
            secs = args[0]
            when = (str(secs) if kind == "202" else
                    email.utils.formatdate(time.time() + secs, usegmt=True))
            self.reply(202, "text/plain", b"pending, retry later\n", {"Retry-After": when})
        elif kind == "garbage":
            self.send_b64(ctype, b"%%% this is *not* base64 !!!\n", None)
        elif kind == "huge":
            self.send_huge(ctype, (args or [20])[0] << 20)
        elif kind == "close":
            self.close_connection = True
        elif kind == "delay":
            time.sleep(args[0])
            return False
        else:
            return False
        return True

    def send_huge(self, ctype, size):
        line = b"A" * 63 + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.sent = True
        chunk = line * 1024
        left = size
        while left > 0:
            self.wfile.write(chunk[:left])
            left -= len(chunk)
        self.wfile.flush()

    def pkcs7(self, certs, kind):
        if kind == "bad-pkcs7":
            return secrets.token_bytes(300)
        if kind == "empty-pkcs7":
            return certs_only([])
        return certs_only(certs)

    # --- operations -----------------------------------------------------

    def op_cacerts(self, body, rule):
        kind = rule[0]
        chain = self.server.ca.chain
        if kind == "other-key":
            chain = [CA.create(f"EST Other CA {secrets.token_hex(3)}").cert]
        self.send_b64(CONTENT_TYPES["cacerts"], self.b64(self.pkcs7(chain, kind)), kind)

    def op_csrattrs(self, body, rule):
        path = self.server.opts.csrattrs_file
        if path is None:
            return self.reply(204, None, b"")
        with open(path, "rb") as f:
            der = f.read()
        self.send_b64(CONTENT_TYPES["csrattrs"], self.b64(der), rule[0])

    def read_csr(self, body):
        """The verified CSR, or None after answering 400."""
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except binascii.Error:
            self.fail(400, "body is not base64")
            return None
        try:
            csr = x509.load_der_x509_csr(der)
            valid = csr.is_signature_valid
            list(csr.extensions)
        except Exception as e:
            self.fail(400, f"cannot parse PKCS#10: {e}")
            return None
        if not valid:
            self.fail(400, "CSR signature does not verify")
            return None
        return csr

    def pop_ok(self, csr):
        tu = tls_unique(self.connection)
        if tu is None:
            self.fail(400, "PoP: no tls-unique on this connection (TLS 1.3)")
            return False
        try:
            got = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
        except x509.AttributeNotFound:
            self.fail(400, "PoP: CSR has no challengePassword")
            return False
        if got.strip() != base64.b64encode(tu):
            self.fail(400, "PoP: challengePassword is not base64(tls-unique)")
            return False
        return True

    def issue_for(self, csr, pub):
        return self.server.ca.issue(csr.subject, pub, self.server.opts.cert_seconds,
                                    csr.extensions)

    def op_simpleenroll(self, body, rule, reenroll=False):
        csr = self.read_csr(body)
        if csr is None:
            return
        cert = self.our_client_cert()
        if reenroll and cert is not None and csr.subject != cert.subject:
            return self.fail(400, "re-enroll: CSR subject differs from client certificate")
        if self.server.opts.pop and not self.pop_ok(csr):
            return
        kind = rule[0]
        pub = csr.public_key()
        if kind == "other-key":
            pub = ec.generate_private_key(ec.SECP256R1()).public_key()
        certs = [self.issue_for(csr, pub)]
        if self.server.opts.enroll_chain:
            certs += self.server.ca.chain
        self.send_b64(PKCS7_CERTS, self.b64(self.pkcs7(certs, kind)), kind)

    def op_simplereenroll(self, body, rule):
        self.op_simpleenroll(body, rule, reenroll=True)

    def op_serverkeygen(self, body, rule):
        csr = self.read_csr(body)
        if csr is None:
            return
        kind = rule[0]
        key = ec.generate_private_key(ec.SECP256R1())
        pub = key.public_key()
        if kind == "other-key":
            pub = ec.generate_private_key(ec.SECP256R1()).public_key()
        p8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
        p7 = self.pkcs7([self.issue_for(csr, pub)], kind)
        boundary = "est-" + secrets.token_hex(8)
        cte = ("Content-Transfer-Encoding: base64\r\n"
               if self.server.opts.cte == "add" else "")
        out = b""
        for ctype, der in (("application/pkcs8", p8), (PKCS7_CERTS, p7)):
            out += (f"--{boundary}\r\nContent-Type: {ctype}\r\n{cte}\r\n".encode()
                    + self.b64(der) + b"\r\n")
        out += f"--{boundary}--\r\n".encode()
        self.send_b64(f"multipart/mixed; boundary={boundary}", out, kind)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, opts, ca, ctx):
        self.opts, self.ca, self.ctx = opts, ca, ctx
        self.address_family = socket.AF_INET6 if ":" in opts.bind else socket.AF_INET
        self.behaviour = Behaviour(os.path.join(opts.dir, "behaviour"))
        self.digest = Digest(opts.user, opts.password)
        self.conn_seq = 0
        self.lock = threading.Lock()
        self.logf = open(opts.log, "a", encoding="utf-8")
        super().__init__((opts.bind, 0), Handler)

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # the handshake runs here, in the connection's own thread
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            if self.opts.verbose:
                print(f"est-server: handshake failed: {e}", file=sys.stderr)
            return
        with self.lock:
            self.conn_seq += 1
            conn_local.conn_id = self.conn_seq
        conn_local.__dict__.pop("peer", None)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        traceback.print_exc(file=sys.stderr)

    def record(self, h, method, body, label, op):
        try:
            text, raw = body.decode("utf-8"), None
        except UnicodeDecodeError:
            text, raw = None, base64.b64encode(body).decode()
        headers = {}
        for k, v in h.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        tu = tls_unique(h.connection)
        cert = h.peer_cert()
        entry = {"time": utcnow().isoformat(), "conn": conn_local.conn_id, "method": method,
                 "path": h.path, "label": label, "op": op, "headers": headers, "body": text,
                 "tls_version": h.connection.version(),
                 "client_cert_subject": cert.subject.rfc4514_string() if cert else None,
                 "tls_unique": base64.b64encode(tu).decode() if tu else None}
        if raw is not None:
            entry["body_base64"] = raw
        with self.lock:
            self.logf.write(json.dumps(entry) + "\n")
            self.logf.flush()


def tls_context(opts):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(opts.dir, "server.pem"), os.path.join(opts.dir, "server.key"))
    ver = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
    ctx.minimum_version = ver.get(opts.tls, ssl.TLSVersion.TLSv1_2)
    ctx.maximum_version = ver.get(opts.tls, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    if not opts.no_client_cert:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(os.path.join(opts.dir, "ca-chain.pem"))
        if opts.expired_client_cert_ok:
            ctx.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
    return ctx


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Local EST (RFC 7030) test server; see the module docstring for the "
                    "behaviour file and the request log.")
    ap.add_argument("--dir", required=True, help="state directory (created 0700 if missing)")
    ap.add_argument("--port-file", help="write the listening port here once listening")
    ap.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--tls", choices=("1.2", "1.3", "any"), default="any",
                    help="pin TLS 1.2 or 1.3, or allow both (default any)")
    ap.add_argument("--auth", choices=("none", "basic", "digest", "cert"), default="none",
                    help="authentication for simpleenroll/simplereenroll/serverkeygen")
    ap.add_argument("--user", default="estuser", help="basic/digest user name")
    ap.add_argument("--password", default="estpwd", help="basic/digest password")
    ap.add_argument("--intermediate", action="store_true",
                    help="issue from an intermediate CA under the root")
    ap.add_argument("--pop", action="store_true",
                    help="require challengePassword = base64(tls-unique) on (re)enroll")
    ap.add_argument("--no-wrap", action="store_true", help="base64 bodies as one long line")
    ap.add_argument("--crlf", action="store_true", help="end base64 lines with CRLF")
    ap.add_argument("--cte", choices=("add", "drop"), default="add",
                    help="send Content-Transfer-Encoding: base64 (add, default) or not (drop)")
    ap.add_argument("--log", help="request log (default DIR/requests.log)")
    validity = ap.add_mutually_exclusive_group()
    validity.add_argument("--cert-days", type=int, default=365,
                          help="validity of issued certificates in days (default 365)")
    validity.add_argument("--cert-seconds", type=int, help="validity of issued certs in seconds")
    ap.add_argument("--pidfile", help="write the server's pid here")
    ap.add_argument("--server-cert-untrusted", action="store_true",
                    help="sign the TLS server cert by an unrelated CA, not root.pem")
    ap.add_argument("--behaviour", help="initial content of DIR/behaviour (one rule)")
    ap.add_argument("--csrattrs-file", help="DER CSR attributes served by /csrattrs")
    ap.add_argument("--enroll-chain", action="store_true",
                    help="add the CA chain to (re)enroll/serverkeygen answers")
    ap.add_argument("--reuse-ca", action="store_true",
                    help="keep root (and intermediate) CA already in DIR")
    ap.add_argument("--no-client-cert", action="store_true",
                    help="do not ask for TLS client certificates")
    ap.add_argument("--expired-client-cert-ok", action="store_true",
                    help="let expired client certs through the handshake (then 401, not a "
                         "TLS alert)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    opts = ap.parse_args(argv)
    if opts.cert_seconds is None:
        opts.cert_seconds = opts.cert_days * 86400
    if opts.log is None:
        opts.log = os.path.join(opts.dir, "requests.log")
    return opts


class Stop(Exception):
    pass


def main(argv):
    opts = parse_args(argv)
    if opts.csrattrs_file and not os.path.isfile(opts.csrattrs_file):
        die(f"{opts.csrattrs_file}: no such file")
    try:
        if not os.path.isdir(opts.dir):
            os.makedirs(opts.dir, mode=0o700)
        if opts.pidfile:
            write_file(opts.pidfile, f"{os.getpid()}\n".encode())
        ca = setup_pki(opts)
        if opts.behaviour is not None:
            try:
                Behaviour.parse(opts.behaviour)
            except (ValueError, IndexError) as e:
                die(f"--behaviour: {e}")
            write_file(os.path.join(opts.dir, "behaviour"), (opts.behaviour + "\n").encode())
        server = Server(opts, ca, tls_context(opts))
    except (OSError, ValueError, IndexError, ssl.SSLError) as e:
        die(str(e))

    def stop(signum, frame):
        raise Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if opts.port_file:
            write_file(opts.port_file, f"{server.server_address[1]}\n".encode())
        server.serve_forever()
    except Stop:
        pass
    server.server_close()
    server.logf.close()
    if opts.pidfile:
        try:
            os.unlink(opts.pidfile)
        except OSError:
            pass
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
