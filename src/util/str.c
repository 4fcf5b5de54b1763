/*
 * str.c - small string helpers and the parsers of duration and size
 * settings ("5m", "36700160", "64k").
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

size_t util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

bool util_strcaseprefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

void util_lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

char *util_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	*end = '\0';
	return s;
}

/* parse_number_suffix - digits then an optional unit; *unit points at it */
static int parse_number_suffix(const char *s, uint64_t *value, const char **unit)
{
	uint64_t v = 0;
	const char *p = s;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value = v;
	*unit = p;
	return 0;
}

/* unit_is - the rest of the string is exactly this unit (trailing blanks ok) */
static bool unit_is(const char *unit, const char *want)
{
	size_t n = strlen(want);

	if (strncasecmp(unit, want, n) != 0)
		return false;
	for (unit += n; *unit; unit++)
		if (*unit != ' ' && *unit != '\t')
			return false;
	return true;
}

int util_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
	    {"ms", 1},      {"", 1000},      {"s", 1000},      {"m", 60000},
	    {"h", 3600000}, {"d", 86400000}, {"w", 604800000},
	};
	uint64_t v;
	const char *unit;

	if (parse_number_suffix(s, &v, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!unit_is(unit, units[i].unit))
			continue;
		if (v > (uint64_t)INT64_MAX / units[i].ms)
			return -1;
		*ms = (int64_t)(v * units[i].ms);
		return 0;
	}
	return -1;
}

int util_parse_size(const char *s, uint64_t *bytes)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
	    {"", 1},        {"b", 1},        {"k", 1024},       {"kb", 1024},
	    {"m", 1048576}, {"mb", 1048576}, {"g", 1073741824}, {"gb", 1073741824},
	};
	uint64_t v;
	const char *unit;

	if (parse_number_suffix(s, &v, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!unit_is(unit, units[i].unit))
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*bytes = v * units[i].mult;
		return 0;
	}
	return -1;
}

/* util_escape - see util.h. Printable ASCII and valid UTF-8 sequences
 * stay; everything else (controls, DEL, stray bytes) becomes \xNN, and
 * the backslash itself is doubled so the result is unambiguous. */
char *util_escape(const char *in, size_t inlen, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (size == 0)
		return out;
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t seq = 0;

		if (c >= 0xc2 && c <= 0xdf)
			seq = 2;
		else if (c >= 0xe0 && c <= 0xef)
			seq = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			seq = 4;
		if (seq > 0 && i + seq <= inlen) {
			size_t k;
			for (k = 1; k < seq; k++)
				if (((unsigned char)in[i + k] & 0xc0) != 0x80)
					break;
			if (k == seq) {
				if (o + seq >= size)
					break;
				memcpy(out + o, in + i, seq);
				o += seq;
				i += seq - 1;
				continue;
			}
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= size)
				break;
			out[o++] = (char)c;
		} else if (c == '\\') {
			if (o + 2 >= size)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			if (o + 4 >= size)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
