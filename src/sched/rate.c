/*
 * rate.c - the report rate limit: at most report_rate_limit reports to one
 * address per hour (issue 3 "loop safety"), so a flood of mail with a
 * forged or broken sender cannot turn mailerd into a spam cannon.
 *
 * A fixed window per address: the first report opens an hour-long window,
 * later ones count against it, and the window restarts after the hour.
 * The table lives in memory only: a restart forgives everybody, which is
 * fine for a guard against floods (and costs no fsync). Addresses are
 * compared without case; an entry whose window is over is swept at most
 * once a window, so the table holds about one hour of senders.
 *
 * Nothing here fails.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "sched/qmgr.h"
#include "util/util.h"

#define RATE_WINDOW_MS (3600 * 1000LL)

struct rate_entry {
	char addr[SPOOL_PATH_MAX]; /* lower case; the table's key */
	int64_t start_ms;          /* window start */
	uint64_t count;            /* reports in this window */
};

static void rate_key(const char *addr, char *out, size_t size)
{
	size_t i = 0;

	for (; addr[i] != '\0' && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)addr[i]);
	out[i] = '\0';
}

/* rate_sweep - drop entries whose window is over; O(n) once an hour */
static void rate_sweep(struct sched *s, int64_t now)
{
	size_t n;
	void **v;

	if (now - s->rate_swept_ms < RATE_WINDOW_MS)
		return;
	s->rate_swept_ms = now;
	v = htab_values(&s->rate, &n);
	for (size_t i = 0; i < n; i++) {
		struct rate_entry *e = v[i];

		if (now - e->start_ms >= RATE_WINDOW_MS) {
			htab_del(&s->rate, e->addr);
			free(e);
		}
	}
	free(v);
}

bool rate_take(struct sched *s, const char *addr, int64_t now)
{
	uint64_t limit = s->cfg->report_rate_limit;
	char key[SPOOL_PATH_MAX];
	struct rate_entry *e;

	if (limit == 0)
		return true;
	rate_sweep(s, now);
	rate_key(addr, key, sizeof(key));
	e = htab_get(&s->rate, key);
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		util_strlcpy(e->addr, key, sizeof(e->addr));
		e->start_ms = now;
		htab_put(&s->rate, e->addr, e);
	} else if (now - e->start_ms >= RATE_WINDOW_MS) {
		e->start_ms = now;
		e->count = 0;
	}
	if (e->count >= limit)
		return false;
	e->count++;
	return true;
}

void rate_refund(struct sched *s, const char *addr, int64_t now)
{
	char key[SPOOL_PATH_MAX];
	struct rate_entry *e;

	if (s->cfg->report_rate_limit == 0)
		return;
	rate_key(addr, key, sizeof(key));
	e = htab_get(&s->rate, key);
	if (e != NULL && e->count > 0 && now - e->start_ms < RATE_WINDOW_MS)
		e->count--;
}

void rate_free(struct sched *s)
{
	size_t n;
	void **v = htab_values(&s->rate, &n);

	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	htab_free(&s->rate);
}
