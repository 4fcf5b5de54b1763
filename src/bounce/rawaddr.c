/*
 * rawaddr.c - addresses the MIME decoders cut: an address token in a
 * message's raw bytes that holds a byte that is no text (not UTF-8, as
 * it stands or as a quoted-printable "=HH", RFC 2045 6.7). The decoders
 * drop such bytes, as GMime does ("alice\xffbob@b" becomes
 * "alicebob@b"), so the decoded text shows an address that was never
 * written; docs/bounces.md promises that an address with an undecodable
 * byte is not taken for a recipient. The raw tokens are read once per
 * message, and a record whose address is one of them with such a byte
 * left out (inside it, not at its edge: a GB2312 or Shift_JIS word
 * written against an ASCII address is text in its own charset) is
 * dropped.
 *
 * Invariants: tokens are bounded (256 bytes each side of the byte, at
 * most RAWADDR_MAX of them), so time stays linear in the message.
 * A token read as quoted-printable that was not (a VERP's "=ab") gives
 * a form no decoder writes, and so matches no record.
 *
 * Fails soft: nothing found means nothing dropped.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/internal.h"

#define RAWADDR_MAX  32     /* tokens kept per message */
#define RAWADDR_SIDE 256    /* bytes read each side of the byte found */
#define RAWADDR_CUT  '\x01' /* where a byte was left out (no address holds it) */

struct bounce_rawaddr {
	struct buf toks; /* the tokens as decoded, RAWADDR_CUT where a byte went, NUL after each */
	size_t n;
};

/* tok_char - a byte an address token may hold: atext and '.' (RFC 5322
 * 3.2.3), a domain's bytes, the "@", any byte above 0x7f; a table, as
 * the scan asks it of every byte of a token */
static bool tok_table[256];
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static void tok_init(void)
{
	for (int c = 1; c < 256; c++)
		tok_table[c] = c == '@' || bounce_addr_local_char((unsigned char)c);
}

static inline bool tok_char(unsigned char c)
{
	return tok_table[c];
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* token_cut - the token t[0..len) as a decoder leaves it (quoted-printable
 * undone, bytes that are no UTF-8 left out, RAWADDR_CUT in their place),
 * appended to out; false, and nothing kept, when no byte was left out */
static bool token_cut(const char *t, size_t len, struct buf *out)
{
	unsigned char d[2 * RAWADDR_SIDE + 2];
	size_t n = 0, start = out->len;
	bool cut = false;

	for (size_t i = 0; i < len && n < sizeof(d); i++) {
		int hi, lo;
		if (t[i] == '=' && i + 2 < len && (hi = hexval((unsigned char)t[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)t[i + 2])) >= 0) {
			d[n++] = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else {
			d[n++] = (unsigned char)t[i];
		}
	}
	for (size_t i = 0; i < n;) {
		size_t sl = bounce_utf8_len(d + i, n - i);
		if (sl == 0) {
			buf_putc(out, RAWADDR_CUT);
			cut = true;
			i++;
		} else {
			buf_append(out, (const char *)d + i, sl);
			i += sl;
		}
	}
	if (!cut) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return false;
	}
	buf_putc(out, '\0');
	return true;
}

/* token_add - the token around the byte at i, when it holds an "@"
 * (an address), kept in its decoded form when a byte of it is no text;
 * returns where the token ends, for the caller to go on from */
static const char *token_add(struct bounce_rawaddr **ra, const char *msg, const char *end,
                             const char *i)
{
	const char *b = i, *e = i + 1;
	bool at = *i == '@';

	while (b > msg && i - b < RAWADDR_SIDE && tok_char((unsigned char)b[-1])) {
		b--;
		at = at || *b == '@';
	}
	while (e < end && e - i < RAWADDR_SIDE && tok_char((unsigned char)*e)) {
		at = at || *e == '@';
		e++;
	}
	if (!at)
		return e;
	if (!*ra)
		*ra = xcalloc(1, sizeof(**ra));
	if ((*ra)->n < RAWADDR_MAX && token_cut(b, (size_t)(e - b), &(*ra)->toks))
		(*ra)->n++;
	return e;
}

struct bounce_rawaddr *bounce_rawaddr_scan(const char *msg, size_t len)
{
	struct bounce_rawaddr *ra = NULL;
	const char *end = msg + len, *p = msg;

	pthread_once(&tok_once, tok_init);
	/* bytes above 0x7f that start no UTF-8 sequence (7-bit runs are
	 * skipped eight bytes at a time; most messages are all 7-bit) */
	while (p < end) {
		uint64_t w[4];
		if (end - p >= 32 && (memcpy(w, p, 32),
		                      ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull) == 0)) {
			p += 32;
			continue;
		}
		if ((unsigned char)*p < 0x80) {
			p++;
			continue;
		}
		size_t n = bounce_utf8_len((const unsigned char *)p, (size_t)(end - p));
		p = n ? p + n : token_add(&ra, msg, end, p);
	}
	/* quoted-printable "=HH" of such a byte (RFC 2045 6.7) */
	for (p = memchr(msg, '=', len); p && p + 2 < end;
	     p = memchr(p + 1, '=', (size_t)(end - p - 1))) {
		int hi = hexval((unsigned char)p[1]), lo = hexval((unsigned char)p[2]);
		if (hi >= 8 && lo >= 0)
			p = token_add(&ra, msg, end, p) - 1;
	}
	if (ra && ra->n == 0) {
		bounce_rawaddr_free(ra);
		ra = NULL;
	}
	return ra;
}

/* cut_inside - addr matches the token t from t[0] on (case-blind, the
 * cut marks skipped) with a mark between its first and last byte */
static bool cut_inside(const char *t, const char *addr)
{
	bool inside = false;

	for (size_t k = 0; addr[k]; k++, t++) {
		while (*t == RAWADDR_CUT) {
			inside = inside || k > 0;
			t++;
		}
		if (tolower((unsigned char)*t) != tolower((unsigned char)addr[k]))
			return false;
	}
	return inside;
}

bool bounce_rawaddr_cut(const struct bounce_rawaddr *ra, const char *addr)
{
	const char *t = ra ? ra->toks.data : NULL;

	for (size_t i = 0; ra && i < ra->n; i++) {
		size_t tl = strlen(t);
		for (size_t j = 0; j < tl; j++)
			if (t[j] != RAWADDR_CUT && cut_inside(t + j, addr))
				return true;
		t += tl + 1;
	}
	return false;
}

void bounce_rawaddr_free(struct bounce_rawaddr *ra)
{
	if (!ra)
		return;
	buf_free(&ra->toks);
	free(ra);
}
