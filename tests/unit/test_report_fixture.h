/*
 * test_report_fixture.h - what the report tests share: an original message
 * in memory with its body (wire form) in a temporary file, recipients with
 * outcomes, and helpers that cut a composed report into its parts.
 */
#ifndef TEST_REPORT_FIXTURE_H
#define TEST_REPORT_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"

#define T0          1767225600000LL /* Thu, 01 Jan 2026 00:00:00 +0000 */
#define FX_BOUNDARY "BOUNDARY-test-42"
#define FX_MSGID    "<report.1@mail.example.org>"
#define FX_HOST     "mail.example.org"

/* The original, stored as the spool stores it: CRLF, dot-stuffed (the
 * line ". see you" was sent as ".. see you"). */
#define FX_BODY                                                                  \
	"Received: from client.example.org (client.example.org [192.0.2.1])\r\n" \
	"\tby mail.example.org with ESMTP id 0123456789ABCDEF0\r\n"              \
	"From: Alice <alice@example.org>\r\n"                                    \
	"To: Bob <bob@example.net>\r\n"                                          \
	"Subject: Lunch on Friday?\r\n"                                          \
	"Date: Wed, 31 Dec 2025 23:59:00 +0000\r\n"                              \
	"Message-ID:\r\n"                                                        \
	" <lunch.42@example.org>\r\n"                                            \
	"MIME-Version: 1.0\r\n"                                                  \
	"Content-Type: text/plain; charset=us-ascii\r\n"                         \
	"\r\n"                                                                   \
	"Hi Bob,\r\n"                                                            \
	"\r\n"                                                                   \
	".. see you at noon (this line began with a dot).\r\n"                   \
	"\r\n"                                                                   \
	"Alice\r\n"

static __attribute__((unused)) char *fx_tmpdir(const char *tag)
{
	const char *base = getenv("MAILERD_TEST_TMP");
	char *dir;

	if (base == NULL)
		base = "/tmp";
	if (util_mkdir_p(base, 0700) < 0)
		fail_msg("cannot create %s", base);
	dir = xasprintf("%s/%s-XXXXXX", base, tag);
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp %s: %s", dir, strerror(errno));
	return dir;
}

static __attribute__((unused)) void fx_rmdir(char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		fail_msg("cannot remove %s", dir);
	free(cmd);
	free(dir);
}

/* An fd whose current offset is the first byte of body: five bytes of
 * something else come first, as in a spool file with its envelope. */
static __attribute__((unused)) int fx_body_fd(const char *dir, const char *body, size_t len)
{
	char *path = xasprintf("%s/body-XXXXXX", dir);
	int fd = mkstemp(path);

	if (fd < 0)
		fail_msg("mkstemp: %s", strerror(errno));
	unlink(path);
	free(path);
	if (util_write_all(fd, "ENVLP", 5) < 0 || util_write_all(fd, body, len) < 0)
		fail_msg("write body: %s", strerror(errno));
	if (lseek(fd, 5, SEEK_SET) != 5)
		fail_msg("lseek: %s", strerror(errno));
	return fd;
}

static __attribute__((unused)) struct spool_msg *fx_msg(void)
{
	struct spool_msg *m = spool_msg_new();

	util_strlcpy(m->id, "0123456789ABCDEF0", sizeof(m->id));
	util_strlcpy(m->sender, "alice@example.org", sizeof(m->sender));
	m->arrival_ms = T0;
	m->body_len = strlen(FX_BODY);
	return m;
}

static __attribute__((unused)) struct spool_rcpt *fx_rcpt_add(struct spool_msg *m, const char *addr)
{
	struct spool_rcpt *r = spool_msg_add_rcpt(m, addr);

	if (r == NULL)
		fail_msg("add rcpt");
	r->last_attempt_ms = T0 + 60000;
	r->attempts = 1;
	r->state = RCPT_FAILED;
	return r;
}

/* A recipient with the outcome of a remote SMTP reply. */
static __attribute__((unused)) struct spool_rcpt *
fx_rcpt(struct spool_msg *m, const char *addr, int code, const char *text, const char *remote)
{
	struct spool_rcpt *r = fx_rcpt_add(m, addr);

	outcome_from_reply(&r->last, code, text, remote);
	return r;
}

/* A recipient with an outcome in our own words (DNS, connection). */
static __attribute__((unused)) struct spool_rcpt *fx_rcpt_own(struct spool_msg *m, const char *addr,
                                                              const char *status, const char *text,
                                                              const char *remote)
{
	struct spool_rcpt *r = fx_rcpt_add(m, addr);
	enum outcome_kind k = status[0] == '2'   ? OUTCOME_OK
	                      : status[0] == '4' ? OUTCOME_TEMP
	                                         : OUTCOME_PERM;

	outcome_set(&r->last, k, 0, status, remote, "%s", text);
	return r;
}

/* A request for every recipient of m, with the fixed seeds. */
static __attribute__((unused)) struct report_request
fx_req(const struct spool_msg *m, const size_t *idx, enum report_kind kind, int fd)
{
	struct report_request r = {
	    .msg = m,
	    .rcpt_idx = idx,
	    .n_rcpt = m->n_rcpt,
	    .kind = kind,
	    .myhostname = FX_HOST,
	    .now_ms = T0 + 120000,
	    .will_retry_until_ms = T0 + 5LL * 86400000,
	    .return_limit = 65536,
	    .body_fd = fd,
	    .body_len = strlen(FX_BODY),
	    .boundary_seed = FX_BOUNDARY,
	    .message_id = FX_MSGID,
	};
	return r;
}

/* The content of the part whose Content-Type line starts with ctype,
 * without the part's header, up to the CRLF before the next delimiter;
 * malloc'd, NULL when there is no such part. */
static __attribute__((unused)) char *fx_part(const char *report, const char *ctype)
{
	char *key = xasprintf("Content-Type: %s", ctype);
	const char *p = strstr(report, key), *start, *end;

	free(key);
	if (p == NULL)
		return NULL;
	start = strstr(p, "\r\n\r\n");
	if (start == NULL)
		return NULL;
	start += 4;
	end = strstr(start, "\r\n--" FX_BOUNDARY);
	if (end == NULL)
		return NULL;
	return xstrndup(start, (size_t)(end - start));
}

/* compose or fail the test */
static __attribute__((unused)) char *fx_compose(const struct report_request *req)
{
	struct buf out = {0};
	char err[256];

	if (report_compose(req, &out, err, sizeof(err)) != 0)
		fail_msg("report_compose: %s", err);
	return buf_steal(&out);
}

#endif
