/*
 * fuzz_smtp_reply.c - untrusted server replies through smtp_reply_feed, the
 * way the delivery client sees them: the input is split into lines on LF
 * (a CR before it is dropped by the parser), fed one by one, and a new reply
 * starts after each complete or malformed one. Each finished reply also
 * goes through outcome_from_reply. Checked besides "no crash, no UB":
 * the code is 200-599, the text stays terminated inside its array, the
 * keywords are upper case, and the outcome's status is valid RFC 3463
 * syntax whose class agrees with the outcome's kind.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"
#include "util/outcome.h"

static void check_reply(const struct smtp_reply *r)
{
	struct outcome o;
	char cls;

	if (r->code < 200 || r->code > 599)
		abort();
	if (memchr(r->text, '\0', sizeof(r->text)) == NULL)
		abort();
	for (size_t i = 0; i < r->nlines && i < 16; i++)
		for (const char *p = r->line_kw[i]; *p; p++)
			if (islower((unsigned char)*p))
				abort();
	outcome_from_reply(&o, r->code, r->text, "fuzz[127.0.0.1]:25");
	if (!outcome_is_valid_status(o.status, strlen(o.status)))
		abort();
	cls = o.kind == OUTCOME_OK ? '2' : o.kind == OUTCOME_TEMP ? '4' : '5';
	if (o.status[0] != cls || memchr(o.text, '\0', sizeof(o.text)) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	const char *p = (const char *)data, *end = p + size;

	smtp_reply_init(&r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int st = smtp_reply_feed(&r, p, len);

		if (st == 1)
			check_reply(&r);
		if (st != 0)
			smtp_reply_init(&r);
		p += len + (nl ? 1 : 0);
	}
	return 0;
}
