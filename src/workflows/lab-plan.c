/* The plan of a lab run: from the hosts as read, the manifest and the
 * command's flags, what each guest needs (keep, create, replace, delete,
 * drift, conflict, failed), on which host, with which records.  Runs on
 * one thread, after every host was read: placement needs every host's
 * count, and a conflict every host's names.  It reads what the hosts
 * said and changes nothing on them.
 *
 * A host that cannot be read fails only the guests pinned to it: the
 * others go to the hosts that can be, although the lost one may hold them
 * already.  A guest found on two hosts once it is back keeps one copy by a
 * fixed rule (vp_lab_choose_copies); the other is drift, or deleted with
 * --prune like any guest the manifest does not list. */
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "lab-private.h"

void
vp_lab_host_take(VpLabHostState *h, GPtrArray *domains)
{
    const char *lab = h->run->plan->lab->lab;

    h->domains = domains;
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
}

/* Two hosts of the manifest under different URIs may reach one daemon: a
 * guest would then be seen twice, and one copy kept while the other is
 * pruned is the only one.  Daemons are told apart by their host name and
 * the UUIDs of their domains, pools and networks: two that share a name
 * and any UUID are one.  Checked before anything is planned. */
gboolean
vp_lab_check_identity(VpLabRun *run, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (!h->report->reachable || h->hostname == NULL) {
            continue;
        }
        guint n = h->domains->len + (h->ids != NULL ? h->ids->len : 0);
        for (guint k = 0; k < n; k++) {
            const char *uuid = k < h->domains->len
                ? ((const VpDomainEntry *)g_ptr_array_index(h->domains, k))->uuid
                : g_ptr_array_index(h->ids, k - h->domains->len);
            VpLabHostState *first = g_hash_table_lookup(seen, uuid);
            if (first == NULL) {
                g_hash_table_insert(seen, (gpointer)uuid, h);
            } else if (first != h && strcmp(first->hostname, h->hostname) == 0) {
                g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                            _("%1$s:%2$u:%3$u: hosts '%4$s' and '%5$s' are one "
                              "libvirt daemon (host '%6$s', both hold UUID %7$s); "
                              "list each host once"),
                            run->plan->lab->path, h->host->line, h->host->column,
                            first->host->name, h->host->name, h->hostname, uuid);
                return FALSE;
            }
        }
    }
    return TRUE;
}

VpLabHostState *
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

/* The local file a base names, as an absolute path (relative to the
 * manifest's folder).  Caller frees. */
char *
vp_lab_base_path(const VpLabRun *run, const char *base)
{
    g_autofree char *manifest = g_canonicalize_filename(run->plan->lab->path, NULL);
    g_autofree char *dir = g_path_get_dirname(manifest);

    return g_canonicalize_filename(base, dir);
}

/* The content digest of the local file BASE names, NULL when BASE is a
 * volume or the digests were not taken (a run that changes nothing). */
const char *
vp_lab_base_digest(const VpLabRun *run, const char *base)
{
    if (!vp_lab_base_is_file(base)) {
        return NULL;
    }
    g_autofree char *path = vp_lab_base_path(run, base);
    return g_hash_table_lookup(run->digests, path);
}

/* The volume a local base file becomes: its name with the first 12 hex
 * digits of its content digest before the extension, so that another
 * file of the same name is another volume, and a volume of the plain
 * name (another guest's disk, say) is never taken for it:
 * ./debian.qcow2 -> debian-3b1f0c2a9e77.qcow2.  Caller frees. */
char *
vp_lab_base_volume(const VpLabRun *run, const char *base, const char *digest)
{
    g_autofree char *path = vp_lab_base_path(run, base);
    g_autofree char *name = g_path_get_basename(path);
    const char *dot = strrchr(name, '.');

    if (dot == NULL || dot == name) {
        return g_strdup_printf("%s-%.12s", name, digest);
    }
    return g_strdup_printf("%.*s-%.12s%s", (int)(dot - name), name, digest, dot);
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
    g_clear_pointer(&g->nics, g_ptr_array_unref);
    g->nics = g_ptr_array_ref(rec->nics);
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
 * tie.  Hosts that cannot be read do not hold it up (see
 * vp_lab_note_away).  NULL with G failed when there is none. */
static VpLabHostState *
vp_lab_place(VpLabRun *run, const VpLabGuest *lg, VpLabGuestReport *g)
{
    if (lg->host != NULL) {
        VpLabHostState *h = vp_lab_host_by_name(run, lg->host);
        g->host = g_strdup(lg->host);
        if (!h->report->reachable) {
            vp_lab_fail_unreachable(g, lg->host);
            return NULL;
        }
        return h;
    }
    VpLabHostState *best = NULL;
    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (h->report->reachable && (best == NULL || h->count < best->count)) {
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

/* The note of unpinned guest G, created on a reachable host while hosts
 * of the lab cannot be read.  One of those may hold it already, placed
 * there by an earlier apply; waiting for it would fail every guest a CI
 * run needs, so G is made now, and the report says where and why.  A
 * second copy that shows once the host is back is drift until --prune
 * deletes the one vp_lab_choose_copies() does not keep. */
static void
vp_lab_note_away(VpLabRun *run, VpLabGuestReport *g)
{
    g_autoptr(GString) away = g_string_new(NULL);
    guint n = 0;

    for (guint i = 0; i < run->hosts->len; i++) {
        const VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (!h->report->reachable) {
            g_string_append_printf(away, "%s'%s'", n++ > 0 ? ", " : "",
                                   h->host->name);
        }
    }
    if (n == 0) {
        return;
    }
    g->note = g_strdup_printf(
        g_dngettext(GETTEXT_PACKAGE,
                    "placed on host '%1$s' while host %2$s is unreachable; "
                    "should it hold the guest too, %3$s deletes one copy "
                    "once it is back",
                    "placed on host '%1$s' while hosts %2$s are unreachable; "
                    "should one of them hold the guest too, %3$s deletes one "
                    "copy once it is back",
                    n),
        g->host, away->str,
        vp_run_option(&run->plan->run, VP_OPTION_ERROR_PRUNE));
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
        if (!h->report->reachable || (only != NULL && h != only)) {
            continue;
        }
        if (g_hash_table_contains(h->by_name, name) &&
            !g_hash_table_contains(h->records, name)) {
            return h;
        }
    }
    return NULL;
}

/* The host whose copy of this lab's guest NAME the plan keeps (see
 * vp_lab_choose_copies), and through *REC its record; NULL for a guest
 * that no reachable host holds, or that the manifest does not list. */
static VpLabHostState *
vp_lab_owner(VpLabRun *run, const char *name, const VpLabRecord **rec)
{
    VpLabHostState *h = g_hash_table_lookup(run->owners, name);

    *rec = h != NULL ? g_hash_table_lookup(h->records, name) : NULL;
    return h;
}

/* How an owned guest differs from its manifest entry. */
typedef enum {
    VP_LAB_SAME,
    VP_LAB_INCOMPLETE, /* its creation never finished */
    VP_LAB_MOVED,      /* pinned to another host than its own */
    VP_LAB_CHANGED,    /* its options (or entry) changed */
    VP_LAB_MISSING,    /* volumes of its record are gone */
    VP_LAB_NET_CHANGED, /* a lab network it uses changed on its host */
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
    g_autofree char *salted = vp_lab_salted_hash(hash, rec->salt);
    if (strcmp(rec->hash, salted) != 0 ||
        strcmp(rec->entry, lg->manifest_name) != 0) {
        return VP_LAB_CHANGED;
    }
    if (g_hash_table_contains(h->missing, lg->name)) {
        return VP_LAB_MISSING;
    }
    if (vp_lab_net_drifted(h, rec) != NULL) {
        return VP_LAB_NET_CHANGED;
    }
    return VP_LAB_SAME;
}

/* Which copy of each listed guest the plan keeps, into RUN->owners.  A
 * guest is on two hosts when it was made on one while the other, which
 * held it, could not be read (vp_lab_note_away).  The copy kept is the
 * one placement would choose among the hosts that hold one, so that the
 * lab ends spread as a fresh apply spreads it:
 *   1. the copy on the guest's pin;
 *   2. a copy as the manifest says over one that is not (changed,
 *      unfinished, volumes gone): --prune never deletes the good copy to
 *      keep a stale one;
 *   3. the copy on the host with the fewest of this lab's guests as read
 *      (before this run placed anything);
 *   4. the first such host in the manifest.
 * The others are second copies (vp_lab_plan_unlisted).  Decided once,
 * from the hosts as read, so that apply, --dry-run and status choose the
 * same copy. */
static void
vp_lab_choose_copies(VpLabRun *run, GStrv hashes)
{
    const VpLab *lab = run->plan->lab;

    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *lg = g_ptr_array_index(lab->guests, i);
        VpLabHostState *best = NULL;
        guint best_rank = 0;
        for (guint k = 0; k < run->hosts->len; k++) {
            VpLabHostState *h = g_ptr_array_index(run->hosts, k);
            const VpLabRecord *rec = g_hash_table_lookup(h->records, lg->name);
            if (rec == NULL) {
                continue;
            }
            gboolean pinned = g_strcmp0(lg->host, h->host->name) == 0;
            gboolean same = vp_lab_difference(lg, hashes[i], h, rec) == VP_LAB_SAME;
            guint rank = 2 * pinned + same;
            if (best == NULL || rank > best_rank ||
                (rank == best_rank && h->count < best->count)) {
                best = h;
                best_rank = rank;
            }
        }
        if (best != NULL) {
            g_hash_table_insert(run->owners, lg->name, best);
        }
    }
}

/* The ownership records of a create: the one the first definition holds
 * and the final one.  Every volume is named before it exists. */
static void
vp_lab_prepare_records(VpLabRun *run, VpLabTask *t, const VpLabGuest *lg,
                       VpProvisionPlan *p, const char *hash)
{
    t->plan = p;
    g_autofree char *salt = vp_lab_new_salt();
    g_autofree char *salted = vp_lab_salted_hash(hash, salt);
    g_autoptr(VpLabRecord) rec = vp_lab_record_new(run->plan->lab->lab,
                                                   lg->manifest_name, salted);
    g_autofree char *volume = vp_provision_volume_name(lg->name, p->image.format);

    rec->salt = g_steal_pointer(&salt);
    /* A local base becomes the volume named by its content (see
     * vp_lab_prepare_bases): recorded with its digest. */
    const char *digest = vp_lab_base_digest(run, p->base);
    if (digest != NULL) {
        g_autofree char *base = vp_lab_base_volume(run, p->base, digest);
        rec->base = g_strdup_printf("%s/%s", p->pool, base);
        rec->base_sha256 = g_strdup(digest);
    }

    vp_lab_record_add_volume(rec, p->pool, volume);
    if (p->cloud_init != NULL) {
        g_autofree char *seed = vp_provision_seed_name(lg->name);
        vp_lab_record_add_volume(rec, p->pool, seed);
    }
    t->volumes = g_ptr_array_ref(rec->volumes);
    /* Its NICs are given once every network is planned. */
    t->new_record = g_steal_pointer(&rec);
}

/* The two definitions' records of every create that is still to run:
 * the first one unfinished, the final one complete. */
static void
vp_lab_write_records(VpLabRun *run)
{
    for (guint i = 0; i < run->tasks->len; i++) {
        VpLabTask *t = g_ptr_array_index(run->tasks, i);
        if (t->new_record == NULL) {
            continue;
        }
        t->metadata_first = vp_lab_record_to_xml(t->new_record);
        t->new_record->complete = TRUE;
        t->metadata = vp_lab_record_to_xml(t->new_record);
        /* What the guest will be: reported as planned. */
        g_clear_pointer(&t->report->nics, g_ptr_array_unref);
        if (t->new_record->nics->len > 0) {
            t->report->nics = g_ptr_array_ref(t->new_record->nics);
        }
    }
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
        if (pin != NULL && !pin->report->reachable) {
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
            if (diff == VP_LAB_MOVED) {
                g->error = g_strdup_printf(_("it is pinned to host '%1$s' but is "
                                             "on '%2$s'; use %3$s to move it"),
                                           lg->host, owner->host->name,
                                           vp_run_option(&plan->run,
                                                         VP_OPTION_ERROR_REPLACE));
            } else if (diff == VP_LAB_NET_CHANGED) {
                g->error = g_strdup_printf(_("lab network '%1$s' on host '%2$s' changed since it was created; use %3$s to create it and the guest again"),
                                           vp_lab_net_drifted(owner, rec),
                                           owner->host->name,
                                           vp_run_option(&plan->run,
                                                         VP_OPTION_ERROR_REPLACE));
            } else if (diff == VP_LAB_MISSING) {
                g->error = g_strdup_printf(_("volumes of it are gone: %1$s; use "
                                             "%2$s to create it again"),
                                           (const char *)g_hash_table_lookup(
                                               owner->missing, lg->name),
                                           vp_run_option(&plan->run,
                                                         VP_OPTION_ERROR_REPLACE));
            } else {
                g->error = g_strdup_printf(_("its options changed since it was "
                                             "created; use %1$s to create it "
                                             "again"),
                                           vp_run_option(&plan->run,
                                                         VP_OPTION_ERROR_REPLACE));
            }
            return;
        }
        g->action = VP_LAB_REPLACE;
        if (lg->host == NULL) {
            target = owner;
        } else if (!(target = vp_lab_host_by_name(run, lg->host))->report->reachable) {
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
    if (lg->host == NULL) {
        vp_lab_note_away(run, g);
    }
    VpLabTask *t = vp_lab_add_task(run, target, g);
    vp_lab_prepare_records(run, t, lg, g_ptr_array_index(plan->plans, i), hash);
}

/* This lab's guests that the manifest no longer lists, and second copies
 * of a listed one (made while its first host was unreachable): every copy
 * but the one vp_lab_choose_copies() keeps. */
static void
vp_lab_plan_unlisted(VpLabRun *run)
{
    const VpLabPlan *plan = run->plan;
    gboolean remove = plan->command == VP_LAB_DESTROY ||
                      (plan->command == VP_LAB_APPLY && plan->prune);

    for (guint i = 0; i < run->hosts->len; i++) {
        VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        if (!h->report->reachable) {
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
                const char *prune = vp_run_option(&plan->run,
                                                  VP_OPTION_ERROR_PRUNE);
                g->error = listed
                    ? g_strdup_printf(_("a second copy, the guest is on host "
                                        "'%1$s' (the copy the placement "
                                        "keeps); use %2$s to delete this one "
                                        "on host '%3$s'"),
                                      owner->host->name, prune, h->host->name)
                    : g_strdup_printf(_("not in the manifest; use %1$s to "
                                        "delete it"), prune);
            }
        }
    }
}

/* 3. The plan, in manifest order; guests with nothing to do are reported
 * now, the rest as they end. */
void
vp_lab_plan_all(VpLabRun *run, GStrv hashes, gboolean act)
{
    const VpLabResult *r = run->result;

    if (vp_lab_wants_networks(run)) {
        vp_lab_find_networks(run);
    }
    vp_lab_choose_copies(run, hashes);
    for (guint i = 0; i < run->plan->lab->guests->len; i++) {
        vp_lab_plan_guest(run, i, hashes[i]);
    }
    vp_lab_plan_unlisted(run);
    vp_lab_plan_networks(run);
    vp_lab_write_records(run);
    for (guint i = 0; i < r->guests->len; i++) {
        VpLabGuestReport *g = g_ptr_array_index(r->guests, i);
        if (!act || !g_hash_table_contains(run->busy, g)) {
            vp_lab_report(run, g);
        }
    }
}
