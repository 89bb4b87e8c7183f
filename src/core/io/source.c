/* Sources: where a conversion reads guest data from.  A raw file answers
 * with its own bytes and the file system's holes; a qcow2 image answers
 * through the reader's guest map, its backing chain, and inflated
 * compressed clusters.  Every answer is a run of one kind (data or zeros),
 * so that the emitter keeps holes as holes and copies only data. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-reader.h"

/* A backing chain longer than this is a loop or an attack. */
#define VP_MAX_CHAIN 16
/* Runs reported at once, so a huge zero image costs bounded work per call. */
#define VP_MAX_RUN (G_GUINT64_CONSTANT(256) << 20)

gboolean
vp_source_extent(VpSource *src, guint64 pos, guint64 *len, gboolean *data,
                 GError **error)
{
    return src->ops->extent(src, pos, len, data, error);
}

gboolean
vp_source_read(VpSource *src, guint64 pos, guint8 *buf, gsize len,
               GError **error)
{
    return src->ops->read(src, pos, buf, len, error);
}

int
vp_source_raw_fd(VpSource *src, guint64 pos, guint64 *fd_offset)
{
    return src->ops->raw_fd != NULL ? src->ops->raw_fd(src, pos, fd_offset) : -1;
}

void
vp_source_free(VpSource *src)
{
    if (src != NULL) {
        g_free(src->format);
        g_free(src->name);
        src->ops->free(src);
    }
}

/* ---- raw files -------------------------------------------------------- */

typedef struct {
    VpSource parent;
    int fd;
    guint64 length; /* bytes in the file; beyond reads as zeros */
} VpRawSource;

/* SEEK_DATA/SEEK_HOLE say where the file system stores nothing, which is
 * what a sparse raw image's zeros are; a file system without them (or a
 * device) is all data, which is slower to copy but never wrong. */
static gboolean
vp_raw_extent(VpSource *src, guint64 pos, guint64 *len, gboolean *data,
              GError **error)
{
    VpRawSource *r = (VpRawSource *)src;
    guint64 end = MIN(src->size, pos + VP_MAX_RUN);

    if (pos >= r->length) {
        *data = FALSE;
        *len = end - pos;
        return TRUE;
    }
    off_t d = lseek(r->fd, (off_t)pos, SEEK_DATA);
    if (d < 0 && errno == ENXIO) {
        d = (off_t)r->length; /* no data after POS */
    } else if (d < 0) {
        /* No SEEK_DATA here: everything is data. */
        *data = TRUE;
        *len = end - pos;
        return TRUE;
    }
    if ((guint64)d > pos) {
        *data = FALSE;
        *len = MIN((guint64)d, end) - pos;
        return TRUE;
    }
    off_t h = lseek(r->fd, (off_t)pos, SEEK_HOLE);
    *data = TRUE;
    *len = MIN(h < 0 ? r->length : (guint64)h, end) - pos;
    return TRUE;
}

static gboolean
vp_raw_read(VpSource *src, guint64 pos, guint8 *buf, gsize len, GError **error)
{
    VpRawSource *r = (VpRawSource *)src;
    return vp_read_fd(GINT_TO_POINTER(r->fd), pos, buf, len, error);
}

/* Guest offset and file offset are the same in a raw file, which is what
 * lets the sink copy_file_range (or reflink) it; past the file's end there
 * is nothing to copy from. */
static int
vp_raw_fd(VpSource *src, guint64 pos, guint64 *fd_offset)
{
    VpRawSource *r = (VpRawSource *)src;
    *fd_offset = pos;
    return pos < r->length ? r->fd : -1;
}

static void
vp_raw_free(VpSource *src)
{
    VpRawSource *r = (VpRawSource *)src;
    if (r->fd >= 0) {
        close(r->fd);
    }
    g_free(r);
}

static const VpSourceOps vp_raw_ops = {
    .extent = vp_raw_extent,
    .read = vp_raw_read,
    .raw_fd = vp_raw_fd,
    .free = vp_raw_free,
};

/* ---- qcow2 images ----------------------------------------------------- */

typedef struct {
    VpSource parent;
    int fd;
    VpQcow2Image *img;
    VpSource *backing;      /* NULL: unallocated reads as zeros */
    guint64 cluster_size;
    guint8 *cluster;        /* last decompressed cluster */
    guint64 cluster_guest;  /* its guest offset, G_MAXUINT64 when none */
} VpQcow2Source;

/* The backing file's answer for [POS, POS+LEN): beyond its end, zeros. */
static gboolean
vp_backing_extent(VpQcow2Source *q, guint64 pos, guint64 *len, gboolean *data,
                  GError **error)
{
    if (q->backing == NULL || pos >= q->backing->size) {
        *data = FALSE;
        return TRUE;
    }
    guint64 blen;
    if (!vp_source_extent(q->backing, pos, &blen, data, error)) {
        return FALSE;
    }
    *len = MIN(*len, blen);
    return TRUE;
}

/* The guest map answers per cluster or subcluster; a run is as many of
 * them as agree (capped at VP_MAX_RUN), so that a preallocated image of a
 * terabyte of zeros costs a few calls, not millions.  Unallocated pieces
 * ask the backing file, whose runs may be shorter. */
static gboolean
vp_qcow2_extent(VpSource *src, guint64 pos, guint64 *len, gboolean *data,
                GError **error)
{
    VpQcow2Source *q = (VpQcow2Source *)src;
    guint64 end = MIN(src->size, pos + VP_MAX_RUN);
    guint64 at = pos;
    gboolean first = TRUE;

    /* Merge consecutive pieces of the same kind. */
    while (at < end) {
        VpGuestKind kind;
        guint64 piece;
        guint64 host;
        gboolean piece_data;
        if (!vp_qcow2_image_guest_map(q->img, at, &kind, &piece, &host, error)) {
            return FALSE;
        }
        piece = MIN(piece, end - at);
        if (kind == VP_GUEST_BACKING) {
            if (!vp_backing_extent(q, at, &piece, &piece_data, error)) {
                return FALSE;
            }
        } else {
            piece_data = kind != VP_GUEST_ZERO;
        }
        if (first) {
            *data = piece_data;
            first = FALSE;
        } else if (piece_data != *data) {
            break;
        }
        at += piece;
    }
    *len = at - pos;
    return TRUE;
}

static gboolean
vp_qcow2_read(VpSource *src, guint64 pos, guint8 *buf, gsize len,
              GError **error)
{
    VpQcow2Source *q = (VpQcow2Source *)src;

    while (len > 0) {
        VpGuestKind kind;
        guint64 piece;
        guint64 host;
        if (!vp_qcow2_image_guest_map(q->img, pos, &kind, &piece, &host, error)) {
            return FALSE;
        }
        gsize n = (gsize)MIN((guint64)len, piece);
        switch (kind) {
        case VP_GUEST_DATA:
            if (!vp_qcow2_image_read_host(q->img, host, buf, n, error)) {
                return FALSE;
            }
            break;
        case VP_GUEST_COMPRESSED: {
            /* A compressed cluster inflates whole; the emitter reads it in
             * pieces, so the last one is kept rather than inflated again
             * for every piece. */
            guint64 start = pos & ~(q->cluster_size - 1);
            if (q->cluster_guest != start) {
                q->cluster_guest = G_MAXUINT64;
                if (!vp_qcow2_image_read_compressed(q->img, pos, q->cluster,
                                                    error)) {
                    return FALSE;
                }
                q->cluster_guest = start;
            }
            memcpy(buf, q->cluster + (pos - start), n);
            break;
        }
        case VP_GUEST_BACKING:
            if (q->backing != NULL && pos < q->backing->size) {
                n = (gsize)MIN((guint64)n, q->backing->size - pos);
                if (!vp_source_read(q->backing, pos, buf, n, error)) {
                    return FALSE;
                }
                break;
            }
            /* No backing data here: zeros. */
            G_GNUC_FALLTHROUGH;
        case VP_GUEST_ZERO:
            memset(buf, 0, n);
            break;
        }
        buf += n;
        pos += n;
        len -= n;
    }
    return TRUE;
}

static void
vp_qcow2_source_free(VpSource *src)
{
    VpQcow2Source *q = (VpQcow2Source *)src;
    vp_qcow2_image_free(q->img);
    vp_source_free(q->backing);
    if (q->fd >= 0) {
        close(q->fd);
    }
    g_free(q->cluster);
    g_free(q);
}

static const VpSourceOps vp_qcow2_ops = {
    .extent = vp_qcow2_extent,
    .read = vp_qcow2_read,
    .free = vp_qcow2_source_free,
};

/* ---- backing chains --------------------------------------------------- */

VpBackingLevel *
vp_backing_level_new(const char *path, const char *format, gboolean block)
{
    VpBackingLevel *level = g_new0(VpBackingLevel, 1);
    level->path = g_strdup(path);
    level->format = g_strdup(format);
    level->block = block;
    return level;
}

void
vp_backing_level_free(VpBackingLevel *level)
{
    if (level != NULL) {
        g_free(level->path);
        g_free(level->format);
        g_free(level);
    }
}

VpBackingChain *
vp_backing_chain_new(void)
{
    VpBackingChain *chain = g_new0(VpBackingChain, 1);
    chain->levels = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vp_backing_level_free);
    return chain;
}

void
vp_backing_chain_add(VpBackingChain *chain, const char *path, const char *format)
{
    g_ptr_array_add(chain->levels, vp_backing_level_new(path, format, FALSE));
}

void
vp_backing_chain_free(VpBackingChain *chain)
{
    if (chain != NULL) {
        g_ptr_array_unref(chain->levels);
        g_free(chain);
    }
}

/* What the caller said about the image being opened and its chain. */
typedef struct {
    const VpBackingChain *chain; /* may be NULL */
    gboolean probed;             /* the top's format came from its bytes */
} VpOpenRules;

/* What RULES state for the backing file of the image at DEPTH: a level,
 * or NULL with *NONE saying whether they state that there is none. */
static const VpBackingLevel *
vp_stated_backing(const VpOpenRules *rules, int depth, gboolean *none)
{
    const VpBackingChain *chain = rules->chain;

    *none = FALSE;
    if (chain == NULL) {
        return NULL;
    }
    if ((guint)depth < chain->levels->len) {
        return g_ptr_array_index(chain->levels, depth);
    }
    *none = chain->closed;
    return NULL;
}

/* An image at DEPTH without a backing file: fine unless one was stated. */
static gboolean
vp_check_no_backing(const char *path, const VpOpenRules *rules, int depth,
                    GError **error)
{
    gboolean none;
    const VpBackingLevel *want = vp_stated_backing(rules, depth, &none);

    if (want != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("the domain definition gives '%1$s' the backing file "
                      "'%2$s', but the image names none; make the disk's "
                      "<backingStore> match the image (virsh edit) before "
                      "converting"), path, want->path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
vp_same_file_name(const char *a, const char *b)
{
    g_autofree char *ca = g_canonicalize_filename(a, NULL);
    g_autofree char *cb = g_canonicalize_filename(b, NULL);
    return g_str_equal(ca, cb);
}

static VpSource *vp_source_open_depth(const char *path, const char *format,
                                      const VpOpenRules *rules, int depth,
                                      GError **error);

/* Opens the backing file the image at PATH (at DEPTH) names, in a format
 * the image records or RULES state, after checking it against RULES. */
static gboolean
vp_qcow2_open_backing(VpQcow2Source *q, const char *path,
                      const VpOpenRules *rules, int depth, GError **error)
{
    const VpQcow2Meta *m = vp_qcow2_image_meta(q->img);
    g_autofree char *dir = g_path_get_dirname(path);
    gboolean none;
    const VpBackingLevel *want = vp_stated_backing(rules, depth, &none);

    if (m->backing_file == NULL) {
        return vp_check_no_backing(path, rules, depth, error);
    }
    /* A guest can write a qcow2 header naming any host file into its raw
     * disk: bytes nobody vouched for never open another file. */
    if (rules->probed && depth == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' has a qcow2 header naming the backing file "
                      "'%2$s', which is not opened for a format detected from "
                      "the image's own bytes; if you trust '%1$s', use "
                      "--source-format qcow2"),
                    path, m->backing_file);
        return FALSE;
    }
    if (none) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' names the backing file '%2$s', but the domain "
                      "definition says it has none (<backingStore/>); make "
                      "the disk's <backingStore> match the image (virsh edit) "
                      "before converting"), path, m->backing_file);
        return FALSE;
    }
    if (depth >= VP_MAX_CHAIN) {
        g_set_error(error, VP_ERROR, VP_ERROR_CORRUPT,
                    _("the backing chain of '%1$s' is longer than %2$d images; "
                      "is it a loop?"), path, VP_MAX_CHAIN);
        return FALSE;
    }
    g_autofree char *backing = g_path_is_absolute(m->backing_file)
                                   ? g_strdup(m->backing_file)
                                   : g_build_filename(dir, m->backing_file, NULL);
    const char *format = m->backing_format;
    if (want != NULL) {
        if (!vp_same_file_name(backing, want->path)) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("the domain definition gives '%1$s' the backing file "
                          "'%2$s', but the image names '%3$s'; make the disk's "
                          "<backingStore> match the image (virsh edit) before "
                          "converting"), path, want->path, backing);
            return FALSE;
        }
        if (format != NULL && want->format != NULL &&
            !g_str_equal(format, want->format)) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("the domain definition says backing file '%1$s' is "
                          "%2$s, but '%3$s' records %4$s; make the disk's "
                          "<backingStore> match the image (virsh edit) before "
                          "converting"), backing, want->format, path, format);
            return FALSE;
        }
        if (format == NULL) {
            format = want->format;
        }
    }
    if (format == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' does not record the format of its backing file "
                      "'%2$s', and a format is never guessed from a file's "
                      "bytes: record it with qemu-img rebase -u -b '%2$s' "
                      "-F FORMAT '%1$s'"), path, m->backing_file);
        return FALSE;
    }
    if (!g_str_equal(format, "raw") && !g_str_equal(format, "qcow2")) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("backing file '%1$s' of '%2$s' is %3$s, which this tool "
                      "does not read; use qemu-img convert"),
                    backing, path, format);
        return FALSE;
    }
    q->backing = vp_source_open_depth(backing, format, rules, depth + 1, error);
    return q->backing != NULL;
}

static VpSource *
vp_source_open_depth(const char *path, const char *format,
                     const VpOpenRules *rules, int depth, GError **error)
{
    struct stat st;
    gboolean is_qcow2 = FALSE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    _("cannot open '%1$s': %2$s"), path, g_strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("'%1$s' is a directory, not an image file"), path);
        close(fd);
        return NULL;
    }
    guint64 length = (guint64)st.st_size;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        length = end > 0 ? (guint64)end : 0;
    }
    if (format == NULL) {
        if (!vp_qcow2_probe(vp_read_fd, GINT_TO_POINTER(fd), &is_qcow2, error)) {
            close(fd);
            return NULL;
        }
        format = is_qcow2 ? "qcow2" : "raw";
    }
    if (g_str_equal(format, "raw")) {
        if (!vp_check_no_backing(path, rules, depth, error)) {
            close(fd);
            return NULL;
        }
        VpRawSource *r = g_new0(VpRawSource, 1);
        r->parent.ops = &vp_raw_ops;
        r->parent.size = length;
        r->fd = fd;
        r->length = length;
        r->parent.format = g_strdup("raw");
        r->parent.name = g_strdup(path);
        return &r->parent;
    }
    if (!g_str_equal(format, "qcow2")) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("source format '%1$s' is not one this tool reads; use raw "
                      "or qcow2"), format);
        close(fd);
        return NULL;
    }
    VpQcow2Source *q = g_new0(VpQcow2Source, 1);
    g_autoptr(VpSource) src = &q->parent;
    q->parent.ops = &vp_qcow2_ops;
    q->parent.format = g_strdup("qcow2");
    q->parent.name = g_strdup(path);
    q->fd = fd;
    q->cluster_guest = G_MAXUINT64;
    q->img = vp_qcow2_image_open(vp_read_fd, GINT_TO_POINTER(fd), length, path,
                                 error);
    if (q->img == NULL) {
        return NULL;
    }
    const VpQcow2Meta *m = vp_qcow2_image_meta(q->img);
    q->parent.size = m->virtual_size;
    q->cluster_size = m->cluster_size;
    q->cluster = g_malloc(m->cluster_size);
    if (!vp_qcow2_open_backing(q, path, rules, depth, error)) {
        return NULL;
    }
    return g_steal_pointer(&src);
}

VpSource *
vp_source_open_file(const char *path, const char *format,
                    const VpBackingChain *chain, GError **error)
{
    const VpOpenRules rules = { .chain = chain, .probed = format == NULL };
    return vp_source_open_depth(path, format, &rules, 0, error);
}

/* ---- telling a disk image from any other file ------------------------ */

/* Signatures of what a raw disk image starts with, at their offsets. */
static const struct {
    guint64 offset;
    const char *magic;
    gsize len;
} vp_raw_signatures[] = {
    { 510, "\x55\xaa", 2 },            /* MBR, protective MBR of GPT, FAT */
    { 1080, "\x53\xef", 2 },           /* ext2/3/4 superblock magic 0xEF53 */
    { 0, "XFSB", 4 },                  /* XFS */
    { 32769, "CD001", 5 },             /* ISO 9660 primary volume descriptor */
    { 65600, "_BHRfS_M", 8 },          /* btrfs */
    { 0, "LUKS\xba\xbe", 6 },          /* LUKS 1 and 2 */
    /* Linux swap: at the end of the first page, for each page size. */
    { 4096 - 10, "SWAPSPACE2", 10 },
    { 4096 - 10, "SWAP-SPACE", 10 },
    { 8192 - 10, "SWAPSPACE2", 10 },
    { 16384 - 10, "SWAPSPACE2", 10 },
    { 65536 - 10, "SWAPSPACE2", 10 },
};

static gboolean
vp_has_raw_signature(int fd, guint64 length, GError **error)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_raw_signatures); i++) {
        guint8 buf[16];
        gsize len = vp_raw_signatures[i].len;
        guint64 offset = vp_raw_signatures[i].offset;
        /* A signature past the end is absent (vp_read_fd would read it as
         * zeros). */
        if (offset + len > length) {
            continue;
        }
        if (!vp_read_fd(GINT_TO_POINTER(fd), offset, buf, len, error)) {
            return FALSE;
        }
        if (memcmp(buf, vp_raw_signatures[i].magic, len) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

gboolean
vp_source_identify(int fd, guint64 length, const char *name,
                   const char **format, GError **error)
{
    gboolean is_qcow2 = FALSE;
    g_autoptr(GError) local = NULL;

    if (length == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is empty; give a raw or qcow2 disk image"), name);
        return FALSE;
    }
    if (!vp_qcow2_probe(vp_read_fd, GINT_TO_POINTER(fd), &is_qcow2, error)) {
        return FALSE;
    }
    if (is_qcow2) {
        g_autoptr(VpQcow2Image) img = vp_qcow2_open_alone(fd, length, name, error);
        *format = "qcow2";
        return img != NULL;
    }
    if (length % 512 != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is not a whole number of 512-byte sectors long, so it is no raw disk image; give a raw or qcow2 disk image"),
                    name);
        return FALSE;
    }
    if (!vp_has_raw_signature(fd, length, &local)) {
        if (local != NULL) {
            g_propagate_error(error, g_steal_pointer(&local));
        } else {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("'%1$s' is neither a qcow2 image nor a raw disk image with a partition table, file system or swap signature; give a disk image"),
                        name);
        }
        return FALSE;
    }
    *format = "raw";
    return TRUE;
}
