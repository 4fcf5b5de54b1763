/*
 * sched.c - the queue manager's life cycle, its one timer and the control
 * operations (take, recover, flush, hold, release, delete, pickup).
 *
 * One libevent timer is armed at the heap's earliest key and re-armed
 * whenever the top changes (sched_arm, called at the end of every entry
 * point). When it fires, entries whose time has come are taken off the
 * heap, at most SCHED_DUE_BATCH per run so a flush of a large queue does
 * not starve the loop:
 *   a scheduled job  -> its destination (ready, or wait when backed off)
 *   a waiting job    -> its queue lifetime ended while the site was down:
 *                       its recipients fail with 4.4.7
 *   a destination    -> its back-off ended: one job probes the site
 *   a message's warn -> its next delay_warning time (notify.c)
 * The queue is never scanned to find work; only flush and `list` walk it,
 * on an operator's request.
 *
 * Held messages stay in the id index with no job and no delay-warning
 * timer (they are not being retried; release re-arms both). Operations on a message
 * with a transaction in flight take effect for that transaction when it
 * ends: a held message's deferred recipients are not re-queued, a deleted
 * message is removed once nothing is in flight.
 *
 * Time comes from util_now_ms(), so the tests' clock seam applies; the
 * timer itself runs on the loop's monotonic clock.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config/config.h"
#include "sched/qmgr.h"
#include "util/mailog.h"
#include "util/util.h"

/* Default destination concurrency when the setting is 0 (design.md). */
#define SCHED_DEFAULT_CONCURRENCY 10

/* sched_deliver_transport - the default transport: the real deliver */
static int sched_deliver_transport(void *arg, const struct deliver_request *req,
                                   deliver_done_fn done, void *done_arg)
{
	return deliver_start(arg, req, done, done_arg);
}

void sched_failpoint(const char *name)
{
	const char *fp = getenv("MAILERD_FAILPOINT");

	if (fp != NULL && strcmp(fp, name) == 0) {
		log_warn("sched: failpoint %s: killing the process", name);
		raise(SIGKILL);
	}
}

/* sched_arm - point the timer at the heap's top; a no-op when it already
 * does, so every entry point may call it freely */
void sched_arm(struct sched *s)
{
	struct heap_entry *top = heap_top(&s->heap);
	struct timeval tv;
	int64_t delay;

	if (top == NULL) {
		if (s->armed)
			evtimer_del(s->timer);
		s->armed = false;
		return;
	}
	if (s->armed && s->armed_key == top->key)
		return;
	delay = top->key - util_now_ms();
	if (delay < 0)
		delay = 0;
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
	evtimer_add(s->timer, &tv);
	s->armed = true;
	s->armed_key = top->key;
}

/* sched_on_timer - everything due by now leaves the heap */
static void sched_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	int64_t now = util_now_ms();

	(void)fd;
	(void)what;
	s->armed = false;
	for (int k = 0; k < SCHED_DUE_BATCH; k++) {
		struct heap_entry *top = heap_top(&s->heap);
		struct sched_due *due;

		if (top == NULL || top->key > now)
			break;
		heap_pop(&s->heap);
		due = (struct sched_due *)top;
		if (due->kind == SCHED_DUE_WARN) {
			struct qmsg *qm =
			    (struct qmsg *)((char *)due - offsetof(struct qmsg, warn));
			notify_on_warning(qm, now);
			continue;
		}
		if (due->kind == SCHED_DUE_DEST) {
			dest_on_backoff_end((struct dest *)due, now);
			continue;
		}
		struct job *j = (struct job *)due;
		if (j->where == JOB_WAIT) {
			/* lifetime over while its destination was backed off */
			TAILQ_REMOVE(&j->dest->wait, j, dlink);
			j->where = JOB_NONE;
			job_expire(j, now);
		} else if (j->where == JOB_SCHED) {
			j->where = JOB_NONE;
			dest_job_due(j->dest, j, now);
		} else {
			fatal("sched: job of %s in the heap in state %d", j->qm->msg->id, j->where);
		}
	}
	sched_arm(s);
}

struct sched *sched_new(struct event_base *base, const struct config *cfg, struct spool *sp,
                        struct deliver *dl)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->cfg = cfg;
	s->sp = sp;
	s->dl = dl;
	s->policy.min_backoff_ms = cfg->min_backoff_ms;
	s->policy.max_backoff_ms = cfg->max_backoff_ms;
	s->policy.greylist_retry_ms = cfg->greylist_retry_ms;
	s->policy.queue_lifetime_ms = cfg->queue_lifetime_ms;
	s->concurrency = cfg->destination_concurrency > 0 ? (size_t)cfg->destination_concurrency
	                                                  : SCHED_DEFAULT_CONCURRENCY;
	heap_init(&s->heap);
	htab_init(&s->msgs);
	htab_init(&s->dests);
	s->timer = evtimer_new(base, sched_on_timer, s);
	if (s->timer == NULL)
		fatal("sched: evtimer_new failed");
	s->transport = dl != NULL ? sched_deliver_transport : NULL;
	s->transport_arg = dl;
	htab_init(&s->rate);
	s->n_warn = config_delay_warnings(cfg, s->warn_ms, SCHED_WARN_MAX);
	if (s->n_warn < 0) {
		/* config_check refuses this at start-up; tests may not call it */
		log_warn("delay_warning '%s' is not a list of durations: no delay warnings",
		         cfg->delay_warning);
		s->n_warn = 0;
	}
	return s;
}

void sched_set_transport(struct sched *s, sched_transport_fn fn, void *arg)
{
	s->transport = fn;
	s->transport_arg = arg;
}

void sched_set_outcome_hook(struct sched *s, sched_outcome_fn fn, void *arg)
{
	s->outcome_hook = fn;
	s->outcome_arg = arg;
}

void sched_set_sender_hook(struct sched *s, sched_sender_fn fn, void *arg)
{
	s->sender_hook = fn;
	s->sender_arg = arg;
}

void sched_free(struct sched *s)
{
	void **v;
	size_t n;

	if (s == NULL)
		return;
	sched_control_free(s->ctl);
	/* Transactions still out are abandoned: the owner frees deliver
	 * (which must not call back) before the scheduler. */
	v = htab_values(&s->msgs, &n);
	for (size_t i = 0; i < n; i++) {
		struct qmsg *qm = v[i];
		struct job *j;
		LIST_FOREACH(j, &qm->jobs, mlink)
		if (j->where == JOB_ACTIVE)
			j->where = JOB_NONE;
		qm->n_active = 0;
		msg_free(qm);
	}
	free(v);
	v = htab_values(&s->dests, &n);
	for (size_t i = 0; i < n; i++)
		dest_free(v[i]);
	free(v);
	htab_free(&s->msgs);
	htab_free(&s->dests);
	rate_free(s);
	heap_free(&s->heap);
	event_free(s->timer);
	free(s);
}

void sched_on_final(struct qmsg *qm, const size_t *ri, size_t n)
{
	const struct spool_msg *m = qm->msg;

	/* Runs once these final states are durable (persist.c): the final
	 * events, then one report per message and event (notify.c). */
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &m->rcpt[ri[i]];
		bool ok = r->state == RCPT_DELIVERED;
		mailog_final(m->id, m->sender, r->addr, ok ? "delivered" : "failed", &r->last,
		             m->arrival_ms);
		if (qm->s->outcome_hook)
			qm->s->outcome_hook(qm->s->outcome_arg, m, r);
	}
	notify_final(qm, ri, n);
}

/* sched_take - see sched.h. Held messages are indexed but get no job;
 * final ones go at once; the rest are grouped per destination. */
void sched_take(struct sched *s, struct spool_msg *msg)
{
	struct qmsg *qm;
	size_t *all;

	if (htab_get(&s->msgs, msg->id) != NULL) {
		log_warn("%s: already queued; ignoring the second copy", msg->id);
		spool_msg_free(msg);
		return;
	}
	qm = xcalloc(1, sizeof(*qm));
	qm->s = s;
	qm->msg = msg;
	LIST_INIT(&qm->jobs);
	LIST_INIT(&qm->reports);
	qm->warn.kind = SCHED_DUE_WARN;
	heap_entry_init(&qm->warn.he);
	qm->rjob = xcalloc(msg->n_rcpt + 1, sizeof(*qm->rjob));
	msg->sched_data = qm;
	htab_put(&s->msgs, msg->id, qm);
	/* reports owed from before a crash, and the delay warning timer */
	notify_recover(qm);
	if (spool_msg_is_final(msg)) {
		/* finished before a crash: its states are durable, the file
		 * just was not removed yet */
		msg_settle(qm);
		return;
	}
	if (msg->held)
		return;
	all = xcalloc(msg->n_rcpt + 1, sizeof(*all));
	for (size_t i = 0; i < msg->n_rcpt; i++)
		all[i] = i;
	msg_schedule(qm, all, msg->n_rcpt, util_now_ms());
	free(all);
	sched_arm(s);
}

static void sched_recover_one(struct spool_msg *msg, void *arg)
{
	sched_take(arg, msg);
}

int sched_recover(struct sched *s)
{
	int n = spool_scan(s->sp, sched_recover_one, s);

	if (n < 0)
		log_error("cannot read the spool: %s", strerror(errno));
	else
		log_info("recovered %d queued message(s)", n);
	return n;
}

/* sched_flush - the operator says "now": back-offs are forgotten, every
 * scheduled job becomes due. O(n), on request only. */
void sched_flush(struct sched *s)
{
	int64_t now = util_now_ms();
	size_t n;
	void **v = htab_values(&s->dests, &n);
	size_t jobs = 0, timers = 0;

	for (size_t i = 0; i < n; i++)
		dest_clear_backoff(v[i]);
	/* only scheduled jobs remain in the heap now */
	heap_lower_all(&s->heap, now);
	for (size_t i = 0; i < n; i++)
		dest_pump(v[i], now);
	free(v);
	/* the heap also holds delay-warning timers (which keep their own
	 * time, notify.c): only delivery jobs are "due now" */
	for (size_t i = 0; i < heap_size(&s->heap); i++) {
		const struct sched_due *d = (const struct sched_due *)heap_at(&s->heap, i);
		if (d->kind == SCHED_DUE_JOB)
			jobs++;
		else if (d->kind == SCHED_DUE_WARN)
			timers++;
	}
	log_info("queue flushed: %zu delivery job(s) due now, %zu delay-warning timer(s) kept",
	         jobs, timers);
	sched_arm(s);
}

/* sched_find - a queued message, not one already being deleted */
static struct qmsg *sched_find(struct sched *s, const char *id)
{
	struct qmsg *qm = htab_get(&s->msgs, id);

	return qm != NULL && !qm->want_delete ? qm : NULL;
}

/* op_detail - the held/released event's detail: who asked, and how many
 * recipients the operation concerns (those not yet final) */
static const char *op_detail(const struct qmsg *qm, char *out, size_t size)
{
	const struct spool_msg *m = qm->msg;
	size_t open = 0;

	for (size_t i = 0; i < m->n_rcpt; i++)
		if (m->rcpt[i].state != RCPT_DELIVERED && m->rcpt[i].state != RCPT_FAILED)
			open++;
	snprintf(out, size, "by queue command; %zu recipient(s) waiting", open);
	return out;
}

/* sched_hold - effective at once in memory; the flag is persisted and
 * the "held" event logged once durable (persist.c) */
int sched_hold(struct sched *s, const char *id)
{
	struct qmsg *qm = sched_find(s, id);
	char detail[OUTCOME_REMOTE_MAX];

	if (qm == NULL)
		return -1;
	if (qm->msg->held)
		return 0;
	qm->msg->held = true;
	msg_unschedule(qm);
	/* held messages are not retried, so they are not warned about */
	notify_arm_warning(qm);
	msg_note(qm, NOTE_OP, 0, "held", op_detail(qm, detail, sizeof(detail)));
	msg_settle(qm);
	sched_arm(s);
	return 0;
}

int sched_release(struct sched *s, const char *id)
{
	struct qmsg *qm = sched_find(s, id);
	char detail[OUTCOME_REMOTE_MAX];
	size_t *all;

	if (qm == NULL)
		return -1;
	if (!qm->msg->held)
		return 0;
	qm->msg->held = false;
	/* Scheduled at once; deferred recipients keep their next attempt
	 * (flush makes them due now). */
	all = xcalloc(qm->msg->n_rcpt + 1, sizeof(*all));
	for (size_t i = 0; i < qm->msg->n_rcpt; i++)
		all[i] = i;
	msg_schedule(qm, all, qm->msg->n_rcpt, util_now_ms());
	free(all);
	/* the warning timer comes back with the retries */
	notify_arm_warning(qm);
	msg_note(qm, NOTE_OP, 0, "released", op_detail(qm, detail, sizeof(detail)));
	msg_settle(qm);
	sched_arm(s);
	return 0;
}

/* sched_delete - hidden from list/show at once, removed from the spool
 * when no transaction or update is in flight */
int sched_delete(struct sched *s, const char *id)
{
	struct qmsg *qm = sched_find(s, id);

	if (qm == NULL)
		return -1;
	qm->want_delete = true;
	msg_unschedule(qm);
	msg_settle(qm);
	sched_arm(s);
	return 0;
}

/* sched_pickup - `mailerd send` committed a message with no daemon
 * callback; the control socket tells us its id */
int sched_pickup(struct sched *s, const char *id)
{
	struct spool_msg *m;

	if (htab_get(&s->msgs, id) != NULL)
		return 0;
	m = spool_load(s->sp, id);
	if (m == NULL) {
		log_warn("%s: cannot pick up: %s", id, strerror(errno));
		return -1;
	}
	sched_take(s, m);
	return 0;
}

size_t sched_count(const struct sched *s)
{
	return s->msgs.n;
}

size_t sched_active(const struct sched *s)
{
	return s->n_active;
}

uint64_t sched_reports_sent(const struct sched *s)
{
	return s->reports_sent;
}

uint64_t sched_reports_suppressed(const struct sched *s)
{
	return s->reports_suppressed;
}
