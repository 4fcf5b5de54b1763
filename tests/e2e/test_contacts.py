"""`mailerd contacts check` (issue 6, contact-list checks) against the
harness's dnsmasq: the hand-made list tests/contacts/problems.csv has one
row for each kind of problem, and each row must get its verdict, detail
and suggestion; the cleaned list keeps the other columns as they were; the
summary counts every verdict. No daemon is needed: the command reads the
list, asks DNS (only the loopback dnsmasq) and the suppression store.
"""

import csv
import io
import os
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "contacts")


@pytest.fixture
def workdir(e2e_dir):
    return tempfile.mkdtemp(prefix="contacts.", dir=e2e_dir)


def run(binary, workdir, *args, timeout=60):
    return subprocess.run([binary] + list(args), cwd=workdir, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def settings(dns, workdir):
    return ["-o", "dns_servers=%s" % dns.address, "-o", "dns_timeout=2s",
            "-o", "state_db=sqlite:%s" % os.path.join(workdir, "state.db")]


# address -> (verdict, words the detail must contain, suggestion)
WANT = {
    "alice@sink.test": ("ok", "", ""),
    "bob@nomx.test": ("ok", "no MX record", ""),
    "carol@gmial.com": ("typo", "misspelling of gmail.com", "carol@gmail.com"),
    "dave@hotmial.con": ("typo", "misspelling of hotmail.com", "dave@hotmail.com"),
    "erin smith@sink.test": ("syntax", "position 5: a space", ""),
    "frank..x@sink.test": ("syntax", "position 7: two dots in a row", ""),
    "grace.sink.test": ("syntax", "position 16: there is no '@'", ""),
    "heidi@nosuchdomain.test": ("nodomain", "nosuchdomain.test does not exist", ""),
    "ivan@nullmx.test": ("nomail", "null MX (RFC 7505)", ""),
    "judy@servfail.test": ("dnserror", "check again later", ""),
    "mallory@sink.test": ("suppressed", "recipient suppressed since", ""),
    '"john doe"@sink.test': ("ok", "", ""),
    "jos\u00e9@sink.test": ("ok", "", ""),
    "oscar@-bad.test": ("syntax", "position 7: a domain label starts with a hyphen", ""),
    "peggy@sink.test@x.test": ("syntax", "position 16: a second '@'", ""),
    "trent@SINK.test": ("ok", "", ""),
}


def test_each_kind_of_problem(mailerd_bin, dns, workdir):
    s = settings(dns, workdir)
    p = run(mailerd_bin, workdir, "suppress", *s, "add", "mallory@sink.test",
            "--reason", "bounced in the e2e test")
    assert p.returncode == 0, p.stderr.decode()
    report = os.path.join(workdir, "report.csv")
    clean = os.path.join(workdir, "clean.csv")
    p = run(mailerd_bin, workdir, "contacts", "check", *s, "--report", report, "--out", clean,
            os.path.join(FIXTURES, "problems.csv"))
    err = p.stderr.decode()
    assert p.returncode == 0, err
    with open(report, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["address", "verdict", "detail", "suggestion"]
    got = {r[0]: r[1:] for r in rows[1:]}
    assert [r[0] for r in rows[1:]] == list(WANT), "report rows out of input order"
    for addr, (verdict, words, suggestion) in WANT.items():
        v, detail, sugg = got[addr]
        assert (v, sugg) == (verdict, suggestion), "%s: got %s %r, want %s %r" % (
            addr, v, sugg, verdict, suggestion)
        assert words in detail, "%s: got detail %r, want %r in it" % (addr, detail, words)
    assert "bounced in the e2e test" in got["mallory@sink.test"][1]

    # The cleaned list: the header and the ok rows, byte for byte as read.
    with open(os.path.join(FIXTURES, "problems.csv"), "rb") as f:
        lines = f.read().split(b"\r\n")
    # header, Alice, Bob, John (quoted), José, Trent
    keep = [lines[i] for i in (0, 1, 2, 12, 13, 16)]
    with open(clean, "rb") as f:
        assert f.read() == b"\r\n".join(keep) + b"\r\n"

    # The summary: a count per verdict, the distinct domains and the time.
    for name, n in (("ok", 5), ("syntax", 5), ("typo", 2), ("nodomain", 1), ("nomail", 1),
                    ("suppressed", 1), ("dnserror", 1)):
        assert any(line.split() == [name, str(n)] for line in err.splitlines()), \
            "summary lacks '%s %d':\n%s" % (name, n, err)
    assert "checked 16 addresses in" in err
    assert "5 distinct domains looked up" in err
    assert "5 ok rows written" in err


def test_report_on_stdout_and_list_without_header(mailerd_bin, dns, workdir):
    path = os.path.join(workdir, "plain.csv")
    with open(path, "w") as f:
        f.write("one@sink.test,first\nTwo@Nowhere.test,second\nthree@nullmx.test,third\n")
    p = run(mailerd_bin, workdir, "contacts", "check", *settings(dns, workdir), path)
    assert p.returncode == 0, p.stderr.decode()
    rows = list(csv.reader(io.StringIO(p.stdout.decode())))
    assert [(r[0], r[1]) for r in rows] == [
        ("address", "verdict"), ("one@sink.test", "ok"), ("Two@Nowhere.test", "nodomain"),
        ("three@nullmx.test", "nomail")]
    # the store file did not exist: the check says so and does not create it
    assert "suppression list not checked" in p.stderr.decode()
    assert not os.path.exists(os.path.join(workdir, "state.db"))


def test_malformed_lines_are_reported_with_file_and_line(mailerd_bin, dns, workdir):
    path = os.path.join(FIXTURES, "malformed.csv")
    p = run(mailerd_bin, workdir, "contacts", "check", *settings(dns, workdir), path)
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert "%s:3: a quote inside an unquoted field" % path in err
    assert "%s:4: the quote opened on line 4 is never closed" % path in err
    rows = list(csv.reader(io.StringIO(p.stdout.decode())))
    assert rows[1:] == [["ok@sink.test", "ok", "", ""]]


def test_usage_errors_exit_2(mailerd_bin, workdir):
    for args in (["contacts"], ["contacts", "check"], ["contacts", "check", "a.csv", "b.csv"],
                 ["contacts", "check", "--parallel", "0", "a.csv"], ["contacts", "list"]):
        p = run(mailerd_bin, workdir, *args)
        assert p.returncode == 2, "%s: got %d" % (args, p.returncode)
    p = run(mailerd_bin, workdir, "contacts", "check", os.path.join(workdir, "missing.csv"))
    assert p.returncode == 1
    assert "missing.csv" in p.stderr.decode()
