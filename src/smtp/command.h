/*
 * command.h - the command handlers of the SMTP server (command.c), for
 * src/smtp only. Kept out of internal.h so that session.c, which calls
 * them only through struct smtp_session_handlers, cannot name them.
 */
#ifndef MAILERD_SMTP_COMMAND_H
#define MAILERD_SMTP_COMMAND_H

#include <stddef.h>

struct smtp_session;

/* smtp_command_run - act on one command line (an smtp_session_line_fn) */
void smtp_command_run(struct smtp_session *s, char *line, size_t len);

#endif
