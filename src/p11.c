/* SPDX-License-Identifier: MIT */
/* The PKCS#11 module itself, for what OpenSSL's pkcs11 provider cannot do: destroy objects. */
#include "autoconf.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <p11-kit/pkcs11.h>

#include "log.h"
#include "p11.h"
#include "util.h"

#define PIN_MAX_SIZE 4096
/* Where pkcs11_module = (empty) points, as the provider's default does: p11-kit's proxy. */
#define P11_KIT_PROXY "p11-kit-proxy.so"

/* The attribute decoded, its length in *out_len (it may hold NUL bytes). */
static char *uri_attr(const char *uri, const char *name, size_t *out_len)
{
	size_t n = strlen(name), len, i, o = 0;
	const char *p = strchr(uri, ':'), *end;
	char *v;

	for (p = p ? p + 1 : uri; *p && *p != '?'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ";?");
		if ((size_t)(end - p) <= n || strncasecmp(p, name, n) || p[n] != '=')
			continue;
		len = (size_t)(end - p) - n - 1;
		v = xmalloc(len + 1);
		for (i = 0; i < len; i++) {
			const char *c = p + n + 1 + i;

			if (*c == '%' && i + 2 < len && isxdigit((unsigned char)c[1]) &&
			    isxdigit((unsigned char)c[2])) {
				char hex[3] = {c[1], c[2], 0};

				v[o++] = (char)strtoul(hex, NULL, 16);
				i += 2;
			} else {
				v[o++] = *c;
			}
		}
		v[o] = '\0';
		*out_len = o;
		return v;
	}
	return NULL;
}

char *p11_uri_attr(const char *uri, const char *name)
{
	size_t len;

	return uri_attr(uri, name, &len);
}

char *p11_uri_attr_hex(const char *uri, const char *name)
{
	size_t len = 0, i;
	char *v = uri_attr(uri, name, &len), *hex;

	if (!v)
		return NULL;
	hex = xmalloc(2 * len + 1);
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)v[i]);
	hex[2 * len] = '\0';
	free(v);
	return hex;
}

/* A blank-padded CK_TOKEN_INFO field equals want (NULL: anything). */
static bool field_is(const unsigned char *field, size_t size, const char *want)
{
	size_t n = want ? strlen(want) : 0, i;

	if (!want)
		return true;
	if (n > size || memcmp(field, want, n))
		return false;
	for (i = n; i < size; i++)
		if (field[i] != ' ')
			return false;
	return true;
}

/* The slot of the token the URI names (token, manufacturer, serial, model). -ENOENT if none. */
static int find_slot(CK_FUNCTION_LIST *f, const char *uri, CK_SLOT_ID *out_slot)
{
	char *token = p11_uri_attr(uri, "token"), *manuf = p11_uri_attr(uri, "manufacturer");
	char *serial = p11_uri_attr(uri, "serial"), *model = p11_uri_attr(uri, "model");
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	int r = -EIO;

	if (f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK)
		goto out;
	slots = xzalloc(sizeof(*slots) * (n ? n : 1));
	if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		goto out;
	r = -ENOENT;
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (field_is(ti.label, sizeof(ti.label), token) &&
		    field_is(ti.manufacturerID, sizeof(ti.manufacturerID), manuf) &&
		    field_is(ti.serialNumber, sizeof(ti.serialNumber), serial) &&
		    field_is(ti.model, sizeof(ti.model), model)) {
			*out_slot = slots[i];
			r = 0;
			break;
		}
	}
out:
	free(slots);
	free(token);
	free(manuf);
	free(serial);
	free(model);
	return r;
}

/* Logs in with the PIN of pin_file (NULL: no login). -EACCES for a PIN the token refuses. */
static int login(CK_FUNCTION_LIST *f, CK_SLOT_ID slot, CK_SESSION_HANDLE s, const char *pin_file)
{
	CK_TOKEN_INFO ti = {0};
	char *pin = NULL;
	size_t len = 0;
	CK_RV rv;
	int r;

	if (!pin_file)
		return 0;
	/* A token that locks its PIN at the next wrong one is not given a PIN that may be wrong
	 * by a pass no one watches: a person checks the PIN file and logs in once by hand (a
	 * right PIN resets the count). */
	if (f->C_GetTokenInfo(slot, &ti) == CKR_OK && (ti.flags & CKF_USER_PIN_FINAL_TRY)) {
		log_err("the PKCS#11 token has one PIN try left before it locks: not trying the "
			"PIN "
			"of %s (check it, then log in once by hand, e.g. pkcs11-tool --login)",
			pin_file);
		return -EACCES;
	}
	if (ti.flags & CKF_USER_PIN_LOCKED) {
		log_err("the PKCS#11 token's user PIN is locked: its security officer must unlock "
			"it");
		return -EACCES;
	}
	r = read_file(pin_file, PIN_MAX_SIZE, &pin, &len);
	if (r < 0) {
		log_err("%s: %s", pin_file, strerror(-r));
		return r;
	}
	if (len && pin[len - 1] == '\n')
		pin[--len] = '\0';
	if (len && pin[len - 1] == '\r')
		pin[--len] = '\0';
	rv = f->C_Login(s, CKU_USER, (unsigned char *)pin, len);
	wipe_free(pin, len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	log_err("the PKCS#11 token refused the PIN of %s (CKR 0x%lx)", pin_file, (unsigned long)rv);
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ? -EACCES : -EIO;
}

/* The label of object o, or NULL when it has none. Caller frees. */
static char *object_label(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	CK_ATTRIBUTE a = {CKA_LABEL, NULL, 0};
	char *label;

	if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen == (CK_ULONG)-1 ||
	    a.ulValueLen > 4096)
		return NULL;
	label = xzalloc(a.ulValueLen + 1);
	a.pValue = label;
	if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK) {
		free(label);
		return NULL;
	}
	return label;
}

/* True for an object of the token; not for a session object (the provider's copies, gone with
 * the process). */
static bool on_token(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	CK_BBOOL token = CK_FALSE;
	CK_ATTRIBUTE a = {CKA_TOKEN, &token, sizeof(token)};

	return f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK && token == CK_TRUE;
}

/* Destroys the token objects of session s whose label owned() claims; their number in *n. */
static int destroy_owned(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s,
			 bool (*owned)(const char *label, void *ctx), void *ctx, unsigned int *n)
{
	CK_OBJECT_HANDLE objs[64], *all = NULL;
	CK_ULONG found = 0, count = 0, i;
	char *label;
	CK_RV rv;
	int r = 0;

	/* Found first, destroyed after: a search does not survive a change of the store. */
	if (f->C_FindObjectsInit(s, NULL, 0) != CKR_OK)
		return -EIO;
	do {
		if (f->C_FindObjects(s, objs, ARRAY_SIZE(objs), &found) != CKR_OK) {
			r = -EIO;
			break;
		}
		all = xrealloc(all, sizeof(*all) * (count + found + 1));
		memcpy(all + count, objs, sizeof(*objs) * found);
		count += found;
	} while (found == ARRAY_SIZE(objs));
	f->C_FindObjectsFinal(s);
	/* One object the token will not destroy does not keep the others. */
	for (i = 0; i < count; i++) {
		label = object_label(f, s, all[i]);
		if (label && owned(label, ctx) && on_token(f, s, all[i])) {
			rv = f->C_DestroyObject(s, all[i]);
			if (rv == CKR_OK)
				(*n)++;
			else
				log_warn("PKCS#11: cannot destroy object %s (CKR 0x%lx)", label,
					 (unsigned long)rv);
			if (rv != CKR_OK)
				r = -EIO;
		}
		free(label);
	}
	free(all);
	return r;
}

/* A session on the token token_uri names, logged in with the PIN of pin_file. */
static int open_token(const char *module, const char *token_uri, const char *pin_file,
		      CK_FUNCTION_LIST **out_f, CK_SESSION_HANDLE *out_s)
{
	CK_C_GetFunctionList get_list;
	CK_FUNCTION_LIST *f = NULL;
	CK_SESSION_HANDLE s = 0;
	CK_SLOT_ID slot = 0;
	void *dl;
	CK_RV rv;
	int r;

	dl = dlopen(module ? module : P11_KIT_PROXY, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		log_err("PKCS#11 module: %s", dlerror());
		return -ENOPKG;
	}
	get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (!get_list || get_list(&f) != CKR_OK || !f) {
		log_err("PKCS#11 module %s: no function list", module ? module : P11_KIT_PROXY);
		return -EIO;
	}
	/* The provider may have initialised the module in this process: it stays initialised. */
	rv = f->C_Initialize(NULL);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		log_err("PKCS#11 module: C_Initialize: CKR 0x%lx", (unsigned long)rv);
		return -EIO;
	}
	r = find_slot(f, token_uri, &slot);
	if (r == -ENOENT)
		log_err("%s: no such PKCS#11 token", token_uri);
	else if (r < 0)
		log_err("%s: the PKCS#11 module lists no slots", token_uri);
	if (r < 0)
		return r;
	rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		log_err("%s: C_OpenSession: CKR 0x%lx", token_uri, (unsigned long)rv);
		return -EIO;
	}
	r = login(f, slot, s, pin_file);
	if (r < 0) {
		f->C_CloseSession(s);
		return r;
	}
	*out_f = f;
	*out_s = s;
	/* Not finalised nor unloaded: SoftHSM 2.6 crashes the process at exit when finalised
	 * (the provider's no-deinit quirk); the module is the process's until it ends. */
	return 0;
}

static bool is_label(const char *label, void *ctx)
{
	return !strcmp(label, ctx);
}

int p11_destroy_objects(const char *module, const char *token_uri, const char *pin_file,
			const char *label, unsigned int *out_destroyed)
{
	return p11_destroy_owned(module, token_uri, pin_file, is_label, (void *)label,
				 out_destroyed);
}

int p11_destroy_owned(const char *module, const char *token_uri, const char *pin_file,
		      bool (*owned)(const char *label, void *ctx), void *ctx,
		      unsigned int *out_destroyed)
{
	CK_FUNCTION_LIST *f = NULL;
	CK_SESSION_HANDLE s = 0;
	unsigned int n = 0;
	int r;

	r = open_token(module, token_uri, pin_file, &f, &s);
	if (r < 0)
		return r;
	r = destroy_owned(f, s, owned, ctx, &n);
	if (r < 0)
		log_err("%s: cannot destroy the objects of keys", token_uri);
	*out_destroyed = n;
	f->C_CloseSession(s);
	return r;
}

int p11_check_login(const char *module, const char *token_uri, const char *pin_file)
{
	CK_FUNCTION_LIST *f = NULL;
	CK_SESSION_HANDLE s = 0;
	int r = open_token(module, token_uri, pin_file, &f, &s);

	if (r == 0)
		f->C_CloseSession(s);
	return r;
}
