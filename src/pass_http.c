/* SPDX-License-Identifier: MIT */
/*
 * The pass's connection to the server: its trust, the TLS client key pair, and the TLS version
 * proof of possession needs (RFC 7030 3.5). Servers check tls-unique (RFC 5929), which TLS 1.3
 * does not have: a server that asks for PoP gets a connection capped at TLS 1.2, found out once
 * (one reconnection) and then recorded in est-state, so later passes start there; tls-exporter
 * (RFC 9266) only when the server offers no TLS 1.2, or when pop_binding says so.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "est.h"
#include "http.h"
#include "keystore.h"
#include "log.h"
#include "pass.h"
#include "util.h"

int pass_load_client_auth(struct pass *p)
{
	const struct config *cfg = p->cfg;
	const struct keystore_conf *kc = config_keystore(cfg, cfg->tls_client_keystore);
	struct keystore *ks = NULL;
	int r;

	/* Reading only, so the pass's own store (it may be the same) is not locked twice. */
	r = keystore_open(kc, KEYSTORE_READ, &ks);
	if (r < 0) {
		log_err("keystore %s: %s", kc->name, strerror(-r));
		goto out;
	}
	r = keystore_get(ks, cfg->tls_client_alias, &p->client_pem, &p->client_len);
	if (r == -ENOKEY)
		log_err("tls_client_auth: no key pair '%s' in keystore %s", cfg->tls_client_alias,
			kc->name);
	else if (r < 0)
		log_err("tls_client_auth: %s: %s", cfg->tls_client_alias, strerror(-r));
out:
	keystore_free(ks);
	return r == -ENOKEY ? -ENOENT : r;
}

/* Why the connection's TLS versions are restricted, for a refused handshake's message. */
static const char *version_why(const struct pass *p, bool tls12_only, bool tls13_only)
{
	if (tls13_only)
		return "pop = true with pop_binding = tls-exporter";
	if (!tls12_only)
		return NULL;
	if (p->cfg->pop && p->cfg->pop_binding == POP_BINDING_TLS_UNIQUE)
		return "pop = true with pop_binding = tls-unique";
	return "proof of possession with tls-unique";
}

static int open_http(struct pass *p, bool tls12_only, bool probe)
{
	const struct config *cfg = p->cfg;
	bool bootstrap = p->http_bootstrap;
	/* server_trust: ca_root vouches for the server after the bootstrap too (the default). */
	bool also_root = !bootstrap && cfg->server_trust == SERVER_TRUST_CACERTS_CA_ROOT;
	/* Before any key is made: a server without TLS 1.3 fails the first request. */
	bool tls13_only = cfg->pop && cfg->pop_binding == POP_BINDING_TLS_EXPORTER;
	struct http_opts o = {
		.host = cfg->host,
		.port = cfg->port,
		.trust_pem = bootstrap ? p->ca_root_pem : p->anchors_pem,
		.trust_len = bootstrap ? p->ca_root_len : p->anchors_len,
		.extra_trust_pem = also_root ? p->ca_root_pem : NULL,
		.extra_trust_len = also_root ? p->ca_root_len : 0,
		.trust_name = bootstrap	  ? "ca_root"
			      : also_root ? "stored CA certificates and ca_root"
					  : "stored CA certificates",
		.proxy = cfg->proxy,
		.client_pem = p->client_pem,
		.client_len = p->client_len,
		.client_key = p->client_key,
		.auth = cfg->http_auth,
		.username = cfg->username,
		.password = cfg->password,
		.timeout = cfg->timeout,
		.deadline = p->deadline,
		.tls12_only = tls12_only,
		.tls13_only = tls13_only,
		.version_why = version_why(p, tls12_only, tls13_only),
		.version_probe = probe,
	};

	int r;

	p->http_tls12 = tls12_only;
	r = pass_client_key(p, &o.client_key);
	return r < 0 ? r : http_new(&o, &p->http);
}

int pass_open_http(struct pass *p, bool bootstrap)
{
	const struct config *cfg = p->cfg;
	bool tls12_only =
		(cfg->pop && cfg->pop_binding == POP_BINDING_TLS_UNIQUE) ||
		(cfg->pop_binding == POP_BINDING_AUTO && p->pop_known == CSR_POP_TLS_UNIQUE);

	p->http_bootstrap = bootstrap;
	return open_http(p, tls12_only, false);
}

void pass_close_http(struct pass *p)
{
	http_free(p->http);
	p->http = NULL;
	free(p->retired_pem);
	p->retired_pem = NULL;
	wipe_free(p->client_pem, p->client_len);
	p->client_pem = NULL;
	p->client_len = 0;
	EVP_PKEY_free(p->client_key);
	p->client_key = NULL;
}

/* A connection open to the server, made with a harmless request when there is none yet. */
static int ensure_connected(struct pass *p)
{
	struct http_response resp = {0};
	char *path;
	int r;

	if (http_tls_version(p->http))
		return 0;
	path = est_path(p->cfg->label, "csrattrs");
	r = http_request(p->http, path, NULL, NULL, NULL, 0, &resp);
	http_response_clear(&resp);
	free(path);
	return r;
}

/* The same server, trust and client key pair over a new connection: TLS 1.2 only or not;
 * probe: a refused version is an answer, not an error. */
static int reconnect(struct pass *p, bool tls12_only, bool probe)
{
	int r;

	http_free(p->http);
	p->http = NULL;
	r = open_http(p, tls12_only, probe);
	return r < 0 ? r : ensure_connected(p);
}

int pass_pop_connection(struct pass *p, bool asked, enum csr_pop *out_pop)
{
	const struct config *cfg = p->cfg;
	bool tls13;
	int r;

	*out_pop = CSR_POP_NONE;
	if (!cfg->pop && !asked) {
		p->pop_known = CSR_POP_NONE; /* no longer asked: later passes need no TLS 1.2 */
		return 0;
	}
	r = ensure_connected(p);
	if (r < 0 || cfg->pop_binding == POP_BINDING_TLS_EXPORTER) {
		*out_pop = CSR_POP_TLS_EXPORTER;
		return r;
	}
	tls13 = http_tls_version(p->http) && !strcmp(http_tls_version(p->http), "TLSv1.3");
	*out_pop = tls13 && p->pop_known == CSR_POP_TLS_EXPORTER &&
				   cfg->pop_binding == POP_BINDING_AUTO
			   ? CSR_POP_TLS_EXPORTER
			   : CSR_POP_TLS_UNIQUE;
	if (!tls13 || *out_pop == CSR_POP_TLS_EXPORTER)
		goto out; /* TLS 1.2 has tls-unique; a server known to have no TLS 1.2, the exporter
			   */
	log_info("proof of possession (%s): tls-unique needs TLS 1.2, reconnecting with TLS 1.2",
		 cfg->pop ? "pop = true" : "the server asks for a challengePassword");
	r = reconnect(p, true, cfg->pop_binding == POP_BINDING_AUTO);
	if (r == -ECONNABORTED && http_version_refused(p->http) &&
	    cfg->pop_binding == POP_BINDING_AUTO) {
		log_info("the server offers no TLS 1.2: proof of possession with tls-exporter "
			 "(RFC 9266) on TLS 1.3 instead");
		*out_pop = CSR_POP_TLS_EXPORTER;
		r = reconnect(p, false, false);
	}
out:
	if (r == 0 && cfg->pop_binding == POP_BINDING_AUTO && p->pop_known != *out_pop) {
		log_info("remembering for %s: proof of possession with %s", cfg->server,
			 *out_pop == CSR_POP_TLS_UNIQUE ? "tls-unique on TLS 1.2"
							: "tls-exporter on TLS 1.3");
		p->pop_known = *out_pop;
	}
	return r;
}

bool pass_pop_guess_refused(struct pass *p, int r)
{
	/* Capped at TLS 1.2 only because est-state said so, and the server has no TLS 1.2 now. */
	if (r != -ECONNABORTED || !p->http || !p->http_tls12 ||
	    p->pop_known != CSR_POP_TLS_UNIQUE || p->cfg->pop_binding != POP_BINDING_AUTO ||
	    !http_version_refused(p->http))
		return false;
	log_info("%s no longer offers TLS 1.2: forgetting that it asked for tls-unique",
		 p->cfg->server);
	p->pop_known = CSR_POP_NONE;
	return true;
}
