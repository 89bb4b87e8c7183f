#include "provision.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-emit.h"
#include "transaction.h"
#include "virt.h"
#include "workflow.h"

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
    *r = (VpProvisionResult){ 0 };
}

/* ---- planning --------------------------------------------------------- */

static gboolean
vp_check_name(const char *name, GError **error)
{
    if (name == NULL || name[0] == '\0') {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("--name is required: the name of the guest, "
                              "such as --name zabbix"));
        return FALSE;
    }
    if (!g_utf8_validate(name, -1, NULL) || strchr(name, '/') != NULL ||
        name[0] == '.' || strpbrk(name, "\n\r\t") != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --name '%1$s': a guest name cannot contain '/' "
                      "or control characters, nor start with '.'"), name);
        return FALSE;
    }
    return TRUE;
}

/* Virt type, machine and emulator from the host's domain capabilities. */
static gboolean
vp_fill_hypervisor(VpVirt *virt, VpDomainSpec *d, GError **error)
{
    g_autofree char *caps = NULL;

    if (d->virt_type == NULL) {
        g_autoptr(GError) local = NULL;
        caps = vp_virt_domain_caps(virt, "kvm", d->arch, d->machine, &local);
        d->virt_type = g_strdup(caps != NULL ? "kvm" : "qemu");
    }
    if (caps == NULL && d->machine == NULL &&
        (d->arch == NULL || g_strcmp0(d->arch, "x86_64") == 0)) {
        /* q35 where the host has it: PCIe, SATA, as virt-install picks. */
        caps = vp_virt_domain_caps(virt, d->virt_type, d->arch, "q35", NULL);
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
    gboolean exists;
    gboolean active;

    if (d->net != VP_NET_DEFAULT) {
        return TRUE;
    }
    if (!vp_virt_network_state(virt, "default", &exists, &active, error)) {
        return FALSE;
    }
    d->net = exists && active ? VP_NET_NETWORK : VP_NET_USER;
    if (d->net == VP_NET_NETWORK) {
        d->net_source = g_strdup("default");
    }
    return TRUE;
}

static char *
vp_default_pool_path(VpVirt *virt)
{
    if (vp_virt_is_session(virt)) {
        return g_build_filename(g_get_user_data_dir(), "libvirt", "images", NULL);
    }
    return g_strdup("/var/lib/libvirt/images");
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
            /* As virt-install: a missing default pool becomes a directory. */
            pool->path = vp_default_pool_path(virt);
            *block = FALSE;
            r->pool_created = TRUE;
            return TRUE;
        }
        vp_pool_info_clear(pool);
    }
    return vp_workflow_active_pool(virt, plan->pool, plan->image.format, pool,
                                   block, error);
}

static gboolean
vp_plan_conflicts(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                  GError **error)
{
    gboolean exists = FALSE;

    if (!r->pool_created &&
        !vp_virt_volume_exists(virt, plan->pool, r->volume, &exists, error)) {
        return FALSE;
    }
    if (exists) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("volume '%1$s' already exists in pool '%2$s'; choose "
                      "another --name, or delete it with virsh vol-delete "
                      "--pool %2$s %1$s"), r->volume, plan->pool);
        return FALSE;
    }
    if (plan->define &&
        !vp_virt_domain_exists(virt, plan->name, &exists, error)) {
        return FALSE;
    }
    if (plan->define && exists) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("domain '%1$s' already exists; choose another --name, or "
                      "remove it with virsh undefine %1$s"), plan->name);
        return FALSE;
    }
    return TRUE;
}

/* ---- doing ------------------------------------------------------------ */

static gboolean
vp_write_volume(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                gboolean block, VpTransaction *t, GError **error)
{
    g_auto(VpVolumeInfo) info = { 0 };

    if (!vp_workflow_write_volume(virt, plan->pool, r->volume, &r->layout,
                                  block, NULL, t, plan->verbose, plan->progress,
                                  plan->cancel, &info, error)) {
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

static gboolean
vp_make_domain(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
               VpTransaction *t, GError **error)
{
    g_autofree char *what = g_strdup_printf(_("domain '%1$s'"), plan->name);

    vp_workflow_step(plan->verbose, _("defining domain '%1$s'"), plan->name);
    r->uuid = vp_virt_domain_define(virt, r->domain_xml, error);
    if (r->uuid == NULL) {
        return FALSE;
    }
    r->defined = TRUE;
    vp_workflow_undo(t, what, VP_UNDO_UNDEFINE, virt, NULL, plan->name, NULL);
    if (plan->autostart &&
        !vp_virt_domain_set_autostart(virt, plan->name, TRUE, error)) {
        return FALSE;
    }
    r->autostart = plan->autostart;
    if (plan->start) {
        vp_workflow_step(plan->verbose, _("starting domain '%1$s'"), plan->name);
        if (!vp_cancel_check(plan->cancel, error) ||
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

static gboolean
vp_provision_plan(VpVirt *virt, VpProvisionPlan *plan, VpProvisionResult *r,
                  gboolean *block, GError **error)
{
    g_auto(VpPoolInfo) pool = { 0 };

    if (!vp_plan_pool(virt, plan, r, &pool, block, error)) {
        return FALSE;
    }
    if (*block) {
        vp_workflow_block_image(&plan->image);
    }
    if (!vp_qcow2_layout_compute(&plan->image, &r->layout, error) ||
        !vp_workflow_check_space(plan->pool, &pool, &r->layout, *block, error) ||
        !vp_plan_conflicts(virt, plan, r, error)) {
        return FALSE;
    }
    r->volume_path = g_build_filename(pool.path, r->volume, NULL);
    if (!plan->define) {
        return TRUE;
    }
    VpDomainSpec *d = &plan->domain;
    d->name = g_strdup(plan->name);
    d->disk_path = g_strdup(r->volume_path);
    d->disk_block = *block;
    d->disk_format = g_strdup(vp_image_format_to_string(plan->image.format));
    if (!vp_fill_hypervisor(virt, d, error) || !vp_fill_network(virt, d, error)) {
        return FALSE;
    }
    r->domain_xml = vp_domain_xml_build(d);
    return TRUE;
}

gboolean
vp_provision_run(VpProvisionPlan *plan, VpProvisionResult *r, GError **error)
{
    gboolean block = FALSE;

    *r = (VpProvisionResult){ 0 };
    if (!vp_check_name(plan->name, error)) {
        return FALSE;
    }
    if (plan->image.size == 0) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("--size must be more than 0 for a guest disk, "
                              "such as --size 20G"));
        return FALSE;
    }
    /* Every option is checked before a connection is even made. */
    if (!vp_qcow2_layout_compute(&plan->image, &r->layout, error)) {
        return FALSE;
    }
    r->pool = g_strdup(plan->pool);
    r->domain = g_strdup(plan->name);
    r->volume = g_strdup_printf("%s.%s", plan->name,
                                plan->image.format == VP_FORMAT_RAW ? "img"
                                                                    : "qcow2");

    g_autoptr(VpVirt) virt = vp_virt_connect(plan->uri, error);
    if (virt == NULL) {
        return FALSE;
    }
    r->uri = g_strdup(vp_virt_uri(virt));
    vp_workflow_step(plan->verbose, _("connected to '%1$s'"), r->uri);
    if (!vp_provision_plan(virt, plan, r, &block, error)) {
        return FALSE;
    }
    if (plan->print_xml || plan->dry_run) {
        return TRUE;
    }

    g_autoptr(VpTransaction) t = vp_transaction_new();
    gboolean ok = TRUE;
    if (r->pool_created) {
        g_autofree char *pool_path = g_path_get_dirname(r->volume_path);
        g_autofree char *what = g_strdup_printf(_("storage pool '%1$s'"),
                                                plan->pool);
        vp_workflow_step(plan->verbose, _("creating directory pool '%1$s' at '%2$s'"),
                plan->pool, pool_path);
        ok = vp_virt_pool_create_dir(virt, plan->pool, pool_path, error);
        if (ok) {
            vp_workflow_undo(t, what, VP_UNDO_POOL, virt, plan->pool, NULL, NULL);
        }
    }
    ok = ok && vp_write_volume(virt, plan, r, block, t, error);
    if (ok && plan->define) {
        /* The XML named the path the pool would give; use libvirt's. */
        g_free(plan->domain.disk_path);
        plan->domain.disk_path = g_strdup(r->volume_path);
        g_free(r->domain_xml);
        r->domain_xml = vp_domain_xml_build(&plan->domain);
        ok = vp_cancel_check(plan->cancel, error) && vp_make_domain(virt, plan, r, t, error);
    }
    if (!ok) {
        g_autoptr(GError) undo_error = NULL;
        vp_workflow_step(plan->verbose, _("undoing what this run created"));
        if (!vp_transaction_rollback(t, &undo_error)) {
            g_prefix_error(error, "%s; ", undo_error->message);
        }
        r->defined = FALSE;
        r->started = FALSE;
        return FALSE;
    }
    vp_transaction_commit(t);
    r->created = TRUE;
    return TRUE;
}
