/*
 * test_smtp_reply.c - client-side reply parsing (RFC 5321 section 4.2):
 * single and multi-line replies, EHLO keywords, malformed lines, the line
 * bound, and text truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp.h"

#define MAXL 8

struct reply_case {
	const char *name;
	const char *lines[MAXL]; /* fed in order until NULL */
	int want_last;           /* result of the last feed */
	int want_code;
	const char *want_text;
	size_t want_nlines;
};

static void test_reply_table(void **state)
{
	static const struct reply_case cases[] = {
		{"single line", {"250 OK", NULL}, 1, 250, "OK", 1},
		{"bare code", {"250", NULL}, 1, 250, "", 1},
		{"code and space only", {"354 ", NULL}, 1, 354, "", 1},
		{"multi-line joined", {"550-5.1.1 The email account does not exist.",
				       "550 5.1.1 Please check the address.", NULL},
		 1, 550, "5.1.1 The email account does not exist. 5.1.1 Please check the address.", 2},
		{"continuation pending", {"250-first", NULL}, 0, 250, "first", 1},
		{"trailing CRLF dropped", {"221 bye\r\n", NULL}, 1, 221, "bye", 1},
		{"empty continuation text", {"250-", "250 x", NULL}, 1, 250, "x", 2},
		{"code changes mid-reply", {"250-a", "251 b", NULL}, -1, 250, "a", 1},
		{"short line", {"25", NULL}, -1, 0, "", 0},
		{"letters", {"2x0 hi", NULL}, -1, 0, "", 0},
		{"first digit 1", {"123 hi", NULL}, -1, 0, "", 0},
		{"first digit 6", {"600 hi", NULL}, -1, 0, "", 0},
		{"bad separator", {"250_hi", NULL}, -1, 0, "", 0},
		{"empty line", {"", NULL}, -1, 0, "", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		struct smtp_reply r;
		int got = -2;

		smtp_reply_init(&r);
		for (size_t l = 0; l < MAXL && c->lines[l] != NULL; l++)
			got = smtp_reply_feed(&r, c->lines[l], strlen(c->lines[l]));
		if (got != c->want_last)
			fail_msg("%s: got result %d, want %d", c->name, got, c->want_last);
		if (got >= 0 || c->want_code != 0) {
			if (r.code != c->want_code || strcmp(r.text, c->want_text) != 0 ||
			    r.nlines != c->want_nlines)
				fail_msg("%s: got code=%d text=\"%s\" nlines=%zu, want %d \"%s\" %zu", c->name,
					 r.code, r.text, r.nlines, c->want_code, c->want_text, c->want_nlines);
		}
	}
}

static void test_ehlo_keywords(void **state)
{
	static const char *lines[] = {
		"250-mx.example.net Hello client",
		"250-PIPELINING",
		"250-size 10240000",
		"250-8BITMIME",
		"250-DSN",
		"250-SMTPUTF8",
		"250 ENHANCEDSTATUSCODES",
	};
	static const char *want[] = {"MX.EXAMPLE.NET", "PIPELINING", "SIZE", "8BITMIME",
				     "DSN", "SMTPUTF8", "ENHANCEDSTATUSCODES"};
	struct smtp_reply r;
	int st = -2;

	(void)state;
	smtp_reply_init(&r);
	for (size_t i = 0; i < 7; i++) {
		st = smtp_reply_feed(&r, lines[i], strlen(lines[i]));
		assert_int_equal(st, i == 6 ? 1 : 0);
	}
	assert_int_equal(r.code, 250);
	assert_int_equal(r.nlines, 7);
	for (size_t i = 0; i < 7; i++)
		if (strcmp(r.line_kw[i], want[i]) != 0)
			fail_msg("line %zu: got keyword \"%s\", want \"%s\"", i, r.line_kw[i], want[i]);
}

static void test_too_many_lines(void **state)
{
	struct smtp_reply r;
	int st = 0;
	size_t n = 0;

	(void)state;
	smtp_reply_init(&r);
	/* 20 lines: fine, keywords stop at 16, the count goes on */
	for (n = 0; n < 19; n++)
		assert_int_equal(smtp_reply_feed(&r, "250-X-EXT", 9), 0);
	assert_int_equal(smtp_reply_feed(&r, "250 LAST", 8), 1);
	assert_int_equal(r.nlines, 20);
	assert_string_equal(r.line_kw[15], "X-EXT");

	/* an endless continuation is cut off */
	smtp_reply_init(&r);
	for (n = 0; n < 1000 && (st = smtp_reply_feed(&r, "250-more", 8)) == 0; n++)
		;
	assert_int_equal(st, -1);
	assert_true(n >= 50 && n < 1000);
}

static void test_text_truncation(void **state)
{
	struct smtp_reply r;
	char line[600];

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "550-", 4);
	smtp_reply_init(&r);
	for (int i = 0; i < 5; i++)
		assert_int_equal(smtp_reply_feed(&r, line, sizeof(line)), 0);
	line[3] = ' ';
	assert_int_equal(smtp_reply_feed(&r, line, sizeof(line)), 1);
	assert_int_equal(strlen(r.text), sizeof(r.text) - 1);
	assert_string_equal(r.text + strlen(r.text) - 3, "...");

	/* a NUL inside a line is malformed */
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_feed(&r, "250 a\0b", 7), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test(test_ehlo_keywords),
		cmocka_unit_test(test_too_many_lines),
		cmocka_unit_test(test_text_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
