/*
 * test_smtp_limits.c - the admission limits of limit.c, driven as tables
 * of steps {operation, client address, time, expected result}: connection
 * slots in total and per address (given back on disconnect), and the
 * per-address message token bucket (N at once, then N per minute, each
 * address on its own). Mismatches print "step N: got X, want Y".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp.h"

enum op { CONNECT, DISCONNECT, MESSAGE, TOTAL, CONNS };

struct step {
	enum op op;
	const char *ip;
	int64_t now_ms;
	long want; /* verdict, 1/0 for MESSAGE, a count for TOTAL/CONNS */
};

struct table {
	const char *name;
	uint64_t max_conn, max_ip, per_min;
	struct step steps[24];
	size_t n;
};

#define A "192.0.2.1"
#define B "192.0.2.2"
#define V6 "2001:db8::1"

static const struct table tables[] = {
	{"total limit", 3, 0, 0,
	 {{CONNECT, A, 0, SMTP_LIMIT_OK}, {CONNECT, B, 0, SMTP_LIMIT_OK},
	  {CONNECT, V6, 0, SMTP_LIMIT_OK}, {CONNECT, A, 0, SMTP_LIMIT_TOTAL},
	  {TOTAL, NULL, 0, 3}, {DISCONNECT, B, 0, 0}, {TOTAL, NULL, 0, 2},
	  {CONNECT, A, 0, SMTP_LIMIT_OK}, {CONNS, A, 0, 2}},
	 9},
	{"per address limit", 0, 2, 0,
	 {{CONNECT, A, 0, SMTP_LIMIT_OK}, {CONNECT, A, 0, SMTP_LIMIT_OK},
	  {CONNECT, A, 0, SMTP_LIMIT_PER_IP}, {CONNECT, B, 0, SMTP_LIMIT_OK},
	  {CONNS, A, 0, 2}, {TOTAL, NULL, 0, 3}, {DISCONNECT, A, 0, 0},
	  {CONNECT, A, 0, SMTP_LIMIT_OK}, {CONNECT, A, 0, SMTP_LIMIT_PER_IP}},
	 9},
	{"refused connection takes no slot", 2, 1, 0,
	 {{CONNECT, A, 0, SMTP_LIMIT_OK}, {CONNECT, A, 0, SMTP_LIMIT_PER_IP},
	  {CONNECT, A, 0, SMTP_LIMIT_PER_IP}, {TOTAL, NULL, 0, 1}, {CONNS, A, 0, 1},
	  {CONNECT, B, 0, SMTP_LIMIT_OK}, {CONNECT, V6, 0, SMTP_LIMIT_TOTAL}, {TOTAL, NULL, 0, 2}},
	 8},
	{"disconnect of an unknown address is ignored", 0, 0, 0,
	 {{DISCONNECT, A, 0, 0}, {TOTAL, NULL, 0, 0}, {CONNECT, A, 0, SMTP_LIMIT_OK},
	  {DISCONNECT, A, 0, 0}, {DISCONNECT, A, 0, 0}, {TOTAL, NULL, 0, 0}, {CONNS, A, 0, 0}},
	 7},
	{"no limits", 0, 0, 0,
	 {{CONNECT, A, 0, SMTP_LIMIT_OK}, {CONNECT, A, 0, SMTP_LIMIT_OK}, {CONNECT, A, 0, SMTP_LIMIT_OK},
	  {MESSAGE, A, 0, 1}, {MESSAGE, A, 0, 1}, {MESSAGE, A, 0, 1}, {MESSAGE, A, 0, 1},
	  {TOTAL, NULL, 0, 3}},
	 8},
	{"rate: burst of N then refused", 0, 0, 3,
	 {{MESSAGE, A, 0, 1}, {MESSAGE, A, 10, 1}, {MESSAGE, A, 20, 1}, {MESSAGE, A, 30, 0},
	  {MESSAGE, A, 19999, 0},
	  /* 3 a minute: one token back every 20 s */
	  {MESSAGE, A, 20030, 1}, {MESSAGE, A, 20040, 0},
	  /* a full minute later the bucket is full again, not fuller */
	  {MESSAGE, A, 200000, 1}, {MESSAGE, A, 200000, 1}, {MESSAGE, A, 200000, 1},
	  {MESSAGE, A, 200000, 0}},
	 11},
	{"rate: each address has its own bucket", 0, 0, 1,
	 {{MESSAGE, A, 0, 1}, {MESSAGE, A, 0, 0}, {MESSAGE, B, 0, 1}, {MESSAGE, V6, 0, 1},
	  {MESSAGE, B, 1000, 0}, {MESSAGE, A, 60000, 1}},
	 6},
	{"rate: survives reconnecting", 0, 5, 2,
	 {{CONNECT, A, 0, SMTP_LIMIT_OK}, {MESSAGE, A, 0, 1}, {MESSAGE, A, 0, 1},
	  {DISCONNECT, A, 0, 0}, {CONNECT, A, 100, SMTP_LIMIT_OK}, {MESSAGE, A, 100, 0},
	  {DISCONNECT, A, 200, 0},
	  /* a fresh address meanwhile (may sweep idle entries of its chain) */
	  {CONNECT, B, 300, SMTP_LIMIT_OK}, {MESSAGE, A, 400, 0}, {MESSAGE, A, 30400, 1}},
	 10},
	{"rate: clock going back does not add tokens", 0, 0, 1,
	 {{MESSAGE, A, 100000, 1}, {MESSAGE, A, 0, 0}, {MESSAGE, A, 100000, 0},
	  {MESSAGE, A, 160000, 1}},
	 4},
};

static void test_tables(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		const struct table *tb = &tables[t];
		struct smtp_limits *l = smtp_limits_new(tb->max_conn, tb->max_ip, tb->per_min);

		for (size_t i = 0; i < tb->n; i++) {
			const struct step *st = &tb->steps[i];
			long got = 0;

			switch (st->op) {
			case CONNECT:
				got = (long)smtp_limits_connect(l, st->ip, st->now_ms);
				break;
			case DISCONNECT:
				smtp_limits_disconnect(l, st->ip, st->now_ms);
				break;
			case MESSAGE:
				got = smtp_limits_message(l, st->ip, st->now_ms) ? 1 : 0;
				break;
			case TOTAL:
				got = (long)smtp_limits_total(l);
				break;
			case CONNS:
				got = (long)smtp_limits_conns(l, st->ip, st->now_ms);
				break;
			}
			if (got != st->want) {
				printf("%s: step %zu: got %ld, want %ld\n", tb->name, i + 1, got, st->want);
				failures++;
			}
		}
		smtp_limits_free(l);
	}
	assert_int_equal(failures, 0);
}

/* Many addresses come and go: entries of idle addresses are dropped, so
 * counts stay exact and nothing leaks (the sanitizer build checks). */
static void test_many_addresses(void **state)
{
	struct smtp_limits *l = smtp_limits_new(0, 2, 10);
	char ip[64];

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 5000; i++) {
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", round, i / 256, i % 256);
			assert_int_equal(smtp_limits_connect(l, ip, round * 120000), SMTP_LIMIT_OK);
			assert_true(smtp_limits_message(l, ip, round * 120000));
		}
		assert_int_equal(smtp_limits_total(l), 5000);
		for (int i = 0; i < 5000; i++) {
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", round, i / 256, i % 256);
			smtp_limits_disconnect(l, ip, round * 120000);
		}
		assert_int_equal(smtp_limits_total(l), 0);
	}
	snprintf(ip, sizeof(ip), "10.0.0.1");
	assert_int_equal(smtp_limits_conns(l, ip, 1000000), 0);
	smtp_limits_free(l);
	smtp_limits_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_many_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
