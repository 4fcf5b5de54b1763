/*
 * config.h - the face of src/config: every setting mailerd has, declared
 * once in a table (name, type, default, bounds, meaning) in settings.c, and
 * the parser of `key = value` files and `-o key=value` overrides.
 *
 * Names and defaults are part of the interface contract in design.md:
 * outside tests use them, so a rename is a breaking change.
 */
#ifndef MAILERD_CONFIG_H
#define MAILERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config {
	/* identity and listeners */
	char *myhostname;
	char *listen;            /* "host:port, host:port" */
	char *submission_listen; /* reserved for AUTH (later issue) */
	char *spool_dir;
	char *state_db;
	char *event_log;
	char *relay_networks; /* CIDR list */
	char *local_domains;  /* domain list */

	/* acceptance limits */
	uint64_t max_message_size;
	uint64_t max_recipients;
	int64_t smtpd_timeout_ms;      /* wait for a command */
	int64_t smtpd_data_timeout_ms; /* wait for the next DATA bytes */
	char *bare_line_ending;        /* "reject" or "normalize" */

	/* delivery */
	char *dns_servers;
	int64_t dns_timeout_ms;
	uint64_t smtp_port;
	char *transport_map;
	int64_t smtp_connect_timeout_ms;
	int64_t smtp_command_timeout_ms; /* greeting, EHLO, MAIL, RCPT, DATA */
	int64_t smtp_data_timeout_ms;    /* the final "." reply */
	int64_t connection_cache_time_ms;
	uint64_t destination_concurrency;

	/* retries and giving up */
	int64_t min_backoff_ms;
	int64_t max_backoff_ms;
	int64_t greylist_retry_ms;
	int64_t queue_lifetime_ms;
	char *delay_warning; /* "4h" or "4h,24h" */
	uint64_t report_return_limit;
	uint64_t report_rate_limit; /* reports per sender address per hour, 0 = no limit */
	char *report_templates;     /* directory of replacement texts, "" = built in */

	/* later issues; parsed and validated now so configs stay stable */
	bool return_path_signing;
	char *bounce_domain;
	char *signing_key_file;
	char *tls_cert_file;
	char *tls_key_file;
	char *metrics_listen;

	char *log_level; /* debug, info, warn, error */

	/* Where each setting was last set (config.c keeps it; read it with
	 * config_where), so late checks can still name FILE:LINE. */
	struct config_origin *origin;

	/* suppression (src/suppress): policy and the daemon's cache */
	bool suppress_hard_bounce;     /* a hard bounce suppresses at once */
	uint64_t soft_bounce_limit;    /* soft bounces that suppress ... */
	int64_t soft_bounce_window_ms; /* ... within this window, no delivery between */
	bool suppress_complaints;      /* a complaint (ARF) suppresses */
	int64_t suppress_refresh_ms;   /* daemon cache: poll the store for changes */

	/* connection limits and privileges (0 = no limit) */
	uint64_t max_connections;                /* SMTP sessions open at once */
	uint64_t max_connections_per_ip;         /* ... from one client address */
	uint64_t max_messages_per_ip_per_minute; /* MAIL commands per client address */
	int64_t smtpd_data_deadline_ms;          /* whole DATA phase, however fast bytes come */
	char *run_user;                          /* drop to this user after binding ("" = stay) */
};

/* config_new - a config holding every default */
struct config *config_new(void);
void config_free(struct config *cfg);

/* config_load_file - read `key = value` lines ('#' starts a comment).
 * On error returns -1 with "FILE:LINE: message" in err. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);

/* config_set - one `key=value` (from -o); err names the key on failure */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);
/* config_set_option - "key=value" as one string */
int config_set_option(struct config *cfg, const char *kv, char *err, size_t errlen);

/* config_where - where key got its value: "FILE:LINE", "-o key" or
 * "default"; written to buf, which is returned */
const char *config_where(const struct config *cfg, const char *key, char *buf, size_t size);

/* config_check - cross-setting checks after everything is loaded
 * (e.g. min_backoff <= max_backoff, delay_warning list syntax) */
int config_check(const struct config *cfg, char *err, size_t errlen);

/* config_print - every setting with its value, as `key = value` lines */
void config_print(const struct config *cfg, void *stream);

/* config_help - the settings table as text (for --help and docs) */
void config_help(void *stream);

/* config_delay_warnings - parse cfg->delay_warning into ascending ms
 * values; returns the count (at most max), or -1 on syntax error */
int config_delay_warnings(const struct config *cfg, int64_t *out, int max);

/* Helpers for comma-separated list settings: calls fn for each trimmed,
 * non-empty item; stops and returns fn's non-zero result. */
typedef int (*config_item_fn)(const char *item, void *arg);
int config_each_item(const char *list, config_item_fn fn, void *arg);

#endif
