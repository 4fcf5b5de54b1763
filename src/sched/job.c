/*
 * job.c - jobs: one message and its recipients at one destination.
 *
 * Grouping (msg_schedule): every non-final recipient that is in no job
 * goes into the message's scheduled job for its destination, created when
 * missing. A job is due at max(now, next_attempt) of its recipients
 * (pending ones count as now), so one transaction carries all of them
 * (issue 2 "Delivery": one transaction per message and destination).
 *
 * Results (job_on_done): each recipient's state follows its outcome:
 *   OK   -> RCPT_DELIVERED                                   ("sent")
 *   PERM -> RCPT_FAILED                                      ("bounced")
 *   TEMP -> RCPT_DEFERRED at sched_next_attempt()            ("deferred")
 *           or, when the queue lifetime is over, RCPT_FAILED with
 *           4.4.7 and the last remote text kept (RFC 3463) ("expired")
 * The states change in memory and are marked dirty; everything that acts
 * on them waits for the spool (persist.c).
 *
 * A transaction that cannot even start (queue file unreadable, transport
 * refused) still completes asynchronously, as a TEMP result that says
 * nothing about the destination, so every job leaves JOB_ACTIVE the same
 * way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "sched/qmgr.h"
#include "util/util.h"

/* The word the final recipient state takes in the expiry text (our own
 * words; the remote's last text follows). */
#define JOB_EXPIRED_TEXT "delivery time expired (queue_lifetime); last error: %s"

/* job_new - an empty job of qm for d; the caller places it (heap/ready) */
struct job *job_new(struct qmsg *qm, struct dest *d)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->qm = qm;
	j->dest = d;
	j->due.kind = SCHED_DUE_JOB;
	heap_entry_init(&j->due.he);
	d->refs++;
	LIST_INSERT_HEAD(&qm->jobs, j, mlink);
	return j;
}

/* job_free - take a job out of wherever it is and release its recipients
 * (they stay in their current state, owned by no job) */
void job_free(struct job *j)
{
	struct qmsg *qm;

	if (j == NULL)
		return;
	qm = j->qm;
	if (j->where == JOB_ACTIVE)
		fatal("job_free: %s has a transaction in progress", qm->msg->id);
	if (j->where == JOB_READY)
		TAILQ_REMOVE(&j->dest->ready, j, dlink);
	else if (j->where == JOB_WAIT)
		TAILQ_REMOVE(&j->dest->wait, j, dlink);
	heap_remove(&qm->s->heap, &j->due.he);
	LIST_REMOVE(j, mlink);
	for (size_t i = 0; i < j->n; i++)
		if (qm->rjob[j->ri[i]] == j)
			qm->rjob[j->ri[i]] = NULL;
	j->dest->refs--;
	free(j->ri);
	free(j->drc);
	free(j);
}

static void job_add_rcpt(struct job *j, size_t ri)
{
	j->ri = xrealloc(j->ri, (j->n + 1) * sizeof(*j->ri));
	j->ri[j->n++] = ri;
	j->qm->rjob[ri] = j;
}

bool msg_signed(const struct qmsg *qm)
{
	return qm->s->sender_hook != NULL && qm->msg->origin != SPOOL_ORIGIN_REPORT &&
	       qm->msg->sender[0] != '\0';
}

void msg_schedule(struct qmsg *qm, const size_t *ri, size_t n, int64_t now)
{
	struct sched *s = qm->s;

	for (size_t k = 0; k < n; k++) {
		size_t i = ri[k];
		struct spool_rcpt *r = &qm->msg->rcpt[i];
		struct dest *d;
		struct job *j;
		int64_t due = now;

		if (r->state == RCPT_DELIVERED || r->state == RCPT_FAILED || qm->rjob[i] != NULL)
			continue;
		if (r->state == RCPT_DEFERRED && r->next_attempt_ms > now)
			due = r->next_attempt_ms;
		d = dest_get(s, r->addr);
		/* A message has few destinations; a linear look is fine.
		 * Signed return paths differ per recipient: no sharing. */
		j = NULL;
		if (!msg_signed(qm))
			LIST_FOREACH(j, &qm->jobs, mlink)
		if (j->dest == d && j->where == JOB_SCHED)
			break;
		if (j == NULL) {
			j = job_new(qm, d);
			j->where = JOB_SCHED;
			heap_push(&s->heap, &j->due.he, due);
		} else if (due > j->due.he.key) {
			heap_update(&s->heap, &j->due.he, due);
		}
		job_add_rcpt(j, i);
	}
}

/* msg_unschedule - drop every job that is not in flight (hold, delete);
 * in-flight ones finish and report as usual */
void msg_unschedule(struct qmsg *qm)
{
	struct job *j = LIST_FIRST(&qm->jobs);

	while (j != NULL) {
		struct job *next = LIST_NEXT(j, mlink);
		if (j->where != JOB_ACTIVE) {
			struct dest *d = j->dest;
			job_free(j);
			dest_gc(d);
		}
		j = next;
	}
}

int64_t msg_deadline(const struct qmsg *qm)
{
	return qm->msg->arrival_ms + qm->s->policy.queue_lifetime_ms;
}

/* job_expired_outcome - 4.4.7 keeping the last diagnostic (base may be
 * NULL when the recipient was never answered) */
static void job_expired_outcome(struct outcome *dst, const struct outcome *base)
{
	struct outcome last;

	if (base != NULL && base->text[0] != '\0')
		last = *base;
	else
		memset(&last, 0, sizeof(last));
	outcome_set(dst, OUTCOME_TEMP, last.code, "4.4.7", last.remote, JOB_EXPIRED_TEXT,
	            last.text[0] != '\0' ? last.text : "none (no attempt was answered)");
}

/* job_apply - one recipient's outcome; returns the mailog status word */
static const char *job_apply(struct qmsg *qm, struct spool_rcpt *r, const struct outcome *o,
                             int64_t now, uint32_t rnd)
{
	const char *word;
	int64_t next;

	r->attempts++;
	r->last_attempt_ms = now;
	r->last = *o;
	r->dirty = true;
	switch (o->kind) {
	case OUTCOME_OK:
		r->state = RCPT_DELIVERED;
		r->next_attempt_ms = 0;
		return "sent";
	case OUTCOME_PERM:
		r->state = RCPT_FAILED;
		r->next_attempt_ms = 0;
		return "bounced";
	case OUTCOME_TEMP:
	default: break;
	}
	next = sched_next_attempt(&qm->s->policy, qm->msg->arrival_ms, r->attempts, o, now, rnd);
	if (next == 0) {
		job_expired_outcome(&r->last, o);
		r->state = RCPT_FAILED;
		r->next_attempt_ms = 0;
		word = "expired";
	} else {
		r->state = RCPT_DEFERRED;
		r->next_attempt_ms = next;
		word = "deferred";
	}
	return word;
}

/* job_on_done - the transaction ended (deliver_done_fn): record each
 * recipient's outcome, update the destination, free the slot */
static void job_on_done(const struct deliver_result *res, void *arg)
{
	struct job *j = arg;
	struct qmsg *qm = j->qm;
	struct sched *s = qm->s;
	struct dest *d = j->dest;
	int64_t now = util_now_ms();
	/* One random draw per job: recipients that failed together come back
	 * together, as one transaction again. */
	uint32_t rnd = util_random_u32();
	struct outcome missing;

	sched_failpoint("sched-after-result");
	if (j->where != JOB_ACTIVE)
		fatal("job_on_done: %s: result for a job that is not active", qm->msg->id);
	j->where = JOB_NONE;
	d->active--;
	qm->n_active--;
	s->n_active--;
	outcome_set(&missing, OUTCOME_TEMP, 451, "4.3.0", "", "no result for this recipient");
	for (size_t i = 0; i < j->n; i++) {
		struct spool_rcpt *r = &qm->msg->rcpt[j->ri[i]];
		const struct outcome *o = i < res->n_rcpt ? &res->rcpt[i] : &missing;
		const char *word = job_apply(qm, r, o, now, rnd);
		/* RFC 3461 section 4.1: a hop without DSN cannot report
		 * success further on, so the success report says "relayed";
		 * kept only where a success report was asked for */
		r->relayed = o->kind == OUTCOME_OK && !res->peer_has_dsn &&
		             (r->notify & DSN_NOTIFY_SUCCESS) != 0;
		msg_note(qm, NOTE_RCPT, j->ri[i], word, res->relay[0] ? res->relay : "none");
	}
	/* A local failure (unreadable queue file) says nothing about the site. */
	if (j->local_err.text[0] == '\0')
		dest_on_result(d, j, res->site, res->n_rcpt > 0 ? &res->rcpt[0] : &missing, now);
	else if (j->probe)
		dest_probe_aborted(d, now);
	job_free(j);
	/* the slot is free: the next ready job of this destination goes now */
	dest_pump(d, now);
	dest_gc(d);
	msg_settle(qm);
	sched_arm(s);
}

/* job_on_local_fail - the transaction never started: the same path as a
 * remote result, one local TEMP outcome per recipient */
static void job_on_local_fail(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct outcome *o = xcalloc(j->n, sizeof(*o));
	struct deliver_result res;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < j->n; i++)
		o[i] = j->local_err;
	memset(&res, 0, sizeof(res));
	res.rcpt = o;
	res.n_rcpt = j->n;
	res.site = DELIVER_SITE_OK;
	util_strlcpy(res.relay, "none", sizeof(res.relay));
	res.started_ms = j->started_ms;
	job_on_done(&res, j);
	free(o);
}

/* job_fail_later - finish a job that could not start on the next loop
 * turn, never from inside dest_pump (which is walking the ready list) */
static void job_fail_later(struct job *j)
{
	struct timeval tv = {0, 0};

	log_warn("%s: delivery to %s not started: %s", j->qm->msg->id, j->dest->name,
	         j->local_err.text);
	if (event_base_once(j->qm->s->base, -1, EV_TIMEOUT, job_on_local_fail, j, &tv) != 0)
		fatal("event_base_once failed");
}

/* job_start - hand a ready job to the transport; body_fd goes with it */
void job_start(struct job *j, int64_t now)
{
	struct qmsg *qm = j->qm;
	struct sched *s = qm->s;
	struct spool_msg *m = qm->msg;
	struct deliver_request *req = &j->req;
	int fd = -1;
	size_t len = 0;

	j->where = JOB_ACTIVE;
	j->started_ms = now;
	j->dest->active++;
	qm->n_active++;
	s->n_active++;
	j->drc = xcalloc(j->n, sizeof(*j->drc));
	for (size_t i = 0; i < j->n; i++) {
		const struct spool_rcpt *r = &m->rcpt[j->ri[i]];
		j->drc[i].addr = r->addr;
		j->drc[i].orcpt = r->orcpt;
		j->drc[i].notify = r->notify;
	}
	if (spool_body_open(s->sp, m, &fd, &len) != 0) {
		outcome_set(&j->local_err, OUTCOME_TEMP, 451, "4.3.0", "",
		            "cannot open the queued message: %s", strerror(errno));
		job_fail_later(j);
		return;
	}
	memset(req, 0, sizeof(*req));
	req->qid = m->id;
	req->domain = j->dest->name;
	req->sender = m->sender;
	/* issue 6: bounces+TAG@bounce_domain, one recipient per job */
	j->sender[0] = '\0';
	if (j->n == 1 && msg_signed(qm) &&
	    s->sender_hook(s->sender_arg, m, j->ri[0], j->sender, sizeof(j->sender)) == 0)
		req->sender = j->sender;
	req->envid = m->envid;
	req->ret = (int)m->ret;
	req->smtputf8 = m->smtputf8;
	req->eightbit = m->eightbit;
	req->rcpt = j->drc;
	req->n_rcpt = j->n;
	req->body_fd = fd;
	req->body_len = len;
	if (s->transport == NULL || s->transport(s->transport_arg, req, job_on_done, j) != 0) {
		/* not started: the fd was not taken */
		close(fd);
		outcome_set(&j->local_err, OUTCOME_TEMP, 451, "4.3.0", "",
		            "the delivery agent did not take the transaction");
		job_fail_later(j);
	}
}

/* job_expire - the queue lifetime ended before the job could be tried
 * (its site backed off): every recipient fails with 4.4.7 without an
 * attempt, keeping its last diagnostic, or the site's when it has none */
void job_expire(struct job *j, int64_t now)
{
	struct qmsg *qm = j->qm;
	struct dest *d = j->dest;

	(void)now;
	for (size_t i = 0; i < j->n; i++) {
		struct spool_rcpt *r = &qm->msg->rcpt[j->ri[i]];
		const struct outcome *base = r->last.text[0] != '\0' ? &r->last : &d->last;
		job_expired_outcome(&r->last, base);
		r->state = RCPT_FAILED;
		r->next_attempt_ms = 0;
		r->dirty = true;
		msg_note(qm, NOTE_RCPT, j->ri[i], "expired", "none");
	}
	j->where = JOB_NONE;
	job_free(j);
	dest_gc(d);
	msg_settle(qm);
}
