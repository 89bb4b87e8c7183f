/* The qcow2 on-disk format: constants and the header, in the order of QEMU's
 * docs/interop/qcow2.txt.  Every multi-byte field on disk is big-endian; the
 * structs below hold disk byte order and are converted only where bytes are
 * read or written (qcow2-emit.c, qcow2-reader.c). */
#pragma once

#include <stddef.h>

#include <glib.h>

#define VP_QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

#define VP_QCOW2_MIN_CLUSTER_BITS 9  /* 512 B */
#define VP_QCOW2_MAX_CLUSTER_BITS 21 /* 2 MiB */

/* Limits qemu enforces when it opens an image; an image beyond them is
 * useless, so the writer refuses to produce one. */
#define VP_QCOW2_MAX_L1_BYTES (G_GUINT64_CONSTANT(32) << 20)
#define VP_QCOW2_MAX_REFTABLE_BYTES (G_GUINT64_CONSTANT(8) << 20)
#define VP_QCOW2_MAX_HOST_OFFSET (G_GUINT64_CONSTANT(1) << 56)
#define VP_QCOW2_MAX_SNAPSHOTS 65536
#define VP_QCOW2_MAX_BACKING_NAME 1023
#define VP_QCOW2_MIN_EXTENDED_L2_CLUSTER (16 * 1024)

/* L1 and standard L2 entries: host offset in bits 9-55. */
#define VP_QCOW2_OFFSET_MASK G_GUINT64_CONSTANT(0x00fffffffffffe00)
#define VP_QCOW2_OFLAG_COPIED (G_GUINT64_CONSTANT(1) << 63)
#define VP_QCOW2_OFLAG_COMPRESSED (G_GUINT64_CONSTANT(1) << 62)
#define VP_QCOW2_OFLAG_ZERO G_GUINT64_CONSTANT(1) /* v3 only */
/* Bits that must be zero: L1 entries (0-8, 56-62), standard L2 entries of
 * uncompressed clusters (1-8, 56-61). */
#define VP_QCOW2_L1E_RESERVED G_GUINT64_CONSTANT(0x7f000000000001ff)
#define VP_QCOW2_L2E_RESERVED G_GUINT64_CONSTANT(0x3f000000000001fe)
/* Refcount table entries: block offset in bits 9-63. */
#define VP_QCOW2_REFT_OFFSET_MASK G_GUINT64_CONSTANT(0xfffffffffffffe00)

/* Extended L2: a second 64-bit word per entry, one bit per subcluster. */
#define VP_QCOW2_SUBCLUSTERS 32
#define VP_QCOW2_SUBCLUSTER_ALLOC_ALL G_GUINT64_CONSTANT(0x00000000ffffffff)
#define VP_QCOW2_SUBCLUSTER_ZERO_ALL G_GUINT64_CONSTANT(0xffffffff00000000)

/* Incompatible feature bits. */
#define VP_QCOW2_INCOMPAT_DIRTY_BITNR 0
#define VP_QCOW2_INCOMPAT_CORRUPT_BITNR 1
#define VP_QCOW2_INCOMPAT_DATA_FILE_BITNR 2
#define VP_QCOW2_INCOMPAT_COMPRESSION_BITNR 3
#define VP_QCOW2_INCOMPAT_EXTL2_BITNR 4
#define VP_QCOW2_INCOMPAT_DIRTY (G_GUINT64_CONSTANT(1) << VP_QCOW2_INCOMPAT_DIRTY_BITNR)
#define VP_QCOW2_INCOMPAT_CORRUPT (G_GUINT64_CONSTANT(1) << VP_QCOW2_INCOMPAT_CORRUPT_BITNR)
#define VP_QCOW2_INCOMPAT_DATA_FILE (G_GUINT64_CONSTANT(1) << VP_QCOW2_INCOMPAT_DATA_FILE_BITNR)
#define VP_QCOW2_INCOMPAT_COMPRESSION (G_GUINT64_CONSTANT(1) << VP_QCOW2_INCOMPAT_COMPRESSION_BITNR)
#define VP_QCOW2_INCOMPAT_EXTL2 (G_GUINT64_CONSTANT(1) << VP_QCOW2_INCOMPAT_EXTL2_BITNR)
#define VP_QCOW2_INCOMPAT_KNOWN                                                \
    (VP_QCOW2_INCOMPAT_DIRTY | VP_QCOW2_INCOMPAT_CORRUPT |                     \
     VP_QCOW2_INCOMPAT_DATA_FILE | VP_QCOW2_INCOMPAT_COMPRESSION |             \
     VP_QCOW2_INCOMPAT_EXTL2)

/* Compatible and autoclear feature bits. */
#define VP_QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR 0
#define VP_QCOW2_COMPAT_LAZY_REFCOUNTS (G_GUINT64_CONSTANT(1) << VP_QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR)
#define VP_QCOW2_AUTOCLEAR_BITMAPS_BITNR 0
#define VP_QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR 1

/* Header extension types. */
#define VP_QCOW2_EXT_END 0x00000000u
#define VP_QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define VP_QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define VP_QCOW2_EXT_BITMAPS 0x23852875u
#define VP_QCOW2_EXT_CRYPTO 0x0537be77u
#define VP_QCOW2_EXT_DATA_FILE 0x44415441u

/* Feature name table entry: type (0 incompatible, 1 compatible, 2
 * autoclear), bit number, NUL-padded name. */
#define VP_QCOW2_FEATURE_NAME_LEN 46
typedef struct __attribute__((packed)) {
    guint8 type;
    guint8 bit;
    char name[VP_QCOW2_FEATURE_NAME_LEN];
} VpQcow2FeatureName;
G_STATIC_ASSERT(sizeof(VpQcow2FeatureName) == 48);

/* Compression types (header byte 104, v3 with header_length > 104). */
#define VP_QCOW2_COMPRESSION_ZLIB 0
#define VP_QCOW2_COMPRESSION_ZSTD 1

/* The header in disk byte order.  Version 2 images end after
 * snapshots_offset (72 bytes); version 3 adds the feature words,
 * refcount_order and header_length (104 bytes); qemu 7.2 writes 112 with the
 * compression type byte and padding. */
typedef struct __attribute__((packed)) {
    guint32 magic;
    guint32 version;
    guint64 backing_file_offset;
    guint32 backing_file_size;
    guint32 cluster_bits;
    guint64 size;
    guint32 crypt_method;
    guint32 l1_size;
    guint64 l1_table_offset;
    guint64 refcount_table_offset;
    guint32 refcount_table_clusters;
    guint32 nb_snapshots;
    guint64 snapshots_offset;
    /* version 3 */
    guint64 incompatible_features;
    guint64 compatible_features;
    guint64 autoclear_features;
    guint32 refcount_order;
    guint32 header_length;
    guint8 compression_type;
    guint8 padding[7];
} VpQcow2Header;

#define VP_QCOW2_V2_HEADER_LEN 72
#define VP_QCOW2_V3_MIN_HEADER_LEN 104
#define VP_QCOW2_V3_HEADER_LEN 112
G_STATIC_ASSERT(offsetof(VpQcow2Header, incompatible_features) == VP_QCOW2_V2_HEADER_LEN);
G_STATIC_ASSERT(offsetof(VpQcow2Header, compression_type) == VP_QCOW2_V3_MIN_HEADER_LEN);
G_STATIC_ASSERT(sizeof(VpQcow2Header) == VP_QCOW2_V3_HEADER_LEN);

/* Header extension: type, length of data, then data padded to 8 bytes. */
typedef struct __attribute__((packed)) {
    guint32 type;
    guint32 length;
} VpQcow2ExtHeader;
G_STATIC_ASSERT(sizeof(VpQcow2ExtHeader) == 8);

/* Internal snapshot table entry, fixed part; extra data, id string and name
 * follow, the whole entry padded to 8 bytes. */
typedef struct __attribute__((packed)) {
    guint64 l1_table_offset;
    guint32 l1_size;
    guint16 id_str_size;
    guint16 name_size;
    guint32 date_sec;
    guint32 date_nsec;
    guint64 vm_clock_nsec;
    guint32 vm_state_size;
    guint32 extra_data_size;
} VpQcow2SnapshotHeader;
G_STATIC_ASSERT(sizeof(VpQcow2SnapshotHeader) == 40);
