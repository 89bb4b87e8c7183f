/* DHCP reservations and DNS entries of a guest's fixed addresses
 * (reservation.h). */
#include "reservation.h"

#include <glib/gi18n.h>

#include "error.h"
#include "lab-net.h"
#include "network-xml.h"

/* Whether DEF's DNS hosts give NAME (or NAME.DOMAIN) to an address. */
static gboolean
vp_dns_has_name(const VpNetworkDef *def, const char *name)
{
    g_autofree char *fqdn = def->domain != NULL
                            ? g_strdup_printf("%s.%s", name, def->domain) : NULL;

    for (guint i = 0; i < def->dns_hosts->len; i++) {
        const VpNetDnsHost *h = g_ptr_array_index(def->dns_hosts, i);
        if (g_strv_contains((const char *const *)h->hostnames, name) ||
            (fqdn != NULL &&
             g_strv_contains((const char *const *)h->hostnames, fqdn))) {
            return TRUE;
        }
    }
    return FALSE;
}

/* A MAC under QEMU's prefix that no reservation of DEF holds. */
static char *
vp_random_mac(const VpNetworkDef *def)
{
    for (;;) {
        char *mac = g_strdup_printf("52:54:00:%02x:%02x:%02x",
                                    g_random_int_range(0, 256),
                                    g_random_int_range(0, 256),
                                    g_random_int_range(0, 256));
        gboolean taken = FALSE;
        for (guint i = 0; i < def->dhcp_hosts->len && !taken; i++) {
            const VpNetDhcpHost *h = g_ptr_array_index(def->dhcp_hosts, i);
            taken = g_strcmp0(h->mac, mac) == 0;
        }
        if (!taken) {
            return mac;
        }
        g_free(mac);
    }
}

/* NIC's address against the network DEF and its LEASES. */
static gboolean
vp_check_address(const VpNetworkDef *def, GPtrArray *leases, const char *name,
                 const VpNic *nic, guint32 addr, GError **error)
{
    const VpNetIp *ip = vp_network_def_ip_for(def, addr);
    guint32 broadcast = ip != NULL ? ip->net.addr | ~(G_MAXUINT32 << (32 - ip->net.prefix))
                                   : 0;

    if (ip == NULL || !ip->dhcp || ip->net.prefix >= 31) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("ip=%1$s is not in a subnet of network '%2$s' that has DHCP; use an address of it"),
                    nic->ip, def->name);
        return FALSE;
    }
    if (addr == ip->net.addr || addr == broadcast || addr == ip->host) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("ip=%1$s is the network's own address or its broadcast in network '%2$s'; use another"),
                    nic->ip, def->name);
        return FALSE;
    }
    for (guint i = 0; i < def->dhcp_hosts->len; i++) {
        const VpNetDhcpHost *h = g_ptr_array_index(def->dhcp_hosts, i);
        if (h->ip == addr || g_strcmp0(h->name, name) == 0 ||
            (nic->mac != NULL && g_strcmp0(h->mac, nic->mac) == 0)) {
            g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                        _("network '%1$s' already has a reservation of %2$s for '%3$s' (%4$s); choose another address, or remove that reservation"),
                        def->name, nic->ip, h->name != NULL ? h->name : "-",
                        h->mac != NULL ? h->mac : "-");
            return FALSE;
        }
    }
    for (guint i = 0; i < leases->len; i++) {
        const VpNetLease *l = g_ptr_array_index(leases, i);
        if (l->ip == addr && g_strcmp0(l->mac, nic->mac) != 0) {
            g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                        _("ip=%1$s is leased to %2$s in network '%3$s'; choose another address"),
                        nic->ip, l->mac, def->name);
            return FALSE;
        }
    }
    /* A lab network's names are the lab's, kept for every guest at once
     * (a replaced guest's name is there already): not the guest's to
     * check or add. */
    if (!nic->lab_dns && vp_dns_has_name(def, name)) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("network '%1$s' already resolves the name '%2$s'; rename the guest, or remove that DNS entry"),
                    def->name, name);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_reservations_plan(VpVirt *virt, const char *name, VpDomainSpec *d,
                     GError **error)
{
    for (guint i = 0; d->nics != NULL && i < d->nics->len; i++) {
        VpNic *nic = g_ptr_array_index(d->nics, i);
        g_autoptr(VpNetworkDef) def = NULL;
        gboolean active;
        guint32 addr;

        if (nic->ip == NULL) {
            continue;
        }
        gboolean parsed = vp_ipv4_parse(nic->ip, &addr);
        g_assert(parsed && nic->kind == VP_NET_NETWORK);
        if (!vp_virt_network_def(virt, nic->source, &def, &active, error)) {
            return FALSE;
        }
        if (def == NULL) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("network '%1$s' does not exist; list the networks with 'virsh net-list --all'"),
                        nic->source);
            return FALSE;
        }
        g_autoptr(GPtrArray) leases = vp_virt_network_leases(virt, nic->source,
                                                             error);
        if (leases == NULL || !vp_check_address(def, leases, name, nic, addr, error)) {
            return FALSE;
        }
        if (nic->mac == NULL) {
            nic->mac = vp_random_mac(def);
        }
        /* The domain name, for the DNS entry made later. */
        g_free(nic->dns_domain);
        nic->dns_domain = g_strdup(def->domain);
    }
    return TRUE;
}

gboolean
vp_reservations_make(const VpRunEnv *run, VpVirt *virt, const char *name,
                     const VpDomainSpec *d, VpTransaction *t, GError **error)
{
    for (guint i = 0; d->nics != NULL && i < d->nics->len; i++) {
        const VpNic *nic = g_ptr_array_index(d->nics, i);
        guint32 addr;

        if (nic->ip == NULL) {
            continue;
        }
        gboolean parsed = vp_ipv4_parse(nic->ip, &addr);
        g_assert(parsed);
        vp_workflow_step(run, _("reserving %1$s for '%2$s' in network '%3$s'"),
                         nic->ip, name, nic->source);
        g_autofree char *dhcp = vp_network_dhcp_host_xml(nic->mac, name, addr);
        g_autofree char *what = g_strdup_printf(_("reservation of %1$s in network '%2$s'"),
                                                nic->ip, nic->source);
        if (!vp_cancel_check(run->cancel, error) ||
            !vp_virt_network_entry(virt, nic->source, VP_NET_SECTION_DHCP_HOST,
                                   TRUE, dhcp, error)) {
            return FALSE;
        }
        vp_workflow_undo(t, what, VP_UNDO_NETWORK_DHCP, virt, NULL, nic->source,
                         dhcp);
        if (nic->lab_dns) {
            continue;
        }
        g_autofree char *fqdn = nic->dns_domain != NULL
                                ? g_strdup_printf("%s.%s", name, nic->dns_domain) : NULL;
        const char *names[] = { name, fqdn, NULL };
        g_autofree char *dns = vp_network_dns_host_xml(addr, names);
        g_autofree char *dns_what = g_strdup_printf(_("DNS entry of '%1$s' in network '%2$s'"),
                                                    name, nic->source);
        if (!vp_virt_network_entry(virt, nic->source, VP_NET_SECTION_DNS_HOST,
                                   TRUE, dns, error)) {
            return FALSE;
        }
        vp_workflow_undo(t, dns_what, VP_UNDO_NETWORK_DNS, virt, NULL,
                         nic->source, dns);
    }
    return TRUE;
}
