/* provision's DOMAIN and IMAGE options: GOption entries, and their check and
 * translation into a VpDomainSpec.  Kept out of cmd-provision.c and free of
 * libvirt so that the table of accepted and refused options is unit-tested
 * without a daemon. */
#include "provision-args.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "size.h"

/* "--wait=" or "--cloud-init=" is a value that expanded to nothing, not
 * the option alone: refused like every other empty value. */
static gboolean
vp_optional_value_ok(const char *name, const char *value, const char *example,
                     GError **error)
{
    g_autofree char *text = g_strdup(value);

    /* NULL is the option given bare, which is meant; only a value that is
     * there but blank is a mistake. */
    if (text == NULL || g_strstrip(text)[0] != '\0') {
        return TRUE;
    }
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("%1$s needs a value, such as %1$s=%2$s, or none at all"),
                name, example);
    return FALSE;
}

static gboolean
vp_wait_cb(const char *name, const char *value, gpointer data, GError **error)
{
    VpProvisionArgs *a = data;

    /* GOption gives optional values only to callbacks, and a callback only
     * its group's user data to know what it parses into. */
    g_assert(a != NULL);
    if (!vp_optional_value_ok(name, value, "600", error)) {
        return FALSE;
    }
    /* Seconds stay text until vp_provision_args_wait(), so that a bad number
     * is reported like every other option error, after parsing. */
    a->wait = TRUE;
    g_free(a->wait_seconds);
    a->wait_seconds = g_strdup(value);
    return TRUE;
}

/* --cloud-init takes sub-options, but may also stand alone. */
static gboolean
vp_cloud_init_cb(const char *name, const char *value, gpointer data,
                 GError **error)
{
    VpProvisionArgs *a = data;

    g_assert(a != NULL);
    if (!vp_optional_value_ok(name, value, "user-data=FILE", error)) {
        return FALSE;
    }
    g_free(a->cloud_init);
    /* "" rather than NULL: NULL would read as "not given". */
    a->cloud_init = g_strdup(value != NULL ? value : "");
    return TRUE;
}

GOptionEntry *
vp_provision_option_entries(VpProvisionArgs *a)
{
    const GOptionEntry entries[] = {
        { "pool", 'p', 0, G_OPTION_ARG_STRING, &a->pool,
          N_("Storage pool for the volume ('default' is created if missing)"),
          N_("POOL") },
        { "name", 'n', 0, G_OPTION_ARG_STRING, &a->name,
          N_("Guest name; the volume is NAME.qcow2"), N_("NAME") },
        { "size", 's', 0, G_OPTION_ARG_STRING, &a->size,
          N_("Virtual size of the disk, such as 20G"), N_("SIZE") },
        { "memory", 0, 0, G_OPTION_ARG_STRING, &a->memory,
          N_("Guest memory (a bare number is MiB; default 2G)"), N_("SIZE") },
        { "vcpus", 0, 0, G_OPTION_ARG_STRING, &a->vcpus,
          N_("Virtual CPUs (default 2)"), N_("N") },
        { "virt-type", 0, 0, G_OPTION_ARG_STRING, &a->virt_type,
          N_("kvm or qemu (default: kvm when the host offers it)"), N_("TYPE") },
        { "arch", 0, 0, G_OPTION_ARG_STRING, &a->arch,
          N_("Guest architecture (default: the host's)"), N_("ARCH") },
        { "machine", 0, 0, G_OPTION_ARG_STRING, &a->machine,
          N_("Machine type (default: q35 where available)"), N_("MACHINE") },
        { "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &a->cdrom,
          N_("Install from this ISO image"), N_("ISO") },
        { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &a->kernel,
          N_("Boot this kernel directly"), N_("KERNEL") },
        { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &a->initrd,
          N_("Initial ramdisk for --kernel"), N_("INITRD") },
        { "cmdline", 0, 0, G_OPTION_ARG_STRING, &a->cmdline,
          N_("Kernel command line for --kernel"), N_("ARGS") },
        { "import", 0, 0, G_OPTION_ARG_NONE, &a->import,
          N_("Boot from the disk itself (no installer); without --cdrom, "
             "--kernel or --import the guest boots from the network (PXE)"),
          NULL },
        { "network", 0, 0, G_OPTION_ARG_STRING, &a->network,
          N_("network=NAME, bridge=BR, user or none (default: network "
             "'default' if active, else user)"), N_("SPEC") },
        { "graphics", 0, 0, G_OPTION_ARG_STRING, &a->graphics,
          N_("none (default, serial console), vnc or spice"), N_("TYPE") },
        { "disk-bus", 0, 0, G_OPTION_ARG_STRING, &a->disk_bus,
          N_("virtio (default), scsi, sata or ide"), N_("BUS") },
        { "cache", 0, 0, G_OPTION_ARG_STRING, &a->cache,
          N_("Disk cache mode (default none)"), N_("MODE") },
        { "io", 0, 0, G_OPTION_ARG_STRING, &a->io,
          N_("Disk I/O mode (default native with cache none)"), N_("MODE") },
        { "discard", 0, 0, G_OPTION_ARG_STRING, &a->discard,
          N_("unmap or ignore (default: hypervisor default, ignore)"), N_("MODE") },
        { "no-define", 0, 0, G_OPTION_ARG_NONE, &a->no_define,
          N_("Create the volume only, no domain"), NULL },
        { "print-xml", 0, 0, G_OPTION_ARG_NONE, &a->print_xml,
          N_("Print the domain XML and create nothing"), NULL },
        { "dry-run", 0, 0, G_OPTION_ARG_NONE, &a->dry_run,
          N_("Check everything and report, but create nothing"), NULL },
        { "start", 0, 0, G_OPTION_ARG_NONE, &a->start,
          N_("Start the guest once it is defined"), NULL },
        { "autostart", 0, 0, G_OPTION_ARG_NONE, &a->autostart,
          N_("Start the guest when the host boots"), NULL },
        { "base", 0, 0, G_OPTION_ARG_STRING, &a->base,
          N_("Make the disk a preallocated overlay on this volume of the pool "
             "(or POOL/VOLUME), such as an imported cloud image"), N_("VOLUME") },
        { "cloud-init", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,
          vp_cloud_init_cb,
          N_("Give the guest a NoCloud seed: user-data=F,meta-data=F,"
             "network-config=F,root-ssh-key=F,clouduser-ssh-key=F,disable=on; "
             "alone: its name as hostname and your SSH keys"), N_("OPTIONS") },
        { "wait", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, vp_wait_cb,
          N_("Start the guest and wait until its guest agent reports an "
             "address (default 600 seconds)"), N_("SECONDS") },
        G_OPTION_ENTRY_NULL,
    };
    /* Copied to the heap: the entries point into A and the caller frees the
     * table after parsing. */
    return g_memdup2(entries, sizeof(entries));
}

gboolean
vp_provision_args_wait(const VpProvisionArgs *a, guint *seconds,
                       GError **error)
{
    guint64 value = VP_PROVISION_WAIT_DEFAULT;

    /* A wait of 0 would give up after a single poll; more than a day is surely
     * a typo. */
    if (a->wait_seconds != NULL &&
        !g_ascii_string_to_unsigned(a->wait_seconds, 10, 1, 86400, &value,
                                    NULL)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --wait '%1$s': use a number of seconds from 1 "
                      "to 86400, such as --wait=600"), a->wait_seconds);
        return FALSE;
    }
    *seconds = (guint)value;
    return TRUE;
}

void
vp_provision_args_clear(VpProvisionArgs *a)
{
    g_free(a->base);
    g_free(a->cloud_init);
    g_free(a->wait_seconds);
    g_free(a->pool);
    g_free(a->name);
    g_free(a->size);
    g_free(a->memory);
    g_free(a->vcpus);
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
    *a = (VpProvisionArgs){ 0 };
}

/* Accepts VALUE when it is NULL or one of CHOICES (NULL-terminated).  HINT
 * is the N_() list of what to use instead, such as "kvm or qemu". */
static gboolean
vp_choice(const char *option, const char *value, const char *const *choices,
          const char *hint, GError **error)
{
    /* NULL is "not given": the defaults are applied by the caller, not here. */
    if (value == NULL || g_strv_contains(choices, value)) {
        return TRUE;
    }
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                /* TRANSLATORS: %1$s is an option such as --graphics, %2$s
                 * what was given, %3$s the values it takes, such as "none,
                 * vnc or spice" (translated on its own). */
                _("invalid %1$s '%2$s': use %3$s"), option, value, _(hint));
    return FALSE;
}

gboolean
vp_disk_bus_check(const char *bus, GError **error)
{
    return vp_choice("--disk-bus", bus, vp_disk_buses,
                     N_("virtio, scsi, sata or ide"), error);
}

static gboolean
vp_parse_network(const char *text, VpDomainSpec *d, GError **error)
{
    /* No --network: the workflow picks 'default' if that network is active,
     * else user networking, since only the host can say which. */
    if (text == NULL) {
        d->net = VP_NET_DEFAULT;
    } else if (g_str_equal(text, "none")) {
        d->net = VP_NET_NONE;
    } else if (g_str_equal(text, "user")) {
        d->net = VP_NET_USER;
    /* An empty name after '=' is refused here rather than reaching the XML. */
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
    /* Refused rather than letting one of them silently win. */
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

/* As virt-install: a bare number is MiB. */
static gboolean
vp_parse_memory(const char *text, guint64 *bytes, GError **error)
{
    gsize len = strlen(text);
    /* A trailing digit means no unit: "4096" and "1.5" alike. */
    gboolean bare = len > 0 && g_ascii_isdigit(text[len - 1]);
    g_autofree char *sized = bare ? g_strconcat(text, "M", NULL) : g_strdup(text);

    /* vp_size_parse's own message would speak of bytes, which a bare
     * number is not here. */
    if (!vp_size_parse(sized, "--memory", bytes, NULL)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --memory '%1$s': use a size with a unit, such "
                      "as 4G, or a number of MiB, such as 4096"), text);
        return FALSE;
    }
    /* Less than 16 MiB runs no guest; it is a unit forgotten ("--memory 2" is
     * 2 MiB, not 2 GiB). */
    if (*bytes < (G_GUINT64_CONSTANT(16) << 20)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("--memory %1$s is too small for a guest; use at "
                      "least 16M"), text);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_provision_args_resolve(const VpProvisionArgs *a, VpDomainSpec *d,
                          GError **error)
{
    static const char *const virt_types[] = { "kvm", "qemu", NULL };
    static const char *const graphics[] = { "none", "vnc", "spice", NULL };
    static const char *const caches[] = { "none", "writeback", "writethrough",
                                          "directsync", "unsafe", "default", NULL };
    static const char *const ios[] = { "native", "threads", "io_uring", NULL };
    static const char *const discards[] = { "unmap", "ignore", NULL };
    guint64 memory = G_GUINT64_CONSTANT(2) << 30;
    guint64 vcpus = 2;

    /* All choices first, then numbers, then the combinations: the first
     * mistake is reported, one at a time, each with what to use instead. */
    if (!vp_choice("--virt-type", a->virt_type, virt_types, N_("kvm or qemu"),
                   error) ||
        !vp_choice("--graphics", a->graphics, graphics,
                   N_("none, vnc or spice"), error) ||
        !vp_disk_bus_check(a->disk_bus, error) ||
        !vp_choice("--cache", a->cache, caches,
                   N_("none, writeback, writethrough, directsync or unsafe"),
                   error) ||
        !vp_choice("--io", a->io, ios, N_("native, threads or io_uring"),
                   error) ||
        !vp_choice("--discard", a->discard, discards, N_("unmap or ignore"),
                   error)) {
        return FALSE;
    }
    if (a->memory != NULL && !vp_parse_memory(a->memory, &memory, error)) {
        return FALSE;
    }
    if (a->vcpus != NULL &&
        !g_ascii_string_to_unsigned(a->vcpus, 10, 1, 4096, &vcpus, NULL)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --vcpus '%1$s': use a number from 1 to 4096"),
                    a->vcpus);
        return FALSE;
    }
    d->memory = memory;
    d->vcpus = (guint)vcpus;
    d->virt_type = g_strdup(a->virt_type);
    d->arch = g_strdup(a->arch);
    d->machine = g_strdup(a->machine);
    d->disk_bus = g_strdup(a->disk_bus != NULL ? a->disk_bus : "virtio");
    /* The target's prefix matches the bus, since libvirt derives a bus from
     * the prefix where none is given: vd for virtio, hd for ide, sd else. */
    d->disk_target = g_strdup(g_str_equal(d->disk_bus, "virtio") ? "vda"
                              : g_str_equal(d->disk_bus, "ide") ? "hda"
                                                                : "sda");
    /* Preallocated qcow2 wants the host page cache out of the way; discard
     * stays off unless asked, since a guest's TRIM would undo the
     * preallocation. */
    d->cache = g_strdup(a->cache != NULL ? a->cache : "none");
    d->io = g_strdup(a->io != NULL ? a->io
                     /* io is left to libvirt with any other cache mode. */
                     : g_str_equal(d->cache, "none") ? "native" : NULL);
    /* qemu refuses aio=native without O_DIRECT, so the guest would fail
     * only at its start; refused here, where the fix is known. */
    if (g_strcmp0(d->io, "native") == 0 && !g_str_equal(d->cache, "none") &&
        !g_str_equal(d->cache, "directsync")) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("--io native needs --cache none or directsync, not "
                      "'%1$s'; drop --io or use --io threads"), d->cache);
        return FALSE;
    }
    d->discard = g_strdup(a->discard);
    d->graphics = g_strdup(a->graphics != NULL ? a->graphics : "none");
    if (!vp_parse_network(a->network, d, error) ||
        !vp_install_media(a, d, error)) {
        return FALSE;
    }
    /* A base is a system already: the guest boots it unless media say
     * otherwise. */
    if (d->install == VP_INSTALL_PXE && a->base != NULL) {
        d->install = VP_INSTALL_IMPORT;
    }
    /* A PXE guest without a network could never boot: refused instead of
     * defining it. */
    if (d->install == VP_INSTALL_PXE && d->net == VP_NET_NONE) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("without --cdrom, --kernel or --import the guest "
                              "installs from the network, which --network none "
                              "rules out; choose one of them"));
        return FALSE;
    }
    return TRUE;
}
