/*
 * test_bounce_fixture.h - what the bounce tests share: reading one of the
 * hand-made messages of tests/bounce (SOURCE_DIR, set by ctest, names the
 * source tree). A file that cannot be read fails the test that asked.
 */
#ifndef TEST_BOUNCE_FIXTURE_H
#define TEST_BOUNCE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

/* slurp - tests/bounce/NAME whole, NUL-terminated (malloc), its length in
 * *len; cmocka.h must be included first (fail_msg) */
static inline char *slurp(const char *name, size_t *len)
{
	const char *src = getenv("SOURCE_DIR");
	char path[1024];
	FILE *fp;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/tests/bounce/%s", src ? src : ".", name);
	fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	if (fread(data, 1, (size_t)n, fp) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(fp);
	data[n] = '\0';
	*len = (size_t)n;
	return data;
}

#endif
