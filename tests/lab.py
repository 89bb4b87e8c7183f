#!/usr/bin/env python3
"""virt-provision apply/status/destroy of one lab manifest over three real
hosts (issue 10, "It must show" points 2 and 3).

The cases run on two kinds of hosts, one class each (the ctest tests lab,
lab_system and lab_system_guest run them):
  SessionLab       3 hosts of tests/libvirt/hosts.sh (MultiHostTestCase):
                   session daemons, h1 and h2 over qemu+unix, h3 over real
                   qemu+ssh through the suite's own sshd
  SystemLab        3 hosts of tests/libvirt/system-hosts.sh
                   (SystemHostsTestCase): system daemons in namespaces of
                   their own, each reached as root over qemu+ssh, with no
                   pool until the lab makes one
  SystemLabGuest   the ready guest on one such host
What differs between them (paths as the host and as the runner see them,
users, transports, the network a guest gets, the way into a guest) comes
from the host dicts and helpers of the harness, never from a branch here.
The standard lab: web (count 4, unplaced), db (pinned to h3, over ssh), ci
(count 2, cloud-init seeds, overlays on a local base file that apply imports
once per host).  Each case stands alone and passes in any order: the
fixture standard_lab() applies the standard lab (a no-op where it is in
place) and checks that every guest is where its first apply puts it
(PLACEMENT); its cleanup restarts any daemon a case killed and applies the
standard lab again with --prune --replace, which removes what the case
added and remakes what it changed.  Objects of other labs and foreign ones
are removed by the case that made them.

  apply_creates   from hosts the lab never saw (no guest, no base volume),
      apply creates all 7 guests: placement by fewest lab guests, the pin,
      the record in each domain's <metadata>, volumes, seeds and bases (one
      base volume per host that got an overlay); qemu-img check clean
  reapply_noop   re-apply is a no-op: all keep, UUIDs, volume inodes and
      mtimes unchanged
  drift_and_replace   a changed option is reported (exit 1) and nothing
      changes; --replace recreates that guest alone (a new UUID), the others
      stay
  dry_run_and_status   --dry-run plans a change and changes nothing; status
      says the same and exits 1 while the lab differs; status --inventory
      groups by entry
  prune   a lowered count is drift without --prune, delete with it
  foreign_domain   a foreign domain bearing a lab guest's name: conflict
      (exit 1), left untouched, the rest applied; once it is gone, apply
      converges
  unreachable_host   a host unreachable from the start fails only its
      guests; the others are applied elsewhere; once it is back, apply
      --prune converges
  daemon_killed   a daemon killed mid-apply: a correct per-guest report, no
      volume without an owning record, nothing half-made survives a later
      apply, which converges
  sigint   SIGINT mid-apply: the run dies of SIGINT after reporting, guests
      not started are failed, in-flight ones finished or rolled back; a
      later apply converges
  sigint_to_the_group   the same SIGINT sent to the process group, as a
      terminal's Ctrl-C sends it, while the guests are on the ssh host:
      libvirt's ssh child dies with it, yet the in-flight guests roll back
      over a new connection
  ready_guest   a lab of its own: an overlay on the Debian cloud image of
      tests/guest with its seed, booted under TCG; wait: in the defaults
      returns its agent's address, from the subnet of the network the host
      gives guests (a system host: its NAT network default), which status
      --inventory gives Ansible; the runner gets in the way it reaches a
      guest of that host (a system host: ssh through the hypervisor as
      ProxyJump, the guest's host key pinned in its seed) and finds
      cloud-init done and runcmd's marker; destroy stops it
  destroy   no domain, volume or seed of the lab is left; a foreign domain
      and volume and the bases are intact; a second destroy is a no-op
  missing_default_pool   a host without the pool "default": created once,
      before the 8 guests in flight at once, where the host's daemon keeps
      it

Run as root.  The binary comes from $VP_BIN.  Nothing is skipped.
"""

import hashlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
import qemuimg  # noqa: E402
from libvirt_harness import run  # noqa: E402

NS = "http://virt-provision.org/xmlns/lab/1"
MAKE_IMAGE = os.path.join(HERE, "guest", "make-cloud-image.sh")
POOL = H.HOST_POOL
log = H.logger("lab.py")
LAB = "ci-lab"
# Where the first apply of the standard lab puts each guest: fewest lab
# guests first, ties in manifest order; db is pinned.
PLACEMENT = {"web-1": "h1", "web-2": "h2", "web-3": "h3", "web-4": "h1",
             "db": "h3", "ci-1": "h2", "ci-2": "h1"}


def cloud_image():
    """The Debian cloud image of tests/guest, built once and cached as in
    cloud.py: its directory, holding debian-12.raw, vmlinuz, initrd.img."""
    d = H.cloud_image_dir()
    r = run([MAKE_IMAGE, d], check=False, timeout=1800)
    if r.returncode != 0:
        raise AssertionError("make-cloud-image.sh failed:\n" + r.stderr)
    return d


def content_volume(path):
    """The volume a lab makes of local base PATH, computed here as an
    oracle: the first 12 hex digits of SHA-256 over the file's length (8
    bytes, big-endian) and each non-zero 64 KiB block with its index (the
    same), inserted before the extension."""
    block = 64 * 1024
    h = hashlib.sha256(os.path.getsize(path).to_bytes(8, "big"))
    with open(path, "rb") as f:
        index = 0
        while True:
            data = f.read(block)
            if not data:
                break
            if data.count(0) != len(data):
                h.update(index.to_bytes(8, "big"))
                h.update(data)
            index += 1
    stem, ext = os.path.splitext(os.path.basename(path))
    return "%s-%s%s" % (stem, h.hexdigest()[:12], ext)


class LabBase:
    """The standard lab, its fixtures and helpers; a test class puts the
    base class of its kind of hosts (H.MultiHostTestCase,
    H.SystemHostsTestCase) after this one."""

    N_HOSTS = 3
    NEEDED = ("qemu-img", "qemu-system-x86_64", "libvirtd")
    PACKAGES = ("qemu-utils", "qemu-system-x86", "libvirt-daemon-driver-qemu")
    TMP_PREFIX = "vplab."

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = os.path.join(cls.tmp, "w")
        os.makedirs(cls.work)
        os.chmod(cls.work, 0o755)
        cls.base = os.path.join(cls.work, "base.qcow2")
        r = run([cls.vp_bin, "image", cls.base, "--size", "256M"], check=False)
        assert r.returncode == 0, r.stderr
        cls.base_volume = content_volume(cls.base)
        with open(os.path.join(cls.work, "user-data"), "w") as f:
            f.write("#cloud-config\nhostname: ci\n")
        cls.manifest = os.path.join(cls.work, "lab.yaml")
        cls.write_lab()

    # ------------------------------------------------------------------ helpers

    @classmethod
    def write_lab(cls, web=4, db_size="2G", extra="", hosts=None, path=None):
        hosts = hosts or cls.hosts
        text = "lab: %s\nhosts:\n" % LAB
        for i, h in enumerate(hosts):
            text += "  h%d: %s\n" % (i + 1, json.dumps(h["uri"]))
        text += ("defaults:\n  pool: %s\n  size: 1G\n  virt-type: qemu\n"
                 "  memory: 256M\n  network: none\n  graphics: none\n"
                 "  import: true\n"
                 "guests:\n"
                 "  - name: web\n    count: %d\n"
                 "  - name: db\n    host: h3\n    size: %s\n"
                 "  - name: ci\n    count: 2\n    base: ./base.qcow2\n    size: 2G\n"
                 "    cloud-init: {user-data: ./user-data}\n" % (POOL, web, db_size))
        text += extra
        with open(path or cls.manifest, "w") as f:
            f.write(text)

    def lab(self, cmd, *args, manifest=None, expect=0, timeout=600, lab=LAB):
        argv = [self.vp_bin, "--json", cmd, manifest or self.manifest] + list(args)
        t = time.monotonic()
        r = run(argv, check=False, timeout=timeout, env=self.vp_env)
        log("%s %s: exit %d in %.2f s" % (cmd, " ".join(args), r.returncode,
                                          time.monotonic() - t))
        self.assertEqual(r.returncode, expect, "%s\nstdout: %s\nstderr: %s"
                         % (argv, r.stdout, r.stderr))
        doc = json.loads(r.stdout)
        self.assertEqual(doc["lab"], lab)
        return doc

    @staticmethod
    def actions(doc):
        return {g["name"]: g["action"] for g in doc["guests"]}

    def host_of(self, name):
        return self.hosts[int(name[1:]) - 1]

    def domains(self, h):
        return set(self.virsh(h, "list", "--all", "--name").split())

    def volumes(self, h):
        """The volumes of the pool on H (none where there is no pool: a system
        host has none until a lab made it)."""
        r = self.virsh(h, "vol-list", POOL, check=False)
        if r.returncode != 0 and "no storage pool with matching name" in r.stderr:
            return set()
        self.assertEqual(r.returncode, 0, r.stderr)
        return set(line.split()[0] for line in r.stdout.splitlines() if line.strip())

    def record(self, h, dom):
        r = self.virsh(h, "metadata", dom, NS, check=False)
        return r.stdout if r.returncode == 0 else None

    def uuids(self):
        """name -> (host index, uuid) of every domain on every host."""
        out = {}
        for i, h in enumerate(self.hosts):
            for d in self.domains(h):
                out[d] = (i, self.virsh(h, "domuuid", d).strip())
        return out

    def files(self):
        """path -> (inode, mtime_ns, size) of every volume file of every host."""
        out = {}
        for h in self.hosts:
            for name in os.listdir(h["local_images"]):
                p = os.path.join(h["local_images"], name)
                st = os.stat(p)
                out[p] = (st.st_ino, st.st_mtime_ns, st.st_size)
        return out

    def assert_no_orphans(self):
        """Every volume but the bases and foreign ones is named by a record of
        a lab domain on its host, and every record's domain is complete or
        gone after a converging apply."""
        for h in self.hosts:
            owned = set()
            for d in self.domains(h):
                rec = self.record(h, d)
                if rec is None:
                    continue
                for line in rec.splitlines():
                    if "<volume" in line:
                        owned.add(line.split(">")[1].split("<")[0])
            for v in self.volumes(h):
                if v == self.base_volume or v.startswith("foreign"):
                    continue
                self.assertIn(v, owned, "volume %s on %s has no owner record"
                              % (v, h["name"]))

    # ----------------------------------------------------------------- fixtures

    def converge(self):
        """The known state between cases: every daemon running and the
        standard lab exactly in place (guests a case added pruned, changed
        ones made again).  A lab placed otherwise than PLACEMENT is made
        again from nothing."""
        self.restart_hosts()
        self.write_lab()
        doc = self.lab("apply", "--prune", "--replace")
        if self.placement(doc) != PLACEMENT:
            log("the lab is placed %s: made again" % self.placement(doc))
            self.lab("destroy")
            doc = self.lab("apply")
        self.assertEqual(self.placement(doc), PLACEMENT)

    @staticmethod
    def placement(doc):
        return {g["name"]: g["host"] for g in doc["guests"] if g["action"] != "delete"}

    def standard_lab(self):
        """Fixture: the standard lab in place as its first apply makes it;
        put back at cleanup (see converge)."""
        self.converge()
        self.addCleanup(self.converge)

    def no_lab(self):
        """Fixture: hosts the lab never saw: every daemon running, no guest of
        the lab, no base volume (an apply imports the base again).  The
        cleanup leaves the standard lab in place."""
        self.addCleanup(self.converge)
        self.restart_hosts()
        self.write_lab()
        self.lab("destroy")
        for h in self.hosts:
            self.virsh(h, "vol-delete", "--pool", POOL, self.base_volume, check=False)
            self.assertNotIn(self.base_volume, self.volumes(h))
            for d in self.domains(h):
                rec = self.record(h, d)
                self.assertFalse(rec and "<lab>%s</lab>" % LAB in rec,
                                 "%s on %s is still the lab's" % (d, h["name"]))

    def foreign_objects(self, h, name):
        """A domain NAME and a volume foreign.qcow2 on H that no lab made;
        removed at cleanup (the domain under either name it may have then,
        unless a lab has a guest of that name: converge prunes that one)."""
        xml = os.path.join(self.work, "foreign.xml")
        with open(xml, "w") as f:
            f.write("<domain type='qemu'><name>%s</name><memory unit='MiB'>64"
                    "</memory><os><type arch='x86_64'>hvm</type></os></domain>" % name)
        self.virsh(h, "define", xml)
        self.virsh(h, "vol-create-as", POOL, "foreign.qcow2", "1M", "--format", "qcow2")

        def remove():
            for d in {name, "foreign-guest"} & self.domains(h):
                if self.record(h, d) is None:
                    self.virsh(h, "undefine", d, check=False)
            self.virsh(h, "vol-delete", "--pool", POOL, "foreign.qcow2", check=False)
        self.addCleanup(remove)


class LabCases(LabBase):
    """The cases on the standard lab, on any kind of hosts."""

    def test_apply_creates(self):
        self.no_lab()
        doc = self.lab("apply")
        self.assertEqual([h["reachable"] for h in doc["hosts"]], [True] * 3)
        acts = self.actions(doc)
        self.assertEqual(acts, {n: "create" for n in
                                ("web-1", "web-2", "web-3", "web-4", "db", "ci-1", "ci-2")})
        place = {g["name"]: g["host"] for g in doc["guests"]}
        # fewest lab guests first, ties in manifest order; db is pinned
        self.assertEqual(place, PLACEMENT)
        for g in doc["guests"]:
            h = self.host_of(g["host"])
            self.assertIn(g["name"], self.domains(h))
            rec = self.record(h, g["name"])
            self.assertIsNotNone(rec, g["name"])
            self.assertIn("<lab>%s</lab>" % LAB, rec)
            self.assertIn("<state>complete</state>", rec)
            self.assertEqual(self.virsh(h, "domstate", g["name"]).strip(), "shut off")
            vol = g["volume"]["name"]
            self.assertEqual(vol, g["name"] + ".qcow2")
            self.assertIn(vol, self.volumes(h))
            path = os.path.join(h["images"], vol)
            # on the host: the backing file's path is the host's
            qemuimg.check_ok(path, wrapper=h["on_host"])   # raises unless clean
            if g["name"].startswith("ci-"):
                self.assertEqual(g["seed"]["name"], g["name"] + "-cidata.iso")
                self.assertIn(g["seed"]["name"], self.volumes(h))
                info = qemuimg.info(path, force_share=True, wrapper=h["on_host"])
                self.assertEqual(info["backing-filename"],
                                 os.path.join(h["images"], self.base_volume))
                self.assertIn("<base sha256=", rec)
                self.assertIn("<volume pool=\"%s\">%s</volume>" % (POOL, g["seed"]["name"]),
                              rec)
        # the base was imported once per host that has an overlay, not elsewhere
        # (named by its content: never a volume of its file name)
        self.assertIn(self.base_volume, self.volumes(self.hosts[0]))
        self.assertIn(self.base_volume, self.volumes(self.hosts[1]))
        self.assertNotIn(self.base_volume, self.volumes(self.hosts[2]))
        self.assertNotIn("base.qcow2", self.volumes(self.hosts[0]))

    def test_reapply_noop(self):
        self.standard_lab()
        before, files = self.uuids(), self.files()
        doc = self.lab("apply")
        self.assertEqual(set(self.actions(doc).values()), {"keep"})
        self.assertEqual(self.uuids(), before)
        self.assertEqual(self.files(), files, "a re-apply touched a volume")

    def test_drift_and_replace(self):
        self.standard_lab()   # its cleanup makes db 2G again
        before = self.uuids()
        self.write_lab(db_size="3G")
        try:
            doc = self.lab("apply", expect=1)
            self.assertEqual(self.actions(doc)["db"], "drift")
            db = [g for g in doc["guests"] if g["name"] == "db"][0]
            self.assertIn("--replace", db["error"])
            self.assertEqual(self.uuids(), before)
            doc = self.lab("apply", "--replace")
            acts = self.actions(doc)
            self.assertEqual(acts.pop("db"), "replace")
            self.assertEqual(set(acts.values()), {"keep"})
            after = self.uuids()
            self.assertNotEqual(after["db"], before["db"])
            self.assertEqual(after["db"][0], 2)
            self.assertEqual({k: v for k, v in after.items() if k != "db"},
                             {k: v for k, v in before.items() if k != "db"})
            info = qemuimg.info(os.path.join(self.hosts[2]["images"], "db.qcow2"),
                                force_share=True, wrapper=self.hosts[2]["on_host"])
            self.assertEqual(info["virtual-size"], 3 << 30)
            self.assertEqual(set(self.actions(self.lab("apply")).values()), {"keep"})
        finally:
            self.write_lab()

    def test_dry_run_and_status(self):
        self.standard_lab()
        self.write_lab(web=5)
        try:
            before, files = self.uuids(), self.files()
            doc = self.lab("apply", "--dry-run")
            self.assertEqual(self.actions(doc)["web-5"], "create")
            self.assertEqual(self.uuids(), before)
            self.assertEqual(self.files(), files)
            doc = self.lab("status", expect=1)
            self.assertEqual(self.actions(doc)["web-5"], "create")
            self.assertEqual(self.actions(doc)["web-1"], "keep")
            web1 = [g for g in doc["guests"] if g["name"] == "web-1"][0]
            self.assertEqual(web1["domain"]["uuid"], before["web-1"][1])
        finally:
            self.write_lab()
        doc = self.lab("status")
        self.assertEqual(set(self.actions(doc).values()), {"keep"})
        r = run([self.vp_bin, "status", self.manifest, "--inventory"], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        inv = yaml.safe_load(r.stdout)["all"]["children"]
        self.assertEqual(set(inv), {"web", "db", "ci"}, r.stdout)
        for group, name in (("web", "web-1"), ("web", "web-4"), ("db", "db"),
                            ("ci", "ci-2")):
            self.assertIn(name, inv[group]["hosts"], r.stdout)
        self.assertEqual(inv["db"]["hosts"]["db"], {"libvirt_host": "h3"})

    def test_prune(self):
        self.standard_lab()
        self.write_lab(web=2)
        try:
            doc = self.lab("apply", expect=1)
            acts = self.actions(doc)
            self.assertEqual((acts["web-3"], acts["web-4"]), ("drift", "drift"))
            self.assertIn("web-3", self.domains(self.hosts[2]))
            doc = self.lab("apply", "--prune")
            acts = self.actions(doc)
            self.assertEqual((acts["web-3"], acts["web-4"]), ("delete", "delete"))
            self.assertNotIn("web-3", self.domains(self.hosts[2]))
            self.assertNotIn("web-3.qcow2", self.volumes(self.hosts[2]))
            self.assertNotIn("web-4", self.domains(self.hosts[0]))
            self.assertNotIn("web-4.qcow2", self.volumes(self.hosts[0]))
        finally:
            self.write_lab()
        # back to 4: a re-placed web-3/web-4 by the fewest-guests rule
        doc = self.lab("apply")
        self.assertEqual(sorted(n for n, a in self.actions(doc).items() if a == "create"),
                         ["web-3", "web-4"])

    def test_foreign_domain(self):
        self.standard_lab()
        h2 = self.hosts[1]
        self.foreign_objects(h2, "taken")
        foreign_xml = self.virsh(h2, "dumpxml", "taken")
        extra = "  - name: taken\n    host: h2\n"
        self.write_lab(extra=extra)
        try:
            doc = self.lab("apply", expect=1)
            acts = self.actions(doc)
            self.assertEqual(acts.pop("taken"), "conflict")
            self.assertEqual(set(acts.values()), {"keep"})
            g = [g for g in doc["guests"] if g["name"] == "taken"][0]
            self.assertIn("not this lab's", g["error"])
            self.assertEqual(self.virsh(h2, "dumpxml", "taken"), foreign_xml)
            self.assertNotIn("taken.qcow2", self.volumes(h2))
            # the owner renames the foreign guest: the lab's one is created
            self.virsh(h2, "domrename", "taken", "foreign-guest")
            doc = self.lab("apply")
            self.assertEqual(self.actions(doc)["taken"], "create")
            self.assertIsNotNone(self.record(h2, "taken"))
        finally:
            self.write_lab()
        doc = self.lab("apply", "--prune")
        self.assertEqual(self.actions(doc)["taken"], "delete")
        self.assertIn("foreign-guest", self.domains(h2))

    def uuids_of(self, i):
        h = self.hosts[i]
        return set((d, self.virsh(h, "domuuid", d).strip()) for d in self.domains(h))

    def test_unreachable_host(self):
        self.standard_lab()   # its cleanup starts h2 again if the case failed
        h2 = self.hosts[1]
        before = self.uuids_of(0) | self.uuids_of(2)
        os.kill(self.daemon_pid(h2), signal.SIGKILL)
        time.sleep(0.5)
        extra = "  - name: pinned\n    host: h2\n  - name: loose\n"
        self.write_lab(extra=extra)
        try:
            doc = self.lab("apply", expect=1)
            self.assertEqual([h["reachable"] for h in doc["hosts"]], [True, False, True])
            self.assertTrue(doc["hosts"][1]["error"])
            acts = self.actions(doc)
            # h2's own guest fails: the pinned one; the unpinned ones that
            # are not on a reachable host are placed on one (h2 may hold
            # them too: once it is back, --prune deletes one copy)
            self.assertEqual(acts.pop("pinned"), "failed")
            for name in ("loose", "web-2", "ci-1"):
                self.assertEqual(acts.pop(name), "create", name)
            self.assertEqual(set(acts.values()), {"keep"})
            g = {g["name"]: g for g in doc["guests"]}
            self.assertIn("host 'h2' is unreachable", g["pinned"]["error"])
            self.assertIn("while host 'h2' is unreachable", g["loose"]["note"])
            self.assertLessEqual(before, self.uuids_of(0) | self.uuids_of(2))
            self.restart_hosts()
            doc = self.lab("apply", "--prune")
            self.assertEqual(sorted((g["name"], g["action"]) for g in doc["guests"]
                                    if g["action"] != "keep"),
                             [("ci-1", "delete"), ("pinned", "create"), ("web-2", "delete")])
            self.assertEqual(self.lab("apply")["guests"][-1]["action"], "keep")
        finally:
            self.write_lab()
        self.lab("apply", "--prune")

    def bulk_lab(self, path, n, host="h1"):
        extra = ("  - name: bulk\n    count: %d\n    host: %s\n    size: 512G\n"
                 % (n, host))
        self.write_lab(extra=extra, path=path)

    def start_apply(self, path, *args, trigger="defining domain 'bulk-"):
        """apply in a session of its own; SEEN is set at the first -v step
        line holding TRIGGER."""
        argv = [self.vp_bin, "--json", "-v", "apply", path] + list(args)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.vp_env, start_new_session=True)
        H.end_at_exit(p)
        lines, seen = [], threading.Event()

        def reader():
            for line in p.stderr:
                lines.append(line)
                if trigger in line:
                    seen.set()
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        return p, lines, seen, t

    def test_daemon_killed(self):
        self.standard_lab()
        path = os.path.join(self.work, "bulk.yaml")
        self.bulk_lab(path, 12)
        h1 = self.hosts[0]
        pid = self.daemon_pid(h1)
        p, lines, seen, t = self.start_apply(path, "--jobs", "2")
        self.addCleanup(self.lab, "apply", "--prune")
        self.assertTrue(seen.wait(120), "".join(lines))
        os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic()
        out, _ = p.communicate(timeout=300)
        t.join(10)
        log("the apply ended %.1f s after the kill" % (time.monotonic() - t_kill))
        self.assertEqual(p.returncode, 1, "".join(lines))
        doc = json.loads(out)
        acts = self.actions(doc)
        bulk = {n: a for n, a in acts.items() if n.startswith("bulk-")}
        self.assertIn("failed", bulk.values(), bulk)
        for g in doc["guests"]:
            if g["action"] == "failed":
                self.assertTrue(g["error"], g)
        log("killed mid-apply: %s" % sorted(bulk.items()))
        self.restart_hosts()
        # whatever survived is owned; a converging apply repairs the rest
        self.assert_no_orphans()
        doc = self.lab("apply", manifest=path)
        self.assertTrue(set(self.actions(doc).values()) <= {"keep", "create", "replace"})
        doc = self.lab("apply", manifest=path)
        self.assertEqual(set(self.actions(doc).values()), {"keep"})
        for i in range(1, 13):
            rec = self.record(h1, "bulk-%d" % i)
            self.assertIn("<state>complete</state>", rec)
            self.assertIn("bulk-%d.qcow2" % i, self.volumes(h1))
        self.doCleanups()
        self.assertFalse([d for d in self.domains(h1) if d.startswith("bulk-")])

    def interrupted_apply(self, host, send, trigger="defining domain 'bulk-"):
        """A bulk lab of 12 guests pinned to HOST, applied one at a time;
        at the first step line holding TRIGGER, SEND(proc) interrupts it.
        The run dies of SIGINT after reporting; guests not started are
        failed and in-flight ones finished or rolled back, so a failed guest
        left nothing; a later apply creates exactly the failed ones.
        Returns the report's guests."""
        path = os.path.join(self.work, "bulk-%s.yaml" % host["name"])
        self.bulk_lab(path, 12, host="h%d" % (self.hosts.index(host) + 1))
        p, lines, seen, t = self.start_apply(path, "--jobs", "1", trigger=trigger)
        self.addCleanup(self.lab, "apply", "--prune")
        self.assertTrue(seen.wait(120), "".join(lines))
        send(p)
        out, _ = p.communicate(timeout=300)
        t.join(10)
        self.assertEqual(p.returncode, -signal.SIGINT, "".join(lines))
        doc = json.loads(out)
        self.assertTrue(doc["interrupted"])
        bulk = {g["name"]: g for g in doc["guests"] if g["name"].startswith("bulk-")}
        created = [n for n, g in bulk.items() if g["action"] == "create"]
        failed = [n for n, g in bulk.items() if g["action"] == "failed"]
        self.assertTrue(failed, bulk)
        self.assertEqual(len(created) + len(failed), 12)
        log("interrupted on %s: %d created, %d failed"
            % (host["name"], len(created), len(failed)))
        doms, vols = self.domains(host), self.volumes(host)
        for n in created:
            self.assertIn("<state>complete</state>", self.record(host, n))
        for n in failed:
            self.assertNotIn(n, doms, "%s failed but exists\n%s" % (n, "".join(lines)))
            self.assertNotIn(n + ".qcow2", vols, "".join(lines))
        doc = self.lab("apply", manifest=path)
        acts = self.actions(doc)
        self.assertEqual(sorted(n for n, a in acts.items() if a == "create"), sorted(failed))
        return bulk

    def test_sigint(self):
        self.standard_lab()
        self.interrupted_apply(self.hosts[0], lambda p: os.kill(p.pid, signal.SIGINT))

    def test_sigint_to_the_group(self):
        """Ctrl-C at a terminal signals the whole process group, the ssh
        children of libvirt's transport too: the guests in flight on the ssh
        host still roll back (their undo reconnects first)."""
        self.standard_lab()
        h3 = self.hosts[2]
        self.assertEqual(h3["transport"], "ssh")
        ssh = []

        def ctrl_c(p):
            # Inside the upload of the first guest's volume, which must then
            # be undone over the connection the signal cut.
            time.sleep(0.2)
            ssh.extend(int(x) for x in subprocess.run(
                ["pgrep", "-g", str(p.pid), "-x", "ssh"],
                capture_output=True, text=True).stdout.split())
            self.assertTrue(ssh, "no ssh child in the group of %d" % p.pid)
            os.killpg(p.pid, signal.SIGINT)
        bulk = self.interrupted_apply(h3, ctrl_c, trigger="recording domain 'bulk-1'")
        # The guest in flight was undone, not finished; its ssh died with
        # the signal (the undo reconnected).
        self.assertEqual(bulk["bulk-1"]["action"], "failed", bulk["bulk-1"])
        gone = []
        for pid in ssh:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                gone.append(pid)
        log("ssh children %s, gone after the signal: %s; bulk-1: %s"
            % (ssh, gone, bulk["bulk-1"]["error"]))
        self.assertTrue(gone, "the ssh child survived the group's SIGINT")

    def test_destroy(self):
        self.standard_lab()
        h2 = self.hosts[1]
        self.foreign_objects(h2, "foreign-guest")
        doc = self.lab("destroy")
        acts = self.actions(doc)
        log("destroy: %s" % json.dumps(doc["guests"]))
        self.assertEqual(set(acts.values()), {"delete"})
        self.assertEqual(set(acts), {"web-1", "web-2", "web-3", "web-4", "db",
                                     "ci-1", "ci-2"})
        for h in self.hosts:
            for d in self.domains(h):
                self.assertIsNone(self.record(h, d), "%s left on %s" % (d, h["name"]))
            left = self.volumes(h) - {self.base_volume, "foreign.qcow2"}
            self.assertEqual(left, set(), "volumes left on %s" % h["name"])
        self.assertIn("foreign-guest", self.domains(h2))
        self.assertIn("foreign.qcow2", self.volumes(h2))
        self.assertIn(self.base_volume, self.volumes(self.hosts[0]))
        doc = self.lab("destroy")
        self.assertEqual(doc["guests"], [])

    def test_missing_default_pool(self):
        """A host without the pool "default": it is created once for the
        guests in flight at once, where the host's daemon keeps it (a
        session daemon under its XDG data dir, a system one in
        /var/lib/libvirt/images)."""
        h1 = self.hosts[0]
        # (a system host has none until a lab made it)
        self.virsh(h1, "pool-destroy", POOL, check=False)
        self.virsh(h1, "pool-undefine", POOL, check=False)
        self.assertNotEqual(self.virsh(h1, "pool-info", POOL, check=False).returncode, 0)
        # hosts.sh start defines the pool again where it is missing
        self.addCleanup(self.restart_hosts)
        path = os.path.join(self.work, "pool.yaml")
        with open(path, "w") as f:
            f.write("lab: pool-lab\nhosts:\n  h1: %s\n"
                    "defaults:\n  pool: %s\n  size: 1G\n  virt-type: qemu\n"
                    "  memory: 256M\n  network: none\n  import: true\n"
                    "guests:\n  - name: p\n    count: 8\n"
                    % (json.dumps(h1["uri"]), POOL))
        r = run([self.vp_bin, "--json", "apply", path, "--jobs", "8"], check=False,
                env=self.pool_env(h1), timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.addCleanup(self.lab, "destroy", manifest=path, lab="pool-lab")
        doc = json.loads(r.stdout)
        self.assertEqual(set(self.actions(doc).values()), {"create"})
        self.assertIn("<path>%s</path>" % h1["images"],
                      self.virsh(h1, "pool-dumpxml", POOL))
        self.assertEqual(self.virsh(h1, "pool-info", POOL).count("running"), 1)
        self.assertTrue({"p-%d.qcow2" % i for i in range(1, 9)} <= self.volumes(h1))


class ReadyGuest(LabBase):
    """A booted guest of a lab: TCG minutes, so a test of its own where the
    suite runs it in one build only."""

    @H.boots_guest
    def test_ready_guest(self):
        """A lab guest from the cloud image, booted under TCG with its seed;
        wait: in the defaults waits for its agent's address, from the
        network the host gives its guests (a system host: the DHCP of its
        NAT network default), which status --inventory then gives Ansible;
        the runner gets in the way it reaches a guest of that host (a
        system host: ssh through the hypervisor, the guest's host key
        pinned) once cloud-init is done."""
        img = cloud_image()
        h1 = self.hosts[0]
        cloud_volume = content_volume(os.path.join(img, "debian-12.raw"))
        # the base that the lab's destroy leaves (as it must) goes at cleanup,
        # after that destroy
        self.addCleanup(self.virsh, h1, "vol-delete", "--pool", POOL,
                        cloud_volume, check=False)
        # paths on the host, which its qemu reads
        kernel, initrd = (self.host_file(h1, os.path.join(img, f), "cloud-" + f)
                          for f in ("vmlinuz", "initrd.img"))
        # the login key and the guest's own host key, known before it boots
        key, host_key = (os.path.join(self.work, n) for n in ("ready-key", "ready-host-key"))
        for k in (key, host_key):
            if not os.path.exists(k):
                run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vp-ready", "-f", k])
        with open(host_key) as f:
            private = f.read()
        with open(host_key + ".pub") as f:
            public = " ".join(f.read().split()[:2])
        with open(os.path.join(self.work, "ud-ready"), "w") as f:
            # locale: the image has no locales package, and cloud-init's
            # module would fail (update-locale exits 255)
            f.write("#cloud-config\nlocale: false\n"
                    "ssh_keys:\n  ed25519_private: |\n%s  ed25519_public: %s\n"
                    "runcmd:\n  - [sh, -c, 'echo ready > /var/tmp/vp-ready']\n"
                    % ("".join("    " + line + "\n" for line in private.splitlines()),
                       public))
        path = os.path.join(self.work, "ready.yaml")
        with open(path, "w") as f:
            f.write("lab: ready-lab\nhosts:\n  h1: %s\n"
                    "defaults:\n  pool: %s\n  virt-type: qemu\n  memory: 1024M\n"
                    "  vcpus: 2\n  network: %s\n  wait: 900\n"
                    "  base: %s\n  size: 4G\n"
                    "  kernel: %s\n  initrd: %s\n"
                    "  cmdline: root=/dev/vda rw console=ttyS0\n"
                    "  cloud-init: {user-data: ./ud-ready, clouduser-ssh-key: ./ready-key.pub}\n"
                    "guests:\n  - name: ready\n"
                    % (json.dumps(h1["uri"]), POOL, h1["guest_network"],
                       os.path.join(img, "debian-12.raw"), kernel, initrd))
        # The cached image lies outside the manifest's folder.
        allow = ("--allow-path", img)
        self.addCleanup(self.lab, "destroy", *allow, manifest=path, lab="ready-lab")
        t = time.monotonic()
        doc = self.lab("apply", *allow, manifest=path, lab="ready-lab", timeout=1200)
        log("ready guest answered after %.1f s of TCG" % (time.monotonic() - t))
        g = doc["guests"][0]
        self.assertEqual((g["name"], g["action"], g["domain"]["active"]),
                         ("ready", "create", True))
        addrs = [a["address"] for a in g["addresses"]]
        self.assertTrue(addrs and not any(a.startswith("127.") for a in addrs), g)
        self.assertIn(ipaddress.ip_address(addrs[0]), ipaddress.ip_network(h1["guest_subnet"]),
                      g)
        known = os.path.join(self.work, "ready-known-hosts")
        with open(known, "w") as f:
            f.write("%s %s\n" % (addrs[0], public))
        t = time.monotonic()
        r = self.in_guest(h1, "ready", addrs[0],
                          {"user": "debian", "key": key, "known_hosts": known},
                          # (--wait prints dots while it waits)
                          "cloud-init status --wait >/dev/null; cloud-init status; "
                          "cat /var/tmp/vp-ready")
        log("in the guest %.1f s after its address: %r" % (time.monotonic() - t, r.stdout))
        self.assertEqual((r.returncode, r.stdout.split()), (0, ["status:", "done", "ready"]),
                         "%s\n%s" % (r.stdout, r.stderr))
        # The address came from the lease, which precedes the agent: once
        # cloud-init is done the agent is up, or comes within a minute.
        deadline = time.monotonic() + 60
        while True:
            r = self.virsh(h1, "qemu-agent-command", "ready",
                           '{"execute":"guest-get-host-name"}', check=False)
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["return"]["host-name"], "ready")
        r = run([self.vp_bin, "status", path, "--inventory"] + list(allow), check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(yaml.safe_load(r.stdout)["all"]["children"],
                         {"ready": {"hosts": {"ready": {"ansible_host": addrs[0],
                                                       "libvirt_host": "h1"}}}},
                         r.stdout)
        # a running guest of the lab is stopped and removed; the base stays
        doc = self.lab("destroy", *allow, manifest=path, lab="ready-lab")
        self.assertEqual(self.actions(doc), {"ready": "delete"})
        self.assertNotIn("ready", self.domains(h1))
        self.assertIn(cloud_volume, self.volumes(h1))
        self.assertFalse({"ready.qcow2", "ready-cidata.iso"} & self.volumes(h1))


class SessionLab(LabCases, ReadyGuest, H.MultiHostTestCase):
    """Session daemons (tests/libvirt/hosts.sh): h1 and h2 over qemu+unix, h3
    over qemu+ssh."""


class SystemLab(LabCases, H.SystemHostsTestCase):
    """System daemons over qemu+ssh as root (tests/libvirt/system-hosts.sh),
    each in namespaces of its own, without a pool until the lab makes one."""

    TMP_PREFIX = "vpsl."


class SystemLabGuest(ReadyGuest, H.SystemHostsTestCase):
    """The ready guest on a system host: its address from the DHCP of the
    host's NAT network default, reached over ssh through the hypervisor."""

    N_HOSTS = 1
    TMP_PREFIX = "vpsg."


if __name__ == "__main__":
    H.main()
