/*
 * mailog.c - mail events, each written twice: a Postfix-style line on the
 * process log (for people and log tools) and a JSON object on the event
 * log (for programs). One function per event keeps the field names in one
 * place; see mailog.h for the formats.
 *
 * The event log is opened O_APPEND and each event is one write(), so
 * lines from several processes (the daemon, `mailerd send`) never
 * interleave. A failing event log write is reported once and then ignored:
 * the log must never stop mail.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/mailog.h"
#include "util/util.h"

/* Room for an escaped RFC 5321 path or client name (4 bytes per byte). */
#define SMTP_ESC_MAX (320 * 4)

static int event_fd = -1;
static bool write_failed;

int mailog_open(const char *path, char *err, size_t errlen)
{
	mailog_close();
	if (path == NULL || path[0] == '\0')
		return 0;
	event_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (event_fd < 0) {
		snprintf(err, errlen, "cannot open event_log %s: %s", path, strerror(errno));
		return -1;
	}
	write_failed = false;
	return 0;
}

void mailog_close(void)
{
	if (event_fd >= 0)
		close(event_fd);
	event_fd = -1;
}

/* emit - stamp, serialise and append one event; takes the reference */
static void emit(json_t *ev)
{
	char stamp[40];
	char *text;

	if (event_fd < 0) {
		json_decref(ev);
		return;
	}
	util_iso8601(util_now_ms(), stamp, sizeof(stamp));
	json_object_set_new(ev, "ts", json_string(stamp));
	/* JSON_ENSURE_ASCII: a line stays valid whatever bytes a remote sent. */
	text = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER |
	                          JSON_REAL_PRECISION(10));
	json_decref(ev);
	if (text == NULL)
		return;
	size_t n = strlen(text);
	text[n] = '\n';
	if (util_write_all(event_fd, text, n + 1) < 0 && !write_failed) {
		write_failed = true;
		log_warn("event log write failed: %s (further failures not reported)",
		         strerror(errno));
	}
	free(text);
}

/* jstr - a JSON string from possibly non-UTF-8 remote text */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);

	if (j == NULL) {
		char esc[OUTCOME_TEXT_MAX * 4];
		util_escape(s, strlen(s), esc, sizeof(esc));
		j = json_string(esc);
	}
	return j != NULL ? j : json_string("");
}

static void set_outcome(json_t *ev, const struct outcome *o)
{
	json_object_set_new(ev, "kind", json_string(outcome_kind_name(o->kind)));
	json_object_set_new(ev, "code", json_integer(o->code));
	json_object_set_new(ev, "dsn", json_string(o->status));
	json_object_set_new(ev, "text", jstr(o->text));
	json_object_set_new(ev, "remote", jstr(o->remote));
}

void mailog_received(const char *qid, const char *sender, size_t size, size_t nrcpt,
                     const char *client, const char *origin)
{
	char s[SMTP_ESC_MAX], c[SMTP_ESC_MAX];
	json_t *ev = json_object();

	util_escape(sender, strlen(sender), s, sizeof(s));
	util_escape(client, strlen(client), c, sizeof(c));
	log_info("%s: from=<%s>, size=%zu, nrcpt=%zu, client=%s, origin=%s (queue active)", qid, s,
	         size, nrcpt, c, origin);
	json_object_set_new(ev, "event", json_string("received"));
	json_object_set_new(ev, "qid", json_string(qid));
	json_object_set_new(ev, "sender", jstr(sender));
	json_object_set_new(ev, "size", json_integer((json_int_t)size));
	json_object_set_new(ev, "nrcpt", json_integer((json_int_t)nrcpt));
	json_object_set_new(ev, "client", jstr(client));
	json_object_set_new(ev, "origin", json_string(origin));
	emit(ev);
}

void mailog_attempt(const char *qid, const char *rcpt, const char *relay, int64_t delay_ms,
                    int attempts, const struct outcome *o, const char *status)
{
	char r[SMTP_ESC_MAX], t[OUTCOME_TEXT_MAX * 4];
	json_t *ev = json_object();

	util_escape(rcpt, strlen(rcpt), r, sizeof(r));
	util_escape(o->text, strlen(o->text), t, sizeof(t));
	log_info("%s: to=<%s>, relay=%s, delay=%.1f, attempts=%d, dsn=%s, status=%s (%s)", qid, r,
	         relay[0] ? relay : "none", (double)delay_ms / 1000.0, attempts, o->status, status,
	         t);
	json_object_set_new(ev, "event", json_string("attempt"));
	json_object_set_new(ev, "qid", json_string(qid));
	json_object_set_new(ev, "rcpt", jstr(rcpt));
	json_object_set_new(ev, "relay", jstr(relay[0] ? relay : "none"));
	json_object_set_new(ev, "delay", json_real((double)delay_ms / 1000.0));
	json_object_set_new(ev, "attempts", json_integer(attempts));
	json_object_set_new(ev, "status", json_string(status));
	set_outcome(ev, o);
	emit(ev);
}

void mailog_final(const char *qid, const char *sender, const char *rcpt, const char *state,
                  const struct outcome *o, int64_t arrival_ms)
{
	json_t *ev = json_object();

	json_object_set_new(ev, "event", json_string(state));
	json_object_set_new(ev, "qid", json_string(qid));
	json_object_set_new(ev, "sender", jstr(sender));
	json_object_set_new(ev, "rcpt", jstr(rcpt));
	json_object_set_new(ev, "delay", json_real((double)(util_now_ms() - arrival_ms) / 1000.0));
	set_outcome(ev, o);
	emit(ev);
}

void mailog_queue_op(const char *qid, const char *op, const char *detail)
{
	char d[1024];
	json_t *ev = json_object();

	util_escape(detail ? detail : "", detail ? strlen(detail) : 0, d, sizeof(d));
	if (d[0])
		log_info("%s: %s (%s)", qid, op, d);
	else
		log_info("%s: %s", qid, op);
	json_object_set_new(ev, "event", json_string(op));
	json_object_set_new(ev, "qid", json_string(qid));
	if (d[0])
		json_object_set_new(ev, "detail", json_string(d));
	emit(ev);
}

void mailog_suppressed(const char *qid, const char *sender, const char *rcpt, const char *client,
                       const char *why)
{
	char s[SMTP_ESC_MAX], r[SMTP_ESC_MAX], c[SMTP_ESC_MAX], w[1024];
	json_t *ev = json_object();

	util_escape(sender ? sender : "", sender ? strlen(sender) : 0, s, sizeof(s));
	util_escape(rcpt, strlen(rcpt), r, sizeof(r));
	util_escape(client ? client : "", client ? strlen(client) : 0, c, sizeof(c));
	util_escape(why ? why : "", why ? strlen(why) : 0, w, sizeof(w));
	/* Postfix's wording for a refusal before a queue id exists */
	log_info("%s: reject: RCPT from %s: 550 5.1.1 <%s>: %s; from=<%s> to=<%s>",
	         qid ? qid : "NOQUEUE", c, r, w, s, r);
	json_object_set_new(ev, "event", json_string("suppressed"));
	if (qid)
		json_object_set_new(ev, "qid", json_string(qid));
	json_object_set_new(ev, "sender", json_string(s));
	json_object_set_new(ev, "rcpt", json_string(r));
	json_object_set_new(ev, "client", json_string(c));
	json_object_set_new(ev, "dsn", json_string("5.1.1"));
	json_object_set_new(ev, "reason", json_string(w));
	emit(ev);
}
