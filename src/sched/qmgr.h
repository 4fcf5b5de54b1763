/*
 * qmgr.h - internal to src/sched: the queue manager's data structures,
 * shared by sched.c (lifecycle, timer, control operations), dest.c
 * (destinations: concurrency, back-off, starting transactions) and job.c
 * (grouping recipients into jobs, applying results, persisting them).
 *
 * Ownership and states:
 *   struct sched  owns every struct qmsg (index `msgs`, by queue id) and
 *                 every struct dest (index `dests`, by destination name).
 *   struct qmsg   owns its spool_msg and its jobs; msg->sched_data points
 *                 back to it. Each non-final recipient is in at most one job
 *                 (rjob[i]); final or held recipients are in none.
 *   struct job    one message + its recipients at one destination. It is
 *                 in exactly one place, given by `where`:
 *                   JOB_SCHED   in the heap, keyed on its due time
 *                   JOB_READY   due, in dest->ready (FIFO), waiting for a slot
 *                   JOB_WAIT    due, but the destination is backed off: in
 *                               dest->wait and in the heap keyed on the end
 *                               of its queue lifetime (so it still expires
 *                               on time)
 *                   JOB_ACTIVE  handed to the transport, no list
 *   struct dest   has one heap entry while backed off (the back-off end).
 *   struct qmsg   has one heap entry (warn) at its next delay warning
 *                 time, and a list of the reports it still owes (struct
 *                 qreport, notify.c); its file stays until that list is
 *                 empty.
 *
 * Persistence rule (design.md "Durability contract"): a result changes
 * the recipient states in memory and adds a note; the notes are acted on
 * (log lines, final-outcome hook, re-queueing, removal) only in the
 * spool_update callback, once the new states are durable.
 */
#ifndef MAILERD_SCHED_QMGR_H
#define MAILERD_SCHED_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "deliver/deliver.h"
#include "sched/heap.h"
#include "sched/htab.h"
#include "sched/sched.h"
#include "spool/spool.h"
#include "util/outcome.h"

struct event;
struct sched_control;

/* Jobs taken from the heap per timer run before yielding to the loop. */
#define SCHED_DUE_BATCH 1000
/* Retry of a failed spool_update (disk full...): capped so that
 * seconds-scale test settings still see it quickly. */
#define SCHED_UPDATE_RETRY_MS 5000
/* Most delay warnings a message gets (entries of the delay_warning list). */
#define SCHED_WARN_MAX 16

enum sched_due_kind { SCHED_DUE_JOB, SCHED_DUE_DEST, SCHED_DUE_WARN };

/* What the heap holds: he first so a heap_entry pointer is a sched_due. */
struct sched_due {
	struct heap_entry he;
	enum sched_due_kind kind;
};

enum job_where { JOB_NONE = 0, JOB_SCHED, JOB_READY, JOB_WAIT, JOB_ACTIVE };

struct job {
	struct sched_due due;
	enum job_where where;
	struct qmsg *qm;
	struct dest *dest;
	size_t n;
	size_t *ri;                 /* indexes into qm->msg->rcpt */
	struct deliver_rcpt *drc;   /* while active */
	struct deliver_request req; /* while active */
	int64_t started_ms;
	bool probe;                  /* tries a backed-off site for the others */
	struct outcome local_err;    /* set when the transaction could not start */
	char sender[SPOOL_PATH_MAX]; /* signed return path while active, or "" */
	TAILQ_ENTRY(job) dlink;      /* dest->ready or dest->wait */
	LIST_ENTRY(job) mlink;       /* qm->jobs */
};
TAILQ_HEAD(job_tailq, job);

struct dest {
	struct sched_due due; /* in the heap while backed off */
	struct sched *s;
	char *name; /* lower-case domain or [address literal] */
	struct job_tailq ready;
	struct job_tailq wait;
	size_t active;      /* transactions in progress */
	size_t refs;        /* jobs pointing here, any state */
	int64_t backoff_ms; /* 0: the site is up */
	int64_t backoff_until;
	int64_t backoff_set_ms; /* when the current back-off began */
	bool probing;           /* one job tries the site after a back-off */
	struct outcome last;    /* what the site said when it went down */
};

/* NOTE_MARK: report bookkeeping (a recipient's reported mark, or the
 * message flags when ri is NOTE_MSG) to persist; nothing is logged. */
enum sched_note_kind { NOTE_RCPT, NOTE_OP, NOTE_MARK };
#define NOTE_MSG SIZE_MAX

/* Something to do once the states are durable. */
struct sched_note {
	enum sched_note_kind kind;
	size_t ri;                      /* NOTE_RCPT */
	const char *word;               /* mailog status word, or the op */
	char relay[OUTCOME_REMOTE_MAX]; /* NOTE_RCPT: who answered */
};

struct note_vec {
	struct sched_note *v;
	size_t n;
	size_t cap;
};

/* One report a message still owes its sender (notify.c): queued when
 * inflight, else waiting for the retry timer (the spool refused it). */
struct qreport {
	struct qmsg *qm;
	int kind;   /* enum report_kind */
	size_t *ri; /* the recipients it concerns */
	size_t n;
	bool inflight;               /* report_queue accepted it; callback pending */
	int warnings_sent;           /* REPORT_DELAYED: delay_warnings_sent once durable */
	char target[SPOOL_PATH_MAX]; /* who gets it (the rate limit's key) */
	LIST_ENTRY(qreport) link;
};

struct qmsg {
	struct sched *s;
	struct spool_msg *msg;
	LIST_HEAD(, job) jobs;
	struct job **rjob;      /* per recipient: its job, or NULL */
	size_t n_active;        /* jobs handed to the transport */
	bool updating;          /* a spool_update is in flight */
	bool want_delete;       /* delete once nothing is in flight */
	struct note_vec notes;  /* waiting for the next spool_update */
	struct note_vec synced; /* covered by the update in flight */
	struct event *retry_ev; /* spool_update retry after a failure */
	int64_t retry_ms;
	LIST_HEAD(, qreport) reports; /* reports owed; the file stays until none */
	struct event *report_ev;      /* retry of reports the spool refused */
	struct sched_due warn;        /* in the heap at the next delay warning time */
};

struct sched {
	struct event_base *base;
	const struct config *cfg;
	struct spool *sp;
	struct deliver *dl;
	struct retry_policy policy;
	size_t concurrency;
	struct heap heap;
	struct event *timer;
	bool armed;
	int64_t armed_key;
	struct htab msgs;
	struct htab dests;
	sched_transport_fn transport;
	void *transport_arg;
	size_t n_active;
	struct sched_control *ctl;
	/* reports (notify.c, rate.c) */
	int64_t warn_ms[SCHED_WARN_MAX]; /* delay_warning, ascending */
	int n_warn;
	struct htab rate; /* sender address -> struct rate_entry */
	int64_t rate_swept_ms;
	uint64_t reports_sent;
	uint64_t reports_suppressed;
	sched_outcome_fn outcome_hook; /* final outcomes (suppression), may be NULL */
	void *outcome_arg;
	sched_sender_fn sender_hook; /* signed return paths, may be NULL */
	void *sender_arg;
};

/* control.c */
void sched_control_free(struct sched_control *c);

/* sched.c */
void sched_arm(struct sched *s);
/* sched_failpoint - kill -9 ourselves when MAILERD_FAILPOINT names this
 * point (crash tests; the same switch as the spool's). Points:
 *   sched-after-result   a transaction ended, no outcome recorded yet
 *   sched-after-update   outcomes durable, not yet acted on (no log
 *                        line, no report, no removal)
 *   sched-before-report  a final report is about to be queued
 *   sched-after-report   the report is durable, the original's
 *                        "reported" mark is not */
void sched_failpoint(const char *name);
void sched_on_final(struct qmsg *qm, const size_t *ri, size_t n);

/* notify.c: the reports a message causes (issue 3) */
void notify_final(struct qmsg *qm, const size_t *ri, size_t n);
void notify_recover(struct qmsg *qm);
void notify_arm_warning(struct qmsg *qm);
void notify_on_warning(struct qmsg *qm, int64_t now);
/* notify_pending - reports owed that keep the message's file */
bool notify_pending(const struct qmsg *qm);
bool notify_inflight(const struct qmsg *qm);
/* notify_drop - forget every report owed and the warning timer (the
 * message leaves memory) */
void notify_drop(struct qmsg *qm);

/* rate.c: reports per sender address per hour */
/* rate_take - may one more report go to addr now? counts it when yes */
bool rate_take(struct sched *s, const char *addr, int64_t now);
/* rate_refund - a counted report was not queued after all */
void rate_refund(struct sched *s, const char *addr, int64_t now);
void rate_free(struct sched *s);

/* dest.c */
struct dest *dest_get(struct sched *s, const char *addr);
void dest_gc(struct dest *d);
void dest_free(struct dest *d);
void dest_job_due(struct dest *d, struct job *j, int64_t now);
void dest_pump(struct dest *d, int64_t now);
void dest_on_backoff_end(struct dest *d, int64_t now);
void dest_on_result(struct dest *d, const struct job *j, enum deliver_site site,
                    const struct outcome *o, int64_t now);
void dest_clear_backoff(struct dest *d);
void dest_probe_aborted(struct dest *d, int64_t now);
void dest_wait_job(struct dest *d, struct job *j);

/* job.c */
/* msg_signed - does the sender hook give each recipient its own
 * transaction and MAIL FROM? (not for reports and null senders) */
bool msg_signed(const struct qmsg *qm);
struct job *job_new(struct qmsg *qm, struct dest *d);
void job_free(struct job *j);
void job_start(struct job *j, int64_t now);
void job_expire(struct job *j, int64_t now);
void msg_schedule(struct qmsg *qm, const size_t *ri, size_t n, int64_t now);
void msg_unschedule(struct qmsg *qm);
void msg_note(struct qmsg *qm, enum sched_note_kind kind, size_t ri, const char *word,
              const char *relay);
/* msg_settle - after any change: persist, act, delete or remove as due.
 * May free qm: callers must not touch it afterwards. */
void msg_settle(struct qmsg *qm);
void msg_free(struct qmsg *qm);
int64_t msg_deadline(const struct qmsg *qm);

#endif
