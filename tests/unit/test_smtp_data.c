/*
 * test_smtp_data.c - the DATA reader's over-long line flag (data.c, RFC
 * 5321 section 4.5.3.1.6: 1000 octets with CRLF, so 998 of text). Table
 * of {name, line length, how it is fed, bare_line_ending mode, want}; each
 * case builds the data, feeds it whole or one byte at a time (a line may
 * straddle reads) and checks the flag and that the end mark was found.
 * Mismatches print "got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp.h"
#include "util/util.h"

struct data_case {
	const char *name;
	const char *prefix; /* text before the long line */
	char fill;          /* the long line's byte */
	size_t len;         /* the long line's length, line end excluded */
	const char *end;    /* what follows it, up to and with the end mark */
	bool bytewise;      /* feed one byte at a time */
	bool normalize;
	bool want_long;
};

static const struct data_case cases[] = {
    {"998 is the limit", "Subject: x\r\n\r\n", 'a', 998, "\r\n.\r\n", false, false, false},
    {"999 is too long", "Subject: x\r\n\r\n", 'a', 999, "\r\n.\r\n", false, false, true},
    {"2 MB line", "Subject: x\r\n\r\n", 'b', 2u << 20, "\r\n.\r\n", false, false, true},
    {"long line fed bytewise", "", 'c', 1500, "\r\n.\r\n", true, false, true},
    {"998 fed bytewise", "", 'c', 998, "\r\nshort\r\n.\r\n", true, false, false},
    {"long header line", "Subject: ", 'h', 1200, "\r\n\r\nbody\r\n.\r\n", false, false, true},
    /* a dot-stuffed line: the stuffing dot is not message text */
    {"stuffed 998", "..", 'd', 997, "\r\n.\r\n", false, false, false},
    /* bare LF ends lines too when normalizing */
    {"bare LF ends a line", "x\n", 'e', 998, "\r\n.\r\n", false, true, false},
    {"bare LF then long", "x\n", 'e', 999, "\r\n.\r\n", false, true, true},
};

static void run_case(const struct data_case *c)
{
	struct smtp_data_rx rx;
	struct buf in = {0}, out = {0};
	size_t used = 0;

	buf_puts(&in, c->prefix);
	for (size_t i = 0; i < c->len; i++)
		buf_putc(&in, c->fill);
	buf_puts(&in, c->end);
	smtp_data_init(&rx, c->normalize);
	if (c->bytewise) {
		for (size_t i = 0; i < in.len && !rx.done; i++)
			used += smtp_data_feed(&rx, in.data + i, 1, &out);
	} else {
		used = smtp_data_feed(&rx, in.data, in.len, &out);
	}
	if (!rx.done)
		fail_msg("%s: got no end of data, want it found", c->name);
	if (used != in.len)
		fail_msg("%s: got %zu bytes consumed, want %zu", c->name, used, in.len);
	if (rx.long_line != c->want_long)
		fail_msg("%s: got long_line=%d, want %d", c->name, rx.long_line, c->want_long);
	buf_free(&in);
	buf_free(&out);
}

static void test_line_limit(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
