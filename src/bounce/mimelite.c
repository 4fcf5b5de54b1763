/*
 * mimelite.c - the fast path of MIME decoding: read the common shapes of a
 * bounce (RFC 5322 header, RFC 2046 multiparts, RFC 2045 base64 and
 * quoted-printable, text in any charset iconv knows) straight off the
 * bytes into a struct bounce_doc, the same view mime.c builds with GMime,
 * without building an object tree per message. This file owns the walk
 * over entities and multiparts and the entry point, bounce_doc_load_lite;
 * header fields are read by mimehdr.c, bodies decoded by mimetext.c.
 *
 * Why: a bounce is small and shallow; building and freeing GMime's objects
 * costs several times the rest of the parse. GMime stays the reference,
 * and this reader copies its behaviour where bounces need it: header
 * lines that are not fields are dropped (so a multipart may lose its
 * boundary and with it its parts), delimiter lines are matched as GMime
 * matches them, bytes invalid in a part's charset are dropped. RFC 2047
 * encoded words and 8-bit header bytes still go through GMime's decoder,
 * and whenever this reader meets anything it does not handle exactly (a
 * "name :" field, a delimiter that never occurs, an RFC 2231 parameter,
 * an unknown transfer encoding) it gives up and the caller decodes the
 * whole message with GMime instead.
 *
 * Invariants: input has LF line ends (parse.c normalised them); output
 * buffers are valid UTF-8 with LF line ends, as in mime.c. Recursion depth
 * is bounded (MAX_DEPTH nested multiparts), so no input can exhaust the
 * stack; at most MAX_PARTS parts are read, so memory is bounded by a few
 * copies of the input and time by its size.
 *
 * How it fails: it returns false and leaves the doc empty for mime.c.
 */
#include <stdlib.h>
#include <string.h>

#include "bounce/internal.h"
#include "bounce/mimeparts.h"

#define MAX_DEPTH 12
/* At most this many parts are read from one message (all multiparts
 * together). A real bounce has fewer than ten, its report parts first
 * (RFC 3464 2.1, RFC 6522 3); millions of empty parts ("--b\n\nx\n"
 * repeated) are an attack on time and memory, and the parts past the
 * cap are not read, while what was read before stays. */
#define MAX_PARTS 1000

struct lite {
	struct bounce_doc *doc;
	struct buf tmp, dec;
	size_t parts; /* parts taken so far, toward MAX_PARTS */
};

static bool entity(struct lite *L, const char *p, size_t len, int depth, int nest);

/* lwsp_only - p[0..n) is only spaces and tabs */
static bool lwsp_only(const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (p[k] != ' ' && p[k] != '\t')
			return false;
	return true;
}

/* The parts of one multipart, collected before they are read (an
 * alternative picks one of them) */
struct part {
	const char *p;
	size_t len;
};
struct part_list {
	struct part *v;
	size_t n, cap;
};

static void part_push(struct part_list *pl, const char *p, size_t len)
{
	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : 16;
		pl->v = xrealloc(pl->v, pl->cap * sizeof(*pl->v));
	}
	pl->v[pl->n++] = (struct part){p, len};
}

/* multipart - RFC 2046 5.1.1: parts between "--boundary" lines; the
 * preamble and epilogue are not parts. As GMime's parser: a delimiter
 * line is "--boundary" then only white space, the close delimiter
 * "--boundary--" then only white space (any other line starting so is
 * content); a multipart without a boundary parameter is all preamble: it
 * has no parts and gives no text. A multipart whose delimiter never
 * occurs is left to GMime (a unit test holds that). */
static bool multipart(struct lite *L, const struct mimehdr_ctype *ct, const char *b, size_t blen,
                      int depth, int nest)
{
	size_t bl = strlen(ct->boundary), i = 0, start = 0;
	bool in = false, found = false, alt = strcmp(ct->sub, "alternative") == 0;
	bool capped = false, ok = true;
	struct part_list pl = {0};

	if (depth == 0 && strcmp(ct->type, "multipart") == 0 && strcmp(ct->sub, "report") == 0)
		L->doc->report = true;
	/* past the cap a multipart is not read at all (not even handed to
	 * GMime: that is what the cap keeps from happening) */
	if (bl == 0 || L->parts >= MAX_PARTS)
		return true;
	while (i < blen) {
		/* jump to the next occurrence of the boundary itself (one
		 * fast search, not one per line: the returned message is
		 * often most of the body); it counts when "--" opens its
		 * line just before it */
		const char *m = memmem(b + i, blen - i, ct->boundary, bl);
		if (!m)
			break;
		size_t at = (size_t)(m - b);
		if (at < i + 2 || m[-1] != '-' || m[-2] != '-' || (at > 2 && m[-3] != '\n')) {
			i = at + 1;
			continue;
		}
		const char *e = memchr(m + bl, '\n', blen - at - bl);
		size_t r = e ? (size_t)(e - (m + bl)) : blen - at - bl; /* rest of the line */
		bool close =
		    r >= 2 && m[bl] == '-' && m[bl + 1] == '-' && lwsp_only(m + bl + 2, r - 2);
		if (!close && !lwsp_only(m + bl, r)) {
			i = at + 1;
			continue;
		}
		i = at - 2;
		found = true;
		if (in) {
			/* the line break before a delimiter belongs to it */
			size_t end = i > start ? i - 1 : start;
			if (L->parts >= MAX_PARTS) {
				capped = true;
				break;
			}
			part_push(&pl, b + start, end - start);
			L->parts++;
		}
		in = !close;
		start = at + bl + r + 1;
		if (close)
			break;
		i = start;
	}
	if (!found)
		return false;
	if (in && start < blen && !capped && L->parts < MAX_PARTS) {
		part_push(&pl, b + start, blen - start);
		L->parts++;
	}
	const struct part *parts = pl.v;
	size_t np = pl.n;
	size_t plain = np; /* the plain alternative read, if any */
	if (alt) {
		/* RFC 2046 5.1.4: the same content; prefer plain text,
		 * unless it says nothing (then the others, as when there
		 * is no plain text) */
		size_t k;
		for (k = 0; k < np && ok; k++) {
			size_t off;
			struct mimehdr_ctype c;
			if (!mimehdr_end(parts[k].p, parts[k].len, &off) ||
			    !mimehdr_ctype_parse(parts[k].p, off, &L->tmp, &c))
				ok = false;
			else if (strcmp(c.type, "text") == 0 && strcmp(c.sub, "plain") == 0)
				break;
		}
		if (ok && k < np) {
			struct buf *out = depth == 0 ? &L->doc->text : &L->doc->inner;
			size_t from = out->len;
			ok = entity(L, parts[k].p, parts[k].len, depth, nest + 1);
			plain = k;
			if (!ok || np == 1 || !bounce_html_over_plain(out, from))
				np = 0; /* the plain text only */
		}
	}
	for (size_t k = 0; k < np && ok; k++)
		if (k != plain)
			ok = entity(L, parts[k].p, parts[k].len, depth, nest + 1);
	free(pl.v);
	return ok;
}

/* entity - one MIME entity (header + body); mirrors walk() in mime.c */
static bool entity(struct lite *L, const char *p, size_t len, int depth, int nest)
{
	struct bounce_doc *doc = L->doc;
	struct mimehdr_ctype ct;
	size_t off;

	if (nest > MAX_DEPTH || !mimehdr_end(p, len, &off) ||
	    !mimehdr_ctype_parse(p, off, &L->tmp, &ct))
		return false;
	const char *b = p + off;
	size_t blen = len - off;
	const char *t = ct.type, *s = ct.sub;

	if (strcmp(t, "multipart") == 0)
		return multipart(L, &ct, b, blen, depth, nest);
	if (strcmp(t, "message") == 0 && (strcmp(s, "rfc822") == 0 || strcmp(s, "global") == 0)) {
		size_t moff;
		if (depth > 0)
			return true;
		if (mimehdr_field(p, off, "Content-Transfer-Encoding", &L->tmp) &&
		    (strcasecmp(L->tmp.data, "base64") == 0 ||
		     strcasecmp(L->tmp.data, "quoted-printable") == 0))
			return false;
		/* the returned message: its header is what the report
		 * quotes of the original (RFC 3464 2.1, third part). A
		 * part that is not a header block at all ("[original
		 * message goes here]") gives the fields before its first
		 * line that is not one, as GMime's parser does, instead of
		 * sending the whole message through that parser. */
		if (!mimehdr_end(b, blen, &moff))
			moff = mimehdr_prefix(b, blen);
		if (doc->orig.len == 0)
			mimehdr_dump(b, moff, &doc->orig);
		return true;
	}
	if (strcmp(t, "message") == 0 &&
	    (strcmp(s, "delivery-status") == 0 || strcmp(s, "global-delivery-status") == 0)) {
		if (depth == 0) {
			buf_reset(&L->dec);
			if (!mimetext_decode(p, off, b, blen, &L->tmp, &L->dec))
				return false;
			mimetext_put_utf8(&doc->dsn, L->dec.data ? L->dec.data : "", L->dec.len);
			buf_puts(&doc->dsn, "\n\n");
		}
		return true;
	}
	bool fb = strcmp(t, "message") == 0 && strcmp(s, "feedback-report") == 0;
	bool hdrs = (strcmp(t, "text") == 0 && strcmp(s, "rfc822-headers") == 0) ||
	            (strcmp(t, "message") == 0 &&
	             (strcmp(s, "rfc822-headers") == 0 || strcmp(s, "global-headers") == 0));
	bool text = strcmp(t, "text") == 0 && !hdrs;

	if (!fb && !hdrs && !text)
		return true; /* images, applications: nothing to read */
	if ((fb && depth > 0) || (hdrs && doc->orig.len))
		return true;
	buf_reset(&L->dec);
	if (!mimetext_decode(p, off, b, blen, &L->tmp, &L->dec))
		return false;
	if (fb || hdrs) {
		mimetext_put_utf8(fb ? &doc->arf : &doc->orig, L->dec.data ? L->dec.data : "",
		                  L->dec.len);
		return true;
	}
	struct buf *out = depth == 0 ? &doc->text : &doc->inner;
	size_t from = out->len;
	if (!mimetext_to_utf8(&ct, L->dec.data ? L->dec.data : "", L->dec.len, out, &L->tmp))
		return false;
	if (strcmp(s, "html") == 0)
		bounce_html_text(out, from);
	return true;
}

bool bounce_doc_load_lite(struct bounce_doc *doc, const char *data, size_t len)
{
	struct lite L = {.doc = doc};
	size_t off;
	bool ok;

	memset(doc, 0, sizeof(*doc));
	ok = mimehdr_end(data, len, &off) && off > 0 && data[0] != '\n';
	if (ok) {
		mimehdr_dump(data, off, &doc->hdr);
		ok = entity(&L, data, len, 0, 0);
	}
	buf_free(&L.tmp);
	buf_free(&L.dec);
	/* on false the caller frees what was read so far (internal.h) */
	return ok;
}
