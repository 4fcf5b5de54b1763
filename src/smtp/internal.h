/*
 * internal.h - declarations shared by the files of src/smtp only (other
 * parts include smtp.h). Holds the small character-class helpers of the
 * grammar and the server's session structures.
 *
 * The server's files depend one way: command.c calls receive.c, both call
 * session.c, and session.c names neither. The session (the connection)
 * calls up only through the smtp_session_handlers that server.c gives it
 * at start; command.h and receive.h are separate headers so that
 * session.c cannot name them by accident.
 */
#ifndef MAILERD_SMTP_INTERNAL_H
#define MAILERD_SMTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/smtp.h"

/* smtp_error_set - fill an error reply (text is printf-formatted) */
void smtp_error_set(struct smtp_error *err, int code, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* smtp_utf8_seq - length (2..4) of the well-formed UTF-8 sequence at s
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), 0 if none */
size_t smtp_utf8_seq(const unsigned char *s, size_t len);

/* RFC 5322 atext (ASCII part) */
bool smtp_is_atext(unsigned char c);

/* smtp_xtext_valid - RFC 3461 section 4 xtext; allow_utf8 also accepts
 * UTF-8 sequences (RFC 6533 utf-8-addr-unitext) */
bool smtp_xtext_valid(const char *s, size_t len, bool allow_utf8);

/* ---- the server (server.c, session.c, command.c, receive.c) ---- */
struct bufferevent;
struct evconnlistener;
struct event;
struct smtp_session;

#define SMTP_ERROR_LIMIT 20           /* 5xx replies before 421 and close */
#define SMTP_INPUT_MAX   (64 * 1024)  /* read high watermark per session */
#define SMTP_OUTPUT_MAX  (256 * 1024) /* stop reading commands past this */
#define SMTP_HEADER_MAX  (256 * 1024) /* header section buffered for scan */

enum smtp_sess_state {
	SESS_INIT = 0, /* greeted, no HELO/EHLO yet */
	SESS_READY,    /* after HELO/EHLO, no transaction */
	SESS_MAIL,     /* MAIL accepted */
	SESS_DATA,     /* receiving message data */
	SESS_COMMIT,   /* waiting for the spool's durable commit */
};

struct smtp_rcpt_entry {
	char addr[SMTP_PATH_MAX + 1];
	unsigned notify;
	char orcpt[SPOOL_ORCPT_MAX];
};

struct smtp_server {
	struct event_base *base;
	const struct config *cfg;
	struct spool *sp;
	smtp_accepted_fn on_accepted;
	void *arg;
	struct smtp_relay *relay;
	struct evconnlistener **lev;
	size_t nlev;
	struct smtp_session *sessions; /* doubly linked list of live sessions */
	const char *hostname;
	bool normalize;
	size_t max_rcpt;
	smtp_rcpt_check_fn rcpt_check; /* suppression hook, may be NULL */
	void *rcpt_check_arg;
	smtp_local_rcpt_fn local_rcpt; /* signed return paths hook, may be NULL */
	void *local_rcpt_arg;
	struct smtp_limits *limits; /* connection and message-rate limits */
};

/* smtp_session_line_fn - one complete command line, CRLF stripped and
 * NUL-terminated at line[len]; the handler may modify it */
typedef void (*smtp_session_line_fn)(struct smtp_session *s, char *line, size_t len);
/* smtp_session_data_fn - bytes of the DATA phase; returns how many it
 * used (fewer than len once the final "." is seen) */
typedef size_t (*smtp_session_data_fn)(struct smtp_session *s, const char *in, size_t len);
/* smtp_session_clear_fn - drop the DATA state of the transaction (spool
 * writer, buffers); called on reset and when the session is freed */
typedef void (*smtp_session_clear_fn)(struct smtp_session *s);

/* smtp_session_handlers - what a session calls up into. Pointers rather
 * than names because the handlers call down into session.c (replies,
 * resets, holds): naming them here too would make the three files one
 * tangle that can only be read, tested and changed together. */
struct smtp_session_handlers {
	smtp_session_line_fn on_line;        /* outside DATA */
	smtp_session_data_fn on_data;        /* in state SESS_DATA */
	smtp_session_clear_fn on_data_clear; /* reset_tx and the last release */
};

struct smtp_session {
	struct smtp_server *srv; /* NULL once the server is gone */
	/* kept in the session, not in srv: the last release (which clears
	 * DATA state) can come after the server is freed */
	const struct smtp_session_handlers *handlers;
	struct smtp_session *prev, *next;
	struct bufferevent *bev; /* NULL once the connection is gone */
	int refs;                /* the connection + an in-flight commit + callers */
	bool closing;            /* last reply queued, close when flushed */
	bool discarding;         /* dropping the rest of an over-long line */
	bool out_full;           /* waiting for the client to read replies */
	bool eof;                /* the client closed its sending side */
	bool counted;            /* holds a slot in srv->limits */
	struct event *deadline;  /* per-command / per-DATA deadline */
	char ip[64];
	char helo[256];
	bool esmtp;
	int errors;
	enum smtp_sess_state state;

	/* the transaction */
	struct smtp_path sender;
	struct smtp_mail_params mp;
	struct smtp_rcpt_entry *rcpt;
	size_t nrcpt, rcpt_cap;
	bool rcpt_tried;

	/* DATA */
	struct spool_writer *w;
	struct smtp_data_rx rx;
	struct smtp_hdr_scan hs;
	struct buf hdr; /* header section until scanned */
	bool hdr_done;
	struct buf chunk;
	uint64_t data_bytes; /* message bytes received (wire form) */
	size_t stored;       /* bytes written to the spool file */
	int write_err;
	bool too_big;
	int64_t data_start_ms;
};

/* session.c */
/* smtp_session_start - counted: the session holds a limits slot to give
 * back when it ends; handlers (borrowed, must outlive the session: a
 * static const table) receive its lines and DATA bytes */
void smtp_session_start(struct smtp_server *srv, int fd, const char *ip, bool counted,
                        const struct smtp_session_handlers *handlers);
void smtp_session_reply(struct smtp_session *s, int code, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* smtp_session_raw - preformatted reply lines (multi-line replies) */
void smtp_session_raw(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtp_session_reply_err(struct smtp_session *s, const struct smtp_error *err);
void smtp_session_close_after_flush(struct smtp_session *s);
void smtp_session_process(struct smtp_session *s);
void smtp_session_drop(struct smtp_session *s);
void smtp_session_hold(struct smtp_session *s);
void smtp_session_release(struct smtp_session *s);
void smtp_session_set_timeout(struct smtp_session *s, int64_t ms);
/* smtp_session_set_deadline - end the session with 421 4.4.2 ms from now
 * unless re-armed; bytes arriving do not push it back (slowloris) */
void smtp_session_set_deadline(struct smtp_session *s, int64_t ms);
void smtp_session_stop_timer(struct smtp_session *s);
void smtp_session_reset_tx(struct smtp_session *s);

#endif
