/* SPDX-License-Identifier: MIT */
/* Unit tests for http.c's authentication: TLS client certificates, Basic, Digest, logging. */
#include "autoconf.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

/* The module itself, to count its connections. */
#include "http.c"

#include "http-server.h"
#include "tap.h"

static struct server srv, srv_strict, srv_strict12;
static char *ca_pem;
static size_t ca_len;

/* fetch() at debug verbosity with stderr in a file; returns what was logged. */
static char *fetch_logged(const struct http_opts *o, const char *path, int *out_r)
{
	return fetch_logged_at(o, path, 1, out_r);
}

static void test_client_cert(void)
{
	static const char *const bundles[] = {"key-first.pem", "cert-first.pem"};
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	char *client;
	size_t i, len;
	int r;

	r = fetch(&o, "/whoami", &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "none"), "no client certificate");
	http_response_clear(&resp);
	for (i = 0; i < ARRAY_SIZE(bundles); i++) {
		client = pem(bundles[i], &len);
		o.client_pem = client;
		o.client_len = len;
		r = fetch(&o, "/whoami", &resp);
		ok(r == 0 && resp.body && !strcmp((char *)resp.body, "client-1"),
		   "client certificate from a %s bundle (r=%d)", bundles[i], r);
		http_response_clear(&resp);
		wipe_free(client, len);
	}
}

static void test_basic(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	char *logged;
	int fd, r;

	o.auth = HTTP_AUTH_BASIC;
	o.username = USER;
	o.password = PASS;
	r = fetch(&o, "/basic", &resp);
	ok(r == 0 && resp.status == 200, "basic auth accepted (status %ld)", resp.status);
	http_response_clear(&resp);
	o.password = "wrong";
	r = fetch(&o, "/basic", &resp);
	ok(r == 0 && resp.status == 401, "wrong password: 401 is an answer");
	http_response_clear(&resp);
	o.password = PASS;
	logged = fetch_logged(&o, "/basic", &r);
	ok(r == 0 && strstr(logged, "debug:"), "debug log written");
	ok(!strstr(logged, PASS) && !strstr(logged, BASIC_CRED),
	   "the password is not logged, even at debug");
	ok(!strstr(logged, "trace:"), "-v logs no trace");
	free(logged);
	logged = fetch_logged_at(&o, "/basic", 2, &r);
	ok(r == 0 && strstr(logged, "trace: curl:   Trying 127.0.0.1:") &&
		   strstr(logged, "trace: curl: Connected to 127.0.0.1 (127.0.0.1) port ") &&
		   strstr(logged, "trace: TLS: TLSv1.3 with "),
	   "-vv: the client's account of the connection is logged");
	ok(strstr(logged, "trace: TLS: trust anchor 0: ") != NULL,
	   "-vv: the trust anchors are named");
	ok(strstr(logged, "trace: TLS: server certificate 0: ") != NULL,
	   "-vv: the server's chain is logged");
	ok(strstr(logged, "trace: TLS: verified") && strstr(logged, "up to the trust anchor"),
	   "-vv: which anchor verified it");
	ok(!strstr(logged, PASS) && !strstr(logged, BASIC_CRED) && !strstr(logged, "Authorization"),
	   "-vv: no password, no Authorization header");
	free(logged);
	fd = loopback_socket(AF_INET, false, &o.port);
	logged = fetch_logged(&o, "/basic", &r);
	ok(r == -ECONNREFUSED && strstr(logged, "warning:"), "a network failure logs a warning");
	free(logged);
	close(fd);
}

static void test_digest(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	struct http *h = NULL;
	int r;

	o.auth = HTTP_AUTH_DIGEST;
	o.username = USER;
	o.password = PASS;
	ok(http_new(&o, &h) == 0, "http_new digest");
	r = http_request(h, "/digest", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200 && resp.body &&
		   !strcmp((char *)resp.body, "digest ok GET 0"),
	   "digest GET after the challenge (status %ld)", resp.status);
	ok(!resp.retry_after && resp.content_type && !strcmp(resp.content_type, "text/plain"),
	   "the challenge's headers are not kept");
	ok(h->connects == 1, "challenge and answer on one connection");
	http_response_clear(&resp);
	r = http_request(h, "/digest", "text/plain", NULL, "abc", 3, &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "digest ok POST 3"),
	   "digest POST delivers the body (%s)", resp.body ? (char *)resp.body : "-");
	http_response_clear(&resp);
	http_free(h);
}

/* Digest variants the server checks for real: algorithms, qop absent, a challenge with close. */
static void test_digest_variants(void)
{
	static const char *const cases[][2] = {
		{"/digest-md5", "digest MD5 ok GET"},
		{"/digest-md5sess", "digest MD5-sess ok GET"},
		{"/digest-sha256", "digest SHA-256 ok GET"},
		{"/digest-sha256sess", "digest SHA-256-sess ok GET"},
		{"/digest-md5-noqop", "digest MD5 ok GET"},
		{"/digest-sha256-noqop", "digest SHA-256 ok GET"},
	};
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	struct http *h = NULL;
	size_t i;
	int r;

	o.auth = HTTP_AUTH_DIGEST;
	o.username = USER;
	o.password = PASS;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		r = fetch(&o, cases[i][0], &resp);
		ok(r == 0 && resp.status == 200 && !strcmp((char *)resp.body, cases[i][1]),
		   "digest %s: the server checked our answer (%ld %s)", cases[i][0] + 8,
		   resp.status, resp.body ? (char *)resp.body : "-");
		http_response_clear(&resp);
	}
	ok(http_new(&o, &h) == 0, "http_new digest");
	r = http_request(h, "/digest-sha256-close", "text/plain", NULL, "xy", 2, &resp);
	ok(r == 0 && resp.status == 200 && !strcmp((char *)resp.body, "digest SHA-256 ok POST") &&
		   h->connects == 2,
	   "a challenge with Connection: close: answered on a new connection");
	http_response_clear(&resp);
	o.password = "wrong";
	r = fetch(&o, "/digest-sha256", &resp);
	ok(r == 0 && resp.status == 401, "wrong password: the second 401 is the caller's");
	http_response_clear(&resp);
	http_free(h);
}

static void test_cert_refused(void)
{
	static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
	struct http_opts o;
	struct http_response resp = {0};
	struct http *h = NULL;
	size_t len, i;
	char *client = pem("other-client.pem", &len);
	int r;

	for (i = 0; i < ARRAY_SIZE(versions); i++) {
		o = opts(ca_pem, ca_len, "127.0.0.1",
			 versions[i] == TLS1_3_VERSION ? srv_strict.port : srv_strict12.port);
		o.client_pem = client;
		o.client_len = len;
		ok(http_new(&o, &h) == 0, "http_new with a client certificate of another CA");
		r = http_request(h, "/whoami", NULL, NULL, NULL, 0, &resp);
		ok(r == -ECONNABORTED && http_client_cert_refused(h) && http_tls_alert(h) >= 0,
		   "%s: refused on the first request, as a final alert (r=%d, alert %d): %s",
		   versions[i] == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2", r, http_tls_alert(h),
		   http_last_error(h));
		ok(strstr(http_last_error(h), "the server refused our TLS client certificate") !=
			   NULL,
		   "the message says what was refused");
		http_free(h);
		h = NULL;
	}
	o.client_pem = NULL;
	o.client_len = 0;
	r = fetch(&o, "/whoami", &resp);
	ok(r == -ECONNABORTED, "no certificate where one is required: -ECONNABORTED (r=%d)", r);
	wipe_free(client, len);
}

static void cleanup(void)
{
	stop_server(&srv);
	stop_server(&srv_strict);
	stop_server(&srv_strict12);
	remove_dir();
	free(ca_pem);
}

int main(void)
{
	struct server_conf all = {AF_INET, "srv.pem", "srv.key", 0, false};
	struct server_conf strict = {AF_INET, "srv.pem", "srv.key", 0, true};
	struct server_conf strict12 = {AF_INET, "srv.pem", "srv.key", TLS1_2_VERSION, true};

	if (!test_setup())
		return 0;
	ca_pem = pem("ca.pem", &ca_len);
	if (start_server(&srv, &all) < 0 || start_server(&srv_strict, &strict) < 0 ||
	    start_server(&srv_strict12, &strict12) < 0) {
		fprintf(stderr, "cannot start the test servers\n");
		cleanup();
		return 99;
	}
	test_client_cert();
	test_cert_refused();
	test_basic();
	test_digest();
	test_digest_variants();
	cleanup();
	return tap_done();
}
