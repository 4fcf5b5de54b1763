/*
 * csv.c - the contact list as RFC 4180 records, read one at a time.
 *
 * RFC 4180 section 2: fields separated by commas, records by line breaks;
 * a field may be enclosed in double quotes, and must be when it holds a
 * comma, a quote or a line break; a quote inside is written twice. We
 * also take LF alone as a line break (most exporters write it), skip
 * blank lines, and skip a UTF-8 byte order mark at the very start
 * (spreadsheets write one).
 *
 * Every record keeps its raw bytes, so the cleaned list can repeat a kept
 * row exactly as it was, other columns and their quoting untouched.
 *
 * How it fails: a quote inside an unquoted field, a character after a
 * closing quote, or a NUL byte makes the record malformed; the reader
 * then skips to the end of that line and goes on. A quote that is never
 * closed swallows the rest of the input (there is no way to know where
 * the field was meant to end), reported at the line where it opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts/contacts.h"
#include "util/util.h"

#define CSV_CHUNK 65536

struct contacts_csv {
	FILE *in;
	unsigned char chunk[CSV_CHUNK];
	size_t pos, len;
	bool eof;
	bool started;
	bool bom;
	size_t line;       /* line of the next byte */
	struct buf raw;    /* current record as read */
	struct buf fields; /* field values, each NUL-terminated */
	size_t *offs;      /* start of each field in fields */
	char **ptrs;
	size_t n, cap;
};

struct contacts_csv *contacts_csv_new(FILE *in)
{
	struct contacts_csv *c = xcalloc(1, sizeof(*c));

	c->in = in;
	c->line = 1;
	buf_init(&c->raw);
	buf_init(&c->fields);
	return c;
}

void contacts_csv_free(struct contacts_csv *c)
{
	if (c == NULL)
		return;
	buf_free(&c->raw);
	buf_free(&c->fields);
	free(c->offs);
	free(c->ptrs);
	free(c);
}

bool contacts_csv_had_bom(const struct contacts_csv *c)
{
	return c->bom;
}

/* fill - make at least one byte available; false at the end of input */
static bool fill(struct contacts_csv *c)
{
	if (c->pos < c->len)
		return true;
	if (c->eof)
		return false;
	c->len = fread(c->chunk, 1, sizeof(c->chunk), c->in);
	c->pos = 0;
	if (c->len < sizeof(c->chunk))
		c->eof = true; /* short read: end of file or error (ferror checked by caller) */
	if (!c->started) {
		c->started = true;
		/* the BOM is EF BB BF; a file shorter than a chunk holds it whole */
		if (c->len >= 3 && memcmp(c->chunk, "\xEF\xBB\xBF", 3) == 0) {
			c->bom = true;
			c->pos = 3;
		}
	}
	return c->pos < c->len;
}

static int peek(struct contacts_csv *c)
{
	return fill(c) ? c->chunk[c->pos] : -1;
}

/* get - consume one byte into the raw record; -1 at the end */
static int get(struct contacts_csv *c)
{
	int ch;

	if (!fill(c))
		return -1;
	ch = c->chunk[c->pos++];
	buf_putc(&c->raw, (char)ch);
	if (ch == '\n')
		c->line++;
	return ch;
}

/* skip_line - drop the rest of a malformed line */
static void skip_line(struct contacts_csv *c)
{
	int ch;

	while ((ch = get(c)) != -1 && ch != '\n')
		;
}

/* field_start - a new field begins at the current end of c->fields;
 * offsets, not pointers, because c->fields may move while growing */
static void field_start(struct contacts_csv *c)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->offs = xrealloc(c->offs, c->cap * sizeof(*c->offs));
		c->ptrs = xrealloc(c->ptrs, c->cap * sizeof(*c->ptrs));
	}
	c->offs[c->n++] = c->fields.len;
}

/* at_eol - ch ends the record: LF, CRLF, or the end of input (a CR not
 * followed by LF is data) */
static bool at_eol(struct contacts_csv *c, int ch)
{
	if (ch == -1 || ch == '\n')
		return true;
	if (ch == '\r' && peek(c) == '\n') {
		get(c);
		return true;
	}
	if (ch == '\r' && peek(c) == -1)
		return true;
	return false;
}

/* malformed - say why, and resynchronise at the next line so one bad
 * line costs one record, not the rest of the file */
static int malformed(struct contacts_csv *c, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	skip_line(c);
	return -1;
}

int contacts_csv_next(struct contacts_csv *c, struct contacts_record *rec, char *err, size_t errlen)
{
	int ch;

	memset(rec, 0, sizeof(*rec));
	for (;;) {
		buf_reset(&c->raw);
		buf_reset(&c->fields);
		c->n = 0;
		rec->line = c->line;
		ch = get(c);
		if (ch == -1)
			return ferror(c->in) ? (snprintf(err, errlen, "read error"), -1) : 0;
		if (!at_eol(c, ch))
			break;
		/* a blank line: not a record */
	}
	for (;;) {
		field_start(c);
		if (ch == '"') {
			size_t opened = c->line;

			for (;;) {
				ch = get(c);
				if (ch == -1) {
					snprintf(err, errlen,
					         "the quote opened on line %zu is never closed "
					         "(the rest of the file was skipped)",
					         opened);
					return -1;
				}
				if (ch == '"') {
					if (peek(c) != '"')
						break;
					get(c); /* "" inside quotes is one quote */
				}
				if (ch == '\0')
					return malformed(c, err, errlen,
					                 "a NUL byte inside a field");
				buf_putc(&c->fields, (char)ch);
			}
			ch = get(c);
			if (ch != ',' && !at_eol(c, ch))
				return malformed(
				    c, err, errlen,
				    "only a comma or the end of the line may follow a closing "
				    "quote");
		} else {
			while (ch != ',' && !at_eol(c, ch)) {
				if (ch == '"')
					return malformed(
					    c, err, errlen,
					    "a quote inside an unquoted field (quote the "
					    "whole field and double the quote)");
				if (ch == '\0')
					return malformed(c, err, errlen,
					                 "a NUL byte inside a field");
				buf_putc(&c->fields, (char)ch);
				ch = get(c);
			}
		}
		buf_putc(&c->fields, '\0');
		if (ch != ',')
			break;
		ch = get(c);
	}
	for (size_t i = 0; i < c->n; i++)
		c->ptrs[i] = c->fields.data + c->offs[i];
	rec->field = c->ptrs;
	rec->n = c->n;
	rec->raw = c->raw.data;
	rec->raw_len = c->raw.len;
	return 1;
}

/* Leading or trailing blanks are quoted too: some readers trim unquoted
 * fields, and an address with a blank must come back as written. */
void contacts_csv_put(struct buf *out, const char *field)
{
	size_t len = strlen(field);
	bool quote = strpbrk(field, ",\"\r\n") != NULL ||
	             (len > 0 && (field[0] == ' ' || field[0] == '\t' || field[len - 1] == ' ' ||
	                          field[len - 1] == '\t'));

	if (!quote) {
		buf_append(out, field, len);
		return;
	}
	buf_putc(out, '"');
	for (const char *p = field; *p; p++) {
		if (*p == '"')
			buf_putc(out, '"');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}
