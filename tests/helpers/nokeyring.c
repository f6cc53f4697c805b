/* SPDX-License-Identifier: MIT */
/* Test helper: runs a command with the keyring syscalls failing ENOSYS, as on a kernel without keys. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

int main(int argc, char **argv)
{
	static const char *const calls[] = { "add_key", "keyctl", "request_key" };
	scmp_filter_ctx ctx;
	size_t i;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: nokeyring COMMAND [ARGS...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		fprintf(stderr, "nokeyring: seccomp_init failed\n");
		return 1;
	}
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), seccomp_syscall_resolve_name(calls[i]), 0);
		if (r < 0) {
			fprintf(stderr, "nokeyring: %s: %s\n", calls[i], strerror(-r));
			seccomp_release(ctx);
			return 1;
		}
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "nokeyring: seccomp_load: %s\n", strerror(-r));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "nokeyring: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
