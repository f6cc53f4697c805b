/* SPDX-License-Identifier: MIT */
/* Test helper: a PKCS#11 module that is the module named by P11_FORWARD_MODULE, loaded plainly. */

/*
 * pkcs11-provider opens its module with RTLD_DEEPBIND: the module's own calls (open, fflush,
 * remove, mkdir) then bind to libc before anything LD_PRELOADed, and tests/helpers/killpoint.so
 * never sees a token write. Given as pkcs11_module, this file is what the provider opens so;
 * the real module is opened here without RTLD_DEEPBIND, so its calls go through the global
 * scope, where the preloaded shim comes before libc. Only C_GetFunctionList (PKCS#11 2.40):
 * every other call reaches the real module through the function list it returns.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <stdlib.h>

typedef unsigned long ck_rv;
typedef ck_rv (*get_function_list_fn)(void **);

#define CKR_GENERAL_ERROR 0x5UL

ck_rv C_GetFunctionList(void **list);

ck_rv C_GetFunctionList(void **list)
{
	static get_function_list_fn real;
	const char *path;
	void *h;

	if (!real) {
		path = getenv("P11_FORWARD_MODULE");
		h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
		real = h ? (get_function_list_fn)dlsym(h, "C_GetFunctionList") : NULL;
	}
	return real ? real(list) : CKR_GENERAL_ERROR;
}
