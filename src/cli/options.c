/*
 * options.c - what every command shares: the usage text, the option
 * handling (-c FILE, -o key=value, -h) that loads and checks a config, and
 * the check-config command, which is that handling alone.
 *
 * A config is refused here exactly as `serve` would refuse it: the parts'
 * own settings (relay networks, transport map) are parsed too, and every
 * error names the file and line where the setting was given.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "smtp/smtp.h"
#include "util/util.h"

static const char usage_text[] =
    "usage: mailerd COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  serve -c FILE [-o key=value]...   run the mail server in the foreground (logs to stderr)\n"
    "  send [-c FILE] [-o k=v] [-f sender] [-t] [-i] [-N never|success,failure,delay]\n"
    "       [-R full|hdrs] [-V envid] [rcpt...]\n"
    "                                    queue a message read from stdin (sendmail style)\n"
    "  queue [-c FILE] list [--json]|show ID|flush|hold ID|release ID|delete ID\n"
    "                                    look at and act on the running daemon's queue\n"
    "  check-config -c FILE [-o k=v] [--print]\n"
    "                                    validate a config; errors as FILE:LINE: message\n"
    "  bounce parse [-c FILE] [-o k=v] [--explain] [FILE|-]...\n"
    "                                    read bounces; one JSON line per recipient record\n"
    "                                    (failure, delay, delivery, complaint, auto-reply)\n"
    "  suppress [-c FILE] list|add ADDR [--reason R]|remove ADDR --reason R|check ADDR|\n"
    "       import FILE.csv|export [FILE.csv]|stats\n"
    "                                    the suppression list (check: exit 1 when suppressed)\n"
    "  contacts check [-c FILE] [--report FILE] [--out FILE] CONTACTS.csv\n"
    "                                    check a contact list: syntax, typos, DNS, suppression\n"
    "  help                              this text and the settings table\n"
    "\n"
    "Run as `sendmail` it is `mailerd send`; run as `mailq` it is `mailerd queue list`.\n"
    "Without -c, settings come from the built-in defaults (SQLite store and spool in ./var).\n"
    "\n"
    "Settings (config file lines `key = value`, or -o key=value; durations take\n"
    "ms/s/m/h/d, sizes k/m/g):\n";

void cli_usage(FILE *f)
{
	fputs(usage_text, f);
	config_help(f);
}

/* cli_check_parts - settings whose syntax a part owns (relay_networks,
 * local_domains, transport_map): checked here so every command, and
 * check-config above all, refuses what `serve` would refuse */
static int cli_check_parts(const struct config *cfg, char *err, size_t errlen)
{
	char msg[400];
	struct smtp_relay *relay =
	    smtp_relay_new(cfg->relay_networks, cfg->local_domains, msg, sizeof(msg));

	if (relay == NULL) {
		/* the relay parser names relay_networks or local_domains itself
		 * when it can; make sure a setting name comes first */
		if (strncmp(msg, "relay_networks", 14) == 0 ||
		    strncmp(msg, "local_domains", 13) == 0)
			snprintf(err, errlen, "%s", msg);
		else
			snprintf(err, errlen, "relay_networks: %s", msg);
		return -1;
	}
	smtp_relay_free(relay);
	if (deliver_transport_check(cfg->transport_map, msg, sizeof(msg)) < 0) {
		if (strncmp(msg, "transport_map", 13) == 0)
			snprintf(err, errlen, "%s", msg);
		else
			snprintf(err, errlen, "transport_map: %s", msg);
		return -1;
	}
	return 0;
}

struct config *cli_load_config(int argc, char **argv, const char *flags_with_value,
                               const char *flags_plain, cli_flag_fn other_fn, void *arg,
                               int *optind_out)
{
	struct config *cfg = config_new();
	const char *file = NULL;
	char **overrides = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t n_over = 0;
	char optstring[128];
	char err[4096]; /* a config file's errors, one line each */
	int c;

	/* "+" stops at the first non-option (a sub-command or recipient). */
	snprintf(optstring, sizeof(optstring), "+c:o:h");
	for (const char *p = flags_with_value; p && *p; p++) {
		size_t n = strlen(optstring);
		if (n + 3 < sizeof(optstring)) {
			optstring[n] = *p;
			optstring[n + 1] = ':';
			optstring[n + 2] = '\0';
		}
	}
	if (flags_plain) {
		size_t n = strlen(optstring);
		util_strlcpy(optstring + n, flags_plain, sizeof(optstring) - n);
	}
	optind = 1;
	opterr = 1;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		if (c == 'c') {
			file = optarg;
		} else if (c == 'o' && strchr(optarg, '=') == NULL && other_fn != NULL) {
			/* sendmail's own -oX options (e.g. -oi) are not settings */
			if (other_fn('o', optarg, arg) < 0)
				goto fail;
		} else if (c == 'o') {
			overrides[n_over++] = optarg;
		} else if (c == 'h') {
			cli_usage(stdout);
			exit(0);
		} else if (c == '?') {
			fprintf(stderr, "%s: see `mailerd help`\n", argv[0]);
			goto fail;
		} else if (other_fn == NULL || other_fn((char)c, optarg, arg) < 0) {
			goto fail;
		}
	}
	if (file && config_load_file(cfg, file, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto fail;
	}
	for (size_t i = 0; i < n_over; i++) {
		if (config_set_option(cfg, overrides[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "-o %s: %s\n", overrides[i], err);
			goto fail;
		}
	}
	if (config_check(cfg, err, sizeof(err)) < 0 || cli_check_parts(cfg, err, sizeof(err)) < 0) {
		/* Every check message starts with the setting's name: say where
		 * that setting was given. */
		char key[64], where[600];
		size_t n = strcspn(err, ": ");
		util_strlcpy(key, err, n + 1 < sizeof(key) ? n + 1 : sizeof(key));
		config_where(cfg, key, where, sizeof(where));
		if (strcmp(where, "default") == 0)
			fprintf(stderr, "%s: %s\n", file ? file : "settings", err);
		else
			fprintf(stderr, "%s: %s\n", where, err);
		goto fail;
	}
	free(overrides);
	*optind_out = optind;
	return cfg;
fail:
	free(overrides);
	config_free(cfg);
	return NULL;
}

int cli_check_config(int argc, char **argv)
{
	bool print = false;
	int first;
	struct config *cfg;

	/* --print may follow the options */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--print") == 0) {
			print = true;
			for (int j = i; j < argc - 1; j++)
				argv[j] = argv[j + 1];
			argc--;
			i--;
		}
	cfg = cli_load_config(argc, argv, NULL, NULL, NULL, NULL, &first);
	if (cfg == NULL)
		return 1;
	if (first < argc) {
		fprintf(stderr, "check-config: unexpected argument '%s'\n", argv[first]);
		config_free(cfg);
		return 2;
	}
	/* what only the machine can tell, and serve would find too late
	 * (after binding its ports): the user to run as exists here */
	if (cfg->run_user && cfg->run_user[0] && getpwnam(cfg->run_user) == NULL) {
		char where[600];
		fprintf(stderr, "%s: run_user: no such user '%s' on this machine\n",
		        config_where(cfg, "run_user", where, sizeof(where)), cfg->run_user);
		config_free(cfg);
		return 1;
	}
	if (print)
		config_print(cfg, stdout);
	else
		printf("config ok\n");
	config_free(cfg);
	return 0;
}
