"""Valgrind clean on the smoke test: `mailerd serve` under memcheck accepts
one message, delivers it, answers `queue list`, and exits 0 on SIGTERM
with no memory error and no definite leak (--error-exitcode=99 turns any
into exit status 99). `mailerd queue list` runs under memcheck too.

Runs with the normal build only: a sanitizer build cannot run under
valgrind, so the test skips there (MAILERD_E2E_SANITIZED, or the binary
carries the AddressSanitizer runtime). Skips with a message when valgrind
is not installed (tests/run.sh installs it).
"""

import os
import shutil
import signal
import stat

import pytest

from harness.mailerd import make_message

VALGRIND_ARGS = ["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
                 "--show-leak-kinds=definite", "--track-fds=no", "--num-callers=30"]


def _sanitized(binary):
    if os.environ.get("MAILERD_E2E_SANITIZED"):
        return True
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def test_valgrind_smoke(mailerd_factory, mailerd_bin, peers, token):
    vg = shutil.which("valgrind")
    if vg is None:
        pytest.skip("valgrind is not installed (tests/run.sh installs it)")
    if _sanitized(mailerd_bin):
        pytest.skip("a sanitizer build cannot run under valgrind; the normal build is checked")
    md = mailerd_factory(start=False)
    # the harness runs md.binary; a wrapper puts valgrind in front of it
    wrapper = os.path.join(md.dir, "mailerd-under-valgrind")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s %s %s \"$@\"\n" % (vg, " ".join(VALGRIND_ARGS), mailerd_bin))
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
    md.binary = wrapper
    md.start(timeout=90)

    rcpt = "vg-%s@sink.test" % token
    code, text, qid = md.submit("vg@client.test", [rcpt], make_message(token, to=rcpt))
    assert code == 250, text
    got = peers.sink.wait(rcpt=rcpt, timeout=60)
    assert len(got) == 1, "not delivered under valgrind"
    assert md.wait_event("delivered", rcpt=rcpt, timeout=30) is not None

    p = md.queue("list")
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 0, "`mailerd queue list` under valgrind exited %d:\n%s" % (
        p.returncode, err[-4000:])
    assert "ERROR SUMMARY: 0 errors" in err, err[-4000:]

    md.proc.send_signal(signal.SIGTERM)
    rc = md.proc.wait(120)
    md.expected_exit = True
    log = md.stderr_text(all_runs=False)
    assert rc == 0, "mailerd under valgrind exited %s after SIGTERM (99 = memcheck errors):\n%s" % (
        rc, log[-6000:])
    assert "ERROR SUMMARY: 0 errors" in log, log[-6000:]
    assert "definitely lost: 0 bytes" in log or "no leaks are possible" in log, log[-6000:]
