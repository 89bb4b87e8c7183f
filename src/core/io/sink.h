/* Where an emitted image goes.
 *
 * The emitter produces an image strictly in file order as a sequence of
 * extents.  A sink stores them: a local file (sink-file.c), or later a
 * libvirt upload stream.  Offsets and lengths are bytes; each call starts
 * where the previous one ended. */
#pragma once

#include <glib.h>

typedef struct VpSink VpSink;

typedef struct {
    /* LEN bytes of BUF belong at OFFSET. */
    gboolean (*write)(VpSink *sink, guint64 offset, const guint8 *buf,
                      gsize len, GError **error);
    /* LEN bytes at OFFSET read as zeros and need no storage. */
    gboolean (*hole)(VpSink *sink, guint64 offset, guint64 len,
                     GError **error);
    /* LEN bytes at OFFSET read as zeros and must have storage reserved
     * (preallocation falloc). */
    gboolean (*allocate)(VpSink *sink, guint64 offset, guint64 len,
                         GError **error);
    /* LEN bytes at OFFSET must be written with zeros (preallocation full). */
    gboolean (*zero)(VpSink *sink, guint64 offset, guint64 len,
                     GError **error);
    /* Optional: LEN bytes at OFFSET copied from descriptor FD at FD_OFFSET
     * without passing through user space (copy_file_range; a reflink on
     * XFS or btrfs).  Fails with G_IO_ERROR_NOT_SUPPORTED when it cannot,
     * before writing anything, and the caller copies by reading. */
    gboolean (*copy)(VpSink *sink, guint64 offset, int fd, guint64 fd_offset,
                     guint64 len, GError **error);
    /* LEN bytes at OFFSET whose content does not matter: preallocated
     * clusters flagged to read as zeros.  Always the last extent.  Optional:
     * without it, a hole. */
    gboolean (*skip)(VpSink *sink, guint64 offset, guint64 len,
                     GError **error);
    /* Every extent has been given; the image is LENGTH bytes long.  Makes
     * the result durable and visible under its final name. */
    gboolean (*commit)(VpSink *sink, guint64 length, GError **error);
    /* Throws away everything not committed; frees the sink.  Never fails. */
    void (*free)(VpSink *sink);
} VpSinkOps;

struct VpSink {
    const VpSinkOps *ops;
};

gboolean vp_sink_write(VpSink *sink, guint64 offset, const guint8 *buf,
                       gsize len, GError **error);
gboolean vp_sink_hole(VpSink *sink, guint64 offset, guint64 len,
                      GError **error);
gboolean vp_sink_allocate(VpSink *sink, guint64 offset, guint64 len,
                          GError **error);
gboolean vp_sink_zero(VpSink *sink, guint64 offset, guint64 len,
                      GError **error);
gboolean vp_sink_copy(VpSink *sink, guint64 offset, int fd, guint64 fd_offset,
                      guint64 len, GError **error);
gboolean vp_sink_skip(VpSink *sink, guint64 offset, guint64 len,
                      GError **error);
gboolean vp_sink_commit(VpSink *sink, guint64 length, GError **error);
/* Frees SINK; an uncommitted result is discarded.  NULL is ignored. */
void vp_sink_free(VpSink *sink);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpSink, vp_sink_free)
