#!/usr/bin/env python3
"""Benchmark `virt-provision convert` against `qemu-img convert` and `cp --sparse=always`.

This is a benchmark, not a test: it prints figures, ratios and PASS/MISS verdicts
against the project's targets, and exits 0 whatever the figures are. It exits 1
only when a command failed, an output is not a faithful copy, or a required
program is missing; 2 on bad usage.

In a scratch directory it writes, once and untimed, a sparse raw image SRC
(default 20G) holding --data bytes (default 2G) of random data in --runs runs
spread across it, and then measures, one at a time:

  virt-provision  `virt-provision convert SRC DST`   (preallocated qcow2, data through
                  copy_file_range; fsyncs DST before renaming it into place)
  qemu-img        `qemu-img convert -f raw -O qcow2 -o preallocation=metadata SRC DST`
  cp              `cp --sparse=always SRC DST`        (the copy limit: a raw copy of
                  the data, holes kept)

Durability is matched: each run is timed as-is and, separately, with an fsync()
of DST done by the runner the moment the command exits ("synced"). The verdicts
use the synced figures. Before every run DST is removed, sync(2) called and the
page cache dropped (untimed), so every run reads SRC from disk.

Once, untimed, each output is checked: `qemu-img compare` against SRC must say
identical, and `qemu-img check` of the qcow2 outputs must be clean. See README.md.

Python 3 standard library only.
"""

import argparse
import os
import platform
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402 (after the sys.path change)
    add_json_option, add_vp_option, CommandFailed, file_figures, find_program, fmt_x,
    fs_of, human, parse_args, parse_size, ratio, remove, reporters, rotated, run,
    run_measured_synced, summarize, tool_version, Verdicts, vp_binary, write_json)

# Targets the verdict lines judge (synced figures, best of --repeat).
TARGET_QEMU_SPEEDUP = 2.0   # qemu-img / virt-provision, at least
TARGET_CP_RATIO = 1.5       # virt-provision / cp --sparse=always, at most ("near")

TARGETS = ("virt-provision", "qemu-img", "cp")
DROP_CACHES = "/proc/sys/vm/drop_caches"
WRITE_CHUNK = 8 << 20


def command_for(target, vp, qemu_img, src, dst):
    if target == "virt-provision":
        return [vp, "convert", src, dst]
    if target == "qemu-img":
        return [qemu_img, "convert", "-f", "raw", "-O", "qcow2",
                "-o", "preallocation=metadata", src, dst]
    return ["cp", "--sparse=always", src, dst]


def source_layout(size, data, runs):
    """[(offset, length)]: `runs` runs of random data, 64 KiB aligned, one in each
    equal stretch of the image, a third of the way in (not on round offsets)."""
    align = 64 << 10
    stride = size // runs // align * align
    lengths = [data // runs // align * align] * runs
    lengths[-1] += data - sum(lengths)
    out = []
    for i, length in enumerate(lengths):
        offset = i * stride + stride // 3 // align * align
        if length > stride - (offset - i * stride):
            raise ValueError("%d bytes of data do not fit in %d runs over %d bytes"
                             % (data, runs, size))
        out.append((offset, length))
    return out


def write_source(path, size, layout):
    """A sparse file of `size` bytes with random bytes at each (offset, length)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.ftruncate(fd, size)
        for offset, length in layout:
            end = offset + length
            while offset < end:
                n = min(WRITE_CHUNK, end - offset)
                buf = os.urandom(n)
                while buf:
                    w = os.pwrite(fd, buf, offset)
                    buf = buf[w:]
                    offset += w
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_caches():
    """sync(2), then drop the clean page cache; False when not allowed (not root)."""
    os.sync()
    try:
        with open(DROP_CACHES, "w") as f:
            f.write("1\n")
        return True
    except OSError:
        return False


def verify(target, qemu_img, src, dst):
    """qemu-img compare SRC DST (and check, for qcow2): a dict of what they said."""
    fmt = "raw" if target == "cp" else "qcow2"
    p = run([qemu_img, "compare", "-q", "-f", "raw", "-F", fmt, src, dst], timeout=1800,
            check=False)
    res = {"compare_exit": p.returncode,
           "compare": {0: "identical", 1: "DIFFERENT"}.get(p.returncode,
                                                          "error %d" % p.returncode),
           "check_exit": None, "check": "-"}
    if p.returncode > 1:
        res["compare"] += ": " + (p.stderr or p.stdout).strip()[-300:]
    if fmt == "qcow2":
        c = run([qemu_img, "check", "-q", dst], timeout=1800, check=False)
        res["check_exit"] = c.returncode
        res["check"] = "clean" if c.returncode == 0 else "exit %d" % c.returncode
    return res


def main():
    ap = argparse.ArgumentParser(
        description="Compare `virt-provision convert` (preallocated qcow2) with "
                    "`qemu-img convert -O qcow2 -o preallocation=metadata` and "
                    "`cp --sparse=always`, on a sparse raw image with some data. "
                    "Prints figures; asserts nothing.")
    add_vp_option(ap)
    ap.add_argument("--qemu-img", default="qemu-img", help="qemu-img binary (default: from PATH)")
    ap.add_argument("--size", type=parse_size, default="20G",
                    help="virtual size of SRC (default: 20G)")
    ap.add_argument("--data", type=parse_size, default="2G",
                    help="random data in SRC (default: 2G)")
    ap.add_argument("--runs", type=int, default=8,
                    help="number of data runs the data is spread in (default: 8)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per target; the best wall-clock counts (default: 3)")
    ap.add_argument("--dir", help="parent of the scratch directory (default: $TMPDIR or /tmp); "
                                  "SRC and every DST live in a fresh subdirectory there, "
                                  "removed afterwards")
    ap.add_argument("--targets", default=",".join(TARGETS),
                    help="comma-separated subset of %s" % ",".join(TARGETS))
    ap.add_argument("--warm", action="store_true",
                    help="do not drop the page cache before each run (SRC then stays cached)")
    add_json_option(ap)
    args = parse_args(ap)

    size, data = args.size, args.data
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    try:
        layout = source_layout(size, data, args.runs)
    except ValueError as e:
        ap.error(str(e))
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in TARGETS:
            ap.error("unknown target %r" % t)
    targets = [t for t in TARGETS if t in targets]

    say, progress = reporters(args.json)

    vp = None
    if "virt-provision" in targets:
        vp = vp_binary(ap, args.vp, "bench-convert")
        if vp is None:
            return 1
    # qemu-img is also the oracle: needed whatever the targets.
    qemu_img = find_program(args.qemu_img, "bench-convert", "qemu-img")
    if not qemu_img:
        return 1
    if "cp" in targets and not find_program("cp", "bench-convert"):
        return 1

    parent = args.dir or tempfile.gettempdir()
    failed = []
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-convert-", dir=parent) as scratch:
        mnt, fstype = fs_of(scratch)
        src = os.path.join(scratch, "src.raw")
        dst = os.path.join(scratch, "dst")
        progress("  writing %s: %s sparse, %s of random data in %d runs (untimed) ..."
                 % (src, human(size), human(data), len(layout)))
        try:
            write_source(src, size, layout)
            src_figs = file_figures(src)
        except OSError as e:
            print("bench-convert: cannot write %s: %s" % (src, e), file=sys.stderr)
            return 1
        cold = not args.warm and drop_caches()
        meta = {
            "scratch_dir": scratch, "mount_point": mnt, "fs_type": fstype,
            "kernel": platform.release(), "cpus": os.cpu_count(), "repeat": args.repeat,
            "virt_provision": vp,
            "virt_provision_version": tool_version([vp, "--version"]) if vp else None,
            "qemu_img": qemu_img, "qemu_img_version": tool_version([qemu_img, "--version"]),
            "cp_version": tool_version(["cp", "--version"]),
            "source": dict(path=src, virtual_size=size, data=data,
                           runs=[{"offset": o, "length": n} for o, n in layout],
                           **src_figs),
            "cache": "cold: DST removed, sync(2) and drop_caches=1 (untimed) before every run"
                     if cold else
                     "warm: page cache not dropped (%s); DST removed and sync(2) called "
                     "(untimed) before every run" % ("--warm" if args.warm else
                                                     "cannot write " + DROP_CACHES),
            "loadavg_start": os.getloadavg(),
        }
        say("bench-convert: scratch %s (%s on %s), kernel %s, %d CPUs, best of %d"
            % (scratch, fstype, mnt, meta["kernel"], meta["cpus"] or 0, args.repeat))
        if vp:
            say("  virt-provision: %s (%s)" % (vp, meta["virt_provision_version"]))
        say("  qemu-img: %s (%s)" % (qemu_img, meta["qemu_img_version"]))
        say("  cp: %s" % meta["cp_version"])
        say("  SRC: raw, %d bytes (%s), %s of random data in %d runs of ~%s, "
            "%s allocated" % (size, human(size), human(src_figs["data_bytes"]), len(layout),
                              human(layout[0][1]), human(src_figs["allocated_bytes"])))
        say("  page cache: %s" % meta["cache"])
        say("  load average at start: %.2f %.2f %.2f" % meta["loadavg_start"])
        if fstype in ("tmpfs", "ramfs"):
            say("  warning: scratch dir is on %s: fsync costs nothing there" % fstype)
        if meta["loadavg_start"][0] > 1.0:
            say("  warning: the machine is busy (load %.2f on %d CPUs): expect noise"
                % (meta["loadavg_start"][0], meta["cpus"] or 0))

        runs = {t: [] for t in targets}
        figs = {}
        checks = {}
        broken = set()
        # Targets interleave and their order rotates with each repetition, as in
        # the other benches.
        for rep, target in rotated(targets, args.repeat):
            if target in broken:
                continue
            argv = command_for(target, vp, qemu_img, src, dst)
            remove(dst)
            if not args.warm:
                drop_caches()   # untimed; a plain sync(2) when not allowed
            else:
                os.sync()
            progress("  %s run %d/%d ..." % (target, rep + 1, args.repeat))
            try:
                runs[target].append(run_measured_synced(argv, scratch, dst))
                figs.setdefault(target, file_figures(dst))
                if target not in checks:
                    progress("  %s: verifying the output (untimed) ..." % target)
                    checks[target] = verify(target, qemu_img, src, dst)
                    c = checks[target]
                    if c["compare_exit"] != 0 or c["check_exit"] not in (None, 0):
                        # A wrong copy makes its time meaningless.
                        raise CommandFailed("output is not a faithful copy: compare %s, "
                                            "check %s" % (c["compare"], c["check"]))
            except (CommandFailed, OSError) as e:
                failed.append("%s: %s" % (target, e))
                print("bench-convert: %s: %s" % (target, e), file=sys.stderr)
                broken.add(target)
            remove(dst)
        for target in targets:
            if not runs[target] or target in broken:
                continue
            fsyncs = [r[4] for r in runs[target]]
            synced = summarize([(r[0] + r[4],) + r[1:4] for r in runs[target]])
            best_i = synced["runs_s"].index(synced["best_s"])
            results[target] = dict(
                target=target, argv=command_for(target, vp, qemu_img, "SRC", "DST"),
                **summarize([r[:4] for r in runs[target]]),
                fsync_s=fsyncs, synced_runs_s=synced["runs_s"],
                synced_best_s=synced["best_s"], synced_median_s=synced["median_s"],
                synced_worst_s=synced["worst_s"], fsync_of_synced_best_s=fsyncs[best_i],
                **figs[target], **checks[target])
        meta["loadavg_end"] = os.getloadavg()

    # ---- report ----
    say("")
    say("%-15s %8s %8s %9s %9s %8s %7s %7s %10s %12s %10s %10s  %s"
        % ("target", "best s", "median s", "synced s", "s.median", "fsync s", "user s",
           "sys s", "peak RSS", "file length", "allocated", "data", "verified"))
    for target in targets:
        r = results.get(target)
        if r is None:
            say("%-15s %8s" % (target, "FAILED"))
            continue
        say("%-15s %8.3f %8.3f %9.3f %9.3f %8.3f %7.3f %7.3f %6d KiB %12d %10s %10s  %s"
            % (target, r["best_s"], r["median_s"], r["synced_best_s"], r["synced_median_s"],
               r["fsync_of_synced_best_s"], r["best_user_s"], r["best_sys_s"],
               r["peak_rss_kib"], r["file_length"], human(r["allocated_bytes"]),
               human(r["data_bytes"]),
               "compare %s%s" % (r["compare"], "" if r["check"] == "-"
                                 else ", check " + r["check"])))
    say("  (best/median s: the command alone, as-is; synced s: the command plus an fsync() "
        "of DST the moment it exits, best and median of those; fsync s: that fsync in the "
        "best synced run; user/sys: the command's CPU in its best as-is run)")

    say("")
    say("%-34s %12s %12s %12s" % ("ratio", "synced", "as-is", "synced med"))
    v, q, c = (results.get(t) for t in TARGETS)
    rows = []
    for name, num, den in (("qemu-img / virt-provision", q, v),
                           ("virt-provision / cp", v, c)):
        row = {"ratio": name, "synced": ratio(num, den, "synced_best_s"),
               "as_is": ratio(num, den, "best_s"),
               "synced_median": ratio(num, den, "synced_median_s")}
        rows.append(row)
        say("%-34s %12s %12s %12s" % (name, fmt_x(row["synced"]), fmt_x(row["as_is"]),
                                      fmt_x(row["synced_median"])))
    say("  (best/best unless marked; virt-provision fsyncs DST itself, qemu-img and cp do "
        "not, so only the synced ratios compare like with like)")
    say("load average at start %.2f, at end %.2f"
        % (meta["loadavg_start"][0], meta["loadavg_end"][0]))

    say("")
    verdicts = Verdicts(say)  # verdicts(name, ok, text) prints and records one
    x = rows[0]["synced"]
    if x is None:
        verdicts("qemu-speedup", None, "qemu-img / virt-provision not measured")
    else:
        verdicts("qemu-speedup", x >= TARGET_QEMU_SPEEDUP,
                 "qemu-img / virt-provision = %s synced (target >= %gx; as-is %s)"
                 % (fmt_x(x), TARGET_QEMU_SPEEDUP, fmt_x(rows[0]["as_is"])))
    x = rows[1]["synced"]
    if x is None:
        verdicts("near-cp", None, "virt-provision / cp --sparse=always not measured")
    else:
        verdicts("near-cp", x <= TARGET_CP_RATIO,
                 "virt-provision / cp --sparse=always = %s synced (target <= %gx; as-is %s)"
                 % (fmt_x(x), TARGET_CP_RATIO, fmt_x(rows[1]["as_is"])))

    for f in failed:
        say("FAILED: %s" % f)

    if args.json:
        write_json({"meta": meta, "results": [results[t] for t in targets if t in results],
                    "ratios": rows, "verdicts": verdicts, "failures": failed}, args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
