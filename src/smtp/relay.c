/*
 * relay.c - the relay decision: mailerd is never an open relay.
 *
 * A recipient is accepted when the client's address is inside one of the
 * `relay_networks` CIDR blocks (IPv4 or IPv6; an IPv4-mapped IPv6 client
 * is matched as IPv4), or when the recipient's domain is one of
 * `local_domains`, or when it is the bare "postmaster" (RFC 5321 section
 * 4.5.1). Everything else gets 554 5.7.1 from the session.
 *
 * No backscatter (smtp_relay_check, issue 3): mailerd keeps no local
 * mailboxes, so of a local domain a client outside relay_networks reaches
 * only postmaster@that-domain (RFC 5321 section 4.5.1 requires it); any
 * other local recipient is refused at RCPT time with 550 5.1.1. Accepting
 * it and bouncing later would send a report to a sender address that is
 * most likely forged. (The bounce domain's signed return paths will be
 * let through here.)
 *
 * The recipient's domain is always the text after the last '@' that is not
 * inside a quoted string, exactly as the next hop will route it. We never
 * interpret '%' (percent hack) or '!' (UUCP bang paths) in local parts, so
 * "victim%foreign@local" is mail for "local", which is where it will go.
 * Domains compare ASCII case-insensitively with one trailing dot ignored.
 * Address literals are never local unless listed literally.
 *
 * The lists are parsed once (smtp_relay_new); a malformed CIDR is an error
 * at start-up, never a silent "match nothing".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/internal.h"

struct net {
	int af;
	unsigned char addr[16];
	int prefix;
};

struct smtp_relay {
	struct net *nets;
	size_t nnets;
	char **domains;
	size_t ndomains;
};

typedef int (*item_fn)(struct smtp_relay *r, const char *item, char *err, size_t errlen);

/* each_item - items separated by commas and/or white space */
static int each_item(struct smtp_relay *r, const char *list, item_fn fn, char *err, size_t errlen)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		char item[300];
		size_t n = 0;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		while (p[n] != '\0' && p[n] != ',' && p[n] != ' ' && p[n] != '\t')
			n++;
		if (n == 0)
			break;
		if (n >= sizeof(item)) {
			snprintf(err, errlen, "list item too long: %.40s...", p);
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (fn(r, item, err, errlen) < 0)
			return -1;
		p += n;
	}
	return 0;
}

/* parse_ip - numeric IPv4 or IPv6; IPv4-mapped IPv6 becomes IPv4 */
static int parse_ip(const char *s, int *af, unsigned char *addr)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (inet_pton(AF_INET, s, addr) == 1) {
		*af = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*af = AF_INET6;
		if (memcmp(addr, mapped, 12) == 0) {
			memmove(addr, addr + 12, 4);
			*af = AF_INET;
		}
		return 0;
	}
	return -1;
}

static int add_net(struct smtp_relay *r, const char *item, char *err, size_t errlen)
{
	char host[300];
	const char *slash = strchr(item, '/');
	struct net n = {0};
	bool mapped;
	int max;

	util_strlcpy(host, item, sizeof(host));
	if (slash != NULL)
		host[slash - item] = '\0';
	/* "[::1]/128" as some configs write it */
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (parse_ip(host, &n.af, n.addr) < 0)
		goto bad;
	/* "::ffff:10.0.0.0/104" is kept as IPv4 with the prefix less 96 */
	mapped = n.af == AF_INET && strchr(host, ':') != NULL;
	max = (n.af == AF_INET6 || mapped) ? 128 : 32;
	n.prefix = max;
	if (slash != NULL) {
		char *end;
		long v;

		if (slash[1] < '0' || slash[1] > '9')
			goto bad;
		v = strtol(slash + 1, &end, 10);
		if (*end != '\0' || v < 0 || v > max)
			goto bad;
		n.prefix = (int)v;
	}
	if (mapped)
		n.prefix = n.prefix >= 96 ? n.prefix - 96 : 0;
	r->nets = xrealloc(r->nets, (r->nnets + 1) * sizeof(*r->nets));
	r->nets[r->nnets++] = n;
	return 0;
bad:
	snprintf(err, errlen, "relay_networks: bad CIDR '%s'", item);
	return -1;
}

static int add_domain(struct smtp_relay *r, const char *item, char *err, size_t errlen)
{
	char *d = xstrdup(item);
	size_t n = strlen(d);

	if (n > 1 && d[n - 1] == '.')
		d[--n] = '\0';
	if (!smtp_domain_valid(d, n)) {
		snprintf(err, errlen, "local_domains: bad domain '%s'", item);
		free(d);
		return -1;
	}
	util_lowercase(d);
	r->domains = xrealloc(r->domains, (r->ndomains + 1) * sizeof(*r->domains));
	r->domains[r->ndomains++] = d;
	return 0;
}

struct smtp_relay *smtp_relay_new(const char *networks, const char *local_domains, char *err,
                                  size_t errlen)
{
	struct smtp_relay *r = xcalloc(1, sizeof(*r));

	if (each_item(r, networks, add_net, err, errlen) < 0 ||
	    each_item(r, local_domains, add_domain, err, errlen) < 0) {
		smtp_relay_free(r);
		return NULL;
	}
	return r;
}

void smtp_relay_free(struct smtp_relay *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ndomains; i++)
		free(r->domains[i]);
	free(r->domains);
	free(r->nets);
	free(r);
}

static bool net_match(const struct net *n, int af, const unsigned char *a)
{
	int full = n->prefix / 8, rest = n->prefix % 8;

	if (n->af != af)
		return false;
	if (memcmp(n->addr, a, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((n->addr[full] ^ a[full]) & (0xFF << (8 - rest)) & 0xFF) == 0;
}

bool smtp_relay_client_trusted(const struct smtp_relay *r, const char *client_ip)
{
	unsigned char a[16];
	int af;

	if (r == NULL || client_ip == NULL || parse_ip(client_ip, &af, a) < 0)
		return false;
	for (size_t i = 0; i < r->nnets; i++)
		if (net_match(&r->nets[i], af, a))
			return true;
	return false;
}

bool smtp_relay_domain_local(const struct smtp_relay *r, const char *domain)
{
	size_t n;

	if (r == NULL || domain == NULL)
		return false;
	n = strlen(domain);
	if (n > 1 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < r->ndomains; i++)
		if (strlen(r->domains[i]) == n && strncasecmp(r->domains[i], domain, n) == 0)
			return true;
	return false;
}

const char *smtp_addr_domain(const char *addr)
{
	const char *at = NULL;
	bool quoted = false, literal = false;

	for (const char *p = addr; *p != '\0'; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++; /* quoted pair: the next byte is literal */
		else if (literal)
			literal = *p != ']';
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '[')
			literal = true; /* "[tag:x@y]" may hold '@' (dcontent) */
		else if (!quoted && *p == '@')
			at = p;
	}
	return at != NULL ? at + 1 : NULL;
}

/* is_postmaster - the local part is "postmaster", any case (RFC 5321
 * section 4.5.1); quoted forms are not the postmaster */
static bool is_postmaster(const char *rcpt, const char *domain)
{
	size_t local = domain != NULL ? (size_t)(domain - 1 - rcpt) : strlen(rcpt);

	return local == 10 && strncasecmp(rcpt, "postmaster", 10) == 0;
}

enum smtp_rcpt_verdict smtp_relay_check(const struct smtp_relay *r, const char *client_ip,
                                        const char *rcpt)
{
	const char *d;

	if (smtp_relay_client_trusted(r, client_ip))
		return SMTP_RCPT_ACCEPT;
	d = smtp_addr_domain(rcpt);
	if (d == NULL)
		return is_postmaster(rcpt, NULL) ? SMTP_RCPT_ACCEPT : SMTP_RCPT_RELAY_DENIED;
	if (*d == '\0' || !smtp_relay_domain_local(r, d))
		return SMTP_RCPT_RELAY_DENIED;
	return is_postmaster(rcpt, d) ? SMTP_RCPT_ACCEPT : SMTP_RCPT_NO_SUCH_USER;
}

bool smtp_relay_allowed(const struct smtp_relay *r, const char *client_ip, const char *rcpt)
{
	const char *d;

	if (smtp_relay_client_trusted(r, client_ip))
		return true;
	d = smtp_addr_domain(rcpt);
	if (d == NULL)
		return strcasecmp(rcpt, "postmaster") == 0;
	return *d != '\0' && smtp_relay_domain_local(r, d);
}
