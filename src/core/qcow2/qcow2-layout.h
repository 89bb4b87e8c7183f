/* Where every structure of a new image goes: pure arithmetic, no I/O.
 *
 * The layout puts all metadata first and the guest data after it:
 *
 *   cluster 0            header, header extensions, backing file name
 *   refcount table       reftable_clusters clusters
 *   refcount blocks      refblock_count clusters, covering every cluster
 *                        of the image including themselves
 *   L1 table             l1_clusters clusters (l1_size entries used)
 *   L2 tables            l2_count clusters (preallocated images only)
 *   (gap)                gap_clusters free clusters (refcount 0), so that
 *                        the data area starts on a 4 KiB boundary
 *   data area            guest offset X at host offset data_offset + X
 *
 * This is valid qcow2 (qemu interleaves L2 tables with data instead), has no
 * fragmentation, and lets a raw image be copied into the data area in one
 * sequential run.  A raw image is just the data area at offset 0. */
#pragma once

#include <glib.h>

#include "image-options.h"

typedef struct {
    VpImageOptions opts;    /* validated copy; strings still borrowed */
    guint64 virtual_size;   /* opts.size rounded up to 512 bytes */
    guint32 cluster_bits;
    guint64 cluster_size;
    guint32 refcount_order; /* refcount_bits == 1 << refcount_order */
    guint64 guest_clusters; /* clusters needed to cover virtual_size */

    guint32 l2_entry_bytes; /* 8, or 16 with extended L2 */
    guint64 l2_entries;     /* entries per L2 table */
    guint64 l1_size;        /* L1 entries (qemu: exactly as needed) */

    guint64 header_bytes;   /* used bytes of cluster 0 */
    guint64 backing_offset; /* of the backing file name, 0 without one */

    guint64 reftable_offset;
    guint64 reftable_clusters;
    guint64 refblock_offset;
    guint64 refblock_count;
    guint64 refblock_entries; /* refcounts per block */
    guint64 l1_offset;
    guint64 l1_clusters;
    guint64 l2_offset;
    guint64 l2_count;
    guint64 gap_clusters;   /* free clusters before the data area */
    guint64 data_offset;
    guint64 data_clusters;  /* clusters placed in the data area */

    /* Clusters 0 .. used_clusters-1 are covered by the refcount blocks; all
     * have refcount 1 but the gap. */
    guint64 used_clusters;
    guint64 meta_clusters;  /* header .. last L2 table */
    guint64 file_length;    /* bytes */
} VpQcow2Layout;

/* Validates OPTS completely and computes the layout.  Returns FALSE with
 * VP_ERROR_INVALID naming the offending option and its limit; nothing has
 * been written at that point. */
gboolean vp_qcow2_layout_compute(const VpImageOptions *opts,
                                 VpQcow2Layout *layout, GError **error);

/* The largest virtual size OPTS's cluster size and L2 format can address
 * (qemu's 32 MiB cap on the L1 table). */
guint64 vp_qcow2_layout_max_size(guint32 cluster_size, gboolean extended_l2);
