/*
 * key.c - the return path signing key: 32 random bytes in a file.
 *
 * The file is made once, on first start (O_CREAT|O_EXCL so two daemons
 * starting together cannot both write one; the loser reads the winner's),
 * mode 0600, written, fsynced, and its folder fsynced, so a key that has
 * signed mail is never lost in a crash: a lost key turns every bounce of
 * the queue lifetime into "bad tag". The bytes come from the kernel's
 * generator (getrandom(2), blocking until it is seeded).
 *
 * Refused: a file of another size (truncated or not ours), a symbolic
 * link (O_NOFOLLOW), and a file that group or others may read (the key
 * lets anyone forge bounces that suppress addresses).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signing/signing.h"
#include "util/util.h"

/* key_random - fill buf from getrandom, retrying short reads and EINTR */
static int key_random(unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* key_create - write a new key; 1 when the file appeared meanwhile */
static int key_create(const char *path, struct signing_key *key, char *err, size_t errlen)
{
	char *copy;
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 1;
		snprintf(err, errlen, "signing_key_file %s: cannot create: %s", path,
		         strerror(errno));
		return -1;
	}
	if (key_random(key->k, sizeof(key->k)) < 0 ||
	    util_write_all(fd, key->k, sizeof(key->k)) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "signing_key_file %s: cannot write: %s", path,
		         strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		snprintf(err, errlen, "signing_key_file %s: close: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	copy = xstrdup(path);
	r = util_fsync_dir(dirname(copy));
	free(copy);
	if (r < 0) {
		snprintf(err, errlen, "signing_key_file %s: cannot sync its folder: %s", path,
		         strerror(errno));
		return -1;
	}
	log_info("signing_key_file %s: new return path key created", path);
	return 0;
}

int signing_key_load(const char *path, bool create, struct signing_key *key, char *err,
                     size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "signing_key_file is not set");
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		int r = key_create(path, key, err, errlen);
		if (r <= 0)
			return r;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC); /* another made it */
	}
	if (fd < 0) {
		snprintf(err, errlen, "signing_key_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "signing_key_file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "signing_key_file %s: readable by others (mode %03o); "
		         "chmod 600 it",
		         path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	if (st.st_size != SIGNING_KEY_LEN) {
		snprintf(err, errlen, "signing_key_file %s: %lld bytes, want %d", path,
		         (long long)st.st_size, SIGNING_KEY_LEN);
		close(fd);
		return -1;
	}
	n = read(fd, key->k, sizeof(key->k));
	close(fd); /* read-only: nothing to lose on close */
	if (n != SIGNING_KEY_LEN) {
		snprintf(err, errlen, "signing_key_file %s: short read", path);
		return -1;
	}
	return 0;
}
