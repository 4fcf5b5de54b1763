"""Rough edges a first-time operator found: what the queue commands log and
answer, what `mailerd send` refuses and says, over-long lines, and no
delay warnings for held mail."""

import time

from harness.mailerd import make_message


def _wait_qid(md, rcpt, timeout=15):
    """The queue id of the message holding rcpt, once it was deferred."""
    assert md.wait_event("deferred", rcpt=rcpt, timeout=timeout) is not None, "no deferral"
    for m in md.queue_json():
        if any(r["recipient"] == rcpt for r in m["recipients"]):
            return m["id"]
    raise AssertionError("%s not in the queue" % rcpt)


def _quiet(**kw):
    """Nothing retries by itself during the test."""
    s = dict(min_backoff="1h", max_backoff="2h", greylist_retry="1h")
    s.update(kw)
    return s


def test_queue_op_events_have_detail(mailerd_factory, token):
    """held, released and deleted events carry the `detail` field the
    operations guide promises."""
    md = mailerd_factory(**_quiet())
    rcpt = "ops-%s@tempfail.test" % token
    code, text, _ = md.submit("ops@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    qid = _wait_qid(md, rcpt)
    for op in ("hold", "release", "delete"):
        p = md.queue(op, qid)
        assert p.returncode == 0, (op, p.stderr)
    for ev in ("held", "released", "deleted"):
        e = md.wait_event(ev, qid=qid, timeout=5)
        assert e is not None, "no %s event" % ev
        assert "by queue command" in e.get("detail", ""), e
        assert "1 " in e["detail"], e  # how many recipients it concerned


def test_flush_counts_delivery_jobs(mailerd_factory, token):
    """One deferred message with a delay-warning timer: flush reports one
    delivery job, not two."""
    md = mailerd_factory(**_quiet(delay_warning="1h"))
    rcpt = "fl-%s@tempfail.test" % token
    code, text, _ = md.submit("fl@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    _wait_qid(md, rcpt)
    assert md.queue("flush").returncode == 0
    time.sleep(0.5)
    lines = [l for l in md.stderr_text().splitlines() if "queue flushed:" in l]
    assert len(lines) == 1, lines
    assert "queue flushed: 1 delivery job(s) due now, 1 delay-warning timer(s)" in lines[0], \
        lines[0]


def test_queue_refuses_a_path_as_id(mailerd_factory):
    """A path is not a queue id, with or without a daemon, and the answer
    names the argument."""
    md = mailerd_factory()
    for running in (True, False):
        for op in ("hold", "release", "delete", "show"):
            p = md.queue(op, "../../etc/passwd")
            err = p.stderr.decode()
            assert p.returncode == 2, (running, op, p.returncode, err)
            assert "'../../etc/passwd' is not a queue id" in err, (running, op, err)
        p = md.queue("hold")
        assert p.returncode == 2 and "needs a queue id" in p.stderr.decode(), p.stderr
        md.stop()


def test_send_t_without_recipient_headers(mailerd, token):
    msg = ("From: a@client.test\nSubject: no rcpt %s\n\nhello\n" % token).encode()
    p = mailerd.send_cli(msg, "-t")
    assert p.returncode == 64, p
    assert ("no recipients: -t found no To:, Cc: or Bcc: header and none were given "
            "as arguments") in p.stderr.decode(), p.stderr
    # without -t the old hint stays
    p = mailerd.send_cli(msg)
    assert p.returncode == 64, p
    assert "or use -t" in p.stderr.decode(), p.stderr


def test_send_refuses_control_characters(mailerd, token):
    """-V, -N and -f values with control characters could never travel
    in SMTP (RFC 3461 section 4.4: ENVID is printable US-ASCII)."""
    rcpt = "cc-%s@sink.test" % token
    msg = make_message(token, to=rcpt)
    for args in (["-V", "a\nb"], ["-V", "env\tid"], ["-N", "failure\n"],
                 ["-f", "evil\r\n@client.test"]):
        p = mailerd.send_cli(msg, *(args + [rcpt]))
        err = p.stderr.decode()
        assert p.returncode == 64, (args, p.returncode, err)
        assert "the %s value contains a control character" % args[0] in err, (args, err)
    assert mailerd.events("received") == [], "a refused message was queued"
    # a plain ENVID still goes
    p = mailerd.send_cli(msg, "-V", "plain-envid.1", rcpt)
    assert p.returncode == 0, p.stderr


def test_smtp_refuses_overlong_line(mailerd, peers, token):
    """A single 2 MB line: read to the real end, 550 5.6.0, nothing queued;
    the next message on the same connection is taken."""
    rcpt = "long-%s@sink.test" % token
    body = "x" * (2 << 20) + "\r\n"
    with mailerd.smtp() as s:
        assert s.ehlo()[0] == 250
        assert s.mail("long@client.test")[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        code, text = s.data(make_message(token, to=rcpt, body=body))
        assert code == 550, text
        assert text.decode() == ("5.6.0 Message contains a line longer than 998 octets "
                                 "(RFC 5322 section 2.1.1)"), text
        # exactly 998 octets is fine
        assert s.mail("long@client.test")[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        code, text = s.data(make_message(token, to=rcpt, body="y" * 998 + "\r\n"))
        assert code == 250, text
    assert len(mailerd.events("received")) == 1
    assert peers.sink.wait(rcpt=rcpt, timeout=15)
    time.sleep(1)
    got = peers.sink.find(rcpt=rcpt)
    assert len(got) == 1, got
    assert b"y" * 998 in got[0].data


def test_send_refuses_overlong_line(mailerd, token):
    rcpt = "lsend-%s@sink.test" % token
    msg = ("Subject: long %s\n\nshort\n%s\n" % (token, "z" * 2000)).encode()
    p = mailerd.send_cli(msg, rcpt)
    err = p.stderr.decode()
    assert p.returncode == 65, (p.returncode, err)
    assert "line 4 of the message is 2000 octets long; the limit is 998" in err, err
    assert mailerd.events("received") == []
    ok = ("Subject: ok %s\n\n%s\n" % (token, "z" * 998)).encode()
    assert mailerd.send_cli(ok, rcpt).returncode == 0


def _delay_reports(md, qid):
    return [e for e in md.events("report", qid=qid) if "kind=delayed" in e.get("detail", "")]


def test_held_message_gets_no_delay_warning(mailerd_factory, token):
    """Held, its warning time passes while the daemon is down: no warning
    at restart; released, the warning goes."""
    md = mailerd_factory(**_quiet(delay_warning="3s"))
    rcpt = "hw-%s@tempfail.test" % token
    code, text, _ = md.submit("hw@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    qid = _wait_qid(md, rcpt)
    assert md.queue("hold", qid).returncode == 0
    assert md.wait_event("held", qid=qid, timeout=5) is not None
    # a message not held keeps the scheduler's timer running after the
    # restart, as in any real queue
    other = "hw-other-%s@tempfail.test" % token
    code, text, _ = md.submit("hw@client.test", [other], make_message(token, to=other))
    assert code == 250, text
    other_qid = _wait_qid(md, other)
    md.stop()
    time.sleep(3.5)
    md.start()
    time.sleep(3)
    assert len(_delay_reports(md, other_qid)) == 1, "the timer did not run"
    assert _delay_reports(md, qid) == [], "a held message got a delay warning"
    assert md.queue("release", qid).returncode == 0
    deadline = time.monotonic() + 15
    while not _delay_reports(md, qid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_delay_reports(md, qid)) == 1, md.events("report", qid=qid)
