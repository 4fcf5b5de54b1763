/*
 * xtext.c - the xtext encoding of RFC 3461 section 4, used by the DSN
 * parameters ENVID and ORCPT:
 *
 *   xtext   = *( xchar / hexchar )
 *   xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *             except for "+" and "="
 *   hexchar = "+" 2(%x30-39 / %x41-46)   ; upper-case hex only
 *
 * Decoding refuses malformed escapes and an encoded NUL (the decoded text
 * goes into C strings and reports). Both directions report an output
 * buffer that is too small as -1 rather than truncating silently.
 */
#include <string.h>

#include "smtp/internal.h"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lower case is not xtext */
}

static bool is_xchar(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

bool smtp_xtext_valid(const char *s, size_t len, bool allow_utf8)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		if (u[i] == '+') {
			if (i + 2 >= len || hexval(u[i + 1]) < 0 || hexval(u[i + 2]) < 0)
				return false;
			i += 3;
		} else if (is_xchar(u[i])) {
			i++;
		} else if (allow_utf8 && u[i] >= 0x80) {
			size_t n = smtp_utf8_seq(u + i, len - i);
			if (n == 0)
				return false;
			i += n;
		} else {
			return false;
		}
	}
	return true;
}

int smtp_xtext_decode(const char *in, size_t len, char *out, size_t size)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t o = 0;

	if (size == 0)
		return -1;
	for (size_t i = 0; i < len;) {
		unsigned char c;

		if (u[i] == '+') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval(u[i + 1]);
			lo = hexval(u[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			if (c == 0)
				return -1;
			i += 3;
		} else if (is_xchar(u[i])) {
			c = u[i++];
		} else {
			return -1;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (int)o;
}

int smtp_xtext_encode(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (size == 0)
		return -1;
	for (const unsigned char *u = (const unsigned char *)in; *u != '\0'; u++) {
		if (is_xchar(*u)) {
			if (o + 1 >= size)
				return -1;
			out[o++] = (char)*u;
		} else {
			if (o + 3 >= size)
				return -1;
			out[o++] = '+';
			out[o++] = hex[*u >> 4];
			out[o++] = hex[*u & 15];
		}
	}
	out[o] = '\0';
	return (int)o;
}
