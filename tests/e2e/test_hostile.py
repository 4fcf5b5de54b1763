"""Hostile input over the real SMTP listener (issue 5, "Hostile input" and
"Security basics").

A table of bad inputs, each {name, bytes to send (one or more writes),
exact replies expected}: overlong lines, NUL bytes, SMTP smuggling with
bare CR / bare LF, pipelining abuse, unknown and mis-cased commands,
malformed addresses and ESMTP parameters, header injection through
parameters, invalid UTF-8, 2000 recipients, the error limit. Every case
runs on its own connection to ONE daemon, checks each reply's code and
enhanced status, and ends with QUIT -> 221 (so no reply is missing or
extra). After the table that daemon must still be up, deliver a good
message, and have queued nothing smuggled.

Then the resource attacks, each with its own daemon: 10 MB without a line
end (memory stays bounded), slowloris in commands and in DATA (closed with
421 4.4.2 on a deadline that bytes do not push back), 1000 idle
connections while a good client is served, the connection and message
rate limits (421 4.7.0, 450 4.7.1), and the privilege drop (run_user).
"""

import os
import pwd
import resource
import select
import socket
import tempfile
import time
import uuid

import pytest

from harness import world
from harness.mailerd import Mailerd, make_message
from harness.net import wait_for

RUN = uuid.uuid4().hex[:8]
SMUGGLE_SENDER = "smuggler-%s@client.test" % RUN
SMUGGLED_RCPT = "smuggled-%s@sink.test" % RUN
CLOSED = "CLOSED"


class Conn:
    """A byte-exact client that can tell a reply from a closed connection."""

    def __init__(self, port, timeout=15.0, source=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """(code, enhanced status or '', text) or None when the server
        closed the connection before a full reply."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return None
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        last = lines[-1]
        words = last[4:].split(" ", 1)
        status = words[0] if words and words[0][:1] in "245" and words[0].count(".") == 2 else ""
        return int(last[:3]), status, "\n".join(lines)

    def closed(self, timeout=5.0):
        """True when the server closes (EOF or reset) within timeout and
        sent nothing more."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def crlf(*lines):
    return b"".join((l.encode() if isinstance(l, str) else l) + b"\r\n" for l in lines)


EHLO = (crlf("EHLO client.test"), ["250"])
TX = (crlf("MAIL FROM:<h@client.test>", "RCPT TO:<hostile-%s@sink.test>" % RUN),
      ["250 2.1.0", "250 2.1.5"])
DATA_OPEN = (crlf("MAIL FROM:<%s>" % SMUGGLE_SENDER, "RCPT TO:<victim-%s@sink.test>" % RUN, "DATA"),
             ["250 2.1.0", "250 2.1.5", "354"])


def case(name, writes, expect, prefix=(EHLO,), quit=True):
    """writes: bytes or a list of bytes (separate writes, 50 ms apart);
    expect: replies in order, "CODE X.Y.Z" or "CODE", or CLOSED last."""
    if isinstance(writes, bytes):
        writes = [writes]
    pre_w = [w for w, _ in prefix]
    pre_e = [e for _, es in prefix for e in es]
    return pytest.param(pre_w + list(writes), pre_e + list(expect), quit, id=name)


def smuggle(name, fake_end, split=False):
    """DATA whose body carries a fake end of data and a whole smuggled
    transaction, then the real CRLF.CRLF: only the real end counts, and
    the bare line ending refuses the message (550 5.6.11)."""
    body = (b"From: <" + SMUGGLE_SENDER.encode() + b">\r\nSubject: smuggle " + RUN.encode() +
            b"\r\n\r\nlegit body" + fake_end + b"MAIL FROM:<evil@client.test>\r\n"
            b"RCPT TO:<" + SMUGGLED_RCPT.encode() + b">\r\nDATA\r\nSubject: smuggled " +
            RUN.encode() + b"\r\n\r\nsmuggled\r\n.\r\n")
    writes = [body]
    if split:  # the fake end straddles two writes
        cut = body.index(fake_end) + 1
        writes = [body[:cut], body[cut:]]
    return case(name, writes, ["550 5.6.11"], prefix=(EHLO, DATA_OPEN))


def mail(arg, expect, prefix=(EHLO,)):
    return (crlf("MAIL FROM:" + arg) if isinstance(arg, str) else b"MAIL FROM:" + arg + b"\r\n",
            expect)


LONG = "x" * 2000
UTF8_MAIL = (crlf("MAIL FROM:<u@client.test> SMTPUTF8"), ["250 2.1.0"])
HELO = (crlf("HELO client.test"), ["250"])

CASES = [
    # --- overlong lines (RFC 5321 4.5.3.1.4: 512 octets with CRLF) ---
    case("long-noop-2000", crlf("NOOP " + LONG, "NOOP"), ["500 5.5.2", "250 2.0.0"]),
    case("line-512-ok", crlf("NOOP " + "x" * 505), ["250 2.0.0"]),
    case("line-513-refused", crlf("NOOP " + "x" * 506), ["500 5.5.2"]),
    case("long-ehlo", crlf("EHLO " + "a" * 600), ["500 5.5.2"], prefix=()),
    case("long-line-in-2-writes", [b"NOOP " + b"y" * 300, b"y" * 300 + b"\r\nNOOP\r\n"],
         ["500 5.5.2", "250 2.0.0"]),
    case("long-line-then-command-same-write", b"NOOP " + b"z" * 5000 + b"\r\nRSET\r\n",
         ["500 5.5.2", "250 2.0.0"]),
    case("local-part-65", crlf("MAIL FROM:<%s@client.test>" % ("a" * 65)), ["501 5.1.7"]),
    case("domain-label-64", crlf("MAIL FROM:<a@%s.test>" % ("d" * 64)), ["501 5.1.7"]),
    case("domain-over-255", crlf("MAIL FROM:<a@%s>" % ".".join(["d" * 60] * 5)), ["501 5.1.7"]),
    case("rcpt-path-over-256", [TX[0], crlf("RCPT TO:<%s@%s>" % ("l" * 64, ".".join(["d" * 60] * 4) + ".test"))],
         TX[1] + ["501 5.1.3"]),
    # --- NUL bytes ---
    case("nul-in-verb", b"NO\x00OP\r\n", ["500 5.5.2"]),
    case("nul-in-mail", b"MAIL FROM:<a\x00@client.test>\r\n", ["500 5.5.2"]),
    case("nul-in-ehlo", b"EHLO a\x00b\r\n", ["500 5.5.2"], prefix=()),
    case("nul-line", b"\x00\r\n", ["500 5.5.2"]),
    case("nul-in-data", b"Subject: nul\r\n\r\nbad \x00 byte\r\n.\r\n", ["550 5.6.0"],
         prefix=(EHLO, DATA_OPEN)),
    # --- SMTP smuggling: bare LF / bare CR next to a dot ---
    smuggle("smuggle-lf-dot-lf", b"\n.\n"),
    smuggle("smuggle-cr-dot-cr", b"\r.\r"),
    smuggle("smuggle-crlf-dot-lf", b"\r\n.\n"),
    smuggle("smuggle-lf-dot-crlf", b"\n.\r\n"),
    smuggle("smuggle-crlf-dot-cr", b"\r\n.\r"),
    smuggle("smuggle-cr-dot-crlf", b"\r.\r\n"),
    smuggle("smuggle-lf-dot-cr", b"\n.\r"),
    smuggle("smuggle-cr-dot-lf", b"\r.\n"),
    smuggle("smuggle-crlf-dot-lf-split", b"\r\n.\n", split=True),
    smuggle("smuggle-lf-dot-crlf-split", b"\n.\r\n", split=True),
    case("bare-lf-in-header", b"Subject: x\nX: y\r\n\r\nbody\r\n.\r\n", ["550 5.6.11"],
         prefix=(EHLO, DATA_OPEN)),
    case("bare-cr-in-body", b"Subject: x\r\n\r\nbo\rdy\r\n.\r\n", ["550 5.6.11"],
         prefix=(EHLO, DATA_OPEN)),
    case("real-end-split-in-3-writes",
         [b"Subject: split " + RUN.encode() + b"\r\n\r\nfine\r", b"\n.\r", b"\n"], ["250 2.0.0"],
         prefix=(EHLO, (crlf("MAIL FROM:<split@client.test>", "RCPT TO:<split-%s@sink.test>" % RUN,
                             "DATA"), ["250 2.1.0", "250 2.1.5", "354"]))),
    # --- pipelining abuse (RFC 2920) ---
    case("commands-after-data-are-data",
         crlf("MAIL FROM:<pipe@client.test>", "RCPT TO:<pipe-%s@sink.test>" % RUN, "DATA",
              "Subject: pipe " + RUN, "", "MAIL FROM:<evil@client.test>",
              "RCPT TO:<%s>" % SMUGGLED_RCPT, "."),
         ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0"]),
    case("refused-data-then-body-lines",
         crlf("MAIL FROM:<a@client.test>", "RCPT TO:<bad>", "DATA", "Subject: x"),
         ["250 2.1.0", "501 5.1.3", "554 5.5.1", "500 5.5.1"]),
    case("data-after-quit", crlf("QUIT", "MAIL FROM:<a@client.test>", "RSET"),
         ["221 2.0.0", CLOSED], quit=False),
    case("bdat", crlf("BDAT 10 LAST"), ["502 5.5.1"]),
    case("bdat-with-chunk", b"BDAT 5 LAST\r\nhello\r\n", ["502 5.5.1", "500 5.5.1"]),
    case("starttls-not-offered", crlf("STARTTLS"), ["502 5.5.1"]),
    case("auth-not-offered", crlf("AUTH PLAIN AGFAAGI="), ["502 5.5.1"]),
    case("50-noops-one-packet", crlf(*["NOOP"] * 50), ["250 2.0.0"] * 50),
    case("rset-mid-pipeline", crlf("MAIL FROM:<a@client.test>", "RSET", "RCPT TO:<b@sink.test>"),
         ["250 2.1.0", "250 2.0.0", "503 5.5.1"]),
    case("2000-recipients",
         [TX[0][:TX[0].index(b"RCPT")]] +
         [crlf(*["RCPT TO:<r%d-%s@sink.test>" % (i, RUN) for i in range(j, j + 500)])
          for j in range(0, 2000, 500)] + [crlf("RSET")],
         ["250 2.1.0"] + ["250 2.1.5"] * 1000 + ["452 4.5.3"] * 1000 + ["250 2.0.0"]),
    case("error-limit-20", crlf(*["XYZZY"] * 25), ["500 5.5.1"] * 20 + ["421 4.7.0", CLOSED],
         quit=False),
    # --- unknown and mis-cased commands ---
    case("mixed-case-mail", crlf("mAiL fRoM:<ok@client.test>", "rCpT tO:<ok-%s@sink.test>" % RUN),
         ["250 2.1.0", "250 2.1.5"]),
    case("lowercase-ehlo", crlf("ehlo client.test"), ["250"], prefix=()),
    case("space-before-colon", crlf("MAIL FROM :<a@client.test>"), ["501 5.5.4"]),
    case("no-colon", crlf("MAIL FROM<a@client.test>"), ["501 5.5.4"]),
    case("two-spaces-after-verb", crlf("MAIL  FROM:<a@client.test>"), ["501 5.5.4"]),
    case("verb-glued", crlf("MAILFROM:<a@client.test>"), ["500 5.5.1"]),
    case("tab-after-verb", crlf("MAIL\tFROM:<a@client.test>"), ["500 5.5.1"]),
    case("unknown-verb", crlf("XYZZY"), ["500 5.5.1"]),
    case("empty-line", crlf(""), ["500 5.5.1"]),
    case("spaces-only", crlf("   "), ["500 5.5.1"]),
    case("expn", crlf("EXPN staff"), ["502 5.5.1"]),
    case("vrfy-no-arg", crlf("VRFY"), ["501 5.5.4"]),
    case("helo-no-arg", crlf("HELO"), ["501 5.5.4"], prefix=()),
    case("mail-before-ehlo", crlf("MAIL FROM:<a@client.test>"), ["503 5.5.1"], prefix=()),
    case("rcpt-before-mail", crlf("RCPT TO:<a@sink.test>"), ["503 5.5.1"]),
    case("data-before-rcpt", crlf("MAIL FROM:<a@client.test>", "DATA"), ["250 2.1.0", "503 5.5.1"]),
    case("nested-mail", crlf("MAIL FROM:<a@client.test>", "MAIL FROM:<b@client.test>"),
         ["250 2.1.0", "503 5.5.1"]),
    case("data-with-argument", [TX[0], crlf("DATA now")], TX[1] + ["501 5.5.4"]),
    case("rset-with-argument", crlf("RSET x"), ["501 5.5.4"]),
    # --- malformed addresses ---
    case("no-angle-brackets", crlf("MAIL FROM:a@client.test"), ["501 5.1.7"]),
    case("garbage-after-path", crlf("MAIL FROM:<a@client.test>x"), ["501 5.5.4"]),
    case("null-rcpt", crlf("MAIL FROM:<>", "RCPT TO:<>"), ["250 2.1.0", "501 5.1.3"]),
    case("double-at", crlf("MAIL FROM:<a@@client.test>"), ["501 5.1.7"]),
    case("empty-atom", crlf("MAIL FROM:<a..b@client.test>"), ["501 5.1.7"]),
    case("unterminated-path", crlf("MAIL FROM:<a@client.test"), ["501 5.1.7"]),
    case("leading-hyphen-domain", crlf("MAIL FROM:<a@-client.test>"), ["501 5.1.7"]),
    case("bad-ipv4-literal", [TX[0], crlf("RCPT TO:<x@[300.1.1.1]>")], TX[1] + ["501 5.1.3"]),
    case("bad-ipv6-literal", [TX[0], crlf("RCPT TO:<x@[IPv6:zz::1]>")], TX[1] + ["501 5.1.3"]),
    case("unterminated-quote", crlf('MAIL FROM:<"abc@client.test>'), ["501 5.1.7"]),
    case("bad-source-route", crlf("MAIL FROM:<@:a@client.test>"), ["501 5.1.7"]),
    # --- malformed ESMTP parameters ---
    case("size-negative", crlf("MAIL FROM:<a@client.test> SIZE=-1"), ["501 5.5.4"]),
    case("size-overflow", crlf("MAIL FROM:<a@client.test> SIZE=99999999999999999999"), ["501 5.5.4"]),
    case("size-letters", crlf("MAIL FROM:<a@client.test> SIZE=abc"), ["501 5.5.4"]),
    case("size-empty", crlf("MAIL FROM:<a@client.test> SIZE="), ["501 5.5.4"]),
    case("size-double-equals", crlf("MAIL FROM:<a@client.test> SIZE=1=2"), ["501 5.5.4"]),
    case("size-too-big", crlf("MAIL FROM:<a@client.test> SIZE=1000000000"), ["552 5.3.4"]),
    case("size-duplicate", crlf("MAIL FROM:<a@client.test> SIZE=10 SIZE=10"), ["555 5.5.4"]),
    case("body-9bit", crlf("MAIL FROM:<a@client.test> BODY=9BIT"), ["501 5.5.4"]),
    case("ret-all", crlf("MAIL FROM:<a@client.test> RET=ALL"), ["501 5.5.4"]),
    case("ret-duplicate", crlf("MAIL FROM:<a@client.test> RET=FULL RET=HDRS"), ["555 5.5.4"]),
    case("envid-101", crlf("MAIL FROM:<a@client.test> ENVID=" + "e" * 101), ["501 5.5.4"]),
    case("envid-bad-xtext", crlf("MAIL FROM:<a@client.test> ENVID=a+zz"), ["501 5.5.4"]),
    case("envid-header-injection", crlf("MAIL FROM:<a@client.test> ENVID=a+0D+0ABcc:+20x@evil.test"),
         ["501 5.5.4"]),
    case("unknown-mail-param", crlf("MAIL FROM:<a@client.test> FOO=bar"), ["555 5.5.4"]),
    case("smtputf8-with-value", crlf("MAIL FROM:<a@client.test> SMTPUTF8=yes"), ["501 5.5.4"]),
    case("params-after-helo", crlf("MAIL FROM:<a@client.test> SIZE=10"), ["555 5.5.4"], prefix=(HELO,)),
    case("notify-bogus", [TX[0], crlf("RCPT TO:<b@sink.test> NOTIFY=BOGUS")], TX[1] + ["501 5.5.4"]),
    case("notify-never-success", [TX[0], crlf("RCPT TO:<b@sink.test> NOTIFY=NEVER,SUCCESS")],
         TX[1] + ["501 5.5.4"]),
    case("notify-empty", [TX[0], crlf("RCPT TO:<b@sink.test> NOTIFY=")], TX[1] + ["501 5.5.4"]),
    case("notify-duplicate", [TX[0], crlf("RCPT TO:<b@sink.test> NOTIFY=SUCCESS NOTIFY=FAILURE")],
         TX[1] + ["555 5.5.4"]),
    case("orcpt-bad-xtext", [TX[0], crlf("RCPT TO:<b@sink.test> ORCPT=rfc822;a+ZZ@b")],
         TX[1] + ["501 5.5.4"]),
    case("orcpt-no-type", [TX[0], crlf("RCPT TO:<b@sink.test> ORCPT=rfc822")], TX[1] + ["501 5.5.4"]),
    case("orcpt-header-injection", [TX[0], crlf("RCPT TO:<b@sink.test> ORCPT=rfc822;a+0D+0AX:y@b")],
         TX[1] + ["501 5.5.4"]),
    case("unknown-rcpt-param", [TX[0], crlf("RCPT TO:<b@sink.test> FOO")], TX[1] + ["555 5.5.4"]),
    # --- bare CR inside a command line: one line, never two commands ---
    case("bare-cr-mail-rcpt", b"MAIL FROM:<a@client.test>\rRCPT TO:<x@sink.test>\r\n", ["500 5.5.2"]),
    case("bare-cr-rcpt-data", [TX[0], b"RCPT TO:<x@sink.test>\rDATA\r\n"], TX[1] + ["500 5.5.2"]),
    case("bare-cr-ehlo", b"EHLO a\rMAIL FROM:<a@client.test>\r\n", ["500 5.5.2"], prefix=()),
    # --- invalid UTF-8, with and without SMTPUTF8 ---
    case("utf8-invalid-smtputf8", b"MAIL FROM:<\xff@client.test> SMTPUTF8\r\n", ["501 5.1.7"]),
    case("utf8-invalid-plain", b"MAIL FROM:<\xff@client.test>\r\n", ["501 5.1.7"]),
    case("utf8-valid-needs-smtputf8", "MAIL FROM:<é@client.test>\r\n".encode(), ["553 5.6.7"]),
    case("utf8-valid-with-smtputf8", "MAIL FROM:<é@client.test> SMTPUTF8\r\n".encode(), ["250 2.1.0"]),
    case("utf8-overlong", b"MAIL FROM:<\xc0\xaf@client.test> SMTPUTF8\r\n", ["501 5.1.7"]),
    case("utf8-surrogate", b"MAIL FROM:<\xed\xa0\x80@client.test> SMTPUTF8\r\n", ["501 5.1.7"]),
    case("utf8-truncated", b"MAIL FROM:<\xe2\x82@client.test> SMTPUTF8\r\n", ["501 5.1.7"]),
    case("utf8-invalid-domain", [UTF8_MAIL[0], b"RCPT TO:<x@\xff.test>\r\n"], UTF8_MAIL[1] + ["501 5.1.3"]),
    case("utf8-rcpt-needs-smtputf8", [TX[0], "RCPT TO:<ü@sink.test>\r\n".encode()], TX[1] + ["553 5.6.7"]),
    case("utf8-invalid-in-param", [UTF8_MAIL[0], b"RCPT TO:<x@sink.test> ORCPT=utf-8;\xff\r\n"],
         UTF8_MAIL[1] + ["501 5.5.4"]),
    case("utf8-invalid-ehlo-tolerated", b"EHLO \xff\xfe.test\r\n", ["250"], prefix=()),
]


@pytest.fixture(scope="module")
def hostile(mailerd_bin, dns, peers, postfix, peer_port, e2e_dir):
    """One daemon for the whole table (relay_networks default: 127/8)."""
    d = tempfile.mkdtemp(prefix="hostile.", dir=e2e_dir)
    md = Mailerd(mailerd_bin, d, dns.address, peer_port, {"max_message_size": "10m"},
                 name="hostile")
    # In a sanitizer build freed memory sits in a quarantine (256 MB by
    # default) and would count as RSS: keep it small so the memory checks
    # below measure buffering, not the quarantine. No effect otherwise.
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = ((saved + ":") if saved else "") + "quarantine_size_mb=4"
    try:
        md.start()
    finally:
        if saved is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = saved
    yield md
    md.stop()
    problems = md.check_problems()
    assert not problems, "%s\n%s" % (problems, md.stderr_text(tail=60))


@pytest.mark.parametrize("writes,expect,quit", CASES)
def test_hostile_input(hostile, writes, expect, quit):
    assert len(CASES) >= 60
    c = Conn(hostile.port)
    try:
        got = c.reply()
        assert got and got[0] == 220, "greeting: %r" % (got,)
        for i, w in enumerate(writes):
            if i:
                time.sleep(0.05)
            c.send(w)
        for n, want in enumerate(expect):
            if want == CLOSED:
                assert c.closed(), "reply %d: connection still open, want it closed" % n
                break
            got = c.reply()
            assert got is not None, "reply %d: connection closed, want %s" % (n, want)
            code, status, text = got
            have = "%d %s" % (code, status) if " " in want else str(code)
            assert have == want, "reply %d: got %r, want %s" % (n, text, want)
        if quit:
            c.send(b"QUIT\r\n")
            got = c.reply()
            assert got is not None and got[:2] == (221, "2.0.0"), \
                "after the case: got %r, want 221 2.0.0 (a reply too many or too few)" % (got,)
    finally:
        c.close()
    assert hostile.alive(), "mailerd died"


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def test_ten_megabytes_without_newline(hostile):
    """10 MB with no line end: drained, not buffered; then one 500 5.5.2
    for the whole line and the session goes on."""
    pid = hostile.proc.pid
    before = rss_kb(pid)
    c = Conn(hostile.port, timeout=30)
    try:
        assert c.reply()[0] == 220
        c.send(b"EHLO client.test\r\n")
        assert c.reply()[0] == 250
        chunk = b"A" * (1 << 20)
        peak = before
        for _ in range(10):
            c.send(chunk)
            peak = max(peak, rss_kb(pid))
        c.send(b"\r\nNOOP\r\n")
        got = [c.reply(), c.reply()]
        peak = max(peak, rss_kb(pid))
        assert [(g[0], g[1]) for g in got] == [(500, "5.5.2"), (250, "2.0.0")], got
    finally:
        c.close()
    assert peak < 100 * 1024, "daemon RSS %d kB while taking 10 MB without a line end" % peak
    print("RSS before %d kB, peak %d kB" % (before, peak))
    assert peak - before < 8 * 1024, "RSS grew from %d to %d kB" % (before, peak)


def test_ten_megabytes_nul_lines(hostile):
    """10 MB of NUL-bearing short lines: each answered, memory bounded."""
    pid = hostile.proc.pid
    before = rss_kb(pid)
    c = Conn(hostile.port, timeout=30)
    try:
        assert c.reply()[0] == 220
        c.send(b"NOOP\r\n")
        assert c.reply()[:2] == (250, "2.0.0")
        # 19 bad lines; the 20th 5xx would end the session by design
        c.send(b"\x00" * 400 + b"\r\n" + b"N\x00OP " + b"\x00" * (5 << 20) + b"\r\n")
        got = [c.reply(), c.reply()]
        assert [(g[0], g[1]) for g in got] == [(500, "5.5.2"), (500, "5.5.2")], got
        c.send(b"QUIT\r\n")
        assert c.reply()[:2] == (221, "2.0.0")
    finally:
        c.close()
    assert rss_kb(pid) - before < 8 * 1024


def test_zz_still_up_and_delivers(hostile, peers):
    """After the whole table: the daemon is up, a good client's message is
    delivered, and nothing smuggled was queued or delivered."""
    assert hostile.alive()
    token = "after-table-%s" % RUN
    rcpt = "good-%s@sink.test" % RUN
    code, text, qid = hostile.submit("good@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert peers.sink.wait(rcpt=rcpt), "good message not delivered"
    # the pipelined and split-end messages of the table were real and arrive
    assert peers.sink.wait(rcpt="pipe-%s@sink.test" % RUN)
    pipe = peers.sink.find(rcpt="pipe-%s@sink.test" % RUN)[0]
    assert b"MAIL FROM:<evil@client.test>" in pipe.data  # carried as data, not run
    assert peers.sink.wait(rcpt="split-%s@sink.test" % RUN)
    assert peers.sink.find(rcpt=SMUGGLED_RCPT) == []
    assert peers.sink.find(rcpt="victim-%s@sink.test" % RUN) == []
    assert [e for e in hostile.events("received") if e.get("sender") == SMUGGLE_SENDER] == []
    assert [e for e in hostile.events("received") if e.get("sender") == "evil@client.test"] == []


# ---- slowloris ---------------------------------------------------------

def dribble(c, data, interval):
    """Send data one byte per interval until the server answers; returns
    (reply or None, seconds from start, bytes sent)."""
    start = time.monotonic()
    for i, b in enumerate(data):
        try:
            c.sock.sendall(bytes([b]))
        except OSError:
            return c.reply(), time.monotonic() - start, i
        r, _, _ = select.select([c.sock], [], [], interval)
        if r:
            return c.reply(), time.monotonic() - start, i + 1
    return None, time.monotonic() - start, len(data)


@pytest.fixture
def slow_md(mailerd_factory):
    return mailerd_factory(smtpd_timeout="2s", smtpd_data_timeout="2s", smtpd_data_deadline="3s")


def test_slowloris_command_line(slow_md):
    """One byte every 0.5 s never completes a command: the deadline counts
    from the last complete command, so 421 4.4.2 comes after ~2 s."""
    c = Conn(slow_md.port)
    try:
        assert c.reply()[0] == 220
        c.send(b"EHLO client.test\r\n")
        assert c.reply()[0] == 250
        got, secs, sent = dribble(c, b"MAIL FROM:<slow-loris@client.test>\r\n", 0.5)
        assert got is not None and got[:2] == (421, "4.4.2"), "got %r after %.1fs" % (got, secs)
        assert 1.5 <= secs <= 3.5, "421 after %.1fs, want about 2s" % secs
        assert sent < 10, "server read %d bytes before the deadline" % sent
        assert c.closed()
    finally:
        c.close()


def test_slowloris_data(slow_md):
    """DATA dribbled one byte every 0.5 s (each gap under smtpd_data_timeout):
    smtpd_data_deadline ends it with 421 4.4.2 after ~3 s; nothing queued."""
    c = Conn(slow_md.port)
    try:
        assert c.reply()[0] == 220
        c.send(crlf("EHLO client.test", "MAIL FROM:<loris@client.test>",
                    "RCPT TO:<loris-%s@sink.test>" % RUN, "DATA"))
        assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
        got, secs, _ = dribble(c, b"Subject: slow\r\n\r\n" + b"x" * 40, 0.5)
        assert got is not None and got[:2] == (421, "4.4.2"), "got %r after %.1fs" % (got, secs)
        assert 2.5 <= secs <= 4.5, "421 after %.1fs, want about 3s" % secs
        assert c.closed()
    finally:
        c.close()
    assert slow_md.events("received") == []


def test_idle_and_steady_commands(slow_md):
    """An idle client is closed after smtpd_timeout; one that sends a
    complete command every second is not (the deadline restarts per
    command)."""
    idle = Conn(slow_md.port)
    busy = Conn(slow_md.port)
    try:
        assert idle.reply()[0] == 220 and busy.reply()[0] == 220
        start = time.monotonic()
        for _ in range(4):
            busy.send(b"NOOP\r\n")
            assert busy.reply()[:2] == (250, "2.0.0")
            time.sleep(1.0)
        got = idle.reply()
        assert got is not None and got[:2] == (421, "4.4.2"), got
        assert time.monotonic() - start < 4.5
        busy.send(b"QUIT\r\n")
        assert busy.reply()[:2] == (221, "2.0.0")
    finally:
        idle.close()
        busy.close()


# ---- many connections, limits -------------------------------------------

def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        new = n if hard == resource.RLIM_INFINITY else min(n, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        pytest.fail("cannot open %d descriptors (limit %d)" % (n, soft), pytrace=False)


def test_thousand_idle_connections(mailerd_factory, peers):
    """1000 idle sessions (from 25 loopback addresses, 40 each, under the
    default per-address limit of 50): every one is greeted, and a good
    client's message is still accepted within seconds and delivered."""
    raise_nofile(4096)
    md = mailerd_factory(max_connections="1010")
    idle = []
    try:
        for i in range(1000):
            idle.append(Conn(md.port, timeout=10, source="127.0.1.%d" % (i % 25 + 1)))
        greeted = 0
        for c in idle[::50]:
            got = c.reply()
            greeted += got is not None and got[0] == 220
        assert greeted == 20, "only %d of 20 sampled idle sessions were greeted" % greeted
        rcpt = "busy-%s@sink.test" % RUN
        start = time.monotonic()
        code, text, _ = md.submit("good@client.test", [rcpt], make_message("busy-" + RUN, to=rcpt))
        took = time.monotonic() - start
        assert code == 250, text
        assert took < 5.0, "good client took %.1fs with 1000 idle sessions" % took
        assert peers.sink.wait(rcpt=rcpt), "not delivered"
        assert md.alive()
    finally:
        for c in idle:
            c.close()


def test_max_connections_total(mailerd_factory):
    md = mailerd_factory(max_connections="5", max_connections_per_ip="0")
    conns = []
    try:
        for i in range(5):
            conns.append(Conn(md.port, source="127.0.2.%d" % (i + 1)))
            assert conns[-1].reply()[0] == 220
        extra = Conn(md.port, source="127.0.2.9")
        got = extra.reply()
        assert got is not None and got[:2] == (421, "4.7.0"), got
        assert "Too many connections" in got[2], got
        assert extra.closed()
        extra.close()
        # a slot given back is usable again
        conns.pop().close()
        ok = wait_for(lambda: _greeting(md.port) == 220, 5.0)
        assert ok, "no slot after a client left"
    finally:
        for c in conns:
            c.close()


def _greeting(port, source=None):
    c = Conn(port, source=source)
    try:
        got = c.reply()
        return got[0] if got else None
    finally:
        c.close()


def test_max_connections_per_ip(mailerd_factory):
    md = mailerd_factory(max_connections_per_ip="3")
    conns = []
    try:
        for _ in range(3):
            conns.append(Conn(md.port, source="127.0.3.1"))
            assert conns[-1].reply()[0] == 220
        extra = Conn(md.port, source="127.0.3.1")
        got = extra.reply()
        assert got is not None and got[:2] == (421, "4.7.0"), got
        assert "Too many connections" in got[2]
        assert extra.closed()
        extra.close()
        # another address is not affected
        assert _greeting(md.port, source="127.0.3.2") == 220
    finally:
        for c in conns:
            c.close()


def test_message_rate_limit(mailerd_factory, peers):
    """max_messages_per_ip_per_minute = 3: the 4th MAIL within the minute
    gets 450 4.7.1 (also on a new connection); another address is fine."""
    md = mailerd_factory(max_messages_per_ip_per_minute="3")
    c = Conn(md.port, source="127.0.4.1")
    try:
        assert c.reply()[0] == 220
        c.send(b"EHLO client.test\r\n")
        assert c.reply()[0] == 250
        for i in range(3):
            rcpt = "rate%d-%s@sink.test" % (i, RUN)
            c.send(crlf("MAIL FROM:<rate@client.test>", "RCPT TO:<%s>" % rcpt, "DATA"))
            assert [c.reply()[0] for _ in range(3)] == [250, 250, 354]
            c.send(make_message("rate%d-%s" % (i, RUN), to=rcpt) + b".\r\n")
            assert c.reply()[:2] == (250, "2.0.0")
        c.send(b"MAIL FROM:<rate@client.test>\r\n")
        got = c.reply()
        assert got[:2] == (450, "4.7.1"), got
        assert "Rate limit exceeded" in got[2]
    finally:
        c.close()
    c = Conn(md.port, source="127.0.4.1")
    try:
        c.reply()
        c.send(crlf("EHLO client.test", "MAIL FROM:<rate@client.test>"))
        assert c.reply()[0] == 250 and c.reply()[:2] == (450, "4.7.1")
    finally:
        c.close()
    c = Conn(md.port, source="127.0.4.2")
    try:
        c.reply()
        c.send(crlf("EHLO client.test", "MAIL FROM:<rate@client.test>"))
        assert c.reply()[0] == 250 and c.reply()[:2] == (250, "2.1.0")
    finally:
        c.close()
    assert len(peers.sink.wait(token="rate2-" + RUN)) == 1


# ---- privilege drop ------------------------------------------------------

def _status_ids(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    return []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start as root")
def test_run_user_drops_root(mailerd_factory, peers):
    """Started as root with run_user = nobody: every uid and gid of the
    daemon is nobody's, spool files are not world-readable, and mail is
    still accepted and delivered."""
    nobody = pwd.getpwnam("nobody")
    md = mailerd_factory(start=False, run_user="nobody")
    os.chmod(md.dir, 0o755)  # the dropped daemon works inside its directory
    md.start()
    uids = _status_ids(md.proc.pid, "Uid")
    gids = _status_ids(md.proc.pid, "Gid")
    assert uids == [nobody.pw_uid] * 4, "Uid line %r" % uids
    assert gids == [nobody.pw_gid] * 4, "Gid line %r" % gids
    assert "running as user nobody" in md.stderr_text()
    rcpt = "priv-%s@sink.test" % RUN
    code, text, qid = md.submit("priv@client.test", [rcpt], make_message("priv-" + RUN, to=rcpt))
    assert code == 250, text
    assert peers.sink.wait(rcpt=rcpt), "not delivered after the privilege drop"
    assert os.stat(md.spool_dir).st_uid == nobody.pw_uid
    for root, dirs, files in os.walk(md.spool_dir):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue  # delivered and removed meanwhile
            assert st.st_uid == nobody.pw_uid, "%s owned by uid %d" % (name, st.st_uid)
            assert st.st_mode & 0o007 == 0, "%s is world-accessible (%o)" % (name, st.st_mode)
    assert os.stat(md.event_log).st_mode & 0o007 == 0


def test_root_without_run_user_warns(mailerd):
    if os.geteuid() == 0:
        assert "running as root" in mailerd.stderr_text()
    else:
        assert "running as root" not in mailerd.stderr_text()


def test_run_user_unknown_refused(mailerd_factory):
    """A run_user that does not exist stops the start with a reason
    (a daemon that silently stayed root would be worse)."""
    md = mailerd_factory(start=False, run_user="no-such-user-%s" % RUN)
    p = md.cli("serve", "-c", md.config_path, timeout=20)
    assert p.returncode != 0
    assert b"no such user" in p.stderr, p.stderr
