#include "sink.h"

#include <gio/gio.h>

/* The wrappers drop empty extents, so no sink has to handle len 0
 * (posix_fallocate, for one, refuses it with EINVAL). */
gboolean
vp_sink_write(VpSink *sink, guint64 offset, const guint8 *buf, gsize len,
              GError **error)
{
    return len == 0 || sink->ops->write(sink, offset, buf, len, error);
}

gboolean
vp_sink_hole(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return len == 0 || sink->ops->hole(sink, offset, len, error);
}

gboolean
vp_sink_allocate(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return len == 0 || sink->ops->allocate(sink, offset, len, error);
}

gboolean
vp_sink_zero(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return len == 0 || sink->ops->zero(sink, offset, len, error);
}

gboolean
vp_sink_copy(VpSink *sink, guint64 offset, int fd, guint64 fd_offset,
             guint64 len, GError **error)
{
    /* A sink without copy answers as one that cannot copy this time: the
     * emitter then reads through its buffer. */
    if (sink->ops->copy == NULL) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "no copy");
        return FALSE;
    }
    return len == 0 || sink->ops->copy(sink, offset, fd, fd_offset, len, error);
}

gboolean
vp_sink_skip(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    /* Without skip, a hole: on a file that reads as zeros too, which the zero
     * flags allow. */
    if (sink->ops->skip == NULL) {
        return vp_sink_hole(sink, offset, len, error);
    }
    return len == 0 || sink->ops->skip(sink, offset, len, error);
}

gboolean
vp_sink_commit(VpSink *sink, guint64 length, GError **error)
{
    return sink->ops->commit(sink, length, error);
}

/* Free is the discard path: a sink freed before commit throws its result
 * away. */
void
vp_sink_free(VpSink *sink)
{
    if (sink != NULL) {
        sink->ops->free(sink);
    }
}
