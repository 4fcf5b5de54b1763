/*
 * dest.c - destinations: the per-site side of the queue manager.
 *
 * A destination is where a recipient's mail goes: its domain, lower-cased
 * (RFC 5321 section 2.4: domains are case-insensitive), or an address
 * literal "[192.0.2.1]" taken as its own site. Each destination keeps
 *   - a FIFO of due jobs (ready) started while fewer than
 *     destination_concurrency transactions are active; when a transaction
 *     ends, the next ready job starts at once so deliver can reuse the
 *     idle connection;
 *   - a back-off state. A result with site DELIVER_SITE_DOWN (no host
 *     reachable, every MX said 421, DNS temporary failure) backs off the
 *     whole site: min_backoff, doubling up to max_backoff. Jobs that come
 *     due meanwhile wait in `wait` instead of each hammering the site.
 *     When the back-off ends one job is tried (the probe); a normal answer
 *     releases the others, another DOWN doubles the back-off.
 * Results of transactions started before the current back-off began
 * (stragglers of a burst) do not double it again, so ten parallel
 * connections failing together count as one failure of the site.
 *
 * Destinations without jobs and without a running back-off are freed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "config/config.h"
#include "sched/qmgr.h"
#include "util/util.h"

/* dest_name - the destination of a recipient address into out */
static void dest_name(const struct sched *s, const char *addr, char *out, size_t size)
{
	const char *at = strrchr(addr, '@');

	/* A bare local part can only be "postmaster" (RFC 5321 section
	 * 4.1.1.3); it means this host. */
	if (at == NULL || at[1] == '\0')
		util_strlcpy(out, s->cfg->myhostname ? s->cfg->myhostname : "localhost", size);
	else
		util_strlcpy(out, at + 1, size);
	util_lowercase(out);
}

struct dest *dest_get(struct sched *s, const char *addr)
{
	char name[SPOOL_PATH_MAX];
	struct dest *d;

	dest_name(s, addr, name, sizeof(name));
	d = htab_get(&s->dests, name);
	if (d != NULL)
		return d;
	d = xcalloc(1, sizeof(*d));
	d->s = s;
	d->name = xstrdup(name);
	d->due.kind = SCHED_DUE_DEST;
	heap_entry_init(&d->due.he);
	TAILQ_INIT(&d->ready);
	TAILQ_INIT(&d->wait);
	htab_put(&s->dests, d->name, d);
	return d;
}

void dest_free(struct dest *d)
{
	if (d == NULL)
		return;
	heap_remove(&d->s->heap, &d->due.he);
	free(d->name);
	free(d);
}

void dest_gc(struct dest *d)
{
	if (d->refs > 0 || d->active > 0 || heap_contains(&d->due.he))
		return;
	htab_del(&d->s->dests, d->name);
	dest_free(d);
}

static bool dest_blocked(const struct dest *d, int64_t now)
{
	return d->backoff_ms > 0 && (now < d->backoff_until || d->probing);
}

/* dest_wait_job - park a due job while the site is backed off; it stays
 * in the heap keyed on its lifetime end so it can still expire on time. */
void dest_wait_job(struct dest *d, struct job *j)
{
	j->where = JOB_WAIT;
	TAILQ_INSERT_TAIL(&d->wait, j, dlink);
	heap_push(&d->s->heap, &j->due.he, msg_deadline(j->qm));
}

static void dest_ready_job(struct dest *d, struct job *j, bool front)
{
	j->where = JOB_READY;
	if (front)
		TAILQ_INSERT_HEAD(&d->ready, j, dlink);
	else
		TAILQ_INSERT_TAIL(&d->ready, j, dlink);
}

/* dest_release_waiting - the site is up (or flushed): waiting jobs become
 * ready, in the order they came due. */
static void dest_release_waiting(struct dest *d)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&d->wait)) != NULL) {
		TAILQ_REMOVE(&d->wait, j, dlink);
		heap_remove(&d->s->heap, &j->due.he);
		dest_ready_job(d, j, false);
	}
}

void dest_clear_backoff(struct dest *d)
{
	d->backoff_ms = 0;
	d->backoff_until = 0;
	d->probing = false;
	heap_remove(&d->s->heap, &d->due.he);
	dest_release_waiting(d);
}

void dest_job_due(struct dest *d, struct job *j, int64_t now)
{
	if (dest_blocked(d, now)) {
		/* Its lifetime may have run out while it waited for its turn:
		 * fail it now rather than park it (issue 2: 4.4.7 on time). */
		if (now >= msg_deadline(j->qm)) {
			j->where = JOB_NONE;
			job_expire(j, now);
			return;
		}
		dest_wait_job(d, j);
		return;
	}
	dest_ready_job(d, j, false);
	dest_pump(d, now);
}

void dest_pump(struct dest *d, int64_t now)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&d->ready)) != NULL && d->active < d->s->concurrency) {
		if (d->backoff_ms > 0) {
			if (dest_blocked(d, now)) {
				/* backed off (again) or a probe is out: park the rest */
				while ((j = TAILQ_FIRST(&d->ready)) != NULL) {
					TAILQ_REMOVE(&d->ready, j, dlink);
					dest_wait_job(d, j);
				}
				return;
			}
			/* back-off over: this job is the probe */
			d->probing = true;
			j->probe = true;
			log_info("%s: trying destination %s again after back-off", j->qm->msg->id,
			         d->name);
		}
		TAILQ_REMOVE(&d->ready, j, dlink);
		job_start(j, now);
	}
}

void dest_on_backoff_end(struct dest *d, int64_t now)
{
	struct job *j = TAILQ_FIRST(&d->wait);

	if (j == NULL) {
		/* Nothing waits: the next job to come due is the probe
		 * (dest_pump), or the destination is forgotten when unused. */
		dest_gc(d);
		return;
	}
	TAILQ_REMOVE(&d->wait, j, dlink);
	heap_remove(&d->s->heap, &j->due.he);
	dest_ready_job(d, j, true);
	dest_pump(d, now);
}

/* dest_probe_aborted - the probe never reached the site (a local
 * failure): let the next job probe instead of waiting forever */
void dest_probe_aborted(struct dest *d, int64_t now)
{
	if (!d->probing)
		return;
	d->probing = false;
	dest_on_backoff_end(d, now);
}

void dest_on_result(struct dest *d, const struct job *j, enum deliver_site site,
                    const struct outcome *o, int64_t now)
{
	const struct retry_policy *p = &d->s->policy;

	if (site == DELIVER_SITE_DOWN) {
		if (d->backoff_ms > 0 && j->started_ms <= d->backoff_set_ms)
			return; /* a straggler of the burst that already backed it off */
		if (d->backoff_ms == 0)
			d->backoff_ms = p->min_backoff_ms > 0 ? p->min_backoff_ms : 1;
		else if (d->backoff_ms < p->max_backoff_ms)
			d->backoff_ms = d->backoff_ms * 2 < p->max_backoff_ms ? d->backoff_ms * 2
			                                                      : p->max_backoff_ms;
		d->backoff_set_ms = now;
		d->backoff_until = now + d->backoff_ms;
		d->probing = false;
		if (o != NULL)
			d->last = *o;
		heap_remove(&d->s->heap, &d->due.he);
		heap_push(&d->s->heap, &d->due.he, d->backoff_until);
		log_info("destination %s is down (%s); backing off for %.1f s", d->name,
		         o != NULL ? o->status : "-", (double)d->backoff_ms / 1000.0);
		return;
	}
	if (d->backoff_ms > 0) {
		log_info("destination %s answers again; releasing its queue", d->name);
		dest_clear_backoff(d);
	}
}
