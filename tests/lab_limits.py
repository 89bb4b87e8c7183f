#!/usr/bin/env python3
"""A lab of many hosts under a process limit (issue 14, item 9).

400 hosts: ten answer at once (libvirt's in-process test driver, a node
file each), the other 390 are unix sockets of this test that accept a
connection and say nothing for a moment before closing it, as a slow or
wedged daemon does.  The tool runs as an unprivileged user (nobody when the
test runs as root: root is exempt from RLIMIT_NPROC) with a limit of tasks
barely above what that user runs already.  With a thread per host the run
used to abort (exit 133, SIGTRAP from g_thread_new) with guests in flight;
now a bounded set of threads reads the hosts, the silent ones are reported
unreachable, the guests pinned to the answering hosts are planned, and the
run ends with its report and exit 1.

The binary comes from $VP_BIN.  Standard library only; nothing is skipped.
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standalone import require_vp  # noqa: E402

N_HOSTS = 400
N_ANSWER = 10
SILENCE = 0.3      # seconds a silent host holds each connection
HEADROOM = 24      # tasks the tool may have beyond what the user runs


def tasks_of(uid):
    """Threads of every process of UID: what RLIMIT_NPROC counts."""
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            n += int(fields.get("Threads", "1"))
    return n


class SilentHosts:
    """Unix sockets that accept and hold each connection for SILENCE."""

    def __init__(self, paths):
        self.socks = []
        self.stop = False
        for p in paths:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(p)
            os.chmod(p, 0o777)
            s.listen(16)
            s.setblocking(False)
            self.socks.append(s)
        self.accepted = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        held = []
        while not self.stop:
            now = time.monotonic()
            for s in self.socks:
                try:
                    c, _ = s.accept()
                    held.append((now + SILENCE, c))
                    self.accepted += 1
                except BlockingIOError:
                    pass
            keep = []
            for until, c in held:
                if until <= now:
                    c.close()
                else:
                    keep.append((until, c))
            held = keep
            time.sleep(0.01)
        for _, c in held:
            c.close()

    def close(self):
        self.stop = True
        self.thread.join()
        for s in self.socks:
            s.close()


class LabLimits(unittest.TestCase):
    def test_many_hosts_few_threads(self):
        vp = require_vp()
        tmp = tempfile.mkdtemp(prefix="vplim.", dir="/tmp")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        os.chmod(tmp, 0o755)
        hosts, silent = [], []
        for i in range(N_HOSTS):
            if i < N_ANSWER:
                node = os.path.join(tmp, "n%d.xml" % i)
                with open(node, "w") as f:
                    f.write("<node><pool type='dir'><name>default</name><uuid>%s</uuid>"
                            "<target><path>%s/p%d</path></target></pool></node>"
                            % (uuid.uuid4(), tmp, i))
                os.chmod(node, 0o644)
                hosts.append("  h%d: test://%s\n" % (i, node))
            else:
                sock = os.path.join(tmp, "s%d" % i)
                silent.append(sock)
                hosts.append("  h%d: %s\n" % (i, json.dumps(
                    "qemu+unix:///session?socket=" + sock)))
        guests = "".join("  - name: pinned-%d\n    host: h%d\n" % (i, i)
                         for i in range(N_ANSWER))
        manifest = os.path.join(tmp, "lab.yaml")
        with open(manifest, "w") as f:
            f.write("lab: limits\nhosts:\n" + "".join(hosts) +
                    "defaults: {pool: default, size: 1G, virt-type: qemu, "
                    "network: none, graphics: none, import: true}\nguests:\n" + guests)
        os.chmod(manifest, 0o644)

        # Root is exempt from the limit: run as nobody then.
        if os.getuid() == 0:
            uid = pwd.getpwnam("nobody").pw_uid
            drop = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                    "--clear-groups", "--"]
        else:
            uid, drop = os.getuid(), []
        limit = tasks_of(uid) + HEADROOM
        server = SilentHosts(silent)
        self.addCleanup(server.close)
        argv = ["prlimit", "--nproc=%d" % limit] + drop + [vp, "--json", "apply",
                                                           "--dry-run", manifest]
        t = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, LC_ALL="C.UTF-8", HOME=tmp))
        took = time.monotonic() - t
        sys.stderr.write("lab_limits.py: %d hosts under nproc %d: exit %d in %.1f s, "
                         "%d silent connections\n"
                         % (N_HOSTS, limit, r.returncode, took, server.accepted))
        desc = "$ %s\n-> %d\nstderr: %s" % (" ".join(argv), r.returncode, r.stderr[-2000:])
        self.assertEqual(r.returncode, 1, desc)
        doc = json.loads(r.stdout)
        reach = {h["name"]: h["reachable"] for h in doc["hosts"]}
        self.assertEqual(len(reach), N_HOSTS)
        self.assertEqual(sum(reach.values()), N_ANSWER, desc)
        for i in range(N_ANSWER):
            self.assertTrue(reach["h%d" % i], desc)
        actions = {g["name"]: g["action"] for g in doc["guests"]}
        self.assertEqual(actions, {"pinned-%d" % i: "create" for i in range(N_ANSWER)},
                         desc)
        # Every silent host was asked, none twice per connection attempt.
        self.assertGreaterEqual(server.accepted, N_HOSTS - N_ANSWER)
        self.assertNotIn("GLib-ERROR", r.stderr, desc)
        self.assertLessEqual(r.stderr.count("\n"), 1, desc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
