/*
 * fuzz_smtp_address.c - the path parser, xtext, domain syntax and the relay
 * decision on untrusted bytes.
 *
 * Invariants checked: an accepted path is within the RFC 5321 limits and
 * its domain re-validates; xtext that decodes re-encodes
 * to text that decodes the same; encoded text always decodes back; the relay
 * decision for an untrusted client accepts only local domains or
 * postmaster.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp.h"

static struct smtp_relay *relay;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct smtp_path p;
	struct smtp_error err;
	const char *end;
	char dec[1024], enc[3100], back[1024];
	int n;

	if (relay == NULL) {
		char e[200];
		relay = smtp_relay_new("192.0.2.0/24", "local.example", e, sizeof(e));
		if (relay == NULL)
			abort();
	}
	for (int allow_null = 0; allow_null < 2; allow_null++) {
		if (smtp_parse_path(s, size, allow_null, &p, &end, &err) == 0) {
			size_t dl = strlen(p.domain);
			if (end < s || end > s + size || strlen(p.local) > SMTP_LOCAL_MAX ||
			    strlen(p.addr) > SMTP_PATH_MAX - 2)
				abort();
			if (dl > 0 && !smtp_domain_valid(p.domain, dl))
				abort();
			/* the relay decision sees the same domain the parser found */
			if (!p.is_null) {
				const char *d = smtp_addr_domain(p.addr);
				if (d == NULL ? dl != 0 : strcmp(d, p.domain) != 0)
					abort();
				if (smtp_relay_allowed(relay, "198.51.100.1", p.addr) &&
				    (d == NULL ? strcasecmp(p.addr, "postmaster") != 0
					       : !smtp_relay_domain_local(relay, d)))
					abort();
			}
		} else if (err.code != 501) {
			abort();
		}
	}
	smtp_domain_valid(s, size);

	n = smtp_xtext_decode(s, size, dec, sizeof(dec));
	if (n >= 0) {
		if ((size_t)n != strlen(dec))
			abort();
		/* "+21" and "!" both mean '!', so compare decoded forms: the
		 * re-encoded text must decode to the same bytes */
		if (smtp_xtext_encode(dec, enc, sizeof(enc)) < 0 ||
		    smtp_xtext_decode(enc, strlen(enc), back, sizeof(back)) != n ||
		    strcmp(back, dec) != 0)
			abort();
	}
	if (size < sizeof(back)) {
		char text[1024];
		memcpy(text, s, size);
		text[size] = '\0';
		if (smtp_xtext_encode(text, enc, sizeof(enc)) < 0)
			abort();
		if (smtp_xtext_decode(enc, strlen(enc), back, sizeof(back)) != (int)strlen(text) ||
		    strcmp(back, text) != 0)
			abort();
	}
	return 0;
}
