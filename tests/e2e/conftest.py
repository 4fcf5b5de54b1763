"""Fixtures of the mailerd end-to-end suite.

Session-scoped peers, started once and always stopped (finalizers; tests/
run.sh also has a trap): dnsmasq with the zone of harness/world.py, a real
Postfix for postfix.test, aiosmtpd sinks and scripted python SMTP servers,
all on 127.0.0.x addresses sharing one port (mailerd's smtp_port).

Function-scoped: `mailerd_factory(**settings)` starts `MAILERD_BIN serve`
(default build/mailerd) with its own directory, spool, event log and
listener; every instance is stopped after the test, and a crash, a missing
exit or a sanitizer report turns into a test error. When a test fails its
report shows the tail of the daemon's stderr and event log.

Missing dnsmasq or postfix binaries are errors, not skips: tests/run.sh
installs them.
"""

import os
import shutil
import signal
import tempfile
import uuid

import pytest

from harness import world
from harness.dns import Dnsmasq
from harness.mailerd import Mailerd
from harness.net import free_port
from harness.peers import ScriptedServer, Sink, greylist_rcpt, hang_data, tempfail_rcpt
from harness.postfix import PostfixPeer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def pytest_configure(config):
    # A SIGTERM (timeout(1), CI cancelling) becomes a KeyboardInterrupt so
    # pytest still runs the finalizers that stop Postfix, dnsmasq and the
    # daemons.
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def e2e_dir():
    parent = os.environ.get("MAILERD_E2E_TMP") or None
    if parent:
        os.makedirs(parent, exist_ok=True)
        os.chmod(parent, 0o755)
    d = tempfile.mkdtemp(prefix="e2e.", dir=parent)
    os.chmod(d, 0o755)  # the Postfix peer's delivery user walks through it
    yield d
    if not os.environ.get("MAILERD_E2E_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def peer_port():
    """The one port every remote SMTP site listens on (mailerd's smtp_port)."""
    # random, not a fixed favourite: two sessions on one machine (two
    # developers, CI and a developer) must not race for the same port
    return free_port(ips=world.PEER_IPS)


@pytest.fixture(scope="session")
def dns(e2e_dir):
    d = os.path.join(e2e_dir, "dns")
    os.makedirs(d)
    try:
        server = Dnsmasq(d)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postfix(e2e_dir, peer_port):
    d = os.path.join(e2e_dir, "postfix")
    os.makedirs(d)
    try:
        peer = PostfixPeer(d, peer_port)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield peer
    peer.stop()


class Peers:
    """Every python-played remote site, by role."""

    def __init__(self, port):
        self.port = port
        self.all = []
        try:
            self.sink = self._add(Sink("mx.sink.test", world.SINK_IP, port))
            self.nomx = self._add(Sink("nomx.test", world.NOMX_IP, port))
            self.backup = self._add(Sink("mx2.down421.test", world.BACKUP_IP, port))
            self.greylist = self._add(ScriptedServer(
                "mx.greylist.test", world.GREYLIST_IP, port, on_rcpt=greylist_rcpt))
            self.down421 = self._add(ScriptedServer(
                "mx1.down421.test", world.DOWN421_IP, port,
                greeting="421 4.3.2 mx1.down421.test Service not available, closing channel"))
            self.slow = self._add(ScriptedServer(
                "mx.slow.test", world.SLOW_IP, port, on_data=hang_data))
            self.tempfail = self._add(ScriptedServer(
                "mx.tempfail.test", world.TEMPFAIL_IP, port, on_rcpt=tempfail_rcpt))
            self.throttle = self._add(ScriptedServer(
                "mx.throttle.test", world.THROTTLE_IP, port, data_delay=0.4))
        except Exception:
            self.stop()
            raise

    def _add(self, srv):
        self.all.append(srv)
        return srv

    def stop(self):
        for s in self.all:
            try:
                s.stop()
            except Exception:
                pass


@pytest.fixture(scope="session")
def peers(peer_port):
    p = Peers(peer_port)
    yield p
    p.stop()


@pytest.fixture(scope="session")
def mailerd_bin():
    b = os.environ.get("MAILERD_BIN") or os.path.join(ROOT, "build", "mailerd")
    if not os.path.isabs(b):
        b = os.path.join(ROOT, b)
    if not os.access(b, os.X_OK):
        pytest.fail("mailerd binary %s not found: run `make` (or set MAILERD_BIN)" % b,
                    pytrace=False)
    return b


@pytest.fixture
def token(request):
    """A short unique token for this test's addresses and Message-IDs."""
    name = request.node.name.replace("test_", "")[:20]
    return "%s-%s" % ("".join(c if c.isalnum() else "-" for c in name).strip("-"),
                      uuid.uuid4().hex[:8])


@pytest.fixture
def mailerd_factory(request, mailerd_bin, dns, peers, postfix, peer_port, e2e_dir):
    """make(**settings) -> a started Mailerd; make(start=False, ...) to only
    configure it. Setting values are strings as in the config file."""
    instances = []
    request.node._mailerd_instances = instances

    def make(start=True, **settings):
        n = len(instances) + 1
        d = tempfile.mkdtemp(prefix="%s.%d." % (request.node.name[:40], n), dir=e2e_dir)
        md = Mailerd(mailerd_bin, d, dns.address, peer_port, settings, name="mailerd%d" % n)
        instances.append(md)
        if start:
            try:
                md.start()
            except RuntimeError as e:
                pytest.fail(str(e), pytrace=False)
        return md

    yield make
    problems = []
    for md in instances:
        md.stop()
        problems += ["%s: %s" % (md.name, p) for p in md.check_problems()]
    if problems:
        pytest.fail("mailerd trouble after the test:\n  " + "\n  ".join(problems) + "\n" +
                    "\n".join(md.stderr_text(tail=80) for md in instances), pytrace=False)


@pytest.fixture
def mailerd(mailerd_factory):
    """One started daemon with the default test settings."""
    return mailerd_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for md in getattr(item, "_mailerd_instances", []):
            rep.sections.append(("%s stderr (tail)" % md.name, md.stderr_text(tail=60)))
            try:
                with open(md.event_log, "rb") as f:
                    ev = f.read().decode("utf-8", "replace").splitlines()[-30:]
            except OSError:
                ev = []
            rep.sections.append(("%s event log (tail)" % md.name, "\n".join(ev)))
