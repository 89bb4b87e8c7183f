/* Domains, their capabilities, and networks. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "parallel.h"
#include "virt-private.h"

/* ---- domains ---------------------------------------------------------- */

/* Look-ups by name, because the name is what the user typed and what the
 * tool's own records hold.  Each caller frees the returned domain. */
virDomainPtr
vp_virt_domain(VpVirt *virt, const char *name, GError **error)
{
    VP_VIRT_BUSY(virt);
    virDomainPtr dom = virDomainLookupByName(vp_virt_conn(virt), name);
    if (dom == NULL) {
        vp_virt_fail(error, _("cannot find domain '%1$s'"), name);
    }
    return dom;
}

/* "Does not exist" is an answer here, not a failure: a workflow asks before it
 * defines, so that it never replaces a domain nobody asked it to.  Only other
 * errors (a dead connection, a refused call) fail. */
gboolean
vp_virt_domain_exists(VpVirt *virt, const char *name, gboolean *exists,
                      GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = virDomainLookupByName(vp_virt_conn(virt), name);

    if (dom == NULL && vp_virt_code() != VIR_ERR_NO_DOMAIN) {
        return vp_virt_fail(error, _("cannot look up domain '%1$s'"), name);
    }
    *exists = dom != NULL;
    return TRUE;
}

char *
vp_virt_domain_xml(VpVirt *virt, const char *name, gboolean inactive,
                   GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return NULL;
    }
    /* SECURE: the definition is edited and defined again by convert and
     * attach, and without this flag libvirt leaves out secrets (VNC and SPICE
     * passwords), which the redefinition would then drop. */
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_SECURE |
                                         (inactive ? VIR_DOMAIN_XML_INACTIVE : 0));
    if (xml == NULL) {
        vp_virt_fail(error, _("cannot read the definition of domain '%1$s'"),
                     name);
        return NULL;
    }
    return vp_virt_take(xml);
}

gboolean
vp_virt_domain_is_active(VpVirt *virt, const char *name, gboolean *active,
                         GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    int state = virDomainIsActive(dom);
    if (state < 0) {
        return vp_virt_fail(error, _("cannot tell whether domain '%1$s' runs"),
                            name);
    }
    *active = state == 1;
    return TRUE;
}

gboolean
/* Unlike vp_virt_domain_define(), this XML is the user's own definition edited
 * by the tool, holding elements the tool never wrote, so libvirt is asked to
 * check it against its schema before it replaces the old one. */
vp_virt_domain_redefine(VpVirt *virt, const char *xml, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = virDomainDefineXMLFlags(vp_virt_conn(virt), xml,
                                                       VIR_DOMAIN_DEFINE_VALIDATE);
    if (dom == NULL) {
        return vp_virt_fail(error, _("libvirt refused the new domain definition"));
    }
    return TRUE;
}

char *
vp_virt_domain_define(VpVirt *virt, const char *xml, GError **error)
{
    VP_VIRT_BUSY(virt);
    /* The UUID is returned because libvirt picks one when the XML has none,
     * and the user is told which it was. */
    char uuid[VIR_UUID_STRING_BUFLEN];
    /* No schema validation (VIR_DOMAIN_DEFINE_VALIDATE) for XML this tool
     * generated: it is checked against libvirt's schema by the test suite,
     * libvirt still parses and checks it, and the RNG pass would cost more
     * than the rest of the define (10-15 ms here). */
    g_autoptr(virDomain) dom = virDomainDefineXML(vp_virt_conn(virt), xml);

    if (dom == NULL) {
        vp_virt_fail(error, _("libvirt refused the domain definition"));
        return NULL;
    }
    if (virDomainGetUUIDString(dom, uuid) < 0) {
        vp_virt_fail(error, _("cannot read the new domain's UUID"));
        return NULL;
    }
    return g_strdup(uuid);
}

/* The operations on an existing domain that are "look it up by name, do
 * one call, say what failed": one table of calls and messages instead of a
 * copy of the look-up per operation. */
typedef enum {
    VP_DOMAIN_ATTACH_LIVE,
    VP_DOMAIN_DETACH_LIVE,
    VP_DOMAIN_UNDEFINE,
    VP_DOMAIN_START,
    VP_DOMAIN_DESTROY,
    VP_DOMAIN_AUTOSTART_ON,
    VP_DOMAIN_AUTOSTART_OFF,
} VpDomainCall;

static gboolean
vp_virt_domain_call(VpVirt *virt, const char *name, VpDomainCall call,
                    const char *device_xml, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);

    if (dom == NULL) {
        return FALSE;
    }
    switch (call) {
    case VP_DOMAIN_ATTACH_LIVE:
        if (virDomainAttachDeviceFlags(dom, device_xml,
                                       VIR_DOMAIN_AFFECT_LIVE) < 0) {
            return vp_virt_fail(error, _("cannot hot-plug the disk into "
                                         "domain '%1$s'"), name);
        }
        break;
    case VP_DOMAIN_DETACH_LIVE:
        if (virDomainDetachDeviceFlags(dom, device_xml,
                                       VIR_DOMAIN_AFFECT_LIVE) < 0) {
            return vp_virt_fail(error, _("cannot unplug the disk from domain "
                                         "'%1$s'"), name);
        }
        break;
    case VP_DOMAIN_UNDEFINE:
        /* A guest this tool defined has neither, but an undo must not fail
         * because libvirt refuses to drop state it would otherwise keep. */
        if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                        VIR_DOMAIN_UNDEFINE_NVRAM) < 0) {
            return vp_virt_fail(error, _("cannot undefine domain '%1$s'"), name);
        }
        break;
    case VP_DOMAIN_START:
        if (virDomainCreate(dom) < 0) {
            return vp_virt_fail(error, _("cannot start domain '%1$s'"), name);
        }
        break;
    /* Stopping an inactive domain is an error in libvirt but nothing to do for
     * an undo, which only wants the guest not to run. */
    case VP_DOMAIN_DESTROY: {
        /* An undo that cannot even tell whether the guest runs has not
         * stopped it: that is a failure, not a success. */
        int active = virDomainIsActive(dom);
        if (active < 0 || (active == 1 && virDomainDestroy(dom) < 0)) {
            return vp_virt_fail(error, _("cannot stop domain '%1$s'"), name);
        }
        break;
    }
    case VP_DOMAIN_AUTOSTART_ON:
    case VP_DOMAIN_AUTOSTART_OFF:
        if (virDomainSetAutostart(dom, call == VP_DOMAIN_AUTOSTART_ON) < 0) {
            return vp_virt_fail(error, _("cannot set autostart of domain "
                                         "'%1$s'"), name);
        }
        break;
    }
    return TRUE;
}

gboolean
vp_virt_domain_attach_live(VpVirt *virt, const char *name,
                           const char *device_xml, GError **error)
{
    VP_VIRT_BUSY(virt);
    return vp_virt_domain_call(virt, name, VP_DOMAIN_ATTACH_LIVE, device_xml,
                               error);
}

gboolean
vp_virt_domain_detach_live(VpVirt *virt, const char *name,
                           const char *device_xml, GError **error)
{
    VP_VIRT_BUSY(virt);
    return vp_virt_domain_call(virt, name, VP_DOMAIN_DETACH_LIVE, device_xml,
                               error);
}

gboolean
vp_virt_domain_undefine(VpVirt *virt, const char *name, GError **error)
{
    VP_VIRT_BUSY(virt);
    return vp_virt_domain_call(virt, name, VP_DOMAIN_UNDEFINE, NULL, error);
}

gboolean
vp_virt_domain_start(VpVirt *virt, const char *name, GError **error)
{
    VP_VIRT_BUSY(virt);
    return vp_virt_domain_call(virt, name, VP_DOMAIN_START, NULL, error);
}

gboolean
vp_virt_domain_destroy(VpVirt *virt, const char *name, GError **error)
{
    VP_VIRT_BUSY(virt);
    return vp_virt_domain_call(virt, name, VP_DOMAIN_DESTROY, NULL, error);
}

gboolean
vp_virt_domain_set_autostart(VpVirt *virt, const char *name,
                             gboolean autostart, GError **error)
{
    VP_VIRT_BUSY(virt);
    return vp_virt_domain_call(virt, name,
                               autostart ? VP_DOMAIN_AUTOSTART_ON
                                         : VP_DOMAIN_AUTOSTART_OFF,
                               NULL, error);
}

/* The answer says which virt types, machine types and features the host has
 * for that emulator; used to pick kvm or qemu and to refuse a guest the host
 * cannot run before anything is created. */
char *
vp_virt_domain_caps(VpVirt *virt, const char *virt_type, const char *arch,
                    const char *machine, GError **error)
{
    VP_VIRT_BUSY(virt);
    char *xml = virConnectGetDomainCapabilities(vp_virt_conn(virt), NULL, arch,
                                                machine, virt_type, 0);
    if (xml == NULL) {
        vp_virt_fail(error, _("the host offers no '%1$s' guests of machine "
                              "type '%2$s'"),
                     virt_type != NULL ? virt_type : "default",
                     machine != NULL ? machine : "default");
        return NULL;
    }
    return vp_virt_take(xml);
}

gboolean
vp_virt_network_state(VpVirt *virt, const char *name, gboolean *exists,
                      gboolean *active, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virNetwork) net = virNetworkLookupByName(vp_virt_conn(virt), name);

    /* Zeroed first so that a caller reading them after an early return of TRUE
     * sees "no such network", never stale values. */
    *exists = FALSE;
    *active = FALSE;
    if (net == NULL) {
        int code = vp_virt_code();
        /* A driver without networks (some remote setups) means no network. */
        if (code == VIR_ERR_NO_NETWORK || code == VIR_ERR_NO_SUPPORT) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up network '%1$s'"), name);
    }
    *exists = TRUE;
    *active = virNetworkIsActive(net) == 1;
    return TRUE;
}

/* Loopback and IPv6 link-local addresses say nothing about whether the
 * guest can be reached. */
static gboolean
vp_address_reachable(int type, const char *addr)
{
    if (type == VIR_IP_ADDR_TYPE_IPV4) {
        return !g_str_has_prefix(addr, "127.");
    }
    return g_strcmp0(addr, "::1") != 0 &&
           g_ascii_strncasecmp(addr, "fe80:", 5) != 0;
}

void
vp_address_free(VpAddress *address)
{
    if (address != NULL) {
        g_free(address->interface);
        g_free(address->address);
        g_free(address);
    }
}

/* The addresses of domain NAME from SOURCE (VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*):
 * the agent knows them on every kind of network (bridge, user), the DHCP
 * leases only on networks whose dnsmasq libvirt runs, but need nothing in
 * the guest. */
static GPtrArray *
vp_domain_addresses(VpVirt *virt, const char *name, unsigned int source,
                    GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = vp_virt_domain(virt, name, error);
    virDomainInterfacePtr *ifaces = NULL;

    if (dom == NULL) {
        return NULL;
    }
    int n = virDomainInterfaceAddresses(dom, &ifaces, source, 0);
    if (n < 0) {
        if (source == VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE) {
            vp_virt_fail(error, _("cannot read the DHCP leases of domain '%1$s'"),
                         name);
        } else {
            vp_virt_fail(error, _("the guest agent of domain '%1$s' does not "
                                  "answer"), name);
        }
        return NULL;
    }
    GPtrArray *found = g_ptr_array_new_with_free_func((GDestroyNotify)vp_address_free);
    for (int i = 0; i < n; i++) {
        for (unsigned int k = 0; k < ifaces[i]->naddrs; k++) {
            const virDomainIPAddress *a = &ifaces[i]->addrs[k];
            if (a->addr != NULL && vp_address_reachable(a->type, a->addr)) {
                VpAddress *address = g_new0(VpAddress, 1);
                address->interface = g_strdup(ifaces[i]->name);
                address->address = g_strdup(a->addr);
                address->prefix = a->prefix;
                address->ipv6 = a->type == VIR_IP_ADDR_TYPE_IPV6;
                g_ptr_array_add(found, address);
            }
        }
        virDomainInterfaceFree(ifaces[i]);
    }
    free(ifaces);
    return found;
}

/* A guest without an agent is an error, which --wait keeps polling
 * through. */
GPtrArray *
vp_virt_domain_addresses(VpVirt *virt, const char *name, GError **error)
{
    return vp_domain_addresses(virt, name, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
                               error);
}

GPtrArray *
vp_virt_domain_lease_addresses(VpVirt *virt, const char *name, GError **error)
{
    return vp_domain_addresses(virt, name, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                               error);
}

void
vp_domain_entry_free(VpDomainEntry *entry)
{
    if (entry == NULL) {
        return;
    }
    g_free(entry->name);
    g_free(entry->uuid);
    g_free(entry->metadata);
    g_free(entry);
}

/* The metadata element of namespace NS of DOM into *XML (NULL when it has
 * none).  A domain that vanished meanwhile is FALSE without an error: it
 * is simply not listed. */
static gboolean
vp_domain_metadata(virDomainPtr dom, const char *ns, char **xml,
                   GError **error)
{
    /* The current definition: the live one of a running guest, which holds
     * the same record as the persistent one (nothing edits it live). */
    char *text = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ns, 0);

    *xml = NULL;
    if (text != NULL) {
        *xml = vp_virt_take(text);
        return TRUE;
    }
    if (vp_virt_code() == VIR_ERR_NO_DOMAIN_METADATA) {
        return TRUE;
    }
    if (vp_virt_code() == VIR_ERR_NO_DOMAIN) {
        return FALSE;
    }
    return vp_virt_fail(error, _("cannot read the metadata of domain '%1$s'"),
                        virDomainGetName(dom));
}

/* One domain of a listing, read from a thread of vp_parallel_for. */
typedef struct {
    virDomainPtr *doms;
    const char *ns;
    GHashTable *active; /* UUIDs of the running domains */
    VpDomainEntry **entries; /* NULL where the domain vanished */
    GError **errors;
} VpDomainListing;

static void
vp_domain_list_one(guint i, gpointer data)
{
    VpDomainListing *l = data;
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autoptr(VpDomainEntry) e = g_new0(VpDomainEntry, 1);

    if (vp_domain_metadata(l->doms[i], l->ns, &e->metadata, &l->errors[i]) &&
        virDomainGetUUIDString(l->doms[i], uuid) == 0) {
        e->name = g_strdup(virDomainGetName(l->doms[i]));
        e->uuid = g_strdup(uuid);
        e->active = g_hash_table_contains(l->active, uuid);
        l->entries[i] = g_steal_pointer(&e);
    }
}

/* The UUIDs of VIRT's running domains, one call for all. */
static GHashTable *
vp_domains_active(VpVirt *virt, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(vp_virt_conn(virt), &doms,
                                     VIR_CONNECT_LIST_DOMAINS_ACTIVE);

    if (n < 0) {
        vp_virt_fail(error, _("cannot list the domains of '%1$s'"),
                     virt->actual_uri);
        return NULL;
    }
    GHashTable *active = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               NULL);
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(doms[i], uuid) == 0) {
            g_hash_table_add(active, g_strdup(uuid));
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    return active;
}

GPtrArray *
vp_virt_domain_list(VpVirt *virt, const char *ns, GError **error)
{
    VP_VIRT_BUSY(virt);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(vp_virt_conn(virt), &doms, 0);

    if (n < 0) {
        vp_virt_fail(error, _("cannot list the domains of '%1$s'"),
                     virt->actual_uri);
        return NULL;
    }
    g_autoptr(GHashTable) active = vp_domains_active(virt, error);
    VpDomainListing l = { doms, ns, active, g_new0(VpDomainEntry *, n),
                          g_new0(GError *, n) };
    /* The records are read from several threads: each a round trip. */
    if (active != NULL) {
        vp_parallel_for((guint)n, VP_PARALLEL_CALLS, vp_domain_list_one, &l);
    }
    g_autoptr(GPtrArray) list =
        g_ptr_array_new_with_free_func((GDestroyNotify)vp_domain_entry_free);
    gboolean ok = active != NULL;
    for (int i = 0; i < n; i++) {
        if (ok && l.errors[i] != NULL) {
            g_propagate_error(error, g_steal_pointer(&l.errors[i]));
            ok = FALSE;
        }
        g_clear_error(&l.errors[i]);
        if (l.entries[i] != NULL) {
            g_ptr_array_add(list, l.entries[i]);
        }
        virDomainFree(doms[i]);
    }
    g_free(l.entries);
    g_free(l.errors);
    free(doms);
    return ok ? g_steal_pointer(&list) : NULL;
}
