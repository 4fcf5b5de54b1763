/*
 * dsn.c - part 2 of a report: the machine-readable delivery status.
 *
 * Owns: the fields of message/delivery-status (RFC 3464 section 2) and of
 * message/global-delivery-status (RFC 6533 section 6), header folding and
 * the cleaning of untrusted text (remote replies, xtext parameters) that
 * goes into header-like fields.
 *
 * Field order is the grammar's (RFC 3464 sections 2.2 and 2.3):
 *   per message:   [Original-Envelope-Id] Reporting-MTA [Arrival-Date]
 *                  extension fields (X-Mailerd-Queue-ID)
 *   per recipient: blank line, [Original-Recipient] Final-Recipient Action
 *                  Status [Remote-MTA] [Diagnostic-Code]
 *                  [Last-Attempt-Date] [Will-Retry-Until]
 * Diagnostic-Code is "smtp; <the full reply>" when a remote SMTP reply is
 * behind the outcome, else "X-mailerd; <our own words>" (DNS trouble,
 * connection failures), as section 2.3.6 allows for non-SMTP causes.
 *
 * Invariants: every field is one logical line of printable text (remote
 * text can hold anything, so CR, LF and control bytes become spaces), folded
 * before white space at 78 columns (RFC 5322 section 2.2.3) and never
 * longer than 998. Outside the global (UTF-8) form the text is ASCII.
 * Nothing here fails.
 */
#include <stdio.h>
#include <string.h>

#include "report/report_int.h"
#include "smtp/smtp.h"

bool report_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* report_clean_text - also collapses white-space runs and trims the ends,
 * so folding never leaves a line of only white space */
void report_clean_text(const char *in, bool utf8, char *out, size_t size)
{
	size_t o = 0;
	bool space = true; /* drops leading white space */

	if (size == 0)
		return;
	for (const unsigned char *u = (const unsigned char *)in; *u != '\0' && o + 1 < size; u++) {
		unsigned char c = *u;

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80 && !utf8)
			c = '?';
		if (c == ' ') {
			if (space)
				continue;
			space = true;
		} else {
			space = false;
		}
		out[o++] = (char)c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	/* A cut must not leave half a UTF-8 sequence behind. */
	if (o > 0 && ((unsigned char)out[o - 1] & 0x80) != 0) {
		size_t k = o;

		while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
			k--;
		if (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0xC0) {
			unsigned char lead = (unsigned char)out[k - 1];
			size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

			if (o - (k - 1) < need)
				o = k - 1;
		}
	}
	out[o] = '\0';
}

void report_fold_field(struct buf *out, const char *name, const char *value)
{
	size_t col = strlen(name) + 2, pos = 0, len = strlen(value);

	buf_printf(out, "%s: ", name);
	while (len - pos + col > REPORT_LINE_SOFT) {
		size_t room = REPORT_LINE_SOFT - col, b;

		if (col >= REPORT_LINE_SOFT)
			room = 0;
		/* The last space in reach that is not where this line starts
		 * (a continuation line begins with the folding space itself). */
		b = pos + room;
		while (b > pos && value[b] != ' ')
			b--;
		if (b == pos) {
			b = pos + room + 1;
			while (b < len && value[b] != ' ')
				b++;
			if (b >= len)
				break; /* one long last word: no place to fold */
		}
		if (b - pos + col > REPORT_LINE_HARD) {
			/* No white space within 998 columns: an inserted
			 * fold is the lesser harm (RFC 5322 section 2.1.1). */
			b = pos + (REPORT_LINE_HARD - col);
			while (b > pos && ((unsigned char)value[b] & 0xC0) == 0x80)
				b--;
			buf_append(out, value + pos, b - pos);
			buf_puts(out, "\r\n ");
			col = 1;
		} else {
			buf_append(out, value + pos, b - pos);
			buf_puts(out, "\r\n");
			col = 0;
		}
		pos = b;
	}
	if (len - pos + col > REPORT_LINE_HARD) {
		/* the long last word, cut hard on character boundaries */
		while (len - pos + col > REPORT_LINE_HARD) {
			size_t b = pos + (REPORT_LINE_HARD - col);

			while (b > pos && ((unsigned char)value[b] & 0xC0) == 0x80)
				b--;
			buf_append(out, value + pos, b - pos);
			buf_puts(out, "\r\n ");
			col = 1;
			pos = b;
		}
	}
	buf_append(out, value + pos, len - pos);
	buf_puts(out, "\r\n");
}

/* xtext-decoded text, or the raw text when it is not valid xtext (a UTF-8
 * ORCPT of RFC 6533 arrives unencoded). */
static void xtext_or_raw(const char *in, size_t len, bool utf8, char *out, size_t size)
{
	char dec[SPOOL_ORCPT_MAX];
	char raw[SPOOL_ORCPT_MAX];

	if (smtp_xtext_decode(in, len, dec, sizeof(dec)) >= 0) {
		report_clean_text(dec, utf8, out, size);
		return;
	}
	if (len >= sizeof(raw))
		len = sizeof(raw) - 1;
	memcpy(raw, in, len);
	raw[len] = '\0';
	report_clean_text(raw, utf8, out, size);
}

void report_orcpt_decode(const char *orcpt, bool utf8, char *out, size_t size)
{
	const char *semi = strchr(orcpt, ';');
	char type[32], val[SPOOL_ORCPT_MAX];
	size_t tl;

	if (semi == NULL || (tl = (size_t)(semi - orcpt)) == 0 || tl >= sizeof(type)) {
		/* not "type;value": report it as rfc822, cleaned */
		xtext_or_raw(orcpt, strlen(orcpt), utf8, val, sizeof(val));
		snprintf(out, size, "rfc822; %s", val);
		return;
	}
	memcpy(type, orcpt, tl);
	type[tl] = '\0';
	report_clean_text(type, false, type, sizeof(type));
	xtext_or_raw(semi + 1, strlen(semi + 1), utf8, val, sizeof(val));
	snprintf(out, size, "%s; %s", type, val);
}

static const char *action_name(enum report_kind k)
{
	switch (k) {
	case REPORT_DELAYED: return "delayed";
	case REPORT_DELIVERED: return "delivered";
	case REPORT_RELAYED: return "relayed";
	case REPORT_FAILED:
	default: return "failed";
	}
}

/* The Status of a recipient: the outcome's code when its class fits the
 * action (failed: 4 or 5, since an expiry is 4.4.7; delayed: 4; delivered
 * and relayed: 2), else the class's generic code. */
static const char *status_for(enum report_kind k, const struct outcome *o)
{
	bool valid = outcome_is_valid_status(o->status, strlen(o->status));
	char c = valid ? o->status[0] : '0';

	switch (k) {
	case REPORT_DELAYED: return c == '4' ? o->status : "4.0.0";
	case REPORT_DELIVERED:
	case REPORT_RELAYED: return c == '2' ? o->status : "2.0.0";
	case REPORT_FAILED:
	default: return c == '5' || c == '4' ? o->status : "5.0.0";
	}
}

/* "smtp; 550 5.1.1 ..." or "X-mailerd; ..." into out; "" when there is
 * nothing to say. The reply may sit inside our words ("delivery time
 * expired ...; last error: 452 4.2.2 ..."): it is found by its code. */
static void diagnostic(const struct outcome *o, bool utf8, char *out, size_t size)
{
	char text[OUTCOME_TEXT_MAX], code[8];
	const char *reply = NULL;

	report_clean_text(o->text, utf8, text, sizeof(text));
	out[0] = '\0';
	if (text[0] == '\0')
		return;
	if (o->code >= 200 && o->code <= 599) {
		size_t cl = (size_t)snprintf(code, sizeof(code), "%d", o->code);

		for (const char *p = text; (p = strstr(p, code)) != NULL; p++) {
			if ((p == text || p[-1] == ' ') && (p[cl] == ' ' || p[cl] == '\0')) {
				reply = p;
				break;
			}
		}
	}
	if (reply != NULL)
		snprintf(out, size, "smtp; %s", reply);
	else
		snprintf(out, size, "X-mailerd; %s", text);
}

static void render_rcpt(const struct report_request *req, const struct spool_rcpt *r, bool global,
                        struct buf *out)
{
	char val[OUTCOME_TEXT_MAX + 32], date[64];
	const struct outcome *o = &r->last;

	buf_puts(out, "\r\n");
	if (r->orcpt[0] != '\0') {
		report_orcpt_decode(r->orcpt, global, val, sizeof(val));
		report_fold_field(out, "Original-Recipient", val);
	}
	/* RFC 6533 section 3: a UTF-8 address is of type "utf-8"; an ASCII
	 * one stays "rfc822", which every reader understands. */
	if (global && !report_is_ascii(r->addr)) {
		char a[SPOOL_PATH_MAX];

		report_clean_text(r->addr, true, a, sizeof(a));
		snprintf(val, sizeof(val), "utf-8; %s", a);
	} else {
		char a[SPOOL_PATH_MAX];

		report_clean_text(r->addr, false, a, sizeof(a));
		snprintf(val, sizeof(val), "rfc822; %s", a);
	}
	report_fold_field(out, "Final-Recipient", val);
	report_fold_field(out, "Action", action_name(req->kind));
	report_fold_field(out, "Status", status_for(req->kind, o));
	/* Only an MTA that answered reported anything (section 2.3.5); a
	 * connection that timed out names no Remote-MTA. */
	if (o->remote[0] != '\0' && o->code != 0) {
		char host[OUTCOME_REMOTE_MAX];
		size_t n = strcspn(o->remote, "[");

		if (n == 0) /* no name, only "[ip]:port" */
			n = strcspn(o->remote, "]") + (o->remote[0] == '[' ? 1 : 0);
		snprintf(host, sizeof(host), "%.*s", (int)n, o->remote);
		report_clean_text(host, false, host, sizeof(host));
		if (host[0] != '\0') {
			snprintf(val, sizeof(val), "dns; %s", host);
			report_fold_field(out, "Remote-MTA", val);
		}
	}
	diagnostic(o, global, val, sizeof(val));
	if (val[0] != '\0')
		report_fold_field(out, "Diagnostic-Code", val);
	if (r->last_attempt_ms > 0) {
		util_rfc5322_date(r->last_attempt_ms, date, sizeof(date));
		report_fold_field(out, "Last-Attempt-Date", date);
	}
	if (req->kind == REPORT_DELAYED && req->will_retry_until_ms > 0) {
		util_rfc5322_date(req->will_retry_until_ms, date, sizeof(date));
		report_fold_field(out, "Will-Retry-Until", date);
	}
}

void report_dsn_render(const struct report_request *req, bool global, struct buf *out)
{
	const struct spool_msg *m = req->msg;
	char val[SPOOL_ENVID_MAX * 2 + 300], date[64];

	if (m->envid[0] != '\0') {
		xtext_or_raw(m->envid, strlen(m->envid), global, val, sizeof(val));
		report_fold_field(out, "Original-Envelope-Id", val);
	}
	snprintf(val, sizeof(val), "dns; %s", req->myhostname);
	report_fold_field(out, "Reporting-MTA", val);
	if (m->arrival_ms > 0) {
		util_rfc5322_date(m->arrival_ms, date, sizeof(date));
		report_fold_field(out, "Arrival-Date", date);
	}
	if (m->id[0] != '\0')
		report_fold_field(out, "X-Mailerd-Queue-ID", m->id);
	for (size_t i = 0; i < req->n_rcpt; i++)
		render_rcpt(req, &m->rcpt[req->rcpt_idx[i]], global, out);
}
