/* SPDX-License-Identifier: MIT */
/* The PKCS#11 module itself, for what OpenSSL's pkcs11 provider cannot do: destroy objects. */
#pragma once

#include <stdbool.h>

/* One attribute of a PKCS#11 URI's path (RFC 7512), %XX decoded, or NULL when absent. Caller
 * frees. */
char *p11_uri_attr(const char *uri, const char *name);
/* The same as lowercase hex of its bytes (an id). */
char *p11_uri_attr_hex(const char *uri, const char *name);

/*
 * Destroys every token object labelled label in the token token_uri names (token, manufacturer,
 * serial, model), through module (NULL: p11-kit's proxy), logged in with the PIN of pin_file
 * (NULL: no login); how many in *out_destroyed (0 is no error). 0, -ENOPKG (the module does not
 * load), -ENOENT (no such token), -EACCES (the PIN refused), -EIO; the reason logged.
 */
int p11_destroy_objects(const char *module, const char *token_uri, const char *pin_file,
			const char *label, unsigned int *out_destroyed);
/* The same for every object whose label owned(label, ctx) claims (the keys a store no longer
 * references); how many in *out_destroyed. An object the token will not destroy is logged and
 * the others still destroyed (then -EIO). */
int p11_destroy_owned(const char *module, const char *token_uri, const char *pin_file,
		      bool (*owned)(const char *label, void *ctx), void *ctx,
		      unsigned int *out_destroyed);
/* Logs in to the token as the functions above do (a token at its last PIN try is not tried):
 * 0, -ENOPKG, -ENOENT, -EACCES, -EIO, logged. */
int p11_check_login(const char *module, const char *token_uri, const char *pin_file);
