/*
 * addrindex.c - the case-blind hash index of addrindex.h: FNV-1a over
 * lower-cased bytes, open addressing with linear probing, grown by
 * doubling at half full (so a probe run stays short and every value
 * stored under one hash is found by walking to the next empty slot).
 *
 * Why not GLib's GHashTable (linked already, through GMime): it wants a
 * key it can compare, so every token of a text would need a lower-cased
 * copy; this index keeps only hashes and lets the caller compare in place.
 *
 * Memory: two words per slot, at most four slots per value. Allocation
 * goes through the x-functions (abort on OOM); nothing else fails.
 */
#include <ctype.h>
#include <stdlib.h>

#include "bounce/addrindex.h"
#include "util/util.h"

uint64_t addrindex_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)tolower((unsigned char)s[i]);
		h *= 0x100000001b3ull;
	}
	return h;
}

/* slot_put - place one entry in a table known to have room */
static void slot_put(struct addrindex_slot *slot, size_t cap, uint64_t hash, size_t val)
{
	size_t i = (size_t)hash & (cap - 1);

	while (slot[i].val != SIZE_MAX)
		i = (i + 1) & (cap - 1);
	slot[i].hash = hash;
	slot[i].val = val;
}

void addrindex_put(struct addrindex *ix, uint64_t hash, size_t val)
{
	if ((ix->n + 1) * 2 > ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		struct addrindex_slot *slot = xmalloc(cap * sizeof(*slot));

		for (size_t i = 0; i < cap; i++)
			slot[i].val = SIZE_MAX;
		/* entries of one hash sit in put order along their probe
		 * run; walking the old table round from an empty slot visits
		 * every run from its start, so that order is kept */
		size_t e = 0;
		while (ix->cap && ix->slot[e].val != SIZE_MAX)
			e++;
		for (size_t k = 1; k <= ix->cap; k++) {
			const struct addrindex_slot *o = &ix->slot[(e + k) & (ix->cap - 1)];
			if (o->val != SIZE_MAX)
				slot_put(slot, cap, o->hash, o->val);
		}
		free(ix->slot);
		ix->slot = slot;
		ix->cap = cap;
	}
	slot_put(ix->slot, ix->cap, hash, val);
	ix->n++;
}

size_t addrindex_next(const struct addrindex *ix, uint64_t hash, size_t *cursor)
{
	if (ix->cap == 0)
		return SIZE_MAX;
	for (size_t i = ((size_t)hash + *cursor) & (ix->cap - 1); *cursor < ix->cap;
	     i = (i + 1) & (ix->cap - 1)) {
		(*cursor)++;
		if (ix->slot[i].val == SIZE_MAX)
			return SIZE_MAX;
		if (ix->slot[i].hash == hash)
			return ix->slot[i].val;
	}
	return SIZE_MAX;
}

void addrindex_free(struct addrindex *ix)
{
	if (!ix)
		return;
	free(ix->slot);
	ix->slot = NULL;
	ix->cap = ix->n = 0;
}
