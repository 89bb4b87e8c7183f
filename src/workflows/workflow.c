/* Steps shared by the workflows: the undo kinds a transaction runs, the pool
 * checks every plan makes, and the create-upload-verify sequence of a volume.
 * Nothing here prints results or picks exit codes. */
#include "workflow.h"

#include <inttypes.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-emit.h"
#include "size.h"

void
vp_workflow_step(const VpRunEnv *run, const char *format, ...)
{
    /* Not even formatted when nobody listens, which is the usual case. */
    if (run->step == NULL) {
        return;
    }
    va_list ap;
    va_start(ap, format);
    g_autofree char *text = g_strdup_vprintf(format, ap);
    va_end(ap);
    /* The front end decides how a step reaches the user (the command line
     * writes a line on stderr when asked to); a workflow never prints. */
    run->step(text, run->data);
}

/* What an undo step needs: the connection (borrowed: it outlives the
 * transaction) and copies of the names, which the caller's plan may not
 * outlive. */
typedef struct {
    VpUndoKind kind;
    VpVirt *virt;
    char *pool;
    char *name;
    char *xml;
} VpUndoData;

static void
vp_undo_data_free(gpointer data)
{
    VpUndoData *u = data;
    g_free(u->pool);
    g_free(u->name);
    g_free(u->xml);
    g_free(u);
}

/* Every undo first makes sure the daemon answers: the failure being
 * undone may well be that it went away (killed, restarted), and what was
 * created must still be removed once it is back. */
static gboolean
vp_undo_run(gpointer data, GError **error)
{
    VpUndoData *u = data;

    if (!vp_virt_ensure_alive(u->virt, VP_RECONNECT_MS, error)) {
        return FALSE;
    }
    switch (u->kind) {
    case VP_UNDO_VOLUME:
        return vp_virt_volume_delete(u->virt, u->pool, u->name, error);
    case VP_UNDO_POOL:
        return vp_virt_pool_remove(u->virt, u->pool, error);
    case VP_UNDO_UNDEFINE:
        return vp_virt_domain_undefine(u->virt, u->name, error);
    case VP_UNDO_DESTROY:
        return vp_virt_domain_destroy(u->virt, u->name, error);
    case VP_UNDO_REDEFINE:
        return vp_virt_domain_redefine(u->virt, u->xml, error);
    case VP_UNDO_DETACH:
        return vp_virt_domain_detach_live(u->virt, u->name, u->xml, error);
    }
    g_assert_not_reached();
}

/* The undo is registered by the caller right after the step succeeded, not
 * before: an undo for something never created would fail, and would then name
 * it to the user among the things left behind. */
void
vp_workflow_undo(VpTransaction *t, const char *what, VpUndoKind kind,
                 VpVirt *virt, const char *pool, const char *name,
                 const char *xml)
{
    VpUndoData *u = g_new0(VpUndoData, 1);

    u->kind = kind;
    u->virt = virt;
    u->pool = g_strdup(pool);
    u->name = g_strdup(name);
    u->xml = g_strdup(xml);
    vp_transaction_push(t, what, vp_undo_run, u, vp_undo_data_free);
}

gboolean
vp_workflow_pool_kind(const VpRunEnv *run, const char *pool, const char *type,
                      VpImageFormat format, gboolean *block, GError **error)
{
    /* Pools whose volumes are files, which can hold a sparse qcow2 of any
     * layout.  A logical volume, and any other pool's volume when the image is
     * raw, is a block device: a fixed size and stale contents. */
    static const char *const file_types[] = { "dir", "fs", "netfs", "gluster" };

    for (gsize i = 0; i < G_N_ELEMENTS(file_types); i++) {
        if (g_strcmp0(type, file_types[i]) == 0) {
            *block = FALSE;
            return TRUE;
        }
    }
    if (g_strcmp0(type, "logical") == 0 || format == VP_FORMAT_RAW) {
        *block = TRUE;
        return TRUE;
    }
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("pool '%1$s' is of type '%2$s', which cannot hold a qcow2 "
                  "image; use %3$s raw or a dir, fs, netfs or logical pool"),
                pool, type != NULL ? type : "?",
                vp_run_option(run, VP_OPTION_ERROR_FORMAT));
    return FALSE;
}

gboolean
vp_workflow_active_pool(const VpRunEnv *run, VpVirt *virt, const char *pool,
                        VpImageFormat format, VpPoolInfo *info, gboolean *block,
                        GError **error)
{
    if (!vp_virt_pool_info(virt, pool, info, error)) {
        return FALSE;
    }
    /* Both are refused rather than fixed: creating or starting a pool the user
     * named is a change to the host nobody asked for. */
    if (!info->exists) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("storage pool '%1$s' does not exist on '%2$s'; list pools "
                      "with virsh pool-list --all"), pool, vp_virt_uri(virt));
        return FALSE;
    }
    if (!info->active) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("storage pool '%1$s' is not active; start it with virsh "
                      "pool-start %1$s"), pool);
        return FALSE;
    }
    return vp_workflow_pool_kind(run, pool, info->type, format, block, error);
}

gboolean
vp_workflow_check_space(const VpRunEnv *run, const char *pool,
                        const VpPoolInfo *info, const VpQcow2Layout *layout,
                        gboolean block, GError **error)
{
    VpPreallocation mode = layout->opts.preallocation;

    /* A sparse image takes little more than its metadata, and a block
     * volume is sized by libvirt, which refuses on its own before creating
     * anything. */
    if (block || !info->available_known ||
        (mode != VP_PREALLOC_FALLOC && mode != VP_PREALLOC_FULL) ||
        layout->file_length <= info->available) {
        return TRUE;
    }
    g_autofree char *free_text = vp_size_format(info->available);
    g_autofree char *need_text = vp_size_format(layout->file_length);
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                _("storage pool '%1$s' has %2$s free, but a %3$s image needs "
                  "%4$s (%5$" PRIu64 " bytes); free space in the pool or use "
                  "%6$s metadata"),
                pool, free_text, vp_preallocation_to_string(mode), need_text,
                layout->file_length,
                vp_run_option(run, VP_OPTION_ERROR_PREALLOCATION));
    return FALSE;
}

void
vp_workflow_block_image(VpImageOptions *opts)
{
    if (opts->format != VP_FORMAT_QCOW2 ||
        opts->preallocation != VP_PREALLOC_METADATA) {
        return;
    }
    if (opts->version >= 3) {
        opts->zero_flag = TRUE;
    } else {
        opts->preallocation = VP_PREALLOC_FULL;
    }
}

/* The emitter behind the VpVolumeFill interface, so that an upload of a
 * generated image and one of an imported file share the same steps. */
/* What vp_workflow_write_volume fills its volume with: its layout's image. */
typedef struct {
    const VpQcow2Layout *layout;
    VpSource *src;
} VpEmitFill;

static gboolean
vp_emit_fill(VpSink *sink, gpointer data, const VpCancel *cancel,
             GError **error)
{
    VpEmitFill *f = data;
    return vp_image_emit_from(f->layout, sink, f->src, cancel, error);
}

gboolean
vp_workflow_write_volume(const VpRunEnv *run, VpVirt *virt, const char *pool,
                         const char *name, const VpQcow2Layout *layout,
                         gboolean block, VpSource *src, VpTransaction *t,
                         VpVolumeInfo *info, GError **error)
{
    VpVolumeExpect expect = {
        .format = layout->opts.format,
        .capacity = layout->virtual_size,
        .length = layout->file_length,
    };
    VpEmitFill fill = { layout, src };

    return vp_workflow_upload_volume(run, virt, pool, name, &expect, block,
                                     vp_emit_fill, &fill, t, info, error);
}

gboolean
vp_workflow_upload_volume(const VpRunEnv *run, VpVirt *virt, const char *pool,
                          const char *name, const VpVolumeExpect *expect,
                          gboolean block, VpVolumeFill fill, gpointer fill_data,
                          VpTransaction *t, VpVolumeInfo *info, GError **error)
{
    /* A file grows with the upload; a block device must be big enough for
     * the whole image from the start. */
    guint64 capacity = block ? expect->length : 0;
    g_autofree char *what = g_strdup_printf(_("volume '%1$s' in pool '%2$s'"),
                                            name, pool);

    /* Cleared first so that an early failure leaves nothing for the caller to
     * free twice. */
    *info = (VpVolumeInfo){ 0 };
    vp_workflow_step(run, _("creating volume '%1$s' in pool '%2$s'"), name,
                     pool);
    gboolean created = FALSE;
    g_autofree char *path = vp_virt_volume_create(virt, pool, name, capacity,
                                                  &created, error);
    /* Registered as soon as the volume exists, before a byte is sent: an
     * upload that fails or is interrupted halfway must not leave a half-made
     * volume behind. */
    if (created) {
        vp_workflow_undo(t, what, VP_UNDO_VOLUME, virt, pool, name, NULL);
    }
    if (path == NULL) {
        return FALSE;
    }

    vp_workflow_step(run, _("uploading the %1$" PRIu64 "-byte "
                                "image (sparse)"), expect->length);
    g_autoptr(VpSink) sink = vp_virt_upload_sink_new(virt, pool, name, block,
                                                     error);
    sink = vp_progress_sink_new(sink, expect->length, run->progress);
    /* fill commits the sink when everything was sent; on failure the sink is
     * freed uncommitted, which aborts the stream. */
    if (sink == NULL || !fill(sink, fill_data, run->cancel, error)) {
        return FALSE;
    }
    /* Committed: the stream is closed now, not when this function returns.
     * An open stream holds the connection's stream lock, and the queries
     * below are round trips: held over them, the lock kept every other
     * guest's upload on this connection waiting and the link idle (issue
     * 16: 0.22 s of each 0.6 s per guest at a 40 ms round trip). */
    g_clear_pointer(&sink, vp_sink_free);
    const char *want = vp_image_format_to_string(expect->format);
    /* libvirt refreshes a volume once an upload ends and probes the header;
     * only when it has not got round to it yet is the pool refreshed. */
    for (int attempt = 0; attempt < 2; attempt++) {
        vp_volume_info_clear(info);
        if (!vp_virt_volume_info(virt, pool, name, attempt > 0, info, error)) {
            return FALSE;
        }
        if (block || (g_strcmp0(info->format, want) == 0 &&
                      info->capacity == expect->capacity &&
                      info->physical == expect->length)) {
            break;
        }
    }
    /* Anything else means the bytes did not arrive as written, such as a
     * file system that cannot hold a file this long. */
    if (!block && (g_strcmp0(info->format, want) != 0 ||
                   info->capacity != expect->capacity)) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("libvirt reports volume '%1$s' as %2$s of %3$"
                      PRIu64 " bytes after the upload, not %4$s of "
                      "%5$" PRIu64 " bytes"),
                    name, info->format != NULL ? info->format : "?",
                    info->capacity, want, expect->capacity);
        return FALSE;
    }
    if (!block && info->physical != expect->length) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("only %1$" PRIu64 " of the %2$" PRIu64
                      " bytes of volume '%3$s' arrived; the pool's file system "
                      "may not take files this long (ext4 stops at 16 TiB)"),
                    info->physical, expect->length, name);
        return FALSE;
    }
    /* libvirt may report no format (a logical volume has none); the report
     * then says what was written. */
    if (info->format == NULL) {
        info->format = g_strdup(want);
    }
    return TRUE;
}

gboolean
vp_workflow_upload_bytes(const VpRunEnv *run, VpVirt *virt, const char *pool,
                         const char *name, GBytes *bytes, VpTransaction *t,
                         char **path, GError **error)
{
    gsize len;
    const guint8 *data = g_bytes_get_data(bytes, &len);
    g_autofree char *what = g_strdup_printf(_("volume '%1$s' in pool '%2$s'"),
                                            name, pool);

    vp_workflow_step(run, _("creating volume '%1$s' in pool '%2$s'"), name,
                     pool);
    gboolean created = FALSE;
    *path = vp_virt_volume_create(virt, pool, name, 0, &created, error);
    if (created) {
        vp_workflow_undo(t, what, VP_UNDO_VOLUME, virt, pool, name, NULL);
    }
    if (*path == NULL) {
        return FALSE;
    }
    /* Small (a seed is kilobytes): one write, no progress, no holes. */
    g_autoptr(VpSink) sink = vp_virt_upload_sink_new(virt, pool, name, FALSE,
                                                     error);
    return sink != NULL && vp_sink_write(sink, 0, data, len, error) &&
           vp_sink_commit(sink, len, error);
}

gboolean
/* Checked during planning, before anything is created: replacing a volume is
 * never done without the user deleting it first. */
vp_workflow_volume_free(const VpRunEnv *run, VpVirt *virt, const char *pool,
                        const char *name, GError **error)
{
    gboolean exists = FALSE;

    if (!vp_virt_volume_exists(virt, pool, name, &exists, error)) {
        return FALSE;
    }
    if (exists) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("volume '%1$s' already exists in pool '%2$s'; choose "
                      "another %3$s, or delete it with virsh vol-delete "
                      "--pool %2$s %1$s"), name, pool,
                    vp_run_option(run, VP_OPTION_ERROR_NAME));
        return FALSE;
    }
    return TRUE;
}

void
vp_workflow_add_undo_error(GError **error, const GError *undo_error)
{
    if (error == NULL || *error == NULL) {
        return;
    }
    /* TRANSLATORS: what failed, then what could not be undone after it. */
    g_autofree char *text = g_strdup_printf(_("%1$s; and then %2$s"),
                                            (*error)->message,
                                            undo_error->message);
    g_free((*error)->message);
    (*error)->message = g_steal_pointer(&text);
}
