/* Opening a qcow2 image: the header, its extensions, the backing file
 * name, the snapshot table, L1 and refcount tables, all validated against
 * qemu's limits before anything else reads them. */
#include "qcow2-reader.h"

#include <inttypes.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-format.h"
#include "qcow2-private.h"

/* qemu's limits on what it will open: the backing format name lives in a
 * 16-byte buffer there, a snapshot carries at most 1 KiB of extra data
 * (QCOW_MAX_SNAPSHOT_EXTRA_DATA), the table at most 64 MiB. */
#define VP_QCOW2_MAX_BACKING_FORMAT 16 /* bytes, including the NUL */
#define VP_QCOW2_MAX_SNAPSHOT_EXTRA 1024
#define VP_QCOW2_MAX_SNAPSHOTS_BYTES (G_GUINT64_CONSTANT(1024) * VP_QCOW2_MAX_SNAPSHOTS)


/* The CLI's handlers lack SA_RESTART: Ctrl-C interrupts pread, which is
 * retried; the cancellation is seen at the next poll. */
gboolean
vp_read_fd(gpointer opaque, guint64 offset, void *buf, gsize len,
           GError **error)
{
    int fd = GPOINTER_TO_INT(opaque);
    guint8 *p = buf;

    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                        _("cannot read the image: %1$s"), g_strerror(errno));
            return FALSE;
        }
        if (n == 0) {
            memset(p, 0, len); /* past the end: zeros, as qemu reads it */
            return TRUE;
        }
        p += n;
        len -= (gsize)n;
        offset += (guint64)n;
    }
    return TRUE;
}

/* Round-trip tests and the fuzzer: zeros past the end, as vp_read_fd. */
gboolean
vp_read_mem(gpointer opaque, guint64 offset, void *buf, gsize len,
            GError **error)
{
    const VpMemSource *src = opaque;
    gsize n = 0;

    if (offset < src->len) {
        n = (gsize)MIN((guint64)len, src->len - offset);
        memcpy(buf, src->data + offset, n);
    }
    memset((guint8 *)buf + n, 0, len - n);
    return TRUE;
}

gboolean
vp_img_read(VpQcow2Image *img, guint64 offset, void *buf, gsize len,
            GError **error)
{
    return img->read(img->opaque, offset, buf, len, error);
}

/* memcpy, not a cast: entries in a byte buffer need not be aligned. */
guint64
vp_be64_at(const guint8 *p)
{
    guint64 v;
    memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

/* Reads COUNT big-endian u64 entries at OFFSET, converted to host order.
 * Entries past the end of the file read as zero without touching the
 * source, so a hostile header cannot make a tiny file cost much. */
guint64 *
vp_read_table(VpQcow2Image *img, guint64 offset, guint64 count,
              GError **error)
{
    /* Rounded up: a last, partial entry is read, its missing bytes zero. */
    guint64 in_file = 0;
    if (offset < img->meta.file_length) {
        in_file = MIN(count, (img->meta.file_length - offset + 7) / 8);
    }
    /* The count comes from the image: even under the caps a failed allocation
     * must be an error, not an abort. */
    g_autofree guint64 *table = g_try_new0(guint64, MAX(count, 1));

    if (table == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("not enough memory for a table of %1$" PRIu64
                      " entries"), count);
        return NULL;
    }
    if (!vp_img_read(img, offset, table, in_file * 8, error)) {
        return NULL;
    }
    for (guint64 i = 0; i < in_file; i++) {
        table[i] = GUINT64_FROM_BE(table[i]);
    }
    return g_steal_pointer(&table);
}

/* VP_ERROR_CORRUPT lets callers tell a damaged image from failed I/O. */
gboolean
vp_corrupt(GError **error, VpQcow2Image *img, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *what = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                _("'%1$s' is not a valid qcow2 image: %2$s"), img->name, what);
    return FALSE;
}

/* A table of COUNT entries of ENTRY bytes at OFFSET, at most MAX bytes:
 * qemu's qcow2_validate_table. */
gboolean
vp_validate_table(VpQcow2Image *img, guint64 offset, guint64 count,
                  guint64 entry, guint64 max, const char *what,
                  GError **error)
{
    /* Dividing, not multiplying: a hostile count cannot overflow the test.
     * The end must stay below INT64_MAX, not 2^64, because qemu passes offsets
     * as int64_t; tables start on a cluster boundary as refcounts count whole
     * clusters. */
    if (count > max / entry) {
        return vp_corrupt(error, img, _("%1$s is too large"), what);
    }
    if ((guint64)G_MAXINT64 - count * entry < offset ||
        (offset & (img->meta.cluster_size - 1)) != 0) {
        return vp_corrupt(error, img, _("%1$s offset is invalid"), what);
    }
    return TRUE;
}

static gboolean
vp_parse_header(VpQcow2Image *img, const VpQcow2Header *h, GError **error)
{
    VpQcow2Meta *m = &img->meta;

    m->version = GUINT32_FROM_BE(h->version);
    /* Version 1 is the older qcow format, and a later version may change any
     * field: nothing is guessed. */
    if (m->version != 2 && m->version != 3) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' uses qcow2 version %2$u; only versions 2 and 3 "
                      "exist"), img->name, m->version);
        return FALSE;
    }
    m->cluster_bits = GUINT32_FROM_BE(h->cluster_bits);
    /* qemu opens 2^9 to 2^21; the cap also bounds every L2 table and refcount
     * block read below to 2 MiB, and keeps the shifts defined. */
    if (m->cluster_bits < VP_QCOW2_MIN_CLUSTER_BITS ||
        m->cluster_bits > VP_QCOW2_MAX_CLUSTER_BITS) {
        return vp_corrupt(error, img, _("unsupported cluster size 2^%1$u"),
                          m->cluster_bits);
    }
    m->cluster_size = G_GUINT64_CONSTANT(1) << m->cluster_bits;
    m->virtual_size = GUINT64_FROM_BE(h->size);
    m->l1_size = GUINT32_FROM_BE(h->l1_size);
    m->l1_offset = GUINT64_FROM_BE(h->l1_table_offset);
    m->reftable_offset = GUINT64_FROM_BE(h->refcount_table_offset);
    m->reftable_clusters = GUINT32_FROM_BE(h->refcount_table_clusters);
    m->nb_snapshots = GUINT32_FROM_BE(h->nb_snapshots);
    m->snapshots_offset = GUINT64_FROM_BE(h->snapshots_offset);

    if (m->version == 2) {
        m->header_length = VP_QCOW2_V2_HEADER_LEN;
        m->refcount_bits = 16;
    } else {
        m->header_length = GUINT32_FROM_BE(h->header_length);
        /* qemu's two checks: room for the v3 fields, and extensions after it
         * inside cluster 0. */
        if (m->header_length < VP_QCOW2_V3_MIN_HEADER_LEN) {
            return vp_corrupt(error, img, _("the header is too short"));
        }
        if (m->header_length > m->cluster_size) {
            return vp_corrupt(error, img,
                              _("the header is larger than a cluster"));
        }
        m->incompatible_features = GUINT64_FROM_BE(h->incompatible_features);
        m->compatible_features = GUINT64_FROM_BE(h->compatible_features);
        m->autoclear_features = GUINT64_FROM_BE(h->autoclear_features);
        guint32 order = GUINT32_FROM_BE(h->refcount_order);
        /* Wider than 64 bits: qemu refuses it, and 1u << order would
         * overflow. */
        if (order > 6) {
            return vp_corrupt(error, img,
                              _("refcount width 2^%1$u is more than 64 bits"),
                              order);
        }
        m->refcount_bits = 1u << order;
        /* The compression byte exists only in longer headers; else it is
         * zlib. */
        if (m->header_length > VP_QCOW2_V3_MIN_HEADER_LEN) {
            m->compression_type = h->compression_type;
        }
    }

    /* An incompatible bit changes how the image must be read, by the
     * definition of the class: an unknown one means refuse, not misread.
     * Unknown compatible and autoclear bits may be ignored, as qemu does. */
    guint64 unknown = m->incompatible_features & ~VP_QCOW2_INCOMPAT_KNOWN;
    if (unknown != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' uses unknown incompatible qcow2 features "
                      "(0x%2$" PRIx64 "); a newer qemu may read it"),
                    img->name, unknown);
        return FALSE;
    }
    /* Guest data lives in another file: host offsets here point into it. */
    if (m->incompatible_features & VP_QCOW2_INCOMPAT_DATA_FILE) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' keeps its data in an external file, which this "
                      "tool does not read; use qemu-img"), img->name);
        return FALSE;
    }
    /* Encrypted clusters are ciphertext; nothing read from them means anything
     * without the key. */
    if (GUINT32_FROM_BE(h->crypt_method) != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' is encrypted, which this tool does not read; "
                      "use qemu-img"), img->name);
        return FALSE;
    }
    gboolean compression_bit =
        (m->incompatible_features & VP_QCOW2_INCOMPAT_COMPRESSION) != 0;
    if (m->compression_type > VP_QCOW2_COMPRESSION_ZSTD) {
        return vp_corrupt(error, img, _("unknown compression type %1$u"),
                          m->compression_type);
    }
    /* qemu wants the bit exactly when the type is not zlib, so that a qemu
     * older than the type field refuses a zstd image instead of inflating it
     * as deflate. */
    if (compression_bit != (m->compression_type != VP_QCOW2_COMPRESSION_ZLIB)) {
        return vp_corrupt(error, img,
                          _("the compression type and its feature bit "
                            "disagree"));
    }
    m->extended_l2 = (m->incompatible_features & VP_QCOW2_INCOMPAT_EXTL2) != 0;
    /* qemu's rule: 32 subclusters of at least 512 bytes. */
    if (m->extended_l2 && m->cluster_size < VP_QCOW2_MIN_EXTENDED_L2_CLUSTER) {
        return vp_corrupt(error, img,
                          _("extended L2 entries need clusters of at least "
                            "16 KiB"));
    }
    img->l2_entry_bytes = m->extended_l2 ? 16 : 8;
    img->l2_entries = m->cluster_size / img->l2_entry_bytes;
    img->refblock_entries = m->cluster_size * 8 / m->refcount_bits;
    return TRUE;
}

/* Extensions run from the end of the header to the backing file name, or to
 * the end of cluster 0, as qemu reads them: a length past that end is refused,
 * so a hostile one cannot send the reader through the file. */
static gboolean
vp_parse_extensions(VpQcow2Image *img, guint64 backing_offset,
                    GError **error)
{
    VpQcow2Meta *m = &img->meta;
    guint64 offset = m->header_length;
    guint64 end = backing_offset != 0 ? backing_offset : m->cluster_size;

    while (offset < end) {
        VpQcow2ExtHeader ext;
        if (!vp_img_read(img, offset, &ext, sizeof(ext), error)) {
            return FALSE;
        }
        guint32 type = GUINT32_FROM_BE(ext.type);
        guint32 len = GUINT32_FROM_BE(ext.length);
        offset += sizeof(ext);
        if (offset > end || len > end - offset) {
            return vp_corrupt(error, img, _("a header extension is too large"));
        }
        if (type == VP_QCOW2_EXT_END) {
            break;
        }
        if (type == VP_QCOW2_EXT_BACKING_FORMAT) {
            if (len >= VP_QCOW2_MAX_BACKING_FORMAT) {
                return vp_corrupt(error, img,
                                  _("the backing format name is too long"));
            }
            g_free(m->backing_format);
            /* One byte more: the name is NUL-terminated whatever the image
             * holds. */
            m->backing_format = g_malloc0(len + 1);
            if (!vp_img_read(img, offset, m->backing_format, len, error)) {
                return FALSE;
            }
        }
        /* Other extensions (feature names, bitmaps) need no action here. */
        offset += (len + 7) & ~(guint64)7;
    }
    return TRUE;
}

/* qemu's checks: the name starts and ends inside cluster 0 and is at most 1023
 * bytes long. */
static gboolean
vp_read_backing_name(VpQcow2Image *img, guint64 offset, guint32 len,
                     GError **error)
{
    guint64 cs = img->meta.cluster_size;

    if (offset > cs) {
        return vp_corrupt(error, img, _("the backing file offset is invalid"));
    }
    if (offset == 0) {
        return TRUE;
    }
    if (len > MIN(VP_QCOW2_MAX_BACKING_NAME, cs - offset)) {
        return vp_corrupt(error, img, _("the backing file name is too long"));
    }
    img->meta.backing_file = g_malloc0(len + 1);
    return vp_img_read(img, offset, img->meta.backing_file, len, error);
}

/* Only each snapshot's L1 table is kept: check counts the clusters that
 * snapshots share.  qemu's caps bound the walk before it starts. */
static gboolean
vp_read_snapshot_table(VpQcow2Image *img, GError **error)
{
    VpQcow2Meta *m = &img->meta;
    guint64 offset = m->snapshots_offset;

    if (m->nb_snapshots > VP_QCOW2_MAX_SNAPSHOTS) {
        return vp_corrupt(error, img, _("too many snapshots"));
    }
    if (!vp_validate_table(img, m->snapshots_offset, m->nb_snapshots,
                           sizeof(VpQcow2SnapshotHeader),
                           VP_QCOW2_MAX_SNAPSHOTS_BYTES, _("the snapshot table"),
                           error)) {
        return FALSE;
    }
    img->snapshots = g_new0(VpQcow2Snapshot, MAX(m->nb_snapshots, 1));
    for (guint32 i = 0; i < m->nb_snapshots; i++) {
        VpQcow2SnapshotHeader sh;
        /* Entries start on 8-byte boundaries. */
        offset = (offset + 7) & ~(guint64)7;
        if (!vp_img_read(img, offset, &sh, sizeof(sh), error)) {
            return FALSE;
        }
        guint32 extra = GUINT32_FROM_BE(sh.extra_data_size);
        if (extra > VP_QCOW2_MAX_SNAPSHOT_EXTRA) {
            return vp_corrupt(error, img,
                              _("snapshot %1$u has too much extra data"), i);
        }
        img->snapshots[i].l1_offset = GUINT64_FROM_BE(sh.l1_table_offset);
        img->snapshots[i].l1_size = GUINT32_FROM_BE(sh.l1_size);
        /* All small: the sum cannot overflow after the table check. */
        offset += sizeof(sh) + extra + GUINT16_FROM_BE(sh.id_str_size) +
                  GUINT16_FROM_BE(sh.name_size);
        if (offset - m->snapshots_offset > VP_QCOW2_MAX_SNAPSHOTS_BYTES) {
            return vp_corrupt(error, img, _("the snapshot table is too large"));
        }
    }
    img->snapshots_size = offset - m->snapshots_offset;
    return TRUE;
}

static gboolean
vp_read_tables(VpQcow2Image *img, GError **error)
{
    VpQcow2Meta *m = &img->meta;
    guint64 cs = m->cluster_size;

    if (!vp_validate_table(img, m->l1_offset, m->l1_size, 8,
                           VP_QCOW2_MAX_L1_BYTES, _("the active L1 table"),
                           error)) {
        return FALSE;
    }
    /* The L1 table must reach the whole virtual disk. */
    guint64 reach = cs * img->l2_entries;
    guint64 needed = m->virtual_size / reach + (m->virtual_size % reach != 0);
    /* qemu refuses it too: a guest access past the table's end would index
     * outside it. */
    if (needed > m->l1_size) {
        return vp_corrupt(error, img, _("the L1 table is too small for the "
                                        "virtual size"));
    }
    /* The refcount table is sized in clusters; qemu's cap is 8 MiB. */
    if (!vp_validate_table(img, m->reftable_offset, m->reftable_clusters, cs,
                           VP_QCOW2_MAX_REFTABLE_BYTES,
                           _("the refcount table"), error)) {
        return FALSE;
    }
    img->l1 = vp_read_table(img, m->l1_offset, m->l1_size, error);
    if (img->l1 == NULL) {
        return FALSE;
    }
    img->reftable_size = (guint64)m->reftable_clusters * cs / 8;
    img->reftable = vp_read_table(img, m->reftable_offset, img->reftable_size,
                                  error);
    if (img->reftable == NULL) {
        return FALSE;
    }
    return vp_read_snapshot_table(img, error);
}

/* The magic alone decides "qcow2 or raw": a damaged qcow2 image must be
 * reported as damaged, never taken for raw guest data. */
gboolean
vp_qcow2_probe(VpReadFunc read, gpointer opaque, gboolean *is_qcow2,
               GError **error)
{
    guint32 magic;

    if (!read(opaque, 0, &magic, sizeof(magic), error)) {
        return FALSE;
    }
    *is_qcow2 = GUINT32_FROM_BE(magic) == VP_QCOW2_MAGIC;
    return TRUE;
}

VpQcow2Image *
vp_qcow2_image_open(VpReadFunc read, gpointer opaque, guint64 length,
                    const char *name, GError **error)
{
    g_autoptr(VpQcow2Image) img = g_new0(VpQcow2Image, 1);
    VpQcow2Header h;

    img->read = read;
    img->opaque = opaque;
    img->name = g_strdup(name);
    img->meta.file_length = length;
    if (!vp_img_read(img, 0, &h, sizeof(h), error)) {
        return NULL;
    }
    if (GUINT32_FROM_BE(h.magic) != VP_QCOW2_MAGIC) {
        g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                    _("'%1$s' is not a qcow2 image"), name);
        return NULL;
    }
    guint64 backing_offset = GUINT64_FROM_BE(h.backing_file_offset);
    /* In this order: the header first; the backing name before the extensions,
     * as its offset ends their area; the tables last, against the cluster
     * size. */
    if (!vp_parse_header(img, &h, error) ||
        !vp_read_backing_name(img, backing_offset,
                              GUINT32_FROM_BE(h.backing_file_size), error) ||
        !vp_parse_extensions(img, backing_offset, error) ||
        !vp_read_tables(img, error)) {
        return NULL;
    }
    return g_steal_pointer(&img);
}

void
vp_qcow2_image_free(VpQcow2Image *img)
{
    if (img == NULL) {
        return;
    }
    g_free(img->meta.backing_file);
    g_free(img->meta.backing_format);
    g_free(img->l1);
    g_free(img->reftable);
    g_free(img->snapshots);
    g_free(img->l2_cache);
    g_free(img->name);
    g_free(img);
}

const VpQcow2Meta *
vp_qcow2_image_meta(const VpQcow2Image *img)
{
    return &img->meta;
}

VpClusterType
vp_cluster_type(const VpQcow2Image *img, guint64 entry)
{
    /* Compressed first: there the low bits belong to the host offset and
     * sector count, so bit 0 is no zero flag. */
    if (entry & VP_QCOW2_OFLAG_COMPRESSED) {
        return VP_CLUSTER_COMPRESSED;
    }
    /* With extended L2 the zero state lives in the subcluster bitmap. */
    if ((entry & VP_QCOW2_OFLAG_ZERO) && !img->meta.extended_l2) {
        /* With an offset a zero cluster still owns its host cluster (a
         * preallocated zero cluster): it is mapped and has a refcount. */
        return (entry & VP_QCOW2_OFFSET_MASK) ? VP_CLUSTER_ZERO_ALLOC
                                              : VP_CLUSTER_ZERO_PLAIN;
    }
    return (entry & VP_QCOW2_OFFSET_MASK) ? VP_CLUSTER_NORMAL
                                          : VP_CLUSTER_UNALLOCATED;
}

VpQcow2Image *
vp_qcow2_open_alone(int fd, guint64 length, const char *name, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(VpQcow2Image) img = vp_qcow2_image_open(vp_read_fd,
                                                      GINT_TO_POINTER(fd),
                                                      length, name, &local);

    /* Damaged or of a kind the reader refuses: bad input either way. */
    if (img == NULL) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID, local->message);
        return NULL;
    }
    const VpQcow2Meta *m = vp_qcow2_image_meta(img);
    /* A backing file would not travel with the image. */
    if (m->backing_file != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is an overlay on backing file '%2$s', and a base "
                      "must stand alone; flatten it first with virt-provision "
                      "convert --source-format qcow2 '%1$s' FLAT.qcow2"),
                    name, m->backing_file);
        return NULL;
    }
    return g_steal_pointer(&img);
}
