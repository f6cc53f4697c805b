/* SPDX-License-Identifier: MIT */
/* The TCP side of http.c: proxy choice (no_proxy), resolving, bounded connects, CONNECT. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: what deadlines are expressed in (0: none). */
int64_t http_net_now_ms(void);
/* Waits until fd is ready for events (POLLIN/POLLOUT) or the deadline. 0, -ETIMEDOUT, -errno. */
int http_net_wait(int fd, short events, int64_t deadline);

/* How to reach the server: directly, or through an HTTP proxy's CONNECT tunnel. */
struct http_route {
	char *proxy_host; /* NULL: directly */
	unsigned int proxy_port;
	char *proxy_auth; /* NULL, or "Basic ..." from the environment's URL: a secret */
};

/*
 * The route to host. proxy NULL: the environment (https_proxy, HTTPS_PROXY, all_proxy,
 * ALL_PROXY; unless no_proxy/NO_PROXY matches host); "": directly; else "http://host[:port]".
 * 0, or -EPROTO for a proxy URL we cannot use (reason in err, never its credentials).
 * Caller clears with http_net_route_clear().
 */
int http_net_route(const char *proxy, const char *host, struct http_route *out, char *err,
		   size_t errlen);
void http_net_route_clear(struct http_route *r);
/* Whether the no_proxy list (commas; names, domain suffixes, IP literals, "*") covers host. */
bool http_net_no_proxy(const char *list, const char *host);

/*
 * A non-blocking TCP connection (TCP_NODELAY) to host:port, trying every address until the
 * deadline. 0 with *out_fd, or -EHOSTUNREACH (cannot resolve), -ECONNREFUSED, -ETIMEDOUT;
 * reason in err. what: "host" or "proxy", for messages.
 */
int http_net_connect(const char *host, unsigned int port, const char *what, int64_t deadline,
		     int *out_fd, char *err, size_t errlen);
/* Asks the proxy on fd for a tunnel to host:port. 0, -ECONNREFUSED (not 2xx), -ECONNRESET,
 * -ETIMEDOUT, -EPROTO; reason in err. */
int http_net_tunnel(int fd, const struct http_route *r, const char *host, unsigned int port,
		    int64_t deadline, char *err, size_t errlen);
