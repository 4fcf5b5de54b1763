"""Driver for the mailerd binary under test (MAILERD_BIN, default
build/mailerd): writes a config file, runs `mailerd serve -c FILE`, talks to
it with real clients (smtplib, swaks, raw sockets), reads its event log and
runs `mailerd queue ...` and `mailerd send`.

Only names from the interface contract (design.md) and src/config/config.h
are used: settings in files drop the _ms suffix of the struct fields and
durations take s/m/h/d/ms suffixes.
"""

import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import time

from . import world
from .net import free_port, wait_for, wait_listening

QUEUED_RE = re.compile(r"queued as ([0-9A-Za-z._-]+)", re.I)
SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|"
                          r"runtime error:|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer")

# Seconds-scale retries so deferral, retry and expiry fit in a test run.
DEFAULTS = {
    "myhostname": "mailerd.test",
    "min_backoff": "1s",
    "max_backoff": "2s",
    "greylist_retry": "1s",
    "queue_lifetime": "1h",
    "connection_cache_time": "1s",
    "smtp_connect_timeout": "2s",
    "smtp_command_timeout": "3s",
    "smtp_data_timeout": "3s",
    "dns_timeout": "2s",
    "log_level": "info",
}


class Mailerd:
    """One mailerd daemon with its own directory, config and spool."""

    def __init__(self, binary, workdir, dns_address, smtp_port, settings=None, name="mailerd"):
        self.binary = binary
        self.dir = workdir
        self.name = name
        os.makedirs(workdir, exist_ok=True)
        self.port = free_port()
        self.spool_dir = os.path.join(workdir, "spool")
        self.event_log = os.path.join(workdir, "events.jsonl")
        self.config_path = os.path.join(workdir, "mailerd.conf")
        self.settings = dict(DEFAULTS)
        self.settings.update({
            "listen": "127.0.0.1:%d" % self.port,
            "spool_dir": self.spool_dir,
            "state_db": "sqlite:" + os.path.join(workdir, "state.db"),
            "event_log": self.event_log,
            "dns_servers": dns_address,
            "smtp_port": str(smtp_port),
            "signing_key_file": os.path.join(workdir, "signing.key"),
        })
        self.settings.update(settings or {})
        self.write_config()
        self.proc = None
        self.runs = 0
        self.stderr_paths = []
        self.expected_exit = True
        self.problems = []  # sanitizer reports, crashes: turned into errors

    # --- configuration and process ------------------------------------

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write("# written by the e2e harness\n")
            for k, v in self.settings.items():
                f.write("%s = %s\n" % (k, v))

    @property
    def stderr_path(self):
        return self.stderr_paths[-1] if self.stderr_paths else None

    def start(self, timeout=15.0):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.runs += 1
        path = os.path.join(self.dir, "serve.%d.stderr" % self.runs)
        self.stderr_paths.append(path)
        self._err = open(path, "wb")
        self.proc = subprocess.Popen([self.binary, "serve", "-c", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._err,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        with open(os.path.join(self.dir, "%s.harness.pid" % self.name), "w") as f:
            f.write("%d\n" % self.proc.pid)
        self.expected_exit = False
        if not wait_listening("127.0.0.1", self.port, timeout, alive=lambda: self.proc.poll() is None):
            rc = self.proc.poll()
            self.stop()
            raise RuntimeError("mailerd did not listen on 127.0.0.1:%d (exit %s)\n%s" % (
                self.port, rc, self.stderr_text()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """SIGKILL, as a crash: no clean-up code of mailerd runs."""
        self.expected_exit = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._err.close()

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL. Records a crash or sanitizer report."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.expected_exit = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.problems.append("mailerd did not exit within %.0fs of SIGTERM" % timeout)
                self.proc.kill()
                self.proc.wait(10)
        elif not self.expected_exit:
            self.problems.append("mailerd died during the test (exit status %s)" % self.proc.returncode)
        rc = self.proc.returncode
        if rc not in (0, -signal.SIGTERM, -signal.SIGKILL):
            self.problems.append("mailerd exited with status %s" % rc)
        try:
            self._err.close()
        except Exception:
            pass
        return rc

    def check_problems(self):
        """Problems of every run: crashes, sanitizer reports."""
        out = list(self.problems)
        for p in self.stderr_paths:
            text = _read(p)
            if SANITIZER_RE.search(text):
                out.append("sanitizer report in %s" % os.path.basename(p))
        return out

    def stderr_text(self, all_runs=True, tail=None):
        paths = self.stderr_paths if all_runs else self.stderr_paths[-1:]
        text = ""
        for p in paths:
            text += "----- %s\n" % os.path.basename(p) + _read(p)
        if tail:
            text = "\n".join(text.splitlines()[-tail:])
        return text

    # --- event log ----------------------------------------------------

    def events(self, event=None, qid=None, rcpt=None):
        out = []
        for line in _read(self.event_log).splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line being written
            if event is not None and e.get("event") != event:
                continue
            if qid is not None and e.get("qid") != qid:
                continue
            if rcpt is not None and (e.get("rcpt") or "").lower() != rcpt.lower():
                continue
            out.append(e)
        return out

    def wait_event(self, event, timeout=20.0, **kw):
        """The first event matching (waits); None when none came in time.
        event "deferred" also matches an attempt event with status=deferred."""
        def find():
            if event == "deferred":
                evs = [e for e in self.events(None, kw.get("qid"), kw.get("rcpt"))
                       if e.get("event") == "deferred" or
                       (e.get("event") == "attempt" and e.get("status") == "deferred")]
            else:
                evs = self.events(event, kw.get("qid"), kw.get("rcpt"))
            return evs[0] if evs else None
        return wait_for(find, timeout, interval=0.1)

    def qid_for_sender(self, sender, timeout=5.0):
        e = wait_for(lambda: [x for x in self.events("received") if x.get("sender") == sender],
                     timeout)
        return e[0]["qid"] if e else None

    # --- commands -----------------------------------------------------

    def cli(self, *args, input=None, timeout=30):
        p = subprocess.run([self.binary] + list(args), input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, cwd=self.dir)
        err = p.stderr.decode("utf-8", "replace")
        if SANITIZER_RE.search(err):
            self.problems.append("sanitizer report from `mailerd %s`:\n%s" % (
                " ".join(args[:1]), err[-4000:]))
        return p

    def queue(self, *args):
        return self.cli("queue", "-c", self.config_path, *args)

    def queue_json(self):
        p = self.queue("list", "--json")
        assert p.returncode == 0, "mailerd queue list --json failed: %r" % (p.stderr,)
        return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]

    def send_cli(self, message, *args):
        """`mailerd send -c FILE args...` with message on stdin"""
        return self.cli("send", "-c", self.config_path, *args, input=message)

    # --- SMTP clients ---------------------------------------------------

    def smtp(self, timeout=30):
        s = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.test", timeout=timeout)
        return s

    def submit(self, sender, rcpts, data):
        """One message with smtplib; returns (code, reply text, qid or None).
        data is bytes (CRLF line ends) or str."""
        with self.smtp() as s:
            code, resp = s.ehlo()
            assert code == 250, "EHLO refused: %d %r" % (code, resp)
            code, resp = s.mail(sender)
            assert code == 250, "MAIL refused: %d %r" % (code, resp)
            for r in rcpts:
                code, resp = s.rcpt(r)
                assert code == 250, "RCPT %s refused: %d %r" % (r, code, resp)
            code, resp = s.data(data)
            text = resp.decode("utf-8", "replace")
            m = QUEUED_RE.search(text)
            qid = m.group(1) if m else None
            if code == 250 and qid is None:
                qid = self.qid_for_sender(sender)
            return code, text, qid

    def swaks(self, *args, timeout=60):
        return subprocess.run(["swaks", "--server", "127.0.0.1:%d" % self.port,
                               "--helo", "client.test"] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)

    def raw(self, timeout=15):
        return RawClient("127.0.0.1", self.port, timeout)


class RawClient:
    """A byte-exact SMTP client for what smtplib normalises away (bare LF,
    NUL, long lines, pipelining)."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """One (possibly multi-line) reply: (code, full text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed; got %r" % (lines + [self.buf],))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except (OSError, TypeError):
        return ""


def make_message(token, to="someone@sink.test", sender="sender@client.test", body=None,
                 extra_headers=(), message_id=True):
    """An RFC 5322 message (bytes, CRLF) carrying token in Subject, Message-ID
    and body so it can be found anywhere."""
    hdrs = ["From: Sender <%s>" % sender, "To: <%s>" % to, "Subject: e2e %s" % token,
            "Date: Thu, 03 Dec 2026 12:00:00 +0000"]
    if message_id:
        hdrs.append("Message-ID: <%s@client.test>" % token)
    hdrs.extend(extra_headers)
    if body is None:
        body = "Hello %s.\r\nSecond line.\r\n" % token
    return ("\r\n".join(hdrs) + "\r\n\r\n" + body).encode("utf-8")
