#!/usr/bin/env python3
"""The architecture as a test: src/ holds one folder per layer, and every
#include of a file points down or sideways, never up.

    cli        may include  cli, workflows, libvirt, core
    workflows  may include  workflows, libvirt, core
    libvirt    may include  libvirt, core, and <libvirt/*.h>
    core       may include  core

Only src/libvirt/ includes <libvirt/...> and only src/core/ <libxml/...>
(the core's headers hide libxml2 types); a folder's private header
(NAME-private.h) is included only inside its folder; the front program's
sources (the libvirt-free part of cli/, built into vpcli) include no
workflow or libvirt header.  The build already fails for a quoted include
that points up (the include directories are per layer); this test also
catches system-style includes and a header moved to the wrong folder.

It checks itself: a core file that includes a libvirt or a CLI header, put
in a scratch copy of the tree, must be reported.
"""

import os
import re
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

LAYERS = ["core", "libvirt", "workflows", "cli"]  # bottom to top
# The cli/ sources that make up vpcli, linked into the libvirt-free front
# program: they may not reach the libvirt side at all.
FRONT = {"cmd-check.c", "cmd-convert.c", "cmd-image.c", "cmd-info.c",
         "command.c", "disk-args.c", "exit-codes.c", "image-file.c",
         "image-report.c", "interrupt.c", "json-util.c", "main.c",
         "option-hints.c", "progress-bar.c", "provision-args.c", "run-env.c"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def layer_headers(src):
    """{header name: layer} for every header under SRC/<layer>/."""
    where = {}
    for layer in LAYERS:
        for name in os.listdir(os.path.join(src, layer)):
            if name.endswith(".h"):
                assert name not in where, "%s is in two layers" % name
                where[name] = layer
    return where


def violations(src):
    """Every include that breaks the layering, as 'file: reason' lines."""
    where = layer_headers(src)
    found = []
    top = set(os.listdir(src)) - set(LAYERS) - {"CMakeLists.txt"}
    for name in sorted(top):
        found.append("src/%s: not in a layer folder (%s)" % (name, ", ".join(LAYERS)))
    for rank, layer in enumerate(LAYERS):
        allowed = set(LAYERS[:rank + 1])
        folder = os.path.join(src, layer)
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".c", ".h")):
                continue
            rel = "src/%s/%s" % (layer, name)
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                text = f.read()
            for kind, inc in INCLUDE.findall(text):
                base = os.path.basename(inc)
                if kind == "<":
                    if inc.startswith("libvirt/") and layer != "libvirt":
                        found.append("%s: includes <%s>; only src/libvirt/ "
                                     "talks to libvirt" % (rel, inc))
                    if inc.startswith("libxml/") and layer != "core":
                        found.append("%s: includes <%s>; XML is built and "
                                     "edited in src/core/ only" % (rel, inc))
                    if inc.startswith("json-glib/") and layer != "cli":
                        found.append("%s: includes <%s>; JSON output is the "
                                     "CLI's" % (rel, inc))
                    continue
                if "/" in inc:
                    found.append('%s: includes "%s" by path; include by '
                                 "name and let the layer's include "
                                 "directories decide" % (rel, inc))
                if base not in where:
                    found.append('%s: includes "%s", which no layer has'
                                 % (rel, inc))
                    continue
                target = where[base]
                if target not in allowed:
                    found.append('%s: includes "%s" of src/%s/, a layer above'
                                 % (rel, inc, target))
                if base.endswith("-private.h") and target != layer:
                    found.append('%s: includes "%s", private to src/%s/'
                                 % (rel, inc, target))
                if (layer == "cli" and name in FRONT and
                        target in ("workflows", "libvirt")):
                    found.append('%s: includes "%s"; the front program links '
                                 "no libvirt" % (rel, inc))
    return found


class Layers(unittest.TestCase):
    def test_tree_is_layered(self):
        self.assertEqual(violations(SRC), [])

    def test_only_libvirt_includes_libvirt(self):
        users = []
        for layer in LAYERS:
            folder = os.path.join(SRC, layer)
            for name in os.listdir(folder):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    if "<libvirt/" in f.read():
                        users.append(layer)
        self.assertEqual(set(users), {"libvirt"})

    def test_detects_upward_includes(self):
        """The checker itself: up-pointing includes in a scratch copy."""
        cases = [
            ("core", "size.c", "#include <libvirt/libvirt.h>\n", "<libvirt/libvirt.h>"),
            ("core", "size.c", '#include "command.h"\n', "a layer above"),
            ("core", "size.c", '#include "virt.h"\n', "a layer above"),
            ("libvirt", "virt-domain.c", '#include "provision.h"\n', "a layer above"),
            ("workflows", "provision.c", '#include "virt-private.h"\n', "private"),
            ("cli", "cmd-image.c", '#include "virt.h"\n', "links no libvirt"),
            ("core", "size.c", '#include "../cli/command.h"\n', "by path"),
            ("workflows", "domain-ops.c", "#include <libxml/tree.h>\n", "src/core/ only"),
        ]
        for layer, name, line, expect in cases:
            with self.subTest(file=name, include=line.strip()):
                with tempfile.TemporaryDirectory() as tmp:
                    copy = os.path.join(tmp, "src")
                    shutil.copytree(SRC, copy)
                    path = os.path.join(copy, layer, name)
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(line + text)
                    found = violations(copy)
                    self.assertTrue(any(expect in v for v in found),
                                    "%r not reported: %r" % (line, found))


if __name__ == "__main__":
    unittest.main(verbosity=2)
