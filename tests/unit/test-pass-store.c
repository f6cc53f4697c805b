/* SPDX-License-Identifier: MIT */
/* Unit tests for pass_store.c: the request key's PEM kept for the bundle is always its own. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/pass_store.c"
#include "../../src/pass_request.c"
#include "tap.h"

/* A store of the request key that fails must not leave its PEM behind: a pending request
 * resumed later in the pass would get a bundle with the wrong key (pass_stage_issued). */
static void test_req_pem_after_failed_store(void)
{
	char dir[] = "/tmp/est-test-pass.XXXXXX", moved[64], *pem = NULL;
	struct keystore_conf kc = {
		.name = (char *)"t", .type = KEYSTORE_TYPE_FILE, .gid = (gid_t)-1};
	struct config cfg;
	struct pass p;
	size_t len = 0;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	memset(&p, 0, sizeof(p));
	cfg.key_algorithm = KEY_ALG_EC;
	cfg.server = (char *)"est.example:443";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(moved, sizeof(moved), "%s.gone", dir);
	kc.path = dir;
	p.cfg = &cfg;
	r = keystore_open(&kc, KEYSTORE_WRITE, &p.ks);
	ok(r == 0, "file keystore opens");
	if (r < 0)
		return;
	ok(pass_request_key(&p, false, false) == 0 && p.req_pem, "a request key is stored");
	/* The store goes away: the next key cannot be stored. */
	EVP_PKEY_free(p.req_key);
	p.req_key = NULL;
	ok(rename(dir, moved) == 0, "store moved away");
	ok(new_request_key(&p, false) < 0, "storing a new request key fails");
	ok(rename(moved, dir) == 0, "store back");
	/* Resumes the first key, the stored one. */
	ok(pass_request_key(&p, false, false) == 0 && p.req_key, "the stored request resumes");
	if (p.req_pem && p.req_key && crypto_key_to_pem(p.req_key, &pem, &len) == 0)
		ok(len == p.req_pem_len && !memcmp(pem, p.req_pem, len),
		   "the kept PEM is the resumed key's");
	else
		ok(p.req_key != NULL, "no PEM kept for the resumed key: it is encoded afresh");
	wipe_free(pem, len);
	EVP_PKEY_free(p.req_key);
	wipe_free(p.req_pem, p.req_pem_len);
	pass_parsed_clear(&p);
	keystore_free(p.ks);
	snprintf(moved, sizeof(moved), "rm -rf '%s'", dir);
	r = system(moved);
	(void)r;
}

int main(void)
{
	crypto_start();
	crypto_load_config();
	test_req_pem_after_failed_store();
	return tap_done();
}
