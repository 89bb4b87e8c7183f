#include "qcow2-layout.h"

#include <inttypes.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-format.h"
#include "size.h"

#define VP_SECTOR_SIZE 512
#define VP_DATA_ALIGN 4096

/* Bytes needed in cluster 0 before the backing file name: header, the
 * backing format extension, the feature name table, the end marker. */
static guint64
vp_qcow2_header_area(const VpImageOptions *opts)
{
    guint64 len = opts->version >= 3 ? VP_QCOW2_V3_HEADER_LEN
                                     : VP_QCOW2_V2_HEADER_LEN;

    /* Extension data is padded to 8 bytes; the last header counted is the end
     * marker.  The backing file name after it is not padded. */
    if (opts->backing_format != NULL) {
        len += sizeof(VpQcow2ExtHeader) +
               ((strlen(opts->backing_format) + 7) & ~(guint64)7);
    }
    /* qemu writes the feature name table for v3 images whose first cluster
     * has room to spare; tools print feature names from it. */
    if (opts->version >= 3 && opts->cluster_size > 4096) {
        len += sizeof(VpQcow2ExtHeader) + 8 * sizeof(VpQcow2FeatureName);
    }
    return len + sizeof(VpQcow2ExtHeader);
}

/* qemu refuses an L1 table above 32 MiB (4 Mi entries), each mapping one L2
 * table: 2 PiB of guest space with 64 KiB clusters. */
guint64
vp_qcow2_layout_max_size(guint32 cluster_size, gboolean extended_l2)
{
    guint64 l2_entries = cluster_size / (extended_l2 ? 16 : 8);
    guint64 max_l1 = VP_QCOW2_MAX_L1_BYTES / 8;
    guint64 max = 0;

    /* At most 2^22 * 2^18 * 2^21 = 2^61: cannot overflow. */
    max = max_l1 * l2_entries * cluster_size;
    return max;
}

/* Every option against the limits qemu applies when it opens an image: an
 * image qemu refuses is worthless, and failing before the first byte leaves
 * nothing half-written. */
static gboolean
vp_qcow2_validate_options(const VpImageOptions *opts, GError **error)
{
    guint32 cs = opts->cluster_size;

    if (cs < (1u << VP_QCOW2_MIN_CLUSTER_BITS) ||
        cs > (1u << VP_QCOW2_MAX_CLUSTER_BITS) || (cs & (cs - 1)) != 0) {
        g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_CLUSTER_SIZE,
                    _("invalid cluster size %1$u: use a power of two from "
                      "512 bytes to 2M, such as 64K"),
                    cs);
        return FALSE;
    }
    if (opts->version != 2 && opts->version != 3) {
        g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_COMPAT,
                    _("invalid qcow2 version %1$u: use compat 0.10 or 1.1"),
                    opts->version);
        return FALSE;
    }
    /* The header stores refcount_order, 0..6. */
    guint32 rb = opts->refcount_bits;
    if (rb == 0 || rb > 64 || (rb & (rb - 1)) != 0) {
        g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_REFCOUNT_BITS,
                    _("invalid refcount width %1$u: use a power of two from "
                      "1 to 64"),
                    rb);
        return FALSE;
    }
    /* A v2 header has no feature words or refcount_order, and v2 L2 entries no
     * zero flag. */
    if (opts->version < 3) {
        /* One whole sentence per feature, for translators; each is
         * reported against the compat level, the thing to change. */
        const char *message = NULL;
        if (rb != 16) {
            message = _("refcount widths other than 16 need qcow2 version 3; "
                        "use compat 1.1 instead of 0.10");
        } else if (opts->lazy_refcounts) {
            message = _("lazy refcounts need qcow2 version 3; use compat 1.1 "
                        "instead of 0.10");
        } else if (opts->extended_l2) {
            message = _("extended L2 entries need qcow2 version 3; use compat "
                        "1.1 instead of 0.10");
        } else if (opts->zero_flag) {
            message = _("zero clusters need qcow2 version 3; use compat 1.1 "
                        "instead of 0.10");
        }
        if (message != NULL) {
            g_set_error_literal(error, VP_OPTION_ERROR, VP_OPTION_ERROR_COMPAT,
                                message);
            return FALSE;
        }
    }
    /* qemu's rule: each of the 32 subclusters must be at least 512 bytes. */
    if (opts->extended_l2 && cs < VP_QCOW2_MIN_EXTENDED_L2_CLUSTER) {
        g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_EXTENDED_L2,
                    _("extended L2 entries need clusters of at least 16K, not "
                      "%1$u bytes; use a cluster size of 16K or larger"),
                    cs);
        return FALSE;
    }
    /* A probed format lets a raw backing file whose guest wrote an image
     * header be opened as that image, so qemu-img wants -F with -b too. */
    if ((opts->backing_file == NULL) != (opts->backing_format == NULL)) {
        g_set_error_literal(error, VP_OPTION_ERROR,
                            opts->backing_file != NULL
                                ? VP_OPTION_ERROR_BACKING_FORMAT
                                : VP_OPTION_ERROR_BACKING,
                            opts->backing_file != NULL
                                ? _("a backing file needs its format stated: "
                                    "it is never guessed")
                                : _("a backing format needs a backing file"));
        return FALSE;
    }
    if (opts->backing_file != NULL) {
        if (opts->backing_file[0] == '\0' || opts->backing_format[0] == '\0') {
            g_set_error_literal(error, VP_OPTION_ERROR,
                                opts->backing_file[0] == '\0'
                                    ? VP_OPTION_ERROR_BACKING
                                    : VP_OPTION_ERROR_BACKING_FORMAT,
                                _("the backing file and its format must not "
                                  "be empty"));
            return FALSE;
        }
        if (strlen(opts->backing_file) > VP_QCOW2_MAX_BACKING_NAME) {
            g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_BACKING,
                        _("backing file name is longer than %1$u bytes"),
                        VP_QCOW2_MAX_BACKING_NAME);
            return FALSE;
        }
        /* A preallocated cluster hides the backing file unless its
         * subclusters stay unallocated: qemu's rule. */
        if (opts->preallocation != VP_PREALLOC_OFF && !opts->extended_l2) {
            g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_PREALLOCATION,
                        _("preallocation %1$s with a backing file would hide "
                          "the backing file's data; add extended L2 entries "
                          "or use preallocation off"),
                        vp_preallocation_to_string(opts->preallocation));
            return FALSE;
        }
    }
    return TRUE;
}

/* An absurd --size must end in an error, not in a wrapped, small layout. */
static gboolean
vp_layout_add(guint64 *acc, guint64 value, GError **error)
{
    if (!g_uint64_checked_add(acc, *acc, value)) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("the image would be larger than 16 EiB"));
        return FALSE;
    }
    return TRUE;
}

static gboolean
vp_raw_layout(const VpImageOptions *opts, VpQcow2Layout *layout,
              GError **error)
{
    if (opts->backing_file != NULL) {
        g_set_error_literal(error, VP_OPTION_ERROR, VP_OPTION_ERROR_FORMAT,
                            _("a raw image cannot have a backing file; use "
                              "format qcow2"));
        return FALSE;
    }
    if (opts->preallocation == VP_PREALLOC_METADATA) {
        g_set_error_literal(error, VP_OPTION_ERROR,
                            VP_OPTION_ERROR_PREALLOCATION,
                            _("a raw image has no metadata to preallocate; "
                              "use preallocation off, falloc or full"));
        return FALSE;
    }
    layout->data_offset = 0;
    layout->file_length = layout->virtual_size;
    return TRUE;
}

/* The cluster geometry and the L1 table a virtual size needs, within
 * what qcow2 can address with these clusters. */
static gboolean
vp_layout_tables(const VpImageOptions *opts, VpQcow2Layout *layout,
                 GError **error)
{
    guint64 cs = opts->cluster_size;
    layout->cluster_size = cs;
    layout->cluster_bits = (guint32)g_bit_nth_lsf(cs, -1);
    layout->refcount_order = (guint32)g_bit_nth_lsf(opts->refcount_bits, -1);
    layout->l2_entry_bytes = opts->extended_l2 ? 16 : 8;
    layout->l2_entries = cs / layout->l2_entry_bytes;

    guint64 max = vp_qcow2_layout_max_size(opts->cluster_size,
                                           opts->extended_l2);
    if (layout->virtual_size > max) {
        g_autofree char *size_text = vp_size_format(layout->virtual_size);
        g_autofree char *max_text = vp_size_format(max);
        g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_SIZE,
                    _("size %1$s is more than %2$s, the most qcow2 can "
                      "address with %3$u-byte clusters; use larger "
                      "clusters"),
                    size_text, max_text, opts->cluster_size);
        return FALSE;
    }
    /* Exactly as many L1 entries as the size needs, as qemu's size_to_l1: qemu
     * refuses fewer, more would be waste. */
    layout->guest_clusters = layout->virtual_size / cs +
                             (layout->virtual_size % cs != 0);
    layout->l1_size = layout->guest_clusters / layout->l2_entries +
                      (layout->guest_clusters % layout->l2_entries != 0);
    layout->l1_clusters = (layout->l1_size * 8 + cs - 1) / cs;
    return TRUE;
}

/* Cluster 0: the header, its extensions and the backing file name. */
static gboolean
vp_layout_cluster0(const VpImageOptions *opts, VpQcow2Layout *layout,
                   GError **error)
{
    layout->header_bytes = vp_qcow2_header_area(opts);
    if (opts->backing_file != NULL) {
        layout->backing_offset = layout->header_bytes;
        layout->header_bytes += strlen(opts->backing_file);
    }
    /* qemu reads extensions and the backing name only inside cluster 0. */
    if (layout->header_bytes > layout->cluster_size) {
        g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_CLUSTER_SIZE,
                    _("the header and backing file name need %1$" PRIu64
                      " bytes, more than one %2$u-byte cluster; use larger "
                      "clusters or a shorter backing file name"),
                    layout->header_bytes, opts->cluster_size);
        return FALSE;
    }
    return TRUE;
}

/* The refcount table and blocks, which count every cluster of the image,
 * themselves included, and the gap before the data area; the L1 and L2
 * tables and the data area are placed already. */
static gboolean
vp_layout_refcounts(VpQcow2Layout *layout, GError **error)
{
    guint64 cs = layout->cluster_size;
    layout->refblock_entries = cs * 8 / layout->opts.refcount_bits;

    /* Guest blocks of 4 KiB must not straddle host file-system blocks (nor
     * O_DIRECT sectors): with smaller clusters the data area starts on a
     * 4 KiB boundary, after a few free clusters. */
    guint64 align = MAX(cs, VP_DATA_ALIGN);
    guint64 fixed = 1 + layout->l1_clusters + layout->l2_count;

    /* The refcount structures count themselves, so their size is the fixed
     * point of: blocks = ceil(all clusters / entries per block), table =
     * ceil(blocks * 8 / cluster size).  Both only grow (the gap is below
     * one alignment unit), so this ends. */
    guint64 rt = 0;
    guint64 rb = 0;
    guint64 gap = 0;
    for (;;) {
        guint64 meta = fixed + rt + rb;
        /* meta + gap is meta rounded up: it never shrinks when meta grows. */
        guint64 gap_new = layout->data_clusters > 0
                              ? ((align - meta * cs % align) % align) / cs
                              : 0;
        guint64 total = meta + gap_new;
        if (!vp_layout_add(&total, layout->data_clusters, error)) {
            return FALSE;
        }
        /* Starting from (0, 0), each round only rounds up, so the counts never
         * decrease and never pass the smallest consistent answer.  A block
         * added in one round needs 1/refblock_entries (at least 64) of a block
         * in the next, so the growth dies out within a few rounds; the gap
         * settles one round after rt and rb. */
        guint64 rb_new = total / layout->refblock_entries +
                         (total % layout->refblock_entries != 0);
        guint64 rt_new = (rb_new * 8 + cs - 1) / cs;
        if (rb_new == rb && rt_new == rt && gap_new == gap) {
            break;
        }
        rb = rb_new;
        rt = rt_new;
        gap = gap_new;
    }
    /* With 16-bit refcounts qemu's 8 MiB cap covers as much as the L1 cap;
     * wider ones reach it first (64 bits, 512-byte clusters: at 32 GiB). */
    if (rt * cs > VP_QCOW2_MAX_REFTABLE_BYTES) {
        g_set_error(error, VP_OPTION_ERROR, VP_OPTION_ERROR_CLUSTER_SIZE,
                    _("the image needs a refcount table of %1$" PRIu64
                      " bytes, more than qemu's limit of 8 MiB; use larger "
                      "clusters or narrower refcounts"),
                    rt * cs);
        return FALSE;
    }
    layout->reftable_clusters = rt;
    layout->refblock_count = rb;
    layout->meta_clusters = fixed + rt + rb;
    layout->gap_clusters = gap;
    layout->used_clusters = layout->meta_clusters + gap + layout->data_clusters;
    return TRUE;
}

/* The offset of every structure, in file order, and the file's length. */
static gboolean
vp_layout_place(VpQcow2Layout *layout, GError **error)
{
    guint64 cs = layout->cluster_size;
    /* With the counts bounded by the L1 and refcount table caps, these
     * products stay far below 2^64; the host offset cap is what binds. */
    layout->reftable_offset = cs;
    layout->refblock_offset = layout->reftable_offset +
                              layout->reftable_clusters * cs;
    layout->l1_offset = layout->refblock_offset + layout->refblock_count * cs;
    layout->l2_offset = layout->l1_offset + layout->l1_clusters * cs;
    layout->data_offset = (layout->meta_clusters + layout->gap_clusters) * cs;
    /* L1 and L2 entries keep host offsets in bits 9-55. */
    if (layout->used_clusters > VP_QCOW2_MAX_HOST_OFFSET / cs) {
        g_set_error_literal(error, VP_OPTION_ERROR, VP_OPTION_ERROR_SIZE,
                            _("the image would pass qcow2's 64 PiB limit on "
                              "host offsets; use a smaller size"));
        return FALSE;
    }
    if (layout->opts.preallocation != VP_PREALLOC_OFF) {
        layout->file_length = layout->used_clusters * cs;
    } else {
        /* As qemu: the file ends with the last L1 entry, not on a cluster
         * boundary. */
        layout->file_length = layout->l1_offset + layout->l1_size * 8;
    }
    return TRUE;
}

gboolean
vp_qcow2_layout_compute(const VpImageOptions *opts, VpQcow2Layout *layout,
                        GError **error)
{
    *layout = (VpQcow2Layout){ .opts = *opts };

    /* qemu-img rounds every size up to a whole sector. */
    if (opts->size > G_MAXUINT64 - (VP_SECTOR_SIZE - 1)) {
        g_set_error_literal(error, VP_OPTION_ERROR, VP_OPTION_ERROR_SIZE,
                            _("the size is too large: the limit is 16 EiB"));
        return FALSE;
    }
    layout->virtual_size = (opts->size + VP_SECTOR_SIZE - 1) &
                           ~(guint64)(VP_SECTOR_SIZE - 1);
    if (opts->format == VP_FORMAT_RAW) {
        return vp_raw_layout(opts, layout, error);
    }
    if (!vp_qcow2_validate_options(opts, error) ||
        !vp_layout_tables(opts, layout, error) ||
        !vp_layout_cluster0(opts, layout, error)) {
        return FALSE;
    }
    /* Preallocation gives every guest cluster its L2 entry and its place
     * in the data area. */
    gboolean prealloc = opts->preallocation != VP_PREALLOC_OFF;
    layout->l2_count = prealloc ? layout->l1_size : 0;
    layout->data_clusters = prealloc ? layout->guest_clusters : 0;
    return vp_layout_refcounts(layout, error) &&
           vp_layout_place(layout, error);
}
