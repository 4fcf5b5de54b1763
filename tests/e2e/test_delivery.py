"""Delivery by MX: what arrives where, and what each remote or DNS answer
does to a recipient (delivered, deferred, failed) as the event log says."""

import re
import time

from harness import world
from harness.mailerd import make_message

ADDED_FIELDS = ("received", "message-id")


def header_fields(header_block):
    """Split an RFC 5322 header block (bytes, CRLF) into whole fields
    (folded continuation lines kept with their field)."""
    fields = []
    for line in header_block.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields


def strip_added(delivered, original):
    """delivered minus the Received:/Message-ID: fields mailerd may add
    (those that are not in the original), as bytes to compare exactly."""
    hend = delivered.find(b"\r\n\r\n")
    assert hend >= 0, "no header/body separator in %r" % delivered[:500]
    orig_fields = set(header_fields(original[:original.find(b"\r\n\r\n") + 2]))
    kept, added = [], []
    for f in header_fields(delivered[:hend + 2]):
        name = f.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        if name in ADDED_FIELDS and f not in orig_fields:
            added.append(f)
        else:
            kept.append(f)
    return b"\r\n".join(kept) + b"\r\n" + delivered[hend + 2:], added


def test_delivered_bytes_identical(mailerd, peers, token):
    """Headers and body arrive byte for byte (dot-stuffing undone, 8-bit
    and long lines intact, folding kept); only Received: is prepended."""
    rcpt = "bytes-%s@sink.test" % token
    body = ("Plain line.\r\n"
            ".A line starting with a dot\r\n"
            "..two dots\r\n"
            ".\r\n"
            "trailing spaces   \r\n"
            "\ttab first\r\n"
            "8-bit: gr\u00fc\u00dfe, \u65e5\u672c\u8a9e\r\n"
            + "long " * 190 + "\r\n"
            "\r\n"
            "last line without anything after\r\n")
    msg = make_message(token, to=rcpt, body=body, extra_headers=(
        "X-Folded: first part\r\n  continued part\r\n\tand a tab part",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "MIME-Version: 1.0"))
    code, text, qid = mailerd.submit("bytes@client.test", [rcpt], msg)
    assert code == 250, text
    got = peers.sink.wait(rcpt=rcpt)
    assert len(got) == 1, "not delivered (or delivered %d times)" % len(got)
    m = got[0]
    assert m.mail_from == "bytes@client.test"
    assert m.rcpt_tos == [rcpt]
    rest, added = strip_added(m.data, msg)
    assert rest == msg, "delivered bytes differ:\n got %r\nwant %r" % (rest, msg)
    assert any(f.lower().startswith(b"received:") for f in added), "no Received: added: %r" % added
    assert m.message_ids == ["<%s@client.test>" % token], "Message-ID changed or doubled"
    assert mailerd.wait_event("delivered", rcpt=rcpt, timeout=10) is not None


def test_message_id_added_when_missing(mailerd, peers, token):
    rcpt = "msgid-%s@sink.test" % token
    msg = make_message(token, to=rcpt, message_id=False)
    code, text, _ = mailerd.submit("msgid@client.test", [rcpt], msg)
    assert code == 250, text
    got = peers.sink.wait(rcpt=rcpt)
    assert len(got) == 1
    assert len(got[0].message_ids) == 1, "want exactly one Message-ID: %r" % got[0].header_block
    rest, _ = strip_added(got[0].data, msg)
    assert rest == msg


def test_one_transaction_for_all_recipients_of_a_destination(mailerd, peers, token):
    rcpts = ["multi%d-%s@sink.test" % (i, token) for i in range(3)]
    code, text, _ = mailerd.submit("multi@client.test", rcpts, make_message(token, to=rcpts[0]))
    assert code == 250, text
    got = peers.sink.wait(token=token)
    time.sleep(1)
    got = peers.sink.find(token=token)
    assert len(got) == 1, "want one transaction, got %d: %r" % (len(got), got)
    assert sorted(r.lower() for r in got[0].rcpt_tos) == sorted(rcpts)


def test_postfix_peer_per_recipient_results(mailerd, postfix, token):
    """One message, two recipients at the real Postfix: the known user is
    delivered into her mailbox, the unknown one fails with Postfix's own
    550 5.1.1 text, both in the same transaction."""
    good, bad = "alice@postfix.test", "nosuch-%s@postfix.test" % token
    code, text, qid = mailerd.submit("tour@client.test", [good, bad], make_message(token, to=good))
    assert code == 250, text
    failed = mailerd.wait_event("failed", rcpt=bad, timeout=20)
    assert failed is not None, "no failed event for %s" % bad
    assert failed["dsn"] == "5.1.1", failed
    assert failed["code"] == 550, failed
    assert "User unknown in virtual mailbox table" in failed["text"], failed
    assert "<%s>: Recipient address rejected" % bad in failed["text"], failed
    delivered = mailerd.wait_event("delivered", rcpt=good, timeout=20)
    assert delivered is not None, "no delivered event for alice"
    assert delivered["dsn"].startswith("2."), delivered
    assert postfix.wait_mailbox("alice", token), "not in alice's mailbox:\n" + postfix.log()[-3000:]
    if qid:
        assert failed["qid"] == qid and delivered["qid"] == qid


def test_421_greeting_next_mx(mailerd, peers, token):
    rcpt = "next-%s@down421.test" % token
    before = peers.down421.connections
    code, text, _ = mailerd.submit("next@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    got = peers.backup.wait(rcpt=rcpt)
    assert len(got) == 1, "not delivered to the second MX"
    assert peers.down421.connections > before, "the primary MX was never tried"
    ev = mailerd.wait_event("delivered", rcpt=rcpt, timeout=10)
    assert ev is not None and world.BACKUP_IP in ev.get("remote", ""), ev


def test_connection_refused_deferred_and_listed(mailerd, token):
    rcpt = "refused-%s@refused.test" % token
    code, text, qid = mailerd.submit("refused@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    ev = mailerd.wait_event("deferred", rcpt=rcpt, timeout=15)
    assert ev is not None, "no deferral event"
    assert ev["dsn"].startswith("4."), ev
    assert mailerd.events("failed", rcpt=rcpt) == [] and mailerd.events("delivered", rcpt=rcpt) == []
    listing = mailerd.queue("list")
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout.decode()
    assert rcpt in out, out
    if qid:
        assert qid in out, out
    q = [m for m in mailerd.queue_json() if any(r["recipient"] == rcpt for r in m["recipients"])]
    assert len(q) == 1
    r = [r for r in q[0]["recipients"] if r["recipient"] == rcpt][0]
    assert r["state"] == "deferred" and r["attempts"] >= 1, r


def test_timeout_mid_data_deferred(mailerd, peers, token):
    """The site takes the data and never answers the final "." : after
    smtp_data_timeout the recipient is deferred, never counted delivered."""
    rcpt = "slow-%s@slow.test" % token
    code, text, _ = mailerd.submit("slow@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    ev = mailerd.wait_event("deferred", rcpt=rcpt, timeout=20)
    assert ev is not None, "no deferral after the data timeout"
    assert ev["dsn"].startswith("4."), ev
    assert peers.slow.find(token=token), "the slow site never got the data"
    assert mailerd.events("delivered", rcpt=rcpt) == []


def test_nxdomain_fails_512(mailerd, token):
    rcpt = "nx-%s@%s" % (token, world.NXDOMAIN_EXAMPLE)
    code, text, _ = mailerd.submit("nx@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    ev = mailerd.wait_event("failed", rcpt=rcpt, timeout=15)
    assert ev is not None, "no failed event"
    assert ev["dsn"] == "5.1.2", ev


def test_null_mx_fails_5110(mailerd, token):
    rcpt = "null-%s@nullmx.test" % token
    code, text, _ = mailerd.submit("null@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    ev = mailerd.wait_event("failed", rcpt=rcpt, timeout=15)
    assert ev is not None, "no failed event"
    assert ev["dsn"] == "5.1.10", ev


def test_servfail_defers(mailerd, token):
    rcpt = "sf-%s@servfail.test" % token
    code, text, _ = mailerd.submit("sf@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    ev = mailerd.wait_event("deferred", rcpt=rcpt, timeout=15)
    assert ev is not None, "no deferral on SERVFAIL"
    assert ev["dsn"].startswith("4."), ev
    assert mailerd.events("failed", rcpt=rcpt) == []


def test_no_mx_implicit_mx(mailerd, peers, token):
    rcpt = "implicit-%s@nomx.test" % token
    code, text, _ = mailerd.submit("implicit@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    got = peers.nomx.wait(rcpt=rcpt)
    assert len(got) == 1, "not delivered to the A record of nomx.test"


def test_transport_map_smarthost(mailerd_factory, peers, peer_port, token):
    """transport_map sends a domain that has no DNS at all to a fixed host."""
    md = mailerd_factory(transport_map="routed.test=[%s]:%d" % (world.SINK_IP, peer_port))
    rcpt = "routed-%s@routed.test" % token
    code, text, _ = md.submit("routed@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert len(peers.sink.wait(rcpt=rcpt)) == 1, "not delivered through transport_map"


def test_connection_reuse(mailerd_factory, peers, token):
    """Messages queued one after another for the same site share one
    connection: each is sent while the previous transaction's connection
    waits idle in the cache (connection_cache_time), so the count does not
    depend on how fast the machine is."""
    md = mailerd_factory(connection_cache_time="5s")
    n = 6
    rcpts = ["reuse%d-%s@sink.test" % (i, token) for i in range(n)]
    for r in rcpts:
        code, text, _ = md.submit("reuse@client.test", [r], make_message(token + r, to=r))
        assert code == 250, text
        assert peers.sink.wait(rcpt=r), "%s not delivered" % r
    sessions = {peers.sink.find(rcpt=r)[0].session_id for r in rcpts}
    assert len(sessions) == 1, "%d messages used %d connections" % (n, len(sessions))


def _throttle_burst(md, peers, token, n=8):
    with peers.throttle.lock:
        peers.throttle.max_active = peers.throttle.active
    rcpts = ["conc%d-%s@throttle.test" % (i, token) for i in range(n)]
    for r in rcpts:
        code, text, _ = md.submit("conc@client.test", [r], make_message(token + r, to=r))
        assert code == 250, text
    for r in rcpts:
        assert peers.throttle.wait(rcpt=r, timeout=30), "%s not delivered" % r
    return peers.throttle.max_active


def test_destination_concurrency_limit(mailerd_factory, peers, token):
    """destination_concurrency = 2: never more than 2 connections to the
    slow site at once, although 8 messages wait for it."""
    md = mailerd_factory(destination_concurrency="2")
    got = _throttle_burst(md, peers, token)
    assert 1 <= got <= 2, "%d parallel connections, limit 2" % got


def test_destination_parallel_by_default(mailerd, peers, token):
    """The control for the test above: with the default limit (10) the
    same burst does use several connections at once."""
    got = _throttle_burst(mailerd, peers, token)
    assert got >= 3, "only %d parallel connection(s) for 8 waiting messages" % got
