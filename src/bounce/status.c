/*
 * status.c - the RFC 3463 enhanced status code of a record: which code to
 * report when the reporting MTA's Status and the remote's own reply
 * disagree or say little, and the reason a code alone implies.
 *
 * The reporting MTA writes Status (RFC 3464 2.3.4); the remote's reply,
 * quoted in Diagnostic-Code (2.3.6), often carries a more specific code
 * of its own. The remote knew why, so its code wins when it is of the
 * same class: over X.0.0 ("undefined"), over the reporting MTA's own
 * X.4.7 ("delivery time expired", the last reply that kept failing is the
 * cause), and over a Status the reporting MTA guessed (Sendmail files
 * many 550 replies under 5.1.1).
 *
 * Nothing here fails: a record without codes is left as it is.
 */
#include <ctype.h>
#include <string.h>

#include "bounce/internal.h"

/* RFC 3463 section 3 subject.detail -> reason, for codes whose meaning
 * is one reason; class is ignored. X.7.1 and X.0.0 say too little. */
static const struct {
	const char *code; /* "subject.detail" */
	const char *reason;
} status_table[] = {
    {"1.1", "userunknown"},  /* bad destination mailbox address */
    {"1.2", "hostunknown"},  /* bad destination system address */
    {"1.3", "userunknown"},  /* bad destination mailbox address syntax */
    {"1.4", "userunknown"},  /* destination mailbox address ambiguous */
    {"1.6", "hasmoved"},     /* destination mailbox has moved */
    {"1.7", "rejected"},     /* bad sender's mailbox address syntax */
    {"1.8", "rejected"},     /* bad sender's system address */
    {"1.10", "notaccept"},   /* RFC 7505 null MX */
    {"2.0", "filtered"},     /* the mailbox exists, something about it refused */
    {"2.1", "suspend"},      /* mailbox disabled */
    {"2.2", "mailboxfull"},  /* mailbox full */
    {"2.3", "exceedlimit"},  /* message length exceeds administrative limit */
    {"2.4", "systemerror"},  /* mailing list expansion problem */
    {"3.1", "systemfull"},   /* mail system full */
    {"3.2", "notaccept"},    /* system not accepting network messages */
    {"3.4", "mesgtoobig"},   /* message too big for system */
    {"3.5", "systemerror"},  /* system incorrectly configured */
    {"4.1", "expired"},      /* no answer from host */
    {"4.2", "networkerror"}, /* bad connection */
    {"4.3", "systemerror"},  /* directory server failure */
    {"4.4", "hostunknown"},  /* unable to route */
    {"4.6", "networkerror"}, /* routing loop detected */
    {"4.7", "expired"},      /* delivery time expired */
    /* X.5.0 "other or undefined protocol status" names nothing: remote
	 * servers put it on any refusal; the reply code says more (below) */
    {"5.1", "syntaxerror"},    /* invalid command */
    {"5.2", "syntaxerror"},    /* syntax error */
    {"5.3", "toomanyconn"},    /* too many recipients */
    {"5.4", "syntaxerror"},    /* invalid command arguments */
    {"6.0", "contenterror"},   /* other or undefined media error */
    {"6.1", "contenterror"},   /* media not supported */
    {"6.2", "contenterror"},   /* conversion required and prohibited */
    {"6.3", "contenterror"},   /* conversion required but not supported */
    {"7.0", "securityerror"},  /* other or undefined security status */
    {"7.2", "norelaying"},     /* mailing list expansion prohibited */
    {"7.6", "securityerror"},  /* cryptographic algorithm not supported */
    {"7.7", "securityerror"},  /* message integrity failure */
    {"7.8", "securityerror"},  /* RFC 4954: authentication credentials invalid */
    {"7.9", "securityerror"},  /* RFC 4954: mechanism too weak */
    {"7.11", "securityerror"}, /* RFC 4954: encryption required */
    {"7.13", "suspend"},       /* RFC 3463bis: user account disabled */
    {"7.14", "securityerror"}, /* trust relationship required */
    {"7.15", "securityerror"}, /* priority level too low */
    {"7.16", "mesgtoobig"},    /* message too big for priority */
    {"7.20", "authfailure"},   /* RFC 7372: no passing DKIM signature */
    {"7.21", "authfailure"},   /* no acceptable DKIM signature */
    {"7.22", "authfailure"},   /* no valid author-matched DKIM signature */
    {"7.23", "authfailure"},   /* SPF validation failed */
    {"7.24", "authfailure"},   /* SPF validation error */
    {"7.25", "requireptr"},    /* reverse DNS validation failed */
    {"7.26", "authfailure"},   /* multiple authentication checks failed */
    {"7.27", "notaccept"},     /* RFC 7505: sender address has null MX */
    {"7.28", "spamdetected"},  /* RFC 8689? mail flood detected */
};

/* status_reason - reason implied by the enhanced code alone, or NULL */
const char *bounce_status_reason(const char *status)
{
	const char *sd = strchr(status, '.');

	if (!sd)
		return NULL;
	sd++;
	/* X.2.0 refuses for the mailbox's own reasons only when permanent: a
	 * 4.2.0 is a mailbox busy or a greylist, which the next try passes */
	if (status[0] == '4' && strcmp(sd, "2.0") == 0)
		return NULL;
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (strcmp(sd, status_table[i].code) == 0)
			return status_table[i].reason;
	return NULL;
}

/* refine_status - a Status that says little (X.0.0: undefined, X.4.7:
 * the reporting MTA's own "delivery time expired") gives way to the
 * remote server's code quoted in the diagnostic: the last specific code
 * of the same class there ("554 4.4.7 Message expired ... <421 4.4.2
 * Connection timed out>" is 4.4.2, the reply that kept failing). RFC
 * 3464 2.3.4 lets the reporting MTA choose; the remote knew why. */
static void refine_status(struct bounce_record *rec)
{
	const char *p = rec->diagnostic_code;
	char code[16], best[16] = "";

	/* Action "failed" with a class-4 Status contradicts itself (RFC
	 * 3464 2.3.3: failed is permanent); the remote's class-5 code
	 * quoted in the diagnostic settles it */
	char want = rec->status[0];
	bool contradicts = want == '4' && strcmp(rec->action, "failed") == 0;

	if (!p || !rec->status[0] || rec->status[1] != '.' ||
	    (strcmp(rec->status + 1, ".0.0") != 0 && strcmp(rec->status + 1, ".4.7") != 0 &&
	     !contradicts))
		return;
	while (*p && bounce_find_status(p, code, sizeof(code))) {
		const char *at = strstr(p, code);
		if (strcmp(code + 1, ".0.0") != 0 && strcmp(code, rec->status) != 0) {
			if (contradicts && code[0] == '5' && want != '5') {
				/* a permanent code outranks the temporary ones */
				want = '5';
				best[0] = '\0';
			}
			if (code[0] == want)
				util_strlcpy(best, code, sizeof(best));
		}
		p = at ? at + strlen(code) : p + strlen(p);
	}
	if (contradicts && want == '4' && strcmp(rec->status + 1, ".0.0") != 0 &&
	    strcmp(rec->status + 1, ".4.7") != 0)
		best[0] = '\0'; /* no permanent code: the Status stands */
	if (best[0])
		util_strlcpy(rec->status, best, sizeof(rec->status));
}

/* remote_status - a Diagnostic-Code that is the remote's reply, opening
 * with its reply code and enhanced code ("550 5.7.1 IP address
 * blacklisted"), states the cause in the remote's own code; a Status of
 * the same class that differs is the reporting MTA's guess (Sendmail
 * files every 550 under 5.1.1) and gives way to it (RFC 3464 2.3.4 and
 * 2.3.6: the diagnostic is the remote's actual words). */
static void remote_status(struct bounce_record *rec)
{
	const char *d = rec->diagnostic_code;
	char code[16];

	if (!d || !rec->status[0] || !isdigit((unsigned char)d[0]) ||
	    !isdigit((unsigned char)d[1]) || !isdigit((unsigned char)d[2]) ||
	    (d[3] != ' ' && d[3] != '-'))
		return;
	if (!bounce_find_status(d + 4, code, sizeof(code)) || code[0] != rec->status[0] ||
	    d[0] != code[0])
		return;
	/* right after the reply code, or qmail's "(#5.7.1)" as the only
	 * code in the reply */
	if (strncmp(d + 4, code, strlen(code)) != 0) {
		const char *at = strstr(d, code);
		char again[16];
		if (!at || at < d + 2 || at[-1] != '#' || at[-2] != '(' ||
		    bounce_find_status(at + strlen(code), again, sizeof(again)))
			return;
	}
	if (strcmp(code + 1, ".0.0") != 0)
		util_strlcpy(rec->status, code, sizeof(rec->status));
}

void bounce_status_refine(struct bounce_record *rec)
{
	refine_status(rec);
	remote_status(rec);
}
