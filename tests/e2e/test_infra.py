"""The harness checked on its own, without mailerd: if one of these fails,
the mailerd tests that use the same peer say nothing about mailerd."""

import smtplib
import socket
import subprocess

import pytest

from harness import world
from harness.dns import TYPE_A, TYPE_MX
from harness.mailerd import make_message

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("name,qtype,rcode,answers", [
    ("postfix.test", TYPE_MX, "NOERROR", [(10, "mx.postfix.test")]),
    ("mx.postfix.test", TYPE_A, "NOERROR", [world.POSTFIX_IP]),
    ("sink.test", TYPE_MX, "NOERROR", [(10, "mx.sink.test")]),
    ("mx.sink.test", TYPE_A, "NOERROR", [world.SINK_IP]),
    ("down421.test", TYPE_MX, "NOERROR", [(10, "mx1.down421.test"), (20, "mx2.down421.test")]),
    ("mx1.down421.test", TYPE_A, "NOERROR", [world.DOWN421_IP]),
    ("mx2.down421.test", TYPE_A, "NOERROR", [world.BACKUP_IP]),
    ("greylist.test", TYPE_MX, "NOERROR", [(10, "mx.greylist.test")]),
    ("mx.refused.test", TYPE_A, "NOERROR", [world.REFUSED_IP]),
    ("mx.slow.test", TYPE_A, "NOERROR", [world.SLOW_IP]),
    ("mx.tempfail.test", TYPE_A, "NOERROR", [world.TEMPFAIL_IP]),
    ("nomx.test", TYPE_MX, "NOERROR", []),              # no MX ...
    ("nomx.test", TYPE_A, "NOERROR", [world.NOMX_IP]),  # ... but an A record
    ("nullmx.test", TYPE_MX, "NOERROR", [(0, "")]),     # RFC 7505: MX 0 "."
    (world.NXDOMAIN_EXAMPLE, TYPE_MX, "NXDOMAIN", []),
    (world.NXDOMAIN_EXAMPLE, TYPE_A, "NXDOMAIN", []),
    ("servfail.test", TYPE_MX, "SERVFAIL", []),
])
def test_dns_zone(dns, name, qtype, rcode, answers):
    got_rcode, got = dns.query(name, qtype)
    assert got_rcode == rcode, "%s: got %s, want %s\n%s" % (name, got_rcode, rcode, dns.log()[-2000:])
    assert sorted(got) == sorted(answers), "%s: got %s, want %s" % (name, got, answers)


def test_postfix_peer_accepts_known_rejects_unknown(postfix, peer_port, token):
    """swaks to the Postfix peer: alice accepted and delivered to her
    Maildir; an unknown user gets Postfix's own 550 5.1.1."""
    p = subprocess.run(
        ["swaks", "--server", "%s:%d" % (world.POSTFIX_IP, peer_port), "--helo", "infra.test",
         "--from", "infra@client.test", "--to", "alice@postfix.test",
         "--header", "Subject: infra %s" % token],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert "250 2.0.0 Ok: queued as" in out
    assert postfix.wait_mailbox("alice", token), "not delivered to alice:\n" + postfix.log()[-3000:]

    with smtplib.SMTP(world.POSTFIX_IP, peer_port, local_hostname="infra.test", timeout=30) as s:
        s.ehlo()
        s.mail("infra@client.test")
        code, text = s.rcpt("nosuchuser@postfix.test")
    assert code == 550
    assert text.decode() == ("5.1.1 <nosuchuser@postfix.test>: Recipient address rejected: "
                             "User unknown in virtual mailbox table")


def test_sink_records_exact_bytes(peers, peer_port, token):
    msg = make_message(token, to="x@sink.test", body="line1\r\n.dot line\r\nend\r\n")
    with smtplib.SMTP(world.SINK_IP, peer_port, local_hostname="infra.test", timeout=30) as s:
        s.sendmail("infra@client.test", ["x-%s@sink.test" % token], msg)
    got = peers.sink.wait(rcpt="x-%s@sink.test" % token, timeout=5)
    assert len(got) == 1
    assert got[0].data == msg
    assert got[0].message_ids == ["<%s@client.test>" % token]


def test_greylist_site_451_then_250(peers, peer_port, token):
    rcpt = "g-%s@greylist.test" % token
    replies = []
    for _ in range(2):
        with smtplib.SMTP(world.GREYLIST_IP, peer_port, local_hostname="infra.test", timeout=30) as s:
            s.ehlo()
            s.mail("infra@client.test")
            replies.append(s.rcpt(rcpt)[0])
    assert replies == [451, 250]


def test_down421_site_greets_421(peers, peer_port):
    with pytest.raises(smtplib.SMTPConnectError) as ei:
        smtplib.SMTP(world.DOWN421_IP, peer_port, local_hostname="infra.test", timeout=10)
    assert ei.value.smtp_code == 421


def test_refused_site_refuses(peer_port):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((world.REFUSED_IP, peer_port), timeout=5)


def test_tempfail_site_451(peers, peer_port, token):
    with smtplib.SMTP(world.TEMPFAIL_IP, peer_port, local_hostname="infra.test", timeout=30) as s:
        s.ehlo()
        s.mail("infra@client.test")
        code, text = s.rcpt("t-%s@tempfail.test" % token)
    assert code == 451
    assert b"mailbox busy at harness tempfail site" in text


def test_slow_site_never_answers_data(peers, peer_port, token):
    s = smtplib.SMTP(world.SLOW_IP, peer_port, local_hostname="infra.test", timeout=2)
    try:
        s.ehlo()
        s.mail("infra@client.test")
        s.rcpt("s-%s@slow.test" % token)
        with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected)):
            s.data(make_message(token))
    finally:
        s.close()
    assert peers.slow.find(token=token), "the slow site did not receive the data"
