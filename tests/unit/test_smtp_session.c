/*
 * test_smtp_session.c - the SMTP server in-process: a real listener on
 * 127.0.0.1 (ephemeral port), a real spool in a temporary folder, and a
 * blocking client in a second thread that plays a table of steps
 * {send, expected reply prefix}. The event loop runs in the test thread;
 * mismatches are collected as "step N: got X, want Y" and checked after.
 *
 * The loopback client is untrusted here (relay_networks is a documentation
 * range), so relay refusal is exercised; local.example is a local domain,
 * where such a client reaches only postmaster (no backscatter).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "smtp/smtp.h"
#include "spool/spool.h"

struct step {
	const char *send;   /* bytes to send, or NULL */
	const char *expect; /* prefix of the next reply, or NULL */
	size_t len;         /* bytes of send when it holds a NUL; 0 = strlen */
};

/* most steps leave len out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* special "send" values: half-close the socket / close it at once */
static const char SHUT_SEND[] = "<shutdown>";
static const char CLOSE_NOW[] = "<close>";
/* ... and wait 100 ms before the next step (a slow client) */
static const char PAUSE[] = "<pause>";

struct run {
	int port;
	const struct step *steps;
	size_t nsteps;
	char problems[4096];
	atomic_int done;
};

#define MAX_MSGS 16
static struct spool_msg *accepted[MAX_MSGS];
static size_t naccepted;

static void on_accepted(struct spool_msg *msg, void *arg)
{
	(void)arg;
	if (naccepted < MAX_MSGS)
		accepted[naccepted++] = msg;
	else
		spool_msg_free(msg);
}

static void problem(struct run *r, const char *fmt, ...)
{
	size_t n = strlen(r->problems);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->problems + n, sizeof(r->problems) - n, fmt, ap);
	va_end(ap);
}

/* The client's receive buffer: pipelined replies may arrive together. */
struct rbuf {
	char data[16384];
	size_t len;
};

/* read_reply - one complete (possibly multi-line) reply into out */
static int read_reply(int fd, struct rbuf *rb, char *out, size_t size)
{
	for (;;) {
		char *line = rb->data;

		rb->data[rb->len] = '\0';
		/* complete when a line has "ddd " (or is just "ddd") and ends in CRLF */
		for (char *nl; (nl = strstr(line, "\r\n")) != NULL; line = nl + 2) {
			if ((nl - line >= 4 && line[3] == ' ') || nl - line == 3) {
				size_t n = (size_t)(nl + 2 - rb->data);
				if (n >= size)
					return -1;
				memcpy(out, rb->data, n);
				out[n] = '\0';
				memmove(rb->data, rb->data + n, rb->len - n);
				rb->len -= n;
				return 0;
			}
		}
		if (rb->len + 1 >= sizeof(rb->data))
			return -1;
		ssize_t got = recv(fd, rb->data + rb->len, sizeof(rb->data) - rb->len - 1, 0);
		if (got <= 0)
			return -1;
		rb->len += (size_t)got;
	}
}

static void *client_main(void *arg)
{
	struct run *r = arg;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	static struct rbuf rb;

	rb.len = 0;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		problem(r, "connect: %s\n", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < r->nsteps; i++) {
		const struct step *st = &r->steps[i];
		char reply[8192];

		if (st->send == SHUT_SEND) {
			shutdown(fd, SHUT_WR); /* half-close: we still read */
			continue;
		}
		if (st->send == PAUSE) {
			usleep(100 * 1000);
			continue;
		}
		if (st->send == CLOSE_NOW) {
			/* linger 0: close() sends RST, an abrupt disconnect */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			break;
		}
		if (st->send != NULL && send(fd, st->send, st->len ? st->len : strlen(st->send), MSG_NOSIGNAL) < 0) {
			/* the server may end the session while we still send (a
			 * deadline): go on to the next step that only reads */
			size_t j = i + 1;

			while (j < r->nsteps && (r->steps[j].send != NULL && r->steps[j].send != PAUSE))
				j++;
			while (j < r->nsteps && r->steps[j].expect == NULL)
				j++;
			if ((errno != EPIPE && errno != ECONNRESET) || j >= r->nsteps ||
			    r->steps[j].send != NULL) {
				problem(r, "step %zu: send failed: %s\n", i, strerror(errno));
				break;
			}
			i = j - 1;
			continue;
		}
		if (st->expect == NULL)
			continue;
		if (read_reply(fd, &rb, reply, sizeof(reply)) < 0) {
			problem(r, "step %zu: got no reply (connection closed?), want '%s'\n", i,
				st->expect);
			break;
		}
		if (strncmp(reply, st->expect, strlen(st->expect)) != 0)
			problem(r, "step %zu: got '%s', want '%s'\n", i, reply, st->expect);
	}
out:
	close(fd);
	atomic_store(&r->done, 1);
	return NULL;
}

struct fixture {
	struct event_base *base;
	struct config *cfg;
	struct spool *sp;
	struct smtp_server *srv;
	char dir[512];
};

static void fixture_up(struct fixture *f, const char **opts)
{
	char err[256];
	const char *tmp = getenv("MAILERD_TEST_TMP");

	if (tmp == NULL)
		tmp = P_tmpdir;
	mkdir(tmp, 0755);
	snprintf(f->dir, sizeof(f->dir), "%s/smtp-session-XXXXXX", tmp);
	assert_non_null(mkdtemp(f->dir));
	f->base = event_base_new();
	f->cfg = config_new();
	assert_int_equal(config_set_option(f->cfg, "listen=127.0.0.1:0", err, sizeof(err)), 0);
	assert_int_equal(config_set_option(f->cfg, "myhostname=mx.test", err, sizeof(err)), 0);
	assert_int_equal(config_set_option(f->cfg, "relay_networks=192.0.2.0/24", err, sizeof(err)), 0);
	assert_int_equal(config_set_option(f->cfg, "local_domains=local.example", err, sizeof(err)), 0);
	for (size_t i = 0; opts != NULL && opts[i] != NULL; i++) {
		int rc = config_set_option(f->cfg, opts[i], err, sizeof(err));
		if (rc != 0)
			print_error("option %s: %s\n", opts[i], err);
		assert_int_equal(rc, 0);
	}
	f->sp = spool_open(f->dir, f->base, SPOOL_OPEN_DAEMON, err, sizeof(err));
	if (f->sp == NULL)
		print_error("spool_open: %s\n", err);
	assert_non_null(f->sp);
	f->srv = smtp_server_new(f->base, f->cfg, f->sp, on_accepted, NULL, err, sizeof(err));
	if (f->srv == NULL)
		print_error("smtp_server_new: %s\n", err);
	assert_non_null(f->srv);
	naccepted = 0;
}

static void fixture_down(struct fixture *f)
{
	char cmd[600];

	for (size_t i = 0; i < naccepted; i++)
		spool_msg_free(accepted[i]);
	naccepted = 0;
	smtp_server_free(f->srv);
	spool_free(f->sp);
	config_free(f->cfg);
	event_base_free(f->base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_error("cleanup of %s failed\n", f->dir);
}

static struct event_base *loop_base;

static void on_tick_base(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	if (atomic_load(&r->done))
		event_base_loopbreak(loop_base);
}

/* play - run the steps against the server; returns the problems text */
static const char *play(struct fixture *f, struct run *r, const struct step *steps, size_t n)
{
	struct timeval tick = {.tv_usec = 5000};
	struct event *ev;
	pthread_t th;

	memset(r, 0, sizeof(*r));
	r->port = smtp_server_port(f->srv, 0);
	r->steps = steps;
	r->nsteps = n;
	loop_base = f->base;
	ev = event_new(f->base, -1, EV_PERSIST, on_tick_base, r);
	event_add(ev, &tick);
	assert_int_equal(pthread_create(&th, NULL, client_main, r), 0);
	event_base_dispatch(f->base);
	pthread_join(th, NULL);
	event_free(ev);
	/* let the server see the close (and finish pending commits) */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	return r->problems;
}

#define PLAY(f, steps)                                                                     \
	do {                                                                               \
		struct run run_;                                                           \
		const char *p_ = play((f), &run_, (steps), sizeof(steps) / sizeof((steps)[0])); \
		if (*p_ != '\0')                                                           \
			print_error("%s", p_);                                             \
		assert_string_equal(p_, "");                                               \
	} while (0)

/* read_body - the stored wire-form body of an accepted message */
static char *read_body(struct fixture *f, const struct spool_msg *m)
{
	int fd;
	size_t len;
	char *b;

	assert_int_equal(spool_body_open(f->sp, m, &fd, &len), 0);
	b = calloc(1, len + 1);
	assert_non_null(b);
	assert_int_equal(read(fd, b, len), (ssize_t)len);
	close(fd);
	return b;
}

static void test_accept_pipelined(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 mx.test ESMTP mailerd\r\n"},
		{"EHLO client.test\r\n", "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 36700160\r\n"
					 "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n"
					 "250 SMTPUTF8\r\n"},
		/* one pipelined group: replies come back in order */
		{"MAIL FROM:<sender@client.test> BODY=8BITMIME RET=HDRS ENVID=E+2B1\r\n"
		 "RCPT TO:<postmaster@local.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@local.example\r\n"
		 "RCPT TO:<x@foreign.example>\r\n"
		 "RCPT TO:<PostMaster@LOCAL.EXAMPLE.>\r\n"
		 "DATA\r\n",
		 "250 2.1.0"},
		{NULL, "250 2.1.5"},
		{NULL, "554 5.7.1 <x@foreign.example>: Relay access denied"},
		{NULL, "250 2.1.5"},
		{NULL, "354 "},
		{"Subject: hi\r\n\r\nbody line\r\n..dot stuffed\r\n.\r\nQUIT\r\n", "250 2.0.0 Ok: queued as "},
		{NULL, "221 2.0.0"},
	};
	struct fixture f;
	char *body;

	(void)state;
	fixture_up(&f, NULL);
	PLAY(&f, steps);
	assert_int_equal(naccepted, 1);
	assert_string_equal(accepted[0]->sender, "sender@client.test");
	assert_int_equal(accepted[0]->n_rcpt, 2);
	assert_string_equal(accepted[0]->rcpt[0].addr, "postmaster@local.example");
	assert_int_equal(accepted[0]->rcpt[0].notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE);
	assert_string_equal(accepted[0]->rcpt[0].orcpt, "rfc822;a@local.example");
	assert_string_equal(accepted[0]->rcpt[1].addr, "PostMaster@LOCAL.EXAMPLE");
	assert_string_equal(accepted[0]->envid, "E+2B1");
	assert_int_equal(accepted[0]->ret, DSN_RET_HDRS);
	assert_true(accepted[0]->eightbit);
	assert_int_equal(accepted[0]->origin, SPOOL_ORIGIN_SMTP);
	assert_string_equal(accepted[0]->client, "client.test (127.0.0.1)");
	body = read_body(&f, accepted[0]);
	/* Received first, then the client's header, then the added fields at
	 * the end of the header section, then the body as received */
	assert_true(strncmp(body, "Received: from client.test ([127.0.0.1])\r\n\tby mx.test (mailerd) with ESMTP id ", 77) == 0);
	assert_non_null(strstr(body, accepted[0]->id));
	assert_non_null(strstr(body, "\r\nSubject: hi\r\nDate: "));
	assert_non_null(strstr(body, "\r\nMessage-ID: <"));
	assert_non_null(strstr(body, "@mx.test>\r\n\r\nbody line\r\n..dot stuffed\r\n"));
	assert_null(strstr(body, "\r\n.\r\n"));
	free(body);
	fixture_down(&f);
}

static void test_existing_message_id_kept(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"HELO c\r\n", "250 mx.test"},
		{"MAIL FROM:<>\r\n", "250 2.1.0"},
		{"RCPT TO:<postmaster>\r\n", "250 2.1.5"},
		{"DATA\r\n", "354"},
		{"Message-ID: <x@y>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n\r\nhi\r\n.\r\n",
		 "250 2.0.0"},
		{"QUIT\r\n", "221"},
	};
	struct fixture f;
	char *body;

	(void)state;
	fixture_up(&f, NULL);
	PLAY(&f, steps);
	assert_int_equal(naccepted, 1);
	assert_string_equal(accepted[0]->sender, "");
	body = read_body(&f, accepted[0]);
	assert_non_null(strstr(body, "with SMTP id"));
	assert_non_null(strstr(body, "for <postmaster>;"));
	/* nothing added: exactly one Message-ID and one Date */
	assert_null(strstr(strstr(body, "Message-ID:") + 1, "Message-ID:"));
	assert_null(strstr(strstr(body, "\nDate:") + 1, "\nDate:"));
	free(body);
	fixture_down(&f);
}

static void test_refusals(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"MAIL FROM:<a@b.example>\r\n", "503 5.5.1"},
		{"FOO\r\n", "500 5.5.1"},
		{"EHLO c\r\n", "250-"},
		{"RCPT TO:<postmaster@local.example>\r\n", "503 5.5.1"},
		{"DATA\r\n", "503 5.5.1"},
		{"MAIL FROM:<a@b.example> SIZE=999999999\r\n", "552 5.3.4"},
		{"MAIL FROM:<j\xc3\xb6rg@b.example>\r\n", "553 5.6.7"},
		{"MAIL FROM:<a@b.example> FOO=1\r\n", "555 5.5.4"},
		{"MAIL FROM:<a@b.example>\r\n", "250 2.1.0"},
		{"MAIL FROM:<a@b.example>\r\n", "503 5.5.1"},
		{"RCPT TO:<x@foreign.example>\r\n", "554 5.7.1"},
		/* a percent hack is mail for the local domain, whose only user
		 * a stranger reaches is postmaster: refused, not relayed */
		{"RCPT TO:<x%foreign.example@local.example>\r\n", "550 5.1.1"},
		/* no backscatter: an unknown local user is refused at RCPT */
		{"RCPT TO:<nobody@local.example>\r\n",
		 "550 5.1.1 <nobody@local.example>: Recipient address rejected: no such user here\r\n"},
		{"RCPT TO:<Postmaster@local.example>\r\n", "250 2.1.5"},
		{"RCPT TO:<\"x@local.example\"@foreign.example>\r\n", "554 5.7.1"},
		{"RCPT TO:<bad address>\r\n", "501 5.1.3"},
		{"RSET\r\n", "250 2.0.0"},
		{"RCPT TO:<postmaster@local.example>\r\n", "503 5.5.1"},
		{"VRFY someone\r\n", "252 2.5.0"},
		{"EXPN list\r\n", "502 5.5.1"},
		{"HELP\r\n", "214 "},
		{"NOOP\r\n", "250 2.0.0"},
		{"STARTTLS\r\n", "502 5.5.1"},
		{"QUIT\r\n", "221 2.0.0"},
	};
	struct fixture f;

	(void)state;
	fixture_up(&f, (const char *[]){"max_message_size=1024", NULL});
	PLAY(&f, steps);
	assert_int_equal(naccepted, 0);
	fixture_down(&f);
}

static void test_data_rules(void **state)
{
	char big[3000];
	static struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		/* bare LF: read to the real end, then refuse */
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{"Subject: x\r\n\r\nline\n.\nmore\r\n.\r\n", "550 5.6.11"},
		/* bare CR */
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{"a\rb\r\n.\r\n", "550 5.6.11"},
		/* NUL */
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{"a\0b\r\n.\r\n", "550 5.6.0", 8},
		/* a clean message still goes through */
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{"ok\r\n.\r\n", "250 2.0.0"},
		/* too big while receiving */
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{NULL, "552 5.3.4"}, /* send set below */
		/* the session is still usable */
		{"NOOP\r\n", "250 2.0.0"},
		{"QUIT\r\n", "221"},
	};
	struct fixture f;

	(void)state;
	memset(big, 'x', sizeof(big));
	for (size_t i = 70; i < sizeof(big) - 8; i += 72)
		big[i] = '\r', big[i + 1] = '\n';
	memcpy(big + sizeof(big) - 8, "\r\n.\r\n", 6);
	steps[21].send = big;
	fixture_up(&f, (const char *[]){"max_message_size=2000", NULL});
	PLAY(&f, steps);
	assert_int_equal(naccepted, 1); /* only the harmless one */
	fixture_down(&f);
}

static void test_normalize(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{"Subject: x\r\n\r\nline\n.\nmore\r\n.\r\n", "250 2.0.0"},
		{"QUIT\r\n", "221"},
	};
	struct fixture f;
	char *body;

	(void)state;
	fixture_up(&f, (const char *[]){"bare_line_ending=normalize", NULL});
	PLAY(&f, steps);
	assert_int_equal(naccepted, 1);
	body = read_body(&f, accepted[0]);
	/* the bare "." line is stored dot-stuffed, never as CRLF.CRLF */
	assert_non_null(strstr(body, "\r\n\r\nline\r\n..\r\nmore\r\n"));
	assert_null(strstr(body, "\r\n.\r\n"));
	free(body);
	fixture_down(&f);
}

static void test_long_line_and_errors(void **state)
{
	static char longline[2000];
	static struct step steps[] = {
		{NULL, "220 "},
		{NULL, "500 5.5.2"}, /* send set below */
		{"NOOP\r\n", "250 2.0.0"},
		{"X1\r\nX2\r\nX3\r\nX4\r\nX5\r\nX6\r\nX7\r\nX8\r\nX9\r\nX10\r\n"
		 "X11\r\nX12\r\nX13\r\nX14\r\nX15\r\nX16\r\nX17\r\nX18\r\nX19\r\n",
		 "500 5.5.1"},
		/* X2..X18 */
		{NULL, "500"}, {NULL, "500"}, {NULL, "500"}, {NULL, "500"}, {NULL, "500"},
		{NULL, "500"}, {NULL, "500"}, {NULL, "500"}, {NULL, "500"}, {NULL, "500"},
		{NULL, "500"}, {NULL, "500"}, {NULL, "500"}, {NULL, "500"}, {NULL, "500"},
		{NULL, "500"}, {NULL, "500"},
		/* X19 is the 20th error: its reply, then 421 and the end */
		{NULL, "500 5.5.1 Error: command not recognized\r\n"},
		{NULL, "421 4.7.0 mx.test Error: too many errors"},
		{"NOOP\r\n", NULL},
	};
	struct fixture f;

	(void)state;
	memset(longline, 'A', sizeof(longline) - 3);
	memcpy(longline + sizeof(longline) - 3, "\r\n", 3);
	steps[1].send = longline;
	fixture_up(&f, NULL);
	PLAY(&f, steps);
	fixture_down(&f);
}

/* A text line over 998 octets (RFC 5321 section 4.5.3.1.6): the data is
 * read to its real end, refused with 550 5.6.0, nothing is queued, and
 * the session goes on; a line of exactly 998 is accepted. */
static void test_overlong_text_line(void **state)
{
	static char toolong[3000], limit[1100];
	static struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{NULL, "550 5.6.0 Message contains a line longer than 998 octets"}, /* toolong */
		{"NOOP\r\n", "250 2.0.0"},
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{NULL, "250 2.0.0"}, /* limit */
		{"QUIT\r\n", "221"},
	};
	struct fixture f;
	size_t n;

	(void)state;
	/* 2000 octets on one line, the end mark in the same write */
	n = (size_t)snprintf(toolong, sizeof(toolong), "Subject: long\r\n\r\n");
	memset(toolong + n, 'L', 2000);
	memcpy(toolong + n + 2000, "\r\n.\r\n", 6);
	toolong[n + 2000 + 6] = '\0';
	steps[5].send = toolong;
	n = (size_t)snprintf(limit, sizeof(limit), "Subject: limit\r\n\r\n");
	memset(limit + n, 'K', 998);
	memcpy(limit + n + 998, "\r\n.\r\n", 6);
	limit[n + 998 + 6] = '\0';
	steps[10].send = limit;
	fixture_up(&f, NULL);
	PLAY(&f, steps);
	/* only the 998-octet one was queued */
	assert_int_equal(naccepted, 1);
	fixture_down(&f);
}

static void test_timeout(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		{NULL, "421 4.4.2 mx.test Error: timeout exceeded"},
	};
	struct fixture f;

	(void)state;
	fixture_up(&f, (const char *[]){"smtpd_timeout=300ms", NULL});
	PLAY(&f, steps);
	fixture_down(&f);
}

/* Slowloris: one byte per 100 ms keeps the read timeout (300 ms) from
 * ever firing, but the per-command deadline counts from the last complete
 * command, so the session ends after ~300 ms, before the line is done. */
static void test_slowloris_deadline(void **state)
{
#define B(c) {c, NULL}, {PAUSE, NULL}
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		B("N"), B("O"), B("O"), B("P"), B(" "), B("a"), B("b"), B("c"), B("d"), B("\r"),
		/* without the deadline this completes the NOOP: "250 2.0.0" */
		{"\n", NULL},
		{NULL, "421 4.4.2 mx.test Error: timeout exceeded"},
	};
#undef B
	struct fixture f;

	(void)state;
	fixture_up(&f, (const char *[]){"smtpd_timeout=300ms", NULL});
	PLAY(&f, steps);
	fixture_down(&f);
}

/* The same in DATA: gaps under smtpd_data_timeout, but the whole DATA
 * phase is bounded by smtpd_data_deadline; nothing is queued. */
static void test_slow_data_deadline(void **state)
{
	static struct step steps[40] = {
		{NULL, "220 "},
		{"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\n"
		 "DATA\r\n", "250-"},
		{NULL, "250 2.1.0"},
		{NULL, "250 2.1.5"},
		{NULL, "354 "},
	};
	struct fixture f;
	size_t n = 5;

	(void)state;
	while (n + 2 < sizeof(steps) / sizeof(steps[0]) - 2) {
		steps[n++] = (struct step){"x", NULL};
		steps[n++] = (struct step){PAUSE, NULL};
	}
	/* without the deadline this ends the data: "250 2.0.0" */
	steps[n++] = (struct step){"\r\n.\r\n", NULL};
	steps[n++] = (struct step){NULL, "421 4.4.2 mx.test Error: timeout exceeded"};
	fixture_up(&f, (const char *[]){"smtpd_data_timeout=500ms", "smtpd_data_deadline=1s", NULL});
	PLAY(&f, steps);
	assert_int_equal(naccepted, 0);
	fixture_down(&f);
}

/* A bare CR inside a command line never splits it into two commands. */
static void test_bare_cr_command(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		{"MAIL FROM:<a@b.example>\rRCPT TO:<postmaster@local.example>\r\n",
		 "500 5.5.2 Error: bare CR in command"},
		{"RCPT TO:<postmaster@local.example>\r\n", "503 5.5.1"},
		{"QUIT\r\n", "221 "},
	};
	struct fixture f;

	(void)state;
	fixture_up(&f, NULL);
	PLAY(&f, steps);
	fixture_down(&f);
}

/* max_messages_per_ip_per_minute: the third MAIL in a minute is refused
 * with 450 4.7.1; a refused MAIL leaves no transaction behind. */
static void test_message_rate_limit(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		{"MAIL FROM:<a@b.example>\r\n", "250 2.1.0"},
		{"RSET\r\n", "250 2.0.0"},
		{"MAIL FROM:<a@b.example>\r\n", "250 2.1.0"},
		{"RSET\r\n", "250 2.0.0"},
		{"MAIL FROM:<a@b.example>\r\n", "450 4.7.1 Rate limit exceeded, try again later"},
		{"RCPT TO:<postmaster@local.example>\r\n", "503 5.5.1"},
		{"QUIT\r\n", "221 "},
	};
	struct fixture f;

	(void)state;
	fixture_up(&f, (const char *[]){"max_messages_per_ip_per_minute=2", NULL});
	PLAY(&f, steps);
	fixture_down(&f);
}

/* max_connections_per_ip = 0 and max_connections = 1: the client thread
 * is the only one allowed, the fixture's own probe is refused. */
static void test_connection_limit(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"NOOP\r\n", "250 2.0.0"},
		{"QUIT\r\n", "221 "},
	};
	struct fixture f;
	struct run r;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 5};
	char buf[256] = "";
	int fd;
	ssize_t got;

	(void)state;
	fixture_up(&f, (const char *[]){"max_connections=1", NULL});
	/* hold the one slot with a raw connection the loop accepts first */
	sin.sin_port = htons((uint16_t)smtp_server_port(f.srv, 0));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	for (int i = 0; i < 20; i++)
		event_base_loop(f.base, EVLOOP_NONBLOCK);
	/* the client thread's connection is the second: 421 then close */
	{
		static const struct step refused[] = {
			{NULL, "421 4.7.0 mx.test Too many connections, try again later"},
		};
		const char *p = play(&f, &r, refused, 1);
		if (*p != '\0')
			print_error("%s", p);
		assert_string_equal(p, "");
	}
	got = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(got > 0);
	assert_memory_equal(buf, "220 ", 4);
	close(fd);
	for (int i = 0; i < 20; i++)
		event_base_loop(f.base, EVLOOP_NONBLOCK);
	/* the slot is back */
	PLAY(&f, steps);
	fixture_down(&f);
}

static void test_too_many_recipients(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		{"MAIL FROM:<a@b.example>\r\n", "250"},
		{"RCPT TO:<postmaster@local.example>\r\n", "250"},
		{"RCPT TO:<Postmaster@local.example>\r\n", "250"},
		{"RCPT TO:<postmaster>\r\n", "452 4.5.3"},
		{"QUIT\r\n", "221"},
	};
	struct fixture f;

	(void)state;
	fixture_up(&f, (const char *[]){"max_recipients=2", NULL});
	PLAY(&f, steps);
	fixture_down(&f);
}

static void test_bad_relay_networks(void **state)
{
	struct event_base *base = event_base_new();
	struct config *cfg = config_new();
	char err[256] = "";

	(void)state;
	/* the config layer stores the list as text; the server parses it once
	 * at start and must refuse to start on a malformed CIDR */
	assert_int_equal(config_set_option(cfg, "relay_networks=10.0.0.0/40", err, sizeof(err)), 0);
	assert_int_equal(config_set_option(cfg, "listen=127.0.0.1:0", err, sizeof(err)), 0);
	assert_null(smtp_server_new(base, cfg, NULL, on_accepted, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "relay_networks"));
	/* and a listen item without a port */
	assert_int_equal(config_set_option(cfg, "relay_networks=10.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(config_set_option(cfg, "listen=127.0.0.1", err, sizeof(err)), 0);
	assert_null(smtp_server_new(base, cfg, NULL, on_accepted, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "listen"));
	config_free(cfg);
	event_base_free(base);
}

/* wait_accepted - run the loop until n messages were handed over (2 s) */
static void wait_accepted(struct fixture *f, size_t n)
{
	for (int i = 0; i < 400 && naccepted < n; i++) {
		struct timeval tv = {.tv_usec = 5000};
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
}

/* A client that half-closes after pipelining everything still gets every
 * reply, including the 250 sent after the durable commit. */
static void test_half_close(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n"
		 "Subject: s\r\n\r\nhello\r\n.\r\nQUIT\r\n", "250-"},
		{SHUT_SEND, NULL},
		{NULL, "250 2.1.0"},
		{NULL, "250 2.1.5"},
		{NULL, "354"},
		{NULL, "250 2.0.0 Ok: queued as "},
		{NULL, "221 2.0.0"},
	};
	struct fixture f;

	(void)state;
	fixture_up(&f, NULL);
	PLAY(&f, steps);
	assert_int_equal(naccepted, 1);
	fixture_down(&f);
}

/* A client that leaves while the commit is in flight: the message is
 * durable, so it is still handed on, and nothing touches freed memory
 * (the sanitizer build checks that). */
static void test_disconnect_during_commit(void **state)
{
	static const struct step steps[] = {
		{NULL, "220 "},
		{"EHLO c\r\n", "250-"},
		{"MAIL FROM:<a@b.example>\r\nRCPT TO:<postmaster@local.example>\r\nDATA\r\n", "250"},
		{NULL, "250"},
		{NULL, "354"},
		{"Subject: s\r\n\r\nhello\r\n.\r\n", NULL},
		{CLOSE_NOW, NULL},
	};
	struct fixture f;

	(void)state;
	fixture_up(&f, NULL);
	PLAY(&f, steps);
	wait_accepted(&f, 1);
	assert_int_equal(naccepted, 1);
	assert_int_equal(accepted[0]->n_rcpt, 1);
	fixture_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_pipelined),
		cmocka_unit_test(test_existing_message_id_kept),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_data_rules),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_long_line_and_errors),
		cmocka_unit_test(test_overlong_text_line),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_too_many_recipients),
		cmocka_unit_test(test_slowloris_deadline),
		cmocka_unit_test(test_slow_data_deadline),
		cmocka_unit_test(test_bare_cr_command),
		cmocka_unit_test(test_message_rate_limit),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_bad_relay_networks),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_disconnect_during_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
