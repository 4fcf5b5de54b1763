"""The suppression list (issue 6): `mailerd suppress`, refusal at RCPT with
when and why, hard bounces from the real Postfix suppressing the address,
`mailerd send` reporting a suppressed recipient to the sender, and two
daemons sharing one PostgreSQL list.

Each test runs against SQLite (the harness default state_db) and against a
real PostgreSQL cluster started once for this module (harness/postgres.py;
every test gets its own database).
"""

import os
import re
import subprocess
import time
import uuid

import pytest

from harness.mailerd import make_message
from harness.net import wait_for
from harness.postgres import PostgresServer

FAST = {"suppress_refresh": "300ms"}
SINCE_RE = r"recipient suppressed since \d{4}-\d{2}-\d{2} "


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
    """Settings that pick the backend: {} for the default SQLite file in
    the daemon's directory, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    pg = request.getfixturevalue("pg")
    name = "t_" + uuid.uuid4().hex[:12]
    return {"state_db": pg.create_database(name)}


def rcpt_reply(md, rcpt, sender="list@client.test"):
    """(code, text) of RCPT TO:<rcpt> in a fresh session."""
    with md.smtp() as s:
        s.ehlo()
        code, resp = s.mail(sender)
        assert code == 250, resp
        code, resp = s.rcpt(rcpt)
        s.rset()
        return code, resp.decode("utf-8", "replace")


def wait_rcpt(md, rcpt, want_code, timeout=8.0):
    """Poll RCPT until it answers want_code; returns the last (code, text)."""
    last = [None]

    def probe():
        last[0] = rcpt_reply(md, rcpt)
        return last[0][0] == want_code

    wait_for(probe, timeout, interval=0.2)
    return last[0]


def suppress(md, *args):
    return md.cli("suppress", "-c", md.config_path, *args)


def test_add_refuses_rcpt_remove_accepts(mailerd_factory, store, token):
    md = mailerd_factory(**dict(FAST, **store))
    addr = "stop-%s@sink.test" % token
    other = "keep-%s@sink.test" % token
    assert rcpt_reply(md, addr)[0] == 250

    p = suppress(md, "add", addr.upper(), "--reason", "asked to stop")
    assert p.returncode == 0, p.stderr
    code, text = wait_rcpt(md, addr, 550)
    assert code == 550, "still accepted after `suppress add`: %r" % text
    assert text.startswith("5.1.1 <%s>: " % addr), text
    assert re.search(SINCE_RE + r"\(added by the operator: asked to stop\)", text), text
    assert rcpt_reply(md, other)[0] == 250, "an unrelated address was refused"
    ev = md.wait_event("suppressed", rcpt=addr, timeout=5)
    assert ev is not None, "no suppressed event"
    assert ev["dsn"] == "5.1.1" and "asked to stop" in ev["reason"], ev

    p = suppress(md, "check", addr)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert b"asked to stop" in p.stdout
    p = suppress(md, "remove", addr)
    assert p.returncode == 2, "remove without --reason must fail"
    p = suppress(md, "remove", addr, "--reason", "subscribed again")
    assert p.returncode == 0, p.stderr
    code, text = wait_rcpt(md, addr, 250)
    assert code == 250, "still refused after `suppress remove`: %r" % text
    assert suppress(md, "check", addr).returncode == 0
    stats = suppress(md, "stats").stdout.decode()
    assert "removals: 1" in stats, stats


def test_postfix_unknown_user_is_suppressed(mailerd_factory, store, postfix, token):
    """Postfix's 550 5.1.1 for an unknown user is a hard bounce: the
    address is suppressed, and the next RCPT to it is refused."""
    md = mailerd_factory(**dict(FAST, **store))
    bad = "nosuch-%s@postfix.test" % token
    code, text, qid = md.submit("hb@client.test", [bad], make_message(token, to=bad))
    assert code == 250, text
    failed = md.wait_event("failed", rcpt=bad, timeout=20)
    assert failed is not None and failed["dsn"] == "5.1.1", failed
    code, text = wait_rcpt(md, bad, 550)
    assert code == 550, "not refused after Postfix's 5.1.1: %r" % text
    assert re.search(SINCE_RE + r"\(hard bounce: userunknown 5\.1\.1\)", text), text
    p = suppress(md, "check", bad)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert qid.encode() in p.stdout, "the queue id of the bounced message is not recorded"
    stats = suppress(md, "stats").stdout.decode()
    assert re.search(r"userunknown \(hard-bounce\)\s+1", stats), stats
    assert re.search(r"postfix\.test\s+1", stats), stats
    # alice still gets mail: a delivery is not a bounce
    assert rcpt_reply(md, "alice@postfix.test")[0] == 250


def test_send_to_suppressed_reports_to_sender(mailerd_factory, peers, token):
    md = mailerd_factory(**FAST)
    addr = "gone-%s@sink.test" % token
    sender = "author-%s@sink.test" % token
    assert suppress(md, "add", addr, "--reason", "left the company").returncode == 0
    p = md.send_cli(make_message(token, to=addr, sender=sender), "-f", sender, addr)
    assert p.returncode == 0, p.stderr
    assert b"recipient suppressed since" in p.stderr, p.stderr
    got = peers.sink.wait(rcpt=sender, timeout=20)
    assert len(got) == 1, "no report to the sender"
    report = got[0].data.decode("utf-8", "replace")
    assert got[0].mail_from in ("", "<>"), "a report goes out with the null sender"
    assert "left the company" in report, report[:3000]
    assert re.search(r"Status: 5\.1\.1", report), report[:3000]
    assert peers.sink.wait(rcpt=addr, timeout=1) == [], "the suppressed address got the mail"
    assert md.wait_event("suppressed", rcpt=addr, timeout=5) is not None


def test_import_export_through_daemon(mailerd_factory, token):
    md = mailerd_factory(**FAST)
    csv_path = os.path.join(md.dir, "in.csv")
    a, b = "imp1-%s@sink.test" % token, "imp2-%s@sink.test" % token
    with open(csv_path, "w", encoding="utf-8") as f:
        f.write('email,reason\r\n%s,"old list, 2019"\r\n%s,\r\nnot-an-address,x\r\n' % (a, b))
    p = suppress(md, "import", csv_path)
    assert p.returncode == 1, "a skipped line must show in the exit status"
    assert b"2 added" in p.stdout and b"1 skipped" in p.stdout, p.stdout
    assert b"4: 'not-an-address'" in p.stderr, p.stderr
    code, text = wait_rcpt(md, a, 550)
    assert code == 550 and "imported: old list, 2019" in text, text
    out = suppress(md, "export").stdout.decode()
    assert out.startswith("address,reason,source,created_at,status,detail\r\n"), out
    assert '%s,"old list, 2019",import,' % a in out, out


def test_two_nodes_share_postgres(mailerd_factory, pg, postfix, token):
    url = pg.create_database("two_" + uuid.uuid4().hex[:10])
    a = mailerd_factory(state_db=url, **FAST)
    b = mailerd_factory(state_db=url, **FAST)
    manual = "manual-%s@sink.test" % token
    assert rcpt_reply(b, manual)[0] == 250
    assert suppress(a, "add", manual, "--reason", "via node A").returncode == 0
    t0 = time.monotonic()
    code, text = wait_rcpt(b, manual, 550, timeout=5)
    assert code == 550, "node B did not see node A's suppression within 5s: %r" % text
    assert "via node A" in text, text
    assert time.monotonic() - t0 < 5

    bad = "nosuch-%s@postfix.test" % token
    code, text, _ = a.submit("two@client.test", [bad], make_message(token, to=bad))
    assert code == 250, text
    assert a.wait_event("failed", rcpt=bad, timeout=20) is not None
    code, text = wait_rcpt(b, bad, 550, timeout=10)
    assert code == 550, "node B accepts an address node A saw hard-bounce: %r" % text
    assert "hard bounce: userunknown 5.1.1" in text, text
    rows = pg.psql(url.rsplit("/", 1)[1], "SELECT count(*) FROM suppressions")
    assert rows == "2", rows


def test_unit_store_against_postgres(mailerd_bin, pg):
    """The store's unit tests (policy, CSV, stats, change feed) once more
    against this real PostgreSQL, when the test binary sits in the build
    tree next to the daemon."""
    unit = os.path.join(os.path.dirname(mailerd_bin), "tests", "unit", "test_suppress_store")
    if not os.access(unit, os.X_OK):
        pytest.skip("test_suppress_store not built next to %s" % mailerd_bin)
    url = pg.create_database("unit_" + uuid.uuid4().hex[:10])
    env = dict(os.environ, MAILERD_TEST_PG_URL=url, MAILERD_TEST_TMP=pg.dir)
    p = subprocess.run([unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out[-4000:]
    assert "MAILERD_TEST_PG_URL not set" not in out, out[-2000:]
    assert out.count("[  PASSED  ]") == 2, out[-4000:]
