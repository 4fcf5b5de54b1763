/*
 * test_sched_report.c - the reports the queue manager sends (issue 3),
 * with a fake transport (sched_set_transport) and a real spool in a
 * temporary folder: one report per message and event listing every
 * recipient of it, NOTIFY=NEVER and the null sender (no report), the one
 * double bounce, delay warnings on a seconds scale, success reports
 * (delivered vs relayed), the rate limit, a spool that refuses the report
 * for a while, and the crash consistency of the durable "reported" mark
 * (spool states built by hand, then sched_recover).
 *
 * The transport answers by rules: the first rule whose suffix ends the
 * recipient address gives its outcome. Reports are recognised by their
 * null envelope sender; their bodies are kept for the assertions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "sched/sched.h"
#include "spool/spool.h"
#include "spool/spool_int.h" /* spool_sync_hook: a sync that fails */
#include "util/mailog.h"
#include "util/util.h"

#include "test_sched_fixture.h"

#define MAX_TX 64
#define MAX_RULES 8
#define HOST "mx.here.test"

struct fake_tx {
	char qid[SPOOL_ID_MAX];
	char sender[SPOOL_PATH_MAX];
	char domain[256];
	size_t n_rcpt;
	char rcpt[4][SPOOL_PATH_MAX];
	char *body; /* NUL-terminated copy */
	deliver_done_fn done;
	void *arg;
	bool open;
};

struct rule {
	const char *suffix;
	enum outcome_kind kind;
	int code;
	const char *text;
};

struct env {
	struct sched_bed bed; /* folder, spool, log, base, config */
	struct sched *s;
	struct fake_tx tx[MAX_TX];
	size_t n_tx;
	struct rule rules[MAX_RULES];
	size_t n_rules;
	bool peer_has_dsn;
};

static int fake_start(void *arg, const struct deliver_request *req, deliver_done_fn done,
		      void *done_arg)
{
	struct env *e = arg;
	struct fake_tx *t;
	size_t got = 0;
	ssize_t r;

	assert_true(e->n_tx < MAX_TX);
	t = &e->tx[e->n_tx++];
	memset(t, 0, sizeof(*t));
	util_strlcpy(t->qid, req->qid, sizeof(t->qid));
	util_strlcpy(t->sender, req->sender, sizeof(t->sender));
	util_strlcpy(t->domain, req->domain, sizeof(t->domain));
	t->n_rcpt = req->n_rcpt;
	for (size_t i = 0; i < req->n_rcpt && i < 4; i++)
		util_strlcpy(t->rcpt[i], req->rcpt[i].addr, sizeof(t->rcpt[i]));
	t->body = xcalloc(1, req->body_len + 1);
	while (got < req->body_len && (r = read(req->body_fd, t->body + got, req->body_len - got)) > 0)
		got += (size_t)r;
	close(req->body_fd);
	t->done = done;
	t->arg = done_arg;
	t->open = true;
	return 0;
}

static const struct rule *rule_for(const struct env *e, const char *addr)
{
	size_t al = strlen(addr);

	for (size_t i = 0; i < e->n_rules; i++) {
		size_t sl = strlen(e->rules[i].suffix);
		if (al >= sl && strcasecmp(addr + al - sl, e->rules[i].suffix) == 0)
			return &e->rules[i];
	}
	return NULL;
}

static void add_rule(struct env *e, const char *suffix, enum outcome_kind kind, int code,
		     const char *text)
{
	assert_true(e->n_rules < MAX_RULES);
	e->rules[e->n_rules++] = (struct rule){suffix, kind, code, text};
}

/* answer_open - finish every open transaction whose recipients all have
 * a rule, one outcome per recipient */
static void answer_open(struct env *e)
{
	for (size_t i = 0; i < e->n_tx; i++) {
		struct fake_tx *t = &e->tx[i];
		struct outcome o[4];
		struct deliver_result res;
		bool all = t->open;

		for (size_t k = 0; all && k < t->n_rcpt; k++) {
			const struct rule *r = rule_for(e, t->rcpt[k]);
			if (r == NULL)
				all = false;
			else
				outcome_set(&o[k], r->kind, r->code, NULL, "mx.test[127.0.0.1]:25",
					    "%s", r->text);
		}
		if (!all)
			continue;
		t->open = false;
		memset(&res, 0, sizeof(res));
		res.rcpt = o;
		res.n_rcpt = t->n_rcpt;
		res.site = DELIVER_SITE_OK;
		res.peer_has_dsn = e->peer_has_dsn;
		util_strlcpy(res.relay, "mx.test[127.0.0.1]:25", sizeof(res.relay));
		t->done(&res, t->arg);
	}
}

static void run_ms(struct env *e, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(e->bed.base, &tv);
	event_base_dispatch(e->bed.base);
}

/* run_until_count - answer by the rules until `want` messages are queued */
static void run_until_count(struct env *e, size_t want, int max_ms)
{
	for (int t = 0; t < max_ms; t += 10) {
		answer_open(e);
		if (sched_count(e->s) == want)
			break;
		run_ms(e, 10);
	}
	if (sched_count(e->s) != want)
		fail_msg("queued messages: got %zu, want %zu", sched_count(e->s), want);
}

static size_t events_matching(const struct env *e, const char *a, const char *b)
{
	FILE *f = fopen(e->bed.events, "r");
	char line[8192];
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
			n++;
	fclose(f);
	return n;
}

/* reports - transactions carrying a report (null sender), in order */
static size_t reports(const struct env *e, const struct fake_tx **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n_tx; i++)
		if (e->tx[i].sender[0] == '\0') {
			if (n < max)
				out[n] = &e->tx[i];
			n++;
		}
	return n;
}

/* run_until_reports - answer by the rules until want reports went out */
static void run_until_reports(struct env *e, size_t want, int max_ms)
{
	const struct fake_tx *dummy[1];

	for (int t = 0; t < max_ms && reports(e, dummy, 0) < want; t += 10) {
		answer_open(e);
		run_ms(e, 10);
	}
	if (reports(e, dummy, 0) != want)
		fail_msg("reports: got %zu, want %zu", reports(e, dummy, 0), want);
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void assert_has(const char *what, const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("%s: got no '%s' in:\n%.3000s", what, needle, hay);
}

static bool file_exists(const struct env *e, const char *id)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/queue/%s", e->bed.dir, id);
	return access(path, F_OK) == 0;
}

/* new_msg - an envelope and body in the spool; notify applies to all */
static struct spool_msg *new_msg(struct env *e, const char *sender, const char *const *rcpt,
				 size_t n, unsigned notify)
{
	return sched_bed_msg(&e->bed, "Subject: test\r\nMessage-ID: <orig@example.org>\r\n\r\nhello\r\n",
	                     sender, rcpt, n, notify);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	sched_bed_open(&e->bed, "sched-report");
	free(e->bed.cfg->myhostname);
	e->bed.cfg->myhostname = xstrdup(HOST);
	*state = e;
	return 0;
}

static void start(struct env *e)
{
	e->s = sched_new(e->bed.base, e->bed.cfg, e->bed.sp, NULL);
	sched_set_transport(e->s, fake_start, e);
}

static int teardown(void **state)
{
	struct env *e = *state;

	sched_free(e->s);
	for (size_t i = 0; i < e->n_tx; i++)
		free(e->tx[i].body);
	sched_bed_close(&e->bed);
	free(e);
	return 0;
}

/* Two of three recipients fail in one result: one report, to the sender,
 * listing both; the third is retried and its success reports nothing. */
static void test_one_report_per_event(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"a@far.example", "b@far.example", "c@far.example"};
	const struct fake_tx *rep[4];
	struct spool_msg *m;
	char id[SPOOL_ID_MAX];

	start(e);
	m = new_msg(e, "sender@example.org", r, 3, 0);
	util_strlcpy(id, m->id, sizeof(id));
	sched_take(e->s, m);
	add_rule(e, "a@far.example", OUTCOME_PERM, 550, "5.1.1 <a@far.example>: no such user");
	add_rule(e, "b@far.example", OUTCOME_PERM, 550, "5.1.1 <b@far.example>: no such user");
	add_rule(e, "c@far.example", OUTCOME_TEMP, 451, "4.3.0 try later");
	/* the report itself stays undelivered for now: no rule for it */
	run_until_count(e, 2, 2000);
	run_ms(e, 100);
	assert_int_equal(reports(e, rep, 4), 1);
	assert_int_equal(rep[0]->n_rcpt, 1);
	assert_string_equal(rep[0]->rcpt[0], "sender@example.org");
	assert_string_equal(rep[0]->domain, "example.org");
	assert_has("report", rep[0]->body, "Content-Type: multipart/report");
	assert_has("report", rep[0]->body, "Final-Recipient: rfc822; a@far.example");
	assert_has("report", rep[0]->body, "Final-Recipient: rfc822; b@far.example");
	if (strstr(rep[0]->body, "c@far.example") != NULL)
		fail_msg("report: got c@far.example in it, want only the two failed");
	assert_int_equal(count_str(rep[0]->body, "Action: failed"), 2);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=failed"), 1);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "rcpts=2"), 1);
	/* the mark is durable: a reload of the original sees it */
	{
		struct spool_msg *again = spool_load(e->bed.sp, id);
		assert_non_null(again);
		assert_true(again->rcpt[0].reported && again->rcpt[1].reported);
		assert_false(again->rcpt[2].reported);
		spool_msg_free(again);
	}
	/* c succeeds on the retry (no NOTIFY: no success report); the
	 * report is delivered; everything goes */
	e->n_rules = 0;
	add_rule(e, "@far.example", OUTCOME_OK, 250, "2.0.0 Ok");
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	run_until_count(e, 0, 3000);
	assert_int_equal(reports(e, rep, 4), 1);
	assert_false(file_exists(e, id));
	assert_int_equal(sched_reports_sent(e->s), 1);
}

/* NOTIFY=NEVER and the null sender: nothing is sent back */
static void test_no_report(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"x@far.example"};
	const struct fake_tx *rep[2];

	start(e);
	sched_take(e->s, new_msg(e, "sender@example.org", r, 1, DSN_NOTIFY_NEVER));
	sched_take(e->s, new_msg(e, "", r, 1, 0));
	sched_take(e->s, new_msg(e, "", r, 1, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE));
	add_rule(e, "@far.example", OUTCOME_PERM, 550, "5.1.1 no such user");
	run_until_count(e, 0, 2000);
	run_ms(e, 100);
	/* two originals have a null sender too: look at where mail went */
	(void)rep;
	assert_int_equal(e->n_tx, 3);
	for (size_t i = 0; i < e->n_tx; i++)
		assert_string_equal(e->tx[i].domain, "far.example");
	assert_int_equal(events_matching(e, "\"event\":\"failed\"", NULL), 3);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", NULL), 0);
}

/* A report that fails goes once to the postmaster; that failing too
 * causes nothing more */
static void test_double_bounce(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"x@far.example"};
	const struct fake_tx *rep[4];

	start(e);
	sched_take(e->s, new_msg(e, "ghost@gone.example", r, 1, 0));
	add_rule(e, "@far.example", OUTCOME_PERM, 550, "5.1.1 no such user");
	add_rule(e, "@gone.example", OUTCOME_PERM, 550, "5.1.1 no such sender either");
	add_rule(e, "postmaster@" HOST, OUTCOME_PERM, 550, "5.2.1 postmaster is off");
	run_until_count(e, 0, 3000);
	run_ms(e, 100);
	assert_int_equal(reports(e, rep, 4), 2);
	assert_string_equal(rep[0]->rcpt[0], "ghost@gone.example");
	assert_string_equal(rep[1]->rcpt[0], "postmaster@" HOST);
	assert_has("double bounce", rep[1]->body, "Final-Recipient: rfc822; ghost@gone.example");
	assert_int_equal(events_matching(e, "\"event\":\"report\"", NULL), 2);
	assert_int_equal(e->n_tx, 3);
}

/* delay_warning=1s, lifetime 2.5 s, every attempt deferred: one delay
 * warning, then the failure report */
static void test_delay_then_failure(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"slow@far.example", "never@far.example"};
	const struct fake_tx *rep[4];
	struct spool_msg *m;
	char id[SPOOL_ID_MAX];
	int64_t m_arrival;

	free(e->bed.cfg->delay_warning);
	e->bed.cfg->delay_warning = xstrdup("1s");
	e->bed.cfg->queue_lifetime_ms = 2500;
	start(e);
	m = new_msg(e, "sender@example.org", r, 2, 0);
	m->rcpt[1].notify = DSN_NOTIFY_FAILURE; /* no warning for this one */
	util_strlcpy(id, m->id, sizeof(id));
	m_arrival = m->arrival_ms;
	sched_take(e->s, m);
	add_rule(e, "@far.example", OUTCOME_TEMP, 452, "4.2.2 mailbox full");
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	run_until_reports(e, 1, 2000);
	/* the warning is out (after 1 s), the failure not yet */
	assert_true(util_now_ms() - m_arrival >= 1000);
	run_ms(e, 100);
	assert_int_equal(reports(e, rep, 4), 1);
	assert_has("delay", rep[0]->body, "Action: delayed");
	assert_has("delay", rep[0]->body, "Will-Retry-Until:");
	assert_has("delay", rep[0]->body, "Final-Recipient: rfc822; slow@far.example");
	if (strstr(rep[0]->body, "never@far.example") != NULL)
		fail_msg("delay: got never@far.example (NOTIFY=FAILURE), want only slow@");
	{
		struct spool_msg *again = spool_load(e->bed.sp, id);
		assert_non_null(again);
		assert_int_equal(again->delay_warnings_sent, 1);
		spool_msg_free(again);
	}
	run_until_count(e, 0, 4000);
	assert_int_equal(reports(e, rep, 4), 2);
	assert_has("failure", rep[1]->body, "Action: failed");
	assert_has("failure", rep[1]->body, "Status: 4.4.7");
	assert_int_equal(count_str(rep[1]->body, "Final-Recipient:"), 2);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=delayed"), 1);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=failed"), 1);
}

/* "1s,2s": two warnings before the lifetime ends */
static void test_two_warnings(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"slow@far.example"};
	const struct fake_tx *rep[4];

	free(e->bed.cfg->delay_warning);
	e->bed.cfg->delay_warning = xstrdup("1s,2s");
	e->bed.cfg->queue_lifetime_ms = 3000;
	start(e);
	sched_take(e->s, new_msg(e, "sender@example.org", r, 1, 0));
	add_rule(e, "@far.example", OUTCOME_TEMP, 451, "4.3.0 try later");
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	run_until_count(e, 0, 6000);
	assert_int_equal(reports(e, rep, 4), 3);
	assert_has("first", rep[0]->body, "Action: delayed");
	assert_has("second", rep[1]->body, "Action: delayed");
	assert_has("last", rep[2]->body, "Action: failed");
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=delayed"), 2);
}

/* NOTIFY=SUCCESS: "relayed" when the next hop has no DSN, "delivered"
 * when it has */
static void test_success_reports(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"ok@far.example"};
	const struct fake_tx *rep[4];

	start(e);
	add_rule(e, "@far.example", OUTCOME_OK, 250, "2.0.0 Ok");
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	e->peer_has_dsn = false;
	sched_take(e->s, new_msg(e, "sender@example.org", r, 1, DSN_NOTIFY_SUCCESS));
	run_until_count(e, 0, 2000);
	e->peer_has_dsn = true;
	sched_take(e->s, new_msg(e, "sender@example.org", r, 1, DSN_NOTIFY_SUCCESS));
	run_until_count(e, 0, 2000);
	/* failure only asked: a success says nothing */
	sched_take(e->s, new_msg(e, "sender@example.org", r, 1, DSN_NOTIFY_FAILURE));
	run_until_count(e, 0, 2000);
	assert_int_equal(reports(e, rep, 4), 2);
	assert_has("relayed", rep[0]->body, "Action: relayed");
	assert_has("delivered", rep[1]->body, "Action: delivered");
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=relayed"), 1);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=delivered"), 1);
}

/* report_rate_limit=2: the third report to one sender in the hour is
 * not sent, and is logged and counted; another sender is not affected */
static void test_rate_limit(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"x@far.example"};
	const struct fake_tx *rep[8];

	e->bed.cfg->report_rate_limit = 2;
	start(e);
	add_rule(e, "@far.example", OUTCOME_PERM, 550, "5.1.1 no such user");
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	for (int i = 0; i < 3; i++) {
		sched_take(e->s, new_msg(e, "Flood@Example.org", r, 1, 0));
		run_until_count(e, 0, 2000);
	}
	sched_take(e->s, new_msg(e, "other@example.org", r, 1, 0));
	run_until_count(e, 0, 2000);
	assert_int_equal(reports(e, rep, 8), 3);
	assert_int_equal(sched_reports_suppressed(e->s), 1);
	assert_int_equal(sched_reports_sent(e->s), 3);
	assert_int_equal(events_matching(e, "\"event\":\"report-suppressed\"", NULL), 1);
	assert_string_equal(rep[2]->rcpt[0], "other@example.org");
}

/* state_msg - a message in the spool whose recipient is already final,
 * as a crash would leave it */
static struct spool_msg *state_msg(struct env *e, enum rcpt_state st, bool reported, bool relayed,
				   unsigned notify)
{
	static const char *const r[] = {"x@far.example"};
	struct spool_msg *m = new_msg(e, "sender@example.org", r, 1, notify);
	struct spool_rcpt *rc = &m->rcpt[0];

	rc->state = st;
	rc->attempts = 1;
	rc->last_attempt_ms = util_now_ms();
	if (st == RCPT_FAILED)
		outcome_set(&rc->last, OUTCOME_PERM, 550, NULL, "mx.test[127.0.0.1]:25",
			    "5.1.1 <x@far.example>: no such user");
	else
		outcome_set(&rc->last, OUTCOME_OK, 250, NULL, "mx.test[127.0.0.1]:25", "2.0.0 Ok");
	rc->reported = reported;
	rc->relayed = relayed;
	rc->dirty = true;
	assert_int_equal(spool_update_sync(e->bed.sp, m), 0);
	return m;
}

/* Crash after the states were durable, before the report: recovery
 * queues it (relayed kept across the restart), then removes the
 * original. Crash after the mark: no second report. */
static void test_recover_reported_mark(void **state)
{
	struct env *e = *state;
	const struct fake_tx *rep[4];
	char owed[SPOOL_ID_MAX], owed2[SPOOL_ID_MAX], done[SPOOL_ID_MAX];
	struct spool_msg *m;

	m = state_msg(e, RCPT_FAILED, false, false, 0);
	util_strlcpy(owed, m->id, sizeof(owed));
	spool_msg_free(m);
	m = state_msg(e, RCPT_DELIVERED, false, true, DSN_NOTIFY_SUCCESS);
	util_strlcpy(owed2, m->id, sizeof(owed2));
	spool_msg_free(m);
	m = state_msg(e, RCPT_FAILED, true, false, 0);
	util_strlcpy(done, m->id, sizeof(done));
	spool_msg_free(m);
	start(e);
	assert_int_equal(sched_recover(e->s), 3);
	run_ms(e, 200);
	/* the reported one is gone at once, the others wait for their report */
	assert_false(file_exists(e, done));
	assert_int_equal(reports(e, rep, 4), 2);
	assert_false(file_exists(e, owed));
	assert_false(file_exists(e, owed2));
	/* the scan order is the directory's: either may come first */
	if (strstr(rep[0]->body, "Action: relayed") != NULL) {
		const struct fake_tx *t = rep[0];
		rep[0] = rep[1];
		rep[1] = t;
	}
	assert_has("recovered failure", rep[0]->body, "Action: failed");
	assert_has("recovered relayed", rep[1]->body, "Action: relayed");
	assert_int_equal(events_matching(e, "\"event\":\"report\"", owed), 1);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", owed2), 1);
	assert_int_equal(events_matching(e, "\"event\":\"report\"", done), 0);
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	run_until_count(e, 0, 2000);
	assert_int_equal(sched_reports_sent(e->s), 2);
}

/* The spool's sync fails the n-th time from now (the commit thread calls
 * it), as on a full or failing disk. */
static atomic_int sync_calls, sync_fail_at, sync_failed;

static int failing_sync(int fd)
{
	if (atomic_fetch_add(&sync_calls, 1) + 1 == atomic_load(&sync_fail_at)) {
		atomic_fetch_add(&sync_failed, 1);
		errno = EIO;
		return -1;
	}
	return syncfs(fd);
}

/* The states are durable but the spool refuses the report: the original
 * stays, the report is retried on a timer, and exactly one goes out. */
static void test_report_commit_retry(void **state)
{
	struct env *e = *state;
	static const char *const r[] = {"x@far.example"};
	const struct fake_tx *rep[4];
	struct spool_msg *m;
	char id[SPOOL_ID_MAX];

	start(e);
	m = new_msg(e, "sender@example.org", r, 1, 0);
	util_strlcpy(id, m->id, sizeof(id));
	sched_take(e->s, m);
	run_ms(e, 50);
	assert_int_equal(e->n_tx, 1);
	/* sync 1: the failed state; sync 2: the report's commit */
	atomic_store(&sync_calls, 0);
	atomic_store(&sync_fail_at, 2);
	atomic_store(&sync_failed, 0);
	spool_sync_hook = failing_sync;
	add_rule(e, "@far.example", OUTCOME_PERM, 550, "5.1.1 no such user");
	answer_open(e);
	run_ms(e, 100);
	assert_int_equal(atomic_load(&sync_failed), 1);
	/* nothing went out yet, and the original is still there */
	assert_int_equal(reports(e, rep, 4), 0);
	assert_true(file_exists(e, id));
	assert_int_equal(events_matching(e, "\"event\":\"failed\"", id), 1);
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	run_until_count(e, 0, 3000);
	spool_sync_hook = syncfs;
	assert_int_equal(reports(e, rep, 4), 1);
	assert_int_equal(sched_reports_sent(e->s), 1);
	assert_false(file_exists(e, id));
}

/* A held message is not being retried, so it gets no delay warning, even
 * when its warning time passed while the daemon was down (the restart
 * case); released, it is warned about at once. */
static void test_held_gets_no_warning(void **state)
{
	struct env *e = *state;
	static const char body[] = "Subject: held\r\n\r\nhello\r\n";
	static const char *const other[] = {"fine@near.example"};
	const struct fake_tx *rep[4];
	struct spool_writer *w = spool_writer_new(e->bed.sp);
	struct spool_msg *m = spool_msg_new();
	struct spool_rcpt *rc;
	char id[SPOOL_ID_MAX];

	free(e->bed.cfg->delay_warning);
	e->bed.cfg->delay_warning = xstrdup("1s");
	/* as found in the spool at start-up: held, deferred, 2 s old */
	assert_non_null(w);
	assert_int_equal(spool_writer_write(w, body, sizeof(body) - 1), 0);
	util_strlcpy(m->sender, "sender@example.org", sizeof(m->sender));
	m->arrival_ms = util_now_ms() - 2000;
	m->held = true;
	rc = spool_msg_add_rcpt(m, "slow@far.example");
	rc->state = RCPT_DEFERRED;
	rc->attempts = 1;
	rc->next_attempt_ms = util_now_ms();
	assert_int_equal(spool_writer_commit_sync(w, m), 0);
	util_strlcpy(id, m->id, sizeof(id));
	start(e);
	sched_take(e->s, m);
	/* another message keeps the scheduler's timer going meanwhile */
	sched_take(e->s, new_msg(e, "sender@example.org", other, 1, DSN_NOTIFY_NEVER));
	add_rule(e, "@far.example", OUTCOME_TEMP, 452, "4.2.2 mailbox full");
	add_rule(e, "@near.example", OUTCOME_OK, 250, "2.0.0 Ok");
	add_rule(e, "@example.org", OUTCOME_OK, 250, "2.0.0 Ok");
	run_ms(e, 700);
	if (reports(e, rep, 4) != 0)
		fail_msg("held message: got %zu report(s), want no delay warning",
			 reports(e, rep, 4));
	/* only the other message went out */
	assert_int_equal(e->n_tx, 1);
	assert_string_equal(e->tx[0].domain, "near.example");
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=delayed"), 0);
	/* released: retried, and the warning that was due goes out */
	assert_int_equal(sched_release(e->s, id), 0);
	run_until_reports(e, 1, 2000);
	assert_int_equal(reports(e, rep, 4), 1);
	assert_has("delay", rep[0]->body, "Action: delayed");
	assert_int_equal(events_matching(e, "\"event\":\"report\"", "kind=delayed"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_report_per_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_bounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay_then_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_gets_no_warning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_success_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_reported_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_commit_retry, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
