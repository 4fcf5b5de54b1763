/*
 * html.c - the text of an HTML part (bounce_html_text), for notices sent
 * as HTML alone; both MIME readers (mimelite.c, mime.c) call it on a
 * text/html part they have turned into UTF-8. Also which alternative of
 * a multipart/alternative they read (bounce_html_over_plain): the plain
 * text, unless it says nothing and the notice is in the HTML.
 *
 * What a reader of the page would see: tags dropped, block ends as line
 * breaks, a table cell as a space, entities decoded, comments, <style>
 * and <script> left out.
 *
 * Invariants: the text is written in place over the markup, never
 * longer than it. Time is linear in the part's size, whatever the
 * markup: each byte is read a bounded number of times (a part may be as
 * large as max_message_size, and a broken or hostile one must not stall
 * a worker).
 */
#include <ctype.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>

#include "bounce/internal.h"

/* What a tag does to the text: tags after which HTML starts a new line
 * (block elements and <br>); a table cell, which ends with a space, so
 * "<td>Recipient:</td><td>a@b</td>" reads "Recipient: a@b"; <pre>, in
 * which the source's line breaks stay; <style> and <script>, whose
 * content is no text */
enum html_kind { HTML_INLINE, HTML_BREAK, HTML_CELL, HTML_PRE, HTML_RAW };
static const struct {
	const char *name;
	enum html_kind kind;
} html_kinds[] = {
    {"br", HTML_BREAK},    {"p", HTML_BREAK},     {"div", HTML_BREAK},        {"tr", HTML_BREAK},
    {"li", HTML_BREAK},    {"table", HTML_BREAK}, {"ul", HTML_BREAK},         {"ol", HTML_BREAK},
    {"h1", HTML_BREAK},    {"h2", HTML_BREAK},    {"h3", HTML_BREAK},         {"h4", HTML_BREAK},
    {"h5", HTML_BREAK},    {"h6", HTML_BREAK},    {"blockquote", HTML_BREAK}, {"hr", HTML_BREAK},
    {"title", HTML_BREAK}, {"dt", HTML_BREAK},    {"dd", HTML_BREAK},         {"tbody", HTML_BREAK},
    {"thead", HTML_BREAK}, {"td", HTML_CELL},     {"th", HTML_CELL},          {"pre", HTML_PRE},
    {"style", HTML_RAW},   {"script", HTML_RAW},
};

/* html_kind_of - what the tag named name does; the first letters are
 * compared before the names, as a page has a tag every few bytes */
static enum html_kind html_kind_of(const char *name)
{
	for (size_t i = 0; i < sizeof(html_kinds) / sizeof(html_kinds[0]); i++)
		if (html_kinds[i].name[0] == name[0] && strcmp(html_kinds[i].name, name) == 0)
			return html_kinds[i].kind;
	return HTML_INLINE;
}

/* html_tag - the tag name at q (its first letter), lower-cased into
 * name; the name's end */
static const char *html_tag(const char *q, const char *end, char *name, size_t size)
{
	size_t n = 0;

	while (q < end && isalnum((unsigned char)*q)) {
		if (n + 1 < size)
			name[n++] = (char)tolower((unsigned char)*q);
		q++;
	}
	name[n] = '\0';
	return q;
}

/* Longest quoted attribute value taken whole. A quote not closed within
 * it is taken for a stray one (a typo, markup cut short) and the tag
 * ends at the next '>', as a reader that does not honour quotes ends it:
 * browsers run an unclosed value on to the next quote of its kind,
 * however far, and the text between would be lost. A longer value
 * without '>' (a long tracking link) still ends where it should. The
 * bound also keeps the time linear: a failed search for a closing quote
 * reads at most this many bytes, and the next one for the same quote
 * starts beyond them. */
#define HTML_QUOTED_MAX 1024

/* html_space - white space to HTML's tokenizer (WHATWG HTML 13.2.5) */
static bool html_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* tag_end - the '>' that ends the tag whose name starts at q, past its
 * attributes (WHATWG HTML 13.2.5.8, 32-42: a value in quotes holds any
 * '>', so title="a>b c@d" stays in the tag), or NULL when the part ends
 * first */
static const char *tag_end(const char *q, const char *end)
{
	bool named = false; /* an attribute name was read, no value yet */

	while (q < end && !html_space(*q) && *q != '/' && *q != '>')
		q++; /* the tag name */
	while (q < end && *q != '>') {
		if (*q != '=' || !named) {
			/* white space keeps a name waiting for its '=';
			 * '/' ends it; anything else is (part of) a name */
			if (*q == '/')
				named = false;
			else if (!html_space(*q))
				named = true;
			q++;
			continue;
		}
		/* "name=": its value, in quotes or up to white space */
		named = false;
		for (q++; q < end && html_space(*q); q++)
			;
		if (q < end && (*q == '"' || *q == '\'')) {
			size_t room = (size_t)(end - q - 1);
			const char *close =
			    memchr(q + 1, *q, room < HTML_QUOTED_MAX ? room : HTML_QUOTED_MAX);
			if (!close)
				return memchr(q + 1, '>', room);
			q = close + 1;
		} else {
			while (q < end && !html_space(*q) && *q != '>')
				q++;
		}
	}
	return q < end ? q : NULL;
}

/* markup_end - just past the markup that the '<' at r opens, with the
 * tag's lower-cased name in name ("" for a comment or a declaration) and
 * *closing set for an end tag; NULL when this '<' opens no markup and is
 * text. As HTML's tokenizer (WHATWG HTML 13.2.5.6-8): '<' then a letter
 * opens a tag, "</" then a letter an end tag, "<!--" a comment; "<!",
 * "<?" and "</" then anything else open a bogus comment that the next
 * '>' closes ("<!DOCTYPE html>"); any other '<' is text.
 *
 * Unlike the tokenizer, a tag or declaration that no '>' closes is text,
 * not the rest of the part: a stray '<' in a notice must not hide the
 * lines after it. last_gt, the part's last '>', says so at once: looking
 * for a '>' from every '<' of "<<<<..." took time quadratic in their
 * number (2 MB: 25 s). The bytes each search below then reads are the
 * markup's, read once (but for a search for a closing quote that fails:
 * HTML_QUOTED_MAX); a tag's end is found past its quoted attribute
 * values (tag_end). */
static const char *markup_end(const char *r, const char *end, const char *last_gt, char *name,
                              size_t size, bool *closing)
{
	const char *q = r + 1;

	name[0] = '\0';
	*closing = false;
	if (end - r >= 4 && memcmp(r, "<!--", 4) == 0) {
		/* a comment ends at "-->"; one never closed runs to the
		 * end, as in the tokenizer (read once either way) */
		const char *c = memmem(r + 4, (size_t)(end - r - 4), "-->", 3);
		return c ? c + 3 : end;
	}
	if (q < end && *q == '/') {
		*closing = true;
		q++;
	}
	if (q >= end || !last_gt || last_gt < q)
		return NULL;
	if (isalpha((unsigned char)*q)) {
		/* a tag that runs to the end with every '>' left inside
		 * its quoted values is the rest of the part, as in the
		 * tokenizer (read once) */
		const char *gt = tag_end(html_tag(q, end, name, size), end);
		return gt ? gt + 1 : end;
	}
	if (!*closing && *q != '!' && *q != '?')
		return NULL;
	return (const char *)memchr(q, '>', (size_t)(end - q)) + 1;
}

/* html_white - a code point that is white space (ASCII white space, and
 * Unicode's spaces: no-break, en, em, thin, ideographic, ...): a
 * notice's "&nbsp;" or "&#160;" around an address is a space to the
 * reader of the page, and to the readers of the text, which look for
 * an address after plain spaces */
static bool html_white(unsigned long cp)
{
	return cp == '\t' || cp == '\n' || cp == '\f' || cp == '\r' || cp == 0xa0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* html_entity - the character an entity at p ("&amp;", "&#233;",
 * "&#xE9;") stands for, written as UTF-8 to w, a space for white space
 * (html_white); bytes written, and *used set to the entity's length; 0
 * when p opens no entity known here */
static size_t html_entity(const char *p, const char *end, char *w, size_t *used)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"nbsp", ' '}, {"ensp", ' '}, {"emsp", ' '}, {"thinsp", ' '}, {"amp", '&'},
	             {"lt", '<'},   {"gt", '>'},   {"quot", '"'}, {"apos", '\''}};
	const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);

	if (!semi)
		return 0;
	*used = (size_t)(semi + 1 - p);
	if (p[1] == '#') {
		/* digits only, as HTML reads them (no sign, no white space) */
		bool hex = p[2] == 'x' || p[2] == 'X';
		const char *q = p + (hex ? 3 : 2);
		unsigned long cp = 0;

		if (q == semi)
			return 0;
		for (; q < semi; q++) {
			int v = hex ? g_ascii_xdigit_value(*q) : g_ascii_digit_value(*q);
			if (v < 0)
				return 0;
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
		}
		if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (html_white(cp)) {
			*w = ' ';
			return 1;
		}
		return (size_t)g_unichar_to_utf8((gunichar)cp, w);
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t l = strlen(named[i].name);
		if ((size_t)(semi - p - 1) == l && strncmp(p + 1, named[i].name, l) == 0) {
			*w = named[i].c;
			return 1;
		}
	}
	return 0;
}

/* A plain alternative with no address and fewer characters than this
 * (white space aside) says nothing a reader of bounces could use: it is
 * empty, or a line for mail clients that show no HTML ("This message is
 * in HTML format. Please use an HTML capable mail client."), from
 * senders that write their notice in HTML only. Real notices in plain
 * text name an address (or run longer, naming people without one). */
#define HTML_PLAIN_LITTLE 200

bool bounce_html_over_plain(struct buf *out, size_t from)
{
	size_t chars = 0;

	for (size_t i = from; i < out->len; i++) {
		unsigned char c = (unsigned char)out->data[i];
		if (c == '@')
			return false;
		/* a character: ASCII that is not white space, or the
		 * first byte of a UTF-8 sequence */
		if ((c >= 0x80 ? (c & 0xc0) != 0x80 : !isspace(c)) && ++chars >= HTML_PLAIN_LITTLE)
			return false;
	}
	out->len = from;
	if (out->data)
		out->data[from] = '\0';
	return true;
}

/* bounce_html_text - b->data[from..] holds an HTML part: made its text
 * in place (never longer than the markup): tags dropped, block ends as
 * line breaks, the source's own line breaks as spaces except inside
 * <pre>, entities decoded, comments, <style> and <script> dropped */
void bounce_html_text(struct buf *b, size_t from)
{
	char *d = b->data, *end, *w;
	const char *last_gt;
	bool pre = false;

	if (!d || from >= b->len)
		return; /* nothing to read (an empty buffer has no data) */
	end = d + b->len;
	w = d + from;
	/* the part's last '>' (markup_end) */
	last_gt = memrchr(d + from, '>', b->len - from);
	for (const char *r = d + from; r < end;) {
		if (*r == '<') {
			char name[16];
			bool closing;
			const char *next =
			    markup_end(r, end, last_gt, name, sizeof(name), &closing);
			if (!next) {
				*w++ = *r++;
				continue;
			}
			r = next;
			enum html_kind kind = name[0] ? html_kind_of(name) : HTML_INLINE;
			if (kind == HTML_RAW && !closing) {
				/* their content is no text: up to the closing tag */
				char close[12];
				size_t cl = (size_t)snprintf(close, sizeof(close), "</%s", name);
				const char *c = r;
				while ((c = memchr(c, '<', (size_t)(end - c))) != NULL &&
				       ((size_t)(end - c) < cl || strncasecmp(c, close, cl) != 0))
					c++;
				const char *gt = c ? memchr(c, '>', (size_t)(end - c)) : NULL;
				r = gt ? gt + 1 : end;
			} else if (kind == HTML_CELL) {
				*w++ = ' ';
			} else if (kind == HTML_BREAK || kind == HTML_PRE) {
				if (kind == HTML_PRE)
					pre = !closing;
				*w++ = '\n';
			}
			continue;
		}
		if (*r == '&') {
			char u[6];
			size_t used = 0, n = html_entity(r, end, u, &used);
			if (n && n <= used) {
				memcpy(w, u, n);
				w += n;
				r += used;
				continue;
			}
		}
		if ((*r == '\n' || *r == '\t') && !pre) {
			*w++ = ' ';
			r++;
			continue;
		}
		*w++ = *r++;
	}
	b->len = (size_t)(w - d);
	d[b->len] = '\0';
	/* a part's text ends with a line break (the one the markup ended
	 * with became a space) */
	if (b->len > from && d[b->len - 1] == ' ')
		d[b->len - 1] = '\n';
	else if (b->len == 0 || d[b->len - 1] != '\n')
		buf_putc(b, '\n');
}
