/*
 * syntax.c - is a contact's address a mailbox, and if not, where and why.
 *
 * Grammar (RFC 5321 section 4.1.2, with RFC 6531 section 3.3 adding
 * UTF8-non-ascii to atext, qtextSMTP and sub-domain):
 *
 *   Mailbox        = Local-part "@" ( Domain / address-literal )
 *   Local-part     = Dot-string / Quoted-string
 *   Dot-string     = Atom *("." Atom)
 *   Quoted-string  = DQUOTE *( qtextSMTP / quoted-pairSMTP ) DQUOTE
 *   qtextSMTP      = %d32-33 / %d35-91 / %d93-126
 *   quoted-pairSMTP= %d92 %d32-126
 *   Domain         = sub-domain *("." sub-domain)
 *   sub-domain     = Let-dig [Ldh-str] / U-label
 *
 * Limits of section 4.5.3.1: local part 64 octets, domain 255, a label
 * 63 (RFC 1035 section 2.3.4), the whole mailbox 254 (a path is 256 with
 * its angle brackets). Address literals are checked by the SMTP grammar
 * (smtp_domain_valid) so both sides agree.
 *
 * Unlike smtp_parse_path, which only has to refuse, this checker says
 * where: positions are 1-based and count characters, not bytes, so they
 * match what a person sees in a spreadsheet. Pure; nothing allocates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "contacts/contacts.h"
#include "smtp/smtp.h"

struct sctx {
	const unsigned char *s;
	size_t len;
	struct contacts_syntax *out;
};

/* char_pos - the 1-based character position of byte offset off: every
 * byte that is not a UTF-8 continuation byte starts a character */
static size_t char_pos(const unsigned char *s, size_t off)
{
	size_t n = 1;

	for (size_t i = 0; i < off; i++)
		if ((s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static int fail(struct sctx *c, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct sctx *c, size_t off, const char *fmt, ...)
{
	va_list ap;

	c->out->pos = char_pos(c->s, off > c->len ? c->len : off);
	va_start(ap, fmt);
	vsnprintf(c->out->what, sizeof(c->out->what), fmt, ap);
	va_end(ap);
	return -1;
}

/* utf8_len - length of the well-formed UTF-8 sequence at s (RFC 3629
 * section 4: no overlongs, no surrogates, nothing above U+10FFFF), 0 when
 * it is not one */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned lo = 0x80, hi = 0xBF;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 3;
		if (s[0] == 0xE0)
			lo = 0xA0;
		else if (s[0] == 0xED)
			hi = 0x9F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 4;
		if (s[0] == 0xF0)
			lo = 0x90;
		else if (s[0] == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need;
}

/* describe - a character as a person would name it in a message */
static const char *describe(unsigned char ch, char *buf, size_t size)
{
	switch (ch) {
	case ' ': return "a space";
	case '\t': return "a tab";
	case '"': return "a double quote";
	case ',': return "a comma";
	case '\\': return "a backslash";
	default: break;
	}
	if (ch < 32 || ch == 127)
		snprintf(buf, size, "control character 0x%02X", ch);
	else
		snprintf(buf, size, "'%c'", ch);
	return buf;
}

static bool is_atext(unsigned char ch)
{
	/* RFC 5322 section 3.2.3 atext */
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

static bool is_letdig(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* local_quoted - Quoted-string from *p (at the DQUOTE) */
static int local_quoted(struct sctx *c, size_t *p)
{
	const unsigned char *s = c->s;
	size_t i = *p + 1;
	char b[40];

	while (i < c->len) {
		unsigned char ch = s[i];

		if (ch == '"') {
			*p = i + 1;
			return 0;
		}
		if (ch == '\\') {
			if (i + 1 >= c->len || s[i + 1] < 32 || s[i + 1] > 126)
				return fail(c, i + 1,
				            "a backslash in quotes must be followed by a printable "
				            "ASCII character");
			i += 2;
		} else if (ch >= 0x80) {
			size_t n = utf8_len(s + i, c->len - i);
			if (n == 0)
				return fail(c, i, "invalid UTF-8 in the local part");
			c->out->utf8 = true;
			i += n;
		} else if (ch < 32 || ch == 127) {
			return fail(c, i, "%s is not allowed in a quoted local part",
			            describe(ch, b, sizeof(b)));
		} else {
			i++; /* qtextSMTP */
		}
	}
	return fail(c, *p, "the quote that opens the local part is never closed");
}

/* local_dotstring - Dot-string from *p, ending at '@' or the end */
static int local_dotstring(struct sctx *c, size_t *p)
{
	const unsigned char *s = c->s;
	size_t i = *p, atom = 0;
	char b[40];

	for (; i < c->len && s[i] != '@';) {
		unsigned char ch = s[i];

		if (ch == '.') {
			if (atom == 0)
				return fail(c, i,
				            i == 0 ? "the address starts with a dot"
				                   : "two dots in a row in the local part");
			atom = 0;
			i++;
		} else if (ch >= 0x80) {
			size_t n = utf8_len(s + i, c->len - i);
			if (n == 0)
				return fail(c, i, "invalid UTF-8 in the local part");
			c->out->utf8 = true;
			i += n;
			atom++;
		} else if (is_atext(ch)) {
			i++;
			atom++;
		} else {
			return fail(c, i,
			            "%s is not allowed in the local part (unless it is quoted)",
			            describe(ch, b, sizeof(b)));
		}
	}
	if (i >= c->len)
		return fail(c, c->len, "there is no '@' and no domain");
	if (i == 0)
		return fail(c, 0, "the local part before '@' is empty");
	if (atom == 0)
		return fail(c, i - 1, "the local part ends with a dot");
	*p = i;
	return 0;
}

/* domain_names - Domain (not a literal) in [d, end). U-labels are only
 * checked for well-formed UTF-8 here; whether IDNA 2008 accepts them is
 * decided when the name is turned into A-labels for DNS (verdict.c). */
static int domain_names(struct sctx *c, size_t d, size_t end)
{
	const unsigned char *s = c->s;
	size_t label = 0;
	char b[40];

	if (d >= end)
		return fail(c, d, "the domain after '@' is empty");
	for (size_t i = d; i < end;) {
		unsigned char ch = s[i];

		if (ch == '.') {
			if (label == 0)
				return fail(c, i,
				            i == d ? "the domain starts with a dot"
				                   : "two dots in a row in the domain");
			if (s[i - 1] == '-')
				return fail(c, i - 1, "a domain label ends with a hyphen");
			label = 0;
			i++;
			continue;
		}
		if (ch >= 0x80) {
			size_t n = utf8_len(s + i, end - i);
			if (n == 0)
				return fail(c, i, "invalid UTF-8 in the domain");
			c->out->utf8 = true;
			label += n;
			i += n;
		} else if (is_letdig(ch)) {
			label++;
			i++;
		} else if (ch == '-') {
			if (label == 0)
				return fail(c, i, "a domain label starts with a hyphen");
			label++;
			i++;
		} else if (ch == '@') {
			return fail(c, i, "a second '@' (only one may appear outside quotes)");
		} else if (ch == '_') {
			return fail(c, i, "an underscore is not allowed in a mail domain");
		} else {
			return fail(c, i, "%s is not allowed in a domain",
			            describe(ch, b, sizeof(b)));
		}
		if (label > 63)
			return fail(c, i - 1, "a domain label is longer than 63 octets");
	}
	if (s[end - 1] == '-')
		return fail(c, end - 1, "a domain label ends with a hyphen");
	if (end - d > SMTP_DOMAIN_MAX)
		return fail(c, d + SMTP_DOMAIN_MAX, "the domain is longer than 255 octets");
	return 0;
}

int contacts_syntax_check(const char *str, size_t len, struct contacts_syntax *out)
{
	struct sctx c = {.s = (const unsigned char *)str, .len = len, .out = out};
	size_t p = 0, d, end;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return fail(&c, 0, "the address is empty");
	if (memchr(str, '\0', len) != NULL)
		return fail(&c, (size_t)((const char *)memchr(str, '\0', len) - str),
		            "a NUL byte is not allowed");
	/* RFC 5321 section 4.1.2: a local part is either wholly quoted or a
	 * dot-string; a quote in the middle is an error of the dot-string. */
	if (c.s[0] == '"') {
		if (local_quoted(&c, &p) < 0)
			return -1;
		if (p >= len)
			return fail(&c, len, "there is no '@' and no domain");
		if (c.s[p] != '@')
			return fail(&c, p,
			            "only '@' may follow the closing quote of the local part");
	} else if (local_dotstring(&c, &p) < 0) {
		return -1;
	}
	/* Lengths are octets (section 4.5.3.1.1), so the position is that of
	 * the character holding the 65th octet. */
	if (p > SMTP_LOCAL_MAX)
		return fail(&c, SMTP_LOCAL_MAX, "the local part is longer than 64 octets");
	out->at = p;
	d = p + 1;
	end = len;
	if (d < len && c.s[d] == '[') {
		const unsigned char *close = memchr(c.s + d, ']', len - d);

		if (close == NULL)
			return fail(&c, d, "the address literal is not closed with ']'");
		if ((size_t)(close - c.s) != len - 1)
			return fail(&c, (size_t)(close - c.s) + 1,
			            "nothing may follow the address literal");
		if (!smtp_domain_valid(str + d, len - d))
			return fail(&c, d + 1,
			            "not a valid address literal (IPv4, IPv6:... or tag:...)");
		out->literal = true;
	} else {
		/* one trailing dot: tolerated, as the SMTP server does */
		if (end - d > 1 && c.s[end - 1] == '.' && c.s[end - 2] != '.')
			end--;
		if (domain_names(&c, d, end) < 0)
			return -1;
	}
	/* Checked last so the more specific errors above win. */
	if (len > CONTACTS_ADDR_MAX)
		return fail(&c, CONTACTS_ADDR_MAX, "the address is longer than 254 octets");
	return 0;
}
