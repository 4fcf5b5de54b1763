/*
 * intake.c - the intake's life: the RCPT decision for the bounce domain,
 * the transport the scheduler uses for that domain, and the worker thread
 * that does the parsing and the database writes (handle.c).
 *
 * Threads: the event loop calls intake_check_rcpt, intake_start and
 * intake_backscatter; they only copy their arguments into the queue
 * (mutex) and wake the worker. The worker takes one job at a time; a
 * finished message job goes onto the done list and the worker activates
 * one libevent event (thread-safe: the daemon runs libevent with
 * pthreads), whose callback on the loop calls the scheduler's done
 * function. So `done` is never called from inside intake_start, and never
 * from the worker.
 *
 * No backscatter (issue 6): at the bounce domain only signed, unexpired
 * return paths are mailboxes; anything else is refused at RCPT time, so a
 * bounce for forged mail is never accepted and never bounced in turn. Each
 * refusal is counted (suppress_record_backscatter), never suppresses
 * anyone. postmaster@bounce_domain stays reachable (RFC 5321 section
 * 4.5.1); what reaches it is judged by handle.c.
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bounce/bounce.h"
#include "config/config.h"
#include "intake/internal.h"
#include "suppress/suppress.h"
#include "util/mailog.h"
#include "util/util.h"

/* Most jobs waiting for the worker; beyond it a bounce is deferred (the
 * scheduler retries it) and a backscatter count is dropped. */
#define INTAKE_QUEUE_MAX 10000

struct intake {
	struct intake_ctx ctx;
	char *domain;          /* bounce_domain, lower case */
	struct event *done_ev; /* activated by the worker */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* wakes the worker */
	pthread_cond_t idle_cv;   /* wakes intake_sync */
	struct ijob *head, *tail; /* waiting for the worker */
	struct ijob *done;        /* finished, waiting for the loop */
	size_t queued;
	bool busy, stop;
};

static void ijob_free(struct ijob *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	for (size_t i = 0; i < j->n; i++)
		free(j->rcpt[i]);
	free(j->rcpt);
	free(j->out);
	free(j->bs_kind);
	free(j->bs_detail);
	free(j);
}

static void *worker(void *arg)
{
	struct intake *in = arg;

	pthread_mutex_lock(&in->mu);
	for (;;) {
		struct ijob *j;

		while (in->head == NULL && !in->stop)
			pthread_cond_wait(&in->cv, &in->mu);
		if (in->stop)
			break;
		j = in->head;
		in->head = j->next;
		if (in->head == NULL)
			in->tail = NULL;
		in->queued--;
		in->busy = true;
		pthread_mutex_unlock(&in->mu);
		if (j->kind == IJOB_MESSAGE)
			intake_handle_message(&in->ctx, j);
		else
			intake_record_backscatter(&in->ctx, j->bs_kind, j->bs_detail);
		pthread_mutex_lock(&in->mu);
		in->busy = false;
		if (j->kind == IJOB_MESSAGE) {
			j->next = in->done;
			in->done = j;
			event_active(in->done_ev, EV_READ, 0);
		} else {
			ijob_free(j);
		}
		if (in->head == NULL)
			pthread_cond_broadcast(&in->idle_cv);
	}
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

/* on_done - on the loop: hand finished messages back to the scheduler */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct intake *in = arg;
	struct ijob *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&in->mu);
	list = in->done;
	in->done = NULL;
	pthread_mutex_unlock(&in->mu);
	while (list != NULL) {
		struct ijob *j = list;
		struct deliver_result res;

		list = j->next;
		memset(&res, 0, sizeof(res));
		res.rcpt = j->out;
		res.n_rcpt = j->n;
		res.site = DELIVER_SITE_OK;
		util_strlcpy(res.relay, "intake", sizeof(res.relay));
		res.started_ms = j->started_ms;
		j->done(&res, j->done_arg);
		ijob_free(j);
	}
}

struct intake *intake_new(struct event_base *base, const struct config *cfg,
                          const struct signing_key *key, char *err, size_t errlen)
{
	struct intake *in = xcalloc(1, sizeof(*in));
	struct suppress_policy pol;

	bounce_init(); /* GMime, once, before the worker parses */
	suppress_policy_from_config(cfg, &pol);
	in->ctx.st = suppress_open(cfg->state_db, &pol, err, errlen);
	if (in->ctx.st == NULL) {
		free(in);
		return NULL;
	}
	in->ctx.key = *key;
	in->ctx.lifetime_ms = cfg->queue_lifetime_ms;
	in->domain = xstrdup(cfg->bounce_domain);
	util_lowercase(in->domain);
	in->done_ev = event_new(base, -1, 0, on_done, in);
	if (in->done_ev == NULL)
		fatal("intake: cannot create an event");
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cv, NULL);
	pthread_cond_init(&in->idle_cv, NULL);
	if (pthread_create(&in->thread, NULL, worker, in) != 0)
		fatal("intake: cannot start the worker thread");
	return in;
}

void intake_free(struct intake *in)
{
	struct ijob *j;

	if (in == NULL)
		return;
	pthread_mutex_lock(&in->mu);
	in->stop = true;
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
	pthread_join(in->thread, NULL);
	while ((j = in->head) != NULL) {
		in->head = j->next;
		ijob_free(j);
	}
	while ((j = in->done) != NULL) {
		in->done = j->next;
		ijob_free(j);
	}
	event_free(in->done_ev);
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->cv);
	pthread_cond_destroy(&in->idle_cv);
	suppress_close(in->ctx.st);
	memset(&in->ctx.key, 0, sizeof(in->ctx.key));
	free(in->domain);
	free(in);
}

/* enqueue - 0, or -1 when the queue is full (j not taken) */
static int enqueue(struct intake *in, struct ijob *j)
{
	pthread_mutex_lock(&in->mu);
	if (in->queued >= INTAKE_QUEUE_MAX) {
		pthread_mutex_unlock(&in->mu);
		return -1;
	}
	j->next = NULL;
	if (in->tail)
		in->tail->next = j;
	else
		in->head = j;
	in->tail = j;
	in->queued++;
	pthread_cond_signal(&in->cv);
	pthread_mutex_unlock(&in->mu);
	return 0;
}

void intake_sync(struct intake *in)
{
	pthread_mutex_lock(&in->mu);
	while (in->head != NULL || in->busy)
		pthread_cond_wait(&in->idle_cv, &in->mu);
	pthread_mutex_unlock(&in->mu);
}

bool intake_is_local(const struct intake *in, const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	size_t n;

	if (in == NULL || at == NULL)
		return false;
	n = strlen(at + 1);
	if (n > 1 && at[n] == '.')
		n--; /* one trailing dot, as local_domains ignores it */
	return n == strlen(in->domain) && strncasecmp(at + 1, in->domain, n) == 0;
}

void intake_backscatter(struct intake *in, const char *kind, const char *detail)
{
	struct ijob *j = xcalloc(1, sizeof(*j));

	j->kind = IJOB_BACKSCATTER;
	j->fd = -1;
	j->bs_kind = xstrdup(kind);
	j->bs_detail = xstrdup(detail ? detail : "");
	if (enqueue(in, j) < 0) {
		log_warn("intake: queue full, backscatter count dropped (%s)", kind);
		ijob_free(j);
	}
}

enum intake_rcpt_verdict intake_check_rcpt(struct intake *in, const char *client_ip,
                                           const char *sender, const char *rcpt, char *text,
                                           size_t textlen)
{
	enum signing_verdict v;
	char detail[1024], esc[700];
	const char *at = strrchr(rcpt, '@');

	if (!intake_is_local(in, rcpt))
		return INTAKE_RCPT_PASS;
	/* RFC 5321 section 4.5.1: postmaster must be reachable */
	if (at - rcpt == 10 && strncasecmp(rcpt, "postmaster", 10) == 0)
		return INTAKE_RCPT_PASS;
	v = signing_verify(&in->ctx.key, rcpt, util_now_ms(), in->ctx.lifetime_ms, NULL);
	if (v == SIGNING_OK)
		return INTAKE_RCPT_ACCEPT;
	util_strlcpy(text, "invalid or expired bounce address", textlen);
	snprintf(detail, sizeof(detail), "rcpt=<%s> sender=<%s> client=[%s] verdict=%s", rcpt,
	         sender ? sender : "", client_ip ? client_ip : "", signing_verdict_name(v));
	util_escape(detail, strlen(detail), esc, sizeof(esc));
	log_info("NOQUEUE: reject: RCPT from [%s]: 550 5.1.1 backscatter: %s",
	         client_ip ? client_ip : "", esc);
	mailog_queue_op("NOQUEUE", "backscatter", detail);
	intake_backscatter(in, v == SIGNING_UNTAGGED ? "no-tag" : signing_verdict_name(v), detail);
	return INTAKE_RCPT_REFUSE;
}

int intake_start(void *arg, const struct deliver_request *req, deliver_done_fn done, void *done_arg)
{
	struct intake *in = arg;
	struct ijob *j;

	if (req->n_rcpt == 0)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->kind = IJOB_MESSAGE;
	util_strlcpy(j->qid, req->qid ? req->qid : "", sizeof(j->qid));
	j->fd = req->body_fd;
	j->len = req->body_len;
	j->n = req->n_rcpt;
	j->rcpt = xcalloc(j->n, sizeof(*j->rcpt));
	j->out = xcalloc(j->n, sizeof(*j->out));
	for (size_t i = 0; i < j->n; i++)
		j->rcpt[i] = xstrdup(req->rcpt[i].addr);
	j->done = done;
	j->done_arg = done_arg;
	j->started_ms = util_now_ms();
	if (enqueue(in, j) < 0) {
		/* full: the scheduler defers and tries later; the fd is not taken */
		j->fd = -1;
		ijob_free(j);
		errno = EAGAIN;
		return -1;
	}
	return 0;
}
