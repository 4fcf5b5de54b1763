/*
 * store.c - the spool's message files: queue ids, the writer that
 * streams a body into tmp/, appends of state records, removal, and body
 * access. Opening the spool lives in open.c, reading in load.c, the
 * grouped sync in commit.c, the bytes of a file in format.c, the
 * in-memory message in msg.c.
 *
 * Queue ids are 17 upper-case hex digits: 13 for the microseconds since
 * the epoch (strictly increasing within a process, so ids sort by arrival)
 * and 4 for pid bits and a counter, so two processes rarely pick the same
 * id. Uniqueness does not rest on that: the file is created with O_EXCL in
 * tmp/, an id already present in queue/ is skipped, and the commit rename
 * refuses to replace (RENAME_NOREPLACE).
 *
 * Invariants: a file in queue/ is complete (envelope and header written
 * before the rename); only its state section grows, by O_APPEND writes.
 * Files that do not parse are moved to corrupt/, never deleted.
 *
 * How it fails: every call returns -1 with the errno of the system call
 * that failed (ENOSPC, EIO, EMFILE...), which callers turn into a
 * temporary SMTP reply; a writer whose write failed refuses to commit, as
 * its file no longer matches what it counted.
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

/* ---- ids ---- */

bool spool_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F')))
			return false;
	return i == SPOOL_ID_LEN;
}

/* id_next - a fresh candidate id. The lock makes "strictly increasing"
 * hold for every thread of the process; across processes only the low
 * pid bits differ, and the O_EXCL create is what really decides. */
static void id_next(char out[SPOOL_ID_MAX])
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t last_us;
	static unsigned counter;
	struct timespec ts;
	uint64_t us;
	unsigned low;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	pthread_mutex_lock(&mu);
	if (us <= last_us)
		us = last_us + 1; /* strictly increasing: sortable, unique here */
	last_us = us;
	low = (((unsigned)getpid() & 0xffu) << 8 | (counter++ & 0xffu)) & 0xffffu;
	pthread_mutex_unlock(&mu);
	/* 13 hex digits of microseconds last until the year 2112 */
	snprintf(out, SPOOL_ID_MAX, "%013" PRIX64 "%04X", (uint64_t)(us & 0xfffffffffffffu), low);
}

/* ---- the writer ---- */

/* spool_writer_new - the placeholder header goes out first, so a file
 * left in tmp/ or (after a crash) in queue/ never parses as committed */
struct spool_writer *spool_writer_new(struct spool *sp)
{
	char head[SPOOL_HEADER_LEN];
	struct spool_writer *w;
	char id[SPOOL_ID_MAX];
	int fd = -1, saved;

	for (int tries = 0; tries < 100 && fd < 0; tries++) {
		id_next(id);
		fd = openat(sp->tmp_fd, id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return NULL;
		/* checked after the create, so a racing process that commits
		 * the same id is seen either here or by its own check */
		if (fd >= 0 && faccessat(sp->queue_fd, id, F_OK, 0) == 0) {
			close(fd);
			unlinkat(sp->tmp_fd, id, 0);
			fd = -1;
		}
	}
	if (fd < 0) {
		errno = EEXIST;
		return NULL;
	}
	spool_format_placeholder(head);
	if (util_write_all(fd, head, sizeof(head)) < 0) {
		saved = errno;
		close(fd);
		unlinkat(sp->tmp_fd, id, 0);
		errno = saved;
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->sp = sp;
	w->fd = fd;
	util_strlcpy(w->id, id, sizeof(w->id));
	return w;
}

const char *spool_writer_id(const struct spool_writer *w)
{
	return w->id;
}

int spool_writer_write(struct spool_writer *w, const void *data, size_t len)
{
	if (w->err != 0) {
		errno = w->err;
		return -1;
	}
	/* a short write leaves bytes body_len does not count: the writer
	 * is spoiled for good, so the header can never point wrongly */
	if (util_write_all(w->fd, data, len) < 0) {
		w->err = errno;
		return -1;
	}
	w->body_len += len;
	return 0;
}

void spool_writer_abort(struct spool_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlinkat(w->sp->tmp_fd, w->id, 0);
	free(w);
}

/* pwrite_all - pwrite across EINTR and short writes */
static int pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int spool_writer_finish(struct spool_writer *w, struct spool_msg *env, bool sync)
{
	struct spool_header h = {0};
	char head[SPOOL_HEADER_LEN];
	struct buf b = {0};
	int fd = w->fd, rc = -1, saved = 0;

	if (w->err != 0 || fd < 0 || env->n_rcpt > SPOOL_MAX_RCPT) {
		errno = w->err != 0 ? w->err : fd < 0 ? EBADF : EINVAL;
		return -1;
	}
	w->fd = -1;
	util_strlcpy(env->id, w->id, sizeof(env->id));
	env->body_len = (size_t)w->body_len;
	spool_format_envelope(env, &b);
	/* every recipient's state is in the file from the start, so the
	 * envelope alone never has to be trusted for state */
	h.body_len = w->body_len;
	h.env_len = (uint32_t)b.len;
	h.env_crc = spool_crc32(b.data, b.len);
	spool_format_state(env, true, &b);
	spool_format_header(&h, head);
	/* the envelope goes where the body ended, then the header replaces
	 * the placeholder; a reader sees neither before the rename */
	if (util_write_all(fd, b.data, b.len) < 0 || pwrite_all(fd, head, sizeof(head), 0) < 0 ||
	    (sync && fsync(fd) < 0))
		saved = errno;
	else
		rc = 0;
	if (close(fd) < 0 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	buf_free(&b);
	for (size_t i = 0; i < env->n_rcpt; i++)
		env->rcpt[i].dirty = false;
	errno = saved;
	return rc;
}

/* ---- appends, removal, bodies ---- */

int spool_append(struct spool *sp, struct spool_msg *m, bool sync)
{
	struct buf b = {0};
	int fd, rc = 0, saved = 0;

	if (!spool_id_valid(m->id)) {
		errno = EINVAL;
		return -1;
	}
	/* no O_CREAT: appending to a deleted message must not revive it */
	fd = openat(sp->queue_fd, m->id, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -1;
	spool_format_state(m, false, &b);
	const char *fp = getenv("MAILERD_FAILPOINT");
	if (fp != NULL && strcmp(fp, "spool-update-torn") == 0 &&
	    util_write_all(fd, b.data, b.len / 2) == 0) {
		fsync(fd); /* make the torn half really reach the disk */
		spool_failpoint(fp);
	}
	/* one write(): concurrent appenders (daemon and a queue command)
	 * cannot interleave inside it */
	if (util_write_all(fd, b.data, b.len) < 0 || (sync && fsync(fd) < 0)) {
		saved = errno;
		rc = -1;
	}
	if (close(fd) < 0 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	buf_free(&b);
	if (rc == 0)
		for (size_t i = 0; i < m->n_rcpt; i++)
			m->rcpt[i].dirty = false;
	errno = saved;
	return rc;
}

/* spool_remove - the unlink is not synced: should it be lost in a crash,
 * the file comes back with every recipient final (their states were made
 * durable first) and the next start removes it again */
int spool_remove(struct spool *sp, const char *id)
{
	if (!spool_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (unlinkat(sp->queue_fd, id, 0) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* spool_body_open - the body starts right after the fixed header; the
 * size check catches a file that was cut after it was loaded */
int spool_body_open(struct spool *sp, const struct spool_msg *m, int *fdp, size_t *len)
{
	struct stat st;
	int fd;

	if (!spool_id_valid(m->id)) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(sp->queue_fd, m->id, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || lseek(fd, SPOOL_HEADER_LEN, SEEK_SET) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if ((uint64_t)st.st_size < SPOOL_HEADER_LEN + (uint64_t)m->body_len) {
		close(fd);
		errno = EBADMSG;
		return -1;
	}
	*fdp = fd;
	*len = m->body_len;
	return 0;
}
