/*
 * cache.c - the daemon's view of the suppression list: an in-memory set
 * (set.c) read by the event loop, and one worker thread that owns a store
 * connection and does everything that touches the database.
 *
 * The loop never waits for the database: suppress_cache_check takes the
 * set's mutex for one hash probe; suppress_cache_bounce/_delivery copy
 * their arguments into a bounded queue and signal the worker. The worker,
 * every refresh_ms or when woken:
 *   1. runs the queued writes (suppress_record_bounce / _delivery);
 *   2. reads the change feed after its watermark (suppress_changes) and
 *      the expiries since the last round, and applies them to the set
 *      under the mutex.
 * So a suppression written by this daemon, by `mailerd suppress`, or by
 * another node on the same PostgreSQL is enforced within one refresh.
 *
 * Start-up loads every suppression (blocking, before listeners open): the
 * watermark is read first, so a change made during the load is replayed
 * by the first refresh rather than lost.
 *
 * Failures: a write that fails is logged and dropped (the bounce is in the
 * event log anyway); a failed refresh keeps the old set and retries next
 * round. A full queue drops new writes with a warning rather than grow
 * without bound while the database is away.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suppress/internal.h"
#include "util/util.h"

#define CACHE_QUEUE_MAX 100000

enum job_kind { JOB_BOUNCE, JOB_DELIVERY };

struct cjob {
	enum job_kind kind;
	struct cjob *next;
	int64_t at_ms;
	bool hard;
	char *address, *reason, *status, *diagnostic, *queue_id, *message_id;
};

struct suppress_cache {
	struct suppress_store *st; /* worker's connection */
	struct suppress_set *set;
	pthread_mutex_t mu;     /* set, queue, flags */
	pthread_cond_t cv;      /* wakes the worker */
	pthread_cond_t done_cv; /* wakes suppress_cache_sync */
	pthread_t thread;
	bool stop;
	struct cjob *head, *tail;
	size_t queued;
	uint64_t rounds; /* finished worker rounds */
	bool wake;
	bool busy; /* the worker is in a round (mutex released) */
	int64_t refresh_ms;
	int64_t seq;      /* change feed watermark */
	int64_t swept_ms; /* expiries applied up to here */
	bool warned_full;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void job_free(struct cjob *j)
{
	free(j->address);
	free(j->reason);
	free(j->status);
	free(j->diagnostic);
	free(j->queue_id);
	free(j->message_id);
	free(j);
}

/* on_change - apply one feed row to the set (mutex held by the caller) */
static void on_change(const struct suppress_entry *e, bool present, void *arg)
{
	struct suppress_set *set = arg;

	if (present)
		suppress_set_put(set, e->address, e);
	else
		suppress_set_del(set, e->address);
}

static int load_row(const struct suppress_entry *e, void *arg)
{
	suppress_set_put(arg, e->address, e);
	return 0;
}

/* Feed rows are gathered first and applied under the mutex in one go, so
 * the loop waits at most for a batch of hash updates, never for I/O. */
struct pending {
	struct suppress_entry *v;
	bool *present;
	size_t n, cap;
};

static void pend(const struct suppress_entry *e, bool present, void *arg)
{
	struct pending *p = arg;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
		p->present = xrealloc(p->present, p->cap * sizeof(*p->present));
	}
	p->v[p->n] = *e;
	p->present[p->n++] = present;
}

static void run_job(struct suppress_cache *c, struct cjob *j)
{
	char err[400];

	if (j->kind == JOB_DELIVERY) {
		if (suppress_record_delivery(c->st, j->address, j->at_ms, err, sizeof(err)) < 0)
			log_warn("suppress: delivery to <%s> not recorded: %s", j->address, err);
		return;
	}
	struct suppress_bounce b = {
	    .address = j->address,
	    .reason = j->reason,
	    .hard = j->hard,
	    .status = j->status,
	    .diagnostic = j->diagnostic,
	    .queue_id = j->queue_id,
	    .message_id = j->message_id,
	    .at_ms = j->at_ms,
	};
	enum suppress_verdict v;
	if (suppress_record_bounce(c->st, &b, &v, err, sizeof(err)) < 0)
		log_warn("suppress: bounce for <%s> not recorded: %s", j->address, err);
	else if (v == SUPPRESS_V_SUPPRESSED)
		log_info("suppress: <%s> suppressed (%s: %s%s%s)", j->address, suppress_kind(&b),
		         j->reason ? j->reason : "", j->status ? " " : "",
		         j->status ? j->status : "");
}

static void refresh(struct suppress_cache *c)
{
	struct pending p = {0};
	char err[400];
	int64_t seq = c->seq, now = util_now_ms();

	if (suppress_changes(c->st, &seq, pend, &p, err, sizeof(err)) < 0 ||
	    suppress_expired(c->st, c->swept_ms, now, pend, &p, err, sizeof(err)) < 0) {
		log_warn("suppress: refresh failed (keeping the current list): %s", err);
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < p.n; i++)
		on_change(&p.v[i], p.present[i], c->set);
	pthread_mutex_unlock(&c->mu);
	c->seq = seq;
	c->swept_ms = now;
out:
	free(p.v);
	free(p.present);
}

static void *worker(void *arg)
{
	struct suppress_cache *c = arg;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		struct cjob *list;
		if (!c->wake && c->head == NULL) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += c->refresh_ms / 1000;
			ts.tv_nsec += (c->refresh_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
			if (c->stop)
				break;
		}
		c->wake = false;
		list = c->head;
		c->head = c->tail = NULL;
		c->queued = 0;
		c->busy = true;
		pthread_mutex_unlock(&c->mu);

		while (list) {
			struct cjob *next = list->next;
			run_job(c, list);
			job_free(list);
			list = next;
		}
		refresh(c);

		pthread_mutex_lock(&c->mu);
		c->rounds++;
		c->busy = false;
		pthread_cond_broadcast(&c->done_cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

struct suppress_cache *suppress_cache_new(const char *url, const struct suppress_policy *pol,
                                          int64_t refresh_ms, char *err, size_t errlen)
{
	struct suppress_cache *c = xcalloc(1, sizeof(*c));
	int r;

	c->st = suppress_open(url, pol, err, errlen);
	if (c->st == NULL) {
		free(c);
		return NULL;
	}
	c->refresh_ms = refresh_ms > 0 ? refresh_ms : 2000;
	c->set = suppress_set_new(1024);
	c->swept_ms = util_now_ms();
	/* watermark first: anything changed during the load is replayed */
	if (suppress_watermark(c->st, &c->seq, err, errlen) < 0 ||
	    suppress_list(c->st, load_row, c->set, err, errlen) < 0) {
		suppress_set_free(c->set);
		suppress_close(c->st);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->done_cv, NULL);
	if ((r = pthread_create(&c->thread, NULL, worker, c)) != 0)
		fatal("suppress: cannot start the worker thread: %s", strerror(r));
	log_info(
	    "suppress: %zu suppressed address(es) loaded from the %s store (%zu KiB in memory)",
	    suppress_set_count(c->set), suppress_backend_name(c->st),
	    suppress_set_bytes(c->set) / 1024);
	return c;
}

void suppress_cache_free(struct suppress_cache *c)
{
	struct cjob *j;

	if (c == NULL)
		return;
	/* writes still queued are done before the worker stops */
	suppress_cache_sync(c);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	while ((j = c->head) != NULL) {
		c->head = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	pthread_cond_destroy(&c->done_cv);
	suppress_set_free(c->set);
	suppress_close(c->st);
	free(c);
}

bool suppress_cache_check(struct suppress_cache *c, const char *addr, struct suppress_hit *hit)
{
	char a[SUPPRESS_ADDR_MAX];
	bool r;

	if (suppress_normalize(addr, a, sizeof(a)) < 0)
		return false;
	pthread_mutex_lock(&c->mu);
	r = suppress_set_get(c->set, a, hit);
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void enqueue(struct suppress_cache *c, struct cjob *j)
{
	pthread_mutex_lock(&c->mu);
	if (c->queued >= CACHE_QUEUE_MAX) {
		if (!c->warned_full)
			log_warn(
			    "suppress: the store is not keeping up; dropping events (first: <%s>)",
			    j->address);
		c->warned_full = true;
		pthread_mutex_unlock(&c->mu);
		job_free(j);
		return;
	}
	c->warned_full = false;
	if (c->tail)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	c->queued++;
	c->wake = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void suppress_cache_bounce(struct suppress_cache *c, const struct suppress_bounce *b)
{
	struct cjob *j = xcalloc(1, sizeof(*j));

	j->kind = JOB_BOUNCE;
	j->at_ms = b->at_ms ? b->at_ms : util_now_ms();
	j->hard = b->hard;
	j->address = xstrdup(b->address);
	j->reason = dup_or_null(b->reason);
	j->status = dup_or_null(b->status);
	j->diagnostic = dup_or_null(b->diagnostic);
	j->queue_id = dup_or_null(b->queue_id);
	j->message_id = dup_or_null(b->message_id);
	enqueue(c, j);
}

void suppress_cache_delivery(struct suppress_cache *c, const char *addr)
{
	struct cjob *j = xcalloc(1, sizeof(*j));

	j->kind = JOB_DELIVERY;
	j->at_ms = util_now_ms();
	j->address = xstrdup(addr);
	enqueue(c, j);
}

size_t suppress_cache_count(struct suppress_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = suppress_set_count(c->set);
	pthread_mutex_unlock(&c->mu);
	return n;
}

void suppress_cache_sync(struct suppress_cache *c)
{
	uint64_t want;

	pthread_mutex_lock(&c->mu);
	/* the round running now may have taken its jobs before ours came:
	 * wait for one more full round after it */
	want = c->rounds + (c->busy ? 2 : 1);
	c->wake = true;
	pthread_cond_signal(&c->cv);
	while (c->rounds < want && !c->stop)
		pthread_cond_wait(&c->done_cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}
