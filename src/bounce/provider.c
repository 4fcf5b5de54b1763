/*
 * provider.c - what one mail provider's own replies mean, where they mean
 * something other than the same words from anyone else.
 *
 * Most reasons come from words any server uses ("user unknown", "mailbox
 * full"): phrases.c. A few providers use those words, or codes of their
 * own, with a meaning of their own: KDDI's au answers "550 : User unknown"
 * with the address left out when the recipient's own reception filter
 * refused the sender, and with the address when the mailbox is missing.
 * Such meanings hold only for that provider, so each rule here names the
 * provider by the host that answered (RFC 3464 2.3.5 Remote-MTA, or the
 * host a transcript names), by the recipient's domain, or by the family
 * of the notice (the provider wrote it itself).
 *
 * A rule decides before the phrase table; a rule that does not match
 * leaves the generic order (reason.c) untouched.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "bounce/internal.h"

struct provider_rule {
	const char *provider;   /* the rule's name in --explain */
	const char *hosts[3];   /* answering-host suffixes (NULL ends) */
	const char *domains[3]; /* recipient-domain suffixes (NULL ends) */
	const char *agent;      /* family or service that wrote the notice, or NULL */
	const char *words;      /* words in the diagnostic (case-blind), NULL: any */
	const char *reply;      /* the reply code it must carry, or NULL */
	bool bare_status;       /* only when the status says nothing (X.0.0, none) */
	const char *reason;
};

static const struct provider_rule provider_rules[] = {
    /* KDDI au (ezweb.ne.jp, au.com): the address left out of the reply
     * marks the recipient's reception filter; with the address kept,
     * the mailbox does not exist */
    {.provider = "KDDI",
     .hosts = {"ezweb.ne.jp", "au.com"},
     .domains = {"ezweb.ne.jp", "au.com"},
     .words = "550 : user unknown",
     .reason = "filtered"},
    {.provider = "KDDI",
     .hosts = {"ezweb.ne.jp", "au.com"},
     .domains = {"ezweb.ne.jp", "au.com"},
     .words = ">: user unknown",
     .reason = "userunknown"},
    /* NTT Docomo answers "550 Unknown user" whatever the cause; with
     * no code beside it, it is the recipient's reception settings
     * refusing the sender (a code, X.1.1 or X.2.0, says more and is
     * read as usual) */
    {.provider = "NTT Docomo",
     .hosts = {"docomo.ne.jp"},
     .domains = {"docomo.ne.jp"},
     .words = "unknown user",
     .bare_status = true,
     .reason = "rejected"},
    /* Yahoo's present MX hosts check the recipient only after DATA:
     * "dd This user doesn't have a ... account" is their directory's
     * verdict, unless it says the mailbox is disabled ("This mailbox is
     * disabled (554.30)", "This account has been disabled or
     * discontinued"). [TSS04] defers the sender for its volume or complaints. */
    {.provider = "Yahoo",
     .hosts = {"yahoodns.net"},
     .words = "this mailbox is disabled",
     .reason = "suspend"},
    {.provider = "Yahoo",
     .hosts = {"yahoodns.net"},
     .words = "account has been disabled",
     .reason = "suspend"},
    {.provider = "Yahoo",
     .hosts = {"yahoodns.net"},
     .words = "delivery error: dd ",
     .reason = "userunknown"},
    {.provider = "Yahoo", .hosts = {"yahoodns.net"}, .words = "[tss04]", .reason = "rejected"},
    /* Outlook.com (the consumer service: hotmail.com, outlook.com,
     * live.com) gives RFC 5321's own 550 text, with a number in
     * brackets, for an address its directory lacks */
    {.provider = "Outlook.com",
     .hosts = {"hotmail.com", "olc.protection.outlook.com"},
     .domains = {"hotmail.com", "outlook.com", "live.com"},
     .agent = "Outlook",
     .words = "requested action not taken: mailbox unavailable",
     .reason = "userunknown"},
    /* Verizon's SMS gateway looks the number up itself */
    {.provider = "Verizon",
     .domains = {"vtext.com"},
     .words = "no such user here",
     .reason = "userunknown"},
    /* Mimecast's 554 "rejected due to security policies" is its virus
     * and malicious-content scan */
    {.provider = "Mimecast",
     .hosts = {"mimecast.com"},
     .words = "email rejected due to security policies",
     .reason = "virusdetected"},
    /* Symantec Email Security.cloud's own 542 "<address> Rejected",
     * in its notice or at RCPT: the address is not registered with the
     * service */
    {.provider = "MessageLabs",
     .hosts = {"messagelabs.com"},
     .agent = "MessageLabs",
     .words = " rejected",
     .reply = "542",
     .reason = "userunknown"},
    /* Amazon SES receiving keeps no mailboxes: its "Mailbox does not
     * exist" is a receipt rule's bounce action that the domain's owner
     * set up, their filter rather than a directory lookup (its "Mailbox
     * full" and "Message too large" still mean what they say) */
    {.provider = "Amazon SES receiving",
     .hosts = {"inbound-smtp.*.amazonaws.com"},
     .agent = "ReceivingSES",
     .words = "mailbox does not exist",
     .reason = "filtered"},
};

/* suffix_at - name[0..nl) ends with suffix[0..sl), on a label boundary,
 * case-blind */
static bool suffix_at(const char *name, size_t nl, const char *suffix, size_t sl)
{
	return sl <= nl && strncasecmp(name + nl - sl, suffix, sl) == 0 &&
	       (sl == nl || name[nl - sl - 1] == '.');
}

/* name_in - name[0..nl) ends with one of the suffixes; "first.*.rest"
 * stands for a name that starts with the label "first" and ends with
 * "rest", one region's label or more between (Amazon's
 * inbound-smtp.us-east-1.amazonaws.com) */
static bool name_in(const char *name, size_t nl, const char *const *suffixes)
{
	for (size_t i = 0; i < 3 && suffixes[i]; i++) {
		const char *star = strstr(suffixes[i], ".*.");

		if (!star) {
			if (suffix_at(name, nl, suffixes[i], strlen(suffixes[i])))
				return true;
			continue;
		}
		size_t fl = (size_t)(star - suffixes[i]) + 1; /* "first." */
		const char *rest = star + 3;
		size_t rl = strlen(rest);
		if (nl > fl + rl && strncasecmp(name, suffixes[i], fl) == 0 &&
		    suffix_at(name, nl, rest, rl))
			return true;
	}
	return false;
}

/* host_in_diag - the answering host a diagnostic names: Postfix's
 * "host mx.example.org[192.0.2.1] said:", Sendmail's "While talking to
 * mx.example.org:"; copied to out, false when none. Both MTAs write the
 * words in these cases (the W of "While" either way), so a plain search,
 * much faster than a case-blind one, finds them. */
static bool host_in_diag(const char *diag, char *out, size_t size)
{
	static const struct {
		const char *lead;
		char stop;
	} marks[] = {{"host ", '['}, {"hile talking to ", ':'}};

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		const char *p = strstr(diag, marks[i].lead);

		if (!p)
			continue;
		p += strlen(marks[i].lead);
		size_t n = 0;
		while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '.' || p[n] == '-'))
			n++;
		if (n && n < size && p[n] == marks[i].stop) {
			memcpy(out, p, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

const char *bounce_provider_reason(const struct bounce_record *rec, const struct bounce_doc *doc,
                                   const char **rule)
{
	const char *service = doc ? doc->provider : NULL;
	const char *diag = rec->diagnostic_code ? rec->diagnostic_code : "";
	const char *at = strrchr(rec->recipient, '@');
	const char *domain = at ? at + 1 : "";
	char host[sizeof(rec->remote_host)];
	bool bare = !rec->status[0] || strcmp(rec->status + 1, ".0.0") == 0;

	if (rec->remote_host[0])
		util_strlcpy(host, rec->remote_host, sizeof(host));
	else if (!host_in_diag(diag, host, sizeof(host)))
		host[0] = '\0';
	size_t hl = strlen(host), dl = strlen(domain);

	while (hl && host[hl - 1] == '.') /* a root dot: "mx.example.jp." */
		hl--;
	for (size_t i = 0; i < sizeof(provider_rules) / sizeof(provider_rules[0]); i++) {
		const struct provider_rule *r = &provider_rules[i];
		bool who =
		    (hl && name_in(host, hl, r->hosts)) ||
		    (dl && name_in(domain, dl, r->domains)) ||
		    (r->agent && ((rec->smtp_agent && strcmp(rec->smtp_agent, r->agent) == 0) ||
		                  (service && strcmp(service, r->agent) == 0)));

		if (!who || (r->bare_status && !bare))
			continue;
		if (r->reply && strcmp(rec->replycode, r->reply) != 0)
			continue;
		if (r->words && !bounce_casestr(diag, r->words))
			continue;
		/* an X.7.x status (RFC 3463 3.8, security or policy) says the
		 * refusal is about the sender, whatever the provider's words
		 * about the mailbox: the phrase table reads its cause */
		if (strcmp(r->reason, "userunknown") == 0 && rec->status[0] &&
		    strncmp(rec->status + 1, ".7.", 3) == 0)
			continue;
		*rule = r->provider;
		return r->reason;
	}
	return NULL;
}
