/*
 * test_sched_qmgr.c - the queue manager end to end with a fake transport
 * (sched_set_transport) and a real spool in a temporary folder: the
 * destination concurrency limit, back-off of a whole site with one probe,
 * queue lifetime expiry while a site is down, hold/release/delete, the
 * spool-update failure path and the control socket protocol. Messages
 * here ask for no reports (NOTIFY=NEVER); test_sched_report.c has those.
 *
 * Time is real but seconds-scale settings are shrunk to a few hundred
 * milliseconds; each wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "sched/sched.h"
#include "spool/spool.h"
#include "util/mailog.h"
#include "util/util.h"

#include "test_sched_fixture.h"

#define MAX_TX 256

struct fake_tx {
	char qid[SPOOL_ID_MAX];
	char domain[256];
	size_t n_rcpt;
	char rcpt[4][SPOOL_PATH_MAX];
	size_t body_read;
	size_t body_len;
	deliver_done_fn done;
	void *arg;
	bool open;
};

struct env {
	struct sched_bed bed; /* folder, spool, log, base, config */
	struct sched *s;
	struct fake_tx tx[MAX_TX];
	size_t n_tx;
};

static int fake_start(void *arg, const struct deliver_request *req, deliver_done_fn done,
		      void *done_arg)
{
	struct env *e = arg;
	struct fake_tx *t;
	char buf[4096];
	ssize_t r;

	assert_true(e->n_tx < MAX_TX);
	t = &e->tx[e->n_tx++];
	memset(t, 0, sizeof(*t));
	util_strlcpy(t->qid, req->qid, sizeof(t->qid));
	util_strlcpy(t->domain, req->domain, sizeof(t->domain));
	t->n_rcpt = req->n_rcpt;
	for (size_t i = 0; i < req->n_rcpt && i < 4; i++)
		util_strlcpy(t->rcpt[i], req->rcpt[i].addr, sizeof(t->rcpt[i]));
	/* the transport owns the body fd: read the body, like deliver would */
	while (t->body_read < req->body_len &&
	       (r = read(req->body_fd, buf, req->body_len - t->body_read < sizeof(buf)
						 ? req->body_len - t->body_read
						 : sizeof(buf))) > 0) {
		if (t->body_read == 0 && strncmp(buf, "Subject: test\r\n", 15) != 0)
			fail_msg("body: got %.15s, want the message's first line", buf);
		t->body_read += (size_t)r;
	}
	close(req->body_fd);
	t->body_len = req->body_len;
	t->done = done;
	t->arg = done_arg;
	t->open = true;
	return 0;
}

/* fake_finish - complete transaction i with one outcome for every rcpt */
static void fake_finish(struct env *e, size_t i, enum outcome_kind kind, int code,
			const char *status, const char *text, enum deliver_site site)
{
	struct outcome o[4];
	struct deliver_result res;
	struct fake_tx *t = &e->tx[i];

	assert_true(t->open);
	t->open = false;
	for (size_t k = 0; k < t->n_rcpt; k++)
		outcome_set(&o[k], kind, code, status, "mx.test[127.0.0.1]:25", "%s", text);
	memset(&res, 0, sizeof(res));
	res.rcpt = o;
	res.n_rcpt = t->n_rcpt;
	res.site = site;
	util_strlcpy(res.relay, kind == OUTCOME_OK ? "mx.test[127.0.0.1]:25" : "none",
		     sizeof(res.relay));
	t->done(&res, t->arg);
}

static size_t open_count(const struct env *e, const char *domain)
{
	size_t n = 0;
	for (size_t i = 0; i < e->n_tx; i++)
		if (e->tx[i].open && (domain == NULL || strcmp(e->tx[i].domain, domain) == 0))
			n++;
	return n;
}

static long first_open(const struct env *e, const char *domain)
{
	for (size_t i = 0; i < e->n_tx; i++)
		if (e->tx[i].open && strcmp(e->tx[i].domain, domain) == 0)
			return (long)i;
	return -1;
}

static void run_ms(struct env *e, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(e->bed.base, &tv);
	event_base_dispatch(e->bed.base);
}

/* run_until_open - loop until `want` transactions to domain are open */
static void run_until_open(struct env *e, const char *domain, size_t want, int max_ms)
{
	for (int t = 0; t < max_ms && open_count(e, domain) < want; t += 10)
		run_ms(e, 10);
	if (open_count(e, domain) != want)
		fail_msg("open transactions to %s: got %zu, want %zu", domain, open_count(e, domain),
			 want);
}

static void run_until_count(struct env *e, size_t want, int max_ms)
{
	for (int t = 0; t < max_ms && sched_count(e->s) != want; t += 10)
		run_ms(e, 10);
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

static struct spool_msg *make_msg(struct env *e, const char *const *rcpt, size_t n)
{
	/* NOTIFY=NEVER: these tests are about scheduling, and a report would
	 * be one more message in the queue; test_sched_report.c covers them */
	return sched_bed_msg(&e->bed, "Subject: test\r\n\r\nhello\r\n", "sender@example.org", rcpt,
	                     n, DSN_NOTIFY_NEVER);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	sched_bed_open(&e->bed, "sched-qmgr");
	e->bed.cfg->max_backoff_ms = 1200;
	e->bed.cfg->destination_concurrency = 2;
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
	sched_bed_close(&e->bed);
	free(e);
	return 0;
}

static void test_concurrency_limit(void **state)
{
	struct env *e = *state;
	static const char *const a[] = {"u@A.example"};
	static const char *const b[] = {"v@b.example"};

	start(e);
	for (int i = 0; i < 5; i++)
		sched_take(e->s, make_msg(e, a, 1));
	sched_take(e->s, make_msg(e, b, 1));
	assert_int_equal(sched_count(e->s), 6);
	run_until_open(e, "a.example", 2, 1000);
	run_until_open(e, "b.example", 1, 1000);
	run_ms(e, 50);
	/* never more than destination_concurrency to one site */
	assert_int_equal(open_count(e, "a.example"), 2);
	assert_int_equal(e->n_tx, 3);
	assert_int_equal(e->tx[0].body_read, e->tx[0].body_len);
	assert_true(e->tx[0].body_len > 0);
	/* a finished transaction starts the next ready job at once */
	fake_finish(e, (size_t)first_open(e, "a.example"), OUTCOME_OK, 250, NULL, "2.0.0 Ok",
		    DELIVER_SITE_OK);
	assert_int_equal(open_count(e, "a.example"), 2);
	assert_int_equal(e->n_tx, 4);
	while (first_open(e, "a.example") >= 0 || first_open(e, "b.example") >= 0) {
		long i = first_open(e, "a.example");
		if (i < 0)
			i = first_open(e, "b.example");
		fake_finish(e, (size_t)i, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
		assert_true(open_count(e, "a.example") <= 2);
	}
	assert_int_equal(e->n_tx, 6);
	run_until_count(e, 0, 2000);
	assert_int_equal(events_matching(e, "\"event\":\"delivered\"", NULL), 6);
	assert_int_equal(events_matching(e, "\"event\":\"removed\"", NULL), 6);
	assert_int_equal(events_matching(e, "\"status\":\"sent\"", NULL), 6);
}

static void test_site_backoff_probe(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"x@down.example"};

	e->bed.cfg->destination_concurrency = 10;
	start(e);
	for (int i = 0; i < 3; i++)
		sched_take(e->s, make_msg(e, d, 1));
	run_until_open(e, "down.example", 3, 1000);
	/* all three find the site down */
	for (size_t i = 0; i < 3; i++)
		fake_finish(e, i, OUTCOME_TEMP, 421, NULL, "4.4.2 no route", DELIVER_SITE_DOWN);
	run_ms(e, 100);
	assert_int_equal(open_count(e, NULL), 0);
	assert_int_equal(events_matching(e, "\"status\":\"deferred\"", NULL), 3);
	/* after the back-off (300 ms, not doubled by the two stragglers):
	 * one probe, not three */
	run_until_open(e, "down.example", 1, 1000);
	run_ms(e, 150);
	assert_int_equal(open_count(e, "down.example"), 1);
	assert_int_equal(e->n_tx, 4);
	/* the probe fails: back-off doubles to 600 ms, still one at a time */
	fake_finish(e, 3, OUTCOME_TEMP, 421, NULL, "4.4.2 still down", DELIVER_SITE_DOWN);
	run_ms(e, 300);
	assert_int_equal(e->n_tx, 4);
	run_until_open(e, "down.example", 1, 1500);
	run_ms(e, 100);
	assert_int_equal(open_count(e, "down.example"), 1);
	assert_int_equal(e->n_tx, 5);
	/* the probe gets through: the waiting jobs are released together */
	fake_finish(e, 4, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
	assert_int_equal(open_count(e, "down.example"), 2);
	assert_int_equal(e->n_tx, 7);
	fake_finish(e, 5, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
	fake_finish(e, 6, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
	run_until_count(e, 0, 2000);
	assert_int_equal(events_matching(e, "\"event\":\"delivered\"", NULL), 3);
}

static void test_lifetime_expires_while_backed_off(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"y@gone.example", "z@gone.example"};

	e->bed.cfg->queue_lifetime_ms = 700;
	e->bed.cfg->min_backoff_ms = 5000; /* the site stays backed off past the lifetime */
	e->bed.cfg->max_backoff_ms = 5000;
	start(e);
	sched_take(e->s, make_msg(e, d, 2));
	sched_take(e->s, make_msg(e, d, 1));
	run_until_open(e, "gone.example", 2, 1000);
	/* one transaction carries both recipients of the first message */
	assert_int_equal(e->tx[0].n_rcpt, 2);
	fake_finish(e, 0, OUTCOME_TEMP, 421, NULL, "4.3.2 Service shutting down", DELIVER_SITE_DOWN);
	fake_finish(e, 1, OUTCOME_TEMP, 421, NULL, "4.3.2 Service shutting down", DELIVER_SITE_DOWN);
	/* retried at the lifetime end (700 ms) but the site is backed off
	 * for 5 s: they fail with 4.4.7 on time, without another attempt */
	run_until_count(e, 0, 3000);
	assert_int_equal(e->n_tx, 2);
	assert_int_equal(events_matching(e, "\"status\":\"expired\"", "\"dsn\":\"4.4.7\""), 3);
	assert_int_equal(events_matching(e, "\"event\":\"failed\"", "Service shutting down"), 3);
	assert_int_equal(events_matching(e, "\"event\":\"failed\"", "delivery time expired"), 3);
}

static void test_temp_retries_until_lifetime(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"p@mixed.example", "q@mixed.example"};

	e->bed.cfg->queue_lifetime_ms = 800;
	start(e);
	sched_take(e->s, make_msg(e, d, 2));
	run_until_open(e, "mixed.example", 1, 1000);
	fake_finish(e, 0, OUTCOME_TEMP, 451, NULL, "4.3.0 try later", DELIVER_SITE_OK);
	/* retried after min_backoff (300 ms +-10%), both in one transaction */
	run_until_open(e, "mixed.example", 1, 1000);
	assert_int_equal(e->tx[1].n_rcpt, 2);
	fake_finish(e, 1, OUTCOME_TEMP, 451, NULL, "4.3.0 try later again", DELIVER_SITE_OK);
	/* next retry is pulled in to the lifetime end; failing then is final */
	run_until_open(e, "mixed.example", 1, 1500);
	fake_finish(e, 2, OUTCOME_TEMP, 451, NULL, "4.3.0 last words", DELIVER_SITE_OK);
	run_until_count(e, 0, 2000);
	assert_int_equal(events_matching(e, "\"status\":\"expired\"", "last words"), 2);
	assert_int_equal(events_matching(e, "\"status\":\"deferred\"", NULL), 4);
}

static void test_hold_release_delete(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"h@hold.example"};
	struct spool_msg *m1, *m2;
	char id1[SPOOL_ID_MAX], id2[SPOOL_ID_MAX];

	start(e);
	m1 = make_msg(e, d, 1);
	m2 = make_msg(e, d, 1);
	util_strlcpy(id1, m1->id, sizeof(id1));
	util_strlcpy(id2, m2->id, sizeof(id2));
	sched_take(e->s, m1);
	assert_int_equal(sched_hold(e->s, id1), 0);
	sched_take(e->s, m2);
	assert_int_equal(sched_hold(e->s, "NOSUCHID"), -1);
	run_until_open(e, "hold.example", 1, 1000);
	run_ms(e, 100);
	/* only the message not held was started */
	assert_int_equal(e->n_tx, 1);
	assert_string_equal(e->tx[0].qid, id2);
	/* delete while in flight: applied after the transaction */
	assert_int_equal(sched_delete(e->s, id2), 0);
	assert_int_equal(sched_count(e->s), 2);
	fake_finish(e, 0, OUTCOME_TEMP, 451, NULL, "4.3.0 later", DELIVER_SITE_OK);
	run_until_count(e, 1, 1000);
	assert_int_equal(events_matching(e, "\"event\":\"deleted\"", id2), 1);
	/* every queue operation event says who did it and to how many */
	assert_int_equal(events_matching(e, "\"event\":\"deleted\"",
					 "\"detail\":\"by queue command; 1 of 1 recipient(s) not "
					 "delivered\""),
			 1);
	/* the held flag is durable: a reload sees it */
	run_ms(e, 50);
	struct spool_msg *again = spool_load(e->bed.sp, id1);
	assert_non_null(again);
	assert_true(again->held);
	spool_msg_free(again);
	assert_int_equal(events_matching(e, "\"event\":\"held\"", id1), 1);
	assert_int_equal(events_matching(e, "\"event\":\"held\"",
					 "\"detail\":\"by queue command; 1 recipient(s) waiting\""),
			 1);
	/* release: it goes out */
	assert_int_equal(sched_release(e->s, id1), 0);
	run_until_open(e, "hold.example", 1, 1000);
	assert_string_equal(e->tx[1].qid, id1);
	fake_finish(e, 1, OUTCOME_PERM, 550, NULL, "5.1.1 no such user", DELIVER_SITE_OK);
	run_until_count(e, 0, 1000);
	assert_int_equal(events_matching(e, "\"status\":\"bounced\"", "no such user"), 1);
	assert_int_equal(events_matching(e, "\"event\":\"released\"", id1), 1);
	assert_int_equal(events_matching(e, "\"event\":\"released\"",
					 "\"detail\":\"by queue command; 1 recipient(s) waiting\""),
			 1);
	assert_int_equal(events_matching(e, "\"event\":\"removed\"",
					 "\"detail\":\"all 1 recipient(s) final\""),
			 1);
}

static void test_hold_in_flight(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"i@inflight.example"};
	struct spool_msg *m;
	char id[SPOOL_ID_MAX];

	start(e);
	m = make_msg(e, d, 1);
	util_strlcpy(id, m->id, sizeof(id));
	sched_take(e->s, m);
	run_until_open(e, "inflight.example", 1, 1000);
	assert_int_equal(sched_hold(e->s, id), 0);
	fake_finish(e, 0, OUTCOME_TEMP, 451, NULL, "4.3.0 later", DELIVER_SITE_OK);
	/* deferred, but held: not retried after min_backoff */
	run_ms(e, 700);
	assert_int_equal(e->n_tx, 1);
	assert_int_equal(sched_count(e->s), 1);
	assert_int_equal(events_matching(e, "\"status\":\"deferred\"", id), 1);
	assert_int_equal(events_matching(e, "\"event\":\"held\"", id), 1);
	assert_int_equal(sched_release(e->s, id), 0);
	run_until_open(e, "inflight.example", 1, 1000);
	fake_finish(e, 1, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
	run_until_count(e, 0, 1000);
}

static void test_update_failure_keeps_message(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"f@full.example"};
	struct spool_msg *m;
	char id[SPOOL_ID_MAX], path[700];

	start(e);
	m = make_msg(e, d, 1);
	util_strlcpy(id, m->id, sizeof(id));
	sched_take(e->s, m);
	run_until_open(e, "full.example", 1, 1000);
	/* the queue file disappears under us: the state cannot be recorded */
	snprintf(path, sizeof(path), "%s/queue/%s", e->bed.dir, id);
	assert_int_equal(unlink(path), 0);
	fake_finish(e, 0, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
	run_ms(e, 700);
	/* not acted on: still queued, no delivered event, no removal */
	assert_int_equal(sched_count(e->s), 1);
	assert_int_equal(events_matching(e, "\"event\":\"delivered\"", NULL), 0);
	assert_int_equal(events_matching(e, "\"event\":\"removed\"", NULL), 0);
	assert_int_equal(e->n_tx, 1);
	assert_int_equal(sched_delete(e->s, id), 0);
	run_until_count(e, 0, 1000);
}

static void test_flush_and_recover(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"r@later.example"};
	struct spool_msg *m;

	e->bed.cfg->min_backoff_ms = 60000;
	e->bed.cfg->max_backoff_ms = 60000;
	/* a message in the spool before the scheduler starts */
	m = make_msg(e, d, 1);
	spool_msg_free(m);
	start(e);
	assert_int_equal(sched_recover(e->s), 1);
	run_until_open(e, "later.example", 1, 1000);
	fake_finish(e, 0, OUTCOME_TEMP, 421, NULL, "4.4.2 down", DELIVER_SITE_DOWN);
	run_ms(e, 200);
	assert_int_equal(e->n_tx, 1); /* next try in a minute */
	sched_flush(e->s);
	run_until_open(e, "later.example", 1, 1000);
	assert_int_equal(e->n_tx, 2);
	fake_finish(e, 1, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
	run_until_count(e, 0, 1000);
}

/* control_request - one request over the control socket while the loop
 * runs; returns the whole reply (caller frees) */
static char *control_request(struct env *e, const char *path, const char *req)
{
	struct sockaddr_un sun;
	struct buf reply = {0};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(util_write_all(fd, req, strlen(req)), 0);
	for (int t = 0; t < 200; t++) {
		char buf[4096];
		ssize_t r;
		run_ms(e, 10);
		while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			buf_append(&reply, buf, (size_t)r);
		if (r == 0)
			break;
	}
	close(fd);
	return reply.data ? buf_steal(&reply) : xstrdup("");
}

static void test_control_protocol(void **state)
{
	struct env *e = *state;
	static const char *const d[] = {"c@ctl.example", "d@ctl.example"};
	char path[600], err[256], want[512];
	struct spool_msg *m;
	char id[SPOOL_ID_MAX];
	char *r;

	start(e);
	snprintf(path, sizeof(path), "%s/control", e->bed.dir);
	assert_int_equal(sched_control_listen(e->s, path, err, sizeof(err)), 0);
	m = make_msg(e, d, 2);
	util_strlcpy(id, m->id, sizeof(id));
	sched_take(e->s, m);
	assert_int_equal(sched_hold(e->s, id), 0);

	r = control_request(e, path, "list\n");
	snprintf(want, sizeof(want),
		 "%s\t24\t%lld\tsender@example.org\t1\t2\n"
		 "\tRCPT\tc@ctl.example\tpending\t0\t0\t\t\n"
		 "\tRCPT\td@ctl.example\tpending\t0\t0\t\t\nOK\n",
		 id, (long long)0);
	/* arrival varies: compare around it */
	char *tab = strchr(strchr(r, '\t') + 1, '\t');
	char *tab_end = strchr(tab + 1, '\t');
	assert_non_null(tab_end);
	memmove(tab + 2, tab_end, strlen(tab_end) + 1);
	tab[1] = '0';
	assert_string_equal(r, want);
	free(r);

	r = control_request(e, path, "show NOSUCH\r\n");
	assert_string_equal(r, "ERR no such message: NOSUCH\n");
	free(r);
	/* a path is not an id, and the reply says which argument was wrong */
	r = control_request(e, path, "hold ../etc\n");
	assert_string_equal(r, "ERR '../etc' is not a queue id\n");
	free(r);
	r = control_request(e, path, "hold ../../etc/passwd\n");
	assert_string_equal(r, "ERR '../../etc/passwd' is not a queue id\n");
	free(r);
	r = control_request(e, path, "hold\n");
	assert_string_equal(r, "ERR hold needs a queue id\n");
	free(r);
	r = control_request(e, path, "frobnicate\n");
	assert_string_equal(r, "ERR unknown command\n");
	free(r);
	char longreq[2000];
	memset(longreq, 'x', sizeof(longreq) - 2);
	longreq[sizeof(longreq) - 2] = '\n';
	longreq[sizeof(longreq) - 1] = '\0';
	r = control_request(e, path, longreq);
	assert_string_equal(r, "ERR request too long\n");
	free(r);

	snprintf(want, sizeof(want), "release %s\n", id);
	r = control_request(e, path, want);
	assert_string_equal(r, "OK\n");
	free(r);
	run_until_open(e, "ctl.example", 1, 1000);
	fake_finish(e, 0, OUTCOME_TEMP, 450, "4.2.0", "Greylisted\tsee\nhttp://x", DELIVER_SITE_OK);
	run_ms(e, 50);
	snprintf(want, sizeof(want), "show %s\n", id);
	r = control_request(e, path, want);
	assert_non_null(strstr(r, "\tRCPT\tc@ctl.example\tdeferred\t1\t"));
	assert_non_null(strstr(r, "\t4.2.0\tGreylisted\\x09see\\x0ahttp://x\n"));
	assert_non_null(strstr(r, "\nOK\n"));
	free(r);
	r = control_request(e, path, "flush\n");
	assert_string_equal(r, "OK\n");
	free(r);
	run_until_open(e, "ctl.example", 1, 1000);
	fake_finish(e, 1, OUTCOME_OK, 250, NULL, "2.0.0 Ok", DELIVER_SITE_OK);
	run_until_count(e, 0, 1000);
	r = control_request(e, path, "list\n");
	assert_string_equal(r, "OK\n");
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrency_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_site_backoff_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifetime_expires_while_backed_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temp_retries_until_lifetime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_release_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_failure_keeps_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_and_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_protocol, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
