#!/usr/bin/env python3
"""Labs trust nothing they read from a host (issue 14): forged records,
one daemon under two URIs, bases matched by name, state that changed
behind the lab's back.  Against a real session libvirtd of the test's own
(tests/libvirt_harness.py); nothing boots.

  forged records   Domains that anyone able to define one could make,
                   carrying this lab's record in state complete and in
                   state creating, name a base image, a volume of another
                   pool and another domain's disk, and (a domain named like
                   the base) the base itself while an overlay uses it.
                   destroy and a plain apply report each such guest as a
                   conflict naming every refused volume, exit 1, and delete
                   nothing: every volume and domain is still there.
  one daemon       Two hosts of the manifest that are one daemon (the same
                   socket, spelled twice) are refused, exit 2 with one line,
                   before anything changes: apply --prune keeps the guest.
  bases by content A local base becomes the volume named by its content
                   digest; a volume of the base's plain file name (here
                   another domain's disk) is never used or touched, the
                   record holds the digest, a re-apply uploads nothing, and
                   a volume of the digest name that is a domain's disk is
                   refused as a base.
  state            status and apply see a guest whose disk was deleted as
                   drift, naming the volume; destroy finishes with what is
                   gone (even a whole pool), says so, and exits 0.
  salted hashes    two guests of one entry hold different options hashes,
                   each with its own salt, and a re-apply keeps both.
  swapped domain   destroy runs under gdb, stopped where it re-reads the
                   guest's domain by UUID before removing it; meanwhile the
                   domain is replaced by another of the same name (another
                   UUID, and a disk of its own).  The removal finds its
                   domain gone and touches nothing of the newcomer.

The binary comes from $VP_BIN.  Standard library only; nothing is skipped.
"""

import json
import os
import re
import sys
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
import qemuimg  # noqa: E402
from libvirt_harness import PREFIX, run  # noqa: E402

LAB = "trust"
NS = "http://virt-provision.org/xmlns/lab/1"


def forged_record(entry, state, volumes):
    """The metadata element a forger writes: this lab's record."""
    vols = "".join('<vp:volume pool="%s">%s</vp:volume>' % v for v in volumes)
    return ('<vp:guest xmlns:vp="%s"><vp:lab>%s</vp:lab><vp:entry>%s</vp:entry>'
            '<vp:options-hash>00</vp:options-hash><vp:state>%s</vp:state>%s'
            '</vp:guest>' % (NS, LAB, entry, state, vols))


def domain_xml(name, disks, metadata=""):
    devs = "".join("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                   "<source file='%s'/><target dev='vd%s' bus='virtio'/></disk>"
                   % (path, chr(ord("a") + i)) for i, path in enumerate(disks))
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>"
            "<os><type arch='x86_64'>hvm</type></os><metadata>%s</metadata>"
            "<devices>%s</devices></domain>" % (name, metadata, devs))


class LabTrust(H.LibvirtTestCase):
    NEEDED = ["virsh", "qemu-img", "libvirtd", "setpriv", "gdb"]
    PACKAGES = ["libvirt-clients", "qemu-utils", "libvirt-daemon", "util-linux", "gdb"]
    TMP_PREFIX = "vptr."
    KIT = False
    log = staticmethod(H.logger("lab_trust.py"))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pools = {}
        for pool in ("default", "other"):
            path = os.path.join(cls.work, "pool-" + pool)
            os.mkdir(path)
            os.chown(path, cls.uid, cls.gid)
            cls.pools[pool] = path
            run(["virsh", "-q", "-c", cls.uri, "pool-define-as", pool, "dir",
                 "--target", path])
            run(["virsh", "-q", "-c", cls.uri, "pool-start", pool])

    # ------------------------------------------------------------------ helpers

    def vp(self, *args, timeout=300):
        argv = [self.vp_bin] + list(args)
        r = run(argv, check=False, timeout=timeout, env=self.vp_env)
        r.argv = argv
        return r

    def lab(self, name, guests, hosts=None, extra_defaults=""):
        """Writes manifest NAME in WORK; returns its path."""
        hosts = hosts or {"h1": self.uri}
        text = "lab: %s\nhosts:\n" % LAB
        for h, uri in hosts.items():
            text += "  %s: %s\n" % (h, json.dumps(uri))
        text += ("defaults:\n  pool: default\n  size: 64M\n  virt-type: qemu\n"
                 "  memory: 64M\n  network: none\n  graphics: none\n  import: true\n"
                 + extra_defaults + "guests:\n" + guests)
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def json_run(self, *args):
        r = self.vp("--json", *args)
        self.assertTrue(r.stdout, self.desc(r))
        doc = json.loads(r.stdout)
        return r, {g["name"]: g for g in doc["guests"]}

    def vol_create(self, pool, name, size="1M", backing=None):
        args = ["vol-create-as", pool, name, size, "--format", "qcow2"]
        if backing is not None:
            args += ["--backing-vol", backing, "--backing-vol-format", "qcow2"]
        self.virsh(*args)
        self.addCleanup(self.virsh, "vol-delete", name, "--pool", pool, check=False)
        return os.path.join(self.pools[pool], name)

    def vol_names(self, pool):
        return set(self.virsh("vol-list", pool).split()[0::2])

    def define(self, name, disks, metadata=""):
        path = os.path.join(self.work, name + ".xml")
        with open(path, "w") as f:
            f.write(domain_xml(name, disks, metadata))
        self.virsh("define", path)
        self.forget(name)

    def domains(self):
        return set(self.virsh("list", "--all", "--name").split())

    def file_digests(self, *paths):
        return {p: H.sha256(p) for p in paths}

    # ------------------------------------------------------------------ tests

    def test_forged_records(self):
        """Forged records in both states: nothing they name is deleted."""
        base = self.vol_create("default", "debian.qcow2")
        overlay = self.vol_create("default", "layer.qcow2", backing=base)
        other = self.vol_create("other", "x.qcow2")
        victim = self.vol_create("default", "victim.qcow2")
        self.define("victim", [victim])
        for state in ("complete", "creating"):
            with self.subTest(state=state):
                rec = forged_record("evil", state, [("default", "debian.qcow2"),
                                                    ("other", "x.qcow2"),
                                                    ("default", "victim.qcow2")])
                self.drop_domain("evil")
                self.drop_domain("debian")
                self.define("evil", [other, victim], rec)
                # Named like the base, with the base as its disk: only the
                # overlay shows the base is not its own.
                self.define("debian", [base],
                            forged_record("debian", state, [("default", "debian.qcow2")]))
                before = self.file_digests(base, overlay, other, victim)
                manifest = self.lab("forged.yaml", "  - name: evil\n  - name: debian\n")
                for args in (("destroy", manifest), ("apply", manifest)):
                    if args[0] == "apply" and state == "complete":
                        continue   # a complete guest is only kept or drifts
                    r, guests = self.json_run(*args)
                    self.assertEqual(r.returncode, 1, self.desc(r))
                    evil, debian = guests["evil"], guests["debian"]
                    self.assertEqual(evil["action"], "conflict", self.desc(r))
                    for refused in ("'default/debian.qcow2' does not have a name",
                                    "'other/x.qcow2' does not have a name",
                                    "'default/victim.qcow2' does not have a name"):
                        self.assertIn(refused, evil["error"], self.desc(r))
                    self.assertIn("nothing of guest 'evil' was removed", evil["error"])
                    self.assertEqual(debian["action"], "conflict", self.desc(r))
                    self.assertIn("'default/debian.qcow2' is the backing file of "
                                  "volume 'default/layer.qcow2'", debian["error"])
                    self.assertEqual(self.file_digests(base, overlay, other, victim),
                                     before)
                    self.assertLessEqual({"debian.qcow2", "layer.qcow2", "victim.qcow2"},
                                         self.vol_names("default"))
                    self.assertIn("x.qcow2", self.vol_names("other"))
                    self.assertLessEqual({"evil", "debian", "victim"}, self.domains())

    def test_one_daemon_two_uris(self):
        """One daemon under two spellings: refused before anything changes."""
        manifest = self.lab("one.yaml", "  - name: solo\n")
        self.forget("solo")
        r = self.vp("apply", manifest)
        self.ok(r)
        uuid = self.virsh("domuuid", "solo").strip()
        # The same socket, spelled with a doubled slash.
        twice = re.sub(r"socket=/", "socket=//", self.uri)
        self.assertNotEqual(twice, self.uri)
        manifest = self.lab("two.yaml", "  - name: web\n    count: 2\n",
                            hosts={"h1": self.uri, "h2": twice})
        for args in (("apply", "--prune", manifest), ("apply", "--dry-run", manifest),
                     ("status", manifest), ("destroy", manifest)):
            r = self.vp(*args)
            line = self.fails(r, "hosts 'h1' and 'h2' are one libvirt daemon",
                              "list each host once", rc=2)
            self.assertTrue(line.startswith(PREFIX + manifest + ":4:"), line)
            self.assertEqual(self.virsh("domuuid", "solo").strip(), uuid)
            self.assertIn("solo.qcow2", self.vol_names("default"))
        self.ok(self.vp("destroy", self.lab("one.yaml", "  - name: solo\n")))

    def test_bases_by_content(self):
        """A local base is its content's volume, never one of its file name."""
        local = os.path.join(self.work, "debian.qcow2")
        run([self.vp_bin, "image", local, "--size", "32M", "--preallocation", "off"])
        # Another guest's writable disk has the base file's name.
        victim = self.vol_create("default", "debian.qcow2")
        self.define("victim2", [victim])
        before = H.sha256(victim)
        manifest = self.lab("base.yaml", "  - name: ovl\n    base: ./debian.qcow2\n")
        self.forget("ovl")
        self.addCleanup(self.virsh, "vol-delete", "ovl.qcow2", "--pool", "default",
                        check=False)
        self.ok(self.vp("apply", manifest))
        made = [v for v in self.vol_names("default") if re.fullmatch(
            r"debian-[0-9a-f]{12}\.qcow2", v)]
        self.assertEqual(len(made), 1, self.vol_names("default"))
        name = made[0]
        self.addCleanup(self.virsh, "vol-delete", name, "--pool", "default", check=False)
        info = qemuimg.info(os.path.join(self.pools["default"], "ovl.qcow2"),
                            force_share=True)
        self.assertEqual(info["full-backing-filename"],
                         os.path.join(self.pools["default"], name))
        self.assertEqual(H.sha256(victim), before)
        # The record holds the base with its digest, and a salt.
        meta = self.virsh("metadata", "ovl", "--uri", NS)
        rec = ET.fromstring(meta)
        base_el = rec.find("base")
        self.assertEqual(base_el.text, "default/" + name)
        self.assertTrue(base_el.get("sha256", "").startswith(name[7:19]), meta)
        # A re-apply keeps the guest and uploads nothing.
        mtime = os.stat(os.path.join(self.pools["default"], name)).st_mtime_ns
        r, guests = self.json_run("apply", manifest)
        self.assertEqual(r.returncode, 0, self.desc(r))
        self.assertEqual(guests["ovl"]["action"], "keep")
        self.assertEqual(os.stat(os.path.join(self.pools["default"], name)).st_mtime_ns,
                         mtime)
        # A volume of the digest name that is a domain's disk is no base.
        self.ok(self.vp("destroy", manifest))
        self.define("squatter", [os.path.join(self.pools["default"], name)])
        r, guests = self.json_run("apply", manifest)
        self.assertEqual(r.returncode, 1, self.desc(r))
        self.assertEqual(guests["ovl"]["action"], "conflict", self.desc(r))
        self.assertIn("volume 'default/%s' of its name is a disk of domain "
                      "'squatter'" % name, guests["ovl"]["error"])
        self.assertNotIn("ovl", self.domains())

    def test_salted_hashes(self):
        """Each guest of an entry has its own salt and salted options hash."""
        manifest = self.lab("salt.yaml", "  - name: sa\n    count: 2\n")
        for g in ("sa-1", "sa-2"):
            self.forget(g)
            self.addCleanup(self.virsh, "vol-delete", g + ".qcow2", "--pool", "default",
                            check=False)
        self.ok(self.vp("apply", manifest))
        recs = [ET.fromstring(self.virsh("metadata", g, "--uri", NS))
                for g in ("sa-1", "sa-2")]
        salts = [r.find("salt") for r in recs]
        self.assertTrue(all(x is not None and len(x.text) == 32 for x in salts), salts)
        self.assertNotEqual(salts[0].text, salts[1].text)
        hashes = [r.find("options-hash").text for r in recs]
        self.assertNotEqual(hashes[0], hashes[1])
        # Still the same options: a re-apply keeps both.
        r, guests = self.json_run("apply", manifest)
        self.assertEqual((r.returncode, {g["action"] for g in guests.values()}),
                         (0, {"keep"}), self.desc(r))

    def test_state_behind_the_labs_back(self):
        """A deleted disk is drift; destroy finishes with what is gone."""
        manifest = self.lab("state.yaml", "  - name: st\n    count: 2\n")
        self.forget("st-1")
        self.forget("st-2")
        self.ok(self.vp("apply", manifest))
        self.virsh("vol-delete", "st-1.qcow2", "--pool", "default")
        for args in (("status", manifest), ("apply", manifest)):
            r, guests = self.json_run(*args)
            self.assertEqual(r.returncode, 1, self.desc(r))
            self.assertEqual(guests["st-1"]["action"], "drift", self.desc(r))
            self.assertIn("'default/st-1.qcow2'", guests["st-1"]["error"])
            self.assertIn("--replace", guests["st-1"]["error"])
            self.assertEqual(guests["st-2"]["action"], "keep", self.desc(r))
        r, guests = self.json_run("destroy", manifest)
        self.assertEqual(r.returncode, 0, self.desc(r))
        self.assertEqual(guests["st-1"]["action"], "delete")
        self.assertIn("volumes gone already: 'default/st-1.qcow2'",
                      guests["st-1"]["note"])
        self.assertNotIn("st-1", self.domains())
        self.assertNotIn("st-2.qcow2", self.vol_names("default"))
        # A record naming a pool that is gone: destroy still finishes.
        gone = os.path.join(self.work, "pool-gone")
        os.mkdir(gone)
        os.chown(gone, self.uid, self.gid)
        self.virsh("pool-define-as", "gone", "dir", "--target", gone)
        self.virsh("pool-start", "gone")
        manifest = self.lab("gone.yaml", "  - name: lost\n    pool: gone\n")
        self.forget("lost")
        self.ok(self.vp("apply", manifest))
        self.virsh("vol-delete", "lost.qcow2", "--pool", "gone")
        self.virsh("pool-destroy", "gone")
        self.virsh("pool-undefine", "gone")
        r, guests = self.json_run("destroy", manifest)
        self.assertEqual(r.returncode, 0, self.desc(r))
        self.assertIn("'gone/lost.qcow2'", guests["lost"]["note"])
        self.assertNotIn("lost", self.domains())
        r, guests = self.json_run("destroy", manifest)
        self.assertEqual((r.returncode, guests), (0, {}), self.desc(r))

    def test_swapped_domain(self):
        """A domain swapped in between reading and removal is not removed."""
        manifest = self.lab("swap.yaml", "  - name: sw\n")
        self.forget("sw")
        self.ok(self.vp("apply", manifest))
        old_uuid = self.virsh("domuuid", "sw").strip()
        self.virsh("vol-delete", "sw.qcow2", "--pool", "default")
        newcomer = self.vol_create("default", "sw.qcow2")
        before = H.sha256(newcomer)
        swap = os.path.join(self.work, "swap.xml")
        with open(swap, "w") as f:
            f.write(domain_xml("sw", [newcomer]))
        # When the removal asks for its domain by UUID, sw is another domain.
        commands = os.path.join(self.work, "swap.gdb")
        with open(commands, "w") as f:
            f.write("set pagination off\nset breakpoint pending on\n"
                    "break vp_virt_domain_defs_by_uuid\nrun\n"
                    "shell virsh -q -c '%s' undefine sw\n"
                    "shell virsh -q -c '%s' define '%s'\n"
                    "delete\ncontinue\n" % (self.uri, self.uri, swap))
        argv = ["gdb", "-q", "-batch", "-x", commands, "--args", self.vp_bin, "--json",
                "destroy", manifest]
        r = run(argv, check=False, timeout=300, env=self.vp_env)
        r.argv = argv
        self.assertIn("Breakpoint 1, vp_virt_domain_defs_by_uuid", r.stdout, self.desc(r))
        doc = json.loads(r.stdout[r.stdout.index('{\n  "lab"'):r.stdout.rindex("}") + 1])
        sw = {g["name"]: g for g in doc["guests"]}["sw"]
        self.assertIn("sw", self.domains(), self.desc(r))
        self.assertNotEqual(self.virsh("domuuid", "sw").strip(), old_uuid)
        self.assertTrue(os.path.exists(newcomer), self.desc(r))
        self.assertEqual(H.sha256(newcomer), before)
        self.assertEqual(sw.get("note"), "the domain was gone already; its volumes were "
                                         "left alone", self.desc(r))


if __name__ == "__main__":
    unittest.main(verbosity=2)
