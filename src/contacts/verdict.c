/*
 * verdict.c - what one address's checks mean, in the words of the report.
 *
 * Owns the verdict names and the two pure steps of a row's check:
 *   contacts_local_verdict  syntax (syntax.c) and "probable typo" (the
 *                           provider list and TLD slips of
 *                           report_suggest_domain, shared with the DSN's
 *                           "did you mean ...?"), plus the DNS key of
 *                           the domain: lower case, A-labels (IDNA 2008,
 *                           RFC 5890/5891) for U-labels
 *   contacts_dns_verdict    a lookup answer -> ok / nodomain / nomail /
 *                           dnserror (RFC 5321 section 5.1, RFC 7505)
 * Nothing here does I/O or allocates beyond libidn2's own result.
 */
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts/contacts.h"
#include "report/report.h"
#include "smtp/smtp.h"
#include "util/util.h"

static const char *const verdict_names[CONTACTS_VERDICT_COUNT] = {
    "ok", "syntax", "typo", "nodomain", "nomail", "suppressed", "dnserror",
};

const char *contacts_verdict_name(enum contacts_verdict v)
{
	return (unsigned)v < CONTACTS_VERDICT_COUNT ? verdict_names[v] : "?";
}

/* domain_key - the domain as DNS is asked for it; -1 with r set when an
 * internationalized name is not a valid IDNA 2008 name */
static int domain_key(const char *addr, const struct contacts_syntax *sx, char *domain,
                      size_t domlen, struct contacts_result *r)
{
	const char *d = addr + sx->at + 1;
	size_t len = strlen(d);
	char tmp[SMTP_DOMAIN_MAX + 1];

	if (len > 1 && d[len - 1] == '.')
		len--;
	if (len >= sizeof(tmp))
		len = sizeof(tmp) - 1;
	memcpy(tmp, d, len);
	tmp[len] = '\0';
	/* DNS knows only A-labels (RFC 5890 section 2.3.2.1): bücher.example
	 * is asked as xn--bcher-kva.example. Non-transitional processing is
	 * what IDNA 2008 registries use (ß stays ß). */
	if (sx->utf8) {
		char *ace = NULL;
		int rc = idn2_to_ascii_8z(tmp, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);

		if (rc != IDN2_OK) {
			r->v = CONTACTS_SYNTAX;
			/* the position of the domain's first character */
			size_t pos = 1;
			for (size_t i = 0; i <= sx->at; i++)
				if (((unsigned char)addr[i] & 0xC0) != 0x80)
					pos++;
			snprintf(
			    r->detail, sizeof(r->detail),
			    "position %zu: the domain is not a valid internationalized name (%s)",
			    pos, idn2_strerror(rc));
			return -1;
		}
		util_strlcpy(domain, ace, domlen);
		idn2_free(ace);
	} else {
		util_strlcpy(domain, tmp, domlen);
	}
	util_lowercase(domain);
	return 0;
}

int contacts_local_verdict(const char *addr, struct contacts_result *r, char *domain, size_t domlen)
{
	struct contacts_syntax sx;
	char fixed[300];
	const char *dom;

	memset(r, 0, sizeof(*r));
	domain[0] = '\0';
	if (contacts_syntax_check(addr, strlen(addr), &sx) < 0) {
		r->v = CONTACTS_SYNTAX;
		snprintf(r->detail, sizeof(r->detail), "position %zu: %s", sx.pos, sx.what);
		return 1;
	}
	dom = addr + sx.at + 1;
	if (sx.literal) {
		/* An address literal names a host, not a domain: nothing to look
		 * up, and it is a valid (if unusual) mailbox. */
		r->v = CONTACTS_OK;
		snprintf(r->detail, sizeof(r->detail), "address literal: not looked up in DNS");
		return 1;
	}
	/* A probable typo is not looked up: slips of big providers' names are
	 * often registered by others, so "it resolves" would prove nothing. */
	if (report_suggest_domain(dom, fixed, sizeof(fixed))) {
		r->v = CONTACTS_TYPO;
		snprintf(r->detail, sizeof(r->detail), "%s looks like a misspelling of %s", dom,
		         fixed);
		snprintf(r->suggestion, sizeof(r->suggestion), "%.*s@%s", (int)sx.at, addr, fixed);
		return 1;
	}
	if (domain_key(addr, &sx, domain, domlen, r) < 0)
		return 1;
	return 0;
}

void contacts_dns_verdict(const char *domain, const struct deliver_dns_answer *a,
                          struct contacts_result *r)
{
	memset(r, 0, sizeof(*r));
	switch (a->status) {
	case DELIVER_DNS_OK:
		r->v = CONTACTS_OK;
		if (a->implicit)
			snprintf(r->detail, sizeof(r->detail),
			         "no MX record: mail goes to the domain's own address");
		break;
	case DELIVER_DNS_NXDOMAIN:
		r->v = CONTACTS_NODOMAIN;
		snprintf(r->detail, sizeof(r->detail), "the domain %s does not exist", domain);
		break;
	case DELIVER_DNS_NULLMX:
		r->v = CONTACTS_NOMAIL;
		snprintf(r->detail, sizeof(r->detail),
		         "%s publishes a null MX (RFC 7505): it accepts no mail", domain);
		break;
	case DELIVER_DNS_NODATA:
		r->v = CONTACTS_NOMAIL;
		if (a->mx_no_addr)
			snprintf(r->detail, sizeof(r->detail),
			         "the mail servers (MX) of %s have no address", domain);
		else
			snprintf(r->detail, sizeof(r->detail),
			         "%s has no MX and no A/AAAA record: it has no mail server",
			         domain);
		break;
	case DELIVER_DNS_TEMP:
	default:
		r->v = CONTACTS_DNSERROR;
		snprintf(r->detail, sizeof(r->detail),
		         "DNS lookup of %s failed for now (%s): check again later", domain,
		         a->detail[0] ? a->detail : "no answer");
		break;
	}
}
