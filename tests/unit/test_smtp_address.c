/*
 * test_smtp_address.c - table tests for RFC 5321 paths (quoted local parts,
 * address literals, source routes, length limits, UTF-8, the null path and
 * postmaster), xtext (RFC 3461 section 4), domain syntax, and the relay
 * decision (percent hack, bang paths, quoted '@', trailing dots, literals,
 * CIDR matching).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static int failures;

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			print_error(__VA_ARGS__);                                          \
			failures++;                                                        \
		}                                                                          \
	} while (0)

struct path_case {
	const char *name;
	const char *in;
	bool allow_null; /* MAIL (true) or RCPT (false) */
	int want_rc;
	const char *want_status; /* on error */
	const char *want_addr;
	const char *want_local;
	const char *want_domain;
	bool want_utf8;
	bool want_null;
};

static void test_paths(void **state)
{
	static const struct path_case cases[] = {
		{"simple", "<a@example.com>", false, 0, NULL, "a@example.com", "a", "example.com"},
		{"dot-atom", "<first.last+tag@sub.example.com>", false, 0, NULL,
		 "first.last+tag@sub.example.com", "first.last+tag", "sub.example.com"},
		{"all atext", "<!#$%&'*+-/=?^_`{|}~@example.com>", false, 0, NULL,
		 "!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~", "example.com"},
		{"quoted local", "<\"john doe\"@example.com>", false, 0, NULL, "\"john doe\"@example.com",
		 "\"john doe\"", "example.com"},
		{"quoted with quoted pair", "<\"a\\\"b\"@example.com>", false, 0, NULL,
		 "\"a\\\"b\"@example.com", "\"a\\\"b\"", "example.com"},
		{"quoted at sign", "<\"a@b\"@example.com>", false, 0, NULL, "\"a@b\"@example.com",
		 "\"a@b\"", "example.com"},
		{"ipv4 literal", "<a@[192.0.2.1]>", false, 0, NULL, "a@[192.0.2.1]", "a", "[192.0.2.1]"},
		{"ipv6 literal", "<a@[IPv6:2001:db8::1]>", false, 0, NULL, "a@[IPv6:2001:db8::1]", "a",
		 "[IPv6:2001:db8::1]"},
		{"general literal", "<a@[x-tag:abc]>", false, 0, NULL, "a@[x-tag:abc]", "a", "[x-tag:abc]"},
		{"source route dropped", "<@a.example,@b.example:user@c.example>", false, 0, NULL,
		 "user@c.example", "user", "c.example"},
		{"one-hop source route", "<@relay.example:u@dest.example>", true, 0, NULL,
		 "u@dest.example", "u", "dest.example"},
		{"trailing dot stripped", "<a@example.com.>", false, 0, NULL, "a@example.com", "a",
		 "example.com"},
		{"null path for MAIL", "<>", true, 0, NULL, "", "", "", false, true},
		{"postmaster for RCPT", "<postmaster>", false, 0, NULL, "postmaster", "postmaster", ""},
		{"postmaster any case", "<PostMaster>", false, 0, NULL, "PostMaster", "PostMaster", ""},
		{"utf8 local", "<j\xc3\xb6rg@example.com>", false, 0, NULL, "j\xc3\xb6rg@example.com",
		 "j\xc3\xb6rg", "example.com", true},
		{"utf8 domain", "<a@b\xc3\xbc\x63her.example>", false, 0, NULL,
		 "a@b\xc3\xbc\x63her.example", "a", "b\xc3\xbc\x63her.example", true},
		{"percent hack kept", "<u%foreign.example@local.example>", false, 0, NULL,
		 "u%foreign.example@local.example", "u%foreign.example", "local.example"},
		{"bang path kept", "<foreign.example!u@local.example>", false, 0, NULL,
		 "foreign.example!u@local.example", "foreign.example!u", "local.example"},

		{"null path for RCPT", "<>", false, -1, "5.1.3"},
		{"postmaster for MAIL", "<postmaster>", true, -1, "5.1.7"},
		{"no brackets", "a@example.com", false, -1, "5.1.3"},
		{"no closing bracket", "<a@example.com", false, -1, "5.1.3"},
		{"no domain", "<a@>", false, -1, "5.1.3"},
		{"no at", "<user>", true, -1, "5.1.7"},
		{"two at", "<a@b@example.com>", false, -1, "5.1.3"},
		{"empty local", "<@example.com>", false, -1, "5.1.3"},
		{"leading dot", "<.a@example.com>", false, -1, "5.1.3"},
		{"double dot", "<a..b@example.com>", false, -1, "5.1.3"},
		{"trailing dot local", "<a.@example.com>", false, -1, "5.1.3"},
		{"space in local", "<a b@example.com>", false, -1, "5.1.3"},
		{"unterminated quote", "<\"ab@example.com>", false, -1, "5.1.3"},
		{"control char in quote", "<\"a\x01\"@example.com>", false, -1, "5.1.3"},
		{"bad domain label", "<a@-example.com>", false, -1, "5.1.3"},
		{"label ends in dash", "<a@example-.com>", false, -1, "5.1.3"},
		{"empty label", "<a@example..com>", false, -1, "5.1.3"},
		{"underscore in domain", "<a@ex_ample.com>", false, -1, "5.1.3"},
		{"bad ipv4 literal", "<a@[256.0.0.1]>", false, -1, "5.1.3"},
		{"bad ipv6 literal", "<a@[IPv6:zz::1]>", false, -1, "5.1.3"},
		{"unclosed literal", "<a@[1.2.3.4>", false, -1, "5.1.3"},
		{"bad source route", "<@:u@example.com>", false, -1, "5.1.3"},
		{"route without colon", "<@a.example,u@example.com>", false, -1, "5.1.3"},
		{"invalid utf8", "<j\xc3(rg@example.com>", false, -1, "5.1.3"},
		{"overlong utf8", "<\xc0\xafx@example.com>", false, -1, "5.1.3"},
		{"nul byte", "<a\0b@example.com>", false, -1, "5.1.3"},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct path_case *c = &cases[i];
		struct smtp_path p;
		struct smtp_error err = {0};
		const char *end = NULL;
		/* the nul-byte case is 17 bytes; everything else is a C string */
		size_t len = strcmp(c->name, "nul byte") == 0 ? 17 : strlen(c->in);
		int rc = smtp_parse_path(c->in, len, c->allow_null, &p, &end, &err);

		CHECK(rc == c->want_rc, "%s: rc got %d (%d %s %s), want %d\n", c->name, rc, err.code,
		      err.status, err.text, c->want_rc);
		if (rc != c->want_rc)
			continue;
		if (rc < 0) {
			CHECK(err.code == 501 && strcmp(err.status, c->want_status) == 0,
			      "%s: got %d %s, want 501 %s\n", c->name, err.code, err.status,
			      c->want_status);
			continue;
		}
		CHECK(end == c->in + len, "%s: end got +%td, want +%zu\n", c->name, end - c->in, len);
		CHECK(strcmp(p.addr, c->want_addr) == 0, "%s: addr got '%s', want '%s'\n", c->name,
		      p.addr, c->want_addr);
		CHECK(strcmp(p.local, c->want_local) == 0, "%s: local got '%s', want '%s'\n", c->name,
		      p.local, c->want_local);
		CHECK(strcmp(p.domain, c->want_domain) == 0, "%s: domain got '%s', want '%s'\n",
		      c->name, p.domain, c->want_domain);
		CHECK(p.utf8 == c->want_utf8, "%s: utf8 got %d, want %d\n", c->name, p.utf8,
		      c->want_utf8);
		CHECK(p.is_null == c->want_null, "%s: is_null got %d, want %d\n", c->name, p.is_null,
		      c->want_null);
	}
	assert_int_equal(failures, 0);
}

/* RFC 5321 section 4.5.3.1: local part 64, domain 255, path 256 octets */
static void test_path_limits(void **state)
{
	char local[100], dom[300], in[700];
	struct smtp_path p;
	struct smtp_error err;

	(void)state;
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@example.com>", local);
	assert_int_equal(smtp_parse_path(in, strlen(in), false, &p, NULL, &err), 0);
	assert_int_equal(strlen(p.local), 64);

	memset(local, 'l', 65);
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@example.com>", local);
	assert_int_equal(smtp_parse_path(in, strlen(in), false, &p, NULL, &err), -1);
	assert_string_equal(err.status, "5.1.3");
	assert_non_null(strstr(err.text, "64"));

	/* a 252-octet domain (labels of 63) fills the path exactly: 1+1+1+252+1 */
	memset(dom, 'd', 252);
	dom[252] = '\0';
	for (size_t i = 63; i < 252; i += 64)
		dom[i] = '.';
	snprintf(in, sizeof(in), "<a@%s>", dom);
	assert_int_equal(strlen(in), 256);
	assert_int_equal(smtp_parse_path(in, strlen(in), false, &p, NULL, &err), 0);
	assert_int_equal(strlen(p.addr), 254);

	/* the same domain with a 2-octet local part makes a 257-octet path */
	snprintf(in, sizeof(in), "<ab@%s>", dom);
	assert_int_equal(smtp_parse_path(in, strlen(in), false, &p, NULL, &err), -1);
	assert_non_null(strstr(err.text, "256"));

	/* a label of 64 octets */
	memset(dom, 'd', 64);
	strcpy(dom + 64, ".example");
	snprintf(in, sizeof(in), "<a@%s>", dom);
	assert_int_equal(smtp_parse_path(in, strlen(in), false, &p, NULL, &err), -1);
}

static void test_domains(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} cases[] = {
		{"example.com", true},
		{"a", true},
		{"xn--bcher-kva.example", true},
		{"1.2.3.4", true}, /* a domain of digit labels is syntactically fine */
		{"a-b.c", true},
		{"b\xc3\xbc\x63her.example", true},
		{"[127.0.0.1]", true},
		{"[IPv6:::1]", true},
		{"[ipv6:2001:db8::1]", true},
		{"[tag:value]", true},
		{"", false},
		{".", false},
		{"example.com.", false},
		{".example.com", false},
		{"-a.example", false},
		{"a-.example", false},
		{"a..b", false},
		{"a_b.example", false},
		{"a b.example", false},
		{"[1.2.3]", false},
		{"[1.2.3.4.5]", false},
		{"[01234.1.1.1]", false},
		{"[IPv6:1.2.3.4]", false},
		{"[]", false},
		{"[IPv6:::1 ]", false},
		{"[1.2.3.4", false},
		{"[tag:]", false},
		{"[-tag:x]", false},
		{"\xff.example", false},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = smtp_domain_valid(cases[i].in, strlen(cases[i].in));
		CHECK(got == cases[i].want, "domain '%s': got %d, want %d\n", cases[i].in, got,
		      cases[i].want);
	}
	assert_int_equal(failures, 0);
}

static void test_xtext(void **state)
{
	static const struct {
		const char *enc;
		const char *dec; /* NULL = invalid */
	} cases[] = {
		{"abc", "abc"},
		{"a+2Bb", "a+b"},
		{"a+3Db", "a=b"},
		{"+20", " "},
		{"x+0D+0Ay", "x\r\ny"},
		{"", ""},
		{"+C3+A9", "\xc3\xa9"},
		{"a+2b", NULL},   /* lower-case hex is not xtext */
		{"a+2", NULL},    /* truncated */
		{"a+", NULL},
		{"a=b", NULL},    /* '=' must be encoded */
		{"a b", NULL},    /* space must be encoded */
		{"a+00b", NULL},  /* an encoded NUL is refused */
		{"a+GGb", NULL},
		{"\xc3\xa9", NULL},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64], back[200];
		int n = smtp_xtext_decode(cases[i].enc, strlen(cases[i].enc), out, sizeof(out));

		if (cases[i].dec == NULL) {
			CHECK(n == -1, "decode '%s': got %d, want -1\n", cases[i].enc, n);
			continue;
		}
		CHECK(n >= 0 && strcmp(out, cases[i].dec) == 0, "decode '%s': got %d '%s', want '%s'\n",
		      cases[i].enc, n, n >= 0 ? out : "", cases[i].dec);
		if (n < 0)
			continue;
		/* round trip: encoding the decoded text gives the canonical form */
		CHECK(smtp_xtext_encode(out, back, sizeof(back)) >= 0 && strcmp(back, cases[i].enc) == 0,
		      "round trip '%s': got '%s'\n", cases[i].enc, back);
	}
	assert_int_equal(failures, 0);
}

static void test_xtext_sizes(void **state)
{
	char out[4];
	char all[256], enc[800], dec[256];

	(void)state;
	/* the output buffer must hold the text and the NUL */
	assert_int_equal(smtp_xtext_decode("abc", 3, out, sizeof(out)), 3);
	assert_int_equal(smtp_xtext_decode("abcd", 4, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_encode("abc", out, sizeof(out)), 3);
	assert_int_equal(smtp_xtext_encode("a b", out, sizeof(out)), -1);
	/* every byte 1..255 survives encode + decode */
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	assert_true(smtp_xtext_encode(all, enc, sizeof(enc)) > 0);
	assert_int_equal(smtp_xtext_decode(enc, strlen(enc), dec, sizeof(dec)), 255);
	assert_memory_equal(dec, all, 256);
}

static void test_addr_domain(void **state)
{
	static const struct {
		const char *addr;
		const char *want; /* NULL = none */
	} cases[] = {
		{"a@example.com", "example.com"},
		{"\"a@foreign.example\"@local.example", "local.example"},
		{"\"a\\\"@foreign.example\"@local.example", "local.example"},
		{"u%foreign.example@local.example", "local.example"},
		{"postmaster", NULL},
		{"\"quoted@only\"", NULL},
		{"a@b@c", "c"},
		{"a@[tag:x@local.example]", "[tag:x@local.example]"},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = smtp_addr_domain(cases[i].addr);
		bool ok = (got == NULL && cases[i].want == NULL) ||
			  (got != NULL && cases[i].want != NULL && strcmp(got, cases[i].want) == 0);
		CHECK(ok, "domain of '%s': got '%s', want '%s'\n", cases[i].addr,
		      got ? got : "(none)", cases[i].want ? cases[i].want : "(none)");
	}
	assert_int_equal(failures, 0);
}

static void test_relay(void **state)
{
	static const struct {
		const char *name;
		const char *ip;
		const char *rcpt;
		bool want;
	} cases[] = {
		{"trusted v4 to anywhere", "127.0.0.1", "x@foreign.example", true},
		{"trusted v4 net", "10.1.255.7", "x@foreign.example", true},
		{"just outside v4 net", "10.2.0.1", "x@foreign.example", false},
		{"trusted /32 host", "192.0.2.77", "x@foreign.example", true},
		{"neighbour of /32 host", "192.0.2.78", "x@foreign.example", false},
		{"trusted v6", "::1", "x@foreign.example", true},
		{"trusted v6 net", "2001:db8:0:ffff::9", "x@foreign.example", true},
		{"outside v6 net", "2001:db8:1::9", "x@foreign.example", false},
		{"mapped v4 client", "::ffff:127.0.0.2", "x@foreign.example", true},
		{"stranger to local", "198.51.100.1", "x@local.example", true},
		{"stranger to local, upper case", "198.51.100.1", "x@LOCAL.Example", true},
		{"stranger to local, trailing dot", "198.51.100.1", "x@local.example.", true},
		{"stranger to dotted-config domain", "198.51.100.1", "x@second.example", true},
		{"stranger to foreign", "198.51.100.1", "x@foreign.example", false},
		{"stranger to subdomain of local", "198.51.100.1", "x@sub.local.example", false},
		{"stranger to parent of local", "198.51.100.1", "x@example", false},
		{"percent hack", "198.51.100.1", "x%local.example@foreign.example", false},
		{"bang path", "198.51.100.1", "local.example!x@foreign.example", false},
		{"quoted at", "198.51.100.1", "\"x@local.example\"@foreign.example", false},
		{"quoted at, local real domain", "198.51.100.1", "\"x@foreign.example\"@local.example",
		 true},
		{"ip literal", "198.51.100.1", "x@[192.0.2.1]", false},
		{"at inside general literal", "198.51.100.1", "x@[tag:y@local.example]", false},
		{"postmaster", "198.51.100.1", "postmaster", true},
		{"postmaster upper", "198.51.100.1", "POSTMASTER", true},
		{"bare local part", "198.51.100.1", "root", false},
		{"empty domain", "198.51.100.1", "x@", false},
		{"unparseable client", "not-an-ip", "x@foreign.example", false},
	};
	char err[200] = "";
	struct smtp_relay *r = smtp_relay_new(
		"127.0.0.0/8, 10.1.0.0/16 192.0.2.77 ::1/128,2001:db8::/48",
		"local.example, Second.Example.", err, sizeof(err));

	(void)state;
	assert_non_null(r);
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = smtp_relay_allowed(r, cases[i].ip, cases[i].rcpt);
		CHECK(got == cases[i].want, "%s: %s -> <%s> got %d, want %d\n", cases[i].name,
		      cases[i].ip, cases[i].rcpt, got, cases[i].want);
	}
	smtp_relay_free(r);
	assert_int_equal(failures, 0);
}

/* The RCPT verdict: relay decision plus no backscatter (issue 3). */
static void test_relay_check(void **state)
{
	static const struct {
		const char *name;
		const char *ip;
		const char *rcpt;
		enum smtp_rcpt_verdict want;
	} cases[] = {
		{"trusted to anywhere", "127.0.0.1", "x@foreign.example", SMTP_RCPT_ACCEPT},
		{"trusted to a local user", "127.0.0.1", "x@local.example", SMTP_RCPT_ACCEPT},
		{"stranger to a local user", "198.51.100.1", "x@local.example",
		 SMTP_RCPT_NO_SUCH_USER},
		{"stranger to a local user, upper case domain", "198.51.100.1", "x@LOCAL.example",
		 SMTP_RCPT_NO_SUCH_USER},
		{"stranger to local postmaster", "198.51.100.1", "postmaster@local.example",
		 SMTP_RCPT_ACCEPT},
		{"stranger to local POSTMASTER", "198.51.100.1", "PostMaster@Second.Example.",
		 SMTP_RCPT_ACCEPT},
		{"postmaster look-alike", "198.51.100.1", "postmasters@local.example",
		 SMTP_RCPT_NO_SUCH_USER},
		{"quoted postmaster is not it", "198.51.100.1", "\"postmaster\"@local.example",
		 SMTP_RCPT_NO_SUCH_USER},
		{"bare postmaster", "198.51.100.1", "postmaster", SMTP_RCPT_ACCEPT},
		{"bare other", "198.51.100.1", "root", SMTP_RCPT_RELAY_DENIED},
		{"stranger to foreign", "198.51.100.1", "x@foreign.example", SMTP_RCPT_RELAY_DENIED},
		{"stranger to foreign postmaster", "198.51.100.1", "postmaster@foreign.example",
		 SMTP_RCPT_RELAY_DENIED},
		{"percent hack to local", "198.51.100.1", "x%foreign.example@local.example",
		 SMTP_RCPT_NO_SUCH_USER},
		{"empty domain", "198.51.100.1", "postmaster@", SMTP_RCPT_RELAY_DENIED},
	};
	char err[200] = "";
	struct smtp_relay *r =
	    smtp_relay_new("127.0.0.0/8", "local.example, Second.Example.", err, sizeof(err));

	(void)state;
	assert_non_null(r);
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum smtp_rcpt_verdict got = smtp_relay_check(r, cases[i].ip, cases[i].rcpt);
		CHECK(got == cases[i].want, "%s: %s -> <%s> got %d, want %d\n", cases[i].name,
		      cases[i].ip, cases[i].rcpt, (int)got, (int)cases[i].want);
	}
	smtp_relay_free(r);
	assert_int_equal(failures, 0);
}

static void test_relay_bad_lists(void **state)
{
	static const char *bad_nets[] = {
		"10.0.0.0/33", "10.0.0/8", "::1/129", "example.com", "10.0.0.0/", "10.0.0.0/8x",
		"1.2.3.4/-1", "127.0.0.1, nonsense",
	};
	char err[200];

	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(bad_nets) / sizeof(bad_nets[0]); i++) {
		struct smtp_relay *r;

		err[0] = '\0';
		r = smtp_relay_new(bad_nets[i], "", err, sizeof(err));
		CHECK(r == NULL && strstr(err, "relay_networks") != NULL,
		      "'%s': got %p '%s', want NULL with a relay_networks error\n", bad_nets[i],
		      (void *)r, err);
		smtp_relay_free(r);
	}
	err[0] = '\0';
	assert_null(smtp_relay_new("", "bad domain!", err, sizeof(err)));
	assert_non_null(strstr(err, "local_domains"));
	/* empty lists are valid and trust nobody */
	{
		struct smtp_relay *r = smtp_relay_new("", "", err, sizeof(err));
		assert_non_null(r);
		assert_false(smtp_relay_allowed(r, "127.0.0.1", "x@example.com"));
		smtp_relay_free(r);
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_path_limits),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_xtext_sizes),
		cmocka_unit_test(test_addr_domain),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_relay_check),
		cmocka_unit_test(test_relay_bad_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
