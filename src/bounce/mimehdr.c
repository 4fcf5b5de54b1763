/*
 * mimehdr.c - header fields for the fast MIME reader (mimelite.c): where
 * a header block ends (RFC 5322 2.1), the unfolded value of one field
 * (RFC 5322 2.2.3), every field dumped as "Name: value\n" the way mime.c
 * dumps GMime's headers, and the Content-Type with the parameters the
 * reader uses (RFC 2045 5.1).
 *
 * Why it copies GMime: mime.c is the reference, so header lines that are
 * not fields are dropped as GMime's parser drops them (a Content-Type
 * parameter left unindented, stray text), and RFC 2047 encoded words and
 * 8-bit header bytes still go through GMime's decoder.
 *
 * Invariants: input has LF line ends; dumped values are valid UTF-8 with
 * no tab, CR or LF inside; nothing is read past the given length.
 *
 * How it fails: a shape not handled exactly here (a "name :" field,
 * control or 8-bit bytes in a name, an RFC 2231 parameter, an oversized
 * type or parameter) returns false, and the caller leaves the whole
 * message to GMime.
 */
#include <gmime/gmime.h>
#include <string.h>

#include "bounce/mimeparts.h"

/* What GMime's parser makes of a header line that is not a fold */
enum line_kind {
	LINE_FIELD, /* "name:" (RFC 5322 2.2: printable, no space) */
	LINE_DROP,  /* a name then white space (folds too) and no colon:
	             * not a field; dropped with its folds */
	LINE_BAD    /* anything else ("name :", control or 8-bit bytes in
	             * the name): not a shape handled here */
};

/* name_char - bytes of a field name (RFC 5322 2.2: printable ASCII
 * but the colon) */
#define NC8(c)                                                                                 \
	[c] = 1, [c + 1] = 1, [c + 2] = 1, [c + 3] = 1, [c + 4] = 1, [c + 5] = 1, [c + 6] = 1, \
	[c + 7] = 1
static const unsigned char name_char[256] = {
    NC8(0x21),  NC8(0x29),  NC8(0x31),  [0x39] = 1, [0x3b] = 1, [0x3c] = 1, [0x3d] = 1, [0x3e] = 1,
    [0x3f] = 1, NC8(0x40),  NC8(0x48),  NC8(0x50),  NC8(0x58),  NC8(0x60),  NC8(0x68),  NC8(0x70),
    [0x78] = 1, [0x79] = 1, [0x7a] = 1, [0x7b] = 1, [0x7c] = 1, [0x7d] = 1, [0x7e] = 1,
};

/* line_kind - the kind of the line at p, p[0..len) the rest of the
 * header block */
static enum line_kind line_kind(const char *p, size_t len)
{
	size_t k = 0;

	while (k < len && name_char[(unsigned char)p[k]])
		k++;
	if (k == 0)
		return LINE_BAD;
	if (k < len && p[k] == ':')
		return LINE_FIELD;
	if (k < len && p[k] != ' ' && p[k] != '\t' && p[k] != '\n')
		return LINE_BAD;
	/* the name ends at white space: a colon after it (even past a
	 * fold) would still make a field of it */
	while (k < len) {
		if (p[k] == ' ' || p[k] == '\t')
			k++;
		else if (p[k] == '\n' && k + 1 < len && (p[k + 1] == ' ' || p[k + 1] == '\t'))
			k++;
		else
			break;
	}
	return k < len && p[k] == ':' ? LINE_BAD : LINE_DROP;
}

/* mimehdr_end - offset of the body in p[0..len): after the blank line that
 * ends the header (RFC 5322 2.1). The first line must be a field; after
 * it come fields, folded continuations, and lines that are not fields at
 * all, which GMime's parser drops and so do the readers here (a
 * Content-Type parameter left unindented, stray text). Any other line:
 * false (not a shape handled here). */
bool mimehdr_end(const char *p, size_t len, size_t *body)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (p + i)) : len - i;

		if (l == 0) {
			*body = i + 1;
			return true;
		}
		if (p[i] != ' ' && p[i] != '\t') {
			enum line_kind k = line_kind(p + i, len - i);
			if (k == LINE_BAD || (k == LINE_DROP && i == 0))
				return false;
		} else if (i == 0) {
			return false;
		}
		if (!nl) {
			*body = len;
			return true;
		}
		i += l + 1;
	}
	*body = len;
	return true;
}

/* mimehdr_prefix - length of the leading run of header lines in p[0..len)
 * (fields, dropped lines, folds; the first line a field), ending after
 * the last newline of the run */
size_t mimehdr_prefix(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (p + i)) : len - i;

		if (l == 0 || !nl)
			break;
		if (p[i] != ' ' && p[i] != '\t') {
			enum line_kind k = line_kind(p + i, len - i);
			if (k == LINE_BAD || (k == LINE_DROP && i == 0))
				break;
		} else if (i == 0) {
			break;
		}
		i += l + 1;
	}
	return i;
}

/* unfold_value - append to out the value that starts at h[from] on the
 * line h[*i..*i+l) and its continuation lines (RFC 5322 2.2.3: a line
 * that starts with white space goes on the field before), line breaks
 * removed; *i is left at the line after the field */
static void unfold_value(const char *h, size_t hlen, size_t *i, size_t l, size_t from,
                         struct buf *out)
{
	for (;;) {
		buf_append(out, h + from, *i + l - from);
		*i += l + 1;
		if (*i >= hlen || (h[*i] != ' ' && h[*i] != '\t'))
			return;
		const char *e = memchr(h + *i, '\n', hlen - *i);
		l = e ? (size_t)(e - (h + *i)) : hlen - *i;
		from = *i;
	}
}

/* mimehdr_field - unfolded raw value of the first field `name` in the header
 * h[0..hlen): leading white space dropped, line breaks removed (RFC 5322
 * 2.2.3), tabs made spaces, trailing white space trimmed. */
bool mimehdr_field(const char *h, size_t hlen, const char *name, struct buf *out)
{
	size_t nl = strlen(name), i = 0;

	while (i < hlen) {
		const char *e = memchr(h + i, '\n', hlen - i);
		size_t l = e ? (size_t)(e - (h + i)) : hlen - i;

		if (l > nl && h[i + nl] == ':' && strncasecmp(h + i, name, nl) == 0) {
			size_t v = i + nl + 1;
			buf_reset(out);
			while (v < i + l && (h[v] == ' ' || h[v] == '\t'))
				v++;
			unfold_value(h, hlen, &i, l, v, out);
			for (size_t t = 0; t < out->len; t++)
				if (out->data[t] == '\t')
					out->data[t] = ' ';
			/* trailing white space (leading was skipped above) */
			while (out->len &&
			       (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'))
				out->len--;
			buf_putc(out, '\0');
			out->len--;
			return true;
		}
		i += l + 1;
	}
	return false;
}

/* needs_gmime - a value GMime must decode: RFC 2047 words or 8-bit bytes */
static bool needs_gmime(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || (s[0] == '=' && s[1] == '?'))
			return true;
	return false;
}

/* plain_value - s[0..n) is 7-bit, without NUL, tab (unless tabs) or an RFC 2047
 * "=?" opener: a field value to copy as it is (checked a word at a
 * time; header fields are most of what the reader reads) */
static bool plain_value(const char *s, size_t n, bool tabs)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if ((w & MIMEPARTS_HIGHS) || mimeparts_has_zero(w) ||
		    (!tabs && mimeparts_has_zero(w ^ (MIMEPARTS_ONES * '\t'))))
			return false;
		if (mimeparts_has_zero(w ^ (MIMEPARTS_ONES * '=')))
			for (size_t j = i; j < i + 8; j++)
				if (s[j] == '=' && j + 1 < n && s[j + 1] == '?')
					return false;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || (!tabs && s[i] == '\t') || s[i] == '\0' ||
		    (s[i] == '=' && i + 1 < n && s[i + 1] == '?'))
			return false;
	return true;
}

/* mimehdr_dump - every field of h as "Name: value\n", like headers_dump */
void mimehdr_dump(const char *h, size_t hlen, struct buf *out)
{
	struct buf v = {0};
	size_t i = 0;

	while (i < hlen) {
		const char *e = memchr(h + i, '\n', hlen - i);
		size_t l = e ? (size_t)(e - (h + i)) : hlen - i;

		/* folds of a dropped line, and the dropped line itself */
		if (l == 0 || h[i] == ' ' || h[i] == '\t' ||
		    line_kind(h + i, hlen - i) != LINE_FIELD) {
			i += l + 1;
			continue;
		}
		const char *colon = memchr(h + i, ':', l);
		size_t vstart = (size_t)(colon - h) + 1;
		/* the common field: one line, plain ASCII, no tab; copied
		 * whole without the scratch buffer */
		size_t nl = i + l;
		if (nl + 1 >= hlen || (h[nl + 1] != ' ' && h[nl + 1] != '\t')) {
			const char *vs = h + vstart, *ve = h + nl;
			if (plain_value(vs, (size_t)(ve - vs), false)) {
				while (vs < ve && *vs == ' ')
					vs++;
				while (ve > vs && ve[-1] == ' ')
					ve--;
				/* room once, then plain copies */
				size_t nlen = (size_t)(colon - (h + i)), vlen = (size_t)(ve - vs);
				buf_reserve(out, nlen + 3 + vlen);
				char *w = out->data + out->len;
				memcpy(w, h + i, nlen);
				memcpy(w + nlen, ": ", 2);
				memcpy(w + nlen + 2, vs, vlen);
				w[nlen + 2 + vlen] = '\n';
				out->len += nlen + 3 + vlen;
				out->data[out->len] = '\0';
				i = nl + 1;
				continue;
			}
		}
		buf_append(out, h + i, (size_t)(colon - (h + i)));
		buf_puts(out, ": ");
		/* value with its continuation lines, unfolded straight into
		 * out; tabs made spaces and trimmed as util_trim does when it
		 * is plain ASCII, else through the scratch buffer below */
		size_t at = out->len, fi = i;
		unfold_value(h, hlen, &i, l, vstart, out);
		if (plain_value(out->data + at, out->len - at, true)) {
			char *vs = out->data + at, *ve = out->data + out->len;
			for (char *p = memchr(vs, '\t', (size_t)(ve - vs)); p;
			     p = memchr(p + 1, '\t', (size_t)(ve - p - 1)))
				*p = ' ';
			while (vs < ve && (*vs == ' ' || *vs == '\r'))
				vs++;
			while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\r'))
				ve--;
			memmove(out->data + at, vs, (size_t)(ve - vs));
			out->len = at + (size_t)(ve - vs);
			buf_putc(out, '\n');
			continue;
		}
		out->len = at;
		out->data[at] = '\0';
		i = fi;
		buf_reset(&v);
		unfold_value(h, hlen, &i, l, vstart, &v);
		buf_putc(&v, '\0');
		for (char *p = v.data; *p; p++)
			if (*p == '\t')
				*p = ' ';
		char *val = util_trim(v.data);
		if (needs_gmime(val)) {
			char *d = g_mime_utils_header_decode_text(NULL, val);
			gchar *ok = g_utf8_make_valid(d ? d : val, -1);
			for (char *p = ok; *p; p++)
				buf_putc(out, *p == '\n' || *p == '\t' || *p == '\r' ? ' ' : *p);
			g_free(ok);
			g_free(d);
		} else {
			buf_puts(out, val);
		}
		buf_putc(out, '\n');
	}
	buf_free(&v);
}

/* param - value of parameter `name` in a Content-Type value (RFC 2045
 * 5.1: token or quoted-string); false when absent. An RFC 2231
 * "name*" form makes it fail (the caller falls back to GMime). */
static int param(const char *v, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = strchr(v, ';');

	while (p) {
		p++;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == '*')
			return -1;
		if (strncasecmp(p, name, nl) == 0 && (p[nl] == '=' || p[nl] == ' ')) {
			const char *q = p + nl;
			size_t o = 0;
			while (*q == ' ')
				q++;
			if (*q != '=')
				return -1;
			q++;
			while (*q == ' ')
				q++;
			if (*q == '"') {
				for (q++; *q && *q != '"'; q++) {
					if (*q == '\\' && q[1])
						q++;
					if (o + 1 < size)
						out[o++] = *q;
				}
			} else {
				for (; *q && *q != ';' && *q != ' '; q++)
					if (o + 1 < size)
						out[o++] = *q;
			}
			out[o] = '\0';
			return o > 0 && o + 1 < size ? 1 : -1;
		}
		p = strchr(p, ';');
	}
	return 0;
}

/* mimehdr_ctype_parse - RFC 2045 5.1 type/subtype and the parameters used here;
 * absent header: text/plain (RFC 2045 5.2). false: a shape to leave to
 * GMime. */
bool mimehdr_ctype_parse(const char *h, size_t hlen, struct buf *tmp, struct mimehdr_ctype *ct)
{
	memset(ct, 0, sizeof(*ct));
	if (!mimehdr_field(h, hlen, "Content-Type", tmp) || tmp->len == 0) {
		util_strlcpy(ct->type, "text", sizeof(ct->type));
		util_strlcpy(ct->sub, "plain", sizeof(ct->sub));
		return true;
	}
	const char *v = tmp->data, *slash = strchr(v, '/');
	size_t tl = slash ? (size_t)(slash - v) : 0, sl = 0;

	if (!slash || tl == 0 || tl >= sizeof(ct->type))
		return false;
	memcpy(ct->type, v, tl);
	while (slash[1 + sl] && slash[1 + sl] != ';' && slash[1 + sl] != ' ')
		sl++;
	if (sl == 0 || sl >= sizeof(ct->sub))
		return false;
	memcpy(ct->sub, slash + 1, sl);
	util_lowercase(ct->type);
	util_lowercase(ct->sub);
	if (param(v, "boundary", ct->boundary, sizeof(ct->boundary)) < 0 ||
	    param(v, "charset", ct->charset, sizeof(ct->charset)) < 0)
		return false;
	util_lowercase(ct->charset);
	return true;
}
