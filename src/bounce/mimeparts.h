/*
 * mimeparts.h - what the three files of the fast MIME reader share and
 * nothing else in src/bounce sees (the rest of the part knows only
 * bounce_doc_load_lite, declared in internal.h):
 *   mimelite.c  the multipart/entity walk and the entry point,
 *   mimehdr.c   header fields and the Content-Type (RFC 5322, RFC 2045),
 *   mimetext.c  transfer decoding and charset conversion to UTF-8.
 * All of it reads LF-terminated bytes and appends to struct buf; false
 * from a step means "a shape left to GMime" (from mimehdr_field: the
 * field is absent), never a system error.
 */
#ifndef MAILERD_BOUNCE_MIMEPARTS_H
#define MAILERD_BOUNCE_MIMEPARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* The Content-Type of one entity (RFC 2045 5.1), lower-cased; the sizes
 * bound what this reader takes (longer values go to GMime) */
struct mimehdr_ctype {
	char type[32], sub[64];
	char boundary[200];
	char charset[40];
};

/* Eight bytes at a time: a word has a zero byte when (w - 0x01..) &
 * ~w & 0x80.. is not zero; a byte >= 0x80 when w & 0x80.. is not */
#define MIMEPARTS_ONES  ((uint64_t)0x0101010101010101ull)
#define MIMEPARTS_HIGHS ((uint64_t)0x8080808080808080ull)

/* mimeparts_has_zero - some byte of w is zero */
static inline uint64_t mimeparts_has_zero(uint64_t w)
{
	return (w - MIMEPARTS_ONES) & ~w & MIMEPARTS_HIGHS;
}

/* mimehdr.c */
/* mimehdr_end - offset of the body in p[0..len) (after the blank line
 * ending the header); false when a line is not a shape handled here */
bool mimehdr_end(const char *p, size_t len, size_t *body);
/* mimehdr_prefix - length of the leading run of header lines in p[0..len) */
size_t mimehdr_prefix(const char *p, size_t len);
/* mimehdr_field - unfolded raw value of the first field `name` of the
 * header h[0..hlen) into out (NUL-terminated); false when absent */
bool mimehdr_field(const char *h, size_t hlen, const char *name, struct buf *out);
/* mimehdr_dump - every field of h as "Name: value\n", appended to out */
void mimehdr_dump(const char *h, size_t hlen, struct buf *out);
/* mimehdr_ctype_parse - the Content-Type of the header h[0..hlen) (tmp
 * is scratch); false: a shape to leave to GMime */
bool mimehdr_ctype_parse(const char *h, size_t hlen, struct buf *tmp, struct mimehdr_ctype *ct);

/* mimetext.c */
/* mimetext_decode - body b[0..blen) with the transfer encoding of header
 * h[0..hlen) undone, appended to out (tmp is scratch); false for an
 * encoding not known here */
bool mimetext_decode(const char *h, size_t hlen, const char *b, size_t blen, struct buf *tmp,
                     struct buf *out);
/* mimetext_put_utf8 - bytes made valid UTF-8, CR dropped, appended to out */
void mimetext_put_utf8(struct buf *out, const char *s, size_t len);
/* mimetext_to_utf8 - a text part of charset ct->charset in UTF-8,
 * appended to out (tmp is scratch); false: not decided here */
bool mimetext_to_utf8(const struct mimehdr_ctype *ct, const char *s, size_t len, struct buf *out,
                      struct buf *tmp);

#endif
