#!/usr/bin/env python3
"""Shared plumbing for the tests that run virt-provision against a real,
isolated session libvirtd (tests/provision.py, tests/domain_ops.py, and the
daemon part of tests/man_completion.py).

Standard library only.  Import it as tests/qemuimg.py is imported:

    HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, HERE)
    import libvirt_harness as H  # noqa: E402

Module level:

    HERE, SESSION, MAKE_KIT    this directory, tests/libvirt/session-daemon.sh,
                               tests/guest/make-guest-kit.sh
    PREFIX                     "virt-provision: ", the tool's message prefix
    T0                         time.monotonic() when the harness was imported
    logger(name) -> log(msg)   "NAME: msg" lines on stderr (timings, notes)
    sha256(path) -> str        hex SHA-256 of a file
    child_env(extra=None)      os.environ with LC_ALL=C.UTF-8, no LANGUAGE,
                               no LIBVIRT_DEFAULT_URI, plus extra
    default_signals()          preexec_fn: SIGINT as at a terminal
    run(argv, check=True, timeout=120, env=None)
                               subprocess.run with captured text output; with
                               check, a non-zero exit raises AssertionError
                               holding the command line and its output
    require_vp_bin() -> str    $VP_BIN: set, absolute, an executable file
    require_programs(needed, packages)
                               appends /usr/sbin:/sbin to PATH, then raises
                               unless every program of needed is found
                               (the message names the apt packages)
    require_scripts()          SESSION and MAKE_KIT exist and are executable
    parse_assignments(text) -> dict
                               the KEY=VALUE lines session-daemon.sh prints
                               (what `eval "$(session-daemon.sh start DIR)"`
                               would set)
    start_daemon(dir, timeout=180) -> dict
                               session-daemon.sh start DIR; raises unless it
                               succeeds and prints VP_TEST_URI (qemu+unix://),
                               VP_TEST_USER and VP_TEST_IMAGES
    purge_daemon(dir, log=None)
                               session-daemon.sh purge DIR; a failure is only
                               logged (it runs as a cleanup)
    HOSTS, HOST_POOL           tests/libvirt/hosts.sh; "default", the dir
                               pool it defines on every host
    start_hosts(dir, n, timeout=300) -> list of dict
                               hosts.sh start DIR N (as root only: each host
                               is a daemon of its own user vp-hostI); one
                               dict per host: name, uri, user, images,
                               transport ("unix" for 1..N-1, "ssh" for N),
                               daemon_pid, and the keys every kind of host
                               has (HOST_VIEW below); raises unless all N
                               answered
    SYSTEM_HOSTS               tests/libvirt/system-hosts.sh
    start_system_hosts(dir, n, timeout=600) -> list of dict
                               system-hosts.sh start DIR N (as root only:
                               system libvirtds in namespaces of their own,
                               over qemu+ssh as root; no pool defined); the
                               same keys, transport "ssh", user "root",
                               images /var/lib/libvirt/images, plus address
                               (the host's sshd), holder_pid and ssh_config
                               (ssh -F it: the hosts by their addresses, with
                               the suite's key and pinned host keys)
    HOST_VIEW                  the keys of both kinds, so that a test reads
                               what differs from the host, not from its kind:
                               local_images (the images dir as this runner
                               sees it), on_host (argv prefix running a
                               command on the host: [] or nsenter into its
                               namespaces), virsh (argv prefix of virsh
                               talking to the host's daemon from the host),
                               guest_network (the --network a booted guest
                               gets there: "user" or "network=default") and
                               guest_subnet (where its address comes from)
    purge_hosts(dir, log=None, script=HOSTS)
                               SCRIPT purge DIR; a failure is only logged
    end_at_exit(proc)          ends a background Popen at exit if it still
                               runs; at exit, an interrupted run (Ctrl-C,
                               SIGTERM) also purges the host sets of the
                               classes below, whose class cleanups do not
                               run then
    cloud_image_dir() -> str   where tests/guest/make-cloud-image.sh keeps
                               the cloud image: $VP_CLOUD_IMAGE_DIR, else
                               ~/.cache/virt-provision-tests/cloud-image
    make_guest_kit(tmp, log) -> str
                               builds or reuses the guest kit in
                               $VP_GUEST_KIT_DIR (else TMP/kit) and checks
                               vmlinuz, initrd.img, pattern-offsets.sh

boots_guest(method)             marks a test method that boots a TCG guest
main()                         unittest.main, where --guests runs only the
                               marked methods and --no-guests every other
                               one: the suite runs the CPU-heavy boots in
                               one build, alone, and the rest in both
                               builds beside other tests; a selection that
                               finds no test fails

class LibvirtTestCase(unittest.TestCase): the base of a test class that owns
one daemon.  Its setUpClass (call it first from a subclass's: super()
.setUpClass()) checks the class attributes NEEDED programs (PACKAGES name their
apt packages) and sets cls.vp_bin, cls.tmp (a short /tmp/TMP_PREFIXXXXXXXXX, as
unix socket paths are limited; removed at the end), cls.kit, cls.dir (the
daemon's DIR, purged at the end also when set-up fails), cls.uri, cls.user,
cls.images, cls.uid/cls.gid/cls.as_user (the daemon user, setpriv prefix when
root), cls.work (a directory that user owns) and cls.vp_env (child_env with
XDG_DATA_HOME set to the daemon's: client and daemon are different users, and
the tool puts a missing default pool under the client's XDG data dir).  Every
test's duration is logged.  A subclass sets the class attributes log
(staticmethod(logger("FILE.py"))), TMP_PREFIX, NEEDED, PACKAGES, STATE_POLL
(the domstate poll interval of wait_state) and STEPS (the tool's -v step
lines, for interrupted_error).
Instance helpers: virsh, desc, ok, fails, domstate, wait_state, forget,
define_xml, console_to_file, vp_lines, boot_until_off, and, for runs interrupted by SIGINT or
a daemon restart: start_bg, finish_bg, run_interrupted, bg_desc,
interrupted_error, restart_daemon.

class MultiHostTestCase(unittest.TestCase): the base of a test class that owns
N_HOSTS (default 3) isolated hosts of tests/libvirt/hosts.sh.  Its setUpClass
(call it first) checks NEEDED/PACKAGES, needs root (says why otherwise) and
sets cls.vp_bin, cls.tmp (short /tmp/TMP_PREFIXXXXXXXXX, removed at the end),
cls.dir (the hosts' DIR, purged at the end also when set-up fails), cls.hosts
(start_hosts' dicts, in order: hosts[-1] is the ssh one), cls.unix_hosts,
cls.ssh_hosts and cls.vp_env.  Every test's duration is logged.
Helpers (class methods, usable in setUpClass too): virsh(host, *args,
check=True, timeout=120) -> stdout (the CompletedProcess with check=False),
vp(host, *args, env=None, timeout=300) -> CompletedProcess with .argv and
.seconds (never raises), restart_hosts() -> the host dicts afresh (starts
again what is not running: a killed daemon), daemon_pid(host) (its daemon
now), pool_env(host) (the client's environment for a run that may create
the pool default there), host_file(host, src, name) -> a copy of SRC on the
host, readable by its qemu, by the path the host sees; instance helpers
desc, ok, fails as above, and in_guest(host, dom, address, login, command,
timeout=900) -> CompletedProcess: runs a shell command in a booted guest the
way a runner reaches a guest of that kind of host (here through its agent:
with user networking nothing else reaches it), retrying until the way in
answers.

class SystemHostsTestCase(unittest.TestCase): the same interface over N_HOSTS
(default 3) hosts of tests/libvirt/system-hosts.sh: system daemons, all
over qemu+ssh as root (cls.hosts, all in cls.ssh_hosts); virsh(host, ...)
runs virsh on the host itself; in_guest goes over ssh through the
hypervisor's sshd as ProxyJump, with the suite's key for the jump and LOGIN
(a dict: user, key, known_hosts) for the guest.
"""

import atexit
import base64
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

__all__ = [
    "HERE", "SESSION", "MAKE_KIT", "PREFIX", "T0", "logger", "sha256", "child_env",
    "default_signals", "run", "require_vp_bin", "require_programs",
    "require_scripts", "parse_assignments", "start_daemon", "purge_daemon",
    "make_guest_kit", "cloud_image_dir", "LibvirtTestCase", "HOSTS", "HOST_POOL", "start_hosts",
    "purge_hosts", "MultiHostTestCase", "SYSTEM_HOSTS", "HOST_VIEW", "start_system_hosts",
    "SystemHostsTestCase", "end_at_exit",
]

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION = os.path.join(HERE, "libvirt", "session-daemon.sh")
MAKE_KIT = os.path.join(HERE, "guest", "make-guest-kit.sh")
HOSTS = os.path.join(HERE, "libvirt", "hosts.sh")
SYSTEM_HOSTS = os.path.join(HERE, "libvirt", "system-hosts.sh")
HOST_POOL = "default"
PREFIX = "virt-provision: "
T0 = time.monotonic()
KIT_FILES = ("vmlinuz", "initrd.img", "pattern-offsets.sh")


def logger(name):
    """A log(msg) that prints `NAME: msg` on stderr."""
    def log(msg):
        print("%s: %s" % (name, msg), file=sys.stderr, flush=True)
    return log


def sha256(path):
    """Hex SHA-256 of the file at path, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def child_env(extra=None):
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    env.pop("LANGUAGE", None)
    env.pop("LIBVIRT_DEFAULT_URI", None)
    env.update(extra or {})
    return env


def default_signals():
    # The tool must see SIGINT as at a terminal even when the test runner
    # ignores it.  (subprocess already restores SIGPIPE to its default.)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(argv, check=True, timeout=120, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       env=env or child_env(), preexec_fn=default_signals)
    if check and r.returncode != 0:
        raise AssertionError("$ %s\n-> exit %d\nstdout: %s\nstderr: %s"
                             % (shlex.join(argv), r.returncode, r.stdout, r.stderr))
    return r


def require_vp_bin():
    vp_bin = os.environ.get("VP_BIN")
    if not vp_bin:
        raise RuntimeError("VP_BIN is not set: point it at the virt-provision binary")
    if not (os.path.isabs(vp_bin) and os.path.isfile(vp_bin)
            and os.access(vp_bin, os.X_OK)):
        raise RuntimeError("VP_BIN=%r is not an executable file given by absolute path"
                           % vp_bin)
    return vp_bin


def require_programs(needed, packages):
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [t for t in needed if shutil.which(t) is None]
    if missing:
        raise RuntimeError("required programs missing: %s (apt-get install -y "
                           "--no-install-recommends %s)"
                           % (" ".join(missing), " ".join(packages)))


def require_scripts():
    for s in (SESSION, MAKE_KIT):
        if not os.access(s, os.X_OK):
            raise RuntimeError("%s is missing or not executable" % s)


def parse_assignments(text):
    envs = {}
    for line in text.splitlines():
        k, _, v = line.partition("=")
        envs[k] = shlex.split(v)[0] if v else ""
    return envs


def start_daemon(dir, timeout=180):
    r = run([SESSION, "start", dir], check=False, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("session-daemon.sh start %s failed (exit %d):\n%s"
                           % (dir, r.returncode, r.stderr))
    envs = parse_assignments(r.stdout)
    for k in ("VP_TEST_URI", "VP_TEST_USER", "VP_TEST_IMAGES"):
        if not envs.get(k):
            raise RuntimeError("session-daemon.sh start printed no %s:\n%s" % (k, r.stdout))
    if not envs["VP_TEST_URI"].startswith("qemu+unix://"):
        raise RuntimeError("unexpected daemon URI %r" % envs["VP_TEST_URI"])
    return envs


def purge_daemon(dir, log=None):
    r = run([SESSION, "purge", dir], check=False, timeout=120)
    if r.returncode != 0 and log:
        log("WARNING: session-daemon.sh purge %s failed: %s" % (dir, r.stderr))


HOST_KEYS = ("name", "uri", "user", "images", "transport", "daemon_pid")
HOST_VIEW = ("local_images", "on_host", "virsh", "guest_network", "guest_subnet")


def _start_host_set(script, dir, n, keys, timeout):
    """SCRIPT start DIR N: its assignments, and one dict of KEYS per host."""
    name = os.path.basename(script)
    r = run([script, "start", dir, str(n)], check=False, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s start %s %d failed (exit %d):\n%s"
                           % (name, dir, n, r.returncode, r.stderr))
    envs = parse_assignments(r.stdout)
    if envs.get("VP_HOSTS_N") != str(n):
        raise RuntimeError("%s start printed no VP_HOSTS_N=%d:\n%s" % (name, n, r.stdout))
    hosts = []
    for i in range(1, n + 1):
        h = {}
        for k in keys:
            v = envs.get("VP_HOST%d_%s" % (i, k.upper()))
            if not v:
                raise RuntimeError("%s start printed no VP_HOST%d_%s:\n%s"
                                   % (name, i, k.upper(), r.stdout))
            h[k] = v
        h["daemon_pid"] = int(h["daemon_pid"])
        hosts.append(h)
    return envs, hosts


def start_hosts(dir, n, timeout=300):
    _, hosts = _start_host_set(HOSTS, dir, n, HOST_KEYS, timeout)
    for i, h in enumerate(hosts, 1):
        want = "qemu+ssh://" if i == n else "qemu+unix://"
        if not h["uri"].startswith(want):
            raise RuntimeError("host %d: unexpected URI %r" % (i, h["uri"]))
        # HOST_VIEW: the runner shares the hosts' file system
        h.update(local_images=h["images"], on_host=[],
                 virsh=["virsh", "-q", "-c", h["uri"]],
                 guest_network="user", guest_subnet="10.0.2.0/24")
    return hosts


def start_system_hosts(dir, n, timeout=600):
    envs, hosts = _start_host_set(SYSTEM_HOSTS, dir, n, HOST_KEYS + (
        "local_images", "address", "holder_pid", "guest_subnet"), timeout)
    for i, h in enumerate(hosts, 1):
        if not h["uri"].startswith("qemu+ssh://root@%s/system?" % h["address"]):
            raise RuntimeError("host %d: unexpected URI %r" % (i, h["uri"]))
        h["holder_pid"] = int(h["holder_pid"])
        h["on_host"] = ["nsenter", "-t", str(h["holder_pid"]), "-m", "-n", "--"]
        h["virsh"] = h["on_host"] + ["virsh", "-q", "-c", "qemu:///system"]
        h["guest_network"] = "network=default"
        h["ssh_config"] = envs["VP_HOSTS_SSH_CONFIG"]
    return hosts


def purge_hosts(dir, log=None, script=HOSTS):
    r = run([script, "purge", dir], check=False, timeout=180)
    if r.returncode != 0 and log:
        log("WARNING: %s purge %s failed: %s" % (os.path.basename(script), dir, r.stderr))


def make_guest_kit(tmp, log):
    t = time.monotonic()
    kit = os.path.abspath(os.environ.get("VP_GUEST_KIT_DIR") or os.path.join(tmp, "kit"))
    r = run([MAKE_KIT, kit], check=False, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("make-guest-kit.sh %s failed (exit %d):\n%s"
                           % (kit, r.returncode, r.stderr))
    for f in KIT_FILES:
        if not os.path.isfile(os.path.join(kit, f)):
            raise RuntimeError("guest kit %s lacks %s" % (kit, f))
    log("guest kit %s ready (%.1f s)" % (kit, time.monotonic() - t))
    return kit


def cloud_image_dir():
    """Where tests/guest/make-cloud-image.sh keeps the Debian cloud image:
    $VP_CLOUD_IMAGE_DIR, else the user's cache dir."""
    d = os.environ.get("VP_CLOUD_IMAGE_DIR")
    if d:
        return os.path.abspath(d)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                             ".cache")
    return os.path.join(cache, "virt-provision-tests", "cloud-image")


# What an interrupted run leaves: class cleanups do not run after a
# KeyboardInterrupt, atexit handlers do (and SIGTERM unwinds the same way).
_LEFT = {"procs": [], "sets": []}


def end_at_exit(proc):
    """Ends the Popen PROC (by its pid, SIGTERM) at exit if it still runs:
    a background run must not outlive an interrupted test, nor the hosts it
    talks to."""
    _LEFT["procs"].append(proc)


@atexit.register
def _at_exit():
    for p in _LEFT["procs"]:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    for cls, dir, tmp in _LEFT["sets"]:
        if os.path.isdir(dir):
            cls.log("interrupted: purging %s" % dir)
            purge_hosts(dir, cls.log, cls.SCRIPT)
        shutil.rmtree(tmp, ignore_errors=True)


if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(128 + signo))


def boots_guest(method):
    """Marks a test method that boots a TCG guest (see main)."""
    method.vp_boots_guest = True
    return method


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main():
    """unittest.main(verbosity=2), except that --guests selects the test
    methods marked boots_guest and --no-guests the others, among the
    classes named (default: all of the module).  An empty selection fails:
    a ctest that ran nothing must not pass."""
    argv = list(sys.argv)
    modes = [a for a in argv[1:] if a in ("--guests", "--no-guests")]
    if not modes:
        unittest.main(verbosity=2)
        return
    names = [a for a in argv[1:] if a not in modes]
    module = sys.modules["__main__"]
    loader = unittest.TestLoader()
    suite = (loader.loadTestsFromNames(names, module) if names
             else loader.loadTestsFromModule(module))
    want = modes[-1] == "--guests"
    chosen = [t for t in _flatten(suite)
              if getattr(getattr(t, t._testMethodName, None), "vp_boots_guest",
                         False) == want]
    if not chosen:
        print("%s: no test selected by %s %s" % (argv[0], modes[-1], " ".join(names)),
              file=sys.stderr)
        sys.exit(1)
    result = unittest.TextTestRunner(verbosity=2).run(unittest.TestSuite(chosen))
    sys.exit(0 if result.wasSuccessful() else 1)


class TimedTestCase(unittest.TestCase):
    """Logs every test's duration (the suite's timing figures)."""

    log = staticmethod(logger("libvirt_harness.py"))

    def setUp(self):
        self.t_start = time.monotonic()

    def tearDown(self):
        self.log("%s: %.1f s" % (self.id().rsplit(".", 1)[-1],
                                 time.monotonic() - self.t_start))


class LibvirtTestCase(TimedTestCase):
    """Base class of a test class with its own session daemon; see the
    module docstring."""

    maxDiff = None
    log = staticmethod(logger("libvirt_harness.py"))
    TMP_PREFIX = "vph."   # of the short temporary directory
    NEEDED = ()           # programs that must be on PATH
    PACKAGES = ()         # the apt packages that provide them
    STATE_POLL = 0.5      # seconds between two domstate calls of wait_state
    STEPS = ()            # the step lines of -v, after the prefix
    KIT = True            # build the guest kit (tests that boot nothing say False)

    # ------------------------------------------------------------------
    # class set-up: binary, tools, kit, daemon

    @classmethod
    def setUpClass(cls):
        cls.vp_bin = require_vp_bin()
        require_programs(cls.NEEDED, cls.PACKAGES)
        require_scripts()

        # short path: DIR/run/libvirt/libvirt-sock and qemu monitor sockets
        cls.tmp = tempfile.mkdtemp(prefix=cls.TMP_PREFIX, dir="/tmp")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        os.chmod(cls.tmp, 0o755)   # the daemon user must traverse it

        cls.kit = make_guest_kit(cls.tmp, cls.log) if cls.KIT else None

        t = time.monotonic()
        cls.dir = os.path.join(cls.tmp, "d")
        cls.addClassCleanup(cls._purge_daemon)
        envs = start_daemon(cls.dir)
        cls.uri = envs["VP_TEST_URI"]
        cls.user = envs["VP_TEST_USER"]
        cls.images = envs["VP_TEST_IMAGES"]
        cls.log("daemon %s as %s (%.1f s)" % (cls.uri, cls.user, time.monotonic() - t))

        # Run as the daemon user: the files qemu reads, the dir it writes.
        cls.as_user = []
        if os.getuid() == 0:
            import pwd
            pw = pwd.getpwnam(cls.user)
            cls.uid, cls.gid = pw.pw_uid, pw.pw_gid
            cls.as_user = ["setpriv", "--reuid=%d" % cls.uid, "--regid=%d" % cls.gid,
                           "--init-groups", "--"]
        else:
            cls.uid, cls.gid = os.getuid(), os.getgid()
        kfiles = [os.path.join(cls.kit, f) for f in ("vmlinuz", "initrd.img")
                  if cls.kit is not None]
        r = run(cls.as_user + ["sh", "-c", 'for f; do test -r "$f" || exit 1; done', "sh"]
                + kfiles, check=False)
        if r.returncode != 0:
            raise RuntimeError("the guest kit in %s is not readable by the daemon user %s "
                               "(every parent directory must be searchable)"
                               % (cls.kit, cls.user))
        cls.work = os.path.join(cls.tmp, "w")
        os.mkdir(cls.work)
        os.chown(cls.work, cls.uid, cls.gid)

        # Client and daemon are different users; see the module docstring.
        cls.vp_env = child_env({"XDG_DATA_HOME": os.path.join(cls.dir, "data")})

    @classmethod
    def _purge_daemon(cls):
        purge_daemon(cls.dir, cls.log)
        cls.log("total runtime %.1f s" % (time.monotonic() - T0))


    # ------------------------------------------------------------------
    # commands and their outcome

    def virsh(self, *args, check=True, timeout=120):
        r = run(["virsh", "-q", "-c", self.uri] + list(args), check=check, timeout=timeout)
        return r if not check else r.stdout

    def desc(self, r):
        return "$ %s\n-> exit %d\nstdout: %s\nstderr: %s" % (
            shlex.join(r.argv), r.returncode, r.stdout, r.stderr)

    def ok(self, r):
        self.assertEqual(r.returncode, 0, self.desc(r))
        self.assertEqual(r.stderr, "", self.desc(r))
        return r

    def fails(self, r, *must, rc=None):
        """Non-zero exit (rc when given), empty stdout, one `virt-provision: `
        line holding every string of must (case-insensitive)."""
        if rc is None:
            self.assertNotEqual(r.returncode, 0, self.desc(r))
        else:
            self.assertEqual(r.returncode, rc, self.desc(r))
        self.assertEqual(r.stdout, "", self.desc(r))
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, "want one error line\n" + self.desc(r))
        self.assertTrue(lines[0].startswith(PREFIX), self.desc(r))
        for m in must:
            self.assertIn(m.lower(), lines[0].lower(), self.desc(r))
        return lines[0]

    # ------------------------------------------------------------------
    # domains

    def domstate(self, dom):
        return self.virsh("domstate", dom).strip()

    def wait_state(self, dom, want, timeout):
        end = time.monotonic() + timeout
        st = None
        while time.monotonic() < end:
            st = self.domstate(dom)
            if st == want:
                return
            time.sleep(self.STATE_POLL)
        self.virsh("destroy", dom, check=False)
        self.fail("domain %s is still '%s' after %d s (want '%s')" % (dom, st, timeout, want))

    def drop_domain(self, name):
        """Destroy and undefine the domain NAME if it exists."""
        r = self.virsh("domstate", name, check=False)
        if r.returncode == 0:
            if "running" in r.stdout or "paused" in r.stdout:
                self.virsh("destroy", name, check=False)
            self.virsh("undefine", name, "--nvram", check=False)

    def forget(self, name):
        """Cleanup: destroy and undefine the domain NAME."""
        self.addCleanup(self.drop_domain, name)

    def define_xml(self, root, stem):
        """Writes the domain element root to WORK/STEM.xml and defines it."""
        path = os.path.join(self.work, stem + ".xml")
        ET.ElementTree(root).write(path)
        self.virsh("define", path)

    def console_to_file(self, root, console):
        """Serial + console to a file; reboot/crash end the domain."""
        root.find("on_reboot").text = "destroy"
        devs = root.find("devices")
        for tag in ("serial", "console"):
            for e in devs.findall(tag):
                devs.remove(e)
        ser = ET.SubElement(devs, "serial", type="file")
        ET.SubElement(ser, "source", path=console)
        ET.SubElement(ser, "target", port="0")
        con = ET.SubElement(devs, "console", type="file")
        ET.SubElement(con, "source", path=console)
        ET.SubElement(con, "target", type="serial", port="0")

    def vp_lines(self, console):
        """The guest kit's VP-... lines in a console file ([] if none yet)."""
        try:
            with open(console, "rb") as f:
                return [l.decode(errors="replace").strip() for l in f.read().splitlines()
                        if l.startswith(b"VP-")]
        except FileNotFoundError:
            return []

    def boot_until_off(self, name, console, want, label, timeout=120):
        """virsh start NAME, wait until it is shut off and log how long
        ("LABEL boot: ..."); the VP- lines on its file console must hold want
        and no FAIL.  Returns those lines."""
        t = time.monotonic()
        self.virsh("start", name)
        self.wait_state(name, "shut off", timeout)
        self.log("%s boot: %.1f s to shut off" % (label, time.monotonic() - t))
        lines = self.vp_lines(console)
        self.assertIn(want, lines, lines)
        self.assertFalse([l for l in lines if "FAIL" in l], lines)
        return lines

    # ------------------------------------------------------------------
    # background runs, interrupted by SIGINT or a daemon restart

    def start_bg(self, cmd, args):
        """Runs `virt-provision -c URI -v CMD ARGS` in the background; returns
        (proc, event set once it announced the upload, output dict filled by
        reader threads: stdout text, stderr lines, argv)."""
        argv = [self.vp_bin, "-c", self.uri, "-v", cmd] + list(args)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.vp_env, preexec_fn=default_signals)
        uploading = threading.Event()
        out = {"stdout": "", "stderr": [], "argv": argv}

        def err_reader():
            for line in p.stderr:
                out["stderr"].append(line.rstrip("\n"))
                if "uploading" in line:
                    uploading.set()

        def out_reader():
            out["stdout"] = p.stdout.read()
        threads = [threading.Thread(target=err_reader, daemon=True),
                   threading.Thread(target=out_reader, daemon=True)]
        for t in threads:
            t.start()
        out["threads"] = threads
        return p, uploading, out

    def finish_bg(self, p, out, timeout):
        """Waits for a start_bg run (fails the test if it hangs); its exit."""
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("$ %s did not end within %d s; stderr: %s"
                      % (shlex.join(out["argv"]), timeout, out["stderr"]))
        for t in out["threads"]:
            t.join(10)
        p.stdout.close()
        p.stderr.close()
        return rc

    def run_interrupted(self, cmd, args, action, delay, timeout):
        """start_bg(cmd, args); once it announced the upload (within 60 s, else
        the test fails), waits delay seconds and calls action(proc), then
        finish_bg(proc, out, timeout).  Returns (exit status, out, monotonic
        time the action started, seconds the action took)."""
        p, uploading, out = self.start_bg(cmd, args)
        if not uploading.wait(60):
            p.kill()
            self.finish_bg(p, out, 30)
            self.fail("no 'uploading' step within 60 s: %s" % out["stderr"])
        time.sleep(delay)
        t_act = time.monotonic()
        action(p)
        t_acted = time.monotonic() - t_act
        return self.finish_bg(p, out, timeout), out, t_act, t_acted

    def bg_desc(self, rc, out):
        return "$ %s\n-> exit %d\nstdout: %s\nstderr:\n%s" % (
            shlex.join(out["argv"]), rc, out["stdout"], "\n".join(out["stderr"]))

    def interrupted_error(self, rc, out, want_rc, *must):
        """An interrupted run ended as it must: exit want_rc (any non-zero
        when None; -SIGNO: killed by that signal, which the tool re-raises
        once its undo is done), not by any other signal, no stdout, only step
        lines (those starting with one of self.STEPS after the prefix) then
        one error line, last, holding every string of must.  Returns that
        line."""
        what = self.bg_desc(rc, out)
        if rc < 0 and rc != want_rc:
            self.fail("the tool was killed by signal %s, so no undo ran\n%s"
                      % (signal.Signals(-rc).name, what))
        if want_rc is not None:
            self.assertEqual(rc, want_rc, what)
        else:
            self.assertNotEqual(rc, 0, what)
        self.assertEqual(out["stdout"], "", what)
        lines = out["stderr"]
        self.assertTrue(lines and all(l.startswith(PREFIX) for l in lines), what)
        errors = [l for l in lines if not l[len(PREFIX):].startswith(self.STEPS)]
        self.assertEqual(errors, [lines[-1]], "want one error line, last\n" + what)
        for m in must:
            self.assertIn(m.lower(), lines[-1].lower(), what)
        return lines[-1]

    def restart_daemon(self, p):
        """An interruption: kill -9 the daemon and start it again (the tool
        p must reconnect to undo); kills p and fails if the restart fails."""
        r = run([SESSION, "restart", self.dir], check=False, timeout=120)
        if r.returncode != 0:
            p.kill()
            self.fail("session-daemon.sh restart failed: %s" % r.stderr)


class HostSetTestCase(TimedTestCase):
    """What MultiHostTestCase and SystemHostsTestCase share: a set of
    N_HOSTS hosts that SCRIPT starts; see the module docstring."""

    maxDiff = None
    log = staticmethod(logger("libvirt_harness.py"))
    TMP_PREFIX = "vpm."
    N_HOSTS = 3
    NEEDED = ()
    PACKAGES = ()
    SCRIPT = None         # the hosts' script
    HOST_NEEDED = ()      # what that script needs, and its packages
    HOST_PACKAGES = ()
    WHY_ROOT = ""         # the error without root

    @classmethod
    def setUpClass(cls):
        cls.vp_bin = require_vp_bin()
        require_programs(tuple(cls.NEEDED) + tuple(cls.HOST_NEEDED),
                         tuple(cls.PACKAGES) + tuple(cls.HOST_PACKAGES))
        if not os.access(cls.SCRIPT, os.X_OK):
            raise RuntimeError("%s is missing or not executable" % cls.SCRIPT)
        if os.getuid() != 0:
            raise RuntimeError(cls.WHY_ROOT)
        cls.tmp = tempfile.mkdtemp(prefix=cls.TMP_PREFIX, dir="/tmp")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        os.chmod(cls.tmp, 0o755)   # the daemon users must traverse it
        cls.dir = os.path.join(cls.tmp, "d")
        # registered before the start: a half-started set is purged too
        cls.addClassCleanup(cls._purge_hosts)
        # and when the run is interrupted (see at_exit)
        _LEFT["sets"].append((cls, cls.dir, cls.tmp))
        t = time.monotonic()
        cls.hosts = cls.restart_hosts()
        cls.unix_hosts = [h for h in cls.hosts if h["transport"] == "unix"]
        cls.ssh_hosts = [h for h in cls.hosts if h["transport"] == "ssh"]
        cls.log("%d hosts (%d unix, %d ssh) in %.1f s" % (
            len(cls.hosts), len(cls.unix_hosts), len(cls.ssh_hosts),
            time.monotonic() - t))
        cls.vp_env = child_env()

    @classmethod
    def _purge_hosts(cls):
        purge_hosts(cls.dir, cls.log, cls.SCRIPT)
        cls.log("total runtime %.1f s" % (time.monotonic() - T0))

    @classmethod
    def restart_hosts(cls):
        """Starts what of the set is not running (the script's start on a
        started DIR does only that); the host dicts afresh."""
        raise NotImplementedError

    @classmethod
    def daemon_pid(cls, host):
        """The pid of HOST's daemon now (it changes when one is restarted)."""
        for now in cls.restart_hosts():
            if now["uri"] == host["uri"]:
                return now["daemon_pid"]
        raise AssertionError("no host %s" % host["uri"])

    @classmethod
    def virsh(cls, host, *args, check=True, timeout=120):
        r = run(host["virsh"] + list(args), check=check, timeout=timeout)
        return r if not check else r.stdout

    @classmethod
    def vp(cls, host, *args, env=None, timeout=300):
        argv = [cls.vp_bin, "-c", host["uri"]] + list(args)
        t = time.monotonic()
        r = run(argv, check=False, timeout=timeout, env=env or cls.vp_env)
        r.seconds = time.monotonic() - t
        r.argv = argv
        return r

    @classmethod
    def host_file(cls, host, src, name):
        """Copies SRC into the boot dir beside HOST's images dir, readable by
        the qemu of that host; the copy's path as the host sees it."""
        local = os.path.join(os.path.dirname(host["local_images"]), "boot")
        os.makedirs(local, mode=0o755, exist_ok=True)
        shutil.copy(src, os.path.join(local, name))
        os.chmod(os.path.join(local, name), 0o644)
        return os.path.join(os.path.dirname(host["images"]), "boot", name)

    def in_guest(self, host, dom, address, login, command, timeout=900):
        """Runs the shell COMMAND in the guest DOM (at ADDRESS) of HOST once
        the way in answers (retried until TIMEOUT); its CompletedProcess."""
        end = time.monotonic() + timeout
        while True:
            r = self.try_guest(host, dom, address, login, command)
            if r is not None:
                return r
            if time.monotonic() >= end:
                self.fail("guest %s on %s: no way in within %d s: %s"
                          % (dom, host["name"], timeout, self.guest_error))
            time.sleep(5)

    def try_guest(self, host, dom, address, login, command):
        """One try of in_guest: None (and self.guest_error) if the way in
        does not answer yet."""
        raise NotImplementedError

    desc = LibvirtTestCase.desc
    ok = LibvirtTestCase.ok
    fails = LibvirtTestCase.fails


class MultiHostTestCase(HostSetTestCase):
    """Base class of a test class with N_HOSTS isolated hosts; see the module
    docstring."""

    SCRIPT = HOSTS
    HOST_NEEDED = ("virsh", "libvirtd", "sshd", "ssh")
    HOST_PACKAGES = ("libvirt-daemon", "libvirt-clients", "openssh-server", "openssh-client")
    WHY_ROOT = ("the multi-host tests need root: every host is a libvirtd of its own "
                "user and the ssh host an sshd that logs in as that user (see "
                "tests/libvirt/hosts.sh)")

    @classmethod
    def restart_hosts(cls):
        return start_hosts(cls.dir, cls.N_HOSTS)

    @classmethod
    def pool_env(cls, host):
        # the client names the path of a session daemon's default pool as
        # libvirt does, from XDG_DATA_HOME: here the host's own
        return dict(cls.vp_env, XDG_DATA_HOME=os.path.dirname(os.path.dirname(host["images"])))

    def try_guest(self, host, dom, address, login, command):
        def agent(execute, **arguments):
            r = self.virsh(host, "qemu-agent-command", dom,
                           json.dumps({"execute": execute, "arguments": arguments}),
                           check=False)
            self.guest_error = r.stderr.strip()
            return json.loads(r.stdout)["return"] if r.returncode == 0 else None
        started = agent("guest-exec", path="/bin/sh", arg=["-c", command],
                        **{"capture-output": True})
        if started is None:
            return None
        while True:
            st = agent("guest-exec-status", pid=started["pid"])
            if st is None or st["exited"]:
                break
            time.sleep(2)
        if st is None:
            return None
        text = [base64.b64decode(st.get(k, "")).decode(errors="replace")
                for k in ("out-data", "err-data")]
        return subprocess.CompletedProcess(["guest-exec", dom, command],
                                           st["exitcode"], *text)


class SystemHostsTestCase(HostSetTestCase):
    """Base class of a test class with N_HOSTS simulated system hypervisors
    over ssh; see the module docstring."""

    TMP_PREFIX = "vps."
    SCRIPT = SYSTEM_HOSTS
    HOST_NEEDED = ("virsh", "libvirtd", "virtlogd", "sshd", "ssh", "ssh-keygen", "dnsmasq",
                   "iptables", "ip", "unshare", "nsenter")
    HOST_PACKAGES = ("libvirt-daemon", "libvirt-clients", "openssh-server", "openssh-client",
                     "dnsmasq-base", "iptables", "iproute2", "util-linux")
    WHY_ROOT = ("the system-host tests need root: every host is a system libvirtd in "
                "network and mount namespaces of its own, reached as root over an sshd "
                "of its own (see tests/libvirt/system-hosts.sh)")

    @classmethod
    def restart_hosts(cls):
        return start_system_hosts(cls.dir, cls.N_HOSTS)

    @classmethod
    def pool_env(cls, host):
        # a system daemon keeps its images where it says: nothing of the
        # client's environment may matter
        return cls.vp_env

    def try_guest(self, host, dom, address, login, command):
        argv = ["ssh", "-F", host["ssh_config"], "-J", "root@" + host["address"],
                "-i", login["key"], "-o", "IdentitiesOnly=yes",
                "-o", "UserKnownHostsFile=" + login["known_hosts"],
                "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=20",
                "%s@%s" % (login["user"], address), command]
        r = run(argv, check=False, timeout=120)
        self.guest_error = r.stderr.strip()
        # 255: ssh itself failed (no route, refused, closed early)
        return None if r.returncode == 255 else r
