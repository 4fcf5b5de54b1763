/*
 * test_suppress_set.c - the pure parts of src/suppress: address
 * normalization, the "when and why" text, the policy's reason classes,
 * and the compact set behind the RCPT check (inserts, updates, removals
 * with backward shift, growth) checked against a plain reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "suppress/suppress.h"

static const struct {
	const char *name, *in, *want; /* want NULL: refused */
} norm_cases[] = {
	{"plain", "a@b.test", "a@b.test"},
	{"case folded", "Ann.Lee@Example.TEST", "ann.lee@example.test"},
	{"brackets and blanks", "  <x@y.test> ", "x@y.test"},
	{"utf-8 kept", "J\xc3\xb6rg@Example.test", "j\xc3\xb6rg@example.test"},
	{"last at-sign", "\"a@b\"@c.test", "\"a@b\"@c.test"},
	{"no at-sign", "postmaster", NULL},
	{"empty local part", "@b.test", NULL},
	{"empty domain", "a@", NULL},
	{"inner space", "a b@c.test", NULL},
	{"empty", "", NULL},
};

static void test_normalize(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
		char out[SUPPRESS_ADDR_MAX];
		int r = suppress_normalize(norm_cases[i].in, out, sizeof(out));
		if (norm_cases[i].want == NULL) {
			if (r != -1)
				fail_msg("%s: got %d (%s), want -1", norm_cases[i].name, r, out);
			continue;
		}
		if (r != 0 || strcmp(out, norm_cases[i].want) != 0)
			fail_msg("%s: got %d \"%s\", want \"%s\"", norm_cases[i].name, r,
				 r == 0 ? out : "", norm_cases[i].want);
	}
}

static const struct {
	const char *name;
	struct suppress_entry e;
	const char *want;
} describe_cases[] = {
	{"hard bounce", {.reason = "userunknown", .status = "5.1.1",
			 .source = SUPPRESS_SRC_HARD_BOUNCE, .created_ms = 1796292000000LL},
	 "recipient suppressed since 2026-12-03 (hard bounce: userunknown 5.1.1)"},
	{"soft", {.reason = "mailboxfull", .status = "4.2.2", .source = SUPPRESS_SRC_SOFT_BOUNCE,
		  .created_ms = 1796292000000LL},
	 "recipient suppressed since 2026-12-03 (repeated soft bounces: mailboxfull 4.2.2)"},
	{"manual without status", {.reason = "asked", .source = SUPPRESS_SRC_MANUAL,
				   .created_ms = 0},
	 "recipient suppressed since 1970-01-01 (added by the operator: asked)"},
	{"no reason", {.source = SUPPRESS_SRC_IMPORT, .created_ms = 1796292000000LL},
	 "recipient suppressed since 2026-12-03 (imported)"},
};

static void test_describe(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(describe_cases) / sizeof(describe_cases[0]); i++) {
		char out[400];
		suppress_describe(&describe_cases[i].e, out, sizeof(out));
		if (strcmp(out, describe_cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", describe_cases[i].name, out,
				 describe_cases[i].want);
	}
}

static const struct {
	const char *reason;
	bool hard;
	const char *want;
} kind_cases[] = {
	{"userunknown", true, "hard"},   {"hostunknown", true, "hard"},
	{"mailboxfull", false, "soft"},  {"systemfull", false, "soft"},
	{"networkerror", false, "soft"}, {"expired", false, "soft"},
	{"feedback", false, "complaint"}, {"abuse", false, "complaint"},
	{"blocked", false, "other"},     {"spamdetected", false, "other"},
	{"filtered", false, "other"},    {NULL, false, "other"},
};

static void test_kind(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kind_cases) / sizeof(kind_cases[0]); i++) {
		struct suppress_bounce b = {.address = "a@b.test", .reason = kind_cases[i].reason,
					    .hard = kind_cases[i].hard};
		const char *got = suppress_kind(&b);
		if (strcmp(got, kind_cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", kind_cases[i].reason ? kind_cases[i].reason
									   : "(null)",
				 got, kind_cases[i].want);
	}
}

static void test_set_hit_text(void **state)
{
	struct suppress_set *s = suppress_set_new(0);
	struct suppress_entry e = {.reason = "userunknown", .status = "5.1.1",
				   .source = SUPPRESS_SRC_HARD_BOUNCE, .created_ms = 1796292000000LL};
	struct suppress_hit hit;

	(void)state;
	suppress_set_put(s, "a@b.test", &e);
	assert_true(suppress_set_get(s, "a@b.test", &hit));
	assert_false(suppress_set_get(s, "A@b.test", NULL)); /* callers normalize */
	assert_string_equal(hit.reason, "userunknown 5.1.1");
	assert_int_equal(hit.source, SUPPRESS_SRC_HARD_BOUNCE);
	assert_int_equal(hit.created_ms, 1796292000000LL);
	assert_string_equal(hit.text,
			    "recipient suppressed since 2026-12-03 (hard bounce: userunknown 5.1.1)");
	/* an update replaces what the hit says, the count stays */
	e.source = SUPPRESS_SRC_MANUAL;
	snprintf(e.reason, sizeof(e.reason), "asked, twice");
	e.status[0] = '\0';
	suppress_set_put(s, "a@b.test", &e);
	assert_int_equal(suppress_set_count(s), 1);
	assert_true(suppress_set_get(s, "a@b.test", &hit));
	assert_string_equal(hit.text,
			    "recipient suppressed since 2026-12-03 (added by the operator: asked, twice)");
	suppress_set_free(s);
}

/* Many inserts and removals against a reference array: every present
 * address is found, every removed one is not, through several growths. */
static void test_set_against_reference(void **state)
{
	enum { N = 60000 };
	static bool present[N];
	struct suppress_set *s = suppress_set_new(16);
	struct suppress_entry e = {.reason = "r", .source = SUPPRESS_SRC_IMPORT};
	char a[64];
	size_t count = 0;
	uint32_t x = 12345;

	(void)state;
	memset(present, 0, sizeof(present));
	for (int round = 0; round < 4 * N; round++) {
		x = x * 1103515245u + 12345u;
		int i = (int)((x >> 8) % N);
		snprintf(a, sizeof(a), "user%d@d%d.test", i, i % 97);
		if ((x >> 3) % 3 == 0) {
			int r = suppress_set_del(s, a);
			assert_int_equal(r, present[i] ? 1 : 0);
			if (present[i])
				count--;
			present[i] = false;
		} else {
			suppress_set_put(s, a, &e);
			if (!present[i])
				count++;
			present[i] = true;
		}
	}
	assert_int_equal(suppress_set_count(s), count);
	for (int i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "user%d@d%d.test", i, i % 97);
		if (suppress_set_get(s, a, NULL) != present[i])
			fail_msg("user%d: got %d, want %d", i, !present[i], present[i]);
	}
	/* 16 bytes a slot, at most 3/4 full, at least 3/8 after a doubling */
	assert_true(suppress_set_bytes(s) >= count * 16);
	assert_true(suppress_set_bytes(s) <= (count * 16 * 8) / 3 + 65536);
	suppress_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_set_hit_text),
		cmocka_unit_test(test_set_against_reference),
	};

	return cmocka_run_group_tests_name("suppress set", tests, NULL, NULL);
}
