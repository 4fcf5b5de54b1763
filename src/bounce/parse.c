/*
 * parse.c - bounce_parse: one file's bytes to records.
 *
 * Steps: line ends made LF (CRLF and lone CR, old Mac files, are both line
 * breaks); the bytes split into messages at mbox "From " lines that start
 * a new message (a "From " line followed by Return-Path:, so a quoted
 * original message's "From " line is not a split); each message decoded
 * (mimelite.c for the common shapes, GMime in mime.c for the rest) and
 * read by the first reader that finds records:
 *   1. RFC 3464 delivery-status report (dsn.c); a delivery-status block
 *      left in the text by a broken multipart counts too, and records
 *      without Diagnostic-Code take the family text's words; a family
 *      whose text names recipients better (Domino) is read first,
 *   2. RFC 5965 feedback report (arf.c),
 *   3. an Amazon SES JSON notification (ses.c), a Microsoft JMRP
 *      complaint (arf.c),
 *   4. an MTA-family text bounce (family.c),
 *   5. a bounce forwarded whole inside a notice that names nothing, or
 *      attached to a person's mail (read through once),
 *   6. an RFC 3834 automatic reply (arf.c).
 * Then every record gets its reason and hard/soft verdict (reason.c).
 *
 * Memory: a copy of the input plus GMime's tree of one message at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "bounce/internal.h"

/* normalise_eol - CRLF and CR to LF; returns a malloc'd copy */
static char *normalise_eol(const char *data, size_t len, size_t *outlen)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	if (!memchr(data, '\r', len)) {
		/* already LF only: the common case, one copy */
		memcpy(out, data, len);
		out[len] = '\0';
		*outlen = len;
		return out;
	}

	/* copy the runs between CRs whole (memchr and memcpy are vectorised),
	 * turning each CR or CRLF into one LF */
	for (size_t i = 0; i < len;) {
		const char *cr = memchr(data + i, '\r', len - i);
		size_t run = cr ? (size_t)(cr - (data + i)) : len - i;

		memcpy(out + o, data + i, run);
		o += run;
		i += run;
		if (!cr)
			break;
		out[o++] = '\n';
		i++;
		if (i < len && data[i] == '\n')
			i++;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* field_line - p starts a header field line "Name: value" (RFC 5322
 * 2.2: printable ASCII but space and colon, then a colon) */
static bool field_line(const char *p, const char *end)
{
	const char *q = p;

	while (q<end && * q> ' ' && *q < 127 && *q != ':')
		q++;
	return q > p && q < end && *q == ':';
}

/* next_message - length of the message starting at p: up to the next mbox
 * separator (RFC 4155), a "From " line that follows an empty line (or is
 * followed by Return-Path:, as some writers leave out the empty line) and
 * is itself followed by a header field. A "From " inside a body is either
 * escaped (">From ") by the mbox writer or not followed by a field. */
static size_t next_message(const char *p, size_t len)
{
	const char *s = p, *end = p + len;

	while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		s++;
		if ((size_t)(end - s) <= 5)
			break;
		if (strncmp(s, "From ", 5) != 0 || s[5] == ' ' || s[5] == '\n')
			continue;
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl || nl + 1 >= end)
			break;
		bool after_blank = s - p >= 2 && s[-2] == '\n';
		if ((after_blank && field_line(nl + 1, end)) ||
		    ((size_t)(end - nl - 1) > 12 && strncasecmp(nl + 1, "Return-Path:", 12) == 0))
			return (size_t)(s - p);
	}
	return len;
}

/* finish - decide reason and fill the agent of records added since first */
static void finish(struct bounce_result *res, size_t first, struct bounce_doc *doc,
                   const char *agent)
{
	const char *provider = bounce_family_provider(doc, agent);

	doc->provider = provider;
	doc->nrecs = res->n - first;

	for (size_t i = first; i < res->n; i++) {
		struct bounce_record *r = &res->recs[i];
		/* a standard report from no family we know is just that */
		bool standard =
		    strcmp(r->rule, "rfc3464") == 0 && (!agent || strcmp(agent, "X") == 0);
		if (!r->smtp_agent || !r->smtp_agent[0] ||
		    (standard && strcmp(r->smtp_agent, "X") == 0))
			r->smtp_agent = agent && !standard ? agent : "RFC3464";
		bounce_reason_decide(r, doc);
		/* named after the reasons are decided: the rules read the
		 * software's name, the reader wants the service's */
		if (provider && strcmp(r->reason, "feedback") != 0 &&
		    strcmp(r->reason, "vacation") != 0)
			r->smtp_agent = provider;
	}
}

/* dsn_in_text - a delivery-status block left inside the text, where a
 * broken multipart (missing or mismatched boundary) kept GMime from
 * splitting it off: from the first "Reporting-MTA:" or "Final-Recipient:"
 * line (RFC 3464 2.2, 2.3) up to the next boundary line */
static void dsn_in_text(struct bounce_doc *doc)
{
	static const char *const starts[] = {
	    "\nReporting-MTA:", "\nFinal-Recipient:", "\nOriginal-Recipient:", NULL};
	const char *text = doc->text.data, *b = NULL;

	for (size_t i = 0; starts[i]; i++) {
		const char *m = strstr(text, starts[i]);
		if (m && (!b || m < b))
			b = m;
	}
	if (!b || (!strstr(b, "\nAction:") && !strstr(b, "\nStatus:")))
		return;
	b++;
	const char *e = b;
	while ((e = strchr(e, '\n')) != NULL) {
		e++;
		const char *q = e;
		while (*q == ' ')
			q++;
		if (q[0] == '-' && q[1] == '-')
			break;
	}
	buf_append(&doc->dsn, b, e ? (size_t)(e - b) : strlen(b));
	buf_puts(&doc->dsn, "\n\n");
}

/* part_delimiter - the boundary delimiter line ("--b", RFC 2046 5.1.1)
 * that opens the part whose header holds the line starting at field
 * (msg[0..field)): the first line above the part's header fields; its
 * length without trailing white space, 0 when the field is in no part
 * (a blank line or the message's start comes first) */
static size_t part_delimiter(const char *msg, const char *field, const char **delim)
{
	const char *ls = field;

	/* a part's header is a handful of fields: a long run of lines
	 * above is no part header */
	for (int n = 0; n < 64 && ls > msg; n++) {
		const char *le = ls - 1; /* the '\n' that ends the line above */
		const char *b = le;
		while (b > msg && b[-1] != '\n')
			b--;
		if (b == le)
			return 0;
		if (le - b >= 3 && b[0] == '-' && b[1] == '-') {
			while (le > b + 2 && (le[-1] == ' ' || le[-1] == '\t'))
				le--;
			*delim = b;
			return (size_t)(le - b);
		}
		ls = b;
	}
	return 0;
}

/* attached_message - the bytes of the first message/rfc822 part in a
 * message (a bounce forwarded whole), found by its part header, up to
 * the delimiter line of the multipart that holds it: the parts after it
 * (another attachment, the closing delimiter, a signature) are not the
 * attached message's. NULL when there is none. */
static const char *attached_message(const char *msg, size_t len, size_t *outlen)
{
	const char *ct = memmem(msg, len, "\nContent-Type: message/rfc822", 29);
	const char *end = msg + len, *delim = NULL;

	if (!ct)
		return NULL;
	const char *blank = memmem(ct, len - (size_t)(ct - msg), "\n\n", 2);
	if (!blank)
		return NULL;
	blank += 2;
	size_t dl = part_delimiter(msg, ct + 1, &delim);
	char needle[256]; /* "\n--boundary": RFC 2046 5.1.1 bounds it to 72 */
	if (dl + 1 >= sizeof(needle))
		dl = 0;
	if (dl) {
		needle[0] = '\n';
		memcpy(needle + 1, delim, dl);
	}
	/* the next line that opens with the delimiter ends the part (the
	 * line break before it is the delimiter's, RFC 2046 5.1.1) */
	for (const char *q = blank - 1; dl && q < end;) {
		const char *hit = memmem(q, (size_t)(end - q), needle, dl + 1);
		if (!hit)
			break;
		const char *after = hit + 1 + dl;
		if (after >= end || *after == '\n' || *after == ' ' || *after == '\t' ||
		    (*after == '-' && after + 1 < end && after[1] == '-')) {
			end = hit > blank ? hit : blank;
			break;
		}
		q = hit + 1;
	}
	*outlen = (size_t)(end - blank);
	return blank;
}

/* drop_cut - records since first whose address the decoders made by
 * leaving out a byte that was no text (rawaddr.c): such an address was
 * never written; returns how many were dropped */
static size_t drop_cut(struct bounce_result *res, size_t first, const char *msg, size_t len)
{
	struct bounce_rawaddr *ra;
	size_t w = first;

	if (res->n == first || (ra = bounce_rawaddr_scan(msg, len)) == NULL)
		return 0;
	for (size_t i = first; i < res->n; i++) {
		if (bounce_rawaddr_cut(ra, res->recs[i].recipient)) {
			free(res->recs[i].diagnostic_code);
			continue;
		}
		if (w != i)
			res->recs[w] = res->recs[i];
		w++;
	}
	bounce_rawaddr_free(ra);
	size_t dropped = res->n - w;
	res->n = w;
	return dropped;
}

/* parse_one's depth: the message itself; a bounce wrapped whole in a
 * notice that names nothing (a filter's "returned mail" around the real
 * report); a message attached to mail that is no notice at all (a person
 * forwarding a bounce to a help desk as an attachment) */
enum { TOP = 0, WRAPPED = 1, FORWARDED = 2 };

static size_t parse_one(const char *msg, size_t len, struct bounce_result *res, int depth);

/* read_doc - run the readers over a decoded message; returns records */
static size_t read_doc(struct bounce_doc *doc, const char *agent, struct bounce_result *res)
{
	size_t n = 0;

	if (!doc->dsn.len && agent)
		dsn_in_text(doc);
	if (agent && doc->dsn.len && bounce_family_text_first(agent))
		n = bounce_family_parse(doc, agent, res);
	if (n == 0 && doc->dsn.len) {
		size_t first = res->n;
		n = bounce_dsn_parse(doc, res);
		if (n && agent)
			bounce_family_fill(doc, agent, res, first);
	}
	if (n == 0 && doc->arf.len)
		n = bounce_arf_parse(doc, res);
	if (n == 0 && agent && strcmp(agent, "AmazonSES") == 0)
		n = bounce_ses_parse(doc, res);
	if (n == 0)
		n = bounce_jmrp_parse(doc, res);
	if (n == 0 && agent)
		n = bounce_family_parse(doc, agent, res);
	return n;
}

/* parse_one - read one message; returns records added. depth (TOP,
 * WRAPPED, FORWARDED above) says what holds it: a message with no
 * records of its own is read through its first attached message once,
 * whether it is a notice that only wraps another (a filter's "returned
 * mail") or a person's mail forwarding a bounce as an attachment. */
static size_t parse_one(const char *msg, size_t len, struct bounce_result *res, int depth)
{
	struct bounce_doc doc;
	size_t first = res->n, n = 0;
	const char *agent;

	/* an mbox "From " envelope line is not a header field */
	if (len > 5 && strncmp(msg, "From ", 5) == 0) {
		const char *nl = memchr(msg, '\n', len);
		if (!nl)
			return 0;
		len -= (size_t)(nl + 1 - msg);
		msg = nl + 1;
	}
	bounce_doc_load(&doc, msg, len);
	/* computed once: every reader asks where the report text stops */
	doc.rend = bounce_report_end(doc.text.data);
	agent = bounce_family_detect(&doc);
	if (!agent && depth == FORWARDED) {
		/* the message attached to a person's mail is read only when
		 * it is itself a notice: a quoted auto-reply or a message
		 * that was merely passed on gives nothing */
		bounce_doc_free(&doc);
		return 0;
	}
	n = read_doc(&doc, agent, res);
	n -= drop_cut(res, first, msg, len);
	if (n == 0 && depth == 0) {
		size_t alen;
		const char *att = attached_message(msg, len, &alen);
		if (att && agent) {
			bounce_doc_free(&doc);
			return parse_one(att, alen, res, WRAPPED);
		}
		/* a person's mail whose attachment is no notice may still
		 * be an auto-reply itself */
		if (att && (n = parse_one(att, alen, res, FORWARDED)) != 0) {
			bounce_doc_free(&doc);
			return n;
		}
	}
	if (n == 0 && depth != FORWARDED)
		n = bounce_autoreply_parse(&doc, res);
	finish(res, first, &doc, agent);
	bounce_doc_free(&doc);
	return n;
}

size_t bounce_parse(const char *data, size_t len, struct bounce_result *res)
{
	size_t nlen, off = 0, total = 0;
	char *norm = normalise_eol(data, len, &nlen);

	size_t first = res->n, nmsg = 0;

	bounce_init();
	while (off < nlen) {
		size_t l = next_message(norm + off, nlen - off);
		size_t before = res->n;
		total += parse_one(norm + off, l, res, 0);
		nmsg++;
		for (size_t i = before; i < res->n; i++)
			res->recs[i].message = nmsg;
		off += l;
	}
	/* a single message needs no index: only an mbox numbers its records */
	if (nmsg == 1)
		for (size_t i = first; i < res->n; i++)
			res->recs[i].message = 0;
	free(norm);
	return total;
}
