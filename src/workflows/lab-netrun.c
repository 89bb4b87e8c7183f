/* A lab's networks on its hosts: what the plan reads of them, the copies
 * made and removed, the entries a guest's record says it added removed
 * with the guest, and the names synchronised over every copy once the
 * guests are done.
 *
 * Nothing is removed on a record's word alone.  A copy goes only when the
 * host says, just before, that the network of that UUID still carries
 * the lab's record of its key and no domain uses it; an entry goes only
 * when the guest's own definition has the NIC's MAC on that network and
 * the network holds that very entry (MAC, the guest's name, address). */
#include <string.h>

#include <glib/gi18n.h>

#include "domain-edit.h"
#include "error.h"
#include "lab-private.h"
#include "workflow.h"

/* The NICs of domain XML (VpIfaceInfo *), none when it does not parse:
 * a definition the host gave is the host's word. */
static GPtrArray *
vp_interfaces(const char *xml)
{
    g_autoptr(VpDomainDoc) doc = xml != NULL ? vp_domain_doc_parse(xml, NULL) : NULL;

    return doc != NULL ? vp_domain_interfaces(doc)
                       : g_ptr_array_new_with_free_func((GDestroyNotify)vp_iface_info_free);
}

/* Adds what DEFS's NICs hold to H->macs and H->net_users. */
static void
vp_take_interfaces(VpLabHostState *h, const VpDomainDefs *d)
{
    const char *xmls[] = { d->xml, d->live_xml };

    for (guint x = 0; x < G_N_ELEMENTS(xmls); x++) {
        g_autoptr(GPtrArray) ifaces = vp_interfaces(xmls[x]);
        for (guint i = 0; i < ifaces->len; i++) {
            const VpIfaceInfo *f = g_ptr_array_index(ifaces, i);
            if (f->mac != NULL) {
                g_hash_table_insert(h->macs, g_strdup(f->mac), g_strdup(d->name));
            }
            if (f->network == NULL) {
                continue;
            }
            GHashTable *users = g_hash_table_lookup(h->net_users, f->network);
            if (users == NULL) {
                users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                g_hash_table_insert(h->net_users, g_strdup(f->network), users);
            }
            g_hash_table_add(users, g_strdup(d->name));
        }
    }
}

gboolean
vp_lab_read_networks(VpLabHostState *h, GError **error)
{
    const VpLab *lab = h->run->plan->lab;

    h->net_defs = vp_virt_network_defs(h->virt, error);
    g_autoptr(GPtrArray) defs = h->net_defs != NULL
                                    ? vp_virt_domain_defs_all(h->virt, error) : NULL;
    if (defs == NULL) {
        return FALSE;
    }
    h->macs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    h->net_users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)g_hash_table_unref);
    h->leases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)g_ptr_array_unref);
    for (guint i = 0; i < defs->len; i++) {
        vp_take_interfaces(h, g_ptr_array_index(defs, i));
    }
    /* Leases of the lab's copies: an address leased is not given. */
    for (guint i = 0; i < lab->networks->len; i++) {
        const VpLabNetwork *n = g_ptr_array_index(lab->networks, i);
        gboolean exists, active;
        if (!vp_virt_network_state(h->virt, n->name, &exists, &active, error)) {
            return FALSE;
        }
        /* A copy that does not run has no leases to ask for. */
        GPtrArray *leases = !active ? NULL
                                    : vp_virt_network_leases(h->virt, n->name, error);
        if (active && leases == NULL) {
            return FALSE;
        }
        if (leases != NULL) {
            g_hash_table_insert(h->leases, g_strdup(n->name), leases);
        }
    }
    return TRUE;
}

/* The first domain of H that uses network NAME now, into *USER; NULL
 * when none.  FALSE when the host cannot say. */
static gboolean
vp_net_user_now(VpLabHostState *h, const char *name, char **user, GError **error)
{
    g_autoptr(GPtrArray) defs = vp_virt_domain_defs_all(h->virt, error);

    *user = NULL;
    for (guint i = 0; defs != NULL && i < defs->len && *user == NULL; i++) {
        const VpDomainDefs *d = g_ptr_array_index(defs, i);
        const char *xmls[] = { d->xml, d->live_xml };
        for (guint x = 0; x < G_N_ELEMENTS(xmls) && *user == NULL; x++) {
            g_autoptr(GPtrArray) ifaces = vp_interfaces(xmls[x]);
            for (guint k = 0; k < ifaces->len && *user == NULL; k++) {
                const VpIfaceInfo *f = g_ptr_array_index(ifaces, k);
                if (g_strcmp0(f->network, name) == 0) {
                    *user = g_strdup(d->name);
                }
            }
        }
    }
    return defs != NULL;
}

/* Network NAME as the host has it now, when it is the copy of UUID and
 * still carries this lab's record of its name; NULL otherwise (no error
 * when it is gone or another's). */
static VpNetworkDef *
vp_own_copy(VpLabHostState *h, const char *name, const char *uuid,
            GError **error)
{
    g_autoptr(VpNetworkDef) def = NULL;
    gboolean active;

    if (!vp_virt_network_def(h->virt, name, &def, &active, error) || def == NULL ||
        g_strcmp0(def->uuid, uuid) != 0 || def->record == NULL) {
        return NULL;
    }
    g_autoptr(VpLabNetRecord) rec = vp_lab_net_record_parse(def->record, NULL);
    g_autofree char *own = rec != NULL ? g_strdup_printf("%s-%s", rec->lab, rec->key)
                                       : NULL;
    if (rec == NULL || strcmp(rec->lab, h->run->plan->lab->lab) != 0 ||
        strcmp(own, name) != 0) {
        return NULL;
    }
    return g_steal_pointer(&def);
}

/* Removes HN's copy on H, proved the lab's and unused just before. */
static gboolean
vp_remove_copy(VpLabHostState *h, VpLabHostNet *hn, GError **error)
{
    g_autofree char *user = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(VpNetworkDef) now = vp_own_copy(h, hn->name, hn->def->uuid, &local);

    if (local != NULL) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    if (now == NULL) {
        /* Gone already, or no longer the lab's: nothing of it is touched. */
        return TRUE;
    }
    if (!vp_net_user_now(h, hn->name, &user, error)) {
        return FALSE;
    }
    if (user != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("domain '%1$s' uses network '%2$s'; detach it to remove the network"),
                    user, hn->name);
        return FALSE;
    }
    vp_workflow_step(&h->run->plan->run, _("removing network '%1$s' from host '%2$s'"),
                     hn->name, h->host->name);
    return vp_virt_network_remove(h->virt, hn->def->uuid, error);
}

/* Marks HN's report failed with ERROR; the creates on H that use it
 * fail with it before anything of them is made. */
static void
vp_fail_copy(VpLabHostState *h, VpLabHostNet *hn, const GError *error)
{
    hn->report->action = g_error_matches(error, VP_ERROR, VP_ERROR_EXISTS)
                             ? VP_LAB_CONFLICT : VP_LAB_FAILED;
    g_free(hn->report->error);
    hn->report->error = g_strdup(error->message);
    g_clear_pointer(&hn->xml, g_free);
    for (guint i = 0; i < h->tasks->len; i++) {
        VpLabTask *t = g_ptr_array_index(h->tasks, i);
        if (t->plan != NULL && t->prepare_error == NULL &&
            vp_lab_plan_uses(t->plan, hn->name)) {
            t->prepare_error = g_error_new(VP_ERROR, VP_ERROR_FAILED,
                                           _("lab network '%1$s' on host '%2$s': %3$s"),
                                           hn->name, h->host->name, error->message);
        }
    }
}

void
vp_lab_run_networks(VpLabHostState *h)
{
    for (guint i = 0; h->nets != NULL && i < h->nets->len; i++) {
        VpLabHostNet *hn = g_ptr_array_index(h->nets, i);
        g_autoptr(GError) error = NULL;
        gboolean started = FALSE;
        if (hn->report == NULL) {
            continue;
        }
        /* A copy kept runs: one whose making was cut short between its
         * definition and its start is finished now. */
        if (hn->report->action == VP_LAB_KEEP) {
            if (!vp_virt_ensure_alive(h->virt, VP_RECONNECT_MS, &error) ||
                !vp_virt_network_ensure_active(h->virt, hn->def->uuid, &started,
                                               &error)) {
                vp_fail_copy(h, hn, error);
            } else if (started) {
                vp_workflow_step(&h->run->plan->run, _("started network '%1$s' on host '%2$s'"),
                                 hn->name, h->host->name);
            }
            continue;
        }
        if (!hn->remove && hn->xml == NULL) {
            continue;
        }
        if (!vp_virt_ensure_alive(h->virt, VP_RECONNECT_MS, &error) ||
            (hn->remove && !vp_remove_copy(h, hn, &error))) {
            vp_fail_copy(h, hn, error);
            continue;
        }
        if (hn->xml == NULL) {
            continue;
        }
        /* Made, record and all, before any guest uses it. */
        vp_workflow_step(&h->run->plan->run,
                         _("creating network '%1$s' (%2$s) on host '%3$s'"),
                         hn->name, hn->report->subnet, h->host->name);
        hn->uuid = vp_virt_network_create(h->virt, hn->xml, &error);
        if (hn->uuid == NULL) {
            vp_fail_copy(h, hn, error);
        }
    }
}

/* Whether the interfaces of DEFS have MAC on network NETWORK. */
static gboolean
vp_has_nic(const VpDomainDefs *defs, const char *network, const char *mac)
{
    const char *xmls[] = { defs->xml, defs->live_xml };

    for (guint x = 0; x < G_N_ELEMENTS(xmls); x++) {
        g_autoptr(GPtrArray) ifaces = vp_interfaces(xmls[x]);
        for (guint i = 0; i < ifaces->len; i++) {
            const VpIfaceInfo *f = g_ptr_array_index(ifaces, i);
            if (g_strcmp0(f->network, network) == 0 && g_strcmp0(f->mac, mac) == 0) {
                return TRUE;
            }
        }
    }
    return FALSE;
}

/* The DNS host of DEF that is guest NAME's at ADDR: exactly its name, or
 * its name and NAME.DOMAIN; NULL when there is none. */
static const VpNetDnsHost *
vp_dns_entry(const VpNetworkDef *def, const char *name, guint32 addr)
{
    g_autofree char *fqdn = def->domain != NULL
                            ? g_strdup_printf("%s.%s", name, def->domain) : NULL;
    const char *const full[] = { name, fqdn, NULL };
    const char *const bare[] = { name, NULL };

    for (guint i = 0; i < def->dns_hosts->len; i++) {
        const VpNetDnsHost *d = g_ptr_array_index(def->dns_hosts, i);
        const char *const *have = (const char *const *)d->hostnames;
        if (d->ip == addr &&
            (g_strv_equal(have, bare) || (fqdn != NULL && g_strv_equal(have, full)))) {
            return d;
        }
    }
    return NULL;
}

/* Removes NIC's entries of guest NAME from its network, each only when
 * the network holds it as the guest added it. */
static gboolean
vp_remove_nic_entries(VpLabHostState *h, const char *name, const VpLabNic *nic,
                      GError **error)
{
    g_autoptr(VpNetworkDef) def = NULL;
    gboolean active;
    guint32 addr;

    if (!vp_ipv4_parse(nic->ip, &addr)) {
        return TRUE;
    }
    if (!vp_virt_network_def(h->virt, nic->network, &def, &active, error)) {
        return FALSE;
    }
    /* A network gone takes its entries with it. */
    if (def == NULL) {
        return TRUE;
    }
    for (guint i = 0; nic->dhcp && i < def->dhcp_hosts->len; i++) {
        const VpNetDhcpHost *d = g_ptr_array_index(def->dhcp_hosts, i);
        if (d->ip == addr && g_strcmp0(d->mac, nic->mac) == 0 &&
            g_strcmp0(d->name, name) == 0) {
            g_autofree char *xml = vp_network_dhcp_host_xml(nic->mac, name, addr);
            vp_workflow_step(&h->run->plan->run,
                             _("removing the reservation of %1$s for '%2$s' from network '%3$s'"),
                             nic->ip, name, nic->network);
            if (!vp_virt_network_entry(h->virt, nic->network, VP_NET_SECTION_DHCP_HOST,
                                       FALSE, xml, error)) {
                return FALSE;
            }
            break;
        }
    }
    const VpNetDnsHost *dns = nic->dns ? vp_dns_entry(def, name, addr) : NULL;
    if (dns != NULL) {
        g_autofree char *xml = vp_network_dns_host_xml(addr, (const char *const *)
                                                       dns->hostnames);
        return vp_virt_network_entry(h->virt, nic->network, VP_NET_SECTION_DNS_HOST,
                                     FALSE, xml, error);
    }
    return TRUE;
}

gboolean
vp_lab_remove_entries(VpLabHostState *h, const VpDomainDefs *defs,
                      const VpLabRecord *rec, GError **error)
{
    for (guint i = 0; i < rec->nics->len; i++) {
        const VpLabNic *nic = g_ptr_array_index(rec->nics, i);
        /* The record's word is proved by the guest's own definition: a
         * forged nic names a MAC the domain does not have. */
        if ((!nic->dhcp && !nic->dns) || nic->ip == NULL ||
            !vp_has_nic(defs, nic->network, nic->mac)) {
            continue;
        }
        if (!vp_remove_nic_entries(h, defs->name, nic, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* A name the lab's networks resolve: guest NAME at ADDR. */
typedef struct {
    const char *name;
    guint32 addr;
} VpLabName;

/* The names network NAME must resolve: every guest of the lab that is on
 * a host after the run with an address on it (VpLabName *). */
static GPtrArray *
vp_wanted_names(const VpLabRun *run, const char *name)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < run->result->guests->len; i++) {
        const VpLabGuestReport *g = g_ptr_array_index(run->result->guests, i);
        for (guint k = 0; g->exists && g->nics != NULL && k < g->nics->len; k++) {
            const VpLabNic *nic = g_ptr_array_index(g->nics, k);
            VpLabName n = { .name = g->name };
            if (strcmp(nic->network, name) == 0 && nic->ip != NULL &&
                vp_ipv4_parse(nic->ip, &n.addr)) {
                g_ptr_array_add(out, g_memdup2(&n, sizeof n));
            }
        }
    }
    return out;
}

/* Whether a DNS host of DEF has ADDR or NAME. */
static gboolean
vp_dns_clash(const VpNetworkDef *def, const char *name, guint32 addr)
{
    for (guint i = 0; i < def->dns_hosts->len; i++) {
        const VpNetDnsHost *d = g_ptr_array_index(def->dns_hosts, i);
        if (d->ip == addr || g_strv_contains((const char *const *)d->hostnames, name)) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Brings HN's copy on H to resolve exactly WANTED: stale entries go (only
 * when every host was read: one that was not may hold guests of the
 * lab), missing ones are added. */
static gboolean
vp_sync_copy(VpLabHostState *h, VpLabHostNet *hn, GPtrArray *wanted,
             gboolean complete, GError **error)
{
    const char *uuid = hn->uuid != NULL ? hn->uuid : hn->def->uuid;
    g_autoptr(GError) local = NULL;
    g_autoptr(VpNetworkDef) def = vp_own_copy(h, hn->name, uuid, &local);
    g_autoptr(GHashTable) found = g_hash_table_new(NULL, NULL);

    if (def == NULL) {
        /* Gone, or no longer the lab's: not the lab's to change. */
        if (local != NULL) {
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        return TRUE;
    }
    for (guint i = 0; i < wanted->len; i++) {
        const VpLabName *n = g_ptr_array_index(wanted, i);
        const VpNetDnsHost *d = vp_dns_entry(def, n->name, n->addr);
        if (d != NULL) {
            g_hash_table_add(found, (gpointer)d);
        }
    }
    for (guint i = 0; complete && i < def->dns_hosts->len; i++) {
        const VpNetDnsHost *d = g_ptr_array_index(def->dns_hosts, i);
        g_autofree char *xml = vp_network_dns_host_xml(d->ip, (const char *const *)
                                                       d->hostnames);
        if (!g_hash_table_contains(found, d) &&
            !vp_virt_network_entry(h->virt, hn->name, VP_NET_SECTION_DNS_HOST,
                                   FALSE, xml, error)) {
            return FALSE;
        }
    }
    for (guint i = 0; i < wanted->len; i++) {
        const VpLabName *n = g_ptr_array_index(wanted, i);
        g_autofree char *fqdn = def->domain != NULL
                                ? g_strdup_printf("%s.%s", n->name, def->domain) : NULL;
        const char *names[] = { n->name, fqdn, NULL };
        g_autofree char *xml = vp_network_dns_host_xml(n->addr, names);
        /* Without the stale entries gone, one of the name or address
         * stays: libvirt refuses a second, and this run leaves it. */
        if (vp_dns_entry(def, n->name, n->addr) == NULL &&
            (complete || !vp_dns_clash(def, n->name, n->addr)) &&
            !vp_virt_network_entry(h->virt, hn->name, VP_NET_SECTION_DNS_HOST,
                                   TRUE, xml, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* The names of every copy of H (a vp_lab_parallel work item). */
static void
vp_sync_host(gpointer data, gpointer user_data)
{
    VpLabHostState *h = data;
    gboolean complete = GPOINTER_TO_INT(user_data);

    for (guint i = 0; i < h->nets->len; i++) {
        VpLabHostNet *hn = g_ptr_array_index(h->nets, i);
        g_autoptr(GError) error = NULL;
        VpLabAction a = hn->report != NULL ? hn->report->action : VP_LAB_FAILED;
        if (hn->net == NULL || (a != VP_LAB_KEEP && a != VP_LAB_CREATE &&
                                a != VP_LAB_REPLACE)) {
            continue;
        }
        g_autoptr(GPtrArray) wanted = vp_wanted_names(h->run, hn->name);
        if (!vp_virt_ensure_alive(h->virt, VP_RECONNECT_MS, &error) ||
            !vp_sync_copy(h, hn, wanted, complete, &error)) {
            hn->report->action = VP_LAB_FAILED;
            g_free(hn->report->error);
            hn->report->error = g_strdup_printf(_("its DNS names could not be brought up to date: %1$s"),
                                                error->message);
        }
    }
}

void
vp_lab_sync_dns(VpLabRun *run)
{
    g_autoptr(GPtrArray) hosts = g_ptr_array_new();
    gboolean complete = TRUE;

    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        complete = complete && h->report->reachable;
        if (h->nets != NULL && h->virt != NULL) {
            g_ptr_array_add(hosts, h);
        }
    }
    vp_workflow_step(&run->plan->run, _("bringing the DNS names of the lab's networks up to date"));
    vp_lab_parallel(hosts, hosts->len, vp_sync_host, GINT_TO_POINTER(complete));
}
