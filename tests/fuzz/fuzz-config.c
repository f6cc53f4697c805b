/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for config_load() and config_load_secrets(): any bytes as a config file
 * (run with -close_fd_mask=2).
 */
#include "autoconf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(-1);
	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("JOURNAL_STREAM");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char path[64];
	int fd;

	/* config_load() takes a path: a memfd gives one without touching the disk. */
	fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (config_load(path, &cfg) == 0 && config_load_secrets(cfg) == 0) {
			FILE *devnull = fopen("/dev/null", "w");

			if (devnull) {
				config_print(cfg, devnull);
				fclose(devnull);
			}
		}
		config_free(cfg);
	}
	close(fd);
	return 0;
}
