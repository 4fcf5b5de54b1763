/*
 * bounce.c - `mailerd bounce parse [--explain] [FILE|-]...`: read received
 * bounces and print one JSON object per line per recipient record, keys
 * file, recipient, status, replycode, reason, action, hardbounce,
 * diagnostic_code, smtp_agent (design.md interface contract), plus
 * feedback_type for feedback reports and, with --explain, "explain" (the
 * rule that decided the reason).
 *
 * A file that is not a bounce prints nothing. A file that cannot be read,
 * or is larger than max_message_size, is reported on stderr and makes the
 * exit code 1; the other files are still parsed. Exit 2 on bad usage.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/bounce.h"
#include "cli/cli.h"
#include "config/config.h"
#include "util/util.h"

static void bounce_usage(FILE *f)
{
	fputs("usage: mailerd bounce parse [--explain] [FILE|-]...\n"
	      "  prints one JSON object per line per recipient record; no FILE or -\n"
	      "  reads standard input\n",
	      f);
}

/* read_all - the whole stream into *out, at most limit bytes; -1 with
 * errno EFBIG when larger */
static int read_all(FILE *fp, uint64_t limit, struct buf *out)
{
	char chunk[65536];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (out->len + n > limit) {
			errno = EFBIG;
			return -1;
		}
		buf_append(out, chunk, n);
	}
	return ferror(fp) ? -1 : 0;
}

static void print_record(const char *file, const struct bounce_record *r, bool explain)
{
	json_t *o = json_object();
	char *line;

	/* json_string rejects invalid UTF-8; the parser hands out valid
	 * UTF-8 for text it decoded, and the file name is escaped here */
	json_object_set_new(o, "file", json_stringn_nocheck(file, strlen(file)));
	json_object_set_new(o, "recipient", json_string_nocheck(r->recipient));
	json_object_set_new(o, "status", json_string_nocheck(r->status));
	json_object_set_new(o, "replycode", json_string_nocheck(r->replycode));
	json_object_set_new(o, "reason", json_string_nocheck(r->reason));
	json_object_set_new(o, "action", json_string_nocheck(r->action));
	json_object_set_new(o, "hardbounce", json_boolean(r->hardbounce));
	json_object_set_new(o, "diagnostic_code",
			    json_string_nocheck(r->diagnostic_code ? r->diagnostic_code : ""));
	json_object_set_new(o, "smtp_agent", json_string_nocheck(r->smtp_agent));
	if (r->feedback_type[0])
		json_object_set_new(o, "feedback_type", json_string_nocheck(r->feedback_type));
	if (explain)
		json_object_set_new(o, "explain", json_string_nocheck(r->rule));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	if (line) {
		puts(line);
		free(line);
	}
	json_decref(o);
}

static int parse_file(const char *name, uint64_t limit, bool explain)
{
	struct buf data = {0};
	struct bounce_result res = {0};
	FILE *fp = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
	int rc = 0;

	if (!fp) {
		fprintf(stderr, "mailerd bounce: %s: %s\n", name, strerror(errno));
		return 1;
	}
	if (read_all(fp, limit, &data) < 0) {
		fprintf(stderr, "mailerd bounce: %s: %s\n", name, strerror(errno));
		rc = 1;
	} else {
		bounce_parse(data.data ? data.data : "", data.len, &res);
		for (size_t i = 0; i < res.n; i++)
			print_record(name, &res.recs[i], explain);
	}
	if (fp != stdin)
		fclose(fp);
	bounce_result_free(&res);
	buf_free(&data);
	return rc;
}

int cli_bounce(int argc, char **argv)
{
	struct config *cfg;
	bool explain = false, any = false;
	uint64_t limit;
	int rc = 0, i = 2;

	if (argc < 2 || strcmp(argv[1], "parse") != 0) {
		bounce_usage(stderr);
		return 2;
	}
	cfg = config_new();
	limit = cfg->max_message_size;
	config_free(cfg);
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--explain") == 0) {
			explain = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			bounce_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			bounce_usage(stderr);
			return 2;
		} else {
			break;
		}
	}
	bounce_init();
	for (; i < argc; i++) {
		any = true;
		if (parse_file(argv[i], limit, explain) != 0)
			rc = 1;
	}
	if (!any && parse_file("-", limit, explain) != 0)
		rc = 1;
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
