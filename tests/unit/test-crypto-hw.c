/* SPDX-License-Identifier: MIT */
/* Unit tests for crypto_hw.c without hardware: what a stored bundle's key block says, and that
 * software keys bind no provider. The keys inside a TPM or a token: 090-hw-keygen.sh. */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "crypto_hw.h"
#include "log.h"
#include "tap.h"
#include "util.h"

/* A PEM block of label around a few bytes of base64: only the label matters here. */
static char *block(const char *label)
{
	return xasprintf("-----BEGIN %s-----\nAAECAwQF\n-----END %s-----\n", label, label);
}

static void test_pem_storage(void)
{
	static const struct {
		const char *labels[3];
		enum key_storage want;
		const char *what;
	} cases[] = {
		{{"TSS2 PRIVATE KEY", "CERTIFICATE"}, KEY_STORAGE_TPM, "a TPM-wrapped key, a cert"},
		{{"PKCS#11 PROVIDER URI", "CERTIFICATE", "CERTIFICATE"},
		 KEY_STORAGE_PKCS11,
		 "a PKCS#11 reference, a chain"},
		{{"PRIVATE KEY", "CERTIFICATE"}, KEY_STORAGE_SOFTWARE, "a PKCS#8 key"},
		{{"EC PRIVATE KEY"}, KEY_STORAGE_SOFTWARE, "a SEC1 key"},
		{{"CERTIFICATE", "TSS2 PRIVATE KEY"}, KEY_STORAGE_TPM, "the key after a certificate"},
		{{"CERTIFICATE"}, KEY_STORAGE_SOFTWARE, "no key at all"},
		{{"PRIVATE KEY", "TSS2 PRIVATE KEY"}, KEY_STORAGE_SOFTWARE, "the first key decides"},
	};
	static const char damaged[] = "-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n";
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *pem = xstrdup(""), *b, *joined;

		for (j = 0; j < 3 && cases[i].labels[j]; j++) {
			b = block(cases[i].labels[j]);
			joined = xasprintf("%s%s", pem, b);
			free(b);
			free(pem);
			pem = joined;
		}
		ok(crypto_hw_pem_storage(pem, strlen(pem)) == cases[i].want, "pem storage: %s",
		   cases[i].what);
		free(pem);
	}
	ok(crypto_hw_pem_storage("", 0) == KEY_STORAGE_SOFTWARE, "pem storage: empty");
	ok(crypto_hw_pem_storage(damaged, strlen(damaged)) == KEY_STORAGE_SOFTWARE,
	   "pem storage: a damaged block is no reference");
}

static void test_software_binds_nothing(void)
{
	struct config cfg = {.key_storage = KEY_STORAGE_SOFTWARE};
	struct crypto_hw *hw = NULL;

	ok(crypto_hw_new(&cfg, &hw) == -EINVAL && !hw, "software keys: no provider context");
	crypto_hw_free(NULL);
	ok(1, "crypto_hw_free(NULL) is a no-op");
}

int main(void)
{
	log_init(0);
	crypto_start();
	test_pem_storage();
	test_software_binds_nothing();
	return tap_done();
}
