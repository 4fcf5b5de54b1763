/*
 * test_util_outcome.c - the closed outcome type: enhanced status codes taken
 * from replies (RFC 2034), ignored when malformed or of the wrong class,
 * derived when absent (RFC 3463), status syntax, and text truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/outcome.h"

struct reply_case {
	const char *name;
	int code;
	const char *text;
	enum outcome_kind want_kind;
	const char *want_status;
	const char *want_text;
};

static void test_from_reply_table(void **state)
{
	static const struct reply_case cases[] = {
		{"enhanced code taken", 550, "5.1.1 <x@y>: Recipient address rejected: User unknown",
		 OUTCOME_PERM, "5.1.1", "550 5.1.1 <x@y>: Recipient address rejected: User unknown"},
		{"temp enhanced", 451, "4.7.1 Greylisted, try again", OUTCOME_TEMP, "4.7.1",
		 "451 4.7.1 Greylisted, try again"},
		{"ok enhanced", 250, "2.0.0 Ok: queued as ABC", OUTCOME_OK, "2.0.0",
		 "250 2.0.0 Ok: queued as ABC"},
		{"three-digit subject and detail", 550, "5.7.606 Access denied", OUTCOME_PERM, "5.7.606",
		 "550 5.7.606 Access denied"},
		{"class mismatch ignored, derived", 550, "4.2.2 mailbox full", OUTCOME_PERM, "5.0.0",
		 "550 4.2.2 mailbox full"},
		{"not at start ignored", 550, "User unknown 5.1.1", OUTCOME_PERM, "5.0.0",
		 "550 User unknown 5.1.1"},
		{"malformed code ignored", 550, "5.1 no detail", OUTCOME_PERM, "5.0.0", "550 5.1 no detail"},
		{"four-digit detail ignored", 550, "5.1.1234 x", OUTCOME_PERM, "5.0.0", "550 5.1.1234 x"},
		{"no text", 421, "", OUTCOME_TEMP, "4.3.2", "421"},
		{"421 derived", 421, "mx closing", OUTCOME_TEMP, "4.3.2", "421 mx closing"},
		{"450 derived", 450, "busy", OUTCOME_TEMP, "4.2.0", "450 busy"},
		{"451 derived", 451, "local error", OUTCOME_TEMP, "4.3.0", "451 local error"},
		{"452 storage", 452, "Insufficient system storage", OUTCOME_TEMP, "4.3.1",
		 "452 Insufficient system storage"},
		{"452 too many recipients", 452, "Too many recipients", OUTCOME_TEMP, "4.5.3",
		 "452 Too many recipients"},
		{"552 size", 552, "Message too large", OUTCOME_PERM, "5.3.4", "552 Message too large"},
		{"553 bad address", 553, "mailbox name not allowed", OUTCOME_PERM, "5.1.3",
		 "553 mailbox name not allowed"},
		{"554 plain", 554, "Transaction failed", OUTCOME_PERM, "5.0.0", "554 Transaction failed"},
		{"500 syntax", 500, "what?", OUTCOME_PERM, "5.5.2", "500 what?"},
		{"stray 354 is temp", 354, "go ahead", OUTCOME_TEMP, "4.0.0", "354 go ahead"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		struct outcome o;

		outcome_from_reply(&o, c->code, c->text, "mx.example[192.0.2.1]:25");
		if (o.kind != c->want_kind || strcmp(o.status, c->want_status) != 0 ||
		    strcmp(o.text, c->want_text) != 0 || o.code != c->code)
			fail_msg("%s: got kind=%d status=%s text=\"%s\", want kind=%d status=%s text=\"%s\"",
				 c->name, o.kind, o.status, o.text, c->want_kind, c->want_status, c->want_text);
		assert_string_equal(o.remote, "mx.example[192.0.2.1]:25");
	}
}

struct status_case {
	const char *in;
	bool want;
};

static void test_valid_status_table(void **state)
{
	static const struct status_case cases[] = {
		{"2.0.0", true}, {"4.4.7", true}, {"5.1.10", true}, {"5.123.456", true},
		{"3.0.0", false}, {"5.1", false}, {"5..1", false}, {"5.1.1.", false},
		{"5.1234.1", false}, {"x.1.1", false}, {"", false}, {"5.1.a", false},
		{"55.1.1", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = outcome_is_valid_status(cases[i].in, strlen(cases[i].in));
		if (got != cases[i].want)
			fail_msg("\"%s\": got %d, want %d", cases[i].in, got, cases[i].want);
	}
}

static void test_set_status_and_truncation(void **state)
{
	struct outcome o;
	char big[3000];

	(void)state;
	outcome_set(&o, OUTCOME_PERM, 0, "5.1.10", "", "domain %s does not accept mail (null MX)",
		    "example.net");
	assert_int_equal(o.kind, OUTCOME_PERM);
	assert_string_equal(o.status, "5.1.10");
	assert_string_equal(o.text, "domain example.net does not accept mail (null MX)");
	assert_string_equal(o.remote, "");

	/* NULL status derives; a status of the wrong class is replaced */
	outcome_set(&o, OUTCOME_TEMP, 0, NULL, NULL, "x");
	assert_string_equal(o.status, "4.0.0");
	outcome_set(&o, OUTCOME_TEMP, 0, "5.1.1", NULL, "x");
	assert_string_equal(o.status, "4.0.0");
	outcome_set(&o, OUTCOME_TEMP, 0, "bogus", NULL, "x");
	assert_string_equal(o.status, "4.0.0");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	outcome_set(&o, OUTCOME_TEMP, 0, "4.4.2", "", "%s", big);
	assert_int_equal(strlen(o.text), OUTCOME_TEXT_MAX - 1);
	assert_memory_equal(o.text + OUTCOME_TEXT_MAX - 4, "...", 4);

	/* a long reply is cut the same way, never in the middle of UTF-8 */
	for (size_t i = 0; i + 1 < sizeof(big); i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9; /* é */
	}
	big[sizeof(big) - 1] = '\0';
	outcome_from_reply(&o, 550, big, "");
	size_t len = strlen(o.text);
	assert_true(len <= OUTCOME_TEXT_MAX - 1);
	assert_string_equal(o.text + len - 3, "...");
	/* before "..." the last byte must end a complete é (0xa9) */
	assert_int_equal((unsigned char)o.text[len - 4], 0xa9);
}

static void test_derive_and_names(void **state)
{
	char st[OUTCOME_STATUS_MAX];

	(void)state;
	outcome_derive_status(OUTCOME_OK, 250, st);
	assert_string_equal(st, "2.0.0");
	outcome_derive_status(OUTCOME_PERM, 550, st);
	assert_string_equal(st, "5.0.0");
	outcome_derive_status(OUTCOME_PERM, 552, st);
	assert_string_equal(st, "5.3.4");
	/* a 5xx code under TEMP (our choice to retry) gives no 5.x refinement */
	outcome_derive_status(OUTCOME_TEMP, 554, st);
	assert_string_equal(st, "4.0.0");
	assert_string_equal(outcome_kind_name(OUTCOME_OK), "ok");
	assert_string_equal(outcome_kind_name(OUTCOME_TEMP), "temp");
	assert_string_equal(outcome_kind_name(OUTCOME_PERM), "perm");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_reply_table),
		cmocka_unit_test(test_valid_status_table),
		cmocka_unit_test(test_set_status_and_truncation),
		cmocka_unit_test(test_derive_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
