/*
 * addrindex.h - a case-blind hash index from short strings (mail
 * addresses) to numbers, for the places in src/bounce that would
 * otherwise search a list or a text once per record: finding a record
 * by its address (family.c) and the occurrences of an address in the
 * report text (command.c). The index keeps only hashes and values; the
 * caller compares the strings behind the values it gets back, so a
 * hash collision costs one comparison and never a wrong answer.
 */
#ifndef MAILERD_BOUNCE_ADDRINDEX_H
#define MAILERD_BOUNCE_ADDRINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct addrindex_slot {
	uint64_t hash;
	size_t val; /* SIZE_MAX: empty slot */
};

/* Open addressing, linear probing, at most half full. Zero it to start
 * ({0}); addrindex_free releases it. */
struct addrindex {
	struct addrindex_slot *slot;
	size_t cap; /* a power of two, or 0 before the first put */
	size_t n;
};

/* addrindex_hash - hash of s[0..len) with ASCII letters lower-cased */
uint64_t addrindex_hash(const char *s, size_t len);
/* addrindex_put - store val (not SIZE_MAX) under hash; duplicates are
 * kept, and come back in the order they were put */
void addrindex_put(struct addrindex *ix, uint64_t hash, size_t val);
/* addrindex_next - the next value stored under hash; *cursor starts at
 * 0 and is advanced; SIZE_MAX when there is no more */
size_t addrindex_next(const struct addrindex *ix, uint64_t hash, size_t *cursor);
/* addrindex_free - release the table; ix is left empty. Takes NULL. */
void addrindex_free(struct addrindex *ix);

#endif
