#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Local EST (RFC 7030) test server: real TLS on loopback, really signs CSRs.

Only the standard library and python3-cryptography (Debian's 38.x) are used.

Usage:
  est-server.py --dir DIR [--port-file FILE] [--port N] [--bind 127.0.0.1|::1]
                [--tls 1.2|1.3|any] [--auth none|basic|digest|cert]
                [--user U --password P] [--intermediate] [--pop]
                [--pop-binding tls-unique|tls-exporter] [--no-wrap]
                [--cte add|drop] [--log FILE] [--cert-days N | --cert-seconds N]
                [--pidfile FILE] [--server-cert-untrusted | --tls-ca]
                [--behaviour LINE]
                [--csrattrs-file DER | --csrattrs-preset NAME]
                [--enroll-chain] [--crlf] [--reuse-ca]
                [--no-client-cert] [--expired-client-cert-ok] [--verbose]
                [--conn-log FILE] [--nodelay] [--san NAME]...
  est-server.py --print-csrattrs NAME     (the preset's DER on stdout, then exit)
Defaults: 127.0.0.1, --tls any, --auth none, user estuser / password estpwd,
365-day certs, base64 wrapped at 64 columns with "\n", CTE header sent.
--cte drop also drops it from the serverkeygen parts.

At start it writes into DIR (created 0700 if missing; keys 0600):
  root.pem, root.key           root CA (EC P-256, CA:TRUE); the client's ca_root
  intermediate.pem/.key        with --intermediate: the issuing CA
  ca-chain.pem                 issuing CA chain, issuing CA first, root last
  server.pem, server.key       TLS cert CN=localhost, SAN DNS:localhost,
                               IP:127.0.0.1, IP:::1 and a DNS name for each
                               --san NAME (+ chain in server.pem, without the
                               root; after a rollover NewWithOld in its place)
  untrusted-ca.pem             with --server-cert-untrusted: the unrelated CA
                               that signed server.pem instead of root.pem
  tls-ca.pem                   with --tls-ca: the same, as a deployment has it:
                               a TLS CA of its own for the server certificate
                               (the client's ca_root), /cacerts still answers
                               the enrollment CA
  client-auth.pem              client key + cert (CN=client, clientAuth) issued
                               by the issuing CA, for TLS client-cert tests
  requests.log                 request log (unless --log)
  keylog                       NSS key log of all TLS connections (0600), read
                               back for the TLS 1.3 exporter (tls-exporter)
  csrattrs.der                 with --csrattrs-preset: the DER served
Then it listens on port 0 (or --port N: a restarted server keeps its address, so a
device's recorded server does not change) and writes the port ("NNNNN\\n") to --port-file
(tmp + rename) once listening. SIGTERM/SIGINT: exit 0.

Endpoints, under /.well-known/est/ and /.well-known/est/LABEL/:
  GET  cacerts        200 application/pkcs7-mime, certs-only PKCS#7 of the
                      issuing chain; never needs authentication
  GET  csrattrs       204, or 200 application/csrattrs (base64 DER) with
                      --csrattrs-file or --csrattrs-preset; never needs
                      authentication
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
--no-client-cert); one that does not verify against ca-chain.pem (or a
chain from before a root key update; unknown CA, expired) fails the TLS
handshake (with --expired-client-cert-ok an
expired one gets through and is then treated as absent). simplereenroll
needs a valid client cert issued by the issuing CA (CSR subject must equal
the cert subject, else 400) or, with basic/digest, right credentials;
otherwise 401. With basic/digest, simpleenroll and serverkeygen need the
credentials even when a client cert is presented. With --pop,
simpleenroll/simplereenroll need the CSR challengePassword to be
base64(tls-unique); under TLS 1.3 (no tls-unique) they get 400. With
--pop-binding tls-exporter (implies --pop) it must be base64 of the RFC 9266
tls-exporter instead (TLS-Exporter("EXPORTER-Channel-Binding", "", 32), RFC
8446 7.5, computed from the EXPORTER_SECRET that OpenSSL writes to DIR/keylog,
matched to the connection by the ClientHello random peeked off the socket);
under TLS 1.2 they get 400.

--csrattrs-preset NAME (CsrAttrs DER built in; RFC 7030 4.5.2):
  pop      SEQUENCE { challengePassword OID }
  ext      SEQUENCE { extensionRequest Attribute: subjectAltName
           dNSName gw.example.net + extendedKeyUsage clientAuth }
  ec384    SEQUENCE { Attribute { id-ecPublicKey, SET { secp384r1 } },
           ecdsa-with-SHA384 OID }
  rsa      SEQUENCE { Attribute { rsaEncryption, SET { INTEGER 3072 } } }
  unknown  SEQUENCE { OID 1.3.6.1.4.1.99999.1 }
  empty    SEQUENCE {}
  rfc7030  RFC 7030 4.5.2's example as printed (extensionRequest holding the
           bare macAddress OID; challengePassword, secp384r1, SHA-384)
  rfc9908  Attribute { id-aa-certificationRequestInfoTemplate, template }:
           subject CN to fill in + O=Template Org, P-256, an
           id-aa-extensionReqTemplate with subjectAltName (DNS
           tmpl.example.net + an empty iPAddress to fill in), keyUsage
           (critical) and extKeyUsage to fill in; then an ecdsa-with-SHA512
           OID outside the template (to be ignored, RFC 9908 4)
  bad-attr an extensionRequest (subjectAltName gw.example.net) and
           ecdsa-with-SHA384 around three malformed attributes
(est_interop.py builds them.)
Extensions in a CSR's extensionRequest (subjectAltName, keyUsage,
extendedKeyUsage, ...) are copied into the issued certificate, except
basicConstraints (always CA:FALSE) and the key identifiers.

Root key update (RFC 7030 4.1.3, RFC 4210 4.4), behaviour line "rollover":
a new root key and NewWithNew (same subject as the old root, new serial),
NewWithOld (new key, signed by the old root) and OldWithNew (old key, signed
by the new one), all CA:TRUE, keyCertSign; the two link certificates end when
the old root (OldWithOld) does. From then on the new root (with
--intermediate: a new intermediate under it) issues; /cacerts answers
[intermediate,] NewWithNew, NewWithOld, OldWithNew, then OldWithOld while it
is valid (RFC 7030 4.1.3: the current root and the three "Root CA Key Update"
certificates). The TLS server cert is re-issued (same key) and new
connections get it followed by [intermediate,] NewWithOld, so a client that
missed the /cacerts answer and still trusts only the old root connects (and
one that trusts the new root finds it first). Client certs issued before
the update still verify and still count for simplereenroll (the subject
check stays). Files written: root-new.pem/.key (NewWithNew; root.pem stays
the old root), root-newwithold.pem, root-oldwithnew.pem, intermediate-new.pem
/.key (--intermediate), client-auth-new.pem (CN=client under the new CA);
ca-chain.pem and server.pem are rewritten. A later "rollover" rolls again
(root-new.* then hold the newest root; OldWithOld, NewWithOld and OldWithNew
are then those of the newest update: a client two roots behind does not
follow). --reuse-ca reloads root.pem/.key.

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
  rollover             not a rule but a one-shot control: the root key update
                       (above) is done when the next request of any kind
                       arrives, and the line is removed from the file
  cacerts-rollover-bad /cacerts answers a rollover-looking set ([intermediate,]
                       NewWithNew, NewWithOld, OldWithNew for a fresh key)
                       whose NewWithOld names the current root as issuer but
                       is signed by an unrelated key; nothing changes
Kinds imitating other servers (est_interop.py):
  202rfc850 N SECONDS  as 202date, the date in RFC 850 form
  202asctime N SECONDS as 202date, the date in asctime form
  trailing-nul         200, normal answer, a NUL byte after the base64 (libest)
  hostile CODE         CODE, with a Content-Type, a Retry-After and a 5 kB body
                       full of terminal escapes, NUL and 8-bit bytes
  cacerts-ee-only      /cacerts answers one end-entity certificate (CA:FALSE)
                       issued by the issuing CA, nothing else
  cacerts-ee-extra     /cacerts answers the chain and such a certificate
  serverkeygen-multipart-lf      parts with bare LF line ends
  serverkeygen-multipart-tricky  quoted boundary with a space, preamble and
                       epilogue naming it, padding after delimiters, an
                       empty line inside each part's base64
Examples: "status 503", "202 2 1", "cacerts-garbage", "times 1 status 500".
--behaviour LINE writes LINE to DIR/behaviour at start.

Request log (DIR/requests.log or --log): one JSON object per line, flushed,
written when a request has been read (before it is answered):
  {"time": ISO-8601 UTC, "conn": N (same for one TLS connection, +1 per new
   connection), "method", "path" (as sent), "label": str|null,
   "op": str|null, "headers": {lower-case name: value}, "body": text|null,
   "body_base64": str (only when the body is not UTF-8), "tls_version":
   "TLSv1.2"|"TLSv1.3", "client_cert_subject": RFC 4514 str|null,
   "tls_unique": base64 (TLS 1.2) | null, "tls_exporter": base64 of the
   RFC 9266 tls-exporter (TLS 1.3) | null}

Connection log (--conn-log FILE, for bench/): one JSON object per accepted TCP
connection, written when it closes:
  {"time": ISO-8601 UTC of the accept, "end": ISO-8601 UTC of the close,
   "conn": N as in the request log | null (handshake failed), "handshake": bool,
   "resumed": bool (TLS session resumption), "requests": N,
   "bytes_in", "bytes_out": TCP payload bytes received / sent by the server
   (TCP_INFO tcpi_bytes_received, tcpi_bytes_sent - tcpi_bytes_retrans; TLS
   records included) | null}
--nodelay sets TCP_NODELAY on accepted sockets: the answer's header and body
writes then leave at once instead of waiting for the client's (delayed) ACK.
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

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import est_interop  # noqa: E402  (beside this file)
from est_interop import CSRATTRS_PRESETS, csrattrs_preset  # noqa: E402

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


def valid_until(cert):
    """cert's notAfter, timezone-aware (cryptography 38 has only the naive attribute)."""
    aware = getattr(cert, "not_valid_after_utc", None)
    return aware if aware is not None else cert.not_valid_after.replace(
        tzinfo=datetime.timezone.utc)


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


def hkdf_expand_label(hfn, secret, label, context, length):
    """RFC 8446 7.1 HKDF-Expand-Label (HKDF-Expand of RFC 5869 with HMAC-hfn)."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), hfn).digest()
        out, i = out + t, i + 1
    return out[:length]


def tls13_exporter(hfn, exporter_secret, label, context, length):
    """RFC 8446 7.5 TLS-Exporter from the connection's exporter_master_secret."""
    derived = hkdf_expand_label(hfn, exporter_secret, label, hfn(b"").digest(),
                                hfn().digest_size)
    return hkdf_expand_label(hfn, derived, b"exporter", hfn(context).digest(), length)


def peek_client_random(sock):
    """The 32-byte random of the ClientHello waiting on sock (MSG_PEEK, nothing consumed):
    record header 5 + handshake header 4 + legacy_version 2, then the random."""
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT
    while True:
        data = sock.recv(43, socket.MSG_PEEK)
        if len(data) >= 43 or not data or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    if len(data) < 43 or data[0] != 0x16 or data[5] != 0x01:
        return None
    return data[11:43]


class KeyLog:
    """DIR/keylog, written by OpenSSL (SSLContext.keylog_filename, NSS key log format);
    yields the TLS 1.3 EXPORTER_SECRET of a connection by its client random."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.secrets = {}
        self.lock = threading.Lock()
        write_file(path, b"", 0o600)

    def exporter_secret(self, client_random):
        want = client_random.hex()
        with self.lock:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self.offset)
                    data = f.read()
            except OSError:
                return None
            end = data.rfind(b"\n") + 1
            self.offset += end
            for line in data[:end].decode("ascii", "replace").splitlines():
                w = line.split()
                if len(w) == 3 and w[0] == "EXPORTER_SECRET":
                    try:
                        self.secrets[w[1].lower()] = bytes.fromhex(w[2])
                    except ValueError:
                        pass
            return self.secrets.pop(want, None)

    def tls_exporter(self, sock, client_random):
        """RFC 9266 tls-exporter of a TLS 1.3 connection, or None."""
        if client_random is None or sock.version() != "TLSv1.3":
            return None
        secret = self.exporter_secret(client_random)
        if secret is None:
            return None
        hfn = hashlib.sha384 if "SHA384" in (sock.cipher() or ("",))[0] else hashlib.sha256
        return tls13_exporter(hfn, secret, b"EXPORTER-Channel-Binding", b"", 32)


class CA:
    """A CA certificate and its key; issues CA and end-entity certificates."""

    def __init__(self, cert, key, parent=None):
        self.cert, self.key, self.parent = cert, key, parent

    @property
    def chain(self):
        return [self.cert] + (self.parent.chain if self.parent else [])

    @classmethod
    def create(cls, cn, parent=None, days=3650, subject=None):
        key = ec.generate_private_key(ec.SECP256R1())
        if subject is None:
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        cert = cls.ca_cert(subject, key.public_key(), parent.cert if parent else None,
                           parent.key if parent else key, days)
        return cls(cert, key, parent)

    @classmethod
    def ca_cert(cls, subject, pub, issuer_cert, signer, days=3650, issuer=None, not_after=None):
        """A CA:TRUE certificate for pub, signed by signer; self-issued when issuer_cert
        is None. issuer (a Name) overrides issuer_cert's subject (forged rollover sets);
        not_after (a datetime) overrides days."""
        if issuer is None:
            issuer = issuer_cert.subject if issuer_cert is not None else subject
        b = cls._builder(subject, issuer, pub, days * 86400, issuer_cert, not_after)
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True),
                            critical=True)
        return b.sign(signer, hashes.SHA256())

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
    def _builder(subject, issuer, pub, seconds, issuer_cert, not_after=None):
        now = utcnow()
        if not_after is None:
            not_after = now + datetime.timedelta(seconds=seconds)
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(seconds=60))
             .not_valid_after(not_after)
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


class PKI:
    """The server's CAs, TLS certificate and SSL context; rolls the root over on demand.

    All certificates ever used as issuing chain stay trusted for TLS client certificates,
    so a device enrolled before a rollover can still re-enroll after it."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        d = self.dir = opts.dir
        have = all(os.path.exists(os.path.join(d, n)) for n in ("root.pem", "root.key"))
        if opts.reuse_ca and have:
            self.root = CA.load(d, "root")
        else:
            self.root = CA.create(f"EST Test Root CA {secrets.token_hex(3)}")
            self.root.save(d, "root")
        self.issuing = self.root
        if opts.intermediate:
            have = all(os.path.exists(os.path.join(d, n)) for n in ("intermediate.pem",
                                                                  "intermediate.key"))
            if opts.reuse_ca and have:
                self.issuing = CA.load(d, "intermediate", self.root)
            else:
                self.issuing = CA.create(f"EST Test Intermediate CA {secrets.token_hex(3)}",
                                         self.root)
                self.issuing.save(d, "intermediate")
        write_file(os.path.join(d, "ca-chain.pem"), b"".join(pem(c) for c in self.issuing.chain))
        self.trusted = list(self.issuing.chain)    # verify locations for client certs
        self.issuer_names = [self.issuing.cert.subject]
        self.rollover_set = None           # (NewWithNew, NewWithOld, OldWithNew, OldWithOld)
        self.rollovers = 0

        self.untrusted = None
        if opts.server_cert_untrusted:
            self.untrusted = CA.create(f"EST Untrusted CA {secrets.token_hex(3)}")
            write_file(os.path.join(d, "untrusted-ca.pem"), pem(self.untrusted.cert))
        elif opts.tls_ca:
            self.untrusted = CA.create(f"EST Test TLS CA {secrets.token_hex(3)}")
            write_file(os.path.join(d, "tls-ca.pem"), pem(self.untrusted.cert))
        self.server_key = ec.generate_private_key(ec.SECP256R1())
        self.write_server_cert()
        self.write_client_auth("client-auth.pem")
        self.keylog = KeyLog(os.path.join(d, "keylog"))
        self.ctx = self.tls_context()

    def write_server_cert(self):
        server_ca = self.untrusted or self.issuing
        san = x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]
            + [x509.DNSName(name) for name in self.opts.san])
        exts = [x509.Extension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, False, san),
                x509.Extension(ExtensionOID.KEY_USAGE, True, key_usage(digital_signature=True)),
                x509.Extension(ExtensionOID.EXTENDED_KEY_USAGE, False,
                               x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]))]
        scert = server_ca.issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
                                self.server_key.public_key(), 365 * 86400, exts)
        server_chain = [scert] + server_ca.chain[:-1]
        if self.rollover_set is not None and server_ca is self.issuing:
            # RFC 7030 4.1.3: NewWithOld where the root would be, so that a client still
            # trusting only the old root follows to the new one.
            server_chain.append(self.rollover_set[1])
        write_file(os.path.join(self.dir, "server.key"), key_pem(self.server_key), 0o600)
        write_file(os.path.join(self.dir, "server.pem"), b"".join(pem(c) for c in server_chain))

    def write_client_auth(self, name):
        ckey = ec.generate_private_key(ec.SECP256R1())
        exts = [x509.Extension(ExtensionOID.KEY_USAGE, True, key_usage(digital_signature=True)),
                x509.Extension(ExtensionOID.EXTENDED_KEY_USAGE, False,
                               x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]))]
        ccert = self.issuing.issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")]),
                                   ckey.public_key(), 365 * 86400, exts)
        write_file(os.path.join(self.dir, name), key_pem(ckey) + pem(ccert), 0o600)

    def tls_context(self):
        opts = self.opts
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.dir, "server.pem"),
                            os.path.join(self.dir, "server.key"))
        ver = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
        ctx.minimum_version = ver.get(opts.tls, ssl.TLSVersion.TLSv1_2)
        ctx.maximum_version = ver.get(opts.tls, ssl.TLSVersion.MAXIMUM_SUPPORTED)
        ctx.keylog_filename = self.keylog.path
        if not opts.no_client_cert:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cadata="".join(pem(c).decode() for c in self.trusted))
            if opts.expired_client_cert_ok:
                ctx.verify_flags |= X509_V_FLAG_NO_CHECK_TIME
        return ctx

    def cacerts(self):
        """What /cacerts answers: the issuing chain; after a rollover the issuing CA
        (if an intermediate), then NewWithNew, NewWithOld, OldWithNew, and OldWithOld
        while it is valid (RFC 7030 4.1.3)."""
        with self.lock:
            issuing, rolled = self.issuing, self.rollover_set
        if rolled is None:
            return issuing.chain
        new_with_new, new_with_old, old_with_new, old_with_old = rolled
        keep = [new_with_new, new_with_old, old_with_new]
        if utcnow() < valid_until(old_with_old):
            keep.append(old_with_old)
        return issuing.chain[:-1] + keep

    def rollover(self):
        """RFC 7030 4.1.3 / RFC 4210 4.4 root key update: same root name, new key. The link
        certificates NewWithOld and OldWithNew end with the old root."""
        with self.lock:
            old = self.root
            name = old.cert.subject
            end = valid_until(old.cert)
            new = CA.create(None, subject=name)
            new_with_old = CA.ca_cert(name, new.key.public_key(), old.cert, old.key,
                                      not_after=end)
            old_with_new = CA.ca_cert(name, old.key.public_key(), new.cert, new.key,
                                      not_after=end)
            issuing = new
            if self.opts.intermediate:
                issuing = CA.create(f"EST Test Intermediate CA {secrets.token_hex(3)}", new)
                issuing.save(self.dir, "intermediate-new")
            new.save(self.dir, "root-new")
            write_file(os.path.join(self.dir, "root-newwithold.pem"), pem(new_with_old))
            write_file(os.path.join(self.dir, "root-oldwithnew.pem"), pem(old_with_new))
            write_file(os.path.join(self.dir, "ca-chain.pem"),
                       b"".join(pem(c) for c in issuing.chain))
            self.trusted += issuing.chain
            self.issuer_names.append(issuing.cert.subject)
            self.root, self.issuing = new, issuing
            self.rollover_set = (new.cert, new_with_old, old_with_new, old.cert)
            self.rollovers += 1
            self.write_server_cert()
            self.write_client_auth("client-auth-new.pem")
            self.ctx = self.tls_context()
        if self.opts.verbose:
            print(f"est-server: root key update {self.rollovers} done", file=sys.stderr)

    def bad_rollover_set(self):
        """A rollover-looking set whose NewWithOld is signed by an unrelated key (it claims
        the current root as issuer, AKI included): it does not chain to the anchors."""
        old = self.root
        name = old.cert.subject
        fake = CA.create(None, subject=name)
        stranger = ec.generate_private_key(ec.SECP256R1())
        new_with_old = CA.ca_cert(name, fake.key.public_key(), old.cert, stranger)
        old_with_new = CA.ca_cert(name, old.key.public_key(), fake.cert, fake.key)
        head = []
        if self.opts.intermediate:
            head = [CA.create(f"EST Test Intermediate CA {secrets.token_hex(3)}", fake).cert]
        return head + [fake.cert, new_with_old, old_with_new]


class Behaviour:
    """The per-test behaviour file: parsed on every request, counts rewritten."""

    KINDS = {"status": (1, 2), "202": (2, 2), "202date": (2, 2), "garbage": (0, 0),
             "wrong-content-type": (0, 0), "other-key": (0, 0), "bad-pkcs7": (0, 0),
             "empty-pkcs7": (0, 0), "huge": (0, 1), "slow": (0, 1), "delay": (1, 1),
             "close": (0, 0), "rollover": (0, 0), "rollover-bad": (0, 0),
             **est_interop.KINDS}

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
        if head in ("202", "202date") + est_interop.COUNTED:
            count_at = skip + 1
        if head == "rollover" and (op is not None or count_at is not None):
            raise ValueError("rollover takes no operation prefix and no times")
        if head == "rollover-bad" and op != "cacerts":
            raise ValueError("rollover-bad is for cacerts only: cacerts-rollover-bad")
        est_interop.check(op, head)
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
                if kind == "rollover":
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
                if kind in ("202", "202date") + est_interop.COUNTED:
                    args = args[1:]
                return kind, args
        return None


    def take_rollover(self):
        """True if the file holds a "rollover" line; such lines are removed (one-shot)."""
        with self.lock:
            try:
                with open(self.path) as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                return False
            keep = [line for line in lines if line.split() != ["rollover"]]
            if len(keep) == len(lines):
                return False
            write_file(self.path, "".join(line + "\n" for line in keep).encode())
            return True


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
            if self.server.behaviour.take_rollover():
                self.server.pki.rollover()
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
        if kind == "trailing-nul":
            body += b"\0"      # as libest ends its base64
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
        """The client cert if issued by the issuing CA (the current one or one from before
        a root key update) and in its validity."""
        cert = self.peer_cert()
        if cert is None or cert.issuer not in self.server.pki.issuer_names:
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
        elif kind in est_interop.EARLY:
            est_interop.early(self, kind, args)
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
        chain = self.server.pki.cacerts()
        if kind == "other-key":
            chain = [CA.create(f"EST Other CA {secrets.token_hex(3)}").cert]
        elif kind == "rollover-bad":
            chain = self.server.pki.bad_rollover_set()
        elif kind in est_interop.CACERTS_ONLY:
            chain = est_interop.cacerts_chain(kind, chain, self.server.ca)
        self.send_b64(CONTENT_TYPES["cacerts"], self.b64(self.pkcs7(chain, kind)), kind)

    def op_csrattrs(self, body, rule):
        opts = self.server.opts
        if opts.csrattrs_preset is not None:
            data = csrattrs_preset(opts.csrattrs_preset)
        elif opts.csrattrs_file is not None:
            with open(opts.csrattrs_file, "rb") as f:
                data = f.read()
        else:
            return self.reply(204, None, b"")
        self.send_b64(CONTENT_TYPES["csrattrs"], self.b64(data), rule[0])

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
        binding = self.server.opts.pop_binding
        if binding == "tls-exporter":
            cb = getattr(conn_local, "exporter", None)
            if self.connection.version() != "TLSv1.3":
                self.fail(400, "PoP: tls-exporter needs TLS 1.3 on this connection")
                return False
            if cb is None:
                self.fail(400, "PoP: no tls-exporter for this connection (key log)")
                return False
        else:
            cb = tls_unique(self.connection)
            if cb is None:
                self.fail(400, "PoP: no tls-unique on this connection (TLS 1.3)")
                return False
        try:
            got = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
        except x509.AttributeNotFound:
            self.fail(400, "PoP: CSR has no challengePassword")
            return False
        if isinstance(got, str):
            got = got.encode()
        if got.strip() != base64.b64encode(cb):
            self.fail(400, f"PoP: challengePassword is not base64({binding})")
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
        if kind in est_interop.SERVERKEYGEN_ONLY:
            parts = [("application/pkcs8", self.b64(p8)), (PKCS7_CERTS, self.b64(p7))]
            ctype, out = est_interop.multipart(kind, parts, boundary,
                                               self.server.opts.cte == "add")
            return self.send_b64(ctype, out, kind)
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

    def __init__(self, opts, pki):
        self.opts, self.pki = opts, pki
        self.address_family = socket.AF_INET6 if ":" in opts.bind else socket.AF_INET
        self.behaviour = Behaviour(os.path.join(opts.dir, "behaviour"))
        self.digest = Digest(opts.user, opts.password)
        self.conn_seq = 0
        self.lock = threading.Lock()
        self.logf = open(opts.log, "a", encoding="utf-8")
        self.connf = open(opts.conn_log, "a", encoding="utf-8") if opts.conn_log else None
        super().__init__((opts.bind, opts.port), Handler)

    @property
    def ca(self):
        """The issuing CA (changes at a root key update)."""
        return self.pki.issuing

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # the handshake runs here, in the connection's own thread
        request.settimeout(HANDSHAKE_TIMEOUT)
        started, tls = utcnow(), None
        conn_local.conn_id, conn_local.requests = None, 0
        if self.opts.nodelay:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            client_random = peek_client_random(request)
            tls = self.pki.ctx.wrap_socket(request, server_side=True,
                                           do_handshake_on_connect=False)
            tls.do_handshake()
        except (OSError, ssl.SSLError) as e:
            if self.opts.verbose:
                print(f"est-server: handshake failed: {e}", file=sys.stderr)
            self.record_conn(started, tls, False)
            if tls is not None:
                tls.close()
            return
        with self.lock:
            self.conn_seq += 1
            conn_local.conn_id = self.conn_seq
        conn_local.__dict__.pop("peer", None)
        try:
            conn_local.exporter = self.pki.keylog.tls_exporter(tls, client_random)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            conn_local.exporter = None
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass
        finally:
            self.record_conn(started, tls, True)
            try:
                tls.close()
            except OSError:
                pass

    def record_conn(self, started, sock, handshake):
        """One line of --conn-log for a connection about to be closed."""
        if self.connf is None:
            return
        bytes_in = bytes_out = None
        try:
            # struct tcp_info (linux/tcp.h): u64 tcpi_bytes_received at 128,
            # tcpi_bytes_sent at 200, tcpi_bytes_retrans at 208 (Linux >= 5.5)
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
            if len(info) >= 216:
                bytes_in = int.from_bytes(info[128:136], "little")
                bytes_out = (int.from_bytes(info[200:208], "little")
                             - int.from_bytes(info[208:216], "little"))
        except (OSError, AttributeError):
            pass
        entry = {"time": started.isoformat(), "end": utcnow().isoformat(),
                 "conn": conn_local.conn_id, "handshake": handshake,
                 "resumed": bool(handshake and sock.session_reused),
                 "requests": conn_local.requests, "bytes_in": bytes_in, "bytes_out": bytes_out}
        with self.lock:
            self.connf.write(json.dumps(entry) + "\n")
            self.connf.flush()

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
                 "tls_unique": base64.b64encode(tu).decode() if tu else None,
                 "tls_exporter": (base64.b64encode(conn_local.exporter).decode()
                                  if getattr(conn_local, "exporter", None) else None)}
        if raw is not None:
            entry["body_base64"] = raw
        conn_local.requests = getattr(conn_local, "requests", 0) + 1
        with self.lock:
            self.logf.write(json.dumps(entry) + "\n")
            self.logf.flush()


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Local EST (RFC 7030) test server; see the module docstring for the "
                    "behaviour file and the request log.")
    ap.add_argument("--dir", help="state directory (created 0700 if missing); required")
    ap.add_argument("--port-file", help="write the listening port here once listening")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free)")
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
                    help="require challengePassword = base64(channel binding) on (re)enroll")
    ap.add_argument("--pop-binding", choices=("tls-unique", "tls-exporter"),
                    help="channel binding for --pop (default tls-unique; tls-exporter is "
                         "RFC 9266, TLS 1.3 only); implies --pop")
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
    tls_ca = ap.add_mutually_exclusive_group()
    tls_ca.add_argument("--server-cert-untrusted", action="store_true",
                        help="sign the TLS server cert by an unrelated CA, not root.pem")
    tls_ca.add_argument("--tls-ca", action="store_true",
                        help="sign the TLS server cert by a separate TLS CA (DIR/tls-ca.pem)")
    ap.add_argument("--behaviour", help="initial content of DIR/behaviour (one rule)")
    csrattrs = ap.add_mutually_exclusive_group()
    csrattrs.add_argument("--csrattrs-file", help="DER CSR attributes served by /csrattrs")
    csrattrs.add_argument("--csrattrs-preset", choices=CSRATTRS_PRESETS,
                          help="serve a built-in CSR attributes DER (also DIR/csrattrs.der)")
    ap.add_argument("--print-csrattrs", metavar="PRESET", choices=CSRATTRS_PRESETS,
                    help="write the DER of a --csrattrs-preset to stdout and exit")
    ap.add_argument("--enroll-chain", action="store_true",
                    help="add the CA chain to (re)enroll/serverkeygen answers")
    ap.add_argument("--reuse-ca", action="store_true",
                    help="keep root (and intermediate) CA already in DIR")
    ap.add_argument("--no-client-cert", action="store_true",
                    help="do not ask for TLS client certificates")
    ap.add_argument("--expired-client-cert-ok", action="store_true",
                    help="let expired client certs through the handshake (then 401, not a "
                         "TLS alert)")
    ap.add_argument("--conn-log", help="one JSON line per TCP connection (bench/)")
    ap.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on accepted sockets")
    ap.add_argument("--san", action="append", default=[], metavar="NAME",
                    help="one more DNS name in the TLS server certificate (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    opts = ap.parse_args(argv)
    if opts.print_csrattrs is None and opts.dir is None:
        ap.error("--dir is required")
    if opts.pop_binding is None:
        opts.pop_binding = "tls-unique"
    else:
        opts.pop = True
    if opts.cert_seconds is None:
        opts.cert_seconds = opts.cert_days * 86400
    if opts.log is None and opts.dir is not None:
        opts.log = os.path.join(opts.dir, "requests.log")
    return opts


class Stop(Exception):
    pass


def main(argv):
    opts = parse_args(argv)
    if opts.print_csrattrs is not None:
        sys.stdout.buffer.write(csrattrs_preset(opts.print_csrattrs))
        sys.stdout.flush()
        return
    if opts.csrattrs_file and not os.path.isfile(opts.csrattrs_file):
        die(f"{opts.csrattrs_file}: no such file")
    try:
        if not os.path.isdir(opts.dir):
            os.makedirs(opts.dir, mode=0o700)
        if opts.pidfile:
            write_file(opts.pidfile, f"{os.getpid()}\n".encode())
        pki = PKI(opts)
        if opts.csrattrs_preset is not None:
            write_file(os.path.join(opts.dir, "csrattrs.der"),
                       csrattrs_preset(opts.csrattrs_preset))
        if opts.behaviour is not None:
            try:
                Behaviour.parse(opts.behaviour)
            except (ValueError, IndexError) as e:
                die(f"--behaviour: {e}")
            write_file(os.path.join(opts.dir, "behaviour"), (opts.behaviour + "\n").encode())
        server = Server(opts, pki)
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
    if server.connf is not None:
        server.connf.close()
    if opts.pidfile:
        try:
            os.unlink(opts.pidfile)
        except OSError:
            pass
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
