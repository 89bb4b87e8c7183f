#!/usr/bin/env python3
"""Benchmark `virt-provision apply` (labs) against `xargs -P4 virt-install`, and its scaling.

This is a benchmark, not a test: it prints figures, ratios and PASS/MISS verdicts
against the project's targets, and exits 0 whatever the figures are. It exits 1
only when a command failed, a guest was not made as asked (or a required program
is missing), 2 on bad usage.

As root, it starts its own hosts once (tests/libvirt/hosts.sh start DIR N, N the
largest of --hosts-scaling and 2): N session libvirtds, each of its own user
vp-hostI, hosts 1..N-1 reached over qemu+unix and host N over real qemu+ssh
through an sshd on 127.0.0.1. It purges them at the end, also on failure, Ctrl-C
or SIGTERM. Against those same hosts, one at a time:

  lab, 2 hosts (host1 over unix, hostN over ssh), --guests define-only guests:
    virt-provision   `virt-provision apply LAB.yaml`: one process, every host in
                     parallel (LAB.yaml below; the tool's default --jobs)
    virt-install     `xargs -a LIST -d '\\n' -n 4 -P 4 virt-install --memory 512
                     --vcpus 1 --disk pool=default,size=20,format=qcow2 --import
                     --osinfo generic --virt-type qemu --noautoconsole --noreboot
                     --graphics none --network none`, LIST holding `--connect URI
                     --name vi-I` per guest, the hosts alternating (half per host);
                     with --import, --noreboot makes virt-install 4.1 only
                     defineXML() (as in bench-provision.py); RETRY_SH runs a
                     virt-install again after libvirt's "pool has asynchronous
                     jobs running" (two on one pool at once)
    flock virt-install  the same under `flock DIR/HOST.lock`: one virt-install
                     per pool at a time, no retries (information)
  scaling: `virt-provision apply` of the same --guests guests over 1, 2, 4 hosts
    (--hosts-scaling): host1 alone, then hosts 1..K-1 and the ssh host N.

Every lab run times, in this order: `status` with no guest there (contacting the
hosts and reading their state, nothing to find), `apply` (all guests created),
`status` (all kept), a second `apply` (a no-op: nothing to change) and `destroy`.
After each the hosts are checked through virsh and the pool directories: every
guest defined, shut off, with its NAME.qcow2 volume, or after destroy (and after
removing virt-install's guests, timed too) nothing at all. CPU seconds of the
client, of each host's libvirtd and of the sshd (with its ssh sessions) are read
from wait4() and /proc around every timed run. Once per host count, an extra
untimed `-v --json apply` is traced line by line for where its time goes. A
command still running after --timeout (120 s; xargs runs 10x) is ended and counts
as failed.

With --system-hosts the hosts are system libvirtds instead
(tests/libvirt/system-hosts.sh: each in network and mount namespaces of its own,
behind an sshd of its own, all reached over qemu+ssh://root@ADDR/system; a K-host
run uses hosts 1..K), and everything above runs once per link set-up (--links):
unshaped, then shaped like a distant hypervisor's (--rate each way with tbf on
both ends of each host's veth pair, --delay each way with link_delay.py in the
host's namespace; this kernel has no netem). Per run it also counts the bytes
each host's link carried (the veth's counters) and gives the client's CPU and
bytes per guest; an extra apply on 2 hosts runs with ssh compression
(information), and the flock peer is left out. See README.md.

Python 3 standard library only.
"""

import argparse
import concurrent.futures
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import (  # noqa: E402 (after the sys.path change)
    add_json_option, add_vp_option, best_run, CommandFailed, floor_line, fmt_x, fs_of,
    human, parse_args, parse_size, ratio, reporters, rotated, run, run_measured_tree,
    summarize, tool_version, Verdicts, vp_binary, write_json, unwind_on_signals)

HOSTS_SH = os.path.join(HERE, "..", "tests", "libvirt", "hosts.sh")
SYSTEM_HOSTS_SH = os.path.join(HERE, "..", "tests", "libvirt", "system-hosts.sh")
LINK_DELAY = os.path.join(HERE, "link_delay.py")

# Targets the verdict lines judge: xargs -P4 virt-install / virt-provision apply,
# 2 hosts, at least this much; on a shaped link (--system-hosts) the second.
TARGET_LAB_SPEEDUP = 10.0
TARGET_LAB_SPEEDUP_SHAPED = 5.0

POOL = "default"
LAB = "bench-lab"
VP_ENTRY = "g"     # the lab's one guest entry: g-1 .. g-N
VI_PREFIX = "vi"   # virt-install's guests: vi-1 .. vi-N
SINGLE = "one"     # the single-guest reference runs
CLK_TCK = os.sysconf("SC_CLK_TCK")
VP_CHECKS = ("status-empty", "apply", "status", "noop", "destroy")

# Each virt-install of the xargs run goes through this wrapper: `sh -c RETRY_SH sh
# RETRIES virt-install ARGS...`.  virt-install 4.1 refreshes the pool before it
# names a new volume (virtinst/storage.py, find_free_name ->
# ensure_pool_is_running(refresh=True)), and libvirt refuses a refresh while
# another volume of that pool is being built ("pool 'default' has asynchronous
# jobs running"), so two virt-installs on one pool at once fail now and then.
# The wrapper runs such a virt-install again (nothing was created yet) and notes
# it in RETRIES; any other error fails the run.  The retries are in the time: it
# is what `xargs -P4 virt-install` costs when it has to succeed.
RETRY_SH = r"""
log=$1; shift
n=0
while ! err=$("$@" 2>&1 >/dev/null); do
    case $err in
        *"asynchronous jobs running"*) ;;
        *) printf '%s\n' "$err" >&2; exit 1 ;;
    esac
    n=$((n + 1))
    echo "$*" >>"$log"
    [ "$n" -lt 20 ] || { printf '%s\n' "$err" >&2; exit 1; }
done
"""


# ---- CPU accounting -------------------------------------------------------------
def _proc_stats():
    """pid -> (ppid, utime+stime+cutime+cstime ticks) of every process now."""
    stats = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                text = f.read()
        except OSError:
            continue  # gone meanwhile
        rest = text.rsplit(")", 1)[1].split()  # comm may hold spaces and ')'
        # rest[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17
        stats[int(name)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
    return stats


def tree_ticks(stats, root):
    """CPU ticks of process root and all its live descendants, each with what it
    collected from the children it reaped (cutime/cstime): nothing counted twice,
    and nothing lost when a session ends between two readings."""
    if root not in stats:
        return 0
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total


def machine_ticks():
    """(busy, all) ticks of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


def link_bytes(iface):
    """(tx, rx) byte counters of a network interface of this namespace."""
    base = "/sys/class/net/%s/statistics/" % iface
    with open(base + "tx_bytes") as f, open(base + "rx_bytes") as g:
        return int(f.read()), int(g.read())


class CpuProbe:
    """Readings around a timed run: CPU seconds of each host's libvirtd (with the
    qemu-img and other children it reaped), of the sshds and their sessions (an
    ssh host's virt-ssh-helper runs in them), how busy the whole machine was,
    and, where the hosts have links of their own (system-hosts.sh), the bytes
    each link carried each way."""

    def __init__(self, daemons, sshds, links=None):
        self.daemons = daemons  # host name -> daemon pid
        self.sshds = sshds      # host name -> sshd pid (hosts.sh: the ssh host's)
        self.links = links or {}  # host name -> host-side veth of its link

    def snap(self):
        stats = _proc_stats()
        return {"daemons": {h: tree_ticks(stats, p) for h, p in self.daemons.items()},
                "sshds": {h: tree_ticks(stats, p) for h, p in self.sshds.items()},
                "links": {h: link_bytes(i) for h, i in self.links.items()},
                "machine": machine_ticks(), "t": time.perf_counter()}

    @staticmethod
    def delta(a, b, hosts):
        """Seconds (and bytes) between two snaps, for the hosts a run used. The
        host-side veth transmits what goes to the host: its tx is what the
        client sent, its rx what the host sent back."""
        daemons = {h: (b["daemons"][h] - a["daemons"][h]) / CLK_TCK for h in hosts}
        busy = b["machine"][0] - a["machine"][0]
        total = b["machine"][1] - a["machine"][1]
        sshd = sum(b["sshds"][h] - a["sshds"][h] for h in hosts if h in a["sshds"])
        r = {"daemons_cpu_s": sum(daemons.values()), "daemon_cpu_s": daemons,
             "sshd_cpu_s": sshd / CLK_TCK,
             "machine_busy": busy / total if total > 0 else None}
        links = [h for h in hosts if h in a["links"]]
        if links:
            r["bytes_to_hosts"] = sum(b["links"][h][0] - a["links"][h][0] for h in links)
            r["bytes_from_hosts"] = sum(b["links"][h][1] - a["links"][h][1] for h in links)
            r["bytes_to_host"] = {h: b["links"][h][0] - a["links"][h][0] for h in links}
        return r


# ---- the hosts ------------------------------------------------------------------
class Hosts:
    """The hosts of this run: self.hosts is a list of dicts (name, uri, user, images,
    local_images, transport, daemon_pid) in host order. hosts.sh (default): session
    daemons, the last one the ssh host. system-hosts.sh (system=True): every host a
    system libvirtd in namespaces of its own behind its own sshd, each dict also
    with holder_pid, address and veth (the host-side end of its link)."""

    def __init__(self, parent, n, progress, system=False):
        self.parent = parent
        self.n = n
        self.progress = progress
        self.system = system
        self.script = SYSTEM_HOSTS_SH if system else HOSTS_SH
        self.dir = None
        self.hosts = []
        self.sshds = {}  # host name -> pid of the sshd that serves it

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="vps." if self.system else "vpl.",
                                    dir=self.parent)
        self.progress("  starting %d hosts in %s ..." % (self.n, self.dir))
        name = os.path.basename(self.script)
        p = run([self.script, "start", self.dir, str(self.n)], timeout=600)
        env = {}
        for line in p.stdout.splitlines():
            for word in shlex.split(line):
                key, _, value = word.partition("=")
                env[key] = value
        keys = ["NAME", "URI", "USER", "IMAGES", "TRANSPORT", "DAEMON_PID"]
        if self.system:
            keys += ["LOCAL_IMAGES", "HOLDER_PID", "ADDRESS"]
        for i in range(1, self.n + 1):
            missing = [k for k in keys if "VP_HOST%d_%s" % (i, k) not in env]
            if missing:
                raise CommandFailed("%s printed no VP_HOST%d_%s: %r"
                                    % (name, i, missing[0], p.stdout))
            h = {k.lower(): env["VP_HOST%d_%s" % (i, k)] for k in keys}
            h["daemon_pid"] = int(h["daemon_pid"])
            h.setdefault("local_images", h["images"])
            if self.system:
                h["holder_pid"] = int(h["holder_pid"])
                h["veth"] = self.veth_of(h)
                pid = self.pid_file(h, "/run/libvirt/sshd.pid")
                if pid:
                    self.sshds[h["name"]] = pid
            self.hosts.append(h)
        if not self.system:
            pid = self.pid_file(None, os.path.join(self.dir, "ssh", "sshd.pid"))
            if pid:
                self.sshds[self.hosts[-1]["name"]] = pid

    @staticmethod
    def pid_file(host, path):
        """The pid in PATH (inside HOST's mount namespace when given), or None."""
        if host:
            path = "/proc/%d/root%s" % (host["holder_pid"], path)
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def veth_of(host):
        """The interface of this namespace that is the peer of the host's eth0:
        `ip link` inside names it as eth0@ifINDEX."""
        out = run(["nsenter", "-t", str(host["holder_pid"]), "-n", "ip", "-o", "link",
                   "show", "dev", "eth0"]).stdout
        m = re.search(r"eth0@if(\d+):", out)
        if m:
            for iface in os.listdir("/sys/class/net"):
                try:
                    with open("/sys/class/net/%s/ifindex" % iface) as f:
                        if f.read().strip() == m.group(1):
                            return iface
                except OSError:
                    continue
        raise CommandFailed("no link of %s found (%r)" % (host["name"], out))

    def keep_logs(self):
        """Copies the hosts' logs (libvirtd, sshd) next to DIR before a purge removes
        them; returns where, or None when there was nothing to copy."""
        if self.dir is None:
            return None
        dest = self.dir + "-logs"
        for root, _, files in os.walk(self.dir):
            for f in files:
                if f.endswith(".log"):
                    src = os.path.join(root, f)
                    rel = os.path.relpath(src, self.dir)
                    os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                    shutil.copy(src, os.path.join(dest, rel))
        return dest if os.path.isdir(dest) else None

    def purge(self):
        if self.dir is None:
            return
        p = run([self.script, "purge", self.dir], timeout=300, check=False)
        if p.returncode != 0:
            print("bench-lab: %s purge %s failed: %s"
                  % (os.path.basename(self.script), self.dir, p.stderr.strip()),
                  file=sys.stderr)
        self.dir = None

    def subset(self, k):
        """The hosts of a K-host run. hosts.sh: host1 alone, else hosts 1..K-1 and the
        ssh host, so that every run of more than one host has one over ssh. System
        hosts are all alike (all over ssh): hosts 1..K."""
        if self.system:
            return self.hosts[:k]
        return self.hosts[:1] if k == 1 else self.hosts[:k - 1] + self.hosts[-1:]


class Links:
    """Each system host's link shaped as a distant hypervisor's: RATE each way
    (tbf on both ends of its veth pair: the host-side end in this namespace, eth0
    in the host's) and DELAY each way (link_delay.py in the host's namespace,
    which the host's ssh connections reach through an iptables REDIRECT of port
    22 on eth0). The kernel here has no netem; see link_delay.py. Undone by
    unshape() (and with the namespaces by a purge); the relays are ended by
    their pids."""

    RELAY_PORT = 2222
    ECHO_PORT = 2223

    def __init__(self, hosts, rate, delay_s, progress):
        self.hosts = hosts
        self.rate = rate
        self.delay_s = delay_s
        self.progress = progress
        self.relays = {}  # host name -> Popen
        self.shaped = []  # hosts with a qdisc or rule in place

    def ns(self, h, *argv):
        return ["nsenter", "-t", str(h["holder_pid"]), "-n"] + list(argv)

    def tbf(self):
        # burst: at least rate/HZ (a timer tick's worth); latency bounds the queue
        return ["tbf", "rate", self.rate, "burst", "64kb", "latency", "100ms"]

    def shape(self):
        for h in self.hosts:
            self.shaped.append(h)
            relay = subprocess.Popen(
                self.ns(h, sys.executable, "-I", "-S", LINK_DELAY,
                        "--listen", str(self.RELAY_PORT),
                        "--upstream", "%s:22" % h["address"],
                        "--echo", "%s:%d" % (h["address"], self.ECHO_PORT),
                        "--delay", "%g" % self.delay_s),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.relays[h["name"]] = relay
            line = relay.stdout.readline()
            if line.strip() != b"ready":
                raise CommandFailed("link_delay.py of %s did not start: %s" % (
                    h["name"], relay.stderr.read(2000).decode(errors="replace")))
            run(self.ns(h, "iptables", "-t", "nat", "-A", "PREROUTING", "-i", "eth0",
                        "-p", "tcp", "--dport", "22", "-j", "REDIRECT", "--to-ports",
                        str(self.RELAY_PORT)))
            run(["tc", "qdisc", "replace", "dev", h["veth"], "root"] + self.tbf())
            run(self.ns(h, "tc", "qdisc", "replace", "dev", "eth0", "root") + self.tbf())

    def unshape(self):
        """Undo shape(); errors are reported, not raised (also used on failure)."""
        for h in self.shaped:
            for argv in (self.ns(h, "iptables", "-t", "nat", "-D", "PREROUTING", "-i",
                                 "eth0", "-p", "tcp", "--dport", "22", "-j", "REDIRECT",
                                 "--to-ports", str(self.RELAY_PORT)),
                         ["tc", "qdisc", "del", "dev", h["veth"], "root"],
                         self.ns(h, "tc", "qdisc", "del", "dev", "eth0", "root")):
                p = run(argv, check=False)
                if p.returncode != 0:
                    print("bench-lab: `%s`: %s" % (" ".join(argv), p.stderr.strip()),
                          file=sys.stderr)
        self.shaped = []
        for relay in self.relays.values():
            relay.terminate()
            try:
                relay.wait(10)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()
        self.relays = {}

    def rtt(self, h, count=10):
        """Round-trip times of one host's link, ms: ICMP ping (which the relay does
        not see: the bare veths and the tbf queues) and a 1-byte TCP echo through
        the relay's delays (the round trip ssh sees). Echo only when shaped."""
        out = run(["ping", "-n", "-q", "-c", str(count), "-i", "0.2", h["address"]],
                  check=False).stdout
        m = re.search(r"= [\d.]+/([\d.]+)/", out)
        figures = {"ping_ms": float(m.group(1)) if m else None, "echo_ms": None}
        if h["name"] in self.relays:
            with socket.create_connection((h["address"], self.ECHO_PORT), timeout=10) as c:
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                times = []
                for _ in range(count):
                    t = time.perf_counter()
                    c.sendall(b"x")
                    if c.recv(1) != b"x":
                        raise CommandFailed("the echo of %s answered wrong" % h["name"])
                    times.append(1000 * (time.perf_counter() - t))
            figures["echo_ms"] = statistics.median(times)
        return figures


def on_hosts(hosts, fn):
    """fn(host) for every host at once (threads); the results in host order. The
    first exception is raised after all have finished."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as ex:
        futures = [ex.submit(fn, h) for h in hosts]
        concurrent.futures.wait(futures)
    return [f.result() for f in futures]


# ---- the bench ------------------------------------------------------------------
class Bench:
    def __init__(self, args, vp, say, progress):
        self.args = args
        self.vp = vp
        self.say = say
        self.progress = progress
        self.failed = []
        self.hosts = None
        self.probe = None
        self.facts = {}  # (tool, host) -> facts of one sample volume
        self.compress = False  # lab runs with ssh compression (vp_argv)

    def fail(self, what, e):
        self.failed.append("%s: %s" % (what, e))
        print("bench-lab: %s: %s" % (what, e), file=sys.stderr)

    # -- virsh ------------------------------------------------------------------
    def virsh(self, host, *words, check=True, timeout=300, quiet=True):
        return run([self.args.virsh] + ["-q"][:quiet] + ["-c", host["uri"]] + list(words),
                   check=check, timeout=timeout)

    def state(self, host):
        """(domains, running domains, volumes known to the pool, files in the pool
        directory) of a host, as sets of names: one virsh (one ssh login) per call."""
        # virsh runs ';'-separated commands in one connection; `echo` marks where
        # each one's output ends (not with -q, which drops echo's newline).
        out = self.virsh(host, "list --all --name; echo =====; "
                               "list --state-running --name; echo =====; "
                               "pool-refresh %s; vol-list %s" % (POOL, POOL),
                         quiet=False).stdout
        parts = re.split(r"^=====$", out, flags=re.M)
        if len(parts) != 3:
            raise CommandFailed("unexpected virsh output on %s: %r" % (host["name"], out))
        doms = {l.strip() for l in parts[0].splitlines() if l.strip()}
        running = {l.strip() for l in parts[1].splitlines() if l.strip()}
        # vol-list: a header, then "NAME PATH" lines (a dir pool's paths are absolute)
        vols = {w[0] for w in (l.split() for l in parts[2].splitlines())
                if len(w) == 2 and w[1].startswith("/")}
        files = set(os.listdir(host["local_images"]))
        return doms, running, vols, files

    def check_guests(self, hosts, names, per_host=None):
        """Check the hosts hold exactly the guests NAMES between them (per_host: host
        name -> its guests; None: any placement, as the lab's planner chose), each
        defined, shut off, with its NAME.qcow2 volume and file, and nothing else.
        Returns host name -> the sorted guests it holds."""
        states = on_hosts(hosts, self.state)
        problems, found, seen = [], {}, set()
        for h, (doms, running, vols, files) in zip(hosts, states):
            found[h["name"]] = sorted(doms)
            if running:
                problems.append("%s: running: %s" % (h["name"], " ".join(sorted(running))))
            want = set(per_host[h["name"]]) if per_host else None
            if want is not None and doms != want:
                problems.append("%s: %d domains, expected %d (missing %s, extra %s)" % (
                    h["name"], len(doms), len(want), sorted(want - doms)[:5],
                    sorted(doms - want)[:5]))
            vnames = {d + ".qcow2" for d in doms}
            if vols != vnames or files != vnames:
                problems.append("%s: volumes or files differ from the domains: %s" % (
                    h["name"], sorted((vols ^ vnames) | (files ^ vnames))[:5]))
            if seen & doms:
                problems.append("%s: on two hosts: %s" % (h["name"], sorted(seen & doms)[:5]))
            seen |= doms
        if seen != set(names):
            problems.append("%d guests, expected %d (missing %s, extra %s)" % (
                len(seen), len(names), sorted(set(names) - seen)[:5],
                sorted(seen - set(names))[:5]))
        if problems:
            raise CommandFailed("the guests are not as asked: " + "; ".join(problems))
        return found

    def check_empty(self, hosts):
        """Raise unless every host has no domain, no volume and no file in its pool."""
        left = []
        for h, (doms, _, vols, files) in zip(hosts, on_hosts(hosts, self.state)):
            if doms or vols or files:
                left.append("%s: %d domains, %d volumes, %d files (%s)" % (
                    h["name"], len(doms), len(vols), len(files),
                    " ".join(sorted(doms | vols | files)[:5])))
        if left:
            raise CommandFailed("the pools are not empty: " + "; ".join(left))

    def scrub(self, hosts, names=None):
        """Undefine domains with --remove-all-storage and delete what volumes are
        left: names (host name -> domain names), else everything on the hosts (they
        are this run's own). One virsh per host, all hosts at once."""
        def one(h):
            doms = names[h["name"]] if names else sorted(self.state(h)[0])
            cmds = ["undefine %s --remove-all-storage" % d for d in doms]
            if cmds:
                self.virsh(h, "; ".join(cmds), timeout=600)
            if names is None:
                vols = sorted(self.state(h)[2])
                if vols:
                    self.virsh(h, "; ".join("vol-delete --pool %s %s" % (POOL, v)
                                            for v in vols), timeout=600)
        on_hosts(hosts, one)

    def recover(self, hosts, lab=None):
        """After a failure: destroy the lab if there is one, then remove anything
        left on the hosts; errors here are reported, not raised."""
        if lab:
            try:
                run([self.vp, "destroy", lab], timeout=self.args.timeout, check=False)
            except CommandFailed as e:  # it timed out: the scrub below still runs
                self.fail("clean-up", e)
        try:
            self.scrub(hosts)
            self.check_empty(hosts)
        except CommandFailed as e:
            self.fail("clean-up", e)

    # -- one measured command ---------------------------------------------------
    def timed(self, argv, hosts, ok_codes=(0,), timeout=None):
        """run_measured(argv) with the CPU readings around it: a dict of figures.
        A command still running after timeout s (default --timeout) is ended."""
        os.sync()  # untimed: no writeback of earlier runs left behind
        out = os.path.join(self.hosts.dir, "stdout.txt")
        a = self.probe.snap()
        try:
            wall, rss, user, sys_, orphans = run_measured_tree(
                argv, self.hosts.dir, ok_codes, out, timeout or self.args.timeout)
        except CommandFailed as e:
            # apply and status print a guest's error in their table on stdout
            with open(out, errors="replace") as f:
                lines = [l.rstrip() for l in f if l.strip()]
            failing = [l for l in lines if re.search(r"\b(failed|conflict|drift)\b", l)]
            raise CommandFailed("%s\n  its stdout (%d lines), lines with failed/conflict/"
                                "drift:\n    %s\n  last lines:\n    %s" % (
                                    e, len(lines), "\n    ".join(failing[:20]) or "-",
                                    "\n    ".join(lines[-5:]) or "-"))
        b = self.probe.snap()
        r = dict(wall_s=wall, peak_rss_kib=rss, client_user_s=user, client_sys_s=sys_,
                 client_cpu_s=user + sys_, client_orphans=orphans)
        r.update(CpuProbe.delta(a, b, [h["name"] for h in hosts]))
        return r

    def volume_facts(self, host, volume):
        """qemu-img info/check of one volume file (root reads the host's pool)."""
        path = os.path.join(host["local_images"], volume)
        st = os.stat(path)
        info = json.loads(run([self.args.qemu_img, "info", "--output=json", path]).stdout)
        p = subprocess.run([self.args.qemu_img, "check", "--output=json", path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, universal_newlines=True, timeout=300)
        try:
            chk = json.loads(p.stdout)
        except ValueError:
            chk = {}
        allocated, total = chk.get("allocated-clusters"), chk.get("total-clusters")
        return {"volume": volume, "host": host["name"], "format": info.get("format"),
                "virtual_size": info.get("virtual-size"), "file_length": st.st_size,
                "allocated_bytes": st.st_blocks * 512, "check_exit": p.returncode,
                "allocated_clusters": allocated, "total_clusters": total,
                "preallocation": "metadata" if total and allocated == total
                else "off" if allocated == 0 else "partial"}

    def sample_volumes(self, tool, hosts, guest_of):
        """Facts of one volume per host (first run of each tool only)."""
        for h in hosts:
            if (tool, h["name"]) in self.facts or not guest_of.get(h["name"]):
                continue
            f = self.volume_facts(h, guest_of[h["name"]] + ".qcow2")
            self.facts[(tool, h["name"])] = f
            if f["check_exit"] != 0:
                raise CommandFailed("%s on %s fails `qemu-img check` (exit %d)"
                                    % (f["volume"], h["name"], f["check_exit"]))
            if f["virtual_size"] != self.size_bytes:
                raise CommandFailed("%s on %s has %s bytes, not %d" % (
                    f["volume"], h["name"], f["virtual_size"], self.size_bytes))

    # -- the lab ----------------------------------------------------------------
    def write_lab(self, hosts, path):
        """LAB.yaml for these hosts: the lab's defaults match virt-install's guest
        (512 MiB, 1 vCPU, --import, no network, no graphics, qemu) and --size."""
        q = json.dumps  # a JSON string is a YAML double-quoted scalar
        lines = ["# written by bench/bench-lab.py", "lab: %s" % q(LAB), "hosts:"]
        lines += ["  %s: %s" % (h["name"], q(h["uri"])) for h in hosts]
        lines += ["defaults:", "  pool: %s" % q(POOL), "  size: %s" % q(self.args.size),
                  "  import: true", "  virt-type: qemu", "  memory: 512M", "  vcpus: 1",
                  "  network: none", "  graphics: none",
                  "guests:", "  - name: %s" % q(VP_ENTRY), "    count: %d" % self.args.guests]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def vp_guests(self):
        return ["%s-%d" % (VP_ENTRY, i) for i in range(1, self.args.guests + 1)]

    def vp_argv(self, *words):
        """virt-provision WORDS, with ssh compression when self.compress is set: an
        `ssh` first in PATH that adds `-o Compression=yes`, which is what a user's
        ssh_config `Compression yes` for these hosts does to libvirt's ssh
        transport (it runs `ssh` from PATH; its URIs have no such parameter)."""
        if not self.compress:
            return [self.vp] + list(words)
        return ["env", "PATH=%s:%s" % (self.zssh_dir(), os.environ.get("PATH", ""))] + \
            [self.vp] + list(words)

    def zssh_dir(self):
        d = os.path.join(self.hosts.dir, "zssh")
        if not os.path.isdir(d):
            os.mkdir(d)
            ssh = shutil.which("ssh") or "/usr/bin/ssh"
            with open(os.path.join(d, "ssh"), "w") as f:
                f.write("#!/bin/sh\nexec %s -o Compression=yes \"$@\"\n" % shlex.quote(ssh))
            os.chmod(os.path.join(d, "ssh"), 0o755)
        return d

    def apply_argv(self, lab, *extra):
        jobs = ["--jobs", str(self.args.jobs)] if self.args.jobs else []
        return self.vp_argv(*(list(extra) + ["apply", lab] + jobs))

    def run_lab(self, k, rep):
        """One repetition of the lab on K hosts: status-empty, apply, status, no-op
        apply, destroy, each timed and checked. Returns {step: figures}."""
        hosts = self.hosts.subset(k)
        lab = self.lab_path[k]
        names = self.vp_guests()
        out = {}
        step = "status-empty"
        try:
            self.check_empty(hosts)
            # exit 1: the lab is not as the manifest says (every guest to create)
            out[step] = self.timed(self.vp_argv("status", lab), hosts, ok_codes=(1,))
            step = "apply"
            out[step] = self.timed(self.apply_argv(lab), hosts)
            placed = self.check_guests(hosts, names)
            out[step]["per_host"] = {h: len(g) for h, g in placed.items()}
            if rep == 0:
                self.sample_volumes("virt-provision", hosts,
                                    {h: g[0] for h, g in placed.items() if g})
            step = "status"
            out[step] = self.timed(self.vp_argv("status", lab), hosts)
            step = "noop"
            out[step] = self.timed(self.apply_argv(lab), hosts)
            if self.check_guests(hosts, names) != placed:
                raise CommandFailed("the no-op apply moved guests")
            step = "destroy"
            out[step] = self.timed(self.vp_argv("destroy", lab), hosts)
            self.check_empty(hosts)
        except (CommandFailed, OSError, ValueError) as e:
            self.fail("apply, %d host%s, run %d, %s" % (k, "s"[:k > 1], rep + 1, step), e)
            self.recover(hosts, lab)
            return None
        return out

    def trace_lab(self, k):
        """One untimed `virt-provision -v --json apply` on K hosts, every stderr line
        stamped as it arrives; then `status --json` and destroy. Returns the trace."""
        hosts = self.hosts.subset(k)
        lab = self.lab_path[k]
        lines = []
        try:
            self.check_empty(hosts)
            os.sync()
            t0 = time.perf_counter()
            p = subprocess.Popen(self.apply_argv(lab, "-v", "--json"),
                                 cwd=self.hosts.dir, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)

            def reader():
                for raw in p.stderr:
                    lines.append((time.perf_counter() - t0,
                                  raw.decode(errors="replace").rstrip("\n")))
            th = threading.Thread(target=reader)
            th.start()
            killer = threading.Timer(self.args.timeout, p.kill)  # as --timeout
            killer.start()
            doc_text = p.stdout.read()
            p.wait()
            killer.cancel()
            th.join()
            wall = time.perf_counter() - t0
            if wall >= self.args.timeout:
                raise CommandFailed("`%s` did not finish within %g s: killed" % (
                    " ".join(self.apply_argv(lab, "-v", "--json")), self.args.timeout))
            try:
                doc = json.loads(doc_text)
            except ValueError as e:
                raise CommandFailed("apply --json printed no JSON document (exit %d, %s): "
                                    "%r" % (p.returncode, e, doc_text[:300]))
            if p.returncode != 0:
                bad = ["%s on %s: %s: %s" % (g.get("name"), g.get("host"), g.get("action"),
                                             g.get("error"))
                       for g in doc.get("guests", []) if g.get("action") != "create"]
                raise CommandFailed("`%s` exited with %d; %d guests not created:\n    %s" % (
                    " ".join(self.apply_argv(lab, "-v", "--json")), p.returncode,
                    len(bad), "\n    ".join(bad[:20])))
            st = run([self.vp, "--json", "status", lab]).stdout
            status = json.loads(st)
            run([self.vp, "destroy", lab], timeout=600)
            self.check_empty(hosts)
        except (CommandFailed, OSError, ValueError) as e:
            self.fail("traced apply, %d host%s" % (k, "s"[:k > 1]), e)
            self.recover(hosts, lab)
            return None
        return summarize_trace(k, wall, lines, doc, status, self.vp_guests())

    # -- virt-install -----------------------------------------------------------
    def vi_argv(self, host=None, name=None):
        """The one virt-install command line of bench-provision.py (without
        --connect and --name when no host is given: xargs appends them)."""
        gib = "%g" % (self.size_bytes / (1 << 30))
        where = ["--connect", host["uri"], "--name", name] if host else []
        return [self.args.virt_install] + where + [
                "--memory", "512", "--vcpus", "1",
                "--disk", "pool=%s,size=%s,format=qcow2" % (POOL, gib),
                "--import", "--osinfo", "generic", "--virt-type", "qemu",
                "--noautoconsole", "--noreboot", "--graphics", "none", "--network", "none"]

    def run_vi(self, rep, way):
        """One repetition of xargs -P4 virt-install on the two hosts, then their
        removal (timed: one virsh per host, hosts at once). WAY "retry": every
        virt-install in RETRY_SH; "flock": under `flock HOST.lock`, so that one
        host's pool has one virt-install at a time. Returns figures."""
        hosts = self.hosts.subset(2)
        expect = {h["name"]: [] for h in hosts}
        retries = os.path.join(self.hosts.dir, "virt-install.retries")
        items = []
        for i in range(1, self.args.guests + 1):
            h = hosts[(i - 1) % len(hosts)]  # alternate, so both hosts work at once
            name = "%s-%d" % (VI_PREFIX, i)
            expect[h["name"]].append(name)
            where = ["--connect", h["uri"], "--name", name]
            if way == "flock":
                # the whole command is in the items: flock LOCK virt-install ... WHERE
                lock = os.path.join(self.hosts.dir, "%s.lock" % h["name"])
                items += [lock] + self.vi_argv() + where
            else:
                items += where
        listing = os.path.join(self.hosts.dir, "virt-install.list")
        with open(listing, "w") as f:
            f.write("\n".join(items) + "\n")
        # One item a line; xargs appends N items to the command each time.
        if way == "flock":
            argv = ["xargs", "-a", listing, "-d", "\\n", "-n", str(len(items) // self.args.guests),
                    "-P", str(self.args.xargs_jobs), "flock"]
        else:
            argv = ["xargs", "-a", listing, "-d", "\\n", "-n", "4",
                    "-P", str(self.args.xargs_jobs), "sh", "-c", RETRY_SH, "sh",
                    retries] + self.vi_argv()
        out = {"argv": argv}
        step = "create"
        try:
            self.check_empty(hosts)
            with open(retries, "w"):
                pass
            out[step] = self.timed(argv, hosts, timeout=10 * self.args.timeout)
            with open(retries) as f:
                out[step]["retries"] = sum(1 for _ in f)
            self.check_guests(hosts, [g for gs in expect.values() for g in gs], expect)
            out[step]["per_host"] = {h: len(g) for h, g in expect.items()}
            if rep == 0 and way == "retry":
                self.sample_volumes("virt-install", hosts,
                                    {h: n[0] for h, n in expect.items()})
            step = "remove"
            a = self.probe.snap()
            self.scrub(hosts, expect)
            b = self.probe.snap()
            out[step] = dict(wall_s=b["t"] - a["t"])
            out[step].update(CpuProbe.delta(a, b, list(expect)))
            self.check_empty(hosts)
        except (CommandFailed, OSError, ValueError) as e:
            self.fail("virt-install (%s), run %d, %s" % (way, rep + 1, step), e)
            self.recover(hosts)
            return None
        return out

    # -- single guests and connections --------------------------------------------
    def single(self, host, tool):
        if tool == "virt-provision":
            return [self.vp, "-c", host["uri"], "provision", "--pool", POOL,
                    "--name", SINGLE, "--size", self.args.size, "--import",
                    "--virt-type", "qemu", "--memory", "512M", "--vcpus", "1",
                    "--network", "none", "--graphics", "none"]
        return self.vi_argv(host, SINGLE)

    def warm_up(self):
        """Untimed: one guest of each tool on every host, so that the daemons'
        first-call costs (capabilities probing, caches) land on no timed run."""
        def one(h):
            for tool in ("virt-provision", "virt-install"):
                run(self.single(h, tool), timeout=300)
                self.scrub([h], {h["name"]: [SINGLE]})
        on_hosts(self.hosts.hosts, one)
        self.check_empty(self.hosts.hosts)

    def references(self):
        """Best of --repeat: one guest alone per tool and transport (the serial cost
        of a guest), and a bare `virsh uri` per transport (connecting)."""
        refs = {}
        if self.hosts.system:
            ends = [("ssh", self.hosts.hosts[0])]
        else:
            ends = [("unix", self.hosts.hosts[0]), ("ssh", self.hosts.hosts[-1])]
        for transport, h in ends:
            for tool in ("virt-provision", "virt-install"):
                runs = []
                for _ in range(self.args.repeat):
                    runs.append(self.timed(self.single(h, tool), [h]))
                    self.scrub([h], {h["name"]: [SINGLE]})
                best = min(runs, key=lambda r: r["wall_s"])
                refs[(tool, transport)] = dict(best, median_s=statistics.median(
                    r["wall_s"] for r in runs), host=h["name"])
            r = best_run([self.args.virsh, "-q", "-c", h["uri"], "uri"], self.hosts.dir)
            refs[("virsh uri", transport)] = dict(wall_s=r[0], host=h["name"])
        self.check_empty(self.hosts.hosts)
        return refs

    def pool_paths(self):
        """host name -> the target path of its pool "default" (system hosts: made by
        the warm-up's first virt-provision, as on a fresh hypervisor)."""
        def one(h):
            xml = self.virsh(h, "pool-dumpxml", POOL).stdout
            m = re.search(r"<path>([^<]*)</path>", xml)
            return m.group(1) if m else None
        return dict(zip((h["name"] for h in self.hosts.hosts),
                        on_hosts(self.hosts.hosts, one)))


def summarize_trace(k, wall, lines, doc, status, names):
    """Where a traced apply spent its time: when each guest was last named on
    stderr (its last step), the phases around them, and what --json said."""
    last, first = {}, {}
    pattern = re.compile(r"(?<![\w.-])(%s-\d+)(?![\w-])" % re.escape(VP_ENTRY))
    for t, line in lines:
        for m in pattern.finditer(line):
            first.setdefault(m.group(1), t)
            last[m.group(1)] = t
    done = sorted(last.values())
    # The kinds of step -v reports, with names, URIs and numbers taken out:
    # when each kind was first and last seen, and how often (the timeline).
    kinds = {}
    for t, line in lines:
        kind = re.sub(r"^virt-provision: ", "", line)
        kind = re.sub(r"'[^']*'", "'*'", kind)
        kind = re.sub(r"\([a-z+]+://[^)]*\)", "(URI)", kind)
        kind = re.sub(r"\d+", "N", kind)
        k_ = kinds.setdefault(kind, {"kind": kind, "count": 0, "first_s": t})
        k_["count"] += 1
        k_["last_s"] = t
    timeline = sorted(kinds.values(), key=lambda k_: k_["first_s"])
    actions = {}
    for g in doc.get("guests", []):
        actions[g.get("action")] = actions.get(g.get("action"), 0) + 1
    st_actions = {}
    for g in status.get("guests", []):
        st_actions[g.get("action")] = st_actions.get(g.get("action"), 0) + 1
    per_host = {}
    for g in doc.get("guests", []):
        per_host[g.get("host")] = per_host.get(g.get("host"), 0) + 1
    timing_keys = sorted({key for g in doc.get("guests", []) for key in g
                          if re.search(r"time|second|elapsed|duration", key)})
    quartiles = [done[min(len(done) - 1, max(0, int(len(done) * q) - 1))]
                 for q in (0.25, 0.5, 0.75, 1.0)] if done else []
    return {
        "hosts": k, "wall_s": wall, "stderr_lines": len(lines),
        "first_line_s": lines[0][0] if lines else None,
        "first_guest_named_s": min(first.values()) if first else None,
        "first_guest_done_s": done[0] if done else None,
        "guests_done_quartiles_s": quartiles,
        "last_guest_done_s": done[-1] if done else None,
        "guests_named": len(last), "guests_expected": len(names),
        "json_actions": actions, "json_per_host": per_host,
        "json_hosts": doc.get("hosts"), "status_actions": st_actions,
        "json_timing_keys": timing_keys, "timeline": timeline,
        "stderr_head": [l for _, l in lines[:15]],
        "stderr_tail": [l for _, l in lines[-5:]],
        "stderr": [["%.4f" % t, l] for t, l in lines[:2000]],
    }


def fold(runs, step):
    """Figures of one step over the repetitions: best/median/worst wall-clock and
    the CPU readings of the best run."""
    rows = [r[step] for r in runs if r and step in r]
    if not rows:
        return None
    walls = [r["wall_s"] for r in rows]
    best = min(rows, key=lambda r: r["wall_s"])
    return dict(best, runs_s=walls, best_s=best["wall_s"],
                median_s=statistics.median(walls), worst_s=max(walls))


def main():
    ap = argparse.ArgumentParser(
        description="Compare `virt-provision apply` (a lab of define-only guests over "
                    "two hosts) with xargs -P4 virt-install, and measure how apply scales "
                    "with the number of hosts, against private libvirt hosts "
                    "(tests/libvirt/hosts.sh). Prints figures; asserts nothing.")
    add_vp_option(ap)
    ap.add_argument("--virt-install", default="virt-install",
                    help="virt-install binary (default: from PATH; Debian package virtinst)")
    ap.add_argument("--virsh", default="virsh", help="virsh binary (default: from PATH)")
    ap.add_argument("--qemu-img", default="qemu-img", help="qemu-img binary (default: from PATH)")
    ap.add_argument("--guests", type=int, default=100,
                    help="guests of every run, whatever the number of hosts (default: 100)")
    ap.add_argument("--size", default="20G", help="disk size of every guest (default: 20G)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per target; the best wall-clock counts (default: 3)")
    ap.add_argument("--hosts-scaling", default="1,2,4",
                    help="host counts of the scaling part, comma-separated (default: 1,2,4)")
    ap.add_argument("--jobs", type=int,
                    help="--jobs for apply (default: the tool's own, 4 per host)")
    ap.add_argument("--xargs-jobs", type=int, default=4,
                    help="virt-install processes at once, xargs -P (default: 4)")
    ap.add_argument("--timeout", type=float, default=120,
                    help="end a virt-provision command still running after this many "
                         "seconds, and count it as failed (default: 120; the xargs "
                         "virt-install runs get 10 times as long)")
    ap.add_argument("--no-trace", action="store_true",
                    help="skip the traced `-v --json apply` per host count")
    ap.add_argument("--dir", default="/tmp",
                    help="parent of the hosts' directory (default: /tmp; keep it short: "
                         "unix socket paths live under it)")
    ap.add_argument("--system-hosts", action="store_true",
                    help="system libvirtds over ssh, each in namespaces of its own "
                         "(tests/libvirt/system-hosts.sh), instead of hosts.sh")
    ap.add_argument("--links", default="unshaped,shaped",
                    help="with --system-hosts: the link set-ups to run, in order "
                         "(default: unshaped,shaped)")
    ap.add_argument("--rate", default="100mbit",
                    help="shaped links: rate each way, as tc writes it (default: 100mbit)")
    ap.add_argument("--delay", default="20ms",
                    help="shaped links: delay each way (default: 20ms, a 40 ms round trip)")
    ap.add_argument("--no-compression", action="store_true",
                    help="with --system-hosts: skip the apply runs with ssh compression")
    add_json_option(ap)
    args = parse_args(ap)

    try:
        size_bytes = parse_size(args.size)
        scaling = sorted({int(x) for x in args.hosts_scaling.split(",") if x.strip()})
    except (argparse.ArgumentTypeError, ValueError) as e:
        ap.error("bad --size or --hosts-scaling: %s" % e)
    if not scaling or scaling[0] < 1 or scaling[-1] > 16:
        ap.error("--hosts-scaling: host counts between 1 and 16")
    if not 1 <= args.guests <= 1000:
        ap.error("--guests must be 1..1000 (one manifest entry)")
    if args.jobs is not None and args.jobs < 1 or args.xargs_jobs < 1:
        ap.error("--jobs and --xargs-jobs must be at least 1")
    if args.timeout <= 0:
        ap.error("--timeout must be positive")
    if size_bytes % (1 << 30):
        ap.error("--size must be whole GiB (virt-install's size= is in GiB)")
    links = [x.strip() for x in args.links.split(",") if x.strip()]
    if not links or set(links) - {"unshaped", "shaped"}:
        ap.error("--links: unshaped, shaped or both")
    m = re.match(r"^(\d+(?:\.\d+)?)(ms|s)$", args.delay)
    if not m:
        ap.error("--delay: e.g. 20ms")
    delay_s = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    rate_m = re.match(r"^(\d+(?:\.\d+)?)([kmg]?)bit$", args.rate)
    if not rate_m:
        ap.error("--rate: e.g. 100mbit")
    rate_bytes = float(rate_m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[
        rate_m.group(2)] / 8
    if not args.system_hosts:
        links = [None]
    if not args.vp:
        guess = os.path.join(HERE, "..", "build", "src", "virt-provision")
        if os.access(guess, os.X_OK):
            args.vp = guess
    vp = vp_binary(ap, args.vp, "bench-lab")
    if vp is None:
        return 1
    if os.geteuid() != 0:
        print("bench-lab: must run as root: hosts.sh runs each host as a user of its own "
              "and an sshd for the ssh host; system-hosts.sh makes namespaces",
              file=sys.stderr)
        return 1
    for attr, pkg in (("virsh", "libvirt-clients"), ("qemu_img", "qemu-utils"),
                      ("virt_install", "virtinst")):
        found = shutil.which(getattr(args, attr))
        if not found:
            print("bench-lab: %s not found (Debian package %s)"
                  % (getattr(args, attr), pkg), file=sys.stderr)
            return 1
        setattr(args, attr, found)
    if not shutil.which("xargs"):
        print("bench-lab: xargs not found (Debian package findutils)", file=sys.stderr)
        return 1
    script = SYSTEM_HOSTS_SH if args.system_hosts else HOSTS_SH
    if not os.access(script, os.X_OK):
        print("bench-lab: %s not found" % script, file=sys.stderr)
        return 1
    if args.system_hosts and "shaped" in links:
        for prog, pkg in (("tc", "iproute2"), ("iptables", "iptables"),
                          ("ping", "iputils-ping"), ("nsenter", "util-linux")):
            if not shutil.which(prog):
                print("bench-lab: %s not found (Debian package %s)" % (prog, pkg),
                      file=sys.stderr)
                return 1

    say, progress = reporters(args.json)

    unwind_on_signals()

    b = Bench(args, vp, say, progress)
    b.size_bytes = size_bytes
    n_hosts = max(scaling[-1], 2)
    b.hosts = Hosts(args.dir, n_hosts, progress, system=args.system_hosts)
    counts = sorted(set(scaling) | {2})
    has_apply = run([vp, "apply", "--help"], check=False).returncode == 0
    if not has_apply:
        b.fail("virt-provision", "%s has no `apply` command: the lab runs are skipped" % vp)
    phases = []
    meta = {}
    shaper = None
    try:
        b.hosts.start()
        hs = b.hosts.hosts
        b.probe = CpuProbe({h["name"]: h["daemon_pid"] for h in hs}, b.hosts.sshds,
                           {h["name"]: h["veth"] for h in hs if h.get("veth")})
        b.lab_path = {k: b.write_lab(b.hosts.subset(k),
                                     os.path.join(b.hosts.dir, "lab-%dh.yaml" % k))
                      for k in counts}
        mnt, fstype = fs_of(hs[0]["local_images"])
        floor = best_run(["/bin/true"], b.hosts.dir)
        meta = {
            "hosts_dir": b.hosts.dir, "mount_point": mnt, "fs_type": fstype,
            "hosts": hs, "kernel": platform.release(), "cpus": os.cpu_count(),
            "repeat": args.repeat, "guests": args.guests, "size": args.size,
            "hosts_scaling": scaling, "jobs": args.jobs, "xargs_jobs": args.xargs_jobs,
            "system_hosts": args.system_hosts,
            "virt_provision": vp, "virt_provision_version": tool_version([vp, "--version"]),
            "virt_install_version": tool_version([args.virt_install, "--version"]),
            "labs": {k: [h["name"] for h in b.hosts.subset(k)] for k in counts},
            "cache": "warm: one untimed guest of each tool on every host first; sync(2) "
                     "before every timed run",
            "spawn_floor": {"wall_s": floor[0], "peak_rss_kib": floor[1]},
            "loadavg_start": os.getloadavg(),
        }
        if args.system_hosts:
            meta["shaped_link"] = {"rate": args.rate, "rate_bytes_per_s": rate_bytes,
                                   "delay_each_way_s": delay_s}
        say("bench-lab: %d %shosts in %s (%s on %s), kernel %s, %d CPUs, %d guests of %s, "
            "best of %d" % (n_hosts, "system " if args.system_hosts else "", b.hosts.dir,
                            fstype, mnt, meta["kernel"], meta["cpus"] or 0, args.guests,
                            args.size, args.repeat))
        say("  hosts: %s" % ", ".join("%s (%s, %s)" % (h["name"], h["transport"], h["user"])
                                      for h in hs))
        say("  virt-provision: %s (%s)" % (vp, meta["virt_provision_version"]))
        say(floor_line(floor))
        say("  load average at start: %.2f %.2f %.2f" % meta["loadavg_start"])
        if meta["loadavg_start"][0] > 1.0:
            say("  warning: the machine is busy (load %.2f on %d CPUs): expect noise"
                % (meta["loadavg_start"][0], meta["cpus"] or 0))

        progress("  warm-up: one guest of each tool on every host ...")
        b.warm_up()
        # after the warm-up: a fresh system host has no pool until the first
        # virt-provision makes it
        ver = b.virsh(hs[0], "version").stdout
        meta["libvirt_version"] = " ".join(l.split(":", 1)[1].strip()
                                           for l in ver.splitlines()
                                           if l.startswith("Using library"))
        say("  virt-install: %s (%s); libvirt %s" % (
            args.virt_install, meta["virt_install_version"], meta["libvirt_version"]))
        if args.system_hosts:
            meta["pool_paths"] = b.pool_paths()
            say("  pool %s, made by virt-provision's first guest on each host: %s" % (
                POOL, ", ".join("%s %s" % kv for kv in meta["pool_paths"].items())))
            shaper = Links(hs, args.rate, delay_s, progress)
        for link in links:
            ph = {"name": link, "refs": {}, "vi": [], "vif": [], "labs": {}, "zlabs": {},
                  "traces": {}, "rtt": {}}
            phases.append(ph)
            if link == "shaped":
                progress("  shaping every host's link: %s and %s each way ..."
                         % (args.rate, args.delay))
                shaper.shape()
            if link:
                ph["rtt"] = {h["name"]: shaper.rtt(h) for h in hs}
            run_phase(b, ph, counts, has_apply, link)
    except KeyboardInterrupt as e:
        print("bench-lab: interrupted (%s)" % (e or "Ctrl-C"), file=sys.stderr)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the purge finish
        if shaper:
            shaper.unshape()
        b.hosts.purge()
        return 1
    except (CommandFailed, OSError) as e:
        print("bench-lab: %s" % e, file=sys.stderr)
        b.fail("set-up", e)
    finally:
        # Also on any other exception: never leave the hosts running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if shaper:
            shaper.unshape()
        if b.failed:
            kept = b.hosts.keep_logs()
            if kept:
                print("bench-lab: the hosts' logs are kept in %s" % kept, file=sys.stderr)
                meta["logs_kept"] = kept
        b.hosts.purge()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    report(args, b, meta, phases, scaling, say)
    return 1 if b.failed else 0


def run_phase(b, ph, counts, has_apply, link):
    """The single-guest references, then every target --repeat times in rotating
    order, then the traced applies, on the links as they are now. LINK is None
    (hosts.sh), "unshaped" or "shaped"; system hosts add apply on 2 hosts with ssh
    compression (information) and leave out the flock peer."""
    args, progress = b.args, b.progress
    tag = " (%s links)" % link if link else ""
    progress("  single-guest references%s ..." % tag)
    ph["refs"] = b.references()
    targets = ["virt-install"] + ([] if link else ["virt-install-flock"])
    if has_apply:
        targets += ["apply %d" % k for k in counts]
        if link and not args.no_compression:
            targets.append("apply 2 compressed")
    for rep, target in rotated(targets, args.repeat):
        progress("  %s run %d/%d%s ..." % (target, rep + 1, args.repeat, tag))
        if target == "virt-install":
            ph["vi"].append(b.run_vi(rep, "retry"))
        elif target == "virt-install-flock":
            ph["vif"].append(b.run_vi(rep, "flock"))
        else:
            k = int(target.split()[1])
            b.compress = target.endswith("compressed")
            try:
                runs = ph["zlabs"] if b.compress else ph["labs"]
                runs.setdefault(k, []).append(b.run_lab(k, rep))
            finally:
                b.compress = False
    if has_apply and not args.no_trace:
        for k in counts:
            progress("  traced apply -v, %d host%s%s ..." % (k, "s"[:k > 1], tag))
            ph["traces"][k] = b.trace_lab(k)


def report(args, b, meta, phases, scaling, say):
    """Every phase's tables, then the verdicts and the JSON document."""
    meta["loadavg_end"] = os.getloadavg()
    docs = [report_phase(args, b, meta, ph, scaling, say) for ph in phases]
    say("load average at start %.2f, at end %.2f" % (
        meta.get("loadavg_start", (0,))[0], meta["loadavg_end"][0]))

    verdicts = Verdicts(say)
    say("")
    n = args.guests
    for ph, doc in zip(phases, docs):
        shaped = ph["name"] == "shaped"
        target = TARGET_LAB_SPEEDUP_SHAPED if shaped else TARGET_LAB_SPEEDUP
        name = "lab-speedup" + ("-%s" % ph["name"] if ph["name"] else "")
        where = " on %s links" % ph["name"] if ph["name"] else ""
        if shaped:
            where += " (%s, %s each way)" % (args.rate, args.delay)
        x = doc["ratios"]["virt_install_over_apply"]
        if x is None:
            verdicts(name, None, "xargs -P%d virt-install / virt-provision apply (%d guests, "
                     "2 hosts%s) not measured" % (args.xargs_jobs, n, where))
            continue
        vi_gps, vp_gps = doc["virt_install"]["guests_per_s"], doc["apply"]["guests_per_s"]
        extra = ""
        if doc.get("flock_virt_install"):
            extra = "; with flock (one virt-install per host at a time, no retries) %s" % (
                fmt_x(doc["ratios"]["flock_virt_install_over_apply"]))
        verdicts(name, x >= target,
                 "xargs -P%d virt-install / virt-provision apply, %d guests over 2 hosts%s "
                 "= %.1fx best/best (target >= %gx); %.1f vs %.1f guests/s%s" % (
                     args.xargs_jobs, n, where, x, target, vi_gps, vp_gps, extra))
    for f in b.failed:
        say("FAILED: %s" % f)

    if args.json:
        doc = {"meta": meta, "verdicts": verdicts, "failures": b.failed}
        if args.system_hosts:
            doc["phases"] = {ph["name"]: d for ph, d in zip(phases, docs)}
        elif docs:
            doc.update(docs[0])
        write_json(doc, args.json)


def per_guest(row, n):
    """Client CPU ms and bytes sent per guest of a run (bytes: system hosts only)."""
    if not row:
        return None, None
    sent = row.get("bytes_to_hosts")
    ms = 1000 * row["client_cpu_s"] / n if "client_cpu_s" in row else None
    return ms, sent / n if sent is not None else None


def report_phase(args, b, meta, ph, scaling, say):
    """Prints one phase (one set-up of the links): single guests, part 1, the
    scaling and where the time goes. Returns its part of the JSON document."""
    n = args.guests
    refs, vi, vif, labs, traces = ph["refs"], ph["vi"], ph["vif"], ph["labs"], ph["traces"]
    system = args.system_hosts
    two = [h["name"] for h in b.hosts.subset(2)] if b.hosts.hosts else []
    title = ""
    if ph["name"]:
        title = " [%s links%s]" % (ph["name"], ", %s and %s each way" % (
            args.rate, args.delay) if ph["name"] == "shaped" else "")

    def gps(row):
        return n / row["best_s"] if row and row["best_s"] > 0 else None

    def cpu(row, guests=n):
        if not row:
            return "-"
        busy = row.get("machine_busy")
        text = "%6.2f %7.2f %6.2f %5s" % (
            row.get("client_cpu_s", 0.0), row["daemons_cpu_s"], row["sshd_cpu_s"],
            "%d%%" % round(100 * busy) if busy is not None else "-")
        if system:
            ms, sent = per_guest(row, guests)
            text += " %8s %9s" % ("%.1f" % ms if ms is not None else "-",
                                  human(sent) if sent is not None else "-")
        return text

    cpu_head = "%6s %7s %6s %5s" % ("client", "daemons", "sshd", "busy")
    if system:
        cpu_head += " %8s %9s" % ("ms/guest", "sent/guest")
    vi_create, vi_remove = fold(vi, "create"), fold(vi, "remove")
    vif_create = fold(vif, "create")
    lab = {k: {s: fold(labs.get(k, []), s) for s in VP_CHECKS} for k in sorted(labs)}
    zlab = {k: fold(runs, "apply") for k, runs in ph["zlabs"].items()}

    if ph["name"]:
        say("")
        say("=== %s links%s" % (ph["name"], title[len(ph["name"]) + 8:-1]))
        for h, r in sorted(ph["rtt"].items()):
            say("  %s round trip: ping %s ms (the veths and tbf queues)%s" % (
                h, "%.2f" % r["ping_ms"] if r["ping_ms"] is not None else "?",
                "; 1-byte TCP echo through the delay relay %.1f ms" % r["echo_ms"]
                if r["echo_ms"] is not None else ""))

    # ---- single guests ---
    if refs:
        say("")
        say("one guest alone (best of %d; the serial cost of a guest)%s:" % (args.repeat, title))
        say("  %-16s %-9s %8s %8s   %s" % ("tool", "transport", "best s", "median s",
                                          "CPU s: " + cpu_head))
        for (tool, transport), r in refs.items():
            if tool == "virsh uri":
                continue
            say("  %-16s %-9s %8.3f %8.3f   %s" % (tool, transport, r["wall_s"],
                                                  r["median_s"], "       " + cpu(r, 1)))
        say("  connecting alone, `virsh uri` (best of 3): %s" % ", ".join(
            "%s %.3f s" % (t, r["wall_s"]) for (tool, t), r in refs.items()
            if tool == "virsh uri"))

    # ---- part 1 ---
    say("")
    say("part 1: %d define-only guests of %s over 2 hosts (%s), best of %d%s"
        % (n, args.size, " + ".join(two), args.repeat, title))
    say("  %-34s %8s %8s %8s %9s   %s" % ("target", "best s", "median s", "worst s",
                                         "guests/s", "CPU s: " + cpu_head))
    rows = [("virt-provision apply", lab.get(2, {}).get("apply")),
            ("xargs -P%d virt-install (retried)" % args.xargs_jobs, vi_create)]
    if not system:
        rows.append(("xargs -P%d flock virt-install" % args.xargs_jobs, vif_create))
    elif ph["zlabs"]:
        rows.append(("apply, ssh Compression=yes", zlab.get(2)))
    rows += [("virt-provision destroy", lab.get(2, {}).get("destroy")),
             ("virsh undefine --remove-all-storage", vi_remove)]
    for label, r in rows:
        if r:
            say("  %-34s %8.3f %8.3f %8.3f %9.1f   %s" % (
                label, r["best_s"], r["median_s"], r["worst_s"], gps(r), "       " + cpu(r)))
        else:
            say("  %-34s %8s" % (label, "failed" if label.startswith(("virt-p", "xargs"))
                                 else "-"))
    say("  (CPU s of the best run: client = the command and every process it started, "
        "also those left for others to reap (virt-install processes, ssh: "
        "run_measured_tree); daemons = the hosts' libvirtd with what they "
        "reaped (qemu-img); sshd = the hosts' sshd and sessions (virt-ssh-helper); "
        "busy = all CPUs of the machine during the run, other jobs included. "
        "virsh undefine: one virsh per host, hosts at once%s)" % (
            "; ms/guest = client CPU / guests; sent/guest = bytes the client's side "
            "put on the hosts' links (veth counters, headers included) / guests"
            if system else ""))
    per_host = lab.get(2, {}).get("apply", {}) or {}
    if per_host.get("per_host"):
        say("  placement by apply: %s; virt-install: %s" % (
            ", ".join("%s %d" % kv for kv in per_host["per_host"].items()),
            ", ".join("%s %d" % kv for kv in (vi_create or {}).get("per_host", {}).items())))
    if vi_create:
        tries = [r["create"].get("retries", 0) for r in vi if r]
        say("  virt-install retried after \"pool 'default' has asynchronous jobs running\" "
            "(in its time; see RETRY_SH): %d in the best run, %s over all runs"
            % (vi_create.get("retries", 0), "/".join(str(t) for t in tries)))
    facts = list(b.facts.values())
    if facts and ph is ph_first(b, ph):
        say("  sample volumes (qemu-img info/check):")
        for tool_host, f in b.facts.items():
            say("    %-14s %-6s %-10s virtual %s, file length %s, allocated %s, %s/%s "
                "clusters, preallocation %s, check %s" % (
                    tool_host[0], tool_host[1], f["volume"], human(f["virtual_size"] or 0),
                    human(f["file_length"]), human(f["allocated_bytes"]),
                    f["allocated_clusters"], f["total_clusters"], f["preallocation"],
                    "clean" if f["check_exit"] == 0 else "exit %d" % f["check_exit"]))

    vp2 = lab.get(2, {}).get("apply")
    ratios = {"virt_install_over_apply": ratio(vi_create, vp2, "best_s"),
              "virt_install_over_apply_median": ratio(vi_create, vp2, "median_s"),
              "flock_virt_install_over_apply": ratio(vif_create, vp2, "best_s"),
              "flock_virt_install_over_apply_median": ratio(vif_create, vp2, "median_s"),
              "virt_install_over_compressed_apply": ratio(vi_create, zlab.get(2), "best_s")}
    line = "  virt-install (retried) / apply: %s best/best, %s median/median" % (
        fmt_x(ratios["virt_install_over_apply"]),
        fmt_x(ratios["virt_install_over_apply_median"]))
    if not system:
        line += "; flock virt-install / apply: %s, %s" % (
            fmt_x(ratios["flock_virt_install_over_apply"]),
            fmt_x(ratios["flock_virt_install_over_apply_median"]))
    elif zlab.get(2):
        line += "; virt-install / apply with ssh compression: %s" % fmt_x(
            ratios["virt_install_over_compressed_apply"])
    say(line)

    # ---- part 2 ---
    base = lab.get(scaling[0], {}).get("apply")  # speed-ups relative to the fewest hosts
    say("")
    say("part 2: scaling, the same %d guests over 1..%d hosts (apply; %s), best of %d%s" % (
        n, scaling[-1], "hosts 1..K, all system daemons over ssh" if system else
        "host1 alone, then hosts 1..K-1 and the ssh host", args.repeat, title))
    say("  %-5s %8s %8s %9s %8s %10s %10s %8s %8s   %s" % (
        "hosts", "best s", "median s", "guests/s", "vs %d" % scaling[0], "status-0 s",
        "status s", "no-op s", "destroy", "apply CPU s: " + cpu_head))
    scale_rows = []
    for k in scaling:
        steps = lab.get(k, {})
        a = steps.get("apply")
        if not a:
            say("  %-5d %8s" % (k, "failed" if k in lab else "-"))
            continue
        sp = gps(a) / gps(base) if base and gps(base) else None
        row = {"hosts": k, "apply": a, "guests_per_s": gps(a), "speedup": sp,
               "speedup_relative_to_hosts": scaling[0]}
        if system:
            row["client_cpu_ms_per_guest"], row["bytes_sent_per_guest"] = per_guest(a, n)
        row.update({s: steps.get(s) for s in VP_CHECKS if s != "apply"})
        scale_rows.append(row)

        def best(s):
            return "%.3f" % steps[s]["best_s"] if steps.get(s) else "-"
        say("  %-5d %8.3f %8.3f %9.1f %8s %10s %10s %8s %8s   %s" % (
            k, a["best_s"], a["median_s"], gps(a), fmt_x(sp), best("status-empty"),
            best("status"), best("noop"), best("destroy"), "             " + cpu(a)))
    say("  (status-0: `status` before apply, nothing there: contacting the hosts and "
        "reading their state; status: with the %d guests; no-op: a second apply, "
        "every guest kept: the fixed cost of an apply)" % n)

    where_time(args, b, meta, ph, lab, scale_rows, vi_create, vif_create, say)

    def with_gps(row):
        return dict(row, guests_per_s=gps(row)) if row else None
    return {"link": ph["name"], "rtt": ph["rtt"],
            "single_guest": [dict(v, tool=k[0], transport=k[1]) for k, v in refs.items()],
            "part1": {"apply": with_gps(vp2), "destroy": lab.get(2, {}).get("destroy"),
                      "virt_install": with_gps(vi_create), "virt_install_remove": vi_remove,
                      "flock_virt_install": with_gps(vif_create),
                      "compressed_apply": with_gps(zlab.get(2)),
                      "ratios": ratios, "volumes": facts},
            "apply": with_gps(vp2), "virt_install": with_gps(vi_create),
            "flock_virt_install": with_gps(vif_create), "ratios": ratios,
            "scaling": scale_rows,
            "runs": {"virt-install": vi, "virt-install-flock": vif,
                     **{"apply %d" % k: v for k, v in labs.items()},
                     **{"apply %d compressed" % k: v for k, v in ph["zlabs"].items()}},
            "traces": {str(k): v for k, v in traces.items()}}


def ph_first(b, ph):
    """The phase that prints the sample volumes (the first one reported)."""
    if not hasattr(b, "first_phase"):
        b.first_phase = ph
    return b.first_phase


def where_time(args, b, meta, ph, lab, scale_rows, vi_create, vif_create, say):
    """The 'where the time goes' lines of a phase."""
    n = args.guests
    refs, traces = ph["refs"], ph["traces"]
    say("")
    say("where the time goes:")
    one = {t: refs.get(("virt-provision", t)) for t in ("unix", "ssh")}
    rate = meta.get("shaped_link", {}).get("rate_bytes_per_s") \
        if ph["name"] == "shaped" else None
    for row in scale_rows:
        k, a = row["hosts"], row["apply"]
        hosts = b.hosts.subset(k)
        serial = None
        if all(one[h["transport"] if h["transport"] == "ssh" else "unix"] for h in hosts):
            serial = sum(one["ssh" if h["transport"] == "ssh" else "unix"]["wall_s"]
                         for h in hosts) / len(hosts) * n
        fixed = row["noop"]["best_s"] if row.get("noop") else None
        per_guest_s = (a["best_s"] - fixed) / n if fixed is not None else None
        cpu_all = a["client_cpu_s"] + a["daemons_cpu_s"] + a["sshd_cpu_s"]
        say("  %d host%s: apply %.3f s = fixed %s + %d guests x %s; the same guests one "
            "`provision` at a time would take ~%s s (%s); CPU %.2f s (client %.0f%%, "
            "daemons %.0f%%, sshd %.0f%%) = %.2f of %d CPUs over the wall-clock%s" % (
                k, "s"[:k > 1], a["best_s"],
                "%.3f s (no-op)" % fixed if fixed is not None else "?", n,
                "%.1f ms" % (1000 * per_guest_s) if per_guest_s is not None else "?",
                "%.1f" % serial if serial else "?",
                fmt_x(serial / a["best_s"]) + " faster in parallel" if serial else "-",
                cpu_all, 100 * a["client_cpu_s"] / cpu_all if cpu_all else 0,
                100 * a["daemons_cpu_s"] / cpu_all if cpu_all else 0,
                100 * a["sshd_cpu_s"] / cpu_all if cpu_all else 0,
                cpu_all / a["best_s"], meta.get("cpus") or 0,
                "; per daemon: " + ", ".join("%s %.2f" % kv for kv in a["daemon_cpu_s"].items())))
        if rate and a.get("bytes_to_host"):
            # the busiest link alone at RATE: what the upload costs at the least
            busiest = max(a["bytes_to_host"].values())
            say("    links: %s to the hosts (%s a guest), the busiest link %s = %.2f s at "
                "%s: the link was busy %.0f%% of the apply" % (
                    human(a["bytes_to_hosts"]), human(a["bytes_to_hosts"] / n),
                    human(busiest), busiest / rate, args.rate,
                    100 * busiest / rate / a["best_s"]))
    for label, z in (("with ssh compression", fold(ph["zlabs"].get(2, []), "apply")),):
        a = lab.get(2, {}).get("apply")
        if z and a:
            say("  2 hosts %s: %.3f s (%s), client CPU %.1f ms a guest (%s without), %s "
                "sent a guest (%s without)" % (
                    label, z["best_s"], fmt_x(a["best_s"] / z["best_s"]) + " the speed",
                    1000 * z["client_cpu_s"] / n, "%.1f" % (1000 * a["client_cpu_s"] / n),
                    human(z.get("bytes_to_hosts", 0) / n),
                    human(a.get("bytes_to_hosts", 0) / n)))
    if vi_create:
        cpu_all = vi_create["client_cpu_s"] + vi_create["daemons_cpu_s"] + vi_create["sshd_cpu_s"]
        say("  virt-install, 2 hosts: %.3f s, %.1f ms a guest; CPU %.2f s (virt-install "
            "processes %.0f%%, daemons %.0f%%, sshd %.0f%%) = %.2f of %d CPUs%s" % (
                vi_create["best_s"], 1000 * vi_create["best_s"] / n, cpu_all,
                100 * vi_create["client_cpu_s"] / cpu_all if cpu_all else 0,
                100 * vi_create["daemons_cpu_s"] / cpu_all if cpu_all else 0,
                100 * vi_create["sshd_cpu_s"] / cpu_all if cpu_all else 0,
                cpu_all / vi_create["best_s"], meta.get("cpus") or 0,
                "; %s sent a guest" % human(vi_create["bytes_to_hosts"] / n)
                if vi_create.get("bytes_to_hosts") is not None else ""))
    if vif_create:
        cpu_all = (vif_create["client_cpu_s"] + vif_create["daemons_cpu_s"]
                   + vif_create["sshd_cpu_s"])
        say("  flock virt-install, 2 hosts: %.3f s, %.1f ms a guest, no retries needed; CPU "
            "%.2f s = %.2f of %d CPUs" % (vif_create["best_s"], 1000 * vif_create["best_s"] / n,
                                          cpu_all, cpu_all / vif_create["best_s"],
                                          meta.get("cpus") or 0))
    for k, t in sorted(traces.items()):
        if not t:
            continue
        q = t["guests_done_quartiles_s"]
        say("  traced `-v --json apply`, %d host%s: %.3f s, %d stderr lines; first line "
            "%s, first guest named %s, guests done (last line naming each) 25/50/75/100%%: "
            "%s; after the last: %s; --json actions %s, status afterwards %s%s" % (
                k, "s"[:k > 1], t["wall_s"], t["stderr_lines"],
                "%.3f s" % t["first_line_s"] if t["first_line_s"] is not None else "-",
                "%.3f s" % t["first_guest_named_s"]
                if t["first_guest_named_s"] is not None else "-",
                "/".join("%.3f" % x for x in q) if q else "- (no guest named on stderr)",
                "%.3f s" % (t["wall_s"] - t["last_guest_done_s"])
                if t["last_guest_done_s"] is not None else "-",
                t["json_actions"], t["status_actions"],
                "; timing keys in --json: %s" % ", ".join(t["json_timing_keys"])
                if t["json_timing_keys"] else ""))
        say("    %-52s %6s %8s %8s" % ("stderr line (-v)", "count", "first s", "last s"))
        for k_ in t["timeline"][:12]:
            say("    %-52s %6d %8.3f %8.3f" % (k_["kind"][:52], k_["count"], k_["first_s"],
                                            k_["last_s"]))
        odd = {a: c for a, c in t["json_actions"].items() if a != "create"}
        if odd or set(t["status_actions"]) - {"keep"}:
            say("  warning: not every guest was create / keep: %s / %s"
                % (t["json_actions"], t["status_actions"]))


if __name__ == "__main__":
    sys.exit(main())
