/*
 * handle.c - what one message received at the bounce domain becomes
 * (runs on the intake's worker thread).
 *
 * For each recipient of the queued message:
 *   bounces+TAG... with a valid tag: the bounce is parsed (src/bounce) and
 *       its failure is recorded for the message and recipient the TAG
 *       names - with a carried tag not the address the bounce text names,
 *       which may be an alias or a forwarding target; with a hashed tag
 *       (long addresses) the record whose address has the tag's hash, and
 *       none when no record does ("untied": never a guess). One event per bounce: the records
 *       of one bounce all concern our one recipient (one return path per
 *       recipient), so the most telling one is taken (a hard bounce
 *       first, then any failure). Delay notices and success reports
 *       (RFC 3464 section 2.3.3 Action delayed/delivered/relayed/
 *       expanded) are logged, never counted.
 *   any other address (postmaster@bounce_domain): a report there cannot
 *       be tied to mail we sent, so it is backscatter ("no-tag"); other
 *       mail is logged and dropped (the bounce domain has no mailboxes).
 *   a tag that no longer verifies (it expired while queued): backscatter.
 * Then the recipient is done (OK, "delivered" locally) and the scheduler
 * removes the message. When the store fails the outcome is TEMP, so the
 * bounce stays queued and is taken in again later.
 *
 * The body is the spool's wire form (CRLF, dot-stuffed, RFC 5321 section
 * 4.5.2); dot-stuffing is undone before parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounce/bounce.h"
#include "intake/internal.h"
#include "suppress/suppress.h"
#include "util/mailog.h"
#include "util/util.h"

/* read_body - the whole body, dot-stuffing undone; -1 with errno */
static int read_body(int fd, size_t len, struct buf *out)
{
	struct buf raw = {0};
	bool bol = true;

	buf_reserve(&raw, len + 1);
	while (raw.len < len) {
		ssize_t n = read(fd, raw.data + raw.len, len - raw.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_free(&raw);
			if (n == 0)
				errno = EIO;
			return -1;
		}
		raw.len += (size_t)n;
	}
	buf_reserve(out, raw.len + 1);
	for (size_t i = 0; i < raw.len; i++) {
		char c = raw.data[i];
		if (!(bol && c == '.' && i + 1 < raw.len && raw.data[i + 1] == '.'))
			buf_putc(out, c);
		bol = c == '\n';
	}
	buf_free(&raw);
	return 0;
}

/* is_failure - an Action that says the message did not get through */
static bool is_failure(const struct bounce_record *r)
{
	static const char *const not_failures[] = {"delayed", "delivered", "relayed", "expanded",
	                                           NULL};

	for (size_t i = 0; not_failures[i]; i++)
		if (strcmp(r->action, not_failures[i]) == 0)
			return false;
	return true;
}

/* pick - the record that speaks for the bounce, or NULL when none is a
 * failure. A hashed tag (signing.h) names its recipient by hash: only a
 * record for that address counts. */
static const struct bounce_record *pick(const struct intake_ctx *ctx, const struct signing_tag *t,
                                        const struct bounce_result *res)
{
	const struct bounce_record *first = NULL;

	for (size_t i = 0; i < res->n; i++) {
		const struct bounce_record *r = &res->recs[i];
		if (!is_failure(r))
			continue;
		if (t->rcpt[0] == '\0' && !signing_tag_names(&ctx->key, t, r->recipient))
			continue;
		if (r->hardbounce)
			return r;
		if (first == NULL)
			first = r;
	}
	return first;
}

static const char *verdict_word(enum suppress_verdict v)
{
	switch (v) {
	case SUPPRESS_V_SUPPRESSED: return "suppressed";
	case SUPPRESS_V_ALREADY: return "already-suppressed";
	case SUPPRESS_V_RECORDED:
	default: return "recorded";
	}
}

/* tied - a bounce for a verified tag; 0, or -1 when the store failed */
static int tied(const struct intake_ctx *ctx, const struct ijob *j, const struct signing_tag *t,
                const struct bounce_result *res, const char *to)
{
	const struct bounce_record *r = pick(ctx, t, res);
	struct suppress_bounce b;
	enum suppress_verdict v;
	char err[600], detail[1500];

	if (r == NULL) {
		/* a delay notice, an auto-reply, or (hashed tag) a bounce that
		 * names only some other address: never suppress a guess */
		snprintf(detail, sizeof(detail),
		         "rcpt_index=%u records=%zu verdict=untied "
		         "bounce_qid=%s to=<%s>",
		         t->ri, res->n, j->qid, to);
		mailog_queue_op(t->qid, "bounce-received", detail);
		return 0;
	}
	memset(&b, 0, sizeof(b));
	/* a carried tag names the recipient; the bounce text may name an
	 * alias. A hashed one matched r's address (pick). */
	b.address = t->rcpt[0] ? t->rcpt : r->recipient;
	b.reason = r->reason ? r->reason : "undefined";
	b.hard = r->hardbounce;
	b.status = r->status[0] ? r->status : NULL;
	b.diagnostic = r->diagnostic_code;
	b.queue_id = t->qid;
	if (b.address[0] == '\0') {
		log_warn("%s: intake: bounce for %s names no recipient; nothing recorded", j->qid,
		         t->qid);
		return 0;
	}
	if (suppress_record_bounce(ctx->st, &b, &v, err, sizeof(err)) < 0) {
		log_error("%s: intake: cannot record the bounce for %s: %s", j->qid, t->qid, err);
		return -1;
	}
	snprintf(detail, sizeof(detail),
	         "rcpt=<%s> rcpt_index=%u reason=%s hard=%s status=%s verdict=%s named=<%s> "
	         "bounce_qid=%s",
	         b.address, t->ri, b.reason, b.hard ? "yes" : "no", b.status ? b.status : "",
	         verdict_word(v), r->recipient, j->qid);
	mailog_queue_op(t->qid, "bounce-received", detail);
	return 0;
}

/* untied - mail at the bounce domain that names no message of ours */
static int untied(const struct intake_ctx *ctx, const struct ijob *j, const char *to,
                  const char *kind, const struct bounce_result *res)
{
	char err[600], detail[1024];

	if (res->n == 0 && strcmp(kind, "no-tag") == 0) {
		log_warn("%s: intake: mail to <%s> is not a report; dropped (the bounce domain "
		         "has no mailboxes)",
		         j->qid, to);
		return 0;
	}
	snprintf(detail, sizeof(detail), "rcpt=<%s> records=%zu bounce_qid=%s", to, res->n, j->qid);
	if (suppress_record_backscatter(ctx->st, kind, detail, err, sizeof(err)) < 0) {
		log_error("%s: intake: cannot count backscatter: %s", j->qid, err);
		return -1;
	}
	mailog_queue_op(j->qid, "backscatter", detail);
	return 0;
}

void intake_handle_message(const struct intake_ctx *ctx, struct ijob *j)
{
	struct bounce_result res = {0};
	struct buf body = {0};
	int rc = read_body(j->fd, j->len, &body);

	close(j->fd);
	j->fd = -1;
	if (rc < 0) {
		for (size_t i = 0; i < j->n; i++)
			outcome_set(&j->out[i], OUTCOME_TEMP, 451, "4.3.0", "",
			            "cannot read the queued bounce: %s", strerror(errno));
		return;
	}
	bounce_parse(body.data ? body.data : "", body.len, &res);
	for (size_t i = 0; i < j->n; i++) {
		struct signing_tag t;
		enum signing_verdict v;

		v = signing_verify(&ctx->key, j->rcpt[i], util_now_ms(), ctx->lifetime_ms, &t);
		if (v == SIGNING_OK)
			rc = tied(ctx, j, &t, &res, j->rcpt[i]);
		else
			rc = untied(ctx, j, j->rcpt[i], signing_verdict_name(v), &res);
		if (rc < 0)
			outcome_set(&j->out[i], OUTCOME_TEMP, 451, "4.3.0", "",
			            "the suppression store is not available");
		else
			outcome_set(&j->out[i], OUTCOME_OK, 250, "2.0.0", "",
			            "bounce taken in by the intake");
	}
	bounce_result_free(&res);
	buf_free(&body);
}

void intake_record_backscatter(const struct intake_ctx *ctx, const char *kind, const char *detail)
{
	char err[600];

	if (suppress_record_backscatter(ctx->st, kind, detail, err, sizeof(err)) < 0)
		log_error("intake: cannot count backscatter (%s): %s", kind, err);
}
