/*
 * receive.c - the DATA phase of a session: from "354" to the reply after
 * the final ".", with the durable commit in between.
 *
 * Flow: DATA opens a spool writer (no writer: 452 4.3.1 instead of 354).
 * Bytes go through the DATA reader (data.c); the header section is held
 * back (at most SMTP_HEADER_MAX) until we know whether Message-ID and Date
 * are present, then Received: + header (+ missing fields) + the rest are
 * written to the spool in wire form. A message that breaks a rule (bare CR
 * or LF, NUL, a line over 998 octets, over max_message_size, a failed
 * write) is still read to its real end, so the next command is found where
 * the client thinks it is; then the writer is dropped and the rule's reply
 * sent. Nothing is queued.
 *
 * Durability (design.md): "250 2.0.0 Ok: queued as QID" is sent only from
 * the spool's commit callback, after the message and its envelope are on
 * disk. The session holds a reference across the commit; if the client
 * left meanwhile, the callback still hands the (durable) message on and
 * just skips the reply.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "smtp/internal.h"
#include "smtp/receive.h"
#include "util/mailog.h"

void smtp_receive_clear(struct smtp_session *s)
{
	spool_writer_abort(s->w);
	s->w = NULL;
	buf_reset(&s->hdr);
	buf_reset(&s->chunk);
	s->hdr_done = false;
	s->data_bytes = 0;
	s->stored = 0;
	s->write_err = 0;
	s->too_big = false;
}

void smtp_receive_begin(struct smtp_session *s)
{
	smtp_receive_clear(s);
	s->w = spool_writer_new(s->srv->sp);
	if (s->w == NULL) {
		log_warn("smtp: cannot open a queue file: %s", strerror(errno));
		smtp_session_reply(s, 452, "4.3.1", "Insufficient system storage");
		return;
	}
	smtp_data_init(&s->rx, s->srv->normalize);
	smtp_hdr_scan_init(&s->hs);
	s->data_start_ms = util_now_ms();
	s->state = SESS_DATA;
	smtp_session_set_timeout(s, s->srv->cfg->smtpd_data_timeout_ms);
	/* the whole DATA phase is bounded too, not just the gaps */
	smtp_session_set_deadline(s, s->srv->cfg->smtpd_data_deadline_ms);
	smtp_session_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

static bool refusing(const struct smtp_session *s)
{
	/* in normalize mode bare line ends were already turned into CRLF */
	return (s->rx.bare && !s->rx.normalize) || s->rx.nul || s->rx.long_line || s->too_big ||
	       s->write_err != 0;
}

static void store(struct smtp_session *s, const void *p, size_t n)
{
	if (s->write_err != 0 || n == 0)
		return;
	if (spool_writer_write(s->w, p, n) < 0) {
		s->write_err = errno != 0 ? errno : EIO;
		log_warn("smtp: queue file write failed: %s", strerror(s->write_err));
		return;
	}
	s->stored += n;
}

/* with_word - RFC 3848 / RFC 6531 section 3.7.3 protocol names */
static const char *with_word(const struct smtp_session *s)
{
	if (!s->esmtp)
		return "SMTP";
	return s->mp.smtputf8 ? "UTF8SMTP" : "ESMTP";
}

/* flush_header - write Received:, the held header section and, when add
 * is set, the missing Date/Message-ID at the end of the header section */
static void flush_header(struct smtp_session *s, bool add)
{
	const char *id = spool_writer_id(s->w);
	const char *host = s->srv->hostname;
	struct buf b;
	size_t end = s->hs.end_off;

	buf_init(&b);
	smtp_received_header(&b, s->helo, s->ip, host, with_word(s), id,
	                     s->nrcpt == 1 ? s->rcpt[0].addr : NULL, s->data_start_ms);
	if (!add || end > s->hdr.len) {
		buf_append(&b, s->hdr.data, s->hdr.len);
	} else {
		buf_append(&b, s->hdr.data, end);
		/* RFC 5322 section 3.6: Date is required, Message-ID should be
		 * there; RFC 5321 section 6.4 lets the server add them */
		if (!s->hs.has_date) {
			char date[64];
			util_rfc5322_date(s->data_start_ms, date, sizeof(date));
			buf_printf(&b, "Date: %s\r\n", date);
		}
		if (!s->hs.has_msgid)
			buf_printf(&b, "Message-ID: <%s.%lld@%s>\r\n", id,
			           (long long)s->data_start_ms, host);
		if (s->hs.need_blank)
			buf_append(&b, "\r\n", 2);
		buf_append(&b, s->hdr.data + end, s->hdr.len - end);
	}
	store(s, b.data, b.len);
	buf_free(&b);
	buf_reset(&s->hdr);
	s->hdr_done = true;
}

size_t smtp_receive_feed(struct smtp_session *s, const char *in, size_t len)
{
	uint64_t max = s->srv->cfg->max_message_size;
	size_t used = smtp_data_feed(&s->rx, in, len, &s->chunk);

	s->data_bytes += s->chunk.len;
	if (max > 0 && s->data_bytes > max)
		s->too_big = true;
	if (!refusing(s) && s->chunk.len > 0) {
		if (!s->hdr_done) {
			buf_append(&s->hdr, s->chunk.data, s->chunk.len);
			if (smtp_hdr_scan_feed(&s->hs, s->hdr.data, s->hdr.len))
				flush_header(s, true);
			else if (s->hdr.len > SMTP_HEADER_MAX)
				flush_header(s, false); /* stop looking */
		} else {
			store(s, s->chunk.data, s->chunk.len);
		}
	}
	buf_reset(&s->chunk);
	if (s->rx.done)
		smtp_receive_end(s);
	return used;
}

static void on_commit(int err, struct spool_msg *msg, void *arg)
{
	struct smtp_session *s = arg;

	if (err != 0 || msg == NULL) {
		log_warn("smtp: queue commit failed: %s", strerror(err != 0 ? err : EIO));
		smtp_session_reply(s, 452, "4.3.1", "Insufficient system storage");
	} else {
		char id[SPOOL_ID_MAX];

		util_strlcpy(id, msg->id, sizeof(id));
		mailog_received(msg->id, msg->sender, s->stored, msg->n_rcpt, msg->client, "smtp");
		/* ownership of msg passes on; a server that is gone cannot
		 * schedule it, and the spool scan at the next start will */
		if (s->srv != NULL && s->srv->on_accepted != NULL)
			s->srv->on_accepted(msg, s->srv->arg);
		else
			spool_msg_free(msg);
		smtp_session_reply(s, 250, "2.0.0", "Ok: queued as %s", id);
	}
	smtp_session_reset_tx(s);
	if (s->srv != NULL) {
		smtp_session_set_timeout(s, s->srv->cfg->smtpd_timeout_ms);
		smtp_session_set_deadline(s, s->srv->cfg->smtpd_timeout_ms);
	}
	/* pipelined commands that arrived during the commit */
	smtp_session_process(s);
	if (s->eof && s->state != SESS_COMMIT)
		smtp_session_close_after_flush(s);
	smtp_session_release(s);
}

/* envelope - the spool's copy of the transaction */
static struct spool_msg *envelope(struct smtp_session *s)
{
	struct spool_msg *env = spool_msg_new();

	util_strlcpy(env->sender, s->sender.is_null ? "" : s->sender.addr, sizeof(env->sender));
	util_strlcpy(env->envid, s->mp.envid, sizeof(env->envid));
	env->ret = (enum dsn_ret)s->mp.ret;
	env->smtputf8 = s->mp.smtputf8;
	env->eightbit = s->mp.body == 8;
	env->origin = SPOOL_ORIGIN_SMTP;
	env->arrival_ms = s->data_start_ms;
	snprintf(env->client, sizeof(env->client), "%.220s (%.64s)", s->helo, s->ip);
	for (size_t i = 0; i < s->nrcpt; i++) {
		struct spool_rcpt *r = spool_msg_add_rcpt(env, s->rcpt[i].addr);
		r->notify = s->rcpt[i].notify;
		util_strlcpy(r->orcpt, s->rcpt[i].orcpt, sizeof(r->orcpt));
	}
	return env;
}

void smtp_receive_end(struct smtp_session *s)
{
	struct spool_writer *w;

	smtp_session_set_timeout(s, s->srv->cfg->smtpd_timeout_ms);
	smtp_session_set_deadline(s, s->srv->cfg->smtpd_timeout_ms);
	if (!refusing(s) && !s->hdr_done) {
		/* the header section never ended: it is the whole message, and
		 * missing fields go at its end */
		s->hs.end_off = s->hdr.len;
		s->hs.need_blank = false;
		flush_header(s, true);
	}
	if (refusing(s)) {
		if (s->rx.nul)
			smtp_session_reply(s, 550, "5.6.0", "Message contains NUL characters");
		else if (s->rx.bare && !s->rx.normalize)
			smtp_session_reply(s, 550, "5.6.11",
			                   "Message contains bare LF or CR "
			                   "(SMTP smuggling protection)");
		else if (s->rx.long_line)
			/* RFC 5321 section 4.5.3.1.6; splitting the line would
			 * change the message (and break signatures), refusing
			 * tells the sender exactly what is wrong */
			smtp_session_reply(s, 550, "5.6.0",
			                   "Message contains a line longer than 998 octets "
			                   "(RFC 5322 section 2.1.1)");
		else if (s->too_big)
			smtp_session_reply(s, 552, "5.3.4",
			                   "Message size exceeds fixed maximum "
			                   "message size");
		else
			smtp_session_reply(s, 452, "4.3.1", "Insufficient system storage");
		log_info("smtp: message from [%s] refused (%s)", s->ip,
		         s->rx.nul                        ? "NUL"
		         : s->rx.bare && !s->rx.normalize ? "bare CR/LF"
		         : s->rx.long_line                ? "line too long"
		         : s->too_big                     ? "size"
		                                          : "storage");
		smtp_session_reset_tx(s);
		return;
	}
	w = s->w;
	s->w = NULL;
	s->state = SESS_COMMIT;
	smtp_session_hold(s);
	if (spool_writer_commit(w, envelope(s), on_commit, s) < 0) {
		log_warn("smtp: queue commit failed: %s", strerror(errno));
		smtp_session_reply(s, 452, "4.3.1", "Insufficient system storage");
		smtp_session_reset_tx(s);
		smtp_session_release(s);
	}
}
