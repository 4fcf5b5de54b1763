/*
 * retry.c - the retry policy: when a recipient that failed temporarily is
 * tried again, and when the queue gives up on it. Pure functions of their
 * arguments (the caller passes the clock and the random number), so the
 * schedule is unit-tested exactly.
 *
 * Schedule (design.md "Retry defaults"): after attempt n the next try is
 * min_backoff * 2^(n-1), capped at max_backoff, with +-10% jitter so that
 * a burst accepted together does not come back as a burst. With the
 * defaults that is 5m, 10m, 20m, 40m, then every 1h.
 *
 * Greylisting (RFC 6647 section 2.1): the greylisting host wants the same
 * triple again after a short wait; waiting an hour after the first 451
 * only delays the mail. Such replies retry after greylist_retry, with
 * positive-only jitter (never earlier than the window the remote asked for).
 *
 * Giving up: the last attempt happens at arrival + queue_lifetime at the
 * latest (a later retry is pulled in to that instant); a temporary failure
 * at or after it returns 0 and the caller fails the recipient with 4.4.7
 * (RFC 3463: "delivery time expired"), keeping the last diagnostic.
 */
#include <string.h>

#include "sched/sched.h"

/* The jitter span is +-10% of the delay (design.md). */
#define RETRY_JITTER_DIV 10.0
#define RETRY_RND_MID    2147483648.0 /* 0x80000000: the "no jitter" value */

int64_t sched_retry_delay(const struct retry_policy *p, int attempts, uint32_t rnd)
{
	int64_t d = p->min_backoff_ms;
	int64_t max = p->max_backoff_ms;
	double off;

	if (d < 1)
		d = 1;
	if (max < d)
		max = d;
	/* Double until the cap; stopping at the cap also keeps d far from
	 * overflow whatever attempts is. */
	for (int i = 1; i < attempts && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	off = (double)d * (((double)rnd - RETRY_RND_MID) / RETRY_RND_MID) / RETRY_JITTER_DIV;
	d += (int64_t)off;
	return d > 0 ? d : 1;
}

/* Phrases greylisting implementations put in their 45x replies: postgrey
 * ("Greylisted, see ..."), milter-greylist ("Greylisting in action, please
 * come back later"), Exim and others ("try again later"). */
static const char *const greylist_words[] = {
    "greylist", "graylist", "grey-list", "gray-list", "grey list", "gray list", "try again later",
};

bool sched_is_greylist(const struct outcome *o)
{
	if (o->kind != OUTCOME_TEMP)
		return false;
	if (o->code != 450 && o->code != 451)
		return false;
	for (size_t i = 0; i < sizeof(greylist_words) / sizeof(greylist_words[0]); i++)
		if (strcasestr(o->text, greylist_words[i]) != NULL)
			return true;
	/* 4.7.1 is "delivery not authorized"; with "later" it is a
	 * temporary policy refusal, which greylisting is. */
	return strcmp(o->status, "4.7.1") == 0 && strcasestr(o->text, "later") != NULL;
}

int64_t sched_next_attempt(const struct retry_policy *p, int64_t arrival_ms, int attempts,
                           const struct outcome *o, int64_t now_ms, uint32_t rnd)
{
	int64_t deadline = arrival_ms + p->queue_lifetime_ms;
	int64_t delay;
	int64_t next;

	if (now_ms >= deadline)
		return 0;
	if (o != NULL && sched_is_greylist(o) && p->greylist_retry_ms > 0) {
		delay = p->greylist_retry_ms;
		/* 0 .. +10%: never sooner than the greylisting window. */
		delay += (int64_t)((double)delay * ((double)rnd / (2.0 * RETRY_RND_MID)) /
		                   RETRY_JITTER_DIV);
	} else {
		delay = sched_retry_delay(p, attempts, rnd);
	}
	next = now_ms + delay;
	/* One last try exactly when the lifetime ends, rather than giving up
	 * up to max_backoff early or late. */
	if (next > deadline)
		next = deadline;
	return next;
}
