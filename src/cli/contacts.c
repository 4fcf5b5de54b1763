/*
 * contacts.c - `mailerd contacts check`: clean a contact list before
 * sending to it (src/contacts does the work).
 *
 *   mailerd contacts check [-c FILE] [-o k=v]... [--report FILE] [--out FILE]
 *                          [--parallel N] CONTACTS.csv|-
 *
 * The report (address,verdict,detail,suggestion) goes to --report or to
 * stdout; --out writes the cleaned list: the header and the rows whose
 * verdict is ok, unchanged. The summary goes to stderr. Settings used:
 * dns_servers, dns_timeout, state_db (the suppression list).
 *
 * Exit status: 0 when the list was checked, whatever was found in it;
 * 1 when it could not be (unreadable file, DNS or store trouble, write
 * error) or when malformed CSV lines were skipped (FILE:LINE: messages);
 * 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "contacts/contacts.h"
#include "util/util.h"

static const char usage_text[] =
    "usage: mailerd contacts check [-c FILE] [-o k=v]... [--report FILE] [--out FILE]\n"
    "                              [--parallel N] CONTACTS.csv|-\n"
    "  --report FILE  the per-address report (default: stdout)\n"
    "  --out FILE     the cleaned list: header and ok rows only, other columns kept\n"
    "  --parallel N   DNS lookups in flight at once (default 32)\n";

struct copts {
	const char *report, *out;
	size_t parallel;
};

/* take_long - remove "--name VALUE" / "--name=VALUE" options from argv
 * (getopt in cli_load_config knows only short ones); -1 on a bad one */
static int take_long(int *argc, char **argv, struct copts *co)
{
	static const char *const names[] = {"--report", "--out", "--parallel", NULL};

	for (int i = 1; i < *argc; i++) {
		const char *val = NULL;
		int k, drop = 0;

		for (k = 0; names[k] != NULL; k++) {
			size_t n = strlen(names[k]);
			if (strcmp(argv[i], names[k]) == 0) {
				if (i + 1 >= *argc) {
					fprintf(stderr, "contacts: %s needs a value\n", names[k]);
					return -1;
				}
				val = argv[i + 1];
				drop = 2;
				break;
			}
			if (strncmp(argv[i], names[k], n) == 0 && argv[i][n] == '=') {
				val = argv[i] + n + 1;
				drop = 1;
				break;
			}
		}
		if (drop == 0)
			continue;
		if (k == 0) {
			co->report = val;
		} else if (k == 1) {
			co->out = val;
		} else {
			char *end;
			unsigned long v = strtoul(val, &end, 10);
			if (*val == '\0' || *end != '\0' || v == 0 || v > 10000) {
				fprintf(stderr,
				        "contacts: --parallel wants a number from 1 to 10000\n");
				return -1;
			}
			co->parallel = v;
		}
		for (int j = i; j + drop < *argc; j++)
			argv[j] = argv[j + drop];
		*argc -= drop;
		i--;
	}
	return 0;
}

/* close_out - fclose a file we opened, reporting a failed final write */
static int close_out(FILE *f, const char *path)
{
	if (f == NULL || f == stdout)
		return f == stdout && fflush(stdout) != 0 ? -1 : 0;
	if (fclose(f) != 0) {
		fprintf(stderr, "contacts: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int cli_contacts(int argc, char **argv)
{
	struct copts co = {0};
	struct contacts_options o;
	struct contacts_summary sum;
	struct config *cfg;
	FILE *in = NULL, *report = NULL, *out = NULL;
	const char *input;
	char err[600];
	int first, rc = 1;
	bool verb_first;

	if (take_long(&argc, argv, &co) < 0) {
		fputs(usage_text, stderr);
		return 2;
	}
	/* Both `contacts check -c F list.csv` (the documented order) and
	 * `contacts -c F check list.csv`. */
	verb_first = argc >= 2 && strcmp(argv[1], "check") == 0;
	if (verb_first) {
		cfg = cli_load_config(argc - 1, argv + 1, NULL, NULL, NULL, NULL, &first);
		first++;
	} else {
		cfg = cli_load_config(argc, argv, NULL, NULL, NULL, NULL, &first);
		if (cfg != NULL && (first >= argc || strcmp(argv[first], "check") != 0)) {
			if (first < argc)
				fprintf(stderr, "contacts: unknown sub-command '%s'\n",
				        argv[first]);
			fputs(usage_text, stderr);
			config_free(cfg);
			return 2;
		}
		first++;
	}
	if (cfg == NULL)
		return 2;
	if (argc - first != 1) {
		fputs(usage_text, stderr);
		config_free(cfg);
		return 2;
	}
	/* Outputs are opened before the run so a wrong path fails at once,
	 * not after minutes of DNS. */
	input = argv[first];
	in = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
	if (in == NULL) {
		fprintf(stderr, "contacts: %s: %s\n", input, strerror(errno));
		goto done;
	}
	report = co.report != NULL ? fopen(co.report, "wb") : stdout;
	if (report == NULL) {
		fprintf(stderr, "contacts: %s: %s\n", co.report, strerror(errno));
		goto done;
	}
	if (co.out != NULL && (out = fopen(co.out, "wb")) == NULL) {
		fprintf(stderr, "contacts: %s: %s\n", co.out, strerror(errno));
		goto done;
	}
	memset(&o, 0, sizeof(o));
	o.input_name = input;
	o.report = report;
	o.out = out;
	o.dns_servers = cfg->dns_servers;
	o.dns_timeout_ms = cfg->dns_timeout_ms;
	o.state_db = cfg->state_db;
	o.max_inflight = co.parallel;
	if (contacts_check(in, &o, &sum, err, sizeof(err)) < 0) {
		fprintf(stderr, "contacts: %s\n", err);
		goto done;
	}
	contacts_summary_print(&sum, stderr);
	if (out != NULL)
		fprintf(stderr,
		        "cleaned list: %llu ok rows written to %s (every other verdict left out)\n",
		        (unsigned long long)sum.written, co.out);
	/* Skipped lines mean the report does not cover the whole file: the
	 * caller of a script must notice. */
	rc = sum.malformed > 0 ? 1 : 0;
done:
	if (close_out(report, co.report) < 0 || close_out(out, co.out) < 0)
		rc = 1;
	if (in != NULL && in != stdin)
		fclose(in);
	config_free(cfg);
	return rc;
}
