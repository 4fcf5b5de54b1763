/*
 * deliver.h - the face of src/deliver: one SMTP transaction to the mail
 * exchangers of one destination, with DNS (c-ares) and connection reuse.
 *
 * A request is one message and the recipients it has at one destination
 * (a recipient domain, or the smarthost transport_map names for it). The
 * result is one struct outcome per recipient plus what the attempt said
 * about the destination as a whole (for back-off of the whole site).
 *
 * Routing (RFC 5321 section 5.1): transport_map entry if any, else MX
 * records sorted by preference with equal preferences shuffled; no MX ->
 * the domain's own A/AAAA (implicit MX); null MX "0 ." (RFC 7505) -> PERM
 * 5.1.10; NXDOMAIN -> PERM 5.1.2; SERVFAIL/timeouts -> TEMP 4.4.3.
 * The next MX is tried on connection failure, timeout or a 4xx greeting.
 */
#ifndef MAILERD_DELIVER_H
#define MAILERD_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/outcome.h"

struct event_base;
struct config;
struct deliver;

struct deliver_rcpt {
	const char *addr;
	const char *orcpt; /* "" when none; passed on when the peer has DSN */
	unsigned notify;   /* DSN_NOTIFY_* bits from spool.h, 0 = unset */
};

struct deliver_request {
	const char *qid;    /* for log lines */
	const char *domain; /* destination: recipient domain (lower case) */
	const char *sender; /* "" = <> */
	const char *envid;  /* "" when none */
	int ret;            /* enum dsn_ret */
	bool smtputf8;
	bool eightbit;
	const struct deliver_rcpt *rcpt;
	size_t n_rcpt;
	int body_fd; /* wire form; deliver takes it and closes it */
	size_t body_len;
};

/* What the attempt said about the destination as a whole. */
enum deliver_site {
	DELIVER_SITE_OK = 0, /* some host answered the transaction normally */
	DELIVER_SITE_DOWN,   /* no host reachable / all 421 / DNS temp: back off the site */
};

struct deliver_result {
	const struct outcome *rcpt; /* n_rcpt outcomes, same order as request */
	size_t n_rcpt;
	enum deliver_site site;
	char relay[OUTCOME_REMOTE_MAX]; /* "host[ip]:port" that answered, or "none" */
	bool peer_has_dsn;              /* the relay announced DSN (issue 3: "relayed") */
	int64_t started_ms;             /* when the attempt began */
};

/* Called once per request on the event loop; the result lives only for
 * the call. */
typedef void (*deliver_done_fn)(const struct deliver_result *res, void *arg);

struct deliver *deliver_new(struct event_base *base, const struct config *cfg, char *err,
                            size_t errlen);
void deliver_free(struct deliver *d);

/* deliver_start - begin the transaction; request strings must stay valid
 * until done runs. Returns 0, or -1 (done is then not called) only on
 * programming errors such as n_rcpt == 0; body_fd is then not taken.
 * cfg given to deliver_new is borrowed and must outlive d. */
int deliver_start(struct deliver *d, const struct deliver_request *req, deliver_done_fn done,
                  void *arg);

/* deliver_transport_check - is spec a valid transport_map value? For
 * configuration checks before anything starts; -1 with err naming the
 * entry. */
int deliver_transport_check(const char *spec, char *err, size_t errlen);

/* deliver_active - transactions in progress (for shutdown and tests) */
size_t deliver_active(const struct deliver *d);

/* ---- resolver face, also used by `contacts check` later ---- */
struct deliver_mx {
	char host[256];
	int pref;
};
enum deliver_dns_status {
	DELIVER_DNS_OK = 0,
	DELIVER_DNS_NXDOMAIN, /* domain does not exist */
	DELIVER_DNS_NULLMX,   /* RFC 7505 "0 ." */
	DELIVER_DNS_NODATA,   /* exists, no MX and no address */
	DELIVER_DNS_TEMP,     /* SERVFAIL, timeout, refused */
};

/* ---- domain lookups for other parts (`mailerd contacts check`) ----
 * The same resolution delivery does (MX, null MX, implicit MX, then the
 * exchangers' A/AAAA), without a transaction: "could mail for this domain
 * be delivered at all?". Many lookups may be in flight on one channel. */
struct deliver_dns;
struct deliver_dns_answer {
	enum deliver_dns_status status;
	bool implicit;        /* no MX: the domain's own A/AAAA (RFC 5321 5.1) */
	bool mx_no_addr;      /* NODATA because no MX host has an address */
	size_t n_addr;        /* addresses mail would be sent to (OK only) */
	char first_host[256]; /* the most preferred exchanger with an address */
	char detail[200];     /* resolver words for TEMP ("Timeout ...") */
};
/* Runs on the event loop, never from inside deliver_dns_lookup; a and
 * domain live only for the call. */
typedef void (*deliver_dns_fn)(const char *domain, const struct deliver_dns_answer *a, void *arg);
/* deliver_dns_new - a c-ares channel on base; servers as dns_servers
 * ("ip:port, ..." or NULL/"" for the system configuration), timeout_ms
 * per try as dns_timeout. NULL with a message in err. */
struct deliver_dns *deliver_dns_new(struct event_base *base, const char *servers,
                                    int64_t timeout_ms, char *err, size_t errlen);
/* deliver_dns_free - lookups still in flight are cancelled (their fn is
 * never called); takes NULL */
void deliver_dns_free(struct deliver_dns *d);
/* deliver_dns_lookup - start one lookup of domain (ASCII or A-labels) */
void deliver_dns_lookup(struct deliver_dns *d, const char *domain, deliver_dns_fn fn, void *arg);
/* deliver_dns_pending - lookups started whose fn has not run yet */
size_t deliver_dns_pending(const struct deliver_dns *d);

#endif
