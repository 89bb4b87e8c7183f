/* See uri.h.  The query is split as libvirt's virURIParseParams splits it,
 * or finer: a name libvirt reads is then always one of ours. */
#include "uri.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"

/* Whether the transports of SCHEME (the parts after the first '+') name
 * ext.  libvirt takes the text after the first '+' whole and lowercases it;
 * every part is checked, which is the same or stricter. */
static gboolean
vp_uri_scheme_is_ext(const char *scheme)
{
    const char *plus = strchr(scheme, '+');
    if (plus == NULL) {
        return FALSE;
    }
    g_auto(GStrv) parts = g_strsplit(plus + 1, "+", -1);
    for (guint i = 0; parts[i] != NULL; i++) {
        if (g_ascii_strcasecmp(parts[i], "ext") == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/* The name of one query parameter (LEN bytes at TEXT, up to its '='),
 * percent-decoded once as libxml2's xmlURIUnescapeString does.  Decoding
 * stops at a decoded NUL, where libvirt's C string comparison stops. */
static char *
vp_uri_param_name(const char *text, gsize len)
{
    GString *out = g_string_sized_new(len);
    for (gsize i = 0; i < len; i++) {
        char c = text[i];
        if (c == '%' && i + 2 < len && g_ascii_isxdigit(text[i + 1]) &&
            g_ascii_isxdigit(text[i + 2])) {
            c = (char)(g_ascii_xdigit_value(text[i + 1]) * 16 +
                       g_ascii_xdigit_value(text[i + 2]));
            i += 2;
        }
        if (c == '\0') {
            break;
        }
        g_string_append_c(out, c);
    }
    return g_string_free(out, FALSE);
}

/* Whether the query of URI has a parameter named "command". */
static gboolean
vp_uri_has_command(const char *uri)
{
    const char *query = strchr(uri, '?');
    if (query == NULL) {
        return FALSE;
    }
    query++;
    /* The fragment is no part of the query.  A '#' before the '?' makes
     * this read a fragment as a query, which can only refuse more. */
    gsize query_len = strcspn(query, "#");
    const char *end = query + query_len;
    for (const char *p = query; p < end;) {
        gsize seg = strcspn(p, "&;#");
        if (p + seg > end) {
            seg = (gsize)(end - p);
        }
        const char *eq = memchr(p, '=', seg);
        g_autofree char *name = vp_uri_param_name(p, eq != NULL ? (gsize)(eq - p)
                                                                : seg);
        if (g_ascii_strcasecmp(name, "command") == 0) {
            return TRUE;
        }
        p += seg + 1;
    }
    return FALSE;
}

gboolean
vp_uri_check(const char *uri, GError **error)
{
    g_return_val_if_fail(uri != NULL, FALSE);

    const char *scheme = g_uri_peek_scheme(uri);
    if (scheme != NULL && vp_uri_scheme_is_ext(scheme)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("URI '%1$s' uses the ext transport, which runs a command on this machine; use another transport, such as qemu+ssh://HOST/system"),
                    uri);
        return FALSE;
    }
    if (vp_uri_has_command(uri)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("URI '%1$s' has a 'command' parameter, which runs a command on this machine; remove the parameter"),
                    uri);
        return FALSE;
    }
    return TRUE;
}
