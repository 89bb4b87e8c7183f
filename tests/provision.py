#!/usr/bin/env python3
"""Integration tests of `virt-provision provision` against a real libvirtd
(GitHub issue 3: "Provision a guest in one command against a real libvirtd").

setUpClass starts an isolated session libvirtd with
tests/libvirt/session-daemon.sh (under a short /tmp/vpt.XXXXXXXX directory, as
unix socket paths are limited) and every command reaches it through the
qemu+unix:// URI it prints, i.e. through libvirt's remote protocol.  The class
cleanup purges the daemon and its directory, also when something failed.
The test guest kit comes from tests/guest/make-guest-kit.sh, cached in
$VP_GUEST_KIT_DIR when that is set.

Cases (each stands alone: the ones that need no pool "default" remove one
a case left, those that need it make it, and each removes what it made):
  default_pool_build_fails_is_rolled_back   the default pool cannot be
      built: pool definition rolled back
  dry_run_and_print_xml_create_nothing   --dry-run / --print-xml with no
      default pool create nothing
  sigint_while_creating_default_pool   SIGINT during the upload into a
      default pool this run created
  provision_20g   provision 20G: default pool, volume and domain as libvirt,
      qemu-img and virt-xml-validate see them; --json checked field by field
  no_define_and_dry_runs_with_pool   --no-define creates only the volume;
      --dry-run / --print-xml with a pool
  upload_closed_before_volume_queries   the upload's stream is closed when
      it is committed, before the volume is queried (traced under gdb)
  guest_installs_onto_volume   a TCG guest writes patterns onto the volume
      (checked from the host with qemu-io; no cluster allocated), then
      verifies them in a second boot
  failures: name taken by a volume, a file, a domain; define rejected; start
      rejected; kvm; pool missing; pool inactive; falloc/full larger than
      the pool's free space (a pool on a 64 MiB tmpfs); empty option values
  sigint_mid_upload, sigterm_mid_upload   SIGINT (SIGTERM) during the upload:
      nothing left, then killed by that signal (the shell sees 130/143)
  daemon_killed_mid_upload   libvirtd killed (kill -9 + restart) during the
      upload: undo after reconnecting, nothing left
  second_sigint_during_undo_kills   a second SIGINT while the undo hangs on a
      stopped daemon kills the tool
  daemon_stopped_mid_upload   libvirtd stopped (SIGSTOP) during the upload
      for longer than a host may be silent (60 s): the tool says it waits,
      keepalive then gives up, the undo reconnects once the daemon
      continues, nothing left
Every failure must exit non-zero with one `virt-provision: ...` line naming
the problem, and leave `virsh pool-list --all`, `vol-list POOL`, `list --all`
and the pool directory exactly as they were.

The client and the daemon are different users here (root runs the tool, the
daemon runs as vp-test).  For a session URI the tool (like virt-install) puts
a missing default pool under the *client's* XDG data dir, so the tool runs
with XDG_DATA_HOME set to the daemon's, as when one user runs both.

The binary comes from $VP_BIN.  Nothing is skipped: a missing tool, binary,
daemon or kit is a failure.
"""

import json
import re
import os
import shutil
import signal
import sys
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
import qemuimg  # noqa: E402
from libvirt_harness import child_env, run, sha256  # noqa: E402

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
log = H.logger("provision.py")


class Provision(H.LibvirtTestCase):
    log = staticmethod(log)
    TMP_PREFIX = "vpt."
    NEEDED = ["virsh", "qemu-img", "qemu-io", "virt-xml-validate", "setpriv", "libvirtd",
              "qemu-system-x86_64", "gdb"]
    PACKAGES = ["libvirt-daemon", "libvirt-clients", "libvirt-daemon-driver-qemu",
                "qemu-system-x86", "qemu-utils", "libxml2-utils", "gdb"]
    # step lines of -v (progress on stderr)
    STEPS = ("connected to", "creating volume", "uploading", "defining domain",
             "starting domain", "creating directory pool", "undoing what this run created",
             "still waiting for", "waited ")

    @classmethod
    def setUpClass(cls):
        # binary, tools, kit, daemon: libvirt_harness
        super().setUpClass()
        cls.data_path = os.path.join(cls.dir, "data")

    # ------------------------------------------------------------------
    # helpers (virsh, desc, ok, wait_state, ...: libvirt_harness)

    def vp(self, args, json_out=False, glob=(), env=None, timeout=180):
        argv = [self.vp_bin, "-c", self.uri] + list(glob)
        if json_out:
            argv.append("--json")
        argv += ["provision"] + list(args)
        r = run(argv, check=False, timeout=timeout, env=env or self.vp_env)
        r.argv = argv
        return r

    def fails(self, r, *must, rc=1):
        """Exit rc, empty stdout, one `virt-provision: ` line holding every
        string of must (case-insensitive)."""
        return super().fails(r, *must, rc=rc)

    def pools(self):
        """{name: (state, autostart)} from pool-list --all."""
        out = {}
        for line in self.virsh("pool-list", "--all").splitlines():
            cols = line.split()
            if cols:
                out[cols[0]] = tuple(cols[1:])
        return out

    def pool_path(self, pool):
        x = ET.fromstring(self.virsh("pool-dumpxml", pool))
        return x.findtext("target/path")

    def state(self):
        """What a failed run must leave exactly as it found it."""
        s = {"pools": self.pools(), "vols": {}, "dirs": {}}
        for name, st in sorted(s["pools"].items()):
            p = self.pool_path(name)
            if p and os.path.isdir(p):
                s["dirs"][p] = sorted(os.listdir(p))
            if st[0] != "active":
                continue
            self.virsh("pool-refresh", name)   # see files behind libvirt's back
            s["vols"][name] = sorted(l.split()[0] for l in
                                     self.virsh("vol-list", name).splitlines() if l.split())
        if os.path.isdir(self.images):
            s["dirs"][self.images] = sorted(os.listdir(self.images))
        doms = {}
        for d in self.virsh("list", "--all", "--name").split():
            doms[d] = self.virsh("domuuid", d).strip()
        s["domains"] = doms
        return s

    def forget(self, name, pool="default"):
        """Cleanup: remove the domain NAME and volume NAME.qcow2 if present."""
        def do():
            self.drop_domain(name)
            if pool in self.pools() and self.pools()[pool][0] == "active":
                self.virsh("pool-refresh", pool, check=False)
                self.virsh("vol-delete", "--pool", pool, name + ".qcow2", check=False)
        self.addCleanup(do)

    def drop_default_pool(self):
        """Undo a default pool a run created (the directory stays)."""
        p = self.pools()
        if "default" in p:
            if p["default"][0] == "active":
                self.virsh("pool-destroy", "default", check=False)
            self.virsh("pool-undefine", "default", check=False)

    def without_default_pool(self):
        """Fixture of the cases where a run is to create the pool "default":
        one that another case left is removed now (its directory and files
        stay), and the one this case's run creates at cleanup.  Call it
        before forget(), whose cleanup needs the pool."""
        self.drop_default_pool()
        self.addCleanup(self.drop_default_pool)

    def ensure_default_pool(self):
        p = self.pools()
        if "default" not in p:
            self.virsh("pool-define-as", "default", "dir", "--target", self.images)
            self.virsh("pool-build", "default")
            self.virsh("pool-autostart", "default")
            p = self.pools()
        if p["default"][0] != "active":
            self.virsh("pool-start", "default")

    def common(self, kernel_cmdline=None):
        a = ["--virt-type", "qemu", "--memory", "256", "--vcpus", "1", "--network", "none"]
        if kernel_cmdline is None:
            return a + ["--import"]
        return a + ["--kernel", os.path.join(self.kit, "vmlinuz"),
                    "--initrd", os.path.join(self.kit, "initrd.img"),
                    "--cmdline", kernel_cmdline]

    def validate_xml(self, text, name):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        r = run(["virt-xml-validate", p, "domain"], check=False)
        self.assertEqual(r.returncode, 0, "virt-xml-validate %s:\n%s%s" % (p, r.stdout, r.stderr))

    def assert_preallocated(self, path, size, cluster=64 * KiB):
        """qemu-img check clean, every guest cluster mapped; returns check."""
        chk = qemuimg.check_ok(path)
        self.assertEqual(chk.get("check-errors"), 0, chk)
        for k in ("corruptions", "leaks", "corruptions-fixed", "leaks-fixed"):
            self.assertFalse(chk.get(k), chk)
        self.assertEqual(chk["total-clusters"], size // cluster, chk)
        self.assertEqual(chk["allocated-clusters"], chk["total-clusters"], chk)
        self.assertEqual(chk["image-end-offset"], os.stat(path).st_size, chk)
        m = qemuimg.img_map(path)
        pos = 0
        for e in m:
            self.assertEqual(e["start"], pos, m[:5])
            self.assertTrue(e["present"] and e["data"], "unmapped guest range %s" % e)
            self.assertIn("offset", e, e)
            pos += e["length"]
        self.assertEqual(pos, size)
        return chk

    # ------------------------------------------------------------------
    # the product working

    def test_default_pool_build_fails_is_rolled_back(self):
        self.without_default_pool()
        self.assertNotIn("default", self.pools(), "precondition: no default pool yet")
        ro = os.path.join(self.tmp, "ro-data")
        os.mkdir(ro, 0o555)
        before = self.state()
        r = self.vp(["--pool", "default", "--name", "vpt-nopool", "--size", "1G"]
                    + self.common(), env=child_env({"XDG_DATA_HOME": ro}))
        self.fails(r, "default", os.path.join(ro, "libvirt"))
        self.assertEqual(self.state(), before)
        self.assertEqual(os.listdir(ro), [])

    def test_dry_run_and_print_xml_create_nothing(self):
        self.without_default_pool()
        self.assertNotIn("default", self.pools(), "precondition: no default pool yet")
        self.check_nothing_created("vpt-dry", pool_missing=True)

    def check_nothing_created(self, name, pool_missing):
        path = os.path.join(self.images, name + ".qcow2")
        args = ["--pool", "default", "--name", name, "--size", "20G"] + self.common()
        before = self.state()

        r = self.ok(self.vp(args + ["--dry-run"]))
        self.assertIn("nothing was created", r.stdout)
        self.assertIn(path, r.stdout)
        self.assertIn("Would define domain '%s'" % name, r.stdout.splitlines())
        self.assertEqual(self.state(), before)

        # One whole sentence (one message to translate), not a fragment
        # glued on.
        r = self.ok(self.vp(args + ["--dry-run", "--start"]))
        self.assertIn("Would define domain '%s' and start it" % name,
                      r.stdout.splitlines())
        self.assertEqual(self.state(), before)

        r = self.ok(self.vp(args + ["--dry-run"], json_out=True))
        j = json.loads(r.stdout)
        self.assertIs(j["created"], False, j)
        v = j["volume"]
        self.assertEqual((v["pool"], v["name"], v["path"], v["capacity"], v["format"],
                          v["preallocation"], v["pool-created"]),
                         ("default", name + ".qcow2", path, 20 * GiB, "qcow2", "metadata",
                          False), j)
        self.assertEqual((j["domain"]["name"], j["domain"]["defined"],
                          j["domain"]["started"]), (name, False, False), j)
        self.assertEqual(self.state(), before)

        r = self.ok(self.vp(args + ["--print-xml"]))
        x = ET.fromstring(r.stdout)
        self.assertEqual(x.findtext("name"), name)
        self.assertEqual(x.find("devices/disk/source").get("file"), path)
        self.validate_xml(r.stdout, name + "-print.xml")
        self.assertEqual(self.state(), before)

        r = self.ok(self.vp(["--pool", "default", "--name", name, "--size", "20G",
                             "--no-define", "--dry-run"]))
        self.assertEqual(self.state(), before)
        self.assertEqual("default" not in before["pools"], pool_missing)

    def test_provision_20g(self):
        name = "vpt-20g"
        self.without_default_pool()
        self.forget(name)
        before = self.state()
        self.assertNotIn("default", before["pools"], "precondition: no default pool yet")
        kernel = os.path.join(self.kit, "vmlinuz")
        initrd = os.path.join(self.kit, "initrd.img")
        cmdline = "console=ttyS0 panic=-1 vp.action=boot"
        r = self.ok(self.vp(["--pool", "default", "--name", name, "--size", "20G"]
                            + self.common(cmdline), json_out=True))
        j = json.loads(r.stdout)
        path = os.path.join(self.images, name + ".qcow2")
        st = os.stat(path)

        # the JSON report
        self.assertEqual(j["uri"], self.uri)
        self.assertIs(j["created"], True)
        v = j["volume"]
        want = {"pool": "default", "name": name + ".qcow2", "path": path,
                "capacity": 20 * GiB, "file-length": st.st_size, "format": "qcow2",
                "compat": "1.1", "preallocation": "metadata", "cluster-size": 64 * KiB,
                "pool-created": True}
        self.assertEqual({k: v.get(k) for k in want}, want, j)
        self.assertGreaterEqual(st.st_size, 20 * GiB)
        self.assertLess(st.st_size, 20 * GiB + 16 * MiB)
        self.assertLess(v["allocation"], 16 * MiB, "metadata only on disk: %s" % v)
        d = j["domain"]
        self.assertEqual((d["name"], d["defined"], d["started"], d["autostart"]),
                         (name, True, False, False), j)
        self.assertEqual(d["uuid"], self.virsh("domuuid", name).strip())

        # the pool
        p = self.pools()
        self.assertEqual(p.get("default"), ("active", "yes"), p)
        px = ET.fromstring(self.virsh("pool-dumpxml", "default"))
        self.assertEqual(px.get("type"), "dir")
        self.assertEqual(px.findtext("target/path"), self.images)

        # the volume as libvirt reports it
        vx = ET.fromstring(self.virsh("vol-dumpxml", "--pool", "default", name + ".qcow2"))
        self.assertEqual(vx.find("target/format").get("type"), "qcow2")
        self.assertEqual(vx.findtext("target/path"), path)
        cap = vx.find("capacity")
        self.assertEqual((cap.get("unit"), int(cap.text)), ("bytes", 20 * GiB))
        self.assertEqual(int(vx.findtext("physical")), st.st_size)
        self.assertEqual(vx.findtext("target/compat"), "1.1")
        self.assertEqual(int(vx.findtext("target/clusterSize")), 64 * KiB)
        info = dict(l.split(":", 1) for l in
                    self.virsh("vol-info", "--bytes", "--pool", "default",
                               name + ".qcow2").splitlines() if ":" in l)
        self.assertEqual(info["Capacity"].strip(), "%d bytes" % (20 * GiB), info)
        self.assertEqual(info["Type"].strip(), "file", info)

        # the image as qemu sees it
        qi = qemuimg.info(path)
        self.assertEqual((qi["format"], qi["virtual-size"], qi["cluster-size"],
                          qi["format-specific"]["data"]["compat"]),
                         ("qcow2", 20 * GiB, 64 * KiB, "1.1"), qi)
        self.assert_preallocated(path, 20 * GiB)

        # the domain
        text = self.virsh("dumpxml", name)
        self.validate_xml(text, name + ".xml")
        x = ET.fromstring(text)
        self.assertEqual(x.get("type"), "qemu")
        self.assertEqual(x.findtext("name"), name)
        mem = x.find("memory")
        self.assertEqual((mem.get("unit"), mem.text), ("KiB", str(256 * 1024)))
        self.assertEqual((x.findtext("os/kernel"), x.findtext("os/initrd"),
                          x.findtext("os/cmdline")), (kernel, initrd, cmdline))
        disks = [e for e in x.findall("devices/disk") if e.get("device") == "disk"]
        self.assertEqual(len(disks), 1, text)
        disk = disks[0]
        drv = disk.find("driver")
        self.assertEqual((disk.get("type"), drv.get("name"), drv.get("type"),
                          drv.get("cache"), drv.get("io")),
                         ("file", "qemu", "qcow2", "none", "native"), text)
        self.assertEqual(disk.find("source").get("file"), path)
        tgt = disk.find("target")
        self.assertEqual((tgt.get("dev"), tgt.get("bus")), ("vda", "virtio"))
        self.assertIsNotNone(x.find("features/acpi"), "poweroff needs <acpi/>")
        self.assertEqual(self.virsh("domstate", name).strip(), "shut off")

        # nothing else changed
        after = self.state()
        self.assertEqual(set(after["pools"]) - set(before["pools"]), {"default"})
        self.assertEqual(after["vols"]["default"], [name + ".qcow2"])
        self.assertEqual(set(after["domains"]) - set(before["domains"]), {name})

    def test_no_define_and_dry_runs_with_pool(self):
        self.ensure_default_pool()
        self.check_nothing_created("vpt-dry2", pool_missing=False)

        name = "vpt-nodef"
        self.forget(name)
        before = self.state()
        r = self.ok(self.vp(["--pool", "default", "--name", name, "--size", "3G",
                             "--no-define"], json_out=True))
        j = json.loads(r.stdout)
        self.assertNotIn("domain", j)
        path = os.path.join(self.images, name + ".qcow2")
        self.assertEqual((j["volume"]["path"], j["volume"]["capacity"],
                          j["volume"]["pool-created"]), (path, 3 * GiB, False), j)
        after = self.state()
        self.assertEqual(after["domains"], before["domains"])
        self.assertEqual(after["pools"], before["pools"])
        self.assertEqual(after["vols"]["default"],
                         sorted(before["vols"]["default"] + [name + ".qcow2"]))
        self.assert_preallocated(path, 3 * GiB)

    def test_upload_closed_before_volume_queries(self):
        """An upload's stream is closed once it is committed, before the volume
        is queried: an open stream holds its connection's stream lock, and over
        those round trips it kept a lab's other guests on that host from
        uploading (issue 16).  Traced with gdb's dprintf, in call order."""
        self.ensure_default_pool()
        name = "vpt-order"
        self.forget(name)
        commands = os.path.join(self.dir, "order.gdb")
        with open(commands, "w") as f:
            f.write("set pagination off\nset breakpoint pending on\n"
                    "dprintf vp_upload_commit,\"VPT committed\\n\"\n"
                    "dprintf vp_upload_free,\"VPT closed\\n\"\n"
                    "dprintf vp_virt_volume_info,\"VPT queried\\n\"\n"
                    "run\n")
        argv = ["gdb", "-q", "-batch", "-x", commands, "--args", self.vp_bin, "-c",
                self.uri, "provision", "--pool", "default", "--name", name, "--size", "1G",
                "--no-define"]
        r = run(argv, check=False, timeout=300, env=self.vp_env)
        r.argv = argv
        events = [l.strip() for l in r.stdout.splitlines() if l.startswith("VPT ")]
        self.assertIn("VPT committed", events, self.desc(r))
        after = events[events.index("VPT committed"):]
        self.assertEqual(after[:3], ["VPT committed", "VPT closed", "VPT queried"],
                         self.desc(r))
        self.assert_preallocated(os.path.join(self.images, name + ".qcow2"), GiB)

    @H.boots_guest
    def test_guest_installs_onto_volume(self):
        self.ensure_default_pool()
        name = "vpt-guest"
        self.forget(name)
        size = 1 * GiB
        r = self.ok(self.vp(["--pool", "default", "--name", name, "--size", "1G", "--start"]
                            + self.common("console=ttyS0 panic=-1 vp.action=write"),
                            json_out=True))
        t_boot = time.monotonic()
        j = json.loads(r.stdout)
        self.assertEqual((j["domain"]["defined"], j["domain"]["started"]), (True, True), j)
        path = j["volume"]["path"]
        length = j["volume"]["file-length"]
        self.assertEqual(os.stat(path).st_size, length)

        self.wait_state(name, "shut off", 120)
        log("write boot: %.1f s to shut off" % (time.monotonic() - t_boot))
        self.assertEqual(os.stat(path).st_size, length, "the guest grew the file")
        chk = self.assert_preallocated(path, size)
        self.assertEqual(chk["image-end-offset"], length, "a cluster was allocated")
        self.check_patterns(path, size)

        # second boot: the guest verifies what it wrote, console to a file
        x = ET.fromstring(self.virsh("dumpxml", name))
        cmd = x.find("os/cmdline")
        self.assertIn("vp.action=write", cmd.text)
        cmd.text = cmd.text.replace("vp.action=write", "vp.action=verify")
        console = os.path.join(self.work, "verify.log")
        self.console_to_file(x, console)
        self.define_xml(x, "verify")
        self.boot_until_off(name, console, "VP-VERIFY-OK", "verify")
        self.assertEqual(os.stat(path).st_size, length)
        self.assertEqual(self.assert_preallocated(path, size)["image-end-offset"], length)

    def check_patterns(self, path, size):
        r = run([os.path.join(self.kit, "pattern-offsets.sh"), str(size)])
        regions = [l.split() for l in r.stdout.splitlines()]
        self.assertEqual(len(regions), 3, r.stdout)
        for rname, off, byte in regions:
            q = run(["qemu-io", "-f", "qcow2", "-r", "-c", "read -P %s %s 1M" % (byte, off),
                     path], check=False)
            self.assertEqual(q.returncode, 0, "pattern %s (%s at %s) not on the volume: %s%s"
                             % (rname, byte, off, q.stdout, q.stderr))
            self.assertNotIn("Pattern verification failed", q.stdout + q.stderr)
        # untouched guest space reads as zeros
        q = run(["qemu-io", "-f", "qcow2", "-r", "-c", "read -P 0 %d 1M" % MiB, path],
                check=False)
        self.assertEqual(q.returncode, 0, q.stdout + q.stderr)
        self.assertNotIn("Pattern verification failed", q.stdout + q.stderr)

    # ------------------------------------------------------------------
    # failures against the real daemon leave everything as it was

    def failing_run(self, name, extra, *must, pool="default", size="1G", rc=1):
        self.forget(name)
        before = self.state()
        r = self.vp(["--pool", pool, "--name", name, "--size", size] + extra)
        line = self.fails(r, *must, rc=rc)
        self.assertEqual(self.state(), before, line)
        return line

    def test_nics(self):
        # --network once per NIC, in order, each with its MAC and model, as
        # libvirt stores them.
        self.ensure_default_pool()
        name = "vpt-nics"
        self.forget(name)
        r = self.vp(["--pool", "default", "--name", name, "--size", "1G",
                     "--virt-type", "qemu", "--memory", "256", "--import",
                     "--network", "user,mac=52:54:00:AA:00:01",
                     "--network", "user,model=e1000e"])
        self.assertEqual(r.returncode, 0, r.stderr)
        xml = self.virsh("dumpxml", "--inactive", name)
        ifaces = re.findall(r"<interface type='(\w+)'>(.*?)</interface>", xml,
                            re.S)
        self.assertEqual([t for t, _ in ifaces], ["user", "user"], xml)
        self.assertIn("<mac address='52:54:00:aa:00:01'/>", ifaces[0][1])
        self.assertIn("<model type='virtio'/>", ifaces[0][1])
        self.assertIn("<model type='e1000e'/>", ifaces[1][1])
        self.assertNotIn("52:54:00:aa:00:01", ifaces[1][1])
        self.assertEqual(self.virsh("domiflist", name).count("user"), 2)

    def test_name_used_by_volume(self):
        self.ensure_default_pool()
        name = "vpt-usedvol"
        self.forget(name)
        self.virsh("vol-create-as", "default", name + ".qcow2", "1M", "--format", "qcow2")
        path = os.path.join(self.images, name + ".qcow2")
        st, h = os.stat(path), sha256(path)
        self.failing_run(name, self.common(), "already exists", name + ".qcow2")
        st2 = os.stat(path)
        self.assertEqual((st2.st_ino, st2.st_size, st2.st_mtime_ns, sha256(path)),
                         (st.st_ino, st.st_size, st.st_mtime_ns, h))
        cap = ET.fromstring(self.virsh("vol-dumpxml", "--pool", "default",
                                       name + ".qcow2")).findtext("capacity")
        self.assertEqual(int(cap), MiB)

    def test_name_used_by_file_unknown_to_libvirt(self):
        self.ensure_default_pool()
        name = "vpt-usedfile"
        self.forget(name)
        path = os.path.join(self.images, name + ".qcow2")
        before = self.state()
        with open(path, "wb") as f:      # behind libvirt's back: no pool-refresh
            f.write(b"precious data, not an image\n" * 1000)
        os.chown(path, self.uid, self.gid)
        st, h = os.stat(path), sha256(path)
        r = self.vp(["--pool", "default", "--name", name, "--size", "1G"] + self.common())
        self.fails(r, "already exists", name + ".qcow2")
        st2 = os.stat(path)
        self.assertEqual((st2.st_ino, st2.st_size, st2.st_mtime_ns, sha256(path)),
                         (st.st_ino, st.st_size, st.st_mtime_ns, h))
        self.assertNotIn(name, self.state()["domains"])
        os.unlink(path)
        self.assertEqual(self.state(), before)

    def test_name_used_by_domain(self):
        self.ensure_default_pool()
        name = "vpt-useddom"
        self.forget(name)
        xml_path = os.path.join(self.work, name + ".xml")
        with open(xml_path, "w") as f:
            f.write("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>"
                    "<os><type arch='x86_64'>hvm</type></os></domain>" % name)
        self.virsh("define", xml_path)
        uuid = self.virsh("domuuid", name).strip()
        self.failing_run(name, self.common(), "domain", "already exists", name)
        self.assertEqual(self.virsh("domuuid", name).strip(), uuid)

    def test_define_rejected(self):
        # Passes the tool's checks and domain capabilities; libvirt rejects
        # the definition (q35 has no IDE), after the volume was uploaded.
        self.ensure_default_pool()
        self.failing_run("vpt-badide", self.common() + ["--machine", "q35",
                                                        "--disk-bus", "ide"],
                         "domain definition", "IDE")

    def test_start_rejected(self):
        # Defined, then start fails: the domain and the volume are undone.
        self.ensure_default_pool()
        self.failing_run("vpt-badnet", ["--virt-type", "qemu", "--memory", "256", "--import",
                                        "--network", "network=vpt-nosuch", "--start"],
                         "start", "vpt-nosuch")

    def test_kvm(self):
        # /dev/kvm is not usable by the daemon user here (or KVM guests hang):
        # --virt-type kvm must fail up front, naming kvm.  Where the host does
        # offer kvm, defining the guest must work.
        self.ensure_default_pool()
        name = "vpt-kvm"
        offered = self.virsh("domcapabilities", "--virttype", "kvm", check=False)
        args = ["--virt-type", "kvm", "--memory", "256", "--import", "--network", "none"]
        if offered.returncode != 0:
            self.failing_run(name, args, "kvm")
        else:
            self.forget(name)
            r = self.ok(self.vp(["--pool", "default", "--name", name, "--size", "1G"]
                                + args))
            self.assertEqual(ET.fromstring(self.virsh("dumpxml", name)).get("type"), "kvm")

    def test_pool_missing(self):
        self.failing_run("vpt-nopool", self.common(), "vpt-nope", "does not exist",
                         pool="vpt-nope")

    def test_pool_inactive(self):
        target = os.path.join(self.tmp, "inactive")
        self.virsh("pool-define-as", "vpt-inactive", "dir", "--target", target)
        self.addCleanup(self.virsh, "pool-undefine", "vpt-inactive", check=False)
        self.failing_run("vpt-inact", self.common(), "vpt-inactive", "not active",
                         pool="vpt-inactive")
        self.assertFalse(os.path.exists(target))

    def small_pool(self, name, size):
        """A dir pool NAME on a tmpfs of SIZE owned by the daemon user, so
        that its free space is small and exactly known; removed (and the
        tmpfs unmounted) at cleanup."""
        target = os.path.join(self.tmp, name)
        os.mkdir(target)
        # Mounting needs root: an ordinary user's run goes through sudo, as
        # scripts/test's package installs do, and fails saying so without it.
        as_root = []
        if os.getuid() != 0:
            if shutil.which("sudo") is None:
                self.fail("mounting a 64 MiB tmpfs for this test needs root or sudo")
            as_root = ["sudo", "-n"]
        run(as_root + ["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755,uid=%d,gid=%d"
                       % (size, self.uid, self.gid), "tmpfs", target])
        self.addCleanup(os.rmdir, target)
        self.addCleanup(run, as_root + ["umount", target], check=False)
        self.virsh("pool-define-as", name, "dir", "--target", target)
        self.addCleanup(self.virsh, "pool-undefine", name, check=False)
        self.virsh("pool-start", name)
        self.addCleanup(self.virsh, "pool-destroy", name, check=False)
        info = dict(l.split(":", 1) for l in
                    self.virsh("pool-info", "--bytes", name).splitlines() if ":" in l)
        return int(info["Available"].split()[0])

    def test_preallocation_larger_than_pool_free(self):
        # falloc and full need the image's whole file length on the pool's
        # file system: refused before anything is created, naming the pool,
        # both sizes and the way out.  Sparse metadata of the same size fits.
        pool, name = "vpt-small", "vpt-toobig"
        free = self.small_pool(pool, "64M")
        self.assertEqual(free, 64 * MiB, "precondition: an empty 64 MiB tmpfs")
        lines = {}
        for mode in ("full", "falloc"):
            lines[mode] = self.failing_run(
                name, ["--no-define", "--preallocation", mode], pool, "64 MiB free",
                "--preallocation metadata", mode, pool=pool, size="128M")
        before = self.state()
        r = self.ok(self.vp(["--pool", pool, "--name", name, "--size", "128M",
                             "--no-define", "--preallocation", "metadata"], json_out=True))
        self.addCleanup(self.virsh, "vol-delete", "--pool", pool, name + ".qcow2",
                        check=False)
        length = json.loads(r.stdout)["volume"]["file-length"]
        self.assertGreater(length, 128 * MiB)
        for mode, line in lines.items():
            self.assertIn("%d bytes" % length, line)
        after = self.state()
        self.assertEqual(after["vols"][pool], [name + ".qcow2"])
        self.assertEqual(after["domains"], before["domains"])

    def test_empty_values(self):
        # An empty or blank value is a usage error before libvirt is asked
        # anything: not "pool '' does not exist", and no guest named '  '.
        self.ensure_default_pool()
        before = self.state()
        rows = [
            (["--pool=", "--name", "vpt-empty"], "--pool needs a value, such as --pool default"),
            (["--pool", "default", "--name", "vpt-empty", "--memory="],
             "--memory needs a value, such as --memory 4G"),
            (["--pool", "default", "--name=  "], "--name needs a value, such as --name zabbix"),
        ]
        for extra, must in rows:
            with self.subTest(args=extra):
                # After common(), whose --memory the row's must override.
                r = self.vp(self.common() + extra + ["--size", "1G"])
                line = self.fails(r, must, rc=2)
                self.assertEqual(self.state(), before, line)

    # ------------------------------------------------------------------
    # interrupted uploads

    def interrupt_during_upload(self, name, sizes, action, delay, want_rc, *must,
                                pool_missing=False):
        if pool_missing:
            self.assertNotIn("default", self.pools(), "precondition: no default pool yet")
            self.addCleanup(self.drop_default_pool)   # runs after forget's cleanup
        else:
            self.ensure_default_pool()
        self.forget(name)
        before = self.state()
        for size in sizes:
            rc, out, t_act, t_acted = self.run_interrupted(
                "provision", ["--pool", "default", "--name", name, "--size", size]
                + self.common(), action, delay, 90)
            log("%s: --size %s, exit %d %.1f s after the interruption started"
                % (name, size, rc, time.monotonic() - t_act))
            if rc == 0:
                log("%s: the upload of %s finished first (action took %.1f s); "
                    "retrying bigger" % (name, size, t_acted))
                self.virsh("undefine", name, check=False)
                self.virsh("vol-delete", "--pool", "default", name + ".qcow2", check=False)
                if pool_missing:
                    self.drop_default_pool()
                self.assertEqual(self.state(), before)
                continue
            line = self.interrupted_error(rc, out, want_rc, *must)
            self.assertEqual(self.state(), before, line)
            return line
        self.fail("every upload (%s) finished before it could be interrupted" % (sizes,))

    def test_sigint_mid_upload(self):
        # undone, then killed by the signal itself: the shell sees 130 and a
        # loop around the tool stops, as after any Ctrl-C
        self.interrupt_during_upload("vpt-sigint", ["4T", "8T", "12T"],
                                     lambda p: p.send_signal(signal.SIGINT), 0.3,
                                     -signal.SIGINT, "interrupt")

    def test_sigterm_mid_upload(self):
        self.interrupt_during_upload("vpt-sigterm", ["4T", "8T", "12T"],
                                     lambda p: p.send_signal(signal.SIGTERM), 0.3,
                                     -signal.SIGTERM, "interrupt")

    def test_sigint_while_creating_default_pool(self):
        # the pool this run created is undone as well
        self.without_default_pool()
        self.interrupt_during_upload("vpt-sigint0", ["4T", "8T", "12T"],
                                     lambda p: p.send_signal(signal.SIGINT), 0.3,
                                     -signal.SIGINT, "interrupt", pool_missing=True)

    def test_daemon_killed_mid_upload(self):
        # The pool is persistent and autostarted: it comes back with the daemon.
        self.interrupt_during_upload("vpt-killed", ["8T", "12T"], self.restart_daemon, 0.5,
                                     None,
                                     "vpt-killed.qcow2")

    # ------------------------------------------------------------------
    # a daemon that stops answering (SIGSTOP: its socket stays open)

    def daemon_pid(self):
        r = run([H.SESSION, "env", self.dir], check=False)
        pid = H.parse_assignments(r.stdout).get("VP_TEST_DAEMON_PID")
        self.assertTrue(pid, "session-daemon.sh env printed no pid: %s" % r.stderr)
        return int(pid)

    def stop_daemon(self):
        """SIGSTOPs the daemon; SIGCONT at cleanup whatever happens.  Returns
        a function that continues it."""
        pid = self.daemon_pid()

        def cont():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.addCleanup(cont)
        os.kill(pid, signal.SIGSTOP)
        return cont

    def wait_line(self, p, out, text, timeout):
        """Waits until the tool printed a line holding text; fails if it
        ends first or does not print it within timeout seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if [l for l in out["stderr"] if text in l]:
                return
            if p.poll() is not None:
                return
            time.sleep(0.1)
        p.kill()
        self.finish_bg(p, out, 30)
        self.fail("no '%s' within %d s\n%s" % (text, timeout,
                                                self.bg_desc(p.returncode, out)))

    def upload_then_stop_daemon(self, name):
        """Starts a provision of NAME and SIGSTOPs the daemon mid-upload;
        returns (proc, out, cont) or (None, None, None) when every upload
        finished first (the caller then fails)."""
        for size in ("8T", "12T"):
            p, uploading, out = self.start_bg(
                "provision", ["--pool", "default", "--name", name, "--size", size]
                + self.common())
            if not uploading.wait(60):
                p.kill()
                self.finish_bg(p, out, 30)
                self.fail("no 'uploading' step within 60 s: %s" % out["stderr"])
            time.sleep(0.3)
            cont = self.stop_daemon()
            if p.poll() is None:
                return p, out, cont
            cont()
            rc = self.finish_bg(p, out, 30)
            log("%s: --size %s ended (exit %d) before the daemon stopped"
                % (name, size, rc))
            self.virsh("undefine", name, check=False)
            self.virsh("vol-delete", "--pool", "default", name + ".qcow2", check=False)
        self.fail("every upload finished before the daemon could be stopped")

    def test_second_sigint_during_undo_kills(self):
        # The first SIGINT starts the undo; the undo hangs (the daemon is
        # stopped, so reconnecting waits for it); a second SIGINT must kill
        # the tool at once, with the signal as its wait status.
        self.ensure_default_pool()
        name = "vpt-twice"
        self.forget(name)
        p, out, cont = self.upload_then_stop_daemon(name)
        p.send_signal(signal.SIGINT)
        # keepalive gives up on the stopped daemon (after 60 s of silence),
        # then the undo starts
        self.wait_line(p, out, "undoing what this run created", 120)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        rc = self.finish_bg(p, out, 30)
        cont()
        self.assertEqual(rc, -signal.SIGINT, self.bg_desc(rc, out))

    def test_daemon_stopped_mid_upload(self):
        # Keepalive notices a daemon that no longer answers, not even its
        # pings, for 60 s: the upload fails and the undo (which reconnects
        # once the daemon runs again) leaves nothing behind, instead of the
        # tool hanging for ever.  Meanwhile it says that it waits.
        self.ensure_default_pool()
        name = "vpt-stopped"
        self.forget(name)
        before = self.state()
        p, out, cont = self.upload_then_stop_daemon(name)
        self.wait_line(p, out, "undoing what this run created", 120)
        self.assertTrue([l for l in out["stderr"] if "still waiting for" in l],
                        out["stderr"])
        cont()
        rc = self.finish_bg(p, out, 60)
        line = self.interrupted_error(rc, out, 1, name + ".qcow2")
        self.assertEqual(self.state(), before, line)


if __name__ == "__main__":
    H.main()
