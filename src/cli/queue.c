/*
 * queue.c - `mailerd queue list|show|flush|hold|release|delete`.
 *
 * With a daemon running, every request goes through its control socket, so
 * the daemon's scheduler and the files never disagree. Without one, the
 * command works on the spool files directly (the states in them are
 * durable, so the listing is the truth), and the next `serve` picks up
 * whatever was changed.
 *
 * Output: a mailq-like table for people, or with --json one object per
 * message per line for programs.
 *
 * Exit codes: 0 done, 1 the operation failed (no such message, spool
 * error), 2 usage (unknown sub-command, a missing id, or an argument that
 * is not a queue id: those are refused before any daemon or file sees
 * them).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "config/config.h"
#include "spool/spool.h"
#include "util/util.h"

struct listing {
	struct spool_msg **msgs;
	size_t n, cap;
};

static void listing_add(struct spool_msg *m, void *arg)
{
	struct listing *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->msgs = xrealloc(l->msgs, l->cap * sizeof(*l->msgs));
	}
	l->msgs[l->n++] = m;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		spool_msg_free(l->msgs[i]);
	free(l->msgs);
}

static int by_id(const void *a, const void *b)
{
	return strcmp((*(struct spool_msg *const *)a)->id, (*(struct spool_msg *const *)b)->id);
}

static const char *state_name(enum rcpt_state s)
{
	switch (s) {
	case RCPT_PENDING: return "pending";
	case RCPT_DEFERRED: return "deferred";
	case RCPT_DELIVERED: return "delivered";
	case RCPT_FAILED: return "failed";
	}
	return "?";
}

static enum rcpt_state state_from_name(const char *s)
{
	if (strcmp(s, "deferred") == 0)
		return RCPT_DEFERRED;
	if (strcmp(s, "delivered") == 0)
		return RCPT_DELIVERED;
	if (strcmp(s, "failed") == 0)
		return RCPT_FAILED;
	return RCPT_PENDING;
}

/* split_tabs - cut line at tabs into at most max fields; returns count */
static size_t split_tabs(char *line, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		f[n++] = line;
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return n;
}

/* parse_daemon_listing - the control protocol's list/show lines */
static int parse_daemon_listing(char *text, struct listing *l)
{
	struct spool_msg *cur = NULL;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8];
		size_t n;

		if (line[0] == '\t') {
			n = split_tabs(line + 1, f, 8);
			if (cur == NULL || n < 7 || strcmp(f[0], "RCPT") != 0)
				return -1;
			struct spool_rcpt *r = spool_msg_add_rcpt(cur, f[1]);
			r->state = state_from_name(f[2]);
			r->attempts = atoi(f[3]);
			r->next_attempt_ms = strtoll(f[4], NULL, 10);
			util_strlcpy(r->last.status, f[5], sizeof(r->last.status));
			util_strlcpy(r->last.text, f[6], sizeof(r->last.text));
			continue;
		}
		n = split_tabs(line, f, 6);
		if (n < 5)
			return -1;
		cur = spool_msg_new();
		util_strlcpy(cur->id, f[0], sizeof(cur->id));
		cur->body_len = strtoull(f[1], NULL, 10);
		cur->arrival_ms = strtoll(f[2], NULL, 10);
		util_strlcpy(cur->sender, f[3], sizeof(cur->sender));
		cur->held = atoi(f[4]) != 0;
		listing_add(cur, l);
	}
	return 0;
}

static void print_table(const struct listing *l)
{
	uint64_t bytes = 0;

	if (l->n == 0) {
		printf("Mail queue is empty\n");
		return;
	}
	printf("%-18s %8s %-20s  %s\n", "-Queue ID-", "--Size--", "----Arrival Time----",
	       "-Sender/Recipient-------");
	for (size_t i = 0; i < l->n; i++) {
		const struct spool_msg *m = l->msgs[i];
		time_t t = (time_t)(m->arrival_ms / 1000);
		struct tm tm;
		char when[32], id[SPOOL_ID_MAX + 2];

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
		/* Postfix marks held messages with '!' after the id. */
		snprintf(id, sizeof(id), "%s%s", m->id, m->held ? "!" : "");
		printf("%-18s %8zu %-20s  %s\n", id, m->body_len, when,
		       m->sender[0] ? m->sender : "<>");
		bytes += m->body_len;
		for (size_t k = 0; k < m->n_rcpt; k++) {
			const struct spool_rcpt *r = &m->rcpt[k];
			char next[32] = "";
			if (r->state == RCPT_DEFERRED && r->next_attempt_ms > 0) {
				time_t nt = (time_t)(r->next_attempt_ms / 1000);
				struct tm ntm;
				localtime_r(&nt, &ntm);
				strftime(next, sizeof(next), ", next %H:%M:%S", &ntm);
			}
			printf("%50s%-9s %s (attempts %d%s)\n", "", state_name(r->state), r->addr,
			       r->attempts, next);
			if (r->last.text[0])
				printf("%60s(%s %s)\n", "", r->last.status, r->last.text);
		}
		printf("\n");
	}
	printf("-- %llu Kbytes in %zu Request%s.\n", (unsigned long long)((bytes + 1023) / 1024),
	       l->n, l->n == 1 ? "" : "s");
}

static void print_json(const struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct spool_msg *m = l->msgs[i];
		json_t *o = json_object(), *rs = json_array();
		char *text;

		json_object_set_new(o, "id", json_string(m->id));
		json_object_set_new(o, "size", json_integer((json_int_t)m->body_len));
		json_object_set_new(o, "arrival_ms", json_integer(m->arrival_ms));
		json_object_set_new(o, "sender", json_string(m->sender));
		json_object_set_new(o, "held", json_boolean(m->held));
		for (size_t k = 0; k < m->n_rcpt; k++) {
			const struct spool_rcpt *r = &m->rcpt[k];
			json_t *jr = json_object();
			json_object_set_new(jr, "recipient", json_string(r->addr));
			json_object_set_new(jr, "state", json_string(state_name(r->state)));
			json_object_set_new(jr, "attempts", json_integer(r->attempts));
			json_object_set_new(jr, "next_attempt_ms",
			                    json_integer(r->next_attempt_ms));
			json_object_set_new(jr, "status", json_string(r->last.status));
			json_t *jt = json_string(r->last.text);
			json_object_set_new(jr, "text", jt ? jt : json_string(""));
			json_array_append_new(rs, jr);
		}
		json_object_set_new(o, "recipients", rs);
		text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text) {
			puts(text);
			free(text);
		}
		json_decref(o);
	}
}

/* load_listing - from the daemon, or from the files when none runs */
static int load_listing(const struct config *cfg, const char *id, struct listing *l)
{
	char request[128];
	char *reply = NULL;
	int r;

	snprintf(request, sizeof(request), id ? "show %s" : "list", id ? id : "");
	r = cli_control(cfg, request, &reply);
	if (r == 0) {
		int pr = parse_daemon_listing(reply, l);
		free(reply);
		if (pr < 0)
			fprintf(stderr, "queue: the daemon's reply could not be read\n");
		return pr;
	}
	if (r == 1) {
		fprintf(stderr, "queue: %s\n", reply);
		free(reply);
		return -1;
	}
	/* No daemon: read the spool itself. */
	char err[600];
	struct spool *sp = spool_open(cfg->spool_dir, NULL, 0, err, sizeof(err));
	if (sp == NULL) {
		fprintf(stderr, "queue: %s\n", err);
		return -1;
	}
	if (id) {
		struct spool_msg *m = spool_load(sp, id);
		if (m == NULL) {
			fprintf(stderr, "queue: %s: not in the queue\n", id);
			spool_free(sp);
			return -1;
		}
		listing_add(m, l);
	} else if (spool_scan(sp, listing_add, l) < 0) {
		fprintf(stderr, "queue: cannot read %s: %s\n", cfg->spool_dir, strerror(errno));
		spool_free(sp);
		return -1;
	}
	spool_free(sp);
	return 0;
}

/* offline_op - hold/release/delete/flush on the files when no daemon runs */
static int offline_op(const struct config *cfg, const char *op, const char *id)
{
	char err[600];
	struct spool *sp = spool_open(cfg->spool_dir, NULL, 0, err, sizeof(err));
	struct listing l = {0};
	int rc = 0;

	if (sp == NULL) {
		fprintf(stderr, "queue: %s\n", err);
		return 1;
	}
	if (id) {
		struct spool_msg *m = spool_load(sp, id);
		if (m == NULL) {
			fprintf(stderr, "queue: %s: not in the queue\n", id);
			spool_free(sp);
			return 1;
		}
		listing_add(m, &l);
	} else if (spool_scan(sp, listing_add, &l) < 0) {
		fprintf(stderr, "queue: cannot read %s: %s\n", cfg->spool_dir, strerror(errno));
		spool_free(sp);
		return 1;
	}
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct spool_msg *m = l.msgs[i];
		if (strcmp(op, "delete") == 0) {
			rc = spool_remove(sp, m->id) < 0 ? 1 : 0;
			continue;
		}
		if (strcmp(op, "hold") == 0 || strcmp(op, "release") == 0) {
			m->held = strcmp(op, "hold") == 0;
		} else { /* flush: every deferred recipient due now */
			for (size_t k = 0; k < m->n_rcpt; k++)
				if (m->rcpt[k].state == RCPT_DEFERRED) {
					m->rcpt[k].next_attempt_ms = 0;
					m->rcpt[k].dirty = true;
				}
		}
		if (spool_update_sync(sp, m) < 0) {
			fprintf(stderr, "queue: %s: %s\n", m->id, strerror(errno));
			rc = 1;
		}
	}
	listing_free(&l);
	spool_free(sp);
	if (rc == 0)
		printf("%s%s%s: done (no daemon running; applied to the spool files)\n", op,
		       id ? " " : "", id ? id : "");
	return rc;
}

/* queue_id_valid - queue ids are short and alphanumeric (the daemon's
 * control socket applies the same rule); a path or ".." is not one */
static bool queue_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= SPOOL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}

int cli_queue(int argc, char **argv)
{
	struct config *cfg;
	const char *sub, *id = NULL;
	bool json = false;
	int first, rc = 0;

	cfg = cli_load_config(argc, argv, NULL, NULL, NULL, NULL, &first);
	if (cfg == NULL)
		return 1;
	if (first >= argc) {
		fprintf(stderr,
		        "usage: mailerd queue [-c FILE] list [--json]|show ID|flush|hold ID|"
		        "release ID|delete ID\n");
		config_free(cfg);
		return 2;
	}
	sub = argv[first];
	for (int i = first + 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (id == NULL)
			id = argv[i];
	}
	bool needs_id = strcmp(sub, "show") == 0 || strcmp(sub, "hold") == 0 ||
	                strcmp(sub, "release") == 0 || strcmp(sub, "delete") == 0;
	if (needs_id && id == NULL) {
		fprintf(stderr, "queue %s: needs a queue id\n", sub);
		rc = 2;
	} else if (needs_id && !queue_id_valid(id)) {
		/* refused here, before it can reach the daemon or a file name */
		fprintf(stderr, "queue %s: '%s' is not a queue id\n", sub, id);
		rc = 2;
	} else if (strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0) {
		struct listing l = {0};
		if (load_listing(cfg, strcmp(sub, "show") == 0 ? id : NULL, &l) < 0) {
			rc = 1;
		} else {
			if (l.n > 1)
				qsort(l.msgs, l.n, sizeof(*l.msgs), by_id);
			if (json)
				print_json(&l);
			else
				print_table(&l);
		}
		listing_free(&l);
	} else if (needs_id || strcmp(sub, "flush") == 0) {
		char request[128], *reply = NULL;
		snprintf(request, sizeof(request), "%s%s%s", sub, id ? " " : "", id ? id : "");
		int r = cli_control(cfg, request, &reply);
		if (r == 0) {
			printf("%s: done\n", request);
		} else if (r == 1) {
			fprintf(stderr, "queue %s: %s\n", request, reply);
			rc = 1;
		} else {
			rc = offline_op(cfg, sub, id);
		}
		free(reply);
	} else {
		fprintf(stderr, "queue: unknown sub-command '%s'\n", sub);
		rc = 2;
	}
	config_free(cfg);
	return rc;
}
