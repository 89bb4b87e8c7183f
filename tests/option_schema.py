#!/usr/bin/env python3
"""--help, the man page, the completion and zh_CN against the option schema.

The schema (src/core/options/provision-options.c) is the one table of
provision's options.  tests/test-option-schema --dump prints it; this test
fails when an option of the table is missing from any of:

- `virt-provision provision --help` (name, short name, placeholder, help
  text), and `image --help` for the DISK options; and the reverse: provision
  --help lists no option the schema lacks (the global ones aside);
- the configured man page (VP_MANPAGE), as `\\-\\-NAME` and its short name;
- the bash completion (data/virt-provision.bash-completion);
- zh_CN: `provision --help` run in zh_CN.UTF-8 with the build tree's
  catalogue shows each option's help and placeholder translated (Chinese
  text, not the English of the table).

Environment: VP_BIN, VP_SCHEMA_DUMP (the test-option-schema program),
VP_MANPAGE, VP_LOCALEDIR_BUILD (BUILD/po/locale).  Needs what i18n.py needs
for the zh_CN locale.
"""
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from i18n import CJK, SOURCE_DIR, zh_cn_env  # noqa: E402


def env_path(name):
    value = os.environ.get(name)
    if not value or not os.path.exists(value):
        raise SystemExit(f"{name} is not set or missing; run through ctest")
    return value


VP_BIN = env_path("VP_BIN")
DUMP = env_path("VP_SCHEMA_DUMP")
MANPAGE = env_path("VP_MANPAGE")
LOCALEDIR = env_path("VP_LOCALEDIR_BUILD")
COMPLETION = os.path.join(SOURCE_DIR, "data", "virt-provision.bash-completion")
GLOBALS = {"-c", "--connect", "--json", "-q", "--quiet", "-v", "--verbose",
           "-h", "--help", "--help-all", "-?"}


def run(argv, env=None):
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"{argv} exited {p.returncode}:\n{p.stderr}")
    return p.stdout


def schema():
    rows = []
    for line in run([DUMP, "--dump"]).splitlines():
        name, short, flags, arg, help_ = line.split("\t")
        rows.append({"name": name, "short": None if short == "-" else short,
                     "flags": set() if flags == "-" else set(flags.split(",")),
                     "arg": None if arg == "-" else arg, "help": help_})
    return rows


def option_line(help_text, name):
    """The --help line of --NAME: '  -p, --pool=POOL   text'."""
    for line in help_text.splitlines():
        if re.search(r"(^|\s|,)--%s(=|\s|$)" % re.escape(name), line):
            return line
    return None


C_ENV = dict(os.environ, LC_ALL="C.UTF-8")
C_ENV.pop("LANGUAGE", None)


class Schema(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rows = schema()
        cls.help = run([VP_BIN, "provision", "--help"], env=C_ENV)
        cls.image_help = run([VP_BIN, "image", "--help"], env=C_ENV)

    def test_table(self):
        # The dump is the table, not an empty list that proves nothing.
        names = [r["name"] for r in self.rows]
        self.assertGreaterEqual(len(names), 36)
        for n in ("pool", "size", "network", "cloud-init", "wait",
                  "cluster-size", "backing-format"):
            self.assertIn(n, names)

    def test_help(self):
        for r in self.rows:
            with self.subTest(option=r["name"]):
                line = option_line(self.help, r["name"])
                self.assertIsNotNone(line, "--%s is not in provision --help"
                                     % r["name"])
                self.assertIn(r["help"], line)
                if r["short"]:
                    self.assertIn("-%s, --%s" % (r["short"], r["name"]), line)
                if r["arg"]:
                    self.assertRegex(line, r"--%s(\[)?=%s" % (
                        re.escape(r["name"]), re.escape(r["arg"])))
                if "disk" in r["flags"]:
                    self.assertIsNotNone(option_line(self.image_help,
                                                     r["name"]))

    def test_help_has_nothing_else(self):
        names = {"--" + r["name"] for r in self.rows}
        names |= {"-" + r["short"] for r in self.rows if r["short"]}
        listed = set(re.findall(r"(?<![\w-])(--?[A-Za-z?][\w-]*)",
                                "\n".join(line.split("  ")[1] if "  " in line
                                          else line
                                          for line in self.help.splitlines()
                                          if line.startswith("  -"))))
        self.assertEqual(listed - names - GLOBALS, set())

    def test_man_page(self):
        with open(MANPAGE, encoding="utf-8") as f:
            man = f.read()
        for r in self.rows:
            with self.subTest(option=r["name"]):
                spelled = "\\-\\-" + r["name"].replace("-", "\\-")
                self.assertTrue(spelled in man, "%s is not in %s"
                                % (spelled, MANPAGE))
                if r["short"]:
                    self.assertTrue("\\-" + r["short"] in man)

    def test_completion(self):
        with open(COMPLETION, encoding="utf-8") as f:
            words = set(re.findall(r"(?<![\w-])--?[\w-]+", f.read()))
        for r in self.rows:
            with self.subTest(option=r["name"]):
                self.assertTrue("--" + r["name"] in words, "--%s is not in %s"
                                % (r["name"], COMPLETION))
                if r["short"]:
                    self.assertTrue("-" + r["short"] in words)

    def test_zh_cn(self):
        env = zh_cn_env(dict(os.environ, VIRT_PROVISION_LOCALEDIR=LOCALEDIR))
        text = run([VP_BIN, "provision", "--help"], env=env)
        for r in self.rows:
            with self.subTest(option=r["name"]):
                line = option_line(text, r["name"])
                self.assertIsNotNone(line)
                self.assertNotIn(r["help"], line)
                self.assertRegex(line, CJK)
                if r["arg"]:
                    # The placeholder is translated too (or kept where
                    # the translation chose the same letters).
                    self.assertRegex(line, r"--%s(\[)?=\S" % re.escape(
                        r["name"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
