/* Domain edits on the XML tree, against golden files in tests/data/: only
 * the edited disk changes; <metadata>, comments, unknown attributes and
 * every other device come out as they went in.  Regenerate with
 * VP_REGENERATE_GOLDEN=1, as test-domain-xml. */
#include <string.h>

#include <glib.h>

#include "domain-edit.h"
#include "text-diff.h"
#include "golden.h"

static VpDomainDoc *
input(void)
{
    g_autofree char *xml = vp_golden_read("edit-input.xml");
    g_autoptr(GError) error = NULL;
    VpDomainDoc *doc = vp_domain_doc_parse(xml, &error);
    g_assert_no_error(error);
    return doc;
}

static void
test_disks(void)
{
    g_autoptr(VpDomainDoc) doc = input();
    g_autoptr(GPtrArray) disks = vp_domain_disks(doc);
    g_assert_cmpuint(disks->len, ==, 3);
    VpDiskInfo *a = g_ptr_array_index(disks, 0);
    VpDiskInfo *b = g_ptr_array_index(disks, 1);
    VpDiskInfo *c = g_ptr_array_index(disks, 2);
    g_assert_cmpstr(a->target, ==, "vda");
    g_assert_cmpstr(a->path, ==, "/var/lib/libvirt/images/web1.img");
    g_assert_cmpstr(a->format, ==, "raw");
    g_assert_cmpstr(b->pool, ==, "data");
    g_assert_cmpstr(b->volume, ==, "web1-data.qcow2");
    g_assert_cmpstr(c->device, ==, "cdrom");
    g_assert_null(c->path);
}

/* Interfaces: a network's name and the MAC, lower case, when one is set;
 * a bridge has no network. */
static void
test_interfaces(void)
{
    g_autoptr(VpDomainDoc) doc = input();
    g_autoptr(GPtrArray) ifaces = vp_domain_interfaces(doc);
    g_assert_cmpuint(ifaces->len, ==, 1);
    const VpIfaceInfo *i = g_ptr_array_index(ifaces, 0);
    g_assert_cmpstr(i->network, ==, "default");
    g_assert_null(i->mac);

    g_autoptr(GError) error = NULL;
    g_autoptr(VpDomainDoc) two = vp_domain_doc_parse(
        "<domain><devices><interface type='bridge'><mac address='52:54:00:AB:00:01'/>"
        "<source bridge='br0'/></interface><interface type='network'>"
        "<mac address='52:54:00:ab:00:02'/><source network='ci-lan'/></interface>"
        "</devices></domain>", &error);
    g_assert_no_error(error);
    g_autoptr(GPtrArray) both = vp_domain_interfaces(two);
    g_assert_cmpuint(both->len, ==, 2);
    i = g_ptr_array_index(both, 0);
    g_assert_cmpstr(i->mac, ==, "52:54:00:ab:00:01");
    g_assert_null(i->network);
    i = g_ptr_array_index(both, 1);
    g_assert_cmpstr(i->mac, ==, "52:54:00:ab:00:02");
    g_assert_cmpstr(i->network, ==, "ci-lan");
}

/* convert: only the disk's type, source naming attribute and driver type
 * change; its seclabel, serial and address stay; <backingStore> goes. */
static void
test_switch(void)
{
    g_autoptr(VpDomainDoc) doc = input();
    g_autofree char *before = vp_domain_doc_format(doc);
    g_autoptr(GPtrArray) disks = vp_domain_disks(doc);
    vp_domain_switch_disk(g_ptr_array_index(disks, 0),
                          "/var/lib/libvirt/images/web1.qcow2", FALSE, "qcow2");
    g_autofree char *after = vp_domain_doc_format(doc);
    vp_golden_check("edit-convert.xml", after);
    g_autofree char *diff = vp_text_diff(before, after, "a", "b");
    vp_golden_check("edit-convert.diff", diff);
}

static void
test_append(void)
{
    g_autoptr(VpDomainDoc) doc = input();
    g_autofree char *target = vp_domain_free_target(doc, "virtio", NULL);
    g_assert_cmpstr(target, ==, "vdc");
    VpDomainSpec spec = {
        .disk_path = g_strdup("/var/lib/libvirt/images/web1-vdc.qcow2"),
        .disk_format = g_strdup("qcow2"),
        .disk_bus = g_strdup("virtio"),
        .disk_target = g_strdup(target),
        .cache = g_strdup("none"),
        .io = g_strdup("native"),
    };
    vp_domain_append_disk(doc, &spec);
    vp_domain_spec_clear(&spec);
    g_autofree char *after = vp_domain_doc_format(doc);
    vp_golden_check("edit-attach.xml", after);
}

static void
test_free_targets(void)
{
    g_autoptr(VpDomainDoc) doc = input();
    g_autoptr(GPtrArray) taken = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *sd = vp_domain_free_target(doc, "sata", NULL);
    g_autofree char *hd = vp_domain_free_target(doc, "ide", NULL);
    g_assert_cmpstr(sd, ==, "sdb");
    g_assert_cmpstr(hd, ==, "hda");
    /* vda..vdz taken (two by the definition, the rest live): next is vdaa. */
    for (char c = 'c'; c <= 'z'; c++) {
        g_ptr_array_add(taken, g_strdup_printf("vd%c", c));
    }
    g_autofree char *vd = vp_domain_free_target(doc, "virtio", taken);
    g_assert_cmpstr(vd, ==, "vdaa");
    /* A gap is filled first. */
    g_ptr_array_remove_index(taken, 5); /* vdh */
    g_autofree char *gap = vp_domain_free_target(doc, "virtio", taken);
    g_assert_cmpstr(gap, ==, "vdh");
}

static void
test_diff(void)
{
    g_autofree char *same = vp_text_diff("a\nb\n", "a\nb\n", "x", "y");
    g_assert_cmpstr(same, ==, "");
    g_autofree char *d = vp_text_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n",
                                      "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", "x", "y");
    g_assert_cmpstr(d, ==,
                    "--- x\n+++ y\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/domain-edit/disks", test_disks);
    g_test_add_func("/domain-edit/switch", test_switch);
    g_test_add_func("/domain-edit/interfaces", test_interfaces);
    g_test_add_func("/domain-edit/append", test_append);
    g_test_add_func("/domain-edit/free-targets", test_free_targets);
    g_test_add_func("/domain-edit/diff", test_diff);
    return vp_golden_run();
}
