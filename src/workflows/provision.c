/* Provisioning: one guest from nothing, as the design's five steps.  The plan
 * is computed and checked in full (options, pool, space, name conflicts,
 * domain XML) before anything is created; then each step registers its undo,
 * so a failure or Ctrl-C leaves the host as it was. */
#include "provision.h"

#include <string.h>

#include <glib/gi18n.h>

#include "base.h"
#include "error.h"
#include "qcow2-emit.h"
#include "reservation.h"
#include "size.h"
#include "transaction.h"
#include "virt.h"
#include "workflow.h"

char *
vp_provision_volume_name(const char *name, VpImageFormat format)
{
    return g_strdup_printf("%s.%s", name, format == VP_FORMAT_RAW ? "img" : "qcow2");
}

char *
vp_provision_seed_name(const char *name)
{
    return g_strdup_printf("%s-cidata.iso", name);
}

void
vp_provision_result_clear(VpProvisionResult *r)
{
    g_free(r->uri);
    g_free(r->pool);
    g_free(r->volume);
    g_free(r->volume_path);
    g_free(r->volume_format);
    g_free(r->domain);
    g_free(r->domain_xml);
    g_free(r->uuid);
    g_free(r->base);
    g_free(r->base_path);
    g_free(r->base_format);
    g_free(r->seed_volume);
    g_free(r->seed_path);
    g_clear_pointer(&r->addresses, g_ptr_array_unref);
    g_free(r->wait_error);
    *r = (VpProvisionResult){ 0 };
}

/* ---- planning --------------------------------------------------------- */

/* The name becomes a file name (NAME.qcow2) in a pool directory and a domain
 * name, so anything that could leave the pool or hide the file is refused up
 * front rather than by libvirt halfway through. */
static gboolean
vp_check_name(const VpProvisionPlan *plan, GError **error)
{
    const char *name = plan->name;
    const char *option = vp_run_option(&plan->run, VP_OPTION_ERROR_NAME);

    if (name == NULL || name[0] == '\0') {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s is required: the name of the guest, such as %1$s "
                      "zabbix"), option);
        return FALSE;
    }
    if (!g_utf8_validate(name, -1, NULL) || strchr(name, '/') != NULL ||
        name[0] == '.' || strpbrk(name, "\n\r\t") != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid %2$s '%1$s': a guest name cannot contain '/' "
                      "or control characters, nor start with '.'"), name,
                    option);
        return FALSE;
    }
    return TRUE;
}

/* Virt type, machine and emulator from the host's domain capabilities. */
static gboolean
vp_fill_hypervisor(VpVirt *virt, VpDomainSpec *d, GError **error)
{
    g_autofree char *caps = NULL;

    /* No --virt-type: kvm if the host offers it, else qemu (TCG), as
     * virt-install does.  The probe's error is only the answer "no kvm". */
    if (d->virt_type == NULL) {
        g_autoptr(GError) local = NULL;
        caps = vp_virt_domain_caps(virt, "kvm", d->arch, d->machine, &local);
        d->virt_type = g_strdup(caps != NULL ? "kvm" : "qemu");
    }
    if (d->machine == NULL &&
        (d->arch == NULL || g_strcmp0(d->arch, "x86_64") == 0)) {
        /* q35 where the host has it: PCIe, SATA, as virt-install picks; for
         * kvm as much as for qemu, so the kvm probe's answer is replaced. */
        char *q35 = vp_virt_domain_caps(virt, d->virt_type, d->arch, "q35",
                                        NULL);
        if (q35 != NULL) {
            g_free(caps);
            caps = q35;
        }
    }
    if (caps == NULL) {
        caps = vp_virt_domain_caps(virt, d->virt_type, d->arch, d->machine,
                                   error);
        if (caps == NULL) {
            return FALSE;
        }
    }
    g_autofree char *machine = NULL;
    g_autofree char *emulator = NULL;
    if (!vp_domcaps_parse(caps, &machine, &emulator, error)) {
        return FALSE;
    }
    if (machine != NULL) {
        g_free(d->machine);
        d->machine = g_steal_pointer(&machine);
    }
    if (d->emulator == NULL) {
        d->emulator = g_steal_pointer(&emulator);
    }
    return TRUE;
}

static gboolean
vp_fill_network(VpVirt *virt, VpDomainSpec *d, GError **error)
{
    /* Only the default choice is resolved here; a network the user named is
     * taken as given.  Without an active default network the guest gets
     * user-mode networking rather than a definition that cannot start. */
    for (guint i = 0; d->nics != NULL && i < d->nics->len; i++) {
        VpNic *nic = g_ptr_array_index(d->nics, i);
        gboolean exists;
        gboolean active;
        if (nic->kind != VP_NET_DEFAULT) {
            continue;
        }
        if (!vp_virt_network_state(virt, "default", &exists, &active, error)) {
            return FALSE;
        }
        nic->kind = exists && active ? VP_NET_NETWORK : VP_NET_USER;
        if (nic->kind == VP_NET_NETWORK) {
            nic->source = g_strdup("default");
        }
    }
    return TRUE;
}

gboolean
vp_provision_default_pool(const VpRunEnv *run, VpVirt *virt, gboolean *created,
                          GError **error)
{
    g_auto(VpPoolInfo) pool = { 0 };

    *created = FALSE;
    if (!vp_virt_pool_info(virt, "default", &pool, error)) {
        return FALSE;
    }
    if (pool.exists) {
        return TRUE;
    }
    g_autofree char *path = vp_workflow_default_pool_path(virt, "default",
                                                          error);
    if (path == NULL) {
        return FALSE;
    }
    vp_workflow_step(run, _("creating directory pool '%1$s' at '%2$s'"),
                     "default", path);
    *created = vp_virt_pool_create_dir(virt, "default", path, error);
    return *created;
}

/* The pool the volume goes to, into POOL: an existing active one, or the
 * default pool this run will create (whose free space nobody knows yet). */
static gboolean
vp_plan_pool(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
             VpPoolInfo *pool, gboolean *block, GError **error)
{
    if (g_strcmp0(plan->pool, "default") == 0) {
        if (!vp_virt_pool_info(virt, plan->pool, pool, error)) {
            return FALSE;
        }
        if (!pool->exists) {
            /* As virt-install: a missing default pool becomes a directory,
             * unless nobody here can tell where (a remote session). */
            pool->path = vp_workflow_default_pool_path(virt, plan->pool, error);
            if (pool->path == NULL) {
                return FALSE;
            }
            *block = FALSE;
            r->pool_created = TRUE;
            return TRUE;
        }
        vp_pool_info_clear(pool);
    }
    return vp_workflow_active_pool(&plan->run, virt, plan->pool,
                                   plan->image.format, pool, block, error);
}

static gboolean
vp_plan_conflicts(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                  GError **error)
{
    gboolean exists = FALSE;

    /* A pool this run creates is empty. */
    if (!r->pool_created &&
        (!vp_workflow_volume_free(&plan->run, virt, plan->pool, r->volume,
                                  error) ||
         (r->seed_volume != NULL &&
          !vp_workflow_volume_free(&plan->run, virt, plan->pool,
                                   r->seed_volume, error)))) {
        return FALSE;
    }
    if (plan->define &&
        !vp_virt_domain_exists(virt, plan->name, &exists, error)) {
        return FALSE;
    }
    if (plan->define && exists) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("domain '%1$s' already exists; choose another %2$s, or "
                      "remove it with virsh undefine %1$s"), plan->name,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_NAME));
        return FALSE;
    }
    return TRUE;
}

/* ---- doing ------------------------------------------------------------ */

static gboolean
vp_write_volume(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                gboolean block, VpTransaction *t, GError **error)
{
    /* What libvirt reports of the volume, not what was planned: its path,
     * format and sizes are what the domain XML and the report must use. */
    g_auto(VpVolumeInfo) info = { 0 };

    if (!vp_workflow_write_volume(&plan->run, virt, plan->pool, r->volume,
                                  &r->layout, block, NULL, t, &info, error)) {
        return FALSE;
    }
    g_free(r->volume_path);
    r->volume_path = g_steal_pointer(&info.path);
    r->volume_format = g_steal_pointer(&info.format);
    r->capacity = info.capacity;
    r->allocation = info.allocation;
    r->file_length = info.physical;
    return TRUE;
}

/* A lab guest's first change: the domain, defined from the planned XML
 * (the paths the pool will give its volumes) so that it holds the
 * ownership record before any volume exists.  Its UUID is kept for the
 * final definition, which replaces this one. */
static gboolean
vp_define_record(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                 VpTransaction *t, GError **error)
{
    g_autofree char *what = g_strdup_printf(_("domain '%1$s'"), plan->name);

    vp_workflow_step(&plan->run, _("recording domain '%1$s' as the lab's"),
                     plan->name);
    /* A shallow copy: the spec as planned, with the first record. */
    VpDomainSpec spec = plan->domain;
    spec.metadata = (char *)plan->metadata_first;
    g_autofree char *first = vp_domain_xml_build(&spec);
    g_autofree char *uuid = vp_virt_domain_define(virt, first, error);
    if (uuid == NULL) {
        return FALSE;
    }
    r->defined = TRUE;
    vp_workflow_undo(t, what, VP_UNDO_UNDEFINE, virt, NULL, plan->name, NULL);
    g_free(plan->domain.uuid);
    plan->domain.uuid = g_strdup(uuid);
    g_free(r->uuid);
    r->uuid = g_steal_pointer(&uuid);
    return TRUE;
}

static gboolean
vp_make_domain(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
               VpTransaction *t, GError **error)
{
    g_autofree char *what = g_strdup_printf(_("domain '%1$s'"), plan->name);
    /* Defined already with its record: this definition replaces that one,
     * whose undo is registered. */
    gboolean redefine = r->defined;

    vp_workflow_step(&plan->run, _("defining domain '%1$s'"), plan->name);
    g_autofree char *uuid = vp_virt_domain_define(virt, r->domain_xml, error);
    if (uuid == NULL) {
        return FALSE;
    }
    r->defined = TRUE;
    g_free(r->uuid);
    r->uuid = g_steal_pointer(&uuid);
    if (!redefine) {
        vp_workflow_undo(t, what, VP_UNDO_UNDEFINE, virt, NULL, plan->name, NULL);
    }
    if (plan->autostart &&
        !vp_virt_domain_set_autostart(virt, plan->name, TRUE, error)) {
        return FALSE;
    }
    r->autostart = plan->autostart;
    /* --wait needs a running guest to have an address, so it implies --start.
     * Each state change registers its own undo: a failed start leaves only the
     * undefine to run, a failure after it stops the guest first. */
    if (plan->start || plan->wait) {
        vp_workflow_step(&plan->run, _("starting domain '%1$s'"), plan->name);
        if (!vp_cancel_check(plan->run.cancel, error) ||
            !vp_virt_domain_start(virt, plan->name, error)) {
            return FALSE;
        }
        r->started = TRUE;
        g_autofree char *running = g_strdup_printf(_("running domain '%1$s'"),
                                                   plan->name);
        vp_workflow_undo(t, running, VP_UNDO_DESTROY, virt, NULL, plan->name, NULL);
    }
    return TRUE;
}

/* --wait: polls the guest agent until it reports an address other than
 * loopback.  The guest was created correctly and stays whatever happens
 * here: a timeout is reported in R->wait_error with what was last seen,
 * and Ctrl-C only stops the waiting. */
static gboolean
vp_wait_for_address(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                    GError **error)
{
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)plan->wait_seconds * G_USEC_PER_SEC;
    g_autofree char *last = g_strdup(_("the guest agent never answered"));

    vp_workflow_step(&plan->run, _("waiting up to %1$u s for an address of "
                                      "domain '%2$s'"),
                     plan->wait_seconds, plan->name);
    for (;;) {
        g_autoptr(GError) local = NULL;
        g_autoptr(GPtrArray) found = vp_workflow_guest_addresses(virt, plan->name,
                                                                 NULL, &local);
        if (found != NULL && found->len > 0) {
            r->addresses = g_steal_pointer(&found);
            return TRUE;
        }
        g_free(last);
        last = found != NULL
                   ? g_strdup(_("the guest agent answers but reports no "
                                "address yet"))
                   : g_strdup(local->message);
        if (g_get_monotonic_time() >= deadline) {
            r->wait_error = g_strdup_printf(
                _("domain '%1$s' reported no address within %2$u s (last "
                  "seen: %3$s); it was created and is left running"),
                plan->name, plan->wait_seconds, last);
            return TRUE;
        }
        /* Once a second is plenty for a guest that takes minutes to boot,
         * and each poll is one round trip to the daemon and the agent. */
        for (int i = 0; i < 10; i++) {
            if (!vp_cancel_check(plan->run.cancel, error)) {
                return FALSE;
            }
            g_usleep(G_USEC_PER_SEC / 10);
        }
    }
}

/* The disk as an overlay on BASE: every cluster preallocated with extended
 * L2 entries whose subclusters are all unallocated, so that reads go to the
 * base and a guest's first write to any cluster allocates nothing; at
 * least as large as the base, and as large unless a size was given. */
static gboolean
vp_plan_overlay(VpProvisionPlan *plan, const VpBaseInfo *base,
                VpProvisionResult *r, GError **error)
{
    VpImageOptions *o = &plan->image;

    /* No --size: the overlay is exactly as large as its base. */
    if (o->size == 0) {
        o->size = base->virtual_size;
    } else if (o->size < base->virtual_size) {
        g_autofree char *want = vp_size_format(o->size);
        g_autofree char *have = vp_size_format(base->virtual_size);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%4$s %1$s is smaller than base '%2$s' (%3$s): an "
                      "overlay can grow a disk, never shrink it; leave %4$s "
                      "out or give at least %3$s"), want, base->volume, have,
                    vp_run_option(&plan->run, VP_OPTION_ERROR_SIZE));
        return FALSE;
    }
    if (o->format != VP_FORMAT_QCOW2) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("an overlay on a base is qcow2; drop %1$s raw"),
                    vp_run_option(&plan->run, VP_OPTION_ERROR_FORMAT));
        return FALSE;
    }
    /* The result owns the names: the layout keeps pointing at them. */
    r->base_path = g_strdup(base->path);
    r->base_format = g_strdup(base->format);
    o->backing_file = r->base_path;
    o->backing_format = r->base_format;
    o->extended_l2 = TRUE;
    /* The zero flag would hide the base; unallocated subclusters never
     * expose a block device's stale bytes anyway, since qemu reads them
     * from the base until the guest writes them. */
    o->zero_flag = FALSE;
    r->base = g_strdup_printf("%s/%s", base->pool, base->volume);
    return TRUE;
}

static gboolean
vp_provision_plan(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                  gboolean *block, GError **error)
{
    g_auto(VpPoolInfo) pool = { 0 };
    g_auto(VpBaseInfo) base = { 0 };

    if (!vp_plan_pool(virt, plan, r, &pool, block, error)) {
        return FALSE;
    }
    /* A block device reads back stale bytes, so its image must carry zero
     * flags or zeros: the image options change before the layout is computed.
     */
    if (*block) {
        vp_workflow_block_image(&plan->image);
    }
    if (plan->base != NULL &&
        (!vp_base_resolve(&plan->run, virt, plan->pool, plan->base, &base,
                          error) ||
         !vp_plan_overlay(plan, &base, r, error))) {
        return FALSE;
    }
    if (!vp_qcow2_layout_compute(&plan->image, &r->layout, error) ||
        !vp_workflow_check_space(&plan->run, plan->pool, &pool, &r->layout,
                                 *block, error) ||
        !vp_plan_conflicts(virt, plan, r, error)) {
        return FALSE;
    }
    /* Provisional paths for --print-xml and --dry-run; a real run takes the
     * path libvirt reports once the volume exists. */
    r->volume_path = g_build_filename(pool.path, r->volume, NULL);
    if (r->seed_volume != NULL) {
        r->seed_path = g_build_filename(pool.path, r->seed_volume, NULL);
    }
    /* --no-define stops at the volume: no domain checks or capabilities. */
    if (!plan->define) {
        return TRUE;
    }
    VpDomainSpec *d = &plan->domain;
    d->name = g_strdup(plan->name);
    d->uuid = g_strdup(r->uuid);
    d->seed_path = g_strdup(r->seed_path);
    d->metadata = g_strdup(plan->metadata);
    if (base.chain != NULL) {
        d->disk_backing = g_steal_pointer(&base.chain);
        /* The base is a system: boot it, unless media were given. */
        if (d->install == VP_INSTALL_PXE) {
            d->install = VP_INSTALL_IMPORT;
        }
    }
    d->disk_path = g_strdup(r->volume_path);
    d->disk_block = *block;
    d->disk_format = g_strdup(vp_image_format_to_string(plan->image.format));
    if (!vp_fill_hypervisor(virt, d, error) || !vp_fill_network(virt, d, error) ||
        !vp_reservations_plan(virt, plan->name, d, error)) {
        return FALSE;
    }
    r->domain_xml = vp_domain_xml_build(d);
    return TRUE;
}

gboolean
vp_provision_check(const VpProvisionPlan *plan, VpQcow2Layout *layout,
                   GError **error)
{
    if (!vp_check_name(plan, error)) {
        return FALSE;
    }
    if (plan->image.size == 0 && plan->base == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s must be more than 0 for a guest disk, such as %1$s "
                      "20G"), vp_run_option(&plan->run, VP_OPTION_ERROR_SIZE));
        return FALSE;
    }
    /* Every option is checked before a connection is even made; an overlay
     * is checked as one (extended L2, a backing file), whatever the base. */
    /* A copy, so that placeholders for the base never reach the plan: the real
     * backing file and size are known only once the base is looked up. */
    VpImageOptions early = plan->image;
    if (plan->base != NULL) {
        early.size = MAX(early.size, 512);
        early.backing_file = "base";
        early.backing_format = "raw";
        early.extended_l2 = TRUE;
    }
    if (!vp_qcow2_layout_compute(&early, layout, error)) {
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_provision_run(VpProvisionPlan *plan, VpProvisionResult *r, GError **error)
{
    gboolean block = FALSE;

    g_autoptr(VpSeed) seed = NULL;
    g_autoptr(GBytes) seed_iso = NULL;

    *r = (VpProvisionResult){ 0 };
    if (!vp_provision_check(plan, &r->layout, error)) {
        return FALSE;
    }
    r->pool = g_strdup(plan->pool);
    r->domain = g_strdup(plan->name);
    r->volume = vp_provision_volume_name(plan->name, plan->image.format);
    /* The seed's files are read and checked, and the ISO built, before
     * anything exists on the host.  Its instance-id is the domain's UUID,
     * chosen here: unique per guest, and what cloud-init keys its
     * first-boot work on. */
    if (plan->cloud_init != NULL) {
        r->uuid = g_uuid_string_random();
        seed = vp_seed_load(plan->cloud_init, plan->name, r->uuid, error);
        seed_iso = seed != NULL ? vp_seed_iso(seed, error) : NULL;
        if (seed_iso == NULL) {
            return FALSE;
        }
        r->seed_volume = vp_provision_seed_name(plan->name);
        r->seed_size = g_bytes_get_size(seed_iso);
    }

    g_autoptr(VpVirt) own = plan->virt == NULL
                                ? vp_workflow_connect(&plan->run, FALSE, error)
                                : NULL;
    VpVirt *virt = plan->virt != NULL ? plan->virt : own;
    if (virt == NULL) {
        return FALSE;
    }
    r->uri = g_strdup(vp_virt_uri(virt));
    /* A borrowed connection was made, and said so, by its owner. */
    if (own != NULL) {
        vp_workflow_step(&plan->run, _("connected to '%1$s'"), r->uri);
    }
    if (!vp_provision_plan(virt, plan, r, &block, error)) {
        return FALSE;
    }
    /* Everything was validated; nothing has been created yet. */
    if (plan->print_xml || plan->dry_run) {
        return TRUE;
    }

    g_autoptr(VpTransaction) t = vp_transaction_new();
    gboolean ok = TRUE;
    /* Reverse order of creation on failure: a running guest is stopped before
     * it is undefined, and the volumes are deleted before the pool they live
     * in, which is removed only if this run created it. */
    if (r->pool_created) {
        g_autofree char *pool_path = g_path_get_dirname(r->volume_path);
        ok = vp_workflow_create_pool(&plan->run, virt, plan->pool, pool_path, t,
                                     error);
    }
    ok = ok && (plan->metadata_first == NULL ||
                vp_define_record(virt, plan, r, t, error));
    ok = ok && vp_write_volume(virt, plan, r, block, t, error);
    if (ok && seed_iso != NULL) {
        g_free(r->seed_path);
        r->seed_path = NULL;
        ok = vp_cancel_check(plan->run.cancel, error) &&
             vp_workflow_upload_bytes(&plan->run, virt, plan->pool,
                                      r->seed_volume, seed_iso, t,
                                      &r->seed_path, error);
        g_free(plan->domain.seed_path);
        plan->domain.seed_path = g_strdup(r->seed_path);
    }
    if (ok && plan->define) {
        /* The XML named the path the pool would give; use libvirt's. */
        g_free(plan->domain.disk_path);
        plan->domain.disk_path = g_strdup(r->volume_path);
        g_free(r->domain_xml);
        r->domain_xml = vp_domain_xml_build(&plan->domain);
        ok = vp_cancel_check(plan->run.cancel, error) &&
             vp_reservations_make(&plan->run, virt, plan->name, &plan->domain, t,
                                  error) &&
             vp_make_domain(virt, plan, r, t, error);
    }
    /* The rollback's own failure is put in front of the original error, so the
     * user learns what was left behind as well as why the run failed. */
    if (!ok) {
        g_autoptr(GError) undo_error = NULL;
        vp_workflow_step(&plan->run, _("undoing what this run created"));
        if (!vp_transaction_rollback(t, &undo_error)) {
            vp_workflow_add_undo_error(error, undo_error);
        }
        r->defined = FALSE;
        r->started = FALSE;
        return FALSE;
    }
    /* Committed before --wait: the guest is complete, and a timeout or Ctrl-C
     * while waiting must not destroy it. */
    vp_transaction_commit(t);
    r->created = TRUE;
    return !plan->wait || vp_wait_for_address(virt, plan, r, error);
}
