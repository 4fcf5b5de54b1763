/*
 * test_contacts_check.c - the contact list check: the RFC 4180 reader
 * (quoting, line ends, BOM, malformed records and where they are
 * reported), field quoting on output, and whole runs of contacts_check:
 * once through the real resolver against an in-process DNS server on
 * 127.0.0.1 (nothing else is asked), once through the lookup seam to
 * count lookups per domain and keep the output order while answers
 * arrive out of order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "contacts/contacts.h"
#include "test_deliver_server.h"

/* dump - every record of a CSV text as "line:f1|f2" or "line!" for a
 * malformed one, joined by ";" */
static void dump(const char *text, size_t len, struct buf *out)
{
	FILE *f = fmemopen((void *)text, len, "r");
	struct contacts_csv *c = contacts_csv_new(f);
	struct contacts_record rec;
	char err[200];
	int n;

	while ((n = contacts_csv_next(c, &rec, err, sizeof(err))) != 0) {
		if (out->len > 0)
			buf_putc(out, ';');
		if (n < 0) {
			buf_printf(out, "%zu!", rec.line);
			continue;
		}
		buf_printf(out, "%zu:", rec.line);
		for (size_t i = 0; i < rec.n; i++)
			buf_printf(out, "%s%s", i ? "|" : "", rec.field[i]);
	}
	contacts_csv_free(c);
	fclose(f);
}

static void test_csv_reader(void **state)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
	    {"plain", "a,b\nc,d\n", "1:a|b;2:c|d"},
	    {"crlf", "a,b\r\nc,d\r\n", "1:a|b;2:c|d"},
	    {"no final newline", "a,b\nc,d", "1:a|b;2:c|d"},
	    {"empty fields", ",,\n", "1:||"},
	    {"quoted comma", "\"a,b\",c\n", "1:a,b|c"},
	    {"doubled quote", "\"say \"\"hi\"\"\",x\n", "1:say \"hi\"|x"},
	    {"newline in quotes", "\"l1\nl2\",x\ny,z\n", "1:l1\nl2|x;3:y|z"},
	    {"blank lines skipped", "a\n\n\r\nb\n", "1:a;4:b"},
	    {"bom",
	     "\xEF\xBB\xBF"
	     "email\nx@y\n",
	     "1:email;2:x@y"},
	    {"bare cr is data", "a\rb,c\n", "1:a\rb|c"},
	    {"quote in unquoted", "a\"b,c\nd\n", "1!;2:d"},
	    {"junk after quote", "\"a\"b,c\nd\n", "1!;2:d"},
	    {"unterminated", "a\n\"open,\nmore\n", "1:a;2!"},
	    {"utf8 kept", "jos\xc3\xa9,x\n", "1:jos\xc3\xa9|x"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf got;

		buf_init(&got);
		dump(cases[i].in, strlen(cases[i].in), &got);
		if (strcmp(got.data ? got.data : "", cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name,
			         got.data ? got.data : "", cases[i].want);
		buf_free(&got);
	}
}

static void test_csv_put(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"plain", "plain"},
	    {"a,b", "\"a,b\""},
	    {"say \"x\"", "\"say \"\"x\"\"\""},
	    {"two\nlines", "\"two\nlines\""},
	    {" lead", "\" lead\""},
	    {"", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;

		buf_init(&b);
		contacts_csv_put(&b, cases[i].in);
		if (strcmp(b.data ? b.data : "", cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].in, b.data ? b.data : "",
			         cases[i].want);
		buf_free(&b);
	}
}

/* ---- whole runs ---- */

struct outputs {
	char *report, *out, *errors;
	size_t rlen, olen, elen;
	FILE *rf, *of, *ef;
};

static void outputs_open(struct outputs *o)
{
	memset(o, 0, sizeof(*o));
	o->rf = open_memstream(&o->report, &o->rlen);
	o->of = open_memstream(&o->out, &o->olen);
	o->ef = open_memstream(&o->errors, &o->elen);
}

static void outputs_close(struct outputs *o)
{
	fclose(o->rf);
	fclose(o->of);
	fclose(o->ef);
}

static void outputs_free(struct outputs *o)
{
	free(o->report);
	free(o->out);
	free(o->errors);
}

static void expect_text(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("%s:\ngot:\n%s\nwant:\n%s", what, got, want);
}

static const struct tdns_rr RRS[] = {
    {"ok.test", TDNS_MX, "mx.ok.test", 10},
    {"mx.ok.test", TDNS_A, "127.0.0.1", 0},
    {"implicit.test", TDNS_A, "127.0.0.2", 0},
    {"nullmx.test", TDNS_MX, ".", 0},
    {"noaddr.test", TDNS_MX, "ghost.test", 10},
    {"empty.test", TDNS_TXT, "v=spf1 -all", 0},
    {NULL, 0, NULL, 0},
};
static const char *const SERVFAIL[] = {"fail.test", NULL};

static void test_run_real_resolver(void **state)
{
	static const char list[] = "\xEF\xBB\xBF"
	                           "Name,E-Mail,Note\r\n"
	                           "Ann,ann@ok.test,\"first, kept\"\r\n"
	                           "Ben,ben@implicit.test,kept\r\n"
	                           "Cat,cat@nullmx.test,x\r\n"
	                           "Dan,dan@noaddr.test,x\r\n"
	                           "Eve,eve@empty.test,x\r\n"
	                           "Fay,fay@gone.test,x\r\n"
	                           "Gus,gus@fail.test,x\r\n"
	                           "Hal,hal@gmial.com,x\r\n"
	                           "Ian,ian smith@ok.test,x\r\n"
	                           "Bad,\"broken\"x,x\r\n"
	                           "Jo,  JO@OK.TEST ,\"last\"\r\n";
	static const char want_report[] =
	    "address,verdict,detail,suggestion\n"
	    "ann@ok.test,ok,,\n"
	    "ben@implicit.test,ok,no MX record: mail goes to the domain's own address,\n"
	    "cat@nullmx.test,nomail,nullmx.test publishes a null MX (RFC 7505): it accepts no "
	    "mail,\n"
	    "dan@noaddr.test,nomail,the mail servers (MX) of noaddr.test have no address,\n"
	    "eve@empty.test,nomail,empty.test has no MX and no A/AAAA record: it has no mail "
	    "server,\n"
	    "fay@gone.test,nodomain,the domain gone.test does not exist,\n"
	    "gus@fail.test,dnserror,DNS lookup of fail.test failed for now (Could not contact DNS "
	    "servers): check again later,\n"
	    "hal@gmial.com,typo,gmial.com looks like a misspelling of gmail.com,hal@gmail.com\n"
	    "ian smith@ok.test,syntax,position 4: a space is not allowed in the local part (unless "
	    "it "
	    "is quoted),\n"
	    "JO@OK.TEST,ok,,\n";
	static const char want_out[] = "\xEF\xBB\xBF"
	                               "Name,E-Mail,Note\r\n"
	                               "Ann,ann@ok.test,\"first, kept\"\r\n"
	                               "Ben,ben@implicit.test,kept\r\n"
	                               "Jo,  JO@OK.TEST ,\"last\"\r\n";
	struct event_base *base = event_base_new();
	struct tdns dns;
	struct contacts_options o;
	struct contacts_summary sum;
	struct outputs out;
	char servers[64], err[300];
	FILE *in = fmemopen((void *)list, sizeof(list) - 1, "r");

	(void)state;
	tdns_start(&dns, base, RRS);
	dns.servfail = SERVFAIL;
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", dns.port);
	outputs_open(&out);
	memset(&o, 0, sizeof(o));
	o.input_name = "list.csv";
	o.report = out.rf;
	o.out = out.of;
	o.errors = out.ef;
	o.dns_servers = servers;
	o.dns_timeout_ms = 500;
	o.base = base;
	if (contacts_check(in, &o, &sum, err, sizeof(err)) != 0)
		fail_msg("contacts_check: %s", err);
	outputs_close(&out);
	expect_text("report", out.report, want_report);
	expect_text("cleaned list", out.out, want_out);
	expect_text(
	    "errors", out.errors,
	    "list.csv:11: only a comma or the end of the line may follow a closing quote\n");
	if (sum.rows != 10 || sum.n[CONTACTS_OK] != 3 || sum.n[CONTACTS_NOMAIL] != 3 ||
	    sum.n[CONTACTS_NODOMAIN] != 1 || sum.n[CONTACTS_DNSERROR] != 1 ||
	    sum.n[CONTACTS_TYPO] != 1 || sum.n[CONTACTS_SYNTAX] != 1 || sum.malformed != 1 ||
	    sum.written != 3)
		fail_msg("summary: got rows %llu ok %llu nomail %llu malformed %llu written %llu, "
		         "want 10 3 3 1 3",
		         (unsigned long long)sum.rows, (unsigned long long)sum.n[CONTACTS_OK],
		         (unsigned long long)sum.n[CONTACTS_NOMAIL],
		         (unsigned long long)sum.malformed, (unsigned long long)sum.written);
	/* ok.test once for Ann and Jo: one lookup per distinct domain */
	if (sum.domains != 7)
		fail_msg("domains looked up: got %llu, want 7", (unsigned long long)sum.domains);
	outputs_free(&out);
	fclose(in);
	tdns_stop(&dns);
	event_base_free(base);
}

/* The seam: answers come back in reverse order of the requests, after a
 * turn of the loop, and every request is counted. */
struct fake {
	struct event_base *base;
	int calls[8];
	char names[8][64];
	size_t n;
	struct {
		deliver_dns_fn fn;
		void *arg;
		char name[64];
	} pending[8];
	size_t n_pending;
	struct event *ev;
};

static void fake_answer(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;

	(void)fd;
	(void)what;
	while (f->n_pending > 0) {
		struct deliver_dns_answer a;
		size_t i = --f->n_pending;

		memset(&a, 0, sizeof(a));
		a.status = strncmp(f->pending[i].name, "nx", 2) == 0 ? DELIVER_DNS_NXDOMAIN
		                                                     : DELIVER_DNS_OK;
		f->pending[i].fn(f->pending[i].name, &a, f->pending[i].arg);
	}
}

static void fake_lookup(void *ctx, const char *domain, deliver_dns_fn fn, void *arg)
{
	struct fake *f = ctx;
	size_t i;
	struct timeval tv = {0, 1000};

	for (i = 0; i < f->n && strcmp(f->names[i], domain) != 0; i++)
		;
	if (i == f->n)
		util_strlcpy(f->names[f->n++], domain, sizeof(f->names[0]));
	f->calls[i]++;
	util_strlcpy(f->pending[f->n_pending].name, domain, sizeof(f->pending[0].name));
	f->pending[f->n_pending].fn = fn;
	f->pending[f->n_pending++].arg = arg;
	evtimer_add(f->ev, &tv);
}

static void test_run_seam_order_and_cache(void **state)
{
	static const char list[] = "joe@a.example\nann@nx.example\nbob@a.example\n"
	                           "cy@b.example\ndi@A.Example\n";
	static const char want[] = "address,verdict,detail,suggestion\n"
	                           "joe@a.example,ok,,\n"
	                           "ann@nx.example,nodomain,the domain nx.example does not exist,\n"
	                           "bob@a.example,ok,,\n"
	                           "cy@b.example,ok,,\n"
	                           "di@A.Example,ok,,\n";
	struct fake f;
	struct contacts_options o;
	struct contacts_summary sum;
	struct outputs out;
	char err[300];
	FILE *in = fmemopen((void *)list, sizeof(list) - 1, "r");

	(void)state;
	memset(&f, 0, sizeof(f));
	f.base = event_base_new();
	f.ev = evtimer_new(f.base, fake_answer, &f);
	outputs_open(&out);
	memset(&o, 0, sizeof(o));
	o.report = out.rf;
	o.out = out.of;
	o.errors = out.ef;
	o.base = f.base;
	o.lookup = fake_lookup;
	o.lookup_ctx = &f;
	if (contacts_check(in, &o, &sum, err, sizeof(err)) != 0)
		fail_msg("contacts_check: %s", err);
	outputs_close(&out);
	expect_text("report", out.report, want);
	/* no header line (line 1 holds an address): ok rows only */
	expect_text("cleaned list", out.out,
	            "joe@a.example\nbob@a.example\ncy@b.example\ndi@A.Example\n");
	if (f.n != 3)
		fail_msg("distinct domains asked: got %zu, want 3", f.n);
	for (size_t i = 0; i < f.n; i++)
		if (f.calls[i] != 1)
			fail_msg("%s: got %d lookups, want 1", f.names[i], f.calls[i]);
	outputs_free(&out);
	fclose(in);
	event_free(f.ev);
	event_base_free(f.base);
}

static void test_run_header_column(void **state)
{
	/* "email" in any column and case; the first column otherwise */
	static const struct {
		const char *list, *want_first;
	} cases[] = {
	    {"name,EMAIL\nJoe,joe@x.example\n", "joe@x.example,"},
	    {"address,name\njoe@x.example,Joe\n", "joe@x.example,"},
	    {"joe@x.example,Joe\n", "joe@x.example,"},
	    {"Email Address;x\n", NULL}, /* header only: nothing checked */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f;
		struct contacts_options o;
		struct contacts_summary sum;
		struct outputs out;
		char err[300];
		FILE *in = fmemopen((void *)cases[i].list, strlen(cases[i].list), "r");
		const char *line2;

		memset(&f, 0, sizeof(f));
		f.base = event_base_new();
		f.ev = evtimer_new(f.base, fake_answer, &f);
		outputs_open(&out);
		memset(&o, 0, sizeof(o));
		o.report = out.rf;
		o.errors = out.ef;
		o.base = f.base;
		o.lookup = fake_lookup;
		o.lookup_ctx = &f;
		assert_int_equal(contacts_check(in, &o, &sum, err, sizeof(err)), 0);
		outputs_close(&out);
		line2 = strchr(out.report, '\n') + 1;
		if (cases[i].want_first == NULL && *line2 != '\0')
			fail_msg("case %zu: got %s, want no rows", i, line2);
		if (cases[i].want_first != NULL &&
		    strncmp(line2, cases[i].want_first, strlen(cases[i].want_first)) != 0)
			fail_msg("case %zu: got %s, want it to start with %s", i, line2,
			         cases[i].want_first);
		outputs_free(&out);
		fclose(in);
		event_free(f.ev);
		event_base_free(f.base);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csv_reader),
	    cmocka_unit_test(test_csv_put),
	    cmocka_unit_test(test_run_real_resolver),
	    cmocka_unit_test(test_run_seam_order_and_cache),
	    cmocka_unit_test(test_run_header_column),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
