"""A throw-away PostgreSQL server for the suppression store tests.

initdb in a temporary directory (as the `postgres` system user when run as
root: the server refuses to run as root), `pg_ctl start` on a free
loopback port with trust authentication for local connections only, and
`stop()` to shut it down (`-m immediate`, then SIGKILL of the recorded
postmaster pid). Binaries come from the Debian layout
/usr/lib/postgresql/<version>/bin, newest version first, or from PATH.

    pg = PostgresServer(tmpdir)
    url = pg.create_database("node_test")   # postgresql://postgres@127.0.0.1:PORT/node_test
    ...
    pg.stop()
"""

import glob
import os
import pwd
import re
import shutil
import subprocess

from .net import free_port, wait_listening


def find_bindir():
    """The directory holding initdb and pg_ctl, or None."""
    def version_key(path):
        m = re.search(r"/postgresql/(\d+)", path)
        return int(m.group(1)) if m else 0

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True):
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class PostgresServer:
    """One PostgreSQL cluster of our own on 127.0.0.1."""

    def __init__(self, tmpdir, user="postgres"):
        self.bindir = find_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found (install the postgresql "
                               "package)")
        self.dir = tmpdir
        self.data = os.path.join(tmpdir, "data")
        self.logfile = os.path.join(tmpdir, "postgres.log")
        self.port = free_port()
        self.user = user
        self.started = False
        os.makedirs(tmpdir, exist_ok=True)
        self._as_user = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(user)
            except KeyError:
                raise RuntimeError("no '%s' system user to run PostgreSQL as" % user)
            os.chown(tmpdir, pw.pw_uid, pw.pw_gid)
            self._as_user = ["runuser", "-u", user, "--"]
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        opts = ("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s "
                "-c fsync=off -c max_connections=50" % (self.port, tmpdir))
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", self.logfile,
                   "-o", opts, "-w", "-t", "60", "start"])
        self.started = True
        # tests/run.sh kills whatever a dead pytest left behind by these files
        pid = self.postmaster_pid()
        if pid:
            with open(os.path.join(tmpdir, "postgres.harness.pid"), "w") as f:
                f.write("%d\n" % pid)
        if not wait_listening("127.0.0.1", self.port, 30):
            self.stop()
            raise RuntimeError("PostgreSQL did not listen on 127.0.0.1:%d\n%s" % (
                self.port, self.log()[-3000:]))

    def _run(self, args, check=True):
        p = subprocess.run(self._as_user + args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, cwd=self.dir, timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s\n%s" % (
                os.path.basename(args[0]), p.returncode, p.stdout.decode("utf-8", "replace"),
                self.log()[-3000:]))
        return p

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def url(self, dbname):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, dbname)

    def create_database(self, name):
        """A new empty database; returns its URL."""
        self._run([os.path.join(self.bindir, "createdb"), "-h", "127.0.0.1", "-p",
                   str(self.port), "-U", "postgres", name])
        return self.url(name)

    def psql(self, dbname, sql):
        """Run SQL, return the unaligned, tuples-only output."""
        p = self._run([os.path.join(self.bindir, "psql"), "-h", "127.0.0.1", "-p",
                       str(self.port), "-U", "postgres", "-d", dbname, "-At", "-c", sql])
        return p.stdout.decode("utf-8", "replace").strip()

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if not self.started:
            return
        self.started = False
        p = self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate",
                       "-w", "-t", "30", "stop"], check=False)
        if p.returncode != 0:
            pid = self.postmaster_pid()
            if pid:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
