/*
 * util.h - the face of src/util: memory helpers that abort instead of
 * failing, a growable length-tracked byte buffer, a settable clock, duration
 * and size parsing, and the process log (stderr).
 *
 * Functions whose name starts with `x` never fail: they call fatal() on
 * out-of-memory, which is the only sane reaction inside a mail server's
 * event loop (a half-built session is worse than a restart, and the spool
 * guarantees nothing accepted is lost).
 */
#ifndef MAILERD_UTIL_H
#define MAILERD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- memory ---------------------------------------------------------- */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) UTIL_PRINTF(1, 2);

/* fatal - log and exit(1); start-up errors, out-of-memory, broken invariants */
void fatal(const char *fmt, ...) UTIL_PRINTF(1, 2) __attribute__((noreturn));

/* ---- buffer ---------------------------------------------------------- */
/* A growable byte buffer; data is always NUL-terminated for convenience
 * (the NUL is not counted in len). A zeroed struct is a valid empty buffer. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) UTIL_PRINTF(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* buf_steal - hand the bytes to the caller (free() them); b becomes empty */
char *buf_steal(struct buf *b);

/* ---- strings --------------------------------------------------------- */
/* strlcpy-like: copies at most size-1 bytes, always terminates; returns
 * strlen(src) so callers can detect truncation. */
size_t util_strlcpy(char *dst, const char *src, size_t size);
bool util_strcaseprefix(const char *s, const char *prefix);
/* util_lowercase - ASCII lower-casing in place (domains are compared so) */
void util_lowercase(char *s);
/* util_trim - strip ASCII white space at both ends, in place; returns s */
char *util_trim(char *s);

/* ---- time ------------------------------------------------------------ */
/* Wall-clock milliseconds since the epoch. Tests may pin it with
 * util_clock_set(); 0 returns to the real clock. */
int64_t util_now_ms(void);
void util_clock_set(int64_t ms);
/* util_rfc5322_date - "Thu, 03 Dec 2026 13:30:00 +0000" into out (>= 40) */
void util_rfc5322_date(int64_t ms, char *out, size_t size);
/* util_iso8601 - "2026-12-03T13:30:00.123Z" into out (>= 32) */
void util_iso8601(int64_t ms, char *out, size_t size);

/* util_parse_duration - "90", "90s", "5m", "4h", "5d", "250ms" -> ms.
 * A bare number means seconds. Returns 0, or -1 on bad syntax/overflow. */
int util_parse_duration(const char *s, int64_t *ms);
/* util_parse_size - "1000", "64k", "35m", "1g" -> bytes; -1 on error */
int util_parse_size(const char *s, uint64_t *bytes);

/* util_random_u32 - fast non-cryptographic randomness (jitter, shuffles) */
uint32_t util_random_u32(void);

/* ---- process log ----------------------------------------------------- */
/* Lines go to stderr as "mailerd[pid]: level: text". Mail events (one line
 * per delivery attempt) have their own module, see mailog.h. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_set_level(enum log_level min);
void log_set_program(const char *name);
void log_msg(enum log_level lvl, const char *fmt, ...) UTIL_PRINTF(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* util_escape - copy untrusted text for a log line: control bytes and
 * non-UTF-8 become \xNN, at most size-1 bytes. Returns out. */
char *util_escape(const char *in, size_t inlen, char *out, size_t size);

/* util_write_all / util_fsync_dir - I/O that reports every failure */
int util_write_all(int fd, const void *data, size_t len);
int util_fsync_dir(const char *dir);
int util_mkdir_p(const char *path, unsigned mode);

#endif
