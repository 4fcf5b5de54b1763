/*
 * compose.c - the whole report message: header, the three parts of a
 * multipart/report (RFC 6522), and the SMTP wire form of the result.
 *
 * Owns: report_compose. The parts' contents come from text.c (part 1,
 * for a person) and dsn.c (part 2, RFC 3464 fields); this file reads the
 * original for part 3, picks the content types, writes the header and the
 * MIME structure, and dot-stuffs the result.
 *
 *   From: Mail Delivery System <MAILER-DAEMON@myhostname>
 *   To, Subject, Date, Message-ID, In-Reply-To/References (the original's
 *   Message-ID), Auto-Submitted: auto-replied (RFC 3834 section 5),
 *   MIME-Version, Content-Type: multipart/report;
 *   report-type=delivery-status; boundary="..."
 *   part 1  text/plain; charset=utf-8
 *   part 2  message/delivery-status, or message/global-delivery-status
 *   part 3  message/rfc822 (RET=FULL or unset, and the original fits in
 *           report_return_limit), else text/rfc822-headers; with UTF-8
 *           addresses message/global and message/global-headers (RFC 6533
 *           sections 3 and 6)
 *
 * The spool keeps bodies in wire form (CRLF, dot-stuffed, RFC 5321
 * section 4.5.2): the original is unstuffed when embedded, and the whole
 * report is stuffed once at the end, so out is wire form too.
 * Fails (-1 and err) only when the original cannot be read or the request
 * is unusable; never half-appends to out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report_int.h"

/* Headers of an original that is returned as headers only are cut here:
 * beyond it they are not headers a person reads. */
#define REPORT_HEADER_MAX (256 * 1024)

/* Reads up to want bytes at off, stopping early at the end of the header
 * section when headers_only; -1 with errno. */
static int read_original(int fd, off_t off, size_t body_len, bool headers_only, struct buf *out)
{
	char chunk[16384];
	size_t got = 0;

	while (got < body_len) {
		size_t n = body_len - got < sizeof(chunk) ? body_len - got : sizeof(chunk);
		ssize_t r = pread(fd, chunk, n, off + (off_t)got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break; /* shorter than recorded: return what there is */
		buf_append(out, chunk, (size_t)r);
		got += (size_t)r;
		if (headers_only) {
			size_t from = out->len > (size_t)r + 3 ? out->len - (size_t)r - 3 : 0;

			if (memmem(out->data + from, out->len - from, "\r\n\r\n", 4) != NULL)
				break;
			if (out->len >= REPORT_HEADER_MAX)
				break;
		}
	}
	return 0;
}

/* Undoes RFC 5321 section 4.5.2 transparency in place: the sender doubled
 * a leading "." and the spool kept it doubled, so each stored line that
 * starts with ".." loses its first dot. */
static void unstuff(struct buf *b)
{
	size_t r = 0, w = 0;
	bool bol = true;

	while (r < b->len) {
		char c = b->data[r++];

		if (bol && c == '.' && r < b->len && b->data[r] == '.')
			continue; /* drop the first of the two dots */
		b->data[w++] = c;
		bol = c == '\n';
	}
	b->len = w;
	if (b->data != NULL)
		b->data[w] = '\0';
}

/* Length of the header section: through the CRLF of the last header
 * line, without the blank line that ends it. */
static size_t header_section_len(const struct buf *b)
{
	const char *end;

	if (b->len >= 2 && memcmp(b->data, "\r\n", 2) == 0)
		return 0; /* no header at all */
	end = b->len > 0 ? memmem(b->data, b->len, "\r\n\r\n", 4) : NULL;
	if (end != NULL)
		return (size_t)(end - b->data) + 2;
	/* Only a header, or cut: keep whole lines. */
	for (size_t n = b->len; n >= 2; n--)
		if (b->data[n - 2] == '\r' && b->data[n - 1] == '\n')
			return n;
	return 0;
}

/* The msg-id "<...>" of the first Message-ID field of the header section
 * hdr (RFC 5322 section 3.6.4), unfolded; false when there is none. */
static bool original_message_id(const char *hdr, size_t len, char *out, size_t size)
{
	for (size_t i = 0; i < len;) {
		size_t eol = i;

		while (eol + 1 < len && !(hdr[eol] == '\r' && hdr[eol + 1] == '\n'))
			eol++;
		if (eol - i >= 11 && strncasecmp(hdr + i, "Message-ID:", 11) == 0) {
			size_t o = 0;
			bool in = false;

			/* The value with its continuation lines. */
			for (size_t k = i + 11; k < len; k++) {
				char c = hdr[k];

				if (c == '\r' && k + 2 < len && hdr[k + 1] == '\n' &&
				    hdr[k + 2] != ' ' && hdr[k + 2] != '\t')
					break;
				if (c == '<')
					in = true;
				if (!in || c == '\r' || c == '\n' || c == ' ' || c == '\t')
					continue;
				if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e ||
				    o + 2 >= size)
					return false; /* not a msg-id we can repeat safely */
				out[o++] = c;
				if (c == '>') {
					out[o] = '\0';
					return o > 2;
				}
			}
			return false;
		}
		i = eol + 2;
	}
	return false;
}

static bool has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Wire form: every line that starts with "." gets one more. */
static void stuff_into(const struct buf *in, struct buf *out)
{
	bool bol = true;
	size_t start = 0;

	buf_reserve(out, in->len + in->len / 64 + 16);
	for (size_t i = 0; i < in->len; i++) {
		if (bol && in->data[i] == '.') {
			buf_append(out, in->data + start, i - start);
			buf_putc(out, '.');
			start = i;
		}
		bol = in->data[i] == '\n';
	}
	buf_append(out, in->data + start, in->len - start);
}

static bool needs_global(const struct report_request *req, const char *to)
{
	const struct spool_msg *m = req->msg;

	if (m->smtputf8 || !report_is_ascii(m->sender) || !report_is_ascii(to))
		return true;
	for (size_t i = 0; i < req->n_rcpt; i++) {
		const struct spool_rcpt *r = &m->rcpt[req->rcpt_idx[i]];

		if (!report_is_ascii(r->addr) || !report_is_ascii(r->orcpt))
			return true;
	}
	return false;
}

/* A boundary that occurs in none of the parts (RFC 2046 section 5.1.1). */
static void pick_boundary(const struct report_request *req, const struct buf *const *parts,
                          size_t nparts, char *out, size_t size)
{
	for (unsigned tries = 0;; tries++) {
		bool clash = false;

		if (req->boundary_seed != NULL && req->boundary_seed[0] != '\0') {
			if (tries == 0)
				snprintf(out, size, "%.60s", req->boundary_seed);
			else
				snprintf(out, size, "%.60s.%u", req->boundary_seed, tries);
		} else {
			snprintf(out, size, "mailerd-report-%08x%08x", util_random_u32(),
			         util_random_u32());
		}
		for (size_t i = 0; i < nparts && !clash; i++)
			clash = parts[i]->len > 0 &&
			        memmem(parts[i]->data, parts[i]->len, out, strlen(out)) != NULL;
		if (!clash)
			return;
	}
}

static void put_header(struct buf *b, const struct report_request *req, const char *to,
                       const char *orig_id, const char *boundary, bool eightbit)
{
	char date[64], mid[512];
	char v[SPOOL_PATH_MAX + 310]; /* "<" + to + ">", to as large as report_compose makes it */
	int64_t now = req->now_ms != 0 ? req->now_ms : util_now_ms();

	snprintf(v, sizeof(v), "Mail Delivery System <MAILER-DAEMON@%s>", req->myhostname);
	report_fold_field(b, "From", v);
	snprintf(v, sizeof(v), "<%s>", to);
	report_fold_field(b, "To", v);
	report_fold_field(b, "Subject", report_subject(req));
	util_rfc5322_date(now, date, sizeof(date));
	report_fold_field(b, "Date", date);
	if (req->message_id != NULL && req->message_id[0] != '\0')
		snprintf(mid, sizeof(mid), req->message_id[0] == '<' ? "%s" : "<%s>",
		         req->message_id);
	else
		snprintf(mid, sizeof(mid), "<%lld.%08x.%s@%s>", (long long)now, util_random_u32(),
		         req->msg->id[0] != '\0' ? req->msg->id : "report", req->myhostname);
	report_fold_field(b, "Message-ID", mid);
	if (orig_id != NULL) {
		report_fold_field(b, "In-Reply-To", orig_id);
		report_fold_field(b, "References", orig_id);
	}
	report_fold_field(b, "Auto-Submitted", "auto-replied");
	report_fold_field(b, "MIME-Version", "1.0");
	buf_puts(b, "Content-Type: multipart/report; report-type=delivery-status;\r\n");
	buf_printf(b, "\tboundary=\"%s\"\r\n", boundary);
	if (eightbit)
		report_fold_field(b, "Content-Transfer-Encoding", "8bit");
}

/* report_target_addr - To: and envelope recipient of a report: the
 * report_to override, the postmaster for a report about a report (a
 * double bounce), else the original sender */
void report_target_addr(const struct report_request *req, char *out, size_t size)
{
	if (req->report_to != NULL && req->report_to[0] != '\0')
		util_strlcpy(out, req->report_to, size);
	else if (req->msg->origin == SPOOL_ORIGIN_REPORT)
		snprintf(out, size, "postmaster@%s", req->myhostname);
	else
		util_strlcpy(out, req->msg->sender, size);
}

int report_compose(const struct report_request *req, struct buf *out, char *err, size_t errlen)
{
	const struct spool_msg *m = req != NULL ? req->msg : NULL;
	struct buf orig = {0}, text = {0}, dsn = {0}, whole = {0};
	char to[SPOOL_PATH_MAX + 300], orig_id[1000], boundary[80];
	size_t body_len, hdr_len;
	bool global, full, have_id, e_text, e_dsn, e_orig;
	const char *desc;
	int rc = -1;

	if (m == NULL || req->myhostname == NULL || req->myhostname[0] == '\0' ||
	    req->n_rcpt == 0 || req->rcpt_idx == NULL) {
		snprintf(err, errlen, "report request without message, recipients or myhostname");
		return -1;
	}
	for (size_t i = 0; i < req->n_rcpt; i++) {
		if (req->rcpt_idx[i] >= m->n_rcpt) {
			snprintf(err, errlen, "%s: recipient index %zu out of range", m->id,
			         req->rcpt_idx[i]);
			return -1;
		}
	}
	report_target_addr(req, to, sizeof(to));
	if (to[0] == '\0') {
		snprintf(err, errlen, "%s: null sender: a report has nobody to go to", m->id);
		return -1;
	}

	/* Part 3 first: it decides the content type and the boundary check. */
	body_len = req->body_len != 0 ? req->body_len : m->body_len;
	full = m->ret != DSN_RET_HDRS && body_len <= req->return_limit;
	if (req->body_fd >= 0 && body_len > 0) {
		off_t off = lseek(req->body_fd, 0, SEEK_CUR);

		if (off < 0 || read_original(req->body_fd, off, body_len, !full, &orig) < 0) {
			snprintf(err, errlen, "%s: cannot read the original: %s", m->id,
			         strerror(errno));
			goto out;
		}
		unstuff(&orig);
	}
	hdr_len = header_section_len(&orig);
	have_id = original_message_id(orig.data, hdr_len, orig_id, sizeof(orig_id));
	if (!full) {
		orig.len = hdr_len;
		if (orig.data != NULL)
			orig.data[hdr_len] = '\0';
	} else if (orig.len > 0 && (orig.len < 2 || orig.data[orig.len - 1] != '\n')) {
		buf_puts(&orig, "\r\n"); /* the part ends on a line end */
	}

	if (report_text_render(req, &text, err, errlen) < 0)
		goto out;
	global = needs_global(req, to);
	report_dsn_render(req, global, &dsn);
	e_text = has_8bit(text.data, text.len);
	e_dsn = has_8bit(dsn.data, dsn.len);
	e_orig = has_8bit(orig.data, orig.len);
	{
		const struct buf *parts[] = {&text, &dsn, &orig};

		pick_boundary(req, parts, 3, boundary, sizeof(boundary));
	}

	put_header(&whole, req, to, have_id ? orig_id : NULL, boundary, e_text || e_dsn || e_orig);
	buf_puts(&whole, "\r\nThis is a MIME-encapsulated message.\r\n");

	buf_printf(&whole, "\r\n--%s\r\n", boundary);
	buf_puts(&whole, "Content-Description: Notification\r\n"
	                 "Content-Type: text/plain; charset=utf-8\r\n");
	buf_printf(&whole, "Content-Transfer-Encoding: %s\r\n\r\n", e_text ? "8bit" : "7bit");
	buf_append(&whole, text.data, text.len);

	buf_printf(&whole, "\r\n--%s\r\n", boundary);
	buf_puts(&whole, "Content-Description: Delivery report\r\n");
	buf_printf(&whole, "Content-Type: message/%sdelivery-status\r\n", global ? "global-" : "");
	if (e_dsn)
		buf_puts(&whole, "Content-Transfer-Encoding: 8bit\r\n");
	buf_puts(&whole, "\r\n");
	buf_append(&whole, dsn.data, dsn.len);

	buf_printf(&whole, "\r\n--%s\r\n", boundary);
	desc = m->origin == SPOOL_ORIGIN_REPORT ? "Undelivered Report"
	       : req->kind == REPORT_FAILED     ? "Undelivered Message"
	       : req->kind == REPORT_DELAYED    ? "Delayed Message"
	                                        : "Delivered Message";
	if (full) {
		buf_printf(&whole, "Content-Description: %s\r\n", desc);
		buf_printf(&whole, "Content-Type: message/%s\r\n", global ? "global" : "rfc822");
	} else {
		buf_printf(&whole, "Content-Description: %s Headers\r\n", desc);
		buf_printf(&whole, "Content-Type: %s\r\n",
		           global ? "message/global-headers" : "text/rfc822-headers");
	}
	if (e_orig)
		buf_puts(&whole, "Content-Transfer-Encoding: 8bit\r\n");
	buf_puts(&whole, "\r\n");
	buf_append(&whole, orig.data, orig.len);
	buf_printf(&whole, "\r\n--%s--\r\n", boundary);

	stuff_into(&whole, out);
	rc = 0;
out:
	buf_free(&orig);
	buf_free(&text);
	buf_free(&dsn);
	buf_free(&whole);
	return rc;
}
