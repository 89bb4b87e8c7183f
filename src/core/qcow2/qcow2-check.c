/* qemu-img check: rebuild every refcount from the tables and compare. */
#include "qcow2-reader.h"

#include <inttypes.h>
#include <string.h>

#include <zlib.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-format.h"
#include "qcow2-private.h"

/* Problems kept word for word in a check result; the rest are counted. */
/* A damaged image can have a problem per cluster: the count stays exact, the
 * text bounded. */
#define VP_CHECK_MAX_MESSAGES 50

typedef struct {
    VpQcow2Image *img;
    VpQcow2Check *res;
    /* Two bytes per cluster bound memory; a count that would pass 65535 is
     * reported, never wrapped. */
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
    /* The last cluster may be partly in the file (an image ending with its L1
     * table, compressed data), so less than a cluster past the end is a
     * reference; more is corruption, as in qemu. */
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
        /* qemu's "overflow cluster": more references than the image's width
         * can store. */
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

        /* qemu checks the reserved bits of standard descriptors only: a
         * compressed one uses them for its sector count. */
        if (type != VP_CLUSTER_COMPRESSED && (entry & VP_QCOW2_L2E_RESERVED)) {
            vp_check_note(c, _("L2 entry 0x%1$" PRIx64 " has "
                               "reserved bits set"), entry);
            c->res->corruptions++;
        }
        switch (type) {
        case VP_CLUSTER_COMPRESSED: {
            /* COPIED promises refcount 1 and writes in place; compressed
             * clusters are never rewritten in place, so qemu forbids the
             * flag. */
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
            /* Compressed data spans whole 512-byte sectors, from the one
             * holding coffset: it may share clusters with its neighbours. */
            vp_check_ref(c, coffset, sectors * 512 - (coffset & 511));
            if (active) {
                c->res->allocated_clusters++;
                c->res->compressed_clusters++;
                /* Compressed clusters count as fragmented in qemu: adjacent
                 * ones still share sectors and are read again. */
                c->res->fragmented_clusters++;
            }
            break;
        }
        case VP_CLUSTER_ZERO_ALLOC:
        case VP_CLUSTER_NORMAL:
            /* A subcluster both allocated and zero is invalid (qemu: corrupted
             * bitmap). */
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
            /* Allocation and fragmentation describe the active disk only, as
             * qemu's CHECK_FRAG_INFO, which it passes for the active L1
             * alone. */
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
            /* Allocated subclusters need a host cluster to live in. */
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

/* The active L1 is the one already read; a snapshot's is read here, as it is
 * needed only by check. */
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
        /* As qemu: reserved bits counted, and the table still followed. */
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

/* Runs after every other reference is counted, as qemu's check_refblocks: a
 * block another structure also claims then shows as referenced twice.  The
 * checks go in qemu's order, each skipping the rest. */
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
        /* A block past the end of the image cannot hold the refcounts it
         * claims to (qemu: "outside image"). */
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
    /* The spec's packing, as the emitter writes it: sub-byte entries from
     * each byte's low bits, wider ones big-endian. */
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

/* qemu's compare_refcounts: stored below computed is corruption (a cluster
 * still in use could be handed out again, qemu-img exit 2), above is a leak
 * (space lost, nothing at risk, exit 3).  A refcount that cannot be read is a
 * check error, not a verdict about the cluster. */
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
        /* The last cluster in use by either count: qemu's image end offset. */
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
/* qemu's check_oflag_copied.  qemu writes in place where COPIED is set, so a
 * flag on a shared cluster would overwrite a snapshot's data, and a missing
 * one costs a needless copy; both are corruption.  Active tables only:
 * snapshot entries are shared by design.  Unreadable refcounts are skipped
 * silently, as they are already counted by the comparison. */
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
    /* References in qemu's order: header, active and snapshot tables, snapshot
     * table, refcount table, then the blocks (vp_check_refblocks). */
    vp_check_ref(&c, 0, cs); /* the header cluster */
    if (!vp_check_l1(&c, m->l1_offset, m->l1_size, TRUE, error)) {
        goto out;
    }
    for (guint32 i = 0; i < m->nb_snapshots; i++) {
        const VpQcow2Snapshot *sn = &img->snapshots[i];
        /* qemu's test of a snapshot's L1 before it follows it: aligned, within
         * the L1 cap. */
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
