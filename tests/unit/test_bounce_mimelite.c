/*
 * test_bounce_mimelite.c - the built-in MIME reader (mimelite.c) on the
 * message shapes it once left to GMime: each tests/bounce/mimelite-*.eml
 * must be read by the fast path (no fallback) and give the same decoded
 * view as GMime, buffer for buffer.
 *
 * The one known difference is not compared: GMime keeps the Content-*
 * fields of the top-level header on the MIME part, so its header dump
 * lacks them, while the fast reader lists every field; lines starting
 * "Content-" are dropped from both header dumps before comparing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "test_bounce_fixture.h"

#include "bounce/bounce.h"
#include "bounce/internal.h"

/* each file and a piece of text its decoded view must hold (so a test
 * that compared two empty views would still fail) */
static const struct {
	const char *file;
	const char *want; /* in text (or dsn, orig) */
} cases[] = {
    /* a Content-Type parameter on an unindented line: GMime drops the
     * line, so the nested multipart has no boundary and no parts */
    {"mimelite-unindented-boundary.eml", "550 - Requested action not taken"},
    /* header lines that are not fields (no colon, a name then a space)
     * are dropped with their folds, in the top-level header, in a part
     * header and in the returned message's header */
    {"mimelite-stray-header-lines.eml", "Delivery has failed to these recipients: \n"},
    {"mimelite-stray-header-lines.eml", "Subject: hello\n"},
    /* "--XXjunk" and "--XX--junk" are content, "--XX  " a delimiter */
    {"mimelite-boundary-lines.eml", "User unknown\n--XX--junk\nstill the same part\n"},
    /* bytes invalid in the declared charset are dropped (ISO-2022-JP
     * holding UTF-8, 8-bit bytes in US-ASCII, broken UTF-8); an unknown
     * charset leaves the bytes as they are */
    {"mimelite-charsets.eml", " \xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab\n<nobody@example.jp>"},
    {"mimelite-charsets.eml", "bad  bytes  here\nvalid \xc3\xa9, invalid ( and \nraw \xef\xbf\xbd\n"},
};

/* drop_content_fields - the header dump without its Content-* lines */
static char *drop_content_fields(const char *h)
{
	size_t n = strlen(h), o = 0;
	char *out = malloc(n + 1);

	assert_non_null(out);
	while (*h) {
		const char *e = strchr(h, '\n');
		size_t l = e ? (size_t)(e - h) + 1 : strlen(h);
		if (strncasecmp(h, "Content-", 8) != 0) {
			memcpy(out + o, h, l);
			o += l;
		}
		h += l;
	}
	out[o] = '\0';
	return out;
}

static void same(const char *file, const char *what, const char *fast, const char *gmime)
{
	if (strcmp(fast, gmime) != 0)
		fail_msg("%s: %s: fast reader got [%s], GMime [%s]", file, what, fast, gmime);
}

static void test_fast_view_is_gmime_view(void **state)
{
	(void)state;
	bounce_init();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bounce_doc lite, a, b;
		size_t len;
		char *data = slurp(cases[i].file, &len);

		/* read by the fast path itself, not handed to GMime */
		if (!bounce_doc_load_lite(&lite, data, len))
			fail_msg("%s: the fast reader refused it, want it read", cases[i].file);
		bounce_doc_free(&lite);
		bounce_set_fast_mime(true);
		bounce_doc_load(&a, data, len);
		bounce_set_fast_mime(false);
		bounce_doc_load(&b, data, len);
		bounce_set_fast_mime(true);

		char *ha = drop_content_fields(a.hdr.data), *hb = drop_content_fields(b.hdr.data);
		same(cases[i].file, "hdr", ha, hb);
		same(cases[i].file, "text", a.text.data, b.text.data);
		same(cases[i].file, "dsn", a.dsn.data, b.dsn.data);
		same(cases[i].file, "arf", a.arf.data, b.arf.data);
		same(cases[i].file, "orig", a.orig.data, b.orig.data);
		same(cases[i].file, "inner", a.inner.data, b.inner.data);
		if (a.report != b.report)
			fail_msg("%s: report got %d, GMime %d", cases[i].file, a.report, b.report);
		if (!strstr(a.text.data, cases[i].want) && !strstr(a.dsn.data, cases[i].want) &&
		    !strstr(a.orig.data, cases[i].want))
			fail_msg("%s: got text [%s] orig [%s], want [%s] in it", cases[i].file,
			         a.text.data, a.orig.data, cases[i].want);
		free(ha);
		free(hb);
		bounce_doc_free(&a);
		bounce_doc_free(&b);
		free(data);
	}
}

/* a NUL ends a text part's text (GMime hands it out as a C string) */
static void test_nul_ends_text(void **state)
{
	static const char msg[] = "From: a@example.org\nContent-Type: text/plain; charset=iso-8859-1\n\n"
	                          "before\0after\n";
	struct bounce_doc a, b;

	(void)state;
	bounce_init();
	assert_true(bounce_doc_load_lite(&a, msg, sizeof(msg) - 1));
	bounce_doc_free(&a);
	bounce_doc_load(&a, msg, sizeof(msg) - 1);
	bounce_set_fast_mime(false);
	bounce_doc_load(&b, msg, sizeof(msg) - 1);
	bounce_set_fast_mime(true);
	same("nul", "text", a.text.data, b.text.data);
	same("nul", "text", a.text.data, "before\n");
	bounce_doc_free(&a);
	bounce_doc_free(&b);
}

/* shapes still left to GMime: a first header line that is not a field,
 * a "name :" field, a sequence cut short at the end of a UTF-8 text, a
 * multipart whose delimiter never occurs */
static void test_still_refused(void **state)
{
	static const char *const msgs[] = {
	    "not a header\nFrom: a@example.org\n\nbody\n",
	    "From: a@example.org\nX-Spaced : value\n\nbody\n",
	    "From: a@example.org\nContent-Type: text/plain; charset=utf-8\n\ncut \xe3\x81",
	    "From: a@example.org\nContent-Type: multipart/mixed; boundary=zz\n\n--yy\n\nx\n",
	};
	struct bounce_doc d;

	(void)state;
	bounce_init();
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
	{
		if (bounce_doc_load_lite(&d, msgs[i], strlen(msgs[i])))
			fail_msg("message %zu: the fast reader took it, want it left to GMime", i);
		bounce_doc_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fast_view_is_gmime_view),
	    cmocka_unit_test(test_nul_ends_text),
	    cmocka_unit_test(test_still_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
