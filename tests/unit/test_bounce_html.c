/*
 * test_bounce_html.c - the text of an HTML part (bounce_html_text, html.c):
 * what markup is dropped, what stays text, how broken markup is read.
 * Table-driven: each case is the part's markup and the text it must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bounce/internal.h"

static const struct {
	const char *name, *html, *want;
} cases[] = {
    {"block ends as line breaks, cells as spaces",
     "<p>Recipient:</p><table><tr><td>a@b.example</td><td>550</td></tr></table>",
     "\nRecipient:\n\n\n a@b.example  550 \n\n"},
    /* declarations and processing instructions are bogus comments
     * (WHATWG HTML 13.2.5.6-8), up to the next '>' */
    {"doctype and xml declaration dropped", "<?xml version=\"1.0\"?><!DOCTYPE html>x", "x\n"},
    {"'</' and no letter: dropped up to '>'", "x</>y</ z>w", "xyw\n"},
    {"'<' and no letter or '!', '?', '/': text", "a < b, 3<4 <b>c</b>", "a < b, 3<4 c\n"},
    /* markup no '>' closes is text, not the rest of the part */
    {"unclosed tag at the end: text", "<p>a</p><a href=x", "\na\n<a href=x\n"},
    {"many '<' and no '>': text", "<p>a</p>\n<<<b", "\na\n <<<b\n"},
    {"comments dropped; one never closed runs to the end", "a<!-- c -->b<!-- d", "ab\n"},
    {"style and script content dropped", "a<style>p{}</style>b<SCRIPT>x<y</script >c", "abc\n"},
};

/* shown - s with line breaks written as \n, for a one-line message */
static const char *shown(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && n + 3 < size; s++) {
		if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
	return out;
}

static void test_html_text(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = {0};
		char got[512], want[512];

		/* the part's text is made after what the buffer held */
		buf_puts(&b, "kept\n");
		buf_puts(&b, cases[i].html);
		bounce_html_text(&b, 5);
		if (b.len < 5 || memcmp(b.data, "kept\n", 5) != 0 ||
		    strcmp(b.data + 5, cases[i].want) != 0) {
			print_error("%s: got \"%s\", want \"kept\\n%s\"\n", cases[i].name,
			            shown(b.data, got, sizeof(got)),
			            shown(cases[i].want, want, sizeof(want)));
			failed++;
		}
		buf_free(&b);
	}
	if (failed)
		fail_msg("%zu of %zu cases failed", failed, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_html_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
