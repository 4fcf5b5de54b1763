/*
 * bounce.c - `mailerd bounce parse [--explain] [FILE|-]...`: read received
 * bounces and print one JSON object per line per recipient record, keys
 * file, recipient, status, replycode, reason, action, hardbounce,
 * diagnostic_code, smtp_agent (design.md interface contract), plus
 * feedback_type for feedback reports and, with --explain, "explain" (the
 * rule that decided the reason).
 *
 * A file that holds several messages (an mbox) adds "message", the
 * 1-based index of the message each record came from.
 *
 * A file that is not a bounce prints nothing. A file that cannot be read,
 * or is larger than max_message_size (-c FILE / -o max_message_size=N
 * change it), is reported on stderr and makes the exit code 1; the other
 * files are still parsed. A failed write of the output is exit 1 too.
 * Exit 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bounce/bounce.h"
#include "cli/cli.h"
#include "config/config.h"
#include "util/util.h"

static void bounce_usage(FILE *f)
{
	fputs("usage: mailerd bounce parse [-c FILE] [-o key=value]... [--explain] [FILE|-]...\n"
	      "  prints one JSON object per line per recipient record (a failure,\n"
	      "  delay, delivery, complaint or auto-reply); no FILE or - reads standard\n"
	      "  input. Files larger than max_message_size are refused.\n",
	      f);
}

/* read_all - the whole stream into *out, at most limit bytes; -1 with
 * errno EFBIG when larger */
static int read_all(FILE *fp, uint64_t limit, struct buf *out)
{
	struct stat st;
	size_t n;

	/* a regular file tells its size: read it straight into a buffer
	 * made that large once, instead of growing one chunk by chunk */
	if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((uint64_t)st.st_size > limit) {
			errno = EFBIG;
			return -1;
		}
		buf_reserve(out, (size_t)st.st_size);
	}
	for (;;) {
		if (out->cap <= out->len + 1)
			buf_reserve(out, 65536);
		n = fread(out->data + out->len, 1, out->cap - out->len - 1, fp);
		if (n == 0)
			break;
		if (out->len + n > limit) {
			errno = EFBIG;
			return -1;
		}
		out->len += n;
		out->data[out->len] = '\0';
	}
	return ferror(fp) ? -1 : 0;
}

/* json_str - s as a JSON string (RFC 8259 section 7), ASCII only: control
 * characters and every non-ASCII code point are \u escapes (a UTF-16
 * surrogate pair above U+FFFF); bytes that are not valid UTF-8 become
 * U+FFFD. Written by hand: the generic encoder was a tenth of the time of
 * a corpus run. */
static void json_str(struct buf *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[16];

	buf_putc(o, '"');
	while (*p) {
		unsigned c = *p;
		if (c == '"' || c == '\\') {
			buf_putc(o, '\\');
			buf_putc(o, (char)c);
			p++;
		} else if (c >= 0x20 && c < 0x80) {
			/* a run of plain ASCII goes in one copy: most of a
			 * diagnostic is plain */
			const unsigned char *q = p + 1;
			while (*q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
				q++;
			buf_append(o, p, (size_t)(q - p));
			p = q;
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			buf_puts(o, esc);
			p++;
		} else {
			/* one UTF-8 sequence (RFC 3629 section 3) */
			int n = c >= 0xf0 && c < 0xf5   ? 3
			        : c >= 0xe0             ? 2
			        : c >= 0xc2 && c < 0xe0 ? 1
			                                : -1;
			unsigned cp = n == 3 ? c & 0x07 : n == 2 ? c & 0x0f : c & 0x1f;
			int k;
			for (k = 1; n > 0 && k <= n; k++) {
				if ((p[k] & 0xc0) != 0x80)
					break;
				cp = cp << 6 | (p[k] & 0x3f);
			}
			if (n < 0 || k <= n || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000) ||
			    (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) {
				buf_puts(o, "\\ufffd");
				p++;
				continue;
			}
			if (cp >= 0x10000) {
				cp -= 0x10000;
				snprintf(esc, sizeof(esc), "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
				         0xdc00 + (cp & 0x3ff));
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", cp);
			}
			buf_puts(o, esc);
			p += n + 1;
		}
	}
	buf_putc(o, '"');
}

static void json_field(struct buf *o, const char *name, const char *val)
{
	buf_putc(o, ',');
	json_str(o, name);
	buf_putc(o, ':');
	json_str(o, val ? val : "");
}

static void print_record(const char *file, const struct bounce_record *r, bool explain)
{
	struct buf o = {0};

	buf_puts(&o, "{\"file\":");
	json_str(&o, file);
	json_field(&o, "recipient", r->recipient);
	json_field(&o, "status", r->status);
	json_field(&o, "replycode", r->replycode);
	json_field(&o, "reason", r->reason);
	json_field(&o, "action", r->action);
	buf_puts(&o, r->hardbounce ? ",\"hardbounce\":true" : ",\"hardbounce\":false");
	json_field(&o, "diagnostic_code", r->diagnostic_code);
	json_field(&o, "smtp_agent", r->smtp_agent);
	if (r->message) {
		char n[32];
		snprintf(n, sizeof(n), ",\"message\":%zu", r->message);
		buf_puts(&o, n);
	}
	if (r->feedback_type[0])
		json_field(&o, "feedback_type", r->feedback_type);
	if (explain)
		json_field(&o, "explain", r->rule);
	buf_puts(&o, "}\n");
	fwrite(o.data, 1, o.len, stdout);
	buf_free(&o);
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
		if (errno == EFBIG)
			fprintf(stderr,
			        "mailerd bounce: %s: larger than max_message_size (%llu bytes; "
			        "-o max_message_size=N raises it)\n",
			        name, (unsigned long long)limit);
		else
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
	/* the long options may stand anywhere before the files; -c and -o
	 * are the shared config options (cli_load_config) */
	for (int j = 2; j < argc; j++) {
		bool drop = false;
		if (strcmp(argv[j], "--") == 0)
			break;
		if (strcmp(argv[j], "--explain") == 0) {
			explain = drop = true;
		} else if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
			bounce_usage(stdout);
			return 0;
		} else if (strncmp(argv[j], "--", 2) == 0) {
			fprintf(stderr, "mailerd bounce: unknown option '%s'\n", argv[j]);
			bounce_usage(stderr);
			return 2;
		}
		if (drop) {
			for (int k = j; k < argc - 1; k++)
				argv[k] = argv[k + 1];
			argc--;
			j--;
		}
	}
	/* getopt sees argv[1] as its program name (for its messages) and
	 * stops at the first file name */
	argv[1] = (char *)"mailerd bounce parse";
	cfg = cli_load_config(argc - 1, argv + 1, NULL, NULL, NULL, NULL, &i);
	if (cfg == NULL)
		return 2;
	limit = cfg->max_message_size;
	config_free(cfg);
	i++; /* cli_load_config counted from argv + 1 */
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	bounce_init();
	for (; i < argc; i++) {
		any = true;
		if (parse_file(argv[i], limit, explain) != 0)
			rc = 1;
	}
	if (!any && parse_file("-", limit, explain) != 0)
		rc = 1;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mailerd bounce: writing the output: %s\n", strerror(errno));
		rc = 1;
	}
	return rc;
}
