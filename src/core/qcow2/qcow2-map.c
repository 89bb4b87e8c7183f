/* The guest's view of an image: which clusters are mapped, where a guest
 * offset lives, and compressed clusters inflated. */
#include "qcow2-reader.h"

#include <inttypes.h>
#include <string.h>

#include <zlib.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-format.h"
#include "qcow2-private.h"

/* Explicit comparisons: the difference of two guint64 does not fit a gint. */
static gint
vp_range_compare(gconstpointer a, gconstpointer b)
{
    const VpRange *x = a;
    const VpRange *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Adds the cluster at OFFSET to RUNS, extending the last run when it is
 * adjacent.  Returns FALSE once MAX_RUNS would be exceeded. */
static gboolean
vp_runs_add(GArray *runs, guint max_runs, guint64 offset, guint64 length)
{
    if (runs->len > 0) {
        VpRange *last = &g_array_index(runs, VpRange, runs->len - 1);
        if (last->offset + last->length == offset) {
            last->length += length;
            return TRUE;
        }
    }
    /* A cap: a fragmented image has a run per cluster, 16 bytes each; the
     * caller then falls back to the whole file's allocation. */
    if (runs->len >= max_runs) {
        return FALSE;
    }
    VpRange r = { offset, length };
    g_array_append_val(runs, r);
    return TRUE;
}

gboolean
vp_qcow2_image_count_mapped(VpQcow2Image *img, guint64 *mapped, GArray *runs,
                            guint max_runs, gboolean *runs_complete,
                            GError **error)
{
    const VpQcow2Meta *m = &img->meta;
    g_autofree guint8 *l2 = g_malloc(m->cluster_size);
    /* L1 entries past the virtual size (qemu keeps saved VM state there for
     * internal snapshots) map no guest data and are not counted. */
    guint64 guest = m->virtual_size / m->cluster_size +
                    (m->virtual_size % m->cluster_size != 0);
    gboolean complete = runs != NULL;

    *mapped = 0;
    for (guint64 i = 0; i < m->l1_size; i++) {
        guint64 l2_offset = img->l1[i] & VP_QCOW2_OFFSET_MASK;
        guint64 first = i * img->l2_entries;
        if (l2_offset == 0 || first >= guest) {
            continue;
        }
        if (!vp_img_read(img, l2_offset, l2, m->cluster_size, error)) {
            return FALSE;
        }
        guint64 n = MIN(img->l2_entries, guest - first);
        for (guint64 j = 0; j < n; j++) {
            guint64 entry = vp_be64_at(l2 + j * img->l2_entry_bytes);
            VpClusterType type = vp_cluster_type(img, entry);
            /* A preallocated zero cluster is mapped too: that is what metadata
             * preallocation with the zero flag is. */
            if (type == VP_CLUSTER_NORMAL || type == VP_CLUSTER_ZERO_ALLOC ||
                type == VP_CLUSTER_COMPRESSED) {
                (*mapped)++;
            }
            /* Compressed data has no cluster of its own to ask the file system
             * about. */
            if (complete && (type == VP_CLUSTER_NORMAL ||
                             type == VP_CLUSTER_ZERO_ALLOC)) {
                complete = vp_runs_add(runs, max_runs,
                                       entry & VP_QCOW2_OFFSET_MASK,
                                       m->cluster_size);
            }
        }
    }
    if (runs != NULL) {
        /* Data clusters need not follow guest order; file-alloc.c walks the
         * runs together with the file's extents, both by offset. */
        g_array_sort(runs, vp_range_compare);
        *runs_complete = complete;
    }
    return TRUE;
}

/* ---- guest reads ---------------------------------------------------- */

gboolean
vp_qcow2_image_read_host(VpQcow2Image *img, guint64 offset, void *buf,
                         gsize len, GError **error)
{
    return vp_img_read(img, offset, buf, len, error);
}

static gboolean
vp_guest_l2_entry(VpQcow2Image *img, guint64 cluster, guint64 *entry,
                  guint64 *bitmap, GError **error)
{
    const VpQcow2Meta *m = &img->meta;
    guint64 index = cluster / img->l2_entries;

    *entry = 0;
    *bitmap = 0;
    /* Beyond the L1 table, or no L2 table: unallocated, like qemu. */
    if (index >= m->l1_size) {
        return TRUE;
    }
    guint64 l2_offset = img->l1[index] & VP_QCOW2_OFFSET_MASK;
    if (l2_offset == 0) {
        return TRUE;
    }
    /* qemu marks such an image corrupt; reading at the odd offset would return
     * another table's bytes. */
    if (l2_offset & (m->cluster_size - 1)) {
        g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                    _("'%1$s' is corrupt: an L2 table is not cluster aligned; "
                      "run virt-provision check"), img->name);
        return FALSE;
    }
    if (img->l2_cache == NULL) {
        img->l2_cache = g_malloc(m->cluster_size);
    }
    /* Callers walk the disk in order, so one cached table serves l2_entries
     * clusters in a row.  Offset 0 (the header) is never an L2 table, so it
     * marks the cache empty. */
    if (img->l2_cache_offset != l2_offset) {
        if (!vp_img_read(img, l2_offset, img->l2_cache, m->cluster_size, error)) {
            img->l2_cache_offset = 0;
            return FALSE;
        }
        img->l2_cache_offset = l2_offset;
    }
    const guint8 *p = img->l2_cache + (cluster % img->l2_entries) * img->l2_entry_bytes;
    *entry = vp_be64_at(p);
    *bitmap = m->extended_l2 ? vp_be64_at(p + 8) : 0;
    return TRUE;
}

gboolean
vp_qcow2_image_guest_map(VpQcow2Image *img, guint64 offset, VpGuestKind *kind,
                         guint64 *len, guint64 *host, GError **error)
{
    const VpQcow2Meta *m = &img->meta;
    guint64 cs = m->cluster_size;
    guint64 in_cluster = offset & (cs - 1);
    guint64 entry;
    guint64 bitmap;

    *host = 0;
    *len = cs - in_cluster;
    if (!vp_guest_l2_entry(img, offset >> m->cluster_bits, &entry, &bitmap,
                           error)) {
        return FALSE;
    }
    guint64 cluster_host = entry & VP_QCOW2_OFFSET_MASK;
    switch (vp_cluster_type(img, entry)) {
    case VP_CLUSTER_COMPRESSED:
        *kind = VP_GUEST_COMPRESSED;
        return TRUE;
    case VP_CLUSTER_ZERO_PLAIN:
    case VP_CLUSTER_ZERO_ALLOC:
        *kind = VP_GUEST_ZERO;
        return TRUE;
    case VP_CLUSTER_UNALLOCATED:
    case VP_CLUSTER_NORMAL:
        break;
    }
    if (!m->extended_l2) {
        *kind = cluster_host != 0 ? VP_GUEST_DATA : VP_GUEST_BACKING;
        *host = cluster_host + in_cluster;
    } else {
        /* Extended L2: the subcluster's own bits decide. */
        guint64 sc_size = cs / VP_QCOW2_SUBCLUSTERS;
        guint32 sc = (guint32)(in_cluster / sc_size);
        *len = sc_size - in_cluster % sc_size;
        /* Zero before allocated: the spec forbids both, and zeros never expose
         * stale host bytes. */
        if ((bitmap >> (32 + sc)) & 1) {
            *kind = VP_GUEST_ZERO;
        } else if ((bitmap >> sc) & 1) {
            /* The spec: an allocated subcluster needs a host offset. */
            if (cluster_host == 0) {
                g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                            _("'%1$s' is corrupt: an allocated subcluster "
                              "has no host cluster; run virt-provision check"),
                            img->name);
                return FALSE;
            }
            *kind = VP_GUEST_DATA;
            *host = cluster_host + in_cluster;
        } else {
            *kind = VP_GUEST_BACKING;
        }
    }
    if (*kind == VP_GUEST_DATA && (cluster_host & (cs - 1)) != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                    _("'%1$s' is corrupt: a data cluster is not aligned; run "
                      "virt-provision check"), img->name);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_qcow2_image_read_compressed(VpQcow2Image *img, guint64 offset, guint8 *buf,
                               GError **error)
{
    const VpQcow2Meta *m = &img->meta;
    guint64 entry;
    guint64 bitmap;

    if (m->compression_type != VP_QCOW2_COMPRESSION_ZLIB) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' uses zstd compression, which this tool does not "
                      "read; use qemu-img convert"), img->name);
        return FALSE;
    }
    if (!vp_guest_l2_entry(img, offset >> m->cluster_bits, &entry, &bitmap,
                           error)) {
        return FALSE;
    }
    /* The spec's compressed descriptor: x = 62 - (cluster_bits - 8) bits of
     * host offset, then the count of 512-byte sectors after the first one. */
    guint32 csize_shift = 62 - (m->cluster_bits - 8);
    guint64 csize_mask = (G_GUINT64_CONSTANT(1) << (m->cluster_bits - 8)) - 1;
    guint64 coffset = entry & ((G_GUINT64_CONSTANT(1) << csize_shift) - 1);
    guint64 sectors = ((entry >> csize_shift) & csize_mask) + 1;
    /* At most cluster_size / 256 * 512 bytes: bounded by the format. */
    gsize csize = (gsize)(sectors * 512 - (coffset & 511));
    g_autofree guint8 *in = g_malloc(csize);

    if (!vp_img_read(img, coffset, in, csize, error)) {
        return FALSE;
    }
    /* qcow2 stores raw deflate data (no zlib header), window 2^12. */
    z_stream z = { 0 };
    if (inflateInit2(&z, -12) != Z_OK) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_FAILED,
                            _("cannot initialise zlib"));
        return FALSE;
    }
    z.next_in = in;
    z.avail_in = (uInt)csize;
    z.next_out = buf;
    z.avail_out = (uInt)m->cluster_size;
    int ret = inflate(&z, Z_FINISH);
    gboolean full = z.avail_out == 0;
    inflateEnd(&z);
    /* The compressed run may be padded, so Z_BUF_ERROR with a full output
     * is as good as Z_STREAM_END. */
    if (!full || (ret != Z_STREAM_END && ret != Z_BUF_ERROR && ret != Z_OK)) {
        g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                    _("'%1$s' is corrupt: a compressed cluster does not "
                      "decompress to a whole cluster"), img->name);
        return FALSE;
    }
    return TRUE;
}
