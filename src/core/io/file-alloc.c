#include "file-alloc.h"

#include <errno.h>
#include <string.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

/* Extents asked for per FIEMAP call: 28 KiB of buffer, whatever the
 * fragmentation, and few calls even for a badly fragmented image. */
#define VP_FIEMAP_BATCH 512

/* Adds the overlap of [START, START + LEN) with RUNS, advancing *CURSOR past
 * runs that end before START (extents arrive in offset order).  Only bytes
 * of data clusters count: metadata is allocated in every preallocation mode
 * and would blur metadata and falloc. */
static guint64
vp_overlap(const GArray *runs, guint *cursor, guint64 start, guint64 len)
{
    guint64 end = start + len;
    guint64 sum = 0;

    while (*cursor < runs->len) {
        const VpRange *r = &g_array_index(runs, VpRange, *cursor);
        if (r->offset + r->length <= start) {
            (*cursor)++;
            continue;
        }
        break;
    }
    for (guint i = *cursor; i < runs->len; i++) {
        const VpRange *r = &g_array_index(runs, VpRange, i);
        if (r->offset >= end) {
            break;
        }
        guint64 lo = MAX(r->offset, start);
        guint64 hi = MIN(r->offset + r->length, end);
        sum += hi - lo;
    }
    return sum;
}

/* FIEMAP first: it reports unwritten extents (fallocate's) like written ones,
 * and falloc preallocation is exactly such extents.  No flag is filtered:
 * unwritten and delayed-allocation extents both have their space reserved. */
static int
vp_fiemap_sum(int fd, const GArray *runs, guint64 *bytes)
{
    gsize size = sizeof(struct fiemap) + VP_FIEMAP_BATCH * sizeof(struct fiemap_extent);
    g_autofree struct fiemap *fm = g_malloc0(size);
    guint64 start = 0;
    guint cursor = 0;

    *bytes = 0;
    for (;;) {
        memset(fm, 0, size);
        fm->fm_start = start;
        fm->fm_length = FIEMAP_MAX_OFFSET - start;
        fm->fm_extent_count = VP_FIEMAP_BATCH;
        if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
            return errno;
        }
        if (fm->fm_mapped_extents == 0) {
            return 0;
        }
        for (guint i = 0; i < fm->fm_mapped_extents; i++) {
            const struct fiemap_extent *e = &fm->fm_extents[i];
            *bytes += vp_overlap(runs, &cursor, e->fe_logical, e->fe_length);
            if (e->fe_flags & FIEMAP_EXTENT_LAST) {
                return 0;
            }
        }
        const struct fiemap_extent *last = &fm->fm_extents[fm->fm_mapped_extents - 1];
        /* A full batch without the LAST flag: ask again from its end. */
        start = last->fe_logical + last->fe_length;
    }
}

/* The fallback where FIEMAP is missing.  SEEK_DATA may report unwritten
 * extents as holes (ext4 and XFS do unless the page cache holds data), so it
 * can undercount falloc; it is only used when nothing better answers. */
static int
vp_seek_sum(int fd, const GArray *runs, guint64 *bytes)
{
    off_t pos = 0;
    guint cursor = 0;

    *bytes = 0;
    for (;;) {
        off_t data = lseek(fd, pos, SEEK_DATA);
        if (data < 0) {
            /* ENXIO: no data after pos, the walk is done. */
            return errno == ENXIO ? 0 : errno;
        }
        off_t hole = lseek(fd, data, SEEK_HOLE);
        if (hole < 0) {
            return errno;
        }
        *bytes += vp_overlap(runs, &cursor, (guint64)data, (guint64)(hole - data));
        pos = hole;
    }
}

gboolean
vp_file_allocated_in(int fd, const GArray *runs, guint64 *bytes,
                     GError **error)
{
    int err = vp_fiemap_sum(fd, runs, bytes);

    /* The answers of a file system or layer without FIEMAP. */
    if (err == EOPNOTSUPP || err == ENOTTY || err == EINVAL) {
        err = vp_seek_sum(fd, runs, bytes);
    }
    if (err != 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                    _("cannot tell which parts of the image are allocated: %1$s"),
                    g_strerror(err));
        return FALSE;
    }
    return TRUE;
}
