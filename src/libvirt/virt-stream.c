/* Sparse upload and download streams: the sink and source that carry
 * image bytes to and from a volume. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "virt-private.h"
#include "source.h"

/* ---- upload stream sink ----------------------------------------------- */

/* A stream has no offsets: bytes and holes arrive in sequence.  That works
 * because the emitter produces the image strictly in file order, each extent
 * starting where the last ended, so the offset arguments below can be
 * ignored. */
typedef struct {
    VpSink parent;
    VpVirt *virt;      /* whose stream_lock this stream holds */
    virStreamPtr stream;
    char *name;
    gboolean write_holes;
    gboolean finished;
    guint8 *zeros; /* VP_STREAM_CHUNK bytes */
} VpUploadSink;

static gboolean
vp_upload_send(VpUploadSink *s, const guint8 *buf, gsize len, GError **error)
{
    VP_VIRT_BUSY(s->virt);
    while (len > 0) {
        /* At most one message's payload per call (VP_STREAM_CHUNK); a blocking
         * stream may still take fewer bytes, hence the loop. */
        int n = virStreamSend(s->stream, (const char *)buf,
                              MIN(len, (gsize)VP_STREAM_CHUNK));
        if (n < 0) {
            return vp_virt_fail(error, _("cannot upload into volume '%1$s'"),
                                s->name);
        }
        buf += n;
        len -= (gsize)n;
    }
    return TRUE;
}

static gboolean
vp_upload_write(VpSink *sink, guint64 offset, const guint8 *buf, gsize len,
                GError **error)
{
    return vp_upload_send((VpUploadSink *)sink, buf, len, error);
}

/* Zeros as bytes: what preallocation full and falloc need, and what a block
 * device needs wherever it must read zeros. */
static gboolean
vp_upload_zero(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    VpUploadSink *s = (VpUploadSink *)sink;

    if (s->zeros == NULL) {
        s->zeros = g_malloc0(VP_STREAM_CHUNK);
    }
    while (len > 0) {
        gsize n = (gsize)MIN(len, (guint64)VP_STREAM_CHUNK);
        if (!vp_upload_send(s, s->zeros, n, error)) {
            return FALSE;
        }
        len -= n;
    }
    return TRUE;
}

/* A stream hole costs one small message whatever its length: a 1T preallocated
 * image uploads in about half a second, only its metadata travelling.  A block
 * device cannot store a hole, and seeking past one would leave the old
 * contents of the volume where the image needs zeros (table tails, refcount
 * padding), so there holes go as zeros. */
static gboolean
vp_upload_hole(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    VpUploadSink *s = (VpUploadSink *)sink;

    if (s->write_holes) {
        return vp_upload_zero(sink, offset, len, error);
    }
    VP_VIRT_BUSY(s->virt);
    if (virStreamSendHole(s->stream, (long long)len, 0) < 0) {
        return vp_virt_fail(error, _("cannot upload into volume '%1$s'"),
                            s->name);
    }
    return TRUE;
}

/* The stream simply ends before the skipped tail: a block device keeps
 * whatever it held there, and the zero flags hide it. */
static gboolean
vp_upload_skip(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return TRUE;
}

static gboolean
vp_upload_commit(VpSink *sink, guint64 length, GError **error)
{
    VpUploadSink *s = (VpUploadSink *)sink;
    VP_VIRT_BUSY(s->virt);

    /* Finish waits for the daemon to confirm the last byte: errors of its
     * writes (ENOSPC, EFBIG) surface here at the latest.  The length needs no
     * message: the stream ends at the image's last byte or hole. */
    if (virStreamFinish(s->stream) < 0) {
        return vp_virt_fail(error, _("cannot finish the upload into volume "
                                     "'%1$s'"), s->name);
    }
    s->finished = TRUE;
    return TRUE;
}

static void
vp_upload_free(VpSink *sink)
{
    VpUploadSink *s = (VpUploadSink *)sink;

    if (s->stream != NULL) {
        VP_VIRT_BUSY(s->virt);
        if (!s->finished) {
            /* Not finished: abort, so the daemon does not take a half-sent
             * image for a complete upload.  The partial volume itself is
             * removed by the transaction's undo. */
            virStreamAbort(s->stream);
        }
        virStreamFree(s->stream);
    }
    g_rec_mutex_unlock(&s->virt->stream_lock);
    g_free(s->zeros);
    g_free(s->name);
    g_free(s);
}

static const VpSinkOps vp_upload_ops = {
    .write = vp_upload_write,
    .hole = vp_upload_hole,
    /* A stream cannot reserve space without sending it: falloc sends zeros,
     * as full does. */
    .allocate = vp_upload_zero,
    .zero = vp_upload_zero,
    .skip = vp_upload_skip,
    .commit = vp_upload_commit,
    .free = vp_upload_free,
};

VpSink *
vp_virt_upload_sink_new(VpVirt *virt, const char *pool_name, const char *name,
                        gboolean write_holes, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool_name, name, FALSE,
                                                  error);

    if (vol == NULL) {
        return NULL;
    }
    VpUploadSink *s = g_new0(VpUploadSink, 1);
    /* Locked before the sink exists, unlocked by its free. */
    g_rec_mutex_lock(&virt->stream_lock);
    s->virt = virt;
    g_autoptr(VpSink) sink = &s->parent;
    s->parent.ops = &vp_upload_ops;
    s->name = g_strdup(name);
    s->write_holes = write_holes;
    s->stream = virStreamNew(vp_virt_conn(virt), 0);
    if (s->stream == NULL ||
        /* Sparse only for files: a non-sparse stream to a block device makes
         * every zero explicit (see vp_upload_hole). */
        virStorageVolUpload(vol, s->stream, 0, 0,
                            write_holes ? 0 : VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0) {
        vp_virt_fail(error, _("cannot start the upload into volume '%1$s'"), name);
        s->finished = TRUE; /* nothing to abort */
        return NULL;
    }
    return g_steal_pointer(&sink);
}

/* ---- download stream source ------------------------------------------- */

typedef struct {
    VpSource parent;
    VpVirt *virt;       /* whose stream_lock this stream holds */
    virStreamPtr stream;
    gboolean finished;
    guint64 pos;        /* guest offset of buf[0] / of the pending hole */
    guint8 *buf;        /* data received and not yet read */
    gsize buf_len;
    gsize buf_used;     /* consumed part of buf */
    guint64 hole;       /* pending hole bytes */
    gboolean eof;
} VpDownloadSource;

/* Receives the next message only when the previous data and hole are used up:
 * the source is read strictly in order, like the stream. */
static gboolean
vp_download_fill(VpDownloadSource *d, GError **error)
{
    if (d->buf_used < d->buf_len || d->hole > 0 || d->eof) {
        return TRUE;
    }
    VP_VIRT_BUSY(d->virt);
    int n = virStreamRecvFlags(d->stream, (char *)d->buf, VP_STREAM_CHUNK,
                               VIR_STREAM_RECV_STOP_AT_HOLE);
    /* STOP_AT_HOLE: at a hole Recv returns -3 and virStreamRecvHole gives its
     * length, so holes stay holes in the copy. */
    if (n == -3) {
        long long len = 0;
        if (virStreamRecvHole(d->stream, &len, 0) < 0) {
            return vp_virt_fail(error, _("cannot download '%1$s'"),
                                d->parent.name);
        }
        d->hole = (guint64)len;
        return TRUE;
    }
    if (n < 0) {
        return vp_virt_fail(error, _("cannot download '%1$s'"), d->parent.name);
    }
    if (n == 0) {
        d->eof = TRUE;
    }
    d->buf_len = (gsize)n;
    d->buf_used = 0;
    return TRUE;
}

static gboolean
vp_download_extent(VpSource *src, guint64 pos, guint64 *len, gboolean *data,
                   GError **error)
{
    VpDownloadSource *d = (VpDownloadSource *)src;

    /* The emitter reads in order; anything else is a bug, and a stream cannot
     * seek to serve it. */
    if (pos != d->pos) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    "download of '%s' read out of order", src->name);
        return FALSE;
    }
    if (!vp_download_fill(d, error)) {
        return FALSE;
    }
    if (d->hole > 0) {
        /* The caller takes the whole run, so the hole is consumed here. */
        *data = FALSE;
        *len = d->hole;
        d->pos += d->hole;
        d->hole = 0;
    } else if (d->eof) {
        *data = FALSE; /* the stream ended: the rest reads as zeros */
        *len = src->size - pos;
        d->pos = src->size;
    } else {
        *data = TRUE;
        *len = d->buf_len - d->buf_used;
    }
    return TRUE;
}

static gboolean
vp_download_read(VpSource *src, guint64 pos, guint8 *buf, gsize len,
                 GError **error)
{
    VpDownloadSource *d = (VpDownloadSource *)src;

    if (pos != d->pos || len > d->buf_len - d->buf_used) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    "download of '%s' read out of order", src->name);
        return FALSE;
    }
    memcpy(buf, d->buf + d->buf_used, len);
    d->buf_used += len;
    d->pos += len;
    return TRUE;
}

static void
vp_download_free(VpSource *src)
{
    VpDownloadSource *d = (VpDownloadSource *)src;
    if (d->stream != NULL) {
        VP_VIRT_BUSY(d->virt);
        if (d->eof) {
            /* All received: finish.  Otherwise abort, so the daemon stops
             * sending the rest. */
            virStreamFinish(d->stream);
        } else {
            virStreamAbort(d->stream);
        }
        virStreamFree(d->stream);
    }
    g_rec_mutex_unlock(&d->virt->stream_lock);
    g_free(d->buf);
    g_free(d);
}

static const VpSourceOps vp_download_ops = {
    .extent = vp_download_extent,
    .read = vp_download_read,
    .free = vp_download_free,
};

VpSource *
vp_virt_download_source_new(VpVirt *virt, const char *pool, const char *name,
                            guint64 size, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool, name, FALSE, error);

    if (vol == NULL) {
        return NULL;
    }
    VpDownloadSource *d = g_new0(VpDownloadSource, 1);
    g_rec_mutex_lock(&virt->stream_lock);
    d->virt = virt;
    g_autoptr(VpSource) src = &d->parent;
    d->parent.ops = &vp_download_ops;
    d->parent.size = size;
    d->parent.format = g_strdup("raw");
    d->parent.name = g_strdup(name);
    d->buf = g_malloc(VP_STREAM_CHUNK);
    d->stream = virStreamNew(vp_virt_conn(virt), 0);
    if (d->stream == NULL ||
        virStorageVolDownload(vol, d->stream, 0, 0,
                              VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM) < 0) {
        vp_virt_fail(error, _("cannot start downloading volume '%1$s'"), name);
        return NULL;
    }
    return g_steal_pointer(&src);
}

gboolean
vp_virt_volume_download(VpVirt *virt, const char *pool, const char *name,
                        int fd, const VpCancel *cancel, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_auto(VpVolumeRef) ref = { 0 };

    if (!vp_virt_volume_by_name(virt, pool, name, &ref, error)) {
        return FALSE;
    }
    g_autoptr(VpSource) src = vp_virt_download_source_new(virt, pool, name,
                                                          ref.physical, error);
    if (src == NULL) {
        return FALSE;
    }
    g_autofree guint8 *buf = g_malloc(VP_STREAM_CHUNK);
    guint64 pos = 0;
    while (pos < src->size) {
        guint64 len;
        gboolean data;
        if (!vp_cancel_check(cancel, error) ||
            !vp_source_extent(src, pos, &len, &data, error)) {
            return FALSE;
        }
        len = MIN(len, src->size - pos);
        if (data) {
            gsize n = (gsize)MIN(len, (guint64)VP_STREAM_CHUNK);
            if (!vp_source_read(src, pos, buf, n, error)) {
                return FALSE;
            }
            /* Only data is written: the file is new, so holes already read as
             * zeros and stay sparse. */
            if (pwrite(fd, buf, n, (off_t)pos) != (ssize_t)n) {
                g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                            _("cannot keep a copy of volume '%1$s': %2$s"),
                            name, g_strerror(errno));
                return FALSE;
            }
            len = n;
        }
        pos += len;
    }
    /* The length, for a volume that ends in a hole. */
    if (ftruncate(fd, (off_t)src->size) < 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot keep a copy of volume '%1$s': %2$s"), name,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

GBytes *
vp_virt_volume_read_head(VpVirt *virt, const char *pool, const char *name,
                         gsize length, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool, name, FALSE, error);

    if (vol == NULL) {
        return NULL;
    }
    G_GNUC_UNUSED g_autoptr(GRecMutexLocker) locker =
        g_rec_mutex_locker_new(&virt->stream_lock);
    g_autoptr(virStream) stream = virStreamNew(vp_virt_conn(virt), 0);
    /* A plain (not sparse) download of just LENGTH bytes: the head of an
     * image is where its header, extensions and backing name live, and a
     * hole there simply arrives as zeros. */
    if (stream == NULL ||
        virStorageVolDownload(vol, stream, 0, length, 0) < 0) {
        vp_virt_fail(error, _("cannot start downloading volume '%1$s'"), name);
        return NULL;
    }
    g_autoptr(GByteArray) head = g_byte_array_sized_new((guint)length);
    g_autofree guint8 *buf = g_malloc(VP_STREAM_CHUNK);
    while (head->len < length) {
        int n = virStreamRecv(stream, (char *)buf,
                              MIN(length - head->len, (gsize)VP_STREAM_CHUNK));
        if (n < 0) {
            vp_virt_fail(error, _("cannot download '%1$s'"), name);
            virStreamAbort(stream);
            return NULL;
        }
        if (n == 0) {
            break; /* a volume shorter than LENGTH */
        }
        g_byte_array_append(head, buf, (guint)n);
    }
    /* Finish reads the end of the stream; after a full LENGTH the daemon
     * has nothing more to send, so this does not wait for the volume. */
    if (virStreamFinish(stream) < 0) {
        vp_virt_fail(error, _("cannot download '%1$s'"), name);
        return NULL;
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&head));
}
