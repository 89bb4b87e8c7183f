/* Subnet carving, MAC derivation and address choice of a lab's guests
 * (src/core/lab/lab-net.h): tables, no daemon. */
#include <string.h>

#include <glib.h>

#include "lab-net.h"

static guint32
ip(const char *text)
{
    guint32 a = 0;
    g_assert_true(vp_ipv4_parse(text, &a));
    return a;
}

static void
test_ipv4(void)
{
    static const struct {
        const char *text;
        gboolean ok;
    } rows[] = {
        { "10.88.0.1", TRUE }, { "0.0.0.0", TRUE }, { "255.255.255.255", TRUE },
        { "192.168.122.1", TRUE }, { "256.1.1.1", FALSE }, { "10.88.0", FALSE },
        { "10.88.0.1.", FALSE }, { "10.88.0.1.5", FALSE }, { "010.1.1.1", FALSE },
        { "10.1.1.01", FALSE }, { "+1.1.1.1", FALSE }, { " 1.1.1.1", FALSE },
        { "1.1.1.1 ", FALSE }, { "1..1.1", FALSE }, { "1.1.1.1000", FALSE },
        { "", FALSE }, { "a.b.c.d", FALSE }, { "::1", FALSE },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        guint32 a;
        g_test_message("%s", rows[i].text);
        g_assert_cmpint(vp_ipv4_parse(rows[i].text, &a), ==, rows[i].ok);
        if (rows[i].ok) {
            g_autofree char *back = vp_ipv4_format(a);
            g_assert_cmpstr(back, ==, rows[i].text);
        }
    }
}

static void
test_cidr(void)
{
    static const struct {
        const char *text;
        gboolean ok;
        guint prefix;
    } rows[] = {
        { "10.88.0.0/16", TRUE, 16 }, { "10.88.3.0/24", TRUE, 24 },
        { "0.0.0.0/0", TRUE, 0 },     { "10.0.0.0/8", TRUE, 8 },
        { "10.88.1.0/16", FALSE, 0 }, { "10.88.0.0", FALSE, 0 },
        { "10.88.0.0/33", FALSE, 0 }, { "10.88.0.0/", FALSE, 0 },
        { "10.88.0.0/016", FALSE, 0 }, { "10.88.0.0/-8", FALSE, 0 },
        { "10.88.0.0/16/2", FALSE, 0 }, { "/16", FALSE, 0 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        VpIpv4Net n;
        g_test_message("%s", rows[i].text);
        g_assert_cmpint(vp_ipv4_net_parse(rows[i].text, &n), ==, rows[i].ok);
        if (rows[i].ok) {
            g_assert_cmpuint(n.prefix, ==, rows[i].prefix);
        }
    }
}

/* Overlap in both directions, containment, and disjoint neighbours. */
static void
test_overlap(void)
{
    static const struct {
        const char *a, *b;
        gboolean overlap;
    } rows[] = {
        { "10.88.0.0/16", "10.88.5.0/24", TRUE },
        { "10.88.5.0/24", "10.88.0.0/16", TRUE },
        { "10.88.0.0/24", "10.88.1.0/24", FALSE },
        { "192.168.122.0/24", "192.168.0.0/16", TRUE },
        { "192.168.122.0/24", "192.168.123.0/24", FALSE },
        { "10.0.0.0/8", "11.0.0.0/8", FALSE },
        { "0.0.0.0/0", "10.1.2.0/24", TRUE },
        { "10.1.2.128/25", "10.1.2.0/25", FALSE },
        { "10.1.2.128/25", "10.1.2.0/24", TRUE },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        VpIpv4Net a, b;
        g_assert_true(vp_ipv4_net_parse(rows[i].a, &a));
        g_assert_true(vp_ipv4_net_parse(rows[i].b, &b));
        g_test_message("%s ~ %s", rows[i].a, rows[i].b);
        g_assert_cmpint(vp_ipv4_net_overlaps(&a, &b), ==, rows[i].overlap);
    }
    VpIpv4Net n = vp_ipv4_net_of(ip("192.168.122.77"), 24);
    g_assert_cmpuint(n.addr, ==, ip("192.168.122.0"));
    g_assert_true(vp_ipv4_net_contains(&n, ip("192.168.122.254")));
    g_assert_false(vp_ipv4_net_contains(&n, ip("192.168.123.1")));
}

/* Host K of the manifest's hosts: gets the K-th /24, in order. */
static void
test_host_subnet(void)
{
    static const struct {
        const char *cidr;
        guint index;
        const char *subnet; /* NULL: none */
    } rows[] = {
        { "10.88.0.0/16", 0, "10.88.0.0" },    { "10.88.0.0/16", 1, "10.88.1.0" },
        { "10.88.0.0/16", 255, "10.88.255.0" }, { "10.88.0.0/16", 256, NULL },
        { "10.88.4.0/22", 3, "10.88.7.0" },    { "10.88.4.0/22", 4, NULL },
        { "10.88.4.0/24", 0, "10.88.4.0" },    { "10.88.4.0/24", 1, NULL },
        { "10.88.4.0/25", 0, NULL },           { "10.0.0.0/8", 65535, "10.255.255.0" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        VpIpv4Net cidr, out;
        g_assert_true(vp_ipv4_net_parse(rows[i].cidr, &cidr));
        g_test_message("%s #%u", rows[i].cidr, rows[i].index);
        gboolean ok = vp_lab_host_subnet(&cidr, rows[i].index, &out);
        g_assert_cmpint(ok, ==, rows[i].subnet != NULL);
        if (ok) {
            g_autofree char *s = vp_ipv4_format(out.addr);
            g_assert_cmpstr(s, ==, rows[i].subnet);
            g_assert_cmpuint(out.prefix, ==, 24);
        }
    }
}

/* Stable, QEMU's prefix, distinct per guest and per NIC; a taken MAC is
 * stepped over to the next try, and the same one is found again. */
static void
test_mac(void)
{
    g_autofree char *a = vp_lab_mac("ci-42", "web-1", 0, 0);
    g_autofree char *again = vp_lab_mac("ci-42", "web-1", 0, 0);
    g_autofree char *nic1 = vp_lab_mac("ci-42", "web-1", 1, 0);
    g_autofree char *other_lab = vp_lab_mac("ci-43", "web-1", 0, 0);
    g_autofree char *shifted = vp_lab_mac("ci-4", "2web-1", 0, 0);

    g_assert_cmpstr(a, ==, again);
    g_assert_true(g_str_has_prefix(a, "52:54:00:"));
    g_assert_cmpuint(strlen(a), ==, 17);
    g_assert_cmpstr(a, !=, nic1);
    g_assert_cmpstr(a, !=, other_lab);
    g_assert_cmpstr(a, !=, shifted);
    for (const char *c = a; *c != '\0'; c++) {
        g_assert_true(*c == ':' || g_ascii_isdigit(*c) || (*c >= 'a' && *c <= 'f'));
    }

    g_autoptr(GHashTable) taken = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                        g_free, NULL);
    g_autofree char *first = vp_lab_pick_mac("ci-42", "web-1", 0, taken);
    g_assert_cmpstr(first, ==, a);
    g_hash_table_add(taken, g_strdup(a));
    g_autofree char *second = vp_lab_pick_mac("ci-42", "web-1", 0, taken);
    g_autofree char *try1 = vp_lab_mac("ci-42", "web-1", 0, 1);
    g_assert_cmpstr(second, ==, try1);

    /* 2000 guests of one lab with two NICs each: no MAC twice on a host
     * that holds them all, each picked against the ones before. */
    g_autoptr(GHashTable) host = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                       g_free, NULL);
    for (guint g = 0; g < 2000; g++) {
        g_autofree char *name = g_strdup_printf("guest-%u", g);
        for (guint n = 0; n < 2; n++) {
            char *mac = vp_lab_pick_mac("big", name, n, host);
            g_assert_nonnull(mac);
            g_assert_true(g_hash_table_add(host, mac));
        }
    }
    g_assert_cmpuint(g_hash_table_size(host), ==, 4000);
}

/* The same guest gets the same address; a taken one is stepped over; the
 * range is respected and a full range says so. */
static void
test_address(void)
{
    guint32 first = ip("10.88.1.128");
    guint32 last = ip("10.88.1.254");
    guint32 a, b, c;
    g_autoptr(GHashTable) taken = g_hash_table_new(g_direct_hash, g_direct_equal);

    g_assert_true(vp_lab_pick_address("ci-42", "db", 0, first, last, taken, &a));
    g_assert_true(vp_lab_pick_address("ci-42", "db", 0, first, last, NULL, &b));
    g_assert_cmpuint(a, ==, b);
    g_assert_cmpuint(a, >=, first);
    g_assert_cmpuint(a, <=, last);
    g_hash_table_add(taken, GUINT_TO_POINTER(a));
    g_assert_true(vp_lab_pick_address("ci-42", "db", 0, first, last, taken, &c));
    g_assert_cmpuint(c, !=, a);
    g_assert_cmpuint(c, ==, a == last ? first : a + 1);

    /* Fill the range: each of 127 guests gets a distinct address, the
     * 128th none. */
    g_autoptr(GHashTable) full = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint g = 0; g <= last - first; g++) {
        g_autofree char *name = g_strdup_printf("g%u", g);
        guint32 x;
        g_assert_true(vp_lab_pick_address("ci", name, 0, first, last, full, &x));
        g_assert_true(g_hash_table_add(full, GUINT_TO_POINTER(x)));
    }
    g_assert_false(vp_lab_pick_address("ci", "one-more", 0, first, last, full,
                                       &a));
    /* A range of one address. */
    g_assert_true(vp_lab_pick_address("ci", "x", 0, first, first, NULL, &a));
    g_assert_cmpuint(a, ==, first);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lab-net/ipv4", test_ipv4);
    g_test_add_func("/lab-net/cidr", test_cidr);
    g_test_add_func("/lab-net/overlap", test_overlap);
    g_test_add_func("/lab-net/host-subnet", test_host_subnet);
    g_test_add_func("/lab-net/mac", test_mac);
    g_test_add_func("/lab-net/address", test_address);
    return g_test_run();
}
