/*
 * control.c - the client side of the daemon's control socket
 * (<spool_dir>/control; protocol in src/sched/control.c): one request
 * line out, reply lines back, a final "OK" or "ERR text".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "util/util.h"

/* A daemon that does not answer within this time is treated as absent. */
#define CONTROL_TIMEOUT_MS 10000
/* Replies are bounded: a full queue listing of 1M messages is ~200 MB;
 * beyond that the caller should read the spool directly. */
#define CONTROL_REPLY_MAX (256u << 20)

void cli_control_path(const struct config *cfg, char *out, unsigned long size)
{
	snprintf(out, size, "%s/control", cfg->spool_dir);
}

int cli_control(const struct config *cfg, const char *request, char **reply)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct buf in = {0};
	char path[4096];
	int fd, saved;

	*reply = NULL;
	cli_control_path(cfg, path, sizeof(path));
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	util_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto fail;
	if (util_write_all(fd, request, strlen(request)) < 0 || util_write_all(fd, "\n", 1) < 0)
		goto fail;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char chunk[8192];
		ssize_t n;
		int pr = poll(&pfd, 1, CONTROL_TIMEOUT_MS);

		if (pr == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		if (in.len + (size_t)n > CONTROL_REPLY_MAX) {
			errno = EMSGSIZE;
			goto fail;
		}
		buf_append(&in, chunk, (size_t)n);
	}
	close(fd);
	/* The last line is the verdict; everything before it is the reply. */
	while (in.len > 0 && in.data[in.len - 1] == '\n')
		in.data[--in.len] = '\0';
	char *last = in.data ? strrchr(in.data, '\n') : NULL;
	char *verdict = last ? last + 1 : (in.data ? in.data : "");
	int rc;
	if (strcmp(verdict, "OK") == 0) {
		rc = 0;
		if (last)
			last[1] = '\0';
		else
			verdict[0] = '\0';
		*reply = buf_steal(&in);
	} else if (strncmp(verdict, "ERR", 3) == 0) {
		rc = 1;
		*reply = xstrdup(verdict[3] == ' ' ? verdict + 4 : verdict + 3);
		buf_free(&in);
	} else {
		buf_free(&in);
		errno = EPROTO;
		return -1;
	}
	return rc;
fail:
	saved = errno;
	close(fd);
	buf_free(&in);
	errno = saved;
	return -1;
}
