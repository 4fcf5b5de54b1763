/*
 * intake.h - the face of src/intake: bounces that come back by mail to
 * the bounce domain (issue 6, signed return paths).
 *
 *   RCPT TO:<bounces+TAG-...@bounce_domain>  intake_check_rcpt: accepted only
 *        with a valid, unexpired tag; otherwise refused (550 5.1.1) and
 *        counted as backscatter
 *   queued message for bounce_domain          intake_start: the scheduler's
 *        transport for that destination (same contract as deliver_start);
 *        parsed with src/bounce, each failure tied to the message and
 *        recipient the TAG names, recorded with suppress_record_bounce,
 *        logged as "bounce-received", and reported delivered (locally)
 *   a report at postmaster@bounce_domain      counted as backscatter
 *        ("no-tag"): mail this server may never have sent
 *
 * Parsing and database writes run on the intake's own worker thread with
 * its own store connection; the event loop only queues work and gets the
 * results back through one event. The daemon's suppression cache sees the
 * new suppressions through the store's change feed (suppress_refresh).
 */
#ifndef MAILERD_INTAKE_H
#define MAILERD_INTAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "deliver/deliver.h"

struct event_base;
struct config;
struct signing_key;
struct intake;

/* intake_new - open a store connection (state_db) and start the worker.
 * key is copied. NULL with err. */
struct intake *intake_new(struct event_base *base, const struct config *cfg,
                          const struct signing_key *key, char *err, size_t errlen);
/* intake_free - stop the worker after the job it is on; queued and
 * finished jobs are dropped without calling back (the messages stay in
 * the spool and are taken in again at the next start). Takes NULL. */
void intake_free(struct intake *in);

/* intake_is_local - is rcpt an address of the bounce domain? */
bool intake_is_local(const struct intake *in, const char *rcpt);

enum intake_rcpt_verdict {
	INTAKE_RCPT_PASS = 0, /* not the bounce domain, or its postmaster: not ours */
	INTAKE_RCPT_ACCEPT,   /* a valid, unexpired tag */
	INTAKE_RCPT_REFUSE,   /* bad, expired or missing tag: text says why */
};
/* intake_check_rcpt - the RCPT decision for the bounce domain; a refusal
 * is counted as backscatter. Never blocks. */
enum intake_rcpt_verdict intake_check_rcpt(struct intake *in, const char *client_ip,
                                           const char *sender, const char *rcpt, char *text,
                                           size_t textlen);

/* intake_start - a sched_transport_fn for the bounce domain's messages:
 * takes req->body_fd, calls done once, later, on the loop. 0 or -1. */
int intake_start(void *in, const struct deliver_request *req, deliver_done_fn done, void *done_arg);

/* intake_backscatter - queue one backscatter count for the worker */
void intake_backscatter(struct intake *in, const char *kind, const char *detail);

/* intake_sync - wait until the worker has finished every queued job
 * (tests, shutdown) */
void intake_sync(struct intake *in);

#endif
