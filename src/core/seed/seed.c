/* The NoCloud seed's model: its options, the files read once for every
 * guest that names them (VpSeedFiles), and a guest's seed (VpSeed), all
 * in memory.  See seed.h for the contract and seed-private.h for the
 * parts. */
#include "seed.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "provision-options.h"
#include "read-file.h"
#include "seed-private.h"
#include "yaml-util.h"

struct VpSeed {
    GBytes *user_data;
    GBytes *meta_data;
    GBytes *network_config; /* NULL when none */
};

/* An atomic reference-counted box (g_atomic_rc_box): a lab's threads
 * share one. */
struct VpSeedFiles {
    GBytes *user_data;      /* NULL: none given */
    VpUserDataKind kind;
    gboolean has_users;     /* the user's cloud-config has a users key */
    GBytes *meta_data;      /* NULL: none given */
    gboolean meta_complete; /* it has instance-id and local-hostname */
    /* An incomplete meta-data's tree (NULL: it holds no node), which each
     * seed copies to add what it lacks.  libfyaml documents are not for
     * use by several threads at once, copying included: META_LOCK. */
    struct fy_document *meta_doc;
    GMutex meta_lock;
    GBytes *network_config; /* NULL: none given */
    GPtrArray *root_keys;   /* key lines, may be empty */
    GPtrArray *user_keys;   /* the key file's, or ~/.ssh's; may be empty */
};

/* ------------------------------------------------------------------ */
/* Options */

void
vp_seed_options_clear(VpSeedOptions *opts)
{
    g_free(opts->user_data);
    g_free(opts->meta_data);
    g_free(opts->network_config);
    g_free(opts->root_ssh_key);
    g_free(opts->clouduser_ssh_key);
    g_clear_pointer(&opts->files, vp_seed_files_unref);
    *opts = (VpSeedOptions){ 0 };
}

VpSeedOptions *
vp_seed_options_copy(const VpSeedOptions *o)
{
    VpSeedOptions *c = g_new0(VpSeedOptions, 1);
    c->user_data = g_strdup(o->user_data);
    c->meta_data = g_strdup(o->meta_data);
    c->network_config = g_strdup(o->network_config);
    c->root_ssh_key = g_strdup(o->root_ssh_key);
    c->clouduser_ssh_key = g_strdup(o->clouduser_ssh_key);
    c->disable = o->disable;
    return c;
}

void
vp_seed_options_free(VpSeedOptions *opts)
{
    if (opts != NULL) {
        vp_seed_options_clear(opts);
        g_free(opts);
    }
}

gboolean
vp_seed_options_same_files(const VpSeedOptions *a, const VpSeedOptions *b)
{
    return g_strcmp0(a->user_data, b->user_data) == 0 &&
           g_strcmp0(a->meta_data, b->meta_data) == 0 &&
           g_strcmp0(a->network_config, b->network_config) == 0 &&
           g_strcmp0(a->root_ssh_key, b->root_ssh_key) == 0 &&
           g_strcmp0(a->clouduser_ssh_key, b->clouduser_ssh_key) == 0;
}

char **
vp_seed_options_slot(VpSeedOptions *o, const char *name)
{
    return g_str_equal(name, "user-data") ? &o->user_data
           : g_str_equal(name, "meta-data") ? &o->meta_data
           : g_str_equal(name, "network-config") ? &o->network_config
           : g_str_equal(name, "root-ssh-key") ? &o->root_ssh_key
           : g_str_equal(name, "clouduser-ssh-key") ? &o->clouduser_ssh_key
                                                   : NULL;
}

gboolean
vp_seed_options_parse(const char *text, VpSeedOptions *opts, GError **error)
{
    /* The keys and their checks are the option schema's, shared with the
     * manifest's cloud-init mapping. */
    g_autoptr(GPtrArray) items =
        vp_suboptions_parse(vp_option_find("cloud-init"), text, error);
    g_auto(VpSeedOptions) parsed = { 0 };

    if (items == NULL) {
        return FALSE;
    }
    for (guint i = 0; i < items->len; i++) {
        const VpSubItem *it = g_ptr_array_index(items, i);
        char **slot = vp_seed_options_slot(&parsed, it->sub->name);
        if (slot != NULL) {
            *slot = g_strdup(it->value);
        } else {
            vp_switch_parse(it->value, &parsed.disable);
        }
    }
    vp_seed_options_clear(opts);
    *opts = parsed;
    parsed = (VpSeedOptions){ 0 };
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Loading */

void
vp_seed_free(VpSeed *seed)
{
    if (seed == NULL) {
        return;
    }
    g_clear_pointer(&seed->user_data, g_bytes_unref);
    g_clear_pointer(&seed->meta_data, g_bytes_unref);
    g_clear_pointer(&seed->network_config, g_bytes_unref);
    g_free(seed);
}

GBytes *
vp_seed_get_user_data(const VpSeed *seed)
{
    return seed->user_data;
}

GBytes *
vp_seed_get_meta_data(const VpSeed *seed)
{
    return seed->meta_data;
}

GBytes *
vp_seed_get_network_config(const VpSeed *seed)
{
    return seed->network_config;
}

/* HOSTNAME and INSTANCE_ID are data wherever they go, but they must be
 * text, and libfyaml's emitter drops leading and trailing spaces.  WHAT is
 * the meta-data key they become, not translated. */
static gboolean
vp_seed_check_name(const char *value, const char *what, GError **error)
{
    if (value == NULL || *value == '\0') {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("the seed's %1$s is empty; give a non-empty value"),
                    what);
        return FALSE;
    }
    if (!g_utf8_validate(value, -1, NULL)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("the seed's %1$s is not UTF-8 text; give a UTF-8 value"),
                    what);
        return FALSE;
    }
    gsize len = strlen(value);
    if (value[0] == ' ' || value[len - 1] == ' ') {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("the seed's %1$s '%2$s' begins or ends with a space; remove it"),
                    what, value);
        return FALSE;
    }
    return TRUE;
}

static void
vp_seed_files_clear(gpointer data)
{
    VpSeedFiles *files = data;
    g_clear_pointer(&files->user_data, g_bytes_unref);
    g_clear_pointer(&files->meta_data, g_bytes_unref);
    g_clear_pointer(&files->meta_doc, fy_document_destroy);
    g_mutex_clear(&files->meta_lock);
    g_clear_pointer(&files->network_config, g_bytes_unref);
    g_clear_pointer(&files->root_keys, g_ptr_array_unref);
    g_clear_pointer(&files->user_keys, g_ptr_array_unref);
}

VpSeedFiles *
vp_seed_files_ref(VpSeedFiles *files)
{
    return g_atomic_rc_box_acquire(files);
}

void
vp_seed_files_unref(VpSeedFiles *files)
{
    if (files != NULL) {
        g_atomic_rc_box_release_full(files, vp_seed_files_clear);
    }
}

VpSeedFiles *
vp_seed_files_load(const VpSeedOptions *opts, GError **error)
{
    g_autoptr(VpSeedFiles) files = g_atomic_rc_box_new0(VpSeedFiles);
    g_mutex_init(&files->meta_lock);
    files->root_keys = g_ptr_array_new_with_free_func(g_free);
    files->user_keys = g_ptr_array_new_with_free_func(g_free);
    if ((opts->root_ssh_key != NULL &&
         !vp_ssh_keys_read(opts->root_ssh_key, FALSE, files->root_keys,
                           error)) ||
        (opts->clouduser_ssh_key != NULL &&
         !vp_ssh_keys_read(opts->clouduser_ssh_key, FALSE, files->user_keys,
                           error))) {
        return NULL;
    }

    if (opts->meta_data != NULL) {
        g_autoptr(VpFyDocument) doc = NULL;
        files->meta_data = vp_seed_read_mapping(opts->meta_data, "meta-data",
                                                TRUE, &doc, error);
        if (files->meta_data == NULL) {
            return NULL;
        }
        struct fy_node *root = doc != NULL ? fy_document_root(doc) : NULL;
        files->meta_complete =
            root != NULL &&
            fy_node_mapping_lookup_by_string(root, "instance-id", FY_NT) != NULL &&
            fy_node_mapping_lookup_by_string(root, "local-hostname", FY_NT) != NULL;
        if (!files->meta_complete) {
            files->meta_doc = g_steal_pointer(&doc);
        }
    }

    /* network-config, kept as the user wrote it */
    if (opts->network_config != NULL) {
        g_autoptr(VpFyDocument) doc = NULL;
        files->network_config = vp_seed_read_mapping(opts->network_config,
                                                     "network-config", FALSE,
                                                     &doc, error);
        if (files->network_config == NULL) {
            return NULL;
        }
    }

    if (opts->user_data != NULL) {
        gsize len = 0;
        g_autofree char *text = vp_read_text_file(opts->user_data, "user-data",
                                                  VP_SEED_MAX_FILE, &len, error);
        if (text == NULL ||
            !vp_user_data_check(text, len, opts->user_data, &files->kind,
                                &files->has_users, error)) {
            return NULL;
        }
        files->user_data = g_bytes_new_take(g_steal_pointer(&text), len);
    } else if (opts->root_ssh_key == NULL && opts->clouduser_ssh_key == NULL &&
               !vp_ssh_keys_of_user(files->user_keys, error)) {
        return NULL;
    }
    return g_steal_pointer(&files);
}

/* The seed's meta-data: the user's file as it is, or completed with this
 * guest's instance-id and local-hostname where it lacks them. */
static GBytes *
vp_seed_meta_data(VpSeedFiles *files, const char *instance_id,
                  const char *hostname)
{
    if (files->meta_data != NULL && files->meta_complete) {
        return g_bytes_ref(files->meta_data);
    }
    g_autoptr(VpFyDocument) doc = NULL;
    if (files->meta_doc != NULL) {
        g_mutex_lock(&files->meta_lock);
        doc = fy_document_clone(files->meta_doc);
        g_mutex_unlock(&files->meta_lock);
        if (doc == NULL) {
            g_error("libfyaml: out of memory");
        }
    }
    char *meta = vp_meta_data_complete(doc, instance_id, hostname);
    return g_bytes_new_take(meta, strlen(meta));
}

VpSeed *
vp_seed_load(const VpSeedOptions *opts, const char *hostname,
             const char *instance_id, GError **error)
{
    if (!vp_seed_check_name(hostname, "local-hostname", error) ||
        !vp_seed_check_name(instance_id, "instance-id", error)) {
        return NULL;
    }
    g_autoptr(VpSeedFiles) own = NULL;
    VpSeedFiles *files = opts->files;
    if (files == NULL) {
        own = vp_seed_files_load(opts, error);
        if (own == NULL) {
            return NULL;
        }
        files = own;
    }

    g_autoptr(VpSeed) seed = g_new0(VpSeed, 1);
    seed->meta_data = vp_seed_meta_data(files, instance_id, hostname);
    if (files->network_config != NULL) {
        seed->network_config = g_bytes_ref(files->network_config);
    }

    VpCloudConfig cc = {
        .root_keys = files->root_keys,
        .user_keys = files->user_keys,
        .keep_users = files->has_users,
        .disable = opts->disable,
    };
    g_autofree char *user_data = NULL;
    if (files->user_data == NULL) {
        cc.hostname = hostname;
        user_data = vp_cloud_config_emit(&cc);
    } else if (files->root_keys->len == 0 && files->user_keys->len == 0 &&
               !opts->disable) {
        seed->user_data = g_bytes_ref(files->user_data);
        return g_steal_pointer(&seed);
    } else {
        cc.merge = TRUE;
        g_autofree char *ours = vp_cloud_config_emit(&cc);
        gsize len = 0;
        /* NUL-terminated: the bytes of vp_read_text_file(). */
        const char *text = g_bytes_get_data(files->user_data, &len);
        user_data = vp_mime_build(text, len, files->kind, ours);
    }
    gsize user_len = strlen(user_data);
    seed->user_data = g_bytes_new_take(g_steal_pointer(&user_data), user_len);
    return g_steal_pointer(&seed);
}
