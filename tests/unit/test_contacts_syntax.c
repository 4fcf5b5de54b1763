/*
 * test_contacts_syntax.c - the mailbox syntax of a contact's address
 * (RFC 5321 section 4.1.2, RFC 6531 section 3.3) with the position and
 * the words of each error, and the local verdicts built on it: typo
 * suggestions and the DNS key of the domain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "contacts/contacts.h"

static void test_syntax_table(void **state)
{
	static const struct {
		const char *name, *in;
		size_t pos;       /* 0: valid */
		const char *what; /* a part of the message */
	} cases[] = {
	    {"plain", "joe@example.com", 0, NULL},
	    {"atext", "a.b+tag!#$%&'*/=?^_`{|}~-@x.example", 0, NULL},
	    {"quoted with space", "\"john doe\"@example.com", 0, NULL},
	    {"quoted pair", "\"a\\\"b\"@example.com", 0, NULL},
	    {"utf8 local", "jos\xc3\xa9@example.com", 0, NULL},
	    {"utf8 domain",
	     "joe@b\xc3\xbc"
	     "cher.example",
	     0, NULL},
	    {"literal v4", "joe@[192.0.2.1]", 0, NULL},
	    {"literal v6", "joe@[IPv6:2001:db8::1]", 0, NULL},
	    {"trailing dot tolerated", "joe@example.com.", 0, NULL},
	    {"dotless domain", "joe@localhost", 0, NULL},
	    {"empty", "", 1, "empty"},
	    {"no at", "joe.example.com", 16, "no '@'"},
	    {"space in local", "joe smith@example.com", 4, "a space is not allowed"},
	    {"leading dot", ".joe@example.com", 1, "starts with a dot"},
	    {"double dot", "jo..e@example.com", 4, "two dots in a row"},
	    {"dot before at", "joe.@example.com", 4, "ends with a dot"},
	    {"empty local", "@example.com", 1, "local part before '@' is empty"},
	    {"comma", "joe,x@example.com", 4, "a comma"},
	    {"angle", "<joe@example.com>", 1, "'<'"},
	    {"control",
	     "jo\x01"
	     "e@example.com",
	     3, "control character 0x01"},
	    {"unclosed quote", "\"joe@example.com", 1, "never closed"},
	    {"after quote", "\"joe\"x@example.com", 6, "only '@' may follow"},
	    {"empty domain", "joe@", 5, "domain after '@' is empty"},
	    {"domain leading dot", "joe@.example.com", 5, "starts with a dot"},
	    {"domain double dot", "joe@example..com", 13, "two dots in a row in the domain"},
	    {"hyphen start", "joe@-x.example", 5, "starts with a hyphen"},
	    {"hyphen end", "joe@x-.example", 6, "ends with a hyphen"},
	    {"hyphen end last", "joe@example.com-", 16, "ends with a hyphen"},
	    {"underscore", "joe@my_host.example", 7, "underscore"},
	    {"second at", "joe@example.com@x", 16, "a second '@'"},
	    {"space in domain", "joe@exa mple.com", 8, "a space is not allowed in a domain"},
	    /* positions count characters: the e-acute is one, not two bytes */
	    {"position after utf8", "jos\xc3\xa9 x@example.com", 5, "a space"},
	    {"bad utf8", "jo\xc3(@example.com", 3, "invalid UTF-8"},
	    {"overlong utf8", "jo\xc0\xaf@example.com", 3, "invalid UTF-8"},
	    {"literal unclosed", "joe@[192.0.2.1", 5, "not closed"},
	    {"literal bad", "joe@[300.1.1.1]", 6, "not a valid address literal"},
	    {"local 65 octets",
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 65,
	     "longer than 64"},
	    {"label 64 octets",
	     "joe@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", 68,
	     "longer than 63"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct contacts_syntax sx;
		int rc = contacts_syntax_check(cases[i].in, strlen(cases[i].in), &sx);

		if (cases[i].pos == 0 && rc != 0)
			fail_msg("%s: got error at %zu (%s), want valid", cases[i].name, sx.pos,
			         sx.what);
		if (cases[i].pos != 0 && rc == 0)
			fail_msg("%s: got valid, want error at %zu", cases[i].name, cases[i].pos);
		if (cases[i].pos != 0 && sx.pos != cases[i].pos)
			fail_msg("%s: got position %zu (%s), want %zu", cases[i].name, sx.pos,
			         sx.what, cases[i].pos);
		if (cases[i].what != NULL && strstr(sx.what, cases[i].what) == NULL)
			fail_msg("%s: got \"%s\", want it to say \"%s\"", cases[i].name, sx.what,
			         cases[i].what);
	}
}

static void test_syntax_limits(void **state)
{
	char addr[300];
	struct contacts_syntax sx;

	(void)state;
	/* 64 + 1 + 189 = 254 octets: the longest mailbox; one more is too long */
	memset(addr, 'a', 64);
	addr[64] = '@';
	for (size_t i = 65; i < 254; i++)
		addr[i] = (i - 65) % 50 == 49 ? '.' : 'b';
	addr[254] = '\0';
	if (contacts_syntax_check(addr, 254, &sx) != 0)
		fail_msg("254 octets: got error at %zu (%s), want valid", sx.pos, sx.what);
	addr[254] = 'c';
	addr[255] = '\0';
	if (contacts_syntax_check(addr, 255, &sx) == 0)
		fail_msg("255 octets: got valid, want an error");
	if (sx.pos != 255 || strstr(sx.what, "254") == NULL)
		fail_msg("255 octets: got %zu (%s), want 255 and the 254 limit", sx.pos, sx.what);
	assert_int_equal(contacts_syntax_check("joe@example.com", 15, &sx), 0);
	if (sx.at != 3 || sx.utf8 || sx.literal)
		fail_msg("joe@example.com: got at %zu utf8 %d literal %d, want 3 0 0", sx.at,
		         sx.utf8, sx.literal);
}

static void test_local_verdicts(void **state)
{
	static const struct {
		const char *in;
		int decided;
		enum contacts_verdict v;
		const char *key;    /* decided == 0: the DNS key */
		const char *sugg;   /* typo: the suggestion */
		const char *detail; /* part of the detail */
	} cases[] = {
	    {"joe@Example.COM", 0, CONTACTS_OK, "example.com", "", ""},
	    {"joe@example.com.", 0, CONTACTS_OK, "example.com", "", ""},
	    {"joe@b\xc3\xbc"
	     "cher.example",
	     0, CONTACTS_OK, "xn--bcher-kva.example", "", ""},
	    {"Joe@gmial.com", 1, CONTACTS_TYPO, NULL, "Joe@gmail.com", "misspelling of gmail.com"},
	    {"a@hotmial.con", 1, CONTACTS_TYPO, NULL, "a@hotmail.com", "hotmial.con"},
	    {"a@yahoo.co", 1, CONTACTS_TYPO, NULL, "a@yahoo.com", ""},
	    {"a@example.con", 1, CONTACTS_TYPO, NULL, "a@example.com", ""},
	    {"a@gmail", 1, CONTACTS_TYPO, NULL, "a@gmail.com", ""},
	    {"a@gmail.com", 0, CONTACTS_OK, "gmail.com", "", ""},
	    {"a b@gmail.com", 1, CONTACTS_SYNTAX, NULL, "", "position 2: a space"},
	    {"a@[192.0.2.1]", 1, CONTACTS_OK, NULL, "", "address literal"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct contacts_result r;
		char key[256];
		int d = contacts_local_verdict(cases[i].in, &r, key, sizeof(key));

		if (d != cases[i].decided)
			fail_msg("%s: got decided=%d, want %d", cases[i].in, d, cases[i].decided);
		if (d == 0 && strcmp(key, cases[i].key) != 0)
			fail_msg("%s: got key %s, want %s", cases[i].in, key, cases[i].key);
		if (d == 1 && r.v != cases[i].v)
			fail_msg("%s: got %s, want %s", cases[i].in, contacts_verdict_name(r.v),
			         contacts_verdict_name(cases[i].v));
		if (d == 1 && strcmp(r.suggestion, cases[i].sugg) != 0)
			fail_msg("%s: got suggestion \"%s\", want \"%s\"", cases[i].in,
			         r.suggestion, cases[i].sugg);
		if (d == 1 && strstr(r.detail, cases[i].detail) == NULL)
			fail_msg("%s: got detail \"%s\", want \"%s\" in it", cases[i].in, r.detail,
			         cases[i].detail);
	}
}

static void test_idna_invalid(void **state)
{
	struct contacts_result r;
	char key[256];

	(void)state;
	/* U+2603 SNOWMAN is not PVALID under IDNA 2008 (RFC 5892): the name
	 * can never be looked up, so it is a syntax error at the domain */
	assert_int_equal(contacts_local_verdict("a@\xe2\x98\x83.example", &r, key, sizeof(key)), 1);
	if (r.v != CONTACTS_SYNTAX || strstr(r.detail, "position 3:") == NULL)
		fail_msg("snowman domain: got %s \"%s\", want syntax at position 3",
		         contacts_verdict_name(r.v), r.detail);
}

static void test_dns_verdicts(void **state)
{
	static const struct {
		struct deliver_dns_answer a;
		enum contacts_verdict want;
		const char *detail;
	} cases[] = {
	    {{.status = DELIVER_DNS_OK, .n_addr = 1}, CONTACTS_OK, ""},
	    {{.status = DELIVER_DNS_OK, .implicit = true, .n_addr = 1},
	     CONTACTS_OK,
	     "no MX record"},
	    {{.status = DELIVER_DNS_NXDOMAIN}, CONTACTS_NODOMAIN, "does not exist"},
	    {{.status = DELIVER_DNS_NULLMX}, CONTACTS_NOMAIL, "null MX"},
	    {{.status = DELIVER_DNS_NODATA}, CONTACTS_NOMAIL, "no MX and no A/AAAA"},
	    {{.status = DELIVER_DNS_NODATA, .mx_no_addr = true},
	     CONTACTS_NOMAIL,
	     "have no address"},
	    {{.status = DELIVER_DNS_TEMP, .detail = "Timeout"}, CONTACTS_DNSERROR, "(Timeout)"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct contacts_result r;

		contacts_dns_verdict("d.example", &cases[i].a, &r);
		if (r.v != cases[i].want || strstr(r.detail, cases[i].detail) == NULL)
			fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i,
			         contacts_verdict_name(r.v), r.detail,
			         contacts_verdict_name(cases[i].want), cases[i].detail);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_syntax_table),   cmocka_unit_test(test_syntax_limits),
	    cmocka_unit_test(test_local_verdicts), cmocka_unit_test(test_idna_invalid),
	    cmocka_unit_test(test_dns_verdicts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
