/* SPDX-License-Identifier: MIT */
/* The TLS test server of the http unit tests: a child per connection, certificates made now. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http-server.h"
#include "log.h"
#include "util.h"

#define REQ_MAX 65536

static char dir[] = "/tmp/test-http.XXXXXX";

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

char *path_in_dir(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

double now_s(void)
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
		if (SSL_export_keying_material(c->ssl, exp, sizeof(exp), "EXPORTER-Channel-Binding",
					       24, NULL, 0, 0) == 1)
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

static bool send_text(struct conn *c, const char *s)
{
	return send_all(c->ssl, s, strlen(s));
}

/* A header block past any sane size. */
static bool route_bighead(struct conn *c)
{
	/* 400 header lines of 1 KiB: past libcurl's 300 KiB for a whole head. */
	size_t n = 1000, i;
	char *h = xmalloc(n + 1);
	bool ok;

	memset(h, 'a', n);
	h[n] = '\0';
	ok = send_text(c, "HTTP/1.1 200 OK\r\n");
	for (i = 0; ok && i < 400; i++)
		ok = send_text(c, "X-Big: ") && send_text(c, h) && send_text(c, "\r\n");
	ok = ok && send_text(c, "Content-Length: 0\r\n\r\n");
	free(h);
	return ok;
}

/* name=value or name="value" of a Digest header into out ("" when absent). */
static const char *auth_param(const char *auth, const char *name, char *out, size_t len)
{
	size_t n = strlen(name), k;
	const char *p = auth;

	out[0] = '\0';
	while ((p = strstr(p, name))) {
		if ((p == auth || p[-1] == ' ' || p[-1] == ',') && p[n] == '=') {
			p += n + 1;
			k = *p == '"' ? strcspn(p + 1, "\"") : strcspn(p, ",");
			snprintf(out, len, "%.*s", (int)k, *p == '"' ? p + 1 : p);
			break;
		}
		p += n;
	}
	return out;
}

static void digest_hex(const EVP_MD *md, const char *s, char *out)
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_Digest(s, strlen(s), bin, &n, md, NULL);
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", bin[i]);
}

/* The expected response to the answer in auth, computed from PASS here. */
static bool digest_valid(const char *auth, const char *method, const char *nonce, bool sha256,
			 bool sess, bool qop)
{
	char user[64], realm[64], got_nonce[64], uri[256], resp[130], nc[16], cnonce[64], q[16];
	char ha1[130] = "", ha2[130] = "", want[130] = "", *s;
	const EVP_MD *md = sha256 ? EVP_sha256() : EVP_md5();

	auth_param(auth, "username", user, sizeof(user));
	auth_param(auth, "realm", realm, sizeof(realm));
	auth_param(auth, "nonce", got_nonce, sizeof(got_nonce));
	auth_param(auth, "uri", uri, sizeof(uri));
	auth_param(auth, "response", resp, sizeof(resp));
	auth_param(auth, "nc", nc, sizeof(nc));
	auth_param(auth, "cnonce", cnonce, sizeof(cnonce));
	auth_param(auth, "qop", q, sizeof(q));
	if (strcmp(user, USER) || strcmp(got_nonce, nonce) || (qop != !strcmp(q, "auth")))
		return false;
	s = xasprintf("%s:%s:%s", user, realm, PASS);
	digest_hex(md, s, ha1);
	free(s);
	if (sess) {
		s = xasprintf("%s:%s:%s", ha1, nonce, cnonce);
		digest_hex(md, s, ha1);
		free(s);
	}
	s = xasprintf("%s:%s", method, uri);
	digest_hex(md, s, ha2);
	free(s);
	s = qop ? xasprintf("%s:%s:%s:%s:auth:%s", ha1, nonce, nc, cnonce, ha2)
		: xasprintf("%s:%s:%s", ha1, nonce, ha2);
	digest_hex(md, s, want);
	free(s);
	return !strcmp(want, resp);
}

/*
 * /digest-ALG[-noqop][-close]: a challenge for algorithm ALG (md5, md5sess, sha256, sha256sess),
 * then the answer checked; -close ends the connection after the challenge.
 */
static bool route_digest_checked(struct conn *c)
{
	const char *alg = c->path + 8;
	bool sha256 = !strncmp(alg, "sha256", 6), sess = strstr(alg, "sess") != NULL;
	bool qop = !strstr(alg, "noqop"), close_it = strstr(alg, "close") != NULL;
	const char *name =
		sha256 ? (sess ? "SHA-256-sess" : "SHA-256") : (sess ? "MD5-sess" : "MD5");
	char auth[1024], opaque[16], *hdr, *body;
	bool ok;

	req_header(c, "Authorization", auth, sizeof(auth));
	if (strncmp(auth, "Digest ", 7)) {
		/* A Basic challenge first, then ours (libcurl answers the first Digest one). */
		hdr = xasprintf("WWW-Authenticate: Basic realm=\"x\"\r\n"
				"WWW-Authenticate: Digest realm=\"est\", nonce=\"n-1\", "
				"%salgorithm=%s, opaque=\"op\"\r\n%s",
				qop ? "qop=\"auth,auth-int\", " : "", name,
				close_it ? "Connection: close\r\n" : "");
		ok = respond(c, 401, hdr, "text/html", "denied", 6);
		free(hdr);
		return ok && !close_it;
	}
	if (!digest_valid(auth, c->method, "n-1", sha256, sess, qop) ||
	    strcmp(auth_param(auth, "opaque", opaque, sizeof(opaque)), "op"))
		return respond(c, 401, "WWW-Authenticate: Digest realm=\"est\", nonce=\"n2\"\r\n",
			       "text/plain", "wrong", 5);
	body = xasprintf("digest %s ok %s", name, c->method);
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
	if (!strcmp(c->path, "/chunked-small"))
		return send_text(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n"
				    "6;ext=1\r\nhello \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n");
	if (!strcmp(c->path, "/continue"))
		return send_text(
			c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
			   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: a/b\r\n\r\nok");
	if (!strcmp(c->path, "/http10")) {
		send_text(c, "HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nold!");
		return false;
	}
	if (!strcmp(c->path, "/until-close")) {
		send_text(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end");
		return false;
	}
	if (!strcmp(c->path, "/bighead"))
		return route_bighead(c);
	if (!strncmp(c->path, "/digest-", 8))
		return route_digest_checked(c);
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
 * TLS 1.2 resumption by session ID needs a server-side session cache; files
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
	/* Ask for a client certificate; require one only when told. */
	SSL_CTX_set_verify(
		ctx, SSL_VERIFY_PEER | (sc->require_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
		NULL);
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
int loopback_socket(int family, bool listening, unsigned int *out_port)
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
int start_server(struct server *s, const struct server_conf *sc)
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

void stop_server(struct server *s)
{
	if (s->pid <= 0)
		return;
	kill(-s->pid, SIGTERM);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

/* ---- the client side ---- */

char *pem(const char *name, size_t *out_len)
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

struct http_opts opts(const char *trust, size_t trust_len, const char *host, unsigned int port)
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
int fetch(const struct http_opts *o, const char *path, struct http_response *resp)
{
	struct http *h = NULL;
	int r;

	r = http_new(o, &h);
	if (r == 0)
		r = http_request(h, path, NULL, NULL, NULL, 0, resp);
	http_free(h);
	return r;
}

char *fetch_logged_at(const struct http_opts *o, const char *path, int verbosity, int *out_r)
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

#define REQ                                                                                        \
	"openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "          \
	"-days 2 "
#define LEAF "-CA ca.pem -CAkey ca.key -addext basicConstraints=critical,CA:FALSE "

/* Test CAs and keys are made now, never committed. */
int make_certs(void)
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
		REQ
		"-keyout client2.key -out client2.pem -subj /CN=client-2 -CA ca2.pem -CAkey "
		"ca2.key "
		"-addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=clientAuth",
		"cat client2.key client2.pem > other-client.pem",
		"cat client.key client.pem > key-first.pem",
		"cat client.pem client.key > cert-first.pem",
	};
	char *cmd;
	size_t i;
	int st;

	if (!mkdtemp(dir))
		return -EIO;
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		cmd = xasprintf("cd %s && { %s; } >/dev/null 2>&1", dir, cmds[i]);
		st = system(cmd);
		free(cmd);
		if (st != 0)
			return -EIO;
	}
	return 0;
}

bool test_setup(void)
{
	/* Plain "warning:" prefixes, whoever runs the test, and no proxy from the environment. */
	unsetenv("JOURNAL_STREAM");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (make_certs() == 0)
		return true;
	printf("1..0 # SKIP cannot make test certificates with the openssl CLI\n");
	remove_dir();
	return false;
}

void remove_dir(void)
{
	char *cmd;

	if (dir[strlen(dir) - 1] == 'X')
		return;
	cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
}
