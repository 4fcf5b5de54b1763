/*
 * path.c - Reverse-path and Forward-path of RFC 5321 section 4.1.2:
 *
 *   Path       = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l      = At-domain *( "," At-domain )   ; source route, obsolete
 *   Mailbox    = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 *
 * Source routes are accepted and dropped (section 4.1.1.3 and appendix C:
 * "SHOULD accept and ignore"). UTF-8 in the local part or domain follows
 * RFC 6531 section 3.3 and is flagged in out->utf8: the session decides
 * whether SMTPUTF8 was given. The special "<postmaster>" without a domain
 * (section 4.5.1) is accepted for RCPT only; "<>" for MAIL only.
 *
 * Limits of section 4.5.3.1: local part 64 octets, domain 255, the whole
 * path 256 including the angle brackets and the source route. A quoted
 * local part is kept as written (quotes and backslashes included), so the
 * address is passed on byte for byte. One trailing dot on the domain is
 * tolerated and stripped (a common client habit; DNS treats both alike).
 *
 * Errors are 501 with 5.1.7 (sender) or 5.1.3 (recipient) and a text that
 * says what was wrong.
 */
#include <string.h>
#include <strings.h>

#include "smtp/internal.h"

struct pctx {
	const char *s;
	size_t len;
	size_t p;
	bool sender;
	bool utf8;
	struct smtp_error *err;
};

static int fail(struct pctx *c, const char *what)
{
	if (c->sender)
		smtp_error_set(c->err, 501, "5.1.7", "Bad sender address syntax: %s", what);
	else
		smtp_error_set(c->err, 501, "5.1.3", "Bad recipient address syntax: %s", what);
	return -1;
}

/* skip_route - "@d1,@d2:" before the mailbox; each domain is checked */
static int skip_route(struct pctx *c)
{
	while (c->p < c->len && c->s[c->p] == '@') {
		size_t start = ++c->p;

		while (c->p < c->len && c->s[c->p] != ',' && c->s[c->p] != ':' && c->s[c->p] != '>')
			c->p++;
		if (!smtp_domain_valid(c->s + start, c->p - start))
			return fail(c, "bad domain in source route");
		if (c->p >= c->len || c->s[c->p] == '>')
			return fail(c, "unterminated source route");
		if (c->s[c->p++] == ':')
			return 0;
	}
	return fail(c, "bad source route");
}

static int parse_quoted(struct pctx *c)
{
	const unsigned char *u = (const unsigned char *)c->s;

	c->p++; /* opening DQUOTE */
	while (c->p < c->len) {
		unsigned char ch = u[c->p];

		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (c->p + 1 >= c->len || u[c->p + 1] < 32 || u[c->p + 1] > 126)
				return fail(c, "bad quoted pair in local part");
			c->p += 2;
		} else if (ch >= 0x80) {
			size_t n = smtp_utf8_seq(u + c->p, c->len - c->p);
			if (n == 0)
				return fail(c, "invalid UTF-8 in local part");
			c->utf8 = true;
			c->p += n;
		} else if (ch == 32 || ch == 33 || (ch >= 35 && ch <= 91) ||
		           (ch >= 93 && ch <= 126)) {
			c->p++; /* qtextSMTP */
		} else {
			return fail(c, "bad character in quoted local part");
		}
	}
	return fail(c, "unterminated quoted local part");
}

static int parse_dotstring(struct pctx *c)
{
	const unsigned char *u = (const unsigned char *)c->s;
	size_t atom = 0;

	while (c->p < c->len) {
		unsigned char ch = u[c->p];

		if (ch == '.') {
			if (atom == 0)
				return fail(c, "empty atom in local part");
			atom = 0;
			c->p++;
		} else if (ch >= 0x80) {
			size_t n = smtp_utf8_seq(u + c->p, c->len - c->p);
			if (n == 0)
				return fail(c, "invalid UTF-8 in local part");
			c->utf8 = true;
			c->p += n;
			atom++;
		} else if (smtp_is_atext(ch)) {
			c->p++;
			atom++;
		} else {
			break;
		}
	}
	if (atom == 0)
		return fail(c, "empty atom in local part");
	return 0;
}

static void set_path(struct smtp_path *out, const char *local, size_t llen, const char *dom,
                     size_t dlen, bool utf8)
{
	memcpy(out->local, local, llen);
	out->local[llen] = '\0';
	memcpy(out->domain, dom, dlen);
	out->domain[dlen] = '\0';
	/* the caller checked the path limit, so local@domain fits in addr */
	memcpy(out->addr, local, llen);
	out->addr[llen] = '\0';
	if (dlen > 0) {
		out->addr[llen] = '@';
		memcpy(out->addr + llen + 1, dom, dlen);
		out->addr[llen + 1 + dlen] = '\0';
	}
	out->utf8 = utf8;
}

int smtp_parse_path(const char *s, size_t len, bool allow_null, struct smtp_path *out,
                    const char **end, struct smtp_error *err)
{
	struct pctx c = {.s = s, .len = len, .p = 0, .sender = allow_null, .err = err};
	size_t lstart, llen, dstart, dlen;

	memset(out, 0, sizeof(*out));
	if (end != NULL)
		*end = s;
	if (len == 0 || s[0] != '<')
		return fail(&c, "address must be in angle brackets");
	c.p = 1;
	if (c.p < len && s[c.p] == '>') {
		if (!allow_null)
			return fail(&c, "empty address");
		out->is_null = true;
		if (end != NULL)
			*end = s + 2;
		return 0;
	}
	if (c.p < len && s[c.p] == '@' && skip_route(&c) < 0)
		return -1;

	lstart = c.p;
	if (c.p < len && s[c.p] == '"') {
		if (parse_quoted(&c) < 0)
			return -1;
	} else if (parse_dotstring(&c) < 0) {
		return -1;
	}
	llen = c.p - lstart;
	if (llen > SMTP_LOCAL_MAX)
		return fail(&c, "local part longer than 64 octets");

	/* RFC 5321 section 4.5.1: "<postmaster>" without a domain, RCPT only */
	if (!allow_null && c.p < len && s[c.p] == '>' && llen == 10 &&
	    strncasecmp(s + lstart, "postmaster", 10) == 0) {
		c.p++;
		set_path(out, s + lstart, llen, "", 0, false);
		if (end != NULL)
			*end = s + c.p;
		return 0;
	}
	if (c.p >= len || s[c.p] != '@')
		return fail(&c, "missing domain");
	dstart = ++c.p;
	if (c.p < len && s[c.p] == '[') {
		while (c.p < len && s[c.p] != ']' && s[c.p] != '>')
			c.p++;
		if (c.p < len && s[c.p] == ']')
			c.p++;
	} else {
		while (c.p < len && s[c.p] != '>' && s[c.p] != ' ')
			c.p++;
	}
	if (c.p >= len || s[c.p] != '>')
		return fail(&c, "missing closing angle bracket");
	dlen = c.p - dstart;
	if (dlen > 1 && s[dstart] != '[' && s[dstart + dlen - 1] == '.')
		dlen--; /* trailing dot: tolerated, stripped */
	if (dlen > SMTP_DOMAIN_MAX)
		return fail(&c, "domain longer than 255 octets");
	if (!smtp_domain_valid(s + dstart, dlen))
		return fail(&c, "bad domain");
	for (size_t i = dstart; i < dstart + dlen; i++)
		if ((unsigned char)s[i] >= 0x80)
			c.utf8 = true;
	c.p++; /* '>' */
	if (c.p > SMTP_PATH_MAX)
		return fail(&c, "path longer than 256 octets");
	set_path(out, s + lstart, llen, s + dstart, dlen, c.utf8);
	if (end != NULL)
		*end = s + c.p;
	return 0;
}
