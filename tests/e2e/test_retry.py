"""Retries, giving up, and the queue commands on deferred mail."""

import time

from harness.mailerd import make_message


def test_deferred_then_delivered(mailerd, peers, token):
    """451 (greylisting) on the first attempt, 250 on the retry."""
    rcpt = "grey-%s@greylist.test" % token
    code, text, qid = mailerd.submit("grey@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    d = mailerd.wait_event("deferred", rcpt=rcpt, timeout=15)
    assert d is not None, "no deferral"
    assert d["dsn"] == "4.7.1", d
    assert "Greylisted" in d["text"], d
    ok = mailerd.wait_event("delivered", rcpt=rcpt, timeout=30)
    assert ok is not None, "not delivered on retry"
    assert len(peers.greylist.find(rcpt=rcpt)) == 1
    tries = [x for x in peers.greylist.rcpt_log if x[1] == rcpt]
    assert [t[2][:3] for t in tries] == ["451", "250"], tries


def test_lifetime_expiry(mailerd_factory, peers, token):
    """queue_lifetime at seconds scale: the recipient fails with 4.4.7 and
    keeps the last remote diagnostic."""
    md = mailerd_factory(queue_lifetime="8s")
    rcpt = "expire-%s@tempfail.test" % token
    t0 = time.monotonic()
    code, text, _ = md.submit("expire@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    ev = md.wait_event("failed", rcpt=rcpt, timeout=40)
    took = time.monotonic() - t0
    assert ev is not None, "never gave up"
    assert ev["dsn"] == "4.4.7", ev
    assert "mailbox busy at harness tempfail site" in ev["text"], ev
    assert took >= 7.0, "gave up after %.1fs, before queue_lifetime (8s)" % took
    tries = [x for x in peers.tempfail.rcpt_log if x[1] == rcpt]
    assert len(tries) >= 2, "retried %d times within the lifetime" % len(tries)
    assert md.events("delivered", rcpt=rcpt) == []


def _deferred_qid(md, rcpt):
    for m in md.queue_json():
        if any(r["recipient"] == rcpt for r in m["recipients"]):
            return m
    return None


def test_queue_hold_flush_release(mailerd_factory, peers, token):
    """Long back-off so nothing retries by itself: a held message is not
    sent by flush; released and flushed, it is delivered at once."""
    md = mailerd_factory(min_backoff="1h", max_backoff="2h", greylist_retry="1h")
    rcpt = "hold-%s@greylist.test" % token
    code, text, qid = md.submit("hold@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert md.wait_event("deferred", rcpt=rcpt, timeout=15) is not None
    m = _deferred_qid(md, rcpt)
    assert m is not None, "deferred message not listed"
    qid = m["id"]

    p = md.queue("hold", qid)
    assert p.returncode == 0, p.stderr
    assert _deferred_qid(md, rcpt)["held"] is True
    assert (qid + "!") in md.queue("list").stdout.decode(), "held mark missing"
    assert md.wait_event("held", qid=qid, timeout=5) is not None

    assert md.queue("flush").returncode == 0
    time.sleep(3)
    assert peers.greylist.find(rcpt=rcpt) == [], "a held message was sent"

    p = md.queue("release", qid)
    assert p.returncode == 0, p.stderr
    assert _deferred_qid(md, rcpt)["held"] is False
    assert md.queue("flush").returncode == 0
    assert peers.greylist.wait(rcpt=rcpt, timeout=15), "not delivered after release + flush"
    assert md.wait_event("delivered", rcpt=rcpt, timeout=10) is not None


def test_queue_flush_retries_now(mailerd_factory, peers, token):
    md = mailerd_factory(min_backoff="1h", max_backoff="2h", greylist_retry="1h")
    rcpt = "flush-%s@greylist.test" % token
    code, text, _ = md.submit("flush@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert md.wait_event("deferred", rcpt=rcpt, timeout=15) is not None
    time.sleep(2)
    assert peers.greylist.find(rcpt=rcpt) == [], "retried before the back-off"
    assert md.queue("flush").returncode == 0
    assert peers.greylist.wait(rcpt=rcpt, timeout=15), "flush did not retry"


def test_queue_show_and_delete(mailerd, peers, token):
    rcpt = "del-%s@refused.test" % token
    code, text, _ = mailerd.submit("del@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert mailerd.wait_event("deferred", rcpt=rcpt, timeout=15) is not None
    m = _deferred_qid(mailerd, rcpt)
    assert m is not None
    qid = m["id"]
    show = mailerd.queue("show", qid)
    assert show.returncode == 0, show.stderr
    assert rcpt in show.stdout.decode() and "deferred" in show.stdout.decode(), show.stdout

    p = mailerd.queue("delete", qid)
    assert p.returncode == 0, p.stderr
    assert _deferred_qid(mailerd, rcpt) is None, "still listed after delete"
    assert mailerd.wait_event("deleted", qid=qid, timeout=5) is not None
    assert mailerd.queue("show", qid).returncode != 0


def test_queue_list_without_daemon(mailerd, token):
    """`mailerd queue list` reads the spool when no daemon runs."""
    rcpt = "offline-%s@refused.test" % token
    code, text, _ = mailerd.submit("offline@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert mailerd.wait_event("deferred", rcpt=rcpt, timeout=15) is not None
    mailerd.stop()
    p = mailerd.queue("list")
    assert p.returncode == 0, p.stderr
    assert rcpt in p.stdout.decode(), p.stdout
