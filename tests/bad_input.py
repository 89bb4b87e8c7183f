#!/usr/bin/env python3
"""Bad-input table test for virt-provision (`image`, `info`, `check`, and
the checks of `provision` that come before any connection to libvirt).

Every row gives the arguments, the expected exit code and substrings the
one-line error message must contain (case-insensitive; a tuple means "any of
these").  For every failing row we also check that

  * stderr is exactly one line starting with "virt-provision: ",
  * stdout is empty (with --json: empty or one complete JSON document),
  * the scratch directory holds exactly what it held before (names, types,
    modes, sizes, inode numbers, mtimes and content of files; hidden
    temporary files count).

Besides the table: an existing FILE (untouched without --force, replaced with
it), an unwritable directory (run as `nobody` when we are root), a full disk
(a 2 MiB tmpfs in a private mount namespace) and SIGINT or SIGTERM during
`--preallocation full` (nothing left, then the tool dies of that signal).

The binary comes from $VP_BIN.  Nothing is skipped: missing tools or a mount
namespace that cannot be made are failures.
"""

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standalone import require_vp, snap_diff, snapshot  # noqa: E402
import qcow2_header  # noqa: E402

PREFIX = "virt-provision: "
KiB, MiB, GiB, TiB, PiB, EiB = (1 << 10), (1 << 20), (1 << 30), (1 << 40), (1 << 50), (1 << 60)
OLD_MTIME_NS = 978307200 * 10**9 + 123456789   # 2001-01-01, easy to spot if touched
T0 = time.monotonic()
VP = None


# --------------------------------------------------------------------------
# helpers shared by the outer test and the --inner namespace runner

def child_env():
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    env.pop("LANGUAGE", None)
    return env


def default_sigint():
    # The tool must see SIGINT as at an interactive terminal, even when this
    # test was started with SIGINT ignored (background job, CI runner).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def inner_main():
    """Runs inside `unshare -m`: mount a tmpfs, run one command, report."""
    spec = json.load(sys.stdin)
    mnt = spec["mount"]
    res = {}
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % spec["size"],
                        "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        res["error"] = "mount -t tmpfs failed (rc %d): %s" % (r.returncode, r.stderr.strip())
        json.dump(res, sys.stdout)
        return 0
    for name, content in spec.get("pre", {}).items():
        p = os.path.join(mnt, name)
        with open(p, "w") as f:
            f.write(content)
        os.utime(p, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    res["before"] = snapshot(mnt)
    st = os.statvfs(mnt)
    res["free_before"] = st.f_bavail * st.f_frsize
    r = subprocess.run(spec["cmd"], capture_output=True, text=True, env=child_env(),
                       timeout=30, preexec_fn=default_sigint)
    res.update(rc=r.returncode, stdout=r.stdout, stderr=r.stderr)
    res["after"] = snapshot(mnt)
    st = os.statvfs(mnt)
    res["free_after"] = st.f_bavail * st.f_frsize
    json.dump(res, sys.stdout)
    return 0


# --------------------------------------------------------------------------

def setUpModule():
    global VP
    VP = require_vp()


def tearDownModule():
    print("\nbad_input.py runtime: %.1f s" % (time.monotonic() - T0), file=sys.stderr)


def A(*alts):
    """Any of these substrings."""
    return tuple(a.lower() for a in alts)


class BadInput(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vp-bad-input-")
        cls.d = os.path.realpath(cls.tmp.name)
        d = cls.d
        qemu_img = shutil.which("qemu-img")
        if not qemu_img:
            raise RuntimeError("qemu-img not found in PATH (needed for the backing file)")
        subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", os.path.join(d, "base.qcow2"),
                        "1M"], check=True)
        cls.write(os.path.join(d, "existing.qcow2"), b"precious data, not an image\n")
        cls.write(os.path.join(d, "notes.txt"), b"hello, I am plain text\n" * 100)
        cls.write(os.path.join(d, "empty.bin"), b"")
        cls.write(os.path.join(d, "short-magic.bin"), b"QFI\xfb\x00\x00\x00")
        cls.write(os.path.join(d, "zeros.raw"), b"\0" * 65536)
        os.mkdir(os.path.join(d, "existing-dir"))
        cls.write(os.path.join(d, "existing-dir", "keep.txt"), b"keep me\n")
        os.symlink("no-such-target.qcow2", os.path.join(d, "dangling-link"))
        for sub in ("ctl", "interrupt"):
            os.mkdir(os.path.join(d, sub))

    @classmethod
    def tearDownClass(cls):
        # undo permission changes so cleanup always works
        for dirpath, dirnames, _ in os.walk(cls.d):
            for n in dirnames:
                try:
                    os.chmod(os.path.join(dirpath, n), 0o755)
                except OSError:
                    pass
        cls.tmp.cleanup()

    @staticmethod
    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))

    # ---------------------------------------------------------------- runner

    def run_vp(self, args, prefix=(), timeout=30):
        cmd = list(prefix) + [VP] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(),
                           timeout=timeout, preexec_fn=default_sigint)
        return cmd, r.returncode, r.stdout, r.stderr

    def problems_with_error(self, cmd, rc, out, err, exp_rc, subs):
        """Return a list of human-readable problems (empty = fine)."""
        probs = []
        if rc != exp_rc:
            probs.append("exit %d, expected %d" % (rc, exp_rc))
        lines = err.splitlines()
        if len(lines) != 1 or not err.endswith("\n"):
            probs.append("stderr is not exactly one line: %r" % err)
        if not lines or not lines[0].startswith(PREFIX):
            probs.append("stderr does not start with %r: %r" % (PREFIX, err))
        low = err.lower()
        for s in subs:
            alts = s if isinstance(s, tuple) else (s.lower(),)
            if not any(a in low for a in alts):
                probs.append("message lacks %s: %r" % (" or ".join(repr(a) for a in alts), err))
        if "--json" in cmd:
            if out.strip():
                try:
                    json.loads(out)
                except ValueError:
                    probs.append("--json stdout holds a partial/invalid document: %r" % out)
        elif out:
            probs.append("stdout not empty: %r" % out)
        return probs

    def check_row(self, args, exp_rc, subs, prefix=(), root=None):
        root = root or self.d
        before = snapshot(root)
        cmd, rc, out, err = self.run_vp(args, prefix)
        probs = self.problems_with_error(cmd, rc, out, err, exp_rc, subs)
        after = snapshot(root)
        probs += snap_diff(before, after)
        self.remove_new(root, before, after)    # keep later rows independent
        self.assertEqual(probs, [], "\n  $ %s\n  got exit %d, stderr %r" %
                         (shlex.join(cmd), rc, err))

    @staticmethod
    def remove_new(root, before, after):
        for rel in sorted(set(after) - set(before), reverse=True):
            p = os.path.join(root, rel)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.lexists(p):
                os.unlink(p)

    def check_success(self, args, created):
        """Expect exit 0 and exactly `created` (relative path) to appear."""
        before = snapshot(self.d)
        cmd, rc, out, err = self.run_vp(args)
        after = snapshot(self.d)
        diff = snap_diff(before, after)
        ok_diff = ["left behind %s %s" % (created, after[created][:3])] if created in after else []
        msg = "\n  $ %s\n  exit %d, stdout %r, stderr %r, dir diff %s" % (
            shlex.join(cmd), rc, out, err, diff)
        try:
            self.assertEqual(rc, 0, msg)
            self.assertEqual(diff, ok_diff, msg)
            self.assertIn(created, after, msg)
            with open(os.path.join(self.d, created), "rb") as f:
                self.assertEqual(f.read(4), b"QFI\xfb", msg)
        finally:
            p = os.path.join(self.d, created)
            if os.path.lexists(p):
                os.unlink(p)

    # ----------------------------------------------------------------- table

    def rows(self):
        d = self.d
        N = lambda name: os.path.join(d, name)    # noqa: E731
        out = N("out.qcow2")
        img = ["image", out]
        base = ["--backing", N("base.qcow2"), "--backing-format", "qcow2"]
        prov = ["-c", "qemu+unix:///session?socket=" + N("no-daemon.sock"), "provision"]
        return [
            # --- sizes
            ("size empty", img + ["--size", ""], 2, ["--size needs a value"]),
            ("size -1", img + ["--size", "-1"], 2, ["size", "-1"]),
            ("size=-1G", img + ["--size=-1G"], 2, ["size", "-1g"]),
            ("size 20X", img + ["--size", "20X"], 2, ["size", "20x"]),
            ("size 1e3", img + ["--size", "1e3"], 2, ["size", "1e3"]),
            ("size 99999E", img + ["--size", "99999E"], 2, ["size", "99999e"]),
            ("size G", img + ["--size", "G"], 2, ["size"]),
            ("size 1GG", img + ["--size", "1GG"], 2, ["size", "1gg"]),
            ("size 1.5.5G", img + ["--size", "1.5.5G"], 2, ["size", "1.5.5g"]),
            ("size 2^64 bytes", img + ["--size", "18446744073709551616"], 2,
             ["size", "18446744073709551616"]),
            ("size 16E (2^64)", img + ["--size", "16E"], 2, ["size", "16e"]),
            ("size 8E (2^63)", img + ["--size", "8E"], 2, ["size", A("8e", "8 e", "9223372036854775808")]),
            ("missing --size", ["image", out], 2, ["size"]),
            # --- size above the format's maximum (L1 table capped at 32 MiB)
            ("512B clusters, 129G", img + ["--cluster-size", "512", "--size", "129G"], 2,
             ["size", A("129g", "129 g", "138512695296", "128")]),
            ("512B clusters, 128G+512", img + ["--cluster-size", "512", "--size",
                                               str(128 * GiB + 512)], 2,
             ["size", A(str(128 * GiB + 512), "128")]),
            ("64K clusters, 2P+1T", img + ["--size", "2049T"], 2,
             ["size", A("2049t", "2049 t", str(2049 * TiB), "2 p", "2p", "2048 t", "2048t")]),
            ("64K clusters, 2P+512", img + ["--size", str(2 * PiB + 512)], 2,
             ["size", A(str(2 * PiB + 512), "2 p", "2p", "2048")]),
            ("64K ext-L2, 1P+1T", img + ["--extended-l2", "--size", "1025T"], 2,
             ["size", A("1025t", "1025 t", str(1025 * TiB), "1 p", "1p", "1024")]),
            ("2M clusters, 3E", img + ["--cluster-size", "2M", "--size", "3E"], 2,
             ["size", A("3e", "3 e", str(3 * EiB), "2 e", "2e")]),
            # --- cluster sizes
            ("cluster 0", img + ["--size", "1M", "--cluster-size", "0"], 2, ["cluster", "0"]),
            ("cluster 256", img + ["--size", "1M", "--cluster-size", "256"], 2,
             ["cluster", "256"]),
            ("cluster 3000", img + ["--size", "1M", "--cluster-size", "3000"], 2,
             ["cluster", "3000"]),
            ("cluster 4M", img + ["--size", "1M", "--cluster-size", "4M"], 2,
             ["cluster", A("4m", "4 m", "4194304")]),
            ("cluster 64X", img + ["--size", "1M", "--cluster-size", "64X"], 2,
             ["cluster", "64x"]),
            # --- refcount widths
            ("refcount 0", img + ["--size", "1M", "--refcount-bits", "0"], 2, ["refcount", "0"]),
            ("refcount 3", img + ["--size", "1M", "--refcount-bits", "3"], 2, ["refcount", "3"]),
            ("refcount 128", img + ["--size", "1M", "--refcount-bits", "128"], 2,
             ["refcount", "128"]),
            ("refcount abc", img + ["--size", "1M", "--refcount-bits", "abc"], 2,
             ["refcount", "abc"]),
            # --- what compat 0.10 cannot carry
            ("0.10 + refcount 8", img + ["--size", "1M", "--compat", "0.10", "--refcount-bits",
                                         "8"], 2, ["refcount", "compat"]),
            ("0.10 + lazy", img + ["--size", "1M", "--compat", "0.10", "--lazy-refcounts"], 2,
             ["lazy", "compat"]),
            ("0.10 + extended-l2", img + ["--size", "1M", "--compat", "0.10", "--extended-l2"],
             2, ["extended", "compat"]),
            # --- extended L2 needs >= 16K clusters
            ("ext-L2, 8K clusters", img + ["--size", "1M", "--extended-l2", "--cluster-size",
                                           "8K"], 2,
             ["extended", A("cluster", "16k", "16 k", "16384")]),
            ("ext-L2, 512 clusters", img + ["--size", "1M", "--extended-l2", "--cluster-size",
                                            "512"], 2,
             ["extended", A("cluster", "16k", "16 k", "16384")]),
            # --- backing
            ("backing w/o format", img + ["--size", "1M", "--preallocation", "off",
                                          "--backing", N("base.qcow2")], 2, ["backing-format"]),
            ("backing-format w/o backing", img + ["--size", "1M", "--preallocation", "off",
                                                  "--backing-format", "qcow2"], 2,
             [A("--backing ", "--backing,", "--backing.", "--backing'", "backing file",
                "without --backing", "needs --backing", "requires --backing")]),
            ("backing + prealloc metadata", img + ["--size", "1M", "--preallocation",
                                                   "metadata"] + base, 2,
             ["preallocation", "extended"]),
            ("backing + prealloc falloc", img + ["--size", "1M", "--preallocation",
                                                 "falloc"] + base, 2,
             ["preallocation", "extended"]),
            ("backing + prealloc full", img + ["--size", "1M", "--preallocation", "full"] + base,
             2, ["preallocation", "extended"]),
            # --- unknown values / options / arguments
            ("prealloc sparse", img + ["--size", "1M", "--preallocation", "sparse"], 2,
             ["preallocation", "sparse"]),
            ("compat 0.11", img + ["--size", "1M", "--compat", "0.11"], 2, ["compat", "0.11"]),
            ("compat 2", img + ["--size", "1M", "--compat", "2"], 2, ["compat", "2"]),
            ("format vmdk", img + ["--size", "1M", "--format", "vmdk"], 2, ["format", "vmdk"]),
            ("unknown option", img + ["--size", "1M", "--bogus-opt"], 2, ["bogus-opt"]),
            ("unknown subcommand", ["frobnicate", out], 2, ["frobnicate"]),
            ("no subcommand", [], 2, [A("command", "usage", "image")]),
            ("image w/o FILE", ["image", "--size", "1M"], 2, [A("file", "argument", "missing")]),
            ("image extra arg", img + [N("extra-arg"), "--size", "1M"], 2,
             [A("extra-arg", "one file", "exactly one")]),
            ("info w/o FILE", ["info"], 2, [A("file", "argument", "missing")]),
            ("check extra arg", ["check", N("base.qcow2"), N("extra-arg")], 2,
             [A("extra-arg", "one file", "exactly one")]),
            # --- empty and blank option values: one usage error, naming the
            # option and showing a value, for every command.  provision's
            # rows name a socket where no daemon listens: the check comes
            # before any connection, so the message is not "cannot connect".
            ("provision --pool=", prov + ["--pool=", "--name", "x", "--size", "1G"], 2,
             ["--pool needs a value, such as --pool default"]),
            ("provision --memory=", prov + ["--pool", "default", "--name", "x", "--size",
                                            "1G", "--memory="], 2,
             ["--memory needs a value, such as --memory 4G"]),
            ("provision --name='  '", prov + ["--pool", "default", "--name=  ", "--size",
                                              "1G"], 2, ["--name needs a value"]),
            ("provision -p ''", prov + ["-p", "", "--name", "x", "--size", "1G"], 2,
             ["--pool needs a value"]),
            ("provision --cdrom=", prov + ["--pool", "default", "--name", "x", "--size",
                                           "1G", "--cdrom="], 2, ["--cdrom needs a value"]),
            ("size blank", img + ["--size", "  "], 2, ["--size needs a value, such as --size"]),
            ("format=", img + ["--size", "1M", "--format="], 2,
             ["--format needs a value, such as --format qcow2"]),
            ("backing blank", img + ["--size", "1M", "--preallocation", "off", "--backing",
                                     " ", "--backing-format", "qcow2"], 2,
             ["--backing needs a value"]),
            ("convert --source-format=", ["convert", N("zeros.raw"), out,
                                          "--source-format="], 2,
             ["--source-format needs a value"]),
            ("-c '' image", ["-c", ""] + img + ["--size", "1M"], 2,
             ["--connect needs a value"]),
            ("info --pool=", ["info", "--pool=", "--volume", "v"], 2,
             ["--pool needs a value"]),
            # --- global options do not change the error contract
            ("-q bad size", ["-q"] + img + ["--size", "20X"], 2, ["size", "20x"]),
            ("--json before, bad size", ["--json"] + img + ["--size", "20X"], 2, ["size", "20x"]),
            ("--json after, bad cluster", img + ["--size", "1M", "--cluster-size", "3000",
                                                 "--json"], 2, ["cluster", "3000"]),
            # --- existing paths
            ("existing file", ["image", N("existing.qcow2"), "--size", "1M"], 1,
             ["existing.qcow2", "exist", "force"]),
            ("existing file --json", ["--json", "image", N("existing.qcow2"), "--size", "1M"],
             1, ["existing.qcow2", "exist"]),
            ("existing file, bad size, --force", ["image", N("existing.qcow2"), "--size", "20X",
                                                  "--force"], 2, ["size", "20x"]),
            ("existing file, bad combo, --force", ["image", N("existing.qcow2"), "--size", "1M",
                                                   "--compat", "0.10", "--lazy-refcounts",
                                                   "--force"], 2, ["lazy", "compat"]),
            ("existing dir", ["image", N("existing-dir"), "--size", "1M"], 1, ["existing-dir"]),
            ("existing dir --force", ["image", N("existing-dir"), "--size", "1M", "--force"], 1,
             ["existing-dir"]),
            ("dangling symlink", ["image", N("dangling-link"), "--size", "1M"], 1,
             ["dangling-link", "exist"]),
            ("missing parent", ["image", N("absent-dir/x.qcow2"), "--size", "1M"], 1,
             ["absent-dir", A("no such", "not exist", "does not exist", "not found")]),
            # --- info / check on missing or non-qcow2 files
            ("info missing", ["info", N("nope.qcow2")], 1,
             ["nope.qcow2", A("no such", "not exist", "does not exist", "not found")]),
            ("check missing", ["check", N("nope.qcow2")], 1,
             ["nope.qcow2", A("no such", "not exist", "does not exist", "not found")]),
            ("info --json missing", ["--json", "info", N("nope.qcow2")], 1, ["nope.qcow2"]),
            # Like qemu-img: info reports a file without the qcow2 magic as raw
            # (not bad input), and check refuses it with qemu-img check's 63.
            ("check text", ["check", N("notes.txt")], 63, ["notes.txt", "not a qcow2"]),
            ("check --json text", ["check", N("notes.txt"), "--json"], 63, ["notes.txt"]),
            ("check empty", ["check", N("empty.bin")], 63, ["empty.bin"]),
            ("info truncated magic", ["info", N("short-magic.bin")], 1, ["short-magic.bin"]),
            ("check truncated magic", ["check", N("short-magic.bin")], 1, ["short-magic.bin"]),
            ("info dir", ["info", N("existing-dir")], 1, ["existing-dir"]),
            ("check dir", ["check", N("existing-dir")], 1, ["existing-dir"]),
            ("info dangling link", ["info", N("dangling-link")], 1, ["dangling-link"]),
        ]

    def test_table(self):
        for name, args, rc, subs in self.rows():
            with self.subTest(row=name):
                self.check_row(args, rc, subs)

    def test_controls(self):
        """Valid neighbours of the bad rows succeed, so the limits are not too strict."""
        N = lambda name: os.path.join(self.d, "ctl", name)    # noqa: E731
        base = ["--backing", os.path.join(self.d, "base.qcow2"), "--backing-format", "qcow2"]
        ctl = [
            ("plain 1M", ["--size", "1M"]),
            ("512B clusters, 128G", ["--cluster-size", "512", "--size", "128G",
                                     "--preallocation", "off"]),
            ("64K clusters, 2P", ["--size", "2P", "--preallocation", "off"]),
            ("ext-L2 64K, 1P", ["--extended-l2", "--size", "1P", "--preallocation", "off"]),
            ("ext-L2 16K", ["--extended-l2", "--cluster-size", "16K", "--size", "1M"]),
            ("compat 0.10", ["--compat", "0.10", "--size", "1M"]),
            ("backing, prealloc off", ["--size", "1M", "--preallocation", "off"] + base),
            ("backing, metadata + ext-L2", ["--size", "1M", "--preallocation", "metadata",
                                            "--extended-l2"] + base),
        ]
        for i, (name, args) in enumerate(ctl):
            with self.subTest(control=name):
                self.check_success(["image", N("c%d.qcow2" % i)] + args, "ctl/c%d.qcow2" % i)

    # ------------------------------------------------------- existing + force

    def test_existing_file_then_force(self):
        p = os.path.join(self.d, "victim.qcow2")
        self.write(p, b"the old content\n")
        try:
            self.check_row(["image", p, "--size", "1M"], 1, ["victim.qcow2", "exist"])
            before = snapshot(self.d)
            cmd, rc, out, err = self.run_vp(["image", p, "--size", "1M", "--force"])
            diff = snap_diff(before, snapshot(self.d))
            msg = "\n  $ %s\n  exit %d stderr %r diff %s" % (shlex.join(cmd), rc, err, diff)
            self.assertEqual(rc, 0, msg)
            # only victim.qcow2 changed, nothing else appeared
            self.assertEqual([x for x in diff if not x.startswith("changed victim.qcow2")], [],
                             msg)
            with open(p, "rb") as f:
                hdr = f.read(qcow2_header.V3_HEADER_LEN)
            self.assertEqual(hdr[:4], qcow2_header.MAGIC,
                             msg + " (not replaced by a qcow2 image)")
            self.assertEqual(qcow2_header.parse(hdr).size, MiB, msg + " (virtual size)")
        finally:
            os.unlink(p)

    # ------------------------------------------------------ unwritable dir

    def test_unwritable_directory(self):
        d = self.d
        ro = os.path.join(d, "nowrite-dir")
        rw = os.path.join(d, "writable-dir")
        os.mkdir(ro)
        os.mkdir(rw)
        try:
            if os.geteuid() == 0:
                setpriv = shutil.which("setpriv")
                self.assertIsNotNone(setpriv, "running as root but setpriv is missing: cannot "
                                     "drop privileges, so the unwritable-directory row would "
                                     "test nothing")
                prefix = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
                os.chmod(d, 0o755)          # nobody must reach the directories
                os.chmod(ro, 0o755)         # owned by root: not writable for nobody
                os.chmod(rw, 0o777)
            else:
                prefix = []
                os.chmod(ro, 0o555)
            # Preconditions: the row must really test a permission failure.
            probe = subprocess.run(prefix + ["sh", "-c", 'test -x "$1" && : > "$2"/probe',
                                             "sh", d, ro], capture_output=True, text=True)
            self.assertNotEqual(probe.returncode, 0,
                                "precondition: %s is writable for the test user (%s), so the "
                                "row would test nothing" % (ro, shlex.join(prefix) or "self"))
            self.assertFalse(os.path.exists(os.path.join(ro, "probe")))
            reach = subprocess.run(prefix + ["sh", "-c", 'test -x "$1" && test -x "$2"', "sh",
                                             d, VP], capture_output=True)
            self.assertEqual(reach.returncode, 0,
                             "precondition: the unprivileged user cannot reach the scratch dir "
                             "%s or execute VP_BIN %s (a parent directory is not searchable); "
                             "set TMPDIR / VP_BIN to a world-searchable location" % (d, VP))
            # Control: the same user can create an image where it may write.
            ok = os.path.join(rw, "ok.qcow2")
            cmd, rc, out, err = self.run_vp(["image", ok, "--size", "1M"], prefix)
            self.assertEqual(rc, 0, "control failed: $ %s -> %d %r" % (shlex.join(cmd), rc, err))
            os.unlink(ok)
            self.check_row(["image", os.path.join(ro, "x.qcow2"), "--size", "1M"], 1,
                           ["nowrite-dir", A("permission", "denied", "not writable",
                                             "read-only")], prefix=prefix)
            self.check_row(["image", os.path.join(ro, "x.qcow2"), "--size", "1M", "--force"], 1,
                           ["nowrite-dir", A("permission", "denied", "not writable",
                                             "read-only")], prefix=prefix)
        finally:
            os.chmod(d, 0o700)
            os.chmod(ro, 0o755)
            shutil.rmtree(ro)
            shutil.rmtree(rw)

    # ---------------------------------------------------------- full disk

    def in_tmpfs(self, args, size="2m", pre=None):
        mnt = tempfile.mkdtemp(prefix="tmpfs-", dir=self.d)
        if os.geteuid() == 0:
            unshare = ["unshare", "-m", "--propagation", "private"]
        else:
            unshare = ["unshare", "-r", "-m", "--propagation", "private"]
        self.assertIsNotNone(shutil.which("unshare"), "unshare (util-linux) is missing: cannot "
                             "make a private mount namespace for the full-disk rows")
        cmd = [VP] + [a.replace("@", mnt + "/") for a in args]
        spec = {"mount": mnt, "size": size, "pre": pre or {}, "cmd": cmd}
        try:
            r = subprocess.run(unshare + [sys.executable, os.path.abspath(__file__), "--inner"],
                               input=json.dumps(spec), capture_output=True, text=True,
                               timeout=60)
            if r.returncode != 0 or not r.stdout.strip():
                self.fail("cannot make a private mount namespace with a tmpfs (%s, exit %d): %s"
                          % (shlex.join(unshare), r.returncode, r.stderr.strip()))
            res = json.loads(r.stdout)
            if "error" in res:
                self.fail("cannot mount a tmpfs in a private mount namespace (%s): %s"
                          % (shlex.join(unshare), res["error"]))
            res["cmd"] = cmd
            shown = [VP] + [shlex.quote(a).replace("@", '"$0"/') for a in args]
            res["repro"] = ("D=$(mktemp -d); %s sh -c 'mount -t tmpfs -o size=%s tmpfs \"$0\" "
                            "&& %s; echo exit=$?; ls -la \"$0\"' \"$D\""
                            % (shlex.join(unshare), size, " ".join(shown)))
            return res
        finally:
            os.rmdir(mnt)

    def test_full_disk(self):
        space = A("space", "enospc", "disk full", "disk is full")
        cases = [
            # (name, args, pre-existing files, expected rc, substrings)
            ("metadata does not fit", ["image", "@big.qcow2", "--size", "100G"], None, 1,
             [space]),
            ("metadata does not fit, --json", ["--json", "image", "@big.qcow2", "--size",
                                               "100G"], None, 1, [space]),
            ("metadata does not fit, 4K clusters", ["image", "@big.qcow2", "--size", "8G",
                                                    "--cluster-size", "4K"], None, 1, [space]),
            ("data fits, prealloc full does not", ["image", "@full.qcow2", "--size", "3M",
                                                   "--preallocation", "full"], None, 1, [space]),
            ("data fits, prealloc falloc does not", ["image", "@fa.qcow2", "--size", "3M",
                                                     "--preallocation", "falloc"], None, 1,
             [space]),
            ("--force over old file, no space", ["image", "@old.qcow2", "--size", "100G",
                                                 "--force"], {"old.qcow2": "old content\n"}, 1,
             [space]),
            ("--force over old file, full does not fit", ["image", "@old.qcow2", "--size", "3M",
                                                          "--preallocation", "full", "--force"],
             {"old.qcow2": "old content\n"}, 1, [space]),
        ]
        for name, args, pre, rc, subs in cases:
            with self.subTest(full_disk=name):
                res = self.in_tmpfs(args, pre=pre)
                probs = self.problems_with_error(res["cmd"], res["rc"], res["stdout"],
                                                 res["stderr"], rc, subs)
                probs += snap_diff(res["before"], res["after"])
                if res["free_after"] != res["free_before"]:
                    probs.append("tmpfs free space %d -> %d (an unlinked file still open?)"
                                 % (res["free_before"], res["free_after"]))
                self.assertEqual(probs, [], "\n  $ %s\n  got exit %d stderr %r" %
                                 (res["repro"], res["rc"], res["stderr"]))
        # control: the same small image with sparse metadata preallocation fits
        with self.subTest(full_disk="control: 3M metadata fits in 2 MiB"):
            res = self.in_tmpfs(["image", "@ok.qcow2", "--size", "3M", "--preallocation",
                                 "metadata"])
            self.assertEqual((res["rc"], sorted(res["after"])), (0, ["ok.qcow2"]),
                             "\n  $ %s\n  stderr %r" % (res["repro"], res["stderr"]))

    # ----------------------------------------------------------- interrupt

    @staticmethod
    def writing_in(pid, d):
        if os.listdir(d):
            return True
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(d + "/"):
                    return True
            except OSError:
                pass
        return False

    def test_sigint_full_preallocation(self):
        self.interrupt_full_preallocation(signal.SIGINT)

    def test_sigterm_full_preallocation(self):
        self.interrupt_full_preallocation(signal.SIGTERM)

    def interrupt_full_preallocation(self, signo):
        # Nothing is left behind, and then the tool dies of the signal it
        # got, so that its parent (a shell loop, make) sees it was
        # interrupted rather than a failure.
        name = signal.Signals(signo).name
        d = os.path.join(self.d, "interrupt")
        free = shutil.disk_usage(d).free
        sizes = [s for s in (1 * GiB, 4 * GiB, 16 * GiB) if s * 3 < free]
        self.assertTrue(sizes, "not enough free space in %s for the interrupt test" % d)
        target = os.path.join(d, "big.qcow2")
        log = []
        for size in sizes:
            cmd = [VP, "image", target, "--size", str(size), "--preallocation", "full"]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=child_env(), preexec_fn=default_sigint)
            t_start = time.monotonic()
            # wait until the tool has started writing (a file appears in the directory,
            # or it holds an fd there: O_TMPFILE), then a bit more
            deadline = t_start + 10
            while time.monotonic() < deadline and p.poll() is None and \
                    not self.writing_in(p.pid, d):
                time.sleep(0.002)
            time.sleep(0.05)
            if p.poll() is None:
                p.send_signal(signo)
                t_sig = time.monotonic()
                try:
                    out, err = p.communicate(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    left = os.listdir(d)
                    for n in left:
                        os.unlink(os.path.join(d, n))
                    self.fail("$ %s\n  did not exit within 15 s of %s (killed; left %s)"
                              % (shlex.join(cmd), name, left))
                left = os.listdir(d)
                for n in left:
                    os.unlink(os.path.join(d, n))
                msg = ("\n  $ %s  (%s after %.2f s)\n  exit %d, exited %.2f s after the "
                       "signal, stdout %r, stderr %r, left behind %s"
                       % (shlex.join(cmd), name, t_sig - t_start, p.returncode,
                          time.monotonic() - t_sig, out, err, left))
                if p.returncode == 0 and left == ["big.qcow2"]:
                    # finished just as the signal arrived: try a bigger size
                    log.append("size %d: finished before %s took effect" % (size, name))
                    continue
                print("\n  %s: %s" % (name, msg.strip()), file=sys.stderr)
                self.assertEqual(p.returncode, -signo, msg)
                self.assertIn(b"interrupted", err, msg)
                self.assertEqual(left, [], msg)
                self.assertEqual(out, b"", msg)
                return
            out, err = p.communicate()
            log.append("size %d: finished (exit %d) after %.2f s before %s was sent"
                       % (size, p.returncode, time.monotonic() - t_start, name))
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
        self.fail("could not interrupt `image --preallocation full` mid-way with %s: %s"
                  % (name, "; ".join(log)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        sys.exit(inner_main())
    unittest.main(verbosity=2)
