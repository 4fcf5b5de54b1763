/*
 * test_spool_store.c - the spool on disk, through the public calls the
 * command-line tools use (the *_sync variants): queue ids, bodies read
 * back byte for byte, state and flags surviving a reopen, corrupt files
 * moved aside, the daemon lock, tmp/ cleaning, removal.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool/spool.h"
#include "util/util.h"

static char *make_dir(void)
{
	const char *base = getenv("MAILERD_TEST_TMP");
	char *tmpl;

	if (base == NULL)
		base = "/tmp";
	if (util_mkdir_p(base, 0700) < 0)
		fail_msg("cannot create %s", base);
	tmpl = xasprintf("%s/spool-XXXXXX", base);
	if (mkdtemp(tmpl) == NULL)
		fail_msg("mkdtemp failed");
	return tmpl;
}

static struct spool *open_spool(const char *dir, int flags)
{
	char err[256];
	struct spool *sp = spool_open(dir, NULL, flags, err, sizeof(err));

	if (sp == NULL)
		fail_msg("spool_open: %s", err);
	return sp;
}

/* put - commit one message with body and n recipients, blocking */
static struct spool_msg *put(struct spool *sp, const void *body, size_t len, size_t nrcpt)
{
	struct spool_writer *w = spool_writer_new(sp);
	struct spool_msg *m = spool_msg_new();

	if (w == NULL)
		fail_msg("spool_writer_new failed");
	util_strlcpy(m->sender, "sender@example.com", sizeof(m->sender));
	m->arrival_ms = 1000;
	for (size_t i = 0; i < nrcpt; i++) {
		char a[64];
		snprintf(a, sizeof(a), "r%zu@example.net", i);
		spool_msg_add_rcpt(m, a);
	}
	if (len > 0 && spool_writer_write(w, body, len) < 0)
		fail_msg("spool_writer_write failed");
	if (spool_writer_commit_sync(w, m) < 0)
		fail_msg("spool_writer_commit_sync failed");
	return m;
}

static size_t count_files(const char *dir, const char *sub)
{
	char *cmd = xasprintf("ls -A '%s/%s' | wc -l", dir, sub);
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	if (p == NULL || fscanf(p, "%zu", &n) != 1)
		fail_msg("cannot count %s", sub);
	pclose(p);
	free(cmd);
	return n;
}

static void rm_rf(char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fail_msg("cannot remove %s", dir);
	free(cmd);
	free(dir);
}

static void test_ids(void **state)
{
	char *dir = make_dir();
	struct spool *sp = open_spool(dir, 0);
	char prev[SPOOL_ID_MAX] = "";

	(void)state;
	for (int i = 0; i < 500; i++) {
		struct spool_writer *w = spool_writer_new(sp);
		const char *id = spool_writer_id(w);

		if (strlen(id) != 17 || strspn(id, "0123456789ABCDEF") != 17)
			fail_msg("got id '%s', want 17 upper-case hex digits", id);
		if (strcmp(prev, id) >= 0)
			fail_msg("got id %s after %s, want strictly increasing", id, prev);
		util_strlcpy(prev, id, sizeof(prev));
		spool_writer_abort(w);
	}
	if (count_files(dir, "tmp") != 0)
		fail_msg("got files left in tmp/ after abort, want none");
	spool_free(sp);
	rm_rf(dir);
}

/* two processes committing at once never share an id */
static void test_ids_across_processes(void **state)
{
	char *dir = make_dir();
	pid_t kids[3];

	(void)state;
	for (int k = 0; k < 3; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			struct spool *sp = open_spool(dir, 0);
			for (int i = 0; i < 100; i++)
				spool_msg_free(put(sp, "x\r\n", 3, 1));
			spool_free(sp);
			_exit(0);
		}
	}
	for (int k = 0; k < 3; k++) {
		int st;
		waitpid(kids[k], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("child %d failed", k);
	}
	if (count_files(dir, "queue") != 300)
		fail_msg("got %zu files in queue/, want 300", count_files(dir, "queue"));
	rm_rf(dir);
}

static void test_body_exact(void **state)
{
	static const struct {
		const char *name;
		const char *body;
		size_t len;
	} cases[] = {
		{"empty", "", 0},
		{"wire form", "Subject: hi\r\n\r\n..leading dot\r\nend\r\n", 36},
		{"binary with NUL", "a\0b\r\n\xff\xfe\n", 9},
		{"looks like a header", "MAILERD-SPOOL 1 0000000000000000 00000000 00000000\n", 51},
	};
	char *dir = make_dir();
	struct spool *sp = open_spool(dir, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = put(sp, cases[i].body, cases[i].len, 2), *got;
		char buf[128];
		size_t len = 99;
		ssize_t n;
		int fd = -1;

		got = spool_load(sp, m->id);
		if (got == NULL)
			fail_msg("%s: spool_load failed", cases[i].name);
		if (spool_body_open(sp, got, &fd, &len) < 0)
			fail_msg("%s: spool_body_open failed", cases[i].name);
		n = read(fd, buf, sizeof(buf));
		/* the body is followed by the envelope, so read exactly len */
		if (len != cases[i].len || n < (ssize_t)len || memcmp(buf, cases[i].body, len) != 0)
			fail_msg("%s: got len %zu, want %zu (or different bytes)", cases[i].name, len,
				 cases[i].len);
		close(fd);
		spool_msg_free(got);
		spool_msg_free(m);
	}
	spool_free(sp);
	rm_rf(dir);
}

/* spool_update_sync persists states, hold and warnings across a reopen */
static void test_update_reopen(void **state)
{
	char *dir = make_dir();
	struct spool *sp = open_spool(dir, 0);
	struct spool_msg *m = put(sp, "b\r\n", 3, 3), *got;
	char id[SPOOL_ID_MAX];

	(void)state;
	util_strlcpy(id, m->id, sizeof(id));
	m->rcpt[0].state = RCPT_DELIVERED;
	m->rcpt[0].attempts = 1;
	m->rcpt[0].dirty = true;
	m->rcpt[2].state = RCPT_DEFERRED;
	m->rcpt[2].attempts = 2;
	m->rcpt[2].next_attempt_ms = 123456789;
	outcome_set(&m->rcpt[2].last, OUTCOME_TEMP, 451, "4.7.1", "mx[192.0.2.9]:25", "greylisted\r\nsee\x01");
	m->rcpt[2].dirty = true;
	m->held = true;
	m->delay_warnings_sent = 1;
	if (spool_update_sync(sp, m) < 0)
		fail_msg("spool_update_sync failed");
	if (m->rcpt[0].dirty || m->rcpt[2].dirty)
		fail_msg("got dirty marks after the update, want them cleared");
	/* a recipient changed in memory but not marked dirty is not written */
	m->rcpt[1].state = RCPT_FAILED;
	m->held = false;
	if (spool_update_sync(sp, m) < 0)
		fail_msg("second update failed");
	spool_msg_free(m);
	spool_free(sp);

	sp = open_spool(dir, SPOOL_OPEN_DAEMON);
	got = spool_load(sp, id);
	if (got == NULL)
		fail_msg("spool_load after reopen failed");
	if (got->rcpt[0].state != RCPT_DELIVERED || got->rcpt[1].state != RCPT_PENDING ||
	    got->rcpt[2].state != RCPT_DEFERRED || got->rcpt[2].attempts != 2 ||
	    got->rcpt[2].next_attempt_ms != 123456789 || got->rcpt[2].last.code != 451 ||
	    strcmp(got->rcpt[2].last.status, "4.7.1") != 0 || strcmp(got->rcpt[2].last.remote, "mx[192.0.2.9]:25") != 0 ||
	    strcmp(got->rcpt[2].last.text, "greylisted\r\nsee\x01") != 0)
		fail_msg("got states %d,%d,%d attempts %d code %d text '%s'", got->rcpt[0].state, got->rcpt[1].state,
			 got->rcpt[2].state, got->rcpt[2].attempts, got->rcpt[2].last.code, got->rcpt[2].last.text);
	if (got->held || got->delay_warnings_sent != 1)
		fail_msg("got held %d warnings %d, want 0 1 (last flags record wins)", got->held,
			 got->delay_warnings_sent);
	if (spool_msg_is_final(got))
		fail_msg("got final, want not final");
	spool_msg_free(got);
	spool_free(sp);
	rm_rf(dir);
}

static int scanned;
static void on_each(struct spool_msg *m, void *arg)
{
	(void)arg;
	scanned++;
	spool_msg_free(m);
}

static void corrupt_file(const char *dir, const char *id, long off, const char *bytes, long cut)
{
	char *path = xasprintf("%s/queue/%s", dir, id);
	FILE *f = fopen(path, "r+");

	if (f == NULL)
		fail_msg("cannot open %s", path);
	if (bytes != NULL) {
		fseek(f, off, off < 0 ? SEEK_END : SEEK_SET);
		fwrite(bytes, 1, strlen(bytes), f);
	}
	fclose(f);
	if (cut >= 0 && truncate(path, cut) < 0)
		fail_msg("truncate");
	free(path);
}

static void test_scan_corrupt(void **state)
{
	static const struct {
		const char *name;
		long off;
		const char *bytes;
		long truncate; /* -1: keep */
	} cases[] = {
		{"header magic", 0, "XX", -1},
		{"envelope byte", 64 + 3 + 2, "Q", -1},
		{"empty file", 0, NULL, 0},
		{"cut inside the envelope", 0, NULL, 64 + 3 + 10},
	};
	char *dir = make_dir();
	struct spool *sp = open_spool(dir, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spool_msg *m = put(sp, "b\r\n", 3, 1);
		corrupt_file(dir, m->id, cases[i].off, cases[i].bytes, cases[i].truncate);
		spool_msg_free(m);
	}
	spool_msg_free(put(sp, "good\r\n", 6, 1));
	/* a torn state append is not corruption */
	struct spool_msg *t = put(sp, "torn\r\n", 6, 1);
	corrupt_file(dir, t->id, -1, "\nR 00000040 12345678 rcpt 0 deliv", -1);
	spool_msg_free(t);
	scanned = 0;
	if (spool_scan(sp, on_each, NULL) != 2 || scanned != 2)
		fail_msg("got %d scanned, want 2", scanned);
	if (count_files(dir, "corrupt") != 4 || count_files(dir, "queue") != 2)
		fail_msg("got %zu in corrupt/ and %zu in queue/, want 4 and 2", count_files(dir, "corrupt"),
			 count_files(dir, "queue"));
	scanned = 0;
	if (spool_scan(sp, on_each, NULL) != 2)
		fail_msg("second scan: got %d, want 2", scanned);
	spool_free(sp);
	rm_rf(dir);
}

static void test_lock_and_tmp(void **state)
{
	char *dir = make_dir(), err[512];
	struct spool *a = open_spool(dir, SPOOL_OPEN_DAEMON), *b;
	char *leftover = xasprintf("%s/tmp/0000000000000ABCD", dir);
	FILE *f = fopen(leftover, "w");

	(void)state;
	/* what a session of a crashed daemon leaves behind */
	if (f == NULL || fputs("MAILERD-SPOOL 1 receiving", f) < 0 || fclose(f) != 0)
		fail_msg("cannot create %s", leftover);
	b = spool_open(dir, NULL, SPOOL_OPEN_DAEMON, err, sizeof(err));
	if (b != NULL || strstr(err, dir) == NULL || strstr(err, "in use") == NULL)
		fail_msg("second daemon: got %s '%s', want an error naming the folder", b ? "success" : "error",
			 err);
	/* a command-line tool needs no lock and leaves tmp/ alone */
	b = open_spool(dir, 0);
	if (count_files(dir, "tmp") != 1)
		fail_msg("got %zu in tmp/, want the leftover kept", count_files(dir, "tmp"));
	spool_free(b);
	spool_free(a);
	b = open_spool(dir, SPOOL_OPEN_DAEMON);
	if (count_files(dir, "tmp") != 0)
		fail_msg("got %zu in tmp/ after the daemon start, want 0", count_files(dir, "tmp"));
	spool_free(b);
	free(leftover);
	rm_rf(dir);
}

static void test_remove(void **state)
{
	char *dir = make_dir();
	struct spool *sp = open_spool(dir, 0);
	struct spool_msg *m = put(sp, "x", 1, 1);

	(void)state;
	if (spool_remove(sp, m->id) < 0 || spool_remove(sp, m->id) < 0)
		fail_msg("spool_remove: got an error, want 0 (also when already gone)");
	if (spool_load(sp, m->id) != NULL || errno != ENOENT)
		fail_msg("spool_load of a removed message: want NULL with ENOENT");
	if (spool_update_sync(sp, m) == 0 || count_files(dir, "queue") != 0)
		fail_msg("update of a removed message: want an error and no file revived");
	if (spool_remove(sp, "../lock") == 0)
		fail_msg("spool_remove of a path: want an error");
	spool_msg_free(m);
	spool_free(sp);
	rm_rf(dir);
}

/* A crash in the middle of a state append (the torn-append failpoint
 * kills the process after half the bytes reached the disk): the state
 * before it stands, and the next append after a restart is read. */
static void test_crash_torn_append(void **state)
{
	char *dir = make_dir();
	struct spool *sp = open_spool(dir, 0);
	struct spool_msg *m = put(sp, "b\r\n", 3, 2), *got;
	pid_t pid;
	int st;

	(void)state;
	m->rcpt[0].state = RCPT_DEFERRED;
	m->rcpt[0].attempts = 1;
	m->rcpt[0].dirty = true;
	if (spool_update_sync(sp, m) < 0)
		fail_msg("first update failed");
	pid = fork();
	if (pid == 0) {
		setenv("MAILERD_FAILPOINT", "spool-update-torn", 1);
		m->rcpt[0].state = RCPT_DELIVERED;
		m->rcpt[0].dirty = true;
		m->rcpt[1].state = RCPT_FAILED;
		m->rcpt[1].dirty = true;
		spool_update_sync(sp, m);
		_exit(0); /* not reached */
	}
	waitpid(pid, &st, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail_msg("got child status %d, want killed by the failpoint", st);
	spool_free(sp);
	sp = open_spool(dir, SPOOL_OPEN_DAEMON);
	got = spool_load(sp, m->id);
	/* half the bytes: the first record (rcpt 0) may be complete, the
	 * second (rcpt 1) is not; rcpt 1 must still be pending */
	if (got == NULL || got->rcpt[1].state != RCPT_PENDING || got->rcpt[0].attempts != 1)
		fail_msg("after the crash: got rcpt1 %d, want pending", got ? (int)got->rcpt[1].state : -1);
	got->rcpt[1].state = RCPT_DELIVERED;
	got->rcpt[1].dirty = true;
	if (spool_update_sync(sp, got) < 0)
		fail_msg("update after the crash failed");
	spool_msg_free(got);
	got = spool_load(sp, m->id);
	if (got == NULL || got->rcpt[1].state != RCPT_DELIVERED)
		fail_msg("append behind the torn bytes: got %d, want delivered", got ? (int)got->rcpt[1].state : -1);
	spool_msg_free(got);
	spool_msg_free(m);
	spool_free(sp);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),          cmocka_unit_test(test_ids_across_processes),
		cmocka_unit_test(test_body_exact),   cmocka_unit_test(test_update_reopen),
		cmocka_unit_test(test_scan_corrupt), cmocka_unit_test(test_lock_and_tmp),
		cmocka_unit_test(test_remove),       cmocka_unit_test(test_crash_torn_append),
	};
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
