/*
 * test_bounce_html.c - the text of an HTML part (bounce_html_text, html.c):
 * what markup is dropped, what stays text, how broken markup is read;
 * and which plain alternatives say nothing, so that the HTML one is read
 * (bounce_html_over_plain). Table-driven: each case is the input and the
 * text or choice it must give.
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
    /* quoted attribute values are part of the tag, '>' and all */
    {"'>' inside a quoted value", "<div title=\"a>b x@example.com\">t</div>", "\nt\n"},
    {"'>' inside a single-quoted value", "<DIV DATA-X='c>d'>t</DIV>", "\nt\n"},
    {"white space around '='", "<a title = \"x>y\" >t</a>", "t\n"},
    {"a quote inside an unquoted value opens nothing", "<a href=x?a=\"b>t</a>", "t\n"},
    {"a quote that opens no value is a name", "<a \"x>y\">t", "y\">t\n"},
    {"a quote closed further on: what lies between is the tag's", "<a title=\"x>lost\">kept",
     "kept\n"},
    {"a quote never closed: the tag ends at the next '>'", "<a title=\"x>bob</a>", "bob\n"},
    {"a tag whose every '>' is quoted runs to the end", "a<b c=\">\"", "a\n"},
    /* entities; those for white space are a plain space, so the text's
     * readers find an address after them as after any space */
    {"named and numeric entities", "&lt;a&#64;b&#x2E;example&gt; &amp; &quot;&#233;&quot;",
     "<a@b.example> & \"\xc3\xa9\"\n"},
    {"entities for spaces", "&nbsp;&#160;&#xA0;&ensp;&emsp;&thinsp;&#x3000;&#8239;a",
     "        a\n"},
    {"numeric entities are digits only", "&#+65;&#x0x41;&#65 ;&#;&#x;&#0;",
     "&#+65;&#x0x41;&#65 ;&#;&#x;&#0;\n"},
    {"numeric line breaks are spaces too", "a&#13;&#10;b", "a  b\n"},
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

/* a quoted value is taken whole up to a bound (html.c: 1024 bytes):
 * past it the quote is a stray one and the tag ends at the next '>', so
 * an unclosed quote cannot take the text after it into the tag */
static void test_html_quote_bound(void **state)
{
	static const struct {
		size_t gap;
		bool text; /* the bytes between the quotes are text */
	} cases[] = {{500, false}, {2000, true}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = {0}, want = {0};

		buf_puts(&b, "<a title=\"x>");
		for (size_t k = 0; k < cases[i].gap; k++)
			buf_putc(&b, 'y');
		buf_puts(&b, "\">z");
		if (cases[i].text) {
			buf_append(&want, b.data + 12, cases[i].gap);
			buf_puts(&want, "\">");
		}
		buf_puts(&want, "z\n");
		bounce_html_text(&b, 0);
		if (strcmp(b.data, want.data) != 0)
			fail_msg("%zu bytes to the closing quote: got %zu bytes of text, want %zu",
			         cases[i].gap, b.len, want.len);
		buf_free(&b);
		buf_free(&want);
	}
}

/* which plain alternatives say nothing, so that the HTML is read */
static void test_html_over_plain(void **state)
{
	static const struct {
		const char *name, *plain;
		bool html;
	} cases[] = {
	    {"empty", "", true},
	    {"white space only", "\n \t\n", true},
	    {"a line for clients without HTML",
	     "This message is in HTML format. Please use an HTML capable mail client.\n", true},
	    {"an address", "<a@b.example>: 550 5.1.1 User unknown\n", false},
	    {"a short line with an address", "a@b\n", false},
	    {"over 200 characters without an address",
	     "Delivery has failed to these recipients or groups: Bob Example. The address "
	     "you entered couldn't be found. Please check the recipient's address and try "
	     "to resend the message. If the problem continues, call your helpdesk. More "
	     "for administrators below.",
	     false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = {0};

		buf_puts(&b, "kept\n");
		buf_puts(&b, cases[i].plain);
		bool got = bounce_html_over_plain(&b, 5);
		/* dropped when the HTML is read instead, else left whole */
		size_t want_len = cases[i].html ? 5 : 5 + strlen(cases[i].plain);
		if (got != cases[i].html || b.len != want_len)
			fail_msg("%s: got %s (%zu bytes left), want %s (%zu)", cases[i].name,
			         got ? "html" : "plain", b.len, cases[i].html ? "html" : "plain",
			         want_len);
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_html_text),
	    cmocka_unit_test(test_html_quote_bound),
	    cmocka_unit_test(test_html_over_plain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
