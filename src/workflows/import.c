/* import: an existing image file into a pool as a new volume, either byte for
 * byte (sparse) or, with --preallocate, rewritten as a preallocated qcow2
 * holding the same guest data.  The file is examined in full before the
 * connection is made; the volume is the only thing created (with the pool
 * "default" when that is missing, as provision does), and the transaction
 * deletes it again if the upload fails. */
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-emit.h"
#include "qcow2-reader.h"
#include "size.h"
#include "source.h"
#include "transaction.h"
#include "virt.h"
#include "workflow.h"

void
vp_import_result_clear(VpImportResult *r)
{
    g_free(r->uri);
    g_free(r->path);
    g_free(r->source_format);
    g_free(r->pool);
    g_free(r->volume);
    g_free(r->volume_path);
    g_free(r->format);
    *r = (VpImportResult){ 0 };
}

/* ---- counting what the stream carries --------------------------------- */

/* A sink in front of the upload that counts the data bytes handed on, for
 * the "bytes sent" of the summary.  It borrows INNER. */
typedef struct {
    VpSink parent;
    VpSink *inner;
    guint64 sent;
} VpCountSink;

static gboolean
vp_count_write(VpSink *sink, guint64 offset, const guint8 *buf, gsize len,
               GError **error)
{
    VpCountSink *c = (VpCountSink *)sink;
    if (!vp_sink_write(c->inner, offset, buf, len, error)) {
        return FALSE;
    }
    c->sent += len;
    return TRUE;
}

static gboolean
/* Holes and allocations carry no bytes over the stream, so they are not
 * counted. */
vp_count_hole(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return vp_sink_hole(((VpCountSink *)sink)->inner, offset, len, error);
}

static gboolean
vp_count_allocate(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return vp_sink_allocate(((VpCountSink *)sink)->inner, offset, len, error);
}

/* Written zeros travel as bytes, unlike holes. */
static gboolean
vp_count_zero(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    VpCountSink *c = (VpCountSink *)sink;
    if (!vp_sink_zero(c->inner, offset, len, error)) {
        return FALSE;
    }
    c->sent += len;
    return TRUE;
}

static gboolean
vp_count_copy(VpSink *sink, guint64 offset, int fd, guint64 fd_offset,
              guint64 len, GError **error)
{
    VpCountSink *c = (VpCountSink *)sink;
    if (!vp_sink_copy(c->inner, offset, fd, fd_offset, len, error)) {
        return FALSE;
    }
    c->sent += len;
    return TRUE;
}

static gboolean
vp_count_skip(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return vp_sink_skip(((VpCountSink *)sink)->inner, offset, len, error);
}

static gboolean
vp_count_commit(VpSink *sink, guint64 length, GError **error)
{
    return vp_sink_commit(((VpCountSink *)sink)->inner, length, error);
}

/* Lives on the caller's stack; the inner sink is not its own. */
static void
vp_count_free(VpSink *sink)
{
    (void)sink;
}

static const VpSinkOps vp_count_ops = {
    .write = vp_count_write,
    .hole = vp_count_hole,
    .allocate = vp_count_allocate,
    .zero = vp_count_zero,
    .copy = vp_count_copy,
    .skip = vp_count_skip,
    .commit = vp_count_commit,
    .free = vp_count_free,
};

/* ---- what goes into the volume ---------------------------------------- */

/* The data of one vp_import_fill() call; SENT is read back after it. */
typedef struct {
    VpSource *src;
    guint64 length;              /* of the volume: src's bytes, then holes */
    const VpQcow2Layout *layout; /* preallocate: the qcow2 to write */
    guint64 sent;
} VpImportFill;

/* The file's bytes as they are: its data runs written, its holes (and the
 * padding of a raw file to a whole sector) sent as stream holes. */
static gboolean
vp_copy_bytes(VpSink *sink, VpImportFill *f, const VpCancel *cancel,
              GError **error)
{
    g_autofree guint8 *buf = g_malloc(VP_EMIT_CHUNK);
    guint64 pos = 0;

    /* LENGTH may pass the end of the source (sector padding of a raw file);
     * that tail is one hole, without asking the source. */
    while (pos < f->length) {
        guint64 len = f->length - pos;
        gboolean data = FALSE;

        if (!vp_cancel_check(cancel, error)) {
            return FALSE;
        }
        if (pos < f->src->size &&
            !vp_source_extent(f->src, pos, &len, &data, error)) {
            return FALSE;
        }
        len = MIN(len, f->length - pos);
        /* An extent of no length would loop for ever: refuse it. */
        if (len == 0) {
            g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                        _("cannot map '%1$s' at offset %2$" PRIu64),
                        f->src->name, pos);
            return FALSE;
        }
        if (!data) {
            if (!vp_sink_hole(sink, pos, len, error)) {
                return FALSE;
            }
        } else {
            /* A buffer at a time, so that a signal is seen within one. */
            len = MIN(len, VP_EMIT_CHUNK);
            if (!vp_source_read(f->src, pos, buf, (gsize)len, error) ||
                !vp_sink_write(sink, pos, buf, (gsize)len, error)) {
                return FALSE;
            }
        }
        pos += len;
    }
    return vp_sink_commit(sink, f->length, error);
}

static gboolean
vp_import_fill(VpSink *sink, gpointer data, const VpCancel *cancel,
               GError **error)
{
    VpImportFill *f = data;
    /* On the stack: it lives exactly as long as the one fill it counts. */
    VpCountSink count = { .parent.ops = &vp_count_ops, .inner = sink };
    gboolean ok = f->layout != NULL
                      ? vp_image_emit_from(f->layout, &count.parent, f->src,
                                           cancel, error)
                      : vp_copy_bytes(&count.parent, f, cancel, error);

    f->sent = count.sent;
    return ok;
}

/* ---- planning --------------------------------------------------------- */

static gboolean
vp_check_volume_name(const VpImportPlan *plan, const char *name,
                     GError **error)
{
    /* The volume name is a file name in the pool's directory: nothing that
     * leaves it or hides the file. */
    if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL ||
        !g_utf8_validate(name, -1, NULL) || strpbrk(name, "\n\r\t") != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid volume name '%1$s': it cannot be empty, contain "
                      "'/' or control characters, or start with '.'; choose "
                      "one with %2$s"), name,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_NAME));
        return FALSE;
    }
    return TRUE;
}

/* What the file is: its length and allocation, and its format, from
 * --source-format or its header.  A qcow2 is opened with the tool's own
 * reader, so that a damaged or unsupported image is refused before the
 * pool is touched, and so is one that needs a backing file.  *MAGIC says
 * whether the header is qcow2. */
static gboolean
vp_examine_file(const VpImportPlan *plan, VpImportResult *r,
                guint64 *allocated, gboolean *magic, GError **error)
{
    const char *path = plan->path;
    struct stat st;

    if (plan->source_format != NULL &&
        g_strcmp0(plan->source_format, "raw") != 0 &&
        g_strcmp0(plan->source_format, "qcow2") != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid %2$s '%1$s': use raw or qcow2"),
                    plan->source_format,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_SOURCE_FORMAT));
        return FALSE;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("cannot open '%1$s': %2$s"), path, g_strerror(errno));
        return FALSE;
    }
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is a directory, not an image file"), path);
        return FALSE;
    }
    /* A block device has no st_size and no holes to count: its length comes
     * from seeking to its end, and all of it counts as allocated. */
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        r->file_length = end > 0 ? (guint64)end : 0;
        *allocated = r->file_length;
    } else if (S_ISREG(st.st_mode)) {
        r->file_length = (guint64)st.st_size;
        *allocated = (guint64)st.st_blocks * 512;
    } else {
        close(fd);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is neither a file nor a block device"), path);
        return FALSE;
    }
    if (r->file_length == 0) {
        close(fd);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is empty; there is nothing to import"), path);
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    /* The header is probed even with --source-format, so that a raw file that
     * looks like a qcow2 can be refused below. */
    if (!vp_qcow2_probe(vp_read_fd, GINT_TO_POINTER(fd), magic, &local)) {
        close(fd);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("cannot read '%1$s': %2$s"), path, local->message);
        return FALSE;
    }
    const char *format = plan->source_format != NULL
                             ? plan->source_format
                             : *magic ? "qcow2" : "raw";
    r->source_format = g_strdup(format);
    if (g_str_equal(format, "raw")) {
        close(fd);
        r->virtual_size = r->file_length;
        return TRUE;
    }
    if (!*magic) {
        close(fd);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' has no qcow2 header; import it with %2$s raw, "
                      "or leave %2$s out"), path,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_SOURCE_FORMAT));
        return FALSE;
    }
    g_autoptr(VpQcow2Image) img = vp_qcow2_open_alone(fd, r->file_length, path,
                                                      error);
    if (img == NULL) {
        close(fd);
        return FALSE;
    }
    const VpQcow2Meta *m = vp_qcow2_image_meta(img);
    r->virtual_size = m->virtual_size;
    g_clear_pointer(&img, vp_qcow2_image_free);
    close(fd);
    return TRUE;
}

/* A sparse copy needs about as much room as the file occupies. */
static gboolean
vp_check_room(const VpImportPlan *plan, const VpPoolInfo *pool,
              gboolean block, guint64 allocated, GError **error)
{
    if (block || !pool->available_known || allocated <= pool->available) {
        return TRUE;
    }
    g_autofree char *free_text = vp_size_format(pool->available);
    g_autofree char *need_text = vp_size_format(allocated);
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                _("storage pool '%1$s' has %2$s free, but '%3$s' holds %4$s "
                  "of data; free space in the pool"),
                plan->pool, free_text, plan->path, need_text);
    return FALSE;
}

/* ---- the workflow ----------------------------------------------------- */

/* The checks that need no host: the volume's name into R (the file's own
 * without --name, extension and all), then the file itself (into R and
 * *ALLOCATED, see vp_examine_file). */
static gboolean
vp_import_check(const VpImportPlan *plan, VpImportResult *r,
                guint64 *allocated, GError **error)
{
    gboolean magic = FALSE;

    r->volume = plan->volume != NULL ? g_strdup(plan->volume)
                                     : g_path_get_basename(plan->path);
    if (!vp_check_volume_name(plan, r->volume, error) ||
        !vp_examine_file(plan, r, allocated, &magic, error)) {
        return FALSE;
    }
    /* libvirt probes a file volume's header and would report a raw file
     * that starts like a qcow2 as a qcow2 (one that would read its tables
     * from guest data); a preallocated copy keeps such bytes inside its
     * data area, where nobody probes. */
    if (magic && !plan->preallocate && g_str_equal(r->source_format, "raw")) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' starts with a qcow2 header, so libvirt would take "
                      "a raw volume of it for qcow2; import it as qcow2 (drop "
                      "%2$s raw) or with %3$s"),
                    plan->path,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_SOURCE_FORMAT),
                    vp_run_option(&plan->run, VP_OPTION_ERROR_PREALLOCATE));
        return FALSE;
    }
    return TRUE;
}

/* Opens what goes into the volume and says what the volume will be: with
 * preallocate, the image's guest view and the layout of the qcow2 that
 * holds it (R->layout); else the file's bytes, and EXPECT's length and
 * capacity.  EXPECT->format is set by the caller. */
static VpSource *
vp_import_open_source(const VpImportPlan *plan, VpImportResult *r,
                      VpVolumeExpect *expect, GError **error)
{
    /* With preallocate the guest view of the image, for which a qcow2 is
     * read through its tables; else the bytes of the file, qcow2 or not,
     * opened as raw. */
    g_autoptr(VpSource) src = vp_source_open_file(plan->path,
                                                  plan->preallocate
                                                      ? r->source_format
                                                      : "raw",
                                                  NULL, error);

    if (src == NULL) {
        return NULL;
    }
    if (plan->preallocate) {
        vp_image_options_init(&r->layout.opts);
        VpImageOptions opts = r->layout.opts;
        opts.size = src->size;
        if (!vp_qcow2_layout_compute(&opts, &r->layout, error)) {
            return NULL;
        }
        r->virtual_size = r->layout.virtual_size;
        return g_steal_pointer(&src);
    }
    expect->length = r->file_length;
    if (expect->format == VP_FORMAT_RAW) {
        /* As every disk size: a whole number of sectors. */
        expect->length = (r->file_length + 511) / 512 * 512;
        r->virtual_size = expect->length;
    }
    expect->capacity = r->virtual_size;
    return g_steal_pointer(&src);
}

/* The pool the volume goes to, into POOL and *BLOCK: an existing active
 * one, or, for a missing pool "default", the directory pool this run will
 * create as provision does (R->pool_created), refused before anything is
 * created where its place cannot be known (a remote session daemon). */
static gboolean
vp_import_plan_pool(const VpImportPlan *plan, VpVirt *virt,
                    VpImageFormat format, VpPoolInfo *pool, gboolean *block,
                    VpImportResult *r, GError **error)
{
    if (g_strcmp0(plan->pool, "default") == 0) {
        if (!vp_virt_pool_info(virt, plan->pool, pool, error)) {
            return FALSE;
        }
        if (!pool->exists) {
            pool->path = vp_workflow_default_pool_path(virt, plan->pool, error);
            *block = FALSE;
            r->pool_created = pool->path != NULL;
            return r->pool_created;
        }
        vp_pool_info_clear(pool);
    }
    return vp_workflow_active_pool(&plan->run, virt, plan->pool, format, pool,
                                   block, error);
}

/* What the volume needs of POOL (of BLOCK devices or files): a
 * preallocated qcow2 its final layout (zeros written on a block device,
 * as convert does, since zero flags would hide the copied data too) and
 * the space that takes, set in EXPECT and FILL; any import the room for
 * its data, and a name no volume has. */
static gboolean
vp_import_plan_volume(const VpImportPlan *plan, VpVirt *virt,
                      const VpPoolInfo *pool, gboolean block,
                      guint64 allocated, VpImportResult *r,
                      VpVolumeExpect *expect, VpImportFill *fill,
                      GError **error)
{
    r->preallocation = VP_PREALLOC_OFF;
    if (plan->preallocate) {
        if (block) {
            VpImageOptions opts = r->layout.opts;
            opts.preallocation = VP_PREALLOC_FULL;
            if (!vp_qcow2_layout_compute(&opts, &r->layout, error)) {
                return FALSE;
            }
        }
        if (!vp_workflow_check_space(&plan->run, plan->pool, pool,
                                     &r->layout, block, error)) {
            return FALSE;
        }
        expect->capacity = r->layout.virtual_size;
        expect->length = r->layout.file_length;
        fill->layout = &r->layout;
        r->preallocation = r->layout.opts.preallocation;
    }
    /* Checked for every import: even a sparse copy needs its data's worth of
     * room.  Never replaced: an existing volume of that name stops the
     * import.  A pool this run creates is empty, and its room unknown. */
    return r->pool_created ||
           (vp_check_room(plan, pool, block, allocated, error) &&
            vp_workflow_volume_free(&plan->run, virt, plan->pool, r->volume,
                                    error));
}

/* Creates the pool at POOL_PATH when R->pool_created says so, then the
 * volume, and uploads FILL into it, as EXPECT says, removing both again if
 * that fails; R gets what libvirt reports of the volume. */
static gboolean
vp_import_upload(const VpImportPlan *plan, VpVirt *virt, gboolean block,
                 const char *pool_path, const VpVolumeExpect *expect,
                 VpImportFill *fill, VpImportResult *r, GError **error)
{
    g_autoptr(VpTransaction) t = vp_transaction_new();
    g_auto(VpVolumeInfo) info = { 0 };

    if (r->pool_created &&
        !vp_workflow_create_pool(&plan->run, virt, plan->pool, pool_path, t,
                                 error)) {
        return FALSE;
    }
    vp_workflow_step(&plan->run, _("importing '%1$s' (%2$s) as '%3$s'"),
                     plan->path, r->source_format, r->volume);
    if (!vp_cancel_check(plan->run.cancel, error) ||
        !vp_workflow_upload_volume(&plan->run, virt, plan->pool, r->volume,
                                   expect, block, vp_import_fill, fill, t,
                                   &info, error)) {
        g_autoptr(GError) undo_error = NULL;
        vp_workflow_step(&plan->run, _("undoing what this run created"));
        if (!vp_transaction_rollback(t, &undo_error)) {
            vp_workflow_add_undo_error(error, undo_error);
        }
        return FALSE;
    }
    /* Committed once the upload is verified: from here on the volume is the
     * user's. */
    vp_transaction_commit(t);
    r->bytes_sent = fill->sent;
    r->volume_path = g_steal_pointer(&info.path);
    r->format = g_steal_pointer(&info.format);
    r->capacity = info.capacity;
    r->allocation = info.allocation;
    r->volume_length = info.physical;
    return TRUE;
}

gboolean
vp_import_run(const VpImportPlan *plan, VpImportResult *r, GError **error)
{
    guint64 allocated = 0;
    gboolean block = FALSE;
    g_auto(VpPoolInfo) pool = { 0 };

    *r = (VpImportResult){ 0 };
    r->path = g_strdup(plan->path);
    r->pool = g_strdup(plan->pool);
    if (!vp_import_check(plan, r, &allocated, error)) {
        return FALSE;
    }
    /* --preallocate always writes qcow2 (that is what preallocation is for);
     * otherwise the volume keeps the file's format. */
    VpVolumeExpect expect = {
        .format = plan->preallocate || g_str_equal(r->source_format, "qcow2")
                      ? VP_FORMAT_QCOW2
                      : VP_FORMAT_RAW,
    };
    g_autoptr(VpSource) src = vp_import_open_source(plan, r, &expect, error);
    if (src == NULL) {
        return FALSE;
    }

    /* Connected only now: a bad file is refused without a daemon. */
    g_autoptr(VpVirt) own = plan->virt == NULL
                                ? vp_workflow_connect(&plan->run, FALSE, error)
                                : NULL;
    VpVirt *virt = plan->virt != NULL ? plan->virt : own;
    if (virt == NULL) {
        return FALSE;
    }
    r->uri = g_strdup(vp_virt_uri(virt));
    if (own != NULL) {
        vp_workflow_step(&plan->run, _("connected to '%1$s'"), r->uri);
    }
    VpImportFill fill = { .src = src };
    if (!vp_import_plan_pool(plan, virt, expect.format, &pool, &block, r,
                             error) ||
        !vp_import_plan_volume(plan, virt, &pool, block, allocated, r, &expect,
                               &fill, error)) {
        return FALSE;
    }
    fill.length = expect.length;
    return vp_import_upload(plan, virt, block, pool.path, &expect, &fill, r,
                            error);
}
