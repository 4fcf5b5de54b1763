/*
 * settings.h - internal to src/config: the shape of one row of the
 * settings table (settings.c).
 */
#ifndef MAILERD_SETTINGS_H
#define MAILERD_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

enum setting_type { SET_STR, SET_BOOL, SET_UINT, SET_SIZE, SET_DURATION };

struct setting {
	const char *name;
	enum setting_type type;
	size_t offset;     /* field in struct config */
	const char *def;   /* default, as text (parsed like a config line) */
	uint64_t min, max; /* bounds for numbers (durations in ms) */
	const char *help;
};

extern const struct setting config_settings[];

#endif
