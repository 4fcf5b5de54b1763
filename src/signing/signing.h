/*
 * signing.h - the face of src/signing: signed return paths (issue 6).
 *
 * With return_path_signing = on every outgoing message to recipient R gets
 * its own envelope sender at the bounce domain, in one of two forms:
 *
 *   carried  bounces+TAG32-LOCAL=DOMAIN@bounce_domain   (R = LOCAL@DOMAIN)
 *   hashed   bounces+TAG39@bounce_domain
 *
 * Carried (VERP-like) is used when the local part stays within the 64
 * octets of RFC 5321 section 4.5.3.1.1 - mailerd's own listener, like many
 * others, refuses longer ones - and R is a dot-atom; hashed otherwise.
 * TAG is lower-case base32 (RFC 4648 section 6 alphabet, no padding) of
 *
 *   flags+qid length (1: bit 7 = carried) | qid as hex nibbles (9) |
 *   recipient index (2, BE) | day stamp (2, BE: days since the epoch
 *   mod 65536) | [hashed: recipient hash (4)] | MAC (6)
 *
 *   recipient hash = HMAC-SHA256(key, "mailerd-rh1" | lower(R))[0..4]
 *   MAC = HMAC-SHA256(key, "mailerd-rp1" | the bytes before it
 *                     | carried: lower(LOCAL@DOMAIN))[0..6]
 *
 * So every tag verifies at RCPT time from the address alone (no storage,
 * any node with the key): 48 bits of MAC make a forgery a 2^48 guess per
 * address. A carried tag names its recipient outright, so a bounce is tied
 * to it even when the bounce text names an alias or a forwarding target; a
 * hashed tag names it by hash, so the bounce record whose address matches
 * the hash is the one (signing_tag_names). Base32 survives a remote MTA
 * changing the case of the local part.
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

#define SIGNING_KEY_LEN     32
#define SIGNING_TAG_CARRIED 32 /* base32 of 20 bytes */
#define SIGNING_TAG_HASHED  39 /* base32 of 24 bytes */
#define SIGNING_LOCAL_MAX   64 /* RFC 5321 section 4.5.3.1.1 */
#define SIGNING_QID_MAX     19 /* 18 hex digits + NUL */
#define SIGNING_ADDR_MAX    320
#define SIGNING_PREFIX      "bounces+"
#define SIGNING_DAY_MS      86400000LL
#define SIGNING_GRACE_MS    (7 * SIGNING_DAY_MS) /* kept after queue_lifetime */

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

/* What a verified tag says. rcpt is "" for a hashed tag. */
struct signing_tag {
	char qid[SIGNING_QID_MAX]; /* upper-case hex, as the spool names it */
	unsigned ri;
	uint16_t day;
	char rcpt[SIGNING_ADDR_MAX]; /* carried: lower case */
	unsigned char rhash[4];      /* hashed: the recipient hash */
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
enum signing_verdict signing_verify(const struct signing_key *key, const char *addr, int64_t now_ms,
                                    int64_t queue_lifetime_ms, struct signing_tag *out);

/* signing_tag_names - was t made for recipient addr? (carried: the same
 * address, case ignored; hashed: the same recipient hash) */
bool signing_tag_names(const struct signing_key *key, const struct signing_tag *t,
                       const char *addr);

/* signing_is_tagged - the local part of addr starts with bounces+ */
bool signing_is_tagged(const char *addr);

#endif
