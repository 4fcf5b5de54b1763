"""Remote faults: scripted SMTP servers that misbehave at each protocol
step, and DNS that fails. For each: the right per-recipient outcome in the
event log, a retry after the configured back-off (the attempts count
grows), nothing lost, and no second copy for a recipient the remote
already accepted (counted at the server).

Each fault site is its own FaultServer on a new 127.0.0.x address; mail
reaches it through transport_map, so the DNS zone is not touched. A
server misbehaves on its first connection(s) as scripted and is a plain
good server afterwards, so every deferred recipient is delivered on a
retry.
"""

import re
import socket
import struct
import threading
import time
from datetime import datetime, timezone

from harness.mailerd import make_message
from harness.net import wait_for

BACKOFF = 2.0  # min_backoff of these tests, seconds


class FaultServer:
    """Line-level SMTP server. script[n] says how connection n (0-based)
    misbehaves: (step, action) with step in greeting, ehlo, mail, rcpt,
    data, body (after some message bytes), dot; action "hang" (say
    nothing more, hold the connection), "reset" (close with RST),
    "tarpit" (the reply one byte per second) or a reply line (sent; a 421
    also closes). Connections beyond the script behave.
    rcpt_reply(conn, rcpt) and dot_reply(conn, rcpts) script replies per
    recipient / per transaction (None: 250)."""

    def __init__(self, name, ip, port, script=(), rcpt_reply=None, dot_reply=None):
        self.name, self.ip, self.port = name, ip, port
        self.script = list(script)
        self.rcpt_reply = rcpt_reply
        self.dot_reply = dot_reply
        self.lock = threading.Lock()
        self.conns = []        # per connection: {"start", "end"}
        self.accepted = []     # (conn, rcpts, data): transactions answered 2xx
        self.rcpt_log = []     # (conn, rcpt, reply)
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self._open = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                n = len(self.conns)
                self.conns.append({"start": time.time(), "end": None})
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def copies(self, rcpt):
        """How many accepted transactions included rcpt."""
        with self.lock:
            return sum(1 for _, rcpts, _ in self.accepted if rcpt.lower() in [r.lower() for r in rcpts])

    def _serve(self, conn, n):
        fault = self.script[n] if n < len(self.script) else (None, None)
        f = conn.makefile("rb")
        conn.settimeout(60)

        def step(name, reply):
            """Send reply unless this step is the scripted fault; returns
            False when the session is over."""
            if fault[0] != name:
                conn.sendall(reply.encode() + b"\r\n")
                return True
            act = fault[1]
            if act == "hang":
                while not self._stop.is_set() and f.readline():
                    pass
            elif act == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif act == "tarpit":
                for ch in (reply + "\r\n").encode():
                    if self._stop.is_set():
                        break
                    conn.sendall(bytes([ch]))
                    time.sleep(1.0)
                return True
            else:
                conn.sendall(act.encode() + b"\r\n")
                if not act.startswith("421"):
                    return True
            return False

        try:
            if not step("greeting", "220 %s ESMTP fault" % self.name):
                return
            mail_from, rcpts = None, []
            while not self._stop.is_set():
                line = f.readline()
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    if not step("ehlo", "250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                                "250-ENHANCEDSTATUSCODES\r\n250 SIZE 52428800" % self.name):
                        return
                elif verb == "HELO":
                    if not step("ehlo", "250 %s" % self.name):
                        return
                elif verb == "MAIL":
                    m = re.match(r"MAIL FROM:\s*<([^>]*)>", cmd, re.I)
                    mail_from, rcpts = (m.group(1) if m else ""), []
                    if not step("mail", "250 2.1.0 Ok"):
                        return
                elif verb == "RCPT":
                    m = re.match(r"RCPT TO:\s*<([^>]*)>", cmd, re.I)
                    rcpt = m.group(1) if m else ""
                    reply = (self.rcpt_reply and self.rcpt_reply(n, rcpt)) or "250 2.1.5 Ok"
                    with self.lock:
                        self.rcpt_log.append((n, rcpt, reply))
                    if reply.startswith("2"):
                        rcpts.append(rcpt)
                    if not step("rcpt", reply):
                        return
                elif verb == "DATA":
                    if not rcpts:
                        conn.sendall(b"554 5.5.1 Error: no valid recipients\r\n")
                        continue
                    if not step("data", "354 End data with <CR><LF>.<CR><LF>"):
                        return
                    data, nlines = [], 0
                    while True:
                        dl = f.readline()
                        if not dl:
                            return
                        nlines += 1
                        if nlines == 3 and fault[0] == "body":
                            step("body", "")
                            return
                        if dl == b".\r\n":
                            break
                        data.append(dl[1:] if dl.startswith(b".") else dl)
                    reply = (self.dot_reply and self.dot_reply(n, rcpts)) or "250 2.0.0 Ok: queued"
                    if fault[0] == "dot":
                        step("dot", reply)
                        return
                    if reply.startswith("2"):
                        with self.lock:
                            self.accepted.append((n, list(rcpts), b"".join(data)))
                    conn.sendall(reply.encode() + b"\r\n")
                    mail_from, rcpts = None, []
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    conn.sendall(b"250 2.0.0 Ok\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    return
                else:
                    conn.sendall(b"250 2.0.0 Ok\r\n")
        except OSError:
            pass
        finally:
            with self.lock:
                self.conns[n]["end"] = time.time()
            try:
                f.close()
                conn.close()
            except OSError:
                pass

    def stop(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self._open:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
        self._thread.join(2)


def _ts(e):
    """an event's time stamp (UTC, ISO 8601) as seconds since the epoch"""
    t = datetime.strptime(e["ts"].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=timezone.utc).timestamp()


def _attempts(md, rcpt):
    return [e for e in md.events("attempt", rcpt=rcpt)]


# (name, script of the first connection, what the first attempt must say)
STEP_CASES = [
    ("greeting-timeout", ("greeting", "hang"), "timed out"),
    ("ehlo-timeout", ("ehlo", "hang"), "timed out"),
    ("mail-timeout", ("mail", "hang"), "timed out"),
    ("rcpt-timeout", ("rcpt", "hang"), "timed out"),
    ("data-timeout", ("data", "hang"), "timed out"),
    ("dot-timeout", ("dot", "hang"), "timed out"),
    ("reset-mid-data", ("body", "reset"), ""),
    ("greeting-421", ("greeting", "421 4.3.2 fault site busy, closing"), "421"),
    ("mail-421", ("mail", "421 4.3.2 fault site shutting down"), "421"),
    ("rcpt-421", ("rcpt", "421 4.3.2 fault site shutting down"), "421"),
    ("tarpit-greeting", ("greeting", "tarpit"), "timed out"),
]
BASE_IP = 41  # 127.0.0.41 and up: one address per site


def test_remote_fault_each_step(mailerd_factory, peers, peer_port, token):
    """Every step-fault site at once through one daemon: the first attempt
    is deferred with a temporary outcome, the retry comes after the
    back-off and delivers exactly one accepted copy."""
    servers, routes = {}, []
    try:
        for k, (name, fault, _) in enumerate(STEP_CASES):
            ip = "127.0.0.%d" % (BASE_IP + k)
            servers[name] = FaultServer("mx.%s.fault.test" % name, ip, peer_port, script=[fault])
            routes.append("%s.fault.test=[%s]:%d" % (name, ip, peer_port))
        md = mailerd_factory(transport_map=",".join(routes), min_backoff="%ds" % BACKOFF,
                             max_backoff="4s", smtp_command_timeout="3s", smtp_data_timeout="3s")
        rcpt = {name: "%s-%s@%s.fault.test" % (name, token, name) for name, _, _ in STEP_CASES}
        t0 = time.time()
        for name, _, _ in STEP_CASES:
            code, text, _ = md.submit("faults-%s@client.test" % token, [rcpt[name]],
                                      make_message("%s-%s" % (name, token), to=rcpt[name]))
            assert code == 250, text
        for name, _, _ in STEP_CASES:
            md.wait_event("delivered", rcpt=rcpt[name], timeout=40)
        problems, lines = [], []
        for name, fault, want in STEP_CASES:
            srv, r = servers[name], rcpt[name]
            att = _attempts(md, r)
            st = [(a["status"], a["attempts"]) for a in att]
            lines.append("%-17s attempts %s, connections %d, copies %d, first: %s" % (
                name, st, len(srv.conns), srv.copies(r), (att[0].get("text") or "")[:70] if att else "-"))
            if not att or att[0]["status"] != "deferred" or att[0].get("kind") != "temp":
                problems.append("%s: first attempt %s, want deferred (temp)" % (name, att[:1]))
                continue
            if want and want not in (att[0].get("text", "") + " " + str(att[0].get("code"))).lower():
                problems.append("%s: first attempt says %r, want it to mention %r" % (
                    name, att[0].get("text"), want))
            if [a["attempts"] for a in att] != list(range(1, len(att) + 1)):
                problems.append("%s: attempts count %s does not grow by one" % (name, st))
            if att[-1]["status"] != "sent":
                problems.append("%s: not delivered after the fault (%s)" % (name, st))
            if not md.events("delivered", rcpt=r):
                problems.append("%s: no delivered event" % name)
            if srv.copies(r) != 1:
                problems.append("%s: %d accepted copies at the site, want 1" % (name, srv.copies(r)))
            if len(srv.conns) >= 2:
                # from the recorded deferral to the next connection:
                # min_backoff with -10% jitter (the site back-off is the
                # same size)
                gap = srv.conns[1]["start"] - _ts(att[0])
                if gap < BACKOFF * 0.85:
                    problems.append("%s: retried %.2fs after the deferral, before the %.0fs back-off"
                                    % (name, gap, BACKOFF))
                if gap > BACKOFF * 1.1 + 4:
                    problems.append("%s: retried only after %.2fs" % (name, gap))
            if name == "tarpit-greeting":
                took = _ts(att[0]) - srv.conns[0]["start"]
                # the greeting alone would take ~40 s at one byte a second
                if took > 3 + 3:
                    problems.append("tarpit: first attempt lasted %.1fs with a 3s command timeout" % took)
        print("remote faults (%.1fs):\n  %s" % (time.time() - t0, "\n  ".join(lines)))
        assert not problems, "\n".join(problems) + "\n" + "\n".join(lines)
        # nothing left behind
        wait_for(lambda: md.queue_json() == [], 10)
        assert md.queue_json() == []
    finally:
        for s in servers.values():
            s.stop()


def test_some_recipients_452(mailerd_factory, peers, peer_port, token):
    """452 for one recipient, 250 for the others in the same transaction:
    the accepted ones are delivered once and never sent again; the other
    is retried alone after the back-off and delivered."""
    ip = "127.0.0.61"
    later = "later-%s@r452.fault.test" % token

    def rcpt_reply(conn, rcpt):
        if rcpt.lower() == later.lower() and conn == 0:
            return "452 4.2.2 <%s>: mailbox temporarily over quota" % rcpt
        return None

    srv = FaultServer("mx.r452.fault.test", ip, peer_port, rcpt_reply=rcpt_reply)
    try:
        md = mailerd_factory(transport_map="r452.fault.test=[%s]:%d" % (ip, peer_port),
                             min_backoff="%ds" % BACKOFF, max_backoff="4s")
        now = ["now%d-%s@r452.fault.test" % (i, token) for i in range(2)]
        code, text, _ = md.submit("r452@client.test", now + [later],
                                  make_message(token, to=now[0]))
        assert code == 250, text
        assert md.wait_event("delivered", rcpt=later, timeout=30), "452 recipient never delivered"
        d = [a for a in _attempts(md, later) if a["status"] == "deferred"]
        assert d and d[0]["code"] == 452 and d[0]["dsn"] == "4.2.2", d
        for r in now:
            assert [a["status"] for a in _attempts(md, r)] == ["sent"], _attempts(md, r)
            assert srv.copies(r) == 1, "%s accepted %d times" % (r, srv.copies(r))
        assert srv.copies(later) == 1
        # the retry carried only the recipient that was not accepted
        assert [rc for c, rc, rep in srv.rcpt_log if c >= 1 and rep.startswith("2")] == [later], srv.rcpt_log
        assert len(srv.accepted) == 2, srv.accepted
    finally:
        srv.stop()


def test_5xx_after_data_multi_recipient(mailerd_factory, peers, peer_port, token):
    """554 to the final dot of a two-recipient message: both recipients
    fail (permanent, the remote's text kept), one report lists both, and
    the message is not sent again."""
    ip = "127.0.0.62"
    srv = FaultServer("mx.d554.fault.test", ip, peer_port,
                      dot_reply=lambda conn, rcpts: "554 5.7.1 message content rejected by fault site")
    try:
        md = mailerd_factory(transport_map="d554.fault.test=[%s]:%d" % (ip, peer_port),
                             min_backoff="%ds" % BACKOFF)
        sender = "d554-%s@sink.test" % token
        rcpts = ["a-%s@d554.fault.test" % token, "b-%s@d554.fault.test" % token]
        code, text, qid = md.submit(sender, rcpts, make_message(token, to=rcpts[0], sender=sender))
        assert code == 250, text
        for r in rcpts:
            ev = md.wait_event("failed", rcpt=r, timeout=20)
            assert ev is not None, "%s did not fail" % r
            assert ev["code"] == 554 and ev["dsn"] == "5.7.1", ev
            assert "content rejected by fault site" in ev["text"], ev
        reports = peers.sink.wait(rcpt=sender, timeout=20)
        assert len(reports) == 1, "want one report, got %d" % len(reports)
        body = reports[0].data.decode("utf-8", "replace")
        for r in rcpts:
            assert r in body, "report does not name %s" % r
        time.sleep(BACKOFF + 1)
        assert len(srv.conns) == 1, "a permanent failure was retried (%d connections)" % len(srv.conns)
        assert srv.accepted == []
        assert len(peers.sink.find(rcpt=sender)) == 1, "more than one report"
    finally:
        srv.stop()


def _dns_case(md, rcpt, want_attempts=2, timeout=30):
    """The recipient is deferred with a DNS temporary failure, retried with
    a growing attempts count, and still queued (not failed, not lost)."""
    ok = wait_for(lambda: len([a for a in _attempts(md, rcpt) if a["status"] == "deferred"])
                  >= want_attempts, timeout)
    att = _attempts(md, rcpt)
    assert ok, "want %d deferred attempts, got %s" % (want_attempts, att)
    assert [a["attempts"] for a in att[:want_attempts]] == list(range(1, want_attempts + 1)), att
    for a in att:
        assert a["status"] == "deferred" and a["dsn"] == "4.4.3", a
    assert md.events("failed", rcpt=rcpt) == []
    gap = _ts(att[1]) - _ts(att[0])
    assert gap >= BACKOFF * 0.85, "retried after %.2fs, before the back-off" % gap
    q = md.queue_json()
    assert any(r["recipient"] == rcpt for m in q for r in m["recipients"]), "message lost: %s" % q
    return att


def test_dns_servfail_deferred_and_retried(mailerd_factory, peers, token):
    md = mailerd_factory(min_backoff="%ds" % BACKOFF, max_backoff="4s")
    rcpt = "sf-%s@servfail.test" % token
    code, text, _ = md.submit("sf@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    att = _dns_case(md, rcpt)
    print("servfail: %s" % [(a["attempts"], a["dsn"], a["text"][:60]) for a in att])


def test_dns_timeout_deferred_then_delivered(mailerd_factory, peers, dns, token):
    """dns_servers points at a UDP port that never answers: deferred with
    4.4.3 and retried; restarted with a working resolver, the message is
    delivered once."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # bound, never read: queries vanish
    try:
        md = mailerd_factory(dns_servers="127.0.0.1:%d" % silent.getsockname()[1],
                             dns_timeout="1s", min_backoff="%ds" % BACKOFF, max_backoff="4s")
        rcpt = "dnsto-%s@sink.test" % token
        code, text, _ = md.submit("dnsto@client.test", [rcpt], make_message(token, to=rcpt))
        assert code == 250, text
        _dns_case(md, rcpt, timeout=40)
        assert peers.sink.find(rcpt=rcpt) == []
        md.stop()
        md.settings["dns_servers"] = dns.address
        md.write_config()
        md.start()
        assert peers.sink.wait(rcpt=rcpt, timeout=20), "not delivered once DNS answered"
        time.sleep(1)
        assert len(peers.sink.find(rcpt=rcpt)) == 1
    finally:
        silent.close()
