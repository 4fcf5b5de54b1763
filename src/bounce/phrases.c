/*
 * phrases.c - the reason-phrase table: for each reason, phrases remote
 * servers write when refusing mail for that reason. Order is priority: the
 * first phrase found in the diagnostic decides (reason.c), so phrases about
 * the sending host (lists, reputation) sit above generic address ones.
 * Entries after the separator (reason "") are weak: they are used only when
 * the enhanced status code names no reason. Written from the corpus
 * messages and RFC 3463 wording; matched case-blind.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bounce/internal.h"
#include "bounce/phrases.h"

const struct bounce_phrase bounce_phrases[] = {
    /* Phrases that contain a looser phrase of another reason, so they
	 * must be tried first: Domino's "not listed in Domino Directory"
	 * holds the blocklist words "listed in"; Google's "rejected due to
	 * spam classification" is followed by advice about SPF records;
	 * Microsoft's "Message expired, DNS query failed" names the cause
	 * (DNS) before the consequence (expiry). */
    {"userunknown", "not listed in domino directory"},
    /* Lotus Notes: its directory (the "public Name & Address Book")
     * has no such user; above the block-list words "listed in" */
    {"userunknown", "not listed in public name & address book"},
    {"userunknown", "ディレクトリのリストにありません"}, /* the same, Japanese Notes */
    /* Yahoo's "dd" replies also name a disabled mailbox ("dd Sorry your
     * message ... This mailbox is disabled (554.30)"): above "dd" */
    {"suspend", "this mailbox is disabled"},
    {"suspend", "account has been disabled"},
    {"userunknown", "delivery error: dd "}, /* Yahoo: before "this user doesn't have a" */
    {"spamdetected", "due to spam classification"},
    /* Gmail: "likely unsolicited mail ... this message has been blocked":
     * the content, above the host-blocking words that follow */
    {"spamdetected", "likely unsolicited"},
    {"networkerror", "dns query failed"},
    /* "DNS lookup failure: host X not found" names the host as missing,
	 * above the generic "dns lookup" */
    {"hostunknown", "dns lookup failure: host"},
    /* "DNS Error: ... NXDOMAIN": the DNS answered that the domain does
     * not exist, above the generic "dns error" (a lookup that failed) */
    {"hostunknown", "nxdomain"},
    {"hostunknown", "domain name not found"},
    /* "The account or domain may not exist, they may be blacklisted":
	 * the first cause offered is the address, above "blacklisted" */
    {"hostunknown", "account or domain may not exist"},
    /* a local delivery program that failed says why in its output
     * ("Command died with status 75: ... Quota exceeded (mailbox for
     * user is full)", Dovecot's words): above "command died" */
    {"mailboxfull", "mailbox for user is full"},
    /* words naming who or why, above the "blocked" words they hold */
    {"filtered", "sender is blocked by the recipient"}, /* the recipient's own list */
    {"suspend", "due to inactivity"},                   /* "mailbox blocked due to inactivity" */
    {"spamdetected", "spamassassin"},                   /* a content scanner */
    /* a block list named by "blocked using", above "reputation":
     * Barracuda's and Trend Micro's lists carry the word in their names */
    {"blocked", "blocked using"},
    {"expired", "message expired"},
    /* Orange and La Poste (France) end each refusal with their own
	 * numbered code ("OFR_506 [506]", "LPN000_630"), which says more
	 * than the bilingual words ("Mail rejete", "spam" in a host block) */
    {"spamdetected", "ofr_506"},
    {"systemerror", "ofr005_505"},
    {"blocked", "ofr006_102"},
    {"policyviolation", "lpn000_630"},
    /* contenterror */
    {"contenterror", "duplicate header"},
    /* mailererror */
    {"mailererror", "procmail"},
    {"mailererror", "mailer error"},
    {"mailererror", "command died with status"},
    {"mailererror", "pipe to |"},
    {"mailererror", "unknown mailer error"},
    {"mailererror", "local delivery failed"},
    {"mailererror", "delivery to a pipe"},
    {"mailererror", "operating system error"},
    /* virusdetected */
    {"virusdetected", "virus"},
    {"virusdetected", "malware"},
    {"virusdetected", "infected"},
    {"virusdetected", "trojan"},
    {"virusdetected", "malicious"}, /* "malicious content/URL detected" */
    {"virusdetected", "ransomware"},
    /* authfailure */
    {"authfailure", "dmarc"},
    {"authfailure", "spf check"},
    {"authfailure", "spf validation"},
    {"authfailure", "spf fail"},
    {"authfailure", "spf record"},
    {"authfailure", "sender policy framework"},
    {"authfailure", "dkim"},
    {"authfailure", "unauthenticated email"},
    {"authfailure", "authentication checks did not pass"},
    {"authfailure", "does not pass spf"},
    {"authfailure", "multiple authentication checks failed"},
    {"authfailure", "spf softfail"},
    {"authfailure", "spf hardfail"},
    {"authfailure", "failed spf"},
    {"authfailure", "fails spf"},
    {"authfailure", "rejected by spf"},
    {"authfailure", "spf: "}, /* "SPF: 192.0.2.1 is not allowed to send mail from" */
    /* the SPF explanation URL SPF refusals cite, whatever its host
     * ("Please see http://<host>/Why?s=mfrom;id=...") */
    {"authfailure", "why?s=mfrom"},
    {"authfailure", "why?scope=mfrom"},
    {"authfailure", "sender id "}, /* Microsoft's Sender ID (PRA) check */
    /* norelaying */
    {"norelaying", "relay access denied"},
    {"norelaying", "relaying denied"},
    {"norelaying", "relay not permitted"},
    {"norelaying", "not permitted to relay"},
    {"norelaying", "unable to relay"},
    {"norelaying", "relaying not allowed"},
    {"norelaying", "we do not relay"},
    {"norelaying", "relay denied"},
    {"norelaying", "not allowed to relay"},
    {"norelaying", "relaying not permitted"},
    {"norelaying", "not authorized to relay"},
    {"norelaying", "no relaying"},
    {"norelaying", "relay prohibited"},
    {"norelaying", "relaying prohibited"},
    {"norelaying", "email address is not verified"},
    {"norelaying", "not a gateway"},
    {"norelaying", "not configured to relay"},
    {"norelaying", "insecure mail relay"},
    /* qmail-smtpd: "553 sorry, that domain isn't in my list of allowed
     * rcpthosts" refuses to relay to a domain it does not serve */
    {"norelaying", "allowed rcpthosts"},
    {"norelaying", "relay not allowed"},
    {"norelaying", "relay rejected"},
    {"norelaying", "relaying requires"},
    /* "Relaying to <a@b> denied" (Kerio), "relaying to <a@b> prohibited
     * by administrator" (Exim 3): the address between the words */
    {"norelaying", "relaying to"},
    {"norelaying", "relaying nicht"},
    {"norelaying", "relay access"}, /* "Relay access is denied" */
    {"norelaying", "relay not"},    /* "Relay not authorized" */
    {"norelaying", "n't relay"},    /* "we don't relay", "won't relay" */
    {"norelaying", "cannot relay"},
    {"norelaying", "relaying disallowed"},
    {"norelaying", "relaying is not allowed"},
    {"norelaying", "not a relay"},
    {"norelaying", "relay to this domain"},
    /* Mimecast's "Open relay not allowed": the domain is not one it
     * serves, above the block-list words "open relay" */
    {"norelaying", "open relay not allowed"},
    /* hMailServer's and Haraka's default refusals of a domain they do
     * not serve */
    {"norelaying", "delivery is not allowed to this address"},
    {"norelaying", "i cannot deliver mail for"},
    /* requireptr */
    {"requireptr", "reverse dns"},
    {"requireptr", "reverse-dns"},
    {"requireptr", "no ptr"},
    {"requireptr", "ptr record"},
    {"requireptr", "reverse lookup"},
    {"requireptr", "rdns"},
    {"requireptr", "reverse hostname"},
    {"requireptr", "cannot find your hostname"},
    {"requireptr", "cannot resolve your"},
    {"requireptr", "iprev"},
    {"requireptr", "ip name lookup failed"},
    {"requireptr", "mismatches client ip"},
    {"requireptr", "unverifyable sending ip"}, /* sic, the MTA's spelling */
    {"requireptr", "unverifiable sending ip"},
    {"requireptr", "ptr resource record"}, /* GMX: "invalid DNS PTR resource record" */
    {"requireptr", "ptr lookup"},
    {"requireptr", "ptr mismatch"},
    /* badreputation */
    {"badreputation", "reputation"},
    {"badreputation", "[tss04]"}, /* Yahoo: volume or complaints (provider.c) */
    /* a listed URL is in the message, not about the sending host:
	 * above the block-list words it contains */
    {"spamdetected", "blacklisted url"},
    {"spamdetected", "blocklisted url"},
    {"spamdetected", "uribl"},
    /* toomanyconn and speeding: above the blocked words, as their
     * replies name the client ("too many connections from your IP") */
    /* a recipient count per hour is a rate, above "too many recipients" */
    {"speeding", "recipients received this hour"},
    /* toomanyconn */
    {"toomanyconn", "too many connections"},
    {"toomanyconn", "too many simultaneous"},
    {"toomanyconn", "connection rate limit"},
    {"toomanyconn", "too many recipients"},
    {"toomanyconn", "too many concurrent"},
    {"toomanyconn", "too many sessions"},
    {"toomanyconn", "too many smtp"}, /* "Too many SMTP sessions/connections" */
    {"toomanyconn", "too many open connections"},
    {"toomanyconn", "number of connections"},
    {"toomanyconn", "connection limit"},
    {"toomanyconn", "max connections"},
    {"toomanyconn", "maximum connections"},
    {"toomanyconn", "connect rate limit"},           /* Haraka */
    {"toomanyconn", "connection frequency limited"}, /* Tencent QQ */
    /* speeding */
    {"speeding", "receiving mail at a rate"},
    {"speeding", "rate limit"},
    {"speeding", "rate-limit"},
    {"speeding", "ratelimit"},
    {"speeding", "sending too fast"},
    {"speeding", "too many messages"},
    {"speeding", "rate exceeded"},
    {"speeding", "throttl"},
    /* Postfix anvil's "too much mail from <client>": above the
     * mailbox words "too much mail" */
    {"speeding", "too much mail from"},
    /* a sender's own daily allowance ("Daily user sending quota
     * exceeded"): above the mailbox "quota exceeded" */
    {"speeding", "sending quota"},
    {"speeding", "sending limit"},
    {"speeding", "reached your daily limit"},
    {"speeding", "daily limit for"},
    {"speeding", "hourly"},                 /* "hourly message quota", "hourly sending limit" */
    {"speeding", "message limit exceeded"}, /* "Daily message limit exceeded" */
    {"speeding", "limits for how many messages"},
    {"speeding", "submission rate"},
    {"speeding", "sending rate"},
    {"speeding", "rate too high"},
    {"speeding", "too quickly"},       /* "receiving mail too quickly" */
    {"speeding", "frequency limited"}, /* Tencent QQ: IP, domain or sender */
    /* blocked */
    {"blocked", "blacklisted"},
    {"blocked", "blocklisted"},
    {"blocked", "blacklist"},
    {"blocked", "blocklist"},
    {"blocked", "block list"},
    {"blocked", "black list"},
    {"blocked", "listed in"},
    {"blocked", "listed on"},
    {"blocked", "spamhaus"},
    {"blocked", "spamcop"},
    {"blocked", "dnsbl"},
    {"blocked", " rbl"},
    {"blocked", "banned sending ip"},
    {"blocked", "client host rejected"},
    {"blocked", "your ip"},
    {"blocked", "sender ip"},
    {"blocked", "has been blocked"},
    {"blocked", "blocked using"},
    {"blocked", "connection refused"},
    {"blocked", "my name was rejected"},
    {"blocked", "helo command rejected"},
    {"rejected", "access denied, banned sender"}, /* Microsoft 5.7.511 */
    {"blocked", "access denied, banned"},
    /* Microsoft 365: "5.7.708 Service unavailable. Access denied,
     * traffic not accepted from this IP", "5.7.750 ... Client blocked
     * from sending from unregistered domains": the sending host is
     * refused, above the generic "service unavailable" */
    {"blocked", "traffic not accepted from this ip"},
    {"blocked", "client blocked"},
    {"blocked", "open relay"},
    {"blocked", "may not be mail exchanger"},
    {"blocked", "not accepting connections"},
    {"blocked", "invalid ip for sending"},
    {"blocked", ":blocked)"}, /* Barracuda: "(a@b:blocked)" */
    {"blocked", "greylist"},  /* "Greylisted, try again": not trusted yet */
    {"blocked", "graylist"},
    {"blocked", "blocked - see"}, /* Proofpoint: "Blocked - see <lookup URL>" */
    {"blocked", "the ip you're using"},
    {"blocked", "dynamically-assigned"},
    {"blocked", "dynamic ip"},
    {"blocked", "dialup"},
    {"blocked", "permanently deferred"}, /* Yahoo [TS03]: "will be permanently deferred" */
    {"blocked", "invalid helo"},
    {"blocked", "helo/ehlo must"},
    {"blocked", "access to submit messages"}, /* IronPort's refusal of a client */
    /* spamdetected */
    {"spamdetected", "message content rejected"},
    /* Symantec Email Security.cloud's wording for its spam verdict */
    {"spamdetected", "unacceptable content"},
    {"spamdetected", "spam"},
    {"spamdetected", "junk mail"},
    {"spamdetected", "unsolicited"},
    {"spamdetected", "bulk mail"},
    {"spamdetected", "content filter rejection"},
    {"spamdetected", "bulk email"},
    {"spamdetected", "phishing"},
    {"spamdetected", "as junk"},
    {"spamdetected", "as bulk"},
    {"spamdetected", "mail content denied"}, /* Tencent QQ */
    {"spamdetected", "垃圾邮件"},            /* "junk mail" */
    /* mailboxfull */
    {"mailboxfull", "mailbox full"},
    {"mailboxfull", "mailbox exceeds allowed size"},
    {"mailboxfull", "mailbox is full"},
    {"mailboxfull", "mailbox has exceeded"},
    {"mailboxfull", "quota exceeded"},
    {"mailboxfull", "over quota"},
    {"mailboxfull", "overquota"},
    {"mailboxfull", "exceeded storage"},
    {"mailboxfull", "disk quota"},
    {"mailboxfull", "quota"},
    {"mailboxfull", "user is over"},
    {"mailboxfull", "mailbox size limit"},
    {"mailboxfull", "too much mail"},
    {"mailboxfull", "full mailbox"},
    {"mailboxfull", "mail box full"},
    {"mailboxfull", "mailfolder is full"},
    {"mailboxfull", "account is full"},
    {"mailboxfull", "mailbox exceeded"},
    {"mailboxfull", "boite pleine"},
    {"mailboxfull", "postfach voll"},
    {"mailboxfull", "postfach ist voll"},
    {"mailboxfull", "postfach des empf\xc3\xa4ngers ist voll"}, /* Empfängers */
    {"mailboxfull", "bo\xc3\xaete pleine"},                     /* boîte pleine */
    {"mailboxfull", "bo\xc3\xaete aux lettres pleine"},         /* boîte aux lettres pleine */
    {"mailboxfull", "casella piena"},
    {"mailboxfull", "buz\xc3\xb3n lleno"}, /* buzón lleno */
    /* the same languages: "the mailbox is full" */
    {"mailboxfull", "переполнен"},
    {"mailboxfull", "邮箱已满"},
    {"mailboxfull", "信箱已滿"},
    {"mailboxfull", "메일함이 가득"},
    {"mailboxfull", "posta kutusu dolu"},
    {"mailboxfull", "schránka je plná"},
    {"mailboxfull", "postkassen er full"},
    {"mailboxfull", "postkassen er fuld"},
    {"mailboxfull", "postilaatikko on täynnä"},
    {"mailboxfull", "postafiók megtelt"},
    {"mailboxfull", "insufficient storage"},
    {"mailboxfull", "exceeded the local limit"},
    {"mailboxfull", "mailbox size exceeded"},
    {"mailboxfull", "inbox is full"},
    {"mailboxfull", "over the storage limit"},
    {"mailboxfull", "mailbox has reached"},
    {"mailboxfull", "exhausted allowed storage"},
    {"mailboxfull", "mailbox voll"},
    {"mailboxfull", "casella di posta piena"},
    {"mailboxfull", "está lleno"}, /* (el buzón) está lleno */
    {"mailboxfull", "caixa postal cheia"},
    {"mailboxfull", "caixa de correio cheia"},
    {"mailboxfull", "mailbox is vol"},
    {"mailboxfull", "postbus is vol"},
    {"mailboxfull", "brevlådan är full"},
    {"mailboxfull", "jest pełna"}, /* (skrzynka) jest pełna */
    {"mailboxfull", "空间不足"},   /* "not enough space" */
    {"mailboxfull", "メールボックスがいっぱい"},
    /* exceedlimit */
    {"exceedlimit", "message length exceeds administrative limit"},
    {"exceedlimit", "exceeds the size limit for"},
    /* mesgtoobig */
    {"mesgtoobig", "message too large"},
    {"mesgtoobig", "message is larger than"},
    {"mesgtoobig", "exceeds the maximum size"},
    {"mesgtoobig", "message too big"},
    {"mesgtoobig", "message size exceeds"},
    {"mesgtoobig", "message is too large"},
    {"mesgtoobig", "message is too big"},
    {"mesgtoobig", "exceeds size limit"},
    {"mesgtoobig", "size limit"},
    {"mesgtoobig", "message length exceeds"},
    {"mesgtoobig", "mail size limit"},
    {"mesgtoobig", "exceeds maximum message size"},
    {"mesgtoobig", "message exceeds the maximum"},
    {"mesgtoobig", "size exceeds"},
    {"mesgtoobig", "too large"},
    {"mesgtoobig", "line limit exceeded"},
    {"mesgtoobig", "exceeds maximum fixed size"},
    {"mesgtoobig", "exceeds maximum size"},
    {"mesgtoobig", "size over"},
    {"mesgtoobig", "exceeds maximum allowed"},
    {"mesgtoobig", "maximum message size"},
    {"mesgtoobig", "message file too big"}, /* Postfix cleanup */
    {"mesgtoobig", "message too long"},
    {"mesgtoobig", "zu groß"}, /* (Nachricht) zu groß */
    {"mesgtoobig", "trop volumineux"},
    {"mesgtoobig", "demasiado grande"},
    /* suspend */
    {"suspend", "account disabled"},
    {"suspend", "account has been disabled"},
    {"suspend", "mailbox disabled"},
    {"suspend", "mailbox is disabled"},
    {"suspend", "account is disabled"},
    {"suspend", "suspended"},
    {"suspend", "account is locked"},
    {"suspend", "inactive"},
    {"suspend", "mailbox is frozen"},
    {"suspend", "deactivated"},
    {"suspend", "no longer active"},
    {"suspend", "account expired"},
    {"suspend", "temporarily disabled"},
    {"suspend", "not active"},
    {"suspend", "recipient account is blocked"},
    {"suspend", "compte du destinataire est bloque"},
    {"suspend", "account has been locked"},
    {"suspend", "account has expired"},
    {"suspend", "unavailable: account is blocked"}, /* Mail.ru */
    {"suspend", "deaktiviert"},
    {"suspend", "désactiv"}, /* (compte) désactivé */
    {"suspend", "cuenta deshabilitada"},
    {"suspend", "cuenta suspendida"},
    /* hasmoved */
    {"hasmoved", "has moved"},
    {"hasmoved", "user has moved"},
    {"hasmoved", "no longer here"},
    {"hasmoved", "address has changed"},
    {"hasmoved", "user not local"}, /* RFC 5321's 551 text */
    /* spoofing is a security verdict even when it names the sender
     * ("sender domain spoofing detected"): above the rejected words */
    {"securityerror", "spoof"},
    {"securityerror", "on behalf of"}, /* "not permitted to send on behalf of" */
    /* rejected */
    {"rejected", "sender address rejected"},
    {"rejected", "sender rejected"},
    {"rejected", "domain of sender address"},
    {"rejected", "sender domain"},
    {"rejected", "sender verify failed"},
    {"rejected", "sender not allowed"},
    {"rejected", "invalid sender"},
    {"rejected", "sender is not allowed"},
    {"rejected", "sender denied"},
    {"rejected", "bad sender"},
    {"rejected", "sender was rejected"},
    {"rejected", "envelope sender"},
    /* "Administrative prohibition - envelope blocked" (Mimecast and
     * Exim ACLs): the envelope, its sender, is what was refused */
    {"rejected", "envelope blocked"},
    /* Exim's default text for an ACL "deny": sites deny mostly on the
     * sender's standing (its address, its domain's records), as other
     * readers of bounces take it too */
    {"rejected", "administrative prohibition"},
    {"rejected", "address verification failed"},
    {"rejected", "unroutable sender"},
    {"rejected", "purported responsible address"},
    {"rejected", "not a member of this mailing list"}, /* the sender is refused */
    /* a gateway (mail to fax, to SMS) that takes mail from its registered
     * users only: the sender is refused */
    {"rejected", "not a registered gateway user"},
    /* Office 365 at DATA, after taking every recipient: its connector
     * refuses the sending side (the single-address form at RCPT,
     * "Recipient address rejected: Access denied", is the directory's) */
    {"rejected", "all recipient addresses rejected : access denied"},
    /* Sendmail's access-map refusal "550 5.7.1 <addr>... Access denied"
	 * (the address is blanked before matching) and Postfix's
	 * "Delivery not authorized": the sender lacks the standing the
	 * site requires. Below the words naming the sender as the refused
	 * part ("sender was rejected"), above the address ones */
    {"securityerror", ">... access denied"},
    {"securityerror", "delivery not authorized"},
    {"securityerror", "resolver.rst.notauthorized"}, /* Microsoft: not allowed to send to it */
    {"securityerror", "anti-spoofing"},
    /* Microsoft: a group that takes mail from listed or signed-in
     * senders only */
    {"securityerror", "resolver.rst.sendernotauth"},
    {"securityerror", "resolver.rst.authrequired"},
    /* filtered */
    {"filtered", "refused by recipient"},
    {"filtered", "rejected by recipient"},
    {"filtered", "blocked by user"},
    {"filtered", "filtered"},
    {"filtered", "recipient preferences"},
    {"filtered", "badrcptto"},
    {"filtered", "this user doesn't have a"},
    {"filtered", "sieve"}, /* the recipient's Sieve script (RFC 5429 reject) */
    {"filtered", "recipient has blocked"},
    {"filtered", "mail rules"}, /* the recipient's own rules */
    /* notaccept: the domain says it takes no mail (RFC 7505 null MX) */
    {"notaccept", "null mx"},
    {"notaccept", "doesn't receive email"},
    {"notaccept", "does not receive email"},
    /* hostunknown worded as a DNS answer (Postfix: NXDOMAIN) */
    {"hostunknown", "all relevant mx records point to non-existent hosts"}, /* Exim */
    {"hostunknown", "host or domain name not found"},
    /* networkerror */
    {"networkerror", "dns error"},
    {"networkerror", "name service error"},
    {"networkerror", "malformed or unexpected name server reply"},
    {"networkerror", "host name lookup failure"},
    {"networkerror", "lost connection"},
    {"networkerror", "mail forwarding loop"}, /* Postfix */
    {"networkerror", "mail loop"},
    {"networkerror", "loops back to myself"},
    {"networkerror", "too many hops"},
    {"networkerror", "hop count exceeded"},
    {"networkerror", "maximum hop count"}, /* Notes: "has exceeded maximum hop count" */
    {"networkerror", "network is unreachable"},
    {"networkerror", "no route to host"},
    {"networkerror", "temporary failure in name resolution"},
    {"networkerror", "dns lookup"},
    {"networkerror", "unable to connect"},
    {"networkerror", "network error"},
    {"networkerror", "wasn't able to establish an smtp connection"},
    {"networkerror", "forwarding loop"},
    {"networkerror", "loop detected"},
    {"networkerror", "message is looping"}, /* qmail */
    {"networkerror", "configured in a loop"},
    {"networkerror", "connection dropped"},
    {"networkerror", "dns temporary failure"},
    {"networkerror", "dns failure"},
    {"networkerror", "mx lookup"},
    {"networkerror", "name resolution"},
    {"networkerror", "dns resolution"},
    {"networkerror", "unable to resolve"},
    {"networkerror", "servfail"},
    /* hostunknown */
    /* Lotus Notes: "No route found to domain example.com from server
     * X": no way to the recipient's domain */
    {"hostunknown", "no route found to domain"},
    {"hostunknown", "host not found"},
    {"hostunknown", "host unknown"},
    {"hostunknown", "unknown host"},
    {"hostunknown", "domain not found"},
    {"hostunknown", "no such domain"},
    {"hostunknown", "domain does not exist"},
    {"hostunknown", "domain doesn't exist"},
    {"hostunknown", "name or service not known"},
    {"hostunknown", "couldn't find any host named"},
    {"hostunknown", "unrouteable mail domain"},
    {"hostunknown", "nxdomain"},
    {"hostunknown", "domain name not found"},
    {"hostunknown", "unknown domain"},
    {"hostunknown", "no such host"},
    {"hostunknown", "not a registered domain"},
    {"hostunknown", "recipient domain not found"},
    {"hostunknown", "domain is not reachable"},
    {"hostunknown", "domain name does not exist"},
    {"hostunknown", "nonexistent domain"},
    {"hostunknown", "point to non-existent hosts"}, /* Exim: every MX names no host */
    /* userunknown */
    {"userunknown", "user unknown"},
    {"userunknown", "requested action not taken: mailbox unavailable"},
    {"userunknown", "wasn't found at the destination domain"},
    {"userunknown", "wasn\u2019t found at the destination domain"},
    {"userunknown", "recipient address rejected: access denied"},
    {"userunknown", "address couldn't be found"},
    {"userunknown", "invalid final delivery userid"},
    {"userunknown", "unknown user"},
    {"userunknown", "no such user"},
    {"userunknown", "no such local user"},
    {"userunknown", "user is unknown"},
    {"userunknown", "no such mailbox"},
    {"userunknown", "no such recipient"},
    {"userunknown", "no such account"},
    {"userunknown", "no such address"},
    {"userunknown", "no such person"},
    {"userunknown", "user not found"},
    {"userunknown", "recipient not found"},
    {"userunknown", "address not found"},
    {"userunknown", "unknown recipient"},
    {"userunknown", "unknown mailbox"},
    {"userunknown", "unknown address"},
    {"userunknown", "invalid recipient"},
    {"userunknown", "invalid mailbox"},
    {"userunknown", "mailbox not found"},
    {"userunknown", "mailbox unavailable"},
    {"userunknown", "mailbox does not exist"},
    {"userunknown", "does not exist"},
    {"userunknown", "doesn't exist"},
    {"userunknown", "user doesn't have"},
    {"userunknown", "account does not exist"},
    {"userunknown", "no mailbox here"},
    {"userunknown", "not a valid mailbox"},
    {"userunknown", "addressee unknown"},
    {"userunknown", "recipient unknown"},
    {"userunknown", "bad destination mailbox"},
    {"userunknown", "unrouteable address"},
    {"userunknown", "user does not exist"},
    {"userunknown", "unknown local part"},
    {"userunknown", "not a valid recipient"},
    {"userunknown", "please check if address is correct"},
    {"userunknown", "there is no one at this address"},
    {"userunknown", "user invalid"},
    {"userunknown", "mailbox not available"},
    {"userunknown", "user not exist"},
    {"userunknown", "unknown or illegal alias"},
    {"userunknown", "unknown local user"},
    {"userunknown", "validrcptto"}, /* qmail's list of valid recipients */
    {"userunknown", "utilisateur inconnu"},
    {"userunknown", "adresse inconnue"},
    {"userunknown", "inesistente"}, /* (utente, indirizzo) inesistente */
    {"userunknown", "usuário desconhecido"},
    {"userunknown", "destinatário desconhecido"},
    {"userunknown", "utilizador desconhecido"},
    {"userunknown", "não existe"},
    {"userunknown", "bestaat niet"},
    {"userunknown", "finns inte"},
    {"userunknown", "nie istnieje"},
    {"userunknown", "destinataire inconnu"},
    {"userunknown", "existiert nicht"}, /* (das Postfach) existiert nicht */
    {"userunknown", "n'existe pas"},    /* (l'adresse) n'existe pas */
    {"userunknown", "no existe"},       /* (el buzón) no existe */
    {"userunknown", "non esiste"},      /* (la casella) non esiste */
    {"userunknown", "utente sconosciuto"},
    {"userunknown", "destinatario sconosciuto"},
    {"userunknown", "usuario desconocido"},
    {"userunknown", "destinatario desconocido"},
    {"userunknown", "onbekende gebruiker"},
    {"userunknown", "unbekannt"},
    {"userunknown", "見つかりません"},
    /* Russian, Chinese (simplified, traditional), Korean, Turkish,
     * Czech, Norwegian, Danish, Finnish, Hungarian: "does not exist" and
     * "no such user" as local servers word them (lower-case forms: the
     * table is matched after ASCII-only lower-casing) */
    {"userunknown", "не существует"},
    {"userunknown", "нет такого пользователя"},
    {"userunknown", "用户不存在"},
    {"userunknown", "收件人不存在"},
    {"userunknown", "用戶不存在"},
    {"userunknown", "收件者不存在"},
    {"userunknown", "존재하지 않는"},
    {"userunknown", "kullanıcı bulunamadı"},
    {"userunknown", "neexistuje"},
    {"userunknown", "finnes ikke"},
    {"userunknown", "findes ikke"},
    {"userunknown", "ei ole olemassa"},
    {"userunknown", "nem létezik"},
    /* the table is matched after ASCII-only lower-casing, so a
     * sentence that opens with the Cyrillic word needs its capital */
    {"userunknown", "пользователь не найден"},
    {"userunknown", "Пользователь не найден"},
    {"userunknown", "ящик не найден"},
    {"userunknown", "地址不存在"},
    {"userunknown", "邮箱不存在"},
    {"userunknown", "존재하지 않습니다"},

    {"userunknown", "存在しません"},
    /* securityerror */
    {"securityerror", "authentication required"},
    {"securityerror", "unauthenticated senders"},
    {"securityerror", "must use tls"},
    {"securityerror", "starttls"},
    {"securityerror", "encryption required"},
    {"securityerror", "tls required"},
    {"securityerror", "requires tls"},
    {"securityerror", "tls is required"},
    {"securityerror", "authentication is required"},
    {"securityerror", "must authenticate"},
    {"securityerror", "forged"},
    {"securityerror", "authentication failed"},
    {"securityerror", "not authorized to send"},
    {"securityerror", "smtp authentication"},
    {"securityerror", "security polic"}, /* "rejected due to security policies" */
    {"securityerror", "not authenticated"},
    {"securityerror", "permissions to send as"},
    {"securityerror", "invalid credentials"},
    {"securityerror", "encryption needed"},   /* RFC 4954's 523 5.7.10 */
    {"securityerror", "credentials invalid"}, /* RFC 4954's 535 5.7.8 text */
    /* notcompliantrfc: above policyviolation, as "Message not allowed
     * - Headers are not RFC compliant" names the cause second */
    {"notcompliantrfc", "rfc 5322"},
    {"notcompliantrfc", "rfc5322"},
    {"notcompliantrfc", "rfc 2822"},
    {"notcompliantrfc", "rfc2822"},
    {"notcompliantrfc", "multiple addresses in from"},
    {"notcompliantrfc", "not rfc compliant"},
    {"notcompliantrfc", "not compliant with rfc"},
    {"notcompliantrfc", "missing a valid address in from"}, /* Gmail */
    /* RFC 5322 3.6: Date and From are required */
    {"notcompliantrfc", "missing required header"},
    {"notcompliantrfc", "missing date header"},
    {"notcompliantrfc", "missing from header"},
    /* policyviolation */
    {"policyviolation", "policy reasons"},
    {"policyviolation", "message not allowed"},
    {"policyviolation", "local policy"},
    {"policyviolation", "violates"},
    {"policyviolation", "policy rejection"},
    {"policyviolation", "prohibited"},
    {"policyviolation", "header error"},
    {"policyviolation", "policy restriction"},
    {"policyviolation", "content policy"},
    {"policyviolation", "content restrictions"},
    {"policyviolation", "rejected by policy"},
    {"policyviolation", "external forwarding"},
    /* attachment rules: a file type the site refuses, above the
     * "blocked" and "virus" words some carry */
    {"policyviolation", "potential security issue"}, /* Gmail's attachment check */
    {"policyviolation", "illegal attachment"},
    {"policyviolation", "attachment not allowed"},
    {"policyviolation", "attachments of this type"},
    {"policyviolation", "attachment type"},
    {"policyviolation", "attachment is blocked"},
    {"policyviolation", "executable attachment"},
    {"policyviolation", "executable content"},
    {"policyviolation", "unacceptable attachment"},
    {"policyviolation", "password-protected"},
    {"policyviolation", "macro-enabled"},
    {"policyviolation", "data loss prevention"},
    /* any other refusal that names an attachment: below the virus
     * ("infected attachment") and size ("attachment too large") words */
    {"policyviolation", "attachment"},
    {"policyviolation", "due to policy"},
    {"policyviolation", "- banned:"}, /* amavis: "Reject, id=... - BANNED: ..." */
    /* contenterror */
    {"contenterror", "invalid header"},
    {"contenterror", "malformed"},
    {"contenterror", "mime error"},
    {"contenterror", "content rejected"},
    {"contenterror", "invalid mime"},
    {"contenterror", "bare newline"},
    {"contenterror", "nul character"},
    /* AOL: "not accepting mail from <sender>" is the recipient's own
     * mail controls refusing that sender, not a host that takes none */
    {"filtered", "not accepting mail from"},
    /* notaccept */
    {"notaccept", "does not accept mail"},
    {"notaccept", "null mx"},
    {"notaccept", "not accepting mail"},
    {"notaccept", "accepts no mail"},
    {"notaccept", "couldn't find a mail exchanger"},
    {"notaccept", "no mx record"},
    {"notaccept", "no mx found"},
    {"notaccept", "no smtp service"},
    /* systemfull */
    {"systemfull", "insufficient system storage"},
    {"systemfull", "system is full"},
    {"systemfull", "out of disk space"},
    {"systemfull", "disk full"},
    {"systemfull", "insufficient disk space"},
    {"systemfull", "file system full"},
    {"systemfull", "insufficient system resources"},
    {"systemfull", "no space left on device"}, /* ENOSPC, as strerror words it */
    /* systemerror */
    {"systemerror", "system error"},
    {"systemerror", "internal error"},
    {"systemerror", "server error"},
    {"systemerror", "unable to contact ldap"},
    {"systemerror", "temporary local problem"},
    {"systemerror", "local configuration error"},
    {"systemerror", "system failure"},
    {"systemerror", "service unavailable"},
    {"systemerror", "service currently unavailable"},
    {"systemerror", "insufficient permission"},
    {"systemerror", "service is currently unavailable"},
    {"systemerror", "resource temporarily unavailable"},
    {"systemerror", "error in processing"}, /* RFC 5321's 451 text */
    {"systemerror", "server configuration"},
    {"systemerror", "configuration error"},
    {"systemerror", "server temporarily unavailable"},
    {"systemerror", "server failure"},
    {"systemerror", "out of service"},
    {"systemerror", "database unavailable"},
    {"systemerror", "local delivery error"},
    {"systemerror", "configuration problem"},
    {"systemerror", "queue file write error"},
    {"systemerror", "temporary lookup failure"},
    /* syntaxerror */
    {"syntaxerror", "syntax error"},
    {"syntaxerror", "command unrecognized"},
    {"syntaxerror", "unrecognized command"},
    {"syntaxerror", "bad sequence of commands"},
    {"syntaxerror", "protocol violation"},
    /* expired */
    {"expired", "retry time exceeded"},
    {"expired", "still undelivered after"},
    /* Exim: every host kept failing until the address was given up */
    {"expired", "retry time not reached for any host"},
    {"expired", "retry timeout exceeded"},
    {"expired", "message expired"},
    {"expired", "envelope expired"},
    {"expired", "queue too long"},
    {"expired", "in the queue too long"},
    {"expired", "delivery time expired"},
    {"expired", "could not be delivered within"},
    {"expired", "could not be delivered for # hour"},
    {"expired", "could not be delivered for # day"},
    {"expired", "not delivered within"},
    {"expired", "too long in queue"},
    {"expired", "could not deliver for the last"},
    {"expired", "have been failing for a long time"},
    {"expired", "giving up"},
    {"expired", "was aborted after"},
    {"expired", "delivery failed # attempts"}, /* IMail: "failed 20 attempts" */
    {"expired", "did not accept our requests to connect"},
    {"expired", "cannot send message for # day"}, /* Sendmail */
    {"expired", "long failure period"},           /* Exim */
    {"expired", "delivery attempts exceeded"},
    {"expired", "queue for too long"},
    {"expired", "retry limit"},
    {"expired", "in the time limit"},
    {"expired", "delivery time exceeded"},
    {"expired", "delivery expired"},
    {"expired", "retry period"},
    {"expired", "queue lifetime"},
    {"expired", "timed out"},
    {"expired", "timeout"},
    /* separator: weak phrases follow */
    {"", "-- weak --"},
    /* policyviolation: weak, as an X.7.0 beside it ("Recipient address
     * rejected: Policy violation") makes it a security verdict; a site's
     * own "local policy" above is strong */
    {"policyviolation", "policy violation"},
    /* blocked: a peer that drops the connection ("Connection reset by
     * peer during result wait") is most often one refusing this client;
     * weak, as any word of its own says more */
    {"blocked", "connection reset by peer"},
    /* "Not our customer": Comcast's directory (provider.c), RFC 5321's
     * 551 elsewhere; weak, so a code beside it decides first (5.1.6 is
     * hasmoved, 5.1.1 userunknown), and alone it is most often an
     * address the site does not know */
    {"userunknown", "not our customer"},
    /* Postfix's frame for a refused greeting, "host X refused to talk
     * to me: <reply>": the reply's own words say why (too many
     * connections, a policy), and a greeting refused without reason is
     * blocked by its command (reason.c) */
    {"blocked", "refused to talk to me"},
    /* single words that lean one way when nothing stronger matched and
     * the status code says nothing: a refusal worded around relaying
     * ("Mail relaying is not allowed"; weak, so that Hotmail's "does not
     * relay dynamically-assigned IP ranges" keeps its block words), a
     * policy, a disabled account */
    {"norelaying", "relaying"},
    {"norelaying", "not relay"},
    {"policyviolation", "policy"},
    {"suspend", "disabled"},
    /* "blocked by <what>": the words around it name the cause when
     * they can ("by spam filter", "content blocked by policy"); a bare
     * block by an unnamed party is the client's */
    {"blocked", "blocked by"},
    /* userunknown */
    {"userunknown", "recipient address rejected"},
    {"userunknown", "address rejected"},
    {"userunknown", "invalid address"},
    {"userunknown", "no mailbox"},
    {"systemerror", "try again later"},
    {NULL, NULL},
};

/*
 * The index: entries grouped by the 16-bit key of their first two bytes
 * (counting sort, table order kept inside a group), so a scan of the
 * text looks at the few phrases that can start at each position. Built
 * once, on first use, under pthread_once: the parser is called from
 * worker threads, and two threads building the index at once would
 * each see the other's half-filled counts. After that it is read only.
 */
#define NPHRASE_MAX 1024

static uint16_t bucket_start[65537];
static uint16_t bucket_items[NPHRASE_MAX];
static uint8_t phrase_len[NPHRASE_MAX];
static uint8_t pair_bits[65536 / 8]; /* bit k: some phrase starts with key k */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static size_t weak_sep;              /* index of the "-- weak --" separator */
static bool has_digits[NPHRASE_MAX]; /* phrase holds a '#' wildcard */

/* digits_match - text p starts with phrase w, where each '#' in w stands
 * for a run of one or more digits ("delivery failed # attempts" reads
 * "delivery failed 20 attempts"): counts and sizes vary, the words not */
static bool digits_match(const char *p, const char *w)
{
	for (; *w; w++) {
		if (*w == '#') {
			if (!isdigit((unsigned char)*p))
				return false;
			while (isdigit((unsigned char)*p))
				p++;
		} else if (*p++ != *w) {
			return false;
		}
	}
	return true;
}

static unsigned key_of(const char *p)
{
	return (unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1];
}

static void index_build(void)
{
	static uint16_t count[65536];
	size_t n = 0;

	for (; bounce_phrases[n].phrase && n < NPHRASE_MAX; n++) {
		size_t l = strlen(bounce_phrases[n].phrase);
		if (!bounce_phrases[n].reason[0] && !weak_sep)
			weak_sep = n;
		phrase_len[n] = (uint8_t)(l > 255 ? 255 : l);
		/* a wildcard in the two key bytes could not be indexed */
		has_digits[n] =
		    strchr(bounce_phrases[n].phrase, '#') != NULL &&
		    strchr(bounce_phrases[n].phrase, '#') - bounce_phrases[n].phrase >= 2;
		/* the separator and one-byte phrases never match by key */
		if (bounce_phrases[n].reason[0] && l >= 2)
			count[key_of(bounce_phrases[n].phrase)]++;
	}
	bucket_start[0] = 0;
	for (unsigned k = 0; k < 65536; k++)
		bucket_start[k + 1] = (uint16_t)(bucket_start[k] + count[k]);
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++) {
		if (!bounce_phrases[i].reason[0] || phrase_len[i] < 2)
			continue;
		unsigned k = key_of(bounce_phrases[i].phrase);
		bucket_items[bucket_start[k] + count[k]++] = (uint16_t)i;
		pair_bits[k >> 3] |= (uint8_t)(1u << (k & 7));
	}
}

size_t bounce_phrase_weak_start(void)
{
	pthread_once(&index_once, index_build);
	return weak_sep;
}

long bounce_phrase_find(const char *text, size_t lo, size_t hi)
{
	long best = -1;

	pthread_once(&index_once, index_build);
	for (const char *p = text; p[0] && p[1]; p++) {
		unsigned k = key_of(p);
		/* a small bit set (fits in cache) rejects most positions
		 * before the large bucket table is touched */
		if (!(pair_bits[k >> 3] & (1u << (k & 7))))
			continue;
		for (unsigned j = bucket_start[k]; j < bucket_start[k + 1]; j++) {
			size_t i = bucket_items[j];
			if (i < lo || i >= hi || (best >= 0 && (long)i >= best))
				continue;
			/* the key matched the first two bytes; the rest is
			 * compared inline (stops at the text's NUL, which
			 * differs from any phrase byte) */
			if (has_digits[i]
			        ? digits_match(p, bounce_phrases[i].phrase)
			        : bounce_prefix_at(p, bounce_phrases[i].phrase, phrase_len[i], 2))
				best = (long)i;
		}
		if (best == (long)lo)
			break;
	}
	return best;
}
