/*
 * test_bounce_limits.c - the bounce parser on hostile shapes: time about
 * linear in the input, memory a small multiple of it, and no record made
 * from an address that is not one.
 *
 *   - a text bounce listing 20000 recipients, and one repeating a single
 *     recipient on one long line (each recipient was once searched for
 *     from the start of the report, every occurrence read: quadratic);
 *   - a message of a million empty MIME parts, through the built-in
 *     reader (its report parts, which come first, are still read) and
 *     through GMime (which built an object per part: gigabytes);
 *   - a notice in HTML followed by 4 MB of markup no '>' closes ("<<<...",
 *     "<a<a...", "</</..."): every '<' once looked for its '>' to the end
 *     of the part (quadratic: 2 MB took 25 s, 8 MB never ended); and of
 *     tags with unclosed quoted values, or with every '>' inside one;
 *   - Final-Recipient fields holding a NUL or an invalid byte (decoded to
 *     U+FFFD), and free-text candidates with a control byte or U+FFFD.
 *
 * Inputs are generated in memory. The time bounds are generous (the
 * fixed parser takes well under a tenth of them, even under sanitizers;
 * the quadratic one took tens of seconds to hours); the memory bound is
 * the growth of the process's peak RSS, so the memory tests run first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cmocka.h>

#include "bounce/bounce.h"
#include "bounce/internal.h"

#define TIME_LIMIT_S  2.0
#define RSS_LIMIT_KIB (160 * 1024)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void put(struct buf *b, const char *s)
{
	buf_puts(b, s);
}

/* a multipart/report whose first parts are a notice and the report for
 * bob@example.net, followed by `extra` empty parts of 8 bytes each */
static void wide_message(struct buf *b, size_t extra)
{
	put(b, "From: MAILER-DAEMON@mx.example.org\n"
	       "Subject: Undelivered Mail Returned to Sender\n"
	       "To: alice@example.org\n"
	       "MIME-Version: 1.0\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"W\"\n"
	       "\n"
	       "--W\n"
	       "Content-Type: text/plain\n"
	       "\n"
	       "Your message could not be delivered.\n"
	       "--W\n"
	       "Content-Type: message/delivery-status\n"
	       "\n"
	       "Reporting-MTA: dns; mx.example.org\n"
	       "\n"
	       "Final-Recipient: rfc822; bob@example.net\n"
	       "Action: failed\n"
	       "Status: 5.1.1\n"
	       "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n"
	       "\n");
	for (size_t i = 0; i < extra; i++)
		put(b, "--W\n\nx\n");
	put(b, "--W--\n");
}

/* parse b, checking time and peak-RSS growth; returns the records */
static size_t parse_bounded(const struct buf *b, struct bounce_result *res, const char *what)
{
	long rss0 = peak_rss_kib();
	double t0 = now_s();
	size_t n = bounce_parse(b->data, b->len, res);
	double dt = now_s() - t0;
	long grew = peak_rss_kib() - rss0;

	if (dt >= TIME_LIMIT_S)
		fail_msg("%s: got %.2f s, want < %.1f s", what, dt, TIME_LIMIT_S);
	if (grew >= RSS_LIMIT_KIB)
		fail_msg("%s: peak RSS grew %ld KiB, want < %d KiB", what, grew, RSS_LIMIT_KIB);
	return n;
}

/* a million parts through the built-in reader: it stops reading parts at
 * its cap and keeps the report it read first */
static void test_wide_fast(void **state)
{
	struct buf b = {0};
	struct bounce_result res = {0};

	(void)state;
	wide_message(&b, 1000000);
	size_t n = parse_bounded(&b, &res, "1M parts, fast reader");
	if (n != 1 || strcmp(res.recs[0].recipient, "bob@example.net") != 0 ||
	    strcmp(res.recs[0].reason, "userunknown") != 0)
		fail_msg("got %zu records (%s), want 1 (bob@example.net, userunknown)", n,
		         n ? res.recs[0].recipient : "-");
	bounce_result_free(&res);
	buf_free(&b);
}

/* the same through GMime alone: too many delimiter lines, so GMime gets
 * only the header and the body is read as raw text (the report block in
 * it still names the recipient) */
static void test_wide_gmime(void **state)
{
	struct buf b = {0};
	struct bounce_result res = {0};

	(void)state;
	wide_message(&b, 1000000);
	bounce_set_fast_mime(false);
	size_t n = parse_bounded(&b, &res, "1M parts, GMime");
	bounce_set_fast_mime(true);
	if (n != 1 || strcmp(res.recs[0].recipient, "bob@example.net") != 0)
		fail_msg("got %zu records (%s), want 1 (bob@example.net)", n,
		         n ? res.recs[0].recipient : "-");
	bounce_result_free(&res);
	buf_free(&b);
}

/* a few parts are all read, as before the cap */
static void test_wide_small_unchanged(void **state)
{
	struct buf b = {0};
	struct bounce_result fast = {0}, ref = {0};

	(void)state;
	wide_message(&b, 300);
	size_t n = bounce_parse(b.data, b.len, &fast);
	bounce_set_fast_mime(false);
	size_t m = bounce_parse(b.data, b.len, &ref);
	bounce_set_fast_mime(true);
	if (n != 1 || m != 1 || strcmp(fast.recs[0].recipient, ref.recs[0].recipient) != 0 ||
	    strcmp(fast.recs[0].reason, ref.recs[0].reason) != 0)
		fail_msg("got %zu and %zu records, want 1 and the same from both readers", n, m);
	bounce_result_free(&fast);
	bounce_result_free(&ref);
	buf_free(&b);
}

static const char text_head[] = "From: MAILER-DAEMON@x.example\n"
                                "Subject: Undelivered Mail Returned to Sender\n\n";

/* 20000 recipients, one line each, in linear time: the recipients are
 * found by a hash, and what every record asks of the whole report
 * (whether it says the address was not found, its words when the
 * record's own say nothing) is read once per report, not per record */
static void test_many_recipients(void **state)
{
	static const struct {
		const char *what, *line, *reason; /* line: printf with %d */
	} rows[] = {
	    {"20000 recipients", "<q%d@example.net>: 550 5.1.1 user unknown\n", "userunknown"},
	    {"20000 refusals after DATA",
	     "<d%d@example.net>: 550 unknown user (in reply to end of DATA command)\n", "filtered"},
	    {"20000 replies without a reason phrase", "<w%d@example.net>: 550 go away now\n",
	     "undefined"},
	};
	char line[128], first[64], last[64];

	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct buf b = {0};
		struct bounce_result res = {0};

		put(&b, text_head);
		for (int i = 0; i < 20000; i++) {
			snprintf(line, sizeof(line), rows[r].line, i);
			put(&b, line);
		}
		size_t n = parse_bounded(&b, &res, rows[r].what);
		snprintf(first, sizeof(first), rows[r].line, 0);
		snprintf(last, sizeof(last), rows[r].line, 19999);
		if (n != 20000 ||
		    strncmp(first + 1, res.recs[0].recipient, strlen(res.recs[0].recipient)) != 0 ||
		    strncmp(last + 1, res.recs[19999].recipient,
		            strlen(res.recs[19999].recipient)) != 0 ||
		    strcmp(res.recs[19999].reason, rows[r].reason) != 0)
			fail_msg("%s: got %zu records, %s .. %s (%s), want 20000 and %s",
			         rows[r].what, n, n ? res.recs[0].recipient : "-",
			         n ? res.recs[n - 1].recipient : "-",
			         n ? res.recs[n - 1].reason : "-", rows[r].reason);
		bounce_result_free(&res);
		buf_free(&b);
	}
}

/* a text notice and a standard report naming 40000 recipients each:
 * BOUNCE_RECIPIENTS_MAX records, the first ones in order (a record is
 * about 1 KiB: a crafted notice naming millions would take gigabytes) */
static void test_recipients_capped(void **state)
{
	static const char *const what[] = {"text notice, 40000 recipients",
	                                   "standard report, 40000 recipients"};
	char line[256];

	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		struct buf b = {0};
		struct bounce_result res = {0};

		if (kind == 0)
			put(&b, text_head);
		else
			put(&b, "From: MAILER-DAEMON@x.example\nMIME-Version: 1.0\n"
			        "Content-Type: multipart/report; report-type=delivery-status; "
			        "boundary=\"R\"\n\n--R\nContent-Type: message/delivery-status\n\n"
			        "Reporting-MTA: dns; x.example\n\n");
		for (int i = 0; i < 40000; i++) {
			if (kind == 0)
				snprintf(line, sizeof(line), "<c%d@example.net>: 550 5.1.1 user unknown\n", i);
			else
				snprintf(line, sizeof(line),
				         "Final-Recipient: rfc822; c%d@example.net\nAction: failed\n"
				         "Status: 5.1.1\n\n",
				         i);
			put(&b, line);
		}
		if (kind == 1)
			put(&b, "--R--\n");
		size_t n = parse_bounded(&b, &res, what[kind]);
		if (n != BOUNCE_RECIPIENTS_MAX || strcmp(res.recs[0].recipient, "c0@example.net") != 0 ||
		    strcmp(res.recs[n - 1].recipient, "c24999@example.net") != 0)
			fail_msg("%s: got %zu records, %s .. %s, want %d, c0 .. c24999", what[kind], n,
			         n ? res.recs[0].recipient : "-", n ? res.recs[n - 1].recipient : "-",
			         BOUNCE_RECIPIENTS_MAX);
		bounce_result_free(&res);
		buf_free(&b);
	}
}

/* one recipient repeated 50000 times on one line (2 MB): one record */
static void test_one_line_repeat(void **state)
{
	struct buf b = {0};
	struct bounce_result res = {0};

	(void)state;
	put(&b, text_head);
	for (int i = 0; i < 50000; i++)
		put(&b, "<q@example.net>: 550 5.1.1 user unknown ");
	size_t n = parse_bounded(&b, &res, "one line, 50000 mentions");
	if (n != 1 || strcmp(res.recs[0].recipient, "q@example.net") != 0 ||
	    strcmp(res.recs[0].reason, "userunknown") != 0)
		fail_msg("got %zu records (%s), want 1 (q@example.net, userunknown)", n,
		         n ? res.recs[0].recipient : "-");
	bounce_result_free(&res);
	buf_free(&b);
}

/* a notice in HTML, then 4 MB of one piece of markup repeated: one
 * record, in time linear in the size (the quadratic scan took over a
 * minute on each row) */
static void test_html_markup(void **state)
{
	static const struct {
		const char *what, *unit;
	} rows[] = {
	    {"4 MB of '<'", "<"},
	    {"4 MB of '<a'", "<a"},
	    {"4 MB of '</'", "</"},
	    {"4 MB of '<!'", "<!"},
	    {"4 MB of '<?'", "<?"},
	    {"4 MB of '<' and a line break", "<\n"},
	    {"4 MB of '< '", "< "},
	    /* quoted attribute values: unclosed, or hiding every '>' */
	    {"4 MB of '<a t=\"x>'", "<a t=\"x>"},
	    {"4 MB of '<a t=\'x>'", "<a t='x>"},
	    {"4 MB of '<a x=\">\"'", "<a x=\">\""},
	};

	(void)state;
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct buf b = {0};
		struct bounce_result res = {0};
		size_t ul = strlen(rows[r].unit);

		put(&b, "From: MAILER-DAEMON@mx.example.org\n"
		        "Subject: Undelivered Mail Returned to Sender\n"
		        "MIME-Version: 1.0\n"
		        "Content-Type: text/html\n\n"
		        "<p>Your message could not be delivered to one or more recipients.</p>"
		        "<p>&lt;bob@example.net&gt;: 550 5.1.1 user unknown</p>\n");
		buf_reserve(&b, 4u << 20);
		for (size_t k = 0; k + ul <= 4u << 20; k += ul)
			buf_append(&b, rows[r].unit, ul);
		size_t n = parse_bounded(&b, &res, rows[r].what);
		if (n != 1 || strcmp(res.recs[0].recipient, "bob@example.net") != 0 ||
		    strcmp(res.recs[0].reason, "userunknown") != 0)
			fail_msg("%s: got %zu records (%s), want 1 (bob@example.net, userunknown)",
			         rows[r].what, n, n ? res.recs[0].recipient : "-");
		bounce_result_free(&res);
		buf_free(&b);
	}
}

/* the command found near an address is the same whether the text is the
 * loaded doc's (indexed) or a copy (searched) */
static void test_command_near_same(void **state)
{
	static const char msg[] =
	    "From: MAILER-DAEMON@mx.example.org\n"
	    "Subject: Undelivered Mail Returned to Sender\n\n"
	    "Mail to xbob@example.net was refused.\n"
	    "<bob@example.net>: host mx.example.net said: 550 unknown (in reply to\n"
	    "    RCPT TO command)\n\n"
	    "<carol@Example.NET>: host mx.example.net said: 552 too big (in reply to\n"
	    "    end of DATA command)\n\n"
	    "See dave@example.net.\n\n"
	    "... while talking to mx.example.net.:\n"
	    ">>> MAIL From:<alice@example.org>\n"
	    "<<< 553 sender refused for erin@example.net\n\n";
	static const struct {
		const char *addr, *want;
	} cases[] = {
	    {"bob@example.net", "RCPT"},  {"carol@example.net", "DATA"}, {"dave@example.net", ""},
	    {"erin@example.net", "MAIL"}, {"xbob@example.net", "RCPT"},  {"nobody@example.net", ""},
	};
	struct bounce_doc doc;

	(void)state;
	bounce_doc_load(&doc, msg, sizeof(msg) - 1);
	doc.rend = strlen(doc.text.data);
	/* the same doc without its index: searched, not looked up */
	struct bounce_doc plain = doc;
	plain.near = NULL;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[8] = "", ref[8] = "";
		bounce_command_near(&doc, cases[i].addr, got, sizeof(got));
		bounce_command_near(&plain, cases[i].addr, ref, sizeof(ref));
		if (strcmp(got, cases[i].want) != 0 || strcmp(ref, cases[i].want) != 0)
			fail_msg("%s: got %s (indexed) and %s (searched), want %s", cases[i].addr,
			         got, ref, cases[i].want);
	}
	bounce_doc_free(&doc);
}

/* a report naming only a garbage Final-Recipient gives no record */
static size_t parse_dsn_rcpt(const char *rcpt, size_t rlen, struct bounce_result *res)
{
	struct buf b = {0};
	size_t n;

	put(&b, "From: MAILER-DAEMON@mx.example.org\n"
	        "Subject: Undelivered Mail Returned to Sender\n"
	        "MIME-Version: 1.0\n"
	        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
	        "--B\nContent-Type: text/plain\n\nDelivery failed.\n"
	        "--B\nContent-Type: message/delivery-status\n\n"
	        "Reporting-MTA: dns; mx.example.org\n\n"
	        "Final-Recipient: rfc822; ");
	buf_append(&b, rcpt, rlen);
	put(&b, "\nAction: failed\nStatus: 5.1.1\n"
	        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n\n--B--\n");
	n = bounce_parse(b.data, b.len, res);
	buf_free(&b);
	return n;
}

static void test_garbage_final_recipient(void **state)
{
	static const struct {
		const char *name, *rcpt;
		size_t len;
		const char *want; /* NULL: no record */
	} cases[] = {
	    {"valid", "bob@example.net", 15, "bob@example.net"},
	    {"valid dotless host", "bob@mailhub", 11, "bob@mailhub"},
	    {"NUL inside", "bob@example.net\0evil@example.com", 32, NULL},
	    {"invalid byte in local part",
	     "b\xff"
	     "ob@example.net",
	     16, NULL},
	    {"U+FFFD in local part",
	     "b\xef\xbf\xbd"
	     "ob@example.net",
	     18, NULL},
	    {"invalid byte, dotless host",
	     "b\xff"
	     "ob@mailhub",
	     12, NULL},
	    {"control byte quoted", "\"b\x01ob\"@example.net", 18, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bounce_result res = {0};
		size_t n = parse_dsn_rcpt(cases[i].rcpt, cases[i].len, &res);
		if (cases[i].want && (n != 1 || strcmp(res.recs[0].recipient, cases[i].want) != 0))
			fail_msg("%s: got %zu records (%s), want 1 (%s)", cases[i].name, n,
			         n ? res.recs[0].recipient : "-", cases[i].want);
		if (!cases[i].want && n != 0)
			fail_msg("%s: got %zu records (%s), want none", cases[i].name, n,
			         res.recs[0].recipient);
		bounce_result_free(&res);
	}
}

static void test_find_addr_garbage(void **state)
{
	static const struct {
		const char *in, *want; /* NULL: none found */
	} cases[] = {
	    {"to <bob@example.net> failed", "bob@example.net"},
	    {"to bob@example.net\xef\xbf\xbd"
	     "evil@example.com",
	     NULL},
	    {"to b\xef\xbf\xbd"
	     "ob@example.net",
	     NULL},
	    {"to \"b\x01ob\"@example.net", NULL},
	    {"to \"b\x7f"
	     "ob\"@example.net then carol@example.net",
	     "carol@example.net"},
	    {"to j\xc3\xb6rg@example.net", "j\xc3\xb6rg@example.net"}, /* UTF-8 is fine */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[BOUNCE_ADDR_MAX] = "";
		const char *p =
		    bounce_find_addr(cases[i].in, strlen(cases[i].in), out, sizeof(out));
		if (cases[i].want ? !p || strcmp(out, cases[i].want) != 0 : p != NULL)
			fail_msg("case %zu: got %s, want %s", i, p ? out : "(none)",
			         cases[i].want ? cases[i].want : "(none)");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    /* the memory tests first: the peak RSS only goes up */
	    cmocka_unit_test(test_wide_fast),
	    cmocka_unit_test(test_wide_gmime),
	    cmocka_unit_test(test_wide_small_unchanged),
	    cmocka_unit_test(test_many_recipients),
	    cmocka_unit_test(test_recipients_capped),
	    cmocka_unit_test(test_one_line_repeat),
	    cmocka_unit_test(test_html_markup),
	    cmocka_unit_test(test_command_near_same),
	    cmocka_unit_test(test_garbage_final_recipient),
	    cmocka_unit_test(test_find_addr_garbage),
	};

	bounce_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
