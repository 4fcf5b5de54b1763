"""The command line as a user meets it: `check-config` names every bad line
of a file and the line of the setting a cross-check refuses, and refuses a
run_user the machine does not have; `mailerd CMD --help` is the help for
every command; an unknown command or sub-command is named in one line.
No daemon, no network.
"""

import subprocess


def run(binary, *args):
    return subprocess.run([binary] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def test_check_config_names_every_bad_line(mailerd_bin, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("listn = x\n= y\nsmtp_port = 25\nsmtp_port\n")
    p = run(mailerd_bin, "check-config", "-c", str(conf))
    assert p.returncode == 1, p
    assert p.stderr.decode().splitlines() == [
        "%s:1: unknown setting 'listn'" % conf,
        "%s:2: expected 'key = value': no setting name before '='" % conf,
        "%s:4: expected 'key = value'" % conf,
    ]


def test_check_config_cross_check_names_the_written_line(mailerd_bin, tmp_path):
    conf = tmp_path / "backoff.conf"
    conf.write_text("# only the upper bound is given\nmax_backoff = 1s\n")
    p = run(mailerd_bin, "check-config", "-c", str(conf))
    assert p.returncode == 1, p
    assert p.stderr.decode().strip() == (
        "%s:2: max_backoff: must not be below min_backoff" % conf)


def test_check_config_refuses_unknown_run_user(mailerd_bin, tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text("run_user = no-such-user-here\n")
    p = run(mailerd_bin, "check-config", "-c", str(conf))
    assert p.returncode == 1, p
    assert p.stderr.decode().strip() == (
        "%s:1: run_user: no such user 'no-such-user-here' on this machine" % conf)
    p = run(mailerd_bin, "check-config", "-o", "run_user=root")
    assert (p.returncode, p.stdout.decode().strip()) == (0, "config ok"), p


def test_help_for_every_command(mailerd_bin):
    for cmd in ("serve", "send", "queue", "check-config", "bounce", "suppress", "contacts"):
        p = run(mailerd_bin, cmd, "--help")
        assert p.returncode == 0, (cmd, p)
        assert p.stdout.decode().startswith("usage: mailerd COMMAND"), (cmd, p.stdout[:80])


def test_unknown_command_in_one_line(mailerd_bin):
    p = run(mailerd_bin, "bogus")
    assert p.returncode == 2, p
    assert p.stderr.decode() == "mailerd: unknown command 'bogus' (`mailerd help` lists them)\n"


def test_unknown_sub_command_is_named(mailerd_bin, tmp_path):
    conf = tmp_path / "store.conf"
    conf.write_text("state_db = sqlite:%s\n" % (tmp_path / "state.db"))
    p = run(mailerd_bin, "suppress", "-c", str(conf), "bogus")
    assert p.returncode != 0, p
    assert p.stderr.decode().splitlines()[0] == "suppress: unknown sub-command 'bogus'"
    p = run(mailerd_bin, "contacts", "bogus")
    assert p.returncode == 2, p
    assert p.stderr.decode().splitlines()[0] == "contacts: unknown sub-command 'bogus'"
