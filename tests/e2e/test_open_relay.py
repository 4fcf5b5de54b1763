"""Open relay (issue 5): from a client outside relay_networks, no address
trick gets mail relayed.

The daemon runs with relay_networks = 192.0.2.1/32 (so 127.0.0.1 is an
outsider) and local_domains = local.test. The foreign domain is sink.test:
it resolves to the recording sink, so a relay that slipped through would
not just be accepted, it would arrive there. Each trick (percent hack,
source routes, quoted local parts, bang paths, trailing dots, IP literals,
case variations, postmaster variations) must be refused at RCPT with
554 5.7.1 (foreign) or 550 5.1.1 (a local.test user that is not
postmaster), or be a syntax error; what is accepted (postmaster of
local.test) must never reach sink.test.
"""

import socket
import time
import uuid

import pytest

from harness import world
from harness.mailerd import Mailerd, make_message

RUN = uuid.uuid4().hex[:8]
U = "u" + RUN  # a local part no other test uses

DENIED = "554 5.7.1"
NO_USER = "550 5.1.1"
OK = "250 2.1.5"
SYNTAX = "501 5.1.3"

TRICKS = [
    # percent hack: '%' is never routing here
    ("percent-foreign-via-local", "<%s%%sink.test@local.test>" % U, NO_USER),
    ("percent-local-via-foreign", "<%s%%local.test@sink.test>" % U, DENIED),
    ("percent-double", "<%s%%sink.test%%local.test@local.test>" % U, NO_USER),
    # source routes: dropped (RFC 5321 appendix C), the mailbox decides
    ("source-route", "<@local.test:%s@sink.test>" % U, DENIED),
    ("source-route-two-hops", "<@local.test,@local.test:%s@sink.test>" % U, DENIED),
    ("source-route-literal", "<@[127.0.0.1]:%s@sink.test>" % U, DENIED),
    # quoted local parts: the '@' inside quotes is not the domain
    ("quoted-at", '<"%s@sink.test"@local.test>' % U, NO_USER),
    ("quoted-percent", '<"%s%%sink.test"@local.test>' % U, NO_USER),
    ("quoted-escaped-quote", '<"%s\\"@sink.test"@local.test>' % U, NO_USER),
    ("quoted-foreign", '<"%s@local.test"@sink.test>' % U, DENIED),
    # bang paths
    ("bang-foreign-via-local", "<sink.test!%s@local.test>" % U, NO_USER),
    ("bang-local-via-foreign", "<local.test!%s@sink.test>" % U, DENIED),
    # trailing dots
    ("trailing-dot-foreign", "<%s@sink.test.>" % U, DENIED),
    ("trailing-dot-local", "<%s@local.test.>" % U, NO_USER),
    ("two-trailing-dots", "<%s@sink.test..>" % U, SYNTAX),
    # IP literals (127.0.0.8 is the sink itself)
    ("ip-literal-sink", "<%s@[%s]>" % (U, world.SINK_IP), DENIED),
    ("ip-literal-localhost", "<%s@[127.0.0.1]>" % U, DENIED),
    ("ipv6-literal", "<%s@[IPv6:::1]>" % U, DENIED),
    ("general-literal", "<%s@[x-test:sink.test]>" % U, DENIED),
    # case and look-alike domains
    ("uppercase-foreign", "<%s@SINK.TEST>" % U, DENIED),
    ("uppercase-local", "<%s@LOCAL.TEST>" % U, NO_USER),
    ("mixed-case-local", "<%s@Local.Test>" % U, NO_USER),
    ("local-as-prefix", "<%s@local.test.sink.test>" % U, DENIED),
    ("local-as-suffix", "<%s@sink.test.local.test>" % U, DENIED),
    ("sub-of-local", "<%s@mx.local.test>" % U, DENIED),
    ("two-ats", "<%s@sink.test@local.test>" % U, SYNTAX),
    ("space-in-domain", "<%s@sink.test local.test>" % U, SYNTAX),
    # postmaster variations
    ("postmaster-local", "<postmaster@local.test>", OK),
    ("postmaster-upper", "<POSTMASTER@LOCAL.TEST>", OK),
    ("postmaster-bare", "<postmaster>", OK),
    ("postmaster-trailing-dot", "<PostMaster@local.test.>", OK),
    ("postmaster-route-to-foreign", "<@local.test:postmaster@sink.test>", DENIED),
    ("postmaster-route-from-foreign", "<@sink.test:postmaster@local.test>", OK),
    ("postmaster-foreign", "<postmaster@sink.test>", DENIED),
    ("postmaster-quoted", '<"postmaster"@local.test>', NO_USER),
    ("postmaster-percent", "<postmaster%sink.test@local.test>", NO_USER),
    ("postmaster-bang", "<sink.test!postmaster@local.test>", NO_USER),
    ("postmaster-with-orcpt", "<%s@sink.test> ORCPT=rfc822;postmaster@local.test" % U, DENIED),
]


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.f = self.sock.makefile("rb")

    def reply(self):
        lines = []
        while True:
            line = self.f.readline()
            assert line.endswith(b"\r\n"), "connection closed; got %r" % (lines + [line],)
            lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            if line[3:4] != b"-":
                break
        last = lines[-1]
        return "%s %s" % (last[:3], last[4:].split(" ", 1)[0]), "\n".join(lines)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.f.close()
        self.sock.close()


@pytest.fixture(scope="module")
def outsider_md(mailerd_bin, dns, peers, postfix, peer_port, e2e_dir):
    import tempfile
    d = tempfile.mkdtemp(prefix="relay.", dir=e2e_dir)
    md = Mailerd(mailerd_bin, d, dns.address, peer_port,
                 {"relay_networks": "192.0.2.1/32", "local_domains": "local.test"}, name="relay")
    md.start()
    yield md
    md.stop()
    problems = md.check_problems()
    assert not problems, "%s\n%s" % (problems, md.stderr_text(tail=60))


@pytest.mark.parametrize("name,rcpt,want", TRICKS, ids=[t[0] for t in TRICKS])
def test_relay_trick(outsider_md, name, rcpt, want):
    c = Client(outsider_md.port)
    try:
        assert c.reply()[0].startswith("220")
        assert c.cmd("EHLO outsider.test")[0].startswith("250")
        assert c.cmd("MAIL FROM:<outsider-%s@client.test>" % RUN)[0] == "250 2.1.0"
        got, text = c.cmd("RCPT TO:" + rcpt)
        assert got == want, "RCPT TO:%s got %r, want %s" % (rcpt, text, want)
        assert c.cmd("QUIT")[0] == "221 2.0.0"
    finally:
        c.close()


def test_accepted_tricks_never_reach_foreign_domain(outsider_md, peers):
    """One transaction with the postmaster tricks: the refused ones stay refused,
    the accepted postmaster ones are queued, DATA is taken, and nothing
    arrives at sink.test (within time for a delivery attempt)."""
    token = "relaymsg-" + RUN
    c = Client(outsider_md.port)
    accepted = []
    try:
        c.reply()
        c.cmd("EHLO outsider.test")
        assert c.cmd("MAIL FROM:<outsider-%s@client.test>" % RUN)[0] == "250 2.1.0"
        # the postmaster tricks (the whole table would pass the 20-error limit)
        for name, rcpt, want in [t for t in TRICKS if t[0].startswith("postmaster")]:
            got, text = c.cmd("RCPT TO:" + rcpt)
            assert got == want, "%s: got %r, want %s" % (name, text, want)
            if got == OK:
                accepted.append(rcpt)
        assert accepted
        assert c.cmd("DATA")[0].startswith("354")
        c.sock.sendall(make_message(token, to="postmaster@local.test") + b".\r\n")
        got, text = c.reply()
        assert got == "250 2.0.0", text
        c.cmd("QUIT")
    finally:
        c.close()
    ev = [e for e in outsider_md.events("received")
          if e.get("sender") == "outsider-%s@client.test" % RUN]
    assert len(ev) == 1, ev
    # let the queue work on it: an attempt (or failure) for postmaster@local.test
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = [e for e in outsider_md.events(qid=ev[0]["qid"]) if e.get("event") != "received"]
        if done:
            break
        time.sleep(0.2)
    time.sleep(1)
    assert peers.sink.find(token=token) == [], "relayed to sink.test"
    assert [m for m in peers.sink.find() if any(U in r for r in m.rcpt_tos)] == []
    for e in outsider_md.events(qid=ev[0]["qid"]):
        rcpt = (e.get("rcpt") or "").lower()
        assert "sink.test" not in rcpt.split("@")[-1], "event for a foreign recipient: %r" % e


def test_control_inside_relay_networks(mailerd_factory, peers):
    """The same tricks from inside relay_networks: the source route is
    dropped (mail goes to the mailbox's domain), and the percent hack is
    not interpreted (mail for user%sink.test@local.test is for local.test,
    so it never reaches sink.test)."""
    md = mailerd_factory(local_domains="local.test")
    token = "inside-" + RUN
    routed = "routed-%s@sink.test" % RUN
    c = Client(md.port)
    try:
        c.reply()
        c.cmd("EHLO insider.test")
        assert c.cmd("MAIL FROM:<insider@client.test>")[0] == "250 2.1.0"
        assert c.cmd("RCPT TO:<@local.test:%s>" % routed)[0] == OK
        assert c.cmd("RCPT TO:<p%s%%sink.test@local.test>" % RUN)[0] == OK
        assert c.cmd("DATA")[0].startswith("354")
        c.sock.sendall(make_message(token, to=routed) + b".\r\n")
        assert c.reply()[0] == "250 2.0.0"
        c.cmd("QUIT")
    finally:
        c.close()
    got = peers.sink.wait(rcpt=routed)
    assert len(got) == 1, "source-routed mail not delivered to its mailbox"
    assert got[0].rcpt_tos == [routed], got[0].rcpt_tos
    assert [m for m in peers.sink.find() if "p%s@sink.test" % RUN in [r.lower() for r in m.rcpt_tos]] == []
