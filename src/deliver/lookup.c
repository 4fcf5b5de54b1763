/*
 * lookup.c - the public domain lookup of deliver.h (deliver_dns_*): the
 * resolver of resolve.c offered to parts that need to know whether a
 * domain can receive mail without delivering anything (`mailerd contacts
 * check`).
 *
 * Routing is exactly delivery's (RFC 5321 section 5.1, RFC 7505): MX
 * sorted, null MX, implicit MX from the domain's own A/AAAA, then the
 * exchangers' addresses. So a list check and a later delivery agree on
 * what "this domain takes no mail" means.
 *
 * Invariants: every lookup started and not yet called back sits on the
 * d->live list; deliver_dns_free cancels those, so a callback never runs
 * after free. Nothing here fails except out of memory (fatal).
 */
#include <stdlib.h>
#include <string.h>

#include "deliver/internal.h"
#include "util/util.h"

struct deliver_dns_req {
	struct deliver_dns *d;
	struct deliver_lookup *l;
	deliver_dns_fn fn;
	void *arg;
	char domain[256];
	struct deliver_dns_req *prev, *next;
};

struct deliver_dns {
	struct deliver_resolver *r;
	struct deliver_dns_req *live; /* started, not called back */
	size_t n_live;
};

struct deliver_dns *deliver_dns_new(struct event_base *base, const char *servers,
                                    int64_t timeout_ms, char *err, size_t errlen)
{
	struct deliver_dns *d = xcalloc(1, sizeof(*d));

	d->r = deliver_resolver_new(base, servers, timeout_ms, err, errlen);
	if (d->r == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

static void deliver_dns_unlink(struct deliver_dns_req *q)
{
	struct deliver_dns *d = q->d;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		d->live = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	d->n_live--;
}

void deliver_dns_free(struct deliver_dns *d)
{
	if (d == NULL)
		return;
	while (d->live != NULL) {
		struct deliver_dns_req *q = d->live;

		deliver_dns_unlink(q);
		deliver_resolve_cancel(q->l);
		free(q);
	}
	deliver_resolver_free(d->r);
	free(d);
}

/* deliver_dns_on_resolved - the resolver's answer in the public shape */
static void deliver_dns_on_resolved(const struct deliver_resolved *res, void *arg)
{
	struct deliver_dns_req *q = arg;
	struct deliver_dns_answer a;

	memset(&a, 0, sizeof(a));
	a.status = res->status;
	a.implicit = res->implicit;
	a.mx_no_addr = res->mx_no_addr;
	a.n_addr = res->status == DELIVER_DNS_OK ? res->n : 0;
	if (a.n_addr > 0)
		util_strlcpy(a.first_host, res->t[0].host, sizeof(a.first_host));
	util_strlcpy(a.detail, res->detail, sizeof(a.detail));
	/* Off the list before the callback: it may free d or start more. */
	deliver_dns_unlink(q);
	q->fn(q->domain, &a, q->arg);
	free(q);
}

void deliver_dns_lookup(struct deliver_dns *d, const char *domain, deliver_dns_fn fn, void *arg)
{
	struct deliver_dns_req *q = xcalloc(1, sizeof(*q));

	q->d = d;
	q->fn = fn;
	q->arg = arg;
	util_strlcpy(q->domain, domain, sizeof(q->domain));
	q->next = d->live;
	if (d->live != NULL)
		d->live->prev = q;
	d->live = q;
	d->n_live++;
	/* deliver_resolve never calls back from inside itself, so q is on
	 * the list with its lookup set before any answer can arrive. */
	q->l = deliver_resolve(d->r, domain, true, deliver_dns_on_resolved, q);
}

size_t deliver_dns_pending(const struct deliver_dns *d)
{
	return d->n_live;
}
