"""DNS for the tests: dnsmasq serving the zone of harness/world.py on a
loopback port, a tiny resolver that answers SERVFAIL to everything (dnsmasq
forwards servfail.test to it), and a raw-UDP query function used to verify
the zone without dnspython."""

import os
import random
import shutil
import socket
import struct
import subprocess
import threading

from . import world
from .net import free_port

TYPE_A, TYPE_MX = 1, 15
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:  # compression pointer (RFC 1035 section 4.1.4)
            ptr = struct.unpack("!H", msg[off:off + 2])[0] & 0x3FFF
            if not jumped:
                end = off + 2
            jumped, off = True, ptr
            continue
        labels.append(msg[off + 1:off + 1 + n].decode("ascii"))
        off += 1 + n
    return ".".join(labels), (end if jumped else off)


def query(server, port, name, qtype, timeout=2.0):
    """One UDP query; returns (rcode name, [answers]) where an MX answer is
    (preference, exchanger) and an A answer is the dotted address.
    Returns ("TIMEOUT", []) when nothing answers."""
    qid = random.randrange(65536)
    pkt = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + \
        struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, (server, port))
        while True:
            try:
                msg, _ = s.recvfrom(4096)
            except socket.timeout:
                return "TIMEOUT", []
            except ConnectionRefusedError:
                return "REFUSED-PORT", []
            if struct.unpack("!H", msg[:2])[0] == qid:
                break
    finally:
        s.close()
    flags, qd, an = struct.unpack("!HHH", msg[2:8])
    rcode = RCODES.get(flags & 0xF, str(flags & 0xF))
    off = 12
    for _ in range(qd):
        _, off = _read_name(msg, off)
        off += 4
    answers = []
    for _ in range(an):
        _, off = _read_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if rtype == TYPE_MX:
            pref = struct.unpack("!H", rdata[:2])[0]
            exch, _ = _read_name(msg, off + 2)
            answers.append((pref, exch))
        elif rtype == TYPE_A:
            answers.append(socket.inet_ntoa(rdata))
        off += rdlen
    return rcode, answers


class ServfailResolver:
    """A UDP "resolver" that answers SERVFAIL to every query."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port = free_port(udp=True)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="servfail", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                msg, addr = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(msg) < 12:
                continue
            self.queries += 1
            # QR=1, opcode copied, RD copied; RA=1, RCODE=2 (SERVFAIL)
            hdr = msg[:2] + bytes([0x80 | (msg[2] & 0x79), 0x82]) + msg[4:6] + b"\0" * 6
            try:
                self.sock.sendto(hdr + msg[12:], addr)
            except OSError:
                pass

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def dnsmasq_args(port, servfail_port):
    args = ["--no-resolv", "--no-hosts", "--no-daemon", "--port=%d" % port,
            "--listen-address=127.0.0.1", "--bind-interfaces", "--conf-file=/dev/null",
            "--no-negcache", "--cache-size=0", "--log-facility=-", "--log-queries",
            "--local=/test/"]
    if os.geteuid() == 0:
        args.append("--user=root")
    for dom, mxs in world.MX.items():
        for pref, host in mxs:
            args.append("--mx-host=%s,%s,%d" % (dom, host, pref))
    for host, ip in world.HOSTS.items():
        args.append("--host-record=%s,%s" % (host, ip))
    for dom in world.NULL_MX:
        # RFC 7505 null MX: preference 0, exchange "." (the root, one 0 byte)
        args.append("--dns-rr=%s,15,000000" % dom)
    for dom in world.SERVFAIL:
        args.append("--server=/%s/127.0.0.1#%d" % (dom, servfail_port))
    return args


class Dnsmasq:
    """dnsmasq in the foreground on 127.0.0.1:port with the world's zone."""

    def __init__(self, tmpdir):
        self.binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
        if not os.path.exists(self.binary):
            raise RuntimeError("dnsmasq is not installed (tests/run.sh installs it)")
        self.tmpdir = tmpdir
        self.servfail = ServfailResolver()
        self.port = free_port(udp=True)
        self.log_path = os.path.join(tmpdir, "dnsmasq.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary] + dnsmasq_args(self.port, self.servfail.port),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        with open(os.path.join(tmpdir, "dnsmasq.harness.pid"), "w") as f:
            f.write("%d\n" % self.proc.pid)
        for _ in range(100):
            if self.proc.poll() is not None:
                break
            if query("127.0.0.1", self.port, "sink.test", TYPE_MX, timeout=0.2)[0] == "NOERROR":
                return
        self.stop()
        raise RuntimeError("dnsmasq did not start:\n" + self.log())

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def query(self, name, qtype):
        return query("127.0.0.1", self.port, name, qtype)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        self.servfail.stop()
