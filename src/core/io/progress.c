#include "progress.h"

#include <gio/gio.h>

typedef struct {
    VpSink parent;
    VpSink *inner;
    guint64 total;
    VpProgress progress;
} VpProgressSink;

/* Progress is the image offset reached, which the emitter's file order makes
 * monotonic; clamped, so that the bar never passes 100 % whatever total the
 * caller gave. */
static void
vp_progress_report(VpProgressSink *p, guint64 done)
{
    p->progress.func(MIN(done, p->total), p->total, p->progress.user);
}

/* Writes come at most a buffer (1 MiB) long: one report each is enough. */
static gboolean
vp_progress_write(VpSink *sink, guint64 offset, const guint8 *buf, gsize len,
                  GError **error)
{
    VpProgressSink *p = (VpProgressSink *)sink;
    if (!vp_sink_write(p->inner, offset, buf, len, error)) {
        return FALSE;
    }
    vp_progress_report(p, offset + len);
    return TRUE;
}

/* Long operations are passed on in pieces of this size, so that the bar
 * moves during a 20 GiB --preallocation full as well. */
#define VP_PROGRESS_PIECE (G_GUINT64_CONSTANT(64) << 20)

#define VP_PROGRESS_FORWARD(op)                                                \
    static gboolean vp_progress_##op(VpSink *sink, guint64 offset,             \
                                     guint64 len, GError **error)              \
    {                                                                          \
        VpProgressSink *p = (VpProgressSink *)sink;                            \
        while (len > 0) {                                                      \
            guint64 n = MIN(len, VP_PROGRESS_PIECE);                           \
            if (!vp_sink_##op(p->inner, offset, n, error)) {                   \
                return FALSE;                                                  \
            }                                                                  \
            offset += n;                                                       \
            len -= n;                                                          \
            vp_progress_report(p, offset);                                     \
        }                                                                      \
        return TRUE;                                                           \
    }

/* Holes go in pieces too: a hole is free on a file but not everywhere (a block
 * device upload writes it as zeros), and the bar should move either way. */
VP_PROGRESS_FORWARD(hole)
VP_PROGRESS_FORWARD(allocate)
VP_PROGRESS_FORWARD(zero)
VP_PROGRESS_FORWARD(skip)

static gboolean
vp_progress_copy(VpSink *sink, guint64 offset, int fd, guint64 fd_offset,
                 guint64 len, GError **error)
{
    VpProgressSink *p = (VpProgressSink *)sink;
    gboolean first = TRUE;

    while (len > 0) {
        guint64 n = MIN(len, VP_PROGRESS_PIECE);
        g_autoptr(GError) local = NULL;
        if (!vp_sink_copy(p->inner, offset, fd, fd_offset, n, &local)) {
            /* "Cannot copy in the kernel" is only an answer before the
             * first piece; the caller then reads and writes instead. */
            if (!first && g_error_matches(local, G_IO_ERROR,
                                          G_IO_ERROR_NOT_SUPPORTED)) {
                g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                    local->message);
                return FALSE;
            }
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        first = FALSE;
        offset += n;
        fd_offset += n;
        len -= n;
        vp_progress_report(p, offset);
    }
    return TRUE;
}

static gboolean
vp_progress_commit(VpSink *sink, guint64 length, GError **error)
{
    VpProgressSink *p = (VpProgressSink *)sink;
    if (!vp_sink_commit(p->inner, length, error)) {
        return FALSE;
    }
    /* The end is shown only once the inner sink has committed: an upload
     * whose finish fails never showed 100 %. */
    vp_progress_report(p, p->total);
    return TRUE;
}

static void
vp_progress_free(VpSink *sink)
{
    VpProgressSink *p = (VpProgressSink *)sink;
    vp_sink_free(p->inner);
    g_free(p);
}

/* copy and skip forwarded too: the inner sink's choices must not change by
 * being watched. */
static const VpSinkOps vp_progress_ops = {
    .write = vp_progress_write,
    .hole = vp_progress_hole,
    .allocate = vp_progress_allocate,
    .zero = vp_progress_zero,
    .copy = vp_progress_copy,
    .skip = vp_progress_skip,
    .commit = vp_progress_commit,
    .free = vp_progress_free,
};

VpSink *
vp_progress_sink_new(VpSink *inner, guint64 total, const VpProgress *progress)
{
    /* No wrapper without a listener; a NULL inner (a failed constructor)
     * passes through, so callers may chain the two calls. */
    if (progress == NULL || progress->func == NULL || inner == NULL) {
        return inner;
    }
    VpProgressSink *p = g_new0(VpProgressSink, 1);
    p->parent.ops = &vp_progress_ops;
    p->inner = inner;
    p->total = total;
    p->progress = *progress;
    return &p->parent;
}
