/*
 * reason.c - decide why delivery failed, from the remote's words first and
 * the RFC 3463 code second, and whether the failure is hard.
 *
 * Order of evidence, first that decides wins:
 *   1. Action delivered/relayed/expanded (RFC 3464 2.3.3) -> delivered;
 *      a verdict the report itself carries (dsn.c: PowerMTA's category);
 *   2. one provider's own meaning of its replies (provider.c), then the
 *      reason-phrase table (phrases.c) over the diagnostic text;
 *   3. the SMTP command the reply answered (RFC 5321 3.3: a refusal of
 *      MAIL FROM is about the sender, of HELO about the client host);
 *   4. the enhanced status code table (status.c, RFC 3463 section 3);
 *   5. a temporary code in a final failure: the sender's MTA gave up
 *      retrying -> expired.
 * Each record keeps the name of the deciding rule for --explain.
 *
 * Hard bounce table (the address itself is bad; retrying never helps):
 * userunknown, hostunknown, hasmoved always; notaccept when the status is
 * permanent (5.x.x: null MX, RFC 7505). Everything else is soft, and
 * feedback, vacation and delivered are not failures at all.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/internal.h"
#include "bounce/phrases.h"

const char *const bounce_reasons[] = {
    "userunknown",   "hostunknown",     "mailboxfull", "exceedlimit",     "mesgtoobig",
    "filtered",      "blocked",         "rejected",    "policyviolation", "spamdetected",
    "virusdetected", "securityerror",   "norelaying",  "notaccept",       "suspend",
    "expired",       "toomanyconn",     "speeding",    "networkerror",    "systemerror",
    "systemfull",    "contenterror",    "hasmoved",    "mailererror",     "syntaxerror",
    "onhold",        "notcompliantrfc", "requireptr",  "authfailure",     "badreputation",
    "vacation",      "feedback",        "delivered",   "undefined",       NULL,
};

bool bounce_is_hard(const char *reason, const char *status)
{
	if (!reason)
		return false;
	if (strcmp(reason, "userunknown") == 0 || strcmp(reason, "hostunknown") == 0 ||
	    strcmp(reason, "hasmoved") == 0)
		return true;
	return strcmp(reason, "notaccept") == 0 && status && status[0] == '5';
}

/* phrase_reason - first phrase of the table found in text (table order is
 * priority order); sets *which to the phrase. text is already lower case
 * (ASCII), so plain strstr, much faster than a case-blind search, works. */
static const char *phrase_reason(const char *text, const char **which, bool weak)
{
	size_t sep = bounce_phrase_weak_start(), lo, hi;
	long i;

	hi = sep;
	lo = 0;
	if (weak) {
		lo = sep + 1;
		hi = lo;
		while (bounce_phrases[hi].phrase && bounce_phrases[hi].reason[0])
			hi++;
	}
	i = bounce_phrase_find(text, lo, hi);
	if (i < 0)
		return NULL;
	*which = bounce_phrases[i].phrase;
	return bounce_phrases[i].reason;
}

/* blank_names - overwrite addresses and URL fragments in a lower-cased
 * diagnostic with spaces: a recipient called "filtered@..." or an anchor
 * "/#filtered" on a help page must not be read as the remote's words. */
static void blank_names(char *s)
{
	for (char *p = s; *p; p++) {
		char *start = NULL, *end = NULL;

		if (*p == '@') {
			start = p;
			/* '[' and ';' cannot be in an address either:
			 * "banned sender[a@b]", a URL's ";id=a@b" keep
			 * the words before them; nor can the CJK words
			 * and brackets a notice writes against it
			 * ("收件人（a@b）邮箱不存在"): blanking stops at a
			 * byte above 0x7f */
			while (start > s && !isspace((unsigned char)start[-1]) &&
			       start[-1] != '<' && start[-1] != '(' && start[-1] != '"' &&
			       start[-1] != ':' && start[-1] != '[' && start[-1] != ';' &&
			       (unsigned char)start[-1] < 0x80)
				start--;
			end = p;
		} else if (*p == '#' && p > s && p[-1] == '/') {
			/* a URL's fragment names a place on a page; the rest
			 * of a URL (a blocklist host, "?c=rdns") is kept as
			 * it often is the reason itself */
			start = end = p;
		}
		if (!start)
			continue;
		/* a ':' cannot be in a domain: "(a@b:blocked)" keeps its verdict */
		while (*end && !isspace((unsigned char)*end) && *end != '>' && *end != ')' &&
		       *end != '"' && (*end != ':' || *p != '@') &&
		       ((unsigned char)*end < 0x80 || *p != '@'))
			end++;
		memset(start, ' ', (size_t)(end - start));
		p = end - 1 < start ? start : end - 1;
		if (!*end)
			break;
	}
}

/* drop_reply_codes - remove the reply code (and enhanced code after it)
 * that a multi-line reply repeats on every line (RFC 5321 4.2.1:
 * "550-5.7.1 Messages with multiple\n550 5.7.1 addresses in From:"),
 * so the remote's sentence reads whole again; runs of spaces left by
 * this and by blank_names become one. */
static void drop_reply_codes(char *s, const char *replycode)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (replycode[0] && r[0] == replycode[0] && strncmp(r, replycode, 3) == 0 &&
		    (r[3] == '-' || r[3] == ' ') && (r == s || r[-1] == ' ')) {
			char *q = r + 4;
			/* an enhanced code right after it goes too */
			if ((*q == '2' || *q == '4' || *q == '5') && q[1] == '.') {
				char *t = q + 2;
				while (isdigit((unsigned char)*t) || *t == '.')
					t++;
				if (*t == ' ' || *t == '\0')
					q = t;
			}
			r = q;
			continue;
		}
		if (*r == ' ' && (w == s || w[-1] == ' ')) {
			r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

/* address_refusal - is a "no such user" reply really about the address?
 * Only when the enhanced code names the address (RFC 3463 X.1.x: bad
 * destination mailbox) or the reply answered RCPT TO (RFC 5321 3.3): the
 * address was judged before any content was seen, or when there is no
 * remote reply at all. The same words in a remote reply with a
 * mailbox-status code (X.2.x), no code, or after DATA come from a
 * recipient-side filter that accepted the address first. */
/* Families whose "unknown user" words are always their own verdict on
 * the address (a gateway or a mail store that looks the recipient up in
 * its own directory), with or without a quoted reply */
static const char *const address_families[] = {"McAfee", "Domino", "IMailServer", "InterScanMSS",
                                               NULL};

/* Phrases that are the receiving system's verdict on the address even
 * when given after DATA: Microsoft's and Domino's directory lookups say
 * so in words (Yahoo's is one provider's rule: provider.c). */
static const char *const address_phrases[] = {
    "wasn't found at the destination domain",
    "wasn\u2019t found at the destination domain",
    "not listed in domino directory",
    "not listed in public name & address book", /* Lotus Notes */
    "ディレクトリのリストにありません",         /* the same, in Japanese */
    /* Exchange Online's Directory Based Edge Blocking (5.4.1), which it
     * gives at RCPT only, whatever the report says of the command */
    "recipient address rejected: access denied",
    NULL,
};

/* The reporting MTA's own sentence, in its text part, that the address
 * was looked up and not found (Google: "wasn't delivered to a@b because
 * the address couldn't be found"): a verdict on the address whatever
 * the quoted reply's command was. Matched case-blind in the report. */
static const char *const address_sentences[] = {
    "because the address couldn't be found",
    "because the address couldn\u2019t be found",
    "wasn't found at the destination domain",
    NULL,
};

/* report_says_address - the report text before the returned message
 * holds one of address_sentences; read once per doc (doc->says_address),
 * as a report naming thousands of recipients asks for each */
static bool report_says_address(struct bounce_doc *doc)
{
	bool hit = false;
	char *low;

	if (!doc || doc->rend == 0)
		return false;
	if (doc->says_address >= 0)
		return doc->says_address == 1;
	low = xstrndup(doc->text.data, doc->rend);
	util_lowercase(low);
	for (size_t i = 0; address_sentences[i] && !hit; i++)
		hit = strstr(low, address_sentences[i]) != NULL;
	free(low);
	doc->says_address = hit;
	return hit;
}

/* report_phrase - the first reason phrase (strong, else weak) in the
 * whole report text, addresses blanked; read once per doc (the same for
 * every record that falls back to it) */
static const char *report_phrase(struct bounce_doc *doc, const char **which)
{
	if (!doc->text_read) {
		char *all = xstrndup(doc->text.data, doc->rend);

		util_lowercase(all);
		blank_names(all);
		if ((doc->text_reason = phrase_reason(all, &doc->text_rule, false)) == NULL)
			doc->text_reason = phrase_reason(all, &doc->text_rule, true);
		free(all);
		doc->text_read = true;
	}
	*which = doc->text_rule;
	return doc->text_reason;
}

/* Codes and words a reporting MTA writes beside its own directory
 * verdict: Exchange 2000/2003 name the failure in hex, 000C05A6 being
 * "unknown recipient" (MSEXCH:IMS lines). Matched case-blind in the
 * diagnostic. */
static const char *const address_codes[] = {
    "(000C05A6)",
    /* Postfix names the lookup table that lacks the address ("User
     * unknown in virtual mailbox table"), its own or a remote
     * Postfix's: a table of addresses, looked up per address */
    "in local recipient table",
    "in virtual mailbox table",
    "in virtual alias table",
    "in relay recipient table",
    NULL,
};

/* Families whose notices state their own routing verdict when no remote
 * answered: Exim's "Unrouteable address" is its routers finding no way
 * to the address, before any remote server is asked */
static const char *const routing_families[] = {"Exim", NULL};

static bool address_refusal(const struct bounce_record *rec)
{
	for (size_t i = 0; address_phrases[i]; i++)
		if (strcmp(rec->rule, address_phrases[i]) == 0)
			return true;
	for (size_t i = 0; address_codes[i] && rec->diagnostic_code; i++)
		if (bounce_casestr(rec->diagnostic_code, address_codes[i]))
			return true;
	if (strcmp(rec->command, "RCPT") == 0)
		return true;
	for (size_t i = 0; address_families[i]; i++)
		if (strcmp(rec->smtp_agent, address_families[i]) == 0)
			return true;
	for (size_t i = 0; routing_families[i] && !rec->replycode[0] && !rec->command[0]; i++)
		if (strcmp(rec->smtp_agent, routing_families[i]) == 0)
			return true;
	if (strcmp(rec->command, "DATA") != 0 && rec->status[0] && rec->status[1] == '.' &&
	    rec->status[2] == '1' && rec->status[3] == '.')
		return true;
	return rec->status[0] && rec->status[1] == '.' && strncmp(rec->status + 2, "1.1", 3) == 0 &&
	       !isdigit((unsigned char)rec->status[5]);
}

/* mailbox_reason - reasons that describe one recipient's mailbox */
static bool mailbox_reason(const char *r)
{
	return strcmp(r, "mailboxfull") == 0 || strcmp(r, "userunknown") == 0 ||
	       strcmp(r, "suspend") == 0 || strcmp(r, "filtered") == 0;
}

/* host_refusal - words of a greeting that refused us (RFC 5321 3.1)
 * that are really about the sending host: before any recipient was
 * named, mailbox words ("relay quota") cannot be about a mailbox, and
 * "No SMTP service" from a server that answers means not from this
 * client (web.de's "554-No SMTP service 554-Reject due to policy
 * restrictions"). RFC 7504's 521 and 556 are a host that takes no mail
 * at all, and stay notaccept. */
static bool host_refusal(const char *r, const char *replycode)
{
	/* nor can a greeting judge a sender, a message or its content
	 * ("554-Reject due to policy restrictions", "Comcast block for
	 * spam"): no sender was named and no message sent yet */
	if (mailbox_reason(r) || strcmp(r, "rejected") == 0 || strcmp(r, "policyviolation") == 0 ||
	    strcmp(r, "spamdetected") == 0)
		return true;
	return strcmp(r, "notaccept") == 0 && strcmp(replycode, "521") != 0 &&
	       strcmp(replycode, "556") != 0;
}

/* sender_refusal - an address verdict ("Domain not found", "User
 * unknown") that is about the sender: the reply answered MAIL (RFC 5321
 * 3.3), as the diagnostic itself says (own_command: a command read from
 * elsewhere in a transcript may be another host's), or its code is RFC
 * 3463 X.1.7 / X.1.8, the sender's mailbox or system address being bad */
static bool sender_refusal(const char *r, const struct bounce_record *rec, bool own_command)
{
	if (strcmp(r, "hostunknown") != 0 && strcmp(r, "userunknown") != 0)
		return false;
	if (own_command && strcmp(rec->command, "MAIL") == 0)
		return true;
	return rec->status[0] && rec->status[1] == '.' &&
	       (strcmp(rec->status + 2, "1.7") == 0 || strcmp(rec->status + 2, "1.8") == 0);
}

/* Words an MTA puts before the reply or error it quotes, which hold a
 * reason phrase of their own: Postfix's "delivery temporarily
 * suspended: <cause>" says the queue stopped trying that host, not that
 * a mailbox is suspended. Blanked before the table is read. */
static const char *const frame_words[] = {"delivery temporarily suspended", NULL};

/* blank_frames - overwrite frame_words in a lower-cased diagnostic */
static void blank_frames(char *s)
{
	for (size_t i = 0; frame_words[i]; i++) {
		char *p = strstr(s, frame_words[i]);
		if (p)
			memset(p, ' ', strlen(frame_words[i]));
	}
}

/* phrase_subject - "X does not exist": when X is a host name (dots, no
 * '@': addresses were blanked before), the host is what is missing */
static const char *phrase_subject(const char *r, const char *which, const char *lower)
{
	const char *at, *w;

	if (strcmp(which, "does not exist") != 0 && strcmp(which, "doesn't exist") != 0)
		return r;
	at = strstr(lower, which);
	if (!at || at == lower || at[-1] != ' ')
		return r;
	w = at - 1;
	while (w > lower && !isspace((unsigned char)w[-1]))
		w--;
	bool dot = false;
	for (const char *q = w; q < at - 1; q++) {
		if (*q == '.')
			dot = true;
		else if (!isalnum((unsigned char)*q) && *q != '-')
			return r;
	}
	/* a dotted name that ends in letters (not "5.1.1" nor a version) */
	return dot && at - 1 > w && isalpha((unsigned char)at[-2]) ? "hostunknown" : r;
}

/* A phrase's reason that the enhanced code narrows (RFC 3463): size
 * words with X.2.3 "message length exceeds administrative limit" are
 * the recipient's limit, not the system's; "policy violation" with
 * X.7.7 "message integrity failure" is a security verdict. */
static const struct {
	const char *phrase_reason, *code, *reason; /* code: "subject.detail" */
} status_narrows[] = {
    {"mesgtoobig", "2.3", "exceedlimit"},
    {"policyviolation", "7.7", "securityerror"},
};

/* narrow_by_status - r, or the reason the status code narrows it to */
static const char *narrow_by_status(const char *r, const char *status)
{
	const char *sd = strchr(status, '.');

	if (!sd)
		return r;
	for (size_t i = 0; i < sizeof(status_narrows) / sizeof(status_narrows[0]); i++)
		if (strcmp(r, status_narrows[i].phrase_reason) == 0 &&
		    strcmp(sd + 1, status_narrows[i].code) == 0)
			return status_narrows[i].reason;
	return r;
}

/* names_mailbox - an RFC 3463 X.1.1 code: the remote named the mailbox
 * itself as bad, which outranks what a family's notices usually mean */
static bool names_mailbox(const char *status)
{
	return status[0] && strncmp(status + 1, ".1.1", 4) == 0 && status[5] == '\0';
}

/* Families whose notices say one thing only, whatever words they use
 * (unless the status code names the mailbox: names_mailbox). */
static const struct {
	const char *agent, *reason;
} family_reasons[] = {
    {"GoogleGroups", "rejected"},  /* not a member / no permission to post */
    {"Barracuda", "spamdetected"}, /* "blocked by our bulk email filter" */
    {"Facebook", "filtered"},      /* refused by the person's preferences */
};

/* The reporting MTA's own words for "gave up: the queue time ran out",
 * beside an X.4.7 Status (matched in the lower-cased diagnostic) */
static const char *const expiry_words[] = {
    "delivery time expired",  "expired", "queue lifetime", "queue_lifetime", "too long in queue",
    "retry timeout exceeded", NULL,
};

/* Words a queue writes only as it drops the message for good. OpenSMTPD
 * sets "Envelope expired" when its expiry (4 days by default) removes the
 * envelope, and some versions send that notice with their delay template
 * ("Action: delayed", "Status: 4.4.7", "only a temporary failure
 * report"): the message is gone all the same, nothing will be retried,
 * so the record is a final failure. */
static const char *const dropped_words[] = {"envelope expired", NULL};

/* Exim's words for an address given up because its retry time ran out
 * ("retry timeout exceeded", "all hosts have been failing for a long
 * time"). Exim fails an address at once on a permanent error, so these
 * mean every attempt met a temporary one. When its notice states no code
 * (the text-only notice, no report part), the record takes the class of
 * those errors, the way Postfix (4.4.1) and Sendmail (4.4.7) state an
 * expiry beside "Action: failed". A Status Exim writes itself is kept,
 * and so is the class of services that send Exim's notice under their
 * own name (Mail.Ru, GMX: doc->provider), whose queues keep their own
 * schedule and report the end of it as final. */
static const char *const retry_timeout_families[] = {"Exim", NULL};
static const char *const retry_timeout_words[] = {
    "retry timeout exceeded",
    "have been failing for a long time",
    /* "... for any host after a long failure period", and in newer
     * Exim "... for any host for 'example.net' after ..." */
    "retry time not reached for any host",
    NULL,
};

/* retry_timeout - rec is a family's "retry time ran out" with no code */
static bool retry_timeout(const struct bounce_record *rec, const struct bounce_doc *doc,
                          const char *lower)
{
	bool family = false;

	if (strcmp(rec->reason, "expired") != 0 || rec->replycode[0] || (doc && doc->provider))
		return false;
	for (size_t i = 0; retry_timeout_families[i] && !family; i++)
		family = strcmp(rec->smtp_agent, retry_timeout_families[i]) == 0;
	for (size_t i = 0; family && retry_timeout_words[i]; i++)
		if (strstr(lower, retry_timeout_words[i]))
			return true;
	return false;
}

/* dropped_for_good - a delayed record whose words say its queue gave up:
 * made the final failure it is (action failed, a permanent class) */
static void dropped_for_good(struct bounce_record *rec, const char *lower)
{
	if (strcmp(rec->reason, "expired") != 0 || strcmp(rec->action, "delayed") != 0)
		return;
	for (size_t i = 0; dropped_words[i]; i++) {
		if (strstr(lower, dropped_words[i])) {
			util_strlcpy(rec->action, "failed", sizeof(rec->action));
			if (rec->status[0] == '4')
				rec->status[0] = '5';
			return;
		}
	}
}

/* A local delivery program's exit status (sysexits.h, BSD's shared
 * convention that Sendmail reports as "X-Unix; 67"): a few name the
 * cause, the rest say only that the program failed. */
static const struct {
	int code;
	const char *reason;
} sysexits[] = {
    {67, "userunknown"}, /* EX_NOUSER: addressee unknown */
    {68, "hostunknown"}, /* EX_NOHOST: host name unknown */
    {77, "systemerror"}, /* EX_NOPERM: permission denied */
    {78, "systemerror"}, /* EX_CONFIG: configuration error */
};

/* sysexit_reason - the reason an x-unix diagnostic's exit status names */
static const char *sysexit_reason(const char *diag)
{
	char *end;
	long code = strtol(diag, &end, 10);

	if (end != diag && (*end == '\0' || isspace((unsigned char)*end)))
		for (size_t i = 0; i < sizeof(sysexits) / sizeof(sysexits[0]); i++)
			if (sysexits[i].code == code)
				return sysexits[i].reason;
	return "mailererror";
}

void bounce_reason_decide(struct bounce_record *rec, struct bounce_doc *doc)
{
	const char *diag = rec->diagnostic_code ? rec->diagnostic_code : "";
	const char *r = NULL, *which = NULL;
	char *lower = xstrdup(diag);

	/* RFC 3463 X.4.7 "delivery time expired" stated by the reporting
	 * MTA, with its words saying so: the queue time ran out, whatever
	 * the last attempt's error was ("...; last error: connect to ...:
	 * Connection refused" names the last try, not the cause of the
	 * failure). Read before refine_status trades 4.4.7 for a quoted
	 * remote code. */
	bool own_expiry = rec->status[0] && strcmp(rec->status + 1, ".4.7") == 0;

	bounce_status_refine(rec);
	util_lowercase(lower);
	if (own_expiry) {
		own_expiry = false;
		for (size_t i = 0; expiry_words[i] && !own_expiry; i++)
			own_expiry = strstr(lower, expiry_words[i]) != NULL;
	}
	bounce_fold(lower); /* the diagnostic is stored folded: a no-op */
	/* the command words hold no address nor reply code: read them
	 * before those are blanked, from the same copy */
	if (!rec->command[0])
		bounce_command_in(lower, rec->command, sizeof(rec->command));
	blank_names(lower);
	blank_frames(lower);
	drop_reply_codes(lower, rec->replycode);
	bool own_command = rec->command[0] != '\0';

	if (!rec->command[0] && doc) {
		/* the report part only: the returned message after it names
		 * the address in its own header fields, never a command */
		bounce_command_near(doc, rec->recipient, rec->command, sizeof(rec->command));
		if (!rec->command[0])
			bounce_command_greeting(doc, rec->command, sizeof(rec->command));
	}
	if (strcmp(rec->reason, "undefined") != 0 && rec->rule[0]) {
		/* a recogniser already decided (feedback, vacation) */
		goto done;
	}
	if (strcmp(rec->action, "delivered") == 0 || strcmp(rec->action, "relayed") == 0 ||
	    strcmp(rec->action, "expanded") == 0) {
		r = "delivered";
		rec->rule = "action";
		goto set;
	}
	if (rec->status[0] == '2') {
		r = "delivered";
		rec->rule = "status 2.x.x";
		goto set;
	}
	if (own_expiry) {
		r = "expired";
		rec->rule = "status X.4.7 with expiry words";
		goto set;
	}
	if ((r = bounce_provider_reason(rec, doc, lower, &rec->rule)) != NULL)
		goto set;
	for (size_t i = 0; i < sizeof(family_reasons) / sizeof(family_reasons[0]); i++)
		if (strcmp(rec->smtp_agent, family_reasons[i].agent) == 0 &&
		    !names_mailbox(rec->status)) {
			r = family_reasons[i].reason;
			rec->rule = "family";
			goto set;
		}
	if ((r = phrase_reason(lower, &which, false)) != NULL) {
		rec->rule = which;
		r = phrase_subject(r, which, lower);
		r = narrow_by_status(r, rec->status);
		if (sender_refusal(r, rec, own_command)) {
			r = "rejected";
			goto set;
		}
		if (strcmp(r, "hostunknown") == 0 && rec->status[0] == '4') {
			/* "NXDOMAIN" under a temporary status: the reporting
			 * MTA itself did not trust the answer for good (a
			 * resolver's hiccup reads the same), so it is DNS
			 * trouble, not a domain known not to exist */
			r = "networkerror";
			goto set;
		}
		if (strcmp(rec->command, "CONN") == 0 && host_refusal(r, rec->replycode)) {
			r = "blocked";
			rec->rule = "refused at connection";
			goto set;
		}
		/* a "no such user" answered after DATA is a content decision
		 * dressed up as an address one (the address was accepted at
		 * RCPT): the recipient's filter refused the message */
		if (strcmp(r, "userunknown") == 0 && !address_refusal(rec) &&
		    !report_says_address(doc))
			r = "filtered";
		goto set;
	}
	if (strcmp(rec->command, "MAIL") == 0) {
		r = "rejected";
		rec->rule = "command MAIL";
		goto set;
	}
	if (strcmp(rec->command, "HELO") == 0 || strcmp(rec->command, "EHLO") == 0 ||
	    strcmp(rec->command, "CONN") == 0) {
		r = "blocked";
		rec->rule = "command HELO";
		goto set;
	}
	if (strcmp(rec->command, "X-UNIX") == 0) {
		/* RFC 3464 2.3.6 diagnostic type x-unix: a local program,
		 * whose exit status (sysexits.h) may name the cause */
		r = sysexit_reason(diag);
		rec->rule = "diagnostic type x-unix";
		goto set;
	}
	if (rec->replycode[0] && rec->status[0] && rec->status[1] == '.' &&
	    (strcmp(rec->status + 2, "4.1") == 0 || strcmp(rec->status + 2, "3.0") == 0)) {
		/* a server that answered cannot mean X.4.1 "no answer from
		 * host", and X.3.0 is "other mail system status": the code
		 * says nothing, the words matched nothing, so the cause is
		 * not known yet (RFC 3463 3.4, 3.5) */
		r = "onhold";
		rec->rule = "remote code without a cause";
		goto set;
	}
	if (rec->status[0] && (r = bounce_status_reason(rec->status)) != NULL) {
		rec->rule = "status";
		goto set;
	}
	if (rec->replycode[0] == '5' && rec->replycode[1] == '0' && rec->replycode[2] >= '0' &&
	    rec->replycode[2] <= '4') {
		/* RFC 5321 4.2.2: 500-504 are syntax and sequence errors */
		r = "syntaxerror";
		rec->rule = "reply code 50x";
		goto set;
	}
	if ((r = phrase_reason(lower, &which, true)) != NULL) {
		rec->rule = which;
		goto set;
	}
	if (rec->status[0] == '4' || (rec->replycode[0] == '4' && !rec->status[0])) {
		if (strcmp(rec->action, "delayed") != 0) {
			r = "expired";
			rec->rule = "temporary code in a final report";
			goto set;
		}
	}
	if (doc && rec->smtp_agent[0] && (doc->nrecs < 2 || !diag[0]) &&
	    ((strcmp(rec->rule, rec->smtp_agent) == 0 && !rec->replycode[0]) ||
	     (!diag[0] && rec->status[0] != '4'))) {
		/* a text bounce whose words sit before the recipient line
		 * ("Error: Invalid user address ... RCPT TO: a@b"): the
		 * report's whole text, when the recipient's own lines say
		 * nothing, or a report record that carries no diagnostic at
		 * all (Exim's "pipe to |..." is only in its text). Not when
		 * its own lines quote a reply: the words elsewhere belong to
		 * other recipients ("550 Host unknown" for the next host).
		 * Nor when its own lines say something and the report names
		 * other recipients: their lines hold their causes (qmail's
		 * "This address no longer accepts mail." under one address
		 * is not the "couldn't find any host" of the next) */
		if ((r = report_phrase(doc, &which)) != NULL) {
			rec->rule = which;
			if (strcmp(r, "userunknown") == 0 && !address_refusal(rec) &&
			    !report_says_address(doc))
				r = "filtered";
			goto set;
		}
	}
	if (strcmp(rec->action, "delayed") == 0) {
		/* still being retried, no cause given: the queue time is
		 * what runs out */
		r = "expired";
		rec->rule = "action delayed";
		goto set;
	}
	r = "undefined";
	rec->rule = "nothing matched";
set:
	rec->reason = r;
done:
	/* RFC 3463 2: a report with no code still has a class */
	if (!rec->status[0] && strcmp(rec->reason, "feedback") != 0 &&
	    strcmp(rec->reason, "vacation") != 0) {
		if (strcmp(rec->reason, "delivered") == 0)
			util_strlcpy(rec->status, "2.0.0", sizeof(rec->status));
		else if (rec->replycode[0] == '4' || strcmp(rec->action, "delayed") == 0 ||
		         retry_timeout(rec, doc, lower))
			util_strlcpy(rec->status, "4.0.0", sizeof(rec->status));
		else
			util_strlcpy(rec->status, "5.0.0", sizeof(rec->status));
	}
	dropped_for_good(rec, lower);
	rec->hardbounce = bounce_is_hard(rec->reason, rec->status);
	free(lower);
}
