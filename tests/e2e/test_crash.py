"""Durability: kill -9 at any moment loses nothing that got a 250, and
restarting does not send again what was already delivered."""

import smtplib
import threading
import time

import pytest

from harness import world
from harness.mailerd import make_message
from harness.net import wait_for


def _burst(md, token, indices, acked, lock, stop, rcpt, on_ack=None):
    """Send messages indices (shared iterator) over one connection per
    thread; record in acked every index that got 250 to DATA."""
    s = None
    try:
        while not stop.is_set():
            with lock:
                i = next(indices, None)
            if i is None:
                return
            msg = make_message("burst-%s-%05d" % (token, i), to=rcpt)
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", md.port, local_hostname="client.test", timeout=30)
                s.sendmail("burst@client.test", [rcpt], msg)
                with lock:
                    acked.add(i)
                    n = len(acked)
                if on_ack is not None:
                    on_ack(n)
            except (smtplib.SMTPException, OSError):
                # the daemon died under us (or refused this one): this
                # message is not acknowledged; stop this client
                return
    finally:
        if s is not None:
            try:
                s.close()
            except Exception:
                pass


def _run_clients(md, token, indices, acked, lock, stop, rcpt, nthreads, on_ack=None):
    threads = [threading.Thread(target=_burst,
                                args=(md, token, indices, acked, lock, stop, rcpt, on_ack),
                                daemon=True) for _ in range(nthreads)]
    for t in threads:
        t.start()
    return threads


@pytest.mark.slow
def test_kill9_during_burst_loses_nothing(mailerd_factory, peers, token):
    total, kill_after, nthreads = 500, 150, 8
    md = mailerd_factory()
    rcpt = "burst-%s@sink.test" % token
    acked, lock, stop = set(), threading.Lock(), threading.Event()
    indices = iter(range(total))

    killed = threading.Event()
    kill_lock = threading.Lock()

    def on_ack(n):
        # kill -9 from the client thread that saw the kill_after-th 250,
        # while the other clients are mid-transaction
        if n >= kill_after:
            with kill_lock:
                if not killed.is_set():
                    md.kill9()
                    killed.set()

    threads = _run_clients(md, token, indices, acked, lock, stop, rcpt, nthreads, on_ack)
    assert killed.wait(120), "only %d messages accepted, no kill" % len(acked)
    for t in threads:
        t.join(60)
    acked_before_kill = len(acked)
    assert acked_before_kill < total * 0.8, "the kill came too late to test anything"
    delivered_before_restart = len(peers.sink.find(rcpt=rcpt))

    md.start()
    threads = _run_clients(md, token, indices, acked, lock, stop, rcpt, nthreads)
    for t in threads:
        t.join(180)
    stop.set()
    assert len(acked) >= total * 0.9, "only %d of %d accepted" % (len(acked), total)

    def counts():
        c = {}
        for m in peers.sink.find(rcpt=rcpt):
            for mid in m.message_ids:
                c[mid] = c.get(mid, 0) + 1
        return c

    want = {"<burst-%s-%05d@client.test>" % (token, i) for i in acked}
    wait_for(lambda: want <= set(counts()), 120, interval=0.5)
    c = counts()
    lost = sorted(want - set(c))
    dups = {k: v for k, v in c.items() if v > 1}
    info = ("accepted before kill %d, total accepted %d, delivered before restart %d, "
            "arrived %d distinct, duplicates %d" % (acked_before_kill, len(acked),
                                                    delivered_before_restart, len(c),
                                                    sum(v - 1 for v in dups.values())))
    print(info)
    assert not lost, "%d acknowledged messages lost (%s); first: %s" % (len(lost), info, lost[:5])
    # only messages in flight at the crash may go twice
    assert sum(v - 1 for v in dups.values()) <= 25, info


def test_restart_does_not_resend_delivered(mailerd, peers, token):
    rcpts = ["once%d-%s@sink.test" % (i, token) for i in range(3)]
    for r in rcpts:
        code, text, _ = mailerd.submit("once@client.test", [r], make_message(token + r, to=r))
        assert code == 250, text
    for r in rcpts:
        assert mailerd.wait_event("delivered", rcpt=r, timeout=15) is not None
    time.sleep(2)
    mailerd.kill9()
    mailerd.start()
    time.sleep(4)
    for r in rcpts:
        assert len(peers.sink.find(rcpt=r)) == 1, "%s delivered again after restart" % r


def test_deferred_message_survives_kill9(mailerd, peers, peer_port, token):
    """A deferred message is still in the queue after kill -9; restarted
    with a route to a working site, it is delivered."""
    rcpt = "survive-%s@refused.test" % token
    code, text, _ = mailerd.submit("survive@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    assert mailerd.wait_event("deferred", rcpt=rcpt, timeout=15) is not None
    mailerd.kill9()
    mailerd.settings["transport_map"] = "refused.test=[%s]:%d" % (world.SINK_IP, peer_port)
    mailerd.write_config()
    mailerd.start()
    got = peers.sink.wait(rcpt=rcpt, timeout=20)
    assert len(got) == 1, "the deferred message was lost or not retried after restart"
