/*
 * internal.h - shared by intake.c (lifecycle, queue, RCPT decision) and
 * handle.c (what one received bounce becomes).
 */
#ifndef MAILERD_INTAKE_INTERNAL_H
#define MAILERD_INTAKE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "intake/intake.h"
#include "signing/signing.h"
#include "util/outcome.h"

struct suppress_store;

enum ijob_kind { IJOB_MESSAGE, IJOB_BACKSCATTER };

/* One piece of work for the worker. A message job owns its body fd until
 * the worker closes it, and goes back to the loop with one outcome per
 * recipient. */
struct ijob {
	enum ijob_kind kind;
	struct ijob *next;
	/* IJOB_MESSAGE */
	char qid[32];
	int fd;
	size_t len;
	size_t n;
	char **rcpt;
	struct outcome *out;
	deliver_done_fn done;
	void *done_arg;
	int64_t started_ms;
	/* IJOB_BACKSCATTER */
	char *bs_kind;
	char *bs_detail;
};

/* What handle.c needs of the intake (read-only while the worker runs). */
struct intake_ctx {
	struct suppress_store *st; /* the worker's connection */
	struct signing_key key;
	int64_t lifetime_ms; /* queue_lifetime, for tag expiry */
};

/* intake_handle_message - read, parse and record one queued message;
 * fills j->out (OK, or TEMP when the store failed so it is tried again) */
void intake_handle_message(const struct intake_ctx *ctx, struct ijob *j);
/* intake_record_backscatter - one count; logs and drops a failure */
void intake_record_backscatter(const struct intake_ctx *ctx, const char *kind, const char *detail);

#endif
