/*
 * htab.h - internal to src/sched: a string-keyed hash table (chaining,
 * power-of-two buckets, doubles at load 1) for the message-id and
 * destination indexes. Keys are borrowed: each key must live inside the
 * value it maps to and outlive its entry.
 */
#ifndef MAILERD_SCHED_HTAB_H
#define MAILERD_SCHED_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_node {
	struct htab_node *next;
	const char *key;
	void *val;
	uint64_t hash;
};

struct htab {
	struct htab_node **b;
	size_t nb; /* bucket count, power of two */
	size_t n;  /* entries */
};

void htab_init(struct htab *h);
/* htab_free - frees the nodes and buckets, not the values */
void htab_free(struct htab *h);
void *htab_get(const struct htab *h, const char *key);
/* htab_put - add key -> val; key must not be present yet */
void htab_put(struct htab *h, const char *key, void *val);
/* htab_del - remove key; returns its value or NULL */
void *htab_del(struct htab *h, const char *key);
/* htab_values - every value into a new array (caller frees), count in *n */
void **htab_values(const struct htab *h, size_t *n);

#endif
