/* The lab manifest: a YAML subset read into a small tree of our own, then
 * checked key by key into a VpLab.  See manifest.h for the contract and
 * manifest-private.h for the parts; this file holds the top level (lab,
 * hosts, defaults, guests in the order of the file), the hosts and the
 * entry points, above all the other parts. */
#include "manifest.h"

#include <glib/gi18n.h>

#include "error.h"
#include "manifest-private.h"
#include "read-file.h"
#include "size.h"
#include "uri.h"

/* ------------------------------------------------------------------ */
/* The top level */

static const char *const vp_top_keys[] = { "lab", "hosts", "networks",
                                           "defaults", "guests", NULL };

static void
vp_lab_host_free(gpointer data)
{
    VpLabHost *h = data;
    g_free(h->name);
    g_free(h->uri);
    g_free(h);
}

static gboolean
vp_parse_hosts(const VpLabCtx *ctx, VpLab *lab, const VpYNode *key,
               const VpYNode *value, GError **error)
{
    if (vp_y_is_null(value)) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'hosts' is empty; declare at least one, such as 'hv1: qemu:///system'"));
        return FALSE;
    }
    if (value->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'hosts' is a mapping of host names to libvirt URIs; write it as 'hv1: qemu+ssh://root@hv1.example/system'"));
        return FALSE;
    }
    if (value->items->len == 0) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'hosts' is empty; declare at least one, such as 'hv1: qemu:///system'"));
        return FALSE;
    }
    g_autoptr(GHashTable) uris = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i + 1 < value->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(value->items, i);
        const VpYNode *v = g_ptr_array_index(value->items, i + 1);
        if (!vp_check_name(ctx, k, VP_NAME_HOST, error) ||
            !vp_expect_text(ctx, k, v, "qemu:///system", error)) {
            return FALSE;
        }
        /* libvirt parses the URI when it connects; a scheme at least
         * catches a host name or a path given in its place. */
        if (g_uri_peek_scheme(v->text) == NULL) {
            vp_lab_error(error, ctx, v->line, v->column,
                         _("host '%1$s' has '%2$s', which is not a libvirt URI; use one such as qemu+ssh://root@%1$s.example/system"),
                         k->text, v->text);
            return FALSE;
        }
        /* Checked before anything connects: a manifest may come from
         * someone else, and its URI must not run their program here. */
        GError *cause = NULL;
        if (!vp_uri_check(v->text, &cause)) {
            vp_lab_locate(error, ctx, v->line, v->column, cause);
            return FALSE;
        }
        /* Two names for one host would let placement count it twice. */
        const VpLabHost *same = g_hash_table_lookup(uris, v->text);
        if (same != NULL) {
            vp_lab_error(error, ctx, v->line, v->column,
                         _("hosts '%1$s' and '%2$s' have the same URI; declare each host once"),
                         same->name, k->text);
            return FALSE;
        }
        VpLabHost *h = g_new0(VpLabHost, 1);
        h->name = g_strdup(k->text);
        h->uri = g_strdup(v->text);
        h->line = k->line;
        h->column = k->column;
        g_ptr_array_add(lab->hosts, h);
        g_hash_table_insert(uris, h->uri, h);
    }
    return TRUE;
}

static gboolean vp_parse_top_key(VpLabBuild *b, gsize which, const VpYNode *k,
                                 const VpYNode *v, GError **error);

static gboolean
vp_parse_top(VpLabBuild *b, const VpYNode *root, GError **error)
{
    const VpLabCtx *ctx = b->ctx;
    if (root->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, root->line, root->column,
                     _("a lab manifest is a mapping of lab, hosts, defaults and guests; start it with 'lab: NAME'"));
        return FALSE;
    }
    const VpYNode *found[G_N_ELEMENTS(vp_top_keys)][2] = { { NULL } };
    for (guint i = 0; i + 1 < root->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(root->items, i);
        gsize which = 0;
        while (vp_top_keys[which] != NULL &&
               !g_str_equal(vp_top_keys[which], k->text)) {
            which++;
        }
        if (vp_top_keys[which] == NULL) {
            const char *hint = vp_suggest(k->text, vp_top_keys, FALSE);
            if (hint != NULL) {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("unknown key '%1$s'; did you mean '%2$s'?"),
                             k->text, hint);
            } else if (vp_key_info(k->text) != NULL) {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("'%1$s' is a guest key; put it under 'defaults' or under a guest"),
                             k->text);
            } else {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("unknown key '%1$s'; a manifest has lab, hosts, defaults and guests, and may have networks"),
                             k->text);
            }
            return FALSE;
        }
        found[which][0] = k;
        found[which][1] = g_ptr_array_index(root->items, i + 1);
    }
    /* Each key in turn, so that problems are reported in the order of
     * the file where they can be; hosts before guests, which name them. */
    static const char *const examples[] = { "lab: ci-42",
                                            "hosts: {hv1: qemu:///system}",
                                            NULL, NULL, "guests: [{name: web}]" };
    for (gsize i = 0; vp_top_keys[i] != NULL; i++) {
        if (found[i][0] == NULL && examples[i] != NULL) {
            vp_lab_error(error, ctx, root->line, root->column,
                         _("the manifest has no '%1$s'; add it, such as '%2$s'"),
                         vp_top_keys[i], examples[i]);
            return FALSE;
        }
        if (found[i][0] != NULL && !vp_parse_top_key(b, i, found[i][0],
                                                     found[i][1], error)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* The value of the top-level key vp_top_keys[WHICH]. */
static gboolean
vp_parse_top_key(VpLabBuild *b, gsize which, const VpYNode *k,
                 const VpYNode *v, GError **error)
{
    const VpLabCtx *ctx = b->ctx;
    switch (which) {
    case 0:
        if (!vp_expect_text(ctx, k, v, "ci-42", error) ||
            !vp_check_name(ctx, v, VP_NAME_LAB, error)) {
            return FALSE;
        }
        b->lab->lab = g_strdup(v->text);
        return TRUE;
    case 1:
        return vp_parse_hosts(ctx, b->lab, k, v, error);
    case 2:
        return vp_parse_networks(ctx, b->lab, k, v, error);
    case 3:
        return vp_parse_defaults(b, v, error);
    default:
        break;
    }
    if (vp_y_is_null(v) ||
        (v->kind == VP_Y_SEQUENCE && v->items->len == 0)) {
        vp_lab_error(error, ctx, k->line, k->column,
                     _("'guests' is empty; list at least one, such as '- name: web'"));
        return FALSE;
    }
    if (v->kind != VP_Y_SEQUENCE) {
        vp_lab_error(error, ctx, v->line, v->column,
                     _("'guests' is a list; write each guest as '- name: web'"));
        return FALSE;
    }
    for (guint i = 0; i < v->items->len; i++) {
        if (!vp_parse_guest(b, g_ptr_array_index(v->items, i), error)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Entry points */

void
vp_lab_free(VpLab *lab)
{
    if (lab == NULL) {
        return;
    }
    g_free(lab->lab);
    g_free(lab->path);
    g_clear_pointer(&lab->hosts, g_ptr_array_unref);
    g_clear_pointer(&lab->networks, g_ptr_array_unref);
    g_clear_pointer(&lab->guests, g_ptr_array_unref);
    g_free(lab);
}

VpLab *
vp_lab_parse(const char *text, gsize len, const char *path,
             const char *const *allowed, GError **error)
{
    g_return_val_if_fail(text != NULL || len == 0, NULL);
    g_return_val_if_fail(path != NULL, NULL);

    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *abs_dir = g_canonicalize_filename(dir, NULL);
    g_autoptr(GPtrArray) roots = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) networks = g_hash_table_new(g_str_hash, g_str_equal);
    VpLabCtx ctx = { .path = path, .dir = abs_dir, .roots = roots,
                     .text = text, .len = len, .networks = networks };
    vp_lab_add_root(roots, abs_dir, FALSE, NULL);
    for (gsize i = 0; allowed != NULL && allowed[i] != NULL; i++) {
        if (!vp_lab_add_root(roots, allowed[i], TRUE, error)) {
            return NULL;
        }
    }

    if (len > VP_LAB_MAX_FILE) {
        g_autofree char *cap = vp_size_format(VP_LAB_MAX_FILE);
        vp_lab_error(error, &ctx, 1, 1,
                     _("the manifest is larger than the limit of %1$s; make it smaller, or split the lab"),
                     cap);
        return NULL;
    }
    g_autoptr(VpYNode) root = NULL;
    if (!vp_lab_yaml_read(&ctx, text != NULL ? text : "", len, &root, error)) {
        return NULL;
    }
    if (root == NULL) {
        vp_lab_error(error, &ctx, 1, 1,
                     _("the manifest is empty; write a lab, its hosts and its guests (see the Labs section of the manual)"));
        return NULL;
    }

    g_autoptr(VpLab) lab = g_new0(VpLab, 1);
    lab->path = g_strdup(path);
    lab->hosts = g_ptr_array_new_with_free_func(vp_lab_host_free);
    lab->networks = g_ptr_array_new_with_free_func(vp_lab_network_free);
    lab->guests = g_ptr_array_new_with_free_func(vp_lab_guest_free);
    VpLabBuild b = {
        .ctx = &ctx,
        .lab = lab,
        .names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    vp_key_set_init(&b.defaults);
    gboolean ok = vp_parse_top(&b, root, error);
    vp_key_set_clear(&b.defaults);
    g_hash_table_unref(b.names);
    return ok ? g_steal_pointer(&lab) : NULL;
}

VpLab *
vp_lab_load(const char *path, const char *const *allowed, GError **error)
{
    gsize len = 0;
    gboolean too_big = FALSE;
    int err = 0;
    g_autofree char *text = vp_read_file_bounded(path, VP_LAB_MAX_FILE, &len,
                                            &too_big, &err);
    if (text == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("cannot read lab manifest '%1$s': %2$s; check the path"),
                    path, g_strerror(err));
        return NULL;
    }
    /* vp_lab_parse() refuses the length with the same message; it never
     * sees more than one byte past the limit. */
    return vp_lab_parse(text, len, path, allowed, error);
}

const VpLabGuest *
vp_lab_find_guest(const VpLab *lab, const char *name)
{
    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *g = g_ptr_array_index(lab->guests, i);
        if (g_str_equal(g->name, name)) {
            return g;
        }
    }
    return NULL;
}
