/*
 * test_signing_key.c - the signing key file: made on first load with mode
 * 0600 and 32 bytes, the same key on the next load, and refused when it
 * is missing (no create), of the wrong size, or readable by others.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "signing/signing.h"

static char dir[600];

static int setup(void **state)
{
	const char *base = getenv("MAILERD_TEST_TMP");
	char tmpl[sizeof(dir)];

	(void)state;
	if (base == NULL || base[0] == '\0')
		base = ".";
	mkdir(base, 0755);
	snprintf(tmpl, sizeof(tmpl), "%s/signing.XXXXXX", base);
	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s", tmpl);
	return 0;
}

static void path_of(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static void test_create_and_reuse(void **state)
{
	char path[sizeof(dir) + 40], err[600];
	struct signing_key k1, k2;
	struct stat st;
	static const unsigned char zero[SIGNING_KEY_LEN];

	(void)state;
	path_of(path, sizeof(path), "new.key");
	unlink(path);
	if (signing_key_load(path, true, &k1, err, sizeof(err)) != 0)
		fail_msg("first load: got error \"%s\", want a new key", err);
	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 0777) != 0600)
		fail_msg("mode: got %03o, want 600", (unsigned)(st.st_mode & 0777));
	assert_int_equal(st.st_size, SIGNING_KEY_LEN);
	assert_memory_not_equal(k1.k, zero, SIGNING_KEY_LEN);
	if (signing_key_load(path, true, &k2, err, sizeof(err)) != 0)
		fail_msg("second load: got error \"%s\", want the same key", err);
	assert_memory_equal(k1.k, k2.k, SIGNING_KEY_LEN);
	/* a tag made with the first load verifies with the second */
	{
		char rp[300];
		assert_int_equal(signing_return_path(&k1, "b.test", "0191A2B3C4D5E6F70", 1,
		                                     "a@b.test", 1796299200000LL, rp, sizeof(rp)),
		                 0);
		assert_int_equal(signing_verify(&k2, rp, 1796299200000LL, 86400000LL, NULL),
		                 SIGNING_OK);
	}
}

static void test_two_files_differ(void **state)
{
	char p1[sizeof(dir) + 40], p2[sizeof(dir) + 40], err[600];
	struct signing_key k1, k2;

	(void)state;
	path_of(p1, sizeof(p1), "one.key");
	path_of(p2, sizeof(p2), "two.key");
	unlink(p1);
	unlink(p2);
	assert_int_equal(signing_key_load(p1, true, &k1, err, sizeof(err)), 0);
	assert_int_equal(signing_key_load(p2, true, &k2, err, sizeof(err)), 0);
	assert_memory_not_equal(k1.k, k2.k, SIGNING_KEY_LEN);
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void test_refused(void **state)
{
	char path[sizeof(dir) + 40], err[600];
	struct signing_key k;
	char bytes[SIGNING_KEY_LEN + 1];

	(void)state;
	memset(bytes, 'k', sizeof(bytes));
	path_of(path, sizeof(path), "missing.key");
	unlink(path);
	assert_int_equal(signing_key_load(path, false, &k, err, sizeof(err)), -1);
	assert_int_equal(access(path, F_OK), -1); /* not made without create */

	path_of(path, sizeof(path), "short.key");
	write_file(path, bytes, 16, 0600);
	assert_int_equal(signing_key_load(path, true, &k, err, sizeof(err)), -1);
	if (strstr(err, "want 32") == NULL)
		fail_msg("short key: got \"%s\", want a size complaint", err);

	path_of(path, sizeof(path), "open.key");
	write_file(path, bytes, SIGNING_KEY_LEN, 0644);
	assert_int_equal(signing_key_load(path, true, &k, err, sizeof(err)), -1);
	if (strstr(err, "readable by others") == NULL)
		fail_msg("mode 644: got \"%s\", want a mode complaint", err);

	path_of(path, sizeof(path), "good.key");
	write_file(path, bytes, SIGNING_KEY_LEN, 0600);
	assert_int_equal(signing_key_load(path, true, &k, err, sizeof(err)), 0);
	assert_memory_equal(k.k, bytes, SIGNING_KEY_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_and_reuse),
	    cmocka_unit_test(test_two_files_differ),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
