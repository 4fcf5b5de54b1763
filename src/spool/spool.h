/*
 * spool.h - the face of src/spool: the durable on-disk queue.
 *
 * Durability contract (design.md): a message is committed (and only then
 * may the SMTP server answer 250) when its file and the directory entry are
 * on disk. Commits are grouped: one sync covers every message that finished
 * while the previous sync ran, so the spool is fast and durable at once.
 * Recipient state changes are appended to the message's file and made
 * durable the same way before the caller acts on them.
 *
 * Layout under spool_dir:
 *   tmp/       files being received; removed at start-up
 *   queue/     committed messages, one file each, named by queue id
 *   corrupt/   files that failed to parse, moved aside with a log line
 *   control    the daemon's control socket (see control.h in src/sched)
 *
 * Message bodies are stored in SMTP wire form: CRLF line ends, dot-stuffed
 * (RFC 5321 section 4.5.2), without the terminating ".". Delivery copies
 * the bytes as they are and appends ".\r\n".
 */
#ifndef MAILERD_SPOOL_H
#define MAILERD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/outcome.h"

struct event_base;

#define SPOOL_ID_MAX    24  /* queue ids are 17 upper-case hex digits */
#define SPOOL_PATH_MAX  257 /* RFC 5321 path 256 + NUL */
#define SPOOL_ORCPT_MAX 501 /* RFC 3461 section 4.2: 500 characters */
#define SPOOL_ENVID_MAX 101 /* RFC 3461 section 4.4: 100 characters */
#define SPOOL_MAX_RCPT  1000

/* DSN NOTIFY bits (RFC 3461 section 4.1); 0 means "not given" = the
 * default FAILURE,DELAY. */
enum {
	DSN_NOTIFY_NEVER = 1,
	DSN_NOTIFY_SUCCESS = 2,
	DSN_NOTIFY_FAILURE = 4,
	DSN_NOTIFY_DELAY = 8,
};
enum dsn_ret { DSN_RET_UNSET = 0, DSN_RET_FULL, DSN_RET_HDRS };

enum rcpt_state {
	RCPT_PENDING = 0, /* never tried */
	RCPT_DEFERRED,    /* tried, temporary failure, next_attempt_ms set */
	RCPT_DELIVERED,   /* final: accepted by the next hop */
	RCPT_FAILED,      /* final: permanent failure or lifetime over */
};

/* Where a message came from; reports (issue 3) must never cause reports. */
enum spool_origin { SPOOL_ORIGIN_SMTP = 0, SPOOL_ORIGIN_LOCAL, SPOOL_ORIGIN_REPORT };

struct spool_rcpt {
	char addr[SPOOL_PATH_MAX];   /* without <> */
	char orcpt[SPOOL_ORCPT_MAX]; /* ORCPT as given: "rfc822;xtext", or "" */
	unsigned notify;             /* DSN_NOTIFY_* bits, 0 = not given */
	enum rcpt_state state;
	int attempts;
	int64_t next_attempt_ms; /* RCPT_DEFERRED: when to try again */
	int64_t last_attempt_ms; /* 0 = never */
	struct outcome last;     /* last result (diagnostic for reports) */
	/* Report bookkeeping (issue 3), persisted with the state record: */
	bool reported; /* final: its report is durable (or none was due) */
	bool relayed;  /* delivered to a next hop without DSN
				       * (RFC 3461 section 4.1: "relayed") */
	bool dirty;    /* changed in memory, not yet appended */
};

struct spool_msg {
	char id[SPOOL_ID_MAX];
	char sender[SPOOL_PATH_MAX]; /* "" = null reverse-path <> */
	char envid[SPOOL_ENVID_MAX]; /* ENVID as given (xtext), or "" */
	enum dsn_ret ret;
	bool smtputf8; /* SMTPUTF8 was given on MAIL */
	bool eightbit; /* BODY=8BITMIME was given */
	enum spool_origin origin;
	int64_t arrival_ms;
	char client[300];        /* "helo-name (addr)" of the submitter */
	bool held;               /* `queue hold`: not scheduled */
	int delay_warnings_sent; /* how many delay warnings went out */
	size_t body_len;         /* bytes of wire-form body */
	size_t n_rcpt;
	struct spool_rcpt *rcpt; /* n_rcpt entries, owned */
	void *sched_data;        /* owned by src/sched while queued */
};

struct spool;
struct spool_writer;

/* spool_open flags */
enum {
	/* The daemon: take the spool's exclusive lock (a second daemon on the
	 * same spool fails with a clear error), remove tmp/ leftovers. */
	SPOOL_OPEN_DAEMON = 1,
};
/* spool_open - create the folders if needed and start the commit thread.
 * base may be NULL for command-line tools (`mailerd send`, `mailerd
 * queue`), which use the *_sync calls and never clean tmp/. */
struct spool *spool_open(const char *dir, struct event_base *base, int flags, char *err,
                         size_t errlen);
/* spool_free - waits for the sync of requests already queued, but runs
 * none of their callbacks (their files are found by the next scan). */
void spool_free(struct spool *sp);
const char *spool_dir(const struct spool *sp);

/* ---- messages and envelopes ---- */
struct spool_msg *spool_msg_new(void);
void spool_msg_free(struct spool_msg *m);
/* spool_msg_add_rcpt - append one recipient (PENDING); returns it, or
 * NULL with E2BIG when the message already has SPOOL_MAX_RCPT */
struct spool_rcpt *spool_msg_add_rcpt(struct spool_msg *m, const char *addr);
/* spool_msg_is_final - every recipient delivered or failed */
bool spool_msg_is_final(const struct spool_msg *m);

/* ---- receiving a message ---- */
/* spool_writer_new - assign a new queue id (unique, sortable by time) and
 * open its file in tmp/; NULL with errno on failure (ENOSPC, EMFILE...: the
 * caller answers 452 4.3.1). */
struct spool_writer *spool_writer_new(struct spool *sp);
/* spool_writer_id - the queue id the message will have */
const char *spool_writer_id(const struct spool_writer *w);
/* spool_writer_write - append body bytes (wire form); -1 with errno */
int spool_writer_write(struct spool_writer *w, const void *data, size_t len);
/* spool_writer_abort - drop the file; w is freed. Takes NULL. */
void spool_writer_abort(struct spool_writer *w);

/* Called on the event loop once the commit is durable (err == 0, msg owned
 * by the callee from then on) or failed (err is an errno, msg is NULL and
 * nothing was queued). */
typedef void (*spool_commit_fn)(int err, struct spool_msg *msg, void *arg);

/* spool_writer_commit - copy the writer's id into env->id, write the envelope, move the
 * file into queue/ and make it durable; cb runs after the grouped sync.
 * Takes ownership of env and w in every case. Returns 0, or -1 with errno
 * when it failed at once (cb is then not called; EINVAL when the spool
 * was opened without an event base). */
int spool_writer_commit(struct spool_writer *w, struct spool_msg *env, spool_commit_fn cb,
                        void *arg);
/* spool_writer_commit_owned - the same for an arg that only the callback
 * frees: when the spool is freed before cb ran (shutdown while the sync is
 * under way), free_arg(arg) is called instead, so nothing leaks. */
int spool_writer_commit_owned(struct spool_writer *w, struct spool_msg *env, spool_commit_fn cb,
                              void *arg, void (*free_arg)(void *arg));
/* spool_writer_commit_sync - the same, blocking (for `mailerd send`);
 * returns 0 and fills env->id, or -1 with errno. Takes w, not env. */
int spool_writer_commit_sync(struct spool_writer *w, struct spool_msg *env);

/* ---- queue manager side ---- */
typedef void (*spool_each_fn)(struct spool_msg *msg, void *arg); /* msg owned by fn */
/* spool_scan - load every committed message (start-up recovery and the
 * `queue list` command); unreadable files are moved to corrupt/ with a log
 * line. Returns the number loaded, or -1 with errno. */
int spool_scan(struct spool *sp, spool_each_fn fn, void *arg);
/* spool_load - one message by id; NULL with errno (ENOENT when gone) */
struct spool_msg *spool_load(struct spool *sp, const char *id);

typedef void (*spool_sync_fn)(int err, void *arg);
/* spool_update - append the state of every recipient marked dirty (and the
 * message flags held / delay_warnings_sent) to the message's file, clear
 * the dirty marks; cb runs on the loop once it is durable. On -1 (write
 * failed) the marks stay; when cb gets an error the records may or may
 * not be on disk, so the caller marks the recipients dirty again. */
int spool_update(struct spool *sp, struct spool_msg *m, spool_sync_fn cb, void *arg);
/* spool_update_sync - the same, blocking */
int spool_update_sync(struct spool *sp, struct spool_msg *m);
/* spool_remove - unlink the file of a finished or deleted message */
int spool_remove(struct spool *sp, const char *id);

/* spool_body_open - an fd positioned at the first body byte and the body
 * length; the caller closes it. -1 with errno. */
int spool_body_open(struct spool *sp, const struct spool_msg *m, int *fd, size_t *len);

/* spool_pending - commits and updates not yet durable (for tests/bench) */
size_t spool_pending(const struct spool *sp);
/* spool_sync_count - syncs the commit thread has made so far; with many
 * commits in flight it grows slower than the number of commits */
uint64_t spool_sync_count(const struct spool *sp);

#endif
