/* apply, status and destroy of a lab: read every host's records in
 * parallel, plan in one place, then act per host in parallel.
 *
 * The order of a run:
 *   1. every guest's options hash (the manifest's files are read here, so
 *      a missing one stops the run before any host is contacted);
 *   2. a bounded set of threads reads the hosts: each connects, lists the
 *      host's domains with their records and what tells its daemon apart;
 *      two hosts of the manifest that are one daemon stop the run here;
 *   3. the plan, in manifest order, on this thread alone: placement needs
 *      every host's count, and a conflict every host's names;
 *   4. a bounded set of threads runs the hosts' work, each host's guests
 *      through up to JOBS threads sharing the host's one connection (the
 *      lab's networks of a host made before its guests);
 *   5. the names of every guest on every copy of the lab's networks.
 *
 * Nothing is deleted on a record's word alone: a removal proves, against
 * what the host says just before, that each volume is the guest's own
 * (lab-proof.h), and acts on the domain by its UUID. */
#include "lab.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <glib/gi18n.h>

#include "content-digest.h"
#include "error.h"
#include "lab-private.h"
#include "workflow.h"

/* Threads a run may use at most, over all hosts: hundreds of hosts times
 * JOBS guests each would exhaust the process limit, and a thread that
 * cannot be created aborts GLib's g_thread_new. */
#define VP_LAB_MAX_THREADS 256
/* Hosts read, or worked on, at once. */
#define VP_LAB_HOST_WORKERS 32

static const char *const vp_lab_actions[] = {
    [VP_LAB_CREATE] = "create",     [VP_LAB_KEEP] = "keep",
    [VP_LAB_REPLACE] = "replace",   [VP_LAB_DELETE] = "delete",
    [VP_LAB_DRIFT] = "drift",       [VP_LAB_CONFLICT] = "conflict",
    [VP_LAB_FAILED] = "failed",
};

const char *
vp_lab_action_to_string(VpLabAction action)
{
    return vp_lab_actions[action];
}

static void
vp_lab_host_report_free(gpointer data)
{
    VpLabHostReport *h = data;

    g_free(h->name);
    g_free(h->uri);
    g_free(h->error);
    g_free(h);
}

static void
vp_lab_guest_report_free(gpointer data)
{
    VpLabGuestReport *g = data;

    g_free(g->name);
    g_free(g->entry);
    g_free(g->host);
    g_free(g->error);
    g_free(g->note);
    g_free(g->uuid);
    g_clear_pointer(&g->volumes, g_ptr_array_unref);
    vp_provision_result_clear(&g->result);
    g_clear_pointer(&g->addresses, g_ptr_array_unref);
    g_clear_pointer(&g->nics, g_ptr_array_unref);
    g_free(g);
}

void
vp_lab_net_report_free(gpointer data)
{
    VpLabNetReport *n = data;

    g_free(n->name);
    g_free(n->host);
    g_free(n->subnet);
    g_free(n->error);
    g_free(n);
}

void
vp_lab_result_clear(VpLabResult *r)
{
    g_free(r->lab);
    g_clear_pointer(&r->hosts, g_ptr_array_unref);
    g_clear_pointer(&r->guests, g_ptr_array_unref);
    g_clear_pointer(&r->networks, g_ptr_array_unref);
    *r = (VpLabResult){ 0 };
}

static void
vp_lab_task_free(gpointer data)
{
    VpLabTask *t = data;

    g_free(t->metadata_first);
    g_free(t->metadata);
    g_clear_pointer(&t->volumes, g_ptr_array_unref);
    vp_lab_record_free(t->new_record);
    g_free(t->base);
    g_clear_error(&t->prepare_error);
    g_free(t);
}

static void
vp_lab_host_state_free(gpointer data)
{
    VpLabHostState *h = data;

    g_clear_pointer(&h->tasks, g_ptr_array_unref);
    g_free(h->hostname);
    g_clear_pointer(&h->ids, g_ptr_array_unref);
    g_clear_pointer(&h->nets, g_ptr_array_unref);
    g_clear_pointer(&h->net_defs, g_ptr_array_unref);
    g_clear_pointer(&h->macs, g_hash_table_unref);
    g_clear_pointer(&h->net_users, g_hash_table_unref);
    g_clear_pointer(&h->leases, g_hash_table_unref);
    g_clear_pointer(&h->missing, g_hash_table_unref);
    g_clear_pointer(&h->users, g_hash_table_unref);
    g_clear_pointer(&h->backing, g_hash_table_unref);
    g_clear_pointer(&h->backing_pools, g_hash_table_unref);
    g_mutex_clear(&h->view_lock);
    g_clear_pointer(&h->records, g_hash_table_unref);
    g_clear_pointer(&h->by_name, g_hash_table_unref);
    g_clear_pointer(&h->domains, g_ptr_array_unref);
    g_clear_pointer(&h->virt, vp_virt_free);
    g_free(h);
}

void
vp_lab_report(VpLabRun *run, const VpLabGuestReport *g)
{
    if (run->plan->report == NULL) {
        return;
    }
    g_mutex_lock(&run->report_lock);
    run->plan->report(g, run->result->guests->len, run->plan->report_data);
    g_mutex_unlock(&run->report_lock);
}

/* Signals are the main thread's, which turns them into the cancel every
 * worker polls (as libvirt's event thread does in virt-connect.c). */
static void
vp_lab_block_signals(void)
{
    sigset_t all;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}


typedef struct {
    GPtrArray *items;
    gint next;
    VpLabWorkFunc fn;
    gpointer data;
} VpLabQueue;

static void
vp_lab_drain(VpLabQueue *q)
{
    for (;;) {
        guint i = (guint)g_atomic_int_add(&q->next, 1);
        if (i >= q->items->len) {
            return;
        }
        q->fn(g_ptr_array_index(q->items, i), q->data);
    }
}

static gpointer
vp_lab_worker(gpointer data)
{
    vp_lab_block_signals();
    vp_lab_drain(data);
    return NULL;
}

/* Items are taken in order from one queue: whichever worker is free. */
void
vp_lab_parallel(GPtrArray *items, guint workers, VpLabWorkFunc fn,
                gpointer data)
{
    VpLabQueue q = { .items = items, .fn = fn, .data = data };
    guint n = MIN(MAX(workers, 1), items->len);
    g_autofree GThread **threads = g_new0(GThread *, MAX(n, 1));
    guint started = 0;

    while (started < n) {
        GThread *t = g_thread_try_new("vp-lab", vp_lab_worker, &q, NULL);
        if (t == NULL) {
            break;
        }
        threads[started++] = t;
    }
    /* No thread at all: the work is still done, one item at a time.  With
     * some, they share the queue and the rest waits its turn. */
    if (started == 0) {
        vp_lab_drain(&q);
    }
    for (guint i = 0; i < started; i++) {
        g_thread_join(threads[i]);
    }
}

/* The addresses G's record reserves for it (VpAddress *, the interface
 * named by its network), with the prefix of that network on H when it
 * was read, else a lab network's /24. */
static GPtrArray *
vp_lab_reserved(const VpLabHostState *h, const VpLabGuestReport *g)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vp_address_free);

    for (guint i = 0; g->nics != NULL && i < g->nics->len; i++) {
        const VpLabNic *nic = g_ptr_array_index(g->nics, i);
        guint32 addr;
        if (nic->ip == NULL || !nic->dhcp || !vp_ipv4_parse(nic->ip, &addr)) {
            continue;
        }
        VpAddress *a = g_new0(VpAddress, 1);
        a->interface = g_strdup(nic->network);
        a->address = g_strdup(nic->ip);
        a->prefix = 24;
        for (guint k = 0; h->net_defs != NULL && k < h->net_defs->len; k++) {
            const VpNetworkDef *d = g_ptr_array_index(h->net_defs, k);
            const VpNetIp *ip = strcmp(d->name, nic->network) == 0
                                    ? vp_network_def_ip_for(d, addr) : NULL;
            a->prefix = ip != NULL ? ip->net.prefix : a->prefix;
        }
        g_ptr_array_add(out, a);
    }
    return out;
}

/* status --addresses: of running guests, their reservations and leases
 * first, their agents' answers last; a guest with none of them has none,
 * which is no failure. */
static void
vp_lab_fill_addresses(VpLabRun *run)
{
    for (guint i = 0; i < run->result->guests->len; i++) {
        VpLabGuestReport *g = g_ptr_array_index(run->result->guests, i);
        VpLabHostState *h = g->host != NULL ? vp_lab_host_by_name(run, g->host)
                                            : NULL;
        if (g->exists && g->active && h != NULL && h->virt != NULL) {
            g_autoptr(GPtrArray) reserved = vp_lab_reserved(h, g);
            g->addresses = vp_workflow_guest_addresses(h->virt, g->name, reserved,
                                                       NULL);
        }
    }
}

/* Guest I's options hash into *HASH, and its seed's files checked (provision
 * would only find a bad user-data once on the host), with a stand-in
 * instance-id: the real one is the UUID each guest gets.  The files are
 * read here once for every guest, of this entry or a later one, that names
 * the same: provision's threads then make each seed from those bytes. */
static gboolean
vp_lab_check_entry(const VpLabPlan *plan, guint i, char **hash, GError **error)
{
    const VpLab *lab = plan->lab;
    const VpLabGuest *lg = g_ptr_array_index(lab->guests, i);
    const VpProvisionPlan *p = g_ptr_array_index(plan->plans, i);
    g_autoptr(GError) local = NULL;

    *hash = vp_lab_guest_options_hash(lg, error);
    if (*hash == NULL) {
        return FALSE;
    }
    if (p->cloud_init == NULL) {
        return TRUE;
    }
    if (lg->cloud_init->files == NULL) {
        g_autoptr(VpSeedFiles) files = vp_seed_files_load(lg->cloud_init,
                                                          &local);
        for (guint j = i; files != NULL && j < lab->guests->len; j++) {
            VpLabGuest *other = g_ptr_array_index(lab->guests, j);
            if (other->cloud_init != NULL && other->cloud_init->files == NULL &&
                vp_seed_options_same_files(other->cloud_init, lg->cloud_init)) {
                other->cloud_init->files = vp_seed_files_ref(files);
            }
        }
    }
    g_autoptr(VpSeed) seed = local != NULL ? NULL
        : vp_seed_load(p->cloud_init, lg->name,
                       "00000000-0000-0000-0000-000000000000", &local);
    if (seed == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s:%2$u:%3$u: guest '%4$s': %5$s"), lab->path, lg->line,
                    lg->column, lg->name, local->message);
        return FALSE;
    }
    return TRUE;
}

/* The content digest of every local base file the manifest names, once
 * per file, into RUN->digests: what names its volume on every host. */
static gboolean
vp_lab_take_digests(VpLabRun *run, GError **error)
{
    const VpLab *lab = run->plan->lab;

    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *lg = g_ptr_array_index(lab->guests, i);
        const VpProvisionPlan *p = g_ptr_array_index(run->plan->plans, i);
        if (!vp_lab_base_is_file(p->base)) {
            continue;
        }
        g_autofree char *path = vp_lab_base_path(run, p->base);
        g_autoptr(GError) local = NULL;
        if (g_hash_table_contains(run->digests, path)) {
            continue;
        }
        char *digest = vp_content_digest(path, run->plan->run.cancel, &local);
        if (digest == NULL) {
            g_set_error(error, VP_ERROR, local->code == VP_ERROR_CANCELLED
                                             ? VP_ERROR_CANCELLED
                                             : VP_ERROR_INVALID,
                        _("%1$s:%2$u:%3$u: guest '%4$s': base: %5$s"), lab->path,
                        lg->line, lg->column, lg->name, local->message);
            return FALSE;
        }
        g_hash_table_insert(run->digests, g_steal_pointer(&path), digest);
    }
    return TRUE;
}

/* 1. Every entry's options hash, its files checked: before any host.  The
 * guests of one entry (count: N) are consecutive and share their options,
 * so each entry's files are read and checked once. */
static gboolean
vp_lab_hashes(const VpLabPlan *plan, GStrv hashes, GError **error)
{
    const VpLab *lab = plan->lab;

    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *lg = g_ptr_array_index(lab->guests, i);
        const VpLabGuest *prev = i > 0 ? g_ptr_array_index(lab->guests, i - 1) : NULL;
        if (prev != NULL && strcmp(prev->manifest_name, lg->manifest_name) == 0) {
            hashes[i] = g_strdup(hashes[i - 1]);
            continue;
        }
        if (!vp_lab_check_entry(plan, i, &hashes[i], error)) {
            return FALSE;
        }
    }
    return TRUE;
}

static VpLabHostState *
vp_lab_host_state_new(VpLabRun *run, const VpLabHost *host)
{
    VpLabHostState *h = g_new0(VpLabHostState, 1);

    h->run = run;
    h->host = host;
    h->report = g_new0(VpLabHostReport, 1);
    h->report->name = g_strdup(host->name);
    h->report->uri = g_strdup(host->uri);
    h->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    h->records = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify)vp_lab_record_free);
    h->missing = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    h->tasks = g_ptr_array_new();
    g_mutex_init(&h->view_lock);
    return h;
}

gboolean
vp_lab_plan_acts(const VpLabPlan *plan)
{
    return plan->command == VP_LAB_DESTROY ||
           (plan->command == VP_LAB_APPLY && !plan->dry_run);
}

void
vp_lab_run_clear(VpLabRun *run)
{
    g_hash_table_unref(run->digests);
    g_hash_table_unref(run->busy);
    g_hash_table_unref(run->owners);
    g_hash_table_unref(run->listed);
    g_ptr_array_unref(run->tasks);
    g_ptr_array_unref(run->hosts);
    g_mutex_clear(&run->report_lock);
}

void
vp_lab_run_init(VpLabRun *run, const VpLabPlan *plan, VpLabResult *r)
{
    const VpLab *lab = plan->lab;

    *run = (VpLabRun){ .plan = plan, .result = r };
    g_mutex_init(&run->report_lock);
    run->hosts = g_ptr_array_new_with_free_func(vp_lab_host_state_free);
    run->tasks = g_ptr_array_new_with_free_func(vp_lab_task_free);
    run->listed = g_hash_table_new(g_str_hash, g_str_equal);
    run->owners = g_hash_table_new(g_str_hash, g_str_equal);
    run->busy = g_hash_table_new(NULL, NULL);
    run->digests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    r->lab = g_strdup(lab->lab);
    r->hosts = g_ptr_array_new_with_free_func(vp_lab_host_report_free);
    r->guests = g_ptr_array_new_with_free_func(vp_lab_guest_report_free);
    r->networks = g_ptr_array_new_with_free_func(vp_lab_net_report_free);
    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *lg = g_ptr_array_index(lab->guests, i);
        g_hash_table_insert(run->listed, lg->name, (gpointer)lg);
    }
    for (guint i = 0; i < lab->hosts->len; i++) {
        VpLabHostState *h = vp_lab_host_state_new(run, g_ptr_array_index(lab->hosts, i));
        g_ptr_array_add(r->hosts, h->report);
        g_ptr_array_add(run->hosts, h);
    }
}

gboolean
vp_lab_run(const VpLabPlan *plan, VpLabResult *r, GError **error)
{
    const VpLab *lab = plan->lab;
    g_auto(GStrv) hashes = g_new0(char *, lab->guests->len + 1);
    gboolean act = vp_lab_plan_acts(plan);
    /* Hosts worked on at once: each runs up to JOBS threads of its own. */
    guint host_workers = CLAMP(VP_LAB_MAX_THREADS / MAX(plan->jobs, 1), 1,
                               VP_LAB_HOST_WORKERS);

    *r = (VpLabResult){ 0 };
    g_assert(plan->plans->len == lab->guests->len);
    vp_xml_init();
    /* libvirt's own thread before ours: a process limit reached by the
     * workers must not leave it unmade. */
    if (!vp_lab_hashes(plan, hashes, error) || !vp_virt_init(error)) {
        return FALSE;
    }
    VpLabRun run;
    vp_lab_run_init(&run, plan, r);
    /* The bases' digests too, when they will be uploaded: before any host. */
    if (act && plan->command == VP_LAB_APPLY && !vp_lab_take_digests(&run, error)) {
        vp_lab_run_clear(&run);
        return FALSE;
    }

    /* 2. The hosts at once, as far as threads go: an unreachable one
     * costs its timeout once. */
    for (guint i = 0; i < run.hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run.hosts, i);
        vp_workflow_step(&plan->run, _("reading host '%1$s' (%2$s)"),
                         h->host->name, h->host->uri);
    }
    vp_lab_parallel(run.hosts, VP_LAB_HOST_WORKERS, vp_lab_read_host, NULL);
    if (!vp_lab_check_identity(&run, error)) {
        vp_lab_run_clear(&run);
        return FALSE;
    }

    vp_lab_plan_all(&run, hashes, act);

    /* 4. The hosts' work, each host with its own workers. */
    if (act) {
        g_autoptr(GPtrArray) busy_hosts = g_ptr_array_new();
        for (guint i = 0; i < run.hosts->len; i++) {
            VpLabHostState *h = g_ptr_array_index(run.hosts, i);
            if (h->tasks->len > 0 || vp_lab_host_nets_busy(h)) {
                g_ptr_array_add(busy_hosts, h);
            }
        }
        vp_lab_parallel(busy_hosts, host_workers, vp_lab_run_host, NULL);
        /* 5. Every guest's name on every copy of the lab's networks. */
        if (vp_lab_wants_networks(&run)) {
            vp_lab_sync_dns(&run);
        }
    }
    if (plan->command == VP_LAB_STATUS && plan->addresses) {
        vp_lab_fill_addresses(&run);
    }
    r->interrupted = !vp_cancel_check(plan->run.cancel, NULL);
    vp_lab_run_clear(&run);
    return TRUE;
}

gboolean
vp_lab_result_ok(const VpLabPlan *plan, const VpLabResult *r, guint *guests,
                 guint *hosts)
{
    *guests = *hosts = 0;
    for (guint i = 0; i < r->hosts->len; i++) {
        const VpLabHostReport *h = g_ptr_array_index(r->hosts, i);
        *hosts += !h->reachable;
    }
    for (guint i = 0; i < r->guests->len + r->networks->len; i++) {
        const VpLabGuestReport *g = i < r->guests->len ? g_ptr_array_index(r->guests, i)
                                                       : NULL;
        const VpLabNetReport *n = g == NULL
            ? g_ptr_array_index(r->networks, i - r->guests->len) : NULL;
        switch (g != NULL ? g->action : n->action) {
        case VP_LAB_KEEP:
            break;
        /* For status, anything to do means the lab is not as written. */
        case VP_LAB_CREATE:
        case VP_LAB_REPLACE:
        case VP_LAB_DELETE:
            *guests += plan->command == VP_LAB_STATUS;
            break;
        default:
            (*guests)++;
        }
    }
    return *guests == 0 && *hosts == 0 && !r->interrupted;
}
