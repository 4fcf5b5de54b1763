/*
 * spool_int.h - what the files of src/spool share and nothing else
 * includes (the fuzz target and the unit tests excepted): the on-disk
 * format codec (format.c), the spool handle itself (store.c) and the
 * commit thread (commit.c).
 */
#ifndef MAILERD_SPOOL_INT_H
#define MAILERD_SPOOL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool/spool.h"
#include "util/util.h"

/* Every message file starts with a fixed-size header line, so the writer
 * can stream the body before it knows the envelope and fill the header in
 * at commit time with one pwrite (see format.c). */
#define SPOOL_HEADER_LEN 64
#define SPOOL_ID_LEN     17

/* ---- format.c: the codec, pure functions on memory ---- */
struct spool_header {
	uint64_t body_len;
	uint32_t env_len;
	uint32_t env_crc;
};

uint32_t spool_crc32(const void *data, size_t len);
/* spool_format_header - the 64 header bytes (no NUL) into out */
void spool_format_header(const struct spool_header *h, char out[SPOOL_HEADER_LEN]);
/* spool_format_placeholder - the header of a file still being received */
void spool_format_placeholder(char out[SPOOL_HEADER_LEN]);
int spool_parse_header(const char *data, size_t len, struct spool_header *h, char *why,
                       size_t whylen);
/* spool_format_envelope - the envelope block of m into b (appended) */
void spool_format_envelope(const struct spool_msg *m, struct buf *b);
/* spool_format_state - state records for dirty recipients (all of them
 * when all is true) and the message flags, appended to b */
void spool_format_state(const struct spool_msg *m, bool all, struct buf *b);
/* spool_parse_meta - parse the envelope (checked against h) and replay
 * the state records that follow it; data starts at the envelope. Returns
 * a message (id and body_len not set) or NULL with a reason in why. */
struct spool_msg *spool_parse_meta(const struct spool_header *h, const char *data, size_t len,
                                   char *why, size_t whylen);
/* spool_parse_file - a whole file image in memory (fuzzing, tests) */
struct spool_msg *spool_parse_file(const char *data, size_t len, char *why, size_t whylen);

/* ---- store.c ---- */
struct spool_req;

struct spool {
	char *dir;
	int root_fd, tmp_fd, queue_fd, corrupt_fd;
	int lock_fd; /* -1 unless SPOOL_OPEN_DAEMON */
	struct event_base *base;

	/* commit.c: the group commit thread and its queues (under mu) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool thread_started;
	bool stopping;
	struct spool_req *todo_head, **todo_tail; /* waiting for a sync */
	struct spool_req *done_head, **done_tail; /* synced, for the loop */
	size_t pending;                           /* submitted, callback not yet run */
	uint64_t syncs;                           /* sync calls made by the commit thread */
	uint64_t synced;                          /* requests those syncs covered */
	int wake_r, wake_w;                       /* pipe: commit thread -> loop */
	struct event *wake_ev;
};

struct spool_writer {
	struct spool *sp;
	char id[SPOOL_ID_MAX];
	int fd;            /* -1 once finished */
	uint64_t body_len; /* body bytes written so far */
	int err;           /* errno of a failed write: no commit */
};

bool spool_id_valid(const char *id);
/* spool_failpoint - kill -9 ourselves when MAILERD_FAILPOINT names this
 * point (crash tests); the points are listed in store.c */
void spool_failpoint(const char *name);
/* spool_writer_finish - write the envelope and header into the tmp file
 * and close it; returns 0 or -1 with errno (the tmp file is left for the
 * caller to unlink) */
int spool_writer_finish(struct spool_writer *w, struct spool_msg *env, bool sync);
/* spool_append - append the state records of m to its file; 0 or -1 with
 * errno. sync: fsync the file before returning. */
int spool_append(struct spool *sp, struct spool_msg *m, bool sync);

/* ---- commit.c ---- */
/* The sync the commit thread makes (syncfs); a seam for tests that need
 * the sync to fail. */
extern int (*spool_sync_hook)(int fd);
int spool_commit_start(struct spool *sp, char *err, size_t errlen);
void spool_commit_stop(struct spool *sp);

#endif
