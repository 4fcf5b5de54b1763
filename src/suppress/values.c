/*
 * values.c - the stores' values as text and back: both backends pass
 * every parameter and result as text (libpq's text format, SQLite's
 * bound text), so numbers cross as decimal strings. The one row callback
 * that reads a single number lives here too, below every user of it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "suppress/internal.h"

void i64_text(int64_t v, char *out, size_t size)
{
	snprintf(out, size, "%" PRId64, v);
}

int64_t text_i64(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

int sdb_row_i64(void *arg, int ncol, const char *const *vals)
{
	if (ncol > 0)
		*(int64_t *)arg = text_i64(vals[0]);
	return 0;
}
