/* SPDX-License-Identifier: MIT */
/* RFC 4514 distinguished names (the subject setting) parsed into an X509_NAME. */
#pragma once

#include <openssl/x509.h>

/* Parses an RFC 4514 string (escapes, '+' multi-valued RDNs, names and dotted OIDs). 0 or -EINVAL
 * with reason in out_why (static); caller X509_NAME_free()s. */
int dn_parse(const char *dn, X509_NAME **out_name, const char **out_why);
/* The syntax and the attribute types only, without building the name: whether each value suits
 * its type (a two-letter C, lengths, characters) is checked by dn_parse. 0 or -EINVAL. */
int dn_check(const char *dn, const char **out_why);
