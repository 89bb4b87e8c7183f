/* attach and convert: the workflows that change an existing domain.  Both read
 * the persistent definition, edit it with the core's editor (which keeps every
 * element it does not know), write a new volume, and only then redefine; the
 * old definition is kept on disk and is the undo.  Neither ever deletes or
 * overwrites a volume of the domain, except a convert's source on
 * --delete-source, after everything else succeeded. */
#include "domain-ops.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "domain-edit.h"
#include "text-diff.h"
#include "error.h"
#include "virt.h"
#include "workflow.h"

void
vp_domain_op_result_clear(VpDomainOpResult *r)
{
    g_free(r->uri);
    g_free(r->domain);
    g_free(r->target);
    g_free(r->old_path);
    g_free(r->old_format);
    g_free(r->pool);
    g_free(r->volume);
    g_free(r->path);
    g_free(r->diff);
    g_free(r->backup);
    *r = (VpDomainOpResult){ 0 };
}

/* Keeps the previous definition where the user can restore it from with
 * virsh define: $XDG_STATE_HOME/virt-provision/DOMAIN-TIME.xml.  It was
 * read with its secure data (passwords of graphics and disk secrets), so
 * the file is 0600 in a 0700 directory, whatever the umask. */
static char *
vp_save_backup(const char *domain, const char *xml, GError **error)
{
    g_autofree char *dir = g_build_filename(g_get_user_state_dir(),
                                            "virt-provision", NULL);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    /* UTC with microseconds: two runs in the same second must not overwrite
     * each other's backup, and a list of backups sorts by time. */
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S.%fZ");
    g_autofree char *safe = g_strdup(domain);
    /* The domain name becomes a file name; a '/' would leave the directory. */
    g_strdelimit(safe, "/", '_');
    g_autofree char *base = g_strdup_printf("%s-%s.xml", safe, stamp);
    g_autofree char *path = g_build_filename(dir, base, NULL);

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        int saved = errno;
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot create '%1$s' to keep the previous definition: "
                      "%2$s"), dir, g_strerror(saved));
        return NULL;
    }
    if (!g_file_set_contents_full(path, xml, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0600, error)) {
        return NULL;
    }
    return g_steal_pointer(&path);
}

/* Normalised texts of the definition before and after, and their diff:
 * both through libxml2, so the diff shows the edit, not libvirt's quoting. */
static char *
vp_definition_diff(const char *domain, VpDomainDoc *before, VpDomainDoc *after)
{
    g_autofree char *a = vp_domain_doc_format(before);
    g_autofree char *b = vp_domain_doc_format(after);
    g_autofree char *name_a = g_strdup_printf("%s (defined)", domain);
    g_autofree char *name_b = g_strdup_printf("%s (new)", domain);
    return vp_text_diff(a, b, name_a, name_b);
}

/* Connects, and reads the domain's persistent definition and state. */
static VpVirt *
vp_open_domain(VpDomainOpPlan *plan, VpDomainOpResult *r, gboolean *active,
               VpDomainDoc **doc, char **xml, GError **error)
{
    g_autoptr(VpVirt) virt = vp_workflow_connect(&plan->run, FALSE, error);

    if (virt == NULL ||
        !vp_virt_domain_is_active(virt, plan->domain, active, error)) {
        return NULL;
    }
    /* The inactive (persistent) definition is the one edited: the live one
     * carries run-time state (allocated ports, aliases) that must not become
     * part of the configuration. */
    *xml = vp_virt_domain_xml(virt, plan->domain, TRUE, error);
    if (*xml == NULL) {
        return NULL;
    }
    *doc = vp_domain_doc_parse(*xml, error);
    if (*doc == NULL) {
        return NULL;
    }
    r->uri = g_strdup(vp_virt_uri(virt));
    r->domain = g_strdup(plan->domain);
    return g_steal_pointer(&virt);
}

/* A domain started since the checks (during a long copy) runs on the old
 * image: switching its definition to the copy would lose what it writes. */
static gboolean
vp_check_still_shut_off(VpVirt *virt, const char *domain, GError **error)
{
    gboolean active = FALSE;

    if (!vp_virt_domain_is_active(virt, domain, &active, error)) {
        return FALSE;
    }
    if (active) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("domain '%1$s' was started while its disk was being "
                      "copied, so the copy is not used; shut it down (virsh "
                      "shutdown %1$s) and convert again"), domain);
        return FALSE;
    }
    return TRUE;
}

/* Keeps the previous definition (R->backup), then defines the edited
 * document and registers the way back.  With NEED_SHUT_OFF, the domain
 * must still be shut off right before the define. */
static gboolean
vp_apply_definition(VpVirt *virt, VpDomainOpPlan *plan, VpDomainDoc *doc,
                    const char *old_xml, gboolean need_shut_off,
                    VpDomainOpResult *r, VpTransaction *t, GError **error)
{
    g_autofree char *new_xml = vp_domain_doc_format(doc);
    g_autofree char *what = g_strdup_printf(_("the new definition of domain "
                                              "'%1$s'"), plan->domain);

    /* Saved before the define, so that even an undo that cannot reach the
     * daemon leaves the user a definition to restore by hand. */
    r->backup = vp_save_backup(plan->domain, old_xml, error);
    if (r->backup == NULL ||
        (need_shut_off && !vp_check_still_shut_off(virt, plan->domain, error))) {
        return FALSE;
    }
    vp_workflow_step(&plan->run, _("redefining domain '%1$s'"), plan->domain);
    if (!vp_cancel_check(plan->run.cancel, error) ||
        !vp_virt_domain_redefine(virt, new_xml, error)) {
        return FALSE;
    }
    /* The undo is registered only after the define succeeded: a refused define
     * changed nothing, and restoring would be a needless write. */
    vp_workflow_undo(t, what, VP_UNDO_REDEFINE, virt, NULL, plan->domain, old_xml);
    return TRUE;
}

/* Commits, or undoes everything; a backup of a definition that is back in
 * place goes too, while one the undo could not restore stays. */
static gboolean
vp_finish(const VpRunEnv *run, VpTransaction *t, gboolean ok,
          VpDomainOpResult *r, GError **error)
{
    if (ok) {
        vp_transaction_commit(t);
        return TRUE;
    }
    g_autoptr(GError) undo_error = NULL;
    vp_workflow_step(run, _("undoing what this run changed"));
    if (!vp_transaction_rollback(t, &undo_error)) {
        vp_workflow_add_undo_error(error, undo_error);
    /* The previous definition is back in place, so its backup only says
     * something that is no longer true. */
    } else if (r->backup != NULL) {
        (void)g_unlink(r->backup);
        g_clear_pointer(&r->backup, g_free);
    }
    return FALSE;
}

static void
vp_fill_volume(VpDomainOpResult *r, VpVolumeInfo *info)
{
    g_free(r->path);
    r->path = g_steal_pointer(&info->path);
    r->capacity = info->capacity;
    r->allocation = info->allocation;
    r->file_length = info->physical;
}

/* ---- attach ----------------------------------------------------------- */

/* Everything the command line alone can refuse, refused before the
 * connection is made; R's layout is the image's as planned. */
static gboolean
vp_attach_check(VpDomainOpPlan *plan, VpDomainOpResult *r, GError **error)
{
    if (plan->image.size == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s must be more than 0, such as %1$s 20G"),
                    vp_run_option(&plan->run, VP_OPTION_ERROR_SIZE));
        return FALSE;
    }
    return vp_qcow2_layout_compute(&plan->image, &r->layout, error);
}

/* Adds to TAKEN the targets of the running DOMAIN's disks.  They count
 * too: a disk hot-plugged without --config is there even if the
 * definition does not say so. */
static gboolean
vp_live_targets(VpVirt *virt, const char *domain, GPtrArray *taken,
                GError **error)
{
    g_autofree char *live_xml = vp_virt_domain_xml(virt, domain, FALSE, error);
    g_autoptr(VpDomainDoc) live = live_xml != NULL
                                      ? vp_domain_doc_parse(live_xml, error)
                                      : NULL;

    if (live == NULL) {
        return FALSE;
    }
    g_autoptr(GPtrArray) disks = vp_domain_disks(live);
    for (guint i = 0; i < disks->len; i++) {
        VpDiskInfo *d = g_ptr_array_index(disks, i);
        g_ptr_array_add(taken, g_strdup(d->target));
    }
    return TRUE;
}

/* The new disk's target into R->target: the one asked for, which no disk
 * of DOC (the definition) or of the running guest (when ACTIVE) may have,
 * or else the first free one for BUS. */
static gboolean
vp_attach_target(VpVirt *virt, const VpDomainOpPlan *plan, VpDomainDoc *doc,
                 gboolean active, const char *bus, VpDomainOpResult *r,
                 GError **error)
{
    g_autoptr(GPtrArray) taken = g_ptr_array_new_with_free_func(g_free);

    if (active && !vp_live_targets(virt, plan->domain, taken, error)) {
        return FALSE;
    }
    if (plan->target == NULL) {
        r->target = vp_domain_free_target(doc, bus, taken);
        return TRUE;
    }
    g_autoptr(GPtrArray) disks = vp_domain_disks(doc);
    for (guint i = 0; i < disks->len + taken->len; i++) {
        const char *t = i < disks->len
                            ? ((VpDiskInfo *)g_ptr_array_index(disks, i))->target
                            : g_ptr_array_index(taken, i - disks->len);
        if (g_strcmp0(t, plan->target) == 0) {
            g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                        _("domain '%1$s' already has a disk at target "
                          "'%2$s'; choose another %3$s or leave it out"),
                        plan->domain, plan->target,
                        vp_run_option(&plan->run, VP_OPTION_ERROR_TARGET));
            return FALSE;
        }
    }
    r->target = g_strdup(plan->target);
    return TRUE;
}

/* The new volume: its name and pool into R, the pool's details into POOL
 * and *BLOCK, and every check that it can be made there, with the layout
 * it will have. */
static gboolean
vp_attach_plan_volume(VpVirt *virt, VpDomainOpPlan *plan, VpDomainOpResult *r,
                      VpPoolInfo *pool, gboolean *block, GError **error)
{
    /* The default name ties the volume to its domain and target, so that two
     * attached disks of one guest never collide. */
    r->volume = plan->volume != NULL
                    ? g_strdup(plan->volume)
                    : g_strdup_printf("%s-%s.%s", plan->domain, r->target,
                                      plan->image.format == VP_FORMAT_RAW ? "img"
                                                                          : "qcow2");
    r->pool = g_strdup(plan->pool);

    if (!vp_workflow_active_pool(&plan->run, virt, plan->pool,
                                 plan->image.format, pool, block, error)) {
        return FALSE;
    }
    /* A block volume reads back stale bytes: the image gets zero flags (or
     * full preallocation), which changes its layout. */
    if (*block) {
        vp_workflow_block_image(&plan->image);
        if (!vp_qcow2_layout_compute(&plan->image, &r->layout, error)) {
            return FALSE;
        }
    }
    return vp_workflow_check_space(&plan->run, plan->pool, pool, &r->layout,
                                   *block, error) &&
           vp_workflow_volume_free(&plan->run, virt, plan->pool, r->volume,
                                   error);
}

/* Plugs DISK into the running domain too, registering the unplug in T.
 * Called once the definition holds the disk, so that it survives a
 * reboot; the undo unplugs it before the old definition comes back
 * (newest first). */
static gboolean
vp_attach_live(VpVirt *virt, const VpDomainOpPlan *plan,
               const VpDomainSpec *disk, VpDomainOpResult *r,
               VpTransaction *t, GError **error)
{
    g_autofree char *disk_xml = vp_domain_disk_device_xml(disk);
    g_autofree char *what = g_strdup_printf(_("disk '%1$s' of running domain "
                                              "'%2$s'"), r->target,
                                            plan->domain);

    vp_workflow_step(&plan->run, _("hot-plugging '%1$s'"), r->target);
    if (!vp_virt_domain_attach_live(virt, plan->domain, disk_xml, error)) {
        return FALSE;
    }
    r->live = TRUE;
    vp_workflow_undo(t, what, VP_UNDO_DETACH, virt, NULL, plan->domain, disk_xml);
    return TRUE;
}

gboolean
vp_attach_run(VpDomainOpPlan *plan, VpDomainOpResult *r, GError **error)
{
    gboolean active = FALSE;
    gboolean block = FALSE;
    g_autoptr(VpDomainDoc) doc = NULL;
    g_autofree char *old_xml = NULL;
    g_auto(VpPoolInfo) pool = { 0 };

    *r = (VpDomainOpResult){ 0 };
    if (!vp_attach_check(plan, r, error)) {
        return FALSE;
    }
    g_autoptr(VpVirt) virt = vp_open_domain(plan, r, &active, &doc, &old_xml,
                                            error);
    if (virt == NULL) {
        return FALSE;
    }
    if (plan->live && !active) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%2$s needs a running domain, and '%1$s' is shut off; "
                      "drop %2$s"), plan->domain,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_LIVE));
        return FALSE;
    }
    /* Without --disk-bus the disk is virtio, as provision's own disks. */
    const char *bus = plan->bus != NULL ? plan->bus : "virtio";
    if (!vp_attach_target(virt, plan, doc, active, bus, r, error) ||
        !vp_attach_plan_volume(virt, plan, r, &pool, &block, error)) {
        return FALSE;
    }

    /* The new disk as the definition will hold it. */
    VpDomainSpec disk = {
        .disk_path = g_build_filename(pool.path, r->volume, NULL),
        .disk_block = block,
        .disk_format = g_strdup(vp_image_format_to_string(plan->image.format)),
        .disk_bus = g_strdup(bus),
        .disk_target = g_strdup(r->target),
        /* As provision's defaults: io=native needs the host cache bypassed
         * (cache=none); qemu refuses it otherwise. */
        .cache = g_strdup("none"),
        .io = g_strdup("native"),
    };
    g_autoptr(VpDomainDoc) before = vp_domain_doc_copy(doc);
    vp_domain_append_disk(doc, &disk);
    r->diff = vp_definition_diff(plan->domain, before, doc);
    /* --print-diff stops before anything is created: the diff is the plan. */
    if (plan->print_diff) {
        vp_domain_spec_clear(&disk);
        return TRUE;
    }

    g_autoptr(VpTransaction) t = vp_transaction_new();
    g_auto(VpVolumeInfo) info = { 0 };
    gboolean ok = vp_workflow_write_volume(&plan->run, virt, plan->pool,
                                           r->volume, &r->layout, block, NULL, t,
                                           &info, error);
    if (ok) {
        vp_fill_volume(r, &info);
        /* libvirt's path for the volume, in case the pool maps names. */
        g_autoptr(GPtrArray) disks = vp_domain_disks(doc);
        VpDiskInfo *added = g_ptr_array_index(disks, disks->len - 1);
        vp_domain_switch_disk(added, r->path, block,
                              vp_image_format_to_string(plan->image.format));
        g_free(disk.disk_path);
        disk.disk_path = g_strdup(r->path);
        ok = vp_apply_definition(virt, plan, doc, old_xml, FALSE, r, t, error);
    }
    ok = ok && (!plan->live || vp_attach_live(virt, plan, &disk, r, t, error));
    vp_domain_spec_clear(&disk);
    r->changed = ok;
    return vp_finish(&plan->run, t, ok, r, error);
}

/* ---- convert ---------------------------------------------------------- */

static VpDiskInfo *
vp_pick_disk(GPtrArray *disks, VpDomainOpPlan *plan, GError **error)
{
    VpDiskInfo *found = NULL;
    guint count = 0;
    g_autoptr(GString) targets = g_string_new(NULL);

    for (guint i = 0; i < disks->len; i++) {
        VpDiskInfo *d = g_ptr_array_index(disks, i);
        /* Only disks: cdroms and floppies hold media, not the guest's data. */
        if (g_strcmp0(d->device, "disk") != 0) {
            continue;
        }
        g_string_append_printf(targets, "%s%s", targets->len ? ", " : "",
                               d->target != NULL ? d->target : "?");
        count++;
        if (plan->target == NULL || g_strcmp0(d->target, plan->target) == 0) {
            found = d;
        }
    }
    if (count == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("domain '%1$s' has no disk to convert"), plan->domain);
        return NULL;
    }
    if (plan->target == NULL && count > 1) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("domain '%1$s' has several disks (%2$s); choose one with "
                      "%3$s"), plan->domain, targets->str,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_DISK));
        return NULL;
    }
    if (found == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("domain '%1$s' has no disk at target '%2$s'; its disks "
                      "are: %3$s"), plan->domain, plan->target, targets->str);
        return NULL;
    }
    return found;
}

/* Where the disk's bytes come from: the file itself when this machine can
 * read it (copy_file_range, reflinks), else a sparse download stream.  The
 * disk's format is the definition's, never probed; its backing chain must
 * be what the definition states (see vp_source_open_file). */
static VpSource *
vp_convert_source(VpVirt *virt, const VpDiskInfo *disk, const VpVolumeRef *vol,
                  gboolean have_vol, GError **error)
{
    g_autoptr(VpBackingChain) chain = NULL;

    if (!vp_disk_backing_chain(disk, &chain, error)) {
        return NULL;
    }
    if (vp_virt_is_local(virt) && g_access(disk->path, R_OK) == 0) {
        return vp_source_open_file(disk->path, disk->format, chain, error);
    }
    if (!have_vol) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("'%1$s' is neither readable here nor a volume of a pool, "
                      "so it cannot be read"), disk->path);
        return NULL;
    }
    if (g_strcmp0(disk->format, "raw") != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("a %1$s disk on a remote host cannot be read through a "
                      "stream; run virt-provision on that host"), disk->format);
        return NULL;
    }
    return vp_virt_download_source_new(virt, vol->pool, vol->name, vol->capacity,
                                       error);
}

static char *
vp_new_volume_name(const char *old_name, const char *format)
{
    g_autofree char *stem = g_strdup(old_name);
    char *dot = strrchr(stem, '.');
    /* "disk.img" becomes "disk.qcow2"; a leading dot is part of the name. */
    if (dot != NULL && dot != stem) {
        *dot = '\0';
    }
    /* qcow2 to qcow2 must not collide with itself. */
    if (g_strcmp0(format, "qcow2") == 0) {
        return g_strdup_printf("%s-prealloc.qcow2", stem);
    }
    return g_strdup_printf("%s.qcow2", stem);
}

/* The disk a convert copies, and the pool volume that holds it, if any. */
typedef struct {
    VpDiskInfo *disk;   /* of the definition being edited (borrowed) */
    VpVolumeRef vol;
    gboolean have_vol;  /* VOL is set: some pool holds the disk */
} VpConvertFrom;

static void
vp_convert_from_clear(VpConvertFrom *from)
{
    vp_volume_ref_clear(&from->vol);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpConvertFrom, vp_convert_from_clear)

/* Only options that make the copy worth making: a sparse or raw image
 * would gain nothing over the disk it replaces. */
static gboolean
vp_convert_check(const VpDomainOpPlan *plan, GError **error)
{
    if (plan->image.format == VP_FORMAT_QCOW2 &&
        plan->image.preallocation != VP_PREALLOC_OFF) {
        return TRUE;
    }
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("convert writes preallocated qcow2: drop %1$s raw and "
                  "%2$s off"),
                vp_run_option(&plan->run, VP_OPTION_ERROR_FORMAT),
                vp_run_option(&plan->run, VP_OPTION_ERROR_PREALLOCATION));
    return FALSE;
}

/* Picks the disk of DISKS to convert into FROM, with its volume, and
 * describes it in R: its target, path and format (raw or qcow2). */
static gboolean
vp_convert_pick(VpVirt *virt, VpDomainOpPlan *plan, GPtrArray *disks,
                VpConvertFrom *from, VpDomainOpResult *r, GError **error)
{
    VpDiskInfo *disk = vp_pick_disk(disks, plan, error);

    if (disk == NULL) {
        return FALSE;
    }
    from->disk = disk;
    r->target = g_strdup(disk->target);
    /* A type='volume' disk names its pool and volume; a file or block disk is
     * matched to a volume by path, when some pool holds it. */
    if (disk->pool != NULL && disk->volume != NULL) {
        if (!vp_virt_volume_by_name(virt, disk->pool, disk->volume, &from->vol,
                                    error)) {
            return FALSE;
        }
        from->have_vol = TRUE;
        disk->path = g_strdup(from->vol.path);
    } else if (disk->path == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("disk '%1$s' is not a file, block device or pool volume; "
                      "only those can be converted"), r->target);
        return FALSE;
    } else if (!vp_virt_volume_by_path(virt, disk->path, &from->vol,
                                       &from->have_vol, error)) {
        return FALSE;
    }
    /* libvirt reads a disk without a driver type as raw. */
    if (disk->format == NULL) {
        disk->format = g_strdup("raw");
    }
    if (g_strcmp0(disk->format, "raw") != 0 && g_strcmp0(disk->format, "qcow2") != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                    _("disk '%1$s' is %2$s; convert reads raw and qcow2 disks"),
                    r->target, disk->format);
        return FALSE;
    }
    r->old_path = g_strdup(disk->path);
    r->old_format = g_strdup(disk->format);
    return TRUE;
}

/* The new volume: its pool and name into R, the pool's details into POOL
 * and *BLOCK, once it is known that the volume can be made there. */
static gboolean
vp_convert_plan_volume(VpVirt *virt, const VpDomainOpPlan *plan,
                       const VpConvertFrom *from, VpDomainOpResult *r,
                       VpPoolInfo *pool, gboolean *block, GError **error)
{
    /* By default the copy goes next to the source, in the same pool. */
    r->pool = g_strdup(plan->pool != NULL ? plan->pool : from->vol.pool);
    if (r->pool == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' belongs to no pool; name the pool for the new "
                      "volume with %2$s"), from->disk->path,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_POOL));
        return FALSE;
    }
    if (!vp_workflow_active_pool(&plan->run, virt, r->pool, VP_FORMAT_QCOW2,
                                 pool, block, error)) {
        return FALSE;
    }
    g_autofree char *base = g_path_get_basename(from->disk->path);
    r->volume = vp_new_volume_name(from->have_vol ? from->vol.name : base,
                                   from->disk->format);
    return vp_workflow_volume_free(&plan->run, virt, r->pool, r->volume, error);
}

/* The new image's layout into R: as large as SRC, and on a block device
 * with zero runs written, since per-cluster zero flags would hide the
 * copied data too; then whether POOL has room for it. */
static gboolean
vp_convert_layout(VpDomainOpPlan *plan, const VpSource *src,
                  const VpPoolInfo *pool, gboolean block, VpDomainOpResult *r,
                  GError **error)
{
    plan->image.size = src->size;
    if (block) {
        plan->image.preallocation = VP_PREALLOC_FULL;
    }
    return vp_qcow2_layout_compute(&plan->image, &r->layout, error) &&
           vp_workflow_check_space(&plan->run, r->pool, pool, &r->layout, block,
                                   error);
}

/* --delete-source: the source volume goes, once the domain uses the new
 * one.  Not undoable, so the last step; its failure leaves everything
 * else done and says how to finish by hand. */
static gboolean
vp_delete_source(VpVirt *virt, const VpDomainOpPlan *plan,
                 const VpConvertFrom *from, VpDomainOpResult *r,
                 GError **error)
{
    g_autoptr(GError) local = NULL;

    vp_workflow_step(&plan->run, _("deleting the source volume '%1$s'"),
                     from->vol.name);
    if (!vp_virt_volume_delete(virt, from->vol.pool, from->vol.name, &local)) {
        g_set_error(error, local->domain, local->code,
                    _("the domain now uses '%1$s', but its source volume "
                      "'%2$s' is still there (%3$s); delete it with virsh "
                      "vol-delete --pool %4$s %2$s"),
                    r->volume, from->vol.name, local->message, from->vol.pool);
        return FALSE;
    }
    r->source_deleted = TRUE;
    return TRUE;
}

gboolean
vp_convert_run(VpDomainOpPlan *plan, VpDomainOpResult *r, GError **error)
{
    gboolean active = FALSE;
    gboolean block = FALSE;
    g_autoptr(VpDomainDoc) doc = NULL;
    g_autofree char *old_xml = NULL;
    g_auto(VpConvertFrom) from = { 0 };
    g_auto(VpPoolInfo) pool = { 0 };

    *r = (VpDomainOpResult){ 0 };
    if (!vp_convert_check(plan, error)) {
        return FALSE;
    }
    g_autoptr(VpVirt) virt = vp_open_domain(plan, r, &active, &doc, &old_xml,
                                            error);
    if (virt == NULL) {
        return FALSE;
    }
    /* A running guest writes to the disk while it is copied: the copy would be
     * inconsistent.  Checked again right before the redefine. */
    if (active) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("domain '%1$s' is running; its disk can only be copied "
                      "while nothing writes to it: shut it down first (virsh "
                      "shutdown %1$s)"), plan->domain);
        return FALSE;
    }
    g_autoptr(GPtrArray) disks = vp_domain_disks(doc);
    if (!vp_convert_pick(virt, plan, disks, &from, r, error) ||
        !vp_convert_plan_volume(virt, plan, &from, r, &pool, &block, error)) {
        return FALSE;
    }
    /* The source is opened before the layout is computed: the new image's
     * virtual size is the source's. */
    g_autoptr(VpSource) src = vp_convert_source(virt, from.disk, &from.vol,
                                                from.have_vol, error);
    if (src == NULL || !vp_convert_layout(plan, src, &pool, block, r, error)) {
        return FALSE;
    }
    g_autoptr(VpDomainDoc) before = vp_domain_doc_copy(doc);
    g_autofree char *planned = g_build_filename(pool.path, r->volume, NULL);
    vp_domain_switch_disk(from.disk, planned, block, "qcow2");
    r->diff = vp_definition_diff(plan->domain, before, doc);
    if (plan->print_diff) {
        return TRUE;
    }

    g_autoptr(VpTransaction) t = vp_transaction_new();
    g_auto(VpVolumeInfo) info = { 0 };
    vp_workflow_step(&plan->run, _("copying '%1$s' (%2$s) into '%3$s'"),
                     r->old_path, r->old_format, r->volume);
    gboolean ok = vp_workflow_write_volume(&plan->run, virt, r->pool, r->volume,
                                           &r->layout, block, src, t, &info,
                                           error);
    if (ok) {
        vp_fill_volume(r, &info);
        vp_domain_switch_disk(from.disk, r->path, block, "qcow2");
        ok = vp_apply_definition(virt, plan, doc, old_xml, TRUE, r, t, error);
    }
    /* Committed before the source is deleted: from here on the domain runs on
     * the new volume, and a failed delete must not bring the old one back. */
    if (!vp_finish(&plan->run, t, ok, r, error)) {
        return FALSE;
    }
    r->changed = TRUE;
    /* Only once the domain uses the new volume. */
    return !plan->delete_source || !from.have_vol ||
           vp_delete_source(virt, plan, &from, r, error);
}
