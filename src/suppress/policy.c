/*
 * policy.c - what a bounce, a complaint or a delivery does to an address
 * (issue 6, "Suppression store"), and the counts `mailerd suppress stats`
 * shows.
 *
 * Policy (settings, defaults in brackets):
 *   hard bounce  -> suppressed at once            (suppress_hard_bounce on)
 *   soft bounce  -> suppressed when soft_bounce_limit [5] soft bounces lie
 *                   within soft_bounce_window [15d] and after the last
 *                   delivery to the address
 *   complaint    -> suppressed                    (suppress_complaints on)
 *   other        -> recorded only: "blocked", "spamdetected", "filtered"...
 *                   speak about the sender or the content, not about the
 *                   mailbox, so they never suppress anyone.
 * Every event is stored (bounce_events) with the verdict, in the same
 * transaction as the suppression it causes.
 *
 * Backscatter (bounces for mail never sent here) is only counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suppress/internal.h"
#include "util/util.h"

/* Sisimai-style reasons that say "the mailbox exists but cannot take
 * mail now": they count toward the soft bounce limit. */
static const char *const soft_reasons[] = {
    "mailboxfull", "systemfull", "networkerror", "systemerror",     "mailererror", "exceedlimit",
    "expired",     "suspend",    "toomanyconn",  "hostunreachable", NULL,
};
static const char *const complaint_reasons[] = {"feedback", "complaint", "abuse", NULL};

static bool in_list(const char *const *l, const char *s)
{
	for (; s && *l; l++)
		if (strcasecmp(*l, s) == 0)
			return true;
	return false;
}

const char *suppress_kind(const struct suppress_bounce *b)
{
	if (in_list(complaint_reasons, b->reason))
		return "complaint";
	if (b->hard)
		return "hard";
	if (in_list(soft_reasons, b->reason))
		return "soft";
	return "other";
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* soft_due - with this event at now, are there soft_limit soft bounces
 * after max(window start, last delivery)? (Inside the caller's
 * transaction, before this event is inserted.) */
static int soft_due(struct suppress_store *st, const char *addr, int64_t now, bool *due, char *err,
                    size_t errlen)
{
	int64_t last = 0, count = 0, from;
	char from_s[32];

	if (sdb_exec(st->db, "SELECT last_delivered_at FROM deliveries WHERE address = $1",
	             (const char *const[]){addr}, 1, sdb_row_i64, &last, err, errlen) < 0)
		return -1;
	from = now - st->pol.soft_window_ms;
	if (last >= from)
		from = last + 1; /* "without a delivery in between" */
	i64_text(from, from_s, sizeof(from_s));
	if (sdb_exec(st->db,
	             "SELECT COUNT(*) FROM bounce_events WHERE address = $1 AND kind = "
	             "'soft' AND created_at >= $2",
	             (const char *const[]){addr, from_s}, 2, sdb_row_i64, &count, err, errlen) < 0)
		return -1;
	/* an event older than the last delivery does not count (a late
	 * bounce report about mail sent before it) */
	*due = now >= from && count + 1 >= (int64_t)st->pol.soft_limit;
	return 0;
}

int suppress_record_bounce(struct suppress_store *st, const struct suppress_bounce *b,
                           enum suppress_verdict *verdict, char *err, size_t errlen)
{
	char addr[SUPPRESS_ADDR_MAX], at[32], diag[SUPPRESS_DETAIL_MAX];
	const char *kind = suppress_kind(b);
	int64_t now = b->at_ms ? b->at_ms : util_now_ms();
	struct suppress_entry e;
	bool suppress = false;
	const char *vword;
	int r;

	*verdict = SUPPRESS_V_RECORDED;
	if (suppress_normalize(b->address, addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "'%s' is not an address (local@domain)", b->address);
		return -1;
	}
	i64_text(now, at, sizeof(at));
	util_strlcpy(diag, nz(b->diagnostic), sizeof(diag));
	if (store_begin(st, err, errlen) < 0)
		return -1;
	memset(&e, 0, sizeof(e));
	util_strlcpy(e.address, addr, sizeof(e.address));
	util_strlcpy(e.reason, b->reason ? b->reason : "undefined", sizeof(e.reason));
	util_strlcpy(e.status, nz(b->status), sizeof(e.status));
	snprintf(e.detail, sizeof(e.detail), "%s%s%s", b->queue_id ? b->queue_id : "",
	         b->queue_id && b->diagnostic ? ": " : "", nz(b->diagnostic));
	e.created_ms = now;
	if (strcmp(kind, "complaint") == 0) {
		suppress = st->pol.complaints;
		e.source = SUPPRESS_SRC_COMPLAINT;
	} else if (strcmp(kind, "hard") == 0) {
		suppress = st->pol.hard_bounce;
		e.source = SUPPRESS_SRC_HARD_BOUNCE;
	} else if (strcmp(kind, "soft") == 0) {
		e.source = SUPPRESS_SRC_SOFT_BOUNCE;
		if (soft_due(st, addr, now, &suppress, err, errlen) < 0)
			goto fail;
	}
	if (suppress) {
		if ((r = store_insert(st, &e, err, errlen)) < 0)
			goto fail;
		*verdict = r == 0 ? SUPPRESS_V_SUPPRESSED : SUPPRESS_V_ALREADY;
	}
	vword = *verdict == SUPPRESS_V_SUPPRESSED ? "suppressed"
	        : *verdict == SUPPRESS_V_ALREADY  ? "already"
	                                          : "recorded";
	/* the event, with its verdict, for the history */
	if (sdb_exec(
	        st->db,
	        "INSERT INTO bounce_events (address, reason, hard, kind, status, "
	        "diagnostic, queue_id, message_id, created_at, verdict) VALUES ($1, $2, $3, $4, "
	        "$5, $6, $7, $8, $9, $10)",
	        (const char *const[]){addr, b->reason ? b->reason : "undefined",
	                              b->hard ? "1" : "0", kind, nz(b->status), diag,
	                              nz(b->queue_id), nz(b->message_id), at, vword},
	        10, NULL, NULL, err, errlen) < 0)
		goto fail;
	if (store_commit(st, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	store_rollback(st);
	*verdict = SUPPRESS_V_RECORDED;
	return -1;
}

int suppress_record_delivery(struct suppress_store *st, const char *addr_in, int64_t at_ms,
                             char *err, size_t errlen)
{
	char addr[SUPPRESS_ADDR_MAX], at[32];

	if (suppress_normalize(addr_in, addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "'%s' is not an address (local@domain)", addr_in);
		return -1;
	}
	i64_text(at_ms ? at_ms : util_now_ms(), at, sizeof(at));
	/* one row per address; the newest delivery wins */
	return sdb_exec(st->db,
	                "INSERT INTO deliveries (address, last_delivered_at) VALUES ($1, $2) "
	                "ON CONFLICT (address) DO UPDATE SET last_delivered_at = "
	                "CASE WHEN excluded.last_delivered_at > deliveries.last_delivered_at "
	                "THEN excluded.last_delivered_at ELSE deliveries.last_delivered_at END",
	                (const char *const[]){addr, at}, 2, NULL, NULL, err, errlen);
}

int suppress_record_backscatter(struct suppress_store *st, const char *kind, const char *detail,
                                char *err, size_t errlen)
{
	char at[32];

	i64_text(util_now_ms(), at, sizeof(at));
	return sdb_exec(st->db,
	                "INSERT INTO backscatter_events (kind, detail, created_at) VALUES "
	                "($1, $2, $3)",
	                (const char *const[]){kind ? kind : "unknown", nz(detail), at}, 3, NULL,
	                NULL, err, errlen);
}

/* ---- stats ---- */

struct count_vec {
	struct suppress_count *v;
	size_t n;
};

static int row_count_pair(void *arg, int ncol, const char *const *vals)
{
	struct count_vec *c = arg;
	struct suppress_count *x;

	if (ncol < 3)
		return 0;
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	x = &c->v[c->n++];
	if (vals[1] && vals[1][0])
		snprintf(x->key, sizeof(x->key), "%s (%s)", vals[0] ? vals[0] : "", vals[1]);
	else
		util_strlcpy(x->key, vals[0] ? vals[0] : "", sizeof(x->key));
	x->n = (uint64_t)text_i64(vals[2]);
	return 0;
}

static int row_kinds(void *arg, int ncol, const char *const *vals)
{
	struct suppress_stats *s = arg;
	uint64_t n;

	if (ncol < 2 || vals[0] == NULL)
		return 0;
	n = (uint64_t)text_i64(vals[1]);
	if (strcmp(vals[0], "hard") == 0)
		s->bounces_hard = n;
	else if (strcmp(vals[0], "soft") == 0)
		s->bounces_soft = n;
	else if (strcmp(vals[0], "complaint") == 0)
		s->complaints = n;
	else
		s->bounces_other += n;
	return 0;
}

int suppress_stats(struct suppress_store *st, size_t max_domains, struct suppress_stats *out,
                   char *err, size_t errlen)
{
	struct count_vec r = {0}, d = {0};
	int64_t total = 0, bs = 0, rm = 0;
	char lim[32];

	memset(out, 0, sizeof(*out));
	i64_text((int64_t)max_domains, lim, sizeof(lim));
	if (sdb_exec(st->db, "SELECT COUNT(*) FROM suppressions", NULL, 0, sdb_row_i64, &total, err,
	             errlen) < 0 ||
	    sdb_exec(st->db,
	             "SELECT reason, source, COUNT(*) AS n FROM suppressions GROUP BY "
	             "reason, source ORDER BY n DESC, reason",
	             NULL, 0, row_count_pair, &r, err, errlen) < 0 ||
	    sdb_exec(st->db,
	             "SELECT domain, '', COUNT(*) AS n FROM suppressions GROUP BY domain "
	             "ORDER BY n DESC, domain LIMIT $1",
	             (const char *const[]){lim}, 1, row_count_pair, &d, err, errlen) < 0 ||
	    sdb_exec(st->db, "SELECT kind, COUNT(*) FROM bounce_events GROUP BY kind", NULL, 0,
	             row_kinds, out, err, errlen) < 0 ||
	    sdb_exec(st->db, "SELECT COUNT(*) FROM backscatter_events", NULL, 0, sdb_row_i64, &bs,
	             err, errlen) < 0 ||
	    sdb_exec(st->db, "SELECT COUNT(*) FROM removals", NULL, 0, sdb_row_i64, &rm, err,
	             errlen) < 0) {
		free(r.v);
		free(d.v);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->total = (uint64_t)total;
	out->by_reason = r.v;
	out->n_reason = r.n;
	out->by_domain = d.v;
	out->n_domain = d.n;
	out->backscatter = (uint64_t)bs;
	out->removals = (uint64_t)rm;
	return 0;
}

void suppress_stats_free(struct suppress_stats *s)
{
	if (s == NULL)
		return;
	free(s->by_reason);
	free(s->by_domain);
	memset(s, 0, sizeof(*s));
}
