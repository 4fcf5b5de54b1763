/*
 * internal.h - shared by the files of src/suppress only: the backend
 * interface (one connection, SQL with $1..$n text parameters, rows as
 * text) and the store handle.
 *
 * Both backends speak the same SQL: `$n` parameters (SQLite binds them by
 * name), INSERT ... ON CONFLICT DO NOTHING (SQLite >= 3.24), BIGINT times.
 * What differs is in struct sdb (begin statement, serial column type,
 * migration lock).
 */
#ifndef MAILERD_SUPPRESS_INTERNAL_H
#define MAILERD_SUPPRESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "suppress/suppress.h"

/* A result row: vals[i] is NULL for SQL NULL. Non-zero stops the query. */
typedef int (*sdb_row_fn)(void *arg, int ncol, const char *const *vals);

struct sdb;
struct sdb_ops {
	/* exec - run one statement with text parameters; rows go to fn (may
	 * be NULL). Returns 0, the non-zero value fn stopped with, or -1. */
	int (*exec)(struct sdb *db, const char *sql, const char *const *params, int nparams,
	            sdb_row_fn fn, void *arg, char *err, size_t errlen);
	void (*close)(struct sdb *db);
};

enum sdb_kind { SDB_SQLITE, SDB_PG };

struct sdb {
	const struct sdb_ops *ops;
	enum sdb_kind kind;
	const char *name;        /* "sqlite" / "postgresql" */
	const char *begin_write; /* "BEGIN IMMEDIATE" / "BEGIN" */
	const char *serial;      /* autoincrement primary key column type */
	void *h;                 /* sqlite3 * / PGconn * */
	void *cache;             /* backend's statement cache */
};

/* sdb_sqlite_open - path after "sqlite:"; WAL, busy_timeout, foreign keys */
struct sdb *sdb_sqlite_open(const char *path, char *err, size_t errlen);
/* sdb_pg_open - a postgresql:// (or postgres://) connection URL */
struct sdb *sdb_pg_open(const char *url, char *err, size_t errlen);

static inline int sdb_exec(struct sdb *db, const char *sql, const char *const *p, int n,
                           sdb_row_fn fn, void *arg, char *err, size_t errlen)
{
	return db->ops->exec(db, sql, p, n, fn, arg, err, errlen);
}

/* sdb_row_i64 (values.c) - a row callback storing column 0 as int64 into
 * *(int64_t*)arg */
int sdb_row_i64(void *arg, int ncol, const char *const *vals);

/* schema.c - bring db to the newest version; returns it or -1 */
int suppress_migrate(struct sdb *db, char *err, size_t errlen);
#define SUPPRESS_SCHEMA_VERSION 1

struct suppress_store {
	struct sdb *db;
	struct suppress_policy pol;
	int version;
};

/* store.c helpers shared with policy.c and csv.c */
int store_begin(struct suppress_store *st, char *err, size_t errlen);
int store_commit(struct suppress_store *st, char *err, size_t errlen);
void store_rollback(struct suppress_store *st);
/* store_insert - INSERT ... ON CONFLICT DO NOTHING plus a change record;
 * inside the caller's transaction. 0 added, 1 existed, -1 error. */
int store_insert(struct suppress_store *st, const struct suppress_entry *e, char *err,
                 size_t errlen);
/* store_entry_from_row - address, reason, source, status, detail,
 * created_at, expires_at */
void store_entry_from_row(struct suppress_entry *e, const char *const *vals);
#define STORE_ENTRY_COLS "address, reason, source, status, detail, created_at, expires_at"

/* values.c: numbers as the stores' text values and back */
void i64_text(int64_t v, char *out, size_t size);
int64_t text_i64(const char *s);

/* addr_domain - part after the last '@' (or "" when none) */
const char *addr_domain(const char *addr);

#endif
