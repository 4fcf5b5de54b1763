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
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "config/config.h"
#include "deliver/deliver.h"
#include "sched/sched.h"
#include "smtp/smtp.h"
#include "spool/spool.h"
#include "util/mailog.h"
#include "util/util.h"

/* on_accepted - the SMTP server queued a message durably: schedule it */
static void on_accepted(struct spool_msg *msg, void *arg)
{
	sched_take(arg, msg);
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
	if (!strchr(cfg->myhostname, '.'))
		log_warn("myhostname '%s' is not a fully qualified domain name; remote servers may "
			 "refuse the greeting (set myhostname)", cfg->myhostname);
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
		log_error("event_log %s: cannot create its folder: %s", cfg->event_log, strerror(errno));
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
	if (sched_recover(sc) < 0) {
		log_error("spool recovery failed in %s: %s", cfg->spool_dir, strerror(errno));
		goto out;
	}
	cli_control_path(cfg, control, sizeof(control));
	if (sched_control_listen(sc, control, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	srv = smtp_server_new(base, cfg, sp, on_accepted, sc, err, sizeof(err));
	if (srv == NULL) {
		log_error("%s", err);
		goto out;
	}
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
	sched_free(sc);
	deliver_free(dl);
	spool_free(sp);
	mailog_close();
	if (base)
		event_base_free(base);
	config_free(cfg);
	return rc;
}
