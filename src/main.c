/*
 * main.c - parse the command word and dispatch; nothing else lives here
 * (every command is in src/cli/, so it can be tested without main()).
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
