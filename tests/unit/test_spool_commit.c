/*
 * test_spool_commit.c - group commit through the event loop: callbacks run
 * on the loop thread after the sync, 200 commits in flight share fewer
 * syncs, updates go through the same batches, a failed sync reports the
 * error and leaves no file behind, a failed write fails at once, and
 * spool_free with requests in flight neither leaks nor loses the files
 * (and frees the arguments the requests own).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "spool/spool_int.h"

#define N_INFLIGHT 200

struct env {
	char *dir;
	struct event_base *base;
	struct spool *sp;
};

static void env_open(struct env *e)
{
	const char *tmp = getenv("MAILERD_TEST_TMP");
	char err[256];

	if (tmp == NULL)
		tmp = "/tmp";
	if (util_mkdir_p(tmp, 0700) < 0)
		fail_msg("cannot create %s", tmp);
	e->dir = xasprintf("%s/spoolc-XXXXXX", tmp);
	if (mkdtemp(e->dir) == NULL)
		fail_msg("mkdtemp failed");
	e->base = event_base_new();
	e->sp = spool_open(e->dir, e->base, SPOOL_OPEN_DAEMON, err, sizeof(err));
	if (e->sp == NULL)
		fail_msg("spool_open: %s", err);
}

static void env_close(struct env *e)
{
	char *cmd = xasprintf("rm -rf '%s'", e->dir);

	spool_free(e->sp);
	event_base_free(e->base);
	if (system(cmd) != 0)
		fail_msg("cannot remove %s", e->dir);
	free(cmd);
	free(e->dir);
}

/* ---- callbacks record what they saw ---- */
static pthread_t loop_thread;
static int calls, errors, off_loop;
static char ids[N_INFLIGHT][SPOOL_ID_MAX];

static void on_commit(int err, struct spool_msg *m, void *arg)
{
	int slot = (int)(intptr_t)arg;

	if (!pthread_equal(pthread_self(), loop_thread))
		off_loop++;
	calls++;
	if (err != 0) {
		errors++;
		if (m != NULL)
			fail_msg("failed commit: got a message, want NULL");
		return;
	}
	util_strlcpy(ids[slot], m->id, sizeof(ids[slot]));
	spool_msg_free(m);
}

static void on_update(int err, void *arg)
{
	(void)arg;
	if (!pthread_equal(pthread_self(), loop_thread))
		off_loop++;
	calls++;
	if (err != 0)
		errors++;
}

static void reset_counts(void)
{
	loop_thread = pthread_self();
	calls = errors = off_loop = 0;
	memset(ids, 0, sizeof(ids));
}

/* run_until - the loop until want callbacks came, at most 20 s */
static void run_until(struct env *e, int want)
{
	for (int i = 0; calls < want && i < 2000; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(e->base, &tv);
		event_base_dispatch(e->base);
	}
	if (calls != want)
		fail_msg("got %d callbacks, want %d", calls, want);
}

static int commit_one(struct env *e, int slot, const char *body)
{
	struct spool_writer *w = spool_writer_new(e->sp);
	struct spool_msg *m = spool_msg_new();

	if (w == NULL)
		fail_msg("spool_writer_new: %s", strerror(errno));
	spool_msg_add_rcpt(m, "a@example.com");
	spool_msg_add_rcpt(m, "b@example.com");
	if (spool_writer_write(w, body, strlen(body)) < 0) {
		int saved = errno;
		spool_writer_abort(w);
		spool_msg_free(m);
		errno = saved;
		return -1;
	}
	return spool_writer_commit(w, m, on_commit, (void *)(intptr_t)slot);
}

static int count_scan;
static void on_scan(struct spool_msg *m, void *arg)
{
	(void)arg;
	count_scan++;
	spool_msg_free(m);
}

static void test_commit_one(void **state)
{
	struct env e;
	struct spool_msg *m;

	(void)state;
	env_open(&e);
	reset_counts();
	if (commit_one(&e, 0, "hello\r\n") < 0)
		fail_msg("spool_writer_commit: %s", strerror(errno));
	if (calls != 0)
		fail_msg("got a callback before the loop ran, want none");
	run_until(&e, 1);
	if (errors != 0 || off_loop != 0 || !spool_id_valid(ids[0]))
		fail_msg("got errors %d off-loop %d id '%s'", errors, off_loop, ids[0]);
	if (spool_pending(e.sp) != 0 || spool_sync_count(e.sp) < 1)
		fail_msg("got pending %zu syncs %llu, want 0 and >= 1", spool_pending(e.sp),
			 (unsigned long long)spool_sync_count(e.sp));
	m = spool_load(e.sp, ids[0]);
	if (m == NULL || m->n_rcpt != 2 || m->body_len != 7)
		fail_msg("spool_load: got %s", m ? "a different message" : "nothing");
	spool_msg_free(m);
	env_close(&e);
}

static void test_commit_batch(void **state)
{
	struct env e;
	uint64_t syncs;

	(void)state;
	env_open(&e);
	reset_counts();
	for (int i = 0; i < N_INFLIGHT; i++)
		if (commit_one(&e, i, "Subject: batch\r\n\r\nbody\r\n") < 0)
			fail_msg("commit %d: %s", i, strerror(errno));
	run_until(&e, N_INFLIGHT);
	syncs = spool_sync_count(e.sp);
	if (errors != 0 || off_loop != 0)
		fail_msg("got %d errors and %d callbacks off the loop thread, want 0", errors, off_loop);
	if (syncs >= N_INFLIGHT || syncs == 0)
		fail_msg("got %llu syncs for %d commits, want fewer syncs than commits",
			 (unsigned long long)syncs, N_INFLIGHT);
	for (int i = 0; i < N_INFLIGHT; i++)
		for (int k = i + 1; k < N_INFLIGHT; k++)
			if (strcmp(ids[i], ids[k]) == 0)
				fail_msg("got id %s twice", ids[i]);
	count_scan = 0;
	if (spool_scan(e.sp, on_scan, NULL) != N_INFLIGHT || count_scan != N_INFLIGHT)
		fail_msg("scan: got %d, want %d", count_scan, N_INFLIGHT);
	env_close(&e);
}

static void test_update_batch(void **state)
{
	struct env e;
	struct spool_msg *msgs[N_INFLIGHT];

	(void)state;
	env_open(&e);
	reset_counts();
	for (int i = 0; i < N_INFLIGHT; i++)
		commit_one(&e, i, "x\r\n");
	run_until(&e, N_INFLIGHT);
	for (int i = 0; i < N_INFLIGHT; i++) {
		msgs[i] = spool_load(e.sp, ids[i]);
		if (msgs[i] == NULL)
			fail_msg("spool_load %d failed", i);
	}
	reset_counts();
	for (int i = 0; i < N_INFLIGHT; i++) {
		msgs[i]->rcpt[i % 2].state = RCPT_DELIVERED;
		msgs[i]->rcpt[i % 2].dirty = true;
		msgs[i]->delay_warnings_sent = i;
		if (spool_update(e.sp, msgs[i], on_update, NULL) < 0)
			fail_msg("spool_update %d: %s", i, strerror(errno));
	}
	run_until(&e, N_INFLIGHT);
	if (errors != 0 || off_loop != 0)
		fail_msg("got %d errors, %d off-loop, want 0", errors, off_loop);
	for (int i = 0; i < N_INFLIGHT; i++) {
		struct spool_msg *m = spool_load(e.sp, msgs[i]->id);
		if (m == NULL || m->rcpt[i % 2].state != RCPT_DELIVERED ||
		    m->rcpt[1 - i % 2].state != RCPT_PENDING || m->delay_warnings_sent != i)
			fail_msg("message %d: got different state after the update", i);
		spool_msg_free(m);
		spool_msg_free(msgs[i]);
	}
	env_close(&e);
}

static int failing_sync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

static void test_sync_failure(void **state)
{
	struct env e;

	(void)state;
	spool_sync_hook = failing_sync;
	env_open(&e);
	reset_counts();
	for (int i = 0; i < 5; i++)
		commit_one(&e, i, "doomed\r\n");
	run_until(&e, 5);
	spool_sync_hook = syncfs;
	if (errors != 5)
		fail_msg("got %d errors, want 5 (EIO from the sync)", errors);
	count_scan = 0;
	spool_scan(e.sp, on_scan, NULL);
	if (count_scan != 0)
		fail_msg("got %d files in queue/ after failed commits, want 0", count_scan);
	env_close(&e);
}

/* A write that fails (EFBIG here, ENOSPC in life) fails the call at once,
 * calls no callback, and leaves nothing in tmp/ or queue/. */
static void test_write_failure(void **state)
{
	struct env e;
	struct rlimit old, small = {200, 0};
	char big[300];
	int rc, saved;

	(void)state;
	env_open(&e);
	reset_counts();
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &small);
	rc = commit_one(&e, 0, big);
	saved = errno;
	setrlimit(RLIMIT_FSIZE, &old);
	if (rc != -1 || saved != EFBIG)
		fail_msg("got rc %d errno %s, want -1 EFBIG", rc, strerror(saved));
	/* a writer whose write failed refuses to commit, even once the
	 * disk has room again: its byte count no longer matches its file */
	{
		struct spool_writer *w = spool_writer_new(e.sp);
		struct spool_msg *m = spool_msg_new();
		setrlimit(RLIMIT_FSIZE, &small);
		rc = spool_writer_write(w, big, sizeof(big));
		setrlimit(RLIMIT_FSIZE, &old);
		if (rc != -1)
			fail_msg("write over the limit: got %d, want -1", rc);
		rc = spool_writer_commit(w, m, on_commit, NULL);
		if (rc != -1 || errno != EFBIG)
			fail_msg("commit of a spoiled writer: got %d %s, want -1 EFBIG", rc, strerror(errno));
	}
	setrlimit(RLIMIT_FSIZE, &small);
	rc = commit_one(&e, 1, "short\r\n"); /* the envelope crosses the limit */
	saved = errno;
	setrlimit(RLIMIT_FSIZE, &old);
	if (rc != -1 || saved != EFBIG)
		fail_msg("commit over the limit: got rc %d errno %s, want -1 EFBIG", rc, strerror(saved));
	run_until(&e, 0);
	count_scan = 0;
	spool_scan(e.sp, on_scan, NULL);
	if (count_scan != 0 || spool_pending(e.sp) != 0)
		fail_msg("got %d in queue/, %zu pending, want none", count_scan, spool_pending(e.sp));
	env_close(&e);
}

/* spool_free with commits in flight: no callback, no leak, and the
 * files are in queue/ for the next start */
static void test_free_in_flight(void **state)
{
	struct env e;
	char err[256];

	(void)state;
	env_open(&e);
	reset_counts();
	for (int i = 0; i < 10; i++)
		commit_one(&e, i, "x\r\n");
	spool_free(e.sp);
	if (calls != 0)
		fail_msg("got %d callbacks from spool_free, want 0", calls);
	e.sp = spool_open(e.dir, NULL, 0, err, sizeof(err));
	count_scan = 0;
	if (e.sp == NULL || spool_scan(e.sp, on_scan, NULL) != 10)
		fail_msg("after reopen: got %d messages, want 10", count_scan);
	env_close(&e);
}

/* an argument the request owns is released when spool_free drops the
 * callback (the report queue's shutdown path: a leak under ASan before) */
static int owned_freed;
static void free_owned(void *arg)
{
	owned_freed++;
	free(arg);
}

static void test_free_in_flight_owned(void **state)
{
	struct env e;

	(void)state;
	env_open(&e);
	reset_counts();
	owned_freed = 0;
	for (int i = 0; i < 5; i++) {
		struct spool_writer *w = spool_writer_new(e.sp);
		struct spool_msg *m = spool_msg_new();

		spool_msg_add_rcpt(m, "a@example.com");
		if (w == NULL || spool_writer_write(w, "x\r\n", 3) < 0 ||
		    spool_writer_commit_owned(w, m, on_commit, xcalloc(1, 16), free_owned) < 0)
			fail_msg("commit %d: %s", i, strerror(errno));
	}
	spool_free(e.sp);
	e.sp = NULL;
	if (calls != 0 || owned_freed != 5)
		fail_msg("got %d callbacks and %d arguments freed, want 0 and 5", calls,
		         owned_freed);
	env_close(&e);
}

static void test_needs_loop(void **state)
{
	struct env e;
	struct spool *cli;
	char err[256];
	struct spool_writer *w;
	struct spool_msg *m = spool_msg_new();

	(void)state;
	env_open(&e);
	cli = spool_open(e.dir, NULL, 0, err, sizeof(err));
	w = spool_writer_new(cli);
	if (spool_writer_commit(w, m, on_commit, NULL) != -1 || errno != EINVAL)
		fail_msg("commit without a loop: want -1 EINVAL");
	spool_free(cli);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_one),    cmocka_unit_test(test_commit_batch),
		cmocka_unit_test(test_update_batch),  cmocka_unit_test(test_sync_failure),
		cmocka_unit_test(test_write_failure), cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_free_in_flight_owned), cmocka_unit_test(test_needs_loop),
	};
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
