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
 * host a transcript names), by the recipient's domain, by the family of
 * the notice (the provider wrote it itself), or by words only that
 * provider writes (its help page's address in the reply).
 *
 * Two tables: providers[] says who each provider is, provider_rules[]
 * what its replies mean, first rule that matches wins. All the words of
 * both are found in one pass over the reply (needles.c's index), so the
 * tables can grow without each record being searched once per rule.
 *
 * A rule decides before the phrase table; a rule that does not match
 * leaves the generic order (reason.c) untouched.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce/internal.h"

#define PROVIDER_NAMES 8 /* hosts or domains one provider lists, at most */
#define PROVIDER_MARKS 6 /* marks one provider lists, at most */

enum provider_id {
	PV_KDDI,
	PV_DOCOMO,
	PV_YAHOO,
	PV_OUTLOOKCOM,
	PV_VERIZON,
	PV_MIMECAST,
	PV_MESSAGELABS,
	PV_SESRECV,
	PV_COX,
	PV_SPECTRUM,
	PV_COMCAST,
	PV_TENCENT,
	PV_NETEASE,
	PV_MICROSOFT,
	PV_AOL,
	PV_GOOGLE,
	PV_PROOFPOINT,
	PV_ZOHO,
	PV_TONLINE,
	PV_FREE,
	PV_COUNT
};

/* Who a provider is. Any one of these names it: the host that answered
 * ends with one of hosts (on a label boundary), the recipient's domain
 * ends with one of domains, the notice's family or service is one of
 * agents, or the lower-cased reply holds one of marks. */
struct provider {
	const char *name; /* the rules' name in --explain */
	const char *hosts[PROVIDER_NAMES];
	const char *domains[PROVIDER_NAMES];
	const char *agents[2];
	const char *marks[PROVIDER_MARKS];
};

/* One meaning of one provider's reply: its words or code, and what else
 * the record must carry */
struct provider_rule {
	enum provider_id who;
	const char *words;  /* in the lower-cased reply with addresses and
	                     * repeated reply codes dropped (reason.c), lower
	                     * case; NULL: any */
	bool raw;           /* words are matched in the diagnostic as written */
	const char *reply;  /* the reply code it must carry, or NULL */
	const char *status; /* "subject.detail" or "subject.lo-hi" that the
	                     * enhanced code must be (either class), or NULL */
	bool bare_status;   /* only when the status says nothing (X.0.0, none) */
	bool own_code;      /* the status is one only this provider gives: it
	                     * names the provider by itself */
	const char *reason;
};

static const struct provider providers[PV_COUNT] = {
    [PV_KDDI] = {"KDDI", .hosts = {"ezweb.ne.jp", "au.com"}, .domains = {"ezweb.ne.jp", "au.com"}},
    [PV_DOCOMO] = {"NTT Docomo", .hosts = {"docomo.ne.jp"}, .domains = {"docomo.ne.jp"}},
    /* Yahoo's present MX hosts (mta6.am0.yahoodns.net, for AOL's and
     * Yahoo's domains alike). Not its older *.mx.mail.yahoo.com hosts,
     * nor its domains or help link: replies quoted with no present MX
     * host named are read as anyone's ([TSS04]: reputation). */
    [PV_YAHOO] = {"Yahoo", .hosts = {"yahoodns.net"}},
    /* the consumer service: hotmail.com, outlook.com, live.com */
    [PV_OUTLOOKCOM] = {"Outlook.com", .hosts = {"hotmail.com", "olc.protection.outlook.com"},
                       .domains = {"hotmail.com", "outlook.com", "live.com"},
                       .agents = {"Outlook"}},
    [PV_VERIZON] = {"Verizon", .domains = {"vtext.com"}},
    /* Mimecast's inbound hosts (eu-smtp-inbound-1.mimecast.com), and its
     * help link in every refusal */
    [PV_MIMECAST] = {"Mimecast",
                     .hosts = {"mimecast.com", "mimecast.co.za", "mimecast-offshore.com"},
                     .marks = {"community.mimecast.com"}},
    /* Symantec Email Security.cloud: cluster5.eu.messagelabs.com; its
     * replies name its server-N.tower-N.messagelabs.com */
    [PV_MESSAGELABS] = {"MessageLabs", .hosts = {"messagelabs.com"}, .agents = {"MessageLabs"},
                        .marks = {".messagelabs.com", "symanteccloud.com"}},
    /* inbound-smtp.us-east-1.amazonaws.com */
    [PV_SESRECV] = {"Amazon SES receiving", .hosts = {"inbound-smtp.*.amazonaws.com"},
                    .agents = {"ReceivingSES"}},
    /* Cox: mx.east/west.cox.net, and the Cloudmark hosts it rents,
     * cxr.mx.a.cloudfilter.net (other tenants there have other names) */
    [PV_COX] = {"Cox", .hosts = {"cox.net", "cxr.*.cloudfilter.net"}, .domains = {"cox.net"},
                .marks = {"aup#cx", "aup#cd", "cox.com/"}},
    /* Spectrum (Charter, Time Warner Cable, Road Runner, Bright House) */
    [PV_SPECTRUM] = {"Spectrum", .hosts = {"charter.net", "rr.com", "twc.com", "spectrum.net"},
                     .domains = {"charter.net", "rr.com", "twc.com", "spectrum.net",
                                 "brighthouse.com", "roadrunner.com"},
                     .marks = {"aup#i-", "spectrum.net/support"}},
    [PV_COMCAST] = {"Comcast", .hosts = {"comcast.net"}, .domains = {"comcast.net"},
                    .marks = {"postmaster.comcast.net"}},
    /* Tencent QQ Mail and Exmail (its business mail): mx1.qq.com,
     * mxbiz1.qq.com; replies point at service.(ex)mail.qq.com */
    [PV_TENCENT] = {"Tencent", .hosts = {"qq.com"}, .domains = {"qq.com", "foxmail.com"},
                    .marks = {"mail.qq.com"}},
    /* NetEase: 163.com, 126.com, yeah.net, 188.com (hosts
     * 163mx01.mxmail.netease.com and the like); replies point at
     * mail.163.com or help.163.com */
    [PV_NETEASE] = {"NetEase",
                    .hosts = {"netease.com", "163.com", "126.com", "yeah.net", "188.com"},
                    .domains = {"netease.com", "163.com", "126.com", "yeah.net", "188.com"},
                    .marks = {"mail.163.com", "help.163.com"}},
    /* Microsoft: Exchange Online Protection (tenant.mail.protection.
     * outlook.com) and the consumer service's hosts; Exchange's own
     * component names in a reply (RESOLVER., STOREDRV.) and its help
     * links name it too */
    [PV_MICROSOFT] = {"Microsoft",
                      .hosts = {"protection.outlook.com", "outlook.com", "hotmail.com", "live.com",
                                "msn.com", "office365.us", "outlook.cn"},
                      .domains = {"hotmail.com", "outlook.com", "live.com", "msn.com"},
                      .agents = {"Office365", "Outlook"},
                      .marks = {"protection.outlook.com", "sender.office.com", "mail.live.com",
                                "resolver.rst.", "storedrv."}},
    /* AOL's own MX hosts before Yahoo took its mail over
     * (mailin-01.mx.aol.com) */
    [PV_AOL] = {"AOL", .hosts = {"aol.com"}, .domains = {"aol.com", "aim.com"},
                .marks = {"postmaster.aol.com"}},
    /* Google: Gmail's and Workspace's MX hosts (aspmx.l.google.com);
     * every reply ends with "- gsmtp" */
    [PV_GOOGLE] = {"Google", .hosts = {"google.com", "googlemail.com"},
                   .domains = {"gmail.com", "googlemail.com"},
                   .marks = {"gsmtp", "support.google.com"}},
    /* Proofpoint's hosted filters (mx0a-001234.pphosted.com) */
    [PV_PROOFPOINT] = {"Proofpoint", .hosts = {"pphosted.com", "ppe-hosted.com"},
                       .marks = {"ipcheck.proofpoint.com"}},
    /* Zoho Mail: mx.zoho.com and its regions, smtp.zoho.com for mail
     * its users send */
    [PV_ZOHO] = {"Zoho", .hosts = {"zoho.com", "zoho.eu", "zoho.in", "zoho.com.au", "zoho.jp"},
                 .domains = {"zoho.com", "zohomail.com", "zoho.eu", "zoho.in"}},
    [PV_TONLINE] = {"T-Online", .hosts = {"t-online.de"}, .domains = {"t-online.de", "magenta.de"}},
    [PV_FREE] = {"Free", .hosts = {"free.fr"}, .domains = {"free.fr"}},
};

static const struct provider_rule provider_rules[] = {
    /* KDDI au: the address left out of the reply marks the recipient's
     * reception filter; with the address kept, the mailbox does not
     * exist (the reply code is dropped from the text rules read, so
     * the bare form is read as written) */
    {PV_KDDI, "550 : user unknown", .raw = true, .reason = "filtered"},
    {PV_KDDI, ">: user unknown", .reason = "userunknown"},
    /* NTT Docomo answers "550 Unknown user" whatever the cause; with
     * no code beside it, it is the recipient's reception settings
     * refusing the sender (a code, X.1.1 or X.2.0, says more and is
     * read as usual) */
    {PV_DOCOMO, "unknown user", .bare_status = true, .reason = "rejected"},
    /* Yahoo's "dd" replies also close a disabled mailbox: "This
     * mailbox is disabled (554.30)", "This account has been disabled
     * or discontinued" (read before its "dd" rule below). Its postmaster
     * page's codes: [TSS09] and [TS03] defer every message from the IP
     * for good, [BL21]-[BL23] refuse an IP on Spamhaus's lists: the
     * host is refused. [TS01] and [TS02] are the older forms of [TSS04]
     * (complaints, volume), read as it is. */
    {PV_YAHOO, "mailbox is disabled", .reason = "suspend"},
    {PV_YAHOO, "been disabled or discontinued", .reason = "suspend"},
    {PV_YAHOO, "[tss09]", .reason = "blocked"},
    {PV_YAHOO, "[ts03]", .reason = "blocked"},
    {PV_YAHOO, "[bl21]", .reason = "blocked"},
    {PV_YAHOO, "[bl22]", .reason = "blocked"},
    {PV_YAHOO, "[bl23]", .reason = "blocked"},
    {PV_YAHOO, "[ts01]", .reason = "rejected"},
    {PV_YAHOO, "[ts02]", .reason = "rejected"},
    /* Yahoo's present MX hosts check the recipient only after DATA:
     * "dd This user doesn't have a ... account" is their directory's
     * verdict. [TSS04] defers the sender for its volume or complaints. */
    {PV_YAHOO, "delivery error: dd ", .reason = "userunknown"},
    {PV_YAHOO, "[tss04]", .reason = "rejected"},
    /* Outlook.com gives RFC 5321's own 550 text, with a number in
     * brackets, for an address its directory lacks */
    {PV_OUTLOOKCOM, "requested action not taken: mailbox unavailable", .reason = "userunknown"},
    /* Verizon's SMS gateway looks the number up itself */
    {PV_VERIZON, "no such user here", .reason = "userunknown"},
    /* Mimecast's 554 "rejected due to security policies" is its virus
     * and malicious-content scan */
    {PV_MIMECAST, "email rejected due to security policies", .reason = "virusdetected"},
    /* its error-code page: "Rejected by header based Blocked Senders"
     * is a block policy of the recipient's organisation on the From:
     * address; "Internal resources are temporarily unavailable" its own
     * fault */
    {PV_MIMECAST, "header based blocked senders", .reason = "filtered"},
    {PV_MIMECAST, "internal resources are temporarily unavailable", .reason = "systemerror"},
    /* Symantec Email Security.cloud's own 542 "<address> Rejected",
     * in its notice or at RCPT: the address is not registered with the
     * service */
    {PV_MESSAGELABS, "rejected", .reply = "542", .reason = "userunknown"},
    /* its 553 "you are trying to use me [server-N...] as a relay": the
     * service does not take mail for that domain from this client */
    {PV_MESSAGELABS, "as a relay, but i have not been configured", .reason = "norelaying"},
    /* Amazon SES receiving keeps no mailboxes: its "Mailbox does not
     * exist" is a receipt rule's bounce action that the domain's owner
     * set up, their filter rather than a directory lookup (its "Mailbox
     * full" and "Message too large" still mean what they say) */
    {PV_SESRECV, "mailbox does not exist", .reason = "filtered"},
    /* Cox ends each refusal with an "AUP#" code its error-code page
     * explains. CXBL and CDRBL: Cox itself blocked the sending IP for
     * spam-like behaviour (CDRBL for a while); IPBLnnnn: the IP is on
     * public DNS block lists, one digit per list; URLBLnnn: a URL in
     * the message is on URI block lists, the content is refused.
     * CXDNS: the sending IP's reverse DNS does not resolve. CXSNDR:
     * the sender's domain is refused. CXCNCT: more simultaneous
     * connections than Cox allows one IP; CXMXRT: more recipients than
     * it allows one message. */
    {PV_COX, "urlbl", .reason = "spamdetected"},
    {PV_COX, "cxbl", .reason = "blocked"},
    {PV_COX, "cdrbl", .reason = "blocked"},
    {PV_COX, "ipbl", .reason = "blocked"},
    {PV_COX, "cxdns", .reason = "requireptr"},
    {PV_COX, "cxsndr", .reason = "rejected"},
    {PV_COX, "cxcnct", .reason = "toomanyconn"},
    {PV_COX, "cxmxrt", .reason = "toomanyconn"},
    /* Spectrum's inbound "AUP#I-nnnn" codes: 1000 is the sending IP
     * blocked for suspicious activity, 1260 a client connecting over
     * IPv6, which Spectrum's inbound hosts do not serve */
    {PV_SPECTRUM, "aup#i-1000", .reason = "blocked"},
    {PV_SPECTRUM, "aup#i-1260", .reason = "blocked"},
    /* Comcast names its refusals by code on its postmaster page: BL
     * and six binary digits, one per block list the IP is on (its own
     * and public ones). "Not our Customer" is its directory's answer
     * for an address it does not have, not a forwarding notice. The
     * code may open the reply's words ("554 5.7.1 BL000010 blocked",
     * reply codes dropped before matching), so no space before it. */
    {PV_COMCAST, "bl0", .reason = "blocked"},
    {PV_COMCAST, "bl1", .reason = "blocked"},
    {PV_COMCAST, "not our customer", .reason = "userunknown"},
    /* Tencent words its refusals in short English sentences with a help
     * link: "Mail content denied" is its anti-spam verdict on the
     * message; "... frequency limited" is its rate limit (per IP, per
     * domain, per sender), and for connections, the number of them */
    {PV_TENCENT, "mail content denied", .reason = "spamdetected"},
    {PV_TENCENT, "connection frequency limited", .reason = "toomanyconn"},
    {PV_TENCENT, "frequency limited", .reason = "speeding"},
    /* NetEase puts a code "XX:YYY" before its host tag, listed on its
     * help page (in Chinese). DT: the data: SPM spam features, RBL the
     * sending IP on block lists, SUM envelope sender and From: header
     * differ. MI: the mail's sender: SFQ and STC too much mail from
     * one sender (in 15 minutes, in a day), SPF and DMA the sender's
     * SPF and DMARC do not allow the IP, IMF a malformed sender
     * address, NHD an empty HELO, DMC too many messages on one
     * connection. RP: the recipients: DRC too many on one connection,
     * RCL too many for one message, QRC too many in a short time, FRL
     * relaying refused. HL: the sending IP banned for a while: ICC too
     * many simultaneous connections, IFC too much mail in a short time,
     * REP its behaviour (mail to absent addresses), MEP many forged
     * sender domains, IHU spam or odd connections, IPB not on the list
     * of IPs allowed to send. */
    {PV_NETEASE, "dt:spm", .reason = "spamdetected"},
    {PV_NETEASE, "dt:rbl", .reason = "blocked"},
    {PV_NETEASE, "dt:sum", .reason = "securityerror"},
    {PV_NETEASE, "mi:sfq", .reason = "speeding"},
    {PV_NETEASE, "mi:stc", .reason = "speeding"},
    {PV_NETEASE, "mi:spf", .reason = "authfailure"},
    {PV_NETEASE, "mi:dma", .reason = "authfailure"},
    {PV_NETEASE, "mi:imf", .reason = "rejected"},
    {PV_NETEASE, "mi:nhd", .reason = "blocked"},
    {PV_NETEASE, "mi:dmc", .reason = "toomanyconn"},
    {PV_NETEASE, "rp:drc", .reason = "toomanyconn"},
    {PV_NETEASE, "rp:rcl", .reason = "toomanyconn"},
    {PV_NETEASE, "rp:qrc", .reason = "speeding"},
    {PV_NETEASE, "rp:frl", .reason = "norelaying"},
    {PV_NETEASE, "hl:icc", .reason = "toomanyconn"},
    {PV_NETEASE, "hl:ifc", .reason = "speeding"},
    {PV_NETEASE, "hl:rep", .reason = "badreputation"},
    {PV_NETEASE, "hl:mep", .reason = "securityerror"},
    {PV_NETEASE, "hl:ihu", .reason = "blocked"},
    {PV_NETEASE, "hl:ipb", .reason = "blocked"},
    /* Microsoft documents its enhanced codes for Exchange Online; those
     * past RFC 3463's range are its own and name it wherever they come
     * from. 5.7.606-649: the sending IP is banned (delisting at
     * sender.office.com); 5.7.506 a bad HELO; 5.7.510 a client over
     * IPv6 to a domain that takes no IPv6 mail: the sending host is
     * refused. 5.7.508: the IP went past the limits set for its range;
     * 5.2.121, 5.2.122: the recipient's hourly limit of messages (from
     * this sender) is reached; "Submission quota exceeded" is the
     * sender's own sending limit, not a full mailbox. 5.7.520: the
     * sender's organisation forbids forwarding out. */
    {PV_MICROSOFT, .status = "7.606-649", .own_code = true, .reason = "blocked"},
    {PV_MICROSOFT, .status = "7.506", .own_code = true, .reason = "blocked"},
    {PV_MICROSOFT, .status = "7.510", .own_code = true, .reason = "blocked"},
    /* 5.7.705 "Access denied, tenant has exceeded threshold": most of
     * what the sending tenant sent was judged spam, and it is refused */
    {PV_MICROSOFT, .status = "7.705", .own_code = true, .reason = "blocked"},
    {PV_MICROSOFT, .status = "7.508", .own_code = true, .reason = "speeding"},
    {PV_MICROSOFT, .status = "2.121-122", .own_code = true, .reason = "speeding"},
    {PV_MICROSOFT, "submission quota exceeded", .reason = "speeding"},
    {PV_MICROSOFT, .status = "7.520", .own_code = true, .reason = "policyviolation"},
    /* 5.7.12 "Sender was not authenticated by organization": a
     * recipient that takes internal mail only (RFC 3463's X.7.12 is a
     * password transition, so the words decide, not the code) */
    {PV_MICROSOFT, "sender was not authenticated by organization", .reason = "securityerror"},
    /* Outlook.com's refusals of the sending host carry a code of its
     * troubleshooting page, sometimes with no other cause: S3140 and
     * S3150 (its block list), SC-00n (policy: spam-like mail,
     * namespace mining, open proxy, complaints), DY-00n (a dynamic or
     * compromised host), OU-001 (its filters). RP-001 and RP-002 are
     * its hourly and per-connection message limits, RP-003 its
     * connection limit. */
    {PV_MICROSOFT, "(s3140)", .reason = "blocked"},
    {PV_MICROSOFT, "(s3150)", .reason = "blocked"},
    {PV_MICROSOFT, "sc-00", .reason = "blocked"},
    {PV_MICROSOFT, "dy-00", .reason = "blocked"},
    {PV_MICROSOFT, "ou-001", .reason = "blocked"},
    {PV_MICROSOFT, "rp-001", .reason = "speeding"},
    {PV_MICROSOFT, "rp-002", .reason = "speeding"},
    {PV_MICROSOFT, "rp-003", .reason = "toomanyconn"},
    /* AOL's codes from its postmaster pages: RTR:BL and RLY:Bn are the
     * IP on its block lists (complaints), DYN:T1 a dynamic IP, DNS:NR
     * an IP without reverse DNS */
    {PV_AOL, "rtr:bl", .reason = "blocked"},
    {PV_AOL, "rly:b", .reason = "blocked"},
    {PV_AOL, "dyn:t1", .reason = "blocked"},
    {PV_AOL, "dns:nr", .reason = "requireptr"},
    /* Google's SMTP error reference (its "content presents a potential
     * security issue" points to its attachment and content guidelines:
     * the phrase table's policyviolation, as anywhere): the sending IP "is not authorized to send email directly to our
     * servers" (a consumer or dynamic range) and "IP not in whitelist
     * for RCPT domain" (a Workspace domain taking mail from its own
     * gateways only) refuse the host; an "unusual rate of unsolicited
     * mail originating from your IP" refuses or rate-limits the IP for
     * the spam it sent before, not this message's content. "Receiving
     * mail too quickly" is the recipient's rate, "Daily (user) sending
     * quota exceeded" the sender's: rate limits, not a full mailbox. */
    {PV_GOOGLE, "not authorized to send email directly to our servers", .reason = "blocked"},
    {PV_GOOGLE, "ip not in whitelist for rcpt domain", .reason = "blocked"},
    {PV_GOOGLE, "unusual rate of unsolicited mail", .reason = "blocked"},
    {PV_GOOGLE, "receiving mail too quickly", .reason = "speeding"},
    {PV_GOOGLE, "sending quota exceeded", .reason = "speeding"},
    /* "Your message exceeded Google's message size limits" is Gmail's
     * limit for every message (its code 5.2.3 is RFC 3463's mailbox
     * limit, which the status alone would read) */
    {PV_GOOGLE, "exceeded google's message size limits", .reason = "mesgtoobig"},
    /* Proofpoint: "Blocked - see https://ipcheck.proofpoint.com/?ip=":
     * its IP reputation service refused the sending host */
    {PV_PROOFPOINT, "ipcheck.proofpoint.com", .reason = "blocked"},
    /* Zoho's submission hosts answer "553 Relaying disallowed as
     * <address>" when the From: address is not one the signed-in
     * account may send as: the sender is not authorised */
    {PV_ZOHO, "relaying disallowed as", .reason = "securityerror"},
    /* T-Online's refusal of a sending host it does not accept
     * ("554 IP=... - A problem occurred. (Ask your postmaster ... to
     * contact tosa@rx.t-online.de)") names no cause but the host */
    {PV_TONLINE, "a problem occurred", .reason = "blocked"},
    /* Free refuses an IP that sent it "Too many spams": the host */
    {PV_FREE, "too many spams from your ip", .reason = "blocked"},
};

#define NRULES (sizeof(provider_rules) / sizeof(provider_rules[0]))

/* code_parse - subject and detail of an enhanced code "c.s.d" (RFC 3463
 * 2), or of a rule's "s.d" / "s.lo-hi" (from, hi: the range's ends);
 * subject -1 when text is neither */
static void code_parse(const char *text, bool has_class, long *subject, long *from, long *hi)
{
	char *end;

	*subject = -1;
	if (has_class) {
		if (!text[0] || text[1] != '.')
			return;
		text += 2;
	}
	long s = strtol(text, &end, 10);
	if (*end != '.' || end == text)
		return;
	*from = *hi = strtol(end + 1, &end, 10);
	if (!has_class && *end == '-')
		*hi = strtol(end + 1, NULL, 10);
	*subject = s;
}

/* The needles: every rule's words (index = rule) then every mark, all
 * indexed once (under pthread_once: the parser runs in worker threads) */
static const char *needles[BOUNCE_NEEDLE_MAX];
static uint8_t mark_needle[PV_COUNT][PROVIDER_MARKS];
/* each rule's status range, parsed once: subject -1 for none */
static long rule_subject[sizeof(provider_rules) / sizeof(provider_rules[0])];
static long rule_lo[sizeof(provider_rules) / sizeof(provider_rules[0])];
static long rule_hi[sizeof(provider_rules) / sizeof(provider_rules[0])];
/* bit i: i is a rule (not a mark); a rule with no words to find first
 * (a status only, or words read as written) */
static uint64_t rule_bits[4], rule_wordless[4];
static struct bounce_needles needle_ix;
static pthread_once_t needle_once = PTHREAD_ONCE_INIT;

static void needles_init(void)
{
	size_t n = NRULES;

	_Static_assert(NRULES < BOUNCE_NEEDLE_MAX, "provider rules fit the needle index");
	/* a mark past the index's room stays BOUNCE_NEEDLE_MAX, a bit
	 * never set: that provider is then named by its hosts only */
	memset(mark_needle, BOUNCE_NEEDLE_MAX, sizeof(mark_needle));
	for (size_t i = 0; i < NRULES; i++) {
		needles[i] = provider_rules[i].raw ? NULL : provider_rules[i].words;
		rule_bits[i >> 6] |= (uint64_t)1 << (i & 63);
		if (!needles[i])
			rule_wordless[i >> 6] |= (uint64_t)1 << (i & 63);
		rule_subject[i] = -1;
		if (provider_rules[i].status)
			code_parse(provider_rules[i].status, false, &rule_subject[i], &rule_lo[i],
			           &rule_hi[i]);
	}
	for (size_t p = 0; p < PV_COUNT; p++)
		for (size_t m = 0;
		     m < PROVIDER_MARKS && providers[p].marks[m] && n < BOUNCE_NEEDLE_MAX; m++) {
			mark_needle[p][m] = (uint8_t)n;
			needles[n++] = providers[p].marks[m];
		}
	bounce_needles_build(&needle_ix, needles, n);
}

/* needles_in - set bit i of hits (room for BOUNCE_NEEDLE_MAX + 1 bits)
 * for every needle i found in text (lower case), in one pass */
static void needles_in(const char *text, uint64_t hits[4])
{
	bounce_needles_all(&needle_ix, needles, text, NULL, hits);
}

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
	for (size_t i = 0; i < PROVIDER_NAMES && suffixes[i]; i++) {
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

/* provider_named - is the record's provider p: by its answering host,
 * its recipient's domain, the notice's writer, or a mark in its reply */
static bool provider_named(const struct provider *pv, size_t p, const char *host, size_t hl,
                           const char *domain, size_t dl, const char *agent, const char *service,
                           const uint64_t hits[4])
{
	if ((hl && name_in(host, hl, pv->hosts)) || (dl && name_in(domain, dl, pv->domains)))
		return true;
	for (size_t a = 0; a < 2 && pv->agents[a]; a++)
		if ((agent && strcmp(agent, pv->agents[a]) == 0) ||
		    (service && strcmp(service, pv->agents[a]) == 0))
			return true;
	for (size_t m = 0; m < PROVIDER_MARKS && pv->marks[m]; m++)
		if (bounce_needles_hit(hits, mark_needle[p][m]))
			return true;
	return false;
}

const char *bounce_provider_reason(const struct bounce_record *rec, const struct bounce_doc *doc,
                                   const char *lower, const char **rule)
{
	const char *service = doc ? doc->provider : NULL;
	const char *diag = rec->diagnostic_code ? rec->diagnostic_code : "";
	const char *at = strrchr(rec->recipient, '@');
	const char *domain = at ? at + 1 : "";
	char host[sizeof(rec->remote_host)];
	size_t hl = SIZE_MAX, dl = strlen(domain); /* hl: host not read yet */
	bool bare = !rec->status[0] || strcmp(rec->status + 1, ".0.0") == 0;
	int8_t named[PV_COUNT]; /* -1: not asked yet */
	uint64_t hits[4] = {0};
	long subject = -1, detail = -1, unused = -1;

	pthread_once(&needle_once, needles_init);
	needles_in(lower, hits);
	code_parse(rec->status, true, &subject, &detail, &unused);
	memset(named, -1, sizeof(named));
	/* the rules to try, in table order: those whose words are in the
	 * reply, and those with none to look for (most records: a few) */
	for (size_t w = 0; w < 4; w++) {
		uint64_t try = (hits[w] | rule_wordless[w]) & rule_bits[w];

		for (; try; try &= try - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(try);
			const struct provider_rule *r = &provider_rules[i];

			if ((r->bare_status && !bare) ||
			    (r->reply && strcmp(rec->replycode, r->reply) != 0) ||
			    (r->status && (subject != rule_subject[i] || detail < rule_lo[i] ||
			                   detail > rule_hi[i])))
				continue;
			if (named[r->who] < 0 && r->own_code)
				named[r->who] = 1;
			if (named[r->who] < 0 && hl == SIZE_MAX) {
				if (rec->remote_host[0])
					util_strlcpy(host, rec->remote_host, sizeof(host));
				else if (!host_in_diag(diag, host, sizeof(host)))
					host[0] = '\0';
				hl = strlen(host);
				while (hl && host[hl - 1] == '.') /* a root dot: "mx.example.jp." */
					hl--;
			}
			if (named[r->who] < 0)
				named[r->who] =
				    provider_named(&providers[r->who], r->who, host, hl, domain, dl,
				                   rec->smtp_agent, service, hits);
			if (!named[r->who])
				continue;
			/* words as written: a search of their own, so only
			 * once the provider is known */
			if (r->raw && !bounce_casestr(diag, r->words))
				continue;
			/* an X.7.x status (RFC 3463 3.8, security or policy)
			 * says the refusal is about the sender, whatever the
			 * provider's words about the mailbox: the phrase
			 * table reads its cause */
			if (strcmp(r->reason, "userunknown") == 0 && rec->status[0] &&
			    strncmp(rec->status + 1, ".7.", 3) == 0)
				continue;
			*rule = providers[r->who].name;
			return r->reason;
		}
	}
	return NULL;
}
