/*
 * test_deliver_client.c - the SMTP client against a scripted in-process
 * server on 127.0.0.1 (transport_map "[127.0.0.1]:PORT", so no DNS):
 * per-recipient results in one transaction, 4xx/5xx at every step, the
 * pipelined and the one-by-one dialogue, greeting failures, refused
 * connections, connection reuse and its expiry, a cached connection that
 * died, concurrency, timeouts, SIZE/SMTPUTF8 checks, and the done-callback
 * contract (once, never from inside deliver_start, never after free).
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
#include "spool/spool.h"
#include "test_deliver_server.h"

#define NR 4

struct run {
	int calls;
	struct deliver_result res;
	struct outcome out[NR];
};

static void on_done(const struct deliver_result *r, void *arg)
{
	struct run *run = arg;

	run->calls++;
	run->res = *r;
	for (size_t i = 0; i < r->n_rcpt && i < NR; i++)
		run->out[i] = r->rcpt[i];
	run->res.rcpt = run->out;
}

/* Runs the loop until *calls reaches want or ms pass. */
static void loop_until(struct event_base *base, const int *calls, int want, int64_t ms)
{
	int64_t end = util_now_ms() + ms;

	while (*calls < want && util_now_ms() < end) {
		struct timeval tv = {0, 20000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void loop_for(struct event_base *base, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

struct env {
	struct event_base *base;
	struct config *cfg;
	struct tsrv srv;
	struct deliver *d;
};

static void env_set(struct env *e, const char *key, const char *value)
{
	char err[256];

	if (config_set(e->cfg, key, value, err, sizeof(err)) < 0)
		fail_msg("config_set %s=%s: %s", key, value, err);
}

/* A server on 127.0.0.1 and a deliver with x.test routed to it. Call
 * env_go after adjusting the server script and settings. */
static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->base = event_base_new();
	e->cfg = config_new();
	assert_int_equal(tsrv_start(&e->srv, e->base, "127.0.0.1", 0), 0);
	env_set(e, "myhostname", "client.test");
	env_set(e, "smtp_command_timeout", "2s");
	env_set(e, "smtp_data_timeout", "2s");
	env_set(e, "smtp_connect_timeout", "2s");
	env_set(e, "connection_cache_time", "0");
	env_set(e, "dns_servers", "127.0.0.1:9"); /* never asked: every route is literal */
}

static void env_go(struct env *e, unsigned port)
{
	char map[128], err[256];

	snprintf(map, sizeof(map), "x.test=[127.0.0.1]:%u", port ? port : e->srv.port);
	env_set(e, "transport_map", map);
	e->d = deliver_new(e->base, e->cfg, err, sizeof(err));
	if (e->d == NULL)
		fail_msg("deliver_new: %s", err);
}

static void env_done(struct env *e)
{
	deliver_free(e->d);
	tsrv_stop(&e->srv);
	config_free(e->cfg);
	event_base_free(e->base);
}

static const char BODY[] = "Subject: test\r\n\r\nhello\r\n..a dot-stuffed line\r\n";

static void req_init(struct deliver_request *req, const struct deliver_rcpt *r, size_t n, const char *body)
{
	memset(req, 0, sizeof(*req));
	req->qid = "0123456789ABCDEF0";
	req->domain = "x.test";
	req->sender = "s@y.test";
	req->envid = "";
	req->rcpt = r;
	req->n_rcpt = n;
	req->body_len = strlen(body);
	req->body_fd = tsrv_body_fd(body, req->body_len);
}

/* Start one request and run it to its end. */
static void run_one(struct env *e, struct deliver_request *req, struct run *run)
{
	memset(run, 0, sizeof(*run));
	assert_int_equal(deliver_start(e->d, req, on_done, run), 0);
	assert_int_equal(run->calls, 0); /* never from inside deliver_start */
	assert_int_equal(deliver_active(e->d), 1);
	loop_until(e->base, &run->calls, 1, 5000);
	assert_int_equal(run->calls, 1);
	assert_int_equal(deliver_active(e->d), 0);
}

static void expect(const struct outcome *o, enum outcome_kind kind, const char *status, const char *words)
{
	if (o->kind != kind || strcmp(o->status, status) != 0 || strstr(o->text, words) == NULL)
		fail_msg("got %s %s \"%s\", want %s %s \"...%s...\"", outcome_kind_name(o->kind), o->status,
			 o->text, outcome_kind_name(kind), status, words);
}

static const struct deliver_rcpt THREE[] = {
	{"good@x.test", "rfc822;good@x.test", DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE},
	{"bad@x.test", "", 0},
	{"good2@x.test", "", 0},
};
static const struct tsrv_rule REJECT_BAD[] = {
	{"RCPT TO:<bad@", "550 5.1.1 <bad@x.test>: Recipient address rejected: User unknown\r\n"},
	{NULL, NULL},
};

static void per_rcpt(bool pipelining)
{
	struct env e;
	struct deliver_request req;
	struct run run;
	char relay[64];

	env_init(&e);
	e.srv.rules = REJECT_BAD;
	e.srv.ehlo = pipelining ? NULL : TSRV_EHLO_PLAIN;
	env_go(&e, 0);
	req_init(&req, THREE, 3, BODY);
	run_one(&e, &req, &run);

	expect(&run.out[0], OUTCOME_OK, "2.0.0", "250 2.0.0 Ok: queued");
	expect(&run.out[1], OUTCOME_PERM, "5.1.1",
	       "550 5.1.1 <bad@x.test>: Recipient address rejected: User unknown");
	expect(&run.out[2], OUTCOME_OK, "2.0.0", "250 2.0.0 Ok: queued");
	snprintf(relay, sizeof(relay), "127.0.0.1[127.0.0.1]:%u", e.srv.port);
	assert_string_equal(run.res.relay, relay);
	assert_string_equal(run.out[1].remote, relay);
	assert_int_equal(run.res.site, DELIVER_SITE_OK);
	assert_int_equal(run.res.n_rcpt, 3);
	assert_int_equal(e.srv.messages, 1);
	assert_string_equal(e.srv.body.data, BODY); /* byte for byte, still dot-stuffed */
	if (pipelining) {
		assert_true(run.res.peer_has_dsn);
		assert_true(e.srv.batched > 0); /* MAIL+RCPT+DATA in one write */
		assert_non_null(strstr(e.srv.transcript.data,
				       "MAIL FROM:<s@y.test> SIZE=46\n"
				       "RCPT TO:<good@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;good@x.test\n"
				       "RCPT TO:<bad@x.test>\nRCPT TO:<good2@x.test>\nDATA\n"));
	} else {
		assert_false(run.res.peer_has_dsn);
		assert_int_equal(e.srv.batched, 0); /* waited for every reply */
		assert_non_null(strstr(e.srv.transcript.data,
				       "MAIL FROM:<s@y.test>\nRCPT TO:<good@x.test>\n"
				       "RCPT TO:<bad@x.test>\nRCPT TO:<good2@x.test>\nDATA\n"));
	}
	/* connection_cache_time 0: QUIT after the transaction */
	loop_for(e.base, 100);
	assert_int_equal(e.srv.quits, 1);
	env_done(&e);
}

static void test_per_rcpt_pipelined(void **state)
{
	(void)state;
	per_rcpt(true);
}

static void test_per_rcpt_one_by_one(void **state)
{
	(void)state;
	per_rcpt(false);
}

static void test_451_at_rcpt(void **state)
{
	static const struct tsrv_rule rules[] = {{"RCPT TO:<bad@", "451 4.7.1 Greylisted, try later\r\n"},
						 {NULL, NULL}};
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	e.srv.rules = rules;
	env_go(&e, 0);
	req_init(&req, THREE, 3, BODY);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_OK, "2.0.0", "250");
	expect(&run.out[1], OUTCOME_TEMP, "4.7.1", "451 4.7.1 Greylisted, try later");
	expect(&run.out[2], OUTCOME_OK, "2.0.0", "250");
	assert_int_equal(run.res.site, DELIVER_SITE_OK);
	env_done(&e);
}

static void no_rcpt_accepted(bool pipelining)
{
	static const struct tsrv_rule rules[] = {
		{"RCPT", "550 5.1.1 no such user\r\n"},
		{"DATA", "554 5.5.1 Error: no valid recipients\r\n"},
		{NULL, NULL},
	};
	struct env e;
	struct deliver_request req;
	struct run run;

	env_init(&e);
	e.srv.rules = rules;
	e.srv.ehlo = pipelining ? NULL : TSRV_EHLO_PLAIN;
	env_go(&e, 0);
	req_init(&req, THREE, 2, BODY);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_PERM, "5.1.1", "550 5.1.1 no such user");
	expect(&run.out[1], OUTCOME_PERM, "5.1.1", "550 5.1.1 no such user");
	loop_for(e.base, 100);
	assert_int_equal(e.srv.messages, 0);
	assert_non_null(strstr(e.srv.transcript.data, "RSET\n"));
	if (!pipelining)
		assert_null(strstr(e.srv.transcript.data, "DATA"));
	env_done(&e);
}

static void test_no_rcpt_accepted_pipelined(void **state)
{
	(void)state;
	no_rcpt_accepted(true);
}

static void test_no_rcpt_accepted_one_by_one(void **state)
{
	(void)state;
	no_rcpt_accepted(false);
}

static void test_mail_rejected(void **state)
{
	static const struct tsrv_rule rules[] = {{"MAIL", "553 5.1.8 sender domain rejected\r\n"},
						 {"RCPT", "503 5.5.1 need MAIL\r\n"},
						 {"DATA", "503 5.5.1 need MAIL\r\n"},
						 {NULL, NULL}};
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	e.srv.rules = rules;
	env_go(&e, 0);
	req_init(&req, THREE, 3, BODY);
	run_one(&e, &req, &run);
	for (int i = 0; i < 3; i++)
		expect(&run.out[i], OUTCOME_PERM, "5.1.8", "553 5.1.8 sender domain rejected");
	assert_int_equal(e.srv.messages, 0);
	env_done(&e);
}

static void test_421_mid_session(void **state)
{
	static const struct tsrv_rule rules[] = {{"RCPT TO:<bad@", "421 4.4.2 closing connection\r\n"},
						 {NULL, NULL}};
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	e.srv.rules = rules;
	e.srv.ehlo = TSRV_EHLO_PLAIN;
	env_go(&e, 0);
	req_init(&req, THREE, 3, BODY);
	run_one(&e, &req, &run);
	/* good was accepted but no data went out: unfinished like the rest */
	for (int i = 0; i < 3; i++)
		expect(&run.out[i], OUTCOME_TEMP, "4.4.2", "421 4.4.2 closing connection");
	assert_int_equal(run.res.site, DELIVER_SITE_OK);
	assert_int_equal(e.srv.messages, 0);
	env_done(&e);
}

static void test_connection_refused(void **state)
{
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	env_go(&e, tsrv_dead_port());
	req_init(&req, THREE, 2, BODY);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_TEMP, "4.4.1", "Connection refused");
	expect(&run.out[1], OUTCOME_TEMP, "4.4.1", "Connection refused");
	assert_int_equal(run.res.site, DELIVER_SITE_DOWN);
	assert_string_equal(run.res.relay, "none");
	env_done(&e);
}

static void greeting(const char *line, const char *status, const char *words)
{
	struct env e;
	struct deliver_request req;
	struct run run;

	env_init(&e);
	e.srv.greeting = line;
	env_go(&e, 0);
	req_init(&req, THREE, 1, BODY);
	run_one(&e, &req, &run);
	/* a refusing greeting is about the host, never the recipient: TEMP */
	expect(&run.out[0], OUTCOME_TEMP, status, words);
	assert_int_equal(run.res.site, DELIVER_SITE_DOWN);
	assert_null(strstr(e.srv.transcript.data ? e.srv.transcript.data : "", "MAIL"));
	env_done(&e);
}

static void test_greeting_421(void **state)
{
	(void)state;
	greeting("421 4.3.2 too busy\r\n", "4.3.2", "421 4.3.2 too busy");
}

static void test_greeting_554(void **state)
{
	(void)state;
	greeting("554 5.7.1 no service for you\r\n", "4.0.0", "554 5.7.1 no service for you");
}

static void test_ehlo_rejected_helo(void **state)
{
	static const struct tsrv_rule rules[] = {{"EHLO", "502 5.5.1 EHLO not implemented\r\n"},
						 {NULL, NULL}};
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	e.srv.rules = rules;
	env_go(&e, 0);
	req_init(&req, THREE, 1, BODY);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_OK, "2.0.0", "250");
	assert_non_null(strstr(e.srv.transcript.data, "EHLO client.test\nHELO client.test\nMAIL FROM:<s@y.test>\n"));
	assert_false(run.res.peer_has_dsn);
	env_done(&e);
}

static void test_reuse_and_expiry(void **state)
{
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	env_set(&e, "connection_cache_time", "300ms");
	env_go(&e, 0);
	for (int i = 0; i < 2; i++) {
		req_init(&req, THREE, 1, BODY);
		run_one(&e, &req, &run);
		expect(&run.out[0], OUTCOME_OK, "2.0.0", "250");
	}
	assert_int_equal(e.srv.connections, 1);
	assert_int_equal(e.srv.messages, 2);
	assert_int_equal(e.srv.quits, 0);
	/* idle longer than connection_cache_time: QUIT, then a new connection */
	loop_for(e.base, 600);
	assert_int_equal(e.srv.quits, 1);
	req_init(&req, THREE, 1, BODY);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_OK, "2.0.0", "250");
	assert_int_equal(e.srv.connections, 2);
	env_done(&e);
}

static void test_stale_cached_connection(void **state)
{
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	env_set(&e, "connection_cache_time", "5s");
	e.srv.drop_mail_n = 2; /* the 2nd MAIL on a connection: hang up */
	env_go(&e, 0);
	req_init(&req, THREE, 1, BODY);
	run_one(&e, &req, &run);
	req_init(&req, THREE, 2, BODY);
	run_one(&e, &req, &run);
	/* reconnected without showing the failure */
	expect(&run.out[0], OUTCOME_OK, "2.0.0", "250");
	expect(&run.out[1], OUTCOME_OK, "2.0.0", "250");
	assert_int_equal(e.srv.connections, 2);
	assert_int_equal(e.srv.messages, 2);
	env_done(&e);
}

static void test_concurrent_requests(void **state)
{
	struct env e;
	struct deliver_request req[2];
	struct run run[2];

	(void)state;
	env_init(&e);
	env_set(&e, "connection_cache_time", "5s");
	env_go(&e, 0);
	memset(run, 0, sizeof(run));
	for (int i = 0; i < 2; i++) {
		req_init(&req[i], THREE, 1, BODY);
		assert_int_equal(deliver_start(e.d, &req[i], on_done, &run[i]), 0);
	}
	assert_int_equal(deliver_active(e.d), 2);
	loop_until(e.base, &run[1].calls, 1, 5000);
	loop_until(e.base, &run[0].calls, 1, 5000);
	assert_int_equal(run[0].calls, 1);
	assert_int_equal(run[1].calls, 1);
	expect(&run[0].out[0], OUTCOME_OK, "2.0.0", "250");
	expect(&run[1].out[0], OUTCOME_OK, "2.0.0", "250");
	assert_int_equal(e.srv.connections, 2);
	env_done(&e);
}

static void test_data_timeout(void **state)
{
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	env_set(&e, "smtp_data_timeout", "300ms");
	e.srv.final_reply = "HANG";
	env_go(&e, 0);
	req_init(&req, THREE, 1, BODY);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_TEMP, "4.4.2", "timed out while sending end of data");
	assert_int_equal(run.res.site, DELIVER_SITE_OK);
	env_done(&e);
}

static void test_size_and_smtputf8(void **state)
{
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	e.srv.ehlo = "250-tsrv.test\r\n250 SIZE 10\r\n";
	env_set(&e, "connection_cache_time", "5s");
	env_go(&e, 0);
	req_init(&req, THREE, 2, BODY);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_PERM, "5.3.4", "exceeds size limit 10");
	expect(&run.out[1], OUTCOME_PERM, "5.3.4", "exceeds size limit 10");
	req_init(&req, THREE, 1, "tiny\r\n");
	req.smtputf8 = true;
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_PERM, "5.6.7", "SMTPUTF8 is required");
	assert_null(strstr(e.srv.transcript.data, "MAIL"));
	assert_int_equal(e.srv.connections, 1); /* the clean connection was kept */
	env_done(&e);
}

static void test_big_body_and_missing_crlf(void **state)
{
	struct env e;
	struct deliver_request req;
	struct run run;
	size_t n = 300000;
	char *big = xmalloc(n + 1);

	(void)state;
	for (size_t i = 0; i < n; i++)
		big[i] = (i % 100 == 98) ? '\r' : (i % 100 == 99) ? '\n' : (char)('a' + i % 26);
	big[n] = '\0';
	env_init(&e);
	env_set(&e, "connection_cache_time", "5s");
	env_go(&e, 0);
	req_init(&req, THREE, 1, big);
	run_one(&e, &req, &run);
	expect(&run.out[0], OUTCOME_OK, "2.0.0", "250");
	assert_int_equal(e.srv.body.len, n);
	assert_memory_equal(e.srv.body.data, big, n);
	/* a body without a final CRLF gets one before the "." */
	req_init(&req, THREE, 1, "no newline");
	run_one(&e, &req, &run);
	assert_string_equal(e.srv.body.data, "no newline\r\n");
	free(big);
	env_done(&e);
}

static void test_free_in_flight_and_bad_start(void **state)
{
	struct env e;
	struct deliver_request req;
	struct run run;

	(void)state;
	env_init(&e);
	e.srv.greeting = "HANG";
	env_go(&e, 0);
	memset(&run, 0, sizeof(run));
	req_init(&req, THREE, 0, BODY);
	assert_int_equal(deliver_start(e.d, &req, on_done, &run), -1);
	req.n_rcpt = 1;
	assert_int_equal(deliver_start(e.d, &req, on_done, &run), 0);
	loop_for(e.base, 100);
	assert_int_equal(e.srv.connections, 1);
	deliver_free(e.d); /* done must never run after this */
	e.d = NULL;
	loop_for(e.base, 50);
	assert_int_equal(run.calls, 0);
	env_done(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_rcpt_pipelined),
		cmocka_unit_test(test_per_rcpt_one_by_one),
		cmocka_unit_test(test_451_at_rcpt),
		cmocka_unit_test(test_no_rcpt_accepted_pipelined),
		cmocka_unit_test(test_no_rcpt_accepted_one_by_one),
		cmocka_unit_test(test_mail_rejected),
		cmocka_unit_test(test_421_mid_session),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_greeting_421),
		cmocka_unit_test(test_greeting_554),
		cmocka_unit_test(test_ehlo_rejected_helo),
		cmocka_unit_test(test_reuse_and_expiry),
		cmocka_unit_test(test_stale_cached_connection),
		cmocka_unit_test(test_concurrent_requests),
		cmocka_unit_test(test_data_timeout),
		cmocka_unit_test(test_size_and_smtputf8),
		cmocka_unit_test(test_big_body_and_missing_crlf),
		cmocka_unit_test(test_free_in_flight_and_bad_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
