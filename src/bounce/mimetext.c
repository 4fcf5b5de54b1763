/*
 * mimetext.c - bodies for the fast MIME reader (mimelite.c): undo the
 * transfer encoding (RFC 2045 6.7 quoted-printable, 6.8 base64) and turn
 * text in any charset iconv knows into UTF-8 (RFC 2046 4.1.2), giving the
 * same bytes as GMime's text of the part in mime.c.
 *
 * Why by hand: ASCII, UTF-8 and ISO-8859-1, most of what bounces carry,
 * need no converter; other charsets go through iconv converters cached
 * per thread, since opening one costs more than a bounce's text. As
 * GMime: bytes invalid in a part's charset are dropped, a charset nobody
 * knows leaves the bytes as they are.
 *
 * Invariants: output is valid UTF-8 without CR (converted text that is
 * not empty ends in LF); the converter cache is thread-local, so no
 * locking is needed; output grows by at most four bytes per input byte.
 *
 * How it fails: an unknown transfer encoding, a multibyte sequence cut
 * short at the end, or a full converter cache returns false, and the
 * caller leaves the whole message to GMime.
 */
#include <ctype.h>
#include <errno.h>
#include <gmime/gmime.h>
#include <string.h>

#include "bounce/internal.h"
#include "bounce/mimeparts.h"

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

/* mimetext_decode - undo the transfer encoding (RFC 2045 6.7 quoted-printable,
 * 6.8 base64; characters outside the alphabet are skipped, as 6.8 asks);
 * false for an encoding not known here */
bool mimetext_decode(const char *h, size_t hlen, const char *b, size_t blen, struct buf *tmp,
                     struct buf *out)
{
	if (!mimehdr_field(h, hlen, "Content-Transfer-Encoding", tmp) || tmp->len == 0 ||
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
		if (w & MIMEPARTS_HIGHS)
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
		if ((w & MIMEPARTS_HIGHS) || mimeparts_has_zero(w) ||
		    mimeparts_has_zero(w ^ (MIMEPARTS_ONES * '\r')))
			return false;
	}
	for (; i < len; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0' || s[i] == '\r')
			return false;
	return true;
}

/* mimetext_put_utf8 - bytes made valid UTF-8 into out, CR dropped (as mime.c) */
void mimetext_put_utf8(struct buf *out, const char *s, size_t len)
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

/* mimetext_to_utf8 - a text part in UTF-8 (RFC 2046 4.1.2), the same bytes
 * as GMime's text of the part: converted from its charset (UTF-8 and
 * ASCII text that is valid as it is stays as it is; ISO-8859-1 by hand,
 * each byte the code point of the same value; any other charset through
 * a cached converter), cut at the first NUL (GMime returns a C string),
 * made valid UTF-8, CR dropped. No charset: the bytes as they are. */
bool mimetext_to_utf8(const struct mimehdr_ctype *ct, const char *s, size_t len, struct buf *out,
                      struct buf *tmp)
{
	const char *cs = ct->charset, *nul = memchr(s, '\0', len);
	bool ascii = strcmp(cs, "us-ascii") == 0 || strcmp(cs, "ascii") == 0;
	bool utf8 = strcmp(cs, "utf-8") == 0 || strcmp(cs, "utf8") == 0;
	bool raw = false;

	if (nul)
		len = (size_t)(nul - s);
	if (!cs[0] || (ascii && ascii_only(s, len)) ||
	    (utf8 && (plain_text(s, len) || g_utf8_validate(s, (gssize)len, NULL)))) {
		mimetext_put_utf8(out, s, len);
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
		mimetext_put_utf8(out, tmp->data, nul ? (size_t)(nul - tmp->data) : tmp->len);
	}
	if (out->len && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
	return true;
}
