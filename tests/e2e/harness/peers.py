"""Remote SMTP sites played by python, in threads of the pytest process.

- Sink: an aiosmtpd server that accepts everything and records each message
  (envelope, raw bytes as received after dot-unstuffing, session), so tests
  can count by Message-ID and compare bytes.
- ScriptedServer: a hand-written line-level SMTP server for the behaviours
  aiosmtpd cannot play: a 421 greeting, 451 for the first attempt and 250
  afterwards (greylisting), 451 forever, taking DATA and then never replying,
  slow replies while counting parallel sessions.
Every server records what it saw; tests match their own messages by a
unique token (recipient address or Message-ID), so one server serves the
whole session.
"""

import re
import socket
import threading
import time

from aiosmtpd.controller import Controller

from .net import wait_for

MSGID_RE = re.compile(rb"^Message-ID:\s*(<[^>\r\n]*>)", re.I | re.M)


class Message:
    def __init__(self, peer, mail_from, rcpt_tos, data, session_id):
        self.peer = peer
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.data = data            # bytes, CRLF line ends, dot-unstuffed
        self.session_id = session_id
        self.time = time.time()

    @property
    def message_ids(self):
        """Every Message-ID header value (mailerd must not add a second)."""
        return [m.decode("ascii", "replace") for m in MSGID_RE.findall(self.header_block)]

    @property
    def header_block(self):
        end = self.data.find(b"\r\n\r\n")
        return self.data if end < 0 else self.data[:end + 2]

    def __repr__(self):
        return "<Message from=%s to=%s %d bytes>" % (self.mail_from, self.rcpt_tos, len(self.data))


class _Recorder:
    """Messages seen by one server, with waiting helpers."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.messages = []
        self.sessions = 0

    def add(self, msg):
        with self.lock:
            self.messages.append(msg)

    def find(self, rcpt=None, token=None):
        with self.lock:
            msgs = list(self.messages)
        out = []
        for m in msgs:
            if rcpt is not None and rcpt.lower() not in [r.lower() for r in m.rcpt_tos]:
                continue
            if token is not None and token.encode() not in m.data:
                continue
            out.append(m)
        return out

    def wait(self, rcpt=None, token=None, count=1, timeout=20.0):
        """Wait until at least count messages match; returns the matches."""
        wait_for(lambda: len(self.find(rcpt, token)) >= count, timeout)
        return self.find(rcpt, token)


class _SinkHandler:
    def __init__(self, rec):
        self.rec = rec
        self._sessions = {}

    async def handle_DATA(self, server, session, envelope):
        sid = self._sessions.setdefault(id(session), (len(self._sessions) + 1, session))[0]
        self.rec.add(Message(session.peer, envelope.mail_from, envelope.rcpt_tos,
                             envelope.original_content or envelope.content, sid))
        return "250 2.0.0 Ok: queued by %s" % self.rec.name


class Sink(_Recorder):
    """aiosmtpd sink on ip:port; accepts every recipient."""

    def __init__(self, name, ip, port):
        super().__init__(name)
        self.ip, self.port = ip, port
        self.handler = _SinkHandler(self)
        self.controller = Controller(
            self.handler, hostname=ip, port=port, server_hostname=name,
            ready_timeout=10, enable_SMTPUTF8=True, data_size_limit=64 * 1024 * 1024,
            # aiosmtpd allows 20 MAILs per connection by default; mailerd
            # reuses connections for many messages
            command_call_limit=1000000, timeout=60)
        self.controller.start()

    @property
    def session_count(self):
        return len(self.handler._sessions)

    def stop(self):
        self.controller.stop()


class ScriptedServer(_Recorder):
    """Threaded line-level SMTP server with scripted replies.

    greeting:   the first reply ("220 ..." or e.g. "421 4.3.2 ...")
    on_rcpt:    fn(server, mail_from, rcpt) -> reply line
    on_data:    fn(server, mail_from, rcpts, data) -> reply line, or None to
                never answer the final "." (the connection stays open)
    data_delay: seconds to wait before the final reply (slow site)
    """

    def __init__(self, name, ip, port, greeting=None, on_rcpt=None, on_data=None,
                 data_delay=0.0):
        super().__init__(name)
        self.ip, self.port = ip, port
        self.greeting = greeting or "220 %s ESMTP scripted" % name
        self.on_rcpt = on_rcpt or (lambda srv, frm, rcpt: "250 2.1.5 Ok")
        self.on_data = on_data or (lambda srv, frm, rcpts, data: "250 2.0.0 Ok: queued")
        self.data_delay = data_delay
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.data_started = 0       # DATA commands answered with 354
        self.rcpt_log = []          # (mail_from, rcpt, reply)
        self.state = {}             # free for scripts (e.g. greylist counters)
        self._stop = threading.Event()
        self._conns = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _serve(self, conn, peer):
        sid = self.connections
        f = conn.makefile("rb")

        def send(line):
            conn.sendall(line.encode() + b"\r\n")

        try:
            conn.settimeout(120)
            send(self.greeting)
            if not self.greeting.startswith("2"):
                # a 421/554 greeting: RFC 5321 section 3.1, wait for QUIT
                line = f.readline()
                if line[:4].upper() == b"QUIT":
                    send("221 2.0.0 Bye")
                return
            mail_from, rcpts = None, []
            while not self._stop.is_set():
                line = f.readline()
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode("utf-8", "replace")
                verb = cmd[:4].upper()
                if verb in ("EHLO", "HELO"):
                    if verb == "EHLO":
                        send("250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                             "250-ENHANCEDSTATUSCODES\r\n250 SIZE 52428800" % self.name)
                    else:
                        send("250 %s" % self.name)
                elif verb == "MAIL":
                    m = re.match(r"MAIL FROM:\s*<([^>]*)>", cmd, re.I)
                    mail_from, rcpts = (m.group(1) if m else ""), []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    m = re.match(r"RCPT TO:\s*<([^>]*)>", cmd, re.I)
                    rcpt = m.group(1) if m else ""
                    reply = self.on_rcpt(self, mail_from, rcpt)
                    with self.lock:
                        self.rcpt_log.append((mail_from, rcpt, reply))
                    if reply.startswith("2"):
                        rcpts.append(rcpt)
                    send(reply)
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 Error: no valid recipients")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    with self.lock:
                        self.data_started += 1
                    data = self._read_data(f)
                    if data is None:
                        return
                    reply = self.on_data(self, mail_from, rcpts, data)
                    if reply is None:
                        # timeout mid-DATA: never answer; hold the
                        # connection until the client gives up and closes
                        self.add(Message(peer, mail_from, rcpts, data, sid))
                        while not self._stop.is_set() and f.readline():
                            pass
                        return
                    if self.data_delay:
                        time.sleep(self.data_delay)
                    if reply.startswith("2"):
                        self.add(Message(peer, mail_from, rcpts, data, sid))
                    send(reply)
                    mail_from, rcpts = None, []
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("502 5.5.2 Error: command not recognized")
        except OSError:
            pass
        finally:
            with self.lock:
                self.active -= 1
            try:
                f.close()
                conn.close()
            except OSError:
                pass

    @staticmethod
    def _read_data(f):
        out = []
        while True:
            line = f.readline()
            if not line:
                return None
            if line == b".\r\n":
                return b"".join(out)
            if line.startswith(b"."):
                line = line[1:]  # RFC 5321 section 4.5.2 transparency
            out.append(line)

    def stop(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
        self._thread.join(2)


# --- scripts -------------------------------------------------------------

def greylist_rcpt(srv, mail_from, rcpt):
    """451 on the first attempt of each (sender, recipient), then 250."""
    key = (mail_from, rcpt.lower())
    with srv.lock:
        n = srv.state.get(key, 0)
        srv.state[key] = n + 1
    if n == 0:
        return "451 4.7.1 <%s>: Recipient address rejected: Greylisted, try again later" % rcpt
    return "250 2.1.5 Ok"


def tempfail_rcpt(srv, mail_from, rcpt):
    return "451 4.2.0 <%s>: mailbox busy at harness tempfail site" % rcpt


def hang_data(srv, mail_from, rcpts, data):
    return None
