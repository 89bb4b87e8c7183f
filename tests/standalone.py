"""Helpers of the daemon-free CLI tests, bad_input.py and lab_manifests.py:
the binary under test, and what to compare before and after a run that must
leave a directory as it was."""

import hashlib
import os
import stat


def snapshot(root):
    """Everything observable under root, except directory mtimes/atimes
    (creating and removing a temporary file legitimately changes those)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                snap[rel] = ["dir", oct(st.st_mode)]
            elif stat.S_ISLNK(st.st_mode):
                snap[rel] = ["link", os.readlink(p), st.st_ino]
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                snap[rel] = ["file", oct(st.st_mode), st.st_size, st.st_ino,
                             st.st_mtime_ns, h.hexdigest()]
            else:
                snap[rel] = ["other", oct(st.st_mode)]
    return snap


def snap_diff(before, after):
    out = []
    for k in sorted(set(before) | set(after)):
        if k not in after:
            out.append("removed %s" % k)
        elif k not in before:
            out.append("left behind %s %s" % (k, after[k][:3]))
        elif before[k] != after[k]:
            out.append("changed %s: %s -> %s" % (k, before[k], after[k]))
    return out


def require_vp():
    """The binary from $VP_BIN, which must be an executable given by
    absolute path."""
    vp = os.environ.get("VP_BIN")
    if not vp:
        raise RuntimeError("VP_BIN is not set: point it at the virt-provision binary "
                           "(absolute path)")
    if not os.path.isabs(vp) or not os.path.isfile(vp) or not os.access(vp, os.X_OK):
        raise RuntimeError("VP_BIN=%r is not an executable file given by absolute path" % vp)
    return vp
