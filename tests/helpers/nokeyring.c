/* SPDX-License-Identifier: MIT */
/* Test helper: runs a command with the keyring syscalls failing ENOSYS, as without kernel keys. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

/* Makes add_key, keyctl and request_key fail with ENOSYS from now on. Returns 0 or -errno. */
static int block_keyring(void)
{
	static const char *const calls[] = {"add_key", "keyctl", "request_key"};
	scmp_filter_ctx ctx;
	size_t i;
	int r = 0, nr;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; r == 0 && i < sizeof(calls) / sizeof(calls[0]); i++) {
		nr = seccomp_syscall_resolve_name(calls[i]);
		r = nr == __NR_SCMP_ERROR ? -ENOSYS
					  : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		if (r < 0)
			fprintf(stderr, "nokeyring: %s: %s\n", calls[i], strerror(-r));
	}
	if (r == 0) {
		r = seccomp_load(ctx);
		if (r < 0)
			fprintf(stderr, "nokeyring: seccomp_load: %s\n", strerror(-r));
	}
	seccomp_release(ctx);
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: nokeyring COMMAND [ARGS...]\n"
			"Runs COMMAND with add_key, keyctl and request_key failing ENOSYS.\n");
		return 2;
	}
	if (block_keyring() < 0)
		return 1;
	execvp(argv[1], argv + 1);
	fprintf(stderr, "nokeyring: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
