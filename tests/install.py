#!/usr/bin/env python3
"""cmake --install puts exactly the expected files under the prefix, and
the installed program works from there: it finds its translations through
the compiled-in locale directory and its libvirt helper in libexec.

Configures and builds a fresh copy of the source tree (no tests) in a
temporary directory, with the install prefix inside that directory too.

Environment (all optional):
  VP_CMAKE  the cmake to use (default: cmake on PATH)
  VP_CC     the C compiler to configure with (default: CMake's choice)
  PKG_CONFIG  the pkg-config to ask where bash completions go, as CMake does
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from i18n import CJK, SOURCE_DIR, zh_cn_env  # noqa: E402


def completions_dir(prefix):
    """Where data/CMakeLists.txt installs the bash completion: the
    completionsdir of bash-completion's pkg-config file, with the prefix
    redefined to ours, else DATADIR/bash-completion/completions."""
    pkg_config = os.environ.get("PKG_CONFIG") or shutil.which("pkg-config")
    if pkg_config:
        r = subprocess.run([pkg_config, "--define-variable=prefix=" + prefix,
                            "--variable=completionsdir", "bash-completion"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode == 0 and r.stdout.strip():
            return os.path.join(prefix, r.stdout.strip())
    return os.path.join(prefix, "share", "bash-completion", "completions")


class Install(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vp-install-")
        cls.build = os.path.join(cls.tmp.name, "build")
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        cls.work = os.path.join(cls.tmp.name, "work")
        os.mkdir(cls.work)
        cmake = os.environ.get("VP_CMAKE") or "cmake"
        env = dict(os.environ)
        env.pop("DESTDIR", None)
        configure = [cmake, "-S", SOURCE_DIR, "-B", cls.build,
                     "-DCMAKE_INSTALL_PREFIX=" + cls.prefix,
                     "-DBUILD_TESTING=OFF"]
        if os.environ.get("VP_CC"):
            configure.append("-DCMAKE_C_COMPILER=" + os.environ["VP_CC"])
        steps = (configure,
                 [cmake, "--build", cls.build, "-j", str(os.cpu_count() or 2)],
                 [cmake, "--install", cls.build])
        for step in steps:
            r = subprocess.run(step, env=env, capture_output=True, text=True,
                               timeout=600)
            if r.returncode != 0:
                cls.tmp.cleanup()
                raise AssertionError("%s failed:\n%s%s"
                                     % (" ".join(step), r.stdout[-4000:],
                                        r.stderr[-4000:]))
        cls.bin = os.path.join(cls.prefix, "bin", "virt-provision")
        cls.env = zh_cn_env()
        cls.env.pop("VIRT_PROVISION_LOCALEDIR", None)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def expected(self):
        with open(os.path.join(SOURCE_DIR, "po", "LINGUAS"), encoding="utf-8") as f:
            langs = [line.strip() for line in f
                     if line.strip() and not line.startswith("#")]
        self.assertIn("zh_CN", langs)
        files = {os.path.join(self.prefix, path) for path in (
            "bin/virt-provision",
            "libexec/virt-provision-libvirt",
            "share/man/man1/virt-provision.1",
        )}
        files |= {os.path.join(self.prefix, "share", "locale", lang,
                               "LC_MESSAGES", "virt-provision.mo")
                  for lang in langs}
        files.add(os.path.join(completions_dir(self.prefix), "virt-provision"))
        return {os.path.normpath(path) for path in files}

    def test_installed_files(self):
        expected = self.expected()
        found = set()
        for root, dirs, files in os.walk(self.prefix):
            found |= {os.path.join(root, name) for name in files}
            found |= {os.path.join(root, name) for name in dirs
                      if os.path.islink(os.path.join(root, name))}
        self.assertEqual(sorted(found), sorted(expected))
        # Nothing outside the prefix either.
        with open(os.path.join(self.build, "install_manifest.txt"),
                  encoding="utf-8") as f:
            manifest = {os.path.normpath(line.strip()) for line in f if line.strip()}
        self.assertEqual(sorted(manifest), sorted(expected))
        for program in ("bin/virt-provision", "libexec/virt-provision-libvirt"):
            self.assertTrue(os.access(os.path.join(self.prefix, program), os.X_OK),
                            program)

    def run_installed(self, *args):
        r = subprocess.run([self.bin, *args], env=self.env, cwd=self.work,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, "virt-provision %s: exit %d\n%s%s"
                         % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def test_translated_help(self):
        # No VIRT_PROVISION_LOCALEDIR: the catalogue comes from the
        # compiled-in PREFIX/share/locale.
        out = self.run_installed("--help").stdout
        self.assertRegex(out, CJK, out)
        self.assertNotIn("Usage: virt-provision", out)

    def test_image(self):
        out = self.run_installed("image", "disk.qcow2", "--size", "1G").stdout
        self.assertRegex(out, CJK, out)
        path = os.path.join(self.work, "disk.qcow2")
        self.assertTrue(os.path.isfile(path))
        with open(path, "rb") as f:
            self.assertEqual(f.read(4), b"QFI\xfb")
        self.run_installed("check", "disk.qcow2")

    def test_libvirt_helper(self):
        # The front program does not link libvirt: it executes
        # PREFIX/libexec/virt-provision-libvirt, which is not beside it.
        self.assertFalse(os.path.exists(os.path.join(self.prefix, "bin",
                                                     "virt-provision-libvirt")))
        for command in ("provision", "attach"):
            with self.subTest(command=command):
                out = self.run_installed(command, "--help").stdout
                self.assertIn("--pool", out)
                self.assertRegex(out, CJK, out)
        out = self.run_installed("--pool", "default", "--help").stdout
        self.assertRegex(out, CJK, out)
        self.assertTrue(re.search(r"--size", out), out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
