/*
 * test_suppress_store.c - the suppression store and its policy, run once
 * against SQLite (a file under MAILERD_TEST_TMP) and once against
 * PostgreSQL when MAILERD_TEST_PG_URL names a database (skipped with a
 * message otherwise). Every test starts from an empty store and pins the
 * clock, so windows and dates are exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "suppress/suppress.h"
#include "util/util.h"

#define DAY (86400000LL)
/* 2026-12-03T10:00:00Z */
#define T0 (1796292000000LL)

static const char *g_url;
static struct suppress_store *g_st;
static char g_err[600];

static int setup(void **state)
{
	(void)state;
	util_clock_set(T0);
	g_st = suppress_open(g_url, NULL, g_err, sizeof(g_err));
	if (g_st == NULL) {
		fprintf(stderr, "open %s: %s\n", g_url, g_err);
		return -1;
	}
	return suppress_wipe(g_st, g_err, sizeof(g_err));
}

static int teardown(void **state)
{
	(void)state;
	suppress_close(g_st);
	g_st = NULL;
	util_clock_set(0);
	return 0;
}

static enum suppress_verdict bounce(const char *addr, const char *reason, bool hard)
{
	struct suppress_bounce b = {.address = addr, .reason = reason, .hard = hard,
				    .status = hard ? "5.1.1" : "4.2.2", .diagnostic = "550 no",
				    .queue_id = "Q1", .message_id = "<m@x>"};
	enum suppress_verdict v;

	assert_int_equal(suppress_record_bounce(g_st, &b, &v, g_err, sizeof(g_err)), 0);
	return v;
}

static bool suppressed(const char *addr, struct suppress_entry *e)
{
	struct suppress_entry tmp;
	int r = suppress_lookup(g_st, addr, e ? e : &tmp, g_err, sizeof(g_err));

	assert_true(r >= 0);
	return r == 1;
}

static void test_open_migrates(void **state)
{
	(void)state;
	assert_int_equal(suppress_schema_version(g_st), 1);
	/* a second open finds the schema in place and changes nothing */
	struct suppress_store *again = suppress_open(g_url, NULL, g_err, sizeof(g_err));
	assert_non_null(again);
	assert_int_equal(suppress_schema_version(again), 1);
	suppress_close(again);
}

static void test_hard_bounce_at_once(void **state)
{
	struct suppress_entry e;
	char text[400];

	(void)state;
	assert_int_equal(bounce("Gone@Example.TEST", "userunknown", true), SUPPRESS_V_SUPPRESSED);
	assert_true(suppressed("gone@example.test", &e));
	assert_string_equal(e.address, "gone@example.test");
	assert_string_equal(e.reason, "userunknown");
	assert_string_equal(e.status, "5.1.1");
	assert_int_equal(e.source, SUPPRESS_SRC_HARD_BOUNCE);
	assert_int_equal(e.created_ms, T0);
	suppress_describe(&e, text, sizeof(text));
	assert_string_equal(text, "recipient suppressed since 2026-12-03 (hard bounce: userunknown 5.1.1)");
	/* the first reason stays */
	util_clock_set(T0 + DAY);
	assert_int_equal(bounce("gone@example.test", "hostunknown", true), SUPPRESS_V_ALREADY);
	assert_true(suppressed("gone@example.test", &e));
	assert_string_equal(e.reason, "userunknown");
	assert_int_equal(e.created_ms, T0);
}

/* Soft bounces: {name, soft bounces, delivery after how many (-1 none),
 * days between bounces, want suppressed} */
static const struct soft_case {
	const char *name;
	int n;
	int delivery_after;
	int64_t gap_ms;
	bool want;
} soft_cases[] = {
	{"four is not enough", 4, -1, DAY, false},
	{"five within the window", 5, -1, DAY, true},
	{"delivery after two resets the count", 5, 2, DAY, false},
	{"delivery then five more", 7, 2, DAY, true},
	{"spread over 20 days: window drops the first", 5, -1, 4 * DAY, false},
	{"five within exactly 14 days", 5, -1, 3 * DAY + DAY / 2, true},
};

static void test_soft_bounces(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(soft_cases) / sizeof(soft_cases[0]); i++) {
		const struct soft_case *c = &soft_cases[i];
		char addr[64];
		bool got;
		snprintf(addr, sizeof(addr), "soft%zu@example.test", i);
		util_clock_set(T0);
		for (int k = 0; k < c->n; k++) {
			if (k == c->delivery_after) {
				util_clock_set(util_now_ms() + 1000);
				assert_int_equal(suppress_record_delivery(g_st, addr, 0, g_err,
									  sizeof(g_err)), 0);
			}
			util_clock_set(T0 + k * c->gap_ms + 2000 * k);
			bounce(addr, "mailboxfull", false);
		}
		got = suppressed(addr, NULL);
		if (got != c->want)
			fail_msg("%s: got suppressed=%d, want %d", c->name, got, c->want);
	}
}

static void test_fourth_then_fifth(void **state)
{
	struct suppress_entry e;

	(void)state;
	for (int k = 0; k < 4; k++)
		assert_int_equal(bounce("full@example.test", "mailboxfull", false), SUPPRESS_V_RECORDED);
	assert_false(suppressed("full@example.test", NULL));
	assert_int_equal(bounce("full@example.test", "mailboxfull", false), SUPPRESS_V_SUPPRESSED);
	assert_true(suppressed("full@example.test", &e));
	assert_int_equal(e.source, SUPPRESS_SRC_SOFT_BOUNCE);
	assert_string_equal(e.reason, "mailboxfull");
}

static void test_complaint_and_other(void **state)
{
	struct suppress_entry e;

	(void)state;
	assert_int_equal(bounce("angry@example.test", "feedback", false), SUPPRESS_V_SUPPRESSED);
	assert_true(suppressed("angry@example.test", &e));
	assert_int_equal(e.source, SUPPRESS_SRC_COMPLAINT);
	/* reasons about the sender never suppress, however often */
	for (int k = 0; k < 10; k++)
		assert_int_equal(bounce("fine@example.test", "blocked", false), SUPPRESS_V_RECORDED);
	assert_false(suppressed("fine@example.test", NULL));
}

static void test_policy_off(void **state)
{
	struct suppress_policy pol;
	struct suppress_store *st;
	struct suppress_bounce b = {.address = "x@example.test", .reason = "userunknown", .hard = true};
	enum suppress_verdict v;

	(void)state;
	suppress_policy_default(&pol);
	pol.hard_bounce = false;
	pol.complaints = false;
	st = suppress_open(g_url, &pol, g_err, sizeof(g_err));
	assert_non_null(st);
	assert_int_equal(suppress_record_bounce(st, &b, &v, g_err, sizeof(g_err)), 0);
	assert_int_equal(v, SUPPRESS_V_RECORDED);
	b.reason = "abuse";
	b.hard = false;
	assert_int_equal(suppress_record_bounce(st, &b, &v, g_err, sizeof(g_err)), 0);
	assert_int_equal(v, SUPPRESS_V_RECORDED);
	suppress_close(st);
	assert_false(suppressed("x@example.test", NULL));
}

static void test_add_remove(void **state)
{
	struct suppress_entry e = {.address = " <Op@Example.test> ", .reason = "asked us",
				   .source = SUPPRESS_SRC_MANUAL};
	struct suppress_stats s;

	(void)state;
	assert_int_equal(suppress_add(g_st, &e, g_err, sizeof(g_err)), 0);
	assert_int_equal(suppress_add(g_st, &e, g_err, sizeof(g_err)), 1);
	assert_true(suppressed("op@example.test", NULL));
	assert_int_equal(suppress_remove(g_st, "OP@example.test", "customer asked again", g_err,
					 sizeof(g_err)), 0);
	assert_false(suppressed("op@example.test", NULL));
	assert_int_equal(suppress_remove(g_st, "op@example.test", "again", g_err, sizeof(g_err)), 1);
	assert_int_equal(suppress_stats(g_st, 10, &s, g_err, sizeof(g_err)), 0);
	assert_int_equal(s.removals, 1);
	assert_int_equal(s.total, 0);
	suppress_stats_free(&s);
	e.address[0] = '\0';
	util_strlcpy(e.address, "no-at-sign", sizeof(e.address));
	assert_int_equal(suppress_add(g_st, &e, g_err, sizeof(g_err)), -1);
	assert_non_null(strstr(g_err, "not an address"));
}

struct collected {
	struct suppress_entry v[16];
	size_t n;
};

static int collect(const struct suppress_entry *e, void *arg)
{
	struct collected *c = arg;

	if (c->n < 16)
		c->v[c->n++] = *e;
	return 0;
}

static void test_csv_round_trip(void **state)
{
	static const struct suppress_entry rows[] = {
		{.address = "plain@example.test", .reason = "userunknown", .status = "5.1.1",
		 .source = SUPPRESS_SRC_HARD_BOUNCE, .created_ms = T0 - 3 * DAY},
		{.address = "quote@example.test", .reason = "said \"stop\", twice",
		 .source = SUPPRESS_SRC_MANUAL, .detail = "line one\nline two", .created_ms = T0},
		{.address = "j\xc3\xb6rg@b\xc3\xbc" "cher.test", .reason = "gr\xc3\xbc\xc3\x9f" "e, bye",
		 .source = SUPPRESS_SRC_COMPLAINT, .created_ms = T0 - DAY},
	};
	struct collected before = {0}, after = {0};
	struct suppress_import_result res;
	char path[512];
	FILE *f;

	(void)state;
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(suppress_add(g_st, &rows[i], g_err, sizeof(g_err)), 0);
	assert_int_equal(suppress_list(g_st, collect, &before, g_err, sizeof(g_err)), 0);
	assert_int_equal(before.n, 3);
	snprintf(path, sizeof(path), "%s/suppress-roundtrip.csv",
		 getenv("MAILERD_TEST_TMP") ? getenv("MAILERD_TEST_TMP") : "/tmp");
	f = fopen(path, "w+");
	assert_non_null(f);
	assert_int_equal(suppress_export_csv(g_st, f, g_err, sizeof(g_err)), 0);
	rewind(f);
	{
		char head[128];
		assert_non_null(fgets(head, sizeof(head), f));
		assert_string_equal(head, "address,reason,source,created_at,status,detail\r\n");
		rewind(f);
	}
	assert_int_equal(suppress_wipe(g_st, g_err, sizeof(g_err)), 0);
	assert_int_equal(suppress_import_csv(g_st, f, stderr, &res, g_err, sizeof(g_err)), 0);
	fclose(f);
	unlink(path);
	assert_int_equal(res.added, 3);
	assert_int_equal(res.skipped, 0);
	assert_int_equal(suppress_list(g_st, collect, &after, g_err, sizeof(g_err)), 0);
	assert_int_equal(after.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(after.v[i].address, before.v[i].address);
		assert_string_equal(after.v[i].reason, before.v[i].reason);
		assert_string_equal(after.v[i].status, before.v[i].status);
		assert_string_equal(after.v[i].detail, before.v[i].detail);
		assert_int_equal(after.v[i].source, before.v[i].source);
		assert_int_equal(after.v[i].created_ms, before.v[i].created_ms);
	}
}

static void test_csv_import_forms(void **state)
{
	static const char csv[] =
		"name,Email,notes\n"
		"Ann,ann@example.test,\"likes, commas\"\n"
		"Bad,not an address,x\n"
		"Bob,<BOB@example.test>,\n"
		"Ann again,ann@example.test,dup\n"
		"\n";
	struct suppress_import_result res;
	struct suppress_entry e;
	FILE *f = fmemopen((void *)csv, sizeof(csv) - 1, "r");
	char errbuf[512] = {0};
	FILE *ef = fmemopen(errbuf, sizeof(errbuf), "w");

	(void)state;
	assert_int_equal(suppress_import_csv(g_st, f, ef, &res, g_err, sizeof(g_err)), 0);
	fclose(f);
	fclose(ef);
	assert_int_equal(res.added, 2);
	assert_int_equal(res.existing, 1);
	assert_int_equal(res.skipped, 1);
	assert_non_null(strstr(errbuf, "3: 'not an address'"));
	assert_true(suppressed("bob@example.test", &e));
	assert_int_equal(e.source, SUPPRESS_SRC_IMPORT);

	/* no header: the first column is the address */
	static const char bare[] = "carl@example.test,whatever\r\ndora@example.test\r\n";
	f = fmemopen((void *)bare, sizeof(bare) - 1, "r");
	assert_int_equal(suppress_import_csv(g_st, f, NULL, &res, g_err, sizeof(g_err)), 0);
	fclose(f);
	assert_int_equal(res.added, 2);
	assert_true(suppressed("carl@example.test", NULL));
	assert_true(suppressed("dora@example.test", NULL));
}

static void test_stats(void **state)
{
	struct suppress_stats s;

	(void)state;
	bounce("a@one.test", "userunknown", true);
	bounce("b@one.test", "userunknown", true);
	bounce("c@two.test", "hostunknown", true);
	bounce("d@two.test", "feedback", false);
	bounce("e@two.test", "mailboxfull", false);
	bounce("f@two.test", "blocked", false);
	assert_int_equal(suppress_record_backscatter(g_st, "bad-tag", "forged", g_err,
						     sizeof(g_err)), 0);
	assert_int_equal(suppress_record_backscatter(g_st, "no-tag", "", g_err, sizeof(g_err)), 0);
	assert_int_equal(suppress_stats(g_st, 10, &s, g_err, sizeof(g_err)), 0);
	assert_int_equal(s.total, 4);
	assert_int_equal(s.n_reason, 3);
	assert_string_equal(s.by_reason[0].key, "userunknown (hard-bounce)");
	assert_int_equal(s.by_reason[0].n, 2);
	assert_int_equal(s.n_domain, 2);
	assert_string_equal(s.by_domain[0].key, "one.test");
	assert_int_equal(s.by_domain[0].n, 2);
	assert_string_equal(s.by_domain[1].key, "two.test");
	assert_int_equal(s.by_domain[1].n, 2);
	assert_int_equal(s.bounces_hard, 3);
	assert_int_equal(s.bounces_soft, 1);
	assert_int_equal(s.complaints, 1);
	assert_int_equal(s.bounces_other, 1);
	assert_int_equal(s.backscatter, 2);
	suppress_stats_free(&s);
}

struct feed {
	char addr[8][64];
	bool present[8];
	size_t n;
};

static void on_feed(const struct suppress_entry *e, bool present, void *arg)
{
	struct feed *f = arg;

	if (f->n < 8) {
		util_strlcpy(f->addr[f->n], e->address, sizeof(f->addr[0]));
		f->present[f->n++] = present;
	}
}

static void test_change_feed(void **state)
{
	struct suppress_entry e = {.address = "feed@example.test", .reason = "r",
				   .source = SUPPRESS_SRC_MANUAL};
	struct feed f = {0};
	int64_t seq, seq0;

	(void)state;
	assert_int_equal(suppress_watermark(g_st, &seq0, g_err, sizeof(g_err)), 0);
	seq = seq0;
	assert_int_equal(suppress_add(g_st, &e, g_err, sizeof(g_err)), 0);
	assert_int_equal(suppress_changes(g_st, &seq, on_feed, &f, g_err, sizeof(g_err)), 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.addr[0], "feed@example.test");
	assert_true(f.present[0]);
	assert_true(seq > seq0);
	f.n = 0;
	assert_int_equal(suppress_remove(g_st, "feed@example.test", "test", g_err, sizeof(g_err)), 0);
	assert_int_equal(suppress_changes(g_st, &seq, on_feed, &f, g_err, sizeof(g_err)), 0);
	/* the replayed add (PostgreSQL) and the remove both say: absent now */
	assert_true(f.n >= 1);
	for (size_t i = 0; i < f.n; i++)
		assert_false(f.present[i]);
}

static void test_cache_sees_other_writers(void **state)
{
	struct suppress_cache *c;
	struct suppress_hit hit;
	struct suppress_entry e = {.address = "late@example.test", .reason = "manual test",
				   .source = SUPPRESS_SRC_MANUAL};
	struct suppress_bounce b = {.address = "cache@example.test", .reason = "userunknown",
				    .hard = true, .status = "5.1.1"};

	(void)state;
	bounce("early@example.test", "userunknown", true);
	c = suppress_cache_new(g_url, NULL, 100, g_err, sizeof(g_err));
	assert_non_null(c);
	assert_int_equal(suppress_cache_count(c), 1);
	assert_true(suppress_cache_check(c, "EARLY@example.test", &hit));
	assert_string_equal(hit.text,
			    "recipient suppressed since 2026-12-03 (hard bounce: userunknown 5.1.1)");
	assert_false(suppress_cache_check(c, "late@example.test", NULL));
	/* another writer (the command line, another node) */
	assert_int_equal(suppress_add(g_st, &e, g_err, sizeof(g_err)), 0);
	suppress_cache_sync(c);
	assert_true(suppress_cache_check(c, "late@example.test", &hit));
	assert_int_equal(hit.source, SUPPRESS_SRC_MANUAL);
	assert_string_equal(hit.reason, "manual test");
	/* a write through the cache's worker */
	suppress_cache_bounce(c, &b);
	suppress_cache_sync(c);
	assert_true(suppress_cache_check(c, "cache@example.test", NULL));
	assert_true(suppressed("cache@example.test", NULL));
	/* removal elsewhere is seen too */
	assert_int_equal(suppress_remove(g_st, "late@example.test", "t", g_err, sizeof(g_err)), 0);
	suppress_cache_sync(c);
	assert_false(suppress_cache_check(c, "late@example.test", NULL));
	suppress_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_migrates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_bounce_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_soft_bounces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fourth_then_fifth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complaint_and_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_import_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_sees_other_writers, setup, teardown),
	};
	const char *tmp = getenv("MAILERD_TEST_TMP");
	const char *pg = getenv("MAILERD_TEST_PG_URL");
	char url[600];
	int failed;

	log_set_level(LOG_WARN);
	if (tmp && *tmp)
		util_mkdir_p(tmp, 0755);
	snprintf(url, sizeof(url), "sqlite:%s/suppress-unit-%d.db", tmp && *tmp ? tmp : "/tmp",
		 (int)getpid());
	g_url = url;
	failed = cmocka_run_group_tests_name("suppress store on SQLite", tests, NULL, NULL);
	{
		/* the WAL files go with the database */
		char p[640];
		unlink(url + 7);
		snprintf(p, sizeof(p), "%s-wal", url + 7);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", url + 7);
		unlink(p);
	}
	if (pg && *pg) {
		g_url = pg;
		failed += cmocka_run_group_tests_name("suppress store on PostgreSQL", tests, NULL,
						      NULL);
	} else {
		printf("[  SKIPPED ] suppress store on PostgreSQL: MAILERD_TEST_PG_URL not set\n");
	}
	return failed;
}
