/*
 * fuzz_bounce_parse.c - libFuzzer target for the bounce parser: any bytes
 * must parse without a crash, a leak or undefined behaviour, and every
 * record must come out with a reason from the closed vocabulary and a
 * NUL-terminated recipient.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/bounce.h"

static int known_reason(const char *r)
{
	for (size_t i = 0; bounce_reasons[i]; i++)
		if (strcmp(bounce_reasons[i], r) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounce_result res = {0};

	bounce_parse((const char *)data, size, &res);
	for (size_t i = 0; i < res.n; i++) {
		if (!known_reason(res.recs[i].reason))
			abort();
		if (strnlen(res.recs[i].recipient, BOUNCE_ADDR_MAX) >= BOUNCE_ADDR_MAX)
			abort();
	}
	bounce_result_free(&res);
	return 0;
}
