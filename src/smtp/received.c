/*
 * received.c - the Received: trace field we prepend to every message
 * (RFC 5321 section 4.4, RFC 5322 section 3.6.7):
 *
 *   Received: from HELO ([192.0.2.1])
 *   	by myhostname (mailerd) with ESMTP id QID
 *   	for <rcpt>; Thu, 03 Dec 2026 13:30:00 +0000
 *
 * TCP-info is the bare address literal (we do no reverse DNS), IPv6 as
 * "[IPv6:...]". The protocol word comes from the caller: SMTP, ESMTP, or
 * UTF8SMTP (RFC 3848, RFC 6531 section 3.7.3). The HELO name is client
 * text: anything outside printable ASCII, and parentheses, become '?' so
 * the field stays one well-formed structured header. Lines are folded
 * before each clause and end in CRLF (wire form).
 */
#include <string.h>

#include "smtp/internal.h"

#define HELO_SHOWN_MAX 255

static void put_clean(struct buf *out, const char *s)
{
	size_t n = 0;

	for (const unsigned char *u = (const unsigned char *)s; *u != '\0' && n < HELO_SHOWN_MAX;
	     u++, n++) {
		bool ok = *u > 32 && *u < 127 && *u != '(' && *u != ')' && *u != ';';
		buf_putc(out, ok ? (char)*u : '?');
	}
}

static void put_literal(struct buf *out, const char *addr)
{
	if (strchr(addr, ':') != NULL)
		buf_printf(out, "[IPv6:%s]", addr);
	else
		buf_printf(out, "[%s]", addr);
}

void smtp_received_header(struct buf *out, const char *helo, const char *client_addr,
                          const char *myhostname, const char *with, const char *qid_hint,
                          const char *for_rcpt, int64_t now_ms)
{
	char date[64];
	bool have_helo = helo != NULL && *helo != '\0';
	bool have_addr = client_addr != NULL && *client_addr != '\0';

	buf_puts(out, "Received:");
	if (have_helo || have_addr) {
		buf_puts(out, " from ");
		if (have_helo)
			put_clean(out, helo);
		if (have_helo && have_addr)
			buf_puts(out, " (");
		if (have_addr)
			put_literal(out, client_addr);
		if (have_helo && have_addr)
			buf_putc(out, ')');
		buf_puts(out, "\r\n\t");
	} else {
		buf_putc(out, ' ');
	}
	buf_printf(out, "by %s (mailerd)", myhostname != NULL ? myhostname : "localhost");
	if (with != NULL && *with != '\0')
		buf_printf(out, " with %s", with);
	if (qid_hint != NULL && *qid_hint != '\0')
		buf_printf(out, " id %s", qid_hint);
	if (for_rcpt != NULL && *for_rcpt != '\0')
		buf_printf(out, "\r\n\tfor <%s>", for_rcpt);
	util_rfc5322_date(now_ms, date, sizeof(date));
	buf_printf(out, "; %s\r\n", date);
}
