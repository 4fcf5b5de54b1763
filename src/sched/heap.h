/*
 * heap.h - internal to src/sched: a binary min-heap of intrusive entries.
 *
 * The queue manager embeds a struct heap_entry in every job and in every
 * backed-off destination. Each entry remembers its own index in the array,
 * so removing or re-keying an arbitrary entry is O(log n) without a search.
 * Equal keys leave in insertion order (a sequence number breaks ties), so
 * messages accepted in the same millisecond are tried first come, first
 * served.
 */
#ifndef MAILERD_SCHED_HEAP_H
#define MAILERD_SCHED_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAP_NONE SIZE_MAX /* pos of an entry that is not in a heap */

struct heap_entry {
	int64_t key;  /* due time in ms */
	uint64_t seq; /* insertion order, breaks ties */
	size_t pos;   /* index in heap->v, HEAP_NONE when outside */
};

struct heap {
	struct heap_entry **v;
	size_t n;
	size_t cap;
	uint64_t next_seq;
};

void heap_init(struct heap *h);
/* heap_free - frees the array only; the entries belong to their owners */
void heap_free(struct heap *h);
void heap_entry_init(struct heap_entry *e);

static inline bool heap_contains(const struct heap_entry *e)
{
	return e->pos != HEAP_NONE;
}
static inline size_t heap_size(const struct heap *h)
{
	return h->n;
}
/* heap_top - the entry with the smallest key, NULL when empty */
struct heap_entry *heap_top(const struct heap *h);
/* heap_at - the i-th array slot (for whole-heap walks such as flush) */
struct heap_entry *heap_at(const struct heap *h, size_t i);

/* heap_push - insert e (not already in a heap) with key */
void heap_push(struct heap *h, struct heap_entry *e, int64_t key);
/* heap_pop - remove and return the top, NULL when empty */
struct heap_entry *heap_pop(struct heap *h);
/* heap_remove - take e out; a no-op when e is not in the heap */
void heap_remove(struct heap *h, struct heap_entry *e);
/* heap_update - change e's key in place (e must be in the heap) */
void heap_update(struct heap *h, struct heap_entry *e, int64_t key);
/* heap_lower_all - key = min(key, limit) for every entry, then re-heapify
 * in O(n) (used by flush, which touches every job anyway). */
void heap_lower_all(struct heap *h, int64_t limit);

#endif
