/*
 * serve.c - `mailerd serve`: wire the parts of the data flow together on
 * one libevent loop and run until SIGTERM/SIGINT.
 *
 *   smtp server --(durable message)--> sched --(transaction)--> deliver
 *        |                               ^  \--(states)--> spool
 *        +--> spool (group commit)       +-- control socket (`mailerd queue`)
 *
 * Start-up order matters: the spool is opened (and locked) and recovered
 * before the listeners accept anything, so a restarted daemon first takes
 * back every message it had promised to deliver.
 *
 * Privileges (docs/security.md): started as root with run_user set, the
 * daemon does everything that needs root first (bind port 25, create and
 * open the spool, the event log, the control socket), hands the spool tree
 * and the event log to run_user, then sets its groups, gid and uid for
 * good before the loop runs. Started as root without run_user it warns and
 * keeps running as root.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <ftw.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "intake/intake.h"
#include "report/report.h"
#include "sched/sched.h"
#include "signing/signing.h"
#include "smtp/smtp.h"
#include "spool/spool.h"
#include "suppress/suppress.h"
#include "util/mailog.h"
#include "util/util.h"

/* What the hooks below share. */
struct serve_ctx {
	const struct config *cfg;
	struct suppress_cache *supp;
	struct deliver *dl;
	struct intake *intake; /* NULL unless return_path_signing = on */
	struct signing_key key;
};

/* on_accepted - the SMTP server queued a message durably: schedule it */
static void on_accepted(struct spool_msg *msg, void *arg)
{
	sched_take(arg, msg);
}

/* on_rcpt_check - the SMTP server asks whether rcpt is suppressed: one
 * probe of the in-memory set, no I/O (suppress_cache_check) */
static int on_rcpt_check(void *arg, const char *client_ip, const char *sender, const char *rcpt,
                         char *text, size_t textlen)
{
	struct suppress_hit hit;

	if (!suppress_cache_check(arg, rcpt, &hit))
		return 0;
	util_strlcpy(text, hit.text, textlen);
	mailog_suppressed(NULL, sender, rcpt, client_ip, hit.text);
	return 1;
}

/* on_final - what a final delivery outcome teaches the suppression list:
 * a delivery restarts the soft bounce count; a permanent "no such user /
 * domain / mail server" is a hard bounce; a full mailbox or a message that
 * expired in the queue is a soft one. Failures about the sender or the
 * content (blocked, filtered, too big) say nothing about the address,
 * and neither does what happens to our own reports. */
static void on_final(void *arg, const struct spool_msg *m, const struct spool_rcpt *r)
{
	struct serve_ctx *ctx = arg;
	struct suppress_bounce b = {0};
	enum report_reason rr;

	/* a report's own outcome is about the sender of some earlier mail
	 * (or our postmaster), not about a list the sender mails to; a
	 * bounce taken in at the bounce domain is about nobody's list */
	if (m->origin == SPOOL_ORIGIN_REPORT || intake_is_local(ctx->intake, r->addr))
		return;
	arg = ctx->supp;
	if (r->state == RCPT_DELIVERED) {
		suppress_cache_delivery(arg, r->addr);
		return;
	}
	if (r->state != RCPT_FAILED)
		return;
	rr = report_classify(&r->last);
	switch (rr) {
	case REPORT_REASON_USERUNKNOWN:
	case REPORT_REASON_HOSTUNKNOWN:
	case REPORT_REASON_NOTACCEPT: b.hard = r->last.kind == OUTCOME_PERM; break;
	case REPORT_REASON_MAILBOXFULL:
	case REPORT_REASON_EXPIRED: break;
	default: return;
	}
	b.address = r->addr;
	b.reason = report_reason_name(rr);
	b.status = r->last.status;
	b.diagnostic = r->last.text;
	b.queue_id = m->id;
	suppress_cache_bounce(arg, &b);
}

/* ---- signed return paths (issue 6) ---- */

/* on_sender - bounces+TAG-...@bounce_domain for recipient ri; -1 (send
 * with the stored sender) only when the queue id cannot be encoded */
static int on_sender(void *arg, const struct spool_msg *m, size_t ri, char *out, size_t outlen)
{
	struct serve_ctx *ctx = arg;

	if (signing_return_path(&ctx->key, ctx->cfg->bounce_domain, m->id, ri, m->rcpt[ri].addr,
	                        util_now_ms(), out, outlen) < 0) {
		log_warn("%s: cannot sign the return path for <%s>; sending with the original "
		         "sender",
		         m->id, m->rcpt[ri].addr);
		return -1;
	}
	return 0;
}

/* on_transport - the bounce domain's mail goes to the intake, never out */
static int on_transport(void *arg, const struct deliver_request *req, deliver_done_fn done,
                        void *done_arg)
{
	struct serve_ctx *ctx = arg;

	if (req->n_rcpt > 0 && intake_is_local(ctx->intake, req->rcpt[0].addr))
		return intake_start(ctx->intake, req, done, done_arg);
	return deliver_start(ctx->dl, req, done, done_arg);
}

/* on_local_rcpt - RCPT to the bounce domain: valid tags only */
static enum smtp_local_verdict on_local_rcpt(void *arg, const char *client_ip, const char *sender,
                                             const char *rcpt, char *text, size_t textlen)
{
	struct serve_ctx *ctx = arg;

	switch (intake_check_rcpt(ctx->intake, client_ip, sender, rcpt, text, textlen)) {
	case INTAKE_RCPT_ACCEPT: return SMTP_LOCAL_ACCEPT;
	case INTAKE_RCPT_REFUSE: return SMTP_LOCAL_REFUSE;
	case INTAKE_RCPT_PASS:
	default: return SMTP_LOCAL_PASS;
	}
}

static int make_parent_dir(const char *file);

/* start_signing - load (or make) the key and start the intake */
static int start_signing(struct serve_ctx *ctx, struct event_base *base, struct sched *sc)
{
	char err[600];

	if (make_parent_dir(ctx->cfg->signing_key_file) < 0) {
		log_error("signing_key_file %s: cannot create its folder: %s",
		          ctx->cfg->signing_key_file, strerror(errno));
		return -1;
	}
	if (signing_key_load(ctx->cfg->signing_key_file, true, &ctx->key, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	ctx->intake = intake_new(base, ctx->cfg, &ctx->key, err, sizeof(err));
	if (ctx->intake == NULL) {
		log_error("%s", err);
		return -1;
	}
	sched_set_sender_hook(sc, on_sender, ctx);
	sched_set_transport(sc, on_transport, ctx);
	log_info("return path signing on: bounces come back to %s", ctx->cfg->bounce_domain);
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	log_info("signal %d: stopping (everything queued stays in the spool)", (int)sig);
	event_base_loopbreak(base);
}

/* make_parent_dir - create the folder a file setting lives in */
static int make_parent_dir(const char *file)
{
	char *copy = xstrdup(file);
	int r = util_mkdir_p(dirname(copy), 0750);

	free(copy);
	return r;
}

/* nftw has no argument for its callback: the owner to give */
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	/* lchown: a symbolic link planted in the spool must not make root
	 * hand some other file to run_user */
	if (lchown(path, chown_uid, chown_gid) < 0) {
		log_error("run_user: cannot hand %s over: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* drop_privileges - become run_user for good (see the top comment);
 * 0 when done or nothing to do, -1 with a logged reason */
static int drop_privileges(const struct config *cfg)
{
	const struct passwd *pw;

	if (cfg->run_user == NULL || cfg->run_user[0] == '\0') {
		if (geteuid() == 0)
			log_warn(
			    "running as root: set run_user so mailerd drops to an unprivileged "
			    "user once its ports are bound");
		return 0;
	}
	errno = 0;
	pw = getpwnam(cfg->run_user);
	if (pw == NULL) {
		log_error("run_user %s: no such user%s%s", cfg->run_user, errno ? ": " : "",
		          errno ? strerror(errno) : "");
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0; /* started as that user already */
		log_error(
		    "run_user = %s: mailerd serve must be started as root (or as %s) to switch "
		    "user",
		    cfg->run_user, cfg->run_user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_warn("run_user %s is root: not dropping privileges", cfg->run_user);
		return 0;
	}
	/* copies: pw points into storage the next lookup overwrites */
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	if (nftw(cfg->spool_dir, chown_one, 16, FTW_PHYS) != 0)
		return -1;
	if (cfg->event_log[0] && lchown(cfg->event_log, chown_uid, chown_gid) < 0) {
		log_error("run_user: cannot hand %s over: %s", cfg->event_log, strerror(errno));
		return -1;
	}
	/* groups first: once the uid is gone, so is the right to change them */
	if (initgroups(cfg->run_user, chown_gid) < 0 || setgid(chown_gid) < 0 ||
	    setuid(chown_uid) < 0) {
		log_error("run_user %s: cannot switch user: %s", cfg->run_user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0)
		fatal("run_user %s: root privileges could be regained", cfg->run_user);
#if defined(__SANITIZE_ADDRESS__)
	/* The leak checker attaches to its own process at exit, which the
	 * kernel forbids after a uid change unless the process is dumpable
	 * again. Sanitizer builds only: production builds stay undumpable. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	log_info("running as user %s (uid %u, gid %u)", cfg->run_user, (unsigned)chown_uid,
	         (unsigned)chown_gid);
	return 0;
}

static void apply_log_level(const struct config *cfg)
{
	if (strcmp(cfg->log_level, "debug") == 0)
		log_set_level(LOG_DEBUG);
	else if (strcmp(cfg->log_level, "warn") == 0)
		log_set_level(LOG_WARN);
	else if (strcmp(cfg->log_level, "error") == 0)
		log_set_level(LOG_ERROR);
	else
		log_set_level(LOG_INFO);
}

int cli_serve(int argc, char **argv)
{
	struct config *cfg;
	struct event_base *base = NULL;
	struct spool *sp = NULL;
	struct deliver *dl = NULL;
	struct sched *sc = NULL;
	struct smtp_server *srv = NULL;
	struct suppress_cache *supp = NULL;
	struct suppress_policy pol;
	struct serve_ctx ctx;
	struct event *sigterm = NULL, *sigint = NULL;
	char err[600];
	char control[4096];
	int first, rc = 1;

	cfg = cli_load_config(argc, argv, NULL, NULL, NULL, NULL, &first);
	if (cfg == NULL)
		return 1;
	if (first < argc) {
		fprintf(stderr, "serve: unexpected argument '%s'\n", argv[first]);
		config_free(cfg);
		return 2;
	}
	apply_log_level(cfg);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	if (!strchr(cfg->myhostname, '.'))
		log_warn("myhostname '%s' is not a fully qualified domain name; remote servers may "
		         "refuse the greeting (set myhostname)",
		         cfg->myhostname);
	/* Spool and database must not be world-readable: they hold mail. */
	umask(027);
	signal(SIGPIPE, SIG_IGN);
	/* The spool's commit thread hands completions to this loop. */
	if (evthread_use_pthreads() < 0)
		fatal("libevent has no pthreads support");
	base = event_base_new();
	if (base == NULL)
		fatal("cannot create the event loop");

	if (util_mkdir_p(cfg->spool_dir, 0750) < 0) {
		log_error("spool_dir %s: %s", cfg->spool_dir, strerror(errno));
		goto out;
	}
	if (cfg->event_log[0] && make_parent_dir(cfg->event_log) < 0) {
		log_error("event_log %s: cannot create its folder: %s", cfg->event_log,
		          strerror(errno));
		goto out;
	}
	if (mailog_open(cfg->event_log, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	sp = spool_open(cfg->spool_dir, base, SPOOL_OPEN_DAEMON, err, sizeof(err));
	if (sp == NULL) {
		log_error("%s", err);
		goto out;
	}
	dl = deliver_new(base, cfg, err, sizeof(err));
	if (dl == NULL) {
		log_error("%s", err);
		goto out;
	}
	sc = sched_new(base, cfg, sp, dl);
	ctx.dl = dl;
	/* before recovery groups the queued recipients into transactions */
	if (cfg->return_path_signing && start_signing(&ctx, base, sc) < 0)
		goto out;
	if (sched_recover(sc) < 0) {
		log_error("spool recovery failed in %s: %s", cfg->spool_dir, strerror(errno));
		goto out;
	}
	cli_control_path(cfg, control, sizeof(control));
	if (sched_control_listen(sc, control, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	/* the suppression list is loaded before the first RCPT can come */
	suppress_policy_from_config(cfg, &pol);
	supp = suppress_cache_new(cfg->state_db, &pol, cfg->suppress_refresh_ms, err, sizeof(err));
	if (supp == NULL) {
		log_error("%s", err);
		goto out;
	}
	ctx.supp = supp;
	sched_set_outcome_hook(sc, on_final, &ctx);
	srv = smtp_server_new(base, cfg, sp, on_accepted, sc, err, sizeof(err));
	if (srv == NULL) {
		log_error("%s", err);
		goto out;
	}
	smtp_server_set_rcpt_check(srv, on_rcpt_check, supp);
	if (ctx.intake != NULL)
		smtp_server_set_local_rcpt(srv, on_local_rcpt, &ctx);
	if (drop_privileges(cfg) < 0)
		goto out;
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	log_info("mailerd started: listen=%s, spool_dir=%s, %zu message(s) queued", cfg->listen,
	         cfg->spool_dir, sched_count(sc));
	event_base_dispatch(base);
	rc = 0;
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	smtp_server_free(srv);
	/* the intake calls back into the scheduler: it goes first */
	intake_free(ctx.intake);
	memset(&ctx.key, 0, sizeof(ctx.key));
	sched_free(sc);
	/* after the scheduler: its last outcomes are written before exit */
	suppress_cache_free(supp);
	deliver_free(dl);
	spool_free(sp);
	mailog_close();
	if (base)
		event_base_free(base);
	config_free(cfg);
	return rc;
}
