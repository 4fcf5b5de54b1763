/*
 * command.c - what the server does with each command line (RFC 5321
 * section 4.1.1 and the state table of section 4.3.2).
 *
 * Sequence: HELO/EHLO first (503 5.5.1 otherwise), then MAIL, one or more
 * RCPT, DATA. EHLO and RSET reset the transaction. Replies carry RFC 3463
 * enhanced codes (ENHANCEDSTATUSCODES, RFC 2034). Policy lives here:
 *   - relay decision (smtp_relay_check): 554 5.7.1 Relay access denied;
 *     from outside relay_networks, a local domain's recipients other than
 *     postmaster: 550 5.1.1 at RCPT time (no accept-then-bounce, so no
 *     backscatter to forged senders)
 *   - SIZE over max_message_size: 552 5.3.4 (RFC 1870 section 6.2)
 *   - non-ASCII addresses without SMTPUTF8: 553 5.6.7 (RFC 6531 3.6.1)
 *   - more than max_recipients: 452 4.5.3 (RFC 5321 section 4.5.3.1.10)
 *   - a suppressed recipient (the rcpt_check hook): 550 5.1.1 with when and why
 *   - the bounce domain (the local_rcpt hook, asked first, for any client):
 *     a bad or expired return path tag: 550 5.1.1
 *   - more MAIL commands than max_messages_per_ip_per_minute: 450 4.7.1
 * VRFY answers 252 (we cannot verify remote users), EXPN 502, and commands
 * of extensions we do not announce (STARTTLS, AUTH, BDAT) 502 5.5.1.
 */
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "smtp/command.h"
#include "smtp/internal.h"
#include "smtp/receive.h"

/* has_args - anything but white space after the verb */
static bool has_args(const char *args)
{
	return args[strspn(args, " \t")] != '\0';
}

static void cmd_ehlo(struct smtp_session *s, const char *args, bool esmtp)
{
	const struct smtp_server *srv = s->srv;
	size_t n;

	args += strspn(args, " ");
	n = strcspn(args, " \t");
	if (n == 0) {
		smtp_session_reply(s, 501, "5.5.4", "Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	/* the name is kept for the Received: field and the log only; RFC
	 * 5321 section 4.1.4 forbids refusing a session for a wrong one */
	if (n >= sizeof(s->helo))
		n = sizeof(s->helo) - 1;
	memcpy(s->helo, args, n);
	s->helo[n] = '\0';
	s->esmtp = esmtp;
	s->state = SESS_READY;
	smtp_session_reset_tx(s);
	if (!esmtp) {
		smtp_session_reply(s, 250, NULL, "%s", srv->hostname);
		return;
	}
	/* RFC 5321 section 4.1.1.1: one keyword per line; HELP is a command,
	 * not an extension, so it is not listed */
	smtp_session_raw(s,
	                 "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n250-8BITMIME\r\n"
	                 "250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250 SMTPUTF8\r\n",
	                 srv->hostname, (unsigned long long)srv->cfg->max_message_size);
}

static void cmd_mail(struct smtp_session *s, const char *args)
{
	struct smtp_error err;
	uint64_t max = s->srv->cfg->max_message_size;

	if (s->state == SESS_INIT) {
		smtp_session_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->state != SESS_READY) {
		smtp_session_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (smtp_parse_mail(args, strlen(args), &s->sender, &s->mp, &err) < 0) {
		smtp_session_reply_err(s, &err);
		goto reset;
	}
	/* ESMTP parameters exist only after EHLO (RFC 5321 section 4.1.1.11) */
	if (!s->esmtp && (s->mp.size_given || s->mp.body || s->mp.smtputf8 || s->mp.ret ||
	                  s->mp.envid[0] != '\0')) {
		smtp_session_reply(s, 555, "5.5.4", "Error: ESMTP parameters need EHLO");
		goto reset;
	}
	if (s->sender.utf8 && !s->mp.smtputf8) {
		smtp_session_reply(s, 553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8");
		goto reset;
	}
	if (s->mp.size_given && max > 0 && s->mp.size > max) {
		smtp_session_reply(s, 552, "5.3.4",
		                   "Message size exceeds fixed limit of %llu bytes",
		                   (unsigned long long)max);
		goto reset;
	}
	/* max_messages_per_ip_per_minute: a well-formed MAIL is a message
	 * started; temporary (450), so a well-behaved client retries later */
	if (!smtp_limits_message(s->srv->limits, s->ip, util_now_ms())) {
		log_info("smtp: message rate limit exceeded by [%s]", s->ip);
		smtp_session_reply(s, 450, "4.7.1", "Rate limit exceeded, try again later");
		goto reset;
	}
	s->state = SESS_MAIL;
	smtp_session_reply(s, 250, "2.1.0", "Ok");
	return;
reset:
	memset(&s->sender, 0, sizeof(s->sender));
	memset(&s->mp, 0, sizeof(s->mp));
}

static void cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_error err;
	struct smtp_path path;
	struct smtp_rcpt_params rp;
	struct smtp_rcpt_entry *e;
	bool local = false;

	if (s->state != SESS_MAIL) {
		smtp_session_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	s->rcpt_tried = true;
	if (smtp_parse_rcpt(args, strlen(args), &path, &rp, &err) < 0) {
		smtp_session_reply_err(s, &err);
		return;
	}
	if (!s->esmtp && (rp.notify != 0 || rp.orcpt[0] != '\0')) {
		smtp_session_reply(s, 555, "5.5.4", "Error: ESMTP parameters need EHLO");
		return;
	}
	if (path.utf8 && !s->mp.smtputf8) {
		smtp_session_reply(s, 553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8");
		return;
	}
	if (s->srv->local_rcpt != NULL && path.domain[0] != '\0') {
		/* the bounce domain's signed return paths (issue 6): refused
		 * here when the tag is bad, whoever the client is */
		char why[400] = "";
		switch (s->srv->local_rcpt(s->srv->local_rcpt_arg, s->ip, s->sender.addr, path.addr,
		                           why, sizeof(why))) {
		case SMTP_LOCAL_REFUSE:
			smtp_session_reply(s, 550, "5.1.1", "<%s>: %s", path.addr,
			                   why[0] ? why : "no such user here");
			return;
		case SMTP_LOCAL_ACCEPT: local = true; break;
		case SMTP_LOCAL_PASS:
		default: break;
		}
	}
	switch (local ? SMTP_RCPT_ACCEPT : smtp_relay_check(s->srv->relay, s->ip, path.addr)) {
	case SMTP_RCPT_ACCEPT: break;
	case SMTP_RCPT_NO_SUCH_USER:
		log_info("smtp: unknown local recipient from [%s]: <%s>", s->ip, path.addr);
		smtp_session_reply(s, 550, "5.1.1",
		                   "<%s>: Recipient address rejected: no such user here",
		                   path.addr);
		return;
	case SMTP_RCPT_RELAY_DENIED:
	default:
		log_info("smtp: relay denied from [%s] to <%s>", s->ip, path.addr);
		smtp_session_reply(s, 554, "5.7.1", "<%s>: Relay access denied", path.addr);
		return;
	}
	if (s->srv->rcpt_check && path.domain[0] != '\0') {
		/* the suppression list (smtp_server_set_rcpt_check); RFC 3463
		 * 5.1.1: the mailbox is not to be used */
		char why[400] = "";
		if (s->srv->rcpt_check(s->srv->rcpt_check_arg, s->ip, s->sender.addr, path.addr,
		                       why, sizeof(why)) != 0) {
			/* RFC 5321 section 4.5.3.1.5: the reply line fits 512 octets */
			int room = SMTP_REPLYLINE_MAX - 20 - (int)strlen(path.addr);
			smtp_session_reply(s, 550, "5.1.1", "<%s>: %.*s", path.addr,
			                   room > 0 ? room : 0,
			                   why[0] ? why : "recipient suppressed");
			return;
		}
	}
	if (s->nrcpt >= s->srv->max_rcpt) {
		smtp_session_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 8;
		s->rcpt = xrealloc(s->rcpt, s->rcpt_cap * sizeof(*s->rcpt));
	}
	e = &s->rcpt[s->nrcpt++];
	util_strlcpy(e->addr, path.addr, sizeof(e->addr));
	e->notify = rp.notify;
	util_strlcpy(e->orcpt, rp.orcpt, sizeof(e->orcpt));
	smtp_session_reply(s, 250, "2.1.5", "Ok");
}

static void cmd_data(struct smtp_session *s, const char *args)
{
	if (has_args(args)) {
		smtp_session_reply(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (s->state != SESS_MAIL || s->nrcpt == 0) {
		/* RFC 2920 section 3.1: after pipelined RCPTs that all failed */
		if (s->state == SESS_MAIL && s->rcpt_tried)
			smtp_session_reply(s, 554, "5.5.1", "Error: no valid recipients");
		else if (s->state == SESS_MAIL)
			smtp_session_reply(s, 503, "5.5.1", "Error: need RCPT command");
		else
			smtp_session_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	smtp_receive_begin(s);
}

void smtp_server_set_rcpt_check(struct smtp_server *srv, smtp_rcpt_check_fn fn, void *arg)
{
	srv->rcpt_check = fn;
	srv->rcpt_check_arg = arg;
}

void smtp_server_set_local_rcpt(struct smtp_server *srv, smtp_local_rcpt_fn fn, void *arg)
{
	srv->local_rcpt = fn;
	srv->local_rcpt_arg = arg;
}

void smtp_command_run(struct smtp_session *s, char *line, size_t len)
{
	const char *args;
	enum smtp_verb verb = smtp_parse_verb(line, len, &args);

	switch (verb) {
	case SMTP_EHLO:
	case SMTP_HELO: cmd_ehlo(s, args, verb == SMTP_EHLO); break;
	case SMTP_MAIL: cmd_mail(s, args); break;
	case SMTP_RCPT: cmd_rcpt(s, args); break;
	case SMTP_DATA: cmd_data(s, args); break;
	case SMTP_RSET:
		if (has_args(args)) {
			smtp_session_reply(s, 501, "5.5.4", "Syntax: RSET");
			break;
		}
		smtp_session_reset_tx(s);
		smtp_session_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_NOOP: smtp_session_reply(s, 250, "2.0.0", "Ok"); break;
	case SMTP_QUIT:
		smtp_session_reply(s, 221, "2.0.0", "Bye");
		smtp_session_close_after_flush(s);
		break;
	case SMTP_VRFY:
		if (!has_args(args)) {
			smtp_session_reply(s, 501, "5.5.4", "Syntax: VRFY address");
			break;
		}
		/* RFC 5321 section 3.5.3: 252 when we will not verify */
		smtp_session_reply(
		    s, 252, "2.5.0",
		    "Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case SMTP_EXPN: smtp_session_reply(s, 502, "5.5.1", "Error: EXPN not supported"); break;
	case SMTP_HELP:
		smtp_session_reply(s, 214, "2.0.0",
		                   "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP "
		                   "QUIT VRFY HELP; see RFC 5321");
		break;
	case SMTP_STARTTLS:
	case SMTP_AUTH:
	case SMTP_BDAT:
		smtp_session_reply(s, 502, "5.5.1", "Error: command not implemented");
		break;
	case SMTP_UNKNOWN:
	default: smtp_session_reply(s, 500, "5.5.1", "Error: command not recognized"); break;
	}
}
