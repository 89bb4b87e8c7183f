#!/usr/bin/env python3
"""Conformance of `virt-provision image` against qemu-img 7.2 as the oracle.

For every case of a covering matrix (see covering_set()) the image written by
virt-provision must, compared with a qemu-img-created reference of the same
options:
  1. pass `qemu-img check` with exit 0 (no corruption, no leak);
  2. report exactly the requested options in `qemu-img info`, with
     format-specific data equal to the reference's;
  3. be fully mapped in `qemu-img map` for metadata/falloc/full and unmapped
     for off, with data flags (normalised, host offsets ignored) equal to the
     reference's, and zero flags too wherever qemu-img derives them the same
     way for both layouts (see compare_maps()); st_blocks shows the data area
     sparse for metadata and allocated for falloc/full;
  4. take qemu-io pattern writes at start, middle and end, read them back,
     still check clean, and -- when preallocated -- keep its image end offset
     and file length;
  5. be identical to the reference for `qemu-img compare` (before the writes);
  6. get the same answers from `virt-provision info/check --json` as from
     qemu-img info/check on the keys they share.
Plus overlays on qcow2 and raw backing files, and the refusal of
preallocation with a backing file but without --extended-l2.

Cases run two at a time (the machine has 2 cores), most expensive first.
Runtime and the number of cases checked are printed at the end.
Debugging aids: VP_CONFORMANCE_ONLY=substring runs only the matrix cases whose
repr contains it; VP_CONFORMANCE_VERBOSE=1 prints the slowest cases.
"""

import bisect
import collections
import concurrent.futures
import itertools
import json
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qemuimg as q  # noqa: E402
import qcow2_header  # noqa: E402

K, M, G, T = 1 << 10, 1 << 20, 1 << 30, 1 << 40
WORKERS = 2

# ---------------------------------------------------------------------------
# The matrix
#
# Dimensions: size class, cluster size, preallocation, compat, refcount bits,
# lazy refcounts, extended L2. Their full product is 29120 combinations, far
# too many; instead covering_set() picks a set in which every pair of values of
# two different dimensions meets in at least one case, wherever such a case is
# legal ("pairwise" coverage). The set is computed, not hand-written, so it
# stays complete when a dimension changes, and test_matrix_is_pairwise
# verifies the coverage.
#
# Legal means: accepted by qemu-img 7.2 (compat 0.10 only with 16-bit
# refcounts and neither lazy refcounts nor extended L2; extended L2 only with
# clusters >= 16K; L1 at most 32 MiB; a preallocated file below ext4's 16 TiB
# cap) and affordable on 2 cores within ~6 minutes:
#   - full only up to 64 MiB (it writes every byte, twice: ours and the
#     reference), falloc only up to 2.5 GiB (fallocated disk space, twice);
#   - preallocated small-cluster images only where qemu-img is fast enough:
#     its metadata preallocation costs about 1e-2 * size / cluster_size^2
#     seconds (512 B clusters: 1G takes ~38 s, 20G does not finish), and
#     check/map/compare cost ~0.1 us per guest cluster; estimate_cost() models
#     this and cases over MAX_CASE_COST are illegal. Unpreallocated (off)
#     images are cheap at any size qemu accepts, so small clusters still meet
#     the large size classes there.
# Among the cases that cover an uncovered pair the greedy choice prefers the
# one covering the most new pairs, penalised by its estimated cost, so
# expensive cases are picked only where they are needed.
#
# SEEDS are added before the greedy pass: the big sizes with the cluster sizes
# where they are practical and preallocated (the covering pass alone would
# cover "4T" cheaply with off), and the default options.
#
# Reference images: qemu-img creates one for every case whose estimated
# creation time is under MAX_REF_COST; only a case above it runs without a
# reference (steps 2, 3 and 5 then check the requested options and the mapping
# but cannot compare). With the current limits no selected case exceeds it
# (4T with 64K clusters takes qemu-img ~12 s and is compared in full); the
# mechanism is there so that raising MAX_CASE_COST does not silently drop
# comparisons for the whole suite.
# ---------------------------------------------------------------------------

SIZE_CLASSES = ["sector", "odd", "odd64", "l2-below", "l2-above",
                "rc-below", "rc-above", "20G", "1T", "4T"]
CLUSTERS = [512 << i for i in range(13)]            # 512 .. 2M
PREALLOC = ["off", "metadata", "falloc", "full"]
COMPAT = ["0.10", "1.1"]
RBITS = [1, 2, 4, 8, 16, 32, 64]
LAZY = [False, True]
EXTL2 = [False, True]
DIMS = (SIZE_CLASSES, CLUSTERS, PREALLOC, COMPAT, RBITS, LAZY, EXTL2)

Case = collections.namedtuple(
    "Case", "sclass cluster prealloc compat rbits lazy extl2")

SEEDS = [
    Case("4T", 64 * K, "metadata", "1.1", 16, False, False),
    Case("4T", 2 * M, "metadata", "1.1", 16, False, True),
    Case("1T", 64 * K, "metadata", "1.1", 16, False, False),
    Case("1T", 2 * M, "metadata", "1.1", 64, False, False),
    Case("20G", 64 * K, "metadata", "1.1", 16, False, False),
    Case("20G", 4 * K, "metadata", "1.1", 16, False, False),
]

MAX_FULL = 64 * M
MAX_FALLOC = 2 * G + G // 2
EXT4_MAX_FILE = 16 * T - 64 * M
MAX_L1_ENTRIES = 32 * M // 8
MAX_CASE_COST = 60.0      # seconds, estimated, for one case
MAX_REF_COST = 25.0       # seconds, estimated, for qemu-img to create it
COST_PENALTY = 4.0        # seconds of estimated cost worth one new pair
PREALLOC_BONUS = 1.5      # in pairs: a preallocated image tests more


def human(n):
    """64K-style spelling of a power-of-two size, for the command line."""
    for unit, mult in (("T", T), ("G", G), ("M", M), ("K", K)):
        if n >= mult and n % mult == 0:
            return "%d%s" % (n // mult, unit)
    return str(n)


def l2_entries(cluster, extl2):
    return cluster // (16 if extl2 else 8)


def rc_entries(cluster, rbits):
    return cluster * 8 // rbits


def ceil_div(a, b):
    return -(-a // b)


def host_clusters(guest, cluster, extl2, nblocks):
    """Clusters a preallocated image of `guest` guest clusters needs in the
    contract's layout: header, refcount table, nblocks refcount blocks, L1,
    L2 tables, data."""
    l2 = ceil_div(guest, l2_entries(cluster, extl2))
    l1 = ceil_div(l2 * 8, cluster)
    rt = ceil_div(nblocks * 8, cluster)
    return 1 + rt + nblocks + l1 + l2 + guest


def rc_boundary(cluster, rbits, extl2):
    """Largest guest cluster count whose preallocated image still fits in one
    refcount block (binary search; host_clusters is monotonic)."""
    limit = rc_entries(cluster, rbits)
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if host_clusters(mid, cluster, extl2, 1) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def requested_size(c):
    """(bytes, --size argument) for a case. L2/refcount classes are relative
    to the case's cluster size (and L2 entry width / refcount width); the
    refcount classes keep a 2-cluster margin on each side of the boundary so
    a header one cluster longer than modelled still lands on the right side.
    """
    s = c.sclass
    if s == "sector":
        n = 512
    elif s == "odd":
        n = 1000001
    elif s == "odd64":
        n = 3 * 64 * K + 7
    elif s in ("l2-below", "l2-above"):
        reach = c.cluster * l2_entries(c.cluster, c.extl2)
        n = reach - 512 if s == "l2-below" else reach + 512
    elif s in ("rc-below", "rc-above"):
        g = rc_boundary(c.cluster, c.rbits, c.extl2)
        # The data area starts on a 4 KiB boundary, after up to
        # 4096/cluster - 1 free clusters: widen the margin by that much.
        m = 2 + max(0, 4096 // c.cluster - 1)
        n = (g - m if s == "rc-below" else g + m) * c.cluster
    else:
        n = {"20G": 20 * G, "1T": T, "4T": 4 * T}[s]
        return n, s
    return n, str(n)


def ref_cost(c, vsize):
    if c.prealloc == "off":
        return 0.02
    cost = 1e-2 * vsize / (c.cluster * c.cluster) + 0.02
    if c.prealloc == "full":
        cost += vsize / 5e8
    return cost


def estimate_cost(c):
    """Rough wall time of one case in seconds (calibrated on this machine)."""
    vsize = q.round_up(requested_size(c)[0], 512)
    guest = ceil_div(vsize, c.cluster)
    cost = 0.4                                   # ~20 small processes
    if c.prealloc != "off":
        # qemu-img check x2, map x2, compare, our check: ~0.1 us/cluster each
        cost += 6 * 1e-7 * guest
        # our writer: L2 tables, ~300 MB/s
        cost += guest * (16 if c.extl2 else 8) / 3e8
        if c.prealloc == "full":
            cost += vsize / 5e8
    rc = ref_cost(c, vsize)
    if rc <= MAX_REF_COST:
        cost += rc
    return cost


def legal(c):
    if c.compat == "0.10" and (c.rbits != 16 or c.lazy or c.extl2):
        return False
    if c.extl2 and c.cluster < 16 * K:
        return False
    if c.sclass.startswith("rc-") and c.prealloc == "off":
        return False        # the file is a few clusters: no boundary to test
    n, _ = requested_size(c)
    if n <= 0:
        return False
    vsize = q.round_up(n, 512)
    guest = ceil_div(vsize, c.cluster)
    if ceil_div(guest, l2_entries(c.cluster, c.extl2)) > MAX_L1_ENTRIES:
        return False
    if c.prealloc != "off":
        if host_clusters(guest, c.cluster, c.extl2, 1) * c.cluster \
                > EXT4_MAX_FILE:
            return False
    if c.prealloc == "full" and vsize > MAX_FULL:
        return False
    if c.prealloc == "falloc" and vsize > MAX_FALLOC:
        return False
    return estimate_cost(c) <= MAX_CASE_COST


def pairs_of(c):
    return [(i, c[i], j, c[j])
            for i, j in itertools.combinations(range(len(DIMS)), 2)]


def legal_cases():
    return [c for c in map(Case._make, itertools.product(*DIMS)) if legal(c)]


def covering_set():
    """Seeds plus a greedy pairwise cover of all legal value pairs."""
    cases = legal_cases()
    cost = {c: estimate_cost(c) for c in cases}
    by_pair = collections.defaultdict(list)
    for c in cases:
        for p in pairs_of(c):
            by_pair[p].append(c)
    chosen = [s for s in SEEDS if legal(s)]
    uncovered = set(by_pair)
    for s in chosen:
        uncovered.difference_update(pairs_of(s))
    while uncovered:
        # Most constrained pair first: it has the fewest candidate cases.
        p = min(uncovered, key=lambda p: (len(by_pair[p]), p))
        best = max(by_pair[p], key=lambda c: (
            len(uncovered.intersection(pairs_of(c))) - cost[c] / COST_PENALTY
            + (PREALLOC_BONUS if c.prealloc != "off" else 0)))
        chosen.append(best)
        uncovered.difference_update(pairs_of(best))
    return chosen, set(by_pair)


# ---------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------

class Checker:
    """Counts checks and collects failures with reproduction commands."""

    def __init__(self, label, casedir):
        self.label = label
        self.casedir = casedir
        self.repro = []          # commands that build the images
        self.failures = []
        self.count = 0
        self.notes = collections.Counter()

    def note(self, what):
        self.notes[what] += 1

    def _cmd(self, text):
        text = text.replace(self.casedir, "$D")
        vp_bin = os.environ.get("VP_BIN")
        if vp_bin:
            text = text.replace(vp_bin, "$VP_BIN")
        return text

    def setup(self, res):
        self.repro.append(self._cmd(res.cmdline))

    def ok(self, cond, msg, *results):
        self.count += 1
        if not cond:
            lines = ["[%s] %s" % (self.label, msg)]
            lines.append("  reproduce: D=$(mktemp -d)")
            for r in self.repro:
                lines.append("    " + r)
            for r in results:
                lines.append("  " + self._cmd(r.describe()).replace(
                    "\n", "\n  "))
            self.failures.append("\n".join(lines))
        return cond

    def eq(self, got, want, msg, *results):
        return self.ok(got == want, "%s: expected %r, got %r"
                       % (msg, want, got), *results)


def fs_block(path):
    return os.statvfs(path).f_bsize


def read_header(path):
    """(l1_size, number of refcount blocks) from a qcow2 header; only to
    confirm that a boundary case straddles the boundary it is named after."""
    h = qcow2_header.read(path)
    with open(path, "rb") as f:
        f.seek(h.refcount_table_offset)
        rt = f.read(h.refcount_table_clusters * h.cluster_size)
    blocks = sum(1 for i in range(0, len(rt), 8) if rt[i:i + 8] != bytes(8))
    return h.l1_size, blocks


def write_regions(vsize):
    """Up to three non-overlapping (offset, length, pattern) regions at the
    start, middle and end of the disk; 512-aligned because vsize is."""
    ln = min(64 * K, max(512, vsize // 3 // 512 * 512))
    offs = [0, (vsize // 2 - ln // 2) // 512 * 512, vsize - ln]
    regions = []
    for off, pat in zip(offs, (0xa5, 0x5a, 0xc3)):
        if all(off + ln <= o or o + ln <= off for o, _, _ in regions):
            regions.append((off, ln, pat))
    return regions


def zero_gap(vsize, regions):
    """A stretch no region touches, to read back as zeros, or None."""
    edges = sorted((o, o + n) for o, n, _ in regions)
    prev = 0
    for start, end in edges + [(vsize, vsize)]:
        if start - prev >= 512:
            return prev, min(64 * K, start - prev)
        prev = max(prev, end)
    return None


INFO_SHARED = ("filename", "format", "virtual-size", "actual-size",
               "cluster-size", "dirty-flag", "format-specific",
               "backing-filename", "backing-filename-format")
CHECK_SHARED = ("filename", "format", "check-errors", "image-end-offset",
                "total-clusters", "allocated-clusters", "fragmented-clusters",
                "compressed-clusters", "corruptions", "leaks")


def vp_json(ck, *args):
    res = q.vp("--json", *args)
    try:
        doc = json.loads(res.out)
    except ValueError:
        ck.ok(False, "virt-provision --json did not print one JSON document",
              res)
        return res, None
    ck.ok(isinstance(doc, dict), "--json output is an object", res)
    return res, doc if isinstance(doc, dict) else None


def agree_with_qemu(ck, path, qinfo, qcheck_rc, qcheck, expect_prealloc=None,
                    guest=None, mapped=None):
    """Our info/check --json against qemu-img's on the shared keys."""
    res, doc = vp_json(ck, "info", path)
    if ck.eq(res.rc, 0, "virt-provision info exit status", res) and doc:
        for key in INFO_SHARED:
            ck.eq(doc.get(key), qinfo.get(key),
                  "info --json %r vs qemu-img info" % key, res)
        ck.eq(doc.get("file-length"), os.stat(path).st_size,
              "info --json 'file-length' vs st_size", res)
        if expect_prealloc is not None:
            ck.eq(doc.get("preallocation"), expect_prealloc,
                  "info --json 'preallocation'", res)
        if guest is not None:
            ck.eq(doc.get("guest-clusters"), guest,
                  "info --json 'guest-clusters'", res)
        if mapped is not None:
            ck.eq(doc.get("mapped-clusters"), mapped,
                  "info --json 'mapped-clusters'", res)
    res, doc = vp_json(ck, "check", path)
    ck.eq(res.rc, qcheck_rc, "virt-provision check exit status vs qemu-img",
          res)
    if doc:
        for key in ("check-errors", "corruptions", "leaks"):
            ck.ok(key in doc, "check --json lacks %r" % key, res)
        for key in CHECK_SHARED:
            if key in ("filename", "format"):
                ck.eq(doc.get(key), qcheck.get(key),
                      "check --json %r vs qemu-img check" % key, res)
            else:
                ck.eq(doc.get(key, 0), qcheck.get(key, 0),
                      "check --json %r vs qemu-img check" % key, res)


def qcheck_clean(ck, path, what):
    res = q.run(["qemu-img", "check", "--output=json", path])
    rc = res.rc
    try:
        data = json.loads(res.out)
    except ValueError:
        data = {}
    ok = ck.eq(rc, 0, "qemu-img check exit status %s" % what, res)
    if ok:
        for key in ("check-errors", "corruptions", "leaks"):
            ck.eq(data.get(key, 0), 0, "qemu-img check %r %s" % (key, what),
                  res)
    return rc, data


def map_runs(ck, path, vsize, fmt=None):
    """(raw qemu-img map entries, normalised runs) of an image."""
    entries = q.img_map(path, fmt)
    runs = q.normalise_map(entries)
    covered = sum(r.length for r in runs)
    ck.ok(runs and runs[0].start == 0 and covered == vsize,
          "qemu-img map of %s covers [0, %d): %r"
          % (os.path.basename(path), vsize, runs[:4]))
    return entries, runs


# --- Comparing qemu-img map's zero flag --------------------------------------
#
# `data`, host-offset presence and depth are properties of the qcow2 metadata
# and are compared exactly. `zero` is not always: for an allocated cluster
# qemu 7.2 asks the host file (SEEK_DATA) only if
# qcow2_detect_metadata_preallocation() decides the image is
# metadata-preallocated -- more clusters with a refcount than
# max(allocated/9*10, allocated+2) clusters of st_blocks -- and a host hole
# then reads as zero=true. So the flag depends on how many host blocks each
# layout happens to allocate (qemu writes whole metadata clusters; a tiny image
# flips the heuristic), on filesystem blocks that a small data cluster shares
# with an L2 table or refcount block, on the zero padding qemu writes after an
# unaligned disk end, and, for fallocated (unwritten) extents, on the page
# cache. The zero flags are therefore compared with the reference:
#   - exactly, where the cluster has no host offset (off, backing files);
#   - on host-mapped ranges only where both maps were produced the same way
#     (qemu dug into the file for both images or for neither; which one is
#     visible: a mapped data range reported zero=true), and outside the
#     filesystem blocks that hold anything but this image's guest data;
#   - not for falloc when qemu dug into the file (unwritten extents).
# The skipped comparisons are counted and printed. That our data area is
# really sparse (metadata) or really allocated (falloc/full) is checked
# directly on st_blocks instead, so a skipped comparison hides nothing.

def _mapped0(e):
    return "offset" in e and e.get("depth", 0) == 0


def recursed(entries):
    """True if qemu-img map consulted the host file for this image."""
    return any(_mapped0(e) and e.get("data") and e.get("zero")
               for e in entries)


def layout_dirty(entries, bsize):
    """Guest ranges mapped to filesystem blocks this image shares between
    guest data and something else (metadata, padding past the disk end)."""
    host = sorted((e["offset"], e["offset"] + e["length"])
                  for e in entries if _mapped0(e))
    merged = []
    for a, b in host:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    starts = [m[0] for m in merged]

    def covered(a, b):
        i = bisect.bisect_right(starts, a) - 1
        return i >= 0 and merged[i][1] >= b

    dirty = []
    for e in entries:
        if not _mapped0(e):
            continue
        g, h, n = e["start"], e["offset"], e["length"]
        if h % bsize and not covered(h - h % bsize, h):
            dirty.append((g, g + min(n, bsize - h % bsize)))
        end = h + n
        if end % bsize and not covered(end, end - end % bsize + bsize):
            dirty.append((g + max(0, n - end % bsize), g + n))
    return dirty


def zero_mismatches(a, b, excluded):
    """Guest ranges outside `excluded` where the zero flags of map entry
    lists a and b differ."""
    def steps(entries):
        es = sorted(entries, key=lambda e: e["start"])
        return [e["start"] for e in es], [bool(e.get("zero")) for e in es]
    sa, za = steps(a)
    sb, zb = steps(b)
    cuts = sorted(set(sa) | set(sb) | {x for r in excluded for x in r})
    end = max(e["start"] + e["length"] for e in a + b)
    excl = sorted(excluded)
    bad = []
    for lo, hi in zip(cuts, cuts[1:] + [end]):
        if lo >= hi or any(x <= lo and hi <= y for x, y in excl):
            continue
        va = za[bisect.bisect_right(sa, lo) - 1]
        vb = zb[bisect.bisect_right(sb, lo) - 1]
        if va != vb:
            bad.append((lo, hi, va, vb))
    return bad


def compare_maps(ck, ours_entries, ref_entries, prealloc, bsize):
    """Compare two qemu-img map outputs as described above."""
    def no_zero(entries):
        return q.normalise_map([dict(e, zero=False) for e in entries])
    ck.eq(no_zero(ours_entries), no_zero(ref_entries),
          "normalised map (data, mapped, depth) vs qemu-img's reference")
    ro, rr = recursed(ours_entries), recursed(ref_entries)
    if ro != rr:
        ck.note("zero flags not compared: qemu's metadata-preallocation "
                "heuristic differs between the two layouts")
        return
    if ro and prealloc == "falloc":
        ck.note("zero flags not compared: falloc and qemu read the host "
                "file (unwritten extents)")
        return
    excluded = layout_dirty(ours_entries, bsize) + \
        layout_dirty(ref_entries, bsize)
    bad = zero_mismatches(ours_entries, ref_entries, excluded)
    ck.ok(not bad, "map zero flags differ from qemu-img's reference "
          "(guest start, end, ours, reference): %r" % bad[:5])
    ck.note("zero flags compared")


def check_host_allocation(ck, path, entries, prealloc, vsize):
    """st_blocks says whether the data area is sparse or allocated."""
    st = os.stat(path)
    mapped = [e for e in entries if _mapped0(e)]
    if not mapped:
        return
    data_start = min(e["offset"] for e in mapped)
    data_end = max(e["offset"] + e["length"] for e in mapped)
    ck.ok(st.st_size >= data_end, "file length %d holds every mapped "
          "guest byte (last ends at %d)" % (st.st_size, data_end))
    allocated = st.st_blocks * 512
    if prealloc in ("falloc", "full"):
        ck.ok(allocated >= vsize, "%s: %d bytes allocated on disk, fewer "
              "than the %d-byte disk" % (prealloc, allocated, vsize))
    elif prealloc == "metadata":
        slack = max(data_end - data_start - vsize, 0) + 64 * K
        ck.ok(allocated <= data_start + slack, "metadata: %d bytes "
              "allocated on disk, but the metadata ends at %d: data area "
              "not sparse" % (allocated, data_start))


def run_case(c, tmp):
    n, size_arg = requested_size(c)
    vsize = q.round_up(n, 512)
    guest = ceil_div(vsize, c.cluster)
    label = ("%s(%d) cluster=%s prealloc=%s compat=%s refcount-bits=%d%s%s"
             % (c.sclass, n, human(c.cluster), c.prealloc, c.compat, c.rbits,
                " lazy" if c.lazy else "", " extended-l2" if c.extl2 else ""))
    d = tempfile.mkdtemp(dir=tmp)
    ck = Checker(label, d)
    ours = os.path.join(d, "ours.qcow2")
    ref = os.path.join(d, "ref.qcow2")
    try:
        _run_case(ck, c, d, ours, ref, size_arg, vsize, guest)
    except q.QemuImgError as e:
        ck.ok(False, "aborted: %s" % e)
    finally:
        for p in (ours, ref):
            if os.path.exists(p):
                os.unlink(p)
        for leftover in os.listdir(d):
            os.unlink(os.path.join(d, leftover))
        os.rmdir(d)
    return ck


def _run_case(ck, c, d, ours, ref, size_arg, vsize, guest):
    args = ["image", ours, "--size", size_arg, "--preallocation", c.prealloc,
            "--cluster-size", human(c.cluster), "--compat", c.compat,
            "--refcount-bits", str(c.rbits)]
    if c.lazy:
        args.append("--lazy-refcounts")
    if c.extl2:
        args.append("--extended-l2")
    res = q.vp(*args)
    ck.setup(res)
    if not ck.eq(res.rc, 0, "virt-provision image exit status", res):
        return
    ck.eq(sorted(os.listdir(d)), ["ours.qcow2"],
          "files left in the directory after image", res)
    with_ref = ref_cost(c, vsize) <= MAX_REF_COST
    if with_ref:
        opts = {"cluster_size": c.cluster, "preallocation": c.prealloc,
                "compat": c.compat, "refcount_bits": c.rbits}
        if c.compat == "1.1":
            opts["lazy_refcounts"] = c.lazy
            opts["extended_l2"] = c.extl2
        ck.setup(q.create(ref, vsize, options=opts))

    # 1. qemu-img check: clean, and as allocated as qemu's own image.
    qrc, qcheck = qcheck_clean(ck, ours, "after image")
    end_before = qcheck.get("image-end-offset")
    len_before = os.stat(ours).st_size
    ck.eq(qcheck.get("total-clusters"), guest, "qemu-img check total-clusters")
    ck.eq(qcheck.get("allocated-clusters", 0),
          0 if c.prealloc == "off" else guest,
          "qemu-img check allocated-clusters")
    ck.eq(qcheck.get("fragmented-clusters", 0), 0,
          "qemu-img check fragmented-clusters (contract layout is "
          "sequential)")

    # 2. qemu-img info: the requested options, and the reference's data.
    qinfo = q.info(ours)
    ck.eq(qinfo.get("format"), "qcow2", "info format")
    ck.eq(qinfo.get("virtual-size"), vsize, "info virtual-size")
    ck.eq(qinfo.get("cluster-size"), c.cluster, "info cluster-size")
    ck.eq(qinfo.get("dirty-flag"), False, "info dirty-flag")
    ck.ok("backing-filename" not in qinfo, "info shows no backing file")
    fs = qinfo.get("format-specific", {})
    ck.eq(fs.get("type"), "qcow2", "format-specific type")
    data = fs.get("data", {})
    ck.eq(data.get("compat"), c.compat, "info compat")
    ck.eq(data.get("refcount-bits"), c.rbits, "info refcount-bits")
    if c.compat == "1.1":
        ck.eq(data.get("lazy-refcounts"), c.lazy, "info lazy-refcounts")
        ck.eq(data.get("extended-l2"), c.extl2, "info extended-l2")
        ck.eq(data.get("corrupt"), False, "info corrupt")
    if with_ref:
        ck.eq(fs, q.info(ref).get("format-specific"),
              "format-specific vs qemu-img's reference")

    # Layout facts that make the boundary classes mean what they say.
    l1_size, blocks = read_header(ours)
    ck.eq(l1_size, ceil_div(guest, l2_entries(c.cluster, c.extl2)),
          "header l1_size")
    if c.sclass in ("rc-below", "rc-above") and c.prealloc != "off":
        ck.ok((blocks == 1) == (c.sclass == "rc-below"),
              "%s case has %d refcount blocks in use" % (c.sclass, blocks))

    # 3. qemu-img map: every cluster mapped (or none), flags as qemu's.
    entries, runs = map_runs(ck, ours, vsize)
    want_mapped = c.prealloc != "off"
    ck.ok(all(r.mapped == want_mapped for r in runs),
          "map: every guest range %s a host offset: %r"
          % ("has" if want_mapped else "lacks", runs[:6]))
    if with_ref:
        compare_maps(ck, entries, map_runs(ck, ref, vsize)[0], c.prealloc,
                     fs_block(d))
    check_host_allocation(ck, ours, entries, c.prealloc, vsize)

    # 5. compare with the reference (before any write).
    if with_ref:
        res = q.compare(ours, ref)
        ck.eq(res.rc, 0, "qemu-img compare with reference", res)

    # 6. our info/check agree with qemu-img.
    expect = {"off": "off", "metadata": "metadata"}.get(c.prealloc,
                                                          "falloc/full")
    agree_with_qemu(ck, ours, qinfo, qrc, qcheck, expect, guest,
                    guest if want_mapped else 0)

    # 4. pattern writes, read back, still clean, no growth when preallocated.
    regions = write_regions(vsize)
    cmds = []
    for off, ln, pat in regions:
        cmds += ["write -P 0x%x %d %d" % (pat, off, ln),
                 "read -P 0x%x %d %d" % (pat, off, ln)]
    res = q.qemu_io(ours, cmds)
    ck.ok(q.io_ok(res), "qemu-io write/read of patterns", res)
    cmds = ["read -P 0x%x %d %d" % (pat, off, ln) for off, ln, pat in regions]
    gap = zero_gap(vsize, regions)
    if gap:
        cmds.append("read -P 0 %d %d" % gap)
    res = q.qemu_io(ours, cmds)
    ck.ok(q.io_ok(res), "qemu-io read-back in a new process", res)
    qrc, qcheck = qcheck_clean(ck, ours, "after qemu-io writes")
    if want_mapped:
        ck.eq(qcheck.get("image-end-offset"), end_before,
              "image-end-offset after writes into a preallocated image")
        ck.eq(os.stat(ours).st_size, len_before,
              "file length after writes into a preallocated image")
    agree_with_qemu(ck, ours, q.info(ours), qrc, qcheck)


# ---------------------------------------------------------------------------
# Overlays
# ---------------------------------------------------------------------------

BASE_SIZE = 1000001
Overlay = collections.namedtuple("Overlay", "base_fmt prealloc cluster relative")
OVERLAYS = [
    Overlay("qcow2", "off", 64 * K, False),
    Overlay("raw", "off", 64 * K, True),
    Overlay("qcow2", "metadata", 64 * K, True),
    Overlay("raw", "metadata", 32 * K, False),
]
REFUSED = [("qcow2", "metadata"), ("qcow2", "falloc"), ("raw", "full"),
           ("raw", "metadata")]


def make_base(ck, d, fmt):
    """A base image made by qemu-img with patterns at the start and end."""
    base = os.path.join(d, "base." + fmt)
    ck.setup(q.create(base, BASE_SIZE, fmt=fmt))
    vsize = q.round_up(BASE_SIZE, 512)
    res = q.qemu_io(base, ["write -P 0x3c 0 64k",
                           "write -P 0x7e %d 4096" % (vsize - 4096)], fmt=fmt)
    ck.setup(res)
    ck.ok(q.io_ok(res), "qemu-io writes into the base", res)
    return base, vsize


def run_overlay(o, tmp):
    label = "overlay on %s, prealloc=%s%s, cluster=%s, %s backing name" % (
        o.base_fmt, o.prealloc, " extended-l2" if o.prealloc != "off" else "",
        human(o.cluster), "relative" if o.relative else "absolute")
    d = tempfile.mkdtemp(dir=tmp)
    ck = Checker(label, d)
    try:
        _run_overlay(ck, o, d)
    except q.QemuImgError as e:
        ck.ok(False, "aborted: %s" % e)
    finally:
        for leftover in os.listdir(d):
            os.unlink(os.path.join(d, leftover))
        os.rmdir(d)
    return ck


def _run_overlay(ck, o, d):
    base, vsize = make_base(ck, d, o.base_fmt)
    name = os.path.basename(base) if o.relative else base
    ov = os.path.join(d, "ov.qcow2")
    ref = os.path.join(d, "ref.qcow2")
    args = ["image", ov, "--size", str(BASE_SIZE), "--backing", name,
            "--backing-format", o.base_fmt, "--preallocation", o.prealloc,
            "--cluster-size", human(o.cluster)]
    opts = {"cluster_size": o.cluster, "preallocation": o.prealloc}
    if o.prealloc != "off":
        args.append("--extended-l2")
        opts["extended_l2"] = True
    # A relative backing name is resolved against the overlay's directory by
    # qemu; running in that directory makes the cwd reading agree with it.
    res = q.vp(*args, cwd=d)
    ck.setup(res)
    if not ck.eq(res.rc, 0, "virt-provision image exit status", res):
        return
    ck.setup(q.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", name,
                    "-F", o.base_fmt, "-o",
                    ",".join("%s=%s" % (k, "on" if v is True else v)
                             for k, v in opts.items()), ref, BASE_SIZE],
                   cwd=d))

    qrc, qcheck = qcheck_clean(ck, ov, "of the overlay")
    end_before = qcheck.get("image-end-offset")
    len_before = os.stat(ov).st_size
    qinfo = q.info(ov)
    rinfo = q.info(ref)
    ck.eq(qinfo.get("virtual-size"), vsize, "overlay virtual-size")
    ck.eq(qinfo.get("backing-filename"), name, "overlay backing-filename")
    ck.eq(qinfo.get("backing-filename-format"), o.base_fmt,
          "overlay backing-filename-format")
    ck.eq(qinfo.get("format-specific"), rinfo.get("format-specific"),
          "overlay format-specific vs qemu-img's reference")
    entries, runs = map_runs(ck, ov, vsize)
    compare_maps(ck, entries, map_runs(ck, ref, vsize)[0], o.prealloc,
                 fs_block(d))
    if o.prealloc == "off":
        ck.ok(all(r.depth > 0 or not r.mapped for r in runs),
              "off overlay maps nothing of its own: %r" % runs)
    res = q.compare(ov, ref)
    ck.eq(res.rc, 0, "qemu-img compare overlay with reference overlay", res)
    res = q.compare(ov, base, fmt_a="qcow2", fmt_b=o.base_fmt)
    ck.eq(res.rc, 0, "qemu-img compare overlay with its base", res)
    res = q.qemu_io(ov, ["read -P 0x3c 0 64k",
                         "read -P 0x7e %d 4096" % (vsize - 4096),
                         "read -P 0 64k 64k"])
    ck.ok(q.io_ok(res), "qemu-io reads the base's data through the overlay",
          res)
    agree_with_qemu(ck, ov, qinfo, qrc, qcheck)

    # A write inside a base-backed cluster: the rest of it still comes from
    # the base (copy-on-write, per subcluster with extended L2).
    res = q.qemu_io(ov, ["write -P 0x99 8k 4k", "read -P 0x3c 0 8k",
                         "read -P 0x99 8k 4k", "read -P 0x3c 12k 52k",
                         "read -P 0 64k 64k"])
    ck.ok(q.io_ok(res), "qemu-io write into the overlay, read around it", res)
    res = q.qemu_io(base, ["read -P 0x3c 0 64k"], fmt=o.base_fmt)
    ck.ok(q.io_ok(res), "the base is unchanged by overlay writes", res)
    qrc, qcheck = qcheck_clean(ck, ov, "of the overlay after writes")
    if o.prealloc != "off":
        ck.eq(qcheck.get("image-end-offset"), end_before,
              "overlay image-end-offset after writes")
        ck.eq(os.stat(ov).st_size, len_before, "overlay length after writes")
    agree_with_qemu(ck, ov, q.info(ov), qrc, qcheck)


def run_refused(base_fmt, prealloc, tmp):
    label = "refuse --preallocation %s with a %s backing file and no " \
            "--extended-l2" % (prealloc, base_fmt)
    d = tempfile.mkdtemp(dir=tmp)
    ck = Checker(label, d)
    try:
        base, _ = make_base(ck, d, base_fmt)
        before = sorted(os.listdir(d))
        res = q.vp("image", os.path.join(d, "ov.qcow2"), "--size",
                   str(BASE_SIZE), "--backing", base, "--backing-format",
                   base_fmt, "--preallocation", prealloc)
        ck.setup(res)
        ck.eq(res.rc, 2, "exit status", res)
        ck.eq(sorted(os.listdir(d)), before, "directory after refusal", res)
        lines = res.err.splitlines()
        ck.ok(len(lines) == 1 and lines[0].startswith("virt-provision: "),
              "exactly one 'virt-provision: ' line on stderr", res)
        ck.eq(res.out, "", "nothing on stdout", res)
    except q.QemuImgError as e:
        ck.ok(False, "aborted: %s" % e)
    finally:
        for leftover in os.listdir(d):
            os.unlink(os.path.join(d, leftover))
        os.rmdir(d)
    return ck


# ---------------------------------------------------------------------------

class Conformance(unittest.TestCase):
    started = None
    lock = threading.Lock()
    cases = 0
    checks = 0
    notes = collections.Counter()

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        q.require_tools()
        q.vp_bin()
        cls.tmp = tempfile.TemporaryDirectory(prefix="vp-conformance-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        print("\nconformance: %d cases, %d checks, %.1f s"
              % (cls.cases, cls.checks, time.monotonic() - cls.started),
              flush=True)
        for what, n in sorted(cls.notes.items()):
            print("  %4d x %s" % (n, what), flush=True)

    def run_all(self, jobs):
        """jobs: list of (estimated cost, callable returning a Checker)."""
        jobs = sorted(jobs, key=lambda j: -j[0])
        failures = []
        timings = []
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            def timed(fn):
                t0 = time.monotonic()
                ck = fn()
                return ck, time.monotonic() - t0
            futures = [pool.submit(timed, fn) for _, fn in jobs]
            for fut in futures:
                ck, secs = fut.result()
                timings.append((secs, ck.label))
                with self.lock:
                    type(self).cases += 1
                    type(self).checks += ck.count
                    type(self).notes.update(ck.notes)
                failures += ck.failures
        if os.environ.get("VP_CONFORMANCE_VERBOSE"):
            for secs, label in sorted(timings, reverse=True)[:8]:
                print("  %6.1f s  %s" % (secs, label), flush=True)
        if failures:
            self.fail("%d failed checks:\n\n%s"
                      % (len(failures), "\n\n".join(failures)))

    def test_matrix_is_pairwise(self):
        chosen, legal_pairs = covering_set()
        covered = set()
        for c in chosen:
            self.assertTrue(legal(c), c)
            covered.update(pairs_of(c))
        self.assertEqual(legal_pairs - covered, set())
        # Every value of every dimension is exercised at least once.
        for i, values in enumerate(DIMS):
            self.assertEqual({c[i] for c in chosen}, set(values))

    def test_matrix(self):
        chosen, _ = covering_set()
        only = os.environ.get("VP_CONFORMANCE_ONLY")   # debugging aid
        if only:
            chosen = [c for c in chosen if only in repr(c)]
        print("\nconformance matrix: %d cases, estimated %.0f s of work"
              % (len(chosen), sum(map(estimate_cost, chosen))), flush=True)
        tmp = self.tmp.name
        self.run_all([(estimate_cost(c), lambda c=c: run_case(c, tmp))
                      for c in chosen])

    def test_overlays(self):
        tmp = self.tmp.name
        jobs = [(1.0, lambda o=o: run_overlay(o, tmp)) for o in OVERLAYS]
        jobs += [(0.5, lambda b=b, p=p: run_refused(b, p, tmp))
                 for b, p in REFUSED]
        self.run_all(jobs)


if __name__ == "__main__":
    unittest.main(verbosity=2)
