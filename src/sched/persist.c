/*
 * persist.c - the durability side of the queue manager: nothing is acted
 * on before the spool says the new recipient states are on disk
 * (design.md "Durability contract").
 *
 * A result, an expiry or a hold/release adds notes to the message. When no
 * spool_update is in flight, the notes move to `synced` and one update
 * covers them all (spool_update appends every dirty recipient). In its
 * callback (msg_on_synced) the notes are acted on in order:
 *   - the attempt log line and JSON event per recipient (mailog_attempt),
 *   - final recipients go to sched_on_final (reports, notify.c),
 *   - deferred recipients are scheduled again (unless held or deleted),
 *   - queue operations are logged (held, released),
 *   - report marks (NOTE_MARK) need nothing more: being durable is all.
 * A message whose recipients are all final is removed only when no
 * report is owed any more (notify_pending).
 * When the update fails (disk full, I/O error) the recipients are marked
 * dirty again, the notes go back to the front, and the update is retried
 * after SCHED_UPDATE_RETRY_MS; the message stays in memory meanwhile and is
 * never removed while its states are not durable.
 *
 * msg_settle is the one place that decides what a message does next; it
 * may free the message, so it is the last thing its callers do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "sched/qmgr.h"
#include "util/mailog.h"
#include "util/util.h"

void msg_note(struct qmsg *qm, enum sched_note_kind kind, size_t ri, const char *word,
              const char *relay)
{
	struct note_vec *v = &qm->notes;
	struct sched_note *n;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	n = &v->v[v->n++];
	n->kind = kind;
	n->ri = ri;
	n->word = word;
	util_strlcpy(n->relay, relay ? relay : "none", sizeof(n->relay));
}

void msg_free(struct qmsg *qm)
{
	if (qm == NULL)
		return;
	htab_del(&qm->s->msgs, qm->msg->id);
	msg_unschedule(qm);
	if (!LIST_EMPTY(&qm->jobs))
		fatal("msg_free: %s has transactions in progress", qm->msg->id);
	if (qm->retry_ev != NULL)
		event_free(qm->retry_ev);
	notify_drop(qm);
	free(qm->notes.v);
	free(qm->synced.v);
	free(qm->rjob);
	spool_msg_free(qm->msg);
	free(qm);
}

static void msg_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct qmsg *qm = arg;
	struct sched *s = qm->s;

	(void)fd;
	(void)what;
	msg_settle(qm);
	sched_arm(s);
}

/* msg_update_failed - put the synced notes back, retry later */
static void msg_update_failed(struct qmsg *qm, int err)
{
	struct note_vec *sy = &qm->synced, *no = &qm->notes;
	int64_t ms = qm->s->policy.min_backoff_ms;
	struct timeval tv;

	if (ms > SCHED_UPDATE_RETRY_MS)
		ms = SCHED_UPDATE_RETRY_MS;
	if (ms < 100)
		ms = 100;
	log_error("%s: cannot record delivery state in the spool: %s; retrying in %lld ms",
	          qm->msg->id, strerror(err), (long long)ms);
	for (size_t i = 0; i < sy->n; i++)
		if (sy->v[i].kind == NOTE_RCPT ||
		    (sy->v[i].kind == NOTE_MARK && sy->v[i].ri != NOTE_MSG))
			qm->msg->rcpt[sy->v[i].ri].dirty = true;
	/* synced notes are older: they go first */
	if (sy->n > 0) {
		size_t total = sy->n + no->n;
		if (sy->cap < total) {
			sy->cap = total;
			sy->v = xrealloc(sy->v, sy->cap * sizeof(*sy->v));
		}
		if (no->n > 0)
			memcpy(sy->v + sy->n, no->v, no->n * sizeof(*no->v));
		sy->n = total;
		struct note_vec tmp = *no;
		*no = *sy;
		*sy = tmp;
		sy->n = 0;
	}
	if (qm->retry_ev == NULL)
		qm->retry_ev = evtimer_new(qm->s->base, msg_on_retry, qm);
	if (qm->retry_ev == NULL)
		fatal("evtimer_new failed");
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(qm->retry_ev, &tv);
}

/* msg_act - the notes just made durable: log, hand on finals, re-queue */
static void msg_act(struct qmsg *qm)
{
	struct spool_msg *m = qm->msg;
	struct note_vec *sy = &qm->synced;
	size_t *fin = xcalloc(sy->n + 1, sizeof(*fin));
	size_t *def = xcalloc(sy->n + 1, sizeof(*def));
	size_t nf = 0, nd = 0;
	int64_t now = util_now_ms();

	for (size_t i = 0; i < sy->n; i++) {
		const struct sched_note *n = &sy->v[i];
		if (n->kind == NOTE_OP) {
			/* hold/release: relay carries the operation's detail */
			mailog_queue_op(m->id, n->word, n->relay);
			continue;
		}
		if (n->kind == NOTE_MARK)
			continue; /* report bookkeeping: durable is all it needs */
		const struct spool_rcpt *r = &m->rcpt[n->ri];
		mailog_attempt(m->id, r->addr, n->relay, now - m->arrival_ms, r->attempts, &r->last,
		               n->word);
		if (r->state == RCPT_DELIVERED || r->state == RCPT_FAILED)
			fin[nf++] = n->ri;
		else if (r->state == RCPT_DEFERRED)
			def[nd++] = n->ri;
	}
	sy->n = 0;
	if (nf > 0)
		sched_on_final(qm, fin, nf);
	if (nd > 0 && !m->held && !qm->want_delete)
		msg_schedule(qm, def, nd, now);
	free(fin);
	free(def);
}

static void msg_on_synced(int err, void *arg)
{
	struct qmsg *qm = arg;
	struct sched *s = qm->s;

	qm->updating = false;
	if (err != 0) {
		msg_update_failed(qm, err);
	} else {
		sched_failpoint("sched-after-update");
		msg_act(qm);
	}
	msg_settle(qm);
	sched_arm(s);
}

static void msg_persist(struct qmsg *qm)
{
	struct note_vec tmp;

	if (qm->synced.n != 0)
		fatal("msg_persist: %s: notes of an earlier update not acted on", qm->msg->id);
	tmp = qm->synced;
	qm->synced = qm->notes;
	qm->notes = tmp;
	qm->updating = true;
	if (spool_update(qm->s->sp, qm->msg, msg_on_synced, qm) != 0) {
		int err = errno ? errno : EIO;
		qm->updating = false;
		msg_update_failed(qm, err);
	}
}

/* msg_remove - every recipient is final and durable (removed), or the
 * operator said so (deleted): the file goes. The event's detail says how
 * many recipients were left undelivered, the operator's usual question. */
static void msg_remove(struct qmsg *qm, const char *op)
{
	const struct spool_msg *m = qm->msg;
	size_t open = 0;
	char detail[96];

	for (size_t i = 0; i < m->n_rcpt; i++)
		if (m->rcpt[i].state != RCPT_DELIVERED && m->rcpt[i].state != RCPT_FAILED)
			open++;
	if (strcmp(op, "deleted") == 0)
		snprintf(detail, sizeof(detail),
		         "by queue command; %zu of %zu recipient(s) not delivered", open,
		         m->n_rcpt);
	else
		snprintf(detail, sizeof(detail), "all %zu recipient(s) final", m->n_rcpt);
	if (spool_remove(qm->s->sp, qm->msg->id) != 0)
		log_error("%s: cannot remove the queue file: %s", qm->msg->id, strerror(errno));
	mailog_queue_op(qm->msg->id, op, detail);
	msg_free(qm);
}

void msg_settle(struct qmsg *qm)
{
	bool retry_pending = qm->retry_ev != NULL && evtimer_pending(qm->retry_ev, NULL);

	if (qm->updating)
		return; /* msg_on_synced settles again */
	if (qm->want_delete) {
		/* in-flight transactions and report commits finish first
		 * (their results are dropped with the message; a report
		 * already durable is still delivered) */
		if (qm->n_active == 0 && !notify_inflight(qm)) {
			if (qm->notes.n > 0)
				log_info("%s: deleted with %zu unrecorded result(s)", qm->msg->id,
				         qm->notes.n);
			msg_remove(qm, "deleted");
		}
		return;
	}
	if (qm->notes.n > 0) {
		if (!retry_pending)
			msg_persist(qm);
		return;
	}
	/* a report still owed keeps the file: it is the report's source */
	if (qm->n_active == 0 && spool_msg_is_final(qm->msg) && !notify_pending(qm))
		msg_remove(qm, "removed");
}
