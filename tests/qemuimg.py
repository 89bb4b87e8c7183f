#!/usr/bin/env python3
"""Shared helpers for tests that use qemu-img / qemu-io as the oracle.

Standard library only. Other test files import this module; treat the names
below as a stable API (add to it, do not change it):

    Result                 what run() returns: argv, rc, out, err, .cmdline
    run(argv, cwd=None, timeout=None) -> Result      never raises on rc != 0
    vp_bin() -> str        $VP_BIN, absolute and executable, else raises
    vp(*args, cwd=None, timeout=None) -> Result      runs virt-provision
    require_tools()        raises unless qemu-img and qemu-io are on PATH
    create(path, size, fmt="qcow2", options=None, backing=None,
           backing_fmt=None)                         qemu-img create -q, raises
    info(path, fmt=None, force_share=False, wrapper=()) -> dict
                                                     qemu-img info --output=json
                                                     (-U: an image a guest holds)
    info_chain(path, fmt=None) -> list[dict]         ... info --backing-chain
    check(path, fmt=None) -> (rc, dict)              qemu-img check --output=json
    check_ok(path, fmt=None, wrapper=()) -> dict     the same, raises unless exit 0
    img_map(path, fmt=None) -> list[dict]            qemu-img map --output=json
    MapRun, normalise_map(entries) -> list[MapRun]   layout-independent map
    compare(a, b, fmt_a=None, fmt_b=None, strict=False) -> Result
    qemu_io(path, commands, fmt=None) -> Result      one qemu-io process
    io_ok(result) -> bool                            qemu-io succeeded, patterns ok
    round_up(n, m) -> int

Functions that "raise" raise QemuImgError (an AssertionError, so a unittest
reports it as a failure) carrying the exact command line to reproduce.
Every command runs with LC_ALL=C so messages are stable.  wrapper: an argv
prefix that runs qemu-img elsewhere, such as nsenter into the mount
namespace of a test host whose images name backing files by its own paths.
"""

import collections
import json
import os
import shlex
import shutil
import subprocess

__all__ = [
    "QemuImgError", "Result", "run", "vp_bin", "vp", "require_tools",
    "create", "info", "info_chain", "check", "check_ok", "img_map", "MapRun", "normalise_map",
    "compare", "qemu_io", "io_ok", "round_up",
]

QEMU_IMG = "qemu-img"
QEMU_IO = "qemu-io"

# qemu-img calls on a multi-TiB preallocated image take tens of seconds; a
# hang is still reported rather than blocking CTest forever.
DEFAULT_TIMEOUT = 600


class QemuImgError(AssertionError):
    """A command that had to succeed did not; the message holds the command."""


class Result(collections.namedtuple("Result", "argv rc out err")):
    """Outcome of one command. out/err are text; rc is the exit status."""

    __slots__ = ()

    @property
    def cmdline(self):
        """The command as a shell-quoted string, for reproduction."""
        return shlex.join(str(a) for a in self.argv)

    def describe(self):
        """Multi-line summary used in failure messages."""
        return "$ %s\n  exit %d\n  stdout: %s\n  stderr: %s" % (
            self.cmdline, self.rc, self.out.strip()[:2000],
            self.err.strip()[:2000])


def _env():
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    return env


def run(argv, cwd=None, timeout=None):
    """Run argv (no shell) and return a Result; never raises on rc != 0."""
    argv = [str(a) for a in argv]
    try:
        p = subprocess.run(argv, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, errors="replace",
                           timeout=timeout or DEFAULT_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise QemuImgError("timed out after %ss: %s"
                           % (e.timeout, shlex.join(argv)))
    return Result(argv, p.returncode, p.stdout, p.stderr)


def _must(res):
    if res.rc != 0:
        raise QemuImgError("command failed:\n" + res.describe())
    return res


def _json(res):
    try:
        return json.loads(res.out)
    except ValueError as e:
        raise QemuImgError("not JSON (%s):\n%s" % (e, res.describe()))


def vp_bin():
    """Return $VP_BIN, or raise: a missing binary is a failure, never a skip."""
    path = os.environ.get("VP_BIN")
    if not path:
        raise QemuImgError("VP_BIN is not set; point it at the virt-provision "
                           "binary (CTest sets it)")
    if not os.path.isabs(path):
        raise QemuImgError("VP_BIN must be an absolute path, got %r" % path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise QemuImgError("VP_BIN=%r is not an executable file; build "
                           "virt-provision first" % path)
    return path


def vp(*args, cwd=None, timeout=None):
    """Run virt-provision with args; returns a Result."""
    return run([vp_bin()] + [str(a) for a in args], cwd=cwd, timeout=timeout)


def require_tools():
    """Raise unless qemu-img and qemu-io are installed (package qemu-utils)."""
    missing = [t for t in (QEMU_IMG, QEMU_IO) if shutil.which(t) is None]
    if missing:
        raise QemuImgError("%s not found on PATH; install qemu-utils"
                           % " and ".join(missing))


def _fmt_args(fmt):
    return ["-f", fmt] if fmt else []


def create(path, size, fmt="qcow2", options=None, backing=None,
           backing_fmt=None):
    """qemu-img create a reference image; raises on failure.

    options: dict of -o keys (e.g. {"cluster_size": 65536,
    "preallocation": "metadata", "lazy_refcounts": True}); booleans become
    on/off. Returns the Result.
    """
    argv = [QEMU_IMG, "create", "-q", "-f", fmt]
    if backing is not None:
        argv += ["-b", backing, "-F", backing_fmt]
    if options:
        opts = []
        for k, v in options.items():
            if isinstance(v, bool):
                v = "on" if v else "off"
            opts.append("%s=%s" % (k, v))
        argv += ["-o", ",".join(opts)]
    argv += [path, str(size)]
    return _must(run(argv))


def info(path, fmt=None, force_share=False, wrapper=()):
    """qemu-img info --output=json, parsed; raises on failure.

    force_share: -U, to read an image that a running guest holds locked.
    """
    share = ["-U"] if force_share else []
    return _json(_must(run(list(wrapper) + [QEMU_IMG, "info", "--output=json"] + share
                           + _fmt_args(fmt) + [path])))


def info_chain(path, fmt=None):
    """qemu-img info --backing-chain --output=json: one dict per image,
    path first, then its backing file and so on; raises on failure."""
    return _json(_must(run([QEMU_IMG, "info", "--backing-chain",
                            "--output=json"] + _fmt_args(fmt) + [path])))


def check(path, fmt=None):
    """qemu-img check --output=json -> (rc, dict).

    rc follows qemu-img: 0 clean, 1 could not check, 2 corruption, 3 leaks.
    qemu-img omits zero counters (corruptions, leaks...): read with
    .get(key, 0). The dict is {} when qemu-img printed no JSON (rc 1).
    """
    res = run([QEMU_IMG, "check", "--output=json"] + _fmt_args(fmt) + [path])
    try:
        data = json.loads(res.out) if res.out.strip() else {}
    except ValueError:
        data = {}
    return res.rc, data


def check_ok(path, fmt=None, wrapper=()):
    """qemu-img check --output=json, parsed; raises unless it exits 0 (no
    corruption, no leak, and the image could be checked)."""
    return _json(_must(run(list(wrapper) + [QEMU_IMG, "check", "--output=json"]
                           + _fmt_args(fmt) + [path])))


def img_map(path, fmt=None):
    """qemu-img map --output=json, parsed (list of extent dicts); raises."""
    return _json(_must(run([QEMU_IMG, "map", "--output=json"]
                           + _fmt_args(fmt) + [path])))


MapRun = collections.namedtuple("MapRun", "start length data zero mapped depth")
MapRun.__doc__ = """One run of guest bytes with identical block status.

start, length: guest bytes; data, zero: qemu-img map's flags; mapped: the
extent has a host offset (in this image or, with depth > 0, in a backing
file); depth: 0 for this image, 1 for its backing file...
Host offsets themselves are dropped so different layouts compare equal."""


def normalise_map(entries):
    """Turn qemu-img map JSON into a list of MapRun, merging adjacent runs.

    Two images whose guest-visible allocation status is the same give equal
    lists whatever their host layout (qemu interleaves L2 tables with data,
    virt-provision does not, so qemu-img splits their extents differently).
    """
    runs = []
    for e in sorted(entries, key=lambda e: e["start"]):
        cur = MapRun(e["start"], e["length"], bool(e.get("data")),
                     bool(e.get("zero")), "offset" in e, e.get("depth", 0))
        if runs:
            prev = runs[-1]
            if (prev.start + prev.length == cur.start
                    and prev[2:] == cur[2:]):
                runs[-1] = prev._replace(length=prev.length + cur.length)
                continue
        runs.append(cur)
    return runs


def compare(a, b, fmt_a=None, fmt_b=None, strict=False):
    """qemu-img compare a b; Result with rc 0 identical, 1 different, 2 error."""
    argv = [QEMU_IMG, "compare"]
    if fmt_a:
        argv += ["-f", fmt_a]
    if fmt_b:
        argv += ["-F", fmt_b]
    if strict:
        argv.append("-s")
    return run(argv + [a, b])


def qemu_io(path, commands, fmt=None):
    """Run qemu-io with one -c per command (e.g. "write -P 0xa5 0 64k")."""
    argv = [QEMU_IO] + _fmt_args(fmt)
    for c in commands:
        argv += ["-c", c]
    return run(argv + [path])


def io_ok(res):
    """True if a qemu_io() Result shows every command and pattern succeeded.

    qemu-io 7.2 exits 1 on a failed command, but also check the text so an
    older or newer qemu-io that exits 0 cannot hide a mismatch.
    """
    text = res.out + res.err
    bad = ("Pattern verification failed", "failed:", "error", "Error")
    return res.rc == 0 and not any(b in text for b in bad)


def round_up(n, m):
    """n rounded up to a multiple of m."""
    return (n + m - 1) // m * m
