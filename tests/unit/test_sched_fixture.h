/*
 * test_sched_fixture.h - the bed both queue-manager tests stand on: a
 * temporary folder holding a real spool and the JSON event log, an event
 * base, and a config whose seconds-scale settings are shrunk to a few
 * hundred milliseconds (each test adds its own). cmocka.h must be included
 * first (fail_msg, assert_*).
 */
#ifndef TEST_SCHED_FIXTURE_H
#define TEST_SCHED_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/config.h"
#include "spool/spool.h"
#include "util/mailog.h"
#include "util/util.h"

struct sched_bed {
	char dir[512];
	char events[600];
	struct event_base *base;
	struct config *cfg;
	struct spool *sp;
};

/* sched_bed_open - a fresh folder "<tmp>/NAME-<pid>-<n>-XXXXXX" (tmp:
 * MAILERD_TEST_TMP, else TMPDIR, else the system's) with its spool open
 * and the event log in it */
static inline void sched_bed_open(struct sched_bed *b, const char *name)
{
	static int seq;
	const char *tmp = getenv("MAILERD_TEST_TMP");
	char err[256];

	if (tmp == NULL)
		tmp = getenv("TMPDIR");
	if (tmp == NULL)
		tmp = P_tmpdir;
	util_mkdir_p(tmp, 0700);
	snprintf(b->dir, sizeof(b->dir), "%s/%s-%d-%d-XXXXXX", tmp, name, (int)getpid(), seq++);
	assert_non_null(mkdtemp(b->dir));
	snprintf(b->events, sizeof(b->events), "%s/events.jsonl", b->dir);
	assert_int_equal(mailog_open(b->events, err, sizeof(err)), 0);
	b->base = event_base_new();
	b->cfg = config_new();
	b->cfg->min_backoff_ms = 300;
	b->cfg->max_backoff_ms = 300;
	b->cfg->greylist_retry_ms = 300;
	b->cfg->queue_lifetime_ms = 60000;
	b->sp = spool_open(b->dir, b->base, SPOOL_OPEN_DAEMON, err, sizeof(err));
	if (b->sp == NULL)
		fail_msg("spool_open: %s", err);
}

/* sched_bed_close - close the spool and the log, remove the folder (the
 * scheduler standing on the bed is freed first, by the caller) */
static inline void sched_bed_close(struct sched_bed *b)
{
	char cmd[600];

	spool_free(b->sp);
	config_free(b->cfg);
	event_base_free(b->base);
	mailog_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", b->dir);
}

/* sched_bed_msg - a message committed to the spool: body, envelope sender,
 * recipients, each with the DSN NOTIFY flags given */
static inline struct spool_msg *sched_bed_msg(struct sched_bed *b, const char *body,
                                              const char *sender, const char *const *rcpt, size_t n,
                                              unsigned notify)
{
	struct spool_writer *w = spool_writer_new(b->sp);
	struct spool_msg *m = spool_msg_new();

	assert_non_null(w);
	assert_int_equal(spool_writer_write(w, body, strlen(body)), 0);
	util_strlcpy(m->sender, sender, sizeof(m->sender));
	m->arrival_ms = util_now_ms();
	for (size_t i = 0; i < n; i++)
		spool_msg_add_rcpt(m, rcpt[i])->notify = notify;
	assert_int_equal(spool_writer_commit_sync(w, m), 0);
	return m;
}

#endif
