/*
 * internal.h - declarations shared by the files of src/deliver and its
 * unit tests only (other parts include deliver.h).
 *
 *   mx.c         MX ordering, null MX, DNS result -> outcome (pure)
 *   transport.c  transport_map parsing and lookup, address literals (pure)
 *   resolve.c    c-ares on the libevent loop: MX -> A/AAAA -> targets
 *   conn.c       one SMTP connection: connect, greeting, EHLO, the cache
 *   txn.c        one mail transaction on a greeted connection
 *   deliver.c    requests: routing, trying targets in order, the done
 *                callback; wires conn.c and txn.c together
 *
 * Calls by name run one way only: deliver.c -> txn.c -> conn.c (and
 * deliver.c -> conn.c). conn.c reports upward through the const
 * deliver_conn_ops table its pool was given, so it knows sockets, not
 * transactions or requests' routing.
 */
#ifndef MAILERD_DELIVER_INTERNAL_H
#define MAILERD_DELIVER_INTERNAL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "deliver/deliver.h"
#include "smtp/smtp.h"
#include "util/outcome.h"

/* Postfix tries at most 5 addresses and 2 sessions per attempt; we allow a
 * few more hosts so a site with a dead primary and several backups still
 * gets through, while a wrong MX list cannot keep an attempt busy for long. */
#define DELIVER_MAX_MX      10
#define DELIVER_MAX_TARGETS 10
#define DELIVER_MAX_ADDR    4 /* per host and address family */

/* ---- mx.c ------------------------------------------------------------ */

/* deliver_mx_sort - order by preference, shuffle equal preferences
 * (RFC 5321 section 5.1: "randomize ... to spread the load") */
void deliver_mx_sort(struct deliver_mx *mx, size_t n);
/* deliver_mx_is_null - the RFC 7505 null MX: exactly one record whose
 * exchange is the root "." (c-ares gives it as "" or ".") */
bool deliver_mx_is_null(const struct deliver_mx *mx, size_t n);

/* One address to try, in order. */
struct deliver_target {
	char host[256]; /* MX host name (or the literal) */
	char ip[INET6_ADDRSTRLEN];
	struct sockaddr_storage sa; /* port filled in by deliver.c */
	socklen_t salen;
	int pref;
};

struct deliver_resolved {
	enum deliver_dns_status status;
	bool implicit;    /* no MX: the name's own addresses (RFC 5321 5.1) */
	bool mx_no_addr;  /* MX records exist, but none has an address */
	char detail[200]; /* resolver words for TEMP ("timeout", ...) */
	const struct deliver_target *t;
	size_t n;
};

/* deliver_dns_outcome - the outcome every recipient gets when a lookup
 * gave no target. smarthost: the name came from transport_map, where a
 * missing name is our configuration error, so it is never PERM. */
void deliver_dns_outcome(struct outcome *o, const struct deliver_resolved *res, const char *name,
                         bool smarthost);

/* ---- transport.c ----------------------------------------------------- */

struct deliver_route {
	char domain[256]; /* "example.com", ".example.com" (subdomains) or "*" */
	char host[256];   /* host name or IP text, without brackets */
	unsigned port;
	bool no_mx;   /* [host]: connect to host's addresses */
	bool literal; /* host is an IP address */
};

struct deliver_transport {
	struct deliver_route *route;
	size_t n;
};

/* deliver_transport_parse - "domain=[host]:port, domain=host:port, ..."
 * into t (empty spec -> no routes). On error returns -1 with the entry
 * named in err and t left empty. */
int deliver_transport_parse(const char *spec, unsigned default_port, struct deliver_transport *t,
                            char *err, size_t errlen);
void deliver_transport_clear(struct deliver_transport *t);
/* deliver_transport_find - the route for domain: exact name, then the
 * longest ".parent" entry, then "*"; NULL when none */
const struct deliver_route *deliver_transport_find(const struct deliver_transport *t,
                                                   const char *domain);
/* deliver_parse_ip - "192.0.2.1", "::1", "IPv6:::1", optionally in [ ]
 * (RFC 5321 section 4.1.3 address literal) into sa (port 0). 0 or -1. */
int deliver_parse_ip(const char *s, struct sockaddr_storage *sa, socklen_t *salen);

/* ---- resolve.c ------------------------------------------------------- */

struct event_base;
struct deliver_resolver;
struct deliver_lookup;

typedef void (*deliver_resolve_fn)(const struct deliver_resolved *res, void *arg);

/* deliver_resolver_new - a c-ares channel on base. servers: "ip:port,
 * ip:port" or empty for the system resolver configuration. */
struct deliver_resolver *deliver_resolver_new(struct event_base *base, const char *servers,
                                              int64_t timeout_ms, char *err, size_t errlen);
/* deliver_resolver_free - every lookup must have been cancelled or done */
void deliver_resolver_free(struct deliver_resolver *r);
/* deliver_resolve - mx: MX lookup then addresses (implicit MX when there
 * is no MX); !mx: the name's addresses (/etc/hosts first). fn runs later,
 * on the loop, never from inside this call. */
struct deliver_lookup *deliver_resolve(struct deliver_resolver *r, const char *name, bool mx,
                                       deliver_resolve_fn fn, void *arg);
/* deliver_resolve_cancel - fn will not be called; takes NULL */
void deliver_resolve_cancel(struct deliver_lookup *l);

/* ---- command.c ------------------------------------------------------- */

/* What the peer announced in its EHLO reply (RFC 5321 section 4.1.1.1). */
struct deliver_caps {
	bool esmtp;        /* EHLO worked (else HELO) */
	bool pipelining;   /* RFC 2920 */
	bool size;         /* RFC 1870 */
	uint64_t size_max; /* 0 = no limit announced */
	bool eightbit;     /* RFC 6152 8BITMIME */
	bool dsn;          /* RFC 3461 */
	bool smtputf8;     /* RFC 6531 */
	bool enhanced;     /* RFC 2034 ENHANCEDSTATUSCODES */
};

/* deliver_ehlo_line - take one EHLO keyword line's text (after "250-") */
void deliver_ehlo_line(struct deliver_caps *c, const char *text, size_t len);

/* deliver_mail_cmd / deliver_rcpt_cmd - the command lines (with CRLF) for
 * what the peer supports (RFC 1870, 6152, 6531, 3461) */
struct buf;
void deliver_mail_cmd(struct buf *out, const struct deliver_request *req,
                      const struct deliver_caps *c);
void deliver_rcpt_cmd(struct buf *out, const struct deliver_rcpt *rcpt,
                      const struct deliver_caps *c);

struct deliver_conn;
struct deliver_req;

/* Per-recipient progress inside one attempt. */
enum deliver_rstate {
	DELIVER_R_PENDING = 0, /* no final word yet */
	DELIVER_R_ACCEPTED,    /* RCPT 250, waiting for the end of data */
	DELIVER_R_DONE,        /* outcome set */
};

/* How a session ended for its request (conn.c, txn.c -> deliver.c). */
enum deliver_end {
	DELIVER_END_DONE = 0, /* every recipient has an outcome */
	DELIVER_END_HOST, /* this host failed before the transaction: why -> req->last; try the next */
	DELIVER_END_STALE, /* a cached connection was dead before any reply: reconnect */
};

/* The request as deliver.c, txn.c and conn.c share it. */
struct deliver_req {
	struct deliver *d;
	struct deliver_request req;
	off_t body_base; /* body_fd's offset at start: the first body byte */
	deliver_done_fn done;
	void *arg;
	struct outcome *out;         /* n_rcpt */
	enum deliver_rstate *rstate; /* n_rcpt */
	struct event *ev;            /* deferred start */
	const struct deliver_route *route;
	char dest[300]; /* connection cache key */
	struct deliver_lookup *lookup;
	struct deliver_target target[DELIVER_MAX_TARGETS];
	size_t n_target, next_target;
	bool resolved;
	bool cache_tried;
	struct outcome last; /* last host-level failure */
	bool have_last;
	bool reached;      /* a host took part in a transaction */
	bool site_down;    /* finished without reaching any host */
	bool done_pending; /* outcomes complete; ev will call done */
	struct deliver_conn *conn;
	int64_t started_ms;
	char relay[OUTCOME_REMOTE_MAX];
	bool peer_has_dsn;
	struct deliver_req *next, *prev;
};

/* ---- conn.c / txn.c: one connection ---------------------------------- */

#define DELIVER_BODY_CHUNK 65536 /* bytes read from the queue file at a time */
#define DELIVER_LINE_MAX   4096  /* a reply line longer than this is hostile */

/* Connection states; see conn.c for the timer guarding each. */
enum deliver_cstate {
	CS_CONNECTING,
	CS_GREETING,
	CS_EHLO,
	CS_HELO,
	CS_REUSE,
	CS_TXN,
	CS_BODY,
	CS_DOT,
	CS_RSET,
	CS_IDLE,
	CS_QUIT,
};

enum deliver_fail { FAIL_ERRNO, FAIL_EOF, FAIL_TIMEOUT, FAIL_PROTO };

struct deliver_conn_pool;

struct deliver_conn {
	struct deliver_conn_pool *pool;
	struct deliver_conn *next, *prev;
	struct bufferevent *bev;
	struct event *timer;
	enum deliver_cstate state;
	int connect_errno; /* connect failed at once: reported from the timer */
	char dest[300];
	char host[256];
	char ip[INET6_ADDRSTRLEN];
	char remote[OUTCOME_REMOTE_MAX];
	struct deliver_caps caps;
	struct smtp_reply reply;
	struct deliver_req *rq; /* NULL when idle or closing */
	bool reused;
	bool got_reply; /* a reply arrived in this transaction */
	size_t n_plan, sent, replied, n_accepted;
	bool mail_failed;
	size_t body_off;
	char tail[2]; /* last two body bytes written */
};

/* What conn.c tells the layer above. conn.c never names txn.c or
 * deliver.c: deliver.c fills one const table and hands it to the pool, so
 * the call graph has no loop and conn.c can be read on its own. */
typedef void (*deliver_conn_ready_fn)(struct deliver_conn *c);
typedef int (*deliver_conn_reply_fn)(struct deliver_conn *c, const struct smtp_reply *r);
typedef void (*deliver_conn_lost_fn)(struct deliver_conn *c, const struct outcome *o);
typedef void (*deliver_session_end_fn)(struct deliver_req *rq, enum deliver_end how,
                                       const struct outcome *why);

struct deliver_conn_ops {
	/* greeted (EHLO/HELO 2xx) or taken from the cache: start the
	 * transaction; c->rq is NULL afterwards when it already ended */
	deliver_conn_ready_fn on_ready;
	/* a reply in CS_TXN, CS_BODY or CS_DOT; -1 when the connection left
	 * the transaction (ended, freed or detached) */
	deliver_conn_reply_fn on_reply;
	/* the connection failed inside the transaction: every unfinished
	 * recipient gets o and the connection must be dropped */
	deliver_conn_lost_fn on_lost;
	/* the request is off the connection (already detached or freed):
	 * DONE, HOST (why: the host's failure) or STALE (why: NULL) */
	deliver_session_end_fn on_end;
};

/* Every connection of one struct deliver, and what they need from it. */
struct deliver_conn_pool {
	struct event_base *base;
	const struct config *cfg;
	const struct deliver_conn_ops *ops; /* outlives every connection */
	struct deliver_conn *head;          /* busy or idle */
};

/* conn.c: the connection cache and one connection's life. */
struct deliver_conn *deliver_conn_connect(struct deliver_conn_pool *pool, struct deliver_req *rq,
                                          const struct deliver_target *t, unsigned port);
/* deliver_conn_reuse - take an idle cached connection for rq->dest, or NULL */
struct deliver_conn *deliver_conn_reuse(struct deliver_conn_pool *pool, struct deliver_req *rq);
/* deliver_conn_free - close at once (no QUIT); takes NULL */
void deliver_conn_free(struct deliver_conn *c);
/* deliver_conn_free_all - every connection of the pool (deliver_free);
 * no callback runs */
void deliver_conn_free_all(struct deliver_conn_pool *pool);
const struct config *deliver_conn_cfg(const struct deliver_conn *c);
void deliver_conn_arm(struct deliver_conn *c, int64_t ms);
void deliver_conn_send(struct deliver_conn *c, const char *data, size_t len);
void deliver_conn_quit(struct deliver_conn *c);
struct bufferevent;
void deliver_conn_on_read(struct bufferevent *bev, void *arg);
void deliver_conn_on_event(struct bufferevent *bev, short what, void *arg);

/* txn.c: the mail transaction on a connection that has greeted us; these
 * three are the on_ready, on_reply and on_lost of deliver_conn_ops. */
void deliver_txn_start(struct deliver_conn *c);
int deliver_txn_on_reply(struct deliver_conn *c, const struct smtp_reply *r);
void deliver_txn_lost(struct deliver_conn *c, const struct outcome *o);

#endif
