/*
 * check.c - one run of `mailerd contacts check`: the rows of a contact
 * list in, one verdict per row out, in input order.
 *
 * Flow: rows are read into a window (at most CONTACTS_WINDOW rows held).
 * Syntax, suppression and typo checks decide a row at once; the others
 * wait for their domain. Each distinct domain is looked up once (a hash
 * table of domains is the cache) and up to max_inflight lookups run at a
 * time on one c-ares channel, so the run costs about
 *   distinct domains / max_inflight * round trip
 * rather than rows * round trip. Rows leave the window from its head as
 * soon as they are decided, so the report keeps the input order and memory
 * stays bounded by the window, whatever the length of the list.
 *
 * Outputs: the report (address,verdict,detail,suggestion; RFC 4180), the
 * cleaned list (the header and the ok rows, byte for byte as read) and
 * the summary. Malformed CSV records are reported as FILE:LINE: message
 * and skipped; they never reach either output.
 *
 * How it fails: only a read or write error, or a resolver or store that
 * cannot be opened or fails, ends the run (-1 with err). DNS trouble for
 * one domain is the dnserror verdict for its rows, not a failure.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "contacts/internal.h"
#include "util/util.h"

/* Rows held while their domain resolves: enough that one slow domain at
 * the head does not stall the lookups behind it, small enough (a few MB)
 * for any list. */
#define CONTACTS_WINDOW 65536
/* Lookups at once. Each is up to three queries (MX, then A and AAAA of
 * the exchangers). Measured against dnsmasq on loopback: 32 and 64 run at
 * the resolver's full speed; from about 128 on, bursts overflow its UDP
 * receive buffer and each lost query costs a whole dns_timeout. A distant
 * resolver gains from more (--parallel). */
#define CONTACTS_INFLIGHT 32
/* Domain cache buckets: chains stay short up to ~100k distinct domains. */
#define CONTACTS_DOMAIN_BUCKETS 16384

enum dom_state { DOM_QUEUED, DOM_INFLIGHT, DOM_DONE };

struct cdomain {
	char *name;
	enum dom_state state;
	enum contacts_verdict v; /* DOM_DONE */
	char *detail;            /* DOM_DONE */
	struct run *run;
	struct cdomain *hnext; /* hash chain */
	struct cdomain *qnext; /* lookups not started yet */
};

struct row {
	char *raw; /* the record as read, when a cleaned list is written */
	size_t raw_len;
	char *addr;
	bool decided;
	struct contacts_result *res; /* decided locally */
	struct cdomain *dom;         /* !decided: waits for it */
	struct row *next;
};

struct run {
	const struct contacts_options *o;
	struct contacts_summary *sum;
	struct event_base *base;
	struct deliver_dns *dns;
	struct contacts_suppress *sup;
	struct cdomain **bucket;
	size_t n_bucket;
	struct cdomain *qhead, *qtail;
	size_t inflight, max_inflight;
	struct row *head, *tail;
	size_t n_rows;
	size_t col;      /* the address column */
	const char *eol; /* line end for a last record without one */
	struct buf line; /* report line being built */
	bool failed;
	char *err;
	size_t errlen;
};

/* ---- the domain cache ---- */

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* domain_get - the cache entry for name, created (and queued for lookup)
 * when new */
static struct cdomain *domain_get(struct run *r, const char *name)
{
	size_t b = hash_name(name) % r->n_bucket;
	struct cdomain *d;

	for (d = r->bucket[b]; d != NULL; d = d->hnext)
		if (strcmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	d->run = r;
	d->state = DOM_QUEUED;
	d->hnext = r->bucket[b];
	r->bucket[b] = d;
	if (r->qtail != NULL)
		r->qtail->qnext = d;
	else
		r->qhead = d;
	r->qtail = d;
	r->sum->domains++;
	return d;
}

static void domains_free(struct run *r)
{
	for (size_t b = 0; b < r->n_bucket; b++) {
		struct cdomain *d = r->bucket[b], *next;

		for (; d != NULL; d = next) {
			next = d->hnext;
			free(d->name);
			free(d->detail);
			free(d);
		}
	}
	free(r->bucket);
}

/* on_lookup - a domain's answer: every row waiting for it is decided
 * (rows_flush writes them once they reach the head of the window) */
static void on_lookup(const char *domain, const struct deliver_dns_answer *a, void *arg)
{
	struct cdomain *d = arg;
	struct contacts_result res;

	contacts_dns_verdict(domain, a, &res);
	d->v = res.v;
	d->detail = xstrdup(res.detail);
	d->state = DOM_DONE;
	d->run->inflight--;
}

/* lookups_start - start queued lookups up to the in-flight limit */
static void lookups_start(struct run *r)
{
	while (r->qhead != NULL && r->inflight < r->max_inflight) {
		struct cdomain *d = r->qhead;

		r->qhead = d->qnext;
		if (r->qhead == NULL)
			r->qtail = NULL;
		d->state = DOM_INFLIGHT;
		r->inflight++;
		if (r->o->lookup != NULL)
			r->o->lookup(r->o->lookup_ctx, d->name, on_lookup, d);
		else
			deliver_dns_lookup(r->dns, d->name, on_lookup, d);
	}
}

/* ---- rows ---- */

/* trimmed_dup - the address without the blanks spreadsheets leave
 * around it (the cleaned list keeps the field as it was) */
static char *trimmed_dup(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	char *t = xmalloc(n + 1);
	memcpy(t, s, n);
	t[n] = '\0';
	return t;
}

/* row_add - classify a record's address and queue the row */
static int row_add(struct run *r, const struct contacts_record *rec)
{
	struct row *w = xcalloc(1, sizeof(*w));
	struct contacts_result res;
	char domain[256];
	int local;

	w->addr = trimmed_dup(r->col < rec->n ? rec->field[r->col] : "");
	if (r->o->out != NULL) {
		w->raw = xmalloc(rec->raw_len + 1);
		memcpy(w->raw, rec->raw, rec->raw_len);
		w->raw_len = rec->raw_len;
	}
	local = contacts_local_verdict(w->addr, &res, domain, sizeof(domain));
	/* Suppression outranks a typo guess: it is a fact about this very
	 * address, learnt from its own bounces or complaints. */
	if (!(local == 1 && res.v == CONTACTS_SYNTAX)) {
		struct contacts_result sres;
		int s = contacts_suppressed(r->sup, w->addr, &sres, r->err, r->errlen);

		if (s < 0) {
			free(w->raw);
			free(w->addr);
			free(w);
			return -1;
		}
		if (s == 1) {
			res = sres;
			local = 1;
		}
	}
	if (local == 1) {
		w->decided = true;
		w->res = xmalloc(sizeof(*w->res));
		*w->res = res;
	} else {
		w->dom = domain_get(r, domain);
	}
	if (r->tail != NULL)
		r->tail->next = w;
	else
		r->head = w;
	r->tail = w;
	r->n_rows++;
	return 0;
}

/* row_ready - decided locally, or its domain has answered */
static bool row_ready(const struct row *w)
{
	return w->decided || w->dom->state == DOM_DONE;
}

/* row_emit - report line and, for an ok row, the cleaned list */
static void row_emit(struct run *r, struct row *w)
{
	enum contacts_verdict v = w->decided ? w->res->v : w->dom->v;
	const char *detail = w->decided ? w->res->detail : w->dom->detail;
	const char *sugg = w->decided ? w->res->suggestion : "";

	r->sum->rows++;
	r->sum->n[v]++;
	if (r->o->report != NULL) {
		buf_reset(&r->line);
		contacts_csv_put(&r->line, w->addr);
		buf_putc(&r->line, ',');
		buf_puts(&r->line, contacts_verdict_name(v));
		buf_putc(&r->line, ',');
		contacts_csv_put(&r->line, detail);
		buf_putc(&r->line, ',');
		contacts_csv_put(&r->line, sugg);
		buf_putc(&r->line, '\n');
		fwrite(r->line.data, 1, r->line.len, r->o->report);
	}
	if (r->o->out != NULL && v == CONTACTS_OK) {
		fwrite(w->raw, 1, w->raw_len, r->o->out);
		if (w->raw_len == 0 || w->raw[w->raw_len - 1] != '\n')
			fputs(r->eol, r->o->out);
		r->sum->written++;
	}
}

static void row_free(struct row *w)
{
	free(w->raw);
	free(w->addr);
	free(w->res);
	free(w);
}

/* rows_flush - write the decided rows at the head of the window; a row
 * behind an undecided one waits, so the output keeps the input order */
static void rows_flush(struct run *r)
{
	while (r->head != NULL && row_ready(r->head)) {
		struct row *w = r->head;

		r->head = w->next;
		if (r->head == NULL)
			r->tail = NULL;
		r->n_rows--;
		row_emit(r, w);
		row_free(w);
	}
}

/* ---- the header ---- */

static bool is_email_name(const char *f)
{
	static const char *const names[] = {
	    "email", "e-mail", "email address", "email_address", "emailaddress", "e_mail", NULL};
	char *t = trimmed_dup(f);
	bool hit = false;

	for (size_t i = 0; names[i] != NULL && !hit; i++)
		hit = strcasecmp(t, names[i]) == 0;
	free(t);
	return hit;
}

/* header_take - decide from the first record whether it is a header and
 * which column holds the address. Returns true when it is a header. */
static bool header_take(struct run *r, const struct contacts_record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		if (is_email_name(rec->field[i])) {
			r->col = i;
			return true;
		}
	r->col = 0;
	/* "joe@example.com,Joe" on line 1: a list without a header */
	return rec->n == 0 || strchr(rec->field[0], '@') == NULL;
}

/* ---- the run ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* run_open - the loop, the resolver and the suppression store; the
 * store is asked only when a state_db is given */
static int run_open(struct run *r, char *err, size_t errlen)
{
	r->base = r->o->base != NULL ? r->o->base : event_base_new();
	if (r->base == NULL) {
		snprintf(err, errlen, "cannot create an event loop");
		return -1;
	}
	if (r->o->lookup == NULL) {
		r->dns =
		    deliver_dns_new(r->base, r->o->dns_servers, r->o->dns_timeout_ms, err, errlen);
		if (r->dns == NULL)
			return -1;
	}
	if (r->o->state_db != NULL) {
		if (contacts_suppress_open(r->o->state_db, &r->sup, r->sum->suppress_note,
		                           sizeof(r->sum->suppress_note), err, errlen) < 0)
			return -1;
		r->sum->suppress_checked = r->sup != NULL;
	} else {
		snprintf(r->sum->suppress_note, sizeof(r->sum->suppress_note), "not asked");
	}
	return 0;
}

static void run_close(struct run *r)
{
	while (r->head != NULL) {
		struct row *w = r->head;
		r->head = w->next;
		row_free(w);
	}
	/* Cancels lookups still in flight (after an error) before the
	 * domains they point at go. */
	deliver_dns_free(r->dns);
	if (r->o->base == NULL && r->base != NULL)
		event_base_free(r->base);
	contacts_suppress_close(r->sup);
	domains_free(r);
	buf_free(&r->line);
}

int contacts_check(FILE *in, const struct contacts_options *o, struct contacts_summary *sum,
                   char *err, size_t errlen)
{
	struct run r;
	struct contacts_csv *csv = contacts_csv_new(in);
	struct contacts_record rec;
	FILE *errs = o->errors != NULL ? o->errors : stderr;
	const char *name = o->input_name != NULL ? o->input_name : "-";
	bool first = true, eof = false;
	int64_t t0 = mono_ms();
	char cerr[200];
	int rc = -1;

	memset(sum, 0, sizeof(*sum));
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.sum = sum;
	r.err = err;
	r.errlen = errlen;
	r.eol = "\n";
	r.max_inflight = o->max_inflight > 0 ? o->max_inflight : CONTACTS_INFLIGHT;
	r.n_bucket = CONTACTS_DOMAIN_BUCKETS;
	r.bucket = xcalloc(r.n_bucket, sizeof(*r.bucket));
	buf_init(&r.line);
	if (run_open(&r, err, errlen) < 0)
		goto out;
	if (o->report != NULL)
		fputs("address,verdict,detail,suggestion\n", o->report);
	for (;;) {
		while (!eof && r.n_rows < CONTACTS_WINDOW) {
			int n = contacts_csv_next(csv, &rec, cerr, sizeof(cerr));

			if (n == 0) {
				eof = true;
			} else if (n < 0) {
				if (ferror(in)) {
					snprintf(err, errlen, "%s: read error", name);
					goto out;
				}
				fprintf(errs, "%s:%zu: %s\n", name, rec.line, cerr);
				sum->malformed++;
			} else if (first) {
				/* The first good record sets the line end for a last
				 * record without one, and may be the header. */
				first = false;
				if (rec.raw_len >= 2 && rec.raw[rec.raw_len - 2] == '\r')
					r.eol = "\r\n";
				if (header_take(&r, &rec)) {
					if (o->out != NULL) {
						if (contacts_csv_had_bom(csv))
							fputs("\xEF\xBB\xBF", o->out);
						fwrite(rec.raw, 1, rec.raw_len, o->out);
						if (rec.raw_len == 0 ||
						    rec.raw[rec.raw_len - 1] != '\n')
							fputs(r.eol, o->out);
					}
					continue;
				}
				if (o->out != NULL && contacts_csv_had_bom(csv))
					fputs("\xEF\xBB\xBF", o->out);
				if (row_add(&r, &rec) < 0)
					goto out;
			} else if (row_add(&r, &rec) < 0) {
				goto out;
			}
		}
		lookups_start(&r);
		rows_flush(&r);
		if (eof && r.head == NULL)
			break;
		if (r.inflight == 0) {
			/* Nothing in flight and the head undecided: only possible
			 * if a domain was never queued, which domain_get rules out. */
			if (eof || r.n_rows >= CONTACTS_WINDOW)
				fatal("contacts: a row waits for a domain that is not being looked "
				      "up");
			continue;
		}
		/* Answers arrive as libevent events; one pass handles what is
		 * ready (or waits for the next), then the window moves. */
		event_base_loop(r.base, EVLOOP_ONCE);
	}
	if ((o->report != NULL && (fflush(o->report) != 0 || ferror(o->report))) ||
	    (o->out != NULL && (fflush(o->out) != 0 || ferror(o->out)))) {
		snprintf(err, errlen, "write error");
		goto out;
	}
	rc = 0;
out:
	sum->elapsed_ms = mono_ms() - t0;
	run_close(&r);
	contacts_csv_free(csv);
	return rc;
}

void contacts_summary_print(const struct contacts_summary *sum, FILE *f)
{
	double secs = (double)sum->elapsed_ms / 1000.0;

	fprintf(f, "checked %llu addresses in %.2f s (%.0f/s), %llu distinct domains looked up\n",
	        (unsigned long long)sum->rows, secs,
	        secs > 0 ? (double)sum->rows / secs : (double)sum->rows,
	        (unsigned long long)sum->domains);
	for (int v = 0; v < CONTACTS_VERDICT_COUNT; v++)
		fprintf(f, "  %-10s %llu\n", contacts_verdict_name((enum contacts_verdict)v),
		        (unsigned long long)sum->n[v]);
	if (sum->malformed > 0)
		fprintf(f, "  malformed CSV lines skipped: %llu\n",
		        (unsigned long long)sum->malformed);
	if (!sum->suppress_checked)
		fprintf(f, "suppression list not checked: %s\n", sum->suppress_note);
}
