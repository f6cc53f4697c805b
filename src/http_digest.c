/* SPDX-License-Identifier: MIT */
/* HTTP Digest authentication: parsing a server's challenges, computing our answer. */
#include "autoconf.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "http_digest.h"
#include "util.h"

struct http_digest {
	char *realm, *nonce, *opaque;
	const char *algorithm; /* canonical name, NULL when the server named none (MD5) */
	const EVP_MD *md;
	bool sess, qop_auth, stale;
	unsigned int nc;
};

/* One challenge while it is parsed. */
struct candidate {
	bool digest;
	char *realm, *nonce, *opaque, *algorithm, *qop, *stale;
};

static void candidate_clear(struct candidate *c)
{
	free(c->realm);
	free(c->nonce);
	free(c->opaque);
	free(c->algorithm);
	free(c->qop);
	free(c->stale);
	*c = (struct candidate){0};
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_blanks(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

/* A token or a quoted-string (escapes undone) at *p; NULL when neither. Caller frees. */
static char *param_value(const char **p)
{
	const char *s = *p;
	char *v, *d;

	if (*s != '"') {
		while (*s && *s != ',' && !is_blank(*s))
			s++;
		v = xstrndup(*p, (size_t)(s - *p));
		*p = s;
		return v;
	}
	v = d = xmalloc(strlen(s) + 1);
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && s[1])
			s++;
		*d++ = *s;
	}
	*d = '\0';
	if (*s != '"') {
		free(v);
		return NULL;
	}
	*p = s + 1;
	return v;
}

static void set_param(struct candidate *c, const char *name, size_t n, char *value)
{
	static const struct {
		const char *name;
		size_t offset;
	} params[] = {
		{"realm", offsetof(struct candidate, realm)},
		{"nonce", offsetof(struct candidate, nonce)},
		{"opaque", offsetof(struct candidate, opaque)},
		{"algorithm", offsetof(struct candidate, algorithm)},
		{"qop", offsetof(struct candidate, qop)},
		{"stale", offsetof(struct candidate, stale)},
	};
	char **slot;
	size_t i;

	for (i = 0; c->digest && i < ARRAY_SIZE(params); i++) {
		if (strlen(params[i].name) != n || strncasecmp(name, params[i].name, n) != 0)
			continue;
		slot = (char **)((char *)c + params[i].offset);
		free(*slot);
		*slot = value;
		return;
	}
	free(value);
}

static bool list_has(const char *list, const char *token)
{
	size_t n = strlen(token), k;
	const char *p = list;

	while (*p) {
		p = skip_blanks(p);
		k = strcspn(p, ", \t");
		if (k == n && strncasecmp(p, token, n) == 0)
			return true;
		p += k;
		p += strspn(p, ", \t");
	}
	return false;
}

/* How much we like c (0: cannot answer it); fills what d needs from it. */
static int rank(const struct candidate *c, struct http_digest *d)
{
	static const struct {
		const char *name;
		bool sess;
		int rank;
	} algs[] = {
		{"MD5", false, 1},
		{"MD5-sess", true, 1},
		{"SHA-256", false, 2},
		{"SHA-256-sess", true, 2},
	};
	size_t i;

	if (!c->digest || !c->realm || !c->nonce || (c->qop && !list_has(c->qop, "auth")))
		return 0;
	for (i = 0; i < ARRAY_SIZE(algs); i++) {
		if (c->algorithm && strcasecmp(c->algorithm, algs[i].name) != 0)
			continue;
		d->algorithm = c->algorithm ? algs[i].name : NULL;
		d->md = algs[i].rank == 2 ? EVP_sha256() : EVP_md5();
		d->sess = algs[i].sess;
		d->qop_auth = c->qop != NULL;
		d->stale = c->stale && !strcasecmp(c->stale, "true");
		return algs[i].rank;
	}
	return 0;
}

/* Ends candidate c: keeps it in *best when it beats what is there. */
static void finish(struct candidate *c, struct http_digest **best, int *best_rank)
{
	struct http_digest d = {0};
	int r = rank(c, &d);

	if (r > *best_rank) {
		if (!*best)
			*best = xzalloc(sizeof(**best));
		free((*best)->realm);
		free((*best)->nonce);
		free((*best)->opaque);
		d.realm = c->realm;
		d.nonce = c->nonce;
		d.opaque = c->opaque;
		c->realm = c->nonce = c->opaque = NULL;
		**best = d;
		*best_rank = r;
	}
	candidate_clear(c);
}

int http_digest_parse(const char *challenges, struct http_digest **out_d)
{
	struct http_digest *best = NULL;
	struct candidate c = {0};
	const char *p = challenges, *name;
	int best_rank = 0, r = -EPROTO;
	size_t n;
	char *v;

	for (;;) {
		while (is_blank(*p) || *p == ',')
			p++;
		if (!*p)
			break;
		for (name = p; is_tchar(*p); p++)
			;
		n = (size_t)(p - name);
		if (!n)
			goto out;
		p = skip_blanks(p);
		if (*p != '=') {
			/* A new scheme: "Digest", "Basic", ... */
			finish(&c, &best, &best_rank);
			c.digest = n == 6 && !strncasecmp(name, "Digest", 6);
			continue;
		}
		p = skip_blanks(p + 1);
		if (*p == '=' || *p == ',' || !*p) {
			/* token68 ("abc=="): another scheme's, skip it */
			p += strcspn(p, ",");
			continue;
		}
		v = param_value(&p);
		if (!v)
			goto out;
		set_param(&c, name, n, v);
	}
	finish(&c, &best, &best_rank);
	r = best ? 0 : -ENOENT;
out:
	candidate_clear(&c);
	if (r < 0)
		http_digest_free(best);
	else
		*out_d = best;
	return r;
}

void http_digest_free(struct http_digest *d)
{
	if (!d)
		return;
	free(d->realm);
	free(d->nonce);
	free(d->opaque);
	free(d);
}

bool http_digest_stale(const struct http_digest *d)
{
	return d->stale;
}

/* Lowercase hex of md(s) into out (2 * EVP_MAX_MD_SIZE + 1 bytes); the input is wiped. */
static bool hash_hex(const EVP_MD *md, char *s, char *out)
{
	unsigned char bin[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	bool ok = EVP_Digest(s, strlen(s), bin, &n, md, NULL) == 1;

	wipe_str(s);
	for (i = 0; ok && i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", bin[i]);
	out[ok ? 2 * n : 0] = '\0';
	wipe(bin, sizeof(bin));
	return ok;
}

/* s as a quoted-string body: '"' and '\' escaped. Caller frees. */
static char *quote(const char *s)
{
	char *q = xmalloc(2 * strlen(s) + 1), *d = q;

	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			*d++ = '\\';
		*d++ = *s;
	}
	*d = '\0';
	return q;
}

char *http_digest_answer(struct http_digest *d, const char *user, const char *password,
			 const char *method, const char *uri)
{
	char ha1[2 * EVP_MAX_MD_SIZE + 1], ha2[sizeof(ha1)], resp[sizeof(ha1)], cnonce[33], nc[9];
	char *qu = quote(user), *qr = quote(d->realm), *qn = quote(d->nonce), *qi = quote(uri);
	char *qo = d->opaque ? quote(d->opaque) : NULL, *out = NULL, *qop, *opaque;
	unsigned char rnd[16];
	bool ok;

	ok = RAND_bytes(rnd, sizeof(rnd)) == 1;
	for (size_t i = 0; ok && i < sizeof(rnd); i++)
		snprintf(cnonce + 2 * i, 3, "%02x", rnd[i]);
	snprintf(nc, sizeof(nc), "%08x", ++d->nc);
	ok = ok && hash_hex(d->md, xasprintf("%s:%s:%s", user, d->realm, password), ha1);
	if (ok && d->sess)
		ok = hash_hex(d->md, xasprintf("%s:%s:%s", ha1, d->nonce, cnonce), ha1);
	ok = ok && hash_hex(d->md, xasprintf("%s:%s", method, uri), ha2);
	if (ok && d->qop_auth)
		ok = hash_hex(d->md,
			      xasprintf("%s:%s:%s:%s:auth:%s", ha1, d->nonce, nc, cnonce, ha2),
			      resp);
	else if (ok)
		ok = hash_hex(d->md, xasprintf("%s:%s:%s", ha1, d->nonce, ha2), resp);
	if (ok) {
		qop = d->qop_auth ? xasprintf(", qop=auth, nc=%s, cnonce=\"%s\"", nc, cnonce)
				  : xstrdup("");
		opaque = qo ? xasprintf(", opaque=\"%s\"", qo) : xstrdup("");
		out = xasprintf("Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
				"response=\"%s\"%s%s%s%s",
				qu, qr, qn, qi, resp, d->algorithm ? ", algorithm=" : "",
				d->algorithm ? d->algorithm : "", qop, opaque);
		free(qop);
		free(opaque);
	}
	wipe(ha1, sizeof(ha1));
	wipe(resp, sizeof(resp));
	wipe_str(qu);
	free(qr);
	free(qn);
	free(qi);
	free(qo);
	return out;
}
