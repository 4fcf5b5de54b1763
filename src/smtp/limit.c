/*
 * limit.c - the server's admission limits, per client address and in
 * total: how many connections may be open at once (max_connections,
 * max_connections_per_ip) and how many messages a client address may start
 * per minute (max_messages_per_ip_per_minute).
 *
 * Connections are counted exactly: smtp_limits_connect takes a slot or
 * says why not, smtp_limits_disconnect gives it back. Messages are a token
 * bucket per address: it holds at most N tokens (N = the per-minute
 * limit), refills at N per 60 s, and each MAIL command takes one. So a
 * burst of N passes at once, then one more every 60/N seconds; a client
 * that keeps trying never gets more than N a minute on average. MAIL is
 * what counts (as in other MTAs): a client cannot dodge the limit with
 * MAIL, RSET, MAIL loops.
 *
 * Memory is bounded by the number of addresses with an open connection
 * plus those whose bucket is still refilling: an entry with no connection
 * and a full bucket carries no information and is dropped, lazily, when
 * its hash chain is next walked. All limits 0 = no limit. Pure: no I/O,
 * the caller passes the time, so the unit tests drive it directly.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/internal.h"

#define LIMIT_BUCKETS 1024
#define MINUTE_MS     60000

struct limit_entry {
	struct limit_entry *next;
	uint64_t conns;   /* open connections from this address */
	double tokens;    /* messages it may still start now */
	int64_t stamp_ms; /* when tokens was last brought up to date */
	char ip[64];
};

struct smtp_limits {
	uint64_t max_conn, max_conn_ip, msgs_per_min;
	uint64_t total;
	struct limit_entry *tab[LIMIT_BUCKETS];
};

struct smtp_limits *smtp_limits_new(uint64_t max_connections, uint64_t max_per_ip,
                                    uint64_t messages_per_minute)
{
	struct smtp_limits *l = xcalloc(1, sizeof(*l));

	l->max_conn = max_connections;
	l->max_conn_ip = max_per_ip;
	l->msgs_per_min = messages_per_minute;
	return l;
}

void smtp_limits_free(struct smtp_limits *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < LIMIT_BUCKETS; i++) {
		while (l->tab[i] != NULL) {
			struct limit_entry *e = l->tab[i];
			l->tab[i] = e->next;
			free(e);
		}
	}
	free(l);
}

/* hash - FNV-1a over the address text */
static size_t hash(const char *ip)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)ip; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h % LIMIT_BUCKETS;
}

/* refill - bring the bucket up to now */
static void refill(const struct smtp_limits *l, struct limit_entry *e, int64_t now_ms)
{
	double cap = (double)l->msgs_per_min;

	/* a clock that steps back adds nothing and moves nothing back */
	if (now_ms > e->stamp_ms) {
		e->tokens += (double)(now_ms - e->stamp_ms) * cap / MINUTE_MS;
		if (e->tokens > cap)
			e->tokens = cap;
		e->stamp_ms = now_ms;
	}
}

static bool idle(const struct smtp_limits *l, struct limit_entry *e, int64_t now_ms)
{
	if (e->conns > 0)
		return false;
	if (l->msgs_per_min == 0)
		return true;
	refill(l, e, now_ms);
	return e->tokens >= (double)l->msgs_per_min;
}

/* find - the entry of ip (created when create is set); idle entries met
 * on the way are dropped */
static struct limit_entry *find(struct smtp_limits *l, const char *ip, bool create, int64_t now_ms)
{
	struct limit_entry **pp = &l->tab[hash(ip)];
	struct limit_entry *e;

	while ((e = *pp) != NULL) {
		if (strcmp(e->ip, ip) == 0)
			return e;
		if (idle(l, e, now_ms)) {
			*pp = e->next;
			free(e);
			continue;
		}
		pp = &e->next;
	}
	if (!create)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	util_strlcpy(e->ip, ip, sizeof(e->ip));
	e->tokens = (double)l->msgs_per_min;
	e->stamp_ms = now_ms;
	e->next = l->tab[hash(ip)];
	l->tab[hash(ip)] = e;
	return e;
}

enum smtp_limit_verdict smtp_limits_connect(struct smtp_limits *l, const char *ip, int64_t now_ms)
{
	struct limit_entry *e;

	if (l->max_conn > 0 && l->total >= l->max_conn)
		return SMTP_LIMIT_TOTAL;
	e = find(l, ip, true, now_ms);
	if (l->max_conn_ip > 0 && e->conns >= l->max_conn_ip)
		return SMTP_LIMIT_PER_IP;
	e->conns++;
	l->total++;
	return SMTP_LIMIT_OK;
}

void smtp_limits_disconnect(struct smtp_limits *l, const char *ip, int64_t now_ms)
{
	struct limit_entry *e = find(l, ip, false, now_ms);

	if (e == NULL || e->conns == 0)
		return; /* never counted: nothing to give back */
	e->conns--;
	l->total--;
}

bool smtp_limits_message(struct smtp_limits *l, const char *ip, int64_t now_ms)
{
	struct limit_entry *e;

	if (l->msgs_per_min == 0)
		return true;
	e = find(l, ip, true, now_ms);
	refill(l, e, now_ms);
	if (e->tokens < 1.0)
		return false;
	e->tokens -= 1.0;
	return true;
}

uint64_t smtp_limits_total(const struct smtp_limits *l)
{
	return l->total;
}

uint64_t smtp_limits_conns(struct smtp_limits *l, const char *ip, int64_t now_ms)
{
	struct limit_entry *e = find(l, ip, false, now_ms);

	return e != NULL ? e->conns : 0;
}
