#include "lab-proof.h"

#include <string.h>

#include <glib/gi18n.h>

#include "domain-edit.h"

static gboolean
vp_name_given(const VpLabProofView *view, const char *name)
{
    for (guint i = 0; view->names[i] != NULL; i++) {
        if (strcmp(view->names[i], name) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/* The name of a domain other than the guest that uses disk KEY. */
static const char *
vp_other_user(const VpLabProofView *view, const char *key)
{
    for (const VpLabDiskUser *u = g_hash_table_lookup(view->users, key);
         u != NULL; u = u->next) {
        if (strcmp(u->uuid, view->uuid) != 0) {
            return u->name;
        }
    }
    return NULL;
}

VpLabProof
vp_lab_proof_check(const VpLabProofView *view, const char *pool,
                   const char *name, const char *path, const char **who)
{
    g_autofree char *key = g_strdup_printf("%s/%s", pool, name);
    const char *user = NULL;

    if (who != NULL) {
        *who = NULL;
    }
    if (path == NULL) {
        return VP_LAB_PROOF_GONE;
    }
    if (!vp_name_given(view, name)) {
        return VP_LAB_PROOF_NAME;
    }
    if (strcmp(pool, view->pool) != 0) {
        return VP_LAB_PROOF_POOL;
    }
    /* A disk may name the volume by its path or by pool and volume. */
    if (!g_hash_table_contains(view->own, path) &&
        !g_hash_table_contains(view->own, key)) {
        return VP_LAB_PROOF_NOT_DISK;
    }
    user = vp_other_user(view, path);
    if (user == NULL) {
        user = vp_other_user(view, key);
    }
    if (user != NULL) {
        if (who != NULL) {
            *who = user;
        }
        return VP_LAB_PROOF_SHARED;
    }
    user = g_hash_table_lookup(view->backing, path);
    if (user != NULL) {
        if (who != NULL) {
            *who = user;
        }
        return VP_LAB_PROOF_BACKING;
    }
    return VP_LAB_PROOF_OWNED;
}

char *
vp_lab_proof_reason(VpLabProof proof, const char *pool, const char *name,
                    const VpLabProofView *view, const char *who)
{
    switch (proof) {
    case VP_LAB_PROOF_NAME:
        return g_strdup_printf(_("volume '%1$s/%2$s' does not have a name this "
                                 "tool gives a volume of guest '%3$s'"),
                               pool, name, view->guest);
    case VP_LAB_PROOF_POOL:
        return g_strdup_printf(_("volume '%1$s/%2$s' is not in pool '%3$s' of "
                                 "guest '%4$s'"),
                               pool, name, view->pool, view->guest);
    case VP_LAB_PROOF_NOT_DISK:
        return g_strdup_printf(_("volume '%1$s/%2$s' is not a disk of domain "
                                 "'%3$s'"),
                               pool, name, view->guest);
    case VP_LAB_PROOF_SHARED:
        return g_strdup_printf(_("volume '%1$s/%2$s' is a disk of domain "
                                 "'%3$s' too"),
                               pool, name, who);
    case VP_LAB_PROOF_BACKING:
        return g_strdup_printf(_("volume '%1$s/%2$s' is the backing file of "
                                 "volume '%3$s'"),
                               pool, name, who);
    case VP_LAB_PROOF_OWNED:
    case VP_LAB_PROOF_GONE:
        break;
    }
    g_return_val_if_reached(NULL);
}

static void
vp_lab_disk_user_free(gpointer data)
{
    VpLabDiskUser *u = data;

    while (u != NULL) {
        VpLabDiskUser *next = u->next;
        g_free(u->uuid);
        g_free(u->name);
        g_free(u);
        u = next;
    }
}

GHashTable *
vp_lab_disk_users_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                 vp_lab_disk_user_free);
}

/* Adds UUID (NAME) to the users of disk KEY (taken), once. */
static void
vp_add_user(GHashTable *users, char *key, const char *uuid, const char *name)
{
    VpLabDiskUser *first = g_hash_table_lookup(users, key);

    for (const VpLabDiskUser *u = first; u != NULL; u = u->next) {
        if (strcmp(u->uuid, uuid) == 0) {
            g_free(key);
            return;
        }
    }
    VpLabDiskUser *u = g_new0(VpLabDiskUser, 1);
    u->uuid = g_strdup(uuid);
    u->name = g_strdup(name);
    if (first != NULL) {
        u->next = first->next;
        first->next = u;
        g_free(key);
    } else {
        g_hash_table_insert(users, key, u);
    }
}

gboolean
vp_lab_proof_add_disks(GHashTable *users, const char *xml, const char *uuid,
                       const char *name, GError **error)
{
    g_autoptr(VpDomainDoc) doc = vp_domain_doc_parse(xml, error);

    if (doc == NULL) {
        return FALSE;
    }
    g_autoptr(GPtrArray) disks = vp_domain_disks(doc);
    for (guint i = 0; i < disks->len; i++) {
        const VpDiskInfo *d = g_ptr_array_index(disks, i);
        if (d->path != NULL) {
            vp_add_user(users, g_strdup(d->path), uuid, name);
        } else if (d->pool != NULL && d->volume != NULL) {
            vp_add_user(users, g_strdup_printf("%s/%s", d->pool, d->volume),
                        uuid, name);
        }
        /* Other sources (network disks, an empty cdrom) name no volume. */
    }
    return TRUE;
}
