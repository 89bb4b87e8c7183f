#!/usr/bin/env python3
"""The Simplified Chinese translation is complete, current and used.

Runs the built program in a zh_CN.UTF-8 locale with its catalogues taken
from the build tree, and checks that help, errors and summaries come out in
Chinese.  Also checks the translation files themselves: msgfmt finds nothing
untranslated or fuzzy, po/POTFILES.in names every source file with
translatable strings, and po/virt-provision.pot matches the sources.

Environment:
  VP_BIN              the built virt-provision
  VP_LOCALEDIR_BUILD  the build tree's compiled catalogues, the directory
                      holding zh_CN/LC_MESSAGES/virt-provision.mo
                      (BUILD/po/locale)

Needs xgettext, msgfmt and msgmerge (gettext) and localedef with the zh_CN
locale source (locales).  A missing zh_CN.UTF-8 locale is generated: into
the system as root, else into a private directory used through LOCPATH.
install.py imports zh_cn_env() from here.
"""

import atexit
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PO_DIR = os.path.join(SOURCE_DIR, "po")
LANG = "zh_CN"
LOCALE = "zh_CN.UTF-8"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

_private_locale_dir = None


def _locale_works(env):
    """True when LOCALE loads under ENV (with its LOCPATH, if any)."""
    try:
        r = subprocess.run(["locale", "charmap"], env=dict(env, LC_ALL=LOCALE),
                           capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        r = subprocess.run([sys.executable, "-c",
                            "import locale; locale.setlocale(locale.LC_ALL, '');"
                            "print(locale.nl_langinfo(locale.CODESET))"],
                           env=dict(env, LC_ALL=LOCALE), capture_output=True,
                           text=True, timeout=30)
    return (r.returncode == 0 and r.stdout.strip() == "UTF-8"
            and "annot" not in r.stderr)


def _localedef(*args):
    if shutil.which("localedef") is None:
        raise AssertionError("localedef is missing: install libc-bin and locales")
    r = subprocess.run(["localedef", "-i", LANG, "-f", "UTF-8", *args],
                       capture_output=True, text=True, timeout=300)
    # localedef exits 1 for mere warnings; whether the locale loads decides.
    if r.returncode > 1:
        raise AssertionError("localedef %s failed (is the locales package "
                             "installed?):\n%s%s" % (" ".join(args), r.stdout,
                                                     r.stderr))


def zh_cn_env(base=None):
    """An environment whose messages are Simplified Chinese: LANGUAGE and
    LC_ALL set, plus LOCPATH when the locale had to be built privately.
    Builds the zh_CN.UTF-8 locale once per process if it is missing."""
    global _private_locale_dir
    env = dict(os.environ if base is None else base)
    for name in ("LANG", "LANGUAGE", "LC_MESSAGES", "LOCPATH"):
        env.pop(name, None)
    env["LANGUAGE"] = LANG
    if _private_locale_dir is None and _locale_works(env):
        return dict(env, LC_ALL=LOCALE)
    if _private_locale_dir is None and os.geteuid() == 0:
        # Into the system's locale archive, where every later run finds it.
        _localedef(LOCALE)
        if _locale_works(env):
            return dict(env, LC_ALL=LOCALE)
    if _private_locale_dir is None:
        path = tempfile.mkdtemp(prefix="vp-locale-")
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _localedef(os.path.join(path, LOCALE))
        _private_locale_dir = path
    env["LOCPATH"] = _private_locale_dir
    if not _locale_works(env):
        raise AssertionError("cannot load the %s locale, even one built into "
                             "%s" % (LOCALE, _private_locale_dir))
    return dict(env, LC_ALL=LOCALE)


# --- reading PO files -----------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a"}


def _unquote(text):
    body = text.strip()[1:-1]
    return re.sub(r'\\(.)', lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def read_po(path):
    """The active entries of a PO or POT file, as dicts with msgid,
    msgid_plural, msgctxt, msgstr (list) and flags."""
    entries = []
    entry = None
    field = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#~") or not line.strip():
                if entry is not None and "msgid" in entry:
                    entries.append(entry)
                entry = None
                continue
            if entry is None:
                entry = {"flags": set(), "msgstr": []}
            if line.startswith("#,"):
                entry["flags"] |= {f.strip() for f in line[2:].split(",")}
                continue
            if line.startswith("#"):
                continue
            m = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$',
                         line)
            if m:
                field = m.group(1)
                if field.startswith("msgstr"):
                    entry["msgstr"].append(_unquote(m.group(2)))
                else:
                    entry[field] = _unquote(m.group(2))
            elif line.startswith('"'):
                if field.startswith("msgstr"):
                    entry["msgstr"][-1] += _unquote(line)
                else:
                    entry[field] += _unquote(line)
    if entry is not None and "msgid" in entry:
        entries.append(entry)
    return [e for e in entries if e["msgid"] != "" or "msgctxt" in e]


def msgid_key(entry):
    return (entry.get("msgctxt"), entry["msgid"], entry.get("msgid_plural"))


# Printf directives, with gettext's <PRIu64>-style system-dependent ones.
_DIRECTIVE = re.compile(r"%(?:\d+\$)?(?:<PRI\w+>|[-+ #0']*\d*(?:\.\d+)?"
                        r"(?:hh|h|ll|l|L|q|j|z|t)?[diouxXeEfFgGaAcsp%])")


def english_sentences(entries):
    """Pieces of the catalogue's English that no translation keeps: each
    msgid split at directives and line breaks, pieces of three words or
    more that its own msgstr does not contain."""
    pieces = set()
    for e in entries:
        translations = " ".join(e["msgstr"])
        for source in filter(None, (e["msgid"], e.get("msgid_plural"))):
            for piece in _DIRECTIVE.split(source):
                for line in piece.split("\n"):
                    line = line.strip(" \r\t:;,.'()[]\x1b")
                    if (len(re.findall(r"[A-Za-z]{2,}", line)) >= 3
                            and line not in translations):
                        pieces.add(line)
    return pieces


def _xgettext_command(output):
    """The pot target's xgettext command from po/CMakeLists.txt, with its
    output redirected to OUTPUT."""
    with open(os.path.join(PO_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        cmake = f.read()
    m = re.search(r"add_custom_target\(\s*pot\s+COMMAND\s+\$\{XGETTEXT\}(.*?)"
                  r"\s+(?:WORKING_DIRECTORY|COMMENT|DEPENDS|VERBATIM)\b",
                  cmake, re.S)
    if m is None:
        raise AssertionError("cannot find the pot target's xgettext command "
                             "in po/CMakeLists.txt")
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
        version = re.search(r"project\([^)]*VERSION\s+([0-9.]+)", f.read()).group(1)
    args = []
    for arg in shlex.split(m.group(1)):
        arg = (arg.replace("${CMAKE_CURRENT_SOURCE_DIR}", PO_DIR)
                  .replace("${PROJECT_SOURCE_DIR}", SOURCE_DIR)
                  .replace("${PROJECT_VERSION}", version)
                  .replace("${VP_POT}", output))
        if "${" in arg:
            raise AssertionError("po/CMakeLists.txt: cannot expand %s" % arg)
        args.append(arg)
    return ["xgettext"] + args


class Translation(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.bin = os.environ.get("VP_BIN")
        cls.localedir = os.environ.get("VP_LOCALEDIR_BUILD")
        if not cls.bin or not os.access(cls.bin, os.X_OK):
            raise AssertionError("set VP_BIN to the built virt-provision")
        if not cls.localedir:
            raise AssertionError("set VP_LOCALEDIR_BUILD to BUILD/po/locale")
        mo = os.path.join(cls.localedir, LANG, "LC_MESSAGES", "virt-provision.mo")
        if not os.path.isfile(mo):
            raise AssertionError("%s is missing: build the translations target" % mo)
        for tool in ("xgettext", "msgfmt", "msgmerge"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is missing: install gettext" % tool)
        cls.env = zh_cn_env()
        cls.env["VIRT_PROVISION_LOCALEDIR"] = cls.localedir
        cls.catalogue = read_po(os.path.join(PO_DIR, LANG + ".po"))
        cls.english = english_sentences(cls.catalogue)
        cls.tmp = tempfile.TemporaryDirectory(prefix="vp-i18n-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_vp(self, *args, code=0):
        r = subprocess.run([self.bin, *args], env=self.env, cwd=self.tmp.name,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, code,
                         "virt-provision %s: exit %d\n%s%s"
                         % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def assertChinese(self, text, what):
        self.assertRegex(text, CJK, "%s is not in Chinese:\n%s" % (what, text))
        left = sorted(s for s in self.english if s in text)
        self.assertEqual(left, [], "%s has untranslated English:\n%s" % (what, text))

    def commands(self):
        r = subprocess.run([self.bin, "--help"], capture_output=True, text=True,
                           env=dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE=""),
                           timeout=60)
        text = r.stdout.split("Commands:", 1)[1].split("\n\n", 1)[0]
        names = re.findall(r"^  ([a-z][a-z-]*)\s", text, re.M)
        self.assertIn("image", names)
        return names

    def test_help(self):
        self.assertChinese(self.run_vp("--help").stdout, "virt-provision --help")
        for name in self.commands():
            with self.subTest(command=name):
                self.assertChinese(self.run_vp(name, "--help").stdout,
                                   "virt-provision %s --help" % name)

    def test_bad_input(self):
        r = self.run_vp("image", "x", "--size", "20X", code=2)
        self.assertEqual(r.stdout, "")
        self.assertIn("20X", r.stderr)
        self.assertChinese(r.stderr, "the error for --size 20X")
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x")))
        r = self.run_vp("image", "y.qcow2", code=2)
        self.assertChinese(r.stderr, "the error for a missing --size")

    def test_domain_option_errors(self):
        # Checked before any connection: the socket has no daemon behind it.
        uri = "qemu+unix:///session?socket=%s/none.sock" % self.tmp.name
        prov = ["-c", uri, "--pool", "default", "--name", "g", "--size", "1G"]
        for args, value in ((prov + ["--graphics", "rdp"], "rdp"),
                            (prov + ["--cache", "always"], "always"),
                            (["-c", uri, "attach", "--domain", "g", "--pool", "p",
                              "--size", "1G", "--disk-bus", "usb"], "usb"),
                            (prov + ["--memory="], "--memory")):
            with self.subTest(args=args[-2:]):
                r = self.run_vp(*args, code=2)
                self.assertIn(value, r.stderr)
                self.assertChinese(r.stderr, "the error for %s" % " ".join(args[-2:]))
                # The list of values to use is translated too, not English
                # pasted into a Chinese sentence.
                self.assertNotIn(" or ", r.stderr)

    def test_image_and_info(self):
        for name, extra in (("disk.qcow2", []), ("disk.img", ["--format", "raw"])):
            with self.subTest(image=name):
                out = self.run_vp("image", name, "--size", "64M", *extra).stdout
                self.assertIn(name, out)
                self.assertChinese(out, "the summary of image " + name)
                out = self.run_vp("info", name).stdout
                self.assertIn(name, out)
                self.assertChinese(out, "the summary of info " + name)

    def test_catalogue_complete(self):
        po = os.path.join(PO_DIR, LANG + ".po")
        r = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, po],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"\d+ translated message")
        self.assertNotRegex(r.stderr, r"untranslated|fuzzy", r.stderr)
        # Every message of the committed template, too: a template updated
        # without merging leaves messages the .po does not even list.
        with tempfile.TemporaryDirectory() as tmp:
            merged = os.path.join(tmp, "merged.po")
            subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching",
                            "-o", merged, po,
                            os.path.join(PO_DIR, "virt-provision.pot")],
                           check=True, capture_output=True, timeout=60)
            r = subprocess.run(["msgfmt", "--statistics", "-o", os.devnull, merged],
                               capture_output=True, text=True, timeout=60)
        self.assertNotRegex(r.stderr, r"untranslated|fuzzy",
                            "po/%s.po lacks messages of po/virt-provision.pot; "
                            "run msgmerge --update po/%s.po po/virt-provision.pot "
                            "and translate: %s" % (LANG, LANG, r.stderr))

    def test_potfiles(self):
        with open(os.path.join(PO_DIR, "POTFILES.in"), encoding="utf-8") as f:
            listed = {line.strip() for line in f
                      if line.strip() and not line.startswith("#")}
        marked = re.compile(r'(?<![\w])(?:N?_|C_|NC_)\(\s*"|'
                            r'(?<![\w])g_d?n?c?gettext\s*\(', re.S)
        missing = []
        # Every layer folder and its sub-folders (src/core/qcow2/, ...).
        for folder, dirs, names in os.walk(os.path.join(SOURCE_DIR, "src")):
            dirs.sort()
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(folder, name), SOURCE_DIR)
                with open(os.path.join(SOURCE_DIR, rel), encoding="utf-8") as f:
                    if marked.search(f.read()) and rel not in listed:
                        missing.append(rel)
        self.assertEqual(missing, [], "add these to po/POTFILES.in")
        for path in listed:
            self.assertTrue(os.path.isfile(os.path.join(SOURCE_DIR, path)),
                            "po/POTFILES.in lists %s, which does not exist" % path)

    def regenerate(self):
        out = os.path.join(self.tmp.name, "fresh.pot")
        r = subprocess.run(_xgettext_command(out), cwd=SOURCE_DIR,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return read_po(out)

    def test_template_current(self):
        fresh = {msgid_key(e) for e in self.regenerate()}
        committed = {msgid_key(e)
                     for e in read_po(os.path.join(PO_DIR, "virt-provision.pot"))}
        self.assertEqual(
            (sorted(fresh - committed, key=str), sorted(committed - fresh, key=str)),
            ([], []),
            "po/virt-provision.pot is out of date (new, gone): run "
            "cmake --build BUILD -t pot, then msgmerge --update po/%s.po "
            "po/virt-provision.pot and translate" % LANG)

    def test_messages_whole(self):
        # xgettext cannot expand a macro such as G_GUINT64_FORMAT in the
        # middle of a string: it keeps the part before it, which the program
        # never looks up, so that message is never translated.  PRIu64 and
        # PRIx64 (inttypes.h) are the ones gettext understands.
        cut = sorted(e["msgid"] for e in self.regenerate()
                     if re.search(r"%(?:\d+\$)?$", e["msgid"]))
        self.assertEqual(cut, [], "messages cut short at a format macro: use "
                                  "\"%1$\" PRIu64 rather than \"%1$\" "
                                  "G_GUINT64_FORMAT in translatable strings")
        # A message that starts or ends with a space is a piece to be glued
        # to another (" and start it"), which no translator can order.
        pieces = sorted(e["msgid"] for e in self.regenerate()
                        if e["msgid"].rstrip("\n") != e["msgid"].strip())
        self.assertEqual(pieces, [], "messages made to be pasted into others: "
                                     "give each variant its whole sentence")


if __name__ == "__main__":
    unittest.main(verbosity=2)
