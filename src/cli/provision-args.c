/* provision's DOMAIN and IMAGE options: GOption entries built from the
 * option schema (provision-options.h), and their check and translation
 * into a VpDomainSpec.  Kept out of cmd-provision.c and free of libvirt so
 * that the table of accepted and refused options is unit-tested without a
 * daemon. */
#include "provision-args.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "size.h"

/* --wait and --cloud-init: GOption gives an optional value only to a
 * callback, and a callback only its group's user data (the
 * VpProvisionArgs) to know what it parses into. */
static gboolean
vp_optional_cb(const char *name, const char *value, gpointer data,
               GError **error)
{
    const VpOptionInfo *info = vp_option_find(name + 2);
    g_autofree char *text = g_strdup(value);

    g_assert(data != NULL && info != NULL);
    /* NULL is the option given bare, which is meant; "--wait=" is a value
     * that expanded to nothing, refused like every other empty value. */
    if (text != NULL && g_strstrip(text)[0] == '\0') {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    _("%1$s needs a value, such as %1$s=%2$s, or none at all"),
                    name, info->example);
        return FALSE;
    }
    /* The value stays text until it is resolved, so that a bad one is
     * reported like every other option error, after parsing. */
    vp_option_set(info, data, NULL, value);
    return TRUE;
}

GOptionEntry *
vp_option_entries(gboolean disk, VpProvisionArgs *p, VpDiskArgs *d)
{
    gsize n = 0;
    const VpOptionInfo *opts = vp_options(&n);
    GArray *entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));

    for (gsize i = 0; i < n; i++) {
        const VpOptionInfo *o = &opts[i];
        if (!(o->flags & VP_OPT_DISK) != !disk) {
            continue;
        }
        GOptionEntry e = {
            .long_name = o->name, .short_name = o->short_name,
            .description = o->help, .arg_description = o->arg,
        };
        if (o->flags & VP_OPT_VALUE_OPTIONAL) {
            e.flags = G_OPTION_FLAG_OPTIONAL_ARG;
            e.arg = G_OPTION_ARG_CALLBACK;
            e.arg_data = (gpointer)vp_optional_cb;
        } else if (o->kind == VP_OPT_FLAG) {
            e.arg = G_OPTION_ARG_NONE;
            e.arg_data = vp_option_flag(o, p, d);
        } else if (o->flags & VP_OPT_REPEATABLE) {
            e.arg = G_OPTION_ARG_STRING_ARRAY;
            e.arg_data = vp_option_list(o, p, d);
        } else {
            e.arg = o->kind == VP_OPT_FILE ? G_OPTION_ARG_FILENAME
                                           : G_OPTION_ARG_STRING;
            e.arg_data = vp_option_text(o, p, d);
        }
        g_array_append_val(entries, e);
    }
    /* Zero-terminated by the array: G_OPTION_ENTRY_NULL. */
    return (GOptionEntry *)(void *)g_array_free(entries, FALSE);
}

GOptionEntry *
vp_provision_option_entries(VpProvisionArgs *a)
{
    return vp_option_entries(FALSE, a, NULL);
}

gboolean
vp_provision_args_wait(const VpProvisionArgs *a, guint *seconds,
                       GError **error)
{
    guint64 value = VP_PROVISION_WAIT_DEFAULT;
    const VpOptionInfo *info = vp_option_find("wait");

    /* A wait of 0 would give up after a single poll; more than a day is surely
     * a typo. */
    if (a->wait_seconds != NULL &&
        (!vp_option_value_ok(info, a->wait_seconds) ||
         !g_ascii_string_to_unsigned(a->wait_seconds, 10, info->min, info->max,
                                     &value, NULL))) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --wait '%1$s': use a number of seconds from 1 "
                      "to 86400, such as --wait=600"), a->wait_seconds);
        return FALSE;
    }
    *seconds = (guint)value;
    return TRUE;
}

gboolean
vp_option_values_check(gboolean disk, VpProvisionArgs *p, VpDiskArgs *d,
                       GError **error)
{
    gsize n = 0;
    const VpOptionInfo *opts = vp_options(&n);

    for (gsize i = 0; i < n; i++) {
        const VpOptionInfo *o = &opts[i];
        /* Text is anything; sizes and --memory have messages of their own;
         * --cloud-init's are the seed's, --wait's vp_provision_args_wait's,
         * --network's vp_provision_args_resolve's. */
        if (!(o->flags & VP_OPT_DISK) != !disk ||
            (o->flags & VP_OPT_REPEATABLE) || o->hint == NULL ||
            o->kind == VP_OPT_SIZE || o->kind == VP_OPT_MEMORY ||
            o->kind == VP_OPT_FLAG || o->kind == VP_OPT_WAIT) {
            continue;
        }
        const char *text = *vp_option_text(o, p, d);
        if (text != NULL && !vp_option_value_ok(o, text)) {
            g_autofree char *option = g_strconcat("--", o->name, NULL);
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        /* TRANSLATORS: %1$s is an option such as --graphics,
                         * %2$s what was given, %3$s the values it takes,
                         * such as "none, vnc or spice" (translated on its
                         * own). */
                        _("invalid %1$s '%2$s': use %3$s"), option, text,
                        _(o->hint));
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
vp_disk_bus_check(const char *bus, GError **error)
{
    const VpOptionInfo *o = vp_option_find("disk-bus");

    if (bus == NULL || vp_option_value_ok(o, bus)) {
        return TRUE;
    }
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("invalid %1$s '%2$s': use %3$s"), "--disk-bus", bus,
                _(o->hint));
    return FALSE;
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

static gboolean
vp_parse_memory(const char *text, guint64 *bytes, GError **error)
{
    /* The size parser's own message would speak of bytes, which a bare
     * number is not here. */
    if (!vp_memory_parse(text, bytes)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --memory '%1$s': use a size with a unit, such "
                      "as 4G, or a number of MiB, such as 4096"), text);
        return FALSE;
    }
    /* Less than 16 MiB runs no guest; it is a unit forgotten ("--memory 2" is
     * 2 MiB, not 2 GiB). */
    if (*bytes < VP_MEMORY_MIN) {
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
    guint64 memory = G_GUINT64_CONSTANT(2) << 30;
    guint64 vcpus = 2;

    /* Each value against the schema first, then the numbers, then the
     * combinations: the first mistake is reported, one at a time, each with
     * what to use instead. */
    if (!vp_option_values_check(FALSE, (VpProvisionArgs *)a, NULL, error)) {
        return FALSE;
    }
    if (a->memory != NULL && !vp_parse_memory(a->memory, &memory, error)) {
        return FALSE;
    }
    if (a->vcpus != NULL) {
        /* Checked by vp_args_check: only the conversion is left. */
        g_ascii_string_to_unsigned(a->vcpus, 10, 1, 4096, &vcpus, NULL);
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
    const char *bad = NULL;
    if (!vp_nics_parse((const char *const *)a->network, &d->nics, &bad)) {
        const VpOptionInfo *o = vp_option_find("network");
        if (vp_option_value_ok(o, bad)) {
            g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                                _("--network none gives the guest no NIC and "
                                  "cannot stand beside another --network; "
                                  "drop one of them"));
        } else {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("invalid %1$s '%2$s': use %3$s"), "--network", bad,
                        _(o->hint));
        }
        return FALSE;
    }
    if (!vp_install_media(a, d, error)) {
        return FALSE;
    }
    /* A base is a system already: the guest boots it unless media say
     * otherwise. */
    if (d->install == VP_INSTALL_PXE && a->base != NULL) {
        d->install = VP_INSTALL_IMPORT;
    }
    /* A PXE guest without a network could never boot: refused instead of
     * defining it. */
    if (d->install == VP_INSTALL_PXE && d->nics->len == 0) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("without --cdrom, --kernel or --import the guest "
                              "installs from the network, which --network none "
                              "rules out; choose one of them"));
        return FALSE;
    }
    return TRUE;
}
