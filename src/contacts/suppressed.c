/*
 * suppressed.c - the contact check's one door to the suppression store
 * (src/suppress): "is this address suppressed, since when, why".
 *
 * The store is opened read-mostly with the blocking API: a list check is
 * a command-line run, not the daemon's event loop, and a lookup is one
 * indexed query. An sqlite: store whose file does not exist is not
 * created: there is nothing to find in it, and checking a list must not
 * leave a database behind. Errors of the store end the run (-1): a
 * report that silently skipped the suppression list would call
 * suppressed addresses ok.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contacts/internal.h"
#include "suppress/suppress.h"
#include "util/util.h"

struct contacts_suppress {
	struct suppress_store *st;
};

int contacts_suppress_open(const char *url, struct contacts_suppress **out, char *note,
                           size_t notelen, char *err, size_t errlen)
{
	struct suppress_policy pol;
	struct suppress_store *st;

	*out = NULL;
	note[0] = '\0';
	if (url == NULL || *url == '\0') {
		snprintf(note, notelen, "no state_db set");
		return 0;
	}
	if (strncmp(url, "sqlite:", 7) == 0 && access(url + 7, F_OK) != 0) {
		snprintf(note, notelen, "%s does not exist yet: nobody is suppressed", url + 7);
		return 0;
	}
	suppress_policy_default(&pol);
	st = suppress_open(url, &pol, err, errlen);
	if (st == NULL)
		return -1;
	*out = xcalloc(1, sizeof(**out));
	(*out)->st = st;
	return 0;
}

void contacts_suppress_close(struct contacts_suppress *s)
{
	if (s == NULL)
		return;
	suppress_close(s->st);
	free(s);
}

int contacts_suppressed(struct contacts_suppress *s, const char *addr, struct contacts_result *r,
                        char *err, size_t errlen)
{
	struct suppress_entry e;
	int rc;

	char key[SUPPRESS_ADDR_MAX];

	/* What the store cannot hold as a key (a quoted local part with a
	 * space) can never have been suppressed. */
	if (s == NULL || suppress_normalize(addr, key, sizeof(key)) < 0)
		return 0;
	rc = suppress_lookup(s->st, addr, &e, err, errlen);
	if (rc <= 0)
		return rc;
	memset(r, 0, sizeof(*r));
	r->v = CONTACTS_SUPPRESSED;
	suppress_describe(&e, r->detail, sizeof(r->detail));
	return 1;
}
