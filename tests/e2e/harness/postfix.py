"""A real Postfix as the remote MX of postfix.test, with its own config
directory, queue and mailboxes in a temporary directory.

It accepts mail for the virtual mailboxes alice@postfix.test and
bob@postfix.test (Maildir under TMP/mail) and rejects anyone else with
Postfix's own "550 5.1.1 <x@postfix.test>: Recipient address rejected: User
unknown in virtual mailbox table". It never sends mail out and never uses
DNS. Logs go to TMP/postfix.log (postlogd, Postfix >= 3.4).
"""

import os
import pwd
import grp
import shutil
import subprocess
import time

from . import world
from .net import wait_listening

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {tmp}/queue
data_directory = {tmp}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix.test
mydomain = postfix.test
myorigin = mx.postfix.test
mydestination =
# 127.0.0.2 is not an interface address of its own (only 127.0.0.1 is), so
# Postfix listens through the explicit address in master.cf.
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = postfix.test
virtual_mailbox_maps = texthash:{tmp}/etc/vmailbox
virtual_mailbox_base = {tmp}/mail
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
message_size_limit = 52428800
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
maillog_file = {tmp}/postfix.log
maillog_file_prefixes = {tmp}
biff = no
smtputf8_enable = yes
smtpd_banner = $myhostname ESMTP Postfix (harness)
"""

# type private unpriv chroot wakeup maxproc command; no chroot anywhere
MASTER_CF = """\
{ip}:{port} inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000 0 flush
proxymap  unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def _run(args, check=True):
    # `postfix` prints to stderr only when it is a terminal and otherwise
    # logs to syslog; run it under script(1) so its complaints show up.
    cmd = " ".join(args)
    if shutil.which("script"):
        argv = ["script", "-qec", cmd, "/dev/null"]
    else:
        argv = args
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (cmd, p.returncode, out))
    return out


def prepare_instance_dirs(tmpdir):
    """The folders of one Postfix instance under tmpdir (etc, queue, data,
    mail) with the owners Postfix wants; returns the (uid, gid) that owns
    the mailboxes. Fails clearly without postfix or root."""
    if not shutil.which("postfix"):
        raise RuntimeError("postfix is not installed (tests/run.sh installs it)")
    if os.geteuid() != 0:
        raise RuntimeError("the Postfix peer needs root (it runs a master daemon)")
    os.chmod(tmpdir, 0o755)  # the virtual delivery user must get through
    for d in ("etc", "queue", "data", "mail"):
        os.makedirs(os.path.join(tmpdir, d), exist_ok=True)
    pw = pwd.getpwnam("postfix")
    # mailboxes are owned by "nobody"; any non-root user would do
    try:
        uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    except KeyError:
        uid, gid = pw.pw_uid, pw.pw_gid
    os.chown(os.path.join(tmpdir, "mail"), uid, gid)
    os.chown(os.path.join(tmpdir, "data"), pw.pw_uid, pw.pw_gid)
    return uid, gid


class PostfixPeer:
    def __init__(self, tmpdir, port, ip=world.POSTFIX_IP, users=world.POSTFIX_USERS):
        self.tmp = tmpdir
        self.ip, self.port = ip, port
        self.users = users
        self.etc = os.path.join(tmpdir, "etc")
        self.mail = os.path.join(tmpdir, "mail")
        self.log_path = os.path.join(tmpdir, "postfix.log")
        uid, gid = prepare_instance_dirs(tmpdir)
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for u in users:
                f.write("%s@postfix.test %s/\n" % (u, u))  # trailing "/" = Maildir
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(tmp=tmpdir, uid=uid, gid=gid))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(ip=ip, port=port))
        _run(["postfix", "-c", self.etc, "check"])
        _run(["postfix", "-c", self.etc, "start"])
        if not wait_listening(ip, port, timeout=20):
            log = self.log()
            self.stop()
            raise RuntimeError("Postfix did not listen on %s:%d\n%s" % (ip, port, log))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def mailbox(self, user):
        """Every message delivered to user's Maildir, as bytes (oldest first)."""
        out = []
        base = os.path.join(self.mail, user)
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), "rb") as f:
                    out.append(f.read())
        return out

    def wait_mailbox(self, user, token, timeout=20.0):
        """Messages in user's mailbox that contain token (waits for one)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.mailbox(user) if token.encode() in m]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def stop(self):
        try:
            _run(["postfix", "-c", self.etc, "stop"], check=False)
        except Exception:
            pass
