/*
 * phrases.h - the reason-phrase table (phrases.c): words remote servers use
 * for each failure reason, in several languages. Searched case-blind, in
 * table order, so a more specific phrase sits above a looser one.
 */
#ifndef MAILERD_BOUNCE_PHRASES_H
#define MAILERD_BOUNCE_PHRASES_H

struct bounce_phrase {
	const char *reason;
	const char *phrase;
};

extern const struct bounce_phrase bounce_phrases[];

/* bounce_phrase_find - index of the first table entry in [lo, hi) whose
 * phrase occurs in text (lower case), or -1. One pass over text with an
 * index of the phrases by their first two bytes, instead of one strstr
 * per phrase. */
long bounce_phrase_find(const char *text, size_t lo, size_t hi);

/* bounce_phrase_weak_start - index of the separator entry (reason "")
 * that ends the strong phrases; the weak ones follow it. Thread-safe. */
size_t bounce_phrase_weak_start(void);

#endif
