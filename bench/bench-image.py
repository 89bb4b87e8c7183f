#!/usr/bin/env python3
"""Benchmark `virt-provision image` against `qemu-img create` and a plain `dd`.

This is a benchmark, not a test: it prints figures, ratios and PASS/MISS verdicts
against the project's targets, and exits 0 whatever the figures are. It exits 1
only when a command failed (or a required program is missing), 2 on bad usage.

For each size (default 20G, 1T, 4T) it measures, in one scratch directory:

  virt-provision  `virt-provision image F --size S --preallocation metadata
                  --cluster-size 64K`
  qemu-img        `qemu-img create -f qcow2 -o preallocation=metadata F S`
  dd              `dd if=/dev/zero of=F bs=1M count=B iflag=count_bytes conv=fsync`
                  where B is the number of bytes virt-provision's image holds as
                  data (the sum of its SEEK_DATA..SEEK_HOLE extents): the physical
                  limit of writing that much metadata sequentially and syncing it.

Figures per target and size: best wall-clock of --repeat runs, peak RSS of the
child (ru_maxrss from wait4() of that child alone, KiB), file length, allocated
bytes (st_blocks * 512) and data bytes (SEEK_DATA/SEEK_HOLE). See README.md for
how the comparison is kept fair and for the caveats (warm cache, RSS floor).

Python 3 standard library only.
"""

import argparse
import os
import platform
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402 (after the sys.path change)
    add_json_option, add_vp_option, best_run, CommandFailed, file_figures, find_program,
    floor_line, fmt_x, fs_of, human, parse_args, parse_size, ratio, remove, reporters,
    rotated, run_measured, summarize, tool_version, Verdicts, vp_binary, write_json)

# Targets the verdict lines judge.
TARGET_QEMU_SPEEDUP_AT_1T = 30.0   # qemu-img / virt-provision at 1T, at least
TARGET_DD_RATIO = 2.0              # virt-provision / dd, at most, every size
TARGET_RSS_KIB = 16 * 1024         # virt-provision peak RSS, at most, every size

# Commands are timed by benchlib.run_measured(): a minimal interpreter forks, execs
# and reports wait4()'s figures for that child alone, which keeps the RSS floor at
# ~5 MiB instead of this script's own ~14 MiB (see benchlib.RUNNER).


def command_for(target, vp, qemu_img, dd_conv, size_text, nbytes, out):
    if target == "virt-provision":
        return [vp, "image", out, "--size", size_text,
                "--preallocation", "metadata", "--cluster-size", "64K"]
    if target == "qemu-img":
        return [qemu_img, "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata",
                out, size_text]
    argv = ["dd", "if=/dev/zero", "of=" + out, "bs=1M", "count=%d" % nbytes,
            "iflag=count_bytes", "status=none"]
    if dd_conv:
        argv.append("conv=" + dd_conv)
    return argv


def main():
    ap = argparse.ArgumentParser(
        description="Compare `virt-provision image` (metadata preallocation, 64K clusters) "
                    "with `qemu-img create -o preallocation=metadata` and a sequential dd "
                    "of the same metadata bytes. Prints figures; asserts nothing.")
    add_vp_option(ap)
    ap.add_argument("--qemu-img", default="qemu-img", help="qemu-img binary (default: from PATH)")
    ap.add_argument("--sizes", default="20G,1T,4T",
                    help="comma-separated virtual sizes (default: 20G,1T,4T)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per target and size; the best wall-clock counts (default: 3)")
    ap.add_argument("--dir", help="parent of the scratch directory (default: $TMPDIR or /tmp); "
                                  "a fresh subdirectory is made there and removed afterwards")
    ap.add_argument("--targets", default="virt-provision,qemu-img,dd",
                    help="comma-separated subset of virt-provision,qemu-img,dd "
                         "(dd needs virt-provision: it writes as many bytes as our image holds)")
    ap.add_argument("--dd-conv", default="fsync",
                    help="dd conv= flag matching how virt-provision syncs "
                         "(default: fsync, since it fsyncs before rename; '' for none)")
    add_json_option(ap)
    args = parse_args(ap)

    sizes = []
    for text in args.sizes.split(","):
        text = text.strip()
        if text:
            try:
                sizes.append((text, parse_size(text)))
            except argparse.ArgumentTypeError as e:
                ap.error(str(e))
    if not sizes:
        ap.error("--sizes is empty")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in ("virt-provision", "qemu-img", "dd"):
            ap.error("unknown target %r" % t)
    if "dd" in targets and "virt-provision" not in targets:
        ap.error("target dd needs virt-provision (it writes as many bytes as our image holds)")
    targets = [t for t in ("virt-provision", "qemu-img", "dd") if t in targets]

    say, progress = reporters(args.json)

    vp = None
    if "virt-provision" in targets:
        vp = vp_binary(ap, args.vp, "bench-image")
        if vp is None:
            return 1
    qemu_img = None
    if "qemu-img" in targets:
        qemu_img = find_program(args.qemu_img, "bench-image", "qemu-img")
        if not qemu_img:
            return 1
    if "dd" in targets and not find_program("dd", "bench-image"):
        return 1

    parent = args.dir or tempfile.gettempdir()
    failed = []
    results = {}   # (size_text, target) -> dict
    failed_runs = set()   # (size_text, target) whose command failed
    with tempfile.TemporaryDirectory(prefix="bench-image-", dir=parent) as scratch:
        mnt, fstype = fs_of(scratch)
        meta = {
            "scratch_dir": scratch,
            "mount_point": mnt,
            "fs_type": fstype,
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "repeat": args.repeat,
            "virt_provision": vp,
            "virt_provision_version": tool_version([vp, "--version"]) if vp else None,
            "qemu_img": qemu_img,
            "qemu_img_version": tool_version([qemu_img, "--version"]) if qemu_img else None,
            "dd_conv": args.dd_conv or None,
            "cache": "warm: page cache not dropped; each output deleted and sync(2) "
                     "called (untimed) before every run",
        }
        # What wait4() reports for a child that does nothing (see RUNNER).
        try:
            floor = best_run(["/bin/true"], scratch)
        except CommandFailed as e:
            print("bench-image: %s" % e, file=sys.stderr)
            return 1
        meta["spawn_floor"] = {"wall_s": floor[0], "peak_rss_kib": floor[1]}
        # What the tool costs before it writes a byte (exec, dynamic linking):
        # at small sizes this is most of its time and all of its RSS.
        startup = None
        if vp:
            try:
                startup = best_run([vp, "--version"], scratch)
                meta["vp_startup"] = {"argv": [vp, "--version"], "wall_s": startup[0],
                                      "peak_rss_kib": startup[1]}
            except CommandFailed as e:
                progress("  note: `virt-provision --version` failed, no start-up figure: %s" % e)

        say("bench-image: scratch %s (%s on %s), kernel %s, %d CPUs, best of %d"
            % (scratch, fstype, mnt, meta["kernel"], meta["cpus"] or 0, args.repeat))
        if vp:
            say("  virt-provision: %s (%s)" % (vp, meta["virt_provision_version"]))
        if qemu_img:
            say("  qemu-img: %s (%s)" % (qemu_img, meta["qemu_img_version"]))
        say(floor_line(floor))
        if startup:
            say("  virt-provision start-up (--version, same runner): %.4f s, %d KiB peak RSS"
                % (startup[0], startup[1]))
        if fstype in ("tmpfs", "ramfs"):
            say("  warning: scratch dir is on %s: fsync costs nothing there" % fstype)

        for size_text, nbytes in sizes:
            path = os.path.join(scratch, "out-" + size_text.replace("/", "_"))
            dd_bytes = None
            runs = {t: [] for t in targets}
            files = {}
            broken = set()
            # Targets interleave, and their order rotates with each repetition
            # (vp,qemu,dd / qemu,dd,vp / dd,vp,qemu), so neither drift in the
            # machine's state nor what the previous run left behind (freed page
            # cache, pending discards) favours one target.  The first repetition
            # starts with virt-provision, whose image gives dd its byte count.
            for rep, target in rotated(targets, args.repeat):
                if target in broken:
                    continue
                if target == "dd" and dd_bytes is None:
                    broken.add(target)  # virt-provision failed: no byte count
                    continue
                argv = command_for(target, vp, qemu_img, args.dd_conv, size_text,
                                   dd_bytes, path)
                remove(path)
                os.sync()  # untimed: leave no writeback of earlier runs behind
                progress("  %s %s run %d/%d ..." % (size_text, target, rep + 1, args.repeat))
                try:
                    runs[target].append(run_measured(argv, scratch))
                    figs = file_figures(path)
                except (CommandFailed, OSError) as e:
                    failed.append("%s %s: %s" % (size_text, target, e))
                    failed_runs.add((size_text, target))
                    print("bench-image: %s %s: %s" % (size_text, target, e), file=sys.stderr)
                    broken.add(target)
                    remove(path)
                    continue
                if target in files and files[target] != figs:
                    progress("  note: %s %s figures changed between runs: %s -> %s"
                             % (size_text, target, files[target], figs))
                files[target] = figs
                if target == "virt-provision" and dd_bytes is None:
                    dd_bytes = figs["data_bytes"]
                remove(path)
            for target in targets:
                if not runs[target]:
                    continue
                results[(size_text, target)] = dict(
                    size=size_text, virtual_size=nbytes, target=target,
                    argv=command_for(target, vp, qemu_img, args.dd_conv, size_text,
                                     dd_bytes, "F"),
                    **summarize(runs[target]), **files[target])

    # ---- report ----
    say("")
    say("%-6s %-15s %8s %8s %8s %7s %7s %11s %15s %10s %10s"
        % ("size", "target", "best s", "median s", "worst s", "user s", "sys s", "peak RSS",
           "file length", "allocated", "data"))
    for size_text, _ in sizes:
        for target in targets:
            r = results.get((size_text, target))
            if r is None:
                say("%-6s %-15s %8s" % (size_text, target,
                                       "FAILED" if (size_text, target) in failed_runs
                                       else "not run"))
                continue
            say("%-6s %-15s %8.3f %8.3f %8.3f %7.3f %7.3f %7d KiB %15d %10s %10s"
                % (size_text, target, r["best_s"], r["median_s"], r["worst_s"], r["best_user_s"],
                   r["best_sys_s"], r["peak_rss_kib"], r["file_length"],
                   human(r["allocated_bytes"]), human(r["data_bytes"])))

    ratios = []
    say("")
    say("%-6s %22s %20s   (best/best; median/median in brackets)"
        % ("size", "qemu-img/virt-prov", "virt-prov/dd"))
    for size_text, nbytes in sizes:
        v = results.get((size_text, "virt-provision"))
        q = results.get((size_text, "qemu-img"))
        d = results.get((size_text, "dd"))
        row = {"size": size_text, "virtual_size": nbytes,
               "qemu_over_vp": ratio(q, v, "best_s"), "vp_over_dd": ratio(v, d, "best_s"),
               "qemu_over_vp_median": ratio(q, v, "median_s"),
               "vp_over_dd_median": ratio(v, d, "median_s")}
        ratios.append(row)
        say("%-6s %22s %20s" % (
            size_text,
            "%s (%s)" % (fmt_x(row["qemu_over_vp"]), fmt_x(row["qemu_over_vp_median"])),
            "%s (%s)" % (fmt_x(row["vp_over_dd"]), fmt_x(row["vp_over_dd_median"]))))

    verdicts = Verdicts(say)  # verdicts(name, ok, text) prints and records one

    say("")
    one_t = [r for r in ratios if r["virtual_size"] == 1 << 40]
    if one_t and one_t[0]["qemu_over_vp"] is not None:
        x = one_t[0]["qemu_over_vp"]
        verdicts("qemu-speedup-1T", x >= TARGET_QEMU_SPEEDUP_AT_1T,
                "qemu-img/virt-provision at 1T = %.1fx (target >= %gx)"
                % (x, TARGET_QEMU_SPEEDUP_AT_1T))
    else:
        verdicts("qemu-speedup-1T", None, "qemu-img/virt-provision at 1T not measured")
    dd_rows = [r for r in ratios if r["vp_over_dd"] is not None]
    if dd_rows:
        worst = max(dd_rows, key=lambda r: r["vp_over_dd"])
        verdicts("within-2x-of-dd", worst["vp_over_dd"] <= TARGET_DD_RATIO,
                "virt-provision/dd worst = %.2fx at %s (target <= %gx at every size: %s)"
                % (worst["vp_over_dd"], worst["size"], TARGET_DD_RATIO,
                   ", ".join("%s %.2fx" % (r["size"], r["vp_over_dd"]) for r in dd_rows)))
    else:
        verdicts("within-2x-of-dd", None, "virt-provision/dd not measured")
    vp_rows = [results[(s, "virt-provision")] for s, _ in sizes
               if (s, "virt-provision") in results]
    if vp_rows:
        worst = max(vp_rows, key=lambda r: r["peak_rss_kib"])
        note = ""
        if worst["peak_rss_kib"] <= meta["spawn_floor"]["peak_rss_kib"] + 256:
            note = "; at the spawn floor, so the tool's own peak is at most this"
        verdicts("peak-rss", worst["peak_rss_kib"] <= TARGET_RSS_KIB,
                "virt-provision peak RSS worst = %d KiB (%.1f MiB) at %s "
                "(target <= %d KiB at every size; spawn floor %d KiB%s)"
                % (worst["peak_rss_kib"], worst["peak_rss_kib"] / 1024, worst["size"],
                   TARGET_RSS_KIB, meta["spawn_floor"]["peak_rss_kib"], note))
    else:
        verdicts("peak-rss", None, "virt-provision not measured")

    for f in failed:
        say("FAILED: %s" % f)

    if args.json:
        doc = {"meta": meta,
               "results": [results[(s, t)] for s, _ in sizes for t in targets
                           if (s, t) in results],
               "ratios": ratios, "verdicts": verdicts, "failures": failed}
        write_json(doc, args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
