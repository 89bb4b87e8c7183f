/* Private to the qcow2 reader (qcow2-open.c, qcow2-map.c, qcow2-check.c):
 * the opened image and the helpers the three share.  Everything here
 * trusts only what qcow2-open.c has already validated. */
#pragma once

#include <glib.h>

#include "qcow2-reader.h"

typedef struct {
    guint64 l1_offset;
    guint32 l1_size;
} VpQcow2Snapshot;

struct VpQcow2Image {
    VpReadFunc read;
    gpointer opaque;
    char *name;
    VpQcow2Meta meta;
    guint32 l2_entry_bytes;
    guint64 l2_entries;       /* per table */
    guint64 refblock_entries; /* per block */
    guint64 *l1;              /* host byte order, meta.l1_size entries */
    guint64 *reftable;        /* host byte order */
    guint64 reftable_size;    /* entries */
    VpQcow2Snapshot *snapshots;
    guint64 snapshots_size;   /* bytes of the snapshot table */
    guint8 *l2_cache;         /* the L2 table last read by guest_map */
    guint64 l2_cache_offset;  /* its host offset, 0 when empty */
};

/* qemu's cluster types, from an L2 entry's first word. */
typedef enum {
    VP_CLUSTER_UNALLOCATED,
    VP_CLUSTER_ZERO_PLAIN,
    VP_CLUSTER_ZERO_ALLOC,
    VP_CLUSTER_NORMAL,
    VP_CLUSTER_COMPRESSED,
} VpClusterType;

/* READ through the image's reader: LEN bytes at host OFFSET, zeros past
 * the end. */
gboolean vp_img_read(VpQcow2Image *img, guint64 offset, void *buf, gsize len,
                     GError **error);

/* The big-endian u64 at P (any alignment). */
guint64 vp_be64_at(const guint8 *p);

/* COUNT big-endian u64 entries at OFFSET in host order; the caller frees.
 * Entries past the end of the file read as zero without being read. */
guint64 *vp_read_table(VpQcow2Image *img, guint64 offset, guint64 count,
                       GError **error);

/* Sets VP_ERROR_CORRUPT "'NAME' is not a valid qcow2 image: WHAT"; FALSE. */
gboolean vp_corrupt(GError **error, VpQcow2Image *img, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

/* qemu's qcow2_validate_table: COUNT entries of ENTRY bytes at OFFSET, at
 * most MAX bytes, cluster-aligned and not overflowing. */
gboolean vp_validate_table(VpQcow2Image *img, guint64 offset, guint64 count,
                           guint64 entry, guint64 max, const char *what,
                           GError **error);

/* The type of the cluster an L2 entry's first word describes. */
VpClusterType vp_cluster_type(const VpQcow2Image *img, guint64 entry);
