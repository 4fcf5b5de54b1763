/*
 * data.c - the byte-level DATA reader (RFC 5321 sections 4.1.4, 4.5.2)
 * and the header-section scan that tells the session which fields to add.
 *
 * Only CR LF "." CR LF ends the data. Anything that a lax receiver could
 * read as a line end (a bare LF, a bare CR) is the raw material of SMTP
 * smuggling, so it is flagged; in normalize mode it becomes CRLF, and a
 * "." line touching a bare line end is stored as ".." so it can never turn
 * into an end-of-data mark on the next hop. The body is produced in wire
 * form: CRLF line ends, client dot-stuffing kept, the final "." dropped.
 *
 * A line longer than 998 octets (RFC 5321 section 4.5.3.1.6) is flagged
 * too; the session refuses the message rather than split the line.
 *
 * The reader is a small state machine fed arbitrary chunks, so a line end
 * or the end mark may straddle reads. It never allocates beyond the output
 * buffer the caller owns, and never fails: what the message contained is
 * reported in the flags and the session decides the reply.
 */
#include <string.h>
#include <strings.h>

#include "smtp/internal.h"

enum {
	ST_BOL = 0, /* at the start of a line */
	ST_MID,     /* inside a line */
	ST_CR,      /* inside a line, after CR */
	ST_DOT,     /* a line that so far is "." */
	ST_DOT_CR,  /* a line that so far is ".\r" */
};

void smtp_data_init(struct smtp_data_rx *rx, bool normalize)
{
	memset(rx, 0, sizeof(*rx));
	rx->state = ST_BOL;
	/* the DATA command line itself ended the previous line */
	rx->prev_crlf = true;
	rx->normalize = normalize;
}

/* line_end - a line ended; how it ended decides what may end the data */
static void line_end(struct smtp_data_rx *rx, struct buf *out, bool crlf, const char *bare_form)
{
	if (crlf) {
		buf_append(out, "\r\n", 2);
	} else {
		rx->bare = true;
		if (rx->normalize)
			buf_append(out, "\r\n", 2);
		else
			buf_puts(out, bare_form);
	}
	rx->prev_crlf = crlf;
	rx->state = ST_BOL;
	rx->line_len = 0;
}

/* dot_line_end - the line was exactly "."; it is not the end mark */
static void dot_line_end(struct smtp_data_rx *rx, struct buf *out, bool crlf, const char *bare_form)
{
	/* Stored as ".." (dot-stuffed) when normalizing, so the stored wire
	 * form never contains CRLF "." CRLF before its end. */
	buf_putc(out, '.');
	if (rx->normalize)
		buf_putc(out, '.');
	line_end(rx, out, crlf, bare_form);
}

size_t smtp_data_feed(struct smtp_data_rx *rx, const char *in, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len && !rx->done) {
		char c = in[i];

		switch (rx->state) {
		case ST_BOL:
			if (c == '.') {
				rx->state = ST_DOT;
				i++;
				continue;
			}
			rx->state = ST_MID;
			continue; /* same byte, inside the line */
		case ST_MID:
			if (c == '\r') {
				rx->state = ST_CR;
			} else if (c == '\n') {
				line_end(rx, out, false, "\n");
			} else {
				if (c == '\0')
					rx->nul = true;
				/* a leading (stuffing) dot is not counted: the limit
				 * is on the message's text */
				if (++rx->line_len > SMTP_TEXT_LINE_MAX)
					rx->long_line = true;
				buf_putc(out, c);
			}
			i++;
			continue;
		case ST_CR:
			if (c == '\n') {
				line_end(rx, out, true, NULL);
				i++;
			} else {
				line_end(rx, out, false, "\r"); /* bare CR; c is unread */
			}
			continue;
		case ST_DOT:
			if (c == '\r') {
				rx->state = ST_DOT_CR;
				i++;
			} else if (c == '\n') {
				dot_line_end(rx, out, false, "\n");
				i++;
			} else {
				buf_putc(out, '.');
				rx->state = ST_MID;
			}
			continue;
		case ST_DOT_CR:
			if (c == '\n') {
				i++;
				if (rx->prev_crlf) {
					rx->done = true; /* CRLF "." CRLF */
					break;
				}
				dot_line_end(rx, out, true, NULL);
			} else {
				dot_line_end(rx, out, false, "\r");
			}
			continue;
		}
	}
	return i;
}

void smtp_hdr_scan_init(struct smtp_hdr_scan *hs)
{
	memset(hs, 0, sizeof(*hs));
}

/* field_name - length of the field name if line is "name:", else 0.
 * field-name = 1*ftext (%d33-57 / %d59-126); white space between the name
 * and the colon is obsolete syntax (RFC 5322 section 4.5) but accepted. */
static size_t field_name(const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	size_t end;

	if (colon == NULL)
		return 0;
	end = (size_t)(colon - line);
	while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	for (size_t k = 0; k < end; k++)
		if ((unsigned char)line[k] < 33 || (unsigned char)line[k] > 126)
			return 0;
	return end;
}

static bool name_is(const char *line, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(line, name, len) == 0;
}

bool smtp_hdr_scan_feed(struct smtp_hdr_scan *hs, const char *data, size_t len)
{
	while (!hs->ended && hs->pos < len) {
		const char *line = data + hs->pos;
		const char *nl = memchr(line, '\n', len - hs->pos);
		size_t n;
		bool is_field;

		if (nl == NULL)
			break; /* incomplete line: wait for more */
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0) {
			/* RFC 5322 section 2.1: the empty line ends the header */
			hs->ended = true;
			hs->end_off = hs->pos;
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			/* folded continuation of the previous field */
			is_field = hs->in_field;
		} else {
			size_t name = field_name(line, n);

			is_field = name > 0;
			if (name_is(line, name, "Message-ID"))
				hs->has_msgid = true;
			if (name_is(line, name, "Date"))
				hs->has_date = true;
		}
		if (!is_field) {
			/* body text without the empty line: the header ends here and
			 * the session inserts the missing empty line */
			hs->ended = true;
			hs->need_blank = true;
			hs->end_off = hs->pos;
			break;
		}
		hs->in_field = true;
		hs->pos += (size_t)(nl - line) + 1;
	}
	return hs->ended;
}
