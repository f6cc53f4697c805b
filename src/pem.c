/* SPDX-License-Identifier: MIT */
/*
 * PEM blocks one by one, decoded to DER (RFC 7468, with RFC 1421 headers). Not OpenSSL's
 * PEM_read_bio: the first call of that maps half a MiB of libcrypto and, at the end of the
 * input, raises an error whose queue loads all of OpenSSL's error strings. A pass with nothing
 * to do reads its certificates here and nothing else of OpenSSL.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "pem.h"
#include "util.h"

#define BEGIN "-----BEGIN "
#define END "-----END "
#define DASHES "-----"

void pem_reader_init(struct pem_reader *r, const char *data, size_t len)
{
	r->p = data;
	r->end = data + len;
}

void pem_block_clear(struct pem_block *b)
{
	free(b->name);
	free(b->header);
	wipe_free(b->data, b->len);
	memset(b, 0, sizeof(*b));
}

/* The next line of r, without its end of line (LF or CRLF) and trailing blanks. */
static bool next_line(struct pem_reader *r, const char **line, size_t *len)
{
	const char *nl, *e;

	if (r->p >= r->end)
		return false;
	nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
	e = nl ? nl : r->end;
	*line = r->p;
	r->p = nl ? nl + 1 : r->end;
	while (e > *line && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*len = (size_t)(e - *line);
	return true;
}

/* The label of "-----BEGIN LABEL-----" (prefix BEGIN) or of the END line, or NULL. */
static char *label(const char *line, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix), dl = strlen(DASHES);

	if (len < pl + dl || memcmp(line, prefix, pl) || memcmp(line + len - dl, DASHES, dl))
		return NULL;
	return xstrndup(line + pl, len - pl - dl);
}

/* From after the BEGIN line: headers, base64, the END line of name. */
static int block_body(struct pem_reader *r, struct pem_block *b)
{
	const char *line, *start = NULL, *stop = NULL, *hstart = NULL, *hend = NULL;
	bool first = true, in_header = false;
	char *end_label;
	size_t len;
	int rc;

	while (next_line(r, &line, &len)) {
		if (first && memchr(line, ':', len)) {
			in_header = true;
			hstart = line;
		}
		first = false;
		if (in_header) {
			if (len == 0) {
				in_header = false;
				hend = line;
			}
			continue;
		}
		end_label = label(line, len, END);
		if (end_label) {
			rc = strcmp(end_label, b->name) ? -EBADMSG : 0;
			free(end_label);
			if (rc < 0)
				return rc;
			if (hstart && hend)
				b->header = xstrndup(hstart, (size_t)(hend - hstart));
			if (!start)
				return -EBADMSG;
			return base64_decode(start, (size_t)(stop - start), &b->data, &b->len);
		}
		if (!start)
			start = line;
		stop = line + len;
	}
	return -EBADMSG;
}

int pem_next(struct pem_reader *r, struct pem_block *b)
{
	const char *line;
	size_t len;
	int rc;

	pem_block_clear(b);
	while (next_line(r, &line, &len)) {
		b->name = label(line, len, BEGIN);
		if (!b->name)
			continue;
		rc = block_body(r, b);
		if (rc < 0) {
			pem_block_clear(b);
			return rc;
		}
		b->text = line;
		b->text_len = (size_t)(r->p - line);
		return 1;
	}
	return 0;
}

bool pem_is_canonical(const struct pem_block *b)
{
	char *b64 = base64_encode(b->data, b->len);
	char *want =
		xasprintf(BEGIN "%s" DASHES "\n%s" END "%s" DASHES "\n", b->name, b64, b->name);
	bool same = strlen(want) == b->text_len && !memcmp(want, b->text, b->text_len);

	wipe_str(b64);
	wipe_str(want);
	return same;
}

bool pem_is_certificate(const struct pem_block *b)
{
	return !strcmp(b->name, "CERTIFICATE") || !strcmp(b->name, "X509 CERTIFICATE") ||
	       !strcmp(b->name, "TRUSTED CERTIFICATE");
}

bool pem_is_plain_key(const struct pem_block *b)
{
	size_t n = strlen(b->name);

	return n >= 11 && !strcmp(b->name + n - 11, "PRIVATE KEY") &&
	       strcmp(b->name, "ENCRYPTED PRIVATE KEY") != 0 &&
	       !(b->header && strstr(b->header, "ENCRYPTED"));
}
