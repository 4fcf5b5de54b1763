/*
 * cli.h - the face of src/cli: the commands of the one mailerd binary.
 * main() only calls cli_main(); every command is a function here so tests
 * and future front ends can call it without a process.
 */
#ifndef MAILERD_CLI_H
#define MAILERD_CLI_H

#include <stdio.h>

struct config;

/* cli_main - dispatch on argv[1] (or on the program name: `sendmail` is
 * `mailerd send`, `mailq` is `mailerd queue list`); returns the exit code */
int cli_main(int argc, char **argv);

int cli_serve(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_bounce(int argc, char **argv);
int cli_suppress(int argc, char **argv);
int cli_contacts(int argc, char **argv);

/* For `mailerd send` (cli/suppress.c): cli_suppress_mark fails every
 * pending recipient of m that is on the suppression list (550 5.1.1 with
 * when and why, so the sender gets the usual report) and returns how many;
 * cli_suppress_log writes their events once m has its queue id. */
struct spool_msg;
int cli_suppress_mark(const struct config *cfg, struct spool_msg *m);
void cli_suppress_log(const struct spool_msg *m, const char *client);

/* cli_usage - the usage text and the settings table, to f (options.c) */
void cli_usage(FILE *f);

/* Shared option handling (options.c): -c FILE and -o key=value, in any order, before
 * the command's own arguments. On success returns a loaded, checked
 * config and sets *optind_out to the first unused argument; on error
 * prints "FILE:LINE: message" to stderr and returns NULL. extra_flags
 * lists the command's own single-letter flags that take a value (e.g.
 * "fNRVF") and flags without value ("ti"); other_fn receives them. */
typedef int (*cli_flag_fn)(char flag, const char *value, void *arg);
struct config *cli_load_config(int argc, char **argv, const char *flags_with_value,
                               const char *flags_plain, cli_flag_fn other_fn, void *arg,
                               int *optind_out);

/* cli_control - send one request line to the daemon's control socket in
 * spool_dir and collect the reply lines (without the final OK/ERR line)
 * into *reply (malloc'd). Returns 0 on OK, 1 on ERR (message in *reply),
 * -1 when no daemon answers (errno set). */
int cli_control(const struct config *cfg, const char *request, char **reply);

/* cli_control_path - "<spool_dir>/control" into out */
void cli_control_path(const struct config *cfg, char *out, unsigned long size);

#endif
