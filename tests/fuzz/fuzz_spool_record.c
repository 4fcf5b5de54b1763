/*
 * fuzz_spool_record.c - arbitrary bytes as a spool file, through the same
 * parser recovery uses (spool_parse_file: header, envelope, replay of the
 * state records). Besides "no crash, no leak, no UB", it checks a round
 * trip: whatever parses is written again by the writer's own formatter and
 * must parse to the same envelope and state, so escaping can never let a
 * parsed value forge or lose a record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool_int.h"

static void check_same(const struct spool_msg *a, const struct spool_msg *b)
{
	if (strcmp(a->sender, b->sender) != 0 || strcmp(a->envid, b->envid) != 0 ||
	    strcmp(a->client, b->client) != 0 || a->n_rcpt != b->n_rcpt || a->held != b->held ||
	    a->delay_warnings_sent != b->delay_warnings_sent || a->arrival_ms != b->arrival_ms ||
	    a->body_len != b->body_len)
		abort();
	for (size_t i = 0; i < a->n_rcpt; i++) {
		const struct spool_rcpt *x = &a->rcpt[i], *y = &b->rcpt[i];
		if (strcmp(x->addr, y->addr) != 0 || strcmp(x->orcpt, y->orcpt) != 0 || x->notify != y->notify ||
		    x->state != y->state || x->attempts != y->attempts || x->next_attempt_ms != y->next_attempt_ms ||
		    x->last.code != y->last.code || strcmp(x->last.text, y->last.text) != 0 ||
		    strcmp(x->last.remote, y->last.remote) != 0 || strcmp(x->last.status, y->last.status) != 0)
			abort();
	}
}

/* roundtrip - if the image parses, write it again and compare */
static void roundtrip(const char *data, size_t size)
{
	struct spool_msg *m, *again;
	struct spool_header h = {0};
	struct buf img = {0}, env = {0};
	char head[SPOOL_HEADER_LEN], why[128];

	m = spool_parse_file(data, size, why, sizeof(why));
	if (m == NULL)
		return;
	spool_format_envelope(m, &env);
	h.body_len = m->body_len;
	h.env_len = (uint32_t)env.len;
	h.env_crc = spool_crc32(env.data, env.len);
	spool_format_header(&h, head);
	buf_append(&img, head, sizeof(head));
	buf_append(&img, data + SPOOL_HEADER_LEN, m->body_len);
	buf_append(&img, env.data, env.len);
	spool_format_state(m, true, &img);
	again = spool_parse_file(img.data, img.len, why, sizeof(why));
	if (again == NULL)
		abort();
	check_same(m, again);
	spool_msg_free(again);
	spool_msg_free(m);
	buf_free(&img);
	buf_free(&env);
}

/* with_checksums - random bytes rarely carry a right CRC, so the input is
 * also read as "ENVELOPE \0 RECORD-LINES" and given a valid header and
 * record checksums: this reaches the envelope and record parsers. */
static void with_checksums(const char *data, size_t size)
{
	const char *nul = memchr(data, '\0', size);
	size_t envlen = nul ? (size_t)(nul - data) : size;
	struct spool_header h = {0};
	struct buf img = {0};
	char head[SPOOL_HEADER_LEN];
	size_t pos;

	if (envlen == 0)
		return;
	h.env_len = (uint32_t)envlen;
	h.env_crc = spool_crc32(data, envlen);
	spool_format_header(&h, head);
	buf_append(&img, head, sizeof(head));
	buf_append(&img, data, envlen);
	for (pos = envlen + 1; nul != NULL && pos < size;) {
		const char *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
		buf_printf(&img, "R %08zx %08x ", len, (unsigned)spool_crc32(data + pos, len));
		buf_append(&img, data + pos, len);
		buf_putc(&img, '\n');
		pos += len + 1;
	}
	roundtrip(img.data, img.len);
	buf_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR);
	roundtrip((const char *)data, size);
	with_checksums((const char *)data, size);
	return 0;
}
