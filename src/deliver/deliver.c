/*
 * deliver.c - delivery requests: route, resolve, try the targets in order,
 * reuse cached connections, and report one result per request.
 *
 * A request goes:
 *   start (deferred to the loop) -> cached connection for its destination?
 *     yes -> transaction on it; if it turns out dead before any reply,
 *            continue below as if there had been none (no failure shown)
 *     no  -> address literal / transport_map [ip] : one target, no DNS
 *            otherwise resolve.c (MX or the host's addresses)
 *   -> targets in order (conn.c); a host failing before the transaction
 *      (connect, greeting, EHLO) passes to the next one (RFC 5321 5.1)
 *   -> done: every recipient has an outcome.
 * site is DELIVER_SITE_DOWN when no host took part in a transaction (DNS
 * TEMP, every connection failed, every greeting was 4xx/5xx/421): then every
 * recipient carries the last host's failure and the scheduler backs off the
 * whole destination.
 *
 * Invariants: the done callback runs exactly once per started request,
 * always from the request's own event (never inside deliver_start or from a
 * helper's call chain), and never after deliver_free. The request is
 * unlinked before done runs, so done may start new requests or free d.
 * The connection cache key (dest) is the next hop, not the recipient
 * domain: domains sent to one smarthost share its connections.
 *
 * This file is the top of src/deliver: it calls conn.c and txn.c by name
 * and is called back by them only through deliver_conn_ops, the table
 * below that wires conn.c's events to txn.c and to deliver_session_end.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "deliver/internal.h"
#include "util/util.h"

struct deliver {
	struct event_base *base;
	const struct config *cfg;
	unsigned port; /* smtp_port */
	struct deliver_transport tp;
	struct deliver_resolver *res;
	struct deliver_req *reqs; /* running and done-pending requests */
	size_t n_active;
	struct deliver_conn_pool pool; /* every connection, busy or idle */
};

static void deliver_session_end(struct deliver_req *rq, enum deliver_end how,
                                const struct outcome *why);

/* The one place conn.c and txn.c are joined: a connection's transaction
 * events go to txn.c, and the end of a session (from either) comes here. */
static const struct deliver_conn_ops deliver_conn_ops = {
    .on_ready = deliver_txn_start,
    .on_reply = deliver_txn_on_reply,
    .on_lost = deliver_txn_lost,
    .on_end = deliver_session_end,
};

size_t deliver_active(const struct deliver *d)
{
	return d != NULL ? d->n_active : 0;
}

struct deliver *deliver_new(struct event_base *base, const struct config *cfg, char *err,
                            size_t errlen)
{
	struct deliver *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->cfg = cfg;
	d->pool.base = base;
	d->pool.cfg = cfg;
	d->pool.ops = &deliver_conn_ops;
	if (cfg->smtp_port == 0 || cfg->smtp_port > 65535) {
		snprintf(err, errlen, "smtp_port: %llu is not a TCP port",
		         (unsigned long long)cfg->smtp_port);
		free(d);
		return NULL;
	}
	d->port = (unsigned)cfg->smtp_port;
	if (deliver_transport_parse(cfg->transport_map, d->port, &d->tp, err, errlen) < 0) {
		free(d);
		return NULL;
	}
	d->res = deliver_resolver_new(base, cfg->dns_servers, cfg->dns_timeout_ms, err, errlen);
	if (d->res == NULL) {
		deliver_transport_clear(&d->tp);
		free(d);
		return NULL;
	}
	return d;
}

static void deliver_req_free(struct deliver_req *rq)
{
	if (rq->ev != NULL)
		event_free(rq->ev);
	if (rq->req.body_fd >= 0 && close(rq->req.body_fd) < 0)
		log_warn("deliver: close of message body failed: %s", strerror(errno));
	free(rq->out);
	free(rq->rstate);
	free(rq);
}

static void deliver_req_unlink(struct deliver_req *rq)
{
	struct deliver *d = rq->d;

	if (rq->prev != NULL)
		rq->prev->next = rq->next;
	else
		d->reqs = rq->next;
	if (rq->next != NULL)
		rq->next->prev = rq->prev;
	rq->next = rq->prev = NULL;
	d->n_active--;
}

void deliver_free(struct deliver *d)
{
	if (d == NULL)
		return;
	/* No done callbacks from here on: requests simply vanish; their
	 * recipients stay as the spool last recorded them. Connections go
	 * first: they point at their requests. */
	deliver_conn_free_all(&d->pool);
	while (d->reqs != NULL) {
		struct deliver_req *rq = d->reqs;
		deliver_resolve_cancel(rq->lookup);
		rq->lookup = NULL;
		deliver_req_unlink(rq);
		deliver_req_free(rq);
	}
	deliver_resolver_free(d->res);
	deliver_transport_clear(&d->tp);
	free(d);
}

/* Every recipient's outcome is set: hand the result over from the loop. */
static void deliver_finish(struct deliver_req *rq)
{
	rq->done_pending = true;
	event_active(rq->ev, EV_TIMEOUT, 0);
}

static void deliver_all(struct deliver_req *rq, const struct outcome *o)
{
	for (size_t i = 0; i < rq->req.n_rcpt; i++) {
		rq->out[i] = *o;
		rq->rstate[i] = DELIVER_R_DONE;
	}
}

static void deliver_next_target(struct deliver_req *rq)
{
	struct deliver *d = rq->d;

	if (rq->next_target < rq->n_target) {
		const struct deliver_target *t = &rq->target[rq->next_target++];
		unsigned port = rq->route != NULL ? rq->route->port : d->port;

		deliver_conn_connect(&d->pool, rq, t, port);
		return;
	}
	if (!rq->have_last)
		outcome_set(&rq->last, OUTCOME_TEMP, 0, "4.4.1", "", "no host to try for %s",
		            rq->req.domain);
	/* RFC 5321 section 4.5.4.1: nobody answered; keep the last word for
	 * the report, retry later. A 5xx greeting was made TEMP in conn.c. */
	deliver_all(rq, &rq->last);
	rq->site_down = true;
	deliver_finish(rq);
}

static void deliver_on_resolved(const struct deliver_resolved *res, void *arg)
{
	struct deliver_req *rq = arg;
	unsigned port = rq->route != NULL ? rq->route->port : rq->d->port;

	rq->lookup = NULL;
	rq->resolved = true;
	if (res->n == 0) {
		struct outcome o;
		const char *name = rq->route != NULL ? rq->route->host : rq->req.domain;

		deliver_dns_outcome(&o, res, name, rq->route != NULL);
		deliver_all(rq, &o);
		rq->site_down = o.kind == OUTCOME_TEMP;
		deliver_finish(rq);
		return;
	}
	for (size_t i = 0; i < res->n && i < DELIVER_MAX_TARGETS; i++)
		rq->target[i] = res->t[i];
	rq->n_target = res->n < DELIVER_MAX_TARGETS ? res->n : DELIVER_MAX_TARGETS;
	log_debug("deliver: %s: %zu address(es) for %s, port %u", rq->req.qid, rq->n_target,
	          rq->dest, port);
	deliver_next_target(rq);
}

/* An address literal as the destination: "[192.0.2.1]" in the recipient
 * domain (RFC 5321 section 4.1.3) or an IP in transport_map. */
static bool deliver_literal_target(struct deliver_req *rq)
{
	const char *lit = NULL;
	struct deliver_target *t = &rq->target[0];

	if (rq->route != NULL && rq->route->literal)
		lit = rq->route->host;
	else if (rq->route == NULL && rq->req.domain[0] == '[')
		lit = rq->req.domain;
	if (lit == NULL)
		return false;
	memset(t, 0, sizeof(*t));
	if (deliver_parse_ip(lit, &t->sa, &t->salen) < 0)
		return false;
	util_strlcpy(t->host, lit[0] == '[' ? lit : "", sizeof(t->host));
	if (t->sa.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&t->sa)->sin_addr, t->ip, sizeof(t->ip));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&t->sa)->sin6_addr, t->ip,
		          sizeof(t->ip));
	if (t->host[0] == '\0')
		util_strlcpy(t->host, t->ip, sizeof(t->host));
	rq->n_target = 1;
	return true;
}

/* Decide where to go next: a cached connection, a lookup, or a target. */
static void deliver_route(struct deliver_req *rq)
{
	struct deliver *d = rq->d;

	if (!rq->cache_tried) {
		rq->cache_tried = true;
		if (deliver_conn_reuse(&d->pool, rq) != NULL)
			return;
	}
	if (!rq->resolved) {
		rq->resolved = true;
		if (!deliver_literal_target(rq)) {
			if (rq->req.domain[0] == '[' && rq->route == NULL) {
				struct outcome o;
				outcome_set(&o, OUTCOME_PERM, 0, "5.1.2", "",
				            "bad address literal %s", rq->req.domain);
				deliver_all(rq, &o);
				deliver_finish(rq);
				return;
			}
			rq->resolved = false;
			rq->lookup = deliver_resolve(
			    d->res, rq->route != NULL ? rq->route->host : rq->req.domain,
			    rq->route == NULL || !rq->route->no_mx, deliver_on_resolved, rq);
			return;
		}
	}
	deliver_next_target(rq);
}

/* on_end of the ops: the request is off its connection (conn.c or txn.c
 * has already detached or freed it), so a new one may be started here. */
static void deliver_session_end(struct deliver_req *rq, enum deliver_end how,
                                const struct outcome *why)
{
	switch (how) {
	case DELIVER_END_DONE: deliver_finish(rq); return;
	case DELIVER_END_HOST:
		/* kept for the report should no later host answer */
		rq->last = *why;
		rq->have_last = true;
		deliver_next_target(rq);
		return;
	case DELIVER_END_STALE:
		log_debug("deliver: %s: cached connection to %s was closed; reconnecting",
		          rq->req.qid, rq->dest);
		deliver_route(rq);
		return;
	}
}

static void deliver_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_req *rq = arg;
	struct deliver_result res;

	(void)fd;
	(void)what;
	if (!rq->done_pending) {
		deliver_route(rq);
		return;
	}
	memset(&res, 0, sizeof(res));
	res.rcpt = rq->out;
	res.n_rcpt = rq->req.n_rcpt;
	res.site = rq->site_down && !rq->reached ? DELIVER_SITE_DOWN : DELIVER_SITE_OK;
	util_strlcpy(res.relay, rq->relay[0] != '\0' ? rq->relay : "none", sizeof(res.relay));
	res.peer_has_dsn = rq->peer_has_dsn;
	res.started_ms = rq->started_ms;
	/* Unlink first: done may call deliver_start or deliver_free. */
	deliver_req_unlink(rq);
	rq->done(&res, rq->arg);
	deliver_req_free(rq);
}

int deliver_start(struct deliver *d, const struct deliver_request *req, deliver_done_fn done,
                  void *arg)
{
	struct deliver_req *rq;

	if (d == NULL || req == NULL || done == NULL || req->n_rcpt == 0 || req->rcpt == NULL ||
	    req->domain == NULL || req->domain[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	rq = xcalloc(1, sizeof(*rq));
	rq->d = d;
	rq->req = *req;
	/* spool_body_open hands over an fd positioned at the first body byte
	 * (behind the spool's own header); pread offsets are relative to it. */
	rq->body_base = req->body_fd >= 0 ? lseek(req->body_fd, 0, SEEK_CUR) : 0;
	if (rq->body_base < 0)
		rq->body_base = 0;
	if (rq->req.qid == NULL)
		rq->req.qid = "-";
	if (rq->req.sender == NULL)
		rq->req.sender = "";
	rq->done = done;
	rq->arg = arg;
	rq->out = xcalloc(req->n_rcpt, sizeof(*rq->out));
	rq->rstate = xcalloc(req->n_rcpt, sizeof(*rq->rstate));
	rq->started_ms = util_now_ms();
	rq->route = deliver_transport_find(&d->tp, req->domain);
	if (rq->route != NULL)
		snprintf(rq->dest, sizeof(rq->dest), "%s%s%s:%u", rq->route->no_mx ? "[" : "",
		         rq->route->host, rq->route->no_mx ? "]" : "", rq->route->port);
	else
		snprintf(rq->dest, sizeof(rq->dest), "%s:%u", req->domain, d->port);
	rq->ev = event_new(d->base, -1, 0, deliver_on_event, rq);
	if (rq->ev == NULL)
		fatal("deliver: event_new failed");
	rq->next = d->reqs;
	if (d->reqs != NULL)
		d->reqs->prev = rq;
	d->reqs = rq;
	d->n_active++;
	/* Never call back from inside deliver_start: begin from the loop. */
	event_active(rq->ev, EV_TIMEOUT, 0);
	return 0;
}
