/*
 * open.c - opening and closing a spool: its folders (queue/, tmp/,
 * corrupt/), the daemon's lock, the removal of tmp/ leftovers of a crash,
 * and the start and stop of the commit thread (commit.c) for a daemon.
 *
 * How it fails: spool_open returns NULL with a message naming the folder
 * and the system error (a spool another daemon holds is one of them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool_int.h"

static int open_subdir(struct spool *sp, const char *name, int *fd, char *err, size_t errlen)
{
	if (mkdirat(sp->root_fd, name, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "spool %s: cannot create %s/: %s", sp->dir, name,
		         strerror(errno));
		return -1;
	}
	*fd = openat(sp->root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		snprintf(err, errlen, "spool %s: cannot open %s/: %s", sp->dir, name,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* clean_tmp - files in tmp/ belong to sessions of a previous run that
 * never committed; nobody was told 250 for them */
static void clean_tmp(struct spool *sp)
{
	int fd = dup(sp->tmp_fd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		log_warn("spool %s: cannot list tmp/: %s", sp->dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(sp->tmp_fd, e->d_name, 0) < 0)
			log_warn("spool %s: cannot remove tmp/%s: %s", sp->dir, e->d_name,
			         strerror(errno));
	}
	closedir(d);
}

struct spool *spool_open(const char *dir, struct event_base *base, int flags, char *err,
                         size_t errlen)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->dir = xstrdup(dir);
	sp->base = base;
	sp->root_fd = sp->tmp_fd = sp->queue_fd = sp->corrupt_fd = sp->lock_fd = -1;
	sp->wake_r = sp->wake_w = -1;
	if (util_mkdir_p(dir, 0700) < 0) {
		snprintf(err, errlen, "spool %s: cannot create: %s", dir, strerror(errno));
		goto fail;
	}
	sp->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->root_fd < 0) {
		snprintf(err, errlen, "spool %s: cannot open: %s", dir, strerror(errno));
		goto fail;
	}
	if (open_subdir(sp, "tmp", &sp->tmp_fd, err, errlen) < 0 ||
	    open_subdir(sp, "queue", &sp->queue_fd, err, errlen) < 0 ||
	    open_subdir(sp, "corrupt", &sp->corrupt_fd, err, errlen) < 0)
		goto fail;
	/* flock, not a pid file: the kernel drops it when the daemon dies,
	 * even by kill -9, so a stale lock never blocks a restart */
	if (flags & SPOOL_OPEN_DAEMON) {
		sp->lock_fd = openat(sp->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (sp->lock_fd < 0) {
			snprintf(err, errlen, "spool %s: cannot open lock file: %s", dir,
			         strerror(errno));
			goto fail;
		}
		if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK)
				snprintf(
				    err, errlen,
				    "spool %s is in use by another mailerd (%s/lock is locked)",
				    dir, dir);
			else
				snprintf(err, errlen, "spool %s: cannot lock %s/lock: %s", dir, dir,
				         strerror(errno));
			goto fail;
		}
		clean_tmp(sp);
	}
	if (base != NULL && spool_commit_start(sp, err, errlen) < 0)
		goto fail;
	return sp;
fail:
	spool_free(sp);
	return NULL;
}

void spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	spool_commit_stop(sp);
	/* closing the lock fd releases the flock */
	int fds[] = {sp->root_fd, sp->tmp_fd, sp->queue_fd, sp->corrupt_fd, sp->lock_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(sp->dir);
	free(sp);
}

const char *spool_dir(const struct spool *sp)
{
	return sp->dir;
}
