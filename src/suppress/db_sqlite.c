/*
 * db_sqlite.c - the embedded backend (state_db = sqlite:PATH).
 *
 * Invariants: the database runs in WAL mode (readers never block the one
 * writer, and the daemon's cache polls while `mailerd suppress` writes)
 * with a busy timeout, so a second process waits for the write lock
 * instead of failing. Statements are prepared once per SQL text (the SQL
 * strings are literals, so the pointer is the key) and reset after use.
 *
 * Parameters are written $1..$n in the shared SQL; SQLite treats them as
 * named parameters, so each is bound by its name, whatever order they
 * appear in.
 *
 * Fails with -1 and the SQLite message in err; SQLITE_BUSY after the
 * timeout is such a failure (the caller retries or reports).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suppress/internal.h"
#include "util/util.h"

#define SQLITE_BUSY_MS 10000
#define STMT_CACHE     32

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
};

static sqlite3_stmt *prepare(struct sdb *db, const char *sql, char *err, size_t errlen)
{
	struct stmt_slot *c = db->cache;
	sqlite3_stmt *st = NULL;

	for (size_t i = 0; i < STMT_CACHE; i++) {
		if (c[i].sql != sql)
			continue;
		/* a freed dynamic string may come back at the same address */
		if (strcmp(sqlite3_sql(c[i].st), sql) == 0)
			return c[i].st;
		sqlite3_finalize(c[i].st);
		c[i].sql = NULL;
		c[i].st = NULL;
	}
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db->h));
		return NULL;
	}
	for (size_t i = 0; i < STMT_CACHE; i++)
		if (c[i].sql == NULL) {
			c[i].sql = sql;
			c[i].st = st;
			return st;
		}
	/* cache full: the statement is finalized after this one use */
	return st;
}

static bool cached(struct sdb *db, sqlite3_stmt *st)
{
	struct stmt_slot *c = db->cache;

	for (size_t i = 0; i < STMT_CACHE; i++)
		if (c[i].st == st)
			return true;
	return false;
}

static int sqlite_exec(struct sdb *db, const char *sql, const char *const *params, int nparams,
                       sdb_row_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = prepare(db, sql, err, errlen);
	const char *vals[32];
	int rc, ret = 0;

	if (st == NULL)
		return -1;
	for (int i = 0; i < nparams; i++) {
		char name[16];
		int idx;
		snprintf(name, sizeof(name), "$%d", i + 1);
		idx = sqlite3_bind_parameter_index(st, name);
		if (idx == 0)
			continue; /* the statement does not use it */
		if (params[i] == NULL)
			sqlite3_bind_null(st, idx);
		else
			sqlite3_bind_text(st, idx, params[i], -1, SQLITE_TRANSIENT);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_count(st);
		if (n > 32)
			n = 32;
		for (int i = 0; i < n; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		if (fn && (ret = fn(arg, n, vals)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE) {
		snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db->h));
		ret = -1;
	}
	if (cached(db, st)) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
	return ret;
}

static void sqlite_close(struct sdb *db)
{
	struct stmt_slot *c = db->cache;

	for (size_t i = 0; i < STMT_CACHE; i++)
		if (c[i].st)
			sqlite3_finalize(c[i].st);
	if (sqlite3_close(db->h) != SQLITE_OK)
		log_warn("suppress: closing the SQLite store: %s", sqlite3_errmsg(db->h));
	free(db->cache);
	free(db);
}

static const struct sdb_ops sqlite_ops = {sqlite_exec, sqlite_close};

struct sdb *sdb_sqlite_open(const char *path, char *err, size_t errlen)
{
	sqlite3 *h = NULL;
	struct sdb *db;
	char *slash;

	if (path[0] == '\0') {
		snprintf(err, errlen, "state_db: sqlite: needs a file name");
		return NULL;
	}
	/* the folder of the database, like spool_dir, is created on demand */
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		char *dir = xstrndup(path, (size_t)(slash - path));
		util_mkdir_p(dir, 0750);
		free(dir);
	}
	if (sqlite3_open_v2(path, &h,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "state_db sqlite:%s: %s", path,
		         h ? sqlite3_errmsg(h) : "cannot open");
		sqlite3_close(h);
		return NULL;
	}
	sqlite3_busy_timeout(h, SQLITE_BUSY_MS);
	db = xcalloc(1, sizeof(*db));
	db->ops = &sqlite_ops;
	db->kind = SDB_SQLITE;
	db->name = "sqlite";
	db->begin_write = "BEGIN IMMEDIATE";
	db->serial = "INTEGER PRIMARY KEY AUTOINCREMENT";
	db->h = h;
	db->cache = xcalloc(STMT_CACHE, sizeof(struct stmt_slot));
	/* WAL: readers and one writer at once; NORMAL sync is durable across
	 * a process crash, and a power loss loses at most the last commits of
	 * a list that is rebuilt from later bounces anyway */
	if (sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
	                 NULL) != SQLITE_OK) {
		snprintf(err, errlen, "state_db sqlite:%s: %s", path, sqlite3_errmsg(h));
		sqlite_close(db);
		return NULL;
	}
	return db;
}
