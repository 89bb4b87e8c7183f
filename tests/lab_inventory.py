#!/usr/bin/env python3
"""`virt-provision status LAB.yaml --inventory` read back by other tools
(issue 14, item 7): every group, host and value of the Ansible inventory is
exactly what `status --json` reports, whatever the names look like.

setUpClass starts an isolated session libvirtd (tests/libvirt_harness.py;
as root it runs as the test user vp-test) with a dir pool `default`, and
applies a lab whose host is "on" and whose guests are named like YAML 1.1
booleans, nulls and numbers (yes, 010, null, on, 1e3, 0x10: the manifest's
name rule allows them).  Then it defines domains directly (virsh define)
that carry a forged, complete ownership record of the lab: status reports
them under their domain names, grouped by the record's entry, so both are
anything libvirt and XML let through: YAML indicators ("- x", "a: b",
"#c", "*star", "&amp", "!!python/object"), spaces at either end, tabs, CR,
NEL, quotes, backslashes, and an entry too long for a YAML implicit key.

  01  the JSON status is sound: the guests are exactly the domains defined,
      with the names and entries given to libvirt
  02  PyYAML (yaml.safe_load, YAML 1.1) reads the inventory as the JSON
      status says: groups = entries, hosts = domain names, libvirt_host
  03  ansible-inventory -i FILE --list (its yaml plugin alone, no user
      configuration, nothing written outside the test's directory) gives
      the same groups, hosts and host variables
  04  the table names every guest on a line of its own, as libvirt has it
      (raw, control characters too: the table is for people)

The binary comes from $VP_BIN.  Nothing is skipped: a missing tool or
daemon is a failure that names the package to install.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import libvirt_harness as H  # noqa: E402
from libvirt_harness import run  # noqa: E402

log = H.logger("lab_inventory.py")
NS = "http://virt-provision.org/xmlns/lab/1"
LAB = "inv-lab"
HOST = "on"
POOL = "default"
# Manifest guests: valid names that YAML 1.1 reads as True, 8, None, True,
# 1000.0 and 16 when they are written plain.
GUESTS = ["yes", "010", "null", "on", "1e3", "0x10"]
# Domains with a forged record of the lab: domain name -> record entry.
FORGED = {
    "- x": "!!python/object",
    "a: b": "yes",
    "#c": "#c",
    "*star": "- y",
    "&amp": "&anchor",
    " sp ": " web ",
    "tab\tx": "? q",
    "cr\rx": "010",
    "nel\x85x": "a\u2028b",
    'q"\\': "%TAG",
    "~": "null",
    "long": "e" * 1100,
}


def require_yaml():
    try:
        import yaml  # noqa: F401
    except ImportError:
        raise RuntimeError("Python module yaml missing for %s (apt-get install -y "
                           "--no-install-recommends python3-yaml)" % sys.executable)


def forged_domain(name, entry):
    """A minimal shut-off domain whose <metadata> holds a complete record
    of LAB with manifest entry ENTRY (the format of
    src/core/lab/lab-record.c)."""
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", unit="MiB").text = "64"
    os_ = ET.SubElement(dom, "os")
    ET.SubElement(os_, "type", arch="x86_64").text = "hvm"
    meta = ET.SubElement(dom, "metadata")
    guest = ET.SubElement(meta, "{%s}guest" % NS)
    for tag, text in (("lab", LAB), ("entry", entry), ("options-hash", "forged"),
                      ("state", "complete")):
        ET.SubElement(guest, "{%s}%s" % (NS, tag)).text = text
    return dom


class LabInventory(H.TimedTestCase):
    maxDiff = None
    log = staticmethod(log)

    @classmethod
    def setUpClass(cls):
        cls.vp_bin = H.require_vp_bin()
        H.require_programs(("virsh", "libvirtd", "ansible-inventory"),
                           ("libvirt-clients", "libvirt-daemon",
                            "libvirt-daemon-driver-qemu", "ansible-core"))
        require_yaml()
        ET.register_namespace("vp", NS)
        # short: the daemon's socket path lives under it
        cls.tmp = tempfile.mkdtemp(prefix="vpinv.", dir="/tmp")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        os.chmod(cls.tmp, 0o755)   # the daemon user must traverse it
        t = time.monotonic()
        cls.dir = os.path.join(cls.tmp, "d")
        cls.addClassCleanup(H.purge_daemon, cls.dir, log)
        envs = H.start_daemon(cls.dir)
        cls.uri = envs["VP_TEST_URI"]
        log("daemon %s as %s (%.1f s)" % (cls.uri, envs["VP_TEST_USER"],
                                          time.monotonic() - t))
        for args in (["pool-define-as", POOL, "dir", "--target", envs["VP_TEST_IMAGES"]],
                     ["pool-build", POOL], ["pool-start", POOL]):
            run(["virsh", "-q", "-c", cls.uri] + args)

        cls.work = os.path.join(cls.tmp, "w")
        os.mkdir(cls.work)
        cls.manifest = os.path.join(cls.work, "lab.yaml")
        with open(cls.manifest, "w") as f:
            # JSON strings are YAML: the names stay strings in the manifest.
            f.write("lab: %s\nhosts:\n  %s: %s\n" % (LAB, json.dumps(HOST),
                                                   json.dumps(cls.uri)))
            f.write("defaults:\n  pool: %s\n  size: 16M\n  virt-type: qemu\n"
                    "  memory: 128M\n  network: none\n  graphics: none\n"
                    "  import: true\nguests:\n" % POOL)
            for g in GUESTS:
                f.write("  - name: %s\n" % json.dumps(g))
        doc = cls.vp("apply", json_out=True)
        assert doc["rc"] == 0, doc
        for i, (name, entry) in enumerate(FORGED.items()):
            path = os.path.join(cls.work, "forged-%d.xml" % i)
            text = ET.tostring(forged_domain(name, entry), encoding="unicode")
            # ElementTree writes CR raw, which an XML parser reads as LF
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace("\r", "&#13;"))
            run(["virsh", "-q", "-c", cls.uri, "define", path])

    @classmethod
    def vp(cls, command, *args, json_out=False):
        """virt-provision [--json] COMMAND MANIFEST ARGS: exit status and
        output, never raising."""
        argv = [cls.vp_bin] + (["--json"] if json_out else []) + [
            command, cls.manifest] + list(args)
        t = time.monotonic()
        r = run(argv, check=False, env=H.child_env())
        log("%s: exit %d in %.2f s" % (" ".join(argv[1:]), r.returncode,
                                       time.monotonic() - t))
        return {"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr,
                "argv": argv}

    def status(self, *args, json_out=False):
        """status with ARGS: exit 1, as the forged guests are not in the
        manifest; its stdout."""
        r = self.vp("status", *args, json_out=json_out)
        self.assertEqual(r["rc"], 1, r)
        return r["stdout"]

    def expected(self):
        """The inventory the JSON status describes: entry -> host name ->
        variables (ansible_host: the first address, if any)."""
        doc = json.loads(self.status(json_out=True))
        groups = {}
        for g in doc["guests"]:
            if "domain" not in g or g["entry"] is None:
                continue
            hostvars = {"libvirt_host": g["host"]}
            if g.get("addresses"):
                hostvars["ansible_host"] = g["addresses"][0]["address"]
            groups.setdefault(g["entry"], {})[g["name"]] = hostvars
        return groups

    def inventory_file(self):
        text = self.status("--inventory")
        path = os.path.join(self.work, "inventory.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return text, path

    # ------------------------------------------------------------------ cases

    def test_json_status(self):
        doc = json.loads(self.status(json_out=True))
        got = {g["name"]: (g["entry"], g["host"]) for g in doc["guests"]}
        want = {g: (g, HOST) for g in GUESTS}
        want.update({n: (e, HOST) for n, e in FORGED.items()})
        self.assertEqual(got, want)

    def test_pyyaml(self):
        import yaml
        text, _ = self.inventory_file()
        try:
            inv = yaml.safe_load(text)
        except yaml.YAMLError as e:
            self.fail("PyYAML cannot read the inventory: %s\n%s" % (e, text))
        want = {"all": {"children": {
            entry: {"hosts": hosts} for entry, hosts in self.expected().items()}}}
        self.assertEqual(inv, want, text)

    def test_ansible_inventory(self):
        text, path = self.inventory_file()
        home = os.path.join(self.work, "home")
        os.makedirs(home, exist_ok=True)
        cfg = os.path.join(self.work, "ansible.cfg")
        open(cfg, "w").close()
        env = H.child_env({
            "HOME": home, "ANSIBLE_CONFIG": cfg,
            "ANSIBLE_HOME": os.path.join(home, "ansible"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(home, "tmp"),
            # the yaml plugin only: no fallback to a parser that reads the
            # file another way, and a file it cannot parse is an error
            "ANSIBLE_INVENTORY_ENABLED": "yaml",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
            "ANSIBLE_TRANSFORM_INVALID_GROUP_CHARS": "never",
            "ANSIBLE_NOCOLOR": "1",
        })
        r = run(["ansible-inventory", "-i", path, "--list"], check=False, env=env)
        self.assertEqual(r.returncode, 0, "%s\n%s" % (r.stderr, text))
        inv = json.loads(r.stdout)
        want = self.expected()
        groups = {k: set(v.get("hosts", [])) for k, v in inv.items()
                  if k not in ("_meta", "all", "ungrouped")}
        self.assertEqual(groups, {e: set(h) for e, h in want.items()}, text)
        self.assertEqual(set(inv["all"]["children"]), set(want) | {"ungrouped"})
        hostvars = {}
        for hosts in want.values():
            hostvars.update(hosts)
        self.assertEqual(inv["_meta"]["hostvars"], hostvars, text)

    def test_table(self):
        # Read as bytes: text mode would turn the CR in "cr\rx" into a line
        # break.  The table prints names as they are (see the docstring).
        r = subprocess.run([self.vp_bin, "status", self.manifest],
                           capture_output=True, env=H.child_env(), timeout=120)
        self.assertEqual(r.returncode, 1, r)
        lines = r.stdout.decode("utf-8").split("\n")
        for name in GUESTS + list(FORGED):
            self.assertEqual(len([l for l in lines if l.startswith(name + " ")]), 1,
                             (name, lines))


if __name__ == "__main__":
    unittest.main(verbosity=2)
