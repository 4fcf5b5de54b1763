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
 * Nothing here fails: no match leaves the output empty.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

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

/* bounce_command_near - the SMTP command near the recipient in the report's
 * text (text[0..end)): Postfix "(in reply to end of DATA command)" after
 * the address, or the last ">>> COMMAND" line of a Sendmail transcript
 * before it */
void bounce_command_near(const char *text, size_t end, const char *addr, char *out, size_t size)
{
	size_t al = strlen(addr);

	if (al == 0)
		return;
	for (const char *p = casestr_in(text, end, addr, al); p;
	     p = casestr_in(p + al, end - (size_t)(p + al - text), addr, al)) {
		size_t rest = end - (size_t)(p - text);
		const char *blank = memmem(p, rest, "\n\n", 2);
		size_t win = blank ? (size_t)(blank - p) : rest;
		char tmp[1024];

		if (win >= sizeof(tmp))
			win = sizeof(tmp) - 1;
		memcpy(tmp, p, win);
		tmp[win] = '\0';
		bounce_fold(tmp);
		util_lowercase(tmp);
		bounce_command_in(tmp, out, size);
		if (out[0])
			return;
		/* transcript: walk back to the nearest ">>> " line */
		for (const char *q = p; q > text && p - q < 400; q--) {
			if (q[-1] == '\n' && strncmp(q, ">>> ", 4) == 0) {
				if (util_strcaseprefix(q + 4, "DATA") ||
				    (q[4] == '.' && q[5] == '\n'))
					util_strlcpy(out, "DATA", size);
				else if (util_strcaseprefix(q + 4, "MAIL"))
					util_strlcpy(out, "MAIL", size);
				else if (util_strcaseprefix(q + 4, "RCPT"))
					util_strlcpy(out, "RCPT", size);
				return;
			}
			if (q[-1] == '\n' && q[0] == '\n')
				break;
		}
	}
}

/* bounce_command_greeting - a Sendmail transcript in which a host refused
 * the connection itself: "... while talking to mx.example.org.:" is
 * followed straight away by the host's "<<< 554 ..." reply, with no
 * ">>> COMMAND" line anywhere (RFC 5321 3.1: the greeting may be a 554
 * refusal). Then the refusal is of the client host ("CONN"). A 421 at
 * the greeting is only "not now" (RFC 5321 3.8): the queue kept trying. */
void bounce_command_greeting(const char *text, size_t end, char *out, size_t size)
{
	const char *p = text, *stop = text + end;
	bool refused = false;

	/* most reports hold no transcript at all: two quick scans first */
	if (!memmem(text, end, "\n<<< 5", 6) || memmem(text, end, "\n>>> ", 5))
		return;
	while (p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *next = nl ? nl + 1 : stop;
		size_t l = (size_t)(next - p);

		if (l >= 4 && strncmp(p, ">>> ", 4) == 0)
			return; /* a command was sent: not the greeting */
		if (casestr_in(p, l, "while talking to ", 17) && next < stop &&
		    (size_t)(stop - next) > 5 && strncmp(next, "<<< 5", 5) == 0)
			refused = true;
		p = next;
	}
	if (refused)
		util_strlcpy(out, "CONN", size);
}
