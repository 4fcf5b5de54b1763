"""Spool damage and a full disk.

Damage: queue files are made with `mailerd send` while no daemon runs,
then some are damaged the ways a crash, a bad disk or a person can:
truncated, garbage in the envelope, a flipped CRC in the header, an empty
file, a name that is no queue id. The daemon moves each to
spool_dir/corrupt/ with a log line naming it and delivers the rest. A torn
last state record (half an append, as a crash mid-write leaves it) is
ignored: the message is delivered, once.

Disk full: spool_dir is a 2 MB tmpfs. Filled up, DATA gets 452 4.3.1 and
never a 250 for a message that is not on disk; once space returns, mail
is accepted and delivered again. Skipped when mount is not permitted.
"""

import os
import re
import subprocess
import time
import zlib

import pytest

from harness.mailerd import make_message
from harness.net import wait_for

HEADER_LEN = 64
CRC_OFF = 42  # "MAILERD-SPOOL 1 " + 16 hex + " " + 8 hex + " " -> the envelope CRC


def _queue(md):
    return os.path.join(md.spool_dir, "queue")


def _corrupt(md):
    return os.path.join(md.spool_dir, "corrupt")


def _send_offline(md, token, rcpt):
    """Queue one message with `mailerd send` (no daemon running); returns
    its queue id."""
    before = set(os.listdir(_queue(md))) if os.path.isdir(_queue(md)) else set()
    p = md.send_cli(make_message(token, to=rcpt), "-f", "damage@client.test", rcpt)
    assert p.returncode == 0, "mailerd send failed: %r" % (p.stderr,)
    new = set(os.listdir(_queue(md))) - before
    assert len(new) == 1, "want one new queue file, got %s" % sorted(new)
    return new.pop()


def _body_len(data):
    m = re.match(rb"MAILERD-SPOOL 1 ([0-9a-f]{16}) ", data)
    assert m, "unexpected queue file header %r" % data[:HEADER_LEN]
    return int(m.group(1), 16)


def _record(payload):
    """A state record line as the spool writes it (format.c)."""
    return b"\nR %08x %08x %s\n" % (len(payload), zlib.crc32(payload) & 0xffffffff, payload)


def test_damaged_files_go_to_corrupt_rest_delivered(mailerd_factory, peers, token):
    md = mailerd_factory(start=False)
    kinds = ("truncated", "garbage-envelope", "flipped-crc", "empty", "torn-record", "good")
    rcpt = {k: "%s-%s@sink.test" % (k, token) for k in kinds}
    qid = {k: _send_offline(md, "%s-%s" % (k, token), rcpt[k]) for k in kinds}
    path = {k: os.path.join(_queue(md), qid[k]) for k in kinds}

    data = open(path["truncated"], "rb").read()
    with open(path["truncated"], "r+b") as f:
        f.truncate(HEADER_LEN + _body_len(data) // 2)

    data = open(path["garbage-envelope"], "rb").read()
    env = HEADER_LEN + _body_len(data)
    i = data.index(b"sender ", env)
    with open(path["garbage-envelope"], "r+b") as f:
        f.seek(i)
        f.write(b"s\x00nd\xff")

    data = open(path["flipped-crc"], "rb").read()
    c = data[CRC_OFF:CRC_OFF + 1]
    with open(path["flipped-crc"], "r+b") as f:
        f.seek(CRC_OFF)
        f.write(b"0" if c != b"0" else b"1")

    open(path["empty"], "wb").close()

    # half of a record that would mark the recipient delivered: if the
    # reader trusted it, the message would never be sent
    torn = _record(b"rcpt 0 delivered 1 0 %d ok 250 2.0.0 - -" % int(time.time() * 1000))
    with open(path["torn-record"], "ab") as f:
        f.write(torn[:len(torn) // 2 + 4])

    stray = os.path.join(_queue(md), "not-a-queue-id")
    with open(stray, "wb") as f:
        f.write(b"whatever\n")

    md.start()
    damaged = ("truncated", "garbage-envelope", "flipped-crc", "empty")
    for k in ("good", "torn-record"):
        got = peers.sink.wait(rcpt=rcpt[k], timeout=20)
        assert len(got) == 1, "%s message: %d deliveries, want 1" % (k, len(got))

    log = md.stderr_text()
    moved = sorted(os.listdir(_corrupt(md)))
    for k in damaged:
        assert qid[k] in moved, "%s file %s not in corrupt/ (%s)" % (k, qid[k], moved)
        assert not os.path.exists(path[k]), "%s file still in queue/" % k
        assert re.search(r"moved queue/%s to corrupt/%s\b" % (qid[k], qid[k]), log), \
            "no log line naming %s (%s):\n%s" % (qid[k], k, log[-3000:])
    assert "not-a-queue-id" in moved, moved
    assert "moved queue/not-a-queue-id to corrupt/" in log
    assert qid["good"] not in moved and qid["torn-record"] not in moved

    time.sleep(2)  # a second copy would come now
    assert len(peers.sink.find(rcpt=rcpt["torn-record"])) == 1, "torn-record message sent twice"
    assert md.events("delivered", rcpt=rcpt["torn-record"]), "no delivered event for torn-record"
    for k in damaged:
        assert peers.sink.find(rcpt=rcpt[k]) == [], "%s file was delivered" % k
    # what is set aside stays byte for byte, for a person to look at
    assert os.path.getsize(os.path.join(_corrupt(md), qid["empty"])) == 0
    wait_for(lambda: os.listdir(_queue(md)) == [], 10)
    assert os.listdir(_queue(md)) == [], "delivered messages left in queue/"

    # a second start finds nothing new to move and no stale queue entries
    md.stop()
    md.start()
    assert sorted(os.listdir(_corrupt(md))) == moved
    assert peers.sink.find(rcpt=rcpt["good"]) and len(peers.sink.find(rcpt=rcpt["good"])) == 1


# --- disk full --------------------------------------------------------------

@pytest.fixture
def small_spool(mailerd_factory):
    """A mailerd (not started) whose spool_dir is a 2 MB tmpfs."""
    md = mailerd_factory(start=False)
    os.makedirs(md.spool_dir, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", md.spool_dir],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs for the disk-full test (needs root and mount "
                    "permission): %s" % p.stdout.decode(errors="replace").strip())
    try:
        yield md
    finally:
        md.stop()
        subprocess.run(["umount", "-l", md.spool_dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def _fill(path, leave=0):
    """Write a filler file until the filesystem is full, then give back
    `leave` bytes (truncate). Returns the filler's path."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    if leave:
        size = os.path.getsize(filler)
        with open(filler, "r+b") as f:
            f.truncate(max(0, size - leave))
    return filler


def _try_send(md, sender, rcpt, data):
    """One transaction by hand: (stage, code, text). stage is "data" when
    DATA itself was refused, "dot" for the reply to the final dot."""
    c = md.raw(timeout=30)
    try:
        c.cmd("EHLO client.test")
        code, text = c.cmd("MAIL FROM:<%s>" % sender)
        assert code == 250, text
        code, text = c.cmd("RCPT TO:<%s>" % rcpt)
        assert code == 250, text
        code, text = c.cmd("DATA")
        if code != 354:
            return "data", code, text
        body = data.replace(b"\r\n.", b"\r\n..")
        c.send(body + (b"" if body.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        code, text = c.reply()
        return "dot", code, text
    finally:
        c.close()


def test_disk_full_452_then_recovers(small_spool, peers, token):
    md = small_spool
    md.start()
    spool = md.spool_dir
    accepted, refused = [], []

    def attempt(name, size):
        rcpt = "full-%s-%s@sink.test" % (name, token)
        body = ("x" * 76 + "\r\n") * (size // 78 + 1)
        stage, code, text = _try_send(md, "full@client.test", rcpt,
                                      make_message("%s-%s" % (name, token), to=rcpt, body=body))
        (accepted if code == 250 else refused).append((name, rcpt, stage, code, text))
        return stage, code, text

    # before: a message goes through
    stage, code, text = attempt("before", 1000)
    assert code == 250, text
    # its delivery frees spool space; let that happen before filling, or a
    # later "full" attempt may fit into the space it gives back
    assert peers.sink.wait(rcpt=accepted[0][1], timeout=20), "before: never delivered"
    wait_for(lambda: os.listdir(os.path.join(spool, "queue")) == [], 10)

    # nearly full: a 1 MB message does not fit, found out mid-DATA
    filler = _fill(spool, leave=256 * 1024)
    stage, code, text = attempt("big", 1024 * 1024)
    assert (code, stage) == (452, "dot"), "got %s %s at %s, want 452 after the dot" % (code, text, stage)
    assert "4.3.1" in text, text

    # completely full: nothing can even be opened
    for n in range(3):
        # filled again each time: the refused message before gave back its
        # own pages when mailerd removed its partial file
        _fill(spool)
        stage, code, text = attempt("full%d" % n, 2000)
        assert code == 452 and "4.3.1" in text, "got %s %s at %s while the disk is full" % (code, text, stage)
    assert md.alive(), "mailerd died on a full disk"

    # space returns
    os.unlink(filler)
    stage, code, text = attempt("after", 2000)
    assert code == 250, "not accepted after space returned: %s %s" % (code, text)

    # every 250 was on disk: each such message arrives, and no refused one
    for name, rcpt, stage, code, text in accepted:
        assert peers.sink.wait(rcpt=rcpt, timeout=20), "%s: got 250 but never delivered" % name
    time.sleep(1)
    for name, rcpt, stage, code, text in refused:
        assert peers.sink.find(rcpt=rcpt) == [], "%s: refused with %s but delivered" % (name, code)
    print("disk full: accepted %d, refused %d (%s)" % (
        len(accepted), len(refused), ", ".join("%s=%d@%s" % (r[0], r[3], r[2]) for r in refused)))
    # nothing of the refused messages stays behind
    wait_for(lambda: os.listdir(os.path.join(spool, "queue")) == [], 10)
    assert os.listdir(os.path.join(spool, "queue")) == []
    assert os.listdir(os.path.join(spool, "tmp")) == [], "leftovers in tmp/"
