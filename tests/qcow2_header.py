#!/usr/bin/env python3
"""The qcow2 header, parsed one way for every test (docs/interop/qcow2.txt).

Standard library only; import it as tests/qemuimg.py is imported.  The tests
read headers themselves, never through the tool under test: to aim damage
at an image (check_agree.py), to confirm that a boundary case straddles its
boundary (conformance.py), to drop a header extension (convert_files.py) or
to see that a file was replaced by a qcow2 image (bad_input.py).  Treat the
names below as a stable API (add to it, do not change it):

    MAGIC                   b"QFI\\xfb"
    H_*                     byte offsets of the header fields; all big-endian
    INCOMPAT_*              incompatible feature bits
    EXT_END, EXT_BACKING_FORMAT   header extension types
    Header                  namedtuple of every field (v2 images: the v3
                            fields as qemu reads them: features 0, refcount
                            order 4, header length 72) and .cluster_size
    parse(data) -> Header   from the first bytes of an image (104 suffice);
                            raises ValueError unless they hold a qcow2 header
    read(path) -> Header    parse() of the file's start
    extensions(data, header) -> list of (type, offset, body)
                            the header extensions after the header, in file
                            order; offset is that of the extension's type
                            field; the end marker is not listed
"""

import collections
import struct

__all__ = [
    "MAGIC", "H_MAGIC", "H_VERSION", "H_BACKING_OFF", "H_BACKING_SIZE",
    "H_CLUSTER_BITS", "H_SIZE", "H_CRYPT", "H_L1_SIZE", "H_L1_OFF", "H_RT_OFF",
    "H_RT_CLUSTERS", "H_NB_SNAP", "H_SNAP_OFF", "H_INCOMPAT", "H_COMPAT",
    "H_AUTOCLEAR", "H_REFCOUNT_ORDER", "H_HEADER_LEN", "V2_HEADER_LEN",
    "V3_HEADER_LEN", "INCOMPAT_DIRTY", "INCOMPAT_CORRUPT", "INCOMPAT_EXTL2",
    "EXT_END", "EXT_BACKING_FORMAT", "Header", "parse", "read", "extensions",
]

MAGIC = b"QFI\xfb"

# Header field offsets, in spec order.
H_MAGIC, H_VERSION, H_BACKING_OFF, H_BACKING_SIZE = 0, 4, 8, 16
H_CLUSTER_BITS, H_SIZE, H_CRYPT, H_L1_SIZE = 20, 24, 32, 36
H_L1_OFF, H_RT_OFF, H_RT_CLUSTERS, H_NB_SNAP = 40, 48, 56, 60
H_SNAP_OFF = 64
H_INCOMPAT, H_COMPAT, H_AUTOCLEAR = 72, 80, 88
H_REFCOUNT_ORDER, H_HEADER_LEN = 96, 100
V2_HEADER_LEN, V3_HEADER_LEN = 72, 104

INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_EXTL2 = 1 << 4

EXT_END = 0x00000000
EXT_BACKING_FORMAT = 0xe2792aca

# The v2 part (72 bytes) and the v3 additions (32 bytes), as struct reads them.
_V2 = struct.Struct(">4sIQIIQIIQQIIQ")
_V3 = struct.Struct(">QQQII")
assert _V2.size == V2_HEADER_LEN and _V2.size + _V3.size == V3_HEADER_LEN

Header = collections.namedtuple("Header", (
    "magic version backing_file_offset backing_file_size cluster_bits size "
    "crypt_method l1_size l1_table_offset refcount_table_offset "
    "refcount_table_clusters nb_snapshots snapshots_offset "
    "incompatible_features compatible_features autoclear_features "
    "refcount_order header_length"))
Header.cluster_size = property(lambda h: 1 << h.cluster_bits)
Header.__doc__ = """Every field of a qcow2 header, named as in
docs/interop/qcow2.txt; cluster_size is 1 << cluster_bits."""


def parse(data):
    """The Header at the start of DATA (bytes); raises ValueError unless
    DATA starts with the qcow2 magic and holds the whole header."""
    if len(data) < V2_HEADER_LEN or data[:4] != MAGIC:
        raise ValueError("not a qcow2 header: %r" % bytes(data[:8]))
    v2 = _V2.unpack_from(data, 0)
    if v2[1] >= 3:
        if len(data) < V3_HEADER_LEN:
            raise ValueError("qcow2 v%d header cut short at %d bytes"
                             % (v2[1], len(data)))
        v3 = _V3.unpack_from(data, V2_HEADER_LEN)
    else:
        v3 = (0, 0, 0, 4, V2_HEADER_LEN)
    return Header(*(v2 + v3))


def read(path):
    """parse() of the first bytes of the file at PATH."""
    with open(path, "rb") as f:
        return parse(f.read(V3_HEADER_LEN))


def extensions(data, header):
    """The header extensions in DATA (the image's first bytes, enough to
    hold them: they end within the first cluster) after HEADER, as (type,
    offset of the type field, body); raises ValueError if one runs past
    DATA or there is no end marker."""
    out, pos = [], header.header_length
    while True:
        if pos + 8 > len(data):
            raise ValueError("header extensions run past %d bytes" % len(data))
        etype, elen = struct.unpack_from(">II", data, pos)
        if etype == EXT_END:
            return out
        if pos + 8 + elen > len(data):
            raise ValueError("header extension 0x%08x runs past %d bytes"
                             % (etype, len(data)))
        out.append((etype, pos, bytes(data[pos + 8:pos + 8 + elen])))
        pos += 8 + (elen + 7) // 8 * 8
