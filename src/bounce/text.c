/*
 * text.c - small text helpers for the bounce recognisers: finding an
 * address, an RFC 3463 enhanced status code or an RFC 5321 reply code in
 * free text, a header field's value, case-blind search, white-space
 * folding, and the record list.
 *
 * All of them work on NUL-terminated UTF-8 and look only at ASCII bytes,
 * so multi-byte characters pass through untouched; an address holding a
 * control byte, U+FFFD (a decoder's mark for invalid bytes) or a byte
 * that is no UTF-8, or with a control byte against it, is refused whole
 * (rawaddr.c finds the bytes the decoders dropped). None allocates except
 * bounce_record_add / bounce_record_set_diag (x-functions: abort on OOM).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/addrindex.h"
#include "bounce/internal.h"

struct bounce_record *bounce_record_add(struct bounce_result *res)
{
	struct bounce_record *r;

	if (res->n == res->cap) {
		res->cap = res->cap ? res->cap * 2 : 8;
		res->recs = xrealloc(res->recs, res->cap * sizeof(*res->recs));
	}
	r = &res->recs[res->n++];
	memset(r, 0, sizeof(*r));
	r->reason = "undefined";
	r->smtp_agent = "";
	r->rule = "";
	return r;
}

void bounce_record_set_diag(struct bounce_record *rec, const char *text, size_t len)
{
	free(rec->diagnostic_code);
	rec->diagnostic_code = xstrndup(text, len);
	bounce_fold(rec->diagnostic_code);
}

void bounce_result_free(struct bounce_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n; i++)
		free(res->recs[i].diagnostic_code);
	free(res->recs);
	res->recs = NULL;
	res->n = res->cap = 0;
}

const char *bounce_casestr(const char *hay, const char *needle)
{
	/* the C library's case-blind search (ASCII in the C locale this
	 * program runs in) is much faster than a byte loop */
	return strcasestr(hay, needle);
}

void bounce_fold(char *s)
{
	char *w = s;
	bool space = true; /* drops leading white space */

	for (char *r = s; *r; r++) {
		if (isspace((unsigned char)*r)) {
			if (!space)
				*w++ = ' ';
			space = true;
		} else {
			*w++ = *r;
			space = false;
		}
	}
	if (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

/* atext of RFC 5322 3.2.3 plus '.', which dot-atom allows between atoms
 * (and NUL, which strchr finds: a candidate running over one is then
 * refused whole by bounce_addr_garbage rather than cut short) */
bool bounce_addr_local_char(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL || c >= 0x80;
}

bool bounce_addr_domain_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* bounce_addr_garbage - s[0..len) holds a control byte (RFC 5321 4.1.2
 * allows none in a Mailbox, even quoted), U+FFFD, which the decoders
 * write for bytes that were not valid text, or a byte that is not UTF-8
 * at all (a part read with no charset keeps its bytes): such a string is
 * the remains of a broken or hostile field, not an address, and an
 * address taken from it would feed the suppression list */
bool bounce_addr_garbage(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		if (u[i] < 0x80) {
			if (u[i] < 0x20 || u[i] == 0x7f)
				return true;
			i++;
			continue;
		}
		size_t n = bounce_utf8_len(u + i, len - i);
		if (n == 0 || (n == 3 && u[i] == 0xef && u[i + 1] == 0xbf && u[i + 2] == 0xbd))
			return true;
		i += n;
	}
	return false;
}

/* ctl_byte - a control byte that does not separate words (white space
 * does: a tab or a line break before or after an address is a
 * separator) */
static bool ctl_byte(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
}

/* utf8_at - the code point of the UTF-8 sequence at p (p < end), 0 for
 * a broken one */
static unsigned utf8_at(const unsigned char *p, const unsigned char *end)
{
	unsigned cp, n;

	if (*p >= 0xf0)
		cp = *p & 0x07u, n = 3;
	else if (*p >= 0xe0)
		cp = *p & 0x0fu, n = 2;
	else if (*p >= 0xc0)
		cp = *p & 0x1fu, n = 1;
	else
		return 0;
	if ((size_t)(end - p) <= n)
		return 0;
	for (unsigned i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	return cp;
}

/* utf8_punct - a code point that is punctuation, never part of an
 * address (RFC 6531 lets letters of any script in, not these): Latin-1
 * signs, general punctuation (quotes, dashes, ellipsis), CJK symbols and
 * punctuation (、。「」), full-width and half-width forms ("：", "（"),
 * which CJK notices write right against an address */
static bool utf8_punct(unsigned cp)
{
	return (cp >= 0xa0 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 ||
	       (cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x3000 && cp <= 0x303f) ||
	       (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xffef);
}

size_t bounce_punct_len(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *)p;

	if (p >= end || *u < 0x80 || !utf8_punct(utf8_at(u, (const unsigned char *)end)))
		return 0;
	return *u >= 0xf0 ? 4 : *u >= 0xe0 ? 3 : 2;
}

/* utf8_cjk - kana, CJK ideographs and Hangul: a Chinese, Japanese or
 * Korean notice's words, which it writes with no space around an ASCII
 * address ("收件人lily@example.cn邮箱不存在") */
static bool utf8_cjk(unsigned cp)
{
	return (cp >= 0x3040 && cp <= 0x30ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
	       (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7af) ||
	       (cp >= 0xf900 && cp <= 0xfaff);
}

/* bounce_skip_space - past the white space at p (and the ASCII bytes in
 * also): ' ', '\t', and the Unicode spaces notices indent with, U+00A0
 * (no-break, the HTML "&nbsp;" of a page saved as text) and U+3000
 * (ideographic, CJK notices), U+2000-U+200A, U+202F, U+205F */
const char *bounce_skip_space(const char *p, const char *end, const char *also)
{
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		unsigned cp;

		if (c == ' ' || c == '\t' || (c < 0x80 && c && strchr(also, c))) {
			p++;
			continue;
		}
		cp = c >= 0x80 ? utf8_at((const unsigned char *)p, (const unsigned char *)end) : 0;
		if (cp != 0xa0 && cp != 0x3000 && (cp < 0x2000 || cp > 0x200a) && cp != 0x202f &&
		    cp != 0x205f)
			break;
		p += cp < 0x800 ? 2 : 3;
	}
	return p;
}

/* ascii_run - p[0..n) holds no byte above 0x7f */
static bool ascii_run(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return false;
	return true;
}

/* addr_edge - the character that starts at c ends the address part
 * already read, part[0..n): punctuation always, CJK text when the part is
 * ASCII (an all-CJK local part or domain is an internationalised
 * address, RFC 6531, and stays whole) */
static bool addr_edge(const char *c, const char *end, const char *part, size_t n)
{
	unsigned cp = utf8_at((const unsigned char *)c, (const unsigned char *)end);

	return utf8_punct(cp) || (utf8_cjk(cp) && n > 0 && ascii_run(part, n));
}

const char *bounce_find_addr(const char *s, size_t len, char *out, size_t size)
{
	const char *end = s + len;

	for (const char *at = memchr(s, '@', len); at;
	     at = memchr(at + 1, '@', (size_t)(end - at - 1))) {
		const char *b = at, *e = at + 1;

		if (at + 1 >= end)
			return NULL;
		/* a quoted local part: "..."@domain (RFC 5321 4.1.2) */
		if (b > s && b[-1] == '"') {
			const char *q = b - 2;
			while (q >= s && *q != '"' && *q != '\n')
				q--;
			if (q >= s && *q == '"')
				b = q;
		}
		if (b == at)
			while (b > s && bounce_addr_local_char((unsigned char)b[-1])) {
				if ((unsigned char)b[-1] >= 0x80) {
					/* the whole character before b */
					const char *c = b - 1;
					while (c > s && ((unsigned char)*c & 0xc0) == 0x80)
						c--;
					if (addr_edge(c, end, b, (size_t)(at - b)))
						break;
					b = c;
					continue;
				}
				b--;
			}
		while (e < end && bounce_addr_domain_char((unsigned char)*e)) {
			if ((unsigned char)*e >= 0x80 &&
			    addr_edge(e, end, at + 1, (size_t)(e - at - 1)))
				break;
			e++;
		}
		/* a control byte against it was inside it ("alice\x01bob@",
		 * "bob@exa\x1bmple.net"): the string is refused whole, not
		 * cut there into another address */
		if ((b > s && ctl_byte((unsigned char)b[-1])) ||
		    (e < end && ctl_byte((unsigned char)*e)))
			continue;
		while (b < at && *b == '.')
			b++;
		while (e > at + 1 && (e[-1] == '.' || e[-1] == '-'))
			e--;
		if (b == at || e == at + 1 || !memchr(at + 1, '.', (size_t)(e - at - 1))) {
			/* no dot: only a bare host name (kijitora@mailhub) is kept
			 * when it stands inside <...> */
			if (b == at || e == at + 1 || b == s || b[-1] != '<' || e >= end ||
			    *e != '>')
				continue;
		}
		size_t l = (size_t)(e - b);
		if (l >= size || bounce_addr_garbage(b, l))
			continue;
		memcpy(out, b, l);
		out[l] = '\0';
		return e;
	}
	return NULL;
}

bool bounce_find_status(const char *s, char *out, size_t size)
{
	for (const char *p = s; *p; p++) {
		if ((*p != '2' && *p != '4' && *p != '5') || p[1] != '.')
			continue;
		if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '.'))
			continue;
		const char *q = p + 2;
		int a = 0, b = 0;
		while (isdigit((unsigned char)*q) && a < 3)
			q++, a++;
		if (a == 0 || *q != '.')
			continue;
		q++;
		while (isdigit((unsigned char)*q) && b < 3)
			q++, b++;
		if (b == 0 || isdigit((unsigned char)*q) ||
		    (*q == '.' && isdigit((unsigned char)q[1])))
			continue;
		size_t l = (size_t)(q - p);
		if (l >= size)
			return false;
		memcpy(out, p, l);
		out[l] = '\0';
		return true;
	}
	return false;
}

bool bounce_find_replycode(const char *s, char *out, size_t size)
{
	if (size < 4)
		return false;
	for (const char *p = s; *p; p++) {
		if ((*p != '2' && *p != '4' && *p != '5') || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]))
			continue;
		if (p > s && (isalnum((unsigned char)p[-1]) || strchr(".:#[-/", p[-1])))
			continue;
		/* RFC 5321 4.2: code then SP, '-' or end of line */
		if (p[3] != ' ' && p[3] != '-' && p[3] != '\0' && p[3] != '\n' && p[3] != ')')
			continue;
		if (p[3] == '-' && isdigit((unsigned char)p[4]))
			continue;
		if (p[1] > '5' || (p[1] == '0' && p[2] == '0' && *p != '2'))
			continue;
		memcpy(out, p, 3);
		out[3] = '\0';
		return true;
	}
	return false;
}

bool bounce_header(const char *block, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = block;

	while (p && *p) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			const char *e = strchr(v, '\n');
			size_t l;

			while (*v == ' ' || *v == '\t')
				v++;
			l = e ? (size_t)(e - v) : strlen(v);
			if (l >= size)
				l = size - 1;
			memcpy(out, v, l);
			out[l] = '\0';
			util_trim(out);
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}
