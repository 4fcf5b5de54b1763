/*
 * settings.c - the table of every setting: name, type, default, bounds and
 * meaning. It is the single place a setting is declared; the parser, the
 * defaults, `--help` and docs/settings.md all come from here.
 *
 * Names and defaults of the first block are the interface contract of
 * design.md. Durations accept ms/s/m/h/d/w (a bare number is seconds);
 * sizes accept k/m/g.
 */
#include <stddef.h>

#include "config/settings.h"

#define STR(f) offsetof(struct config, f)

const struct setting config_settings[] = {
    /* identity, listeners, files */
    {"myhostname", SET_STR, STR(myhostname), "", 0, 0,
     "name in greetings, Received: lines and MAILER-DAEMON@ (default: the system host name)"},
    {"listen", SET_STR, STR(listen), "127.0.0.1:2525", 0, 0,
     "SMTP listeners, comma-separated host:port ([v6]:port for IPv6)"},
    {"submission_listen", SET_STR, STR(submission_listen), "", 0, 0,
     "listeners requiring AUTH after STARTTLS (not yet available; must stay empty)"},
    {"spool_dir", SET_STR, STR(spool_dir), "./var/spool", 0, 0, "queue directory"},
    {"state_db", SET_STR, STR(state_db), "sqlite:./var/mailerd.db", 0, 0,
     "event and suppression store: sqlite:PATH or a postgresql:// URL"},
    {"event_log", SET_STR, STR(event_log), "./var/events.jsonl", 0, 0,
     "JSON-lines event file (empty: none)"},
    {"relay_networks", SET_STR, STR(relay_networks), "127.0.0.0/8, ::1/128", 0, 0,
     "clients (CIDR list) allowed to relay to any domain"},
    {"local_domains", SET_STR, STR(local_domains), "", 0, 0,
     "domains whose mail is accepted from anyone (e.g. the bounce domain)"},

    /* acceptance */
    {"max_message_size", SET_SIZE, STR(max_message_size), "36700160", 1024, 1ULL << 32,
     "largest message accepted, bytes (announced by SIZE, RFC 1870)"},
    {"max_recipients", SET_UINT, STR(max_recipients), "1000", 1, 100000,
     "recipients per message; more get 452 4.5.3 (RFC 5321 4.5.3.1.8 asks for at least 100)"},
    {"smtpd_timeout", SET_DURATION, STR(smtpd_timeout_ms), "5m", 100, 86400000,
     "time to wait for an SMTP command (RFC 5321 4.5.3.2.7: at least 5 minutes)"},
    {"smtpd_data_timeout", SET_DURATION, STR(smtpd_data_timeout_ms), "5m", 100, 86400000,
     "time to wait for more DATA bytes"},
    {"bare_line_ending", SET_STR, STR(bare_line_ending), "reject", 0, 0,
     "bare LF or CR in DATA: reject (550 5.6.11) or normalize to CRLF"},

    /* delivery */
    {"dns_servers", SET_STR, STR(dns_servers), "", 0, 0,
     "resolvers ip:port, comma-separated (default: /etc/resolv.conf)"},
    {"dns_timeout", SET_DURATION, STR(dns_timeout_ms), "10s", 100, 600000,
     "time for one DNS query before it counts as a temporary failure"},
    {"smtp_port", SET_UINT, STR(smtp_port), "25", 1, 65535, "remote port used for delivery"},
    {"transport_map", SET_STR, STR(transport_map), "", 0, 0,
     "domain=[host]:port pairs, comma-separated ([host]: no MX lookup)"},
    {"smtp_connect_timeout", SET_DURATION, STR(smtp_connect_timeout_ms), "30s", 100, 3600000,
     "time to establish a TCP connection to a mail exchanger"},
    {"smtp_command_timeout", SET_DURATION, STR(smtp_command_timeout_ms), "5m", 100, 3600000,
     "time to wait for a reply to the greeting, EHLO, MAIL, RCPT, DATA (RFC 5321 4.5.3.2)"},
    {"smtp_data_timeout", SET_DURATION, STR(smtp_data_timeout_ms), "10m", 100, 3600000,
     "time to wait for the reply to the final dot (RFC 5321 4.5.3.2.6)"},
    {"connection_cache_time", SET_DURATION, STR(connection_cache_time_ms), "5s", 0, 600000,
     "how long an idle connection is kept for the next message to the same destination"},
    {"destination_concurrency", SET_UINT, STR(destination_concurrency), "10", 1, 1000,
     "parallel connections per destination"},

    /* retries */
    {"min_backoff", SET_DURATION, STR(min_backoff_ms), "5m", 100, 365LL * 86400000,
     "first retry delay; doubles per attempt"},
    {"max_backoff", SET_DURATION, STR(max_backoff_ms), "1h", 100, 365LL * 86400000,
     "longest retry delay"},
    {"greylist_retry", SET_DURATION, STR(greylist_retry_ms), "5m", 100, 86400000,
     "retry delay after a greylisting reply"},
    {"queue_lifetime", SET_DURATION, STR(queue_lifetime_ms), "5d", 100, 365LL * 86400000,
     "give up after this long (status 4.4.7 with the last diagnostic)"},
    {"delay_warning", SET_STR, STR(delay_warning), "4h", 0, 0,
     "delay warning times, comma-separated durations (empty: none)"},
    {"report_return_limit", SET_SIZE, STR(report_return_limit), "65536", 0, 1ULL << 32,
     "bytes of the original message returned in a report"},
    {"report_rate_limit", SET_UINT, STR(report_rate_limit), "10", 0, 1000000,
     "reports (bounces, delay warnings, success notices) per envelope sender address "
     "per hour; the rest are logged and not sent, so a flood cannot turn the server into "
     "a backscatter source (0: no limit)"},
    {"report_templates", SET_STR, STR(report_templates), "", 0, 0,
     "directory of operator texts that replace the built-in report wording "
     "(<reason>.txt, intro-<kind>.txt; empty: built-in texts)"},

    /* later parts of the data flow */
    {"return_path_signing", SET_BOOL, STR(return_path_signing), "off", 0, 0,
     "on: envelope sender bounces+TAG@bounce_domain"},
    {"bounce_domain", SET_STR, STR(bounce_domain), "", 0, 0,
     "domain of signed return paths (also list it in local_domains)"},
    {"signing_key_file", SET_STR, STR(signing_key_file), "./var/signing.key", 0, 0,
     "secret for the return path HMAC"},
    {"tls_cert_file", SET_STR, STR(tls_cert_file), "", 0, 0, "PEM certificate for STARTTLS"},
    {"tls_key_file", SET_STR, STR(tls_key_file), "", 0, 0, "PEM key for STARTTLS"},
    {"metrics_listen", SET_STR, STR(metrics_listen), "", 0, 0, "host:port of the metrics endpoint"},
    {"log_level", SET_STR, STR(log_level), "info", 0, 0, "debug, info, warn or error"},

    /* suppression: when an address stops being mailed (src/suppress) */
    {"suppress_hard_bounce", SET_BOOL, STR(suppress_hard_bounce), "on", 0, 0,
     "on: a hard bounce (no such user, no such domain) suppresses the address at once"},
    {"soft_bounce_limit", SET_UINT, STR(soft_bounce_limit), "5", 1, 100000,
     "soft bounces (mailbox full, system full, network error...) that suppress an address "
     "when they come within soft_bounce_window without a delivery in between"},
    {"soft_bounce_window", SET_DURATION, STR(soft_bounce_window_ms), "15d", 1000, 3650LL * 86400000,
     "window in which soft_bounce_limit soft bounces are counted"},
    {"suppress_complaints", SET_BOOL, STR(suppress_complaints), "on", 0, 0,
     "on: a complaint (ARF feedback report, RFC 5965) suppresses the address"},
    {"suppress_refresh", SET_DURATION, STR(suppress_refresh_ms), "2s", 100, 3600000,
     "how often the daemon reads suppressions written elsewhere (other nodes, the "
     "suppress command) into its in-memory set"},

    /* connection limits and privileges (docs/security.md) */
    {"max_connections", SET_UINT, STR(max_connections), "1000", 0, 1000000,
     "SMTP connections open at once; more get 421 4.7.0 and are closed (0: no limit)"},
    {"max_connections_per_ip", SET_UINT, STR(max_connections_per_ip), "50", 0, 1000000,
     "SMTP connections open at once from one client address; more get 421 4.7.0 "
     "(0: no limit)"},
    {"max_messages_per_ip_per_minute", SET_UINT, STR(max_messages_per_ip_per_minute), "0", 0,
     1000000,
     "MAIL commands one client address may give per minute (token bucket); more get "
     "450 4.7.1 (0: no limit)"},
    {"smtpd_data_deadline", SET_DURATION, STR(smtpd_data_deadline_ms), "1h", 1000, 86400000,
     "longest time for a whole DATA phase, so a client sending a byte now and then cannot "
     "hold a session forever (smtpd_timeout likewise bounds each command)"},
    {"run_user", SET_STR, STR(run_user), "", 0, 0,
     "when started as root: user to switch to after binding the listeners and opening "
     "the spool (empty: keep the starting user)"},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};
