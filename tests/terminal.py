#!/usr/bin/env python3
"""Ctrl-C and Ctrl-Z at a real terminal while guests are in flight over
qemu+ssh (issue 16, item 3).

A terminal sends SIGINT to its whole foreground process group, and libvirt's
ssh children were in it: they died under the guests that were to roll back
over them (the undo reconnected, slowly, and could not at all with a
password).  Here each run is the foreground job of a shell in miniature
(SHELL: session leader of a pseudo-terminal, the command in a process group
of its own given the terminal, stdin and stderr on it, as a shell runs a
job), and the test types on the terminal's master side as a user would.

setUpClass starts one host with tests/libvirt/hosts.sh: a session daemon
of user vp-host1 reached over real ssh through the suite's own sshd, whose
log counts the logins (one per connection libvirt opens).

  ctrl_c_provision   ^C typed during the upload of a provision over ssh:
      the run undoes what it made over the connection it had (one login,
      no reconnect), says it was interrupted, dies of SIGINT (a shell's
      130), nothing is left on the host
  ctrl_c_apply   ^C typed while a lab's first guest on the ssh host is being
      made (12 guests, one at a time): one login, the report says
      interrupted, the run dies of SIGINT, every failed guest left nothing,
      a later apply creates exactly those
  host_key_prompt_then_ctrl_c   ssh asks on the terminal whether to trust
      the host key (a URI without no_verify and no_tty, the key not yet
      known): the question is answered there, then ^C during the upload
      rolls back over that same connection
  ctrl_z_and_fg   ^Z stops the job, ssh and all, the shell sees it stopped by
      SIGTSTP; fg continues it and the run completes

Run as root (the host is a user of its own).  The binary comes from $VP_BIN.
Nothing is skipped.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
from libvirt_harness import run  # noqa: E402

POOL = H.HOST_POOL
log = H.logger("terminal.py")

# A job-control shell in miniature.  argv: the pty's slave fd, then the
# command.  It becomes the session leader with that terminal, runs the
# command as its foreground job (stdin and stderr on the terminal, stdout
# the shell's own), reports "STOPPED SIG" on its stderr when the job stops
# and waits for a line on its stdin before continuing it (fg), and reports
# "STATUS N", the job's raw wait status, at the end.
SHELL = r'''
import fcntl, os, signal, sys, termios
tty = int(sys.argv[1])
os.setsid()
fcntl.ioctl(tty, termios.TIOCSCTTY, 0)
JOB = (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP, signal.SIGINT, signal.SIGQUIT)
for s in JOB:
    signal.signal(s, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.tcsetpgrp(tty, os.getpid())
    for s in JOB:
        signal.signal(s, signal.SIG_DFL)
    os.dup2(tty, 0)
    os.dup2(tty, 2)
    os.closerange(3, 65536)
    os.execv(sys.argv[2], sys.argv[2:])
try:
    os.setpgid(pid, pid)
except OSError:
    pass      # the job did it and has exec'd already
os.tcsetpgrp(tty, pid)
while True:
    _, status = os.waitpid(pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        break
    os.tcsetpgrp(tty, os.getpgrp())
    print("STOPPED %d" % os.WSTOPSIG(status), file=sys.stderr, flush=True)
    sys.stdin.readline()
    os.tcsetpgrp(tty, pid)
    os.killpg(pid, signal.SIGCONT)
os.tcsetpgrp(tty, os.getpgrp())
print("STATUS %d" % status, file=sys.stderr, flush=True)
'''


def descendants(pid):
    """{pid: (name, state)} of every process below PID, from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append((int(d), name, fields[0]))
    out, todo = {}, [pid]
    while todo:
        for child, name, state in kids.get(todo.pop(), []):
            out[child] = (name, state)
            todo.append(child)
    return out


class Job:
    """ARGV as the foreground job of SHELL on a new pseudo-terminal."""

    def __init__(self, argv, env):
        self.argv = argv
        self.master, slave = os.openpty()
        self.p = subprocess.Popen([sys.executable, "-c", SHELL, str(slave)] + argv,
                                  pass_fds=(slave,), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env)
        os.close(slave)
        self.screen = b""        # what the terminal showed
        self.shell = []          # the shell's report lines
        self.stdout = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._screen, self._shell, self._stdout)]
        for t in self.threads:
            t.start()

    def _screen(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:      # EIO: no slave side open any more
                return
            if not data:
                return
            with self.lock:
                self.screen += data

    def _shell(self):
        for line in self.p.stderr:
            self.shell.append(line.decode().strip())

    def _stdout(self):
        self.stdout.append(self.p.stdout.read().decode())

    def text(self):
        """What the terminal showed, line by line, without the progress
        bar's redraws (each ends in ESC [K, and a line may follow)."""
        with self.lock:
            text = self.screen.decode(errors="replace")
        parts = (l.rsplit("\x1b[K", 1)[-1] for l in re.split(r"[\r\n]+", text))
        return "\n".join(p for p in parts if p)

    def wait_for(self, what, timeout=120):
        """Until the terminal or the shell shows WHAT; False if the job
        ended first or the time ran out."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if what in self.text() or [l for l in self.shell if what in l]:
                return True
            if self.p.poll() is not None:
                return what in self.text() or bool([l for l in self.shell if what in l])
            time.sleep(0.05)
        return False

    def type(self, data):
        os.write(self.master, data)

    def fg(self):
        self.p.stdin.write(b"fg\n")
        self.p.stdin.flush()

    def finish(self, timeout=300):
        """The job's raw wait status, as the shell reported it."""
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("the job did not end within %d s:\n%s"
                                 % (timeout, self.text()))
        for t in self.threads:
            t.join(10)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            f.close()
        os.close(self.master)
        status = [int(l.split()[1]) for l in self.shell if l.startswith("STATUS ")]
        if not status:
            raise AssertionError("the shell reported no status: %s\n%s"
                                 % (self.shell, self.text()))
        return status[0]


class Terminal(H.MultiHostTestCase):
    log = staticmethod(log)
    TMP_PREFIX = "vptt."
    N_HOSTS = 1
    NEEDED = ("ssh-keygen",)
    PACKAGES = ("openssh-client",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.hosts[0]
        assert cls.host["transport"] == "ssh", cls.host
        cls.sshd_log = os.path.join(cls.dir, "ssh", "sshd.log")
        cls.port = int(re.search(r"@127\.0\.0\.1:(\d+)/", cls.host["uri"]).group(1))

    # ------------------------------------------------------------------ helpers

    def logins(self):
        with open(self.sshd_log) as f:
            return f.read().count("Accepted publickey for %s " % self.host["user"])

    def state(self):
        self.virsh(self.host, "pool-refresh", POOL)
        return {"vols": sorted(self.virsh(self.host, "vol-list", POOL).split()),
                "domains": sorted(self.virsh(self.host, "list", "--all", "--name").split()),
                "files": sorted(os.listdir(self.host["images"]))}

    def job(self, *args, uri=None):
        return Job([self.vp_bin, "-c", uri or self.host["uri"], "-v"] + list(args),
                   self.vp_env)

    def interrupted(self, job, status, logins):
        """The run died of SIGINT after its undo, over the one connection it
        opened: no reconnect."""
        screen = job.text()
        log("terminal:\n%s" % screen)
        self.assertTrue(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT,
                        "wait status %d\n%s" % (status, screen))
        self.assertIn("undoing what this run created", screen)
        self.assertEqual(self.logins() - logins, 1,
                         "the run logged in again (its ssh died with the ^C):\n" + screen)

    def drop(self, name):
        def do():
            self.virsh(self.host, "undefine", name, check=False)
            self.virsh(self.host, "vol-delete", "--pool", POOL, name + ".qcow2", check=False)
        self.addCleanup(do)

    # ------------------------------------------------------------------ cases

    def test_ctrl_c_provision(self):
        self.drop("tc1")
        before, logins = self.state(), self.logins()
        job = self.job("provision", "--pool", POOL, "--name", "tc1", "--size", "8T",
                       "--no-define")
        self.assertTrue(job.wait_for("uploading the"), job.text())
        time.sleep(0.2)
        job.type(b"\x03")
        status = job.finish()
        self.interrupted(job, status, logins)
        self.assertIn("interrupted by signal 2", job.text())
        self.assertEqual(self.state(), before)

    def test_ctrl_c_apply(self):
        lab = os.path.join(self.tmp, "tc2.yaml")
        with open(lab, "w") as f:
            f.write("lab: tc2\nhosts:\n  h1: %s\ndefaults:\n  pool: %s\n  size: 512G\n"
                    "  virt-type: qemu\n  memory: 256M\n  network: none\n"
                    "  import: true\nguests:\n  - name: tc2\n    count: 12\n"
                    % (json.dumps(self.host["uri"]), POOL))
        self.addCleanup(run, [self.vp_bin, "destroy", lab], check=False, env=self.vp_env)
        logins = self.logins()
        job = Job([self.vp_bin, "-v", "--json", "apply", lab, "--jobs", "1"], self.vp_env)
        self.assertTrue(job.wait_for("recording domain 'tc2-1'"), job.text())
        job.type(b"\x03")
        status = job.finish()
        self.interrupted(job, status, logins)
        doc = json.loads("".join(job.stdout))
        self.assertTrue(doc["interrupted"], doc)
        acts = {g["name"]: g["action"] for g in doc["guests"]}
        failed = sorted(n for n, a in acts.items() if a == "failed")
        self.assertTrue(failed, acts)
        self.assertLessEqual(set(acts.values()), {"failed", "create"}, acts)
        after = self.state()
        for n in failed:
            self.assertNotIn(n, after["domains"], job.text())
            self.assertNotIn(n + ".qcow2", after["vols"], job.text())
        r = run([self.vp_bin, "--json", "apply", lab], check=False, env=self.vp_env)
        self.assertEqual(r.returncode, 0, r.stderr)
        again = {g["name"]: g["action"] for g in json.loads(r.stdout)["guests"]}
        self.assertEqual(sorted(n for n, a in again.items() if a == "create"), failed)

    def test_host_key_prompt_then_ctrl_c(self):
        self.drop("tc3")
        before, logins = self.state(), self.logins()
        # ssh asks on the terminal once its host key is unknown: the entry
        # that virsh's runs over ssh (no_verify=1) add goes, and this run
        # adds it back
        kh = os.path.join(os.path.expanduser("~root"), ".ssh", "known_hosts")
        name = "[127.0.0.1]:%d" % self.port
        run(["ssh-keygen", "-q", "-R", name, "-f", kh], check=False)
        if os.path.exists(kh + ".old"):
            os.unlink(kh + ".old")
        self.assertNotEqual(run(["ssh-keygen", "-F", name, "-f", kh], check=False).returncode,
                            0)
        uri = self.host["uri"].split("?")[0] + "?keyfile=" + os.path.join(
            self.dir, "ssh", "client_key")
        job = self.job("provision", "--pool", POOL, "--name", "tc3", "--size", "8T",
                       "--no-define", uri=uri)
        self.assertTrue(job.wait_for("continue connecting (yes/no"), job.text())
        job.type(b"yes\n")
        self.assertTrue(job.wait_for("uploading the"), job.text())
        time.sleep(0.2)
        job.type(b"\x03")
        status = job.finish()
        self.interrupted(job, status, logins)
        self.assertEqual(self.state(), before)
        self.assertEqual(run(["ssh-keygen", "-F", name, "-f", kh], check=False).returncode, 0)

    def test_ctrl_z_and_fg(self):
        self.drop("tc4")
        job = self.job("provision", "--pool", POOL, "--name", "tc4", "--size", "4T",
                       "--no-define")
        self.assertTrue(job.wait_for("uploading the"), job.text())
        job.type(b"\x1a")
        self.assertTrue(job.wait_for("STOPPED %d" % signal.SIGTSTP, 30),
                        "%s\n%s" % (job.shell, job.text()))
        # the whole job is stopped, its ssh child too
        procs = descendants(job.p.pid)
        self.assertIn("ssh", [name for name, _ in procs.values()], procs)
        self.assertEqual({state for _, state in procs.values()}, {"T"}, procs)
        job.fg()
        status = job.finish()
        self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
                        "wait status %d\n%s" % (status, job.text()))
        self.assertIn("tc4.qcow2", self.state()["vols"])


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
