/*
 * test_config_settings.c - the settings table and the config file parser:
 * defaults of the interface contract, value syntax, bounds, and errors that
 * name the file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static void test_contract_defaults(void **state)
{
	struct config *cfg = config_new();

	(void)state;
	assert_string_equal(cfg->listen, "127.0.0.1:2525");
	assert_string_equal(cfg->spool_dir, "./var/spool");
	assert_string_equal(cfg->state_db, "sqlite:./var/mailerd.db");
	assert_string_equal(cfg->relay_networks, "127.0.0.0/8, ::1/128");
	assert_string_equal(cfg->event_log, "./var/events.jsonl");
	assert_int_equal(cfg->smtp_port, 25);
	assert_int_equal(cfg->min_backoff_ms, 5 * 60 * 1000);
	assert_int_equal(cfg->max_backoff_ms, 60 * 60 * 1000);
	assert_int_equal(cfg->queue_lifetime_ms, 5LL * 86400 * 1000);
	assert_string_equal(cfg->delay_warning, "4h");
	assert_int_equal(cfg->max_message_size, 36700160);
	assert_int_equal(cfg->report_return_limit, 65536);
	assert_int_equal(cfg->max_recipients, 1000);
	assert_int_equal(cfg->destination_concurrency, 10);
	assert_false(cfg->return_path_signing);
	assert_string_equal(cfg->signing_key_file, "./var/signing.key");
	assert_true(cfg->myhostname[0] != '\0');
	config_free(cfg);
}

struct set_case {
	const char *name;
	const char *kv;
	int want_rc;
	const char *want_err; /* substring, when failing */
};

static void test_set_option_table(void **state)
{
	static const struct set_case cases[] = {
		{"duration seconds", "min_backoff=1s", 0, NULL},
		{"duration bare number is seconds", "queue_lifetime=8", 0, NULL},
		{"duration ms", "smtpd_timeout=250ms", 0, NULL},
		{"duration days", "queue_lifetime=5d", 0, NULL},
		{"duration garbage", "min_backoff=soon", -1, "expected a duration"},
		{"duration below minimum", "smtpd_timeout=1ms", -1, "out of range"},
		{"size with unit", "max_message_size=10m", 0, NULL},
		{"size garbage", "max_message_size=big", -1, "expected a size"},
		{"uint with unit refused", "smtp_port=25k", -1, "whole number"},
		{"port out of range", "smtp_port=70000", -1, "out of range"},
		{"bool on", "return_path_signing=on", 0, NULL},
		{"bool bad", "return_path_signing=maybe", -1, "on or off"},
		{"unknown key", "listn=1", -1, "unknown setting 'listn'"},
		{"no equals", "listen", -1, "key=value"},
		{"spaces trimmed", " smtp_port = 2626 ", 0, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = config_new();
		char err[400] = "";
		int rc = config_set_option(cfg, cases[i].kv, err, sizeof(err));
		if (rc != cases[i].want_rc)
			fail_msg("%s: got rc %d, want %d (err '%s')", cases[i].name, rc,
				 cases[i].want_rc, err);
		if (cases[i].want_err && strstr(err, cases[i].want_err) == NULL)
			fail_msg("%s: got error '%s', want it to contain '%s'", cases[i].name, err,
				 cases[i].want_err);
		config_free(cfg);
	}
}

static void test_values_land_in_fields(void **state)
{
	struct config *cfg = config_new();
	char err[400];

	(void)state;
	assert_int_equal(config_set_option(cfg, "min_backoff=1500ms", err, sizeof(err)), 0);
	assert_int_equal(cfg->min_backoff_ms, 1500);
	assert_int_equal(config_set_option(cfg, "max_message_size=64k", err, sizeof(err)), 0);
	assert_int_equal(cfg->max_message_size, 65536);
	assert_int_equal(config_set_option(cfg, "smtp_port = 2626", err, sizeof(err)), 0);
	assert_int_equal(cfg->smtp_port, 2626);
	assert_int_equal(config_set_option(cfg, "listen=127.0.0.1:1, [::1]:2", err, sizeof(err)), 0);
	assert_string_equal(cfg->listen, "127.0.0.1:1, [::1]:2");
	config_free(cfg);
}

/* write_file - a config file in the test's temporary folder */
static char *write_file(const char *text)
{
	char *path = strdup("/tmp/mailerd-test-config-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_file_errors_name_line(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *want;
	} cases[] = {
		{"# comment\n\nlisten = 127.0.0.1:2525\nlistn = x\n", 4, "unknown setting 'listn'"},
		{"smtp_port = 25\nsmtp_port\n", 2, "expected 'key = value'"},
		{"min_backoff = 5 minutes\n", 1, "expected a duration"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = config_new();
		char err[600], want_prefix[300];
		char *path = write_file(cases[i].text);
		assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), -1);
		snprintf(want_prefix, sizeof(want_prefix), "%s:%d: ", path, cases[i].line);
		if (strncmp(err, want_prefix, strlen(want_prefix)) != 0 || !strstr(err, cases[i].want))
			fail_msg("case %zu: got '%s', want '%s%s'", i, err, want_prefix, cases[i].want);
		unlink(path);
		free(path);
		config_free(cfg);
	}
}

/* every bad line of a file is reported, each with its line */
static void test_file_errors_all_lines(void **state)
{
	struct config *cfg = config_new();
	char err[2000], want[300];
	char *path = write_file("listn = x\n= y\nsmtp_port = 25\nsmtp_port\n");

	(void)state;
	assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
	         "%s:1: unknown setting 'listn'\n"
	         "%s:2: expected 'key = value': no setting name before '='\n"
	         "%s:4: expected 'key = value'",
	         path, path, path);
	assert_string_equal(err, want);
	unlink(path);
	free(path);
	config_free(cfg);
}

static void test_file_good(void **state)
{
	struct config *cfg = config_new();
	char err[600];
	char *path = write_file("# test\nqueue_lifetime = 8s\n  delay_warning = 2s, 4s  \n"
				"relay_networks = 10.0.0.0/8\n");

	(void)state;
	assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg->queue_lifetime_ms, 8000);
	assert_string_equal(cfg->relay_networks, "10.0.0.0/8");
	int64_t w[4];
	assert_int_equal(config_delay_warnings(cfg, w, 4), 2);
	assert_int_equal(w[0], 2000);
	assert_int_equal(w[1], 4000);
	assert_int_equal(config_check(cfg, err, sizeof(err)), 0);
	unlink(path);
	free(path);
	config_free(cfg);
}

static void test_values_quoted_and_commented(void **state)
{
	struct config *cfg = config_new();
	char err[600], where[600];
	char *path = write_file("myhostname = \"mail.example.org\"  # quoted\n"
	                        "\n"
	                        "queue_lifetime = 5d\t# five days\n"
	                        "listen = 127.0.0.1:2525, [::1]:2525\n"
	                        "dns_servers = 127.0.0.1:5353, [::1]:53\n");

	(void)state;
	assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg->myhostname, "mail.example.org");
	assert_int_equal(cfg->queue_lifetime_ms, 5LL * 86400000);
	assert_int_equal(config_check(cfg, err, sizeof(err)), 0);
	/* where each setting came from, for late error messages */
	char want[600];
	snprintf(want, sizeof(want), "%s:3", path);
	assert_string_equal(config_where(cfg, "queue_lifetime", where, sizeof(where)), want);
	assert_string_equal(config_where(cfg, "smtp_port", where, sizeof(where)), "default");
	assert_int_equal(config_set_option(cfg, "smtp_port=2626", err, sizeof(err)), 0);
	assert_string_equal(config_where(cfg, "smtp_port", where, sizeof(where)), "-o smtp_port");
	unlink(path);
	free(path);
	config_free(cfg);
}

static void test_check_cross_settings(void **state)
{
	static const struct {
		const char *kv;
		const char *want;
	} cases[] = {
		{"min_backoff=2h", "min_backoff: must not exceed max_backoff"},
		/* only max_backoff given: the message names the one written */
		{"max_backoff=1s", "max_backoff: must not be below min_backoff"},
		{"listen=127.0.0.1:99999", "listen: expected host:port"},
		{"listen=nonsense", "listen: expected host:port"},
		{"listen=127.0.0.1:-1", "listen: expected host:port"},
		{"dns_servers=nope", "dns_servers: expected ip[:port]"},
		{"dns_servers=127.0.0.1:70000", "dns_servers: expected ip[:port]"},
		{"myhostname=bad..host", "myhostname: 'bad..host' is not a valid host name"},
		{"myhostname=bad host", "myhostname"},
		{"delay_warning=4h,1h", "ascending"},
		{"bare_line_ending=fix", "reject or normalize"},
		{"state_db=mysql://x", "sqlite:PATH"},
		{"log_level=loud", "log_level"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg = config_new();
		char err[400] = "";
		assert_int_equal(config_set_option(cfg, cases[i].kv, err, sizeof(err)), 0);
		assert_int_equal(config_check(cfg, err, sizeof(err)), -1);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("%s: got '%s', want '%s'", cases[i].kv, err, cases[i].want);
		config_free(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_defaults),
		cmocka_unit_test(test_set_option_table),
		cmocka_unit_test(test_values_land_in_fields),
		cmocka_unit_test(test_file_errors_name_line),
		cmocka_unit_test(test_file_errors_all_lines),
		cmocka_unit_test(test_file_good),
		cmocka_unit_test(test_values_quoted_and_commented),
		cmocka_unit_test(test_check_cross_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
