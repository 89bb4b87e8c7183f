/* The schema of provision's options: the table, and the checks and
 * setters that read it (provision-options.h). */
#include "provision-options.h"

#include <stddef.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "image-options.h"
#include "lab-net.h"
#include "size.h"

static gboolean
vp_accepts_format(const char *text)
{
    VpImageFormat f;
    return vp_image_format_from_string(text, &f);
}

static gboolean
vp_accepts_preallocation(const char *text)
{
    VpPreallocation p;
    return vp_preallocation_from_string(text, &p);
}

static gboolean
vp_accepts_compat(const char *text)
{
    guint32 v;
    return vp_compat_from_string(text, &v);
}

static const char *const vp_virt_types[] = { "kvm", "qemu", NULL };
static const char *const vp_graphics[] = { "none", "vnc", "spice", NULL };
static const char *const vp_caches[] = { "none", "writeback", "writethrough",
                                         "directsync", "unsafe", "default", NULL };
static const char *const vp_ios[] = { "native", "threads", "io_uring", NULL };
static const char *const vp_discards[] = { "unmap", "ignore", NULL };

static const VpSubOption vp_seed_subs[] = {
    { "user-data", VP_SUB_FILE },
    { "meta-data", VP_SUB_FILE },
    { "network-config", VP_SUB_FILE },
    { "root-ssh-key", VP_SUB_FILE },
    { "clouduser-ssh-key", VP_SUB_FILE },
    { "disable", VP_SUB_SWITCH },
    { NULL, 0 },
};

static const VpSubOption vp_network_subs[] = {
    { "network", VP_SUB_TEXT },
    { "bridge", VP_SUB_TEXT },
    { "user", VP_SUB_WORD },
    { "none", VP_SUB_WORD },
    { "mac", VP_SUB_TEXT },
    { "model", VP_SUB_TEXT },
    { "ip", VP_SUB_TEXT },
    { NULL, 0 },
};

#define P(field) offsetof(VpProvisionArgs, field)
#define D(field) offsetof(VpDiskArgs, field)
#define FLAG_HINT N_("true or false")

/* Left out of labs (no VP_OPT_LAB): name (a guest entry's own key),
 * no-define (a lab guest is a domain, which holds its ownership record),
 * print-xml and dry-run (about a run, not a guest). */
static const VpOptionInfo vp_option_table[] = {
    { .name = "pool", .short_name = 'p', .kind = VP_OPT_TEXT,
      .flags = VP_OPT_LAB, .offset = P(pool), .arg = N_("POOL"),
      .help = N_("Storage pool for the volume ('default' is created if missing)"),
      .example = "default" },
    { .name = "name", .short_name = 'n', .kind = VP_OPT_TEXT,
      .offset = P(name), .arg = N_("NAME"),
      .help = N_("Guest name; the volume is NAME.qcow2"), .example = "zabbix" },
    { .name = "size", .short_name = 's', .kind = VP_OPT_SIZE,
      .flags = VP_OPT_LAB, .offset = P(size), .arg = N_("SIZE"),
      .help = N_("Virtual size of the disk, such as 20G"), .example = "20G" },
    { .name = "memory", .kind = VP_OPT_MEMORY, .flags = VP_OPT_LAB,
      .offset = P(memory), .arg = N_("SIZE"),
      .help = N_("Guest memory (a bare number is MiB; default 2G)"),
      .example = "4G",
      .hint = N_("a size such as 4G, or a number of MiB such as 4096, of at least 16M") },
    { .name = "vcpus", .kind = VP_OPT_INTEGER, .flags = VP_OPT_LAB,
      .offset = P(vcpus), .arg = N_("N"), .help = N_("Virtual CPUs (default 2)"),
      .example = "2", .hint = N_("a whole number from 1 to 4096"),
      .min = 1, .max = 4096 },
    { .name = "virt-type", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB,
      .offset = P(virt_type), .arg = N_("TYPE"),
      .help = N_("kvm or qemu (default: kvm when the host offers it)"),
      .example = "kvm", .hint = N_("kvm or qemu"), .choices = vp_virt_types },
    { .name = "arch", .kind = VP_OPT_TEXT, .flags = VP_OPT_LAB,
      .offset = P(arch), .arg = N_("ARCH"),
      .help = N_("Guest architecture (default: the host's)"), .example = "x86_64" },
    { .name = "machine", .kind = VP_OPT_TEXT, .flags = VP_OPT_LAB,
      .offset = P(machine), .arg = N_("MACHINE"),
      .help = N_("Machine type (default: q35 where available)"), .example = "q35" },
    { .name = "cdrom", .kind = VP_OPT_FILE, .flags = VP_OPT_LAB,
      .offset = P(cdrom), .arg = N_("ISO"), .help = N_("Install from this ISO image"),
      .example = "debian.iso" },
    { .name = "kernel", .kind = VP_OPT_FILE, .flags = VP_OPT_LAB,
      .offset = P(kernel), .arg = N_("KERNEL"), .help = N_("Boot this kernel directly"),
      .example = "vmlinuz" },
    { .name = "initrd", .kind = VP_OPT_FILE, .flags = VP_OPT_LAB,
      .offset = P(initrd), .arg = N_("INITRD"), .help = N_("Initial ramdisk for --kernel"),
      .example = "initrd.img" },
    { .name = "cmdline", .kind = VP_OPT_TEXT, .flags = VP_OPT_LAB,
      .offset = P(cmdline), .arg = N_("ARGS"), .help = N_("Kernel command line for --kernel"),
      .example = "console=ttyS0" },
    { .name = "import", .kind = VP_OPT_FLAG, .flags = VP_OPT_LAB,
      .offset = P(import),
      .help = N_("Boot from the disk itself (no installer); without --cdrom, "
                 "--kernel or --import the guest boots from the network (PXE)"),
      .example = "true", .hint = FLAG_HINT },
    { .name = "network", .kind = VP_OPT_SUBOPTIONS,
      .flags = VP_OPT_LAB | VP_OPT_REPEATABLE, .offset = P(network),
      .arg = N_("SPEC"),
      .help = N_("network=NAME, bridge=BR, user or none, then ,mac=MAC, "
                 ",model=MODEL and (on a network) ,ip=ADDRESS if wanted; once "
                 "per NIC, the first primary (default: network 'default' if "
                 "active, else user)"),
      .example = "network=default",
      .hint = N_("network=NAME, bridge=BR, user or none, then ,mac=MAC, "
                 ",model=MODEL and (on a network) ,ip=ADDRESS if wanted"),
      .subs = vp_network_subs, .sub_noun = N_("network option") },
    { .name = "graphics", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB,
      .offset = P(graphics), .arg = N_("TYPE"),
      .help = N_("none (default, serial console), vnc or spice"),
      .example = "vnc", .hint = N_("none, vnc or spice"), .choices = vp_graphics },
    { .name = "disk-bus", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB,
      .offset = P(disk_bus), .arg = N_("BUS"),
      .help = N_("virtio (default), scsi, sata or ide"),
      .example = "virtio", .hint = N_("virtio, scsi, sata or ide"),
      .choices = vp_disk_buses },
    { .name = "cache", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB,
      .offset = P(cache), .arg = N_("MODE"), .help = N_("Disk cache mode (default none)"),
      .example = "none",
      .hint = N_("none, writeback, writethrough, directsync or unsafe"),
      .choices = vp_caches },
    { .name = "io", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB,
      .offset = P(io), .arg = N_("MODE"),
      .help = N_("Disk I/O mode (default native with cache none)"),
      .example = "native", .hint = N_("native, threads or io_uring"),
      .choices = vp_ios },
    { .name = "discard", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB,
      .offset = P(discard), .arg = N_("MODE"),
      .help = N_("unmap or ignore (default: hypervisor default, ignore)"),
      .example = "unmap", .hint = N_("unmap or ignore"), .choices = vp_discards },
    { .name = "no-define", .kind = VP_OPT_FLAG, .offset = P(no_define),
      .help = N_("Create the volume only, no domain"), .hint = FLAG_HINT },
    { .name = "print-xml", .kind = VP_OPT_FLAG, .offset = P(print_xml),
      .help = N_("Print the domain XML and create nothing"), .hint = FLAG_HINT },
    { .name = "dry-run", .kind = VP_OPT_FLAG, .offset = P(dry_run),
      .help = N_("Check everything and report, but create nothing"),
      .hint = FLAG_HINT },
    { .name = "start", .kind = VP_OPT_FLAG, .flags = VP_OPT_LAB,
      .offset = P(start), .help = N_("Start the guest once it is defined"),
      .example = "true", .hint = FLAG_HINT },
    { .name = "autostart", .kind = VP_OPT_FLAG, .flags = VP_OPT_LAB,
      .offset = P(autostart), .help = N_("Start the guest when the host boots"),
      .example = "true", .hint = FLAG_HINT },
    { .name = "base", .kind = VP_OPT_TEXT, .flags = VP_OPT_LAB,
      .offset = P(base), .arg = N_("VOLUME"),
      .help = N_("Make the disk a preallocated overlay on this volume of the pool "
                 "(or POOL/VOLUME), such as an imported cloud image"),
      .example = "debian-12.qcow2" },
    { .name = "cloud-init", .kind = VP_OPT_SUBOPTIONS,
      .flags = VP_OPT_LAB | VP_OPT_VALUE_OPTIONAL, .offset = P(cloud_init),
      .arg = N_("OPTIONS"),
      .help = N_("Give the guest a NoCloud seed: user-data=F,meta-data=F,"
                 "network-config=F,root-ssh-key=F,clouduser-ssh-key=F,disable=on; "
                 "alone: its name as hostname and your SSH keys"),
      .example = "user-data=FILE",
      .hint = N_("user-data, meta-data, network-config, root-ssh-key, "
                 "clouduser-ssh-key or disable"),
      .subs = vp_seed_subs,
      .sub_noun = N_("seed option") },
    { .name = "wait", .kind = VP_OPT_WAIT,
      .flags = VP_OPT_LAB | VP_OPT_VALUE_OPTIONAL, .offset = P(wait_seconds),
      .arg = N_("SECONDS"),
      .help = N_("Start the guest and wait until its guest agent reports an "
                 "address (default 600 seconds)"),
      .example = "600", .hint = N_("true, or a number of seconds from 1 to 86400"),
      .min = 1, .max = 86400 },
    /* DISK */
    { .name = "format", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB | VP_OPT_DISK,
      .offset = D(format), .arg = N_("FORMAT"),
      .help = N_("Image format: qcow2 (default) or raw"), .example = "qcow2",
      .hint = N_("qcow2 or raw"), .accepts = vp_accepts_format },
    { .name = "preallocation", .kind = VP_OPT_CHOICE,
      .flags = VP_OPT_LAB | VP_OPT_DISK, .offset = D(preallocation),
      .arg = N_("MODE"), .help = N_("off, metadata (default for qcow2), falloc or full"),
      .example = "metadata", .hint = N_("off, metadata, falloc or full"),
      .accepts = vp_accepts_preallocation },
    { .name = "cluster-size", .kind = VP_OPT_SIZE, .flags = VP_OPT_LAB | VP_OPT_DISK,
      .offset = D(cluster_size), .arg = N_("SIZE"),
      .help = N_("qcow2 cluster size, 512 to 2M (default 64K)"), .example = "64K",
      .hint = N_("a power of two from 512 bytes to 2M, such as 64K"),
      .min = 512, .max = 2 * 1024 * 1024, .power_of_two = TRUE },
    { .name = "compat", .kind = VP_OPT_CHOICE, .flags = VP_OPT_LAB | VP_OPT_DISK,
      .offset = D(compat), .arg = N_("LEVEL"),
      .help = N_("qcow2 compatibility level: 0.10 or 1.1 (default)"), .example = "1.1",
      .hint = N_("0.10 or 1.1"), .accepts = vp_accepts_compat },
    { .name = "refcount-bits", .kind = VP_OPT_INTEGER,
      .flags = VP_OPT_LAB | VP_OPT_DISK, .offset = D(refcount_bits),
      .arg = N_("BITS"),
      .help = N_("Refcount width: 1, 2, 4, 8, 16 (default), 32 or 64"), .example = "16",
      .hint = N_("1, 2, 4, 8, 16, 32 or 64"), .min = 1, .max = 64,
      .power_of_two = TRUE },
    { .name = "lazy-refcounts", .kind = VP_OPT_FLAG, .flags = VP_OPT_LAB | VP_OPT_DISK,
      .offset = D(lazy_refcounts), .help = N_("Set the lazy refcounts feature"),
      .example = "true", .hint = FLAG_HINT },
    { .name = "extended-l2", .kind = VP_OPT_FLAG, .flags = VP_OPT_LAB | VP_OPT_DISK,
      .offset = D(extended_l2), .help = N_("Use extended L2 entries with 32 subclusters"),
      .example = "true", .hint = FLAG_HINT },
    { .name = "backing", .kind = VP_OPT_FILE, .flags = VP_OPT_LAB | VP_OPT_DISK,
      .offset = D(backing), .arg = N_("FILE"), .help = N_("Backing file of the new image"),
      .example = "base.qcow2" },
    { .name = "backing-format", .kind = VP_OPT_TEXT, .flags = VP_OPT_LAB | VP_OPT_DISK,
      .offset = D(backing_format), .arg = N_("FORMAT"),
      .help = N_("Format of the backing file (never guessed)"), .example = "qcow2" },
};

#undef P
#undef D

const VpOptionInfo *
vp_options(gsize *n)
{
    *n = G_N_ELEMENTS(vp_option_table);
    return vp_option_table;
}

const VpOptionInfo *
vp_option_find(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_option_table); i++) {
        if (strcmp(vp_option_table[i].name, name) == 0) {
            return &vp_option_table[i];
        }
    }
    return NULL;
}

static char *
vp_option_field(const VpOptionInfo *info, VpProvisionArgs *p, VpDiskArgs *d)
{
    char *base = (info->flags & VP_OPT_DISK) ? (char *)d : (char *)p;

    g_assert(base != NULL);
    return base + info->offset;
}

char ***
vp_option_list(const VpOptionInfo *info, VpProvisionArgs *p, VpDiskArgs *d)
{
    if (!(info->flags & VP_OPT_REPEATABLE)) {
        return NULL;
    }
    return (char ***)(void *)vp_option_field(info, p, d);
}

char **
vp_option_text(const VpOptionInfo *info, VpProvisionArgs *p, VpDiskArgs *d)
{
    /* WAIT's text is its seconds; its flag is P->wait. */
    if (info->kind == VP_OPT_FLAG || (info->flags & VP_OPT_REPEATABLE)) {
        return NULL;
    }
    return (char **)(void *)vp_option_field(info, p, d);
}

gboolean *
vp_option_flag(const VpOptionInfo *info, VpProvisionArgs *p, VpDiskArgs *d)
{
    if (info->kind == VP_OPT_WAIT) {
        return &p->wait;
    }
    if (info->kind != VP_OPT_FLAG) {
        return NULL;
    }
    return (gboolean *)(void *)vp_option_field(info, p, d);
}

static gboolean
vp_power_of_two(guint64 v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* A plain decimal number without sign or leading zero (YAML 1.1 reads
 * 010 as octal: refused alike wherever it is written) in MIN..MAX. */
static gboolean
vp_plain_integer(const char *text, guint64 min, guint64 max, guint64 *out)
{
    if (text[0] == '0' && text[1] != '\0') {
        return FALSE;
    }
    return g_ascii_isdigit(text[0]) &&
           g_ascii_string_to_unsigned(text, 10, min, max, out, NULL);
}

gboolean
vp_memory_parse(const char *text, guint64 *bytes)
{
    gsize len = strlen(text);
    /* A trailing digit means no unit: "4096" and "1.5" alike are MiB. */
    gboolean bare = len > 0 && g_ascii_isdigit(text[len - 1]);
    g_autofree char *sized = bare ? g_strconcat(text, "M", NULL) : g_strdup(text);

    return vp_size_parse(sized, "--memory", bytes, NULL);
}

/* A unicast MAC address: six pairs of hex digits joined by ':', the
 * multicast bit of the first clear (libvirt refuses a multicast one only
 * when the guest starts). */
static gboolean
vp_mac_valid(const char *mac)
{
    if (strlen(mac) != 17) {
        return FALSE;
    }
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? mac[i] != ':' : !g_ascii_isxdigit(mac[i])) {
            return FALSE;
        }
    }
    return (g_ascii_xdigit_value(mac[1]) & 1) == 0;
}

/* A NIC model as libvirt names them: virtio, e1000e, rtl8139, ... */
static gboolean
vp_model_valid(const char *model)
{
    gsize len = strlen(model);

    if (len == 0 || len > 32) {
        return FALSE;
    }
    for (gsize i = 0; i < len; i++) {
        if (!g_ascii_isalnum(model[i]) && model[i] != '-' && model[i] != '_') {
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
vp_nic_parse(const char *text, VpNic **nic)
{
    static const VpNetKind kinds[] = { VP_NET_NETWORK, VP_NET_BRIDGE,
                                       VP_NET_USER, VP_NET_NONE };
    const VpOptionInfo *info = vp_option_find("network");
    g_autoptr(GPtrArray) items = vp_suboptions_parse(info, text, NULL);
    guint32 addr;

    *nic = NULL;
    /* The kind first, exactly once; "network=" is refused here rather than
     * reaching the XML. */
    if (items == NULL || items->len == 0) {
        return FALSE;
    }
    const VpSubItem *first = g_ptr_array_index(items, 0);
    gsize k = (gsize)(first->sub - info->subs);
    if (k >= G_N_ELEMENTS(kinds) || (first->value != NULL && first->value[0] == '\0') ||
        (kinds[k] == VP_NET_NONE && items->len > 1)) {
        return FALSE;
    }
    g_autoptr(VpNic) n = vp_nic_new(kinds[k], first->value);
    for (guint i = 1; i < items->len; i++) {
        const VpSubItem *it = g_ptr_array_index(items, i);
        if (g_str_equal(it->sub->name, "mac") && vp_mac_valid(it->value)) {
            /* As libvirt writes it back: lower case. */
            n->mac = g_ascii_strdown(it->value, -1);
        } else if (g_str_equal(it->sub->name, "model") &&
                   vp_model_valid(it->value)) {
            n->model = g_strdup(it->value);
        } else if (g_str_equal(it->sub->name, "ip") &&
                   n->kind == VP_NET_NETWORK && vp_ipv4_parse(it->value, &addr)) {
            /* A reservation in a libvirt network's DHCP: there only. */
            n->ip = vp_ipv4_format(addr);
        } else {
            return FALSE;
        }
    }
    *nic = n->kind == VP_NET_NONE ? NULL : g_steal_pointer(&n);
    return TRUE;
}

gboolean
vp_nics_parse(const char *const *texts, GPtrArray **nics, const char **bad)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vp_nic_free);
    guint n = texts != NULL ? g_strv_length((char **)texts) : 0;

    *bad = NULL;
    /* Nothing said: one NIC, on 'default' if the host has it active, else
     * user networking (the workflow decides, since only the host knows). */
    if (n == 0) {
        g_ptr_array_add(out, vp_nic_new(VP_NET_DEFAULT, NULL));
    }
    for (guint i = 0; i < n; i++) {
        VpNic *nic = NULL;
        /* none means no NIC at all: beside another it is a contradiction. */
        if (!vp_nic_parse(texts[i], &nic) || (nic == NULL && n > 1)) {
            *bad = texts[i];
            return FALSE;
        }
        if (nic != NULL) {
            g_ptr_array_add(out, nic);
        }
    }
    *nics = g_steal_pointer(&out);
    return TRUE;
}

gboolean
vp_option_value_ok(const VpOptionInfo *info, const char *text)
{
    guint64 n = 0;

    switch (info->kind) {
    case VP_OPT_TEXT:
    case VP_OPT_FILE:
        return text[0] != '\0';
    case VP_OPT_SIZE:
        return vp_size_parse(text, info->name, &n, NULL) &&
               (info->max == 0 || (n >= info->min && n <= info->max)) &&
               (!info->power_of_two || vp_power_of_two(n));
    case VP_OPT_MEMORY:
        return vp_memory_parse(text, &n) && n >= VP_MEMORY_MIN;
    case VP_OPT_INTEGER:
        return vp_plain_integer(text, info->min, info->max, &n) &&
               (!info->power_of_two || vp_power_of_two(n));
    case VP_OPT_CHOICE:
        return info->accepts != NULL ? info->accepts(text)
                                     : g_strv_contains(info->choices, text);
    case VP_OPT_FLAG:
        return g_str_equal(text, "true") || g_str_equal(text, "false");
    case VP_OPT_WAIT:
        return g_str_equal(text, "true") || g_str_equal(text, "false") ||
               vp_plain_integer(text, info->min, info->max, &n);
    case VP_OPT_SUBOPTIONS:
        if (info->subs == vp_network_subs) {
            g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
            g_autoptr(GPtrArray) nics = NULL;
            const char *bad = NULL;
            return lines[0] != NULL &&
                   vp_nics_parse((const char *const *)lines, &nics, &bad);
        }
        g_autoptr(GPtrArray) items = vp_suboptions_parse(info, text, NULL);
        return items != NULL;
    }
    g_return_val_if_reached(FALSE);
}

void
vp_option_set(const VpOptionInfo *info, VpProvisionArgs *p, VpDiskArgs *d,
              const char *text)
{
    gboolean *flag = vp_option_flag(info, p, d);
    char **slot = vp_option_text(info, p, d);
    char ***list = vp_option_list(info, p, d);

    if (list != NULL) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        if (*list != NULL) {
            g_strv_builder_addv(b, (const char **)*list);
        }
        g_strv_builder_addv(b, (const char **)lines);
        g_strfreev(*list);
        *list = g_strv_builder_end(b);
        return;
    }
    if (flag != NULL) {
        /* A flag's false, and a wait of false, is the option left out. */
        if (g_strcmp0(text, "false") == 0) {
            return;
        }
        *flag = TRUE;
        if (info->kind == VP_OPT_FLAG || g_strcmp0(text, "true") == 0) {
            text = NULL;
        }
    }
    if (slot != NULL) {
        g_free(*slot);
        /* "" rather than NULL for a bare --cloud-init: NULL reads as "not
         * given". */
        *slot = text == NULL && info->kind == VP_OPT_SUBOPTIONS ? g_strdup("")
                                                                : g_strdup(text);
    }
}

void
vp_provision_args_clear(VpProvisionArgs *p)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_option_table); i++) {
        const VpOptionInfo *info = &vp_option_table[i];
        if (info->flags & VP_OPT_DISK) {
            continue;
        }
        char **slot = vp_option_text(info, p, NULL);
        char ***list = vp_option_list(info, p, NULL);
        if (slot != NULL) {
            g_clear_pointer(slot, g_free);
        }
        if (list != NULL) {
            g_clear_pointer(list, g_strfreev);
        }
    }
    *p = (VpProvisionArgs){ 0 };
}

void
vp_disk_args_clear(VpDiskArgs *d)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_option_table); i++) {
        const VpOptionInfo *info = &vp_option_table[i];
        char **slot = (info->flags & VP_OPT_DISK) ? vp_option_text(info, NULL, d)
                                                  : NULL;
        if (slot != NULL) {
            g_clear_pointer(slot, g_free);
        }
    }
    *d = (VpDiskArgs){ 0 };
}
