/* libvirt network XML, read and written with the libxml2 tree API
 * (network-xml.h). */
#include "network-xml.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "lab-record.h"
#include "xml-util.h"

static void
vp_dhcp_host_free(gpointer data)
{
    VpNetDhcpHost *h = data;

    g_free(h->mac);
    g_free(h->name);
    g_free(h);
}

static void
vp_dns_host_free(gpointer data)
{
    VpNetDnsHost *h = data;

    g_strfreev(h->hostnames);
    g_free(h);
}

void
vp_network_def_free(VpNetworkDef *def)
{
    if (def == NULL) {
        return;
    }
    g_free(def->name);
    g_free(def->uuid);
    g_free(def->forward);
    g_free(def->bridge);
    g_free(def->domain);
    g_clear_pointer(&def->ips, g_ptr_array_unref);
    g_clear_pointer(&def->dhcp_hosts, g_ptr_array_unref);
    g_clear_pointer(&def->dns_hosts, g_ptr_array_unref);
    g_free(def->record);
    g_free(def);
}

static gboolean
vp_prop_ipv4(xmlNodePtr node, const char *name, guint32 *addr)
{
    g_autofree char *text = vp_xml_prop(node, name);
    return text != NULL && vp_ipv4_parse(text, addr);
}

/* The first element child of NODE called NAME, or NULL. */
static xmlNodePtr
vp_child(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node != NULL ? node->children : NULL; c != NULL;
         c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* The prefix of an <ip>: prefix=, else netmask= (contiguous only). */
static gboolean
vp_ip_prefix(xmlNodePtr ip, guint *prefix)
{
    g_autofree char *p = vp_xml_prop(ip, "prefix");
    guint64 v;
    guint32 mask;

    if (p != NULL) {
        if (!g_ascii_string_to_unsigned(p, 10, 0, 32, &v, NULL)) {
            return FALSE;
        }
        *prefix = (guint)v;
        return TRUE;
    }
    if (!vp_prop_ipv4(ip, "netmask", &mask)) {
        return FALSE;
    }
    guint n = 0;
    while (n < 32 && (mask & ((guint32)1 << (31 - n))) != 0) {
        n++;
    }
    if (n < 32 && (mask << n) != 0) {
        return FALSE;
    }
    *prefix = n;
    return TRUE;
}

static void
vp_parse_ip(VpNetworkDef *def, xmlNodePtr node)
{
    g_autofree char *family = vp_xml_prop(node, "family");
    guint32 host;
    guint prefix;

    if ((family != NULL && !g_str_equal(family, "ipv4")) ||
        !vp_prop_ipv4(node, "address", &host) || !vp_ip_prefix(node, &prefix)) {
        return;
    }
    VpNetIp *ip = g_new0(VpNetIp, 1);
    ip->host = host;
    ip->net = vp_ipv4_net_of(host, prefix);
    xmlNodePtr dhcp = vp_child(node, "dhcp");
    ip->dhcp = dhcp != NULL;
    xmlNodePtr range = vp_child(dhcp, "range");
    if (range != NULL) {
        vp_prop_ipv4(range, "start", &ip->range_first);
        vp_prop_ipv4(range, "end", &ip->range_last);
    }
    g_ptr_array_add(def->ips, ip);
    for (xmlNodePtr h = dhcp != NULL ? dhcp->children : NULL; h != NULL; h = h->next) {
        guint32 a;
        if (h->type != XML_ELEMENT_NODE || xmlStrcmp(h->name, BAD_CAST "host") != 0 ||
            !vp_prop_ipv4(h, "ip", &a)) {
            continue;
        }
        VpNetDhcpHost *r = g_new0(VpNetDhcpHost, 1);
        g_autofree char *mac = vp_xml_prop(h, "mac");
        r->mac = mac != NULL ? g_ascii_strdown(mac, -1) : NULL;
        r->name = vp_xml_prop(h, "name");
        r->ip = a;
        g_ptr_array_add(def->dhcp_hosts, r);
    }
}

static void
vp_parse_dns(VpNetworkDef *def, xmlNodePtr dns)
{
    for (xmlNodePtr h = dns != NULL ? dns->children : NULL; h != NULL; h = h->next) {
        guint32 a;
        if (h->type != XML_ELEMENT_NODE || xmlStrcmp(h->name, BAD_CAST "host") != 0 ||
            !vp_prop_ipv4(h, "ip", &a)) {
            continue;
        }
        g_autoptr(GStrvBuilder) names = g_strv_builder_new();
        for (xmlNodePtr n = h->children; n != NULL; n = n->next) {
            if (n->type == XML_ELEMENT_NODE &&
                xmlStrcmp(n->name, BAD_CAST "hostname") == 0) {
                g_autofree char *text = vp_xml_content(n);
                g_strv_builder_add(names, text);
            }
        }
        VpNetDnsHost *d = g_new0(VpNetDnsHost, 1);
        d->ip = a;
        d->hostnames = g_strv_builder_end(names);
        g_ptr_array_add(def->dns_hosts, d);
    }
}

/* The element of the lab record namespace under <metadata>, as text. */
static char *
vp_parse_record(xmlNodePtr metadata)
{
    for (xmlNodePtr c = metadata != NULL ? metadata->children : NULL; c != NULL;
         c = c->next) {
        if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
            xmlStrcmp(c->ns->href, BAD_CAST VP_LAB_RECORD_NS) == 0) {
            return vp_xml_to_string_node(c);
        }
    }
    return NULL;
}

VpNetworkDef *
vp_network_def_parse(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = vp_xml_parse(xml, _("network XML"), error);
    if (doc == NULL) {
        return NULL;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root == NULL || xmlStrcmp(root->name, BAD_CAST "network") != 0) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_FAILED,
                            _("libvirt returned network XML without a <network> element"));
        return NULL;
    }
    g_autoptr(VpNetworkDef) def = g_new0(VpNetworkDef, 1);
    def->ips = g_ptr_array_new_with_free_func(g_free);
    def->dhcp_hosts = g_ptr_array_new_with_free_func(vp_dhcp_host_free);
    def->dns_hosts = g_ptr_array_new_with_free_func(vp_dns_host_free);
    for (xmlNodePtr c = root->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        const char *n = (const char *)c->name;
        if (g_str_equal(n, "name")) {
            def->name = vp_xml_content(c);
        } else if (g_str_equal(n, "uuid")) {
            def->uuid = vp_xml_content(c);
        } else if (g_str_equal(n, "forward")) {
            def->forward = vp_xml_prop(c, "mode");
            if (def->forward == NULL) {
                def->forward = g_strdup("nat"); /* libvirt's default mode */
            }
        } else if (g_str_equal(n, "bridge")) {
            def->bridge = vp_xml_prop(c, "name");
        } else if (g_str_equal(n, "domain")) {
            def->domain = vp_xml_prop(c, "name");
        } else if (g_str_equal(n, "ip")) {
            vp_parse_ip(def, c);
        } else if (g_str_equal(n, "dns")) {
            vp_parse_dns(def, c);
        } else if (g_str_equal(n, "metadata")) {
            def->record = vp_parse_record(c);
        }
    }
    return g_steal_pointer(&def);
}

const VpNetIp *
vp_network_def_ip_for(const VpNetworkDef *def, guint32 addr)
{
    for (guint i = 0; i < def->ips->len; i++) {
        const VpNetIp *ip = g_ptr_array_index(def->ips, i);
        if (vp_ipv4_net_contains(&ip->net, addr)) {
            return ip;
        }
    }
    return NULL;
}

static void
vp_attr_ipv4(xmlNodePtr node, const char *name, guint32 addr)
{
    g_autofree char *text = vp_ipv4_format(addr);
    vp_xml_attr(node, name, text);
}

char *
vp_network_xml_build(const VpNetworkSpec *spec)
{
    xmlNodePtr root = NULL;
    g_autoptr(xmlDoc) doc = vp_xml_new_doc("network", &root);

    vp_xml_child(root, "name", spec->name);
    if (spec->record != NULL) {
        /* Parsed and grafted: the record is this project's own text. */
        g_autoptr(xmlDoc) rec = xmlReadMemory(spec->record, (int)strlen(spec->record),
                                              NULL, "UTF-8", XML_PARSE_NONET);
        g_assert(rec != NULL);
        xmlNodePtr metadata = vp_xml_child(root, "metadata", NULL);
        xmlAddChild(metadata, xmlDocCopyNode(xmlDocGetRootElement(rec), doc, 1));
    }
    if (spec->forward != NULL) {
        vp_xml_attr(vp_xml_child(root, "forward", NULL), "mode", spec->forward);
    }
    if (spec->domain != NULL) {
        xmlNodePtr domain = vp_xml_child(root, "domain", NULL);
        vp_xml_attr(domain, "name", spec->domain);
        vp_xml_attr(domain, "localOnly", "yes");
    }
    xmlNodePtr ip = vp_xml_child(root, "ip", NULL);
    vp_attr_ipv4(ip, "address", spec->subnet.addr + VP_LAB_NET_HOST);
    g_autofree char *prefix = g_strdup_printf("%u", spec->subnet.prefix);
    vp_xml_attr(ip, "prefix", prefix);
    xmlNodePtr range = vp_xml_child(vp_xml_child(ip, "dhcp", NULL), "range", NULL);
    vp_attr_ipv4(range, "start", spec->subnet.addr + VP_LAB_NET_RANGE_FIRST);
    vp_attr_ipv4(range, "end", spec->subnet.addr + VP_LAB_NET_RANGE_LAST);
    return vp_xml_to_string(doc);
}

char *
vp_network_dhcp_host_xml(const char *mac, const char *name, guint32 ip)
{
    xmlNodePtr root = NULL;
    g_autoptr(xmlDoc) doc = vp_xml_new_doc("host", &root);

    vp_xml_attr(root, "mac", mac);
    vp_xml_attr(root, "name", name);
    vp_attr_ipv4(root, "ip", ip);
    return vp_xml_to_string(doc);
}

char *
vp_network_dns_host_xml(guint32 ip, const char *const *names)
{
    xmlNodePtr root = NULL;
    g_autoptr(xmlDoc) doc = vp_xml_new_doc("host", &root);

    vp_attr_ipv4(root, "ip", ip);
    for (gsize i = 0; names[i] != NULL; i++) {
        vp_xml_child(root, "hostname", names[i]);
    }
    return vp_xml_to_string(doc);
}
