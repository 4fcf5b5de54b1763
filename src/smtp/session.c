/*
 * session.c - one SMTP server connection: reading command lines, writing
 * replies, timeouts and the session's lifetime.
 *
 * Invariants:
 *  - Input is processed strictly in order, one command at a time, and
 *    nothing is read ahead while a DATA commit is in flight, so pipelined
 *    commands (RFC 2920) see the state their predecessors left. Replies are
 *    appended to the bufferevent's output and leave together when the loop
 *    gets back to the socket, which batches a pipelined group's replies.
 *  - Memory per session is bounded: input stops being read past
 *    SMTP_INPUT_MAX (read high watermark); a command line longer than
 *    SMTP_CMDLINE_MAX (RFC 5321 section 4.5.3.1.4) is discarded through its
 *    end and answered "500 5.5.2"; if the client does not read its replies,
 *    processing pauses once SMTP_OUTPUT_MAX bytes are waiting.
 *  - The session is reference counted: the connection holds one reference
 *    and an in-flight spool commit another, so a client that disconnects
 *    during a commit never makes the commit callback touch freed memory.
 *  - Command lines and DATA bytes go up through the session's
 *    smtp_session_handlers, never to command.c or receive.c by name: those
 *    call down into this file for replies, resets and holds, and a call
 *    back by name would tie the three files into a loop.
 *
 * Timeouts (RFC 5321 section 4.5.3.2): smtpd_timeout_ms while waiting for
 * a command, smtpd_data_timeout_ms inside DATA; both end the session with
 * "421 4.4.2 host Error: timeout exceeded". The bufferevent's read timeout
 * restarts with every byte, so on its own it lets a client that dribbles
 * one byte at a time (slowloris) hold a session forever. So each session
 * also has a deadline that bytes do not push back: smtpd_timeout_ms from
 * the end of the previous command to the end of the next command line,
 * and smtpd_data_deadline_ms for the whole DATA phase. Nothing runs
 * against the deadline while a spool commit is in flight (our wait, not
 * the client's).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "smtp/internal.h"

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_deadline(evutil_socket_t fd, short what, void *arg);

void smtp_session_hold(struct smtp_session *s)
{
	s->refs++;
}

void smtp_session_release(struct smtp_session *s)
{
	if (--s->refs > 0)
		return;
	s->handlers->on_data_clear(s);
	buf_free(&s->hdr);
	buf_free(&s->chunk);
	free(s->rcpt);
	free(s);
}

void smtp_session_set_timeout(struct smtp_session *s, int64_t ms)
{
	struct timeval tv;

	if (s->bev == NULL)
		return;
	if (ms <= 0) {
		bufferevent_set_timeouts(s->bev, NULL, NULL);
		return;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

void smtp_session_set_deadline(struct smtp_session *s, int64_t ms)
{
	struct timeval tv;

	if (s->bev == NULL || s->deadline == NULL)
		return;
	if (ms <= 0) {
		evtimer_del(s->deadline);
		return;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(s->deadline, &tv);
}

/* smtp_session_stop_timer - the deadline timer goes with the connection */
void smtp_session_stop_timer(struct smtp_session *s)
{
	if (s->deadline != NULL) {
		event_free(s->deadline);
		s->deadline = NULL;
	}
}

void smtp_session_start(struct smtp_server *srv, int fd, const char *ip, bool counted,
                        const struct smtp_session_handlers *handlers)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->handlers = handlers;
	s->refs = 1; /* the connection */
	util_strlcpy(s->ip, ip, sizeof(s->ip));
	s->counted = counted;
	s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->deadline = evtimer_new(srv->base, on_deadline, s);
	if (s->bev == NULL || s->deadline == NULL) {
		log_error("smtp: cannot set up a session for %s", ip);
		if (s->bev != NULL)
			bufferevent_free(s->bev);
		else
			evutil_closesocket(fd);
		smtp_session_stop_timer(s);
		if (counted)
			smtp_limits_disconnect(srv->limits, ip, util_now_ms());
		free(s);
		return;
	}
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_MAX);
	smtp_session_set_timeout(s, srv->cfg->smtpd_timeout_ms);
	smtp_session_set_deadline(s, srv->cfg->smtpd_timeout_ms);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_debug("smtp: connect from [%s]", ip);
	/* RFC 5321 section 4.2: the greeting names us */
	smtp_session_reply(s, 220, NULL, "%s ESMTP mailerd", srv->hostname);
}

/* smtp_session_drop - the connection is gone (or we end it now) */
void smtp_session_drop(struct smtp_session *s)
{
	if (s->bev == NULL)
		return;
	log_debug("smtp: disconnect from [%s]", s->ip);
	bufferevent_free(s->bev);
	s->bev = NULL;
	smtp_session_stop_timer(s);
	if (s->srv != NULL && s->counted)
		smtp_limits_disconnect(s->srv->limits, s->ip, util_now_ms());
	s->counted = false;
	if (s->srv != NULL) {
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			s->srv->sessions = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
	}
	s->prev = s->next = NULL;
	smtp_session_release(s);
}

static void reply_v(struct smtp_session *s, int code, const char *status, const char *fmt,
                    va_list ap)
{
	char text[600];
	struct evbuffer *out;

	if (s->bev == NULL || s->closing)
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	out = bufferevent_get_output(s->bev);
	if (status != NULL && *status != '\0')
		evbuffer_add_printf(out, "%d %s %s\r\n", code, status, text);
	else
		evbuffer_add_printf(out, "%d %s\r\n", code, text);
	if (code >= 500 && ++s->errors >= SMTP_ERROR_LIMIT) {
		evbuffer_add_printf(out, "421 4.7.0 %s Error: too many errors\r\n",
		                    s->srv != NULL ? s->srv->hostname : "mailerd");
		log_info("smtp: too many errors from [%s]", s->ip);
		smtp_session_close_after_flush(s);
	}
}

void smtp_session_reply(struct smtp_session *s, int code, const char *status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_v(s, code, status, fmt, ap);
	va_end(ap);
}

void smtp_session_raw(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->bev == NULL || s->closing)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
}

void smtp_session_reply_err(struct smtp_session *s, const struct smtp_error *err)
{
	smtp_session_reply(s, err->code, err->status, "%s", err->text);
}

void smtp_session_close_after_flush(struct smtp_session *s)
{
	if (s->bev == NULL || s->closing)
		return;
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		smtp_session_drop(s);
	/* else on_write drops it once the last reply is out */
}

void smtp_session_reset_tx(struct smtp_session *s)
{
	s->handlers->on_data_clear(s);
	memset(&s->sender, 0, sizeof(s->sender));
	memset(&s->mp, 0, sizeof(s->mp));
	s->nrcpt = 0;
	s->rcpt_tried = false;
	if (s->state != SESS_INIT)
		s->state = SESS_READY;
}

/* read_line - one command line from input, or 0 when none is complete */
static int read_line(struct smtp_session *s, struct evbuffer *in)
{
	char line[SMTP_CMDLINE_MAX + 1];
	struct evbuffer_ptr eol;
	size_t eol_len = 0;
	size_t n;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos < 0) {
		/* no line end yet: keep at most one command line's worth */
		if (evbuffer_get_length(in) >= SMTP_CMDLINE_MAX) {
			evbuffer_drain(in, evbuffer_get_length(in));
			s->discarding = true;
		}
		return 0;
	}
	n = (size_t)eol.pos;
	/* a complete line: the next one has its own smtpd_timeout (DATA
	 * replaces this with the DATA deadline) */
	if (s->srv != NULL)
		smtp_session_set_deadline(s, s->srv->cfg->smtpd_timeout_ms);
	if (s->discarding || n + 1 > SMTP_CMDLINE_MAX) {
		evbuffer_drain(in, n + 1);
		s->discarding = false;
		smtp_session_reply(s, 500, "5.5.2", "Error: line too long");
		return 1;
	}
	evbuffer_remove(in, line, n + 1);
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (memchr(line, '\0', n) != NULL) {
		smtp_session_reply(s, 500, "5.5.2", "Error: NUL character in command");
		return 1;
	}
	/* RFC 5321 section 2.3.8: CR only as part of CRLF. A bare CR inside
	 * a command line is a line end to some parsers and not to others,
	 * the stuff of command injection: refuse the whole line. */
	if (memchr(line, '\r', n) != NULL) {
		smtp_session_reply(s, 500, "5.5.2", "Error: bare CR in command");
		return 1;
	}
	s->handlers->on_line(s, line, n);
	return 1;
}

/* feed_data - hand buffered input to the DATA reader */
static int feed_data(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec vec[4];
	int nvec = evbuffer_peek(in, -1, NULL, vec, 4);
	size_t total = 0;

	if (nvec <= 0)
		return 0;
	for (int i = 0; i < nvec && i < 4 && s->state == SESS_DATA; i++) {
		size_t used = s->handlers->on_data(s, vec[i].iov_base, vec[i].iov_len);
		total += used;
		if (used < vec[i].iov_len)
			break;
	}
	evbuffer_drain(in, total);
	return total > 0 ? 1 : 0;
}

void smtp_session_process(struct smtp_session *s)
{
	smtp_session_hold(s);
	while (s->bev != NULL && !s->closing && s->state != SESS_COMMIT) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		int progressed;

		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > SMTP_OUTPUT_MAX) {
			/* the client does not read: wait for on_write */
			s->out_full = true;
			bufferevent_setwatermark(s->bev, EV_WRITE, SMTP_OUTPUT_MAX / 2, 0);
			break;
		}
		if (evbuffer_get_length(in) == 0)
			break;
		if (s->state == SESS_DATA)
			progressed = feed_data(s, in);
		else
			progressed = read_line(s, in);
		if (!progressed)
			break;
	}
	smtp_session_release(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	smtp_session_process(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			smtp_session_drop(s);
		return;
	}
	if (s->out_full) {
		s->out_full = false;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		smtp_session_process(s);
	}
}

/* on_deadline - the client took too long for one command line or for
 * the whole DATA phase, however steadily its bytes trickled in */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)fd;
	(void)what;
	if (s->bev == NULL || s->closing || s->state == SESS_COMMIT)
		return; /* a commit re-arms it when done */
	log_info("smtp: deadline exceeded %s from [%s]",
	         s->state == SESS_DATA ? "in DATA" : "for a command", s->ip);
	smtp_session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
	                   s->srv != NULL ? s->srv->hostname : "mailerd");
	smtp_session_close_after_flush(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && !s->closing) {
		log_info("smtp: timeout after %s from [%s]",
		         s->state == SESS_DATA ? "DATA" : "command", s->ip);
		smtp_session_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
		                   s->srv != NULL ? s->srv->hostname : "mailerd");
		/* the write timeout still bounds how long the 421 may take */
		smtp_session_close_after_flush(s);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !s->closing) {
		/* A client may send its last commands and shut down its side
		 * (SHUT_WR) while still reading: answer what is buffered, then
		 * close. With a commit in flight, on_commit finishes the job. */
		s->eof = true;
		bufferevent_disable(s->bev, EV_READ);
		smtp_session_hold(s);
		smtp_session_process(s);
		if (s->state != SESS_COMMIT)
			smtp_session_close_after_flush(s);
		smtp_session_release(s);
		return;
	}
	/* error, or a client that would not read our replies */
	smtp_session_drop(s);
}
