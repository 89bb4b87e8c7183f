#!/usr/bin/env python3
"""The architecture as a test: src/ holds one folder per layer, and every
#include of a file points down or sideways, never up.

    cli        may include  cli, workflows, libvirt, core
    workflows  may include  workflows, libvirt, core
    libvirt    may include  libvirt, core, and <libvirt/*.h>
    core       may include  core

A layer's folder may have sub-folders (src/core/qcow2/, ...): their files
are the layer's, under the same rule.  Only src/libvirt/ includes
<libvirt/...> and only src/core/ <libxml/...> (the core's headers hide
libxml2 types); a private header (NAME-private.h) is included only by the
files of its own folder, a sub-folder being a folder of its own; the front
program's sources (the libvirt-free part of cli/, built into vpcli)
include no workflow or libvirt header.  The build already fails for a quoted include
that points up (the include directories are per layer); this test also
catches system-style includes and a header moved to the wrong folder.

It checks itself: a core file that includes a libvirt or a CLI header, put
in a scratch copy of the tree, must be reported, in a core sub-folder too.
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


def layer_files(src, layer):
    """The C sources and headers of LAYER, sub-folders included, as paths
    relative to SRC/<layer>/ ("size.c", "qcow2/qcow2-open.c"), sorted."""
    top = os.path.join(src, layer)
    found = []
    for folder, dirs, names in os.walk(top):
        dirs.sort()
        for name in names:
            if name.endswith((".c", ".h")):
                found.append(os.path.relpath(os.path.join(folder, name), top))
    return sorted(found)


def layer_headers(src):
    """{header name: (layer, its folder relative to the layer's)} for every
    header under SRC/<layer>/.  Includes are by name, so a name is unique
    across the tree, sub-folders included."""
    where = {}
    for layer in LAYERS:
        for rel in layer_files(src, layer):
            name = os.path.basename(rel)
            if name.endswith(".h"):
                assert name not in where, "%s is in two places" % name
                where[name] = (layer, os.path.dirname(rel))
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
        for sub in layer_files(src, layer):
            name = os.path.basename(sub)
            rel = "src/%s/%s" % (layer, sub)
            with open(os.path.join(src, layer, sub), encoding="utf-8") as f:
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
                target, target_dir = where[base]
                if target not in allowed:
                    found.append('%s: includes "%s" of src/%s/, a layer above'
                                 % (rel, inc, target))
                home = "/".join(p for p in (target, target_dir) if p)
                here = "/".join(p for p in (layer, os.path.dirname(sub)) if p)
                if base.endswith("-private.h") and home != here:
                    found.append('%s: includes "%s", private to src/%s/'
                                 % (rel, inc, home))
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
            for sub in layer_files(SRC, layer):
                with open(os.path.join(SRC, layer, sub), encoding="utf-8") as f:
                    if "<libvirt/" in f.read():
                        users.append(layer)
        self.assertEqual(set(users), {"libvirt"})

    def test_detects_upward_includes(self):
        """The checker itself: up-pointing includes in a scratch copy."""
        cases = [
            ("core", "util/size.c", "#include <libvirt/libvirt.h>\n", "<libvirt/libvirt.h>"),
            ("core", "util/size.c", '#include "command.h"\n', "a layer above"),
            ("core", "util/size.c", '#include "virt.h"\n', "a layer above"),
            ("libvirt", "virt-domain.c", '#include "provision.h"\n', "a layer above"),
            ("workflows", "provision.c", '#include "virt-private.h"\n', "private"),
            ("cli", "cmd-image.c", '#include "virt.h"\n', "links no libvirt"),
            ("core", "util/size.c", '#include "../cli/command.h"\n', "by path"),
            ("workflows", "domain-ops.c", "#include <libxml/tree.h>\n", "src/core/ only"),
            # A file of a sub-folder is the layer's too, in a folder made
            # later (new in the copy) as well, and a private header is its
            # own folder's alone.
            ("core", "qcow2/qcow2-layout.c", '#include "command.h"\n', "a layer above"),
            ("core", "lab/manifest.c", '#include "virt.h"\n', "a layer above"),
            ("core", "room/room.c", "#include <libvirt/libvirt.h>\n", "<libvirt/libvirt.h>"),
            ("core", "room/room.c", '#include "provision.h"\n', "a layer above"),
            ("core", "lab/manifest.c", '#include "qcow2-private.h"\n',
             "private to src/core/qcow2"),
        ]
        for layer, name, line, expect in cases:
            with self.subTest(file=name, include=line.strip()):
                with tempfile.TemporaryDirectory() as tmp:
                    copy = os.path.join(tmp, "src")
                    shutil.copytree(SRC, copy)
                    path = os.path.join(copy, layer, name)
                    text = ""
                    if os.path.exists(path):
                        with open(path, encoding="utf-8") as f:
                            text = f.read()
                    else:
                        # Only a folder the tree lacks gets a new file: a
                        # row naming a file that has moved must be mended.
                        self.assertFalse(os.path.isdir(os.path.dirname(path)),
                                         "%s/%s is gone" % (layer, name))
                        os.makedirs(os.path.dirname(path))
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(line + text)
                    found = violations(copy)
                    self.assertTrue(any(expect in v for v in found),
                                    "%r not reported: %r" % (line, found))


if __name__ == "__main__":
    unittest.main(verbosity=2)
