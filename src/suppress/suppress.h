/*
 * suppress.h - the face of src/suppress: the suppression and event store.
 *
 * One schema, two backends chosen by the state_db URL:
 *   sqlite:PATH            embedded (WAL, busy timeout), one node
 *   postgresql://...       libpq; several nodes share one list and history
 * Migrations are versioned (table schema_version) and applied when a store
 * is opened, inside a transaction (PostgreSQL: under an advisory lock so
 * two nodes starting together do not race).
 *
 * Addresses are keys in lower case (ASCII letters only; UTF-8 bytes are
 * kept as they are). Times are milliseconds since the epoch (util_now_ms,
 * so tests can pin the clock).
 *
 * Two ways in:
 *   - struct suppress_store: blocking calls for the command line, tests and
 *     the other parts' workers (bounce intake, contacts check).
 *   - struct suppress_cache: for the daemon's event loop. An in-memory set
 *     answers "is this recipient suppressed, since when, why" without
 *     touching the database; a worker thread does every write and polls the
 *     store's change feed, so suppressions written by another node or by
 *     `mailerd suppress` are enforced within suppress_refresh.
 */
#ifndef MAILERD_SUPPRESS_H
#define MAILERD_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config;

#define SUPPRESS_ADDR_MAX   320 /* RFC 5321 path (256) with room for UTF-8 */
#define SUPPRESS_REASON_MAX 200
#define SUPPRESS_STATUS_MAX 16 /* RFC 3463 "c.sss.ddd" */
#define SUPPRESS_DETAIL_MAX 1024

/* Where a suppression came from (column `source`). */
enum suppress_source {
	SUPPRESS_SRC_HARD_BOUNCE = 0, /* "hard-bounce" */
	SUPPRESS_SRC_SOFT_BOUNCE,     /* "soft-bounce": soft_bounce_limit reached */
	SUPPRESS_SRC_COMPLAINT,       /* "complaint": ARF feedback report */
	SUPPRESS_SRC_MANUAL,          /* "manual": `mailerd suppress add` */
	SUPPRESS_SRC_IMPORT,          /* "import": `mailerd suppress import` */
	SUPPRESS_SRC_COUNT
};
const char *suppress_source_name(enum suppress_source s);
/* suppress_source_parse - the name back; -1 when unknown */
int suppress_source_parse(const char *name);

struct suppress_policy {
	bool hard_bounce;       /* suppress_hard_bounce */
	unsigned soft_limit;    /* soft_bounce_limit */
	int64_t soft_window_ms; /* soft_bounce_window */
	bool complaints;        /* suppress_complaints */
};
/* suppress_policy_default - on, 5, 15 days, on */
void suppress_policy_default(struct suppress_policy *p);
void suppress_policy_from_config(const struct config *cfg, struct suppress_policy *p);

/* One suppression (a row of `suppressions`). */
struct suppress_entry {
	char address[SUPPRESS_ADDR_MAX];
	char reason[SUPPRESS_REASON_MAX]; /* "userunknown", or the operator's words */
	enum suppress_source source;
	char status[SUPPRESS_STATUS_MAX]; /* "5.1.1" or "" */
	char detail[SUPPRESS_DETAIL_MAX]; /* diagnostic, queue id... or "" */
	int64_t created_ms;
	int64_t expires_ms; /* 0 = never */
};

/* suppress_describe - the "when and why" text used in the 550 reply, the
 * report and `check`: "recipient suppressed since 2026-12-03 (hard bounce:
 * userunknown 5.1.1)". */
void suppress_describe(const struct suppress_entry *e, char *out, size_t size);

/* suppress_normalize - lower-case ASCII, strip <> and white space; -1 when
 * it is not something@domain of a sane length */
int suppress_normalize(const char *in, char *out, size_t size);

/* ---- the store (blocking) ---- */
struct suppress_store;

/* suppress_open - connect / open and migrate. url is a state_db value. */
struct suppress_store *suppress_open(const char *url, const struct suppress_policy *pol, char *err,
                                     size_t errlen);
void suppress_close(struct suppress_store *st);
/* suppress_schema_version - the version the store is at after open */
int suppress_schema_version(const struct suppress_store *st);
/* suppress_backend_name - "sqlite" or "postgresql" */
const char *suppress_backend_name(const struct suppress_store *st);

/* suppress_add - insert e (address normalized; created_ms 0 = now). An
 * existing suppression is kept as it was: returns 1 then, 0 when added,
 * -1 with err on failure. */
int suppress_add(struct suppress_store *st, const struct suppress_entry *e, char *err,
                 size_t errlen);
/* suppress_remove - lift a suppression; reason is recorded in `removals`
 * with what was lifted. 0 removed, 1 not suppressed, -1 error. */
int suppress_remove(struct suppress_store *st, const char *addr, const char *reason, char *err,
                    size_t errlen);
/* suppress_lookup - 1 and *out when addr is suppressed (and not expired),
 * 0 when not, -1 on error */
int suppress_lookup(struct suppress_store *st, const char *addr, struct suppress_entry *out,
                    char *err, size_t errlen);

/* suppress_list - every suppression in address order; fn returning
 * non-zero stops the walk (that value is returned) */
typedef int (*suppress_entry_fn)(const struct suppress_entry *e, void *arg);
int suppress_list(struct suppress_store *st, suppress_entry_fn fn, void *arg, char *err,
                  size_t errlen);

/* ---- events and policy ---- */
/* A bounce (or complaint) for one recipient, as the bounce parser (issue 6
 * part B) or the scheduler's final outcome sees it. reason is a Sisimai-
 * style class ("userunknown", "mailboxfull", "feedback"/"complaint"...). */
struct suppress_bounce {
	const char *address;
	const char *reason;
	bool hard;              /* the parser's hardbounce verdict */
	const char *status;     /* RFC 3463, may be NULL */
	const char *diagnostic; /* remote text, may be NULL */
	const char *queue_id;   /* the original message's queue id, may be NULL */
	const char *message_id; /* its Message-ID, may be NULL */
	int64_t at_ms;          /* when it was seen; 0 = now */
};
/* What the policy made of one event. */
enum suppress_verdict {
	SUPPRESS_V_RECORDED = 0, /* kept as an event; nothing else */
	SUPPRESS_V_SUPPRESSED,   /* the address is now suppressed */
	SUPPRESS_V_ALREADY,      /* it already was */
};
/* suppress_kind - how the policy treats a bounce: "hard", "soft" (counts
 * toward soft_bounce_limit: mailboxfull, systemfull, networkerror,
 * systemerror, mailererror, exceedlimit, expired, suspend), "complaint"
 * (feedback, complaint, abuse) or "other" (recorded only: blocked,
 * filtered, spam... are about the sender, not the address) */
const char *suppress_kind(const struct suppress_bounce *b);
/* suppress_record_bounce - store the event and apply the policy:
 *   hard -> suppressed at once (suppress_hard_bounce)
 *   soft -> suppressed when soft_limit soft events fall within soft_window
 *           after the last delivery
 *   complaint -> suppressed (suppress_complaints)
 * Returns 0 with *verdict set, or -1 with err. */
int suppress_record_bounce(struct suppress_store *st, const struct suppress_bounce *b,
                           enum suppress_verdict *verdict, char *err, size_t errlen);
/* suppress_record_delivery - addr was delivered at at_ms (0 = now): the
 * soft bounce count starts again after it */
int suppress_record_delivery(struct suppress_store *st, const char *addr, int64_t at_ms, char *err,
                             size_t errlen);
/* suppress_record_backscatter - a bounce for mail this server never sent
 * (bad or missing return path tag, unknown queue id): counted, never
 * suppresses anyone. kind e.g. "bad-tag", "no-tag", "unknown-queue-id". */
int suppress_record_backscatter(struct suppress_store *st, const char *kind, const char *detail,
                                char *err, size_t errlen);

/* ---- statistics ---- */
struct suppress_count {
	char key[SUPPRESS_ADDR_MAX]; /* "userunknown (hard-bounce)" or a domain */
	uint64_t n;
};
struct suppress_stats {
	uint64_t total;
	struct suppress_count *by_reason; /* descending by n */
	size_t n_reason;
	struct suppress_count *by_domain; /* descending by n, at most max_domains */
	size_t n_domain;
	uint64_t bounces_hard, bounces_soft, complaints, bounces_other;
	uint64_t backscatter;
	uint64_t removals;
};
/* suppress_stats - counts; by_domain holds the max_domains largest */
int suppress_stats(struct suppress_store *st, size_t max_domains, struct suppress_stats *out,
                   char *err, size_t errlen);
void suppress_stats_free(struct suppress_stats *s);

/* ---- CSV (RFC 4180: quoted fields, "" inside quotes, CRLF or LF) ---- */
/* suppress_export_csv - header address,reason,source,created_at,status,
 * detail, then one line per suppression (created_at ISO 8601 UTC) */
int suppress_export_csv(struct suppress_store *st, FILE *out, char *err, size_t errlen);
struct suppress_import_result {
	uint64_t added, existing, skipped; /* skipped: bad lines, reported to errout */
};
/* suppress_import_csv - a header line naming the columns (address or
 * email; reason, source, created_at, status, detail optional) or none
 * (first column = address). Source defaults to "import". Bad lines are
 * reported to errout (may be NULL) as "LINE: message" and skipped.
 * Returns 0, or -1 with err when the store failed. */
int suppress_import_csv(struct suppress_store *st, FILE *in, FILE *errout,
                        struct suppress_import_result *res, char *err, size_t errlen);

/* suppress_wipe - delete every row of every table (tests only) */
int suppress_wipe(struct suppress_store *st, char *err, size_t errlen);

/* ---- change feed (for caches) ---- */
/* One changed address: present=true with its entry, or false (removed). */
typedef void (*suppress_change_fn)(const struct suppress_entry *e, bool present, void *arg);
/* suppress_changes - every address changed after watermark *seq (replaying
 * a margin before it, so a PostgreSQL transaction that commits late is not
 * missed), with its current state; *seq moves to the newest change seen */
int suppress_changes(struct suppress_store *st, int64_t *seq, suppress_change_fn fn, void *arg,
                     char *err, size_t errlen);
/* suppress_expired - addresses whose expires_at fell in (from_ms, to_ms]:
 * fn(e, false, arg) for each (the feed records no change when time passes) */
int suppress_expired(struct suppress_store *st, int64_t from_ms, int64_t to_ms,
                     suppress_change_fn fn, void *arg, char *err, size_t errlen);
/* suppress_watermark - the newest change sequence number (0 when none) */
int suppress_watermark(struct suppress_store *st, int64_t *seq, char *err, size_t errlen);

/* ---- the daemon's cache ---- */
struct suppress_cache;
/* What a hit says (for the 550 text and the event). */
struct suppress_hit {
	int64_t created_ms;
	enum suppress_source source;
	char reason[SUPPRESS_REASON_MAX + SUPPRESS_STATUS_MAX]; /* "userunknown 5.1.1" */
	char text[400];                                         /* suppress_describe of the above */
};
/* suppress_cache_new - open its own store connection, load every
 * suppression into memory (blocking: start-up only) and start the worker
 * that refreshes every refresh_ms and does the writes. */
struct suppress_cache *suppress_cache_new(const char *url, const struct suppress_policy *pol,
                                          int64_t refresh_ms, char *err, size_t errlen);
void suppress_cache_free(struct suppress_cache *c);
/* suppress_cache_check - O(1), no I/O: true and *hit when addr is
 * suppressed as of the last refresh */
bool suppress_cache_check(struct suppress_cache *c, const char *addr, struct suppress_hit *hit);
/* suppress_cache_bounce / _delivery - queue a write for the worker (never
 * blocks on the database; dropped with a warning when the queue is full) */
void suppress_cache_bounce(struct suppress_cache *c, const struct suppress_bounce *b);
void suppress_cache_delivery(struct suppress_cache *c, const char *addr);
/* suppress_cache_count - addresses in the set */
size_t suppress_cache_count(struct suppress_cache *c);
/* suppress_cache_sync - wait until the worker has done every queued write
 * and one refresh after them (tests, shutdown) */
void suppress_cache_sync(struct suppress_cache *c);

/* ---- the compact set (set.c; exposed for tests and sizing) ---- */
struct suppress_set;
struct suppress_set *suppress_set_new(size_t expect);
void suppress_set_free(struct suppress_set *s);
/* suppress_set_put - insert or update addr (normalized) */
void suppress_set_put(struct suppress_set *s, const char *addr, const struct suppress_entry *e);
/* suppress_set_del - 1 removed, 0 absent */
int suppress_set_del(struct suppress_set *s, const char *addr);
bool suppress_set_get(const struct suppress_set *s, const char *addr, struct suppress_hit *hit);
size_t suppress_set_count(const struct suppress_set *s);
/* suppress_set_bytes - memory held (slots + interned reasons) */
size_t suppress_set_bytes(const struct suppress_set *s);

#endif
