/*
 * fuzz_bounce_parse.c - arbitrary bytes as a received bounce, through
 * bounce_parse: the MIME readers (the built-in fast reader and GMime),
 * the RFC 3464 delivery-status field parser, the ARF reader and the
 * MTA-family rules. The first byte picks the reader, so both see every
 * shape. Checks: no crash, leak or UB; every record carries a reason
 * from the closed vocabulary and NUL-terminated fields.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/bounce.h"
#include "util/util.h"

static bool known_reason(const char *r)
{
	if (r == NULL)
		return false;
	for (size_t i = 0; bounce_reasons[i] != NULL; i++)
		if (strcmp(bounce_reasons[i], r) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct bounce_result res = {0};

	if (!ready) {
		log_set_level(LOG_ERROR);
		bounce_init();
		ready = true;
	}
	if (size < 1)
		return 0;
	bounce_set_fast_mime((data[0] & 1) == 0);
	bounce_parse((const char *)data + 1, size - 1, &res);
	for (size_t i = 0; i < res.n; i++) {
		const struct bounce_record *r = &res.recs[i];
		if (!known_reason(r->reason) || memchr(r->recipient, '\0', sizeof(r->recipient)) == NULL ||
		    memchr(r->status, '\0', sizeof(r->status)) == NULL)
			abort();
	}
	bounce_result_free(&res);
	return 0;
}
