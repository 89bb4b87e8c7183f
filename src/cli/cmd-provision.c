/* virt-provision [provision] --pool POOL --name NAME --size SIZE [DISK]
 * [DOMAIN]: the product.  Options follow virt-install's words. */
#include <glib/gi18n.h>

#include "command.h"
#include "disk-args.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "interrupt.h"
#include "json-util.h"
#include "option-hints.h"
#include "provision-args.h"
#include "provision-plan.h"
#include "provision.h"
#include "run-env.h"
#include "seed.h"
#include "size.h"
#include "virt.h"

void
vp_json_add_addresses(JsonBuilder *b, const GPtrArray *addresses)
{
    json_builder_set_member_name(b, "addresses");
    json_builder_begin_array(b);
    for (guint i = 0; addresses != NULL && i < addresses->len; i++) {
        const VpAddress *a = g_ptr_array_index(addresses, i);
        json_builder_begin_object(b);
        vp_json_add_string(b, "interface", a->interface);
        vp_json_add_string(b, "address", a->address);
        vp_json_add_int(b, "prefix", a->prefix);
        vp_json_add_string(b, "family", a->ipv6 ? "ipv6" : "ipv4");
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* "nics": the guest's NICs in order, each with its network or bridge,
 * MAC (where the tool chose or was given one) and reserved address. */
static void
vp_provision_json_nics(JsonBuilder *b, const VpDomainSpec *d)
{
    static const char *const kinds[] = { "network", "network", "bridge", "user" };

    json_builder_set_member_name(b, "nics");
    json_builder_begin_array(b);
    for (guint i = 0; d->nics != NULL && i < d->nics->len; i++) {
        const VpNic *nic = g_ptr_array_index(d->nics, i);
        json_builder_begin_object(b);
        vp_json_add_string(b, "type", kinds[nic->kind]);
        vp_json_add_string(b, "source", nic->source);
        vp_json_add_string(b, "mac", nic->mac);
        vp_json_add_string(b, "model", nic->model != NULL ? nic->model : "virtio");
        vp_json_add_string(b, "ip", nic->ip);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* Built from the result, not the plan: sizes and paths are what libvirt
 * reported once the volume existed.  For a dry run (created false) the planned
 * values stand in, so the document has the same shape either way. */
static JsonNode *
vp_provision_json(const VpProvisionPlan *plan, const VpProvisionResult *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    const VpImageOptions *o = &r->layout.opts;

    json_builder_begin_object(b);
    vp_json_add_string(b, "uri", r->uri);
    vp_json_add_bool(b, "created", r->created);
    json_builder_set_member_name(b, "volume");
    json_builder_begin_object(b);
    vp_json_add_string(b, "pool", r->pool);
    vp_json_add_string(b, "name", r->volume);
    vp_json_add_string(b, "path", r->volume_path);
    vp_json_add_int(b, "capacity", r->created ? r->capacity : r->layout.virtual_size);
    vp_json_add_int(b, "file-length", r->created ? r->file_length : r->layout.file_length);
    vp_json_add_int(b, "allocation", r->allocation);
    vp_json_add_string(b, "format", vp_image_format_to_string(o->format));
    vp_json_add_string(b, "preallocation", vp_preallocation_to_string(o->preallocation));
    if (o->format == VP_FORMAT_QCOW2) {
        vp_json_add_string(b, "compat", vp_compat_to_string(o->version));
        vp_json_add_int(b, "cluster-size", r->layout.cluster_size);
    }
    if (r->base != NULL) {
        vp_json_add_string(b, "base", r->base);
        vp_json_add_string(b, "backing-filename", r->base_path);
        vp_json_add_string(b, "backing-filename-format", r->base_format);
    }
    /* A pool planned for creation was only created if the run went ahead. */
    vp_json_add_bool(b, "pool-created", r->pool_created && r->created);
    json_builder_end_object(b);
    if (r->seed_volume != NULL) {
        json_builder_set_member_name(b, "seed");
        json_builder_begin_object(b);
        vp_json_add_string(b, "name", r->seed_volume);
        vp_json_add_string(b, "path", r->seed_path);
        vp_json_add_int(b, "size", r->seed_size);
        json_builder_end_object(b);
    }
    /* Sections exist only for what the run was asked to make, so that a
     * missing key means "not asked for", never "failed". */
    if (plan->define) {
        json_builder_set_member_name(b, "domain");
        json_builder_begin_object(b);
        vp_json_add_string(b, "name", r->domain);
        if (r->uuid != NULL) {
            vp_json_add_string(b, "uuid", r->uuid);
        }
        vp_json_add_bool(b, "defined", r->defined);
        vp_json_add_bool(b, "started", r->started);
        vp_json_add_bool(b, "autostart", r->autostart);
        json_builder_end_object(b);
        vp_provision_json_nics(b, &plan->domain);
    }
    if (plan->wait) {
        vp_json_add_addresses(b, r->addresses);
        /* Always present with --wait, null on success: a script tests one key
         * instead of guessing from the address list. */
        vp_json_add_string(b, "wait-error", r->wait_error);
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static void
vp_provision_human_nics(const VpDomainSpec *d)
{
    for (guint i = 0; d->nics != NULL && i < d->nics->len; i++) {
        const VpNic *nic = g_ptr_array_index(d->nics, i);
        if (nic->ip != NULL) {
            g_print("  ");
            g_print(_("reserved %1$s for MAC %2$s in network '%3$s'\n"),
                    nic->ip, nic->mac, nic->source);
        }
    }
}

static void
vp_provision_human(const VpProvisionPlan *plan, const VpProvisionResult *r)
{
    const VpImageOptions *o = &r->layout.opts;
    g_autofree char *size = vp_size_format(r->layout.virtual_size);
    g_autofree char *cs = vp_size_format(r->layout.cluster_size);

    /* Nothing was created (--dry-run): the plan, with the path the volume
     * would get, and no claim about the domain beyond what would be done. */
    if (!r->created) {
        g_print(_("Dry run on '%1$s': nothing was created.\n"), r->uri);
        g_print(_("Would create volume '%1$s' in pool '%2$s' (%3$s): %4$s, %5$s, "
                  "preallocation %6$s\n"),
                r->volume, r->pool, r->volume_path,
                vp_image_format_to_string(o->format), size,
                vp_preallocation_to_string(o->preallocation));
        if (plan->define) {
            g_print(plan->start || plan->wait
                        ? _("Would define domain '%1$s' and start it\n")
                                : _("Would define domain '%1$s'\n"),
                    r->domain);
        }
        return;
    }
    if (r->pool_created) {
        g_print(_("Created storage pool '%1$s'\n"), r->pool);
    }
    if (o->format == VP_FORMAT_RAW) {
        g_print(_("Created volume '%1$s' in pool '%2$s': raw, %3$s, "
                  "preallocation %4$s\n  %5$s\n"),
                r->volume, r->pool, size,
                vp_preallocation_to_string(o->preallocation), r->volume_path);
    } else {
        g_print(_("Created volume '%1$s' in pool '%2$s': qcow2 (compat %3$s), "
                  "%4$s, preallocation %5$s, %6$s clusters\n  %7$s\n"),
                r->volume, r->pool, vp_compat_to_string(o->version), size,
                vp_preallocation_to_string(o->preallocation), cs,
                r->volume_path);
    }
    if (r->base != NULL) {
        g_print("  ");
        g_print(_("an overlay on '%1$s' (%2$s)\n"), r->base, r->base_format);
    }
    if (r->seed_volume != NULL) {
        g_print(_("Created the cloud-init seed '%1$s' in pool '%2$s'\n  %3$s\n"),
                r->seed_volume, r->pool, r->seed_path);
    }
    /* The next command the user most likely wants is printed with the result:
     * a console for a running guest, a start for a defined one. */
    if (r->started) {
        g_print(_("Defined and started domain '%1$s' (UUID %2$s); console: "
                  "virsh console %1$s\n"), r->domain, r->uuid);
        for (guint i = 0; r->addresses != NULL && i < r->addresses->len; i++) {
            const VpAddress *a = g_ptr_array_index(r->addresses, i);
            g_print("  ");
            g_print(_("address %1$s/%2$u on %3$s\n"), a->address, a->prefix,
                    a->interface);
        }
    } else if (r->defined) {
        g_print(_("Defined domain '%1$s' (UUID %2$s); start it with: virsh "
                  "start %1$s\n"), r->domain, r->uuid);
    }
    if (r->defined) {
        vp_provision_human_nics(&plan->domain);
    }
}

gboolean
vp_provision_plan_from_args(const VpProvisionArgs *a, const VpDiskArgs *disk,
                            const VpSeedOptions *seed, VpProvisionPlan *plan,
                            GError **error)
{
    /* --name is checked by the workflow, whose message says what a valid name
     * is; --size may come from the base instead. */
    if (a->pool == NULL || (a->size == NULL && a->base == NULL)) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("provisioning needs --pool, --name and --size, "
                              "such as --pool default --name zabbix --size 20G"));
        return FALSE;
    }
    /* Options that only make sense for a domain are refused with --no-define
     * rather than silently dropped. */
    if (a->no_define && (a->start || a->autostart || a->print_xml)) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("--no-define creates no domain: drop --start, "
                              "--autostart and --print-xml"));
        return FALSE;
    }
    if (a->no_define && (a->cloud_init != NULL || a->wait)) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("--no-define creates no domain: drop --cloud-init "
                              "and --wait"));
        return FALSE;
    }
    if (a->wait && !vp_provision_args_wait(a, &plan->wait_seconds, error)) {
        return FALSE;
    }
    vp_image_options_init(&plan->image);
    if ((a->size != NULL &&
         !vp_size_parse(a->size, "--size", &plan->image.size, error)) ||
        !vp_disk_args_resolve(disk, &plan->image, error) ||
        /* Domain options are resolved only when a domain will exist, so that
         * --no-define does not reject options it would never use. */
        (!a->no_define &&
         !vp_provision_args_resolve(a, &plan->domain, error))) {
        return FALSE;
    }
    plan->pool = a->pool;
    plan->name = a->name;
    plan->define = !a->no_define;
    plan->start = a->start;
    plan->autostart = a->autostart;
    plan->print_xml = a->print_xml;
    plan->dry_run = a->dry_run;
    plan->base = a->base;
    plan->cloud_init = seed;
    plan->wait = a->wait;
    return TRUE;
}

int
vp_cmd_provision(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpDiskArgs) disk = { 0 };
    g_auto(VpProvisionArgs) a = { 0 };
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&disk);
    g_autofree GOptionEntry *entries = vp_provision_option_entries(&a);
    VpProvisionPlan plan = { 0 };
    g_auto(VpProvisionResult) result = { 0 };

    if (!vp_cli_parse_data(cmd, &a, &argc, &argv, &error, entries, disk_entries,
                           NULL)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Every option is checked before the first connection: a typo must never
     * leave half a guest, and usage errors exit 2 before libvirt is asked. */
    if (argc > 1) {
        g_set_error(&error, VP_ERROR, VP_ERROR_INVALID,
                    _("unexpected argument '%1$s'; see 'virt-provision "
                      "provision --help'"), argv[1]);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    g_auto(VpSeedOptions) seed = { 0 };
    if (!vp_provision_plan_from_args(&a, &disk, a.cloud_init != NULL ? &seed : NULL,
                                     &plan, &error)) {
        vp_domain_spec_clear(&plan.domain);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* The seed's sub-options are parsed here so that their errors name
     * --cloud-init; its files are read later, still before anything is made. */
    if (a.cloud_init != NULL &&
        !vp_seed_options_parse(a.cloud_init, &seed, &error)) {
        vp_domain_spec_clear(&plan.domain);
        vp_cli_label_error(error, "--cloud-init");
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Last before the run: from here on Ctrl-C must unwind and undo, not kill
     * the process (vp_cli_run_env installs the handlers). */
    if (!vp_cli_run_env(&plan.run, _("uploading"), &error)) {
        vp_domain_spec_clear(&plan.domain);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    gboolean ok = vp_provision_run(&plan, &result, &error);
    /* --print-xml owns stdout: the XML alone, so that it can be piped into
     * virsh define; with --json it is the one document's "domain-xml". */
    if (ok && plan.print_xml && vp_global.json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        vp_json_add_string(b, "domain-xml", result.domain_xml);
        json_builder_end_object(b);
        vp_cli_print_json(json_builder_get_root(b));
    } else if (ok && plan.print_xml) {
        g_print("%s", result.domain_xml);
    } else if (ok && vp_global.json) {
        vp_cli_print_json(vp_provision_json(&plan, &result));
    } else if (ok && !vp_global.quiet) {
        vp_provision_human(&plan, &result);
    }
    /* The spec holds copies of the arguments and is the CLI's to free. */
    vp_domain_spec_clear(&plan.domain);
    /* Exit 1 although the guest exists: a script that asked for --wait needs
     * to know that it has no address to use yet. */
    if (ok && result.wait_error != NULL) {
        /* The guest exists and runs; only the wait failed. */
        g_printerr("%s: %s\n", g_get_prgname(), result.wait_error);
        return VP_EXIT_FAILED;
    }
    return ok ? VP_EXIT_OK : vp_cli_fail(g_steal_pointer(&error));
}
