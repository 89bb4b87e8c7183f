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

Cases:
  00  the default pool cannot be built: pool definition rolled back
  01  --dry-run / --print-xml with no default pool create nothing
  01b SIGINT during the upload into a default pool this run created
  02  provision 20G: default pool, volume and domain as libvirt, qemu-img and
      virt-xml-validate see them; --json checked field by field
  03  --no-define creates only the volume; --dry-run / --print-xml with a pool
  04  a TCG guest writes patterns onto the volume (checked from the host with
      qemu-io; no cluster allocated), then verifies them in a second boot
  1x  failures: name taken by a volume, a file, a domain; define rejected;
      start rejected; kvm; pool missing; pool inactive
  20  SIGINT during the upload: exit 130, nothing left
  21  libvirtd killed (kill -9 + restart) during the upload: undo after
      reconnecting, nothing left
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

import hashlib
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION = os.path.join(HERE, "libvirt", "session-daemon.sh")
MAKE_KIT = os.path.join(HERE, "guest", "make-guest-kit.sh")
PREFIX = "virt-provision: "
KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
T0 = time.monotonic()
NEEDED = ["virsh", "qemu-img", "qemu-io", "virt-xml-validate", "setpriv", "libvirtd",
          "qemu-system-x86_64"]
# step lines of -v (progress on stderr)
STEPS = ("connected to", "creating volume", "uploading", "defining domain",
         "starting domain", "creating directory pool", "undoing what this run created")


def log(msg):
    print("provision.py: %s" % msg, file=sys.stderr, flush=True)


def child_env(extra=None):
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    env.pop("LANGUAGE", None)
    env.pop("LIBVIRT_DEFAULT_URI", None)
    env.update(extra or {})
    return env


def default_signals():
    # The tool must see SIGINT as at a terminal even when the test runner
    # ignores it.  (subprocess already restores SIGPIPE to its default.)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(argv, check=True, timeout=120, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       env=env or child_env(), preexec_fn=default_signals)
    if check and r.returncode != 0:
        raise AssertionError("$ %s\n-> exit %d\nstdout: %s\nstderr: %s"
                             % (shlex.join(argv), r.returncode, r.stdout, r.stderr))
    return r


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Provision(unittest.TestCase):
    maxDiff = None

    # ------------------------------------------------------------------
    # class set-up: binary, tools, kit, daemon

    @classmethod
    def setUpClass(cls):
        cls.vp_bin = os.environ.get("VP_BIN")
        if not cls.vp_bin:
            raise RuntimeError("VP_BIN is not set: point it at the virt-provision binary")
        if not (os.path.isabs(cls.vp_bin) and os.path.isfile(cls.vp_bin)
                and os.access(cls.vp_bin, os.X_OK)):
            raise RuntimeError("VP_BIN=%r is not an executable file given by absolute path"
                               % cls.vp_bin)
        path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
        os.environ["PATH"] = path
        missing = [t for t in NEEDED if shutil.which(t) is None]
        if missing:
            raise RuntimeError("required programs missing: %s (apt-get install -y "
                               "--no-install-recommends libvirt-daemon libvirt-clients "
                               "libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils "
                               "libxml2-utils)" % " ".join(missing))
        for s in (SESSION, MAKE_KIT):
            if not os.access(s, os.X_OK):
                raise RuntimeError("%s is missing or not executable" % s)

        # short path: DIR/run/libvirt/libvirt-sock and qemu monitor sockets
        cls.tmp = tempfile.mkdtemp(prefix="vpt.", dir="/tmp")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        os.chmod(cls.tmp, 0o755)   # the daemon user must traverse it

        t = time.monotonic()
        cls.kit = os.environ.get("VP_GUEST_KIT_DIR") or os.path.join(cls.tmp, "kit")
        cls.kit = os.path.abspath(cls.kit)
        r = run([MAKE_KIT, cls.kit], check=False, timeout=900)
        if r.returncode != 0:
            raise RuntimeError("make-guest-kit.sh %s failed (exit %d):\n%s"
                               % (cls.kit, r.returncode, r.stderr))
        for f in ("vmlinuz", "initrd.img", "pattern-offsets.sh"):
            if not os.path.isfile(os.path.join(cls.kit, f)):
                raise RuntimeError("guest kit %s lacks %s" % (cls.kit, f))
        log("guest kit %s ready (%.1f s)" % (cls.kit, time.monotonic() - t))

        t = time.monotonic()
        cls.dir = os.path.join(cls.tmp, "d")
        cls.addClassCleanup(cls._purge_daemon)
        r = run([SESSION, "start", cls.dir], check=False, timeout=180)
        if r.returncode != 0:
            raise RuntimeError("session-daemon.sh start %s failed (exit %d):\n%s"
                               % (cls.dir, r.returncode, r.stderr))
        envs = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition("=")
            envs[k] = shlex.split(v)[0] if v else ""
        for k in ("VP_TEST_URI", "VP_TEST_USER", "VP_TEST_IMAGES"):
            if not envs.get(k):
                raise RuntimeError("session-daemon.sh start printed no %s:\n%s" % (k, r.stdout))
        cls.uri = envs["VP_TEST_URI"]
        cls.user = envs["VP_TEST_USER"]
        cls.images = envs["VP_TEST_IMAGES"]
        if not cls.uri.startswith("qemu+unix://"):
            raise RuntimeError("unexpected daemon URI %r" % cls.uri)
        log("daemon %s as %s (%.1f s)" % (cls.uri, cls.user, time.monotonic() - t))

        # Run as the daemon user: the files qemu reads, the dir it writes.
        cls.as_user = []
        if os.getuid() == 0:
            import pwd
            pw = pwd.getpwnam(cls.user)
            cls.uid, cls.gid = pw.pw_uid, pw.pw_gid
            cls.as_user = ["setpriv", "--reuid=%d" % cls.uid, "--regid=%d" % cls.gid,
                           "--init-groups", "--"]
        else:
            cls.uid, cls.gid = os.getuid(), os.getgid()
        kfiles = [os.path.join(cls.kit, f) for f in ("vmlinuz", "initrd.img")]
        r = run(cls.as_user + ["sh", "-c", 'for f; do test -r "$f" || exit 1; done', "sh"]
                + kfiles, check=False)
        if r.returncode != 0:
            raise RuntimeError("the guest kit in %s is not readable by the daemon user %s "
                               "(every parent directory must be searchable)"
                               % (cls.kit, cls.user))
        cls.work = os.path.join(cls.tmp, "w")
        os.mkdir(cls.work)
        os.chown(cls.work, cls.uid, cls.gid)

        # Client and daemon are different users; see the module docstring.
        cls.vp_env = child_env({"XDG_DATA_HOME": os.path.join(cls.dir, "data")})
        cls.data_path = os.path.join(cls.dir, "data")

    @classmethod
    def _purge_daemon(cls):
        r = run([SESSION, "purge", cls.dir], check=False, timeout=120)
        if r.returncode != 0:
            log("WARNING: session-daemon.sh purge %s failed: %s" % (cls.dir, r.stderr))
        log("total runtime %.1f s" % (time.monotonic() - T0))

    def setUp(self):
        self.t_start = time.monotonic()

    def tearDown(self):
        log("%s: %.1f s" % (self.id().rsplit(".", 1)[-1], time.monotonic() - self.t_start))

    # ------------------------------------------------------------------
    # helpers

    def virsh(self, *args, check=True, timeout=120):
        r = run(["virsh", "-q", "-c", self.uri] + list(args), check=check, timeout=timeout)
        return r if not check else r.stdout

    def vp(self, args, json_out=False, glob=(), env=None, timeout=180):
        argv = [self.vp_bin, "-c", self.uri] + list(glob)
        if json_out:
            argv.append("--json")
        argv += ["provision"] + list(args)
        r = run(argv, check=False, timeout=timeout, env=env or self.vp_env)
        r.argv = argv
        return r

    def desc(self, r):
        return "$ %s\n-> exit %d\nstdout: %s\nstderr: %s" % (
            shlex.join(r.argv), r.returncode, r.stdout, r.stderr)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, self.desc(r))
        self.assertEqual(r.stderr, "", self.desc(r))
        return r

    def fails(self, r, *must, rc=1):
        """Exit rc, empty stdout, one `virt-provision: ` line holding every
        string of must (case-insensitive)."""
        self.assertEqual(r.returncode, rc, self.desc(r))
        self.assertEqual(r.stdout, "", self.desc(r))
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, "want one error line\n" + self.desc(r))
        self.assertTrue(lines[0].startswith(PREFIX), self.desc(r))
        for m in must:
            self.assertIn(m.lower(), lines[0].lower(), self.desc(r))
        return lines[0]

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

    def wait_state(self, dom, want, timeout):
        end = time.monotonic() + timeout
        st = None
        while time.monotonic() < end:
            st = self.virsh("domstate", dom).strip()
            if st == want:
                return
            time.sleep(0.5)
        self.virsh("destroy", dom, check=False)
        self.fail("domain %s is still '%s' after %d s (want '%s')" % (dom, st, timeout, want))

    def forget(self, name, pool="default"):
        """Cleanup: remove the domain NAME and volume NAME.qcow2 if present."""
        def do():
            r = self.virsh("domstate", name, check=False)
            if r.returncode == 0:
                if "running" in r.stdout or "paused" in r.stdout:
                    self.virsh("destroy", name, check=False)
                self.virsh("undefine", name, "--nvram", check=False)
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

    def qemu_img_json(self, *args):
        return json.loads(run(["qemu-img"] + list(args) + ["--output=json"]).stdout)

    def assert_preallocated(self, path, size, cluster=64 * KiB):
        """qemu-img check clean, every guest cluster mapped; returns check."""
        chk = self.qemu_img_json("check", path)
        self.assertEqual(chk.get("check-errors"), 0, chk)
        for k in ("corruptions", "leaks", "corruptions-fixed", "leaks-fixed"):
            self.assertFalse(chk.get(k), chk)
        self.assertEqual(chk["total-clusters"], size // cluster, chk)
        self.assertEqual(chk["allocated-clusters"], chk["total-clusters"], chk)
        self.assertEqual(chk["image-end-offset"], os.stat(path).st_size, chk)
        m = self.qemu_img_json("map", path)
        pos = 0
        for e in m:
            self.assertEqual(e["start"], pos, m[:5])
            self.assertTrue(e["present"] and e["data"], "unmapped guest range %s" % e)
            self.assertIn("offset", e, e)
            pos += e["length"]
        self.assertEqual(pos, size)
        return chk

    # ------------------------------------------------------------------
    # 00-04: the product working

    def test_00_default_pool_build_fails_is_rolled_back(self):
        self.assertNotIn("default", self.pools(), "precondition: no default pool yet")
        ro = os.path.join(self.tmp, "ro-data")
        os.mkdir(ro, 0o555)
        before = self.state()
        r = self.vp(["--pool", "default", "--name", "vpt-nopool", "--size", "1G"]
                    + self.common(), env=child_env({"XDG_DATA_HOME": ro}))
        self.fails(r, "default", os.path.join(ro, "libvirt"))
        self.assertEqual(self.state(), before)
        self.assertEqual(os.listdir(ro), [])

    def test_01_dry_run_and_print_xml_create_nothing(self):
        self.assertNotIn("default", self.pools(), "precondition: no default pool yet")
        self.check_nothing_created("vpt-dry", pool_missing=True)

    def check_nothing_created(self, name, pool_missing):
        path = os.path.join(self.images, name + ".qcow2")
        args = ["--pool", "default", "--name", name, "--size", "20G"] + self.common()
        before = self.state()

        r = self.ok(self.vp(args + ["--dry-run"]))
        self.assertIn("nothing was created", r.stdout)
        self.assertIn(path, r.stdout)
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

    def test_02_provision_20g(self):
        name = "vpt-20g"
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
        qi = self.qemu_img_json("info", path)
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

    def test_03_no_define_and_dry_runs_with_pool(self):
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

    def test_04_guest_installs_onto_volume(self):
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
        x.find("on_reboot").text = "destroy"
        devs = x.find("devices")
        for tag in ("serial", "console"):
            for e in devs.findall(tag):
                devs.remove(e)
        console = os.path.join(self.work, "verify.log")
        ser = ET.SubElement(devs, "serial", type="file")
        ET.SubElement(ser, "source", path=console)
        ET.SubElement(ser, "target", port="0")
        con = ET.SubElement(devs, "console", type="file")
        ET.SubElement(con, "source", path=console)
        ET.SubElement(con, "target", type="serial", port="0")
        xml_path = os.path.join(self.work, "verify.xml")
        ET.ElementTree(x).write(xml_path)
        self.virsh("define", xml_path)
        t_boot = time.monotonic()
        self.virsh("start", name)
        self.wait_state(name, "shut off", 120)
        log("verify boot: %.1f s to shut off" % (time.monotonic() - t_boot))
        with open(console, "rb") as f:
            vp_lines = [l.decode(errors="replace").strip() for l in f.read().splitlines()
                        if l.startswith(b"VP-")]
        self.assertIn("VP-VERIFY-OK", vp_lines, vp_lines)
        self.assertFalse([l for l in vp_lines if "FAIL" in l], vp_lines)
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
    # 1x: failures against the real daemon leave everything as it was

    def failing_run(self, name, extra, *must, pool="default", size="1G", rc=1):
        self.forget(name)
        before = self.state()
        r = self.vp(["--pool", pool, "--name", name, "--size", size] + extra)
        line = self.fails(r, *must, rc=rc)
        self.assertEqual(self.state(), before, line)
        return line

    def test_10_name_used_by_volume(self):
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

    def test_11_name_used_by_file_unknown_to_libvirt(self):
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

    def test_12_name_used_by_domain(self):
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

    def test_13_define_rejected(self):
        # Passes the tool's checks and domain capabilities; libvirt rejects
        # the definition (q35 has no IDE), after the volume was uploaded.
        self.ensure_default_pool()
        self.failing_run("vpt-badide", self.common() + ["--machine", "q35",
                                                        "--disk-bus", "ide"],
                         "domain definition", "IDE")

    def test_14_start_rejected(self):
        # Defined, then start fails: the domain and the volume are undone.
        self.ensure_default_pool()
        self.failing_run("vpt-badnet", ["--virt-type", "qemu", "--memory", "256", "--import",
                                        "--network", "network=vpt-nosuch", "--start"],
                         "start", "vpt-nosuch")

    def test_15_kvm(self):
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

    def test_16_pool_missing(self):
        self.failing_run("vpt-nopool", self.common(), "vpt-nope", "does not exist",
                         pool="vpt-nope")

    def test_17_pool_inactive(self):
        target = os.path.join(self.tmp, "inactive")
        self.virsh("pool-define-as", "vpt-inactive", "dir", "--target", target)
        self.addCleanup(self.virsh, "pool-undefine", "vpt-inactive", check=False)
        self.failing_run("vpt-inact", self.common(), "vpt-inactive", "not active",
                         pool="vpt-inactive")
        self.assertFalse(os.path.exists(target))

    # ------------------------------------------------------------------
    # 20-21: interrupted uploads

    def start_bg(self, args):
        """Runs the tool with -v in the background; returns (proc, event set
        once it announced the upload, output dict filled by reader threads)."""
        argv = [self.vp_bin, "-c", self.uri, "-v", "provision"] + args
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.vp_env, preexec_fn=default_signals)
        uploading = threading.Event()
        out = {"stdout": "", "stderr": [], "argv": argv}

        def err_reader():
            for line in p.stderr:
                out["stderr"].append(line.rstrip("\n"))
                if "uploading" in line:
                    uploading.set()

        def out_reader():
            out["stdout"] = p.stdout.read()
        threads = [threading.Thread(target=err_reader, daemon=True),
                   threading.Thread(target=out_reader, daemon=True)]
        for t in threads:
            t.start()
        out["threads"] = threads
        return p, uploading, out

    def finish_bg(self, p, out, timeout):
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("$ %s did not end within %d s; stderr: %s"
                      % (shlex.join(out["argv"]), timeout, out["stderr"]))
        for t in out["threads"]:
            t.join(10)
        p.stdout.close()
        p.stderr.close()
        return rc

    def interrupted_error(self, rc, out, want_rc, *must):
        what = "$ %s\n-> exit %d\nstdout: %s\nstderr:\n%s" % (
            shlex.join(out["argv"]), rc, out["stdout"], "\n".join(out["stderr"]))
        if rc < 0:
            self.fail("the tool was killed by signal %s, so no undo ran\n%s"
                      % (signal.Signals(-rc).name, what))
        if want_rc is not None:
            self.assertEqual(rc, want_rc, what)
        else:
            self.assertNotEqual(rc, 0, what)
        self.assertEqual(out["stdout"], "", what)
        lines = out["stderr"]
        self.assertTrue(lines and all(l.startswith(PREFIX) for l in lines), what)
        errors = [l for l in lines if not l[len(PREFIX):].startswith(STEPS)]
        self.assertEqual(errors, [lines[-1]], "want one error line, last\n" + what)
        for m in must:
            self.assertIn(m.lower(), lines[-1].lower(), what)
        return lines[-1]

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
            p, uploading, out = self.start_bg(["--pool", "default", "--name", name,
                                               "--size", size] + self.common())
            if not uploading.wait(60):
                p.kill()
                self.finish_bg(p, out, 30)
                self.fail("no 'uploading' step within 60 s: %s" % out["stderr"])
            time.sleep(delay)
            t_act = time.monotonic()
            action(p)
            t_acted = time.monotonic() - t_act
            rc = self.finish_bg(p, out, 90)
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

    def test_20_sigint_mid_upload(self):
        self.interrupt_during_upload("vpt-sigint", ["4T", "8T", "12T"],
                                     lambda p: p.send_signal(signal.SIGINT), 0.3,
                                     130, "interrupt")

    def test_01b_sigint_while_creating_default_pool(self):
        # the pool this run created is undone as well
        self.interrupt_during_upload("vpt-sigint0", ["4T", "8T", "12T"],
                                     lambda p: p.send_signal(signal.SIGINT), 0.3,
                                     130, "interrupt", pool_missing=True)

    def test_21_daemon_killed_mid_upload(self):
        def restart(p):
            r = run([SESSION, "restart", self.dir], check=False, timeout=120)
            if r.returncode != 0:
                p.kill()
                self.fail("session-daemon.sh restart failed: %s" % r.stderr)
        # The pool is persistent and autostarted: it comes back with the daemon.
        self.interrupt_during_upload("vpt-killed", ["8T", "12T"], restart, 0.5, None,
                                     "vpt-killed.qcow2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
