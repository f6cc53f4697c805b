# SPDX-License-Identifier: MIT
"""What EST servers other than the well-behaved default send, for tests/est-server.py.

The CSR attribute presets (RFC 7030 4.5.2 as printed, RFC 9908 templates, a malformed
attribute among good ones) with the small DER encoder they are built with, and the behaviours
that imitate other implementations: libest's NUL after the base64, /cacerts holding an
end-entity certificate, hostile header and body strings, the three HTTP-date forms of
RFC 9110 5.6.7 in Retry-After, multipart/mixed variants of /serverkeygen.
"""

import base64
import email.utils
import secrets
import time

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# --- a small DER encoder ---------------------------------------------------


def der(tag, content):
    n = len(content)
    if n < 0x80:
        size = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        size = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + size + content


def der_oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    body = b""
    for arc in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7f]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7f))
            arc >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, body)


def der_int(n):
    return der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def der_seq(*items):
    return der(0x30, b"".join(items))


def der_set(*items):
    return der(0x31, b"".join(sorted(items)))


def der_utf8(text):
    return der(0x0c, text.encode())


def attribute(oid, *values):
    return der_seq(der_oid(oid), der_set(*values))


def extension(oid, value=None, critical=False):
    """Extension, or with value None an RFC 9908 ExtensionTemplate to be filled in."""
    parts = [der_oid(oid)]
    if critical:
        parts.append(der(0x01, b"\xff"))
    if value is not None:
        parts.append(der(0x04, value))
    return der_seq(*parts)


# --- CSR attributes (RFC 7030 4.5.2, RFC 9908) ----------------------------

CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
CRI_TEMPLATE = "1.2.840.113549.1.9.16.2.61"      # id-aa-certificationRequestInfoTemplate
EXTENSION_REQ_TEMPLATE = "1.2.840.113549.1.9.16.2.62"  # id-aa-extensionReqTemplate
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
SUBJECT_ALT_NAME = "2.5.29.17"
KEY_USAGE = "2.5.29.15"
EXT_KEY_USAGE = "2.5.29.37"

# RFC 7030 4.5.2 as printed: challengePassword, an EC key on secp384r1, an extensionRequest
# holding the bare macAddress OID (RFC 9908 explains it), ecdsa-with-SHA384.
RFC7030_EXAMPLE = base64.b64decode(
    "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJ"
    "BgcrBgEBAQEWBggqhkjOPQQDAw==")


def rfc9908_template():
    """RFC 9908's template example, on P-256: CN to fill in, O dictated, a subjectAltName with a
    DNS name and an empty iPAddress to fill in, keyUsage digitalSignature + keyAgreement
    (critical), extKeyUsage to fill in; plus an ecdsa-with-SHA512 outside the template, which
    a client that understands the template ignores (RFC 9908 4)."""
    subject = der_seq(der_set(der_seq(der_oid("2.5.4.3"))),
                      der_set(der_seq(der_oid("2.5.4.10"), der_utf8("Template Org"))))
    spki = der(0xa0, der_seq(der_oid(EC_PUBLIC_KEY), der_oid("1.2.840.10045.3.1.7")))
    san = der_seq(der(0x82, b"tmpl.example.net"), der(0x87, b""))
    ku = der(0x03, b"\x03\x88")                     # digitalSignature, keyAgreement
    exts = der_seq(extension(SUBJECT_ALT_NAME, san), extension(KEY_USAGE, ku, critical=True),
                   extension(EXT_KEY_USAGE))
    attrs = der(0xa1, attribute(EXTENSION_REQ_TEMPLATE, exts))
    template = der_seq(der_int(0), subject, spki, attrs)
    return der_seq(attribute(CRI_TEMPLATE, template), der_oid("1.2.840.10045.4.3.4"))


def bad_attribute():
    """Good attributes (subjectAltName, ecdsa-with-SHA384) around three malformed ones: an
    Attribute without its SET, an INTEGER, an extensionRequest holding an OCTET STRING."""
    san = der_seq(der(0x82, b"gw.example.net"))
    good_ext = attribute(EXTENSION_REQUEST, der_seq(extension(SUBJECT_ALT_NAME, san)))
    return der_seq(good_ext,
                   der_seq(der_oid(EC_PUBLIC_KEY)),
                   der_int(5),
                   attribute(EXTENSION_REQUEST, der(0x04, b"junk")),
                   der_oid("1.2.840.10045.4.3.3"))


def csrattrs_preset(name):
    """DER CsrAttrs ::= SEQUENCE OF AttrOrOID (RFC 7030 4.5.2) for --csrattrs-preset."""
    if name == "empty":
        return der_seq()
    if name == "pop":
        return der_seq(der_oid(CHALLENGE_PASSWORD))
    if name == "ext":
        san = der_seq(der(0x82, b"gw.example.net"))                     # GeneralNames
        eku = der_seq(der_oid("1.3.6.1.5.5.7.3.2"))                     # clientAuth
        exts = der_seq(extension(SUBJECT_ALT_NAME, san), extension(EXT_KEY_USAGE, eku))
        return der_seq(attribute(EXTENSION_REQUEST, exts))
    if name == "ec384":
        return der_seq(attribute(EC_PUBLIC_KEY, der_oid("1.3.132.0.34")),
                       der_oid("1.2.840.10045.4.3.3"))
    if name == "rsa":
        return der_seq(attribute("1.2.840.113549.1.1.1", der_int(3072)))
    if name == "unknown":
        return der_seq(der_oid("1.3.6.1.4.1.99999.1"))
    if name == "rfc7030":
        return RFC7030_EXAMPLE
    if name == "rfc9908":
        return rfc9908_template()
    if name == "bad-attr":
        return bad_attribute()
    raise ValueError(f"unknown csrattrs preset {name!r}")


CSRATTRS_PRESETS = ("pop", "ext", "ec384", "rsa", "unknown", "empty", "rfc7030", "rfc9908",
                    "bad-attr")

# --- behaviours -------------------------------------------------------------

# kind: (fewest, most) integer arguments; est-server.py's Behaviour merges these.
KINDS = {"trailing-nul": (0, 0), "ee-only": (0, 0), "ee-extra": (0, 0), "hostile": (1, 1),
         "202rfc850": (2, 2), "202asctime": (2, 2), "multipart-lf": (0, 0),
         "multipart-tricky": (0, 0)}
# kinds whose first argument is a count of answers, spent one by one like "202 N SECONDS"
COUNTED = ("202rfc850", "202asctime")
# kinds that answer in place of the operation (Handler.early)
EARLY = ("hostile", "202rfc850", "202asctime")
CACERTS_ONLY = ("ee-only", "ee-extra")
SERVERKEYGEN_ONLY = ("multipart-lf", "multipart-tricky")

HOSTILE_TYPE = "text/plain; note=\x1b[31mred\x1b[0m\x7f\xe9"
HOSTILE_RETRY_AFTER = "\x1b]0;pwned\x07 soon"
HOSTILE_BODY = b"\x1b[2J\x1b[31mERROR\x00\r\n" + b"A" * 5000 + b"\n"


def check(op, kind):
    """ValueError when kind does not apply to op (None: the three POST operations)."""
    if kind in CACERTS_ONLY and op != "cacerts":
        raise ValueError(f"{kind} is for cacerts only: cacerts-{kind}")
    if kind in SERVERKEYGEN_ONLY and op != "serverkeygen":
        raise ValueError(f"{kind} is for serverkeygen only: serverkeygen-{kind}")


def http_date(form, when):
    """Retry-After as an HTTP-date in one of RFC 9110's three forms."""
    t = time.gmtime(when)
    if form == "rfc850":
        days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        return days[t.tm_wday] + time.strftime(", %d-%b-%y %H:%M:%S GMT", t)
    if form == "asctime":
        return time.asctime(t)
    return email.utils.formatdate(when, usegmt=True)


def early(handler, kind, args):
    """Answers a request for an EARLY kind through handler.reply."""
    if kind == "hostile":
        handler.reply(args[0], HOSTILE_TYPE, HOSTILE_BODY, {"Retry-After": HOSTILE_RETRY_AFTER})
    else:
        when = http_date(kind[3:], time.time() + args[0])
        handler.reply(202, "text/plain", b"pending, retry later\n", {"Retry-After": when})


def end_entity(ca):
    """An end-entity certificate (CA:FALSE) for a fresh key, issued by ca."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ee-{secrets.token_hex(3)}")])
    return ca.issue(name, ec.generate_private_key(ec.SECP256R1()).public_key(), 86400)


def cacerts_chain(kind, chain, ca):
    """What /cacerts answers for ee-only (an end-entity certificate alone) and ee-extra (the
    chain and an end-entity certificate)."""
    if kind == "ee-only":
        return [end_entity(ca)]
    return list(chain) + [end_entity(ca)]


def multipart(kind, parts, boundary, cte):
    """(Content-Type, body) of /serverkeygen's multipart/mixed from [(type, base64)], with a
    Content-Transfer-Encoding header in each part when cte. Default: CRLF, a token boundary.
    multipart-lf: bare LF line ends. multipart-tricky: a quoted boundary with a space and a
    colon, a preamble naming the boundary mid-line and holding a line that starts like a
    delimiter but goes on, transport padding after each delimiter, an empty line inside each
    body, and an epilogue."""
    eol = "\n" if kind == "multipart-lf" else "\r\n"
    b = boundary + " :x" if kind == "multipart-tricky" else boundary
    pad = " \t" if kind == "multipart-tricky" else ""
    out = ""
    if kind == "multipart-tricky":
        out = f"preamble, not a delimiter: --{b}{eol}--{b}and more{eol}"
    for ctype, b64 in parts:
        lines = b64.decode().splitlines()
        if kind == "multipart-tricky":
            lines = lines[:1] + [""] + lines[1:]
        out += f"--{b}{pad}{eol}Content-Type: {ctype}{eol}"
        out += f"Content-Transfer-Encoding: base64{eol}" if cte else ""
        out += eol + eol.join(lines) + eol
    out += f"--{b}--{eol}"
    if kind == "multipart-tricky":
        out += f"epilogue --{b}{eol}"
        return f'multipart/mixed; boundary="{b}"', out.encode()
    return f"multipart/mixed; boundary={b}", out.encode()
