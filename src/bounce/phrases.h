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

#endif
