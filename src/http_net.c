/* SPDX-License-Identifier: MIT */
/* The TCP side of http.c: which proxy (if any), resolving, bounded connects, the CONNECT tunnel. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "http_net.h"
#include "http_parse.h"
#include "log.h"
#include "util.h"

#define PROXY_DEFAULT_PORT 1080 /* curl's */

int64_t http_net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int http_net_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left;
	int n;

	for (;;) {
		left = deadline ? deadline - http_net_now_ms() : -1;
		if (deadline && left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* "[v6]" or "name" for messages and Host headers. Caller frees. */
static char *bracketed(const char *host)
{
	return xasprintf(strchr(host, ':') ? "[%s]" : "%s", host);
}

static bool host_is_ip(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

bool http_net_no_proxy(const char *list, const char *host)
{
	size_t hl = strlen(host), n;
	const char *p = list, *e;

	while (*p) {
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		e = p;
		p += n;
		if (n == 1 && *e == '*')
			return true;
		if (n >= 2 && e[0] == '[' && e[n - 1] == ']') {
			e++;
			n -= 2; /* [v6] as the URL writes it */
		}
		if (n && *e == '.') {
			e++;
			n--;
		}
		if (!n || n > hl || strncasecmp(host + hl - n, e, n) != 0)
			continue;
		/* The whole name, or a suffix on a label boundary; an IP only as a whole. */
		if (n == hl || (host[hl - n - 1] == '.' && !host_is_ip(host)))
			return true;
	}
	return false;
}

static const char *env_first(const char *const *names, size_t n)
{
	const char *v;
	size_t i;

	for (i = 0; i < n; i++) {
		v = getenv(names[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

/* %XX decoding of a URL's user or password; caller wipe_str()s. */
static char *unpercent(const char *s, size_t n)
{
	static const char xdigits[] = "0123456789abcdefABCDEF";
	char *out = xmalloc(n + 1), *d = out, hex[3] = "";
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && s[i + 1] && strchr(xdigits, s[i + 1]) && s[i + 2] &&
		    strchr(xdigits, s[i + 2])) {
			memcpy(hex, s + i + 1, 2);
			*d++ = (char)strtoul(hex, NULL, 16);
			i += 2;
		} else {
			*d++ = s[i];
		}
	}
	*d = '\0';
	return out;
}

/* "Basic base64(user:password)" from a URL's userinfo; caller wipe_str()s. */
static char *basic_from_userinfo(const char *ui, size_t n)
{
	const char *colon = memchr(ui, ':', n);
	size_t ul = colon ? (size_t)(colon - ui) : n;
	char *user = unpercent(ui, ul),
	     *pass = colon ? unpercent(colon + 1, n - ul - 1) : xstrdup("");
	char *plain = xasprintf("%s:%s", user, pass), *out;
	size_t pl = strlen(plain);
	unsigned char *b64 = xmalloc(4 * ((pl + 2) / 3) + 1);

	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)pl);
	out = xasprintf("Basic %s", b64);
	wipe_str((char *)b64);
	wipe_str(plain);
	wipe_str(user);
	wipe_str(pass);
	return out;
}

/* Splits "[http://][user:pass@]host[:port][/]" into r. 0 or -EPROTO. */
static int parse_proxy_url(const char *url, struct http_route *r, char *err, size_t errlen)
{
	const char *p = url, *at, *hs, *he, *colon;
	unsigned long port = PROXY_DEFAULT_PORT;
	char *end = NULL;
	size_t n;

	if (strstr(p, "://")) {
		if (strncasecmp(p, "http://", 7) != 0) {
			snprintf(err, errlen, "proxy: only http:// proxies are supported");
			return -EPROTO;
		}
		p += 7;
	}
	n = strcspn(p, "/");
	at = memchr(p, '@', n);
	hs = at ? at + 1 : p;
	if (*hs == '[') {
		he = memchr(hs, ']', (size_t)(p + n - hs));
		colon = he && he + 1 < p + n && he[1] == ':' ? he + 1 : NULL;
		if (he)
			hs++;
	} else {
		colon = memchr(hs, ':', (size_t)(p + n - hs));
		he = colon ? colon : p + n;
	}
	if (colon) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (end != p + n || end == colon + 1 || port == 0 || port > 65535)
			he = NULL;
	}
	if (!he || he == hs) {
		snprintf(err, errlen, "proxy: cannot use the proxy URL (want http://host:port)");
		return -EPROTO;
	}
	r->proxy_host = xstrndup(hs, (size_t)(he - hs));
	r->proxy_port = (unsigned int)port;
	if (at)
		r->proxy_auth = basic_from_userinfo(p, (size_t)(at - p));
	return 0;
}

int http_net_route(const char *proxy, const char *host, struct http_route *out, char *err,
		   size_t errlen)
{
	static const char *const proxies[] = {"https_proxy", "HTTPS_PROXY", "all_proxy",
					      "ALL_PROXY"};
	static const char *const no_proxies[] = {"no_proxy", "NO_PROXY"};
	struct http_route r = {0};
	const char *np;
	int rc;

	if (!proxy) {
		proxy = env_first(proxies, ARRAY_SIZE(proxies));
		np = env_first(no_proxies, ARRAY_SIZE(no_proxies));
		if (proxy && np && http_net_no_proxy(np, host))
			proxy = NULL;
	}
	if (!proxy || !*proxy) {
		*out = r;
		return 0;
	}
	rc = parse_proxy_url(proxy, &r, err, errlen);
	if (rc < 0)
		http_net_route_clear(&r);
	else
		*out = r;
	return rc;
}

void http_net_route_clear(struct http_route *r)
{
	if (!r)
		return;
	free(r->proxy_host);
	wipe_str(r->proxy_auth);
	*r = (struct http_route){0};
}

static const char *addr_text(const struct addrinfo *ai, char *buf, size_t len)
{
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)len, NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	return buf;
}

/* One address: 0 with *out_fd, or -errno of the failure. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *out_fd)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
	socklen_t len = sizeof(int);
	int r = 0, soerr = 0;

	if (fd < 0)
		return -errno;
	/* Each request leaves in one write: nothing waits on a delayed ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		r = errno == EINPROGRESS ? http_net_wait(fd, POLLOUT, deadline) : -errno;
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			r = -errno;
		else if (r == 0 && soerr)
			r = -soerr;
	}
	if (r < 0)
		close(fd);
	else
		*out_fd = fd;
	return r;
}

int http_net_connect(const char *host, unsigned int port, const char *what, int64_t deadline,
		     int *out_fd, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL, *ai;
	char service[8], addr[INET6_ADDRSTRLEN + 1], *shown = bracketed(host);
	int r, g, fd = -1;

	snprintf(service, sizeof(service), "%u", port);
	log_trace("resolving %s %s", what, shown);
	/* getaddrinfo() cannot be bounded: the deadline is checked after it. */
	g = getaddrinfo(host, service, &hints, &res);
	if (g != 0) {
		snprintf(err, errlen, "cannot resolve %s %s: %s", what, shown,
			 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		r = -EHOSTUNREACH;
		goto out;
	}
	r = -ECONNREFUSED;
	snprintf(err, errlen, "cannot connect to %s %s port %u", what, shown, port);
	for (ai = res; ai; ai = ai->ai_next) {
		if (deadline && http_net_now_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		log_trace("connecting to %s port %u", addr_text(ai, addr, sizeof(addr)), port);
		r = connect_one(ai, deadline, &fd);
		if (r == 0)
			break;
		snprintf(err, errlen, "cannot connect to %s %s port %u (%s): %s", what, shown, port,
			 addr, r == -ETIMEDOUT ? "timed out" : strerror(-r));
		log_trace("%s", err);
		if (r != -ETIMEDOUT)
			r = -ECONNREFUSED;
	}
	if (r == 0) {
		log_trace("connected to %s (%s) port %u", shown, addr, port);
		err[0] = '\0';
		*out_fd = fd;
	} else if (r == -ETIMEDOUT) {
		snprintf(err, errlen, "connecting to %s %s port %u: timed out", what, shown, port);
	}
out:
	if (res)
		freeaddrinfo(res);
	free(shown);
	return r;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	ssize_t w;
	int r;

	while (n) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			r = http_net_wait(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (w < 0)
			return -ECONNRESET;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The proxy's answer head, a byte at a time: nothing of the TLS stream after it is taken. */
static int read_head(int fd, char *buf, size_t cap, int64_t deadline, size_t *out_len)
{
	size_t len = 0;
	ssize_t n;
	int r;

	while (len < cap) {
		n = recv(fd, buf + len, 1, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			r = http_net_wait(fd, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		if (n <= 0)
			return -ECONNRESET;
		len++;
		if (http_head_len(buf, len) == len) {
			*out_len = len;
			return 0;
		}
	}
	return -EPROTO;
}

int http_net_tunnel(int fd, const struct http_route *rt, const char *host, unsigned int port,
		    int64_t deadline, char *err, size_t errlen)
{
	char *target = bracketed(host), *proxy = bracketed(rt->proxy_host), *req, buf[8192];
	struct http_head head = {0};
	size_t len = 0;
	int r;

	log_trace("via proxy %s port %u: CONNECT %s:%u", proxy, rt->proxy_port, target, port);
	req = xasprintf("CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n%s%s%s\r\n", target, port, target,
			port, rt->proxy_auth ? "Proxy-Authorization: " : "",
			rt->proxy_auth ? rt->proxy_auth : "", rt->proxy_auth ? "\r\n" : "");
	r = send_all(fd, req, strlen(req), deadline);
	if (r == 0)
		r = read_head(fd, buf, sizeof(buf), deadline, &len);
	if (r == 0)
		r = http_head_parse(buf, len, &head);
	if (r == -ETIMEDOUT)
		snprintf(err, errlen, "proxy %s port %u: no answer to CONNECT in time", proxy,
			 rt->proxy_port);
	else if (r == -ECONNRESET)
		snprintf(err, errlen,
			 "proxy %s port %u closed the connection before answering CONNECT", proxy,
			 rt->proxy_port);
	else if (r < 0)
		snprintf(err, errlen, "proxy %s port %u: malformed answer to CONNECT", proxy,
			 rt->proxy_port);
	else if (head.status / 100 != 2) {
		snprintf(err, errlen, "proxy %s port %u refused the tunnel to %s:%u: HTTP %ld",
			 proxy, rt->proxy_port, target, port, head.status);
		r = -ECONNREFUSED;
	} else {
		log_trace("via proxy %s port %u: tunnel open (HTTP %ld)", proxy, rt->proxy_port,
			  head.status);
	}
	http_head_clear(&head);
	wipe_str(req);
	free(proxy);
	free(target);
	return r;
}
