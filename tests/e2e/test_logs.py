"""The Postfix-style log lines on stderr and the JSON event log, and the
README tour: swaks -> mailerd -> the real Postfix."""

import json
import re

from harness import world
from harness.mailerd import make_message
from harness.net import wait_for

LINE_RE = (r"(?P<qid>[0-9A-Za-z]+): to=<(?P<rcpt>%s)>, relay=(?P<relay>\S+), "
           r"delay=(?P<delay>\d+(?:\.\d+)?), (?:[a-z_]+=[^,]*, )*dsn=(?P<dsn>[245]\.\d{1,3}\.\d{1,3}), "
           r"status=(?P<status>sent|deferred|bounced|expired) \((?P<text>.*)\)$")


def _log_line(md, rcpt, status, timeout=15):
    rx = re.compile(LINE_RE % re.escape(rcpt), re.M)

    def find():
        return [m for m in rx.finditer(md.stderr_text()) if m.group("status") == status]
    found = wait_for(find, timeout)
    return found[0] if found else None


def test_log_line_sent(mailerd, peers, peer_port, token):
    rcpt = "log-%s@sink.test" % token
    code, text, qid = mailerd.submit("log@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    m = _log_line(mailerd, rcpt, "sent")
    assert m is not None, "no Postfix-style line for %s in stderr:\n%s" % (
        rcpt, mailerd.stderr_text(tail=30))
    assert m.group("relay") == "mx.sink.test[%s]:%d" % (world.SINK_IP, peer_port), m.group(0)
    assert m.group("dsn").startswith("2."), m.group(0)
    if qid:
        assert m.group("qid") == qid


def test_log_line_bounced_and_deferred(mailerd, token):
    nx = "lognx-%s@%s" % (token, world.NXDOMAIN_EXAMPLE)
    refused = "logref-%s@refused.test" % token
    for r in (nx, refused):
        code, text, _ = mailerd.submit("log@client.test", [r], make_message(token + r, to=r))
        assert code == 250, text
    m = _log_line(mailerd, nx, "bounced")
    assert m is not None, mailerd.stderr_text(tail=30)
    assert m.group("dsn") == "5.1.2", m.group(0)
    m = _log_line(mailerd, refused, "deferred")
    assert m is not None, mailerd.stderr_text(tail=30)
    assert m.group("dsn").startswith("4."), m.group(0)


def test_event_log_is_json_lines(mailerd, peers, token):
    rcpt = "ev-%s@sink.test" % token
    code, text, qid = mailerd.submit("ev@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert mailerd.wait_event("delivered", rcpt=rcpt, timeout=15) is not None
    with open(mailerd.event_log) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    events = [json.loads(l) for l in lines]  # every line parses
    rec = [e for e in events if e.get("event") == "received" and e.get("sender") == "ev@client.test"]
    assert len(rec) == 1, events
    assert rec[0]["nrcpt"] == 1 and rec[0]["qid"]
    att = [e for e in events if e.get("event") == "attempt" and e.get("rcpt") == rcpt]
    assert att and att[0]["status"] == "sent" and att[0]["qid"] == rec[0]["qid"], att
    assert all("ts" in e for e in events)


def test_swaks_tour_to_postfix(mailerd, postfix, token):
    """The README tour path: swaks -> mailerd -> the real Postfix peer."""
    p = mailerd.swaks("--from", "tour@client.test", "--to", "bob@postfix.test",
                      "--header", "Subject: tour %s" % token,
                      "--body", "Hello Bob, this is the tour %s." % token)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert re.search(r"<-  250 .*", out.split("-> .")[-1]), out
    got = postfix.wait_mailbox("bob", token, timeout=20)
    assert got, "not in bob's mailbox\n" + postfix.log()[-3000:]
    assert b"Hello Bob, this is the tour %s." % token.encode() in got[0]
    # Postfix adds its own Received: on top of mailerd's
    assert got[0].count(b"Received:") >= 2, got[0][:800]
