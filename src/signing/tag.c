/*
 * tag.c - making and checking signed return paths (format in signing.h).
 *
 * Invariants: a tag is exactly SIGNING_TAG_CARRIED or SIGNING_TAG_HASHED
 * base32 characters, and its flag bit says which; the MAC is compared in
 * constant time; addresses are lower-cased before they enter an HMAC, so
 * a remote MTA that changes case does not break the tag. Nothing here
 * allocates or does I/O.
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

#define TAG_FIELDS        14 /* flags+length, qid, index, day */
#define TAG_RHASH         4  /* hashed form: recipient hash */
#define TAG_MAC           6  /* 48 bits: forging takes 2^48 tries per address */
#define TAG_CARRIED_BYTES (TAG_FIELDS + TAG_MAC)
#define TAG_HASHED_BYTES  (TAG_FIELDS + TAG_RHASH + TAG_MAC)
#define TAG_CARRIED_FLAG  0x80
#define TAG_CONTEXT       "mailerd-rp1"
#define RHASH_CONTEXT     "mailerd-rh1"
#define PATH_MAX_OCTETS   256 /* RFC 5321 section 4.5.3.1.3 */

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
	case SIGNING_OK: return "ok";
	case SIGNING_UNTAGGED: return "no-tag";
	case SIGNING_EXPIRED: return "expired-tag";
	case SIGNING_MALFORMED:
	case SIGNING_BAD_MAC:
	default: return "bad-tag";
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

/* hmac_trunc - HMAC-SHA256(key, ctx NUL head[0..n) lower(addr)), the
 * first outlen bytes */
static void hmac_trunc(const struct signing_key *key, const char *ctx, const unsigned char *head,
                       size_t n, const char *addr, unsigned char *out, size_t outlen)
{
	unsigned char msg[16 + TAG_FIELDS + TAG_RHASH + SIGNING_ADDR_MAX];
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;
	size_t m = strlen(ctx) + 1, al = strlen(addr);

	if (al >= SIGNING_ADDR_MAX)
		al = SIGNING_ADDR_MAX - 1;
	memcpy(msg, ctx, m); /* with its NUL: a separator */
	if (n > 0)
		memcpy(msg + m, head, n);
	m += n;
	for (size_t i = 0; i < al; i++)
		msg[m++] = (unsigned char)tolower((unsigned char)addr[i]);
	if (HMAC(EVP_sha256(), key->k, SIGNING_KEY_LEN, msg, m, full, &full_len) == NULL ||
	    full_len < outlen)
		fatal("HMAC-SHA256 is not available");
	memcpy(out, full, outlen);
}

/* rcpt_hash - the hashed form's recipient hash */
static void rcpt_hash(const struct signing_key *key, const char *rcpt, unsigned char *out)
{
	hmac_trunc(key, RHASH_CONTEXT, NULL, 0, rcpt, out, TAG_RHASH);
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
	unsigned char raw[TAG_HASHED_BYTES];
	char tag[SIGNING_TAG_HASHED + 1];
	size_t ql = strlen(qid), plen = strlen(SIGNING_PREFIX);
	uint16_t day = signing_day(now_ms);
	bool carry = carryable(rcpt);
	int n;

	if (ql == 0 || ql > 18 || ri > 0xffff) {
		errno = EINVAL;
		return -1;
	}
	if (carry) {
		/* "-LOCAL=DOMAIN" must keep the local part within 64 octets and
		 * the path within 256 */
		size_t local = plen + SIGNING_TAG_CARRIED + 1 + strlen(rcpt);
		carry = local <= SIGNING_LOCAL_MAX &&
		        local + 1 + strlen(bounce_domain) <= PATH_MAX_OCTETS;
	}
	memset(raw, 0, sizeof(raw));
	raw[0] = (unsigned char)(ql | (carry ? TAG_CARRIED_FLAG : 0));
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
		const char *at = strrchr(rcpt, '@');
		char dom[SIGNING_ADDR_MAX];

		hmac_trunc(key, TAG_CONTEXT, raw, TAG_FIELDS, rcpt, raw + TAG_FIELDS, TAG_MAC);
		b32_encode(raw, TAG_CARRIED_BYTES, tag);
		util_strlcpy(dom, at + 1, sizeof(dom));
		util_lowercase(dom);
		n = snprintf(out, size, "%s%s-%.*s=%s@%s", SIGNING_PREFIX, tag, (int)(at - rcpt),
		             rcpt, dom, bounce_domain);
	} else {
		rcpt_hash(key, rcpt, raw + TAG_FIELDS);
		hmac_trunc(key, TAG_CONTEXT, raw, TAG_FIELDS + TAG_RHASH, "",
		           raw + TAG_FIELDS + TAG_RHASH, TAG_MAC);
		b32_encode(raw, TAG_HASHED_BYTES, tag);
		n = snprintf(out, size, "%s%s@%s", SIGNING_PREFIX, tag, bounce_domain);
	}
	if (n < 0 || (size_t)n >= size) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

bool signing_tag_names(const struct signing_key *key, const struct signing_tag *t, const char *addr)
{
	unsigned char h[TAG_RHASH];

	if (addr == NULL || addr[0] == '\0')
		return false;
	if (t->rcpt[0] != '\0')
		return strcasecmp(t->rcpt, addr) == 0;
	rcpt_hash(key, addr, h);
	return CRYPTO_memcmp(h, t->rhash, TAG_RHASH) == 0;
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

enum signing_verdict signing_verify(const struct signing_key *key, const char *addr, int64_t now_ms,
                                    int64_t queue_lifetime_ms, struct signing_tag *out)
{
	unsigned char raw[TAG_HASHED_BYTES], mac[TAG_MAC];
	char rcpt[SIGNING_ADDR_MAX] = "";
	const char *p, *at = strrchr(addr, '@');
	size_t ql, len, nbytes, head;
	bool carried;
	uint16_t day;

	if (!signing_is_tagged(addr))
		return SIGNING_UNTAGGED;
	if (at == NULL)
		at = addr + strlen(addr);
	p = addr + strlen(SIGNING_PREFIX);
	len = (size_t)(at - p);
	/* the form is told by the length: 39 alone, or 32 then "-" */
	if (len == SIGNING_TAG_HASHED && memchr(p, '-', len) == NULL) {
		carried = false;
		nbytes = TAG_HASHED_BYTES;
	} else if (len > SIGNING_TAG_CARRIED + 1 && p[SIGNING_TAG_CARRIED] == '-') {
		carried = true;
		nbytes = TAG_CARRIED_BYTES;
	} else {
		return SIGNING_MALFORMED;
	}
	if (b32_decode(p, carried ? SIGNING_TAG_CARRIED : SIGNING_TAG_HASHED, raw, nbytes) < 0)
		return SIGNING_MALFORMED;
	if (((raw[0] & TAG_CARRIED_FLAG) != 0) != carried)
		return SIGNING_MALFORMED;
	if (carried) {
		/* "LOCAL=DOMAIN": the domain cannot hold '=', so the last one splits */
		const char *v = p + SIGNING_TAG_CARRIED + 1, *eq = NULL;
		for (const char *q = v; q < at; q++)
			if (*q == '=')
				eq = q;
		if (eq == NULL || eq == v || eq + 1 == at || (size_t)(at - v) >= sizeof(rcpt))
			return SIGNING_MALFORMED;
		snprintf(rcpt, sizeof(rcpt), "%.*s@%.*s", (int)(eq - v), v, (int)(at - eq - 1),
		         eq + 1);
		util_lowercase(rcpt);
	}
	ql = raw[0] & 0x1f;
	if (ql == 0 || ql > 18)
		return SIGNING_MALFORMED;
	head = carried ? TAG_FIELDS : TAG_FIELDS + TAG_RHASH;
	hmac_trunc(key, TAG_CONTEXT, raw, head, rcpt, mac, TAG_MAC);
	if (CRYPTO_memcmp(mac, raw + head, TAG_MAC) != 0)
		return SIGNING_BAD_MAC;
	day = (uint16_t)(raw[12] << 8 | raw[13]);
	if (!day_ok(day, now_ms, queue_lifetime_ms))
		return SIGNING_EXPIRED;
	if (out != NULL) {
		static const char hex[] = "0123456789ABCDEF";
		memset(out, 0, sizeof(*out));
		for (size_t i = 0; i < ql; i++) {
			unsigned char b = raw[9 - i / 2];
			out->qid[ql - 1 - i] = hex[i % 2 ? b >> 4 : b & 15];
		}
		out->qid[ql] = '\0';
		out->ri = (unsigned)(raw[10] << 8 | raw[11]);
		out->day = day;
		util_strlcpy(out->rcpt, rcpt, sizeof(out->rcpt));
		if (!carried)
			memcpy(out->rhash, raw + TAG_FIELDS, TAG_RHASH);
	}
	return SIGNING_OK;
}
