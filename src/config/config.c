/*
 * config.c - reading settings: defaults from the table in settings.c, then
 * the config file (`key = value`, '#' comments, blank lines), then -o
 * overrides, then cross-setting checks.
 *
 * Errors name the file and line ("mailerd.conf:12: unknown setting
 * 'listn'") so an operator can fix them without guessing; nothing starts
 * with a config that failed to parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/settings.h"
#include "util/util.h"

/* Where each setting came from: one entry per row of the settings table. */
#define ORIGIN_MAX 128
struct config_origin {
	char *file;                /* the config file, when one was read */
	unsigned line[ORIGIN_MAX]; /* 0 = default; UINT_MAX = -o */
};
#define ORIGIN_OVERRIDE 0xffffffffu

static bool config_hostname_valid(const char *h);

static const struct setting *find_setting(const char *key)
{
	for (const struct setting *s = config_settings; s->name; s++)
		if (strcmp(s->name, key) == 0)
			return s;
	return NULL;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* apply - parse value for setting s and store it in cfg */
static int apply(struct config *cfg, const struct setting *s, const char *value, char *err,
                 size_t errlen)
{
	char *field = (char *)cfg + s->offset;
	uint64_t u;
	int64_t ms;
	bool b;

	switch (s->type) {
	case SET_STR:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case SET_BOOL:
		if (parse_bool(value, &b) < 0) {
			snprintf(err, errlen, "%s: expected on or off, got '%s'", s->name, value);
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case SET_UINT:
	case SET_SIZE:
		/* A plain number may not carry a size unit. */
		if (util_parse_size(value, &u) < 0 ||
		    (s->type == SET_UINT && strspn(value, "0123456789") != strlen(value))) {
			snprintf(err, errlen, "%s: expected a %s, got '%s'", s->name,
			         s->type == SET_SIZE ? "size (bytes, or with k/m/g)"
			                             : "whole number",
			         value);
			return -1;
		}
		if (u < s->min || u > s->max) {
			snprintf(err, errlen, "%s: %llu is out of range (%llu to %llu)", s->name,
			         (unsigned long long)u, (unsigned long long)s->min,
			         (unsigned long long)s->max);
			return -1;
		}
		*(uint64_t *)field = u;
		return 0;
	case SET_DURATION:
		if (util_parse_duration(value, &ms) < 0) {
			snprintf(err, errlen,
			         "%s: expected a duration like 30s, 5m, 4h or 5d, got '%s'",
			         s->name, value);
			return -1;
		}
		if ((uint64_t)ms < s->min || (uint64_t)ms > s->max) {
			snprintf(err, errlen, "%s: %s is out of range (%llums to %llums)", s->name,
			         value, (unsigned long long)s->min, (unsigned long long)s->max);
			return -1;
		}
		*(int64_t *)field = ms;
		return 0;
	}
	snprintf(err, errlen, "%s: bad setting type", s->name);
	return -1;
}

struct config *config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->origin = xcalloc(1, sizeof(*cfg->origin));
	char err[256];

	for (const struct setting *s = config_settings; s->name; s++)
		if (apply(cfg, s, s->def, err, sizeof(err)) < 0)
			fatal("built-in default broken: %s", err);
	if (cfg->myhostname[0] == '\0') {
		char host[256] = "localhost";
		if (gethostname(host, sizeof(host)) < 0)
			util_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		/* A system name that is no valid host name (an underscore, say)
		 * must not stop a start on defaults; the operator sets
		 * myhostname for real use, and serve warns about non-FQDNs. */
		if (!config_hostname_valid(host))
			util_strlcpy(host, "localhost", sizeof(host));
		free(cfg->myhostname);
		cfg->myhostname = xstrdup(host);
	}
	return cfg;
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (const struct setting *s = config_settings; s->name; s++)
		if (s->type == SET_STR)
			free(*(char **)((char *)cfg + s->offset));
	if (cfg->origin)
		free(cfg->origin->file);
	free(cfg->origin);
	free(cfg);
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	const struct setting *s = find_setting(key);

	if (s == NULL) {
		snprintf(err, errlen, "unknown setting '%s'", key);
		return -1;
	}
	return apply(cfg, s, value, err, errlen);
}

/* note_origin - remember where key was set */
static void note_origin(struct config *cfg, const char *key, unsigned line)
{
	const struct setting *s = find_setting(key);
	size_t i;

	if (s == NULL || cfg->origin == NULL)
		return;
	i = (size_t)(s - config_settings);
	if (i < ORIGIN_MAX)
		cfg->origin->line[i] = line;
}

const char *config_where(const struct config *cfg, const char *key, char *buf, size_t size)
{
	const struct setting *s = find_setting(key);
	size_t i = s ? (size_t)(s - config_settings) : ORIGIN_MAX;
	unsigned line = (cfg->origin && i < ORIGIN_MAX) ? cfg->origin->line[i] : 0;

	if (line == ORIGIN_OVERRIDE)
		snprintf(buf, size, "-o %s", key);
	else if (line > 0 && cfg->origin->file)
		snprintf(buf, size, "%s:%u", cfg->origin->file, line);
	else
		snprintf(buf, size, "default");
	return buf;
}

/* strip_value - a value may be "quoted" and may be followed by a comment
 * (white space, then '#'): `queue_lifetime = 5d   # five days` */
static char *strip_value(char *v)
{
	for (char *p = v; *p; p++) {
		if (*p == '#' && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	v = util_trim(v);
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		v++;
	}
	return v;
}

int config_set_option(struct config *cfg, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	char key[128];
	char *value;
	int r;

	if (eq == NULL || (size_t)(eq - kv) >= sizeof(key)) {
		snprintf(err, errlen, "-o expects key=value, got '%s'", kv);
		return -1;
	}
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	value = xstrdup(eq + 1);
	r = config_set(cfg, util_trim(key), util_trim(value), err, errlen);
	if (r == 0)
		note_origin(cfg, key, ORIGIN_OVERRIDE);
	free(value);
	return r;
}

/* Most line errors one load reports: a file with many mistakes is told
 * about all of them at once, within reason. */
#define CONFIG_ERRORS_MAX 20

/* add_error - append one "FILE:LINE: message" to err, a line of its own */
static void add_error(char *err, size_t errlen, unsigned *nerr, const char *path, unsigned lineno,
                      const char *msg)
{
	size_t used = *nerr ? strlen(err) : 0;

	if (*nerr < CONFIG_ERRORS_MAX && used < errlen)
		snprintf(err + used, errlen - used, "%s%s:%u: %s", *nerr ? "\n" : "", path, lineno,
		         msg);
	(*nerr)++;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0, nerr = 0;
	int r = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char msg[400];
		char *p, *eq, *key, *value;

		lineno++;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			add_error(err, errlen, &nerr, path, lineno, "NUL byte in line");
			continue;
		}
		p = util_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		eq = strchr(p, '=');
		if (eq == NULL) {
			add_error(err, errlen, &nerr, path, lineno, "expected 'key = value'");
			continue;
		}
		*eq = '\0';
		key = util_trim(p);
		value = strip_value(eq + 1);
		if (*key == '\0') {
			add_error(err, errlen, &nerr, path, lineno,
			          "expected 'key = value': no setting name before '='");
			continue;
		}
		if (config_set(cfg, key, value, msg, sizeof(msg)) < 0) {
			add_error(err, errlen, &nerr, path, lineno, msg);
			continue;
		}
		note_origin(cfg, key, lineno);
	}
	free(line);
	if (nerr > CONFIG_ERRORS_MAX) {
		size_t used = strlen(err);
		if (used < errlen)
			snprintf(err + used, errlen - used, "\n%s: %u more error(s) not shown",
			         path, nerr - CONFIG_ERRORS_MAX);
	}
	if (nerr)
		r = -1;
	if (cfg->origin) {
		free(cfg->origin->file);
		cfg->origin->file = xstrdup(path);
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		r = -1;
	}
	fclose(f);
	return r;
}

int config_each_item(const char *list, config_item_fn fn, void *arg)
{
	char *copy = xstrdup(list ? list : "");
	char *save = NULL;
	int r = 0;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *item = util_trim(tok);
		if (*item == '\0')
			continue;
		if ((r = fn(item, arg)) != 0)
			break;
	}
	free(copy);
	return r;
}

struct warn_acc {
	int64_t *out;
	int max;
	int n;
};

static int add_warning(const char *item, void *arg)
{
	struct warn_acc *acc = arg;
	int64_t ms;

	if (util_parse_duration(item, &ms) < 0 || acc->n >= acc->max)
		return -1;
	if (acc->n > 0 && ms <= acc->out[acc->n - 1])
		return -1;
	acc->out[acc->n++] = ms;
	return 0;
}

int config_delay_warnings(const struct config *cfg, int64_t *out, int max)
{
	struct warn_acc acc = {out, max, 0};

	if (config_each_item(cfg->delay_warning, add_warning, &acc) != 0)
		return -1;
	return acc.n;
}

/* ---- signed return paths (issue 6) ---- */
/* same_domain - is want among the blank-separated names of item (the
 * listener's relay rules also split on blanks)? ASCII case ignored, one
 * trailing dot ignored */
static int same_domain(const char *item, void *arg)
{
	const char *want = arg;
	size_t b = strlen(want);

	if (b > 1 && want[b - 1] == '.')
		b--;
	while (*item != '\0') {
		size_t a = strcspn(item, " \t");
		size_t n = a;
		if (n > 1 && item[n - 1] == '.')
			n--;
		if (n == b && strncasecmp(item, want, n) == 0)
			return 1;
		item += a;
		item += strspn(item, " \t");
	}
	return 0;
}

/* check_signing - return_path_signing needs a bounce domain this server
 * takes mail for (local_domains), or bounces would have nowhere to go */
static int check_signing(const struct config *cfg, char *err, size_t errlen)
{
	if (!cfg->return_path_signing)
		return 0;
	if (cfg->bounce_domain[0] == '\0') {
		snprintf(err, errlen, "return_path_signing = on needs bounce_domain");
		return -1;
	}
	if (config_each_item(cfg->local_domains, same_domain, cfg->bounce_domain) == 0) {
		snprintf(err, errlen, "bounce_domain %s must also be listed in local_domains",
		         cfg->bounce_domain);
		return -1;
	}
	if (cfg->signing_key_file[0] == '\0') {
		snprintf(err, errlen, "return_path_signing = on needs signing_key_file");
		return -1;
	}
	return 0;
}

/* check_port - a decimal TCP port 1..65535 (0 allowed when zero_ok: "any
 * free port", used by tests) */
static bool check_port(const char *p, bool zero_ok)
{
	unsigned long v;
	char *end;

	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoul(p, &end, 10);
	return errno == 0 && *end == '\0' && v <= 65535 && (v > 0 || zero_ok);
}

/* check_hostport - "host:port" or "[v6]:port"; the host part must be an
 * IP address when numeric_host (resolvers) */
static int check_hostport(const char *item, bool numeric_host, bool port_optional)
{
	char host[300];
	const char *port = NULL;
	unsigned char addr[16];

	if (item[0] == '[') {
		const char *close = strchr(item, ']');
		if (close == NULL || (size_t)(close - item - 1) >= sizeof(host))
			return -1;
		memcpy(host, item + 1, (size_t)(close - item - 1));
		host[close - item - 1] = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
		if (inet_pton(AF_INET6, host, addr) != 1)
			return -1;
	} else {
		const char *colon = strrchr(item, ':');
		size_t n = colon ? (size_t)(colon - item) : strlen(item);
		if (n == 0 || n >= sizeof(host) || (colon && strchr(item, ':') != colon))
			return -1;
		memcpy(host, item, n);
		host[n] = '\0';
		port = colon ? colon + 1 : NULL;
		if (numeric_host && inet_pton(AF_INET, host, addr) != 1)
			return -1;
		if (!numeric_host && strspn(host, "abcdefghijklmnopqrstuvwxyz"
		                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") != n)
			return -1;
	}
	if (port == NULL)
		return port_optional ? 0 : -1;
	return check_port(port, !numeric_host) ? 0 : -1;
}

static int check_listen_item(const char *item, void *arg)
{
	(void)arg;
	return check_hostport(item, false, false);
}

static int check_resolver_item(const char *item, void *arg)
{
	(void)arg;
	return check_hostport(item, true, true);
}

/* config_hostname_valid - RFC 1035 section 2.3.1 letters, digits and
 * hyphens in labels of 1..63, at most 253 in all */
static bool config_hostname_valid(const char *h)
{
	size_t n = strlen(h), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || (c == '-' && label > 0);
		if (!ok || ++label > 63)
			return false;
	}
	return label > 0 && h[n - 1] != '-';
}

int config_check(const struct config *cfg, char *err, size_t errlen)
{
	int64_t warnings[16];

	if (!config_hostname_valid(cfg->myhostname)) {
		snprintf(err, errlen, "myhostname: '%s' is not a valid host name", cfg->myhostname);
		return -1;
	}
	if (config_each_item(cfg->listen, check_listen_item, NULL) != 0 || cfg->listen[0] == '\0') {
		snprintf(err, errlen,
		         "listen: expected host:port items (port 1-65535, [v6]:port for IPv6), "
		         "got '%s'",
		         cfg->listen);
		return -1;
	}
	if (config_each_item(cfg->dns_servers, check_resolver_item, NULL) != 0) {
		snprintf(err, errlen, "dns_servers: expected ip[:port] items, got '%s'",
		         cfg->dns_servers);
		return -1;
	}

	if (cfg->min_backoff_ms > cfg->max_backoff_ms) {
		char where[600];
		/* name the one the user wrote, so the message points at its line */
		if (strcmp(config_where(cfg, "min_backoff", where, sizeof(where)), "default") == 0)
			snprintf(err, errlen, "max_backoff: must not be below min_backoff");
		else
			snprintf(err, errlen, "min_backoff: must not exceed max_backoff");
		return -1;
	}
	if (config_delay_warnings(cfg, warnings, 16) < 0) {
		snprintf(
		    err, errlen,
		    "delay_warning: expected ascending durations like '4h' or '4h,24h', got '%s'",
		    cfg->delay_warning);
		return -1;
	}
	if (strcmp(cfg->bare_line_ending, "reject") != 0 &&
	    strcmp(cfg->bare_line_ending, "normalize") != 0) {
		snprintf(err, errlen, "bare_line_ending: expected reject or normalize, got '%s'",
		         cfg->bare_line_ending);
		return -1;
	}
	if (cfg->submission_listen[0] != '\0') {
		snprintf(err, errlen,
		         "submission_listen: AUTH is not available yet; leave it empty");
		return -1;
	}
	if (strncmp(cfg->state_db, "sqlite:", 7) != 0 &&
	    strncmp(cfg->state_db, "postgresql://", 13) != 0 &&
	    strncmp(cfg->state_db, "postgres://", 11) != 0) {
		snprintf(err, errlen,
		         "state_db: expected sqlite:PATH or postgresql://..., got '%s'",
		         cfg->state_db);
		return -1;
	}
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	bool level_ok = false;
	for (size_t i = 0; i < 4; i++)
		level_ok |= strcmp(cfg->log_level, levels[i]) == 0;
	if (!level_ok) {
		snprintf(err, errlen, "log_level: expected debug, info, warn or error, got '%s'",
		         cfg->log_level);
		return -1;
	}
	if (check_signing(cfg, err, errlen) < 0)
		return -1;
	return 0;
}

void config_print(const struct config *cfg, void *stream)
{
	FILE *f = stream;

	for (const struct setting *s = config_settings; s->name; s++) {
		const char *field = (const char *)cfg + s->offset;
		switch (s->type) {
		case SET_STR: fprintf(f, "%s = %s\n", s->name, *(char *const *)field); break;
		case SET_BOOL:
			fprintf(f, "%s = %s\n", s->name, *(const bool *)field ? "on" : "off");
			break;
		case SET_UINT:
		case SET_SIZE:
			fprintf(f, "%s = %llu\n", s->name,
			        (unsigned long long)*(const uint64_t *)field);
			break;
		case SET_DURATION:
			fprintf(f, "%s = %lldms\n", s->name, (long long)*(const int64_t *)field);
			break;
		}
	}
}

void config_help(void *stream)
{
	FILE *f = stream;

	for (const struct setting *s = config_settings; s->name; s++) {
		/* A help text that explains its own default says it once. */
		if (strstr(s->help, "(default:"))
			fprintf(f, "  %-24s %s\n", s->name, s->help);
		else
			fprintf(f, "  %-24s %s (default: %s)\n", s->name, s->help,
			        s->def[0] ? s->def : "none");
	}
}
