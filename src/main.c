/* SPDX-License-Identifier: MIT */
/* Command line: options, the subcommand table, and the mapping of errors to exit codes. */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certmonger.h"
#include "config.h"
#include "crypto.h"
#include "enroll.h"
#include "export.h"
#include "hooks.h"
#include "import.h"
#include "keystore.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "util.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_TEMPFAIL 75
#define EXIT_AUTH 77

#define DEFAULT_CONFIG SYSCONFDIR "/est-enroll/est-enroll.conf"

struct cli {
	const char *config;
	int verbosity;
	bool once;
	bool json;
	const char *out;
	const char *mode;
	bool mode_set;
	int argc; /* command arguments after the command name */
	char **argv;
};

struct command {
	const char *name;
	int (*handler)(struct cli *cli, struct config *cfg);
	const char *usage;
	int min_args;
	int max_args;
	/* Reads the password and ca_root: load, status, export, import run at boot, before they
	 * exist. */
	bool needs_secrets;
	/* Reads openssl.cnf first (crypto_load_config); a pass reads it once it has work. */
	bool openssl_cnf;
};

static int exit_code(int r)
{
	switch (r) {
	case 0:
		return EXIT_SUCCESS;
	case -EINVAL:
		return EXIT_USAGE;
	case -EAGAIN:
	case -EBUSY:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EHOSTUNREACH:
		return EXIT_TEMPFAIL;
	case -EKEYREJECTED:
		return EXIT_AUTH;
	case -EPERM:	    /* the server's certificate does not verify */
	case -ECONNABORTED: /* a TLS handshake refused for good */
		return EXIT_FAILED;
	default:
		return EXIT_FAILED;
	}
}

/*
 * A pass, then what consumers need: the [export] files that are missing or stale (each written
 * under the store's lock again, skipped when another pass holds it: that one exports when it
 * ends), then, with the lock released, the hooks for each change the store records as not yet
 * told (this pass's, or one of a pass that died after its commit), and last the token objects
 * of keys the store let go of (enroll_sweep). A failed export fails the command (the next pass
 * tries again), a failed hook does not; a pass that found the lock held leaves it all to the
 * pass holding it.
 */
static int pass(struct cli *cli, struct config *cfg, enum enroll_action action)
{
	bool pending = false;
	int r, e;

	if (!cfg->enabled && action == ENROLL_ACTION_RUN)
		return enroll_pass(cfg, action, cli->once, NULL); /* says so, does nothing */
	r = enroll_pass(cfg, action, cli->once, &pending);
	if (r == -EBUSY)
		return r;
	e = export_all(cfg);
	/* The hooks announce the files too: with an export failed, they wait for the pass that
	 * writes it (the change stays in est-events). */
	if (pending && e == 0) {
		hooks_deliver(cfg);
		enroll_sweep(cfg); /* the old key's token objects, now that consumers know */
	}
	return r < 0 ? r : e;
}

static int cmd_run(struct cli *cli, struct config *cfg)
{
	return pass(cli, cfg, ENROLL_ACTION_RUN);
}

static int cmd_enroll(struct cli *cli, struct config *cfg)
{
	return pass(cli, cfg, ENROLL_ACTION_ENROLL);
}

static int cmd_renew(struct cli *cli, struct config *cfg)
{
	return pass(cli, cfg, ENROLL_ACTION_RENEW);
}

static int cmd_cacerts(struct cli *cli, struct config *cfg)
{
	return pass(cli, cfg, ENROLL_ACTION_CACERTS);
}

static int cmd_status(struct cli *cli, struct config *cfg)
{
	return status_print(cfg, cli->json, stdout);
}

static int cmd_check_config(struct cli *cli, struct config *cfg)
{
	if (config_check_subject(cfg) < 0)
		return -EINVAL;
	config_print(cfg, stdout);
	return 0;
}

static int open_store(const struct config *cfg, enum keystore_mode mode, struct keystore **out_ks)
{
	const struct keystore_conf *kc = config_keystore(cfg, cfg->keystore);
	int r;

	r = keystore_open(kc, mode, out_ks);
	if (r < 0)
		log_err("keystore %s: %s", kc->name, strerror(-r));
	return r;
}

static int cmd_load(struct cli *cli, struct config *cfg)
{
	struct keystore *ks = NULL;
	unsigned int restored = 0;
	bool pending = false;
	char *events = NULL;
	size_t len = 0;
	int r;

	/* Under the store's lock, so it never races a pass; finishes an interrupted commit. */
	r = open_store(cfg, KEYSTORE_WRITE, &ks);
	if (r < 0)
		goto out;
	r = keystore_load(ks, &restored);
	if (r < 0)
		log_err("load: %s", strerror(-r));
	else
		log_info("loaded keystore %s into %s (%u key(s) restored)", keystore_name(ks),
			 keystore_location(ks), restored);
	pending = keystore_get(ks, KS_ALIAS_EVENTS, &events, &len) == 0;
	free(events);
out:
	keystore_free(ks);
	/* At boot, before consumers: their files too, and the hooks of a change a crash kept
	 * from them. */
	if (r == 0)
		r = export_all(cfg);
	if (pending && r == 0)
		hooks_deliver(cfg);
	return r;
}

static int write_stdout(const char *data, size_t len)
{
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
		return -EIO;
	return 0;
}

static int cmd_export(struct cli *cli, struct config *cfg)
{
	struct keystore *ks = NULL;
	unsigned long mode = 0600;
	char *data = NULL;
	size_t len = 0;
	int r;

	if (cli->mode_set && parse_uint_octal(cli->mode, &mode) < 0) {
		log_err("--mode: '%s' is not an octal file mode", cli->mode);
		return -EINVAL;
	}
	r = open_store(cfg, KEYSTORE_READ, &ks);
	if (r < 0)
		goto out;
	r = keystore_get(ks, cli->argv[0], &data, &len);
	if (r == -ENOKEY) {
		log_err("export: %s: no such alias in keystore %s", cli->argv[0],
			keystore_name(ks));
		r = -ENOENT;
		goto out;
	}
	if (r < 0) {
		log_err("export: %s: %s", cli->argv[0], strerror(-r));
		goto out;
	}
	if (cli->out)
		r = write_file_atomic(cli->out, data, len, (mode_t)mode, (gid_t)-1);
	else
		r = write_stdout(data, len);
	if (r < 0)
		log_err("export: %s: %s", cli->out ? cli->out : "stdout", strerror(-r));
out:
	wipe_free(data, len);
	keystore_free(ks);
	return r;
}

static int cmd_import(struct cli *cli, struct config *cfg)
{
	return import_alias(cfg, cli->argv[0], cli->argc > 1 ? cli->argv[1] : NULL);
}

/* certmonger's CA helper protocol has exit codes of its own, a bad configuration's too: main()
 * hands it the configuration's path before loading anything (certmonger.c). */
static int cmd_certmonger_helper(struct cli *cli, struct config *cfg)
{
	(void)cfg;
	return certmonger_helper(cli->config);
}

static const struct command commands[] = {
	{"run", cmd_run, "run", 0, 0, true, false},
	{"enroll", cmd_enroll, "enroll", 0, 0, true, false},
	{"renew", cmd_renew, "renew", 0, 0, true, false},
	{"cacerts", cmd_cacerts, "cacerts", 0, 0, true, false},
	{"status", cmd_status, "status [--json]", 0, 0, false, false},
	{"check-config", cmd_check_config, "check-config", 0, 0, true, true},
	{"load", cmd_load, "load", 0, 0, false, false},
	{"export", cmd_export, "export ALIAS [--out FILE] [--mode MODE]", 1, 1, false, true},
	{"import", cmd_import, "import ALIAS [FILE]", 1, 2, false, true},
	{"certmonger-helper", cmd_certmonger_helper, "certmonger-helper", 0, 0, true, true},
};

/*
 * The metrics file (est-enroll(8), METRICS) after a pass, a forced command or load, whatever its
 * result (r), but for a run that found the lock held: the pass holding it writes when it ends.
 */
static void write_metrics(const struct command *cmd, const struct config *cfg, int r)
{
	if (cmd->handler == cmd_load)
		metrics_after_load(cfg);
	else if ((cmd->handler == cmd_run || cmd->handler == cmd_enroll ||
		  cmd->handler == cmd_renew || cmd->handler == cmd_cacerts) &&
		 r != -EBUSY)
		metrics_after_pass(cfg, exit_code(r));
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: est-enroll [-c FILE] [-v|-q] [--once] [COMMAND [ARGS]]\n\n"
		   "Commands (default: run):\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\nOptions:\n"
		   "  -c, --config FILE  configuration file (default " DEFAULT_CONFIG ")\n"
		   "  -v, --verbose      more detail; -vv also the TLS connection and chain\n"
		   "  -q, --quiet        errors only\n"
		   "      --once         one attempt, no in-process retry\n"
		   "  -h, --help         this help\n"
		   "  -V, --version      version\n"
		   "\nExit codes: 0 done, 1 failed, 2 usage or configuration error,\n"
		   "75 temporary failure (try later), 77 authentication refused.\n");
}

enum { OPT_ONCE = 256, OPT_JSON, OPT_OUT, OPT_MODE };

static int parse_args(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"once", no_argument, NULL, OPT_ONCE},
		{"json", no_argument, NULL, OPT_JSON},
		{"out", required_argument, NULL, OPT_OUT},
		{"mode", required_argument, NULL, OPT_MODE},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->config = optarg;
			break;
		case 'v':
			cli->verbosity++;
			break;
		case 'q':
			cli->verbosity = -1;
			break;
		case OPT_ONCE:
			cli->once = true;
			break;
		case OPT_JSON:
			cli->json = true;
			break;
		case OPT_OUT:
			cli->out = optarg;
			break;
		case OPT_MODE:
			cli->mode = optarg;
			cli->mode_set = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("est-enroll %s\n", PACKAGE_VERSION);
			exit(EXIT_SUCCESS);
		default:
			return -EINVAL;
		}
	}
	cli->argc = argc - optind;
	cli->argv = argv + optind;
	return 0;
}

static const struct command *find_command(struct cli *cli)
{
	const char *name = "run";
	size_t i;

	if (cli->argc > 0) {
		name = cli->argv[0];
		cli->argc--;
		cli->argv++;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	fprintf(stderr, "est-enroll: unknown command '%s'\n", name);
	return NULL;
}

static bool args_fit(const struct command *cmd, const struct cli *cli)
{
	bool is_export = cmd->handler == cmd_export;

	if (cli->argc < cmd->min_args || cli->argc > cmd->max_args) {
		fprintf(stderr, "est-enroll: %s: %s\n", cmd->name,
			cli->argc > cmd->max_args ? "too many arguments" : "missing argument");
		return false;
	}
	if (cli->json && cmd->handler != cmd_status) {
		fprintf(stderr, "est-enroll: --json goes with status only\n");
		return false;
	}
	if ((cli->out || cli->mode_set) && !is_export) {
		fprintf(stderr, "est-enroll: --out and --mode go with export only\n");
		return false;
	}
	return true;
}

/*
 * Before anything reads a secret (the password, a private key, a PIN): a crash or a gcore of
 * this process must never put them on disk. Not dumpable (no core, no ptrace or /proc/PID/mem
 * by other processes of the same uid), and a core limit of 0 that cannot be raised again, for
 * fs.suid_dumpable = 2, which dumps non-dumpable processes too, and for core_pattern helpers
 * that honour the limit. Neither call fails in practice; if one did (a seccomp filter), the
 * other and the units' LimitCORE=0 still hold.
 */
static void no_core_dumps(void)
{
	const struct rlimit none = {0, 0};

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &none);
}

/* A command line est-enroll cannot use: 2, but 4 with a line on stdout when certmonger runs it
 * (its 2 means the CA rejected the request). */
static int bad_usage(void)
{
	usage(stderr);
	if (!getenv("CERTMONGER_OPERATION"))
		return EXIT_USAGE;
	puts("est-enroll: bad command line for certmonger-helper (see est-enroll(8))");
	return 4;
}

int main(int argc, char **argv)
{
	struct cli cli = {.config = DEFAULT_CONFIG};
	const struct command *cmd;
	struct config *cfg = NULL;
	int r;

	no_core_dumps();
	if (parse_args(argc, argv, &cli) < 0)
		return bad_usage();
	log_init(cli.verbosity);
	cmd = find_command(&cli);
	if (!cmd || !args_fit(cmd, &cli))
		return bad_usage();
	crypto_start();
	if (cmd->handler == cmd_certmonger_helper)
		return cmd_certmonger_helper(&cli, NULL);
	r = config_load(cli.config, &cfg);
	/* A disabled run does nothing, so it needs neither the password nor ca_root. */
	if (r == 0 && cmd->needs_secrets && !(cmd->handler == cmd_run && !cfg->enabled))
		r = config_load_secrets(cfg);
	if (r < 0) {
		if (cfg) /* the password or ca_root: a pass that failed with 2 */
			write_metrics(cmd, cfg, -EINVAL);
		config_free(cfg);
		return EXIT_USAGE;
	}
	umask(077);
	if (cmd->openssl_cnf)
		crypto_load_config();
	r = cmd->handler(&cli, cfg);
	write_metrics(cmd, cfg, r);
	config_free(cfg);
	return exit_code(r);
}
