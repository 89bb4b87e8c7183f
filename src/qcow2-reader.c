#include "qcow2-reader.h"

#include <inttypes.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <zlib.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-format.h"

/* qemu's limits on what it will open. */
#define VP_QCOW2_MAX_BACKING_FORMAT 16 /* bytes, including the NUL */
#define VP_QCOW2_MAX_SNAPSHOT_EXTRA 1024
#define VP_QCOW2_MAX_SNAPSHOTS_BYTES (G_GUINT64_CONSTANT(1024) * VP_QCOW2_MAX_SNAPSHOTS)
/* Problems kept word for word in a check result; the rest are counted. */
#define VP_CHECK_MAX_MESSAGES 50

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

static gboolean
vp_img_read(VpQcow2Image *img, guint64 offset, void *buf, gsize len,
            GError **error)
{
    return img->read(img->opaque, offset, buf, len, error);
}

static guint64
vp_be64_at(const guint8 *p)
{
    guint64 v;
    memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

/* Reads COUNT big-endian u64 entries at OFFSET, converted to host order.
 * Entries past the end of the file read as zero without touching the
 * source, so a hostile header cannot make a tiny file cost much. */
static guint64 *
vp_read_table(VpQcow2Image *img, guint64 offset, guint64 count,
              GError **error)
{
    guint64 in_file = 0;
    if (offset < img->meta.file_length) {
        in_file = MIN(count, (img->meta.file_length - offset + 7) / 8);
    }
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

static gboolean G_GNUC_PRINTF(3, 4)
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
static gboolean
vp_validate_table(VpQcow2Image *img, guint64 offset, guint64 count,
                  guint64 entry, guint64 max, const char *what,
                  GError **error)
{
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
    if (m->version != 2 && m->version != 3) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' uses qcow2 version %2$u; only versions 2 and 3 "
                      "exist"), img->name, m->version);
        return FALSE;
    }
    m->cluster_bits = GUINT32_FROM_BE(h->cluster_bits);
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
        if (order > 6) {
            return vp_corrupt(error, img,
                              _("refcount width 2^%1$u is more than 64 bits"),
                              order);
        }
        m->refcount_bits = 1u << order;
        if (m->header_length > VP_QCOW2_V3_MIN_HEADER_LEN) {
            m->compression_type = h->compression_type;
        }
    }

    guint64 unknown = m->incompatible_features & ~VP_QCOW2_INCOMPAT_KNOWN;
    if (unknown != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' uses unknown incompatible qcow2 features "
                      "(0x%2$" PRIx64 "); a newer qemu may read it"),
                    img->name, unknown);
        return FALSE;
    }
    if (m->incompatible_features & VP_QCOW2_INCOMPAT_DATA_FILE) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("'%1$s' keeps its data in an external file, which this "
                      "tool does not read; use qemu-img"), img->name);
        return FALSE;
    }
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
    if (compression_bit != (m->compression_type != VP_QCOW2_COMPRESSION_ZLIB)) {
        return vp_corrupt(error, img,
                          _("the compression type and its feature bit "
                            "disagree"));
    }
    m->extended_l2 = (m->incompatible_features & VP_QCOW2_INCOMPAT_EXTL2) != 0;
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
    if (needed > m->l1_size) {
        return vp_corrupt(error, img, _("the L1 table is too small for the "
                                        "virtual size"));
    }
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

/* qemu's cluster types, from an L2 entry's first word. */
typedef enum {
    VP_CLUSTER_UNALLOCATED,
    VP_CLUSTER_ZERO_PLAIN,
    VP_CLUSTER_ZERO_ALLOC,
    VP_CLUSTER_NORMAL,
    VP_CLUSTER_COMPRESSED,
} VpClusterType;

static VpClusterType
vp_cluster_type(const VpQcow2Image *img, guint64 entry)
{
    if (entry & VP_QCOW2_OFLAG_COMPRESSED) {
        return VP_CLUSTER_COMPRESSED;
    }
    /* With extended L2 the zero state lives in the subcluster bitmap. */
    if ((entry & VP_QCOW2_OFLAG_ZERO) && !img->meta.extended_l2) {
        return (entry & VP_QCOW2_OFFSET_MASK) ? VP_CLUSTER_ZERO_ALLOC
                                              : VP_CLUSTER_ZERO_PLAIN;
    }
    return (entry & VP_QCOW2_OFFSET_MASK) ? VP_CLUSTER_NORMAL
                                          : VP_CLUSTER_UNALLOCATED;
}

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
            if (type == VP_CLUSTER_NORMAL || type == VP_CLUSTER_ZERO_ALLOC ||
                type == VP_CLUSTER_COMPRESSED) {
                (*mapped)++;
            }
            if (complete && (type == VP_CLUSTER_NORMAL ||
                             type == VP_CLUSTER_ZERO_ALLOC)) {
                complete = vp_runs_add(runs, max_runs,
                                       entry & VP_QCOW2_OFFSET_MASK,
                                       m->cluster_size);
            }
        }
    }
    if (runs != NULL) {
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
    if (index >= m->l1_size) {
        return TRUE;
    }
    guint64 l2_offset = img->l1[index] & VP_QCOW2_OFFSET_MASK;
    if (l2_offset == 0) {
        return TRUE;
    }
    if (l2_offset & (m->cluster_size - 1)) {
        g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                    _("'%1$s' is corrupt: an L2 table is not cluster aligned; "
                      "run virt-provision check"), img->name);
        return FALSE;
    }
    if (img->l2_cache == NULL) {
        img->l2_cache = g_malloc(m->cluster_size);
    }
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
        if ((bitmap >> (32 + sc)) & 1) {
            *kind = VP_GUEST_ZERO;
        } else if ((bitmap >> sc) & 1) {
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

/* ---- check ------------------------------------------------------------ */

typedef struct {
    VpQcow2Image *img;
    VpQcow2Check *res;
    guint16 *refs;        /* computed references per host cluster */
    guint64 refs_len;     /* allocated entries */
    guint64 nb_clusters;  /* clusters compared: file, grown by references */
    guint64 refcount_max; /* what the image's refcount width can hold */
    guint8 *table;        /* one cluster, for L2 tables and refcount blocks */
} VpChecker;

static void G_GNUC_PRINTF(2, 3)
vp_check_note(VpChecker *c, const char *format, ...)
{
    if (c->res->messages->len >= VP_CHECK_MAX_MESSAGES) {
        c->res->messages_dropped++;
        return;
    }
    va_list ap;
    va_start(ap, format);
    g_ptr_array_add(c->res->messages, g_strdup_vprintf(format, ap));
    va_end(ap);
}

/* Counts one more reference to every cluster of [OFFSET, OFFSET + SIZE), as
 * qemu's qcow2_inc_refcounts_imrt: a region reaching a whole cluster or more
 * past the end of the file is corruption, not a reference. */
static void
vp_check_ref(VpChecker *c, guint64 offset, guint64 size)
{
    const VpQcow2Meta *m = &c->img->meta;
    guint64 end;

    if (size == 0) {
        return;
    }
    if (!g_uint64_checked_add(&end, offset, size) ||
        (end > m->file_length && end - m->file_length >= m->cluster_size)) {
        vp_check_note(c, _("reference to 0x%1$" PRIx64 " (+%2$"
                           PRIu64 ") reaches a cluster or more past "
                           "the end of the file"), offset, size);
        c->res->corruptions++;
        return;
    }
    for (guint64 k = offset >> m->cluster_bits;
         k <= (end - 1) >> m->cluster_bits; k++) {
        /* end <= file length + cluster size, so k < refs_len. */
        c->nb_clusters = MAX(c->nb_clusters, k + 1);
        if (c->refs[k] >= c->refcount_max) {
            vp_check_note(c, _("cluster %1$" PRIu64 " has more "
                               "references than its refcount can count"), k);
            c->res->corruptions++;
            continue;
        }
        c->refs[k]++;
    }
}

static gboolean
vp_check_l2(VpChecker *c, guint64 l2_offset, gboolean active,
            GError **error)
{
    VpQcow2Image *img = c->img;
    const VpQcow2Meta *m = &img->meta;
    guint64 next_contiguous = 0;
    guint32 csize_shift = 62 - (m->cluster_bits - 8);
    guint64 csize_mask = (G_GUINT64_CONSTANT(1) << (m->cluster_bits - 8)) - 1;
    guint64 coffset_mask = (G_GUINT64_CONSTANT(1) << csize_shift) - 1;

    if (!vp_img_read(img, l2_offset, c->table, m->cluster_size, error)) {
        return FALSE;
    }
    for (guint64 j = 0; j < img->l2_entries; j++) {
        const guint8 *p = c->table + j * img->l2_entry_bytes;
        guint64 entry = vp_be64_at(p);
        guint64 bitmap = m->extended_l2 ? vp_be64_at(p + 8) : 0;
        guint64 offset = entry & VP_QCOW2_OFFSET_MASK;
        VpClusterType type = vp_cluster_type(img, entry);

        if (type != VP_CLUSTER_COMPRESSED && (entry & VP_QCOW2_L2E_RESERVED)) {
            vp_check_note(c, _("L2 entry 0x%1$" PRIx64 " has "
                               "reserved bits set"), entry);
            c->res->corruptions++;
        }
        switch (type) {
        case VP_CLUSTER_COMPRESSED: {
            if (entry & VP_QCOW2_OFLAG_COPIED) {
                vp_check_note(c, _("compressed cluster entry 0x%1$"
                                   PRIx64 " has the copied flag"),
                              entry);
                c->res->corruptions++;
            }
            if (bitmap != 0) {
                vp_check_note(c, _("compressed cluster entry 0x%1$"
                                   PRIx64 " has a subcluster "
                                   "bitmap"), entry);
                c->res->corruptions++;
            }
            guint64 coffset = entry & coffset_mask;
            guint64 sectors = ((entry >> csize_shift) & csize_mask) + 1;
            vp_check_ref(c, coffset, sectors * 512 - (coffset & 511));
            if (active) {
                c->res->allocated_clusters++;
                c->res->compressed_clusters++;
                c->res->fragmented_clusters++;
            }
            break;
        }
        case VP_CLUSTER_ZERO_ALLOC:
        case VP_CLUSTER_NORMAL:
            if ((bitmap >> 32) & bitmap) {
                vp_check_note(c, _("cluster 0x%1$" PRIx64 " has "
                                   "subclusters both allocated and zero"),
                              offset);
                c->res->corruptions++;
            }
            if (offset & (m->cluster_size - 1)) {
                vp_check_note(c, _("data cluster offset 0x%1$"
                                   PRIx64 " is not cluster "
                                   "aligned"), offset);
                c->res->corruptions++;
            }
            if (active) {
                c->res->allocated_clusters++;
                if (next_contiguous != 0 && offset != next_contiguous) {
                    c->res->fragmented_clusters++;
                }
                next_contiguous = offset + m->cluster_size;
            }
            vp_check_ref(c, offset, m->cluster_size);
            break;
        case VP_CLUSTER_ZERO_PLAIN:
        case VP_CLUSTER_UNALLOCATED:
            if (bitmap & VP_QCOW2_SUBCLUSTER_ALLOC_ALL) {
                vp_check_note(c, _("unallocated cluster has allocated "
                                   "subclusters"));
                c->res->corruptions++;
            }
            break;
        }
    }
    return TRUE;
}

static gboolean
vp_check_l1(VpChecker *c, guint64 l1_offset, guint32 l1_size,
            gboolean active, GError **error)
{
    VpQcow2Image *img = c->img;
    g_autofree guint64 *snapshot_l1 = NULL;
    const guint64 *l1 = img->l1;

    vp_check_ref(c, l1_offset, (guint64)l1_size * 8);
    if (!active) {
        snapshot_l1 = vp_read_table(img, l1_offset, l1_size, error);
        if (snapshot_l1 == NULL) {
            return FALSE;
        }
        l1 = snapshot_l1;
    }
    for (guint32 i = 0; i < l1_size; i++) {
        guint64 l2_offset = l1[i] & VP_QCOW2_OFFSET_MASK;
        if (l2_offset == 0) {
            continue;
        }
        if (l1[i] & VP_QCOW2_L1E_RESERVED) {
            vp_check_note(c, _("L1 entry 0x%1$" PRIx64 " has "
                               "reserved bits set"), l1[i]);
            c->res->corruptions++;
        }
        vp_check_ref(c, l2_offset, img->meta.cluster_size);
        if (l2_offset & (img->meta.cluster_size - 1)) {
            vp_check_note(c, _("L2 table offset 0x%1$" PRIx64
                               " is not cluster aligned"), l2_offset);
            c->res->corruptions++;
        }
        if (!vp_check_l2(c, l2_offset, active, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

static void
vp_check_refblocks(VpChecker *c)
{
    VpQcow2Image *img = c->img;
    guint64 cs = img->meta.cluster_size;

    for (guint64 i = 0; i < img->reftable_size; i++) {
        guint64 offset = img->reftable[i] & VP_QCOW2_REFT_OFFSET_MASK;
        guint64 cluster = offset >> img->meta.cluster_bits;

        if (img->reftable[i] & ~VP_QCOW2_REFT_OFFSET_MASK) {
            vp_check_note(c, _("refcount table entry %1$" PRIu64
                               " has reserved bits set"), i);
            c->res->corruptions++;
            continue;
        }
        if (offset & (cs - 1)) {
            vp_check_note(c, _("refcount block %1$" PRIu64 " is not "
                               "cluster aligned"), i);
            c->res->corruptions++;
            continue;
        }
        if (cluster >= c->nb_clusters) {
            vp_check_note(c, _("refcount block %1$" PRIu64 " is "
                               "outside the image"), i);
            c->res->corruptions++;
            continue;
        }
        if (offset != 0) {
            vp_check_ref(c, offset, cs);
            if (c->refs[cluster] != 1) {
                vp_check_note(c, _("refcount block %1$" PRIu64
                                   " is referenced %2$u times"), i,
                              c->refs[cluster]);
                c->res->corruptions++;
            }
        }
    }
}

/* The stored refcount of CLUSTER.  Returns FALSE when the refcount block
 * cannot be used (unaligned), as qemu's get_refcount fails. */
static gboolean
vp_stored_refcount(VpChecker *c, guint64 cluster, guint64 *cached_block,
                   guint64 *refcount, GError **error)
{
    VpQcow2Image *img = c->img;
    guint64 index = cluster / img->refblock_entries;
    guint32 bits = img->meta.refcount_bits;

    *refcount = 0;
    if (index >= img->reftable_size) {
        return TRUE;
    }
    guint64 block = img->reftable[index] & VP_QCOW2_REFT_OFFSET_MASK;
    if (block == 0) {
        return TRUE;
    }
    if (block & (img->meta.cluster_size - 1)) {
        return FALSE;
    }
    if (*cached_block != block) {
        if (!vp_img_read(img, block, c->table, img->meta.cluster_size, error)) {
            return FALSE;
        }
        *cached_block = block;
    }
    guint64 i = cluster % img->refblock_entries;
    if (bits < 8) {
        guint8 byte = c->table[i * bits / 8];
        *refcount = (byte >> (i * bits % 8)) & ((1u << bits) - 1);
    } else {
        guint64 v = 0;
        for (guint32 b = 0; b < bits / 8; b++) {
            v = (v << 8) | c->table[i * (bits / 8) + b];
        }
        *refcount = v;
    }
    return TRUE;
}

static gboolean
vp_check_compare(VpChecker *c, guint64 *highest, GError **error)
{
    guint64 cached_block = G_MAXUINT64;

    *highest = 0;
    for (guint64 i = 0; i < c->nb_clusters; i++) {
        guint64 stored;
        g_autoptr(GError) local = NULL;
        if (!vp_stored_refcount(c, i, &cached_block, &stored, &local)) {
            if (local != NULL) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
            }
            vp_check_note(c, _("cannot get the refcount of cluster %1$"
                               PRIu64 ": its refcount block is not "
                               "cluster aligned"), i);
            c->res->check_errors++;
            continue;
        }
        guint64 computed = c->refs[i];
        if (stored > 0 || computed > 0) {
            *highest = i;
        }
        if (stored < computed) {
            vp_check_note(c, _("cluster %1$" PRIu64 " has refcount "
                               "%2$" PRIu64 " but %3$"
                               PRIu64 " references"),
                          i, stored, computed);
            c->res->corruptions++;
        } else if (stored > computed) {
            vp_check_note(c, _("cluster %1$" PRIu64 " is leaked: "
                               "refcount %2$" PRIu64 ", %3$"
                               PRIu64 " references"),
                          i, stored, computed);
            c->res->leaks++;
        }
    }
    return TRUE;
}

/* A cluster referenced from the active tables carries the copied flag
 * exactly when its stored refcount is 1. */
static gboolean
vp_check_copied(VpChecker *c, GError **error)
{
    VpQcow2Image *img = c->img;
    const VpQcow2Meta *m = &img->meta;
    guint64 cached_block = G_MAXUINT64;
    g_autofree guint8 *l2 = g_malloc(m->cluster_size);

    for (guint32 i = 0; i < m->l1_size; i++) {
        guint64 l2_offset = img->l1[i] & VP_QCOW2_OFFSET_MASK;
        guint64 refcount;
        if (l2_offset == 0) {
            continue;
        }
        g_autoptr(GError) local = NULL;
        if (!vp_stored_refcount(c, l2_offset >> m->cluster_bits,
                                &cached_block, &refcount, &local)) {
            if (local != NULL) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
            }
            continue;
        }
        if ((refcount == 1) != ((img->l1[i] & VP_QCOW2_OFLAG_COPIED) != 0)) {
            vp_check_note(c, _("L1 entry %1$u: copied flag does not match "
                               "refcount %2$" PRIu64), i, refcount);
            c->res->corruptions++;
        }
        if (!vp_img_read(img, l2_offset, l2, m->cluster_size, error)) {
            return FALSE;
        }
        for (guint64 j = 0; j < img->l2_entries; j++) {
            guint64 entry = vp_be64_at(l2 + j * img->l2_entry_bytes);
            VpClusterType type = vp_cluster_type(img, entry);
            if (type != VP_CLUSTER_NORMAL && type != VP_CLUSTER_ZERO_ALLOC) {
                continue;
            }
            g_autoptr(GError) local2 = NULL;
            if (!vp_stored_refcount(c,
                                    (entry & VP_QCOW2_OFFSET_MASK) >> m->cluster_bits,
                                    &cached_block, &refcount, &local2)) {
                if (local2 != NULL) {
                    g_propagate_error(error, g_steal_pointer(&local2));
                    return FALSE;
                }
                continue;
            }
            if ((refcount == 1) != ((entry & VP_QCOW2_OFLAG_COPIED) != 0)) {
                vp_check_note(c, _("L2 entry 0x%1$" PRIx64 ": "
                                   "copied flag does not match refcount %2$"
                                   PRIu64), entry, refcount);
                c->res->corruptions++;
            }
        }
    }
    return TRUE;
}

void
vp_qcow2_check_clear(VpQcow2Check *result)
{
    if (result->messages != NULL) {
        g_ptr_array_unref(result->messages);
    }
    *result = (VpQcow2Check){ 0 };
}

gboolean
vp_qcow2_image_check(VpQcow2Image *img, VpQcow2Check *result,
                     GError **error)
{
    const VpQcow2Meta *m = &img->meta;
    guint64 cs = m->cluster_size;
    VpChecker c = { .img = img, .res = result };

    *result = (VpQcow2Check){ .messages = g_ptr_array_new_with_free_func(g_free) };
    result->total_clusters = m->virtual_size / cs + (m->virtual_size % cs != 0);
    c.nb_clusters = m->file_length / cs + (m->file_length % cs != 0);
    /* A reference may reach at most one cluster past the end of the file. */
    c.refs_len = c.nb_clusters + 1;
    c.refs = g_try_new0(guint16, c.refs_len);
    if (c.refs == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("not enough memory to check '%1$s'"), img->name);
        return FALSE;
    }
    c.refcount_max = m->refcount_bits >= 16
                         ? G_MAXUINT16
                         : (G_GUINT64_CONSTANT(1) << m->refcount_bits) - 1;
    c.table = g_malloc(cs);

    gboolean ok = FALSE;
    vp_check_ref(&c, 0, cs); /* the header cluster */
    if (!vp_check_l1(&c, m->l1_offset, m->l1_size, TRUE, error)) {
        goto out;
    }
    for (guint32 i = 0; i < m->nb_snapshots; i++) {
        const VpQcow2Snapshot *sn = &img->snapshots[i];
        if (sn->l1_offset & (cs - 1) ||
            sn->l1_size > VP_QCOW2_MAX_L1_BYTES / 8) {
            vp_check_note(&c, _("snapshot %1$u has an invalid L1 table"), i);
            result->corruptions++;
            continue;
        }
        if (!vp_check_l1(&c, sn->l1_offset, sn->l1_size, FALSE, error)) {
            goto out;
        }
    }
    vp_check_ref(&c, m->snapshots_offset, img->snapshots_size);
    vp_check_ref(&c, m->reftable_offset, img->reftable_size * 8);
    vp_check_refblocks(&c);

    guint64 highest;
    if (!vp_check_compare(&c, &highest, error) || !vp_check_copied(&c, error)) {
        goto out;
    }
    result->image_end_offset = (highest + 1) * cs;
    ok = TRUE;

out:
    g_free(c.refs);
    g_free(c.table);
    return ok;
}
