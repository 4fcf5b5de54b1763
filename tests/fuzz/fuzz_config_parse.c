/*
 * fuzz_config_parse.c - arbitrary bytes as a configuration file, through
 * the loader `mailerd serve` and `check-config` use (config_load_file:
 * line splitting, comments, `key = value`, every setting's value parser),
 * then the cross-setting checks, the delay_warning list, the list walker
 * and the printer. Besides "no crash, no leak, no UB", it checks that an
 * error message has the documented "FILE:LINE: message" shape and that a
 * file that loads prints settings that load again.
 *
 * The bytes reach config_load_file through a memory file (memfd) named by
 * its /proc/self/fd path, so the real loader runs without touching disk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "util/util.h"

static int memfd = -1;
static char memfd_path[64];

/* put - replace the memory file's content with data */
static int put(const void *data, size_t size)
{
	if (memfd < 0) {
		memfd = memfd_create("fuzz-config", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) < 0 || (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size))
		return -1;
	return 0;
}

static int count_item(const char *item, void *arg)
{
	if (item[0] == '\0')
		abort(); /* the walker skips empty items */
	(*(size_t *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;
	char err[512];
	int64_t warn[16];

	log_set_level(LOG_ERROR);
	if (put(data, size) < 0)
		return 0;
	cfg = config_new();
	err[0] = '\0';
	if (config_load_file(cfg, memfd_path, err, sizeof(err)) < 0) {
		/* "FILE:LINE: message", FILE being the path given */
		if (strncmp(err, memfd_path, strlen(memfd_path)) != 0 || err[strlen(memfd_path)] != ':')
			abort();
	} else {
		size_t n = 0;
		char *printed = NULL;
		size_t plen = 0;
		FILE *out;

		(void)config_check(cfg, err, sizeof(err));
		(void)config_delay_warnings(cfg, warn, 16);
		config_each_item(cfg->listen, count_item, &n);
		config_each_item(cfg->transport_map, count_item, &n);
		config_each_item(cfg->relay_networks, count_item, &n);
		/* what config_print writes is a config file that loads again */
		out = open_memstream(&printed, &plen);
		if (out == NULL)
			abort();
		config_print(cfg, out);
		fclose(out);
		if (put(printed, plen) == 0) {
			struct config *again = config_new();
			if (config_load_file(again, memfd_path, err, sizeof(err)) < 0) {
				fprintf(stderr, "printed config does not load again: %s\n", err);
				abort();
			}
			config_free(again);
		}
		free(printed);
	}
	config_free(cfg);
	return 0;
}
