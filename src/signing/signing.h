/*
 * signing.h - the face of src/signing: signed return paths (issue 6).
 *
 * With return_path_signing = on every outgoing message to recipient R is
 * sent with its own envelope sender
 *
 *     bounces+TAG-LOCAL=DOMAIN@bounce_domain      (R = LOCAL@DOMAIN)
 *
 * TAG is 36 lower-case base32 characters (RFC 4648 section 6 alphabet,
 * no padding) of 22 bytes:
 *
 *     qid length (1) | qid as hex nibbles (9) | recipient index (2, BE) |
 *     day stamp (2, BE: days since the epoch mod 65536) |
 *     HMAC-SHA256(key, "mailerd-rp1" | those 14 bytes | lower-case R),
 *     truncated to 8 bytes
 *
 * The recipient rides along VERP-style so a bounce can be tied to the
 * address it was sent to even when the bounce names another one (aliases,
 * forwarding), without any storage: the HMAC covers it. Base32 survives a
 * remote MTA changing the case of the local part. When R cannot be carried
 * (quoted local part, or the path would exceed 256 octets, RFC 5321 section
 * 4.5.3.1.3) the form is bounces+TAG@bounce_domain and the HMAC covers "".
 *
 * Expiry (BATV-like): a tag is valid while day + valid_days >= today,
 * valid_days = ceil((queue_lifetime + 7d) / 1d); one day into the future
 * is allowed for clock skew between nodes. Nodes that share a bounce
 * domain must share the key file.
 *
 * Pure functions apart from the key file; the key is 32 random bytes from
 * the kernel's generator, created mode 0600 on first start.
 */
#ifndef MAILERD_SIGNING_H
#define MAILERD_SIGNING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGNING_KEY_LEN 32
#define SIGNING_TAG_LEN 36      /* base32 of 22 bytes */
#define SIGNING_QID_MAX 19      /* 18 hex digits + NUL */
#define SIGNING_ADDR_MAX 320
#define SIGNING_PREFIX "bounces+"
#define SIGNING_DAY_MS 86400000LL
#define SIGNING_GRACE_MS (7 * SIGNING_DAY_MS) /* kept after queue_lifetime */

struct signing_key {
	unsigned char k[SIGNING_KEY_LEN];
};

/* signing_key_load - read the key at path; when the file does not exist
 * and create is true, make it (O_EXCL, mode 0600, fsynced with its folder)
 * from 32 random bytes. A file of another size, or one readable by group
 * or others, is refused. 0, or -1 with err. */
int signing_key_load(const char *path, bool create, struct signing_key *key, char *err,
		     size_t errlen);

/* signing_day - the day stamp of ms (days since the epoch, mod 65536) */
uint16_t signing_day(int64_t ms);
/* signing_valid_days - ceil((queue_lifetime + 7d) / 1d) */
unsigned signing_valid_days(int64_t queue_lifetime_ms);

/* signing_return_path - the envelope sender for recipient number ri
 * (rcpt) of message qid (hex digits, at most 18), day stamp of now_ms.
 * 0, or -1 with EINVAL (bad qid, ri > 65535, no room in out). */
int signing_return_path(const struct signing_key *key, const char *bounce_domain, const char *qid,
			size_t ri, const char *rcpt, int64_t now_ms, char *out, size_t size);

/* What a verified tag says. rcpt is "" when the address was not carried. */
struct signing_tag {
	char qid[SIGNING_QID_MAX]; /* upper-case hex, as the spool names it */
	unsigned ri;
	uint16_t day;
	char rcpt[SIGNING_ADDR_MAX]; /* lower case */
};

enum signing_verdict {
	SIGNING_OK = 0,
	SIGNING_UNTAGGED,  /* the local part does not start with bounces+ */
	SIGNING_MALFORMED, /* bounces+ but not a tag of ours */
	SIGNING_BAD_MAC,   /* forged, tampered, or made with another key */
	SIGNING_EXPIRED,   /* day stamp too old (or too far ahead) */
};
/* signing_verdict_name - "ok", "no-tag", "bad-tag", "bad-tag", "expired-tag" */
const char *signing_verdict_name(enum signing_verdict v);

/* signing_verify - check the local part of addr ("bounces+...@domain";
 * the caller has checked the domain) at now_ms; on SIGNING_OK fills out
 * (may be NULL). */
enum signing_verdict signing_verify(const struct signing_key *key, const char *addr,
				    int64_t now_ms, int64_t queue_lifetime_ms,
				    struct signing_tag *out);

/* signing_is_tagged - the local part of addr starts with bounces+ */
bool signing_is_tagged(const char *addr);

#endif
