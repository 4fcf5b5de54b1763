/*
 * suppress.c - `mailerd suppress`: the suppression list from the command
 * line, straight against state_db (no daemon needed; a running daemon
 * picks the changes up within suppress_refresh).
 *
 *   list                        address, since, source, reason (tab-separated)
 *   add ADDR [--reason R]       source "manual"
 *   remove ADDR --reason R      the reason goes to the audit trail
 *   check ADDR                  exit 0 not suppressed, 1 suppressed (says
 *                               why), 2 on errors
 *   import FILE.csv             see suppress_import_csv
 *   export [FILE.csv]           to stdout without a file
 *   stats                       by reason, by recipient domain, events,
 *                               backscatter, removals
 *
 * Also cli_suppress_mark, used by `mailerd send`: recipients on the list
 * are failed with 550 5.1.1 before the message is queued, so the normal
 * report path tells the sender (issue 6: "for mailerd send, a report to
 * the sender").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "config/config.h"
#include "spool/spool.h"
#include "suppress/suppress.h"
#include "util/mailog.h"
#include "util/outcome.h"
#include "util/util.h"

#define EX_ERR 2

static const char usage_text[] = "usage: mailerd suppress [-c FILE] [-o k=v] list\n"
                                 "       mailerd suppress [-c FILE] add ADDR [--reason TEXT]\n"
                                 "       mailerd suppress [-c FILE] remove ADDR --reason TEXT\n"
                                 "       mailerd suppress [-c FILE] check ADDR\n"
                                 "       mailerd suppress [-c FILE] import FILE.csv\n"
                                 "       mailerd suppress [-c FILE] export [FILE.csv]\n"
                                 "       mailerd suppress [-c FILE] stats\n";

static void iso_date(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* take_reason - remove "--reason TEXT" / "--reason=TEXT" from argv;
 * returns TEXT or NULL; -1 in *bad when --reason has no value */
static const char *take_reason(int *argc, char **argv, int from, bool *bad)
{
	const char *r = NULL;

	for (int i = from; i < *argc; i++) {
		int drop = 0;
		if (strcmp(argv[i], "--reason") == 0) {
			if (i + 1 >= *argc) {
				*bad = true;
				return NULL;
			}
			r = argv[i + 1];
			drop = 2;
		} else if (strncmp(argv[i], "--reason=", 9) == 0) {
			r = argv[i] + 9;
			drop = 1;
		}
		if (drop) {
			for (int j = i; j + drop < *argc; j++)
				argv[j] = argv[j + drop];
			*argc -= drop;
			i--;
		}
	}
	return r;
}

static int print_row(const struct suppress_entry *e, void *arg)
{
	char when[40];

	(void)arg;
	iso_date(e->created_ms, when, sizeof(when));
	printf("%s\t%s\t%s\t%s%s%s\n", e->address, when, suppress_source_name(e->source), e->reason,
	       e->status[0] ? " " : "", e->status);
	return ferror(stdout) ? -2 : 0;
}

static int cmd_stats(struct suppress_store *st)
{
	struct suppress_stats s;
	char err[600];

	if (suppress_stats(st, 20, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "suppress stats: %s\n", err);
		return EX_ERR;
	}
	printf("suppressed addresses: %llu\n", (unsigned long long)s.total);
	printf("by reason:\n");
	for (size_t i = 0; i < s.n_reason; i++)
		printf("  %-40s %llu\n", s.by_reason[i].key, (unsigned long long)s.by_reason[i].n);
	printf("by recipient domain (largest %zu):\n", s.n_domain);
	for (size_t i = 0; i < s.n_domain; i++)
		printf("  %-40s %llu\n", s.by_domain[i].key, (unsigned long long)s.by_domain[i].n);
	printf("bounce events: hard %llu, soft %llu, complaints %llu, other %llu\n",
	       (unsigned long long)s.bounces_hard, (unsigned long long)s.bounces_soft,
	       (unsigned long long)s.complaints, (unsigned long long)s.bounces_other);
	printf("backscatter (bounces for mail not sent here): %llu\n",
	       (unsigned long long)s.backscatter);
	printf("removals: %llu\n", (unsigned long long)s.removals);
	suppress_stats_free(&s);
	return 0;
}

static int run(struct suppress_store *st, int argc, char **argv, const char *reason)
{
	const char *cmd = argv[0];
	struct suppress_entry e;
	char err[600], text[400];
	int r;

	if (strcmp(cmd, "list") == 0 && argc == 1) {
		r = suppress_list(st, print_row, NULL, err, sizeof(err));
		if (r == -1)
			fprintf(stderr, "suppress list: %s\n", err);
		return r == 0 ? 0 : EX_ERR;
	}
	if (strcmp(cmd, "add") == 0 && argc == 2) {
		memset(&e, 0, sizeof(e));
		util_strlcpy(e.address, argv[1], sizeof(e.address));
		util_strlcpy(e.reason, reason ? reason : "added by the operator", sizeof(e.reason));
		e.source = SUPPRESS_SRC_MANUAL;
		r = suppress_add(st, &e, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "suppress add: %s\n", err);
			return EX_ERR;
		}
		printf(r == 0 ? "%s: suppressed\n" : "%s: already suppressed (kept as it was)\n",
		       argv[1]);
		return 0;
	}
	if (strcmp(cmd, "remove") == 0 && argc == 2) {
		if (reason == NULL || reason[0] == '\0') {
			fprintf(stderr,
			        "suppress remove: give the reason with --reason TEXT (it is "
			        "kept in the audit trail)\n");
			return EX_ERR;
		}
		r = suppress_remove(st, argv[1], reason, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "suppress remove: %s\n", err);
			return EX_ERR;
		}
		printf(r == 0 ? "%s: removed\n" : "%s: was not suppressed\n", argv[1]);
		return 0;
	}
	if (strcmp(cmd, "check") == 0 && argc == 2) {
		r = suppress_lookup(st, argv[1], &e, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "suppress check: %s\n", err);
			return EX_ERR;
		}
		if (r == 0) {
			printf("%s: not suppressed\n", argv[1]);
			return 0;
		}
		suppress_describe(&e, text, sizeof(text));
		printf("%s: %s%s%s\n", e.address, text, e.detail[0] ? "; " : "", e.detail);
		return 1;
	}
	if (strcmp(cmd, "import") == 0 && argc == 2) {
		struct suppress_import_result res;
		FILE *f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
		if (f == NULL) {
			fprintf(stderr, "suppress import: %s: %s\n", argv[1], strerror(errno));
			return EX_ERR;
		}
		r = suppress_import_csv(st, f, stderr, &res, err, sizeof(err));
		if (f != stdin)
			fclose(f);
		if (r < 0) {
			fprintf(stderr, "suppress import: %s\n", err);
			return EX_ERR;
		}
		printf("imported: %llu added, %llu already suppressed, %llu skipped\n",
		       (unsigned long long)res.added, (unsigned long long)res.existing,
		       (unsigned long long)res.skipped);
		return res.skipped ? 1 : 0;
	}
	if (strcmp(cmd, "export") == 0 && argc <= 2) {
		FILE *f = argc == 2 && strcmp(argv[1], "-") != 0 ? fopen(argv[1], "w") : stdout;
		if (f == NULL) {
			fprintf(stderr, "suppress export: %s: %s\n", argv[1], strerror(errno));
			return EX_ERR;
		}
		r = suppress_export_csv(st, f, err, sizeof(err));
		if (f != stdout && fclose(f) != 0 && r == 0) {
			snprintf(err, sizeof(err), "%s: %s", argv[1], strerror(errno));
			r = -1;
		}
		if (r < 0) {
			fprintf(stderr, "suppress export: %s\n", err);
			return EX_ERR;
		}
		return 0;
	}
	if (strcmp(cmd, "stats") == 0 && argc == 1)
		return cmd_stats(st);
	static const char *const known[] = {"list",   "add",    "remove", "check",
	                                    "import", "export", "stats",  NULL};
	bool is_known = false;
	for (size_t i = 0; known[i]; i++)
		is_known = is_known || strcmp(cmd, known[i]) == 0;
	if (!is_known)
		fprintf(stderr, "suppress: unknown sub-command '%s'\n", cmd);
	fputs(usage_text, stderr);
	return EX_ERR;
}

int cli_suppress(int argc, char **argv)
{
	struct suppress_policy pol;
	struct suppress_store *st;
	struct config *cfg;
	const char *reason;
	bool bad = false;
	char err[600];
	int first, rc;

	reason = take_reason(&argc, argv, 1, &bad);
	if (bad) {
		fprintf(stderr, "suppress: --reason needs a text\n");
		return EX_ERR;
	}
	cfg = cli_load_config(argc, argv, NULL, NULL, NULL, NULL, &first);
	if (cfg == NULL)
		return EX_ERR;
	if (first >= argc) {
		fputs(usage_text, stderr);
		config_free(cfg);
		return EX_ERR;
	}
	/* the command line is quiet: migrations and reconnects are not news */
	log_set_level(LOG_WARN);
	suppress_policy_from_config(cfg, &pol);
	st = suppress_open(cfg->state_db, &pol, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "suppress: %s\n", err);
		config_free(cfg);
		return EX_ERR;
	}
	rc = run(st, argc - first, argv + first, reason);
	suppress_close(st);
	config_free(cfg);
	return rc;
}

int cli_suppress_mark(const struct config *cfg, struct spool_msg *m)
{
	struct suppress_store *st;
	char err[600], text[400];
	int n = 0;

	st = suppress_open(cfg->state_db, NULL, err, sizeof(err));
	if (st == NULL) {
		/* the list is a courtesy to the sender, not a reason to lose mail */
		log_warn("send: suppression list not checked: %s", err);
		return 0;
	}
	for (size_t i = 0; i < m->n_rcpt; i++) {
		struct spool_rcpt *r = &m->rcpt[i];
		struct suppress_entry e;
		if (r->state != RCPT_PENDING ||
		    suppress_lookup(st, r->addr, &e, err, sizeof(err)) != 1)
			continue;
		suppress_describe(&e, text, sizeof(text));
		r->state = RCPT_FAILED;
		r->reported = false;
		r->last_attempt_ms = util_now_ms();
		outcome_set(&r->last, OUTCOME_PERM, 550, "5.1.1", "", "<%s>: %s", r->addr, text);
		n++;
	}
	suppress_close(st);
	return n;
}

void cli_suppress_log(const struct spool_msg *m, const char *client)
{
	for (size_t i = 0; i < m->n_rcpt; i++) {
		const struct spool_rcpt *r = &m->rcpt[i];
		if (r->state == RCPT_FAILED && r->last.code == 550 &&
		    strstr(r->last.text, "recipient suppressed since") != NULL) {
			mailog_suppressed(m->id, m->sender, r->addr, client, r->last.text);
			fprintf(stderr, "send: %s; the sender gets a report\n", r->last.text);
		}
	}
}
