/* Steps shared by the workflows: the undo kinds a transaction runs, the pool
 * checks every plan makes, and the create-upload-verify sequence of a volume.
 * Nothing here prints results or picks exit codes. */
#include "workflow.h"

#include <inttypes.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-emit.h"
#include "size.h"
#include "uri.h"

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

/* VpVirtWaitFunc of a run on one host: a step line, from libvirt's event
 * thread (steps may come from any thread). */
static void
vp_workflow_waited(const char *uri, guint seconds, gboolean answered,
                   gpointer data)
{
    const VpRunEnv *run = data;

    if (answered) {
        vp_workflow_step(run, _("waited %2$u s for '%1$s', which answered"), uri,
                         seconds);
    } else {
        vp_workflow_step(run, _("still waiting for '%1$s' after %2$u s"), uri,
                         seconds);
    }
}

VpVirt *
vp_workflow_connect(const VpRunEnv *run, gboolean readonly, GError **error)
{
    gpointer data = (gpointer)run;

    return readonly ? vp_virt_connect_readonly(run->uri, vp_workflow_waited,
                                               data, error)
                    : vp_virt_connect(run->uri, vp_workflow_waited, data, error);
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
    case VP_UNDO_NETWORK_DHCP:
        return vp_virt_network_entry(u->virt, u->name, VP_NET_SECTION_DHCP_HOST,
                                     FALSE, u->xml, error);
    case VP_UNDO_NETWORK_DNS:
        return vp_virt_network_entry(u->virt, u->name, VP_NET_SECTION_DNS_HOST,
                                     FALSE, u->xml, error);
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

/* The shell commands that create POOL where a session daemon keeps its
 * default pool, run on its host: libvirt's own rule for a session's data,
 * evaluated by the far side's shell. */
static char *
vp_session_pool_commands(const char *uri_on_host, const char *pool)
{
    return g_strdup_printf("virsh -c %1$s pool-define-as %2$s dir --target "
                           "\"${XDG_DATA_HOME:-$HOME/.local/share}/libvirt/images\""
                           " && virsh -c %1$s pool-build %2$s"
                           " && virsh -c %1$s pool-start %2$s"
                           " && virsh -c %1$s pool-autostart %2$s",
                           uri_on_host, pool);
}

char *
vp_workflow_default_pool_path(VpVirt *virt, const char *pool, GError **error)
{
    const char *uri = vp_virt_uri(virt);

    /* The paths libvirt itself gives the default pool of each daemon. */
    if (!vp_virt_is_session(virt)) {
        return g_strdup("/var/lib/libvirt/images");
    }
    if (!vp_uri_is_remote(uri)) {
        return g_build_filename(g_get_user_data_dir(), "libvirt", "images", NULL);
    }
    /* This machine's $XDG_DATA_HOME means nothing on the far side, and no
     * libvirt call reports that user's home: the user creates the pool. */
    g_autofree char *on_host = vp_uri_on_host(uri);
    g_autofree char *commands = vp_session_pool_commands(on_host, pool);
    g_autofree char *ssh = vp_uri_ssh_command(uri, commands);
    if (ssh != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("storage pool '%1$s' does not exist on '%2$s', a session "
                      "daemon on another machine whose image directory cannot "
                      "be known from here; create the pool there first: %3$s"),
                    pool, uri, ssh);
    } else {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("storage pool '%1$s' does not exist on '%2$s', a session "
                      "daemon on another machine whose image directory cannot "
                      "be known from here; create the pool first, as the "
                      "daemon's user on its host: %3$s"),
                    pool, uri, commands);
    }
    return NULL;
}

gboolean
vp_workflow_create_pool(const VpRunEnv *run, VpVirt *virt, const char *pool,
                        const char *path, VpTransaction *t, GError **error)
{
    g_autofree char *what = g_strdup_printf(_("storage pool '%1$s'"), pool);

    vp_workflow_step(run, _("creating directory pool '%1$s' at '%2$s'"), pool,
                     path);
    if (!vp_virt_pool_create_dir(virt, pool, path, error)) {
        return FALSE;
    }
    vp_workflow_undo(t, what, VP_UNDO_POOL, virt, pool, NULL, NULL);
    return TRUE;
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

/* Whether FOUND holds ADDRESS. */
static gboolean
vp_has_address(const GPtrArray *found, const char *address)
{
    for (guint i = 0; i < found->len; i++) {
        if (g_strcmp0(((const VpAddress *)g_ptr_array_index(found, i))->address,
                      address) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

static void
vp_add_address(GPtrArray *found, const VpAddress *a)
{
    if (vp_has_address(found, a->address)) {
        return;
    }
    VpAddress *copy = g_new0(VpAddress, 1);
    *copy = *a;
    copy->interface = g_strdup(a->interface);
    copy->address = g_strdup(a->address);
    g_ptr_array_add(found, copy);
}

GPtrArray *
vp_workflow_guest_addresses(VpVirt *virt, const char *name,
                            const GPtrArray *reserved, GError **error)
{
    g_autoptr(GPtrArray) found =
        g_ptr_array_new_with_free_func((GDestroyNotify)vp_address_free);
    /* A network without leases (a bridge, user mode) is no failure: the
     * agent is asked next. */
    g_autoptr(GPtrArray) leases = vp_virt_domain_lease_addresses(virt, name, NULL);

    for (guint i = 0; reserved != NULL && i < reserved->len; i++) {
        vp_add_address(found, g_ptr_array_index(reserved, i));
    }
    for (guint i = 0; leases != NULL && i < leases->len; i++) {
        vp_add_address(found, g_ptr_array_index(leases, i));
    }
    if (found->len > 0) {
        return g_steal_pointer(&found);
    }
    return vp_virt_domain_addresses(virt, name, error);
}
