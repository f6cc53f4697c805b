/* SPDX-License-Identifier: MIT */
/* A library bound at run time into a table of function pointers (dlopen, dlsym). */
#pragma once

#include <stddef.h>

/* One function of the table: its name in the library and its place in the table. */
struct dl_sym {
	const char *name;
	size_t offset;
};

/* Opens soname (lazily, locally) and fills table from syms. 0, or -ELIBACC with the reason in
 * why ("SONAME: cannot load: ..."). */
int dl_bind(const char *soname, const struct dl_sym *syms, size_t n, void *table, char *why,
	    size_t why_len);
