/*
 * dsn.c - RFC 3464 message/delivery-status (and RFC 6533
 * message/global-delivery-status) bodies into records.
 *
 * Grammar (RFC 3464 section 2): a per-message block (Reporting-MTA,
 * Arrival-Date, ...) then one block per recipient (section 2.3:
 * Original-Recipient, Final-Recipient, Action, Status, Remote-MTA,
 * Diagnostic-Code, ...), blocks separated by blank lines, fields folded
 * like RFC 5322 header fields. Typed values are "type; value" (address-type
 * rfc822/utf-8, diagnostic-type smtp/x-...); the type is dropped.
 *
 * Real reports bend the grammar: blank lines missing between recipients,
 * several reports in one part, Status without the code. So a new recipient
 * also starts when a second Final-Recipient appears, and a missing status
 * is searched in the diagnostic text. Nothing here fails; a block without
 * any recipient address yields no record.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "bounce/addrindex.h"
#include "bounce/internal.h"

struct dsn_rcpt {
	char final[BOUNCE_ADDR_MAX];
	char orig[BOUNCE_ADDR_MAX];
	char action[16];
	char status[64];
	char remote[256];  /* Remote-MTA (2.3.5), its name-type dropped */
	char category[32]; /* X-PowerMTA-BounceCategory */
	struct buf diag;
	bool any;
	bool xunix; /* diagnostic type x-unix: a local delivery program */
};

/* typed_value - drop "type;" from an RFC 3464 typed value */
static const char *typed_value(const char *v)
{
	const char *semi = strchr(v, ';');

	if (semi) {
		const char *p = v;
		while (p < semi && (isalnum((unsigned char)*p) || *p == '-' || *p == ' '))
			p++;
		if (p == semi)
			v = semi + 1;
	}
	while (*v == ' ' || *v == '\t')
		v++;
	return v;
}

/* bare_addr - the whole field value as one address, when it is one:
 * RFC 3464 2.3.2 gives Final-Recipient a single address, and a host
 * name without a dot ("kijitora@mailhub0", a local relay) is still one,
 * though free text is not trusted with such names; one holding a control
 * byte or U+FFFD (invalid bytes decoded) is refused, as in free text */
static bool bare_addr(const char *v, char *out, size_t size)
{
	size_t l;
	const char *at;

	while (*v == ' ' || *v == '<')
		v++;
	l = strcspn(v, " \t>");
	at = memchr(v, '@', l);
	if (!at || at == v || at + 1 == v + l || memchr(at + 1, '@', (size_t)(v + l - at - 1)) ||
	    l >= size || v[l + strspn(v + l, " \t>")] != '\0' || bounce_addr_garbage(v, l))
		return false;
	memcpy(out, v, l);
	out[l] = '\0';
	return true;
}

/* PowerMTA files each failure under a bounce category of its own and
 * writes it beside the standard fields (X-PowerMTA-BounceCategory, an
 * extension field as RFC 3464 2.4 allows): its verdict, made with the
 * whole SMTP dialogue in view, outranks reading the words again. "other"
 * and unknown categories leave the reason to the usual rules. */
static const struct {
	const char *category, *reason;
} pmta_categories[] = {
    {"bad-mailbox", "userunknown"},        {"bad-domain", "hostunknown"},
    {"inactive-mailbox", "suspend"},       {"quota-issues", "mailboxfull"},
    {"spam-related", "spamdetected"},      {"virus-related", "virusdetected"},
    {"policy-related", "policyviolation"}, {"content-related", "contenterror"},
    {"message-expired", "expired"},        {"no-answer-from-host", "networkerror"},
    {"bad-connection", "networkerror"},    {"routing-errors", "networkerror"},
    {"relaying-issues", "norelaying"},     {"invalid-sender", "rejected"},
    {"bad-configuration", "systemerror"},  {"protocol-errors", "syntaxerror"},
};

/* category_reason - the reason a PowerMTA bounce category names, or NULL */
static const char *category_reason(const char *category)
{
	for (size_t i = 0; i < sizeof(pmta_categories) / sizeof(pmta_categories[0]); i++)
		if (strcasecmp(category, pmta_categories[i].category) == 0)
			return pmta_categories[i].reason;
	return NULL;
}

/* value_broken - a recipient field's value (its type dropped) holds a
 * control byte, or a tab between two characters that are not white
 * space ("alice<TAB>bob@b"; a folded field's tab sits beside a space):
 * the field names one address (RFC 3464 2.3.1, 2.3.2), and an address
 * with such a byte inside is refused whole, not cut at it */
static bool value_broken(const char *v)
{
	for (size_t i = 0; v[i]; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '\t') {
			if (i > 0 && v[i - 1] != ' ' && v[i - 1] != '\t' && v[i + 1] &&
			    v[i + 1] != ' ' && v[i + 1] != '\t')
				return true;
		} else if (c < 0x20 || c == 0x7f) {
			return true;
		}
	}
	return false;
}

static void rcpt_flush(struct dsn_rcpt *r, struct bounce_result *res, size_t *count)
{
	char addr[BOUNCE_ADDR_MAX];
	struct bounce_record *rec;
	/* Final-Recipient, or Original-Recipient when the final one names
	 * no address ("LOCAL;<jane>", a local mailbox by its user name) */
	bool found = false;
	for (int i = 0; i < 2 && !found; i++) {
		const char *src = i == 0 ? r->final : r->orig;
		if (value_broken(src))
			break;
		found = src[0] && (bounce_find_addr(src, strlen(src), addr, sizeof(addr)) ||
		                   bare_addr(src, addr, sizeof(addr)));
	}
	if (r->any && found) {
		rec = bounce_record_add(res);
		util_strlcpy(rec->recipient, addr, sizeof(rec->recipient));
		util_strlcpy(rec->action, r->action, sizeof(rec->action));
		util_lowercase(rec->action);
		if (r->diag.len)
			bounce_record_set_diag(rec, r->diag.data, r->diag.len);
		/* Status: status-code (RFC 3464 2.3.4), maybe followed by
		 * a comment; keep the code only */
		bounce_find_status(r->status, rec->status, sizeof(rec->status));
		if (!rec->status[0] && rec->diagnostic_code)
			bounce_find_status(rec->diagnostic_code, rec->status, sizeof(rec->status));
		if (rec->diagnostic_code)
			bounce_find_replycode(rec->diagnostic_code, rec->replycode,
			                      sizeof(rec->replycode));
		/* "dns; mx.example.org. (192.0.2.1, ...)": the name only */
		size_t hl = strcspn(r->remote, " \t(;");
		if (hl < sizeof(rec->remote_host)) {
			memcpy(rec->remote_host, r->remote, hl);
			rec->remote_host[hl] = '\0';
		}
		rec->rule = "rfc3464";
		if (r->category[0] && (rec->reason = category_reason(r->category)) != NULL)
			rec->rule = "X-PowerMTA-BounceCategory";
		else
			rec->reason = "undefined";
		if (r->xunix)
			util_strlcpy(rec->command, "X-UNIX", sizeof(rec->command));
		(*count)++;
	}
	buf_free(&r->diag);
	memset(r, 0, sizeof(*r));
}

/* field - handle one unfolded "Name: value" line */
static void field(struct dsn_rcpt *r, const char *name, const char *val, struct bounce_result *res,
                  size_t *count)
{
	if (strcasecmp(name, "Final-Recipient") == 0) {
		if (r->final[0])
			rcpt_flush(r, res, count);
		util_strlcpy(r->final, typed_value(val), sizeof(r->final));
		r->any = true;
	} else if (strcasecmp(name, "Original-Recipient") == 0) {
		if (r->orig[0] && r->final[0])
			rcpt_flush(r, res, count);
		util_strlcpy(r->orig, typed_value(val), sizeof(r->orig));
		r->any = true;
	} else if (strcasecmp(name, "Action") == 0) {
		util_strlcpy(r->action, val, sizeof(r->action));
		char *sp = strpbrk(r->action, " (;");
		if (sp)
			*sp = '\0';
	} else if (strcasecmp(name, "Remote-MTA") == 0) {
		util_strlcpy(r->remote, typed_value(val), sizeof(r->remote));
	} else if (strcasecmp(name, "X-PowerMTA-BounceCategory") == 0) {
		util_strlcpy(r->category, val, sizeof(r->category));
	} else if (strcasecmp(name, "Status") == 0) {
		util_strlcpy(r->status, val, sizeof(r->status));
	} else if (strcasecmp(name, "Diagnostic-Code") == 0 && r->diag.len == 0) {
		r->xunix = strncasecmp(val, "x-unix", 6) == 0;
		buf_puts(&r->diag, typed_value(val));
	}
}

size_t bounce_dsn_parse(const struct bounce_doc *doc, struct bounce_result *res)
{
	struct dsn_rcpt r;
	struct buf line = {0};
	const char *p = doc->dsn.data;
	size_t count = 0;

	memset(&r, 0, sizeof(r));
	while (p && *p && count < BOUNCE_RECIPIENTS_MAX) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		buf_reset(&line);
		buf_append(&line, p, l);
		p = e ? e + 1 : p + l;
		/* unfold: RFC 5322 2.2.3 continuation lines */
		while (*p == ' ' || *p == '\t') {
			e = strchr(p, '\n');
			l = e ? (size_t)(e - p) : strlen(p);
			buf_putc(&line, ' ');
			buf_append(&line, p, l);
			p = e ? e + 1 : p + l;
		}
		char *s = line.data ? line.data : (char *)"";
		util_trim(s);
		if (*s == '\0') {
			/* end of a block (RFC 3464 2.1) */
			if (r.final[0] || r.orig[0])
				rcpt_flush(&r, res, &count);
			continue;
		}
		char *colon = strchr(s, ':');
		if (!colon)
			continue;
		*colon = '\0';
		util_trim(s);
		field(&r, s, util_trim(colon + 1), res, &count);
	}
	if (count < BOUNCE_RECIPIENTS_MAX)
		rcpt_flush(&r, res, &count);
	buf_free(&line);
	return count;
}
