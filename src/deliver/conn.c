/*
 * conn.c - one SMTP client connection (RFC 5321) on a libevent
 * bufferevent: connect, greeting, EHLO/HELO, one mail transaction at a time,
 * then idle in the connection cache, RSET or QUIT.
 *
 * States and the timer that guards each:
 *   CONNECTING  smtp_connect_timeout_ms      GREETING/EHLO/HELO/TXN/RSET/QUIT
 *   BODY, DOT   smtp_data_timeout_ms          smtp_command_timeout_ms
 *   IDLE        connection_cache_time_ms (then QUIT)
 *   REUSE       0: a cached connection starts its next transaction from the
 *               loop, never inside deliver_start's call chain
 * The transaction itself (MAIL, RCPT, DATA, body) is txn.c.
 *
 * This file is the bottom of src/deliver: it calls neither txn.c nor
 * deliver.c by name. Everything it has to report goes up through the
 * pool's deliver_conn_ops (on_ready, on_reply, on_lost, on_end), which
 * deliver.c wires to txn.c and to itself; so the order of events is fixed
 * here and the meaning is decided above.
 *
 * Failures: before the transaction (connect, greeting, EHLO) the host is
 * given up and on_end(DELIVER_END_HOST) lets deliver.c try the next one;
 * once the transaction runs, on_lost gives still unfinished recipients
 * TEMP 4.4.2 and drops the connection. A cached connection that dies
 * before its first reply is reported as DELIVER_END_STALE, and deliver.c
 * reconnects. The connection is always detached or freed before on_end
 * runs, since on_end may start a new connection for the same request.
 * A connection is reused only after a clean end (final reply 2xx/5xx, or a
 * 250 to RSET), so a cached connection never has an open transaction.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "deliver/internal.h"
#include "util/util.h"

const struct config *deliver_conn_cfg(const struct deliver_conn *c)
{
	return c->pool->cfg;
}

void deliver_conn_arm(struct deliver_conn *c, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(c->timer, &tv);
}

void deliver_conn_send(struct deliver_conn *c, const char *data, size_t len)
{
	if (bufferevent_write(c->bev, data, len) < 0)
		fatal("deliver: bufferevent_write failed");
}

void deliver_conn_free(struct deliver_conn *c)
{
	struct deliver_conn **head;

	if (c == NULL)
		return;
	head = &c->pool->head;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (*head == c)
		*head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->rq != NULL)
		c->rq->conn = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	event_free(c->timer);
	free(c);
}

void deliver_conn_free_all(struct deliver_conn_pool *pool)
{
	while (pool->head != NULL)
		deliver_conn_free(pool->head);
}

/* Detach from the request and say goodbye (RFC 5321 section 4.1.1.10);
 * the connection closes on the 221, EOF or a timeout. */
void deliver_conn_quit(struct deliver_conn *c)
{
	if (c->rq != NULL) {
		c->rq->conn = NULL;
		c->rq = NULL;
	}
	c->state = CS_QUIT;
	deliver_conn_send(c, "QUIT\r\n", 6);
	deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_command_timeout_ms);
}

/* The host failed before any transaction: let go of it, then tell the
 * layer above why, so it can try the next one. ops is taken first because
 * c may be gone by the time it is used. */
static void deliver_conn_host_failed(struct deliver_conn *c, const struct outcome *o, bool quit)
{
	const struct deliver_conn_ops *ops = c->pool->ops;
	struct deliver_req *rq = c->rq;

	if (quit)
		deliver_conn_quit(c);
	else
		deliver_conn_free(c);
	ops->on_end(rq, DELIVER_END_HOST, o);
}

/* A cached connection turned out dead before it said anything in this
 * transaction: no failure to report, the request just goes elsewhere. */
static void deliver_conn_stale(struct deliver_conn *c)
{
	const struct deliver_conn_ops *ops = c->pool->ops;
	struct deliver_req *rq = c->rq;

	deliver_conn_free(c);
	ops->on_end(rq, DELIVER_END_STALE, NULL);
}

static const char *deliver_conn_phase(const struct deliver_conn *c)
{
	switch (c->state) {
	case CS_GREETING: return "receiving the initial server greeting";
	case CS_EHLO: return "performing the EHLO handshake";
	case CS_HELO: return "performing the HELO handshake";
	case CS_TXN:
		if (c->replied == 0)
			return "sending MAIL FROM";
		if (c->replied + 1 < c->n_plan)
			return "sending RCPT TO";
		return "sending DATA command";
	case CS_BODY: return "sending message body";
	case CS_DOT: return "sending end of data -- message may be sent more than once";
	default: return "talking";
	}
}

/* Connection lost, timed out or spoke nonsense. */
static void deliver_conn_fail(struct deliver_conn *c, enum deliver_fail why, int err)
{
	struct outcome o;
	char what[OUTCOME_TEXT_MAX - 64];

	switch (why) {
	case FAIL_ERRNO:
		snprintf(what, sizeof(what), "lost connection with %s[%s] while %s: %s", c->host,
		         c->ip, deliver_conn_phase(c), strerror(err));
		break;
	case FAIL_EOF:
		snprintf(what, sizeof(what), "lost connection with %s[%s] while %s", c->host, c->ip,
		         deliver_conn_phase(c));
		break;
	case FAIL_TIMEOUT:
		snprintf(what, sizeof(what), "conversation with %s[%s] timed out while %s", c->host,
		         c->ip, deliver_conn_phase(c));
		break;
	case FAIL_PROTO:
	default:
		snprintf(what, sizeof(what), "malformed reply from %s[%s] while %s", c->host, c->ip,
		         deliver_conn_phase(c));
		break;
	}

	switch (c->state) {
	case CS_CONNECTING:
		outcome_set(&o, OUTCOME_TEMP, 0, "4.4.1", c->remote, "connect to %s: %s", c->remote,
		            why == FAIL_TIMEOUT ? "Connection timed out"
		                                : strerror(err != 0 ? err : ECONNREFUSED));
		deliver_conn_host_failed(c, &o, false);
		return;
	case CS_GREETING:
	case CS_EHLO:
	case CS_HELO:
		outcome_set(&o, OUTCOME_TEMP, 0, "4.4.2", c->remote, "%s", what);
		deliver_conn_host_failed(c, &o, false);
		return;
	case CS_TXN:
	case CS_BODY:
	case CS_DOT:
		if (c->reused && !c->got_reply && why != FAIL_TIMEOUT) {
			/* the cache kept a connection the server had closed */
			deliver_conn_stale(c);
			return;
		}
		outcome_set(&o, OUTCOME_TEMP, 0, "4.4.2", c->remote, "%s", what);
		c->pool->ops->on_lost(c, &o);
		return;
	case CS_REUSE:
		/* closed while waiting in the cache for its next transaction */
		deliver_conn_stale(c);
		return;
	default: deliver_conn_free(c); return;
	}
}

static int deliver_conn_on_reply(struct deliver_conn *c, const struct smtp_reply *r);

void deliver_conn_on_read(struct bufferevent *bev, void *arg)
{
	struct deliver_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		int st = smtp_reply_feed(&c->reply, line, n);

		/* RFC 5321 section 4.1.1.1: each EHLO line after the first
		 * names one extension. */
		if (st >= 0 && c->state == CS_EHLO && c->reply.nlines > 1 && c->reply.code == 250)
			deliver_ehlo_line(&c->caps, line + (n > 4 ? 4 : n), n > 4 ? n - 4 : 0);
		free(line);
		if (st < 0) {
			deliver_conn_fail(c, FAIL_PROTO, 0);
			return;
		}
		if (st == 1) {
			struct smtp_reply r = c->reply;
			smtp_reply_init(&c->reply);
			if (deliver_conn_on_reply(c, &r) < 0)
				return;
		}
	}
	if (evbuffer_get_length(in) > DELIVER_LINE_MAX)
		deliver_conn_fail(c, FAIL_PROTO, 0);
}

void deliver_conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct deliver_conn *c = arg;
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->state = CS_GREETING;
		evtimer_del(c->timer);
		deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_command_timeout_ms);
		return;
	}
	if (what & BEV_EVENT_EOF)
		deliver_conn_fail(c, FAIL_EOF, 0);
	else
		deliver_conn_fail(c, FAIL_ERRNO, err);
}

static void deliver_conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CS_CONNECTING:
		deliver_conn_fail(c, c->connect_errno != 0 ? FAIL_ERRNO : FAIL_TIMEOUT,
		                  c->connect_errno);
		return;
	case CS_REUSE: c->pool->ops->on_ready(c); return;
	case CS_IDLE: deliver_conn_quit(c); return;
	case CS_RSET:
	case CS_QUIT: deliver_conn_free(c); return;
	default: deliver_conn_fail(c, FAIL_TIMEOUT, 0); return;
	}
}

static struct deliver_conn *deliver_conn_new(struct deliver_conn_pool *pool, struct deliver_req *rq)
{
	struct deliver_conn *c = xcalloc(1, sizeof(*c));
	struct deliver_conn **head = &pool->head;

	c->pool = pool;
	c->rq = rq;
	util_strlcpy(c->dest, rq->dest, sizeof(c->dest));
	c->timer = evtimer_new(pool->base, deliver_conn_on_timer, c);
	if (c->timer == NULL)
		fatal("deliver: evtimer_new failed");
	smtp_reply_init(&c->reply);
	c->next = *head;
	if (*head != NULL)
		(*head)->prev = c;
	*head = c;
	rq->conn = c;
	return c;
}

struct deliver_conn *deliver_conn_connect(struct deliver_conn_pool *pool, struct deliver_req *rq,
                                          const struct deliver_target *t, unsigned port)
{
	struct deliver_conn *c = deliver_conn_new(pool, rq);
	struct sockaddr_storage sa = t->sa;

	util_strlcpy(c->host, t->host, sizeof(c->host));
	util_strlcpy(c->ip, t->ip, sizeof(c->ip));
	snprintf(c->remote, sizeof(c->remote), "%s[%s]:%u", c->host, c->ip, port);
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
	c->state = CS_CONNECTING;
	c->bev = bufferevent_socket_new(pool->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatal("deliver: bufferevent_socket_new failed");
	bufferevent_setcb(c->bev, deliver_conn_on_read, NULL, deliver_conn_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sa, (int)t->salen) < 0) {
		/* report from the loop, like every other failure */
		c->connect_errno = errno != 0 ? errno : ECONNREFUSED;
		deliver_conn_arm(c, 0);
		return c;
	}
	deliver_conn_arm(c, pool->cfg->smtp_connect_timeout_ms);
	return c;
}

struct deliver_conn *deliver_conn_reuse(struct deliver_conn_pool *pool, struct deliver_req *rq)
{
	for (struct deliver_conn *c = pool->head; c != NULL; c = c->next) {
		if (c->state != CS_IDLE || strcmp(c->dest, rq->dest) != 0)
			continue;
		c->rq = rq;
		rq->conn = c;
		c->reused = true;
		c->state = CS_REUSE;
		evtimer_del(c->timer);
		deliver_conn_arm(c, 0);
		return c;
	}
	return NULL;
}

/* Turns a failed greeting/HELO into the outcome for the host. A 5xx there
 * says "not this host" rather than "not this recipient", so like
 * Postfix's smtp_skip_5xx_greeting it counts as TEMP and the next MX is
 * tried. */
static void deliver_conn_greeting_failed(struct deliver_conn *c, const struct smtp_reply *r)
{
	struct outcome o;

	if (r->code / 100 == 4)
		outcome_from_reply(&o, r->code, r->text, c->remote);
	else
		outcome_set(&o, OUTCOME_TEMP, r->code, NULL, c->remote, "%d %s", r->code, r->text);
	deliver_conn_host_failed(c, &o, r->code != 421);
}

static int deliver_conn_on_reply(struct deliver_conn *c, const struct smtp_reply *r)
{
	struct buf b;

	if (c->rq != NULL)
		util_strlcpy(c->rq->relay, c->remote, sizeof(c->rq->relay));
	switch (c->state) {
	case CS_GREETING:
		if (r->code / 100 != 2) {
			deliver_conn_greeting_failed(c, r);
			return -1;
		}
		buf_init(&b);
		buf_printf(&b, "EHLO %s\r\n", deliver_conn_cfg(c)->myhostname);
		deliver_conn_send(c, b.data, b.len);
		buf_free(&b);
		memset(&c->caps, 0, sizeof(c->caps));
		c->state = CS_EHLO;
		evtimer_del(c->timer);
		deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_command_timeout_ms);
		return 0;
	case CS_EHLO:
		if (r->code / 100 == 2) {
			c->caps.esmtp = true;
			c->pool->ops->on_ready(c);
			return c->rq != NULL ? 0 : -1;
		}
		memset(&c->caps, 0, sizeof(c->caps));
		if (r->code / 100 == 5) {
			/* RFC 5321 section 3.2: fall back to HELO */
			buf_init(&b);
			buf_printf(&b, "HELO %s\r\n", deliver_conn_cfg(c)->myhostname);
			deliver_conn_send(c, b.data, b.len);
			buf_free(&b);
			c->state = CS_HELO;
			evtimer_del(c->timer);
			deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_command_timeout_ms);
			return 0;
		}
		deliver_conn_greeting_failed(c, r);
		return -1;
	case CS_HELO:
		if (r->code / 100 == 2) {
			c->pool->ops->on_ready(c);
			return c->rq != NULL ? 0 : -1;
		}
		deliver_conn_greeting_failed(c, r);
		return -1;
	case CS_TXN:
	case CS_BODY:
	case CS_DOT: return c->pool->ops->on_reply(c, r);
	case CS_RSET:
		if (r->code / 100 == 2 && deliver_conn_cfg(c)->connection_cache_time_ms > 0) {
			c->state = CS_IDLE;
			evtimer_del(c->timer);
			deliver_conn_arm(c, deliver_conn_cfg(c)->connection_cache_time_ms);
			return 0;
		}
		deliver_conn_quit(c);
		return 0;
	case CS_QUIT:
	case CS_IDLE: /* e.g. "421 idle timeout": the server is leaving */
	default: deliver_conn_free(c); return -1;
	}
}
