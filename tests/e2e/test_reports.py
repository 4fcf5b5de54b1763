"""Failure reports (issue 3) end to end: the real daemon sends RFC 3464
reports to the envelope sender's mailbox at a test site, and we read them
as a person's mail program and a bounce parser would.

Every report here goes to an address at sink.test (the recording aiosmtpd
sink) or at a domain routed with transport_map to a site of this file, so
the test can read what arrived there: the envelope, the MIME structure
(Python's email package) and the verdict of Debian's Sisimai, a bounce
parser used by mail operators (libsisimai-perl; tests/run.sh installs it).

Routes outside the DNS zone of harness/world.py, set with transport_map
on the daemon under test:
    reportsite.test   -> 127.0.0.40, a scripted SMTP site of this file: RCPT
                         "full-*" gets 452 4.2.2 (mailbox full, forever),
                         "policy-*" gets 550 5.7.1 "sender not on
                         allowlist", everyone else 250.
    <myhostname>      -> the sink, so the double bounce to
                         postmaster@<myhostname> can be read there.
"""

import email
import email.policy
import json
import re
import smtplib
import subprocess
import time

import pytest

from harness import world
from harness.mailerd import make_message
from harness.net import wait_for
from harness.peers import ScriptedServer

REPORT_SITE_IP = "127.0.0.40"
REPORT_DOMAIN = "reportsite.test"

SISIMAI_SCRIPT = r"""
use strict;
use Sisimai;
print Sisimai->dump($ARGV[0], delivered => 1) // "[]";
"""


# --- the scripted site ----------------------------------------------------

def report_site_rcpt(srv, mail_from, rcpt):
    local = rcpt.split("@", 1)[0].lower()
    if local.startswith("full-"):
        return "452 4.2.2 <%s>: Mailbox full" % rcpt
    if local.startswith("policy-"):
        return "550 5.7.1 <%s>: sender not on allowlist" % rcpt
    return "250 2.1.5 Ok"


@pytest.fixture(scope="module")
def report_site(peer_port):
    srv = ScriptedServer("mx.%s" % REPORT_DOMAIN, REPORT_SITE_IP, peer_port,
                         on_rcpt=report_site_rcpt)
    yield srv
    srv.stop()


def site_route(port):
    return "%s=[%s]:%d" % (REPORT_DOMAIN, REPORT_SITE_IP, port)


# --- reading reports --------------------------------------------------------

def wait_reports(sink, sender, count=1, timeout=30.0):
    """Every message that reached sender at the sink, once count of them
    came with the null reverse-path (or the time is up)."""
    wait_for(lambda: len([m for m in sink.find(rcpt=sender) if m.mail_from == "<>" or
                          m.mail_from == ""]) >= count, timeout, interval=0.2)
    return [m for m in sink.find(rcpt=sender)]


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def report_parts(msg):
    """(text part, list of delivery-status blocks, returned part) of a
    multipart/report; asserts the RFC 6522 shape."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status", msg["Content-Type"]
    parts = msg.get_payload()
    assert isinstance(parts, list) and len(parts) == 3, \
        "want 3 parts, got %r" % [p.get_content_type() for p in parts]
    text, status, orig = parts
    assert text.get_content_type() == "text/plain", text.get_content_type()
    assert status.get_content_type() == "message/delivery-status", status.get_content_type()
    blocks = status.get_payload()
    assert isinstance(blocks, list) and len(blocks) >= 2, "delivery-status blocks: %r" % blocks
    return text, blocks, orig


def fld(m, name):
    """A header or status field, unfolded (folding is the sender's choice,
    RFC 5322 section 2.2.3); None when absent."""
    v = m[name]
    return None if v is None else unfold(v)


def text_of(part):
    return part.get_payload(decode=True).decode("utf-8", "replace")


def unfold(s):
    return re.sub(r"\s+", " ", s or "").strip()


def sisimai(data, tmp_path):
    """Sisimai's verdicts (a list of dicts) on one message written into an
    mbox with a From_ separator line."""
    if subprocess.run(["perl", "-MSisimai", "-e", "1"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        pytest.fail("Sisimai is not installed (Debian package libsisimai-perl; "
                    "tests/run.sh installs it)", pytrace=False)
    path = tmp_path / ("mbox-%d" % time.monotonic_ns())
    body = data.replace(b"\r\n", b"\n")
    # mboxrd quoting of body lines that look like a separator
    body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
    with open(path, "wb") as f:
        f.write(b"From MAILER-DAEMON Thu Dec  3 12:00:00 2026\n" + body)
        if not body.endswith(b"\n"):
            f.write(b"\n")
        f.write(b"\n")
    p = subprocess.run(["perl", "-e", SISIMAI_SCRIPT, str(path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, "sisimai failed: %r" % p.stderr
    out = p.stdout.decode("utf-8", "replace").strip() or "[]"
    return json.loads(out)


def sisimai_for(data, tmp_path, rcpt):
    verdicts = sisimai(data, tmp_path)
    mine = [v for v in verdicts if (v.get("recipient") or "").lower() == rcpt.lower()]
    assert len(mine) == 1, "Sisimai verdicts for %s: %r" % (rcpt, verdicts)
    return mine[0]


def report_events(md, qid=None):
    return md.events("report", qid=qid)


def submit(md, sender, rcpts, data, mail_options=(), rcpt_options=()):
    """smtplib with DSN parameters; returns the queue id."""
    with md.smtp() as s:
        code, resp = s.ehlo()
        assert code == 250, resp
        assert s.has_extn("dsn"), "mailerd does not announce DSN: %r" % resp
        code, resp = s.mail(sender, list(mail_options))
        assert code == 250, "MAIL refused: %d %r" % (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r, list(rcpt_options))
            assert code == 250, "RCPT %s refused: %d %r" % (r, code, resp)
        code, resp = s.data(data)
        assert code == 250, "DATA refused: %d %r" % (code, resp)
    qid = md.qid_for_sender(sender)
    assert qid, "no received event for %s" % sender
    return qid


# --- tests ----------------------------------------------------------------

def test_unknown_user_at_postfix(mailerd, peers, postfix, token, tmp_path):
    """The whole report for Postfix's 550 5.1.1, field by field, and the
    verdict of a bounce parser."""
    sender = "uu-%s@sink.test" % token
    rcpt = "nosuch-%s@postfix.test" % token
    msg = make_message(token, to=rcpt, sender=sender)
    qid = submit(mailerd, sender, [rcpt], msg, rcpt_options=["ORCPT=rfc822;%s" % rcpt])

    got = wait_reports(peers.sink, sender)
    assert len(got) == 1, "want one report at %s, got %r" % (sender, got)
    m = got[0]
    assert m.mail_from in ("", "<>"), "report sent with MAIL FROM:<%s>, want <>" % m.mail_from
    assert m.rcpt_tos == [sender]

    r = parse(m.data)
    assert fld(r, "From") == "Mail Delivery System <MAILER-DAEMON@mailerd.test>", fld(r, "From")
    assert fld(r, "To") == "<%s>" % sender, fld(r, "To")
    assert fld(r, "Subject") == "Undelivered Mail Returned to Sender", fld(r, "Subject")
    assert fld(r, "Auto-Submitted") == "auto-replied", fld(r, "Auto-Submitted")
    assert fld(r, "In-Reply-To") == "<%s@client.test>" % token, fld(r, "In-Reply-To")
    assert fld(r, "References") == "<%s@client.test>" % token, fld(r, "References")
    assert fld(r, "Date"), "no Date"
    assert fld(r, "Message-ID") and token not in fld(r, "Message-ID"), fld(r, "Message-ID")

    text, blocks, orig = report_parts(r)
    permsg, rcptblock = blocks[0], blocks[1]
    assert len(blocks) == 2, "one recipient block expected: %r" % blocks
    assert fld(permsg, "Reporting-MTA") == "dns; mailerd.test", fld(permsg, "Reporting-MTA")
    assert fld(permsg, "Arrival-Date"), "no Arrival-Date"
    # "rfc822; addr": RFC 3464 section 2.3.1/2.3.2 (the space is optional)
    assert fld(rcptblock, "Original-Recipient") == "rfc822; %s" % rcpt, rcptblock.items()
    assert fld(rcptblock, "Final-Recipient") == "rfc822; %s" % rcpt, rcptblock.items()
    assert fld(rcptblock, "Action") == "failed", fld(rcptblock, "Action")
    assert fld(rcptblock, "Status") == "5.1.1", fld(rcptblock, "Status")
    remote = fld(rcptblock, "Remote-MTA")
    assert remote.startswith("dns; ") and ("mx.postfix.test" in remote or
                                           world.POSTFIX_IP in remote), remote
    diag = fld(rcptblock, "Diagnostic-Code")
    assert diag.startswith("smtp; 550 5.1.1"), diag
    assert "User unknown in virtual mailbox table" in diag, diag
    assert fld(rcptblock, "Last-Attempt-Date"), "no Last-Attempt-Date"

    words = unfold(text_of(text))
    assert "<%s>: no such user" % rcpt in words, words
    assert "Check the spelling of the address" in words, words
    assert "mailerd.test" in words, words

    assert orig.get_content_type() == "message/rfc822", orig.get_content_type()
    inner = orig.get_payload()[0]
    assert fld(inner, "Subject") == "e2e %s" % token, fld(inner, "Subject")
    assert "Hello %s." % token in inner.get_payload(), inner.get_payload()

    ev = [e for e in report_events(mailerd, qid) if "kind=failed" in e.get("detail", "")]
    assert len(ev) == 1, report_events(mailerd)
    # the report is a message of its own: queued with origin "report",
    # the null sender, its one recipient (docs/operations.md)
    rqid = dict(kv.split("=", 1) for kv in ev[0]["detail"].split())["id"]
    got_in = mailerd.events("received", qid=rqid)
    assert len(got_in) == 1, mailerd.events("received")
    assert got_in[0]["origin"] == "report", got_in[0]
    assert got_in[0]["sender"] == "" and got_in[0]["nrcpt"] == 1, got_in[0]

    v = sisimai_for(m.data, tmp_path, rcpt)
    assert v["reason"] == "userunknown", v
    assert v["deliverystatus"] == "5.1.1", v


def test_nxdomain_hostunknown(mailerd, peers, token, tmp_path):
    sender = "nx-%s@sink.test" % token
    rcpt = "rcpt-%s@%s" % (token, world.NXDOMAIN_EXAMPLE)
    submit(mailerd, sender, [rcpt], make_message(token, to=rcpt, sender=sender))
    got = wait_reports(peers.sink, sender)
    assert len(got) == 1, got
    r = parse(got[0].data)
    text, blocks, orig = report_parts(r)
    b = blocks[1]
    assert fld(b, "Final-Recipient") == "rfc822; %s" % rcpt, fld(b, "Final-Recipient")
    assert fld(b, "Action") == "failed", fld(b, "Action")
    assert fld(b, "Status") == "5.1.2", fld(b, "Status")
    words = unfold(text_of(text))
    assert "the domain does not exist" in words, words
    v = sisimai_for(got[0].data, tmp_path, rcpt)
    assert v["reason"] == "hostunknown", v
    assert v["deliverystatus"] == "5.1.2", v


def test_mailbox_full_delay_then_failure(mailerd_factory, peers, report_site, peer_port,
                                         token, tmp_path):
    """452 4.2.2 until queue_lifetime: a delay warning first, then the
    failure report, both to the sender."""
    md = mailerd_factory(transport_map=site_route(peer_port), delay_warning="2s",
                         queue_lifetime="6s", min_backoff="1s", max_backoff="1s")
    sender = "mf-%s@sink.test" % token
    rcpt = "full-%s@%s" % (token, REPORT_DOMAIN)
    qid = submit(md, sender, [rcpt], make_message(token, to=rcpt, sender=sender))

    got = wait_reports(peers.sink, sender, count=1, timeout=20)
    assert len(got) >= 1, "no delay warning"
    warn = parse(got[0].data)
    assert fld(warn, "Subject") == "Delayed Mail (still being retried)", fld(warn, "Subject")
    text, blocks, orig = report_parts(warn)
    b = blocks[1]
    assert fld(b, "Action") == "delayed", fld(b, "Action")
    assert fld(b, "Status") == "4.2.2", fld(b, "Status")
    assert fld(b, "Will-Retry-Until"), "no Will-Retry-Until in %r" % b.items()
    assert "Mailbox full" in fld(b, "Diagnostic-Code"), fld(b, "Diagnostic-Code")
    words = unfold(text_of(text))
    assert "mailbox is full" in words, words
    assert "keeps trying" in words, words

    got = wait_reports(peers.sink, sender, count=2, timeout=25)
    assert len(got) == 2, "want warning + failure, got %r" % got
    fail = parse(got[1].data)
    assert fld(fail, "Subject") == "Undelivered Mail Returned to Sender", fld(fail, "Subject")
    text, blocks, orig = report_parts(fail)
    b = blocks[1]
    assert fld(b, "Action") == "failed", fld(b, "Action")
    assert fld(b, "Status") in ("4.2.2", "4.4.7"), fld(b, "Status")
    assert "Mailbox full" in fld(b, "Diagnostic-Code"), fld(b, "Diagnostic-Code")
    assert "mailbox full" in unfold(text_of(text)), text_of(text)
    assert md.wait_event("failed", rcpt=rcpt, timeout=5) is not None
    # Sisimai reads the remote's 4.2.2 out of the Diagnostic-Code
    v = sisimai_for(got[1].data, tmp_path, rcpt)
    assert v["reason"] == "mailboxfull", v
    assert v["deliverystatus"] in ("4.2.2", "4.4.7"), v
    kinds = [e.get("detail", "").split()[0] for e in report_events(md, qid)]
    assert kinds == ["kind=delayed", "kind=failed"], kinds


def test_policy_reject_allowlist(mailerd_factory, peers, report_site, peer_port, token,
                                 tmp_path):
    md = mailerd_factory(transport_map=site_route(peer_port))
    sender = "pol-%s@sink.test" % token
    rcpt = "policy-%s@%s" % (token, REPORT_DOMAIN)
    submit(md, sender, [rcpt], make_message(token, to=rcpt, sender=sender))
    got = wait_reports(peers.sink, sender)
    assert len(got) == 1, got
    text, blocks, orig = report_parts(parse(got[0].data))
    b = blocks[1]
    assert fld(b, "Status") == "5.7.1", fld(b, "Status")
    assert "sender not on allowlist" in fld(b, "Diagnostic-Code"), b.items()
    words = unfold(text_of(text))
    assert "only accepts approved senders" in words, words
    assert "Ask the recipient to add your address" in words, words
    # Sisimai 4.25 knows no "allowlist" phrase, so it names the reason by
    # the remote's status: 5.7.1 "delivery not authorized, message refused"
    # is its securityerror. Any of its refused-by-policy reasons will do;
    # userunknown, undefined or onhold would mean the report misled it.
    v = sisimai_for(got[0].data, tmp_path, rcpt)
    assert v["reason"] in ("filtered", "blocked", "rejected", "policyviolation",
                           "securityerror"), v
    assert v["deliverystatus"] == "5.7.1", v


def test_notify_never_sends_nothing(mailerd, peers, postfix, token):
    sender = "never-%s@sink.test" % token
    rcpt = "nosuch-%s@postfix.test" % token
    qid = submit(mailerd, sender, [rcpt], make_message(token, to=rcpt, sender=sender),
                 rcpt_options=["NOTIFY=NEVER"])
    assert mailerd.wait_event("failed", rcpt=rcpt, timeout=20) is not None
    time.sleep(3)
    assert peers.sink.find(rcpt=sender) == [], "a report reached the sender"
    assert report_events(mailerd, qid) == []


def test_ret_hdrs_returns_headers_only(mailerd, peers, postfix, token):
    sender = "hdrs-%s@sink.test" % token
    rcpt = "nosuch-%s@postfix.test" % token
    body = "Secret body %s that must not come back.\r\n" % token
    submit(mailerd, sender, [rcpt], make_message(token, to=rcpt, sender=sender, body=body),
           mail_options=["RET=HDRS", "ENVID=env+2B%s" % token])
    got = wait_reports(peers.sink, sender)
    assert len(got) == 1, got
    text, blocks, orig = report_parts(parse(got[0].data))
    assert fld(blocks[0], "Original-Envelope-Id") == "env+%s" % token, blocks[0].items()
    assert orig.get_content_type() == "text/rfc822-headers", orig.get_content_type()
    hdrs = orig.get_payload()
    assert "Subject: e2e %s" % token in hdrs, hdrs
    assert "Message-ID: <%s@client.test>" % token in hdrs, hdrs
    assert "Secret body" not in hdrs
    assert b"Secret body" not in got[0].data


def test_large_original_capped(mailerd_factory, peers, postfix, token):
    md = mailerd_factory(max_message_size="20000000")
    sender = "big-%s@sink.test" % token
    rcpt = "nosuch-%s@postfix.test" % token
    line = ("x" * 76 + "\r\n")
    body = "Start of big body %s\r\n" % token + line * (10 * 1024 * 1024 // len(line))
    msg = make_message(token, to=rcpt, sender=sender, body=body)
    assert len(msg) > 10 * 1024 * 1024
    submit(md, sender, [rcpt], msg)
    got = wait_reports(peers.sink, sender, timeout=40)
    assert len(got) == 1, got
    assert len(got[0].data) < 256 * 1024, "report is %d bytes" % len(got[0].data)
    text, blocks, orig = report_parts(parse(got[0].data))
    assert fld(blocks[1], "Status") == "5.1.1"
    assert orig.get_content_type() == "text/rfc822-headers", orig.get_content_type()
    assert "Subject: e2e %s" % token in orig.get_payload()
    assert b"Start of big body" not in got[0].data


def test_failed_report_one_double_bounce(mailerd_factory, peers, postfix, peer_port, token):
    """The sender itself is unknown at Postfix: its report fails and goes
    once to postmaster@myhostname; that copy is never answered."""
    host = "db-%s.mailerd.test" % token.lower()
    md = mailerd_factory(myhostname=host,
                         transport_map="%s=[%s]:%d" % (host, world.SINK_IP, peer_port))
    sender = "ghost-%s@postfix.test" % token
    rcpt = "nosuch-%s@postfix.test" % token
    postmaster = "postmaster@%s" % host
    qid = submit(md, sender, [rcpt], make_message(token, to=rcpt, sender=sender))

    assert md.wait_event("failed", rcpt=sender, timeout=30) is not None, \
        "the report to the unknown sender did not fail"
    got = peers.sink.wait(rcpt=postmaster, timeout=20)
    assert len(got) == 1, "want one double bounce, got %r" % got
    db = got[0]
    assert db.mail_from in ("", "<>"), db.mail_from
    r = parse(db.data)
    assert fld(r, "From") == "Mail Delivery System <MAILER-DAEMON@%s>" % host, fld(r, "From")
    assert fld(r, "To") == "<%s>" % postmaster, fld(r, "To")
    assert fld(r, "Subject") == "Postmaster Copy: Undelivered Delivery Report", fld(r, "Subject")
    text, blocks, orig = report_parts(r)
    assert fld(blocks[1], "Final-Recipient") == "rfc822; %s" % sender, blocks[1].items()
    assert fld(blocks[1], "Status") == "5.1.1", fld(blocks[1], "Status")
    # the attached report is the one that failed, about the original;
    # reports are queued with RET=HDRS, so its header comes back only
    assert orig.get_content_type() == "text/rfc822-headers", orig.get_content_type()
    inner = email.message_from_string(orig.get_payload(), policy=email.policy.compat32)
    assert fld(inner, "Subject") == "Undelivered Mail Returned to Sender", fld(inner, "Subject")
    assert fld(inner, "To") == "<%s>" % sender, fld(inner, "To")

    time.sleep(4)
    assert len(peers.sink.find(rcpt=postmaster)) == 1, "more than one double bounce"
    assert [m for m in peers.sink.find(token=token) if m is not db] == [], \
        "something else about this message went out"
    # two reports in all: the sender's (about the original) and the
    # postmaster's copy (about that report); the copy was delivered
    reports = md.events("report")
    assert len(reports) == 2, reports
    assert [e["qid"] for e in reports if "kind=failed" in e.get("detail", "")] == \
        [qid, reports[1]["qid"]], reports
    assert reports[1]["qid"] != qid
    assert md.events("failed", rcpt=postmaster) == []
    assert md.wait_event("delivered", rcpt=postmaster, timeout=5) is not None


def test_notify_success(mailerd, peers, token, tmp_path):
    """NOTIFY=SUCCESS to the sink. aiosmtpd's EHLO is read first: when it
    does not announce DSN the hop cannot pass the request on, so the
    sender is told "relayed" (RFC 3461 section 4.1); when it does,
    "delivered"."""
    sender = "succ-%s@sink.test" % token
    rcpt = "rcpt-%s@sink.test" % token
    with smtplib.SMTP(world.SINK_IP, peers.sink.port, local_hostname="probe.test",
                      timeout=10) as s:
        s.ehlo()
        sink_dsn = s.has_extn("dsn")
    want = "delivered" if sink_dsn else "relayed"

    qid = submit(mailerd, sender, [rcpt], make_message(token, to=rcpt, sender=sender),
                 rcpt_options=["NOTIFY=SUCCESS"])
    assert len(peers.sink.wait(rcpt=rcpt)) == 1
    got = wait_reports(peers.sink, sender)
    assert len(got) == 1, got
    r = parse(got[0].data)
    assert fld(r, "Subject") == ("Successful Mail Delivery Report" if sink_dsn
                            else "Relayed Mail Report"), fld(r, "Subject")
    text, blocks, orig = report_parts(r)
    b = blocks[1]
    assert fld(b, "Action") == want, fld(b, "Action")
    assert fld(b, "Status").startswith("2."), fld(b, "Status")
    assert fld(b, "Final-Recipient") == "rfc822; %s" % rcpt, fld(b, "Final-Recipient")
    words = unfold(text_of(text))
    assert ("passed on to the next mail server" if not sink_dsn else "was delivered to") \
        in words, words
    kinds = [e.get("detail", "").split()[0] for e in report_events(mailerd, qid)]
    assert kinds == ["kind=%s" % want], kinds
