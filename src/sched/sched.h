/*
 * sched.h - the face of src/sched: the queue manager. It owns every queued
 * message in memory, decides when each recipient is tried next, groups
 * recipients per destination, keeps per-destination concurrency and
 * back-off, hands transactions to src/deliver and records the results in
 * the spool before acting on them.
 *
 * It never scans the queue to find work: jobs sit in a binary min-heap
 * keyed on their next attempt time (O(log n) per decision); a destination
 * that is backed off holds its jobs in its own list and has one heap entry.
 *
 * Retry policy (design.md): first attempt at once, then min_backoff doubling
 * up to max_backoff, +-10% jitter; greylisting replies retry after
 * greylist_retry; after queue_lifetime the recipient fails with 4.4.7 and
 * keeps the last remote diagnostic.
 *
 * Reports (issue 3): final recipients cause one report per message and
 * event (failed, delivered, relayed), deferred ones a delay warning at
 * each delay_warning time; a message's file stays until its reports are
 * durable, and recipients carry a durable "reported" mark so recovery
 * sends what a crash left owed (notify.c).
 */
#ifndef MAILERD_SCHED_H
#define MAILERD_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver/deliver.h"
#include "spool/spool.h"
#include "util/outcome.h"

struct event_base;
struct config;
struct deliver;
struct sched;

/* ---- retry policy (pure; unit-tested) ---- */
struct retry_policy {
	int64_t min_backoff_ms;
	int64_t max_backoff_ms;
	int64_t greylist_retry_ms;
	int64_t queue_lifetime_ms;
};
/* sched_retry_delay - delay before attempt number attempts+1, after
 * `attempts` failed tries (attempts >= 1): min * 2^(attempts-1) capped at
 * max, with +-10% jitter from rnd (pass 0x80000000 for none). */
int64_t sched_retry_delay(const struct retry_policy *p, int attempts, uint32_t rnd);
/* sched_is_greylist - does this temporary reply look like greylisting
 * (RFC 6647: 450/451 with "greylist", "try again later", 4.7.1 + "later")? */
bool sched_is_greylist(const struct outcome *o);
/* sched_next_attempt - when to try a recipient again after TEMP outcome o at
 * now; returns 0 when the lifetime is over (the caller fails it with 4.4.7) */
int64_t sched_next_attempt(const struct retry_policy *p, int64_t arrival_ms, int attempts,
                           const struct outcome *o, int64_t now_ms, uint32_t rnd);

/* ---- the queue manager ---- */
struct sched *sched_new(struct event_base *base, const struct config *cfg, struct spool *sp,
                        struct deliver *dl);
void sched_free(struct sched *s);

/* sched_take - a message newly accepted or recovered; takes ownership */
void sched_take(struct sched *s, struct spool_msg *msg);
/* sched_recover - load the whole spool at start-up (spool_scan) */
int sched_recover(struct sched *s);

/* Control operations (the `mailerd queue` command through the control
 * socket). Return 0, or -1 when the id is not queued. */
void sched_flush(struct sched *s); /* every deferred job due now */
int sched_hold(struct sched *s, const char *id);
int sched_release(struct sched *s, const char *id);
int sched_delete(struct sched *s, const char *id);
/* sched_pickup - a message committed by another process (`mailerd send`) */
int sched_pickup(struct sched *s, const char *id);

/* sched_count - messages queued in memory */
size_t sched_count(const struct sched *s);

/* ---- seam for tests: how a transaction is started ---- */
/* A transport starts one transaction like deliver_start (same ownership
 * of req->body_fd, same single call of done, never from inside fn) and
 * returns 0, or -1 when it did not start (done is then not called). */
typedef int (*sched_transport_fn)(void *arg, const struct deliver_request *req,
                                  deliver_done_fn done, void *done_arg);
/* sched_set_transport - replace deliver_start(dl, ...) (the default) */
void sched_set_transport(struct sched *s, sched_transport_fn fn, void *arg);
/* sched_active - transactions this scheduler has in progress */
size_t sched_active(const struct sched *s);

/* Reports (issue 3): how many were queued, and how many the rate limit
 * (report_rate_limit per sender address per hour) kept back. */
uint64_t sched_reports_sent(const struct sched *s);
uint64_t sched_reports_suppressed(const struct sched *s);

/* Final outcome hook (issue 6, suppression store): called once per
 * recipient that reached a final state (delivered or failed), after that
 * state is durable, on the event loop. It must not block. */
typedef void (*sched_outcome_fn)(void *arg, const struct spool_msg *msg,
                                 const struct spool_rcpt *rcpt);
void sched_set_outcome_hook(struct sched *s, sched_outcome_fn fn, void *arg);

/* Return path hook (issue 6, signed return paths): when set, a message
 * that is not a report and has a sender is sent one recipient per
 * transaction (each recipient gets its own MAIL FROM), with the envelope
 * sender fn writes into out for recipient ri (return 0), or with the
 * stored sender when fn returns -1. The spool keeps the original sender,
 * so reports still go to it. Called on the event loop; must not block. */
typedef int (*sched_sender_fn)(void *arg, const struct spool_msg *msg, size_t ri, char *out,
                               size_t outlen);
void sched_set_sender_hook(struct sched *s, sched_sender_fn fn, void *arg);

/* ---- control socket (control.c) ---- */
/* sched_control_listen - accept `mailerd queue` requests on a Unix socket
 * at path (mode 0600). One request line, reply lines, then close. */
int sched_control_listen(struct sched *s, const char *path, char *err, size_t errlen);

#endif
