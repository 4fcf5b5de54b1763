/*
 * tag.c - making and checking signed return paths (format in signing.h).
 *
 * Invariants: a tag is exactly SIGNING_TAG_LEN base32 characters; the
 * HMAC is compared in constant time; the recipient carried after the tag
 * is lower-cased before it enters the HMAC, so a remote MTA that changes
 * case does not break the tag. Nothing here allocates or does I/O.
 *
 * Failure: signing_return_path returns -1 (EINVAL) when the queue id is
 * not hex or nothing fits; the caller then sends with the stored sender.
 * signing_verify never fails, it only judges.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "signing/signing.h"
#include "util/util.h"

#define TAG_BYTES 22     /* 1 + 9 + 2 + 2 + 8 */
#define TAG_FIELDS 14    /* the bytes the MAC covers before the address */
#define TAG_MAC 8        /* 64 bits: forging takes 2^64 tries per address */
#define TAG_CONTEXT "mailerd-rp1"
#define PATH_MAX_OCTETS 256 /* RFC 5321 section 4.5.3.1.3 */

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

uint16_t signing_day(int64_t ms)
{
	return (uint16_t)((ms / SIGNING_DAY_MS) & 0xffff);
}

unsigned signing_valid_days(int64_t queue_lifetime_ms)
{
	int64_t ms = queue_lifetime_ms + SIGNING_GRACE_MS;

	return (unsigned)((ms + SIGNING_DAY_MS - 1) / SIGNING_DAY_MS);
}

const char *signing_verdict_name(enum signing_verdict v)
{
	switch (v) {
	case SIGNING_OK:
		return "ok";
	case SIGNING_UNTAGGED:
		return "no-tag";
	case SIGNING_EXPIRED:
		return "expired-tag";
	case SIGNING_MALFORMED:
	case SIGNING_BAD_MAC:
	default:
		return "bad-tag";
	}
}

/* b32_encode - RFC 4648 section 6 without padding, lower case */
static void b32_encode(const unsigned char *in, size_t n, char *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

/* b32_decode - the reverse, any case; -1 on a foreign character or
 * non-zero padding bits */
static int b32_decode(const char *in, size_t len, unsigned char *out, size_t n)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = tolower((unsigned char)in[i]);
		const char *p = c ? strchr(b32, c) : NULL;
		if (p == NULL)
			return -1;
		acc = (acc << 5) | (unsigned)(p - b32);
		bits += 5;
		if (bits >= 8) {
			if (o == n)
				return -1;
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	if (o != n || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return 0;
}

/* tag_mac - the truncated HMAC over the fields and the lower-case rcpt */
static void tag_mac(const struct signing_key *key, const unsigned char *fields,
		    const char *rcpt, unsigned char *mac)
{
	unsigned char msg[sizeof(TAG_CONTEXT) + TAG_FIELDS + SIGNING_ADDR_MAX];
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;
	size_t n = 0, rl = strlen(rcpt);

	if (rl >= SIGNING_ADDR_MAX)
		rl = SIGNING_ADDR_MAX - 1;
	memcpy(msg, TAG_CONTEXT, sizeof(TAG_CONTEXT)); /* with its NUL: a separator */
	n = sizeof(TAG_CONTEXT);
	memcpy(msg + n, fields, TAG_FIELDS);
	n += TAG_FIELDS;
	for (size_t i = 0; i < rl; i++)
		msg[n++] = (unsigned char)tolower((unsigned char)rcpt[i]);
	if (HMAC(EVP_sha256(), key->k, SIGNING_KEY_LEN, msg, n, full, &full_len) == NULL ||
	    full_len < TAG_MAC)
		fatal("HMAC-SHA256 is not available");
	memcpy(mac, full, TAG_MAC);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* carryable - may rcpt ride in the return path as LOCAL=DOMAIN? Only a
 * dot-atom local part (RFC 5321 section 4.1.2; UTF-8 allowed, RFC 6531)
 * and a plain domain name: anything else would need quoting. */
static bool carryable(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');

	if (at == NULL || at == rcpt || at[1] == '\0')
		return false;
	for (const char *p = rcpt; p < at; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x80 || isalnum(c))
			continue;
		if (strchr("!#$%&'*+-/=?^_`{|}~.", c) == NULL || c == '\0')
			return false;
	}
	for (const char *p = at + 1; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(c >= 0x80 || isalnum(c) || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int signing_return_path(const struct signing_key *key, const char *bounce_domain, const char *qid,
			size_t ri, const char *rcpt, int64_t now_ms, char *out, size_t size)
{
	unsigned char raw[TAG_BYTES];
	char tag[SIGNING_TAG_LEN + 1];
	size_t ql = strlen(qid);
	uint16_t day = signing_day(now_ms);
	bool carry = carryable(rcpt);
	int n;

	if (ql == 0 || ql > 18 || ri > 0xffff) {
		errno = EINVAL;
		return -1;
	}
	memset(raw, 0, sizeof(raw));
	raw[0] = (unsigned char)ql;
	/* nibbles right-aligned in 9 bytes, so 17 digits keep their value */
	for (size_t i = 0; i < ql; i++) {
		int v = hexval((unsigned char)qid[ql - 1 - i]);
		if (v < 0) {
			errno = EINVAL;
			return -1;
		}
		raw[9 - i / 2] |= (unsigned char)(i % 2 ? v << 4 : v);
	}
	raw[10] = (unsigned char)(ri >> 8);
	raw[11] = (unsigned char)ri;
	raw[12] = (unsigned char)(day >> 8);
	raw[13] = (unsigned char)day;
	if (carry) {
		/* LOCAL=DOMAIN must fit the 256-octet path with everything else */
		size_t len = strlen(SIGNING_PREFIX) + SIGNING_TAG_LEN + 1 + strlen(rcpt) + 1 +
			     strlen(bounce_domain);
		carry = len <= PATH_MAX_OCTETS;
	}
	tag_mac(key, raw, carry ? rcpt : "", raw + TAG_FIELDS);
	b32_encode(raw, sizeof(raw), tag);
	if (carry) {
		const char *at = strrchr(rcpt, '@');
		char dom[SIGNING_ADDR_MAX];
		util_strlcpy(dom, at + 1, sizeof(dom));
		util_lowercase(dom);
		n = snprintf(out, size, "%s%s-%.*s=%s@%s", SIGNING_PREFIX, tag, (int)(at - rcpt),
			     rcpt, dom, bounce_domain);
	} else {
		n = snprintf(out, size, "%s%s@%s", SIGNING_PREFIX, tag, bounce_domain);
	}
	if (n < 0 || (size_t)n >= size) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

bool signing_is_tagged(const char *addr)
{
	return addr != NULL && strncasecmp(addr, SIGNING_PREFIX, strlen(SIGNING_PREFIX)) == 0;
}

/* day_ok - BATV-like window: at most valid_days old, at most one ahead;
 * differences are taken mod 65536, like the stamps */
static bool day_ok(uint16_t day, int64_t now_ms, int64_t lifetime_ms)
{
	uint16_t today = signing_day(now_ms);
	uint16_t age = (uint16_t)(today - day);

	return age <= signing_valid_days(lifetime_ms) || age == 0xffff;
}

enum signing_verdict signing_verify(const struct signing_key *key, const char *addr,
				    int64_t now_ms, int64_t queue_lifetime_ms,
				    struct signing_tag *out)
{
	unsigned char raw[TAG_BYTES], mac[TAG_MAC];
	char rcpt[SIGNING_ADDR_MAX] = "";
	const char *p, *at = strrchr(addr, '@');
	size_t plen = strlen(SIGNING_PREFIX), ql;
	uint16_t day;

	if (!signing_is_tagged(addr))
		return SIGNING_UNTAGGED;
	if (at == NULL)
		at = addr + strlen(addr);
	p = addr + plen;
	if ((size_t)(at - p) < SIGNING_TAG_LEN || b32_decode(p, SIGNING_TAG_LEN, raw, sizeof(raw)) < 0)
		return SIGNING_MALFORMED;
	p += SIGNING_TAG_LEN;
	if (p < at) {
		/* "-LOCAL=DOMAIN": the domain cannot hold '=', so the last one splits */
		const char *eq = NULL;
		if (*p != '-')
			return SIGNING_MALFORMED;
		p++;
		for (const char *q = p; q < at; q++)
			if (*q == '=')
				eq = q;
		if (eq == NULL || eq == p || eq + 1 == at ||
		    (size_t)(at - p) >= sizeof(rcpt))
			return SIGNING_MALFORMED;
		snprintf(rcpt, sizeof(rcpt), "%.*s@%.*s", (int)(eq - p), p, (int)(at - eq - 1),
			 eq + 1);
		util_lowercase(rcpt);
	}
	ql = raw[0];
	if (ql == 0 || ql > 18)
		return SIGNING_MALFORMED;
	tag_mac(key, raw, rcpt, mac);
	if (CRYPTO_memcmp(mac, raw + TAG_FIELDS, TAG_MAC) != 0)
		return SIGNING_BAD_MAC;
	day = (uint16_t)(raw[12] << 8 | raw[13]);
	if (!day_ok(day, now_ms, queue_lifetime_ms))
		return SIGNING_EXPIRED;
	if (out != NULL) {
		static const char hex[] = "0123456789ABCDEF";
		for (size_t i = 0; i < ql; i++) {
			unsigned char b = raw[9 - i / 2];
			out->qid[ql - 1 - i] = hex[i % 2 ? b >> 4 : b & 15];
		}
		out->qid[ql] = '\0';
		out->ri = (unsigned)(raw[10] << 8 | raw[11]);
		out->day = day;
		util_strlcpy(out->rcpt, rcpt, sizeof(out->rcpt));
	}
	return SIGNING_OK;
}
