/*
 * internal.h - declarations shared by the files of src/contacts and its
 * unit tests only (other parts include contacts.h).
 *
 *   syntax.c      mailbox syntax with error positions
 *   csv.c         RFC 4180 reader and field quoting
 *   verdict.c     verdict names; local (syntax, typo) and DNS verdicts
 *   suppressed.c  the one door to the suppression store
 *   check.c       the run: rows in order, DNS cache and concurrency, output
 */
#ifndef MAILERD_CONTACTS_INTERNAL_H
#define MAILERD_CONTACTS_INTERNAL_H

#include "contacts/contacts.h"

struct contacts_suppress;
/* contacts_suppress_open - open the store at url for lookups. Returns 0
 * with *out set, or 0 with *out NULL and a note when there is no store to
 * ask (an sqlite: file that does not exist yet: nobody was ever
 * suppressed, and a check must not create it), or -1 with err. */
int contacts_suppress_open(const char *url, struct contacts_suppress **out, char *note,
                           size_t notelen, char *err, size_t errlen);
void contacts_suppress_close(struct contacts_suppress *s);
/* contacts_suppressed - 1 and r filled (verdict, when and why) when addr
 * is suppressed, 0 when not, -1 with err when the store failed */
int contacts_suppressed(struct contacts_suppress *s, const char *addr, struct contacts_result *r,
                        char *err, size_t errlen);

#endif
