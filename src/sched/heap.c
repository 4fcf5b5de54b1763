/*
 * heap.c - binary min-heap with back-pointers (see heap.h).
 *
 * Invariant: for every i > 0, v[(i-1)/2] orders before v[i] (smaller key,
 * or equal key and smaller seq), and v[i]->pos == i. Entries outside the
 * heap have pos == HEAP_NONE, so a double insert or a stray remove is
 * caught instead of corrupting the array.
 *
 * Growth is by doubling through xrealloc; out-of-memory aborts, as
 * everywhere in the daemon.
 */
#include "sched/heap.h"

#include <stdlib.h>

#include "util/util.h"

void heap_init(struct heap *h)
{
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
	h->next_seq = 0;
}

void heap_free(struct heap *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i]->pos = HEAP_NONE;
	free(h->v);
	heap_init(h);
}

void heap_entry_init(struct heap_entry *e)
{
	e->key = 0;
	e->seq = 0;
	e->pos = HEAP_NONE;
}

struct heap_entry *heap_top(const struct heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

struct heap_entry *heap_at(const struct heap *h, size_t i)
{
	return i < h->n ? h->v[i] : NULL;
}

/* heap_less - (key, seq) order: earlier due first, then first pushed */
static bool heap_less(const struct heap_entry *a, const struct heap_entry *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return a->seq < b->seq;
}

/* heap_set - place e at slot i and keep its back-pointer true */
static void heap_set(struct heap *h, size_t i, struct heap_entry *e)
{
	h->v[i] = e;
	e->pos = i;
}

/* heap_sift_up - move v[i] towards the root while it orders before its
 * parent; the entry is held aside and written once at its final slot */
static void heap_sift_up(struct heap *h, size_t i)
{
	struct heap_entry *e = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap_less(e, h->v[parent]))
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, e);
}

/* heap_sift_down - move v[i] towards the leaves, swapping with the
 * smaller child, until both children order after it */
static void heap_sift_down(struct heap *h, size_t i)
{
	struct heap_entry *e = h->v[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= h->n)
			break;
		if (child + 1 < h->n && heap_less(h->v[child + 1], h->v[child]))
			child++;
		if (!heap_less(h->v[child], e))
			break;
		heap_set(h, i, h->v[child]);
		i = child;
	}
	heap_set(h, i, e);
}

void heap_push(struct heap *h, struct heap_entry *e, int64_t key)
{
	if (e->pos != HEAP_NONE)
		fatal("heap_push: entry already in a heap");
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	e->key = key;
	e->seq = h->next_seq++;
	heap_set(h, h->n++, e);
	heap_sift_up(h, e->pos);
}

void heap_remove(struct heap *h, struct heap_entry *e)
{
	size_t i = e->pos;

	if (i == HEAP_NONE)
		return;
	if (i >= h->n || h->v[i] != e)
		fatal("heap_remove: entry not in this heap");
	e->pos = HEAP_NONE;
	h->n--;
	if (i == h->n)
		return;
	/* Move the last entry into the hole; it may need to go either way. */
	heap_set(h, i, h->v[h->n]);
	if (i > 0 && heap_less(h->v[i], h->v[(i - 1) / 2]))
		heap_sift_up(h, i);
	else
		heap_sift_down(h, i);
}

struct heap_entry *heap_pop(struct heap *h)
{
	struct heap_entry *top = heap_top(h);

	if (top != NULL)
		heap_remove(h, top);
	return top;
}

/* heap_update - a smaller key can only go up, a larger only down */
void heap_update(struct heap *h, struct heap_entry *e, int64_t key)
{
	int64_t old = e->key;

	if (e->pos == HEAP_NONE || e->pos >= h->n || h->v[e->pos] != e)
		fatal("heap_update: entry not in this heap");
	e->key = key;
	if (key < old)
		heap_sift_up(h, e->pos);
	else if (key > old)
		heap_sift_down(h, e->pos);
}

void heap_lower_all(struct heap *h, int64_t limit)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i]->key > limit)
			h->v[i]->key = limit;
	/* Keys keep their order, but entries that now share a key may have
	 * their sequence numbers out of order: heapify again, O(n). */
	for (size_t i = h->n / 2; i-- > 0;)
		heap_sift_down(h, i);
}
