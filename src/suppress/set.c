/*
 * set.c - the compact in-memory set behind the daemon's RCPT check.
 *
 * Each suppressed address is one 16-byte slot in an open-addressing table
 * with linear probing: a 64-bit hash of the address (never 0, which marks
 * an empty slot), the creation time in seconds, the source and the index
 * of an interned "reason status" text. Removal shifts the following
 * cluster back (no tombstones), so lookups stay short after many removes.
 *
 * Memory: the table doubles when it is 3/4 full, so it holds 16 to 32
 * bytes per address (10 million addresses: 2^24 slots = 256 MiB), plus the
 * interned reason texts (at most 65535 distinct ones; more share an empty
 * text and the reply then names only the source and the date).
 *
 * Addresses themselves are not kept: two different addresses with the
 * same 64-bit hash would share a verdict. With ten million entries the
 * chance that a given other address collides is about 10^7 / 2^64, one in
 * two trillion lookups, which we accept to keep the check free of I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "suppress/internal.h"
#include "util/outcome.h"
#include "util/util.h"

#define LABEL_MAX 65535

struct slot {
	uint64_t h;
	uint32_t created_s;
	uint16_t label;
	uint8_t source;
	uint8_t pad;
};

struct suppress_set {
	struct slot *slots;
	size_t cap; /* power of two */
	size_t n;
	/* interned labels: index 0 is "" */
	char **labels;
	size_t n_labels;
	uint32_t *lidx; /* open addressing over labels: label index + 1, 0 empty */
	size_t lidx_cap;
	size_t label_bytes;
};

/* hash64 - FNV-1a over the bytes, then a 64-bit finalizer (murmur3 fmix)
 * so that nearby addresses spread over the whole table */
static uint64_t hash64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

static size_t pow2_at_least(size_t n)
{
	size_t c = 16;

	while (c < n)
		c <<= 1;
	return c;
}

struct suppress_set *suppress_set_new(size_t expect)
{
	struct suppress_set *s = xcalloc(1, sizeof(*s));

	s->cap = pow2_at_least(expect + expect / 3 + 1);
	s->slots = xcalloc(s->cap, sizeof(*s->slots));
	s->labels = xcalloc(1, sizeof(char *));
	s->labels[0] = xstrdup("");
	s->n_labels = 1;
	s->lidx_cap = 64;
	s->lidx = xcalloc(s->lidx_cap, sizeof(*s->lidx));
	return s;
}

void suppress_set_free(struct suppress_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_labels; i++)
		free(s->labels[i]);
	free(s->labels);
	free(s->lidx);
	free(s->slots);
	free(s);
}

static void lidx_insert(struct suppress_set *s, uint32_t idx)
{
	size_t m = s->lidx_cap - 1;
	size_t i = hash64(s->labels[idx]) & m;

	while (s->lidx[i])
		i = (i + 1) & m;
	s->lidx[i] = idx + 1;
}

/* intern - the label index of text, adding it when new */
static uint16_t intern(struct suppress_set *s, const char *text)
{
	size_t m = s->lidx_cap - 1;
	size_t i;

	if (text[0] == '\0')
		return 0;
	for (i = hash64(text) & m; s->lidx[i]; i = (i + 1) & m)
		if (strcmp(s->labels[s->lidx[i] - 1], text) == 0)
			return (uint16_t)(s->lidx[i] - 1);
	if (s->n_labels >= LABEL_MAX)
		return 0;
	s->labels = xrealloc(s->labels, (s->n_labels + 1) * sizeof(char *));
	s->labels[s->n_labels] = xstrdup(text);
	s->label_bytes += strlen(text) + 1;
	s->n_labels++;
	if (s->n_labels * 2 > s->lidx_cap) {
		free(s->lidx);
		s->lidx_cap *= 2;
		s->lidx = xcalloc(s->lidx_cap, sizeof(*s->lidx));
		for (size_t k = 1; k < s->n_labels; k++)
			lidx_insert(s, (uint32_t)k);
	} else {
		lidx_insert(s, (uint32_t)(s->n_labels - 1));
	}
	return (uint16_t)(s->n_labels - 1);
}

/* find - slot of h, or of the empty slot where it would go */
static size_t find(const struct suppress_set *s, uint64_t h)
{
	size_t m = s->cap - 1;
	size_t i = h & m;

	while (s->slots[i].h && s->slots[i].h != h)
		i = (i + 1) & m;
	return i;
}

static void grow(struct suppress_set *s)
{
	struct slot *old = s->slots;
	size_t oldcap = s->cap;

	s->cap *= 2;
	s->slots = xcalloc(s->cap, sizeof(*s->slots));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].h)
			s->slots[find(s, old[i].h)] = old[i];
	free(old);
}

void suppress_set_put(struct suppress_set *s, const char *addr, const struct suppress_entry *e)
{
	char label[SUPPRESS_REASON_MAX + SUPPRESS_STATUS_MAX];
	struct slot *sl;
	size_t i;

	if ((s->n + 1) * 4 > s->cap * 3)
		grow(s);
	i = find(s, hash64(addr));
	sl = &s->slots[i];
	if (sl->h == 0)
		s->n++;
	sl->h = hash64(addr);
	sl->created_s = e->created_ms > 0 ? (uint32_t)(e->created_ms / 1000) : 0;
	sl->source = (uint8_t)e->source;
	if (e->status[0])
		snprintf(label, sizeof(label), "%s %s", e->reason, e->status);
	else
		util_strlcpy(label, e->reason, sizeof(label));
	sl->label = intern(s, label);
}

int suppress_set_del(struct suppress_set *s, const char *addr)
{
	size_t m = s->cap - 1;
	size_t i = find(s, hash64(addr)), j;

	if (s->slots[i].h == 0)
		return 0;
	/* backward-shift deletion (Knuth 6.4 algorithm R): move each later
	 * member of the cluster into the hole when its home allows it */
	j = i;
	for (;;) {
		size_t home;
		j = (j + 1) & m;
		if (s->slots[j].h == 0)
			break;
		home = s->slots[j].h & m;
		/* keep j where it is when home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->slots[i] = s->slots[j];
		i = j;
	}
	memset(&s->slots[i], 0, sizeof(s->slots[i]));
	s->n--;
	return 1;
}

bool suppress_set_get(const struct suppress_set *s, const char *addr, struct suppress_hit *hit)
{
	const struct slot *sl = &s->slots[find(s, hash64(addr))];
	struct suppress_entry e;
	const char *label, *sp;

	if (sl->h == 0)
		return false;
	if (hit == NULL)
		return true;
	memset(hit, 0, sizeof(*hit));
	hit->created_ms = (int64_t)sl->created_s * 1000;
	hit->source = (enum suppress_source)sl->source;
	label = s->labels[sl->label < s->n_labels ? sl->label : 0];
	util_strlcpy(hit->reason, label, sizeof(hit->reason));
	/* describe from the parts: the label is "reason status" */
	memset(&e, 0, sizeof(e));
	e.created_ms = hit->created_ms;
	e.source = hit->source;
	sp = strrchr(label, ' ');
	if (sp && outcome_is_valid_status(sp + 1, strlen(sp + 1))) {
		util_strlcpy(e.reason, label, sizeof(e.reason));
		e.reason[sp - label < (long)sizeof(e.reason) ? sp - label : 0] = '\0';
		util_strlcpy(e.status, sp + 1, sizeof(e.status));
	} else {
		util_strlcpy(e.reason, label, sizeof(e.reason));
	}
	suppress_describe(&e, hit->text, sizeof(hit->text));
	return true;
}

size_t suppress_set_count(const struct suppress_set *s)
{
	return s->n;
}

size_t suppress_set_bytes(const struct suppress_set *s)
{
	return s->cap * sizeof(struct slot) + s->lidx_cap * sizeof(uint32_t) +
	       s->n_labels * sizeof(char *) + s->label_bytes;
}
