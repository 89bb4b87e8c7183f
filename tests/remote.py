#!/usr/bin/env python3
"""virt-provision against several isolated hosts, one of them over real
qemu+ssh (issue 10, "It must show" point 1, and a first use of it).

setUpClass starts 3 hosts with tests/libvirt/hosts.sh (libvirt_harness
MultiHostTestCase): host1 and host2 are session daemons of vp-host1/vp-host2
reached over qemu+unix, host3 the session daemon of vp-host3 reached over
qemu+ssh://vp-host3@127.0.0.1:PORT through an sshd the script started with
its own host and client keys.  Each has a dir pool "default".  The test runs
as root, so it reads the volume files directly to judge them with qemu-img;
the tool itself treats the ssh host as remote (it reads nothing locally).

Cases (each stands alone: it makes and removes its own volumes and domains;
only the hosts are shared):
  sshd_key_only   the ssh server: key-only (a password-only login is
      refused), AllowUsers (vp-host1 with the same key is refused), every ssh
      command below shows up as an accepted publickey session in the sshd log
  provision_volume   provision --no-define of 20G over ssh and over unix:
      qcow2, every cluster mapped (qemu-img map: one extent, all allocated),
      check clean, the two files the same length; vol-dumpxml over ssh names
      the file
  provision_domain   provision with a define-only domain over ssh: dominfo
      over ssh (shut off, 256 MiB), the domain's disk is the new volume, not
      on other hosts
  import_and_base   import of a qcow2 over ssh: the volume is byte-identical
      to the file; provision --base of that import over ssh: an overlay
      (backing chain, extended L2, all clusters mapped, compare equal to the
      base), and the client called virStorageVolDownload for the base header
      (libvirt's client log; the tool reads a base's header so over unix too)
  info_remote   info --pool --volume over ssh downloads the volume (one
      virStorageVolDownload; over unix none: the file is read in place) and
      reports what info FILE reports locally (JSON equal but disk usage)
  isolation   a volume made on host2 is seen on host2 only (vol-list,
      vol-info, files); distinct users, daemons, sockets, pool paths
  failure_leaves_state   failures over ssh leave the host as it was: volume
      name taken (exit 1, one error line), domain name taken (no volume
      left), and the other hosts are untouched
  missing_default_pool   (issue 16) no pool "default" on the ssh host, a
      session daemon of another user: provision, --dry-run, import and a
      lab apply refuse before creating anything, with one line naming the
      pool and an ssh command; nothing is made on the host nor in the
      client's XDG data dir (which that daemon could write); the command,
      run as printed, creates the pool in the host user's data dir, and
      provision then works
  slow_daemon_provision, slow_daemon_apply   (issue 16) a daemon that
      stops answering for STALL (30) s, longer than keepalive used to allow
      (20 s), is waited for: a provision over ssh and an apply over a unix
      and the ssh host, their daemons SIGSTOPped mid-run, and an apply whose
      first connection finds h1's daemon stopped, all succeed, saying with
      -v step lines that they wait for that host and when it answered; how
      long each waited is logged
  timings   each command over ssh vs unix (logged for the report, with the
      timings of every other case run)

Run as root (the hosts are users of their own).  The binary comes from
$VP_BIN.  Nothing is skipped: a missing tool, binary or daemon is a failure.
"""

import hashlib
import json
import os
import pwd
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
import qemuimg  # noqa: E402
from libvirt_harness import run  # noqa: E402

MiB, GiB = 1 << 20, 1 << 30
POOL = H.HOST_POOL
log = H.logger("remote.py")
BASE_SIZE = 64 * MiB
PATTERNS = {0: b"A", 17 * MiB: b"B", BASE_SIZE - MiB: b"C"}


def head_sha(path, n=4 * MiB):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(n)).hexdigest()


class Remote(H.MultiHostTestCase):
    log = staticmethod(log)
    TMP_PREFIX = "vpr."
    N_HOSTS = 3
    NEEDED = ["qemu-img", "cmp", "ssh", "ps"]
    PACKAGES = ["qemu-utils", "diffutils", "openssh-client", "procps"]
    DOMAIN = ["--virt-type", "qemu", "--memory", "256", "--vcpus", "1",
              "--import", "--network", "none"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.h1, cls.h2, cls.h3 = cls.hosts
        assert cls.h3["transport"] == "ssh" and cls.h1["transport"] == "unix"
        cls.times = []          # (label, transport, seconds)
        cls.addClassCleanup(cls._log_times)
        cls.sshd_log = os.path.join(cls.dir, "ssh", "sshd.log")
        cls.port = int(re.search(r"@127\.0\.0\.1:(\d+)/", cls.h3["uri"]).group(1))
        cls.key = os.path.join(cls.dir, "ssh", "client_key")
        cls.src = os.path.join(cls.tmp, "src")
        os.mkdir(cls.src)

    @classmethod
    def _log_times(cls):
        by = {}
        for label, tr, s in cls.times:
            by.setdefault(label, {}).setdefault(tr, []).append(s)
        for label, d in by.items():
            cls.log("timing %-28s %s" % (label, "  ".join(
                "%s %.3f s (n=%d)" % (tr, statistics.median(v), len(v))
                for tr, v in sorted(d.items()))))

    # ------------------------------------------------------------------
    # helpers

    def timed(self, label, host, *args, env=None):
        r = self.vp(host, *args, env=env)
        self.times.append((label, host["transport"], r.seconds))
        return r

    def vol_path(self, host, vol):
        return self.virsh(host, "vol-path", "--pool", POOL, vol).strip()

    def vols(self, host):
        self.virsh(host, "pool-refresh", POOL)
        return sorted(l.split()[0] for l in self.virsh(host, "vol-list", POOL).splitlines()
                      if l.split())

    def drop(self, host, name, vols=()):
        def do():
            r = self.virsh(host, "domstate", name, check=False)
            if r.returncode == 0:
                self.virsh(host, "undefine", name, "--nvram", check=False)
            for v in vols or (name + ".qcow2",):
                self.virsh(host, "vol-delete", "--pool", POOL, v, check=False)
        self.addCleanup(do)

    def state(self, host):
        """What a failed run must leave as it found it."""
        doms = {d: self.virsh(host, "domuuid", d).strip()
                for d in self.virsh(host, "list", "--all", "--name").split()}
        files = {}
        for f in sorted(os.listdir(host["images"])):
            st = os.stat(os.path.join(host["images"], f))
            files[f] = (st.st_size, st.st_mtime_ns,
                        head_sha(os.path.join(host["images"], f)))
        return {"vols": self.vols(host), "domains": doms, "files": files,
                "pools": self.virsh(host, "pool-list", "--all", "--name").split()}

    def accepted(self):
        with open(self.sshd_log) as f:
            return f.read().count("Accepted publickey for vp-host3 ")

    def assert_preallocated(self, path, size, overlay=False):
        info = qemuimg.info(path)
        self.assertEqual(info["format"], "qcow2", info)
        self.assertEqual(info["virtual-size"], size, info)
        chk = qemuimg.check_ok(path)
        for k in ("corruptions", "leaks", "check-errors"):
            self.assertFalse(chk.get(k), chk)
        self.assertEqual(chk["allocated-clusters"], chk["total-clusters"], chk)
        self.assertEqual(chk["image-end-offset"], os.stat(path).st_size, chk)
        extents = qemuimg.img_map(path)
        if overlay:
            # extended L2, subcluster bitmaps 0: every read goes to the base
            self.assertTrue(all(e["depth"] == 1 for e in extents), extents[:5])
        else:
            self.assertTrue(all("offset" in e and e["depth"] == 0 for e in extents),
                            extents[:5])
        self.assertEqual(sum(e["length"] for e in extents), size)
        return chk

    def client_log_env(self, path):
        return H.child_env({"LIBVIRT_LOG_FILTERS": "1:libvirt.storage",
                            "LIBVIRT_LOG_OUTPUTS": "1:file:" + path})

    def downloads(self, path):
        with open(path) as f:
            return len(re.findall(r"debug : virStorageVolDownload:", f.read()))

    def ssh(self, user, *opts):
        return run(["ssh", "-p", str(self.port), "-i", self.key, "-T",
                    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                    "-o", "ConnectTimeout=10"] + list(opts) + ["%s@127.0.0.1" % user,
                                                             "true"],
                   check=False, timeout=30)

    # ------------------------------------------------------------------

    def test_sshd_key_only(self):
        r = self.ssh("vp-host3")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ssh("vp-host3", "-o", "PubkeyAuthentication=no",
                     "-o", "PreferredAuthentications=password,keyboard-interactive")
        self.assertEqual(r.returncode, 255, r.stderr)
        self.assertIn("Permission denied", r.stderr)
        for other in ("vp-host1", "root"):
            r = self.ssh(other)
            self.assertEqual(r.returncode, 255, "%s: %s" % (other, r.stderr))
            self.assertIn("Permission denied", r.stderr)
        with open(self.sshd_log) as f:
            text = f.read()
        self.assertRegex(text, r"User vp-host1 from 127\.0\.0\.1 not allowed because "
                               r"not listed in AllowUsers")
        n = self.accepted()
        self.virsh(self.h3, "uri")
        self.assertEqual(self.accepted(), n + 1, "virsh over ssh went through the sshd")

    def test_provision_volume(self):
        paths = {}
        for host in (self.h1, self.h3):
            self.drop(host, "v02")
            n = self.accepted()
            r = self.ok(self.timed("provision 20G --no-define", host, "provision",
                                   "--pool", POOL, "--name", "v02", "--size", "20G",
                                   "--no-define"))
            self.assertIn("Created volume 'v02.qcow2'", r.stdout)
            if host is self.h3:
                self.assertEqual(self.accepted(), n + 1)
            path = self.vol_path(host, "v02.qcow2")
            self.assertEqual(os.path.dirname(path), host["images"])
            self.assertEqual(os.stat(path).st_uid, pwd.getpwnam(host["user"]).pw_uid)
            self.assert_preallocated(path, 20 * GiB)
            x = self.virsh(host, "vol-dumpxml", "--pool", POOL, "v02.qcow2")
            self.assertIn("<path>%s</path>" % path, x)
            self.assertIn("<format type='qcow2'/>", x)
            paths[host["transport"]] = path
        self.assertEqual(os.stat(paths["ssh"]).st_size, os.stat(paths["unix"]).st_size)
        self.assertEqual(head_sha(paths["ssh"]), head_sha(paths["unix"]))

    def test_provision_domain(self):
        for host in (self.h1, self.h3):
            self.drop(host, "d03")
            self.ok(self.timed("provision 20G + define", host, "provision", "--pool", POOL,
                               "--name", "d03", "--size", "20G", *self.DOMAIN))
        info = dict(l.split(":", 1) for l in self.virsh(self.h3, "dominfo", "d03")
                    .splitlines() if ":" in l)
        info = {k.strip(): v.strip() for k, v in info.items()}
        self.assertEqual(info["Name"], "d03")
        self.assertEqual(info["State"], "shut off")
        self.assertEqual(info["Persistent"], "yes")
        self.assertEqual(info["Max memory"], "262144 KiB")
        blk = self.virsh(self.h3, "domblklist", "d03").split()
        path = self.vol_path(self.h3, "d03.qcow2")
        self.assertIn(path, blk)
        self.assert_preallocated(path, 20 * GiB)
        # host1 has its own d03; host2 has none
        self.assertNotEqual(self.virsh(self.h1, "domuuid", "d03"),
                            self.virsh(self.h3, "domuuid", "d03"))
        self.assertNotEqual(self.virsh(self.h2, "dominfo", "d03", check=False).returncode, 0)

    def make_base(self):
        raw = os.path.join(self.src, "base.raw")
        qcow = os.path.join(self.src, "base.qcow2")
        if not os.path.exists(qcow):
            with open(raw, "wb") as f:
                f.truncate(BASE_SIZE)
                for off, byte in PATTERNS.items():
                    f.seek(off)
                    f.write(byte * MiB)
            run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow])
        return qcow

    def test_import_and_base(self):
        qcow = self.make_base()
        for host in (self.h1, self.h3):
            self.drop(host, "ov04", vols=("ov04.qcow2", "b04.qcow2"))
            self.ok(self.timed("import 64M qcow2", host, "import", qcow, "--pool", POOL,
                               "--name", "b04.qcow2"))
            bpath = self.vol_path(host, "b04.qcow2")
            r = run(["cmp", qcow, bpath], check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

            clog = os.path.join(self.tmp, "client-%s.log" % host["name"])
            self.ok(self.timed("provision --base", host, "provision", "--pool", POOL,
                               "--name", "ov04", "--base", "b04.qcow2", "--no-define",
                               env=self.client_log_env(clog)))
            # the base header always comes by a download stream (over unix
            # too: the tool never opens a base's file)
            self.assertGreaterEqual(self.downloads(clog), 1, host["transport"])
            path = self.vol_path(host, "ov04.qcow2")
            chain = qemuimg.info_chain(path)
            self.assertEqual(chain[0]["backing-filename"], bpath, chain)
            self.assertEqual(chain[0]["backing-filename-format"], "qcow2", chain)
            self.assertTrue(chain[0]["format-specific"]["data"]["extended-l2"], chain)
            self.assertEqual(chain[1]["filename"], bpath, chain)
            self.assert_preallocated(path, BASE_SIZE, overlay=True)
            r = run(["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", path, bpath],
                    check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_info_remote(self):
        qcow = self.make_base()
        for host in (self.h1, self.h3):
            self.drop(host, "i05", vols=("i05.qcow2", "i05b.qcow2"))
            self.ok(self.vp(host, "import", qcow, "--pool", POOL, "--name", "i05b.qcow2"))
            self.ok(self.vp(host, "provision", "--pool", POOL, "--name", "i05",
                            "--base", "i05b.qcow2", "--no-define"))
            for vol in ("i05b.qcow2", "i05.qcow2"):
                clog = os.path.join(self.tmp, "client-info-%s-%s.log" % (host["name"], vol))
                r = self.ok(self.timed("info --pool --volume", host, "--json", "info",
                                       "--pool", POOL, "--volume", vol,
                                       env=self.client_log_env(clog)))
                # over ssh the volume comes by a download stream; over unix
                # the file is read in place
                self.assertEqual(self.downloads(clog), 1 if host is self.h3 else 0)
                remote = json.loads(r.stdout)
                path = self.vol_path(host, vol)
                argv = [self.vp_bin, "--json", "info", path]
                lr = run(argv, check=False)
                lr.argv = argv
                local = json.loads(self.ok(lr).stdout)
                if vol == "i05.qcow2":
                    self.assertIn(path.replace("i05.", "i05b."), json.dumps(local))
                for d in (remote, local):
                    d.pop("disk-size", None)
                self.assertEqual(remote, local)

    def test_isolation(self):
        self.drop(self.h2, "iso06")
        before = {h["name"]: self.state(h) for h in (self.h1, self.h3)}
        self.ok(self.vp(self.h2, "provision", "--pool", POOL, "--name", "iso06",
                        "--size", "1G", "--no-define"))
        self.assertIn("iso06.qcow2", self.vols(self.h2))
        for h in (self.h1, self.h3):
            self.assertNotIn("iso06.qcow2", self.vols(h))
            r = self.virsh(h, "vol-info", "--pool", POOL, "iso06.qcow2", check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertFalse(os.path.exists(os.path.join(h["images"], "iso06.qcow2")))
            self.assertEqual(self.state(h), before[h["name"]])
        self.assertTrue(os.path.exists(os.path.join(self.h2["images"], "iso06.qcow2")))
        # distinct users, daemons, pool paths
        uids = set()
        for h in self.hosts:
            st = os.stat("/proc/%d" % h["daemon_pid"])
            self.assertEqual(st.st_uid, pwd.getpwnam(h["user"]).pw_uid, h)
            uids.add(st.st_uid)
            x = self.virsh(h, "pool-dumpxml", POOL)
            self.assertIn("<path>%s</path>" % h["images"], x)
        self.assertEqual(len(uids), 3)
        self.assertEqual(len({h["images"] for h in self.hosts}), 3)
        self.assertEqual(len({h["user"] for h in self.hosts}), 3)

    def test_failure_leaves_state(self):
        host = self.h3
        self.drop(host, "t07")
        self.ok(self.vp(host, "provision", "--pool", POOL, "--name", "t07",
                        "--size", "1G", "--no-define"))
        others = {h["name"]: self.state(h) for h in (self.h1, self.h2)}
        before = self.state(host)
        r = self.timed("provision (name taken)", host, "provision", "--pool", POOL,
                       "--name", "t07", "--size", "2G", "--no-define")
        self.assertEqual(r.returncode, 1, self.desc(r))
        self.fails(r, "t07.qcow2", "already exists")
        self.assertEqual(self.state(host), before)

        # a domain of that name exists (no volume): nothing is created
        self.drop(host, "t07d")
        xml = os.path.join(self.tmp, "t07d.xml")
        with open(xml, "w") as f:
            f.write("<domain type='qemu'><name>t07d</name><memory unit='MiB'>64</memory>"
                    "<os><type arch='x86_64'>hvm</type></os></domain>")
        self.virsh(host, "define", xml)
        before = self.state(host)
        r = self.timed("provision (domain taken)", host, "provision", "--pool", POOL,
                       "--name", "t07d", "--size", "1G", *self.DOMAIN)
        self.assertEqual(r.returncode, 1, self.desc(r))
        self.fails(r, "t07d")
        self.assertEqual(self.state(host), before)
        self.assertNotIn("t07d.qcow2", self.vols(host))
        for h in (self.h1, self.h2):
            self.assertEqual(self.state(h), others[h["name"]])

    def write_lab(self, lab, hosts, size, guest, count=None):
        """TMP/LAB.yaml: lab LAB on HOSTS (name -> host), the define-only
        guest GUEST of SIZE in the pool "default" (GUEST-1 .. GUEST-COUNT
        with a count); its path."""
        path = os.path.join(self.tmp, lab + ".yaml")
        text = "lab: %s\nhosts:\n" % lab
        text += "".join("  %s: %s\n" % (k, json.dumps(h["uri"])) for k, h in hosts.items())
        text += ("defaults:\n  pool: %s\n  size: %s\n  virt-type: qemu\n  memory: 256M\n"
                 "  network: none\n  import: true\nguests:\n  - name: %s\n"
                 % (POOL, size, guest))
        if count is not None:
            text += "    count: %d\n" % count
        with open(path, "w") as f:
            f.write(text)
        return path

    def pool_back(self, host):
        """Cleanup: the pool "default" as hosts.sh defines it."""
        def do():
            if POOL not in self.virsh(host, "pool-list", "--all", "--name").split():
                self.virsh(host, "pool-define-as", POOL, "dir", "--target", host["images"])
            if "running" not in self.virsh(host, "pool-info", POOL):
                self.virsh(host, "pool-start", POOL)
            self.virsh(host, "pool-autostart", POOL)
        self.addCleanup(do)

    def test_missing_default_pool(self):
        host = self.h3
        self.pool_back(host)
        self.virsh(host, "pool-destroy", POOL)
        self.virsh(host, "pool-undefine", POOL)
        # The client's data dir, writable by the far side's user: before the
        # fix, the tool had that daemon make its pool here.
        client = os.path.join(self.tmp, "client-data")
        os.mkdir(client)
        os.chmod(client, 0o777)
        env = H.child_env({"XDG_DATA_HOME": client})
        before = self.state_without_pool(host)
        want = ("'%s'" % POOL, "does not exist", "session daemon on another machine",
                "ssh -p %d -i %s -o StrictHostKeyChecking=no %s@127.0.0.1 "
                % (self.port, self.key, host["user"]),
                "pool-define-as default dir --target")
        runs = [("provision", "--pool", POOL, "--name", "m09", "--size", "1G",
                 *self.DOMAIN),
                ("provision", "--pool", POOL, "--name", "m09", "--size", "1G",
                 "--no-define", "--dry-run"),
                ("import", self.make_base(), "--pool", POOL, "--name", "m09b.qcow2")]
        lines = []
        for args in runs:
            r = self.vp(host, *args, env=env)
            self.assertEqual(r.returncode, 1, self.desc(r))
            lines.append(self.fails(r, *want))
            self.assertEqual(self.state_without_pool(host), before, self.desc(r))
            self.assertEqual(os.listdir(client), [], self.desc(r))
        self.assertEqual(len(set(lines)), 1, lines)
        # a lab: the guest fails with that line, nothing else happens
        lab = self.write_lab("m09", {"h3": host}, "1G", "m09l")
        argv = [self.vp_bin, "--json", "apply", lab]
        r = run(argv, check=False, env=env)
        r.argv = argv
        self.assertEqual(r.returncode, 1, self.desc(r))
        g = json.loads(r.stdout)["guests"]
        self.assertEqual([(x["name"], x["action"]) for x in g], [("m09l", "failed")], g)
        for w in want:
            self.assertIn(w, g[0]["error"])
        self.assertEqual(self.state_without_pool(host), before)
        self.assertEqual(os.listdir(client), [])
        # the command as printed creates the pool where that user keeps data
        cmd = lines[0].split("create the pool there first: ", 1)[1]
        r = run(["sh", "-c", cmd], check=False)
        self.assertEqual(r.returncode, 0, "%s\n%s%s" % (cmd, r.stdout, r.stderr))
        self.assertIn("<path>%s</path>" % host["images"],
                      self.virsh(host, "pool-dumpxml", POOL))
        self.drop(host, "m09")
        r = self.ok(self.vp(host, "provision", "--pool", POOL, "--name", "m09",
                            "--size", "1G", "--no-define", env=env))
        self.assertNotIn("Created storage pool", r.stdout)
        self.assertIn("m09.qcow2", self.vols(host))
        self.assertEqual(os.listdir(client), [])

    def state_without_pool(self, host):
        """Pools, domains and files of HOST (whose pool "default" is gone)."""
        return {"pools": self.virsh(host, "pool-list", "--all", "--name").split(),
                "domains": self.virsh(host, "list", "--all", "--name").split(),
                "files": sorted(os.listdir(host["images"]))}

    # ------------------------------------------------------------------
    # a daemon that answers late

    STALL = 30   # s: longer than the old keepalive (20 s), shorter than 60 s

    def stalled_run(self, argv, pids, trigger):
        """Runs ARGV in the background (stderr read line by line, with the
        time of each); SIGSTOPs PIDS at the first line holding TRIGGER (at
        once when None), SIGCONTs them STALL s later (and at cleanup in any
        case).  Returns (exit status, stdout, [(seconds since the stop,
        line)])."""
        def cont():
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.addCleanup(cont)
        t0 = None
        if trigger is None:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.vp_env)
        lines, out, seen = [], [], threading.Event()

        def reader():
            for line in p.stderr:
                lines.append((time.monotonic(), line.rstrip("\n")))
                if trigger is not None and trigger in line:
                    seen.set()
        threads = [threading.Thread(target=reader, daemon=True),
                   threading.Thread(target=lambda: out.append(p.stdout.read()),
                                    daemon=True)]
        for t in threads:
            t.start()
        if trigger is not None:
            if not seen.wait(120):
                p.kill()
                self.fail("no %r within 120 s: %s" % (trigger, lines))
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            t0 = time.monotonic()
        time.sleep(self.STALL)
        cont()
        rc = p.wait(timeout=300)
        for t in threads:
            t.join(10)
        p.stdout.close()
        p.stderr.close()
        return rc, "".join(out), [(round(at - t0, 1), l) for at, l in lines]

    def assert_waited(self, rc, out, lines, waiting, answered):
        """Success, with a step line holding WAITING while the daemon was
        stopped and one holding ANSWERED once it ran again."""
        text = "\n".join("%6.1f %s" % x for x in lines)
        self.assertEqual(rc, 0, "exit %d\n%s\n%s" % (rc, out, text))
        said = [l for _, l in lines]
        self.assertTrue([l for l in said if waiting in l and "after 10 s" in l], text)
        self.assertTrue([l for l in said if answered in l], text)
        log("stalled %d s:\n%s" % (self.STALL, text))

    def test_slow_daemon_provision(self):
        host = self.h3
        self.drop(host, "w10")
        argv = [self.vp_bin, "-c", host["uri"], "-v", "provision", "--pool", POOL,
                "--name", "w10", "--size", "8T", *self.DOMAIN]
        rc, out, lines = self.stalled_run(argv, [host["daemon_pid"]],
                                          "creating volume 'w10.qcow2'")
        self.assert_waited(rc, out, lines, "still waiting for '%s'" % host["uri"],
                           "for '%s', which answered" % host["uri"])
        self.assertIn("Defined domain 'w10'", out)
        self.assertIn("w10.qcow2", self.vols(host))

    def test_slow_daemon_apply(self):
        lab = self.write_lab("w11", {"h1": self.h1, "h3": self.h3}, "8T", "w11", 4)
        argv = [self.vp_bin, "-v", "--json", "apply", lab]
        self.addCleanup(run, [self.vp_bin, "destroy", lab], check=False, env=self.vp_env)
        # mid-run: both daemons stop once the first guest is being made
        rc, out, lines = self.stalled_run(
            argv, [self.h1["daemon_pid"], self.h3["daemon_pid"]],
            "recording domain 'w11-")
        self.assert_waited(rc, out, lines, "still waiting for host 'h",
                           "', which answered")
        for h in ("h1", "h3"):
            self.assertTrue([l for _, l in lines if "still waiting for host '%s'" % h in l],
                            lines)
        doc = json.loads(out)
        self.assertEqual({g["name"]: g["action"] for g in doc["guests"]},
                         {"w11-%d" % i: "create" for i in range(1, 5)})
        # a first connection: h1's daemon stopped before the run starts
        rc, out, lines = self.stalled_run(argv, [self.h1["daemon_pid"]], None)
        self.assert_waited(rc, out, lines, "still waiting for host 'h1'",
                           "for host 'h1', which answered")
        self.assertEqual({g["action"] for g in json.loads(out)["guests"]}, {"keep"})

    def test_timings(self):
        """Round trips: 5 runs each of virsh uri and a small provision."""
        for host in (self.h1, self.h3):
            for i in range(5):
                t = time.monotonic()
                self.virsh(host, "uri")
                self.times.append(("virsh uri", host["transport"], time.monotonic() - t))
                name = "t08-%d" % i
                self.drop(host, name)
                self.ok(self.timed("provision 1G --no-define", host, "provision",
                                   "--pool", POOL, "--name", name, "--size", "1G",
                                   "--no-define"))


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
