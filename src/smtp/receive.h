/*
 * receive.h - the DATA phase of the SMTP server (receive.c), for src/smtp
 * only. Kept out of internal.h so that session.c, which calls it only
 * through struct smtp_session_handlers, cannot name it.
 */
#ifndef MAILERD_SMTP_RECEIVE_H
#define MAILERD_SMTP_RECEIVE_H

#include <stddef.h>

struct smtp_session;

/* smtp_receive_begin - answer DATA: 354, or 452 without a spool writer */
void smtp_receive_begin(struct smtp_session *s);
/* smtp_receive_feed - message bytes (an smtp_session_data_fn) */
size_t smtp_receive_feed(struct smtp_session *s, const char *in, size_t len);
/* smtp_receive_end - after the final ".": refuse, or commit to the spool */
void smtp_receive_end(struct smtp_session *s);
/* smtp_receive_clear - drop DATA state (an smtp_session_clear_fn) */
void smtp_receive_clear(struct smtp_session *s);

#endif
