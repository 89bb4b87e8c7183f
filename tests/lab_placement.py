#!/usr/bin/env python3
"""A host that is down fails only its own guests (issue 16, item 3), over
the three hosts of tests/libvirt/hosts.sh (MultiHostTestCase: h1 and h2
over qemu+unix, h3 over qemu+ssh).  A host goes down as in lab.py: its
daemon is killed (SIGKILL), and hosts.sh start brings it back with the
domains and volumes it had.  Nothing boots.

  down_then_back   8 unpinned guests applied over the three hosts; h2 goes
      down, and destroy removes what it can reach, so that h2 alone holds
      guests of the lab (those of the earlier apply).  A fresh apply of the
      same lab with h2 down creates all 8 on h1 and h3, each guest's note
      naming the host it went to and h2 (exit 1: a host was unreachable).
      h2 back: status, apply and apply --dry-run --prune report the copy
      the placement does not keep of each guest on two hosts (here: the one
      on the host with more of the lab's guests, as this test works out from
      virsh) as drift or a planned delete naming both hosts, and change
      nothing; apply --prune deletes exactly those copies with their
      volumes (virsh list --all, vol-list), and a re-apply is a no-op.
  destroy_both   a guest made on h2 while h1, which held it, was down:
      destroy removes both copies and their volumes.

Each case stands alone: it starts every daemon again and destroys its own
lab before and after.  Run as root.  The binary comes from $VP_BIN.
Nothing is skipped.
"""

import json
import os
import re
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
from libvirt_harness import run  # noqa: E402

NS = "http://virt-provision.org/xmlns/lab/1"
POOL = H.HOST_POOL
log = H.logger("lab_placement.py")
# How long a killed daemon may take to stop answering: a guard against a
# hang, not a measurement.
GONE_TIMEOUT = 60


class LabPlacement(H.MultiHostTestCase):
    N_HOSTS = 3
    # a domain's emulator must exist to define it, even if it never boots
    NEEDED = ("qemu-system-x86_64", "libvirtd")
    PACKAGES = ("qemu-system-x86", "libvirt-daemon-driver-qemu")
    TMP_PREFIX = "vplp."

    # ------------------------------------------------------------------ helpers

    def write_lab(self, lab, guests):
        """Manifest LAB over the three hosts (h1..h3) with GUESTS (YAML list
        items); define-only guests of 64 MiB.  Returns its path."""
        text = "lab: %s\nhosts:\n" % lab
        for i, h in enumerate(self.hosts):
            text += "  h%d: %s\n" % (i + 1, json.dumps(h["uri"]))
        text += ("defaults:\n  pool: %s\n  size: 64M\n  virt-type: qemu\n"
                 "  memory: 64M\n  network: none\n  graphics: none\n"
                 "  import: true\nguests:\n%s" % (POOL, guests))
        path = os.path.join(self.tmp, lab + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def lab(self, cmd, path, lab, *args, expect=0, json_out=True):
        """virt-provision [--json] CMD PATH ARGS: its exit must be EXPECT;
        the JSON document (or the plain text)."""
        argv = [self.vp_bin] + (["--json"] if json_out else []) + [cmd, path] + list(args)
        t = time.monotonic()
        r = run(argv, check=False, timeout=600, env=self.vp_env)
        log("%s %s: exit %d in %.2f s" % (cmd, " ".join(args), r.returncode,
                                          time.monotonic() - t))
        self.assertEqual(r.returncode, expect, "%s\nstdout: %s\nstderr: %s"
                         % (argv, r.stdout, r.stderr))
        if not json_out:
            return r.stdout
        doc = json.loads(r.stdout)
        self.assertEqual(doc["lab"], lab)
        return doc

    def host_down(self, i):
        """Kills the daemon of host I (0-based) and waits until it no longer
        answers; every daemon is started again at cleanup."""
        h = self.hosts[i]
        self.assertEqual(h["transport"], "unix", "a killed ssh host's daemon "
                         "would be spawned again by virt-ssh-helper")
        pid = self.daemon_pid(h)
        self.addCleanup(self.restart_hosts)
        os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + GONE_TIMEOUT
        while self.virsh(h, "uri", check=False).returncode == 0:
            if time.monotonic() > end:
                self.fail("host %s still answers %d s after its daemon %d was killed"
                          % (h["name"], GONE_TIMEOUT, pid))
            time.sleep(0.1)

    def fresh(self, lab, guests):
        """Fixture: every daemon running, manifest LAB written, and no guest
        of it on any host; destroyed again at cleanup, with every daemon
        running.  Returns the manifest's path."""
        path = self.write_lab(lab, guests)
        self.restart_hosts()
        self.lab("destroy", path, lab)
        self.addCleanup(self.lab, "destroy", path, lab)
        self.assertEqual(self.state(lab), [{}, {}, {}])
        return path

    def state(self, lab, down=None):
        """Per host, in order: {guest: (uuid, whether NAME.qcow2 is in the
        pool)} of the domains that hold LAB's record; None for host DOWN
        (0-based), which is not asked."""
        out = []
        for i, h in enumerate(self.hosts):
            if i == down:
                out.append(None)
                continue
            vols = set(line.split()[0] for line in
                       self.virsh(h, "vol-list", POOL).splitlines() if line.strip())
            guests = {}
            for d in self.virsh(h, "list", "--all", "--name").split():
                r = self.virsh(h, "metadata", d, NS, check=False)
                if r.returncode == 0 and "<lab>%s</lab>" % lab in r.stdout:
                    guests[d] = (self.virsh(h, "domuuid", d).strip(),
                                 d + ".qcow2" in vols)
            out.append(guests)
        return out

    @staticmethod
    def said(doc):
        """The report's guests as lines, for assertion messages."""
        return "\n".join("%s %s %s: %s" % (g["name"], g["host"], g["action"],
                                           g["error"] or g["note"])
                         for g in doc["guests"])

    @staticmethod
    def guests_of(doc, action=None):
        """(name, host) of the report's guests, of ACTION when given."""
        return sorted((g["name"], g["host"]) for g in doc["guests"]
                      if action is None or g["action"] == action)

    # ------------------------------------------------------------------ cases

    def test_down_then_back(self):
        lab = "placement"
        names = ["node-%d" % i for i in range(1, 9)]
        path = self.fresh(lab, "  - name: node\n    count: 8\n")
        doc = self.lab("apply", path, lab)
        self.assertEqual({g["action"] for g in doc["guests"]}, {"create"})
        # fewest lab guests first, ties in manifest order
        self.assertEqual(self.guests_of(doc), sorted(zip(
            names, ["h1", "h2", "h3", "h1", "h2", "h3", "h1", "h2"])))

        self.host_down(1)
        doc = self.lab("destroy", path, lab, expect=1)
        self.assertEqual([h["reachable"] for h in doc["hosts"]], [True, False, True])
        self.assertEqual(self.state(lab, down=1), [{}, None, {}])

        # A fresh lab to the reachable hosts: all 8 made on h1 and h3.
        doc = self.lab("apply", path, lab, expect=1)
        self.assertEqual([h["reachable"] for h in doc["hosts"]], [True, False, True])
        self.assertEqual({g["action"] for g in doc["guests"]}, {"create"}, self.said(doc))
        self.assertEqual(self.guests_of(doc), sorted(zip(
            names, ["h1", "h3", "h1", "h3", "h1", "h3", "h1", "h3"])))
        for g in doc["guests"]:
            self.assertIsNone(g["error"], g)
            self.assertIn("placed on host '%s' while host 'h2' is unreachable"
                          % g["host"], g["note"])
            self.assertIn("--prune", g["note"])
        made = self.state(lab, down=1)
        self.assertEqual(sorted(made[0]) + sorted(made[2]),
                         ["node-1", "node-3", "node-5", "node-7",
                          "node-2", "node-4", "node-6", "node-8"])
        self.assertTrue(all(vol for host in made if host for _, vol in host.values()), made)

        # h2 back: each of its guests is on two hosts.  The placement keeps
        # the copy on the host with the fewest of the lab's guests (the
        # first in the manifest on a tie): worked out here from virsh.
        self.restart_hosts()
        before = self.state(lab)
        self.assertEqual(sorted(before[1]), ["node-2", "node-5", "node-8"])
        counts = [len(host) for host in before]
        holders = {n: [i for i, host in enumerate(before) if n in host] for n in names}
        twice = sorted(n for n, where in holders.items() if len(where) == 2)
        self.assertEqual(twice, ["node-2", "node-5", "node-8"])
        keep = {n: min(holders[n], key=lambda i: (counts[i], i)) for n in twice}
        extra = sorted((n, "h%d" % (i + 1)) for n in twice for i in holders[n]
                       if i != keep[n])
        log("counts %s; kept %s; second copies %s" % (counts, keep, extra))

        kept = sorted([(n, "h%d" % (holders[n][0] + 1)) for n in names if n not in twice]
                      + [(n, "h%d" % (keep[n] + 1)) for n in twice])
        doc = self.lab("status", path, lab, expect=1)
        self.assertEqual(self.guests_of(doc, "drift"), extra, self.said(doc))
        self.assertEqual(self.guests_of(doc, "keep"), kept)
        for g in doc["guests"]:
            if g["action"] == "drift":
                self.assertIn("on host 'h%d'" % (keep[g["name"]] + 1), g["error"])
                self.assertIn("this one on host '%s'" % g["host"], g["error"])
                self.assertIn("--prune", g["error"])
        text = self.lab("status", path, lab, expect=1, json_out=False)
        self.assertIn("a second copy, the guest is on host", text)
        # the inventory names each guest once, on the host that keeps it
        # (a name twice in one mapping is no inventory)
        text = self.lab("status", path, lab, "--inventory", expect=1, json_out=False)
        self.assertEqual(sorted(re.findall(r'^ +"(node-\d)":\n +libvirt_host: "(h\d)"$',
                                           text, re.M)), kept, text)
        doc = self.lab("apply", path, lab, expect=1)
        self.assertEqual(self.guests_of(doc, "drift"), extra)
        doc = self.lab("apply", path, lab, "--dry-run", "--prune", expect=0)
        self.assertEqual(self.guests_of(doc, "delete"), extra)
        self.assertEqual(self.state(lab), before, "a run without --prune changed a host")

        doc = self.lab("apply", path, lab, "--prune")
        self.assertEqual(self.guests_of(doc, "delete"), extra)
        self.assertEqual(len(self.guests_of(doc, "keep")), 8)
        after = self.state(lab)
        for i, host in enumerate(after):
            want = {n: v for n, v in before[i].items()
                    if (n, "h%d" % (i + 1)) not in extra}
            self.assertEqual(host, want, "host h%d after --prune" % (i + 1))
            vols = set(line.split()[0] for line in self.virsh(
                self.hosts[i], "vol-list", POOL).splitlines() if line.strip())
            for n, h in extra:
                if h == "h%d" % (i + 1):
                    self.assertNotIn(n + ".qcow2", vols)
        self.assertEqual(sorted(n for host in after for n in host), names)

        doc = self.lab("apply", path, lab)
        self.assertEqual({g["action"] for g in doc["guests"]}, {"keep"})
        self.assertEqual(self.state(lab), after)

    def test_destroy_both(self):
        lab = "placement-both"
        path = self.fresh(lab, "  - name: solo\n")
        doc = self.lab("apply", path, lab)
        self.assertEqual(self.guests_of(doc, "create"), [("solo", "h1")])
        self.host_down(0)
        doc = self.lab("apply", path, lab, expect=1)
        self.assertEqual(self.guests_of(doc, "create"), [("solo", "h2")], self.said(doc))
        self.restart_hosts()
        held = self.state(lab)
        self.assertEqual([sorted(host) for host in held], [["solo"], ["solo"], []])
        self.assertTrue(held[0]["solo"][1] and held[1]["solo"][1], held)
        doc = self.lab("destroy", path, lab)
        self.assertEqual(self.guests_of(doc, "delete"), [("solo", "h1"), ("solo", "h2")])
        self.assertEqual(self.state(lab), [{}, {}, {}])
        for h in self.hosts[:2]:
            self.assertNotIn("solo", self.virsh(h, "list", "--all", "--name").split())
            self.assertNotIn("solo.qcow2", self.virsh(h, "vol-list", POOL))


if __name__ == "__main__":
    unittest.main(verbosity=2)
