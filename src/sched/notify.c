/*
 * notify.c - the reports a queued message causes (issue 3): final reports
 * (failed, delivered, relayed), delay warnings, and their bookkeeping so
 * that no report is lost and, short of a crash at one exact moment, none
 * is sent twice.
 *
 * When reports are made:
 *   - final: sched_on_final runs once the new recipient states are
 *     durable; the recipients of that event are grouped by kind (failed;
 *     delivered; relayed = delivered to a hop that did not announce DSN,
 *     RFC 3461 section 4.1) and each kind becomes one report listing all
 *     of them (report_queue filters by NOTIFY and loop safety);
 *   - delay: the message has one heap entry (qm->warn) keyed on its next
 *     delay_warning time, arrival + warning[delay_warnings_sent]. When it
 *     comes due and recipients are still deferred, one REPORT_DELAYED
 *     lists them with Will-Retry-Until = arrival + queue_lifetime. A late
 *     check (after a restart, say) sends one warning and skips the
 *     warnings whose times have also passed. No queue scan. A held
 *     message has no warning timer: it is not being retried, so "still
 *     trying" would be false; release arms it again (a time already
 *     passed then warns at once).
 *
 * Durability (design.md "Durability contract"):
 *   - a report is handed to the spool with report_queue; its callback
 *     runs once the report file is durable. Only then are the recipients
 *     marked `reported` (and a delay warning counted in
 *     delay_warnings_sent), and the mark goes to disk with spool_update
 *     like any state change (a NOTE_MARK note);
 *   - the original's file is not removed while a report is owed
 *     (notify_pending), so a crash before the report is durable finds
 *     final-but-unreported recipients at recovery, and notify_recover
 *     queues their report then;
 *   - the only duplicate: a crash after the report commit and before the
 *     mark is durable (at-least-once, never zero).
 *   - the spool refusing a report (disk full: -1) keeps the report owed
 *     and retries it on a timer; the original waits meanwhile.
 *
 * Rate limit: at most report_rate_limit reports to one address per hour
 * (rate.c); one over the limit is logged ("report-suppressed"), counted,
 * and treated as sent, so the original can go.
 *
 * Log lines, Postfix-style: "QID: sender non-delivery notification: RID"
 * (delay notification, delivery status notification, postmaster
 * non-delivery notification for a double bounce), and the event
 * report with "kind=failed id=RID rcpts=N".
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config/config.h"
#include "report/report.h"
#include "sched/qmgr.h"
#include "util/mailog.h"
#include "util/util.h"

static const char *kind_word(int kind)
{
	switch (kind) {
	case REPORT_FAILED: return "failed";
	case REPORT_DELAYED: return "delayed";
	case REPORT_DELIVERED: return "delivered";
	case REPORT_RELAYED: return "relayed";
	}
	return "unknown";
}

/* kind_phrase - Postfix's words for the log line of a queued report */
static const char *kind_phrase(const struct spool_msg *m, int kind)
{
	if (m->origin == SPOOL_ORIGIN_REPORT)
		return "postmaster non-delivery notification";
	switch (kind) {
	case REPORT_FAILED: return "sender non-delivery notification";
	case REPORT_DELAYED: return "sender delay notification";
	default: return "sender delivery status notification";
	}
}

/* final_kind - the report kind of a final recipient, -1 when not final */
static int final_kind(const struct spool_rcpt *r)
{
	if (r->state == RCPT_FAILED)
		return REPORT_FAILED;
	if (r->state == RCPT_DELIVERED)
		return r->relayed ? REPORT_RELAYED : REPORT_DELIVERED;
	return -1;
}

static bool wants_report(const struct qmsg *qm, size_t ri, int kind)
{
	const struct spool_msg *m = qm->msg;

	return report_decide(m, &m->rcpt[ri], (enum report_kind)kind, qm->s->cfg->myhostname) !=
	       REPORT_TO_NOBODY;
}

static struct qreport *qreport_new(struct qmsg *qm, int kind, const size_t *ri, size_t n)
{
	struct qreport *qr = xcalloc(1, sizeof(*qr));
	const struct spool_msg *m = qm->msg;

	qr->qm = qm;
	qr->kind = kind;
	qr->ri = xcalloc(n + 1, sizeof(*qr->ri));
	memcpy(qr->ri, ri, n * sizeof(*ri));
	qr->n = n;
	/* the address report_queue will send it to (report.h) */
	if (m->origin == SPOOL_ORIGIN_REPORT)
		snprintf(qr->target, sizeof(qr->target), "postmaster@%s", qm->s->cfg->myhostname);
	else
		util_strlcpy(qr->target, m->sender, sizeof(qr->target));
	LIST_INSERT_HEAD(&qm->reports, qr, link);
	return qr;
}

static void qreport_free(struct qreport *qr)
{
	LIST_REMOVE(qr, link);
	free(qr->ri);
	free(qr);
}

static struct qreport *pending_delay(const struct qmsg *qm)
{
	struct qreport *qr;

	LIST_FOREACH(qr, &qm->reports, link)
	if (qr->kind == REPORT_DELAYED)
		return qr;
	return NULL;
}

bool notify_pending(const struct qmsg *qm)
{
	return !LIST_EMPTY(&qm->reports);
}

bool notify_inflight(const struct qmsg *qm)
{
	struct qreport *qr;

	LIST_FOREACH(qr, &qm->reports, link)
	if (qr->inflight)
		return true;
	return false;
}

/* qreport_settled - the report is not needed (no recipient asks for it,
 * or the rate limit ate it): the same bookkeeping as a sent one, in memory
 * only. A crash before the file goes makes recovery decide again, which
 * again sends nothing (the rate table excepted, which a restart forgets). */
static void qreport_settled(struct qreport *qr)
{
	struct qmsg *qm = qr->qm;
	bool delay = qr->kind == REPORT_DELAYED;

	if (delay) {
		if (qr->warnings_sent > qm->msg->delay_warnings_sent)
			qm->msg->delay_warnings_sent = qr->warnings_sent;
	} else {
		for (size_t i = 0; i < qr->n; i++)
			qm->msg->rcpt[qr->ri[i]].reported = true;
	}
	qreport_free(qr);
	if (delay)
		notify_arm_warning(qm);
}

static void notify_on_retry(evutil_socket_t fd, short what, void *arg);

/* notify_retry_later - the spool refused a report: try again on a timer,
 * as quickly as a failed state update is retried (persist.c) */
static void notify_retry_later(struct qmsg *qm)
{
	int64_t ms = qm->s->policy.min_backoff_ms;
	struct timeval tv;

	if (ms > SCHED_UPDATE_RETRY_MS)
		ms = SCHED_UPDATE_RETRY_MS;
	if (ms < 100)
		ms = 100;
	if (qm->report_ev == NULL)
		qm->report_ev = evtimer_new(qm->s->base, notify_on_retry, qm);
	if (qm->report_ev == NULL)
		fatal("evtimer_new failed");
	if (evtimer_pending(qm->report_ev, NULL))
		return;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(qm->report_ev, &tv);
}

/* notify_on_queued - report_queued_fn: the report is durable (err 0) and
 * goes to the queue manager like any message; the original records that
 * its recipients were reported */
static void notify_on_queued(int err, const char *id, struct spool_msg *rmsg, void *arg)
{
	struct qreport *qr = arg;
	struct qmsg *qm = qr->qm;
	struct sched *s = qm->s;
	struct spool_msg *m = qm->msg;
	char detail[160];
	size_t n = qr->n;
	bool delay = qr->kind == REPORT_DELAYED;

	qr->inflight = false;
	if (err == 0)
		sched_failpoint("sched-after-report");
	if (err != 0) {
		log_error("%s: the %s report could not be queued: %s; retrying", m->id,
		          kind_word(qr->kind), strerror(err));
		rate_refund(s, qr->target, util_now_ms());
		if (qm->want_delete)
			qreport_free(qr);
		else
			notify_retry_later(qm);
		msg_settle(qm);
		sched_arm(s);
		return;
	}
	log_info("%s: %s: %s", m->id, kind_phrase(m, qr->kind), id);
	snprintf(detail, sizeof(detail), "kind=%s id=%s rcpts=%zu", kind_word(qr->kind), id, n);
	mailog_queue_op(m->id, "report", detail);
	s->reports_sent++;
	if (delay) {
		if (qr->warnings_sent > m->delay_warnings_sent)
			m->delay_warnings_sent = qr->warnings_sent;
		msg_note(qm, NOTE_MARK, NOTE_MSG, "report", NULL);
	} else {
		for (size_t i = 0; i < qr->n; i++) {
			m->rcpt[qr->ri[i]].reported = true;
			m->rcpt[qr->ri[i]].dirty = true;
			msg_note(qm, NOTE_MARK, qr->ri[i], "report", NULL);
		}
	}
	qreport_free(qr);
	sched_take(s, rmsg);
	if (delay)
		notify_arm_warning(qm);
	msg_settle(qm); /* persists the mark; may remove and free qm */
	sched_arm(s);
}

/* qreport_try - hand the report to the spool. Afterwards qr is either in
 * flight, waiting for the retry timer, or freed (nothing to send). */
static void qreport_try(struct qreport *qr)
{
	struct qmsg *qm = qr->qm;
	struct sched *s = qm->s;
	const struct config *cfg = s->cfg;
	struct spool_msg *m = qm->msg;
	struct report_request req;
	size_t *idx = xcalloc(qr->n + 1, sizeof(*idx));
	size_t n = 0;
	int64_t now = util_now_ms();
	char err[512];
	int rc;

	for (size_t i = 0; i < qr->n; i++) {
		/* a warning concerns who is still waiting when it goes out */
		if (qr->kind == REPORT_DELAYED && m->rcpt[qr->ri[i]].state != RCPT_DEFERRED)
			continue;
		if (wants_report(qm, qr->ri[i], qr->kind))
			idx[n++] = qr->ri[i];
	}
	if (n == 0) {
		free(idx);
		qreport_settled(qr);
		return;
	}
	memcpy(qr->ri, idx, n * sizeof(*idx));
	qr->n = n;
	if (!rate_take(s, qr->target, now)) {
		char detail[SPOOL_PATH_MAX + 100];

		log_warn("%s: %s report to <%s> suppressed: more than %llu reports to that "
		         "address this hour (report_rate_limit)",
		         m->id, kind_word(qr->kind), qr->target,
		         (unsigned long long)cfg->report_rate_limit);
		snprintf(detail, sizeof(detail), "kind=%s to=<%s> rate limit %llu/hour",
		         kind_word(qr->kind), qr->target,
		         (unsigned long long)cfg->report_rate_limit);
		mailog_queue_op(m->id, "report-suppressed", detail);
		s->reports_suppressed++;
		free(idx);
		qreport_settled(qr);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.msg = m;
	req.rcpt_idx = idx;
	req.n_rcpt = n;
	req.kind = (enum report_kind)qr->kind;
	req.myhostname = cfg->myhostname;
	req.will_retry_until_ms = m->arrival_ms + s->policy.queue_lifetime_ms;
	req.return_limit = cfg->report_return_limit;
	req.templates_dir = cfg->report_templates;
	req.body_fd = -1;
	sched_failpoint("sched-before-report");
	rc = report_queue(s->sp, &req, notify_on_queued, qr, err, sizeof(err));
	free(idx);
	if (rc == 0) {
		qr->inflight = true;
		return;
	}
	rate_refund(s, qr->target, now);
	if (rc == 1) {
		qreport_settled(qr);
		return;
	}
	log_error("%s: cannot queue the %s report: %s; retrying", m->id, kind_word(qr->kind), err);
	notify_retry_later(qm);
}

static void notify_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct qmsg *qm = arg;
	struct sched *s = qm->s;
	struct qreport *qr, *next;

	(void)fd;
	(void)what;
	for (qr = LIST_FIRST(&qm->reports); qr != NULL; qr = next) {
		next = LIST_NEXT(qr, link);
		if (!qr->inflight)
			qreport_try(qr);
	}
	msg_settle(qm);
	sched_arm(s);
}

/* notify_final - recipients ri just became final (durably), or were
 * found final and not reported at recovery: one report per kind */
void notify_final(struct qmsg *qm, const size_t *ri, size_t n)
{
	static const int kinds[] = {REPORT_FAILED, REPORT_DELIVERED, REPORT_RELAYED};
	size_t *pick = xcalloc(n + 1, sizeof(*pick));

	if (qm->want_delete) {
		/* `queue delete` is the operator's decision: nobody is told */
		free(pick);
		return;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t np = 0;

		for (size_t i = 0; i < n; i++) {
			const struct spool_rcpt *r = &qm->msg->rcpt[ri[i]];

			if (r->reported || final_kind(r) != kinds[k])
				continue;
			if (wants_report(qm, ri[i], kinds[k]))
				pick[np++] = ri[i];
		}
		if (np > 0)
			qreport_try(qreport_new(qm, kinds[k], pick, np));
	}
	free(pick);
}

/* notify_recover - a message just taken (new or from the spool): owed
 * final reports, and its delay warning timer */
void notify_recover(struct qmsg *qm)
{
	const struct spool_msg *m = qm->msg;
	size_t *fin = xcalloc(m->n_rcpt + 1, sizeof(*fin));
	size_t nf = 0;

	for (size_t i = 0; i < m->n_rcpt; i++)
		if (final_kind(&m->rcpt[i]) >= 0 && !m->rcpt[i].reported)
			fin[nf++] = i;
	if (nf > 0)
		notify_final(qm, fin, nf);
	free(fin);
	notify_arm_warning(qm);
}

/* notify_arm_warning - put qm->warn at the next warning time, or take it
 * out when no warning is due any more */
void notify_arm_warning(struct qmsg *qm)
{
	struct sched *s = qm->s;
	const struct spool_msg *m = qm->msg;
	int k = m->delay_warnings_sent;
	int64_t t;

	/* a held message is not being retried, so "still trying" would be
	 * false: no warning until it is released (sched_release re-arms) */
	if (k < 0 || k >= s->n_warn || qm->want_delete || spool_msg_is_final(m) || m->held ||
	    m->origin == SPOOL_ORIGIN_REPORT || m->sender[0] == '\0') {
		heap_remove(&s->heap, &qm->warn.he);
		return;
	}
	if (pending_delay(qm) != NULL)
		return; /* armed again when that one is settled */
	t = m->arrival_ms + s->warn_ms[k];
	if (heap_contains(&qm->warn.he))
		heap_update(&s->heap, &qm->warn.he, t);
	else
		heap_push(&s->heap, &qm->warn.he, t);
}

/* notify_on_warning - qm->warn came off the heap */
void notify_on_warning(struct qmsg *qm, int64_t now)
{
	struct sched *s = qm->s;
	struct spool_msg *m = qm->msg;
	int k = m->delay_warnings_sent, upto;
	size_t *def, nd = 0;

	if (k < 0 || k >= s->n_warn || qm->want_delete || spool_msg_is_final(m) || m->held ||
	    pending_delay(qm) != NULL)
		return;
	if (now < m->arrival_ms + s->warn_ms[k]) {
		/* flush lowers every heap key; a warning keeps its time */
		heap_push(&s->heap, &qm->warn.he, m->arrival_ms + s->warn_ms[k]);
		return;
	}
	/* one warning now stands for every warning time already passed */
	for (upto = k; upto < s->n_warn && m->arrival_ms + s->warn_ms[upto] <= now; upto++)
		;
	def = xcalloc(m->n_rcpt + 1, sizeof(*def));
	for (size_t i = 0; i < m->n_rcpt; i++)
		if (m->rcpt[i].state == RCPT_DEFERRED)
			def[nd++] = i;
	if (nd == 0) {
		/* nobody has been told "try later" yet: nothing to warn about */
		m->delay_warnings_sent = upto;
		free(def);
		notify_arm_warning(qm);
		return;
	}
	struct qreport *qr = qreport_new(qm, REPORT_DELAYED, def, nd);
	qr->warnings_sent = upto;
	free(def);
	qreport_try(qr);
}

/* notify_drop - the message leaves memory: every report it still owes is
 * forgotten (a deleted message owes nothing; at shutdown the spool runs
 * no more callbacks, and recovery queues what was not durable) */
void notify_drop(struct qmsg *qm)
{
	struct qreport *qr;

	while ((qr = LIST_FIRST(&qm->reports)) != NULL)
		qreport_free(qr);
	heap_remove(&qm->s->heap, &qm->warn.he);
	if (qm->report_ev != NULL) {
		event_free(qm->report_ev);
		qm->report_ev = NULL;
	}
}
