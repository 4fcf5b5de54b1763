"""Loopback helpers: free ports, waiting for a listener, bounded polling."""

import errno
import random
import socket
import time


def _can_bind(ip, port, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        s.close()


def free_port(ips=("127.0.0.1",), udp=False, preferred=()):
    """A TCP port (and UDP too when udp=True) free on every address in ips.

    Tries the preferred ports first, then random ones in a range the kernel
    does not hand out as ephemeral ports by default, so that nothing grabs it
    between our check and the server's bind."""
    candidates = list(preferred) + random.sample(range(20000, 32000), 400)
    for port in candidates:
        if not all(_can_bind(ip, port) for ip in ips):
            continue
        if udp and not all(_can_bind(ip, port, socket.SOCK_DGRAM) for ip in ips):
            continue
        return port
    raise RuntimeError("no free port on %s" % (ips,))


def wait_for(pred, timeout, interval=0.1, what="condition"):
    """Poll pred() until it returns a true value (returned) or time runs out
    (returns the last false value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def wait_listening(ip, port, timeout=10.0, alive=None):
    """Wait until a TCP connect to ip:port succeeds. alive() (optional)
    returning False stops the wait early (the server process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
