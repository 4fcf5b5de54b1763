/*
 * textdiag.c - the remote's words of a text notice's record: which lines
 * of the notice belong in a recipient's diagnostic_code (not a reply that
 * accepted a step, not the template's dividers), what is dropped from
 * them (a label before the words, the sentences for people around
 * Exchange's line for administrators, a notice's framing before the
 * reply it quotes), a reply the notice quotes once above the recipients
 * it concerns, and the rule under which each cause stands above its own
 * addresses (Lotus Notes' "Failure Reasons"). familytext.c finds the
 * recipients and their lines; this file decides what of those lines is
 * the remote's.
 *
 * Diagnostics are bounded (4000 bytes) and folded once per line added,
 * so a long report stays linear.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce/internal.h"

/* positive_reply - a transcript line quoting a reply that accepted
 * ("<-- 250 2.1.0 Ok" in MDaemon's, "<<< 354 Go ahead" in Sendmail's):
 * a step that went well says nothing of why the mail failed, and its
 * 2.x.x code must not become the record's status */
static bool positive_reply(const char *s, size_t len)
{
	size_t scan = len < 48 ? len : 48; /* a timestamp may come first */

	for (size_t i = 0; i + 3 <= scan; i++) {
		if (s[i] != '<' ||
		    !((s[i + 1] == '-' && s[i + 2] == '-') || (s[i + 1] == '<' && s[i + 2] == '<')))
			continue;
		size_t c = i + 3;
		while (c < len && s[c] == ' ')
			c++;
		return c + 3 <= len && (s[c] == '2' || s[c] == '3') &&
		       isdigit((unsigned char)s[c + 1]) && isdigit((unsigned char)s[c + 2]);
	}
	return false;
}

/* bounce_divider - a template's own divider line ("----- Transcript of session
 * follows -----", "----- Non-delivered information -----", or the dashes
 * left of one whose words end the report): it labels what comes next and
 * is none of the remote's words */
bool bounce_divider(const char *s, size_t len)
{
	size_t dashes = 0;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	while (dashes < len && s[dashes] == '-')
		dashes++;
	if (dashes == len)
		return len >= 3;
	return len >= 10 && !memchr(s, '\n', len) && dashes >= 5 &&
	       strncmp(s + len - 5, "-----", 5) == 0;
}

/* Labels a notice puts before the remote's words ("Reason: ...", Domino's
 * "because: ...", 1&1's "For the following reason: ..."), dropped from the
 * start of a diagnostic; lower case */
static const char *const diag_labels[] = {"for the following reason:", "reason:", "because:", NULL};

static void drop_label(char *d)
{
	for (size_t i = 0; diag_labels[i]; i++) {
		size_t n = strlen(diag_labels[i]);

		if (strncasecmp(d, diag_labels[i], n) == 0 && d[n] == ' ' && d[n + 1]) {
			memmove(d, d + n + 1, strlen(d + n + 1) + 1);
			return;
		}
	}
}

/* admin_line - Exchange's line for administrators, "#550 5.1.1
 * RESOLVER.ADR.RecipNotFound; not found ##", is the remote's or the
 * directory's own words, in every language the notice is written in;
 * when d holds one, d becomes it (with its marks), the sentences for
 * people around it dropped */
static void admin_line(char *d)
{
	for (char *p = strchr(d, '#'); p; p = strchr(p + 1, '#')) {
		if (!(p[1] == '4' || p[1] == '5') || !isdigit((unsigned char)p[2]) ||
		    !isdigit((unsigned char)p[3]) || p[4] != ' ')
			continue;
		char *e = strstr(p + 5, "##");
		if (!e)
			return;
		size_t n = (size_t)(e + 2 - p);
		memmove(d, p, n);
		d[n] = '\0';
		return;
	}
}

/* Sentences after which a notice quotes the remote's reply (Gmail: "The
 * response was:", "The response from the remote server was:", "The
 * error that the other server returned was:"): what comes before them
 * is the notice's own framing ("Your message to a@b has been blocked"),
 * whose words must not decide the reason */
static const char *const response_intros[] = {
    "The response was:",
    "The response from the remote server was:",
    "The error that the other server returned was:",
    NULL,
};

/* response_tail - d becomes the remote's reply after a response intro,
 * when it holds one followed by words */
static void response_tail(char *d)
{
	for (size_t i = 0; response_intros[i]; i++) {
		char *p = strstr(d, response_intros[i]);
		if (!p)
			continue;
		p += strlen(response_intros[i]);
		while (*p == ' ')
			p++;
		if (*p)
			memmove(d, p, strlen(p) + 1);
		return;
	}
}

/* bounce_diag_append - add one report line to a record's diagnostic. The text
 * already held is folded, so only the new line is: folding the whole
 * each time would make a long report quadratic. */
void bounce_diag_append(struct bounce_record *rec, const char *s, size_t len)
{
	struct buf b = {0};
	size_t old = rec->diagnostic_code ? strlen(rec->diagnostic_code) : 0;
	char *line;

	if (old >= 4000 || positive_reply(s, len) || bounce_divider(s, len))
		return;
	if (old + len > 4000)
		len = 4000 - old;
	line = xstrndup(s, len);
	bounce_fold(line);
	if (line[0]) {
		if (old) {
			buf_append(&b, rec->diagnostic_code, old);
			buf_putc(&b, ' ');
		}
		buf_puts(&b, line);
		free(rec->diagnostic_code);
		rec->diagnostic_code = buf_steal(&b);
	}
	free(line);
}

/* bounce_block_start - which transcript block the line p[0..l) opens */
enum bounce_block bounce_block_start(const char *p, size_t l)
{
	const char *e = p + l, *q;

	while (p < e && (*p == ' ' || *p == '.'))
		p++;
	if ((size_t)(e - p) >= 17 && strncasecmp(p, "while talking to ", 17) == 0)
		return BOUNCE_BLOCK_TALK;
	/* "NNN host (mailer)... text": a reply code, a host, a mailer */
	if ((size_t)(e - p) < 8 || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || p[3] != ' ')
		return BOUNCE_BLOCK_NONE;
	q = memchr(p + 4, ' ', (size_t)(e - p - 4));
	if (!q || q + 1 >= e || q[1] != '(' || memchr(p + 4, '@', (size_t)(q - p - 4)))
		return BOUNCE_BLOCK_NONE;
	q = memchr(q, ')', (size_t)(e - q));
	return q && (size_t)(e - q) >= 4 && strncmp(q, ")...", 4) == 0 ? BOUNCE_BLOCK_HOST
	                                                               : BOUNCE_BLOCK_NONE;
}

/* has_word - p[0..e) holds a letter: a reply with words, not a number */
static bool has_word(const char *p, const char *e)
{
	for (; p < e; p++)
		if (isalpha((unsigned char)*p))
			return true;
	return false;
}

/* preamble_reply - a remote reply quoted once above the list of
 * recipients, which is the cause for all of them (MailMarshal "Could not
 * be delivered because of\n550 5.1.1 User unknown\nThe following
 * recipients were affected:", James "Error message below:\n550 - ..."):
 * the first line of text[0..end) that opens with an RFC 5321 reply code
 * ("550 ", "550-") and says something after it. */
static bool preamble_reply(const char *text, size_t end, char *out, size_t size)
{
	const char *p = text, *stop = text + end;

	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *e = nl ? nl : stop;
		const char *q = p;

		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		/* a Sendmail host line ("421 host (smtp)... Deferred") is
		 * about that host only */
		if (e - q > 6 && bounce_block_start(q, (size_t)(e - q)) == BOUNCE_BLOCK_NONE &&
		    (q[0] == '4' || q[0] == '5') && isdigit((unsigned char)q[1]) &&
		    isdigit((unsigned char)q[2]) && (q[3] == ' ' || q[3] == '-') &&
		    has_word(q + 4, e)) {
			size_t l = (size_t)(e - q);
			if (l >= size)
				l = size - 1;
			memcpy(out, q, l);
			out[l] = '\0';
			bounce_fold(out);
			return true;
		}
		p = e + 1;
	}
	return false;
}

/* Rules under which a notice states each cause in words of its own, with
 * no reply code, above the addresses it concerns (Lotus Notes: "-------
 * Failure Reasons  --------", then "User not listed in public Name &
 * Address Book", its addresses, then the next cause and its addresses) */
static const char *const cause_rules[] = {"------- Failure Reasons", NULL};

bool bounce_cause_rule(const char *p, size_t l)
{
	while (l && (*p == ' ' || *p == '\t'))
		p++, l--;
	for (size_t i = 0; cause_rules[i]; i++) {
		size_t rl = strlen(cause_rules[i]);
		if (l >= rl && strncmp(p, cause_rules[i], rl) == 0)
			return true;
	}
	return false;
}

/* Labels some notices put before the remote's reply code, where it does
 * not stand alone as RFC 5321 writes it (Zoho: "Error, ERROR_CODE :421,
 * ERROR_CODE :, Host not reachable.") */
static const char *const replycode_labels[] = {"ERROR_CODE :", NULL};

static void labelled_replycode(const char *d, char *out, size_t size)
{
	for (size_t i = 0; replycode_labels[i]; i++) {
		const char *p = strstr(d, replycode_labels[i]);
		if (!p)
			continue;
		p += strlen(replycode_labels[i]);
		if ((p[0] == '4' || p[0] == '5') && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) && !isdigit((unsigned char)p[3]) && size > 3) {
			memcpy(out, p, 3);
			out[3] = '\0';
			return;
		}
	}
}

bool bounce_diag_shared(const char *text, size_t end, char *out, size_t size)
{
	return preamble_reply(text, end, out, size);
}

void bounce_diag_finish(struct bounce_record *r, const char *shared)
{
	if (shared && (!r->diagnostic_code ||
	               !bounce_find_status(r->diagnostic_code, r->status, sizeof(r->status)))) {
		/* the cause stated once above the list of recipients is
		 * theirs, before their own lines */
		struct buf b = {0};
		buf_puts(&b, shared);
		if (r->diagnostic_code) {
			buf_putc(&b, ' ');
			buf_puts(&b, r->diagnostic_code);
		}
		free(r->diagnostic_code);
		r->diagnostic_code = buf_steal(&b);
	}
	if (!r->diagnostic_code)
		return;
	drop_label(r->diagnostic_code);
	admin_line(r->diagnostic_code);
	response_tail(r->diagnostic_code);
	bounce_find_status(r->diagnostic_code, r->status, sizeof(r->status));
	if (!bounce_find_replycode(r->diagnostic_code, r->replycode, sizeof(r->replycode)))
		labelled_replycode(r->diagnostic_code, r->replycode, sizeof(r->replycode));
}
