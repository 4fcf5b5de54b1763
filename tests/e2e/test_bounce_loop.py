"""Signed return paths and inbound bounces (issue 6): the loop closed.

mailerd sends with return_path_signing on to a real Postfix of its own
(bouncer.test, started in this module on 127.0.0.12) that takes every
recipient at RCPT time and bounces unknown ones itself, later, by mail.
Postfix sends its bounce to the signed return path at the bounce domain,
which it routes back to mailerd's listener. mailerd must accept it, parse
it, tie it to the message and recipient the tag names, suppress the
address, and refuse the next RCPT to it. A forged bounce (bad tag) is
refused at RCPT and counted as backscatter.

Each test runs against SQLite and against a real PostgreSQL (like
test_suppress.py).
"""

import os
import re
import uuid

import pytest

from harness.mailerd import make_message
from harness.net import free_port, wait_for, wait_listening
from harness.postfix import MASTER_CF, _run, prepare_instance_dirs
from harness.postgres import PostgresServer

BOUNCER_IP = "127.0.0.12"      # our own Postfix: accepts everyone, bounces later
BOUNCER_DOMAIN = "bouncer.test"
BOUNCE_DOMAIN = "bounce.mailerd.test"
SIGNED_RE = re.compile(r"^bounces\+([a-z2-7]{32}-[^@]+|[a-z2-7]{39})@" + re.escape(BOUNCE_DOMAIN) + "$",
                       re.I)

# Like harness/postfix.py, but recipient verification is off: unknown
# users are accepted at RCPT and bounced by the virtual delivery agent,
# and mail for the bounce domain is relayed to mailerd.
BOUNCER_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {tmp}/queue
data_directory = {tmp}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{domain}
mydomain = {domain}
myorigin = mx.{domain}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_reject_unlisted_recipient = no
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{tmp}/etc/vmailbox
virtual_mailbox_base = {tmp}/mail
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
transport_maps = texthash:{tmp}/etc/transport
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_bind_address = {ip}
maillog_file = {tmp}/postfix.log
maillog_file_prefixes = {tmp}
biff = no
smtputf8_enable = yes
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtpd_banner = $myhostname ESMTP Postfix (bounce loop)
"""


class BouncerPostfix:
    """A Postfix for bouncer.test that accepts then bounces unknown users
    and routes bounce_domain to a mailerd listener set with route_to()."""

    def __init__(self, tmpdir, port):
        self.tmp, self.ip, self.port = tmpdir, BOUNCER_IP, port
        self.etc = os.path.join(tmpdir, "etc")
        self.mail = os.path.join(tmpdir, "mail")
        self.log_path = os.path.join(tmpdir, "postfix.log")
        self.started = False
        uid, gid = prepare_instance_dirs(tmpdir)
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            f.write("alice@%s alice/\n" % BOUNCER_DOMAIN)
        self.route_to(None)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(BOUNCER_MAIN_CF.format(tmp=tmpdir, uid=uid, gid=gid, domain=BOUNCER_DOMAIN,
                                           ip=BOUNCER_IP))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(ip=BOUNCER_IP, port=port))
        _run(["postfix", "-c", self.etc, "check"])
        _run(["postfix", "-c", self.etc, "start"])
        self.started = True
        if not wait_listening(BOUNCER_IP, port, timeout=20):
            log = self.log()
            self.stop()
            raise RuntimeError("Postfix did not listen on %s:%d\n%s" % (BOUNCER_IP, port, log))

    def route_to(self, mailerd_port):
        """Send mail for the bounce domain to 127.0.0.1:mailerd_port (texthash
        maps are read when a process starts: `postfix reload` picks it up)."""
        with open(os.path.join(self.etc, "transport"), "w") as f:
            if mailerd_port:
                f.write("%s smtp:[127.0.0.1]:%d\n" % (BOUNCE_DOMAIN, mailerd_port))
        if self.started:
            _run(["postfix", "-c", self.etc, "reload"])

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def mailbox(self, user):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.mail, user, sub)
            if os.path.isdir(d):
                for name in sorted(os.listdir(d)):
                    with open(os.path.join(d, name), "rb") as f:
                        out.append(f.read())
        return out

    def stop(self):
        try:
            _run(["postfix", "-c", self.etc, "stop"], check=False)
        except Exception:
            pass


@pytest.fixture(scope="module")
def bouncer(e2e_dir):
    d = os.path.join(e2e_dir, "bouncer-%s" % uuid.uuid4().hex[:6])
    os.makedirs(d)
    try:
        peer = BouncerPostfix(d, free_port(ips=(BOUNCER_IP,)))
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def pg(e2e_dir):
    d = os.path.join(e2e_dir, "postgres-%s" % uuid.uuid4().hex[:6])
    try:
        server = PostgresServer(d)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    if request.param == "sqlite":
        return {}
    pg = request.getfixturevalue("pg")
    return {"state_db": pg.create_database("t_" + uuid.uuid4().hex[:12])}


def signing_daemon(mailerd_factory, bouncer, store):
    md = mailerd_factory(**dict(store,
                                suppress_refresh="300ms",
                                return_path_signing="on",
                                bounce_domain=BOUNCE_DOMAIN,
                                local_domains=BOUNCE_DOMAIN,
                                transport_map="%s=[%s]:%d" % (BOUNCER_DOMAIN, BOUNCER_IP,
                                                              bouncer.port)))
    bouncer.route_to(md.port)
    return md


def rcpt_reply(md, rcpt, sender="list@client.test"):
    with md.smtp() as s:
        s.ehlo()
        code, resp = s.mail(sender)
        assert code == 250, resp
        code, resp = s.rcpt(rcpt)
        s.rset()
        return code, resp.decode("utf-8", "replace")


def suppress(md, *args):
    return md.cli("suppress", "-c", md.config_path, *args)


def backscatter_count(md):
    out = suppress(md, "stats").stdout.decode()
    m = re.search(r"backscatter[^:]*:\s*(\d+)", out)
    return int(m.group(1)) if m else None


def detail_field(ev, name):
    m = re.search(r"\b%s=(<[^>]*>|\S+)" % re.escape(name), ev.get("detail", ""))
    return m.group(1).strip("<>") if m else None


def bounce_events(md, qid):
    return {detail_field(e, "rcpt"): e for e in md.events("bounce-received", qid=qid)}


def test_postfix_bounce_suppresses_the_tagged_recipient(mailerd_factory, bouncer, store, token):
    md = signing_daemon(mailerd_factory, bouncer, store)
    key = os.path.join(md.dir, "signing.key")
    # a long address gets the hashed tag, a short one rides along (carried)
    long_bad = "nosuch-%s@%s" % (token, BOUNCER_DOMAIN)
    short_bad = "u%s@%s" % (token[-6:], BOUNCER_DOMAIN)
    good = "alice@%s" % BOUNCER_DOMAIN
    rcpts = [long_bad, short_bad, good]
    sender = "list-%s@client.test" % token
    code, text, qid = md.submit(sender, rcpts, make_message(token, to=long_bad, sender=sender))
    assert code == 250, text

    # the key was made on first start, private
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert os.path.getsize(key) == 32

    # every recipient was accepted by Postfix, each in its own transaction
    # with its own signed MAIL FROM
    for r in rcpts:
        ev = md.wait_event("delivered", rcpt=r, timeout=20)
        assert ev is not None, "no delivery to %s" % r
    got = wait_for(lambda: [m for m in bouncer.mailbox("alice") if token.encode() in m], 20)
    assert got, "alice's copy did not arrive"
    rp = re.search(rb"^Return-Path: <([^>]*)>", got[0], re.M)
    assert rp, got[0][:500]
    rp = rp.group(1).decode()
    assert SIGNED_RE.match(rp), rp
    assert rp.lower().endswith("-alice=%s@%s" % (BOUNCER_DOMAIN, BOUNCE_DOMAIN)), rp
    froms = set(re.findall(r"from=<(bounces\+[^>]*)>", bouncer.log()))
    mine = [f for f in froms if f == rp or ("-u%s=" % token[-6:]) in f or
            (len(f.split("@")[0]) == 8 + 39)]
    assert len(mine) >= 3, froms
    assert all(len(f.split("@")[0]) <= 64 for f in froms), froms

    # Postfix bounces both unknown users to their signed return paths;
    # mailerd takes them in and ties each to the message and recipient
    def both():
        evs = bounce_events(md, qid)
        return evs if all(r.lower() in evs for r in (long_bad, short_bad)) else None
    evs = wait_for(both, 40)
    assert evs, "bounce-received events: %r\n%s" % (bounce_events(md, qid), bouncer.log()[-3000:])
    for r, index in ((long_bad, "0"), (short_bad, "1")):
        ev = evs[r.lower()]
        assert detail_field(ev, "rcpt_index") == index, ev
        assert detail_field(ev, "reason") == "userunknown", ev
        assert detail_field(ev, "hard") == "yes", ev
        assert detail_field(ev, "verdict") == "suppressed", ev

    # the next RCPT to those addresses is refused with when and why
    for r in (long_bad, short_bad):
        last = [None]

        def refused():
            last[0] = rcpt_reply(md, r)
            return last[0][0] == 550
        assert wait_for(refused, 10, interval=0.2), "still accepted: %r" % (last[0],)
        assert "5.1.1" in last[0][1] and "userunknown" in last[0][1], last[0]
        p = suppress(md, "check", r)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert qid.encode() in p.stdout, "the original queue id is not recorded"
    assert rcpt_reply(md, good)[0] == 250, "alice was refused"

    # the bounces themselves left the queue (taken in locally, not relayed)
    for ev in evs.values():
        bqid = detail_field(ev, "bounce_qid")
        assert bqid and bqid != qid
        assert md.wait_event("removed", qid=bqid, timeout=10) is not None
    assert wait_for(lambda: md.queue_json() == [], 10), md.queue_json()
    assert backscatter_count(md) == 0


def test_forged_bounce_refused_and_counted(mailerd_factory, bouncer, store, token):
    md = signing_daemon(mailerd_factory, bouncer, store)
    # a well-formed tag for a message this server never sent (forged HMAC)
    forged = "bounces+seaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-victim=sink.test@" + BOUNCE_DOMAIN
    c = md.raw()
    try:
        assert c.cmd("EHLO forger.test")[0] == 250
        assert c.cmd("MAIL FROM:<>")[0] == 250
        code, text = c.cmd("RCPT TO:<%s>" % forged)
        assert code == 550, text
        assert "5.1.1" in text and "invalid or expired bounce address" in text, text
        assert c.cmd("QUIT")[0] == 221
    finally:
        c.close()
    assert wait_for(lambda: backscatter_count(md) == 1, 10), \
        suppress(md, "stats").stdout.decode()
    ev = md.wait_event("backscatter", timeout=5)
    assert ev is not None and "bad-tag" in ev.get("detail", ""), ev
    # nobody was suppressed by it
    assert suppress(md, "check", "victim@sink.test").returncode == 0
    assert "suppressed addresses: 0" in suppress(md, "stats").stdout.decode()

    # a malformed tag is refused the same way; postmaster stays reachable
    code, text = rcpt_reply(md, "bounces+junk@" + BOUNCE_DOMAIN, sender="")
    assert code == 550, text
    assert rcpt_reply(md, "postmaster@" + BOUNCE_DOMAIN, sender="")[0] == 250
    assert wait_for(lambda: backscatter_count(md) == 2, 10)


def test_report_to_postmaster_is_backscatter(mailerd_factory, bouncer, store, token):
    """A DSN at postmaster@bounce_domain names no message of ours: it is
    counted as backscatter and suppresses nobody."""
    md = signing_daemon(mailerd_factory, bouncer, store)
    victim = "victim-%s@sink.test" % token
    dsn = ("From: MAILER-DAEMON@elsewhere.test\r\n"
           "To: postmaster@%s\r\n"
           "Subject: Undelivered Mail Returned to Sender\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
           "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
           "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
           "Reporting-MTA: dns; elsewhere.test\r\n\r\n"
           "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n"
           "Diagnostic-Code: smtp; 550 5.1.1 <%s>: User unknown\r\n"
           "--b1--\r\n") % (BOUNCE_DOMAIN, victim, victim)
    code, text, qid = md.submit("", ["postmaster@" + BOUNCE_DOMAIN], dsn.encode())
    assert code == 250, text
    assert wait_for(lambda: backscatter_count(md) == 1, 15), \
        suppress(md, "stats").stdout.decode() + md.stderr_text(tail=30)
    assert suppress(md, "check", victim).returncode == 0, "backscatter suppressed someone"
    assert md.wait_event("removed", qid=qid, timeout=10) is not None
