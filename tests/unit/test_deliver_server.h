/*
 * test_deliver_server.h - in-process fakes for the delivery tests, all on
 * loopback: a scripted SMTP server (tsrv_*) and a tiny authoritative DNS
 * server over UDP (tdns_*) that c-ares is pointed at through dns_servers.
 *
 * Header-only (static functions) so each test_deliver_*.c stays one
 * executable. The SMTP server answers every command with a default reply
 * unless a rule (case-insensitive command prefix -> reply text) matches;
 * reply "HANG" sends nothing, "CLOSE" drops the connection. It records a
 * transcript of command lines, the last message body as received (wire
 * form, dot-stuffed, without the final "."), and counters.
 */
#ifndef TEST_DELIVER_SERVER_H
#define TEST_DELIVER_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/util.h"

#define TSRV_MAX_CONN 32

struct tsrv_rule {
	const char *prefix;
	const char *reply; /* full lines with CRLF, or "HANG" / "CLOSE" */
};

struct tsrv;
struct tsrv_conn {
	struct tsrv *s;
	struct bufferevent *bev;
	bool in_data;
	bool closing;
	int mails;
};

struct tsrv {
	struct event_base *base;
	struct evconnlistener *lis;
	unsigned port;
	const char *greeting;         /* default "220 tsrv ESMTP" */
	const char *ehlo;             /* default: PIPELINING SIZE 8BITMIME DSN SMTPUTF8 ... */
	const struct tsrv_rule *rules;
	const char *final_reply;      /* reply to "."; default 250 */
	int drop_mail_n;              /* close silently on the Nth MAIL of a connection */
	int connections, messages, batched, quits;
	struct buf transcript;
	struct buf body;
	struct tsrv_conn *conns[TSRV_MAX_CONN];
};

static const char TSRV_EHLO_FULL[] =
	"250-tsrv.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250-DSN\r\n"
	"250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n";
static const char TSRV_EHLO_PLAIN[] = "250-tsrv.test\r\n250 8BITMIME\r\n";

static void tsrv_conn_free(struct tsrv_conn *c)
{
	for (int i = 0; i < TSRV_MAX_CONN; i++)
		if (c->s->conns[i] == c)
			c->s->conns[i] = NULL;
	bufferevent_free(c->bev);
	free(c);
}

static void tsrv_on_write(struct bufferevent *bev, void *arg)
{
	struct tsrv_conn *c = arg;

	(void)bev;
	if (c->closing)
		tsrv_conn_free(c);
}

static void tsrv_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	tsrv_conn_free(arg);
}

/* Returns false when the connection was freed. */
static bool tsrv_reply(struct tsrv_conn *c, const char *reply)
{
	if (strcmp(reply, "HANG") == 0)
		return true;
	if (strcmp(reply, "CLOSE") == 0) {
		tsrv_conn_free(c);
		return false;
	}
	bufferevent_write(c->bev, reply, strlen(reply));
	return true;
}

static void tsrv_on_read(struct bufferevent *bev, void *arg)
{
	struct tsrv_conn *c = arg;
	struct tsrv *s = c->s;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while (!c->closing && (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) != NULL) {
		const char *reply = NULL;
		bool ok = true;

		if (c->in_data) {
			if (strcmp(line, ".") == 0) {
				c->in_data = false;
				s->messages++;
				ok = tsrv_reply(c, s->final_reply ? s->final_reply : "250 2.0.0 Ok: queued\r\n");
			} else {
				buf_append(&s->body, line, n);
				buf_append(&s->body, "\r\n", 2);
			}
			free(line);
			if (!ok)
				return;
			continue;
		}
		buf_append(&s->transcript, line, n);
		buf_putc(&s->transcript, '\n');
		if (evbuffer_get_length(in) > 0)
			s->batched++;
		for (const struct tsrv_rule *r = s->rules; r != NULL && r->prefix != NULL; r++)
			if (strncasecmp(line, r->prefix, strlen(r->prefix)) == 0) {
				reply = r->reply;
				break;
			}
		if (strncasecmp(line, "MAIL", 4) == 0 && ++c->mails == s->drop_mail_n) {
			free(line);
			tsrv_conn_free(c);
			return;
		}
		if (reply == NULL) {
			if (strncasecmp(line, "EHLO", 4) == 0)
				reply = s->ehlo ? s->ehlo : TSRV_EHLO_FULL;
			else if (strncasecmp(line, "HELO", 4) == 0)
				reply = "250 tsrv.test\r\n";
			else if (strncasecmp(line, "DATA", 4) == 0)
				reply = "354 go ahead\r\n";
			else if (strncasecmp(line, "QUIT", 4) == 0)
				reply = "221 2.0.0 bye\r\n";
			else
				reply = "250 2.0.0 Ok\r\n";
		}
		if (strncasecmp(line, "DATA", 4) == 0 && strncmp(reply, "354", 3) == 0) {
			c->in_data = true;
			buf_reset(&s->body);
		}
		if (strncasecmp(line, "QUIT", 4) == 0) {
			s->quits++;
			c->closing = true;
		}
		free(line);
		if (!tsrv_reply(c, reply))
			return;
	}
}

static void tsrv_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
			   void *arg)
{
	struct tsrv *s = arg;
	struct tsrv_conn *c = xcalloc(1, sizeof(*c));

	(void)l;
	(void)sa;
	(void)salen;
	c->s = s;
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, tsrv_on_read, tsrv_on_write, tsrv_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	for (int i = 0; i < TSRV_MAX_CONN; i++)
		if (s->conns[i] == NULL) {
			s->conns[i] = c;
			break;
		}
	s->connections++;
	if (!tsrv_reply(c, s->greeting ? s->greeting : "220 tsrv.test ESMTP\r\n"))
		return;
}

/* tsrv_start - listen on ip:port (port 0 = any); returns -1 when busy */
static inline int tsrv_start(struct tsrv *s, struct event_base *base, const char *ip, unsigned port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->base = base;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	s->lis = evconnlistener_new_bind(base, tsrv_on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
					 16, (struct sockaddr *)&sin, sizeof(sin));
	if (s->lis == NULL)
		return -1;
	getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&sin, &len);
	s->port = ntohs(sin.sin_port);
	return 0;
}

static inline void tsrv_stop(struct tsrv *s)
{
	for (int i = 0; i < TSRV_MAX_CONN; i++)
		if (s->conns[i] != NULL)
			tsrv_conn_free(s->conns[i]);
	if (s->lis != NULL)
		evconnlistener_free(s->lis);
	s->lis = NULL;
	buf_free(&s->transcript);
	buf_free(&s->body);
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static inline unsigned tsrv_dead_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fatal("bind: %s", strerror(errno));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* tsrv_body_fd - an unlinked temporary file holding a message body behind
 * a 64-byte header, in
 * MAILERD_TEST_TMP (set by ctest) or the system temporary directory */
static inline int tsrv_body_fd(const char *data, size_t len)
{
	const char *dir = getenv("MAILERD_TEST_TMP");
	char path[512];
	int fd;

	if (dir == NULL)
		dir = P_tmpdir;
	util_mkdir_p(dir, 0700);
	snprintf(path, sizeof(path), "%s/deliver-body-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		fatal("mkstemp: %s", strerror(errno));
	unlink(path);
	/* Like spool_body_open: the body sits behind a header the client must
	 * never send, and the fd comes positioned at the first body byte. */
	static const char header[64] = "NOT-PART-OF-THE-BODY: must not be delivered\n";
	if (util_write_all(fd, header, sizeof(header)) < 0 || util_write_all(fd, data, len) < 0)
		fatal("write: %s", strerror(errno));
	if (lseek(fd, (off_t)sizeof(header), SEEK_SET) < 0)
		fatal("lseek: %s", strerror(errno));
	return fd;
}

/* ---- the DNS fake ---------------------------------------------------- */

enum { TDNS_A = 1, TDNS_MX = 15, TDNS_TXT = 16, TDNS_AAAA = 28 };

struct tdns_rr {
	const char *name;
	int type;
	const char *data;  /* A/AAAA: address text; MX: host ("." = root); TXT: text */
	int pref;
};

struct tdns {
	struct event_base *base;
	int fd;
	struct event *ev;
	unsigned port;
	const struct tdns_rr *rrs;
	const char *const *servfail;   /* names answered SERVFAIL */
	const char *const *silent;     /* names never answered (timeouts) */
	int queries;
};

static bool tdns_in(const char *const *list, const char *name)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcasecmp(*list, name) == 0)
			return true;
	return false;
}

static size_t tdns_put_name(unsigned char *p, const char *name)
{
	size_t n = 0;

	while (*name != '\0' && strcmp(name, ".") != 0) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);
		p[n++] = (unsigned char)len;
		memcpy(p + n, name, len);
		n += len;
		name += len + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

static void tdns_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct tdns *t = arg;
	unsigned char q[512], r[1500];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t len = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
	char name[256] = "";
	size_t i = 12, nl = 0, qend, rl;
	int qtype, rcode = 0, an = 0;
	bool exists = false;

	(void)what;
	if (len < 17)
		return;
	t->queries++;
	while (i < (size_t)len && q[i] != 0) {
		size_t l = q[i++];
		if (nl > 0)
			name[nl++] = '.';
		memcpy(name + nl, q + i, l);
		nl += l;
		i += l;
	}
	name[nl] = '\0';
	i++;
	qtype = (q[i] << 8) | q[i + 1];
	qend = i + 4;
	if (tdns_in(t->silent, name))
		return;
	memcpy(r, q, qend);
	rl = qend;
	for (const struct tdns_rr *rr = t->rrs; rr->name != NULL; rr++) {
		if (strcasecmp(rr->name, name) != 0)
			continue;
		exists = true;
		if (rr->type != qtype)
			continue;
		unsigned char *p = r + rl;
		size_t dl = 0;
		p[0] = 0xc0, p[1] = 12;                      /* name: pointer to the question */
		p[2] = 0, p[3] = (unsigned char)rr->type;
		p[4] = 0, p[5] = 1;                          /* class IN */
		p[6] = 0, p[7] = 0, p[8] = 0, p[9] = 60;     /* TTL */
		if (rr->type == TDNS_A) {
			inet_pton(AF_INET, rr->data, p + 12);
			dl = 4;
		} else if (rr->type == TDNS_AAAA) {
			inet_pton(AF_INET6, rr->data, p + 12);
			dl = 16;
		} else if (rr->type == TDNS_MX) {
			p[12] = (unsigned char)(rr->pref >> 8);
			p[13] = (unsigned char)rr->pref;
			dl = 2 + tdns_put_name(p + 14, rr->data);
		} else {
			p[12] = (unsigned char)strlen(rr->data);
			memcpy(p + 13, rr->data, strlen(rr->data));
			dl = 1 + strlen(rr->data);
		}
		p[10] = (unsigned char)(dl >> 8);
		p[11] = (unsigned char)dl;
		rl += 12 + dl;
		an++;
	}
	if (tdns_in(t->servfail, name)) {
		rcode = 2;
		an = 0;
		rl = qend;
	} else if (!exists) {
		rcode = 3; /* NXDOMAIN */
	}
	r[2] = 0x81; /* QR, RD */
	r[3] = (unsigned char)(0x80 | rcode); /* RA */
	r[6] = 0, r[7] = (unsigned char)an;
	r[8] = r[9] = r[10] = r[11] = 0;
	sendto(fd, r, rl, 0, (struct sockaddr *)&from, flen);
}

static inline void tdns_start(struct tdns *t, struct event_base *base, const struct tdns_rr *rrs)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(t, 0, sizeof(*t));
	t->base = base;
	t->rrs = rrs;
	t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (t->fd < 0 || bind(t->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fatal("tdns bind: %s", strerror(errno));
	getsockname(t->fd, (struct sockaddr *)&sin, &len);
	t->port = ntohs(sin.sin_port);
	t->ev = event_new(base, t->fd, EV_READ | EV_PERSIST, tdns_on_read, t);
	event_add(t->ev, NULL);
}

static inline void tdns_stop(struct tdns *t)
{
	event_free(t->ev);
	close(t->fd);
}

#endif
