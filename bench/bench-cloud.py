#!/usr/bin/env python3
"""Benchmark the cloud-image path of `virt-provision`: overlays, seeds, whole guests.

This is a benchmark, not a test: it prints figures, ratios and PASS/MISS verdicts
against the project's targets, and exits 0 whatever the figures are. It exits 1
only when a command failed (or a required program is missing), 2 on bad usage.

It starts its own isolated session libvirtd (tests/libvirt/session-daemon.sh) in a
short scratch directory, makes a 20G qcow2 base with a little data (qemu-img and
qemu-io, untimed), imports it into the pool `default` (untimed) and measures, one
at a time, all in that directory's file system:

  overlay (20G, local file)
    virt-provision   `virt-provision image OVL --size 20G --backing BASE
                     --backing-format qcow2 --extended-l2 --preallocation metadata`
    qemu-img         `qemu-img create -q -f qcow2 -b BASE -F qcow2
                     -o extended_l2=on,preallocation=metadata OVL 20G`
    dd               `dd if=/dev/zero of=OVL bs=1M count=B iflag=count_bytes
                     conv=fsync`, B = the data bytes of our overlay (the floor)
    provision        `virt-provision -c URI provision --pool default --name N
                     --base base.qcow2 --size 20G --no-define` (through libvirt
                     streams; information only)
  seed (user-data, meta-data, network-config)
    virt-provision   `seed-dump user-data=F,meta-data=F,network-config=F HOST IID OUT`
                     (tests/seed-dump: the tool's own seed code, in process)
    genisoimage      `genisoimage -quiet -output OUT -volid cidata -joliet -rock
                     user-data meta-data network-config`
    cloud-localds    `cloud-localds -N network-config OUT user-data meta-data`
  guest (30G overlay on the base, NoCloud seed; as the daemon's user)
    virt-provision   `virt-provision -c URI provision --pool default --name N
                     --base base.qcow2 --size 30G --cloud-init user-data=F,meta-data=F
                     --virt-type qemu --memory 1024 --vcpus 1 --network none --import`
                     (defines, does not start)
    virt-install     `virt-install ... --disk size=30,backing_store=BASE,format=qcow2,
                     pool=default --cloud-init user-data=F,meta-data=F --import
                     --noreboot ...`: virt-install 4.1 always *starts* a guest given
                     --cloud-init (createXML of the install XML, then defineXML)
    chain            the same end state define-only with virt-install's tools:
                     cloud-localds, virsh vol-create-as + vol-upload of the seed,
                     virt-install --disk ... --disk vol=default/N-cidata.iso,device=cdrom
                     --import --noreboot (defineXML only)
    virt-install-noseed  the chain's virt-install alone (no seed; information)

Best wall-clock of --repeat runs (default 3); outputs, domains and volumes are
removed between runs, untimed. See README.md.

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
    fmt_x, fs_of, fsync_seconds, human, parse_args, ratio, remove, reporters, rotated,
    run, run_measured, run_measured_synced, summarize, tool_version, Verdicts,
    vp_binary, write_json, unwind_on_signals)

SESSION_DAEMON = os.path.join(HERE, "..", "tests", "libvirt", "session-daemon.sh")

# Targets the verdict lines judge.
TARGET_OVERLAY_SPEEDUP = 10.0   # qemu-img / virt-provision, 20G overlay, at least
TARGET_OVERLAY_DD = 2.0         # virt-provision / dd, 20G overlay, at most
TARGET_SEED_SPEEDUP = 5.0       # genisoimage / virt-provision (seed), at least
TARGET_GUEST_SPEEDUP = 10.0     # peer / virt-provision, guest with base and seed, at least

POOL = "default"
BASE_SIZE = "20G"
GUEST_GIB = 30

USER_DATA = """#cloud-config
hostname: vpc-guest
users:
  - name: ops
    groups: [sudo]
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZuQRyCzxEDu3KWtpWueE/dgzs39sPYI85hbpHqTot7 ops@bench
package_update: true
packages: [qemu-guest-agent, curl]
write_files:
  - path: /etc/motd
    content: |
      provisioned by bench-cloud
runcmd:
  - [systemctl, enable, --now, qemu-guest-agent]
"""
META_DATA = "instance-id: iid-vpc-1\nlocal-hostname: vpc-guest\n"
NETWORK_CONFIG = """version: 2
ethernets:
  primary:
    match: {name: "en*"}
    dhcp4: true
"""

# The guest part's chain peer (run by sh as the daemon's user):
#   $1 seed file, $2 guest name, $3 base path; URI and POOL in the environment.
CHAIN_SH = """set -e
cloud-localds "$1" user-data meta-data
virsh -q -c "$URI" vol-create-as "$POOL" "$2-cidata.iso" "$(stat -c %s "$1")" --format raw
virsh -q -c "$URI" vol-upload --pool "$POOL" "$2-cidata.iso" "$1"
exec virt-install --connect "$URI" --name "$2" --memory 1024 --vcpus 1 \\
    --disk size=30,backing_store="$3",format=qcow2,pool="$POOL" \\
    --disk vol="$POOL/$2-cidata.iso",device=cdrom \\
    --import --osinfo generic --virt-type qemu --noautoconsole --noreboot \\
    --graphics none --network none
"""


class Target:
    """One measured command: label, argv, what it leaves behind (local files,
    pool volumes, a domain), the file its figures come from, and whether the
    runner fsyncs that file right after it (synced)."""

    def __init__(self, label, argv, files=(), volumes=(), domain=None, out=None,
                 synced=False, check=None):
        self.label, self.argv = label, argv
        self.files, self.volumes, self.domain = list(files), list(volumes), domain
        self.out, self.synced, self.check = out, synced, check


class Bench:
    def __init__(self, args, say, progress):
        self.args = args
        self.say = say
        self.progress = progress
        self.env = {}
        self.dir = None
        self.failed = []

    # ---- daemon ----------------------------------------------------------
    def start_daemon(self):
        self.dir = tempfile.mkdtemp(prefix="vpc.", dir=self.args.dir)
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
        # Local files (inputs, overlays, seeds): readable by the daemon's user.
        self.work = os.path.join(self.dir, "work")
        os.mkdir(self.work)
        os.chmod(self.dir, 0o711)
        os.chmod(self.work, 0o777)

    def stop_daemon(self):
        if self.dir is None:
            return
        action = "stop" if self.args.keep else "purge"
        p = run([SESSION_DAEMON, action, self.dir], timeout=120, check=False)
        if p.returncode != 0:
            print("bench-cloud: session-daemon.sh %s %s failed: %s"
                  % (action, self.dir, p.stderr.strip()), file=sys.stderr)
        elif self.args.keep:
            self.progress("  daemon stopped; kept %s" % self.dir)

    def virsh(self, *words, check=True):
        return run([self.args.virsh, "-q", "-c", self.uri] + list(words), check=check)

    def as_daemon_user(self, argv):
        """argv run as the daemon's user, with its HOME and runtime dir (as root), or
        unchanged (as another user, who then is the daemon's user).  Every guest
        target goes through this: virt-install keeps its seed in the client's cache
        directory, which must be the daemon's (see README)."""
        env = ["env", "URI=" + self.uri, "POOL=" + POOL]
        if os.geteuid() != 0:
            return env + argv
        user = self.env["VP_TEST_USER"]
        gid = pwd.getpwnam(user).pw_gid
        return ["setpriv", "--reuid=" + user, "--regid=%d" % gid, "--init-groups", "--"] \
            + env + ["HOME=%s/home" % self.dir, "XDG_RUNTIME_DIR=%s/run" % self.dir,
                     "XDG_CACHE_HOME=%s/home/.cache" % self.dir] + argv

    def make_pool(self):
        self.virsh("pool-define-as", POOL, "dir", "--target", self.images)
        self.virsh("pool-start", POOL)

    def clean(self, t):
        """Remove what target t leaves behind (untimed)."""
        if t.domain:
            p = self.virsh("domstate", t.domain, check=False)
            if p.returncode == 0:
                if p.stdout.strip() not in ("shut off", ""):
                    self.virsh("destroy", t.domain)
                self.virsh("undefine", t.domain)
        for vol in t.volumes:
            p = self.virsh("vol-info", "--pool", POOL, vol, check=False)
            if p.returncode == 0:
                self.virsh("vol-delete", "--pool", POOL, vol)
            if os.path.exists(os.path.join(self.images, vol)):
                raise CommandFailed("%s still exists after vol-delete" % vol)
        for f in t.files:
            remove(f)

    # ---- facts ---------------------------------------------------------------
    def image_facts(self, path):
        facts = file_figures(path)
        info = json.loads(run([self.args.qemu_img, "info", "-U", "--output=json", path]).stdout)
        spec = info.get("format-specific", {}).get("data", {})
        facts.update(format=info.get("format"), virtual_size=info.get("virtual-size"),
                     backing=info.get("backing-filename"),
                     backing_format=info.get("backing-filename-format"),
                     extended_l2=spec.get("extended-l2", False), compat=spec.get("compat"))
        p = subprocess.run([self.args.qemu_img, "check", "-U", "--output=json", path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, universal_newlines=True, timeout=300)
        try:
            chk = json.loads(p.stdout)
        except ValueError:
            chk = {}
        facts.update(check_exit=p.returncode, allocated_clusters=chk.get("allocated-clusters"),
                     total_clusters=chk.get("total-clusters"))
        if p.returncode != 0:
            raise CommandFailed("%s fails `qemu-img check` (exit %d)" % (path, p.returncode))
        return facts

    def iso_facts(self, path):
        facts = file_figures(path)
        p = run(["isoinfo", "-d", "-i", path], check=False) if shutil.which("isoinfo") else None
        if p is not None:
            vol = [l.split(":", 1)[1].strip() for l in p.stdout.splitlines()
                   if l.startswith("Volume id:")]
            facts["volume_id"] = vol[0] if vol else None
            facts["rock_ridge"] = "Rock Ridge signatures version" in p.stdout
            facts["joliet"] = "Joliet" in p.stdout
            if facts["volume_id"] != "cidata":
                raise CommandFailed("%s: volume id %r, not cidata" % (path, facts["volume_id"]))
        return facts

    # ---- one part --------------------------------------------------------------
    def measure(self, part, targets, before_run=None):
        """Warm-up once each (untimed), then --repeat interleaved rotating runs.
        before_run(rep, target) may change a target's argv (dd's byte count)."""
        args = self.args
        runs = {t.label: [] for t in targets}
        fsyncs = {t.label: [] for t in targets}
        facts, states, broken = {}, {}, set()
        for t in targets:
            if before_run and not before_run(t):
                continue
            self.progress("  %s %s warm-up ..." % (part, t.label))
            try:
                self.clean(t)
                run_measured(t.argv, self.work)  # same runner and cwd, not counted
                self.clean(t)
            except CommandFailed as e:
                self.failed.append("%s %s warm-up: %s" % (part, t.label, e))
                print("bench-cloud: %s %s: %s" % (part, t.label, e), file=sys.stderr)
                broken.add(t.label)
        for rep, t in rotated(targets, args.repeat):
            if t.label in broken or (before_run and not before_run(t)):
                continue
            self.progress("  %s %s run %d/%d ..." % (part, t.label, rep + 1, args.repeat))
            try:
                self.clean(t)
                os.sync()  # untimed: no writeback of earlier runs left behind
                if t.synced:
                    r = run_measured_synced(t.argv, self.work, t.out)
                    fsyncs[t.label].append(r[4])
                    r = r[:4]
                else:
                    r = run_measured(t.argv, self.work)
                    fsyncs[t.label].append(fsync_seconds(t.out) if t.out else 0.0)
                runs[t.label].append(r)
                if t.domain:
                    states.setdefault(t.label, set()).add(
                        self.virsh("domstate", t.domain).stdout.strip())
                if t.out and t.check and t.label not in facts:
                    facts[t.label] = t.check(t.out)
                self.clean(t)
            except (CommandFailed, OSError, ValueError) as e:
                self.failed.append("%s %s: %s" % (part, t.label, e))
                print("bench-cloud: %s %s: %s" % (part, t.label, e), file=sys.stderr)
                broken.add(t.label)
                try:
                    self.clean(t)
                except CommandFailed:
                    pass
        results = {}
        for t in targets:
            if not runs[t.label] or t.label in broken:
                continue
            walls = [r[0] for r in runs[t.label]]
            best_i = min(range(len(walls)), key=lambda i: walls[i])
            results[t.label] = dict(
                part=part, target=t.label, argv=t.argv, **summarize(runs[t.label]),
                fsync_after_s=fsyncs[t.label], fsync_after_best_s=fsyncs[t.label][best_i],
                best_durable_s=min(w + f for w, f in zip(walls, fsyncs[t.label])),
                synced_by_runner=t.synced,
                domain_states=sorted(states.get(t.label, [])), output=facts.get(t.label))
        return results


def main():
    ap = argparse.ArgumentParser(
        description="Compare virt-provision's cloud-image path (qcow2 overlay, NoCloud "
                    "seed, whole guest with base and seed) with qemu-img, dd, genisoimage, "
                    "cloud-localds and virt-install, against one private session libvirtd. "
                    "Prints figures; asserts nothing.")
    add_vp_option(ap)
    ap.add_argument("--seed-dump", default=os.environ.get("VP_SEED_DUMP"),
                    help="the built tests/seed-dump (default: $VP_SEED_DUMP, else "
                         "tests/seed-dump next to the --vp binary's build tree)")
    for name, pkg in (("virt-install", "virtinst"), ("virsh", "libvirt-clients"),
                      ("qemu-img", "qemu-utils"), ("genisoimage", "genisoimage"),
                      ("cloud-localds", "cloud-image-utils")):
        ap.add_argument("--" + name, default=name,
                        help="%s binary (default: from PATH; Debian package %s)" % (name, pkg))
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per target; the best wall-clock counts (default: 3)")
    ap.add_argument("--only", choices=("overlay", "seed", "guest"), action="append",
                    help="measure only this part (repeatable; default: all three)")
    ap.add_argument("--dir", default="/tmp",
                    help="parent of the scratch directory (default: /tmp; keep it short: "
                         "the daemon's unix sockets live under it)")
    ap.add_argument("--keep", action="store_true",
                    help="stop the daemon at the end but keep its directory (logs)")
    add_json_option(ap)
    args = parse_args(ap)
    parts = args.only or ["overlay", "seed", "guest"]

    vp = vp_binary(ap, args.vp, "bench-cloud")
    if vp is None:
        return 1
    if not args.seed_dump:
        args.seed_dump = os.path.join(os.path.dirname(vp), "..", "tests", "seed-dump")
    args.seed_dump = os.path.abspath(args.seed_dump)
    if "seed" in parts and not os.access(args.seed_dump, os.X_OK):
        print("bench-cloud: seed-dump %r is not executable (build the tree, or pass "
              "--seed-dump)" % args.seed_dump, file=sys.stderr)
        return 1
    needed = [("virsh", "libvirt-clients"), ("qemu_img", "qemu-utils"),
              ("genisoimage", "genisoimage"), ("cloud_localds", "cloud-image-utils"),
              ("virt_install", "virtinst")]
    for attr, pkg in needed + [("qemu-io", "qemu-utils"), ("dd", "coreutils")]:
        name = getattr(args, attr, attr)
        found = shutil.which(name)
        if not found:
            print("bench-cloud: %s not found (Debian package %s)" % (name, pkg),
                  file=sys.stderr)
            return 1
        if hasattr(args, attr):
            setattr(args, attr, found)
    if not os.access(SESSION_DAEMON, os.X_OK):
        print("bench-cloud: %s not found" % SESSION_DAEMON, file=sys.stderr)
        return 1

    say, progress = reporters(args.json)

    unwind_on_signals()

    b = Bench(args, say, progress)
    results = {}
    meta = {}
    try:
        b.start_daemon()
        w = b.work
        mnt, fstype = fs_of(w)
        ver = b.virsh("version").stdout
        meta = {
            "daemon_dir": b.dir, "uri": b.uri, "images": b.images,
            "mount_point": mnt, "fs_type": fstype, "kernel": platform.release(),
            "cpus": os.cpu_count(), "repeat": args.repeat, "parts": parts,
            "virt_provision": vp, "virt_provision_version": tool_version([vp, "--version"]),
            "seed_dump": args.seed_dump,
            "virt_install_version": tool_version([args.virt_install, "--version"]),
            "libvirt_version": " ".join(l.split(":", 1)[1].strip() for l in ver.splitlines()
                                        if l.startswith("Using library")),
            "qemu_img_version": tool_version([args.qemu_img, "--version"]),
            "genisoimage_version": tool_version([args.genisoimage, "--version"]),
            "cache": "warm: page cache not dropped; one untimed warm-up per command; "
                     "previous outputs, domains and volumes removed and sync(2) called "
                     "(untimed) before every run",
        }
        # Inputs, untimed: the base (20G, 16 MiB of data in two runs), the seed files.
        base = os.path.join(w, "base.qcow2")
        run([args.qemu_img, "create", "-q", "-f", "qcow2", base, BASE_SIZE])
        run(["qemu-io", "-c", "write -P 0xab 0 8M", "-c", "write -P 0x5a 10G 8M", base])
        os.chmod(base, 0o644)
        inputs = {}
        for name, text in (("user-data", USER_DATA), ("meta-data", META_DATA),
                           ("network-config", NETWORK_CONFIG)):
            inputs[name] = os.path.join(w, name)
            with open(inputs[name], "w") as f:
                f.write(text)
            os.chmod(inputs[name], 0o644)
        with open(os.path.join(w, "chain.sh"), "w") as f:
            f.write(CHAIN_SH)
        meta["base"] = dict(file_figures(base), virtual_size=BASE_SIZE)
        meta["seed_inputs"] = {k: os.path.getsize(v) for k, v in inputs.items()}
        b.make_pool()
        if "overlay" in parts or "guest" in parts:
            run([vp, "-q", "-c", b.uri, "import", base, "--pool", POOL, "--name", "base.qcow2"])
        pool_base = os.path.join(b.images, "base.qcow2")

        floor = best_run(["/bin/true"], w)
        meta["spawn_floor"] = {"wall_s": floor[0], "peak_rss_kib": floor[1]}
        wrap_floor = best_run(b.as_daemon_user(["/bin/true"]), w)
        meta["daemon_user_wrapper_floor"] = {"wall_s": wrap_floor[0]}
        meta["loadavg_start"] = os.getloadavg()

        say("bench-cloud: session libvirtd in %s (%s on %s), kernel %s, %d CPUs, best of %d"
            % (b.dir, fstype, mnt, meta["kernel"], meta["cpus"] or 0, args.repeat))
        say("  virt-provision: %s (%s); seed-dump: %s"
            % (vp, meta["virt_provision_version"], args.seed_dump))
        say("  virt-install: %s (%s); libvirt %s; %s; %s" % (
            args.virt_install, meta["virt_install_version"], meta["libvirt_version"],
            meta["qemu_img_version"], meta["genisoimage_version"]))
        say("  base: %s qcow2, %s allocated; seed inputs: %s" % (
            BASE_SIZE, human(meta["base"]["allocated_bytes"]),
            ", ".join("%s %d B" % kv for kv in meta["seed_inputs"].items())))
        say(floor_line(floor))
        say("  daemon-user wrapper (setpriv/env + /bin/true, same runner; in every guest "
            "figure): %.4f s" % wrap_floor[0])
        say("  load average at start: %.2f %.2f %.2f" % meta["loadavg_start"])
        if meta["loadavg_start"][0] > 1.0:
            say("  warning: the machine is busy (load %.2f on %d CPUs): expect noise"
                % (meta["loadavg_start"][0], meta["cpus"] or 0))

        # ---- 1. overlay on the 20G base --------------------------------------
        if "overlay" in parts:
            ovl = {k: os.path.join(w, "ovl-%s.qcow2" % k) for k in ("vp", "qemu", "dd")}
            dd_bytes = {}
            dd = Target("dd", None, files=[ovl["dd"]], out=ovl["dd"])

            def vp_check(path):
                facts = b.image_facts(path)
                dd_bytes.setdefault("n", facts["data_bytes"])
                dd.argv = ["dd", "if=/dev/zero", "of=" + ovl["dd"], "bs=1M",
                           "count=%d" % dd_bytes["n"], "iflag=count_bytes", "conv=fsync",
                           "status=none"]
                return facts

            targets = [
                Target("virt-provision",
                       [vp, "image", ovl["vp"], "--size", BASE_SIZE, "--backing", base,
                        "--backing-format", "qcow2", "--extended-l2",
                        "--preallocation", "metadata"],
                       files=[ovl["vp"]], out=ovl["vp"], check=vp_check),
                Target("qemu-img",
                       [args.qemu_img, "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2",
                        "-o", "extended_l2=on,preallocation=metadata", ovl["qemu"], BASE_SIZE],
                       files=[ovl["qemu"]], out=ovl["qemu"], check=b.image_facts),
                dd,
                Target("provision",
                       [vp, "-q", "-c", b.uri, "provision", "--pool", POOL, "--name", "vpc-ovl",
                        "--base", "base.qcow2", "--size", BASE_SIZE, "--no-define"],
                       volumes=["vpc-ovl.qcow2"], out=os.path.join(b.images, "vpc-ovl.qcow2"),
                       check=b.image_facts),
            ]
            # Our first timed run (rep 0 starts with it) gives dd its byte count.
            res = b.measure("overlay", targets,
                            before_run=lambda t: t.argv is not None)
            results.update({("overlay", k): v for k, v in res.items()})
            meta["dd_bytes"] = dd_bytes.get("n")

        # ---- 2. seed -----------------------------------------------------------
        if "seed" in parts:
            seeds = {k: os.path.join(w, "seed-%s.iso" % k) for k in ("vp", "geniso", "localds")}
            targets = [
                Target("virt-provision",
                       [args.seed_dump, "user-data=%s,meta-data=%s,network-config=%s"
                        % (inputs["user-data"], inputs["meta-data"], inputs["network-config"]),
                        "vpc-guest", "iid-vpc-1", seeds["vp"]],
                       files=[seeds["vp"]], out=seeds["vp"], synced=True, check=b.iso_facts),
                Target("genisoimage",
                       [args.genisoimage, "-quiet", "-output", seeds["geniso"], "-volid", "cidata",
                        "-joliet", "-rock", "user-data", "meta-data", "network-config"],
                       files=[seeds["geniso"]], out=seeds["geniso"], synced=True,
                       check=b.iso_facts),
                Target("cloud-localds",
                       [args.cloud_localds, "-N", "network-config", seeds["localds"],
                        "user-data", "meta-data"],
                       files=[seeds["localds"]], out=seeds["localds"], synced=True,
                       check=b.iso_facts),
            ]
            results.update({("seed", k): v for k, v in b.measure("seed", targets).items()})
            # What a provision pays for its seed: built in its own process, so
            # no process start-up; the mean of many loads and builds.
            r = run([args.seed_dump, "user-data=%s,meta-data=%s,network-config=%s"
                     % (inputs["user-data"], inputs["meta-data"], inputs["network-config"]),
                     "vpc-guest", "iid-vpc-1", seeds["vp"], "500"])
            meta["seed_in_process_s"] = float(r.stdout.split()[0])
            say("  seed built in process (load + ISO, mean of 500): %.6f s"
                % meta["seed_in_process_s"])

        # ---- 3. whole guest with base and seed, define-only ---------------------
        if "guest" in parts:
            common = ["--memory", "1024", "--vcpus", "1", "--import", "--osinfo", "generic",
                      "--virt-type", "qemu", "--noautoconsole", "--noreboot",
                      "--graphics", "none", "--network", "none"]
            disk = "size=%d,backing_store=%s,format=qcow2,pool=%s" % (GUEST_GIB, pool_base, POOL)
            chain_seed = os.path.join(w, "chain-seed.iso")
            targets = [
                Target("virt-provision", b.as_daemon_user(
                    [vp, "-q", "-c", b.uri, "provision", "--pool", POOL, "--name", "vpc-vp",
                     "--base", "base.qcow2", "--size", "%dG" % GUEST_GIB,
                     "--cloud-init", "user-data=%s,meta-data=%s"
                     % (inputs["user-data"], inputs["meta-data"]),
                     "--virt-type", "qemu", "--memory", "1024", "--vcpus", "1",
                     "--network", "none", "--import"]),
                    domain="vpc-vp", volumes=["vpc-vp.qcow2", "vpc-vp-cidata.iso"],
                    out=os.path.join(b.images, "vpc-vp.qcow2"), check=b.image_facts),
                Target("chain", b.as_daemon_user(
                    ["sh", os.path.join(w, "chain.sh"), chain_seed, "vpc-ch", pool_base]),
                    domain="vpc-ch", volumes=["vpc-ch.qcow2", "vpc-ch-cidata.iso"],
                    files=[chain_seed], out=os.path.join(b.images, "vpc-ch.qcow2"),
                    check=b.image_facts),
                Target("virt-install", b.as_daemon_user(
                    [args.virt_install, "--connect", b.uri, "--name", "vpc-vi", "--disk", disk,
                     "--cloud-init", "user-data=%s,meta-data=%s"
                     % (inputs["user-data"], inputs["meta-data"])] + common),
                    domain="vpc-vi", volumes=["vpc-vi.qcow2"],
                    out=os.path.join(b.images, "vpc-vi.qcow2"), check=b.image_facts),
                Target("virt-install-noseed", b.as_daemon_user(
                    [args.virt_install, "--connect", b.uri, "--name", "vpc-vn", "--disk", disk]
                    + common),
                    domain="vpc-vn", volumes=["vpc-vn.qcow2"],
                    out=os.path.join(b.images, "vpc-vn.qcow2"), check=b.image_facts),
            ]
            results.update({("guest", k): v for k, v in b.measure("guest", targets).items()})
    except KeyboardInterrupt as e:
        print("bench-cloud: interrupted (%s)" % (e or "Ctrl-C"), file=sys.stderr)
        return 1
    except (CommandFailed, OSError) as e:
        print("bench-cloud: %s" % e, file=sys.stderr)
        return 1
    finally:
        b.stop_daemon()

    # ---- report ----
    meta["loadavg_end"] = os.getloadavg()
    say("")
    say("%-8s %-20s %8s %8s %8s %7s %7s %10s %9s  %s"
        % ("part", "target", "best s", "median s", "worst s", "user s", "sys s", "peak RSS",
           "fsync s", "domain state"))
    for (part, label), r in results.items():
        say("%-8s %-20s %8.4f %8.4f %8.4f %7.3f %7.3f %6d KiB %9.4f  %s"
            % (part, label, r["best_s"], r["median_s"], r["worst_s"], r["best_user_s"],
               r["best_sys_s"], r["peak_rss_kib"], r["fsync_after_best_s"],
               "/".join(r["domain_states"]) or "-"))
    say("  (user/sys, RSS: the client process only. fsync s: an fsync() of the output right "
        "after the best run: by the runner the instant a seed command exits, not in its time; "
        "by this script for the overlay and guest disks)")

    say("")
    say("%-8s %-20s %14s %10s %10s %6s %7s %9s  %s"
        % ("part", "target", "file length", "allocated", "data", "ext-l2", "check",
           "clusters", "backing / volume id"))
    for (part, label), r in results.items():
        v = r["output"]
        if not v:
            continue
        if "volume_id" in v:
            extra = "%s%s%s" % (v["volume_id"], ", Rock Ridge" if v.get("rock_ridge") else "",
                                ", Joliet" if v.get("joliet") else "")
            say("%-8s %-20s %14d %10s %10s %6s %7s %9s  %s"
                % (part, label, v["file_length"], human(v["allocated_bytes"]),
                   human(v["data_bytes"]), "-", "-", "-", extra))
        else:
            say("%-8s %-20s %14d %10s %10s %6s %7s %9s  %s"
                % (part, label, v["file_length"], human(v["allocated_bytes"]),
                   human(v["data_bytes"]), "yes" if v["extended_l2"] else "no",
                   "clean" if v["check_exit"] == 0 else "exit %d" % v["check_exit"],
                   "%s/%s" % (v["allocated_clusters"] or 0, v["total_clusters"]),
                   "%s (%s)" % (os.path.basename(v["backing"] or "-"), v["backing_format"])))
    if meta.get("dd_bytes"):
        say("  dd wrote %d bytes (%s): the data bytes of virt-provision's overlay"
            % (meta["dd_bytes"], human(meta["dd_bytes"])))

    ratios = []
    say("")
    # Net of the floor: both best times less what starting any command costs in that
    # part (the spawn floor; for the guest part the daemon-user wrapper's floor).
    floors = {"overlay": meta["spawn_floor"]["wall_s"], "seed": meta["spawn_floor"]["wall_s"],
              "guest": meta["daemon_user_wrapper_floor"]["wall_s"]}
    say("%-8s %-42s %10s %10s %12s %10s" % ("part", "ratio", "best/best", "med/med",
                                            "+fsync best", "net floor"))
    for part, num, den in (("overlay", "qemu-img", "virt-provision"),
                           ("overlay", "virt-provision", "dd"),
                           ("overlay", "provision", "virt-provision"),
                           ("seed", "genisoimage", "virt-provision"),
                           ("seed", "cloud-localds", "virt-provision"),
                           ("guest", "chain", "virt-provision"),
                           ("guest", "virt-install", "virt-provision"),
                           ("guest", "virt-install-noseed", "virt-provision")):
        n, d = results.get((part, num)), results.get((part, den))
        if n is None or d is None:
            continue
        row = {"part": part, "num": num, "den": den, "best": ratio(n, d, "best_s"),
               "median": ratio(n, d, "median_s"), "durable": ratio(n, d, "best_durable_s"),
               "floor_s": floors[part]}
        net_d = d["best_s"] - floors[part]
        row["net_of_floor"] = (n["best_s"] - floors[part]) / net_d if net_d > 0 else None
        ratios.append(row)
        say("%-8s %-42s %10s %10s %12s %10s" % (
            part, "%s / %s" % (num, den), fmt_x(row["best"]), fmt_x(row["median"]),
            fmt_x(row["durable"]), fmt_x(row["net_of_floor"])))
    say("  (+fsync: each run plus the fsync() of its output right after, best of those; "
        "net floor: best/best with the part's floor taken off both, %.4f s for overlay and "
        "seed (spawn), %.4f s for guest (daemon-user wrapper); information only)"
        % (floors["overlay"], floors["guest"]))
    say("load average at start %.2f, at end %.2f" % (meta["loadavg_start"][0],
                                                      meta["loadavg_end"][0]))

    def row(part, num, den):
        for r in ratios:
            if (r["part"], r["num"], r["den"]) == (part, num, den):
                return r
        return None

    verdicts = Verdicts(say)
    say("")
    r = row("overlay", "qemu-img", "virt-provision")
    verdicts("overlay-speedup", None if r is None else r["best"] >= TARGET_OVERLAY_SPEEDUP,
             "qemu-img / virt-provision, 20G overlay (extended L2, metadata) = %s best/best "
             "(target >= %gx)" % (fmt_x(r and r["best"]), TARGET_OVERLAY_SPEEDUP))
    r = row("overlay", "virt-provision", "dd")
    verdicts("overlay-dd", None if r is None else r["best"] <= TARGET_OVERLAY_DD,
             "virt-provision / dd of its data bytes, 20G overlay = %s best/best (target <= %gx)"
             % (fmt_x(r and r["best"]), TARGET_OVERLAY_DD))
    r = row("seed", "genisoimage", "virt-provision")
    r2 = row("seed", "cloud-localds", "virt-provision")
    verdicts("seed-speedup", None if r is None else r["best"] >= TARGET_SEED_SPEEDUP,
             "genisoimage / virt-provision, NoCloud seed = %s best/best (target >= %gx); "
             "cloud-localds / virt-provision = %s"
             % (fmt_x(r and r["best"]), TARGET_SEED_SPEEDUP, fmt_x(r2 and r2["best"])))
    geniso = results.get(("seed", "genisoimage"))
    inproc = meta.get("seed_in_process_s")
    x = (geniso["best_s"] / inproc) if geniso and inproc else None
    verdicts("seed-in-process", None if x is None else x >= TARGET_SEED_SPEEDUP,
             "genisoimage / the seed as provision builds it (in process, no process "
             "start-up) = %s (target >= %gx)" % (fmt_x(x), TARGET_SEED_SPEEDUP))
    r = row("guest", "chain", "virt-provision")
    r2 = row("guest", "virt-install", "virt-provision")
    verdicts("guest-speedup", None if r is None else r["best"] >= TARGET_GUEST_SPEEDUP,
             "define-only guest with base and seed: (cloud-localds + virsh upload + "
             "virt-install) / virt-provision = %s best/best (target >= %gx); virt-install "
             "--cloud-init, which also starts the guest, / virt-provision = %s"
             % (fmt_x(r and r["best"]), TARGET_GUEST_SPEEDUP, fmt_x(r2 and r2["best"])))
    for (part, label), res in results.items():
        started = [s for s in res["domain_states"] if s != "shut off"]
        if started and label != "virt-install":
            say("warning: %s %s left the guest %s: not define-only"
                % (part, label, "/".join(started)))
        if label == "virt-install" and part == "guest" and "running" not in started:
            say("note: virt-install --cloud-init did not leave the guest running (%s)"
                % "/".join(res["domain_states"]))

    for f in b.failed:
        say("FAILED: %s" % f)

    if args.json:
        doc = {"meta": meta, "results": list(results.values()), "ratios": ratios,
               "verdicts": verdicts, "failures": b.failed}
        write_json(doc, args.json)
    return 1 if b.failed else 0


if __name__ == "__main__":
    sys.exit(main())
