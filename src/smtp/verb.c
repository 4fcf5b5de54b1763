/*
 * verb.c - command verbs (RFC 5321 section 4.1.1) and the character classes
 * the rest of the grammar shares.
 *
 * A verb is the first word of the line, compared case-insensitively and
 * exactly: "MAILX" or "MAIL\tFROM" is not MAIL. The arguments start after
 * one SP. Nothing here allocates or does I/O, so the fuzz targets can call
 * every function on arbitrary bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp/internal.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
    {"HELO", SMTP_HELO}, {"EHLO", SMTP_EHLO}, {"MAIL", SMTP_MAIL}, {"RCPT", SMTP_RCPT},
    {"DATA", SMTP_DATA}, {"RSET", SMTP_RSET}, {"NOOP", SMTP_NOOP}, {"QUIT", SMTP_QUIT},
    {"VRFY", SMTP_VRFY}, {"EXPN", SMTP_EXPN}, {"HELP", SMTP_HELP}, {"STARTTLS", SMTP_STARTTLS},
    {"AUTH", SMTP_AUTH}, {"BDAT", SMTP_BDAT},
};

enum smtp_verb smtp_parse_verb(const char *line, size_t len, const char **args)
{
	size_t n = 0;

	while (n < len && line[n] != ' ')
		n++;
	/* The arguments begin after exactly one SP; the callers tolerate more. */
	if (args != NULL)
		*args = line + (n < len ? n + 1 : n);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == n && strncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	}
	if (args != NULL)
		*args = line + len;
	return SMTP_UNKNOWN;
}

void smtp_error_set(struct smtp_error *err, int code, const char *status, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	err->code = code;
	util_strlcpy(err->status, status, sizeof(err->status));
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
}

bool smtp_is_atext(unsigned char c)
{
	/* RFC 5322 section 3.2.3 */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

size_t smtp_utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c;

	if (len == 0)
		return 0;
	c = s[0];
	/* RFC 3629 section 4 table: the second byte's range depends on the
	 * first so overlongs and surrogates are refused. */
	if (c >= 0xC2 && c <= 0xDF)
		return (len >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
		unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;
		if (len < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
		unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;
		if (len < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}
