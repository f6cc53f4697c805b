/* SPDX-License-Identifier: MIT */
/* Unit tests for config.c: good files and their typed values, bad files and their FILE:LINE: KEY.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "util.h"
#include "tap.h"

static char dir[] = "/tmp/test-config.XXXXXX";
static char conf_path[64], err_path[64];

/* A self-signed certificate made here, so no key material is committed. */
static int write_ca(const char *path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f = NULL;
	int r = -1;

	if (!key || !x)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"Test CA", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, key, EVP_sha256()))
		goto out;
	f = fopen(path, "w");
	if (f && PEM_write_X509(f, x) && fclose(f) == 0)
		r = 0;
	else if (f)
		fclose(f);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int r = write_file_atomic(path, text, strlen(text), mode, (gid_t)-1);

	if (r < 0) {
		printf("Bail out! cannot write %s: %s\n", path, strerror(-r));
		exit(1);
	}
}

/* Replaces every @DIR@ with the test directory. Caller frees. */
static char *subst(const char *s)
{
	size_t n = strlen(s) + 1, dl = strlen(dir);
	const char *p;
	char *out, *o;

	for (p = s; (p = strstr(p, "@DIR@")); p += 5)
		n += dl;
	o = out = xmalloc(n);
	while ((p = strstr(s, "@DIR@"))) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, dir, dl);
		o += dl;
		s = p + 5;
	}
	strcpy(o, s);
	return out;
}

/*
 * Loads text (with @DIR@ replaced) through a file, with config_load_secrets() too when secrets;
 * what they wrote on stderr in *err. *out_cfg is NULL on error.
 */
static int load_stages(const char *text, bool secrets, struct config **out_cfg, char **err)
{
	char *body = subst(text);
	size_t len;
	int saved, fd, r;

	*out_cfg = NULL;
	write_text(conf_path, body, 0600);
	free(body);
	fflush(stderr);
	saved = dup(2);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 2);
	close(fd);
	r = config_load(conf_path, out_cfg);
	if (r == 0 && secrets)
		r = config_load_secrets(*out_cfg);
	if (r < 0) {
		config_free(*out_cfg);
		*out_cfg = NULL;
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (read_file(err_path, 1 << 20, err, &len) < 0)
		*err = xstrdup("");
	return r;
}

/* Both stages, as run, enroll and check-config do. */
static int load(const char *text, struct config **out_cfg, char **err)
{
	return load_stages(text, true, out_cfg, err);
}

/* config_load() alone, as load, status and export do. */
static int load_only(const char *text, struct config **out_cfg, char **err)
{
	return load_stages(text, false, out_cfg, err);
}

static char *print(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	config_print(cfg, f);
	fclose(f);
	return buf;
}

/* True when every line of want is a whole line of have. */
static bool has_lines(const char *have, const char *want)
{
	char *copy = xstrdup(want), *save = NULL, *line, *needle;
	bool found = true;

	for (line = strtok_r(copy, "\n", &save); line && found;
	     line = strtok_r(NULL, "\n", &save)) {
		needle = xasprintf("\n%s\n", line);
		found = strstr(have, needle) != NULL;
		free(needle);
	}
	free(copy);
	return found;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define REQ "ca_root = @DIR@/ca.pem\nsubject = CN=gw-0042,O=Example,C=IT\n"
/* Four lines: what a case appends starts on line 5. */
#define BASE "[est]\nserver = localhost:8443\n" REQ

static bool export_values(const struct config *c)
{
	const struct export_conf *ex = c->exports;

	return ex && !ex->next && !strcmp(ex->name, "web") && !strcmp(ex->keystore, "default") &&
	       !strcmp(ex->key, "/etc/web/key.pem") && !strcmp(ex->cert, "/etc/web/cert.pem") &&
	       !ex->ca && ex->uid == 0 && ex->gid == 0 && ex->mode == 0640;
}

static bool ipv6_host(const struct config *c)
{
	return !strcmp(c->host, "::1") && c->port == 8443 && !strcmp(c->server, "[::1]:8443");
}

static bool ipv4_host(const struct config *c)
{
	return !strcmp(c->host, "192.0.2.1") && c->port == 443;
}

static bool pct_33(const struct config *c)
{
	return c->expiration_check_pct == 33 && c->expiration_check == 0;
}

static bool half_day(const struct config *c)
{
	return c->expiration_check == 43200 && c->expiration_check_pct == 0;
}

static bool no_label(const struct config *c)
{
	return c->label == NULL;
}

static bool basic_auth(const struct config *c)
{
	return c->http_auth == HTTP_AUTH_BASIC && !strcmp(c->username, "dev") &&
	       !strcmp(c->password, "s3cr3t;still") && !c->password_file;
}

static bool rsa_3072(const struct config *c)
{
	return c->key_algorithm == KEY_ALG_RSA && !strcmp(c->key_params, "3072");
}

static bool group_root(const struct config *c)
{
	const struct keystore_conf *ks = config_keystore(c, "default");

	return ks && ks->gid == 0 && !strcmp(ks->group, "root") && ks->type == KEYSTORE_TYPE_FILE;
}

static bool keystore_x(const struct config *c)
{
	const struct keystore_conf *ks = config_keystore(c, "x");

	return ks && !strcmp(ks->keyring, "est:x") &&
	       !strcmp(ks->path, LOCALSTATEDIR "/lib/est-enroll/x") && ks->fallback && !ks->group &&
	       ks->gid == (gid_t)-1 && ks->type == KEYSTORE_TYPE_KEYRING;
}

static bool indented(const struct config *c)
{
	return !strcmp(c->server, "localhost:8443") && !strcmp(c->subject, "CN=x");
}

static bool strict_trust(const struct config *c)
{
	return c->server_trust == SERVER_TRUST_CACERTS && !c->proxy;
}

static bool no_proxy(const struct config *c)
{
	return c->proxy && !*c->proxy;
}

static bool proxy_creds(const struct config *c)
{
	/* Kept as written: libcurl percent-decodes. */
	return c->proxy && !strcmp(c->proxy, "http://us%65r:p%40ss@p.example:3128");
}

static bool pop_auto(const struct config *c)
{
	return c->pop_binding == POP_BINDING_AUTO;
}

static bool proxy_v6(const struct config *c)
{
	return c->proxy && !strcmp(c->proxy, "http://[::1]:3128/");
}

static bool tpm_default(const struct config *c)
{
	return c->key_storage == KEY_STORAGE_TPM && !c->tpm_tcti && !c->pkcs11_uri &&
	       !c->pkcs11_module && !c->pkcs11_pin_file;
}

static bool pkcs11_token(const struct config *c)
{
	return c->key_storage == KEY_STORAGE_PKCS11 && c->pkcs11_uri &&
	       !strcmp(c->pkcs11_uri, "pkcs11:token=dev%20ice;manufacturer=SoftHSM%20project") &&
	       !strcmp(c->pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so") &&
	       c->pkcs11_pin_file && strstr(c->pkcs11_pin_file, "/pin600") && !c->tpm_tcti;
}

static const struct good_case {
	const char *name;
	const char *text;
	const char *want; /* lines config_print must show */
	bool (*check)(const struct config *cfg);
} good_cases[] = {
	{"an [export] section",
	 BASE "[export web]\nkey = /etc/web/key.pem\ncert = /etc/web/cert.pem\nowner = root\n"
	      "group = root\nmode = 0640\n",
	 "[export web]\nkeystore = default\nkey = /etc/web/key.pem\ncert = /etc/web/cert.pem\n"
	 "ca =\nowner = root\ngroup = root\nmode = 0640",
	 export_values},
	{"[export] defaults", BASE "[export ca]\nca = /etc/ssl/est-ca.pem\n",
	 "[export ca]\nkeystore = default\nkey =\ncert =\nowner =\ngroup =\nmode = 0600", NULL},
	{"IPv6 literal", "[est]\nserver = [::1]:8443\n" REQ, "server = [::1]:8443", ipv6_host},
	{"IPv4 address", "[est]\nserver = 192.0.2.1:443\n" REQ, "server = 192.0.2.1:443",
	 ipv4_host},
	{"label", BASE "label = gateways_2.x~y\n", "label = gateways_2.x~y", NULL},
	{"empty label", BASE "label =\n", "label =", no_label},
	{"expiration_check percent", BASE "expiration_check = 33%\n", "expiration_check = 33%",
	 pct_33},
	{"expiration_check hours", BASE "expiration_check = 12h\n", "expiration_check = 12h",
	 half_day},
	{"durations", BASE "retry_interval = 90\nretry_timeout = 0\ntimeout = 2m\n",
	 "retry_interval = 90s\nretry_timeout = 0\ntimeout = 2m", NULL},
	{"booleans",
	 BASE "enabled = no\nca_rollover = OFF\nrenew = 0\nrenew_rekey = Yes\npop = on\n",
	 "enabled = false\nca_rollover = false\nrenew = false\nrenew_rekey = true\npop = true",
	 NULL},
	{"basic auth, inline comment needs a blank before ;",
	 BASE "http_auth = basic\nusername = dev\npassword = s3cr3t;still ; gone\n",
	 "http_auth = basic\nusername = dev\npassword = ********", basic_auth},
	{"digest, case-insensitive", BASE "http_auth = DIGEST\nusername = dev\npassword = pw\n",
	 "http_auth = digest", NULL},
	{"pop binding", BASE "pop_binding = tls-exporter\n", "pop_binding = tls-exporter", NULL},
	{"strict server trust", BASE "server_trust = CACERTS\n",
	 "server_trust = cacerts\nproxy =", strict_trust},
	{"server trust with ca_root", BASE "server_trust = cacerts+ca_root\n",
	 "server_trust = cacerts+ca_root", NULL},
	{"no proxy", BASE "proxy = None\n", "proxy = none", no_proxy},
	{"a proxy", BASE "proxy = http://proxy.example.net:3128\n",
	 "proxy = http://proxy.example.net:3128", NULL},
	{"a proxy on IPv6", BASE "proxy = http://[::1]:3128/\n", "proxy = http://[::1]:3128/",
	 proxy_v6},
	{"the environment's proxy", BASE "proxy =\n", "proxy =", NULL},
	{"a proxy with credentials, masked", BASE "proxy = http://us%65r:p%40ss@p.example:3128\n",
	 "proxy = http://us%65r:********@p.example:3128\n", proxy_creds},
	{"an https proxy", BASE "proxy = HTTPS://p.example:443/\n",
	 "proxy = HTTPS://p.example:443/", NULL},
	{"a socks5h proxy, user only", BASE "proxy = socks5h://u@[::1]:1080\n",
	 "proxy = socks5h://u@[::1]:1080", NULL},
	{"pop binding chosen by the pass", BASE, "pop_binding =\n", pop_auto},
	{"rsa default params", BASE "key_algorithm = rsa\n",
	 "key_algorithm = RSA\nkey_params = 2048", NULL},
	{"rsa 3072", BASE "key_params = 3072\nkey_algorithm = RSA\n", "key_params = 3072",
	 rsa_3072},
	{"ed25519", BASE "key_algorithm = Ed25519\n",
	 "key_algorithm = ED25519\nkey_params =", NULL},
	{"P-384 and signer", BASE "key_params = secp384r1\ncsr_signer = sha384withecdsa\n",
	 "key_params = secp384r1\ncsr_signer = sha384withecdsa", NULL},
	{"server-side keygen", BASE "key_source = server\n", "key_source = server", NULL},
	{"key in the TPM, default TCTI", BASE "key_storage = TPM\n",
	 "key_storage = tpm\ntpm_tcti =\npkcs11_module =\npkcs11_pin_file =", tpm_default},
	{"key in the TPM through abrmd",
	 BASE "key_storage = tpm\ntpm_tcti = tabrmd:bus_type=session,bus_name=x.y\n",
	 "tpm_tcti = tabrmd:bus_type=session,bus_name=x.y", NULL},
	{"key in a PKCS#11 token",
	 BASE "key_storage = pkcs11:token=dev%20ice;manufacturer=SoftHSM%20project\n"
	      "pkcs11_module = /usr/lib/softhsm/libsofthsm2.so\n"
	      "pkcs11_pin_file = @DIR@/pin600\n",
	 "key_storage = pkcs11:token=dev%20ice;manufacturer=SoftHSM%20project\n"
	 "pkcs11_module = /usr/lib/softhsm/libsofthsm2.so\ntpm_tcti =",
	 pkcs11_token},
	{"a token by serial and slot, x- attribute",
	 BASE "key_storage = pkcs11:serial=3960b6db;slot-id=2;x-vendor=a&b\n",
	 "key_storage = pkcs11:serial=3960b6db;slot-id=2;x-vendor=a&b", NULL},
	{"software keys by name", BASE "key_storage = Software\n", "key_storage = software",
	 NULL},
	{"metrics file", BASE "metrics = /var/lib/prometheus/node-exporter/est-enroll.prom\n",
	 "metrics = /var/lib/prometheus/node-exporter/est-enroll.prom", NULL},
	{"tls client keystore follows keystore",
	 BASE "keystore = it\ntls_client_auth = true\n[keystore it]\n",
	 "keystore = it\ntls_client_keystore = it\ntls_client_auth = true\n[keystore it]", NULL},
	{"tls client keystore of its own",
	 BASE "tls_client_keystore = boot\ntls_client_alias = boot-cert\n[keystore boot]\n",
	 "keystore = default\ntls_client_keystore = boot\ntls_client_alias = boot-cert", NULL},
	{"default keystore written", BASE "[keystore default]\ntype = file\ngroup = root\n",
	 "[keystore default]\ntype = file\ngroup = root", group_root},
	{"numeric group", BASE "[keystore g]\ngroup = 0\n", "group = 0", NULL},
	{"keystore defaults", BASE "[keystore x]\n", "[keystore x]\nkeyring = est:x", keystore_x},
	{"keystore keys",
	 BASE "[Keystore  a.b_c-1 ]\nkeyring = mine\npath = /srv/est\nfallback = no\n",
	 "[keystore a.b_c-1]\ntype = keyring\nkeyring = mine\npath = /srv/est\nfallback = false",
	 NULL},
	{"indented lines are lines, not continuations",
	 "[est]\n  server = localhost:8443\n\tca_root = @DIR@/ca.pem\n    subject = CN=x\n", NULL,
	 indented},
	{"comments, colon form, case of keys and sections",
	 "# comment\n; comment\n[ EST ]\nSERVER: localhost:8443\n" REQ "\n\n", NULL, NULL},
	{"CRLF and BOM",
	 "\xef\xbb\xbf[est]\r\nserver = localhost:8443\r\nca_root = @DIR@/ca.pem\r\n"
	 "subject = CN=x\r\n",
	 "server = localhost:8443\nsubject = CN=x", NULL},
	{"no newline at the end", "[est]\nserver = h:1\n" REQ "label = last", "label = last", NULL},
};

static void test_good(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good_cases); i++) {
		const struct good_case *c = &good_cases[i];
		struct config *cfg = NULL;
		char *err = NULL, *out = NULL;
		int r;

		r = load(c->text, &cfg, &err);
		ok(r == 0 && cfg && !*err, "good: %s", c->name);
		if (r < 0)
			printf("#   %s", err);
		if (cfg && c->want) {
			out = print(cfg);
			ok(has_lines(out, c->want), "good: %s: printed", c->name);
		}
		if (cfg && c->check)
			ok(c->check(cfg), "good: %s: values", c->name);
		free(out);
		free(err);
		config_free(cfg);
	}
}

static void test_defaults(void)
{
	const struct keystore_conf *ks;
	struct config *cfg = NULL;
	char *err = NULL, *out = NULL;

	ok(load(BASE, &cfg, &err) == 0 && cfg, "minimal config loads");
	if (!cfg)
		return;
	ok(cfg->enabled && !strcmp(cfg->keystore, "default") && !cfg->label && cfg->ca_rollover,
	   "defaults: enabled, keystore, label, ca_rollover");
	ok(!strcmp(cfg->host, "localhost") && cfg->port == 8443, "host and port split");
	ok(cfg->expiration_check == 30 * 86400 && cfg->expiration_check_pct == 0,
	   "default expiration_check 30d");
	ok(cfg->retry_interval == 60 && cfg->retry_timeout == 0 && cfg->timeout == 30,
	   "default retry_interval 60s, retry_timeout 0, timeout 30s");
	ok(!cfg->tls_client_auth && !strcmp(cfg->tls_client_keystore, "default") &&
		   !strcmp(cfg->tls_client_alias, "client-auth-certs"),
	   "default tls client settings");
	ok(cfg->http_auth == HTTP_AUTH_NONE && !cfg->username && !cfg->password &&
		   !cfg->password_file,
	   "default http_auth none, no credentials");
	ok(cfg->server_trust == SERVER_TRUST_CACERTS_CA_ROOT && !cfg->proxy,
	   "default server_trust cacerts+ca_root, proxy from the environment");
	ok(!cfg->pop && cfg->pop_binding == POP_BINDING_AUTO && cfg->renew && cfg->renew_rekey,
	   "default pop, pop_binding, renew, renew_rekey");
	ok(cfg->key_algorithm == KEY_ALG_EC && !strcmp(cfg->key_params, "prime256v1") &&
		   cfg->key_source == KEY_SOURCE_LOCAL && !cfg->csr_signer &&
		   cfg->key_storage == KEY_STORAGE_SOFTWARE && !cfg->pkcs11_uri && !cfg->tpm_tcti &&
		   !cfg->pkcs11_module && !cfg->pkcs11_pin_file,
	   "default key settings: software keys");
	ok(cfg->hooks && !strcmp(cfg->hooks, SYSCONFDIR "/est-enroll/hooks.d"),
	   "default hooks directory");
	ok(!cfg->metrics, "no metrics file by default");
	ks = config_keystore(cfg, "default");
	ok(ks && ks == cfg->keystores && !ks->next && ks->type == KEYSTORE_TYPE_KEYRING &&
		   !strcmp(ks->keyring, "est:default") &&
		   !strcmp(ks->path, LOCALSTATEDIR "/lib/est-enroll/default") && ks->fallback &&
		   !ks->group && ks->gid == (gid_t)-1,
	   "the default keystore exists with its defaults");
	ok(!config_keystore(cfg, "nope") && !config_keystore(cfg, NULL),
	   "unknown keystore is NULL");
	out = print(cfg);
	ok(!strncmp(out, "[est]\nenabled = true\n", 21) &&
		   has_lines(out, "expiration_check = 30d\nretry_interval = 1m\ntimeout = 30s\n"
				  "password =\ncsr_signer =\nmetrics =\n[keystore default]\n"
				  "fallback = true"),
	   "config_print shows the defaults");
	free(out);
	free(err);
	config_free(cfg);
}

/* The printed config reads back to the same config. */
static void test_roundtrip(void)
{
	struct config *a = NULL, *b = NULL;
	char *err = NULL, *err2 = NULL, *out = NULL, *out2 = NULL;

	load(BASE "label = l\nexpiration_check = 10%\nkey_algorithm = RSA\nkeystore = k\n"
		  "server_trust = cacerts\nproxy = none\n"
		  "key_storage = pkcs11:token=t\npkcs11_module = /m.so\n"
		  "pkcs11_pin_file = @DIR@/pin600\n"
		  "[keystore k]\ntype = file\ngroup = root\n",
	     &a, &err);
	if (a)
		out = print(a);
	ok(out && load(out, &b, &err2) == 0 && b, "printed config loads again");
	if (b)
		out2 = print(b);
	ok(out && out2 && !strcmp(out, out2), "and prints the same");
	free(out);
	free(out2);
	free(err);
	free(err2);
	config_free(a);
	config_free(b);
}

static const struct bad_case {
	const char *text;
	const char *want; /* after "FILE:" */
	int lines;	  /* error lines expected */
	bool secrets;	  /* config_load() passes, config_load_secrets() fails */
} bad_cases[] = {
	{BASE "colour = blue\n", "5: colour: unknown key", 1},
	{BASE "[weird]\nx = 1\ny = 2\n", "5: [weird]: unknown section", 1},
	{BASE "server = other:1\n", "5: server: duplicate key (first set on line 2)", 1},
	{BASE "[est]\n", "5: [est]: duplicate section (first on line 1)", 1},
	{BASE "renew = maybe\n", "5: renew: not a boolean", 1},
	{BASE "enabled =\n", "5: enabled: not a boolean", 1},
	{BASE "retry_interval = 5 minutes\n", "5: retry_interval: not a duration", 1},
	{BASE "retry_interval = 0\n", "5: retry_interval: must be at least 1s", 1},
	{BASE "timeout = 0s\n", "5: timeout: must be at least 1s", 1},
	{BASE "retry_timeout = 99999999999d\n", "5: retry_timeout: out of range", 1},
	{BASE "retry_timeout = -1\n", "5: retry_timeout: not a duration", 1},
	{BASE "expiration_check = 150%\n", "5: expiration_check: a percentage", 1},
	{BASE "expiration_check = 0%\n", "5: expiration_check: a percentage", 1},
	{BASE "expiration_check = %\n", "5: expiration_check: a percentage", 1},
	{BASE "expiration_check = 33.5%\n", "5: expiration_check: a percentage", 1},
	{BASE "expiration_check = 0\n", "5: expiration_check: must be at least 1s", 1},
	{"[est]\nserver = https://localhost:8443\n" REQ,
	 "2: server: must be host:port without a scheme", 1},
	{"[est]\nserver = localhost\n" REQ, "2: server: missing :port", 1},
	{"[est]\nserver = localhost:0\n" REQ, "2: server: port must be a number from 1 to 65535",
	 1},
	{"[est]\nserver = localhost:65536\n" REQ, "2: server: port must be", 1},
	{"[est]\nserver = localhost:\n" REQ, "2: server: port must be", 1},
	{"[est]\nserver = ::1:8443\n" REQ, "2: server: an IPv6 address goes in brackets", 1},
	{"[est]\nserver = [::1]\n" REQ, "2: server: missing :port", 1},
	{"[est]\nserver = [::1]8443\n" REQ, "2: server: missing :port", 1},
	{"[est]\nserver = [nothost]:1\n" REQ, "2: server: bad IPv6 address", 1},
	{"[est]\nserver = [::1:1\n" REQ, "2: server: bad IPv6 address", 1},
	{"[est]\nserver = :8443\n" REQ, "2: server: bad host name", 1},
	{"[est]\nserver = a b:1\n" REQ, "2: server: bad host name", 1},
	{"[est]\nserver = h:8443/est\n" REQ, "2: server: must be host:port without a path", 1},
	{BASE "server_trust = strict\n", "5: server_trust: must be cacerts+ca_root or cacerts", 1},
	{BASE "server_trust =\n", "5: server_trust: must be cacerts+ca_root or cacerts", 1},
	{BASE "proxy = ftp://p.example:3128\n",
	 "5: proxy: must be empty, none, or an http://, https:// or socks5h:// URL", 1},
	{BASE "proxy = socks5://p.example:1080\n", "5: proxy: must be empty, none, or an http://",
	 1},
	{BASE "proxy = p.example:3128\n", "5: proxy: must be empty, none, or an http://", 1},
	{BASE "proxy = http://p.example\n", "5: proxy: missing :port", 1},
	{BASE "proxy = http://p.example:99999\n", "5: proxy: port must be a number", 1},
	{BASE "proxy = http://:pw@p.example:3128\n", "5: proxy: no user name before the @", 1},
	{BASE "proxy = http://u:pw@p.example\n", "5: proxy: missing :port", 1},
	{BASE "proxy = http://u:pa/ss@p.example:3128\n",
	 "5: proxy: user:password@ holds a character to write as %XX", 1},
	{BASE "proxy = http://u:p%4@p.example:3128\n",
	 "5: proxy: user:password@ holds a character to write as %XX", 1},
	{BASE "proxy = http://u:p@ss@p.example:3128\n", "5: proxy: bad host name", 1},
	{BASE "proxy = http://p.example:3128/x\n",
	 "5: proxy: must be SCHEME://[user:password@]host[:port] without a path", 1},
	{BASE "proxy = http://::1:3128\n", "5: proxy: an IPv6 address goes in brackets", 1},
	{BASE "label = a/b\n", "5: label: must be one path segment", 1},
	{BASE "label = ..\n", "5: label: must be one path segment", 1},
	{BASE "label = a b\n", "5: label: must be one path segment", 1},
	{BASE "key_algorithm = DSA\n", "5: key_algorithm: must be EC, RSA or ED25519", 1},
	{BASE "key_params = curve25519x\n", "5: key_params: ", 1},
	{BASE "key_params = 1024\nkey_algorithm = RSA\n", "5: key_params: ", 1},
	{BASE "key_algorithm = ED25519\nkey_params = 2048\n", "6: key_params: ", 1},
	{BASE "csr_signer = SHA256WITHRSA\n", "5: csr_signer: ", 1},
	{BASE "key_algorithm = RSA\ncsr_signer = MD5WITHFOO\n", "6: csr_signer: ", 1},
	{BASE "http_auth = basic\n", "5: http_auth: basic needs username", 1},
	{BASE "http_auth = digest\nusername = u\n", "5: http_auth: digest needs password", 1, true},
	{BASE "http_auth = basic\npassword = p\n", "5: http_auth: basic needs username", 1},
	{BASE "http_auth = ntlm\n", "5: http_auth: must be none, basic or digest", 1},
	{BASE "keystore = nowhere\n", "5: keystore: no [keystore nowhere] section", 1},
	{BASE "tls_client_keystore = nowhere\n", "5: tls_client_keystore: no [keystore nowhere]",
	 1},
	{BASE "keystore =\n", "5: keystore: must not be empty", 1},
	{BASE "tls_client_alias =\n", "5: tls_client_alias: must not be empty", 1},
	{BASE "tls_client_auth = sometimes\n", "5: tls_client_auth: not a boolean", 1},
	{BASE "pop_binding = tls-server-end-point\n",
	 "5: pop_binding: must be empty, tls-unique or", 1},
	{BASE "key_source = client\n", "5: key_source: must be local or server", 1},
	{BASE "hooks = hooks.d\n", "5: hooks: must be an absolute path", 1},
	{BASE "metrics = est.prom\n", "5: metrics: must be an absolute path", 1},
	{BASE "metrics = /var/lib/prometheus/\n", "5: metrics: must name a file", 1},
	{BASE "[export x]\nkey = /k\nwho = me\n", "7: who: unknown key", 1},
	{BASE "[export x]\nkey = k.pem\n", "6: key: must be an absolute path to a file", 1},
	{BASE "[export x]\ncert = /etc/\n", "6: cert: must be an absolute path to a file", 1},
	{BASE "[export x]\nkey = /k\nmode = 0999\n", "7: mode: must be an octal file mode", 1},
	{BASE "[export x]\nkey = /k\nmode = 04600\n", "7: mode: must be an octal file mode", 1},
	{BASE "[export x]\nkey = /k\nmode = rw\n", "7: mode: must be an octal file mode", 1},
	{BASE "[export x]\nkey = /k\nowner = no-such-user-here\n",
	 "7: owner: unknown user no-such-user-here", 1},
	{BASE "[export x]\nkey = /k\ngroup = no-such-group-here\n",
	 "7: group: unknown group no-such-group-here", 1},
	{BASE "[export x]\nkey = /k\nkeystore = nowhere\n",
	 "7: keystore: no [keystore nowhere] section", 1},
	{BASE "[export x]\nowner = root\n", "5: [export x]: nothing to export: set key, cert, ca or bundle",
	 1},
	{BASE "[export x]\nkey = /k\nkey = /j\n", "7: key: duplicate key (first set on line 6)", 1},
	{BASE "[export x]\nkey = /k\n[export x]\n",
	 "7: [export x]: duplicate section (first on "
	 "line 5)",
	 1},
	{BASE "[export a/b]\n", "5: [export a/b]: the name must be", 1},
	{BASE "[export x]\nkey = /k\ncert = /k\n", "7: cert: /k is also key of [export x]", 1},
	{BASE "[export x]\nkey = /k\n[export y]\nca = /k\n", "8: ca: /k is also key of [export x]",
	 1},
	{"[est]\nserver = h:1\nca_root = @DIR@/none.pem\nsubject = CN=x\n",
	 "3: ca_root: cannot read @DIR@/none.pem: No such file or directory", 1, true},
	{"[est]\nserver = h:1\nca_root = @DIR@/nocert.pem\nsubject = CN=x\n",
	 "3: ca_root: @DIR@/nocert.pem contains no PEM certificate", 1, true},
	{"[est]\nserver = h:1\nca_root = @DIR@\nsubject = CN=x\n",
	 "3: ca_root: cannot read @DIR@:", 1, true},
	{"[est]\nserver = h:1\nca_root =\nsubject = CN=x\n", "3: ca_root: must not be empty", 1},
	{"[est]\nserver = h:1\nsubject = CN=x\n", "1: ca_root: required key missing", 1},
	{"\n[est]\nca_root = @DIR@/ca.pem\nserver = h:1\n", "2: subject: required key missing", 1},
	{"[est]\n" REQ, "1: server: required key missing", 1},
	{"[est]\n", "1: server: required key missing", 3},
	{"", "0: [est]: section missing", 1},
	{"[keystore x]\n", "0: [est]: section missing", 1},
	{"[est]\nserver = h:1\nca_root = @DIR@/ca.pem\nsubject = CN\n", "4: subject: ", 1},
	{"[est]\nserver = h:1\nca_root = @DIR@/ca.pem\nsubject =\n", "4: subject: must not be", 1},
	{BASE "password = a\npassword_file = @DIR@/pw600\n",
	 "6: password_file: password and password_file are mutually exclusive", 1},
	{BASE "password_file = @DIR@/pw600\npassword = a\n",
	 "6: password: password and password_file are mutually exclusive", 1},
	{BASE "password_file = @DIR@/none\n",
	 "5: password_file: cannot read @DIR@/none: No such file or directory", 1, true},
	{BASE "password_file = @DIR@/pwempty\n", "5: password_file: @DIR@/pwempty is empty", 1,
	 true},
	{BASE "http_auth = basic\nusername = u\npassword_file = @DIR@/none\n",
	 "7: password_file: cannot read", 1, true},
	{BASE "key_storage = hsm\n", "5: key_storage: must be software, tpm or a PKCS#11", 1},
	{BASE "key_storage = pkcs11:\n", "5: key_storage: the URI names no token", 1},
	{BASE "key_storage = pkcs11:token=a;object=k\n",
	 "5: key_storage: name the token only: est-enroll names the key objects", 1},
	{BASE "key_storage = pkcs11:token=a?pin-value=1234\n",
	 "5: key_storage: no PIN in the URI: put it in pkcs11_pin_file", 1},
	{BASE "key_storage = pkcs11:token=a?module-path=/x.so\n",
	 "5: key_storage: the module goes in pkcs11_module", 1},
	{BASE "key_storage = pkcs11:token=a b\n", "5: key_storage: blanks, quotes", 1},
	{BASE "key_storage = pkcs11:token=a%2\n", "5: key_storage: a value holds a character", 1},
	{BASE "key_storage = pkcs11:token=a;\n", "5: key_storage: empty attribute", 1},
	{BASE "key_storage = pkcs11:token\n", "5: key_storage: each attribute is NAME=VALUE", 1},
	{BASE "key_storage = pkcs11:colour=red;token=a\n", "5: key_storage: unknown attribute",
	 1},
	{BASE "key_storage = tpm\nkey_source = server\n",
	 "5: key_storage: tpm keeps the key inside the hardware: key_source = server", 1},
	{BASE "key_source = server\nkey_storage = pkcs11:token=a\n",
	 "6: key_storage: a PKCS#11 token keeps the key inside the hardware", 1},
	{BASE "key_storage = tpm\nkey_algorithm = ED25519\n",
	 "5: key_storage: a TPM 2.0 makes EC and RSA keys, not ED25519", 1},
	{BASE "tpm_tcti = device:/dev/tpmrm0\n", "5: tpm_tcti: only with key_storage = tpm", 1},
	{BASE "key_storage = tpm\ntpm_tcti = swtpm:port=$PORT\n", "6: tpm_tcti: must be NAME", 1},
	{BASE "key_storage = tpm\ntpm_tcti = :x\n", "6: tpm_tcti: must be NAME", 1},
	{BASE "key_storage = tpm\npkcs11_module = /m.so\n",
	 "6: pkcs11_module: only with key_storage = pkcs11:...", 1},
	{BASE "pkcs11_pin_file = /pin\n", "5: pkcs11_pin_file: only with key_storage", 1},
	{BASE "key_storage = pkcs11:token=a\npkcs11_module = m.so\n",
	 "6: pkcs11_module: must be an absolute path", 1},
	{BASE "key_storage = pkcs11:token=a\npkcs11_pin_file = @DIR@/none\n",
	 "6: pkcs11_pin_file: cannot read @DIR@/none: No such file or directory", 1, true},
	{BASE "key_storage = pkcs11:token=a\npkcs11_pin_file = @DIR@/pwempty\n",
	 "6: pkcs11_pin_file: @DIR@/pwempty is empty", 1, true},
	{BASE "key_storage = pkcs11:token=a\npkcs11_pin_file = @DIR@/pin2lines\n",
	 "6: pkcs11_pin_file: @DIR@/pin2lines: the PIN must be one line", 1, true},
	{BASE "[keystore bad/name]\n", "5: [keystore bad/name]: the name must be", 1},
	{BASE "[keystore ..]\n", "5: [keystore ..]: the name must be", 1},
	{BASE "[keystore]\n", "5: [keystore ]: the name must be", 1},
	{BASE "[keystore a b]\n", "5: [keystore a b]: the name must be", 1},
	{BASE "[keystore x]\n[keystore x]\n", "6: [keystore x]: duplicate section", 1},
	{BASE "[keystore default]\n[keystore default]\n", "6: [keystore default]: duplicate", 1},
	{BASE "[keystore x]\ntype = tape\n", "6: type: must be keyring or file", 1},
	{BASE "[keystore x]\npath = relative/dir\n", "6: path: must be an absolute path", 1},
	{BASE "[keystore x]\nkeyring =\n", "6: keyring: must not be empty", 1},
	{BASE "[keystore x]\nfallback = sometimes\n", "6: fallback: not a boolean", 1},
	{BASE "[keystore x]\ngroup = no-such-group-zz\n", "6: group: unknown group no-such", 1},
	{BASE "[keystore x]\ncolour = red\n", "6: colour: unknown key", 1},
	{BASE "[keystore x]\nserver = h:1\n", "6: server: unknown key", 1},
	{BASE "[keystore x]\npath = /a\npath = /b\n",
	 "7: path: duplicate key (first set on line 6)", 1},
	{BASE "just some words\n", "5: syntax error", 1},
	{BASE "[est\n", "5: syntax error", 1},
	{BASE "= value\n", "5: syntax error", 1},
	{BASE "name ; = value\n", "5: syntax error", 1},
	{"colour = 1\n" BASE, "1: colour: outside of any section", 1},
	{BASE "subject_extra = CN=x,\n  O=Example\n", "5: subject_extra: unknown key", 2},
	{"[est]\nserver = h:1\n\tsubject = CN=x,\n  O=Example\nca_root = @DIR@/ca.pem\n",
	 "4: O: unknown key", 2},
	{BASE "label = "
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	 "5: line too long", 1},
	{BASE "[keystore "
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n"
	      "server = h:2\n",
	 "5: line too long", 1},
};

static void test_bad(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct config *cfg = NULL;
		char *err = NULL, *want, *tail;
		int r;

		tail = subst(c->want);
		want = xasprintf("%s:%s", conf_path, tail);
		r = load(c->text, &cfg, &err);
		ok(r == -EINVAL && !cfg && strstr(err, want) && count_lines(err) == c->lines,
		   "bad: %s", tail);
		if (!strstr(err, want) || count_lines(err) != c->lines)
			printf("#   got: %s", err);
		if (c->secrets) {
			free(err);
			r = load_only(c->text, &cfg, &err);
			ok(r == 0 && cfg && !*err, "bad: %s: config_load alone passes", tail);
			config_free(cfg);
			cfg = NULL;
		}
		free(tail);
		free(want);
		free(err);
		config_free(cfg);
	}
}

static void test_errors_collected(void)
{
	struct config *cfg = NULL;
	char *err = NULL, *want;

	load("[est]\nserver = https://h:1\nrenew = maybe\nsubject = CN=x\n[nope]\n"
	     "[keystore x]\ntype = tape\nwords\n",
	     &cfg, &err);
	ok(count_lines(err) == 6, "all errors are reported, not just the first");
	want = xasprintf("%s:2: server: must be host:port without a scheme\n"
			 "%s:3: renew: not a boolean: true/false, yes/no, on/off, 1/0\n"
			 "%s:5: [nope]: unknown section\n"
			 "%s:7: type: must be keyring or file\n"
			 "%s:8: syntax error (expected KEY = VALUE)\n"
			 "%s:1: ca_root: required key missing\n",
			 conf_path, conf_path, conf_path, conf_path, conf_path, conf_path);
	ok(!strcmp(err, want), "one line each, in order, FILE:LINE: KEY: reason");
	if (strcmp(err, want))
		printf("#   got:\n%s", err);
	free(want);
	free(err);
}

static void test_nul_byte(void)
{
	static const char text[] = "[est]\nserver = h:1\nlabel = a\0b\n";
	struct config *cfg = NULL;
	char *err = NULL, *want;
	size_t len = 0;
	int fd, saved, r;

	fd = open(conf_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ok(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1,
	   "wrote a config with a NUL byte");
	close(fd);
	fflush(stderr);
	saved = dup(2);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 2);
	close(fd);
	r = config_load(conf_path, &cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	read_file(err_path, 1 << 20, &err, &len);
	want = xasprintf("%s:3: NUL byte", conf_path);
	ok(r == -EINVAL && err && strstr(err, want), "a NUL byte is an error on its line");
	free(want);
	free(err);
}

static void test_unreadable(void)
{
	struct config *cfg = NULL;
	char *err = NULL, *want, *path = xasprintf("%s/missing.conf", dir);
	size_t len;
	int saved, fd, r;

	fflush(stderr);
	saved = dup(2);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 2);
	close(fd);
	r = config_load(path, &cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	read_file(err_path, 1 << 20, &err, &len);
	want = xasprintf("%s: cannot read: No such file or directory\n", path);
	ok(r == -ENOENT && !cfg && err && !strcmp(err, want), "missing file: -ENOENT, one line");
	free(want);
	free(err);
	free(path);
}

static void test_password_file(void)
{
	struct config *cfg = NULL;
	char *err = NULL, *out = NULL, *path;

	load(BASE "http_auth = basic\nusername = u\npassword_file = @DIR@/pw600\n", &cfg, &err);
	ok(cfg && !strcmp(cfg->password, "secret\n") && !*err,
	   "password_file: one trailing newline dropped, 0600 draws no warning");
	if (cfg)
		out = print(cfg);
	ok(out && !strstr(out, "secret") && has_lines(out, "password = ********"),
	   "the password is masked when printed");
	free(out);
	free(err);
	config_free(cfg);

	cfg = NULL;
	load(BASE "http_auth = basic\nusername = u\npassword_file = @DIR@/pw644\n", &cfg, &err);
	path = xasprintf("%s/pw644: password file is readable by group or others", dir);
	ok(cfg && !strcmp(cfg->password, "crlf") && strstr(err, path),
	   "password_file 0644: loads (CRLF dropped) with a warning");
	free(path);
	free(err);
	config_free(cfg);
}

static void test_credentials(void)
{
	struct config *cfg = NULL;
	char *err = NULL, *cred = xasprintf("%s/creds", dir), *path;

	mkdir(cred, 0700);
	path = xasprintf("%s/est-password", cred);
	write_text(path, "from-cred\n", 0400);
	setenv("CREDENTIALS_DIRECTORY", cred, 1);

	load(BASE "http_auth = basic\nusername = u\n", &cfg, &err);
	ok(cfg && !strcmp(cfg->password, "from-cred") && !strcmp(cfg->password_file, path),
	   "credential est-password is the password when none is configured");
	free(err);
	config_free(cfg);

	load(BASE "http_auth = basic\nusername = u\npassword = explicit\n", &cfg, &err);
	ok(cfg && !strcmp(cfg->password, "explicit") && !cfg->password_file,
	   "an explicit password beats the credential");
	free(err);
	config_free(cfg);

	load(BASE "http_auth = basic\nusername = u\npassword_file = @DIR@/pw600\n", &cfg, &err);
	ok(cfg && !strcmp(cfg->password, "secret\n"), "password_file beats the credential");
	free(err);
	config_free(cfg);

	load(BASE, &cfg, &err);
	ok(cfg && !cfg->password, "no credential is read without http_auth");
	free(err);
	config_free(cfg);

	unlink(path);
	load(BASE "http_auth = basic\nusername = u\n", &cfg, &err);
	ok(!cfg && strstr(err, "5: http_auth: basic needs password"),
	   "no credential file: the password is missing");
	free(err);

	unsetenv("CREDENTIALS_DIRECTORY");
	rmdir(cred);
	free(path);
	free(cred);
}

/* Run config_load_secrets() on cfg; what it wrote on stderr in *err. */
static int secrets(struct config *cfg, char **err)
{
	size_t len;
	int saved, fd, r;

	fflush(stderr);
	saved = dup(2);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(fd, 2);
	close(fd);
	r = config_load_secrets(cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (read_file(err_path, 1 << 20, err, &len) < 0)
		*err = xstrdup("");
	return r;
}

/* load, status and export run before the password and ca_root exist: config_load reads neither. */
static void test_secrets_stage(void)
{
	struct config *cfg = NULL;
	char *err = NULL, *want;
	char fp[65] = "";
	int r;

	r = load_only(BASE "http_auth = basic\nusername = u\npassword_file = @DIR@/none\n", &cfg,
		      &err);
	ok(r == 0 && cfg && !*err && !cfg->password,
	   "missing password file: config_load passes and reads nothing");
	free(err);
	err = NULL;
	if (cfg) {
		want = xasprintf(
			"%s:7: password_file: cannot read %s/none: No such file or directory\n",
			conf_path, dir);
		r = secrets(cfg, &err);
		ok(r == -EINVAL && !strcmp(err, want),
		   "missing password file: config_load_secrets -EINVAL, FILE:LINE: KEY");
		if (strcmp(err, want))
			printf("#   got: %s", err);
		free(want);
		free(err);
		err = NULL;
	}
	config_free(cfg);

	r = load_only(BASE "http_auth = digest\nusername = u\n", &cfg, &err);
	ok(r == 0 && cfg && !*err, "digest without a password: config_load passes");
	free(err);
	err = NULL;
	if (cfg) {
		r = secrets(cfg, &err);
		ok(r == -EINVAL && strstr(err, ":5: http_auth: digest needs password"),
		   "digest without a password: config_load_secrets reports it on its line");
		free(err);
		err = NULL;
	}
	config_free(cfg);

	r = load_only("[est]\nserver = h:1\nca_root = @DIR@/none.pem\nsubject = CN=x\n", &cfg,
		      &err);
	ok(r == 0 && cfg && !*err, "missing ca_root: config_load passes");
	free(err);
	err = NULL;
	if (cfg) {
		r = secrets(cfg, &err);
		ok(r == -EINVAL && count_lines(err) == 1 && strstr(err, ":3: ca_root: cannot read"),
		   "missing ca_root: config_load_secrets reports it on its line");
		free(err);
		err = NULL;
	}
	config_free(cfg);

	r = load_only(BASE "http_auth = basic\nusername = u\npassword_file = @DIR@/pw600\n", &cfg,
		      &err);
	free(err);
	err = NULL;
	ok(r == 0 && cfg && secrets(cfg, &err) == 0 && !*err && !strcmp(cfg->password, "secret\n"),
	   "config_load_secrets reads the password file");
	free(err);
	err = NULL;
	ok(cfg && cfg->ca_root_pem && cfg->ca_root_len == strlen(cfg->ca_root_pem) &&
		   certinfo_pem_sha256(cfg->ca_root_pem, cfg->ca_root_len, fp) == 0 &&
		   !strcmp(fp, cfg->ca_root_der_fp),
	   "config_load_secrets keeps ca_root and the SHA-256 of its DER for the pass");
	ok(cfg && secrets(cfg, &err) == 0 && !*err && !strcmp(cfg->password, "secret\n"),
	   "a second config_load_secrets does nothing");
	free(err);
	config_free(cfg);
}

/* Loads text as the file NAME in the test directory (instead of est-enroll.conf). */
static int load_as(const char *name, const char *text, struct config **out_cfg, char **err)
{
	char saved[sizeof(conf_path)];
	int r;

	memcpy(saved, conf_path, sizeof(saved));
	snprintf(conf_path, sizeof(conf_path), "%s/%s", dir, name);
	r = load(text, out_cfg, err);
	memcpy(conf_path, saved, sizeof(saved));
	return r;
}

/* A file that names no keystore stores into the keystore named after it. */
static void test_profiles(void)
{
	const struct keystore_conf *ks;
	struct config *cfg = NULL;
	char *err = NULL, *want;

	ok(load_as("gw.conf", BASE, &cfg, &err) == 0 && cfg, "gw.conf loads");
	ks = cfg ? config_keystore(cfg, "gw") : NULL;
	ok(cfg && !strcmp(cfg->keystore, "gw") && !strcmp(cfg->tls_client_keystore, "gw"),
	   "gw.conf without keystore = stores into keystore gw");
	ok(ks && !strcmp(ks->keyring, "est:gw") &&
		   !strcmp(ks->path, LOCALSTATEDIR "/lib/est-enroll/gw") &&
		   ks->type == KEYSTORE_TYPE_KEYRING,
	   "keystore gw exists with its defaults (est:gw, .../gw)");
	config_free(cfg);
	free(err);

	ok(load_as("gw.conf", BASE "[keystore gw]\ntype = file\n", &cfg, &err) == 0 && cfg &&
		   config_keystore(cfg, cfg->keystore)->type == KEYSTORE_TYPE_FILE,
	   "gw.conf uses its [keystore gw] section");
	config_free(cfg);
	free(err);

	ok(load_as("lab", BASE, &cfg, &err) == 0 && cfg && !strcmp(cfg->keystore, "lab"),
	   "a file without .conf: keystore lab");
	config_free(cfg);
	free(err);

	ok(load_as("gw.conf", BASE "keystore = default\n", &cfg, &err) == 0 && cfg &&
		   !strcmp(cfg->keystore, "default") && !config_keystore(cfg, "gw"),
	   "an explicit keystore = wins over the file name");
	config_free(cfg);
	free(err);

	ok(load(BASE, &cfg, &err) == 0 && cfg && !strcmp(cfg->keystore, "default"),
	   "est-enroll.conf is the default keystore");
	config_free(cfg);
	free(err);

	ok(load_as("gw.conf", BASE "[keystore default]\ngroup = root\n", &cfg, &err) == -EINVAL,
	   "gw.conf with an unused [keystore default] is an error");
	want = xasprintf("%s/gw.conf:5: [keystore default]: this profile stores into keystore gw",
			 dir);
	ok(strstr(err, want) != NULL, "and says where and why");
	if (!strstr(err, want))
		printf("#   got: %s", err);
	free(want);
	config_free(cfg);
	free(err);

	ok(load_as("gw.conf", BASE "tls_client_keystore = default\n[keystore default]\n", &cfg,
		   &err) == 0,
	   "a [keystore default] used for the client pair is fine");
	config_free(cfg);
	free(err);

	ok(load_as("a b.conf", BASE, &cfg, &err) == -EINVAL, "a b.conf: no keystore name");
	want = xasprintf("%s/a b.conf:1: keystore: the file name gives no keystore name", dir);
	ok(strstr(err, want) != NULL, "and says so on the [est] line");
	free(want);
	config_free(cfg);
	free(err);
}

/* The PIN: read to check it, never kept, never printed; the credential when no file is named. */
static void test_pkcs11_pin(void)
{
	struct config *cfg = NULL;
	char *err = NULL, *out = NULL, *cred = xasprintf("%s/creds", dir), *path, *want;

	load(BASE "key_storage = pkcs11:token=a\npkcs11_pin_file = @DIR@/pin600\n", &cfg, &err);
	if (cfg)
		out = print(cfg);
	ok(cfg && out && !*err && !strstr(out, "4321") && strstr(out, "/pin600\n"),
	   "check-config names the PIN file, never the PIN");
	free(out);
	free(err);
	config_free(cfg);

	load(BASE "key_storage = pkcs11:token=a\npkcs11_pin_file = @DIR@/pw644\n", &cfg, &err);
	ok(cfg && strstr(err, "pw644: PIN file is readable by group or others"),
	   "a PIN file readable by others draws a warning");
	free(err);
	config_free(cfg);

	load(BASE "key_storage = pkcs11:token=a\n", &cfg, &err);
	ok(cfg && !cfg->pkcs11_pin_file && !*err, "no PIN file, no credential: no PIN (no login)");
	free(err);
	config_free(cfg);

	mkdir(cred, 0700);
	path = xasprintf("%s/est-pkcs11-pin", cred);
	write_text(path, "4321\n", 0400);
	setenv("CREDENTIALS_DIRECTORY", cred, 1);
	load(BASE "key_storage = pkcs11:token=a\n", &cfg, &err);
	ok(cfg && cfg->pkcs11_pin_file && !strcmp(cfg->pkcs11_pin_file, path) && !*err,
	   "the est-pkcs11-pin credential is the PIN file when none is named");
	free(err);
	config_free(cfg);
	load(BASE "key_storage = tpm\n", &cfg, &err);
	ok(cfg && !cfg->pkcs11_pin_file, "the credential is not looked at for a TPM");
	free(err);
	config_free(cfg);

	write_text(path, "\n", 0400);
	load(BASE "key_storage = pkcs11:token=a\n", &cfg, &err);
	want = xasprintf("5: pkcs11_pin_file: %s is empty", path);
	ok(!cfg && strstr(err, want), "an empty credential is an error on the key_storage line");
	free(want);
	free(err);
	unlink(path);
	unsetenv("CREDENTIALS_DIRECTORY");
	rmdir(cred);
	free(path);
	free(cred);
}

static void test_misc(void)
{
	ok(!strcmp(config_key_storage_name(KEY_STORAGE_SOFTWARE), "software") &&
		   !strcmp(config_key_storage_name(KEY_STORAGE_TPM), "tpm") &&
		   !strcmp(config_key_storage_name(KEY_STORAGE_PKCS11), "pkcs11"),
	   "config_key_storage_name");
	ok(!strcmp(config_key_alg_name(KEY_ALG_EC), "EC") &&
		   !strcmp(config_key_alg_name(KEY_ALG_RSA), "RSA") &&
		   !strcmp(config_key_alg_name(KEY_ALG_ED25519), "ED25519"),
	   "config_key_alg_name");
	config_free(NULL);
	ok(1, "config_free(NULL) is a no-op");
}

static void cleanup(void)
{
	static const char *const files[] = {
		"est-enroll.conf", "gw.conf",	 "lab",	  "a b.conf", "err",
		"ca.pem",	   "nocert.pem", "pw600", "pw644",    "pwempty",
		"pin600",	   "pin2lines"};
	size_t i;
	char *p;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		p = xasprintf("%s/%s", dir, files[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

int main(void)
{
	char *p;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	atexit(cleanup);
	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("JOURNAL_STREAM");
	log_init(0);
	snprintf(conf_path, sizeof(conf_path), "%s/est-enroll.conf", dir);
	snprintf(err_path, sizeof(err_path), "%s/err", dir);
	p = xasprintf("%s/ca.pem", dir);
	if (write_ca(p) < 0) {
		printf("Bail out! cannot make a test CA\n");
		return 1;
	}
	free(p);
	p = subst("@DIR@/nocert.pem");
	write_text(p, "not a certificate\n", 0644);
	free(p);
	p = subst("@DIR@/pw600");
	write_text(p, "secret\n\n", 0600);
	free(p);
	p = subst("@DIR@/pw644");
	write_text(p, "crlf\r\n", 0644);
	free(p);
	p = subst("@DIR@/pin600");
	write_text(p, "4321\n", 0600);
	free(p);
	p = subst("@DIR@/pin2lines");
	write_text(p, "12\n34\n", 0600);
	free(p);
	p = subst("@DIR@/pwempty");
	write_text(p, "\n", 0600);
	free(p);

	test_good();
	test_defaults();
	test_roundtrip();
	test_bad();
	test_errors_collected();
	test_nul_byte();
	test_unreadable();
	test_password_file();
	test_credentials();
	test_pkcs11_pin();
	test_secrets_stage();
	test_profiles();
	test_misc();
	return tap_done();
}
