/*
 * test_report_rules.c - who gets a report and what it says: the NOTIFY
 * decision table (RFC 3461 section 4.1) and the loop-safety rules (null
 * sender, reports about reports, the one double bounce), the reason
 * classes and the "did you mean" table, operator templates, and queueing a
 * report through a real spool, blocking and on the event loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/event.h>

#include "test_report_fixture.h"

static char *tmpdir;

static int setup(void **state)
{
	(void)state;
	tmpdir = fx_tmpdir("reportr");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_rmdir(tmpdir);
	return 0;
}

struct notify_case {
	const char *name;
	const char *sender;
	enum spool_origin origin;
	unsigned notify;
	enum report_kind kind;
	bool want;
};

static void test_notify_table(void **state)
{
	static const struct notify_case cases[] = {
	    {"default failure", "a@x", SPOOL_ORIGIN_SMTP, 0, REPORT_FAILED, true},
	    {"default delay", "a@x", SPOOL_ORIGIN_SMTP, 0, REPORT_DELAYED, true},
	    {"default no success", "a@x", SPOOL_ORIGIN_SMTP, 0, REPORT_DELIVERED, false},
	    {"default no relayed", "a@x", SPOOL_ORIGIN_SMTP, 0, REPORT_RELAYED, false},
	    {"never failure", "a@x", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_NEVER, REPORT_FAILED, false},
	    {"never delay", "a@x", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_NEVER, REPORT_DELAYED, false},
	    {"success only: delivered", "a@x", SPOOL_ORIGIN_LOCAL, DSN_NOTIFY_SUCCESS,
	     REPORT_DELIVERED, true},
	    {"success only: relayed", "a@x", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_SUCCESS, REPORT_RELAYED,
	     true},
	    {"success only: no failure", "a@x", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_SUCCESS,
	     REPORT_FAILED, false},
	    {"failure only: no delay", "a@x", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_FAILURE, REPORT_DELAYED,
	     false},
	    {"delay only: delay", "a@x", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_DELAY, REPORT_DELAYED, true},
	    {"delay only: no failure", "a@x", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_DELAY, REPORT_FAILED,
	     false},
	    {"all three", "a@x", SPOOL_ORIGIN_SMTP,
	     DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY, REPORT_DELIVERED, true},
	    {"null sender never", "", SPOOL_ORIGIN_SMTP, DSN_NOTIFY_FAILURE, REPORT_FAILED, false},
	    {"null sender default", "", SPOOL_ORIGIN_SMTP, 0, REPORT_DELAYED, false},
	    {"report never to sender", "a@x", SPOOL_ORIGIN_REPORT, DSN_NOTIFY_FAILURE,
	     REPORT_FAILED, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = spool_msg_new();
		struct spool_rcpt *r = spool_msg_add_rcpt(m, "b@y");
		bool got;

		util_strlcpy(m->sender, cases[i].sender, sizeof(m->sender));
		m->origin = cases[i].origin;
		r->notify = cases[i].notify;
		got = report_should_send(m, r, cases[i].kind);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, got, cases[i].want);
		spool_msg_free(m);
	}
}

struct decide_case {
	const char *name;
	const char *sender;
	enum spool_origin origin;
	const char *rcpt;
	unsigned notify;
	enum report_kind kind;
	enum report_target want;
};

static void test_decide_double_bounce(void **state)
{
	static const struct decide_case cases[] = {
	    {"ordinary failure", "a@x", SPOOL_ORIGIN_SMTP, "b@y", 0, REPORT_FAILED,
	     REPORT_TO_SENDER},
	    {"notify never", "a@x", SPOOL_ORIGIN_SMTP, "b@y", DSN_NOTIFY_NEVER, REPORT_FAILED,
	     REPORT_TO_NOBODY},
	    {"failed report: double bounce", "", SPOOL_ORIGIN_REPORT, "a@x", DSN_NOTIFY_NEVER,
	     REPORT_FAILED, REPORT_TO_POSTMASTER},
	    {"delayed report: nothing", "", SPOOL_ORIGIN_REPORT, "a@x", DSN_NOTIFY_NEVER,
	     REPORT_DELAYED, REPORT_TO_NOBODY},
	    {"failed double bounce: nothing", "", SPOOL_ORIGIN_REPORT, "postmaster@" FX_HOST,
	     DSN_NOTIFY_NEVER, REPORT_FAILED, REPORT_TO_NOBODY},
	    {"postmaster case-insensitive", "", SPOOL_ORIGIN_REPORT, "PostMaster@MAIL.example.org",
	     DSN_NOTIFY_NEVER, REPORT_FAILED, REPORT_TO_NOBODY},
	    {"bare postmaster", "", SPOOL_ORIGIN_REPORT, "postmaster", DSN_NOTIFY_NEVER,
	     REPORT_FAILED, REPORT_TO_NOBODY},
	    {"someone else's postmaster", "", SPOOL_ORIGIN_REPORT, "postmaster@other.example",
	     DSN_NOTIFY_NEVER, REPORT_FAILED, REPORT_TO_POSTMASTER},
	    {"null-sender mail, not a report", "", SPOOL_ORIGIN_SMTP, "b@y", 0, REPORT_FAILED,
	     REPORT_TO_NOBODY},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = spool_msg_new();
		struct spool_rcpt *r = spool_msg_add_rcpt(m, cases[i].rcpt);
		enum report_target got;

		util_strlcpy(m->sender, cases[i].sender, sizeof(m->sender));
		m->origin = cases[i].origin;
		r->notify = cases[i].notify;
		got = report_decide(m, r, cases[i].kind, FX_HOST);
		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, got, cases[i].want);
		spool_msg_free(m);
	}
}

static void test_did_you_mean(void **state)
{
	static const struct {
		const char *in, *want; /* want NULL: no suggestion */
	} cases[] = {
	    {"gmial.com", "gmail.com"},  {"hotmial.com", "hotmail.com"},
	    {"yahooo.com", "yahoo.com"}, {"outlok.com", "outlook.com"},
	    {"yaho.com", "yahoo.com"},   {"GMAIL.CON", "gmail.com"},
	    {"gmail.com.", NULL},        {"gmail.com", NULL},
	    {"unknown-corp.com", NULL},  {"example.com", NULL},
	    {"hotmail.co.uk", NULL},     {"", NULL},
	    /* TLD slips (issue 6, contacts check) */
	    {"hotmial.con", "hotmail.com"}, {"gmial.con", "gmail.com"},
	    {"gmail.cmo", "gmail.com"},     {"yahoo.co", "yahoo.com"},
	    {"example.con", "example.com"}, {"example.co", NULL},
	    {"example.cm", NULL},           {"outlook.ocm", "outlook.com"},
	    /* real neighbours are not slips */
	    {"hotmail.it", NULL},           {"ymail.com", NULL},
	    {"mail.com", NULL},             {"att.com", NULL},
	    {"gmail", "gmail.com"},         {"localhost", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[64] = "";
		bool found = report_suggest_domain(cases[i].in, got, sizeof(got));

		if (cases[i].want == NULL && found)
			fail_msg("%s: got %s, want no suggestion", cases[i].in, got);
		if (cases[i].want != NULL && (!found || strcmp(got, cases[i].want) != 0))
			fail_msg("%s: got %s, want %s", cases[i].in, found ? got : "(none)",
			         cases[i].want);
	}
}

static void test_classify_table(void **state)
{
	static const struct {
		int code; /* 0: our own words with status */
		const char *status, *text, *want;
	} cases[] = {
	    {550, NULL, "5.1.1 <b@y>: Recipient address rejected: User unknown", "userunknown"},
	    {550, NULL, "No such user here", "userunknown"},
	    {0, "5.1.2", "Host or domain name not found: domain y does not exist (NXDOMAIN)",
	     "hostunknown"},
	    {0, "5.1.10", "domain y does not accept mail (null MX)", "notaccept"},
	    {556, NULL, "5.1.10 Recipient address has null MX", "notaccept"},
	    {452, NULL, "4.2.2 mailbox full", "mailboxfull"},
	    {552, NULL, "Mailbox is full / Over quota", "mailboxfull"},
	    {550, NULL, "5.7.1 sender not on allowlist", "filtered"},
	    {550, NULL, "5.7.1 Message rejected as spam", "blocked"},
	    {554, NULL, "Your IP is listed in a DNS blocklist", "blocked"},
	    {552, NULL, "5.3.4 Message size exceeds fixed limit", "mesgtoobig"},
	    {0, "4.4.7",
	     "delivery time expired (queue_lifetime); last error: 452 4.2.2 mailbox "
	     "full",
	     "mailboxfull"},
	    {0, "4.4.7", "delivery time expired (queue_lifetime); last error: none", "expired"},
	    {554, NULL, "Transaction failed", "other"},
	    /* our own suppression list, not the receiving server */
	    {0, "5.1.1",
	     "<b@y>: recipient suppressed since 2026-12-03 (hard bounce: userunknown 5.1.1)",
	     "suppressed"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome o;
		const char *got;

		if (cases[i].code > 0)
			outcome_from_reply(&o, cases[i].code, cases[i].text, "mx.y[192.0.2.1]:25");
		else
			outcome_set(&o, cases[i].status[0] == '4' ? OUTCOME_TEMP : OUTCOME_PERM, 0,
			            cases[i].status, "", "%s", cases[i].text);
		got = report_reason_name(report_classify(&o));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].text, got, cases[i].want);
	}
}

static void test_templates_dir(void **state)
{
	struct spool_msg *m = fx_msg();
	size_t idx[] = {0, 1};
	struct report_request req;
	char *tdir = xasprintf("%s/templates", tmpdir), *path, *rep;
	FILE *f;

	(void)state;
	if (util_mkdir_p(tdir, 0700) < 0)
		fail_msg("mkdir %s", tdir);
	path = xasprintf("%s/userunknown.txt", tdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("${recipient} has left us (${status}).\nTheir server: ${remote_text}\n"
	      "Optional: ${suggestion}\n",
	      f);
	assert_int_equal(fclose(f), 0);
	fx_rcpt(m, "bob@example.net", 550, "5.1.1 gone", "mx.example.net[192.0.2.7]:25");
	fx_rcpt(m, "carol@example.net", 552, "5.2.2 over quota", "mx.example.net[192.0.2.7]:25");
	req = fx_req(m, idx, REPORT_FAILED, -1);
	req.templates_dir = tdir;
	rep = fx_compose(&req);
	assert_non_null(strstr(rep, "\r\nbob@example.net has left us (5.1.1).\r\n"
	                            "Their server: 550 5.1.1 gone\r\n"));
	/* an empty placeholder drops its line */
	assert_null(strstr(rep, "Optional:"));
	/* reasons without a file keep the built-in text */
	assert_non_null(strstr(rep, "<carol@example.net>: mailbox full\r\n"));
	free(rep);
	free(path);
	free(tdir);
	spool_msg_free(m);
}

/* Commits FX_BODY as an original into sp; returns the envelope. */
static struct spool_msg *commit_original(struct spool *sp, const char *sender)
{
	struct spool_writer *w = spool_writer_new(sp);
	struct spool_msg *m = fx_msg();

	assert_non_null(w);
	util_strlcpy(m->sender, sender, sizeof(m->sender));
	assert_int_equal(spool_writer_write(w, FX_BODY, strlen(FX_BODY)), 0);
	fx_rcpt(m, "bob@example.net", 550, "5.1.1 unknown", "mx.example.net[192.0.2.7]:25");
	fx_rcpt(m, "carol@example.net", 550, "5.1.1 unknown", "mx.example.net[192.0.2.7]:25");
	m->rcpt[1].notify = DSN_NOTIFY_NEVER;
	assert_int_equal(spool_writer_commit_sync(w, m), 0);
	return m;
}

static void test_queue_sync(void **state)
{
	char *dir = xasprintf("%s/spool-sync", tmpdir), err[256], id[SPOOL_ID_MAX],
	     id2[SPOOL_ID_MAX];
	struct spool *sp = spool_open(dir, NULL, 0, err, sizeof(err));
	struct spool_msg *orig, *rep, *dbl;
	size_t idx[] = {0, 1};
	struct report_request req;
	int fd;
	size_t len;
	char body[8192];
	ssize_t n;

	(void)state;
	assert_non_null(sp);
	orig = commit_original(sp, "alice@example.org");
	req = fx_req(orig, idx, REPORT_FAILED, -1); /* the queue opens the body */
	assert_int_equal(report_queue_sync(sp, &req, id, sizeof(id), err, sizeof(err)), 0);

	rep = spool_load(sp, id);
	assert_non_null(rep);
	assert_string_equal(rep->sender, "");
	assert_int_equal(rep->origin, SPOOL_ORIGIN_REPORT);
	assert_int_equal(rep->n_rcpt, 1);
	assert_string_equal(rep->rcpt[0].addr, "alice@example.org");
	assert_int_equal(rep->rcpt[0].notify, DSN_NOTIFY_NEVER);
	assert_int_equal(spool_body_open(sp, rep, &fd, &len), 0);
	n = read(fd, body, sizeof(body) - 1);
	close(fd);
	assert_true(n > 0);
	body[n] = '\0';
	/* bob is reported, carol (NOTIFY=NEVER) is not */
	assert_non_null(strstr(body, "Final-Recipient: rfc822; bob@example.net\r\n"));
	assert_null(strstr(body, "carol@example.net"));
	assert_non_null(strstr(body, "\r\nHi Bob,\r\n"));

	/* the report fails: one double bounce to the postmaster */
	rep->rcpt[0].state = RCPT_FAILED;
	outcome_from_reply(&rep->rcpt[0].last, 550, "5.1.1 no alice",
	                   "mx.example.org[192.0.2.3]:25");
	{
		size_t one[] = {0};
		struct report_request r2 = fx_req(rep, one, REPORT_FAILED, -1);

		r2.n_rcpt = 1;
		assert_int_equal(report_queue_sync(sp, &r2, id2, sizeof(id2), err, sizeof(err)), 0);
		dbl = spool_load(sp, id2);
		assert_non_null(dbl);
		assert_string_equal(dbl->rcpt[0].addr, "postmaster@" FX_HOST);
		assert_int_equal(dbl->origin, SPOOL_ORIGIN_REPORT);
		assert_string_equal(dbl->sender, "");

		/* the double bounce fails: nothing more */
		dbl->rcpt[0].state = RCPT_FAILED;
		r2.msg = dbl;
		assert_int_equal(report_queue_sync(sp, &r2, id2, sizeof(id2), err, sizeof(err)), 1);
		/* a delay of a report: nothing */
		r2.msg = rep;
		r2.kind = REPORT_DELAYED;
		assert_int_equal(report_queue_sync(sp, &r2, id2, sizeof(id2), err, sizeof(err)), 1);
	}
	/* a null-sender original: nothing */
	util_strlcpy(orig->sender, "", sizeof(orig->sender));
	assert_int_equal(report_queue_sync(sp, &req, id2, sizeof(id2), err, sizeof(err)), 1);

	spool_msg_free(dbl);
	spool_msg_free(rep);
	spool_msg_free(orig);
	spool_free(sp);
	free(dir);
}

struct async_result {
	int calls, err;
	char id[SPOOL_ID_MAX];
	struct event_base *base;
};

static void on_queued(int err, const char *id, struct spool_msg *msg, void *arg)
{
	struct async_result *res = arg;

	res->calls++;
	res->err = err;
	if (id != NULL)
		util_strlcpy(res->id, id, sizeof(res->id));
	spool_msg_free(msg);
	event_base_loopbreak(res->base);
}

static void test_queue_async(void **state)
{
	char *dir = xasprintf("%s/spool-async", tmpdir), err[256];
	struct event_base *base = event_base_new();
	struct spool *sp = spool_open(dir, base, SPOOL_OPEN_DAEMON, err, sizeof(err));
	struct async_result res = {.base = base};
	struct spool_msg *orig, *rep;
	size_t idx[] = {0};
	struct report_request req;
	struct timeval tv = {10, 0};

	(void)state;
	assert_non_null(sp);
	orig = commit_original(sp, "alice@example.org");
	req = fx_req(orig, idx, REPORT_DELAYED, -1);
	req.n_rcpt = 1;
	assert_int_equal(report_queue(sp, &req, on_queued, &res, err, sizeof(err)), 0);
	event_base_loopexit(base, &tv); /* a bound, should the callback never come */
	event_base_dispatch(base);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.err, 0);
	rep = spool_load(sp, res.id);
	assert_non_null(rep);
	assert_string_equal(rep->rcpt[0].addr, "alice@example.org");
	spool_msg_free(rep);
	spool_msg_free(orig);
	spool_free(sp);
	event_base_free(base);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_notify_table),  cmocka_unit_test(test_decide_double_bounce),
	    cmocka_unit_test(test_did_you_mean),  cmocka_unit_test(test_classify_table),
	    cmocka_unit_test(test_templates_dir), cmocka_unit_test(test_queue_sync),
	    cmocka_unit_test(test_queue_async),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
