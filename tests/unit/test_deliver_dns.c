/*
 * test_deliver_dns.c - routing through real c-ares lookups against an
 * in-process DNS server on 127.0.0.1 (dns_servers points at it; nothing
 * else is ever asked): MX order and the next MX after a 421 greeting,
 * implicit MX, null MX, NXDOMAIN, SERVFAIL, timeouts, MX hosts without
 * addresses, a domain without MX or address, and transport_map [host].
 * The SMTP peers listen on 127.0.0.1 and 127.0.0.2 at one port, which is
 * smtp_port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "test_deliver_server.h"

static const struct tdns_rr RRS[] = {
	{"two.test", TDNS_MX, "mx1.test", 10},
	{"two.test", TDNS_MX, "mx2.test", 20},
	{"mx1.test", TDNS_A, "127.0.0.1", 0},
	{"mx2.test", TDNS_A, "127.0.0.2", 0},
	{"nomx.test", TDNS_A, "127.0.0.2", 0},
	{"nullmx.test", TDNS_MX, ".", 0},
	{"noaddr.test", TDNS_MX, "ghost.test", 10},
	{"empty.test", TDNS_TXT, "v=spf1 -all", 0},
	{"dead.test", TDNS_MX, "mx3.test", 10},
	{"mx3.test", TDNS_A, "127.0.0.3", 0},
	{"relayhost.test", TDNS_A, "127.0.0.2", 0},
	{NULL, 0, NULL, 0},
};
static const char *const SERVFAIL[] = {"fail.test", NULL};
static const char *const SILENT[] = {"slow.test", NULL};

struct run {
	int calls;
	struct deliver_result res;
	struct outcome out;
};

static void on_done(const struct deliver_result *r, void *arg)
{
	struct run *run = arg;

	run->calls++;
	run->res = *r;
	run->out = r->rcpt[0];
	run->res.rcpt = &run->out;
}

struct env {
	struct event_base *base;
	struct config *cfg;
	struct tdns dns;
	struct tsrv one, two; /* 127.0.0.1:P and 127.0.0.2:P */
	struct deliver *d;
	bool have_two;
};

static int env_setup(void **state)
{
	struct env *e = xcalloc(1, sizeof(*e));
	char err[256], v[64];

	e->base = event_base_new();
	e->cfg = config_new();
	tdns_start(&e->dns, e->base, RRS);
	e->dns.servfail = SERVFAIL;
	e->dns.silent = SILENT;
	assert_int_equal(tsrv_start(&e->one, e->base, "127.0.0.1", 0), 0);
	e->have_two = tsrv_start(&e->two, e->base, "127.0.0.2", e->one.port) == 0;
	e->one.greeting = "421 4.3.2 mx1 is too busy\r\n";
	snprintf(v, sizeof(v), "127.0.0.1:%u", e->dns.port);
	assert_int_equal(config_set(e->cfg, "dns_servers", v, err, sizeof(err)), 0);
	snprintf(v, sizeof(v), "%u", e->one.port);
	assert_int_equal(config_set(e->cfg, "smtp_port", v, err, sizeof(err)), 0);
	assert_int_equal(config_set(e->cfg, "dns_timeout", "200ms", err, sizeof(err)), 0);
	assert_int_equal(config_set(e->cfg, "myhostname", "client.test", err, sizeof(err)), 0);
	assert_int_equal(config_set(e->cfg, "connection_cache_time", "0", err, sizeof(err)), 0);
	assert_int_equal(config_set(e->cfg, "transport_map", "viarelay.test=[relayhost.test]", err,
				    sizeof(err)), 0);
	e->d = deliver_new(e->base, e->cfg, err, sizeof(err));
	if (e->d == NULL)
		fail_msg("deliver_new: %s", err);
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;

	deliver_free(e->d);
	tsrv_stop(&e->one);
	if (e->have_two)
		tsrv_stop(&e->two);
	tdns_stop(&e->dns);
	config_free(e->cfg);
	event_base_free(e->base);
	free(e);
	return 0;
}

static void deliver_to(struct env *e, const char *domain, struct run *run)
{
	static const struct deliver_rcpt rcpt = {"user@dest.test", "", 0};
	static const char body[] = "Subject: x\r\n\r\nbody\r\n";
	struct deliver_request req;
	int64_t end = util_now_ms() + 5000;
	int fd = tsrv_body_fd(body, sizeof(body) - 1);

	memset(&req, 0, sizeof(req));
	req.qid = "0123456789ABCDEF0";
	req.domain = domain;
	req.sender = "s@y.test";
	req.envid = "";
	req.rcpt = &rcpt;
	req.n_rcpt = 1;
	req.body_fd = fd;
	req.body_len = sizeof(body) - 1;
	memset(run, 0, sizeof(*run));
	assert_int_equal(deliver_start(e->d, &req, on_done, run), 0);
	while (run->calls == 0 && util_now_ms() < end) {
		struct timeval tv = {0, 20000};
		event_base_loopexit(e->base, &tv);
		event_base_dispatch(e->base);
	}
	assert_int_equal(run->calls, 1);
}

static void expect(const struct run *run, enum outcome_kind kind, const char *status, const char *words,
		   enum deliver_site site)
{
	const struct outcome *o = &run->out;

	if (o->kind != kind || strcmp(o->status, status) != 0 || strstr(o->text, words) == NULL ||
	    run->res.site != site)
		fail_msg("got %s %s \"%s\" site=%d, want %s %s \"...%s...\" site=%d",
			 outcome_kind_name(o->kind), o->status, o->text, run->res.site,
			 outcome_kind_name(kind), status, words, site);
}

static void test_next_mx_after_421_greeting(void **state)
{
	struct env *e = *state;
	struct run run;
	char relay[64];

	if (!e->have_two)
		skip();
	deliver_to(e, "two.test", &run);
	expect(&run, OUTCOME_OK, "2.0.0", "250", DELIVER_SITE_OK);
	snprintf(relay, sizeof(relay), "mx2.test[127.0.0.2]:%u", e->one.port);
	assert_string_equal(run.res.relay, relay);
	/* preference order: mx1 (10) was asked first and refused */
	assert_int_equal(e->one.connections, 1);
	assert_int_equal(e->two.connections, 1);
	assert_int_equal(e->two.messages, 1);
}

static void test_implicit_mx(void **state)
{
	struct env *e = *state;
	struct run run;
	char relay[64];

	if (!e->have_two)
		skip();
	deliver_to(e, "nomx.test", &run);
	expect(&run, OUTCOME_OK, "2.0.0", "250", DELIVER_SITE_OK);
	snprintf(relay, sizeof(relay), "nomx.test[127.0.0.2]:%u", e->one.port);
	assert_string_equal(run.res.relay, relay);
}

static void test_transport_bracket_host(void **state)
{
	struct env *e = *state;
	struct run run;
	char relay[64];

	if (!e->have_two)
		skip();
	deliver_to(e, "viarelay.test", &run);
	expect(&run, OUTCOME_OK, "2.0.0", "250", DELIVER_SITE_OK);
	snprintf(relay, sizeof(relay), "relayhost.test[127.0.0.2]:%u", e->one.port);
	assert_string_equal(run.res.relay, relay);
}

static void test_dns_failures(void **state)
{
	struct env *e = *state;
	struct run run;

	deliver_to(e, "nullmx.test", &run);
	expect(&run, OUTCOME_PERM, "5.1.10", "does not accept mail (null MX)", DELIVER_SITE_OK);
	assert_string_equal(run.res.relay, "none");

	deliver_to(e, "nx.test", &run);
	expect(&run, OUTCOME_PERM, "5.1.2", "does not exist", DELIVER_SITE_OK);

	deliver_to(e, "fail.test", &run);
	expect(&run, OUTCOME_TEMP, "4.4.3", "DNS lookup failed for fail.test", DELIVER_SITE_DOWN);

	deliver_to(e, "noaddr.test", &run);
	expect(&run, OUTCOME_TEMP, "4.4.4", "no MX host of noaddr.test has an address", DELIVER_SITE_DOWN);

	deliver_to(e, "empty.test", &run);
	expect(&run, OUTCOME_PERM, "5.4.4", "no MX and no address", DELIVER_SITE_OK);

	int64_t t0 = util_now_ms();
	deliver_to(e, "slow.test", &run);
	expect(&run, OUTCOME_TEMP, "4.4.3", "will retry", DELIVER_SITE_DOWN);
	assert_true(util_now_ms() - t0 >= 300); /* two tries of 200ms */
}

static void test_all_mx_unreachable(void **state)
{
	struct env *e = *state;
	struct run run;

	deliver_to(e, "dead.test", &run);
	expect(&run, OUTCOME_TEMP, "4.4.1", "connect to mx3.test[127.0.0.3]", DELIVER_SITE_DOWN);
	assert_string_equal(run.res.relay, "none");
}

static void test_free_during_lookup(void **state)
{
	static const struct deliver_rcpt rcpt = {"user@slow.test", "", 0};
	struct env *e = *state;
	struct deliver_request req;
	struct run run;
	struct timeval tv = {0, 100000};

	memset(&req, 0, sizeof(req));
	req.domain = "slow.test";
	req.sender = "";
	req.envid = "";
	req.rcpt = &rcpt;
	req.n_rcpt = 1;
	req.body_fd = tsrv_body_fd("x\r\n", 3);
	req.body_len = 3;
	memset(&run, 0, sizeof(run));
	assert_int_equal(deliver_start(e->d, &req, on_done, &run), 0);
	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
	assert_true(e->dns.queries > 0); /* the lookup is in flight */
	deliver_free(e->d);            /* cancels it: done never runs */
	e->d = NULL;
	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
	assert_int_equal(run.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_next_mx_after_421_greeting, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_implicit_mx, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_transport_bracket_host, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_dns_failures, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_all_mx_unreachable, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_free_during_lookup, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
