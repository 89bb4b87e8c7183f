#!/usr/bin/env python3
"""Benchmark `virt-provision` (provision) against virt-install and libvirt's qemu-img path.

This is a benchmark, not a test: it prints figures, ratios and PASS/MISS verdicts
against the project's targets, and exits 0 whatever the figures are. It exits 1
only when a command failed (or a required program is missing), 2 on bad usage.

It starts its own isolated session libvirtd (tests/libvirt/session-daemon.sh) in a
short scratch directory, creates the pool `default` there (untimed), and measures,
one at a time against that same daemon:

  guest (20G)   virt-provision  `virt-provision -c URI --pool default --name X --size 20G
                                --import --virt-type qemu --network none --graphics none
                                --memory 512 --vcpus 1`            (defines, does not start)
                virt-install    `virt-install --connect URI --name Y --memory 512 --vcpus 1
                                --disk pool=default,size=20,format=qcow2 --import
                                --osinfo generic --virt-type qemu --noautoconsole
                                --noreboot --graphics none --network none`
                                (with --import, --noreboot makes virt-install 4.1 only
                                defineXML() the guest; checked after every run)
  volume (1T)   virt-provision  `virt-provision -c URI --pool default --name Z --size 1T
                                --no-define`
                virsh           `virsh -c URI vol-create-as default W.qcow2 1T --format qcow2
                                --allocation 0 --prealloc-metadata`
                virsh-xml       `virsh -c URI vol-create default VOL.xml --prealloc-metadata`
                                with <compat>1.1</compat> (same image options as ours)

Best wall-clock of --repeat runs (default 5); domains and volumes are removed
between runs, untimed. Also reported per target: the time an fsync() of the new
volume file takes right after the command returned (libvirt's upload stream does
not sync; qemu-img does), `qemu-img info`/`check` of the volume, and the exact
qemu-img command lines libvirt ran (from the daemon's debug log). See README.md.

Python 3 standard library only.
"""

import argparse
import json
import os
import platform
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import (  # noqa: E402 (after the sys.path change)
    add_json_option, add_vp_option, best_run, CommandFailed, file_figures, floor_line,
    fmt_x, fs_of, fsync_seconds, human, parse_args, parse_size, ratio, reporters, rotated,
    run, run_measured, summarize, tool_version, Verdicts, vp_binary, write_json, unwind_on_signals)

SESSION_DAEMON = os.path.join(HERE, "..", "tests", "libvirt", "session-daemon.sh")

# Targets the verdict lines judge.
TARGET_GUEST_SPEEDUP = 10.0    # virt-install / virt-provision, define-only 20G guest, at least
TARGET_VOLUME_SPEEDUP = 10.0   # virsh vol-create-as / virt-provision, 1T volume, at least

POOL = "default"

# Commands are timed by benchlib.run_measured(): a minimal interpreter forks, execs
# and reports wait4()'s figures for that child alone, as in bench-image.py (there
# for the RSS floor; here it also keeps this script's own start-up out of the times).


class Bench:
    def __init__(self, args, say, progress):
        self.args = args
        self.say = say
        self.progress = progress
        self.env = {}
        self.dir = None
        self.failed = []
        self.cmdlog = None

    # ---- daemon ----------------------------------------------------------
    def start_daemon(self):
        self.dir = tempfile.mkdtemp(prefix="vpb.", dir=self.args.dir)
        self.progress("  starting session libvirtd in %s ..." % self.dir)
        p = run([SESSION_DAEMON, "start", self.dir], timeout=120)
        for line in p.stdout.splitlines():
            for word in shlex.split(line):
                key, _, value = word.partition("=")
                self.env[key] = value
        for key in ("VP_TEST_URI", "VP_TEST_USER", "VP_TEST_IMAGES"):
            if key not in self.env:
                raise CommandFailed("session-daemon.sh printed no %s: %r" % (key, p.stdout))
        self.uri = self.env["VP_TEST_URI"]
        self.images = self.env["VP_TEST_IMAGES"]

    def stop_daemon(self):
        if self.dir is None:
            return
        action = "stop" if self.args.keep else "purge"
        p = run([SESSION_DAEMON, action, self.dir], timeout=120, check=False)
        if p.returncode != 0:
            print("bench-provision: session-daemon.sh %s %s failed: %s"
                  % (action, self.dir, p.stderr.strip()), file=sys.stderr)
        elif self.args.keep:
            self.progress("  daemon stopped; kept %s" % self.dir)

    def virsh(self, *words, check=True):
        return run([self.args.virsh, "-q", "-c", self.uri] + list(words), check=check)

    def as_daemon_user(self, argv):
        if os.geteuid() != 0:
            return argv
        user = self.env["VP_TEST_USER"]
        gid = pwd.getpwnam(user).pw_gid
        return ["setpriv", "--reuid=" + user, "--regid=%d" % gid, "--init-groups", "--",
                "env", "HOME=%s/home" % self.dir,
                "XDG_RUNTIME_DIR=%s/run" % self.dir] + argv

    def enable_command_log(self):
        """Have the daemon log every command it runs (best effort, untimed)."""
        virt_admin = shutil.which("virt-admin")
        if not virt_admin:
            return "virt-admin not found"
        adm = "libvirtd:///session?socket=%s/run/libvirt/libvirt-admin-sock" % self.dir
        log = os.path.join(self.dir, "home", "vpb-commands.log")
        try:
            run(self.as_daemon_user([virt_admin, "-c", adm, "daemon-log-filters",
                                     "1:util.command"]))
            run(self.as_daemon_user([virt_admin, "-c", adm, "daemon-log-outputs",
                                     "1:file:%s 3:stderr" % log]))
        except CommandFailed as e:
            return str(e)
        self.cmdlog = log
        return None

    def commands_logged(self):
        """Commands the daemon ran so far (from its debug log), in order."""
        if not self.cmdlog:
            return []
        try:
            with open(self.cmdlog, errors="replace") as f:
                return [line.split("About to run ", 1)[1].strip()
                        for line in f if "About to run " in line]
        except OSError:
            return []

    def make_pool(self):
        # Untimed, and before any tool runs: a fresh session daemon has no pool.
        # (virt-provision would create 'default' itself, but at a path computed on
        # the client side, which is wrong for a daemon of another user; see README.)
        self.virsh("pool-define-as", POOL, "dir", "--target", self.images)
        self.virsh("pool-start", POOL)

    def remove(self, domain, volume):
        """Undefine domain and delete volume if they exist (untimed)."""
        if domain:
            p = self.virsh("domstate", domain, check=False)
            if p.returncode == 0:
                if p.stdout.strip() not in ("shut off", ""):
                    self.virsh("destroy", domain)
                self.virsh("undefine", domain)
        if not volume:
            return
        p = self.virsh("vol-info", "--pool", POOL, volume, check=False)
        if p.returncode == 0:
            self.virsh("vol-delete", "--pool", POOL, volume)
        path = os.path.join(self.images, volume)
        if os.path.exists(path):
            raise CommandFailed("%s still exists after vol-delete" % path)

    # ---- one target --------------------------------------------------------
    def volume_facts(self, path):
        facts = file_figures(path)
        info = json.loads(run([self.args.qemu_img, "info", "--output=json", path]).stdout)
        spec = info.get("format-specific", {}).get("data", {})
        facts.update(format=info.get("format"), virtual_size=info.get("virtual-size"),
                     cluster_size=info.get("cluster-size"), compat=spec.get("compat"),
                     lazy_refcounts=spec.get("lazy-refcounts", False),
                     refcount_bits=spec.get("refcount-bits"))
        # qemu-img check exits 0 clean, 2 corrupt, 3 leaks.  Its stderr is not
        # captured: on a broken image it prints one line per bad cluster (GiBs).
        try:
            p = subprocess.run([self.args.qemu_img, "check", "--output=json", path],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            raise CommandFailed("qemu-img check %s: %s" % (path, e))
        try:
            chk = json.loads(p.stdout)
        except ValueError:
            chk = {}
        facts.update(check_exit=p.returncode, check_errors=chk.get("check-errors"),
                     leaks=chk.get("leaks", 0),
                     allocated_clusters=chk.get("allocated-clusters"),
                     total_clusters=chk.get("total-clusters"),
                     image_end_offset=chk.get("image-end-offset"))
        # What the file says about its preallocation.
        if facts["allocated_bytes"] >= (facts["virtual_size"] or 0):
            prealloc = "falloc/full"
        elif facts["total_clusters"] and facts["allocated_clusters"] == facts["total_clusters"]:
            prealloc = "metadata"
        elif facts["allocated_clusters"] == 0:
            prealloc = "off"
        else:
            prealloc = "partial"
        facts["preallocation"] = prealloc
        return facts

    def measure(self, part, targets):
        """targets: list of (label, argv, domain or None, volume). Returns results dict."""
        args = self.args
        runs = {t[0]: [] for t in targets}
        fsyncs = {t[0]: [] for t in targets}
        facts = {}
        states = {}
        cmds = {}
        broken = set()
        # One untimed warm-up of each command: the daemon's first-call costs
        # (capabilities probing, caches) land on neither tool.
        for label, argv, domain, volume in targets:
            self.progress("  %s %s warm-up ..." % (part, label))
            try:
                self.remove(domain, volume)
                run(argv)
                self.remove(domain, volume)
            except CommandFailed as e:
                self.failed.append("%s %s warm-up: %s" % (part, label, e))
                print("bench-provision: %s %s: %s" % (part, label, e), file=sys.stderr)
                broken.add(label)
        # Targets interleave and their order rotates with each repetition.
        for rep, (label, argv, domain, volume) in rotated(targets, args.repeat):
            if label in broken:
                continue
            path = os.path.join(self.images, volume) if volume else None
            self.progress("  %s %s run %d/%d ..." % (part, label, rep + 1, args.repeat))
            try:
                self.remove(domain, volume)
                os.sync()  # untimed: no writeback of earlier runs left behind
                before = len(self.commands_logged())
                r = run_measured(argv, self.dir)
                fsyncs[label].append(fsync_seconds(path) if path else 0.0)
                runs[label].append(r)
                if label not in cmds:
                    cmds[label] = self.commands_logged()[before:]
                if domain:
                    states.setdefault(label, set()).add(
                        self.virsh("domstate", domain).stdout.strip())
                if path and label not in facts:
                    facts[label] = self.volume_facts(path)
                    if facts[label]["check_exit"] != 0:
                        # A broken image makes the timing meaningless.
                        raise CommandFailed(
                            "the volume it made fails `qemu-img check` (exit %d, "
                            "file length %d): not timed further"
                            % (facts[label]["check_exit"], facts[label]["file_length"]))
                self.remove(domain, volume)
            except (CommandFailed, OSError, ValueError) as e:
                self.failed.append("%s %s: %s" % (part, label, e))
                print("bench-provision: %s %s: %s" % (part, label, e), file=sys.stderr)
                broken.add(label)
                try:
                    self.remove(domain, volume)
                except CommandFailed:
                    pass
        results = {}
        for label, argv, domain, volume in targets:
            if not runs[label] or label in broken:
                continue
            walls = [r[0] for r in runs[label]]
            best_i = min(range(len(walls)), key=lambda i: walls[i])
            durable = [w + f for w, f in zip(walls, fsyncs[label])]
            results[label] = dict(
                part=part, target=label, argv=argv, **summarize(runs[label]),
                fsync_after_s=fsyncs[label], fsync_after_best_s=fsyncs[label][best_i],
                best_durable_s=min(durable),
                domain_states=sorted(states.get(label, [])),
                daemon_commands=cmds.get(label, []),
                volume=facts.get(label))
        return results


def main():
    ap = argparse.ArgumentParser(
        description="Compare `virt-provision` with virt-install (define-only 20G guest) and "
                    "with libvirt's qemu-img path (1T metadata-preallocated volume), against "
                    "one private session libvirtd. Prints figures; asserts nothing.")
    add_vp_option(ap)
    ap.add_argument("--virt-install", default="virt-install",
                    help="virt-install binary (default: from PATH; Debian package virtinst)")
    ap.add_argument("--virsh", default="virsh", help="virsh binary (default: from PATH)")
    ap.add_argument("--qemu-img", default="qemu-img", help="qemu-img binary (default: from PATH)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs per target; the best wall-clock counts (default: 5)")
    ap.add_argument("--guest-size", default="20G",
                    help="disk size of the define-only guest (default: 20G)")
    ap.add_argument("--volume-size", default="1T",
                    help="size of the bare volume (default: 1T)")
    ap.add_argument("--only", choices=("guest", "volume"),
                    help="measure only one part (default: both)")
    ap.add_argument("--dir", default="/tmp",
                    help="parent of the daemon's scratch directory (default: /tmp; keep it "
                         "short: unix socket paths live under it)")
    ap.add_argument("--keep", action="store_true",
                    help="stop the daemon at the end but keep its directory (logs)")
    add_json_option(ap)
    args = parse_args(ap)

    try:
        guest_bytes = parse_size(args.guest_size)
        volume_bytes = parse_size(args.volume_size)
    except argparse.ArgumentTypeError as e:
        ap.error(str(e))
    vp = vp_binary(ap, args.vp, "bench-provision")
    if vp is None:
        return 1
    for attr, pkg in (("virsh", "libvirt-clients"), ("qemu_img", "qemu-utils"),
                      ("virt_install", "virtinst")):
        if args.only == "volume" and attr == "virt_install":
            continue
        found = shutil.which(getattr(args, attr))
        if not found:
            print("bench-provision: %s not found (Debian package %s)"
                  % (getattr(args, attr), pkg), file=sys.stderr)
            return 1
        setattr(args, attr, found)
    if not os.access(SESSION_DAEMON, os.X_OK):
        print("bench-provision: %s not found" % SESSION_DAEMON, file=sys.stderr)
        return 1

    say, progress = reporters(args.json)

    unwind_on_signals()

    b = Bench(args, say, progress)
    results = {}
    meta = {}
    try:
        b.start_daemon()
        mnt, fstype = fs_of(b.images)
        ver = b.virsh("version").stdout
        meta = {
            "daemon_dir": b.dir, "uri": b.uri, "images": b.images,
            "mount_point": mnt, "fs_type": fstype,
            "kernel": platform.release(), "cpus": os.cpu_count(), "repeat": args.repeat,
            "virt_provision": vp,
            "virt_provision_version": tool_version([vp, "--version"]),
            "virt_install_version": tool_version([args.virt_install, "--version"])
            if args.only != "volume" else None,
            "libvirt_version": " ".join(l.split(":", 1)[1].strip() for l in ver.splitlines()
                                        if l.startswith("Using library")),
            "hypervisor": " ".join(l.split(":", 1)[1].strip() for l in ver.splitlines()
                                   if l.startswith("Running hypervisor")),
            "qemu_img_version": tool_version([args.qemu_img, "--version"]),
            "cache": "warm: page cache not dropped; one untimed warm-up per command; "
                     "previous domain/volume removed and sync(2) called (untimed) before "
                     "every run",
        }
        b.make_pool()
        note = b.enable_command_log()
        if note:
            progress("  note: cannot log the daemon's commands: %s" % note)
        floor = best_run(["/bin/true"], b.dir)
        meta["spawn_floor"] = {"wall_s": floor[0], "peak_rss_kib": floor[1]}
        # What virt-provision costs before it talks to libvirt: exec and dynamic
        # linking of the program that links libvirt (`provision --help` goes through
        # the libvirt-free front program's exec of virt-provision-libvirt, where
        # there is one; `--version` alone would not).
        startup_argv = [vp, "provision", "--help"]
        startup = best_run(startup_argv, b.dir)
        meta["vp_startup"] = {"argv": startup_argv, "wall_s": startup[0],
                              "peak_rss_kib": startup[1]}
        meta["loadavg_start"] = os.getloadavg()

        say("bench-provision: session libvirtd in %s (%s on %s), kernel %s, %d CPUs, best of %d"
            % (b.dir, fstype, mnt, meta["kernel"], meta["cpus"] or 0, args.repeat))
        say("  virt-provision: %s (%s)" % (vp, meta["virt_provision_version"]))
        if meta["virt_install_version"]:
            say("  virt-install: %s (%s)" % (args.virt_install, meta["virt_install_version"]))
        say("  libvirt %s, %s; %s" % (meta["libvirt_version"], meta["hypervisor"],
                                      meta["qemu_img_version"]))
        say(floor_line(floor))
        say("  virt-provision start-up (provision --help, same runner): %.4f s, %d KiB peak RSS"
            % (startup[0], startup[1]))
        say("  load average at start: %.2f %.2f %.2f" % meta["loadavg_start"])
        if meta["loadavg_start"][0] > 1.0:
            say("  warning: the machine is busy (load %.2f on %d CPUs): expect noise"
                % (meta["loadavg_start"][0], meta["cpus"] or 0))

        if args.only != "volume":
            gib = guest_bytes / (1 << 30)
            targets = [
                ("virt-provision", [vp, "-c", b.uri, "--pool", POOL, "--name", "vpb-vp",
                                    "--size", args.guest_size, "--import", "--virt-type", "qemu",
                                    "--network", "none", "--graphics", "none",
                                    "--memory", "512", "--vcpus", "1"],
                 "vpb-vp", "vpb-vp.qcow2"),
                ("virt-install", [args.virt_install, "--connect", b.uri, "--name", "vpb-vi",
                                  "--memory", "512", "--vcpus", "1",
                                  "--disk", "pool=%s,size=%s,format=qcow2" % (POOL, "%g" % gib),
                                  "--import", "--osinfo", "generic", "--virt-type", "qemu",
                                  "--noautoconsole", "--noreboot", "--graphics", "none",
                                  "--network", "none"],
                 "vpb-vi", "vpb-vi.qcow2"),
            ]
            # Floor: what defining the very same domain XML costs any libvirt client
            # (virsh start-up, connect, the daemon's defineXML), no volume.
            xml = run([a if a != "vpb-vp" else "vpb-def" for a in targets[0][1]]
                      + ["--print-xml"]).stdout
            def_path = os.path.join(b.dir, "vpb-def.xml")
            with open(def_path, "w") as f:
                f.write(xml)
            targets.append(("virsh define", [args.virsh, "-q", "-c", b.uri, "define", def_path],
                            "vpb-def", None))
            results.update({("guest", k): v for k, v in b.measure("guest", targets).items()})

        if args.only != "guest":
            xml_path = os.path.join(b.dir, "vpb-xml.xml")
            with open(xml_path, "w") as f:
                f.write("<volume><name>vpb-xml.qcow2</name>"
                        "<capacity unit='bytes'>%d</capacity><allocation>0</allocation>"
                        "<target><format type='qcow2'/><compat>1.1</compat></target></volume>\n"
                        % volume_bytes)
            targets = [
                ("virt-provision", [vp, "-c", b.uri, "--pool", POOL, "--name", "vpb-vol",
                                    "--size", args.volume_size, "--no-define"],
                 None, "vpb-vol.qcow2"),
                ("virsh", [args.virsh, "-q", "-c", b.uri, "vol-create-as", POOL,
                           "vpb-virsh.qcow2", args.volume_size, "--format", "qcow2",
                           "--allocation", "0", "--prealloc-metadata"],
                 None, "vpb-virsh.qcow2"),
                ("virsh-xml", [args.virsh, "-q", "-c", b.uri, "vol-create", POOL, xml_path,
                               "--prealloc-metadata"],
                 None, "vpb-xml.qcow2"),
            ]
            results.update({("volume", k): v for k, v in b.measure("volume", targets).items()})
    except KeyboardInterrupt as e:
        print("bench-provision: interrupted (%s)" % (e or "Ctrl-C"), file=sys.stderr)
        return 1
    except (CommandFailed, OSError) as e:
        print("bench-provision: %s" % e, file=sys.stderr)
        return 1
    finally:
        # Also on any other exception: never leave the daemon running.
        b.stop_daemon()

    # ---- report ----
    meta["loadavg_end"] = os.getloadavg()
    sizes = {"guest": args.guest_size, "volume": args.volume_size}
    say("")
    say("%-11s %-15s %8s %8s %8s %7s %7s %10s %9s  %s"
        % ("part", "target", "best s", "median s", "worst s", "user s", "sys s", "peak RSS",
           "fsync s", "domain state"))
    for (part, label), r in results.items():
        say("%-11s %-15s %8.3f %8.3f %8.3f %7.3f %7.3f %6d KiB %9.3f  %s"
            % ("%s %s" % (part, sizes[part]), label, r["best_s"], r["median_s"], r["worst_s"],
               r["best_user_s"], r["best_sys_s"], r["peak_rss_kib"], r["fsync_after_best_s"],
               "/".join(r["domain_states"]) or "-"))
    say("  (user/sys: the client process only; the daemon and the qemu-img it runs are not "
        "in them. fsync s: an fsync() of the new volume file right after the best run "
        "returned)")

    say("")
    say("%-11s %-15s %15s %6s %8s %7s %10s %10s %9s %10s  %s"
        % ("part", "target", "file length", "compat", "lazy-ref", "cluster", "allocated",
           "data", "check", "clusters", "preallocation"))
    for (part, label), r in results.items():
        v = r["volume"]
        if not v:
            continue
        say("%-11s %-15s %15d %6s %8s %7s %10s %10s %9s %10s  %s"
            % ("%s %s" % (part, sizes[part]), label, v["file_length"], v["compat"],
               "yes" if v["lazy_refcounts"] else "no", human(v["cluster_size"] or 0),
               human(v["allocated_bytes"]), human(v["data_bytes"]),
               "clean" if v["check_exit"] == 0 else "exit %d" % v["check_exit"],
               "%s/%s" % (v["allocated_clusters"], v["total_clusters"]), v["preallocation"]))
    say("  (allocated: st_blocks*512; data: SEEK_DATA/SEEK_HOLE extents; clusters: "
        "qemu-img check allocated/total)")

    logged = [(k, r["daemon_commands"]) for k, r in results.items() if r["daemon_commands"]]
    if logged:
        say("")
        say("commands the daemon ran (its util.command debug log):")
        for (part, label), cmds in logged:
            for c in cmds:
                say("  %-6s %-15s %s" % (part, label, c))
    quiet = [k for k, r in results.items() if not r["daemon_commands"]]
    if quiet and b.cmdlog:
        say("  (none for: %s)" % ", ".join("%s %s" % k for k in quiet))

    ratios = []
    say("")
    say("%-11s %-34s %10s %10s %14s" % ("part", "ratio", "best/best", "med/med",
                                        "+fsync, best"))
    for part, peer in (("guest", "virt-install"), ("volume", "virsh"), ("volume", "virsh-xml")):
        v = results.get((part, "virt-provision"))
        p = results.get((part, peer))
        if v is None or p is None:
            continue
        row = {"part": part, "size": sizes[part], "peer": peer,
               "peer_over_vp": ratio(p, v, "best_s"),
               "peer_over_vp_median": ratio(p, v, "median_s"),
               "peer_over_vp_durable": ratio(p, v, "best_durable_s")}
        ratios.append(row)
        say("%-11s %-34s %10s %10s %14s" % (
            "%s %s" % (part, sizes[part]), "%s / virt-provision" % peer,
            fmt_x(row["peer_over_vp"]), fmt_x(row["peer_over_vp_median"]),
            fmt_x(row["peer_over_vp_durable"])))
    say("  (+fsync: each run's time plus the fsync() of its volume right after, best of those)")
    v, p, d = (results.get(("guest", k)) for k in ("virt-provision", "virt-install",
                                                    "virsh define"))
    if v and d:
        say("guest floor: `virsh define` of virt-provision's own domain XML (no volume) = %.3f s "
            "best; virt-provision = floor + %.3f s%s"
            % (d["best_s"], v["best_s"] - d["best_s"],
               "; virt-install = floor + %.3f s; 10x needs virt-provision <= %.3f s"
               % (p["best_s"] - d["best_s"], p["best_s"] / TARGET_GUEST_SPEEDUP) if p else ""))
    say("load average at start %.2f, at end %.2f" % (meta["loadavg_start"][0],
                                                      meta["loadavg_end"][0]))

    verdicts = Verdicts(say)  # verdicts(name, ok, text) prints and records one

    say("")
    for name, part, peer, target in (
            ("guest-speedup", "guest", "virt-install", TARGET_GUEST_SPEEDUP),
            ("volume-speedup", "volume", "virsh", TARGET_VOLUME_SPEEDUP)):
        row = [r for r in ratios if r["part"] == part and r["peer"] == peer]
        if not row:
            verdicts(name, None, "%s / virt-provision (%s %s) not measured"
                    % (peer, part, sizes[part]))
            continue
        x, xd = row[0]["peer_over_vp"], row[0]["peer_over_vp_durable"]
        verdicts(name, x >= target,
                "%s / virt-provision, %s %s = %.1fx best/best (target >= %gx); "
                "%.1fx with the fsync of the volume counted"
                % (peer, part, sizes[part], x, target, xd))
    started = ["%s %s" % k for k, r in results.items()
               if any(s != "shut off" for s in r["domain_states"])]
    if started:
        say("warning: a guest was running after the command (%s): not define-only"
            % ", ".join(started))

    for f in b.failed:
        say("FAILED: %s" % f)

    if args.json:
        doc = {"meta": meta, "results": list(results.values()), "ratios": ratios,
               "verdicts": verdicts, "failures": b.failed}
        write_json(doc, args.json)
    return 1 if b.failed else 0


if __name__ == "__main__":
    sys.exit(main())
