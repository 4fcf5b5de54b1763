/*
 * msg.c - a message as the spool holds it in memory (struct spool_msg):
 * its recipients and whether all of them are final. Below everything
 * else in the spool: the file format reads into it, the store writes
 * from it.
 *
 * The recipient count is bounded (SPOOL_MAX_RCPT): adding more fails
 * with E2BIG rather than growing without end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool_int.h"

struct spool_msg *spool_msg_new(void)
{
	return xcalloc(1, sizeof(struct spool_msg));
}

void spool_msg_free(struct spool_msg *m)
{
	if (m == NULL)
		return;
	free(m->rcpt);
	free(m);
}

/* spool_msg_add_rcpt - NULL with E2BIG beyond SPOOL_MAX_RCPT, which is
 * also the most a spool file may hold */
struct spool_rcpt *spool_msg_add_rcpt(struct spool_msg *m, const char *addr)
{
	struct spool_rcpt *r;

	if (m->n_rcpt >= SPOOL_MAX_RCPT) {
		errno = E2BIG;
		return NULL;
	}
	m->rcpt = xrealloc(m->rcpt, (m->n_rcpt + 1) * sizeof(*m->rcpt));
	r = &m->rcpt[m->n_rcpt++];
	memset(r, 0, sizeof(*r));
	util_strlcpy(r->addr, addr, sizeof(r->addr));
	r->state = RCPT_PENDING;
	return r;
}

/* spool_msg_is_final - also true with no recipients at all: such a file
 * has nothing left to do and the caller removes it */
bool spool_msg_is_final(const struct spool_msg *m)
{
	for (size_t i = 0; i < m->n_rcpt; i++)
		if (m->rcpt[i].state != RCPT_DELIVERED && m->rcpt[i].state != RCPT_FAILED)
			return false;
	return true;
}
