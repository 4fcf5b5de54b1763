/*
 * mime.c - decode one received message with GMime 3 into a struct
 * bounce_doc: the top-level header fields, the readable text of the report,
 * the RFC 3464 delivery-status body, the RFC 5965 feedback-report body and
 * the header of the returned original message.
 *
 * Invariants: every buffer ends up valid UTF-8 with LF line ends (charsets
 * are converted by GMime from the part's charset parameter; bytes that are
 * still not UTF-8 are replaced). Transfer encodings (base64,
 * quoted-printable) are undone, RFC 2047 words in header fields decoded.
 *
 * bounce_doc_load tries the fast reader (mimelite.c) first and comes here
 * only for what that reader leaves to GMime; the two give the same view
 * (a unit test holds them to it).
 *
 * How it fails: it does not. A message GMime cannot build still gives its
 * raw bytes as text, so a recogniser can look at them; a broken multipart
 * gives whatever parts GMime recovered (it is lenient by design).
 */
#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <string.h>

#include "bounce/addrindex.h"
#include "bounce/internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_gmime(void)
{
	g_mime_init();
}

/* bounce_init - once per process, whichever thread comes first: parsing
 * may start in several worker threads at once */
void bounce_init(void)
{
	pthread_once(&init_once, init_gmime);
}

/* append_utf8 - append bytes to b, made valid UTF-8, CR dropped */
static void append_utf8(struct buf *b, const char *s, gssize len)
{
	gchar *valid = g_utf8_make_valid(s, len);

	for (const char *p = valid; *p; p++)
		if (*p != '\r')
			buf_putc(b, *p);
	g_free(valid);
}

/* part_bytes - decoded content of a leaf part (transfer encoding undone,
 * no charset conversion) appended to out */
static void part_bytes(GMimePart *part, struct buf *out)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *ms;
	GByteArray *ba;

	if (!w)
		return;
	ms = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, ms);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
	if (ba && ba->len)
		append_utf8(out, (const char *)ba->data, (gssize)ba->len);
	g_object_unref(ms);
}

/* part_text - text of a text/ part in UTF-8 (RFC 2045 charset parameter) */
static void part_text(GMimePart *part, struct buf *out)
{
	char *t = NULL;

	if (GMIME_IS_TEXT_PART(part))
		t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	if (t) {
		append_utf8(out, t, -1);
		g_free(t);
	} else {
		part_bytes(part, out);
	}
	if (out->len && out->data[out->len - 1] != '\n')
		buf_putc(out, '\n');
}

/* headers_dump - "Name: value\n" for every field, unfolded and decoded */
static void headers_dump(GMimeObject *obj, struct buf *out)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int n = hl ? g_mime_header_list_get_count(hl) : 0;

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h);
		const char *val = g_mime_header_get_value(h);

		if (!name)
			continue;
		if (!val)
			val = g_mime_header_get_raw_value(h);
		buf_puts(out, name);
		buf_puts(out, ": ");
		size_t start = out->len;
		append_utf8(out, val ? val : "", -1);
		for (size_t j = start; j < out->len; j++)
			if (out->data[j] == '\n' || out->data[j] == '\t')
				out->data[j] = ' ';
		buf_putc(out, '\n');
	}
}

static bool ct_is(GMimeContentType *ct, const char *type, const char *sub)
{
	return ct && g_mime_content_type_is_type(ct, type, sub);
}

/* walk - visit the MIME tree; depth counts message/rfc822 nesting: only
 * depth 0 is the report itself, depth 1 is the returned message. */
static void walk(struct bounce_doc *doc, GMimeObject *obj, int depth)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		if (depth == 0 && ct_is(ct, "multipart", "report"))
			doc->report = true;
		int plain = -1; /* the plain alternative read, if any */
		if (ct_is(ct, "multipart", "alternative")) {
			/* RFC 2046 5.1.4: same content; prefer plain text,
			 * unless it says nothing (then the others, as when
			 * there is no plain text) */
			struct buf *out = depth == 0 ? &doc->text : &doc->inner;
			for (int i = 0; i < n; i++) {
				GMimeObject *c = g_mime_multipart_get_part(mp, i);
				if (ct_is(g_mime_object_get_content_type(c), "text", "plain")) {
					size_t from = out->len;
					walk(doc, c, depth);
					if (n == 1 || !bounce_html_over_plain(out, from))
						return;
					plain = i;
					break;
				}
			}
		}
		for (int i = 0; i < n; i++)
			if (i != plain)
				walk(doc, g_mime_multipart_get_part(mp, i), depth);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (!m || depth > 0)
			return;
		if (doc->orig.len == 0)
			headers_dump(GMIME_OBJECT(m), &doc->orig);
		if (doc->inner.len == 0) {
			GMimeObject *body = g_mime_message_get_mime_part(m);
			struct bounce_doc sub = {0};

			if (body)
				walk(&sub, body, 1);
			buf_append(&doc->inner, sub.text.data ? sub.text.data : "", sub.text.len);
			bounce_doc_free(&sub);
		}
		return;
	}
	if (!GMIME_IS_PART(obj))
		return;
	if (ct_is(ct, "message", "delivery-status") ||
	    ct_is(ct, "message", "global-delivery-status")) {
		if (depth == 0) {
			part_bytes(GMIME_PART(obj), &doc->dsn);
			buf_puts(&doc->dsn, "\n\n");
		}
	} else if (ct_is(ct, "message", "feedback-report")) {
		if (depth == 0)
			part_bytes(GMIME_PART(obj), &doc->arf);
	} else if (ct_is(ct, "text", "rfc822-headers") || ct_is(ct, "message", "rfc822-headers") ||
	           ct_is(ct, "message", "global-headers")) {
		if (doc->orig.len == 0)
			part_bytes(GMIME_PART(obj), &doc->orig);
	} else if (ct_is(ct, "message", "rfc822") || ct_is(ct, "message", "global")) {
		/* a returned message GMime kept as a leaf (e.g. base64 encoded) */
		if (doc->orig.len == 0)
			part_bytes(GMIME_PART(obj), &doc->orig);
	} else if (ct_is(ct, "text", "*") || !ct) {
		struct buf *out = depth == 0 ? &doc->text : &doc->inner;
		size_t from = out->len;
		part_text(GMIME_PART(obj), out);
		if (ct_is(ct, "text", "html"))
			bounce_html_text(out, from);
	}
}

static bool fast_mime = true;

void bounce_set_fast_mime(bool on)
{
	fast_mime = on;
}

/* GMime builds an object of about 1.5 KiB per MIME part, and a message
 * of millions of empty parts ("--b\n\nx\n" repeated) took 6 GB and 40 s.
 * A message with more delimiter-like lines than this is given to GMime
 * without its body: the header fields are still decoded, and the body's
 * bytes are read raw by bounce_doc_load (the fast reader, which reads at
 * most 1000 parts, handles every such message it can). */
#define GMIME_MAX_DELIMS 4096

/* gmime_len - how much of data[0..len) GMime may read: all of it, or
 * only the header block when the body has too many lines that could be
 * part delimiters (RFC 2046 5.1.1: "--" opens each) */
static size_t gmime_len(const char *data, size_t len)
{
	size_t n = 0;

	for (const char *p = memmem(data, len, "\n--", 3); p;
	     p = memmem(p + 3, len - (size_t)(p + 3 - data), "\n--", 3))
		if (++n > GMIME_MAX_DELIMS) {
			const char *blank = memmem(data, len, "\n\n", 2);
			return blank ? (size_t)(blank + 2 - data) : 0;
		}
	return len;
}

/* load_gmime - the reference decoder: GMime's object tree, walked */
static void load_gmime(struct bounce_doc *doc, const char *data, size_t len)
{
	GMimeStream *st;
	GMimeParser *parser;
	GMimeMessage *msg;

	memset(doc, 0, sizeof(*doc));
	len = gmime_len(data, len);
	if (len == 0)
		return;
	st = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (msg) {
		GMimeObject *body = g_mime_message_get_mime_part(msg);

		headers_dump(GMIME_OBJECT(msg), &doc->hdr);
		if (body)
			walk(doc, body, 0);
		g_object_unref(msg);
	}
	g_object_unref(parser);
	g_object_unref(st);
}

void bounce_doc_load(struct bounce_doc *doc, const char *data, size_t len)
{
	bounce_init();
	if (!fast_mime || !bounce_doc_load_lite(doc, data, len)) {
		if (fast_mime)
			bounce_doc_free(doc); /* what the fast reader left */
		load_gmime(doc, data, len);
	}
	if (doc->text.len == 0 && doc->dsn.len == 0 && doc->arf.len == 0) {
		/* nothing decodable: let the recognisers read the raw bytes,
		 * after the header block when the header fields were read
		 * (RFC 5322 2.1: the body follows the first empty line), so
		 * header lines (Received:, Reply-To:) are not taken for the
		 * report text */
		const char *body = data;
		if (doc->hdr.len) {
			const char *blank = memmem(data, len, "\n\n", 2);
			if (blank)
				body = blank + 2;
		}
		append_utf8(&doc->text, body, (gssize)(len - (size_t)(body - data)));
	}
	/* keep every buffer non-NULL so callers can use .data directly */
	buf_puts(&doc->hdr, "");
	buf_puts(&doc->text, "");
	buf_puts(&doc->dsn, "");
	buf_puts(&doc->arf, "");
	buf_puts(&doc->orig, "");
	buf_puts(&doc->inner, "");
	/* the text is final now: command.c may index it until it is freed */
	doc->near = bounce_near_new();
	doc->says_address = -1;
}

void bounce_doc_free(struct bounce_doc *doc)
{
	if (!doc)
		return;
	bounce_near_free(doc->near);
	doc->near = NULL;
	buf_free(&doc->hdr);
	buf_free(&doc->text);
	buf_free(&doc->dsn);
	buf_free(&doc->arf);
	buf_free(&doc->orig);
	buf_free(&doc->inner);
}
