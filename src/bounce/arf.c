/*
 * arf.c - feedback reports (RFC 5965, multipart/report with
 * report-type=feedback-report) and automatic replies (RFC 3834).
 *
 * A feedback report is a complaint, not a delivery failure: each reported
 * recipient gets reason "feedback" and the report's Feedback-Type (RFC 5965
 * 3.1: abuse, fraud, virus, other, not-spam, auth-failure (RFC 6591),
 * opt-out ...). The recipients are the Original-Rcpt-To fields (3.2,
 * repeatable), else Removal-Recipient, else the To: of the returned
 * message. The text for people (first part) becomes the diagnostic.
 *
 * An automatic reply (Auto-Submitted: auto-replied, RFC 3834 section 5, or
 * an out-of-office subject) from a person gives one "vacation" record for
 * the address that answered. Replies from postmaster or MAILER-DAEMON are
 * left to the bounce recognisers: those are failure notices.
 */
#include <string.h>

#include "bounce/internal.h"

/* the recipient of a complaint that names none */
#define ARF_UNDISCLOSED "undisclosed-recipient-in-headers@libsisimai.org.invalid"

/* first_line_text - a short diagnostic: the first non-empty lines of text */
static void set_text_diag(struct bounce_record *rec, const char *text)
{
	while (*text == '\n' || *text == ' ')
		text++;
	const char *end = strstr(text, "\n\n");
	size_t l = end ? (size_t)(end - text) : strlen(text);

	if (l > 400)
		l = 400;
	bounce_record_set_diag(rec, text, l);
}

static void add_feedback(struct bounce_result *res, const char *addr, const char *type,
                         const struct bounce_doc *doc)
{
	struct bounce_record *rec = bounce_record_add(res);

	util_strlcpy(rec->recipient, addr, sizeof(rec->recipient));
	util_strlcpy(rec->feedback_type, type, sizeof(rec->feedback_type));
	util_lowercase(rec->feedback_type);
	rec->reason = "feedback";
	rec->rule = "rfc5965 feedback report";
	rec->smtp_agent = "Feedback-Loop";
	set_text_diag(rec, doc->text.data);
}

size_t bounce_arf_parse(const struct bounce_doc *doc, struct bounce_result *res)
{
	char type[64] = "", addr[BOUNCE_ADDR_MAX], val[1024];
	size_t count = 0;
	const char *p = doc->arf.data;

	if (!bounce_header(doc->arf.data, "Feedback-Type", type, sizeof(type)))
		util_strlcpy(type, "other", sizeof(type));
	/* Original-Rcpt-To may repeat: walk every line */
	while (p && *p) {
		if (strncasecmp(p, "Original-Rcpt-To:", 17) == 0 ||
		    strncasecmp(p, "Removal-Recipient:", 18) == 0) {
			const char *e = strchr(p, '\n');
			size_t l = e ? (size_t)(e - p) : strlen(p);
			if (bounce_find_addr(p, l, addr, sizeof(addr))) {
				add_feedback(res, addr, type, doc);
				count++;
			}
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (count == 0 && bounce_header(doc->orig.data, "To", val, sizeof(val)) &&
	    bounce_find_addr(val, strlen(val), addr, sizeof(addr))) {
		add_feedback(res, addr, type, doc);
		count++;
	}
	if (count == 0) {
		/* the complaint still counts when the report hides who made
		 * it ("To: <Undisclosed Recipients>"): one record under a
		 * name in the .invalid TLD (RFC 2606), which no mail reaches
		 * and no suppression list can confuse with a real person;
		 * the name Sisimai uses, so tools that key on it still do */
		add_feedback(res, ARF_UNDISCLOSED, type, doc);
		count++;
	}
	return count;
}

/* bounce_jmrp_parse - Microsoft's junk-mail reporting program sends a
 * complaint without an RFC 5965 report part: the returned message carries
 * the complaining mailbox in X-HmXmrOriginalRecipient. Reported as an
 * abuse complaint, like an ARF report of Feedback-Type abuse. */
size_t bounce_jmrp_parse(const struct bounce_doc *doc, struct bounce_result *res)
{
	char val[1024], addr[BOUNCE_ADDR_MAX];

	if (!bounce_header(doc->orig.data, "X-HmXmrOriginalRecipient", val, sizeof(val)) ||
	    !bounce_find_addr(val, strlen(val), addr, sizeof(addr)))
		return 0;
	add_feedback(res, addr, "abuse", doc);
	return 1;
}

/* subjects of automatic replies, as mail clients and servers word them */
static const char *const autoreply_subjects[] = {
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto-reply",
    "autorespon",
    "auto response",
    "out of office",
    "out of the office",
    "away until",
    "vacation",
    "abwesenheit",
    "absence",
    "auto:",
    "respuesta automática",
    "réponse automatique",
    /* the same subject as Outlook writes it in other languages */
    "automatische antwort",
    "automatisch antwoord",
    "risposta automatica",
    "resposta automática",
    "automatiskt svar",
    "automatisk svar",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "автоматический ответ",
    "自動応答",
    "自动回复",
    NULL,
};

static bool from_daemon(const char *from)
{
	return bounce_casestr(from, "mailer-daemon") || bounce_casestr(from, "postmaster") ||
	       bounce_casestr(from, "mail delivery");
}

size_t bounce_autoreply_parse(const struct bounce_doc *doc, struct bounce_result *res)
{
	char from[1024] = "", subj[1024] = "", as[128] = "", addr[BOUNCE_ADDR_MAX];
	bool auto_reply = false;
	struct bounce_record *rec;

	bounce_header(doc->hdr.data, "From", from, sizeof(from));
	bounce_header(doc->hdr.data, "Subject", subj, sizeof(subj));
	if (from_daemon(from))
		return 0;
	/* RFC 3834 5.1: auto-replied marks a reply made by a program */
	if (bounce_header(doc->hdr.data, "Auto-Submitted", as, sizeof(as)) &&
	    bounce_casestr(as, "auto-replied"))
		auto_reply = true;
	for (size_t i = 0; !auto_reply && autoreply_subjects[i]; i++)
		if (bounce_casestr(subj, autoreply_subjects[i]))
			auto_reply = true;
	if (!auto_reply || !bounce_find_addr(from, strlen(from), addr, sizeof(addr)))
		return 0;
	rec = bounce_record_add(res);
	util_strlcpy(rec->recipient, addr, sizeof(rec->recipient));
	rec->reason = "vacation";
	rec->rule = "rfc3834 automatic reply";
	rec->smtp_agent = "RFC3834";
	set_text_diag(rec, doc->text.data);
	return 1;
}
