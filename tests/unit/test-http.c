/* SPDX-License-Identifier: MIT */
/* Unit tests for http.c and its parts: transport, framing, TLS, proxies, against test servers. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

/* The module itself, to count its connections. */
#include "http.c"

#include "http-server.h"
#include "tap.h"

static struct server srv, srv12, srv_wrong;
static char *ca_pem, *ca2_pem;
static size_t ca_len, ca2_len;

static bool binding_is(struct http *h, bool exporter, const char *want_hex)
{
	unsigned char buf[64];
	size_t n = 0;
	char *got;
	bool same;

	if (http_channel_binding(h, exporter, buf, sizeof(buf), &n) < 0)
		return false;
	got = hex_encode(buf, n);
	same = !strcmp(got, want_hex);
	free(got);
	return same;
}

static void test_new_invalid(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http *h = NULL;

	o.trust_pem = NULL;
	ok(http_new(&o, &h) == -EINVAL && !h, "http_new without trust anchors: -EINVAL");
	o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	o.tls12_only = o.tls13_only = true;
	ok(http_new(&o, &h) == -EINVAL && !h, "tls12_only with tls13_only: -EINVAL");
	o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	o.auth = HTTP_AUTH_BASIC;
	o.username = USER;
	ok(http_new(&o, &h) == -EINVAL && !h, "basic auth without a password: -EINVAL");
	http_free(NULL);
	http_response_clear(NULL);
	ok(1, "http_free(NULL) and http_response_clear(NULL) are no-ops");
}

static void test_parts(void)
{
	static const char *const secrets[] = {"s3cr3t", NULL};
	unsigned char chunk[1 << 16] = {0};
	struct http x = {0};
	size_t i, taken = 0;
	char *shown;

	ok(http_curl_bind() == 0 && http_curl_bind() == 0, "libcurl bound at run time, once");
	for (i = 0; i < HTTP_MAX_BODY / sizeof(chunk); i++)
		taken += on_body((char *)chunk, 1, sizeof(chunk), &x);
	ok(taken == HTTP_MAX_BODY, "the body takes HTTP_MAX_BODY bytes");
	ok(on_body((char *)chunk, 1, 1, &x) == 0 && x.too_big, "and refuses one byte more");
	reset_answer(&x);
	x.secrets = (char **)secrets;
	shown = redact(&x, "proxy 'http://us%65r:p%40ss@[::1]:3128/' and socks5h://u@h:1080 ok "
			   "https://host/a@b; env == 'http://u:it's@h:9' s3cr3t!");
	ok(!strcmp(shown, "proxy 'http://***@[::1]:3128/' and socks5h://***@h:1080 ok "
			  "https://host/a@b; env == 'http://***@h:9' ***!"),
	   "user information of URLs and secrets masked, an @ in a path kept (%s)", shown);
	wipe_str(shown);
	ok(on_debug(NULL, CURLINFO_TEXT, (char *)"h2h3 [authorization: Basic czNjcmV0]\n", 38,
		    &x) == 0,
	   "HTTP/2 request headers spelled out by libcurl: not logged");
}

static void test_get(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	struct http *h = NULL;
	int r;

	ok(http_new(&o, &h) == 0, "http_new");
	ok(!http_tls_version(h), "no TLS version before the first request");
	r = http_request(h, "/hello", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200, "GET /hello: 200 (r=%d)", r);
	ok(resp.body_len == 11 && !strcmp((char *)resp.body, "hello world"), "body");
	ok(resp.content_type && !strcmp(resp.content_type, "text/plain; charset=utf-8"),
	   "Content-Type captured");
	ok(resp.retry_after && !strcmp(resp.retry_after, "7"), "Retry-After captured");
	http_response_clear(&resp);
	ok(http_tls_version(h) && !strcmp(http_tls_version(h), "TLSv1.3"), "TLS 1.3 by default");
	r = http_request(h, "count", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "1"),
	   "second request (path without a slash) still on the first connection");
	ok(h->connects == 1, "the second request opened no connection");
	http_response_clear(&resp);
	r = http_request(h, "/missing", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 404 && !resp.retry_after && resp.body_len == 9,
	   "404 is an answer, not an error; Retry-After not inherited");
	http_response_clear(&resp);
	ok(!resp.body && !resp.content_type && resp.status == 0, "http_response_clear zeroes");
	http_free(h);
}

/* An anchor that is not self-signed (here the server's own certificate) is enough. */
static void test_partial_chain(void)
{
	size_t len = 0;
	char *leaf = pem("srv.pem", &len);
	struct http_opts o = opts(leaf, len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	struct http *h = NULL;
	int r = http_new(&o, &h);

	if (r == 0)
		r = http_request(h, "/hello", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200, "an anchor that is not a root verifies the server (r=%d)",
	   r);
	http_response_clear(&resp);
	http_free(h);
	free(leaf);
}

static void test_post(void)
{
	static const char *const extra[] = {"X-Test: 1", NULL};
	struct http_opts o = opts(ca_pem, ca_len, "localhost", srv.port);
	struct http_response resp = {0};
	struct http *h = NULL;
	int r;

	ok(http_new(&o, &h) == 0, "http_new (host name)");
	r = http_request(h, "/echo", "application/pkcs10", extra, "MIIB", 4, &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "POST|application/pkcs10|1||MIIB"),
	   "POST: body, Content-Type, extra header, no Expect (%s)",
	   resp.body ? (char *)resp.body : "-");
	http_response_clear(&resp);
	r = http_request(h, "/echo", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "GET||||"),
	   "GET after POST is a GET (%s)", resp.body ? (char *)resp.body : "-");
	http_response_clear(&resp);
	r = http_request(h, "/echo", NULL, NULL, "", 0, &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "POST||||"),
	   "empty POST without a content type: no form Content-Type (%s)",
	   resp.body ? (char *)resp.body : "-");
	http_response_clear(&resp);
	http_free(h);
}

/* Asks the server for its view of the binding: "REUSED UNIQUE EXPORTER" (hex or "-"). */
static bool server_view(struct http *h, int *reused, char *unique, char *exporter)
{
	struct http_response resp = {0};
	bool got;

	got = http_request(h, "/cb", NULL, NULL, NULL, 0, &resp) == 0 && resp.body &&
	      sscanf((char *)resp.body, "%d %128s %128s", reused, unique, exporter) == 3;
	http_response_clear(&resp);
	return got;
}

static void test_binding_tls13(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	char unique[129], exporter[129];
	unsigned char buf[64];
	struct http *h = NULL;
	size_t n = 0;
	int reused;

	o.tls13_only = true;
	ok(http_new(&o, &h) == 0, "http_new tls13_only");
	ok(http_channel_binding(h, true, buf, sizeof(buf), &n) == -ENOTCONN,
	   "no binding before a request: -ENOTCONN");
	ok(server_view(h, &reused, unique, exporter), "GET /cb over TLS 1.3");
	ok(http_channel_binding(h, true, buf, sizeof(buf), &n) == 0 && n == 32,
	   "tls-exporter is 32 bytes");
	ok(binding_is(h, true, exporter), "tls-exporter matches the server's");
	ok(http_channel_binding(h, false, buf, sizeof(buf), &n) == -EPROTO,
	   "tls-unique under TLS 1.3: -EPROTO");
	ok(http_channel_binding(h, true, buf, 16, &n) == -ENOBUFS, "short buffer: -ENOBUFS");
	http_free(h);
}

static void test_binding_tls12(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	char unique[129], exporter[129], unique2[129];
	struct http_response resp = {0};
	unsigned char buf[64];
	struct http *h = NULL;
	size_t n = 0;
	int reused = -1, r;

	o.tls12_only = true;
	ok(http_new(&o, &h) == 0, "http_new tls12_only");
	ok(server_view(h, &reused, unique, exporter) && reused == 0, "GET /cb over TLS 1.2");
	ok(http_tls_version(h) && !strcmp(http_tls_version(h), "TLSv1.2"), "TLS 1.2");
	ok(http_channel_binding(h, false, buf, sizeof(buf), &n) == 0 && n == 12,
	   "tls-unique is the 12-byte Finished");
	ok(binding_is(h, false, unique), "tls-unique matches the server's (client Finished)");
	ok(http_channel_binding(h, true, buf, sizeof(buf), &n) == -EPROTO,
	   "tls-exporter under TLS 1.2: -EPROTO");
	r = http_request(h, "/close", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200, "GET /close");
	http_response_clear(&resp);
	ok(!http_tls_version(h) &&
		   http_channel_binding(h, false, buf, sizeof(buf), &n) == -ENOTCONN,
	   "after the server closed: no version, -ENOTCONN");
	ok(server_view(h, &reused, unique2, exporter) && reused == 1,
	   "the next request reconnects, resuming the session");
	ok(binding_is(h, false, unique2) && strcmp(unique, unique2),
	   "tls-unique of a resumed session is the server's Finished, and new");
	r = http_request(h, "/drop", NULL, NULL, NULL, 0, &resp);
	http_response_clear(&resp);
	usleep(200 * 1000);
	ok(r == 0 && !http_tls_version(h) &&
		   http_channel_binding(h, false, buf, sizeof(buf), &n) == -ENOTCONN,
	   "after the server dropped an idle connection: -ENOTCONN");
	r = http_request(h, "/count", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200, "and the next request reconnects transparently");
	http_response_clear(&resp);
	http_free(h);
}

static void test_tls_failures(void)
{
	struct http_opts o = opts(ca2_pem, ca2_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	struct http *h = NULL;
	char *ca_file, *ca_dir;
	int r;

	ok(http_new(&o, &h) == 0, "http_new trusting another CA");
	r = http_request(h, "/hello", NULL, NULL, NULL, 0, &resp);
	ok(r == -EPERM, "server of an untrusted CA: -EPERM (r=%d)", r);
	ok(!resp.body && !resp.status, "response untouched on failure");
	ok(*http_last_error(h), "last error: %s", http_last_error(h));
	http_free(h);
	/* OpenSSL's default verify paths would now trust the server: they must not be used. */
	ca_file = path_in_dir("ca.pem");
	setenv("SSL_CERT_FILE", ca_file, 1);
	ca_dir = path_in_dir("");
	setenv("SSL_CERT_DIR", ca_dir, 1);
	r = fetch(&o, "/hello", &resp);
	ok(r == -EPERM, "only the given anchors are trusted, not OpenSSL's defaults (r=%d)", r);
	unsetenv("SSL_CERT_FILE");
	unsetenv("SSL_CERT_DIR");
	free(ca_file);
	free(ca_dir);
	o = opts(ca_pem, ca_len, "127.0.0.1", srv_wrong.port);
	r = fetch(&o, "/hello", &resp);
	ok(r == -EPERM, "certificate for another name: -EPERM (r=%d)", r);
	o = opts(ca_pem, ca_len, "127.0.0.1", srv12.port);
	o.tls13_only = true;
	o.version_why = "for tls-exporter";
	o.trust_name = "stored CA certificates";
	ok(http_new(&o, &h) == 0, "http_new tls13_only");
	r = http_request(h, "/hello", NULL, NULL, NULL, 0, &resp);
	ok(r == -ECONNABORTED, "tls13_only against a TLS 1.2 server: -ECONNABORTED (r=%d)", r);
	ok(http_tls_alert(h) == SSL_AD_PROTOCOL_VERSION, "the server's alert: protocol_version");
	ok(strstr(http_last_error(h), "protocol version") &&
		   strstr(http_last_error(h), "TLS 1.3 only (for tls-exporter)") &&
		   strstr(http_last_error(h), "stored CA certificates"),
	   "the message names the alert, what was offered and why, the trust: %s",
	   http_last_error(h));
	http_free(h);
	h = NULL;
	o.tls13_only = false;
	r = fetch(&o, "/hello", &resp);
	ok(r == 0 && resp.status == 200, "default against a TLS 1.2 server works");
	http_response_clear(&resp);
	o = opts(ca2_pem, ca2_len, "127.0.0.1", srv.port);
	o.trust_name = "stored CA certificates and ca_root";
	ok(http_new(&o, &h) == 0 && http_request(h, "/hello", NULL, NULL, NULL, 0, &resp) == -EPERM,
	   "untrusted server: -EPERM");
	ok(strstr(http_last_error(h), "does not verify against the stored CA certificates and "
				      "ca_root"),
	   "the message names the trust: %s", http_last_error(h));
	ok(http_tls_alert(h) == -1, "no alert from the server: it was this side that refused");
	http_free(h);
	o.extra_trust_pem = ca_pem;
	o.extra_trust_len = ca_len;
	r = fetch(&o, "/hello", &resp);
	ok(r == 0 && resp.status == 200, "trusted through the extra anchors (r=%d)", r);
	http_response_clear(&resp);
	o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	o.extra_trust_pem = ca_pem;
	o.extra_trust_len = ca_len;
	r = fetch(&o, "/hello", &resp);
	ok(r == 0 && resp.status == 200, "the same certificate in both sets is harmless (r=%d)", r);
	http_response_clear(&resp);
}

/* A proxy that is not there: any request sent to it is refused at once. */
static void test_proxy(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	unsigned int dead;
	int fd = loopback_socket(AF_INET, false, &dead), r;
	char *proxy = xasprintf("http://127.0.0.1:%u", dead);

	o.proxy = proxy;
	r = fetch(&o, "/hello", &resp);
	ok(r == -ECONNREFUSED, "proxy given: it is used (refused: %d)", r);
	setenv("https_proxy", proxy, 1);
	o.proxy = NULL;
	r = fetch(&o, "/hello", &resp);
	ok(r == -ECONNREFUSED, "no proxy given: the environment's https_proxy is used (%d)", r);
	setenv("no_proxy", "127.0.0.1", 1);
	r = fetch(&o, "/hello", &resp);
	ok(r == 0 && resp.status == 200, "and its no_proxy too (%d)", r);
	http_response_clear(&resp);
	unsetenv("no_proxy");
	o.proxy = "";
	r = fetch(&o, "/hello", &resp);
	ok(r == 0 && resp.status == 200, "proxy \"\" (none): the environment is ignored (%d)", r);
	http_response_clear(&resp);
	setenv("no_proxy", "*", 1);
	o.proxy = proxy;
	r = fetch(&o, "/hello", &resp);
	ok(r == -ECONNREFUSED, "a proxy given is used whatever no_proxy says (%d)", r);
	unsetenv("no_proxy");
	unsetenv("https_proxy");
	close(fd);
	free(proxy);
}

/* A proxy that answers every CONNECT with 403. */
static pid_t refusing_proxy(unsigned int *out_port)
{
	int lfd = loopback_socket(AF_INET, true, out_port), fd;
	char buf[4096];
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		alarm(30);
		while ((fd = accept(lfd, NULL, NULL)) >= 0) {
			if (read(fd, buf, sizeof(buf)) > 0 &&
			    write(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 45) <
				    0)
				_exit(1);
			close(fd);
		}
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void test_proxy_rules(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	char *proxy, *logged;
	unsigned int port = 0, dead;
	int fd = loopback_socket(AF_INET, false, &dead), r;
	pid_t pid = refusing_proxy(&port);

	proxy = xasprintf("http://127.0.0.1:%u", dead);
	setenv("https_proxy", proxy, 1);
	setenv("no_proxy", "10.0.0.0/8, 127.0.0.0/8", 1);
	r = fetch(&o, "/hello", &resp);
	ok(r == 0 && resp.status == 200, "no_proxy: a CIDR range matches an address (%d)", r);
	http_response_clear(&resp);
	o.host = "localhost";
	setenv("no_proxy", "example.org, localhost.", 1);
	r = fetch(&o, "/hello", &resp);
	ok(r == 0 && resp.status == 200, "no_proxy: a trailing-dot name matches (%d)", r);
	http_response_clear(&resp);
	o.host = "127.0.0.1";
	unsetenv("no_proxy");
	unsetenv("https_proxy");
	free(proxy);
	proxy = xasprintf("http://127.0.0.1:%u", port);
	o.proxy = proxy;
	r = fetch(&o, "/hello", &resp);
	ok(r == -ECONNREFUSED, "a proxy refusing the tunnel: -ECONNREFUSED (r=%d)", r);
	logged = fetch_logged_at(&o, "/hello", 0, &r);
	ok(r == -ECONNREFUSED && strstr(logged, "warning:") && strstr(logged, "proxy") &&
		   strstr(logged, "HTTP 403"),
	   "the warning names the proxy and its answer");
	free(logged);
	free(proxy);
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void test_network_failures(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", 0);
	struct http_response resp = {0};
	int fd = loopback_socket(AF_INET, false, &o.port), r;
	struct http *h = NULL;
	double t0;

	/* Bound but not listening: refused, and no other process can take the port meanwhile. */
	r = fetch(&o, "/hello", &resp);
	ok(r == -ECONNREFUSED, "closed port: -ECONNREFUSED (r=%d)", r);
	o.deadline = time(NULL) - 1;
	t0 = now_s();
	r = fetch(&o, "/hello", &resp);
	ok(r == -ETIMEDOUT && now_s() - t0 < 1, "deadline passed: -ETIMEDOUT, nothing sent");
	close(fd);
	o = opts(ca_pem, ca_len, "no-such-host.invalid", 443);
	o.timeout = 5;
	r = fetch(&o, "/hello", &resp);
	/* A resolver without network answers late; then the timeout is what the caller sees. */
	ok(r == -EHOSTUNREACH || r == -ETIMEDOUT, "unresolvable host: -EHOSTUNREACH (r=%d)", r);
	o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	o.timeout = 1;
	ok(http_new(&o, &h) == 0, "http_new timeout 1s");
	t0 = now_s();
	r = http_request(h, "/slow", NULL, NULL, NULL, 0, &resp);
	ok(r == -ETIMEDOUT && now_s() - t0 < 5, "trickling body cut at timeout (%.1fs)",
	   now_s() - t0);
	r = http_request(h, "/hello", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200 && !*http_last_error(h),
	   "the handle works after a timeout; last error cleared");
	http_response_clear(&resp);
	http_free(h);
	o.timeout = 30;
	o.deadline = time(NULL) + 2;
	t0 = now_s();
	r = fetch(&o, "/slow", &resp);
	ok(r == -ETIMEDOUT && now_s() - t0 < 4, "trickling body cut at the deadline (%.1fs)",
	   now_s() - t0);
}

static void test_size_cap(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	int r;

	r = fetch(&o, "/big", &resp);
	ok(r == -EFBIG && !resp.body, "5 MiB with Content-Length: -EFBIG (r=%d)", r);
	r = fetch(&o, "/chunked", &resp);
	ok(r == -EFBIG && !resp.body, "5 MiB chunked: -EFBIG (r=%d)", r);
	r = fetch(&o, "/exact", &resp);
	ok(r == 0 && resp.body_len == HTTP_MAX_BODY && resp.body[HTTP_MAX_BODY] == '\0',
	   "exactly HTTP_MAX_BODY bytes pass, NUL-terminated");
	http_response_clear(&resp);
}

static void test_framing(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	struct http *h = NULL;
	int r;

	ok(http_new(&o, &h) == 0, "http_new");
	r = http_request(h, "/chunked-small", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200 && resp.body_len == 11 &&
		   !strcmp((char *)resp.body, "hello world"),
	   "chunked answer with trailers (r=%d)", r);
	http_response_clear(&resp);
	r = http_request(h, "/continue", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200 && !strcmp((char *)resp.body, "ok") &&
		   !strcmp(resp.content_type, "a/b"),
	   "100 Continue and 102 skipped (r=%d)", r);
	http_response_clear(&resp);
	r = http_request(h, "/count", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200 && h->connects == 1, "all that on one connection");
	http_response_clear(&resp);
	r = http_request(h, "/http10", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200 && !strcmp((char *)resp.body, "old!") &&
		   !http_tls_version(h),
	   "an HTTP/1.0 answer closes the connection");
	http_response_clear(&resp);
	r = http_request(h, "/until-close", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && h->connects == 2 && !strcmp((char *)resp.body, "to the end") &&
		   !http_tls_version(h),
	   "a body without length ends with the connection (a new one)");
	http_response_clear(&resp);
	r = http_request(h, "/close", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && h->connects == 3 && !http_tls_version(h), "Connection: close honoured");
	http_response_clear(&resp);
	r = http_request(h, "/drop", NULL, NULL, NULL, 0, &resp);
	http_response_clear(&resp);
	usleep(100 * 1000);
	r = http_request(h, "/count", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200 && h->connects == 5,
	   "a connection the server dropped is replaced on the next request (r=%d, %u)", r,
	   h->connects);
	http_response_clear(&resp);
	r = http_request(h, "/count", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && h->connects == 5, "and kept when it is not (%u)", h->connects);
	http_response_clear(&resp);
	r = http_request(h, "/bighead", NULL, NULL, NULL, 0, &resp);
	ok(r < 0 && strcasestr(http_last_error(h), "header"),
	   "400 KiB of headers, over libcurl's cap: refused (%d: %s)", r, http_last_error(h));
	r = http_request(h, "/hello", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 200, "the handle recovers after it");
	http_response_clear(&resp);
	http_free(h);
}

static void test_ipv6(void)
{
	struct server_conf c = {AF_INET6, "srv.pem", "srv.key", 0};
	struct http_response resp = {0};
	struct server s6 = {0};
	struct http_opts o;
	struct http *h = NULL;
	int r;

	if (start_server(&s6, &c) < 0) {
		ok(1, "IPv6 literal # SKIP no ::1");
		return;
	}
	o = opts(ca_pem, ca_len, "::1", s6.port);
	ok(http_new(&o, &h) == 0 && !strncmp(h->origin, "https://[::1]:", 14),
	   "IPv6 literal bracketed in the URL");
	r = h ? http_request(h, "/hello", NULL, NULL, NULL, 0, &resp) : -EINVAL;
	ok(r == 0 && resp.status == 200, "GET over IPv6 (r=%d)", r);
	http_response_clear(&resp);
	http_free(h);
	stop_server(&s6);
}

static void cleanup(void)
{
	stop_server(&srv);
	stop_server(&srv12);
	stop_server(&srv_wrong);
	remove_dir();
	free(ca_pem);
	free(ca2_pem);
}

int main(void)
{
	struct server_conf all = {AF_INET, "srv.pem", "srv.key", 0, false};
	struct server_conf tls12 = {AF_INET, "srv.pem", "srv.key", TLS1_2_VERSION, false};
	struct server_conf wrong = {AF_INET, "wrong.pem", "wrong.key", 0, false};

	if (!test_setup())
		return 0;
	ca_pem = pem("ca.pem", &ca_len);
	ca2_pem = pem("ca2.pem", &ca2_len);
	if (start_server(&srv, &all) < 0 || start_server(&srv12, &tls12) < 0 ||
	    start_server(&srv_wrong, &wrong) < 0) {
		fprintf(stderr, "cannot start the test servers\n");
		cleanup();
		return 99;
	}
	test_new_invalid();
	test_parts();
	test_get();
	test_partial_chain();
	test_post();
	test_binding_tls13();
	test_binding_tls12();
	test_tls_failures();
	test_network_failures();
	test_proxy();
	test_proxy_rules();
	test_size_cap();
	test_framing();
	test_ipv6();
	cleanup();
	return tap_done();
}
