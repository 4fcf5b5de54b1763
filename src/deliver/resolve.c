/*
 * resolve.c - asynchronous DNS with c-ares on the libevent loop: a
 * destination's MX records, then each MX host's A and AAAA records, giving
 * an ordered list of addresses to try (struct deliver_target).
 *
 * Loop integration: c-ares tells us through its socket-state callback which
 * sockets to watch; each gets a persistent libevent event that calls
 * ares_process_fd on readiness. One timer, re-armed from ares_timeout after
 * every step, lets c-ares retry and expire queries (dns_timeout_ms per try,
 * DELIVER_DNS_TRIES tries).
 *
 * Answers (RFC 5321 section 5.1, RFC 7505):
 *   MX ok      -> sort (mx.c), null MX -> NULLMX, else A/AAAA of each host
 *   NODATA     -> implicit MX: A/AAAA of the domain itself
 *   NXDOMAIN   -> NXDOMAIN;  anything else (SERVFAIL, timeout, refused) -> TEMP
 * Addresses: IPv4 first, then IPv6, per host in MX order; a host without
 * addresses is skipped. Only when no host has any address does the lookup
 * fail (TEMP if any query failed temporarily).
 *
 * Invariants: a lookup's callback runs at most once, always from its own
 * zero-delay event (never inside deliver_resolve, never re-entrantly from
 * c-ares), and never after deliver_resolve_cancel. A lookup's memory lives
 * until every c-ares query it started has called back.
 */
#include <ares.h>
#include <arpa/nameser.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver/internal.h"
#include "util/util.h"

#define DELIVER_DNS_TRIES 2 /* with dns_timeout_ms each: a lost UDP packet is retried once */

struct deliver_rsock {
	int fd;
	struct event *ev;
	struct deliver_resolver *r;
};

struct deliver_resolver {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;
	struct deliver_rsock **socks;
	size_t n_socks;
	bool ch_ok;
};

/* Per-host address results. */
struct deliver_lhost {
	struct deliver_target a[DELIVER_MAX_ADDR * 2];
	size_t n;
	int st[2]; /* per family: ARES_* status of the A / AAAA query */
};

struct deliver_lookup {
	struct deliver_resolver *r;
	char name[256];
	bool mx;
	deliver_resolve_fn fn;
	void *arg;
	int pending; /* c-ares queries not yet called back */
	bool cancelled;
	bool finished; /* result decided; done event scheduled */
	struct event *done_ev;
	struct deliver_mx mxs[DELIVER_MAX_MX];
	size_t n_mx;
	struct deliver_lhost hosts[DELIVER_MAX_MX];
	struct deliver_target targets[DELIVER_MAX_TARGETS];
	struct deliver_resolved res;
};

/* One c-ares query in flight: which lookup, host and family it is for. */
struct deliver_q {
	struct deliver_lookup *l;
	size_t host;
	int fam; /* 0 = A, 1 = AAAA, -1 = MX */
};

static void deliver_resolver_arm(struct deliver_resolver *r)
{
	struct timeval max = {3600, 0}, tv, *t;

	if (!r->ch_ok)
		return;
	t = ares_timeout(r->ch, &max, &tv);
	evtimer_del(r->timer);
	/* Nothing outstanding -> c-ares returns max; no need to wake up. */
	if (t != NULL && !(t->tv_sec == max.tv_sec && t->tv_usec == 0))
		evtimer_add(r->timer, t);
}

static void deliver_resolver_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_resolver *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	deliver_resolver_arm(r);
}

static void deliver_resolver_on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_rsock *s = arg;
	struct deliver_resolver *r = s->r; /* s may be freed inside ares_process_fd */

	ares_process_fd(r->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	                (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	deliver_resolver_arm(r);
}

/* c-ares socket-state callback: watch fd for what c-ares wants. */
static void deliver_resolver_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct deliver_resolver *r = data;
	struct deliver_rsock *s = NULL;
	size_t i;

	for (i = 0; i < r->n_socks; i++)
		if (r->socks[i]->fd == fd) {
			s = r->socks[i];
			break;
		}
	if (s != NULL) {
		event_free(s->ev);
		if (!readable && !writable) {
			free(s);
			r->socks[i] = r->socks[--r->n_socks];
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->r = r;
		r->socks = xrealloc(r->socks, (r->n_socks + 1) * sizeof(*r->socks));
		r->socks[r->n_socks++] = s;
	}
	s->ev = event_new(
	    r->base, fd, (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) | EV_PERSIST),
	    deliver_resolver_on_sock, s);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0)
		fatal("resolver: cannot watch a DNS socket");
}

/* c-ares wants "ip:port,ip:port" without blanks. */
static char *deliver_servers_csv(const char *servers)
{
	struct buf b;

	buf_init(&b);
	for (const char *p = servers; *p; p++)
		if (*p != ' ' && *p != '\t')
			buf_putc(&b, *p);
	buf_putc(&b, '\0');
	return buf_steal(&b);
}

struct deliver_resolver *deliver_resolver_new(struct event_base *base, const char *servers,
                                              int64_t timeout_ms, char *err, size_t errlen)
{
	struct deliver_resolver *r = xcalloc(1, sizeof(*r));
	struct ares_options opt;
	int st;

	memset(&opt, 0, sizeof(opt));
	r->base = base;
	r->timer = evtimer_new(base, deliver_resolver_on_timer, r);
	if (r->timer == NULL)
		fatal("resolver: evtimer_new failed");
	if ((st = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: %s", ares_strerror(st));
		deliver_resolver_free(r);
		return NULL;
	}
	opt.timeout = timeout_ms > 0 ? (int)(timeout_ms > 600000 ? 600000 : timeout_ms) : 5000;
	opt.tries = DELIVER_DNS_TRIES;
	opt.sock_state_cb = deliver_resolver_sock_state;
	opt.sock_state_cb_data = r;
	/* ares_query never applies search domains, but say so anyway. */
	opt.flags = ARES_FLAG_NOSEARCH;
	st = ares_init_options(&r->ch, &opt,
	                       ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
	                           ARES_OPT_FLAGS);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: %s", ares_strerror(st));
		ares_library_cleanup();
		r->ch_ok = false;
		deliver_resolver_free(r);
		return NULL;
	}
	r->ch_ok = true;
	if (servers != NULL && *servers != '\0') {
		char *csv = deliver_servers_csv(servers);
		st = ares_set_servers_ports_csv(r->ch, csv);
		free(csv);
		if (st != ARES_SUCCESS) {
			snprintf(err, errlen, "dns_servers: \"%s\": %s", servers,
			         ares_strerror(st));
			deliver_resolver_free(r);
			return NULL;
		}
	}
	return r;
}

void deliver_resolver_free(struct deliver_resolver *r)
{
	if (r == NULL)
		return;
	if (r->ch_ok) {
		/* Calls every outstanding query back with ARES_EDESTRUCTION;
		 * the lookups were cancelled already and free themselves. */
		ares_destroy(r->ch);
		ares_library_cleanup();
	}
	for (size_t i = 0; i < r->n_socks; i++) {
		event_free(r->socks[i]->ev);
		free(r->socks[i]);
	}
	free(r->socks);
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

static void deliver_lookup_free(struct deliver_lookup *l)
{
	if (l->done_ev != NULL)
		event_free(l->done_ev);
	free(l);
}

static void deliver_lookup_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_lookup *l = arg;

	(void)fd;
	(void)what;
	/* Every query has called back (finish waits for that), so the memory
	 * can go once the caller has seen the result. */
	l->fn(&l->res, l->arg);
	deliver_lookup_free(l);
}

static void deliver_lookup_finish(struct deliver_lookup *l, enum deliver_dns_status st,
                                  const char *detail)
{
	if (l->finished)
		return;
	l->finished = true;
	l->res.status = st;
	if (detail != NULL)
		util_strlcpy(l->res.detail, detail, sizeof(l->res.detail));
}

static void deliver_lookup_collect(struct deliver_lookup *l);

/* Called when a query's callback has run: once the last one is in, hand the
 * result over (or just free a cancelled lookup). */
static void deliver_lookup_release(struct deliver_lookup *l)
{
	if (--l->pending > 0)
		return;
	if (l->cancelled) {
		deliver_lookup_free(l);
		return;
	}
	if (!l->finished && l->n_mx > 0)
		deliver_lookup_collect(l);
	if (!l->finished)
		deliver_lookup_finish(l, DELIVER_DNS_TEMP, "no answer");
	event_active(l->done_ev, EV_TIMEOUT, 0);
}

/* Builds the target list once all address queries are in. */
static void deliver_lookup_collect(struct deliver_lookup *l)
{
	bool any_temp = false, all_nx = true;
	char detail[200] = "";
	size_t n = 0;

	for (size_t h = 0; h < l->n_mx; h++) {
		/* IPv4 first: answers arrive in any order, and a host without
		 * IPv6 routes fails fast anyway, but v4 is the common path. */
		for (int fam = AF_INET; fam != 0; fam = fam == AF_INET ? AF_INET6 : 0)
			for (size_t i = 0; i < l->hosts[h].n && n < DELIVER_MAX_TARGETS; i++)
				if (l->hosts[h].a[i].sa.ss_family == fam)
					l->targets[n++] = l->hosts[h].a[i];
		for (int f = 0; f < 2; f++) {
			int st = l->hosts[h].st[f];
			if (st != ARES_SUCCESS && st != ARES_ENODATA && st != ARES_ENOTFOUND) {
				any_temp = true;
				if (detail[0] == '\0')
					snprintf(detail, sizeof(detail), "%.60s (%.120s)",
					         ares_strerror(st), l->mxs[h].host);
			}
			if (st != ARES_ENOTFOUND)
				all_nx = false;
		}
	}
	l->res.t = l->targets;
	l->res.n = n;
	if (n > 0)
		deliver_lookup_finish(l, DELIVER_DNS_OK, NULL);
	else if (any_temp)
		deliver_lookup_finish(l, DELIVER_DNS_TEMP, detail);
	else if (l->mx && !l->res.implicit) {
		/* MX records name hosts that do not resolve: the domain
		 * exists, its MX data is broken (often for a short while) */
		l->res.mx_no_addr = true;
		deliver_lookup_finish(l, DELIVER_DNS_NODATA, NULL);
	} else if (all_nx)
		deliver_lookup_finish(l, DELIVER_DNS_NXDOMAIN, NULL);
	else
		deliver_lookup_finish(l, DELIVER_DNS_NODATA, NULL);
}

static void deliver_lookup_on_addr(void *arg, int status, int timeouts, unsigned char *abuf,
                                   int alen)
{
	struct deliver_q *q = arg;
	struct deliver_lookup *l = q->l;
	size_t hi = q->host;
	struct deliver_lhost *h = &l->hosts[hi];
	int fam = q->fam;

	(void)timeouts;
	free(q);
	h->st[fam] = status;
	if (status == ARES_SUCCESS && !l->cancelled) {
		struct ares_addrttl a4[DELIVER_MAX_ADDR];
		struct ares_addr6ttl a6[DELIVER_MAX_ADDR];
		int n = DELIVER_MAX_ADDR, st;

		st = fam == 0 ? ares_parse_a_reply(abuf, alen, NULL, a4, &n)
		              : ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
		h->st[fam] = st;
		for (int i = 0; st == ARES_SUCCESS && i < n && h->n < DELIVER_MAX_ADDR * 2; i++) {
			struct deliver_target *t = &h->a[h->n++];

			memset(t, 0, sizeof(*t));
			util_strlcpy(t->host, l->mxs[hi].host, sizeof(t->host));
			t->pref = l->mxs[hi].pref;
			if (fam == 0) {
				struct sockaddr_in *sin = (struct sockaddr_in *)&t->sa;
				sin->sin_family = AF_INET;
				sin->sin_addr = a4[i].ipaddr;
				t->salen = sizeof(*sin);
				inet_ntop(AF_INET, &sin->sin_addr, t->ip, sizeof(t->ip));
			} else {
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->sa;
				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr, &a6[i].ip6addr, sizeof(sin6->sin6_addr));
				t->salen = sizeof(*sin6);
				inet_ntop(AF_INET6, &sin6->sin6_addr, t->ip, sizeof(t->ip));
			}
		}
	}
	deliver_lookup_release(l);
}

static void deliver_lookup_query(struct deliver_lookup *l, const char *name, int type, size_t host,
                                 int fam, ares_callback cb)
{
	struct deliver_q *q = xmalloc(sizeof(*q));

	q->l = l;
	q->host = host;
	q->fam = fam;
	l->pending++;
	ares_query(l->r->ch, name, ns_c_in, type, cb, q);
}

/* Starts A and AAAA for every host in l->mxs. */
static void deliver_lookup_addresses(struct deliver_lookup *l)
{
	for (size_t h = 0; h < l->n_mx; h++) {
		l->hosts[h].st[0] = l->hosts[h].st[1] = ARES_ENODATA;
		deliver_lookup_query(l, l->mxs[h].host, ns_t_a, h, 0, deliver_lookup_on_addr);
		deliver_lookup_query(l, l->mxs[h].host, ns_t_aaaa, h, 1, deliver_lookup_on_addr);
	}
}

static void deliver_lookup_on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct deliver_q *q = arg;
	struct deliver_lookup *l = q->l;
	struct ares_mx_reply *mx = NULL;

	(void)timeouts;
	free(q);
	if (l->cancelled || status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		deliver_lookup_release(l);
		return;
	}
	if (status == ARES_SUCCESS)
		status = ares_parse_mx_reply(abuf, alen, &mx);
	if (status == ARES_SUCCESS) {
		struct deliver_mx all[64];
		size_t n = 0;

		for (struct ares_mx_reply *m = mx; m != NULL && n < 64; m = m->next, n++) {
			util_strlcpy(all[n].host, m->host, sizeof(all[n].host));
			util_lowercase(all[n].host);
			all[n].pref = m->priority;
		}
		ares_free_data(mx);
		if (deliver_mx_is_null(all, n)) {
			deliver_lookup_finish(l, DELIVER_DNS_NULLMX, NULL);
		} else {
			deliver_mx_sort(all, n);
			for (size_t i = 0; i < n && l->n_mx < DELIVER_MAX_MX; i++)
				if (all[i].host[0] != '\0' && strcmp(all[i].host, ".") != 0)
					l->mxs[l->n_mx++] = all[i];
			if (l->n_mx == 0)
				deliver_lookup_finish(l, DELIVER_DNS_NULLMX, NULL);
			else
				deliver_lookup_addresses(l);
		}
	} else if (status == ARES_ENODATA) {
		/* RFC 5321 section 5.1: no MX -> the domain is its own MX. */
		l->res.implicit = true;
		util_strlcpy(l->mxs[0].host, l->name, sizeof(l->mxs[0].host));
		l->mxs[0].pref = 0;
		l->n_mx = 1;
		deliver_lookup_addresses(l);
	} else if (status == ARES_ENOTFOUND) {
		deliver_lookup_finish(l, DELIVER_DNS_NXDOMAIN, NULL);
	} else {
		deliver_lookup_finish(l, DELIVER_DNS_TEMP, ares_strerror(status));
	}
	deliver_lookup_release(l);
}

/* /etc/hosts for transport_map hosts ("[localhost]:2526"). */
static bool deliver_lookup_hosts_file(struct deliver_lookup *l)
{
	static const int fams[2] = {AF_INET, AF_INET6};
	size_t n = 0;

	for (int f = 0; f < 2; f++) {
		struct hostent *he = NULL;

		if (ares_gethostbyname_file(l->r->ch, l->name, fams[f], &he) != ARES_SUCCESS ||
		    he == NULL)
			continue;
		for (char **a = he->h_addr_list; *a != NULL && n < DELIVER_MAX_TARGETS; a++) {
			struct deliver_target *t = &l->targets[n++];
			memset(t, 0, sizeof(*t));
			util_strlcpy(t->host, l->name, sizeof(t->host));
			if (fams[f] == AF_INET) {
				struct sockaddr_in *sin = (struct sockaddr_in *)&t->sa;
				sin->sin_family = AF_INET;
				memcpy(&sin->sin_addr, *a, sizeof(sin->sin_addr));
				t->salen = sizeof(*sin);
				inet_ntop(AF_INET, &sin->sin_addr, t->ip, sizeof(t->ip));
			} else {
				struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->sa;
				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr, *a, sizeof(sin6->sin6_addr));
				t->salen = sizeof(*sin6);
				inet_ntop(AF_INET6, &sin6->sin6_addr, t->ip, sizeof(t->ip));
			}
		}
		ares_free_hostent(he);
	}
	if (n == 0)
		return false;
	l->res.t = l->targets;
	l->res.n = n;
	deliver_lookup_finish(l, DELIVER_DNS_OK, NULL);
	return true;
}

struct deliver_lookup *deliver_resolve(struct deliver_resolver *r, const char *name, bool mx,
                                       deliver_resolve_fn fn, void *arg)
{
	struct deliver_lookup *l = xcalloc(1, sizeof(*l));

	l->r = r;
	util_strlcpy(l->name, name, sizeof(l->name));
	util_lowercase(l->name);
	l->mx = mx;
	l->fn = fn;
	l->arg = arg;
	l->done_ev = event_new(r->base, -1, 0, deliver_lookup_on_done, l);
	if (l->done_ev == NULL)
		fatal("resolver: event_new failed");
	/* Hold one reference while starting queries: c-ares may call back
	 * from inside ares_query (e.g. no servers), and the result must still
	 * be delivered from the loop, not from here. */
	l->pending = 1;
	if (!mx && deliver_lookup_hosts_file(l)) {
		/* answered from /etc/hosts */
	} else if (mx) {
		deliver_lookup_query(l, l->name, ns_t_mx, 0, -1, deliver_lookup_on_mx);
	} else {
		util_strlcpy(l->mxs[0].host, l->name, sizeof(l->mxs[0].host));
		l->n_mx = 1;
		deliver_lookup_addresses(l);
	}
	deliver_lookup_release(l);
	deliver_resolver_arm(r);
	return l;
}

void deliver_resolve_cancel(struct deliver_lookup *l)
{
	if (l == NULL)
		return;
	if (l->pending == 0) {
		/* all answers are in and the done event is pending: drop it */
		event_del(l->done_ev);
		deliver_lookup_free(l);
		return;
	}
	l->cancelled = true;
}
