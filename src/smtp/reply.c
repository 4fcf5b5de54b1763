/*
 * reply.c - SMTP reply parsing for the client side (RFC 5321 section 4.2).
 *
 * Owns smtp_reply_init / smtp_reply_feed. A reply is one or more lines
 * "ddd-text" ending with a line "ddd text" (or just "ddd"); every line of a
 * reply carries the same code (section 4.2.1). The parser is fed one line
 * at a time, without its CRLF (a stray CR or LF at the end is dropped), and
 * builds:
 *   code     the three-digit code
 *   text     the lines' texts without codes, joined by one space; when it
 *            does not fit it is cut and ends in "..."
 *   line_kw  the first word of each of the first 16 lines, upper-cased and
 *            cut to 31 bytes: the EHLO keywords (RFC 5321 section 4.1.1.1;
 *            line 0 is the greeting, the server's name)
 * The remote is untrusted: a line that is not "ddd", "ddd text" or
 * "ddd-text" with a first digit 2-5, a code that changes inside one reply,
 * a NUL byte, or more than SMTP_REPLY_MAX_LINES lines is malformed (-1), and
 * the caller drops the connection. Pure: no I/O, no allocation.
 * The caller calls smtp_reply_init before each new reply.
 */
#include <ctype.h>
#include <string.h>

#include "smtp/smtp.h"

/* No legitimate reply needs this many lines (a large EHLO has ~20); the
 * bound keeps a hostile server from holding a session with an endless
 * continuation. */
#define SMTP_REPLY_MAX_LINES 100
#define SMTP_REPLY_KW_LINES \
	(sizeof(((struct smtp_reply *)0)->line_kw) / sizeof(((struct smtp_reply *)0)->line_kw[0]))

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* Appends bytes to r->text. On overflow the text is cut on a UTF-8
 * character boundary and ends in "..."; a text that is already cut (it
 * ends in "..." within a few bytes of the end) takes nothing more. */
static void smtp_reply_append(struct smtp_reply *r, const char *s, size_t n)
{
	const size_t cap = sizeof(r->text) - 1;
	size_t used = strlen(r->text);
	size_t p;

	if (used + 7 >= cap && used >= 3 && memcmp(r->text + used - 3, "...", 3) == 0)
		return;
	if (used + n <= cap) {
		memcpy(r->text + used, s, n);
		r->text[used + n] = '\0';
		return;
	}
	memcpy(r->text + used, s, cap - used);
	r->text[cap] = '\0';
	p = cap - 3;
	while (p > 0 && ((unsigned char)r->text[p] & 0xC0) == 0x80)
		p--;
	memcpy(r->text + p, "...", 4);
}

int smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	int code;
	bool last;
	const char *rest;
	size_t rlen;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len < 3 || memchr(line, '\0', len) != NULL)
		return -1;
	if (line[0] < '2' || line[0] > '5' || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3)
		last = true;
	else if (line[3] == ' ')
		last = true;
	else if (line[3] == '-')
		last = false;
	else
		return -1;
	if (r->nlines > 0 && code != r->code)
		return -1; /* section 4.2.1: one code per reply */
	if (r->nlines >= SMTP_REPLY_MAX_LINES)
		return -1;
	r->code = code;

	rest = len > 4 ? line + 4 : line + len;
	rlen = len > 4 ? len - 4 : 0;
	if (r->nlines > 0 && rlen > 0 && r->text[0] != '\0')
		smtp_reply_append(r, " ", 1);
	smtp_reply_append(r, rest, rlen);

	if (r->nlines < SMTP_REPLY_KW_LINES) {
		char *kw = r->line_kw[r->nlines];
		size_t k = 0;

		while (k < rlen && rest[k] != ' ' && k < sizeof(r->line_kw[0]) - 1) {
			kw[k] = (char)toupper((unsigned char)rest[k]);
			k++;
		}
		kw[k] = '\0';
	}
	r->nlines++;
	return last ? 1 : 0;
}
