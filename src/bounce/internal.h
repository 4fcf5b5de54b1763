/*
 * internal.h - what the files of src/bounce share and nobody else sees:
 * the decoded view of one message (struct bounce_doc), and the steps that
 * turn it into records.
 */
#ifndef MAILERD_BOUNCE_INTERNAL_H
#define MAILERD_BOUNCE_INTERNAL_H

#include <stdint.h>

#include "bounce/bounce.h"
#include "util/util.h"

/* One message after MIME decoding; every buffer is UTF-8 text with LF
 * line ends. */
struct bounce_doc {
	struct buf hdr;   /* top-level header fields, "Name: value\n", unfolded, RFC 2047 decoded */
	struct buf text;  /* the readable text of the report, before any returned message */
	struct buf dsn;   /* message/delivery-status bodies (RFC 3464 section 2) */
	struct buf arf;   /* message/feedback-report body (RFC 5965 section 3.1) */
	struct buf orig;  /* header of the returned original message, when present */
	struct buf inner; /* full text of an attached message (a forwarded bounce) */
	bool report;      /* Content-Type was multipart/report */
	size_t rend;      /* where the report text stops (bounce_report_end) */
	/* command.c's index of the text's addresses and its greeting
	 * verdict, filled on first use (bounce_near_new at load) */
	struct bounce_near *near;
	/* reason.c's memo: the report says the address was not found
	 * (-1 until first asked; per doc, as every record may ask) */
	signed char says_address;
	/* reason.c's memo: the first reason phrase of the whole report text
	 * (text_reason, or NULL) and which phrase it was, once text_read */
	bool text_read;
	const char *text_reason, *text_rule;
	/* the mail service that wrote the notice (bounce_family_provider),
	 * set before reasons are decided; NULL when none is known */
	const char *provider;
	/* how many records the message gave (set before reasons are
	 * decided): with several, the words of the whole report are other
	 * recipients' words too */
	size_t nrecs;
};

/* mime.c */
void bounce_doc_load(struct bounce_doc *doc, const char *data, size_t len);
void bounce_doc_free(struct bounce_doc *doc);
/* mimelite.c: the fast decoder for common shapes; false when the message
 * needs GMime, and then the caller frees the doc (bounce_doc_free): it
 * may hold what was read before the reader gave up */
bool bounce_doc_load_lite(struct bounce_doc *doc, const char *data, size_t len);

/* html.c: bounce_html_text - b->data[from..], an HTML part, made its
 * text in place (tags dropped, block ends as line breaks, entities
 * decoded), for notices sent as HTML alone; both readers call it */
void bounce_html_text(struct buf *b, size_t from);
/* html.c: bounce_html_over_plain - the text/plain alternative just read
 * into out->data[from..] says nothing (no address, very little text): it
 * is dropped, and true: the other alternatives, the HTML one, are read
 * instead (RFC 2046 5.1.4: they are the same content) */
bool bounce_html_over_plain(struct buf *out, size_t from);

/* dsn.c: RFC 3464 per-recipient fields -> records */
size_t bounce_dsn_parse(const struct bounce_doc *doc, struct bounce_result *res);
/* arf.c: RFC 5965 feedback report -> one record per reported recipient */
size_t bounce_arf_parse(const struct bounce_doc *doc, struct bounce_result *res);
/* family.c: MTA-family signatures; familytext.c: reading their text */
const char *bounce_family_detect(const struct bounce_doc *doc);
/* bounce_family_from_daemon - a From: value naming a mailer daemon or a
 * postmaster (the notices' own senders) */
bool bounce_family_from_daemon(const char *from);
size_t bounce_family_parse(const struct bounce_doc *doc, const char *agent,
                           struct bounce_result *res);
/* bounce_family_provider - the mail service that sent the notice (Outlook,
 * Mail.Ru, GMX, ...) when its header or report names one, or the product
 * that wrote family's notice under its own name (V5sendmail, Active!hunter,
 * SurfControl, ...), else NULL; smtp_agent then names the service or
 * product rather than the software it runs or imitates */
const char *bounce_family_provider(const struct bounce_doc *doc, const char *family);
/* bounce_family_text_first - the family's own text names the recipients
 * better than the RFC 3464 part it attaches */
bool bounce_family_text_first(const char *agent);
void bounce_family_fill(const struct bounce_doc *doc, const char *agent, struct bounce_result *res,
                        size_t first);
/* textdiag.c: what of a text notice's lines is the remote's words.
 * Sendmail transcripts (RFC 5321 dialogue quoted line by line) group the
 * remote's replies by host: "While talking to mx.example.org:" opens a
 * block of ">>> COMMAND" / "<<< reply" lines, and "550 host (smtp)...
 * Host unknown" reports a whole host. Such a block is about the
 * recipient line that FOLLOWS it ("554 <a@b>... Remote protocol
 * error"), not the one before, when several recipients share one
 * report (old Sendmail 5). bounce_block_start says which block the line
 * p[0..l) opens. */
enum bounce_block { BOUNCE_BLOCK_NONE, BOUNCE_BLOCK_TALK, BOUNCE_BLOCK_HOST };
enum bounce_block bounce_block_start(const char *p, size_t l);
/* bounce_diag_append - add one report line s[0..len) to rec's
 * diagnostic, unless it is a reply that accepted a step or a divider */
void bounce_diag_append(struct bounce_record *rec, const char *s, size_t len);
/* bounce_diag_shared - the reply a notice quotes once above its first
 * recipient line (text[0..end)), folded into out; false when none */
bool bounce_diag_shared(const char *text, size_t end, char *out, size_t size);
/* bounce_cause_rule - the line p[0..l) opens a block where each cause
 * stands above the addresses it concerns (Lotus Notes' "-------
 * Failure Reasons --------") */
bool bounce_cause_rule(const char *p, size_t l);
/* bounce_divider - the line s[0..len) is a template's divider ("-----
 * Transcript of session follows -----", dashes alone), no one's words */
bool bounce_divider(const char *s, size_t len);
/* bounce_diag_finish - a text record's diagnostic made the remote's
 * words (shared cause first when its own lines state no code; labels,
 * framing and Exchange's sentences for people dropped), then its status
 * and reply code read off them */
void bounce_diag_finish(struct bounce_record *r, const char *shared);
/* textrcpt.c: which recipient a line of a notice's text names, and how:
 * BOUNCE_RCPT_WEAK for a header-like "To:" line (often the returned
 * message's own To:, a summary of what was sent), kept only when nothing
 * stronger names a recipient; BOUNCE_RCPT_LABEL for an address after a
 * label; BOUNCE_RCPT_OPEN for an address opening the line. */
enum bounce_rcpt { BOUNCE_RCPT_NONE, BOUNCE_RCPT_WEAK, BOUNCE_RCPT_LABEL, BOUNCE_RCPT_OPEN };
/* bounce_rcpt_line - the recipient the line line[0..len) names, if it
 * names one, into addr; *addr_end is where the address ends in the line
 * when another may be listed after it (else NULL) */
enum bounce_rcpt bounce_rcpt_line(const char *line, size_t len, char *addr, size_t size,
                                  const char **addr_end);
/* bounce_rcpt_next - the address listed after the one that ends at a on
 * the line a[..e) ("a@b、c@d", "a@b；c@d", "<a@b>, <c@d>"): one separator
 * (",", ";", the ideographic comma, full-width comma or semicolon)
 * between, brackets, quotes and white space around it; the end of that
 * address in the line (addr holds it), or NULL */
const char *bounce_rcpt_next(const char *a, const char *e, char *addr, size_t size);
/* bounce_report_end - offset where the report text stops and the returned
 * message begins */
size_t bounce_report_end(const char *text);
/* needles.c: a fixed set of needles found in one pass over a text */
#define BOUNCE_NEEDLE_MAX 255
struct bounce_needles {
	uint8_t start[257];              /* needles starting with byte b: [start[b], start[b+1]) */
	uint8_t item[BOUNCE_NEEDLE_MAX]; /* table index of each grouped needle */
	uint8_t len[BOUNCE_NEEDLE_MAX];  /* needle length, by table index */
	uint8_t pair[65536 / 8];         /* bit k: some needle starts with the two bytes k */
};
/* bounce_prefix_at - text p starts with w[0..n), bytes before `from`
 * already known equal; inline, as the scans call it at most positions.
 * A NUL in p differs from every byte of w, so p may end early. */
static inline bool bounce_prefix_at(const char *p, const char *w, size_t n, size_t from)
{
	for (size_t i = from; i < n; i++)
		if (p[i] != w[i])
			return false;
	return true;
}
/* bounce_needles_build - index needles[0..n) (NULL entries are skipped) */
void bounce_needles_build(struct bounce_needles *ix, const char *const *needles, size_t n);
/* bounce_needles_first - lowest index of a needle occurring in
 * text[0..end) (a match may run past end), or SIZE_MAX */
size_t bounce_needles_first(const struct bounce_needles *ix, const char *const *needles,
                            const char *text, const char *end);
/* bounce_needles_all - set bit i of hits[] (BOUNCE_NEEDLE_MAX + 1 bits)
 * for every needle i that lies wholly inside text[0..end); end NULL:
 * up to the text's NUL. The text goes on to a NUL at or after end. */
void bounce_needles_all(const struct bounce_needles *ix, const char *const *needles,
                        const char *text, const char *end, uint64_t hits[4]);
/* bounce_needles_hit - bounce_needles_all set the bit of needle i */
static inline bool bounce_needles_hit(const uint64_t hits[4], size_t i)
{
	return hits[i >> 6] & (uint64_t)1 << (i & 63);
}
/* bounce_needles_earliest - index of the needle found first in text
 * (earliest position; the lowest index there), SIZE_MAX when none */
size_t bounce_needles_earliest(const struct bounce_needles *ix, const char *const *needles,
                               const char *text);
/* bounce_needles_line_end - offset of the first needle at a line start
 * or after a space, skipping (everywhere) the needles the text opens
 * with; strlen(text) when none (at most 64 needles) */
size_t bounce_needles_line_end(const struct bounce_needles *ix, const char *const *needles,
                               const char *text);
/* ses.c: Amazon SES JSON event notifications */
size_t bounce_ses_parse(const struct bounce_doc *doc, struct bounce_result *res);
/* arf.c: Microsoft JMRP complaints (returned message marked with
 * X-HmXmrOriginalRecipient) -> feedback */
size_t bounce_jmrp_parse(const struct bounce_doc *doc, struct bounce_result *res);
/* arf.c: RFC 3834 auto-replies -> vacation */
size_t bounce_autoreply_parse(const struct bounce_doc *doc, struct bounce_result *res);

/* status.c: bounce_status_refine - the remote's own code over a Status
 * that says little or guessed (same class only); bounce_status_reason -
 * the reason an enhanced code alone implies (RFC 3463), or NULL */
void bounce_status_refine(struct bounce_record *rec);
const char *bounce_status_reason(const char *status);

/* provider.c: bounce_provider_reason - the reason one provider's own
 * reply means (known by answering host, recipient domain, the family
 * or service that wrote the notice: doc->provider, or words only it
 * writes), or NULL; lower is the diagnostic lower-cased, addresses and
 * repeated reply codes dropped; *rule names the provider for --explain */
const char *bounce_provider_reason(const struct bounce_record *rec, const struct bounce_doc *doc,
                                   const char *lower, const char **rule);

/* reason.c: decide reason, fill status/replycode gaps, hard/soft */
void bounce_reason_decide(struct bounce_record *rec, struct bounce_doc *doc);

/* text.c: small text helpers */
/* the bytes bounce_find_addr takes into a local part (RFC 5322
 * 3.2.3 atext and '.') and a domain; the index splits a text into
 * address tokens by the same classes */
bool bounce_addr_local_char(unsigned char c);
bool bounce_addr_domain_char(unsigned char c);
/* bounce_addr_garbage - s[0..len) holds a control byte, U+FFFD (the
 * decoders' mark for invalid bytes) or a byte that is not UTF-8: not an
 * address */
bool bounce_addr_garbage(const char *s, size_t len);
/* bounce_punct_len - the length of the character at p (p < end) when it
 * is punctuation outside ASCII, never part of an address (CJK brackets
 * and quotes 「」【】《》“” ‘’, full-width forms （）＜＞：；, the
 * ideographic comma and space), else 0 */
size_t bounce_punct_len(const char *p, const char *end);
/* bounce_utf8_len - the length of the valid UTF-8 sequence at p[0..n)
 * (RFC 3629 3: no overlong form, no surrogate, nothing above U+10FFFF; 1
 * for an ASCII byte), 0 when the bytes there are no such sequence;
 * inline, as the scans ask it of every byte above 0x7f */
static inline size_t bounce_utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* rawaddr.c: address tokens of a message's raw bytes that hold a byte
 * that is no text (raw or quoted-printable), which the decoders drop;
 * bounce_rawaddr_scan gives NULL when there are none (the common case),
 * bounce_rawaddr_cut says addr is such a token with that byte left out
 * inside it (a recipient never written), bounce_rawaddr_free takes NULL */
struct bounce_rawaddr;
struct bounce_rawaddr *bounce_rawaddr_scan(const char *msg, size_t len);
bool bounce_rawaddr_cut(const struct bounce_rawaddr *ra, const char *addr);
void bounce_rawaddr_free(struct bounce_rawaddr *ra);

/* bounce_header - value of the first header field `name` (case-blind) in a
 * "Name: value\n" block, copied into out; false when absent */
bool bounce_header(const char *block, const char *name, char *out, size_t size);
struct bounce_record *bounce_record_add(struct bounce_result *res);
void bounce_record_set_diag(struct bounce_record *rec, const char *text, size_t len);
/* bounce_skip_space - past the white space at p, Unicode's no-break and
 * ideographic spaces included, and past the ASCII bytes in also */
const char *bounce_skip_space(const char *p, const char *end, const char *also);
/* bounce_find_addr - first addr-spec in s[0..len); copies it (without <>)
 * into out; returns pointer just past it in s, or NULL */
const char *bounce_find_addr(const char *s, size_t len, char *out, size_t size);
/* bounce_find_status - first RFC 3463 code "d.ddd.ddd" in s; copies it */
bool bounce_find_status(const char *s, char *out, size_t size);
/* bounce_find_replycode - first 3-digit [245]xx reply code standing alone */
bool bounce_find_replycode(const char *s, char *out, size_t size);
/* command.c: the SMTP command a reply answered ("RCPT", "MAIL", "DATA",
 * "HELO", "CONN"), written to out; left empty when the words say none.
 * bounce_command_in reads a lower-cased, whitespace-folded text;
 * bounce_command_near reads the doc's report text (text[0..rend)) around
 * addr: through doc->near, an index built once per doc, when the doc has
 * one (a report naming n recipients is then not searched n times). */
void bounce_command_in(const char *folded, char *out, size_t size);
void bounce_command_near(const struct bounce_doc *doc, const char *addr, char *out, size_t size);
/* bounce_command_greeting - "CONN" when a Sendmail transcript in the
 * doc's report text shows a host refusing at its greeting and no command
 * (answered once per doc when it has doc->near) */
void bounce_command_greeting(const struct bounce_doc *doc, char *out, size_t size);
/* bounce_near_new / bounce_near_free - the per-doc index (empty until
 * first used); free takes NULL */
struct bounce_near *bounce_near_new(void);
void bounce_near_free(struct bounce_near *near);
/* bounce_casestr - ASCII case-blind strstr */
const char *bounce_casestr(const char *hay, const char *needle);
/* bounce_fold - collapse runs of white space into one space, trim */
void bounce_fold(char *s);

#endif
