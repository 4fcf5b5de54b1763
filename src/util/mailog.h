/*
 * mailog.h - mail events: one function per event, each writing one
 * Postfix-style line to the process log (stderr) and one JSON object to the
 * event log (JSON lines, `event_log` setting).
 *
 *   QID: from=<s>, size=N, nrcpt=N, client=helo (addr) (queue active)
 *   QID: to=<x>, relay=host[ip]:port, delay=s, attempts=N, dsn=5.1.1, status=bounced (remote text)
 *   QID: removed
 *
 * Untrusted text is escaped; bodies are never logged. Event kinds in the
 * JSON "event" field: received, attempt, delivered, deferred, failed,
 * expired, held, released, deleted, removed, corrupt, suppressed.
 */
#ifndef MAILERD_MAILOG_H
#define MAILERD_MAILOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/outcome.h"

/* mailog_open - open (append) the JSON-lines event log; NULL/"" disables */
int mailog_open(const char *path, char *err, size_t errlen);
void mailog_close(void);

void mailog_received(const char *qid, const char *sender, size_t size, size_t nrcpt,
                     const char *client, const char *origin);

/* mailog_attempt - one line per recipient per delivery attempt. status is
 * the Postfix word: "sent", "deferred", "bounced" or "expired". */
void mailog_attempt(const char *qid, const char *rcpt, const char *relay, int64_t delay_ms,
                    int attempts, const struct outcome *o, const char *status);

/* mailog_final - the recipient reached a final state ("delivered" or
 * "failed"); JSON only (the attempt line already went to stderr) */
void mailog_final(const char *qid, const char *sender, const char *rcpt, const char *state,
                  const struct outcome *o, int64_t arrival_ms);

/* mailog_queue_op - held / released / deleted / removed / corrupt */
void mailog_queue_op(const char *qid, const char *op, const char *detail);

/* mailog_suppressed - a recipient refused because it is on the
 * suppression list (event "suppressed"); qid NULL at RCPT time (logged as
 * NOQUEUE), set when `mailerd send` fails it inside a queued message */
void mailog_suppressed(const char *qid, const char *sender, const char *rcpt, const char *client,
                       const char *why);

#endif
