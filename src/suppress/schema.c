/*
 * schema.c - the versioned schema of the suppression and event store.
 *
 * Migrations are a list in code, numbered from 1; schema_version holds one
 * row per applied version. suppress_migrate applies the missing ones in
 * one transaction, so a store is never half-migrated. On PostgreSQL two
 * nodes may start at once: a session advisory lock (taken before the
 * transaction, released after) makes the second wait and then find
 * nothing left to do. A store newer than this binary is refused rather
 * than written with the wrong assumptions.
 *
 * Tables (version 1):
 *   suppressions         address PK (lower case), domain, reason, source,
 *                        status, detail, created_at, expires_at (NULL)
 *   suppression_changes  seq, address, op, at: the change feed that the
 *                        daemon caches poll (one row per add/remove)
 *   bounce_events        every bounce and complaint with its verdict kind
 *   deliveries           address PK, last_delivered_at (soft policy)
 *   removals             audit trail of lifted suppressions
 *   backscatter_events   bounces for mail never sent here
 * "@SERIAL@" is replaced by the backend's auto-increment key type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suppress/internal.h"
#include "util/util.h"

/* An advisory lock key of our own ("mailerd" in ASCII digits). */
#define MIGRATE_LOCK_KEY "1835100524"

static const char *const v1[] = {
    "CREATE TABLE suppressions (address TEXT PRIMARY KEY, domain TEXT NOT NULL, "
    "reason TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL DEFAULT '', "
    "detail TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, expires_at BIGINT)",
    "CREATE INDEX suppressions_domain ON suppressions (domain)",
    "CREATE INDEX suppressions_expires ON suppressions (expires_at)",
    "CREATE TABLE suppression_changes (seq @SERIAL@, address TEXT NOT NULL, "
    "op TEXT NOT NULL, at BIGINT NOT NULL)",
    "CREATE TABLE bounce_events (id @SERIAL@, address TEXT NOT NULL, reason TEXT NOT NULL, "
    "hard INTEGER NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL DEFAULT '', "
    "diagnostic TEXT NOT NULL DEFAULT '', queue_id TEXT NOT NULL DEFAULT '', "
    "message_id TEXT NOT NULL DEFAULT '', verdict TEXT NOT NULL DEFAULT '', "
    "created_at BIGINT NOT NULL)",
    "CREATE INDEX bounce_events_address ON bounce_events (address, created_at)",
    "CREATE TABLE deliveries (address TEXT PRIMARY KEY, last_delivered_at BIGINT NOT NULL)",
    "CREATE TABLE removals (id @SERIAL@, address TEXT NOT NULL, reason TEXT NOT NULL, "
    "was_reason TEXT NOT NULL, was_source TEXT NOT NULL, was_created_at BIGINT NOT NULL, "
    "removed_at BIGINT NOT NULL)",
    "CREATE TABLE backscatter_events (id @SERIAL@, kind TEXT NOT NULL, "
    "detail TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL)",
    NULL,
};

static const char *const *const migrations[] = {v1};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* subst - the statement with @SERIAL@ replaced (malloc'd) */
static char *subst(const char *sql, const char *serial)
{
	const char *p = strstr(sql, "@SERIAL@");
	struct buf b = {0};

	if (p == NULL)
		return xstrdup(sql);
	buf_append(&b, sql, (size_t)(p - sql));
	buf_puts(&b, serial);
	buf_puts(&b, p + strlen("@SERIAL@"));
	return buf_steal(&b);
}

static int run(struct sdb *db, const char *sql, char *err, size_t errlen)
{
	return sdb_exec(db, sql, NULL, 0, NULL, NULL, err, errlen);
}

int suppress_migrate(struct sdb *db, char *err, size_t errlen)
{
	int64_t have = 0;
	int rc = -1;
	bool locked = false, in_tx = false;
	char now[32];
	char ver[16];

	if (db->kind == SDB_PG) {
		if (run(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) < 0)
			return -1;
		locked = true;
	}
	if (run(db, db->begin_write, err, errlen) < 0)
		goto out;
	in_tx = true;
	if (run(db,
	        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
	        "applied_at BIGINT NOT NULL)",
	        err, errlen) < 0)
		goto out;
	if (sdb_exec(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0,
	             sdb_row_i64, &have, err, errlen) < 0)
		goto out;
	if (have > (int64_t)N_MIGRATIONS) {
		snprintf(err, errlen,
		         "state_db has schema version %lld; this mailerd knows up to %d "
		         "(upgrade mailerd)",
		         (long long)have, (int)N_MIGRATIONS);
		goto out;
	}
	for (size_t v = (size_t)have; v < N_MIGRATIONS; v++) {
		const char *params[2];
		for (const char *const *s = migrations[v]; *s; s++) {
			char *sql = subst(*s, db->serial);
			int r = run(db, sql, err, errlen);
			free(sql);
			if (r < 0)
				goto out;
		}
		snprintf(ver, sizeof(ver), "%zu", v + 1);
		i64_text(util_now_ms(), now, sizeof(now));
		params[0] = ver;
		params[1] = now;
		if (sdb_exec(db, "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
		             params, 2, NULL, NULL, err, errlen) < 0)
			goto out;
		log_info("suppress: %s store migrated to schema version %zu", db->name, v + 1);
	}
	if (run(db, "COMMIT", err, errlen) < 0)
		goto out;
	in_tx = false;
	rc = (int)N_MIGRATIONS;
out:
	if (in_tx)
		run(db, "ROLLBACK", (char[64]){0}, 64);
	if (locked)
		run(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", (char[64]){0}, 64);
	return rc;
}
