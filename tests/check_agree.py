#!/usr/bin/env python3
"""`virt-provision info` and `check` agree with qemu-img.

Part 1: a corpus of images written by qemu-img (every create option that
matters to the reader, compressed clusters, qemu-io writes, zero clusters,
discards, an internal snapshot) and by virt-provision itself.  For each,
`info --json` must carry qemu-img info's values and `check --json` must carry
qemu-img check's counts and exit code.

Part 2: deliberately damaged images.  The damage is done here with struct
writes at offsets this file computes by parsing the header, the L1/L2 tables
and the refcount structures itself, so the test does not depend on the tool
under test to find what to break.  For each case the exit codes and the
corruption/leak counts must match; where qemu-img cannot open the image at
all, ours must fail the same way (exit 1, one line on stderr) and `info` must
fail too, without crashing.

Environment: VP_BIN (absolute path of virt-provision) is required; qemu-img
and qemu-io must be on PATH.  A table of every case is printed to stderr.
"""

import json
import os
import random
import shutil
import struct
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import qemuimg  # shared qemu-img/qemu-io wrappers (tests/qemuimg.py)
import qcow2_header  # the one qcow2 header parser of the tests
# Header field offsets and feature bits, aimed at by the damage table.
from qcow2_header import (
    H_MAGIC, H_VERSION, H_BACKING_OFF, H_BACKING_SIZE, H_CLUSTER_BITS, H_SIZE,
    H_CRYPT, H_L1_SIZE, H_L1_OFF, H_RT_OFF, H_RT_CLUSTERS, H_INCOMPAT,
    H_REFCOUNT_ORDER, H_HEADER_LEN, INCOMPAT_DIRTY, INCOMPAT_CORRUPT,
    INCOMPAT_EXTL2)

CHECK_KEYS = ("image-end-offset", "total-clusters", "allocated-clusters",
              "fragmented-clusters", "compressed-clusters", "corruptions",
              "leaks")
DAMAGE_KEYS = ("corruptions", "leaks")
INFO_KEYS = ("format", "virtual-size", "cluster-size", "format-specific",
             "backing-filename", "backing-filename-format", "dirty-flag")

COPIED = 1 << 63
COMPRESSED = 1 << 62
OFFSET_MASK = 0x00fffffffffffe00
RT_OFFSET_MASK = 0xfffffffffffffe00

TIMEOUT = 60


# --------------------------------------------------------------------------
# Running the tools

def _run(argv):
    r = qemuimg.run(argv, timeout=TIMEOUT)
    return r.rc, r.out, r.err


def _json(text):
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def qemu_img(*args):
    """qemu-img with args that must succeed (building the corpus)."""
    r = qemuimg.run(["qemu-img"] + [str(a) for a in args], timeout=TIMEOUT)
    if r.rc != 0:
        raise qemuimg.QemuImgError("command failed:\n" + r.describe())
    return r.out


def qemu_io(path, *cmds):
    r = qemuimg.qemu_io(path, cmds, fmt="qcow2")
    if not qemuimg.io_ok(r):
        raise qemuimg.QemuImgError("qemu-io failed:\n" + r.describe())


def _fmt(probe):
    # virt-provision probes like qemu-img without -f: a file without the
    # qcow2 magic is raw (info exit 0, check exit 63).
    return [] if probe else ["-f", "qcow2"]


def qemu_check(path, probe=False):
    """(exit code, parsed JSON or None, stderr) of qemu-img check."""
    rc, out, err = _run(["qemu-img", "check"] + _fmt(probe) +
                        ["--output=json", path])
    return rc, _json(out), err


def qemu_info(path, probe=False):
    rc, out, err = _run(["qemu-img", "info"] + _fmt(probe) +
                        ["--output=json", path])
    return rc, _json(out), err


class Vp:
    def __init__(self, binary):
        self.binary = binary

    def run(self, *args):
        return _run([self.binary] + [str(a) for a in args])

    def image(self, path, *opts):
        r = qemuimg.run([self.binary, "image", path] + list(opts),
                        timeout=TIMEOUT)
        if r.rc != 0:
            raise qemuimg.QemuImgError("virt-provision image failed:\n"
                                       + r.describe())

    def check(self, path):
        rc, out, err = self.run("--json", "check", path)
        return rc, _json(out), err, out

    def info(self, path):
        rc, out, err = self.run("--json", "info", path)
        return rc, _json(out), err, out


# --------------------------------------------------------------------------
# A small qcow2 parser, independent of the tool, used to aim the damage;
# the header itself is read by tests/qcow2_header.py

def _u64(b, o):
    return struct.unpack_from(">Q", b, o)[0]


class Qcow2:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        try:
            h = qcow2_header.parse(d)
        except ValueError as e:
            raise ValueError("%s: not qcow2 (%s)" % (path, e))
        self.version = h.version
        self.cluster_bits = h.cluster_bits
        self.cs = h.cluster_size
        self.size = h.size
        self.l1_size = h.l1_size
        self.l1_off = h.l1_table_offset
        self.rt_off = h.refcount_table_offset
        self.rt_clusters = h.refcount_table_clusters
        self.nb_snapshots = h.nb_snapshots
        # v2: 0 and 4, as qcow2_header reads a v2 header
        self.incompat = h.incompatible_features
        self.refcount_order = h.refcount_order
        self.rbits = 1 << self.refcount_order
        self.extl2 = bool(self.incompat & INCOMPAT_EXTL2)
        self.l2_entry_size = 16 if self.extl2 else 8
        self.l2_entries = self.cs // self.l2_entry_size
        self.rb_entries = self.cs * 8 // self.rbits
        self.file_len = len(d)

    # refcounts ------------------------------------------------------------
    def rt(self):
        n = self.rt_clusters * self.cs // 8
        return [_u64(self.data, self.rt_off + 8 * i) & RT_OFFSET_MASK
                for i in range(n)]

    def refcount_loc(self, cluster):
        """(byte offset, shift, width in bytes or 0 for sub-byte)."""
        block = self.rt()[cluster // self.rb_entries]
        if block == 0:
            raise ValueError("cluster %d has no refcount block" % cluster)
        idx = cluster % self.rb_entries
        if self.rbits >= 8:
            return block + idx * self.rbits // 8, 0, self.rbits // 8
        bit = idx * self.rbits
        return block + bit // 8, bit % 8, 0

    def get_refcount(self, cluster):
        off, shift, width = self.refcount_loc(cluster)
        if width:
            return int.from_bytes(self.data[off:off + width], "big")
        return (self.data[off] >> shift) & ((1 << self.rbits) - 1)

    def set_refcount(self, cluster, value):
        off, shift, width = self.refcount_loc(cluster)
        if width:
            patch(self.path, off, value.to_bytes(width, "big"))
        else:
            mask = ((1 << self.rbits) - 1) << shift
            byte = (self.data[off] & ~mask) | ((value << shift) & mask)
            patch(self.path, off, bytes([byte]))

    def covered_clusters(self):
        return sum(1 for b in self.rt() if b) * self.rb_entries

    # mapping --------------------------------------------------------------
    def l1(self):
        return [(self.l1_off + 8 * i, _u64(self.data, self.l1_off + 8 * i))
                for i in range(self.l1_size)]

    def l2_slots(self):
        """Every L2 entry: (file offset of the entry, entry value)."""
        for _, e in self.l1():
            t = e & OFFSET_MASK
            if not t:
                continue
            for i in range(self.l2_entries):
                pos = t + i * self.l2_entry_size
                yield pos, _u64(self.data, pos)

    def data_slots(self):
        """L2 entries of standard clusters that own a host cluster."""
        return [(p, e) for p, e in self.l2_slots()
                if not e & COMPRESSED and e & OFFSET_MASK]

    def free_slots(self):
        return [(p, e) for p, e in self.l2_slots() if e == 0]

    def l2_tables(self):
        return [e & OFFSET_MASK for _, e in self.l1() if e & OFFSET_MASK]


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def put32(path, offset, value):
    patch(path, offset, struct.pack(">I", value))


def put64(path, offset, value):
    patch(path, offset, struct.pack(">Q", value))


# --------------------------------------------------------------------------
# The corpus

def _raw_with_content(path, size):
    """A raw file with a mix of random, compressible, repeated and zero
    clusters, deterministic from a fixed seed."""
    rnd = random.Random(2)
    with open(path, "wb") as f:
        f.truncate(size)
        for off, kind in ((0, "rand"), (65536, "text"), (3 * 65536, "rand"),
                          (300000, "text"), (1 << 20, "ones"),
                          (size - 65536, "text")):
            f.seek(off)
            if kind == "rand":
                f.write(bytes(rnd.getrandbits(8) for _ in range(65536)))
            elif kind == "text":
                f.write(b"virt-provision check agree " * 2427)
            else:
                f.write(b"\x01" * 65536)


def qemu_corpus(d):
    """(name, path) of images written by qemu-img / qemu-io."""
    out = []

    def create(name, size, *opts, backing=None, fmt=None):
        p = os.path.join(d, name + ".qcow2")
        argv = ["create", "-q", "-f", "qcow2"]
        if opts:
            argv += ["-o", ",".join(opts)]
        if backing:
            argv += ["-b", backing, "-F", fmt]
        qemu_img(*(argv + [p, size]))
        out.append((name, p))
        return p

    base_raw = os.path.join(d, "q-base.raw")
    _raw_with_content(base_raw, 4 << 20)
    base_q = os.path.join(d, "q-base.qcow2")
    qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", base_raw, base_q)
    out.append(("q-convert", base_q))

    create("q-v3-64k", "16M")
    create("q-v2", "16M", "compat=0.10")
    p = create("q-512", "4M", "cluster_size=512")
    qemu_io(p, "write -P 7 0 300k", "write -P 8 2M 4k", "write -z 3M 8k")
    p = create("q-2m", "64M", "cluster_size=2M")
    qemu_io(p, "write -P 1 1M 3M", "write -z 40M 2M")
    for bits in (1, 4, 64):
        p = create("q-rb%d" % bits, "16M", "refcount_bits=%d" % bits)
        qemu_io(p, "write -P 5 0 200k", "write -P 6 9M 64k")
    p = create("q-lazy", "16M", "lazy_refcounts=on")
    qemu_io(p, "write -P 5 0 200k")
    p = create("q-extl2", "16M", "extended_l2=on")
    qemu_io(p, "write -P 5 0 4k", "write -P 6 100k 8k", "write -z 1M 2k",
            "write -P 7 2M 64k", "write -z 3M 64k")
    create("q-meta", "64M", "preallocation=metadata")
    create("q-meta-512", "1M", "preallocation=metadata,cluster_size=512")
    create("q-meta-2m", "256M", "preallocation=metadata,cluster_size=2M")
    create("q-meta-v2", "16M", "preallocation=metadata,compat=0.10")
    create("q-meta-extl2", "16M", "preallocation=metadata,extended_l2=on")
    create("q-falloc", "16M", "preallocation=falloc")
    create("q-full", "8M", "preallocation=full")
    create("q-unaligned", "1000000")
    create("q-unaligned-meta", "1000000", "preallocation=metadata")
    create("q-zero-size", "0")
    p = create("q-backing", "8M", backing=base_q, fmt="qcow2")
    qemu_io(p, "write -P 9 64k 64k", "write -z 1M 64k")
    create("q-backing-raw", "4M", backing=base_raw, fmt="raw")
    create("q-backing-extl2-meta", "8M", "extended_l2=on",
           "preallocation=metadata", backing=base_q, fmt="qcow2")
    create("q-backing-v2", "4M", "compat=0.10", backing=base_q, fmt="qcow2")

    p = os.path.join(d, "q-compressed.qcow2")
    qemu_img("convert", "-q", "-c", "-f", "raw", "-O", "qcow2", base_raw, p)
    out.append(("q-compressed", p))
    p2 = os.path.join(d, "q-compressed-rw.qcow2")
    shutil.copy(p, p2)
    qemu_io(p2, "write -P 3 64k 4k", "discard 0 64k")
    out.append(("q-compressed-rw", p2))

    for v in ("1.1", "0.10"):
        p = create("q-io-%s" % v, "8M", "compat=" + v)
        qemu_io(p, "write -P 1 0 192k", "write -P 2 1M 64k",
                "write -z 2M 64k", "write -P 3 5M 64k", "discard 64k 64k",
                "write -z 7M 128k", "discard 1M 64k",
                # on allocated clusters: v3 keeps the host cluster with the
                # zero flag (-z) or frees it (-z -u)
                "write -z 128k 64k", "write -z -u 5M 64k")
    p = create("q-snapshot", "8M")
    qemu_io(p, "write -P 1 0 256k", "write -P 2 4M 64k")
    qemu_img("snapshot", "-c", "snap1", p)
    qemu_io(p, "write -P 3 64k 64k", "write -P 4 6M 64k")
    return out


VP_CORPUS = [
    ("vp-default", "16M"),
    ("vp-off", "16M", "--preallocation", "off"),
    ("vp-falloc", "16M", "--preallocation", "falloc"),
    ("vp-full", "8M", "--preallocation", "full"),
    ("vp-512", "1M", "--cluster-size", "512"),
    ("vp-512-off", "4M", "--cluster-size", "512", "--preallocation", "off"),
    ("vp-2m", "256M", "--cluster-size", "2M"),
    ("vp-v2", "16M", "--compat", "0.10"),
    ("vp-v2-off", "16M", "--compat", "0.10", "--preallocation", "off"),
    ("vp-rb1", "16M", "--refcount-bits", "1"),
    ("vp-rb2", "16M", "--refcount-bits", "2"),
    ("vp-rb4", "16M", "--refcount-bits", "4"),
    ("vp-rb8", "16M", "--refcount-bits", "8"),
    ("vp-rb32", "16M", "--refcount-bits", "32"),
    ("vp-rb64", "16M", "--refcount-bits", "64"),
    ("vp-lazy", "16M", "--lazy-refcounts"),
    ("vp-extl2", "16M", "--extended-l2"),
    ("vp-extl2-off", "16M", "--extended-l2", "--preallocation", "off"),
    ("vp-unaligned", "1000000"),
    ("vp-unaligned-off", "1000000", "--preallocation", "off"),
    ("vp-zero-size", "0"),
    ("vp-big", "3G"),
]


def vp_corpus(d, vp, backing):
    out = []
    for name, size, *opts in VP_CORPUS:
        p = os.path.join(d, name + ".qcow2")
        vp.image(p, "--size", size, *opts)
        out.append((name, p))
    for name, opts in (
            ("vp-backing", ["--preallocation", "off"]),
            ("vp-backing-extl2-meta", ["--extended-l2"]),
            ("vp-backing-v2", ["--preallocation", "off", "--compat", "0.10"])):
        p = os.path.join(d, name + ".qcow2")
        vp.image(p, "--size", "8M", "--backing", backing,
                 "--backing-format", "qcow2", *opts)
        out.append((name, p))
    # Images of ours that qemu then writes to, allocates in and discards.
    p = os.path.join(d, "vp-off+io.qcow2")
    vp.image(p, "--size", "8M", "--preallocation", "off")
    qemu_io(p, "write -P 1 0 192k", "write -z 2M 64k", "write -P 3 5M 64k",
            "discard 64k 64k")
    out.append(("vp-off+io", p))
    p = os.path.join(d, "vp-meta+io.qcow2")
    vp.image(p, "--size", "8M")
    qemu_io(p, "write -P 1 0 192k", "write -z 2M 64k", "discard 5M 64k")
    out.append(("vp-meta+io", p))
    p = os.path.join(d, "vp-rb4+snapshot.qcow2")
    vp.image(p, "--size", "4M", "--refcount-bits", "4")
    qemu_io(p, "write -P 1 0 128k")
    qemu_img("snapshot", "-c", "s", p)
    qemu_io(p, "write -P 2 0 64k")
    out.append(("vp-rb4+snapshot", p))
    return out


# --------------------------------------------------------------------------
# Damage.  Each function edits a copy of a base image in place and returns a
# short description of what it did (offsets included, for reproduction); it
# raises NotApplicable when the base image has nothing to aim at.

class NotApplicable(Exception):
    pass


def _first_data(q, skip=0):
    slots = q.data_slots()
    if len(slots) <= skip:
        raise NotApplicable("no allocated standard cluster")
    pos, e = slots[skip]
    return pos, e, (e & OFFSET_MASK) // q.cs


def _free_slot(q):
    """An L2 entry that maps nothing (extended L2: both halves zero)."""
    for pos, e in q.free_slots():
        if q.l2_entry_size == 8 or _u64(q.data, pos + 8) == 0:
            return pos
    raise NotApplicable("no unallocated L2 entry in an existing table")


def d_refcount0_data(p, q):
    pos, e, c = _first_data(q)
    q.set_refcount(c, 0)
    return "refcount of data cluster %d (L2 entry @%#x) := 0" % (c, pos)


def _refcount0_of(offset, what):
    def fn(p, q):
        c = offset(q) // q.cs
        q.set_refcount(c, 0)
        return "refcount of %s cluster %d := 0" % (what, c)
    return fn


d_refcount0_header = _refcount0_of(lambda q: 0, "header")
d_refcount0_l1 = _refcount0_of(lambda q: q.l1_off, "L1")
d_refcount0_l2 = _refcount0_of(lambda q: q.l2_tables()[0], "L2")
d_refcount0_rtable = _refcount0_of(lambda q: q.rt_off, "refcount table")
d_refcount0_rblock = _refcount0_of(lambda q: q.rt()[0], "refcount block")


def d_refcount2(p, q):
    if q.rbits < 2:
        raise NotApplicable("1-bit refcounts cannot hold 2")
    pos, e, c = _first_data(q)
    q.set_refcount(c, 2)
    return "refcount of data cluster %d (referenced once) := 2" % c


def d_leak_inside(p, q):
    for c in range(1, min(q.file_len // q.cs, q.covered_clusters())):
        if q.get_refcount(c) == 0:
            q.set_refcount(c, 1)
            return "refcount of free cluster %d inside the file := 1" % c
    raise NotApplicable("no free cluster inside the file")


def d_leak_append(p, q):
    c = (q.file_len + q.cs - 1) // q.cs
    if c >= q.covered_clusters():
        raise NotApplicable("no refcount block covers cluster %d" % c)
    with open(p, "r+b") as f:
        f.truncate((c + 1) * q.cs)
    q.set_refcount(c, 1)
    return "file grown to %d, refcount of new cluster %d := 1" \
        % ((c + 1) * q.cs, c)


def _l2_past_eof(distance, label):
    def fn(p, q):
        pos = _free_slot(q)
        target = (q.file_len + q.cs - 1) // q.cs * q.cs + distance(q)
        put64(p, pos, target | COPIED)
        return "free L2 entry @%#x := %#x|COPIED (%s past EOF %#x)" \
            % (pos, target, label, q.file_len)
    return fn


d_l2_past_eof_1 = _l2_past_eof(lambda q: 0, "first cluster")
d_l2_past_eof_far = _l2_past_eof(lambda q: 1 << 40, "1 TiB")


def d_l2_shared(p, q):
    _, e, c = _first_data(q)
    pos = _free_slot(q)
    put64(p, pos, e)
    return "free L2 entry @%#x := %#x (cluster %d, now mapped twice)" \
        % (pos, e, c)


def d_l2_shared_replace(p, q):
    _, e, c = _first_data(q)
    pos, e2, c2 = _first_data(q, 1)
    put64(p, pos, e)
    return "L2 entry @%#x (cluster %d) := entry of cluster %d" % (pos, c2, c)


def d_l2_no_copied(p, q):
    pos, e, c = _first_data(q)
    put64(p, pos, e & ~COPIED)
    return "COPIED cleared in L2 entry @%#x (cluster %d)" % (pos, c)


def d_l1_unaligned(p, q):
    if q.cs <= 512:
        raise NotApplicable("with 512-byte clusters every L1 offset is aligned")
    off, e = [(o, e) for o, e in q.l1() if e & OFFSET_MASK][0]
    put64(p, off, (e & OFFSET_MASK) + 512 | COPIED)
    return "L1 entry @%#x := %#x|COPIED (L2 table + 512)" \
        % (off, (e & OFFSET_MASK) + 512)


def d_l1_no_copied(p, q):
    off, e = [(o, e) for o, e in q.l1() if e & OFFSET_MASK][0]
    put64(p, off, e & ~COPIED)
    return "COPIED cleared in L1 entry @%#x" % off


def d_l2_reserved(p, q):
    pos, e, c = _first_data(q)
    put64(p, pos, e | 0x100)
    return "reserved bit 8 set in L2 entry @%#x (cluster %d)" % (pos, c)


def d_l1_reserved(p, q):
    off, e = [(o, e) for o, e in q.l1() if e & OFFSET_MASK][0]
    put64(p, off, e | 0x100)
    return "reserved bit 8 set in L1 entry @%#x" % off


def d_extl2_alloc_and_zero(p, q):
    if not q.extl2:
        raise NotApplicable("not extended L2")
    pos, e, c = _first_data(q)
    put64(p, pos + 8, (1 << 32) | 1)
    return "subcluster 0 of cluster %d both allocated and zero (bitmap @%#x)" \
        % (c, pos + 8)


def d_extl2_unallocated_alloc(p, q):
    if not q.extl2:
        raise NotApplicable("not extended L2")
    pos = _free_slot(q)
    put64(p, pos + 8, 1)
    return "unallocated L2 entry @%#x with subcluster 0 allocated" % pos


def _header(offset, value, width=4, what=None):
    def fn(p, q):
        v = value(q) if callable(value) else value
        if width == 4:
            put32(p, offset, v)
        elif width == 8:
            put64(p, offset, v)
        else:
            patch(p, offset, v)
        return what or "header @%d := %r" % (offset, v)
    return fn


def _incompat(bits, what):
    def fn(p, q):
        if q.version < 3:
            raise NotApplicable("v2 has no feature bits")
        put64(p, H_INCOMPAT, q.incompat | bits)
        return what
    return fn


def d_dirty_and_leak(p, q):
    _incompat(INCOMPAT_DIRTY, "")(p, q)
    return "dirty bit and " + d_leak_inside(p, q)


BODY_CASES = [
    ("refcount-0-data", d_refcount0_data),
    ("refcount-2-once", d_refcount2),
    ("leak-free-inside", d_leak_inside),
    ("leak-appended", d_leak_append),
    ("l2-past-eof-1", d_l2_past_eof_1),
    ("l2-past-eof-far", d_l2_past_eof_far),
    ("l2-shared", d_l2_shared),
    ("l1-unaligned-l2", d_l1_unaligned),
    ("l1-no-copied", d_l1_no_copied),
    ("l2-no-copied", d_l2_no_copied),
]

EXTRA_CASES = [
    ("refcount-0-header", d_refcount0_header),
    ("refcount-0-l1", d_refcount0_l1),
    ("refcount-0-l2", d_refcount0_l2),
    ("refcount-0-rtable", d_refcount0_rtable),
    ("refcount-0-rblock", d_refcount0_rblock),
    ("l2-shared-replace", d_l2_shared_replace),
    ("dirty+leak", d_dirty_and_leak),
    ("l2-reserved-bit", d_l2_reserved),
    ("l1-reserved-bit", d_l1_reserved),
]

EXTL2_CASES = [
    ("extl2-alloc-and-zero", d_extl2_alloc_and_zero),
    ("extl2-unallocated-alloc", d_extl2_unallocated_alloc),
]

HEADER_CASES = [
    ("bad-magic", _header(H_MAGIC, b"QFI\xfa", 0, "magic := QFI\\xfa")),
    ("version-4", _header(H_VERSION, 4)),
    ("version-1", _header(H_VERSION, 1)),
    ("cluster-bits-8", _header(H_CLUSTER_BITS, 8)),
    ("cluster-bits-22", _header(H_CLUSTER_BITS, 22)),
    ("l1-size-huge", _header(H_L1_SIZE, 0x10000000)),
    ("l1-size-32MiB+8", _header(H_L1_SIZE, 0x400001)),
    ("l1-size-0", _header(H_L1_SIZE, 0)),
    ("l1-offset-unaligned", _header(H_L1_OFF, lambda q: q.l1_off + 8, 8)),
    ("rtable-offset-unaligned", _header(H_RT_OFF, lambda q: q.rt_off + 8, 8)),
    ("rtable-past-eof", _header(H_RT_OFF, lambda q: q.file_len, 8)),
    ("rtable-far-past-eof", _header(H_RT_OFF, 1 << 40, 8)),
    ("rtable-clusters-huge", _header(H_RT_CLUSTERS, 0x100000)),
    ("refcount-order-7", _header(H_REFCOUNT_ORDER, 7)),
    ("header-length-100", _header(H_HEADER_LEN, 100)),
    ("header-length-8", _header(H_HEADER_LEN, 8)),
    ("header-length-2cl", _header(H_HEADER_LEN, lambda q: 2 * q.cs)),
    ("crypt-method-1", _header(H_CRYPT, 1)),
    ("crypt-method-2", _header(H_CRYPT, 2)),
    ("crypt-method-3", _header(H_CRYPT, 3)),
    ("rtable-clusters-0", _header(H_RT_CLUSTERS, 0)),
    ("external-data-bit", _incompat(1 << 2, "external data file bit")),
    ("incompat-unknown-5", _incompat(1 << 5, "incompatible bit 5")),
    ("incompat-unknown-40", _incompat(1 << 40, "incompatible bit 40")),
    ("size-2^62", _header(H_SIZE, 1 << 62, 8)),
    ("dirty-bit", _incompat(INCOMPAT_DIRTY, "dirty bit set")),
    ("corrupt-bit", _incompat(INCOMPAT_CORRUPT, "corrupt bit set")),
]

BACKING_HEADER_CASES = [
    ("backing-size-huge", _header(H_BACKING_SIZE, 0x10000000)),
    ("backing-size-1024", _header(H_BACKING_SIZE, 1024)),
    ("backing-offset-past-cluster",
     _header(H_BACKING_OFF, lambda q: q.cs + 8, 8)),
]


def damage_bases(d, vp):
    """(name, path, case list) of the images the damage is done to."""
    recipe = ("write -P 1 0 192k", "write -P 2 1M 64k", "write -z 2M 64k",
              "write -P 3 5M 64k", "discard 64k 64k")
    bases = []

    def q(name, size, opts, cases):
        p = os.path.join(d, "base-%s.qcow2" % name)
        qemu_img("create", "-q", "-f", "qcow2", "-o", opts, p, size)
        qemu_io(p, *recipe)
        bases.append((name, p, cases))
        return p

    q("q", "8M", "compat=1.1", BODY_CASES + EXTRA_CASES + HEADER_CASES)
    q("q-v2-512", "8M", "compat=0.10,cluster_size=512",
      BODY_CASES + HEADER_CASES[:5])
    q("q-rb1", "8M", "refcount_bits=1", BODY_CASES)
    q("q-rb64", "8M", "refcount_bits=64", BODY_CASES)
    q("q-extl2", "8M", "extended_l2=on", BODY_CASES + EXTL2_CASES)

    backing = os.path.join(d, "base-backing.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", backing, "8M")
    p = os.path.join(d, "base-q-overlay.qcow2")
    qemu_img("create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2",
             p, "8M")
    qemu_io(p, "write -P 4 0 64k")
    bases.append(("q-overlay", p, BACKING_HEADER_CASES))

    p = os.path.join(d, "base-vp.qcow2")
    vp.image(p, "--size", "8M")
    qemu_io(p, "discard 64k 64k")
    bases.append(("vp", p, BODY_CASES + EXTRA_CASES +
                  [c for c in HEADER_CASES if c[0] in
                   ("bad-magic", "dirty-bit", "corrupt-bit",
                    "rtable-past-eof", "l1-size-huge")]))
    p = os.path.join(d, "base-vp-rb1.qcow2")
    vp.image(p, "--size", "8M", "--refcount-bits", "1",
             "--preallocation", "off")
    qemu_io(p, *recipe)
    bases.append(("vp-rb1", p, BODY_CASES))
    p = os.path.join(d, "base-vp-extl2.qcow2")
    vp.image(p, "--size", "8M", "--extended-l2")
    qemu_io(p, "discard 64k 64k")
    bases.append(("vp-extl2", p, BODY_CASES + EXTL2_CASES))
    return bases


# --------------------------------------------------------------------------
# Comparison

def _crashed(rc, err):
    return rc < 0 or rc >= 128 or "Sanitizer" in err or \
        "runtime error" in err


def _one_line_error(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return len(lines) == 1 and lines[0].startswith("virt-provision: ")


def _short(text, n=160):
    text = " | ".join(l.strip() for l in text.strip().splitlines() if l)
    return text if len(text) <= n else text[:n] + "..."


def compare_info(qj, vj):
    """Differences between qemu-img info's and our info's JSON."""
    diffs = []
    for k in INFO_KEYS:
        a, b = qj.get(k), vj.get(k)
        if k == "format-specific" and a is not None and b is not None:
            if a.get("type") != b.get("type"):
                diffs.append("format-specific.type: qemu %r, ours %r"
                             % (a.get("type"), b.get("type")))
            ad, bd = a.get("data", {}), b.get("data", {})
            for dk in sorted(set(ad) | set(bd)):
                if ad.get(dk, "<absent>") != bd.get(dk, "<absent>"):
                    diffs.append("format-specific.data.%s: qemu %r, ours %r"
                                 % (dk, ad.get(dk, "<absent>"),
                                    bd.get(dk, "<absent>")))
        elif a != b:
            diffs.append("%s: qemu %r, ours %r" % (k, a, b))
    return diffs


def compare_check(qrc, qj, vrc, vj, keys):
    diffs = []
    if qrc != vrc:
        diffs.append("exit: qemu %d, ours %d" % (qrc, vrc))
    if qj is not None:
        if vj is None:
            diffs.append("ours printed no JSON")
        else:
            for k in keys:
                if qj.get(k, 0) != vj.get(k, 0):
                    diffs.append("%s: qemu %r, ours %r"
                                 % (k, qj.get(k, 0), vj.get(k, 0)))
    return diffs


def _stats(j):
    """allocated/fragmented/compressed clusters, for the corpus table."""
    if j is None:
        return "-"
    return "/".join("%d" % j.get(k, 0) for k in (
        "allocated-clusters", "fragmented-clusters", "compressed-clusters"))


def _counts(j):
    if j is None:
        return "-"
    return "%d/%d" % (j.get("corruptions", 0), j.get("leaks", 0))


def _pmap(fn, items):
    with ThreadPoolExecutor(max_workers=4) as ex:
        return list(ex.map(fn, items))


class CheckAgree(unittest.TestCase):
    longMessage = False

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        binary = qemuimg.vp_bin()
        qemuimg.require_tools()
        cls.vp = Vp(binary)
        cls.tmp = tempfile.TemporaryDirectory(prefix="check_agree.")
        cls.dir = cls.tmp.name

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        print("\ncheck_agree: runtime %.1f s" % (time.monotonic() - cls.t0),
              file=sys.stderr)

    # -- part 1 ------------------------------------------------------------
    def _agree(self, item):
        name, path = item
        problems = []
        qirc, qij, qierr = qemu_info(path)
        virc, vij, vierr, viout = self.vp.info(path)
        qcrc, qcj, qcerr = qemu_check(path)
        vcrc, vcj, vcerr, vcout = self.vp.check(path)
        if qirc != 0 or qcrc != 0:
            problems.append("qemu-img itself fails: info %d %s check %d %s"
                            % (qirc, _short(qierr), qcrc, _short(qcerr)))
        for what, rc, j, err, out in (("info", virc, vij, vierr, viout),
                                      ("check", vcrc, vcj, vcerr, vcout)):
            if _crashed(rc, err):
                problems.append("our %s crashed (%d): %s"
                                % (what, rc, _short(err, 400)))
            elif j is None and rc in (0, 2, 3):
                problems.append("our %s --json printed no JSON document: %s"
                                % (what, _short(out)))
        if virc != 0:
            problems.append("our info exit %d: %s" % (virc, _short(vierr)))
        elif qij is not None and vij is not None:
            problems += ["info " + d for d in compare_info(qij, vij)]
        problems += ["check " + d for d in
                     compare_check(qcrc, qcj, vcrc, vcj, CHECK_KEYS)]
        if vcrc != qcrc and vcerr.strip():
            problems.append("our check stderr: " + _short(vcerr))
        row = (name, "%d" % qcrc, "%d" % vcrc, _stats(qcj), _stats(vcj),
               "%d" % qirc, "%d" % virc, "ok" if not problems else "DIFF")
        return row, [(name, path, p) for p in problems]

    def _run_corpus(self, title, corpus):
        results = _pmap(self._agree, corpus)
        self._table(title, [r for r, _ in results], "a/f/c")
        problems = [p for _, ps in results for p in ps]
        self.assertFalse(problems, self._report(problems))

    def test_qemu_corpus(self):
        d = os.path.join(self.dir, "qemu")
        os.mkdir(d)
        self._run_corpus("images written by qemu-img", qemu_corpus(d))

    def test_vp_corpus(self):
        d = os.path.join(self.dir, "vp")
        os.mkdir(d)
        backing = os.path.join(d, "backing.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", backing, "8M")
        self._run_corpus("images written by virt-provision",
                         vp_corpus(d, self.vp, backing))

    # -- part 2 ------------------------------------------------------------
    def _damaged(self, item):
        base_name, base, case, fn = item
        name = "%s/%s" % (base_name, case)
        path = os.path.join(self.dir, "damage",
                            name.replace("/", "_") + ".qcow2")
        shutil.copy(base, path)
        try:
            what = fn(path, Qcow2(path))
        except NotApplicable as e:
            return (name, "", "", "", "", "", "", "n/a: %s" % e), []
        probe = name.endswith("bad-magic")
        qcrc, qcj, qcerr = qemu_check(path, probe)
        qirc, qij, qierr = qemu_info(path, probe)
        vcrc, vcj, vcerr, vcout = self.vp.check(path)
        virc, vij, vierr, viout = self.vp.info(path)
        problems, notes = [], []
        for what_cmd, rc, err in (("check", vcrc, vcerr),
                                  ("info", virc, vierr)):
            if _crashed(rc, err):
                problems.append("our %s crashed (exit %d): %s"
                                % (what_cmd, rc, _short(err, 400)))
            elif rc == 1 and not _one_line_error(err):
                problems.append("our %s exit 1 without a one-line "
                                "'virt-provision: ' error: %r"
                                % (what_cmd, err))
        if qcrc == 1:
            # qemu-img cannot open the image: we must refuse it too.
            if vcrc != 1:
                problems.append("check exit: qemu 1 (%s), ours %d %s"
                                % (_short(qcerr), vcrc,
                                   _short(vcout + " " + vcerr)))
            if virc != 1:
                problems.append("info exit: must be 1 where qemu-img check "
                                "cannot open (qemu-img info exit %d), "
                                "ours %d %s" % (qirc, virc, _short(viout)))
            if qirc != 1:
                notes.append("qemu-img info exits %d where qemu-img check "
                             "exits 1" % qirc)
        else:
            problems += ["check " + d for d in
                         compare_check(qcrc, qcj, vcrc, vcj, DAMAGE_KEYS)]
            if vcrc == 1:
                problems.append("our check stderr: " + _short(vcerr))
            if qirc != 0:
                notes.append("qemu-img info exits %d where qemu-img check "
                             "exits %d" % (qirc, qcrc))
            else:
                if virc != 0:
                    problems.append("info exit: qemu 0, ours %d %s"
                                    % (virc, _short(vierr)))
                elif vij is not None and qij is not None:
                    problems += ["info " + d
                                 for d in compare_info(qij, vij)]
        if problems:
            problems.insert(0, "damage: " + what)
            problems.append("qemu-img check stderr: " + _short(qcerr, 300))
        row = (name, "%d" % qcrc, "%d" % vcrc, _counts(qcj), _counts(vcj),
               "%d" % qirc, "%d" % virc,
               ("ok" if not problems else "DIFF") +
               ("" if not notes else " (" + "; ".join(notes) + ")"))
        return row, [(name, path, p) for p in problems]

    def test_damaged(self):
        d = os.path.join(self.dir, "damage")
        os.mkdir(d)
        items = [(bn, bp, cn, fn)
                 for bn, bp, cases in damage_bases(d, self.vp)
                 for cn, fn in cases]
        results = _pmap(self._damaged, items)
        self._table("damaged images", [r for r, _ in results])
        problems = [p for _, ps in results for p in ps]
        self.assertFalse(problems, self._report(problems))

    # -- part 3 ------------------------------------------------------------
    def test_counts_in_words(self):
        """The human report says "1 leaked cluster was" but "2 leaked
        clusters were": one message per plural form, not a number pasted
        into a plural sentence.  The counts come from damage qemu-img
        check confirms."""
        d = os.path.join(self.dir, "words")
        os.mkdir(d)
        base = os.path.join(d, "base.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", base, "8M")
        # Two free clusters inside the file, for two leaks.
        qemu_io(base, "write -P 1 0 256k", "discard 64k 128k")
        leak = "leaked cluster{} found on the image: wasted space, but no " \
               "harm to data."
        error = "found on the image; data may be corrupted, and further " \
                "writes may corrupt it."
        cases = [
            # name, damage, qemu-img's counts, exit, the line
            ("1 leak", [d_leak_inside], ("leaks", 1), 3,
             "1 " + leak.format(" was")),
            ("2 leaks", [d_leak_inside, d_leak_inside], ("leaks", 2), 3,
             "2 " + leak.format("s were")),
            ("1 corruption", [d_l2_no_copied], ("corruptions", 1), 2,
             "1 error was " + error),
            ("2 corruptions", [d_refcount0_data], ("corruptions", 2), 2,
             "2 errors were " + error),
        ]
        for name, damage, (key, count), rc, line in cases:
            with self.subTest(case=name):
                path = os.path.join(d, name.replace(" ", "-") + ".qcow2")
                shutil.copy(base, path)
                what = "; ".join(fn(path, Qcow2(path)) for fn in damage)
                qrc, qj, qerr = qemu_check(path)
                self.assertEqual((qrc, qj.get(key) if qj else None), (rc, count),
                                 "precondition: qemu-img check of %s (%s): %s"
                                 % (name, what, _short(qerr)))
                vrc, out, err = self.vp.run("check", path)
                self.assertEqual(vrc, rc, "%s: %s %s" % (name, out, err))
                self.assertIn(line, out.splitlines(),
                              "%s (%s): check prints\n%s" % (name, what, out))

    # -- output ------------------------------------------------------------
    def _table(self, title, rows, counts="c/l"):
        head = ("case", "qemu", "ours", "qemu " + counts, "ours " + counts,
                "q-info", "info", "")
        widths = [max(len(str(r[i])) for r in rows + [head])
                  for i in range(len(head) - 1)]
        out = ["", "== %s: check exit codes, %s, info exit codes"
               % (title, "corruptions/leaks" if counts == "c/l" else
                  "allocated/fragmented/compressed clusters")]
        for r in [head] + rows:
            out.append("  ".join(str(c).ljust(w) for c, w in
                                 zip(r, widths)) + "  " + r[-1])
        print("\n".join(out), file=sys.stderr)

    @staticmethod
    def _report(problems):
        lines = ["%d disagreement(s) with qemu-img:" % len(problems)]
        for name, path, p in problems:
            lines.append("  %s: %s" % (name, p))
        return "\n".join(lines)


if __name__ == "__main__":
    unittest.main(verbosity=2)
