/*
 * command.c - the pure text of the client side: what an EHLO reply
 * announces, and the MAIL and RCPT command lines we send for it.
 *
 * Extensions used (each only when the peer announced it):
 *   SIZE=n          RFC 1870 section 6 (the wire-form size: an upper bound)
 *   BODY=8BITMIME   RFC 6152 section 2 (when the message was received so;
 *                   a peer without 8BITMIME gets the bytes anyway, as
 *                   Postfix does, since downgrading would change the body)
 *   SMTPUTF8        RFC 6531 section 3.4
 *   RET= ENVID=     RFC 3461 section 4.3, 4.4 (xtext passed on as stored)
 *   NOTIFY= ORCPT=  RFC 3461 section 4.1, 4.2
 * Without DSN at the peer the DSN parameters are dropped; the relay then
 * counts as "relayed" for NOTIFY=SUCCESS (RFC 3461 section 4.1), which the
 * caller sees through deliver_result.peer_has_dsn.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deliver/internal.h"
#include "spool/spool.h"
#include "util/util.h"

/* True when the first word of text (length n) is kw, ignoring case. */
static bool deliver_kw_is(const char *text, size_t n, const char *kw)
{
	size_t k = strlen(kw);

	return n == k && strncasecmp(text, kw, k) == 0;
}

void deliver_ehlo_line(struct deliver_caps *c, const char *text, size_t len)
{
	size_t w = 0;
	const char *param;
	size_t plen;

	while (w < len && text[w] != ' ')
		w++;
	param = text + w;
	plen = len - w;
	while (plen > 0 && *param == ' ') {
		param++;
		plen--;
	}
	if (deliver_kw_is(text, w, "PIPELINING")) {
		c->pipelining = true;
	} else if (deliver_kw_is(text, w, "SIZE")) {
		/* RFC 1870 section 4: "SIZE" alone or "SIZE 0" means no fixed
		 * limit; a number is the largest message the server takes. */
		uint64_t v = 0;
		c->size = true;
		for (size_t i = 0; i < plen && isdigit((unsigned char)param[i]); i++) {
			if (v > (UINT64_MAX - 9) / 10) {
				v = 0; /* absurd: treat as no limit */
				break;
			}
			v = v * 10 + (uint64_t)(param[i] - '0');
		}
		c->size_max = v;
	} else if (deliver_kw_is(text, w, "8BITMIME")) {
		c->eightbit = true;
	} else if (deliver_kw_is(text, w, "DSN")) {
		c->dsn = true;
	} else if (deliver_kw_is(text, w, "SMTPUTF8")) {
		c->smtputf8 = true;
	} else if (deliver_kw_is(text, w, "ENHANCEDSTATUSCODES")) {
		c->enhanced = true;
	}
}

void deliver_mail_cmd(struct buf *out, const struct deliver_request *req,
                      const struct deliver_caps *c)
{
	buf_printf(out, "MAIL FROM:<%s>", req->sender != NULL ? req->sender : "");
	if (c->size)
		buf_printf(out, " SIZE=%zu", req->body_len);
	if (req->eightbit && c->eightbit)
		buf_puts(out, " BODY=8BITMIME");
	if (req->smtputf8 && c->smtputf8)
		buf_puts(out, " SMTPUTF8");
	if (c->dsn) {
		if (req->ret == DSN_RET_FULL)
			buf_puts(out, " RET=FULL");
		else if (req->ret == DSN_RET_HDRS)
			buf_puts(out, " RET=HDRS");
		if (req->envid != NULL && req->envid[0] != '\0')
			buf_printf(out, " ENVID=%s", req->envid);
	}
	buf_puts(out, "\r\n");
}

void deliver_rcpt_cmd(struct buf *out, const struct deliver_rcpt *rcpt,
                      const struct deliver_caps *c)
{
	buf_printf(out, "RCPT TO:<%s>", rcpt->addr);
	if (c->dsn) {
		if (rcpt->notify & DSN_NOTIFY_NEVER) {
			buf_puts(out, " NOTIFY=NEVER");
		} else if (rcpt->notify != 0) {
			const char *sep = " NOTIFY=";
			if (rcpt->notify & DSN_NOTIFY_SUCCESS) {
				buf_printf(out, "%sSUCCESS", sep);
				sep = ",";
			}
			if (rcpt->notify & DSN_NOTIFY_FAILURE) {
				buf_printf(out, "%sFAILURE", sep);
				sep = ",";
			}
			if (rcpt->notify & DSN_NOTIFY_DELAY)
				buf_printf(out, "%sDELAY", sep);
		}
		if (rcpt->orcpt != NULL && rcpt->orcpt[0] != '\0')
			buf_printf(out, " ORCPT=%s", rcpt->orcpt);
	}
	buf_puts(out, "\r\n");
}
