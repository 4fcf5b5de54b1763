/*
 * fuzz_contacts_parse.c - the contact list reader and the address checks
 * on untrusted bytes: the input is a CSV file; every field of every
 * record goes through the syntax and typo checks (no DNS).
 *
 * Invariants checked besides "no crash": a syntax error names a position
 * inside the field (1..length+1); an address found fine has its '@'
 * inside it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts/contacts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in = fmemopen((void *)data, size, "r");
	struct contacts_csv *csv;
	struct contacts_record rec;
	char err[256];
	int r;

	if (size == 0 || in == NULL) {
		if (in)
			fclose(in);
		return 0;
	}
	csv = contacts_csv_new(in);
	while ((r = contacts_csv_next(csv, &rec, err, sizeof(err))) != 0) {
		if (r < 0)
			continue;
		for (size_t i = 0; i < rec.n; i++) {
			const char *f = rec.field[i];
			size_t len = strlen(f);
			struct contacts_syntax syn;
			struct contacts_result res;
			char domain[256];

			if (contacts_syntax_check(f, len, &syn) < 0) {
				if (syn.pos < 1 || syn.pos > len + 1)
					abort();
			} else if (syn.at >= len || f[syn.at] != '@') {
				abort();
			}
			memset(&res, 0, sizeof(res));
			contacts_local_verdict(f, &res, domain, sizeof(domain));
		}
	}
	contacts_csv_free(csv);
	fclose(in);
	return 0;
}
