/*
 * needles.c - find any of a fixed set of needles in a text in one pass,
 * instead of one strstr per needle: the family signatures and the
 * report-end markers (family.c) are looked for in every message, and a
 * scan per needle read each text dozens of times.
 *
 * The index groups the needles by first byte (counting sort, table order
 * kept inside a group) and keeps a bit per two-byte start, so a scan looks
 * at each position once and tries only the needles that can start there.
 * Built once by the caller (under pthread_once), read only after: any
 * number of threads may scan with it. Nothing here allocates or fails.
 */
#include <string.h>

#include "bounce/internal.h"

void bounce_needles_build(struct bounce_needles *ix, const char *const *needles, size_t n)
{
	uint8_t count[256] = {0};

	memset(ix, 0, sizeof(*ix));
	if (n > BOUNCE_NEEDLE_MAX)
		n = BOUNCE_NEEDLE_MAX;
	for (size_t i = 0; i < n; i++) {
		const char *s = needles[i];
		ix->len[i] = (uint8_t)(s ? strlen(s) : 0);
		if (s && s[0]) {
			unsigned k = (unsigned)(unsigned char)s[0] << 8 | (unsigned char)s[1];
			count[(unsigned char)s[0]]++;
			ix->pair[k >> 3] |= (uint8_t)(1u << (k & 7));
		}
	}
	for (unsigned b = 0; b < 256; b++)
		ix->start[b + 1] = (uint8_t)(ix->start[b] + count[b]);
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++) {
		const char *s = needles[i];
		if (s && s[0]) {
			unsigned b = (unsigned char)s[0];
			ix->item[ix->start[b] + count[b]++] = (uint8_t)i;
		}
	}
}

/* pair_hit - some needle starts with the two bytes at p: one bit test
 * that rejects almost every position, inlined into the scans (a call
 * per position cost more than the test) */
static inline bool pair_hit(const struct bounce_needles *ix, const char *p)
{
	unsigned k = (unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1];

	return ix->pair[k >> 3] & (1u << (k & 7));
}

/* match - index of a needle starting at p, the lowest below `below`,
 * or `below` when none; p passed pair_hit */
static size_t match(const struct bounce_needles *ix, const char *const *needles, const char *p,
                    size_t below)
{
	unsigned b = (unsigned char)p[0];

	for (unsigned j = ix->start[b]; j < ix->start[b + 1]; j++) {
		size_t i = ix->item[j];
		/* the pair bit is shared by needles with other second bytes:
		 * compare from byte 1 (stops at the text's NUL) */
		if (i < below && bounce_prefix_at(p, needles[i], ix->len[i], 1))
			below = i;
	}
	return below;
}

size_t bounce_needles_first(const struct bounce_needles *ix, const char *const *needles,
                            const char *text, const char *end)
{
	size_t best = SIZE_MAX;

	for (const char *p = text; p < end && *p; p++)
		if (pair_hit(ix, p))
			best = match(ix, needles, p, best);
	return best;
}

void bounce_needles_all(const struct bounce_needles *ix, const char *const *needles,
                        const char *text, const char *end, uint64_t hits[4])
{
	/* no end: the NUL ends the scan, and a needle running into it
	 * fails its compare there, so no length check is needed */
	for (const char *p = text; (!end || p < end) && *p; p++) {
		if (!pair_hit(ix, p))
			continue;
		unsigned b = (unsigned char)p[0];
		for (unsigned j = ix->start[b]; j < ix->start[b + 1]; j++) {
			size_t i = ix->item[j];
			if ((!end || ix->len[i] <= (size_t)(end - p)) &&
			    bounce_prefix_at(p, needles[i], ix->len[i], 1))
				hits[i >> 6] |= (uint64_t)1 << (i & 63);
		}
	}
}

size_t bounce_needles_earliest(const struct bounce_needles *ix, const char *const *needles,
                               const char *text)
{
	/* the first position wins; at one position, the lowest index */
	for (const char *p = text; *p; p++) {
		if (!pair_hit(ix, p))
			continue;
		size_t i = match(ix, needles, p, SIZE_MAX);
		if (i != SIZE_MAX)
			return i;
	}
	return SIZE_MAX;
}

size_t bounce_needles_line_end(const struct bounce_needles *ix, const char *const *needles,
                               const char *text)
{
	uint64_t opening = 0; /* needles the text starts with */
	unsigned b0 = (unsigned char)text[0];

	/* every needle the text opens with, not only the lowest */
	for (unsigned j = ix->start[b0]; b0 && j < ix->start[b0 + 1]; j++) {
		size_t i = ix->item[j];
		if (strncmp(text, needles[i], ix->len[i]) == 0)
			opening |= (uint64_t)1 << (i & 63);
	}
	for (const char *p = text + (b0 != 0); *p; p++) {
		if ((p[-1] != '\n' && p[-1] != ' ') || !pair_hit(ix, p))
			continue;
		size_t i = match(ix, needles, p, SIZE_MAX);
		if (i != SIZE_MAX && !(opening & (uint64_t)1 << (i & 63)))
			return (size_t)(p - text);
		if (i != SIZE_MAX) {
			/* the lowest is an opening one: try the others here */
			for (unsigned j = ix->start[(unsigned char)*p];
			     j < ix->start[(unsigned char)*p + 1]; j++) {
				size_t k = ix->item[j];
				if (!(opening & (uint64_t)1 << (k & 63)) &&
				    strncmp(p, needles[k], ix->len[k]) == 0)
					return (size_t)(p - text);
			}
		}
	}
	return strlen(text);
}
