/*
 * test_util_strings.c - duration and size parsing, escaping of untrusted
 * text for logs, the buffer, and date formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void test_durations(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int64_t ms;
	} cases[] = {
		{"0", 0, 0}, {"90", 0, 90000}, {"90s", 0, 90000}, {"5m", 0, 300000},
		{"4h", 0, 14400000}, {"5d", 0, 432000000}, {"250ms", 0, 250}, {"1w", 0, 604800000},
		{"5M", 0, 300000}, {"", -1, 0}, {"m", -1, 0}, {"5 minutes", -1, 0}, {"-5s", -1, 0},
		{"99999999999999999999", -1, 0}, {"9999999999999999d", -1, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -1;
		int rc = util_parse_duration(cases[i].in, &ms);
		if (rc != cases[i].rc || (rc == 0 && ms != cases[i].ms))
			fail_msg("'%s': got rc=%d ms=%lld, want rc=%d ms=%lld", cases[i].in, rc,
				 (long long)ms, cases[i].rc, (long long)cases[i].ms);
	}
}

static void test_sizes(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t bytes;
	} cases[] = {
		{"36700160", 0, 36700160}, {"64k", 0, 65536}, {"35m", 0, 36700160},
		{"1g", 0, 1073741824}, {"1x", -1, 0}, {"", -1, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 0;
		int rc = util_parse_size(cases[i].in, &b);
		if (rc != cases[i].rc || (rc == 0 && b != cases[i].bytes))
			fail_msg("'%s': got rc=%d bytes=%llu, want rc=%d bytes=%llu", cases[i].in, rc,
				 (unsigned long long)b, cases[i].rc, (unsigned long long)cases[i].bytes);
	}
}

static void test_escape(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{"plain text", 10, "plain text"},
		{"line\r\nforged: yes", 17, "line\\x0d\\x0aforged: yes"},
		{"back\\slash", 10, "back\\\\slash"},
		{"caf\xc3\xa9", 5, "caf\xc3\xa9"},     /* valid UTF-8 stays */
		{"bad\xc3(", 5, "bad\\xc3("},          /* broken sequence escaped */
		{"nul\0x", 5, "nul\\x00x"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[128];
		util_escape(cases[i].in, cases[i].len, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out, cases[i].want);
	}
	/* Truncation never splits an escape or overflows. */
	char small[6];
	util_escape("\r\r\r", 3, small, sizeof(small));
	assert_string_equal(small, "\\x0d");
}

static void test_buf(void **state)
{
	struct buf b = {0};

	(void)state;
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(b.len, strlen(b.data));
	assert_memory_equal(b.data, "0,1,2,", 6);
	buf_append(&b, "\0z", 2);
	assert_int_equal(b.data[b.len - 2], '\0');
	char *s = buf_steal(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
}

static void test_dates(void **state)
{
	char out[64];

	(void)state;
	util_rfc5322_date(1796304600000LL, out, sizeof(out));
	assert_string_equal(out, "Thu, 03 Dec 2026 13:30:00 +0000");
	util_iso8601(1796304600123LL, out, sizeof(out));
	assert_string_equal(out, "2026-12-03T13:30:00.123Z");
	util_clock_set(42000);
	assert_int_equal(util_now_ms(), 42000);
	util_clock_set(0);
	assert_true(util_now_ms() > 1700000000000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations), cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_escape),    cmocka_unit_test(test_buf),
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
