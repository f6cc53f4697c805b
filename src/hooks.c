/* SPDX-License-Identifier: MIT */
/* Hooks: the executables of the hooks directory, run in name order after a pass changed the store.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "keystore.h"
#include "log.h"
#include "util.h"

/*
 * A hook runs after the pass released the store's lock (so it may call est-enroll status or
 * export) and after the [export] files were written (so a reload sees them). It is told what
 * happened only through its environment; its stdout and stderr go to ours (the journal), its
 * stdin is /dev/null. It gets HOOK_TIMEOUT seconds, then its process group is killed. Whatever
 * it does, the store and the exit code stay as the pass left them.
 */

#define HOOK_TIMEOUT 60
/* Tests set a shorter limit (1..HOOK_TIMEOUT seconds); a longer one is ignored. */
#define HOOK_TIMEOUT_ENV "EST_ENROLL_HOOK_TIMEOUT"

/* Editor backups, dpkg's leftovers, hidden files: never hooks (as run-parts skips them). */
static bool skipped_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '.' || name[n - 1] == '~' || strstr(name, ".dpkg-");
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int hook_timeout(void)
{
	const char *v = getenv(HOOK_TIMEOUT_ENV);
	unsigned long t;

	if (v && parse_uint(v, 1, HOOK_TIMEOUT, &t) == 0)
		return (int)t;
	return HOOK_TIMEOUT;
}

/* True when path is a hook to run; says why not when it looks like one but is unsafe. */
static bool runnable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111) ||
	    access(path, X_OK) < 0) {
		log_debug("hook %s: not an executable file, skipped", path);
		return false;
	}
	/* Whoever may change it would run code as us. */
	if ((st.st_mode & 0002) || (st.st_uid != 0 && st.st_uid != geteuid())) {
		log_warn("hook %s: not run: writable by others or owned by uid %u", path,
			 (unsigned int)st.st_uid);
		return false;
	}
	return true;
}

/* Our environment without EST_ENROLL_*, then vars (NULL-terminated). Caller frees the array. */
static char **hook_environ(char *const *vars)
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ[n])
		n++;
	for (i = 0; vars[i]; i++)
		;
	env = xzalloc(sizeof(*env) * (n + i + 1));
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "EST_ENROLL_", 11))
			env[k++] = environ[i];
	for (i = 0; vars[i]; i++)
		env[k++] = vars[i];
	return env;
}

static void child(const char *path, char **env)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	setpgid(0, 0);
	if (fd >= 0)
		dup2(fd, STDIN_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	execve(path, (char *const[]){(char *)path, NULL}, env);
	dprintf(STDERR_FILENO, "est-enroll: hook %s: %s\n", path, strerror(errno));
	_exit(126);
}

/* Waits for pid until timeout seconds have passed; then kills its process group. */
static int wait_hook(pid_t pid, int timeout, bool *out_killed)
{
	struct timespec nap = {0, 20 * 1000 * 1000};
	time_t end = time(NULL) + timeout;
	int status = 0;
	pid_t w;

	*out_killed = false;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (time(NULL) >= end) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			*out_killed = true;
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		nanosleep(&nap, NULL);
	}
	return status;
}

static void run_hook(const char *path, char **env, int timeout)
{
	bool killed;
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		log_warn("hook %s: cannot start: %s", path, strerror(errno));
		return;
	}
	if (pid == 0)
		child(path, env);
	setpgid(pid, pid); /* also here: the kill must find the group whoever runs first */
	status = wait_hook(pid, timeout, &killed);
	if (killed)
		log_warn("hook %s: still running after %d s: killed", path, timeout);
	else if (WIFSIGNALED(status))
		log_warn("hook %s: killed by signal %d", path, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		log_warn("hook %s: exit status %d", path, WEXITSTATUS(status));
	else
		log_debug("hook %s: done", path);
}

/* EST_ENROLL_KEYRING and _SERIALS, when the pass's store lives in the keyring. */
static void keyring_vars(const struct config *cfg, char **keyring, char **serials)
{
	struct keystore *ks = NULL;
	int serial;

	if (keystore_open(config_keystore(cfg, cfg->keystore), KEYSTORE_READ, &ks) < 0)
		return;
	serial = keystore_keyring_serial(ks);
	if (serial >= 0) {
		*keyring = xasprintf("EST_ENROLL_KEYRING=%d", serial);
		*serials = xasprintf("EST_ENROLL_SERIALS=%s/%s.keys", keystore_runtime_dir(),
				     keystore_name(ks));
	}
	keystore_free(ks);
}

static char *config_var(const struct config *cfg)
{
	char *abs = realpath(cfg->file, NULL), *v;

	v = xasprintf("EST_ENROLL_CONFIG=%s", abs ? abs : cfg->file);
	free(abs);
	return v;
}

void hooks_run(const struct config *cfg, enum enroll_event event)
{
	char *vars[6] = {NULL}, **env = NULL, *path;
	struct dirent **list = NULL;
	int n, i, k, timeout = hook_timeout();

	if (!cfg->hooks || event == ENROLL_EVENT_NONE)
		return;
	n = scandir(cfg->hooks, &list, NULL, cmp_names);
	if (n < 0) {
		if (errno == ENOENT)
			log_debug("hooks: no directory %s", cfg->hooks);
		else
			log_warn("hooks: %s: %s", cfg->hooks, strerror(errno));
		return;
	}
	vars[0] = xasprintf("EST_ENROLL_EVENT=%s", enroll_event_name(event));
	vars[1] = xasprintf("EST_ENROLL_KEYSTORE=%s", cfg->keystore);
	keyring_vars(cfg, &vars[2], &vars[3]);
	k = vars[2] ? 4 : 2;
	vars[k] = config_var(cfg);
	env = hook_environ(vars);
	for (i = 0; i < n; i++) {
		if (skipped_name(list[i]->d_name))
			continue;
		path = xasprintf("%s/%s", cfg->hooks, list[i]->d_name);
		if (runnable(path))
			run_hook(path, env, timeout);
		free(path);
	}
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	free(env);
	for (i = 0; i < (int)ARRAY_SIZE(vars); i++)
		free(vars[i]);
}

/* True when line (with its newline) is one of the told lines. */
static bool was_told(const char *line, size_t len, const char *told)
{
	const char *t = told, *end;

	for (; (end = strchr(t, '\n')); t = end + 1)
		if ((size_t)(end + 1 - t) == len && !memcmp(t, line, len))
			return true;
	return false;
}

/*
 * Takes the told lines out of est-events, under the lock, keeping any a pass committed
 * meanwhile. Each line carries an id of its own (pass_store.c), so a later change of the same
 * kind is never taken for a told one.
 */
static void acknowledge(const struct keystore_conf *kc, const char *told)
{
	struct keystore *ks = NULL;
	char *now = NULL, *left = NULL, *line, *end;
	size_t len = 0, n = 0;
	int r;

	/* Busy: the pass holding the lock tells them (again: at least once) when it ends. */
	r = keystore_open(kc, KEYSTORE_WRITE_TRY, &ks);
	if (r == 0)
		r = keystore_get(ks, KS_ALIAS_EVENTS, &now, &len);
	if (r == 0) {
		left = xzalloc(len + 1);
		for (line = now; (end = strchr(line, '\n')); line = end + 1)
			if (!was_told(line, (size_t)(end + 1 - line), told)) {
				memcpy(left + n, line, (size_t)(end + 1 - line));
				n += (size_t)(end + 1 - line);
			}
		if (n == len)
			r = 0; /* none of them is there any more: told by another command */
		else if (n)
			r = keystore_put(ks, KS_ALIAS_EVENTS, left, n);
		else
			r = keystore_remove(ks, KS_ALIAS_EVENTS);
	}
	if (r < 0 && r != -EBUSY && r != -ENOKEY)
		log_warn("hooks: keystore %s: cannot mark the changes as told (%s): the next pass "
			 "runs the hooks for them again",
			 kc->name, strerror(-r));
	free(left);
	free(now);
	keystore_free(ks);
}

/* The lines of est-events not told yet in this process, or NULL. Caller frees. */
static char *untold(const struct keystore_conf *kc, const char *told)
{
	struct keystore *ks = NULL;
	char *events = NULL, *fresh = NULL, *line, *end;
	size_t len = 0, n = 0;

	if (keystore_open(kc, KEYSTORE_READ, &ks) == 0 &&
	    keystore_get(ks, KS_ALIAS_EVENTS, &events, &len) == 0) {
		fresh = xzalloc(len + 1);
		for (line = events; (end = strchr(line, '\n')); line = end + 1)
			if (!was_told(line, (size_t)(end + 1 - line), told)) {
				memcpy(fresh + n, line, (size_t)(end + 1 - line));
				n += (size_t)(end + 1 - line);
			}
	}
	keystore_free(ks);
	free(events);
	if (fresh && !n) {
		free(fresh);
		fresh = NULL;
	}
	return fresh;
}

/* True when this process was started by a hook of the same configuration and keystore. */
static bool run_by_own_hook(const struct config *cfg)
{
	const char *conf = getenv("EST_ENROLL_CONFIG"), *name = getenv("EST_ENROLL_KEYSTORE");

	return getenv("EST_ENROLL_EVENT") && conf && name && cfg->file &&
	       !strcmp(name, cfg->keystore) && !strcmp(conf, cfg->file);
}

/* A bound on the rounds of one delivery: changes committed while the hooks ran (by a command a
 * hook started) are told in the next round; more are left to the next pass. */
#define DELIVERY_ROUNDS 4

void hooks_deliver(const struct config *cfg)
{
	const struct keystore_conf *kc = config_keystore(cfg, cfg->keystore);
	char *told = xstrdup(""), *batch, *line, *end, *all;
	int round;

	/* An est-enroll a hook of this store started: the command that ran the hook tells its
	 * changes after the hooks (next round); telling them from inside would nest the hooks. */
	if (run_by_own_hook(cfg)) {
		log_debug("hooks: run by a hook of this store: its command runs the hooks");
		free(told);
		return;
	}
	for (round = 0; round < DELIVERY_ROUNDS && (batch = untold(kc, told)); round++) {
		for (line = batch; (end = strchr(line, '\n')); line = end + 1) {
			enum enroll_event e = enroll_event_from_name(line, strcspn(line, " \n"));

			if (e == ENROLL_EVENT_NONE)
				log_warn("hooks: keystore %s: unknown change '%.*s' "
					 "in " KS_ALIAS_EVENTS ", skipped",
					 kc->name,
					 (int)strcspn(line, " \n") > 32 ? 32
									: (int)strcspn(line, " \n"),
					 line);
			hooks_run(cfg, e);
		}
		all = xasprintf("%s%s", told, batch);
		free(told);
		told = all;
		acknowledge(kc, told);
		free(batch);
	}
	free(told);
}
