/*
 * ses.c - Amazon SES event notifications: a JSON document (sent by mail
 * through SNS) in place of a bounce. Three notification types carry
 * recipients: "Bounce" (bounce.bouncedRecipients[]: emailAddress, action,
 * status, diagnosticCode), "Complaint" (complaint.complainedRecipients[],
 * complaintFeedbackType: an abuse report, reason feedback) and "Delivery"
 * (delivery.recipients[], smtpResponse: reason delivered).
 *
 * The JSON is either the mail body itself or, when the body is an SNS
 * envelope ({"Type": "Notification", ...}), the string in its "Message"
 * member. Mail transport wraps long lines: a body line over the RFC 5322
 * 2.1.1 limit is broken as "!" LF SP, which is undone before parsing.
 *
 * Fails soft: text that is not such a document yields no record.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/internal.h"

/* str_of - member `key` of object o as a string, or "" */
static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static struct bounce_record *add(struct bounce_result *res, const char *addr)
{
	struct bounce_record *r = bounce_record_add(res);
	char a[BOUNCE_ADDR_MAX];

	if (!bounce_find_addr(addr, strlen(addr), a, sizeof(a)))
		util_strlcpy(a, addr, sizeof(a));
	util_strlcpy(r->recipient, a, sizeof(r->recipient));
	r->smtp_agent = "AmazonSES";
	return r;
}

/* set_diag - diagnostic text without its RFC 3464 type ("smtp; ") */
static void set_diag(struct bounce_record *r, const char *d)
{
	const char *semi = strchr(d, ';');

	if (semi && semi - d < 12)
		d = semi + 1;
	bounce_record_set_diag(r, d, strlen(d));
	bounce_find_replycode(r->diagnostic_code, r->replycode, sizeof(r->replycode));
}

static size_t read_event(json_t *ev, struct bounce_result *res)
{
	const char *type = str_of(ev, "notificationType");
	size_t n = 0, i;
	json_t *x;

	if (!type[0])
		type = str_of(ev, "eventType");
	if (strcmp(type, "Bounce") == 0) {
		json_t *b = json_object_get(ev, "bounce");
		json_array_foreach(json_object_get(b, "bouncedRecipients"), i, x)
		{
			struct bounce_record *r = add(res, str_of(x, "emailAddress"));
			util_strlcpy(r->action, str_of(x, "action"), sizeof(r->action));
			bounce_find_status(str_of(x, "status"), r->status, sizeof(r->status));
			set_diag(r, str_of(x, "diagnosticCode"));
			r->rule = "amazon ses bounce notification";
			n++;
		}
	} else if (strcmp(type, "Complaint") == 0) {
		json_t *c = json_object_get(ev, "complaint");
		const char *ft = str_of(c, "complaintFeedbackType");
		json_array_foreach(json_object_get(c, "complainedRecipients"), i, x)
		{
			struct bounce_record *r = add(res, str_of(x, "emailAddress"));
			r->reason = "feedback";
			util_strlcpy(r->feedback_type, ft[0] ? ft : "abuse",
			             sizeof(r->feedback_type));
			r->rule = "amazon ses complaint notification";
			n++;
		}
	} else if (strcmp(type, "Delivery") == 0) {
		json_t *d = json_object_get(ev, "delivery");
		const char *resp = str_of(d, "smtpResponse");
		json_array_foreach(json_object_get(d, "recipients"), i, x)
		{
			struct bounce_record *r =
			    add(res, json_string_value(x) ? json_string_value(x) : "");
			util_strlcpy(r->action, "delivered", sizeof(r->action));
			bounce_find_status(resp, r->status, sizeof(r->status));
			set_diag(r, resp);
			n++;
		}
	}
	return n;
}

size_t bounce_ses_parse(const struct bounce_doc *doc, struct bounce_result *res)
{
	const char *start = strchr(doc->text.data, '{');
	struct buf b = {0};
	json_t *root, *ev;
	size_t n = 0, first = res->n;

	if (!start || (!strstr(start, "otificationType") && !strstr(start, "\"Notification\"")))
		return 0;
	/* undo the transport's line wrapping: "!" LF SP, and plain LFs */
	for (const char *p = start; *p; p++) {
		if (p[0] == '!' && p[1] == '\n' && p[2] == ' ') {
			p += 2;
			continue;
		}
		if (*p == '\n' && p[1] == '\n' && p[2] == '-' && p[3] == '-')
			break; /* the SNS footer */
		buf_putc(&b, *p == '\n' ? ' ' : *p);
	}
	root = json_loadb(b.data ? b.data : "", b.len, JSON_DISABLE_EOF_CHECK, NULL);
	buf_free(&b);
	if (!root)
		return 0;
	ev = root;
	if (json_is_string(json_object_get(root, "Message")))
		ev = json_loads(json_string_value(json_object_get(root, "Message")),
		                JSON_DISABLE_EOF_CHECK, NULL);
	else
		json_incref(ev);
	if (ev && json_is_object(ev))
		n = read_event(ev, res);
	json_decref(ev);
	json_decref(root);
	/* an address that is not an address is no record */
	for (size_t i = first; i < res->n;)
		if (!strchr(res->recs[i].recipient, '@')) {
			free(res->recs[i].diagnostic_code);
			memmove(&res->recs[i], &res->recs[i + 1],
			        (res->n - i - 1) * sizeof(res->recs[0]));
			res->n--;
			n--;
		} else {
			i++;
		}
	return n;
}
