#!/usr/bin/env python3
"""Malformed lab manifests through the real command line (design.md, "Labs").

tests/test-manifest.c checks the parser's messages from C; this table runs
the same kinds of mistakes through `virt-provision apply FILE` (some rows
also `status`, `destroy` and `--json apply`), so that what a user sees is
checked end to end, including the checks the command makes after the parser
(the provision options of each guest, the cloud-init files) and before any
host is contacted.  Every row gives the manifest, the expected LINE:COLUMN
(None where the tool has no position to give: a file that cannot be read)
and a substring of the message.  For every run we check that

  * the exit status is 2 (bad input),
  * stderr is exactly one line, "virt-provision: PATH:LINE:COL: message"
    with PATH exactly as given on the command line (or, without a position,
    a message that names 'PATH'),
  * stdout is empty (with --json too: no document for a refused manifest),
  * no host was contacted: every host of every manifest, and
    LIBVIRT_DEFAULT_URI, is qemu+unix:///session?socket=SOCK where SOCK is a
    unix socket this test listens on; it must see no connection,
  * the scratch directory (which is also HOME and TMPDIR of the tool) holds
    exactly what it held before,
  * it exited within RUN_TIMEOUT and its peak RSS stayed below RSS_LIMIT
    (hostile YAML must be refused before it is expanded or queued whole).

The limits (file size, count, guests) are read from src/core/lab/manifest.h,
so that the rows follow the header.  Each case that runs rows checks at its
end that none of them contacted the host and that the socket saw no
connection outside a run.  Valid manifests are the control (test_control):
they do connect to the socket (the test closes each connection at once, so
the tool fails quickly, with a status that is neither 0 nor 2), which shows
that the socket would have seen a bad row that contacted a host.

The binary comes from $VP_BIN.  Standard library only; nothing is skipped.
"""

import json
import os
import re
import select
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standalone import require_vp, snap_diff, snapshot  # noqa: E402

# Rows whose correct expectation the tool does not meet yet (by row name).
# libfyaml places three syntax errors one column after the character at
# fault: the unterminated string's first character after its quote
# (yaml-unclosed-quote), the text after a tab (yaml-tab-in-guest), the
# next key's text after its quote (json-missing-comma).  The rows expect
# libfyaml's positions, which still point into the faulty token.

PREFIX = "virt-provision: "
OLD_MTIME_NS = 978307200 * 10**9 + 123456789   # 2001-01-01, easy to spot if touched
RUN_TIMEOUT = 20                                # seconds; a hang is a failure, not a wait
# Peak RSS of one run, from wait4(): a refused row needs ~20 MB (~25 MB
# built with ASan); before the YAML fixes of issue 14 some took 120 MB to
# 14 GB.
RSS_LIMIT = 100 * 1024 * 1024                   # bytes
VP = None
T0 = time.monotonic()

APPLY = (("apply",),)
ALL_COMMANDS = (("apply",), ("status",), ("destroy",), ("--json", "apply"))


def header_limits():
    """VP_LAB_MAX_* of src/core/lab/manifest.h, as numbers."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "core",
                        "lab", "manifest.h")
    with open(path) as f:
        text = f.read()
    limits = {}
    for name in ("VP_LAB_MAX_FILE", "VP_LAB_MAX_NAME", "VP_LAB_MAX_COUNT",
                 "VP_LAB_MAX_GUESTS"):
        m = re.search(r"^#define\s+%s\s+([0-9()*\s]+?)\s*(/\*.*)?$" % name, text, re.M)
        if m is None:
            raise RuntimeError("%s: no numeric #define %s" % (path, name))
        value = 1
        for factor in re.findall(r"[0-9]+", m.group(1)):
            value *= int(factor)
        limits[name] = value
    return limits


LIMITS = header_limits()
MAX_FILE = LIMITS["VP_LAB_MAX_FILE"]
MAX_COUNT = LIMITS["VP_LAB_MAX_COUNT"]
MAX_GUESTS = LIMITS["VP_LAB_MAX_GUESTS"]


def size_text(n):
    """The tool's way of naming a limit: 1048576 -> '1 MiB'."""
    for unit, shift in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20),
                        ("KiB", 10)):
        if n >= (1 << shift) and n % (1 << shift) == 0:
            return "%d %s" % (n >> shift, unit)
    return "%d bytes" % n


class Listener:
    """A unix socket standing in for every host.  Connections are accepted
    (non-blocking) while a run is polled and once more after it, and closed
    at once, so a tool that does connect fails fast instead of waiting for
    a daemon that never answers."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.total = 0

    def drain(self):
        n = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            conn.close()
            n += 1
        self.total += n
        return n

    def close(self):
        self.sock.close()


def setUpModule():
    global VP
    VP = require_vp()


def tearDownModule():
    print("\nlab_manifests.py runtime: %.1f s" % (time.monotonic() - T0), file=sys.stderr)


def Row(name, text, pos, msg, commands=APPLY, path=None):
    """A malformed manifest.  TEXT: str or bytes, or None for no file (the
    path must then exist or not by itself).  POS: (line, column), or None
    when the message has no position and names the path instead.  PATH: the
    argument, relative to the scratch directory (the tool's working
    directory), default NAME.yaml; "ABS" for the absolute NAME.yaml."""
    return {"name": name, "text": text, "pos": pos, "msg": msg, "commands": commands,
            "path": path}


class LabManifests(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        # Short paths: a unix socket's name is at most 107 bytes.
        cls.sockdir = tempfile.mkdtemp(prefix="vp-lm-sock-")
        cls.sock_path = os.path.join(cls.sockdir, "host.sock")
        cls.listener = Listener(cls.sock_path)
        cls.uri = "qemu+unix:///session?socket=" + cls.sock_path
        cls.tmp = tempfile.TemporaryDirectory(prefix="vp-lab-manifests-")
        cls.d = os.path.realpath(cls.tmp.name)
        d = cls.d
        # The tool's HOME and TMPDIR are in the scratch directory, so that a
        # file it left there counts too; HOME has no ~/.ssh on purpose.
        for sub in ("home", "tmp", "sub", "a-directory.yaml"):
            os.mkdir(os.path.join(d, sub))
        cls.write(os.path.join(d, "ud-ok"), b"#cloud-config\npackages: [vim]\n")
        cls.write(os.path.join(d, "ud-list"), b"#cloud-config\n- vim\n- git\n")
        cls.write(os.path.join(d, "id_test"),
                  b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
                  b"-----END OPENSSH PRIVATE KEY-----\n")
        # Hostile cloud-init files (issue 14): aliases of aliases, 9^9
        # scalars if expanded, and nesting of 1 MiB; see the rows.
        alias_bomb = ("a: &a [%s]\n" % ",".join(['"lol"'] * 9) +
                      "".join("%s: &%s [%s]\n" % (c, c, ",".join(["*" + p] * 9))
                              for p, c in zip("abcdefgh", "bcdefghi")))
        cls.write(os.path.join(d, "ud-bomb"), ("#cloud-config\n" + alias_bomb).encode())
        cls.write(os.path.join(d, "md-bomb"), alias_bomb.encode())
        cls.write(os.path.join(d, "nc-bomb"), alias_bomb.encode())
        cls.write(os.path.join(d, "nc-deep"), b"a: " + b"[" * (MAX_FILE - 3))
        cls.write(os.path.join(d, "md-deep"), b'{"a":' * (MAX_FILE // 10) + b"1" +
                  b"}" * (MAX_FILE // 10))
        os.symlink("loop-b.yaml", os.path.join(d, "loop-a.yaml"))
        os.symlink("loop-a.yaml", os.path.join(d, "loop-b.yaml"))
        # A valid manifest, the neighbour of many rows: the argument rows
        # give it, so that a check that let them through would connect.
        cls.write(os.path.join(d, "valid.yaml"), cls.control_text().encode())
        # Issue 14 (security review): a program a URI could run, which
        # leaves a file behind if it does; secrets in a folder next to the
        # scratch directory (outside the manifest's folder), and a symlink
        # to one; bases that are no image, or no file.
        cls.run_me = os.path.join(d, "run-me.sh")
        cls.write(cls.run_me, b'#!/bin/sh\ntouch "$(dirname "$0")/it-ran"\n')
        os.chmod(cls.run_me, 0o755)
        cls.outside_tmp = tempfile.TemporaryDirectory(prefix="vp-lm-outside-")
        cls.outside = os.path.realpath(cls.outside_tmp.name)
        cls.write(os.path.join(cls.outside, "kubeconfig"),
                  b"apiVersion: v1\nkind: Config\nusers: [{name: admin}]\n")
        cls.write(os.path.join(cls.outside, "raw-secret.bin"), b"secret!\n" * 512)
        for name in ("kubeconfig", "raw-secret.bin"):
            os.chmod(os.path.join(cls.outside, name), 0o600)
        os.symlink(os.path.join(cls.outside, "kubeconfig"), os.path.join(d, "kube-link"))
        os.mkfifo(os.path.join(d, "base-fifo"))
        cls.write(os.path.join(d, "secret-4k.bin"), b"password=hunt3r\n" * 256)
        cls.write(os.path.join(d, "empty.img"), b"")

    @classmethod
    def tearDownClass(cls):
        cls.outside_tmp.cleanup()
        cls.listener.close()
        os.unlink(cls.sock_path)
        os.rmdir(cls.sockdir)
        cls.tmp.cleanup()

    @staticmethod
    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))

    @classmethod
    def control_text(cls):
        """Valid: every kind of guest the rows break, well formed."""
        return (cls.head() +
                "guests:\n"
                "  - name: a\n"
                "  - name: b\n"
                "    cloud-init: {user-data: ud-ok}\n"
                "  - name: c\n"
                "    network: none\n"
                "    import: true\n"
                "  - name: web\n"
                "    count: 2\n"
                "  - {name: db, host: hv1, size: 2G, graphics: vnc, memory: 4G}\n")

    @classmethod
    def head(cls):
        """Six lines; 'guests:' after it is line 7, its first entry line 8."""
        return ("lab: t\n"
                "hosts:\n"
                "  hv1: %s\n"
                "defaults:\n"
                "  pool: p\n"
                "  size: 1G\n" % cls.uri)

    def setUp(self):
        # Each case judges its own runs: connections before it are not its.
        self.listener.drain()
        self.total_before = self.listener.total
        self.runs = []       # (row name, connections) of every row this case ran

    def assert_no_host_contacted(self):
        """No row of this case contacted the host, and the socket saw no
        connection outside a row's run (drained here, after the last one)."""
        self.listener.drain()
        contacted = sorted({name for name, conns in self.runs if conns})
        self.assertEqual(contacted, [],
                         "rows that contacted a host")
        seen = self.listener.total - self.total_before
        self.assertEqual(seen, sum(c for _, c in self.runs),
                         "connections outside any run")
        print("\n  %s: %d runs, %d connection(s) to the host socket (from %s)"
              % (self._testMethodName, len(self.runs), seen, ", ".join(contacted) or "no row"),
              file=sys.stderr)

    def env(self):
        env = dict(os.environ)
        env.update(LC_ALL="C", LANG="C", HOME=os.path.join(self.d, "home"),
                   TMPDIR=os.path.join(self.d, "tmp"), LIBVIRT_DEFAULT_URI=self.uri)
        for k in ("LANGUAGE", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                  "XDG_RUNTIME_DIR", "VIRSH_DEFAULT_CONNECT_URI"):
            env.pop(k, None)
        return env

    # ---------------------------------------------------------------- runner

    def run_vp(self, args, env_extra=None):
        """Runs the tool in the scratch directory, accepting (and closing)
        connections to the host socket while it runs.  Returns the command,
        exit status (None: killed after RUN_TIMEOUT), stdout, stderr, the
        number of connections and the peak RSS in bytes."""
        cmd = [VP] + list(args)
        self.listener.drain()
        started = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            env = self.env()
            env.update(env_extra or {})
            p = subprocess.Popen(cmd, cwd=self.d, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=err)
            deadline = time.monotonic() + RUN_TIMEOUT
            conns = 0
            killed = False
            # wait4() rather than poll(): it gives this child's own rusage.
            while True:
                pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                conns += self.listener.drain()
                if time.monotonic() > deadline:
                    p.kill()
                    pid, status, usage = os.wait4(p.pid, 0)
                    killed = True
                    break
                select.select([self.listener.sock], [], [], 0.005)
            p.returncode = os.waitstatus_to_exitcode(status)
            rss = usage.ru_maxrss * 1024  # KiB on Linux
            rc = None if killed else p.returncode
            # The worst of the run, reported by test_table.
            type(self).stats.append((rss, time.monotonic() - started, " ".join(args)))
            # A connection made just before the exit is still in the backlog.
            conns += self.listener.drain()
            out.seek(0)
            err.seek(0)
            return (cmd, rc, out.read().decode("utf-8", "backslashreplace"),
                    err.read().decode("utf-8", "backslashreplace"), conns, rss)

    def problems(self, rc, out, err, conns, where, msg, rss=0):
        """WHERE: the exact text after PREFIX up to the message
        ("PATH:LINE:COL: "), or None for a message without a position, which
        must then contain MSG (and the path, checked by the caller's MSG)."""
        probs = []
        if rc is None:
            probs.append("no exit within %d s (killed)" % RUN_TIMEOUT)
        if rss > RSS_LIMIT:
            probs.append("peak RSS %d MiB, more than %d MiB" % (rss >> 20, RSS_LIMIT >> 20))
        elif rc != 2:
            probs.append("exit %d, expected 2" % rc)
        if err.count("\n") != 1 or not err.endswith("\n"):
            probs.append("stderr is not exactly one line: %r" % err)
        if not err.startswith(PREFIX):
            probs.append("stderr does not start with %r: %r" % (PREFIX, err))
        elif where is not None and not err[len(PREFIX):].startswith(where):
            probs.append("stderr does not start with %r: %r" % (PREFIX + where, err))
        elif where is None and re.match(r"\S*:\d+:\d+: ", err[len(PREFIX):]):
            probs.append("expected no position: %r" % err)
        if msg not in err:
            probs.append("message lacks %r: %r" % (msg, err))
        if out:
            probs.append("stdout not empty: %r" % out)
        if conns:
            probs.append("a host was contacted: %d connection(s) to the host socket" % conns)
        return probs

    def check(self, name, args, where, msg, text=None, file=None, env_extra=None):
        """One run of a row: writes TEXT to FILE (when given), runs (with
        ENV_EXTRA over the usual environment), checks, removes FILE.
        Returns the problems (an empty list: fine)."""
        if text is not None:
            self.write(file, text.encode() if isinstance(text, str) else text)
        try:
            before = snapshot(self.d)
            cmd, rc, out, err, conns, rss = self.run_vp(args, env_extra)
            after = snapshot(self.d)
        finally:
            if text is not None:
                os.unlink(file)
        self.runs.append((name, conns))
        probs = self.problems(rc, out, err, conns, where, msg, rss)
        probs += snap_diff(before, after)
        if probs:
            probs.insert(0, "$ cd %s && %s" % (shlex.quote(self.d), shlex.join(cmd)))
        return probs

    def judge(self, name, probs):
        self.assertEqual(probs, [], "\n  " + "\n  ".join(probs))

    # ----------------------------------------------------------------- table

    def rows(self):
        H = self.head()
        U = self.uri
        G = H + "guests:\n  - name: a\n"     # a guest at line 8; its next key is line 9
        bomb = ("lab: t\n"
                "a: &a [%s]\n" % ",".join(['"lol"'] * 9) +
                "".join("%s: &%s [%s]\n" % (c, c, ",".join(["*" + p] * 9))
                        for p, c in zip("abcdefgh", "bcdefghi")))
        too_many = [("  - {name: g%d, count: %d}\n" % (i, MAX_COUNT))
                    for i in range(MAX_GUESTS // MAX_COUNT + 1)]
        last = too_many[-1]
        limit = size_text(MAX_FILE)
        ud_list = os.path.join(self.d, "ud-list")
        return [
            # --- YAML syntax
            Row("yaml-unclosed-quote", H + "guests:\n  - name: 'web\n", (8, 12),
                "single-quoted scalar without closing quote"),
            Row("yaml-bad-indentation", G + "   pool: q\n", (9, 4),
                "did not find expected '-' indicator", ALL_COMMANDS),
            Row("yaml-tab-indentation", H + "guests:\n\t- name: a\n", (8, 1),
                "tab character may not be used as indentation"),
            Row("yaml-tab-in-guest", G + "\tpool: q\n", (9, 2),
                "invalid tab used as indentation"),
            Row("yaml-second-document", G + "---\nlab: u\n", (9, 1),
                "a second YAML document starts here"),
            Row("yaml-nul-byte", G.encode() + b"\0\n", (9, 1), "holds a NUL byte"),
            Row("not-utf8-value", G.encode() + b"    arch: x\xff86\n", (9, 12),
                "the manifest is not UTF-8 text"),
            Row("not-utf8-latin1-lab", b"lab: caf\xe9\n", (1, 9),
                "the manifest is not UTF-8 text"),
            # --- anchors, aliases, tags
            Row("anchor", H + "guests:\n  - &g {name: a}\n", (8, 5),
                "anchors ('&name') are not allowed"),
            Row("alias", G + "  - *g\n", (9, 5), "aliases ('*name') are not allowed"),
            # 9^9 strings if expanded: refused at the first anchor (the run's
            # timeout is the guard against an expansion).
            Row("billion-laughs", bomb, (2, 4), "anchors ('&name') are not allowed"),
            Row("tag-on-guests", H + "guests: !!seq\n  - name: a\n", (7, 9),
                "tags ('!name') are not allowed"),
            Row("tag-on-value", G + "    size: !size 1G\n", (9, 11),
                "tags ('!name') are not allowed"),
            # --- top level
            Row("root-is-a-list", "- lab: t\n", (1, 1), "a lab manifest is a mapping"),
            Row("unknown-top-key", G + "version: 2\n", (9, 1),
                "unknown key 'version'; a manifest has lab, hosts, defaults and guests"),
            Row("top-key-typo", H + "gusts:\n  - name: a\n", (7, 1),
                "unknown key 'gusts'; did you mean 'guests'?"),
            Row("guest-key-at-top", H + "memory: 4G\nguests:\n  - name: a\n", (7, 1),
                "'memory' is a guest key"),
            Row("missing-lab", H.replace("lab: t\n", "") + "guests:\n  - name: a\n", (1, 1),
                "the manifest has no 'lab'"),
            Row("lab-name-characters", H.replace("lab: t", "lab: ci/42") + "guests:\n"
                "  - name: a\n", (1, 6), "lab name 'ci/42' must be"),
            Row("lab-name-too-long", "lab: %s\n" % ("x" * (LIMITS["VP_LAB_MAX_NAME"] + 1)),
                (1, 6), "lab name 'xxx"),
            # --- hosts
            Row("hosts-as-list", "lab: t\nhosts:\n  - %s\nguests: [{name: a}]\n" % U, (3, 3),
                "'hosts' is a mapping of host names to libvirt URIs"),
            Row("host-name-twice", "lab: t\nhosts:\n  hv1: %s\n  hv1: %s&x\nguests:\n"
                "  - name: a\n" % (U, U), (4, 3),
                "key 'hv1' is given twice, first at line 3, column 3"),
            Row("host-uri-twice", "lab: t\nhosts:\n  hv1: %s\n  hv2: %s\nguests:\n"
                "  - name: a\n" % (U, U), (4, 8), "hosts 'hv1' and 'hv2' have the same URI"),
            Row("host-name-characters", "lab: t\nhosts:\n  hv/1: %s\nguests:\n  - name: a\n" % U,
                (3, 3), "host name 'hv/1' must be"),
            Row("host-not-a-uri", "lab: t\nhosts:\n  hv1: hv1.example\nguests:\n  - name: a\n",
                (3, 8), "host 'hv1' has 'hv1.example', which is not a libvirt URI"),
            Row("host-undeclared", G + "    host: hv9\n", (9, 11),
                "host 'hv9' is not declared under 'hosts'; declare it or use one of hv1",
                ALL_COMMANDS),
            # --- guests
            Row("guests-as-mapping", H + "guests:\n  web:\n    size: 1G\n", (8, 3),
                "'guests' is a list"),
            Row("guests-empty", H + "guests: []\n", (7, 1), "'guests' is empty"),
            Row("guest-is-a-word", H + "guests:\n  - web\n", (8, 5), "a guest is a mapping"),
            Row("guest-without-name", H + "guests:\n  - memory: 4G\n", (8, 5),
                "this guest has no name"),
            Row("guest-name-characters", H + "guests:\n  - name: 'web 1'\n", (8, 11),
                "guest name 'web 1' must be"),
            Row("guest-name-newline", H + "guests:\n  - name: \"we\\nb\"\n", (8, 11),
                "must be 1 to 64 letters"),
            Row("guest-name-twice", G + "  - name: a\n", (9, 11),
                "guest name 'a' is already taken by the guest at line 8, column 5"),
            Row("count-collides-later", H + "guests:\n  - name: web\n    count: 2\n"
                "  - name: web-1\n", (10, 11),
                "guest name 'web-1' is already taken by the guest at line 8, column 5 (a count"),
            Row("count-collides-earlier", H + "guests:\n  - name: web-2\n  - name: web\n"
                "    count: 2\n", (9, 11),
                "guest name 'web-2' is already taken by the guest at line 8, column 5"),
            Row("unknown-guest-key-suggested", G + "    memroy: 4G\n", (9, 5),
                "unknown key 'memroy'; did you mean 'memory'?"),
            Row("unknown-guest-key", G + "    flavour: large\n", (9, 5),
                "unknown key 'flavour'; a guest takes name, host, count"),
            Row("guest-key-newline", G + "    \"mem\\nory\": 4G\n", (9, 5),
                "unknown key 'mem"),
            Row("guest-key-twice", G + "    pool: q\n    pool: r\n", (10, 5),
                "key 'pool' is given twice, first at line 9, column 5"),
            Row("flow-key-twice", H + "guests:\n  - {name: a, size: 1G, size: 2G}\n", (8, 25),
                "key 'size' is given twice, first at line 8, column 15"),
            Row("refused-dry-run", G + "    dry-run: true\n", (9, 5),
                "'dry-run' is about a run, not a guest"),
            Row("refused-no-define", G + "    no-define: true\n", (9, 5),
                "'no-define' is about a run, not a guest"),
            Row("refused-print-xml-in-defaults", H + "  print-xml: true\nguests:\n"
                "  - name: a\n", (7, 3), "'print-xml' is about a run, not a guest"),
            Row("count-zero", G + "    count: 0\n", (9, 12),
                "invalid 'count' value '0'; use a whole number from 1 to %d" % MAX_COUNT),
            Row("count-above-limit", G + "    count: %d\n" % (MAX_COUNT + 1), (9, 12),
                "invalid 'count' value '%d'" % (MAX_COUNT + 1)),
            Row("count-as-word", G + "    count: three\n", (9, 12),
                "invalid 'count' value 'three'"),
            Row("count-as-quoted-text", G + "    count: '3'\n", (9, 12),
                "not the quoted text '3'"),
            Row("guests-above-limit", H + "guests:\n" + "".join(too_many),
                (7 + len(too_many), last.index("count: ") + len("count: ") + 1),
                "the lab has more than %d guests" % MAX_GUESTS),
            # --- values
            Row("size-as-list", G + "    size: [1G, 2G]\n", (9, 11), "'size' takes one value"),
            Row("size-bad-unit", G + "    size: 20X\n", (9, 11), "invalid size '20X'",
                path="ABS"),
            Row("size-too-large", G + "    size: 99999E\n", (9, 11),
                "size '99999E' is too large"),
            Row("choice-graphics", G + "    graphics: x\n", (9, 15),
                "invalid 'graphics' value 'x'; use none, vnc or spice",
                path="./sub/../choice-graphics.yaml"),
            Row("choice-value-newline", G + "    graphics: \"x\\ny\"\n", (9, 15),
                "invalid 'graphics' value"),
            Row("flag-yes", G + "    start: yes\n", (9, 12),
                "invalid 'start' value 'yes'; use true or false", path="a lab.yaml"),
            Row("memory-too-small", G + "    memory: 8\n", (9, 13), "invalid 'memory' value '8'"),
            # --- combinations: the parser's, then the command's (provision's
            # option checks, reported at the guest's entry)
            Row("no-pool", "lab: t\nhosts:\n  hv1: %s\nguests:\n  - name: a\n    size: 1G\n" % U,
                (5, 5), "guest 'a' has no pool"),
            Row("two-installs-via-defaults", H + "  kernel: /boot/vmlinuz\nguests:\n"
                "  - name: a\n    import: true\n", (9, 5),
                "guest 'a' has more than one of cdrom, kernel and import"),
            Row("network-none-without-install", G + "  - name: b\n    network: none\n", (9, 5),
                "guest 'b': without --cdrom, --kernel or --import the guest installs from "
                "the network", ALL_COMMANDS),
            Row("provision-compat-lazy-refcounts", G + "    compat: 0.10\n"
                "    lazy-refcounts: true\n", (8, 5), "lazy refcounts need qcow2 version 3"),
            Row("provision-backing-without-format", G + "    backing: /b.qcow2\n"
                "    preallocation: off\n", (8, 5), "a backing file needs its format stated"),
            Row("provision-extended-l2-small-clusters", G + "    cluster-size: 8K\n"
                "    extended-l2: true\n", (8, 5), "extended L2 entries need clusters of at "
                                                  "least 16K"),
            Row("provision-size-zero", G + "    size: 0\n", (8, 5), "must be more than 0"),
            Row("provision-size-above-qcow2-limit", G + "    size: 3P\n", (8, 5),
                "the most qcow2 can address"),
            Row("provision-raw-base", G + "    base: debian.qcow2\n    format: raw\n", (8, 5),
                "a raw image cannot have a backing file"),
            # --- cloud-init: the parser checks that the files exist, the
            # command reads them (before any host), as provision would
            Row("cloud-init-file-missing", G + "    cloud-init: {user-data: ./nope}\n", (9, 29),
                "cannot read user-data file '%s': No such file or directory"
                % os.path.join(self.d, "nope")),
            Row("cloud-init-file-is-directory", G + "    cloud-init: {user-data: sub}\n",
                (9, 29), "is not a regular file"),
            Row("cloud-init-key-typo", G + "    cloud-init: {user_data: ./ud-ok}\n", (9, 18),
                "unknown cloud-init key 'user_data'; did you mean 'user-data'?"),
            Row("user-data-not-a-mapping", G + "  - name: b\n    cloud-init:\n"
                "      user-data: ud-list\n", (9, 5),
                "guest 'b': user-data '%s' is not a YAML mapping" % ud_list, ALL_COMMANDS),
            Row("ssh-key-is-private", G + "    cloud-init: {user-data: ud-ok, "
                "root-ssh-key: id_test}\n", (8, 5), "guest 'a': SSH key file '%s' holds a "
                                                    "private key" % os.path.join(self.d,
                                                                                  "id_test")),
            Row("cloud-init-true-without-keys", G + "    cloud-init: true\n", (8, 5),
                "guest 'a': no SSH public key found in '%s'"
                % os.path.join(self.d, "home", ".ssh")),
            # --- JSON, which is YAML
            Row("json-unclosed", '{"lab": "t", "hosts": {"hv1": "%s"},\n'
                ' "guests": [{"name": "a"}\n' % U, (3, 1),
                "flow sequence without a closing bracket", ALL_COMMANDS),
            Row("json-missing-comma", '{"lab": "t"\n "hosts": {"hv1": "%s"}}\n' % U, (2, 3),
                "missing comma in flow mapping"),
            Row("json-count-as-string", '{"lab": "t", "hosts": {"hv1": "%s"},\n'
                ' "defaults": {"pool": "p", "size": "1G"},\n'
                ' "guests": [{"name": "a", "count": "2"}]}\n' % U, (3, 36),
                "'count' takes a whole number from 1 to %d, not the quoted text '2'"
                % MAX_COUNT),
            Row("json-guests-object", '{"lab": "t", "hosts": {"hv1": "%s"},\n'
                ' "defaults": {"pool": "p", "size": "1G"},\n'
                ' "guests": {"name": "a"}}\n' % U, (3, 12), "'guests' is a list"),
            Row("json-key-twice", '{"lab": "a",\n "lab": "b"}\n', (2, 2),
                "key 'lab' is given twice, first at line 1, column 2"),
            # --- files
            Row("empty-file", "", (1, 1), "the manifest is empty"),
            Row("comments-only", "# a lab, one day\n", (1, 1), "the manifest is empty"),
            Row("missing-file", None, None,
                "cannot read lab manifest 'absent.yaml': No such file or directory",
                ALL_COMMANDS, path="absent.yaml"),
            Row("file-is-directory", None, None,
                "cannot read lab manifest 'a-directory.yaml': Is a directory",
                path="a-directory.yaml"),
            Row("symlink-loop", None, None,
                "cannot read lab manifest 'loop-a.yaml': Too many levels of symbolic links",
                path="loop-a.yaml"),
            # A comment-only 10 MB file: refused by its size (a parse would
            # call it empty).
            Row("ten-megabytes", b"# padding\n" * 1000000, (1, 1),
                "the manifest is larger than the limit of %s" % limit, ALL_COMMANDS),
            Row("one-byte-over-limit", b"#" * (MAX_FILE + 1), (1, 1),
                "larger than the limit of %s" % limit),
            Row("exactly-at-limit", b"#" * MAX_FILE, (1, 1), "the manifest is empty"),
            Row("endless-device", None, (1, 1), "larger than the limit of %s" % limit,
                path="/dev/zero"),
        ] + self.security_rows() + self.hostile_yaml_rows(G)

    def security_rows(self):
        """Issue 14: a manifest must not run a program here through a host
        URI, nor reach a file outside its folder, nor pass off a secret, a
        FIFO or a missing file as a base."""
        G = self.head() + "guests:\n  - name: a\n"
        run_me = self.run_me
        out_rel = os.path.join("..", os.path.basename(self.outside))
        kube = os.path.join(self.outside, "kubeconfig")
        secret = os.path.join(self.outside, "raw-secret.bin")
        allow_out = (("apply", "--allow-path", self.outside),)
        folder = "outside the manifest's folder '%s'" % self.d

        def hosts(uri):
            return "lab: t\nhosts:\n  hv1: %s\nguests:\n  - {name: a, pool: p, size: 1G}\n" % uri
        return [
            Row("uri-ext-command", hosts("qemu+ext:///system?command=" + run_me), (3, 8),
                "URI 'qemu+ext:///system?command=%s' uses the ext transport, which runs a "
                "command on this machine" % run_me, ALL_COMMANDS),
            Row("uri-ext-upper-case", hosts("QEMU+EXT:///session?socket=" + self.sock_path),
                (3, 8), "uses the ext transport"),
            Row("uri-ssh-command", hosts("qemu+ssh://hv1.invalid/system?command=" + run_me),
                (3, 8), "has a 'command' parameter, which runs a command on this machine",
                ALL_COMMANDS),
            Row("uri-command-percent-encoded",
                hosts("qemu+ssh://hv1.invalid/system?no_tty=1&%63OMMAND=" + run_me), (3, 8),
                "has a 'command' parameter"),
            Row("meta-data-dotdot", G + "    cloud-init: {meta-data: %s/kubeconfig}\n" % out_rel,
                (9, 29), "meta-data '%s/kubeconfig' resolves to '%s', %s; move the file "
                "there, or allow its folder with --allow-path DIR" % (out_rel, kube, folder),
                ALL_COMMANDS),
            Row("user-data-absolute", G + "    cloud-init: {user-data: %s}\n" % kube, (9, 29),
                "resolves to '%s', %s" % (kube, folder)),
            Row("meta-data-symlink-out", G + "    cloud-init: {meta-data: ./kube-link}\n",
                (9, 29), "meta-data './kube-link' resolves to '%s', %s" % (kube, folder)),
            Row("root-ssh-key-dotdot-via-sub", G + "    cloud-init: {user-data: ud-ok, "
                "root-ssh-key: sub/../%s/kubeconfig}\n" % out_rel, (9, 50), folder),
            Row("base-dotdot", G + "    base: %s/raw-secret.bin\n" % out_rel, (9, 11),
                "base '%s/raw-secret.bin' resolves to '%s', %s" % (out_rel, secret, folder),
                ALL_COMMANDS),
            Row("base-allowed-but-no-image", G + "    base: %s/raw-secret.bin\n" % out_rel,
                (9, 11), "'%s' is neither a qcow2 image nor a raw disk image" % secret,
                allow_out),
            Row("base-missing", G + "    base: ./debian-12.qcow2\n", (9, 11),
                "cannot read base file '%s': No such file or directory"
                % os.path.join(self.d, "debian-12.qcow2"),
                (("apply", "--dry-run"), ("status",), ("destroy",))),
            Row("base-fifo", G + "    base: ./base-fifo\n", (9, 11),
                "base file '%s' is not a regular file" % os.path.join(self.d, "base-fifo"),
                ALL_COMMANDS),
            Row("base-device", G + "    base: /dev/null\n", (9, 11),
                "base file '/dev/null' is not a regular file",
                (("apply", "--allow-path", "/dev"),)),
            Row("base-secret-of-whole-sectors", G + "    base: ./secret-4k.bin\n", (9, 11),
                "is neither a qcow2 image nor a raw disk image"),
            Row("base-not-whole-sectors", G + "    base: ./ud-ok\n", (9, 11),
                "not a whole number of 512-byte sectors"),
            Row("base-empty", G + "    base: ./empty.img\n", (9, 11), "is empty"),
        ]

    def hostile_yaml_rows(self, G):
        """Issue 14: YAML that costs far more to parse than it weighs, in a
        manifest and in each cloud-init file.  RUN_TIMEOUT and RSS_LIMIT
        are the point: before the fixes an alias bomb of user-data took
        13.6 GB and 76 s, 1 MiB of '[' 376 MB, deep JSON 123 MB."""
        ud, md, nc = (os.path.join(self.d, n) for n in ("ud-bomb", "md-bomb", "nc-bomb"))
        deep = "mappings and lists nest deeper than 32 levels"
        return [
            Row("user-data-alias-bomb", G + "    cloud-init: {user-data: ud-bomb}\n", (8, 5),
                "guest 'a': user-data '%s' line 2, column 4: YAML anchors ('&name') are "
                "not allowed" % ud),
            Row("meta-data-alias-bomb", G + "    cloud-init: {meta-data: md-bomb, "
                "user-data: ud-ok}\n", (8, 5),
                "guest 'a': meta-data '%s' line 1, column 4: YAML anchors" % md),
            Row("network-config-alias-bomb", G + "    cloud-init: {network-config: nc-bomb, "
                "user-data: ud-ok}\n", (8, 5),
                "guest 'a': network-config '%s' line 1, column 4: YAML anchors" % nc),
            Row("network-config-1mib-brackets", G + "    cloud-init: {network-config: "
                "nc-deep, user-data: ud-ok}\n", (8, 5),
                "network-config '%s' line 1, column 35: %s"
                % (os.path.join(self.d, "nc-deep"), deep)),
            Row("meta-data-deep-json", G + "    cloud-init: {meta-data: md-deep, "
                "user-data: ud-ok}\n", (8, 5),
                "meta-data '%s' line 1, column 161: %s" % (os.path.join(self.d, "md-deep"),
                                                          deep)),
            Row("manifest-1mib-brackets", b"[" * MAX_FILE, (1, 17),
                "the manifest nests mappings and lists deeper than 16 levels"),
            Row("manifest-deep-json", '{"a":' * (MAX_FILE // 10) + "1" + "}" * (MAX_FILE // 10),
                (1, 81), "the manifest nests mappings and lists deeper than 16 levels"),
        ]

    stats = []   # (peak RSS, seconds, arguments) of every run

    def test_table(self):
        rows = self.rows()
        # the table's own runs, whichever cases ran before it
        self.addCleanup(self.report_worst, len(self.stats))
        self.assertGreaterEqual(len(rows), 30)
        names = [r["name"] for r in rows]
        self.assertEqual(len(names), len(set(names)), "row names must be unique")
        for r in rows:
            given = r["path"] or r["name"] + ".yaml"
            if given == "ABS":
                given = os.path.join(self.d, r["name"] + ".yaml")
            file = given if os.path.isabs(given) else os.path.join(self.d, given)
            if r["pos"] is None:
                where, msg = None, r["msg"]
            else:
                where, msg = "%s:%d:%d: " % ((given,) + r["pos"]), r["msg"]
            for command in r["commands"]:
                with self.subTest(row=r["name"], command=" ".join(command)):
                    probs = self.check(r["name"], list(command) + [given], where, msg,
                                       r["text"], file)
                    self.judge(r["name"], probs)
        self.assert_no_host_contacted()

    def report_worst(self, first=0):
        stats = self.stats[first:]
        rss = max(stats)
        took = max(stats, key=lambda x: x[1])
        sys.stderr.write("lab_manifests.py: %d runs; worst peak RSS %.1f MiB (%s), "
                         "longest %.2f s (%s)\n" % (len(stats), rss[0] / 2**20, rss[2],
                                                     took[1], took[2]))

    # ------------------------------------------------------------ arguments

    def test_arguments(self):
        """Bad command lines around a VALID manifest: refused before it is read."""
        rows = [
            ("apply without a file", ["apply"], "apply needs exactly one manifest"),
            ("apply two files", ["apply", "valid.yaml", "valid.yaml"],
             "apply needs exactly one manifest"),
            ("--json apply without a file", ["--json", "apply"],
             "apply needs exactly one manifest"),
            ("status without a file", ["status"], "status needs exactly one manifest"),
            ("destroy two files", ["destroy", "valid.yaml", "valid.yaml"],
             "destroy needs exactly one manifest"),
            ("--jobs 0", ["apply", "--jobs", "0", "valid.yaml"],
             "--jobs: invalid number '0'; give a whole number from 1 to 64"),
            ("--jobs x", ["apply", "--jobs", "x", "valid.yaml"],
             "--jobs: invalid number 'x'"),
            ("--jobs 65", ["apply", "--jobs", "65", "valid.yaml"],
             "--jobs: invalid number '65'"),
            ("--jobs -1", ["apply", "-j", "-1", "valid.yaml"], "--jobs: invalid number '-1'"),
            ("--jobs=", ["apply", "--jobs=", "valid.yaml"], "--jobs needs a value"),
            ("apply --bogus", ["apply", "--bogus", "valid.yaml"], "--bogus"),
            ("status --jobs", ["status", "--jobs", "2", "valid.yaml"], "--jobs"),
            # Issue 14: a --connect URI that runs a local command, for every
            # command (the lab ones never connect to it, and still refuse);
            # an --allow-path that is no folder.
            ("-c ext apply", ["-c", "qemu+ext:///system?command=" + self.run_me, "apply",
                              "valid.yaml"], "--connect: URI 'qemu+ext:///system?command="),
            ("--connect= command status", ["--connect=qemu+ssh://h.invalid/system?"
                                           "%63ommand=" + self.run_me, "status",
                                           "valid.yaml"],
             "has a 'command' parameter, which runs a command on this machine"),
            ("destroy -c EXT", ["destroy", "valid.yaml", "-c", "qemu+Ext:///system"],
             "--connect: URI 'qemu+Ext:///system' uses the ext transport"),
            ("info --pool -c ext", ["-c", "qemu+ext:///system?command=" + self.run_me,
                                    "info", "--pool", "p", "--volume", "v"],
             "uses the ext transport"),
            ("--allow-path missing", ["apply", "--allow-path", "no-such-dir", "valid.yaml"],
             "--allow-path: cannot use 'no-such-dir': No such file or directory"),
            ("--allow-path a file", ["status", "valid.yaml", "--allow-path", "ud-ok"],
             "--allow-path: cannot use 'ud-ok': Not a directory"),
        ]
        for name, args, msg in rows:
            with self.subTest(args=name):
                self.judge(name, self.check(name, args, None, msg))
        self.assert_no_host_contacted()

    def test_default_uri(self):
        """Issue 14: LIBVIRT_DEFAULT_URI that runs a local command, where a
        command would connect to it (no -c): refused before it is used."""
        ext = "qemu+ext:///system?command=" + self.run_me
        ssh = "qemu+ssh://h.invalid/system?Command=" + self.run_me
        rows = [
            ("info --pool", ext, ["info", "--pool", "p", "--volume", "v"],
             "LIBVIRT_DEFAULT_URI: URI '%s' uses the ext transport" % ext),
            ("provision", ssh, ["--pool", "p", "--name", "n", "--size", "1G", "--import"],
             "LIBVIRT_DEFAULT_URI: URI '%s' has a 'command' parameter" % ssh),
            ("import", ext, ["import", "ud-ok", "--pool", "p"],
             "LIBVIRT_DEFAULT_URI: URI '%s'" % ext),
        ]
        for name, uri, args, msg in rows:
            with self.subTest(args=name):
                self.judge(name, self.check(name, args, None, msg,
                                            env_extra={"LIBVIRT_DEFAULT_URI": uri}))
        self.assert_no_host_contacted()

    # -------------------------------------------------------------- control

    def test_control(self):
        """A valid manifest does contact the host: the socket would have seen
        a row that did (each row case checks that none did)."""
        for command in ALL_COMMANDS:
            with self.subTest(control=" ".join(command)):
                before = snapshot(self.d)
                cmd, rc, out, err, conns, _ = self.run_vp(list(command) + ["valid.yaml"])
                # libvirt may keep files under HOME once it connects: not
                # the table's business, but they must not reach later runs.
                for rel in sorted(set(snapshot(self.d)) - set(before), reverse=True):
                    p = os.path.join(self.d, rel)
                    if os.path.isdir(p) and not os.path.islink(p):
                        os.rmdir(p)
                    else:
                        os.unlink(p)
                msg = "\n  $ cd %s && %s\n  exit %s, %d connection(s), stdout %r, stderr %r" % (
                    shlex.quote(self.d), shlex.join(cmd), rc, conns, out, err)
                self.assertIsNotNone(rc, "hung" + msg)
                self.assertGreaterEqual(conns, 1, "the valid manifest did not connect" + msg)
                # Failed at the host (the test's socket is no daemon), not
                # refused as input.
                self.assertNotIn(rc, (0, 2), msg)
                if "--json" in command:
                    doc = json.loads(out)
                    self.assertEqual([(h["name"], h["reachable"]) for h in doc["hosts"]],
                                     [("hv1", False)], msg)


if __name__ == "__main__":
    unittest.main(verbosity=2)
