"""`mailerd bounce parse` as a user runs it (issue 4): the real binary on
hand-made bounces from tests/bounce, read from files, standard input and an
mbox; the exit codes and error messages the docs promise (a file that
cannot be read or is too large names itself and makes exit 1 while the
other files are still read; a bad option is exit 2; a failed write of the
output is exit 1). No daemon, no network.
"""

import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOUNCES = os.path.join(ROOT, "tests", "bounce")


def run(binary, *args, stdin=None, stdout=subprocess.PIPE):
    return subprocess.run([binary, "bounce", "parse"] + list(args), input=stdin,
                          stdout=stdout, stderr=subprocess.PIPE, timeout=60)


def records(proc):
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


def test_file_gives_the_documented_record(mailerd_bin):
    p = run(mailerd_bin, os.path.join(BOUNCES, "dsn-userunknown.eml"))
    assert p.returncode == 0, p.stderr
    got = records(p)
    assert [r["recipient"] for r in got] == ["nobody@example.com", "full@example.com"]
    first = got[0]
    # the interface contract's keys, with values of the documented types
    for key in ("file", "recipient", "status", "replycode", "reason", "action",
                "diagnostic_code", "smtp_agent"):
        assert isinstance(first[key], str), key
    assert first["hardbounce"] is True
    assert (first["reason"], first["status"]) == ("userunknown", "5.1.1")
    assert (got[1]["reason"], got[1]["hardbounce"]) == ("mailboxfull", False)
    assert "message" not in first, "a single message needs no index"


def test_stdin_and_explain(mailerd_bin):
    with open(os.path.join(BOUNCES, "imail-attempts.eml"), "rb") as f:
        data = f.read()
    p = run(mailerd_bin, "--explain", stdin=data)
    assert p.returncode == 0, p.stderr
    (r,) = records(p)
    assert r["file"] == "-"
    assert (r["recipient"], r["reason"]) == ("someone@example.net", "expired")
    assert r["explain"] == "delivery failed # attempts"


def test_not_a_bounce_prints_nothing(mailerd_bin):
    p = run(mailerd_bin, os.path.join(BOUNCES, "not-bounce.eml"))
    assert (p.returncode, p.stdout) == (0, b"")


def test_mbox_records_name_their_message(mailerd_bin):
    p = run(mailerd_bin, os.path.join(BOUNCES, "mbox-two-bounces.mbox"))
    assert p.returncode == 0, p.stderr
    got = [(r["message"], r["recipient"], r["reason"]) for r in records(p)]
    assert got == [(1, "first@example.net", "userunknown"),
                   (2, "second@example.net", "mailboxfull")]


def test_unreadable_file_is_named_and_the_rest_still_read(mailerd_bin, tmp_path):
    missing = str(tmp_path / "missing.eml")
    p = run(mailerd_bin, missing, os.path.join(BOUNCES, "qmail-quota.eml"))
    assert p.returncode == 1
    assert missing in p.stderr.decode()
    assert [r["recipient"] for r in records(p)] == ["big@example.com"]


def test_too_large_names_the_limit_and_the_setting(mailerd_bin, tmp_path):
    big = tmp_path / "big.eml"
    with open(os.path.join(BOUNCES, "qmail-quota.eml"), "rb") as f:
        big.write_bytes(f.read() + b"x" * 4096 + b"\n")
    p = run(mailerd_bin, "-o", "max_message_size=2k", str(big))
    err = p.stderr.decode()
    assert p.returncode == 1 and p.stdout == b""
    assert str(big) in err and "max_message_size (2048 bytes" in err, err
    # the same file within a raised limit is read
    p = run(mailerd_bin, "-o", "max_message_size=1m", str(big))
    assert p.returncode == 0 and len(records(p)) == 1


def test_bad_option_is_usage_error(mailerd_bin):
    p = run(mailerd_bin, "--bogus")
    assert p.returncode == 2
    assert "unknown option '--bogus'" in p.stderr.decode()


def test_failed_write_is_an_error(mailerd_bin):
    with open("/dev/full", "wb") as full:
        p = run(mailerd_bin, os.path.join(BOUNCES, "dsn-userunknown.eml"), stdout=full)
    assert p.returncode == 1
    assert "writing the output" in p.stderr.decode()
