/*
 * queue.c - who gets a report, and putting it in the queue.
 *
 * Owns: the NOTIFY rules of RFC 3461 section 4.1 (report_should_send), the
 * loop safety of design.md (report_decide), and report_queue /
 * report_queue_sync, which compose a report and commit it through the
 * spool like any accepted message.
 *
 * Loop safety, enforced here whatever the caller asks:
 *   - a report goes out with the null reverse-path <> (RFC 3461 section
 *     6.2, RFC 5321 section 4.5.5) and origin SPOOL_ORIGIN_REPORT, and its
 *     one recipient has NOTIFY=NEVER;
 *   - a message with a null sender never causes a report;
 *   - a report that fails causes one double bounce to postmaster@myhostname;
 *     a failed double bounce (a report addressed to that postmaster)
 *     causes nothing;
 *   - a report never causes a delay warning or a success report.
 * How it fails: -1 with errno and err (ENOSPC, EMFILE from the spool...);
 * the caller retries the report later, the original stays queued.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "report/report_int.h"
#include "util/mailog.h"

bool report_should_send(const struct spool_msg *msg, const struct spool_rcpt *rcpt,
                        enum report_kind kind)
{
	unsigned n = rcpt->notify;

	if (msg->origin == SPOOL_ORIGIN_REPORT || msg->sender[0] == '\0')
		return false;
	if (n & DSN_NOTIFY_NEVER)
		return false;
	if (n == 0) /* not given: RFC 3461 section 4.1 leaves it to us; FAILURE,DELAY */
		n = DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY;
	switch (kind) {
	case REPORT_FAILED: return (n & DSN_NOTIFY_FAILURE) != 0;
	case REPORT_DELAYED: return (n & DSN_NOTIFY_DELAY) != 0;
	case REPORT_DELIVERED:
	case REPORT_RELAYED: return (n & DSN_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

/* "postmaster" alone (RFC 5321 section 4.5.1) or postmaster@myhostname */
static bool is_our_postmaster(const char *addr, const char *myhostname)
{
	const char *at = strrchr(addr, '@');
	size_t local = at != NULL ? (size_t)(at - addr) : strlen(addr);

	if (local != 10 || strncasecmp(addr, "postmaster", 10) != 0)
		return false;
	if (at == NULL)
		return true;
	return myhostname != NULL && strcasecmp(at + 1, myhostname) == 0;
}

enum report_target report_decide(const struct spool_msg *msg, const struct spool_rcpt *rcpt,
                                 enum report_kind kind, const char *myhostname)
{
	if (msg->origin == SPOOL_ORIGIN_REPORT) {
		if (kind == REPORT_FAILED && !is_our_postmaster(rcpt->addr, myhostname))
			return REPORT_TO_POSTMASTER;
		return REPORT_TO_NOBODY;
	}
	return report_should_send(msg, rcpt, kind) ? REPORT_TO_SENDER : REPORT_TO_NOBODY;
}

/* What report_queue needs between the compose and the callback. */
struct pending {
	report_queued_fn cb;
	void *arg;
};

static void on_commit(int err, struct spool_msg *msg, void *arg)
{
	struct pending *p = arg;

	if (err == 0) {
		mailog_received(msg->id, msg->sender, msg->body_len, msg->n_rcpt, "", "report");
		log_info("%s: report queued for <%s>", msg->id,
		         msg->n_rcpt > 0 ? msg->rcpt[0].addr : "");
	} else
		log_warn("report commit failed: %s", strerror(err));
	if (p->cb != NULL)
		p->cb(err, err == 0 ? msg->id : NULL, msg, p->arg);
	else
		spool_msg_free(msg);
	free(p);
}

/*
 * prepare - filter the request's recipients by report_decide, read the
 * body if the caller did not, compose, and fill the envelope. Returns 1
 * when no recipient calls for a report, 0 with *envp and *wp ready, -1 error.
 */
static int prepare(struct spool *sp, const struct report_request *req, struct spool_writer **wp,
                   struct spool_msg **envp, char *err, size_t errlen)
{
	const struct spool_msg *m = req->msg;
	enum report_target want =
	    m->origin == SPOOL_ORIGIN_REPORT ? REPORT_TO_POSTMASTER : REPORT_TO_SENDER;
	struct report_request r = *req;
	struct buf out = {0};
	struct spool_writer *w = NULL;
	struct spool_msg *env = NULL;
	struct spool_rcpt *rc;
	char to[SPOOL_PATH_MAX];
	size_t *idx, n = 0;
	int fd = -1, ret = -1;

	if (m == NULL || req->myhostname == NULL || req->rcpt_idx == NULL) {
		snprintf(err, errlen, "report request without message or recipients");
		errno = EINVAL;
		return -1;
	}
	idx = xcalloc(req->n_rcpt + 1, sizeof(*idx));
	for (size_t i = 0; i < req->n_rcpt; i++)
		if (req->rcpt_idx[i] < m->n_rcpt &&
		    report_decide(m, &m->rcpt[req->rcpt_idx[i]], req->kind, req->myhostname) ==
		        want)
			idx[n++] = req->rcpt_idx[i];
	if (n == 0) {
		free(idx);
		return 1;
	}
	r.rcpt_idx = idx;
	r.n_rcpt = n;
	report_target_addr(&r, to, sizeof(to));

	if (r.body_fd < 0 && m->body_len > 0) {
		size_t len;

		if (spool_body_open(sp, m, &fd, &len) == 0) {
			r.body_fd = fd;
			r.body_len = len;
		} else {
			/* The sender still learns what happened, without the copy. */
			log_warn("%s: report without the original: %s", m->id, strerror(errno));
		}
	}
	if (report_compose(&r, &out, err, errlen) < 0) {
		errno = EINVAL;
		goto done;
	}
	w = spool_writer_new(sp);
	if (w == NULL || spool_writer_write(w, out.data, out.len) < 0) {
		int saved = errno;

		snprintf(err, errlen, "%s: cannot queue the report: %s", m->id, strerror(saved));
		spool_writer_abort(w);
		w = NULL;
		errno = saved;
		goto done;
	}
	env = spool_msg_new();
	env->sender[0] = '\0';
	env->origin = SPOOL_ORIGIN_REPORT;
	env->arrival_ms = r.now_ms != 0 ? r.now_ms : util_now_ms();
	env->ret = DSN_RET_HDRS;
	snprintf(env->client, sizeof(env->client), "%s (report about %s)", req->myhostname, m->id);
	for (size_t i = 0; i < out.len; i++)
		if ((unsigned char)out.data[i] >= 0x80) {
			env->eightbit = true;
			break;
		}
	/* A UTF-8 To: address needs SMTPUTF8 (RFC 6531 section 3.2). */
	env->smtputf8 = !report_is_ascii(to) || m->smtputf8;
	rc = spool_msg_add_rcpt(env, to);
	rc->notify = DSN_NOTIFY_NEVER;
	*wp = w;
	*envp = env;
	ret = 0;
done:
	if (fd >= 0)
		close(fd); /* read-only */
	buf_free(&out);
	free(idx);
	return ret;
}

int report_queue(struct spool *sp, const struct report_request *req, report_queued_fn cb, void *arg,
                 char *err, size_t errlen)
{
	struct spool_writer *w = NULL;
	struct spool_msg *env = NULL;
	struct pending *p;
	int rc = prepare(sp, req, &w, &env, err, errlen);

	if (rc != 0)
		return rc;
	p = xcalloc(1, sizeof(*p));
	p->cb = cb;
	p->arg = arg;
	if (spool_writer_commit_owned(w, env, on_commit, p, free) < 0) {
		int saved = errno;

		snprintf(err, errlen, "%s: cannot commit the report: %s", req->msg->id,
		         strerror(saved));
		free(p);
		errno = saved;
		return -1;
	}
	return 0;
}

int report_queue_sync(struct spool *sp, const struct report_request *req, char *id_out,
                      size_t idlen, char *err, size_t errlen)
{
	struct spool_writer *w = NULL;
	struct spool_msg *env = NULL;
	int rc = prepare(sp, req, &w, &env, err, errlen);

	if (rc != 0)
		return rc;
	if (spool_writer_commit_sync(w, env) < 0) {
		int saved = errno;

		snprintf(err, errlen, "%s: cannot commit the report: %s", req->msg->id,
		         strerror(saved));
		spool_msg_free(env);
		errno = saved;
		return -1;
	}
	if (id_out != NULL)
		util_strlcpy(id_out, env->id, idlen);
	mailog_received(env->id, env->sender, env->body_len, env->n_rcpt, "", "report");
	log_info("%s: report queued for <%s>", env->id, env->rcpt[0].addr);
	spool_msg_free(env);
	return 0;
}
