/*
 * transport.c - the transport_map setting (smarthosts and test routes) and
 * address literals.
 *
 * Syntax: comma-separated "domain=next-hop" entries, where next-hop is
 *   [host]:port  [host]   connect to host's own addresses, no MX lookup
 *   host:port    host     MX lookup of host (like a domain)
 *   [192.0.2.1]:port  [IPv6:2001:db8::1]  [::1]:port  192.0.2.1:port
 *                         an IP address: no DNS at all
 * and domain is a name (exact match, case-insensitive), ".name" (every
 * subdomain of name) or "*" (everything else: a smarthost). A missing port
 * means smtp_port. The same bracket convention as Postfix's relayhost.
 *
 * Parsed once in deliver_new; a bad entry is a start-up error whose message
 * names the entry. Pure: no I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "deliver/internal.h"
#include "util/util.h"

int deliver_parse_ip(const char *s, struct sockaddr_storage *sa, socklen_t *salen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len = strlen(s);
	const char *p = s;
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		p = s + 1;
		len -= 2;
	}
	if (len >= 5 && strncasecmp(p, "IPv6:", 5) == 0) {
		p += 5;
		len -= 5;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*salen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*salen = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* RFC 1035 host name characters (letters, digits, '-', '.', and '_' which
 * real MX names sometimes carry). */
static bool deliver_hostname_ok(const char *h)
{
	if (*h == '\0' || *h == '.' || *h == '-')
		return false;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && *h != '-' && *h != '.' && *h != '_')
			return false;
	return true;
}

static bool deliver_domain_key_ok(const char *d)
{
	if (strcmp(d, "*") == 0)
		return true;
	if (*d == '.')
		d++;
	return deliver_hostname_ok(d);
}

struct deliver_tp_ctx {
	struct deliver_transport *t;
	unsigned default_port;
	char *err;
	size_t errlen;
};

/* Parses "host", "host:port", "[host]", "[host]:port" into r. */
static int deliver_parse_hop(const char *hop, unsigned default_port, struct deliver_route *r,
                             const char **why)
{
	const char *host = hop, *port = NULL;
	size_t hlen;
	struct sockaddr_storage sa;
	socklen_t salen;

	r->port = default_port;
	r->no_mx = false;
	if (*hop == '[') {
		const char *close = strchr(hop, ']');
		if (close == NULL) {
			*why = "missing ']'";
			return -1;
		}
		host = hop + 1;
		hlen = (size_t)(close - host);
		r->no_mx = true;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			*why = "junk after ']'";
			return -1;
		}
	} else {
		const char *colon = strchr(hop, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			*why = "IPv6 address must be in [ ]";
			return -1;
		}
		hlen = colon != NULL ? (size_t)(colon - hop) : strlen(hop);
		if (colon != NULL)
			port = colon + 1;
	}
	if (hlen == 0) {
		*why = "empty host";
		return -1;
	}
	if (hlen >= sizeof(r->host)) {
		*why = "host name too long";
		return -1;
	}
	memcpy(r->host, host, hlen);
	r->host[hlen] = '\0';
	if (port != NULL) {
		char *end;
		unsigned long v = strtoul(port, &end, 10);
		if (*port == '\0' || *end != '\0' || !isdigit((unsigned char)*port) || v == 0 ||
		    v > 65535) {
			*why = "bad port";
			return -1;
		}
		r->port = (unsigned)v;
	}
	r->literal = deliver_parse_ip(r->host, &sa, &salen) == 0;
	if (r->literal) {
		/* keep the bare address text: "IPv6:" is literal syntax only */
		if (strncasecmp(r->host, "IPv6:", 5) == 0)
			memmove(r->host, r->host + 5, strlen(r->host + 5) + 1);
		r->no_mx = true;
		return 0;
	}
	if (!deliver_hostname_ok(r->host)) {
		*why = "bad host name";
		return -1;
	}
	util_lowercase(r->host);
	return 0;
}

static int deliver_tp_item(const char *item, void *arg)
{
	struct deliver_tp_ctx *c = arg;
	struct deliver_route r;
	const char *eq = strchr(item, '=');
	const char *why = NULL;
	char keybuf[256], hopbuf[600];
	char *key, *hop;
	size_t klen;

	memset(&r, 0, sizeof(r));
	if (eq == NULL) {
		why = "expected domain=host";
		goto bad;
	}
	klen = (size_t)(eq - item);
	if (klen >= sizeof(keybuf) || strlen(eq + 1) >= sizeof(hopbuf)) {
		why = "too long";
		goto bad;
	}
	memcpy(keybuf, item, klen);
	keybuf[klen] = '\0';
	util_strlcpy(hopbuf, eq + 1, sizeof(hopbuf));
	key = util_trim(keybuf);
	hop = util_trim(hopbuf);
	util_lowercase(key);
	if (!deliver_domain_key_ok(key)) {
		why = "bad domain";
		goto bad;
	}
	util_strlcpy(r.domain, key, sizeof(r.domain));
	if (deliver_parse_hop(hop, c->default_port, &r, &why) < 0)
		goto bad;
	for (size_t i = 0; i < c->t->n; i++) {
		if (strcmp(c->t->route[i].domain, r.domain) == 0) {
			why = "duplicate domain";
			goto bad;
		}
	}
	c->t->route = xrealloc(c->t->route, (c->t->n + 1) * sizeof(*c->t->route));
	c->t->route[c->t->n++] = r;
	return 0;
bad:
	snprintf(c->err, c->errlen, "transport_map: entry \"%s\": %s", item, why);
	return -1;
}

int deliver_transport_parse(const char *spec, unsigned default_port, struct deliver_transport *t,
                            char *err, size_t errlen)
{
	struct deliver_tp_ctx c = {t, default_port, err, errlen};

	t->route = NULL;
	t->n = 0;
	if (config_each_item(spec, deliver_tp_item, &c) != 0) {
		deliver_transport_clear(t);
		return -1;
	}
	return 0;
}

void deliver_transport_clear(struct deliver_transport *t)
{
	free(t->route);
	t->route = NULL;
	t->n = 0;
}

const struct deliver_route *deliver_transport_find(const struct deliver_transport *t,
                                                   const char *domain)
{
	const struct deliver_route *best = NULL, *star = NULL;
	size_t dlen = strlen(domain), best_len = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct deliver_route *r = &t->route[i];
		size_t rlen = strlen(r->domain);

		if (strcmp(r->domain, "*") == 0) {
			star = r;
		} else if (r->domain[0] != '.') {
			if (strcasecmp(r->domain, domain) == 0)
				return r; /* exact wins outright */
		} else if (dlen > rlen && strcasecmp(domain + dlen - rlen, r->domain) == 0 &&
		           rlen > best_len) {
			best = r;
			best_len = rlen;
		}
	}
	return best != NULL ? best : star;
}

int deliver_transport_check(const char *spec, char *err, size_t errlen)
{
	struct deliver_transport t;
	int r;

	memset(&t, 0, sizeof(t));
	r = deliver_transport_parse(spec, 25, &t, err, errlen);
	deliver_transport_clear(&t);
	return r;
}
