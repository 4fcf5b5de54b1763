/*
 * family.c - which mail server family (or mail service) wrote a notice,
 * and where its report text ends: the tables that say so, and the
 * lookups over them. Reading the text itself is familytext.c.
 *
 * Data-driven: family_sigs[] says which header or body words identify a
 * family (read off real bounces of each MTA, and the same notices in
 * other languages); bounce_subjects[] marks a notice from a daemon that
 * no signature names; providers[] names the service behind a common MTA
 * (or a service's own build of it);
 * end_markers[] says where the report text stops and the returned message
 * begins.
 *
 * Fails soft: no family means the caller reads no text records.
 */
#include <ctype.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/internal.h"

enum sig_where { SIG_BODY, SIG_FROM, SIG_SUBJECT, SIG_HEADER };

static const struct family_sig {
	const char *agent;
	enum sig_where where;
	const char *needle;
} family_sigs[] = {
    {"McAfee", SIG_HEADER, "X-NAI-Header: Modified by McAfee"},
    /* Exchange 2007 and later mark their notices (a header Exchange
     * 2003 never wrote); Exchange Online is told apart by the provider
     * table below */
    {"Exchange2007", SIG_HEADER, "X-MS-Exchange-Message-Is-Ndr:"},
    /* ... and send them from a system mailbox of one fixed name in every
     * organisation, whatever language the notice is in (Exchange 2003
     * sent from postmaster) */
    {"Exchange2007", SIG_FROM, "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e"},
    /* Microsoft 365's current notice: "Original Message Details" with
     * "Recipient Address:" under it (in the languages of its localised
     * notices, as familytext.c reads them); its subject is Exchange
     * 2003's "Undeliverable:" */
    {"Office365", SIG_BODY, "Original Message Details"},
    {"Office365", SIG_BODY, "Recipient Address:"},
    {"Office365", SIG_BODY, "Empfängeradresse:"},
    {"Office365", SIG_BODY, "Adresse du destinataire :"},
    {"Office365", SIG_BODY, "Dirección del destinatario:"},
    {"Office365", SIG_BODY, "Indirizzo destinatario:"},
    {"Office365", SIG_BODY, "Endereço do Destinatário:"},
    {"Office365", SIG_BODY, "Adres van geadresseerde:"},
    {"Office365", SIG_BODY, "受信者アドレス:"},
    {"Office365", SIG_BODY, "收件人地址:"},
    {"qmail", SIG_BODY, "This is the qmail-send program"},
    {"KDDI", SIG_BODY, "Could not be delivered to: <"},
    {"GoogleGroups", SIG_BODY, "\nGoogle Groups"},
    {"X2", SIG_BODY, "Unable to deliver message to the following address(es)"},
    {"X6", SIG_BODY, "We had trouble delivering your message"},
    {"Exchange2003", SIG_BODY, "did not reach the following recipient"},
    {"mFILTER", SIG_BODY, "m-FILTER"},
    {"ApacheJames", SIG_BODY, "Error message below:"},
    {"AmazonSES", SIG_BODY, "notificationType\\\""},
    {"qmail", SIG_BODY, "I'm afraid I wasn't able to deliver your message"},
    {"Yahoo", SIG_BODY, "Sorry, we were unable to deliver your message"},
    {"Postfix", SIG_BODY, "This is the mail system at host"},
    {"Postfix", SIG_BODY, "This is the Postfix program at host"},
    {"Exim", SIG_BODY, "This message was created automatically by mail delivery software"},
    {"Exim", SIG_BODY, "This message was created automatically by the SMTP relay"},
    {"Exim", SIG_BODY, "could not be delivered to one or more of its"},
    {"Sendmail", SIG_BODY, "----- Transcript of session follows -----"},
    {"Sendmail", SIG_BODY, "The following addresses had permanent fatal errors"},
    {"Exchange2007", SIG_BODY, "Delivery has failed to these recipients"},
    {"Exchange2007", SIG_BODY, "chec de la remise pour ces destinataires"},
    /* the same opening sentence as Exchange 2007-2019 write it in the
     * languages of their localised notices (German, Japanese, Spanish,
     * Italian, Portuguese, Dutch) */
    {"Exchange2007", SIG_BODY, "Die Zustellung an folgende Empf\xc3\xa4nger"},
    {"Exchange2007", SIG_BODY, "Die Zustellung an diese Empf\xc3\xa4nger"},
    {"Exchange2007", SIG_BODY, "への配信に失敗しました"},
    {"Exchange2007", SIG_BODY, "Error en la entrega a estos destinatarios"},
    {"Exchange2007", SIG_BODY, "Recapito non riuscito ai seguenti destinatari"},
    {"Exchange2007", SIG_BODY, "Falha na entrega para estes destinat\xc3\xa1rios"},
    {"Exchange2007", SIG_BODY, "Bezorging is mislukt voor deze ontvangers"},
    /* the wording of later versions (French, Spanish, Italian,
     * Portuguese, Swedish) */
    {"Exchange2007", SIG_BODY, "La remise à ces destinataires ou groupes a échoué"},
    {"Exchange2007", SIG_BODY, "Error al entregar a estos destinatarios o grupos"},
    {"Exchange2007", SIG_BODY, "Recapito a questi destinatari o gruppi non riuscito"},
    {"Exchange2007", SIG_BODY, "Falha na entrega a estes destinatários ou grupos"},
    {"Exchange2007", SIG_BODY, "mottagarna eller grupperna"},
    /* ... and the words "recipients or groups" of the same sentence in
     * Chinese (simplified, traditional), Korean, Russian, Polish,
     * Swedish, Czech and Turkish: no other notice says them */
    {"Exchange2007", SIG_BODY, "收件人或组"},
    {"Exchange2007", SIG_BODY, "收件者或群組"},
    {"Exchange2007", SIG_BODY, "받는 사람 또는 그룹"},
    {"Exchange2007", SIG_BODY, "получателям или группам"},
    {"Exchange2007", SIG_BODY, "adresatów lub grup"},
    {"Exchange2007", SIG_BODY, "mottagare eller grupper"},
    {"Exchange2007", SIG_BODY, "příjemcům nebo skupinám"},
    {"Exchange2007", SIG_BODY, "alıcılara veya gruplara"},
    {"Exchange2003", SIG_BODY, "did not reach some or all of the intended recipients"},
    {"Exchange2003", SIG_SUBJECT, "Undeliverable:"},
    {"Gmail", SIG_BODY, "Delivery to the following recipient failed"},
    {"Gmail", SIG_BODY, "Delivery to the following recipients failed"},
    {"GSuite", SIG_BODY, "Your message wasn't delivered to"},
    {"GSuite", SIG_BODY, "There was a problem delivering your message to"},
    {"GSuite", SIG_BODY, "There was a temporary problem delivering your message to"},
    /* the bold heading Gmail's notices open with, whatever sentence
     * follows ("Your message to a@b has been blocked", "Your message
     * couldn't be delivered to a@b because ...") */
    {"GSuite", SIG_BODY, "** Address not found **"},
    {"GSuite", SIG_BODY, "** Message not delivered **"},
    {"GSuite", SIG_BODY, "** Message blocked **"},
    {"GSuite", SIG_BODY, "** Delivery incomplete **"},
    {"Gmail", SIG_BODY, "THIS IS A WARNING MESSAGE ONLY"},
    {"GoogleGroups", SIG_BODY, "the group you tried to contact"},
    {"AmazonSES", SIG_BODY,
     "An error occurred while trying to deliver the mail to the following recipients"},
    {"AmazonSES", SIG_BODY, "was undeliverable."},
    {"AmazonSES", SIG_BODY, "\"notificationType\""},
    {"DragonFly", SIG_BODY, "This is the DragonFly Mail Agent"},
    {"OpenSMTPD", SIG_BODY, "This is the MAILER-DAEMON, please DO NOT REPLY"},
    {"OpenSMTPD", SIG_BODY, "Hi!\n\nThis is the MAILER-DAEMON"},
    {"Domino", SIG_BODY, "was not delivered to:"},
    {"Courier", SIG_BODY, "running the Courier mail server"},
    /* Lotus Notes (HCL Domino's older router): the cause under a
     * "Failure Reasons" rule, the failed addresses below it */
    {"Notes", SIG_BODY, "------- Failure Reasons"},
    /* MDaemon signs its notices from "MDaemon@host", not a daemon
     * address, and quotes the session transcript ("--> RCPT To:") */
    {"MDaemon", SIG_HEADER, "X-MDDSN-Message:"},
    {"MDaemon", SIG_BODY, "had PERMANENT fatal delivery errors"},
    /* CommuniGate Pro: "Failed to deliver to '<a@b>'" and then which
     * module reports what ("SMTP module(domain b) reports:") */
    {"CommuniGatePro", SIG_BODY, "Failed to deliver to '"},
    {"Barracuda", SIG_BODY, "was blocked by our Spam"},
    {"Facebook", SIG_BODY, "This message was created automatically by Facebook"},
    {"Amavis", SIG_BODY, "The message WAS NOT relayed to"},
    {"Amavis", SIG_BODY, "was considered unsolicited bulk e-mail"},
    {"FML", SIG_BODY, "You are not a member of this mailing list"},
    {"MailRu", SIG_FROM, "mailer-daemon@corp.mail.ru"},
    {"MailRu", SIG_FROM, "@mail.ru"},
    {"Yandex", SIG_FROM, "@yandex"},
    {"Zoho", SIG_FROM, "@zoho"},
    {"mFILTER", SIG_BODY, "mFILTER"},
    {"IMailServer", SIG_SUBJECT, "Undeliverable Mail"},
    {"EZweb", SIG_FROM, "@ezweb.ne.jp"},
    {"KDDI", SIG_FROM, "@ezweb.ne.jp"},
    {"Biglobe", SIG_FROM, "@biglobe.ne.jp"},
    {"Verizon", SIG_FROM, "@vtext.com"},
    {"Activehunter", SIG_BODY, "The following addresses had permanent fatal errors"},
    {"Sendmail", SIG_BODY, "The original message was received at"},
    {"MessagingServer", SIG_BODY, "This report relates to a message you sent"},
    {"InterScanMSS", SIG_SUBJECT, "Mail could not be delivered"},
    {"X", SIG_BODY, "This is a delivery failure notification message"},
    {"X", SIG_BODY, "Your message to: "},
    {"X", SIG_BODY, "could not be delivered"},
    {"X", SIG_BODY, "was not delivered"},
    {"X", SIG_BODY, "delivery failed"},
    {"X", SIG_BODY, "Delivery failed"},
    {"X", SIG_BODY, "undeliverable"},
    {"X", SIG_BODY, "Undeliverable"},
    {"X", SIG_BODY, "nicht zugestellt werden"},
    {"X", SIG_BODY, "pas pu \xc3\xaatre remis"}, /* n'a pas pu être remis */
    {"X", SIG_BODY, "non \xc3\xa8 stato possibile recapitare"},
    {"X", SIG_BODY, "no se ha podido entregar"},
    {"X", SIG_BODY, "No se ha podido entregar"},
    {"X", SIG_BODY, "no pudo ser entregado"},
    {"X", SIG_BODY, "No pudo ser entregado"},
    {"X", SIG_BODY, "Non \xc3\xa8 stato possibile recapitare"},
    {"X", SIG_BODY, "Nachricht konnte nicht zugestellt werden"},
};

/* Subjects that, with a From of MAILER-DAEMON/postmaster, mark a bounce
 * even when no family signature matched. */
static const char *const bounce_subjects[] = {
    "undeliver",
    "delivery status notification",
    "failure notice",
    "returned mail",
    "mail delivery failed",
    "delivery failure",
    "non-delivery",
    "nondeliverable",
    "mail system error",
    "delivery problem",
    "could not be delivered",
    "failure delivery",
    "mail failed",
    "error sending your mail",
    "delayed", /* "Warning: message delayed", "Delayed Mail (still being retried)" */
    "delivery status notification (delay)",
    /* the same notices in other languages (German, French, Italian,
     * Spanish, Portuguese, Dutch, Swedish, Danish, Polish, Japanese, and
     * below the rest) */
    "unzustellbar",
    "nicht zustellbar",
    "non remis",
    "non distribuable",
    "chec de la remise",
    "non recapitabile",
    "mancato recapito",
    "no se puede entregar",
    "no entregado",
    "o entregue",
    "onbestelbaar",
    "niet afgeleverd",
    "olevererbart",
    "ikke leveret",
    "nie dostarczono",
    "niedostarczaln",    /* Exchange's Polish "Niedostarczalne:" */
    "estado de entrega", /* Notificación de estado de entrega */
    "tat de remise",     /* Notification d'état de remise */
    "stato di consegna", /* Notifica sullo stato di consegna */
    "zustellungsstatus", /* Benachrichtigung über den Zustellungsstatus */
    "non-remise",
    "\xe9\x85\x8d\xe4\xbf\xa1\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc", /* 配信エラー */
    "\xe6\x9c\xaa\xe9\x85\x8d\xe9\x81\x94",                         /* 未配達 */
    "配信不能",             /* Exchange's Japanese "Undeliverable:" */
    "配信できませんでした", /* "could not be delivered" */
    "vel entregar",         /* Exchange's Portuguese "Não é possível entregar:" */
    /* Russian ("Недоставленное сообщение", "Недоставлено": the stem
     * without its first letter, which may be a capital), Chinese
     * (simplified and traditional), Korean, Turkish, Czech, Norwegian,
     * Finnish, Hungarian */
    "едоставлен",
    "едоставля", /* Exchange's "Недоставляемое:" */
    "е удается доставить",
    "无法投递",
    "无法传递", /* Exchange's simplified Chinese "Undeliverable:" */
    "系统退信",
    "投递失败",
    "無法傳遞",
    "無法投遞",
    "배달되지 않음",
    "메일 발송 실패",
    "teslim edilemedi",
    "teslim edilemiyor",
    "nedoručiteln",
    "nelze doručit",
    "kan ikke leveres",
    "ikke levert",
    "ei voitu toimittaa",
    "kézbesíthetetlen",
    NULL,
};

/* Lines where the report ends and the returned message starts. */
static const char *const end_markers[] = {
    "--- Below this line is a copy of the message",
    "----- Original message -----",
    "------ This is a copy of the message",
    "------ This is a copy of your message",
    "----- Original Message -----",
    "--- The header of the original message is following",
    "------ The header of the original message is following",
    "Original message follows",
    "----- The following is a copy of your message",
    "Below is a copy of the original message",
    "------=_Part", /* returned message in an unparsed MIME body */
    "Content-Type: message/rfc822",
    "----- Unsent message follows -----",
    "   ----- Original message headers",
    "------ Original Message Headers",
    "------ Original message headers",
    "Original message headers:",
    "Received: from",
    "Return-Path: <",
    "If you know the general guide of this list", /* fml: help text */
    "Message text follows",
    "Additional Information\n=====", /* MailMarshal: its own trailer */
    NULL,
};

/* The body signatures and end markers, indexed once for one-pass scans
 * (needles.c); pthread_once: parsing runs in worker threads. */
#define NSIGS (sizeof(family_sigs) / sizeof(family_sigs[0]))
#define NENDS (sizeof(end_markers) / sizeof(end_markers[0]) - 1)
_Static_assert(NSIGS <= BOUNCE_NEEDLE_MAX && NENDS <= 64, "needle index sizes");

static const char *sig_body[NSIGS]; /* body needles by table index, else NULL */
static struct bounce_needles sig_ix, end_ix;
static pthread_once_t ix_once = PTHREAD_ONCE_INIT;

static void ix_init(void)
{
	for (size_t i = 0; i < NSIGS; i++)
		sig_body[i] = family_sigs[i].where == SIG_BODY ? family_sigs[i].needle : NULL;
	bounce_needles_build(&sig_ix, sig_body, NSIGS);
	bounce_needles_build(&end_ix, end_markers, NENDS);
}

bool bounce_family_from_daemon(const char *from)
{
	/* Exchange 2007-2019 send their notices from a system mailbox of
	 * one fixed name in every organisation ("Microsoft Exchange
	 * <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@...>") */
	return bounce_casestr(from, "mailer-daemon") || bounce_casestr(from, "postmaster") ||
	       bounce_casestr(from, "mail delivery") || bounce_casestr(from, "mailer_daemon") ||
	       bounce_casestr(from, "post_master") ||
	       bounce_casestr(from, "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e");
}

const char *bounce_family_detect(const struct bounce_doc *doc)
{
	char from[512] = "", subj[512] = "";

	size_t body;

	pthread_once(&ix_once, ix_init);
	bounce_header(doc->hdr.data, "From", from, sizeof(from));
	bounce_header(doc->hdr.data, "Subject", subj, sizeof(subj));
	/* the report part names its writer; the returned message after it
	 * (often most of the bytes) is read only when the report does not */
	body = bounce_needles_first(&sig_ix, sig_body, doc->text.data, doc->text.data + doc->rend);
	if (body == SIZE_MAX)
		body = bounce_needles_first(&sig_ix, sig_body, doc->text.data + doc->rend,
		                            doc->text.data + doc->text.len);
	for (size_t i = 0; i < sizeof(family_sigs) / sizeof(family_sigs[0]); i++) {
		const struct family_sig *s = &family_sigs[i];
		bool hit;

		if (s->where == SIG_BODY)
			hit = i == body;
		else if (s->where == SIG_HEADER)
			hit = strstr(doc->hdr.data, s->needle) != NULL;
		else
			hit = bounce_casestr(s->where == SIG_FROM ? from : subj, s->needle) != NULL;
		if (hit && s->where == SIG_BODY && strcmp(s->agent, "X") == 0 &&
		    !bounce_family_from_daemon(from)) {
			/* the loose "X" sentences only count from a daemon
			 * (they close the table: nothing after them) */
			break;
		}
		if (hit) {
			return s->agent;
		}
	}
	if (bounce_family_from_daemon(from))
		for (size_t i = 0; bounce_subjects[i]; i++)
			if (bounce_casestr(subj, bounce_subjects[i]))
				return "X";
	return NULL;
}

/* Mail services that run a common MTA under their own name (Mail.Ru and
 * GMX run Exim, Outlook.com writes Gmail-like sentences, Exchange Online
 * is Exchange): the reader of a record wants to know the service.
 * Matched after the family decided how to read the text, so the reading
 * does not change. Each row names the field it reads: a header field of
 * the notice, or "Reporting-MTA" of its RFC 3464 part. */
static const struct {
	const char *agent, *field, *needle; /* needle in lower case */
} providers[] = {
    {"Outlook", "From", "@mail.hotmail."},
    {"Outlook", "From", "@mail.outlook."},
    {"Outlook", "From", "@hotmail."},
    {"Office365", "Message-ID", ".outlook.com>"},
    {"Office365", "Message-ID", ".exchangelabs.com>"},
    {"MailRu", "From", "mail.ru"},
    {"GMX", "From", "@mail.gmx."},
    {"GMX", "From", "@gmx."},
    {"Zoho", "From", "@mail.zoho"},
    {"Zoho", "X-Mailer", "zoho mail"},
    {"Yandex", "From", "@yandex."},
    {"AmazonWorkMail", "X-Mailer", "amazon workmail"},
    {"Bigfoot", "From", "@bigfoot."},
    {"MXLogic", "From", ".mxlogic."},
    {"MessageLabs", "Reporting-MTA", ".messagelabs.com"},
    {"ReceivingSES", "Reporting-MTA", "inbound-smtp."},
    /* 1&1 (IONOS) runs Exim on its kundenserver hosts */
    {"EinsUndEins", "From", "@kundenserver."},
};

/* Products that write a common family's notice (or a bare standard
 * report) under their own name, told apart by a header field they add, a
 * line of their template or a field of their report part; family NULL is
 * any. Named after the reading, like the services above. Needles are
 * exact; one that starts with "\n" starts a line (a field name). */
static const struct {
	const char *agent, *family, *header, *body, *report;
} builds[] = {
    /* Sendmail 5 quoted the message after "Unsent message follows";
     * Sendmail 8 writes MIME and "Original message follows" */
    {"V5sendmail", "Sendmail", NULL, "----- Unsent message follows -----", NULL},
    /* Active!hunter writes Sendmail's sentences and marks its own mail */
    {"Activehunter", "Sendmail", "\nX-AHMAILID:", NULL, NULL},
    {"MailMarshalSMTP", NULL, "Received: from MailMarshal.Sender", NULL, NULL},
    {"SurfControl", NULL, "\nX-Mailer: SurfControl", NULL, NULL},
    {"MXLogic", NULL, "\nX-MXL-NoteHash:", NULL, NULL},
    {"MailFoundry", NULL, " (MAILFOUNDRY) ", NULL, NULL},
    {"SendGrid", NULL, NULL, "automatically generated message from SendGrid", NULL},
    {"PowerMTA", NULL, NULL, NULL, "\nX-PowerMTA-"},
    /* Hotmail's own notices: Gmail's sentence, Windows Live's headers */
    {"Outlook", "Gmail", "\nX-Message-Delivery:", NULL, NULL},
};

/* has - needle in block; a "\n" needle may also open the block */
static bool has(const char *block, const char *needle)
{
	if (!block)
		return false;
	if (needle[0] == '\n' && strncmp(block, needle + 1, strlen(needle + 1)) == 0)
		return true;
	return strstr(block, needle) != NULL;
}

/* build_of - the product behind the family's notice, or NULL */
static const char *build_of(const struct bounce_doc *doc, const char *family)
{
	for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
		if (builds[i].family && (!family || strcmp(family, builds[i].family) != 0))
			continue;
		if ((builds[i].header && !has(doc->hdr.data, builds[i].header)) ||
		    (builds[i].body && !has(doc->text.data, builds[i].body)) ||
		    (builds[i].report && !has(doc->dsn.data, builds[i].report)))
			continue;
		return builds[i].agent;
	}
	return NULL;
}

const char *bounce_family_provider(const struct bounce_doc *doc, const char *family)
{
	static const char *const fields[] = {"From", "X-Mailer", "Message-ID", "Reporting-MTA"};
	char val[4][256] = {"", "", "", ""};

	/* four short field values, read once and lower-cased (the needles
	 * are lower case): searching the whole header and report for each
	 * row would cost more than the parse itself */
	for (size_t f = 0; f < 4; f++) {
		const char *block = f == 3 ? doc->dsn.data : doc->hdr.data;
		if (block && block[0])
			bounce_header(block, fields[f], val[f], sizeof(val[f]));
		util_lowercase(val[f]);
	}
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
		size_t f = 0;
		while (f < 3 && strcmp(fields[f], providers[i].field) != 0)
			f++;
		if (val[f][0] && strstr(val[f], providers[i].needle))
			return providers[i].agent;
	}
	return build_of(doc, family);
}

/* bounce_report_end - where the report text stops */
size_t bounce_report_end(const char *text)
{
	pthread_once(&ix_once, ix_init);
	/* the first marker that starts a line (or follows a space); one the
	 * text opens with is not an end at all (a MIME boundary line of a
	 * body that was not split) and is skipped everywhere: reading the
	 * text beats reading nothing */
	return bounce_needles_line_end(&end_ix, end_markers, text);
}

/* Families whose text is read before the RFC 3464 part they attach:
 * Domino's part names the next hop's rewritten address, its text the
 * address that was written. */
static const char *const text_first[] = {"Domino", NULL};

bool bounce_family_text_first(const char *agent)
{
	for (size_t i = 0; text_first[i]; i++)
		if (strcmp(agent, text_first[i]) == 0)
			return true;
	return false;
}
