/* virt-provision attach and convert --domain: the two commands that edit
 * an existing domain (in virt-provision-libvirt). */
#include <glib/gi18n.h>

#include "cmd-convert.h"
#include "command.h"
#include "disk-args.h"
#include "domain-ops.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "interrupt.h"
#include "json-util.h"
#include "provision-args.h"
#include "run-env.h"
#include "size.h"

/* One document for both commands, so that a script reads attach and convert
 * alike; the few keys that exist for one only depend on CONVERT. */
static JsonNode *
vp_domain_op_json(const VpDomainOpResult *r, gboolean convert)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    const VpImageOptions *o = &r->layout.opts;

    json_builder_begin_object(b);
    vp_json_add_string(b, "uri", r->uri);
    vp_json_add_string(b, "domain", r->domain);
    vp_json_add_string(b, "target", r->target);
    vp_json_add_bool(b, "changed", r->changed);
    if (convert) {
        vp_json_add_string(b, "source-path", r->old_path);
        vp_json_add_string(b, "source-format", r->old_format);
        vp_json_add_bool(b, "source-deleted", r->source_deleted);
    } else {
        vp_json_add_bool(b, "live", r->live);
    }
    json_builder_set_member_name(b, "volume");
    json_builder_begin_object(b);
    vp_json_add_string(b, "pool", r->pool);
    vp_json_add_string(b, "name", r->volume);
    if (r->path != NULL) {
        vp_json_add_string(b, "path", r->path);
    }
    /* Before a change (--print-diff) the volume does not exist yet: the
     * planned sizes are all there is.  After one, what libvirt reports. */
    vp_json_add_int(b, "capacity", r->changed ? r->capacity : r->layout.virtual_size);
    vp_json_add_int(b, "file-length", r->changed ? r->file_length : r->layout.file_length);
    vp_json_add_int(b, "allocation", r->allocation);
    vp_json_add_string(b, "format", vp_image_format_to_string(o->format));
    vp_json_add_string(b, "preallocation", vp_preallocation_to_string(o->preallocation));
    json_builder_end_object(b);
    /* Named in the result so that whoever runs the tool from a script can
     * restore the old definition without searching for it. */
    if (r->backup != NULL) {
        vp_json_add_string(b, "previous-definition", r->backup);
    }
    vp_json_add_string(b, "diff", r->diff);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static int
vp_domain_op_report(const VpDomainOpPlan *plan, const VpDomainOpResult *r,
                    gboolean convert)
{
    /* --print-diff changed nothing, so there is nothing more to report than
     * the change it would make. */
    if (plan->print_diff) {
        if (vp_global.json) {
            vp_cli_print_json(vp_domain_op_json(r, convert));
        } else {
            /* The diff as it is, for patch-like tools: no heading, no
             * translation. */
            g_print("%s", r->diff);
        }
        return VP_EXIT_OK;
    }
    if (vp_global.json) {
        vp_cli_print_json(vp_domain_op_json(r, convert));
        return VP_EXIT_OK;
    }
    /* Quiet drops the summary only: errors still go to stderr. */
    if (vp_global.quiet) {
        return VP_EXIT_OK;
    }
    g_autofree char *size = vp_size_format(r->layout.virtual_size);
    if (convert) {
        g_print(_("Copied disk '%1$s' of domain '%2$s' (%3$s, %4$s) into volume "
                  "'%5$s' in pool '%6$s': qcow2, %7$s, preallocation %8$s\n  %9$s\n"),
                r->target, r->domain, r->old_format, r->old_path, r->volume,
                r->pool, size,
                vp_preallocation_to_string(r->layout.opts.preallocation), r->path);
        /* Said explicitly either way, since the old volume still takes space
         * when it was kept. */
        g_print(r->source_deleted ? _("The domain now uses it; the source "
                                      "volume was deleted.\n")
                                  : _("The domain now uses it; the source was "
                                      "kept.\n"));
    } else {
        g_print(r->live ? _("Added disk '%1$s' to domain '%2$s' (also hot-plugged): "
                            "volume '%3$s' in pool '%4$s', %5$s, preallocation "
                            "%6$s\n  %7$s\n")
                        : _("Added disk '%1$s' to domain '%2$s': volume '%3$s' "
                            "in pool '%4$s', %5$s, preallocation %6$s\n  %7$s\n"),
                r->target, r->domain, r->volume, r->pool, size,
                vp_preallocation_to_string(r->layout.opts.preallocation), r->path);
    }
    if (r->backup != NULL) {
        g_print(_("The previous definition is kept in %1$s (restore it with "
                  "virsh define).\n"), r->backup);
    }
    return VP_EXIT_OK;
}

/* attach: the CLI half only.  What may be changed, and in which order it is
 * undone, is domain-ops.c's. */
int
vp_cmd_attach(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpDiskArgs) disk = { 0 };
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&disk);
    g_autofree char *domain = NULL;
    g_autofree char *pool = NULL;
    g_autofree char *size = NULL;
    g_autofree char *name = NULL;
    g_autofree char *target = NULL;
    g_autofree char *bus = NULL;
    gboolean live = FALSE;
    gboolean print_diff = FALSE;
    const GOptionEntry entries[] = {
        { "domain", 'd', 0, G_OPTION_ARG_STRING, &domain,
          N_("Domain to add the disk to"), N_("DOMAIN") },
        { "pool", 'p', 0, G_OPTION_ARG_STRING, &pool,
          N_("Storage pool for the new volume"), N_("POOL") },
        { "size", 's', 0, G_OPTION_ARG_STRING, &size,
          N_("Virtual size of the new disk, such as 20G"), N_("SIZE") },
        { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
          N_("Volume name (default DOMAIN-TARGET.qcow2)"), N_("VOLUME") },
        { "target", 't', 0, G_OPTION_ARG_STRING, &target,
          N_("Target device, such as vdb (default: the next free one)"),
          N_("DEV") },
        { "disk-bus", 0, 0, G_OPTION_ARG_STRING, &bus,
          N_("virtio (default), scsi, sata or ide"), N_("BUS") },
        { "live", 0, 0, G_OPTION_ARG_NONE, &live,
          N_("Also hot-plug the disk into the running domain"), NULL },
        { "print-diff", 0, 0, G_OPTION_ARG_NONE, &print_diff,
          N_("Show the change to the domain definition; change nothing"), NULL },
        G_OPTION_ENTRY_NULL,
    };
    VpDomainOpPlan plan = { 0 };
    g_auto(VpDomainOpResult) result = { 0 };

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, disk_entries, NULL)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* All three are needed before anything is asked of libvirt; no file
     * argument is taken, so a stray word is a usage error rather than lost. */
    if (argc > 1 || domain == NULL || pool == NULL || size == NULL) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("attach needs --domain, --pool and --size, such "
                              "as --domain web1 --pool default --size 100G"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Every option is parsed and checked here, so that a typo is exit 2 and
     * never a half-done change; the workflow checks the rest before it writes.
     */
    vp_image_options_init(&plan.image);
    if (!vp_disk_bus_check(bus, &error) ||
        !vp_size_parse(size, "--size", &plan.image.size, &error) ||
        !vp_disk_args_resolve(&disk, &plan.image, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    plan.domain = domain;
    plan.pool = pool;
    plan.volume = name;
    plan.target = target;
    plan.bus = bus;
    plan.live = live;
    plan.print_diff = print_diff;
    if (!vp_cli_run_env(&plan.run, _("uploading"), &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (!vp_attach_run(&plan, &result, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    return vp_domain_op_report(&plan, &result, FALSE);
}

/* convert --domain: reached only when main() saw --domain, so the file form's
 * SRC DST never get here. */
int
vp_cmd_convert_domain(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpConvertArgs) a = { 0 };
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&a.disk);
    g_autofree GOptionEntry *entries = vp_convert_option_entries(&a);
    VpDomainOpPlan plan = { 0 };
    g_auto(VpDomainOpResult) result = { 0 };

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, disk_entries, NULL)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* The domain names its disks: there is no SRC or DST to give. */
    if (argc > 1) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("convert --domain takes no file arguments"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (a.keep_source && a.delete_source) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("choose --keep-source or --delete-source, not both"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Options of the file form refused by name rather than ignored: --force in
     * particular would suggest that something may be replaced. */
    const char *what = a.force ? "--force"
                       : a.source_format != NULL ? "--source-format"
                       : a.disk.backing != NULL ? "--backing"
                                                : NULL;
    if (what != NULL) {
        g_set_error(&error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s does not apply with --domain: the domain states "
                      "the disk's format, and nothing is ever replaced"), what);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    vp_image_options_init(&plan.image);
    if (!vp_disk_args_resolve(&a.disk, &plan.image, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    plan.domain = a.domain;
    plan.target = a.target;
    plan.pool = a.pool;
    plan.delete_source = a.delete_source;
    plan.print_diff = a.print_diff;
    if (!vp_cli_run_env(&plan.run, _("copying"), &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (!vp_convert_run(&plan, &result, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    return vp_domain_op_report(&plan, &result, TRUE);
}
