#include "virt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domain-xml.h"
#include "error.h"
#include "interrupt.h"
#include "source.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virStoragePool, virStoragePoolFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virStorageVol, virStorageVolFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virNetwork, virNetworkFree)

/* One stream message carries at most 262120 bytes of payload
 * (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX); fewer, fuller messages mean fewer
 * round trips. */
#define VP_STREAM_CHUNK (256 * 1024 - 4096)

struct VpVirt {
    virConnectPtr conn;
    char *uri;        /* as asked for (may be NULL: default) */
    char *actual_uri; /* as connected */
};

/* libvirt prints every error on stderr unless told otherwise; the tool
 * reports errors itself, once. */
static void
vp_virt_silent(void *opaque, virErrorPtr err)
{
}

/* The last libvirt error as text, for messages: one line, as every error of
 * the tool (libvirt passes on multi-line messages of helpers). */
static const char *
vp_virt_reason(void)
{
    static char *reason;
    const char *msg = virGetLastErrorMessage();

    g_free(reason);
    reason = g_strdup(msg != NULL ? msg : _("unknown libvirt error"));
    g_strdelimit(g_strstrip(reason), "\r\n", ' ');
    return reason;
}

static int
vp_virt_code(void)
{
    virErrorPtr err = virGetLastError();
    return err != NULL ? err->code : VIR_ERR_OK;
}

static gboolean G_GNUC_PRINTF(2, 3)
vp_virt_fail(GError **error, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *what = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED, "%s: %s", what,
                vp_virt_reason());
    return FALSE;
}

static virConnectPtr
vp_virt_open(const char *uri)
{
    return virConnectOpenAuth(uri, virConnectAuthPtrDefault, 0);
}

VpVirt *
vp_virt_connect(const char *uri, GError **error)
{
    static gsize initialised;

    if (g_once_init_enter(&initialised)) {
        virInitialize();
        virSetErrorFunc(NULL, vp_virt_silent);
        g_once_init_leave(&initialised, 1);
    }
    if (uri == NULL) {
        uri = g_getenv("LIBVIRT_DEFAULT_URI");
    }
    virConnectPtr conn = vp_virt_open(uri);
    if (conn == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot connect to libvirt at '%1$s': %2$s; start a "
                      "daemon (libvirtd -d as root) or choose another with "
                      "-c URI, such as -c qemu:///session"),
                    uri != NULL ? uri : _("the default URI"), vp_virt_reason());
        return NULL;
    }
    VpVirt *virt = g_new0(VpVirt, 1);
    virt->conn = conn;
    virt->uri = g_strdup(uri);
    char *actual = virConnectGetURI(conn);
    virt->actual_uri = g_strdup(actual != NULL ? actual : uri);
    free(actual);
    return virt;
}

void
vp_virt_free(VpVirt *virt)
{
    if (virt == NULL) {
        return;
    }
    if (virt->conn != NULL) {
        virConnectClose(virt->conn);
    }
    g_free(virt->uri);
    g_free(virt->actual_uri);
    g_free(virt);
}

const char *
vp_virt_uri(VpVirt *virt)
{
    return virt->actual_uri;
}

gboolean
vp_virt_is_session(VpVirt *virt)
{
    return virt->actual_uri != NULL && strstr(virt->actual_uri, "/session") != NULL;
}

gboolean
vp_virt_ensure_alive(VpVirt *virt, guint timeout_ms, GError **error)
{
    if (virConnectIsAlive(virt->conn) == 1) {
        return TRUE;
    }
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    do {
        virConnectPtr conn = vp_virt_open(virt->uri);
        if (conn != NULL) {
            virConnectClose(virt->conn);
            virt->conn = conn;
            return TRUE;
        }
        g_usleep(200 * 1000);
    } while (g_get_monotonic_time() < deadline);
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                _("lost the connection to '%1$s' and could not reconnect"),
                virt->actual_uri);
    return FALSE;
}

/* ---- pools ------------------------------------------------------------ */

void
vp_pool_info_clear(VpPoolInfo *info)
{
    g_free(info->type);
    g_free(info->path);
    *info = (VpPoolInfo){ 0 };
}

static virStoragePoolPtr
vp_virt_pool(VpVirt *virt, const char *name, GError **error)
{
    virStoragePoolPtr pool = virStoragePoolLookupByName(virt->conn, name);
    if (pool == NULL) {
        if (vp_virt_code() == VIR_ERR_NO_STORAGE_POOL) {
            g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                        _("storage pool '%1$s' does not exist; list pools "
                          "with virsh pool-list --all"), name);
            return NULL;
        }
        vp_virt_fail(error, _("cannot look up storage pool '%1$s'"), name);
    }
    return pool;
}

gboolean
vp_virt_pool_info(VpVirt *virt, const char *name, VpPoolInfo *info,
                  GError **error)
{
    *info = (VpPoolInfo){ 0 };
    g_autoptr(virStoragePool) pool = virStoragePoolLookupByName(virt->conn, name);
    if (pool == NULL) {
        if (vp_virt_code() == VIR_ERR_NO_STORAGE_POOL) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up storage pool '%1$s'"), name);
    }
    info->exists = TRUE;
    info->active = virStoragePoolIsActive(pool) == 1;
    char *xml = virStoragePoolGetXMLDesc(pool, 0);
    if (xml == NULL) {
        return vp_virt_fail(error, _("cannot read storage pool '%1$s'"), name);
    }
    gboolean ok = vp_pool_xml_parse(xml, &info->type, &info->path, error);
    free(xml);
    virStoragePoolInfo pinfo;
    if (ok && info->active && virStoragePoolGetInfo(pool, &pinfo) == 0) {
        info->available = pinfo.available;
    }
    return ok;
}

gboolean
vp_virt_pool_create_dir(VpVirt *virt, const char *name, const char *path,
                        GError **error)
{
    g_autofree char *xml = vp_pool_dir_xml_build(name, path);
    g_autoptr(virStoragePool) pool = virStoragePoolDefineXML(virt->conn, xml, 0);

    if (pool == NULL) {
        return vp_virt_fail(error, _("cannot define storage pool '%1$s'"), name);
    }
    if (virStoragePoolBuild(pool, 0) < 0 || virStoragePoolCreate(pool, 0) < 0 ||
        virStoragePoolSetAutostart(pool, 1) < 0) {
        vp_virt_fail(error, _("cannot start storage pool '%1$s' at '%2$s'"),
                     name, path);
        virStoragePoolDestroy(pool);
        virStoragePoolUndefine(pool);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_virt_pool_remove(VpVirt *virt, const char *name, GError **error)
{
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, name, error);

    if (pool == NULL) {
        return FALSE;
    }
    if (virStoragePoolIsActive(pool) == 1 && virStoragePoolDestroy(pool) < 0) {
        return vp_virt_fail(error, _("cannot stop storage pool '%1$s'"), name);
    }
    if (virStoragePoolUndefine(pool) < 0) {
        return vp_virt_fail(error, _("cannot undefine storage pool '%1$s'"), name);
    }
    return TRUE;
}

/* ---- volumes ---------------------------------------------------------- */

void
vp_volume_info_clear(VpVolumeInfo *info)
{
    g_free(info->path);
    g_free(info->format);
    *info = (VpVolumeInfo){ 0 };
}

static virStorageVolPtr
vp_virt_volume(VpVirt *virt, const char *pool_name, const char *name,
               gboolean refresh, GError **error)
{
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, pool_name, error);

    if (pool == NULL) {
        return NULL;
    }
    /* Files may have appeared in the pool behind libvirt's back. */
    if (refresh && virStoragePoolRefresh(pool, 0) < 0) {
        vp_virt_fail(error, _("cannot refresh storage pool '%1$s'"), pool_name);
        return NULL;
    }
    virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
    if (vol == NULL) {
        vp_virt_fail(error, _("cannot find volume '%1$s' in pool '%2$s'"), name,
                     pool_name);
    }
    return vol;
}

gboolean
vp_virt_volume_exists(VpVirt *virt, const char *pool_name, const char *name,
                      gboolean *exists, GError **error)
{
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, pool_name, error);

    if (pool == NULL) {
        return FALSE;
    }
    /* No pool refresh: it probes every image in the pool, which costs a
     * CI lab's big pools dearly.  A file libvirt does not know yet makes the
     * volume creation fail instead, before anything is written. */
    g_autoptr(virStorageVol) vol = virStorageVolLookupByName(pool, name);
    if (vol == NULL && vp_virt_code() != VIR_ERR_NO_STORAGE_VOL) {
        return vp_virt_fail(error, _("cannot look up volume '%1$s'"), name);
    }
    *exists = vol != NULL;
    return TRUE;
}

char *
vp_virt_volume_create(VpVirt *virt, const char *pool_name, const char *name,
                      guint64 capacity, GError **error)
{
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, pool_name, error);
    g_autofree char *xml = vp_volume_xml_build(name, capacity);

    if (pool == NULL) {
        return NULL;
    }
    g_autoptr(virStorageVol) vol = virStorageVolCreateXML(pool, xml, 0);
    if (vol == NULL) {
        vp_virt_fail(error, _("cannot create volume '%1$s' in pool '%2$s'"),
                     name, pool_name);
        return NULL;
    }
    char *path = virStorageVolGetPath(vol);
    char *result = g_strdup(path);
    free(path);
    return result;
}

gboolean
vp_virt_volume_delete(VpVirt *virt, const char *pool_name, const char *name,
                      GError **error)
{
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool_name, name, FALSE,
                                                  error);

    if (vol == NULL) {
        return FALSE;
    }
    if (virStorageVolDelete(vol, 0) < 0) {
        return vp_virt_fail(error, _("cannot delete volume '%1$s'"), name);
    }
    return TRUE;
}

gboolean
vp_virt_volume_info(VpVirt *virt, const char *pool_name, const char *name,
                    gboolean refresh, VpVolumeInfo *info, GError **error)
{
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool_name, name, refresh,
                                                  error);
    virStorageVolInfo vinfo;

    *info = (VpVolumeInfo){ 0 };
    if (vol == NULL) {
        return FALSE;
    }
    if (virStorageVolGetInfoFlags(vol, &vinfo, VIR_STORAGE_VOL_GET_PHYSICAL) < 0) {
        return vp_virt_fail(error, _("cannot read volume '%1$s'"), name);
    }
    info->capacity = vinfo.capacity;
    info->physical = vinfo.allocation; /* with GET_PHYSICAL: the file length */
    if (virStorageVolGetInfo(vol, &vinfo) == 0) {
        info->allocation = vinfo.allocation;
    }
    char *xml = virStorageVolGetXMLDesc(vol, 0);
    if (xml == NULL) {
        return vp_virt_fail(error, _("cannot read volume '%1$s'"), name);
    }
    gboolean ok = vp_volume_xml_parse(xml, &info->path, &info->format, error);
    free(xml);
    return ok;
}

/* ---- upload stream sink ----------------------------------------------- */

typedef struct {
    VpSink parent;
    virStreamPtr stream;
    char *name;
    gboolean write_holes;
    gboolean finished;
    guint8 *zeros; /* VP_STREAM_CHUNK bytes */
} VpUploadSink;

static gboolean
vp_upload_send(VpUploadSink *s, const guint8 *buf, gsize len, GError **error)
{
    while (len > 0) {
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

static gboolean
vp_upload_zero(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    VpUploadSink *s = (VpUploadSink *)sink;

    if (s->zeros == NULL) {
        s->zeros = g_malloc0(VP_STREAM_CHUNK);
    }
    while (len > 0) {
        gsize n = (gsize)MIN(len, (guint64)VP_STREAM_CHUNK);
        if (!vp_interrupt_check(error) || !vp_upload_send(s, s->zeros, n, error)) {
            return FALSE;
        }
        len -= n;
    }
    return TRUE;
}

static gboolean
vp_upload_hole(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    VpUploadSink *s = (VpUploadSink *)sink;

    if (s->write_holes) {
        return vp_upload_zero(sink, offset, len, error);
    }
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
        if (!s->finished) {
            virStreamAbort(s->stream);
        }
        virStreamFree(s->stream);
    }
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
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool_name, name, FALSE,
                                                  error);

    if (vol == NULL) {
        return NULL;
    }
    VpUploadSink *s = g_new0(VpUploadSink, 1);
    g_autoptr(VpSink) sink = &s->parent;
    s->parent.ops = &vp_upload_ops;
    s->name = g_strdup(name);
    s->write_holes = write_holes;
    s->stream = virStreamNew(virt->conn, 0);
    if (s->stream == NULL ||
        virStorageVolUpload(vol, s->stream, 0, 0,
                            write_holes ? 0 : VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0) {
        vp_virt_fail(error, _("cannot start the upload into volume '%1$s'"), name);
        s->finished = TRUE; /* nothing to abort */
        return NULL;
    }
    return g_steal_pointer(&sink);
}

gboolean
vp_virt_is_local(VpVirt *virt)
{
    /* Reads everything through libvirt as on a remote host: for checking
     * the stream paths, and for hosts whose files are not readable here. */
    if (g_getenv("VIRT_PROVISION_STREAMS_ONLY") != NULL) {
        return FALSE;
    }
    g_autoptr(GUri) uri = g_uri_parse(virt->actual_uri, G_URI_FLAGS_NONE, NULL);
    const char *host = uri != NULL ? g_uri_get_host(uri) : NULL;
    return uri != NULL && (host == NULL || host[0] == '\0');
}

void
vp_volume_ref_clear(VpVolumeRef *ref)
{
    g_free(ref->pool);
    g_free(ref->name);
    g_free(ref->path);
    g_free(ref->format);
    *ref = (VpVolumeRef){ 0 };
}

static gboolean
vp_virt_fill_ref(virStorageVolPtr vol, VpVolumeRef *ref, GError **error)
{
    g_autoptr(virStoragePool) pool = virStoragePoolLookupByVolume(vol);
    virStorageVolInfo info;
    char *xml = virStorageVolGetXMLDesc(vol, 0);

    if (pool == NULL || xml == NULL || virStorageVolGetInfo(vol, &info) < 0) {
        free(xml);
        return vp_virt_fail(error, _("cannot read volume '%1$s'"),
                            virStorageVolGetName(vol));
    }
    ref->pool = g_strdup(virStoragePoolGetName(pool));
    ref->name = g_strdup(virStorageVolGetName(vol));
    ref->capacity = info.capacity;
    ref->physical = info.allocation;
    if (virStorageVolGetInfoFlags(vol, &info, VIR_STORAGE_VOL_GET_PHYSICAL) == 0) {
        ref->physical = info.allocation;
    }
    gboolean ok = vp_volume_xml_parse(xml, &ref->path, &ref->format, error);
    free(xml);
    return ok;
}

gboolean
vp_virt_volume_by_path(VpVirt *virt, const char *path, VpVolumeRef *ref,
                       gboolean *found, GError **error)
{
    g_autoptr(virStorageVol) vol = virStorageVolLookupByPath(virt->conn, path);

    *ref = (VpVolumeRef){ 0 };
    *found = vol != NULL;
    if (vol == NULL) {
        if (vp_virt_code() == VIR_ERR_NO_STORAGE_VOL) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up the volume at '%1$s'"), path);
    }
    return vp_virt_fill_ref(vol, ref, error);
}

gboolean
vp_virt_volume_by_name(VpVirt *virt, const char *pool, const char *name,
                       VpVolumeRef *ref, GError **error)
{
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool, name, TRUE, error);

    *ref = (VpVolumeRef){ 0 };
    return vol != NULL && vp_virt_fill_ref(vol, ref, error);
}

/* ---- download stream source ------------------------------------------- */

typedef struct {
    VpSource parent;
    virStreamPtr stream;
    gboolean finished;
    guint64 pos;        /* guest offset of buf[0] / of the pending hole */
    guint8 *buf;        /* data received and not yet read */
    gsize buf_len;
    gsize buf_used;     /* consumed part of buf */
    guint64 hole;       /* pending hole bytes */
    gboolean eof;
} VpDownloadSource;

static gboolean
vp_download_fill(VpDownloadSource *d, GError **error)
{
    if (d->buf_used < d->buf_len || d->hole > 0 || d->eof) {
        return TRUE;
    }
    int n = virStreamRecvFlags(d->stream, (char *)d->buf, VP_STREAM_CHUNK,
                               VIR_STREAM_RECV_STOP_AT_HOLE);
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
        if (d->eof) {
            virStreamFinish(d->stream);
        } else {
            virStreamAbort(d->stream);
        }
        virStreamFree(d->stream);
    }
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
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool, name, FALSE, error);

    if (vol == NULL) {
        return NULL;
    }
    VpDownloadSource *d = g_new0(VpDownloadSource, 1);
    g_autoptr(VpSource) src = &d->parent;
    d->parent.ops = &vp_download_ops;
    d->parent.size = size;
    d->parent.format = g_strdup("raw");
    d->parent.name = g_strdup(name);
    d->buf = g_malloc(VP_STREAM_CHUNK);
    d->stream = virStreamNew(virt->conn, 0);
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
                        int fd, GError **error)
{
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
        if (!vp_interrupt_check(error) ||
            !vp_source_extent(src, pos, &len, &data, error)) {
            return FALSE;
        }
        len = MIN(len, src->size - pos);
        if (data) {
            gsize n = (gsize)MIN(len, (guint64)VP_STREAM_CHUNK);
            if (!vp_source_read(src, pos, buf, n, error)) {
                return FALSE;
            }
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
    if (ftruncate(fd, (off_t)src->size) < 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot keep a copy of volume '%1$s': %2$s"), name,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* ---- domains ---------------------------------------------------------- */

static virDomainPtr
vp_virt_domain(VpVirt *virt, const char *name, GError **error)
{
    virDomainPtr dom = virDomainLookupByName(virt->conn, name);
    if (dom == NULL) {
        vp_virt_fail(error, _("cannot find domain '%1$s'"), name);
    }
    return dom;
}

gboolean
vp_virt_domain_exists(VpVirt *virt, const char *name, gboolean *exists,
                      GError **error)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(virt->conn, name);

    if (dom == NULL && vp_virt_code() != VIR_ERR_NO_DOMAIN) {
        return vp_virt_fail(error, _("cannot look up domain '%1$s'"), name);
    }
    *exists = dom != NULL;
    return TRUE;
}

char *
vp_virt_domain_xml(VpVirt *virt, const char *name, gboolean inactive,
                   GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return NULL;
    }
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE |
                                         (inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
    if (xml == NULL) {
        vp_virt_fail(error, _("cannot read the definition of domain '%1$s'"),
                     name);
        return NULL;
    }
    char *result = g_strdup(xml);
    free(xml);
    return result;
}

gboolean
vp_virt_domain_is_active(VpVirt *virt, const char *name, gboolean *active,
                         GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    int state = virDomainIsActive(dom);
    if (state < 0) {
        return vp_virt_fail(error, _("cannot tell whether domain '%1$s' runs"),
                            name);
    }
    *active = state == 1;
    return TRUE;
}

gboolean
vp_virt_domain_redefine(VpVirt *virt, const char *xml, GError **error)
{
    g_autoptr(virDomain) dom = virDomainDefineXMLFlags(virt->conn, xml,
                                                       VIR_DOMAIN_DEFINE_VALIDATE);
    if (dom == NULL) {
        return vp_virt_fail(error, _("libvirt refused the new domain definition"));
    }
    return TRUE;
}

gboolean
vp_virt_domain_attach_live(VpVirt *virt, const char *name,
                           const char *device_xml, GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    if (virDomainAttachDeviceFlags(dom, device_xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        return vp_virt_fail(error, _("cannot hot-plug the disk into domain '%1$s'"),
                            name);
    }
    return TRUE;
}

gboolean
vp_virt_domain_detach_live(VpVirt *virt, const char *name,
                           const char *device_xml, GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    if (virDomainDetachDeviceFlags(dom, device_xml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        return vp_virt_fail(error, _("cannot unplug the disk from domain '%1$s'"),
                            name);
    }
    return TRUE;
}

char *
vp_virt_domain_define(VpVirt *virt, const char *xml, GError **error)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    /* No schema validation (VIR_DOMAIN_DEFINE_VALIDATE) for XML this tool
     * generated: it is checked against libvirt's schema by the test suite,
     * libvirt still parses and checks it, and the RNG pass would cost more
     * than the rest of the define (10-15 ms here). */
    g_autoptr(virDomain) dom = virDomainDefineXML(virt->conn, xml);

    if (dom == NULL) {
        vp_virt_fail(error, _("libvirt refused the domain definition"));
        return NULL;
    }
    if (virDomainGetUUIDString(dom, uuid) < 0) {
        vp_virt_fail(error, _("cannot read the new domain's UUID"));
        return NULL;
    }
    return g_strdup(uuid);
}

gboolean
vp_virt_domain_undefine(VpVirt *virt, const char *name, GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                    VIR_DOMAIN_UNDEFINE_NVRAM) < 0) {
        return vp_virt_fail(error, _("cannot undefine domain '%1$s'"), name);
    }
    return TRUE;
}

gboolean
vp_virt_domain_start(VpVirt *virt, const char *name, GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    if (virDomainCreate(dom) < 0) {
        return vp_virt_fail(error, _("cannot start domain '%1$s'"), name);
    }
    return TRUE;
}

gboolean
vp_virt_domain_destroy(VpVirt *virt, const char *name, GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
        return vp_virt_fail(error, _("cannot stop domain '%1$s'"), name);
    }
    return TRUE;
}

gboolean
vp_virt_domain_set_autostart(VpVirt *virt, const char *name,
                             gboolean autostart, GError **error)
{
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    if (virDomainSetAutostart(dom, autostart ? 1 : 0) < 0) {
        return vp_virt_fail(error, _("cannot set autostart of domain '%1$s'"),
                            name);
    }
    return TRUE;
}

char *
vp_virt_domain_caps(VpVirt *virt, const char *virt_type, const char *arch,
                    const char *machine, GError **error)
{
    char *xml = virConnectGetDomainCapabilities(virt->conn, NULL, arch,
                                                machine, virt_type, 0);
    if (xml == NULL) {
        vp_virt_fail(error, _("the host offers no '%1$s' guests of machine "
                              "type '%2$s'"),
                     virt_type != NULL ? virt_type : "default",
                     machine != NULL ? machine : "default");
        return NULL;
    }
    char *result = g_strdup(xml);
    free(xml);
    return result;
}

gboolean
vp_virt_network_state(VpVirt *virt, const char *name, gboolean *exists,
                      gboolean *active, GError **error)
{
    g_autoptr(virNetwork) net = virNetworkLookupByName(virt->conn, name);

    *exists = FALSE;
    *active = FALSE;
    if (net == NULL) {
        int code = vp_virt_code();
        /* A driver without networks (some remote setups) means no network. */
        if (code == VIR_ERR_NO_NETWORK || code == VIR_ERR_NO_SUPPORT) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up network '%1$s'"), name);
    }
    *exists = TRUE;
    *active = virNetworkIsActive(net) == 1;
    return TRUE;
}
