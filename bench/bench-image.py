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
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

MIB = 1024 * 1024

# Targets the verdict lines judge.
TARGET_QEMU_SPEEDUP_AT_1T = 30.0   # qemu-img / virt-provision at 1T, at least
TARGET_DD_RATIO = 2.0              # virt-provision / dd, at most, every size
TARGET_RSS_KIB = 16 * 1024         # virt-provision peak RSS, at most, every size

# The timed child is not started by this script but by a minimal interpreter
# (`python -I -S -c RUNNER`), which forks, execs the command and reports
# wait4()'s figures for that one child on a pipe.  Why: Linux folds the
# high-water RSS of the address space a process execs *from* into its
# ru_maxrss, and subprocess uses vfork, so a child spawned from this script
# would report at least this script's own peak (~14 MiB here), which is close
# to the 16 MiB target.  The minimal runner lowers that floor to ~5 MiB; the
# floor is measured (by running /bin/true the same way) and printed.
RUNNER = r"""
import os, sys, time
rfd = int(sys.argv[1])
argv = sys.argv[2:]
os.set_inheritable(rfd, False)
t0 = time.perf_counter_ns()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("exec %s: %s\n" % (argv[0], e.strerror)).encode())
    os._exit(127)
_, status, ru = os.wait4(pid, 0)
t1 = time.perf_counter_ns()
os.write(rfd, ("%d %d %d %.6f %.6f" % (os.waitstatus_to_exitcode(status),
    t1 - t0, ru.ru_maxrss, ru.ru_utime, ru.ru_stime)).encode())
"""

SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?)(iB)?\s*$", re.IGNORECASE)
SIZE_SHIFT = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}


class CommandFailed(Exception):
    pass


def parse_size(text):
    """Bytes of a size written like qemu-img's: 20G, 1T, 1.5T, 4096 (powers of 1024)."""
    m = SIZE_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (use e.g. 20G, 1T, 1.5T)" % text)
    number, suffix = m.group(1), m.group(2).upper()
    value = float(number) * (1 << SIZE_SHIFT[suffix]) if "." in number \
        else int(number) << SIZE_SHIFT[suffix]
    value = int(value)
    return (value + 511) // 512 * 512  # rounded up to a sector, like both tools


def human(nbytes):
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            return "%.1f %s" % (nbytes / (1 << shift), unit)
    return "%d B" % nbytes


def data_bytes(path):
    """Bytes of `path` that are data, not holes: sum of SEEK_DATA..SEEK_HOLE extents."""
    total = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = 0
        while True:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:  # ENXIO: no data at or after offset
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            total += end - start
            offset = end
    finally:
        os.close(fd)
    return total


def file_figures(path):
    st = os.stat(path)
    return {
        "file_length": st.st_size,
        "allocated_bytes": st.st_blocks * 512,
        "data_bytes": data_bytes(path),
    }


def run_measured(argv, cwd):
    """Run argv once; return (wall seconds, ru_maxrss KiB, user s, sys s)."""
    rfd, wfd = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", RUNNER, str(wfd)] + argv,
            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, pass_fds=(wfd,))
        os.close(wfd)
        wfd = -1
        _, err = proc.communicate()
        chunks = []
        while True:
            chunk = os.read(rfd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)
    report = b"".join(chunks).decode().split()
    if proc.returncode != 0 or len(report) != 5:
        raise CommandFailed("runner failed (exit %s): %s" % (proc.returncode, err.decode().strip()))
    code, wall_ns, maxrss, utime, stime = report
    if int(code) != 0:
        raise CommandFailed("`%s` exited with %s: %s" % (
            " ".join(argv), code, err.decode(errors="replace").strip()[-2000:]))
    return int(wall_ns) / 1e9, int(maxrss), float(utime), float(stime)


def ratio(num, den, key):
    """num[key] / den[key] for two result rows, None when either is missing."""
    if num is None or den is None or den[key] <= 0:
        return None
    return num[key] / den[key]


def fmt_x(x):
    return "-" if x is None else "%.2fx" % x if x < 10 else "%.1fx" % x


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def fs_of(path):
    """(mount point, fs type) holding path, from /proc/self/mounts."""
    path = os.path.realpath(path)
    best = None
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mnt = fields[1].replace("\\040", " ")
                inside = path == mnt or path.startswith(mnt.rstrip("/") + "/")
                if inside and (best is None or len(mnt) >= len(best[0])):
                    best = (mnt, fields[2])
    except OSError:
        pass
    return best or ("?", "?")


def tool_version(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, timeout=10)
        lines = out.stdout.decode(errors="replace").strip().splitlines()
        return lines[0] if lines else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


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
    ap.add_argument("--vp", default=os.environ.get("VP_BIN"),
                    help="virt-provision binary (default: $VP_BIN)")
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
    ap.add_argument("--json", metavar="PATH",
                    help="also write the figures as JSON to PATH ('-': stdout; the table "
                         "then goes to stderr)")
    args = ap.parse_args()

    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
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

    out = sys.stderr if args.json == "-" else sys.stdout

    def say(*a):
        print(*a, file=out, flush=True)

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    vp = None
    if "virt-provision" in targets:
        if not args.vp:
            ap.error("no virt-provision binary: set VP_BIN or pass --vp")
        vp = os.path.abspath(args.vp)
        if not os.access(vp, os.X_OK):
            print("bench-image: virt-provision binary %r is not executable" % vp, file=sys.stderr)
            return 1
    qemu_img = None
    if "qemu-img" in targets:
        qemu_img = shutil.which(args.qemu_img)
        if not qemu_img:
            print("bench-image: qemu-img not found (%r)" % args.qemu_img, file=sys.stderr)
            return 1
    if "dd" in targets and not shutil.which("dd"):
        print("bench-image: dd not found", file=sys.stderr)
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
            floor = min((run_measured(["/bin/true"], scratch) for _ in range(3)),
                        key=lambda r: r[0])
        except CommandFailed as e:
            print("bench-image: %s" % e, file=sys.stderr)
            return 1
        meta["spawn_floor"] = {"wall_s": floor[0], "peak_rss_kib": floor[1]}
        # What the tool costs before it writes a byte (exec, dynamic linking):
        # at small sizes this is most of its time and all of its RSS.
        startup = None
        if vp:
            try:
                startup = min((run_measured([vp, "--version"], scratch) for _ in range(3)),
                              key=lambda r: r[0])
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
        say("  spawn floor (/bin/true through the same runner): %.4f s, %d KiB peak RSS"
            % (floor[0], floor[1]))
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
            for rep in range(args.repeat):
                # Targets interleave, and their order rotates with each repetition
                # (vp,qemu,dd / qemu,dd,vp / dd,vp,qemu), so neither drift in the
                # machine's state nor what the previous run left behind (freed page
                # cache, pending discards) favours one target.  The first repetition
                # starts with virt-provision, whose image gives dd its byte count.
                shift = rep % len(targets)
                for target in targets[shift:] + targets[:shift]:
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
                walls = [r[0] for r in runs[target]]
                best = min(runs[target], key=lambda r: r[0])
                results[(size_text, target)] = dict(
                    size=size_text, virtual_size=nbytes, target=target,
                    argv=command_for(target, vp, qemu_img, args.dd_conv, size_text,
                                     dd_bytes, "F"),
                    runs_s=walls, best_s=best[0], median_s=statistics.median(walls),
                    worst_s=max(walls),
                    best_user_s=best[2], best_sys_s=best[3],
                    peak_rss_kib=max(r[1] for r in runs[target]),
                    **files[target])

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

    verdicts = []

    def verdict(name, ok, text):
        status = "n/a" if ok is None else ("PASS" if ok else "MISS")
        verdicts.append({"target": name, "status": status, "detail": text})
        say("verdict: %-4s %s" % (status, text))

    say("")
    one_t = [r for r in ratios if r["virtual_size"] == 1 << 40]
    if one_t and one_t[0]["qemu_over_vp"] is not None:
        x = one_t[0]["qemu_over_vp"]
        verdict("qemu-speedup-1T", x >= TARGET_QEMU_SPEEDUP_AT_1T,
                "qemu-img/virt-provision at 1T = %.1fx (target >= %gx)"
                % (x, TARGET_QEMU_SPEEDUP_AT_1T))
    else:
        verdict("qemu-speedup-1T", None, "qemu-img/virt-provision at 1T not measured")
    dd_rows = [r for r in ratios if r["vp_over_dd"] is not None]
    if dd_rows:
        worst = max(dd_rows, key=lambda r: r["vp_over_dd"])
        verdict("within-2x-of-dd", worst["vp_over_dd"] <= TARGET_DD_RATIO,
                "virt-provision/dd worst = %.2fx at %s (target <= %gx at every size: %s)"
                % (worst["vp_over_dd"], worst["size"], TARGET_DD_RATIO,
                   ", ".join("%s %.2fx" % (r["size"], r["vp_over_dd"]) for r in dd_rows)))
    else:
        verdict("within-2x-of-dd", None, "virt-provision/dd not measured")
    vp_rows = [results[(s, "virt-provision")] for s, _ in sizes
               if (s, "virt-provision") in results]
    if vp_rows:
        worst = max(vp_rows, key=lambda r: r["peak_rss_kib"])
        note = ""
        if worst["peak_rss_kib"] <= meta["spawn_floor"]["peak_rss_kib"] + 256:
            note = "; at the spawn floor, so the tool's own peak is at most this"
        verdict("peak-rss", worst["peak_rss_kib"] <= TARGET_RSS_KIB,
                "virt-provision peak RSS worst = %d KiB (%.1f MiB) at %s "
                "(target <= %d KiB at every size; spawn floor %d KiB%s)"
                % (worst["peak_rss_kib"], worst["peak_rss_kib"] / 1024, worst["size"],
                   TARGET_RSS_KIB, meta["spawn_floor"]["peak_rss_kib"], note))
    else:
        verdict("peak-rss", None, "virt-provision not measured")

    for f in failed:
        say("FAILED: %s" % f)

    if args.json:
        doc = {"meta": meta,
               "results": [results[(s, t)] for s, _ in sizes for t in targets
                           if (s, t) in results],
               "ratios": ratios, "verdicts": verdicts, "failures": failed}
        if args.json == "-":
            json.dump(doc, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=2)
                f.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
