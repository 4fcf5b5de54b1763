/*
 * txn.c - one mail transaction (RFC 5321 section 3.3) on a connection
 * that has greeted us: the SIZE and SMTPUTF8 checks, MAIL, RCPT..., DATA,
 * the body, and the per-recipient outcomes.
 *
 * The plan is MAIL, RCPT x n, DATA. With PIPELINING (RFC 2920 section 3.1)
 * the whole plan goes out in one write and replies are matched in order;
 * without it, one command per reply, and DATA only when a recipient was
 * accepted (else RSET, section 3.3). The MAIL reply, when negative, is
 * every recipient's answer; each RCPT reply is its recipient's; the DATA or
 * end-of-data reply applies to every accepted recipient. A 421 anywhere
 * ends the session (section 3.8) with TEMP for everyone unfinished.
 *
 * The body is read from the queue file in chunks with pread, never more
 * than DELIVER_BODY_CHUNK queued, so memory stays bounded and a retry on
 * another connection can read it again. The spool keeps it in wire form
 * (dot-stuffed, CRLF), so the bytes go out as they are.
 *
 * Layering: txn.c sits on conn.c (it calls it by name) and under
 * deliver.c, which it never names: conn.c enters here through the
 * on_ready/on_reply/on_lost entries deliver.c put in the pool's ops, and
 * the end of a session goes up through the same table's on_end.
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

/* How a transaction leaves its connection. */
enum deliver_txn_end { DELIVER_TXN_KEEP, DELIVER_TXN_RSET, DELIVER_TXN_DROP, DELIVER_TXN_QUIT };

/* The transaction is over for the request: every recipient has its outcome.
 * KEEP: idle in the cache (or QUIT when caching is off), RSET first, DROP
 * at once, or QUIT. */
static void deliver_txn_end(struct deliver_conn *c, enum deliver_txn_end how)
{
	/* taken first: DROP frees c, and the pool outlives it */
	const struct deliver_conn_ops *ops = c->pool->ops;
	struct deliver_req *rq = c->rq;

	for (size_t i = 0; i < rq->req.n_rcpt; i++)
		if (rq->rstate[i] != DELIVER_R_DONE) {
			/* cannot happen with a well-formed plan; never leave a hole */
			outcome_set(&rq->out[i], OUTCOME_TEMP, 0, "4.4.2", c->remote,
			            "no reply from %s for this recipient", c->remote);
			rq->rstate[i] = DELIVER_R_DONE;
		}
	c->rq = NULL;
	rq->conn = NULL;
	if (how == DELIVER_TXN_KEEP && deliver_conn_cfg(c)->connection_cache_time_ms > 0) {
		c->state = CS_IDLE;
		deliver_conn_arm(c, deliver_conn_cfg(c)->connection_cache_time_ms);
	} else if (how == DELIVER_TXN_RSET) {
		c->state = CS_RSET;
		deliver_conn_send(c, "RSET\r\n", 6);
		deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_command_timeout_ms);
	} else if (how == DELIVER_TXN_DROP) {
		deliver_conn_free(c);
	} else {
		deliver_conn_quit(c);
	}
	ops->on_end(rq, DELIVER_END_DONE, NULL);
}

/* Every recipient without a final word gets o. */
static void deliver_txn_fail_open(struct deliver_conn *c, const struct outcome *o)
{
	struct deliver_req *rq = c->rq;

	for (size_t i = 0; i < rq->req.n_rcpt; i++)
		if (rq->rstate[i] != DELIVER_R_DONE) {
			rq->out[i] = *o;
			rq->rstate[i] = DELIVER_R_DONE;
		}
}

/* Body streaming: keep at most one chunk queued (bounded memory), then the
 * end of data (RFC 5321 section 4.1.1.4). The spool stores the body dot-
 * stuffed in wire form, so the bytes go out as they are. */
static int deliver_txn_fill(struct deliver_conn *c)
{
	struct deliver_req *rq = c->rq;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char chunk[16384];

	while (c->body_off < rq->req.body_len && evbuffer_get_length(out) < DELIVER_BODY_CHUNK) {
		size_t want = rq->req.body_len - c->body_off;
		ssize_t got;

		if (want > sizeof(chunk))
			want = sizeof(chunk);
		got = pread(rq->req.body_fd, chunk, want, rq->body_base + (off_t)c->body_off);
		if (got <= 0) {
			struct outcome o;
			outcome_set(
			    &o, OUTCOME_TEMP, 0, "4.3.0", "", "cannot read the queued message: %s",
			    got < 0 ? strerror(errno) : "file is shorter than its recorded size");
			deliver_txn_fail_open(c, &o);
			/* no "." was sent: dropping the connection aborts the transaction */
			deliver_txn_end(c, DELIVER_TXN_DROP);
			return -1;
		}
		if (got >= 2) {
			c->tail[0] = chunk[got - 2];
			c->tail[1] = chunk[got - 1];
		} else {
			c->tail[0] = c->tail[1];
			c->tail[1] = chunk[0];
		}
		deliver_conn_send(c, chunk, (size_t)got);
		c->body_off += (size_t)got;
	}
	if (c->body_off == rq->req.body_len) {
		/* a body must end with CRLF before the terminating "." */
		if (rq->req.body_len > 0 && (c->tail[0] != '\r' || c->tail[1] != '\n'))
			deliver_conn_send(c, "\r\n", 2);
		deliver_conn_send(c, ".\r\n", 3);
		c->state = CS_DOT;
		bufferevent_setcb(c->bev, deliver_conn_on_read, NULL, deliver_conn_on_event, c);
	}
	evtimer_del(c->timer);
	deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_data_timeout_ms);
	return 0;
}

static void deliver_txn_on_write(struct bufferevent *bev, void *arg)
{
	struct deliver_conn *c = arg;

	(void)bev;
	if (c->state == CS_BODY)
		(void)deliver_txn_fill(c);
}

/* SMTPUTF8 and SIZE are decided before MAIL (RFC 6531 section 3.4, RFC
 * 1870 section 6), then the plan is written. */
void deliver_txn_start(struct deliver_conn *c)
{
	struct deliver_req *rq = c->rq;
	const struct deliver_request *req = &rq->req;
	struct buf b;

	util_strlcpy(rq->relay, c->remote, sizeof(rq->relay));
	rq->peer_has_dsn = c->caps.dsn;
	if (req->smtputf8 && !c->caps.smtputf8) {
		struct outcome o;
		rq->reached = true;
		outcome_set(&o, OUTCOME_PERM, 0, "5.6.7", c->remote,
		            "SMTPUTF8 is required, but was not offered by host %s[%s]", c->host,
		            c->ip);
		deliver_txn_fail_open(c, &o);
		deliver_txn_end(c, DELIVER_TXN_KEEP);
		return;
	}
	if (c->caps.size && c->caps.size_max > 0 && req->body_len > c->caps.size_max) {
		struct outcome o;
		rq->reached = true;
		outcome_set(&o, OUTCOME_PERM, 0, "5.3.4", c->remote,
		            "message size %zu exceeds size limit %llu of server %s[%s]",
		            req->body_len, (unsigned long long)c->caps.size_max, c->host, c->ip);
		deliver_txn_fail_open(c, &o);
		deliver_txn_end(c, DELIVER_TXN_KEEP);
		return;
	}
	c->state = CS_TXN;
	c->n_plan = req->n_rcpt + 2;
	c->sent = c->replied = c->n_accepted = 0;
	c->mail_failed = false;
	c->got_reply = false;
	buf_init(&b);
	deliver_mail_cmd(&b, req, &c->caps);
	c->sent = 1;
	if (c->caps.pipelining) {
		/* RFC 2920 section 3.1: MAIL, RCPT... and DATA may share one
		 * write; DATA is the last command of the group. */
		for (size_t i = 0; i < req->n_rcpt; i++)
			deliver_rcpt_cmd(&b, &req->rcpt[i], &c->caps);
		buf_puts(&b, "DATA\r\n");
		c->sent = c->n_plan;
	}
	deliver_conn_send(c, b.data, b.len);
	buf_free(&b);
	evtimer_del(c->timer);
	deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_command_timeout_ms);
}

/* Non-pipelined: the next command after a reply. Returns -1 when the
 * transaction ended. */
static int deliver_txn_next_cmd(struct deliver_conn *c)
{
	struct deliver_req *rq = c->rq;
	struct buf b;

	if (c->mail_failed) {
		deliver_txn_end(c, DELIVER_TXN_KEEP); /* no transaction was opened */
		return -1;
	}
	buf_init(&b);
	if (c->sent < rq->req.n_rcpt + 1) {
		deliver_rcpt_cmd(&b, &rq->req.rcpt[c->sent - 1], &c->caps);
	} else if (c->n_accepted > 0) {
		buf_puts(&b, "DATA\r\n");
	} else {
		buf_free(&b);
		deliver_txn_end(c, DELIVER_TXN_RSET); /* RFC 5321 3.3: no DATA without recipients */
		return -1;
	}
	c->sent++;
	deliver_conn_send(c, b.data, b.len);
	buf_free(&b);
	return 0;
}

/* One reply inside the transaction. Returns -1 when the connection left
 * the transaction (ended, freed or detached). */
static int deliver_txn_reply(struct deliver_conn *c, const struct smtp_reply *r)
{
	const struct deliver_conn_ops *ops = c->pool->ops;
	struct deliver_req *rq = c->rq;
	size_t idx = c->replied++;
	struct outcome o;

	if (c->reused && idx == 0 && r->code == 421) {
		/* the server timed the cached connection out just as we spoke */
		deliver_conn_free(c);
		ops->on_end(rq, DELIVER_END_STALE, NULL);
		return -1;
	}
	c->got_reply = true;
	rq->reached = true;
	outcome_from_reply(&o, r->code, r->text, c->remote);
	if (r->code == 421) {
		/* RFC 5321 section 3.8: the server is closing the channel */
		deliver_txn_fail_open(c, &o);
		deliver_txn_end(c, DELIVER_TXN_DROP);
		return -1;
	}
	if (idx == 0) {
		if (r->code / 100 != 2) {
			/* the MAIL reply is every recipient's answer */
			c->mail_failed = true;
			deliver_txn_fail_open(c, &o);
		}
	} else if (idx <= rq->req.n_rcpt) {
		size_t i = idx - 1;
		if (!c->mail_failed) {
			if (r->code / 100 == 2) {
				rq->rstate[i] = DELIVER_R_ACCEPTED;
				c->n_accepted++;
			} else {
				rq->out[i] = o;
				rq->rstate[i] = DELIVER_R_DONE;
			}
		}
	} else {
		/* DATA */
		if (r->code == 354) {
			if (c->n_accepted == 0 || c->mail_failed) {
				/* RFC 2920 section 3.1 says 503/554 here; a server that
				 * wants data anyway cannot get a clean transaction */
				deliver_txn_end(c, DELIVER_TXN_DROP);
				return -1;
			}
			c->state = CS_BODY;
			c->body_off = 0;
			c->tail[0] = '\r';
			c->tail[1] = '\n';
			bufferevent_setcb(c->bev, deliver_conn_on_read, deliver_txn_on_write,
			                  deliver_conn_on_event, c);
			bufferevent_setwatermark(c->bev, EV_WRITE, DELIVER_BODY_CHUNK / 4, 0);
			return deliver_txn_fill(c);
		}
		for (size_t i = 0; i < rq->req.n_rcpt; i++)
			if (rq->rstate[i] == DELIVER_R_ACCEPTED) {
				rq->out[i] = o;
				rq->rstate[i] = DELIVER_R_DONE;
			}
		deliver_txn_end(c, c->mail_failed ? DELIVER_TXN_KEEP : DELIVER_TXN_RSET);
		return -1;
	}
	if (c->sent == c->replied) {
		if (c->caps.pipelining) {
			/* DATA's reply is always last; not reached */
			deliver_txn_end(c, DELIVER_TXN_RSET);
			return -1;
		}
		if (deliver_txn_next_cmd(c) < 0)
			return -1;
	}
	evtimer_del(c->timer);
	deliver_conn_arm(c, deliver_conn_cfg(c)->smtp_command_timeout_ms);
	return 0;
}

/* deliver_txn_final - the end-of-data reply (or an early one while we
 * still send, after which the connection cannot be trusted) applies to
 * every accepted recipient (RFC 5321 section 4.1.1.4). */
static void deliver_txn_final(struct deliver_conn *c, const struct smtp_reply *r)
{
	struct deliver_req *rq = c->rq;
	bool early = c->state == CS_BODY;
	struct outcome o;

	outcome_from_reply(&o, r->code, r->text, c->remote);
	for (size_t i = 0; i < rq->req.n_rcpt; i++)
		if (rq->rstate[i] == DELIVER_R_ACCEPTED) {
			rq->out[i] = o;
			rq->rstate[i] = DELIVER_R_DONE;
		}
	deliver_txn_end(c, early || r->code == 421 ? DELIVER_TXN_DROP : DELIVER_TXN_KEEP);
}

/* on_reply of the ops: the transaction's replies, by where it stands. The
 * body phases end the transaction whatever the reply says. */
int deliver_txn_on_reply(struct deliver_conn *c, const struct smtp_reply *r)
{
	if (c->state == CS_TXN)
		return deliver_txn_reply(c, r);
	deliver_txn_final(c, r);
	return -1;
}

/* on_lost of the ops: the connection broke inside the transaction, so it
 * cannot be trusted with another one. */
void deliver_txn_lost(struct deliver_conn *c, const struct outcome *o)
{
	deliver_txn_fail_open(c, o);
	deliver_txn_end(c, DELIVER_TXN_DROP);
}
