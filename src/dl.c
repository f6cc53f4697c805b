/* SPDX-License-Identifier: MIT */
/* A library bound at run time into a table of function pointers (dlopen, dlsym). */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"

int dl_bind(const char *soname, const struct dl_sym *syms, size_t n, void *table, char *why,
	    size_t why_len)
{
	const char *e;
	void *dl, *fn;
	size_t i;

	/* Lazy: a library's many dependencies are bound as used, not all before the first call
	 * (those linked with -z now are bound at once anyway). */
	dl = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
	if (!dl) {
		e = dlerror();
		snprintf(why, why_len, "%s: cannot load: %s", soname, e ? e : "dlopen failed");
		return -ELIBACC;
	}
	for (i = 0; i < n; i++) {
		(void)dlerror();
		fn = dlsym(dl, syms[i].name);
		if (!fn) {
			e = dlerror();
			snprintf(why, why_len, "%s: cannot load: %s", soname, e ? e : syms[i].name);
			dlclose(dl);
			return -ELIBACC;
		}
		/* A data pointer into a function pointer, the way POSIX dlsym intends. */
		memcpy((char *)table + syms[i].offset, &fn, sizeof(fn));
	}
	return 0;
}
