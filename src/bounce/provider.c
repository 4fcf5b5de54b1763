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
	bool bare_status;       /* only when the status says nothing (X.0.0, none) */
	const char *reason;
};

static const struct provider_rule provider_rules[] = {
    /* KDDI au (ezweb.ne.jp, au.com): the address left out of the reply
     * marks the recipient's reception filter; with the address kept,
     * the mailbox does not exist */
    {"KDDI",
     {"ezweb.ne.jp", "au.com"},
     {"ezweb.ne.jp", "au.com"},
     NULL,
     "550 : user unknown",
     false,
     "filtered"},
    {"KDDI",
     {"ezweb.ne.jp", "au.com"},
     {"ezweb.ne.jp", "au.com"},
     NULL,
     ">: user unknown",
     false,
     "userunknown"},
    /* NTT Docomo answers "550 Unknown user" whatever the cause; with
     * no code beside it, it is the recipient's reception settings
     * refusing the sender (a code, X.1.1 or X.2.0, says more and is
     * read as usual) */
    {"NTT Docomo", {"docomo.ne.jp"}, {"docomo.ne.jp"}, NULL, "unknown user", true, "rejected"},
    /* Yahoo's present MX hosts check the recipient only after DATA:
     * "dd This user doesn't have a ... account" is their directory's
     * verdict. [TSS04] defers the sender for its volume or complaints. */
    {"Yahoo", {"yahoodns.net"}, {NULL}, NULL, "delivery error: dd ", false, "userunknown"},
    {"Yahoo", {"yahoodns.net"}, {NULL}, NULL, "[tss04]", false, "rejected"},
    /* Outlook.com's MX hosts give RFC 5321's own 550 text, with a
     * number in brackets, for an address their directory lacks */
    {"Outlook.com",
     {"hotmail.com"},
     {NULL},
     "Outlook",
     "requested action not taken: mailbox unavailable",
     false,
     "userunknown"},
    /* Verizon's SMS gateway looks the number up itself */
    {"Verizon", {NULL}, {"vtext.com"}, NULL, "no such user here", false, "userunknown"},
    /* Mimecast's 554 "rejected due to security policies" is its virus
     * and malicious-content scan */
    {"Mimecast",
     {"mimecast.com"},
     {NULL},
     NULL,
     "email rejected due to security policies",
     false,
     "virusdetected"},
    /* Symantec Email Security.cloud's own 542 "<address> Rejected":
     * the address is not registered with the service */
    {"MessageLabs", {NULL}, {NULL}, "MessageLabs", " rejected", false, "userunknown"},
    /* Amazon SES receiving keeps no mailboxes: its "Mailbox does not
     * exist" is a receipt rule's bounce action that the domain's owner
     * set up, their filter rather than a directory lookup (its "Mailbox
     * full" and "Message too large" still mean what they say) */
    {"Amazon SES receiving",
     {NULL},
     {NULL},
     "ReceivingSES",
     "mailbox does not exist",
     false,
     "filtered"},
};

/* name_in - name[0..nl) ends with one of the suffixes, on a label
 * boundary, case-blind */
static bool name_in(const char *name, size_t nl, const char *const *suffixes)
{
	for (size_t i = 0; i < 3 && suffixes[i]; i++) {
		size_t sl = strlen(suffixes[i]);

		if (sl <= nl && strncasecmp(name + nl - sl, suffixes[i], sl) == 0 &&
		    (sl == nl || name[nl - sl - 1] == '.'))
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
		if (r->words && !bounce_casestr(diag, r->words))
			continue;
		*rule = r->provider;
		return r->reason;
	}
	return NULL;
}
