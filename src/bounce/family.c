/*
 * family.c - bounces that carry no RFC 3464 report: recognise the MTA
 * family that wrote the text, then find the failed recipients and the
 * remote's words in it.
 *
 * Data-driven: family_sigs[] says which header or body words identify a
 * family (read off real bounces of each MTA); end_markers[] says where the
 * report text stops and the returned message begins; rcpt_labels[] lists
 * the words that introduce a recipient inside a sentence. One reader
 * (text_scan) serves every family: a recipient is an address that opens
 * a line (qmail "<a@b>:", Exim "  a@b", Gmail, Exchange "a@b<mailto:a@b>")
 * or follows one of the labels; its diagnostic is the text up to the next
 * recipient. Exim's X-Failed-Recipients header (a list) is used as is.
 *
 * Fails soft: no family, or no recipient found, means no record.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/internal.h"

enum sig_where { SIG_BODY, SIG_FROM, SIG_SUBJECT };

static const struct family_sig {
	const char *agent;
	enum sig_where where;
	const char *needle;
} family_sigs[] = {
	{"qmail", SIG_BODY, "This is the qmail-send program"},
	{"qmail", SIG_BODY, "I'm afraid I wasn't able to deliver your message"},
	{"Yahoo", SIG_BODY, "Sorry, we were unable to deliver your message"},
	{"Postfix", SIG_BODY, "This is the mail system at host"},
	{"Postfix", SIG_BODY, "This is the Postfix program at host"},
	{"Exim", SIG_BODY, "This message was created automatically by mail delivery software"},
	{"Exim", SIG_BODY, "This message was created automatically by the SMTP relay"},
	{"Exim", SIG_BODY, "could not be delivered to one or more of its"},
	{"Sendmail", SIG_BODY, "----- Transcript of session follows -----"},
	{"Sendmail", SIG_BODY, "The following addresses had permanent fatal errors"},
	{"Office365", SIG_BODY, "Delivery has failed to these recipients"},
	{"Exchange2007", SIG_BODY, "chec de la remise pour ces destinataires"},
	{"Exchange2003", SIG_BODY, "did not reach some or all of the intended recipients"},
	{"Exchange2003", SIG_SUBJECT, "Undeliverable:"},
	{"Gmail", SIG_BODY, "Delivery to the following recipient failed"},
	{"Gmail", SIG_BODY, "Delivery to the following recipients failed"},
	{"GSuite", SIG_BODY, "Your message wasn't delivered to"},
	{"GSuite", SIG_BODY, "There was a problem delivering your message to"},
	{"GSuite", SIG_BODY, "There was a temporary problem delivering your message to"},
	{"Gmail", SIG_BODY, "THIS IS A WARNING MESSAGE ONLY"},
	{"GoogleGroups", SIG_BODY, "the group you tried to contact"},
	{"AmazonSES", SIG_BODY, "An error occurred while trying to deliver the mail to the following recipients"},
	{"AmazonSES", SIG_BODY, "was undeliverable."},
	{"AmazonSES", SIG_BODY, "\"notificationType\""},
	{"DragonFly", SIG_BODY, "This is the DragonFly Mail Agent"},
	{"OpenSMTPD", SIG_BODY, "This is the MAILER-DAEMON, please DO NOT REPLY"},
	{"OpenSMTPD", SIG_BODY, "Hi!\n\nThis is the MAILER-DAEMON"},
	{"Domino", SIG_BODY, "was not delivered to:"},
	{"Courier", SIG_BODY, "running the Courier mail server"},
	{"Barracuda", SIG_BODY, "was blocked by our Spam"},
	{"Facebook", SIG_BODY, "This message was created automatically by Facebook"},
	{"Amavis", SIG_BODY, "The message WAS NOT relayed to"},
	{"Amavis", SIG_BODY, "was considered unsolicited bulk e-mail"},
	{"FML", SIG_BODY, "You are not a member of this mailing list"},
	{"MailRu", SIG_FROM, "mailer-daemon@corp.mail.ru"},
	{"MailRu", SIG_FROM, "@mail.ru"},
	{"Yandex", SIG_FROM, "@yandex"},
	{"Zoho", SIG_FROM, "@zoho"},
	{"mFILTER", SIG_BODY, "mFILTER"},
	{"IMailServer", SIG_SUBJECT, "Undeliverable Mail"},
	{"EZweb", SIG_FROM, "@ezweb.ne.jp"},
	{"KDDI", SIG_FROM, "@ezweb.ne.jp"},
	{"Biglobe", SIG_FROM, "@biglobe.ne.jp"},
	{"Verizon", SIG_FROM, "@vtext.com"},
	{"Activehunter", SIG_BODY, "The following addresses had permanent fatal errors"},
	{"Sendmail", SIG_BODY, "The original message was received at"},
	{"MessagingServer", SIG_BODY, "This report relates to a message you sent"},
	{"InterScanMSS", SIG_SUBJECT, "Mail could not be delivered"},
	{"X", SIG_BODY, "This is a delivery failure notification message"},
	{"X", SIG_BODY, "Your message to: "},
	{"X", SIG_BODY, "could not be delivered"},
	{"X", SIG_BODY, "was not delivered"},
	{"X", SIG_BODY, "delivery failed"},
	{"X", SIG_BODY, "Delivery failed"},
	{"X", SIG_BODY, "undeliverable"},
	{"X", SIG_BODY, "Undeliverable"},
};

/* Subjects that, with a From of MAILER-DAEMON/postmaster, mark a bounce
 * even when no family signature matched. */
static const char *const bounce_subjects[] = {
	"undeliver", "delivery status notification", "failure notice", "returned mail",
	"mail delivery failed", "delivery failure", "non-delivery", "nondeliverable",
	"mail system error", "delivery problem", "could not be delivered", NULL,
};

/* Lines where the report ends and the returned message starts. */
static const char *const end_markers[] = {
	"--- Below this line is a copy of the message",
	"----- Original message -----",
	"------ This is a copy of the message",
	"------ This is a copy of your message",
	"----- Original Message -----",
	"--- The header of the original message is following",
	"------ The header of the original message is following",
	"Original message follows",
	"----- The following is a copy of your message",
	"Below is a copy of the original message",
	"------=_Part", /* returned message in an unparsed MIME body */
	"Content-Type: message/rfc822",
	"----- Unsent message follows -----",
	"   ----- Original message headers",
	"------ Original Message Headers",
	"------ Original message headers",
	"Original message headers:",
	"Received: from",
	"Return-Path: <",
	NULL,
};

/* Words that put a recipient address inside a sentence. */
static const char *const rcpt_labels[] = {
	"RCPT To:", "RCPT TO:", "rcpt to:", "To:", "to: ", "recipient:", "Recipient:",
	"Recipient address:", "address:", "email address :", "delivering your mail to <",
	"delivering your message to ", "wasn't delivered to ", "The following message to <",
	"Your message to: ", "Original-Recipient:", "Failed recipient", "Recipient address: ",
	"<mailto:", "-> ", NULL,
};

static bool from_daemon(const char *from)
{
	return bounce_casestr(from, "mailer-daemon") || bounce_casestr(from, "postmaster") ||
	       bounce_casestr(from, "mail delivery") || bounce_casestr(from, "mailer_daemon") ||
	       bounce_casestr(from, "post_master");
}

const char *bounce_family_detect(const struct bounce_doc *doc)
{
	char from[512] = "", subj[512] = "";

	bounce_header(doc->hdr.data, "From", from, sizeof(from));
	bounce_header(doc->hdr.data, "Subject", subj, sizeof(subj));
	for (size_t i = 0; i < sizeof(family_sigs) / sizeof(family_sigs[0]); i++) {
		const struct family_sig *s = &family_sigs[i];
		const char *hay = s->where == SIG_BODY ? doc->text.data
				  : s->where == SIG_FROM ? from : subj;
		if (strstr(hay, s->needle) || (s->where != SIG_BODY && bounce_casestr(hay, s->needle))) {
			/* the loose "X" sentences only count from a daemon */
			if (strcmp(s->agent, "X") == 0 && !from_daemon(from))
				continue;
			return s->agent;
		}
	}
	if (from_daemon(from))
		for (size_t i = 0; bounce_subjects[i]; i++)
			if (bounce_casestr(subj, bounce_subjects[i]))
				return "X";
	return NULL;
}

/* report_end - where the report text stops */
static size_t report_end(const char *text)
{
	size_t end = strlen(text);

	for (size_t i = 0; end_markers[i]; i++) {
		const char *m = strstr(text, end_markers[i]);
		/* a marker counts at a line start only */
		while (m && m != text && m[-1] != '\n' && m[-1] != ' ')
			m = strstr(m + 1, end_markers[i]);
		if (m && (size_t)(m - text) < end && m != text)
			end = (size_t)(m - text);
	}
	return end;
}

/* rcpt_on_line - the recipient a line names, if it names one */
static bool rcpt_on_line(const char *line, size_t len, char *addr, size_t size)
{
	const char *p = line, *e = line + len;
	const char *after;

	while (p < e && (*p == ' ' || *p == '\t' || *p == '*' || *p == '>'))
		p++;
	/* an address opening the line, maybe in <> or quotes */
	after = bounce_find_addr(p, (size_t)(e - p), addr, size);
	if (!after)
		return false;
	const char *at = strchr(addr, '@');
	size_t off = (size_t)(after - p) - strlen(addr);
	(void)at;
	if (off <= 2)
		return true;
	/* or following a label */
	for (size_t i = 0; rcpt_labels[i]; i++) {
		size_t ll = strlen(rcpt_labels[i]);
		const char *l = line;
		while ((l = strstr(l, rcpt_labels[i])) != NULL && l < e) {
			const char *q = l + ll;
			while (q < e && (*q == ' ' || *q == '\t' || *q == '<' || *q == '"'))
				q++;
			if (q < e && bounce_find_addr(q, (size_t)(e - q), addr, size) &&
			    strncmp(q, addr, strlen(addr)) == 0)
				return true;
			l += ll;
		}
	}
	/* sendmail style: "<a@b>... User unknown" after the codes */
	bounce_find_addr(p, (size_t)(e - p), addr, size);
	const char *ab = strstr(p, addr);
	if (ab && ab > p && ab[-1] == '<' && ab + strlen(addr) + 4 <= e &&
	    strncmp(ab + strlen(addr), ">...", 4) == 0)
		return true;
	return false;
}

static struct bounce_record *find_rec(struct bounce_result *res, size_t first, const char *addr)
{
	for (size_t i = first; i < res->n; i++)
		if (strcasecmp(res->recs[i].recipient, addr) == 0)
			return &res->recs[i];
	return NULL;
}

static void diag_append(struct bounce_record *rec, const char *s, size_t len)
{
	struct buf b = {0};

	if (rec->diagnostic_code)
		buf_puts(&b, rec->diagnostic_code);
	if (b.len + len > 4000)
		len = b.len >= 4000 ? 0 : 4000 - b.len;
	buf_putc(&b, ' ');
	buf_append(&b, s, len);
	free(rec->diagnostic_code);
	rec->diagnostic_code = buf_steal(&b);
	bounce_fold(rec->diagnostic_code);
}

/* text_scan - read recipients and their diagnostics off the report text */
static size_t text_scan(const struct bounce_doc *doc, const char *agent,
			struct bounce_result *res, const char *sender)
{
	const char *text = doc->text.data;
	size_t end = report_end(text), first = res->n;
	struct bounce_record *cur = NULL;
	char addr[BOUNCE_ADDR_MAX];
	const char *p = text, *stop = text + end;

	while (p < stop) {
		const char *e = memchr(p, '\n', (size_t)(stop - p));
		size_t l = e ? (size_t)(e - p) : (size_t)(stop - p);

		if (rcpt_on_line(p, l, addr, sizeof(addr)) && strcasecmp(addr, sender) != 0) {
			struct bounce_record *r = find_rec(res, first, addr);
			if (!r) {
				r = bounce_record_add(res);
				util_strlcpy(r->recipient, addr, sizeof(r->recipient));
				r->smtp_agent = agent;
			}
			cur = r;
		}
		if (cur)
			diag_append(cur, p, l);
		p = e ? e + 1 : stop;
	}
	return res->n - first;
}

size_t bounce_family_parse(const struct bounce_doc *doc, const char *agent,
			   struct bounce_result *res)
{
	char sender[BOUNCE_ADDR_MAX] = "", to[1024] = "", failed[4096];
	size_t first = res->n, n;

	if (bounce_header(doc->hdr.data, "To", to, sizeof(to)))
		bounce_find_addr(to, strlen(to), sender, sizeof(sender));
	n = text_scan(doc, agent, res, sender);
	/* Exim lists the failed addresses in a header of its own */
	if (bounce_header(doc->hdr.data, "X-Failed-Recipients", failed, sizeof(failed))) {
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
	for (size_t i = first; i < res->n; i++) {
		struct bounce_record *r = &res->recs[i];
		if (r->diagnostic_code) {
			bounce_find_status(r->diagnostic_code, r->status, sizeof(r->status));
			bounce_find_replycode(r->diagnostic_code, r->replycode, sizeof(r->replycode));
		}
		r->rule = agent;
	}
	return n;
}
