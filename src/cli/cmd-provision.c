/* virt-provision [provision] --pool POOL --name NAME --size SIZE [DISK]
 * [DOMAIN]: the product.  Options follow virt-install's words. */
#include <glib/gi18n.h>

#include "cli.h"
#include "error.h"
#include "interrupt.h"
#include "provision.h"
#include "size.h"

typedef struct {
    char *pool;
    char *name;
    char *size;
    char *memory;
    int vcpus;
    char *virt_type;
    char *arch;
    char *machine;
    char *cdrom;
    char *kernel;
    char *initrd;
    char *cmdline;
    gboolean import;
    char *network;
    char *graphics;
    char *disk_bus;
    char *cache;
    char *io;
    char *discard;
    gboolean no_define;
    gboolean print_xml;
    gboolean dry_run;
    gboolean start;
    gboolean autostart;
} VpProvisionArgs;

static void
vp_provision_args_clear(VpProvisionArgs *a)
{
    g_free(a->pool);
    g_free(a->name);
    g_free(a->size);
    g_free(a->memory);
    g_free(a->virt_type);
    g_free(a->arch);
    g_free(a->machine);
    g_free(a->cdrom);
    g_free(a->kernel);
    g_free(a->initrd);
    g_free(a->cmdline);
    g_free(a->network);
    g_free(a->graphics);
    g_free(a->disk_bus);
    g_free(a->cache);
    g_free(a->io);
    g_free(a->discard);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpProvisionArgs, vp_provision_args_clear)

/* Accepts VALUE when it is one of CHOICES (NULL-terminated). */
static gboolean
vp_choice(const char *option, const char *value, const char *const *choices,
          const char *hint, GError **error)
{
    if (value == NULL || g_strv_contains(choices, value)) {
        return TRUE;
    }
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("invalid %1$s '%2$s': use %3$s"), option, value, hint);
    return FALSE;
}

static gboolean
vp_parse_network(const char *text, VpDomainSpec *d, GError **error)
{
    if (text == NULL) {
        d->net = VP_NET_DEFAULT;
    } else if (g_str_equal(text, "none")) {
        d->net = VP_NET_NONE;
    } else if (g_str_equal(text, "user")) {
        d->net = VP_NET_USER;
    } else if (g_str_has_prefix(text, "network=") && text[8] != '\0') {
        d->net = VP_NET_NETWORK;
        d->net_source = g_strdup(text + 8);
    } else if (g_str_has_prefix(text, "bridge=") && text[7] != '\0') {
        d->net = VP_NET_BRIDGE;
        d->net_source = g_strdup(text + 7);
    } else {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --network '%1$s': use network=NAME, bridge=BR, "
                      "user or none"), text);
        return FALSE;
    }
    return TRUE;
}

static gboolean
vp_install_media(const VpProvisionArgs *a, VpDomainSpec *d, GError **error)
{
    int kinds = (a->cdrom != NULL) + (a->kernel != NULL) + (a->import != FALSE);

    if (kinds > 1) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("choose one way to install: --cdrom, --kernel or "
                              "--import"));
        return FALSE;
    }
    if ((a->initrd != NULL || a->cmdline != NULL) && a->kernel == NULL) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("--initrd and --cmdline go with --kernel"));
        return FALSE;
    }
    d->install = a->cdrom != NULL    ? VP_INSTALL_CDROM
                 : a->kernel != NULL ? VP_INSTALL_KERNEL
                 : a->import         ? VP_INSTALL_IMPORT
                                     : VP_INSTALL_PXE;
    d->cdrom = g_strdup(a->cdrom);
    d->kernel = g_strdup(a->kernel);
    d->initrd = g_strdup(a->initrd);
    d->cmdline = g_strdup(a->cmdline);
    return TRUE;
}

static gboolean
vp_domain_from_args(const VpProvisionArgs *a, VpDomainSpec *d, GError **error)
{
    static const char *const virt_types[] = { "kvm", "qemu", NULL };
    static const char *const graphics[] = { "none", "vnc", "spice", NULL };
    static const char *const buses[] = { "virtio", "scsi", "sata", "ide", NULL };
    static const char *const caches[] = { "none", "writeback", "writethrough",
                                          "directsync", "unsafe", "default", NULL };
    static const char *const ios[] = { "native", "threads", "io_uring", NULL };
    static const char *const discards[] = { "unmap", "ignore", NULL };
    guint64 memory = G_GUINT64_CONSTANT(2) << 30;

    if (!vp_choice("--virt-type", a->virt_type, virt_types, "kvm or qemu", error) ||
        !vp_choice("--graphics", a->graphics, graphics, "none, vnc or spice", error) ||
        !vp_choice("--disk-bus", a->disk_bus, buses, "virtio, scsi, sata or ide",
                   error) ||
        !vp_choice("--cache", a->cache, caches,
                   "none, writeback, writethrough, directsync or unsafe", error) ||
        !vp_choice("--io", a->io, ios, "native, threads or io_uring", error) ||
        !vp_choice("--discard", a->discard, discards, "unmap or ignore", error)) {
        return FALSE;
    }
    if (a->memory != NULL) {
        /* As virt-install: a bare number is MiB. */
        g_autofree char *text = g_ascii_isdigit(a->memory[strlen(a->memory) - 1])
                                    ? g_strconcat(a->memory, "M", NULL)
                                    : g_strdup(a->memory);
        if (!vp_size_parse(text, "--memory", &memory, error)) {
            return FALSE;
        }
        if (memory < (G_GUINT64_CONSTANT(16) << 20)) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("--memory %1$s is too small for a guest; use at "
                          "least 16M"), a->memory);
            return FALSE;
        }
    }
    if (a->vcpus < 0 || a->vcpus > 4096) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --vcpus %1$d: use 1 to 4096"), a->vcpus);
        return FALSE;
    }
    d->memory = memory;
    d->vcpus = a->vcpus > 0 ? (guint)a->vcpus : 2;
    d->virt_type = g_strdup(a->virt_type);
    d->arch = g_strdup(a->arch);
    d->machine = g_strdup(a->machine);
    d->disk_bus = g_strdup(a->disk_bus != NULL ? a->disk_bus : "virtio");
    d->disk_target = g_strdup(g_str_equal(d->disk_bus, "virtio") ? "vda"
                              : g_str_equal(d->disk_bus, "ide") ? "hda"
                                                                : "sda");
    /* Preallocated qcow2 wants the host page cache out of the way; discard
     * stays off unless asked, since a guest's TRIM would undo the
     * preallocation. */
    d->cache = g_strdup(a->cache != NULL ? a->cache : "none");
    d->io = g_strdup(a->io != NULL ? a->io
                     : g_str_equal(d->cache, "none") ? "native" : NULL);
    d->discard = g_strdup(a->discard);
    d->graphics = g_strdup(a->graphics != NULL ? a->graphics : "none");
    if (!vp_parse_network(a->network, d, error) ||
        !vp_install_media(a, d, error)) {
        return FALSE;
    }
    if (d->install == VP_INSTALL_PXE && d->net == VP_NET_NONE) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("without --cdrom, --kernel or --import the guest "
                              "installs from the network, which --network none "
                              "rules out; choose one of them"));
        return FALSE;
    }
    return TRUE;
}

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
        vp_json_add_string(b, "compat", o->version >= 3 ? "1.1" : "0.10");
        vp_json_add_int(b, "cluster-size", r->layout.cluster_size);
    }
    vp_json_add_bool(b, "pool-created", r->pool_created && r->created);
    json_builder_end_object(b);
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
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static void
vp_provision_human(const VpProvisionPlan *plan, const VpProvisionResult *r)
{
    const VpImageOptions *o = &r->layout.opts;
    g_autofree char *size = vp_size_format(r->layout.virtual_size);
    g_autofree char *cs = vp_size_format(r->layout.cluster_size);

    if (!r->created) {
        g_print(_("Dry run on '%1$s': nothing was created.\n"), r->uri);
        g_print(_("Would create volume '%1$s' in pool '%2$s' (%3$s): %4$s, %5$s, "
                  "preallocation %6$s\n"),
                r->volume, r->pool, r->volume_path,
                vp_image_format_to_string(o->format), size,
                vp_preallocation_to_string(o->preallocation));
        if (plan->define) {
            g_print(_("Would define domain '%1$s'%2$s\n"), r->domain,
                    plan->start ? _(" and start it") : "");
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
                r->volume, r->pool, o->version >= 3 ? "1.1" : "0.10", size,
                vp_preallocation_to_string(o->preallocation), cs,
                r->volume_path);
    }
    if (r->started) {
        g_print(_("Defined and started domain '%1$s' (UUID %2$s); console: "
                  "virsh console %1$s\n"), r->domain, r->uuid);
    } else if (r->defined) {
        g_print(_("Defined domain '%1$s' (UUID %2$s); start it with: virsh "
                  "start %1$s\n"), r->domain, r->uuid);
    }
}

int
vp_cmd_provision(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpDiskArgs) disk = { 0 };
    g_auto(VpProvisionArgs) a = { 0 };
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&disk);
    const GOptionEntry entries[] = {
        { "pool", 'p', 0, G_OPTION_ARG_STRING, &a.pool,
          N_("Storage pool for the volume ('default' is created if missing)"),
          N_("POOL") },
        { "name", 'n', 0, G_OPTION_ARG_STRING, &a.name,
          N_("Guest name; the volume is NAME.qcow2"), N_("NAME") },
        { "size", 's', 0, G_OPTION_ARG_STRING, &a.size,
          N_("Virtual size of the disk, such as 20G"), N_("SIZE") },
        { "memory", 0, 0, G_OPTION_ARG_STRING, &a.memory,
          N_("Guest memory (a bare number is MiB; default 2G)"), N_("SIZE") },
        { "vcpus", 0, 0, G_OPTION_ARG_INT, &a.vcpus,
          N_("Virtual CPUs (default 2)"), N_("N") },
        { "virt-type", 0, 0, G_OPTION_ARG_STRING, &a.virt_type,
          N_("kvm or qemu (default: kvm when the host offers it)"), N_("TYPE") },
        { "arch", 0, 0, G_OPTION_ARG_STRING, &a.arch,
          N_("Guest architecture (default: the host's)"), N_("ARCH") },
        { "machine", 0, 0, G_OPTION_ARG_STRING, &a.machine,
          N_("Machine type (default: q35 where available)"), N_("MACHINE") },
        { "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &a.cdrom,
          N_("Install from this ISO image"), N_("ISO") },
        { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &a.kernel,
          N_("Boot this kernel directly"), N_("KERNEL") },
        { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &a.initrd,
          N_("Initial ramdisk for --kernel"), N_("INITRD") },
        { "cmdline", 0, 0, G_OPTION_ARG_STRING, &a.cmdline,
          N_("Kernel command line for --kernel"), N_("ARGS") },
        { "import", 0, 0, G_OPTION_ARG_NONE, &a.import,
          N_("Boot from the disk itself (no installer); without --cdrom, "
             "--kernel or --import the guest boots from the network (PXE)"),
          NULL },
        { "network", 0, 0, G_OPTION_ARG_STRING, &a.network,
          N_("network=NAME, bridge=BR, user or none (default: network "
             "'default' if active, else user)"), N_("SPEC") },
        { "graphics", 0, 0, G_OPTION_ARG_STRING, &a.graphics,
          N_("none (default, serial console), vnc or spice"), N_("TYPE") },
        { "disk-bus", 0, 0, G_OPTION_ARG_STRING, &a.disk_bus,
          N_("virtio (default), scsi, sata or ide"), N_("BUS") },
        { "cache", 0, 0, G_OPTION_ARG_STRING, &a.cache,
          N_("Disk cache mode (default none)"), N_("MODE") },
        { "io", 0, 0, G_OPTION_ARG_STRING, &a.io,
          N_("Disk I/O mode (default native with cache none)"), N_("MODE") },
        { "discard", 0, 0, G_OPTION_ARG_STRING, &a.discard,
          N_("unmap or ignore (default: hypervisor default, ignore)"), N_("MODE") },
        { "no-define", 0, 0, G_OPTION_ARG_NONE, &a.no_define,
          N_("Create the volume only, no domain"), NULL },
        { "print-xml", 0, 0, G_OPTION_ARG_NONE, &a.print_xml,
          N_("Print the domain XML and create nothing"), NULL },
        { "dry-run", 0, 0, G_OPTION_ARG_NONE, &a.dry_run,
          N_("Check everything and report, but create nothing"), NULL },
        { "start", 0, 0, G_OPTION_ARG_NONE, &a.start,
          N_("Start the guest once it is defined"), NULL },
        { "autostart", 0, 0, G_OPTION_ARG_NONE, &a.autostart,
          N_("Start the guest when the host boots"), NULL },
        G_OPTION_ENTRY_NULL,
    };
    VpProvisionPlan plan = { 0 };
    g_auto(VpProvisionResult) result = { 0 };

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, disk_entries, NULL)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (argc > 1) {
        g_set_error(&error, VP_ERROR, VP_ERROR_INVALID,
                    _("unexpected argument '%1$s'; see 'virt-provision "
                      "provision --help'"), argv[1]);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (a.pool == NULL || a.size == NULL) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("provisioning needs --pool, --name and --size, "
                              "such as --pool default --name zabbix --size 20G"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (a.no_define && (a.start || a.autostart || a.print_xml)) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("--no-define creates no domain: drop --start, "
                              "--autostart and --print-xml"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    vp_image_options_init(&plan.image);
    if (!vp_size_parse(a.size, "--size", &plan.image.size, &error) ||
        !vp_disk_args_resolve(&disk, &plan.image, &error) ||
        (!a.no_define && !vp_domain_from_args(&a, &plan.domain, &error))) {
        vp_domain_spec_clear(&plan.domain);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    plan.uri = vp_global.connect;
    plan.pool = a.pool;
    plan.name = a.name;
    plan.define = !a.no_define;
    plan.start = a.start;
    plan.autostart = a.autostart;
    plan.print_xml = a.print_xml;
    plan.dry_run = a.dry_run;
    plan.verbose = vp_global.verbose;
    plan.progress = vp_cli_progress(_("uploading"));
    plan.cancel = vp_interrupt_cancel();

    vp_interrupt_install();
    gboolean ok = vp_provision_run(&plan, &result, &error);
    if (ok && plan.print_xml) {
        g_print("%s", result.domain_xml);
    } else if (ok && vp_global.json) {
        vp_cli_print_json(vp_provision_json(&plan, &result));
    } else if (ok && !vp_global.quiet) {
        vp_provision_human(&plan, &result);
    }
    vp_domain_spec_clear(&plan.domain);
    return ok ? VP_EXIT_OK : vp_cli_fail(g_steal_pointer(&error));
}
