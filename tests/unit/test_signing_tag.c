/*
 * test_signing_tag.c - signed return paths: a tag made for (queue id,
 * recipient index, recipient, day) verifies back to exactly those; any
 * changed character, another key, or an old day stamp fails; addresses
 * that cannot ride along VERP-style (too long for a 64-octet local part,
 * quoted) get the hashed form, which names its recipient by hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "signing/signing.h"

#define DAY SIGNING_DAY_MS
/* 2026-12-03 12:00 UTC */
#define NOW      1796299200000LL
#define LIFETIME (5 * DAY)

static struct signing_key key_a, key_b;

static void keys(void)
{
	for (size_t i = 0; i < SIGNING_KEY_LEN; i++) {
		key_a.k[i] = (unsigned char)i;
		key_b.k[i] = (unsigned char)(i * 7 + 1);
	}
}

static const struct {
	const char *name, *qid;
	size_t ri;
	const char *rcpt;
	const char *want_rcpt; /* what the tag gives back ("" = hashed form) */
} round_cases[] = {
    {"plain", "0191A2B3C4D5E6F70", 0, "Ann.Lee@Example.TEST", "ann.lee@example.test"},
    {"index kept", "0191A2B3C4D5E6F71", 999, "x+y=z@b.test", "x+y=z@b.test"},
    {"highest index", "00000000000000001", 65535, "a@b.test", "a@b.test"},
    {"utf-8 local part", "0191A2B3C4D5E6F72", 3, "j\xc3\xb6rg@b.test", "j\xc3\xb6rg@b.test"},
    {"local part would pass 64 octets", "0191A2B3C4D5E6F76", 6,
     "long-but-valid-address@example.test", ""},
    {"quoted local part not carried", "0191A2B3C4D5E6F73", 1, "\"a b\"@c.test", ""},
    {"address literal not carried", "0191A2B3C4D5E6F74", 2, "a@[127.0.0.1]", ""},
    {"too long to carry", "0191A2B3C4D5E6F75", 4,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
     "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
     "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.test",
     ""},
};

static void test_round_trip(void **state)
{
	(void)state;
	keys();
	for (size_t i = 0; i < sizeof(round_cases) / sizeof(round_cases[0]); i++) {
		char rp[300];
		struct signing_tag t;
		enum signing_verdict v;

		if (signing_return_path(&key_a, "bounce.test", round_cases[i].qid,
		                        round_cases[i].ri, round_cases[i].rcpt, NOW, rp,
		                        sizeof(rp)) != 0)
			fail_msg("%s: signing_return_path failed", round_cases[i].name);
		if (strncmp(rp, "bounces+", 8) != 0 || strchr(rp, '@') - rp > SIGNING_LOCAL_MAX ||
		    strcmp(rp + strlen(rp) - 12, "@bounce.test") != 0)
			fail_msg(
			    "%s: got \"%s\", want bounces+...@bounce.test, local part within 64",
			    round_cases[i].name, rp);
		memset(&t, 0, sizeof(t));
		v = signing_verify(&key_a, rp, NOW, LIFETIME, &t);
		if (v != SIGNING_OK)
			fail_msg("%s: verify got %s, want ok (%s)", round_cases[i].name,
			         signing_verdict_name(v), rp);
		if (strcmp(t.qid, round_cases[i].qid) != 0 || t.ri != round_cases[i].ri ||
		    strcmp(t.rcpt, round_cases[i].want_rcpt) != 0 || t.day != signing_day(NOW))
			fail_msg("%s: got qid %s ri %u rcpt \"%s\" day %u, want %s %zu \"%s\" %u",
			         round_cases[i].name, t.qid, t.ri, t.rcpt, t.day,
			         round_cases[i].qid, round_cases[i].ri, round_cases[i].want_rcpt,
			         signing_day(NOW));
		if (!signing_tag_names(&key_a, &t, round_cases[i].rcpt))
			fail_msg("%s: the tag does not name its own recipient",
			         round_cases[i].name);
		if (signing_tag_names(&key_a, &t, "someone.else@b.test"))
			fail_msg("%s: the tag names another recipient", round_cases[i].name);
	}
}

/* A remote MTA may change the case of the whole return path. */
static void test_case_insensitive(void **state)
{
	char rp[300];
	struct signing_tag t;

	(void)state;
	keys();
	assert_int_equal(signing_return_path(&key_a, "bounce.test", "0191A2B3C4D5E6F70", 5,
	                                     "Bob@Sink.Test", NOW, rp, sizeof(rp)),
	                 0);
	for (char *p = rp; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (signing_verify(&key_a, rp, NOW, LIFETIME, &t) != SIGNING_OK)
		fail_msg("upper-cased %s: got %s, want ok", rp,
		         signing_verdict_name(signing_verify(&key_a, rp, NOW, LIFETIME, NULL)));
	assert_string_equal(t.rcpt, "bob@sink.test");
}

/* Every single-character change of the tag, the carried address or the
 * prefix must fail (no position is left out of the MAC). */
static void tamper_each(const char *rp)
{
	size_t at = (size_t)(strrchr(rp, '@') - rp);

	for (size_t i = 0; i < at; i++) {
		char bad[300];
		enum signing_verdict v;

		memcpy(bad, rp, sizeof(bad));
		/* a different character of the same class, so base32 stays base32 */
		bad[i] = bad[i] == 'a' ? 'b' : bad[i] == '2' ? '3' : bad[i] == '@' ? '#' : 'a';
		if (bad[i] == rp[i])
			bad[i] = 'c';
		v = signing_verify(&key_a, bad, NOW, LIFETIME, NULL);
		if (v == SIGNING_OK)
			fail_msg("changed byte %zu (%s): got ok, want a failure", i, bad);
	}
}

static void test_tampered(void **state)
{
	char rp[300];

	(void)state;
	keys();
	assert_int_equal(signing_return_path(&key_a, "bounce.test", "0191A2B3C4D5E6F70", 7,
	                                     "victim@sink.test", NOW, rp, sizeof(rp)),
	                 0);
	assert_non_null(strstr(rp, "-victim=sink.test@"));
	tamper_each(rp);
	{
		char hashed[300];
		assert_int_equal(signing_return_path(&key_a, "bounce.test", "0191A2B3C4D5E6F70", 7,
		                                     "a-rather-long-victim-address@sink.test", NOW,
		                                     hashed, sizeof(hashed)),
		                 0);
		assert_int_equal(strlen(hashed), 8 + SIGNING_TAG_HASHED + strlen("@bounce.test"));
		tamper_each(hashed);
	}
	/* another recipient spliced onto a valid tag */
	{
		char spliced[300];
		snprintf(spliced, sizeof(spliced), "%.*s-other=sink.test@bounce.test",
		         8 + SIGNING_TAG_CARRIED, rp);
		assert_int_equal(signing_verify(&key_a, spliced, NOW, LIFETIME, NULL),
		                 SIGNING_BAD_MAC);
	}
}

static void test_other_key(void **state)
{
	char rp[300];

	(void)state;
	keys();
	assert_int_equal(signing_return_path(&key_a, "bounce.test", "0191A2B3C4D5E6F70", 0,
	                                     "a@b.test", NOW, rp, sizeof(rp)),
	                 0);
	assert_int_equal(signing_verify(&key_b, rp, NOW, LIFETIME, NULL), SIGNING_BAD_MAC);
	assert_int_equal(signing_verify(&key_a, rp, NOW, LIFETIME, NULL), SIGNING_OK);
}

static const struct {
	const char *name;
	int64_t signed_at, checked_at, lifetime;
	enum signing_verdict want;
} day_cases[] = {
    /* lifetime 5d + 7d grace = 12 days */
    {"same day", NOW, NOW, LIFETIME, SIGNING_OK},
    {"12 days later", NOW, NOW + 12 * DAY, LIFETIME, SIGNING_OK},
    {"13 days later", NOW, NOW + 13 * DAY, LIFETIME, SIGNING_EXPIRED},
    {"a year later", NOW, NOW + 365 * DAY, LIFETIME, SIGNING_EXPIRED},
    {"one day ahead (skew)", NOW + DAY, NOW, LIFETIME, SIGNING_OK},
    {"two days ahead", NOW + 2 * DAY, NOW, LIFETIME, SIGNING_EXPIRED},
    {"short lifetime rounds up", NOW, NOW + 8 * DAY, 3600 * 1000LL, SIGNING_OK},
    {"short lifetime, 9 days", NOW, NOW + 9 * DAY, 3600 * 1000LL, SIGNING_EXPIRED},
};

static void test_expiry(void **state)
{
	(void)state;
	keys();
	for (size_t i = 0; i < sizeof(day_cases) / sizeof(day_cases[0]); i++) {
		char rp[300];
		enum signing_verdict v;

		assert_int_equal(signing_return_path(&key_a, "bounce.test", "0191A2B3C4D5E6F70", 0,
		                                     "a@b.test", day_cases[i].signed_at, rp,
		                                     sizeof(rp)),
		                 0);
		v = signing_verify(&key_a, rp, day_cases[i].checked_at, day_cases[i].lifetime,
		                   NULL);
		if (v != day_cases[i].want)
			fail_msg("%s: got %s, want %s", day_cases[i].name, signing_verdict_name(v),
			         signing_verdict_name(day_cases[i].want));
	}
}

static const struct {
	const char *name, *addr;
	enum signing_verdict want;
} junk_cases[] = {
    {"not tagged", "postmaster@bounce.test", SIGNING_UNTAGGED},
    {"bare prefix", "bounces+@bounce.test", SIGNING_MALFORMED},
    {"short tag", "bounces+abcdef@bounce.test", SIGNING_MALFORMED},
    {"not base32", "bounces+000000000000000000000000000000000000000@bounce.test",
     SIGNING_MALFORMED},
    {"hashed, no length", "bounces+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@bounce.test",
     SIGNING_MALFORMED},
    {"hashed guess", "bounces+ceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@bounce.test",
     SIGNING_BAD_MAC},
    {"carried guess", "bounces+seaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x=b.test@bounce.test",
     SIGNING_BAD_MAC},
    {"carried flag missing", "bounces+ceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x=b.test@bounce.test",
     SIGNING_MALFORMED},
    {"no separator", "bounces+seaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaxa=b.test@bounce.test",
     SIGNING_MALFORMED},
    {"no equals", "bounces+seaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-ab.test@bounce.test",
     SIGNING_MALFORMED},
};

static void test_junk(void **state)
{
	(void)state;
	keys();
	for (size_t i = 0; i < sizeof(junk_cases) / sizeof(junk_cases[0]); i++) {
		enum signing_verdict v =
		    signing_verify(&key_a, junk_cases[i].addr, NOW, LIFETIME, NULL);
		if (v != junk_cases[i].want)
			fail_msg("%s: got %d (%s), want %d", junk_cases[i].name, (int)v,
			         signing_verdict_name(v), (int)junk_cases[i].want);
	}
}

static void test_bad_input(void **state)
{
	char rp[300], small[40];

	(void)state;
	keys();
	assert_int_equal(
	    signing_return_path(&key_a, "b.test", "XYZ", 0, "a@b.test", NOW, rp, sizeof(rp)), -1);
	assert_int_equal(signing_return_path(&key_a, "b.test", "0191A2B3C4D5E6F70", 65536,
	                                     "a@b.test", NOW, rp, sizeof(rp)),
	                 -1);
	assert_int_equal(signing_return_path(&key_a, "b.test", "0191A2B3C4D5E6F70", 0, "a@b.test",
	                                     NOW, small, sizeof(small)),
	                 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip), cmocka_unit_test(test_case_insensitive),
	    cmocka_unit_test(test_tampered),   cmocka_unit_test(test_other_key),
	    cmocka_unit_test(test_expiry),     cmocka_unit_test(test_junk),
	    cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
