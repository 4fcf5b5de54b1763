/*
 * db_pg.c - the PostgreSQL backend (state_db = postgresql://...), for
 * several mailerd nodes sharing one suppression list and event history.
 *
 * Every statement goes through PQsendQueryParams with text parameters
 * (types inferred by the server) in single-row mode, so loading ten
 * million suppressions into a cache streams rows instead of holding the
 * whole result in client memory.
 *
 * A lost connection (server restart, failover) is re-established once
 * before the next statement; a statement that fails returns -1 with the
 * server's message, and the caller decides (the daemon's worker retries
 * at its next round, the command line reports it).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suppress/internal.h"
#include "util/util.h"

/* drain - read and drop results until the connection is idle again */
static void drain(PGconn *c)
{
	PGresult *r;

	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
}

static void set_err(PGconn *c, const PGresult *r, char *err, size_t errlen)
{
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	size_t n;

	snprintf(err, errlen, "postgresql: %s", m && *m ? m : "unknown error");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

static int pg_exec(struct sdb *db, const char *sql, const char *const *params, int nparams,
                   sdb_row_fn fn, void *arg, char *err, size_t errlen)
{
	PGconn *c = db->h;
	PGresult *r;
	const char *vals[32];
	int ret = 0;

	if (PQstatus(c) != CONNECTION_OK) {
		PQreset(c);
		if (PQstatus(c) != CONNECTION_OK) {
			set_err(c, NULL, err, errlen);
			return -1;
		}
		log_info("suppress: reconnected to PostgreSQL");
	}
	if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0)) {
		set_err(c, NULL, err, errlen);
		return -1;
	}
	PQsetSingleRowMode(c);
	while ((r = PQgetResult(c)) != NULL) {
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_SINGLE_TUPLE && ret == 0 && fn) {
			int n = PQnfields(r);
			if (n > 32)
				n = 32;
			for (int i = 0; i < n; i++)
				vals[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
			ret = fn(arg, n, vals);
		} else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK &&
		           s != PGRES_COMMAND_OK && ret == 0) {
			set_err(c, r, err, errlen);
			ret = -1;
		}
		PQclear(r);
		if (ret != 0) {
			/* stop early: cancel the rest of the rows */
			PGcancel *cn = PQgetCancel(c);
			char buf[128];
			if (cn) {
				PQcancel(cn, buf, sizeof(buf));
				PQfreeCancel(cn);
			}
			drain(c);
			break;
		}
	}
	return ret;
}

static void pg_close(struct sdb *db)
{
	PQfinish(db->h);
	free(db);
}

static const struct sdb_ops pg_ops = {pg_exec, pg_close};

/* notice - the server's NOTICEs ("relation already exists, skipping") are
 * expected during migrations; keep them out of the log */
static void notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

struct sdb *sdb_pg_open(const char *url, char *err, size_t errlen)
{
	PGconn *c = PQconnectdb(url);
	struct sdb *db;

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		char m[400];
		set_err(c, NULL, m, sizeof(m));
		/* never print the URL: it may carry a password */
		snprintf(err, errlen, "state_db: cannot connect to PostgreSQL: %s", m);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, notice, NULL);
	db = xcalloc(1, sizeof(*db));
	db->ops = &pg_ops;
	db->kind = SDB_PG;
	db->name = "postgresql";
	db->begin_write = "BEGIN";
	db->serial = "BIGSERIAL PRIMARY KEY";
	db->h = c;
	return db;
}
