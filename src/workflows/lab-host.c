/* One host of a lab run: reading it (its domains, this lab's records, what
 * tells its daemon apart, which recorded volumes are gone), and doing its
 * work: removals proved against the host (lab-proof.h), the default pool,
 * the bases, the creates. */
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "error.h"
#include "import.h"
#include "lab-private.h"
#include "lab-proof.h"
#include "workflow.h"

/* Which volumes of the complete records of H are gone, into H->missing:
 * a guest that lost its disk behind the lab's back is not as the manifest
 * says.  A volume that cannot be told (its pool inactive) counts as gone,
 * with the reason.  Each pool is asked once, for all its volumes. */
static void
vp_lab_read_missing(VpLabHostState *h)
{
    GHashTableIter it;
    gpointer name, value;
    /* pool -> names there, or the reason none can be told (a string) */
    g_autoptr(GHashTable) pools = g_hash_table_new_full(
        g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
    g_autoptr(GHashTable) why = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                      g_free, g_free);

    g_hash_table_iter_init(&it, h->records);
    while (g_hash_table_iter_next(&it, &name, &value)) {
        const VpLabRecord *rec = value;
        g_autoptr(GString) gone = g_string_new(NULL);
        for (guint i = 0; rec->complete && i < rec->volumes->len; i++) {
            const VpLabVolume *v = g_ptr_array_index(rec->volumes, i);
            if (!g_hash_table_contains(pools, v->pool)) {
                GHashTable *there = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                          g_free, NULL);
                g_autoptr(GError) error = NULL;
                if (!vp_virt_pool_present(h->virt, v->pool, there, &error)) {
                    g_hash_table_insert(why, g_strdup(v->pool),
                                        g_strdup(error->message));
                }
                g_hash_table_insert(pools, g_strdup(v->pool), there);
            }
            const char *reason = g_hash_table_lookup(why, v->pool);
            if (reason == NULL &&
                g_hash_table_contains(g_hash_table_lookup(pools, v->pool), v->name)) {
                continue;
            }
            g_string_append_printf(gone, "%s'%s/%s'", gone->len > 0 ? ", " : "",
                                   v->pool, v->name);
            if (reason != NULL) {
                g_string_append_printf(gone, " (%s)", reason);
            }
        }
        if (gone->len > 0) {
            g_hash_table_insert(h->missing, name, g_string_free(g_steal_pointer(&gone),
                                                                FALSE));
        }
    }
}

/* VpVirtWaitFunc of a host of the lab (DATA): a step naming the host, for
 * the whole run, its guests' work included. */
static void
vp_lab_host_waited(const char *uri, guint seconds, gboolean answered,
                   gpointer data)
{
    const VpLabHostState *h = data;
    const VpRunEnv *run = &h->run->plan->run;

    if (answered) {
        vp_workflow_step(run, _("waited %2$u s for host '%1$s', which answered"),
                         h->host->name, seconds);
    } else {
        vp_workflow_step(run, _("still waiting for host '%1$s' (%2$s) after "
                                "%3$u s"), h->host->name, uri, seconds);
    }
}

/* Connects to H and reads its domains, this lab's records and what tells
 * its daemon apart.  A host that fails here is unreachable for the whole
 * run: nothing is planned there. */
void
vp_lab_read_host(gpointer data, gpointer unused)
{
    VpLabHostState *h = data;
    g_autoptr(GError) error = NULL;

    /* A dry run reads, and the daemon makes sure it only reads. */
    h->virt = h->run->plan->command == VP_LAB_APPLY && h->run->plan->dry_run
                  ? vp_virt_connect_readonly(h->host->uri, vp_lab_host_waited,
                                             h, &error)
                  : vp_virt_connect(h->host->uri, vp_lab_host_waited, h,
                                    &error);
    GPtrArray *domains = NULL;
    if (h->virt != NULL &&
        vp_virt_host_identity(h->virt, &h->hostname, &h->ids, &error)) {
        domains = vp_virt_domain_list(h->virt, VP_LAB_RECORD_NS, &error);
    }
    /* What lab networks need of it: part of reading it. */
    if (domains != NULL && vp_lab_wants_networks(h->run) &&
        !vp_lab_read_networks(h, &error)) {
        g_clear_pointer(&domains, g_ptr_array_unref);
    }
    if (domains == NULL) {
        h->report->error = g_strdup(error->message);
        g_clear_pointer(&h->virt, vp_virt_free);
        return;
    }
    vp_lab_host_take(h, domains);
    if (h->run->plan->command != VP_LAB_DESTROY) {
        vp_lab_read_missing(h);
    }
}

/* Reads, once per host and under its lock, which domains use which disk;
 * and, once per pool, the backing files of POOL's volumes.  A removal
 * proves against these that no other domain or overlay needs a volume. */
static gboolean
vp_lab_host_view(VpLabHostState *h, const char *pool, GError **error)
{
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&h->view_lock);

    if (h->users == NULL) {
        g_autoptr(GPtrArray) defs = vp_virt_domain_defs_all(h->virt, error);
        if (defs == NULL) {
            return FALSE;
        }
        g_autoptr(GHashTable) users = vp_lab_disk_users_new();
        for (guint i = 0; i < defs->len; i++) {
            const VpDomainDefs *d = g_ptr_array_index(defs, i);
            if (!vp_lab_proof_add_disks(users, d->xml, d->uuid, d->name, error) ||
                (d->live_xml != NULL &&
                 !vp_lab_proof_add_disks(users, d->live_xml, d->uuid, d->name,
                                         error))) {
                return FALSE;
            }
        }
        h->users = g_steal_pointer(&users);
        h->backing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        h->backing_pools = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                 NULL);
    }
    if (pool != NULL && !g_hash_table_contains(h->backing_pools, pool)) {
        if (!vp_virt_pool_backing(h->virt, pool, h->backing, error)) {
            return FALSE;
        }
        g_hash_table_add(h->backing_pools, g_strdup(pool));
    }
    return TRUE;
}

/* Appends TEXT to LIST, "; "-separated. */
static void
vp_lab_list_add(GString *list, const char *text)
{
    g_string_append_printf(list, "%s%s", list->len > 0 ? "; " : "", text);
}

/* Which of REC's volumes may go, proved against the host as it is now
 * (lab-proof.h): into DOOMED those proved the guest's own, into GONE
 * those that are gone already, into REFUSED why each other one may not. */
static gboolean
vp_lab_prove(VpLabHostState *h, const VpDomainDefs *defs,
             const VpLabRecord *rec, GPtrArray *doomed, GString *gone,
             GString *refused, GError **error)
{
    const char *pool = rec->volumes->len > 0
        ? ((const VpLabVolume *)g_ptr_array_index(rec->volumes, 0))->pool
        : NULL;
    g_autoptr(GHashTable) own = vp_lab_disk_users_new();
    g_autofree char *disk = vp_provision_volume_name(defs->name, VP_FORMAT_QCOW2);
    g_autofree char *raw = vp_provision_volume_name(defs->name, VP_FORMAT_RAW);
    g_autofree char *seed = vp_provision_seed_name(defs->name);
    const char *const names[] = { disk, raw, seed, NULL };

    if (!vp_lab_host_view(h, pool, error) ||
        !vp_lab_proof_add_disks(own, defs->xml, defs->uuid, defs->name, error) ||
        (defs->live_xml != NULL &&
         !vp_lab_proof_add_disks(own, defs->live_xml, defs->uuid, defs->name,
                                 error))) {
        return FALSE;
    }
    const VpLabProofView view = {
        .guest = defs->name, .uuid = defs->uuid, .pool = pool != NULL ? pool : "",
        .names = names, .own = own, .users = h->users, .backing = h->backing,
    };
    for (guint i = 0; i < rec->volumes->len; i++) {
        VpLabVolume *v = g_ptr_array_index(rec->volumes, i);
        g_autofree char *path = NULL;
        const char *who = NULL;
        if (!vp_virt_volume_path(h->virt, v->pool, v->name, &path, error)) {
            return FALSE;
        }
        VpLabProof proof = vp_lab_proof_check(&view, v->pool, v->name, path, &who);
        if (proof == VP_LAB_PROOF_OWNED) {
            g_ptr_array_add(doomed, v);
        } else if (proof == VP_LAB_PROOF_GONE) {
            g_autofree char *name = g_strdup_printf("'%s/%s'", v->pool, v->name);
            vp_lab_list_add(gone, name);
        } else {
            g_autofree char *why = vp_lab_proof_reason(proof, v->pool, v->name,
                                                       &view, who);
            vp_lab_list_add(refused, why);
        }
    }
    return TRUE;
}

/* Removes guest G of H, the domain of UUID as REC names it: stopped, its
 * volumes deleted, then the domain undefined, so that an interrupted
 * removal leaves the record in place and a later run finishes it.  Only
 * what is proved the guest's own goes: when any volume the record names
 * is not, nothing at all is touched, and the error (VP_ERROR_EXISTS: a
 * conflict) names each refused volume.  What was gone already is said in
 * G's note. */
static gboolean
vp_lab_remove(VpLabHostState *h, VpLabGuestReport *g, const char *uuid,
              const VpLabRecord *rec, const VpRunEnv *run, GError **error)
{
    g_autoptr(VpDomainDefs) defs = NULL;
    g_autoptr(GPtrArray) doomed = g_ptr_array_new();
    g_autoptr(GString) gone = g_string_new(NULL);
    g_autoptr(GString) refused = g_string_new(NULL);

    vp_workflow_step(run, _("removing guest '%1$s' from host '%2$s'"), g->name,
                     h->host->name);
    /* By UUID, read now: the name may have passed to another domain since
     * the host was read. */
    if (!vp_virt_domain_defs_by_uuid(h->virt, uuid, &defs, error)) {
        return FALSE;
    }
    if (defs == NULL) {
        g_free(g->note);
        g->note = g_strdup(_("the domain was gone already; its volumes were left "
                             "alone"));
        return TRUE;
    }
    if (strcmp(defs->name, g->name) != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("the domain of UUID %1$s is named '%2$s' now; nothing of "
                      "guest '%3$s' was removed"), uuid, defs->name, g->name);
        return FALSE;
    }
    if (!vp_lab_prove(h, defs, rec, doomed, gone, refused, error)) {
        return FALSE;
    }
    if (refused->len > 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("nothing of guest '%1$s' was removed, as its record names "
                      "volumes that are not provably its own: %2$s"),
                    g->name, refused->str);
        return FALSE;
    }
    /* The entries it added to networks first: they name its MACs, which
     * the definition proves only while it exists. */
    if (!vp_lab_remove_entries(h, defs, rec, error) ||
        !vp_virt_domain_stop_by_uuid(h->virt, uuid, error)) {
        return FALSE;
    }
    for (guint i = 0; i < doomed->len; i++) {
        const VpLabVolume *v = g_ptr_array_index(doomed, i);
        if (!vp_virt_volume_delete(h->virt, v->pool, v->name, error)) {
            return FALSE;
        }
    }
    if (gone->len > 0) {
        g_free(g->note);
        g->note = g_strdup_printf(_("volumes gone already: %1$s"), gone->str);
    }
    return vp_virt_domain_undefine_by_uuid(h->virt, uuid, error);
}

/* The removal of T's guest from its old host as its record names it. */
static gboolean
vp_lab_task_remove(VpLabTask *t, const VpRunEnv *run, GError **error)
{
    VpLabGuestReport *g = t->report;

    if (!vp_lab_remove(t->old_host, g, g->uuid, t->record, run, error)) {
        return FALSE;
    }
    t->removed = TRUE;
    g->exists = FALSE;
    g->active = FALSE;
    g_clear_pointer(&g->uuid, g_free);
    return TRUE;
}

/* The removal half of replace T, ahead of its host's networks: a copy
 * made again must have no guest on it.  Its failure is T's, reported
 * when T runs. */
static void
vp_lab_do_removal(gpointer data, gpointer user_data)
{
    VpLabTask *t = data;
    VpLabRun *run = user_data;
    g_autoptr(GError) error = NULL;

    if (!vp_cancel_check(run->plan->run.cancel, NULL) || t->prepare_error != NULL) {
        return;
    }
    if (!vp_virt_ensure_alive(t->old_host->virt, VP_RECONNECT_MS, &error) ||
        !vp_lab_task_remove(t, &run->plan->run, &error)) {
        t->prepare_error = g_steal_pointer(&error);
    }
}

static void
vp_lab_do_task(gpointer data, gpointer user_data)
{
    VpLabTask *t = data;
    VpLabRun *run = user_data;
    const VpLabPlan *plan = run->plan;
    VpLabGuestReport *g = t->report;
    g_autoptr(GError) error = NULL;
    gboolean ok = vp_cancel_check(plan->run.cancel, &error);

    if (!ok) {
        g->action = VP_LAB_FAILED;
        g->error = g_strdup(_("not started: the run was interrupted"));
        vp_lab_report(run, g);
        return;
    }
    if (t->prepare_error != NULL) {
        /* A base's name taken by what the lab may not use is a conflict. */
        g->action = g_error_matches(t->prepare_error, VP_ERROR, VP_ERROR_EXISTS)
                        ? VP_LAB_CONFLICT
                        : VP_LAB_FAILED;
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
    if (ok && t->record != NULL && !t->removed) {
        ok = vp_lab_task_remove(t, &plan->run, &error);
    }
    if (ok && t->plan != NULL) {
        VpProvisionPlan *p = t->plan;
        /* The lab's way of saying steps and of stopping, on this host. */
        p->run = plan->run;
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
        vp_provision_default_pool(&h->run->plan->run, h->virt, &created,
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

/* Whether volume VOLUME of POOL, named as local base PATH would be, may
 * serve as that base: it is no domain's disk (a writable disk under
 * overlays would change beneath them), and it is as long as the file.
 * *EXISTS FALSE when it is not there, to be imported. */
static gboolean
vp_lab_check_base(VpLabHostState *h, const char *pool, const char *volume,
                  const char *path, gboolean *exists, GError **error)
{
    g_autofree char *vol_path = NULL;
    g_auto(VpVolumeInfo) info = { 0 };
    GStatBuf st;

    *exists = FALSE;
    if (!vp_virt_volume_path(h->virt, pool, volume, &vol_path, error)) {
        return FALSE;
    }
    if (vol_path == NULL) {
        return TRUE;
    }
    *exists = TRUE;
    g_autofree char *key = g_strdup_printf("%s/%s", pool, volume);
    if (!vp_lab_host_view(h, NULL, error)) {
        return FALSE;
    }
    const VpLabDiskUser *user = g_hash_table_lookup(h->users, vol_path);
    if (user == NULL) {
        user = g_hash_table_lookup(h->users, key);
    }
    if (user != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("volume '%1$s' of its name is a disk of domain '%2$s'; "
                      "remove it from that domain"),
                    key, user->name);
        return FALSE;
    }
    if (!vp_virt_volume_info(h->virt, pool, volume, FALSE, &info, error)) {
        return FALSE;
    }
    if (g_stat(path, &st) != 0 || info.physical != (guint64)st.st_size) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("volume '%1$s' of its name is not as long as the file; "
                      "delete that volume, it is another image"),
                    key);
        return FALSE;
    }
    return TRUE;
}

/* Bases given as local image files: each is imported once per host and
 * pool, before the first guest on it starts, as the volume named by its
 * content (vp_lab_base_volume); an existing volume of that name is used
 * when vp_lab_check_base() finds it fit, so a re-apply uploads nothing.
 * Bases are shared and never removed, not even when a guest fails: they
 * belong to no guest. */
static void
vp_lab_prepare_bases(VpLabHostState *h)
{
    const VpLabPlan *plan = h->run->plan;
    /* "POOL/VOLUME" -> the import's error, NULL when the base is there. */
    g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                       g_free,
                                                       vp_lab_error_free);

    for (guint i = 0; i < h->tasks->len; i++) {
        VpLabTask *t = g_ptr_array_index(h->tasks, i);
        const char *digest = t->plan != NULL && t->prepare_error == NULL
                                 ? vp_lab_base_digest(h->run, t->plan->base)
                                 : NULL;
        if (digest == NULL) {
            continue;
        }
        g_autofree char *path = vp_lab_base_path(h->run, t->plan->base);
        g_autofree char *volume = vp_lab_base_volume(h->run, t->plan->base, digest);
        g_autofree char *key = g_strdup_printf("%s/%s", t->plan->pool, volume);
        g_autoptr(GError) error = NULL;
        gboolean exists = FALSE;

        if (!g_hash_table_contains(done, key)) {
            if (vp_lab_check_base(h, t->plan->pool, volume, path, &exists,
                                  &error) && !exists) {
                VpImportPlan import = {
                    .run = plan->run,
                    .path = path,
                    .pool = t->plan->pool,
                    .volume = volume,
                    .virt = h->virt,
                };
                g_auto(VpImportResult) result = { 0 };
                vp_workflow_step(&plan->run,
                                 _("importing base '%1$s' into pool '%2$s' of host '%3$s'"),
                                 path, t->plan->pool, h->host->name);
                vp_import_run(&import, &result, &error);
            }
            GError *failed = NULL;
            if (error != NULL) {
                g_set_error(&failed, error->domain, error->code,
                            _("cannot use base '%1$s': %2$s"), path,
                            error->message);
            }
            g_hash_table_insert(done, g_strdup(key), failed);
        }
        const GError *failed = g_hash_table_lookup(done, key);
        if (failed != NULL) {
            t->prepare_error = g_error_copy(failed);
        } else {
            t->base = g_steal_pointer(&key);
            t->plan->base = t->base;
        }
    }
}

/* The tasks of H that delete (DELETES) or create, in their order. */
static GPtrArray *
vp_lab_pass(VpLabHostState *h, gboolean deletes)
{
    GPtrArray *pass = g_ptr_array_new();

    for (guint i = 0; i < h->tasks->len; i++) {
        VpLabTask *t = g_ptr_array_index(h->tasks, i);
        if ((t->plan == NULL) == deletes) {
            g_ptr_array_add(pass, t);
        }
    }
    return pass;
}

/* A host's work: up to JOBS threads over its one connection, deletes
 * first so that a replaced or pruned guest frees its name and space
 * (and its network) before the lab's networks are removed and made, and
 * the creates find their networks, the pool and their bases in place. */
void
vp_lab_run_host(gpointer data, gpointer unused)
{
    VpLabHostState *h = data;
    guint jobs = MAX(h->run->plan->jobs, 1);
    g_autoptr(GPtrArray) deletes = vp_lab_pass(h, TRUE);
    g_autoptr(GPtrArray) creates = vp_lab_pass(h, FALSE);

    vp_lab_parallel(deletes, jobs, vp_lab_do_task, h->run);
    /* A copy of a lab network made again: its guests are replaced, and
     * removed first. */
    if (vp_lab_host_nets_remove(h)) {
        g_autoptr(GPtrArray) early = g_ptr_array_new();
        for (guint i = 0; i < creates->len; i++) {
            VpLabTask *t = g_ptr_array_index(creates, i);
            if (t->record != NULL && t->old_host == h) {
                g_ptr_array_add(early, t);
            }
        }
        vp_lab_parallel(early, jobs, vp_lab_do_removal, h->run);
    }
    vp_lab_run_networks(h);
    vp_lab_prepare_pools(h);
    vp_lab_prepare_bases(h);
    vp_lab_parallel(creates, jobs, vp_lab_do_task, h->run);
}
