#!/usr/bin/env python3
"""Integration tests of `virt-provision convert --domain` and `attach` against
a real libvirtd.

As tests/provision.py: setUpClass starts an isolated session libvirtd with
tests/libvirt/session-daemon.sh under a short /tmp/vpd.XXXXXXXX directory,
reached through its qemu+unix:// URI; the guest kit comes from
tests/guest/make-guest-kit.sh (cached in $VP_GUEST_KIT_DIR when set); the tool
runs as root with XDG_DATA_HOME set to the daemon's and XDG_STATE_HOME under
the test directory (where attach/convert keep the previous definitions).  All
volumes live in the dir pool `vpt` (autostarted, so it survives a daemon
restart).

Cases:
  a1  a TCG guest writes patterns onto a raw disk; convert --domain switches
      it to a new qcow2 volume: the inactive XML differs only in that disk's
      type, driver type and source file; qemu-img compare raw vs qcow2
      identical; the new image is fully mapped, metadata-preallocated and
      check-clean; the previous definition is kept; a second boot verifies
      the patterns through the qcow2 disk (VP-VERIFY-OK on a file console)
      without allocating a cluster.
  a2  convert --domain with --cluster-size 2M --compat 0.10, and with
      --extended-l2: the new disk holds the data, or the option is refused.
  b1  attach to a shut-off guest: target vdb, volume DOM-vdb.qcow2 that
      libvirt reports as qcow2, XML otherwise unchanged.
  b2  target choice: vdb, vdc, vde taken -> vdd; --disk-bus sata -> sda,
      then scsi -> sdb (sd names are shared); --target given and free; given
      and taken -> error, nothing changed.
  b3  attach --live, two kinds of evidence:
        - the guest: a diskless kit guest booted with vp.action=write waits
          up to 10 s for /dev/vda; the disk hot-plugged meanwhile becomes its
          vda, the guest writes its patterns onto it (VP-WRITE-OK) and they
          are on the volume (qemu-io, from the host);
        - qemu: on a guest that stays up (SeaBIOS finds nothing to boot and
          retries), `virsh domblklist` of the live domain and
          `qemu-monitor-command --hmp 'info block'` show the new volume.
  c1  --print-diff of attach and of convert: a unified diff with the
      expected -/+ lines, and nothing changed (XML, vol-list, pool
      directory, no backup written).
  d1-d7  failures, each leaving `virsh dumpxml --inactive D`, `vol-list vpt`
      and the pool directory exactly as before, with a non-zero exit and one
      `virt-provision:` line: disk target not found, domain running,
      destination volume name taken, --live on a shut-off domain, SIGINT
      during a 3 GiB copy (undone, then killed by SIGINT), libvirtd killed
      (kill -9 + restart)
      during the copy (the tool reconnects to undo), and qemu refusing the
      hot-plug after the redefine (IDE on a running pc guest).
  e1  a qcow2 disk whose <backingStore> disagrees with the image header (another
      file, another format, an empty <backingStore/> although the header names
      a backing file, a level the image does not have): refused (exit 2),
      nothing changed.
  e2  a <backingStore> that agrees with the header: converted, the new volume
      identical to the whole chain and self-contained.
  f1  the previous definition is saved 0600 in a 0700 directory, even with
      umask 0 (it holds the definition's secure data).
  f2  a state directory where no backup can be written: attach and convert
      fail with exit 1 before any redefine (no "redefining" step), leaving
      the definition and the pool as they were.
  f3  the guest started during convert's copy (the tool stopped with SIGSTOP
      once it announced the upload, `virsh start`, SIGCONT): exit 1, the new
      volume undone, the definition and the pool as before.

The binary comes from $VP_BIN.  Nothing is skipped: a missing tool, binary,
daemon or kit is a failure.  Per-case timings go to stderr.
"""

import json
import os
import signal
import sys
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import qemuimg as qi  # noqa: E402
import libvirt_harness as H  # noqa: E402
from libvirt_harness import run  # noqa: E402

EXAMPLE_DOMAIN = os.path.join(HERE, "guest", "example-domain.xml")
POOL = "vpt"
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
log = H.logger("domain_ops.py")


def canon(elem):
    return ET.canonicalize(ET.tostring(elem, encoding="unicode"), strip_text=True)


def disk_by_target(root, target):
    for d in root.findall("devices/disk"):
        t = d.find("target")
        if t is not None and t.get("dev") == target:
            return d
    return None


class DomainOps(H.LibvirtTestCase):
    log = staticmethod(log)
    TMP_PREFIX = "vpd."
    NEEDED = ["virsh", "qemu-img", "qemu-io", "setpriv", "libvirtd", "qemu-system-x86_64"]
    PACKAGES = ["libvirt-daemon", "libvirt-clients", "libvirt-daemon-driver-qemu",
                "qemu-system-x86", "qemu-utils"]
    STATE_POLL = 0.3
    # the step lines of -v
    STEPS = ("connected to", "copying", "creating volume", "uploading",
             "redefining domain", "hot-plugging", "deleting the source volume",
             "undoing what this run",
             "still waiting for", "waited ")

    # ------------------------------------------------------------------
    # class set-up (daemon, kit, users: libvirt_harness)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.state_home = os.path.join(cls.tmp, "state")
        cls.backups = os.path.join(cls.state_home, "virt-provision")
        cls.vp_env = H.child_env({"XDG_DATA_HOME": os.path.join(cls.dir, "data"),
                                  "XDG_STATE_HOME": cls.state_home})

        virsh = ["virsh", "-q", "-c", cls.uri]
        run(virsh + ["pool-define-as", POOL, "dir", "--target", cls.images])
        run(virsh + ["pool-autostart", POOL])
        run(virsh + ["pool-start", POOL])

    # ------------------------------------------------------------------
    # helpers (virsh, desc, ok, fails, domstate, wait_state, forget,
    # define_xml, console_to_file, vp_lines, ...: libvirt_harness)

    def vp(self, cmd, args, json_out=False, verbose=False, timeout=300, env=None):
        argv = [self.vp_bin, "-c", self.uri]
        if json_out:
            argv.append("--json")
        if verbose:
            argv.append("-v")
        argv += [cmd] + list(args)
        r = run(argv, check=False, timeout=timeout, env=env or self.vp_env)
        r.argv = argv
        return r

    def inactive_xml(self, dom):
        return self.virsh("dumpxml", "--inactive", dom)

    def vols(self):
        self.virsh("pool-refresh", POOL)   # see files behind libvirt's back
        return sorted(l.split()[0] for l in self.virsh("vol-list", POOL).splitlines()
                      if l.split())

    def definition(self, dom):
        """The persistent definition, with <controller>s in one order: a
        restarted libvirtd reloads the XML and lists its controllers by
        type and index, which changes no setting (seen when the domain has
        a virtio-serial controller for the guest agent channel)."""
        text = self.inactive_xml(dom)
        root = ET.fromstring(text)
        devs = root.find("devices")
        ctrls = devs.findall("controller")
        for c in ctrls:
            devs.remove(c)
        for c in sorted(ctrls, key=lambda c: (c.get("type"), int(c.get("index", "0")))):
            devs.append(c)
        return ET.tostring(root, encoding="unicode")

    def state(self, dom):
        """What a failed or --print-diff run must leave exactly as it was."""
        backups = sorted(os.listdir(self.backups)) if os.path.isdir(self.backups) else []
        return {"xml": self.definition(dom), "vols": self.vols(),
                "dir": sorted(os.listdir(self.images)),
                "domains": sorted(self.virsh("list", "--all", "--name").split()),
                "backups": backups}

    def kernel_args(self, action):
        return ["--kernel", os.path.join(self.kit, "vmlinuz"),
                "--initrd", os.path.join(self.kit, "initrd.img"),
                "--cmdline", "console=ttyS0 panic=-1 vp.action=%s" % action]

    def provision(self, name, size, extra, fmt="raw", forget=True):
        """A guest on a new volume of the pool; returns the volume path."""
        if forget:
            self.forget(name)
        args = ["--pool", POOL, "--name", name, "--size", size,
                "--virt-type", "qemu", "--memory", "256", "--vcpus", "1",
                "--network", "none"]
        if fmt == "raw":
            args += ["--format", "raw"]
        r = self.ok(self.vp("provision", args + list(extra), json_out=True))
        return json.loads(r.stdout)["volume"]["path"]

    def check_patterns(self, path, fmt):
        size = qi.info(path, fmt=fmt)["virtual-size"]
        r = run([os.path.join(self.kit, "pattern-offsets.sh"), str(size)])
        regions = [l.split() for l in r.stdout.splitlines()]
        self.assertEqual(len(regions), 3, r.stdout)
        for rname, off, byte in regions:
            res = qi.qemu_io(path, ["read -P %s %s 1M" % (byte, off)], fmt=fmt)
            self.assertTrue(qi.io_ok(res), "pattern %s (%s at %s) not on %s:\n%s"
                            % (rname, byte, off, path, res.describe()))

    def assert_preallocated(self, path):
        """check clean, every cluster mapped in this file, info says metadata;
        returns qemu-img check's JSON."""
        rc, chk = qi.check(path, fmt="qcow2")
        self.assertEqual(rc, 0, chk)
        for k in ("corruptions", "leaks", "check-errors"):
            self.assertEqual(chk.get(k, 0), 0, chk)
        self.assertEqual(chk["allocated-clusters"], chk["total-clusters"], chk)
        unmapped = [e for e in qi.img_map(path, fmt="qcow2")
                    if "offset" not in e or e.get("depth", 0) != 0]
        self.assertEqual(unmapped, [], "%s: clusters without a host offset" % path)
        r = run([self.vp_bin, "--json", "info", path])
        self.assertEqual(json.loads(r.stdout)["preallocation"], "metadata", r.stdout)
        return chk

    def vol_format(self, name):
        x = ET.fromstring(self.virsh("vol-dumpxml", "--pool", POOL, name))
        return x.find("target/format").get("type"), int(x.findtext("capacity"))

    def without_disk(self, xml_text, target):
        root = ET.fromstring(xml_text)
        devs = root.find("devices")
        d = disk_by_target(root, target)
        self.assertIsNotNone(d, "no disk %s in\n%s" % (target, xml_text))
        devs.remove(d)
        return canon(root)

    # ------------------------------------------------------------------
    # a: convert a real guest's raw disk

    @H.boots_guest
    def test_a1_convert_real_guest(self):
        name = "vpt-conv"
        old = self.provision(name, "64M", self.kernel_args("write") + ["--start"])
        self.assertTrue(old.endswith("/vpt-conv.img"), old)
        t = time.monotonic()
        self.wait_state(name, "shut off", 120)
        log("write boot: %.1f s to shut off" % (time.monotonic() - t))
        self.check_patterns(old, "raw")

        # the verify boot's definition first, so that the comparison below
        # sees only what convert changed
        console = os.path.join(self.work, "verify.log")
        root = ET.fromstring(self.inactive_xml(name))
        cmd = root.find("os/cmdline")
        cmd.text = cmd.text.replace("vp.action=write", "vp.action=verify")
        self.console_to_file(root, console)
        self.define_xml(root, name)
        before = self.inactive_xml(name)
        vols_before = self.vols()

        r = self.ok(self.vp("convert", ["--domain", name], json_out=True))
        j = json.loads(r.stdout)
        new = os.path.join(self.images, "vpt-conv.qcow2")
        self.assertEqual((j["domain"], j["target"], j["changed"], j["source-path"],
                          j["source-format"], j["source-deleted"]),
                         (name, "vda", True, old, "raw", False), j)
        self.assertEqual((j["volume"]["pool"], j["volume"]["name"], j["volume"]["path"],
                          j["volume"]["capacity"], j["volume"]["format"],
                          j["volume"]["preallocation"]),
                         (POOL, "vpt-conv.qcow2", new, 64 * MiB, "qcow2", "metadata"), j)

        # the definition: only that disk's type, driver type and source file
        after = self.inactive_xml(name)
        a, b = ET.fromstring(before), ET.fromstring(after)
        da, db = disk_by_target(a, "vda"), disk_by_target(b, "vda")
        self.assertEqual((da.get("type"), da.find("driver").get("type"),
                          da.find("source").get("file")), ("file", "raw", old))
        self.assertEqual((db.get("type"), db.find("driver").get("type"),
                          db.find("source").get("file")), ("file", "qcow2", new))
        for d in (da, db):
            d.attrib.pop("type")
            d.find("driver").attrib.pop("type")
            d.find("source").attrib.pop("file")
        self.assertEqual(canon(a), canon(b), "convert changed more than the disk:\n"
                         "--- before\n%s\n--- after\n%s" % (before, after))
        # the previous definition is kept
        self.assertTrue(os.path.isfile(j["previous-definition"]), j)
        self.assertTrue(j["previous-definition"].startswith(self.backups + "/"), j)
        with open(j["previous-definition"]) as f:
            self.assertEqual(canon(ET.fromstring(f.read())), canon(ET.fromstring(before)))
        self.assertEqual(self.vols(), sorted(vols_before + ["vpt-conv.qcow2"]))
        self.assertEqual(self.vol_format("vpt-conv.qcow2"), ("qcow2", 64 * MiB))

        # the bytes
        cmp_ = qi.compare(old, new, fmt_a="raw", fmt_b="qcow2")
        self.assertEqual(cmp_.rc, 0, cmp_.describe())
        chk = self.assert_preallocated(new)
        length = os.stat(new).st_size
        self.assertEqual(chk["image-end-offset"], length)
        self.assertLess(os.stat(new).st_blocks * 512, 8 * MiB,
                        "the data area is not sparse")

        # the guest verifies its patterns through the qcow2 disk
        self.boot_until_off(name, console, "VP-VERIFY-OK", "verify")
        self.assertEqual(os.stat(new).st_size, length, "the guest grew the file")
        self.assertEqual(self.assert_preallocated(new)["image-end-offset"], length)

    def test_a2_convert_disk_options(self):
        # DISK options convert accepts with --domain must keep the data, or
        # be refused with nothing changed.
        for opts in (["--cluster-size", "2M", "--compat", "0.10"], ["--extended-l2"]):
            name = "vpt-opt%d" % len(opts)
            old = self.provision(name, "16M", ["--import"])
            res = qi.qemu_io(old, ["write -P 0x5a 0 1M", "write -P 0xa5 15M 1M"],
                             fmt="raw")
            self.assertTrue(qi.io_ok(res), res.describe())
            before = self.state(name)
            r = self.vp("convert", ["--domain", name] + opts, json_out=True)
            if r.returncode != 0:
                self.fails(r)
                self.assertEqual(self.state(name), before)
                continue
            new = json.loads(r.stdout)["volume"]["path"]
            cmp_ = qi.compare(old, new, fmt_a="raw", fmt_b="qcow2")
            self.assertEqual(cmp_.rc, 0, "convert --domain %s accepted, but the guest's "
                             "disk lost its data:\n%s\n%s"
                             % (" ".join(opts), self.desc(r), cmp_.describe()))
            self.assert_preallocated(new)

    # ------------------------------------------------------------------
    # b: attach

    def test_b1_attach_shut_off(self):
        name = "vpt-att"
        self.provision(name, "16M", ["--import", "--machine", "pc"])
        before = self.inactive_xml(name)
        vols_before = self.vols()
        r = self.ok(self.vp("attach", ["--domain", name, "--pool", POOL, "--size", "32M"],
                            json_out=True))
        j = json.loads(r.stdout)
        path = os.path.join(self.images, "vpt-att-vdb.qcow2")
        self.assertEqual((j["domain"], j["target"], j["changed"], j["live"]),
                         (name, "vdb", True, False), j)
        self.assertEqual((j["volume"]["name"], j["volume"]["path"],
                          j["volume"]["capacity"], j["volume"]["format"]),
                         ("vpt-att-vdb.qcow2", path, 32 * MiB, "qcow2"), j)
        self.assertEqual(self.vols(), sorted(vols_before + ["vpt-att-vdb.qcow2"]))
        self.assertEqual(self.vol_format("vpt-att-vdb.qcow2"), ("qcow2", 32 * MiB))
        after = self.inactive_xml(name)
        d = disk_by_target(ET.fromstring(after), "vdb")
        self.assertIsNotNone(d, after)
        self.assertEqual((d.get("type"), d.get("device"), d.find("driver").get("type"),
                          d.find("source").get("file"), d.find("target").get("bus")),
                         ("file", "disk", "qcow2", path, "virtio"), after)
        self.assertEqual(self.without_disk(after, "vdb"), canon(ET.fromstring(before)),
                         "attach changed more than adding vdb:\n%s" % after)
        self.assertTrue(os.path.isfile(j["previous-definition"]), j)
        self.assert_preallocated(path)

    def test_b2_attach_targets(self):
        name = "vpt-tgt"
        self.provision(name, "16M", ["--import", "--machine", "pc"])
        for t in ("vdb", "vdc", "vde"):
            f = os.path.join(self.work, "%s-%s.img" % (name, t))
            with open(f, "wb") as fh:
                fh.truncate(MiB)
            self.virsh("attach-disk", name, f, t, "--config", "--driver", "qemu",
                       "--subdriver", "raw")

        def attach(*extra):
            r = self.ok(self.vp("attach", ["--domain", name, "--pool", POOL, "--size",
                                           "8M"] + list(extra), json_out=True))
            j = json.loads(r.stdout)
            d = disk_by_target(ET.fromstring(self.inactive_xml(name)), j["target"])
            self.assertIsNotNone(d, j)
            self.assertEqual(d.find("source").get("file"), j["volume"]["path"])
            self.assertEqual(j["volume"]["name"], "%s-%s.qcow2" % (name, j["target"]))
            self.assertEqual(self.vol_format(j["volume"]["name"])[0], "qcow2")
            return j["target"], d.find("target").get("bus")

        self.assertEqual(attach(), ("vdd", "virtio"))
        self.assertEqual(attach(), ("vdf", "virtio"))
        self.assertEqual(attach("--disk-bus", "sata"), ("sda", "sata"))
        self.assertEqual(attach("--disk-bus", "scsi"), ("sdb", "scsi"))
        self.assertEqual(attach("--target", "vdx"), ("vdx", "virtio"))

        # --target taken: an error, nothing changed
        for t in ("vdc", "sda"):
            before = self.state(name)
            line = self.fails(self.vp("attach", ["--domain", name, "--pool", POOL,
                                                 "--size", "8M", "--target", t]),
                              "already has a disk", t, rc=1)
            self.assertEqual(self.state(name), before, line)

    @H.boots_guest
    def test_b3_attach_live_guest_sees_disk(self):
        # Evidence 1: the guest.  A diskless kit guest with vp.action=write
        # waits up to 10 s for /dev/vda: the disk hot-plugged meanwhile is
        # the one it writes its patterns onto.
        name = "vpt-live"
        self.forget(name)
        console = os.path.join(self.work, "live.log")
        with open(EXAMPLE_DOMAIN) as f:
            text = f.read()
        text = (text.replace("@NAME@", name).replace("@KIT@", self.kit)
                .replace("@ACTION@", "write").replace("@CONSOLE@", console))
        root = ET.fromstring(text)
        devs = root.find("devices")
        for d in devs.findall("disk"):
            devs.remove(d)
        self.define_xml(root, name)
        t = time.monotonic()
        self.virsh("start", name)
        end = time.monotonic() + 60
        while not any(l.startswith("VP-INIT") for l in self.vp_lines(console)):
            if time.monotonic() > end or self.domstate(name) != "running":
                self.fail("the guest printed no VP-INIT: %s" % self.vp_lines(console))
            time.sleep(0.1)
        log("live guest: VP-INIT after %.1f s" % (time.monotonic() - t))
        r = self.ok(self.vp("attach", ["--domain", name, "--pool", POOL, "--size", "64M",
                                       "--live"], json_out=True))
        j = json.loads(r.stdout)
        path = os.path.join(self.images, "vpt-live-vda.qcow2")
        self.assertEqual((j["target"], j["live"], j["volume"]["path"]),
                         ("vda", True, path), j)
        # qemu's view, while the guest is still writing (best effort here:
        # it may already have powered off; b3's second guest makes it sure)
        blk = self.virsh("domblklist", name, check=False)
        log("live guest: domblklist right after attach (%s): %r"
            % (self.domstate(name), blk.stdout.strip()))
        self.wait_state(name, "shut off", 60)
        log("live guest: shut off %.1f s after start" % (time.monotonic() - t))
        lines = self.vp_lines(console)
        self.assertIn("VP-WRITE-OK", lines, lines)
        self.assertFalse([l for l in lines if "FAIL" in l], lines)
        self.check_patterns(path, "qcow2")
        chk = self.assert_preallocated(path)
        self.assertEqual(chk["image-end-offset"], os.stat(path).st_size)
        # the persistent definition has it too
        d = disk_by_target(ET.fromstring(self.inactive_xml(name)), "vda")
        self.assertEqual(d.find("source").get("file"), path)

        # Evidence 2: qemu.  SeaBIOS finds nothing to boot on a blank disk
        # and retries, so this guest stays up.
        name = "vpt-bios"
        self.provision(name, "8M", ["--import", "--machine", "pc", "--start"])
        time.sleep(1)
        self.assertEqual(self.domstate(name), "running")
        r = self.ok(self.vp("attach", ["--domain", name, "--pool", POOL, "--size", "16M",
                                       "--live"], json_out=True))
        j = json.loads(r.stdout)
        path = os.path.join(self.images, "vpt-bios-vdb.qcow2")
        self.assertEqual((j["target"], j["live"], j["volume"]["path"]),
                         ("vdb", True, path), j)
        self.assertEqual(self.domstate(name), "running")
        live = {l.split()[0]: l.split()[1] for l in
                self.virsh("domblklist", name).splitlines() if l.split()}
        self.assertEqual(live.get("vdb"), path, live)
        block = self.virsh("qemu-monitor-command", "--hmp", name, "info block")
        self.assertIn(path, block, block)
        self.assertIn("qcow2", [l for l in block.splitlines() if path in l][0], block)
        d = disk_by_target(ET.fromstring(self.inactive_xml(name)), "vdb")
        self.assertEqual(d.find("source").get("file"), path)
        self.virsh("destroy", name)

    # ------------------------------------------------------------------
    # c: --print-diff changes nothing

    def test_c1_print_diff(self):
        name = "vpt-diff"
        old = self.provision(name, "16M", ["--import", "--machine", "pc"])
        before = self.state(name)

        r = self.ok(self.vp("attach", ["--domain", name, "--pool", POOL, "--size", "8M",
                                       "--print-diff"]))
        self.assertEqual(self.state(name), before, self.desc(r))
        lines = r.stdout.splitlines()
        self.assertEqual(lines[:2], ["--- %s (defined)" % name, "+++ %s (new)" % name],
                         r.stdout)
        self.assertTrue(lines[2].startswith("@@ "), r.stdout)
        added = [l[1:].strip() for l in lines if l.startswith("+") and not
                 l.startswith("+++")]
        self.assertFalse([l for l in lines if l.startswith("-") and not
                          l.startswith("---")], r.stdout)
        self.assertEqual(added, [
            '<disk type="file" device="disk">',
            '<driver name="qemu" type="qcow2" cache="none" io="native"/>',
            '<source file="%s/%s-vdb.qcow2"/>' % (self.images, name),
            '<target dev="vdb" bus="virtio"/>',
            '</disk>'], r.stdout)

        r = self.ok(self.vp("convert", ["--domain", name, "--print-diff"]))
        self.assertEqual(self.state(name), before, self.desc(r))
        lines = r.stdout.splitlines()
        self.assertEqual(lines[:2], ["--- %s (defined)" % name, "+++ %s (new)" % name],
                         r.stdout)
        minus = [l[1:].strip() for l in lines if l.startswith("-") and not
                 l.startswith("---")]
        plus = [l[1:].strip() for l in lines if l.startswith("+") and not
                l.startswith("+++")]
        self.assertEqual(minus, ['<driver name="qemu" type="raw" cache="none" io="native"/>',
                                 '<source file="%s"/>' % old], r.stdout)
        self.assertEqual(plus, ['<driver name="qemu" type="qcow2" cache="none" io="native"/>',
                                '<source file="%s/%s.qcow2"/>' % (self.images, name)],
                         r.stdout)

        # --json --print-diff: the same diff, changed false
        r = self.ok(self.vp("convert", ["--domain", name, "--print-diff"], json_out=True))
        j = json.loads(r.stdout)
        self.assertEqual((j["changed"], j["diff"]), (False, "\n".join(lines) + "\n"), j)
        self.assertEqual(self.state(name), before)

    # ------------------------------------------------------------------
    # d: failures leave the definition and the pool as they were

    def failing(self, dom, cmd, args, *must, rc=None):
        before = self.state(dom)
        line = self.fails(self.vp(cmd, args), *must, rc=rc)
        self.assertEqual(self.state(dom), before, line)
        return line

    def test_d1_convert_disk_not_found(self):
        name = "vpt-nodisk"
        self.provision(name, "8M", ["--import"])
        self.failing(name, "convert", ["--domain", name, "--disk", "vdz"],
                     "no disk at target 'vdz'", "vda", rc=2)

    def test_d2_convert_running(self):
        name = "vpt-run"
        self.provision(name, "8M", ["--import", "--machine", "pc", "--start"])
        self.assertEqual(self.domstate(name), "running")
        self.failing(name, "convert", ["--domain", name], "running", name, rc=2)
        self.assertEqual(self.domstate(name), "running")

    def test_d3_convert_destination_taken(self):
        name = "vpt-taken"
        self.provision(name, "8M", ["--import"])
        self.virsh("vol-create-as", POOL, name + ".qcow2", "1M", "--format", "qcow2")
        dst = os.path.join(self.images, name + ".qcow2")
        st = os.stat(dst)
        self.failing(name, "convert", ["--domain", name], "already exists",
                     name + ".qcow2", rc=1)
        st2 = os.stat(dst)
        self.assertEqual((st2.st_ino, st2.st_size, st2.st_mtime_ns),
                         (st.st_ino, st.st_size, st.st_mtime_ns))

    def test_d4_attach_live_shut_off(self):
        name = "vpt-nolive"
        self.provision(name, "8M", ["--import"])
        self.failing(name, "attach", ["--domain", name, "--pool", POOL, "--size", "8M",
                                      "--live"], "--live", "shut off", rc=2)

    def test_d7_attach_hotplug_rejected(self):
        # Defined, then qemu refuses the hot-plug (IDE): the definition is
        # restored and the volume removed; the running guest keeps its disks.
        name = "vpt-ide"
        self.provision(name, "8M", ["--import", "--machine", "pc", "--start"])
        live = self.virsh("domblklist", name)
        self.failing(name, "attach", ["--domain", name, "--pool", POOL, "--size", "8M",
                                      "--live", "--disk-bus", "ide"],
                     "hot-plug", rc=1)
        self.assertEqual(self.virsh("domblklist", name), live)
        self.assertEqual(self.domstate(name), "running")

    def big_domain(self):
        """A shut-off guest on a raw 3 GiB disk full of non-zero data, made
        once: the copy takes seconds."""
        cls = type(self)
        name = "vpt-big"
        if getattr(cls, "big_path", None) is None:
            t = time.monotonic()
            path = self.provision(name, "3G", ["--import"], forget=False)
            block = os.urandom(MiB)
            with open(path, "r+b") as f:
                for _ in range(3 * 1024):
                    f.write(block)
            cls.big_path = path
            log("3 GiB source written in %.1f s" % (time.monotonic() - t))
        return name, cls.big_path

    def interrupted(self, action, delay, want_rc, *must):
        name, path = self.big_domain()
        before = self.state(name)
        rc, out, t, _ = self.run_interrupted("convert", ["--domain", name], action, delay, 120)
        log("%s: exit %d %.1f s after the interruption"
            % (self._testMethodName, rc, time.monotonic() - t))
        what = self.bg_desc(rc, out)
        if rc == 0:
            # the copy won the race: put things back for the next case
            self.virsh("define", self.latest_backup(name))
            self.virsh("vol-delete", "--pool", POOL, name + ".qcow2", check=False)
            self.fail("the copy finished before it could be interrupted\n" + what)
        self.interrupted_error(rc, out, want_rc, *must)
        # the new volume existed, and was undone
        self.assertTrue([l for l in out["stderr"] if "undoing what this run" in l], what)
        self.assertEqual(self.state(name), before, what)
        self.assertEqual(self.domstate(name), "shut off")

    def latest_backup(self, name):
        files = sorted(f for f in os.listdir(self.backups) if f.startswith(name + "-"))
        return os.path.join(self.backups, files[-1])

    def test_d5_sigint_during_copy(self):
        self.interrupted(lambda p: p.send_signal(signal.SIGINT), 0.3, -signal.SIGINT,
                         "interrupt")

    def test_d6_daemon_killed_during_copy(self):
        self.interrupted(self.restart_daemon, 0.3, None, "vpt-big.qcow2")


    # ------------------------------------------------------------------
    # e: a disk's <backingStore> must agree with its image's header

    def chain_domain(self, name):
        """A domain NAME whose vda will be the qcow2 TOP over the qcow2 BASE
        (both in the pool), and OTHER, a qcow2 of the same size; returns
        (top, base, other)."""
        self.provision(name, "8M", ["--import"])
        paths = [os.path.join(self.images, "%s-%s.qcow2" % (name, w))
                 for w in ("top", "base", "other")]
        for p in paths:
            self.addCleanup(lambda p=p: os.path.exists(p) and os.unlink(p))
        top, base, other = paths
        qi.create(base, 16 * MiB)
        qi.create(other, 16 * MiB)
        res = qi.qemu_io(base, ["write -P 0x11 0 1M", "write -P 0x12 15M 1M"],
                         fmt="qcow2")
        self.assertTrue(qi.io_ok(res), res.describe())
        qi.create(top, 16 * MiB, backing=base, backing_fmt="qcow2")
        res = qi.qemu_io(top, ["write -P 0x21 8M 64k"], fmt="qcow2")
        self.assertTrue(qi.io_ok(res), res.describe())
        self.virsh("pool-refresh", POOL)   # volumes of the pool now
        return top, base, other

    @staticmethod
    def backing_store(levels, closed=True):
        """<backingStore> elements for LEVELS [(path, format)], nearest
        first, ended by an empty <backingStore/> when closed."""
        first = last = None
        for path, fmt in levels:
            e = ET.Element("backingStore", type="file")
            ET.SubElement(e, "format", type=fmt)
            ET.SubElement(e, "source", file=path)
            if last is None:
                first = e
            else:
                last.append(e)
            last = e
        if closed:
            end = ET.Element("backingStore")
            if last is None:
                return end
            last.append(end)
        return first

    def set_qcow2_disk(self, name, top, backing):
        """Points NAME's vda at the qcow2 TOP with BACKING as its
        <backingStore>, and checks that libvirt keeps it as given."""
        root = ET.fromstring(self.inactive_xml(name))
        d = disk_by_target(root, "vda")
        d.find("driver").set("type", "qcow2")
        d.find("source").set("file", top)
        for old in d.findall("backingStore"):
            d.remove(old)
        d.insert(list(d).index(d.find("source")) + 1, backing)
        want = canon(backing)
        self.define_xml(root, name)
        kept = disk_by_target(ET.fromstring(self.inactive_xml(name)), "vda")
        self.assertEqual(canon(kept.find("backingStore")), want)

    def test_e1_backing_store_disagrees(self):
        name = "vpt-chain"
        top, base, other = self.chain_domain(name)
        cases = [
            ("another file", [(other, "qcow2")], True, [other, base]),
            ("another format", [(base, "raw")], True, [base, "raw", "qcow2"]),
            ("none stated", [], True, [base, "<backingStore/>"]),
            ("a level too many", [(base, "qcow2"), (other, "qcow2")], True,
             [base, other, "names none"]),
        ]
        for what, levels, closed, words in cases:
            with self.subTest(what):
                self.set_qcow2_disk(name, top, self.backing_store(levels, closed))
                line = self.failing(name, "convert", ["--domain", name], *words,
                                    "<backingStore>", rc=2)
                log("e1 %s: %s" % (what, line))

    def test_e2_backing_store_agrees(self):
        name = "vpt-chainok"
        top, base, _ = self.chain_domain(name)
        self.set_qcow2_disk(name, top, self.backing_store([(base, "qcow2")]))
        r = self.ok(self.vp("convert", ["--domain", name], json_out=True))
        j = json.loads(r.stdout)
        new = j["volume"]["path"]
        self.assertEqual((j["source-path"], j["source-format"], new),
                         (top, "qcow2", os.path.join(self.images,
                                                     name + "-top-prealloc.qcow2")), j)
        cmp_ = qi.compare(top, new, fmt_a="qcow2", fmt_b="qcow2")
        self.assertEqual(cmp_.rc, 0, cmp_.describe())
        self.assertNotIn("backing-filename", qi.info(new, fmt="qcow2"))
        self.assert_preallocated(new)
        d = disk_by_target(ET.fromstring(self.inactive_xml(name)), "vda")
        self.assertEqual((d.find("source").get("file"), d.find("backingStore")),
                         (new, None))

    # ------------------------------------------------------------------
    # f: the previous definition, and a guest started during the copy

    def test_f1_backup_private(self):
        name = "vpt-bak"
        self.provision(name, "8M", ["--import", "--machine", "pc"])
        state = os.path.join(self.tmp, "state-f1")
        env = dict(self.vp_env, XDG_STATE_HOME=state)
        old = os.umask(0)
        try:
            runs = [self.ok(self.vp("attach", ["--domain", name, "--pool", POOL,
                                               "--size", "8M"], json_out=True,
                                    env=env)),
                    self.ok(self.vp("convert", ["--domain", name, "--disk", "vda"],
                                    json_out=True, env=env))]
        finally:
            os.umask(old)
        for r in runs:
            backup = json.loads(r.stdout)["previous-definition"]
            self.assertEqual(os.path.dirname(backup),
                             os.path.join(state, "virt-provision"))
            self.assertEqual(oct(os.stat(backup).st_mode & 0o777), oct(0o600), backup)
            self.assertEqual(oct(os.stat(os.path.dirname(backup)).st_mode & 0o777),
                             oct(0o700), backup)

    def test_f2_backup_fails_before_redefine(self):
        # virt-provision/ cannot be made there, even by root: a file has
        # that name, in a directory without write permission.
        state = os.path.join(self.tmp, "state-f2")
        os.mkdir(state)
        with open(os.path.join(state, "virt-provision"), "w") as f:
            f.write("not a directory\n")
        os.chmod(state, 0o555)
        self.addCleanup(os.chmod, state, 0o755)
        env = dict(self.vp_env, XDG_STATE_HOME=state)
        name = "vpt-nobak"
        self.provision(name, "8M", ["--import", "--machine", "pc"])
        for cmd, args in (("attach", ["--domain", name, "--pool", POOL, "--size", "8M"]),
                          ("convert", ["--domain", name])):
            with self.subTest(cmd):
                before = self.state(name)
                r = self.vp(cmd, args, verbose=True, env=env)
                out = {"stdout": r.stdout, "stderr": r.stderr.splitlines(),
                       "argv": r.argv}
                line = self.interrupted_error(r.returncode, out, 1,
                                              "previous definition")
                log("f2 %s: %s" % (cmd, line))
                what = self.bg_desc(r.returncode, out)
                self.assertFalse([l for l in out["stderr"] if "redefining" in l],
                                 "redefined before the backup was written\n" + what)
                self.assertTrue([l for l in out["stderr"] if "undoing" in l], what)
                self.assertEqual(self.state(name), before, what)

    def test_f3_started_during_copy(self):
        name, path = self.big_domain()
        before = self.state(name)
        self.addCleanup(self.virsh, "destroy", name, check=False)
        p, uploading, out = self.start_bg("convert", ["--domain", name])
        if not uploading.wait(60):
            p.kill()
            self.finish_bg(p, out, 30)
            self.fail("no 'uploading' step within 60 s: %s" % out["stderr"])
        # The tool cannot finish the copy while it is stopped: the guest
        # surely starts during it.
        p.send_signal(signal.SIGSTOP)
        try:
            self.virsh("start", name)
        finally:
            p.send_signal(signal.SIGCONT)
        rc = self.finish_bg(p, out, 300)
        what = self.bg_desc(rc, out)
        self.assertEqual(self.domstate(name), "running", what)
        if rc == 0:
            # put things back for the next case
            self.virsh("destroy", name)
            self.virsh("define", self.latest_backup(name))
            self.virsh("vol-delete", "--pool", POOL, name + ".qcow2", check=False)
            self.fail("convert switched a running guest to a stale copy\n" + what)
        log("f3: %s" % self.interrupted_error(rc, out, 1, "started", name))
        self.assertTrue([l for l in out["stderr"] if "undoing what this run" in l], what)
        self.assertEqual(self.state(name), before, what)
        self.virsh("destroy", name)


if __name__ == "__main__":
    H.main()
