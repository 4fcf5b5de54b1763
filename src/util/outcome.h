/*
 * outcome.h - the one closed result type of a delivery step.
 *
 * Every remote result (an SMTP reply, a DNS answer, a connection failure, the
 * queue lifetime running out) is turned into a struct outcome once, where it
 * happens, and then flows unchanged to the spool (last diagnostic), the log
 * line, the event log and the failure report. Nothing downstream re-derives
 * a status from text.
 *
 *   kind     OK / TEMP / PERM (qmail's three answers; nothing else)
 *   code     the SMTP reply code, 0 when no SMTP reply was involved
 *   status   RFC 3463 enhanced code "c.s.d": the remote's own when it gave
 *            one, else derived (outcome_derive_status)
 *   text     the remote's full reply (multi-line joined with a space), or
 *            our own words for DNS/connection problems
 *   remote   "mx.example.com[192.0.2.1]:25" of the host that answered,
 *            empty when none did
 */
#ifndef MAILERD_OUTCOME_H
#define MAILERD_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

enum outcome_kind {
	OUTCOME_OK = 0,
	OUTCOME_TEMP = 1,
	OUTCOME_PERM = 2,
};

#define OUTCOME_STATUS_MAX 16
#define OUTCOME_TEXT_MAX   1024 /* 2 RFC 5321 reply lines; longer is cut with "..." */
#define OUTCOME_REMOTE_MAX 320  /* host name 255 + [IPv6] + :port */

struct outcome {
	enum outcome_kind kind;
	int code;
	char status[OUTCOME_STATUS_MAX];
	char text[OUTCOME_TEXT_MAX];
	char remote[OUTCOME_REMOTE_MAX];
};

/* outcome_set - fill every field; status NULL derives it from kind+code.
 * Text longer than OUTCOME_TEXT_MAX is cut and marked with "...". */
void outcome_set(struct outcome *o, enum outcome_kind kind, int code, const char *status,
                 const char *remote, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* outcome_from_reply - from an SMTP reply: kind from the first digit, the
 * enhanced code taken from the start of the text when present (RFC 2034
 * section 4; it must agree in class with the reply code), else derived. */
void outcome_from_reply(struct outcome *o, int code, const char *text, const char *remote);

/* outcome_derive_status - the RFC 3463 code we report when the remote gave
 * none: 2.0.0, 4.0.0, 5.0.0 refined by well-known reply codes (e.g. 421 ->
 * 4.4.2, 452 -> 4.2.2? no: 4.5.3 is only for too many recipients; 552 ->
 * 5.3.4 ...). Writes into status (>= OUTCOME_STATUS_MAX). */
void outcome_derive_status(enum outcome_kind kind, int code, char *status);

/* outcome_kind_name - "ok" / "temp" / "perm" */
const char *outcome_kind_name(enum outcome_kind kind);

/* outcome_is_valid_status - syntax of an RFC 3463 code: class 2/4/5,
 * subject 1-3 digits, detail 1-3 digits */
bool outcome_is_valid_status(const char *s, size_t len);

#endif
