/*
 * csv.c - suppressions in and out as CSV (RFC 4180): fields separated by
 * commas, a field with a comma, quote, CR or LF is quoted and its quotes
 * doubled; lines end in CRLF on output, CRLF or LF on input; a quoted
 * field may span lines. Text is UTF-8 and passed through as bytes.
 *
 * Export columns: address,reason,source,created_at,status,detail
 * (created_at as ISO 8601 UTC "2026-12-03T10:00:00Z"), so an export
 * imported again gives the same rows.
 *
 * Import reads a header naming the columns (address or email, and any of
 * the others) or, when the first line has no such name, takes the first
 * column as the address. Rows are committed in batches so a ten-million
 * line import neither holds one huge transaction nor pays one commit per
 * line. Bad lines are reported and skipped; a store error stops it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suppress/internal.h"
#include "util/util.h"

#define IMPORT_BATCH   5000
#define CSV_MAX_FIELDS 64

/* ---- output ---- */

static void put_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' &&
	    (s[0] == '\0' || s[strlen(s) - 1] != ' ')) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void iso_seconds(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int export_row(const struct suppress_entry *e, void *arg)
{
	FILE *f = arg;
	char when[40];

	iso_seconds(e->created_ms, when, sizeof(when));
	put_field(f, e->address);
	fputc(',', f);
	put_field(f, e->reason);
	fputc(',', f);
	put_field(f, suppress_source_name(e->source));
	fputc(',', f);
	put_field(f, when);
	fputc(',', f);
	put_field(f, e->status);
	fputc(',', f);
	put_field(f, e->detail);
	fputs("\r\n", f);
	return ferror(f) ? -2 : 0;
}

int suppress_export_csv(struct suppress_store *st, FILE *out, char *err, size_t errlen)
{
	int r;

	fputs("address,reason,source,created_at,status,detail\r\n", out);
	r = suppress_list(st, export_row, out, err, errlen);
	if (r == -2 || (r == 0 && (fflush(out) != 0 || ferror(out)))) {
		snprintf(err, errlen, "cannot write the CSV output");
		return -1;
	}
	return r < 0 ? -1 : 0;
}

/* ---- input ---- */

struct csv_row {
	char *f[CSV_MAX_FIELDS];
	size_t n;
	struct buf raw; /* field bytes, NUL-separated */
};

/* csv_read_row - one record (may span lines inside quotes). Returns 1, 0
 * at the end of input, -1 on an unterminated quote or too many fields. */
static int csv_read_row(FILE *in, struct csv_row *r, unsigned long *line)
{
	size_t starts[CSV_MAX_FIELDS];
	bool quoted = false, any = false, after_quote = false;
	int c;

	buf_reset(&r->raw);
	r->n = 0;
	starts[r->n++] = 0;
	while ((c = getc(in)) != EOF) {
		any = true;
		if (quoted) {
			if (c == '"') {
				int d = getc(in);
				if (d == '"') {
					buf_putc(&r->raw, '"');
					continue;
				}
				if (d != EOF)
					ungetc(d, in);
				quoted = false;
				after_quote = true;
				continue;
			}
			if (c == '\n')
				(*line)++;
			buf_putc(&r->raw, (char)c);
			continue;
		}
		if (c == '"' && !after_quote) {
			quoted = true;
			continue;
		}
		if (c == ',') {
			buf_putc(&r->raw, '\0');
			if (r->n == CSV_MAX_FIELDS)
				return -1;
			starts[r->n++] = r->raw.len;
			after_quote = false;
			continue;
		}
		if (c == '\r')
			continue;
		if (c == '\n') {
			(*line)++;
			break;
		}
		buf_putc(&r->raw, (char)c);
	}
	if (quoted)
		return -1;
	if (!any)
		return 0;
	buf_putc(&r->raw, '\0');
	for (size_t i = 0; i < r->n; i++)
		r->f[i] = r->raw.data + starts[i];
	return 1;
}

enum { COL_ADDR, COL_REASON, COL_SOURCE, COL_CREATED, COL_STATUS, COL_DETAIL, COL_N };

/* parse_iso - "2026-12-03T10:00:00Z" (or a date alone) -> ms; -1 bad */
static int64_t parse_iso(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL)
		return -1;
	if (*end == '.') /* fractions of a second are dropped */
		end += 1 + strspn(end + 1, "0123456789");
	if (*end == 'Z')
		end++;
	if (*end != '\0')
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

static const char *col(const struct csv_row *r, const int *map, int c)
{
	return map[c] >= 0 && (size_t)map[c] < r->n ? r->f[map[c]] : "";
}

int suppress_import_csv(struct suppress_store *st, FILE *in, FILE *errout,
                        struct suppress_import_result *res, char *err, size_t errlen)
{
	static const char *const names[COL_N] = {"address",    "reason", "source",
	                                         "created_at", "status", "detail"};
	struct csv_row r = {0};
	int map[COL_N];
	unsigned long line = 0, at;
	size_t in_batch = 0;
	bool header = true, in_tx = false;
	int rc = -1, k;

	memset(res, 0, sizeof(*res));
	for (int i = 0; i < COL_N; i++)
		map[i] = -1;
	map[COL_ADDR] = 0;
	while (at = line + 1, (k = csv_read_row(in, &r, &line)) != 0) {
		struct suppress_entry e;
		const char *v;
		int s;

		if (k < 0) {
			if (errout)
				fprintf(errout, "%lu: unterminated quote or too many fields\n", at);
			res->skipped++;
			break;
		}
		if (header) {
			bool named = false;
			header = false;
			for (size_t i = 0; i < r.n; i++) {
				char *name = util_trim(r.f[i]);
				util_lowercase(name);
				for (int c = 0; c < COL_N; c++)
					if (strcmp(name, names[c]) == 0 ||
					    (c == COL_ADDR && strcmp(name, "email") == 0)) {
						map[c] = (int)i;
						named = true;
					}
			}
			if (named)
				continue;
			map[COL_ADDR] = 0; /* no header: this line is data */
		}
		if (r.n == 1 && r.f[0][0] == '\0')
			continue; /* empty line */
		memset(&e, 0, sizeof(e));
		if (suppress_normalize(col(&r, map, COL_ADDR), e.address, sizeof(e.address)) < 0) {
			if (errout)
				fprintf(errout, "%lu: '%s' is not an address (local@domain)\n", at,
				        col(&r, map, COL_ADDR));
			res->skipped++;
			continue;
		}
		util_strlcpy(e.reason, col(&r, map, COL_REASON), sizeof(e.reason));
		util_strlcpy(e.status, col(&r, map, COL_STATUS), sizeof(e.status));
		util_strlcpy(e.detail, col(&r, map, COL_DETAIL), sizeof(e.detail));
		s = suppress_source_parse(col(&r, map, COL_SOURCE));
		e.source = s < 0 ? SUPPRESS_SRC_IMPORT : (enum suppress_source)s;
		v = col(&r, map, COL_CREATED);
		if (v[0] && (e.created_ms = parse_iso(v)) < 0) {
			if (errout)
				fprintf(errout, "%lu: created_at '%s' is not an ISO 8601 date\n",
				        at, v);
			res->skipped++;
			continue;
		}
		if (!in_tx) {
			if (store_begin(st, err, errlen) < 0)
				goto out;
			in_tx = true;
		}
		k = store_insert(st, &e, err, errlen);
		if (k < 0)
			goto out;
		if (k == 0)
			res->added++;
		else
			res->existing++;
		if (++in_batch == IMPORT_BATCH) {
			in_tx = false;
			in_batch = 0;
			if (store_commit(st, err, errlen) < 0)
				goto out;
		}
	}
	if (ferror(in)) {
		snprintf(err, errlen, "cannot read the CSV input");
		goto out;
	}
	if (in_tx) {
		in_tx = false;
		if (store_commit(st, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	if (in_tx)
		store_rollback(st);
	buf_free(&r.raw);
	return rc;
}
