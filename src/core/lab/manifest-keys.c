/* A lab manifest's keys: which provision options a guest (or defaults)
 * may set and how their values are checked, by the option schema
 * (provision-options.h); the names of labs, hosts and guests; the
 * suggestion for a mistyped key (manifest-private.h). */
#include "manifest-private.h"

#include <string.h>

#include <glib/gi18n.h>

#include "provision-options.h"
#include "size.h"

/* ------------------------------------------------------------------ */
/* Keys */

/* Keys of a guest entry that are not provision options. */
static const char *const vp_entry_keys[] = { "name", "host", "count", NULL };

const VpOptionInfo *
vp_key_info(const char *name)
{
    /* The option schema is the table; a lab sets what it marks VP_OPT_LAB. */
    const VpOptionInfo *info = vp_option_find(name);
    return info != NULL && (info->flags & VP_OPT_LAB) ? info : NULL;
}

/* The one known key within edit distance 2 of KEY that is nearer than any
 * other, or NULL: a suggestion is only useful when it is unambiguous.
 * The known keys are NAMES (NULL-terminated, may be NULL) and, with
 * GUEST_KEYS, the provision keys. */
const char *
vp_suggest(const char *key, const char *const *names, gboolean guest_keys)
{
    const char *best = NULL;
    guint best_d = 3;
    gboolean tie = FALSE;
    gsize n_names = names != NULL ? g_strv_length((char **)names) : 0;
    gsize n_options = 0;
    const VpOptionInfo *options = vp_options(&n_options);
    for (gsize i = 0; i < n_names + (guest_keys ? n_options : 0); i++) {
        if (i >= n_names && !(options[i - n_names].flags & VP_OPT_LAB)) {
            continue;
        }
        const char *known = i < n_names ? names[i] : options[i - n_names].name;
        guint d = vp_edit_distance(key, known, 2);
        if (d < best_d) {
            best = known;
            best_d = d;
            tie = FALSE;
        } else if (d == best_d) {
            tie = TRUE;
        }
    }
    return tie ? NULL : best;
}

/* ------------------------------------------------------------------ */
/* Values */

/* A value that must be one scalar: refuses collections (at the value) and
 * null or empty text (at the key, since an absent value has no place of
 * its own). */
gboolean
vp_expect_scalar(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
                 const char *example, GError **error)
{
    if (value->kind != VP_Y_SCALAR) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' takes one value, not a mapping or a list; write it as '%1$s: %2$s'"),
                     key->text, example);
        return FALSE;
    }
    if (vp_y_is_null(value) || value->text[0] == '\0') {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'%1$s' has no value; give one, such as '%1$s: %2$s', or remove the key"),
                     key->text, example);
        return FALSE;
    }
    return TRUE;
}

/* Text for a key that takes text: a number is taken as written (a pool
 * may be called 2024), a boolean is a mistake. */
gboolean
vp_expect_text(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
               const char *example, GError **error)
{
    if (!vp_expect_scalar(ctx, key, value, example, error)) {
        return FALSE;
    }
    if (vp_y_bool(value) >= 0) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' takes a value such as '%2$s', not true or false; give one, or remove the key"),
                     key->text, example);
        return FALSE;
    }
    return TRUE;
}

void
vp_invalid_value(GError **error, const VpLabCtx *ctx, const VpYNode *key,
                 const VpYNode *value, const char *hint)
{
    /* TRANSLATORS: %1$s is a manifest key such as vcpus, %2$s what was
     * given, %3$s what the key takes, such as "kvm or qemu" (translated on
     * its own). */
    vp_lab_error(error, ctx, value->line, value->column,
                 _("invalid '%1$s' value '%2$s'; use %3$s"), key->text,
                 value->text, _(hint));
}

/* Numbers and booleans are plain scalars: a quoted "3" is text, which
 * JSON and YAML readers alike keep apart from 3. */
gboolean
vp_refuse_quoted(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
                 const char *hint, GError **error)
{
    if (value->kind == VP_Y_SCALAR && !value->plain) {
        /* TRANSLATORS: %3$s is what the key takes, as in "invalid '%1$s'
         * value '%2$s'; use %3$s". */
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' takes %3$s, not the quoted text '%2$s'; remove the quotes"),
                     key->text, value->text, _(hint));
        return FALSE;
    }
    return TRUE;
}

/* A plain decimal number without sign or leading zero (YAML 1.1 reads
 * 010 as octal, 1.2 as ten: neither is allowed) in MIN..MAX. */
gboolean
vp_parse_integer(const char *text, guint64 min, guint64 max, guint64 *out)
{
    if (text[0] == '0' && text[1] != '\0') {
        return FALSE;
    }
    return g_ascii_string_to_unsigned(text, 10, min, max, out, NULL) &&
           g_ascii_isdigit(text[0]);
}

/* One value of an option with sub-options written as a YAML mapping of
 * them, such as {network: lab, mac: 52:54:00:00:00:01}: into *TEXT as the
 * command line writes it ("network=lab,mac=52:54:00:00:00:01"), so that
 * one parser checks both.  A key that takes no value (user, none) takes
 * true. */
static gboolean
vp_subopt_mapping(const VpLabCtx *ctx, const VpOptionInfo *info,
                  const VpYNode *key, const VpYNode *map, char **text,
                  GError **error)
{
    g_autoptr(GString) out = g_string_new(NULL);

    for (guint i = 0; i + 1 < map->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(map->items, i);
        const VpYNode *v = g_ptr_array_index(map->items, i + 1);
        const VpSubOption *sub = vp_suboption_find(info, k->text);
        if (sub == NULL) {
            vp_lab_error(error, ctx, k->line, k->column,
                         _("unknown key '%1$s' in '%2$s'; use %3$s"), k->text,
                         key->text, _(info->hint));
            return FALSE;
        }
        if (sub->kind == VP_SUB_WORD) {
            if (vp_y_bool(v) != 1) {
                vp_lab_error(error, ctx, v->line, v->column,
                             _("'%1$s' in '%2$s' takes true; write '%1$s: true'"),
                             k->text, key->text);
                return FALSE;
            }
        } else if (!vp_expect_text(ctx, k, v, "x", error)) {
            return FALSE;
        } else if (strchr(v->text, ',') != NULL) {
            /* It would split into two sub-options. */
            vp_invalid_value(error, ctx, k, v, info->hint);
            return FALSE;
        }
        g_string_append_printf(out, "%s%s%s%s", out->len > 0 ? "," : "",
                               k->text, sub->kind == VP_SUB_WORD ? "" : "=",
                               sub->kind == VP_SUB_WORD ? "" : v->text);
    }
    *text = g_string_free(g_steal_pointer(&out), FALSE);
    return TRUE;
}

/* TEXT as INFO's value to check and record: a guest's network that names
 * a lab network by its key becomes that network's name on the hosts. */
static char *
vp_value_text(const VpLabCtx *ctx, const VpOptionInfo *info, const char *text)
{
    return g_str_equal(info->name, "network") ? vp_lab_network_value(ctx, text)
                                              : g_strdup(text);
}

/* A repeatable option's list (such as network: [network=lab, user]): each
 * item one text value that the option takes, and the items together; *TEXT
 * gets them joined by newlines (vp_option_set splits them again). */
static gboolean
vp_check_list(const VpLabCtx *ctx, const VpOptionInfo *info,
              const VpYNode *key, const VpYNode *value, char **text,
              GError **error)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new();

    if (value->items->len == 0) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' is an empty list; give one value or more, such as '%1$s: [%2$s]', or remove the key"),
                     key->text, info->example);
        return FALSE;
    }
    g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < value->items->len; i++) {
        const VpYNode *item = g_ptr_array_index(value->items, i);
        char *line = NULL;
        if (item->kind == VP_Y_MAPPING && info->subs != NULL) {
            g_autofree char *mapped = NULL;
            if (!vp_subopt_mapping(ctx, info, key, item, &mapped, error)) {
                return FALSE;
            }
            line = vp_value_text(ctx, info, mapped);
        } else if (!vp_expect_text(ctx, key, item, info->example, error)) {
            return FALSE;
        } else {
            line = vp_value_text(ctx, info, item->text);
        }
        g_ptr_array_add(owned, line);
        if (strchr(line, '\n') != NULL || !vp_option_value_ok(info, line)) {
            /* TRANSLATORS: as "invalid '%1$s' value '%2$s'; use %3$s". */
            vp_lab_error(error, ctx, item->line, item->column,
                         _("invalid '%1$s' value '%2$s'; use %3$s"), key->text,
                         line, _(info->hint));
            return FALSE;
        }
        g_ptr_array_add(lines, line);
    }
    g_ptr_array_add(lines, NULL);
    g_autofree char *joined = g_strjoinv("\n", (char **)lines->pdata);
    /* Each item is valid alone: what is left is one that must stand alone,
     * such as none beside another NIC. */
    if (!vp_option_value_ok(info, joined)) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' lists a value that must stand alone, such as none, beside others; keep only that one or remove it"),
                     key->text);
        return FALSE;
    }
    *text = g_steal_pointer(&joined);
    return TRUE;
}

/* Validates VALUE for the provision key INFO by the option schema's
 * rules, with the manifest's stricter forms: numbers and booleans plain,
 * text not a boolean.  *TEXT gets the value text to record, or NULL for a
 * flag given false (absent). */
gboolean
vp_check_value(const VpLabCtx *ctx, const VpOptionInfo *info,
               const VpYNode *key, const VpYNode *value, char **text,
               GError **error)
{
    *text = NULL;
    if ((info->flags & VP_OPT_REPEATABLE) && value->kind == VP_Y_SEQUENCE) {
        return vp_check_list(ctx, info, key, value, text, error);
    }
    if (info->kind == VP_OPT_SUBOPTIONS && value->kind == VP_Y_MAPPING) {
        g_autofree char *mapped = NULL;
        if (!vp_subopt_mapping(ctx, info, key, value, &mapped, error)) {
            return FALSE;
        }
        g_autofree char *line = vp_value_text(ctx, info, mapped);
        if (!vp_option_value_ok(info, line)) {
            vp_lab_error(error, ctx, value->line, value->column,
                         _("invalid '%1$s' value '%2$s'; use %3$s"), key->text,
                         line, _(info->hint));
            return FALSE;
        }
        *text = g_steal_pointer(&line);
        return TRUE;
    }
    if (!vp_expect_scalar(ctx, key, value, info->example, error)) {
        return FALSE;
    }
    const char *t = value->text;
    switch (info->kind) {
    case VP_OPT_TEXT:
    case VP_OPT_FILE:
        if (!vp_expect_text(ctx, key, value, info->example, error)) {
            return FALSE;
        }
        break;
    case VP_OPT_SIZE: {
        /* The size parser's own message says what is wrong with the text. */
        guint64 n = 0;
        GError *cause = NULL;
        if (!vp_size_parse(t, info->name, &n, &cause)) {
            vp_lab_locate(error, ctx, value->line, value->column, cause);
            return FALSE;
        }
        break;
    }
    case VP_OPT_INTEGER:
    case VP_OPT_FLAG:
    case VP_OPT_WAIT:
        if (!vp_refuse_quoted(ctx, key, value, info->hint, error)) {
            return FALSE;
        }
        if (info->kind != VP_OPT_INTEGER) {
            /* YAML's spellings of true and false, as the schema's two. */
            int b = vp_y_bool(value);
            t = b == 1 ? "true" : b == 0 ? "false" : t;
        }
        break;
    case VP_OPT_MEMORY:
    case VP_OPT_CHOICE:
    case VP_OPT_SUBOPTIONS:
        break;
    }
    /* A line break would read as a second value of a repeatable option. */
    g_autofree char *resolved = vp_value_text(ctx, info, t);
    t = resolved;
    if (strchr(t, '\n') != NULL || !vp_option_value_ok(info, t)) {
        vp_invalid_value(error, ctx, key, value, info->hint);
        return FALSE;
    }
    gboolean is_false = (info->kind == VP_OPT_FLAG || info->kind == VP_OPT_WAIT) &&
                        g_str_equal(t, "false");
    *text = is_false ? NULL : g_strdup(t);
    return TRUE;
}

/* A lab, host or guest name: it goes into volume and domain names and
 * into libvirt metadata, so letters, digits, '-', '_' and '.', starting
 * with a letter or digit (not '.', '..' or an option-like '-x'). */
static gboolean
vp_name_valid(const char *name)
{
    gsize len = strlen(name);
    if (len == 0 || len > VP_LAB_MAX_NAME || !g_ascii_isalnum(name[0])) {
        return FALSE;
    }
    for (gsize i = 0; i < len; i++) {
        if (!g_ascii_isalnum(name[i]) && strchr("-_.", name[i]) == NULL) {
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
vp_check_name(const VpLabCtx *ctx, const VpYNode *n, VpNameRole role,
              GError **error)
{
    if (vp_name_valid(n->text)) {
        return TRUE;
    }
    switch (role) {
    case VP_NAME_LAB:
        vp_lab_error(error, ctx, n->line, n->column,
                     _("lab name '%1$s' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit; rename it, such as 'lab: ci-42'"),
                     n->text);
        break;
    case VP_NAME_HOST:
        vp_lab_error(error, ctx, n->line, n->column,
                     _("host name '%1$s' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit; rename it, such as 'hv1'"),
                     n->text);
        break;
    case VP_NAME_NETWORK:
        vp_lab_error(error, ctx, n->line, n->column,
                     _("lab network name '%1$s' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit; rename it, such as 'lan'"),
                     n->text);
        break;
    case VP_NAME_GUEST:
        vp_lab_error(error, ctx, n->line, n->column,
                     _("guest name '%1$s' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit; rename it, such as 'name: web'"),
                     n->text);
        break;
    }
    return FALSE;
}

/* ------------------------------------------------------------------ */
/* Unknown keys */

/* Refuses KEY, which is no provision key, with the most useful message. */
void
vp_unknown_key(const VpLabCtx *ctx, const VpYNode *key, gboolean in_defaults,
               GError **error)
{
    if (in_defaults && g_strv_contains(vp_entry_keys, key->text)) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'%1$s' belongs to each guest, not to defaults; move it to the guests"),
                     key->text);
        return;
    }
    /* An option the schema keeps out of labs: about a run, not a guest. */
    if (vp_option_find(key->text) != NULL) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'%1$s' is about a run, not a guest, and has no place in a manifest; remove it"),
                     key->text);
        return;
    }
    if (g_str_equal(key->text, "connect")) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("a guest names its host with 'host'; declare the host's URI under 'hosts'"));
        return;
    }
    const char *hint = vp_suggest(key->text, in_defaults ? NULL : vp_entry_keys,
                                  TRUE);
    if (hint != NULL) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("unknown key '%1$s'; did you mean '%2$s'?"),
                     key->text, hint);
    } else if (in_defaults) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("unknown key '%1$s' in defaults; use provision options by their long names without the dashes, such as 'disk-bus: sata'"),
                     key->text);
    } else {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("unknown key '%1$s'; a guest takes name, host, count and provision options by their long names without the dashes, such as 'disk-bus: sata'"),
                     key->text);
    }
}

/* ------------------------------------------------------------------ */
/* cloud-init */

/* Refuses K, which is no key of --cloud-init (CI). */
static void
vp_unknown_seed_key(const VpLabCtx *ctx, const VpOptionInfo *ci,
                    const VpYNode *k, GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    for (const VpSubOption *s = ci->subs; s->name != NULL; s++) {
        g_ptr_array_add(names, (gpointer)s->name);
    }
    g_ptr_array_add(names, NULL);
    const char *hint = vp_suggest(k->text, (const char *const *)names->pdata,
                                  FALSE);
    if (hint != NULL) {
        vp_lab_error(error, ctx, k->line, k->column,
                     _("unknown cloud-init key '%1$s'; did you mean '%2$s'?"),
                     k->text, hint);
    } else {
        vp_lab_error(error, ctx, k->line, k->column,
                     _("unknown cloud-init key '%1$s'; use %2$s"), k->text,
                     _(ci->hint));
    }
}

/* The seed file of KEY named by VALUE (vp_lab_file). */
static gboolean
vp_seed_file(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
             char **slot, GError **error)
{
    return vp_expect_text(ctx, key, value, "./user-data", error) &&
           vp_lab_file(ctx, key, value, FALSE, slot, error);
}

/* cloud-init: true (a seed of the defaults), false (none: absent, or
 * removing the one of defaults) or a mapping of the seed's options.
 * *SEED is NULL for false. */
gboolean
vp_parse_cloud_init(const VpLabCtx *ctx, const VpYNode *key,
                    const VpYNode *value, VpSeedOptions **seed, GError **error)
{
    *seed = NULL;
    if (value->kind == VP_Y_SCALAR) {
        int b = vp_y_bool(value);
        if (b >= 0) {
            *seed = b ? g_new0(VpSeedOptions, 1) : NULL;
            return TRUE;
        }
        if (vp_y_is_null(value)) {
            vp_lab_error(error, ctx, key->line, key->column,
                         _("'cloud-init' has no value; use true for a seed with your SSH keys, or a mapping such as {user-data: ./user-data}"));
            return FALSE;
        }
    }
    if (value->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'cloud-init' takes true or a mapping such as {user-data: ./user-data}; write it so"));
        return FALSE;
    }
    /* The keys are --cloud-init's sub-options, from the schema. */
    const VpOptionInfo *ci = vp_option_find("cloud-init");
    g_autoptr(VpSeedOptions) opts = g_new0(VpSeedOptions, 1);
    for (guint i = 0; i + 1 < value->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(value->items, i);
        const VpYNode *v = g_ptr_array_index(value->items, i + 1);
        const VpSubOption *sub = vp_suboption_find(ci, k->text);
        if (sub == NULL) {
            vp_unknown_seed_key(ctx, ci, k, error);
            return FALSE;
        }
        if (sub->kind == VP_SUB_FILE) {
            if (!vp_seed_file(ctx, k, v, vp_seed_options_slot(opts, sub->name), error)) {
                return FALSE;
            }
            continue;
        }
        /* disable: a switch, true or false in YAML. */
        static const VpOptionInfo disable = {
            .name = "disable", .kind = VP_OPT_FLAG, .example = "true",
            .hint = N_("true or false"),
        };
        g_autofree char *text = NULL;
        if (!vp_check_value(ctx, &disable, k, v, &text, error)) {
            return FALSE;
        }
        opts->disable = text != NULL;
    }
    *seed = g_steal_pointer(&opts);
    return TRUE;
}
