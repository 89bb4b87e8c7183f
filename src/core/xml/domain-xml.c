#include "domain-xml.h"

#include <string.h>

#include <glib/gi18n.h>
#include <libxml/parser.h>

#include "error.h"
#include "xml-util.h"

const char *const vp_disk_buses[] = { "virtio", "scsi", "sata", "ide", NULL };

/* PCIe root ports kept free for hot-plugging disks into q35 guests. */
#define VP_SPARE_ROOT_PORTS 4

/* Here rather than in xml-util.c, beside its prototype: the callers (a lab,
 * in the workflows) see libxml2 only through domain-xml.h, which keeps its
 * types out of their way. */
void
vp_xml_init(void)
{
    xmlInitParser();
}

void
vp_domain_spec_clear(VpDomainSpec *s)
{
    g_free(s->name);
    g_free(s->uuid);
    g_clear_pointer(&s->disk_backing, g_ptr_array_unref);
    g_free(s->seed_path);
    g_free(s->virt_type);
    g_free(s->arch);
    g_free(s->machine);
    g_free(s->emulator);
    g_free(s->disk_path);
    g_free(s->disk_format);
    g_free(s->disk_bus);
    g_free(s->disk_target);
    g_free(s->cache);
    g_free(s->io);
    g_free(s->discard);
    g_free(s->cdrom);
    g_free(s->kernel);
    g_free(s->initrd);
    g_free(s->cmdline);
    g_clear_pointer(&s->nics, g_ptr_array_unref);
    g_free(s->graphics);
    g_free(s->metadata);
    *s = (VpDomainSpec){ 0 };
}

/* <boot> entries are tried in order and the disk is always the last, so that
 * the guest boots its own system once it has one. */
static void
vp_domain_os(xmlNodePtr root, const VpDomainSpec *s)
{
    xmlNodePtr os = vp_xml_child(root, "os", NULL);
    xmlNodePtr type = vp_xml_child(os, "type", "hvm");

    /* NULL leaves the attribute out: libvirt's default then applies, not a
     * guess of ours. */
    vp_xml_attr(type, "arch", s->arch);
    vp_xml_attr(type, "machine", s->machine);
    switch (s->install) {
    case VP_INSTALL_KERNEL:
        vp_xml_child(os, "kernel", s->kernel);
        if (s->initrd != NULL) {
            vp_xml_child(os, "initrd", s->initrd);
        }
        if (s->cmdline != NULL) {
            vp_xml_child(os, "cmdline", s->cmdline);
        }
        break;
    case VP_INSTALL_CDROM:
        /* The installer first; once it has written the disk, the disk. */
        vp_xml_attr(vp_xml_child(os, "boot", NULL), "dev", "cdrom");
        vp_xml_attr(vp_xml_child(os, "boot", NULL), "dev", "hd");
        break;
    case VP_INSTALL_PXE:
        /* As a CI lab's installer server expects: PXE until the disk holds
         * a system, then the disk. */
        vp_xml_attr(vp_xml_child(os, "boot", NULL), "dev", "network");
        vp_xml_attr(vp_xml_child(os, "boot", NULL), "dev", "hd");
        break;
    case VP_INSTALL_IMPORT:
        vp_xml_attr(vp_xml_child(os, "boot", NULL), "dev", "hd");
        break;
    }
}

/* The chain under DISK: one <backingStore> per level, each with the format
 * stated, ended by an empty <backingStore/>, which tells libvirt the chain
 * is complete.  libvirt then neither probes the images (a probe of guest-
 * written bytes is how a guest reads host files) nor labels files outside
 * the chain for qemu. */
static void
vp_domain_xml_backing(xmlNodePtr disk, const GPtrArray *chain)
{
    xmlNodePtr parent = disk;

    if (chain == NULL || chain->len == 0) {
        return;
    }
    for (guint i = 0; i < chain->len; i++) {
        const VpBackingLevel *level = g_ptr_array_index(chain, i);
        xmlNodePtr store = vp_xml_child(parent, "backingStore", NULL);
        vp_xml_attr(store, "type", level->block ? "block" : "file");
        vp_xml_attr(vp_xml_child(store, "format", NULL), "type", level->format);
        vp_xml_attr(vp_xml_child(store, "source", NULL),
                    level->block ? "dev" : "file", level->path);
        parent = store;
    }
    vp_xml_child(parent, "backingStore", NULL);
}

void *
vp_domain_xml_add_disk(void *devices_node, const VpDomainSpec *s)
{
    xmlNodePtr devices = devices_node;
    xmlNodePtr disk = vp_xml_child(devices, "disk", NULL);
    /* A logical volume is a device node: libvirt wants type='block' with
     * <source dev>, a file type='file' with <source file>. */
    vp_xml_attr(disk, "type", s->disk_block ? "block" : "file");
    vp_xml_attr(disk, "device", "disk");

    xmlNodePtr driver = vp_xml_child(disk, "driver", NULL);
    vp_xml_attr(driver, "name", "qemu");
    /* Always stated, never left to a default: a qcow2 disk read as raw would
     * show the guest its metadata. */
    vp_xml_attr(driver, "type", s->disk_format);
    vp_xml_attr(driver, "cache", s->cache);
    vp_xml_attr(driver, "io", s->io);
    vp_xml_attr(driver, "discard", s->discard);

    vp_xml_attr(vp_xml_child(disk, "source", NULL),
                s->disk_block ? "dev" : "file", s->disk_path);
    vp_domain_xml_backing(disk, s->disk_backing);
    xmlNodePtr target = vp_xml_child(disk, "target", NULL);
    vp_xml_attr(target, "dev", s->disk_target);
    vp_xml_attr(target, "bus", s->disk_bus);
    return disk;
}

/* A read-only cdrom of the raw image PATH as sd device number INDEX (sda,
 * sdb, ...: SATA and SCSI devices share the sd names) on BUS. */
static void
vp_domain_cdrom(xmlNodePtr devices, const char *path, const char *bus,
                guint index)
{
    char dev[] = "sda";

    dev[2] = (char)('a' + index);
    xmlNodePtr disk = vp_xml_child(devices, "disk", NULL);
    vp_xml_attr(disk, "type", "file");
    vp_xml_attr(disk, "device", "cdrom");
    xmlNodePtr driver = vp_xml_child(disk, "driver", NULL);
    vp_xml_attr(driver, "name", "qemu");
    vp_xml_attr(driver, "type", "raw");
    vp_xml_attr(vp_xml_child(disk, "source", NULL), "file", path);
    xmlNodePtr target = vp_xml_child(disk, "target", NULL);
    vp_xml_attr(target, "dev", dev);
    vp_xml_attr(target, "bus", bus);
    vp_xml_child(disk, "readonly", NULL);
}

/* The cdroms: the installer ISO on SATA, which every installer has a
 * driver for; the cloud-init seed on virtio-scsi, because cloud kernels
 * (Debian's linux-image-cloud-amd64) leave out AHCI but keep virtio-scsi
 * and sr_mod, and a seed the guest cannot see is silently no seed.  Both
 * read-only: the guest cannot write to them.  Numbered after a disk that
 * already took an sd name. */
static void
vp_domain_cdroms(xmlNodePtr devices, const VpDomainSpec *s)
{
    guint next = g_str_has_prefix(s->disk_target, "sd") ? 1 : 0;

    if (s->install == VP_INSTALL_CDROM) {
        vp_domain_cdrom(devices, s->cdrom, "sata", next++);
    }
    if (s->seed_path != NULL) {
        vp_domain_cdrom(devices, s->seed_path, "scsi", next++);
    }
}

/* libvirt's default SCSI controller on x86 is an emulated LSI one; a guest
 * with SCSI devices gets virtio-scsi, which is faster and which cloud
 * kernels carry. */
static void
vp_domain_scsi_controller(xmlNodePtr devices, const VpDomainSpec *s)
{
    if (s->seed_path != NULL || g_strcmp0(s->disk_bus, "scsi") == 0) {
        xmlNodePtr scsi = vp_xml_child(devices, "controller", NULL);
        vp_xml_attr(scsi, "type", "scsi");
        vp_xml_attr(scsi, "index", "0");
        vp_xml_attr(scsi, "model", "virtio-scsi");
    }
}

/* The qemu guest agent's channel: how --wait learns the guest's addresses,
 * and what lets libvirt shut a guest down or freeze its file systems
 * cleanly.  libvirt picks the socket path. */
static void
vp_domain_agent_channel(xmlNodePtr devices)
{
    xmlNodePtr channel = vp_xml_child(devices, "channel", NULL);
    vp_xml_attr(channel, "type", "unix");
    xmlNodePtr target = vp_xml_child(channel, "target", NULL);
    vp_xml_attr(target, "type", "virtio");
    vp_xml_attr(target, "name", "org.qemu.guest_agent.0");
}

VpNic *
vp_nic_new(VpNetKind kind, const char *source)
{
    VpNic *nic = g_new0(VpNic, 1);

    nic->kind = kind;
    nic->source = g_strdup(source);
    return nic;
}

void
vp_nic_free(VpNic *nic)
{
    if (nic != NULL) {
        g_free(nic->source);
        g_free(nic->mac);
        g_free(nic->model);
        g_free(nic->ip);
        g_free(nic->dns_domain);
        g_free(nic);
    }
}

/* One <interface> per NIC, in order: libvirt gives the guest its PCI slots
 * in the order of the XML, so the first is the guest's first NIC. */
static void
vp_domain_nics(xmlNodePtr devices, const VpDomainSpec *s)
{
    for (guint i = 0; s->nics != NULL && i < s->nics->len; i++) {
        const VpNic *nic = g_ptr_array_index(s->nics, i);
        xmlNodePtr iface = vp_xml_child(devices, "interface", NULL);
        switch (nic->kind) {
        case VP_NET_DEFAULT:
        case VP_NET_NETWORK:
            vp_xml_attr(iface, "type", "network");
            vp_xml_attr(vp_xml_child(iface, "source", NULL), "network",
                        nic->source != NULL ? nic->source : "default");
            break;
        case VP_NET_BRIDGE:
            vp_xml_attr(iface, "type", "bridge");
            vp_xml_attr(vp_xml_child(iface, "source", NULL), "bridge",
                        nic->source);
            break;
        case VP_NET_USER:
        case VP_NET_NONE:
            vp_xml_attr(iface, "type", "user");
            break;
        }
        if (nic->mac != NULL) {
            vp_xml_attr(vp_xml_child(iface, "mac", NULL), "address", nic->mac);
        }
        /* virtio: paravirtual, the fastest, and Linux guests carry its
         * driver. */
        vp_xml_attr(vp_xml_child(iface, "model", NULL), "type",
                    nic->model != NULL ? nic->model : "virtio");
    }
}

/* A serial console on a pty: virsh console works without graphics too. */
static void
vp_domain_console(xmlNodePtr devices)
{
    xmlNodePtr serial = vp_xml_child(devices, "serial", NULL);
    vp_xml_attr(serial, "type", "pty");
    vp_xml_attr(vp_xml_child(serial, "target", NULL), "port", "0");
    xmlNodePtr console = vp_xml_child(devices, "console", NULL);
    vp_xml_attr(console, "type", "pty");
    xmlNodePtr target = vp_xml_child(console, "target", NULL);
    vp_xml_attr(target, "type", "serial");
    vp_xml_attr(target, "port", "0");
}

/* <metadata> right after the name and UUID, where libvirt's schema has
 * it.  The element is parsed and copied as a node, never pasted as text. */
static void
vp_domain_metadata(xmlNodePtr root, const VpDomainSpec *s)
{
    if (s->metadata == NULL) {
        return;
    }
    g_autoptr(xmlDoc) fragment = vp_xml_parse(s->metadata, "metadata", NULL);
    g_assert(fragment != NULL);
    xmlNodePtr copy = xmlDocCopyNode(xmlDocGetRootElement(fragment), root->doc, 1);
    xmlAddChild(vp_xml_child(root, "metadata", NULL), copy);
}

char *
vp_domain_xml_build(const VpDomainSpec *s)
{
    xmlNodePtr root;
    g_autoptr(xmlDoc) doc = vp_xml_new_doc("domain", &root);

    vp_xml_attr(root, "type", s->virt_type);
    vp_xml_child(root, "name", s->name);
    if (s->uuid != NULL) {
        vp_xml_child(root, "uuid", s->uuid);
    }
    vp_domain_metadata(root, s);
    char text[32];
    /* In KiB, libvirt's own unit, so that the definition reads back
     * unchanged. */
    g_snprintf(text, sizeof(text), "%" G_GUINT64_FORMAT, s->memory / 1024);
    vp_xml_attr(vp_xml_child(root, "memory", text), "unit", "KiB");
    g_snprintf(text, sizeof(text), "%u", s->vcpus);
    vp_xml_child(root, "vcpu", text);
    vp_domain_os(root, s);

    xmlNodePtr features = vp_xml_child(root, "features", NULL);
    vp_xml_child(features, "acpi", NULL);
    vp_xml_child(features, "apic", NULL);
    if (g_strcmp0(s->virt_type, "kvm") == 0) {
        /* Only with KVM: under TCG there is no host CPU to pass through. */
        vp_xml_attr(vp_xml_child(root, "cpu", NULL), "mode", "host-passthrough");
    }
    vp_xml_attr(vp_xml_child(root, "clock", NULL), "offset", "utc");
    /* Power-off and crash end the guest; a reboot (an installer's last step)
     * restarts it, now booting from the disk. */
    vp_xml_child(root, "on_poweroff", "destroy");
    vp_xml_child(root, "on_reboot", "restart");
    vp_xml_child(root, "on_crash", "destroy");

    xmlNodePtr devices = vp_xml_child(root, "devices", NULL);
    if (s->emulator != NULL) {
        vp_xml_child(devices, "emulator", s->emulator);
    }
    vp_domain_xml_add_disk(devices, s);
    vp_domain_cdroms(devices, s);
    vp_domain_scsi_controller(devices, s);
    vp_domain_nics(devices, s);
    vp_domain_console(devices);
    vp_domain_agent_channel(devices);
    if (s->graphics != NULL && g_strcmp0(s->graphics, "none") != 0) {
        xmlNodePtr graphics = vp_xml_child(devices, "graphics", NULL);
        vp_xml_attr(graphics, "type", s->graphics);
        /* Reachable through the host (ssh tunnel), not the whole network. */
        vp_xml_attr(graphics, "listen", "127.0.0.1");
        vp_xml_attr(vp_xml_child(vp_xml_child(devices, "video", NULL), "model",
                                 NULL), "type", "virtio");
    }
    /* On q35 every hot-plugged device needs a free PCIe root port, and
     * libvirt only adds the ports the defined devices use: keep a few spare
     * for attach --live, as virt-install does. */
    if (s->machine != NULL && strstr(s->machine, "q35") != NULL) {
        /* The root complex must come first, or libvirt numbers a port 0. */
        xmlNodePtr root_complex = vp_xml_child(devices, "controller", NULL);
        vp_xml_attr(root_complex, "type", "pci");
        vp_xml_attr(root_complex, "index", "0");
        vp_xml_attr(root_complex, "model", "pcie-root");
        for (int i = 0; i < VP_SPARE_ROOT_PORTS; i++) {
            xmlNodePtr port = vp_xml_child(devices, "controller", NULL);
            vp_xml_attr(port, "type", "pci");
            vp_xml_attr(port, "model", "pcie-root-port");
        }
    }
    /* The balloon lets the host reclaim memory, the RNG keeps guests from
     * stalling on entropy during boot. */
    vp_xml_attr(vp_xml_child(devices, "memballoon", NULL), "model", "virtio");
    xmlNodePtr rng = vp_xml_child(devices, "rng", NULL);
    vp_xml_attr(rng, "model", "virtio");
    vp_xml_attr(vp_xml_child(rng, "backend", "/dev/urandom"), "model", "random");
    return vp_xml_to_string(doc);
}

char *
vp_volume_xml_build(const char *name, guint64 capacity)
{
    xmlNodePtr root;
    g_autoptr(xmlDoc) doc = vp_xml_new_doc("volume", &root);
    char text[32];

    vp_xml_child(root, "name", name);
    g_snprintf(text, sizeof(text), "%" G_GUINT64_FORMAT, capacity);
    vp_xml_attr(vp_xml_child(root, "capacity", text), "unit", "bytes");
    /* Fully allocated: a logical volume of a smaller allocation would be a
     * thin snapshot that can run out of space under the guest. */
    vp_xml_attr(vp_xml_child(root, "allocation", text), "unit", "bytes");
    xmlNodePtr target = vp_xml_child(root, "target", NULL);
    /* raw, whatever the image: libvirt would otherwise create the qcow2 with
     * qemu-img and its own options (compat 0.10 without <compat>).  The upload
     * brings our bytes, and libvirt probes the header afterwards. */
    vp_xml_attr(vp_xml_child(target, "format", NULL), "type", "raw");
    return vp_xml_to_string(doc);
}

char *
vp_pool_dir_xml_build(const char *name, const char *path)
{
    xmlNodePtr root;
    g_autoptr(xmlDoc) doc = vp_xml_new_doc("pool", &root);

    vp_xml_attr(root, "type", "dir");
    vp_xml_child(root, "name", name);
    vp_xml_child(vp_xml_child(root, "target", NULL), "path", path);
    return vp_xml_to_string(doc);
}

gboolean
vp_domcaps_parse(const char *xml, char **machine, char **emulator,
                 GError **error)
{
    g_autoptr(xmlDoc) doc = vp_xml_parse(xml, _("domain capabilities"), error);

    if (doc == NULL) {
        return FALSE;
    }
    /* The canonical name ("pc-q35-7.2" for "q35") pins the guest ABI: the
     * alias moves to a newer machine type when qemu is upgraded. */
    *machine = vp_xml_xpath_string(doc, "/domainCapabilities/machine");
    *emulator = vp_xml_xpath_string(doc, "/domainCapabilities/path");
    return TRUE;
}

gboolean
vp_volume_xml_parse(const char *xml, char **path, char **format,
                    GError **error)
{
    g_autoptr(xmlDoc) doc = vp_xml_parse(xml, _("volume XML"), error);

    if (doc == NULL) {
        return FALSE;
    }
    *path = vp_xml_xpath_string(doc, "/volume/target/path");
    /* The format libvirt probed, which may differ from what was created. */
    *format = vp_xml_xpath_string(doc, "/volume/target/format/@type");
    return TRUE;
}

gboolean
vp_pool_xml_parse(const char *xml, char **type, char **path, GError **error)
{
    g_autoptr(xmlDoc) doc = vp_xml_parse(xml, _("pool XML"), error);

    if (doc == NULL) {
        return FALSE;
    }
    *type = vp_xml_xpath_string(doc, "/pool/@type");
    *path = vp_xml_xpath_string(doc, "/pool/target/path");
    return TRUE;
}
