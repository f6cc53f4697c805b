/* SPDX-License-Identifier: MIT */
/* Private to http.c and http_curl.c: the libcurl functions, called through one table. */
#pragma once

/* Plain prototypes: the calls go through the table, not through curl.h's type-checking macros. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#define LIBCURL_SONAME "libcurl.so.4"

#define CURL_FUNCTIONS(X)                                                                          \
	X(curl_global_init)                                                                        \
	X(curl_easy_init)                                                                          \
	X(curl_easy_setopt)                                                                        \
	X(curl_easy_getinfo)                                                                       \
	X(curl_easy_perform)                                                                       \
	X(curl_easy_cleanup)                                                                       \
	X(curl_easy_strerror)                                                                      \
	X(curl_slist_append)                                                                       \
	X(curl_slist_free_all)                                                                     \
	X(curl_version_info)

#define FIELD(name) typeof(name) *name;
struct libcurl {
	CURL_FUNCTIONS(FIELD)
};
#undef FIELD

/* Filled by http_curl_bind(). */
extern struct libcurl http_lib;

/*
 * Binds libcurl and libssl (http_ssl.c) and initialises libcurl, once a process (never unloaded:
 * curl_global_cleanup is left to exit). 0, or -ELIBACC with the reason logged (each call).
 */
int http_curl_bind(void);
