// SPDX-License-Identifier: MIT
// bench/measure: run a command and report what the kernel saw of it, on fd 3:
//   "WALL_NS UTIME_US STIME_US MAXRSS_KIB EXIT" (EXIT: the code, or 128+signal)
// A small process of its own forks the command, so the child's peak RSS starts from this
// program's few pages, not from the driver's (a vfork/posix_spawn from python would carry
// the interpreter's high-water mark into ru_maxrss across exec).
// measure --gate COMMAND [ARGS...]: wait until fd 4 reads end-of-file, then exec COMMAND
// (no fork, no report): the fleet driver starts N of them and releases them at once by
// closing the pipe's other end.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc > 2 && strcmp(argv[1], "--gate") == 0) {
		char c;
		ssize_t r;

		while ((r = read(4, &c, 1)) != 0)
			if (r < 0 && errno != EINTR)
				break;
		close(4);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	if (argc < 2) {
		fprintf(stderr, "usage: measure COMMAND [ARGS...]  (result on fd 3)\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		return 111;
	if (pid == 0) {
		close(3);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return 111;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dprintf(3, "%lld %ld %ld %ld %d\n",
		(long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
		(long)ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
		(long)ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec, ru.ru_maxrss,
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
