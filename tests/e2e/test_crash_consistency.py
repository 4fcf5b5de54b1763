"""Crash consistency: a stream of messages from concurrent clients while
mailerd is killed again and again (SIGKILL at random moments, and through
failpoints at the exact steps that matter), then restarted on the same
spool. After the queue drains:

  lost = 0        every message that got 250 reached the sink, and every
                  one with a failing recipient produced a failure report;
  duplicates      only of messages in flight at a kill: the sink already
                  had the copy but no durable "sent" record existed when
                  the process died (at-least-once, design.md).

Failpoints (MAILERD_FAILPOINT, read by the daemon at each point):
  spool-commit-before-rename  during DATA: envelope written, file in tmp/
  spool-commit-before-sync    the fsync batch is about to run
  spool-commit-after-sync     durable, the 250 not yet sent
  spool-update-torn           half a recipient state record written
  sched-after-result          delivery done at the remote, nothing recorded
  sched-after-update          outcomes durable, not yet acted on
  sched-before-report         a failure report is about to be queued
  sched-after-report          the report is durable, the mark is not
A failpoint that does not fire within its window is replaced by a plain
SIGKILL, so every cycle is one kill.

Every fourth message has a second recipient at a scripted site that
answers 550 to every RCPT, so failure reports are made (and crashed in).
Each message has its own sender and recipients, so counting at the sink
is exact.

Environment (the soak script uses these): MAILERD_CRASH_KILLS (default
36), MAILERD_CRASH_BUDGET seconds for the kill phase (default 90),
MAILERD_CRASH_SEED.
"""

import json
import os
import random
import smtplib
import threading
import time

import pytest

from harness.mailerd import make_message
from harness.net import wait_for
from harness.peers import ScriptedServer

FAIL_IP = "127.0.0.31"      # scripted site: 550 to every recipient
FAIL_DOMAIN = "fail.crash.test"

FAILPOINTS = ("spool-commit-before-rename", "spool-commit-before-sync",
              "spool-commit-after-sync", "spool-update-torn", "sched-after-result",
              "sched-after-update", "sched-before-report", "sched-after-report")


def _reject_all(srv, mail_from, rcpt):
    return "550 5.1.1 <%s>: Recipient address rejected: no such user here" % rcpt


@pytest.fixture(scope="module")
def fail_site(peer_port):
    srv = ScriptedServer("mx." + FAIL_DOMAIN, FAIL_IP, peer_port, on_rcpt=_reject_all)
    yield srv
    srv.stop()


class Stream:
    """Concurrent SMTP clients sending numbered messages for as long as
    the test runs, reconnecting whenever the daemon dies."""

    def __init__(self, md, token, nthreads=4, pause=0.04):
        self.md, self.token, self.pause = md, token, pause
        self.lock = threading.Lock()
        self.counter = 0
        self.acked = {}        # index -> has a failing recipient
        self.unknown = set()   # DATA sent, the connection died before a reply
        self.refused = 0       # a 4xx/5xx reply (not accepted, not lost)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(nthreads)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def names(self, i):
        base = "%s-%05d" % (self.token, i)
        return ("s-%s@sink.test" % base, "r-%s@sink.test" % base, "f-%s@%s" % (base, FAIL_DOMAIN),
                "<c-%s@client.test>" % base)

    def _next(self):
        with self.lock:
            i = self.counter
            self.counter += 1
        return i

    def _run(self):
        s = None
        while not self.stop.is_set():
            if s is None:
                try:
                    s = smtplib.SMTP("127.0.0.1", self.md.port, local_hostname="client.test", timeout=10)
                    s.ehlo()
                except (smtplib.SMTPException, OSError):
                    s = None
                    time.sleep(0.05)
                    continue
            i = self._next()
            has_fail = i % 4 == 0
            sender, rcpt, frcpt, mid = self.names(i)
            rcpts = [rcpt, frcpt] if has_fail else [rcpt]
            msg = make_message("c-%s-%05d" % (self.token, i), to=rcpt, sender=sender)
            sent_data = False
            try:
                code, _ = s.mail(sender)
                ok = code == 250
                for r in rcpts:
                    if ok:
                        ok = s.rcpt(r)[0] == 250
                if not ok:
                    with self.lock:
                        self.refused += 1
                    s.rset()
                    continue
                sent_data = True
                code, _ = s.data(msg)
                with self.lock:
                    if code == 250:
                        self.acked[i] = has_fail
                    else:
                        self.refused += 1
                # a steady stream, not a flood: a few dozen messages per
                # run between two kills keep the checks meaningful and fast
                self.stop.wait(self.pause)
            except (smtplib.SMTPException, OSError):
                if sent_data:
                    with self.lock:
                        self.unknown.add(i)
                try:
                    s.close()
                except Exception:
                    pass
                s = None


def _events_with_offsets(path):
    """[(byte offset of the line's end, event dict)] of the event log."""
    out = []
    try:
        data = open(path, "rb").read()
    except OSError:
        return out
    off = 0
    for line in data.split(b"\n"):
        off += len(line) + 1
        if not line.strip():
            continue
        try:
            out.append((off, json.loads(line)))
        except ValueError:
            pass
    return out


def _died_at_failpoint(md, name):
    text = md.stderr_text(all_runs=False)
    return ("failpoint %s: killing the process" % name) in text


def _start(md, failpoint):
    """Start md, with failpoint armed when given. Returns "up", or "fired"
    when the failpoint killed it already while it started (recovery work
    can reach a point before the listener answers)."""
    if failpoint:
        os.environ["MAILERD_FAILPOINT"] = failpoint
    try:
        md.start(timeout=30)
        return "up"
    except RuntimeError:
        if failpoint and _died_at_failpoint(md, failpoint):
            # the harness counted this death as a crash; it was ours
            md.problems = [p for p in md.problems if "exit status -9" not in p]
            return "fired"
        raise
    finally:
        os.environ.pop("MAILERD_FAILPOINT", None)


def _kill_cycles(md, n_kills, budget, rnd):
    """Kill md n_kills times (or until budget seconds pass). Returns the
    kill records [(wall time, event log size, mode, fired)]."""
    kills = []
    modes = []
    t0 = time.monotonic()
    while len(kills) < n_kills and time.monotonic() - t0 < budget:
        if not modes:
            modes = ["random"] * len(FAILPOINTS) + list(FAILPOINTS)
            rnd.shuffle(modes)
        mode = modes.pop()
        fp = None if mode == "random" else mode
        state = _start(md, fp)
        fired = state == "fired"
        if not fired:
            if fp is None:
                time.sleep(rnd.uniform(0.1, 1.2))
            else:
                wait_for(lambda: not md.alive(), 2.5, interval=0.02)
                fired = not md.alive() and _died_at_failpoint(md, fp)
                if not md.alive() and not fired:
                    raise AssertionError("mailerd died without its failpoint:\n" +
                                         md.stderr_text(all_runs=False, tail=40))
            # a SIGKILL now; after a failpoint it only marks the death as
            # expected (the process is gone already)
            md.kill9()
        kills.append((time.time(), os.path.getsize(md.event_log) if os.path.exists(md.event_log) else 0,
                      mode, fired))
    return kills


def test_kill9_stream_loses_nothing(mailerd_factory, peers, fail_site, peer_port, token):
    n_kills = int(os.environ.get("MAILERD_CRASH_KILLS", "36"))
    budget = float(os.environ.get("MAILERD_CRASH_BUDGET", "90"))
    seed = int(os.environ.get("MAILERD_CRASH_SEED", str(random.randrange(1 << 30))))
    rnd = random.Random(seed)
    md = mailerd_factory(start=False, transport_map="%s=[%s]:%d" % (FAIL_DOMAIN, FAIL_IP, peer_port),
                         destination_concurrency="4")
    stream = Stream(md, token)
    stream.start()
    try:
        kills = _kill_cycles(md, n_kills, budget, rnd)
        # the last run stays up: the stream goes on a little, then drains
        md.start(timeout=30)
        time.sleep(1.0)
    finally:
        stream.finish()
    acked = dict(stream.acked)
    want_rcpt = {}

    def index():
        """rcpt -> [(arrival time, the report's Message-ID or None)] of
        this test's mail at the sink"""
        idx = {}
        for m in peers.sink.find(token=token):
            for r in m.rcpt_tos:
                is_report = m.mail_from in ("", "<>")
                mid = m.message_ids[0] if is_report and m.message_ids else None
                idx.setdefault(r.lower(), []).append((m.time, mid))
        return idx

    def missing(idx):
        out = []
        for i, has_fail in acked.items():
            sender, rcpt, frcpt, _ = stream.names(i)
            if not idx.get(rcpt.lower()):
                out.append((i, "not delivered"))
            elif has_fail and not [x for x in idx.get(sender.lower(), []) if x[1]]:
                out.append((i, "no failure report"))
        return out

    wait_for(lambda: not missing(index()) and md.queue_json() == [], 60, interval=1.0)
    time.sleep(1.0)  # late duplicates would arrive now
    idx = index()
    lost = missing(idx)

    # --- duplicates and whether a kill explains them
    events = _events_with_offsets(md.event_log)
    sent_off, last_sent_off, received, removed, qid_of = {}, {}, {}, {}, {}
    for off, e in events:
        ev, rc = e.get("event"), (e.get("rcpt") or "").lower()
        if (ev == "attempt" and e.get("status") == "sent") or ev == "delivered":
            sent_off.setdefault(rc, off)
            last_sent_off[rc] = off
        elif ev == "received":
            qid_of.setdefault((e.get("sender") or "").lower(), e.get("qid"))
            received.setdefault(e.get("qid"), off)
        elif ev == "removed":
            removed.setdefault(e.get("qid"), off)
    dup_delivery = dup_report = unexplained = delivered = delivered_unacked = 0
    unexplained_list = []
    for i in sorted(set(acked) | set(stream.unknown)):
        sender, rcpt, frcpt, _ = stream.names(i)
        copies = sorted(t for t, _ in idx.get(rcpt.lower(), []))
        if i in acked and copies:
            delivered += 1
        if i not in acked and copies:
            delivered_unacked += 1
        if len(copies) > 1:
            so = sent_off.get(rcpt.lower())
            # kills after the first copy arrived and before its "sent"
            # record was written: each may have caused one more copy
            why = [k for k in kills if k[0] > copies[0] and (so is None or so > k[1])]
            dup_delivery += len(copies) - 1
            if len(copies) - 1 > len(why):
                unexplained += len(copies) - 1 - len(why)
                unexplained_list.append((rcpt, len(copies), so))
        reports = {}
        for t, mid in idx.get(sender.lower(), []):
            if mid is not None:
                reports.setdefault(mid, []).append(t)
        if len(reports) > 1:
            # more than one report made: each kill while the original was
            # queued may have made one more (crash after the report was
            # durable, before the original's "reported" mark)
            qid = qid_of.get(sender.lower())
            rec, rem = received.get(qid, 0), removed.get(qid)
            why = [k for k in kills if k[1] > rec and (rem is None or rem > k[1])]
            dup_report += len(reports) - 1
            if len(reports) - 1 > len(why):
                unexplained += len(reports) - 1 - len(why)
                unexplained_list.append((sender, "%d reports" % len(reports), qid))
        so = last_sent_off.get(sender.lower())
        for mid, times in reports.items():
            if len(times) > 1:
                # one report delivered again: in flight at a kill, like
                # any message
                first = min(times)
                why = [k for k in kills if k[0] > first and (so is None or so > k[1])]
                dup_report += len(times) - 1
                if len(times) - 1 > len(why):
                    unexplained += len(times) - 1 - len(why)
                    unexplained_list.append((sender, "report %s %d times" % (mid, len(times)), so))
        if i in acked and not acked[i] and reports:
            unexplained += 1
            unexplained_list.append((sender, "report for a message without failures", 0))

    fired = {}
    for k in kills:
        fired[k[2]] = fired.get(k[2], 0) + (1 if k[3] else 0)
    figures = ("crash consistency: seed %d, cases tried %d, kills %d (failpoints fired %d), "
               "accepted %d, refused %d, unknown at kill %d (delivered anyway %d), "
               "delivered %d, lost %d, duplicated %d (deliveries %d, reports %d), unexplained %d"
               % (seed, stream.counter, len(kills), sum(1 for k in kills if k[3]), len(acked),
                  stream.refused, len(stream.unknown), delivered_unacked,
                  delivered, len(lost), dup_delivery + dup_report, dup_delivery, dup_report, unexplained))
    print(figures)
    print("failpoints fired: " + ", ".join("%s=%d" % kv for kv in sorted(fired.items())))
    assert len(kills) >= min(30, n_kills), "only %d kills in the budget (%s)" % (len(kills), figures)
    assert len(acked) >= len(kills), "too few messages accepted to test anything: " + figures
    assert not lost, "%d accepted messages lost: %s; first: %s" % (len(lost), figures, lost[:5])
    assert unexplained == 0, "duplicates not explained by a kill: %s; %s" % (unexplained_list[:5], figures)
    if n_kills >= 2 * len(FAILPOINTS) * 2:
        never = [fp for fp in FAILPOINTS if fired.get(fp, 0) == 0]
        assert not never, "failpoints that never fired: %s (%s)" % (never, figures)
