/*
 * bounce.h - the face of src/bounce: read a received bounce (non-delivery
 * report, delivery status notification, feedback-loop report or automatic
 * reply) and turn it into per-recipient records.
 *
 * One call parses one file's bytes (which may hold more than one message,
 * mbox style). Decoding goes through GMime 3; then the standard report
 * (RFC 3464 message/delivery-status, RFC 6533 global form), the ARF
 * feedback report (RFC 5965), and otherwise the MTA-family recognisers
 * (a rule table of signatures). Each record gets a reason from the
 * vocabulary below and a hard/soft verdict from one documented table.
 *
 * Never fails on bad input: a message that cannot be read, or is not a
 * bounce, yields no record. Memory is bounded by the input size.
 */
#ifndef MAILERD_BOUNCE_H
#define MAILERD_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

#define BOUNCE_ADDR_MAX 512
/* Records one message gives at most. A notice lists the recipients of
 * one transaction, and servers take 100 to a few thousand per
 * transaction (RFC 5321 4.5.3.1.8 asks for at least 100; Postfix and
 * mailerd default to 1000): 25000 is far above any real notice, and
 * keeps a crafted one naming millions of addresses (a record is about
 * 1 KiB) from taking gigabytes. The rest of such a message is not read. */
#define BOUNCE_RECIPIENTS_MAX 25000

/* One failed (or reported) recipient. Strings are NUL-terminated; the
 * const char * members point to static tables and are never freed. */
struct bounce_record {
	char recipient[BOUNCE_ADDR_MAX];
	char status[16];        /* RFC 3463 class.subject.detail or "" */
	char replycode[4];      /* RFC 5321 reply code or "" */
	char action[16];        /* RFC 3464 Action value, lower case, or "" */
	char command[8];        /* SMTP command the reply answered, or "" */
	char remote_host[256];  /* host that answered (RFC 3464 Remote-MTA), or "" */
	char feedback_type[32]; /* RFC 5965 Feedback-Type for feedback */
	const char *reason;     /* one of bounce_reasons[] */
	bool hardbounce;
	char *diagnostic_code;  /* remote's words, whitespace-folded (malloc) */
	const char *smtp_agent; /* MTA family that wrote the bounce */
	const char *rule;       /* which rule decided the reason (--explain) */
	size_t message;         /* 1-based index of the message in an mbox input */
};

struct bounce_result {
	struct bounce_record *recs;
	size_t n, cap;
};

/* bounce_init - set up GMime once per process (idempotent) */
void bounce_init(void);

/* bounce_parse - append the records found in data[0..len) to res.
 * Returns the number of records added (0: not a bounce). */
size_t bounce_parse(const char *data, size_t len, struct bounce_result *res);

/* bounce_set_fast_mime - decode common message shapes with the built-in
 * reader (default on) or always with GMime (off: the reference, for
 * tests that compare the two). Process-wide; set before parsing. */
void bounce_set_fast_mime(bool on);

/* bounce_result_free - free the records' strings and the array; res is
 * left empty and may be reused. Takes NULL. */
void bounce_result_free(struct bounce_result *res);

/* bounce_is_hard - the hard-bounce table: the address itself is bad, so
 * retrying can never succeed (userunknown, hostunknown, hasmoved, and
 * notaccept when the status is permanent). */
bool bounce_is_hard(const char *reason, const char *status);

/* bounce_reasons - the closed reason vocabulary, NULL-terminated */
extern const char *const bounce_reasons[];

#endif
