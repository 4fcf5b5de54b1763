/*
 * htab.c - string-keyed chained hash table (see htab.h).
 *
 * FNV-1a hashing: keys are queue ids (hex, time-ordered) and domain names,
 * both short, so a simple byte hash spreads them well. The full hash is
 * kept in each node so growth does not rehash strings and lookups compare
 * strings only on a hash match. Out-of-memory aborts (xmalloc).
 */
#include "sched/htab.h"

#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define HTAB_MIN_BUCKETS 64

/* htab_hash - FNV-1a, 64 bit */
static uint64_t htab_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void htab_init(struct htab *h)
{
	h->nb = HTAB_MIN_BUCKETS;
	h->n = 0;
	h->b = xcalloc(h->nb, sizeof(*h->b));
}

void htab_free(struct htab *h)
{
	if (h->b == NULL)
		return;
	for (size_t i = 0; i < h->nb; i++) {
		struct htab_node *n = h->b[i];
		while (n != NULL) {
			struct htab_node *next = n->next;
			free(n);
			n = next;
		}
	}
	free(h->b);
	h->b = NULL;
	h->nb = 0;
	h->n = 0;
}

void *htab_get(const struct htab *h, const char *key)
{
	uint64_t hash = htab_hash(key);

	for (struct htab_node *n = h->b[hash & (h->nb - 1)]; n != NULL; n = n->next)
		if (n->hash == hash && strcmp(n->key, key) == 0)
			return n->val;
	return NULL;
}

/* htab_grow - double the buckets; nodes move by their stored hash, the
 * keys are not read again */
static void htab_grow(struct htab *h)
{
	size_t nb = h->nb * 2;
	struct htab_node **b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < h->nb; i++) {
		struct htab_node *n = h->b[i];
		while (n != NULL) {
			struct htab_node *next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(h->b);
	h->b = b;
	h->nb = nb;
}

void htab_put(struct htab *h, const char *key, void *val)
{
	struct htab_node *n = xmalloc(sizeof(*n));

	/* load factor 1 keeps chains short without wasting memory */
	if (h->n >= h->nb)
		htab_grow(h);
	n->hash = htab_hash(key);
	n->key = key;
	n->val = val;
	n->next = h->b[n->hash & (h->nb - 1)];
	h->b[n->hash & (h->nb - 1)] = n;
	h->n++;
}

void *htab_del(struct htab *h, const char *key)
{
	uint64_t hash = htab_hash(key);
	struct htab_node **pp = &h->b[hash & (h->nb - 1)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		struct htab_node *n = *pp;
		if (n->hash == hash && strcmp(n->key, key) == 0) {
			void *val = n->val;
			*pp = n->next;
			free(n);
			h->n--;
			return val;
		}
	}
	return NULL;
}

/* htab_values - a snapshot, so callers may delete while walking it */
void **htab_values(const struct htab *h, size_t *n)
{
	void **v = xcalloc(h->n + 1, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; i < h->nb; i++)
		for (struct htab_node *p = h->b[i]; p != NULL; p = p->next)
			v[k++] = p->val;
	*n = k;
	return v;
}
