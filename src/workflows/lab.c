/* apply, status and destroy of a lab: read every host's records in
 * parallel, plan in one place, then act per host in parallel.
 *
 * The order of a run:
 *   1. every guest's options hash (the manifest's files are read here, so
 *      a missing one stops the run before any host is contacted);
 *   2. one thread per host connects and lists the host's domains with
 *      their records;
 *   3. the plan, in manifest order, on this thread alone: placement needs
 *      every host's count, and a conflict every host's names;
 *   4. one thread per host runs that host's work through a pool of JOBS
 *      threads sharing the host's one connection. */
#include "lab.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "import.h"
#include "workflow.h"

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
    g_free(g->uuid);
    g_clear_pointer(&g->volumes, g_ptr_array_unref);
    vp_provision_result_clear(&g->result);
    g_clear_pointer(&g->addresses, g_ptr_array_unref);
    g_free(g);
}

void
vp_lab_result_clear(VpLabResult *r)
{
    g_free(r->lab);
    g_clear_pointer(&r->hosts, g_ptr_array_unref);
    g_clear_pointer(&r->guests, g_ptr_array_unref);
    *r = (VpLabResult){ 0 };
}

/* ---- the state of a run ------------------------------------------------ */

typedef struct VpLabRun VpLabRun;

typedef struct {
    VpLabRun *run;
    const VpLabHost *host;
    VpLabHostReport *report;
    VpVirt *virt;            /* NULL when unreachable */
    GPtrArray *domains;      /* VpDomainEntry * */
    GHashTable *by_name;     /* name -> VpDomainEntry * (borrowed) */
    GHashTable *records;     /* name -> VpLabRecord *: this lab's guests */
    guint count;             /* this lab's guests here, planned ones too */
    GPtrArray *tasks;        /* VpLabTask *, in the order they run */
    GThread *thread;
} VpLabHostState;

/* One guest's work on one host. */
typedef struct {
    VpLabHostState *host;    /* where it runs (a create's host) */
    VpLabGuestReport *report;
    /* What to remove first: the guest on OLD_HOST as RECORD names it
     * (delete and replace); NULL for a create. */
    VpLabHostState *old_host;
    const VpLabRecord *record;
    /* What to create (create and replace); NULL for a delete. */
    VpProvisionPlan *plan;
    char *metadata_first;
    char *metadata;
    GPtrArray *volumes;      /* VpLabVolume * of the records a create writes */
    char *base;              /* the base volume a local base file became */
    GError *prepare_error;   /* why the host could not prepare for it */
} VpLabTask;

struct VpLabRun {
    const VpLabPlan *plan;
    VpLabResult *result;
    GPtrArray *hosts;        /* VpLabHostState *, in manifest order */
    GPtrArray *tasks;        /* VpLabTask *, owning */
    GHashTable *listed;      /* guest name -> VpLabGuest * of the manifest */
    GHashTable *busy;        /* the VpLabGuestReport * that have a task */
    GMutex report_lock;
};

static void
vp_lab_task_free(gpointer data)
{
    VpLabTask *t = data;

    g_free(t->metadata_first);
    g_free(t->metadata);
    g_clear_pointer(&t->volumes, g_ptr_array_unref);
    g_free(t->base);
    g_clear_error(&t->prepare_error);
    g_free(t);
}

static void
vp_lab_host_state_free(gpointer data)
{
    VpLabHostState *h = data;

    g_clear_pointer(&h->tasks, g_ptr_array_unref);
    g_clear_pointer(&h->records, g_hash_table_unref);
    g_clear_pointer(&h->by_name, g_hash_table_unref);
    g_clear_pointer(&h->domains, g_ptr_array_unref);
    g_clear_pointer(&h->virt, vp_virt_free);
    g_free(h);
}

static void
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

/* ---- 2. reading the hosts ---------------------------------------------- */

/* Connects to H and reads its domains and this lab's records.  A host that
 * fails here is unreachable for the whole run: nothing is planned there. */
static gpointer
vp_lab_read_host(gpointer data)
{
    VpLabHostState *h = data;
    g_autoptr(GError) error = NULL;
    const char *lab = h->run->plan->lab->lab;

    vp_lab_block_signals();
    /* A dry run reads, and the daemon makes sure it only reads. */
    h->virt = h->run->plan->command == VP_LAB_APPLY && h->run->plan->dry_run
                  ? vp_virt_connect_readonly(h->host->uri, &error)
                  : vp_virt_connect(h->host->uri, &error);
    if (h->virt != NULL) {
        h->domains = vp_virt_domain_list(h->virt, VP_LAB_RECORD_NS, &error);
    }
    if (h->domains == NULL) {
        h->report->error = g_strdup(error->message);
        g_clear_pointer(&h->virt, vp_virt_free);
        return NULL;
    }
    h->report->reachable = TRUE;
    for (guint i = 0; i < h->domains->len; i++) {
        VpDomainEntry *e = g_ptr_array_index(h->domains, i);
        g_hash_table_insert(h->by_name, e->name, e);
        if (e->metadata == NULL) {
            continue;
        }
        /* A record that does not parse is nobody's: the domain counts as
         * foreign, and is never touched. */
        VpLabRecord *rec = vp_lab_record_parse(e->metadata, NULL);
        if (rec != NULL && g_strcmp0(rec->lab, lab) == 0) {
            g_hash_table_insert(h->records, e->name, rec);
            h->count++;
        } else {
            vp_lab_record_free(rec);
        }
    }
    return NULL;
}

/* ---- 3. the plan ------------------------------------------------------- */

static VpLabHostState *
vp_lab_host_by_name(VpLabRun *run, const char *name)
{
    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (strcmp(h->host->name, name) == 0) {
            return h;
        }
    }
    return NULL;
}

static VpLabGuestReport *
vp_lab_new_report(VpLabRun *run, const char *name, const char *entry)
{
    VpLabGuestReport *g = g_new0(VpLabGuestReport, 1);

    g->name = g_strdup(name);
    g->entry = g_strdup(entry);
    g_ptr_array_add(run->result->guests, g);
    return g;
}

/* What the report says of a guest that exists on H as ENTRY with REC. */
static void
vp_lab_report_existing(VpLabGuestReport *g, VpLabHostState *h,
                       const VpLabRecord *rec)
{
    const VpDomainEntry *e = g_hash_table_lookup(h->by_name, g->name);

    g_free(g->host);
    g->host = g_strdup(h->host->name);
    g->exists = TRUE;
    g->uuid = g_strdup(e->uuid);
    g->active = e->active;
    g_clear_pointer(&g->volumes, g_ptr_array_unref);
    g->volumes = g_ptr_array_ref(rec->volumes);
}

static VpLabTask *
vp_lab_add_task(VpLabRun *run, VpLabHostState *h, VpLabGuestReport *g)
{
    VpLabTask *t = g_new0(VpLabTask, 1);

    t->host = h;
    t->report = g;
    g_ptr_array_add(run->tasks, t);
    g_ptr_array_add(h->tasks, t);
    g_hash_table_add(run->busy, g);
    return t;
}

static void
vp_lab_fail_unreachable(VpLabGuestReport *g, const char *host)
{
    g->action = VP_LAB_FAILED;
    g->error = g_strdup_printf(_("host '%1$s' is unreachable"), host);
}

static void
vp_lab_conflict(VpLabGuestReport *g, const VpLabHostState *taken)
{
    g_free(g->host);
    g->host = g_strdup(taken->host->name);
    g->action = VP_LAB_CONFLICT;
    g->error = g_strdup_printf(_("domain '%1$s' on host '%2$s' is not this "
                                 "lab's; rename the guest or remove the "
                                 "domain"), g->name, taken->host->name);
}

/* The host an unplaced guest goes to: its pin, else the reachable host
 * with the fewest of this lab's guests, the first in the manifest on a
 * tie.  NULL with G failed when there is none. */
static VpLabHostState *
vp_lab_place(VpLabRun *run, const VpLabGuest *lg, VpLabGuestReport *g)
{
    if (lg->host != NULL) {
        VpLabHostState *h = vp_lab_host_by_name(run, lg->host);
        g->host = g_strdup(lg->host);
        if (h->virt == NULL) {
            vp_lab_fail_unreachable(g, lg->host);
            return NULL;
        }
        return h;
    }
    /* A host that cannot be read may hold this guest already, placed there
     * by an earlier apply: made elsewhere now, it would exist twice once
     * the host is back.  A placed guest never moves, so it waits. */
    VpLabHostState *best = NULL;
    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (h->virt == NULL) {
            g->action = VP_LAB_FAILED;
            g->error = g_strdup_printf(_("not found on the reachable hosts, and "
                                         "host '%1$s' is unreachable and may hold "
                                         "it; apply again once it is back, or pin "
                                         "the guest with host:"), h->host->name);
            return NULL;
        }
        if (best == NULL || h->count < best->count) {
            best = h;
        }
    }
    if (best == NULL) {
        g->action = VP_LAB_FAILED;
        g->error = g_strdup(_("no host of the lab is reachable"));
        return NULL;
    }
    g->host = g_strdup(best->host->name);
    return best;
}

/* A reachable host (ONLY, or any when NULL) where NAME belongs to a domain
 * the lab does not own.  An unpinned guest checks them all: guest names
 * are the lab's across its hosts (an inventory and ssh know guests by name
 * alone). */
static VpLabHostState *
vp_lab_name_taken(VpLabRun *run, const char *name, VpLabHostState *only)
{
    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (h->virt == NULL || (only != NULL && h != only)) {
            continue;
        }
        if (g_hash_table_contains(h->by_name, name) &&
            !g_hash_table_contains(h->records, name)) {
            return h;
        }
    }
    return NULL;
}

/* The first reachable host holding this lab's guest NAME, and through
 * *REC its record. */
static VpLabHostState *
vp_lab_owner(VpLabRun *run, const char *name, const VpLabRecord **rec)
{
    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        *rec = g_hash_table_lookup(h->records, name);
        if (*rec != NULL) {
            return h;
        }
    }
    return NULL;
}

/* How an owned guest differs from its manifest entry. */
typedef enum {
    VP_LAB_SAME,
    VP_LAB_INCOMPLETE, /* its creation never finished */
    VP_LAB_MOVED,      /* pinned to another host than its own */
    VP_LAB_CHANGED,    /* its options (or entry) changed */
} VpLabDiff;

static VpLabDiff
vp_lab_difference(const VpLabGuest *lg, const char *hash, VpLabHostState *h,
                  const VpLabRecord *rec)
{
    if (!rec->complete) {
        return VP_LAB_INCOMPLETE;
    }
    if (lg->host != NULL && strcmp(lg->host, h->host->name) != 0) {
        return VP_LAB_MOVED;
    }
    if (strcmp(rec->hash, hash) != 0 || strcmp(rec->entry, lg->manifest_name) != 0) {
        return VP_LAB_CHANGED;
    }
    return VP_LAB_SAME;
}

/* The ownership records of a create: the one the first definition holds
 * and the final one.  Every volume is named before it exists. */
static void
vp_lab_prepare_records(VpLabRun *run, VpLabTask *t, const VpLabGuest *lg,
                       VpProvisionPlan *p, const char *hash)
{
    t->plan = p;
    g_autoptr(VpLabRecord) rec = vp_lab_record_new(run->plan->lab->lab,
                                                   lg->manifest_name, hash);
    g_autofree char *volume = vp_provision_volume_name(lg->name, p->image.format);

    vp_lab_record_add_volume(rec, p->pool, volume);
    if (p->cloud_init != NULL) {
        g_autofree char *seed = vp_provision_seed_name(lg->name);
        vp_lab_record_add_volume(rec, p->pool, seed);
    }
    t->metadata_first = vp_lab_record_to_xml(rec);
    rec->complete = TRUE;
    t->metadata = vp_lab_record_to_xml(rec);
    t->volumes = g_ptr_array_ref(rec->volumes);
}

static void
vp_lab_plan_guest(VpLabRun *run, guint i, const char *hash)
{
    const VpLabPlan *plan = run->plan;
    const VpLabGuest *lg = g_ptr_array_index(plan->lab->guests, i);
    const VpLabRecord *rec = NULL;
    VpLabHostState *owner = vp_lab_owner(run, lg->name, &rec);

    /* destroy lists only what it removes, and the pinned guests of hosts
     * it could not reach, whose fate it cannot tell. */
    if (plan->command == VP_LAB_DESTROY && owner == NULL) {
        VpLabHostState *pin = lg->host != NULL ? vp_lab_host_by_name(run, lg->host)
                                               : NULL;
        if (pin != NULL && pin->virt == NULL) {
            VpLabGuestReport *g = vp_lab_new_report(run, lg->name, lg->manifest_name);
            g->host = g_strdup(lg->host);
            vp_lab_fail_unreachable(g, lg->host);
        }
        return;
    }
    VpLabGuestReport *g = vp_lab_new_report(run, lg->name, lg->manifest_name);
    VpLabHostState *target = NULL;

    if (owner != NULL) {
        vp_lab_report_existing(g, owner, rec);
        if (plan->command == VP_LAB_DESTROY) {
            g->action = VP_LAB_DELETE;
            VpLabTask *t = vp_lab_add_task(run, owner, g);
            t->old_host = owner;
            t->record = rec;
            return;
        }
        VpLabDiff diff = vp_lab_difference(lg, hash, owner, rec);
        if (diff == VP_LAB_SAME) {
            g->action = VP_LAB_KEEP;
            return;
        }
        /* A guest whose creation never finished is this lab's own debris:
         * making it again is convergence, not a change of options. */
        if (!plan->replace && diff != VP_LAB_INCOMPLETE) {
            g->action = VP_LAB_DRIFT;
            g->error = diff == VP_LAB_MOVED
                ? g_strdup_printf(_("it is pinned to host '%1$s' but is on '%2$s'; "
                                    "use --replace to move it"),
                                  lg->host, owner->host->name)
                : g_strdup(_("its options changed since it was created; use "
                             "--replace to create it again"));
            return;
        }
        g->action = VP_LAB_REPLACE;
        if (lg->host == NULL) {
            target = owner;
        } else if ((target = vp_lab_host_by_name(run, lg->host))->virt == NULL) {
            vp_lab_fail_unreachable(g, lg->host);
            return;
        }
        /* The new home must not hold a foreign domain of the name. */
        VpLabHostState *taken = target != owner ? vp_lab_name_taken(run, lg->name, target)
                                                : NULL;
        if (taken != NULL) {
            vp_lab_conflict(g, taken);
            return;
        }
        if (target != owner) {
            owner->count--;
            target->count++;
        }
        VpLabTask *t = vp_lab_add_task(run, target, g);
        t->old_host = owner;
        t->record = rec;
        vp_lab_prepare_records(run, t, lg, g_ptr_array_index(plan->plans, i), hash);
        g_free(g->host);
        g->host = g_strdup(target->host->name);
        return;
    }
    target = vp_lab_place(run, lg, g);
    if (target == NULL) {
        return;
    }
    VpLabHostState *taken = vp_lab_name_taken(run, lg->name,
                                              lg->host != NULL ? target : NULL);
    if (taken != NULL) {
        vp_lab_conflict(g, taken);
        return;
    }
    g->action = VP_LAB_CREATE;
    target->count++;
    VpLabTask *t = vp_lab_add_task(run, target, g);
    vp_lab_prepare_records(run, t, lg, g_ptr_array_index(plan->plans, i), hash);
}

/* This lab's guests that the manifest no longer lists, and second copies
 * of a listed one (made while its first host was unreachable). */
static void
vp_lab_plan_unlisted(VpLabRun *run)
{
    const VpLabPlan *plan = run->plan;
    gboolean remove = plan->command == VP_LAB_DESTROY ||
                      (plan->command == VP_LAB_APPLY && plan->prune);

    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (h->virt == NULL) {
            continue;
        }
        /* Domain order, not hash order: reports are stable from run to run. */
        for (guint k = 0; k < h->domains->len; k++) {
            const VpDomainEntry *e = g_ptr_array_index(h->domains, k);
            const VpLabRecord *rec = g_hash_table_lookup(h->records, e->name);
            const VpLabRecord *first = NULL;
            if (rec == NULL) {
                continue;
            }
            VpLabHostState *owner = vp_lab_owner(run, e->name, &first);
            gboolean listed = g_hash_table_contains(run->listed, e->name);
            if (listed && owner == h) {
                continue;
            }
            VpLabGuestReport *g = vp_lab_new_report(run, e->name, rec->entry);
            vp_lab_report_existing(g, h, rec);
            if (remove) {
                g->action = VP_LAB_DELETE;
                VpLabTask *t = vp_lab_add_task(run, h, g);
                t->old_host = h;
                t->record = rec;
                h->count--;
            } else {
                g->action = VP_LAB_DRIFT;
                g->error = listed
                    ? g_strdup_printf(_("a second copy, the guest is on host "
                                        "'%1$s'; use --prune to delete it"),
                                      owner->host->name)
                    : g_strdup(_("not in the manifest; use --prune to delete it"));
            }
        }
    }
}

/* ---- 4. doing ---------------------------------------------------------- */

/* Removes guest NAME of H as REC names it: stopped, its volumes deleted,
 * then its domain undefined, so that an interrupted removal leaves the
 * record in place and a later run finishes it. */
static gboolean
vp_lab_remove(VpLabHostState *h, const char *name, const VpLabRecord *rec,
              gboolean verbose, GError **error)
{
    gboolean active = FALSE;

    vp_workflow_step(verbose, _("removing guest '%1$s' from host '%2$s'"), name,
                     h->host->name);
    if (!vp_virt_domain_is_active(h->virt, name, &active, error) ||
        (active && !vp_virt_domain_destroy(h->virt, name, error))) {
        return FALSE;
    }
    for (guint i = 0; i < rec->volumes->len; i++) {
        const VpLabVolume *v = g_ptr_array_index(rec->volumes, i);
        gboolean exists = FALSE;
        /* A volume the record names may never have been made. */
        if (!vp_virt_volume_exists(h->virt, v->pool, v->name, &exists, error) ||
            (exists && !vp_virt_volume_delete(h->virt, v->pool, v->name, error))) {
            return FALSE;
        }
    }
    return vp_virt_domain_undefine(h->virt, name, error);
}

static void
vp_lab_do_task(gpointer data, gpointer user_data)
{
    VpLabTask *t = data;
    VpLabRun *run = user_data;
    const VpLabPlan *plan = run->plan;
    VpLabGuestReport *g = t->report;
    g_autoptr(GError) error = NULL;

    vp_lab_block_signals();
    gboolean ok = vp_cancel_check(plan->run.cancel, &error);

    if (!ok) {
        g->action = VP_LAB_FAILED;
        g->error = g_strdup(_("not started: the run was interrupted"));
        vp_lab_report(run, g);
        return;
    }
    if (t->prepare_error != NULL) {
        g->action = VP_LAB_FAILED;
        g->error = g_strdup(t->prepare_error->message);
        vp_lab_report(run, g);
        return;
    }
    /* A connection that broke under an earlier guest (not only a daemon
     * that died) is opened again for this one; a host that stays away
     * costs one reconnect window for all its guests. */
    ok = vp_virt_ensure_alive(t->host->virt, VP_RECONNECT_MS, &error) &&
         (t->old_host == NULL || t->old_host == t->host ||
          vp_virt_ensure_alive(t->old_host->virt, VP_RECONNECT_MS, &error));
    if (ok && t->record != NULL) {
        ok = vp_lab_remove(t->old_host, g->name, t->record, plan->run.verbose,
                           &error);
        if (ok) {
            g->exists = FALSE;
            g->active = FALSE;
            g_clear_pointer(&g->uuid, g_free);
        }
    }
    if (ok && t->plan != NULL) {
        VpProvisionPlan *p = t->plan;
        p->run.verbose = plan->run.verbose;
        p->run.cancel = plan->run.cancel;
        p->run.uri = t->host->host->uri;
        p->virt = t->host->virt;
        p->metadata_first = t->metadata_first;
        p->metadata = t->metadata;
        ok = vp_provision_run(p, &g->result, &error);
        if (ok || g->result.created) {
            g->created = TRUE;
            g->exists = TRUE;
            g->uuid = g_strdup(g->result.uuid);
            g->active = g->result.started;
            g_clear_pointer(&g->volumes, g_ptr_array_unref);
            g->volumes = g_ptr_array_ref(t->volumes);
            if (g->result.addresses != NULL) {
                g->addresses = g_ptr_array_ref(g->result.addresses);
            }
        }
    }
    if (!ok) {
        /* A name or volume taken meanwhile is a conflict like any other:
         * the lab never replaces what it did not make. */
        g->action = g_error_matches(error, VP_ERROR, VP_ERROR_EXISTS) &&
                            !g->created
                        ? VP_LAB_CONFLICT
                        : VP_LAB_FAILED;
        g->error = g_strdup(error->message);
    }
    vp_lab_report(run, g);
}

static void
vp_lab_error_free(gpointer error)
{
    if (error != NULL) {
        g_error_free(error);
    }
}

/* Whether a guest's base names a file of this machine rather than a
 * volume ("VOL" or "POOL/VOL"): a path as a shell user writes one. */
static gboolean
vp_lab_base_is_file(const char *base)
{
    return base != NULL && (g_str_has_prefix(base, "/") ||
                            g_str_has_prefix(base, "./") ||
                            g_str_has_prefix(base, "../"));
}

/* A missing pool "default" that guests of H need is created once, before
 * them, and stays (as virt-install's does): parallel guests would each try
 * to create it.  Its failure fails those guests. */
static void
vp_lab_prepare_pools(VpLabHostState *h)
{
    g_autoptr(GError) error = NULL;
    gboolean needed = FALSE, created = FALSE;

    for (guint i = 0; i < h->tasks->len && !needed; i++) {
        VpLabTask *t = g_ptr_array_index(h->tasks, i);
        needed = t->plan != NULL && g_strcmp0(t->plan->pool, "default") == 0;
    }
    if (!needed ||
        vp_provision_default_pool(h->virt, h->run->plan->run.verbose, &created,
                                  &error)) {
        return;
    }
    for (guint i = 0; i < h->tasks->len; i++) {
        VpLabTask *t = g_ptr_array_index(h->tasks, i);
        if (t->plan != NULL && g_strcmp0(t->plan->pool, "default") == 0 &&
            t->prepare_error == NULL) {
            t->prepare_error = g_error_copy(error);
        }
    }
}

/* Bases given as local image files: each is imported once per host and
 * pool, as a volume of its file name, before the first guest on it starts,
 * and an existing volume of that name is used as it is (a re-apply uploads
 * nothing).  Bases are shared and never removed, not even when a guest
 * fails: they belong to no guest. */
static void
vp_lab_prepare_bases(VpLabHostState *h)
{
    const VpLabPlan *plan = h->run->plan;
    g_autofree char *manifest = g_canonicalize_filename(plan->lab->path, NULL);
    g_autofree char *dir = g_path_get_dirname(manifest);
    /* "POOL/VOLUME" -> the import's error, NULL when the base is there. */
    g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                       g_free,
                                                       vp_lab_error_free);

    for (guint i = 0; i < h->tasks->len; i++) {
        VpLabTask *t = g_ptr_array_index(h->tasks, i);
        if (t->plan == NULL || t->prepare_error != NULL ||
            !vp_lab_base_is_file(t->plan->base)) {
            continue;
        }
        g_autofree char *path = g_canonicalize_filename(t->plan->base, dir);
        g_autofree char *volume = g_path_get_basename(path);
        g_autofree char *key = g_strdup_printf("%s/%s", t->plan->pool, volume);
        g_autoptr(GError) error = NULL;
        gboolean exists = FALSE;

        if (!g_hash_table_contains(done, key)) {
            if (vp_virt_volume_exists(h->virt, t->plan->pool, volume, &exists,
                                      &error) && !exists) {
                VpImportPlan import = {
                    .run = { .verbose = plan->run.verbose, .cancel = plan->run.cancel },
                    .path = path,
                    .pool = t->plan->pool,
                    .volume = volume,
                    .virt = h->virt,
                };
                g_auto(VpImportResult) result = { 0 };
                vp_workflow_step(plan->run.verbose,
                                 _("importing base '%1$s' into pool '%2$s' of host '%3$s'"),
                                 path, t->plan->pool, h->host->name);
                vp_import_run(&import, &result, &error);
            }
            GError *failed = NULL;
            if (error != NULL) {
                g_set_error(&failed, error->domain, error->code,
                            _("cannot import base '%1$s': %2$s"), path,
                            error->message);
            }
            g_hash_table_insert(done, g_strdup(key), failed);
        }
        const GError *failed = g_hash_table_lookup(done, key);
        if (failed != NULL) {
            t->prepare_error = g_error_copy(failed);
        } else {
            t->base = g_strdup_printf("%s/%s", t->plan->pool, volume);
            t->plan->base = t->base;
        }
    }
}

/* A host's work: a pool of JOBS threads over its one connection, deletes
 * first so that a replaced or pruned guest frees its name and space
 * before the creates. */
static gpointer
vp_lab_run_host(gpointer data)
{
    VpLabHostState *h = data;
    guint jobs = MAX(h->run->plan->jobs, 1);

    vp_lab_block_signals();
    GThreadPool *pool = g_thread_pool_new(vp_lab_do_task, h->run, (gint)jobs,
                                          FALSE, NULL);

    for (guint pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < h->tasks->len; i++) {
            VpLabTask *t = g_ptr_array_index(h->tasks, i);
            if ((t->plan == NULL) == (pass == 0)) {
                g_thread_pool_push(pool, t, NULL);
            }
        }
        /* The deletes are done before the first create starts, and the
         * bases are in place. */
        if (pass == 0) {
            g_thread_pool_free(pool, FALSE, TRUE);
            vp_lab_prepare_pools(h);
            vp_lab_prepare_bases(h);
            pool = g_thread_pool_new(vp_lab_do_task, h->run, (gint)jobs, FALSE,
                                     NULL);
        }
    }
    g_thread_pool_free(pool, FALSE, TRUE);
    return NULL;
}

/* status --addresses: what the agents of running guests report; a guest
 * without an answering agent has none, which is no failure. */
static void
vp_lab_fill_addresses(VpLabRun *run)
{
    for (guint i = 0; i < run->result->guests->len; i++) {
        VpLabGuestReport *g = g_ptr_array_index(run->result->guests, i);
        VpLabHostState *h = g->host != NULL ? vp_lab_host_by_name(run, g->host)
                                            : NULL;
        if (g->exists && g->active && h != NULL && h->virt != NULL) {
            g->addresses = vp_virt_domain_addresses(h->virt, g->name, NULL);
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

gboolean
vp_lab_run(const VpLabPlan *plan, VpLabResult *r, GError **error)
{
    const VpLab *lab = plan->lab;
    g_auto(GStrv) hashes = g_new0(char *, lab->guests->len + 1);

    *r = (VpLabResult){ 0 };
    g_assert(plan->plans->len == lab->guests->len);
    vp_xml_init();
    /* 1. The hashes read the manifest's files: before any host.  The
     * guests of one entry (count: N) are consecutive and share their
     * options, so each entry's files are read and checked once. */
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
    r->lab = g_strdup(lab->lab);
    r->hosts = g_ptr_array_new_with_free_func(vp_lab_host_report_free);
    r->guests = g_ptr_array_new_with_free_func(vp_lab_guest_report_free);

    VpLabRun run = { .plan = plan, .result = r };
    g_mutex_init(&run.report_lock);
    run.hosts = g_ptr_array_new_with_free_func(vp_lab_host_state_free);
    run.tasks = g_ptr_array_new_with_free_func(vp_lab_task_free);
    run.listed = g_hash_table_new(g_str_hash, g_str_equal);
    run.busy = g_hash_table_new(NULL, NULL);
    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *lg = g_ptr_array_index(lab->guests, i);
        g_hash_table_insert(run.listed, lg->name, (gpointer)lg);
    }

    /* 2. Every host at once: an unreachable one costs its timeout once. */
    for (guint i = 0; i < lab->hosts->len; i++) {
        VpLabHostState *h = g_new0(VpLabHostState, 1);
        h->run = &run;
        h->host = g_ptr_array_index(lab->hosts, i);
        h->report = g_new0(VpLabHostReport, 1);
        h->report->name = g_strdup(h->host->name);
        h->report->uri = g_strdup(h->host->uri);
        h->by_name = g_hash_table_new(g_str_hash, g_str_equal);
        h->records = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify)vp_lab_record_free);
        h->tasks = g_ptr_array_new();
        g_ptr_array_add(r->hosts, h->report);
        g_ptr_array_add(run.hosts, h);
        vp_workflow_step(plan->run.verbose, _("reading host '%1$s' (%2$s)"),
                         h->host->name, h->host->uri);
        h->thread = g_thread_new("vp-lab-read", vp_lab_read_host, h);
    }
    for (guint i = 0; i < run.hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run.hosts, i);
        g_thread_join(h->thread);
    }

    /* 3. The plan, in manifest order. */
    for (guint i = 0; i < lab->guests->len; i++) {
        vp_lab_plan_guest(&run, i, hashes[i]);
    }
    vp_lab_plan_unlisted(&run);

    gboolean act = plan->command == VP_LAB_DESTROY ||
                   (plan->command == VP_LAB_APPLY && !plan->dry_run);
    /* Guests with nothing to do are reported now; the rest as they end. */
    for (guint i = 0; i < r->guests->len; i++) {
        VpLabGuestReport *g = g_ptr_array_index(r->guests, i);
        if (!act || !g_hash_table_contains(run.busy, g)) {
            vp_lab_report(&run, g);
        }
    }

    /* 4. Every host at once, each with its own pool of workers. */
    if (act) {
        for (guint i = 0; i < run.hosts->len; i++) {
            VpLabHostState *h = g_ptr_array_index(run.hosts, i);
            h->thread = h->tasks->len > 0
                            ? g_thread_new("vp-lab-host", vp_lab_run_host, h)
                            : NULL;
        }
        for (guint i = 0; i < run.hosts->len; i++) {
            VpLabHostState *h = g_ptr_array_index(run.hosts, i);
            if (h->thread != NULL) {
                g_thread_join(h->thread);
            }
        }
    }
    if (plan->command == VP_LAB_STATUS && plan->addresses) {
        vp_lab_fill_addresses(&run);
    }
    r->interrupted = !vp_cancel_check(plan->run.cancel, NULL);

    g_hash_table_unref(run.busy);
    g_hash_table_unref(run.listed);
    g_ptr_array_unref(run.tasks);
    g_ptr_array_unref(run.hosts);
    g_mutex_clear(&run.report_lock);
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
    for (guint i = 0; i < r->guests->len; i++) {
        const VpLabGuestReport *g = g_ptr_array_index(r->guests, i);
        switch (g->action) {
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
