/*
 * outcome.c - building the one closed result type (outcome.h).
 *
 * Owns: filling a struct outcome from our own words (outcome_set) or from a
 * remote SMTP reply (outcome_from_reply), and the RFC 3463 enhanced status
 * we report when the remote gave none (outcome_derive_status).
 *
 * Invariants kept for every outcome this file fills:
 *   - status is a syntactically valid RFC 3463 code whose class digit agrees
 *     with kind (2 = OK, 4 = TEMP, 5 = PERM); a caller's status that breaks
 *     this is replaced by a derived one, so reports never carry "5.1.1"
 *     next to a temporary failure.
 *   - text and remote are NUL-terminated; text that does not fit is cut on a
 *     UTF-8 character boundary and ends in "...".
 * Nothing here fails or allocates.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/outcome.h"
#include "util/util.h"

static char outcome_class_digit(enum outcome_kind kind)
{
	switch (kind) {
	case OUTCOME_OK: return '2';
	case OUTCOME_TEMP: return '4';
	case OUTCOME_PERM:
	default: return '5';
	}
}

const char *outcome_kind_name(enum outcome_kind kind)
{
	switch (kind) {
	case OUTCOME_OK: return "ok";
	case OUTCOME_TEMP: return "temp";
	case OUTCOME_PERM: return "perm";
	}
	return "perm";
}

/* Parses 1-3 digits at s[*i]; returns false when there are none or more. */
static bool outcome_digits(const char *s, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && isdigit((unsigned char)s[*i]))
		(*i)++;
	return *i > start && *i - start <= 3;
}

bool outcome_is_valid_status(const char *s, size_t len)
{
	size_t i = 1;

	/* RFC 3463 section 2: class "." subject "." detail, where class is 2,
	 * 4 or 5 and subject and detail are 1 to 3 digits. */
	if (s == NULL || len < 5 || len >= OUTCOME_STATUS_MAX)
		return false;
	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return false;
	if (s[i++] != '.')
		return false;
	if (!outcome_digits(s, len, &i))
		return false;
	if (i >= len || s[i++] != '.')
		return false;
	if (!outcome_digits(s, len, &i))
		return false;
	return i == len;
}

/*
 * The refinements below are the RFC 3463 codes that say no more than the
 * RFC 5321 section 4.2.2 meaning of the reply code itself; anything that
 * would need a guess (550 can mean "no such user" or "policy") stays at
 * c.0.0 so a report never claims more than the remote said.
 */
void outcome_derive_status(enum outcome_kind kind, int code, char *status)
{
	char cls = outcome_class_digit(kind);
	const char *sub = "0.0";

	if (code / 100 == cls - '0') {
		switch (code) {
		case 421: /* service not available: X.3.2 system not accepting network messages */
			sub = "3.2";
			break;
		case 450: /* mailbox unavailable (busy, greylisted): X.2.0 mailbox status */
			sub = "2.0";
			break;
		case 451: /* local error in processing: X.3.0 mail system status */
			sub = "3.0";
			break;
		case 452: /* insufficient system storage: X.3.1 mail system full
			   * (outcome_from_reply turns it into 4.5.3 when the text
			   * says it is about too many recipients) */
			sub = "3.1";
			break;
		case 454: /* TLS/auth temporarily unavailable: X.7.0 security */ sub = "7.0"; break;
		case 455: /* parameters cannot be accommodated (RFC 1869): X.5.4 */
		case 555: sub = "5.4"; break;
		case 500: /* syntax error, command unrecognised: X.5.2 */ sub = "5.2"; break;
		case 501: /* syntax error in parameters: X.5.4 invalid arguments */
		case 504: /* parameter not implemented */ sub = "5.4"; break;
		case 502: /* command not implemented: X.5.1 invalid command */
		case 503: /* bad sequence of commands */ sub = "5.1"; break;
		case 551: /* user not local: X.1.6 destination mailbox moved */ sub = "1.6"; break;
		case 552: /* exceeded storage allocation; in practice the size
			   * limit: X.3.4 message too big for system */
			sub = "3.4";
			break;
		case 553: /* mailbox name not allowed: X.1.3 bad address syntax */
			sub = "1.3";
			break;
		default: /* 250, 550, 554 ...: nothing more is known */ break;
		}
	}
	snprintf(status, OUTCOME_STATUS_MAX, "%c.%s", cls, sub);
}

/* Cuts text to fit and marks the cut, never splitting a UTF-8 sequence. */
static void outcome_mark_cut(char *text, size_t size)
{
	size_t p = size - 4; /* room for "..." and NUL */

	while (p > 0 && ((unsigned char)text[p] & 0xC0) == 0x80)
		p--;
	memcpy(text + p, "...", 4);
}

static void outcome_fill(struct outcome *o, enum outcome_kind kind, int code, const char *status,
                         const char *remote)
{
	o->kind = kind;
	o->code = code;
	if (status != NULL && outcome_is_valid_status(status, strlen(status)) &&
	    status[0] == outcome_class_digit(kind))
		util_strlcpy(o->status, status, sizeof(o->status));
	else
		outcome_derive_status(kind, code, o->status);
	util_strlcpy(o->remote, remote != NULL ? remote : "", sizeof(o->remote));
}

void outcome_set(struct outcome *o, enum outcome_kind kind, int code, const char *status,
                 const char *remote, const char *fmt, ...)
{
	va_list ap;
	int n;

	outcome_fill(o, kind, code, status, remote);
	va_start(ap, fmt);
	n = vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
	if (n < 0)
		o->text[0] = '\0';
	else if ((size_t)n >= sizeof(o->text))
		outcome_mark_cut(o->text, sizeof(o->text));
}

/* Case-insensitive "does text mention recipients" for 452 (RFC 5321
 * section 4.5.3.1.10 "452 Too many recipients"). */
static bool outcome_mentions_recipients(const char *text)
{
	for (const char *p = text; *p != '\0'; p++)
		if (util_strcaseprefix(p, "recipient"))
			return true;
	return false;
}

void outcome_from_reply(struct outcome *o, int code, const char *text, const char *remote)
{
	enum outcome_kind kind;
	char status[OUTCOME_STATUS_MAX] = "";
	const char *p = text != NULL ? text : "";
	size_t n = 0;
	int len;

	/* RFC 5321 section 4.2.1: the first digit says it all. Anything that is
	 * not a 2yz, 4yz or 5yz here (e.g. a stray 354) is a protocol
	 * confusion, which is worth a retry rather than a bounce. */
	if (code >= 200 && code < 300)
		kind = OUTCOME_OK;
	else if (code >= 500 && code < 600)
		kind = OUTCOME_PERM;
	else
		kind = OUTCOME_TEMP;

	/* RFC 2034 section 4: the enhanced code follows the reply code and one
	 * space; it counts only when its class matches the reply's. */
	while (*p == ' ')
		p++;
	while (p[n] != '\0' && p[n] != ' ')
		n++;
	if (n < sizeof(status) && outcome_is_valid_status(p, n) && code / 100 == p[0] - '0') {
		memcpy(status, p, n);
		status[n] = '\0';
	} else if (code == 452 && outcome_mentions_recipients(p)) {
		/* RFC 3463: X.5.3 too many recipients */
		util_strlcpy(status, "4.5.3", sizeof(status));
	}

	outcome_fill(o, kind, code, status[0] != '\0' ? status : NULL, remote);
	if (text != NULL && text[0] != '\0')
		len = snprintf(o->text, sizeof(o->text), "%d %s", code, text);
	else
		len = snprintf(o->text, sizeof(o->text), "%d", code);
	if (len >= 0 && (size_t)len >= sizeof(o->text))
		outcome_mark_cut(o->text, sizeof(o->text));
}
