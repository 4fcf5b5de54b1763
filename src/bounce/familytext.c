/*
 * familytext.c - read the failed recipients and the remote's words off a
 * notice's text, for bounces that carry no RFC 3464 report and to fill
 * what a report leaves out. One reader (text_scan) serves every family.
 *
 * A recipient is an address that opens a line (qmail "<a@b>:", Exim
 * "  a@b", Gmail, Exchange "a@b<mailto:a@b>") or follows one of the
 * labels below, or ends a "<sentence>: a@b" line; its diagnostic is the
 * text up to the next recipient (a Sendmail transcript block goes to the
 * recipient after it). A header-like "To:" line counts only when nothing
 * stronger names a recipient, and the address after "A message sent by"
 * is the sender. A reply quoted once above the list of recipients is
 * theirs. Exim's X-Failed-Recipients header is used when the text names
 * nobody, and the returned message's To: when nothing else does (old
 * Sendmail).
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

/* Words that put a recipient address inside a sentence. */
static const char *const rcpt_labels[] = {
    "RCPT To:",
    "RCPT TO:",
    "rcpt to:",
    "To:",
    "to: ",
    "recipient:",
    "Recipient:",
    "Recipient address:",
    "address:",
    "email address :",
    "delivering your mail to <",
    "delivering your message to ",
    "wasn't delivered to ",
    "The following message to <",
    "Your message to: ",
    "Your message to ",           /* Gmail, Microsoft 365: "... has been blocked" */
    "couldn't be delivered to ", /* Gmail: "Your message couldn't be delivered to" */
    "Original-Recipient:",
    "Failed recipient",
    "Recipient address: ",
    "<mailto:",
    "-> ",
    "deliver message to ",
    "rejected recipient",
    "returned permanent errors:",
    "undeliverable to ",
    "mailing list <",
    "Failed to deliver to '", /* CommuniGate Pro */
    "Empf\xc3\xa4nger:",      /* Empfänger: (German notices) */
    "Destinataire :",
    "Destinataire:",
    "Destinatario:",
    /* Microsoft 365's "Recipient Address:" under "Original Message
     * Details", in the languages of its localised notices (German,
     * French, Spanish, Italian, Portuguese, Dutch, Japanese, Chinese) */
    "Empfängeradresse:",
    "Adresse du destinataire :",
    "Dirección del destinatario:",
    "Indirizzo destinatario:",
    "Endereço do Destinatário:",
    "Adres van geadresseerde:",
    "受信者アドレス:",
    "收件人地址:",
    NULL,
};

/* How a line names a recipient: RCPT_WEAK for a header-like "To:" line
 * (often the returned message's own To:, a summary of what was sent),
 * kept only when nothing stronger names a recipient; RCPT_LABEL for an
 * address after a label; RCPT_OPEN for an address opening the line. */
enum rcpt_how { RCPT_NONE, RCPT_WEAK, RCPT_LABEL, RCPT_OPEN };

/* colon_tail - "<words>: <addr>" ending the line (IMail "Unknown user:
 * a@b", "User's mailbox is full: <a@b>"): a sentence of at least two
 * words, not a header field and not the sender's "MAIL FROM:" */
static bool colon_tail(const char *p, const char *e, const char *addr)
{
	const char *colon = NULL;
	size_t al = strlen(addr);

	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '>' || e[-1] == '.'))
		e--;
	if ((size_t)(e - p) < al || strncasecmp(e - al, addr, al) != 0)
		return false;
	for (const char *q = e - al; q > p; q--)
		if (q[-1] == ':') {
			colon = q - 1;
			break;
		} else if (q[-1] != ' ' && q[-1] != '<' && q[-1] != '\t') {
			return false;
		}
	if (!colon || colon - p < 5 || colon - p > 60 || !memchr(p, ' ', (size_t)(colon - p)))
		return false;
	for (const char *q = p; q < colon; q++)
		if (*q == '@' || *q == '<' || *q == '"' || strncasecmp(q, "from", 4) == 0)
			return false;
	return true;
}

/* codes_only - p[0..e) is reply and enhanced codes only ("553 5.1.8 ") */
static bool codes_only(const char *p, const char *e)
{
	bool digit = false;

	for (; p < e; p++) {
		if (isdigit((unsigned char)*p))
			digit = true;
		else if (*p != '.' && *p != ' ')
			return false;
	}
	return digit;
}

/* rcpt_on_line - the recipient a line names, if it names one */
static enum rcpt_how rcpt_on_line(const char *line, size_t len, char *addr, size_t size)
{
	const char *p = line, *e = line + len;
	const char *after, *mt;

	while (p < e && (*p == ' ' || *p == '\t' || *p == '*' || *p == '>'))
		p++;
	/* an address opening the line, maybe in <> or quotes */
	after = bounce_find_addr(p, (size_t)(e - p), addr, size);
	if (!after)
		return RCPT_NONE;
	size_t off = (size_t)(after - p) - strlen(addr);
	if (off <= 2) {
		/* Exchange: "a@b (a@b)<mailto:c@d>" names the mailbox c@d */
		mt = memmem(after, (size_t)(e - after), "<mailto:", 8);
		if (mt)
			bounce_find_addr(mt + 8, (size_t)(e - mt - 8), addr, size);
		return RCPT_OPEN;
	}
	/* or following a label */
	for (size_t i = 0; rcpt_labels[i]; i++) {
		size_t ll = strlen(rcpt_labels[i]);
		const char *l = line;
		while ((l = memmem(l, (size_t)(e - l), rcpt_labels[i], ll)) != NULL) {
			const char *q = l + ll;
			while (q < e && (*q == ' ' || *q == '\t' || *q == '<' || *q == '"'))
				q++;
			if (q < e && bounce_find_addr(q, (size_t)(e - q), addr, size) &&
			    strncmp(q, addr, strlen(addr)) == 0)
				return strcmp(rcpt_labels[i], "To:") == 0 ? RCPT_WEAK : RCPT_LABEL;
			l += ll;
		}
	}
	bounce_find_addr(p, (size_t)(e - p), addr, size);
	if (colon_tail(p, e, addr))
		return RCPT_LABEL;
	/* sendmail style: "<a@b>... User unknown" after the codes, or old
	 * Sendmail's bare "553 a@b... Domain of sender address ..." */
	const char *ab = strstr(p, addr);
	size_t al = strlen(addr);
	if (ab && ab < e && ab > p && ab[-1] == '<' && ab + al + 4 <= e &&
	    strncmp(ab + al, ">...", 4) == 0)
		return RCPT_LABEL;
	if (ab && ab < e && ab > p && ab[-1] == ' ' && ab + al + 3 <= e &&
	    strncmp(ab + al, "...", 3) == 0 && codes_only(p, ab))
		return RCPT_LABEL;
	return RCPT_NONE;
}

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

/* positive_reply - a transcript line quoting a reply that accepted
 * ("<-- 250 2.1.0 Ok" in MDaemon's, "<<< 354 Go ahead" in Sendmail's):
 * a step that went well says nothing of why the mail failed, and its
 * 2.x.x code must not become the record's status */
static bool positive_reply(const char *s, size_t len)
{
	size_t scan = len < 48 ? len : 48; /* a timestamp may come first */

	for (size_t i = 0; i + 3 <= scan; i++) {
		if (s[i] != '<' ||
		    !((s[i + 1] == '-' && s[i + 2] == '-') || (s[i + 1] == '<' && s[i + 2] == '<')))
			continue;
		size_t c = i + 3;
		while (c < len && s[c] == ' ')
			c++;
		return c + 3 <= len && (s[c] == '2' || s[c] == '3') &&
		       isdigit((unsigned char)s[c + 1]) && isdigit((unsigned char)s[c + 2]);
	}
	return false;
}

/* divider - a template's own divider line ("----- Transcript of session
 * follows -----", "----- Non-delivered information -----", or the dashes
 * left of one whose words end the report): it labels what comes next and
 * is none of the remote's words */
static bool divider(const char *s, size_t len)
{
	size_t dashes = 0;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	while (dashes < len && s[dashes] == '-')
		dashes++;
	if (dashes == len)
		return len >= 3;
	return len >= 10 && !memchr(s, '\n', len) && dashes >= 5 &&
	       strncmp(s + len - 5, "-----", 5) == 0;
}

/* Labels a notice puts before the remote's words ("Reason: ...", Domino's
 * "because: ...", 1&1's "For the following reason: ..."), dropped from the
 * start of a diagnostic; lower case */
static const char *const diag_labels[] = {"for the following reason:", "reason:", "because:",
                                          NULL};

static void drop_label(char *d)
{
	for (size_t i = 0; diag_labels[i]; i++) {
		size_t n = strlen(diag_labels[i]);

		if (strncasecmp(d, diag_labels[i], n) == 0 && d[n] == ' ' && d[n + 1]) {
			memmove(d, d + n + 1, strlen(d + n + 1) + 1);
			return;
		}
	}
}

/* admin_line - Exchange's line for administrators, "#550 5.1.1
 * RESOLVER.ADR.RecipNotFound; not found ##", is the remote's or the
 * directory's own words, in every language the notice is written in;
 * when d holds one, d becomes it (with its marks), the sentences for
 * people around it dropped */
static void admin_line(char *d)
{
	for (char *p = strchr(d, '#'); p; p = strchr(p + 1, '#')) {
		if (!(p[1] == '4' || p[1] == '5') || !isdigit((unsigned char)p[2]) ||
		    !isdigit((unsigned char)p[3]) || p[4] != ' ')
			continue;
		char *e = strstr(p + 5, "##");
		if (!e)
			return;
		size_t n = (size_t)(e + 2 - p);
		memmove(d, p, n);
		d[n] = '\0';
		return;
	}
}

/* Sentences after which a notice quotes the remote's reply (Gmail: "The
 * response was:", "The response from the remote server was:", "The
 * error that the other server returned was:"): what comes before them
 * is the notice's own framing ("Your message to a@b has been blocked"),
 * whose words must not decide the reason */
static const char *const response_intros[] = {
    "The response was:",
    "The response from the remote server was:",
    "The error that the other server returned was:",
    NULL,
};

/* response_tail - d becomes the remote's reply after a response intro,
 * when it holds one followed by words */
static void response_tail(char *d)
{
	for (size_t i = 0; response_intros[i]; i++) {
		char *p = strstr(d, response_intros[i]);
		if (!p)
			continue;
		p += strlen(response_intros[i]);
		while (*p == ' ')
			p++;
		if (*p)
			memmove(d, p, strlen(p) + 1);
		return;
	}
}

/* diag_append - add one report line to a record's diagnostic. The text
 * already held is folded, so only the new line is: folding the whole
 * each time would make a long report quadratic. */
static void diag_append(struct bounce_record *rec, const char *s, size_t len)
{
	struct buf b = {0};
	size_t old = rec->diagnostic_code ? strlen(rec->diagnostic_code) : 0;
	char *line;

	if (old >= 4000 || positive_reply(s, len) || divider(s, len))
		return;
	if (old + len > 4000)
		len = 4000 - old;
	line = xstrndup(s, len);
	bounce_fold(line);
	if (line[0]) {
		if (old) {
			buf_append(&b, rec->diagnostic_code, old);
			buf_putc(&b, ' ');
		}
		buf_puts(&b, line);
		free(rec->diagnostic_code);
		rec->diagnostic_code = buf_steal(&b);
	}
	free(line);
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
 * (OpenSMTPD's delay notice) */
static const char *const list_closers[] = {
    "Please note that this is only a temporary failure report",
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

/* is_own_line - "<a@b>:" alone: qmail's recipient line, which names the
 * recipient even when it is also the address the notice went to */
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
	size_t al = strlen(addr), i = 0;
	bool bracket;

	while (i < l && (p[i] == ' ' || p[i] == '\t'))
		i++;
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

/* Sendmail transcripts (RFC 5321 dialogue quoted line by line) group the
 * remote's replies by host: "While talking to mx.example.org:" opens a
 * block of ">>> COMMAND" / "<<< reply" lines, and "550 host (smtp)...
 * Host unknown" reports a whole host. Such a block is about the
 * recipient line that FOLLOWS it ("554 <a@b>... Remote protocol
 * error"), not the one before, when several recipients share one
 * report (old Sendmail 5). */
enum block_kind { BLOCK_NONE, BLOCK_TALK, BLOCK_HOST };

static enum block_kind block_start(const char *p, size_t l)
{
	const char *e = p + l, *q;

	while (p < e && (*p == ' ' || *p == '.'))
		p++;
	if ((size_t)(e - p) >= 17 && strncasecmp(p, "while talking to ", 17) == 0)
		return BLOCK_TALK;
	/* "NNN host (mailer)... text": a reply code, a host, a mailer */
	if ((size_t)(e - p) < 8 || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || p[3] != ' ')
		return BLOCK_NONE;
	q = memchr(p + 4, ' ', (size_t)(e - p - 4));
	if (!q || q + 1 >= e || q[1] != '(' || memchr(p + 4, '@', (size_t)(q - p - 4)))
		return BLOCK_NONE;
	q = memchr(q, ')', (size_t)(e - q));
	return q && (size_t)(e - q) >= 4 && strncmp(q, ")...", 4) == 0 ? BLOCK_HOST : BLOCK_NONE;
}

/* text_scan - read recipients and their diagnostics off the report text;
 * *first_line is where the first recipient line starts (end when none) */
static size_t text_scan(const struct bounce_doc *doc, const char *agent, struct bounce_result *res,
                        const char *sender, size_t *first_line)
{
	const char *text = doc->text.data;
	size_t end = doc->rend, first = res->n;
	struct bounce_record *cur = NULL, *last = NULL;
	char addr[BOUNCE_ADDR_MAX];
	const char *p = text, *stop = text + end;
	unsigned char how[64]; /* strongest naming per record (first 64) */
	bool any_strong = false, skip_next = false;
	bool transcript = strcmp(agent, "Sendmail") == 0;
	struct buf pending = {0}; /* a transcript block waiting for its recipient */
	enum block_kind pending_kind = BLOCK_NONE;
	struct addrindex ix = {0}; /* res->recs[first..] by address */

	*first_line = end;
	while (p < stop) {
		const char *e = memchr(p, '\n', (size_t)(stop - p));
		size_t l = e ? (size_t)(e - p) : (size_t)(stop - p);
		enum rcpt_how h = rcpt_on_line(p, l, addr, sizeof(addr));
		enum block_kind k = transcript && h == RCPT_NONE ? block_start(p, l) : BLOCK_NONE;

		if (k == BLOCK_TALK || (k == BLOCK_HOST && pending_kind != BLOCK_TALK)) {
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
		if (pending_kind != BLOCK_NONE &&
		    (h == RCPT_NONE ||
		     (strcasecmp(addr, sender) == 0 && !is_own_line(p, l, addr)))) {
			buf_append(&pending, p, l);
			buf_putc(&pending, '\n');
			p = e ? e + 1 : stop;
			continue;
		}

		if (sender_intro(p, l)) {
			skip_next = true;
		} else if (skip_next && h != RCPT_NONE) {
			skip_next = false;
			p = e ? e + 1 : stop;
			continue;
		}

		if (h != RCPT_NONE && (strcasecmp(addr, sender) != 0 || is_own_line(p, l, addr))) {
			struct bounce_record *r = rec_index_find(&ix, res, addr);
			if (!r) {
				r = bounce_record_add(res);
				util_strlcpy(r->recipient, addr, sizeof(r->recipient));
				rec_index_put(&ix, res, res->n - 1);
				r->smtp_agent = agent;
				if (r - res->recs - (ptrdiff_t)first < 64)
					how[r - res->recs - (ptrdiff_t)first] = (unsigned char)h;
			} else if (r - res->recs - (ptrdiff_t)first < 64 &&
			           how[r - res->recs - (ptrdiff_t)first] < h) {
				how[r - res->recs - (ptrdiff_t)first] = (unsigned char)h;
			}
			if (h != RCPT_WEAK)
				any_strong = true;
			if ((size_t)(p - text) < *first_line)
				*first_line = (size_t)(p - text);
			cur = r;
			if (pending.len)
				diag_append(cur, pending.data, pending.len);
			buf_free(&pending);
			pending_kind = BLOCK_NONE;
		}
		if (cur && h == RCPT_NONE && list_closer(p, l))
			cur = NULL;
		/* the address that opens the record's text is not part of
		 * its diagnostic (one inside it is: Exim folds "RCPT TO:\n
		 * <a@b>:" there) */
		if (cur) {
			size_t lead = h != RCPT_NONE && !cur->diagnostic_code
			                  ? address_lead(p, l, addr)
			                  : 0;
			diag_append(cur, p + lead, l - lead);
		}
		p = e ? e + 1 : stop;
	}
	/* a transcript after the list of recipients (Sendmail's usual
	 * layout) is the last recipient's; a host's own deferral line
	 * left over names no failed recipient */
	if (pending_kind == BLOCK_TALK && pending.len && (cur || last))
		diag_append(cur ? cur : last, pending.data, pending.len);
	buf_free(&pending);
	addrindex_free(&ix);
	/* a "To:" summary line counts only when nothing else names a
	 * recipient: Exchange's "Your message To: x ... did not reach y" */
	for (size_t i = first; any_strong && i < res->n && i - first < 64;) {
		if (how[i - first] == RCPT_WEAK) {
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
 * retried (RFC 3464 2.3.3 action "delayed") */
static const char *const delay_phrases[] = {
    "THIS IS A WARNING MESSAGE ONLY",
    "Message will be retried for",
    "This is a warning only",
    "has not yet been delivered",
    "will be retried",
    "will keep trying",
    "this is only a temporary failure report", /* OpenSMTPD */
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
	char sender[BOUNCE_ADDR_MAX] = "", to[1024] = "";
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
	if (bounce_header(doc->hdr.data, "To", to, sizeof(to)))
		bounce_find_addr(to, strlen(to), sender, sizeof(sender));
	size_t first_line;
	text_scan(doc, agent, &tmp, sender, &first_line);
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

/* has_word - p[0..e) holds a letter: a reply with words, not a number */
static bool has_word(const char *p, const char *e)
{
	for (; p < e; p++)
		if (isalpha((unsigned char)*p))
			return true;
	return false;
}

/* preamble_reply - a remote reply quoted once above the list of
 * recipients, which is the cause for all of them (MailMarshal "Could not
 * be delivered because of\n550 5.1.1 User unknown\nThe following
 * recipients were affected:", James "Error message below:\n550 - ..."):
 * the first line of text[0..end) that opens with an RFC 5321 reply code
 * ("550 ", "550-") and says something after it. */
static bool preamble_reply(const char *text, size_t end, char *out, size_t size)
{
	const char *p = text, *stop = text + end;

	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *e = nl ? nl : stop;
		const char *q = p;

		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		/* a Sendmail host line ("421 host (smtp)... Deferred") is
		 * about that host only */
		if (e - q > 6 && block_start(q, (size_t)(e - q)) == BLOCK_NONE &&
		    (q[0] == '4' || q[0] == '5') && isdigit((unsigned char)q[1]) &&
		    isdigit((unsigned char)q[2]) && (q[3] == ' ' || q[3] == '-') &&
		    has_word(q + 4, e)) {
			size_t l = (size_t)(e - q);
			if (l >= size)
				l = size - 1;
			memcpy(out, q, l);
			out[l] = '\0';
			bounce_fold(out);
			return true;
		}
		p = e + 1;
	}
	return false;
}

/* Rules under which a notice states the cause once, in words of its own
 * with no reply code, above the addresses it concerns (Lotus Notes:
 * "------- Failure Reasons  --------", then "User not listed in public
 * Name & Address Book", then the addresses) */
static const char *const cause_rules[] = {"------- Failure Reasons", NULL};

/* preamble_cause - the text between a cause rule and the first
 * recipient line (text[0..end)), folded into out; false when none */
static bool preamble_cause(const char *text, size_t end, char *out, size_t size)
{
	for (size_t i = 0; cause_rules[i]; i++) {
		const char *m = strstr(text, cause_rules[i]);
		if (!m || (size_t)(m - text) >= end)
			continue;
		const char *p = strchr(m, '\n');
		if (!p)
			return false;
		p++;
		size_t l = end - (size_t)(p - text);
		if (l >= size)
			l = size - 1;
		memcpy(out, p, l);
		out[l] = '\0';
		bounce_fold(out);
		return out[0] != '\0';
	}
	return false;
}

/* Labels some notices put before the remote's reply code, where it does
 * not stand alone as RFC 5321 writes it (Zoho: "Error, ERROR_CODE :421,
 * ERROR_CODE :, Host not reachable.") */
static const char *const replycode_labels[] = {"ERROR_CODE :", NULL};

static void labelled_replycode(const char *d, char *out, size_t size)
{
	for (size_t i = 0; replycode_labels[i]; i++) {
		const char *p = strstr(d, replycode_labels[i]);
		if (!p)
			continue;
		p += strlen(replycode_labels[i]);
		if ((p[0] == '4' || p[0] == '5') && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) && !isdigit((unsigned char)p[3]) && size > 3) {
			memcpy(out, p, 3);
			out[3] = '\0';
			return;
		}
	}
}

size_t bounce_family_parse(const struct bounce_doc *doc, const char *agent,
                           struct bounce_result *res)
{
	char sender[BOUNCE_ADDR_MAX] = "", to[1024] = "", failed[4096];
	size_t first = res->n, n;

	if (bounce_header(doc->hdr.data, "To", to, sizeof(to)))
		bounce_find_addr(to, strlen(to), sender, sizeof(sender));
	size_t first_line;
	n = text_scan(doc, agent, res, sender, &first_line);
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
		    strcasecmp(addr, sender)) {
			struct bounce_record *r = bounce_record_add(res);
			util_strlcpy(r->recipient, addr, sizeof(r->recipient));
			r->smtp_agent = agent;
			bounce_record_set_diag(r, doc->text.data, doc->rend);
			n++;
		}
	}
	bool delayed = false;
	for (size_t i = 0; delay_phrases[i]; i++)
		if (strstr(doc->text.data, delay_phrases[i]))
			delayed = true;
	char shared[512];
	bool have_shared = preamble_reply(doc->text.data, first_line, shared, sizeof(shared)) ||
	                   preamble_cause(doc->text.data, first_line, shared, sizeof(shared));
	for (size_t i = first; i < res->n; i++) {
		struct bounce_record *r = &res->recs[i];
		if (delayed && !r->action[0])
			util_strlcpy(r->action, "delayed", sizeof(r->action));
		if (have_shared &&
		    (!r->diagnostic_code ||
		     !bounce_find_status(r->diagnostic_code, r->status, sizeof(r->status)))) {
			/* the cause stated once above the list of recipients
			 * is theirs, before their own lines */
			struct buf b = {0};
			buf_puts(&b, shared);
			if (r->diagnostic_code) {
				buf_putc(&b, ' ');
				buf_puts(&b, r->diagnostic_code);
			}
			free(r->diagnostic_code);
			r->diagnostic_code = buf_steal(&b);
		}
		if (r->diagnostic_code) {
			drop_label(r->diagnostic_code);
			admin_line(r->diagnostic_code);
			response_tail(r->diagnostic_code);
			bounce_find_status(r->diagnostic_code, r->status, sizeof(r->status));
			if (!bounce_find_replycode(r->diagnostic_code, r->replycode,
			                           sizeof(r->replycode)))
				labelled_replycode(r->diagnostic_code, r->replycode,
				                   sizeof(r->replycode));
		}
		r->rule = agent;
	}
	return n;
}
