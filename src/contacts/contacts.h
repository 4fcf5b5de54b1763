/*
 * contacts.h - the face of src/contacts: list hygiene before sending
 * (`mailerd contacts check`). For every address of a CSV contact list it
 * gives one verdict:
 *
 *   ok          the address is well formed and its domain takes mail
 *   syntax      not an RFC 5321 / RFC 6531 mailbox; the 1-based character
 *               position and what is wrong there
 *   typo        the domain is a probable slip of a large provider's
 *               (gmial.com -> gmail.com, hotmial.con -> hotmail.com)
 *   nodomain    the domain does not exist (NXDOMAIN)
 *   nomail      the domain takes no mail: null MX (RFC 7505), or no MX
 *               and no A/AAAA (RFC 5321 section 5.1)
 *   suppressed  on the suppression list (state_db): when and why
 *   dnserror    the lookup failed for now (SERVFAIL, timeout): no verdict
 *               on the address, check again later
 *
 * Checks run in that order of cost: syntax, suppression, typo, then one
 * DNS lookup per distinct domain (cached), many in flight at once.
 */
#ifndef MAILERD_CONTACTS_H
#define MAILERD_CONTACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "deliver/deliver.h"

enum contacts_verdict {
	CONTACTS_OK = 0,
	CONTACTS_SYNTAX,
	CONTACTS_TYPO,
	CONTACTS_NODOMAIN,
	CONTACTS_NOMAIL,
	CONTACTS_SUPPRESSED,
	CONTACTS_DNSERROR,
	CONTACTS_VERDICT_COUNT
};
/* contacts_verdict_name - "ok", "syntax", ... as in the report */
const char *contacts_verdict_name(enum contacts_verdict v);

/* ---- address syntax (syntax.c) ---- */

/* RFC 5321 section 4.5.3.1: a path is at most 256 octets with its angle
 * brackets, so a mailbox is at most 254. */
#define CONTACTS_ADDR_MAX 254

struct contacts_syntax {
	size_t pos;     /* error: 1-based character (not byte) position; 0 when ok */
	char what[160]; /* error: what is wrong there */
	size_t at;      /* ok: byte offset of the '@' between local part and domain */
	bool utf8;      /* ok: non-ASCII somewhere (needs SMTPUTF8, RFC 6531) */
	bool literal;   /* ok: the domain is an address literal "[...]" */
};
/* contacts_syntax_check - is s[0..len) a Mailbox (RFC 5321 section 4.1.2
 * with the RFC 6531 section 3.3 UTF-8 extensions)? One trailing dot on
 * the domain is tolerated as the SMTP server tolerates it. Returns 0, or
 * -1 with pos and what. */
int contacts_syntax_check(const char *s, size_t len, struct contacts_syntax *out);

/* ---- CSV (csv.c): RFC 4180 with LF or CRLF line ends ---- */

struct contacts_csv;
struct contacts_record {
	char **field; /* n NUL-terminated fields, owned by the reader */
	size_t n;
	size_t line;     /* 1-based line where the record starts */
	const char *raw; /* the record's bytes as read, with its line end */
	size_t raw_len;
};
/* contacts_csv_new - read from in (borrowed); a UTF-8 BOM at the start is
 * skipped and remembered (contacts_csv_had_bom) */
struct contacts_csv *contacts_csv_new(FILE *in);
void contacts_csv_free(struct contacts_csv *c);
/* contacts_csv_next - the next record into rec (valid until the next
 * call). Returns 1, 0 at the end, or -1 for a malformed record: err says
 * why, rec->line where, and the reader has skipped to the next line
 * (an unterminated quote swallows the rest of the input). Blank lines
 * are skipped. */
int contacts_csv_next(struct contacts_csv *c, struct contacts_record *rec, char *err,
                      size_t errlen);
bool contacts_csv_had_bom(const struct contacts_csv *c);
/* contacts_csv_put - append field to out, quoted when RFC 4180 requires
 * it (comma, quote, CR, LF) or when it has white space at either end */
struct buf;
void contacts_csv_put(struct buf *out, const char *field);

/* ---- the check (check.c) ---- */

/* The DNS seam: start a lookup of domain; fn must run later from the
 * event loop given in contacts_options, never from inside the call. */
typedef void (*contacts_lookup_fn)(void *ctx, const char *domain, deliver_dns_fn fn, void *arg);

struct contacts_options {
	const char *input_name;  /* for "FILE:LINE: message" */
	FILE *report;            /* address,verdict,detail,suggestion CSV; NULL = none */
	FILE *out;               /* the cleaned list (ok rows only); NULL = none */
	FILE *errors;            /* malformed-line messages; NULL = stderr */
	const char *dns_servers; /* dns_servers setting */
	int64_t dns_timeout_ms;  /* dns_timeout setting */
	const char *state_db;    /* suppression store URL; NULL = no suppression check */
	size_t max_inflight;     /* DNS lookups at once; 0 = default */
	/* Seams: base NULL = a loop of its own (else the caller's, which is
	 * run but not freed); lookup NULL = c-ares with the DNS settings,
	 * else lookup answers (base must then be set). */
	struct event_base *base;
	contacts_lookup_fn lookup;
	void *lookup_ctx;
};

struct contacts_summary {
	uint64_t n[CONTACTS_VERDICT_COUNT]; /* rows per verdict */
	uint64_t rows;                      /* addresses checked */
	uint64_t malformed;                 /* CSV records skipped */
	uint64_t domains;                   /* distinct domains looked up */
	uint64_t written;                   /* rows in the cleaned list */
	int64_t elapsed_ms;
	bool suppress_checked;   /* a suppression store was consulted */
	char suppress_note[300]; /* why not, when it was not */
};

/* contacts_check - read the list from in, write the report and the
 * cleaned list, fill sum. The address column is the one whose header is
 * "email" (also "e-mail", "email address", "email_address"; any case),
 * else the first; a first line whose address field holds an '@' and no
 * such name is data, not a header. Returns 0 (bad addresses and
 * malformed lines included: see sum), or -1 with err when it could not
 * run (unreadable input, resolver or store failure, write error). */
int contacts_check(FILE *in, const struct contacts_options *o, struct contacts_summary *sum,
                   char *err, size_t errlen);

/* contacts_summary_print - the human summary (counts per verdict, time) */
void contacts_summary_print(const struct contacts_summary *sum, FILE *f);

/* ---- pieces of the check, pure, for tests (verdict.c) ---- */

struct contacts_result {
	enum contacts_verdict v;
	char detail[400];
	char suggestion[CONTACTS_ADDR_MAX + 64]; /* the corrected address, or "" */
};
/* contacts_local_verdict - syntax and typo checks of addr (no I/O).
 * Returns 1 with r set when they decide the row, 0 when DNS must decide:
 * then domain (size >= 256) holds the lookup key (lower case, A-labels
 * for U-labels per IDNA 2008, no trailing dot). */
int contacts_local_verdict(const char *addr, struct contacts_result *r, char *domain,
                           size_t domlen);
/* contacts_dns_verdict - what a lookup of domain means for an address */
void contacts_dns_verdict(const char *domain, const struct deliver_dns_answer *a,
                          struct contacts_result *r);

#endif
