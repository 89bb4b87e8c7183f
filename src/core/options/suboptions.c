/* Sub-options: the key=value,... lists of --cloud-init and --network,
 * split and checked by one parser against the option's table of keys
 * (provision-options.h). */
#include "provision-options.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"

guint
vp_edit_distance(const char *a, const char *b, guint limit)
{
    gsize la = strlen(a);
    gsize lb = strlen(b);
    /* Keys are short and an unknown key may be long: give up early. */
    if ((la > lb ? la - lb : lb - la) > limit || lb > 64) {
        return limit + 1;
    }
    guint prev[65];
    guint cur[65];
    for (gsize j = 0; j <= lb; j++) {
        prev[j] = (guint)j;
    }
    for (gsize i = 1; i <= la; i++) {
        cur[0] = (guint)i;
        guint best = cur[0];
        for (gsize j = 1; j <= lb; j++) {
            guint sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            guint del = prev[j] + 1;
            guint ins = cur[j - 1] + 1;
            cur[j] = MIN(sub, MIN(del, ins));
            best = MIN(best, cur[j]);
        }
        if (best > limit) {
            return limit + 1;
        }
        memcpy(prev, cur, sizeof(guint) * (lb + 1));
    }
    return prev[lb];
}

gboolean
vp_switch_parse(const char *value, gboolean *on)
{
    static const char *const yes[] = { "on", "yes", "true" };
    static const char *const no[] = { "off", "no", "false" };
    for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(value, yes[i]) == 0) {
            *on = TRUE;
            return TRUE;
        }
        if (g_ascii_strcasecmp(value, no[i]) == 0) {
            *on = FALSE;
            return TRUE;
        }
    }
    return FALSE;
}

const VpSubOption *
vp_suboption_find(const VpOptionInfo *info, const char *name)
{
    for (const VpSubOption *s = info->subs; s != NULL && s->name != NULL; s++) {
        if (strcmp(s->name, name) == 0) {
            return s;
        }
    }
    return NULL;
}

static void
vp_sub_item_free(gpointer data)
{
    VpSubItem *it = data;

    g_free(it->value);
    g_free(it);
}

static gboolean
vp_sub_unknown(const VpOptionInfo *info, const char *key, GError **error)
{
    /* TRANSLATORS: %1$s is a kind of option, such as "seed option"; %3$s
     * the keys it takes, such as "user-data, meta-data or disable". */
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("unknown %1$s '%2$s'; use %3$s"), _(info->sub_noun), key,
                _(info->hint));
    return FALSE;
}

/* Whether VALUE suits S; *ERROR says why not. */
static gboolean
vp_sub_value_ok(const VpOptionInfo *info, const VpSubOption *s,
                const char *value, GError **error)
{
    const char *noun = _(info->sub_noun);

    if (s->kind == VP_SUB_WORD) {
        if (value == NULL) {
            return TRUE;
        }
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s '%2$s' takes no value; write it alone"), noun, s->name);
        return FALSE;
    }
    if (value == NULL || value[0] == '\0') {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    s->kind == VP_SUB_FILE
                    ? _("%1$s '%2$s' needs a file name: %2$s=FILE")
                    : s->kind == VP_SUB_SWITCH
                    ? _("%1$s '%2$s' needs a value: %2$s=on or %2$s=off")
                    : _("%1$s '%2$s' needs a value: %2$s=TEXT"),
                    noun, s->name);
        return FALSE;
    }
    gboolean on;
    if (s->kind == VP_SUB_SWITCH && !vp_switch_parse(value, &on)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s %2$s='%3$s' is neither on nor off; use %2$s=on or %2$s=off"),
                    noun, s->name, value);
        return FALSE;
    }
    return TRUE;
}

GPtrArray *
vp_suboptions_parse(const VpOptionInfo *info, const char *text, GError **error)
{
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(vp_sub_item_free);

    /* "" is the option alone (a bare --cloud-init): no items. */
    if (text == NULL || text[0] == '\0') {
        return g_steal_pointer(&items);
    }
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    for (gsize i = 0; parts[i] != NULL; i++) {
        const char *eq = strchr(parts[i], '=');
        g_autofree char *key = eq != NULL ? g_strndup(parts[i], eq - parts[i])
                                          : g_strdup(parts[i]);
        if (parts[i][0] == '\0') {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("empty %1$s in '%2$s'; remove the extra comma"),
                        _(info->sub_noun), text);
            return NULL;
        }
        const VpSubOption *s = vp_suboption_find(info, key);
        if (s == NULL) {
            vp_sub_unknown(info, key, error);
            return NULL;
        }
        for (guint j = 0; j < items->len; j++) {
            if (((VpSubItem *)g_ptr_array_index(items, j))->sub == s) {
                g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                            _("%1$s '%2$s' is given twice; give it once"),
                            _(info->sub_noun), key);
                return NULL;
            }
        }
        const char *value = eq != NULL ? eq + 1 : NULL;
        if (!vp_sub_value_ok(info, s, value, error)) {
            return NULL;
        }
        VpSubItem *it = g_new0(VpSubItem, 1);
        it->sub = s;
        it->value = g_strdup(value);
        g_ptr_array_add(items, it);
    }
    return g_steal_pointer(&items);
}
