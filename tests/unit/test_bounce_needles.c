/*
 * test_bounce_needles.c - the one-pass needle scans of needles.c:
 * bounce_needles_all sets the bit of every needle inside the window and
 * of no other (one that runs past the window's end, or past the text's
 * NUL, is not in it), and table order does not hide a later needle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bounce/internal.h"

/* two needles share a first byte and a pair ("To:" and "To ") so that
 * the grouped lookup is exercised, one is long, one is not ASCII */
static const char *const needles[] = {"To:", "To ",
                                      "Recipient address:", "Empf\xc3\xa4nger:", "<mailto:"};
#define NNEEDLES (sizeof(needles) / sizeof(needles[0]))

/* hits_of - the bits bounce_needles_all sets on text[0..len) (len
 * SIZE_MAX: no end, up to the NUL), as a mask of the five needles */
static unsigned hits_of(const char *text, size_t len)
{
	static struct bounce_needles ix;
	static int built;
	uint64_t hits[4] = {0};
	unsigned mask = 0;

	if (!built) {
		bounce_needles_build(&ix, needles, NNEEDLES);
		built = 1;
	}
	bounce_needles_all(&ix, needles, text, len == SIZE_MAX ? NULL : text + len, hits);
	for (size_t i = 0; i < NNEEDLES; i++)
		if (bounce_needles_hit(hits, i))
			mask |= 1u << i;
	/* nothing beyond the table is ever set */
	for (size_t i = NNEEDLES; i < 256; i++)
		assert_false(bounce_needles_hit(hits, i));
	return mask;
}

static void test_all_in_window(void **state)
{
	(void)state;
	const char *line = "To: <a@b.example> Recipient address: x <mailto:c@d.example>";

	assert_int_equal(hits_of(line, strlen(line)), 1u << 0 | 1u << 2 | 1u << 4);
	assert_int_equal(hits_of("Empf\xc3\xa4nger: a@b", SIZE_MAX), 1u << 3);
	assert_int_equal(hits_of("Mail To a@b", SIZE_MAX), 1u << 1);
	assert_int_equal(hits_of("no label here", SIZE_MAX), 0);
	assert_int_equal(hits_of("", SIZE_MAX), 0);
}

static void test_window_end(void **state)
{
	(void)state;
	/* the window ends inside "Recipient address:"; "<mailto:" lies
	 * wholly after it */
	const char *text = "To: x Recipient address: <mailto:a@b>";
	size_t cut = (size_t)(strstr(text, "address") - text);

	assert_int_equal(hits_of(text, cut), 1u << 0);
	assert_int_equal(hits_of(text, strlen(text)), 1u << 0 | 1u << 2 | 1u << 4);
	/* a needle cut by the window's last byte is not in it */
	assert_int_equal(hits_of("a To:", 4), 0);
	assert_int_equal(hits_of("a To:", 5), 1u << 0);
	/* a text shorter than a needle, ending at its NUL */
	assert_int_equal(hits_of("<mailto", SIZE_MAX), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_in_window),
	    cmocka_unit_test(test_window_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
