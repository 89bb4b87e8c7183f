#!/usr/bin/env python3
"""Offline `virt-provision convert SRC DST` against qemu-img 7.2 as the oracle.

A corpus of sources is made with qemu-img and qemu-io: raw sparse files (data
at start, middle and end, unaligned size), qcow2 v2/v3 with 4K/64K/2M
clusters, refcount widths 1 and 64, extended L2 with subcluster writes,
compressed clusters, zero clusters (write -z with and without -u), discarded
ranges, internal snapshots, backing chains (qcow2 and raw bases, relative and
absolute paths, two levels; converted with --source-format qcow2, as a
probed image may not open a backing file), and a qcow2-magic file copied as
raw with --source-format raw.

Refused, with one `virt-provision:` line and no DST: a backing file whose
format the image does not record (qcow2 or raw: never guessed); a raw file
whose first bytes are a qcow2 header naming an absolute backing file holding
a secret, converted without --source-format (exit 2; the backing file is not
even opened: a FIFO in its place would block that open), while with
--source-format raw it is copied as the raw bytes it is.

For every conversion that must work:
  - exit 0, nothing on stderr;
  - `qemu-img compare SRC DST` says identical;
  - `qemu-img check DST` clean, no backing file;
  - DST fully mapped (every extent of `qemu-img map` has a host offset);
  - with metadata preallocation, DST's data area is a hole wherever SRC reads
    as a hole or zero cluster (SEEK_DATA), and the bytes allocated for DST
    lie between the non-zero 4K blocks of SRC and the data-offset plus SRC's
    data extents;
  - `virt-provision info --json DST` says "metadata" (or "falloc/full" when
    SRC is mostly data, or when falloc/full preallocation was asked for).
Option variants: --preallocation falloc/full/metadata, --cluster-size 2M,
--compat 0.10, --format raw, --lazy-refcounts; and --preallocation off and
--extended-l2, which must either be refused (one `virt-provision:` line, no
DST) or produce an identical image.

Standard library only; $VP_BIN is the binary; nothing is skipped.
Per-case timings go to stderr.
"""

import json
import os
import shutil
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemuimg as q  # noqa: E402
import qcow2_header  # noqa: E402

K, M = 1 << 10, 1 << 20
T0 = time.monotonic()
ZERO4K = bytes(4096)
# A source with a backing file is followed only when its format is stated.
TRUST = ["--source-format", "qcow2"]


def log(msg):
    print("convert_files.py: %s" % msg, file=sys.stderr, flush=True)


def must(res):
    if res.rc != 0:
        raise q.QemuImgError("command failed:\n" + res.describe())
    return res


def io(path, *cmds, fmt="qcow2"):
    res = q.qemu_io(path, list(cmds), fmt=fmt)
    if not q.io_ok(res):
        raise q.QemuImgError("qemu-io failed:\n" + res.describe())


def write_bytes(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def pattern(n, seed):
    """n bytes, no 4K block of which is zero."""
    block = bytes(((i * 7 + seed) % 251) + 1 for i in range(4096))
    return (block * (n // 4096 + 1))[:n]


def drop_backing_format(path):
    """Removes the backing-format header extension of a qcow2 file, as an
    image written before qemu recorded it would look (qemu-img 7.2 refuses
    to create or rebase one without -F)."""
    with open(path, "r+b") as f:
        hdr = f.read(4096)
        h = qcow2_header.parse(hdr)
        bf_off, bf_len = h.backing_file_offset, h.backing_file_size
        hlen = h.header_length
        exts, dropped = [], False
        for etype, _, body in qcow2_header.extensions(hdr, h):
            if etype == qcow2_header.EXT_BACKING_FORMAT:
                dropped = True
                continue
            exts.append((etype, body))
        if not dropped:
            raise AssertionError("%s has no backing format extension" % path)
        out = b""
        for etype, body in exts:
            out += struct.pack(">II", etype, len(body)) + body
            out += bytes((-len(body)) % 8)
        out += bytes(8)
        name = hdr[bf_off:bf_off + bf_len]
        assert hlen + len(out) <= bf_off, "extensions would overlap the name"
        f.seek(hlen)
        f.write(out + bytes(bf_off - hlen - len(out)) + name)


def nonzero_bytes(path, fmt, tmpdir):
    """Bytes in 4K guest blocks of path that are not all zero."""
    raw = os.path.join(tmpdir, "flat.raw")
    must(q.run(["qemu-img", "convert", "-f", fmt, "-O", "raw", path, raw]))
    n = 0
    with open(raw, "rb") as f:
        while True:
            b = f.read(4096)
            if not b:
                break
            if b != ZERO4K[:len(b)]:
                n += 4096
    os.unlink(raw)
    return n


def holes_at(path, start, length):
    """True if [start, start+length) of path holds no data (SEEK_DATA)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        d = os.lseek(fd, start, os.SEEK_DATA)
    except OSError:
        return True          # ENXIO: no data after start
    finally:
        os.close(fd)
    return d >= start + length


class ConvertFiles(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        q.vp_bin()
        q.require_tools()
        cls.tmp = tempfile.mkdtemp(prefix="vp-convert-files.")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.addClassCleanup(lambda: log("total runtime %.1f s"
                                        % (time.monotonic() - T0)))

    def setUp(self):
        self.t_start = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix=self._testMethodName + ".",
                                    dir=self.tmp)

    def tearDown(self):
        log("%s: %.2f s" % (self._testMethodName, time.monotonic() - self.t_start))
        shutil.rmtree(self.dir, ignore_errors=True)

    def p(self, name):
        return os.path.join(self.dir, name)

    # ------------------------------------------------------------------
    # the oracle

    def convert_ok(self, src, src_fmt=None, args=(), dst_name="dst.qcow2",
                   expect_prealloc=None, compare_fmt=None):
        """Converts src and proves the result; returns the --json report."""
        dst = self.p(dst_name)
        argv = ["--json", "convert", src, dst] + list(args)
        res = q.vp(*argv)
        self.assertEqual(res.rc, 0, res.describe())
        self.assertEqual(res.err, "", res.describe())
        rep = json.loads(res.out)
        fmt_a = compare_fmt or src_fmt
        raw_dst = "--format" in args and args[list(args).index("--format") + 1] == "raw"
        dfmt = "raw" if raw_dst else "qcow2"
        cmp_ = q.compare(src, dst, fmt_a=fmt_a, fmt_b=dfmt)
        self.assertEqual(cmp_.rc, 0, "not identical:\n" + cmp_.describe()
                         + "\n(after %s)" % res.cmdline)
        if raw_dst:
            self.assertEqual(q.info(dst)["format"], "raw")
            data_offset = 0
        else:
            rc, chk = q.check(dst, fmt="qcow2")
            self.assertEqual(rc, 0, "qemu-img check %s: %s" % (dst, chk))
            for k in ("corruptions", "leaks", "check-errors"):
                self.assertEqual(chk.get(k, 0), 0, chk)
            inf = q.info(dst, fmt="qcow2")
            self.assertNotIn("backing-filename", inf, inf)
            entries = q.img_map(dst, fmt="qcow2")
            unmapped = [e for e in entries if "offset" not in e or e.get("depth", 0)]
            self.assertEqual(unmapped, [], "DST not fully mapped (%s)" % res.cmdline)
            data_offset = rep["data-offset"]
        prealloc = rep["preallocation"]

        # sparseness of the data area, from SRC's own map
        smap = q.img_map(src, fmt=fmt_a)
        data_amount = sum(e["length"] for e in smap if e.get("data"))
        runs = sum(1 for e in smap if e.get("data"))
        st = os.stat(dst)
        alloc = st.st_blocks * 512
        vsize = rep["virtual-size"]
        if prealloc in ("off", "metadata"):
            for e in smap:
                if e.get("data"):
                    continue
                a = q.round_up(e["start"] + data_offset, 4096)
                b = (e["start"] + e["length"] + data_offset) // 4096 * 4096
                if b > a:
                    self.assertTrue(holes_at(dst, a, b - a),
                                    "DST has data at host %d..%d where SRC has a "
                                    "hole at guest %d+%d (%s)"
                                    % (a, b, e["start"], e["length"], res.cmdline))
            nz = nonzero_bytes(src, fmt_a or q.info(src)["format"], self.dir)
            upper = data_offset + data_amount + 64 * K + 8 * K * runs
            self.assertGreaterEqual(alloc, nz, "DST holds less than SRC's data")
            self.assertLessEqual(alloc, upper,
                                 "DST allocates %d bytes, SRC has %d data bytes in "
                                 "%d runs + %d of metadata (%s)"
                                 % (alloc, data_amount, runs, data_offset, res.cmdline))
        else:
            # falloc/full: the whole data area is allocated, no hole in it
            fd = os.open(dst, os.O_RDONLY)
            try:
                hole = os.lseek(fd, data_offset, os.SEEK_HOLE)
            finally:
                os.close(fd)
            self.assertEqual(hole, st.st_size, "%s: DST has a hole in its data "
                             "area at %d (%s)" % (prealloc, hole, res.cmdline))
            self.assertGreaterEqual(alloc, st.st_size - data_offset)

        if not raw_dst:
            vi = q.vp("--json", "info", dst)
            self.assertEqual(vi.rc, 0, vi.describe())
            got = json.loads(vi.out)["preallocation"]
            if expect_prealloc is None:
                frac = data_amount / float(vsize)
                if prealloc == "metadata" and frac < 0.4:
                    expect_prealloc = "metadata"
                elif prealloc in ("falloc", "full") or frac > 0.6:
                    expect_prealloc = "falloc/full"
            if expect_prealloc is not None:
                self.assertEqual(got, expect_prealloc, "info --json %s (SRC %d of %d "
                                 "bytes data)" % (dst, data_amount, vsize))
        return rep

    def refused_cleanly(self, res, dst, *words):
        self.assertNotEqual(res.rc, 0, res.describe())
        lines = res.err.splitlines()
        self.assertEqual(len(lines), 1, "want one error line\n" + res.describe())
        self.assertTrue(lines[0].startswith("virt-provision: "), res.describe())
        for w in words:
            self.assertIn(w.lower(), lines[0].lower(), res.describe())
        self.assertFalse(os.path.exists(dst), "DST left behind: " + res.describe())
        self.assertEqual([f for f in os.listdir(os.path.dirname(dst))
                          if f.startswith(".") or "dst" in f], [],
                         "temporary files left behind")

    # ------------------------------------------------------------------
    # raw sources

    def test_raw_sparse_unaligned(self):
        src = self.p("src.img")
        size = 100 * M + 12345
        with open(src, "wb") as f:
            f.truncate(size)
        write_bytes(src, 0, pattern(300 * K, 1))               # start
        write_bytes(src, 50 * M + 777, pattern(65 * K + 3, 2))  # middle, unaligned
        write_bytes(src, size - 9000, pattern(9000, 3))        # the very end
        rep = self.convert_ok(src, "raw")
        self.assertEqual(rep["virtual-size"], q.round_up(size, 512), rep)
        self.assertEqual(rep["source-format"], "raw")

    def test_raw_discarded(self):
        src = self.p("src.img")
        with open(src, "wb") as f:
            f.write(pattern(32 * M, 4))
        io(src, "discard 4M 8M", "discard 20M 1M", fmt="raw")   # punches holes
        self.convert_ok(src, "raw")

    def test_raw_full_of_data(self):
        src = self.p("src.img")
        with open(src, "wb") as f:
            f.write(pattern(16 * M, 5))
        self.convert_ok(src, "raw", expect_prealloc="falloc/full")

    def test_raw_empty(self):
        src = self.p("src.img")
        with open(src, "wb") as f:
            f.truncate(64 * M)
        self.convert_ok(src, "raw", expect_prealloc="metadata")

    # ------------------------------------------------------------------
    # qcow2 sources

    def qcow2_case(self, size, writes, **opts):
        src = self.p("src.qcow2")
        q.create(src, size, options=opts or None)
        io(src, *writes)
        return self.convert_ok(src, "qcow2")

    STD_WRITES = ("write -P 0x11 0 200k", "write -P 0x22 17M 64k",
                  "write -P 0x33 40M 3k", "write -P 0x44 63M 1M")

    def test_qcow2_v2_64k(self):
        self.qcow2_case(64 * M, self.STD_WRITES, compat="0.10")

    def test_qcow2_v3_64k(self):
        self.qcow2_case(64 * M, self.STD_WRITES, compat="1.1")

    def test_qcow2_v3_4k(self):
        self.qcow2_case(64 * M, self.STD_WRITES, cluster_size=4096)

    def test_qcow2_v2_4k(self):
        self.qcow2_case(64 * M, self.STD_WRITES, compat="0.10", cluster_size=4096)

    def test_qcow2_v3_2m(self):
        self.qcow2_case(64 * M, self.STD_WRITES, cluster_size=2 * M)

    def test_qcow2_refcount_bits_1(self):
        self.qcow2_case(64 * M, self.STD_WRITES, refcount_bits=1)

    def test_qcow2_refcount_bits_64(self):
        self.qcow2_case(64 * M, self.STD_WRITES, refcount_bits=64)

    def test_qcow2_unaligned_size(self):
        self.qcow2_case(33 * M + 512, ("write -P 0x55 0 4k",
                                       "write -P 0x66 %d 512" % (33 * M)))

    def test_qcow2_extended_l2_subclusters(self):
        # 64K clusters, 2K subclusters: partial-cluster writes
        self.qcow2_case(32 * M, ("write -P 0x11 0 2k", "write -P 0x22 10k 4k",
                                 "write -P 0x33 1M 512", "write -z 1M 2k",
                                 "write -P 0x44 2M 64k", "write -z 2M 4k",
                                 "write -P 0x55 31M 6k"),
                        extended_l2=True)

    def test_qcow2_extended_l2_2m(self):
        self.qcow2_case(64 * M, ("write -P 0x11 0 64k", "write -P 0x22 3M 65k",
                                 "write -P 0x33 63M 1k"),
                        extended_l2=True, cluster_size=2 * M)

    def test_qcow2_compressed(self):
        raw = self.p("plain.img")
        with open(raw, "wb") as f:
            f.truncate(32 * M)
        write_bytes(raw, 0, pattern(1 * M, 6))
        write_bytes(raw, 16 * M, b"\x77" * (3 * M))    # compresses well
        write_bytes(raw, 31 * M, pattern(200 * K, 7))
        src = self.p("src.qcow2")
        must(q.run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2",
                    raw, src]))
        # part of one compressed cluster overwritten
        io(src, "write -P 0x99 16M 4k")
        self.convert_ok(src, "qcow2")

    def test_qcow2_compressed_4k(self):
        raw = self.p("plain.img")
        with open(raw, "wb") as f:
            f.write(pattern(8 * M, 8))
        src = self.p("src.qcow2")
        must(q.run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2",
                    "-o", "cluster_size=4096", raw, src]))
        self.convert_ok(src, "qcow2", expect_prealloc="falloc/full")

    def test_qcow2_zero_clusters(self):
        self.qcow2_case(32 * M, ("write -P 0x11 0 4M", "write -z 1M 1M",
                                 "write -z -u 2M 1M", "write -z 8M 2M",
                                 "write -z -u 12M 64k", "write -P 0x22 3M 64k"))

    def test_qcow2_discarded(self):
        self.qcow2_case(32 * M, ("write -P 0x11 0 8M", "discard 1M 2M",
                                 "discard 6M 64k", "write -P 0x12 30M 2M",
                                 "discard 31M 1M"))

    def test_qcow2_snapshot(self):
        src = self.p("src.qcow2")
        q.create(src, 16 * M)
        io(src, "write -P 0x11 0 2M")
        must(q.run(["qemu-img", "snapshot", "-c", "snap1", src]))
        io(src, "write -P 0x22 1M 64k", "discard 0 64k")
        self.convert_ok(src, "qcow2")

    # ------------------------------------------------------------------
    # backing chains

    def test_backing_qcow2_relative(self):
        base = self.p("base.qcow2")
        q.create(base, 32 * M)
        io(base, "write -P 0x11 0 4M", "write -P 0x12 30M 2M")
        top = self.p("top.qcow2")
        q.create(top, 48 * M, backing="base.qcow2", backing_fmt="qcow2")
        io(top, "write -P 0x21 1M 64k", "write -z 2M 1M", "write -z -u 3M 64k",
           "discard 30M 64k", "write -P 0x22 40M 64k")
        self.convert_ok(top, "qcow2", args=TRUST)

    def test_backing_raw_absolute(self):
        base = self.p("base.raw")
        with open(base, "wb") as f:
            f.truncate(20 * M + 1000)      # unaligned, shorter than the overlay
        write_bytes(base, 0, pattern(2 * M, 9))
        write_bytes(base, 20 * M - 4096, pattern(5096, 10))
        top = self.p("top.qcow2")
        q.create(top, 32 * M, backing=base, backing_fmt="raw")
        self.assertTrue(os.path.isabs(q.info(top)["backing-filename"]))
        io(top, "write -P 0x21 64k 64k", "write -z 1M 64k")
        self.convert_ok(top, "qcow2", args=TRUST)

    def test_backing_larger_than_overlay(self):
        base = self.p("base.qcow2")
        q.create(base, 32 * M, options={"cluster_size": 2 * M})
        io(base, "write -P 0x11 0 1M", "write -P 0x12 15M 2M", "write -P 0x13 30M 1M")
        top = self.p("top.qcow2")
        q.create(top, 16 * M, backing="base.qcow2", backing_fmt="qcow2",
                 options={"cluster_size": 4096})
        io(top, "write -P 0x21 4k 4k")
        rep = self.convert_ok(top, "qcow2", args=TRUST)
        self.assertEqual(rep["virtual-size"], 16 * M)

    def test_backing_chain_two_levels(self):
        # base (raw, dir b/) <- mid (qcow2 v2, dir b/, relative) <-
        # top (extended L2, dir t/, relative "../b/mid.qcow2")
        os.mkdir(self.p("b"))
        os.mkdir(self.p("t"))
        base = self.p("b/base.raw")
        with open(base, "wb") as f:
            f.write(pattern(16 * M, 11))
        mid = self.p("b/mid.qcow2")
        q.create(mid, 16 * M, backing="base.raw", backing_fmt="raw",
                 options={"compat": "0.10"})
        io(mid, "write -P 0x31 2M 1M", "write -z 4M 1M")
        top = self.p("t/top.qcow2")
        q.create(top, 24 * M, backing="../b/mid.qcow2", backing_fmt="qcow2",
                 options={"extended_l2": True})
        io(top, "write -P 0x41 2M 4k", "write -z 0 2k", "write -P 0x42 20M 8k")
        self.convert_ok(top, "qcow2", args=TRUST, expect_prealloc="falloc/full")

    def unrecorded_refused(self, base_fmt):
        """A trusted top whose backing file's format is not recorded: refused
        (exit 2, naming the qemu-img rebase fix), however the base looks."""
        top = self.p("top.qcow2")
        q.create(top, 16 * M, backing="base." + base_fmt, backing_fmt=base_fmt)
        io(top, "write -P 0x21 8M 64k")
        drop_backing_format(top)
        self.assertNotIn("backing-filename-format", q.info(top, fmt="qcow2"))
        dst = self.p("dst.qcow2")
        res = q.vp("convert", top, dst, *TRUST)
        self.refused_cleanly(res, dst, "format", "base." + base_fmt,
                             "qemu-img rebase -u")
        self.assertEqual(res.rc, 2, res.describe())
        self.assertEqual(res.out, "", res.describe())

    def test_backing_format_unrecorded_qcow2_refused(self):
        # A qcow2 header in the backing file proves nothing: whoever wrote
        # that file chose its bytes.
        base = self.p("base.qcow2")
        q.create(base, 16 * M)
        io(base, "write -P 0x11 0 1M")
        self.unrecorded_refused("qcow2")

    def test_backing_format_unrecorded_raw_refused(self):
        base = self.p("base.raw")
        with open(base, "wb") as f:
            f.write(pattern(16 * M, 12))
        self.unrecorded_refused("raw")

    def test_probed_source_with_backing_refused(self):
        # A guest wrote a qcow2 header naming a host file into its raw
        # disk.  Probed, the file would be read as qcow2 and the secret
        # copied through its backing file: refused before that file is
        # opened.  Stated raw, it is the raw bytes it is.
        secret = self.p("secret")
        with open(secret, "wb") as f:
            f.write(b"SECRET!!" * (128 * K))
        hdr = self.p("hdr.qcow2")
        q.create(hdr, 1 * M, backing=secret, backing_fmt="raw")
        src = self.p("guest.img")
        with open(src, "wb") as f:
            f.truncate(8 * M)
        with open(hdr, "rb") as f:
            write_bytes(src, 0, f.read())
        self.assertEqual(q.info(src)["backing-filename"], secret)
        dst = self.p("dst.qcow2")
        res = q.vp("convert", src, dst)
        self.refused_cleanly(res, dst, src, secret, "--source-format qcow2")
        self.assertEqual(res.rc, 2, res.describe())

        # Not even opened: an open of a FIFO with no writer would block.
        os.unlink(secret)
        os.mkfifo(secret)
        res = q.vp("convert", src, dst, timeout=60)
        self.refused_cleanly(res, dst, secret)

        rep = self.convert_ok(src, "raw", args=["--source-format", "raw"])
        self.assertEqual(rep["source-format"], "raw")
        self.assertEqual(rep["virtual-size"], 8 * M)

    # ------------------------------------------------------------------
    # --source-format

    def test_source_format_raw_on_qcow2_magic(self):
        src = self.p("src.qcow2")
        q.create(src, 8 * M)
        io(src, "write -P 0x11 0 1M")
        rep = self.convert_ok(src, "raw", args=["--source-format", "raw"],
                              expect_prealloc="falloc/full")
        self.assertEqual(rep["source-format"], "raw")
        self.assertEqual(rep["virtual-size"], q.round_up(os.stat(src).st_size, 512))

    # ------------------------------------------------------------------
    # DISK option variants on one mixed source

    def mixed_source(self):
        base = self.p("base.qcow2")
        q.create(base, 32 * M, options={"cluster_size": 4096})
        io(base, "write -P 0x11 0 3M", "write -P 0x12 20M 100k")
        top = self.p("top.qcow2")
        q.create(top, 40 * M, backing="base.qcow2", backing_fmt="qcow2")
        io(top, "write -P 0x21 1M 64k", "write -z 2M 64k", "write -P 0x22 39M 1M")
        return top

    def test_opt_prealloc_metadata(self):
        rep = self.convert_ok(self.mixed_source(), "qcow2",
                              args=TRUST + ["--preallocation", "metadata"])
        self.assertEqual(rep["preallocation"], "metadata")

    def test_opt_prealloc_falloc(self):
        rep = self.convert_ok(self.mixed_source(), "qcow2",
                              args=TRUST + ["--preallocation", "falloc"],
                              expect_prealloc="falloc/full")
        self.assertEqual(rep["preallocation"], "falloc")

    def test_opt_prealloc_full(self):
        rep = self.convert_ok(self.mixed_source(), "qcow2",
                              args=TRUST + ["--preallocation", "full"],
                              expect_prealloc="falloc/full")
        self.assertEqual(rep["preallocation"], "full")

    def test_opt_cluster_2m(self):
        rep = self.convert_ok(self.mixed_source(), "qcow2",
                              args=TRUST + ["--cluster-size", "2M"])
        self.assertEqual(rep["cluster-size"], 2 * M)
        self.assertEqual(q.info(self.p("dst.qcow2"))["cluster-size"], 2 * M)

    def test_opt_compat_010(self):
        self.convert_ok(self.mixed_source(), "qcow2", args=TRUST + ["--compat", "0.10"])
        self.assertEqual(q.info(self.p("dst.qcow2"))["format-specific"]["data"]
                         ["compat"], "0.10")

    def test_opt_lazy_refcounts(self):
        self.convert_ok(self.mixed_source(), "qcow2", args=TRUST + ["--lazy-refcounts"])

    def test_opt_format_raw(self):
        self.convert_ok(self.mixed_source(), "qcow2", args=TRUST + ["--format", "raw"],
                        dst_name="dst.img")

    def refused_or_works(self, args):
        src = self.mixed_source()
        dst = self.p("dst.qcow2")
        res = q.vp("convert", src, dst, *TRUST, *args)
        if res.rc != 0:
            self.refused_cleanly(res, dst)
            log("%s: refused: %s" % (" ".join(args), res.err.strip()))
            return
        cmp_ = q.compare(src, dst, fmt_a="qcow2", fmt_b="qcow2")
        self.assertEqual(cmp_.rc, 0, "accepted (exit 0) but DST differs from SRC:\n"
                         + res.describe() + "\n" + cmp_.describe())
        rc, chk = q.check(dst, fmt="qcow2")
        self.assertEqual(rc, 0, chk)

    def test_opt_prealloc_off(self):
        self.refused_or_works(["--preallocation", "off"])

    def test_opt_extended_l2(self):
        self.refused_or_works(["--extended-l2"])

    def test_dst_exists(self):
        src = self.p("src.img")
        with open(src, "wb") as f:
            f.write(pattern(1 * M, 13))
        dst = self.p("dst.qcow2")
        with open(dst, "wb") as f:
            f.write(b"precious")
        res = q.vp("convert", src, dst)
        self.assertNotEqual(res.rc, 0, res.describe())
        self.assertEqual(len(res.err.splitlines()), 1, res.describe())
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), b"precious")
        self.convert_ok(src, "raw", args=["--force"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
