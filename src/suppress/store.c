/*
 * store.c - the suppression store: opening a backend by URL, the rows of
 * `suppressions`, the audit trail of removals and the change feed.
 *
 * Invariants:
 *   - every insert into or delete from `suppressions` adds a row to
 *     `suppression_changes` in the same transaction, so a cache that polls
 *     the feed never misses a change that committed;
 *   - an existing suppression is never overwritten by a later add: the
 *     first reason (and its date) is the one the sender is told;
 *   - a suppression whose expires_at has passed counts as absent.
 * Errors: -1 with a message in err; nothing is fatal here.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "suppress/internal.h"
#include "util/util.h"

/* How far before the watermark the change feed is re-read: a PostgreSQL
 * sequence number is taken before its transaction commits, so a change
 * may become visible after a higher one. */
#define CHANGE_REPLAY 1000

static const char *const source_names[SUPPRESS_SRC_COUNT] = {
    "hard-bounce", "soft-bounce", "complaint", "manual", "import",
};

const char *suppress_source_name(enum suppress_source s)
{
	return (unsigned)s < SUPPRESS_SRC_COUNT ? source_names[s] : "manual";
}

int suppress_source_parse(const char *name)
{
	for (int i = 0; i < SUPPRESS_SRC_COUNT; i++)
		if (name && strcmp(name, source_names[i]) == 0)
			return i;
	return -1;
}

void suppress_policy_default(struct suppress_policy *p)
{
	p->hard_bounce = true;
	p->soft_limit = 5;
	p->soft_window_ms = 15LL * 86400000;
	p->complaints = true;
}

void suppress_policy_from_config(const struct config *cfg, struct suppress_policy *p)
{
	p->hard_bounce = cfg->suppress_hard_bounce;
	p->soft_limit = (unsigned)cfg->soft_bounce_limit;
	p->soft_window_ms = cfg->soft_bounce_window_ms;
	p->complaints = cfg->suppress_complaints;
}

const char *addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

int suppress_normalize(const char *in, char *out, size_t size)
{
	size_t n, start = 0;
	const char *at;

	while (in[start] == ' ' || in[start] == '\t' || in[start] == '<')
		start++;
	n = strlen(in + start);
	while (n > 0 &&
	       (in[start + n - 1] == ' ' || in[start + n - 1] == '\t' || in[start + n - 1] == '>' ||
	        in[start + n - 1] == '\r' || in[start + n - 1] == '\n'))
		n--;
	/* RFC 5321 section 4.5.3.1.3: a path is at most 256 octets */
	if (n == 0 || n > 256 || n >= size)
		return -1;
	memcpy(out, in + start, n);
	out[n] = '\0';
	at = strrchr(out, '@');
	if (at == NULL || at == out || at[1] == '\0')
		return -1;
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -1;
		/* domains are case-insensitive, and so in practice are local
		 * parts: one key per mailbox */
		*p = (char)tolower((unsigned char)*p);
	}
	return 0;
}

/* date_of - "2026-12-03" */
static void date_of(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d", &tm);
}

void suppress_describe(const struct suppress_entry *e, char *out, size_t size)
{
	static const char *const words[SUPPRESS_SRC_COUNT] = {
	    "hard bounce", "repeated soft bounces", "complaint", "added by the operator",
	    "imported",
	};
	const char *w = (unsigned)e->source < SUPPRESS_SRC_COUNT ? words[e->source] : "suppressed";
	char date[32];

	date_of(e->created_ms, date, sizeof(date));
	if (e->reason[0] && e->status[0])
		snprintf(out, size, "recipient suppressed since %s (%s: %s %s)", date, w, e->reason,
		         e->status);
	else if (e->reason[0])
		snprintf(out, size, "recipient suppressed since %s (%s: %s)", date, w, e->reason);
	else
		snprintf(out, size, "recipient suppressed since %s (%s)", date, w);
}

/* ---- open / close ---- */

struct suppress_store *suppress_open(const char *url, const struct suppress_policy *pol, char *err,
                                     size_t errlen)
{
	struct suppress_store *st;
	struct sdb *db;
	int v;

	if (strncmp(url, "sqlite:", 7) == 0)
		db = sdb_sqlite_open(url + 7, err, errlen);
	else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		db = sdb_pg_open(url, err, errlen);
	else {
		snprintf(err, errlen, "state_db: expected sqlite:PATH or a postgresql:// URL");
		return NULL;
	}
	if (db == NULL)
		return NULL;
	if ((v = suppress_migrate(db, err, errlen)) < 0) {
		db->ops->close(db);
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->db = db;
	st->version = v;
	if (pol)
		st->pol = *pol;
	else
		suppress_policy_default(&st->pol);
	return st;
}

void suppress_close(struct suppress_store *st)
{
	if (st == NULL)
		return;
	st->db->ops->close(st->db);
	free(st);
}

int suppress_schema_version(const struct suppress_store *st)
{
	return st->version;
}

const char *suppress_backend_name(const struct suppress_store *st)
{
	return st->db->name;
}

int store_begin(struct suppress_store *st, char *err, size_t errlen)
{
	return sdb_exec(st->db, st->db->begin_write, NULL, 0, NULL, NULL, err, errlen);
}

int store_commit(struct suppress_store *st, char *err, size_t errlen)
{
	return sdb_exec(st->db, "COMMIT", NULL, 0, NULL, NULL, err, errlen);
}

void store_rollback(struct suppress_store *st)
{
	char e[200];

	sdb_exec(st->db, "ROLLBACK", NULL, 0, NULL, NULL, e, sizeof(e));
}

void store_entry_from_row(struct suppress_entry *e, const char *const *vals)
{
	int src;

	memset(e, 0, sizeof(*e));
	util_strlcpy(e->address, vals[0] ? vals[0] : "", sizeof(e->address));
	util_strlcpy(e->reason, vals[1] ? vals[1] : "", sizeof(e->reason));
	src = suppress_source_parse(vals[2]);
	e->source = src < 0 ? SUPPRESS_SRC_MANUAL : (enum suppress_source)src;
	util_strlcpy(e->status, vals[3] ? vals[3] : "", sizeof(e->status));
	util_strlcpy(e->detail, vals[4] ? vals[4] : "", sizeof(e->detail));
	e->created_ms = text_i64(vals[5]);
	e->expires_ms = vals[6] ? text_i64(vals[6]) : 0;
}

/* ---- rows ---- */

static int row_count(void *arg, int ncol, const char *const *vals)
{
	(void)ncol;
	(void)vals;
	(*(int *)arg)++;
	return 0;
}

int store_insert(struct suppress_store *st, const struct suppress_entry *e, char *err,
                 size_t errlen)
{
	char created[32], expires[32], now[32];
	const char *p[8];
	int n = 0;

	i64_text(e->created_ms ? e->created_ms : util_now_ms(), created, sizeof(created));
	i64_text(e->expires_ms, expires, sizeof(expires));
	i64_text(util_now_ms(), now, sizeof(now));
	p[0] = e->address;
	p[1] = addr_domain(e->address);
	p[2] = e->reason;
	p[3] = suppress_source_name(e->source);
	p[4] = e->status;
	p[5] = e->detail;
	p[6] = created;
	p[7] = e->expires_ms ? expires : NULL;
	/* an expired row is replaced; a live one is kept (RETURNING tells
	 * whether this statement wrote anything) */
	if (sdb_exec(st->db,
	             "DELETE FROM suppressions WHERE address = $1 AND expires_at IS NOT "
	             "NULL AND expires_at <= $2",
	             (const char *const[]){e->address, now}, 2, NULL, NULL, err, errlen) < 0)
		return -1;
	if (sdb_exec(st->db,
	             "INSERT INTO suppressions (address, domain, reason, source, status, "
	             "detail, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
	             "ON CONFLICT (address) DO NOTHING RETURNING address",
	             p, 8, row_count, &n, err, errlen) < 0)
		return -1;
	if (n == 0)
		return 1;
	if (sdb_exec(st->db,
	             "INSERT INTO suppression_changes (address, op, at) VALUES ($1, 'add', "
	             "$2)",
	             (const char *const[]){e->address, now}, 2, NULL, NULL, err, errlen) < 0)
		return -1;
	return 0;
}

int suppress_add(struct suppress_store *st, const struct suppress_entry *e, char *err,
                 size_t errlen)
{
	struct suppress_entry n = *e;
	int r;

	if (suppress_normalize(e->address, n.address, sizeof(n.address)) < 0) {
		snprintf(err, errlen, "'%s' is not an address (local@domain)", e->address);
		return -1;
	}
	if (store_begin(st, err, errlen) < 0)
		return -1;
	r = store_insert(st, &n, err, errlen);
	if (r < 0 || store_commit(st, err, errlen) < 0) {
		store_rollback(st);
		return -1;
	}
	return r;
}

static int row_entry(void *arg, int ncol, const char *const *vals)
{
	if (ncol < 7)
		return 0;
	store_entry_from_row(arg, vals);
	return 1;
}

/* lookup_in - the live row of addr (normalized) */
static int lookup_in(struct suppress_store *st, const char *addr, struct suppress_entry *out,
                     char *err, size_t errlen)
{
	char now[32];
	int r;

	i64_text(util_now_ms(), now, sizeof(now));
	r = sdb_exec(st->db,
	             "SELECT " STORE_ENTRY_COLS " FROM suppressions WHERE address = $1 "
	             "AND (expires_at IS NULL OR expires_at > $2)",
	             (const char *const[]){addr, now}, 2, row_entry, out, err, errlen);
	return r < 0 ? -1 : r;
}

int suppress_lookup(struct suppress_store *st, const char *addr, struct suppress_entry *out,
                    char *err, size_t errlen)
{
	char a[SUPPRESS_ADDR_MAX];
	struct suppress_entry tmp;

	if (suppress_normalize(addr, a, sizeof(a)) < 0) {
		snprintf(err, errlen, "'%s' is not an address (local@domain)", addr);
		return -1;
	}
	return lookup_in(st, a, out ? out : &tmp, err, errlen);
}

int suppress_remove(struct suppress_store *st, const char *addr, const char *reason, char *err,
                    size_t errlen)
{
	char a[SUPPRESS_ADDR_MAX], now[32], was[32];
	struct suppress_entry e;
	int r;

	if (suppress_normalize(addr, a, sizeof(a)) < 0) {
		snprintf(err, errlen, "'%s' is not an address (local@domain)", addr);
		return -1;
	}
	if (store_begin(st, err, errlen) < 0)
		return -1;
	memset(&e, 0, sizeof(e));
	r = sdb_exec(st->db, "SELECT " STORE_ENTRY_COLS " FROM suppressions WHERE address = $1",
	             (const char *const[]){a}, 1, row_entry, &e, err, errlen);
	if (r < 0)
		goto fail;
	if (r == 0) {
		store_rollback(st);
		return 1;
	}
	i64_text(util_now_ms(), now, sizeof(now));
	i64_text(e.created_ms, was, sizeof(was));
	if (sdb_exec(st->db, "DELETE FROM suppressions WHERE address = $1",
	             (const char *const[]){a}, 1, NULL, NULL, err, errlen) < 0 ||
	    sdb_exec(st->db,
	             "INSERT INTO removals (address, reason, was_reason, was_source, "
	             "was_created_at, removed_at) VALUES ($1, $2, $3, $4, $5, $6)",
	             (const char *const[]){a, reason ? reason : "", e.reason,
	                                   suppress_source_name(e.source), was, now},
	             6, NULL, NULL, err, errlen) < 0 ||
	    sdb_exec(st->db,
	             "INSERT INTO suppression_changes (address, op, at) VALUES ($1, "
	             "'remove', $2)",
	             (const char *const[]){a, now}, 2, NULL, NULL, err, errlen) < 0 ||
	    store_commit(st, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	store_rollback(st);
	return -1;
}

struct list_ctx {
	suppress_entry_fn fn;
	void *arg;
	int64_t now;
};

static int row_list(void *arg, int ncol, const char *const *vals)
{
	struct list_ctx *l = arg;
	struct suppress_entry e;

	if (ncol < 7)
		return 0;
	store_entry_from_row(&e, vals);
	if (e.expires_ms && e.expires_ms <= l->now)
		return 0;
	return l->fn(&e, l->arg);
}

int suppress_list(struct suppress_store *st, suppress_entry_fn fn, void *arg, char *err,
                  size_t errlen)
{
	struct list_ctx l = {fn, arg, util_now_ms()};

	return sdb_exec(st->db, "SELECT " STORE_ENTRY_COLS " FROM suppressions ORDER BY address",
	                NULL, 0, row_list, &l, err, errlen);
}

/* ---- change feed ---- */

struct change_ctx {
	suppress_change_fn fn;
	void *arg;
	int64_t max;
	int64_t now;
};

/* row_change - seq, then STORE_ENTRY_COLS of the current row (NULLs when
 * the address is no longer suppressed) */
static int row_change(void *arg, int ncol, const char *const *vals)
{
	struct change_ctx *c = arg;
	struct suppress_entry e;
	int64_t seq;
	bool present;

	if (ncol < 9)
		return 0;
	seq = text_i64(vals[0]);
	if (seq > c->max)
		c->max = seq;
	present = vals[2] != NULL;
	if (present) {
		store_entry_from_row(&e, vals + 2);
		if (e.expires_ms && e.expires_ms <= c->now)
			present = false;
	} else {
		memset(&e, 0, sizeof(e));
	}
	util_strlcpy(e.address, vals[1] ? vals[1] : "", sizeof(e.address));
	c->fn(&e, present, c->arg);
	return 0;
}

int suppress_changes(struct suppress_store *st, int64_t *seq, suppress_change_fn fn, void *arg,
                     char *err, size_t errlen)
{
	struct change_ctx c = {fn, arg, *seq, util_now_ms()};
	char from[32];
	int64_t start = *seq > CHANGE_REPLAY ? *seq - CHANGE_REPLAY : 0;

	/* on SQLite writers are serialised, so commit order is seq order */
	if (st->db->kind == SDB_SQLITE)
		start = *seq;
	i64_text(start, from, sizeof(from));
	if (sdb_exec(st->db,
	             "SELECT c.seq, c.address, s.address, s.reason, s.source, s.status, "
	             "s.detail, s.created_at, s.expires_at FROM suppression_changes c LEFT JOIN "
	             "suppressions s ON s.address = c.address WHERE c.seq > $1 ORDER BY c.seq",
	             (const char *const[]){from}, 1, row_change, &c, err, errlen) < 0)
		return -1;
	*seq = c.max;
	return 0;
}

static int row_expired(void *arg, int ncol, const char *const *vals)
{
	struct change_ctx *c = arg;
	struct suppress_entry e;

	if (ncol < 1 || vals[0] == NULL)
		return 0;
	memset(&e, 0, sizeof(e));
	util_strlcpy(e.address, vals[0], sizeof(e.address));
	c->fn(&e, false, c->arg);
	return 0;
}

int suppress_expired(struct suppress_store *st, int64_t from_ms, int64_t to_ms,
                     suppress_change_fn fn, void *arg, char *err, size_t errlen)
{
	struct change_ctx c = {fn, arg, 0, to_ms};
	char from[32], to[32];

	i64_text(from_ms, from, sizeof(from));
	i64_text(to_ms, to, sizeof(to));
	return sdb_exec(st->db,
	                "SELECT address FROM suppressions WHERE expires_at > $1 AND "
	                "expires_at <= $2",
	                (const char *const[]){from, to}, 2, row_expired, &c, err, errlen);
}

int suppress_watermark(struct suppress_store *st, int64_t *seq, char *err, size_t errlen)
{
	*seq = 0;
	return sdb_exec(st->db, "SELECT COALESCE(MAX(seq), 0) FROM suppression_changes", NULL, 0,
	                sdb_row_i64, seq, err, errlen);
}

int suppress_wipe(struct suppress_store *st, char *err, size_t errlen)
{
	static const char *const tables[] = {
	    "DELETE FROM suppressions",  "DELETE FROM suppression_changes",
	    "DELETE FROM bounce_events", "DELETE FROM deliveries",
	    "DELETE FROM removals",      "DELETE FROM backscatter_events",
	};

	if (store_begin(st, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (sdb_exec(st->db, tables[i], NULL, 0, NULL, NULL, err, errlen) < 0) {
			store_rollback(st);
			return -1;
		}
	return store_commit(st, err, errlen);
}
