/*
 * test_sched_heap.c - the scheduler's min-heap (src/sched/heap.c) against a
 * sorted reference: random pushes, pops, removes of arbitrary entries and
 * key updates, checking the top and the position invariant after each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sched/heap.h"

#define N_ITEMS 2000
#define N_OPS 10000

struct item {
	struct heap_entry he;
	int64_t key;
	bool in;
};

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
	/* xorshift32: deterministic, so a failure can be replayed */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* the reference: the smallest (key, seq) among the items marked in */
static struct item *ref_min(struct item *items)
{
	struct item *best = NULL;
	for (size_t i = 0; i < N_ITEMS; i++) {
		if (!items[i].in)
			continue;
		if (best == NULL || items[i].key < best->key ||
		    (items[i].key == best->key && items[i].he.seq < best->he.seq))
			best = &items[i];
	}
	return best;
}

static void check_invariant(const struct heap *h)
{
	for (size_t i = 0; i < heap_size(h); i++) {
		const struct heap_entry *e = heap_at(h, i);
		if (e->pos != i)
			fail_msg("pos of slot %zu: got %zu, want %zu", i, e->pos, i);
		if (i > 0) {
			const struct heap_entry *p = heap_at(h, (i - 1) / 2);
			if (p->key > e->key || (p->key == e->key && p->seq > e->seq))
				fail_msg("slot %zu (key %lld) orders before its parent (key %lld)", i,
					 (long long)e->key, (long long)p->key);
		}
	}
}

static void test_heap_random_ops(void **state)
{
	struct item *items = calloc(N_ITEMS, sizeof(*items));
	struct heap h;
	size_t n_in = 0;
	(void)state;
	assert_non_null(items);
	heap_init(&h);
	for (size_t i = 0; i < N_ITEMS; i++)
		heap_entry_init(&items[i].he);

	for (int op = 0; op < N_OPS; op++) {
		struct item *it = &items[rng() % N_ITEMS];
		/* small key range: many ties, so the seq tie-break is exercised */
		int64_t key = (int64_t)(rng() % 500);
		switch (rng() % 5) {
		case 0:
		case 1: /* push */
			if (!it->in) {
				heap_push(&h, &it->he, key);
				it->key = key;
				it->in = true;
				n_in++;
			}
			break;
		case 2: { /* pop */
			struct item *want = ref_min(items);
			struct heap_entry *got = heap_pop(&h);
			if (want == NULL) {
				assert_null(got);
				break;
			}
			if (got != &want->he)
				fail_msg("op %d pop: got key %lld, want key %lld", op,
					 got ? (long long)got->key : -1LL, (long long)want->key);
			assert_false(heap_contains(got));
			want->in = false;
			n_in--;
			break;
		}
		case 3: /* remove an arbitrary one (or a no-op when outside) */
			heap_remove(&h, &it->he);
			if (it->in)
				n_in--;
			it->in = false;
			assert_false(heap_contains(&it->he));
			break;
		default: /* update */
			if (it->in) {
				heap_update(&h, &it->he, key);
				it->key = key;
			}
			break;
		}
		if (heap_size(&h) != n_in)
			fail_msg("op %d size: got %zu, want %zu", op, heap_size(&h), n_in);
		struct item *want = ref_min(items);
		struct heap_entry *top = heap_top(&h);
		if (want == NULL ? top != NULL : top != &want->he)
			fail_msg("op %d top: got %lld, want %lld", op, top ? (long long)top->key : -1LL,
				 want ? (long long)want->key : -1LL);
		if (op % 97 == 0)
			check_invariant(&h);
	}
	/* drain: keys come out in order */
	int64_t last = INT64_MIN;
	while (heap_size(&h) > 0) {
		struct heap_entry *e = heap_pop(&h);
		if (e->key < last)
			fail_msg("drain: got key %lld after %lld", (long long)e->key, (long long)last);
		last = e->key;
	}
	heap_free(&h);
	free(items);
}

static void test_heap_fifo_ties(void **state)
{
	struct item items[50];
	struct heap h;
	(void)state;
	heap_init(&h);
	for (int i = 0; i < 50; i++) {
		heap_entry_init(&items[i].he);
		heap_push(&h, &items[i].he, 7);
	}
	for (int i = 0; i < 50; i++) {
		struct heap_entry *e = heap_pop(&h);
		if (e != &items[i].he)
			fail_msg("tie %d: got item %td, want %d", i, (struct item *)e - items, i);
	}
	heap_free(&h);
}

static void test_heap_lower_all(void **state)
{
	struct item items[300];
	struct heap h;
	(void)state;
	heap_init(&h);
	for (int i = 0; i < 300; i++) {
		heap_entry_init(&items[i].he);
		heap_push(&h, &items[i].he, (int64_t)(rng() % 1000));
	}
	heap_lower_all(&h, 100);
	check_invariant(&h);
	int64_t last = INT64_MIN;
	for (int i = 0; i < 300; i++) {
		struct heap_entry *e = heap_pop(&h);
		if (e->key > 100 || e->key < last)
			fail_msg("after lower_all: got key %lld (previous %lld), want <= 100 and ordered",
				 (long long)e->key, (long long)last);
		last = e->key;
	}
	heap_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_random_ops),
		cmocka_unit_test(test_heap_fifo_ties),
		cmocka_unit_test(test_heap_lower_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
