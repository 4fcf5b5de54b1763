/*
 * test_spool_format.c - the spool file format in memory: envelopes with
 * hostile strings survive a round trip, state records replay in order
 * (later wins), a torn record is skipped and the state before it stands,
 * a damaged header or envelope is refused, queue ids look and sort as
 * promised, and the optional report marks of a rcpt record parse with and
 * without the token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool/spool_int.h"

/* file_image - a whole file in memory as the writer lays it out */
static void file_image(struct spool_msg *m, const char *body, struct buf *out)
{
	struct spool_header h = {0};
	struct buf env = {0};
	char head[SPOOL_HEADER_LEN];

	spool_format_envelope(m, &env);
	h.body_len = strlen(body);
	h.env_len = (uint32_t)env.len;
	h.env_crc = spool_crc32(env.data, env.len);
	spool_format_header(&h, head);
	buf_reset(out);
	buf_append(out, head, sizeof(head));
	buf_puts(out, body);
	buf_append(out, env.data, env.len);
	spool_format_state(m, true, out);
	buf_free(&env);
}

static struct spool_msg *parse(const struct buf *b, char *why, size_t whylen)
{
	return spool_parse_file(b->data, b->len, why, whylen);
}

static char long_addr[SPOOL_PATH_MAX];
static char long_orcpt[SPOOL_ORCPT_MAX];
static char long_envid[SPOOL_ENVID_MAX];
static char long_client[300];
static char all_controls[40];

static void fill(char *s, size_t size, char c)
{
	memset(s, c, size - 1);
	s[size - 1] = '\0';
}

static void test_envelope_roundtrip(void **state)
{
	struct {
		const char *name, *sender, *envid, *client, *addr, *orcpt;
	} cases[] = {
		{"plain", "a@example.com", "ENV1", "mx (192.0.2.1)", "b@example.org", "rfc822;b@example.org"},
		{"null sender and empties", "", "", "", "x@y", ""},
		{"dash alone", "-", "-", "-", "-", "-"},
		{"CR LF forging", "a@b\r\nR 00000005 00000000 flags", "e\nend 0", "c\r\nrcpt x y 0",
		 "r@x\nrcpt evil@x - 0", "rfc822;\r\n"},
		{"percent and spaces", "%41 %%", "100%", "  lead and trail  ", "a b@c", "%"},
		{"control bytes", all_controls, "\x7f", "\t\v\f", "\x01@\x1f", "\x1b[0m"},
		{"utf-8", "j\xc3\xb6rg@b\xc3\xbc\x63her.example", "\xe2\x82\xac", "h\xc3\xa9lo (::1)",
		 "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", "utf-8;x"},
		{"max lengths", long_addr, long_envid, long_client, long_addr, long_orcpt},
	};
	struct buf b = {0};
	char why[128];

	(void)state;
	fill(long_addr, sizeof(long_addr), 'a');
	fill(long_orcpt, sizeof(long_orcpt), '%');
	fill(long_envid, sizeof(long_envid), '\n');
	fill(long_client, sizeof(long_client), ' ');
	for (int i = 1; i < 33; i++)
		all_controls[i - 1] = (char)i;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = spool_msg_new(), *got;
		struct spool_rcpt *r;

		util_strlcpy(m->sender, cases[i].sender, sizeof(m->sender));
		util_strlcpy(m->envid, cases[i].envid, sizeof(m->envid));
		util_strlcpy(m->client, cases[i].client, sizeof(m->client));
		m->ret = DSN_RET_HDRS;
		m->smtputf8 = true;
		m->origin = SPOOL_ORIGIN_REPORT;
		m->arrival_ms = 1767225600123;
		r = spool_msg_add_rcpt(m, cases[i].addr);
		util_strlcpy(r->orcpt, cases[i].orcpt, sizeof(r->orcpt));
		r->notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY;
		spool_msg_add_rcpt(m, "second@example.net")->notify = DSN_NOTIFY_NEVER;
		file_image(m, "Subject: x\r\n\r\n..dot\r\n", &b);
		got = parse(&b, why, sizeof(why));
		if (got == NULL)
			fail_msg("%s: got parse error '%s', want a message", cases[i].name, why);
		if (strcmp(got->sender, m->sender) != 0 || strcmp(got->envid, m->envid) != 0 ||
		    strcmp(got->client, m->client) != 0)
			fail_msg("%s: got sender '%s' envid '%s' client '%s', want '%s' '%s' '%s'", cases[i].name,
				 got->sender, got->envid, got->client, m->sender, m->envid, m->client);
		if (got->n_rcpt != 2 || strcmp(got->rcpt[0].addr, m->rcpt[0].addr) != 0 ||
		    strcmp(got->rcpt[0].orcpt, m->rcpt[0].orcpt) != 0 || got->rcpt[0].notify != 10 ||
		    got->rcpt[1].notify != DSN_NOTIFY_NEVER)
			fail_msg("%s: got %zu rcpts, first '%s' orcpt '%s' notify %u, want 2, '%s' '%s' 10",
				 cases[i].name, got->n_rcpt, got->rcpt[0].addr, got->rcpt[0].orcpt,
				 got->rcpt[0].notify, m->rcpt[0].addr, m->rcpt[0].orcpt);
		if (got->ret != DSN_RET_HDRS || !got->smtputf8 || got->eightbit ||
		    got->origin != SPOOL_ORIGIN_REPORT || got->arrival_ms != 1767225600123 ||
		    got->body_len != strlen("Subject: x\r\n\r\n..dot\r\n"))
			fail_msg("%s: got ret %d utf8 %d 8bit %d origin %d arrival %lld body %zu", cases[i].name,
				 got->ret, got->smtputf8, got->eightbit, got->origin, (long long)got->arrival_ms,
				 got->body_len);
		spool_msg_free(got);
		spool_msg_free(m);
	}
	buf_free(&b);
}

/* The envelope of a hostile message still has exactly one line per key
 * and per recipient: no value can add a line. */
static void test_escape_keeps_lines(void **state)
{
	struct spool_msg *m = spool_msg_new();
	struct buf b = {0};
	size_t lines = 0;

	(void)state;
	util_strlcpy(m->sender, "a\nb\rc\n\nd", sizeof(m->sender));
	util_strlcpy(m->client, "\n\n\n", sizeof(m->client));
	spool_msg_add_rcpt(m, "x\ny");
	spool_format_envelope(m, &b);
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == '\n')
			lines++;
		if (b.data[i] == '\r')
			fail_msg("got a raw CR in the envelope at %zu, want none", i);
	}
	if (lines != 10) /* 8 keys, 1 rcpt, end */
		fail_msg("got %zu envelope lines, want 10", lines);
	buf_free(&b);
	spool_msg_free(m);
}

/* a step of a replay table: change recipient idx or the flags, append */
struct step {
	int idx; /* -1: flags */
	enum rcpt_state st;
	int attempts;
	int64_t next;
	const char *text;
	bool held;
	int dw;
};

static void apply_step(struct spool_msg *m, const struct step *s)
{
	if (s->idx < 0) {
		m->held = s->held;
		m->delay_warnings_sent = s->dw;
		return;
	}
	struct spool_rcpt *r = &m->rcpt[s->idx];
	r->state = s->st;
	r->attempts = s->attempts;
	r->next_attempt_ms = s->next;
	r->last_attempt_ms = s->next - 1000;
	outcome_set(&r->last, s->st == RCPT_FAILED ? OUTCOME_PERM : OUTCOME_TEMP,
		    s->st == RCPT_FAILED ? 550 : 451, NULL, "mx.example.com[192.0.2.1]:25", "%s", s->text);
	r->dirty = true;
}

static void test_state_replay(void **state)
{
	static const struct {
		const char *name;
		struct step steps[4];
		size_t n;
		enum rcpt_state want0, want1;
		int want_attempts0;
		const char *want_text0;
		bool want_held;
		int want_dw;
	} cases[] = {
		{"nothing appended", {{0}}, 0, RCPT_PENDING, RCPT_PENDING, 0, "", false, 0},
		{"one deferral",
		 {{0, RCPT_DEFERRED, 1, 5000, "451 try later", false, 0}},
		 1, RCPT_DEFERRED, RCPT_PENDING, 1, "451 try later", false, 0},
		{"later wins",
		 {{0, RCPT_DEFERRED, 1, 5000, "first", false, 0},
		  {0, RCPT_DEFERRED, 2, 9000, "second", false, 0},
		  {0, RCPT_FAILED, 3, 9000, "550 no such user\r\nR 00000000 00000000 x", false, 0}},
		 3, RCPT_FAILED, RCPT_PENDING, 3, "550 no such user\r\nR 00000000 00000000 x", false, 0},
		{"second recipient separately",
		 {{1, RCPT_DELIVERED, 1, 0, "250 ok", false, 0}, {0, RCPT_DEFERRED, 4, 1, "t", false, 0}},
		 2, RCPT_DEFERRED, RCPT_DELIVERED, 4, "t", false, 0},
		{"hold and warnings",
		 {{-1, 0, 0, 0, "", true, 1}, {-1, 0, 0, 0, "", false, 2}, {-1, 0, 0, 0, "", true, 2}},
		 3, RCPT_PENDING, RCPT_PENDING, 0, "", true, 2},
	};
	struct buf b = {0};
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = spool_msg_new(), *got;

		spool_msg_add_rcpt(m, "a@x");
		spool_msg_add_rcpt(m, "b@x");
		file_image(m, "", &b);
		for (size_t k = 0; k < cases[i].n; k++) {
			apply_step(m, &cases[i].steps[k]);
			spool_format_state(m, false, &b);
			for (size_t r = 0; r < m->n_rcpt; r++)
				m->rcpt[r].dirty = false;
		}
		got = parse(&b, why, sizeof(why));
		if (got == NULL)
			fail_msg("%s: got parse error '%s'", cases[i].name, why);
		if (got->rcpt[0].state != cases[i].want0 || got->rcpt[1].state != cases[i].want1 ||
		    got->rcpt[0].attempts != cases[i].want_attempts0 ||
		    strcmp(got->rcpt[0].last.text, cases[i].want_text0) != 0)
			fail_msg("%s: got states %d,%d attempts %d text '%s', want %d,%d %d '%s'", cases[i].name,
				 got->rcpt[0].state, got->rcpt[1].state, got->rcpt[0].attempts,
				 got->rcpt[0].last.text, cases[i].want0, cases[i].want1, cases[i].want_attempts0,
				 cases[i].want_text0);
		if (got->held != cases[i].want_held || got->delay_warnings_sent != cases[i].want_dw)
			fail_msg("%s: got held %d dw %d, want %d %d", cases[i].name, got->held,
				 got->delay_warnings_sent, cases[i].want_held, cases[i].want_dw);
		if (cases[i].n > 0 && cases[i].steps[cases[i].n - 1].idx == 0 &&
		    (got->rcpt[0].next_attempt_ms != m->rcpt[0].next_attempt_ms ||
		     got->rcpt[0].last.code != m->rcpt[0].last.code ||
		     strcmp(got->rcpt[0].last.remote, "mx.example.com[192.0.2.1]:25") != 0 ||
		     strcmp(got->rcpt[0].last.status, m->rcpt[0].last.status) != 0))
			fail_msg("%s: got next %lld code %d remote '%s' status '%s'", cases[i].name,
				 (long long)got->rcpt[0].next_attempt_ms, got->rcpt[0].last.code,
				 got->rcpt[0].last.remote, got->rcpt[0].last.status);
		spool_msg_free(got);
		spool_msg_free(m);
	}
	buf_free(&b);
}

/* Cut the last append at every length: the state before it must stand,
 * and a later append after the torn bytes must still be read. */
static void test_torn_record(void **state)
{
	struct spool_msg *m = spool_msg_new(), *got;
	struct buf b = {0}, last = {0}, cut = {0};
	struct step before = {0, RCPT_DEFERRED, 1, 5000, "451 greylisted", false, 0};
	struct step after = {0, RCPT_DELIVERED, 2, 6000, "250 ok", false, 0};
	struct step later = {1, RCPT_FAILED, 1, 7000, "550 unknown", false, 0};
	char why[128];
	size_t base;

	(void)state;
	spool_msg_add_rcpt(m, "a@x");
	spool_msg_add_rcpt(m, "b@x");
	file_image(m, "body\r\n", &b);
	apply_step(m, &before);
	spool_format_state(m, false, &b);
	m->rcpt[0].dirty = false;
	base = b.len;
	apply_step(m, &after);
	spool_format_state(m, false, &last);
	m->rcpt[0].dirty = false;
	for (size_t keep = 0; keep < last.len; keep++) {
		buf_reset(&cut);
		buf_append(&cut, b.data, base);
		buf_append(&cut, last.data, keep);
		got = parse(&cut, why, sizeof(why));
		if (got == NULL)
			fail_msg("cut at %zu: got parse error '%s', want the earlier state", keep, why);
		/* only a complete record (newline included) may count */
		enum rcpt_state want = keep == last.len ? RCPT_DELIVERED : RCPT_DEFERRED;
		bool complete_rcpt = memchr(last.data + 1, '\n', keep > 0 ? keep - 1 : 0) != NULL;
		if (complete_rcpt)
			want = RCPT_DELIVERED;
		if (got->rcpt[0].state != want)
			fail_msg("cut at %zu of %zu: got state %d, want %d", keep, last.len, got->rcpt[0].state,
				 want);
		spool_msg_free(got);

		/* a later append behind the torn bytes still counts */
		apply_step(m, &later);
		spool_format_state(m, false, &cut);
		m->rcpt[1].dirty = false;
		got = parse(&cut, why, sizeof(why));
		if (got == NULL || got->rcpt[1].state != RCPT_FAILED)
			fail_msg("cut at %zu + later append: got %d, want failed", keep,
				 got ? (int)got->rcpt[1].state : -1);
		spool_msg_free(got);
	}
	/* a flipped byte inside a complete record: skipped, earlier stands */
	buf_reset(&cut);
	buf_append(&cut, b.data, base);
	buf_append(&cut, last.data, last.len);
	const char *nl = memchr(last.data + 1, '\n', last.len - 1);
	cut.data[base + (size_t)(nl - last.data) - 2] ^= 0x20;
	got = parse(&cut, why, sizeof(why));
	if (got == NULL || got->rcpt[0].state != RCPT_DEFERRED)
		fail_msg("flipped record: got %d, want deferred", got ? (int)got->rcpt[0].state : -1);
	spool_msg_free(got);
	buf_free(&b);
	buf_free(&last);
	buf_free(&cut);
	spool_msg_free(m);
}

/* Damage to the header or envelope makes the file unparsable. */
static void test_damaged_file(void **state)
{
	static const struct {
		const char *name;
		long off; /* byte to change; negative: from the envelope start */
		char to;
		size_t truncate; /* keep only this many bytes, 0 = all */
		const char *want;
	} cases[] = {
		{"magic", 0, 'X', 0, "no spool header"},
		{"version", 14, '2', 0, "unsupported format version"},
		{"body length", 20, 'f', 0, "header"},
		{"header end", 63, ' ', 0, "malformed spool header"},
		{"envelope byte", -3, 'Z', 0, "checksum"},
		{"short header", 0, 0, 30, "no spool header"},
		{"cut in envelope", 0, 0, 64 + 6 + 20, "shorter"},
	};
	struct spool_msg *m = spool_msg_new();
	struct buf b = {0}, c = {0};
	char why[128];

	(void)state;
	util_strlcpy(m->sender, "s@x", sizeof(m->sender));
	spool_msg_add_rcpt(m, "a@x");
	file_image(m, "body\r\n", &b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *got;

		buf_reset(&c);
		buf_append(&c, b.data, cases[i].truncate ? cases[i].truncate : b.len);
		if (cases[i].to != 0) {
			size_t at = cases[i].off >= 0 ? (size_t)cases[i].off : (size_t)(64 + 6 - cases[i].off);
			c.data[at] = cases[i].to;
		}
		why[0] = '\0';
		got = parse(&c, why, sizeof(why));
		if (got != NULL || strstr(why, cases[i].want) == NULL)
			fail_msg("%s: got %s '%s', want failure '%s'", cases[i].name, got ? "a message" : "error",
				 why, cases[i].want);
	}
	buf_free(&b);
	buf_free(&c);
	spool_msg_free(m);
}

/* record - one checked state record line for payload */
static void record(struct buf *b, const char *payload)
{
	buf_printf(b, "R %08zx %08x %s\n", strlen(payload),
		   (unsigned)spool_crc32(payload, strlen(payload)), payload);
}

/* The report marks (issue 3) ride on the rcpt record as an optional last
 * token: a record without it (every file written before) still parses,
 * as 0; a record with both marks round-trips; a bad value is refused. */
static void test_report_flags(void **state)
{
	struct {
		const char *name, *payload;
		bool reported, relayed;
		int state; /* the recipient's state after the replay */
	} cases[] = {
		{"old record, no flags", "rcpt 0 failed 1 0 5 perm 550 5.1.1 - no%20such%20user", false,
		 false, RCPT_FAILED},
		{"reported", "rcpt 0 failed 1 0 5 perm 550 5.1.1 - gone 1", true, false, RCPT_FAILED},
		{"relayed", "rcpt 0 delivered 1 0 5 ok 250 2.0.0 - ok 2", false, true, RCPT_DELIVERED},
		{"both", "rcpt 0 delivered 1 0 5 ok 250 2.0.0 - ok 3", true, true, RCPT_DELIVERED},
		{"unknown bit: record ignored", "rcpt 0 failed 1 0 5 perm 550 5.1.1 - x 4", false,
		 false, RCPT_PENDING},
		{"garbage flags: record ignored", "rcpt 0 failed 1 0 5 perm 550 5.1.1 - x y", false,
		 false, RCPT_PENDING},
		{"13 tokens: record ignored", "rcpt 0 failed 1 0 5 perm 550 5.1.1 - x 1 1", false,
		 false, RCPT_PENDING},
	};
	struct buf b = {0};
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = spool_msg_new(), *got;

		util_strlcpy(m->sender, "s@example.org", sizeof(m->sender));
		spool_msg_add_rcpt(m, "r@example.net");
		file_image(m, "body\r\n", &b);
		record(&b, cases[i].payload);
		got = parse(&b, why, sizeof(why));
		if (got == NULL)
			fail_msg("%s: parse failed: %s", cases[i].name, why);
		if (got->rcpt[0].reported != cases[i].reported ||
		    got->rcpt[0].relayed != cases[i].relayed ||
		    (int)got->rcpt[0].state != cases[i].state)
			fail_msg("%s: got reported=%d relayed=%d state=%d, want %d %d %d",
				 cases[i].name, got->rcpt[0].reported, got->rcpt[0].relayed,
				 got->rcpt[0].state, cases[i].reported, cases[i].relayed,
				 cases[i].state);
		spool_msg_free(got);
		spool_msg_free(m);
	}
	/* the writer: no token when both marks are clear (the old format,
	 * byte for byte), the marks when set, and they come back */
	{
		struct spool_msg *m = spool_msg_new(), *got;
		struct buf st = {0};

		spool_msg_add_rcpt(m, "r@example.net");
		m->rcpt[0].state = RCPT_DELIVERED;
		spool_format_state(m, true, &st);
		buf_putc(&st, '\0');
		if (strstr(st.data, " - - - 1\n") != NULL || strstr(st.data, " - - -\n") == NULL)
			fail_msg("no marks: got %s, want the record to end in the text token", st.data);
		m->rcpt[0].reported = true;
		m->rcpt[0].relayed = true;
		file_image(m, "", &b);
		got = parse(&b, why, sizeof(why));
		assert_non_null(got);
		if (!got->rcpt[0].reported || !got->rcpt[0].relayed)
			fail_msg("round trip: got reported=%d relayed=%d, want 1 1",
				 got->rcpt[0].reported, got->rcpt[0].relayed);
		spool_msg_free(got);
		spool_msg_free(m);
		buf_free(&st);
	}
	buf_free(&b);
}

static void test_queue_id(void **state)
{
	static const struct {
		const char *id;
		bool valid;
	} cases[] = {
		{"0123456789ABCDEF0", true}, {"0123456789abcdef0", false}, {"0123456789ABCDEF", false},
		{"0123456789ABCDEF01", false}, {"../../etc/passwd", false}, {"", false}, {"0123456789ABCDEG0", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (spool_id_valid(cases[i].id) != cases[i].valid)
			fail_msg("'%s': got valid %d, want %d", cases[i].id, !cases[i].valid, cases[i].valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_roundtrip), cmocka_unit_test(test_escape_keeps_lines),
		cmocka_unit_test(test_state_replay),       cmocka_unit_test(test_torn_record),
		cmocka_unit_test(test_damaged_file),       cmocka_unit_test(test_queue_id),
		cmocka_unit_test(test_report_flags),
	};
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
