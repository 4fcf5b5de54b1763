/*
 * fuzz_smtp_command.c - untrusted command lines through the server's
 * grammar: verb recognition, then the MAIL or RCPT argument parser, as the
 * session calls them. The same bytes also go through the DATA reader and
 * the header scan (both normalize modes, split at a fuzzer-chosen point) to
 * check that splitting never changes the result.
 *
 * Invariants checked: a parse that succeeds yields NUL-terminated fields
 * within their limits; a failure carries a 4xx/5xx code and a status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"

static void check_path(const struct smtp_path *p)
{
	if (strlen(p->addr) > SMTP_PATH_MAX || strlen(p->domain) > SMTP_DOMAIN_MAX)
		abort();
	if (p->is_null && p->addr[0] != '\0')
		abort();
}

static void check_err(const struct smtp_error *e)
{
	if (e->code < 400 || e->code > 599 || e->status[0] == '\0')
		abort();
}

static void data_split(const uint8_t *data, size_t size, bool normalize)
{
	struct smtp_data_rx a, b;
	struct buf oa = {0}, ob = {0};
	size_t cut = size > 0 ? data[0] % (size + 1) : 0;
	size_t ua, ub;
	struct smtp_hdr_scan hs;

	smtp_data_init(&a, normalize);
	smtp_data_init(&b, normalize);
	ua = smtp_data_feed(&a, (const char *)data, size, &oa);
	ub = smtp_data_feed(&b, (const char *)data, cut, &ob);
	if (ub == cut && !b.done)
		ub += smtp_data_feed(&b, (const char *)data + cut, size - cut, &ob);
	if (ua != ub || a.done != b.done || a.bare != b.bare || a.nul != b.nul || oa.len != ob.len ||
	    (oa.len > 0 && memcmp(oa.data, ob.data, oa.len) != 0))
		abort();
	/* normalized output never contains a bare CR or LF, nor an early end */
	if (normalize && oa.len > 0) {
		for (size_t i = 0; i < oa.len; i++) {
			if (oa.data[i] == '\n' && (i == 0 || oa.data[i - 1] != '\r'))
				abort();
			if (oa.data[i] == '\r' && (i + 1 >= oa.len || oa.data[i + 1] != '\n'))
				abort();
		}
		if (memmem(oa.data, oa.len, "\r\n.\r\n", 5) != NULL ||
		    (oa.len >= 3 && memcmp(oa.data, ".\r\n", 3) == 0))
			abort();
	}
	smtp_hdr_scan_init(&hs);
	smtp_hdr_scan_feed(&hs, oa.data ? oa.data : "", oa.len);
	if (hs.ended && hs.end_off > oa.len)
		abort();
	buf_free(&oa);
	buf_free(&ob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[SMTP_CMDLINE_MAX + 1];
	size_t n = size < SMTP_CMDLINE_MAX ? size : SMTP_CMDLINE_MAX;
	const char *args;
	struct smtp_path path;
	struct smtp_error err;
	enum smtp_verb verb;

	/* the session hands over a NUL-terminated line without CRLF */
	memcpy(line, data, n);
	line[n] = '\0';
	n = strlen(line);
	verb = smtp_parse_verb(line, n, &args);
	if (args < line || args > line + n)
		abort();
	if (verb == SMTP_MAIL) {
		struct smtp_mail_params mp;
		if (smtp_parse_mail(args, strlen(args), &path, &mp, &err) == 0) {
			check_path(&path);
			if (strlen(mp.envid) > 100)
				abort();
		} else {
			check_err(&err);
		}
	} else if (verb == SMTP_RCPT) {
		struct smtp_rcpt_params rp;
		if (smtp_parse_rcpt(args, strlen(args), &path, &rp, &err) == 0) {
			check_path(&path);
			if (strlen(rp.orcpt) > 500 || path.is_null)
				abort();
			if ((rp.notify & DSN_NOTIFY_NEVER) && rp.notify != DSN_NOTIFY_NEVER)
				abort();
		} else {
			check_err(&err);
		}
	}
	data_split(data, size, false);
	data_split(data, size, true);
	return 0;
}
