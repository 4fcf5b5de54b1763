/*
 * failpoint.c - named points where a crash test kills the process, so
 * the crash-consistency suite does not depend on timing. The test sets
 * MAILERD_FAILPOINT=name; in normal runs the variable is unset and a
 * failpoint costs one getenv.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool_int.h"

/* Failpoints, for crash tests that must not depend on timing:
 *   spool-commit-before-rename  envelope written, file still in tmp/
 *   spool-commit-before-sync    in queue/, not yet synced, no reply sent
 *   spool-commit-after-sync     durable, callback (the 250) not yet run
 *   spool-update-torn           half of a state append written */
void spool_failpoint(const char *name)
{
	const char *fp = getenv("MAILERD_FAILPOINT");

	if (fp != NULL && strcmp(fp, name) == 0) {
		log_warn("spool: failpoint %s: killing the process", name);
		raise(SIGKILL);
	}
}
