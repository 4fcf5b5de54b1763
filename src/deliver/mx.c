/*
 * mx.c - the pure part of routing: MX ordering, null MX detection and the
 * outcome a failed lookup gives every recipient.
 *
 * RFC 5321 section 5.1: MX records are tried in order of preference, lowest
 * first; records of equal preference are tried in random order so the load
 * spreads over them. RFC 7505: a domain with the single MX "0 ." accepts no
 * mail at all, which is a permanent failure (5.1.10) without any connection.
 *
 * Statuses chosen for lookups (RFC 3463 / 7505):
 *   NXDOMAIN          PERM 5.1.2  bad destination system address
 *   null MX           PERM 5.1.10 (RFC 7505 section 4.2)
 *   no MX, no A/AAAA  PERM 5.4.4  unable to route (Postfix bounces this too)
 *   MX hosts without addresses  TEMP 4.4.4 (often a passing misconfiguration)
 *   SERVFAIL/timeout  TEMP 4.4.3  directory server failure
 * A name taken from transport_map is our own configuration: its failures are
 * TEMP so a typo defers mail instead of bouncing it.
 */
#include <string.h>

#include "deliver/internal.h"
#include "util/util.h"

static int deliver_mx_cmp(const struct deliver_mx *a, const struct deliver_mx *b)
{
	return a->pref - b->pref;
}

void deliver_mx_sort(struct deliver_mx *mx, size_t n)
{
	struct deliver_mx tmp;
	size_t i, j, start;

	/* Insertion sort: n is at most a few dozen and the sort is stable. */
	for (i = 1; i < n; i++) {
		tmp = mx[i];
		for (j = i; j > 0 && deliver_mx_cmp(&mx[j - 1], &tmp) > 0; j--)
			mx[j] = mx[j - 1];
		mx[j] = tmp;
	}
	/* Fisher-Yates within each run of equal preference. */
	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n && mx[i].pref == mx[start].pref; i++)
			;
		for (j = i - 1; j > start; j--) {
			size_t k = start + util_random_u32() % (uint32_t)(j - start + 1);
			tmp = mx[j];
			mx[j] = mx[k];
			mx[k] = tmp;
		}
	}
}

bool deliver_mx_is_null(const struct deliver_mx *mx, size_t n)
{
	/* RFC 7505 section 3 says the preference is 0; we do not insist on
	 * it, since a lone "." exchange with any preference can never take
	 * mail and retrying it for days helps nobody. */
	return n == 1 && (mx[0].host[0] == '\0' || strcmp(mx[0].host, ".") == 0);
}

void deliver_dns_outcome(struct outcome *o, const struct deliver_resolved *res, const char *name,
                         bool smarthost)
{
	const char *why = res->detail[0] != '\0' ? res->detail : "no answer";

	switch (res->status) {
	case DELIVER_DNS_NXDOMAIN:
		if (smarthost)
			outcome_set(o, OUTCOME_TEMP, 0, "4.4.4", "",
			            "relay host %s not found (NXDOMAIN)", name);
		else
			outcome_set(
			    o, OUTCOME_PERM, 0, "5.1.2", "",
			    "Host or domain name not found: domain %s does not exist (NXDOMAIN)",
			    name);
		return;
	case DELIVER_DNS_NULLMX:
		outcome_set(o, OUTCOME_PERM, 0, "5.1.10", "",
		            "domain %s does not accept mail (null MX)", name);
		return;
	case DELIVER_DNS_NODATA:
		if (res->mx_no_addr)
			outcome_set(o, OUTCOME_TEMP, 0, "4.4.4", "",
			            "no MX host of %s has an address (will retry)", name);
		else if (smarthost)
			outcome_set(o, OUTCOME_TEMP, 0, "4.4.4", "", "relay host %s has no address",
			            name);
		else
			outcome_set(
			    o, OUTCOME_PERM, 0, "5.4.4", "",
			    "Host or domain name not found: %s has no MX and no address record",
			    name);
		return;
	case DELIVER_DNS_TEMP:
	case DELIVER_DNS_OK: /* OK without targets cannot happen; be safe */
	default:
		outcome_set(o, OUTCOME_TEMP, 0, "4.4.3", "",
		            "DNS lookup failed for %s: %s (will retry)", name, why);
		return;
	}
}
