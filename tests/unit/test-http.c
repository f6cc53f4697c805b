/* SPDX-License-Identifier: MIT */
/* Unit tests for http.c against a small TLS server forked from this test, with certs made now. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The module itself, to look at its libcurl handle. */
#include "http.c"

#include "tap.h"

#define USER "user"
#define PASS "s3cret"
#define BASIC_CRED "dXNlcjpzM2NyZXQ=" /* base64("user:s3cret") */
#define REQ_MAX 65536

static char dir[] = "/tmp/test-http.XXXXXX";

struct server {
	pid_t pid; /* process group of the server and its connections */
	unsigned int port;
};

struct server_conf {
	int family;
	const char *cert; /* file names in dir */
	const char *key;
	int max_version; /* 0 = highest */
};

/* One connection of the server process; one request at a time. */
struct conn {
	SSL *ssl;
	int index; /* how many connections the server accepted, this one included */
	char buf[REQ_MAX + 1];
	size_t len;
	/* the current request */
	char method[16], path[256];
	char *hdrs; /* header block, NUL-terminated */
	const char *body;
	size_t body_len;
	size_t consumed;
};

static char *path_in_dir(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the server side ---- */

static bool send_all(SSL *ssl, const void *p, size_t n)
{
	const char *c = p;
	int w;

	while (n) {
		w = SSL_write(ssl, c, n > INT_MAX ? INT_MAX : (int)n);
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

static bool respond(struct conn *c, int status, const char *extra, const char *ctype,
		    const void *body, size_t len)
{
	char *head = xasprintf("HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: %s\r\n%s\r\n",
			       status, len, ctype, extra ? extra : "");
	bool ok = send_all(c->ssl, head, strlen(head)) && send_all(c->ssl, body, len);

	free(head);
	return ok;
}

/* Value of request header name (case-insensitive) into out, "" when absent. */
static const char *req_header(const struct conn *c, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), k;
	const char *p;

	out[0] = '\0';
	for (p = strstr(c->hdrs, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) || p[2 + n] != ':')
			continue;
		p += 3 + n;
		p += strspn(p, " ");
		k = strcspn(p, "\r");
		snprintf(out, outlen, "%.*s", (int)k, p);
		break;
	}
	return out;
}

/* Reads one request into c. False on end of connection or garbage. */
static bool read_request(struct conn *c)
{
	char cl[32] = "";
	char *end;
	int r;

	if (c->consumed) {
		memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
		c->len -= c->consumed;
		c->consumed = 0;
	}
	for (;;) {
		c->buf[c->len] = '\0';
		end = strstr(c->buf, "\r\n\r\n");
		if (end) {
			c->hdrs = c->buf;
			end[2] = '\0';
			req_header(c, "Content-Length", cl, sizeof(cl));
			c->body_len = strtoul(cl, NULL, 10);
			c->body = end + 4;
			if (c->body_len > REQ_MAX || end + 4 - c->buf + c->body_len > REQ_MAX)
				return false;
			if ((size_t)(end + 4 - c->buf) + c->body_len <= c->len)
				break;
			end[2] = '\r';
		}
		if (c->len == REQ_MAX)
			return false;
		r = SSL_read(c->ssl, c->buf + c->len, (int)(REQ_MAX - c->len));
		if (r <= 0)
			return false;
		c->len += (size_t)r;
	}
	c->consumed = (size_t)(c->body - c->buf) + c->body_len;
	return sscanf(c->buf, "%15s %255s", c->method, c->path) == 2;
}

static char *hex(const unsigned char *p, size_t n)
{
	return n ? hex_encode(p, n) : xstrdup("-");
}

/* "REUSED UNIQUE EXPORTER" as this side sees it: the other end of http_channel_binding(). */
static bool route_cb(struct conn *c)
{
	unsigned char fin[64], exp[32];
	size_t n = 0, e = 0;
	bool reused = SSL_session_reused(c->ssl), ok;
	char *u, *x, *body;

	if (SSL_version(c->ssl) == TLS1_3_VERSION) {
		if (SSL_export_keying_material(c->ssl, exp, sizeof(exp), EXPORTER_LABEL,
					       strlen(EXPORTER_LABEL), NULL, 0, 0) == 1)
			e = sizeof(exp);
	} else {
		/* The first Finished on the wire: the client's, or ours on resumption. */
		n = reused ? SSL_get_finished(c->ssl, fin, sizeof(fin))
			   : SSL_get_peer_finished(c->ssl, fin, sizeof(fin));
	}
	u = hex(fin, n);
	x = hex(exp, e);
	body = xasprintf("%d %s %s", reused, u, x);
	ok = respond(c, 200, NULL, "text/plain", body, strlen(body));
	free(body);
	free(x);
	free(u);
	return ok;
}

static bool route_whoami(struct conn *c)
{
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	char cn[256] = "none";
	bool ok;

	if (peer)
		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
					  sizeof(cn));
	ok = respond(c, 200, NULL, "text/plain", cn, strlen(cn));
	X509_free(peer);
	return ok;
}

/* Headers, then a body of len bytes: chunked or with a Content-Length. */
static bool route_big(struct conn *c, size_t len, bool chunked, unsigned int delay_ms)
{
	static char block[65536];
	size_t n, step = delay_ms ? 1 : sizeof(block);
	char *head = xasprintf(
		"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
		"%s%zu\r\n\r\n",
		chunked ? "Transfer-Encoding: chunked\r\nX-Len: " : "Content-Length: ", len);
	char size_line[32];
	bool ok = send_all(c->ssl, head, strlen(head));

	memset(block, 'a', sizeof(block));
	for (; ok && len; len -= n) {
		n = len < step ? len : step;
		snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
		if (chunked)
			ok = send_all(c->ssl, size_line, strlen(size_line));
		ok = ok && send_all(c->ssl, block, n) && (!chunked || send_all(c->ssl, "\r\n", 2));
		if (delay_ms)
			usleep(delay_ms * 1000);
	}
	ok = ok && (!chunked || send_all(c->ssl, "0\r\n\r\n", 5));
	free(head);
	return ok;
}

static bool route_echo(struct conn *c)
{
	char ct[128], x[128], expect[64];
	char *body;
	bool ok;

	req_header(c, "Content-Type", ct, sizeof(ct));
	req_header(c, "X-Test", x, sizeof(x));
	req_header(c, "Expect", expect, sizeof(expect));
	body = xasprintf("%s|%s|%s|%s|%.*s", c->method, ct, x, expect, (int)c->body_len, c->body);
	ok = respond(c, 200, NULL, "text/plain", body, strlen(body));
	free(body);
	return ok;
}

/* Challenge first, with headers a final answer must not inherit; accept any Digest answer. */
static bool route_digest(struct conn *c)
{
	char auth[1024], *body;
	bool ok;

	req_header(c, "Authorization", auth, sizeof(auth));
	if (strncmp(auth, "Digest ", 7) || !strstr(auth, "username=\"" USER "\""))
		return respond(c, 401,
			       "WWW-Authenticate: Digest realm=\"est\", nonce=\"8c1a5e\", "
			       "qop=\"auth\", algorithm=MD5\r\nRetry-After: 99\r\n",
			       "text/html", "denied", 6);
	body = xasprintf("digest ok %s %zu", c->method, c->body_len);
	ok = respond(c, 200, NULL, "text/plain", body, strlen(body));
	free(body);
	return ok;
}

/* Answers one request; false closes the connection. */
static bool route(struct conn *c)
{
	char auth[256], *s;
	bool ok;

	if (!strcmp(c->path, "/hello"))
		return respond(c, 200, "Retry-After: 7\r\n", "text/plain; charset=utf-8",
			       "hello world", 11);
	if (!strcmp(c->path, "/count")) {
		s = xasprintf("%d", c->index);
		ok = respond(c, 200, NULL, "text/plain", s, strlen(s));
		free(s);
		return ok;
	}
	if (!strcmp(c->path, "/close")) {
		respond(c, 200, "Connection: close\r\n", "text/plain", "bye", 3);
		return false;
	}
	if (!strcmp(c->path, "/drop")) {
		/* A keep-alive timeout: the server closes an idle connection. */
		respond(c, 200, NULL, "text/plain", "bye", 3);
		return false;
	}
	if (!strcmp(c->path, "/echo"))
		return route_echo(c);
	if (!strcmp(c->path, "/cb"))
		return route_cb(c);
	if (!strcmp(c->path, "/whoami"))
		return route_whoami(c);
	if (!strcmp(c->path, "/big"))
		return route_big(c, 5u << 20, false, 0);
	if (!strcmp(c->path, "/chunked"))
		return route_big(c, 5u << 20, true, 0);
	if (!strcmp(c->path, "/exact"))
		return route_big(c, HTTP_MAX_BODY, false, 0);
	if (!strcmp(c->path, "/slow"))
		return route_big(c, 1000, false, 200);
	if (!strcmp(c->path, "/digest"))
		return route_digest(c);
	if (!strcmp(c->path, "/basic")) {
		if (strcmp(req_header(c, "Authorization", auth, sizeof(auth)), "Basic " BASIC_CRED))
			return respond(c, 401, "WWW-Authenticate: Basic realm=\"est\"\r\n",
				       "text/plain", "no", 2);
		return respond(c, 200, NULL, "text/plain", "basic ok", 8);
	}
	return respond(c, 404, NULL, "text/plain", "not found", 9);
}

static void serve_conn(SSL_CTX *ctx, int fd, int index)
{
	struct conn *c = xzalloc(sizeof(*c));
	struct timeval tv = {.tv_sec = 20};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->index = index;
	c->ssl = SSL_new(ctx);
	if (c->ssl && SSL_set_fd(c->ssl, fd) == 1 && SSL_accept(c->ssl) == 1) {
		while (read_request(c) && route(c))
			;
		SSL_shutdown(c->ssl);
	}
	SSL_free(c->ssl);
	close(fd);
	free(c);
}

/*
 * libcurl sets SSL_OP_NO_TICKET, so TLS 1.2 resumption needs a server-side session cache; files
 * let the per-connection processes share it.
 */
static char *session_path(const unsigned char *id, unsigned int n)
{
	char *h = hex(id, n), *path = xasprintf("%s/session-%s", dir, h);

	free(h);
	return path;
}

static int session_new(SSL *ssl, SSL_SESSION *sess)
{
	unsigned int n = 0;
	const unsigned char *id = SSL_SESSION_get_id(sess, &n);
	char *path = session_path(id, n);
	unsigned char *der = NULL;
	int len = i2d_SSL_SESSION(sess, &der);

	if (len > 0 && write_file_atomic(path, der, (size_t)len, 0600, (gid_t)-1) < 0)
		fprintf(stderr, "server: cannot store %s\n", path);
	OPENSSL_free(der);
	free(path);
	return 0;
}

static SSL_SESSION *session_get(SSL *ssl, const unsigned char *id, int n, int *copy)
{
	char *path = session_path(id, (unsigned int)n), *der = NULL;
	const unsigned char *p;
	SSL_SESSION *sess = NULL;
	size_t len = 0;

	if (read_file(path, 1 << 16, &der, &len) == 0) {
		p = (const unsigned char *)der;
		sess = d2i_SSL_SESSION(NULL, &p, (long)len);
	}
	wipe_free(der, len);
	free(path);
	*copy = 0;
	return sess;
}

static SSL_CTX *server_ctx(const struct server_conf *sc)
{
	char *cert = path_in_dir(sc->cert), *key = path_in_dir(sc->key);
	char *ca = path_in_dir("ca.pem");
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, sc->max_version) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"t", 1) != 1) {
		ERR_print_errors_fp(stderr);
		_exit(1);
	}
	/* Ask for a client certificate, never require one. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, session_new);
	SSL_CTX_sess_set_get_cb(ctx, session_get);
	free(ca);
	free(key);
	free(cert);
	return ctx;
}

/* The server process: a child per connection, so kept-alive connections do not block. */
static void __attribute__((noreturn)) serve(int lfd, const struct server_conf *sc)
{
	SSL_CTX *ctx = server_ctx(sc);
	int fd, index = 0;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);
	alarm(120); /* never outlive a stuck test */
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		index++;
		if (fork() == 0) {
			close(lfd);
			serve_conn(ctx, fd, index);
			_exit(0);
		}
		close(fd);
	}
}

/* A socket on the loopback of family, port 0; listening or not. */
static int loopback_socket(int family, bool listening, unsigned int *out_port)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = family == AF_INET ? sizeof(*in4) : sizeof(*in6);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		in6->sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (listening && listen(fd, 16) < 0) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*out_port = ntohs(family == AF_INET ? in4->sin_port : in6->sin6_port);
	return fd;
}

/* The socket listens before the fork: no port race, no wait for readiness. */
static int start_server(struct server *s, const struct server_conf *sc)
{
	int lfd = loopback_socket(sc->family, true, &s->port);

	if (lfd < 0)
		return -errno;
	fflush(stdout);
	s->pid = fork();
	if (s->pid == 0) {
		setpgid(0, 0);
		serve(lfd, sc);
	}
	close(lfd);
	if (s->pid < 0)
		return -errno;
	setpgid(s->pid, s->pid);
	return 0;
}

static void stop_server(struct server *s)
{
	if (s->pid <= 0)
		return;
	kill(-s->pid, SIGTERM);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

/* ---- the client side ---- */

static char *pem(const char *name, size_t *out_len)
{
	char *path = path_in_dir(name), *data = NULL;
	size_t len = 0;

	if (read_file(path, 1 << 20, &data, &len) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(99);
	}
	free(path);
	*out_len = len;
	return data;
}

static struct http_opts opts(const char *trust, size_t trust_len, const char *host,
			     unsigned int port)
{
	return (struct http_opts){
		.host = host,
		.port = port,
		.trust_pem = trust,
		.trust_len = trust_len,
		.timeout = 10,
	};
}

/* One request on a fresh handle; returns the error, fills resp and last error text. */
static int fetch(const struct http_opts *o, const char *path, struct http_response *resp)
{
	struct http *h = NULL;
	int r;

	r = http_new(o, &h);
	if (r == 0)
		r = http_request(h, path, NULL, NULL, NULL, 0, resp);
	http_free(h);
	return r;
}

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

static struct server srv, srv12, srv_wrong;
static char *ca_pem, *ca2_pem;
static size_t ca_len, ca2_len;

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

static void feed(struct http *h, const char *line)
{
	on_header((char *)line, 1, strlen(line), h);
}

static void test_header_parsing(void)
{
	static char chunk[1 << 16];
	struct http h = {0};
	size_t i, taken = 0;

	ok(dlopen_curl() == 0 && dlopen_curl() == 0, "libcurl bound at run time, once");
	h.curl = lc.easy_init();

	feed(&h, "HTTP/1.1 401 Unauthorized\r\n");
	feed(&h, "content-type:text/html\r\n");
	feed(&h, "RETRY-AFTER:  \t 120 \r\n");
	ok(h.content_type && !strcmp(h.content_type, "text/html"), "lower case, no space");
	ok(h.retry_after && !strcmp(h.retry_after, "120"), "upper case, blanks trimmed");
	feed(&h, "HTTP/1.1 200 OK\r\n");
	ok(!h.content_type && !h.retry_after, "a new status line forgets the last answer's");
	feed(&h, "Content-Typed: x\r\n");
	feed(&h, "Content-Type\r\n");
	feed(&h, "X-Content-Type: y\r\n");
	feed(&h, "");
	ok(!h.content_type, "look-alike headers ignored");
	feed(&h, "Retry-After:\r\n");
	feed(&h, "Content-Type: a\r\n");
	feed(&h, "Content-Type: b\r\n");
	ok(h.retry_after && !*h.retry_after && h.content_type && !strcmp(h.content_type, "b"),
	   "empty value kept as \"\", the last of repeated headers wins");
	for (i = 0; i < HTTP_MAX_BODY / sizeof(chunk); i++)
		taken += on_body(chunk, 1, sizeof(chunk), &h);
	ok(taken == HTTP_MAX_BODY && !h.too_big, "body callback takes HTTP_MAX_BODY bytes");
	ok(on_body(chunk, 1, 1, &h) == 0 && h.too_big, "and refuses one byte more");
	reset_answer(&h);
	lc.easy_cleanup(h.curl);
}

static void test_get(void)
{
	struct http_opts o = opts(ca_pem, ca_len, "127.0.0.1", srv.port);
	struct http_response resp = {0};
	struct curl_tlssessioninfo *tsi = NULL;
	struct http *h = NULL;
	long conns = -1;
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
	lc.easy_getinfo(h->curl, CURLINFO_TLS_SSL_PTR, &tsi);
	printf("# libcurl: CURLINFO_TLS_SSL_PTR after curl_easy_perform: %s\n",
	       tsi && tsi->internals ? "available" : "NULL");
	r = http_request(h, "count", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "1"),
	   "second request (path without a slash) still on the first connection");
	lc.easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &conns);
	ok(conns == 0, "the second request opened no connection");
	http_response_clear(&resp);
	r = http_request(h, "/missing", NULL, NULL, NULL, 0, &resp);
	ok(r == 0 && resp.status == 404 && !resp.retry_after && resp.body_len == 9,
	   "404 is an answer, not an error; Retry-After not inherited");
	http_response_clear(&resp);
	ok(!resp.body && !resp.content_type && resp.status == 0, "http_response_clear zeroes");
	http_free(h);
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
	char *ca_file;
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
	setenv("SSL_CERT_DIR", dir, 1);
	r = fetch(&o, "/hello", &resp);
	ok(r == -EPERM, "only the given anchors are trusted, not OpenSSL's defaults (r=%d)", r);
	unsetenv("SSL_CERT_FILE");
	unsetenv("SSL_CERT_DIR");
	free(ca_file);
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

static char *fetch_logged_at(const struct http_opts *o, const char *path, int verbosity,
			     int *out_r);

/* Runs fetch() at debug verbosity with stderr in a file; returns what was logged. */
static char *fetch_logged(const struct http_opts *o, const char *path, int *out_r)
{
	return fetch_logged_at(o, path, 1, out_r);
}

static char *fetch_logged_at(const struct http_opts *o, const char *path, int verbosity, int *out_r)
{
	char *log = path_in_dir("stderr.log"), *data = NULL;
	struct http_response resp = {0};
	int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len;

	fflush(stderr);
	dup2(fd, 2);
	log_init(verbosity);
	*out_r = fetch(o, path, &resp);
	log_init(0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	http_response_clear(&resp);
	if (read_file(log, 1 << 20, &data, &len) < 0)
		data = xstrdup("");
	free(log);
	return data;
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
	ok(r == 0 && strstr(logged, "trace: curl: "), "-vv: libcurl's account is logged");
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
	long conns = -1;
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
	lc.easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &conns);
	ok(conns == 1, "challenge and answer on one connection");
	http_response_clear(&resp);
	r = http_request(h, "/digest", "text/plain", NULL, "abc", 3, &resp);
	ok(r == 0 && resp.body && !strcmp((char *)resp.body, "digest ok POST 3"),
	   "digest POST delivers the body (%s)", resp.body ? (char *)resp.body : "-");
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

#define REQ                                                                                        \
	"openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "          \
	"-days 2 "
#define LEAF "-CA ca.pem -CAkey ca.key -addext basicConstraints=critical,CA:FALSE "

/* Test CAs and keys are made now, never committed. */
static int make_certs(void)
{
	static const char *const cmds[] = {
		REQ "-keyout ca.key -out ca.pem -subj /CN=Test-CA",
		REQ "-keyout ca2.key -out ca2.pem -subj /CN=Other-CA",
		REQ "-keyout srv.key -out srv.pem -subj /CN=localhost " LEAF
		    "-addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
		REQ "-keyout wrong.key -out wrong.pem -subj /CN=wrong.example " LEAF
		    "-addext subjectAltName=DNS:wrong.example",
		REQ "-keyout client.key -out client.pem -subj /CN=client-1 " LEAF
		    "-addext extendedKeyUsage=clientAuth",
		"cat client.key client.pem > key-first.pem",
		"cat client.pem client.key > cert-first.pem",
	};
	char *cmd;
	size_t i;
	int st;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		cmd = xasprintf("cd %s && { %s; } >/dev/null 2>&1", dir, cmds[i]);
		st = system(cmd);
		free(cmd);
		if (st != 0)
			return -EIO;
	}
	return 0;
}

static void cleanup(void)
{
	char *cmd = xasprintf("rm -rf %s", dir);

	stop_server(&srv);
	stop_server(&srv12);
	stop_server(&srv_wrong);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	free(ca_pem);
	free(ca2_pem);
}

int main(void)
{
	struct server_conf all = {AF_INET, "srv.pem", "srv.key", 0};
	struct server_conf tls12 = {AF_INET, "srv.pem", "srv.key", TLS1_2_VERSION};
	struct server_conf wrong = {AF_INET, "wrong.pem", "wrong.key", 0};

	/* Plain "warning:" prefixes, whoever runs the test. */
	unsetenv("JOURNAL_STREAM");
	if (!mkdtemp(dir) || make_certs() < 0) {
		printf("1..0 # SKIP cannot make test certificates with the openssl CLI\n");
		if (dir[strlen(dir) - 1] != 'X')
			cleanup();
		return 0;
	}
	ca_pem = pem("ca.pem", &ca_len);
	ca2_pem = pem("ca2.pem", &ca2_len);
	if (start_server(&srv, &all) < 0 || start_server(&srv12, &tls12) < 0 ||
	    start_server(&srv_wrong, &wrong) < 0) {
		fprintf(stderr, "cannot start the test servers\n");
		cleanup();
		return 99;
	}
	test_new_invalid();
	test_header_parsing();
	test_get();
	test_post();
	test_binding_tls13();
	test_binding_tls12();
	test_tls_failures();
	test_network_failures();
	test_proxy();
	test_size_cap();
	test_client_cert();
	test_basic();
	test_digest();
	test_ipv6();
	cleanup();
	return tap_done();
}
