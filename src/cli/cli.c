/*
 * cli.c - the command word dispatcher: which command runs, by the name the
 * binary was called by (sendmail, mailq) or by its first argument.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

int cli_main(int argc, char **argv)
{
	char *prog = xstrdup(argv[0] ? argv[0] : "mailerd");
	const char *name = basename(prog);
	int r;

	if (strcmp(name, "sendmail") == 0) {
		free(prog);
		log_set_program("sendmail");
		return cli_send(argc, argv);
	}
	if (strcmp(name, "mailq") == 0) {
		char *qargv[] = {argv[0], "list", NULL};
		free(prog);
		return cli_queue(2, qargv);
	}
	free(prog);
	if (argc < 2) {
		cli_usage(stderr);
		return 2;
	}
	/* "mailerd CMD --help" is the same help for every command */
	if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		cli_usage(stdout);
		return 0;
	}
	/* Each command sees argv starting at its own name, getopt-style. */
	if (strcmp(argv[1], "serve") == 0)
		r = cli_serve(argc - 1, argv + 1);
	else if (strcmp(argv[1], "send") == 0)
		r = cli_send(argc - 1, argv + 1);
	else if (strcmp(argv[1], "queue") == 0)
		r = cli_queue(argc - 1, argv + 1);
	else if (strcmp(argv[1], "check-config") == 0)
		r = cli_check_config(argc - 1, argv + 1);
	else if (strcmp(argv[1], "bounce") == 0)
		r = cli_bounce(argc - 1, argv + 1);
	else if (strcmp(argv[1], "suppress") == 0)
		r = cli_suppress(argc - 1, argv + 1);
	else if (strcmp(argv[1], "contacts") == 0)
		r = cli_contacts(argc - 1, argv + 1);
	else if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	         strcmp(argv[1], "-h") == 0) {
		cli_usage(stdout);
		r = 0;
	} else {
		/* the error alone: the whole help would scroll it away */
		fprintf(stderr, "mailerd: unknown command '%s' (`mailerd help` lists them)\n",
		        argv[1]);
		r = 2;
	}
	return r;
}
