/* Networks: their definitions, DHCP leases, reservations and DNS entries
 * added and removed one at a time, and lab networks made and removed
 * (virt.h, "Networks"). */
#include <glib/gi18n.h>

#include "error.h"
#include "virt-private.h"

void
vp_net_lease_free(VpNetLease *lease)
{
    if (lease != NULL) {
        g_free(lease->mac);
        g_free(lease->hostname);
        g_free(lease);
    }
}

/* NAME's network, or NULL: *MISSING says whether it does not exist (no
 * error then) rather than the look-up failed. */
static virNetworkPtr
vp_virt_network(VpVirt *virt, const char *name, gboolean *missing,
                GError **error)
{
    virNetworkPtr net = virNetworkLookupByName(vp_virt_conn(virt), name);

    *missing = FALSE;
    if (net == NULL) {
        int code = vp_virt_code();
        if (code == VIR_ERR_NO_NETWORK || code == VIR_ERR_NO_SUPPORT) {
            *missing = TRUE;
            return NULL;
        }
        vp_virt_fail(error, _("cannot look up network '%1$s'"), name);
    }
    return net;
}

static VpNetworkDef *
vp_virt_network_parse(virNetworkPtr net, GError **error)
{
    g_autofree char *xml = vp_virt_take(virNetworkGetXMLDesc(net, 0));

    if (xml == NULL) {
        vp_virt_fail(error, _("cannot read the definition of network '%1$s'"),
                     virNetworkGetName(net));
        return NULL;
    }
    return vp_network_def_parse(xml, error);
}

gboolean
vp_virt_network_def(VpVirt *virt, const char *name, VpNetworkDef **def,
                    gboolean *active, GError **error)
{
    gboolean missing;
    g_autoptr(virNetwork) net = vp_virt_network(virt, name, &missing, error);

    *def = NULL;
    *active = FALSE;
    if (net == NULL) {
        return missing;
    }
    *active = virNetworkIsActive(net) == 1;
    *def = vp_virt_network_parse(net, error);
    return *def != NULL;
}

GPtrArray *
vp_virt_network_defs(VpVirt *virt, GError **error)
{
    virNetworkPtr *nets = NULL;
    int n = virConnectListAllNetworks(vp_virt_conn(virt), &nets, 0);
    g_autoptr(GPtrArray) defs =
        g_ptr_array_new_with_free_func((GDestroyNotify)vp_network_def_free);

    if (n < 0) {
        /* A driver without networks has none. */
        if (vp_virt_code() == VIR_ERR_NO_SUPPORT) {
            return g_steal_pointer(&defs);
        }
        vp_virt_fail(error, _("cannot list the networks"));
        return NULL;
    }
    gboolean ok = TRUE;
    for (int i = 0; i < n; i++) {
        if (ok) {
            VpNetworkDef *def = vp_virt_network_parse(nets[i], error);
            ok = def != NULL;
            if (ok) {
                g_ptr_array_add(defs, def);
            }
        }
        virNetworkFree(nets[i]);
    }
    free(nets);
    return ok ? g_steal_pointer(&defs) : NULL;
}

GPtrArray *
vp_virt_network_leases(VpVirt *virt, const char *name, GError **error)
{
    gboolean missing;
    g_autoptr(virNetwork) net = vp_virt_network(virt, name, &missing, error);
    g_autoptr(GPtrArray) out =
        g_ptr_array_new_with_free_func((GDestroyNotify)vp_net_lease_free);
    virNetworkDHCPLeasePtr *leases = NULL;

    if (net == NULL) {
        return missing ? g_steal_pointer(&out) : NULL;
    }
    int n = virNetworkGetDHCPLeases(net, NULL, &leases, 0);
    if (n < 0) {
        vp_virt_fail(error, _("cannot read the DHCP leases of network '%1$s'"),
                     name);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        guint32 addr;
        if (leases[i]->type == VIR_IP_ADDR_TYPE_IPV4 &&
            vp_ipv4_parse(leases[i]->ipaddr, &addr)) {
            VpNetLease *l = g_new0(VpNetLease, 1);
            l->mac = g_ascii_strdown(leases[i]->mac != NULL ? leases[i]->mac : "", -1);
            l->hostname = g_strdup(leases[i]->hostname);
            l->ip = addr;
            l->expiry = leases[i]->expirytime;
            g_ptr_array_add(out, l);
        }
        virNetworkDHCPLeaseFree(leases[i]);
    }
    free(leases);
    return g_steal_pointer(&out);
}

gboolean
vp_virt_network_entry(VpVirt *virt, const char *name, VpNetSection section,
                      gboolean add, const char *xml, GError **error)
{
    gboolean missing;
    g_autoptr(virNetwork) net = vp_virt_network(virt, name, &missing, error);

    if (net == NULL) {
        if (missing) {
            g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                        _("network '%1$s' does not exist"), name);
        }
        return FALSE;
    }
    /* Both the running network and its definition: dnsmasq answers at once
     * and the entry outlives a restart of the network.  An inactive one
     * has only its definition, a transient one only its running state. */
    unsigned int flags = 0;
    if (virNetworkIsPersistent(net) == 1) {
        flags |= VIR_NETWORK_UPDATE_AFFECT_CONFIG;
    }
    if (virNetworkIsActive(net) == 1) {
        flags |= VIR_NETWORK_UPDATE_AFFECT_LIVE;
    }
    int sec = section == VP_NET_SECTION_DHCP_HOST ? VIR_NETWORK_SECTION_IP_DHCP_HOST
                                                  : VIR_NETWORK_SECTION_DNS_HOST;
    int cmd = add ? VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
                  : VIR_NETWORK_UPDATE_COMMAND_DELETE;
    if (virNetworkUpdate(net, (unsigned int)cmd, (unsigned int)sec, -1, xml,
                         flags) < 0) {
        return vp_virt_fail(error,
                            add ? _("cannot add an entry to network '%1$s'")
                                : _("cannot remove an entry from network '%1$s'"),
                            name);
    }
    return TRUE;
}

char *
vp_virt_network_create(VpVirt *virt, const char *xml, GError **error)
{
    g_autoptr(virNetwork) net = virNetworkDefineXML(vp_virt_conn(virt), xml);
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (net == NULL) {
        vp_virt_fail(error, _("cannot define a network"));
        return NULL;
    }
    if (virNetworkGetUUIDString(net, uuid) < 0) {
        vp_virt_fail(error, _("cannot read the UUID of network '%1$s'"),
                     virNetworkGetName(net));
        virNetworkUndefine(net);
        return NULL;
    }
    /* Started and marked to start with the host, as a network a guest of
     * the lab depends on; undefined again when it cannot start. */
    if (virNetworkCreate(net) < 0 || virNetworkSetAutostart(net, 1) < 0) {
        vp_virt_fail(error, _("cannot start network '%1$s'"), virNetworkGetName(net));
        virNetworkDestroy(net);
        virNetworkUndefine(net);
        return NULL;
    }
    return g_strdup(uuid);
}

gboolean
vp_virt_network_ensure_active(VpVirt *virt, const char *uuid, gboolean *started,
                              GError **error)
{
    g_autoptr(virNetwork) net = virNetworkLookupByUUIDString(vp_virt_conn(virt),
                                                             uuid);
    int autostart = 0;

    *started = FALSE;
    if (net == NULL) {
        return vp_virt_fail(error, _("cannot look up network %1$s"), uuid);
    }
    if (virNetworkIsActive(net) != 1) {
        if (virNetworkCreate(net) < 0) {
            return vp_virt_fail(error, _("cannot start network '%1$s'"),
                                virNetworkGetName(net));
        }
        *started = TRUE;
    }
    if (virNetworkGetAutostart(net, &autostart) < 0 ||
        (!autostart && virNetworkSetAutostart(net, 1) < 0)) {
        return vp_virt_fail(error, _("cannot mark network '%1$s' to start with the host"),
                            virNetworkGetName(net));
    }
    return TRUE;
}

gboolean
vp_virt_network_remove(VpVirt *virt, const char *uuid, GError **error)
{
    g_autoptr(virNetwork) net = virNetworkLookupByUUIDString(vp_virt_conn(virt),
                                                             uuid);

    /* By UUID: a network of the same name made since is not this one. */
    if (net == NULL) {
        if (vp_virt_code() == VIR_ERR_NO_NETWORK) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up network %1$s"), uuid);
    }
    if (virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0) {
        return vp_virt_fail(error, _("cannot stop network '%1$s'"),
                            virNetworkGetName(net));
    }
    if (virNetworkIsPersistent(net) == 1 && virNetworkUndefine(net) < 0) {
        return vp_virt_fail(error, _("cannot remove network '%1$s'"),
                            virNetworkGetName(net));
    }
    return TRUE;
}
