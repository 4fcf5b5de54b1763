/*
 * control.c - the daemon's control socket: `mailerd queue ...` talks to the
 * running queue manager through it.
 *
 * Transport: a Unix stream socket (spool_dir/control by convention), mode
 * 0600 so only the spool's owner may steer the queue. A stale socket left
 * by a killed daemon is unlinked at start; a path that exists and is not a
 * socket is an error (never unlink someone's file).
 *
 * Protocol (one request per connection):
 *   client:  one line, at most CONTROL_LINE_MAX bytes, ended by LF or CRLF:
 *              flush | list | show ID | hold ID | release ID | delete ID |
 *              pickup ID
 *   server:  zero or more data lines, then a final line "OK" or
 *            "ERR <message>", then it closes the connection.
 *   list / show ID data lines, one per message then one per recipient:
 *     ID<TAB>size<TAB>arrival_ms<TAB>sender<TAB>held(0|1)<TAB>n_rcpt
 *     <TAB>RCPT<TAB>addr<TAB>state<TAB>attempts<TAB>next_attempt_ms<TAB>status<TAB>text
 *   size is the body length in bytes; sender is empty for the null
 *   reverse-path <>; state is pending|deferred|delivered|failed;
 *   next_attempt_ms is 0 unless deferred; status is the last enhanced
 *   status code ("" before any attempt); text is the last diagnostic.
 *   Untrusted fields (sender, addr, text) are escaped (util_escape): no
 *   TAB, CR or LF can appear inside a field. `list` orders by queue id,
 *   which is arrival order.
 *
 * Failure: an argument that is not a queue id (letters and digits, so
 * never a path) gets "ERR 'ARG' is not a queue id" (ARG escaped and cut
 * short), a missing one "ERR CMD needs a queue id"; a request longer than
 * CONTROL_LINE_MAX gets "ERR request too long"; an idle client is dropped after CONTROL_TIMEOUT_S. Replies are
 * built whole in the output buffer; the connection is freed once it has
 * been written (or the peer went away).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "sched/qmgr.h"
#include "util/util.h"

#define CONTROL_LINE_MAX  512 /* a command and a queue id fit with room to spare */
#define CONTROL_TIMEOUT_S 30

struct control_conn {
	struct sched_control *ctl;
	struct bufferevent *bev;
	LIST_ENTRY(control_conn) link;
};

struct sched_control {
	struct sched *s;
	struct evconnlistener *lis;
	char *path;
	LIST_HEAD(, control_conn) conns;
};

/* control_state_name - the protocol's state words */
static const char *control_state_name(enum rcpt_state st)
{
	switch (st) {
	case RCPT_PENDING: return "pending";
	case RCPT_DEFERRED: return "deferred";
	case RCPT_DELIVERED: return "delivered";
	case RCPT_FAILED: return "failed";
	}
	return "unknown";
}

static void control_esc(const char *in, char *out, size_t size)
{
	util_escape(in, strlen(in), out, size);
}

/* control_put_msg - one message line and its recipient lines */
static void control_put_msg(struct evbuffer *out, const struct spool_msg *m)
{
	char sender[SPOOL_PATH_MAX * 4];
	char addr[SPOOL_PATH_MAX * 4];
	char status[OUTCOME_STATUS_MAX * 4];
	char text[OUTCOME_TEXT_MAX * 4];

	control_esc(m->sender, sender, sizeof(sender));
	evbuffer_add_printf(out, "%s\t%zu\t%lld\t%s\t%d\t%zu\n", m->id, m->body_len,
	                    (long long)m->arrival_ms, sender, m->held ? 1 : 0, m->n_rcpt);
	for (size_t i = 0; i < m->n_rcpt; i++) {
		const struct spool_rcpt *r = &m->rcpt[i];
		control_esc(r->addr, addr, sizeof(addr));
		control_esc(r->last.status, status, sizeof(status));
		control_esc(r->last.text, text, sizeof(text));
		evbuffer_add_printf(out, "\tRCPT\t%s\t%s\t%d\t%lld\t%s\t%s\n", addr,
		                    control_state_name(r->state), r->attempts,
		                    r->state == RCPT_DEFERRED ? (long long)r->next_attempt_ms : 0LL,
		                    status, text);
	}
}

static int control_cmp_id(const void *a, const void *b)
{
	const struct qmsg *x = *(const struct qmsg *const *)a;
	const struct qmsg *y = *(const struct qmsg *const *)b;

	return strcmp(x->msg->id, y->msg->id);
}

/* control_list - every message in id (= arrival) order */
static void control_list(struct sched *s, struct evbuffer *out)
{
	size_t n;
	void **v = htab_values(&s->msgs, &n);

	qsort(v, n, sizeof(*v), control_cmp_id);
	for (size_t i = 0; i < n; i++) {
		const struct qmsg *qm = v[i];
		if (!qm->want_delete)
			control_put_msg(out, qm->msg);
	}
	free(v);
}

/* control_valid_id - queue ids are short and alphanumeric; anything else
 * (a path, "..") is refused before it reaches the spool */
static bool control_valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= SPOOL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}

/* control_run - execute one request line; the reply goes to out */
static void control_run(struct sched *s, char *line, struct evbuffer *out)
{
	char *cmd = util_trim(line);
	char *arg = cmd + strcspn(cmd, " \t");
	int rc;

	if (*arg != '\0')
		*arg++ = '\0';
	arg = util_trim(arg);
	if (strcmp(cmd, "flush") == 0 || strcmp(cmd, "list") == 0) {
		if (*arg != '\0') {
			evbuffer_add_printf(out, "ERR %s takes no argument\n", cmd);
			return;
		}
		if (cmd[0] == 'f')
			sched_flush(s);
		else
			control_list(s, out);
		evbuffer_add_printf(out, "OK\n");
		return;
	}
	if (strcmp(cmd, "show") != 0 && strcmp(cmd, "hold") != 0 && strcmp(cmd, "release") != 0 &&
	    strcmp(cmd, "delete") != 0 && strcmp(cmd, "pickup") != 0) {
		evbuffer_add_printf(out, "ERR unknown command\n");
		return;
	}
	if (*arg == '\0') {
		evbuffer_add_printf(out, "ERR %s needs a queue id\n", cmd);
		return;
	}
	if (!control_valid_id(arg)) {
		/* say what was wrong with it; the echo is escaped and cut short */
		char esc[CONTROL_LINE_MAX * 4];
		control_esc(arg, esc, sizeof(esc));
		evbuffer_add_printf(out, "ERR '%.64s' is not a queue id\n", esc);
		return;
	}
	if (strcmp(cmd, "show") == 0) {
		struct qmsg *qm = htab_get(&s->msgs, arg);
		if (qm == NULL || qm->want_delete) {
			evbuffer_add_printf(out, "ERR no such message: %s\n", arg);
			return;
		}
		control_put_msg(out, qm->msg);
		evbuffer_add_printf(out, "OK\n");
		return;
	}
	if (strcmp(cmd, "hold") == 0)
		rc = sched_hold(s, arg);
	else if (strcmp(cmd, "release") == 0)
		rc = sched_release(s, arg);
	else if (strcmp(cmd, "delete") == 0)
		rc = sched_delete(s, arg);
	else
		rc = sched_pickup(s, arg);
	if (rc == 0)
		evbuffer_add_printf(out, "OK\n");
	else
		evbuffer_add_printf(out, "ERR no such message: %s\n", arg);
}

static void control_conn_free(struct control_conn *cc)
{
	LIST_REMOVE(cc, link);
	bufferevent_free(cc->bev);
	free(cc);
}

/* control_on_written - the reply is out: the conversation is over */
static void control_on_written(struct bufferevent *bev, void *arg)
{
	struct control_conn *cc = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		control_conn_free(cc);
}

static void control_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct control_conn *cc = arg;

	(void)bev;
	(void)what; /* EOF, error or timeout: the conversation is over */
	control_conn_free(cc);
}

/* control_on_read - one bounded request line, then the reply */
static void control_on_read(struct bufferevent *bev, void *arg)
{
	struct control_conn *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t n = 0;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

	if (line == NULL) {
		if (evbuffer_get_length(in) <= CONTROL_LINE_MAX)
			return; /* wait for the rest of the line */
		evbuffer_add_printf(out, "ERR request too long\n");
	} else if (n > CONTROL_LINE_MAX || memchr(line, '\0', n) != NULL) {
		evbuffer_add_printf(out, "ERR request too long\n");
	} else {
		control_run(cc->ctl->s, line, out);
	}
	free(line);
	/* one request per connection: stop reading, close once written */
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, control_on_written, control_on_event, cc);
	bufferevent_enable(bev, EV_WRITE);
}

/* control_on_accept - a `mailerd queue` client connected */
static void control_on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                              int salen, void *arg)
{
	struct sched_control *c = arg;
	struct control_conn *cc;
	struct timeval tv = {CONTROL_TIMEOUT_S, 0};

	(void)lis;
	(void)sa;
	(void)salen;
	cc = xcalloc(1, sizeof(*cc));
	cc->ctl = c;
	cc->bev = bufferevent_socket_new(c->s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cc->bev == NULL) {
		log_error("control: cannot set up a connection");
		evutil_closesocket(fd);
		free(cc);
		return;
	}
	LIST_INSERT_HEAD(&c->conns, cc, link);
	bufferevent_setcb(cc->bev, control_on_read, NULL, control_on_event, cc);
	bufferevent_set_timeouts(cc->bev, &tv, &tv);
	/* read at most a line and a bit: the request is bounded */
	bufferevent_setwatermark(cc->bev, EV_READ, 0, CONTROL_LINE_MAX + 2);
	bufferevent_enable(cc->bev, EV_READ);
}

void sched_control_free(struct sched_control *c)
{
	if (c == NULL)
		return;
	while (!LIST_EMPTY(&c->conns))
		control_conn_free(LIST_FIRST(&c->conns));
	if (c->lis != NULL)
		evconnlistener_free(c->lis);
	if (c->path != NULL)
		unlink(c->path);
	free(c->path);
	free(c);
}

/* control_clear_stale - remove a socket left by an earlier daemon */
static int control_clear_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT
		           ? 0
		           : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -1;
	}
	if (unlink(path) != 0) {
		snprintf(err, errlen, "%s: cannot remove the old socket: %s", path,
		         strerror(errno));
		return -1;
	}
	return 0;
}

int sched_control_listen(struct sched *s, const char *path, char *err, size_t errlen)
{
	struct sched_control *c;
	struct sockaddr_un sun;

	if (s->ctl != NULL) {
		snprintf(err, errlen, "control socket already open");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a Unix socket", path);
		return -1;
	}
	if (control_clear_stale(path, err, errlen) != 0)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	LIST_INIT(&c->conns);
	c->lis = evconnlistener_new_bind(s->base, control_on_accept, c,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	                                 (struct sockaddr *)&sun, (int)sizeof(sun));
	if (c->lis == NULL) {
		snprintf(err, errlen, "%s: cannot listen: %s", path, strerror(errno));
		free(c);
		return -1;
	}
	c->path = xstrdup(path);
	if (chmod(path, 0600) != 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		sched_control_free(c);
		return -1;
	}
	s->ctl = c;
	return 0;
}
