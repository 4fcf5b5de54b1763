/*
 * test_sched_retry.c - the retry schedule, greylist detection and the end
 * of the queue lifetime (src/sched/retry.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched.h"
#include "util/util.h"

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define NO_JITTER 0x80000000u

static const struct retry_policy defaults = {
	.min_backoff_ms = 5 * MIN_MS,
	.max_backoff_ms = HOUR_MS,
	.greylist_retry_ms = 5 * MIN_MS,
	.queue_lifetime_ms = 5 * 24 * HOUR_MS,
};

static void test_delay_defaults(void **state)
{
	static const struct {
		int attempts;
		int64_t want;
	} cases[] = {
		{1, 5 * MIN_MS}, {2, 10 * MIN_MS}, {3, 20 * MIN_MS}, {4, 40 * MIN_MS},
		{5, HOUR_MS},    {6, HOUR_MS},     {7, HOUR_MS},     {8, HOUR_MS},
		{9, HOUR_MS},    {10, HOUR_MS},    {1000, HOUR_MS},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = sched_retry_delay(&defaults, cases[i].attempts, NO_JITTER);
		if (got != cases[i].want)
			fail_msg("attempts %d: got %lld, want %lld", cases[i].attempts, (long long)got,
				 (long long)cases[i].want);
	}
}

static void test_delay_seconds_scale(void **state)
{
	static const struct retry_policy p = {
		.min_backoff_ms = 1000, .max_backoff_ms = 4000,
		.greylist_retry_ms = 1000, .queue_lifetime_ms = 10000,
	};
	static const int64_t want[] = {1000, 2000, 4000, 4000, 4000};
	(void)state;
	for (int a = 1; a <= 5; a++) {
		int64_t got = sched_retry_delay(&p, a, NO_JITTER);
		if (got != want[a - 1])
			fail_msg("attempts %d: got %lld, want %lld", a, (long long)got,
				 (long long)want[a - 1]);
	}
}

static void test_delay_jitter_bounds(void **state)
{
	static const uint32_t rnds[] = {0, 1, 0x40000000u, NO_JITTER, 0xC0000000u, 0xFFFFFFFFu};
	int64_t lo_seen = INT64_MAX, hi_seen = 0;
	(void)state;
	for (int a = 1; a <= 8; a++) {
		int64_t base = sched_retry_delay(&defaults, a, NO_JITTER);
		for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			int64_t got = sched_retry_delay(&defaults, a, rnds[i]);
			if (got < base - base / 10 || got > base + base / 10)
				fail_msg("attempts %d rnd %u: got %lld, want within 10%% of %lld", a,
					 rnds[i], (long long)got, (long long)base);
		}
		/* also with the real generator */
		for (int k = 0; k < 1000; k++) {
			int64_t got = sched_retry_delay(&defaults, a, util_random_u32());
			if (got < base - base / 10 || got > base + base / 10)
				fail_msg("attempts %d: got %lld, want within 10%% of %lld", a,
					 (long long)got, (long long)base);
			if (a == 1) {
				lo_seen = got < lo_seen ? got : lo_seen;
				hi_seen = got > hi_seen ? got : hi_seen;
			}
		}
	}
	/* the jitter is really there: 1000 draws spread over most of +-10% */
	if (hi_seen - lo_seen < 5 * MIN_MS / 10)
		fail_msg("jitter spread: got %lld ms, want >= %lld", (long long)(hi_seen - lo_seen),
			 (long long)(5 * MIN_MS / 10));
	/* the extremes are exactly -10% and just under +10% */
	assert_int_equal(sched_retry_delay(&defaults, 1, 0), 5 * MIN_MS - 30 * 1000);
	assert_true(sched_retry_delay(&defaults, 1, 0xFFFFFFFFu) <= 5 * MIN_MS + 30 * 1000);
	assert_true(sched_retry_delay(&defaults, 1, 0xFFFFFFFFu) > 5 * MIN_MS + 29 * 1000);
}

static void test_greylist_table(void **state)
{
	static const struct {
		const char *name;
		enum outcome_kind kind;
		int code;
		const char *status;
		const char *text;
		bool want;
	} cases[] = {
		{"postgrey", OUTCOME_TEMP, 450, "4.2.0",
		 "4.2.0 <a@b.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/", true},
		{"milter-greylist", OUTCOME_TEMP, 451, "4.7.1",
		 "4.7.1 Greylisting in action, please come back later", true},
		{"graylist spelling", OUTCOME_TEMP, 451, "4.7.0", "Graylisted for 300 seconds", true},
		{"try again later", OUTCOME_TEMP, 451, "4.3.0", "Temporary local problem, try again later", true},
		{"4.7.1 later", OUTCOME_TEMP, 450, "4.7.1", "Sender not yet allowed, retry later", true},
		{"mailbox full", OUTCOME_TEMP, 452, "4.2.2", "Mailbox full", false},
		{"451 local error", OUTCOME_TEMP, 451, "4.3.0", "Local error in processing", false},
		{"421 greylist word", OUTCOME_TEMP, 421, "4.4.2", "greylisted, closing", false},
		{"perm with word", OUTCOME_PERM, 550, "5.7.1", "greylisted forever", false},
		{"ok", OUTCOME_OK, 250, "2.0.0", "try again later", false},
		{"4.7.1 no later", OUTCOME_TEMP, 450, "4.7.1", "Client host rejected", false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome o;
		memset(&o, 0, sizeof(o));
		o.kind = cases[i].kind;
		o.code = cases[i].code;
		util_strlcpy(o.status, cases[i].status, sizeof(o.status));
		util_strlcpy(o.text, cases[i].text, sizeof(o.text));
		bool got = sched_is_greylist(&o);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, got, cases[i].want);
	}
}

static void test_next_attempt(void **state)
{
	static const struct retry_policy p = {
		.min_backoff_ms = 1000, .max_backoff_ms = 4000,
		.greylist_retry_ms = 300, .queue_lifetime_ms = 10000,
	};
	struct outcome temp, grey;
	const int64_t arrival = 1700000000000LL;
	static const struct {
		const char *name;
		int64_t now_off; /* ms after arrival */
		int attempts;
		bool greylist;
		int64_t want_off; /* -1 = 0 returned (lifetime over) */
	} cases[] = {
		{"first failure", 0, 1, false, 1000},
		{"second failure", 1000, 2, false, 3000},
		{"third failure", 3000, 3, false, 7000},
		{"capped to lifetime end", 7000, 4, false, 10000},
		{"at lifetime end", 10000, 5, false, -1},
		{"after lifetime end", 25000, 5, false, -1},
		{"greylisted", 0, 1, true, 300},
		{"greylisted late", 5000, 6, true, 5300},
		{"greylisted at end", 10000, 2, true, -1},
	};
	(void)state;
	memset(&temp, 0, sizeof(temp));
	temp.kind = OUTCOME_TEMP;
	temp.code = 451;
	util_strlcpy(temp.status, "4.3.0", sizeof(temp.status));
	util_strlcpy(temp.text, "local problem", sizeof(temp.text));
	grey = temp;
	util_strlcpy(grey.text, "Greylisted, come back in 5 minutes", sizeof(grey.text));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = sched_next_attempt(&p, arrival, cases[i].attempts,
						 cases[i].greylist ? &grey : &temp,
						 arrival + cases[i].now_off, 0);
		/* rnd 0: -10% for back-off, +0% for greylisting */
		int64_t want;
		if (cases[i].want_off < 0)
			want = 0;
		else if (cases[i].greylist || cases[i].want_off == 10000)
			want = arrival + cases[i].want_off;
		else
			want = arrival + cases[i].now_off +
			       (cases[i].want_off - cases[i].now_off) * 9 / 10;
		if (got != want)
			fail_msg("%s: got %lld, want %lld", cases[i].name, (long long)got,
				 (long long)want);
	}
	/* greylist jitter is never negative and at most +10% */
	for (int k = 0; k < 1000; k++) {
		int64_t got = sched_next_attempt(&p, arrival, 1, &grey, arrival, util_random_u32());
		if (got < arrival + 300 || got > arrival + 330)
			fail_msg("greylist jitter: got +%lld, want 300..330", (long long)(got - arrival));
	}
	/* the default five days run out */
	assert_int_equal(sched_next_attempt(&defaults, arrival, 200, &temp,
					    arrival + 5 * 24 * HOUR_MS, NO_JITTER), 0);
	assert_int_equal(sched_next_attempt(&defaults, arrival, 2, &temp, arrival + HOUR_MS, NO_JITTER),
			 arrival + HOUR_MS + 10 * MIN_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_defaults),
		cmocka_unit_test(test_delay_seconds_scale),
		cmocka_unit_test(test_delay_jitter_bounds),
		cmocka_unit_test(test_greylist_table),
		cmocka_unit_test(test_next_attempt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
