/*
 * domain.c - syntax of the Domain and address-literal productions of
 * RFC 5321 section 4.1.2 / 4.1.3, with the U-labels RFC 6531 section 3.3
 * adds:
 *
 *   Domain          = sub-domain *("." sub-domain)
 *   sub-domain      = Let-dig [Ldh-str] / U-label
 *   address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                           General-address-literal ) "]"
 *
 * Limits: 63 octets per label (RFC 1035 section 2.3.4), 255 for the whole
 * domain (RFC 5321 section 4.5.3.1.2). A trailing dot is not part of the
 * SMTP grammar and is refused here; the path parser strips one before
 * calling. Pure functions, no allocation.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "smtp/internal.h"

static bool is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ipv4_valid - dotted quad, 1-3 digits per part, each at most 255 */
static bool ipv4_valid(const char *s, size_t len)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
	}
	return i == len;
}

static bool literal_valid(const char *d, size_t len)
{
	const char *in;
	size_t n;
	size_t tag = 0;

	if (len < 3 || d[0] != '[' || d[len - 1] != ']')
		return false;
	in = d + 1;
	n = len - 2;
	if (n > 5 && strncasecmp(in, "IPv6:", 5) == 0) {
		char tmp[64];
		unsigned char bin[16];

		if (n - 5 >= sizeof(tmp))
			return false;
		/* only what an IPv6 address can hold (no NUL to fool inet_pton) */
		for (size_t i = 5; i < n; i++)
			if (strchr("0123456789abcdefABCDEF:.", in[i]) == NULL || in[i] == '\0')
				return false;
		memcpy(tmp, in + 5, n - 5);
		tmp[n - 5] = '\0';
		return inet_pton(AF_INET6, tmp, bin) == 1;
	}
	if (ipv4_valid(in, n))
		return true;
	/* General-address-literal = Standardized-tag ":" 1*dcontent; the tag
	 * is an Ldh-str ending in a Let-dig. */
	while (tag < n && (is_letdig((unsigned char)in[tag]) || in[tag] == '-'))
		tag++;
	if (tag == 0 || tag >= n || !is_letdig((unsigned char)in[0]) || in[tag] != ':' ||
	    !is_letdig((unsigned char)in[tag - 1]) || tag + 1 >= n)
		return false;
	for (size_t i = tag + 1; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		/* dcontent = %d33-90 / %d94-126 */
		if (!((c >= 33 && c <= 90) || (c >= 94 && c <= 126)))
			return false;
	}
	return true;
}

bool smtp_domain_valid(const char *d, size_t len)
{
	const unsigned char *u = (const unsigned char *)d;
	size_t label = 0;

	if (d == NULL || len == 0)
		return false;
	if (d[0] == '[')
		return literal_valid(d, len);
	if (len > SMTP_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		if (u[i] == '.') {
			/* empty label, or a label ending in '-' */
			if (label == 0 || u[i - 1] == '-')
				return false;
			label = 0;
			i++;
			continue;
		}
		if (u[i] >= 0x80) {
			size_t n = smtp_utf8_seq(u + i, len - i);
			if (n == 0)
				return false;
			label += n;
			i += n;
		} else if (is_letdig(u[i]) || (u[i] == '-' && label > 0)) {
			label++;
			i++;
		} else {
			return false;
		}
		if (label > 63)
			return false;
	}
	return label > 0 && u[len - 1] != '-';
}
