#!/usr/bin/env python3
"""--network ip=: a guest's fixed address in a libvirt network, on a
simulated system hypervisor (tests/libvirt/system-hosts.sh: a system
libvirtd in namespaces of its own, its NAT network "default" served by
dnsmasq), reached as root over qemu+ssh.

  reserved    provision with two NICs, the first with ip= and no MAC: the
      network holds a DHCP reservation (the MAC the tool chose, which is the
      domain's first NIC's, the guest's name, the address) and a DNS entry,
      in the running network (dnsmasq's hosts file on the host) and in its
      definition; --json lists both NICs; the second NIC has neither
  refused     before anything is created, with exit 2 or 1 and one line:
      an address outside the network, the network's own address, its
      broadcast, one reserved for another guest, a name that resolves
      already, a network that does not exist; after each, the network's
      entries, the pool's volumes and the domains are as before
  rolled_back  a run whose define fails after the reservation was made
      removes the reservation and the DNS entry again
  domain_of_network  where the network has a domain, the DNS entry holds
      NAME and NAME.DOMAIN

Needs root (see system-hosts.sh); nothing is skipped.
"""
import json
import os
import re
import sys
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402

COMMON = ["--size", "1G", "--pool", "default", "--import", "--virt-type", "qemu",
          "--memory", "256"]


class Reservations(H.SystemHostsTestCase):
    N_HOSTS = 1
    TMP_PREFIX = "vpnr."
    log = staticmethod(H.logger("network_reservations.py"))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.hosts[0]
        # 192.168.(120+K).0/24, the host's NAT network default
        cls.prefix = cls.host["guest_subnet"].rsplit(".", 1)[0]

    def addr(self, last):
        return "%s.%d" % (self.prefix, last)

    def net_xml(self, name="default"):
        return ET.fromstring(self.virsh(self.host, "net-dumpxml", name))

    def entries(self, name="default"):
        """(dhcp hosts, dns hosts) of the running network, as sets."""
        x = self.net_xml(name)
        dhcp = {(h.get("mac"), h.get("name"), h.get("ip"))
                for h in x.findall("./ip/dhcp/host")}
        dns = {(h.get("ip"), tuple(n.text for n in h.findall("hostname")))
               for h in x.findall("./dns/host")}
        return dhcp, dns

    def state(self):
        return (self.entries(),
                self.virsh(self.host, "list", "--all", "--name"),
                self.virsh(self.host, "vol-list", "default", check=False).stdout)

    def drop(self, name):
        self.virsh(self.host, "destroy", name, check=False)
        self.virsh(self.host, "undefine", name, "--remove-all-storage", check=False)
        dhcp, dns = self.entries()
        for mac, n, ip in dhcp:
            if n == name:
                self.virsh(self.host, "net-update", "default", "delete", "ip-dhcp-host",
                           "<host mac='%s' name='%s' ip='%s'/>" % (mac, n, ip),
                           "--live", "--config", check=False)
        for ip, names in dns:
            if name in names:
                self.virsh(self.host, "net-update", "default", "delete", "dns-host",
                           "<host ip='%s'>%s</host>" % (ip, "".join(
                               "<hostname>%s</hostname>" % n for n in names)),
                           "--live", "--config", check=False)

    def provision(self, name, *args, json_out=False):
        self.addCleanup(self.drop, name)
        glob = ["--json"] if json_out else []
        return self.vp(self.host, *glob, "provision", "--name", name, *COMMON, *args)

    def test_reserved(self):
        ip = self.addr(50)
        r = self.provision("res-a", "--network", "network=default,ip=" + ip,
                           "--network", "user", json_out=True)
        self.assertEqual(r.returncode, 0, self.desc(r))
        doc = json.loads(r.stdout)
        self.assertEqual([n["type"] for n in doc["nics"]], ["network", "user"])
        mac = doc["nics"][0]["mac"]
        self.assertRegex(mac, r"^52:54:00(:[0-9a-f]{2}){3}$")
        self.assertEqual(doc["nics"][0]["ip"], ip)
        self.assertIsNone(doc["nics"][1]["ip"])
        dhcp, dns = self.entries()
        self.assertIn((mac, "res-a", ip), dhcp)
        self.assertIn((ip, ("res-a",)), dns)
        # the persistent definition holds them too
        inactive = ET.fromstring(self.virsh(self.host, "net-dumpxml", "--inactive",
                                            "default"))
        self.assertIn(ip, [h.get("ip") for h in inactive.findall("./ip/dhcp/host")])
        # the domain's first NIC has that MAC
        dom = ET.fromstring(self.virsh(self.host, "dumpxml", "res-a"))
        macs = [m.get("address") for m in dom.findall("./devices/interface/mac")]
        self.assertEqual(macs[0], mac)
        # and the running dnsmasq was told: its hosts file names the guest
        hostsfile = os.path.join(os.path.dirname(self.host["local_images"]),
                                 "dnsmasq", "default.hostsfile")
        with open(hostsfile) as f:
            self.assertIn("%s,%s,res-a" % (mac, ip), f.read())

    def test_refused(self):
        taken = self.addr(60)
        r = self.provision("res-owner", "--network",
                           "network=default,ip=%s,mac=52:54:00:00:00:60" % taken)
        self.assertEqual(r.returncode, 0, self.desc(r))
        before = self.state()
        cases = [
            ("10.77.0.5", 2, ["ip=10.77.0.5", "not in a subnet of network 'default'"]),
            (self.addr(1), 2, ["the network's own address"]),
            (self.addr(255), 2, ["broadcast"]),
            (taken, 1, ["already has a reservation of %s for 'res-owner'" % taken]),
        ]
        for ip, rc, must in cases:
            with self.subTest(ip=ip):
                r = self.provision("res-refused", "--network", "network=default,ip=" + ip)
                self.fails(r, *must, rc=rc)
                self.assertEqual(self.state(), before)
        # a name that resolves already (an entry of someone else's)
        entry = "<host ip='%s'><hostname>res-dns</hostname></host>" % self.addr(99)
        self.virsh(self.host, "net-update", "default", "add", "dns-host", entry,
                   "--live", "--config")
        self.addCleanup(self.virsh, self.host, "net-update", "default", "delete",
                        "dns-host", entry, "--live", "--config", check=False)
        before = self.state()
        r = self.provision("res-dns", "--network", "network=default,ip=" + self.addr(61))
        self.fails(r, "network 'default' already resolves the name 'res-dns'", rc=1)
        self.assertEqual(self.state(), before)
        # a MAC reserved already
        r = self.provision("res-mac", "--network",
                           "network=default,ip=%s,mac=52:54:00:00:00:60" % self.addr(62))
        self.fails(r, "already has a reservation", rc=1)
        self.assertEqual(self.state(), before)
        r = self.provision("res-nonet", "--network", "network=vpt-nosuch,ip=10.1.1.5")
        self.fails(r, "network 'vpt-nosuch' does not exist", rc=2)
        self.assertEqual(self.state(), before)

    def test_rolled_back(self):
        before = self.state()
        # q35 has no IDE: libvirt refuses the definition after the volume
        # was uploaded and the reservation made
        r = self.vp(self.host, "-v", "provision", "--name", "res-back", *COMMON,
                    "--machine", "q35", "--disk-bus", "ide",
                    "--network", "network=default,ip=" + self.addr(70))
        self.addCleanup(self.drop, "res-back")
        self.assertEqual(r.returncode, 1, self.desc(r))
        self.assertIn("reserving %s for 'res-back'" % self.addr(70), r.stderr)
        self.assertRegex(r.stderr.splitlines()[-1], re.compile("IDE", re.I))
        self.assertEqual(self.state(), before)

    def test_domain_of_network(self):
        net = "vpt-dom"
        xml = ("<network><name>%s</name><domain name='lab.test' localOnly='yes'/>"
               "<ip address='10.66.1.1' prefix='24'><dhcp>"
               "<range start='10.66.1.2' end='10.66.1.99'/></dhcp></ip></network>" % net)
        path = os.path.join(self.tmp, "net.xml")
        with open(path, "w") as f:
            f.write(xml)
        # virsh on the host reads the host's files: the XML goes beside its
        # images, by the path the host sees
        host_path = self.host_file(self.host, path, "vpt-dom.xml")
        self.virsh(self.host, "net-create", host_path)
        self.addCleanup(self.virsh, self.host, "net-destroy", net, check=False)
        r = self.provision("res-d", "--network", "network=%s,ip=10.66.1.150" % net)
        self.assertEqual(r.returncode, 0, self.desc(r))
        dhcp, dns = self.entries(net)
        self.assertIn(("10.66.1.150", ("res-d", "res-d.lab.test")), dns)
        self.assertEqual([n for _, n, _ in dhcp], ["res-d"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
