/*
 * test_smtp_grammar.c - table tests for the SMTP command grammar: verb
 * recognition, the arguments of MAIL and RCPT, and every ESMTP parameter
 * mailerd announces (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT),
 * good and bad, with the exact reply code and enhanced status expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp.h"

/* the refusal rows of the tables leave the "accepted" columns out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static int failures;

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			print_error(__VA_ARGS__);                                          \
			failures++;                                                        \
		}                                                                          \
	} while (0)

static void test_verbs(void **state)
{
	static const struct {
		const char *name;
		const char *line;
		enum smtp_verb want;
		const char *want_args;
	} cases[] = {
		{"helo", "HELO client.example", SMTP_HELO, "client.example"},
		{"ehlo lower case", "ehlo client.example", SMTP_EHLO, "client.example"},
		{"mixed case mail", "MaIl FROM:<a@b.example>", SMTP_MAIL, "FROM:<a@b.example>"},
		{"rcpt", "RCPT TO:<a@b.example>", SMTP_RCPT, "TO:<a@b.example>"},
		{"data", "DATA", SMTP_DATA, ""},
		{"rset", "RSET", SMTP_RSET, ""},
		{"noop with arg", "NOOP hello", SMTP_NOOP, "hello"},
		{"quit", "quit", SMTP_QUIT, ""},
		{"vrfy", "VRFY user", SMTP_VRFY, "user"},
		{"expn", "EXPN list", SMTP_EXPN, "list"},
		{"help", "HELP", SMTP_HELP, ""},
		{"starttls", "STARTTLS", SMTP_STARTTLS, ""},
		{"auth", "AUTH PLAIN", SMTP_AUTH, "PLAIN"},
		{"bdat", "BDAT 10 LAST", SMTP_BDAT, "10 LAST"},
		{"verb prefix is not the verb", "MAILX FROM:<a@b>", SMTP_UNKNOWN, ""},
		{"verb too short", "MAI", SMTP_UNKNOWN, ""},
		{"tab is not a separator", "MAIL\tFROM:<a@b>", SMTP_UNKNOWN, ""},
		{"empty line", "", SMTP_UNKNOWN, ""},
		{"leading space", " HELO x", SMTP_UNKNOWN, ""},
		{"garbage", "GET / HTTP/1.0", SMTP_UNKNOWN, ""},
		{"data with trailing space", "DATA ", SMTP_DATA, ""},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args = NULL;
		enum smtp_verb got = smtp_parse_verb(cases[i].line, strlen(cases[i].line), &args);

		CHECK(got == cases[i].want, "%s: verb got %d, want %d\n", cases[i].name, got,
		      cases[i].want);
		if (got != SMTP_UNKNOWN)
			CHECK(strcmp(args, cases[i].want_args) == 0, "%s: args got '%s', want '%s'\n",
			      cases[i].name, args, cases[i].want_args);
	}
	assert_int_equal(failures, 0);
}

struct mail_case {
	const char *name;
	const char *args;
	int want_code; /* 0 = accepted */
	const char *want_status;
	const char *want_addr;
	uint64_t want_size;
	int want_body;
	bool want_utf8;
	int want_ret;
	const char *want_envid;
};

static void test_mail(void **state)
{
	static const struct mail_case cases[] = {
		{"plain", "FROM:<alice@example.com>", 0, NULL, "alice@example.com", 0, 0, false, 0, ""},
		{"space after colon", "FROM: <alice@example.com>", 0, NULL, "alice@example.com", 0, 0,
		 false, 0, ""},
		{"lower-case from", "from:<a@example.com>", 0, NULL, "a@example.com", 0, 0, false, 0, ""},
		{"null path", "FROM:<>", 0, NULL, "", 0, 0, false, 0, ""},
		{"size", "FROM:<a@example.com> SIZE=12345", 0, NULL, "a@example.com", 12345, 0, false,
		 0, ""},
		{"size max uint64", "FROM:<a@example.com> SIZE=18446744073709551615", 0, NULL,
		 "a@example.com", UINT64_MAX, 0, false, 0, ""},
		{"body 8bit", "FROM:<a@example.com> BODY=8BITMIME", 0, NULL, "a@example.com", 0, 8,
		 false, 0, ""},
		{"body 7bit lower", "FROM:<a@example.com> body=7bit", 0, NULL, "a@example.com", 0, 7,
		 false, 0, ""},
		{"smtputf8", "FROM:<a@example.com> SMTPUTF8", 0, NULL, "a@example.com", 0, 0, true, 0,
		 ""},
		{"ret full", "FROM:<a@example.com> RET=FULL", 0, NULL, "a@example.com", 0, 0, false,
		 DSN_RET_FULL, ""},
		{"ret hdrs", "FROM:<a@example.com> RET=hdrs", 0, NULL, "a@example.com", 0, 0, false,
		 DSN_RET_HDRS, ""},
		{"envid xtext", "FROM:<a@example.com> ENVID=QQ+2B314", 0, NULL, "a@example.com", 0, 0,
		 false, 0, "QQ+2B314"},
		{"all params", "FROM:<a@example.com> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x",
		 0, NULL, "a@example.com", 10, 8, true, DSN_RET_HDRS, "x"},
		{"trailing spaces", "FROM:<a@example.com> SIZE=1  ", 0, NULL, "a@example.com", 1, 0,
		 false, 0, ""},
		{"two spaces between params", "FROM:<a@example.com>  SIZE=1  BODY=7BIT", 0, NULL,
		 "a@example.com", 1, 7, false, 0, ""},

		{"no FROM:", "<a@example.com>", 501, "5.5.4"},
		{"TO: instead of FROM:", "TO:<a@example.com>", 501, "5.5.4"},
		{"empty", "", 501, "5.5.4"},
		{"no brackets", "FROM:a@example.com", 501, "5.1.7"},
		{"bad address", "FROM:<a@@example.com>", 501, "5.1.7"},
		{"junk after path", "FROM:<a@example.com>junk", 501, "5.5.4"},
		{"unknown param", "FROM:<a@example.com> FOO=bar", 555, "5.5.4"},
		{"auth not announced", "FROM:<a@example.com> AUTH=<>", 555, "5.5.4"},
		{"duplicate size", "FROM:<a@example.com> SIZE=1 SIZE=2", 555, "5.5.4"},
		{"duplicate body", "FROM:<a@example.com> BODY=7BIT body=8BITMIME", 555, "5.5.4"},
		{"size not digits", "FROM:<a@example.com> SIZE=12a", 501, "5.5.4"},
		{"size negative", "FROM:<a@example.com> SIZE=-1", 501, "5.5.4"},
		{"size empty", "FROM:<a@example.com> SIZE=", 501, "5.5.4"},
		{"size no value", "FROM:<a@example.com> SIZE", 501, "5.5.4"},
		{"size overflow", "FROM:<a@example.com> SIZE=18446744073709551616", 501, "5.5.4"},
		{"size too many digits", "FROM:<a@example.com> SIZE=000000000000000000001", 501,
		 "5.5.4"},
		{"body binarymime", "FROM:<a@example.com> BODY=BINARYMIME", 501, "5.5.4"},
		{"smtputf8 with value", "FROM:<a@example.com> SMTPUTF8=yes", 501, "5.5.4"},
		{"ret bad", "FROM:<a@example.com> RET=ALL", 501, "5.5.4"},
		{"envid bad xtext", "FROM:<a@example.com> ENVID=a+zz", 501, "5.5.4"},
		{"envid lower hex", "FROM:<a@example.com> ENVID=a+2b", 501, "5.5.4"},
		/* RFC 3461 4.4: printable before encoding; "+0D+0A" is header injection */
		{"envid encoded crlf", "FROM:<a@example.com> ENVID=a+0D+0ABcc:x", 501, "5.5.4"},
		{"envid encoded del", "FROM:<a@example.com> ENVID=a+7F", 501, "5.5.4"},
		{"envid encoded tab", "FROM:<a@example.com> ENVID=a+09b", 501, "5.5.4"},
		{"envid 101 chars",
		 "FROM:<a@example.com> ENVID=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		 501, "5.5.4"},
		{"keyword starts with dash", "FROM:<a@example.com> -X=1", 501, "5.5.4"},
		{"keyword bad char", "FROM:<a@example.com> SI_ZE=1", 501, "5.5.4"},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mail_case *c = &cases[i];
		struct smtp_path path;
		struct smtp_mail_params p;
		struct smtp_error err = {0};
		int rc = smtp_parse_mail(c->args, strlen(c->args), &path, &p, &err);

		if (c->want_code != 0) {
			CHECK(rc == -1, "%s: got accepted, want %d %s\n", c->name, c->want_code,
			      c->want_status);
			CHECK(rc == 0 || (err.code == c->want_code && strcmp(err.status, c->want_status) == 0),
			      "%s: got %d %s (%s), want %d %s\n", c->name, err.code, err.status, err.text,
			      c->want_code, c->want_status);
			continue;
		}
		CHECK(rc == 0, "%s: got %d %s %s, want accepted\n", c->name, err.code, err.status,
		      err.text);
		if (rc != 0)
			continue;
		CHECK(strcmp(path.addr, c->want_addr) == 0, "%s: addr got '%s', want '%s'\n", c->name,
		      path.addr, c->want_addr);
		CHECK(path.is_null == (c->want_addr[0] == '\0'), "%s: is_null got %d\n", c->name,
		      path.is_null);
		CHECK(p.size == c->want_size && p.size_given == (c->want_size != 0),
		      "%s: size got %llu, want %llu\n", c->name, (unsigned long long)p.size,
		      (unsigned long long)c->want_size);
		CHECK(p.body == c->want_body, "%s: body got %d, want %d\n", c->name, p.body,
		      c->want_body);
		CHECK(p.smtputf8 == c->want_utf8, "%s: smtputf8 got %d, want %d\n", c->name,
		      p.smtputf8, c->want_utf8);
		CHECK(p.ret == c->want_ret, "%s: ret got %d, want %d\n", c->name, p.ret, c->want_ret);
		CHECK(strcmp(p.envid, c->want_envid) == 0, "%s: envid got '%s', want '%s'\n", c->name,
		      p.envid, c->want_envid);
	}
	assert_int_equal(failures, 0);
}

struct rcpt_case {
	const char *name;
	const char *args;
	int want_code;
	const char *want_status;
	const char *want_addr;
	unsigned want_notify;
	const char *want_orcpt;
};

static void test_rcpt(void **state)
{
	static const struct rcpt_case cases[] = {
		{"plain", "TO:<bob@example.org>", 0, NULL, "bob@example.org", 0, ""},
		{"space after colon", "TO: <bob@example.org>", 0, NULL, "bob@example.org", 0, ""},
		{"postmaster", "TO:<Postmaster>", 0, NULL, "Postmaster", 0, ""},
		{"notify never", "TO:<b@example.org> NOTIFY=NEVER", 0, NULL, "b@example.org",
		 DSN_NOTIFY_NEVER, ""},
		{"notify list", "TO:<b@example.org> NOTIFY=SUCCESS,FAILURE,DELAY", 0, NULL,
		 "b@example.org", DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY, ""},
		{"notify lower case", "TO:<b@example.org> notify=failure", 0, NULL, "b@example.org",
		 DSN_NOTIFY_FAILURE, ""},
		{"orcpt", "TO:<b@example.org> ORCPT=rfc822;b+40example.org", 0, NULL, "b@example.org",
		 0, "rfc822;b+40example.org"},
		{"orcpt utf-8 type", "TO:<b@example.org> ORCPT=utf-8;b\\x{E9}@example.org", 0, NULL,
		 "b@example.org", 0, "utf-8;b\\x{E9}@example.org"},
		{"notify and orcpt", "TO:<b@example.org> NOTIFY=DELAY ORCPT=rfc822;b@example.org", 0,
		 NULL, "b@example.org", DSN_NOTIFY_DELAY, "rfc822;b@example.org"},

		{"no TO:", "<b@example.org>", 501, "5.5.4"},
		{"FROM: instead", "FROM:<b@example.org>", 501, "5.5.4"},
		{"null path", "TO:<>", 501, "5.1.3"},
		{"bad address", "TO:<b@exa mple.org>", 501, "5.1.3"},
		{"no domain", "TO:<bob>", 501, "5.1.3"},
		{"unknown param", "TO:<b@example.org> SIZE=1", 555, "5.5.4"},
		{"duplicate notify", "TO:<b@example.org> NOTIFY=NEVER NOTIFY=NEVER", 555, "5.5.4"},
		{"duplicate orcpt", "TO:<b@example.org> ORCPT=rfc822;a ORCPT=rfc822;b", 555, "5.5.4"},
		{"notify never with others", "TO:<b@example.org> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"},
		{"notify unknown word", "TO:<b@example.org> NOTIFY=ALWAYS", 501, "5.5.4"},
		{"notify empty item", "TO:<b@example.org> NOTIFY=SUCCESS,", 501, "5.5.4"},
		{"notify no value", "TO:<b@example.org> NOTIFY", 501, "5.5.4"},
		{"orcpt no semicolon", "TO:<b@example.org> ORCPT=rfc822", 501, "5.5.4"},
		{"orcpt empty address", "TO:<b@example.org> ORCPT=rfc822;", 501, "5.5.4"},
		{"orcpt empty type", "TO:<b@example.org> ORCPT=;b@example.org", 501, "5.5.4"},
		{"orcpt bad xtext", "TO:<b@example.org> ORCPT=rfc822;b+4", 501, "5.5.4"},
		{"orcpt encoded crlf", "TO:<b@example.org> ORCPT=rfc822;b+0D+0AX:y", 501, "5.5.4"},
		{"orcpt encoded nul", "TO:<b@example.org> ORCPT=rfc822;b+00", 501, "5.5.4"},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcpt_case *c = &cases[i];
		struct smtp_path path;
		struct smtp_rcpt_params p;
		struct smtp_error err = {0};
		int rc = smtp_parse_rcpt(c->args, strlen(c->args), &path, &p, &err);

		if (c->want_code != 0) {
			CHECK(rc == -1, "%s: got accepted, want %d %s\n", c->name, c->want_code,
			      c->want_status);
			CHECK(rc == 0 || (err.code == c->want_code && strcmp(err.status, c->want_status) == 0),
			      "%s: got %d %s (%s), want %d %s\n", c->name, err.code, err.status, err.text,
			      c->want_code, c->want_status);
			continue;
		}
		CHECK(rc == 0, "%s: got %d %s %s, want accepted\n", c->name, err.code, err.status,
		      err.text);
		if (rc != 0)
			continue;
		CHECK(strcmp(path.addr, c->want_addr) == 0, "%s: addr got '%s', want '%s'\n", c->name,
		      path.addr, c->want_addr);
		CHECK(p.notify == c->want_notify, "%s: notify got %u, want %u\n", c->name, p.notify,
		      c->want_notify);
		CHECK(strcmp(p.orcpt, c->want_orcpt) == 0, "%s: orcpt got '%s', want '%s'\n", c->name,
		      p.orcpt, c->want_orcpt);
	}
	assert_int_equal(failures, 0);
}

/* An ORCPT of exactly 500 characters is the RFC 3461 limit; 501 is over. */
static void test_orcpt_length(void **state)
{
	char args[700];
	struct smtp_path path;
	struct smtp_rcpt_params p;
	struct smtp_error err = {0};
	int rc;

	(void)state;
	snprintf(args, sizeof(args), "TO:<b@example.org> ORCPT=rfc822;%0*d", 500 - 7, 0);
	rc = smtp_parse_rcpt(args, strlen(args), &path, &p, &err);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(p.orcpt), 500);
	snprintf(args, sizeof(args), "TO:<b@example.org> ORCPT=rfc822;%0*d", 500 - 6, 0);
	rc = smtp_parse_rcpt(args, strlen(args), &path, &p, &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err.code, 501);
	assert_string_equal(err.status, "5.5.4");
}

/* The ENVID limit is 100 characters of xtext (RFC 3461 section 4.4). */
static void test_envid_length(void **state)
{
	char args[300];
	struct smtp_path path;
	struct smtp_mail_params p;
	struct smtp_error err = {0};

	(void)state;
	snprintf(args, sizeof(args), "FROM:<a@example.com> ENVID=%0*d", 100, 7);
	assert_int_equal(smtp_parse_mail(args, strlen(args), &path, &p, &err), 0);
	assert_int_equal(strlen(p.envid), 100);
}

struct data_case {
	const char *name;
	const char *in;
	size_t inlen;       /* 0 = strlen(in) */
	bool normalize;
	const char *want;   /* stored body */
	bool want_done;
	bool want_bare;
	bool want_nul;
	size_t want_used;   /* 0 = all of the input */
};

static void run_data_case(const struct data_case *c, size_t step)
{
	struct smtp_data_rx rx;
	struct buf out = {0};
	size_t len = c->inlen ? c->inlen : strlen(c->in);
	size_t used = 0;

	smtp_data_init(&rx, c->normalize);
	while (used < len && !rx.done) {
		size_t n = len - used < step ? len - used : step;
		size_t got = smtp_data_feed(&rx, c->in + used, n, &out);
		used += got;
		if (got < n)
			break;
	}
	CHECK(out.len == strlen(c->want) && memcmp(out.data ? out.data : "", c->want, out.len) == 0,
	      "%s (chunks of %zu): body got '%.*s', want '%s'\n", c->name, step, (int)out.len,
	      out.data ? out.data : "", c->want);
	CHECK(rx.done == c->want_done, "%s (chunks of %zu): done got %d, want %d\n", c->name, step,
	      rx.done, c->want_done);
	CHECK(rx.bare == c->want_bare, "%s (chunks of %zu): bare got %d, want %d\n", c->name, step,
	      rx.bare, c->want_bare);
	CHECK(rx.nul == c->want_nul, "%s (chunks of %zu): nul got %d, want %d\n", c->name, step,
	      rx.nul, c->want_nul);
	CHECK(used == (c->want_used ? c->want_used : len), "%s (chunks of %zu): used got %zu, want %zu\n",
	      c->name, step, used, c->want_used ? c->want_used : len);
	buf_free(&out);
}

static void test_data_reader(void **state)
{
	static const struct data_case cases[] = {
		{"simple", "a\r\nb\r\n.\r\n", 0, false, "a\r\nb\r\n", true},
		{"empty message", ".\r\n", 0, false, "", true},
		{"stops at the end mark", "a\r\n.\r\nQUIT\r\n", 0, false, "a\r\n", true, false, false, 6},
		{"dot stuffing kept", "..a\r\n..\r\n.\r\n", 0, false, "..a\r\n..\r\n", true},
		{"dot then text", ".a\r\n.\r\n", 0, false, ".a\r\n", true},
		{"not finished", "a\r\nb", 0, false, "a\r\nb", false},
		{"bare LF", "a\nb\r\n.\r\n", 0, false, "a\nb\r\n", true, true},
		{"bare CR", "a\rb\r\n.\r\n", 0, false, "a\rb\r\n", true, true},
		{"LF dot LF does not end", "a\n.\nb\r\n.\r\n", 0, false, "a\n.\nb\r\n", true, true},
		{"CRLF dot LF does not end", "a\r\n.\nb\r\n.\r\n", 0, false, "a\r\n.\nb\r\n", true, true},
		{"LF dot CRLF does not end", "a\n.\r\nb\r\n.\r\n", 0, false, "a\n.\r\nb\r\n", true, true},
		{"CR dot CR does not end", "a\r.\rb\r\n.\r\n", 0, false, "a\r.\rb\r\n", true, true},
		{"NUL", "a\0b\r\n.\r\n", 9, false, "a", true, false, true},
		{"normalize bare LF", "a\nb\r\n.\r\n", 0, true, "a\r\nb\r\n", true, true},
		{"normalize bare CR", "a\rb\r\n.\r\n", 0, true, "a\r\nb\r\n", true, true},
		{"normalize LF dot LF is stuffed", "a\n.\nb\r\n.\r\n", 0, true,
		 "a\r\n..\r\nb\r\n", true, true},
		{"normalize LF dot CRLF is stuffed", "a\n.\r\nb\r\n.\r\n", 0, true,
		 "a\r\n..\r\nb\r\n", true, true},
		{"normalize CRLF dot LF is stuffed", "a\r\n.\nb\r\n.\r\n", 0, true,
		 "a\r\n..\r\nb\r\n", true, true},
		{"normalize CRLF dot CR is stuffed", "a\r\n.\rb\r\n.\r\n", 0, true,
		 "a\r\n..\r\nb\r\n", true, true},
		{"CR CR LF", "a\r\r\n.\r\n", 0, true, "a\r\n\r\n", true, true},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* the result must not depend on how the bytes were split */
		if (strcmp(cases[i].name, "NUL") == 0) {
			/* "a\0b\r\n.\r\n": the stored body keeps the NUL; compare
			 * only the flags here */
			struct smtp_data_rx rx;
			struct buf out = {0};
			smtp_data_init(&rx, false);
			smtp_data_feed(&rx, cases[i].in, 9, &out);
			CHECK(rx.nul && rx.done && out.len == 5, "NUL: got nul %d done %d len %zu\n",
			      rx.nul, rx.done, out.len);
			buf_free(&out);
			continue;
		}
		run_data_case(&cases[i], 1);
		run_data_case(&cases[i], 2);
		run_data_case(&cases[i], 1000);
	}
	assert_int_equal(failures, 0);
}

static void test_header_scan(void **state)
{
	static const struct {
		const char *name;
		const char *in;
		bool want_ended;
		bool want_blank;
		size_t want_off;
		bool want_msgid;
		bool want_date;
	} cases[] = {
		{"normal", "Subject: x\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n", true, false, 31, true,
		 false},
		{"date and folded", "Date: Thu, 1 Jan 2026\r\n 00:00 +0000\r\nX: y\r\n\r\n", true,
		 false, 43, false, true},
		{"case and space before colon", "message-id : <a@b>\r\nDATE:x\r\n\r\n", true, false, 28,
		 true, true},
		{"no empty line", "Subject: x\r\nFrom: a\r\n", false, false, 0, false, false},
		{"body without header", "hello world\r\nmore\r\n", true, true, 0, false, false},
		{"body after fields", "Subject: x\r\nhello world\r\n", true, true, 12, false, false},
		{"leading continuation", " folded\r\n\r\n", true, true, 0, false, false},
		{"incomplete line", "Subject: x\r\nMessage-I", false, false, 0, false, false},
		{"not message-id", "X-Message-ID: <a>\r\n\r\n", true, false, 19, false, false},
		{"empty message", "", false, false, 0, false, false},
		{"empty header", "\r\nbody\r\n", true, false, 0, false, false},
	};
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_hdr_scan hs;
		bool ended;

		smtp_hdr_scan_init(&hs);
		ended = smtp_hdr_scan_feed(&hs, cases[i].in, strlen(cases[i].in));
		CHECK(ended == cases[i].want_ended, "%s: ended got %d, want %d\n", cases[i].name, ended,
		      cases[i].want_ended);
		if (ended)
			CHECK(hs.end_off == cases[i].want_off && hs.need_blank == cases[i].want_blank,
			      "%s: end got %zu/%d, want %zu/%d\n", cases[i].name, hs.end_off,
			      hs.need_blank, cases[i].want_off, cases[i].want_blank);
		CHECK(hs.has_msgid == cases[i].want_msgid && hs.has_date == cases[i].want_date,
		      "%s: msgid/date got %d/%d, want %d/%d\n", cases[i].name, hs.has_msgid,
		      hs.has_date, cases[i].want_msgid, cases[i].want_date);
	}
	assert_int_equal(failures, 0);
}

static void test_received(void **state)
{
	struct buf b = {0};
	int64_t t = 1796304600000; /* 2026-12-03 13:30:00 UTC */
	char date[64];
	char want[512];

	(void)state;
	util_rfc5322_date(t, date, sizeof(date));
	smtp_received_header(&b, "client.test", "192.0.2.1", "mx.test", "ESMTP", "ABC", "a@b.example", t);
	snprintf(want, sizeof(want), "Received: from client.test ([192.0.2.1])\r\n\tby mx.test (mailerd) with ESMTP id ABC\r\n\tfor <a@b.example>; %s\r\n", date);
	assert_string_equal(b.data, want);
	buf_reset(&b);
	/* IPv6 literal per RFC 5321 section 4.1.3; HELO junk masked */
	smtp_received_header(&b, "bad (x);\x01", "::1", "mx.test", "UTF8SMTP", NULL, NULL, t);
	snprintf(want, sizeof(want), "Received: from bad??x??? ([IPv6:::1])\r\n\tby mx.test (mailerd) with UTF8SMTP; %s\r\n", date);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_orcpt_length),
		cmocka_unit_test(test_envid_length),
		cmocka_unit_test(test_data_reader),
		cmocka_unit_test(test_header_scan),
		cmocka_unit_test(test_received),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
