/* The lab ownership record: written, read back in both forms libvirt
 * hands out (the domain XML keeps the namespace, virDomainGetMetadata
 * strips it), and a table of records that must not count as anybody's. */
#include <string.h>

#include <glib.h>

#include "domain-xml.h"
#include "error.h"
#include "lab-record.h"

static VpLabRecord *
vp_sample(gboolean complete)
{
    VpLabRecord *r = vp_lab_record_new("ci-42", "web", "ab12");

    vp_lab_record_add_volume(r, "default", "web-1.qcow2");
    vp_lab_record_add_volume(r, "fast pool", "web-1-cidata.iso");
    r->complete = complete;
    return r;
}

static void
vp_assert_sample(const VpLabRecord *r, gboolean complete)
{
    g_assert_cmpstr(r->lab, ==, "ci-42");
    g_assert_cmpstr(r->entry, ==, "web");
    g_assert_cmpstr(r->hash, ==, "ab12");
    g_assert_cmpint(r->complete, ==, complete);
    g_assert_cmpuint(r->volumes->len, ==, 2);
    const VpLabVolume *v = g_ptr_array_index(r->volumes, 0);
    g_assert_cmpstr(v->pool, ==, "default");
    g_assert_cmpstr(v->name, ==, "web-1.qcow2");
    v = g_ptr_array_index(r->volumes, 1);
    g_assert_cmpstr(v->pool, ==, "fast pool");
    g_assert_cmpstr(v->name, ==, "web-1-cidata.iso");
}

static void
test_roundtrip(void)
{
    for (int complete = 0; complete <= 1; complete++) {
        g_autoptr(VpLabRecord) r = vp_sample(complete);
        g_autofree char *xml = vp_lab_record_to_xml(r);
        g_autoptr(GError) error = NULL;

        g_assert_nonnull(strstr(xml, "xmlns:vp=\"" VP_LAB_RECORD_NS "\""));
        g_assert_nonnull(strstr(xml, complete ? "<vp:state>complete</vp:state>"
                                              : "<vp:state>creating</vp:state>"));
        g_autoptr(VpLabRecord) back = vp_lab_record_parse(xml, &error);
        g_assert_no_error(error);
        vp_assert_sample(back, complete);
    }
}

/* The salt and the base with its digest survive a round trip; the salted
 * hash depends on the salt and is the plain hash without one. */
static void
test_salt_base(void)
{
    g_autoptr(VpLabRecord) r = vp_sample(TRUE);
    g_autofree char *salt = vp_lab_new_salt();
    g_autofree char *other = vp_lab_new_salt();
    g_autoptr(GError) error = NULL;

    g_assert_cmpuint(strlen(salt), ==, 32);
    g_assert_cmpstr(salt, !=, other);
    g_autofree char *a = vp_lab_salted_hash("ab12", salt);
    g_autofree char *b = vp_lab_salted_hash("ab12", other);
    g_autofree char *plain = vp_lab_salted_hash("ab12", NULL);
    g_assert_cmpuint(strlen(a), ==, 64);
    g_assert_cmpstr(a, !=, b);
    g_assert_cmpstr(plain, ==, "ab12");
    /* echo -n 00:ab12 | sha256sum */
    g_autofree char *known = vp_lab_salted_hash("ab12", "00");
    g_assert_cmpstr(known, ==,
                    "171c8cc687c65b39674ebb0a5384c5dfe9b96e00989ee4b081573f82b395a9e4");

    r->salt = g_strdup(salt);
    r->base = g_strdup("default/debian-3b1f0c2a9e77.qcow2");
    r->base_sha256 = g_strdup("3b1f0c2a9e77aa");
    g_autofree char *xml = vp_lab_record_to_xml(r);
    g_autoptr(VpLabRecord) back = vp_lab_record_parse(xml, &error);
    g_assert_no_error(error);
    vp_assert_sample(back, TRUE);
    g_assert_cmpstr(back->salt, ==, salt);
    g_assert_cmpstr(back->base, ==, "default/debian-3b1f0c2a9e77.qcow2");
    g_assert_cmpstr(back->base_sha256, ==, "3b1f0c2a9e77aa");
}

/* What virDomainGetMetadata returns: the same element, no namespace. */
static void
test_stripped(void)
{
    const char *xml =
        "<guest>\n  <lab>ci-42</lab>\n  <entry>web</entry>\n"
        "  <options-hash>ab12</options-hash>\n  <state>complete</state>\n"
        "  <volume pool=\"default\">web-1.qcow2</volume>\n"
        "  <volume pool=\"fast pool\">web-1-cidata.iso</volume>\n"
        "  <later-addition>kept out</later-addition>\n</guest>\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(VpLabRecord) r = vp_lab_record_parse(xml, &error);

    g_assert_no_error(error);
    vp_assert_sample(r, TRUE);
}

/* User text in a record is escaped by the tree API, never markup. */
static void
test_escaped(void)
{
    g_autoptr(VpLabRecord) r = vp_lab_record_new("a<b>&\"c", "e'n", "h");
    g_autofree char *xml = vp_lab_record_to_xml(r);
    g_autoptr(GError) error = NULL;

    g_assert_null(strstr(xml, "a<b>"));
    g_autoptr(VpLabRecord) back = vp_lab_record_parse(xml, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->lab, ==, "a<b>&\"c");
    g_assert_cmpstr(back->entry, ==, "e'n");
    g_assert_cmpuint(back->volumes->len, ==, 0);
}

#define NIC_HEAD "<guest><lab>l</lab><entry>e</entry><options-hash>h</options-hash>"

static const char *const refused[] = {
    "",
    "not xml",
    "<guest><lab>l</lab><entry>e</entry></guest>",                /* no hash */
    "<guest><entry>e</entry><options-hash>h</options-hash></guest>", /* no lab */
    "<guest><lab>l</lab><options-hash>h</options-hash></guest>",  /* no entry */
    "<guest><lab></lab><entry>e</entry><options-hash>h</options-hash></guest>",
    "<other><lab>l</lab><entry>e</entry><options-hash>h</options-hash></other>",
    "<x:guest xmlns:x=\"urn:someone-else\"><x:lab>l</x:lab><x:entry>e</x:entry>"
    "<x:options-hash>h</x:options-hash></x:guest>",
    "<guest><lab>l</lab><entry>e</entry><options-hash>h</options-hash>"
    "<volume>v.qcow2</volume></guest>",                            /* no pool */
    "<guest><lab>l</lab><entry>e</entry><options-hash>h</options-hash>"
    "<volume pool=\"p\"></volume></guest>",                        /* no name */
    /* A nic teardown could not act on safely refuses the whole record. */
    NIC_HEAD "<nic index=\"0\" mac=\"52:54:00:00:00:01\"/></guest>", /* no network */
    NIC_HEAD "<nic index=\"0\" network=\"n\"/></guest>",            /* no MAC */
    NIC_HEAD "<nic index=\"0\" network=\"n\" mac=\"52:54:00:00:00\"/></guest>",
    NIC_HEAD "<nic network=\"n\" mac=\"52:54:00:00:00:01\"/></guest>", /* no index */
    NIC_HEAD "<nic index=\"0\" network=\"n\" mac=\"52:54:00:00:00:01\" "
    "ip=\"10.1.1.300\"/></guest>",
    NIC_HEAD "<nic index=\"0\" network=\"n\" mac=\"52:54:00:00:00:01\" "
    "dhcp=\"yes\"/></guest>",                                     /* no ip */
    "<!DOCTYPE guest [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
    "<guest><lab>&e;</lab><entry>e</entry><options-hash>h</options-hash></guest>",
};

static void
test_refused(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VpLabRecord) r = vp_lab_record_parse(refused[i], &error);
        if (r != NULL) {
            /* An external entity is never loaded: its text stays empty. */
            g_assert_cmpuint(i, ==, G_N_ELEMENTS(refused) - 1);
            g_assert_null(strstr(r->lab, "root:"));
            continue;
        }
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    }
}

/* The record in a domain's <metadata>, right after name and UUID. */
static void
test_in_domain(void)
{
    g_autoptr(VpLabRecord) r = vp_sample(TRUE);
    VpDomainSpec spec = {
        .name = g_strdup("web-1"),
        .memory = 256 << 20,
        .vcpus = 1,
        .virt_type = g_strdup("qemu"),
        .disk_path = g_strdup("/p/web-1.qcow2"),
        .disk_format = g_strdup("qcow2"),
        .disk_bus = g_strdup("virtio"),
        .disk_target = g_strdup("vda"),
        .install = VP_INSTALL_IMPORT,
        .metadata = vp_lab_record_to_xml(r),
    };
    g_autofree char *xml = vp_domain_xml_build(&spec);
    const char *name = strstr(xml, "<name>web-1</name>");
    const char *meta = strstr(xml, "<metadata>");
    const char *memory = strstr(xml, "<memory");

    g_assert_nonnull(name);
    g_assert_nonnull(meta);
    g_assert_true(name < meta && meta < memory);
    g_assert_nonnull(strstr(xml, "<vp:guest xmlns:vp=\"" VP_LAB_RECORD_NS "\">"));
    g_assert_nonnull(strstr(xml, "<vp:volume pool=\"fast pool\">web-1-cidata.iso"));
    vp_domain_spec_clear(&spec);
}

/* NICs keep their identity and the entries they added, in order; a
 * network's record round-trips and its hash tells every input apart. */
static void
test_nics(void)
{
    g_autoptr(VpLabRecord) r = vp_sample(TRUE);
    const VpLabNic lan = { .index = 0, .network = "ci-42-lan",
                           .mac = "52:54:00:AA:0c:91", .ip = "10.88.1.141",
                           .dhcp = TRUE };
    const VpLabNic def = { .index = 2, .network = "default",
                           .mac = "52:54:00:01:02:03", .ip = "192.168.122.9",
                           .dhcp = TRUE, .dns = TRUE };
    g_autoptr(GError) error = NULL;

    vp_lab_record_add_nic(r, &lan);
    vp_lab_record_add_nic(r, &def);
    g_autofree char *xml = vp_lab_record_to_xml(r);
    g_assert_nonnull(strstr(xml, "<vp:nic index=\"0\" network=\"ci-42-lan\" "
                                 "mac=\"52:54:00:aa:0c:91\" ip=\"10.88.1.141\" "
                                 "dhcp=\"yes\" dns=\"no\"/>"));
    g_autoptr(VpLabRecord) back = vp_lab_record_parse(xml, &error);
    g_assert_no_error(error);
    vp_assert_sample(back, TRUE);
    g_assert_cmpuint(back->nics->len, ==, 2);
    const VpLabNic *n = vp_lab_record_nic(back, "default");
    g_assert_nonnull(n);
    g_assert_cmpuint(n->index, ==, 2);
    g_assert_cmpstr(n->mac, ==, "52:54:00:01:02:03");
    g_assert_cmpstr(n->ip, ==, "192.168.122.9");
    g_assert_true(n->dhcp && n->dns);
    n = vp_lab_record_nic(back, "ci-42-lan");
    g_assert_true(n->dhcp && !n->dns);
    g_assert_null(vp_lab_record_nic(back, "other"));

    VpLabNetRecord net = { .lab = "ci-42", .key = "lan", .hash = "41c7" };
    g_autofree char *net_xml = vp_lab_net_record_to_xml(&net);
    g_autoptr(VpLabNetRecord) net_back = vp_lab_net_record_parse(net_xml, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(net_back->lab, ==, "ci-42");
    g_assert_cmpstr(net_back->key, ==, "lan");
    g_assert_cmpstr(net_back->hash, ==, "41c7");
    g_autoptr(VpLabNetRecord) stripped = vp_lab_net_record_parse(
        "<network><lab>ci-42</lab><key>lan</key><hash>h</hash></network>", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(stripped->hash, ==, "h");
    g_autoptr(VpLabNetRecord) no_hash = vp_lab_net_record_parse(
        "<network><lab>ci-42</lab><key>lan</key></network>", &error);
    g_assert_null(no_hash);
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_clear_error(&error);
    g_autoptr(VpLabNetRecord) guest = vp_lab_net_record_parse(xml, &error);
    g_assert_null(guest);
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);

    g_autofree char *h = vp_lab_net_hash("10.88.0.0/16", "nat", NULL, "10.88.1.0/24");
    const char *const other[][4] = {
        { "10.89.0.0/16", "nat", NULL, "10.88.1.0/24" },
        { "10.88.0.0/16", "route", NULL, "10.88.1.0/24" },
        { "10.88.0.0/16", "nat", "ci.test", "10.88.1.0/24" },
        { "10.88.0.0/16", "nat", NULL, "10.88.2.0/24" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(other); i++) {
        g_autofree char *o = vp_lab_net_hash(other[i][0], other[i][1], other[i][2],
                                             other[i][3]);
        g_assert_cmpstr(o, !=, h);
    }
    g_autofree char *again = vp_lab_net_hash("10.88.0.0/16", "nat", NULL,
                                             "10.88.1.0/24");
    g_assert_cmpstr(again, ==, h);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lab-record/roundtrip", test_roundtrip);
    g_test_add_func("/lab-record/salt-base", test_salt_base);
    g_test_add_func("/lab-record/stripped-namespace", test_stripped);
    g_test_add_func("/lab-record/escaped", test_escaped);
    g_test_add_func("/lab-record/refused", test_refused);
    g_test_add_func("/lab-record/in-domain", test_in_domain);
    g_test_add_func("/lab-record/nics", test_nics);
    return g_test_run();
}
