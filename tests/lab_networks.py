#!/usr/bin/env python3
"""Lab networks (issue 17) on two simulated system hypervisors over ssh
(tests/libvirt/system-hosts.sh: system daemons in namespaces of their own,
each with its NAT network default, reached as root over qemu+ssh).  The
guests are defined, never booted.

  nat_lab       a nat lab network, 4 guests (3 placed, db pinned to h2
      with a fixed address, and a second NIC on default with ip=): a copy
      per host on its own /24 carrying the lab's record, distinct MACs, a
      reservation per guest on its host's copy and a DNS entry (NAME and
      NAME.DOMAIN) per guest on every copy, db's reservation and DNS entry
      in default (--dry-run first: the same network actions, nothing made); a re-apply changes nothing (network XML byte-identical,
      UUIDs, MACs, addresses); destroy leaves no copy, reservation or DNS
      entry, and a foreign network and default exactly as they were
  foreign_name  a network of the lab network's name that is not the lab's:
      conflict for that host's copy and guests, found before anything is
      made there; the other host's are made; once it is gone an apply
      converges
  overlap       a network overlapping a host's /24: the same
  killed        the daemon of a host killed once its copy is defined, before
      its guests: a report that fails that host's guests with a reason, nothing
      half-made (a copy there is the lab's, each domain there has its
      record), and an apply after converges (the copy runs)
  forged        a domain with this lab's record naming a reservation in
      default that is another's (same MAC, another name), and a network of
      another name carrying this lab's record: destroy removes neither
  drift_replace a changed domain: drift for both copies and their guests
      (status and apply, exit 1); --replace makes both again with their
      guests, which keep their MACs and addresses, under the new names
  prune         guests dropped from the manifest, --prune: their reservations
      go from their host's copy and their names from every copy, and db's
      entries from default
  addresses     a running guest without an agent: status and --inventory
      give its reserved address (reservations and leases first)
  cycles        apply and destroy of a 20-guest lab, 20 times ($VP_LAB_CYCLES,
      5 in the suite's sanitizer build): every address
      distinct while it stands, no copy or entry left after each destroy

LabNetworksBooted (ctest lab_networks_guest, one build only):
  route_by_name   two guests of the test cloud image on two hosts on a route
      network, with routes between the hosts: each gets its reserved address
      by DHCP and reaches the other by NAME.DOMAIN

Run as root.  The binary comes from $VP_BIN.  Nothing is skipped.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
from libvirt_harness import run  # noqa: E402

NS = "http://virt-provision.org/xmlns/lab/1"
LAB = "ci-42"
NET = "ci-42-lan"
DOMAIN = "ci-42.test"
log = H.logger("lab_networks.py")


class LabNetworks(H.SystemHostsTestCase):
    N_HOSTS = 2
    TMP_PREFIX = "vpln."
    NEEDED = ("qemu-img", "qemu-system-x86_64", "libvirtd")
    PACKAGES = ("qemu-utils", "qemu-system-x86", "libvirt-daemon-driver-qemu")
    log = staticmethod(log)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = os.path.join(cls.tmp, "w")
        os.makedirs(cls.work)
        cls.manifest = os.path.join(cls.work, "lab.yaml")

    # ------------------------------------------------------------------ helpers

    def write_lab(self, guests=None, path=None):
        text = "lab: %s\nhosts:\n" % LAB
        for i, h in enumerate(self.hosts):
            text += "  h%d: %s\n" % (i + 1, json.dumps(h["uri"]))
        text += ("networks:\n  lan: {cidr: 10.88.0.0/16, mode: nat, domain: %s}\n"
                 "defaults:\n  pool: default\n  size: 1G\n  virt-type: qemu\n"
                 "  memory: 256M\n  graphics: none\n  import: true\n"
                 "  network: [lan]\n" % DOMAIN)
        if guests is None:
            default_ip = self.hosts[1]["guest_subnet"].rsplit(".", 1)[0] + ".50"
            guests = ("  - name: node\n    count: 3\n"
                      "  - name: db\n    host: h2\n"
                      "    network: [{network: lan, ip: 10.88.1.10}, "
                      "'network=default,ip=%s']\n" % default_ip)
        text += "guests:\n" + guests
        with open(path or self.manifest, "w") as f:
            f.write(text)

    def lab(self, cmd, *args, expect=0, path=None):
        argv = [self.vp_bin, "--json", cmd, path or self.manifest] + list(args)
        t = time.monotonic()
        r = run(argv, check=False, timeout=600, env=self.vp_env)
        log("%s %s: exit %d in %.2f s" % (cmd, " ".join(args), r.returncode,
                                          time.monotonic() - t))
        self.assertEqual(r.returncode, expect, "%s\nstdout: %s\nstderr: %s"
                         % (argv, r.stdout, r.stderr))
        return json.loads(r.stdout)

    @staticmethod
    def acts(doc):
        return {g["name"]: (g["action"], g["host"]) for g in doc["guests"]}

    @staticmethod
    def nets(doc):
        return {(n["name"], n["host"]): (n["action"], n["subnet"]) for n in doc["networks"]}

    def net_names(self, h):
        return set(self.virsh(h, "net-list", "--all", "--name").split())

    def net_xml(self, h, name, inactive=False):
        args = ["net-dumpxml"] + (["--inactive"] if inactive else []) + [name]
        return self.virsh(h, *args)

    def entries(self, h, name):
        """(dhcp hosts, dns hosts) of network NAME on H as sets."""
        x = ET.fromstring(self.net_xml(h, name))
        dhcp = {(e.get("mac"), e.get("name"), e.get("ip"))
                for e in x.findall("./ip/dhcp/host")}
        dns = {(e.get("ip"), tuple(n.text for n in e.findall("hostname")))
               for e in x.findall("./dns/host")}
        return dhcp, dns

    def domains(self, h):
        return set(self.virsh(h, "list", "--all", "--name").split())

    def macs(self, h, dom):
        x = ET.fromstring(self.virsh(h, "dumpxml", dom))
        return [(i.find("source").get("network"), i.find("mac").get("address"))
                for i in x.findall("./devices/interface")]

    def define_network(self, h, name, cidr_prefix, record=None):
        """A network NAME on H of the /24 CIDR_PREFIX.0 ("10.99.0"), not
        started; removed at cleanup."""
        meta = "<metadata>%s</metadata>" % record if record else ""
        xml = os.path.join(self.work, "%s-%s.xml" % (name, h["name"]))
        with open(xml, "w") as f:
            f.write("<network><name>%s</name>%s<ip address='%s.1' prefix='24'/>"
                    "</network>" % (name, meta, cidr_prefix))
        self.virsh(h, "net-define", xml)
        self.addCleanup(self.virsh, h, "net-undefine", name, check=False)

    def snapshot(self):
        """What the lab must never change: default and foreign on each host."""
        return [(self.net_xml(h, "default"), self.net_xml(h, "default", True),
                 self.net_xml(h, "foreign")) for h in self.hosts]

    def assert_clean(self, before):
        for h in self.hosts:
            self.assertNotIn(NET, self.net_names(h))
            for d in self.domains(h):
                self.assertNotIn("<vp:lab>%s</vp:lab>" % LAB,
                                 self.virsh(h, "dumpxml", d))
        self.assertEqual(self.snapshot(), before)

    def setUp(self):
        super().setUp()
        self.write_lab()
        self.addCleanup(self.lab, "destroy")

    # ------------------------------------------------------------------- cases

    def test_nat_lab(self):
        t0 = time.monotonic()
        for h in self.hosts:
            self.define_network(h, "foreign", "10.77.%d" % self.hosts.index(h))
        before = self.snapshot()
        # --dry-run: the network actions beside the guests', nothing made
        doc = self.lab("apply", "--dry-run")
        self.assertEqual(self.nets(doc), {(NET, "h1"): ("create", "10.88.0.0/24"),
                                          (NET, "h2"): ("create", "10.88.1.0/24")})
        self.assertEqual(self.snapshot(), before)
        for h in self.hosts:
            self.assertNotIn(NET, self.net_names(h))
        doc = self.lab("apply")
        self.assertEqual(self.acts(doc), {"node-1": ("create", "h1"), "node-2": ("create", "h2"),
                                          "node-3": ("create", "h1"), "db": ("create", "h2")})
        self.assertEqual(self.nets(doc), {(NET, "h1"): ("create", "10.88.0.0/24"),
                                          (NET, "h2"): ("create", "10.88.1.0/24")})
        # each copy: its own /24, the lab's record, running
        for i, h in enumerate(self.hosts):
            x = ET.fromstring(self.net_xml(h, NET))
            self.assertEqual(x.find("./ip").get("address"), "10.88.%d.1" % i)
            rec = x.find("./metadata/{%s}network" % NS)
            self.assertEqual(rec.find("{%s}lab" % NS).text, LAB)
            self.assertEqual(rec.find("{%s}key" % NS).text, "lan")
            self.assertIn(NET, self.virsh(h, "net-list", "--name").split())
        # MACs distinct; a reservation per guest on its host's copy
        ident, all_macs = {}, []
        for g in doc["guests"]:
            h = self.hosts[int(g["host"][1:]) - 1]
            nics = {n["network"]: n for n in g["nics"]}
            lan = nics[NET]
            self.assertIn((NET, lan["mac"]), self.macs(h, g["name"]))
            self.assertIn((lan["mac"], g["name"], lan["ip"]), self.entries(h, NET)[0])
            ident[g["name"]] = (lan["mac"], lan["ip"])
            all_macs += [m for _, m in self.macs(h, g["name"])]
        self.assertEqual(len(set(all_macs)), len(all_macs), all_macs)
        self.assertEqual(ident["db"][1], "10.88.1.10")
        # every guest's name on every copy
        want = {(ip, (name, "%s.%s" % (name, DOMAIN))) for name, (_, ip) in ident.items()}
        for h in self.hosts:
            self.assertEqual(self.entries(h, NET)[1], want, h["name"])
        # db's ip= on default: its reservation and DNS entry there
        db = {n["network"]: n for n in next(g for g in doc["guests"]
                                             if g["name"] == "db")["nics"]}
        dhcp, dns = self.entries(self.hosts[1], "default")
        self.assertIn((db["default"]["mac"], "db", db["default"]["ip"]), dhcp)
        self.assertIn((db["default"]["ip"], ("db",)), dns)

        # a re-apply changes nothing
        xmls = [self.net_xml(h, NET) for h in self.hosts]
        uuids = [(self.virsh(h, "net-uuid", NET), sorted(
            (d, self.virsh(h, "domuuid", d)) for d in self.domains(h))) for h in self.hosts]
        doc = self.lab("apply")
        self.assertEqual({a for a, _ in self.acts(doc).values()}, {"keep"})
        self.assertEqual({a for a, _ in self.nets(doc).values()}, {"keep"})
        self.assertEqual([self.net_xml(h, NET) for h in self.hosts], xmls)
        self.assertEqual([(self.virsh(h, "net-uuid", NET), sorted(
            (d, self.virsh(h, "domuuid", d)) for d in self.domains(h)))
            for h in self.hosts], uuids)
        self.assertEqual({g["name"]: ({n["network"]: n for n in g["nics"]}[NET]["mac"],
                                      {n["network"]: n for n in g["nics"]}[NET]["ip"])
                          for g in doc["guests"]}, ident)
        doc = self.lab("status")
        self.assertEqual({a for a, _ in self.nets(doc).values()}, {"keep"})

        doc = self.lab("destroy")
        self.assertEqual({a for a, _ in self.nets(doc).values()}, {"delete"})
        self.assert_clean(before)
        log("nat_lab: %.1f s" % (time.monotonic() - t0))

    def test_foreign_name(self):
        t0 = time.monotonic()
        self.define_network(self.hosts[0], NET, "10.99.0")
        foreign = self.net_xml(self.hosts[0], NET)
        doc = self.lab("apply", expect=1)
        nets = {k: n for n in doc["networks"] for k in [(n["name"], n["host"])]}
        self.assertEqual(nets[(NET, "h1")]["action"], "conflict")
        self.assertIn("is not this lab's", nets[(NET, "h1")]["error"])
        self.assertEqual(nets[(NET, "h2")]["action"], "create")
        acts = self.acts(doc)
        for name, (action, host) in acts.items():
            self.assertEqual(action, "conflict" if host == "h1" else "create", name)
        # nothing of the lab on h1; the foreign network as it was
        self.assertEqual(self.domains(self.hosts[0]), set())
        self.assertEqual(self.net_xml(self.hosts[0], NET), foreign)
        self.virsh(self.hosts[0], "net-undefine", NET)
        doc = self.lab("apply")
        self.assertEqual(self.nets(doc)[(NET, "h1")][0], "create")
        self.assertEqual({a for a, _ in self.acts(doc).values()}, {"create", "keep"})
        log("foreign_name: %.1f s" % (time.monotonic() - t0))

    def test_overlap(self):
        t0 = time.monotonic()
        self.define_network(self.hosts[1], "overlap", "10.88.1")
        doc = self.lab("apply", expect=1)
        n = next(n for n in doc["networks"] if n["host"] == "h2")
        self.assertEqual(n["action"], "conflict")
        self.assertIn("overlaps network 'overlap' (10.88.1.0/24)", n["error"])
        for name, (action, host) in self.acts(doc).items():
            self.assertEqual(action, "conflict" if host == "h2" else "create", name)
        self.assertNotIn(NET, self.net_names(self.hosts[1]))
        self.assertEqual(self.domains(self.hosts[1]), set())
        self.virsh(self.hosts[1], "net-undefine", "overlap")
        doc = self.lab("apply")
        self.assertEqual({a for a, _ in self.acts(doc).values()}, {"create", "keep"})
        log("overlap: %.1f s" % (time.monotonic() - t0))

    def test_killed(self):
        t0 = time.monotonic()
        self.addCleanup(self.restart_hosts)
        h1 = self.hosts[0]
        pid = self.daemon_pid(h1)
        argv = [self.vp_bin, "--json", "-v", "apply", self.manifest]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=self.vp_env, start_new_session=True)
        H.end_at_exit(p)
        lines, seen = [], threading.Event()

        def reader():
            for line in p.stderr:
                lines.append(line)
                if "creating network '%s'" % NET in line and "host 'h1'" in line:
                    # once the copy is defined: between it and the guests
                    end = time.monotonic() + 10
                    while (NET not in self.net_names(h1) and time.monotonic() < end):
                        time.sleep(0.02)
                    os.kill(pid, signal.SIGKILL)
                    seen.set()
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        # the reader alone reads stderr until the kill
        self.assertTrue(seen.wait(300), "".join(lines))
        out, _ = p.communicate(timeout=600)
        t.join(10)
        self.assertEqual(p.returncode, 1, "".join(lines))
        doc = json.loads(out)
        for g in doc["guests"]:
            self.assertEqual(g["action"], "failed" if g["host"] == "h1" else "create", g)
            if g["action"] == "failed":
                self.assertTrue(g["error"], g)
        log("killed: %s; guests %s" % (json.dumps(doc["networks"]),
                                        json.dumps(self.acts(doc))))
        self.restart_hosts()
        # nothing half-made: a copy on h1 is the lab's, every domain its record
        if NET in self.net_names(h1):
            self.assertIn("<vp:key>lan</vp:key>", self.net_xml(h1, NET, True))
        for d in self.domains(h1):
            self.assertIn("<vp:lab>%s</vp:lab>" % LAB, self.virsh(h1, "dumpxml", d))
        doc = self.lab("apply")
        self.assertLessEqual({a for a, _ in self.acts(doc).values()},
                             {"create", "keep", "replace"})
        doc = self.lab("apply")
        self.assertEqual({a for a, _ in self.acts(doc).values()}, {"keep"})
        self.assertIn(NET, self.virsh(h1, "net-list", "--name").split())
        log("killed: %.1f s" % (time.monotonic() - t0))

    def test_forged(self):
        t0 = time.monotonic()
        h = self.hosts[0]
        ip = h["guest_subnet"].rsplit(".", 1)[0] + ".60"
        mac = "52:54:00:0f:0f:0f"
        # another's reservation in default, and a domain claiming it
        self.virsh(h, "net-update", "default", "add", "ip-dhcp-host",
                   "<host mac='%s' name='victim' ip='%s'/>" % (mac, ip), "--live", "--config")
        self.addCleanup(self.virsh, h, "net-update", "default", "delete", "ip-dhcp-host",
                        "<host mac='%s' name='victim' ip='%s'/>" % (mac, ip), "--live",
                        "--config", check=False)
        rec = ('<vp:guest xmlns:vp="%s"><vp:lab>%s</vp:lab><vp:entry>node</vp:entry>'
               '<vp:options-hash>00</vp:options-hash><vp:state>complete</vp:state>'
               '<vp:nic index="0" network="default" mac="%s" ip="%s" dhcp="yes" '
               'dns="yes"/></vp:guest>' % (NS, LAB, mac, ip))
        xml = os.path.join(self.work, "forged.xml")
        with open(xml, "w") as f:
            f.write("<domain type='qemu'><name>forged</name><memory unit='MiB'>64</memory>"
                    "<metadata>%s</metadata><os><type>hvm</type></os><devices>"
                    "<interface type='network'><mac address='%s'/><source network='default'/>"
                    "</interface></devices></domain>" % (rec, mac))
        self.virsh(h, "define", xml)
        self.addCleanup(self.virsh, h, "undefine", "forged", check=False)
        # a network of another name with this lab's record of key lan
        self.define_network(h, "prod-lan", "10.98.0",
                            '<vp:network xmlns:vp="%s"><vp:lab>%s</vp:lab><vp:key>lan</vp:key>'
                            '<vp:hash>00</vp:hash></vp:network>' % (NS, LAB))
        default = self.net_xml(h, "default")
        # the forged guest is the lab's by its record: not in the manifest
        doc = self.lab("apply", expect=1)
        self.assertEqual(self.acts(doc)["forged"], ("drift", "h1"))
        doc = self.lab("destroy")
        self.assertEqual(self.acts(doc)["forged"], ("delete", "h1"))
        self.assertEqual(self.net_xml(h, "default"), default)
        self.assertIn((mac, "victim", ip), self.entries(h, "default")[0])
        self.assertIn("prod-lan", self.net_names(h))
        log("forged: %.1f s" % (time.monotonic() - t0))

    def ident(self, doc):
        """guest -> (MAC, address) on the lab network, as the report says."""
        return {g["name"]: next((n["mac"], n["ip"]) for n in g["nics"] if n["network"] == NET)
                for g in doc["guests"] if g.get("nics")}

    def test_drift_replace(self):
        t0 = time.monotonic()
        ident = self.ident(self.lab("apply"))
        uuid = self.virsh(self.hosts[0], "net-uuid", NET)
        # the network's domain changes: drift for every copy and its guests
        with open(self.manifest) as f:
            text = f.read()
        with open(self.manifest, "w") as f:
            f.write(text.replace("domain: %s" % DOMAIN, "domain: other.test"))
        for cmd in ("status", "apply"):
            doc = self.lab(cmd, expect=1)
            self.assertEqual({a for a, _ in self.nets(doc).values()}, {"drift"}, cmd)
            self.assertEqual({a for a, _ in self.acts(doc).values()}, {"drift"}, cmd)
        doc = self.lab("apply", "--replace")
        self.assertEqual({a for a, _ in self.nets(doc).values()}, {"replace"})
        self.assertEqual({a for a, _ in self.acts(doc).values()}, {"replace"})
        # made again, the guests with the MACs and addresses they had
        self.assertNotEqual(self.virsh(self.hosts[0], "net-uuid", NET), uuid)
        self.assertEqual(self.ident(doc), ident)
        for h in self.hosts:
            dns = self.entries(h, NET)[1]
            self.assertEqual(dns, {(ip, (name, name + ".other.test"))
                                   for name, (_, ip) in ident.items()})
        doc = self.lab("apply")
        self.assertEqual({a for a, _ in self.acts(doc).values()}, {"keep"})
        log("drift_replace: %.1f s" % (time.monotonic() - t0))

    def test_prune(self):
        t0 = time.monotonic()
        ident = self.ident(self.lab("apply"))
        self.write_lab("  - name: node\n    count: 2\n")
        doc = self.lab("apply", "--prune")
        acts = self.acts(doc)
        self.assertEqual(acts["db"], ("delete", "h2"))
        self.assertEqual(acts["node-3"], ("delete", "h1"))
        gone = {n: ident[n] for n in ("db", "node-3")}
        for h in self.hosts:
            dhcp, dns = self.entries(h, NET)
            self.assertFalse({(m, n, ip) for n, (m, ip) in gone.items()} & dhcp)
            self.assertEqual({ip for ip, _ in dns}, {ident["node-1"][1], ident["node-2"][1]})
        # db's entries in default went with it, exactly those
        dhcp, dns = self.entries(self.hosts[1], "default")
        self.assertFalse([e for e in dhcp if e[1] == "db"])
        self.assertFalse([e for e in dns if "db" in e[1]])
        log("prune: %.1f s" % (time.monotonic() - t0))

    def test_addresses(self):
        t0 = time.monotonic()
        # a running guest with nothing inside: no agent ever answers
        self.write_lab("  - name: up\n    host: h1\n    start: true\n"
                       "    network: [{network: lan, ip: 10.88.0.20}]\n")
        doc = self.lab("apply")
        self.assertEqual(self.acts(doc), {"up": ("create", "h1")})
        doc = self.lab("status")
        up = doc["guests"][0]
        self.assertTrue(up["domain"]["active"], up)
        self.assertEqual([(a["interface"], a["address"], a["prefix"])
                          for a in up["addresses"]], [(NET, "10.88.0.20", 24)])
        r = run([self.vp_bin, "status", self.manifest, "--inventory"], check=False,
                env=self.vp_env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"ansible_host: [\"']?10\.88\.0\.20\b")
        log("addresses: %.1f s" % (time.monotonic() - t0))

    # 20 (issue 17); the suite's sanitizer build sets fewer (tests/CMakeLists.txt)
    CYCLES = int(os.environ.get("VP_LAB_CYCLES", "20"))

    def test_cycles(self):
        t0 = time.monotonic()
        path = os.path.join(self.work, "cycles.yaml")
        self.write_lab("  - name: n\n    count: 20\n", path=path)
        self.addCleanup(self.lab, "destroy", path=path)
        default = [self.net_xml(h, "default") for h in self.hosts]
        for cycle in range(self.CYCLES):
            doc = self.lab("apply", "--jobs", "4", path=path)
            self.assertEqual({a for a, _ in self.acts(doc).values()}, {"create"})
            for h in self.hosts:
                dhcp, dns = self.entries(h, NET)
                ips = [ip for _, _, ip in dhcp]
                self.assertEqual(len(ips), len(set(ips)))
                self.assertEqual(len(dns), 20)
                self.assertEqual(len({ip for ip, _ in dns}), 20)
            self.lab("destroy", path=path)
            for h in self.hosts:
                self.assertNotIn(NET, self.net_names(h))
            self.assertEqual([self.net_xml(h, "default") for h in self.hosts], default)
        log("cycles: %d apply/destroy of 20 guests in %.1f s"
            % (self.CYCLES, time.monotonic() - t0))


class LabNetworksBooted(H.SystemHostsTestCase):
    """Two guests of the test cloud image on two hosts, on a route lab
    network: TCG minutes, so a ctest of its own in one build only."""

    N_HOSTS = 2
    TMP_PREFIX = "vplnb."
    NEEDED = ("qemu-img", "qemu-system-x86_64", "libvirtd", "ssh-keygen")
    PACKAGES = ("qemu-utils", "qemu-system-x86", "libvirt-daemon-driver-qemu",
                "openssh-client")
    log = staticmethod(log)

    def route(self, h, via, subnet):
        """A route on H to SUBNET through the host at VIA: the site's job,
        which the test does for its hosts."""
        run(h["on_host"] + ["ip", "route", "replace", subnet, "via", via])
        self.addCleanup(run, h["on_host"] + ["ip", "route", "del", subnet], check=False)

    def test_route_by_name(self):
        """Each guest gets its reserved address by DHCP from its host's copy
        and reaches the other, on the other host, by NAME.DOMAIN."""
        img = run([os.path.join(HERE, "guest", "make-cloud-image.sh"),
                   H.cloud_image_dir()], check=False, timeout=1800)
        self.assertEqual(img.returncode, 0, img.stderr)
        img = H.cloud_image_dir()
        work = os.path.join(self.tmp, "w")
        os.makedirs(work, exist_ok=True)
        h1, h2 = self.hosts
        self.route(h1, h2["address"], "10.88.1.0/24")
        self.route(h2, h1["address"], "10.88.0.0/24")
        for h in self.hosts:
            kernel, initrd = (self.host_file(h, os.path.join(img, f), "cloud-" + f)
                              for f in ("vmlinuz", "initrd.img"))
        key, host_key = (os.path.join(work, n) for n in ("key", "host-key"))
        for k in (key, host_key):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vp-route", "-f", k])
        with open(host_key) as f:
            private = f.read()
        with open(host_key + ".pub") as f:
            public = " ".join(f.read().split()[:2])
        with open(os.path.join(work, "ud"), "w") as f:
            f.write("#cloud-config\nlocale: false\n"
                    "ssh_keys:\n  ed25519_private: |\n%s  ed25519_public: %s\n"
                    % ("".join("    " + line + "\n" for line in private.splitlines()),
                       public))
        path = os.path.join(work, "route.yaml")
        with open(path, "w") as f:
            f.write("lab: %s\nhosts:\n  h1: %s\n  h2: %s\n"
                    "networks:\n  lan: {cidr: 10.88.0.0/16, mode: route, domain: %s}\n"
                    "defaults:\n  pool: default\n  virt-type: qemu\n  memory: 1024M\n"
                    "  network: [lan]\n  wait: 900\n  base: %s\n  size: 4G\n"
                    "  kernel: %s\n  initrd: %s\n"
                    "  cmdline: root=/dev/vda rw console=ttyS0\n"
                    "  cloud-init: {user-data: ./ud, clouduser-ssh-key: ./key.pub}\n"
                    "guests:\n  - name: a\n    host: h1\n  - name: b\n    host: h2\n"
                    % (LAB, json.dumps(h1["uri"]), json.dumps(h2["uri"]), DOMAIN,
                       os.path.join(img, "debian-12.raw"), kernel, initrd))
        allow = ["--allow-path", img]
        argv = [self.vp_bin, "--json", "apply", path] + allow
        self.addCleanup(run, [self.vp_bin, "destroy", path] + allow, check=False,
                        timeout=600)
        t = time.monotonic()
        r = run(argv, check=False, timeout=1800, env=self.vp_env)
        log("route lab: apply exit %d after %.1f s of TCG" % (r.returncode,
                                                               time.monotonic() - t))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        ip = {}
        for g in doc["guests"]:
            reserved = g["nics"][0]["ip"]
            # its address by DHCP is the one reserved for it
            self.assertIn(reserved, [a["address"] for a in g["addresses"]], g)
            ip[g["name"]] = reserved
        known = os.path.join(work, "known-hosts")
        with open(known, "w") as f:
            f.write("".join("%s %s\n" % (a, public) for a in ip.values()))
        login = {"user": "debian", "key": key, "known_hosts": known}
        for me, other, h in (("a", "b", h1), ("b", "a", h2)):
            t = time.monotonic()
            # the image has no ping: the other's sshd greets over TCP, once
            # it runs (the other guest boots meanwhile)
            fqdn = "%s.%s" % (other, DOMAIN)
            r = self.in_guest(h, me, ip[me], login,
                              "getent hosts %s; for i in $(seq 60); do timeout 10 bash -c "
                              "'exec 3<>/dev/tcp/%s/22; head -c 7 <&3' 2>/dev/null && "
                              "echo ' reached' && break; sleep 5; done" % (fqdn, fqdn))
            log("%s -> %s.%s: %r after %.1f s" % (me, other, DOMAIN, r.stdout,
                                                  time.monotonic() - t))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stdout.split(), [ip[other], fqdn, "SSH-2.0", "reached"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
