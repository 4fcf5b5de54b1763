/*
 * load.c - reading committed messages back: one by id (spool_load) and all
 * of them (spool_scan, used for recovery at start-up and by `queue list`).
 *
 * Only the header, the envelope and the state records are read; the body
 * is skipped with the length the header gives, so scanning a queue of big
 * messages costs a few small reads per file.
 *
 * How it fails: a file that does not parse (format.c says why) is moved
 * to corrupt/ with a warning naming it and the reason, and is not handed
 * to the caller; it is never deleted, so a person can look at it. An I/O
 * error is not corruption: the file stays in queue/ and the next scan
 * tries again. A file that vanished meanwhile (removed by the daemon while
 * a queue command scans) is skipped silently.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool/spool_int.h"

/* pread_all - exactly len bytes at off; a file that ends early (cut
 * while we read it) is reported as EBADMSG, like any other damage */
static int pread_all(int fd, void *data, size_t len, off_t off)
{
	char *p = data;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EBADMSG; /* shrank while we read */
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* load_file - parse queue/ID without reading the body; NULL with errno,
 * EBADMSG (and a reason in why) when the file does not parse */
static struct spool_msg *load_file(struct spool *sp, const char *id, char *why, size_t whylen)
{
	char head[SPOOL_HEADER_LEN];
	struct spool_header h;
	struct spool_msg *m = NULL;
	struct stat st;
	char *meta = NULL;
	size_t hl, off, metalen;
	int fd, saved = 0;

	snprintf(why, whylen, "unreadable");
	fd = openat(sp->queue_fd, id, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		saved = errno;
		goto out;
	}
	hl = st.st_size < SPOOL_HEADER_LEN ? (size_t)st.st_size : SPOOL_HEADER_LEN;
	if (pread_all(fd, head, hl, 0) < 0) {
		saved = errno;
		goto out;
	}
	if (spool_parse_header(head, hl, &h, why, whylen) < 0) {
		saved = EBADMSG;
		goto out;
	}
	off = SPOOL_HEADER_LEN + (size_t)h.body_len;
	if ((uint64_t)st.st_size < off + h.env_len) {
		snprintf(why, whylen, "file shorter than its header says");
		saved = EBADMSG;
		goto out;
	}
	/* everything behind the body: envelope plus state records. A record
	 * being appended right now by another process may be cut at the
	 * end of what we read; replay skips it like a torn one. */
	metalen = (size_t)st.st_size - off;
	meta = xmalloc(metalen + 1);
	if (pread_all(fd, meta, metalen, (off_t)off) < 0) {
		saved = errno;
		goto out;
	}
	m = spool_parse_meta(&h, meta, metalen, why, whylen);
	if (m == NULL) {
		saved = EBADMSG;
		goto out;
	}
	util_strlcpy(m->id, id, sizeof(m->id));
out:
	free(meta);
	close(fd);
	errno = saved;
	return m;
}

struct spool_msg *spool_load(struct spool *sp, const char *id)
{
	char why[128];

	if (!spool_id_valid(id)) {
		errno = ENOENT; /* no such message can exist */
		return NULL;
	}
	return load_file(sp, id, why, sizeof(why));
}

/* move_corrupt - set a file aside under corrupt/, never over another */
static void move_corrupt(struct spool *sp, const char *name, const char *why)
{
	char dest[300];

	util_strlcpy(dest, name, sizeof(dest));
	for (int i = 1; i < 100; i++) {
		if (renameat2(sp->queue_fd, name, sp->corrupt_fd, dest, RENAME_NOREPLACE) == 0) {
			log_warn("spool %s: moved queue/%s to corrupt/%s: %s", sp->dir, name, dest,
			         why);
			return;
		}
		if (errno != EEXIST)
			break;
		snprintf(dest, sizeof(dest), "%s.%d", name, i);
	}
	log_warn("spool %s: queue/%s is corrupt (%s) and could not be moved: %s", sp->dir, name,
	         why, strerror(errno));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* spool_scan - names are read first and the directory closed before any
 * callback runs, so callers may remove or add files while we go on */
int spool_scan(struct spool *sp, spool_each_fn fn, void *arg)
{
	int fd = dup(sp->queue_fd), loaded = 0;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	char **names = NULL, why[128];
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (d == NULL) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	rewinddir(d); /* the dup shares its offset with earlier scans */
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	/* by id is by arrival: recovery retries the oldest first */
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct spool_msg *m = NULL;

		if (!spool_id_valid(names[i])) {
			move_corrupt(sp, names[i], "name is not a queue id");
		} else if ((m = load_file(sp, names[i], why, sizeof(why))) != NULL) {
			loaded++;
			fn(m, arg);
		} else if (errno == EBADMSG) {
			move_corrupt(sp, names[i], why);
		} else if (errno != ENOENT) {
			/* I/O trouble is not corruption: leave it for next time */
			log_warn("spool %s: cannot read queue/%s: %s", sp->dir, names[i],
			         strerror(errno));
		}
		free(names[i]);
	}
	free(names);
	return loaded;
}
