"""mailerd's SMTP server as clients see it: extensions, relay control,
limits, SMTP smuggling, `mailerd send`."""

import re
import time

import pytest

from harness.mailerd import make_message


def test_ehlo_announces_extensions(mailerd_factory):
    md = mailerd_factory(max_message_size="123456")
    with md.smtp() as s:
        code, resp = s.ehlo()
    assert code == 250
    lines = [l.strip().upper() for l in resp.decode().splitlines()[1:]]
    for ext in ("PIPELINING", "SIZE 123456", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8"):
        assert ext in lines, "EHLO lacks %s: %s" % (ext, lines)


def test_vrfy_252_and_noop(mailerd):
    c = mailerd.raw()
    try:
        assert c.greeting[0] == 220
        assert c.cmd("EHLO client.test")[0] == 250
        code, text = c.cmd("VRFY postmaster")
        assert code == 252, text
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("QUIT")[0] == 221
    finally:
        c.close()


def test_open_relay_refused(mailerd_factory, peers, token):
    """A client outside relay_networks may only send to local_domains."""
    md = mailerd_factory(relay_networks="10.255.255.255/32", local_domains="local.test")
    foreign = "relay-%s@sink.test" % token
    with md.smtp() as s:
        s.ehlo()
        assert s.mail("outsider@client.test")[0] == 250
        code, text = s.rcpt(foreign)
        assert code == 554, "relay attempt got %d %r" % (code, text)
        assert text.decode().startswith("5.7.1"), text
        code, text = s.rcpt("postmaster@local.test")
        assert code == 250, "mail for local_domains refused: %d %r" % (code, text)
        s.rset()
    time.sleep(1)
    assert peers.sink.find(rcpt=foreign) == []


def test_relay_allowed_from_relay_networks(mailerd, peers, token):
    """The same RCPT from a client inside relay_networks (default 127/8) is
    taken and delivered: the refusal above is the relay rule, not a bug."""
    rcpt = "relay-ok-%s@sink.test" % token
    code, text, _ = mailerd.submit("insider@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert peers.sink.wait(rcpt=rcpt), "not delivered"


SMUGGLE_VARIANTS = {
    "lf-dot-lf": b"\n.\n",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-cr": b"\r.\r",
    "crlf-dot-cr": b"\r\n.\r",
}


@pytest.mark.parametrize("variant", sorted(SMUGGLE_VARIANTS))
def test_smtp_smuggling_refused(mailerd, peers, token, variant):
    """A fake end of DATA followed by a smuggled transaction: only CRLF.CRLF
    ends DATA, the bare line end is refused with 550 5.6.11, and neither the
    message nor the smuggled one is delivered."""
    rcpt = "victim-%s@sink.test" % token
    smuggled = "smuggled-%s@sink.test" % token
    c = mailerd.raw()
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd("MAIL FROM:<sender@client.test>")[0] == 250
        assert c.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"From: <sender@client.test>\r\nSubject: smuggle " + token.encode() +
               b"\r\n\r\nlegit body" + SMUGGLE_VARIANTS[variant] +
               b"MAIL FROM:<evil@client.test>\r\nRCPT TO:<" + smuggled.encode() + b">\r\n"
               b"DATA\r\nSubject: smuggled " + token.encode() + b"\r\n\r\nsmuggled\r\n.\r\n")
        code, text = c.reply()
        assert code == 550, "got %d %r, want 550 5.6.11" % (code, text)
        assert text[4:].startswith("5.6.11"), text
        # The next reply must be the one to our QUIT: had the server ended
        # DATA early, the smuggled MAIL/RCPT/DATA replies would come first.
        code, text = c.cmd("QUIT")
        assert code == 221, "reply after the refused DATA was %d %r" % (code, text)
    finally:
        c.close()
    time.sleep(2)
    assert peers.sink.find(token=token) == [], "something was delivered"


def test_bare_lf_normalized_when_configured(mailerd_factory, peers, token):
    """bare_line_ending = normalize: the message is taken, the bare LF
    becomes CRLF, and the fake end of DATA is still only data."""
    md = mailerd_factory(bare_line_ending="normalize")
    rcpt = "norm-%s@sink.test" % token
    smuggled = "smuggled-%s@sink.test" % token
    c = md.raw()
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd("MAIL FROM:<sender@client.test>")[0] == 250
        assert c.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: norm " + token.encode() + b"\r\n\r\nline one\nline two\n.\n"
               b"MAIL FROM:<evil@client.test>\r\nRCPT TO:<" + smuggled.encode() + b">\r\n"
               b"last\r\n.\r\n")
        code, text = c.reply()
        assert code == 250, text
        assert c.cmd("QUIT")[0] == 221
    finally:
        c.close()
    got = peers.sink.wait(rcpt=rcpt)
    assert len(got) == 1
    data = got[0].data
    assert re.search(rb"(?<!\r)\n", data) is None, "bare LF delivered: %r" % data
    assert b"line one\r\nline two\r\n" in data
    time.sleep(1)
    assert peers.sink.find(rcpt=smuggled) == []


def test_1001st_recipient_gets_452(mailerd, token):
    with mailerd.smtp(timeout=60) as s:
        s.ehlo()
        assert s.mail("many@client.test")[0] == 250
        for i in range(1000):
            code, text = s.rcpt("r%d-%s@sink.test" % (i, token))
            assert code == 250, "recipient %d: %d %r" % (i + 1, code, text)
        code, text = s.rcpt("r1000-%s@sink.test" % token)
        assert code == 452, "1001st recipient: %d %r" % (code, text)
        assert text.decode().startswith("4.5.3"), text
        s.rset()


def test_size_limit(mailerd_factory, peers, token):
    md = mailerd_factory(max_message_size="10000")
    rcpt = "big-%s@sink.test" % token
    with md.smtp() as s:
        code, resp = s.ehlo()
        assert "SIZE 10000" in resp.decode().upper()
        # declared too big (RFC 1870 section 6.1)
        code, text = s.docmd("MAIL FROM:<big@client.test> SIZE=20000")
        assert code == 552, text
        assert text.decode().startswith("5.3.4"), text
        # undeclared, found too big while reading DATA
        assert s.mail("big@client.test")[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        code, text = s.data(make_message(token, to=rcpt, body=("y" * 78 + "\r\n") * 250))
        assert code == 552, text
        assert text.decode().startswith("5.3.4"), text
    time.sleep(1)
    assert peers.sink.find(rcpt=rcpt) == []


def test_command_line_too_long(mailerd):
    c = mailerd.raw()
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        code, text = c.cmd("NOOP " + "x" * 2000)
        assert code in (500, 501), text
        assert re.match(r"5\d\d 5\.5\.\d", text), text
        assert c.cmd("NOOP")[0] == 250, "session unusable after a long line"
    finally:
        c.close()


def test_nul_byte_in_data_refused(mailerd, peers, token):
    rcpt = "nul-%s@sink.test" % token
    c = mailerd.raw()
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        assert c.cmd("MAIL FROM:<sender@client.test>")[0] == 250
        assert c.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: nul " + token.encode() + b"\r\n\r\nbad \x00 byte\r\n.\r\n")
        code, text = c.reply()
        assert 500 <= code < 600, "NUL byte accepted: %d %r" % (code, text)
    finally:
        c.close()
    time.sleep(1)
    assert peers.sink.find(rcpt=rcpt) == []


def test_mailerd_send_from_stdin(mailerd, peers, token):
    """`mailerd send` (sendmail-style) puts the message in the daemon's queue."""
    rcpt = "cli-%s@sink.test" % token
    msg = b"From: cli@client.test\nSubject: cli " + token.encode() + b"\n\nsent from stdin\n"
    p = mailerd.send_cli(msg, "-f", "cli@client.test", rcpt)
    assert p.returncode == 0, p.stderr
    got = peers.sink.wait(rcpt=rcpt, timeout=20)
    assert len(got) == 1, "not delivered; queue:\n%s" % mailerd.queue("list").stdout.decode()
    assert got[0].mail_from == "cli@client.test"
    assert b"sent from stdin\r\n" in got[0].data
    assert re.search(rb"(?<!\r)\n", got[0].data) is None, "LF not turned into CRLF"


def test_dsn_parameters(mailerd, peers, token):
    """RFC 3461 parameters are taken (stored for the reports of a later
    issue); a malformed one is refused."""
    rcpt = "dsn-%s@sink.test" % token
    c = mailerd.raw()
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        code, text = c.cmd("MAIL FROM:<dsn@client.test> RET=HDRS ENVID=env-%s" % token)
        assert code == 250, text
        code, text = c.cmd("RCPT TO:<%s> NOTIFY=BOGUS" % rcpt)
        assert code == 501, "bad NOTIFY accepted: %r" % text
        code, text = c.cmd("RCPT TO:<%s> NOTIFY=FAILURE,DELAY ORCPT=rfc822;%s" % (rcpt, rcpt))
        assert code == 250, text
        assert c.cmd("DATA")[0] == 354
        c.send(make_message(token, to=rcpt) + b".\r\n")
        code, text = c.reply()
        assert code == 250, text
        c.cmd("QUIT")
    finally:
        c.close()
    assert len(peers.sink.wait(rcpt=rcpt)) == 1


def test_smtputf8_end_to_end(mailerd, peers, token):
    """An internationalised address (RFC 6531) is taken with SMTPUTF8 and
    relayed to a next hop that offers SMTPUTF8."""
    rcpt = "\u00fcml\u00e4ut-%s@sink.test" % token
    c = mailerd.raw()
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        code, text = c.cmd("MAIL FROM:<s\u00e9nder@client.test> SMTPUTF8")
        assert code == 250, text
        code, text = c.cmd("RCPT TO:<%s>" % rcpt)
        assert code == 250, text
        assert c.cmd("DATA")[0] == 354
        c.send(make_message(token, to=rcpt) + b".\r\n")
        code, text = c.reply()
        assert code == 250, text
        c.cmd("QUIT")
    finally:
        c.close()
    got = peers.sink.wait(rcpt=rcpt)
    assert len(got) == 1, "not delivered"
    assert got[0].mail_from == "s\u00e9nder@client.test"


def test_idle_client_gets_421(mailerd_factory):
    """smtpd_timeout: an idle client is told 421 4.4.2 and disconnected."""
    md = mailerd_factory(smtpd_timeout="2s")
    c = md.raw(timeout=10)
    try:
        assert c.cmd("EHLO client.test")[0] == 250
        t0 = time.monotonic()
        code, text = c.reply()
        took = time.monotonic() - t0
        assert code == 421, text
        assert text[4:].startswith("4.4.2"), text
        assert 1.0 <= took <= 6.0, "timed out after %.1fs, want about 2s" % took
    finally:
        c.close()
