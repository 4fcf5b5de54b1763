/*
 * params.c - the arguments of MAIL and RCPT (RFC 5321 section 4.1.1.2 and
 * 4.1.1.3) and the ESMTP parameters mailerd announces:
 *
 *   MAIL: SIZE=n (RFC 1870), BODY=7BIT|8BITMIME (RFC 6152), SMTPUTF8
 *         (RFC 6531), RET=FULL|HDRS and ENVID=xtext (RFC 3461 4.3, 4.4)
 *   RCPT: NOTIFY=NEVER|SUCCESS,FAILURE,DELAY and ORCPT=type;xtext (RFC 3461
 *         4.1, 4.2)
 *
 * esmtp-param = esmtp-keyword ["=" esmtp-value] (section 4.1.2); keywords
 * are compared case-insensitively. Replies: unknown or repeated parameter
 * 555 5.5.4 (section 4.1.1.11), a known parameter with a bad value 501
 * 5.5.4, a malformed command 501 5.5.4 (the path parser gives 5.1.7/5.1.3).
 * "FROM:" may be followed by spaces (a widespread client habit).
 */
#include <string.h>
#include <strings.h>

#include "smtp/internal.h"

#define SIZE_DIGITS_MAX 20 /* uint64 has 20 decimal digits */

struct param {
	const char *kw;
	size_t kwlen;
	const char *val; /* NULL when there is no "=" */
	size_t vallen;
};

static bool kw_is(const struct param *pm, const char *name)
{
	return strlen(name) == pm->kwlen && strncasecmp(pm->kw, name, pm->kwlen) == 0;
}

static bool val_is(const struct param *pm, const char *name)
{
	return pm->val != NULL && strlen(name) == pm->vallen &&
	       strncasecmp(pm->val, name, pm->vallen) == 0;
}

/* xtext_printable - RFC 3461 sections 4.2 and 4.4: before encoding, ORCPT
 * and ENVID are printable text. An encoded control character ("+0D+0A")
 * would smuggle a line break into the report that quotes the value, so
 * it is refused here, where the client can still be told. */
static bool xtext_printable(const char *s, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if (s[i] == '+' &&
		    (s[i + 1] == '0' || s[i + 1] == '1' || (s[i + 1] == '7' && s[i + 2] == 'F')))
			return false;
	}
	return true;
}

static int bad_value(struct smtp_error *err, const struct param *pm)
{
	smtp_error_set(err, 501, "5.5.4", "Bad %.*s parameter value", (int)pm->kwlen, pm->kw);
	return -1;
}

/* next_param - split the next "kw[=value]" off *s; 1 = got one, 0 = end,
 * -1 = syntax error */
static int next_param(const char **s, const char *end, struct param *pm, struct smtp_error *err)
{
	const char *p = *s;
	const char *tok;

	while (p < end && *p == ' ')
		p++;
	if (p >= end)
		return 0;
	tok = p;
	while (p < end && *p != ' ')
		p++;
	*s = p;
	pm->kw = tok;
	pm->val = NULL;
	pm->vallen = 0;
	for (const char *q = tok; q < p; q++) {
		if (*q == '=') {
			pm->val = q + 1;
			pm->vallen = (size_t)(p - q - 1);
			break;
		}
	}
	pm->kwlen = pm->val != NULL ? (size_t)(pm->val - 1 - tok) : (size_t)(p - tok);
	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	if (pm->kwlen == 0 || pm->kw[0] == '-')
		goto bad;
	for (size_t i = 0; i < pm->kwlen; i++) {
		char c = pm->kw[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			goto bad;
	}
	/* esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531) */
	if (pm->val != NULL) {
		const unsigned char *u = (const unsigned char *)pm->val;
		if (pm->vallen == 0)
			goto bad;
		for (size_t i = 0; i < pm->vallen;) {
			if (u[i] >= 33 && u[i] <= 126 && u[i] != '=') {
				i++;
			} else {
				size_t n = smtp_utf8_seq(u + i, pm->vallen - i);
				if (n == 0)
					goto bad;
				i += n;
			}
		}
	}
	return 1;
bad:
	smtp_error_set(err, 501, "5.5.4", "Syntax error in parameters");
	return -1;
}

/* trim_len - trailing white space is not part of the last parameter */
static size_t trim_len(const char *args, size_t len)
{
	while (len > 0 && (args[len - 1] == ' ' || args[len - 1] == '\t'))
		len--;
	return len;
}

/* parse_prefix - "FROM:" / "TO:" then the path; *rest is after '>' */
static int parse_prefix(const char *args, size_t len, const char *prefix, bool sender,
                        struct smtp_path *path, const char **rest, struct smtp_error *err)
{
	size_t plen = strlen(prefix);
	size_t i;

	if (len < plen || strncasecmp(args, prefix, plen) != 0) {
		smtp_error_set(err, 501, "5.5.4", "Syntax: %s <address>",
		               sender ? "MAIL FROM:" : "RCPT TO:");
		return -1;
	}
	i = plen;
	while (i < len && args[i] == ' ')
		i++;
	if (smtp_parse_path(args + i, len - i, sender, path, rest, err) < 0)
		return -1;
	if (*rest < args + len && **rest != ' ') {
		smtp_error_set(err, 501, "5.5.4", "Syntax error after the address");
		return -1;
	}
	return 0;
}

static int parse_size(const struct param *pm, uint64_t *out, struct smtp_error *err)
{
	uint64_t v = 0;

	if (pm->val == NULL || pm->vallen > SIZE_DIGITS_MAX)
		return bad_value(err, pm);
	for (size_t i = 0; i < pm->vallen; i++) {
		unsigned d;
		if (pm->val[i] < '0' || pm->val[i] > '9')
			return bad_value(err, pm);
		d = (unsigned)(pm->val[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return bad_value(err, pm);
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

enum {
	P_SIZE = 1,
	P_BODY = 2,
	P_SMTPUTF8 = 4,
	P_RET = 8,
	P_ENVID = 16,
	P_NOTIFY = 32,
	P_ORCPT = 64,
};

static int dup_or_mark(unsigned *seen, unsigned bit, const struct param *pm, struct smtp_error *err)
{
	if (*seen & bit) {
		smtp_error_set(err, 555, "5.5.4", "Duplicate %.*s parameter", (int)pm->kwlen,
		               pm->kw);
		return -1;
	}
	*seen |= bit;
	return 0;
}

static int unknown(const struct param *pm, struct smtp_error *err)
{
	smtp_error_set(err, 555, "5.5.4", "Unsupported parameter %.*s",
	               (int)(pm->kwlen > 32 ? 32 : pm->kwlen), pm->kw);
	return -1;
}

int smtp_parse_mail(const char *args, size_t len, struct smtp_path *path,
                    struct smtp_mail_params *p, struct smtp_error *err)
{
	const char *rest, *end = args + (len = trim_len(args, len));
	struct param pm;
	unsigned seen = 0;
	int r;

	memset(p, 0, sizeof(*p));
	if (parse_prefix(args, len, "FROM:", true, path, &rest, err) < 0)
		return -1;
	while ((r = next_param(&rest, end, &pm, err)) == 1) {
		if (kw_is(&pm, "SIZE")) {
			if (dup_or_mark(&seen, P_SIZE, &pm, err) < 0 ||
			    parse_size(&pm, &p->size, err) < 0)
				return -1;
			p->size_given = true;
		} else if (kw_is(&pm, "BODY")) {
			if (dup_or_mark(&seen, P_BODY, &pm, err) < 0)
				return -1;
			if (val_is(&pm, "7BIT"))
				p->body = 7;
			else if (val_is(&pm, "8BITMIME"))
				p->body = 8;
			else
				return bad_value(err, &pm);
		} else if (kw_is(&pm, "SMTPUTF8")) {
			if (dup_or_mark(&seen, P_SMTPUTF8, &pm, err) < 0)
				return -1;
			if (pm.val != NULL)
				return bad_value(err, &pm);
			p->smtputf8 = true;
		} else if (kw_is(&pm, "RET")) {
			if (dup_or_mark(&seen, P_RET, &pm, err) < 0)
				return -1;
			if (val_is(&pm, "FULL"))
				p->ret = DSN_RET_FULL;
			else if (val_is(&pm, "HDRS"))
				p->ret = DSN_RET_HDRS;
			else
				return bad_value(err, &pm);
		} else if (kw_is(&pm, "ENVID")) {
			if (dup_or_mark(&seen, P_ENVID, &pm, err) < 0)
				return -1;
			/* RFC 3461 section 4.4: at most 100 characters of xtext */
			if (pm.val == NULL || pm.vallen >= sizeof(p->envid) ||
			    !smtp_xtext_valid(pm.val, pm.vallen, false) ||
			    !xtext_printable(pm.val, pm.vallen))
				return bad_value(err, &pm);
			memcpy(p->envid, pm.val, pm.vallen);
			p->envid[pm.vallen] = '\0';
		} else {
			return unknown(&pm, err);
		}
	}
	return r;
}

static int parse_notify(const struct param *pm, unsigned *out, struct smtp_error *err)
{
	const char *s = pm->val, *end = pm->val + pm->vallen;
	unsigned bits = 0;

	if (s == NULL)
		return bad_value(err, pm);
	while (s <= end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		struct param item = {.val = s, .vallen = (size_t)((c ? c : end) - s)};

		if (val_is(&item, "NEVER"))
			bits |= DSN_NOTIFY_NEVER;
		else if (val_is(&item, "SUCCESS"))
			bits |= DSN_NOTIFY_SUCCESS;
		else if (val_is(&item, "FAILURE"))
			bits |= DSN_NOTIFY_FAILURE;
		else if (val_is(&item, "DELAY"))
			bits |= DSN_NOTIFY_DELAY;
		else
			return bad_value(err, pm);
		if (c == NULL)
			break;
		s = c + 1;
	}
	/* RFC 3461 section 4.1: NEVER must appear alone */
	if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER)
		return bad_value(err, pm);
	*out = bits;
	return 0;
}

static int parse_orcpt(const struct param *pm, char *out, size_t size, struct smtp_error *err)
{
	const char *semi;
	size_t tlen;
	bool utf8_type;

	/* original-recipient-address = addr-type ";" xtext; at most 500
	 * characters (RFC 3461 section 4.2) */
	if (pm->val == NULL || pm->vallen >= size)
		return bad_value(err, pm);
	semi = memchr(pm->val, ';', pm->vallen);
	if (semi == NULL || semi == pm->val || semi + 1 == pm->val + pm->vallen)
		return bad_value(err, pm);
	tlen = (size_t)(semi - pm->val);
	for (size_t i = 0; i < tlen; i++)
		if (!smtp_is_atext((unsigned char)pm->val[i]))
			return bad_value(err, pm);
	/* RFC 6533 section 3: the "utf-8" type may carry UTF-8 */
	utf8_type = tlen == 5 && strncasecmp(pm->val, "utf-8", 5) == 0;
	if (!smtp_xtext_valid(semi + 1, pm->vallen - tlen - 1, utf8_type) ||
	    !xtext_printable(semi + 1, pm->vallen - tlen - 1))
		return bad_value(err, pm);
	memcpy(out, pm->val, pm->vallen);
	out[pm->vallen] = '\0';
	return 0;
}

int smtp_parse_rcpt(const char *args, size_t len, struct smtp_path *path,
                    struct smtp_rcpt_params *p, struct smtp_error *err)
{
	const char *rest, *end = args + (len = trim_len(args, len));
	struct param pm;
	unsigned seen = 0;
	int r;

	memset(p, 0, sizeof(*p));
	if (parse_prefix(args, len, "TO:", false, path, &rest, err) < 0)
		return -1;
	while ((r = next_param(&rest, end, &pm, err)) == 1) {
		if (kw_is(&pm, "NOTIFY")) {
			if (dup_or_mark(&seen, P_NOTIFY, &pm, err) < 0 ||
			    parse_notify(&pm, &p->notify, err) < 0)
				return -1;
		} else if (kw_is(&pm, "ORCPT")) {
			if (dup_or_mark(&seen, P_ORCPT, &pm, err) < 0 ||
			    parse_orcpt(&pm, p->orcpt, sizeof(p->orcpt), err) < 0)
				return -1;
		} else {
			return unknown(&pm, err);
		}
	}
	return r;
}
