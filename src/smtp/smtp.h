/*
 * smtp.h - the face of src/smtp: the SMTP grammar both sides share
 * (RFC 5321 commands and paths, ESMTP parameters of RFC 1870, 3461, 6152,
 * 6531, xtext), reply parsing for the client, and the server that accepts
 * mail into the spool.
 *
 * The grammar functions are pure (no I/O, no allocation) so the unit tests
 * and the fuzz targets can drive them directly.
 */
#ifndef MAILERD_SMTP_H
#define MAILERD_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"
#include "util/util.h"

/* RFC 5321 section 4.5.3.1 limits */
#define SMTP_LOCAL_MAX     64
#define SMTP_DOMAIN_MAX    255
#define SMTP_PATH_MAX      256
#define SMTP_CMDLINE_MAX   512  /* command line incl. CRLF */
#define SMTP_TEXTLINE_MAX  1000 /* text line incl. CRLF */
#define SMTP_REPLYLINE_MAX 512

enum smtp_verb {
	SMTP_UNKNOWN = 0,
	SMTP_HELO,
	SMTP_EHLO,
	SMTP_MAIL,
	SMTP_RCPT,
	SMTP_DATA,
	SMTP_RSET,
	SMTP_NOOP,
	SMTP_QUIT,
	SMTP_VRFY,
	SMTP_EXPN,
	SMTP_HELP,
	SMTP_STARTTLS,
	SMTP_AUTH,
	SMTP_BDAT,
};

/* A parsed address. addr is "local@domain" without brackets; empty for the
 * null path <> (MAIL only) and "postmaster" for the special RCPT. */
struct smtp_path {
	char addr[SMTP_PATH_MAX + 1];
	char local[SMTP_LOCAL_MAX * 4 + 1]; /* room for UTF-8 */
	char domain[SMTP_DOMAIN_MAX + 1];
	bool is_null; /* <> */
	bool utf8;    /* contains non-ASCII (needs SMTPUTF8) */
};

struct smtp_mail_params {
	uint64_t size; /* SIZE=, 0 = not given */
	bool size_given;
	int body; /* 0 unset, 7 = 7BIT, 8 = 8BITMIME */
	bool smtputf8;
	int ret;                     /* enum dsn_ret */
	char envid[SPOOL_ENVID_MAX]; /* raw xtext */
};

struct smtp_rcpt_params {
	unsigned notify;             /* DSN_NOTIFY_* */
	char orcpt[SPOOL_ORCPT_MAX]; /* raw "addr-type;xtext" */
};

/* A syntax or policy error: the reply to send. */
struct smtp_error {
	int code;        /* 500, 501, 504, 555 ... */
	char status[16]; /* "5.5.2" */
	char text[200];
};

/* smtp_parse_verb - recognise the verb of a command line (case-insensitive);
 * *args points after the verb and one space (or at the end). */
enum smtp_verb smtp_parse_verb(const char *line, size_t len, const char **args);

/* smtp_parse_path - "<local@domain>" per RFC 5321 section 4.1.2 (source
 * routes accepted and dropped, section 4.1.1.3 / appendix C), quoted local
 * parts, address literals, UTF-8 per RFC 6531. allow_null for MAIL FROM.
 * *end points after '>'. Returns 0 or -1 with err. */
int smtp_parse_path(const char *s, size_t len, bool allow_null, struct smtp_path *out,
                    const char **end, struct smtp_error *err);

/* smtp_parse_mail - the argument of MAIL: "FROM:<path> [params]" */
int smtp_parse_mail(const char *args, size_t len, struct smtp_path *path,
                    struct smtp_mail_params *p, struct smtp_error *err);
/* smtp_parse_rcpt - the argument of RCPT: "TO:<path> [params]" */
int smtp_parse_rcpt(const char *args, size_t len, struct smtp_path *path,
                    struct smtp_rcpt_params *p, struct smtp_error *err);

/* smtp_xtext_decode - RFC 3461 section 4: "+2B" -> '+'. -1 on bad xtext. */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t size);
/* smtp_xtext_encode - the reverse, for passing ORCPT/ENVID on */
int smtp_xtext_encode(const char *in, char *out, size_t size);

/* smtp_domain_valid - RFC 5321 Domain or address literal syntax */
bool smtp_domain_valid(const char *d, size_t len);

/* ---- replies (client side) ---- */
/* Feeds reply lines one at a time (without CRLF). Returns 1 when the reply
 * is complete, 0 when more lines follow, -1 on a malformed line. */
struct smtp_reply {
	int code;
	char text[1024]; /* lines joined by a single space, without codes */
	size_t nlines;
	char line_kw[16][32]; /* EHLO keywords upper-cased (first word of each line) */
};
void smtp_reply_init(struct smtp_reply *r);
int smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len);

/* ---- the server ---- */
struct event_base;
struct config;
struct smtp_server;

/* Called when a message is durably queued; msg is owned by the callee. */
typedef void (*smtp_accepted_fn)(struct spool_msg *msg, void *arg);

/* smtp_server_new - bind every `listen` address, accept sessions */
struct smtp_server *smtp_server_new(struct event_base *base, const struct config *cfg,
                                    struct spool *sp, smtp_accepted_fn on_accepted, void *arg,
                                    char *err, size_t errlen);
/* smtp_server_free - close listeners and sessions (in-flight DATA is lost
 * without a 250, which is safe) */
void smtp_server_free(struct smtp_server *srv);

/* ---- helpers shared with `mailerd send` ---- */
/* smtp_received_header - the Received: line we prepend (RFC 5321 4.4) */
void smtp_received_header(struct buf *out, const char *helo, const char *client_addr,
                          const char *myhostname, const char *with, const char *qid_hint,
                          const char *for_rcpt, int64_t now_ms);

/* ---- additions by src/smtp (server side helpers, pure and testable) ---- */

/* Note on smtp_parse_path: allow_null=true is the MAIL context (errors are
 * 501 5.1.7), allow_null=false the RCPT context (errors 501 5.1.3, and the
 * bare "<postmaster>" of RFC 5321 section 4.5.1 is accepted with addr
 * "postmaster" and an empty domain). Callers check out->utf8 against
 * SMTPUTF8 themselves (553 5.6.7). */

/* RCPT policy hook (issue 6, suppression): called for each recipient the
 * relay rules accepted. Returns 0 to accept, or 1 to refuse with
 * "550 5.1.1 <rcpt>: TEXT" where TEXT was written into text (why and
 * since when). Runs on the event loop: it must not block. */
typedef int (*smtp_rcpt_check_fn)(void *arg, const char *client_ip, const char *sender,
                                  const char *rcpt, char *text, size_t textlen);
/* smtp_server_set_rcpt_check - install (or, with fn NULL, remove) it */
void smtp_server_set_rcpt_check(struct smtp_server *srv, smtp_rcpt_check_fn fn, void *arg);

/* Local mailbox hook (issue 6, signed return paths): asked first about
 * every recipient with a domain, from any client (relay_networks
 * included), before the relay rules. SMTP_LOCAL_PASS leaves the decision
 * to the relay rules; SMTP_LOCAL_ACCEPT takes the recipient as a mailbox
 * of ours (the rcpt_check hook still runs); SMTP_LOCAL_REFUSE answers
 * "550 5.1.1 <rcpt>: TEXT". Runs on the event loop: it must not block. */
enum smtp_local_verdict { SMTP_LOCAL_PASS = 0, SMTP_LOCAL_ACCEPT, SMTP_LOCAL_REFUSE };
typedef enum smtp_local_verdict (*smtp_local_rcpt_fn)(void *arg, const char *client_ip,
                                                      const char *sender, const char *rcpt,
                                                      char *text, size_t textlen);
/* smtp_server_set_local_rcpt - install (or, with fn NULL, remove) it */
void smtp_server_set_local_rcpt(struct smtp_server *srv, smtp_local_rcpt_fn fn, void *arg);

/* smtp_server_port - the local port of listener i (useful with port 0),
 * -1 when there is no such listener */
int smtp_server_port(const struct smtp_server *srv, size_t i);

/* Relay policy: clients in relay_networks may send anywhere; anyone may
 * send to local_domains; everything else is refused with 554 5.7.1. */
struct smtp_relay;
/* smtp_relay_new - parse the CIDR list and the domain list (items separated
 * by commas and/or white space); NULL with a message in err on a bad CIDR */
struct smtp_relay *smtp_relay_new(const char *networks, const char *local_domains, char *err,
                                  size_t errlen);
void smtp_relay_free(struct smtp_relay *r);
/* smtp_relay_client_trusted - client_ip (numeric, IPv4 or IPv6) is in
 * relay_networks */
bool smtp_relay_client_trusted(const struct smtp_relay *r, const char *client_ip);
/* smtp_relay_domain_local - domain is listed in local_domains (ASCII case
 * ignored, one trailing dot ignored on both sides) */
bool smtp_relay_domain_local(const struct smtp_relay *r, const char *domain);
/* smtp_relay_allowed - may client_ip send to rcpt ("local@domain" as
 * smtp_parse_path produced it, or "postmaster")? The domain is the one after
 * the last '@' outside quotes, so percent hacks, bang paths and quoted '@'
 * never make a foreign domain look local. */
bool smtp_relay_allowed(const struct smtp_relay *r, const char *client_ip, const char *rcpt);
/* What RCPT gets (smtp_relay_check). */
enum smtp_rcpt_verdict {
	SMTP_RCPT_ACCEPT = 0,
	SMTP_RCPT_RELAY_DENIED, /* 554 5.7.1 Relay access denied */
	SMTP_RCPT_NO_SUCH_USER, /* 550 5.1.1: a local domain's unknown user */
};
/* smtp_relay_check - smtp_relay_allowed plus the no-backscatter rule: a
 * client outside relay_networks writing to a local_domains domain reaches
 * only postmaster there (this server has no mailboxes); every other
 * recipient is refused at RCPT time, never accepted and bounced later. */
enum smtp_rcpt_verdict smtp_relay_check(const struct smtp_relay *r, const char *client_ip,
                                        const char *rcpt);
/* smtp_addr_domain - pointer to the domain after the last unquoted '@' of
 * addr, or NULL when there is none */
const char *smtp_addr_domain(const char *addr);

/* DATA reception (RFC 5321 sections 4.1.4 and 4.5.2): only CRLF "." CRLF
 * ends the data. Bare CR and bare LF are flagged (and, when normalizing,
 * turned into CRLF; a "." line next to a bare line end is then stored
 * dot-stuffed so it can never become an end-of-data mark downstream). */
struct smtp_data_rx {
	int state;
	bool prev_crlf;  /* the line before the current one ended with CRLF */
	bool normalize;  /* bare_line_ending = normalize */
	bool bare;       /* a bare CR or bare LF was seen */
	bool nul;        /* a NUL byte was seen */
	bool done;       /* CRLF.CRLF seen */
	size_t line_len; /* octets of the current line so far, line end excluded */
	bool long_line;  /* a line longer than SMTP_TEXT_LINE_MAX was seen */
};
/* RFC 5321 section 4.5.3.1.6 / RFC 5322 section 2.1.1: a text line is at
 * most 1000 octets with its CRLF, so 998 without. */
#define SMTP_TEXT_LINE_MAX 998
void smtp_data_init(struct smtp_data_rx *rx, bool normalize);
/* smtp_data_feed - consume DATA bytes, append the wire-form body (CRLF,
 * dot-stuffing kept, terminating "." dropped) to out. Returns the bytes
 * consumed: all of len, or fewer when the end of data was reached (the
 * rest belongs to the next command). */
size_t smtp_data_feed(struct smtp_data_rx *rx, const char *in, size_t len, struct buf *out);

/* Header section scan (RFC 5322 section 2.2) of a buffered message start,
 * to learn whether Message-ID and Date are present and where the header
 * section ends (where missing fields are inserted). */
struct smtp_hdr_scan {
	size_t pos;      /* bytes already scanned (always a line start) */
	bool ended;      /* the end of the header section was found */
	bool need_blank; /* it ended at a non-header line: insert an empty line */
	size_t end_off;  /* insertion point: start of the empty/non-header line */
	bool has_msgid;
	bool has_date;
	bool in_field; /* a header field was seen (continuations allowed) */
};
void smtp_hdr_scan_init(struct smtp_hdr_scan *hs);
/* smtp_hdr_scan_feed - scan the complete lines of data[0..len) from
 * hs->pos; returns true once the header section has ended */
bool smtp_hdr_scan_feed(struct smtp_hdr_scan *hs, const char *data, size_t len);

/* Admission limits (limit.c): connections in total and per client
 * address, and a per-address message rate (token bucket refilled at
 * messages_per_minute per 60 s). 0 = no limit. Times are passed in so the
 * functions stay pure. */
struct smtp_limits;
enum smtp_limit_verdict {
	SMTP_LIMIT_OK = 0,
	SMTP_LIMIT_TOTAL,  /* max_connections reached */
	SMTP_LIMIT_PER_IP, /* max_connections_per_ip reached */
};
struct smtp_limits *smtp_limits_new(uint64_t max_connections, uint64_t max_per_ip,
                                    uint64_t messages_per_minute);
void smtp_limits_free(struct smtp_limits *l);
/* smtp_limits_connect - take a connection slot for ip, or say why not */
enum smtp_limit_verdict smtp_limits_connect(struct smtp_limits *l, const char *ip, int64_t now_ms);
/* smtp_limits_disconnect - give back a slot taken by smtp_limits_connect */
void smtp_limits_disconnect(struct smtp_limits *l, const char *ip, int64_t now_ms);
/* smtp_limits_message - may ip start one more message now? (takes a
 * token when it may) */
bool smtp_limits_message(struct smtp_limits *l, const char *ip, int64_t now_ms);
uint64_t smtp_limits_total(const struct smtp_limits *l);
uint64_t smtp_limits_conns(struct smtp_limits *l, const char *ip, int64_t now_ms);

#endif
