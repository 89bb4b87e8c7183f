#!/usr/bin/env python3
"""Guests from cloud images against a real libvirtd (issue 9): bases imported
into a pool, preallocated extended-L2 overlays on them, NoCloud seeds built
in process, and a guest that cloud-init really configures.

setUpClass starts an isolated session libvirtd (tests/libvirt_harness.py),
makes a small raw, qcow2 and compressed qcow2 base (64 MiB, a known pattern
at the start, the middle and the end) and imports them with
`virt-provision import`.  Every check of an image is made with qemu-img or
qemu-io, never with the tool itself.

Cases (the bases are shared and read-only; each case removes the volumes
and domains it made):
  overlays   overlay on each base (raw, qcow2, compressed qcow2): qemu-img
      info --backing-chain names the base and its format; check clean;
      compare equal to the base; map: every cluster read from the base; a
      qemu-io write into the overlay leaves its end offset unchanged and the
      base byte for byte as it was
  grown_reads_zeros_past_the_base   --size larger than the base: reads past
      the base's end are zeros
  shrinking_refused   --size smaller than the base: refused, nothing created
  print_xml_and_dry_run_create_nothing   --print-xml / --dry-run create
      nothing; the XML carries the <backingStore> chain with formats, the
      seed cdrom, the agent channel
  seed_volume   --cloud-init: the seed volume NAME-cidata.iso read back with
      isoinfo (label, names, user-data byte for byte, instance-id = domain
      UUID), attached read-only on virtio-scsi
  failures: base_missing; base_not_an_image (neither qcow2 nor raw);
      overlay_name_taken; seed_name_taken; bad_user_data (a seed file that
      is not cloud-config); daemon_killed_during_seed_upload;
      sigint_during_overlay_upload — each leaves the pools, volumes and
      domains as before and the bases intact
  cloud_init_guest   (label guest) a Debian 12 image built by
      tests/guest/make-cloud-image.sh (cached in $VP_CLOUD_IMAGE_DIR, else
      under the user's cache dir) is imported as a base and a guest
      provisioned with --base, --cloud-init user-data=...,clouduser-ssh-key=...
      and --wait under TCG: --wait returns an address; from outside, the
      hostname (guest agent), the key in the default user's authorized_keys
      and a runcmd marker (read out of the overlay with debugfs after
      shutdown) prove the seed was applied, and the overlay's end offset did
      not move while the guest wrote.

The binary comes from $VP_BIN.  Nothing is skipped: a missing tool,
package or image build is a failure.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
import qemuimg  # noqa: E402
from libvirt_harness import run, sha256  # noqa: E402

MiB = 1 << 20
BASE_SIZE = 64 * MiB
PATTERNS = {0: b"\xa1", 32 * MiB: b"\xb2", BASE_SIZE - MiB: b"\xc3"}
POOL = "default"
MAKE_IMAGE = os.path.join(HERE, "guest", "make-cloud-image.sh")
log = H.logger("cloud.py")


class Cloud(H.LibvirtTestCase):
    log = staticmethod(log)
    TMP_PREFIX = "vpc."
    NEEDED = ["virsh", "qemu-img", "qemu-io", "isoinfo", "setpriv", "libvirtd",
              "qemu-system-x86_64", "debugfs", "ssh-keygen"]
    PACKAGES = ["libvirt-daemon", "libvirt-clients", "libvirt-daemon-driver-qemu",
                "qemu-system-x86", "qemu-utils", "genisoimage", "e2fsprogs",
                "openssh-client"]
    STEPS = ("connected to", "creating volume", "uploading", "defining domain",
             "starting domain", "undoing what this run created", "waiting up to",
             "still waiting for", "waited ")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ensure_pool()
        cls.bases = {}
        raw = os.path.join(cls.work, "base.raw")
        with open(raw, "wb") as f:
            f.truncate(BASE_SIZE)
            for off, byte in PATTERNS.items():
                f.seek(off)
                f.write(byte * MiB)
        qcow = os.path.join(cls.work, "base.qcow2")
        comp = os.path.join(cls.work, "base-z.qcow2")
        run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow])
        run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, comp])
        for name, path in (("base.raw", raw), ("base.qcow2", qcow),
                           ("base-z.qcow2", comp)):
            r = run([cls.vp_bin, "-c", cls.uri, "import", path, "--pool", POOL,
                     "--name", name], check=False, env=cls.vp_env, timeout=300)
            if r.returncode != 0:
                raise RuntimeError("import %s failed (exit %d): %s"
                                   % (path, r.returncode, r.stderr))
            cls.bases[name] = cls.vol_path_of(name)
        cls.base_sums = {n: sha256(p) for n, p in cls.bases.items()}

    @classmethod
    def ensure_pool(cls):
        r = run(["virsh", "-q", "-c", cls.uri, "pool-info", POOL], check=False)
        if r.returncode != 0:
            for args in (["pool-define-as", POOL, "dir", "--target", cls.images],
                         ["pool-build", POOL], ["pool-start", POOL]):
                run(["virsh", "-q", "-c", cls.uri] + args)

    @classmethod
    def vol_path_of(cls, name):
        return run(["virsh", "-q", "-c", cls.uri, "vol-path", "--pool", POOL,
                    name]).stdout.strip()

    # ------------------------------------------------------------------
    # helpers

    def vp(self, args, json_out=False, timeout=300, env=None):
        argv = [self.vp_bin, "-c", self.uri] + (["--json"] if json_out else [])
        argv += ["provision", "--pool", POOL] + list(args)
        r = run(argv, check=False, timeout=timeout, env=env or self.vp_env)
        r.argv = argv
        return r

    def common(self):
        return ["--virt-type", "qemu", "--memory", "256", "--vcpus", "1",
                "--network", "none"]

    def state(self):
        """What a failed run must leave exactly as it found it: volumes of
        the pool, domains with their UUIDs, the pool directory, the bases'
        contents."""
        self.virsh("pool-refresh", POOL)
        vols = sorted(l.split()[0] for l in self.virsh("vol-list", POOL).splitlines()
                      if l.split())
        doms = {d: self.virsh("domuuid", d).strip()
                for d in self.virsh("list", "--all", "--name").split()}
        return {"vols": vols, "domains": doms,
                "dir": sorted(os.listdir(self.images)),
                "bases": {n: sha256(p) for n, p in self.bases.items()}}

    def forget(self, name):
        def do():
            self.drop_domain(name)
            for vol in (name + ".qcow2", name + "-cidata.iso"):
                self.virsh("vol-delete", "--pool", POOL, vol, check=False)
        self.addCleanup(do)

    def assert_bases_intact(self):
        for name, path in self.bases.items():
            self.assertEqual(sha256(path), self.base_sums[name], "base %s changed" % name)

    def end_offset(self, path):
        return qemuimg.check_ok(path)["image-end-offset"]

    def assert_overlay(self, path, base_name, size):
        base = self.bases[base_name]
        fmt = "raw" if base_name.endswith(".raw") else "qcow2"
        chain = qemuimg.info_chain(path)
        top = chain[0]
        self.assertEqual(top["format"], "qcow2", top)
        self.assertEqual(top["virtual-size"], size, top)
        self.assertEqual(top["backing-filename"], base, top)
        self.assertEqual(top["backing-filename-format"], fmt, top)
        self.assertTrue(top["format-specific"]["data"]["extended-l2"], top)
        self.assertEqual(chain[1]["filename"], base, chain)
        chk = qemuimg.check_ok(path)
        for k in ("corruptions", "leaks", "check-errors"):
            self.assertFalse(chk.get(k), chk)
        # Preallocated: every guest cluster has a host cluster, and the file
        # is exactly as long as all of them.
        self.assertEqual(chk["allocated-clusters"], chk["total-clusters"], chk)
        self.assertEqual(chk["image-end-offset"], os.stat(path).st_size, chk)
        r = run(["qemu-img", "compare", "-F", fmt, "-f", "qcow2", path, base],
                check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Every byte the base has is read from it (depth 1), none from the
        # overlay's own clusters.
        for e in qemuimg.img_map(path):
            if e["start"] < BASE_SIZE and e["data"]:
                self.assertEqual(e["depth"], 1, e)

    # ------------------------------------------------------------------
    # overlays and seeds

    def test_overlays(self):
        for base in sorted(self.bases):
            with self.subTest(base=base):
                name = "ov-" + base.replace(".", "-")
                self.forget(name)
                r = self.vp(["--name", name, "--base", base, "--no-define"])
                self.ok(r)
                path = self.vol_path_of(name + ".qcow2")
                self.assert_overlay(path, base, BASE_SIZE)
                end = self.end_offset(path)
                length = os.stat(path).st_size
                # The first write to a cluster allocates nothing: one
                # subcluster bit, no new cluster, no L2 growth.
                run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 4k 4k",
                     "-c", "write -P 0x5b %d 64k" % (40 * MiB), path])
                self.assertEqual(self.end_offset(path), end)
                self.assertEqual(os.stat(path).st_size, length)
                run(["qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 4k 4k",
                     "-c", "read -P 0xa1 0 4k", "-c", "read -P 0xb2 %d 4k" % (32 * MiB),
                     path])
                self.assert_bases_intact()

    def test_grown_reads_zeros_past_the_base(self):
        name = "ov-grown"
        self.forget(name)
        self.ok(self.vp(["--name", name, "--base", "base.qcow2", "--size", "256M",
                         "--no-define"]))
        path = self.vol_path_of(name + ".qcow2")
        self.assert_overlay(path, "base.qcow2", 256 * MiB)
        run(["qemu-io", "-f", "qcow2", "-c", "read -P 0xc3 %d 4k" % (BASE_SIZE - 4096),
             "-c", "read -P 0 %d 1M" % BASE_SIZE, "-c", "read -P 0 %d 1M" % (255 * MiB),
             path])

    def test_shrinking_refused(self):
        before = self.state()
        r = self.vp(["--name", "ov-small", "--base", "base.qcow2", "--size", "32M",
                     "--no-define"])
        self.fails(r, "smaller", "base.qcow2", rc=2)
        self.assertEqual(self.state(), before)

    def test_print_xml_and_dry_run_create_nothing(self):
        before = self.state()
        ud = self.write_file("ud.yaml", "#cloud-config\nhostname: x\n")
        args = ["--name", "ov-xml", "--base", "base.qcow2", "--size", "1G",
                "--cloud-init", "user-data=" + ud] + self.common()
        r = self.vp(args + ["--print-xml"])
        self.assertEqual(r.returncode, 0, self.desc(r))
        dom = ET.fromstring(r.stdout)
        disk = dom.find("devices/disk[@device='disk']")
        store = disk.find("backingStore")
        self.assertEqual(store.find("format").get("type"), "qcow2")
        self.assertEqual(store.find("source").get("file"), self.bases["base.qcow2"])
        self.assertIsNotNone(store.find("backingStore"), "chain not closed")
        self.assertEqual(len(store.find("backingStore")), 0)
        cd = dom.find("devices/disk[@device='cdrom']")
        self.assertTrue(cd.find("source").get("file").endswith("/ov-xml-cidata.iso"))
        self.assertEqual(cd.find("target").get("bus"), "scsi")
        self.assertIsNotNone(cd.find("readonly"))
        self.assertIsNotNone(dom.find("devices/controller[@model='virtio-scsi']"))
        chan = dom.find("devices/channel/target[@name='org.qemu.guest_agent.0']")
        self.assertIsNotNone(chan)
        self.assertIsNotNone(dom.find("uuid"))
        # with --json, the XML is the one document's "domain-xml"
        r = self.vp(args + ["--print-xml"], json_out=True)
        self.assertEqual(r.returncode, 0, self.desc(r))
        self.assertEqual(ET.fromstring(json.loads(r.stdout)["domain-xml"]).tag, "domain")
        r = self.vp(args + ["--dry-run"])
        self.assertEqual(r.returncode, 0, self.desc(r))
        self.assertEqual(self.state(), before)

    def write_file(self, name, text, mode="w"):
        p = os.path.join(self.work, name)
        with open(p, mode) as f:
            f.write(text)
        return p

    def test_seed_volume(self):
        name = "ov-seed"
        self.forget(name)
        ud_text = "#cloud-config\nruncmd:\n  - [sh, -c, 'echo hi']\n"
        ud = self.write_file("ud5.yaml", ud_text)
        r = self.vp(["--name", name, "--base", "base.raw", "--cloud-init",
                     "user-data=" + ud] + self.common(), json_out=True)
        self.assertEqual(r.returncode, 0, self.desc(r))
        doc = json.loads(r.stdout)
        seed = self.vol_path_of(name + "-cidata.iso")
        self.assertEqual(doc["seed"]["path"], seed, doc)
        self.assertEqual(doc["volume"]["base"], POOL + "/base.raw", doc)
        pvd = run(["isoinfo", "-d", "-i", seed]).stdout
        self.assertIn("Volume id: cidata", pvd)
        names = run(["isoinfo", "-R", "-f", "-i", seed]).stdout.split()
        self.assertEqual(sorted(names), ["/meta-data", "/user-data"])
        got = run(["isoinfo", "-R", "-x", "/user-data", "-i", seed]).stdout
        self.assertEqual(got, ud_text)
        meta = run(["isoinfo", "-R", "-x", "/meta-data", "-i", seed]).stdout
        uuid = self.virsh("domuuid", name).strip()
        self.assertIn(uuid, meta)
        self.assertIn(name, meta)
        dom = ET.fromstring(self.virsh("dumpxml", "--inactive", name))
        cd = dom.find("devices/disk[@device='cdrom']")
        self.assertEqual(cd.find("source").get("file"), seed)
        self.assertIsNotNone(cd.find("readonly"))

    # ------------------------------------------------------------------
    # failures leave everything as it was

    def assert_refused(self, args, *must, rc):
        before = self.state()
        r = self.vp(args)
        line = self.fails(r, *must, rc=rc)
        self.assertEqual(self.state(), before)
        return line

    def test_base_missing(self):
        self.assert_refused(["--name", "f-nobase", "--base", "nosuch.qcow2"]
                            + self.common(), "nosuch.qcow2", "import", rc=2)

    def test_base_not_an_image(self):
        iso = os.path.join(self.work, "not-a-base.iso")
        run(["genisoimage", "-quiet", "-o", iso, "-V", "DATA",
             self.write_file("iso-content.txt", "an ISO is no disk image\n")])
        self.virsh("vol-create-as", POOL, "not-a-base.iso", "0", "--format", "raw")
        self.addCleanup(self.virsh, "vol-delete", "--pool", POOL, "not-a-base.iso",
                        check=False)
        self.virsh("vol-upload", "--pool", POOL, "not-a-base.iso", iso)
        self.virsh("pool-refresh", POOL)
        fmt = ET.fromstring(self.virsh("vol-dumpxml", "--pool", POOL, "not-a-base.iso")
                            ).find("target/format").get("type")
        self.assertEqual(fmt, "iso", "libvirt no longer probes ISO images")
        self.assert_refused(["--name", "f-iso", "--base", "not-a-base.iso"]
                            + self.common(), "iso", "qcow2 or raw", rc=2)

    def test_overlay_name_taken(self):
        self.virsh("vol-create-as", POOL, "f-taken.qcow2", "1M")
        self.addCleanup(self.virsh, "vol-delete", "--pool", POOL, "f-taken.qcow2",
                        check=False)
        self.assert_refused(["--name", "f-taken", "--base", "base.qcow2"] + self.common(),
                            "f-taken.qcow2", "exists", rc=1)

    def test_seed_name_taken(self):
        self.virsh("vol-create-as", POOL, "f-seed-cidata.iso", "1M")
        self.addCleanup(self.virsh, "vol-delete", "--pool", POOL, "f-seed-cidata.iso",
                        check=False)
        ud = self.write_file("ud13.yaml", "#cloud-config\nhostname: x\n")
        self.assert_refused(["--name", "f-seed", "--base", "base.qcow2", "--cloud-init",
                             "user-data=" + ud] + self.common(),
                            "f-seed-cidata.iso", "exists", rc=1)

    def test_bad_user_data(self):
        ud = self.write_file("ud14.txt", "just some words\n")
        self.assert_refused(["--name", "f-ud", "--base", "base.qcow2", "--cloud-init",
                             "user-data=" + ud] + self.common(), "ud14.txt", rc=2)

    def run_bg_until(self, args, text):
        """Starts a provision in the background and SIGSTOPs it as soon as it
        printed a step line holding text; returns (proc, out)."""
        argv = [self.vp_bin, "-c", self.uri, "-v", "provision", "--pool", POOL] + args
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.vp_env, preexec_fn=H.default_signals)
        out = {"stdout": "", "stderr": [], "argv": argv}
        seen = threading.Event()

        def err_reader():
            for line in p.stderr:
                out["stderr"].append(line.rstrip("\n"))
                if text in line and not seen.is_set():
                    p.send_signal(signal.SIGSTOP)
                    seen.set()

        def out_reader():
            out["stdout"] = p.stdout.read()
        out["threads"] = [threading.Thread(target=err_reader, daemon=True),
                          threading.Thread(target=out_reader, daemon=True)]
        for t in out["threads"]:
            t.start()
        if not seen.wait(120):
            p.kill()
            self.finish_bg(p, out, 30)
            self.fail("no step line with %r: %s" % (text, out["stderr"]))
        return p, out

    def test_daemon_killed_during_seed_upload(self):
        name = "f-killed"
        self.forget(name)
        ud = self.write_file("ud15.yaml", "#cloud-config\nhostname: x\n")
        before = self.state()
        p, out = self.run_bg_until(["--name", name, "--base", "base.qcow2", "--cloud-init",
                                    "user-data=" + ud] + self.common(),
                                   "creating volume '%s-cidata.iso'" % name)
        # The tool is stopped right before the seed's upload; the daemon is
        # killed and started again under it, then the tool goes on.
        r = run([H.SESSION, "restart", self.dir], check=False, timeout=120)
        p.send_signal(signal.SIGCONT)
        self.assertEqual(r.returncode, 0, r.stderr)
        rc = self.finish_bg(p, out, 180)
        self.interrupted_error(rc, out, 1)
        self.assertEqual(self.state(), before)

    def test_sigint_during_overlay_upload(self):
        name = "f-sigint"
        self.forget(name)
        before = self.state()
        p, out = self.run_bg_until(["--name", name, "--base", "base.qcow2",
                                    "--size", "4T"] + self.common(), "uploading")
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGCONT)
        rc = self.finish_bg(p, out, 180)
        self.interrupted_error(rc, out, -signal.SIGINT, "interrupt")
        self.assertEqual(self.state(), before)

    # ------------------------------------------------------------------
    # cloud-init really runs

    @H.boots_guest
    def test_cloud_init_guest(self):
        img = H.cloud_image_dir()
        t = time.monotonic()
        r = run([MAKE_IMAGE, img], check=False, timeout=1800)
        self.assertEqual(r.returncode, 0, "make-cloud-image.sh failed:\n" + r.stderr)
        log("cloud image ready in %.1f s (%s)" % (time.monotonic() - t, img))
        for f in ("vmlinuz", "initrd.img"):
            # qemu runs as the daemon user and must read them
            shutil.copy(os.path.join(img, f), os.path.join(self.work, "cloud-" + f))
            os.chmod(os.path.join(self.work, "cloud-" + f), 0o644)
        base = "debian-12.raw"
        t = time.monotonic()
        r = run([self.vp_bin, "-c", self.uri, "import", os.path.join(img, base),
                 "--pool", POOL], check=False, env=self.vp_env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(self.virsh, "vol-delete", "--pool", POOL, base, check=False)
        log("imported the 2 GiB base in %.1f s" % (time.monotonic() - t))

        key = os.path.join(self.work, "id_vp")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vp-test-key",
             "-f", key])
        with open(key + ".pub") as f:
            pub = f.read().strip()
        ud = self.write_file("ud30.yaml",
                             "#cloud-config\nruncmd:\n"
                             "  - [sh, -c, 'echo vp-marker-30 > /var/tmp/vp-marker']\n")
        name = "ci-guest"
        self.forget(name)
        t = time.monotonic()
        r = self.vp(["--name", name, "--base", base, "--size", "4G",
                     "--cloud-init", "user-data=%s,clouduser-ssh-key=%s" % (ud, key + ".pub"),
                     "--virt-type", "qemu", "--memory", "1024", "--vcpus", "2",
                     "--network", "user",
                     "--kernel", os.path.join(self.work, "cloud-vmlinuz"),
                     "--initrd", os.path.join(self.work, "cloud-initrd.img"),
                     "--cmdline", "root=/dev/vda rw console=ttyS0",
                     "--wait=900"], json_out=True, timeout=1000)
        boot = time.monotonic() - t
        self.assertEqual(r.returncode, 0, self.desc(r))
        doc = json.loads(r.stdout)
        log("guest answered with %s after %.1f s of TCG" % (doc["addresses"], boot))
        addrs = [a["address"] for a in doc["addresses"]]
        self.assertTrue(addrs and not any(a.startswith("127.") for a in addrs), doc)
        path = self.vol_path_of(name + ".qcow2")
        # What the overlay was as written: its length, every cluster placed
        # (qemu holds the image now; it is checked once the guest is off).
        end = doc["volume"]["file-length"]
        self.assertEqual(os.stat(path).st_size, end)

        # The hostname is the guest's name, asked of its agent.
        host = json.loads(self.virsh("qemu-agent-command", name,
                                     '{"execute":"guest-get-host-name"}'))
        self.assertEqual(host["return"]["host-name"], name)
        # cloud-init must have finished before the guest goes down.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.guest_file_exists(name, "/var/lib/cloud/instance/boot-finished"):
                break
            time.sleep(2)
        else:
            self.fail("cloud-init did not finish within 600 s of the first address")
        log("cloud-init finished %.1f s after the start" % (time.monotonic() - t))
        # A clean power-off, so that everything the guest wrote is on the
        # disk.  The agent's own guest-shutdown runs shutdown(8), which
        # needs logind and D-Bus that a minbase image lacks; systemctl talks
        # to systemd directly.
        self.virsh("qemu-agent-command", name, json.dumps(
            {"execute": "guest-exec",
             "arguments": {"path": "/bin/systemctl", "arg": ["poweroff"]}}))
        self.wait_state(name, "shut off", 300)

        self.assertEqual(self.end_offset(path), end,
                         "the overlay grew while the guest wrote")
        self.assertEqual(os.stat(path).st_size, end)
        chk = qemuimg.check_ok(path)
        self.assertFalse(chk.get("corruptions") or chk.get("leaks"), chk)
        flat = os.path.join(self.tmp, "flat.raw")
        run(["qemu-img", "convert", "-O", "raw", path, flat], timeout=600)
        self.addCleanup(os.unlink, flat)

        def cat(p):
            return run(["debugfs", "-R", "cat " + p, flat]).stdout
        self.assertIn(pub, cat("/home/debian/.ssh/authorized_keys"))
        self.assertEqual(cat("/var/tmp/vp-marker").strip(), "vp-marker-30")
        self.assertEqual(cat("/etc/hostname").strip(), name)
        self.assert_bases_intact()

    def guest_file_exists(self, dom, path):
        cmd = json.dumps({"execute": "guest-file-open",
                          "arguments": {"path": path, "mode": "r"}})
        r = self.virsh("qemu-agent-command", dom, cmd, check=False)
        if r.returncode != 0:
            return False
        handle = json.loads(r.stdout)["return"]
        self.virsh("qemu-agent-command", dom,
                   json.dumps({"execute": "guest-file-close",
                               "arguments": {"handle": handle}}), check=False)
        return True


if __name__ == "__main__":
    H.main()
