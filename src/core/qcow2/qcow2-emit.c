#include "qcow2-emit.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "cancel.h"
#include "error.h"
#include "qcow2-format.h"

/* Zero runs at least this long become holes rather than written zeros:
 * a shorter hole would not spare a file-system block. */
#define VP_EMIT_HOLE_MIN 4096
/* The most one sink call covers when it must do real work per byte (zeros
 * written, space reserved, data copied): cancellation is polled between
 * such steps, so Ctrl-C is answered within one step of I/O even while a
 * terabyte is being zero-filled. */
#define VP_EMIT_STEP (G_GUINT64_CONSTANT(64) << 20)

/* Strictly in file order: pos only grows and each sink call starts where the
 * last ended, so a sink may be a stream that cannot seek (virt-stream.c). */
typedef struct {
    VpSink *sink;
    guint8 *buf;  /* VP_EMIT_CHUNK bytes */
    gsize used;
    guint64 pos;  /* file offset of buf[0] */
    const VpCancel *cancel;
} VpEmitter;

/* Cancellation is polled per buffer written: at most 1 MiB of I/O between
 * Ctrl-C and the answer. */
static gboolean
vp_emitter_flush(VpEmitter *e, GError **error)
{
    if (e->used == 0) {
        return TRUE;
    }
    if (!vp_cancel_check(e->cancel, error) ||
        !vp_sink_write(e->sink, e->pos, e->buf, e->used, error)) {
        return FALSE;
    }
    e->pos += e->used;
    e->used = 0;
    return TRUE;
}

static gboolean
vp_emitter_put(VpEmitter *e, const void *data, gsize len, GError **error)
{
    const guint8 *p = data;

    while (len > 0) {
        if (e->used == VP_EMIT_CHUNK && !vp_emitter_flush(e, error)) {
            return FALSE;
        }
        gsize n = MIN(len, VP_EMIT_CHUNK - e->used);
        memcpy(e->buf + e->used, p, n);
        e->used += n;
        p += n;
        len -= n;
    }
    return TRUE;
}

/* LEN zero bytes: short runs go into the buffer, long ones become a hole. */
static gboolean
vp_emitter_zeros(VpEmitter *e, guint64 len, GError **error)
{
    if (len < VP_EMIT_HOLE_MIN && len <= VP_EMIT_CHUNK - e->used) {
        memset(e->buf + e->used, 0, len);
        e->used += len;
        return TRUE;
    }
    /* The buffered bytes come first in the file, so they go first. */
    if (!vp_emitter_flush(e, error) ||
        !vp_sink_hole(e->sink, e->pos, len, error)) {
        return FALSE;
    }
    e->pos += len;
    return TRUE;
}

/* A table of COUNT entries of ENTRY_BYTES (8 or 16): entry i's first word is
 * (BASE + i * STEP) | FLAGS, its second word (16-byte entries) is WORD1.
 * Then zeros up to TOTAL bytes.  The caller has checked that no value
 * overflows. */
static gboolean
vp_emitter_table(VpEmitter *e, guint64 count, guint64 base, guint64 step,
                 guint64 flags, guint64 word1, guint32 entry_bytes,
                 guint64 total, GError **error)
{
    guint64 i = 0;
    guint64 word1_be = GUINT64_TO_BE(word1);

    /* room counts whole entries: an entry is never split between two writes,
     * and a buffer that cannot take one more is flushed part-full. */
    while (i < count) {
        gsize room = (VP_EMIT_CHUNK - e->used) / entry_bytes;
        if (room == 0) {
            if (!vp_emitter_flush(e, error)) {
                return FALSE;
            }
            continue;
        }
        guint64 n = MIN((guint64)room, count - i);
        guint8 *p = e->buf + e->used;
        for (guint64 k = 0; k < n; k++, p += entry_bytes) {
            guint64 v = GUINT64_TO_BE((base + (i + k) * step) | flags);
            memcpy(p, &v, 8);
            if (entry_bytes == 16) {
                memcpy(p + 8, &word1_be, 8);
            }
        }
        e->used += n * entry_bytes;
        i += n;
    }
    return vp_emitter_zeros(e, total - count * entry_bytes, error);
}

/* One refcount block with every entry equal to 1, in the width's packing:
 * sub-byte widths fill each byte from its least significant bit, wider ones
 * are big-endian. */
static guint8 *
vp_refblock_of_ones(const VpQcow2Layout *layout)
{
    guint32 bits = layout->opts.refcount_bits;
    guint8 *block = g_malloc0(layout->cluster_size);

    if (bits < 8) {
        guint8 byte = 0;
        for (guint32 shift = 0; shift < 8; shift += bits) {
            byte |= (guint8)(1u << shift);
        }
        memset(block, byte, layout->cluster_size);
    } else {
        for (guint64 i = bits / 8 - 1; i < layout->cluster_size; i += bits / 8) {
            block[i] = 1;
        }
    }
    return block;
}

/* Sets refcount entry I of BLOCK to 1, in the width's packing. */
static void
vp_refblock_set_one(guint8 *block, guint64 i, guint32 bits)
{
    if (bits < 8) {
        block[i * bits / 8] |= (guint8)(1u << (i * bits % 8));
    } else {
        block[(i + 1) * (bits / 8) - 1] = 1;
    }
}

/* A block that covers part of the gap before the data area (at most one or
 * two blocks, as the gap is smaller than 4 KiB): built entry by entry. */
static gboolean
vp_emit_refblock_with_gap(const VpQcow2Layout *layout, VpEmitter *e,
                          guint64 first, guint64 n, GError **error)
{
    g_autofree guint8 *block = g_malloc0(layout->cluster_size);
    guint64 gap_start = layout->meta_clusters;
    guint64 gap_end = gap_start + layout->gap_clusters;

    for (guint64 i = 0; i < n; i++) {
        if (first + i < gap_start || first + i >= gap_end) {
            vp_refblock_set_one(block, i, layout->opts.refcount_bits);
        }
    }
    return vp_emitter_put(e, block, layout->cluster_size, error);
}

/* A new image shares no cluster, so every used cluster has refcount 1 but the
 * free gap; entries past used_clusters in the last block stay 0.  Blocks clear
 * of the gap are copies of one prepared block. */
static gboolean
vp_emit_refblocks(const VpQcow2Layout *layout, VpEmitter *e, GError **error)
{
    g_autofree guint8 *ones = vp_refblock_of_ones(layout);
    guint64 cs = layout->cluster_size;
    guint32 bits = layout->opts.refcount_bits;
    guint64 gap_start = layout->meta_clusters;
    guint64 gap_end = gap_start + layout->gap_clusters;

    for (guint64 b = 0; b < layout->refblock_count; b++) {
        guint64 first = b * layout->refblock_entries;
        guint64 n = MIN(layout->refblock_entries, layout->used_clusters - first);
        guint64 full_bytes = n * bits / 8;
        guint32 rest_bits = (guint32)(n * bits % 8);

        if (first < gap_end && first + n > gap_start) {
            if (!vp_emit_refblock_with_gap(layout, e, first, n, error)) {
                return FALSE;
            }
            continue;
        }
        if (!vp_emitter_put(e, ones, full_bytes, error)) {
            return FALSE;
        }
        guint64 done = full_bytes;
        /* Sub-byte widths: the last entries share a byte, in its low bits. */
        if (rest_bits != 0) {
            guint8 partial = ones[0] & (guint8)((1u << rest_bits) - 1);
            if (!vp_emitter_put(e, &partial, 1, error)) {
                return FALSE;
            }
            done++;
        }
        if (!vp_emitter_zeros(e, cs - done, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

static void
vp_put_be32(guint8 *p, guint32 v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, 4);
}

static gsize
vp_header_ext(guint8 *p, guint32 type, const void *data, guint32 len)
{
    vp_put_be32(p, type);
    vp_put_be32(p + 4, len);
    memcpy(p + 8, data, len);
    return 8 + ((len + 7) & ~7u);
}

/* The feature names qemu 7.2 records: tools print these for unknown bits. */
static gsize
vp_feature_table(guint8 *p)
{
    static const VpQcow2FeatureName features[] = {
        { 0, VP_QCOW2_INCOMPAT_DIRTY_BITNR, "dirty bit" },
        { 0, VP_QCOW2_INCOMPAT_CORRUPT_BITNR, "corrupt bit" },
        { 0, VP_QCOW2_INCOMPAT_DATA_FILE_BITNR, "external data file" },
        { 0, VP_QCOW2_INCOMPAT_COMPRESSION_BITNR, "compression type" },
        { 0, VP_QCOW2_INCOMPAT_EXTL2_BITNR, "extended L2 entries" },
        { 1, VP_QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR, "lazy refcounts" },
        { 2, VP_QCOW2_AUTOCLEAR_BITMAPS_BITNR, "bitmaps" },
        { 2, VP_QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR, "raw external data" },
    };
    return vp_header_ext(p, VP_QCOW2_EXT_FEATURE_TABLE, features,
                         sizeof(features));
}

/* The header cluster's used bytes (LAYOUT->header_bytes of them) in a new
 * buffer: header, extensions and backing file name.  Byte order is
 * converted here, where the bytes are made, and nowhere else. */
static guint8 *
vp_qcow2_build_header(const VpQcow2Layout *layout)
{
    const VpImageOptions *o = &layout->opts;
    guint8 *buf = g_malloc0(layout->header_bytes);
    gboolean v3 = o->version >= 3;
    VpQcow2Header h = {
        .magic = GUINT32_TO_BE(VP_QCOW2_MAGIC),
        .version = GUINT32_TO_BE(o->version),
        .cluster_bits = GUINT32_TO_BE(layout->cluster_bits),
        .size = GUINT64_TO_BE(layout->virtual_size),
        .l1_size = GUINT32_TO_BE((guint32)layout->l1_size),
        .l1_table_offset = GUINT64_TO_BE(layout->l1_offset),
        .refcount_table_offset = GUINT64_TO_BE(layout->reftable_offset),
        .refcount_table_clusters = GUINT32_TO_BE((guint32)layout->reftable_clusters),
    };

    if (o->backing_file != NULL) {
        h.backing_file_offset = GUINT64_TO_BE(layout->backing_offset);
        h.backing_file_size = GUINT32_TO_BE((guint32)strlen(o->backing_file));
    }
    if (v3) {
        guint64 incompat = o->extended_l2 ? VP_QCOW2_INCOMPAT_EXTL2 : 0;
        guint64 compat = o->lazy_refcounts ? VP_QCOW2_COMPAT_LAZY_REFCOUNTS : 0;
        h.incompatible_features = GUINT64_TO_BE(incompat);
        h.compatible_features = GUINT64_TO_BE(compat);
        h.refcount_order = GUINT32_TO_BE(layout->refcount_order);
        /* 112 bytes as qemu 7.2 writes; zlib needs no incompatible bit. */
        h.header_length = GUINT32_TO_BE(VP_QCOW2_V3_HEADER_LEN);
        h.compression_type = VP_QCOW2_COMPRESSION_ZLIB;
    }

    gsize pos = v3 ? VP_QCOW2_V3_HEADER_LEN : VP_QCOW2_V2_HEADER_LEN;
    memcpy(buf, &h, pos);
    if (o->backing_format != NULL) {
        pos += vp_header_ext(buf + pos, VP_QCOW2_EXT_BACKING_FORMAT,
                             o->backing_format,
                             (guint32)strlen(o->backing_format));
    }
    if (v3 && layout->cluster_size > 4096) {
        pos += vp_feature_table(buf + pos);
    }
    pos += 8; /* end of extensions: type 0, length 0, already zero */
    if (o->backing_file != NULL) {
        g_assert(pos == layout->backing_offset);
        memcpy(buf + pos, o->backing_file, strlen(o->backing_file));
        pos += strlen(o->backing_file);
    }
    g_assert(pos == layout->header_bytes);
    return buf;
}

/* One step (at most VP_EMIT_STEP bytes) of a zero run, by preallocation
 * mode. */
static gboolean
vp_emit_zero_step(const VpQcow2Layout *layout, VpEmitter *e, guint64 len,
                  gboolean last, GError **error)
{
    switch (layout->opts.preallocation) {
    case VP_PREALLOC_OFF:
    case VP_PREALLOC_METADATA:
        /* Clusters flagged to read as zeros need no bytes at all, not even
         * zeros on a block device (only ever the tail). */
        return last && layout->opts.zero_flag
                   ? vp_sink_skip(e->sink, e->pos, len, error)
                   : vp_sink_hole(e->sink, e->pos, len, error);
    case VP_PREALLOC_FALLOC:
        return vp_sink_allocate(e->sink, e->pos, len, error);
    case VP_PREALLOC_FULL:
        return vp_sink_zero(e->sink, e->pos, len, error);
    }
    g_assert_not_reached();
}

/* LEN bytes at the emitter's position that read as zeros, by preallocation
 * mode.  Holes cost nothing and go in one call; work that touches every
 * byte goes in steps, with cancellation polled between them. */
static gboolean
vp_emit_zero_run(const VpQcow2Layout *layout, VpEmitter *e, guint64 len,
                 gboolean last, GError **error)
{
    gboolean costly = layout->opts.preallocation == VP_PREALLOC_FALLOC ||
                      layout->opts.preallocation == VP_PREALLOC_FULL;

    while (len > 0) {
        guint64 n = costly ? MIN(len, VP_EMIT_STEP) : len;
        if (!vp_cancel_check(e->cancel, error) ||
            !vp_emit_zero_step(layout, e, n, last, error)) {
            return FALSE;
        }
        e->pos += n;
        len -= n;
    }
    return TRUE;
}

/* LEN bytes of guest data from SRC at POS: copied in the kernel when both
 * ends allow, else read through the emitter's buffer. */
static gboolean
vp_emit_copy_run(VpEmitter *e, VpSource *src, guint64 pos, guint64 len,
                 GError **error)
{
    guint64 fd_offset;
    int fd = vp_source_raw_fd(src, pos, &fd_offset);

    /* In the kernel, step by step; a sink that cannot copy says so before
     * its first byte, and the rest is read through the buffer. */
    while (fd >= 0 && len > 0) {
        g_autoptr(GError) local = NULL;
        guint64 n = MIN(len, VP_EMIT_STEP);
        if (!vp_cancel_check(e->cancel, error)) {
            return FALSE;
        }
        if (!vp_sink_copy(e->sink, e->pos, fd, fd_offset, n, &local)) {
            if (!g_error_matches(local, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
            }
            break;
        }
        e->pos += n;
        pos += n;
        fd_offset += n;
        len -= n;
    }
    while (len > 0) {
        gsize n = (gsize)MIN(len, (guint64)VP_EMIT_CHUNK);
        if (!vp_source_read(src, pos, e->buf, n, error)) {
            return FALSE;
        }
        e->used = n;
        if (!vp_emitter_flush(e, error)) {
            return FALSE;
        }
        pos += n;
        len -= n;
    }
    return TRUE;
}

/* The data area: LEN bytes, from SRC when there is one. */
/* Guest offset X lives at data_offset + X, so the source is copied in guest
 * order and its holes are never read; past its end the image reads as zeros
 * (the last run). */
static gboolean
vp_emit_data_area(const VpQcow2Layout *layout, VpEmitter *e, guint64 len,
                  VpSource *src, GError **error)
{
    guint64 pos = 0;
    guint64 src_end = src != NULL ? MIN(src->size, len) : 0;

    if (!vp_emitter_flush(e, error)) {
        return FALSE;
    }
    while (pos < src_end) {
        guint64 run;
        gboolean data;
        if (!vp_cancel_check(e->cancel, error) ||
            !vp_source_extent(src, pos, &run, &data, error)) {
            return FALSE;
        }
        run = MIN(run, src_end - pos);
        /* The source ended before its size: a zero run never advances. */
        if (run == 0) {
            g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                        _("'%1$s' ended early while being read"), src->name);
            return FALSE;
        }
        if (data ? !vp_emit_copy_run(e, src, pos, run, error)
                 : !vp_emit_zero_run(layout, e, run, FALSE, error)) {
            return FALSE;
        }
        pos += run;
    }
    return pos == len || vp_emit_zero_run(layout, e, len - pos, TRUE, error);
}

static gboolean
vp_emit_qcow2(const VpQcow2Layout *layout, VpEmitter *e, VpSource *src,
              GError **error)
{
    guint64 cs = layout->cluster_size;
    g_autofree guint8 *header = vp_qcow2_build_header(layout);

    if (!vp_emitter_put(e, header, layout->header_bytes, error) ||
        !vp_emitter_zeros(e, cs - layout->header_bytes, error)) {
        return FALSE;
    }
    /* Refcount table entry i points at block i (they sit back to back). */
    if (!vp_emitter_table(e, layout->refblock_count, layout->refblock_offset,
                          cs, 0, 0, 8, layout->reftable_clusters * cs, error) ||
        !vp_emit_refblocks(layout, e, error)) {
        return FALSE;
    }
    if (layout->opts.preallocation == VP_PREALLOC_OFF) {
        /* An empty L1 table; the file ends with it, as qemu's does. */
        return vp_emitter_zeros(e, layout->l1_size * 8, error) &&
               vp_emitter_flush(e, error);
    }

    /* Preallocated clusters that must read as zeros carry the zero flag
     * (standard L2) or all "reads as zero" subcluster bits (extended L2).
     * Otherwise extended L2 leaves every subcluster unallocated, so reads
     * fall through to a backing file, as qemu does. */
    gboolean ext = layout->opts.extended_l2;
    guint64 l2_flags = VP_QCOW2_OFLAG_COPIED;
    guint64 l2_word1 = 0;
    if (layout->opts.zero_flag && ext) {
        l2_word1 = VP_QCOW2_SUBCLUSTER_ZERO_ALL;
    } else if (layout->opts.zero_flag) {
        l2_flags |= VP_QCOW2_OFLAG_ZERO;
    } else if (ext && src != NULL) {
        /* A copy has no backing file to fall through to: every subcluster
         * holds what the data area holds (zeros where it is a hole). */
        l2_word1 = VP_QCOW2_SUBCLUSTER_ALLOC_ALL;
    }
    /* Every L1 and L2 entry carries COPIED: each cluster has refcount 1, and
     * qemu-img check counts a missing flag as corruption. */
    return vp_emitter_table(e, layout->l1_size, layout->l2_offset, cs,
                            VP_QCOW2_OFLAG_COPIED, 0, 8,
                            layout->l1_clusters * cs, error) &&
           vp_emitter_table(e, layout->guest_clusters, layout->data_offset,
                            cs, l2_flags, l2_word1, layout->l2_entry_bytes,
                            layout->l2_count * cs, error) &&
           vp_emitter_zeros(e, layout->gap_clusters * cs, error) &&
           vp_emit_data_area(layout, e, layout->data_clusters * cs, src, error);
}

gboolean
vp_image_emit_from(const VpQcow2Layout *layout, VpSink *sink, VpSource *src,
                   const VpCancel *cancel, GError **error)
{
    g_autofree guint8 *buf = g_malloc(VP_EMIT_CHUNK);
    VpEmitter e = { .sink = sink, .buf = buf, .cancel = cancel };
    gboolean ok;

    /* Without preallocation there is no data area to copy into. */
    if (src != NULL && layout->opts.format == VP_FORMAT_QCOW2 &&
        layout->opts.preallocation == VP_PREALLOC_OFF) {
        g_set_error_literal(error, VP_OPTION_ERROR,
                            VP_OPTION_ERROR_PREALLOCATION,
                            _("a copy is written preallocated: use preallocation "
                              "metadata, falloc or full"));
        return FALSE;
    }
    /* Bytes past the virtual size would have no L2 entry to map them. */
    if (src != NULL && src->size > layout->virtual_size) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is larger than the image to write"), src->name);
        return FALSE;
    }
    if (layout->opts.format == VP_FORMAT_RAW) {
        ok = vp_emit_data_area(layout, &e, layout->virtual_size, src, error);
    } else {
        ok = vp_emit_qcow2(layout, &e, src, error);
    }
    if (!ok || !vp_emitter_flush(&e, error)) {
        return FALSE;
    }
    /* Layout and emitter must agree to the byte; anything else is a corrupt
     * image, never to be committed. */
    g_assert(e.pos == layout->file_length);
    return vp_cancel_check(cancel, error) &&
           vp_sink_commit(sink, layout->file_length, error);
}

gboolean
vp_image_emit(const VpQcow2Layout *layout, VpSink *sink,
              const VpCancel *cancel, GError **error)
{
    return vp_image_emit_from(layout, sink, NULL, cancel, error);
}
