/* Domain, volume and pool XML against golden files in tests/data/.
 *
 * Regenerate them as golden.h says.  tests/validate-golden.sh checks every golden domain with
 * libvirt's own schema (virt-xml-validate). */
#include <string.h>

#include <glib.h>
#include <libxml/parser.h>

#include "domain-xml.h"
#include "golden.h"

static void
golden(const char *name, const char *xml)
{
    vp_golden_check(name, xml);
    /* Whatever the text, it must be well-formed XML. */
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), name, NULL,
                                  XML_PARSE_NONET);
    g_assert_nonnull(doc);
    xmlFreeDoc(doc);
}

static void
base_spec(VpDomainSpec *s, const char *name)
{
    *s = (VpDomainSpec){
        .name = g_strdup(name),
        .memory = G_GUINT64_CONSTANT(2) << 30,
        .vcpus = 2,
        .virt_type = g_strdup("qemu"),
        .machine = g_strdup("pc-q35-7.2"),
        .emulator = g_strdup("/usr/bin/qemu-system-x86_64"),
        .disk_path = g_strdup("/var/lib/libvirt/images/zabbix.qcow2"),
        .disk_format = g_strdup("qcow2"),
        .disk_bus = g_strdup("virtio"),
        .disk_target = g_strdup("vda"),
        .cache = g_strdup("none"),
        .io = g_strdup("native"),
        .nics = g_ptr_array_new_with_free_func((GDestroyNotify)vp_nic_free),
        .graphics = g_strdup("none"),
    };
    g_ptr_array_add(s->nics, vp_nic_new(VP_NET_NETWORK, "default"));
}

/* S's one NIC becomes KIND on SOURCE; VP_NET_NONE leaves it none. */
static void
set_nic(VpDomainSpec *s, VpNetKind kind, const char *source)
{
    g_ptr_array_set_size(s->nics, 0);
    if (kind != VP_NET_NONE) {
        g_ptr_array_add(s->nics, vp_nic_new(kind, source));
    }
}

static void
test_cdrom(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "zabbix");
    s.install = VP_INSTALL_CDROM;
    s.cdrom = g_strdup("/srv/iso/debian-12.iso");
    s.graphics = (g_free(s.graphics), g_strdup("vnc"));
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-cdrom.xml", xml);
}

/* The product command names no media: network boot, then the disk. */
static void
test_pxe(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "zabbix");
    s.install = VP_INSTALL_PXE;
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-pxe.xml", xml);
}

static void
test_kernel(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "ci-42");
    s.install = VP_INSTALL_KERNEL;
    s.kernel = g_strdup("/srv/boot/vmlinuz");
    s.initrd = g_strdup("/srv/boot/initrd.img");
    s.cmdline = g_strdup("console=ttyS0 root=/dev/vda1 quiet");
    set_nic(&s, VP_NET_USER, NULL);
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-kernel.xml", xml);
}

static void
test_import_kvm_block(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "db1");
    s.install = VP_INSTALL_IMPORT;
    s.virt_type = (g_free(s.virt_type), g_strdup("kvm"));
    s.disk_block = TRUE;
    s.disk_path = (g_free(s.disk_path), g_strdup("/dev/vg0/db1.qcow2"));
    s.discard = g_strdup("unmap");
    set_nic(&s, VP_NET_BRIDGE, "br0");
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-import-block.xml", xml);
}

/* One <interface> per --network, in order, with the MAC and model each
 * asked for (virtio where none was). */
static void
test_nics(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "router");
    s.install = VP_INSTALL_IMPORT;
    VpNic *lab = g_ptr_array_index(s.nics, 0);
    lab->source = (g_free(lab->source), g_strdup("lab-a"));
    lab->mac = g_strdup("52:54:00:6c:61:01");
    VpNic *bridge = vp_nic_new(VP_NET_BRIDGE, "br0");
    bridge->model = g_strdup("e1000e");
    g_ptr_array_add(s.nics, bridge);
    g_ptr_array_add(s.nics, vp_nic_new(VP_NET_USER, NULL));
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-nics.xml", xml);
}

/* User text full of XML metacharacters and non-ASCII: escaped, never
 * markup. */
static void
test_hostile_names(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "<zab&bix \"guest\" 'ü' 虚拟机>");
    s.install = VP_INSTALL_KERNEL;
    s.kernel = g_strdup("/srv/boot/vmlinuz&<x>");
    s.cmdline = g_strdup("console=ttyS0 x=\"a&b\" y='<c>' ]]>");
    s.disk_path = (g_free(s.disk_path),
                   g_strdup("/pool/<zab&bix \"guest\" 'ü' 虚拟机>.qcow2"));
    set_nic(&s, VP_NET_NONE, NULL);
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-hostile.xml", xml);
    g_assert_null(strstr(xml, "<zab"));
    g_assert_nonnull(strstr(xml, "&lt;zab&amp;bix"));
}

/* A guest from a cloud image: the overlay's chain down to a raw base with
 * every format stated and the chain closed, the seed as a read-only cdrom
 * on virtio-scsi, the UUID chosen up front (it is the seed's instance-id),
 * the guest agent channel. */
static void
test_cloud(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "web-1");
    s.install = VP_INSTALL_IMPORT;
    s.uuid = g_strdup("6f1c3a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b");
    s.disk_path = (g_free(s.disk_path),
                   g_strdup("/var/lib/libvirt/images/web-1.qcow2"));
    s.disk_backing = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vp_backing_level_free);
    g_ptr_array_add(s.disk_backing,
                    vp_backing_level_new("/var/lib/libvirt/images/debian-12.qcow2",
                                         "qcow2", FALSE));
    g_ptr_array_add(s.disk_backing,
                    vp_backing_level_new("/dev/vg0/golden", "raw", TRUE));
    s.seed_path = g_strdup("/var/lib/libvirt/images/web-1-cidata.iso");
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-cloud.xml", xml);
}

/* An installer ISO and a seed with a SCSI disk: three different sd names,
 * and one virtio-scsi controller. */
static void
test_sd_names(void)
{
    g_auto(VpDomainSpec) s;
    base_spec(&s, "scsi-guest");
    s.disk_bus = (g_free(s.disk_bus), g_strdup("scsi"));
    s.disk_target = (g_free(s.disk_target), g_strdup("sda"));
    s.install = VP_INSTALL_CDROM;
    s.cdrom = g_strdup("/srv/iso/debian-12.iso");
    s.seed_path = g_strdup("/var/lib/libvirt/images/scsi-guest-cidata.iso");
    g_autofree char *xml = vp_domain_xml_build(&s);
    golden("domain-sd-names.xml", xml);
    g_assert_nonnull(strstr(xml, "dev=\"sdb\" bus=\"sata\""));
    g_assert_nonnull(strstr(xml, "dev=\"sdc\" bus=\"scsi\""));
    g_assert_null(strstr(xml, "model=\"lsilogic\""));
}

static void
test_volume_and_pool(void)
{
    g_autofree char *vol = vp_volume_xml_build("a&b<c>.qcow2", 0);
    golden("volume.xml", vol);
    g_autofree char *pool = vp_pool_dir_xml_build("default",
                                                  "/var/lib/libvirt/images");
    golden("pool-dir.xml", pool);
}

static void
test_parsers(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *machine = NULL;
    g_autofree char *emulator = NULL;
    g_autofree char *path = NULL;
    g_autofree char *format = NULL;

    g_assert_true(vp_domcaps_parse(
        "<domainCapabilities><path>/usr/bin/qemu-system-x86_64</path>"
        "<domain>qemu</domain><machine>pc-q35-7.2</machine>"
        "<arch>x86_64</arch></domainCapabilities>", &machine, &emulator, &error));
    g_assert_cmpstr(machine, ==, "pc-q35-7.2");
    g_assert_cmpstr(emulator, ==, "/usr/bin/qemu-system-x86_64");
    g_assert_true(vp_volume_xml_parse(
        "<volume><name>x</name><target><path>/p/x</path>"
        "<format type='qcow2'/></target></volume>", &path, &format, &error));
    g_assert_cmpstr(path, ==, "/p/x");
    g_assert_cmpstr(format, ==, "qcow2");
    g_assert_false(vp_volume_xml_parse("<volume>", &path, &format, &error));
    g_assert_nonnull(error);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/domain-xml/cdrom", test_cdrom);
    g_test_add_func("/domain-xml/pxe", test_pxe);
    g_test_add_func("/domain-xml/kernel", test_kernel);
    g_test_add_func("/domain-xml/import-kvm-block", test_import_kvm_block);
    g_test_add_func("/domain-xml/hostile-names", test_hostile_names);
    g_test_add_func("/domain-xml/nics", test_nics);
    g_test_add_func("/domain-xml/cloud", test_cloud);
    g_test_add_func("/domain-xml/sd-names", test_sd_names);
    g_test_add_func("/domain-xml/volume-and-pool", test_volume_and_pool);
    g_test_add_func("/domain-xml/parsers", test_parsers);
    return vp_golden_run();
}
