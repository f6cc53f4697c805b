/* SPDX-License-Identifier: MIT */
/* The TLS test server of the http unit tests (forked, one child per connection), certs made now. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http.h"

#define USER "user"
#define PASS "s3cret"
#define BASIC_CRED "dXNlcjpzM2NyZXQ=" /* base64("user:s3cret") */

struct server {
	pid_t pid; /* process group of the server and its connections */
	unsigned int port;
};

struct server_conf {
	int family;
	const char *cert; /* file names in the test directory */
	const char *key;
	int max_version;   /* 0 = highest */
	bool require_cert; /* refuse clients without a certificate of ca.pem */
};

/* The test directory (made by make_certs) and a file in it; caller frees. */
char *path_in_dir(const char *name);
double now_s(void);
/* Makes the directory, the CAs and keys. 0, or -EIO (no openssl CLI). */
int make_certs(void);
/* The environment and the certificates a test of the HTTP client needs; false when it printed
 * a SKIP plan instead (no openssl CLI). */
bool test_setup(void);
/* Removes the directory. */
void remove_dir(void);

/* A socket on the loopback of family, port 0; listening or not. */
int loopback_socket(int family, bool listening, unsigned int *out_port);
int start_server(struct server *s, const struct server_conf *sc);
void stop_server(struct server *s);

/* A file of the test directory; exits 99 when it cannot. Caller frees. */
char *pem(const char *name, size_t *out_len);
struct http_opts opts(const char *trust, size_t trust_len, const char *host, unsigned int port);
/* One request on a fresh handle; returns the error, fills resp. */
int fetch(const struct http_opts *o, const char *path, struct http_response *resp);
/* fetch() at a verbosity with stderr in a file; returns what was logged (caller frees). */
char *fetch_logged_at(const struct http_opts *o, const char *path, int verbosity, int *out_r);
