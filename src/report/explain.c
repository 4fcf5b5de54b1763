/*
 * explain.c - what a delivery outcome means, in plain words.
 *
 * Owns: the reason classes of report.h (report_classify), their meaning
 * and advice (report_explain), and the "did you mean gmail.com?" guess for
 * misspelled domains (report_suggest_domain).
 *
 * Classification trusts the RFC 3463 enhanced status first (X.1.1 no such
 * mailbox, X.1.2 bad destination system, X.1.10 null MX per RFC 7505,
 * X.2.2 mailbox full, X.3.4 / X.2.3 too big, X.7.* security or policy),
 * because it is the machine-readable part of the reply. Only when the
 * status is generic (X.0.0, 4.4.7 expiry...) do we look for well-known
 * phrases in the text, as bounce parsers such as Sisimai do. A wrong guess
 * only changes the advice; the remote's own words are always quoted next
 * to it. Nothing here fails or allocates.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

struct reason_text {
	const char *name, *title, *meaning, *advice;
};

/* Indexed by enum report_reason. */
static const struct reason_text reason_texts[REPORT_REASON_COUNT] = {
    [REPORT_REASON_USERUNKNOWN] =
        {"userunknown", "no such user",
         "The receiving server says there is no mailbox by this name. The address may be "
         "misspelled, or the person may have left or closed the account.",
         "Check the spelling of the address. If it is right, remove it from your list: "
         "sending to it again will fail the same way."},
    [REPORT_REASON_HOSTUNKNOWN] =
        {"hostunknown", "the domain does not exist",
         "There is no domain by this name, so nothing can receive mail for it. Most often "
         "the part after the @ is misspelled.",
         "Check the spelling of the domain (the part after the @), or remove the address "
         "from your list."},
    [REPORT_REASON_NOTACCEPT] =
        {"notaccept", "the domain has no mail server",
         "The domain exists, but it says it does not accept email at all (it publishes a "
         "\"null MX\" record).",
         "Reach the person another way, and remove the address from your list."},
    [REPORT_REASON_MAILBOXFULL] =
        {"mailboxfull", "mailbox full",
         "The recipient's mailbox is full, so their server cannot take new mail for now.",
         "The recipient has to make room first. Try again later, or reach them another "
         "way."},
    [REPORT_REASON_FILTERED] =
        {"filtered", "the recipient only accepts approved senders",
         "The recipient's server only takes mail from senders on a list of approved "
         "addresses, and yours is not on it.",
         "Ask the recipient to add your address to their approved senders, then send the "
         "message again."},
    [REPORT_REASON_BLOCKED] =
        {"blocked", "judged as spam or blocked",
         "The receiving server refused the message by policy: it judged the message to be "
         "spam, or it does not take mail from this sending server or address.",
         "Do not resend it unchanged. The server's words above often name the reason or a "
         "web page; ask your mail administrator to look into the block."},
    [REPORT_REASON_MESGTOOBIG] =
        {"mesgtoobig", "message too big",
         "The message is bigger than the receiving server accepts.",
         "Send it again with smaller attachments, or share large files through a link."},
    [REPORT_REASON_EXPIRED] =
        {"expired", "could not be delivered in time",
         "Every attempt failed for a reason that might have passed, until the time this "
         "server keeps trying ran out.",
         "Check the address. The recipient's mail server may be down or unreachable; send "
         "the message again later if it still matters."},
    [REPORT_REASON_DELAYED] =
        {"delayed", "delivery delayed",
         "The message has not been delivered yet because of a temporary problem.",
         "Nothing to do yet: this server keeps trying, and tells you again if it gives "
         "up."},
    [REPORT_REASON_DELIVERED] = {"delivered", "delivered",
                                 "The recipient's mail server accepted the message.", ""},
    [REPORT_REASON_RELAYED] =
        {"relayed", "relayed",
         "The message was handed to the next mail server, which does not send delivery "
         "confirmations, so this is the last news about it you will get.",
         ""},
    [REPORT_REASON_OTHER] =
        {"other", "delivery failed",
         "The receiving server refused the message; its words are quoted above.",
         "If the reason is not clear, forward this report to your mail administrator."},
    [REPORT_REASON_SUPPRESSED] =
        {"suppressed", "address on the suppression list",
         "This server did not try to deliver the message: earlier mail to this address "
         "bounced for good or its owner complained, so the address is on this server's "
         "suppression list (since when and why is quoted above).",
         "Remove the address from your list. If you know it works again, ask your mail "
         "administrator to lift the suppression."},
};

const char *report_reason_name(enum report_reason r)
{
	if ((int)r < 0 || r >= REPORT_REASON_COUNT)
		r = REPORT_REASON_OTHER;
	return reason_texts[r].name;
}

/* Phrases seen in real replies (and in our own DNS words, deliver/mx.c). */
static const char *const phr_notaccept[] = {"null mx", "does not accept mail", NULL};
static const char *const phr_hostunknown[] = {
    "domain name not found", "domain not found",      "nxdomain",
    "no such domain",        "domain does not exist", "host not found",
    "unrouteable address",   "no mx and no address",  NULL};
static const char *const phr_mailboxfull[] = {
    "mailbox full",         "mailbox is full",
    "over quota",           "quota exceeded",
    "exceeded quota",       "exceeds quota",
    "mailbox has exceeded", "insufficient storage for user",
    "out of storage",       NULL};
static const char *const phr_toobig[] = {"too big",
                                         "too large",
                                         "size limit",
                                         "exceeds size",
                                         "message size exceeds",
                                         "exceeded the maximum size",
                                         NULL};
static const char *const phr_filtered[] = {"allowlist",
                                           "allow list",
                                           "whitelist",
                                           "white list",
                                           "approved sender",
                                           "not authorized to send",
                                           "not allowed to send",
                                           "only accepts mail from",
                                           "accepts mail only from",
                                           "sender is not allowed",
                                           NULL};
static const char *const phr_userunknown[] = {"user unknown",
                                              "unknown user",
                                              "no such user",
                                              "user not found",
                                              "no such mailbox",
                                              "mailbox not found",
                                              "mailbox unavailable",
                                              "unknown recipient",
                                              "recipient unknown",
                                              "invalid recipient",
                                              "recipient not found",
                                              "address rejected",
                                              "does not exist",
                                              "no mailbox here",
                                              "account disabled",
                                              "account has been disabled",
                                              NULL};
static const char *const phr_blocked[] = {
    "spam",       "blocked", "blacklist",   "blocklist", "block list", "dnsbl", "rbl",
    "reputation", "policy",  "rejected by", "junk",      "dmarc",      "spf",   NULL};

static bool text_has(const char *text, const char *const *phrases)
{
	for (size_t i = 0; phrases[i] != NULL; i++)
		if (strcasestr(text, phrases[i]) != NULL)
			return true;
	return false;
}

/* Splits "c.s.d" into subject and detail; false when status is malformed. */
static bool status_parts(const char *status, int *subject, int *detail)
{
	char *end;
	long s, d;

	if (!outcome_is_valid_status(status, strlen(status)))
		return false;
	s = strtol(status + 2, &end, 10);
	d = strtol(end + 1, NULL, 10);
	*subject = (int)s;
	*detail = (int)d;
	return true;
}

/* report_classify - see report.h and the comment at the top */
enum report_reason report_classify(const struct outcome *o)
{
	const char *t = o->text;
	int subj = 0, det = 0;
	bool have = status_parts(o->status, &subj, &det);
	bool given = have;

	/* Our own suppression list refused it before any server was asked
	 * (src/suppress): not the receiving server's verdict. */
	if (o->remote[0] == '\0' && strstr(t, "recipient suppressed since") != NULL)
		return REPORT_REASON_SUPPRESSED;

	/* A status derived from the reply code alone (outcome.h) says less
	 * than the words: 552 without a code is "5.3.4" but often means a
	 * full mailbox. The remote gave the code when its reply starts so. */
	if (have && o->code != 0) {
		char lead[32];
		int n = snprintf(lead, sizeof(lead), "%d %s", o->code, o->status);

		given = n > 0 && strncmp(t, lead, (size_t)n) == 0;
	}
	if (given) {
		if (subj == 1 && det == 1)
			return REPORT_REASON_USERUNKNOWN;
		if (subj == 1 && det == 2)
			return REPORT_REASON_HOSTUNKNOWN;
		if (subj == 1 && det == 10)
			return REPORT_REASON_NOTACCEPT;
		if (subj == 2 && det == 2)
			return REPORT_REASON_MAILBOXFULL;
		if ((subj == 3 && det == 4) || (subj == 2 && det == 3))
			return REPORT_REASON_MESGTOOBIG;
		if (subj == 7) {
			/* X.7.1 covers allowlists, spam filters and some
			 * unknown-user replies alike; the words decide. */
			if (text_has(t, phr_filtered))
				return REPORT_REASON_FILTERED;
			if (text_has(t, phr_userunknown) && !text_has(t, phr_blocked))
				return REPORT_REASON_USERUNKNOWN;
			return REPORT_REASON_BLOCKED;
		}
	}
	/* Generic status: the words. Order matters: "domain does not exist"
	 * must not read as "user does not exist". */
	if (text_has(t, phr_notaccept))
		return REPORT_REASON_NOTACCEPT;
	if (text_has(t, phr_hostunknown))
		return REPORT_REASON_HOSTUNKNOWN;
	if (text_has(t, phr_mailboxfull))
		return REPORT_REASON_MAILBOXFULL;
	if (text_has(t, phr_toobig))
		return REPORT_REASON_MESGTOOBIG;
	if (text_has(t, phr_filtered))
		return REPORT_REASON_FILTERED;
	if (text_has(t, phr_userunknown))
		return REPORT_REASON_USERUNKNOWN;
	if (text_has(t, phr_blocked))
		return REPORT_REASON_BLOCKED;
	if (have && subj == 4 && det == 7)
		return REPORT_REASON_EXPIRED;
	return REPORT_REASON_OTHER;
}

/* Large mail providers, most used first: a tie goes to the earlier one. */
static const char *const known_domains[] = {
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "live.com",
    "msn.com", "googlemail.com", "me.com", "mac.com", "hotmail.co.uk", "yahoo.co.uk", "hotmail.fr",
    "yahoo.fr", "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de", "orange.fr", "free.fr",
    "laposte.net", "wanadoo.fr", "libero.it", "mail.ru", "yandex.ru", "proton.me", "protonmail.com",
    "zoho.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "qq.com", "163.com",
    "naver.com",
    /* Real providers one slip away from those above: listed so that they
     * are never "corrected" into their neighbours (ymail.com is Yahoo's,
     * mail.com is its own provider). */
    "mail.com", "ymail.com", "email.com", "rocketmail.com", "hotmail.de", "hotmail.it",
    "hotmail.es", "yahoo.de", "yahoo.it", "yahoo.es", "live.fr", "live.co.uk", "outlook.fr",
    "outlook.de", "btinternet.com", "bigpond.com", "rediffmail.com", NULL};

/* Common slips in the top-level domain. "con" and friends are no TLD at
 * all, so name.con is corrected even for a name we do not know; "co",
 * "cm", "om" and "ne" are real country TLDs, corrected only when the
 * result is a well-known provider (gmail.co -> gmail.com). */
static const struct {
	const char *slip, *tld;
	bool real; /* the slip is itself a delegated TLD */
} tld_slips[] = {
    {"con", "com", false}, {"cmo", "com", false}, {"ocm", "com", false},  {"vom", "com", false},
    {"xom", "com", false}, {"cpm", "com", false}, {"comm", "com", false}, {"coom", "com", false},
    {"c0m", "com", false}, {"cim", "com", false}, {"clm", "com", false},  {"co", "com", true},
    {"cm", "com", true},   {"om", "com", true},   {"nte", "net", false},  {"nett", "net", false},
    {"ner", "net", false}, {"ne", "net", true},   {"ogr", "org", false},  {"orgg", "org", false},
    {"rog", "org", false},
};

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions: "gmial" is one slip from "gmail", not two). Both inputs
 * are short domain names; longer ones are not compared. */
#define DOMAIN_CMP_MAX 64
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[DOMAIN_CMP_MAX + 1][DOMAIN_CMP_MAX + 1];

	if (la > DOMAIN_CMP_MAX || lb > DOMAIN_CMP_MAX)
		return 1000;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

static bool domain_known(const char *d)
{
	for (size_t i = 0; known_domains[i] != NULL; i++)
		if (strcmp(d, known_domains[i]) == 0)
			return true;
	return false;
}

/* same_name_other_tld - a and b differ only in their last label, as
 * hotmail.it and hotmail.fr do: both are real domains of one provider, not
 * a slip of the fingers, so that pair is never a suggestion. */
static bool same_name_other_tld(const char *a, const char *b)
{
	const char *da = strrchr(a, '.'), *db = strrchr(b, '.');

	return da != NULL && db != NULL && da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0;
}

/* nearest_known - the well-known domain closest to low within the slip
 * limit, or NULL */
static const char *nearest_known(const char *low)
{
	const char *best = NULL;
	int best_d = 1000;
	/* One slip for short names, two for longer ones: "me.com" and
	 * "mac.com" are two apart and both real. */
	int limit = strlen(low) >= 10 ? 2 : 1;

	for (size_t i = 0; known_domains[i] != NULL; i++) {
		int dist;

		if (same_name_other_tld(low, known_domains[i]))
			continue;
		dist = edit_distance(low, known_domains[i]);
		if (dist < best_d) {
			best_d = dist;
			best = known_domains[i];
		}
	}
	return best_d <= limit ? best : NULL;
}

bool report_suggest_domain(const char *domain, char *out, size_t size)
{
	char low[DOMAIN_CMP_MAX + 1];
	const char *best, *dot;
	size_t len;

	if (domain == NULL || (len = strlen(domain)) == 0 || len > DOMAIN_CMP_MAX)
		return false;
	for (size_t i = 0; i <= len; i++)
		low[i] = (char)tolower((unsigned char)domain[i]);
	if (len > 1 && low[len - 1] == '.')
		low[--len] = '\0';
	if (domain_known(low))
		return false; /* well known already: nothing to suggest */
	/* "gmail" alone: the ".com" was forgotten */
	if (strchr(low, '.') == NULL) {
		char dotcom[DOMAIN_CMP_MAX + 8];

		snprintf(dotcom, sizeof(dotcom), "%s.com", low);
		best = domain_known(dotcom) ? dotcom : nearest_known(dotcom);
		if (best == NULL)
			return false;
		util_strlcpy(out, best, size);
		return true;
	}
	/* A TLD slip first: hotmial.con is two slips from hotmail.com, one of
	 * them in the TLD, and the TLD is where the fingers slip most. */
	dot = strrchr(low, '.');
	for (size_t i = 0; dot != NULL && dot > low && i < sizeof(tld_slips) / sizeof(tld_slips[0]);
	     i++) {
		char fixed[DOMAIN_CMP_MAX + 8];

		if (strcmp(dot + 1, tld_slips[i].slip) != 0)
			continue;
		snprintf(fixed, sizeof(fixed), "%.*s.%s", (int)(dot - low), low, tld_slips[i].tld);
		if (domain_known(fixed)) {
			util_strlcpy(out, fixed, size);
			return true;
		}
		if ((best = nearest_known(fixed)) != NULL) {
			util_strlcpy(out, best, size);
			return true;
		}
		if (!tld_slips[i].real) {
			util_strlcpy(out, fixed, size);
			return true;
		}
		break;
	}
	if ((best = nearest_known(low)) == NULL)
		return false;
	util_strlcpy(out, best, size);
	return true;
}

void report_explain(const struct outcome *o, const char *addr, enum report_kind kind,
                    struct report_explanation *ex)
{
	enum report_reason cause;
	const struct reason_text *rt;

	memset(ex, 0, sizeof(*ex));
	switch (kind) {
	case REPORT_DELIVERED: cause = REPORT_REASON_DELIVERED; break;
	case REPORT_RELAYED: cause = REPORT_REASON_RELAYED; break;
	default: cause = report_classify(o); break;
	}
	if ((cause == REPORT_REASON_HOSTUNKNOWN || cause == REPORT_REASON_NOTACCEPT) &&
	    addr != NULL) {
		const char *at = strrchr(addr, '@');

		if (at != NULL)
			report_suggest_domain(at + 1, ex->suggestion, sizeof(ex->suggestion));
	}
	ex->reason = kind == REPORT_DELAYED ? REPORT_REASON_DELAYED : cause;
	rt = &reason_texts[ex->reason];
	ex->name = rt->name;
	ex->title = rt->title;
	ex->advice = rt->advice;
	/* A delay keeps the meaning of its cause ("the mailbox is full"); the
	 * advice is the delay's own (wait, we keep trying). */
	ex->meaning = kind == REPORT_DELAYED && cause != REPORT_REASON_OTHER
	                  ? reason_texts[cause].meaning
	                  : rt->meaning;
}
