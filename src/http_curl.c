/* SPDX-License-Identifier: MIT */
/*
 * libcurl, bound at run time on the first http_new (systemd's dlopen-* pattern: one table, one
 * loader, the libraries named in the ELF .note.dlopen below), with the libssl it maps
 * (http_ssl.c), once a process.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"
#include "http_curl.h"
#include "http_ssl.h"
#include "log.h"
#include "util.h"

/* The dlopen()ed libraries, for packaging tools (systemd's ELF .note.dlopen, FDO type
 * 0x407c0c0a): a JSON list of features and their sonames. */
#define DLOPEN_NOTE_JSON                                                                           \
	"[{\"feature\":\"curl\",\"description\":\"HTTPS transport to the EST server\","            \
	"\"priority\":\"required\",\"soname\":[\"" LIBCURL_SONAME "\"]},"                          \
	"{\"feature\":\"ssl\",\"description\":\"TLS state of libcurl's connections\","             \
	"\"priority\":\"required\",\"soname\":[\"" LIBSSL_SONAME "\"]}]"
__attribute__((used, section(".note.dlopen"), aligned(4))) static const struct {
	uint32_t n_namesz, n_descsz, n_type;
	char name[4];
	char desc[(sizeof(DLOPEN_NOTE_JSON) + 3) & ~(size_t)3];
} dlopen_note = {4, sizeof(DLOPEN_NOTE_JSON), 0x407c0c0a, "FDO", DLOPEN_NOTE_JSON};

struct libcurl http_lib;

/* Whether libcurl's TLS is the OpenSSL 3 this process uses: its SSL_CTX is handed to us. */
static bool curl_uses_openssl(const struct libcurl *c)
{
	const curl_version_info_data *v = c->curl_version_info(CURLVERSION_NOW);

	return v && v->ssl_version && !strncmp(v->ssl_version, "OpenSSL/3", 9);
}

int http_curl_bind(void)
{
#define SYM(name) {#name, offsetof(struct libcurl, name)},
	static const struct dl_sym curl_syms[] = {CURL_FUNCTIONS(SYM)};
#undef SYM
	static int state;     /* 0 not tried, 1 loaded, < 0 failed */
	static char why[512]; /* what failed */
	struct libcurl c = {0};

	if (state == 0) {
		state = dl_bind(LIBCURL_SONAME, curl_syms, ARRAY_SIZE(curl_syms), &c, why,
				sizeof(why));
		if (state == 0 && !curl_uses_openssl(&c)) {
			snprintf(why, sizeof(why),
				 LIBCURL_SONAME ": cannot load: built with %s, not OpenSSL 3 "
						"(install libcurl4, not libcurl3-gnutls)",
				 c.curl_version_info(CURLVERSION_NOW)->ssl_version
					 ? c.curl_version_info(CURLVERSION_NOW)->ssl_version
					 : "no TLS");
			state = -ELIBACC;
		}
		if (state == 0)
			state = http_ssl_bind(why, sizeof(why));
		if (state == 0 && c.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(why, sizeof(why),
				 LIBCURL_SONAME ": cannot load: curl_global_init failed");
			state = -ELIBACC;
		}
		if (state == 0) {
			http_lib = c;
			state = 1;
		}
	}
	if (state < 0)
		log_err("%s", why);
	return state < 0 ? state : 0;
}
