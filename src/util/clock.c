/*
 * clock.c - the wall clock behind one function, so tests can pin time
 * (retry and expiry logic never calls time() directly), date formats of
 * RFC 5322 section 3.3 and ISO 8601, and cheap randomness for jitter.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

static _Atomic int64_t pinned_ms;

int64_t util_now_ms(void)
{
	struct timespec ts;
	int64_t pinned = atomic_load(&pinned_ms);

	if (pinned != 0)
		return pinned;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void util_clock_set(int64_t ms)
{
	atomic_store(&pinned_ms, ms);
}

void util_rfc5322_date(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	/* UTC with +0000: unambiguous, and RFC 5322 section 3.3 allows it. */
	gmtime_r(&t, &tm);
	if (strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0 && size > 0)
		out[0] = '\0';
}

void util_iso8601(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03dZ", base, (int)(ms % 1000));
}

/* xorshift32 seeded from the kernel: jitter and MX shuffles only need to
 * differ between processes, not to be unpredictable. */
uint32_t util_random_u32(void)
{
	static _Thread_local uint32_t state;
	uint32_t x;

	if (state == 0) {
		if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != sizeof(state))
			state = (uint32_t)getpid() ^ (uint32_t)time(NULL);
		if (state == 0)
			state = 0x9e3779b9u;
	}
	x = state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	state = x;
	return x;
}
