#!/usr/bin/env python3
"""Integration tests of `virt-provision import FILE --pool POOL` against a
real libvirtd (issue 9: a base image, such as a cloud image, put into a pool).

setUpClass starts an isolated session libvirtd (tests/libvirt_harness.py)
and a `default` dir pool on it; every command goes through the qemu+unix://
URI it prints.  The source images are made here with qemu-img and qemu-io,
which then judge the volumes (qemu-img compare, check, map) next to cmp.

Cases (each makes its own source files and removes the volumes it made):
  sparse_raw   a sparse 2 GiB raw (+ a 1000-byte tail) with data at start,
      middle and end: compare equal, still sparse, capacity rounded up to
      512; --json
  qcow2_byte_identical   a qcow2: the volume is byte-identical to the file
      (cmp)
  compressed_qcow2_stays_compressed   a compressed qcow2 (qemu-img convert
      -c): byte-identical, still compressed per qemu-img check and map,
      compares equal to its source
  preallocate_raw, preallocate_compressed_qcow2   --preallocate of a raw and
      of the compressed qcow2: every cluster mapped per qemu-img map, check
      clean, compare equal to the source
  name_and_summary   --name and the human summary
  streams_only   VIRT_PROVISION_STREAMS_ONLY=1 changes nothing (import reads
      the local file and always uploads through a stream)
  default_pool_created   a missing pool "default" is created as provision
      creates it (a dir pool, active, autostarted, where a session daemon of
      this machine keeps it): pool-created in --json, the volume
      byte-identical
  default_pool_undone   a missing pool "default" created for an import that
      then fails (a file of the volume's name already in the directory) is
      removed again; the file stays
  refused_*   volume name taken (1), file missing (2), a directory (2), a
      qcow2 with a backing file (2, naming the convert that flattens it),
      pool missing (1), pool inactive (1), a raw file with a qcow2 header
      as --source-format raw (2): one error line, pools and volumes as before
  sigint_during_data_upload, sigint_during_preallocate   SIGINT during the
      upload of a file full of data, and during a --preallocate of a large
      sparse raw: no volume left, killed by SIGINT

The binary comes from $VP_BIN.  Nothing is skipped: a missing tool, binary
or daemon is a failure.
"""

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
import qemuimg  # noqa: E402
from libvirt_harness import run  # noqa: E402

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
log = H.logger("import.py")
POOL = "default"


def pattern(byte, length):
    return bytes([byte]) * length


class Import(H.LibvirtTestCase):
    log = staticmethod(log)
    TMP_PREFIX = "vpi."
    NEEDED = ["virsh", "qemu-img", "qemu-io", "setpriv", "libvirtd", "cmp"]
    PACKAGES = ["libvirt-daemon", "libvirt-clients", "libvirt-daemon-driver-qemu",
                "qemu-utils", "diffutils"]
    STEPS = ("connected to", "creating volume", "uploading", "importing",
             "undoing what this run created",
             "still waiting for", "waited ")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.src = os.path.join(cls.tmp, "src")
        os.mkdir(cls.src)
        run(["virsh", "-q", "-c", cls.uri, "pool-define-as", POOL, "dir", "--target",
             cls.images])
        run(["virsh", "-q", "-c", cls.uri, "pool-build", POOL])
        run(["virsh", "-q", "-c", cls.uri, "pool-start", POOL])

    # ------------------------------------------------------------------
    # helpers

    def vp(self, args, json_out=False, env=None, timeout=300):
        argv = [self.vp_bin, "-c", self.uri]
        if json_out:
            argv.append("--json")
        argv += ["import"] + list(args)
        r = run(argv, check=False, timeout=timeout, env=env or self.vp_env)
        r.argv = argv
        return r

    def vols(self, pool=POOL):
        self.virsh("pool-refresh", pool)
        return sorted(l.split()[0] for l in self.virsh("vol-list", pool).splitlines()
                      if l.split())

    def state(self):
        pools = sorted(l.split()[0] + ":" + l.split()[1] for l in
                       self.virsh("pool-list", "--all").splitlines() if l.split())
        vols = self.vols() if POOL + ":active" in pools else None
        return {"pools": pools, "vols": vols, "dir": sorted(os.listdir(self.images))}

    def drop(self, name):
        self.addCleanup(self.virsh, "vol-delete", "--pool", POOL, name, check=False)

    def vol_xml(self, name):
        x = ET.fromstring(self.virsh("vol-dumpxml", "--pool", POOL, name))
        return {"format": x.find("target/format").get("type"),
                "capacity": int(x.findtext("capacity")),
                "path": x.findtext("target/path")}

    def compare(self, src, src_fmt, vol, vol_fmt):
        r = run(["qemu-img", "compare", "-f", src_fmt, "-F", vol_fmt, src, vol], check=False)
        self.assertEqual(r.returncode, 0, "qemu-img compare %s %s:\n%s%s"
                         % (src, vol, r.stdout, r.stderr))

    def cmp(self, a, b):
        r = run(["cmp", a, b], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def make_raw(self, name, length, writes):
        """A sparse raw file of LENGTH with (offset, byte, count) written."""
        path = os.path.join(self.src, name)
        with open(path, "wb") as f:
            f.truncate(length)
            for off, byte, count in writes:
                f.seek(off)
                f.write(pattern(byte, count))
        return path

    def make_qcow2(self, name, size, writes, *opts):
        path = os.path.join(self.src, name)
        run(["qemu-img", "create", "-q", "-f", "qcow2"] + list(opts) + [path, str(size)])
        for off, byte, count in writes:
            run(["qemu-io", "-f", "qcow2", "-c", "write -P %d %d %d" % (byte, off, count),
                 path])
        return path

    def compressed_qcow2(self):
        raw = self.make_raw("c.raw", 64 * MiB,
                            [(0, 0x11, 4 * MiB), (30 * MiB, 0x22, 2 * MiB),
                             (64 * MiB - 64 * KiB, 0x33, 64 * KiB)])
        path = os.path.join(self.src, "compressed.qcow2")
        if not os.path.exists(path):
            run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, path])
        return raw, path

    def assert_compressed(self, path):
        chk = qemuimg.check_ok(path)
        self.assertEqual(chk.get("check-errors"), 0, chk)
        self.assertFalse(chk.get("corruptions") or chk.get("leaks"), chk)
        self.assertGreater(chk.get("compressed-clusters", 0), 0, chk)
        # qemu-img 7.2's map gives no host offset for compressed data
        m = qemuimg.img_map(path)
        self.assertTrue([e for e in m if e["data"] and "offset" not in e], m)

    def assert_preallocated(self, path, size, cluster=64 * KiB):
        chk = qemuimg.check_ok(path)
        self.assertEqual(chk.get("check-errors"), 0, chk)
        for k in ("corruptions", "leaks"):
            self.assertFalse(chk.get(k), chk)
        self.assertEqual(chk["total-clusters"], -(-size // cluster), chk)
        self.assertEqual(chk["allocated-clusters"], chk["total-clusters"], chk)
        pos = 0
        for e in qemuimg.img_map(path):
            self.assertEqual(e["start"], pos, e)
            self.assertTrue(e["present"] and e["data"] and "offset" in e,
                            "unmapped guest range %s" % e)
            pos += e["length"]
        self.assertGreaterEqual(pos, size)

    def fails(self, r, *must, rc=1):
        return super().fails(r, *must, rc=rc)

    def refused(self, args, rc, *must):
        before = self.state()
        line = self.fails(self.vp(args), *must, rc=rc)
        self.assertEqual(self.state(), before, line)
        return line

    # ------------------------------------------------------------------
    # imports

    def test_sparse_raw(self):
        length = 2 * GiB + 1000
        src = self.make_raw("sparse.raw", length,
                            [(0, 0x41, 1 * MiB), (GiB + 12345, 0x42, 3 * MiB),
                             (length - 5000, 0x43, 5000)])
        self.drop("sparse.raw")
        t = time.monotonic()
        r = self.ok(self.vp([src, "--pool", POOL], json_out=True))
        took = time.monotonic() - t
        j = json.loads(r.stdout)
        log("2 GiB sparse raw (4 MiB of data) imported in %.2f s" % took)
        want = -(-length // 512) * 512
        for k, v in {"filename": src, "format": "raw", "source-format": "raw",
                     "virtual-size": want, "file-length": length, "pool": POOL,
                     "volume": "sparse.raw", "capacity": want, "volume-length": want,
                     "preallocation": "off"}.items():
            self.assertEqual(j.get(k), v, (k, j))
        # the data, to the file system's blocks (SEEK_DATA is 4 KiB-grained)
        data = 1 * MiB + 3 * MiB + 5000
        self.assertGreaterEqual(j["bytes-sent"], data, j)
        self.assertLessEqual(j["bytes-sent"], data + 4 * 4 * KiB, j)
        self.assertEqual(j["uri"], self.uri)
        v = self.vol_xml("sparse.raw")
        self.assertEqual(j["path"], v["path"])
        self.assertEqual((v["format"], v["capacity"]), ("raw", want))
        self.assertEqual(os.stat(v["path"]).st_size, want)
        self.compare(src, "raw", v["path"], "raw")
        # sparse: about the data, nowhere near 2 GiB
        self.assertLess(os.stat(v["path"]).st_blocks * 512, 16 * MiB)

    def test_qcow2_byte_identical(self):
        src = self.make_qcow2("plain.qcow2", 1 * GiB,
                              [(0, 0x51, 2 * MiB), (700 * MiB, 0x52, 64 * KiB)])
        self.drop("plain.qcow2")
        r = self.ok(self.vp([src, "--pool", POOL], json_out=True))
        j = json.loads(r.stdout)
        self.assertEqual((j["format"], j["source-format"], j["virtual-size"]),
                         ("qcow2", "qcow2", GiB), j)
        self.assertEqual(j["volume-length"], os.stat(src).st_size, j)
        v = self.vol_xml("plain.qcow2")
        self.assertEqual((v["format"], v["capacity"]), ("qcow2", GiB))
        self.cmp(src, v["path"])
        self.assertLess(os.stat(v["path"]).st_blocks * 512, 8 * MiB)

    def test_compressed_qcow2_stays_compressed(self):
        raw, src = self.compressed_qcow2()
        self.assert_compressed(src)
        self.drop("compressed.qcow2")
        self.ok(self.vp([src, "--pool", POOL]))
        v = self.vol_xml("compressed.qcow2")
        self.assertEqual((v["format"], v["capacity"]), ("qcow2", 64 * MiB))
        self.cmp(src, v["path"])
        self.assert_compressed(v["path"])
        self.compare(raw, "raw", v["path"], "qcow2")

    def test_preallocate_raw(self):
        src = self.make_raw("pre.raw", 256 * MiB + 512,
                            [(0, 0x61, 64 * KiB), (100 * MiB, 0x62, MiB),
                             (256 * MiB, 0x63, 512)])
        self.drop("pre-raw.qcow2")
        r = self.ok(self.vp([src, "--pool", POOL, "--preallocate", "--name",
                             "pre-raw.qcow2"], json_out=True))
        j = json.loads(r.stdout)
        self.assertEqual((j["format"], j["source-format"], j["preallocation"]),
                         ("qcow2", "raw", "metadata"), j)
        v = self.vol_xml("pre-raw.qcow2")
        self.assertEqual((v["format"], v["capacity"]), ("qcow2", 256 * MiB + 512))
        self.assert_preallocated(v["path"], 256 * MiB + 512)
        self.compare(src, "raw", v["path"], "qcow2")

    def test_preallocate_compressed_qcow2(self):
        raw, src = self.compressed_qcow2()
        self.drop("pre-c.qcow2")
        self.ok(self.vp([src, "--pool", POOL, "--preallocate", "--name", "pre-c.qcow2"]))
        v = self.vol_xml("pre-c.qcow2")
        self.assertEqual((v["format"], v["capacity"]), ("qcow2", 64 * MiB))
        self.assert_preallocated(v["path"], 64 * MiB)
        chk = qemuimg.check_ok(v["path"])
        self.assertFalse(chk.get("compressed-clusters"), chk)
        self.compare(src, "qcow2", v["path"], "qcow2")
        self.compare(raw, "raw", v["path"], "qcow2")

    def test_name_and_summary(self):
        src = self.make_raw("named.img", 10 * MiB, [(MiB, 0x71, 4096)])
        self.drop("base-named.img")
        r = self.ok(self.vp([src, "--pool", POOL, "-n", "base-named.img"]))
        self.assertIn("base-named.img", self.vols())
        self.assertNotIn("named.img", self.vols())
        out = r.stdout
        for want in ("'%s'" % src, "'base-named.img'", "'%s'" % POOL,
                     self.vol_xml("base-named.img")["path"], "raw", "10 MiB",
                     "4096 of 10485760 bytes"):
            self.assertIn(want, out, out)

    def test_streams_only(self):
        src = self.make_qcow2("streams.qcow2", 64 * MiB, [(MiB, 0x7a, MiB)])
        self.drop("streams.qcow2")
        env = dict(self.vp_env, VIRT_PROVISION_STREAMS_ONLY="1")
        self.ok(self.vp([src, "--pool", POOL], env=env))
        self.cmp(src, self.vol_xml("streams.qcow2")["path"])

    def pools(self):
        """{name: [state, autostart]} of pool-list --all."""
        return {l.split()[0]: l.split()[1:] for l in
                self.virsh("pool-list", "--all").splitlines() if l.split()}

    def without_default_pool(self):
        """No pool "default" now; at cleanup one as setUpClass defined it
        (whatever the case's run left)."""
        def restore():
            if POOL not in self.pools():
                self.virsh("pool-define-as", POOL, "dir", "--target", self.images)
            if self.pools()[POOL][0] != "active":
                self.virsh("pool-build", POOL)
                self.virsh("pool-start", POOL)
        self.addCleanup(restore)
        self.virsh("pool-destroy", POOL)
        self.virsh("pool-undefine", POOL)
        self.assertNotIn(POOL, self.pools())

    def test_default_pool_created(self):
        # issue 16: import failed with "storage pool 'default' does not
        # exist" where provision creates that pool
        src = self.make_qcow2("dp.qcow2", 64 * MiB, [(MiB, 0x5d, MiB)])
        self.without_default_pool()
        self.drop("dp.qcow2")
        r = self.ok(self.vp([src, "--pool", POOL], json_out=True))
        j = json.loads(r.stdout)
        self.assertIs(j["pool-created"], True, j)
        self.assertEqual(self.pools()[POOL], ["active", "yes"])
        x = ET.fromstring(self.virsh("pool-dumpxml", POOL))
        self.assertEqual((x.get("type"), x.findtext("target/path")), ("dir", self.images))
        self.cmp(src, self.vol_xml("dp.qcow2")["path"])
        # with the pool there, nothing is created but the volume
        self.drop("dp2.qcow2")
        r = self.ok(self.vp([src, "--pool", POOL, "--name", "dp2.qcow2"], json_out=True))
        self.assertIs(json.loads(r.stdout)["pool-created"], False, r.stdout)

    def test_default_pool_undone(self):
        src = self.make_raw("dpu.raw", MiB, [(0, 0x75, 4096)])
        self.without_default_pool()
        # a file the pool will list as a volume of that name once it exists:
        # the volume cannot be created after the pool was
        squat = os.path.join(self.images, "dpu.raw")
        with open(squat, "wb") as f:
            f.write(b"not an image")
        self.addCleanup(os.unlink, squat)
        before = self.state()
        r = self.vp([src, "--pool", POOL, "-v"])
        self.assertEqual(r.returncode, 1, self.desc(r))
        self.assertIn("creating directory pool 'default'", r.stderr, self.desc(r))
        self.assertIn("undoing what this run created", r.stderr, self.desc(r))
        self.assertEqual(r.stdout, "", self.desc(r))
        self.assertEqual(self.state(), before, self.desc(r))
        with open(squat, "rb") as f:
            self.assertEqual(f.read(), b"not an image")

    # ------------------------------------------------------------------
    # refusals

    def test_refused_name_taken(self):
        src = self.make_raw("taken.raw", MiB, [(0, 1, 512)])
        self.virsh("vol-create-as", POOL, "taken.raw", "2M", "--format", "raw")
        self.drop("taken.raw")
        line = self.refused([src, "--pool", POOL], 1, "already exists", "taken.raw",
                            "virsh vol-delete --pool %s taken.raw" % POOL)
        self.assertEqual(self.vol_xml("taken.raw")["capacity"], 2 * MiB, line)

    def test_refused_file_missing(self):
        self.refused([os.path.join(self.src, "nosuch.qcow2"), "--pool", POOL], 2,
                     "nosuch.qcow2", "no such file")

    def test_refused_directory(self):
        self.refused([self.src, "--pool", POOL], 2, "directory")

    def test_refused_backing_file(self):
        base = self.make_qcow2("under.qcow2", 16 * MiB, [])
        top = os.path.join(self.src, "overlay.qcow2")
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top])
        for extra in ([], ["--preallocate"]):
            self.refused([top, "--pool", POOL] + extra, 2, "backing file", base,
                         "virt-provision convert --source-format qcow2")

    def test_refused_pool_missing(self):
        src = self.make_raw("p.raw", MiB, [])
        self.refused([src, "--pool", "vpi-nope"], 1, "vpi-nope", "does not exist")

    def test_refused_pool_inactive(self):
        src = self.make_raw("p.raw", MiB, [])
        target = os.path.join(self.tmp, "inactive")
        self.virsh("pool-define-as", "vpi-inactive", "dir", "--target", target)
        self.addCleanup(self.virsh, "pool-undefine", "vpi-inactive", check=False)
        self.refused([src, "--pool", "vpi-inactive"], 1, "vpi-inactive", "not active",
                     "virsh pool-start")

    def test_refused_raw_with_qcow2_header(self):
        # as raw, libvirt would report the volume as qcow2: refused before
        # anything is created
        src = self.make_qcow2("hdr.qcow2", MiB, [])
        self.refused([src, "--pool", POOL, "--source-format", "raw"], 2, "qcow2 header")
        self.refused([self.make_raw("nohdr.raw", MiB, []), "--pool", POOL,
                      "--source-format", "qcow2"], 2, "no qcow2 header")
        self.refused([src, "--pool", POOL, "--source-format", "vmdk"], 2,
                     "--source-format", "vmdk")

    # ------------------------------------------------------------------
    # interrupted uploads

    def interrupted(self, make, args, label):
        before = self.state()
        for step in range(3):
            src, name = make(step)
            t = time.monotonic()
            rc, out, t_act, _ = self.run_interrupted(
                "import", [src, "--pool", POOL] + args,
                lambda p: p.send_signal(signal.SIGINT), 0.3, 120)
            log("%s: step %d, exit %d %.1f s after SIGINT (%.1f s in all)"
                % (label, step, rc, time.monotonic() - t_act, time.monotonic() - t))
            if rc == 0:
                self.virsh("vol-delete", "--pool", POOL, name, check=False)
                self.assertEqual(self.state(), before)
                continue
            line = self.interrupted_error(rc, out, -signal.SIGINT, "interrupt")
            self.assertEqual(self.state(), before, line)
            return
        self.fail("%s: every upload finished before SIGINT" % label)

    def test_sigint_during_data_upload(self):
        def make(step):
            # data all along: nothing travels for free
            path = os.path.join(self.src, "full.raw")
            size = (512 << step) * MiB
            if not os.path.exists(path) or os.stat(path).st_size != size:
                chunk = os.urandom(MiB)
                with open(path, "wb") as f:
                    for _ in range(size // MiB):
                        f.write(chunk)
            return path, "full.raw"
        self.drop("full.raw")
        try:
            self.interrupted(make, [], "data upload")
        finally:
            os.unlink(os.path.join(self.src, "full.raw"))

    def test_sigint_during_preallocate(self):
        def make(step):
            size = (4 + 4 * step) * TiB  # ext4 stops at 16 TiB
            return self.make_raw("huge.raw", size, [(0, 1, 4096)]), "huge.raw"
        self.drop("huge.raw")
        self.interrupted(make, ["--preallocate"], "preallocate")


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
