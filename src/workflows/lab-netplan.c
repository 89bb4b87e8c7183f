/* The plan of a lab's networks and of its guests' identity on them
 * (design.md, "Lab networks, guest identity and readiness"), pure like
 * the rest of the plan: from the hosts' networks as read, the manifest
 * and the flags, what each host's copy of each lab network needs, and
 * each created guest's MACs and addresses.
 *
 * A copy is the lab's only when its record names this lab and the key of
 * its name: anything else of that name is a conflict, and so is a subnet
 * that overlaps another network of the host; both are found here, before
 * anything is created, and fail only that copy and the guests on that
 * host that would use it.  A guest's MAC and address come from its record
 * when it has one (a re-apply and --replace keep them), else a stable
 * choice that avoids what the host holds and what the plan gave others. */
#include <string.h>

#include <glib/gi18n.h>

#include "lab-private.h"

void
vp_lab_host_net_free(gpointer data)
{
    VpLabHostNet *n = data;

    g_free(n->name);
    g_free(n->xml);
    g_free(n->uuid);
    g_clear_pointer(&n->taken, g_hash_table_unref);
    g_free(n);
}

gboolean
vp_lab_wants_networks(const VpLabRun *run)
{
    if (run->plan->lab->networks->len > 0) {
        return TRUE;
    }
    for (guint i = 0; i < run->plan->plans->len; i++) {
        const VpProvisionPlan *p = g_ptr_array_index(run->plan->plans, i);
        for (guint k = 0; p->domain.nics != NULL && k < p->domain.nics->len; k++) {
            if (((const VpNic *)g_ptr_array_index(p->domain.nics, k))->ip != NULL) {
                return TRUE;
            }
        }
    }
    return FALSE;
}

/* The hash a copy of N on the host of SUBNET carries when it is as the
 * manifest says.  Caller frees. */
static char *
vp_net_hash(const VpLabNetwork *n, const VpIpv4Net *subnet)
{
    g_autofree char *addr = vp_ipv4_format(subnet->addr);
    g_autofree char *text = g_strdup_printf("%s/%u", addr, subnet->prefix);

    return vp_lab_net_hash(n->cidr_text, vp_lab_net_mode_to_string(n->mode),
                           n->domain, text);
}

static guint
vp_host_index(const VpLabRun *run, const VpLabHostState *h)
{
    guint i = 0;

    while (g_ptr_array_index(run->hosts, i) != h) {
        i++;
    }
    return i;
}

static VpLabHostNet *
vp_host_net_add(VpLabHostState *h, const char *name, const VpLabNetwork *net,
                const VpNetworkDef *def)
{
    VpLabHostNet *hn = g_new0(VpLabHostNet, 1);
    const char *lab = h->run->plan->lab->lab;

    hn->name = g_strdup(name);
    hn->net = net;
    hn->def = def;
    hn->taken = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    if (net != NULL) {
        vp_lab_host_subnet(&net->cidr, vp_host_index(h->run, h), &hn->subnet);
    }
    if (def != NULL && def->record != NULL) {
        g_autoptr(VpLabNetRecord) rec = vp_lab_net_record_parse(def->record, NULL);
        g_autofree char *own = rec != NULL ? g_strdup_printf("%s-%s", lab, rec->key)
                                           : NULL;
        /* The record's lab and key, and the name they make: a record of
         * this lab on a network of another name is not this copy. */
        hn->ours = rec != NULL && strcmp(rec->lab, lab) == 0 &&
                   strcmp(own, name) == 0;
        if (hn->ours && net != NULL) {
            g_autofree char *hash = vp_net_hash(net, &hn->subnet);
            hn->drifted = strcmp(hash, rec->hash) != 0;
        }
    }
    /* What no new guest may be given: reservations and leases there. */
    for (guint i = 0; def != NULL && i < def->dhcp_hosts->len; i++) {
        const VpNetDhcpHost *d = g_ptr_array_index(def->dhcp_hosts, i);
        g_hash_table_insert(hn->taken, GUINT_TO_POINTER(d->ip),
                            g_strdup(d->name != NULL ? d->name : ""));
    }
    GPtrArray *leases = h->leases != NULL ? g_hash_table_lookup(h->leases, name)
                                          : NULL;
    for (guint i = 0; leases != NULL && i < leases->len; i++) {
        const VpNetLease *l = g_ptr_array_index(leases, i);
        if (!g_hash_table_contains(hn->taken, GUINT_TO_POINTER(l->ip))) {
            g_hash_table_insert(hn->taken, GUINT_TO_POINTER(l->ip), NULL);
        }
    }
    g_ptr_array_add(h->nets, hn);
    return hn;
}

VpLabHostNet *
vp_lab_host_net(const VpLabHostState *h, const char *name)
{
    for (guint i = 0; h->nets != NULL && i < h->nets->len; i++) {
        VpLabHostNet *hn = g_ptr_array_index(h->nets, i);
        if (strcmp(hn->name, name) == 0) {
            return hn;
        }
    }
    return NULL;
}

static const VpNetworkDef *
vp_find_def(const VpLabHostState *h, const char *name)
{
    for (guint i = 0; i < h->net_defs->len; i++) {
        const VpNetworkDef *d = g_ptr_array_index(h->net_defs, i);
        if (strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

void
vp_lab_find_networks(VpLabRun *run)
{
    const VpLab *lab = run->plan->lab;

    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (!h->report->reachable || h->net_defs == NULL) {
            continue;
        }
        h->nets = g_ptr_array_new_with_free_func(vp_lab_host_net_free);
        for (guint k = 0; k < lab->networks->len; k++) {
            const VpLabNetwork *n = g_ptr_array_index(lab->networks, k);
            vp_host_net_add(h, n->name, n, vp_find_def(h, n->name));
        }
        /* Copies of keys the manifest no longer has: the lab's to remove. */
        for (guint k = 0; k < h->net_defs->len; k++) {
            const VpNetworkDef *d = g_ptr_array_index(h->net_defs, k);
            if (vp_lab_host_net(h, d->name) == NULL && d->record != NULL) {
                VpLabHostNet *hn = vp_host_net_add(h, d->name, NULL, d);
                if (!hn->ours) {
                    g_ptr_array_remove(h->nets, hn);
                }
            }
        }
    }
}

const char *
vp_lab_net_drifted(const VpLabHostState *h, const VpLabRecord *rec)
{
    for (guint i = 0; i < rec->nics->len; i++) {
        const VpLabNic *nic = g_ptr_array_index(rec->nics, i);
        const VpLabHostNet *hn = vp_lab_host_net(h, nic->network);
        if (hn != NULL && hn->net != NULL && hn->drifted) {
            return hn->name;
        }
    }
    return NULL;
}

gboolean
vp_lab_plan_uses(const VpProvisionPlan *p, const char *name)
{
    for (guint i = 0; p->domain.nics != NULL && i < p->domain.nics->len; i++) {
        const VpNic *nic = g_ptr_array_index(p->domain.nics, i);
        if (nic->kind == VP_NET_NETWORK && g_strcmp0(nic->source, name) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/* The names of the domains of H the run removes (set, borrowed). */
static GHashTable *
vp_removed_here(const VpLabRun *run, const VpLabHostState *h)
{
    GHashTable *set = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < run->tasks->len; i++) {
        const VpLabTask *t = g_ptr_array_index(run->tasks, i);
        if (t->old_host == h && t->record != NULL &&
            g_hash_table_contains(run->busy, t->report)) {
            g_hash_table_add(set, t->report->name);
        }
    }
    return set;
}

/* Whether a guest of the lab uses HN on H after the run; *FOREIGN the
 * first domain that uses it and is not the lab's, NULL when none. */
static gboolean
vp_net_used(const VpLabHostState *h, const VpLabHostNet *hn, GHashTable *removed,
            const char **foreign)
{
    gboolean used = FALSE;
    GHashTable *users = g_hash_table_lookup(h->net_users, hn->name);
    GHashTableIter it;
    gpointer name;

    *foreign = NULL;
    for (guint i = 0; i < h->tasks->len; i++) {
        const VpLabTask *t = g_ptr_array_index(h->tasks, i);
        used = used || (t->plan != NULL && vp_lab_plan_uses(t->plan, hn->name));
    }
    if (users == NULL) {
        return used;
    }
    g_hash_table_iter_init(&it, users);
    while (g_hash_table_iter_next(&it, &name, NULL)) {
        if (!g_hash_table_contains(h->records, name)) {
            *foreign = name;
        } else if (!g_hash_table_contains(removed, name)) {
            used = TRUE;
        }
    }
    return used;
}

/* The network of H other than HN whose IPv4 subnet overlaps HN's /24,
 * into *SUBNET; NULL when none. */
static const VpNetworkDef *
vp_net_overlap(const VpLabHostState *h, const VpLabHostNet *hn, char **subnet)
{
    for (guint i = 0; i < h->net_defs->len; i++) {
        const VpNetworkDef *d = g_ptr_array_index(h->net_defs, i);
        for (guint k = 0; strcmp(d->name, hn->name) != 0 && k < d->ips->len; k++) {
            const VpNetIp *ip = g_ptr_array_index(d->ips, k);
            if (vp_ipv4_net_overlaps(&hn->subnet, &ip->net)) {
                g_autofree char *addr = vp_ipv4_format(ip->net.addr);
                *subnet = g_strdup_printf("%s/%u", addr, ip->net.prefix);
                return d;
            }
        }
    }
    return NULL;
}

/* The definition of HN's new copy on H: its record written in it. */
static char *
vp_net_xml(const VpLabHostState *h, const VpLabHostNet *hn)
{
    const VpLabNetwork *n = hn->net;
    g_autofree char *hash = vp_net_hash(n, &hn->subnet);
    VpLabNetRecord rec = { .lab = h->run->plan->lab->lab, .key = n->key,
                           .hash = hash };
    g_autofree char *record = vp_lab_net_record_to_xml(&rec);
    VpNetworkSpec spec = {
        .name = n->name,
        .forward = n->mode == VP_LAB_NET_ISOLATED ? NULL
                                                  : vp_lab_net_mode_to_string(n->mode),
        .subnet = hn->subnet,
        .domain = n->domain,
        .record = record,
    };
    return vp_network_xml_build(&spec);
}

/* HN's action on H when a guest of the lab uses it after the run. */
static void
vp_plan_needed(VpLabHostState *h, VpLabHostNet *hn, const char *foreign)
{
    const VpLabPlan *plan = h->run->plan;
    VpLabNetReport *r = hn->report;
    g_autofree char *other = NULL;
    const VpNetworkDef *o = NULL;

    if (hn->def != NULL && !hn->ours) {
        r->action = VP_LAB_CONFLICT;
        r->error = g_strdup_printf(_("network '%1$s' on host '%2$s' is not this lab's; rename the lab or remove that network"),
                                   hn->name, h->host->name);
    } else if ((hn->def == NULL || hn->drifted) &&
               (o = vp_net_overlap(h, hn, &other)) != NULL) {
        r->action = VP_LAB_CONFLICT;
        r->error = g_strdup_printf(_("its subnet %1$s overlaps network '%2$s' (%3$s) on host '%4$s'; choose another cidr"),
                                   r->subnet, o->name, other, h->host->name);
    } else if (hn->def == NULL) {
        r->action = VP_LAB_CREATE;
        hn->xml = vp_net_xml(h, hn);
    } else if (!hn->drifted) {
        r->action = VP_LAB_KEEP;
    } else if (plan->command == VP_LAB_APPLY && plan->replace && foreign == NULL) {
        r->action = VP_LAB_REPLACE;
        hn->remove = TRUE;
        hn->xml = vp_net_xml(h, hn);
    } else if (plan->replace && plan->command == VP_LAB_APPLY) {
        r->action = VP_LAB_CONFLICT;
        r->error = g_strdup_printf(_("domain '%1$s', not this lab's, uses it; detach it from network '%2$s' to replace the network"),
                                   foreign, hn->name);
    } else {
        r->action = VP_LAB_DRIFT;
        r->error = g_strdup_printf(_("its cidr, mode or domain changed since it was created; use %1$s to create it and its guests on host '%2$s' again"),
                                   vp_run_option(&plan->run, VP_OPTION_ERROR_REPLACE),
                                   h->host->name);
    }
}

/* HN's action on H when no guest of the lab uses it after the run; FALSE
 * when there is nothing to say (no copy of the lab's). */
static gboolean
vp_plan_unused(VpLabHostState *h, VpLabHostNet *hn, const char *foreign)
{
    const VpLabPlan *plan = h->run->plan;
    VpLabNetReport *r = hn->report;
    const char *prune = vp_run_option(&plan->run, VP_OPTION_ERROR_PRUNE);

    if (!hn->ours) {
        return FALSE;
    }
    if (plan->command != VP_LAB_DESTROY &&
        !(plan->command == VP_LAB_APPLY && plan->prune)) {
        r->action = VP_LAB_DRIFT;
        r->error = hn->net == NULL
            ? g_strdup_printf(_("not in the manifest; use %1$s to delete it"), prune)
            : g_strdup_printf(_("no guest of the lab uses it on host '%1$s'; use %2$s to delete it"),
                              h->host->name, prune);
    } else if (foreign != NULL) {
        r->action = VP_LAB_CONFLICT;
        r->error = g_strdup_printf(_("domain '%1$s', not this lab's, uses it; detach it from network '%2$s' to remove the network"),
                                   foreign, hn->name);
    } else {
        r->action = VP_LAB_DELETE;
        hn->remove = TRUE;
    }
    return TRUE;
}

/* Each copy's action on H, reported in RUN->result->networks. */
static void
vp_plan_host_nets(VpLabRun *run, VpLabHostState *h)
{
    g_autoptr(GHashTable) removed = vp_removed_here(run, h);

    for (guint i = 0; i < h->nets->len; i++) {
        VpLabHostNet *hn = g_ptr_array_index(h->nets, i);
        const char *foreign = NULL;
        gboolean used = vp_net_used(h, hn, removed, &foreign);
        VpLabNetReport *r = g_new0(VpLabNetReport, 1);

        r->name = g_strdup(hn->name);
        r->host = g_strdup(h->host->name);
        if (hn->net != NULL) {
            g_autofree char *addr = vp_ipv4_format(hn->subnet.addr);
            r->subnet = g_strdup_printf("%s/%u", addr, hn->subnet.prefix);
        }
        hn->report = r;
        hn->used = used && hn->net != NULL;
        if (hn->used) {
            vp_plan_needed(h, hn, foreign);
        } else if (!vp_plan_unused(h, hn, foreign)) {
            hn->report = NULL;
            vp_lab_net_report_free(r);
            continue;
        }
        g_ptr_array_add(run->result->networks, r);
    }
}

/* Takes task T out of the run: its guest ends as ACTION with ERROR
 * (taken), and nothing of it is done, not even the removal of its old
 * copy. */
static void
vp_drop_task(VpLabRun *run, VpLabTask *t, VpLabAction action, char *error)
{
    g_ptr_array_remove(t->host->tasks, t);
    g_hash_table_remove(run->busy, t->report);
    t->report->action = action;
    g_free(t->report->error);
    t->report->error = error;
}

/* Creates on H that would use a copy that cannot be used: conflict or
 * drift as the copy is. */
static void
vp_drop_unusable(VpLabRun *run, VpLabHostState *h)
{
    for (guint i = h->tasks->len; i-- > 0;) {
        VpLabTask *t = g_ptr_array_index(h->tasks, i);
        for (guint k = 0; t->plan != NULL && h->nets != NULL && k < h->nets->len; k++) {
            const VpLabHostNet *hn = g_ptr_array_index(h->nets, k);
            if (hn->report == NULL || !vp_lab_plan_uses(t->plan, hn->name) ||
                (hn->report->action != VP_LAB_CONFLICT &&
                 hn->report->action != VP_LAB_DRIFT)) {
                continue;
            }
            vp_drop_task(run, t, hn->report->action,
                         g_strdup_printf(_("lab network '%1$s' on host '%2$s': %3$s"),
                                         hn->name, h->host->name, hn->report->error));
            break;
        }
    }
}

/* REC's nic number INDEX on NETWORK, or NULL. */
static const VpLabNic *
vp_record_nic(const VpLabRecord *rec, guint index, const char *network)
{
    for (guint i = 0; rec != NULL && i < rec->nics->len; i++) {
        const VpLabNic *n = g_ptr_array_index(rec->nics, i);
        if (n->index == index && strcmp(n->network, network) == 0) {
            return n;
        }
    }
    return NULL;
}

/* Whether KEY of TAKEN (a map of what is held to its holder's name) is
 * free for GUEST: nobody holds it, or GUEST itself (its copy being
 * replaced). */
static gboolean
vp_free_for(GHashTable *taken, gconstpointer key, const char *guest)
{
    gpointer holder = NULL;

    return !g_hash_table_lookup_extended(taken, key, NULL, &holder) ||
           g_strcmp0(holder, guest) == 0;
}

/* NIC number K's MAC: as given, else its record's, else derived; held
 * on H for GUEST from now on.  FALSE when none is free. */
static gboolean
vp_plan_mac(VpLabHostState *h, const char *guest, guint k, VpNic *nic,
            const VpLabNic *old)
{
    if (nic->mac == NULL && old != NULL && vp_free_for(h->macs, old->mac, guest)) {
        nic->mac = g_strdup(old->mac);
    }
    if (nic->mac == NULL) {
        /* The derivation skips MACs of the host's domains and of the
         * guests planned before, but not this guest's own old copy's. */
        g_autoptr(GHashTable) others = g_hash_table_new(g_str_hash, g_str_equal);
        GHashTableIter it;
        gpointer mac, holder;
        g_hash_table_iter_init(&it, h->macs);
        while (g_hash_table_iter_next(&it, &mac, &holder)) {
            if (g_strcmp0(holder, guest) != 0) {
                g_hash_table_add(others, mac);
            }
        }
        nic->mac = vp_lab_pick_mac(h->run->plan->lab->lab, guest, k, others);
        if (nic->mac == NULL) {
            return FALSE;
        }
    }
    g_hash_table_insert(h->macs, g_ascii_strdown(nic->mac, -1), g_strdup(guest));
    return TRUE;
}

/* NIC number K's address on lab network HN: as given, else its record's
 * while it is free and in the reserved part of the /24, else a stable
 * choice there.  NULL with *ERROR when none can be. */
static char *
vp_plan_address(VpLabHostNet *hn, const char *lab, const char *guest, guint k,
                const VpNic *nic, const VpLabNic *old, char **error)
{
    guint32 first = hn->subnet.addr + VP_LAB_NET_RESERVED_FIRST;
    guint32 last = hn->subnet.addr + VP_LAB_NET_RESERVED_LAST;
    guint32 addr;

    if (nic->ip != NULL) {
        /* The manifest put it in the host's /24; the host may hold it. */
        if (vp_ipv4_parse(nic->ip, &addr) &&
            vp_free_for(hn->taken, GUINT_TO_POINTER(addr), guest)) {
            return g_strdup(nic->ip);
        }
        const char *holder = g_hash_table_lookup(hn->taken, GUINT_TO_POINTER(addr));
        *error = holder != NULL
            ? g_strdup_printf(_("the address %1$s is taken in network '%2$s' (by '%3$s'); choose another"),
                              nic->ip, hn->name, holder)
            : g_strdup_printf(_("the address %1$s is leased in network '%2$s'; choose another"),
                              nic->ip, hn->name);
        return NULL;
    }
    if (old != NULL && old->ip != NULL && vp_ipv4_parse(old->ip, &addr) &&
        addr >= first && addr <= last &&
        vp_free_for(hn->taken, GUINT_TO_POINTER(addr), guest)) {
        return g_strdup(old->ip);
    }
    g_autoptr(GHashTable) others = g_hash_table_new(NULL, NULL);
    GHashTableIter it;
    gpointer key, holder;
    g_hash_table_iter_init(&it, hn->taken);
    while (g_hash_table_iter_next(&it, &key, &holder)) {
        if (g_strcmp0(holder, guest) != 0) {
            g_hash_table_add(others, key);
        }
    }
    if (!vp_lab_pick_address(lab, guest, k, first, last, others, &addr)) {
        *error = g_strdup_printf(_("no address is free in the reserved part of network '%1$s'; remove guests from it"),
                                 hn->name);
        return NULL;
    }
    return vp_ipv4_format(addr);
}

/* The MAC and address of each NIC of create T on a lab network or with
 * a fixed address, into its plan and its record.  FALSE, with *ERROR,
 * when one cannot be given: the guest fails before anything is made. */
static gboolean
vp_plan_identity(VpLabRun *run, VpLabTask *t, VpLabAction *action, char **error)
{
    VpLabHostState *h = t->host;
    const char *guest = t->report->name;
    GPtrArray *nics = t->plan->domain.nics;

    for (guint k = 0; nics != NULL && k < nics->len; k++) {
        VpNic *nic = g_ptr_array_index(nics, k);
        VpLabHostNet *hn = nic->kind == VP_NET_NETWORK
                               ? vp_lab_host_net(h, nic->source) : NULL;
        if (hn != NULL && hn->net == NULL) {
            hn = NULL;
        }
        if (hn == NULL && nic->ip == NULL) {
            continue;
        }
        const VpLabNic *old = vp_record_nic(t->record, k, nic->source);
        if (!vp_plan_mac(h, guest, k, nic, old)) {
            *action = VP_LAB_FAILED;
            *error = g_strdup_printf(_("no MAC derived for NIC %1$u is free on host '%2$s'; set one with mac="),
                                     k, h->host->name);
            return FALSE;
        }
        if (hn != NULL) {
            char *ip = vp_plan_address(hn, run->plan->lab->lab, guest, k, nic, old,
                                       error);
            guint32 addr;
            if (ip == NULL) {
                *action = VP_LAB_CONFLICT;
                return FALSE;
            }
            g_free(nic->ip);
            nic->ip = ip;
            nic->lab_dns = TRUE;
            vp_ipv4_parse(ip, &addr);
            g_hash_table_insert(hn->taken, GUINT_TO_POINTER(addr), g_strdup(guest));
        }
        VpLabNic rec = { .index = k, .network = nic->source, .mac = nic->mac,
                         .ip = nic->ip, .dhcp = TRUE, .dns = hn == NULL };
        vp_lab_record_add_nic(t->new_record, &rec);
    }
    return TRUE;
}

void
vp_lab_plan_networks(VpLabRun *run)
{
    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (h->nets == NULL) {
            continue;
        }
        vp_plan_host_nets(run, h);
        vp_drop_unusable(run, h);
    }
    /* Identity in manifest order, so that a guest keeps what it was given
     * however the hosts answered. */
    for (guint i = 0; i < run->tasks->len; i++) {
        VpLabTask *t = g_ptr_array_index(run->tasks, i);
        VpLabAction action;
        char *error = NULL;
        if (t->plan == NULL || t->host->macs == NULL ||
            !g_hash_table_contains(run->busy, t->report)) {
            continue;
        }
        if (!vp_plan_identity(run, t, &action, &error)) {
            vp_drop_task(run, t, action, error);
        }
    }
}

gboolean
vp_lab_host_nets_busy(const VpLabHostState *h)
{
    for (guint i = 0; h->nets != NULL && i < h->nets->len; i++) {
        const VpLabHostNet *hn = g_ptr_array_index(h->nets, i);
        if (hn->report != NULL && (hn->remove || hn->xml != NULL ||
                                   hn->report->action == VP_LAB_KEEP)) {
            return TRUE;
        }
    }
    return FALSE;
}

gboolean
vp_lab_host_nets_remove(const VpLabHostState *h)
{
    for (guint i = 0; h->nets != NULL && i < h->nets->len; i++) {
        const VpLabHostNet *hn = g_ptr_array_index(h->nets, i);
        if (hn->report != NULL && hn->remove) {
            return TRUE;
        }
    }
    return FALSE;
}
