/*
 * report_int.h - what the files of src/report share and nobody else uses.
 */
#ifndef MAILERD_REPORT_INT_H
#define MAILERD_REPORT_INT_H

#include "report/report.h"

/* RFC 5322 section 2.1.1: lines SHOULD stay within 78 characters and MUST
 * stay within 998 (both without the CRLF). */
#define REPORT_LINE_SOFT 78
#define REPORT_LINE_HARD 998

/* text.c: part 1, the words for a person (CRLF line ends, not stuffed) */
int report_text_render(const struct report_request *req, struct buf *out, char *err, size_t errlen);
/* report_subject - the Subject: of a report of this kind about msg */
const char *report_subject(const struct report_request *req);

/* dsn.c: part 2, the message/delivery-status fields (CRLF, not stuffed) */
void report_dsn_render(const struct report_request *req, bool global, struct buf *out);
/* report_fold_field - "Name: value" CRLF, folded before white space so no
 * line passes 78 characters where the value allows it (RFC 5322 section
 * 2.2.3); unfolding gives value back exactly. */
void report_fold_field(struct buf *out, const char *name, const char *value);
/* report_clean_text - copy text to out with CR, LF, TAB and other control
 * bytes turned into spaces; non-ASCII bytes become '?' unless utf8 */
void report_clean_text(const char *in, bool utf8, char *out, size_t size);
bool report_is_ascii(const char *s);
/* report_orcpt_decode - "rfc822;a+2Bb@x" -> "rfc822; a+b@x" (type; decoded
 * xtext, or the raw text when it is not valid xtext, e.g. UTF-8) */
void report_orcpt_decode(const char *orcpt, bool utf8, char *out, size_t size);

/* compose.c: the address a report goes to (To: and envelope) */
void report_target_addr(const struct report_request *req, char *out, size_t size);

#endif
