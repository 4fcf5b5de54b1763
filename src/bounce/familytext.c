/*
 * familytext.c - read the failed recipients and the remote's words off a
 * notice's text, for bounces that carry no RFC 3464 report and to fill
 * what a report leaves out. One reader (text_scan) serves every family.
 *
 * textrcpt.c says which address a line names (one opening the line,
 * after a label, ...); the record's diagnostic is the text up to the
 * next recipient (a Sendmail transcript block goes to the recipient
 * after it). Not recipients: the notice's own addresses and the
 * sender's (its To:, the returned message's Return-Path: and From:,
 * unless the notice names nobody else), the address after "A message
 * sent by", and an address opening a line that continues the entry
 * above it (indented deeper: Postfix's wrapped reply). A header-like
 * "To:" line counts only when nothing stronger names a recipient.
 * Addresses listed one a line, or several on one line, share the words
 * after the last. A reply quoted once above the list of recipients is
 * theirs; under Lotus Notes' "Failure Reasons" each address takes the
 * cause above it. Exim's X-Failed-Recipients header is used when the
 * text names nobody, and the returned message's To: when nothing else
 * does (old Sendmail).
 *
 * Time is linear in the text: records are found by a hash of their
 * address, not by a search per line.
 *
 * Fails soft: no recipient found means no record.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/addrindex.h"
#include "bounce/internal.h"

/* text_scan keeps how each of a report's first records was named, and
 * HOW_LISTED on one listed on a line before another ("a@b、c@d"): it
 * shares the words of the record after it */
#define HOW_LISTED 0x80
#define HOW_MASK   0x7f

static struct bounce_record *find_rec(struct bounce_result *res, size_t first, const char *addr)
{
	for (size_t i = first; i < res->n; i++)
		if (strcasecmp(res->recs[i].recipient, addr) == 0)
			return &res->recs[i];
	return NULL;
}

/* The records of one reader by address: find_rec once per report line
 * (or per record of another list) would be quadratic in the number of
 * recipients (a list of 20000 took seconds). The records indexed are
 * distinct (case-blind), so the one found is find_rec's. */
static void rec_index_put(struct addrindex *ix, const struct bounce_result *res, size_t i)
{
	const char *a = res->recs[i].recipient;

	addrindex_put(ix, addrindex_hash(a, strlen(a)), i);
}

static struct bounce_record *rec_index_find(const struct addrindex *ix, struct bounce_result *res,
                                            const char *addr)
{
	size_t cur = 0, k;
	uint64_t h = addrindex_hash(addr, strlen(addr));

	while ((k = addrindex_next(ix, h, &cur)) != SIZE_MAX)
		if (k < res->n && strcasecmp(res->recs[k].recipient, addr) == 0)
			return &res->recs[k];
	return NULL;
}

/* rec_take - the record for addr among res->recs[first..] (ix indexes
 * them), added when new; how[] keeps the strongest naming of the first
 * 64 */
static struct bounce_record *rec_take(struct bounce_result *res, size_t first, struct addrindex *ix,
                                      unsigned char *how, const char *addr, enum bounce_rcpt h,
                                      const char *agent)
{
	struct bounce_record *r = rec_index_find(ix, res, addr);

	if (!r) {
		r = bounce_record_add(res);
		util_strlcpy(r->recipient, addr, sizeof(r->recipient));
		rec_index_put(ix, res, res->n - 1);
		r->smtp_agent = agent;
		if (res->n - 1 - first < 64)
			how[res->n - 1 - first] = (unsigned char)h;
	} else if ((size_t)(r - res->recs) - first < 64) {
		unsigned char *w = &how[(size_t)(r - res->recs) - first];
		if ((*w & HOW_MASK) < h)
			*w = (unsigned char)((*w & HOW_LISTED) | h);
	}
	return r;
}

/* Lines after which the next address is the message's sender, not a
 * recipient (Exim: "A message sent by\n\n  <a@b>\n\ncould not be ...") */
static const char *const sender_intros[] = {"A message sent by", NULL};

static bool sender_intro(const char *p, size_t l)
{
	while (l && (p[l - 1] == ' ' || p[l - 1] == ':'))
		l--;
	for (size_t i = 0; sender_intros[i]; i++) {
		size_t il = strlen(sender_intros[i]);
		if (l >= il && strncasecmp(p + l - il, sender_intros[i], il) == 0)
			return true;
	}
	return false;
}

/* Sentences of a notice's template that close its list of recipients:
 * what follows is boilerplate, not the last recipient's diagnostic
 * (OpenSMTPD's delay notice, Exim's delay warning) */
static const char *const list_closers[] = {
    "Please note that this is only a temporary failure report",
    "No action is required on your part",
    NULL,
};

static bool list_closer(const char *p, size_t l)
{
	while (l && (*p == ' ' || *p == '\t'))
		p++, l--;
	for (size_t i = 0; list_closers[i]; i++) {
		size_t cl = strlen(list_closers[i]);
		if (l >= cl && strncmp(p, list_closers[i], cl) == 0)
			return true;
	}
	return false;
}

/* is_own_line - "<a@b>:" alone: qmail's recipient line, or the address
 * alone on its line (Exim's list of failed addresses): the entry of a
 * recipient in the notice's list */
static bool is_own_line(const char *p, size_t l, const char *addr)
{
	size_t al = strlen(addr);

	while (l && (*p == ' ' || *p == '\t'))
		p++, l--;
	while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
		l--;
	/* the address alone on its line: Exim's list of failed addresses */
	if (l == al && strncasecmp(p, addr, al) == 0)
		return true;
	return l >= al + 3 && p[0] == '<' && strncasecmp(p + 1, addr, al) == 0 &&
	       p[al + 1] == '>' && p[al + 2] == ':';
}

/* address_lead - the length of the address that opens the line, with its
 * brackets, a colon after it and the white space around ("  <a@b>: ",
 * "a@b:"), when the rest of the line is empty or follows that colon;
 * else 0. The record already holds the address, and its diagnostic is
 * the remote's words, not the list of addresses they came with. */
static size_t address_lead(const char *p, size_t l, const char *addr)
{
	size_t al = strlen(addr), i;
	bool bracket;

	i = (size_t)(bounce_skip_space(p, p + l, "") - p);
	bracket = i < l && p[i] == '<';
	if (bracket)
		i++;
	if (l - i < al || strncasecmp(p + i, addr, al) != 0)
		return 0;
	i += al;
	if (bracket) {
		if (i >= l || p[i] != '>')
			return 0;
		i++;
	}
	if (i < l && p[i] == ':')
		i++;
	else if (i < l && p[i] != ' ' && p[i] != '\t')
		return 0;
	else {
		/* no colon: only white space may follow */
		for (size_t j = i; j < l; j++)
			if (p[j] != ' ' && p[j] != '\t')
				return 0;
	}
	while (i < l && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

/* header_name - p[0..e) opens with a header field name and its colon
 * (RFC 5322 2.2: printable ASCII but space and colon); its length with
 * the colon, else 0 */
static size_t header_name(const char *p, const char *e)
{
	const char *q = p;

	while (q < e && isgraph((unsigned char)*q) && *q != ':')
		q++;
	return q > p && q < e && *q == ':' ? (size_t)(q - p + 1) : 0;
}

/* returned_header - the line at p (text[..stop)) opens the header of the
 * returned message quoted inline under a divider this reader does not
 * know ("-------- Original Message --------", "------ Returned message
 * ------"): an unindented block of header fields, with no blank line,
 * holding a "From:" that does not name a daemon (a forwarded notice's
 * own header does) and a "To:", "Subject:", "Date:" or "Sent:". Its body
 * is anyone's words: a signature or a quoted line that opens with an
 * address is no recipient. */
static bool returned_header(const char *p, const char *stop)
{
	static const char *const others[] = {"To:", "Subject:", "Date:", "Sent:", NULL};
	bool from = false, other = false;

	for (int n = 0; n < 12 && p < stop && *p != '\n'; n++) {
		const char *e = memchr(p, '\n', (size_t)(stop - p));
		if (!e)
			e = stop;
		size_t hl = header_name(p, e);
		if (hl == 0 && (n == 0 || (*p != ' ' && *p != '\t')))
			return false;
		if (hl == 5 && strncasecmp(p, "From:", 5) == 0) {
			char v[256];
			size_t l = (size_t)(e - p) - 5;
			if (l >= sizeof(v))
				l = sizeof(v) - 1;
			memcpy(v, p + 5, l);
			v[l] = '\0';
			if (bounce_family_from_daemon(v))
				return false;
			from = true;
		}
		for (size_t i = 0; hl && others[i]; i++)
			if (hl == strlen(others[i]) && strncasecmp(p, others[i], hl) == 0)
				other = true;
		if (from && other)
			return true;
		p = e + 1;
	}
	return false;
}

/* The notice's own addresses and the sender's, which a notice names
 * beside the recipients ("<<< 501 <a@b>... no access", qmail's "Remote
 * host said: 550 <a@b>... Access denied", a greeting "a@b 様", a list of
 * failed addresses that holds the address the notice went to): every
 * address of the notice's To:, and the returned message's Return-Path:
 * and From:. (Not X-Original-To: the DragonFly Mail Agent writes the
 * failed recipient there.) The notice's To: alone is not enough: a notice
 * sent to a VERP or bounce address names the sender by another address
 * than the one it is sent to. None of them is a failed recipient: a
 * mailing list that read its own bounce address as one would suppress
 * it. */
#define SENDERS_MAX 8

struct senders {
	char addr[SENDERS_MAX][BOUNCE_ADDR_MAX];
	size_t n;
	/* take_own: a line that is one of these addresses' own entry
	 * ("<a@b>:", the address alone) names a recipient after all (a
	 * notice that named nobody else: mail a person sent to himself);
	 * own_seen: the scan passed such a line over */
	bool take_own, own_seen;
};

/* senders_add - every address of the field value v, while room is left */
static void senders_add(struct senders *s, const char *v)
{
	const char *p = v, *end = v + strlen(v);

	while (s->n < SENDERS_MAX &&
	       (p = bounce_find_addr(p, (size_t)(end - p), s->addr[s->n], BOUNCE_ADDR_MAX)) != NULL)
		s->n++;
}

static void senders_read(const struct bounce_doc *doc, struct senders *s)
{
	static const char *const fields[] = {"Return-Path", "From"};
	/* the returned message's header: its own part, else the text
	 * after the report's end up to the first blank line (a field
	 * missing there is not searched for through the whole body) */
	const char *orig = doc->orig.data;
	char *block = NULL, v[4096];

	memset(s, 0, sizeof(*s));
	if (bounce_header(doc->hdr.data, "To", v, sizeof(v)))
		senders_add(s, v);
	if (!doc->orig.len) {
		/* past the end marker's line and the blank lines after it */
		const char *rest = strchr(doc->text.data + doc->rend, '\n');
		rest = rest ? rest + 1 : "";
		while (*rest == '\n')
			rest++;
		const char *blank = strstr(rest, "\n\n");
		block = xstrndup(rest, blank ? (size_t)(blank - rest + 1) : strlen(rest));
		orig = block;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (bounce_header(orig, fields[i], v, sizeof(v)))
			senders_add(s, v);
	free(block);
}

static bool is_sender(const struct senders *s, const char *addr)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcasecmp(s->addr[i], addr) == 0)
			return true;
	return false;
}

/* line_indent - the columns of white space that open p[0..l) (a tab to
 * the next multiple of 8); SIZE_MAX when the line is blank */
static size_t line_indent(const char *p, size_t l)
{
	size_t col = 0, i = 0;

	for (; i < l && (p[i] == ' ' || p[i] == '\t'); i++)
		col = p[i] == '\t' ? (col / 8 + 1) * 8 : col + 1;
	return i == l ? SIZE_MAX : col;
}

/* text_scan - read recipients and their diagnostics off the report text;
 * *first_line is where the first recipient line starts (end when none) */
static size_t text_scan(const struct bounce_doc *doc, const char *agent, struct bounce_result *res,
                        struct senders *sender, size_t *first_line)
{
	const char *text = doc->text.data;
	size_t end = doc->rend, first = res->n;
	struct bounce_record *cur = NULL, *last = NULL;
	char addr[BOUNCE_ADDR_MAX], next[BOUNCE_ADDR_MAX];
	const char *p = text, *stop = text + end, *addr_end;
	unsigned char how[64]; /* strongest naming per record (first 64) */
	bool any_strong = false, skip_next = false;
	/* the last line was blank; the indentation of the entry the
	 * lines since the last blank one continue */
	bool prev_blank = true;
	size_t entry_col = 0;
	bool transcript = strcmp(agent, "Sendmail") == 0;
	struct buf pending = {0}; /* a transcript block waiting for its recipient */
	/* under a cause rule (Lotus Notes' "Failure Reasons"): the cause
	 * above the addresses being read, and whether an address came
	 * since it (the next words are the next cause) */
	bool causes = false, cause_done = false;
	struct buf cause = {0};
	enum bounce_block pending_kind = BOUNCE_BLOCK_NONE;
	struct addrindex ix = {0}; /* res->recs[first..] by address */

	*first_line = end;
	/* at most BOUNCE_RECIPIENTS_MAX records: the rest is not read */
	while (p < stop && res->n - first < BOUNCE_RECIPIENTS_MAX) {
		const char *e = memchr(p, '\n', (size_t)(stop - p));
		size_t l = e ? (size_t)(e - p) : (size_t)(stop - p);

		/* the returned message after the recipients ends the report;
		 * a header block before any of them is the report's own */
		if (res->n > first && isupper((unsigned char)*p) && returned_header(p, stop))
			break;
		enum bounce_rcpt h = bounce_rcpt_line(p, l, addr, sizeof(addr), &addr_end);
		/* a line indented deeper than the entry above it, with no
		 * blank line between, continues that entry: Postfix wraps
		 * "<a@b>: host ... said: 550 5.1.1" with its reply going on
		 * indented ("    <c@d>... User unknown", "    <sender>:
		 * Sender address rejected"), and an address opening such a
		 * line is the remote's words, not a recipient. Exim's list
		 * keeps its entries at one depth, their lines deeper. */
		size_t col = line_indent(p, l);
		bool deeper = !prev_blank && col != SIZE_MAX && col > entry_col;
		if (col != SIZE_MAX && !deeper)
			entry_col = col;
		prev_blank = col == SIZE_MAX;
		if (h == BOUNCE_RCPT_OPEN && deeper && cur)
			h = BOUNCE_RCPT_NONE;
		enum bounce_block k = transcript && h == BOUNCE_RCPT_NONE ? bounce_block_start(p, l)
		                                                          : BOUNCE_BLOCK_NONE;
		/* the notice's own or the sender's address names no
		 * recipient, unless the line is its entry in the list and
		 * the notice names nobody else (take_own) */
		bool own = h != BOUNCE_RCPT_NONE && is_sender(sender, addr);
		bool entry = own && is_own_line(p, l, addr);
		if (entry && !sender->take_own)
			sender->own_seen = true;
		own = own && !(entry && sender->take_own);

		if (!causes && h == BOUNCE_RCPT_NONE && bounce_cause_rule(p, l)) {
			causes = true;
			cur = NULL;
			p = e ? e + 1 : stop;
			continue;
		}
		if (causes) {
			/* each address takes the cause above it, not the
			 * words below it (the next address's cause); a
			 * divider ("------- Returned Message --------") ends
			 * the block */
			if (h == BOUNCE_RCPT_NONE && bounce_divider(p, l)) {
				causes = false;
			} else if (h == BOUNCE_RCPT_NONE && col != SIZE_MAX) {
				if (cause_done)
					buf_reset(&cause);
				cause_done = false;
				buf_append(&cause, p, l);
				buf_putc(&cause, '\n');
			} else if (h != BOUNCE_RCPT_NONE) {
				cause_done = true;
				if (!own) {
					struct bounce_record *r =
					    rec_take(res, first, &ix, how, addr, h, agent);
					if (!r->diagnostic_code && cause.len)
						bounce_diag_append(r, cause.data, cause.len);
					if ((size_t)(p - text) < *first_line)
						*first_line = (size_t)(p - text);
					any_strong = any_strong || h != BOUNCE_RCPT_WEAK;
				}
			}
			p = e ? e + 1 : stop;
			continue;
		}

		if (k == BOUNCE_BLOCK_TALK ||
		    (k == BOUNCE_BLOCK_HOST && pending_kind != BOUNCE_BLOCK_TALK)) {
			/* a new block: one still pending named no recipient
			 * (a host that only deferred) and belongs to nobody;
			 * a host line inside a "While talking" block is that
			 * block's own outcome */
			buf_free(&pending);
			pending_kind = k;
			if (cur)
				last = cur;
			cur = NULL;
		}
		/* a line naming only the sender ("<<< 501 <sender>... no
		 * access") is part of the block */
		if (pending_kind != BOUNCE_BLOCK_NONE && (h == BOUNCE_RCPT_NONE || own)) {
			buf_append(&pending, p, l);
			buf_putc(&pending, '\n');
			p = e ? e + 1 : stop;
			continue;
		}

		if (sender_intro(p, l)) {
			skip_next = true;
		} else if (skip_next && h != BOUNCE_RCPT_NONE) {
			skip_next = false;
			p = e ? e + 1 : stop;
			continue;
		}

		if (own && h == BOUNCE_RCPT_OPEN) {
			/* the own address's entry in the list: the lines
			 * under it are its, not the record's before */
			if (cur)
				last = cur;
			cur = NULL;
		}
		if (h != BOUNCE_RCPT_NONE && !own) {
			struct bounce_record *r = rec_take(res, first, &ix, how, addr, h, agent);
			if (h != BOUNCE_RCPT_WEAK)
				any_strong = true;
			if ((size_t)(p - text) < *first_line)
				*first_line = (size_t)(p - text);
			cur = r;
			if (pending.len)
				bounce_diag_append(cur, pending.data, pending.len);
			buf_free(&pending);
			pending_kind = BOUNCE_BLOCK_NONE;
		}
		/* more addresses listed on the line ("收件人：a@b、c@d"):
		 * each a recipient, sharing the words after the last */
		struct bounce_record *listed = h != BOUNCE_RCPT_NONE && !own ? cur : NULL;
		for (const char *a = addr_end;
		     a && (a = bounce_rcpt_next(a, p + l, next, sizeof(next)));) {
			if (is_sender(sender, next))
				continue;
			struct bounce_record *r = rec_take(res, first, &ix, how, next, h, agent);
			size_t li = listed ? (size_t)(listed - res->recs) - first : 64;
			if (listed && r != listed && li < 64)
				how[li] |= HOW_LISTED;
			if ((size_t)(p - text) < *first_line)
				*first_line = (size_t)(p - text);
			any_strong = true;
			listed = cur = r;
		}
		if (cur && h == BOUNCE_RCPT_NONE && list_closer(p, l))
			cur = NULL;
		/* the address that opens the record's text is not part of
		 * its diagnostic (one inside it is: Exim folds "RCPT TO:\n
		 * <a@b>:" there) */
		if (cur) {
			size_t lead = h != BOUNCE_RCPT_NONE && !cur->diagnostic_code
			                  ? address_lead(p, l, addr)
			                  : 0;
			bounce_diag_append(cur, p + lead, l - lead);
		}
		p = e ? e + 1 : stop;
	}
	/* a transcript after the list of recipients (Sendmail's usual
	 * layout) is the last recipient's; a host's own deferral line
	 * left over names no failed recipient */
	if (pending_kind == BOUNCE_BLOCK_TALK && pending.len && (cur || last))
		bounce_diag_append(cur ? cur : last, pending.data, pending.len);
	buf_free(&pending);
	buf_free(&cause);
	addrindex_free(&ix);
	/* a list of addresses, one a line, with the words after the last
	 * (Gmail's "Delivery to the following recipients failed
	 * permanently:" then the remote's reply): the words are every
	 * listed address's, not the last one's only */
	for (size_t i = res->n; i-- > first + 1;) {
		struct bounce_record *a = &res->recs[i - 1], *b = &res->recs[i];
		if (i - first >= 64 || a->diagnostic_code || !b->diagnostic_code)
			continue;
		if ((how[i - 1 - first] & HOW_LISTED) ||
		    ((how[i - 1 - first] & HOW_MASK) == BOUNCE_RCPT_OPEN &&
		     (how[i - first] & HOW_MASK) == BOUNCE_RCPT_OPEN))
			a->diagnostic_code = xstrdup(b->diagnostic_code);
	}
	/* a "To:" summary line counts only when nothing else names a
	 * recipient: Exchange's "Your message To: x ... did not reach y" */
	for (size_t i = first; any_strong && i < res->n && i - first < 64;) {
		if ((how[i - first] & HOW_MASK) == BOUNCE_RCPT_WEAK) {
			free(res->recs[i].diagnostic_code);
			memmove(&res->recs[i], &res->recs[i + 1],
			        (res->n - i - 1) * sizeof(res->recs[0]));
			memmove(&how[i - first], &how[i - first + 1], 63 - (i - first));
			res->n--;
		} else {
			i++;
		}
	}
	return res->n - first;
}

/* Sentences of a warning that delivery is only delayed and still being
 * retried (RFC 3464 2.3.3 action "delayed"); in lower case, matched
 * case-blind in the report text (not in the returned message, whose words
 * are anyone's) */
static const char *const delay_phrases[] = {
    "this is a warning message only", /* Sendmail, old Gmail */
    "this is a warning only",         /* Postfix (in capitals), Yahoo */
    "has not yet been delivered",     /* Exim */
    "will be retried",                /* "Message will be retried for 2 more day(s)" */
    "will keep trying",               /* Sendmail, Exchange's "The server will keep trying" */
    "this is only a temporary failure report", /* OpenSMTPD */
    "this is only a warning",                  /* Courier */
    "gmail will retry",
    "delivery is delayed to these recipients", /* Exchange */
    "still awaiting delivery",                 /* Sun/Oracle Messaging Server */
    NULL,
};

/* mailto_name - Exchange's text names each recipient as "display
 * (address)<mailto:mailbox>", and the mailbox is the address that was
 * written; its RFC 3464 part names the address the directory resolved.
 * When the text's line for the record's address ends in a different
 * mailto: address, the record takes that one.
 *
 * The lines of that shape are collected once per report (mailto_lines)
 * and looked up by the address that opens them: searching the text for
 * every record's address, and reading every occurrence, made a report
 * with many recipients quadratic. A recipient holds no white space, so
 * the line it opens is the one whose text before the first space is it. */
struct mailto_lines {
	struct addrindex ix; /* head hash -> offset of the line in the text */
	const char *text;
};

/* mailto_line - the line at ls (text[..end)) is "head (...)<mailto:a>"
 * with an address a: its head's length, else 0 */
static size_t mailto_line(const char *ls, const char *end, char *addr, size_t size)
{
	size_t hl = 0;

	while (ls[hl] && ls[hl] != ' ' && ls[hl] != '\n')
		hl++;
	/* at a line start, "(address)" straight after it, and the mailto:
	 * closing the same line */
	if (hl == 0 || ls[hl] != ' ' || ls[hl + 1] != '(')
		return 0;
	const char *nl = memchr(ls, '\n', (size_t)(end - ls));
	const char *le = nl ? nl : end;
	const char *mt = memmem(ls, (size_t)(le - ls), ")<mailto:", 9);
	if (!mt || !bounce_find_addr(mt + 9, (size_t)(le - mt - 9), addr, size))
		return 0;
	return hl;
}

static void mailto_lines_build(const struct bounce_doc *doc, struct mailto_lines *ml)
{
	const char *text = doc->text.data, *end = text + doc->rend;
	char addr[BOUNCE_ADDR_MAX];

	ml->text = text;
	/* most reports have no such line at all */
	if (!memmem(text, doc->rend, ")<mailto:", 9))
		return;
	for (const char *ls = text; ls < end;) {
		const char *nl = memchr(ls, '\n', (size_t)(end - ls));
		size_t hl = mailto_line(ls, end, addr, sizeof(addr));
		if (hl) {
			/* the first line for a head wins: keep only that one */
			uint64_t h = addrindex_hash(ls, hl);
			size_t cur = 0, k;
			bool seen = false;
			while (!seen && (k = addrindex_next(&ml->ix, h, &cur)) != SIZE_MAX)
				seen = strncasecmp(text + k, ls, hl) == 0 && text[k + hl] == ' ';
			if (!seen)
				addrindex_put(&ml->ix, h, (size_t)(ls - text));
		}
		if (!nl)
			break;
		ls = nl + 1;
	}
}

static void mailto_name(const struct bounce_doc *doc, const struct mailto_lines *ml,
                        struct bounce_record *rec)
{
	size_t al = strlen(rec->recipient), cur = 0, k;
	const char *end = ml->text + doc->rend;
	char addr[BOUNCE_ADDR_MAX];
	uint64_t h = addrindex_hash(rec->recipient, al);

	if (al == 0)
		return;
	while ((k = addrindex_next(&ml->ix, h, &cur)) != SIZE_MAX) {
		const char *ls = ml->text + k;
		if (strncasecmp(ls, rec->recipient, al) != 0 || ls[al] != ' ' ||
		    !mailto_line(ls, end, addr, sizeof(addr)))
			continue;
		if (strcasecmp(addr, rec->recipient) != 0)
			util_strlcpy(rec->recipient, addr, sizeof(rec->recipient));
		return;
	}
}

/* bounce_family_fill - an RFC 3464 part without Diagnostic-Code (or with
 * only the X.0.0 status) leaves the remote's words to the text part
 * (OpenSMTPD, Gmail): fill those records from the family reader */
void bounce_family_fill(const struct bounce_doc *doc, const char *agent, struct bounce_result *res,
                        size_t first)
{
	struct bounce_result tmp = {0};
	struct mailto_lines ml = {0};
	struct addrindex ix = {0};
	struct senders sender;
	bool need = false;

	mailto_lines_build(doc, &ml);
	for (size_t i = first; i < res->n; i++) {
		mailto_name(doc, &ml, &res->recs[i]);
		if (!res->recs[i].diagnostic_code)
			need = true;
	}
	addrindex_free(&ml.ix);
	if (!need)
		return;
	senders_read(doc, &sender);
	/* the report part decided who the recipients are; the text only
	 * gives their words, also those of one the notice went to */
	sender.take_own = true;
	size_t first_line;
	text_scan(doc, agent, &tmp, &sender, &first_line);
	for (size_t i = 0; i < tmp.n; i++)
		rec_index_put(&ix, &tmp, i);
	for (size_t i = first; i < res->n; i++) {
		struct bounce_record *r = &res->recs[i];
		struct bounce_record *t = rec_index_find(&ix, &tmp, r->recipient);
		if (r->diagnostic_code || !t || !t->diagnostic_code)
			continue;
		r->diagnostic_code = t->diagnostic_code;
		t->diagnostic_code = NULL;
		if (!r->status[0] || strcmp(r->status + 1, ".0.0") == 0)
			bounce_find_status(r->diagnostic_code, r->status, sizeof(r->status));
		if (!r->replycode[0])
			bounce_find_replycode(r->diagnostic_code, r->replycode,
			                      sizeof(r->replycode));
	}
	addrindex_free(&ix);
	bounce_result_free(&tmp);
}

size_t bounce_family_parse(const struct bounce_doc *doc, const char *agent,
                           struct bounce_result *res)
{
	char to[1024] = "", failed[4096];
	struct senders sender;
	size_t first = res->n, n;

	senders_read(doc, &sender);
	size_t first_line;
	n = text_scan(doc, agent, res, &sender, &first_line);
	if (n == 0 && sender.own_seen) {
		/* the only entry in the list is the address the notice went
		 * to: mail a person sent to himself, and that is the
		 * recipient that failed */
		sender.take_own = true;
		n = text_scan(doc, agent, res, &sender, &first_line);
	}
	/* Exim lists the failed addresses in a header of its own; its
	 * text, when it names any, is the better source (the header may
	 * hold the address before a redirect) */
	if (n == 0 && bounce_header(doc->hdr.data, "X-Failed-Recipients", failed, sizeof(failed))) {
		const char *p = failed;
		char addr[BOUNCE_ADDR_MAX];
		while ((p = bounce_find_addr(p, strlen(p), addr, sizeof(addr))) != NULL)
			if (!find_rec(res, first, addr)) {
				struct bounce_record *r = bounce_record_add(res);
				util_strlcpy(r->recipient, addr, sizeof(r->recipient));
				r->smtp_agent = agent;
				n++;
			}
	}
	/* old Sendmail names no address in its transcript: the returned
	 * message's To: is the recipient (only when nothing else is) */
	if (n == 0 && (bounce_header(doc->orig.data, "To", to, sizeof(to)) ||
	               bounce_header(doc->text.data + doc->rend, "To", to, sizeof(to)))) {
		char addr[BOUNCE_ADDR_MAX];
		char ofrom[512] = "";
		bounce_header(doc->orig.data, "From", ofrom, sizeof(ofrom));
		/* a returned message that is itself a bounce is read by the
		 * caller (parse.c), not taken for the original */
		if (!bounce_family_from_daemon(ofrom) &&
		    bounce_find_addr(to, strlen(to), addr, sizeof(addr)) &&
		    !is_sender(&sender, addr)) {
			struct bounce_record *r = bounce_record_add(res);
			util_strlcpy(r->recipient, addr, sizeof(r->recipient));
			r->smtp_agent = agent;
			bounce_record_set_diag(r, doc->text.data, doc->rend);
			n++;
		}
	}
	bool delayed = false;
	char *report = xstrndup(doc->text.data, doc->rend);
	util_lowercase(report);
	for (size_t i = 0; delay_phrases[i] && !delayed; i++)
		delayed = strstr(report, delay_phrases[i]) != NULL;
	free(report);
	char shared[512];
	bool have_shared = bounce_diag_shared(doc->text.data, first_line, shared, sizeof(shared));
	for (size_t i = first; i < res->n; i++) {
		struct bounce_record *r = &res->recs[i];
		if (delayed && !r->action[0])
			util_strlcpy(r->action, "delayed", sizeof(r->action));
		bounce_diag_finish(r, have_shared ? shared : NULL);
		r->rule = agent;
	}
	return n;
}
