/*
 * command.c - which SMTP command a quoted reply answered (RFC 5321 3.3:
 * a refusal of RCPT is about the address, of MAIL about the sender, of
 * DATA about the content, at the greeting about the client host), read
 * from the reporting MTA's own wording around the reply: Postfix "(in
 * reply to RCPT TO command)", Exim "after end of data", qmail "did not
 * like our RCPT", a Sendmail transcript's ">>> DATA" line.
 *
 * The command words are found in one pass (needles.c index, built once
 * under pthread_once, read-only after: thread-safe). Texts are read in
 * place; the only copy is a bounded window (1 KiB) around an address.
 * The address's occurrences in a doc's text come from an index built
 * once per doc (owned by the doc); at most NEAR_MAX are read, so a text naming
 * many recipients, or one recipient many times, costs linear time.
 * Nothing here fails: no match leaves the output empty.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce/addrindex.h"
#include "bounce/internal.h"

/* The MTAs' own words for "this reply answered command X" (RFC 5321
 * 3.3: RCPT refusals are about the address, MAIL about the sender, DATA
 * about the content). Matched on a lower-cased, whitespace-folded copy;
 * the earliest match in the text wins. */
static const char *const command_words[] = {
    "in reply to end of data",
    "in reply to data",
    "in reply to rcpt",
    "in reply to mail",
    "in reply to helo",
    "in reply to ehlo",
    "after end of data",
    "after data",
    "after rcpt",
    "after pipelined rcpt",
    "after mail",
    "after pipelined mail",
    "after helo",
    "after ehlo",
    "[rcpt_to]",
    "[mail_from]",
    ">>> rcpt to",
    ">>> mail from",
    "smtp:rcpt",
    "smtp:mail",
    "progress was rcpt",
    "progress was mail",
    "does not like recipient",
    "did not like our rcpt",
    "did not like our mail",
    "did not like our data",
    ">>> data",
    "data command",
    "after initial connection",
    "refused to talk to me",
};
/* the command each entry of command_words names, in the same order */
static const char *const command_names[] = {
    "DATA", "DATA", "RCPT", "MAIL", "HELO", "HELO", "DATA", "DATA", "RCPT", "RCPT",
    "MAIL", "MAIL", "HELO", "HELO", "RCPT", "MAIL", "RCPT", "MAIL", "RCPT", "MAIL",
    "RCPT", "MAIL", "RCPT", "RCPT", "MAIL", "DATA", "DATA", "DATA", "CONN", "CONN",
};
_Static_assert(sizeof(command_names) == sizeof(command_words), "one command per word");
#define NCOMMAND (sizeof(command_words) / sizeof(command_words[0]))

/* One pass finds the earliest command word (needles.c) instead of a
 * strstr per word: this runs for every record and every window of the
 * report around its address. Built once; read-only after. */
static struct bounce_needles command_ix;
static pthread_once_t command_once = PTHREAD_ONCE_INIT;

static void command_ix_init(void)
{
	bounce_needles_build(&command_ix, command_words, NCOMMAND);
}

/* bounce_command_in - the SMTP command a quoted reply answered, from the MTA's
 * own wording ("in reply to RCPT TO command", "after end of data"), in
 * a text already lower-cased and whitespace-folded (no copy made); the
 * earliest match in the text wins */
void bounce_command_in(const char *f, char *out, size_t size)
{
	size_t i;

	pthread_once(&command_once, command_ix_init);
	i = bounce_needles_earliest(&command_ix, command_words, f);
	if (i < NCOMMAND)
		util_strlcpy(out, command_names[i], size);
}

/* casestr_in - ASCII case-blind search for needle inside hay[0..hlen),
 * which need not end there: the report part is searched in place,
 * without copying it out of the whole message */
static const char *casestr_in(const char *hay, size_t hlen, const char *needle, size_t nl)
{
	/* both cases of the first byte, compared directly: a plain byte
	 * test per position, the full compare only where one matches */
	char lo = (char)tolower((unsigned char)needle[0]);
	char up = (char)toupper((unsigned char)needle[0]);

	if (nl == 0 || nl > hlen)
		return NULL;
	for (size_t i = 0; i + nl <= hlen; i++)
		if ((hay[i] == lo || hay[i] == up) &&
		    strncasecmp(hay + i + 1, needle + 1, nl - 1) == 0)
			return hay + i;
	return NULL;
}

/* At most this many occurrences of an address are read for its command:
 * the first naming is what matters, and a text that repeats an address
 * a million times must not cost a window per repeat */
#define NEAR_MAX 8
#define NEAR_TOKENS_MAX (4 * (size_t)BOUNCE_RECIPIENTS_MAX) /* tokens indexed per doc */

/* near_at - read the command around one occurrence p of an address in
 * text[0..end): Postfix "(in reply to ... command)" in the paragraph
 * after it, else the nearest ">>> " transcript line before it. True
 * when the search is decided (a transcript line ends it even when it
 * names no command we know). */
static bool near_at(const char *text, size_t end, const char *p, char *out, size_t size)
{
	size_t rest = end - (size_t)(p - text);
	char tmp[1024];
	/* only the window is read: looking for the blank line past it
	 * would scan the rest of the text for every occurrence */
	size_t win = rest < sizeof(tmp) - 1 ? rest : sizeof(tmp) - 1;
	const char *blank = memmem(p, win, "\n\n", 2);

	if (blank)
		win = (size_t)(blank - p);
	memcpy(tmp, p, win);
	tmp[win] = '\0';
	bounce_fold(tmp);
	util_lowercase(tmp);
	bounce_command_in(tmp, out, size);
	if (out[0])
		return true;
	/* transcript: walk back to the nearest ">>> " line */
	for (const char *q = p; q > text && p - q < 400; q--) {
		if (q[-1] == '\n' && strncmp(q, ">>> ", 4) == 0) {
			if (util_strcaseprefix(q + 4, "DATA") || (q[4] == '.' && q[5] == '\n'))
				util_strlcpy(out, "DATA", size);
			else if (util_strcaseprefix(q + 4, "MAIL"))
				util_strlcpy(out, "MAIL", size);
			else if (util_strcaseprefix(q + 4, "RCPT"))
				util_strlcpy(out, "RCPT", size);
			return true;
		}
		if (q[-1] == '\n' && q[0] == '\n')
			break;
	}
	return false;
}

/* The address tokens of a doc's report text, indexed once per doc: a
 * report naming n recipients would otherwise be searched n times from its
 * start (quadratic: a 1 MB list of 20000 recipients took 20 s). A token
 * is the run of local-part bytes before an '@' and of domain bytes after
 * it, as bounce_find_addr takes them; the index maps its lower-cased text
 * to its first NEAR_MAX occurrences. It belongs to the doc (doc->near,
 * made at load, freed with the doc), so threads never share one. */
struct near_tok {
	size_t start, len;  /* the token in the text */
	size_t next;        /* the next occurrence of the same token, or SIZE_MAX */
	size_t last, count; /* for the first occurrence: the chain's tail and length */
};

struct bounce_near {
	bool built;
	struct addrindex ix; /* token hash -> index of its first occurrence in tok */
	struct near_tok *tok;
	size_t ntok, captok;
	int greet; /* bounce_command_greeting's answer: -1 not asked yet */
};

struct bounce_near *bounce_near_new(void)
{
	struct bounce_near *n = xcalloc(1, sizeof(*n));

	n->greet = -1;
	return n;
}

void bounce_near_free(struct bounce_near *n)
{
	if (!n)
		return;
	addrindex_free(&n->ix);
	free(n->tok);
	free(n);
}

/* near_head - the first occurrence of token s[0..len) in text, or SIZE_MAX */
static size_t near_head(const struct bounce_near *n, const char *text, const char *s, size_t len,
                        uint64_t h)
{
	size_t cur = 0, k;

	while ((k = addrindex_next(&n->ix, h, &cur)) != SIZE_MAX)
		if (n->tok[k].len == len && strncasecmp(text + n->tok[k].start, s, len) == 0)
			return k;
	return SIZE_MAX;
}

/* near_build - index the tokens of text[0..end): one pass, each byte
 * read at most twice (once in the local run before the '@' it belongs
 * to, once in a domain run after one) */
static void near_build(struct bounce_near *n, const char *text, size_t end)
{
	n->built = true;
	/* a real notice names each of its (at most BOUNCE_RECIPIENTS_MAX)
	 * recipients a few times; a crafted one naming millions is indexed
	 * as far as that, not to gigabytes */
	for (const char *at = memchr(text, '@', end); at && n->ntok < NEAR_TOKENS_MAX;
	     at = memchr(at + 1, '@', end - (size_t)(at + 1 - text))) {
		const char *b = at, *e = at + 1, *stop = text + end;

		while (b > text && bounce_addr_local_char((unsigned char)b[-1]))
			b--;
		while (e < stop && bounce_addr_domain_char((unsigned char)*e))
			e++;
		/* trimmed as bounce_find_addr trims */
		while (b < at && *b == '.')
			b++;
		while (e > at + 1 && (e[-1] == '.' || e[-1] == '-'))
			e--;
		size_t len = (size_t)(e - b);
		if (b == at || e == at + 1 || len >= BOUNCE_ADDR_MAX)
			continue;
		uint64_t h = addrindex_hash(b, len);
		size_t head = near_head(n, text, b, len, h);
		if (head != SIZE_MAX && n->tok[head].count >= NEAR_MAX)
			continue;
		if (n->ntok == n->captok) {
			n->captok = n->captok ? n->captok * 2 : 64;
			n->tok = xrealloc(n->tok, n->captok * sizeof(*n->tok));
		}
		size_t k = n->ntok++;
		n->tok[k] = (struct near_tok){.start = (size_t)(b - text),
		                              .len = len,
		                              .next = SIZE_MAX,
		                              .last = k,
		                              .count = 1};
		if (head == SIZE_MAX) {
			addrindex_put(&n->ix, h, k);
		} else {
			n->tok[n->tok[head].last].next = k;
			n->tok[head].last = k;
			n->tok[head].count++;
		}
	}
}

/* near_indexable - addr is one token as near_build cuts them: one '@',
 * a local part and a domain of the token bytes, trimmed */
static bool near_indexable(const char *addr, size_t al)
{
	const char *at = memchr(addr, '@', al);

	if (!at || at == addr || at + 1 == addr + al || al >= BOUNCE_ADDR_MAX || addr[0] == '.' ||
	    addr[al - 1] == '.' || addr[al - 1] == '-')
		return false;
	for (const char *c = addr; c < at; c++)
		if (!bounce_addr_local_char((unsigned char)*c))
			return false;
	for (const char *c = at + 1; c < addr + al; c++)
		if (!bounce_addr_domain_char((unsigned char)*c))
			return false;
	return true;
}

/* bounce_command_near - the SMTP command near the recipient in the report's
 * text: Postfix "(in reply to end of DATA command)" after the address, or
 * the last ">>> COMMAND" line of a Sendmail transcript before it. The
 * first NEAR_MAX occurrences are read: through the doc's index when it
 * has one, else by searching. */
void bounce_command_near(const struct bounce_doc *doc, const char *addr, char *out, size_t size)
{
	const char *text = doc->text.data;
	size_t end = doc->rend, al = strlen(addr), i = 0;
	struct bounce_near *n = doc->near;

	if (al == 0 || !text)
		return;
	if (n && near_indexable(addr, al)) {
		if (!n->built)
			near_build(n, text, end);
		for (size_t k = near_head(n, text, addr, al, addrindex_hash(addr, al));
		     k != SIZE_MAX; k = n->tok[k].next)
			if (near_at(text, end, text + n->tok[k].start, out, size))
				return;
		return;
	}
	for (const char *p = casestr_in(text, end, addr, al); p && i < NEAR_MAX;
	     p = casestr_in(p + al, end - (size_t)(p + al - text), addr, al), i++)
		if (near_at(text, end, p, out, size))
			return;
}

/* greeting_refused - a Sendmail transcript in which a host refused the
 * connection itself: "... while talking to mx.example.org.:" is followed
 * straight away by the host's "<<< 554 ..." reply, with no ">>> COMMAND"
 * line anywhere (RFC 5321 3.1: the greeting may be a 554 refusal). A 421
 * at the greeting is only "not now" (RFC 5321 3.8): the queue kept
 * trying. */
static bool greeting_refused(const char *text, size_t end)
{
	const char *p = text, *stop = text + end;
	bool refused = false;

	/* most reports hold no transcript at all: two quick scans first */
	if (!memmem(text, end, "\n<<< 5", 6) || memmem(text, end, "\n>>> ", 5))
		return false;
	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *next = nl ? nl + 1 : stop;
		size_t l = (size_t)(next - p);

		if (l >= 4 && strncmp(p, ">>> ", 4) == 0)
			return false; /* a command was sent: not the greeting */
		if (casestr_in(p, l, "while talking to ", 17) && next < stop &&
		    (size_t)(stop - next) > 5 && strncmp(next, "<<< 5", 5) == 0)
			refused = true;
		p = next;
	}
	return refused;
}

/* bounce_command_greeting - "CONN" when the host refused at its greeting;
 * asked once per record, answered once per doc */
void bounce_command_greeting(const struct bounce_doc *doc, char *out, size_t size)
{
	struct bounce_near *n = doc->near;
	bool refused;

	if (!doc->text.data)
		return;
	if (n && n->greet >= 0) {
		refused = n->greet == 1;
	} else {
		refused = greeting_refused(doc->text.data, doc->rend);
		if (n)
			n->greet = refused;
	}
	if (refused)
		util_strlcpy(out, "CONN", size);
}
