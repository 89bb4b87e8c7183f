"""Helpers shared by the benchmarks in this directory (bench-*.py).

The scripts run as `bench/bench-X.py`, not as a package, so each one puts its own
directory first on sys.path and then imports from this module:

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from benchlib import (CommandFailed, run_measured, ...)

What lives here:

  RUNNER, run_measured()  time one command around fork()/wait4() in a minimal
                          interpreter and return (wall s, ru_maxrss KiB, user s, sys s);
  run_measured_tree()     the same, CPU also of the processes it left behind;
  run_measured_synced()   the same, then fsync() a file the command wrote, at once;
  best_run()              the fastest of a few such runs (the spawn floor, start-up);
  summarize()             best/median/worst wall-clock, CPU and peak RSS of a list of runs;
  rotated()               the order targets run in: interleaved, rotating each repetition;
  run()                   run an untimed helper command, raising CommandFailed;
  parse_size(), human()   sizes in and out (powers of 1024);
  data_bytes(),           what a file holds: SEEK_DATA..SEEK_HOLE extents, st_blocks;
  file_figures()
  fsync_seconds()         how long an fsync() of a file takes;
  fs_of(), tool_version() the file system holding a path, a tool's version line;
  ratio(), fmt_x()        ratios of two result rows and how they are printed;
  add_vp_option(),        the options every bench shares (--vp, default $VP_BIN;
  add_json_option(),      --json PATH), parse_args() that also checks --repeat,
  parse_args(),           and the checks of the programs a bench needs;
  vp_binary(),
  find_program()
  reporters(), Verdicts,  the output conventions every bench shares: table on stdout
  write_json(),           (stderr when the JSON goes to stdout), progress on stderr,
  floor_line()            "verdict: PASS|MISS|n/a ..." lines, the --json document,
                          the spawn-floor line.

Python 3 standard library only.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

# The timed child is not started by the bench itself but by a minimal interpreter
# (`python -I -S -c RUNNER`), which forks, execs the command and reports wait4()'s
# figures for that one child on a pipe.  Why: Linux folds the high-water RSS of
# the address space a process execs *from* into its ru_maxrss, and subprocess uses
# vfork, so a child spawned from a bench script would report at least the script's
# own peak (~14 MiB here), which is close to bench-image's 16 MiB target.  The
# minimal runner lowers that floor to ~5 MiB; the benches measure the floor (by
# running /bin/true the same way) and print it.  It also keeps the bench's own
# start-up out of the times.
# Arguments: the pipe's fd, a file to fsync() right after a successful command
# ("" for none: bench-convert times what making a copy durable still costs),
# "tree" or "" (below), the command.  It reports: exit code, wall ns, ru_maxrss
# KiB, user s, sys s, fsync ns, orphans reaped.
# "tree": the CPU of every process the command started, also of those it did
# not reap itself.  A process whose parent exits first is reparented to the
# nearest subreaper, and its CPU never reaches the command's wait4() figures:
# libvirt's client reaps the ssh of a qemu+ssh connection only when that
# connection is disposed of, which a client that exits with it open never does.
# So the runner makes itself a subreaper (prctl PR_SET_CHILD_SUBREAPER), and
# once the command has exited (the wall time ends there) it reaps whatever was
# reparented to it, for up to 10 s, adding their user and sys time.
RUNNER = r"""
import os, sys, time
rfd = int(sys.argv[1])
sync_path = sys.argv[2]
tree = sys.argv[3] == "tree"
argv = sys.argv[4:]
os.set_inheritable(rfd, False)
if tree:
    import ctypes
    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
        os.write(2, b"runner: prctl(PR_SET_CHILD_SUBREAPER) failed\n")
        os._exit(126)
t0 = time.perf_counter_ns()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("exec %s: %s\n" % (argv[0], e.strerror)).encode())
    os._exit(127)
_, status, ru = os.wait4(pid, 0)
t1 = t2 = time.perf_counter_ns()
code = os.waitstatus_to_exitcode(status)
if sync_path and code == 0:
    fd = os.open(sync_path, os.O_RDONLY)
    os.fsync(fd)
    t2 = time.perf_counter_ns()
    os.close(fd)
utime, stime, orphans = ru.ru_utime, ru.ru_stime, 0
deadline = time.monotonic() + 10
while tree:
    try:
        p, _, r = os.wait4(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if p == 0:
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
        continue
    utime, stime, orphans = utime + r.ru_utime, stime + r.ru_stime, orphans + 1
os.write(rfd, ("%d %d %d %.6f %.6f %d %d" % (code,
    t1 - t0, ru.ru_maxrss, utime, stime, t2 - t1, orphans)).encode())
"""

SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?)(iB)?\s*$", re.IGNORECASE)
SIZE_SHIFT = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}


class CommandFailed(Exception):
    """A measured or helper command failed; the message says which and why."""


def unwind_on_signals():
    """SIGTERM and SIGHUP unwind like Ctrl-C (KeyboardInterrupt), so that a
    benchmark's finally blocks always stop the daemons and hosts it started."""
    def on_signal(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def parse_size(text):
    """Bytes of a size written like qemu-img's: 20G, 1T, 1.5T, 4096 (powers of 1024),
    rounded up to a 512-byte sector like qemu-img and virt-provision.  Raises
    argparse.ArgumentTypeError on anything else."""
    m = SIZE_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (use e.g. 20G, 1T, 1.5T)" % text)
    number, suffix = m.group(1), m.group(2).upper()
    value = float(number) * (1 << SIZE_SHIFT[suffix]) if "." in number \
        else int(number) << SIZE_SHIFT[suffix]
    return (int(value) + 511) // 512 * 512


def human(nbytes):
    """1.5 GiB, 160.0 MiB, 12 B: one decimal, powers of 1024."""
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
    """file_length (st_size), allocated_bytes (st_blocks * 512), data_bytes."""
    st = os.stat(path)
    return {
        "file_length": st.st_size,
        "allocated_bytes": st.st_blocks * 512,
        "data_bytes": data_bytes(path),
    }


def run_measured(argv, cwd, ok_codes=(0,), stdout_path=None, timeout=None):
    """Run argv once through RUNNER; return (wall seconds, ru_maxrss KiB, user s, sys s).
    Raises CommandFailed (with the tail of its stderr) when its exit code is not in
    ok_codes (e.g. (0, 1) for `status` of a lab that is not there yet).  Its stdout
    goes to the file stdout_path when given (to explain a failure), else nowhere.
    With a timeout (seconds), a command still running then is ended (SIGTERM to its
    process group, SIGKILL 10 s later) and CommandFailed raised."""
    return _run_runner(argv, cwd, "", ok_codes, stdout_path, timeout)[:4]


def run_measured_tree(argv, cwd, ok_codes=(0,), stdout_path=None, timeout=None):
    """As run_measured(), but user and sys also count the processes the command
    started and left to others to reap, such as the ssh of a libvirt connection
    still open at exit (RUNNER's "tree"); returns (wall s, ru_maxrss KiB of the
    command, user s, sys s, how many such processes were reaped)."""
    r = _run_runner(argv, cwd, "", ok_codes, stdout_path, timeout, tree=True)
    return r[:4] + r[5:]


def run_measured_synced(argv, cwd, path):
    """As run_measured(), then fsync() `path` as soon as the command has exited
    (in the runner, so no gap lets write-back run for free); return (wall s,
    ru_maxrss KiB, user s, sys s, fsync s).  The fsync is not in the wall time."""
    return _run_runner(argv, cwd, path)[:5]


def _end_group(proc):
    """SIGTERM to the process group of proc (a session leader), SIGKILL if it is
    still there 10 s later, and reap proc."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.communicate(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            pass


def _run_runner(argv, cwd, sync_path, ok_codes=(0,), stdout_path=None, timeout=None,
                tree=False):
    rfd, wfd = os.pipe()
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    try:
        # With a timeout the runner leads a session of its own, so that the
        # command it forks can be ended with it (os.killpg).
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", RUNNER, str(wfd), sync_path,
             "tree" if tree else ""] + argv,
            cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.PIPE, pass_fds=(wfd,), start_new_session=timeout is not None)
        os.close(wfd)
        wfd = -1
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _end_group(proc)
            raise CommandFailed("`%s` did not finish within %g s: ended" % (
                " ".join(argv), timeout))
        except BaseException:
            # Ctrl-C does not reach another session: pass it on
            if timeout is not None:
                _end_group(proc)
            raise
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
        if stdout_path:
            out.close()
    report = b"".join(chunks).decode().split()
    if proc.returncode != 0 or len(report) != 7:
        raise CommandFailed("runner failed (exit %s): %s" % (proc.returncode, err.decode().strip()))
    code, wall_ns, maxrss, utime, stime, sync_ns, orphans = report
    if int(code) not in ok_codes:
        raise CommandFailed("`%s` exited with %s: %s" % (
            " ".join(argv), code, err.decode(errors="replace").strip()[-2000:]))
    return (int(wall_ns) / 1e9, int(maxrss), float(utime), float(stime),
            int(sync_ns) / 1e9, int(orphans))


def best_run(argv, cwd, times=3):
    """The fastest of `times` run_measured() runs of argv (spawn floor, start-up cost)."""
    return min((run_measured(argv, cwd) for _ in range(times)), key=lambda r: r[0])


def summarize(runs):
    """Figures of a list of run_measured() results: runs_s, best/median/worst s, the
    best run's user/sys s, and the peak RSS over all runs (KiB)."""
    walls = [r[0] for r in runs]
    best = min(runs, key=lambda r: r[0])
    return dict(runs_s=walls, best_s=best[0], median_s=statistics.median(walls),
                worst_s=max(walls), best_user_s=best[2], best_sys_s=best[3],
                peak_rss_kib=max(r[1] for r in runs))


def rotated(targets, repeat):
    """(repetition, target) pairs: every target once per repetition, the order rotating
    with each one (a,b,c / b,c,a / c,a,b ...), so that neither drift in the machine's
    state nor what the previous run left behind always lands on the same target."""
    for rep in range(repeat):
        shift = rep % len(targets)
        for target in targets[shift:] + targets[:shift]:
            yield rep, target


def run(argv, timeout=300, check=True):
    """Run an untimed helper command; return CompletedProcess (text).  Raises
    CommandFailed when it cannot start, times out, or (check) exits non-zero."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        raise CommandFailed("`%s`: %s" % (" ".join(argv), e))
    if check and p.returncode != 0:
        raise CommandFailed("`%s` exited with %d: %s" % (
            " ".join(argv), p.returncode, (p.stderr or p.stdout).strip()[-2000:]))
    return p


def fsync_seconds(path):
    """Seconds an fsync() of path takes (what is left to make it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        t0 = time.perf_counter()
        os.fsync(fd)
        return time.perf_counter() - t0
    finally:
        os.close(fd)


def remove(path):
    """unlink(path) if it exists."""
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
    """First line argv prints (e.g. [tool, "--version"]), "?" when it cannot run."""
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, timeout=10)
        lines = out.stdout.decode(errors="replace").strip().splitlines()
        return lines[0] if lines else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def ratio(num, den, key):
    """num[key] / den[key] for two result rows; None when either row is missing or
    den[key] is missing, zero or negative."""
    if num is None or den is None or not den.get(key) or den[key] <= 0:
        return None
    return num[key] / den[key]


def fmt_x(x):
    """A ratio as printed: 1.03x, 27.3x, or "-" for None."""
    return "-" if x is None else "%.2fx" % x if x < 10 else "%.1fx" % x


def add_vp_option(ap):
    """--vp: the virt-provision binary, default $VP_BIN."""
    ap.add_argument("--vp", default=os.environ.get("VP_BIN"),
                    help="virt-provision binary (default: $VP_BIN)")


def add_json_option(ap):
    """--json PATH: the figures as a JSON document ('-': stdout)."""
    ap.add_argument("--json", metavar="PATH",
                    help="also write the figures as JSON to PATH ('-': stdout; the table "
                         "then goes to stderr)")


def parse_args(ap):
    """ap.parse_args(), and ap.error() when a --repeat option is below 1."""
    args = ap.parse_args()
    if getattr(args, "repeat", 1) < 1:
        ap.error("--repeat must be at least 1")
    return args


def find_program(name, prog, label=None):
    """Full path of program `name` (shutil.which), or None after saying on stderr
    `PROG: LABEL not found (NAME)`, or `PROG: NAME not found` without a label."""
    path = shutil.which(name)
    if not path:
        print("%s: %s not found (%r)" % (prog, label, name) if label
              else "%s: %s not found" % (prog, name), file=sys.stderr)
    return path


def vp_binary(ap, path, prog):
    """Absolute path of the --vp binary; ap.error() when none was given, None (after
    saying why on stderr, as `prog: ...`) when it is not executable."""
    if not path:
        ap.error("no virt-provision binary: set VP_BIN or pass --vp")
    vp = os.path.abspath(path)
    if not os.access(vp, os.X_OK):
        print("%s: virt-provision binary %r is not executable" % (prog, vp), file=sys.stderr)
        return None
    return vp


def floor_line(floor):
    """The report line of the spawn floor (best_run(["/bin/true"], ...))."""
    return ("  spawn floor (/bin/true through the same runner): %.4f s, %d KiB peak RSS"
            % (floor[0], floor[1]))


def reporters(json_path):
    """(say, progress): say() prints the report (to stdout, or to stderr when the
    JSON document goes to stdout, i.e. json_path == "-"); progress() prints to stderr."""
    out = sys.stderr if json_path == "-" else sys.stdout

    def say(*a):
        print(*a, file=out, flush=True)

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    return say, progress


class Verdicts(list):
    """The verdicts of a run, for the JSON document; calling it records one and
    prints `verdict: PASS|MISS|n/a TEXT` (ok None means not measured)."""

    def __init__(self, say):
        super().__init__()
        self.say = say

    def __call__(self, name, ok, text):
        status = "n/a" if ok is None else ("PASS" if ok else "MISS")
        self.append({"target": name, "status": status, "detail": text})
        self.say("verdict: %-4s %s" % (status, text))


def write_json(doc, path):
    """Write doc as indented JSON to path ('-': stdout)."""
    if path == "-":
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
