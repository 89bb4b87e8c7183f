/* Network XML (src/core/xml/network-xml.h): a network as libvirt gives
 * it, read; a lab network, a DHCP reservation and a DNS host, written
 * (golden files, also checked by virt-xml-validate: validate-golden.sh). */
#include <string.h>

#include <glib.h>

#include "golden.h"
#include "lab-record.h"
#include "network-xml.h"

static guint32
ip(const char *text)
{
    guint32 a = 0;
    g_assert_true(vp_ipv4_parse(text, &a));
    return a;
}

/* Every part the planner reads, from a network written as libvirt writes
 * one: netmask= as well as prefix=, IPv6 skipped, MACs lower case, the
 * lab record found among other metadata. */
static void
test_parse(void)
{
    g_autofree char *xml = vp_golden_read("network-libvirt-default.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(VpNetworkDef) def = vp_network_def_parse(xml, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(def->name, ==, "default");
    g_assert_cmpstr(def->uuid, ==, "6c5b6d2e-3f0a-4f0e-9a52-1d2f3c4b5a69");
    g_assert_cmpstr(def->forward, ==, "nat");
    g_assert_cmpstr(def->bridge, ==, "virbr0");
    g_assert_cmpstr(def->domain, ==, "lab.test");
    g_assert_cmpuint(def->ips->len, ==, 2);
    const VpNetIp *v4 = g_ptr_array_index(def->ips, 0);
    g_assert_cmpuint(v4->net.addr, ==, ip("192.168.122.0"));
    g_assert_cmpuint(v4->net.prefix, ==, 24);
    g_assert_cmpuint(v4->host, ==, ip("192.168.122.1"));
    g_assert_true(v4->dhcp);
    g_assert_cmpuint(v4->range_first, ==, ip("192.168.122.2"));
    g_assert_cmpuint(v4->range_last, ==, ip("192.168.122.254"));
    const VpNetIp *other = g_ptr_array_index(def->ips, 1);
    g_assert_cmpuint(other->net.prefix, ==, 16);
    g_assert_false(other->dhcp);
    g_assert_true(vp_network_def_ip_for(def, ip("10.9.200.3")) == other);
    g_assert_null(vp_network_def_ip_for(def, ip("10.10.0.1")));
    g_assert_cmpuint(def->dhcp_hosts->len, ==, 2);
    const VpNetDhcpHost *h = g_ptr_array_index(def->dhcp_hosts, 0);
    g_assert_cmpstr(h->mac, ==, "52:54:00:aa:bb:01");
    g_assert_cmpstr(h->name, ==, "db");
    g_assert_cmpuint(h->ip, ==, ip("192.168.122.130"));
    g_assert_null(((VpNetDhcpHost *)g_ptr_array_index(def->dhcp_hosts, 1))->mac);
    g_assert_cmpuint(def->dns_hosts->len, ==, 1);
    const VpNetDnsHost *d = g_ptr_array_index(def->dns_hosts, 0);
    g_assert_cmpuint(g_strv_length(d->hostnames), ==, 2);
    g_assert_cmpstr(d->hostnames[1], ==, "db.lab.test");
    g_assert_nonnull(def->record);
    g_assert_nonnull(strstr(def->record, "<vp:lab>ci-42</vp:lab>"));
    g_assert_null(strstr(def->record, "other"));
}

static void
test_parse_bad(void)
{
    static const char *const bad[] = { "<domain/>", "<network", "", "text" };

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VpNetworkDef) def = vp_network_def_parse(bad[i], &error);
        g_assert_null(def);
        g_assert_nonnull(error);
    }
    /* A minimal network: no forward is isolated, nothing else is known. */
    g_autoptr(VpNetworkDef) def = vp_network_def_parse(
        "<network><name>iso</name><ip address='10.1.1.1' netmask='255.255.0.255'/>"
        "</network>", NULL);
    g_assert_nonnull(def);
    g_assert_null(def->forward);
    g_assert_cmpuint(def->ips->len, ==, 0); /* a netmask with a hole */
}

/* A lab network and its entries, as the tool writes them; hostile text
 * escaped. */
static void
test_build(void)
{
    const char *record = "<vp:network xmlns:vp=\"" VP_LAB_RECORD_NS "\">"
                         "<vp:lab>ci-42</vp:lab><vp:key>lan</vp:key></vp:network>";
    VpNetworkSpec spec = {
        .name = "ci-42-lan", .forward = "nat", .domain = "ci-42.test",
        .record = record,
    };
    g_assert_true(vp_ipv4_net_parse("10.88.1.0/24", &spec.subnet));
    g_autofree char *xml = vp_network_xml_build(&spec);
    vp_golden_check("network-lab.xml", xml);

    /* What was written reads back as it was meant. */
    g_autoptr(VpNetworkDef) def = vp_network_def_parse(xml, NULL);
    g_assert_nonnull(def);
    g_assert_cmpstr(def->forward, ==, "nat");
    const VpNetIp *v4 = g_ptr_array_index(def->ips, 0);
    g_assert_cmpuint(v4->host, ==, ip("10.88.1.1"));
    g_assert_cmpuint(v4->range_last, ==, ip("10.88.1.127"));
    g_assert_nonnull(strstr(def->record, "<vp:key>lan</vp:key>"));

    VpNetworkSpec isolated = { .name = "ci-42-iso" };
    g_assert_true(vp_ipv4_net_parse("10.89.3.0/24", &isolated.subnet));
    g_autofree char *iso = vp_network_xml_build(&isolated);
    vp_golden_check("network-isolated.xml", iso);

    g_autofree char *dhcp = vp_network_dhcp_host_xml("52:54:00:00:00:01", "d<b>",
                                                     ip("10.88.1.130"));
    g_assert_cmpstr(dhcp, ==,
                    "<host mac=\"52:54:00:00:00:01\" name=\"d&lt;b&gt;\" ip=\"10.88.1.130\"/>\n");
    const char *names[] = { "db", "db.ci-42.test", NULL };
    g_autofree char *dns = vp_network_dns_host_xml(ip("10.88.1.130"), names);
    g_assert_cmpstr(dns, ==,
                    "<host ip=\"10.88.1.130\">\n  <hostname>db</hostname>\n"
                    "  <hostname>db.ci-42.test</hostname>\n</host>\n");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/network-xml/parse", test_parse);
    g_test_add_func("/network-xml/parse-bad", test_parse_bad);
    g_test_add_func("/network-xml/build", test_build);
    return vp_golden_run();
}
