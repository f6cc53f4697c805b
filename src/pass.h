/* SPDX-License-Identifier: MIT */
/* Inside a pass: its state, and what it reads from and stages into the store (pass_store.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "config.h"
#include "csr.h"
#include "enroll.h"
#include "http.h"
#include "keystore.h"

struct pass_parsed; /* pass_store.c: what was parsed, by the bytes it came from */
struct crypto_hw;   /* crypto_hw.h */

struct pass {
	const struct config *cfg;
	struct keystore *ks;
	struct keystore_txn *txn; /* this attempt's changes, committed together at its end */
	struct http *http;
	bool http_bootstrap;	/* http trusts ca_root alone (a bootstrap) */
	bool http_tls12;	/* http is capped at TLS 1.2 */
	enum csr_pop pop_known; /* PoP of this server as est-state records it (pop=): start there */
	bool pop_read;		/* pop_known was read (an idle pass never needs it) */
	bool pop_forget;	/* the last attempt found pop=tls-unique wrong: no TLS 1.2 now */
	STACK_OF(X509) *anchors; /* trust anchors: stored, or staged by this attempt */
	char *anchors_pem;
	size_t anchors_len;
	bool anchors_staged;  /* anchors come from this attempt's /cacerts, not from the store */
	bool anchors_changed; /* and differ from those stored (reported as ENROLL_EVENT_CACERTS) */
	char anchors_fp[65];  /* SHA-256 of the staged est-cacerts_N items, when anchors_staged */
	unsigned int anchors_gen; /* changes whenever anchors do */
	char *retired_pem;	  /* previous anchors_pem, alive while http uses it */
	char *client_pem;	  /* secret: TLS client key pair for this attempt */
	size_t client_len;
	EVP_PKEY *client_key;	 /* its key when inside the hardware (pass_client_key) */
	struct crypto_hw *hw;	 /* the TPM or token of key_storage, bound when first needed */
	bool hw_mismatch_logged; /* "a stored key lives in ..." said once */
	bool swept;		 /* the token holds no object the store let go of (pass_sweep) */
	bool key_moves;		 /* the stored pair's key is not where key_storage says */
	int hw_key_error;	 /* the hardware refused the stored pair's key: -errno */
	char *ca_root_pem;
	size_t ca_root_len;
	char ca_root_fp[65];	  /* SHA-256 of the DER of ca_root's certificates */
	char ca_root_file_fp[65]; /* SHA-256 of the file, as versions before 0.2 recorded it */
	EVP_PKEY *req_key;	  /* key of this pass's request, kept across attempts */
	char *req_pem;		  /* secret: req_key as stored, once it was (PKCS#8 PEM) */
	size_t req_pem_len;
	X509 *issued; /* the certificate staged by this attempt, NULL before */
	STACK_OF(X509) *issued_chain;
	const char *issued_what; /* "enrolled", "renewed", ... for the log once committed */
	bool issued_renewal;	 /* the staged pair came from /simplereenroll */
	unsigned int issued_gen; /* anchors_gen when issued was verified against the anchors */
	char pair_fp[65];	 /* SHA-256 of the bundle staged with issued, "" before */
	bool state_staged;	 /* this attempt staged a new bootstrap record */
	uint64_t retry_after;	 /* the server's Retry-After of the last answer */
	bool accepted;		 /* the last enrollment answer was a 202: the server holds it */
	bool cert_refused;	 /* the last attempt's TLS client certificate was refused */
	bool req_renew;		 /* req_key was made for a renewal */
	bool change_logged;	 /* "server changed" said once per pass */
	bool once;
	bool idle;	 /* pass_idle() found nothing due: nothing more was read */
	time_t deadline; /* 0 = no retry budget */
	struct pass_parsed *parsed;
};

/* pass_http.c: the TLS client key pair of tls_client_auth into p->client_pem. 0, -ENOENT
 * (none stored) or -errno, logged. */
int pass_load_client_auth(struct pass *p);
/* Opens p->http to the server, trusting ca_root (bootstrap) or the anchors (and ca_root), with
 * the TLS versions PoP needs as far as known. 0 or -errno. */
int pass_open_http(struct pass *p, bool bootstrap);
/* Frees p->http and the client key pair. */
void pass_close_http(struct pass *p);
/*
 * The binding the CSR carries (*out_pop) when pop is set or the server asked (asked: its
 * /csrattrs lists challengePassword), and a connection that has it: on TLS 1.3, reconnects once
 * with TLS 1.2 for tls-unique, or keeps TLS 1.3 for tls-exporter when the server has no TLS 1.2;
 * what was found goes into p->pop_known, for est-state. 0 or -errno.
 */
int pass_pop_connection(struct pass *p, bool asked, enum csr_pop *out_pop);
/* True (and p->pop_known cleared) when r is a handshake refused for want of TLS 1.2 on a
 * connection capped only because est-state said the server asks for PoP. */
bool pass_pop_guess_refused(struct pass *p, int r);
/* What the stored est-state says of its server's PoP (pop=tls-unique, pop=tls-exporter), when
 * the record is for the configured server. */
enum csr_pop pass_record_pop(struct pass *p);

/*
 * pass_hw.c: keys inside the hardware key_storage names. The bound provider in *out_hw (owned by
 * the pass); 0 or -errno (logged).
 */
int pass_hw(struct pass *p, struct crypto_hw **out_hw);
/* True when a stored key (its PEM) is not where key_storage says keys live: the next renewal
 * moves it (a new key made there). */
bool pass_key_moves(const struct pass *p, const char *pem, size_t len);
/* A stored key: a PEM key, or a reference into the hardware of key_storage. 0, -ENOKEY (a key
 * of other hardware, or one the hardware does not know), -errno; logged. */
int pass_key_from_pem(struct pass *p, const char *pem, size_t len, EVP_PKEY **out_key);
/* A new key pair where key_storage says, and the PEM the store keeps for it (a PEM key or the
 * hardware's reference; secret, wipe_free()). 0 or -errno (logged). */
int pass_new_key(struct pass *p, EVP_PKEY **out_key, char **out_pem, size_t *out_len);
/* The PEM the store keeps for key (a reference for a hardware key, which must be the stored
 * pair's). Caller wipe_free()s. */
int pass_key_pem(struct pass *p, EVP_PKEY *key, char **out_pem, size_t *out_len);
/* Where key signs a CSR: its provider's context for a hardware key, else NULL, NULL. */
void pass_key_signer(const struct pass *p, EVP_PKEY *key, OSSL_LIB_CTX **out_libctx,
		     const char **out_propq);
/* The TLS client key libssl uses for p->client_pem when its key is a hardware reference (owned
 * by the pass, NULL for a PEM key). 0 or -errno (logged). */
int pass_client_key(struct pass *p, EVP_PKEY **out_key);
/* With a PKCS#11 key_storage: destroys the token objects of this store's labels that it no
 * longer references, and drops sweep=1 from the record. 0 or -errno (logged). */
int pass_sweep(struct pass *p);

/* Frees what the pass parsed (pass_load_anchors, pass_load_enrolled keep it by its bytes). */
void pass_parsed_clear(struct pass *p);

/* Reads est-cacerts_0.. into p->anchors; none stored is not an error. */
int pass_load_anchors(struct pass *p);
/* Replaces p->anchors by certs (copied) and stages them as the new est-cacerts_ set. */
int pass_stage_anchors(struct pass *p, STACK_OF(X509) *certs);
void pass_drop_anchors(struct pass *p);

/* The key of a stored key pair's bytes (pem, len), parsed once a pass (a key inside a TPM is
 * loaded into it once). Caller EVP_PKEY_free()s. */
int pass_parsed_key(struct pass *p, const char *pem, size_t len, EVP_PKEY **out_key);
/* The enrolled key pair, split into key and certificates; -ENOKEY when none is stored. */
int pass_load_enrolled(struct pass *p, EVP_PKEY **out_key, STACK_OF(X509) **out_certs);
/* True when the recorded bootstrap matches server, label and ca_root of the config; *out_absent
 * (may be NULL) tells whether there is no record at all. */
bool pass_state_matches(struct pass *p, bool *out_absent);
/* The same of a record's text already read. */
bool pass_record_matches(const struct pass *p, const char *state);
/* Stages the bootstrap record for the config's server, label and ca_root. */
int pass_stage_state(struct pass *p);
/*
 * Stages the record again, vouching for pair_fp (the SHA-256 of the pair) and cacerts_fp (of the
 * est-cacerts_N items, in order), each checked before: key and certificate match, chain to the
 * CA certificates (pass_commit). NULL keeps what the stored record says. The bootstrap time
 * stays unless this attempt bootstrapped. pass_idle() trusts stored bytes with those digests.
 */
int pass_stage_record(struct pass *p, const char *pair_fp, const char *cacerts_fp);

/* The key to request a certificate for: the pending one if it is fit for this request (resume),
 * else a new one, stored (committed at once) before the request is sent. renew: for a renewal. */
int pass_request_key(struct pass *p, bool fresh, bool renew);
/* pass_request.c. True when a stored request key's tag says the server holds its request (it
 * answered 202). */
bool pass_request_pending(const char *pem);
/* Removes a request key the server holds no request for, once a pair is stored: what a pass that
 * died before its answer left. 0 or -errno (logged). */
int pass_drop_stale_request(struct pass *p);
/* Records with the pending request key that the server asked to wait until not_before. */
int pass_defer_request(struct pass *p, time_t not_before, bool accepted);
/* The not-before time of the stored request key if it would be resumed, else 0. */
time_t pass_request_not_before(struct pass *p);
/* Checks the answer and stages key + issued certificate + chain as one bundle. */
int pass_stage_issued(struct pass *p, EVP_PKEY *key, STACK_OF(X509) *certs, const char *what,
		      bool renewal);

/* True when, from the stored bytes alone, a run has nothing to do (pass_idle.c): the record
 * matches and vouches for the stored pair and CA set, and no certificate of them is due. */
bool pass_idle(struct pass *p);
/* A stored pair and CA set the record does not vouch for, but that read, match and chain: the
 * record gets their digests (an upgrade, an import), so later passes are idle. */
void pass_record_digests(struct pass *p);

/* True when the store holds est-events: changes the hooks have not run for. */
bool pass_events_pending(struct pass *p);

/* Commits what this attempt staged, after checking that the store will hold an identity that
 * chains to its anchors. 0 or -errno; nothing changes on error. */
int pass_commit(struct pass *p);
