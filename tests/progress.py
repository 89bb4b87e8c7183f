#!/usr/bin/env python3
"""The progress bar: drawn on a terminal, absent in a pipe, with --quiet and
with --json.  stderr is a real pseudo-terminal (the pty module), as a person
running the tool would have it.

The bar normally appears only after half a second of work, which no image
size can guarantee on every machine; the tool runs with
VIRT_PROVISION_PROGRESS_DELAY_MS=0 so that it appears at once, and a small
image written with --preallocation full (zeros, chunk by chunk) is enough.
"""

import json
import os
import pty
import subprocess
import sys
import tempfile
import time
import unittest

SIZE = "64M"


def vp_bin():
    path = os.environ.get("VP_BIN")
    if not path or not os.access(path, os.X_OK):
        raise SystemExit("progress.py: set VP_BIN to the built virt-provision")
    return path


class Progress(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vp = vp_bin()
        cls.tmp = tempfile.TemporaryDirectory(prefix="vp-progress.")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_tool(self, extra, tty):
        env = dict(os.environ, VIRT_PROVISION_PROGRESS_DELAY_MS="0")
        out = os.path.join(self.tmp.name, "p.qcow2")
        if os.path.exists(out):
            os.unlink(out)
        argv = [self.vp] + extra + ["image", out, "--size", SIZE,
                                    "--preallocation", "full"]
        if not tty:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=300, env=env)
            return r.returncode, r.stdout, r.stderr
        master, slave = pty.openpty()
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave,
                             stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            chunks.append(data)
        stdout = p.stdout.read().decode()
        p.stdout.close()
        p.wait(timeout=300)
        os.close(master)
        print("progress.py: %s on a tty: %.1f s" % (extra or "plain",
                                                   time.monotonic() - t0),
              file=sys.stderr)
        return p.returncode, stdout, b"".join(chunks).decode(errors="replace")

    def test_bar_on_terminal(self):
        rc, out, err = self.run_tool([], tty=True)
        self.assertEqual(rc, 0, err)
        self.assertIn("writing [", err)
        self.assertIn("100%", err)
        self.assertIn("\r", err, "the bar redraws in place")
        self.assertRegex(err, r"/s, (took|\d+:\d\d left)")
        self.assertIn("Created", out)

    def test_no_bar_in_pipe(self):
        rc, out, err = self.run_tool([], tty=False)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("[", err)
        self.assertEqual(err, "")

    def test_no_bar_with_quiet(self):
        rc, out, err = self.run_tool(["--quiet"], tty=True)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err.strip(), "")
        self.assertEqual(out, "")

    def test_no_bar_with_json(self):
        rc, out, err = self.run_tool(["--json"], tty=True)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err.strip(), "")
        self.assertEqual(json.loads(out)["preallocation"], "full")


if __name__ == "__main__":
    unittest.main(verbosity=2)
