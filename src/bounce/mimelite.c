/*
 * mimelite.c - the fast path of MIME decoding: read the common shapes of a
 * bounce (RFC 5322 header, RFC 2046 multiparts, RFC 2045 base64 and
 * quoted-printable, text in any charset iconv knows) straight off the
 * bytes into a struct bounce_doc, the same view mime.c builds with GMime,
 * without building an object tree per message.
 *
 * Why: a bounce is small and shallow; building and freeing GMime's objects
 * costs several times the rest of the parse. GMime stays the reference:
 * RFC 2047 encoded words and 8-bit header bytes still go through its
 * decoder, and whenever this reader meets anything it does not handle
 * exactly (another charset, a header line that is not a field, a missing
 * boundary, an RFC 2231 parameter, an unknown transfer encoding) it gives
 * up and the caller decodes the whole message with GMime instead.
 *
 * Invariants: input has LF line ends (parse.c normalised them); output
 * buffers are valid UTF-8 with LF line ends, as in mime.c. Recursion depth
 * is bounded (MAX_DEPTH nested multiparts), so no input can exhaust the
 * stack; memory is bounded by a few copies of the input.
 *
 * How it fails: it returns false and leaves the doc empty for mime.c.
 */
#include <ctype.h>
#include <gmime/gmime.h>
#include <string.h>

#include "bounce/internal.h"

#define MAX_DEPTH 12

struct ctype {
	char type[32], sub[64];
	char boundary[200];
	char charset[40];
};

/* header_end - offset of the body in p[0..len): after the blank line that
 * ends the header (RFC 5322 2.1). Every line before it must be a field
 * "name:" (RFC 5322 2.2: printable, no space, before the colon) or a
 * folded continuation; otherwise false (not a shape handled here). */
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
			size_t k = i;
			while (k < i + l && p[k] != ':' && p[k] > ' ' && p[k] < 127)
				k++;
			if (k == i || k >= i + l || p[k] != ':')
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

/* header_prefix - length of the leading run of well-formed header lines
 * in p[0..len) (each a "name:" line or its continuation), ending after
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
			size_t k = i;
			while (k < i + l && p[k] != ':' && p[k] > ' ' && p[k] < 127)
				k++;
			if (k == i || k >= i + l || p[k] != ':')
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

/* dump_fields - every field of h as "Name: value\n", like headers_dump */
static void dump_fields(const char *h, size_t hlen, struct buf *out)
{
	struct buf v = {0};
	size_t i = 0;

	while (i < hlen) {
		const char *e = memchr(h + i, '\n', hlen - i);
		size_t l = e ? (size_t)(e - (h + i)) : hlen - i;
		const char *colon = memchr(h + i, ':', l);
		size_t vstart = colon ? (size_t)(colon - h) + 1 : i + l;

		if (l == 0 || h[i] == ' ' || h[i] == '\t' || !colon) {
			i += l + 1;
			continue;
		}
		/* the common field: one line, plain ASCII, no tab; copied
		 * whole without the scratch buffer */
		size_t nl = i + l;
		if (nl + 1 >= hlen || (h[nl + 1] != ' ' && h[nl + 1] != '\t')) {
			const char *vs = h + vstart, *ve = h + nl;
			bool plain = true;
			for (const char *q = vs; q < ve && plain; q++)
				if ((unsigned char)*q >= 0x80 || *q == '\t' || *q == '\0' ||
				    (q[0] == '=' && q + 1 < ve && q[1] == '?'))
					plain = false;
			if (plain) {
				while (vs < ve && *vs == ' ')
					vs++;
				while (ve > vs && ve[-1] == ' ')
					ve--;
				buf_reserve(out, (size_t)(colon - (h + i)) + 3 + (size_t)(ve - vs));
				buf_append(out, h + i, (size_t)(colon - (h + i)));
				buf_append(out, ": ", 2);
				buf_append(out, vs, (size_t)(ve - vs));
				buf_append(out, "\n", 1);
				i = nl + 1;
				continue;
			}
		}
		buf_append(out, h + i, (size_t)(colon - (h + i)));
		buf_puts(out, ": ");
		/* value with its continuation lines */
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

/* put_utf8 - bytes made valid UTF-8 into out, CR dropped (as mime.c) */
static void put_utf8(struct buf *out, const char *s, size_t len)
{
	/* the common case, already valid and without CR or NUL: one copy */
	if (!memchr(s, '\r', len) && g_utf8_validate(s, (gssize)len, NULL)) {
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

/* convert - s[0..len) from charset cs to UTF-8 (RFC 2046 4.1.2) into out,
 * CR dropped; false when iconv does not know cs or the bytes are not in
 * it (GMime's own decoder is then the judge) */
static bool convert(const char *cs, const char *s, size_t len, struct buf *out)
{
	struct conv_slot *slot = NULL;

	for (int i = 0; i < CONV_SLOTS && !slot; i++)
		if (conv_cache[i].name[0] && strcmp(conv_cache[i].name, cs) == 0)
			slot = &conv_cache[i];
	for (int i = 0; i < CONV_SLOTS && !slot; i++)
		if (!conv_cache[i].name[0]) {
			/* GMime knows the aliases iconv lacks
			 * ("unicode-1-1-utf-7" is UTF-7) */
			GIConv cd = g_iconv_open("UTF-8", g_mime_charset_iconv_name(cs));
			for (size_t a = 0; cd == (GIConv)-1 && charset_aliases[a].name; a++)
				if (strcmp(cs, charset_aliases[a].name) == 0)
					cd = g_iconv_open("UTF-8", charset_aliases[a].iconv);
			if (cd == (GIConv)-1)
				return false;
			slot = &conv_cache[i];
			util_strlcpy(slot->name, cs, sizeof(slot->name));
			slot->cd = cd;
		}
	if (!slot)
		return false;
	g_iconv(slot->cd, NULL, NULL, NULL, NULL); /* reset shift state */
	gchar *u = g_convert_with_iconv(s, (gssize)len, slot->cd, NULL, NULL, NULL);
	if (!u)
		return false;
	put_utf8(out, u, strlen(u));
	g_free(u);
	return true;
}

/* text_to_utf8 - a text part in UTF-8 (RFC 2046 4.1.2): UTF-8 and ASCII
 * as they are, ISO-8859-1 by hand (each byte is the code point of the
 * same value), any other charset through a cached converter */
static bool text_to_utf8(const struct ctype *ct, const char *s, size_t len, struct buf *out)
{
	const char *cs = ct->charset;

	if (!cs[0] || strcmp(cs, "us-ascii") == 0 || strcmp(cs, "utf-8") == 0 ||
	    strcmp(cs, "utf8") == 0 || strcmp(cs, "ascii") == 0) {
		put_utf8(out, s, len);
	} else if (strcmp(cs, "iso-8859-1") == 0 || strcmp(cs, "latin1") == 0) {
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\r' || c == 0)
				continue;
			if (c < 0x80) {
				buf_putc(out, (char)c);
			} else {
				buf_putc(out, (char)(0xc0 | (c >> 6)));
				buf_putc(out, (char)(0x80 | (c & 0x3f)));
			}
		}
	} else if (!convert(cs, s, len, out)) {
		return false;
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

/* multipart - RFC 2046 5.1.1: parts between "--boundary" lines; the
 * preamble and epilogue are not parts. A multipart whose delimiter never
 * occurs is left to GMime. */
static bool multipart(struct lite *L, const struct ctype *ct, const char *b, size_t blen, int depth,
                      int nest)
{
	size_t bl = strlen(ct->boundary), i = 0, start = 0;
	bool in = false, found = false, alt = strcmp(ct->sub, "alternative") == 0;
	const char *parts[256];
	size_t plen[256], np = 0;

	if (bl == 0)
		return false;
	if (depth == 0 && strcmp(ct->type, "multipart") == 0 && strcmp(ct->sub, "report") == 0)
		L->doc->report = true;
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
		i = at - 2;
		const char *e = memchr(b + i, '\n', blen - i);
		size_t l = e ? (size_t)(e - (b + i)) : blen - i;
		const char *rest = b + i + 2 + bl;
		bool close = l >= bl + 4 && rest[0] == '-' && rest[1] == '-';
		if (in && np < 256) {
			/* the line break before a delimiter belongs to it */
			size_t end = i > start ? i - 1 : start;
			parts[np] = b + start;
			plen[np++] = end - start;
		}
		found = true;
		in = !close;
		start = i + l + 1;
		if (close)
			break;
		i += l + 1;
	}
	if (!found)
		return false;
	if (in && np < 256 && start < blen) {
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
	                    depth == 0 ? &doc->text : &doc->inner);
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
