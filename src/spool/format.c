/*
 * format.c - the on-disk format of one queued message, as pure functions
 * from memory to memory (no I/O here, so the fuzz target sees exactly what
 * recovery sees).
 *
 * Format version 1. One file per message, named by its queue id:
 *
 *   HEADER    64 bytes: "MAILERD-SPOOL 1 BBBBBBBBBBBBBBBB EEEEEEEE CCCCCCCC"
 *             padded with spaces, ending in "\n". B = body length, E =
 *             envelope length, C = CRC-32 of the envelope, all lower-case
 *             hex. A file still being received has "MAILERD-SPOOL 1
 *             receiving" instead, which never parses.
 *   BODY      B bytes of SMTP wire form (spool.h), starting at offset 64.
 *   ENVELOPE  E bytes of text lines, in this order:
 *               sender ADDR
 *               envid XTEXT
 *               ret unset|full|hdrs
 *               smtputf8 0|1
 *               eightbit 0|1
 *               origin smtp|local|report
 *               arrival MS
 *               client TEXT
 *               rcpt ADDR ORCPT NOTIFY      (one per recipient, in order)
 *               end N_RCPT
 *   STATE     records appended later, each on one line:
 *               R LLLLLLLL CCCCCCCC PAYLOAD
 *             L = length of PAYLOAD, C = its CRC-32 (hex). Payloads:
 *               rcpt IDX STATE ATTEMPTS NEXT_MS LAST_MS KIND CODE STATUS REMOTE TEXT [RFLAGS]
 *               flags HELD DELAY_WARNINGS_SENT
 *             STATE is pending|deferred|delivered|failed, KIND ok|temp|perm.
 *             RFLAGS (optional, decimal bit set, written only when not 0,
 *             so records without report bookkeeping stay byte for byte
 *             what earlier writers wrote): 1 = reported (the final report
 *             is durable), 2 = relayed (delivered to a hop without DSN).
 *             A record without it means 0.
 *
 * Why this layout: the body arrives first and the envelope is only final
 * at the end of DATA, so the writer streams the body behind a reserved
 * header and fills it in at commit; the envelope sits behind the body and
 * the state section grows with O_APPEND, all in one file so commit,
 * rename and unlink stay atomic per message.
 *
 * Text values (addresses, ORCPT, remote replies) are escaped: every byte
 * 0x00-0x20, 0x7f and '%' becomes %XX, so a value is one token that can
 * hold no space and no line end, and a remote reply can never forge a
 * record. The empty value is written "-" (and "-" itself as %2D).
 *
 * How it fails: a damaged header or envelope (CRC, syntax, limits) makes
 * the whole file unparsable; the caller moves it to corrupt/. A damaged
 * state record (a torn append after a crash, or garbage left by a failed
 * write) is skipped and the records before and after it stand; each
 * append starts with a "\n" so the line after a torn record is intact.
 * Later records win over earlier ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool_int.h"

#define HEADER_MAGIC "MAILERD-SPOOL 1 "
#define ENVELOPE_MAX (4u << 20) /* 1000 recipients of escaped 256+500 bytes fit */
#define TOKENS_MAX   12

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	/* IEEE 802.3 polynomial, reflected: the CRC of zlib and PNG */
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t spool_crc32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = 0xffffffffu;

	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* ---- escaping ---- */

/* put_escaped - one value as one token. Bytes >= 0x80 stay as they are:
 * UTF-8 addresses (RFC 6531) remain readable in the file, and no byte of
 * a multi-byte sequence can be a space or a line end. */
static void put_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	if (s[0] == '\0') {
		buf_putc(b, '-');
		return;
	}
	if (strcmp(s, "-") == 0) {
		buf_puts(b, "%2D");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%') {
			buf_putc(b, '%');
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 15]);
		} else {
			buf_putc(b, (char)*p);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* unescape - one token into out (size includes the NUL); -1 when the
 * escape is malformed, decodes to NUL, or does not fit */
static int unescape(const char *in, size_t inlen, char *out, size_t size)
{
	size_t o = 0;

	if (inlen == 1 && in[0] == '-') {
		out[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= inlen)
				return -1;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* ---- numbers ---- */

/* parse_i64 - strict decimal: no sign but '-', no spaces, no overflow,
 * within [min, max]; anything laxer would let damage pass as a value */
static int parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	bool neg = false;
	int64_t v = 0;
	size_t i = 0;

	if (len > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i >= len || len - i > 19)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_hex(const char *s, size_t digits, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < digits; i++) {
		int d = hexval(s[i]);
		if (d < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return -1; /* the writer uses lower case only */
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* ---- header ---- */

void spool_format_header(const struct spool_header *h, char out[SPOOL_HEADER_LEN])
{
	char tmp[SPOOL_HEADER_LEN + 1];
	int n = snprintf(tmp, sizeof(tmp), HEADER_MAGIC "%016" PRIx64 " %08" PRIx32 " %08" PRIx32,
	                 h->body_len, h->env_len, h->env_crc);

	memset(out, ' ', SPOOL_HEADER_LEN);
	memcpy(out, tmp, (size_t)n);
	out[SPOOL_HEADER_LEN - 1] = '\n';
}

void spool_format_placeholder(char out[SPOOL_HEADER_LEN])
{
	static const char text[] = HEADER_MAGIC "receiving";

	memset(out, ' ', SPOOL_HEADER_LEN);
	memcpy(out, text, sizeof(text) - 1);
	out[SPOOL_HEADER_LEN - 1] = '\n';
}

/* spool_parse_header - exact match of the fixed layout; the reasons say
 * what a person finding the file in corrupt/ wants to know first */
int spool_parse_header(const char *d, size_t len, struct spool_header *h, char *why, size_t whylen)
{
	const size_t m = sizeof(HEADER_MAGIC) - 1;
	uint64_t v;

	if (len == 0) {
		snprintf(why, whylen, "empty file (its commit never completed)");
		return -1;
	}
	if (len < SPOOL_HEADER_LEN || memcmp(d, HEADER_MAGIC, m - 2) != 0) {
		snprintf(why, whylen, "no spool header");
		return -1;
	}
	if (memcmp(d, HEADER_MAGIC, m) != 0) {
		snprintf(why, whylen, "unsupported format version");
		return -1;
	}
	if (memcmp(d + m, "receiving", 9) == 0) {
		snprintf(why, whylen, "message never committed");
		return -1;
	}
	/* B(16) SP E(8) SP C(8), spaces, "\n" */
	if (d[m + 16] != ' ' || d[m + 25] != ' ' || d[SPOOL_HEADER_LEN - 1] != '\n')
		goto bad;
	for (size_t i = m + 34; i < SPOOL_HEADER_LEN - 1; i++)
		if (d[i] != ' ')
			goto bad;
	if (parse_hex(d + m, 16, &h->body_len) < 0)
		goto bad;
	if (parse_hex(d + m + 17, 8, &v) < 0)
		goto bad;
	h->env_len = (uint32_t)v;
	if (parse_hex(d + m + 26, 8, &v) < 0)
		goto bad;
	h->env_crc = (uint32_t)v;
	if (h->env_len == 0 || h->env_len > ENVELOPE_MAX || h->body_len > (uint64_t)1 << 40) {
		snprintf(why, whylen, "header lengths out of range");
		return -1;
	}
	return 0;
bad:
	snprintf(why, whylen, "malformed spool header");
	return -1;
}

/* ---- envelope ---- */

static const char *const ret_names[] = {"unset", "full", "hdrs"};
static const char *const origin_names[] = {"smtp", "local", "report"};
static const char *const state_names[] = {"pending", "deferred", "delivered", "failed"};
static const char *const kind_names[] = {"ok", "temp", "perm"};

static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : names[0];
}

static int name_find(const char *const *names, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return (int)i;
	return -1;
}
#define NAME_OF(arr, v)      name_of(arr, sizeof(arr) / sizeof(arr[0]), (unsigned)(v))
#define NAME_FIND(arr, s, l) name_find(arr, sizeof(arr) / sizeof(arr[0]), s, l)

void spool_format_envelope(const struct spool_msg *m, struct buf *b)
{
	buf_puts(b, "sender ");
	put_escaped(b, m->sender);
	buf_puts(b, "\nenvid ");
	put_escaped(b, m->envid);
	buf_printf(b, "\nret %s\nsmtputf8 %d\neightbit %d\norigin %s\narrival %" PRId64 "\nclient ",
	           NAME_OF(ret_names, m->ret), m->smtputf8 ? 1 : 0, m->eightbit ? 1 : 0,
	           NAME_OF(origin_names, m->origin), m->arrival_ms);
	put_escaped(b, m->client);
	buf_putc(b, '\n');
	for (size_t i = 0; i < m->n_rcpt; i++) {
		buf_puts(b, "rcpt ");
		put_escaped(b, m->rcpt[i].addr);
		buf_putc(b, ' ');
		put_escaped(b, m->rcpt[i].orcpt);
		buf_printf(b, " %u\n", m->rcpt[i].notify & 15u);
	}
	buf_printf(b, "end %zu\n", m->n_rcpt);
}

/* A line cut into space-separated tokens (pointers into the data). */
struct tokens {
	size_t n;
	const char *s[TOKENS_MAX];
	size_t len[TOKENS_MAX];
};

/* tokenize - exactly one space between tokens (the writer never writes
 * two), so an empty token is damage, not an empty value ("-" is that) */
static int tokenize(const char *line, size_t len, struct tokens *t)
{
	size_t start = 0;

	t->n = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (i == start || t->n == TOKENS_MAX)
			return -1; /* empty token (double space) or too many */
		t->s[t->n] = line + start;
		t->len[t->n++] = i - start;
		start = i + 1;
	}
	return 0;
}

static bool tok_is(const struct tokens *t, size_t i, const char *word)
{
	return i < t->n && t->len[i] == strlen(word) && memcmp(t->s[i], word, t->len[i]) == 0;
}

/* next_line - the line at *pos (without "\n"); -1 at the end or when the
 * last line is unterminated */
static int next_line(const char *d, size_t len, size_t *pos, const char **line, size_t *linelen)
{
	const char *nl;

	if (*pos >= len)
		return -1;
	nl = memchr(d + *pos, '\n', len - *pos);
	if (nl == NULL)
		return -1;
	*line = d + *pos;
	*linelen = (size_t)(nl - *line);
	*pos = (size_t)(nl - d) + 1;
	return 0;
}

static int parse_bool(const struct tokens *t, bool *out)
{
	if (t->n != 2 || t->len[1] != 1 || (t->s[1][0] != '0' && t->s[1][0] != '1'))
		return -1;
	*out = t->s[1][0] == '1';
	return 0;
}

/* parse_envelope - keys in the writer's fixed order, each exactly once;
 * the CRC has already vouched for the bytes, so a mismatch here means a
 * writer of another format, and the file is set aside rather than guessed */
static int parse_envelope(struct spool_msg *m, const char *d, size_t len, char *why, size_t whylen)
{
	static const char *const keys[] = {"sender",   "envid",  "ret",     "smtputf8",
	                                   "eightbit", "origin", "arrival", "client"};
	size_t pos = 0, linelen;
	const char *line;
	struct tokens t;
	int64_t v = 0;
	int k;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (next_line(d, len, &pos, &line, &linelen) < 0 ||
		    tokenize(line, linelen, &t) < 0 || !tok_is(&t, 0, keys[i]) || t.n != 2)
			goto bad_key;
		switch (i) {
		case 0: k = unescape(t.s[1], t.len[1], m->sender, sizeof(m->sender)); break;
		case 1: k = unescape(t.s[1], t.len[1], m->envid, sizeof(m->envid)); break;
		case 2:
			k = NAME_FIND(ret_names, t.s[1], t.len[1]);
			m->ret = (enum dsn_ret)(k < 0 ? 0 : k);
			break;
		case 3: k = parse_bool(&t, &m->smtputf8); break;
		case 4: k = parse_bool(&t, &m->eightbit); break;
		case 5:
			k = NAME_FIND(origin_names, t.s[1], t.len[1]);
			m->origin = (enum spool_origin)(k < 0 ? 0 : k);
			break;
		case 6:
			k = parse_i64(t.s[1], t.len[1], 0, INT64_MAX, &v);
			m->arrival_ms = v;
			break;
		default: k = unescape(t.s[1], t.len[1], m->client, sizeof(m->client)); break;
		}
		if (k < 0)
			goto bad_key;
		continue;
	bad_key:
		snprintf(why, whylen, "envelope: bad or missing '%s' line", keys[i]);
		return -1;
	}
	for (;;) {
		struct spool_rcpt *r;
		char addr[SPOOL_PATH_MAX];

		if (next_line(d, len, &pos, &line, &linelen) < 0 ||
		    tokenize(line, linelen, &t) < 0) {
			snprintf(why, whylen, "envelope: missing 'end' line");
			return -1;
		}
		if (tok_is(&t, 0, "end"))
			break;
		if (!tok_is(&t, 0, "rcpt") || t.n != 4 || m->n_rcpt >= SPOOL_MAX_RCPT ||
		    unescape(t.s[1], t.len[1], addr, sizeof(addr)) < 0 ||
		    parse_i64(t.s[3], t.len[3], 0, 15, &v) < 0) {
			snprintf(why, whylen, "envelope: bad recipient line %zu", m->n_rcpt + 1);
			return -1;
		}
		r = spool_msg_add_rcpt(m, addr);
		if (unescape(t.s[2], t.len[2], r->orcpt, sizeof(r->orcpt)) < 0) {
			snprintf(why, whylen, "envelope: bad ORCPT on recipient line %zu",
			         m->n_rcpt);
			return -1;
		}
		r->notify = (unsigned)v;
	}
	if (t.n != 2 || parse_i64(t.s[1], t.len[1], 0, SPOOL_MAX_RCPT, &v) < 0 ||
	    (size_t)v != m->n_rcpt || pos != len) {
		snprintf(why, whylen, "envelope: recipient count does not match");
		return -1;
	}
	return 0;
}

/* ---- state records ---- */

/* Bits of the optional RFLAGS token of a rcpt record. */
enum { RFLAG_REPORTED = 1, RFLAG_RELAYED = 2, RFLAG_ALL = 3 };

static unsigned rflags(const struct spool_rcpt *r)
{
	return (r->reported ? RFLAG_REPORTED : 0u) | (r->relayed ? RFLAG_RELAYED : 0u);
}

void spool_format_state(const struct spool_msg *m, bool all, struct buf *b)
{
	struct buf p = {0};

	/* A leading line end: if an earlier append was torn, its garbage
	 * ends here and the first record below stays readable. */
	buf_putc(b, '\n');
	for (size_t i = 0; i <= m->n_rcpt; i++) {
		buf_reset(&p);
		if (i < m->n_rcpt) {
			const struct spool_rcpt *r = &m->rcpt[i];
			if (!all && !r->dirty)
				continue;
			buf_printf(&p, "rcpt %zu %s %d %" PRId64 " %" PRId64 " %s %d ", i,
			           NAME_OF(state_names, r->state), r->attempts, r->next_attempt_ms,
			           r->last_attempt_ms, NAME_OF(kind_names, r->last.kind),
			           r->last.code);
			put_escaped(&p, r->last.status);
			buf_putc(&p, ' ');
			put_escaped(&p, r->last.remote);
			buf_putc(&p, ' ');
			put_escaped(&p, r->last.text);
			if (rflags(r) != 0)
				buf_printf(&p, " %u", rflags(r));
		} else {
			buf_printf(&p, "flags %d %d", m->held ? 1 : 0, m->delay_warnings_sent);
		}
		buf_printf(b, "R %08zx %08" PRIx32 " ", p.len, spool_crc32(p.data, p.len));
		buf_append(b, p.data, p.len);
		buf_putc(b, '\n');
	}
	buf_free(&p);
}

/* apply_record - one checked payload onto m; -1 if it makes no sense
 * (an index past the recipients, an unknown state): the record is then
 * ignored, the message itself is still good */
static int apply_record(struct spool_msg *m, const char *p, size_t len)
{
	struct tokens t;
	int64_t idx, att, next, last, code, held, dw, fl = 0;
	int state, kind;
	struct spool_rcpt *r;
	struct outcome o = {0};

	if (tokenize(p, len, &t) < 0)
		return -1;
	if (tok_is(&t, 0, "flags")) {
		if (t.n != 3 || parse_i64(t.s[1], t.len[1], 0, 1, &held) < 0 ||
		    parse_i64(t.s[2], t.len[2], 0, INT32_MAX, &dw) < 0)
			return -1;
		m->held = held == 1;
		m->delay_warnings_sent = (int)dw;
		return 0;
	}
	if (!tok_is(&t, 0, "rcpt") || (t.n != 11 && t.n != 12))
		return -1;
	if (t.n == 12 && parse_i64(t.s[11], t.len[11], 0, RFLAG_ALL, &fl) < 0)
		return -1;
	state = NAME_FIND(state_names, t.s[2], t.len[2]);
	kind = NAME_FIND(kind_names, t.s[6], t.len[6]);
	if (parse_i64(t.s[1], t.len[1], 0, SPOOL_MAX_RCPT, &idx) < 0 || (size_t)idx >= m->n_rcpt ||
	    state < 0 || kind < 0 || parse_i64(t.s[3], t.len[3], 0, INT32_MAX, &att) < 0 ||
	    parse_i64(t.s[4], t.len[4], INT64_MIN + 1, INT64_MAX, &next) < 0 ||
	    parse_i64(t.s[5], t.len[5], INT64_MIN + 1, INT64_MAX, &last) < 0 ||
	    parse_i64(t.s[7], t.len[7], 0, 999, &code) < 0 ||
	    unescape(t.s[8], t.len[8], o.status, sizeof(o.status)) < 0 ||
	    unescape(t.s[9], t.len[9], o.remote, sizeof(o.remote)) < 0 ||
	    unescape(t.s[10], t.len[10], o.text, sizeof(o.text)) < 0)
		return -1;
	r = &m->rcpt[idx];
	r->state = (enum rcpt_state)state;
	r->attempts = (int)att;
	r->next_attempt_ms = next;
	r->last_attempt_ms = last;
	o.kind = (enum outcome_kind)kind;
	o.code = (int)code;
	r->last = o;
	r->reported = (fl & RFLAG_REPORTED) != 0;
	r->relayed = (fl & RFLAG_RELAYED) != 0;
	return 0;
}

/* replay - every checked record in order; unchecked lines are skipped */
static void replay(struct spool_msg *m, const char *d, size_t len)
{
	size_t pos = 0, linelen;
	const char *line;
	uint64_t plen, crc;

	while (next_line(d, len, &pos, &line, &linelen) == 0) {
		if (linelen < 20 || memcmp(line, "R ", 2) != 0 || line[10] != ' ' ||
		    line[19] != ' ')
			continue;
		if (parse_hex(line + 2, 8, &plen) < 0 || parse_hex(line + 11, 8, &crc) < 0)
			continue;
		if (plen != linelen - 20 || spool_crc32(line + 20, (size_t)plen) != crc)
			continue;
		if (apply_record(m, line + 20, (size_t)plen) < 0)
			log_warn("spool: ignoring a checked but unusable state record");
	}
	/* an unterminated last line is a torn append: the state before it
	 * stands, which is what skipping it does */
}

struct spool_msg *spool_parse_meta(const struct spool_header *h, const char *data, size_t len,
                                   char *why, size_t whylen)
{
	struct spool_msg *m;

	if (len < h->env_len) {
		snprintf(why, whylen, "file shorter than its header says");
		return NULL;
	}
	if (spool_crc32(data, h->env_len) != h->env_crc) {
		snprintf(why, whylen, "envelope checksum mismatch");
		return NULL;
	}
	m = spool_msg_new();
	if (parse_envelope(m, data, h->env_len, why, whylen) < 0) {
		spool_msg_free(m);
		return NULL;
	}
	m->body_len = (size_t)h->body_len;
	replay(m, data + h->env_len, len - h->env_len);
	return m;
}

struct spool_msg *spool_parse_file(const char *data, size_t len, char *why, size_t whylen)
{
	struct spool_header h;
	size_t off;

	if (spool_parse_header(data, len, &h, why, whylen) < 0)
		return NULL;
	off = SPOOL_HEADER_LEN + (size_t)h.body_len;
	if (h.body_len > len || off > len) {
		snprintf(why, whylen, "file shorter than its header says");
		return NULL;
	}
	return spool_parse_meta(&h, data + off, len - off, why, whylen);
}
