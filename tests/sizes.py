#!/usr/bin/env python3
"""Small rooms: no source file under src/ over 800 lines, no C function
over 120 (the house rules of style.md and issue 15).

Function extents come from Universal Ctags (`--fields=+ne`: the line where
a definition starts and where it ends), so a macro-heavy file is read as
the compiler's grammar sees it rather than by counting braces.  The test
prints the three longest files and functions, and fails naming every one
over its limit.  Standard library only; a missing ctags fails the test and
names the Debian package.
"""

import os
import shutil
import subprocess
import sys
import unittest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 120


def sources():
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(root, f)


def function_lengths():
    """(lines, "path:line", name) of every C function definition."""
    ctags = shutil.which("ctags-universal") or shutil.which("ctags")
    if ctags is None:
        raise RuntimeError("ctags is missing: install Debian's universal-ctags")
    out = subprocess.run([ctags, "--languages=C", "--kinds-C=f", "--fields=+ne",
                          "-f", "-"] + list(sources()),
                         capture_output=True, text=True, check=True).stdout
    found = []
    for row in out.splitlines():
        cols = row.split("\t")
        fields = dict(c.split(":", 1) for c in cols[3:] if ":" in c)
        if "line" in fields and "end" in fields:
            start, end = int(fields["line"]), int(fields["end"])
            found.append((end - start + 1, "%s:%d" % (os.path.relpath(cols[1], SRC), start),
                          cols[0]))
    return found


class Sizes(unittest.TestCase):
    def test_files(self):
        lengths = []
        for path in sources():
            with open(path, encoding="utf-8") as f:
                lengths.append((sum(1 for _ in f), os.path.relpath(path, SRC)))
        lengths.sort()
        sys.stderr.write("sizes.py: %d files, longest %s\n"
                         % (len(lengths), ", ".join("%s %d" % (p, n)
                                                     for n, p in lengths[-3:])))
        over = ["%s has %d lines" % (p, n) for n, p in lengths if n > MAX_FILE_LINES]
        self.assertEqual(over, [], "over %d lines; split by concern" % MAX_FILE_LINES)

    def test_functions(self):
        lengths = sorted(function_lengths())
        # Every .c file defines at least one function: ctags read them all.
        self.assertGreater(len(lengths), 500)
        sys.stderr.write("sizes.py: %d functions, longest %s\n"
                         % (len(lengths), ", ".join("%s %d" % (n, l)
                                                     for l, _, n in lengths[-3:])))
        over = ["%s %s has %d lines" % (where, name, n)
                for n, where, name in lengths if n > MAX_FUNCTION_LINES]
        self.assertEqual(over, [], "over %d lines; extract named steps"
                         % MAX_FUNCTION_LINES)


if __name__ == "__main__":
    unittest.main(verbosity=2)
