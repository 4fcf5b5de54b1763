/*
 * test_deliver_mx.c - the pure parts of routing: MX ordering with equal
 * preferences shuffled (RFC 5321 section 5.1), null MX (RFC 7505), the
 * outcome of failed lookups, transport_map parsing and lookup, EHLO
 * keywords, and the MAIL/RCPT lines built for a peer's extensions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/internal.h"
#include "spool/spool.h"
#include "util/util.h"

static void mx_set(struct deliver_mx *m, const char *host, int pref)
{
	util_strlcpy(m->host, host, sizeof(m->host));
	m->pref = pref;
}

static void test_mx_sort_order_and_shuffle(void **state)
{
	/* 10: a b c (6 orders), 20: d, 30: e f (2 orders) -> 12 combinations */
	static const char *perms[6] = {"abc", "acb", "bac", "bca", "cab", "cba"};
	int seen[6][2];
	struct deliver_mx mx[6];

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (int round = 0; round < 3000; round++) {
		char first3[4], last2[3];
		int p = -1;

		mx_set(&mx[0], "e", 30);
		mx_set(&mx[1], "a", 10);
		mx_set(&mx[2], "d", 20);
		mx_set(&mx[3], "b", 10);
		mx_set(&mx[4], "f", 30);
		mx_set(&mx[5], "c", 10);
		deliver_mx_sort(mx, 6);
		for (int i = 1; i < 6; i++)
			if (mx[i - 1].pref > mx[i].pref)
				fail_msg("round %d: got pref %d before %d, want ascending", round,
					 mx[i - 1].pref, mx[i].pref);
		for (int i = 0; i < 3; i++)
			first3[i] = mx[i].host[0];
		first3[3] = '\0';
		assert_string_equal(mx[3].host, "d");
		last2[0] = mx[4].host[0];
		last2[1] = mx[5].host[0];
		last2[2] = '\0';
		for (int i = 0; i < 6; i++)
			if (strcmp(perms[i], first3) == 0)
				p = i;
		if (p < 0)
			fail_msg("round %d: got \"%s\" for preference 10, want a permutation of abc", round,
				 first3);
		if (strcmp(last2, "ef") != 0 && strcmp(last2, "fe") != 0)
			fail_msg("round %d: got \"%s\" for preference 30, want ef or fe", round, last2);
		seen[p][last2[0] == 'f']++;
	}
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 2; j++)
			if (seen[i][j] == 0)
				fail_msg("order %s + %s never appeared in 3000 rounds", perms[i],
					 j ? "fe" : "ef");
}

struct nullmx_case {
	const char *name;
	const char *hosts[3];
	int prefs[3];
	size_t n;
	bool want;
};

static void test_null_mx_table(void **state)
{
	static const struct nullmx_case cases[] = {
		{"root as empty", {"", NULL, NULL}, {0, 0, 0}, 1, true},
		{"root as dot", {".", NULL, NULL}, {0, 0, 0}, 1, true},
		{"root with other preference", {".", NULL, NULL}, {10, 0, 0}, 1, true},
		{"normal MX", {"mx.example.com", NULL, NULL}, {0, 0, 0}, 1, false},
		{"dot among others is not null MX", {".", "mx.example.com", NULL}, {0, 10, 0}, 2, false},
		{"no records", {NULL, NULL, NULL}, {0, 0, 0}, 0, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct deliver_mx mx[3];
		for (size_t k = 0; k < cases[i].n; k++)
			mx_set(&mx[k], cases[i].hosts[k], cases[i].prefs[k]);
		bool got = deliver_mx_is_null(mx, cases[i].n);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, got, cases[i].want);
	}
}

struct dns_case {
	const char *name;
	enum deliver_dns_status st;
	bool implicit, mx_no_addr, smarthost;
	enum outcome_kind want_kind;
	const char *want_status;
	const char *want_words;
};

static void test_dns_outcome_table(void **state)
{
	static const struct dns_case cases[] = {
		{"nxdomain", DELIVER_DNS_NXDOMAIN, false, false, false, OUTCOME_PERM, "5.1.2",
		 "does not exist"},
		{"null mx", DELIVER_DNS_NULLMX, false, false, false, OUTCOME_PERM, "5.1.10",
		 "does not accept mail (null MX)"},
		{"no mx no address", DELIVER_DNS_NODATA, true, false, false, OUTCOME_PERM, "5.4.4",
		 "no MX and no address"},
		{"mx hosts without address", DELIVER_DNS_NODATA, false, true, false, OUTCOME_TEMP, "4.4.4",
		 "no MX host"},
		{"servfail", DELIVER_DNS_TEMP, false, false, false, OUTCOME_TEMP, "4.4.3", "will retry"},
		{"smarthost nxdomain is temp", DELIVER_DNS_NXDOMAIN, false, false, true, OUTCOME_TEMP,
		 "4.4.4", "relay host"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dns_case *c = &cases[i];
		struct deliver_resolved res;
		struct outcome o;

		memset(&res, 0, sizeof(res));
		res.status = c->st;
		res.implicit = c->implicit;
		res.mx_no_addr = c->mx_no_addr;
		util_strlcpy(res.detail, "Server failure", sizeof(res.detail));
		deliver_dns_outcome(&o, &res, "example.test", c->smarthost);
		if (o.kind != c->want_kind || strcmp(o.status, c->want_status) != 0 ||
		    strstr(o.text, c->want_words) == NULL)
			fail_msg("%s: got %d %s \"%s\", want %d %s \"...%s...\"", c->name, o.kind, o.status,
				 o.text, c->want_kind, c->want_status, c->want_words);
	}
}

struct tp_case {
	const char *name;
	const char *spec;
	int want_rc;
	const char *want_err; /* substring */
	const char *lookup;   /* domain to look up */
	const char *want_host;
	unsigned want_port;
	bool want_no_mx, want_literal;
};

static void test_transport_table(void **state)
{
	static const struct tp_case cases[] = {
		{"literal with port", "example.test=[127.0.0.1]:2526", 0, NULL, "example.test", "127.0.0.1",
		 2526, true, true},
		{"bracketed name no MX", "example.test=[relay.test]", 0, NULL, "EXAMPLE.test", "relay.test",
		 25, true, false},
		{"plain name means MX", "example.test=relay.test:587", 0, NULL, "example.test", "relay.test",
		 587, false, false},
		{"ipv6 literal", "v6.test=[IPv6:::1]:2525", 0, NULL, "v6.test", "::1", 2525, true, true},
		{"ipv6 short form", "v6.test=[::1]", 0, NULL, "v6.test", "::1", 25, true, true},
		{"two entries", "a.test=[127.0.0.1]:1, b.test = [127.0.0.2]:2", 0, NULL, "b.test",
		 "127.0.0.2", 2, true, true},
		{"subdomain entry", ".example.test=[127.0.0.1]:9", 0, NULL, "mx.example.test", "127.0.0.1",
		 9, true, true},
		{"subdomain entry does not match parent", ".example.test=[127.0.0.1]:9", 0, NULL,
		 "example.test", NULL, 0, false, false},
		{"star is a smarthost", "*=[127.0.0.1]:10, x.test=[127.0.0.2]:11", 0, NULL, "other.test",
		 "127.0.0.1", 10, true, true},
		{"exact beats star", "*=[127.0.0.1]:10, x.test=[127.0.0.2]:11", 0, NULL, "x.test",
		 "127.0.0.2", 11, true, true},
		{"no match", "a.test=[127.0.0.1]", 0, NULL, "b.test", NULL, 0, false, false},
		{"empty spec", "", 0, NULL, "a.test", NULL, 0, false, false},
		{"missing equals", "a.test", -1, "entry \"a.test\": expected domain=host", NULL, NULL, 0,
		 false, false},
		{"bad port", "a.test=[127.0.0.1]:99999", -1, "bad port", NULL, NULL, 0, false, false},
		{"port zero", "a.test=host:0", -1, "bad port", NULL, NULL, 0, false, false},
		{"port junk", "a.test=host:25x", -1, "bad port", NULL, NULL, 0, false, false},
		{"missing bracket", "a.test=[127.0.0.1:25", -1, "missing ']'", NULL, NULL, 0, false, false},
		{"empty host", "a.test=", -1, "empty host", NULL, NULL, 0, false, false},
		{"bad host chars", "a.test=ho/st", -1, "bad host name", NULL, NULL, 0, false, false},
		{"unbracketed ipv6", "a.test=::1:25", -1, "must be in [ ]", NULL, NULL, 0, false, false},
		{"bad domain", "a b=[127.0.0.1]", -1, "bad domain", NULL, NULL, 0, false, false},
		{"duplicate", "a.test=h1, A.test=h2", -1, "duplicate", NULL, NULL, 0, false, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tp_case *c = &cases[i];
		struct deliver_transport t;
		char err[256] = "";
		int rc = deliver_transport_parse(c->spec, 25, &t, err, sizeof(err));

		if (rc != c->want_rc)
			fail_msg("%s: got rc %d (%s), want %d", c->name, rc, err, c->want_rc);
		if (rc < 0) {
			if (strstr(err, c->want_err) == NULL || strstr(err, "transport_map") == NULL)
				fail_msg("%s: got error \"%s\", want it to name transport_map and contain \"%s\"",
					 c->name, err, c->want_err);
			assert_int_equal(t.n, 0);
			continue;
		}
		const struct deliver_route *r = deliver_transport_find(&t, c->lookup);
		if (c->want_host == NULL) {
			if (r != NULL)
				fail_msg("%s: got route to %s, want none", c->name, r->host);
		} else if (r == NULL || strcmp(r->host, c->want_host) != 0 || r->port != c->want_port ||
			   r->no_mx != c->want_no_mx || r->literal != c->want_literal) {
			fail_msg("%s: got %s:%u no_mx=%d literal=%d, want %s:%u %d %d", c->name,
				 r ? r->host : "(none)", r ? r->port : 0, r ? r->no_mx : 0,
				 r ? r->literal : 0, c->want_host, c->want_port, c->want_no_mx,
				 c->want_literal);
		}
		deliver_transport_clear(&t);
	}
}

static void test_parse_ip(void **state)
{
	struct sockaddr_storage sa;
	socklen_t len;

	(void)state;
	assert_int_equal(deliver_parse_ip("[192.0.2.1]", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(deliver_parse_ip("[IPv6:2001:db8::1]", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(deliver_parse_ip("example.com", &sa, &len), -1);
	assert_int_equal(deliver_parse_ip("[300.1.1.1]", &sa, &len), -1);
	assert_int_equal(deliver_parse_ip("[]", &sa, &len), -1);
}

static void test_ehlo_caps(void **state)
{
	static const char *lines[] = {"PIPELINING", "SIZE 10240000", "8BITMIME", "dsn",
				      "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS", "PIPELININGX"};
	struct deliver_caps c;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		deliver_ehlo_line(&c, lines[i], strlen(lines[i]));
	assert_true(c.pipelining && c.size && c.eightbit && c.dsn && c.smtputf8 && c.enhanced);
	assert_int_equal(c.size_max, 10240000);

	memset(&c, 0, sizeof(c));
	deliver_ehlo_line(&c, "SIZE", 4);
	deliver_ehlo_line(&c, "PIPELININGX", 11);
	assert_true(c.size);
	assert_int_equal(c.size_max, 0);
	assert_false(c.pipelining);
}

static void test_mail_rcpt_lines(void **state)
{
	struct deliver_rcpt r1 = {"a@example.test", "rfc822;a@example.test", DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE};
	struct deliver_rcpt r2 = {"b@example.test", "", DSN_NOTIFY_NEVER};
	struct deliver_request req;
	struct deliver_caps all, none;
	struct buf b;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.sender = "s@example.org";
	req.envid = "ID+2B1";
	req.ret = DSN_RET_HDRS;
	req.eightbit = true;
	req.smtputf8 = true;
	req.body_len = 1234;
	memset(&all, 0, sizeof(all));
	all.size = all.eightbit = all.smtputf8 = all.dsn = true;
	memset(&none, 0, sizeof(none));

	buf_init(&b);
	deliver_mail_cmd(&b, &req, &all);
	assert_string_equal(b.data,
			    "MAIL FROM:<s@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=ID+2B1\r\n");
	buf_reset(&b);
	deliver_mail_cmd(&b, &req, &none);
	assert_string_equal(b.data, "MAIL FROM:<s@example.org>\r\n");
	buf_reset(&b);
	req.sender = "";
	deliver_mail_cmd(&b, &req, &none);
	assert_string_equal(b.data, "MAIL FROM:<>\r\n");
	buf_reset(&b);
	deliver_rcpt_cmd(&b, &r1, &all);
	assert_string_equal(b.data, "RCPT TO:<a@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@example.test\r\n");
	buf_reset(&b);
	deliver_rcpt_cmd(&b, &r2, &all);
	assert_string_equal(b.data, "RCPT TO:<b@example.test> NOTIFY=NEVER\r\n");
	buf_reset(&b);
	deliver_rcpt_cmd(&b, &r1, &none);
	assert_string_equal(b.data, "RCPT TO:<a@example.test>\r\n");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_sort_order_and_shuffle),
		cmocka_unit_test(test_null_mx_table),
		cmocka_unit_test(test_dns_outcome_table),
		cmocka_unit_test(test_transport_table),
		cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_ehlo_caps),
		cmocka_unit_test(test_mail_rcpt_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
