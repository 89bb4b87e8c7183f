/* The guests of a lab manifest: the provision keys of defaults and of
 * each entry, merged, checked as a whole and expanded by count into
 * VpLabGuest (manifest-private.h). */
#include "manifest-private.h"

#include <string.h>

#include <glib/gi18n.h>

static void
vp_opt_value_free(gpointer data)
{
    VpOptValue *v = data;
    g_free(v->text);
    g_free(v->file);
    g_free(v);
}

void
vp_key_set_clear(VpKeySet *s)
{
    g_clear_pointer(&s->values, g_hash_table_unref);
    g_clear_pointer(&s->seed, vp_seed_options_free);
}

void
vp_key_set_init(VpKeySet *s)
{
    s->values = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                      vp_opt_value_free);
    s->seed = NULL;
}

/* Adds the provision key KEY: VALUE to SET; FALSE with an error for an
 * unknown key or a bad value. */
static gboolean
vp_key_set_add(const VpLabCtx *ctx, VpKeySet *set, const VpYNode *key,
               const VpYNode *value, gboolean in_defaults, GError **error)
{
    const VpOptionInfo *info = vp_key_info(key->text);
    if (info == NULL) {
        vp_unknown_key(ctx, key, in_defaults, error);
        return FALSE;
    }
    const char *name = info->name;
    VpOptValue *v = g_new0(VpOptValue, 1);
    v->line = key->line;
    v->column = key->column;
    g_hash_table_insert(set->values, (gpointer)name, v);
    if (g_str_equal(name, "cloud-init")) {
        if (!vp_parse_cloud_init(ctx, key, value, &set->seed, error)) {
            return FALSE;
        }
        v->text = set->seed != NULL ? g_strdup("true") : NULL;
        return TRUE;
    }
    if (!vp_check_value(ctx, info, key, value, &v->text, error)) {
        return FALSE;
    }
    /* A base that is a file here is read here: checked like a seed file,
     * and an image, before any host sees it. */
    if (g_str_equal(name, "base") && vp_lab_base_is_file(v->text)) {
        return vp_lab_file(ctx, key, value, TRUE, &v->file, error);
    }
    return TRUE;
}

static gboolean
vp_has(GHashTable *merged, const char *key)
{
    const VpOptValue *v = g_hash_table_lookup(merged, key);
    return v != NULL && v->text != NULL;
}

/* What provision itself would refuse about the combination of a guest's
 * keys (cmd-provision.c, provision-args.c), reported at the entry since
 * the keys may come from defaults. */
static gboolean
vp_check_combination(const VpLabCtx *ctx, const char *name, guint line,
                     guint column, GHashTable *merged, GError **error)
{
    static const char *const qcow2_only[] = { "cluster-size", "compat",
                                              "refcount-bits", "lazy-refcounts",
                                              "extended-l2", NULL };
    if (!vp_has(merged, "pool")) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has no pool; add 'pool: default' to it or to defaults"),
                     name);
        return FALSE;
    }
    if (!vp_has(merged, "size") && !vp_has(merged, "base")) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has neither size nor base; add 'size: 20G' or 'base: VOLUME' to it or to defaults"),
                     name);
        return FALSE;
    }
    if (vp_has(merged, "cdrom") + vp_has(merged, "kernel") +
        vp_has(merged, "import") > 1) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has more than one of cdrom, kernel and import; choose one way to install"),
                     name);
        return FALSE;
    }
    if ((vp_has(merged, "initrd") || vp_has(merged, "cmdline")) &&
        !vp_has(merged, "kernel")) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has initrd or cmdline without kernel; add kernel or remove them"),
                     name);
        return FALSE;
    }
    const VpOptValue *format = g_hash_table_lookup(merged, "format");
    if (format != NULL && g_strcmp0(format->text, "raw") == 0) {
        for (gsize i = 0; qcow2_only[i] != NULL; i++) {
            if (vp_has(merged, qcow2_only[i])) {
                vp_lab_error(error, ctx, line, column,
                             _("guest '%1$s' has format raw, to which '%2$s' does not apply; remove it or use format qcow2"),
                             name, qcow2_only[i]);
                return FALSE;
            }
        }
    }
    return TRUE;
}

void
vp_lab_guest_free(gpointer data)
{
    VpLabGuest *g = data;
    g_free(g->name);
    g_free(g->manifest_name);
    g_free(g->host);
    g_free(g->base_file);
    g_clear_pointer(&g->options, g_hash_table_unref);
    vp_seed_options_free(g->cloud_init);
    g_free(g);
}

/* Where a guest name was first used, for the duplicate message. */
typedef struct {
    guint line, column;
    gboolean counted; /* made by a count */
} VpNameSite;

/* One entry of 'guests' as written: its own keys besides OWN. */
typedef struct {
    const VpYNode *entry;
    const VpYNode *name;
    const VpYNode *host;       /* NULL: placed by the planner */
    guint64 count;             /* 0: no count, the name stays as it is */
    const VpYNode *count_node; /* NULL without a count */
} VpGuestEntry;

/* Reads the keys of ENTRY: name, host and count into E, the provision
 * keys into OWN, each checked in the order of the file. */
static gboolean
vp_read_entry(const VpLabCtx *ctx, const VpYNode *entry, VpGuestEntry *e,
              VpKeySet *own, GError **error)
{
    if (entry->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, entry->line, entry->column,
                     _("a guest is a mapping with at least a name; write it as '- name: web'"));
        return FALSE;
    }
    *e = (VpGuestEntry){ .entry = entry };
    for (guint i = 0; i + 1 < entry->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(entry->items, i);
        const VpYNode *v = g_ptr_array_index(entry->items, i + 1);
        if (g_str_equal(k->text, "name")) {
            if (!vp_expect_text(ctx, k, v, "web", error) ||
                !vp_check_name(ctx, v, VP_NAME_GUEST, error)) {
                return FALSE;
            }
            e->name = v;
        } else if (g_str_equal(k->text, "host")) {
            if (!vp_expect_text(ctx, k, v, "hv1", error)) {
                return FALSE;
            }
            e->host = v;
        } else if (g_str_equal(k->text, "count")) {
            static const char *hint = N_("a whole number from 1 to 1000");
            if (!vp_expect_scalar(ctx, k, v, "3", error) ||
                !vp_refuse_quoted(ctx, k, v, hint, error)) {
                return FALSE;
            }
            if (!vp_parse_integer(v->text, 1, VP_LAB_MAX_COUNT, &e->count)) {
                vp_invalid_value(error, ctx, k, v, hint);
                return FALSE;
            }
            e->count_node = v;
        } else if (!vp_key_set_add(ctx, own, k, v, FALSE, error)) {
            return FALSE;
        }
    }
    if (e->name == NULL) {
        vp_lab_error(error, ctx, entry->line, entry->column,
                     _("this guest has no name; add one, such as 'name: web'"));
        return FALSE;
    }
    return TRUE;
}

/* The host HOST names is declared under 'hosts' (read before 'guests'). */
static gboolean
vp_check_host(const VpLabBuild *b, const VpYNode *host, GError **error)
{
    gboolean declared = FALSE;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    for (guint i = 0; i < b->lab->hosts->len; i++) {
        const VpLabHost *h = g_ptr_array_index(b->lab->hosts, i);
        declared = declared || g_str_equal(h->name, host->text);
        g_ptr_array_add(names, h->name);
    }
    g_ptr_array_add(names, NULL);
    if (!declared) {
        g_autofree char *known = g_strjoinv(", ", (char **)names->pdata);
        vp_lab_error(error, b->ctx, host->line, host->column,
                     _("host '%1$s' is not declared under 'hosts'; declare it or use one of %2$s"),
                     host->text, known);
        return FALSE;
    }
    return TRUE;
}

/* DEFAULTS under OWN, the guest's own keys: key -> VpOptValue, borrowed
 * from both.  A false of the guest removes a default (its value has no
 * text). */
static GHashTable *
vp_merge_keys(const VpKeySet *defaults, const VpKeySet *own)
{
    GHashTable *merged = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, defaults->values);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_insert(merged, key, value);
    }
    g_hash_table_iter_init(&it, own->values);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_insert(merged, key, value);
    }
    return merged;
}

/* The N guests of E fit: the last name a count makes is not too long,
 * and the lab stays within VP_LAB_MAX_GUESTS. */
static gboolean
vp_check_expansion(const VpLabBuild *b, const VpGuestEntry *e, guint n,
                   GError **error)
{
    const VpYNode *name = e->name;
    if (e->count > 0) {
        g_autofree char *last = g_strdup_printf("%s-%u", name->text, n);
        if (strlen(last) > VP_LAB_MAX_NAME) {
            vp_lab_error(error, b->ctx, name->line, name->column,
                         _("guest name '%1$s' with its count makes '%2$s', longer than 64 characters; shorten the name"),
                         name->text, last);
            return FALSE;
        }
    }
    if (b->lab->guests->len + n > VP_LAB_MAX_GUESTS) {
        const VpYNode *at = e->count_node != NULL ? e->count_node : name;
        vp_lab_error(error, b->ctx, at->line, at->column,
                     _("the lab has more than %1$u guests; split it into several labs"),
                     (guint)VP_LAB_MAX_GUESTS);
        return FALSE;
    }
    return TRUE;
}

/* Records GNAME, a guest of E, as taken; refuses a name taken already. */
static gboolean
vp_claim_name(VpLabBuild *b, const VpGuestEntry *e, const char *gname,
              GError **error)
{
    const VpYNode *name = e->name;
    const VpNameSite *site = g_hash_table_lookup(b->names, gname);
    if (site != NULL) {
        if (site->counted || e->count > 0) {
            vp_lab_error(error, b->ctx, name->line, name->column,
                         _("guest name '%1$s' is already taken by the guest at line %2$u, column %3$u (a count of N names guests NAME-1 to NAME-N); rename one of them"),
                         gname, site->line, site->column);
        } else {
            vp_lab_error(error, b->ctx, name->line, name->column,
                         _("guest name '%1$s' is already taken by the guest at line %2$u, column %3$u; rename one of them"),
                         gname, site->line, site->column);
        }
        return FALSE;
    }
    VpNameSite *mine = g_new0(VpNameSite, 1);
    mine->line = e->entry->line;
    mine->column = e->entry->column;
    mine->counted = e->count > 0;
    g_hash_table_insert(b->names, g_strdup(gname), mine);
    return TRUE;
}

/* The guest GNAME (taken) of E, with the MERGED keys and SEED (may be
 * NULL) copied. */
static VpLabGuest *
vp_guest_new(const VpGuestEntry *e, char *gname, GHashTable *merged,
             const VpSeedOptions *seed)
{
    VpLabGuest *g = g_new0(VpLabGuest, 1);
    g->name = gname;
    g->manifest_name = g_strdup(e->name->text);
    g->host = e->host != NULL ? g_strdup(e->host->text) : NULL;
    g->options = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       g_free);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, merged);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const VpOptValue *v = value;
        if (v->text != NULL && !g_str_equal(key, "cloud-init")) {
            g_hash_table_insert(g->options, g_strdup(key), g_strdup(v->text));
        }
    }
    const VpOptValue *base = g_hash_table_lookup(merged, "base");
    g->base_file = base != NULL ? g_strdup(base->file) : NULL;
    g->cloud_init = seed != NULL ? vp_seed_options_copy(seed) : NULL;
    g->line = e->entry->line;
    g->column = e->entry->column;
    return g;
}

gboolean
vp_parse_guest(VpLabBuild *b, const VpYNode *entry, GError **error)
{
    g_auto(VpKeySet) own = { 0 };
    vp_key_set_init(&own);
    VpGuestEntry e;
    if (!vp_read_entry(b->ctx, entry, &e, &own, error) ||
        (e.host != NULL && !vp_check_host(b, e.host, error))) {
        return FALSE;
    }

    /* The guest's cloud-init replaces the default one whole (seed files
     * do not combine key by key). */
    g_autoptr(GHashTable) merged = vp_merge_keys(&b->defaults, &own);
    const VpSeedOptions *seed = g_hash_table_contains(own.values, "cloud-init")
                                ? own.seed : b->defaults.seed;
    if (!vp_check_combination(b->ctx, e.name->text, entry->line,
                              entry->column, merged, error)) {
        return FALSE;
    }

    const VpOptValue *net = g_hash_table_lookup(merged, "network");
    if (!vp_lab_check_addresses(b->ctx, b->lab, e.name->text,
                                e.host != NULL ? e.host->text : NULL,
                                net != NULL ? net->text : NULL,
                                net != NULL ? net->line : entry->line,
                                net != NULL ? net->column : entry->column, error)) {
        return FALSE;
    }

    /* An explicit count expands even when it is 1, so that raising it
     * later does not rename the guest that exists. */
    guint n = e.count > 0 ? (guint)e.count : 1;
    if (!vp_check_expansion(b, &e, n, error)) {
        return FALSE;
    }
    for (guint i = 1; i <= n; i++) {
        g_autofree char *gname = e.count > 0
                                 ? g_strdup_printf("%s-%u", e.name->text, i)
                                 : g_strdup(e.name->text);
        if (!vp_claim_name(b, &e, gname, error)) {
            return FALSE;
        }
        g_ptr_array_add(b->lab->guests,
                        vp_guest_new(&e, g_steal_pointer(&gname), merged, seed));
    }
    return TRUE;
}

gboolean
vp_parse_defaults(VpLabBuild *b, const VpYNode *value, GError **error)
{
    /* "defaults:" with nothing under it is no defaults. */
    if (vp_y_is_null(value)) {
        return TRUE;
    }
    if (value->kind != VP_Y_MAPPING) {
        vp_lab_error(error, b->ctx, value->line, value->column,
                     _("'defaults' is a mapping of guest keys; write it as 'pool: default' lines under it"));
        return FALSE;
    }
    for (guint i = 0; i + 1 < value->items->len; i += 2) {
        if (!vp_key_set_add(b->ctx, &b->defaults,
                            g_ptr_array_index(value->items, i),
                            g_ptr_array_index(value->items, i + 1), TRUE,
                            error)) {
            return FALSE;
        }
    }
    return TRUE;
}
