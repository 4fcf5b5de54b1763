/*
 * text.c - part 1 of a report: the words for a person (text/plain;
 * charset=utf-8, RFC 6522 section 3 says the first part is free text).
 *
 * Owns: the built-in texts, their replacement by operator files, the
 * ${placeholder} expansion, and wrapping to readable lines.
 *
 * The text is an introduction for the kind of report, then one paragraph
 * per recipient. Both come from templates: built-in ones, or files in
 * report_templates named "intro-<kind>.txt" (kind = failed, delayed,
 * delivered, relayed, doublebounce) and "<reason>.txt" (userunknown,
 * hostunknown, notaccept, mailboxfull, filtered, blocked, mesgtoobig,
 * expired, delayed, delivered, relayed, other). Placeholders:
 *   ${recipient} ${remote_text} ${remote} ${said} ${status} ${title}
 *   ${meaning} ${advice} ${suggestion} ${retry_until} ${limit}
 *   ${myhostname} ${sender} ${count}
 * A line whose placeholders all expand to nothing is left out, so one
 * layout serves every reason ("Size limit: ${limit}" only shows when a
 * limit is known). Unknown placeholders stay as written.
 *
 * Invariants: output lines end in CRLF, hold no other control bytes, and
 * stay within 78 characters where there is white space to break at (RFC
 * 5322 section 2.1.1), never beyond 998. A missing or unreadable template
 * file falls back to the built-in text with a log line; it never stops a
 * report.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report_int.h"

#define TEMPLATE_MAX 65536

static const char *const intro_builtin[] = {
    [REPORT_FAILED] = "This is the mail system at ${myhostname}.\n"
                      "\n"
                      "Your message could not be delivered to ${count}. This server has "
                      "stopped trying. A copy of your message (only its header when it is "
                      "large) is attached below.\n",
    [REPORT_DELAYED] = "This is the mail system at ${myhostname}.\n"
                       "\n"
                       "Your message has not been delivered yet to ${count}. This server "
                       "keeps trying until ${retry_until}; you do not need to send it "
                       "again. If it still cannot be delivered by then, you will get "
                       "another message.\n",
    [REPORT_DELIVERED] = "This is the mail system at ${myhostname}.\n"
                         "\n"
                         "Your message was delivered to ${count}, as you asked to be "
                         "told.\n",
    [REPORT_RELAYED] = "This is the mail system at ${myhostname}.\n"
                       "\n"
                       "Your message was passed on to the next mail server for ${count}. "
                       "That server does not send delivery confirmations, so no further "
                       "notice will follow.\n",
};
static const char *const intro_names[] = {
    [REPORT_FAILED] = "failed",
    [REPORT_DELAYED] = "delayed",
    [REPORT_DELIVERED] = "delivered",
    [REPORT_RELAYED] = "relayed",
};
static const char intro_doublebounce[] =
    "This is the mail system at ${myhostname}.\n"
    "\n"
    "A delivery report that this server sent could not be delivered to ${count}. "
    "Reports are never answered by reports, so this copy goes to the postmaster "
    "once. The report is attached below.\n";

/* One layout for every reason; the reason texts fill it. */
static const char rcpt_builtin[] = "<${recipient}>: ${title}\n"
                                   "  ${said}\n"
                                   "  What it means: ${meaning}\n"
                                   "  Size limit: ${limit}\n"
                                   "  ${suggestion}\n"
                                   "  What to do: ${advice}\n";

const char *report_subject(const struct report_request *req)
{
	if (req->msg->origin == SPOOL_ORIGIN_REPORT)
		return "Postmaster Copy: Undelivered Delivery Report";
	switch (req->kind) {
	case REPORT_DELAYED: return "Delayed Mail (still being retried)";
	case REPORT_DELIVERED: return "Successful Mail Delivery Report";
	case REPORT_RELAYED: return "Relayed Mail Report";
	case REPORT_FAILED:
	default: return "Undelivered Mail Returned to Sender";
	}
}

/* Reads templates_dir/name.txt into out; false (built-in text) when there
 * is no directory or file, or it cannot be read. */
static bool template_load(const char *dir, const char *name, struct buf *out)
{
	char path[4096];
	char chunk[4096];
	ssize_t n;
	int fd;

	if (dir == NULL || dir[0] == '\0')
		return false;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.txt", dir, name) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("report template %s: %s; using the built-in text", path,
			         strerror(errno));
		return false;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && out->len < TEMPLATE_MAX)
		buf_append(out, chunk, (size_t)n);
	if (n < 0)
		log_warn("report template %s: %s; using the built-in text", path, strerror(errno));
	close(fd); /* read-only: nothing to lose on close */
	if (n < 0) {
		buf_reset(out);
		return false;
	}
	return true;
}

struct vars {
	const char *names[16];
	const char *values[16];
	size_t n;
};

static void vars_set(struct vars *v, const char *name, const char *value)
{
	if (v->n < sizeof(v->names) / sizeof(v->names[0])) {
		v->names[v->n] = name;
		v->values[v->n] = value != NULL ? value : "";
		v->n++;
	}
}

static const char *vars_get(const struct vars *v, const char *name, size_t len)
{
	for (size_t i = 0; i < v->n; i++)
		if (strlen(v->names[i]) == len && memcmp(v->names[i], name, len) == 0)
			return v->values[i];
	return NULL;
}

/* Appends line (without its end) to out, wrapped at spaces before column
 * 78; continuation lines of an indented line are indented two spaces
 * more. A word
 * too long for any line is cut at 998 bytes on a UTF-8 boundary. */
static void wrap_line(struct buf *out, const char *s, size_t len)
{
	size_t indent = 0, col = 0;
	bool first = true;

	while (indent < len && s[indent] == ' ')
		indent++;
	if (indent > 40)
		indent = 40; /* a deep indent would leave no room for words */
	if (len == 0)
		buf_puts(out, "\r\n"); /* a blank line separates paragraphs */
	while (len > 0) {
		size_t room = REPORT_LINE_SOFT - col, cut = len;

		if (len > room) {
			/* The last space within room (not inside the first line's
			 * indent); else the first one after it. */
			size_t sp = room, min = first ? indent : 0;

			while (sp > min && s[sp] != ' ')
				sp--;
			if (sp <= min) {
				sp = room;
				while (sp < len && s[sp] != ' ')
					sp++;
			}
			cut = sp;
			if (cut + col > REPORT_LINE_HARD) {
				cut = REPORT_LINE_HARD - col;
				while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
					cut--;
			}
		}
		buf_append(out, s, cut);
		buf_puts(out, "\r\n");
		s += cut;
		len -= cut;
		while (len > 0 && *s == ' ') {
			s++;
			len--;
		}
		if (len == 0)
			break;
		first = false;
		/* an indented line continues further in; a plain paragraph
		 * continues at the margin */
		col = indent > 0 ? indent + 2 : 0;
		for (size_t i = 0; i < col; i++)
			buf_putc(out, ' ');
	}
}

/* expand - template tpl with ${name} replaced, line by line, appended to
 * out with CRLF ends. Control bytes in the template become spaces. */
static void expand(struct buf *out, const char *tpl, size_t tlen, const struct vars *v)
{
	struct buf line = {0};
	size_t i = 0;

	while (i < tlen) {
		size_t end = i;
		int placeholders = 0, filled = 0;

		while (end < tlen && tpl[end] != '\n')
			end++;
		buf_reset(&line);
		for (size_t k = i; k < end; k++) {
			const char *close, *val;

			if (tpl[k] == '$' && k + 1 < end && tpl[k + 1] == '{' &&
			    (close = memchr(tpl + k + 2, '}', end - k - 2)) != NULL &&
			    (val = vars_get(v, tpl + k + 2, (size_t)(close - tpl - k - 2))) !=
			        NULL) {
				placeholders++;
				filled += val[0] != '\0';
				buf_puts(&line, val);
				k = (size_t)(close - tpl);
			} else if (tpl[k] == '\r') {
				continue; /* CRLF template files */
			} else if ((unsigned char)tpl[k] < 0x20 || tpl[k] == 0x7f) {
				buf_putc(&line, ' ');
			} else {
				buf_putc(&line, tpl[k]);
			}
		}
		while (line.len > 0 && line.data[line.len - 1] == ' ')
			line.data[--line.len] = '\0';
		if (placeholders == 0 || filled > 0)
			wrap_line(out, line.data != NULL ? line.data : "", line.len);
		i = end + 1;
	}
	buf_free(&line);
}

/* The first number of 4+ digits in text: the byte limit a size refusal
 * usually names ("552 5.3.4 Message size exceeds fixed limit 10240000"). */
static void find_limit(const char *text, char *out, size_t size)
{
	out[0] = '\0';
	for (const char *p = text; *p != '\0'; p++) {
		size_t n = strspn(p, "0123456789");

		if (n >= 4 && (p == text || p[-1] == ' ' || p[-1] == '(')) {
			unsigned long long v = strtoull(p, NULL, 10);

			snprintf(out, size, "%llu bytes (about %.1f MB)", v, (double)v / 1e6);
			return;
		}
		if (n > 0)
			p += n - 1;
	}
}

/* The host name of "mx.example.com[192.0.2.1]:25", or the [ip] itself. */
static void remote_host(const char *remote, char *out, size_t size)
{
	size_t n = strcspn(remote, "[");

	if (n == 0)
		n = strcspn(remote, "]") + (remote[0] == '[' ? 1 : 0);
	if (n >= size)
		n = size - 1;
	memcpy(out, remote, n);
	out[n] = '\0';
}

static void render_rcpt(const struct report_request *req, const struct spool_rcpt *r,
                        struct buf *out)
{
	struct report_explanation ex;
	struct vars v = {0};
	struct buf tpl = {0};
	char text[OUTCOME_TEXT_MAX], host[OUTCOME_REMOTE_MAX], said[OUTCOME_TEXT_MAX + 400];
	char sugg[400] = "", until[64] = "", limit[64] = "", addr[SPOOL_PATH_MAX];
	const char *at;

	report_explain(&r->last, r->addr, req->kind, &ex);
	report_clean_text(r->last.text, true, text, sizeof(text));
	report_clean_text(r->addr, true, addr, sizeof(addr));
	remote_host(r->last.remote, host, sizeof(host));
	if (text[0] == '\0')
		said[0] = '\0';
	else if (host[0] != '\0' && r->last.code != 0)
		snprintf(said, sizeof(said), "The server %s said: %s", host, text);
	else
		snprintf(said, sizeof(said), "This server found: %s", text);
	at = strrchr(addr, '@');
	if (ex.suggestion[0] != '\0' && at != NULL)
		snprintf(sugg, sizeof(sugg), "Did you mean %.*s@%s?", (int)(at - addr), addr,
		         ex.suggestion);
	if (req->kind == REPORT_DELAYED && req->will_retry_until_ms > 0)
		util_rfc5322_date(req->will_retry_until_ms, until, sizeof(until));
	if (ex.reason == REPORT_REASON_MESGTOOBIG)
		find_limit(text, limit, sizeof(limit));

	vars_set(&v, "recipient", addr);
	vars_set(&v, "remote_text", text);
	vars_set(&v, "remote", host);
	vars_set(&v, "said", said);
	vars_set(&v, "status", r->last.status);
	vars_set(&v, "title", ex.title);
	vars_set(&v, "meaning", ex.meaning);
	vars_set(&v, "advice", ex.advice);
	vars_set(&v, "suggestion", sugg);
	vars_set(&v, "retry_until", until);
	vars_set(&v, "limit", limit);
	vars_set(&v, "myhostname", req->myhostname);
	if (template_load(req->templates_dir, ex.name, &tpl))
		expand(out, tpl.data, tpl.len, &v);
	else
		expand(out, rcpt_builtin, sizeof(rcpt_builtin) - 1, &v);
	buf_free(&tpl);
}

int report_text_render(const struct report_request *req, struct buf *out, char *err, size_t errlen)
{
	struct vars v = {0};
	struct buf tpl = {0};
	char count[64], until[64] = "", sender[SPOOL_PATH_MAX];
	bool dbl = req->msg->origin == SPOOL_ORIGIN_REPORT;
	const char *name = dbl ? "intro-doublebounce" : NULL;
	char namebuf[64];

	if ((int)req->kind < 0 || req->kind > REPORT_RELAYED) {
		snprintf(err, errlen, "unknown report kind %d", (int)req->kind);
		return -1;
	}
	if (name == NULL) {
		snprintf(namebuf, sizeof(namebuf), "intro-%s", intro_names[req->kind]);
		name = namebuf;
	}
	if (req->n_rcpt == 1)
		snprintf(count, sizeof(count), "one recipient");
	else
		snprintf(count, sizeof(count), "%zu recipients", req->n_rcpt);
	if (req->kind == REPORT_DELAYED && req->will_retry_until_ms > 0)
		util_rfc5322_date(req->will_retry_until_ms, until, sizeof(until));
	report_clean_text(req->msg->sender, true, sender, sizeof(sender));
	vars_set(&v, "myhostname", req->myhostname);
	vars_set(&v, "count", count);
	vars_set(&v, "retry_until", until);
	vars_set(&v, "sender", sender);

	if (template_load(req->templates_dir, name, &tpl)) {
		expand(out, tpl.data, tpl.len, &v);
	} else {
		const char *t = dbl ? intro_doublebounce : intro_builtin[req->kind];

		expand(out, t, strlen(t), &v);
	}
	buf_free(&tpl);
	for (size_t i = 0; i < req->n_rcpt; i++) {
		buf_puts(out, "\r\n");
		render_rcpt(req, &req->msg->rcpt[req->rcpt_idx[i]], out);
	}
	return 0;
}
