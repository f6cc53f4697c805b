/* SPDX-License-Identifier: MIT */
/* Private to status.c and status_print.c: what `status` gathered from the store. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "keystore.h"

struct cert_info {
	char *subject; /* OPENSSL_free */
	char *issuer;
	char *serial; /* hex */
	char fingerprint[65];
	time_t not_before;
	time_t not_after;
	const char *key_type; /* "EC", "RSA", "ED25519", ...; static */
	int key_bits;
	char curve[64]; /* EC: the group name, else "" */
};

/* One alias of the store. */
struct item {
	char *alias;
	const char *kind; /* "cacert", "enrolled", "request", "state", "other"; static */
	int serial;	  /* of its key in the named keyring, -1 when not there */
	char *file;	  /* its file in the file copy, NULL when not there */
	int agrees;	  /* keyring and file copy hold the same: 1, 0, -1 for a file store */
	bool has_cert;
	struct cert_info cert; /* of its first certificate */
	/* enrolled and request: where the key lives; for a token the token and object labels
	 * of its reference (NULL when unknown) */
	bool has_key;
	enum key_storage key_where;
	char *key_token;
	char *key_object;
	char *key_id; /* the token object's CKA_ID, hex */
};

/* What the first line of est-request-key-pair says. */
struct request_info {
	bool present;
	char *made_for; /* "enroll" or "renew"; NULL when the line is missing */
	char *server;
	char *label;
	char *key;	   /* "ALG:PARAMS" as recorded */
	time_t not_before; /* the server's Retry-After, 0 when none */
	bool resumable;	   /* made for the configured server and label */
	bool at_server;	   /* the server answered 202: it holds the request (pending=1) */
};

struct report {
	struct item *items; /* every alias, sorted */
	size_t n_items;
	struct item **cas; /* est-cacerts_0, _1, ... in order */
	int n_cas;
	struct item *pair; /* est-enrolled-key-pair, NULL when no certificate */
	struct request_info request;
	char *state;	 /* est-state text, NULL if never bootstrapped */
	char *disagree;	 /* aliases keyring and file copy differ in; NULL for a file store */
	bool has_access; /* the file copy's directory exists: */
	struct keystore_access access;
	time_t now;
	time_t next_due; /* 0 = nothing scheduled */
	const char *next_action;
};

/* Whole days from now to not_after, rounded down (negative once expired). */
long status_days_left(time_t not_after, time_t now);
/* The value of KEY in the est-state text, or NULL; caller frees. */
char *status_state_value(const char *state, const char *key);
void status_print_text(const struct config *cfg, struct keystore *ks, const struct report *rep,
		       FILE *f);
/* The JSON object est-enroll(8) documents (schema 1), on one line. */
void status_print_json(const struct config *cfg, struct keystore *ks, const struct report *rep,
		       FILE *f);
