/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for /csrattrs: any bytes as DER CsrAttrs, then what a CSR takes from them. */
#include "autoconf.h"

#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

#include "config.h"
#include "csrattrs.h"
#include "dn.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509_NAME *configured;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *why = NULL;

	(void)argc;
	(void)argv;
	log_init(-1);
	if (dn_parse("CN=gw-0042,OU=Lab,OU=Field,O=Example,C=IT", &configured, &why) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csrattrs *a = NULL;
	X509_NAME *name = NULL;

	if (csrattrs_parse(data, size, &a) < 0)
		return 0;
	csrattrs_check_key(a, KEY_ALG_EC, "prime256v1");
	csrattrs_check_key(a, KEY_ALG_RSA, "2048");
	if (csrattrs_subject(a, configured, &name) == 0)
		X509_NAME_free(name);
	csrattrs_free(a);
	return 0;
}
