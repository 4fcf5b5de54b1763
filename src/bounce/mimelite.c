/*
 * mimelite.c - the fast path of MIME decoding: read the common shapes of a
 * bounce (RFC 5322 header, RFC 2046 multiparts, RFC 2045 base64 and
 * quoted-printable, text in any charset iconv knows) straight off the
 * bytes into a struct bounce_doc, the same view mime.c builds with GMime,
 * without building an object tree per message.
 *
 * Why: a bounce is small and shallow; building and freeing GMime's objects
 * costs several times the rest of the parse. GMime stays the reference,
 * and this reader copies its behaviour where bounces need it: header
 * lines that are not fields are dropped (so a multipart may lose its
 * boundary and with it its parts), delimiter lines are matched as GMime
 * matches them, bytes invalid in a part's charset are dropped. RFC 2047
 * encoded words and 8-bit header bytes still go through GMime's decoder,
 * and whenever this reader meets anything it does not handle exactly (a
 * "name :" field, a delimiter that never occurs, an RFC 2231 parameter,
 * an unknown transfer encoding) it gives up and the caller decodes the
 * whole message with GMime instead.
 *
 * Invariants: input has LF line ends (parse.c normalised them); output
 * buffers are valid UTF-8 with LF line ends, as in mime.c. Recursion depth
 * is bounded (MAX_DEPTH nested multiparts), so no input can exhaust the
 * stack; memory is bounded by a few copies of the input.
 *
 * How it fails: it returns false and leaves the doc empty for mime.c.
 */
#include <ctype.h>
#include <errno.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <string.h>

#include "bounce/internal.h"

#define MAX_DEPTH 12

struct ctype {
	char type[32], sub[64];
	char boundary[200];
	char charset[40];
};

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
#define NC8(c) [c] = 1, [c + 1] = 1, [c + 2] = 1, [c + 3] = 1, [c + 4] = 1, [c + 5] = 1, [c + 6] = 1, [c + 7] = 1
static const unsigned char name_char[256] = {
    NC8(0x21), NC8(0x29), NC8(0x31), [0x39] = 1, [0x3b] = 1, [0x3c] = 1, [0x3d] = 1,
    [0x3e] = 1, [0x3f] = 1, NC8(0x40), NC8(0x48), NC8(0x50), NC8(0x58), NC8(0x60),
    NC8(0x68), NC8(0x70), [0x78] = 1, [0x79] = 1, [0x7a] = 1, [0x7b] = 1, [0x7c] = 1,
    [0x7d] = 1, [0x7e] = 1,
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

/* header_end - offset of the body in p[0..len): after the blank line that
 * ends the header (RFC 5322 2.1). The first line must be a field; after
 * it come fields, folded continuations, and lines that are not fields at
 * all, which GMime's parser drops and so do the readers here (a
 * Content-Type parameter left unindented, stray text). Any other line:
 * false (not a shape handled here). */
static bool header_end(const char *p, size_t len, size_t *body)
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

/* header_prefix - length of the leading run of header lines in p[0..len)
 * (fields, dropped lines, folds; the first line a field), ending after
 * the last newline of the run */
static size_t header_prefix(const char *p, size_t len)
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

/* field_raw - unfolded raw value of the first field `name` in the header
 * h[0..hlen): leading white space dropped, line breaks removed (RFC 5322
 * 2.2.3), tabs made spaces, trailing white space trimmed. */
static bool field_raw(const char *h, size_t hlen, const char *name, struct buf *out)
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
			for (;;) {
				/* the line at once, then its tabs made spaces */
				size_t at = out->len;
				buf_append(out, h + v, i + l - v);
				for (size_t t = at; t < out->len; t++)
					if (out->data[t] == '\t')
						out->data[t] = ' ';
				i += l + 1;
				if (i >= hlen || (h[i] != ' ' && h[i] != '\t'))
					break;
				e = memchr(h + i, '\n', hlen - i);
				l = e ? (size_t)(e - (h + i)) : hlen - i;
				v = i;
			}
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

/* Eight bytes at a time: a word has a zero byte when (w - 0x01..) &
 * ~w & 0x80.. is not zero; a byte >= 0x80 when w & 0x80.. is not */
#define ONES ((uint64_t)0x0101010101010101ull)
#define HIGHS ((uint64_t)0x8080808080808080ull)
#define HAS_ZERO(w) (((w) - ONES) & ~(w) & HIGHS)

/* plain_value - s[0..n) is 7-bit, without NUL, tab (unless tabs) or an RFC 2047
 * "=?" opener: a field value to copy as it is (checked a word at a
 * time; header fields are most of what this file reads) */
static bool plain_value(const char *s, size_t n, bool tabs)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if ((w & HIGHS) || HAS_ZERO(w) || (!tabs && HAS_ZERO(w ^ (ONES * '\t'))))
			return false;
		if (HAS_ZERO(w ^ (ONES * '=')))
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

/* dump_fields - every field of h as "Name: value\n", like headers_dump */
static void dump_fields(const char *h, size_t hlen, struct buf *out)
{
	struct buf v = {0};
	size_t i = 0;

	while (i < hlen) {
		const char *e = memchr(h + i, '\n', hlen - i);
		size_t l = e ? (size_t)(e - (h + i)) : hlen - i;

		/* folds of a dropped line, and the dropped line itself */
		if (l == 0 || h[i] == ' ' || h[i] == '\t' || line_kind(h + i, hlen - i) != LINE_FIELD) {
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
		size_t at = out->len, fi = i, fl = l;
		for (size_t j = vstart;;) {
			buf_append(out, h + j, i + l - j);
			i += l + 1;
			if (i >= hlen || (h[i] != ' ' && h[i] != '\t'))
				break;
			e = memchr(h + i, '\n', hlen - i);
			l = e ? (size_t)(e - (h + i)) : hlen - i;
			j = i;
		}
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
		l = fl;
		buf_reset(&v);
		size_t j = vstart;
		for (;;) {
			buf_append(&v, h + j, i + l - j);
			i += l + 1;
			if (i >= hlen || (h[i] != ' ' && h[i] != '\t'))
				break;
			e = memchr(h + i, '\n', hlen - i);
			l = e ? (size_t)(e - (h + i)) : hlen - i;
			j = i;
		}
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

/* ctype_parse - RFC 2045 5.1 type/subtype and the parameters used here;
 * absent header: text/plain (RFC 2045 5.2). false: a shape to leave to
 * GMime. */
static bool ctype_parse(const char *h, size_t hlen, struct buf *tmp, struct ctype *ct)
{
	memset(ct, 0, sizeof(*ct));
	if (!field_raw(h, hlen, "Content-Type", tmp) || tmp->len == 0) {
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

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* body_decode - undo the transfer encoding (RFC 2045 6.7 quoted-printable,
 * 6.8 base64; characters outside the alphabet are skipped, as 6.8 asks);
 * false for an encoding not known here */
static bool body_decode(const char *h, size_t hlen, const char *b, size_t blen, struct buf *tmp,
                        struct buf *out)
{
	if (!field_raw(h, hlen, "Content-Transfer-Encoding", tmp) || tmp->len == 0 ||
	    strcasecmp(tmp->data, "7bit") == 0 || strcasecmp(tmp->data, "8bit") == 0 ||
	    strcasecmp(tmp->data, "binary") == 0) {
		buf_append(out, b, blen);
	} else if (strcasecmp(tmp->data, "base64") == 0) {
		/* decoded bytes are fewer than encoded ones: room for all
		 * first, then written in place (no per-byte append) */
		unsigned acc = 0;
		int bits = 0;
		char *w;

		buf_reserve(out, blen);
		w = out->data + out->len;
		for (size_t i = 0; i < blen; i++) {
			int v = b64val((unsigned char)b[i]);
			if (b[i] == '=')
				break;
			if (v < 0)
				continue;
			acc = (acc << 6) | (unsigned)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				*w++ = (char)((acc >> bits) & 0xff);
			}
		}
		out->len = (size_t)(w - out->data);
		out->data[out->len] = '\0';
	} else if (strcasecmp(tmp->data, "quoted-printable") == 0) {
		char *w;

		buf_reserve(out, blen);
		w = out->data + out->len;
		for (size_t i = 0; i < blen; i++) {
			if (b[i] != '=') {
				*w++ = b[i];
				continue;
			}
			if (i + 1 < blen && b[i + 1] == '\n') {
				i++; /* soft line break */
				continue;
			}
			int hi = i + 2 < blen ? hexval((unsigned char)b[i + 1]) : -1;
			int lo = i + 2 < blen ? hexval((unsigned char)b[i + 2]) : -1;
			if (hi >= 0 && lo >= 0) {
				*w++ = (char)(hi * 16 + lo);
				i += 2;
			} else {
				*w++ = '=';
			}
		}
		out->len = (size_t)(w - out->data);
		out->data[out->len] = '\0';
	} else {
		return false;
	}
	return true;
}

/* ascii_only - s[0..len) is 7-bit */
static bool ascii_only(const char *s, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & HIGHS)
			return false;
	}
	for (; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* plain_text - s[0..len) is 7-bit without NUL or CR: valid UTF-8 to copy
 * as it is (the common case, checked a word at a time) */
static bool plain_text(const char *s, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if ((w & HIGHS) || HAS_ZERO(w) || HAS_ZERO(w ^ (ONES * '\r')))
			return false;
	}
	for (; i < len; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0' || s[i] == '\r')
			return false;
	return true;
}

/* put_utf8 - bytes made valid UTF-8 into out, CR dropped (as mime.c) */
static void put_utf8(struct buf *out, const char *s, size_t len)
{
	/* the common cases, already valid and without CR or NUL: one copy */
	if (plain_text(s, len) ||
	    (!memchr(s, '\r', len) && g_utf8_validate(s, (gssize)len, NULL))) {
		buf_append(out, s, len);
		return;
	}
	gchar *valid = g_utf8_make_valid(s, (gssize)len);
	size_t vl = strlen(valid);
	char *w;

	buf_reserve(out, vl);
	w = out->data + out->len;
	for (const char *p = valid; *p; p++)
		if (*p != '\r')
			*w++ = *p;
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
	g_free(valid);
}

/* One converter per charset, kept for the thread's life: opening an
 * iconv converter costs far more than a bounce's text to convert. */
#define CONV_SLOTS 8
static _Thread_local struct conv_slot {
	char name[40];
	GIConv cd;
} conv_cache[CONV_SLOTS];

/* Names that neither iconv nor GMime's table map to an iconv charset
 * (RFC 2152 UTF-7 under its old IANA name, which Exchange writes) */
static const struct {
	const char *name, *iconv;
} charset_aliases[] = {
    {"unicode-1-1-utf-7", "UTF-7"},
    {"unicode-2-0-utf-7", "UTF-7"},
    {NULL, NULL},
};

/* conv_open - the cached UTF-8 converter from charset cs; NULL when
 * iconv does not know cs (*unknown set) or the cache is full */
static GIConv *conv_open(const char *cs, bool *unknown)
{
	*unknown = false;
	for (int i = 0; i < CONV_SLOTS; i++)
		if (conv_cache[i].name[0] && strcmp(conv_cache[i].name, cs) == 0)
			return &conv_cache[i].cd;
	for (int i = 0; i < CONV_SLOTS; i++)
		if (!conv_cache[i].name[0]) {
			/* GMime knows the aliases iconv lacks
			 * ("unicode-1-1-utf-7" is UTF-7) */
			GIConv cd = g_iconv_open("UTF-8", g_mime_charset_iconv_name(cs));
			bool alias = false;
			for (size_t a = 0; cd == (GIConv)-1 && charset_aliases[a].name; a++)
				if (strcmp(cs, charset_aliases[a].name) == 0) {
					cd = g_iconv_open("UTF-8", charset_aliases[a].iconv);
					alias = true;
				}
			if (cd == (GIConv)-1) {
				*unknown = !alias;
				return NULL;
			}
			util_strlcpy(conv_cache[i].name, cs, sizeof(conv_cache[i].name));
			conv_cache[i].cd = cd;
			return &conv_cache[i].cd;
		}
	return NULL;
}

/* convert - s[0..len) from charset cs to UTF-8 (RFC 2046 4.1.2) into out
 * (raw, NUL and CR kept). As GMime's charset filter: a byte iconv finds
 * invalid (EILSEQ) is dropped and the conversion goes on; a charset iconv
 * does not know leaves the bytes as they are (*raw set). false: not
 * decided here (a sequence cut short at the end, a full cache). */
static bool convert(const char *cs, const char *s, size_t len, struct buf *out, bool *raw)
{
	GIConv *cd = conv_open(cs, raw);
	char *in = (char *)s;
	size_t inleft = len;

	if (!cd) {
		if (!*raw)
			return false;
		buf_append(out, s, len);
		return true;
	}
	g_iconv(*cd, NULL, NULL, NULL, NULL); /* reset shift state */
	while (inleft > 0) {
		/* UTF-8 takes at most 4 bytes per input byte (plus a
		 * shift sequence's worth) */
		size_t room = inleft * 4 + 16;
		buf_reserve(out, room);
		char *o = out->data + out->len;
		size_t oleft = room;
		size_t r = g_iconv(*cd, &in, &inleft, &o, &oleft);
		out->len = (size_t)(o - out->data);
		out->data[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == EILSEQ) {
			in++;
			inleft--;
		} else if (errno != E2BIG) {
			return false; /* EINVAL: cut short at the end */
		}
	}
	return true;
}

/* text_to_utf8 - a text part in UTF-8 (RFC 2046 4.1.2), the same bytes
 * as GMime's text of the part: converted from its charset (UTF-8 and
 * ASCII text that is valid as it is stays as it is; ISO-8859-1 by hand,
 * each byte the code point of the same value; any other charset through
 * a cached converter), cut at the first NUL (GMime returns a C string),
 * made valid UTF-8, CR dropped. No charset: the bytes as they are. */
static bool text_to_utf8(const struct ctype *ct, const char *s, size_t len, struct buf *out,
                         struct buf *tmp)
{
	const char *cs = ct->charset, *nul = memchr(s, '\0', len);
	bool ascii = strcmp(cs, "us-ascii") == 0 || strcmp(cs, "ascii") == 0;
	bool utf8 = strcmp(cs, "utf-8") == 0 || strcmp(cs, "utf8") == 0;
	bool raw = false;

	if (nul)
		len = (size_t)(nul - s);
	if (!cs[0] || (ascii && ascii_only(s, len)) || (utf8 && (plain_text(s, len) || g_utf8_validate(s, (gssize)len, NULL)))) {
		put_utf8(out, s, len);
	} else if (strcmp(cs, "iso-8859-1") == 0 || strcmp(cs, "latin1") == 0) {
		char *w;
		buf_reserve(out, 2 * len);
		w = out->data + out->len;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\r')
				continue;
			if (c < 0x80) {
				*w++ = (char)c;
			} else {
				*w++ = (char)(0xc0 | (c >> 6));
				*w++ = (char)(0x80 | (c & 0x3f));
			}
		}
		out->len = (size_t)(w - out->data);
		out->data[out->len] = '\0';
	} else {
		buf_reset(tmp);
		if (!convert(cs, s, len, tmp, &raw))
			return false;
		nul = memchr(tmp->data, '\0', tmp->len);
		put_utf8(out, tmp->data, nul ? (size_t)(nul - tmp->data) : tmp->len);
	}
	if (out->len && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
	return true;
}

struct lite {
	struct bounce_doc *doc;
	struct buf tmp, dec;
};

static bool entity(struct lite *L, const char *p, size_t len, int depth, int nest);

/* lwsp_only - p[0..n) is only spaces and tabs */
static bool lwsp_only(const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (p[k] != ' ' && p[k] != '\t')
			return false;
	return true;
}

/* multipart - RFC 2046 5.1.1: parts between "--boundary" lines; the
 * preamble and epilogue are not parts. As GMime's parser: a delimiter
 * line is "--boundary" then only white space, the close delimiter
 * "--boundary--" then only white space (any other line starting so is
 * content); a multipart without a boundary parameter is all preamble: it
 * has no parts and gives no text. A multipart whose delimiter never
 * occurs is left to GMime (a unit test holds that). */
static bool multipart(struct lite *L, const struct ctype *ct, const char *b, size_t blen, int depth,
                      int nest)
{
	size_t bl = strlen(ct->boundary), i = 0, start = 0;
	bool in = false, found = false, alt = strcmp(ct->sub, "alternative") == 0;
	const char *parts[256];
	size_t plen[256], np = 0;

	if (depth == 0 && strcmp(ct->type, "multipart") == 0 && strcmp(ct->sub, "report") == 0)
		L->doc->report = true;
	if (bl == 0)
		return true;
	while (i < blen) {
		/* jump to the next occurrence of the boundary itself (one
		 * fast search, not one per line: the returned message is
		 * often most of the body); it counts when "--" opens its
		 * line just before it */
		const char *m = memmem(b + i, blen - i, ct->boundary, bl);
		if (!m)
			break;
		size_t at = (size_t)(m - b);
		if (at < i + 2 || m[-1] != '-' || m[-2] != '-' || (at > 2 && m[-3] != '\n')) {
			i = at + 1;
			continue;
		}
		const char *e = memchr(m + bl, '\n', blen - at - bl);
		size_t r = e ? (size_t)(e - (m + bl)) : blen - at - bl; /* rest of the line */
		bool close = r >= 2 && m[bl] == '-' && m[bl + 1] == '-' && lwsp_only(m + bl + 2, r - 2);
		if (!close && !lwsp_only(m + bl, r)) {
			i = at + 1;
			continue;
		}
		i = at - 2;
		found = true;
		if (in) {
			/* the line break before a delimiter belongs to it */
			size_t end = i > start ? i - 1 : start;
			if (np == 256)
				return false;
			parts[np] = b + start;
			plen[np++] = end - start;
		}
		in = !close;
		start = at + bl + r + 1;
		if (close)
			break;
		i = start;
	}
	if (!found)
		return false;
	if (in && start < blen) {
		if (np == 256)
			return false;
		parts[np] = b + start;
		plen[np++] = blen - start;
	}
	if (alt) {
		/* RFC 2046 5.1.4: the same content; prefer plain text */
		for (size_t k = 0; k < np; k++) {
			size_t off;
			struct ctype c;
			if (!header_end(parts[k], plen[k], &off) ||
			    !ctype_parse(parts[k], off, &L->tmp, &c))
				return false;
			if (strcmp(c.type, "text") == 0 && strcmp(c.sub, "plain") == 0)
				return entity(L, parts[k], plen[k], depth, nest + 1);
		}
	}
	for (size_t k = 0; k < np; k++)
		if (!entity(L, parts[k], plen[k], depth, nest + 1))
			return false;
	return true;
}

/* entity - one MIME entity (header + body); mirrors walk() in mime.c */
static bool entity(struct lite *L, const char *p, size_t len, int depth, int nest)
{
	struct bounce_doc *doc = L->doc;
	struct ctype ct;
	size_t off;

	if (nest > MAX_DEPTH || !header_end(p, len, &off) || !ctype_parse(p, off, &L->tmp, &ct))
		return false;
	const char *b = p + off;
	size_t blen = len - off;
	const char *t = ct.type, *s = ct.sub;

	if (strcmp(t, "multipart") == 0)
		return multipart(L, &ct, b, blen, depth, nest);
	if (strcmp(t, "message") == 0 && (strcmp(s, "rfc822") == 0 || strcmp(s, "global") == 0)) {
		size_t moff;
		if (depth > 0)
			return true;
		if (field_raw(p, off, "Content-Transfer-Encoding", &L->tmp) &&
		    (strcasecmp(L->tmp.data, "base64") == 0 ||
		     strcasecmp(L->tmp.data, "quoted-printable") == 0))
			return false;
		/* the returned message: its header is what the report
		 * quotes of the original (RFC 3464 2.1, third part). A
		 * part that is not a header block at all ("[original
		 * message goes here]") gives the fields before its first
		 * line that is not one, as GMime's parser does, instead of
		 * sending the whole message through that parser. */
		if (!header_end(b, blen, &moff))
			moff = header_prefix(b, blen);
		if (doc->orig.len == 0)
			dump_fields(b, moff, &doc->orig);
		return true;
	}
	if (strcmp(t, "message") == 0 &&
	    (strcmp(s, "delivery-status") == 0 || strcmp(s, "global-delivery-status") == 0)) {
		if (depth == 0) {
			buf_reset(&L->dec);
			if (!body_decode(p, off, b, blen, &L->tmp, &L->dec))
				return false;
			put_utf8(&doc->dsn, L->dec.data ? L->dec.data : "", L->dec.len);
			buf_puts(&doc->dsn, "\n\n");
		}
		return true;
	}
	bool fb = strcmp(t, "message") == 0 && strcmp(s, "feedback-report") == 0;
	bool hdrs = (strcmp(t, "text") == 0 && strcmp(s, "rfc822-headers") == 0) ||
	            (strcmp(t, "message") == 0 &&
	             (strcmp(s, "rfc822-headers") == 0 || strcmp(s, "global-headers") == 0));
	bool text = strcmp(t, "text") == 0 && !hdrs;

	if (!fb && !hdrs && !text)
		return true; /* images, applications: nothing to read */
	if ((fb && depth > 0) || (hdrs && doc->orig.len))
		return true;
	buf_reset(&L->dec);
	if (!body_decode(p, off, b, blen, &L->tmp, &L->dec))
		return false;
	if (fb || hdrs) {
		put_utf8(fb ? &doc->arf : &doc->orig, L->dec.data ? L->dec.data : "", L->dec.len);
		return true;
	}
	return text_to_utf8(&ct, L->dec.data ? L->dec.data : "", L->dec.len,
	                    depth == 0 ? &doc->text : &doc->inner, &L->tmp);
}

bool bounce_doc_load_lite(struct bounce_doc *doc, const char *data, size_t len)
{
	struct lite L = {.doc = doc};
	size_t off;
	bool ok;

	memset(doc, 0, sizeof(*doc));
	ok = header_end(data, len, &off) && off > 0 && data[0] != '\n';
	if (ok) {
		dump_fields(data, off, &doc->hdr);
		ok = entity(&L, data, len, 0, 0);
	}
	buf_free(&L.tmp);
	buf_free(&L.dec);
	if (!ok) {
		bounce_doc_free(doc);
		memset(doc, 0, sizeof(*doc));
	}
	return ok;
}
