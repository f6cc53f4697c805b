/* SPDX-License-Identifier: MIT */
/* A DER Name in RFC 2253 form, as crypto_name_string() prints it, without libcrypto. */
#pragma once

#include <stddef.h>

/* The Name (a whole DER TLV) as "CN=x,O=y" (last RDN first, '+' inside one, RFC 2253
 * escapes, UTF-8 kept), or NULL for what this does not print the way OpenSSL would (an
 * attribute type outside its table, a string type but UTF8/Printable/IA5, a byte outside
 * printable ASCII): the caller then asks OpenSSL. Caller OPENSSL_free()s. */
char *dn_print_der(const unsigned char *der, size_t len);
