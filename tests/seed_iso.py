#!/usr/bin/env python3
"""The NoCloud seed ISO, read back with readers that are not ours.

The seed is built by tests/seed-dump (vp_seed_options_parse, vp_seed_load,
vp_seed_iso; the command line has no --cloud-init yet) and read back with
isoinfo (genisoimage) and xorriso: the volume id is "cidata", the Rock
Ridge and Joliet names are user-data, meta-data, network-config, and each
file extracted by isoinfo -R, isoinfo -J and xorriso is the same, byte for
byte, as the expected content.  Generated YAML is read with PyYAML, the
loader cloud-init itself uses, and a generated multipart with Python's
email package, as cloud-init does.

Cases: hostile hostnames and key comments (quotes, $;&|<>, newlines), file
names full of metacharacters, non-ASCII user files, a user-data one byte
under and one byte over the cap, an empty meta-data (an empty mapping, so
the generated instance-id and local-hostname), a multipart, no keys to be
found, and two builds compared byte for byte.

Environment: VP_SEED_DUMP (the helper) is required.  Nothing is skipped: a
missing isoinfo, xorriso or PyYAML is a failure that names its package.
"""

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

try:
    import yaml
except ImportError:  # reported by the test, not here
    yaml = None

CAP = 1024 * 1024  # VP_SEED_MAX_FILE
KEY_BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIBZuQRyCzxEDu3KWtpWueE/dgzs39sPYI85hbpHqTot7"
HOSTILE_COMMENT = "o'neil\"$(rm -rf x);&|<>`id` #: - ? {a} [b] \\n %s é"
HOSTILE_KEY = "ssh-ed25519 %s %s" % (KEY_BLOB, HOSTILE_COMMENT)
HOSTILE_HOST = "web\"1'\n#x: y\n- z\t$;&|<>\\ 日本"
METACHAR_DIR = "d'ir \"$x;&|<>`"
TIMEOUT = 60


def need(tool, package):
    path = shutil.which(tool)
    if path is None:
        raise AssertionError("%s is missing: install the %s package" % (tool, package))
    return path


def run(cmd, env=None):
    return subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, env=env)


class Iso:
    """One ISO image and what the outside readers say about it."""

    def __init__(self, test, path):
        self.test = test
        self.path = path

    def volume_id(self):
        r = run([need("isoinfo", "genisoimage"), "-d", "-i", self.path])
        self.test.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(rb"^Volume id: (.*)$", r.stdout, re.M)
        self.test.assertIsNotNone(m, r.stdout)
        return m.group(1).decode()

    def names(self, flag):
        """Names in / as isoinfo lists them with FLAG (-R, -J or none)."""
        cmd = [need("isoinfo", "genisoimage"), "-l", "-i", self.path]
        if flag:
            cmd.insert(1, flag)
        r = run(cmd)
        self.test.assertEqual(r.returncode, 0, r.stderr)
        names = set()
        for line in r.stdout.decode().splitlines():
            m = re.match(r"^[-d][-rwx]{9}.*\]\s+(.*?)\s*$", line)
            if m and m.group(1) not in ("", ".", ".."):
                names.add(m.group(1))
        return names

    def xorriso_names(self):
        r = run([need("xorriso", "xorriso"), "-indev", self.path, "-ls", "/"])
        self.test.assertEqual(r.returncode, 0, r.stderr)
        return {line.strip("'") for line in r.stdout.decode().splitlines() if line}

    def extract(self, name):
        """NAME's bytes by isoinfo -R, isoinfo -J and xorriso; all equal."""
        isoinfo = need("isoinfo", "genisoimage")
        got = {}
        for flag in ("-R", "-J"):
            r = run([isoinfo, flag, "-i", self.path, "-x", "/" + name])
            self.test.assertEqual(r.returncode, 0, r.stderr)
            got["isoinfo " + flag] = r.stdout
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            r = run([need("xorriso", "xorriso"), "-osirrox", "on", "-indev",
                     self.path, "-extract", "/" + name, out])
            self.test.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                got["xorriso"] = f.read()
        values = list(got.values())
        for reader, data in got.items():
            self.test.assertEqual(data, values[0], "%s read %s differently" % (reader, name))
        return values[0]


class SeedIso(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dump = os.environ.get("VP_SEED_DUMP")
        if not cls.dump or not os.access(cls.dump, os.X_OK):
            raise AssertionError("VP_SEED_DUMP must name the built tests/seed-dump")

    def setUp(self):
        if yaml is None:
            self.fail("PyYAML is missing: install the python3-yaml package")
        need("isoinfo", "genisoimage")
        need("xorriso", "xorriso")
        self.tmp = tempfile.mkdtemp(prefix="seed-iso-")
        self.addCleanup(shutil.rmtree, self.tmp)
        # Input files live in a folder whose name is all metacharacters.
        self.dir = os.path.join(self.tmp, METACHAR_DIR)
        os.mkdir(self.dir)
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(os.path.join(self.home, ".ssh"))
        self.write(os.path.join(self.home, ".ssh", "id_ed25519.pub"),
                   (HOSTILE_KEY + "\n").encode())

    def write(self, path, data):
        with open(path, "wb") as f:
            f.write(data)
        return path

    def file(self, name, data):
        return self.write(os.path.join(self.dir, name), data)

    def seed(self, options, hostname="web", instance_id="iid-1", home=None):
        out = os.path.join(self.tmp, "seed-%d.iso" % len(os.listdir(self.tmp)))
        env = dict(os.environ, HOME=home or self.home, LC_ALL="C")
        r = run([self.dump, options, hostname, instance_id, out], env=env)
        return r, Iso(self, out)

    def seed_ok(self, *args, **kwargs):
        r, iso = self.seed(*args, **kwargs)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(r.stderr, b"")
        return iso

    def check_layout(self, iso, network_config=False):
        want = {"user-data", "meta-data"} | ({"network-config"} if network_config else set())
        self.assertEqual(iso.volume_id(), "cidata")
        self.assertEqual(iso.names("-R"), want)
        self.assertEqual(iso.names("-J"), want)
        self.assertEqual(iso.xorriso_names(), want)
        # Plain ISO 9660 names are mangled: why Rock Ridge and Joliet.
        self.assertIn("USER_DATA.;1", iso.names(None))

    # ------------------------------------------------------------------

    def test_bare_hostile_names(self):
        iso = self.seed_ok("", hostname=HOSTILE_HOST, instance_id="i'\"d;\n$x")
        self.check_layout(iso)
        user_data = iso.extract("user-data")
        self.assertTrue(user_data.startswith(b"#cloud-config\n"))
        cfg = yaml.safe_load(user_data.decode())
        self.assertEqual(cfg, {"hostname": HOSTILE_HOST,
                               "preserve_hostname": False,
                               "ssh_authorized_keys": [HOSTILE_KEY]})
        meta = yaml.safe_load(iso.extract("meta-data").decode())
        self.assertEqual(meta, {"instance-id": "i'\"d;\n$x",
                                "local-hostname": HOSTILE_HOST})

    def test_yaml_look_alikes_stay_strings(self):
        # Values PyYAML would read as bool, int, null or float when plain.
        for host in ("true", "123", "null", "1e3", "0x1F", "~", "on", "#c", "- z"):
            iso = self.seed_ok("", hostname=host, instance_id=host)
            cfg = yaml.safe_load(iso.extract("user-data").decode())
            self.assertEqual(cfg["hostname"], host)
            meta = yaml.safe_load(iso.extract("meta-data").decode())
            self.assertEqual(meta, {"instance-id": host, "local-hostname": host})

    def test_user_files_byte_for_byte(self):
        user = ("#cloud-config\n# é 日本 \u2028 ünïcödé\npackages: [nginx]\n"
                "write_files:\n- path: /x\n  content: \"'$;&|<>\"\n").encode()
        meta = "instance-id: théirs\nlocal-hostname: mine\n".encode()
        net = b'{"version": 2, "ethernets": {"eth0": {"dhcp4": true}}}'
        opts = "user-data=%s,meta-data=%s,network-config=%s" % (
            self.file("u'\"$;&|<> é.yaml", user), self.file("m;&.yaml", meta),
            self.file("n|<>.json", net))
        iso = self.seed_ok(opts)
        self.check_layout(iso, network_config=True)
        self.assertEqual(iso.extract("user-data"), user)
        self.assertEqual(iso.extract("meta-data"), meta)
        self.assertEqual(iso.extract("network-config"), net)

    def test_near_the_cap(self):
        head = b"#!/bin/sh\n"
        body = b"# " + "é".encode() * ((CAP - len(head) - 3) // 2)
        user = head + body + b"\n"
        user += b"#" * (CAP - len(user) - 1) + b"\n"
        self.assertEqual(len(user), CAP)
        iso = self.seed_ok("user-data=%s" % self.file("big.sh", user))
        self.assertEqual(iso.extract("user-data"), user)

        r, _ = self.seed("user-data=%s" % self.file("bigger.sh", user + b"\n"))
        self.assertEqual(r.returncode, 2)
        err = r.stderr.decode()
        self.assertIn("larger than the limit of 1 MiB", err)
        self.assertIn("bigger.sh", err)
        self.assertEqual(err.count("\n"), 1, err)

    def test_empty_meta_data(self):
        # An empty meta-data is an empty mapping, as cloud-init reads it:
        # the seed's meta-data is then all ours.
        opts = "user-data=%s,meta-data=%s" % (
            self.file("u.sh", b"#!/bin/sh\n"), self.file("empty", b""))
        iso = self.seed_ok(opts, hostname="h;1", instance_id="iid-9")
        meta = yaml.safe_load(iso.extract("meta-data").decode())
        self.assertEqual(meta, {"instance-id": "iid-9", "local-hostname": "h;1"})

    def test_meta_data_lacking_instance_id(self):
        meta = b"# my meta-data\nlocal-hostname: mine\npublic-keys: ['k']\n"
        opts = "user-data=%s,meta-data=%s" % (
            self.file("u.sh", b"#!/bin/sh\n"), self.file("md", meta))
        iso = self.seed_ok(opts, instance_id="id\"'\n;")
        got = yaml.safe_load(iso.extract("meta-data").decode())
        self.assertEqual(got, {"local-hostname": "mine", "public-keys": ["k"],
                               "instance-id": "id\"'\n;"})

    def test_multipart(self):
        user = "#!/bin/sh\necho 'é' \"$HOME\" ; ls | cat > /dev/null\n".encode()
        root = self.file("root;&.pub", ("# mine\n%s\n" % HOSTILE_KEY).encode())
        cloud = self.file("cloud|<>.pub",
                          ("ssh-ed25519 %s cloud\n" % KEY_BLOB).encode())
        opts = "user-data=%s,root-ssh-key=%s,clouduser-ssh-key=%s,disable=on" % (
            self.file("u.sh", user), root, cloud)
        iso = self.seed_ok(opts)
        data = iso.extract("user-data")
        # cloud-init reads user-data as MIME only with this header early on.
        self.assertIn(b"mime-version:", data[:4096].lower())
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        self.assertTrue(msg.is_multipart())
        parts = msg.get_payload()
        self.assertEqual(len(parts), 2)
        self.assertEqual(parts[0].get_content_type(), "text/x-shellscript")
        self.assertEqual(parts[0].get_payload(decode=True), user)
        self.assertEqual(parts[1].get_content_type(), "text/cloud-config")
        ours = parts[1].get_payload(decode=True).decode()
        self.assertTrue(ours.startswith("#cloud-config\n"))
        self.assertEqual(yaml.safe_load(ours), {
            "merge_how": "list(append)+dict(no_replace,recurse_list)+str()",
            "ssh_authorized_keys": ["ssh-ed25519 %s cloud" % KEY_BLOB],
            "users": ["default", {"name": "root",
                                  "ssh_authorized_keys": [HOSTILE_KEY]}],
            "disable_root": False,
            "runcmd": [["touch", "/etc/cloud/cloud-init.disabled"]],
        })

    def test_no_keys_found(self):
        empty_home = os.path.join(self.tmp, "nohome")
        os.mkdir(empty_home)
        r, _ = self.seed("", home=empty_home)
        self.assertEqual(r.returncode, 2)
        err = r.stderr.decode()
        self.assertIn("clouduser-ssh-key=FILE", err)
        self.assertIn(empty_home, err)

    def test_rejected_inputs(self):
        cases = [
            ("user-data=%s" % self.file("p.txt", b"hello\n"),
             "neither cloud-config nor a script"),
            ("user-data=%s" % self.file("l1", "#cloud-config\nx: caf\xe9\n".encode("latin-1")),
             "not UTF-8"),
            ("meta-data=%s" % self.file("md", b"- a\n"), "not a YAML mapping"),
            ("root-ssh-key=%s" % self.file("k", b"ssh-ed25519 AAAA x\n"),
             "not an OpenSSH public key"),
            ("user-data=%s" % os.path.join(self.dir, "missing"), "No such file"),
            ("bogus=1", "unknown seed option 'bogus'"),
        ]
        for options, message in cases:
            with self.subTest(options=options):
                r, _ = self.seed(options)
                self.assertEqual(r.returncode, 2, r.stderr)
                err = r.stderr.decode()
                self.assertIn(message, err)
                self.assertEqual(err.count("\n"), 1, err)

    def test_deterministic(self):
        opts = "network-config=%s" % self.file("n.yaml", b"version: 2\n")
        first = self.seed_ok(opts, hostname=HOSTILE_HOST)
        time.sleep(1.1)  # any clock the image would carry moves on
        second = self.seed_ok(opts, hostname=HOSTILE_HOST)
        with open(first.path, "rb") as a, open(second.path, "rb") as b:
            self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
