/*
 * report.h - the face of src/report: the mailer-daemon. It composes the
 * delivery status notifications (RFC 3464 inside an RFC 6522
 * multipart/report, RFC 6533 for UTF-8 addresses) that tell a sender what
 * happened to a message, in words a person understands, and queues them
 * through the spool like any other message.
 *
 * Loop safety lives here, not in the caller: a report is sent with the
 * null reverse-path <> and origin SPOOL_ORIGIN_REPORT; a message with a
 * null sender never causes a report; a report that itself fails causes one
 * "double bounce" to postmaster@myhostname, and a failed double bounce
 * causes nothing (report_decide, report_queue).
 */
#ifndef MAILERD_REPORT_H
#define MAILERD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"
#include "util/outcome.h"
#include "util/util.h"

/* What happened to the recipients a report concerns (RFC 3464 section
 * 2.3.3 Action values). */
enum report_kind { REPORT_FAILED, REPORT_DELAYED, REPORT_DELIVERED, REPORT_RELAYED };

struct report_request {
	const struct spool_msg *msg; /* the original */
	const size_t *rcpt_idx;      /* indexes into msg->rcpt this report concerns */
	size_t n_rcpt;
	enum report_kind kind;
	const char *myhostname;
	int64_t now_ms;              /* Date: and the Message-ID; 0 = util_now_ms() */
	int64_t will_retry_until_ms; /* REPORT_DELAYED: arrival + queue_lifetime */
	uint64_t return_limit;       /* report_return_limit: bytes of the original returned */
	const char *templates_dir;   /* NULL/"" = built-in texts */
	int body_fd;                 /* the original's body (wire form), or -1 */
	size_t body_len;
	const char *boundary_seed; /* NULL = random; tests pass a fixed one */
	const char *message_id;    /* NULL = generate; tests pass a fixed one */
	/* Additions beyond the first sketch: */
	const char *report_to; /* To: and envelope recipient; NULL = msg->sender,
					* or postmaster@myhostname when msg is a report */
};

/* report_compose - the whole report message (header + body) appended to
 * out in SMTP wire form: CRLF line ends, dot-stuffed (RFC 5321 section
 * 4.5.2), without the final ".". The original is read with pread from
 * body_fd's current offset, which stays where it was. Returns 0, or -1
 * with a message in err (unreadable original, nobody to send it to). */
int report_compose(const struct report_request *req, struct buf *out, char *err, size_t errlen);

/* ---- plain-language explanations ---- */

/* Reason classes; their names (report_reason_name) are also the names of
 * the replaceable template files "<name>.txt" and close to Sisimai's. */
enum report_reason {
	REPORT_REASON_USERUNKNOWN, /* no such user */
	REPORT_REASON_HOSTUNKNOWN, /* the domain does not exist */
	REPORT_REASON_NOTACCEPT,   /* the domain has no mail server (null MX, RFC 7505) */
	REPORT_REASON_MAILBOXFULL, /* over quota */
	REPORT_REASON_FILTERED,    /* recipient only accepts listed senders */
	REPORT_REASON_BLOCKED,     /* judged as spam, or the sender/host is blocked */
	REPORT_REASON_MESGTOOBIG,  /* message too big */
	REPORT_REASON_EXPIRED,     /* gave up after queue_lifetime, nothing more known */
	REPORT_REASON_DELAYED,     /* still being retried (delay warning) */
	REPORT_REASON_DELIVERED,   /* success (NOTIFY=SUCCESS) */
	REPORT_REASON_RELAYED,     /* handed to a hop that does not speak DSN */
	REPORT_REASON_OTHER,
	REPORT_REASON_SUPPRESSED, /* on this server's own suppression list: never tried */
	REPORT_REASON_COUNT
};

struct report_explanation {
	enum report_reason reason;
	const char *name;     /* "userunknown", ... */
	const char *title;    /* "no such user" */
	const char *meaning;  /* one or two sentences: what it means */
	const char *advice;   /* what to do */
	char suggestion[300]; /* "did you mean" domain, e.g. "gmail.com", or "" */
};

/* report_explain - the reason class, meaning and advice for one outcome
 * of recipient addr in a report of the given kind. For a delay, reason is
 * REPORT_REASON_DELAYED and meaning/advice describe the underlying cause. */
void report_explain(const struct outcome *o, const char *addr, enum report_kind kind,
                    struct report_explanation *ex);
/* report_classify - only the underlying reason class of a failure outcome */
enum report_reason report_classify(const struct outcome *o);
const char *report_reason_name(enum report_reason r);

/* report_suggest_domain - a well-known mail provider whose name is one or
 * two typing mistakes away from domain (case ignored), e.g. "gmial.com" ->
 * "gmail.com". Returns true and fills out, or false when domain is itself
 * well known or nothing is close. */
bool report_suggest_domain(const char *domain, char *out, size_t size);

/* ---- who gets a report (RFC 3461 section 4.1, loop safety) ---- */

/* report_should_send - is the envelope sender told about this recipient?
 * NOTIFY=NEVER: no; not given (0): FAILURE and DELAY; SUCCESS only when
 * asked (both delivered and relayed); null sender <>: never; a message
 * that is itself a report: never (see report_decide for the double bounce). */
bool report_should_send(const struct spool_msg *msg, const struct spool_rcpt *rcpt,
                        enum report_kind kind);

enum report_target {
	REPORT_TO_NOBODY = 0,
	REPORT_TO_SENDER,     /* an ordinary report to msg->sender */
	REPORT_TO_POSTMASTER, /* a failed report: one double bounce */
};
/* report_decide - report_should_send plus the double bounce: a failed
 * recipient of a report (origin SPOOL_ORIGIN_REPORT) goes to the
 * postmaster once, unless that report was already addressed to the
 * postmaster (a failed double bounce causes nothing). */
enum report_target report_decide(const struct spool_msg *msg, const struct spool_rcpt *rcpt,
                                 enum report_kind kind, const char *myhostname);

/* ---- queueing a report ---- */

/* Runs on the event loop once the report is durable (err == 0, id is its
 * queue id and msg the committed envelope, owned by the callee) or failed
 * (err is an errno, id and msg NULL). */
typedef void (*report_queued_fn)(int err, const char *id, struct spool_msg *msg, void *arg);

/* report_queue - compose the report for req and commit it through the
 * spool with envelope sender <>, one recipient (req->report_to, else the
 * original sender, else postmaster@myhostname for a failed report) with
 * NOTIFY=NEVER, origin SPOOL_ORIGIN_REPORT. When req->body_fd is -1 the
 * original's body is opened from sp (and closed again).
 * The recipients of req are filtered through report_decide first, so the
 * caller may pass every recipient of the event: those whose NOTIFY does
 * not ask for this kind, all of a null-sender message, and all of a failed
 * double bounce are dropped. Returns 0 (queued; cb will run, unless the
 * spool is freed before the sync finished: the report is then found on
 * disk by the next start and cb never runs), 1 (no
 * recipient calls for a report; nothing queued, cb will not run) or -1
 * with errno and err (cb will not run; the caller may try again later). */
int report_queue(struct spool *sp, const struct report_request *req, report_queued_fn cb, void *arg,
                 char *err, size_t errlen);
/* report_queue_sync - the same, blocking (no event base needed); the new
 * queue id goes to id_out (>= SPOOL_ID_MAX); returns 0, 1 or -1 likewise */
int report_queue_sync(struct spool *sp, const struct report_request *req, char *id_out,
                      size_t idlen, char *err, size_t errlen);

#endif
