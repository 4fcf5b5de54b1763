/*
 * test_report_compose.c - the composed report: the exact field order and
 * syntax of the delivery-status part (RFC 3464), folding of a long
 * diagnostic, xtext decoding of ENVID and ORCPT, the RET and size caps of
 * the returned original, the UTF-8 (RFC 6533) types, the header and the
 * wire form, and one golden file per report kind compared byte for byte.
 *
 * REPORT_GOLDEN_UPDATE=1 rewrites the golden files instead of comparing
 * (do that only on purpose, and read the diff).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_report_fixture.h"

static char *tmpdir;

static int setup(void **state)
{
	(void)state;
	tmpdir = fx_tmpdir("report");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_rmdir(tmpdir);
	return 0;
}

static void test_dsn_fields_exact(void **state)
{
	static const char want[] =
	    "Original-Envelope-Id: ab+cd=e\r\n"
	    "Reporting-MTA: dns; mail.example.org\r\n"
	    "Arrival-Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
	    "X-Mailerd-Queue-ID: 0123456789ABCDEF0\r\n"
	    "\r\n"
	    "Original-Recipient: rfc822; bob+tag@example.net\r\n"
	    "Final-Recipient: rfc822; bob@example.net\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Remote-MTA: dns; mx.example.net\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address\r\n"
	    " rejected: User unknown in virtual mailbox table\r\n"
	    "Last-Attempt-Date: Thu, 01 Jan 2026 00:01:00 +0000\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; carol@exmaple.com\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.2\r\n"
	    "Diagnostic-Code: X-mailerd; Host or domain name not found: domain exmaple.com\r\n"
	    " does not exist (NXDOMAIN)\r\n"
	    "Last-Attempt-Date: Thu, 01 Jan 2026 00:01:00 +0000\r\n";
	struct spool_msg *m = fx_msg();
	size_t idx[] = {0, 1};
	struct spool_rcpt *bob;
	struct report_request req;
	char *rep, *dsn;
	int fd = fx_body_fd(tmpdir, FX_BODY, strlen(FX_BODY));

	(void)state;
	util_strlcpy(m->envid, "ab+2Bcd+3De", sizeof(m->envid));
	bob = fx_rcpt(m, "bob@example.net", 550,
	              "5.1.1 <bob@example.net>: Recipient address rejected: User unknown in "
	              "virtual mailbox table",
	              "mx.example.net[192.0.2.7]:25");
	util_strlcpy(bob->orcpt, "rfc822;bob+2Btag@example.net", sizeof(bob->orcpt));
	fx_rcpt_own(m, "carol@exmaple.com", "5.1.2",
	            "Host or domain name not found: domain exmaple.com does not exist (NXDOMAIN)",
	            "");
	req = fx_req(m, idx, REPORT_FAILED, fd);
	rep = fx_compose(&req);
	dsn = fx_part(rep, "message/delivery-status");
	assert_non_null(dsn);
	if (strcmp(dsn, want) != 0)
		fail_msg("delivery-status part:\ngot:\n%s\nwant:\n%s", dsn, want);
	free(dsn);
	free(rep);
	close(fd);
	spool_msg_free(m);
}

static void test_header_and_structure(void **state)
{
	struct spool_msg *m = fx_msg();
	size_t idx[] = {0};
	struct report_request req;
	char *rep;
	int fd = fx_body_fd(tmpdir, FX_BODY, strlen(FX_BODY));
	static const char *const want_lines[] = {
	    "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>\r\n",
	    "\r\nTo: <alice@example.org>\r\n",
	    "\r\nSubject: Undelivered Mail Returned to Sender\r\n",
	    "\r\nDate: Thu, 01 Jan 2026 00:02:00 +0000\r\n",
	    "\r\nMessage-ID: <report.1@mail.example.org>\r\n",
	    "\r\nIn-Reply-To: <lunch.42@example.org>\r\n",
	    "\r\nReferences: <lunch.42@example.org>\r\n",
	    "\r\nAuto-Submitted: auto-replied\r\n",
	    "\r\nMIME-Version: 1.0\r\n",
	    "\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"" FX_BOUNDARY "\"\r\n",
	};

	(void)state;
	fx_rcpt(m, "bob@example.net", 550, "5.1.1 User unknown", "mx.example.net[192.0.2.7]:25");
	req = fx_req(m, idx, REPORT_FAILED, fd);
	rep = fx_compose(&req);
	assert_true(strncmp(rep, want_lines[0], strlen(want_lines[0])) == 0);
	for (size_t i = 1; i < sizeof(want_lines) / sizeof(want_lines[0]); i++)
		if (strstr(rep, want_lines[i]) == NULL)
			fail_msg("header line missing: got none, want %s", want_lines[i]);
	/* exactly three parts, in order */
	{
		const char *p1 = strstr(rep, "\r\n--" FX_BOUNDARY "\r\nContent-Description: "
		                             "Notification\r\nContent-Type: text/plain; "
		                             "charset=utf-8\r\n");
		const char *p2 = strstr(rep, "Content-Type: message/delivery-status\r\n");
		const char *p3 = strstr(rep, "Content-Type: message/rfc822\r\n");
		size_t delims = 0;

		assert_non_null(p1);
		assert_non_null(p2);
		assert_non_null(p3);
		assert_true(p1 < p2 && p2 < p3);
		for (const char *p = rep; (p = strstr(p, "\r\n--" FX_BOUNDARY)) != NULL; p++)
			delims++;
		if (delims != 4)
			fail_msg("boundary lines: got %zu, want 4 (3 parts + close)", delims);
		assert_non_null(strstr(rep, "\r\n--" FX_BOUNDARY "--\r\n"));
	}
	/* the person's part names the recipient and the reason */
	assert_non_null(strstr(rep, "<bob@example.net>: no such user\r\n"));
	/* the original is embedded unstuffed and the whole is stuffed once:
	 * the dot line appears doubled in wire form, exactly once */
	assert_non_null(strstr(rep, "\r\n.. see you at noon"));
	assert_null(strstr(rep, "\r\n... see you"));
	/* every line within 998, ends in CRLF */
	for (const char *p = rep; *p != '\0';) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_true(nl > p && nl[-1] == '\r');
		assert_true((size_t)(nl - p) - 1 <= 998);
		p = nl + 1;
	}
	free(rep);
	close(fd);
	spool_msg_free(m);
}

/* Unfolds a field value: CRLF followed by WSP is removed (RFC 5322
 * section 2.2.3); returns a malloc'd copy of the value after "Name: ". */
static char *unfold_field(const char *part, const char *name, size_t *maxline)
{
	char *key = xasprintf("%s: ", name);
	const char *p = strstr(part, key);
	struct buf b = {0};
	size_t col = 0;

	assert_non_null(p);
	*maxline = 0;
	col = strlen(key);
	p += strlen(key);
	free(key);
	for (;;) {
		if (p[0] == '\r' && p[1] == '\n') {
			if (col > *maxline)
				*maxline = col;
			if (p[2] != ' ' && p[2] != '\t')
				break;
			p += 2;
			col = 0;
			continue;
		}
		buf_putc(&b, *p++);
		col++;
	}
	return buf_steal(&b);
}

static void test_fold_long_diagnostic(void **state)
{
	struct spool_msg *m = fx_msg();
	size_t idx[] = {0, 1};
	struct report_request req;
	struct buf text = {0};
	char *rep, *dsn, *got, *want;
	size_t maxline, nlines = 0;
	int fd = fx_body_fd(tmpdir, FX_BODY, strlen(FX_BODY));

	(void)state;
	buf_puts(&text, "5.7.1 Message rejected under policy.");
	while (text.len < 600)
		buf_puts(&text, " Please see https://help.example.net/policy#rule-7 for details.");
	fx_rcpt(m, "bob@example.net", 550, text.data, "mx.example.net[192.0.2.7]:25");
	/* a second one whose reply has no white space to fold at */
	{
		char word[1001];

		memset(word, 'x', 1000);
		word[1000] = '\0';
		fx_rcpt(m, "dan@example.net", 550, word, "mx.example.net[192.0.2.7]:25");
	}
	req = fx_req(m, idx, REPORT_FAILED, fd);
	rep = fx_compose(&req);
	dsn = fx_part(rep, "message/delivery-status");
	assert_non_null(dsn);

	got = unfold_field(dsn, "Diagnostic-Code", &maxline);
	want = xasprintf("smtp; 550 %s", text.data);
	if (strcmp(got, want) != 0)
		fail_msg("unfolded diagnostic:\ngot  %s\nwant %s", got, want);
	if (maxline > 78)
		fail_msg("longest folded line: got %zu, want <= 78", maxline);
	for (const char *p = strstr(dsn, "Diagnostic-Code:"); p != NULL && *p != '\0';) {
		const char *nl = strstr(p, "\r\n");

		nlines++;
		if (nl[2] != ' ')
			break;
		p = nl + 2;
	}
	if (nlines < 8)
		fail_msg("folded lines: got %zu, want >= 8 for a 600-char reply", nlines);
	free(got);
	free(want);

	/* the spaceless one: no line over 998 */
	got = unfold_field(strstr(dsn, "dan@example.net"), "Diagnostic-Code", &maxline);
	if (maxline > 998)
		fail_msg("hard-folded line: got %zu, want <= 998", maxline);
	assert_true(strlen(got) >= 1000);
	free(got);

	buf_free(&text);
	free(dsn);
	free(rep);
	close(fd);
	spool_msg_free(m);
}

struct xtext_case {
	const char *name, *envid, *orcpt, *want_envid, *want_orcpt;
};

static void test_xtext_decoding(void **state)
{
	static const struct xtext_case cases[] = {
	    {"plain", "abc123", "rfc822;bob@example.net", "Original-Envelope-Id: abc123\r\n",
	     "Original-Recipient: rfc822; bob@example.net\r\n"},
	    {"escapes", "id+2B1+3D2+20x", "rfc822;bob+2Bnews@example.net",
	     "Original-Envelope-Id: id+1=2 x\r\n",
	     "Original-Recipient: rfc822; bob+news@example.net\r\n"},
	    {"bad xtext kept raw", "a+zz", "rfc822;b+Q@example.net",
	     "Original-Envelope-Id: a+zz\r\n", "Original-Recipient: rfc822; b+Q@example.net\r\n"},
	    {"control byte cleaned", "x+0Dy+0Az", "RFC822;c+0D+0AFake:+201@x",
	     "Original-Envelope-Id: x y z\r\n", "Original-Recipient: RFC822; c Fake: 1@x\r\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = fx_msg();
		size_t idx[] = {0};
		struct spool_rcpt *r;
		struct report_request req;
		char *rep, *dsn;

		util_strlcpy(m->envid, cases[i].envid, sizeof(m->envid));
		r = fx_rcpt(m, "bob@example.net", 550, "5.1.1 no", "mx.example.net[192.0.2.7]:25");
		util_strlcpy(r->orcpt, cases[i].orcpt, sizeof(r->orcpt));
		req = fx_req(m, idx, REPORT_FAILED, -1);
		rep = fx_compose(&req);
		dsn = fx_part(rep, "message/delivery-status");
		assert_non_null(dsn);
		if (strstr(dsn, cases[i].want_envid) == NULL)
			fail_msg("%s: got\n%s\nwant ENVID line %s", cases[i].name, dsn,
			         cases[i].want_envid);
		if (strstr(dsn, cases[i].want_orcpt) == NULL)
			fail_msg("%s: got\n%s\nwant ORCPT line %s", cases[i].name, dsn,
			         cases[i].want_orcpt);
		free(dsn);
		free(rep);
		spool_msg_free(m);
	}
}

struct ret_case {
	const char *name;
	enum dsn_ret ret;
	uint64_t limit;
	const char *want_type;
	bool want_body;
};

static void test_ret_caps(void **state)
{
	static const struct ret_case cases[] = {
	    {"unset, fits", DSN_RET_UNSET, 65536, "message/rfc822", true},
	    {"FULL, fits", DSN_RET_FULL, 65536, "message/rfc822", true},
	    {"FULL, exactly the limit", DSN_RET_FULL, sizeof(FX_BODY) - 1, "message/rfc822", true},
	    {"FULL, over the limit", DSN_RET_FULL, 100, "text/rfc822-headers", false},
	    {"unset, over the limit", DSN_RET_UNSET, 0, "text/rfc822-headers", false},
	    {"HDRS", DSN_RET_HDRS, 65536, "text/rfc822-headers", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = fx_msg();
		size_t idx[] = {0};
		struct report_request req;
		char *rep, *part;
		int fd = fx_body_fd(tmpdir, FX_BODY, strlen(FX_BODY));

		m->ret = cases[i].ret;
		fx_rcpt(m, "bob@example.net", 550, "5.1.1 no", "mx.example.net[192.0.2.7]:25");
		req = fx_req(m, idx, REPORT_FAILED, fd);
		req.return_limit = cases[i].limit;
		rep = fx_compose(&req);
		part = fx_part(rep, cases[i].want_type);
		if (part == NULL)
			fail_msg("%s: got no %s part in\n%s", cases[i].name, cases[i].want_type,
			         rep);
		/* headers always; the body only for the full copy */
		assert_non_null(strstr(part, "Subject: Lunch on Friday?\r\n"));
		if ((strstr(part, "Hi Bob,") != NULL) != cases[i].want_body)
			fail_msg("%s: body returned: got %d, want %d", cases[i].name,
			         !cases[i].want_body, cases[i].want_body);
		if (!cases[i].want_body && strstr(part, "\r\n\r\n") != NULL)
			fail_msg("%s: headers-only part holds a blank line", cases[i].name);
		/* the fd's offset is untouched: compose again gives the same */
		{
			char *again = fx_compose(&req);

			assert_string_equal(again, rep);
			free(again);
		}
		free(part);
		free(rep);
		close(fd);
		spool_msg_free(m);
	}
}

static void test_utf8_global_types(void **state)
{
	struct spool_msg *m = fx_msg();
	size_t idx[] = {0, 1};
	struct report_request req;
	char *rep, *dsn;
	int fd = fx_body_fd(tmpdir, FX_BODY, strlen(FX_BODY));

	(void)state;
	m->smtputf8 = true;
	util_strlcpy(m->sender, "jörg@exämple.de", sizeof(m->sender));
	fx_rcpt(m, "用户@例子.广告", 550, "5.1.1 unknown", "mx.example.net[192.0.2.7]:25");
	fx_rcpt(m, "bob@example.net", 550, "5.1.1 unknown", "mx.example.net[192.0.2.7]:25");
	req = fx_req(m, idx, REPORT_FAILED, fd);
	rep = fx_compose(&req);
	dsn = fx_part(rep, "message/global-delivery-status");
	assert_non_null(dsn);
	assert_null(strstr(rep, "Content-Type: message/delivery-status"));
	assert_non_null(strstr(dsn, "Final-Recipient: utf-8; 用户@例子.广告\r\n"));
	assert_non_null(strstr(dsn, "Final-Recipient: rfc822; bob@example.net\r\n"));
	assert_non_null(strstr(rep, "Content-Type: message/global\r\n"));
	assert_non_null(strstr(rep, "\r\nTo: <jörg@exämple.de>\r\n"));
	free(dsn);
	free(rep);

	/* headers only: message/global-headers */
	m->ret = DSN_RET_HDRS;
	rep = fx_compose(&req);
	assert_non_null(strstr(rep, "Content-Type: message/global-headers\r\n"));
	free(rep);

	/* the same report for ASCII addresses stays classic */
	m->smtputf8 = false;
	m->ret = DSN_RET_UNSET;
	util_strlcpy(m->sender, "alice@example.org", sizeof(m->sender));
	util_strlcpy(m->rcpt[0].addr, "carol@example.net", sizeof(m->rcpt[0].addr));
	rep = fx_compose(&req);
	assert_non_null(strstr(rep, "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(rep, "Content-Type: message/rfc822\r\n"));
	free(rep);
	close(fd);
	spool_msg_free(m);
}

/* ---- golden files: one per kind ---- */

static void golden_check(const char *kind, const char *got)
{
	const char *src = getenv("SOURCE_DIR");
	char *path;
	FILE *f;

	if (src == NULL)
		skip();
	path = xasprintf("%s/tests/golden/report/%s.eml", src, kind);
	if (getenv("REPORT_GOLDEN_UPDATE") != NULL) {
		f = fopen(path, "wb");
		if (f == NULL || fwrite(got, 1, strlen(got), f) != strlen(got) || fclose(f) != 0)
			fail_msg("cannot write %s", path);
		print_message("updated %s\n", path);
	} else {
		struct buf want = {0};
		char chunk[4096];
		size_t n;

		f = fopen(path, "rb");
		if (f == NULL)
			fail_msg("no golden file %s (REPORT_GOLDEN_UPDATE=1 makes it)", path);
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_append(&want, chunk, n);
		fclose(f);
		if (want.len != strlen(got) || memcmp(want.data, got, want.len) != 0)
			fail_msg("%s differs from the golden file %s:\ngot:\n%s", kind, path, got);
		buf_free(&want);
	}
	free(path);
}

static void test_golden(void **state)
{
	static const struct {
		const char *name;
		enum report_kind kind;
	} kinds[] = {
	    {"failed", REPORT_FAILED},
	    {"delayed", REPORT_DELAYED},
	    {"delivered", REPORT_DELIVERED},
	    {"relayed", REPORT_RELAYED},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct spool_msg *m = fx_msg();
		size_t idx[] = {0, 1};
		struct report_request req;
		struct spool_rcpt *r;
		char *rep;
		int fd = fx_body_fd(tmpdir, FX_BODY, strlen(FX_BODY));

		util_strlcpy(m->envid, "QQ314159", sizeof(m->envid));
		switch (kinds[i].kind) {
		case REPORT_FAILED:
			r = fx_rcpt(m, "bob@example.net", 550,
			            "5.1.1 <bob@example.net>: Recipient address rejected: User "
			            "unknown in virtual mailbox table",
			            "mx.example.net[192.0.2.7]:25");
			util_strlcpy(r->orcpt, "rfc822;bob@example.net", sizeof(r->orcpt));
			fx_rcpt_own(
			    m, "carol@gmial.com", "5.1.2",
			    "Host or domain name not found: domain gmial.com does not exist "
			    "(NXDOMAIN)",
			    "");
			break;
		case REPORT_DELAYED:
			fx_rcpt(m, "bob@example.net", 452, "4.2.2 <bob@example.net>: mailbox full",
			        "mx.example.net[192.0.2.7]:25");
			fx_rcpt_own(m, "carol@example.com", "4.4.1",
			            "connect to mx.example.com[192.0.2.9]:25: Connection timed out",
			            "mx.example.com[192.0.2.9]:25");
			break;
		case REPORT_DELIVERED:
		case REPORT_RELAYED:
			fx_rcpt(m, "bob@example.net", 250, "2.0.0 Ok: queued as 4F2B1C",
			        "mx.example.net[192.0.2.7]:25");
			fx_rcpt(m, "carol@example.com", 250, "Ok", "mx.example.com[192.0.2.9]:25");
			break;
		}
		req = fx_req(m, idx, kinds[i].kind, fd);
		rep = fx_compose(&req);
		golden_check(kinds[i].name, rep);
		free(rep);
		close(fd);
		spool_msg_free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dsn_fields_exact),
	    cmocka_unit_test(test_header_and_structure),
	    cmocka_unit_test(test_fold_long_diagnostic),
	    cmocka_unit_test(test_xtext_decoding),
	    cmocka_unit_test(test_ret_caps),
	    cmocka_unit_test(test_utf8_global_types),
	    cmocka_unit_test(test_golden),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
