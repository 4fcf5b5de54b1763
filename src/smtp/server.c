/*
 * server.c - the SMTP listeners: one evconnlistener per address of the
 * `listen` setting ("host:port" items separated by commas; IPv6 as
 * "[::1]:2525"; host "*" or empty means all IPv4 addresses), and the
 * server object every session points back to.
 *
 * Everything that can be wrong in the settings is found here, at start-up,
 * with a message naming the setting: a listen item without a port, an
 * address that does not bind, a malformed relay_networks CIDR. After
 * start-up nothing in this file fails except accept(), which is logged.
 *
 * IPv6 listeners are IPV6_V6ONLY so "0.0.0.0:25, [::]:25" can coexist.
 *
 * Admission (limit.c, docs/security.md): past max_connections in total,
 * or max_connections_per_ip from one address, a new connection gets
 * "421 4.7.0 ... Too many connections" written straight to the socket and
 * is closed before a session (and its buffers) exist. The soft limit of
 * open files is raised towards the hard one at start-up so that
 * max_connections sessions fit; if they cannot, a warning says so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "smtp/command.h"
#include "smtp/internal.h"
#include "smtp/receive.h"

#define LISTEN_BACKLOG 128
/* descriptors besides the sessions: listeners, spool, log, delivery */
#define FD_RESERVE 256

/* what every session calls up into: the server wires the session to the
 * command handlers and the DATA receiver, so session.c needs neither by
 * name (they call down into it; see internal.h) */
static const struct smtp_session_handlers session_handlers = {
    .on_line = smtp_command_run,
    .on_data = smtp_receive_feed,
    .on_data_clear = smtp_receive_clear,
};

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct smtp_server *srv = arg;
	char ip[INET6_ADDRSTRLEN] = "unknown";
	enum smtp_limit_verdict verdict;

	(void)lev;
	(void)salen;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr, ip,
		          sizeof(ip));
	verdict = smtp_limits_connect(srv->limits, ip, util_now_ms());
	if (verdict != SMTP_LIMIT_OK) {
		char msg[400];
		int n = snprintf(
		    msg, sizeof(msg), "421 4.7.0 %s Too many connections%s, try again later\r\n",
		    srv->hostname, verdict == SMTP_LIMIT_PER_IP ? " from your address" : "");

		log_info("smtp: refused connection from [%s]: too many connections%s", ip,
		         verdict == SMTP_LIMIT_PER_IP ? " from this address" : "");
		/* a fresh socket's send buffer is empty: this never blocks, and
		 * if it fails the client just sees the close */
		if (n > 0 && send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("smtp: 421 to [%s] not sent: %s", ip, strerror(errno));
		evutil_closesocket(fd);
		return;
	}
	smtp_session_start(srv, fd, ip, true, &session_handlers);
}

/* raise_nofile - make room for max_connections sessions */
static void raise_nofile(uint64_t max_connections)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = max_connections > 0 ? (rlim_t)(max_connections + FD_RESERVE) : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("smtp: cannot raise the open file limit: %s", strerror(errno));
	}
	if (max_connections > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)(max_connections + FD_RESERVE))
		log_warn("smtp: open file limit %llu is too low for max_connections = %llu",
		         (unsigned long long)rl.rlim_cur, (unsigned long long)max_connections);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	(void)lev;
	(void)arg;
	/* EMFILE and friends: log and keep listening; libevent retries */
	log_error("smtp: accept failed: %s", strerror(errno));
}

/* split_hostport - "host:port" or "[v6]:port" */
static int split_hostport(const char *item, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon;
	size_t hlen;

	if (item[0] == '[') {
		const char *rb = strchr(item, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		hlen = (size_t)(rb - item - 1);
		if (hlen >= hsize)
			return -1;
		memcpy(host, item + 1, hlen);
		host[hlen] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(item, ':');
		if (colon == NULL || memchr(item, ':', (size_t)(colon - item)) != NULL)
			return -1; /* no port, or IPv6 without brackets */
		hlen = (size_t)(colon - item);
		if (hlen >= hsize)
			return -1;
		memcpy(host, item, hlen);
		host[hlen] = '\0';
	}
	if (colon[1] == '\0' || util_strlcpy(port, colon + 1, psize) >= psize ||
	    strspn(port, "0123456789") != strlen(port))
		return -1;
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		util_strlcpy(host, "0.0.0.0", hsize);
	return 0;
}

static int bind_one(struct smtp_server *srv, const struct addrinfo *ai, const char *item, char *err,
                    size_t errlen)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	int one = 1;
	struct evconnlistener *lev;

	if (fd < 0) {
		snprintf(err, errlen, "listen %s: socket: %s", item, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || evutil_make_socket_nonblocking(fd) < 0) {
		snprintf(err, errlen, "listen %s: bind: %s", item, strerror(errno));
		close(fd);
		return -1;
	}
	lev = evconnlistener_new(srv->base, on_accept, srv,
	                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG, fd);
	if (lev == NULL) {
		snprintf(err, errlen, "listen %s: listen: %s", item, strerror(errno));
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(lev, on_accept_error);
	srv->lev = xrealloc(srv->lev, (srv->nlev + 1) * sizeof(*srv->lev));
	srv->lev[srv->nlev++] = lev;
	log_info("smtp: listening on %s (port %d)", item, smtp_server_port(srv, srv->nlev - 1));
	return 0;
}

static int listen_item(struct smtp_server *srv, const char *item, char *err, size_t errlen)
{
	char host[300], port[16];
	struct addrinfo hints, *res = NULL;
	int rc;

	if (split_hostport(item, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "listen: bad address '%s' (want host:port or [ipv6]:port)",
		         item);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s: %s", item, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (bind_one(srv, ai, item, err, errlen) < 0) {
			freeaddrinfo(res);
			return -1;
		}
	}
	freeaddrinfo(res);
	return 0;
}

struct smtp_server *smtp_server_new(struct event_base *base, const struct config *cfg,
                                    struct spool *sp, smtp_accepted_fn on_accepted, void *arg,
                                    char *err, size_t errlen)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));
	const char *p;

	srv->base = base;
	srv->cfg = cfg;
	srv->sp = sp;
	srv->on_accepted = on_accepted;
	srv->arg = arg;
	srv->hostname = cfg->myhostname != NULL && *cfg->myhostname ? cfg->myhostname : "localhost";
	srv->normalize =
	    cfg->bare_line_ending != NULL && strcasecmp(cfg->bare_line_ending, "normalize") == 0;
	srv->max_rcpt = cfg->max_recipients > 0 && cfg->max_recipients < SPOOL_MAX_RCPT
	                    ? (size_t)cfg->max_recipients
	                    : SPOOL_MAX_RCPT;
	srv->relay = smtp_relay_new(cfg->relay_networks, cfg->local_domains, err, errlen);
	if (srv->relay == NULL)
		goto fail;
	srv->limits = smtp_limits_new(cfg->max_connections, cfg->max_connections_per_ip,
	                              cfg->max_messages_per_ip_per_minute);
	raise_nofile(cfg->max_connections);

	p = cfg->listen != NULL ? cfg->listen : "";
	while (*p != '\0') {
		char item[320];
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (n >= sizeof(item)) {
			snprintf(err, errlen, "listen: item too long");
			goto fail;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		p += n;
		if (listen_item(srv, item, err, errlen) < 0)
			goto fail;
	}
	if (srv->nlev == 0) {
		snprintf(err, errlen, "listen: no address given");
		goto fail;
	}
	return srv;
fail:
	smtp_server_free(srv);
	return NULL;
}

int smtp_server_port(const struct smtp_server *srv, size_t i)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (srv == NULL || i >= srv->nlev)
		return -1;
	if (getsockname(evconnlistener_get_fd(srv->lev[i]), (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void smtp_server_free(struct smtp_server *srv)
{
	if (srv == NULL)
		return;
	for (size_t i = 0; i < srv->nlev; i++)
		evconnlistener_free(srv->lev[i]);
	free(srv->lev);
	while (srv->sessions != NULL) {
		struct smtp_session *s = srv->sessions;

		/* a session with a commit in flight outlives us: its callback
		 * sees srv == NULL and frees the message */
		srv->sessions = s->next;
		s->prev = s->next = NULL;
		s->srv = NULL;
		smtp_session_stop_timer(s);
		if (s->bev != NULL) {
			bufferevent_free(s->bev);
			s->bev = NULL;
			smtp_session_release(s);
		}
	}
	smtp_relay_free(srv->relay);
	smtp_limits_free(srv->limits);
	free(srv);
}
