/*
 * send.c - `mailerd send` (also run as `sendmail`): read one message from
 * stdin and put it in the same queue as SMTP mail, then tell the daemon
 * to pick it up.
 *
 * The message is converted to the spool's wire form on the way in (LF or
 * CRLF line ends become CRLF, lines starting with '.' are dot-stuffed, RFC
 * 5321 section 4.5.2; a line over 998 octets is refused with 65, as the
 * SMTP server refuses it), and gets Received:, and when missing From:, Date:
 * and Message-ID: (RFC 5322 section 3.6 requires the first two; the last
 * is what bounces are matched by). The commit is synchronous and durable
 * before we exit 0, like the 250 of the SMTP server.
 *
 * Exit codes follow sysexits.h as sendmail's do: 64 usage, 65 bad data,
 * 73 cannot create spool file, 75 temporary failure.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "smtp/smtp.h"
#include "spool/spool.h"
#include "util/mailog.h"
#include "util/util.h"

enum { EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_CANTCREAT_ = 73, EX_TEMPFAIL_ = 75 };

struct send_opts {
	const char *sender;
	bool from_headers;  /* -t */
	bool ignore_dots;   /* -i / -oi */
	const char *notify; /* -N */
	const char *ret;    /* -R */
	const char *envid;  /* -V */
};

static int send_flag(char flag, const char *value, void *arg)
{
	struct send_opts *o = arg;

	switch (flag) {
	case 'f': o->sender = value; return 0;
	case 't': o->from_headers = true; return 0;
	case 'i': o->ignore_dots = true; return 0;
	case 'N': o->notify = value; return 0;
	case 'R': o->ret = value; return 0;
	case 'V': o->envid = value; return 0;
	case 'F': return 0; /* full name: we do not rewrite From: */
	case 'o':
		if (strcmp(value, "i") == 0)
			o->ignore_dots = true;
		return 0; /* other legacy sendmail -oX options are ignored */
	}
	return -1;
}

/* parse_notify - "never" or a comma list of success,failure,delay */
static int parse_notify(const char *s, unsigned *out)
{
	char *copy = xstrdup(s), *save = NULL;
	unsigned bits = 0;
	int rc = 0;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		t = util_trim(t);
		if (strcasecmp(t, "never") == 0)
			bits |= DSN_NOTIFY_NEVER;
		else if (strcasecmp(t, "success") == 0)
			bits |= DSN_NOTIFY_SUCCESS;
		else if (strcasecmp(t, "failure") == 0)
			bits |= DSN_NOTIFY_FAILURE;
		else if (strcasecmp(t, "delay") == 0)
			bits |= DSN_NOTIFY_DELAY;
		else
			rc = -1;
	}
	free(copy);
	/* RFC 3461 section 4.1: NEVER excludes the others */
	if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER)
		rc = -1;
	*out = bits;
	return bits ? rc : -1;
}

/* qualify - validate an address given on the command line or in a header;
 * a bare local part gets @myhostname, as sendmail does */
static int qualify(const char *in, const char *myhostname, char *out, size_t size)
{
	struct smtp_path path;
	struct smtp_error err;
	const char *end;
	char wrapped[SMTP_PATH_MAX + 8];
	char *full;

	full = strchr(in, '@') ? xstrdup(in) : xasprintf("%s@%s", in, myhostname);
	snprintf(wrapped, sizeof(wrapped), "<%s>", full);
	free(full);
	if (smtp_parse_path(wrapped, strlen(wrapped), false, &path, &end, &err) < 0)
		return -1;
	util_strlcpy(out, path.addr, size);
	return 0;
}

/* header_addresses - the addresses of one To/Cc/Bcc field value, for -t:
 * "Name <a@b>, c@d" -> a@b, c@d (groups and comments are rare in
 * locally submitted mail; an unparsable item is reported) */
static int header_addresses(const char *value, struct spool_msg *m, const char *myhostname)
{
	char *copy = xstrdup(value), *save = NULL;
	int rc = 0;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *lt = strchr(t, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		char addr[SPOOL_PATH_MAX];
		if (lt && gt) {
			*gt = '\0';
			t = lt + 1;
		}
		t = util_trim(t);
		if (*t == '\0')
			continue;
		if (qualify(t, myhostname, addr, sizeof(addr)) < 0) {
			fprintf(stderr, "send: bad address in header: %s\n", t);
			rc = -1;
			continue;
		}
		if (m->n_rcpt < SPOOL_MAX_RCPT)
			spool_msg_add_rcpt(m, addr);
	}
	free(copy);
	return rc;
}

/* read_message - stdin as lines; fills headers (raw, LF ends) and body
 * (wire form). Without -i a line "." alone ends the input. */
struct input {
	struct buf header; /* header section, unfolded lines kept as read */
	struct buf body;   /* wire form after the blank line */
	bool has_from, has_date, has_msgid;
	uint64_t size;
};

static void wire_line(struct buf *out, const char *line, size_t len)
{
	if (len > 0 && line[0] == '.')
		buf_putc(out, '.');
	buf_append(out, line, len);
	buf_append(out, "\r\n", 2);
}

static int read_message(const struct send_opts *o, const struct config *cfg, struct spool_msg *m,
                        struct input *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool in_header = true;
	bool in_bcc = false;
	size_t lineno = 0;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (memchr(line, '\0', len) != NULL) {
			fprintf(stderr, "send: the message contains a NUL byte\n");
			rc = EX_DATAERR_;
			break;
		}
		if (!o->ignore_dots && len == 1 && line[0] == '.')
			break;
		/* RFC 5322 section 2.1.1: at most 998 characters per line; the
		 * SMTP server refuses longer ones too (RFC 5321 4.5.3.1.6), and
		 * splitting would change the message, so it is refused whole */
		if (len > SMTP_TEXT_LINE_MAX) {
			fprintf(stderr,
			        "send: line %zu of the message is %zu octets long; the limit is %d "
			        "(RFC 5322 section 2.1.1)\n",
			        lineno + 1, len, SMTP_TEXT_LINE_MAX);
			rc = EX_DATAERR_;
			break;
		}
		lineno++;
		in->size += len + 2;
		if (in->size > cfg->max_message_size) {
			fprintf(stderr, "send: message larger than max_message_size (%llu bytes)\n",
			        (unsigned long long)cfg->max_message_size);
			rc = EX_DATAERR_;
			break;
		}
		if (in_header && len == 0) {
			in_header = false;
			continue;
		}
		if (!in_header) {
			wire_line(&in->body, line, len);
			continue;
		}
		line[len] = '\0';
		bool continuation = line[0] == ' ' || line[0] == '\t';
		if (!continuation) {
			in_bcc = util_strcaseprefix(line, "bcc:");
			in->has_from |= util_strcaseprefix(line, "from:");
			in->has_date |= util_strcaseprefix(line, "date:");
			in->has_msgid |= util_strcaseprefix(line, "message-id:");
			if (o->from_headers &&
			    (util_strcaseprefix(line, "to:") || util_strcaseprefix(line, "cc:") ||
			     in_bcc) &&
			    header_addresses(strchr(line, ':') + 1, m, cfg->myhostname) < 0)
				rc = EX_DATAERR_;
		} else if (o->from_headers && in_bcc) {
			header_addresses(line, m, cfg->myhostname);
		}
		/* -t: Bcc: is how the sender hides recipients; it must not travel. */
		if (in_bcc)
			continue;
		wire_line(&in->header, line, len);
	}
	free(line);
	if (ferror(stdin)) {
		fprintf(stderr, "send: read error on stdin: %s\n", strerror(errno));
		rc = EX_TEMPFAIL_;
	}
	return rc;
}

static const char *login_name(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *env = getenv("USER");

	if (pw && pw->pw_name)
		return pw->pw_name;
	return env && *env ? env : "root";
}

/* printable - RFC 3461 section 4.4: an ENVID is printable US-ASCII
 * (%d32-126) before xtext encoding, and so are the NOTIFY and RET words.
 * A sender address may be UTF-8 (RFC 6531) but never holds a control
 * byte: it could not travel in MAIL FROM. Trimming would hide such a
 * byte, so values are checked as given. */
static bool printable(const char *s, bool utf8)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 32 || c == 127 || (c > 127 && !utf8))
			return false;
	}
	return true;
}

/* build_envelope - sender, DSN options and command-line recipients */
static int build_envelope(const struct send_opts *o, const struct config *cfg, int argc,
                          char **argv, int first, struct spool_msg *m)
{
	unsigned notify = 0;
	const struct {
		char flag;
		const char *value;
	} given[] = {{'f', o->sender}, {'N', o->notify}, {'R', o->ret}, {'V', o->envid}};

	for (size_t i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
		bool utf8 = given[i].flag == 'f';
		if (given[i].value != NULL && !printable(given[i].value, utf8)) {
			fprintf(stderr, "send: the -%c value contains a %s; refused\n",
			        given[i].flag,
			        utf8 ? "control character"
			             : "control character or non-ASCII byte (RFC 3461 section 4 "
			               "allows printable US-ASCII only)");
			return EX_USAGE_;
		}
	}

	if (o->sender && (strcmp(o->sender, "<>") == 0 || o->sender[0] == '\0')) {
		m->sender[0] = '\0';
	} else if (qualify(o->sender ? o->sender : login_name(), cfg->myhostname, m->sender,
	                   sizeof(m->sender)) < 0) {
		fprintf(stderr, "send: bad sender address '%s'\n", o->sender);
		return EX_USAGE_;
	}
	if (o->notify && parse_notify(o->notify, &notify) < 0) {
		fprintf(stderr, "send: -N expects never or a list of success,failure,delay\n");
		return EX_USAGE_;
	}
	if (o->ret) {
		if (strcasecmp(o->ret, "full") == 0)
			m->ret = DSN_RET_FULL;
		else if (strcasecmp(o->ret, "hdrs") == 0)
			m->ret = DSN_RET_HDRS;
		else {
			fprintf(stderr, "send: -R expects full or hdrs\n");
			return EX_USAGE_;
		}
	}
	if (o->envid && smtp_xtext_encode(o->envid, m->envid, sizeof(m->envid)) < 0) {
		fprintf(stderr, "send: -V envid is too long (RFC 3461: 100 characters)\n");
		return EX_USAGE_;
	}
	for (int i = first; i < argc; i++) {
		char addr[SPOOL_PATH_MAX];
		if (qualify(argv[i], cfg->myhostname, addr, sizeof(addr)) < 0) {
			fprintf(stderr, "send: bad recipient address '%s'\n", argv[i]);
			return EX_USAGE_;
		}
		if (m->n_rcpt >= SPOOL_MAX_RCPT) {
			fprintf(stderr, "send: more than %d recipients\n", SPOOL_MAX_RCPT);
			return EX_USAGE_;
		}
		spool_msg_add_rcpt(m, addr)->notify = notify;
	}
	return 0;
}

/* write_message - Received: and missing headers, then the input, into w */
static int write_message(struct spool_writer *w, const struct config *cfg,
                         const struct spool_msg *m, const struct input *in)
{
	const char *qid = spool_writer_id(w);
	struct buf head = {0};
	char date[64];
	int rc;

	util_rfc5322_date(util_now_ms(), date, sizeof(date));
	buf_printf(&head, "Received: by %s (mailerd, from userid %u)\r\n\tid %s; %s\r\n",
	           cfg->myhostname, (unsigned)getuid(), qid, date);
	buf_append(&head, in->header.data ? in->header.data : "", in->header.len);
	if (!in->has_from)
		buf_printf(&head, "From: %s\r\n", m->sender[0] ? m->sender : "MAILER-DAEMON");
	if (!in->has_date)
		buf_printf(&head, "Date: %s\r\n", date);
	if (!in->has_msgid)
		buf_printf(&head, "Message-ID: <%s.%lld@%s>\r\n", qid, (long long)util_now_ms(),
		           cfg->myhostname);
	buf_append(&head, "\r\n", 2);
	rc = spool_writer_write(w, head.data, head.len);
	if (rc == 0 && in->body.len > 0)
		rc = spool_writer_write(w, in->body.data, in->body.len);
	buf_free(&head);
	return rc;
}

int cli_send(int argc, char **argv)
{
	struct send_opts o = {0};
	struct input in = {0};
	struct spool_msg *m = spool_msg_new();
	struct spool *sp = NULL;
	struct spool_writer *w = NULL;
	struct config *cfg;
	char err[600], client[64], *reply = NULL;
	int first, rc;

	cfg = cli_load_config(argc, argv, "fNRVF", "ti", send_flag, &o, &first);
	if (cfg == NULL) {
		spool_msg_free(m);
		return EX_USAGE_;
	}
	if ((rc = build_envelope(&o, cfg, argc, argv, first, m)) != 0)
		goto out;
	if ((rc = read_message(&o, cfg, m, &in)) != 0)
		goto out;
	if (m->n_rcpt == 0) {
		if (o.from_headers)
			fprintf(stderr, "send: no recipients: -t found no To:, Cc: or Bcc: header "
			                "and none were given as arguments\n");
		else
			fprintf(stderr,
			        "send: no recipients (give them as arguments, or use -t)\n");
		rc = EX_USAGE_;
		goto out;
	}
	if (util_mkdir_p(cfg->spool_dir, 0750) < 0 ||
	    (sp = spool_open(cfg->spool_dir, NULL, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "send: spool_dir %s: %s\n", cfg->spool_dir,
		        sp == NULL && err[0] ? err : strerror(errno));
		rc = EX_CANTCREAT_;
		goto out;
	}
	w = spool_writer_new(sp);
	if (w == NULL) {
		fprintf(stderr, "send: cannot create a queue file: %s\n", strerror(errno));
		rc = EX_CANTCREAT_;
		goto out;
	}
	m->origin = SPOOL_ORIGIN_LOCAL;
	m->arrival_ms = util_now_ms();
	snprintf(client, sizeof(client), "local (uid %u)", (unsigned)getuid());
	util_strlcpy(m->client, client, sizeof(m->client));
	/* suppressed recipients fail at once; the daemon reports them */
	cli_suppress_mark(cfg, m);
	if (write_message(w, cfg, m, &in) < 0) {
		fprintf(stderr, "send: cannot write the queue file: %s\n", strerror(errno));
		spool_writer_abort(w);
		rc = EX_TEMPFAIL_;
		goto out;
	}
	/* The commit takes the writer whatever happens. */
	if (spool_writer_commit_sync(w, m) < 0) {
		fprintf(stderr, "send: cannot queue the message: %s\n", strerror(errno));
		rc = EX_TEMPFAIL_;
		goto out;
	}
	/* sendmail is silent on success: the event goes to the event log only. */
	log_set_level(LOG_WARN);
	if (mailog_open(cfg->event_log, err, sizeof(err)) == 0)
		mailog_received(m->id, m->sender, m->body_len, m->n_rcpt, m->client, "local");
	cli_suppress_log(m, client);
	mailog_close();
	/* Tell a running daemon; without one, the next start finds it. */
	char request[64];
	snprintf(request, sizeof(request), "pickup %s", m->id);
	if (cli_control(cfg, request, &reply) != 0)
		log_debug("%s: no daemon answered; it will be picked up at the next start", m->id);
	free(reply);
	rc = 0;
out:
	buf_free(&in.header);
	buf_free(&in.body);
	spool_msg_free(m);
	spool_free(sp);
	config_free(cfg);
	return rc;
}
